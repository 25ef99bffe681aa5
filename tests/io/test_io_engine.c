/*
 * test_io_engine.c - the data-file I/O engines (sync, io_uring) and how one
 * is chosen.
 *
 * matrix: for each engine {sync, io_uring} x backend {copy, mmap}: a data
 *   file of stamped pages much larger than the cache, itself much larger
 *   than the window; random fixes (shared or exclusive, up to HELD at once,
 *   unfixed in random order), exclusive ones restamped with the next
 *   generation; flush, close, and the data file read back with plain pread
 *   must hold every page's last generation.  bp_stats must name the engine
 *   ("sync" / "io_uring") and say why (io_reason non-empty), and the engine
 *   must have done reads, writes and a sync.
 *
 * threads: the same engines, THREADS threads on one pool at once (the pool
 *   reads pages outside its locks, so the engine is entered concurrently).
 *   Each thread restamps only its own pages (pgno % THREADS), reads every
 *   page; at the end the file holds each page's last generation.
 *
 * selection: BUFPOOL_IO overrides bp_set_io_engine (sync + option URING
 *   runs sync), a bogus BUFPOOL_IO fails the open with -EINVAL, AUTO runs
 *   io_uring where the kernel allows it and falls back to sync saying why.
 *
 * io_uring refused by the machine (seccomp, io_uring_disabled): its cases
 * are skipped, saying why, and sync still runs.  In a build without
 * liburing (the -m32 build) BP_IO_URING must fail the open with a message
 * naming the missing liburing.
 */
#include "util_test.h"

#include "platform/bp_testing.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PSZ 4096u
#define NPAGES 256u /* data */
#define FRAMES 32u  /* cache */
#define SLOTS 4u    /* window */
#define HELD 3      /* pages fixed at once by one thread (< SLOTS) */
#define OPS 3000
#define THREADS 4
#define THREAD_OPS 1500

/* io_uring on this machine and build: 1 usable, 0 refused (g_uring_why). */
static int g_uring_ok;
static char g_uring_why[600];

struct eng_case {
    bp_io_engine engine;
    bp_backend backend;
};

static struct eng_case c_sync_copy = {BP_IO_SYNC, BP_BACKEND_COPY};
static struct eng_case c_sync_mmap = {BP_IO_SYNC, BP_BACKEND_MMAP};
static struct eng_case c_uring_copy = {BP_IO_URING, BP_BACKEND_COPY};
static struct eng_case c_uring_mmap = {BP_IO_URING, BP_BACKEND_MMAP};
static struct eng_case c_sync_linear = {BP_IO_SYNC, BP_BACKEND_LINEAR};
static struct eng_case c_uring_linear = {BP_IO_URING, BP_BACKEND_LINEAR};

static const char *engine_stat_name(bp_io_engine e)
{
    return e == BP_IO_URING ? "io_uring" : "sync";
}

/* bp_create + util_pool_config + bp_set_io_engine + bp_open.  On failure
 * the handle is closed, *out = NULL, and bp_errmsg() is copied to why. */
static int open_engine(bp_pool **out, const char *path,
                       const struct util_cfg *c, bp_io_engine e, char *why,
                       size_t whylen)
{
    bp_pool *p = NULL;
    int rc;

    *out = NULL;
    if (why && whylen)
        why[0] = '\0';
    if ((rc = bp_create(&p, NULL)) != 0)
        return rc;
    rc = util_pool_config(p, c);
    if (rc == 0)
        rc = bp_set_io_engine(p, e);
    if (rc == 0)
        rc = bp_open(p, path, c->flags);
    if (rc != 0) {
        if (why && whylen)
            snprintf(why, whylen, "%s (%d): %s", bp_strerror(rc), rc,
                     bp_errmsg(p));
        bp_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

static struct util_cfg small_cfg(bp_backend b)
{
    struct util_cfg c = {.backend = b,
                         .page_size = PSZ,
                         .frames = FRAMES,
                         .slots = SLOTS,
                         /* the early-read cases evict a page by fixing
                          * others after it: recency order */
                         .replacement = BP_REPLACE_CLOCK};
    return c;
}

static void need_engine(bp_io_engine e)
{
    if (e == BP_IO_URING && !g_uring_ok) {
        print_message("  io_uring refused here, skipped: %s\n", g_uring_why);
        skip();
    }
}

/* need_engine, and a 64-bit process for linear. */
static void need_case(const struct eng_case *c)
{
    if (c->backend == BP_BACKEND_LINEAR && sizeof(void *) < 8) {
        print_message("  linear needs a 64-bit process, skipped\n");
        skip();
    }
    need_engine(c->engine);
}

static void case_path(char *buf, size_t len, const char *what,
                      const struct eng_case *c)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%s-%s.db", what,
             engine_stat_name(c->engine), util_backend_name(c->backend));
    util_tmp_path(buf, len, name);
}

/* The engine in force is e, with a reason. */
static void check_engine(bp_pool *p, bp_io_engine e)
{
    bp_stats st;
    util_stats(p, &st);
    print_message("  engine %s: %s\n", st.io_engine, st.io_reason);
    assert_string_equal(st.io_engine, engine_stat_name(e));
    assert_true(st.io_reason[0] != '\0');
}

