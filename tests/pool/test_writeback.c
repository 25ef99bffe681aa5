/*
 * test_writeback.c - dirty pages reach the data file when they leave a tier.
 *
 * cache eviction: a cache of few frames, many pages dirtied one after the
 *   other, no flush.  Dirty frames that were evicted must be on disk;
 *   bp_close() writes nothing, so pages still cached at close may hold
 *   either generation, but no more pages may hold the new generation than
 *   bytes_written accounts for.  A new pool on the same file reads the
 *   evicted pages back.  Then: dirty everything again, bp_flush, close, and
 *   both pread and a third pool see every page; that third pool only reads
 *   (clean evictions) and must write nothing.
 *
 * window eviction (the point is the copy backend): a window of 2 slots over
 *   a cache big enough that no frame is evicted.  Pages are dirtied and
 *   pushed out of the window by fixing others; two more dirty pages stay in
 *   the window.  bp_flush must write all of them: the copy backend copies an
 *   evicted dirty slot back into its frame (copies_out) and must also pick
 *   up dirty slots still in the window at flush.  The pages only read were
 *   read into their slots and reach their frames when pushed out
 *   (copies_home, one each): a later window miss copies them back in.
 *
 * copy home (copy backend only, both engines where present): a page read
 *   from disk has its bytes only in its slot until the slot lets it go.
 *   When the frame is evicted with it, nothing is copied (copies_home
 *   counts only the pages whose frames stayed); when the copy fails, the
 *   page leaves the cache (the pool is not poisoned: nothing was lost) and
 *   the next fix reads it again.  Every page reads back right either way.
 *
 * Both run for every backend with O_DIRECT, and for mmap and copy also with
 * BP_BUFFERED_IO.
 */
#include "util_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PSZ 4096u

/* ---- matrix -------------------------------------------------------------- */

struct wb_case {
    bp_backend backend;
    unsigned flags; /* bp_open flags */
};

static struct wb_case wb_rfp = {BP_BACKEND_RFP, 0};
static struct wb_case wb_mmap = {BP_BACKEND_MMAP, 0};
static struct wb_case wb_copy = {BP_BACKEND_COPY, 0};
static struct wb_case wb_linear = {BP_BACKEND_LINEAR, 0};
static struct wb_case wb_mmap_buffered = {BP_BACKEND_MMAP, BP_BUFFERED_IO};
static struct wb_case wb_copy_buffered = {BP_BACKEND_COPY, BP_BUFFERED_IO};

/* Skip what this machine / build cannot run (test_stamp covers linear's
 * refusal on 32-bit). */
static void need_backend(bp_backend b)
{
    if (b == BP_BACKEND_LINEAR && sizeof(void *) == 4) {
        print_message("  linear: not available on 32-bit\n");
        skip();
    }
    if (b == BP_BACKEND_RFP && !util_have_rfp())
        skip();
}

static void data_path(char *buf, size_t len, const char *what,
                      const struct wb_case *c)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%s%s.db", what,
             util_backend_name(c->backend),
             c->flags & BP_BUFFERED_IO ? "-buffered" : "");
    util_tmp_path(buf, len, name);
}

/* The pool uses the I/O mode asked for. */
static void check_io_mode(bp_pool *p, const struct wb_case *c)
{
    bp_stats st;
    util_stats(p, &st);
    assert_int_equal(st.direct_io, c->flags & BP_BUFFERED_IO ? 0 : 1);
}

/* ---- cache eviction ------------------------------------------------------ */

#define CE_PAGES 64u
#define CE_FRAMES 8u
#define CE_SLOTS 4u

