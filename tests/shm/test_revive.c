/*
 * test_revive.c - a shared cache that every process left (closed or died)
 * serves again at the next attach, as far as it can be proven current.
 *
 *   warm_reopen        flushed and read pages of a kept cache are served
 *                      after close and reattach with zero reads
 *   warm_reopen_linear the linear backend's window shows every revived
 *                      page at open (and a joining process's too): the
 *                      first fixes are window hits
 *   changed_behind     the data file written by someone else after the
 *                      close: the cache is built new and serves the file's
 *                      bytes; a private pool that opened the file writable
 *                      meanwhile (writing nothing) also voids the cache
 *   crash_dirty        a process killed with a dirty page after a flush:
 *                      the next attach serves the flushed state (the dirty
 *                      frame dropped, its page read again) and the other
 *                      pages without a read
 *   unsynced_write     a process killed after a page write that no
 *                      fdatasync covered: nothing is trusted
 *   torn_frame         a frame whose bytes no longer match its checksum is
 *                      dropped and its page read from the data file
 */
#include "util_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 64u

struct env {
    char data[600];
    char shm[64];
    char shm_path[128];
    int checksums;
    bp_backend backend;
};

/* A data file of NPAGES pages: stamped generation 1, or zero pages with
 * checksums (they pass the trailer check until the pool writes them). */
static void env_make(struct env *e, const char *name, int checksums)
{
    util_tmp_path(e->data, sizeof e->data, name);
    e->checksums = checksums;
    e->backend = BP_BACKEND_MMAP;
    util_set_stamp_tail(0); /* whole pages: zero trailers too */
    util_datafile_create(e->data, PSZ, NPAGES,
                         checksums ? UTIL_GEN_ZERO : 1);
    util_set_stamp_tail(checksums ? BP_PAGE_TRAILER : 0);
    util_shm_name(e->shm, sizeof e->shm);
    util_shm_path(e->shm_path, sizeof e->shm_path, e->shm);
}

static int env_open(const struct env *e, bp_pool **out)
{
    struct util_cfg c = {.backend = e->backend, .page_size = PSZ,
                         .frames = 2 * NPAGES, .slots = NPAGES / 2,
                         .flags = BP_ATTACH, .shm_name = e->shm,
                         .shm_keep = 1, .checksums = e->checksums};

    return util_pool_open(out, e->data, &c);
}

/* Attach; after a process was killed its io_uring ring may still hold
 * the data file (and so its lock) for a moment: -EBUSY is retried then. */
static bp_pool *attach(const struct env *e)
{
    const struct timespec ms = {0, 1000000};
    bp_pool *p = NULL;
    int rc;

    for (int i = 0; (rc = env_open(e, &p)) == -EBUSY && i < 10000; i++)
        nanosleep(&ms, NULL);
    assert_int_equal(rc, 0);
    return p;
}

