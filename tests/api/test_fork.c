/*
 * test_fork.c - a pool handle copied into a child by fork() is refused
 * there (BP_EFORKED) by every call that would act on it (bp_wal_durable
 * does nothing, bp_stats_get takes no lock), its bp_close in
 * the child releases nothing the parent uses (the data-file lock, the
 * named shm file, the flusher thread), and the child may open the pool
 * again once it has closed its copy.
 *
 * The child reports through its exit status: 0 when every check held, else
 * the number of the first failed check (printed to stderr).
 */
#include "util_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PSZ 8192u
#define NPAGES 8u

static bp_pool *open_pool(const char *path, const char *shm, int flusher)
{
    struct util_cfg c = {.page_size = PSZ, .frames = 16, .slots = 8,
                         .shm_name = shm};
    bp_pool *p = NULL;

    if (flusher) { /* a thread the child does not have */
        assert_int_equal(bp_create(&p, NULL), 0);
        assert_int_equal(util_pool_config(p, &c), 0);
        assert_int_equal(bp_set_flusher(p, 50), 0);
        int rc = bp_open(p, path, 0);
        if (rc)
            util_print_rc(p, "bp_open", rc);
        assert_int_equal(rc, 0);
        return p;
    }
    assert_int_equal(util_pool_open(&p, path, &c), 0);
    return p;
}

#define CHILD_CHECK(n, cond)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "child check %d failed: %s\n", n, #cond);          \
            _exit(n);                                                          \
        }                                                                      \
    } while (0)

static int wait_child(pid_t pid)
{
    int status = 0;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Every call on the copied handle is refused; its close succeeds. */
static void test_child_refused(void **state)
{
    (void)state;
    char path[600], shm[64], shm_path[128];
    util_tmp_path(path, sizeof path, "fork.db");
    util_datafile_create(path, PSZ, NPAGES, 1);
    util_shm_name(shm, sizeof shm);
    util_shm_path(shm_path, sizeof shm_path, shm);
    bp_pool *p = open_pool(path, shm, 1);
    bp_page held, pg;

    util_fix_write(p, 2, PSZ, 1, 7); /* dirty, not flushed */
    assert_int_equal(bp_fix(p, 3, BP_SHARED, &held), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bp_opt o;
        bp_stats cst;
        uint64_t one = 1;

        CHILD_CHECK(1, bp_fix(p, 1, BP_SHARED, &pg) == BP_EFORKED);
        CHILD_CHECK(2, strstr(bp_errmsg(p), "fork") != NULL);
        CHILD_CHECK(3, bp_fix(p, 3, BP_EXCLUSIVE, &pg) == BP_EFORKED);
        CHILD_CHECK(4, bp_unfix(p, &held, 0) == BP_EFORKED);
        CHILD_CHECK(5, bp_flush(p) == BP_EFORKED);
        CHILD_CHECK(6, bp_alloc_page(p, &pg) == BP_EFORKED);
        CHILD_CHECK(7, bp_prefetch(p, &one, 1) == BP_EFORKED);
        CHILD_CHECK(8, bp_opt_begin(p, 1, &o) == BP_EFORKED);
        /* a snapshot takes no lock a parent's thread may have held, and
         * the durable LSN of the parent's cache is not the child's */
        CHILD_CHECK(10, bp_stats_get(p, &cst, sizeof cst) == 0);
        bp_wal_durable(p, 12345);
        CHILD_CHECK(9, bp_close(p) == 0);
        _exit(0);
    }
    assert_int_equal(wait_child(pid), 0);

    /* the parent's pool is whole: its shm file, its lock, its fixes */
    struct stat st;
    bp_stats pst;
    assert_int_equal(stat(shm_path, &st), 0);
    util_stats(p, &pst);
    assert_int_equal(pst.wal_durable, 0);
    bp_pool *q = NULL;
    assert_int_equal(bp_create(&q, NULL), 0);
    assert_int_equal(bp_open(q, path, 0), -EBUSY);
    bp_close(q);
    assert_int_equal(bp_unfix(p, &held, 0), 0);
    util_fix_verify(p, 2, BP_SHARED, PSZ, 7);
    util_fix_write(p, 4, PSZ, 1, 8);
    assert_int_equal(bp_flush(p), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    assert_int_equal(stat(shm_path, &st), -1);
    uint32_t want[NPAGES];
    for (unsigned i = 0; i < NPAGES; i++)
        want[i] = i == 2 ? 7 : i == 4 ? 8 : 1;
    util_datafile_verify(path, PSZ, NPAGES, want);
}

/* The child closes its copy, waits for the parent to close, then opens
 * the data file itself and sees what the parent flushed. */
static void test_child_reopens(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    /* TSan cannot start threads in a child forked from a process that ran
     * threads, and the child's new pool starts its I/O threads */
    print_message("  skipped under TSan: no threads in a forked child\n");
    skip();
#endif
    char path[600];
    int go[2];
    util_tmp_path(path, sizeof path, "reopen.db");
    util_datafile_create(path, PSZ, NPAGES, 1);
    bp_pool *p = open_pool(path, NULL, 0);

    util_fix_write(p, 5, PSZ, 1, 9);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        bp_pool *q = NULL;
        bp_page pg;

        close(go[1]);
        CHILD_CHECK(1, bp_close(p) == 0);
        CHILD_CHECK(2, read(go[0], &c, 1) == 1); /* the parent closed */
        CHILD_CHECK(3, bp_create(&q, NULL) == 0);
        CHILD_CHECK(4, bp_set_page_size(q, PSZ) == 0);
        CHILD_CHECK(5, bp_set_cache_frames(q, 16) == 0);
        CHILD_CHECK(6, bp_open(q, path, 0) == 0);
        CHILD_CHECK(7, bp_fix(q, 5, BP_EXCLUSIVE, &pg) == 0);
        CHILD_CHECK(8, util_page_gen(pg.data, PSZ, 5) == 9);
        util_stamp(pg.data, PSZ, 5, 10);
        CHILD_CHECK(9, bp_unfix(q, &pg, BP_DIRTY) == 0);
        CHILD_CHECK(10, bp_flush(q) == 0);
        CHILD_CHECK(11, bp_close(q) == 0);
        _exit(0);
    }
    close(go[0]);
    assert_int_equal(bp_close(p), 0);
    assert_int_equal(write(go[1], "x", 1), 1);
    close(go[1]);
    assert_int_equal(wait_child(pid), 0);
    uint32_t want[NPAGES];
    for (unsigned i = 0; i < NPAGES; i++)
        want[i] = i == 5 ? 10 : 1;
    util_datafile_verify(path, PSZ, NPAGES, want);
}

int main(void)
{
    util_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_child_refused),
        cmocka_unit_test(test_child_reopens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
