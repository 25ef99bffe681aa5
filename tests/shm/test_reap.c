/*
 * test_reap.c - a process of a shared cache dies (kill -9) or stops
 * (SIGSTOP) while it holds latches; the others go on.
 *
 *   killed_exclusive   killed holding a page exclusive, half changed: a
 *                      survivor's fix gets the page within its wait limit
 *                      (1 s here), with its last flushed content; flush
 *                      and close work
 *   stopped_exclusive  stopped holding a page exclusive: a survivor's fix
 *                      fails with -ETIMEDOUT naming it, and takes nothing;
 *                      once it continues and lets go, the fix works
 *   killed_shared      killed holding a page shared (nothing names it in
 *                      the word): the cache is poisoned, every process gets
 *                      BP_EPOISONED, and after all closed it opens again
 *                      with the flushed pages
 *   killed_parked      killed inside the library: a dirty frame being
 *                      written back, a flush whose O_DIRECT writes are in
 *                      flight (io_uring), an allocation (lock and new frame
 *                      held)
 *   kill_loop          4 processes write and flush pages while one is
 *                      killed at random moments (200 kills, some at park
 *                      points); at the end every page holds at least the
 *                      generation last acknowledged by a flush, and a valid
 *                      stamp
 */
#include "util_test.h"
#include "shared_worker.h"

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

struct env {
    char data[600];
    char shm[64];
};

static void env_make(struct env *e, const char *name, uint64_t npages)
{
    util_tmp_path(e->data, sizeof e->data, name);
    util_datafile_create(e->data, SW_PSZ, npages, 1);
    util_shm_name(e->shm, sizeof e->shm);
}

/* A pool on the cache that gives up on a live holder after limit_ms. */
static bp_pool *attach_limited(const struct env *e, unsigned limit_ms)
{
    bp_pool *p = NULL;
    int rc = bp_create(&p, NULL);

    assert_int_equal(rc, 0);
    assert_int_equal(bp_set_page_size(p, SW_PSZ), 0);
    assert_int_equal(bp_set_cache_frames(p, SW_FRAMES), 0);
    assert_int_equal(bp_set_window_slots(p, SW_SLOTS), 0);
    assert_int_equal(bp_set_shm(p, e->shm, 0), 0);
    assert_int_equal(bp_set_wait_limit(p, limit_ms), 0);
    if ((rc = bp_open(p, e->data, BP_ATTACH)) != 0)
        util_print_rc(p, "bp_open(BP_ATTACH)", rc);
    assert_int_equal(rc, 0);
    return p;
}

static void start_open(struct sw *w, const struct env *e)
{
    char line[256];

    sw_start(w, e->data, e->shm, "");
    sw_cmd(w, "open", line, sizeof line);
    assert_string_equal(line, "ok");
}

static void kill_worker(struct sw *w)
{
    assert_int_equal(kill(w->pid, SIGKILL), 0);
    assert_int_equal(sw_stop(w), 128 + SIGKILL);
}

