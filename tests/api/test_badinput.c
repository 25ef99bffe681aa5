/*
 * test_badinput.c - misuse and hostile environments give a clear error code
 * and leave the pool usable (or cleanly closed, ready to be reconfigured).
 *
 * Covered: invalid page sizes and a page size below the data file's direct
 * I/O alignment (BP_EPAGESIZE); a window larger than the cache, or beyond
 * 1 GiB on 32-bit (BP_EWINDOW); a cache larger than /dev/shm
 * (BP_ESHMSPACE); bad bp_open arguments (-EINVAL); a missing (-ENOENT,
 * then BP_CREATE), read-only (BP_EREADONLY) or odd-sized (BP_EFILESIZE)
 * data file; a second pool on a data file already open, in this process
 * or another (-EBUSY), read-only pools sharing one (BP_RDONLY: writes
 * refused with BP_EREADONLY); a page number beyond the file (BP_EPGNO); stray, double and
 * stale unfixes (BP_ENOTFIXED); BP_DIRTY on a shared fix and bad modes
 * (-EINVAL); close with pages fixed (-EBUSY); every slot pinned
 * (BP_ENOSLOT/BP_ENOFRAME); a window needing more mappings than
 * vm.max_map_count (BP_EVMABUDGET, message names max_map_count, the named
 * shm file is gone); an existing shm name, a planted symlink and a dangling
 * one (-EEXIST, nothing touched); named shm files created 0600 and removed
 * (or kept) at close; setters after open (BP_ESTATE); calls on a pool never
 * opened; bp_strerror() for every code; bp_close(NULL).
 *
 * Where a failed bp_open is followed by a successful one, it is on the same
 * handle: a failed open must leave the handle reusable, and the sanitizer
 * build checks that closing it releases everything.
 */
#include "util_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PSZ (16u * 1024) /* data files are a multiple of 4, 8 and 16 KiB */
#define NPAGES 4u

static bp_backend be_auto = BP_BACKEND_AUTO;
static bp_backend be_rfp = BP_BACKEND_RFP;
static bp_backend be_mmap = BP_BACKEND_MMAP;
static bp_backend be_copy = BP_BACKEND_COPY;
static bp_backend be_linear = BP_BACKEND_LINEAR;

static bp_pool *fresh(void)
{
    bp_pool *p = NULL;
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_non_null(p);
    return p;
}

/* A data file of NPAGES stamped pages of PSZ bytes in the temp dir. */
static void data_file(char *path, size_t len, const char *name)
{
    util_tmp_path(path, len, name);
    util_datafile_create(path, PSZ, NPAGES, 0);
}

/* Small cache and window that fit any page size up to 64 KiB. */
static void small_pool(bp_pool *p, size_t psz)
{
    assert_int_equal(bp_set_page_size(p, psz), 0);
    assert_int_equal(bp_set_cache_frames(p, 16), 0);
    assert_int_equal(bp_set_window_slots(p, 4), 0);
}

static void must_open(bp_pool *p, const char *path, unsigned flags)
{
    int rc = bp_open(p, path, flags);
    if (rc != 0)
        util_print_rc(p, "bp_open", rc);
    assert_int_equal(rc, 0);
}

/* The pool works: a page reads back and the invariants hold. */
static void usable(bp_pool *p, size_t psz)
{
    uint64_t n = bp_page_count(p);
    assert_true(n > 0);
    bp_page pg;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(bp_fix(p, n - 1, BP_EXCLUSIVE, &pg), 0);
    assert_true(pg.pgno == n - 1);
    util_stamp(pg.data, psz, pg.pgno, 7);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    util_fix_verify(p, n - 1, BP_SHARED, psz, 7);
    util_check(p);
}

/* ---- configuration ------------------------------------------------------- */

static void test_page_size(void **state)
{
    (void)state;
    static const size_t bad[] = {0, 1, 2048, 3000, 12288, 65536 + 4096,
                                 128 * 1024};
    char path[600];
    data_file(path, sizeof path, "pgsize.db");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bp_pool *p = fresh();
        int rc = bp_set_page_size(p, bad[i]);
        if (rc == 0) {
            assert_int_equal(bp_set_cache_frames(p, 16), 0);
            assert_int_equal(bp_set_window_slots(p, 4), 0);
            rc = bp_open(p, path, 0);
        }
        if (rc != BP_EPAGESIZE)
            print_error("page size %zu: got %d (%s)\n", bad[i], rc,
                        bp_strerror(rc));
        assert_int_equal(rc, BP_EPAGESIZE);
        /* same handle, valid size */
        small_pool(p, 4096);
        must_open(p, path, 0);
        assert_true(bp_page_count(p) == NPAGES * (PSZ / 4096));
        usable(p, 4096);
        assert_int_equal(bp_close(p), 0);
    }
}

