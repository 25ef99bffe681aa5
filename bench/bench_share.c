/*
 * bench_share.c - `bpbench share`: one shared cache (bp_open BP_ATTACH)
 * used by N threads of one process, then by N processes of one thread
 * each, on the same work; LMDB opened by N processes as the comparison.
 *
 * Work (identical for every row): R records of 64 bytes, record r at byte
 * (r % per_page) * 64 of page r / per_page of an 8 KiB-page data file.
 * Each worker does ops operations on records drawn uniformly with its own
 * seed (the same seeds for threads and processes): "read" fixes the page
 * shared and reads the record; "update" (--writes percent of them) fixes
 * it exclusive, increments the record's counter and unfixes it dirty.
 * LMDB does mdb_get in a read transaction per read and a put in a write
 * transaction per update (MDB_NOSYNC: neither side syncs per operation).
 * The hit workload has two more rows.  "thr-own": N threads of one
 * process, each with its own pool on the cache, so its own window, as
 * each process has: procs/thr-own is what a process costs beyond its
 * window.  "mem": the same reads without any library, one access at a
 * time, from one plain MAP_SHARED mapping of a tmpfs file (memfd) of the
 * hot pages, by N threads and by N processes: what separate address
 * spaces cost on the machine for the same memory accesses.
 *
 * Start state: warm.  The parent attaches the cache and reads every page
 * (and LMDB's file is read once) before any timed row, and stays attached,
 * so the cache stays warm between rows.  The cache holds every page; the
 * window (per process) holds a quarter of them, so window misses remap.
 * A row's time runs from a shared start flag to the last worker's end of
 * its loop; no worker closes its pool or map, or exits, before every
 * worker of the row has ended its loop (sh_finish), for any kind;
 * rows alternate threads and processes, --reps times.  A rate column is
 * the kind's median repetition; a ratio column is the median of the
 * per-repetition ratios (the two kinds of one repetition ran a second
 * apart, so a slow spell of the machine weighs on both), and the
 * processes/threads ratio of every repetition is printed under the row.
 */
#include "bench.h"
#include "bench_out.h"
#include "bench_run.h"
#include "bench_util.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SH_PSZ 8192u
#define SH_REC 64u
#define SH_PER (SH_PSZ / SH_REC)

typedef struct sh_opts {
    uint64_t records, ops, writes, reps, nmax;
    int workloads; /* bit 0: hit, bit 1: kv */
    const char *dir;
    int quick;
    bo_outopts out;
} sh_opts;

#define SH_SAMPLE 255u /* every 256th op of a worker is timed */

typedef struct sh_ctx {
    sh_opts o;
    uint64_t range, writes; /* this workload: records drawn, update % */
    char dir[512], data[600], shm[96]; /* dir: LMDB's too */
    uint64_t pages;
    _Atomic int *go; /* shared start flag (MAP_SHARED | MAP_ANONYMOUS) */
    _Atomic int *ready; /* workers warmed up, waiting for go */
    _Atomic int *done;  /* workers past the end of their timed loop */
    _Atomic int *failed; /* workers that gave up (they count as done) */
    int nworkers;       /* of the row being run */
    _Atomic uint64_t *ends; /* worker i's end of timed loop (monotonic ns) */
    int memfd;              /* the baseline's hot pages (tmpfs) */
    uint64_t mem_bytes;
    char *lat;              /* worker i's bo_hist at lat + i * lat_sz
                               (MAP_SHARED, nmax of them) */
    size_t lat_sz;
    atomic_int pg_row;      /* rows run, for the progress lines */
} sh_ctx;

/* Worker idx's histogram of its sampled ops. */
static bo_hist *sh_lat(const sh_ctx *c, int idx)
{
    return (bo_hist *)(c->lat + (size_t)idx * c->lat_sz);
}

/* ---- one worker's loop -------------------------------------------------- */

/* The end of worker idx's timed loop: its time recorded, it waits (napping,
 * so that it takes no CPU from the others) until every worker of the row
 * has got there.  Only then does a worker close its pool or map, or its
 * process exit: one process tearing down a window of tens of thousands of
 * mappings while another still ran slowed the other by up to half on this
 * machine, and threads close theirs only after all are joined. */
static void sh_finish(const sh_ctx *c, int idx)
{
    struct timespec nap = {0, 200000};

    atomic_store(&c->ends[idx], bu_now_ns());
    atomic_fetch_add(c->done, 1);
    while (atomic_load(c->done) < c->nworkers)
        nanosleep(&nap, NULL);
}