/* ---- matrix: one thread, random fixes ------------------------------------ */

static void test_matrix(void **state)
{
    const struct eng_case *c = *state;
    need_case(c);
    char path[600];
    case_path(path, sizeof path, "matrix", c);
    util_datafile_create(path, PSZ, NPAGES, 0);
    struct util_cfg cfg = small_cfg(c->backend);
    bp_pool *p;
    char why[600];
    int rc = open_engine(&p, path, &cfg, c->engine, why, sizeof why);
    if (rc != 0) {
        print_error("bp_open: %s\n", why);
        fail();
    }
    check_engine(p, c->engine);

    static uint32_t gen[NPAGES];
    memset(gen, 0, sizeof gen);
    bp_page held[HELD];
    int dirty[HELD], nheld = 0;
    uint64_t rng = 0x2545f4914f6cdd1dull + (uint64_t)c->engine * 7 +
                   (uint64_t)c->backend;

    for (int i = 0; i < OPS || nheld > 0; i++) {
        int fix = i < OPS && nheld < HELD && util_rand_below(&rng, 3) != 0;
        if (fix) {
            uint64_t pgno = util_rand_below(&rng, NPAGES);
            int dup = 0;
            for (int h = 0; h < nheld; h++)
                dup |= held[h].pgno == pgno;
            if (dup)
                continue;
            int excl = util_rand_below(&rng, 3) == 0;
            bp_page *pg = &held[nheld];
            rc = bp_fix(p, pgno, excl ? BP_EXCLUSIVE : BP_SHARED, pg);
            if (rc != 0) {
                util_print_rc(p, "bp_fix", rc);
                fail();
            }
            util_assert_stamp(pg->data, PSZ, pgno, gen[pgno]);
            dirty[nheld] = 0;
            if (excl && util_rand_below(&rng, 4) != 0) {
                util_stamp(pg->data, PSZ, pgno, ++gen[pgno]);
                dirty[nheld] = 1;
            }
            nheld++;
        } else if (nheld > 0) {
            int h = (int)util_rand_below(&rng, (uint64_t)nheld);
            assert_int_equal(bp_unfix(p, &held[h], dirty[h] ? BP_DIRTY : 0),
                             0);
            held[h] = held[nheld - 1];
            dirty[h] = dirty[nheld - 1];
            nheld--;
        }
    }
    util_check(p);
    rc = bp_flush(p);
    if (rc != 0) {
        util_print_rc(p, "bp_flush", rc);
        fail();
    }
    bp_stats st;
    util_stats(p, &st);
    print_message("  %s/%s: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
                  " syncs\n", st.io_engine, util_backend_name(st.backend),
                  st.reads, st.writes, st.syncs);
    assert_true(st.reads > 0);
    assert_true(st.writes > 0);
    assert_true(st.syncs > 0);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, gen);
}

/* ---- threads: the engine entered concurrently ---------------------------- */

struct th_shared {
    bp_pool *p;
    uint32_t gen[NPAGES]; /* page i written only by thread i % THREADS */
    int errors;
};

struct th_worker {
    struct th_shared *sh;
    int id;
};

