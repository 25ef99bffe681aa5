/*
 * test_truncate.c - bp_truncate: the data file's size set through the pool.
 *
 *   shrink        per window backend the machine has (copy, mmap, rfp,
 *                 linear, kmod), private and (but copy) in a shared cache:
 *                 pages below the cut dirty, pages beyond it dirty and
 *                 clean, in the window and only in the cache; after
 *                 bp_truncate(k) the page count is k, fixes, optimistic
 *                 reads and read-ahead of pages at or beyond k give
 *                 BP_EPGNO, the data file is k pages (before and after
 *                 bp_flush), and the pages below k keep their dirty
 *                 content through the flush and a reopen;
 *   regrow        per backend as shrink: pages cut (dirty in the cache,
 *                 some of them flushed before) read as zeros once the
 *                 file is grown again, through a fix, an optimistic read
 *                 and read-ahead, also after a reopen;
 *   grow          growing adds zero pages, the file has the new size at
 *                 once; bp_alloc_page appends after the grown end, and
 *                 after a shrink at the new end (a zero page, not the
 *                 old one); a truncation to the same size changes
 *                 nothing, one to 0 empties the file;
 *   fixed_busy    a page at or beyond the cut fixed by this thread
 *                 (shared, or exclusive at the cut itself) gives -EBUSY
 *                 naming it, and nothing changes: page count, file size,
 *                 the content of the other pages beyond the cut, dirty
 *                 ones included; a page fixed below the cut is no
 *                 obstacle;
 *   read_busy     a read-ahead held in flight (bp__test_aio_hold) beyond
 *                 the cut gives -EBUSY; once it completes the cut works;
 *   refused       NULL (-EINVAL), a pool never opened or whose bp_open
 *                 failed (BP_ESTATE), BP_RDONLY (BP_EREADONLY), a size
 *                 beyond the largest file offset (-EFBIG): nothing
 *                 changes;
 *   ftruncate_fails (fault table, skipped when compiled out): a failed
 *                 ftruncate is returned as its -errno; shrinking, the
 *                 page count is the new one already, growing, it stays;
 *                 the pool stays usable (fixes, flush, the same call
 *                 again), and a grow after a failed shrink still gives
 *                 zero pages;
 *   ftruncate_fails_then_alloc  a page allocated after a failed shrink
 *                 is new (zeros), also once evicted and read again;
 *   other_process a shared cache: another process (forked, attached on
 *                 its own) has the pages beyond the cut in its window; it
 *                 sees the new page count after the shrink and zeros, not
 *                 its old mappings, after the file is grown again.
 * bp__test_check() runs after every truncation.
 */
#include "util_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#define PSZ 4096u
#define NPAGES 40u /* pages of a fresh data file */
#define CUT 24u    /* where the shrink cuts it */
#define FRAMES 48u /* every page stays cached */
#define SLOTS 8u   /* the window holds the last pages fixed */

struct tcase {
    bp_backend backend;
    int shared; /* BP_ATTACH on a fresh shm name */
};

/* ---- helpers ------------------------------------------------------------- */

/* A data file of n pages stamped gen at path, named name. */
static void data_file(char *path, size_t len, const char *name, uint64_t n,
                      uint32_t gen)
{
    util_tmp_path(path, len, name);
    util_datafile_create(path, PSZ, n, gen);
}

/* Open path for case c (shm: the shared cache's name when c->shared). */
static bp_pool *open_case(const struct tcase *c, const char *path,
                          const char *shm, uint64_t slots)
{
    struct util_cfg cfg = {.backend = c->backend, .page_size = PSZ,
                           .frames = FRAMES, .slots = slots};
    bp_pool *p = NULL;

    if (c->shared) {
        cfg.flags = BP_ATTACH;
        cfg.shm_name = shm;
    }
    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    return p;
}