/* A worker warmed up: it waits for the row's start flag. */
static void sh_ready(const sh_ctx *c)
{
    atomic_fetch_add(c->ready, 1);
    while (!atomic_load_explicit(c->go, memory_order_acquire))
        ;
}

/* A worker that failed, before or after it was ready: no one waits for
 * it (sh_finish, and the row's wait for every worker to be ready). */
static void sh_abandon(const sh_ctx *c)
{
    atomic_fetch_add(c->failed, 1);
    atomic_fetch_add(c->done, 1);
}

static int sh_open(const sh_ctx *c, bp_pool **out)
{
    bp_pool *p = NULL;
    int rc = bp_create(&p, NULL);

    if (rc == 0 && (rc = bp_set_page_size(p, SH_PSZ)) == 0 &&
        (rc = bp_set_cache_frames(p, c->pages + 64)) == 0 &&
        (rc = bp_set_window_slots(p, c->pages / 4 + 16)) == 0 &&
        (rc = bp_set_shm(p, c->shm, 0)) == 0)
        rc = bp_open(p, c->data, BP_ATTACH);
    if (rc) {
        fprintf(stderr, "bpbench share: bp_open: %s: %s\n", bp_strerror(rc),
                p ? bp_errmsg(p) : "");
        bp_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

static int sh_work_pool(const sh_ctx *c, bp_pool *p, uint64_t seed,
                        int idx)
{
    bu_rng r;
    bp_page pg;

    bu_rng_seed(&r, c->o.records ^ 0x5eed, seed, 1);
    /* untimed: this process's window shows the range (as far as it can),
     * every 4 KiB of it touched once, as the baseline's mapping is: a
     * first touch can cost a fault even where the page tables were
     * populated (a shadow-paging hypervisor fills its own tables then) */
    for (uint64_t pgno = 0; pgno * SH_PER < c->range; pgno++) {
        uint64_t sum = 0;
        int rc = bp_fix(p, pgno, BP_SHARED, &pg);
        if (rc)
            return rc;
        for (size_t off = 0; off < SH_PSZ; off += 4096)
            sum += *(const volatile char *)((const char *)pg.data + off);
        __asm__ volatile("" : : "r"(sum));
        bp_unfix(p, &pg, 0);
    }
    sh_ready(c);
    bo_hist *lat = sh_lat(c, idx);
    for (uint64_t i = 0; i < c->o.ops; i++) {
        uint64_t rec = bu_rng_below(&r, c->range);
        int upd = bu_rng_below(&r, 100) < c->writes, rc;
        uint64_t *v, s0 = (i & SH_SAMPLE) == 0 ? bo_ticks() : 0;

        rc = bp_fix(p, rec / SH_PER, upd ? BP_EXCLUSIVE : BP_SHARED, &pg);
        if (rc)
            return rc;
        v = (uint64_t *)((char *)pg.data + (rec % SH_PER) * SH_REC);
        if (upd)
            (*v)++;
        else
            __asm__ volatile("" : : "r"(*v));
        if ((rc = bp_unfix(p, &pg, upd ? BP_DIRTY : 0)) != 0)
            return rc;
        if ((i & SH_SAMPLE) == 0)
            bo_hist_add(lat, bo_ticks_to_ns(bo_ticks() - s0));
    }
    sh_finish(c, idx);
    return 0;
}

static int sh_work_lmdb(const sh_ctx *c, MDB_env *env, MDB_dbi dbi,
                        uint64_t seed, int idx)
{
    bu_rng r;

    bu_rng_seed(&r, c->o.records ^ 0x5eed, seed, 1);
    { /* untimed: this process's map shows the range */
        MDB_txn *t;
        int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &t);
        if (rc)
            return -rc;
        for (uint64_t rec = 0; rec < c->range && rc == 0; rec += SH_PER / 2) {
            MDB_val k = {sizeof rec, &rec}, d;
            rc = mdb_get(t, dbi, &k, &d);
        }
        mdb_txn_abort(t);
        if (rc)
            return -rc;
    }
    sh_ready(c);
    bo_hist *lat = sh_lat(c, idx);
    for (uint64_t i = 0; i < c->o.ops; i++) {
        uint64_t rec = bu_rng_below(&r, c->range), v;
        int upd = bu_rng_below(&r, 100) < c->writes, rc;
        uint64_t s0 = (i & SH_SAMPLE) == 0 ? bo_ticks() : 0;
        MDB_val k = {sizeof rec, &rec}, d;
        MDB_txn *t;

        if ((rc = mdb_txn_begin(env, NULL, upd ? 0 : MDB_RDONLY, &t)) != 0)
            return -rc;
        if ((rc = mdb_get(t, dbi, &k, &d)) != 0) {
            mdb_txn_abort(t);
            return -rc;
        }
        memcpy(&v, d.mv_data, sizeof v);
        if (upd) {
            char buf[SH_REC] = {0};
            v++;
            memcpy(buf, &v, sizeof v);
            d.mv_data = buf;
            d.mv_size = SH_REC;
            if ((rc = mdb_put(t, dbi, &k, &d, 0)) != 0 ||
                (rc = mdb_txn_commit(t)) != 0)
                return -rc;
        } else {
            mdb_txn_abort(t);
        }
        if ((i & SH_SAMPLE) == 0)
            bo_hist_add(lat, bo_ticks_to_ns(bo_ticks() - s0));
    }
    sh_finish(c, idx);
    return 0;
}

/* The baseline: the reads of sh_work_pool from a plain mapping of the hot
 * pages (record rec at the same page and offset as in the data file). */
static int sh_work_mem(const sh_ctx *c, const char *base, uint64_t seed,
                       int idx)
{
    uint64_t sum = 0;
    bu_rng r;

    bu_rng_seed(&r, c->o.records ^ 0x5eed, seed, 1);
    for (uint64_t off = 0; off < c->mem_bytes; off += 4096) /* untimed */
        sum += *(const volatile char *)(base + off);
    sh_ready(c);
    for (uint64_t i = 0, last = 0; i < c->o.ops; i++) {
        /* last is 0 (the file is zeroes), but the next address waits for
         * it: one access at a time, as a fix's chain of loads is */
        uint64_t rec = bu_rng_below(&r, c->range) ^ last;
        int upd = bu_rng_below(&r, 100) < c->writes;
        const uint64_t *v = (const uint64_t *)(base + (rec / SH_PER) * SH_PSZ +
                                               (rec % SH_PER) * SH_REC);
        (void)upd; /* drawn as the pool's loop does: the same records */
        last = __atomic_load_n(v, __ATOMIC_RELAXED);
        sum += last;
    }
    sh_finish(c, idx);
    __asm__ volatile("" : : "r"(sum));
    return 0;
}

static const char *sh_mem_map(const sh_ctx *c)
{
    void *m = mmap(NULL, c->mem_bytes, PROT_READ, MAP_SHARED | MAP_POPULATE,
                   c->memfd, 0);

    return m == MAP_FAILED ? NULL : m;
}

static int sh_lmdb_open(const sh_ctx *c, MDB_env **env, MDB_dbi *dbi,
                        int create)
{
    MDB_txn *t;
    int rc;

    if ((rc = mdb_env_create(env)) != 0 ||
        (rc = mdb_env_set_mapsize(*env, (c->o.records * SH_REC * 4) +
                                            (256ull << 20))) != 0 ||
        (rc = mdb_env_set_maxreaders(*env, 256)) != 0 ||
        (rc = mdb_env_open(*env, c->dir, MDB_NOSYNC | MDB_NOTLS,
                           0600)) != 0 ||
        (rc = mdb_txn_begin(*env, NULL, 0, &t)) != 0)
        return -rc;
    if ((rc = mdb_dbi_open(t, NULL, MDB_INTEGERKEY | (create ? MDB_CREATE : 0),
                           dbi)) != 0 ||
        (rc = mdb_txn_commit(t)) != 0)
        return -rc;
    return 0;
}

/* ---- rows ---------------------------------------------------------------- */

enum { SH_THREADS, SH_PROCS, SH_LMDB, SH_OWN, SH_MEM_THREADS, SH_MEM_PROCS,
       SH_KINDS };
static const char *const sh_kind[] = {
    "threads",        "processes",       "lmdb procs", "threads (own windows)",
    "memory threads", "memory processes"};

struct sh_thr {
    const sh_ctx *c;
    bp_pool *p;
    const char *mem; /* the baseline's mapping, or NULL */
    uint64_t seed;
    int idx, rc;
};

static void *sh_thread(void *arg)
{
    struct sh_thr *t = arg;

    t->rc = t->mem ? sh_work_mem(t->c, t->mem, t->seed, t->idx)
                   : sh_work_pool(t->c, t->p, t->seed, t->idx);
    if (t->rc)
        sh_abandon(t->c);
    return NULL;
}

/* The time from t0 to the last worker's end of its timed loop: closing a
 * pool or a process is outside the time, for every kind alike. */
static double sh_span(const sh_ctx *c, int n, uint64_t t0)
{
    uint64_t end = 0;

    for (int i = 0; i < n; i++) {
        uint64_t e = atomic_load(&c->ends[i]);
        if (e < t0)
            return 0;
        end = e > end ? e : end;
    }
    return (double)(end - t0);
}

/* One row: n workers of kind; the wall time in ns, or 0 on failure. */
static double sh_row(sh_ctx *c, int kind, int n)
{
    pid_t pids[256];
    uint64_t t0;
    int ok = 1;

    atomic_store(c->go, 0);
    atomic_store(c->ready, 0);
    atomic_store(c->done, 0);
    atomic_store(c->failed, 0);
    c->nworkers = n;
    for (int i = 0; i < n; i++) {
        atomic_store(&c->ends[i], 0);
        bo_hist_place(sh_lat(c, i));
    }
    if (kind == SH_THREADS || kind == SH_OWN || kind == SH_MEM_THREADS) {
        struct sh_thr th[256];
        pthread_t tid[256];
        const char *mem = NULL;
        bp_pool *p[256] = {NULL};
        int np = kind == SH_OWN ? n : kind == SH_THREADS;

        /* SH_OWN: a pool (so a window) per thread, all on the one cache */
        for (int i = 0; i < np; i++)
            if (sh_open(c, &p[i]) != 0)
                ok = 0;
        if (kind == SH_MEM_THREADS && (mem = sh_mem_map(c)) == NULL)
            ok = 0;
        if (!ok) {
            for (int i = 0; i < np; i++)
                bp_close(p[i]);
            return 0;
        }
        for (int i = 0; i < n; i++) {
            th[i] = (struct sh_thr){c, p[kind == SH_OWN ? i : 0], mem,
                                    (uint64_t)i + 1, i, 0};
            pthread_create(&tid[i], NULL, sh_thread, &th[i]);
        }
        while (atomic_load(c->ready) + atomic_load(c->failed) < n)
            usleep(1000);
        t0 = bu_now_ns();
        atomic_store_explicit(c->go, 1, memory_order_release);
        for (int i = 0; i < n; i++) {
            pthread_join(tid[i], NULL);
            ok &= th[i].rc == 0;
        }
        for (int i = 0; i < np; i++)
            bp_close(p[i]);
        if (mem)
            munmap((void *)mem, c->mem_bytes);
        return ok ? sh_span(c, n, t0) : 0;
    }
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();

        if (pid == 0) {
            int rc;
            if (kind == SH_PROCS) {
                bp_pool *p;
                if ((rc = sh_open(c, &p)) == 0) {
                    rc = sh_work_pool(c, p, (uint64_t)i + 1, i);
                    bp_close(p);
                }
            } else if (kind == SH_MEM_PROCS) {
                const char *mem = sh_mem_map(c);
                rc = mem ? sh_work_mem(c, mem, (uint64_t)i + 1, i) : -errno;
            } else {
                MDB_env *env;
                MDB_dbi dbi;
                if ((rc = sh_lmdb_open(c, &env, &dbi, 0)) == 0) {
                    rc = sh_work_lmdb(c, env, dbi, (uint64_t)i + 1, i);
                    mdb_env_close(env);
                }
            }
            if (rc)
                sh_abandon(c);
            _exit(rc ? 1 : 0);
        }
        pids[i] = pid;
    }
    for (int waited = 0;
         atomic_load(c->ready) + atomic_load(c->failed) < n &&
         waited < 600000;
         waited++) /* every worker attached and warm (or 10 min) */
        usleep(1000);
    t0 = bu_now_ns();
    atomic_store_explicit(c->go, 1, memory_order_release);
    for (int i = 0; i < n; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    return ok ? sh_span(c, n, t0) : 0;
}

/* The median over the reps of kind a's rate over kind b's (w: times). */
static double sh_ratio(double w[][100], int a, int b, uint64_t reps)
{
    double q[100];

    for (uint64_t r = 0; r < reps; r++)
        q[r] = w[b][r] / w[a][r];
    return bu_median(q, reps);
}

/* ---- set-up and main ----------------------------------------------------- */

static int sh_load(sh_ctx *c, bp_pool **keeper)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *t;
    bp_page pg;
    int rc;

    double secs;
    char err[256];

    if ((rc = bu_data_file_create(c->data, SH_PSZ, c->pages, &secs, err,
                                  sizeof err)) != 0) {
        fprintf(stderr, "bpbench share: %s\n", err);
        return rc;
    }
    if ((rc = sh_open(c, keeper)) != 0)
        return rc;
    for (uint64_t i = 0; i < c->pages; i++) { /* zero counters, warm */
        if ((rc = bp_fix(*keeper, i, BP_EXCLUSIVE, &pg)) != 0)
            return rc;
        memset(pg.data, 0, SH_PSZ);
        bp_unfix(*keeper, &pg, BP_DIRTY);
    }
    if ((rc = bp_flush(*keeper)) != 0)
        return rc;
    if ((rc = sh_lmdb_open(c, &env, &dbi, 1)) != 0)
        return rc;
    if ((rc = mdb_txn_begin(env, NULL, 0, &t)) != 0)
        return -rc;
    for (uint64_t r = 0; r < c->o.records && rc == 0; r++) {
        char buf[SH_REC] = {0};
        MDB_val k = {sizeof r, &r}, d = {SH_REC, buf};
        rc = mdb_put(t, dbi, &k, &d, MDB_APPEND);
    }
    if (rc == 0)
        rc = mdb_txn_commit(t);
    else
        mdb_txn_abort(t);
    if (rc == 0)
        rc = mdb_env_sync(env, 1);
    mdb_env_close(env);
    return -rc;
}

