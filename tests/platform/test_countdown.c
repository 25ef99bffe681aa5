/*
 * test_countdown.c - every system call of the pool failing, one after
 * another, in the manner of SQLite's countdown tests, through the fault
 * table (bp_sys.h, bp__test_fault_arm).
 *
 * A write-heavy scenario (bp_open, then random exclusive fixes that bump a
 * page's generation, a flush every few operations) runs through a small
 * pool.  First once without faults, counting its calls of every kind in
 * the table (open, fstat, statx, memfd_create or the named shm file,
 * fallocate, seals, mmap, remaps, mlock, io_uring set-up, submit, wait and
 * completions, pread/pwrite/fdatasync, the copy backend's shm copies).
 * Then for each failure (EIO, ENOSPC, EINTR, EAGAIN, a short transfer),
 * once and from then on, and for N = 1, 2, ... up to that count, the Nth
 * call fails.  Every library call must return 0 or a negative code (never
 * crash, never hang: a watchdog aborts).  After each run the faults are
 * disarmed and:
 *   - a failed bp_open left nothing behind: as many open fds as before
 *     (/proc/self/fd), no shm file in /dev/shm;
 *   - otherwise the invariants hold, a last bp_flush runs; the pool closes
 *     (no page left fixed), no fd and no shm file remain;
 *   - the data file, read back with plain pread: every page holds a
 *     generation between the one the last successful flush acknowledged
 *     and the last one written, and exactly the last one written when the
 *     last flush succeeded (so no frame was marked clean without a
 *     successful write and sync);
 *   - ASan/LSan (sanitizer builds) make leaks and bad accesses failures.
 *
 * Matrix: {copy, mmap} x {io_uring, sync}; the io_uring runs use a memfd,
 * the sync runs a named shm file and mlock, so every kind but rfp's remap
 * is reached (test_durability and the backend tests cover rfp).  io_uring
 * runs are skipped when the kernel refuses io_uring.
 *
 * Size: 32 operations and 4 flushes make some 110-225 calls per scenario
 * (mmap/sync the fewest, copy/io_uring the most), x 10 failures x 4
 * combinations: about 6,700 runs of a few ms each, 15 s of CPU; the wall
 * time is the disk's (fdatasync, O_DIRECT): 20 s on a quiet machine, up
 * to 90 s while other tests load the disk.
 * Sanitizer builds (ASan, TSan) take every STRIDE-th N only, starting at
 * a different N for each failure, so every N (every kind, open included)
 * is still failed by some of the 10 failures; BP_COUNTDOWN_STRIDE
 * overrides.
 * Skipped when the table is compiled out (BP_FAULT_INJECTION=OFF).
 */
#include "util_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 24u
#define OPS 32
#define FLUSH_EVERY 8

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STRIDE 5
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define STRIDE 5
#endif
#endif
#ifndef STRIDE
#define STRIDE 1
#endif

struct combo {
    bp_backend backend;
    bp_io_engine engine;
    int named_shm; /* a /dev/shm file, else a memfd */
    int mlock;
};

struct model {
    uint32_t acked[NPAGES]; /* generation the last good flush vouched for */
    uint32_t cur[NPAGES];   /* generation of the last successful unfix */
};

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A data file of NPAGES zero pages, without util_datafile_create's fsync
 * (a hole reads as zeros): thousands of runs make one each. */
static void zero_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)NPAGES * PSZ), 0);
    assert_int_equal(close(fd), 0);
}

/* bp_create + options + bp_open: the open's code (the handle is closed on
 * failure, *out = NULL). */
static int open_pool(const struct combo *c, const char *path,
                     const char *shm, bp_pool **out)
{
    struct util_cfg cfg = {.backend = c->backend, .page_size = PSZ,
                           .frames = 6, .slots = 3, .engine = c->engine,
                           .shm_name = c->named_shm ? shm : NULL};
    bp_pool *p = NULL;
    int rc;

    *out = NULL;
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, &cfg), 0);
    if (c->mlock)
        assert_int_equal(bp_set_mlock(p, 1), 0);
    rc = bp_open(p, path, 0);
    if (rc) {
        assert_true(rc < 0); /* a code, never a crash */
        assert_int_equal(bp_close(p), 0);
        return rc;
    }
    *out = p;
    return 0;
}