static void test_dio_align(void **state)
{
    (void)state;
    char path[600];
    data_file(path, sizeof path, "dioalign.db");
    bp_pool *p = fresh();
    small_pool(p, 4096);
    assert_int_equal(bp__test_set_dio_align(p, 8192), 0);
    assert_int_equal(bp_open(p, path, 0), BP_EPAGESIZE);
    assert_true(strlen(bp_errmsg(p)) > 0);
    /* a page size that is a multiple of the alignment is fine */
    assert_int_equal(bp_set_page_size(p, 8192), 0);
    must_open(p, path, 0);
    bp_stats st;
    util_stats(p, &st);
    assert_int_equal(st.dio_align, 8192);
    usable(p, 8192);
    assert_int_equal(bp_close(p), 0);
}

/* Window larger than the cache, for one backend (auto included: a window
 * that covers more than the cache is invalid whatever the backend picked). */
static void test_window_larger_than_cache(void **state)
{
    bp_backend b = *(bp_backend *)*state;
    if (b == BP_BACKEND_RFP && !util_have_rfp())
        skip();
    char path[600];
    data_file(path, sizeof path, "window.db");
    bp_pool *p = fresh();
    assert_int_equal(bp_set_backend(p, b), 0);
    assert_int_equal(bp_set_page_size(p, 4096), 0);
    assert_int_equal(bp_set_cache_frames(p, 8), 0);
    int rc = bp_set_window_slots(p, 16);
    if (rc == 0)
        rc = bp_open(p, path, 0);
    if (rc != BP_EWINDOW) {
        util_print_rc(p, "8 frames, 16 slots", rc);
        bp_stats st;
        if (rc == 0 && bp_stats_get(p, &st, sizeof st) == 0)
            print_error("opened with backend %s, %" PRIu64 " slots (%s)\n",
                        util_backend_name(st.backend), st.slots,
                        st.backend_reason);
        bp_close(p);
        fail();
    }

    /* in bytes this time */
    assert_int_equal(bp_set_cache_size(p, 64 * 4096), 0);
    rc = bp_set_window_size(p, 128 * 4096);
    if (rc == 0)
        rc = bp_open(p, path, 0);
    if (rc != BP_EWINDOW) {
        util_print_rc(p, "256 KiB cache, 512 KiB window", rc);
        bp_close(p);
        fail();
    }

    assert_int_equal(bp_set_window_size(p, 16 * 4096), 0);
    must_open(p, path, 0);
    bp_stats st;
    util_stats(p, &st);
    assert_true(st.frames == 64);
    if (st.backend != BP_BACKEND_LINEAR)
        assert_true(st.slots == 16);
    usable(p, 4096);
    assert_int_equal(bp_close(p), 0);
}

/* 32-bit: a window of more than 1 GiB is refused (it could not be mapped
 * next to the program); the automatic window stays within 256 MiB. */
static void test_window_32bit(void **state)
{
    (void)state;
    if (sizeof(void *) != 4)
        skip();
    if (util_shm_free() < 2 * UTIL_GiB) {
        print_message("  /dev/shm has less than 2 GiB free\n");
        skip();
    }
    char path[600];
    data_file(path, sizeof path, "window32.db");
    bp_pool *p = fresh();
    assert_int_equal(bp_set_backend(p, BP_BACKEND_COPY), 0);
    assert_int_equal(bp_set_page_size(p, 65536), 0);
    assert_int_equal(bp_set_cache_size(p, UTIL_GiB + UTIL_MiB), 0);
    assert_int_equal(bp_set_window_size(p, UTIL_GiB + 65536), 0);
    int rc = bp_open(p, path, 0);
    if (rc != BP_EWINDOW)
        util_print_rc(p, "1 GiB + 64 KiB window on 32-bit", rc);
    assert_int_equal(rc, BP_EWINDOW);
    print_message("  %s\n", bp_errmsg(p));
    assert_int_equal(bp_set_window_size(p, 0), 0); /* automatic */
    must_open(p, path, 0);
    bp_stats st;
    util_stats(p, &st);
    assert_true(st.slots > 0 && st.slots * 65536 <= 256 * UTIL_MiB);
    usable(p, 65536);
    assert_int_equal(bp_close(p), 0);
}

/* A pool of 256 frames of 4 KiB with an address budget (0: none). */
static bp_pool *budget_pool(uint64_t budget)
{
    bp_pool *p = fresh();

    assert_int_equal(bp_set_page_size(p, 4096), 0);
    assert_int_equal(bp_set_cache_frames(p, 256), 0);
    assert_int_equal(bp_set_address_budget(p, budget), 0);
    return p;
}