/* The pages of the hit workload: as many as a window holds. */
static uint64_t sh_hot_pages(const sh_ctx *c)
{
    return c->pages / 4 ? c->pages / 4 : 1;
}

/* The baseline's tmpfs file: the hot pages of the hit workload, written
 * once so that every page exists before any mapping. */
static int sh_mem_create(sh_ctx *c)
{
    char *m;

    c->mem_bytes = sh_hot_pages(c) * SH_PSZ;
    if ((c->memfd = memfd_create("bpbench-share", MFD_CLOEXEC)) < 0)
        return -errno;
    if (ftruncate(c->memfd, (off_t)c->mem_bytes) != 0)
        return -errno;
    m = mmap(NULL, c->mem_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
             c->memfd, 0);
    if (m == MAP_FAILED)
        return -errno;
    memset(m, 0, c->mem_bytes);
    munmap(m, c->mem_bytes);
    return 0;
}

static const char sh_intro[] =
"N threads of one process vs N processes on one shared cache (BP_ATTACH),\n"
"and LMDB by N processes; N = 1, 2 and --procs.  Rates are Mop/s of all N\n"
"workers; latency percentiles per op (read or update) from every 256th op\n"
"of each worker timed with the TSC (its cost subtracted); the memory\n"
"baseline rows have none.\n";