/* A private pool on path with the default backend. */
static bp_pool *open_plain(const char *path, unsigned flags)
{
    struct util_cfg cfg = {.page_size = PSZ, .frames = FRAMES,
                           .slots = SLOTS, .flags = flags};
    bp_pool *p = NULL;

    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    return p;
}

static void truncate_ok(bp_pool *p, uint64_t pages)
{
    int rc = bp_truncate(p, pages);

    if (rc != 0) {
        char what[64];

        snprintf(what, sizeof what, "bp_truncate(%" PRIu64 ")", pages);
        util_print_rc(p, what, rc);
    }
    assert_int_equal(rc, 0);
    util_check(p);
    assert_true(bp_page_count(p) == pages);
}

static void expect_file_pages(const char *path, uint64_t pages)
{
    uint64_t size = util_file_size(path);

    if (size != pages * PSZ)
        fail_msg("%s: %" PRIu64 " bytes, expected %" PRIu64 " pages",
                 path, size, pages);
}

/* Every way to reach page pgno at or beyond the end fails with BP_EPGNO. */
static void expect_beyond(bp_pool *p, uint64_t pgno)
{
    bp_page pg;
    bp_opt o;

    assert_int_equal(bp_fix(p, pgno, BP_SHARED, &pg), BP_EPGNO);
    assert_null(pg.data);
    assert_int_equal(bp_fix(p, pgno, BP_EXCLUSIVE, &pg), BP_EPGNO);
    assert_int_equal(bp_fix(p, pgno, BP_SHARED | BP_NOWAIT, &pg), BP_EPGNO);
    assert_int_equal(bp_opt_begin(p, pgno, &o), BP_EPGNO);
    assert_int_equal(bp_prefetch(p, &pgno, 1), BP_EPGNO);
}

/* Page pgno carries gen through an optimistic read (retried while the
 * pool says so: a read in flight answers BP_ERETRY until it is done). */
static void opt_verify(bp_pool *p, uint64_t pgno, uint32_t gen)
{
    for (unsigned tries = 0;; tries++) {
        uint32_t got;
        bp_opt o;
        int rc;

        assert_true(tries < 100000); /* 10 s */
        rc = bp_opt_begin(p, pgno, &o);
        if (rc == BP_ERETRY) {
            nanosleep(&(struct timespec){0, 100000}, NULL);
            continue;
        }
        assert_int_equal(rc, 0);
        got = util_page_gen(o.data, PSZ, pgno);
        if (bp_opt_validate(p, &o) != 0)
            continue;
        if (got != gen)
            fail_msg("optimistic read of page %" PRIu64 ": gen %" PRIu32
                     ", expected %" PRIu32, pgno, got, gen);
        return;
    }
}

/* Pages [from, to) carry want[i] through fixes. */
static void verify_range(bp_pool *p, uint64_t from, uint64_t to,
                         const uint32_t *want)
{
    for (uint64_t i = from; i < to; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, want[i]);
}

/* A backend case's start: skipped where its backend is missing, else a
 * fresh data file of NPAGES stamped pages (gen 1) open in the case's pool. */
static bp_pool *start_case(const struct tcase *c, const char *name,
                           char *path, size_t pathsz, char *shm,
                           size_t shmsz)
{
    if (!util_backend_here(c->backend))
        skip();
    data_file(path, pathsz, name, NPAGES, 1);
    util_shm_name(shm, shmsz);
    return open_case(c, path, shm, SLOTS);
}

/* ---- shrink -------------------------------------------------------------- */