/* The address budget: on 64-bit AUTO maps the whole cache when no window
 * is set and the cache fits the budget; below it the automatic window is
 * held to the budget, and an explicit window over it is refused. */
static void test_address_budget(void **state)
{
    char path[600];
    bp_stats st;
    bp_pool *p;
    int rc;

    (void)state;
    data_file(path, sizeof path, "budget.db");
    p = budget_pool(0);
    must_open(p, path, 0);
    util_stats(p, &st);
    print_message("  no budget: %s\n", st.backend_reason);
    if (sizeof(void *) >= 8) {
        assert_int_equal(st.backend, BP_BACKEND_LINEAR);
        assert_non_null(strstr(st.backend_reason, "address budget"));
    } else {
        assert_int_not_equal(st.backend, BP_BACKEND_LINEAR);
    }
    usable(p, 4096);
    assert_int_equal(bp_close(p), 0);

    p = budget_pool(32 * 4096);
    must_open(p, path, 0);
    util_stats(p, &st);
    print_message("  budget of 32 pages: %s, %" PRIu64 " slots\n",
                  st.backend_reason, st.slots);
    assert_int_not_equal(st.backend, BP_BACKEND_LINEAR);
    assert_true(st.slots >= 1 && st.slots <= 32);
    if (sizeof(void *) >= 8)
        assert_non_null(strstr(st.backend_reason, "over the address budget"));
    usable(p, 4096);
    assert_int_equal(bp_close(p), 0);

    p = budget_pool(32 * 4096);
    assert_int_equal(bp_set_window_slots(p, 64), 0);
    rc = bp_open(p, path, 0);
    if (rc != BP_EWINDOW)
        util_print_rc(p, "64-slot window in a 32-page budget", rc);
    assert_int_equal(rc, BP_EWINDOW);
    print_message("  %s\n", bp_errmsg(p));
    assert_non_null(strstr(bp_errmsg(p), "address budget"));
    assert_int_equal(bp_close(p), 0);
}

static void test_shm_space(void **state)
{
    (void)state;
    /* Larger than the whole tmpfs, not just its free space: tests running
     * in parallel may free shm between our look and the library's. */
    uint64_t free_b = util_shm_free();
    uint64_t total = util_shm_total();
    if (free_b == 0 || total == 0) {
        print_message("  /dev/shm size unknown or unlimited\n");
        skip();
    }
    uint64_t psz = 64 * 1024;
    uint64_t want = (total + UTIL_GiB + psz - 1) / psz * psz;
    char path[600], name[64];
    data_file(path, sizeof path, "shmspace.db");
    util_shm_name(name, sizeof name);
    bp_pool *p = fresh();
    assert_int_equal(bp_set_page_size(p, psz), 0);
    assert_int_equal(bp_set_cache_size(p, want), 0);
    assert_int_equal(bp_set_window_slots(p, 16), 0);
    assert_int_equal(bp_set_shm(p, name, 0), 0);
    int rc = bp_open(p, path, 0);
    print_message("  cache %" PRIu64 " MiB > /dev/shm size %" PRIu64
                  " MiB (%" PRIu64 " MiB free): %s: %s\n",
                  want / UTIL_MiB, total / UTIL_MiB, free_b / UTIL_MiB,
                  bp_strerror(rc), bp_errmsg(p));
    assert_int_equal(rc, BP_ESHMSPACE);
    char shm[600];
    util_shm_path(shm, sizeof shm, name);
    assert_int_equal(access(shm, F_OK), -1); /* nothing left behind */

    /* same handle, small cache, same name */
    assert_int_equal(bp_set_cache_size(p, 64 * psz), 0);
    must_open(p, path, 0);
    usable(p, psz);
    assert_int_equal(bp_close(p), 0);
}

/* ---- the data file ------------------------------------------------------- */

static void test_missing_file(void **state)
{
    (void)state;
    char path[600];
    util_tmp_path(path, sizeof path, "missing.db");
    bp_pool *p = fresh();
    small_pool(p, 4096);
    assert_int_equal(bp_open(p, path, 0), -ENOENT);
    assert_int_equal(access(path, F_OK), -1);
    must_open(p, path, BP_CREATE);
    assert_true(bp_page_count(p) == 0);
    bp_page pg;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(bp_fix(p, 0, BP_SHARED, &pg), BP_EPGNO);
    assert_int_equal(bp_alloc_page(p, &pg), 0);
    assert_true(pg.pgno == 0);
    util_assert_stamp(pg.data, 4096, 0, UTIL_GEN_ZERO);
    util_stamp(pg.data, 4096, 0, 1);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    uint32_t want = 1;
    util_datafile_verify(path, 4096, 1, &want);

    /* BP_CREATE on an existing file opens it as it is */
    p = fresh();
    small_pool(p, 4096);
    must_open(p, path, BP_CREATE);
    assert_true(bp_page_count(p) == 1);
    util_fix_verify(p, 0, BP_SHARED, 4096, 1);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, 4096, 1, &want);
}