static int sh_opt_workload(void *dst, const char *cmd, const char *opt,
                           const char *v)
{
    if (strcmp(v, "hit") != 0 && strcmp(v, "kv") != 0 &&
        strcmp(v, "both") != 0) {
        fprintf(stderr, "bpbench %s: --%s: '%s'; give hit, kv or both\n", cmd,
                opt, v);
        return -1;
    }
    *(int *)dst = v[0] == 'h' ? 1 : v[0] == 'k' ? 2 : 3;
    return 0;
}

/* 0, 1 for --help (printed), -1 on a usage error (printed). */
static int sh_parse(sh_opts *o, int argc, char **argv)
{
    *o = (sh_opts){.writes = 10, .workloads = 3};
    const bo_optdef defs[] = {
        BO_OPT("quick", NULL, BO_FLAG, &o->quick, 0, 0, NULL,
               "200000 records, 200000 ops per worker, 1 rep"),
        BO_OPT("records", NULL, BO_U64, &o->records, SH_PER, 1ull << 32,
               "N", "records of 64 bytes (default: 10000000, --quick "
               "200000)"),
        BO_OPT("ops", NULL, BO_U64, &o->ops, 1000, 1ull << 40, "N",
               "operations per worker (default: 2000000, --quick 200000)"),
        BO_OPT("writes", NULL, BO_U64, &o->writes, 0, 100, "PCT",
               "percent of updates in the kv workload (default: 10)"),
        BO_OPT("reps", NULL, BO_U64, &o->reps, 1, 100, "N",
               "repetitions, median reported (default: 3, --quick 1)"),
        BO_OPT("procs", "threads", BO_U64, &o->nmax, 1, 256, "N",
               "the largest N of workers, threads and processes alike "
               "(default: the online CPUs)"),
        {"workload", NULL, BO_FN, &o->workloads, 0, 0, "KIND",
         "hit (reads of the pages a window holds), kv (every record, "
         "--writes % updates) or both (default: both)", sh_opt_workload, 0},
        BO_OPT("dir", NULL, BO_STR, &o->dir, 0, 0, "DIR",
               "where the data file's temp directory goes (default: "
               "/var/tmp)"),
        BO_OPTS_OUTPUT(&o->out),
    };
    const size_t ndefs = sizeof defs / sizeof defs[0];
    int rc = bo_parse("share", defs, ndefs, argc, argv);
    if (rc > 0)
        bo_usage(stdout, "share", sh_intro, defs, ndefs,
                 "Exit status: 0, 1 on failure, 2 on a usage error.\n");
    if (rc)
        return rc;
    if (!o->records)
        o->records = o->quick ? 200000 : 10000000;
    if (!o->ops)
        o->ops = o->quick ? 200000 : 2000000;
    if (!o->reps)
        o->reps = o->quick ? 1 : 3;
    return 0;
}