static void *th_main(void *arg)
{
    struct th_worker *w = arg;
    struct th_shared *sh = w->sh;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);

    for (int i = 0; i < THREAD_OPS; i++) {
        uint64_t pgno = util_rand_below(&rng, NPAGES);
        int mine = pgno % THREADS == (uint64_t)w->id;
        int excl = mine && util_rand_below(&rng, 2) == 0;
        bp_page pg;

        if (bp_fix(sh->p, pgno, excl ? BP_EXCLUSIVE : BP_SHARED, &pg) != 0) {
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        uint32_t g = util_page_gen(pg.data, PSZ, pgno);
        /* another thread's page may move on under a shared fix only
         * between fixes; the stamp itself must always be whole */
        if (g == UTIL_GEN_BAD || (mine && g != sh->gen[pgno]))
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
        if (excl) {
            sh->gen[pgno]++;
            util_stamp(pg.data, PSZ, pgno, sh->gen[pgno]);
        }
        if (bp_unfix(sh->p, &pg, excl ? BP_DIRTY : 0) != 0)
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_threads(void **state)
{
    const struct eng_case *c = *state;
    need_case(c);
    char path[600];
    case_path(path, sizeof path, "threads", c);
    util_datafile_create(path, PSZ, NPAGES, 0);
    struct util_cfg cfg = small_cfg(c->backend);
    cfg.slots = 2 * THREADS * 2;
    static struct th_shared sh;
    memset(&sh, 0, sizeof sh);
    char why[600];
    int rc = open_engine(&sh.p, path, &cfg, c->engine, why, sizeof why);
    if (rc != 0) {
        print_error("bp_open: %s\n", why);
        fail();
    }
    check_engine(sh.p, c->engine);

    pthread_t tid[THREADS];
    struct th_worker w[THREADS];
    util_watchdog_start(120, "io engine threads");
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct th_worker){&sh, t};
        assert_int_equal(pthread_create(&tid[t], NULL, th_main, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(tid[t], NULL), 0);
    util_watchdog_stop();
    assert_int_equal(sh.errors, 0);
    util_check(sh.p);
    rc = bp_flush(sh.p);
    if (rc != 0) {
        util_print_rc(sh.p, "bp_flush", rc);
        fail();
    }
    bp_stats st;
    util_stats(sh.p, &st);
    print_message("  %s/%s, %d threads: %" PRIu64 " reads, %" PRIu64
                  " writes\n", st.io_engine, util_backend_name(st.backend),
                  THREADS, st.reads, st.writes);
    assert_true(st.reads > 0);
    assert_int_equal(bp_close(sh.p), 0);
    util_datafile_verify(path, PSZ, NPAGES, sh.gen);
}

/* ---- registered buffers (bp_uring_reg.c) ------------------------------- */

/* Read 8 pages ahead (100, 100 + step, ...) and fix each, waiting for its
 * read if still in flight; restamp pages 40.. (FRAMES / 2 of them, gen 1);
 * bp_flush's result. */
static int ahead_and_flush(bp_pool *p, uint32_t *gen, uint64_t step)
{
    uint64_t ahead[8];
    for (int i = 0; i < 8; i++)
        ahead[i] = 100 + step * (uint64_t)i;
    assert_true(bp_prefetch(p, ahead, 8) >= 0);
    for (int i = 0; i < 8; i++)
        util_fix_verify(p, ahead[i], BP_SHARED, PSZ, 0);
    for (uint64_t pg = 40; pg < 40 + FRAMES / 2; pg++) {
        util_fix_write(p, pg, PSZ, 0, 1);
        gen[pg] = 1;
    }
    return bp_flush(p);
}

enum reg_how { REG_ON, REG_ENV_OFF, REG_REFUSED };

/* On io_uring with backend b: fix misses (the lanes; test_threads takes
 * several lanes at once), read-ahead and a flush of restamped pages go
 * through the registered region when it is on (io_registered bits 2 and
 * 3), through plain reads and writes when BUFPOOL_IO_REGBUF=0 or
 * io_uring_register fails (bits clear); the pages come back right either
 * way and the data file holds the new stamps. */
static void region_run(bp_backend b, enum reg_how how)
{
    need_engine(BP_IO_URING);
    if (b == BP_BACKEND_LINEAR && sizeof(void *) < 8) {
        print_message("  linear needs a 64-bit process, skipped\n");
        skip();
    }
    if (how == REG_REFUSED &&
        bp__test_fault_arm(BP__SYS_BIT(URING_REGISTER), 1, ENOMEM, 1) != 0) {
        print_message("  fault injection compiled out, skipped\n");
        skip();
    }
    char path[600], why[600];
    util_tmp_path(path, sizeof path, "region.db");
    util_datafile_create(path, PSZ, NPAGES, 0);
    struct util_cfg cfg = small_cfg(b);
    bp_pool *p;
    if (how == REG_ENV_OFF)
        setenv("BUFPOOL_IO_REGBUF", "0", 1);
    int rc = open_engine(&p, path, &cfg, BP_IO_URING, why, sizeof why);
    unsetenv("BUFPOOL_IO_REGBUF");
    if (rc != 0) {
        bp__test_fault_disarm();
        print_error("bp_open: %s\n", why);
        fail();
    }
    static uint32_t gen[NPAGES];
    memset(gen, 0, sizeof gen);
    for (uint64_t pg = 0; pg < FRAMES; pg++) /* fix misses */
        util_fix_verify(p, pg, BP_SHARED, PSZ, 0);
    rc = ahead_and_flush(p, gen, 3);
    bp_stats st;
    util_stats(p, &st);
    bp__test_fault_disarm();
    if (rc != 0) {
        util_print_rc(p, "bp_flush", rc);
        fail();
    }
    print_message("  %s, %s: io_registered 0x%x, %" PRIu64 " reads, %" PRIu64
                  " writes\n", util_backend_name(b),
                  how == REG_ON        ? "on"
                  : how == REG_ENV_OFF ? "BUFPOOL_IO_REGBUF=0"
                                       : "register refused",
                  st.io_registered, st.reads, st.writes);
    if (how == REG_ON)
        assert_int_equal(st.io_registered & 12u, 12u);
    else
        assert_int_equal(st.io_registered & 12u, 0);
    for (uint64_t pg = 0; pg < NPAGES; pg += 7) /* misses again, and hits */
        util_fix_verify(p, pg, BP_SHARED, PSZ, gen[pg]);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, gen);
}

/* The split of a region into registered buffers of at most 1 GiB, and the
 * lookup of a page's buffer, at the chunk edges (arithmetic only: a 2.5
 * GiB region would cost 2.5 GiB of shm to test end to end). */
static void test_region_chunks(void **state)
{
    (void)state;
    if (sizeof(void *) < 8) {
        print_message("  a 2.5 GiB region needs a 64-bit process, skipped\n");
        skip();
    }
    const uint64_t G = 1ull << 30, len = 2 * G + G / 2;
    const uintptr_t base = (uintptr_t)(UINT64_C(1) << 40); /* 64-bit */
    assert_int_equal(bp__test_reg_index(base, len, base, 4096), 0);
    assert_int_equal(bp__test_reg_index(base, len, base + G - 4096, 4096), 0);
    assert_int_equal(bp__test_reg_index(base, len, base + G, 65536), 1);
    assert_int_equal(bp__test_reg_index(base, len, base + G - 2048, 4096), -1);
    assert_int_equal(bp__test_reg_index(base, len, base + 2 * G + 4096, 8192),
                     2);
    assert_int_equal(bp__test_reg_index(base, len, base + len - 4096, 4096),
                     2);
    assert_int_equal(bp__test_reg_index(base, len, base + len - 4096, 8192),
                     -1);
    assert_int_equal(bp__test_reg_index(base, len, base + len, 4096), -1);
    assert_int_equal(bp__test_reg_index(base, len, base - 4096, 4096), -1);
    assert_int_equal(bp__test_reg_index(base, 0, base, 4096), -1);
    assert_true(bp__test_reg_chunk_len(base, len, 0, 3) == G);
    assert_true(bp__test_reg_chunk_len(base, len, 1, 3) == G);
    assert_true(bp__test_reg_chunk_len(base, len, 2, 3) == G / 2);
    assert_true(bp__test_reg_chunk_len(base, len, 3, 3) == 0);
    assert_true(bp__test_reg_chunk_len(base, len, 0, 2) == 0); /* no room */
    assert_true(bp__test_reg_chunk_len(base, 64 << 20, 0, 1) == 64 << 20);
}

static void test_region_copy(void **state)
{
    enum reg_how *how = *state;
    region_run(BP_BACKEND_COPY, *how);
}

static void test_region_linear(void **state)
{
    enum reg_how *how = *state;
    region_run(BP_BACKEND_LINEAR, *how);
}

/* ---- staged reads (bp_iomem.c) ----------------------------------------- */

static void sel_path(char *buf, size_t len); /* selection, below */

struct stage_case {
    bp_backend backend;
    bp_io_engine engine;
    bp_io_stage option;
    const char *env;   /* BUFPOOL_IO_STAGE, or NULL */
    unsigned want;     /* io_staged & 7 after open */
    int short_reads;   /* every data-file read comes back half done */
    const char *early; /* BUFPOOL_IO_EARLY, or NULL */
    int eio;           /* the first data-file read fails with EIO */
};

/* Reads land where the case says (io_staged bits 0: read-ahead, 1: fix
 * misses, 2: fix misses read early, counted in reads_early), and either
 * way every page comes back right: fix misses (with short_reads, each
 * continued from where the last half stopped, through the landing page
 * again; with eio, the first one's read fails and the page is read again
 * the plain way), read-ahead, and a flush of restamped pages (writes go
 * from the frames) that the data file then holds. */
static void test_staged(void **state)
{
    const struct stage_case *c = *state;
    need_engine(c->engine);
    if (c->backend == BP_BACKEND_LINEAR && sizeof(void *) < 8) {
        print_message("  linear needs a 64-bit process, skipped\n");
        skip();
    }
    char path[600];
    util_tmp_path(path, sizeof path, "staged.db");
    util_datafile_create(path, PSZ, NPAGES, 0);
    struct util_cfg cfg = small_cfg(c->backend);
    bp_pool *p;
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, &cfg), 0);
    assert_int_equal(bp_set_io_engine(p, c->engine), 0);
    assert_int_equal(bp_set_io_stage(p, (bp_io_stage)7), -EINVAL);
    assert_int_equal(bp_set_io_stage(NULL, BP_STAGE_ON), -EINVAL);
    assert_int_equal(bp_set_io_stage(p, c->option), 0);
    if (c->env)
        setenv("BUFPOOL_IO_STAGE", c->env, 1);
    if (c->early)
        setenv("BUFPOOL_IO_EARLY", c->early, 1);
    int rc = bp_open(p, path, 0);
    unsetenv("BUFPOOL_IO_STAGE");
    unsetenv("BUFPOOL_IO_EARLY");
    assert_int_equal(rc, 0);
    assert_int_not_equal(bp_set_io_stage(p, BP_STAGE_ON), 0); /* too late */
    bp_stats st;
    util_stats(p, &st);
    print_message("  %s/%s, option %d, env %s: io_staged 0x%x\n",
                  st.io_engine, util_backend_name(st.backend), (int)c->option,
                  c->env ? c->env : "-", st.io_staged);
    assert_int_equal(st.io_staged & 7u, c->want);
    if ((c->short_reads &&
         bp__test_fault_arm(BP__SYS_DATA_READ, 1, BP__SYS_SHORT, 1) != 0) ||
        (c->eio && bp__test_fault_arm(BP__SYS_DATA_READ, 1, EIO, 0) != 0)) {
        bp_close(p);
        print_message("  fault injection compiled out, skipped\n");
        skip();
    }
    static uint32_t gen[NPAGES];
    memset(gen, 0, sizeof gen);
    for (uint64_t pg = 0; pg < 2 * FRAMES; pg++) /* fix misses, evictions */
        util_fix_verify(p, pg, BP_SHARED, PSZ, 0);
    if (c->short_reads)
        assert_true(bp__test_fault_hits() >= 2 * FRAMES);
    if (c->eio)
        assert_int_equal(bp__test_fault_hits(), 1);
    bp__test_fault_disarm();
    util_stats(p, &st);
    if (c->want & 4) /* every miss above read early (but the failed) */
        assert_true(st.reads_early >= 2 * FRAMES - (c->eio ? 1 : 0));
    else
        assert_int_equal(st.reads_early, 0);
    assert_int_equal(ahead_and_flush(p, gen, 5), 0);
    for (uint64_t pg = 0; pg < NPAGES; pg += 7) /* misses again, and hits */
        util_fix_verify(p, pg, BP_SHARED, PSZ, gen[pg]);
    util_stats(p, &st);
    if (c->want & 1) /* staged read-ahead never lands in a frame directly */
        assert_int_equal(st.prefetch_direct, 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, NPAGES, gen);
}