/* The scenario: returns how many library calls failed. */
static unsigned scenario(bp_pool *p, struct model *m)
{
    uint64_t rng = 0x2545f4914f6cdd1dull;
    unsigned failed = 0;

    for (int op = 1; op <= OPS; op++) {
        uint32_t pg_no = (uint32_t)util_rand_below(&rng, NPAGES);
        bp_page pg;
        int rc = bp_fix(p, pg_no, BP_EXCLUSIVE, &pg);

        if (rc == 0) {
            uint32_t g = util_page_gen(pg.data, PSZ, pg_no);

            /* what a fix shows is what was last written through the pool */
            if (g != m->cur[pg_no] &&
                !(g == UTIL_GEN_ZERO && m->cur[pg_no] == 0))
                fail_msg("page %u shows generation %u, expected %u", pg_no,
                         g, m->cur[pg_no]);
            util_stamp(pg.data, PSZ, pg_no, m->cur[pg_no] + 1);
            assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
            m->cur[pg_no]++;
        } else {
            assert_true(rc < 0); /* a code, never a crash */
            failed++;
        }
        if (op % FLUSH_EVERY == 0) {
            if ((rc = bp_flush(p)) == 0)
                memcpy(m->acked, m->cur, sizeof m->acked);
            else {
                assert_true(rc < 0);
                failed++;
            }
        }
    }
    return failed;
}

/* The file on disk against the model; exact: the last flush succeeded. */
static void verify(const char *path, const struct model *m, int exact,
                   const char *what)
{
    uint32_t g[NPAGES];

    assert_int_equal(util_file_size(path), (uint64_t)NPAGES * PSZ);
    util_datafile_gens(path, PSZ, NPAGES, g);
    for (uint32_t i = 0; i < NPAGES; i++) {
        uint32_t gi = g[i] == UTIL_GEN_ZERO ? 0 : g[i];

        if (gi == UTIL_GEN_BAD || gi < m->acked[i] || gi > m->cur[i] ||
            (exact && gi != m->cur[i]))
            fail_msg("%s: page %u: generation %u on disk, acknowledged %u, "
                     "last written %u%s", what, i, gi, m->acked[i],
                     m->cur[i], exact ? " (the last flush succeeded)" : "");
    }
}

/* One run with the table armed as asked; returns 1 if bp_open failed. */
static int one_run(const struct combo *c, const char *path, unsigned kinds,
                   uint64_t nth, int err, int persistent, const char *what)
{
    char shm[64], shm_path[128];
    int fds, rc, opened;
    struct model m;
    bp_pool *p;

    zero_file(path);
    util_shm_name(shm, sizeof shm);
    util_shm_path(shm_path, sizeof shm_path, shm);
    memset(&m, 0, sizeof m);
    fds = fd_count();
    assert_int_equal(bp__test_fault_arm(kinds, nth, err, persistent), 0);
    rc = open_pool(c, path, shm, &p);
    opened = rc == 0;
    if (opened)
        scenario(p, &m);
    bp__test_fault_disarm();
    if (nth != UINT64_MAX && bp__test_fault_hits() == 0)
        fail_msg("%s: call %llu of %llu was never made", what,
                 (unsigned long long)nth,
                 (unsigned long long)bp__test_fault_calls());
    rc = 1;
    if (opened) {
        util_check(p);
        rc = bp_flush(p);
        assert_true(rc <= 0);
        assert_int_equal(bp_close(p), 0);
    }
    if (fd_count() != fds)
        fail_msg("%s: %d fds open after the run, %d before", what,
                 fd_count(), fds);
    if (access(shm_path, F_OK) == 0)
        fail_msg("%s: shm file %s left behind", what, shm_path);
    verify(path, &m, rc == 0, what);
    return !opened;
}