static void sh_progress(void *arg, char *line, size_t n)
{
    sh_ctx *c = arg;
    snprintf(line, n, "%d rows run", atomic_load(&c->pg_row));
}

/* The shared start flags, counters, end times and workers' histograms;
 * 0 or -1. */
static int sh_shared(sh_ctx *c)
{
    c->go = br_shared(4096);
    if (!c->go)
        return -1;
    c->ready = c->go + 16;
    c->done = c->go + 24;
    c->failed = c->go + 28;
    c->ends = (_Atomic uint64_t *)((char *)c->go + 128); /* 256 of them */
    c->lat_sz = (bo_hist_size() + 63) & ~(size_t)63;
    c->lat = br_shared(c->lat_sz * c->o.nmax);
    return c->lat ? 0 : -1;
}

enum { SH_NWL = 2, SH_NC = 3 };
typedef struct sh_res {
    double w[SH_KINDS][100]; /* each rep's wall ns */
    bo_hist *lat[SH_KINDS];  /* sampled ops, every rep */
} sh_res;

static const char *const sh_kind_key[SH_KINDS] = {
    "threads", "processes", "lmdb-processes", "threads-own-windows",
    "memory-threads", "memory-processes"};

/* The kinds of workload wl at n workers, every rep; 0 or -1 (said why). */
static int sh_rows(sh_ctx *c, int kinds, int n, sh_res *res)
{
    for (uint64_t r = 0; r < c->o.reps; r++)
        for (int kind = 0; kind < kinds; kind++) {
            res->w[kind][r] = sh_row(c, kind, n);
            atomic_fetch_add(&c->pg_row, 1);
            if (res->w[kind][r] == 0) { /* a failed row */
                fprintf(stderr, "bpbench share: %s, N = %d failed\n",
                        sh_kind[kind], n);
                return -1;
            }
            if (kind == SH_MEM_THREADS || kind == SH_MEM_PROCS)
                continue;
            for (int i = 0; i < n; i++)
                bo_hist_merge(res->lat[kind], sh_lat(c, i));
        }
    return 0;
}

