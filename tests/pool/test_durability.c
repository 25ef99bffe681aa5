/*
 * test_durability.c - what a failed data-file write or sync does, with the
 * system-call fault table (bp__test_fault_arm, data-file kinds of either
 * engine), for the copy and mmap backends and both I/O engines the machine
 * has.  Skipped when the table is compiled out (Release builds).
 *
 *  - A failed fdatasync is returned once as its errno; from then on the
 *    pool is in a sticky state: bp_flush and bp_alloc_page return
 *    BP_ESYNC, reads keep working, and pages acknowledged by an earlier
 *    successful flush are intact in the file after reopening.
 *  - A failed write leaves its page dirty: the flush reports the error and
 *    the next flush writes the page (no sync failed, so nothing is sticky).
 *  - A short write is completed by the pool (the rest of the page is
 *    written), and the file holds the whole page.
 *  - A failed read fails that fix only; the pool stays consistent and the
 *    same fix succeeds afterwards.
 */
#include "util_test.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 32u

struct dcase {
    bp_backend backend;
    bp_io_engine engine;
};

static bp_pool *open_case(const struct dcase *c, const char *path)
{
    struct util_cfg cfg = {.backend = c->backend, .page_size = PSZ,
                           .frames = 16, .slots = 4};
    bp_pool *p;
    int rc;

    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, &cfg), 0);
    assert_int_equal(bp_set_io_engine(p, c->engine), 0);
    bp__test_fault_disarm(); /* an earlier failed test may have armed it */
    rc = bp_open(p, path, 0);
    if (rc == -ENOSYS || (rc && c->engine == BP_IO_URING)) {
        print_message("io_uring unavailable here (%s): skipped\n",
                      bp_errmsg(p));
        bp_close(p);
        return NULL;
    }
    if (rc)
        util_print_rc(p, "bp_open", rc);
    assert_int_equal(rc, 0);
    return p;
}

static void fresh_file(char *path, size_t len, const char *name)
{
    util_tmp_path(path, len, name);
    util_datafile_create(path, PSZ, NPAGES, 0);
}

static void test_sync_failure_is_sticky(void **state)
{
    const struct dcase *c = *state;
    uint32_t want[NPAGES];
    char path[600];
    bp_page pg;
    bp_pool *p;

    fresh_file(path, sizeof path, "sticky.db");
    if (!(p = open_case(c, path)))
        skip();
    for (uint32_t i = 0; i < NPAGES; i++)
        util_fix_write(p, i, PSZ, 0, want[i] = 1);
    assert_int_equal(bp_flush(p), 0); /* generation 1 acknowledged */
    for (uint32_t i = 0; i < 4; i++)
        util_fix_write(p, i, PSZ, 1, 2);
    assert_int_equal(bp__test_fault_arm(BP__SYS_DATA_SYNC, 1, EIO, 0), 0);
    assert_int_equal(bp_flush(p), -EIO);
    bp__test_fault_disarm(); /* disk is fine */
    assert_int_equal(bp_flush(p), BP_ESYNC);              /* sticky */
    assert_non_null(strstr(bp_errmsg(p), "fdatasync"));
    assert_int_equal(bp_alloc_page(p, &pg), BP_ESYNC);
    /* reads keep working, also of pages that must be read again */
    for (uint32_t i = 4; i < NPAGES; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, 1);
    util_fix_verify(p, 0, BP_SHARED, PSZ, 2);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    /* pages 4.. were acknowledged at generation 1 and not touched since;
     * 0..3 were never acknowledged at 2: either generation may be there */
    util_datafile_gens(path, PSZ, NPAGES, want);
    for (uint32_t i = 4; i < NPAGES; i++)
        assert_int_equal(want[i], 1);
    for (uint32_t i = 0; i < 4; i++)
        assert_true(want[i] == 1 || want[i] == 2);
    unlink(path);
}

static void test_write_failure_retried(void **state)
{
    const struct dcase *c = *state;
    uint32_t want[NPAGES];
    char path[600];
    bp_pool *p;

    fresh_file(path, sizeof path, "wfail.db");
    if (!(p = open_case(c, path)))
        skip();
    for (uint32_t i = 0; i < NPAGES; i++)
        want[i] = 0;
    for (uint32_t i = 0; i < 8; i++)
        util_fix_write(p, i, PSZ, 0, want[i] = 3);
    /* from the second write on (a batched write that fails is tried
     * again alone: that one must fail too) */
    assert_int_equal(bp__test_fault_arm(BP__SYS_DATA_WRITE, 2, EIO, 1), 0);
    assert_int_equal(bp_flush(p), -EIO);
    bp__test_fault_disarm();
    assert_int_equal(bp_flush(p), 0);    /* written again, then synced */
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, want);
    unlink(path);
}

static void test_short_write_completed(void **state)
{
    const struct dcase *c = *state;
    uint32_t want[NPAGES];
    char path[600];
    bp_pool *p;

    fresh_file(path, sizeof path, "short.db");
    if (!(p = open_case(c, path)))
        skip();
    for (uint32_t i = 0; i < NPAGES; i++)
        want[i] = 0;
    for (uint32_t i = 0; i < 8; i++)
        util_fix_write(p, i, PSZ, 0, want[i] = 4);
    /* every write transfers half: the pool must finish each page */
    assert_int_equal(
        bp__test_fault_arm(BP__SYS_DATA_WRITE, 1, BP__SYS_SHORT, 1), 0);
    assert_int_equal(bp_flush(p), 0);
    assert_true(bp__test_fault_hits() >= 8);
    bp__test_fault_disarm();
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, want);
    unlink(path);
}

static void test_read_failure(void **state)
{
    const struct dcase *c = *state;
    char path[600];
    bp_page pg;
    bp_pool *p;

    fresh_file(path, sizeof path, "rfail.db");
    if (!(p = open_case(c, path)))
        skip();
    /* every read fails: a failed early read (io_uring) is read again the
     * plain way, which must fail too for the error to come back */
    assert_int_equal(bp__test_fault_arm(BP__SYS_DATA_READ, 1, EIO, 1), 0);
    assert_int_equal(bp_fix(p, 5, BP_SHARED, &pg), -EIO);
    bp__test_fault_disarm();
    util_check(p);
    util_fix_verify(p, 5, BP_SHARED, PSZ, 0); /* read again: fine */
    /* short reads are completed too */
    assert_int_equal(
        bp__test_fault_arm(BP__SYS_DATA_READ, 1, BP__SYS_SHORT, 1), 0);
    util_fix_verify(p, 6, BP_SHARED, PSZ, 0);
    bp__test_fault_disarm();
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

int main(void)
{
    static const struct dcase cases[] = {
        {BP_BACKEND_COPY, BP_IO_SYNC},
        {BP_BACKEND_MMAP, BP_IO_SYNC},
        {BP_BACKEND_COPY, BP_IO_URING},
        {BP_BACKEND_MMAP, BP_IO_URING},
    };
    struct CMUnitTest tests[4 * 4];
    size_t n = 0;

    util_init();
    if (!bp__test_faults_compiled())
        return util_skip("fault injection compiled out (BP_FAULT_INJECTION)");
    for (size_t i = 0; i < 4; i++) {
        void *st = (void *)&cases[i];

        tests[n++] = (struct CMUnitTest)cmocka_unit_test_prestate(
            test_sync_failure_is_sticky, st);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test_prestate(
            test_write_failure_retried, st);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test_prestate(
            test_short_write_completed, st);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test_prestate(
            test_read_failure, st);
    }
    return _cmocka_run_group_tests("durability", tests, n, NULL, NULL);
}
