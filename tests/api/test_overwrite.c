/*
 * test_overwrite.c - BP_EXCLUSIVE | BP_OVERWRITE: a page written whole is
 * not read first.
 *
 * On every backend the machine has: a page not in the cache comes zeroed,
 * dirty and without a data-file read (even with every read failing), and
 * its new bytes reach the file at the next flush (also when it is
 * unfixed without BP_DIRTY: its old bytes are replaced by zeros); a
 * cached page comes with its bytes; BP_OVERWRITE without BP_EXCLUSIVE is
 * -EINVAL.
 */
#include "util_test.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096
#define NPAGES 32

static int zeroed(const void *page)
{
    static const char zero[PSZ];

    return memcmp(page, zero, PSZ) == 0;
}

static void run(bp_backend b)
{
    struct util_cfg cfg = {.backend = b, .page_size = PSZ, .frames = 8,
                           .slots = 4};
    uint32_t want[NPAGES];
    char path[600];
    bp_stats s0, s1;
    bp_page pg;
    bp_pool *p;

    if (!util_backend_here(b))
        skip();
    util_tmp_path(path, sizeof path, "overwrite.db");
    util_datafile_create(path, PSZ, NPAGES, 1);
    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    for (unsigned i = 0; i < NPAGES; i++)
        want[i] = 1;

    /* an uncached page: zeroed, no read */
    util_stats(p, &s0);
    assert_int_equal(bp_fix(p, 20, BP_EXCLUSIVE | BP_OVERWRITE, &pg), 0);
    assert_true(zeroed(pg.data));
    util_stamp(pg.data, PSZ, 20, want[20] = 2);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    util_stats(p, &s1);
    assert_true(s1.reads == s0.reads);
    assert_true(s1.cache_misses == s0.cache_misses + 1);

    /* a cached page: its bytes */
    util_fix_verify(p, 3, BP_SHARED, PSZ, 1);
    assert_int_equal(bp_fix(p, 3, BP_EXCLUSIVE | BP_OVERWRITE, &pg), 0);
    assert_true(util_stamp_ok(pg.data, PSZ, 3, 1));
    util_stamp(pg.data, PSZ, 3, want[3] = 3);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);

    /* unfixed clean: zeros replace the old bytes anyway */
    assert_int_equal(bp_fix(p, 25, BP_EXCLUSIVE | BP_OVERWRITE, &pg), 0);
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    want[25] = UTIL_GEN_ZERO;

    /* every data-file read failing: no read is made */
    if (bp__test_faults_compiled()) {
        /* evict page 30's neighbours so it is surely not cached */
        for (unsigned i = 8; i < 16; i++)
            util_fix_verify(p, i, BP_SHARED, PSZ, 1);
        assert_int_equal(bp__test_fault_arm(BP__SYS_DATA_READ, 1, EIO, 1),
                         0);
        assert_int_equal(bp_fix(p, 30, BP_EXCLUSIVE | BP_OVERWRITE, &pg),
                         0);
        assert_int_equal(bp__test_fault_hits(), 0);
        util_stamp(pg.data, PSZ, 30, want[30] = 4);
        assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
        bp__test_fault_disarm();
    }

    /* misuse */
    assert_int_equal(bp_fix(p, 1, BP_SHARED | BP_OVERWRITE, &pg), -EINVAL);
    assert_null(pg.data);

    util_check(p);
    assert_int_equal(bp_flush(p), 0);
    for (unsigned i = 0; i < NPAGES; i++)
        if (i != 25)
            util_fix_verify(p, i, BP_SHARED, PSZ, want[i]);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, want);
    unlink(path);
}

int main(void)
{
    static const bp_backend bs[] = {BP_BACKEND_RFP, BP_BACKEND_MMAP,
                                    BP_BACKEND_COPY, BP_BACKEND_LINEAR,
                                    BP_BACKEND_KMOD};

    util_init();
    return util_run_backends("overwrite", run, bs, sizeof bs / sizeof bs[0]);
}