/* Early reads against a page changed meanwhile: the first early read of
 * page EARLY_PG is held up (bp__test_early_hook) while another thread fixes
 * the page, restamps it, flushes it and pushes it out of the cache again.
 * The early bytes are then older than the data file's, and the fix must
 * drop them and read the page again: it sees the new stamp. */
#define EARLY_PG 3u

struct early_race {
    bp_pool *p;
    int fired;
    uint64_t pushed; /* EARLY_PG out of the cache afterwards */
};

static void *early_changer(void *arg)
{
    struct early_race *r = arg;
    bp_page pg;

    if (bp_fix(r->p, EARLY_PG, BP_EXCLUSIVE, &pg) != 0)
        return NULL;
    util_stamp(pg.data, PSZ, EARLY_PG, 1);
    if (bp_unfix(r->p, &pg, BP_DIRTY) != 0 || bp_flush(r->p) != 0)
        return NULL;
    for (uint64_t q = EARLY_PG + 1; q < EARLY_PG + 1 + 3 * FRAMES; q++)
        if (bp_fix(r->p, q, BP_SHARED, &pg) == 0)
            (void)bp_unfix(r->p, &pg, 0);
    r->pushed = bp__test_frame_offset(r->p, EARLY_PG) == UINT64_MAX;
    return NULL;
}

