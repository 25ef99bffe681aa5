/*
 * test_bigshm.c - a cache beyond 4 GiB through a small window.
 *
 * The point is the -m32 build: shm offsets above 4 GiB must survive every
 * path (frame offsets, mmap/remap_file_pages offsets, pread/pwrite on the
 * shm file) without truncation to 32 bits.  For backends rfp, mmap and copy:
 * a cache of 4 GiB + 256 MiB in 64 KiB pages, reached through a 2 MiB
 * window (32 slots).  The library hands out free frames from the end of the
 * cache first, so the first page fixed lands above 4 GiB.  ~100 pages are
 * stamped through the window, read back after they have left the window,
 * flushed, and the data file is verified with pread.
 *
 * Where mmap cuts file offsets to 32 bits (qemu-user's i386 emulation:
 * util_mmap_high_unfaithful), frames above 4 GiB cannot be mapped: bp_open
 * must then refuse the cache with -EOVERFLOW instead of mapping the wrong
 * frames, and the data checks are skipped with that reason.
 *
 * Skipped (77) when /dev/shm, the memory cgroup or MemAvailable leave less
 * than 6 GiB.
 */
#include "util_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PSZ (64u * 1024)
#define CACHE_BYTES (4 * UTIL_GiB + 256 * UTIL_MiB)
#define NSLOTS 32u /* 2 MiB window */
#define NPAGES 128u
#define NWRITE 100u
#define NEED (6 * UTIL_GiB)

static bp_backend be_rfp = BP_BACKEND_RFP;
static bp_backend be_mmap = BP_BACKEND_MMAP;
static bp_backend be_copy = BP_BACKEND_COPY;
static const char *mmap_high_why; /* util_mmap_high_unfaithful() */

static void check_machine(void)
{
    char why[200];
    uint64_t shm = util_shm_free();
    uint64_t lim = util_mem_limit();
    uint64_t avail = util_mem_available();
    if (shm < NEED) {
        snprintf(why, sizeof why,
                 "/dev/shm has %" PRIu64 " MiB free, need %" PRIu64 " MiB",
                 shm / UTIL_MiB, NEED / UTIL_MiB);
        util_skip(why);
    }
    if (lim < NEED) {
        snprintf(why, sizeof why,
                 "memory cgroup limit %" PRIu64 " MiB, need %" PRIu64 " MiB",
                 lim / UTIL_MiB, NEED / UTIL_MiB);
        util_skip(why);
    }
    if (avail < NEED) {
        snprintf(why, sizeof why,
                 "MemAvailable %" PRIu64 " MiB, need %" PRIu64 " MiB",
                 avail / UTIL_MiB, NEED / UTIL_MiB);
        util_skip(why);
    }
}

/* The frame of pgno lies inside the shm file (which may hold metadata in
 * front of the frames) and is page-aligned. */
static void check_offset(bp_pool *p, uint64_t pgno, uint64_t shm_size)
{
    uint64_t off = bp__test_frame_offset(p, pgno);
    if (off == UINT64_MAX || off % PSZ != 0 || off + PSZ > shm_size) {
        print_error("page %" PRIu64 ": frame offset %" PRIu64
                    " is not a frame of a %" PRIu64 "-byte shm file\n",
                    pgno, off, shm_size);
        fail();
    }
}

static void test_bigshm(void **state)
{
    bp_backend b = *(bp_backend *)*state;
    if (b == BP_BACKEND_RFP && !util_have_rfp())
        skip();
    char path[600], name[64], shm[600];
    snprintf(name, sizeof name, "bigshm-%s.db", util_backend_name(b));
    util_tmp_path(path, sizeof path, name);
    util_datafile_create(path, PSZ, NPAGES, 0);
    util_shm_name(name, sizeof name);
    util_shm_path(shm, sizeof shm, name);

    bp_pool *p;
    assert_int_equal(bp_create(&p, NULL), 0);
    struct util_cfg cfg = {.backend = b,
                           .page_size = PSZ,
                           .slots = NSLOTS,
                           .shm_name = name};
    assert_int_equal(util_pool_config(p, &cfg), 0);
    assert_int_equal(bp_set_cache_size(p, CACHE_BYTES), 0);
    int rc = bp_open(p, path, 0);
    if (mmap_high_why) {
        print_message("  %s: bp_open %s (%s)\n", util_backend_name(b),
                      bp_strerror(rc), bp_errmsg(p));
        assert_int_equal(rc, -EOVERFLOW);
        assert_non_null(strstr(bp_errmsg(p), "32 bits"));
        assert_int_equal(bp_close(p), 0);
        assert_int_equal(access(shm, F_OK), -1);
        print_message("  data checks skipped: %s\n", mmap_high_why);
        skip();
    }
    if (rc != 0)
        util_print_rc(p, "bp_open", rc);
    assert_int_equal(rc, 0);
    uint64_t shm_size = util_file_size(shm);
    assert_true(shm_size >= CACHE_BYTES);

    bp_stats st;
    util_stats(p, &st);
    assert_int_equal(st.backend, util_backend_for(b));
    assert_true(st.frames == CACHE_BYTES / PSZ);
    assert_true(st.slots == NSLOTS);

    uint64_t above = 0;
    for (uint64_t i = 0; i < NWRITE; i++) {
        bp_page pg;
        memset(&pg, 0, sizeof pg);
        rc = bp_fix(p, i, BP_EXCLUSIVE, &pg);
        if (rc != 0)
            util_print_rc(p, "bp_fix", rc);
        assert_int_equal(rc, 0);
        check_offset(p, i, shm_size);
        uint64_t off = bp__test_frame_offset(p, i);
        if (i == 0 && off <= 4 * UTIL_GiB) {
            print_error("first frame handed out is at %" PRIu64
                        ", expected above 4 GiB (frames from the end)\n",
                        off);
            fail();
        }
        above += off > 4 * UTIL_GiB;
        util_assert_stamp(pg.data, PSZ, i, 0);
        util_stamp(pg.data, PSZ, i, 1);
        assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    }
    print_message("  %s: %" PRIu64 " of %u frames above 4 GiB\n",
                  util_backend_name(b), above, NWRITE);
    util_check(p);

    /* read back: the first NWRITE - NSLOTS left the window, so these are
     * remapped (or copied) from frames above 4 GiB */
    for (uint64_t i = 0; i < NWRITE; i++) {
        util_fix_verify(p, i, BP_SHARED, PSZ, 1);
        check_offset(p, i, shm_size);
    }
    util_stats(p, &st);
    assert_true(st.window_misses >= 2 * NWRITE - NSLOTS);
    assert_true(st.frame_evictions == 0);

    rc = bp_flush(p);
    if (rc != 0)
        util_print_rc(p, "bp_flush", rc);
    assert_int_equal(rc, 0);
    uint32_t want[NPAGES];
    for (uint64_t i = 0; i < NPAGES; i++)
        want[i] = i < NWRITE ? 1 : 0;
    util_datafile_verify(path, PSZ, NPAGES, want);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    assert_int_equal(access(shm, F_OK), -1);
}

int main(void)
{
    util_init();
    check_machine();
    mmap_high_why = util_mmap_high_unfaithful();
    const struct CMUnitTest tests[] = {
        {"bigshm/rfp", test_bigshm, NULL, NULL, &be_rfp},
        {"bigshm/mmap", test_bigshm, NULL, NULL, &be_mmap},
        {"bigshm/copy", test_bigshm, NULL, NULL, &be_copy},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