/* The table line of n workers, its ratios by rep, and its results. */
static void sh_print_row(const sh_ctx *c, int wl, int kinds, int n,
                         sh_res *res, bo_run *run)
{
    double m[SH_KINDS];
    for (int kind = 0; kind < kinds; kind++)
        m[kind] = (double)c->o.ops * n / bu_median(res->w[kind], c->o.reps) *
                  1e3;
    if (kinds == SH_KINDS)
        printf("  %-3d %8.2f %8.2f %8.2f %8.2f  %8.2fx %8.2fx %8.2fx "
               "%8.2fx\n",
               n, m[SH_THREADS], m[SH_OWN], m[SH_PROCS], m[SH_LMDB],
               sh_ratio(res->w, SH_PROCS, SH_THREADS, c->o.reps),
               sh_ratio(res->w, SH_PROCS, SH_OWN, c->o.reps),
               sh_ratio(res->w, SH_PROCS, SH_LMDB, c->o.reps),
               sh_ratio(res->w, SH_MEM_PROCS, SH_MEM_THREADS, c->o.reps));
    else
        printf("  %-3d %8.2f %8.2f %8.2f  %8.2fx %8.2fx\n", n,
               m[SH_THREADS], m[SH_PROCS], m[SH_LMDB],
               sh_ratio(res->w, SH_PROCS, SH_THREADS, c->o.reps),
               sh_ratio(res->w, SH_PROCS, SH_LMDB, c->o.reps));
    if (c->o.reps > 1) {
        printf("#       proc/thr by repetition:");
        for (uint64_t r = 0; r < c->o.reps; r++)
            printf(" %.2f", res->w[SH_THREADS][r] / res->w[SH_PROCS][r]);
        printf("\n");
    }
    for (int kind = 0; kind < kinds; kind++) {
        bo_row *w = bo_row_new(run, "share");
        bo_label_str(w, "workload", wl ? "kv" : "hit");
        bo_label_num(w, "n", n);
        bo_label_str(w, "kind", sh_kind_key[kind]);
        bo_metric(w, "ops_per_s", m[kind] * 1e6);
        if (kind != SH_THREADS)
            bo_metric(w, "ratio_to_threads",
                      sh_ratio(res->w, kind, SH_THREADS, c->o.reps));
        if (bo_hist_count(res->lat[kind]))
            bo_latency(w, "op", res->lat[kind]);
    }
}

