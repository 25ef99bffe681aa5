/*
 * test_threads.c - several threads of one process on one pool.
 *
 * For each backend (rfp, mmap, copy, auto): T threads fix random pages of a
 * data file much larger than the cache, through a window much smaller than
 * the cache, shared or exclusive, while one of them also flushes now and
 * then.  Each page holds its page number and a counter that a thread
 * increments only under an exclusive fix; every thread counts its
 * increments per page.  At the end the counters through the pool, and after
 * a flush in the data file read with plain pread, must equal the number of
 * exclusive fixes of each page: a lost update, a torn page, a page shown at
 * the wrong address or a write-back lost on eviction shows up as a
 * mismatch.  Shared fixes check the page number while they hold the page.
 * test_threads_fill races threads at the moment the cache first fills.
 */
#include "util_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 256u
#define FRAMES 48u
#define SLOTS 12u
#define THREADS 4
#define OPS 4000

struct shared {
    bp_pool *p;
    uint64_t incs[THREADS][NPAGES];
    int errors;
};

struct worker {
    struct shared *sh;
    int id;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);

    for (int i = 0; i < OPS; i++) {
        uint64_t pgno = util_rand_below(&rng, NPAGES), hdr[2];
        unsigned mode = util_rand_below(&rng, 3) == 0 ? BP_EXCLUSIVE : BP_SHARED;
        bp_page pg;

        if (bp_fix(sh->p, pgno, mode, &pg) != 0) {
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        memcpy(hdr, pg.data, sizeof hdr);
        if (hdr[0] != pgno)
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
        if (mode == BP_EXCLUSIVE) {
            hdr[1]++;
            memcpy(pg.data, hdr, sizeof hdr);
            sh->incs[w->id][pgno]++;
        }
        if (bp_unfix(sh->p, &pg, mode == BP_EXCLUSIVE ? BP_DIRTY : 0) != 0)
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
        if (w->id == 0 && i % 500 == 499 && bp_flush(sh->p) != 0)
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static uint64_t expected(const struct shared *sh, uint64_t pgno)
{
    uint64_t n = 0;

    for (int t = 0; t < THREADS; t++)
        n += sh->incs[t][pgno];
    return n;
}

static void run_backend(bp_backend b)
{
    struct util_cfg c = {.backend = b, .page_size = PSZ, .frames = FRAMES,
                         .slots = SLOTS, .flags = BP_CREATE};
    static struct shared sh;
    struct worker w[THREADS];
    pthread_t tid[THREADS];
    char path[512];
    int fd;

    if (b == BP_BACKEND_RFP && !util_have_rfp())
        return;
    memset(&sh, 0, sizeof sh);
    util_tmp_path(path, sizeof path, util_backend_name(b));
    unlink(path);
    assert_int_equal(util_pool_open(&sh.p, path, &c), 0);
    for (uint64_t i = 0; i < NPAGES; i++) {
        bp_page pg;
        uint64_t hdr[2] = {i, 0};

        assert_int_equal(bp_alloc_page(sh.p, &pg), 0);
        memcpy(pg.data, hdr, sizeof hdr);
        assert_int_equal(bp_unfix(sh.p, &pg, BP_DIRTY), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        w[t].sh = &sh;
        w[t].id = t;
        assert_int_equal(pthread_create(&tid[t], NULL, worker_main, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(tid[t], NULL);
    assert_int_equal(sh.errors, 0);
    util_check(sh.p);
    for (uint64_t i = 0; i < NPAGES; i++) {
        bp_page pg;
        uint64_t hdr[2];

        assert_int_equal(bp_fix(sh.p, i, BP_SHARED, &pg), 0);
        memcpy(hdr, pg.data, sizeof hdr);
        assert_int_equal(bp_unfix(sh.p, &pg, 0), 0);
        assert_int_equal(hdr[0], i);
        assert_int_equal(hdr[1], expected(&sh, i));
    }
    assert_int_equal(bp_flush(sh.p), 0);
    assert_int_equal(bp_close(sh.p), 0);

    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    for (uint64_t i = 0; i < NPAGES; i++) {
        uint64_t hdr[2];

        assert_int_equal(pread(fd, hdr, sizeof hdr, (off_t)(i * PSZ)),
                         (ssize_t)sizeof hdr);
        assert_int_equal(hdr[0], i);
        assert_int_equal(hdr[1], expected(&sh, i));
    }
    close(fd);
    unlink(path);
}

static void test_threads_rfp(void **state)
{
    (void)state;
    run_backend(BP_BACKEND_RFP);
}

static void test_threads_mmap(void **state)
{
    (void)state;
    run_backend(BP_BACKEND_MMAP);
}

static void test_threads_copy(void **state)
{
    (void)state;
    run_backend(BP_BACKEND_COPY);
}

static void test_threads_auto(void **state)
{
    (void)state;
    run_backend(BP_BACKEND_AUTO);
}

/* The moment the cache first fills: 4 threads released together on a
 * fresh pool, each fixing its own pages, so the last never-used frames and
 * the first CLOCK victims are taken at the same time.  Two threads once
 * both owned the last free frame; the invariant check catches that. */
struct fill_arg {
    bp_pool *p;
    pthread_barrier_t *go;
    int id, errors;
};

static void *fill_main(void *arg)
{
    struct fill_arg *a = arg;

    pthread_barrier_wait(a->go);
    for (uint64_t i = 0; i < 6; i++) {
        bp_page pg;

        if (bp_fix(a->p, (uint64_t)a->id * 8 + i, BP_SHARED, &pg) != 0 ||
            bp_unfix(a->p, &pg, 0) != 0)
            a->errors++;
    }
    return NULL;
}

static void test_threads_fill(void **state)
{
    struct util_cfg c = {.backend = BP_BACKEND_COPY, .page_size = PSZ,
                         .frames = 12, .slots = 6};
    char path[512];

    (void)state;
    util_tmp_path(path, sizeof path, "fill.db");
    util_datafile_create(path, PSZ, THREADS * 8, 0);
    for (int round = 0; round < 150; round++) {
        struct fill_arg a[THREADS];
        pthread_barrier_t go;
        pthread_t tid[THREADS];
        bp_pool *p;

        assert_int_equal(util_pool_open(&p, path, &c), 0);
        pthread_barrier_init(&go, NULL, THREADS);
        for (int t = 0; t < THREADS; t++) {
            a[t] = (struct fill_arg){p, &go, t, 0};
            assert_int_equal(pthread_create(&tid[t], NULL, fill_main, &a[t]),
                             0);
        }
        for (int t = 0; t < THREADS; t++) {
            pthread_join(tid[t], NULL);
            assert_int_equal(a[t].errors, 0);
        }
        pthread_barrier_destroy(&go);
        util_check(p);
        assert_int_equal(bp_close(p), 0);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_fill),
        cmocka_unit_test(test_threads_rfp),
        cmocka_unit_test(test_threads_mmap),
        cmocka_unit_test(test_threads_copy),
        cmocka_unit_test(test_threads_auto),
    };

    util_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