static void test_shrink(void **state)
{
    const struct tcase *c = *state;
    uint32_t want[NPAGES];
    char path[600], shm[64];
    bp_stats st;
    bp_pool *p;

    p = start_case(c, "shrink.db", path, sizeof path, shm, sizeof shm);
    for (unsigned i = 0; i < NPAGES; i++)
        want[i] = 1;
    /* below the cut: every third page dirty */
    for (unsigned i = 0; i < CUT; i += 3)
        util_fix_write(p, i, PSZ, 1, want[i] = 2);
    /* beyond it: dirty and clean pages; the last ones fixed are in the
     * window, the others only in the cache */
    for (unsigned i = CUT; i < NPAGES; i++) {
        if (i % 2)
            util_fix_write(p, i, PSZ, 1, 3);
        else
            util_fix_verify(p, i, BP_SHARED, PSZ, 1);
    }
    /* and a few below the cut fixed last, so the window has both */
    for (unsigned i = 0; i < 3; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, want[i]);

    truncate_ok(p, CUT);
    util_stats(p, &st);
    assert_true(st.data_pages == CUT);
    expect_file_pages(path, CUT);
    expect_beyond(p, CUT);
    expect_beyond(p, NPAGES - 1);
    verify_range(p, 0, CUT, want); /* the dirty ones from the cache */
    assert_int_equal(bp_flush(p), 0);
    expect_file_pages(path, CUT);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, CUT, want);

    p = open_case(c, path, shm, SLOTS);
    assert_true(bp_page_count(p) == CUT);
    verify_range(p, 0, CUT, want);
    expect_beyond(p, CUT);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* ---- shrink, then grow again --------------------------------------------- */

static void test_regrow(void **state)
{
    const struct tcase *c = *state;
    uint32_t want[NPAGES];
    char path[600], shm[64];
    bp_pool *p;

    p = start_case(c, "regrow.db", path, sizeof path, shm, sizeof shm);
    for (unsigned i = 0; i < NPAGES; i++)
        want[i] = i < CUT ? 1 : UTIL_GEN_ZERO;
    /* pages beyond the cut: some flushed at gen 2 (on disk), then all of
     * them dirty at gen 3 (in the cache, the last ones in the window) */
    for (unsigned i = CUT; i < CUT + 6; i++)
        util_fix_write(p, i, PSZ, 1, 2);
    assert_int_equal(bp_flush(p), 0);
    for (unsigned i = CUT; i < NPAGES; i++)
        util_fix_write(p, i, PSZ, i < CUT + 6 ? 2 : 1, 3);
    util_fix_write(p, 5, PSZ, 1, want[5] = 4); /* dirty below the cut */

    truncate_ok(p, CUT);
    truncate_ok(p, NPAGES);
    expect_file_pages(path, NPAGES);
    /* read-ahead of one page cut, optimistic reads and fixes of all */
    uint64_t ahead = NPAGES - 2;
    assert_true(bp_prefetch(p, &ahead, 1) >= 0);
    for (unsigned i = CUT; i < NPAGES; i++)
        opt_verify(p, i, UTIL_GEN_ZERO);
    verify_range(p, 0, NPAGES, want);
    util_fix_write(p, NPAGES - 1, PSZ, UTIL_GEN_ZERO, want[NPAGES - 1] = 5);
    util_check(p);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, want);

    p = open_case(c, path, shm, SLOTS);
    verify_range(p, 0, NPAGES, want);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* ---- grow, and new pages after a shrink ---------------------------------- */

#define SMALL 16u
#define BIG 40u