static void test_readonly_file(void **state)
{
    (void)state;
    char path[600];
    data_file(path, sizeof path, "readonly.db");
    assert_int_equal(chmod(path, 0444), 0);
    bp_pool *p = fresh();
    small_pool(p, PSZ);
    assert_int_equal(bp_open(p, path, 0), BP_EREADONLY);
    assert_int_equal(chmod(path, 0644), 0);
    must_open(p, path, 0);
    usable(p, PSZ);
    assert_int_equal(bp_close(p), 0);
}

static void test_odd_file_size(void **state)
{
    (void)state;
    char path[600];
    data_file(path, sizeof path, "oddsize.db");
    assert_int_equal(truncate(path, (off_t)(3 * PSZ + 100)), 0);
    bp_pool *p = fresh();
    small_pool(p, PSZ);
    assert_int_equal(bp_open(p, path, 0), BP_EFILESIZE);
    assert_true(util_file_size(path) == 3 * PSZ + 100); /* not "fixed" */
    assert_int_equal(truncate(path, (off_t)(3 * PSZ)), 0);
    must_open(p, path, 0);
    assert_true(bp_page_count(p) == 3);
    usable(p, PSZ);
    assert_int_equal(bp_close(p), 0);
}

/* One pool per data file: a second pool on the same file, in this process
 * or another, is refused with -EBUSY naming the holder, and the file opens
 * again once the first pool is closed (with the first pool's pages). */
static void test_second_pool(void **state)
{
    (void)state;
    char path[600], want[64];
    data_file(path, sizeof path, "twopools.db");
    bp_pool *p = fresh(), *q = fresh();
    small_pool(p, PSZ);
    small_pool(q, PSZ);
    must_open(p, path, 0);
    util_fix_write(p, 0, PSZ, 0, 5);
    assert_int_equal(bp_open(q, path, 0), -EBUSY);
    print_message("  same process: %s\n", bp_errmsg(q));
    assert_non_null(strstr(bp_errmsg(q), "this process"));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* a fresh pool in another process */
        bp_pool *c = NULL;
        int rc = bp_create(&c, NULL);
        if (rc == 0)
            rc = bp_open(c, path, 0);
        snprintf(want, sizeof want, "process %ld", (long)getppid());
        int ok = rc == -EBUSY && strstr(bp_errmsg(c), want) != NULL;
        if (!ok)
            fprintf(stderr, "child: bp_open %d: %s\n", rc, bp_errmsg(c));
        bp_close(c);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    must_open(q, path, 0);
    util_fix_verify(q, 0, BP_SHARED, PSZ, 5);
    assert_int_equal(bp_close(q), 0);
}

/* BP_RDONLY: read-only pools share a data file (also one without write
 * permission), none opens beside a writable pool nor a writable one beside
 * them, and what would write is refused with BP_EREADONLY. */
static void test_rdonly(void **state)
{
    (void)state;
    char path[600];
    data_file(path, sizeof path, "rdonly.db");
    bp_pool *w = fresh(), *r1 = fresh(), *r2 = fresh();
    small_pool(w, PSZ);
    small_pool(r1, PSZ);
    small_pool(r2, PSZ);
    assert_int_equal(bp_open(r1, path, BP_RDONLY | BP_CREATE), -EINVAL);
    must_open(w, path, 0);
    util_fix_write(w, 1, PSZ, 0, 3);
    assert_int_equal(bp_open(r1, path, BP_RDONLY), -EBUSY);
    print_message("  read-only beside writable: %s\n", bp_errmsg(r1));
    assert_int_equal(bp_flush(w), 0);
    assert_int_equal(bp_close(w), 0);

    assert_int_equal(chmod(path, 0444), 0);
    must_open(r1, path, BP_RDONLY);
    must_open(r2, path, BP_RDONLY);
    util_fix_verify(r1, 1, BP_SHARED, PSZ, 3);
    util_fix_verify(r2, 1, BP_SHARED, PSZ, 3);
    assert_int_equal(chmod(path, 0644), 0);
    w = fresh();
    small_pool(w, PSZ);
    assert_int_equal(bp_open(w, path, 0), -EBUSY);
    print_message("  writable beside read-only: %s\n", bp_errmsg(w));

    bp_page pg;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(bp_fix(r1, 2, BP_EXCLUSIVE, &pg), 0);
    assert_int_equal(bp_unfix(r1, &pg, BP_DIRTY), BP_EREADONLY);
    assert_int_equal(bp_unfix(r1, &pg, 0), 0); /* still fixed: unfix clean */
    assert_int_equal(bp_alloc_page(r1, &pg), BP_EREADONLY);
    assert_int_equal(bp_flush(r1), 0);
    assert_true(bp_page_count(r1) == NPAGES);
    util_check(r1);
    assert_int_equal(bp_close(r1), 0);
    assert_int_equal(bp_close(r2), 0);
    must_open(w, path, 0);
    assert_int_equal(bp_close(w), 0);
    uint32_t want[NPAGES] = {0, 3, 0, 0};
    util_datafile_verify(path, PSZ, NPAGES, want);
}

