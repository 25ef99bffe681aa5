/*
 * test_tpcc.c - the TPC-C-like workload of `bpbench tpcc` on every kv
 * engine: for each bufpool window backend (auto, rfp when the kernel has
 * it, mmap, copy, linear) and LMDB, load one warehouse (~500,000 rows), run
 * the five-transaction mix on several threads for 10 s, then require no
 * failed transaction and TPC-C's consistency conditions 1-4 (plus: every
 * committed New-Order left its order).  A lost update, a torn row, a
 * B+tree that misplaces a key under concurrency, or a hole in the
 * driver's locking shows up as a broken condition.
 *
 * Two more cases run 2 warehouses (a tenth of the items, customers and
 * orders per district, half the run time), so that remote payments and
 * remote supply warehouses happen: on bufpool:mmap with the home warehouse
 * drawn per transaction (the default), on LMDB with a fixed home warehouse
 * per worker (`--home-warehouse`).  test_driver runs the driver alone
 * (tpcc_driver) in both modes and requires every lock free afterwards.
 *
 * Debug and sanitizer builds (BP_DEBUG=1), where everything is many times
 * slower, load a database with a tenth of the items, customers and orders
 * per district (tpcc_init_scaled) and run 5 s; the checks are the same.
 * Environment overrides: TPCC_TEST_SECONDS, TPCC_TEST_SCALE (1, 2, 5, 10),
 * TPCC_TEST_ENGINE (run only the engines whose name contains it).
 *
 * The bufpool engines get a memory budget below the data's size, so the
 * load and the run evict and write back pages while threads race.  The
 * run uses at least 2 worker threads, also on one CPU.  A watchdog aborts
 * an engine that hangs (a deadlock), which CTest reports as a failure.
 * Under TSan the calls made from inside liblmdb are not checked (as in
 * test_ycsb.c).  Without liblmdb (the -m32 build) this test is not built.
 */
#include "util_test.h"

#include "tpcc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#ifdef UTIL_TSAN
/* LMDB (not instrumented) orders its writer's page reuse against readers
 * with its own lock-free reader table, which TSan cannot see: its memcpy
 * and memcmp on the shared map look like races.  Our code stays checked. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:liblmdb.so\n";
}
#endif

typedef struct tt_engine {
    const char *name;
    kv_kind kind;
    bp_backend backend;
    uint32_t warehouses; /* 0: 1 warehouse, tt_scale(), tt_seconds();
                            else a tenth of the rows, half the time */
    int home_fixed;
} tt_engine;

typedef struct tt_worker {
    kv *k;
    tpcc *tp;
    int tid;
    wl_counters c;
    const int *stop;
    int rc;
    pthread_t th;
} tt_worker;

static void *tt_worker_main(void *arg)
{
    tt_worker *x = arg;
    x->rc = tpcc_run(x->k, x->tp, x->tid, &x->c, x->stop);
    return NULL;
}

static double tt_seconds(void)
{
    const char *env = getenv("TPCC_TEST_SECONDS");
    if (env && *env)
        return atof(env);
    return BP_DEBUG ? 5.0 : 10.0;
}

static uint32_t tt_scale(void)
{
    const char *env = getenv("TPCC_TEST_SCALE");
    if (env && *env)
        return (uint32_t)atoi(env);
    return BP_DEBUG ? 10 : 1;
}