static void run(const struct combo *c)
{
    static const int errs[] = {EIO, ENOSPC, EINTR, EAGAIN, BP__SYS_SHORT};
    static const char *const err_names[] = {"EIO", "ENOSPC", "EINTR",
                                            "EAGAIN", "short"};
    const char *env = getenv("BP_COUNTDOWN_STRIDE");
    uint64_t stride = env && atoi(env) > 0 ? (uint64_t)atoi(env) : STRIDE;
    uint64_t calls, kind_calls[BP__SYS_NKINDS];
    unsigned runs = 0, open_failed = 0;
    char path[600], list[1024] = "", what[160], name[96], shm[64];
    size_t len = 0;
    struct timespec t0, t1;
    bp_pool *p;
    int rc;

    snprintf(name, sizeof name, "%s/%s%s%s", util_backend_name(c->backend),
             c->engine == BP_IO_URING ? "io_uring" : "sync",
             c->named_shm ? "/named shm" : "/memfd",
             c->mlock ? "/mlock" : "");
    util_tmp_path(path, sizeof path, "countdown.db");

    /* io_uring refused by this kernel (or seccomp): nothing to count */
    util_datafile_create(path, PSZ, NPAGES, UTIL_GEN_ZERO);
    util_shm_name(shm, sizeof shm);
    rc = open_pool(c, path, shm, &p);
    if (rc && c->engine == BP_IO_URING) {
        print_message("%s: io_uring unavailable: skipped\n", name);
        unlink(path);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(bp_close(p), 0);

    /* count the scenario's calls, open included */
    snprintf(what, sizeof what, "%s: counting run", name);
    assert_int_equal(one_run(c, path, BP__SYS_ALL, UINT64_MAX, EIO, 0, what),
                     0);
    calls = bp__test_fault_calls();
    for (unsigned k = 0; k < BP__SYS_NKINDS; k++)
        if ((kind_calls[k] = bp__test_fault_kind_calls(k)) && len < 900)
            len += (size_t)snprintf(list + len, sizeof list - len, " %s %llu",
                                    bp__test_fault_kind_name(k),
                                    (unsigned long long)kind_calls[k]);
    assert_true(calls > 0);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    util_watchdog_start(280, name);
    for (size_t e = 0; e < sizeof errs / sizeof errs[0]; e++)
        for (int persistent = 0; persistent < 2; persistent++)
            for (uint64_t n = 1 + (e * 2 + (unsigned)persistent) % stride;
                 n <= calls; n += stride) {
                snprintf(what, sizeof what, "%s: call %llu fails %s (%s)",
                         name, (unsigned long long)n,
                         persistent ? "from then on" : "once",
                         err_names[e]);
                open_failed += (unsigned)one_run(c, path, BP__SYS_ALL, n,
                                                 errs[e], persistent, what);
                runs++;
            }
    util_watchdog_stop();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("%s: %llu calls per run:%s\n%s: %u runs (N stride %llu), "
                  "%u failed in bp_open, %.1f s\n", name,
                  (unsigned long long)calls, list, name, runs,
                  (unsigned long long)stride, open_failed,
                  (double)(t1.tv_sec - t0.tv_sec) +
                      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    assert_true(open_failed > 0);
    unlink(path);
}

static void test_combo(void **state)
{
    run(*state);
}

int main(void)
{
    static const struct combo cs[] = {
        {BP_BACKEND_COPY, BP_IO_URING, 0, 0},
        {BP_BACKEND_MMAP, BP_IO_URING, 0, 0},
        {BP_BACKEND_COPY, BP_IO_SYNC, 1, 0},
        {BP_BACKEND_MMAP, BP_IO_SYNC, 1, 1},
    };
    static const char *const names[] = {"copy/io_uring", "mmap/io_uring",
                                        "copy/sync", "mmap/sync"};
    struct CMUnitTest tests[4];

    util_init();
    if (!bp__test_faults_compiled())
        return util_skip("fault injection compiled out (BP_FAULT_INJECTION)");
    for (size_t i = 0; i < 4; i++) {
        tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(test_combo,
                                                                (void *)&cs[i]);
        tests[i].name = names[i];
    }
    return _cmocka_run_group_tests("countdown", tests, 4, NULL, NULL);
}