static void early_hook(void *arg, uint64_t pgno)
{
    struct early_race *r = arg;
    pthread_t t;

    if (pgno != EARLY_PG || r->fired) /* the changer's own miss too */
        return;
    r->fired = 1;
    if (pthread_create(&t, NULL, early_changer, r) == 0)
        pthread_join(t, NULL);
}

/* A linear pool on io_uring with staged, early reads over a fresh data
 * file at path (named name), its WAL callback fn when not NULL; skips
 * where io_uring or linear cannot run. */
static bp_pool *open_early(bp_backend b, char *path, size_t len,
                           const char *name, bp_log_flush_fn fn, void *ctx)
{
    need_engine(BP_IO_URING);
    if (b == BP_BACKEND_LINEAR && sizeof(void *) < 8) {
        print_message("  linear needs a 64-bit process, skipped\n");
        skip();
    }
    util_tmp_path(path, len, name);
    util_datafile_create(path, PSZ, NPAGES, 0);
    struct util_cfg cfg = small_cfg(b);
    bp_pool *p;
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, &cfg), 0);
    assert_int_equal(bp_set_io_engine(p, BP_IO_URING), 0);
    assert_int_equal(bp_set_io_stage(p, BP_STAGE_ON), 0);
    /* the "LSN" is whatever the stamp holds there: always beyond 0 */
    if (fn)
        assert_int_equal(bp_set_wal(p, 64, fn, ctx), 0);
    assert_int_equal(bp_open(p, path, 0), 0);
    bp_stats st;
    util_stats(p, &st);
    assert_int_equal(st.io_staged & 4u, 4u);
    return p;
}

static void test_early_stale(void **state)
{
    bp_backend b = *(const bp_backend *)*state;
    char path[600];
    struct early_race r = {0};
    bp_pool *p = open_early(b, path, sizeof path, "early.db", NULL, NULL);
    r.p = p;
    if (bp__test_early_hook(early_hook, &r) != 0) {
        bp_close(p);
        print_message("  test hooks compiled out, skipped\n");
        skip();
    }
    util_fix_verify(p, EARLY_PG, BP_SHARED, PSZ, 1);
    bp__test_early_hook(NULL, NULL);
    assert_int_equal(r.fired, 1);
    assert_true(r.pushed); /* the race really happened */
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    static uint32_t gen[NPAGES];
    memset(gen, 0, sizeof gen);
    gen[EARLY_PG] = 1;
    util_datafile_verify(path, PSZ, NPAGES, gen);
}

/* A miss inside a miss: evicting a dirty page calls the WAL callback,
 * which fixes pages of the same pool (misses of their own, read the plain
 * way) while the outer miss's early read is in flight.  Every page comes
 * back right, each outer miss read early exactly once, and the nested
 * misses read once each. */