static void tt_sleep(double secs)
{
    struct timespec ts = {(time_t)secs,
                          (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Remove the engine's files and its directory. */
static void tt_rmdir(const char *dir, kv_kind kind)
{
    char path[4200];
    for (const char *const *f = kv_files(kind); *f; f++) {
        int n = snprintf(path, sizeof path, "%s/%s", dir, *f);
        assert_true(n > 0 && (size_t)n < sizeof path);
        unlink(path);
    }
    rmdir(dir);
}

static void tt_run_engine(void **state)
{
    const tt_engine *e = *state;
    char dir[4096], name[64], err[256], what[128];
    snprintf(name, sizeof name, "tpcc-%s", e->name);
    for (char *p = name; *p; p++)
        if (*p == ':' || *p == '/')
            *p = '-';
    util_tmp_path(dir, sizeof dir, name);
    assert_int_equal(mkdir(dir, 0700), 0);

    tpcc tp;
    uint32_t nw = e->warehouses ? e->warehouses : 1;
    uint32_t scale = e->warehouses ? 10 : tt_scale();
    double secs = e->warehouses ? tt_seconds() / 2 : tt_seconds();
    assert_int_equal(tpcc_init_scaled(&tp, nw, 42, scale), 0);
    tp.home_fixed = e->home_fixed;
    /* The data estimate is below what the B+tree grows to: evictions. */
    uint64_t budget = tpcc_data_bytes(&tp);
    if (budget < 16 * UTIL_MiB)
        budget = 16 * UTIL_MiB;
    int nthreads = util_nproc() < 2 ? 2 : util_nproc() > 4 ? 4 : util_nproc();
    kv_cfg cfg = {
        .kind = e->kind,
        .backend = e->backend,
        .dir = dir,
        .mem_budget = budget,
        .page_size = 8192,
        .max_bytes = tpcc_data_bytes(&tp),
        .threads = nthreads,
    };
    snprintf(what, sizeof what, "tpcc on %s hangs", e->name);
    util_watchdog_start(BP_DEBUG ? 1800 : 600, what);

    /* Load, flush, close: the run starts from a reopened store. */
    kv *k = NULL;
    int rc = kv_open(&k, &cfg, err, sizeof err);
    if (rc)
        print_error("kv_open %s: %s\n", e->name, err);
    assert_int_equal(rc, 0);
    rc = tpcc_load(k, &tp, nthreads);
    if (rc)
        print_error("load %s: %s\n", e->name, kv_strerror(rc));
    assert_int_equal(rc, 0);
    assert_int_equal(kv_flush(k), 0);
    kv_close(k);
    k = NULL;
    rc = kv_reopen(&k, &cfg, err, sizeof err);
    if (rc)
        print_error("kv_reopen %s: %s\n", e->name, err);
    assert_int_equal(rc, 0);

    /* Before the run: the loaded database is consistent. */
    char out[512];
    rc = tpcc_check(k, &tp, NULL, out, sizeof out);
    if (rc)
        print_error("%s after load: %s\n", e->name, out);
    assert_int_equal(rc, 0);

    int stop = 0;
    tt_worker *w = calloc((size_t)nthreads, sizeof *w);
    assert_non_null(w);
    for (int t = 0; t < nthreads; t++) {
        w[t].k = k;
        w[t].tp = &tp;
        w[t].tid = t;
        w[t].stop = &stop;
        assert_int_equal(pthread_create(&w[t].th, NULL, tt_worker_main, &w[t]),
                         0);
    }
    tt_sleep(secs);
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    wl_counters total;
    memset(&total, 0, sizeof total);
    int failed = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(w[t].th, NULL);
        if (w[t].rc) {
            print_error("%s worker %d: %s\n", e->name, t,
                        kv_strerror(w[t].rc));
            failed = 1;
        }
        for (int i = 0; i < WL_MAX_KINDS; i++)
            total.ops[i] += w[t].c.ops[i];
        total.aborts += w[t].c.aborts;
        total.errors += w[t].c.errors;
    }
    free(w);
    printf("%s: %u warehouse(s) / %u, %d threads, %.1f s: new-order %llu "
           "(rolled back %llu), payment %llu, order-status %llu, delivery "
           "%llu, stock-level %llu\n",
           e->name, nw, scale, nthreads, secs,
           (unsigned long long)total.ops[TPCC_NEW_ORDER],
           (unsigned long long)total.aborts,
           (unsigned long long)total.ops[TPCC_PAYMENT],
           (unsigned long long)total.ops[TPCC_ORDER_STATUS],
           (unsigned long long)total.ops[TPCC_DELIVERY],
           (unsigned long long)total.ops[TPCC_STOCK_LEVEL]);
    assert_false(failed);
    assert_int_equal(total.errors, 0);
    assert_true(total.ops[TPCC_NEW_ORDER] > 0);
    assert_true(total.ops[TPCC_PAYMENT] > 0);

    rc = tpcc_check(k, &tp, &total, out, sizeof out);
    printf("%s: %s\n", e->name, out);
    assert_int_equal(rc, 0);
    kv_close(k);
    util_watchdog_stop();
    tpcc_destroy(&tp);
    tt_rmdir(dir, e->kind);
}

/* The driver alone in both home-warehouse modes: it returns 0 and leaves
 * every lock free. */
static void test_driver(void **state)
{
    (void)state;
    for (int fixed = 0; fixed < 2; fixed++) {
        tpcc tp;
        assert_int_equal(tpcc_init_scaled(&tp, 3, 5, 10), 0);
        tp.home_fixed = fixed;
        assert_int_equal(tpcc_driver(&tp, 20000), 0);
        for (uint32_t i = 0; i < tp.locks.n; i++) {
            assert_int_equal(pthread_mutex_trylock(&tp.locks.m[i]), 0);
            pthread_mutex_unlock(&tp.locks.m[i]);
        }
        tpcc_destroy(&tp);
    }
}

int main(void)
{
    util_init();
    const char *only = getenv("TPCC_TEST_ENGINE");
    static tt_engine engines[] = {
        {"bufpool:auto", KV_BUFPOOL, BP_BACKEND_AUTO, 0, 0},
        {"bufpool:rfp", KV_BUFPOOL, BP_BACKEND_RFP, 0, 0},
        {"bufpool:mmap", KV_BUFPOOL, BP_BACKEND_MMAP, 0, 0},
        {"bufpool:copy", KV_BUFPOOL, BP_BACKEND_COPY, 0, 0},
        {"bufpool:linear", KV_BUFPOOL, BP_BACKEND_LINEAR, 0, 0},
        {"lmdb", KV_LMDB, BP_BACKEND_AUTO, 0, 0},
        {"bufpool:mmap/2w", KV_BUFPOOL, BP_BACKEND_MMAP, 2, 0},
        {"lmdb/2w/home-warehouse", KV_LMDB, BP_BACKEND_AUTO, 2, 1},
    };
    struct CMUnitTest tests[sizeof engines / sizeof engines[0] + 1];
    size_t n = 0;
    memset(tests, 0, sizeof tests);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_driver);
    for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++) {
        if (only && *only && !strstr(engines[i].name, only))
            continue;
        if (engines[i].kind == KV_BUFPOOL &&
            engines[i].backend == BP_BACKEND_RFP && !util_have_rfp()) {
            printf("bufpool:rfp skipped: remap_file_pages() does not work "
                   "here\n");
            continue;
        }
        tests[n].name = engines[i].name;
        tests[n].test_func = tt_run_engine;
        tests[n].initial_state = &engines[i];
        n++;
    }
    return _cmocka_run_group_tests("tpcc", tests, n, NULL, NULL);
}
