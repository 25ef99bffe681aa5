/*
 * test_wal.c - the write-ahead-log rule hook (bp_set_wal / bp_wal_durable).
 *
 * Pages carry an LSN at a fixed offset.  The pool must call the engine's
 * log_flush(lsn) before it writes any dirty page whose LSN is beyond the
 * durable LSN it knows, and never write such a page when the callback
 * fails; pages at or below the durable LSN are written without a call.
 * The callback records the highest LSN it made durable; a page found in
 * the data file with an LSN above that (read back with plain pread at the
 * end) would be a WAL-rule violation.  Covers flush and eviction
 * write-back, for the copy and mmap backends.
 */
#include "util_test.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 40u
#define LSN_OFF 64u

struct log {
    uint64_t durable; /* what log_flush made durable */
    unsigned calls;
    int fail;         /* return this instead */
    uint64_t cap;     /* not 0: the log cannot go beyond (-EIO) */
};

static int log_flush(void *ctx, uint64_t lsn)
{
    struct log *l = ctx;

    l->calls++;
    if (l->fail)
        return l->fail;
    if (l->cap && lsn > l->cap)
        return -EIO;
    if (lsn > l->durable)
        l->durable = lsn;
    return 0;
}

static void set_lsn(bp_pool *p, uint64_t pgno, uint64_t lsn)
{
    bp_page pg;

    assert_int_equal(bp_fix(p, pgno, BP_EXCLUSIVE, &pg), 0);
    memcpy((char *)pg.data + LSN_OFF, &lsn, sizeof lsn);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
}

/* No page in the file has an LSN beyond what the log made durable. */
static void check_file(const char *path, uint64_t durable)
{
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    for (uint64_t i = 0; i < NPAGES; i++) {
        uint64_t lsn;

        assert_int_equal(pread(fd, &lsn, sizeof lsn,
                               (off_t)(i * PSZ + LSN_OFF)),
                         (ssize_t)sizeof lsn);
        if (lsn > durable)
            fail_msg("page %u reached the disk with LSN %llu, log durable "
                     "only to %llu", (unsigned)i, (unsigned long long)lsn,
                     (unsigned long long)durable);
    }
    close(fd);
}

/* A fresh data file of NPAGES zero pages in path, and a pool on it with
 * the WAL hook reporting to *log. */
static bp_pool *open_wal(char *path, size_t len, const char *name,
                         const struct util_cfg *cfg, struct log *log)
{
    bp_pool *p;

    util_tmp_path(path, len, name);
    util_datafile_create(path, PSZ, NPAGES, UTIL_GEN_ZERO);
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, cfg), 0);
    assert_int_equal(bp_set_wal(p, LSN_OFF, log_flush, log), 0);
    assert_int_equal(bp_open(p, path, 0), 0);
    return p;
}

static void run(bp_backend b)
{
    struct util_cfg cfg = {.backend = b, .page_size = PSZ, .frames = 8,
                           .slots = 4};
    struct log log = {0, 0, 0, 0};
    char path[600];
    bp_stats st;
    bp_pool *p = open_wal(path, sizeof path, "wal.db", &cfg, &log);

    /* below the durable LSN: written without a call */
    bp_wal_durable(p, 100);
    log.durable = 100;
    for (uint64_t i = 0; i < 4; i++)
        set_lsn(p, i, 50 + i);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(log.calls, 0);

    /* beyond it, with the log refusing: nothing reaches the disk */
    log.fail = -EIO;
    set_lsn(p, 4, 150);
    assert_int_equal(bp_flush(p), -EIO);
    assert_true(log.calls > 0);
    check_file(path, log.durable);

    /* the log works again: the page goes, after the call */
    log.fail = 0;
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(log.durable, 150);

    /* eviction: many dirty pages with growing LSNs through 8 frames */
    for (uint64_t i = 0; i < NPAGES; i++)
        set_lsn(p, i, 200 + i);
    check_file(path, log.durable); /* evictions obeyed the rule */
    assert_int_equal(bp_flush(p), 0);
    check_file(path, log.durable);
    util_stats(p, &st);
    assert_true(st.wal_flushes > 0);
    assert_int_equal(st.wal_durable, log.durable);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* A batch of writes goes to the disk in chunks, each after the WAL rule
 * for its own highest LSN (bp_aio.c): a log that can reach only part of
 * the batch's LSNs lets the chunks below its reach be written and no page
 * beyond it.  128 frames, 64 slots: batches of 16 (a quarter of the
 * window, an eighth of the cache), chunks of 8; pages get LSN 500 - pgno,
 * and the log stops at 486, so some chunk after a batch's first is the
 * first to fail. */
static void test_chunks(void **state)
{
    struct util_cfg cfg = {.backend = *(const bp_backend *)*state,
                           .page_size = PSZ, .frames = 128, .slots = 64};
    struct log log = {0, 0, 0, 486};
    char path[600];
    bp_stats st;
    bp_pool *p = open_wal(path, sizeof path, "walchunks.db", &cfg, &log);

    for (uint64_t i = 0; i < NPAGES; i++)
        set_lsn(p, i, 500 - i);
    assert_int_equal(bp_flush(p), -EIO);
    util_stats(p, &st);
    print_message("  %s: %u log calls, durable %llu, %llu writes (%llu "
                  "batched)\n", util_backend_name(st.backend), log.calls,
                  (unsigned long long)log.durable,
                  (unsigned long long)st.writes,
                  (unsigned long long)st.batch_writes);
    check_file(path, log.durable);
    assert_true(st.writes > 0 && st.writes < NPAGES);
    log.cap = 0; /* the log catches up: everything goes */
    assert_int_equal(bp_flush(p), 0);
    check_file(path, log.durable);
    assert_int_equal(log.durable, 500);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

static void test_bad_offset(void **state)
{
    char path[600];
    bp_pool *p;

    (void)state;
    util_tmp_path(path, sizeof path, "walbad.db");
    util_datafile_create(path, PSZ, 4, UTIL_GEN_ZERO);
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(bp_set_page_size(p, PSZ), 0);
    assert_int_equal(bp_set_checksums(p, 1), 0);
    assert_int_equal(bp_set_wal(p, PSZ - 16, log_flush, NULL), 0);
    assert_int_equal(bp_open(p, path, 0), -EINVAL); /* in the trailer */
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

int main(void)
{
    static const bp_backend bs[] = {BP_BACKEND_COPY, BP_BACKEND_MMAP};
    static bp_backend copy = BP_BACKEND_COPY, mmap = BP_BACKEND_MMAP;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_offset),
        cmocka_unit_test_prestate(test_chunks, &copy),
        cmocka_unit_test_prestate(test_chunks, &mmap),
    };

    util_init();
    return util_run_backends("wal", run, bs, 2) |
           cmocka_run_group_tests(tests, NULL, NULL);
}