/* The latency table of a workload: one line per N and kind. */
static void sh_print_lat(int kinds, const int *counts, int nc,
                         sh_res res[SH_NC])
{
    char lc[5][24];
    printf("# latency per op, every 256th of each worker timed, all reps:\n"
           "# %-3s %-22s %9s %9s %9s %9s %9s\n", "N", "kind", "p50", "p90",
           "p99", "p99.9", "max");
    for (int k = 0; k < nc; k++)
        for (int kind = 0; kind < kinds && kind < SH_MEM_THREADS; kind++) {
            bo_lat_cells(res[k].lat[kind], lc, 0);
            printf("  %-3d %-22s %9s %9s %9s %9s %9s\n", counts[k],
                   sh_kind[kind], lc[0], lc[1], lc[2], lc[3], lc[4]);
        }
}

/* One workload: its rows for every N, its tables; 0 or -1. */
static int sh_workload(sh_ctx *c, int wl, const int *counts, int nc,
                       sh_res res[SH_NC], bo_run *run)
{
    int kinds = wl == 0 ? SH_KINDS : SH_OWN; /* kv: the first three */

    /* hit: reads of the records on the pages a window holds; kv: every
     * record, --writes % updates (window misses remap) */
    c->range = wl == 0 ? sh_hot_pages(c) * SH_PER : c->o.records;
    c->writes = wl == 0 ? 0 : c->o.writes;
    printf("# %s: %" PRIu64 " records, %" PRIu64 "%% updates; "
           "Mop/s of all N workers\n",
           wl == 0 ? "hit (window hits)" : "kv (window misses too)",
           c->range, c->writes);
    if (kinds == SH_KINDS)
        printf("# %-3s %8s %8s %8s %8s  %9s %9s %9s %9s\n", "N", "thr",
               "thr-own", "procs", "lmdb", "proc/thr", "proc/own",
               "proc/lmdb", "mem p/t");
    else
        printf("# %-3s %8s %8s %8s  %9s %9s\n", "N", "thr", "procs",
               "lmdb", "proc/thr", "proc/lmdb");
    for (int k = 0; k < nc; k++) {
        if (sh_rows(c, kinds, counts[k], &res[k]) != 0)
            return -1;
        sh_print_row(c, wl, kinds, counts[k], &res[k], run);
    }
    sh_print_lat(kinds, counts, nc, res);
    return 0;
}

/* The histograms of every workload, N and kind: freed (alloc 0) or
 * allocated; 0 or -1. */
static int sh_res_hists(sh_res res[SH_NWL][SH_NC], int alloc)
{
    for (int wl = 0; wl < SH_NWL; wl++)
        for (int k = 0; k < SH_NC; k++)
            for (int kind = 0; kind < SH_KINDS; kind++) {
                bo_hist **h = &res[wl][k].lat[kind];
                if (!alloc)
                    bo_hist_free(*h);
                else if (!(*h = bo_hist_new()))
                    return -1;
            }
    return 0;
}