struct nest_log {
    bp_pool *p;
    uint64_t next, fixed;
    int bad, inside; /* no fix from a callback inside a callback's fix */
};

static int nest_flush(void *ctx, uint64_t lsn)
{
    struct nest_log *l = ctx;
    uint64_t pg = NPAGES - 1 - l->next % 64;
    bp_page h;
    int rc;

    (void)lsn;
    if (l->inside)
        return 0;
    l->inside = 1;
    l->next++;
    rc = bp_fix(l->p, pg, BP_SHARED, &h);
    l->inside = 0;
    if (rc != 0) {
        print_message("  nested fix of %llu: %s: %s\n",
                      (unsigned long long)pg, bp_strerror(rc),
                      bp_errmsg(l->p));
        l->bad++;
    } else {
        l->bad += util_page_gen(h.data, PSZ, pg) != 0;
        l->fixed++;
        (void)bp_unfix(l->p, &h, 0);
    }
    return 0;
}

static void test_early_nested(void **state)
{
    bp_backend b = *(const bp_backend *)*state;
    char path[600];
    struct nest_log log = {0};
    bp_pool *p =
        open_early(b, path, sizeof path, "nested.db", nest_flush, &log);
    log.p = p;
    bp_stats st;
    for (uint64_t pg = 0; pg < FRAMES; pg++) { /* dirty, unchanged */
        bp_page h;
        assert_int_equal(bp_fix(p, pg, BP_EXCLUSIVE, &h), 0);
        assert_int_equal(bp_unfix(p, &h, BP_DIRTY), 0);
    }
    for (uint64_t pg = FRAMES; pg < 2 * FRAMES; pg++) /* evict them */
        util_fix_verify(p, pg, BP_SHARED, PSZ, 0);
    util_stats(p, &st);
    print_message("  %llu nested fixes, reads %llu, early %llu\n",
                  (unsigned long long)log.fixed,
                  (unsigned long long)st.reads,
                  (unsigned long long)st.reads_early);
    assert_int_equal(log.bad, 0);
    assert_true(log.fixed > 0);
    assert_int_equal(st.reads_early, 2 * FRAMES);
    assert_true(st.reads >= 2 * FRAMES);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    static uint32_t gen[NPAGES];
    memset(gen, 0, sizeof gen);
    util_datafile_verify(path, PSZ, NPAGES, gen);
}

/* The copy backend's window (where its reads land) is advised into huge
 * pages when io_staged bit 3 says I/O buffers are, and
 * BUFPOOL_IO_HUGEPAGE=0 turns that off. */
static void test_hugepage_window(void **state)
{
    (void)state;
    char path[600];
    util_tmp_path(path, sizeof path, "thp.db");
    util_datafile_create(path, PSZ, 2048, 0);
    for (int off = 0; off < 2; off++) {
        struct util_cfg cfg = small_cfg(BP_BACKEND_COPY);
        cfg.frames = 2048;
        cfg.slots = 1024; /* a 4 MiB window: two huge pages at least */
        bp_pool *p;
        char why[600];
        if (off)
            setenv("BUFPOOL_IO_HUGEPAGE", "0", 1);
        int rc = open_engine(&p, path, &cfg, BP_IO_AUTO, why, sizeof why);
        unsetenv("BUFPOOL_IO_HUGEPAGE");
        if (rc != 0) {
            print_error("bp_open: %s\n", why);
            fail();
        }
        bp_stats st;
        util_stats(p, &st);
        util_fix_verify(p, 5, BP_SHARED, PSZ, 0);
        bp_page pg;
        assert_int_equal(bp_fix(p, 5, BP_SHARED, &pg), 0);
        const char *blind = util_smaps_thp_unfaithful();
        int e = blind ? -1 : util_thp_eligible(pg.data);
        bp_unfix(p, &pg, 0);
        if (blind)
            print_message("  THPeligible not checked: %s\n", blind);
        print_message("  BUFPOOL_IO_HUGEPAGE %s: io_staged 0x%x, window "
                      "THPeligible %d\n", off ? "0" : "unset", st.io_staged,
                      e);
        if (off)
            assert_int_equal(st.io_staged & 8u, 0);
        else if ((st.io_staged & 8u) && e >= 0)
            assert_int_equal(e, 1);
        assert_int_equal(bp_close(p), 0);
    }
}

/* BUFPOOL_IO_STAGE=bogus: the open fails with -EINVAL and says why. */
static void test_stage_env_bogus(void **state)
{
    (void)state;
    char path[600];
    sel_path(path, sizeof path);
    bp_pool *p;
    assert_int_equal(bp_create(&p, NULL), 0);
    setenv("BUFPOOL_IO_STAGE", "sometimes", 1);
    int rc = bp_open(p, path, 0);
    unsetenv("BUFPOOL_IO_STAGE");
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(bp_errmsg(p), "BUFPOOL_IO_STAGE"));
    bp_close(p);
}

/* ---- selection ------------------------------------------------------------ */

static void sel_path(char *buf, size_t len)
{
    util_tmp_path(buf, len, "select.db");
    util_datafile_create(buf, PSZ, 16, 0);
}