/* ---- pages --------------------------------------------------------------- */

static bp_pool *open_small(const char *name)
{
    char path[600];
    data_file(path, sizeof path, name);
    bp_pool *p = fresh();
    small_pool(p, PSZ);
    must_open(p, path, 0);
    return p;
}

static void test_pgno_beyond(void **state)
{
    (void)state;
    bp_pool *p = open_small("pgno.db");
    static const uint64_t bad[] = {NPAGES, NPAGES + 1, UINT64_C(1) << 32,
                                   UINT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bp_page pg;
        memset(&pg, 0, sizeof pg);
        assert_int_equal(bp_fix(p, bad[i], BP_SHARED, &pg), BP_EPGNO);
        assert_int_equal(bp_fix(p, bad[i], BP_EXCLUSIVE, &pg), BP_EPGNO);
    }
    for (uint64_t i = 0; i < NPAGES; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, 0);
    usable(p, PSZ);
    assert_int_equal(bp_close(p), 0);
}

static void test_bad_unfix(void **state)
{
    (void)state;
    bp_pool *p = open_small("unfix.db");
    bp_page pg;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(bp_unfix(p, &pg, 0), BP_ENOTFIXED); /* never fixed */

    assert_int_equal(bp_fix(p, 1, BP_SHARED, &pg), 0);
    bp_page stale = pg;
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    assert_int_equal(bp_unfix(p, &pg, 0), BP_ENOTFIXED); /* double */
    assert_int_equal(bp_unfix(p, &stale, 0), BP_ENOTFIXED); /* stale copy */

    /* garbage slot number */
    bp_page junk = {.data = &junk, .pgno = 1, .bp_slot = 0x7fffffffu,
                    .bp_gen = 12345};
    assert_int_equal(bp_unfix(p, &junk, 0), BP_ENOTFIXED);
    assert_true(bp_unfix(p, NULL, 0) < 0);
    usable(p, PSZ);
    assert_int_equal(bp_close(p), 0);
}

static void test_bad_modes(void **state)
{
    (void)state;
    bp_pool *p = open_small("modes.db");
    bp_page pg;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(bp_fix(p, 0, 7, &pg), -EINVAL);
    assert_int_equal(bp_fix(p, 0, BP_SHARED, NULL), -EINVAL);

    assert_int_equal(bp_fix(p, 0, BP_SHARED, &pg), 0);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), -EINVAL);
    /* the failed unfix either left the page fixed or released it */
    int rc = bp_unfix(p, &pg, 0);
    if (rc != 0 && rc != BP_ENOTFIXED)
        util_print_rc(p, "unfix after -EINVAL", rc);
    assert_true(rc == 0 || rc == BP_ENOTFIXED);
    usable(p, PSZ);
    assert_int_equal(bp_close(p), 0); /* no pin leaked */
}

/* A failed fix leaves no pointer into the window behind (bufpool.h), also
 * when it failed after the hit path found the page's slot. */
static void test_failed_fix_clears(void **state)
{
    (void)state;
    bp_pool *p = open_small("clears.db");
    bp_page held, pg;
    char junk;

    assert_int_equal(bp_fix(p, 1, BP_EXCLUSIVE, &held), 0);
    pg = (bp_page){.data = &junk, .pgno = 9, .bp_slot = 3, .bp_gen = 5};
    assert_int_equal(bp_fix(p, 1, BP_SHARED | BP_NOWAIT, &pg), BP_EAGAIN);
    assert_null(pg.data);
    assert_int_equal(bp_unfix(p, &pg, 0), BP_ENOTFIXED);
    pg = (bp_page){.data = &junk, .pgno = 9, .bp_slot = 3, .bp_gen = 5};
    assert_int_equal(bp_fix(p, 1, BP_EXCLUSIVE | BP_NOWAIT, &pg), BP_EAGAIN);
    assert_null(pg.data);
    pg = (bp_page){.data = &junk};
    assert_int_equal(bp_fix(p, NPAGES, BP_SHARED, &pg), BP_EPGNO);
    assert_null(pg.data);
    assert_int_equal(bp_unfix(p, &held, 0), 0);
    usable(p, PSZ);
    assert_int_equal(bp_close(p), 0);
}