static void sh_record_opts(const sh_ctx *c, bo_run *run)
{
    char how[300];
    snprintf(how, sizeof how, "every 256th op of each worker timed alone "
             "with %s (step %.1f ns, cost %.1f ns subtracted)",
             bo_tick_tsc ? "the TSC" : "CLOCK_MONOTONIC",
             bo_tick_resolution_ns(), bo_tick_overhead_ns());
    bo_opt_num(run, "records", (double)c->o.records);
    bo_opt_num(run, "ops", (double)c->o.ops);
    bo_opt_num(run, "writes_pct", (double)c->o.writes);
    bo_opt_num(run, "reps", (double)c->o.reps);
    bo_opt_num(run, "procs", (double)c->o.nmax);
    bo_opt_str(run, "workload",
               (const char *const[]){"", "hit", "kv", "both"}[c->o.workloads]);
    bo_opt_str(run, "latency_sampling", how);
}

/* Files, shared memory, the load, the baseline's memfd: 0 or 1. */
static int sh_setup(sh_ctx *c, bp_pool **keeper)
{
    int rc;
    c->pages = (c->o.records + SH_PER - 1) / SH_PER;
    if (bu_tempdir(c->o.dir ? c->o.dir : "/var/tmp", c->dir,
                   sizeof c->dir) != 0 ||
        bu_shm_name(c->shm, sizeof c->shm) != 0)
        return 1;
    snprintf(c->data, sizeof c->data, "%s/share.db", c->dir);
    for (int i = 0; i < 2; i++) { /* LMDB's files, removed before c->dir */
        char f[700];
        snprintf(f, sizeof f, "%s/%s", c->dir, i ? "lock.mdb" : "data.mdb");
        if (bu_cleanup_add(f, 0) != 0)
            return 1;
    }
    if (sh_shared(c) != 0)
        return 1;
    bu_print_machine(stdout, "# ");
    printf("# bpbench share: %" PRIu64 " records of %u bytes (%" PRIu64
           " pages of %u), %" PRIu64 " ops per worker, %" PRIu64
           "%% updates, warm cache, window a quarter of the pages, "
           "%" PRIu64 " repetitions (rates: the median repetition; "
           "ratios: the median of the repetitions' ratios)\n",
           c->o.records, SH_REC, c->pages, SH_PSZ, c->o.ops, c->o.writes,
           c->o.reps);
    if ((rc = sh_load(c, keeper)) != 0) {
        fprintf(stderr, "bpbench share: load failed: %d\n", rc);
        return 1;
    }
    if ((rc = sh_mem_create(c)) != 0) {
        fprintf(stderr, "bpbench share: memfd for the baseline: %s\n",
                strerror(-rc));
        return 1;
    }
    return 0;
}

int bench_share_main(int argc, char **argv)
{
    static sh_ctx c;
    static sh_res res[SH_NWL][SH_NC];
    bp_pool *keeper = NULL;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int counts[SH_NC], nc = 0, rc;
    bo_run *run = bo_run_begin(argc, argv);

    rc = run ? sh_parse(&c.o, argc, argv) : -2;
    if (rc == 0 && bo_outopts_apply("share", &c.o.out, run))
        rc = -1;
    if (rc == 0 && sh_res_hists(res, 1))
        rc = -2;
    if (rc) {
        if (rc == -2)
            fprintf(stderr, "bpbench share: out of memory\n");
        bo_run_discard(run);
        sh_res_hists(res, 0);
        return rc > 0 ? 0 : rc == -2 ? 1 : 2;
    }
    bo_tick_init();
    if (!c.o.nmax)
        c.o.nmax = (uint64_t)(ncpu > 0 ? ncpu : 1);
    counts[nc++] = 1;
    if (c.o.nmax >= 2)
        counts[nc++] = 2;
    if (c.o.nmax > 2)
        counts[nc++] = (int)c.o.nmax;
    rc = sh_setup(&c, &keeper);
    sh_record_opts(&c, run);
    bo_plot_metric(run, "share", "ops_per_s",
                   "ops/s of all N workers (median)");
    bo_progress_start(sh_progress, &c);
    for (int wl = 0; wl < SH_NWL && rc == 0; wl++)
        if (c.o.workloads & (1 << wl))
            rc = sh_workload(&c, wl, counts, nc, res[wl], run) ? 1 : 0;
    bo_progress_stop();
    if (c.memfd > 0)
        close(c.memfd);
    bp_stats st;
    if (rc == 0 && bp_stats_get(keeper, &st, sizeof st) == 0)
        printf("# backend %s (%s); reader fence: %s\n",
               bp_backend_name((bp_backend)st.backend), st.backend_reason,
               st.reader_fence);
    bp_close(keeper);
    sh_res_hists(res, 0);
    if (rc) {
        bo_run_discard(run);
        return 1;
    }
    return bo_run_finish("share", run);
}