/* BUFPOOL_IO=env beats the option: the pool runs engine want, says the
 * environment chose it, and reads page pgno. */
static void env_beats_option(bp_backend b, const char *env, bp_io_engine opt,
                             bp_io_engine want, uint64_t pgno)
{
    char path[600], why[600];
    sel_path(path, sizeof path);
    struct util_cfg cfg = small_cfg(b);
    bp_pool *p;
    setenv("BUFPOOL_IO", env, 1);
    int rc = open_engine(&p, path, &cfg, opt, why, sizeof why);
    unsetenv("BUFPOOL_IO");
    if (rc != 0) {
        print_error("bp_open with BUFPOOL_IO=%s: %s\n", env, why);
        fail();
    }
    check_engine(p, want);
    bp_stats st;
    util_stats(p, &st);
    if (want == BP_IO_SYNC) /* io_uring's reason names the ring instead */
        assert_non_null(strstr(st.io_reason, "BUFPOOL_IO"));
    util_fix_verify(p, pgno, BP_SHARED, PSZ, 0);
    assert_int_equal(bp_close(p), 0);
}

/* BUFPOOL_IO=sync beats the option BP_IO_URING. */
static void test_env_overrides_option(void **state)
{
    (void)state;
    env_beats_option(BP_BACKEND_COPY, "sync", BP_IO_URING, BP_IO_SYNC, 3);
}

/* BUFPOOL_IO=bogus: -EINVAL, whatever the option. */
static void test_env_bogus(void **state)
{
    (void)state;
    char path[600], why[600];
    sel_path(path, sizeof path);
    struct util_cfg cfg = small_cfg(BP_BACKEND_COPY);
    bp_pool *p;
    setenv("BUFPOOL_IO", "bogus", 1);
    int rc = open_engine(&p, path, &cfg, BP_IO_AUTO, why, sizeof why);
    unsetenv("BUFPOOL_IO");
    print_message("  BUFPOOL_IO=bogus: %s\n", why);
    assert_int_equal(rc, -EINVAL);
    assert_null(p);
    assert_non_null(strstr(why, "bogus"));
}

/* BUFPOOL_IO=uring beats the option BP_IO_SYNC (when io_uring is there). */
static void test_env_uring(void **state)
{
    (void)state;
    need_engine(BP_IO_URING);
    env_beats_option(BP_BACKEND_MMAP, "uring", BP_IO_SYNC, BP_IO_URING, 5);
}

/* AUTO: io_uring where allowed, else sync with "fallback: <why>". */
static void test_auto(void **state)
{
    (void)state;
    char path[600], why[600];
    sel_path(path, sizeof path);
    struct util_cfg cfg = small_cfg(BP_BACKEND_COPY);
    bp_pool *p;
    int rc = open_engine(&p, path, &cfg, BP_IO_AUTO, why, sizeof why);
    if (rc != 0) {
        print_error("bp_open with BP_IO_AUTO: %s\n", why);
        fail();
    }
    check_engine(p, g_uring_ok ? BP_IO_URING : BP_IO_SYNC);
    if (!g_uring_ok) {
        bp_stats st;
        util_stats(p, &st);
        assert_non_null(strstr(st.io_reason, "fallback"));
    }
    util_fix_write(p, 7, PSZ, 0, 1);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    uint32_t want[16] = {0};
    want[7] = 1;
    util_datafile_verify(path, PSZ, 16, want);
}

/* A build without liburing refuses BP_IO_URING and says so. */
static void test_uring_without_liburing(void **state)
{
    (void)state;
    if (sizeof(void *) != 4) {
        print_message("  64-bit build: liburing is linked\n");
        skip();
    }
    char path[600], why[600];
    sel_path(path, sizeof path);
    struct util_cfg cfg = small_cfg(BP_BACKEND_COPY);
    bp_pool *p;
    int rc = open_engine(&p, path, &cfg, BP_IO_URING, why, sizeof why);
    print_message("  BP_IO_URING: %s\n", why);
    assert_int_not_equal(rc, 0);
    assert_null(p);
    assert_non_null(strstr(why, "without liburing"));
}

/* Can this machine and build run io_uring at all?  Sets g_uring_ok/why. */
static void probe_uring(void)
{
    char path[600];
    util_tmp_path(path, sizeof path, "probe.db");
    util_datafile_create(path, PSZ, 4, 0);
    struct util_cfg cfg = small_cfg(BP_BACKEND_COPY);
    bp_pool *p;
    int rc = open_engine(&p, path, &cfg, BP_IO_URING, g_uring_why,
                         sizeof g_uring_why);
    g_uring_ok = rc == 0;
    if (g_uring_ok)
        bp_close(p);
    else
        printf("io_uring refused: %s: its cases are skipped\n", g_uring_why);
}

#define ENGINE_CASES(fn)                                                       \
    cmocka_unit_test_prestate(fn, &c_sync_copy),                               \
        cmocka_unit_test_prestate(fn, &c_sync_mmap),                           \
        cmocka_unit_test_prestate(fn, &c_uring_copy),                          \
        cmocka_unit_test_prestate(fn, &c_uring_mmap),                          \
        cmocka_unit_test_prestate(fn, &c_sync_linear),                         \
        cmocka_unit_test_prestate(fn, &c_uring_linear)