static void test_cache_eviction(void **state)
{
    const struct wb_case *c = *state;
    need_backend(c->backend);
    char path[600];
    data_path(path, sizeof path, "cache-evict", c);
    util_datafile_create(path, PSZ, CE_PAGES, 0);
    struct util_cfg cfg = {.backend = c->backend,
                           .page_size = PSZ,
                           .replacement = BP_REPLACE_CLOCK, /* recency */
                           .frames = CE_FRAMES,
                           .slots = CE_SLOTS,
                           .flags = c->flags};

    /* 1: dirty every page, no flush, close */
    bp_pool *p;
    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    check_io_mode(p, c);
    for (uint64_t i = 0; i < CE_PAGES; i++)
        util_fix_write(p, i, PSZ, 0, 1);
    util_check(p);
    int cached[CE_PAGES];
    uint64_t ncached = 0;
    for (uint64_t i = 0; i < CE_PAGES; i++) {
        cached[i] = bp__test_frame_offset(p, i) != UINT64_MAX;
        ncached += (uint64_t)cached[i];
    }
    bp_stats st;
    util_stats(p, &st);
    print_message("  %s: %" PRIu64 " frame evictions, %" PRIu64
                  " writes, %" PRIu64 " pages still cached\n",
                  util_backend_name(st.backend), st.frame_evictions, st.writes,
                  ncached);
    assert_true(ncached <= CE_FRAMES);
    assert_true(st.frame_evictions >= CE_PAGES - CE_FRAMES);
    assert_true(st.writes > 0);
    assert_true(st.bytes_written >= (CE_PAGES - CE_FRAMES) * (uint64_t)PSZ);
    uint64_t written_pages = st.bytes_written / PSZ;
    assert_int_equal(bp_close(p), 0);

    uint32_t gens[CE_PAGES];
    util_datafile_gens(path, PSZ, CE_PAGES, gens);
    uint64_t new_on_disk = 0;
    for (uint64_t i = 0; i < CE_PAGES; i++) {
        if (!cached[i] && gens[i] != 1) {
            print_error("page %" PRIu64 " was evicted dirty but the file "
                        "holds gen %" PRIu32 "\n", i, gens[i]);
            fail();
        }
        if (cached[i] && gens[i] != 0 && gens[i] != 1) {
            print_error("page %" PRIu64 " (cached at close) is garbage on "
                        "disk (%" PRIu32 ")\n", i, gens[i]);
            fail();
        }
        new_on_disk += gens[i] == 1;
    }
    if (new_on_disk > written_pages) {
        print_error("%" PRIu64 " pages hold gen 1 on disk but only %" PRIu64
                    " pages were written before close: close wrote pages\n",
                    new_on_disk, written_pages);
        fail();
    }

    /* 2: a new pool sees what is on disk; rewrite all, flush, close */
    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    for (uint64_t i = 0; i < CE_PAGES; i++)
        util_fix_verify(p, i, i % 2 ? BP_SHARED : BP_EXCLUSIVE, PSZ, gens[i]);
    for (uint64_t i = 0; i < CE_PAGES; i++)
        util_fix_write(p, i, PSZ, gens[i], 2);
    int rc = bp_flush(p);
    if (rc != 0)
        util_print_rc(p, "bp_flush", rc);
    assert_int_equal(rc, 0);
    util_stats(p, &st);
    assert_true(st.dirty_frames == 0);
    assert_true(st.syncs > 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);

    for (uint64_t i = 0; i < CE_PAGES; i++)
        gens[i] = 2;
    util_datafile_verify(path, PSZ, CE_PAGES, gens);

    /* 3: and a third pool reads it all back, evicting clean frames only:
     * nothing may be written */
    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    for (uint64_t i = 0; i < CE_PAGES; i++)
        util_fix_verify(p, CE_PAGES - 1 - i, BP_SHARED, PSZ, 2);
    util_stats(p, &st);
    assert_true(st.frame_evictions >= CE_PAGES - CE_FRAMES);
    assert_true(st.writes == 0 && st.bytes_written == 0);
    assert_true(st.dirty_frames == 0);
    assert_int_equal(bp_flush(p), 0);
    util_stats(p, &st);
    assert_true(st.writes == 0);
    assert_int_equal(bp_close(p), 0);
}

/* ---- window eviction ----------------------------------------------------- */

#define WE_PAGES 16u
#define WE_FRAMES 32u
#define WE_SLOTS 2u
#define WE_DIRTY_EVICTED 8u /* pages 0..7: dirtied, pushed out of the window */
#define WE_READ_END 14u     /* pages 8..13: only read */
                            /* pages 14, 15: dirtied, still in the window */