static void test_killed_exclusive(void **state)
{
    (void)state;
    struct env e;
    struct sw w;
    char line[256];
    bp_stats st;

    env_make(&e, "killx.db", 8);
    bp_pool *p = attach_limited(&e, 1000);
    util_fix_write(p, 3, SW_PSZ, 1, 4);
    assert_int_equal(bp_flush(p), 0); /* generation 4 acknowledged */
    start_open(&w, &e);
    sw_cmd(&w, "scribble 3", line, sizeof line);
    assert_string_equal(line, "ok");
    kill_worker(&w);
    /* within the 1 s wait limit, or -ETIMEDOUT fails the check below */
    util_fix_verify(p, 3, BP_SHARED, SW_PSZ, 4);
    util_stats(p, &st);
    assert_int_equal(st.peer_reaps, 1);
    assert_int_equal(st.peer_frames, 1);
    assert_int_equal(bp_flush(p), 0);
    util_fix_write(p, 3, SW_PSZ, 4, 5);
    assert_int_equal(bp_flush(p), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    uint32_t want[8] = {1, 1, 1, 5, 1, 1, 1, 1};
    util_datafile_verify(e.data, SW_PSZ, 8, want);
}

static void test_stopped_exclusive(void **state)
{
    (void)state;
    struct env e;
    struct sw w;
    char line[256];
    bp_page h;
    bp_stats st;

    env_make(&e, "stopx.db", 8);
    bp_pool *p = attach_limited(&e, 300);
    start_open(&w, &e);
    sw_cmd(&w, "fix 4 x", line, sizeof line);
    assert_string_equal(line, "ok");
    assert_int_equal(kill(w.pid, SIGSTOP), 0);
    assert_int_equal(bp_fix(p, 4, BP_SHARED, &h), -ETIMEDOUT);
    print_message("  %s\n", bp_errmsg(p));
    char pid[32];
    snprintf(pid, sizeof pid, "process %ld", (long)w.pid);
    assert_non_null(strstr(bp_errmsg(p), pid));
    util_stats(p, &st);
    assert_int_equal(st.peer_reaps, 0);
    assert_int_equal(kill(w.pid, SIGCONT), 0);
    sw_cmd(&w, "unfix 4", line, sizeof line);
    assert_string_equal(line, "ok");
    util_fix_verify(p, 4, BP_EXCLUSIVE, SW_PSZ, 1);
    sw_cmd(&w, "close", line, sizeof line);
    assert_int_equal(sw_stop(&w), 0);
    assert_int_equal(bp_close(p), 0);
}

static void test_killed_shared(void **state)
{
    (void)state;
    struct env e;
    struct sw w[2];
    char line[256];
    bp_page h;

    env_make(&e, "kills.db", 8);
    bp_pool *p = attach_limited(&e, 5000);
    util_fix_write(p, 5, SW_PSZ, 1, 6);
    assert_int_equal(bp_flush(p), 0);
    util_fix_write(p, 6, SW_PSZ, 1, 7); /* never flushed */
    start_open(&w[0], &e);
    start_open(&w[1], &e);
    sw_cmd(&w[0], "fix 5 s", line, sizeof line);
    assert_string_equal(line, "ok");
    kill_worker(&w[0]);
    /* the exclusive fix waits for a shared latch nothing names: the dead
     * process may hold it, so the cache is poisoned */
    assert_int_equal(bp_fix(p, 5, BP_EXCLUSIVE, &h), BP_EPOISONED);
    print_message("  %s\n", bp_errmsg(p));
    sw_cmd(&w[1], "read 1", line, sizeof line);
    assert_string_equal(line, "err -30915"); /* the other process too */
    sw_cmd(&w[1], "close", line, sizeof line);
    assert_string_equal(line, "ok");
    assert_int_equal(sw_stop(&w[1]), 0);
    assert_int_equal(bp_close(p), 0);
    p = attach_limited(&e, 5000); /* built again from the data file */
    util_fix_verify(p, 5, BP_SHARED, SW_PSZ, 6);
    util_fix_verify(p, 6, BP_SHARED, SW_PSZ, 1);
    assert_int_equal(bp_close(p), 0);
}

static void test_killed_parked(void **state)
{
    (void)state;
    static const char *const points[] = {"evict", "flush", "alloc"};

    for (unsigned k = 0; k < 3; k++) {
        struct env e;
        struct sw w;
        char line[256], cmd[32];
        bp_page h;

        env_make(&e, "parked.db", SW_FRAMES * 2);
        bp_pool *p = attach_limited(&e, 5000);
        util_fix_write(p, 0, SW_PSZ, 1, 3);
        assert_int_equal(bp_flush(p), 0);
        start_open(&w, &e);
        snprintf(cmd, sizeof cmd, "park %s", points[k]);
        sw_cmd(&w, cmd, line, sizeof line);
        if (strcmp(line, "skip") == 0) {
            print_message("  park points need the fault table "
                          "(BP_FAULT_INJECTION off in this build)\n");
            kill_worker(&w);
            assert_int_equal(bp_close(p), 0);
            skip();
        }
        assert_string_equal(line, "parked");
        kill_worker(&w);
        /* everything works again: every page readable, a new page */
        int rc = 0;
        for (uint64_t pg = 0; rc == 0 && pg < SW_FRAMES * 2; pg++) {
            if ((rc = bp_fix(p, pg, BP_EXCLUSIVE, &h)) != 0)
                break;
            uint32_t g = util_page_gen(h.data, SW_PSZ, pg);
            assert_true(g == 1 || g == 3 || g == 50);
            bp_unfix(p, &h, 0);
        }
        if (rc == BP_EPOISONED) { /* flush: shared latches nothing names */
            print_message("  %s: poisoned (%s)\n", points[k], bp_errmsg(p));
            assert_string_equal(points[k], "flush");
            assert_int_equal(bp_close(p), 0);
            p = attach_limited(&e, 5000);
        } else {
            assert_int_equal(rc, 0);
            print_message("  %s: recovered\n", points[k]);
        }
        assert_int_equal(bp_fix(p, 0, BP_SHARED, &h), 0);
        uint32_t g0 = util_page_gen(h.data, SW_PSZ, 0); /* 50: the worker's
                                                           write, unfixed
                                                           before it parked */
        assert_true(g0 == 3 || g0 == 50);
        assert_int_equal(bp_unfix(p, &h, 0), 0);
        assert_int_equal(bp_alloc_page(p, &h), 0);
        assert_int_equal(bp_unfix(p, &h, BP_DIRTY), 0);
        assert_int_equal(bp_flush(p), 0);
        util_check(p);
        assert_int_equal(bp_close(p), 0);
    }
}

#define LOOP_W 4
#define LOOP_PAGES 24 /* per worker: 4 x 24 pages over a 32-frame cache */

static uint64_t read_ack(const char *path, uint64_t *worst_us)
{
    uint64_t rec[2] = {0, 0};
    int fd = open(path, O_RDONLY);

    if (fd >= 0) {
        if (pread(fd, rec, sizeof rec, 0) != (ssize_t)sizeof rec)
            rec[0] = rec[1] = 0;
        close(fd);
    }
    if (worst_us && rec[1] > *worst_us)
        *worst_us = rec[1];
    return rec[0];
}

static void loop_start(struct sw *w, const struct env *e, const char *ack,
                       unsigned i, uint64_t gen0)
{
    char cmd[800], line[64];

    sw_start(w, e->data, e->shm, "");
    sw_cmd(w, "open", line, sizeof line);
    snprintf(cmd, sizeof cmd, "loop %s %u %u %" PRIu64, ack, i * LOOP_PAGES,
             LOOP_PAGES, gen0); /* reopens by itself when open failed */
    sw_send(w, cmd);
}

static void test_kill_loop(void **state)
{
    (void)state;
    const char *env_kills = getenv("BP_KILL_LOOP_KILLS");
    unsigned kills = env_kills ? (unsigned)atoi(env_kills) : 200;
    struct env e;
    struct sw w[LOOP_W];
    char ack[LOOP_W][700];
    uint64_t rng = 12345, worst = 0;
    unsigned parked = 0;

    /* the loop's pages, then 40 that the parked processes write (more
     * than the cache: their writes evict dirty frames, theirs or not) */
    env_make(&e, "killloop.db", LOOP_W * LOOP_PAGES + 40);
    for (unsigned i = 0; i < LOOP_W; i++) {
        char name[32];
        snprintf(name, sizeof name, "ack%u", i);
        util_tmp_path(ack[i], sizeof ack[i], name);
        loop_start(&w[i], &e, ack[i], i, 2);
    }
    for (unsigned k = 0; k < kills; k++) {
        struct timespec d = {0, (long)(2 + util_rand_below(&rng, 20)) *
                                    1000000};
        unsigned i = (unsigned)util_rand_below(&rng, LOOP_W);

        nanosleep(&d, NULL);
        if (k % 10 == 9) { /* a kill inside the library, beside the loop */
            static const char *const pts[] = {"evict", "alloc", "flush"};
            struct sw x;
            char line[64], cmd[32];

            sw_start(&x, e.data, e.shm, "");
            sw_cmd(&x, "open", line, sizeof line);
            if (strcmp(line, "ok") == 0) {
                snprintf(cmd, sizeof cmd, "park %s %u", pts[k / 10 % 3],
                         LOOP_W * LOOP_PAGES);
                sw_cmd(&x, cmd, line, sizeof line);
                parked += strcmp(line, "parked") == 0;
            }
            kill_worker(&x);
            continue;
        }
        kill_worker(&w[i]);
        loop_start(&w[i], &e, ack[i], i, read_ack(ack[i], NULL) + 1);
    }
    for (unsigned i = 0; i < LOOP_W; i++)
        kill_worker(&w[i]);

    /* every page: a valid stamp, at least its last acknowledged
     * generation */
    uint32_t gens[LOOP_W * LOOP_PAGES];
    util_datafile_gens(e.data, SW_PSZ, LOOP_W * LOOP_PAGES, gens);
    uint64_t acked_total = 0;
    for (unsigned i = 0; i < LOOP_W; i++) {
        uint64_t a = read_ack(ack[i], &worst);
        acked_total += a;
        for (unsigned j = 0; j < LOOP_PAGES; j++) {
            uint64_t pg = (uint64_t)i * LOOP_PAGES + j, want = 1;
            /* the largest g <= a with g % LOOP_PAGES == j (g >= 2) */
            if (a >= 2) {
                uint64_t g = a - ((a % LOOP_PAGES + LOOP_PAGES - j) %
                                  LOOP_PAGES);
                if (g >= 2 && g <= a)
                    want = g;
            }
            if (gens[pg] == UTIL_GEN_BAD || gens[pg] < want) {
                print_error("page %" PRIu64 ": generation %u on disk, %" PRIu64
                            " acknowledged\n", pg, gens[pg], want);
                fail();
            }
        }
    }
    print_message("  %u kills (%u parked inside the library), %" PRIu64
                  " writes acknowledged, %u pages verified, longest call of "
                  "a survivor %" PRIu64 " us\n", kills, parked, acked_total,
                  LOOP_W * LOOP_PAGES, worst);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--worker") == 0)
        return sw_main(argc - 2, argv + 2);
    util_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_exclusive),
        cmocka_unit_test(test_stopped_exclusive),
        cmocka_unit_test(test_killed_shared),
        cmocka_unit_test(test_killed_parked),
        cmocka_unit_test(test_kill_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