static struct stage_case
    s_on = {BP_BACKEND_LINEAR, BP_IO_URING, BP_STAGE_ON, NULL, 7, 0, NULL, 0},
    s_off = {BP_BACKEND_LINEAR, BP_IO_URING, BP_STAGE_OFF, NULL, 0, 0, NULL, 0},
    s_env_off = {BP_BACKEND_LINEAR, BP_IO_URING, BP_STAGE_ON, "off", 0, 0,
                 NULL, 0},
    s_env_on = {BP_BACKEND_LINEAR, BP_IO_URING, BP_STAGE_OFF, "on", 7, 0,
                NULL, 0},
    s_short = {BP_BACKEND_LINEAR, BP_IO_URING, BP_STAGE_ON, NULL, 7, 1, NULL,
               0},
    s_early_off = {BP_BACKEND_LINEAR, BP_IO_URING, BP_STAGE_ON, NULL, 3, 0,
                   "0", 0},
    s_early_eio = {BP_BACKEND_LINEAR, BP_IO_URING, BP_STAGE_ON, NULL, 7, 0,
                   NULL, 1},
    s_sync = {BP_BACKEND_LINEAR, BP_IO_SYNC, BP_STAGE_ON, NULL, 1, 0, NULL, 0},
    s_copy = {BP_BACKEND_COPY, BP_IO_URING, BP_STAGE_ON, NULL, 5, 0, NULL, 0},
    s_copy_off = {BP_BACKEND_COPY, BP_IO_URING, BP_STAGE_OFF, NULL, 0, 0,
                  NULL, 0},
    s_copy_early_off = {BP_BACKEND_COPY, BP_IO_URING, BP_STAGE_ON, NULL, 1, 0,
                        "0", 0},
    s_copy_short = {BP_BACKEND_COPY, BP_IO_URING, BP_STAGE_ON, NULL, 5, 1,
                    NULL, 0},
    s_copy_eio = {BP_BACKEND_COPY, BP_IO_URING, BP_STAGE_ON, NULL, 5, 0, NULL,
                  1},
    s_copy_sync = {BP_BACKEND_COPY, BP_IO_SYNC, BP_STAGE_ON, NULL, 0, 0, NULL,
                   0};
static bp_backend bk_linear = BP_BACKEND_LINEAR, bk_copy = BP_BACKEND_COPY;
static enum reg_how r_on = REG_ON, r_env = REG_ENV_OFF,
                    r_refused = REG_REFUSED;

int main(void)
{
    util_init();
    unsetenv("BUFPOOL_IO"); /* each case asks for its engine */
    probe_uring();
    const struct CMUnitTest tests[] = {
        ENGINE_CASES(test_matrix),
        ENGINE_CASES(test_threads),
        cmocka_unit_test(test_region_chunks),
        cmocka_unit_test_prestate(test_region_copy, &r_on),
        cmocka_unit_test_prestate(test_region_copy, &r_env),
        cmocka_unit_test_prestate(test_region_copy, &r_refused),
        cmocka_unit_test_prestate(test_region_linear, &r_on),
        cmocka_unit_test_prestate(test_region_linear, &r_env),
        cmocka_unit_test_prestate(test_region_linear, &r_refused),
        cmocka_unit_test_prestate(test_staged, &s_on),
        cmocka_unit_test_prestate(test_staged, &s_off),
        cmocka_unit_test_prestate(test_staged, &s_env_off),
        cmocka_unit_test_prestate(test_staged, &s_env_on),
        cmocka_unit_test_prestate(test_staged, &s_short),
        cmocka_unit_test_prestate(test_staged, &s_early_off),
        cmocka_unit_test_prestate(test_staged, &s_early_eio),
        {"test_early_stale/linear", test_early_stale, NULL, NULL, &bk_linear},
        {"test_early_stale/copy", test_early_stale, NULL, NULL, &bk_copy},
        {"test_early_nested/linear", test_early_nested, NULL, NULL,
         &bk_linear},
        {"test_early_nested/copy", test_early_nested, NULL, NULL, &bk_copy},
        cmocka_unit_test_prestate(test_staged, &s_sync),
        cmocka_unit_test_prestate(test_staged, &s_copy),
        cmocka_unit_test_prestate(test_staged, &s_copy_off),
        cmocka_unit_test_prestate(test_staged, &s_copy_early_off),
        cmocka_unit_test_prestate(test_staged, &s_copy_short),
        cmocka_unit_test_prestate(test_staged, &s_copy_eio),
        cmocka_unit_test_prestate(test_staged, &s_copy_sync),
        cmocka_unit_test(test_stage_env_bogus),
        cmocka_unit_test(test_hugepage_window),
        cmocka_unit_test(test_env_overrides_option),
        cmocka_unit_test(test_env_bogus),
        cmocka_unit_test(test_env_uring),
        cmocka_unit_test(test_auto),
        cmocka_unit_test(test_uring_without_liburing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