static void test_window_eviction(void **state)
{
    const struct wb_case *c = *state;
    need_backend(c->backend);
    char path[600];
    data_path(path, sizeof path, "window-evict", c);
    util_datafile_create(path, PSZ, WE_PAGES, 0);
    struct util_cfg cfg = {.backend = c->backend,
                           .page_size = PSZ,
                           .replacement = BP_REPLACE_CLOCK, /* recency */
                           .frames = WE_FRAMES,
                           .slots = WE_SLOTS,
                           .flags = c->flags};
    bp_pool *p;
    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    check_io_mode(p, c);

    uint32_t want[WE_PAGES];
    for (uint64_t i = 0; i < WE_PAGES; i++) {
        if (i < WE_DIRTY_EVICTED || i >= WE_READ_END) {
            util_fix_write(p, i, PSZ, 0, 1);
            want[i] = 1;
        } else {
            util_fix_verify(p, i, BP_SHARED, PSZ, 0);
            want[i] = 0;
        }
    }
    util_check(p);
    bp_stats st;
    util_stats(p, &st);
    if (st.backend != BP_BACKEND_LINEAR) {
        for (uint64_t i = 0; i < WE_DIRTY_EVICTED; i++)
            assert_null(bp__test_slot_addr(p, i));
    }
    print_message("  %s: %" PRIu64 " slot evictions, %" PRIu64
                  " copies out, %" PRIu64 " frame evictions\n",
                  util_backend_name(st.backend), st.slot_evictions,
                  st.copies_out, st.frame_evictions);
    assert_true(st.frame_evictions == 0);
    if (st.backend != BP_BACKEND_LINEAR)
        assert_true(st.slot_evictions >= WE_PAGES - WE_SLOTS);
    if (st.backend == BP_BACKEND_COPY) {
        /* every dirty page pushed out was copied back, clean ones were not
         * (their frames stay clean) but went home once each */
        assert_true(st.copies_out >= WE_DIRTY_EVICTED);
        assert_true(st.copies_out <= WE_DIRTY_EVICTED + 2);
        assert_int_equal(st.copies_home, WE_READ_END - WE_DIRTY_EVICTED);
    } else {
        assert_int_equal(st.copies_home, 0);
    }

    int rc = bp_flush(p);
    if (rc != 0)
        util_print_rc(p, "bp_flush", rc);
    assert_int_equal(rc, 0);
    util_stats(p, &st);
    assert_true(st.writes > 0);
    assert_true(st.bytes_written >= (uint64_t)(WE_DIRTY_EVICTED + 2) * PSZ);
    assert_true(st.dirty_frames == 0);
    util_datafile_verify(path, PSZ, WE_PAGES, want);

    /* the pool still holds the same data after the flush */
    uint64_t copies_in = st.copies_in;
    for (uint64_t i = 0; i < WE_PAGES; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, want[i]);
    util_check(p);
    util_stats(p, &st);
    /* window misses on cached pages: frame -> slot copies */
    if (st.backend == BP_BACKEND_COPY)
        assert_true(st.copies_in - copies_in >= WE_PAGES - WE_SLOTS);
    assert_true(st.frame_evictions == 0);
    assert_int_equal(bp_close(p), 0);
}

/* ---- copy home ----------------------------------------------------------- */

#define CH_PAGES 48u

static bp_pool *open_home(char *path, size_t len, const char *what,
                          bp_io_engine eng, uint64_t frames, uint64_t slots)
{
    char name[64];
    snprintf(name, sizeof name, "home-%s-%s.db", what,
             eng == BP_IO_SYNC ? "sync" : "uring");
    util_tmp_path(path, len, name);
    util_datafile_create(path, PSZ, CH_PAGES, 0);
    struct util_cfg cfg = {.backend = BP_BACKEND_COPY,
                           .page_size = PSZ,
                           .replacement = BP_REPLACE_CLOCK, /* recency */
                           .frames = frames,
                           .slots = slots,
                           .engine = eng};
    bp_pool *p;
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, &cfg), 0);
    int rc = bp_open(p, path, 0);
    if (rc != 0 && eng == BP_IO_URING) { /* asked for, refused here */
        print_message("  io_uring unavailable, skipped: %s\n", bp_errmsg(p));
        bp_close(p);
        unlink(path);
        skip();
    }
    assert_int_equal(rc, 0);
    bp_stats st;
    util_stats(p, &st);
    print_message("  %s engine (%s)\n", st.io_engine, st.io_reason);
    return p;
}