static void env_end(const struct env *e)
{
    unlink(e->shm_path);
    util_set_stamp_tail(0);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Pages [0, n) carry gen[i]; the reads the pool made meanwhile. */
static uint64_t verify_all(bp_pool *p, const uint32_t *gen, unsigned n)
{
    bp_stats a, b;

    util_stats(p, &a);
    for (unsigned i = 0; i < n; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, gen[i]);
    util_stats(p, &b);
    return b.reads - a.reads;
}

/* Half the pages written (gen 2), all of them cached, flushed. */
static void fill(bp_pool *p, uint32_t *gen)
{
    for (unsigned i = 0; i < NPAGES; i++) {
        gen[i] = i % 2 ? 2 : 1;
        if (i % 2)
            util_fix_write(p, i, PSZ, 1, 2);
        else
            util_fix_verify(p, i, BP_SHARED, PSZ, 1);
    }
    assert_int_equal(bp_flush(p), 0);
}

static void test_warm_reopen(void **state)
{
    struct env e;
    uint32_t gen[NPAGES];
    bp_stats st;
    bp_pool *p;

    (void)state;
    env_make(&e, "warm.db", 0);
    p = attach(&e);
    util_stats(p, &st);
    assert_string_equal(st.cache_origin, "built new");
    fill(p, gen);
    assert_int_equal(bp_close(p), 0);

    p = attach(&e);
    util_stats(p, &st);
    if (!starts_with(st.cache_origin, "revived"))
        fail_msg("cache_origin: %s", st.cache_origin);
    assert_int_equal(st.revived_frames, NPAGES);
    assert_int_equal(st.revive_dropped, 0);
    assert_int_equal(verify_all(p, gen, NPAGES), 0); /* no read at all */
    /* it keeps working: a write, a flush, and once more */
    util_fix_write(p, 0, PSZ, 1, 3);
    gen[0] = 3;
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    p = attach(&e);
    assert_int_equal(verify_all(p, gen, NPAGES), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(e.data, PSZ, NPAGES, gen);
    env_end(&e);
}

/* The linear backend shows every revived page in the window at open:
 * the first fixes are window hits, and a page another process changed
 * meanwhile is seen through its frame's check. */
static void test_warm_reopen_linear(void **state)
{
    struct env e;
    uint32_t gen[NPAGES];
    bp_stats a, b;
    bp_pool *p, *q;

    (void)state;
    if (sizeof(void *) < 8)
        skip(); /* linear is 64-bit only */
    env_make(&e, "linear.db", 0);
    e.backend = BP_BACKEND_LINEAR;
    p = attach(&e);
    fill(p, gen);
    assert_int_equal(bp_close(p), 0);

    p = attach(&e);
    util_stats(p, &a);
    if (!starts_with(a.cache_origin, "revived"))
        fail_msg("cache_origin: %s", a.cache_origin);
    assert_int_equal(verify_all(p, gen, NPAGES), 0);
    util_stats(p, &b);
    assert_int_equal(b.window_misses - a.window_misses, 0);
    assert_int_equal(b.window_hits - a.window_hits, NPAGES);
    /* a second process joins with the window shown too, and sees a
     * change made by the first */
    util_fix_write(p, 5, PSZ, 2, 4);
    gen[5] = 4;
    q = attach(&e);
    util_stats(q, &a);
    assert_int_equal(verify_all(q, gen, NPAGES), 0);
    util_stats(q, &b);
    assert_int_equal(b.window_misses - a.window_misses, 0);
    assert_int_equal(bp_close(q), 0);
    assert_int_equal(bp_close(p), 0);
    env_end(&e);
}

static void test_changed_behind(void **state)
{
    struct env e;
    uint32_t gen[NPAGES];
    char page[PSZ];
    bp_stats st;
    bp_pool *p, *q = NULL;
    int fd;

    (void)state;
    env_make(&e, "behind.db", 0);
    p = attach(&e);
    fill(p, gen);
    assert_int_equal(bp_close(p), 0);

    /* someone else writes page 7 with plain I/O */
    util_stamp(page, PSZ, 7, 5);
    fd = open(e.data, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, page, PSZ, 7 * (off_t)PSZ), (ssize_t)PSZ);
    assert_int_equal(fsync(fd), 0);
    close(fd);
    gen[7] = 5;
    p = attach(&e);
    util_stats(p, &st);
    if (!starts_with(st.cache_origin, "built new: ") ||
        !strstr(st.cache_origin, "changed"))
        fail_msg("cache_origin: %s", st.cache_origin);
    assert_int_equal(st.revived_frames, 0);
    assert_int_equal(verify_all(p, gen, NPAGES), NPAGES);
    assert_int_equal(bp_close(p), 0);

    /* a private pool opens the file writable and writes nothing */
    struct util_cfg c = {.backend = BP_BACKEND_MMAP, .page_size = PSZ,
                         .frames = NPAGES, .slots = NPAGES / 2};
    assert_int_equal(util_pool_open(&q, e.data, &c), 0);
    util_fix_verify(q, 7, BP_SHARED, PSZ, 5);
    assert_int_equal(bp_close(q), 0);
    p = attach(&e);
    util_stats(p, &st);
    if (!starts_with(st.cache_origin, "built new: "))
        fail_msg("cache_origin: %s", st.cache_origin);
    assert_int_equal(verify_all(p, gen, NPAGES), NPAGES);
    assert_int_equal(bp_close(p), 0);
    env_end(&e);
}

/* A child attaches, runs `work` and kills itself (SIGKILL: no close). */
static void child_then_die(const struct env *e, void (*work)(bp_pool *))
{
    pid_t pid = fork();
    int st = 0;

    assert_true(pid >= 0);
    if (pid == 0) {
        bp_pool *p = NULL;

        if (env_open(e, &p) != 0)
            _exit(3);
        work(p);
        raise(SIGKILL);
        _exit(4);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void crash_work(bp_pool *p)
{
    uint32_t gen[NPAGES];

    fill(p, gen);
    util_fix_write(p, 3, PSZ, 2, 9); /* dirty, never flushed */
}

static void test_crash_dirty(void **state)
{
    struct env e;
    uint32_t gen[NPAGES];
    bp_stats st;
    bp_pool *p;

    (void)state;
    env_make(&e, "crash.db", 0);
    for (unsigned i = 0; i < NPAGES; i++)
        gen[i] = i % 2 ? 2 : 1;
    child_then_die(&e, crash_work);
    p = attach(&e);
    util_stats(p, &st);
    if (!starts_with(st.cache_origin, "revived"))
        fail_msg("cache_origin: %s", st.cache_origin);
    assert_int_equal(st.revived_frames, NPAGES - 1);
    assert_int_equal(st.revive_dropped, 1);
    /* the flushed state: page 3 is read again and carries gen 2 */
    assert_int_equal(verify_all(p, gen, NPAGES), 1);
    assert_int_equal(bp_close(p), 0);
    env_end(&e);
}

static void unsynced_work(bp_pool *p)
{
    uint32_t gen[NPAGES];

    fill(p, gen);
    util_fix_write(p, 3, PSZ, 2, 9);
    /* new dirty pages, three times the cache: dirty frames are evicted,
     * so written to the data file, and no fdatasync follows */
    for (unsigned i = 0; i < 6 * NPAGES; i++) {
        bp_page pg;

        if (bp_alloc_page(p, &pg) == 0)
            bp_unfix(p, &pg, BP_DIRTY);
    }
}

static void test_unsynced_write(void **state)
{
    struct env e;
    bp_stats st;
    bp_pool *p;

    (void)state;
    env_make(&e, "unsynced.db", 0);
    child_then_die(&e, unsynced_work);
    p = attach(&e);
    util_stats(p, &st);
    if (!starts_with(st.cache_origin, "built new: ") ||
        !strstr(st.cache_origin, "not synced"))
        fail_msg("cache_origin: %s", st.cache_origin);
    assert_int_equal(st.revived_frames, 0);
    assert_int_equal(bp_close(p), 0);
    env_end(&e);
}

static void test_torn_frame(void **state)
{
    struct env e;
    uint32_t gen[NPAGES];
    char want[PSZ], have[PSZ];
    off_t at = -1;
    bp_stats st;
    bp_pool *p;
    int fd;

    (void)state;
    env_make(&e, "torn.db", 1);
    p = attach(&e);
    for (unsigned i = 0; i < NPAGES; i++) {
        util_fix_write(p, i, PSZ, UTIL_GEN_ZERO, 2);
        gen[i] = 2;
    }
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);

    /* find the frame of page 9 in the shm file and flip a byte of it */
    util_stamp(want, PSZ, 9, 2);
    fd = open(e.shm_path, O_RDWR);
    assert_true(fd >= 0);
    for (off_t o = 0; pread(fd, have, PSZ, o) == (ssize_t)PSZ; o += PSZ)
        if (memcmp(have, want, 256) == 0) {
            at = o;
            break;
        }
    assert_true(at >= 0);
    have[PSZ / 2] ^= 0x5a;
    assert_int_equal(pwrite(fd, have, PSZ, at), (ssize_t)PSZ);
    close(fd);

    p = attach(&e);
    util_stats(p, &st);
    if (!starts_with(st.cache_origin, "revived"))
        fail_msg("cache_origin: %s", st.cache_origin);
    assert_int_equal(st.revive_dropped, 1);
    assert_int_equal(st.revived_frames, NPAGES - 1);
    assert_int_equal(verify_all(p, gen, NPAGES), 1); /* page 9, whole */
    assert_int_equal(bp_close(p), 0);
    env_end(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warm_reopen),
        cmocka_unit_test(test_warm_reopen_linear),
        cmocka_unit_test(test_changed_behind),
        cmocka_unit_test(test_crash_dirty),
        cmocka_unit_test(test_unsynced_write),
        cmocka_unit_test(test_torn_frame),
    };

    util_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