static void test_close_busy(void **state)
{
    (void)state;
    bp_pool *p = open_small("busy.db");
    bp_page pg;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(bp_fix(p, 0, BP_EXCLUSIVE, &pg), 0);
    util_stamp(pg.data, PSZ, 0, 3);
    assert_int_equal(bp_close(p), -EBUSY);
    usable(p, PSZ); /* page NPAGES-1, still works */
    /* this thread holds an exclusive fix: a flush would wait for itself */
    assert_int_equal(bp_flush(p), -EDEADLK);
    util_assert_stamp(pg.data, PSZ, 0, 3); /* still fixed, untouched */
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    assert_int_equal(bp_flush(p), 0);
    util_fix_verify(p, 0, BP_SHARED, PSZ, 3);
    assert_int_equal(bp_close(p), 0);
}

/* Every slot (and, with W == C, every frame) pinned: the next fix fails
 * cleanly, and succeeds once a page is unfixed. */
static void test_all_pinned(void **state)
{
    bp_backend b = *(bp_backend *)*state;
    if (b == BP_BACKEND_RFP && !util_have_rfp())
        skip();
    if (b == BP_BACKEND_LINEAR && sizeof(void *) == 4)
        skip();
    char path[600];
    util_tmp_path(path, sizeof path, "pinned.db");
    util_datafile_create(path, 4096, 8, 0);
    bp_pool *p = fresh();
    assert_int_equal(bp_set_backend(p, b), 0);
    assert_int_equal(bp_set_page_size(p, 4096), 0);
    assert_int_equal(bp_set_cache_frames(p, 4), 0);
    assert_int_equal(bp_set_window_slots(p, 4), 0);
    must_open(p, path, 0);
    bp_page pg[5];
    memset(pg, 0, sizeof pg);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(bp_fix(p, i, i % 2 ? BP_SHARED : BP_EXCLUSIVE,
                                &pg[i]), 0);
    int rc = bp_fix(p, 4, BP_SHARED, &pg[4]);
    if (rc != BP_ENOSLOT && rc != BP_ENOFRAME)
        util_print_rc(p, "fix with every slot pinned", rc);
    assert_true(rc == BP_ENOSLOT || rc == BP_ENOFRAME);
    util_check(p);
    for (uint64_t i = 0; i < 4; i++)
        util_assert_stamp(pg[i].data, 4096, i, 0);
    assert_int_equal(bp_unfix(p, &pg[2], 0), 0);
    assert_int_equal(bp_fix(p, 4, BP_SHARED, &pg[4]), 0);
    assert_true(pg[4].pgno == 4);
    assert_int_equal(bp_close(p), -EBUSY);
    for (unsigned i = 0; i < 5; i++) {
        if (i != 2)
            assert_int_equal(bp_unfix(p, &pg[i], 0), 0);
    }
    usable(p, 4096);
    assert_int_equal(bp_close(p), 0);
}

/* ---- mappings ------------------------------------------------------------ */

static uint64_t read_max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    unsigned long long v = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu", &v) != 1)
        v = 0;
    fclose(f);
    return v;
}

static void test_vma_budget(void **state)
{
    bp_backend b = *(bp_backend *)*state;
    if (b == BP_BACKEND_RFP && !util_have_rfp())
        skip();
    uint64_t max = read_max_map_count();
    if (max == 0 || max > (UINT64_C(1) << 20)) {
        print_message("  vm.max_map_count %" PRIu64 ": not testable\n", max);
        skip();
    }
    /* the cache (window + 64 frames of 4 KiB) must fit in /dev/shm, or the
     * open fails on space before the window is looked at */
    uint64_t need = (max + 1 + 64) * 4096 + 64 * UTIL_MiB;
    if (util_shm_free() < need) {
        print_message("  /dev/shm has less than %" PRIu64 " MiB free\n",
                      need / UTIL_MiB);
        skip();
    }
    char path[600];
    data_file(path, sizeof path, "vma.db");
    bp_pool *p = fresh();
    assert_int_equal(bp_set_page_size(p, 4096), 0);
    assert_int_equal(bp_set_backend(p, b), 0);
    assert_int_equal(bp_set_cache_frames(p, max + 1 + 64), 0);
    assert_int_equal(bp_set_window_slots(p, max + 1), 0);
    char name[64], shm[600];
    util_shm_name(name, sizeof name);
    util_shm_path(shm, sizeof shm, name);
    assert_int_equal(bp_set_shm(p, name, 0), 0);
    int rc = bp_open(p, path, 0);
    print_message("  %s, %" PRIu64 " slots: %s: %s\n", util_backend_name(b),
                  max + 1, bp_strerror(rc), bp_errmsg(p));
    assert_int_equal(rc, BP_EVMABUDGET);
    assert_non_null(strstr(bp_errmsg(p), "max_map_count"));
    assert_int_equal(access(shm, F_OK), -1); /* failed open removed it */

    assert_int_equal(bp_set_cache_frames(p, 256), 0);
    assert_int_equal(bp_set_window_slots(p, 64), 0);
    must_open(p, path, 0);
    bp_stats st;
    util_stats(p, &st);
    assert_int_equal(st.backend, b);
    assert_true(st.vma_limit == max);
    assert_true(st.vma_budget >= 64 && st.vma_budget < max);
    usable(p, 4096);
    assert_int_equal(bp_close(p), 0);
}