static void test_copy_home(void **state)
{
    bp_io_engine eng = *(const bp_io_engine *)state[0];
    char path[600];
    bp_stats st;

    /* frames evicted together with their slots: 8 frames, 8 slots */
    bp_pool *p = open_home(path, sizeof path, "evict", eng, 8, 8);
    for (uint64_t i = 0; i < CH_PAGES; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, 0);
    util_stats(p, &st);
    print_message("  frames with slots: %" PRIu64 " slot evictions, %" PRIu64
                  " frame evictions, %" PRIu64 " copies home\n",
                  st.slot_evictions, st.frame_evictions, st.copies_home);
    assert_true(st.frame_evictions >= CH_PAGES - 8);
    /* a copy home only for a page whose slot went while its frame stayed */
    assert_true(st.copies_home < st.slot_evictions);
    assert_true(st.copies_home + st.frame_evictions <= CH_PAGES);
    assert_int_equal(st.copies_out, 0);
    for (uint64_t i = 0; i < CH_PAGES; i++) /* again: reads and hits */
        util_fix_verify(p, i, BP_SHARED, PSZ, 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);

    /* a failed copy home: page 0 leaves the cache and is read again */
    p = open_home(path, sizeof path, "fail", eng, 32, 2);
    util_fix_verify(p, 0, BP_SHARED, PSZ, 0);
    util_fix_verify(p, 1, BP_SHARED, PSZ, 0);
    if (bp__test_fault_arm(BP__SYS_BIT(SHM_PWRITE), 1, EIO, 0) != 0) {
        bp_close(p);
        unlink(path);
        print_message("  fault injection compiled out, skipped\n");
        skip();
    }
    util_fix_verify(p, 2, BP_SHARED, PSZ, 0); /* pushes page 0 out */
    assert_int_equal(bp__test_fault_hits(), 1);
    bp__test_fault_disarm();
    util_stats(p, &st);
    uint64_t reads = st.reads;
    assert_int_equal(st.copies_home, 0);
    assert_int_equal(bp__test_frame_offset(p, 0), UINT64_MAX);
    /* page 0 is read again (the pool is not poisoned), pushing page 1 out
     * of the window, whose copy home works; page 1 then comes from its
     * frame, pushing page 2 out (copied home too) */
    util_fix_verify(p, 0, BP_SHARED, PSZ, 0);
    util_fix_verify(p, 1, BP_SHARED, PSZ, 0);
    util_stats(p, &st);
    assert_int_equal(st.reads, reads + 1);
    assert_int_equal(st.copies_home, 2);
    for (uint64_t i = 3; i < CH_PAGES; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, 0);
    for (uint64_t i = 0; i < CH_PAGES; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

static bp_io_engine eng_sync = BP_IO_SYNC, eng_uring = BP_IO_URING;

#define CASES(fn)                                                              \
    {#fn "/rfp", fn, NULL, NULL, &wb_rfp},                                     \
        {#fn "/mmap", fn, NULL, NULL, &wb_mmap},                               \
        {#fn "/copy", fn, NULL, NULL, &wb_copy},                               \
        {#fn "/linear", fn, NULL, NULL, &wb_linear},                           \
        {#fn "/mmap-buffered", fn, NULL, NULL, &wb_mmap_buffered},             \
        {#fn "/copy-buffered", fn, NULL, NULL, &wb_copy_buffered}

int main(void)
{
    util_init();
    const struct CMUnitTest tests[] = {
        CASES(test_cache_eviction),
        CASES(test_window_eviction),
        {"test_copy_home/sync", test_copy_home, NULL, NULL, &eng_sync},
        {"test_copy_home/io_uring", test_copy_home, NULL, NULL, &eng_uring},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