static void test_grow(void **state)
{
    uint32_t want[BIG + 1];
    char path[600];
    bp_page pg;
    bp_pool *p;

    (void)state;
    data_file(path, sizeof path, "grow.db", SMALL, 1);
    p = open_plain(path, 0);
    for (unsigned i = 0; i <= BIG; i++)
        want[i] = i < SMALL ? 1 : UTIL_GEN_ZERO;
    util_fix_write(p, 3, PSZ, 1, want[3] = 2);

    truncate_ok(p, SMALL); /* the same size: nothing to do */
    expect_file_pages(path, SMALL);
    truncate_ok(p, BIG);
    expect_file_pages(path, BIG); /* at once, not at the flush */
    verify_range(p, 0, BIG, want);
    util_fix_write(p, 30, PSZ, UTIL_GEN_ZERO, want[30] = 5);

    /* a new page comes after the grown end */
    assert_int_equal(bp_alloc_page(p, &pg), 0);
    assert_true(pg.pgno == BIG);
    util_assert_stamp(pg.data, PSZ, BIG, UTIL_GEN_ZERO);
    util_stamp(pg.data, PSZ, BIG, want[BIG] = 6);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    assert_true(bp_page_count(p) == BIG + 1);
    assert_int_equal(bp_flush(p), 0);
    util_datafile_verify(path, PSZ, BIG + 1, want);

    /* after a shrink the new page is at the new end, and all zeros */
    truncate_ok(p, 10);
    expect_file_pages(path, 10);
    assert_int_equal(bp_alloc_page(p, &pg), 0);
    assert_true(pg.pgno == 10);
    util_assert_stamp(pg.data, PSZ, 10, UTIL_GEN_ZERO);
    util_stamp(pg.data, PSZ, 10, want[10] = 7);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    assert_true(bp_page_count(p) == 11);
    expect_beyond(p, 11);
    util_check(p);
    assert_int_equal(bp_flush(p), 0);
    util_datafile_verify(path, PSZ, 11, want);
    assert_int_equal(bp_close(p), 0);

    p = open_plain(path, 0);
    assert_true(bp_page_count(p) == 11);
    verify_range(p, 0, 11, want);

    /* to nothing at all, then the first page again */
    truncate_ok(p, 0);
    expect_file_pages(path, 0);
    expect_beyond(p, 0);
    assert_int_equal(bp_alloc_page(p, &pg), 0);
    assert_true(pg.pgno == 0);
    util_assert_stamp(pg.data, PSZ, 0, UTIL_GEN_ZERO);
    util_stamp(pg.data, PSZ, 0, 8);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    assert_int_equal(bp_flush(p), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    want[0] = 8;
    util_datafile_verify(path, PSZ, 1, want);
    unlink(path);
}

/* ---- a fixed page beyond the cut ----------------------------------------- */

/* bp_truncate(p, CUT) fails with -EBUSY naming page held, and the pool is
 * as before: want[] for every page, NPAGES pages in the file. */
static void expect_busy(bp_pool *p, const char *path, uint64_t held)
{
    char name[32];
    int rc = bp_truncate(p, CUT);

    if (rc != -EBUSY)
        util_print_rc(p, "bp_truncate with a page fixed", rc);
    assert_int_equal(rc, -EBUSY);
    snprintf(name, sizeof name, "page %" PRIu64, held);
    if (!strstr(bp_errmsg(p), name))
        fail_msg("the message does not name %s: %s", name, bp_errmsg(p));
    assert_true(bp_page_count(p) == NPAGES);
    expect_file_pages(path, NPAGES);
    util_check(p);
}

static void test_fixed_busy(void **state)
{
    uint32_t want[NPAGES];
    char path[600];
    bp_page pg, low;
    bp_pool *p;

    (void)state;
    data_file(path, sizeof path, "busy.db", NPAGES, 1);
    p = open_plain(path, 0);
    for (unsigned i = 0; i < NPAGES; i++)
        want[i] = 1;
    /* dirty pages beyond the cut, then the last page fixed shared: it
     * was cached last, after them */
    for (unsigned i = CUT; i < NPAGES - 2; i++)
        util_fix_write(p, i, PSZ, 1, want[i] = 2);
    assert_int_equal(bp_fix(p, NPAGES - 1, BP_SHARED, &pg), 0);
    expect_busy(p, path, NPAGES - 1);
    util_assert_stamp(pg.data, PSZ, NPAGES - 1, 1); /* still fixed */
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    verify_range(p, 0, NPAGES, want); /* the dirty pages too */

    /* the page at the cut itself, fixed exclusive and made dirty */
    assert_int_equal(bp_fix(p, CUT, BP_EXCLUSIVE, &pg), 0);
    util_stamp(pg.data, PSZ, CUT, want[CUT] = 3);
    expect_busy(p, path, CUT);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    verify_range(p, 0, NPAGES, want);
    assert_int_equal(bp_flush(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, want);

    /* a page below the cut fixed exclusive (even dirty) is no obstacle */
    assert_int_equal(bp_fix(p, CUT - 1, BP_EXCLUSIVE, &low), 0);
    util_stamp(low.data, PSZ, CUT - 1, want[CUT - 1] = 4);
    truncate_ok(p, CUT);
    assert_int_equal(bp_unfix(p, &low, BP_DIRTY), 0);
    assert_int_equal(bp_flush(p), 0);
    util_datafile_verify(path, PSZ, CUT, want);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* ---- a read in flight beyond the cut ------------------------------------- */

static void test_read_busy(void **state)
{
    uint64_t pgno = NPAGES - 1;
    char path[600];
    bp_page pg;
    bp_pool *p;
    int rc;

    (void)state;
    data_file(path, sizeof path, "inflight.db", NPAGES, 1);
    p = open_plain(path, 0);
    if ((rc = bp__test_aio_hold(p, 1)) != 0) {
        util_print_rc(p, "bp__test_aio_hold", rc);
        assert_int_equal(bp_close(p), 0);
        skip();
    }
    rc = bp_prefetch(p, &pgno, 1);
    if (rc != 1) {
        util_print_rc(p, "bp_prefetch", rc);
        bp__test_aio_hold(p, 0);
        assert_int_equal(bp_close(p), 0);
        skip();
    }
    rc = bp_truncate(p, CUT);
    if (rc != -EBUSY)
        util_print_rc(p, "bp_truncate with a read in flight", rc);
    bp__test_aio_hold(p, 0);
    assert_int_equal(rc, -EBUSY);
    assert_true(bp_page_count(p) == NPAGES);
    expect_file_pages(path, NPAGES);
    /* the read completes; the page is there, then cut */
    util_fix_verify(p, pgno, BP_SHARED, PSZ, 1);
    util_check(p);
    truncate_ok(p, CUT);
    expect_file_pages(path, CUT);
    assert_int_equal(bp_fix(p, pgno, BP_SHARED, &pg), BP_EPGNO);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* ---- refused calls ------------------------------------------------------- */

static void test_refused(void **state)
{
    char path[600];
    bp_pool *p;

    (void)state;
    assert_int_equal(bp_truncate(NULL, 0), -EINVAL);
    assert_int_equal(bp_truncate(NULL, 5), -EINVAL);
    data_file(path, sizeof path, "refused.db", SMALL, 1);

    /* never opened, and after a failed bp_open */
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(bp_truncate(p, 4), BP_ESTATE);
    assert_int_equal(bp_set_page_size(p, PSZ), 0);
    assert_int_equal(bp_set_cache_frames(p, 4), 0);
    assert_int_equal(bp_set_window_slots(p, 8), 0); /* more than frames */
    assert_int_equal(bp_open(p, path, 0), BP_EWINDOW);
    assert_int_equal(bp_truncate(p, 4), BP_ESTATE);
    assert_int_equal(bp_close(p), 0);
    expect_file_pages(path, SMALL);

    /* read-only: neither shrink nor grow */
    p = open_plain(path, BP_RDONLY);
    assert_int_equal(bp_truncate(p, 4), BP_EREADONLY);
    assert_non_null(strstr(bp_errmsg(p), "BP_RDONLY"));
    assert_int_equal(bp_truncate(p, 2 * SMALL), BP_EREADONLY);
    assert_true(bp_page_count(p) == SMALL);
    expect_file_pages(path, SMALL);
    util_fix_verify(p, SMALL - 1, BP_SHARED, PSZ, 1);
    util_check(p);
    assert_int_equal(bp_close(p), 0);

    /* beyond the largest file offset */
    p = open_plain(path, 0);
    util_fix_write(p, 2, PSZ, 1, 2);
    assert_int_equal(bp_truncate(p, UINT64_MAX), -EFBIG);
    assert_int_equal(bp_truncate(p, (uint64_t)INT64_MAX / PSZ + 1), -EFBIG);
    assert_true(bp_page_count(p) == SMALL);
    expect_file_pages(path, SMALL);
    util_fix_verify(p, 2, BP_SHARED, PSZ, 2);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* ---- a failing ftruncate ------------------------------------------------- */

static void arm_ftruncate(int err)
{
    assert_int_equal(bp__test_fault_arm(BP__SYS_BIT(FTRUNCATE), 1, err, 0),
                     0);
}

/* Skip the case where fault injection is compiled out; else disarm. */
static void skip_without_faults(void)
{
    if (!bp__test_faults_compiled()) {
        print_message("  fault injection compiled out "
                      "(BP_FAULT_INJECTION)\n");
        skip();
    }
    bp__test_fault_disarm();
}

static void test_ftruncate_fails(void **state)
{
    uint32_t want[NPAGES];
    char path[600];
    bp_pool *p;

    (void)state;
    skip_without_faults();
    data_file(path, sizeof path, "ftrunc.db", NPAGES, 1);
    p = open_plain(path, 0);
    for (unsigned i = 0; i < NPAGES; i++)
        want[i] = i < CUT ? 1 : UTIL_GEN_ZERO;
    util_fix_write(p, 1, PSZ, 1, want[1] = 2);
    for (unsigned i = CUT; i < NPAGES; i += 2)
        util_fix_write(p, i, PSZ, 1, 3);

    /* shrinking: the error, the pages cut are gone from the pool */
    arm_ftruncate(EIO);
    assert_int_equal(bp_truncate(p, CUT), -EIO);
    assert_true(bp__test_fault_hits() == 1);
    bp__test_fault_disarm();
    assert_non_null(strstr(bp_errmsg(p), "ftruncate"));
    util_check(p);
    assert_true(bp_page_count(p) == CUT);
    expect_beyond(p, CUT);
    verify_range(p, 0, CUT, want);
    util_fix_write(p, 4, PSZ, 1, want[4] = 4); /* still usable */
    assert_int_equal(bp_flush(p), 0);
    /* the same call again cuts the file */
    truncate_ok(p, CUT);
    expect_file_pages(path, CUT);

    /* growing: the error, and nothing changed */
    arm_ftruncate(ENOSPC);
    assert_int_equal(bp_truncate(p, NPAGES), -ENOSPC);
    bp__test_fault_disarm();
    util_check(p);
    assert_true(bp_page_count(p) == CUT);
    expect_file_pages(path, CUT);
    expect_beyond(p, CUT);
    truncate_ok(p, NPAGES);
    expect_file_pages(path, NPAGES);
    verify_range(p, 0, NPAGES, want);
    assert_int_equal(bp_flush(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, want);

    /* a failed shrink, then straight to a grow: the pages cut come back
     * as zeros, not as what the file still held */
    for (unsigned i = CUT; i < NPAGES; i++)
        util_fix_write(p, i, PSZ, UTIL_GEN_ZERO, 6);
    assert_int_equal(bp_flush(p), 0);
    arm_ftruncate(EIO);
    assert_int_equal(bp_truncate(p, CUT), -EIO);
    bp__test_fault_disarm();
    truncate_ok(p, NPAGES);
    expect_file_pages(path, NPAGES);
    verify_range(p, 0, NPAGES, want);
    assert_int_equal(bp_flush(p), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, want);
    unlink(path);
}

/* After a failed shrink the file still holds the pages cut: a page
 * allocated there is new all the same (zeros), also once evicted and read
 * again, and a later cut above it keeps it. */
static void test_ftruncate_fails_then_alloc(void **state)
{
    struct util_cfg cfg = {.page_size = PSZ, .frames = 8, .slots = 4};
    uint32_t want[CUT + 1];
    char path[600];
    bp_page pg;
    bp_pool *p;

    (void)state;
    skip_without_faults();
    data_file(path, sizeof path, "ftralloc.db", NPAGES, 1);
    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    for (unsigned i = 0; i < CUT; i++)
        want[i] = 1;
    arm_ftruncate(EIO);
    assert_int_equal(bp_truncate(p, CUT), -EIO);
    bp__test_fault_disarm();
    util_check(p);
    assert_true(bp_page_count(p) == CUT);
    assert_int_equal(bp_alloc_page(p, &pg), 0);
    assert_true(pg.pgno == CUT);
    util_assert_stamp(pg.data, PSZ, CUT, UTIL_GEN_ZERO);
    assert_int_equal(bp_unfix(p, &pg, 0), 0); /* a new page: dirty anyway */
    verify_range(p, 0, 16, want); /* evicts it (8 frames) */
    util_fix_write(p, CUT, PSZ, UTIL_GEN_ZERO, want[CUT] = 9);
    util_check(p);
    assert_int_equal(bp_flush(p), 0);
    truncate_ok(p, CUT + 1);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, CUT + 1, want);
    unlink(path);
}

/* ---- another process's window -------------------------------------------- */

/* The other process: no cmocka there, a failed step exits with its line. */
#define CHILD_CHECK(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "other process: line %d: %s\n", __LINE__, #cond);  \
            _exit(1);                                                          \
        }                                                                      \
    } while (0)

static int child_gen_is(bp_pool *q, uint64_t pgno, uint32_t gen)
{
    bp_page pg;
    uint32_t got;

    if (bp_fix(q, pgno, BP_SHARED, &pg) != 0)
        return 0;
    got = util_page_gen(pg.data, PSZ, pgno);
    return bp_unfix(q, &pg, 0) == 0 && got == gen;
}

static void child_wait(int fd, char want)
{
    char c = 0;

    CHILD_CHECK(read(fd, &c, 1) == 1 && c == want);
}

static void child_say(int fd, char c)
{
    CHILD_CHECK(write(fd, &c, 1) == 1);
}

static void other_process(const struct tcase *c, const char *path,
                          const char *shm, int in, int out)
{
    struct util_cfg cfg = {.backend = c->backend, .page_size = PSZ,
                           .frames = FRAMES, .slots = NPAGES,
                           .flags = BP_ATTACH, .shm_name = shm};
    bp_page pg;
    bp_pool *q;

    alarm(120); /* never outlives a parent that failed */
    CHILD_CHECK(util_pool_open(&q, path, &cfg) == 0);
    for (uint64_t i = 0; i < NPAGES; i++) /* all in its window */
        CHILD_CHECK(child_gen_is(q, i, 1));
    child_say(out, 'r');
    child_wait(in, 's'); /* shrunk */
    CHILD_CHECK(bp_page_count(q) == CUT);
    CHILD_CHECK(bp_fix(q, CUT, BP_SHARED, &pg) == BP_EPGNO);
    CHILD_CHECK(bp_fix(q, NPAGES - 1, BP_SHARED, &pg) == BP_EPGNO);
    for (uint64_t i = 0; i < CUT; i++)
        CHILD_CHECK(child_gen_is(q, i, 1));
    CHILD_CHECK(bp__test_check(q) == 0);
    child_say(out, 'k');
    child_wait(in, 'g'); /* grown again */
    CHILD_CHECK(bp_page_count(q) == NPAGES);
    for (uint64_t i = 0; i < NPAGES; i++)
        CHILD_CHECK(child_gen_is(q, i, i < CUT ? 1 : UTIL_GEN_ZERO));
    CHILD_CHECK(bp__test_check(q) == 0);
    CHILD_CHECK(bp_close(q) == 0);
    child_say(out, 'd');
    _exit(0);
}

static void parent_say(int fd, char c)
{
    assert_int_equal(write(fd, &c, 1), 1);
}

static void parent_wait(int fd, char want)
{
    char c = 0;

    assert_int_equal(read(fd, &c, 1), 1);
    assert_int_equal(c, want);
}

static void test_other_process(void **state)
{
    const struct tcase *c = *state;
    int to_child[2], to_parent[2], st = 0;
    uint32_t want[NPAGES];
    char path[600], shm[64];
    bp_pool *p;
    pid_t pid;

    if (!util_backend_here(c->backend))
        skip();
    data_file(path, sizeof path, "other.db", NPAGES, 1);
    util_shm_name(shm, sizeof shm);
    for (unsigned i = 0; i < NPAGES; i++)
        want[i] = i < CUT ? 1 : UTIL_GEN_ZERO;
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(to_parent), 0);
    util_watchdog_start(120, "truncation with another process attached");
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        other_process(c, path, shm, to_child[0], to_parent[1]);
    }
    close(to_child[0]);
    close(to_parent[1]);
    parent_wait(to_parent[0], 'r'); /* it created the cache */
    p = open_case(c, path, shm, SLOTS);
    util_fix_write(p, CUT + 1, PSZ, 1, 3); /* one dirty beyond the cut */
    truncate_ok(p, CUT);
    parent_say(to_child[1], 's');
    parent_wait(to_parent[0], 'k');
    truncate_ok(p, NPAGES);
    parent_say(to_child[1], 'g');
    parent_wait(to_parent[0], 'd');
    assert_int_equal(waitpid(pid, &st, 0), pid);
    util_watchdog_stop();
    close(to_child[1]);
    close(to_parent[0]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    verify_range(p, 0, NPAGES, want);
    util_check(p);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, want);
    unlink(path);
}

/* ---- main ---------------------------------------------------------------- */

static const struct tcase cases[] = {
    {BP_BACKEND_COPY, 0},   {BP_BACKEND_MMAP, 0},  {BP_BACKEND_RFP, 0},
    {BP_BACKEND_LINEAR, 0}, {BP_BACKEND_KMOD, 0},  {BP_BACKEND_MMAP, 1},
    {BP_BACKEND_RFP, 1},    {BP_BACKEND_LINEAR, 1}, {BP_BACKEND_KMOD, 1},
};
#define NCASES (sizeof cases / sizeof cases[0])

static char names[3 * NCASES][48];

static void add(struct CMUnitTest *t, size_t *n, const char *what,
                void (*fn)(void **), const struct tcase *c)
{
    char *name = names[*n];

    snprintf(name, sizeof names[0], "%s_%s%s", what,
             util_backend_name(c->backend), c->shared ? "_shared" : "");
    memset(&t[*n], 0, sizeof t[*n]);
    t[*n].name = name;
    t[*n].test_func = fn;
    t[*n].initial_state = (void *)c;
    (*n)++;
}

int main(void)
{
    struct CMUnitTest tests[3 * NCASES + 8];
    size_t n = 0;

    util_init();
    for (size_t i = 0; i < NCASES; i++)
        add(tests, &n, "shrink", test_shrink, &cases[i]);
    for (size_t i = 0; i < NCASES; i++)
        add(tests, &n, "regrow", test_regrow, &cases[i]);
    for (size_t i = 0; i < NCASES; i++)
        if (cases[i].shared)
            add(tests, &n, "other_process", test_other_process, &cases[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_grow);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_fixed_busy);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_read_busy);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_refused);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_ftruncate_fails);
    tests[n++] =
        (struct CMUnitTest)cmocka_unit_test(test_ftruncate_fails_then_alloc);
    return _cmocka_run_group_tests("truncate", tests, n, NULL, NULL);
}