/* ---- shm names ----------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

static void assert_file_is(const char *path, const char *text)
{
    char buf[256];
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    assert_int_equal(n, (ssize_t)strlen(text));
    assert_memory_equal(buf, text, strlen(text));
}

static void test_shm_existing(void **state)
{
    (void)state;
    char path[600], name[64], shm[600];
    data_file(path, sizeof path, "shmexists.db");
    util_shm_name(name, sizeof name);
    util_shm_path(shm, sizeof shm, name);
    write_file(shm, "somebody else's cache");

    bp_pool *p = fresh();
    small_pool(p, PSZ);
    assert_int_equal(bp_set_shm(p, name, 0), 0);
    assert_int_equal(bp_open(p, path, 0), -EEXIST);
    assert_file_is(shm, "somebody else's cache");

    /* a fresh name works: 0600, ours, gone at close */
    util_shm_name(name, sizeof name);
    util_shm_path(shm, sizeof shm, name);
    assert_int_equal(bp_set_shm(p, name, 0), 0);
    must_open(p, path, 0);
    struct stat st;
    assert_int_equal(lstat(shm, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(st.st_uid == geteuid());
    usable(p, PSZ);
    assert_int_equal(bp_close(p), 0);
    assert_int_equal(access(shm, F_OK), -1);

    /* keep = 1 leaves it */
    util_shm_name(name, sizeof name);
    util_shm_path(shm, sizeof shm, name);
    p = fresh();
    small_pool(p, PSZ);
    assert_int_equal(bp_set_shm(p, name, 1), 0);
    must_open(p, path, 0);
    assert_int_equal(bp_close(p), 0);
    assert_int_equal(access(shm, F_OK), 0);
    assert_int_equal(unlink(shm), 0);
}

static void test_shm_symlink(void **state)
{
    (void)state;
    char path[600], name[64], shm[600], target[600], dangling[600];
    data_file(path, sizeof path, "shmlink.db");
    util_tmp_path(target, sizeof target, "symlink-target");
    write_file(target, "do not touch");
    util_shm_name(name, sizeof name);
    util_shm_path(shm, sizeof shm, name);
    assert_int_equal(symlink(target, shm), 0);

    bp_pool *p = fresh();
    small_pool(p, PSZ);
    assert_int_equal(bp_set_shm(p, name, 0), 0);
    assert_int_equal(bp_open(p, path, 0), -EEXIST);
    assert_file_is(target, "do not touch");
    struct stat st;
    assert_int_equal(lstat(shm, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    /* dangling: the target must not be created */
    util_tmp_path(dangling, sizeof dangling, "dangling-target");
    util_shm_name(name, sizeof name);
    util_shm_path(shm, sizeof shm, name);
    assert_int_equal(symlink(dangling, shm), 0);
    assert_int_equal(bp_set_shm(p, name, 0), 0);
    assert_int_equal(bp_open(p, path, 0), -EEXIST);
    assert_int_equal(access(dangling, F_OK), -1);

    assert_int_equal(bp_set_shm(p, NULL, 0), 0); /* back to memfd */
    must_open(p, path, 0);
    usable(p, PSZ);
    assert_int_equal(bp_close(p), 0);
}

/* ---- states -------------------------------------------------------------- */

static void test_setters_after_open(void **state)
{
    (void)state;
    char path[600];
    bp_pool *p = open_small("state.db");
    util_tmp_path(path, sizeof path, "state.db");
    assert_int_equal(bp_set_page_size(p, 4096), BP_ESTATE);
    assert_int_equal(bp_set_cache_size(p, UTIL_MiB), BP_ESTATE);
    assert_int_equal(bp_set_cache_frames(p, 32), BP_ESTATE);
    assert_int_equal(bp_set_window_size(p, 65536), BP_ESTATE);
    assert_int_equal(bp_set_window_slots(p, 2), BP_ESTATE);
    assert_int_equal(bp_set_backend(p, BP_BACKEND_COPY), BP_ESTATE);
    assert_int_equal(bp_set_prefault(p, BP_PREFAULT_LAZY), BP_ESTATE);
    assert_int_equal(bp_set_mlock(p, 1), BP_ESTATE);
    assert_int_equal(bp_set_shm(p, "bptest-never", 0), BP_ESTATE);
    assert_int_equal(bp__test_set_dio_align(p, 4096), BP_ESTATE);
    assert_int_equal(bp_open(p, path, 0), BP_ESTATE);
    usable(p, PSZ);
    assert_int_equal(bp_close(p), 0);
}

static void test_not_open(void **state)
{
    (void)state;
    bp_pool *p = fresh();
    bp_page pg;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(bp_fix(p, 0, BP_SHARED, &pg), BP_ESTATE);
    assert_int_equal(bp_alloc_page(p, &pg), BP_ESTATE);
    assert_int_equal(bp_flush(p), BP_ESTATE);
    bp_opt o;
    memset(&o, 0, sizeof o);
    assert_int_equal(bp_opt_validate(p, &o), BP_ESTATE);
    assert_true(bp_page_count(p) == 0);
    assert_non_null(bp_errmsg(p));
    assert_int_equal(bp_open(p, NULL, 0), -EINVAL);
    char path[600];
    data_file(path, sizeof path, "notopen.db");
    small_pool(p, PSZ);
    assert_int_equal(bp_open(p, path, 0x80), -EINVAL); /* unknown flag */
    assert_int_equal(bp_set_cache_frames(p, 2), 0); /* < the 4 slots */
    assert_int_equal(bp_open(p, path, 0), BP_EWINDOW);
    assert_int_equal(bp_opt_validate(p, &o), BP_ESTATE);
    assert_int_equal(bp_set_cache_frames(p, 16), 0);
    must_open(p, path, 0);
    assert_true(bp_page_count(p) == NPAGES);
    assert_int_equal(bp_close(p), 0);

    p = fresh();
    assert_true(bp_set_backend(p, (bp_backend)99) < 0);
    assert_true(bp_set_prefault(p, (bp_prefault)99) < 0);
    assert_int_equal(bp_close(p), 0);
    assert_int_equal(bp_close(NULL), 0);
}

static void test_strerror(void **state)
{
    (void)state;
    static const int codes[] = {
#define X(name, val, msg) name,
        BP_ERRNO_MAP(X)
#undef X
            -EIO,
    };
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = bp_strerror(codes[i]);
        assert_non_null(s);
        assert_true(s[0] != '\0');
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s, bp_strerror(codes[j])) == 0) {
                print_error("codes %d and %d share \"%s\"\n", codes[i],
                            codes[j], s);
                fail();
            }
        }
    }
    assert_non_null(bp_strerror(0));
    assert_non_null(bp_strerror(-30999));
    assert_non_null(bp_strerror(-123456));
    assert_non_null(bp_strerror(42));
}

int main(void)
{
    util_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_size),
        cmocka_unit_test(test_dio_align),
        {"test_window_larger_than_cache/copy", test_window_larger_than_cache,
         NULL, NULL, &be_copy},
        {"test_window_larger_than_cache/mmap", test_window_larger_than_cache,
         NULL, NULL, &be_mmap},
        {"test_window_larger_than_cache/rfp", test_window_larger_than_cache,
         NULL, NULL, &be_rfp},
        {"test_window_larger_than_cache/auto", test_window_larger_than_cache,
         NULL, NULL, &be_auto},
        cmocka_unit_test(test_window_32bit),
        cmocka_unit_test(test_address_budget),
        cmocka_unit_test(test_shm_space),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_readonly_file),
        cmocka_unit_test(test_odd_file_size),
        cmocka_unit_test(test_second_pool),
        cmocka_unit_test(test_rdonly),
        cmocka_unit_test(test_pgno_beyond),
        cmocka_unit_test(test_bad_unfix),
        cmocka_unit_test(test_bad_modes),
        cmocka_unit_test(test_failed_fix_clears),
        cmocka_unit_test(test_close_busy),
        {"test_all_pinned/copy", test_all_pinned, NULL, NULL, &be_copy},
        {"test_all_pinned/mmap", test_all_pinned, NULL, NULL, &be_mmap},
        {"test_all_pinned/rfp", test_all_pinned, NULL, NULL, &be_rfp},
        {"test_all_pinned/linear", test_all_pinned, NULL, NULL, &be_linear},
        {"test_vma_budget/rfp", test_vma_budget, NULL, NULL, &be_rfp},
        {"test_vma_budget/mmap", test_vma_budget, NULL, NULL, &be_mmap},
        cmocka_unit_test(test_shm_existing),
        cmocka_unit_test(test_shm_symlink),
        cmocka_unit_test(test_setters_after_open),
        cmocka_unit_test(test_not_open),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
