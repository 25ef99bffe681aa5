/*
 * bench_wl.c - wl_run_all: one workload on every engine, each in a forked
 * child (so one engine's memory, threads and crashes never touch the next),
 * then the report (bench_wl_report.c).
 *
 * Parent                                Child (one per engine)
 *   temp dir + its files registered
 *   for cleanup; result block mmap'ed
 *   MAP_SHARED; fork (bench_run.h)
 *                  ---------------->    signals to their defaults, dies
 *                                       with the parent; kv_open, load
 *                                       (progress lines), kv_flush,
 *                                       kv_close, size of files
 *                                       (the load is not measured: the
 *                                       bufpool cache may exceed the
 *                                       budget there, as LMDB's page cache
 *                                       is not limited while it loads)
 *                                 <---  'L' on the pipe
 *   out-of-memory mode: drop caches;
 *   LMDB: cgroup limited to the budget,
 *   child's pid into it  ----------->  'G'
 *                                       kv_reopen, worker threads (each
 *                                       timing its operations into its own
 *                                       histograms), sample the counters
 *                                       every interval into the result
 *                                       block until the duration is over
 *                                       (or the --ops are done); stop,
 *                                       join, histograms merged into the
 *                                       result block, check, kv_close,
 *                                       _exit (never exit: the parent's
 *                                       atexit cleanup must not run twice)
 *   wait4; cgroup removed (process
 *   moved out first); files and dir
 *   removed; next engine
 * A SIGINT, SIGTERM, SIGHUP or SIGQUIT kills and reaps the child before
 * the cleanup registry (bench_util.h) removes the files and the cgroup.
 *
 * With o->rounds > 1 the whole sequence of engines runs that many times
 * (round 1: A B, round 2: A B, ...), every run in its own child.
 *
 * A child that fails or dies leaves its reason in the result block (or the
 * parent reports the signal); the other engines still run.
 *
 * Before the first child the parent times the workload's driver alone
 * (wl_driver_ns), on the state every child then starts from.  In
 * out-of-memory mode, after every child, it measures the data disk's own
 * random-read rate with fio (wl_fio_after) for the report's efficiency
 * line.
 */
#include "bench_wl_impl.h"

#include "bench_util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- Load progress ------------------------------------------------------- */

static atomic_uint_fast64_t wl_load_done, wl_load_total;
static char wl_load_label[96]; /* the engine being loaded */

void wl_progress(uint64_t done, uint64_t total)
{
    uint64_t last = atomic_load_explicit(&wl_load_done, memory_order_relaxed);
    while (done > last &&
           !atomic_compare_exchange_weak(&wl_load_done, &last, done))
        ;
    atomic_store_explicit(&wl_load_total, total, memory_order_relaxed);
}

/* What the load's progress line reads. */
typedef struct wl_load_pg {
    uint64_t t0, t_last; /* ns */
    uint64_t done_last;
} wl_load_pg;

/* bo_progress_fn of the load: nothing in its first 3 s, then "load 42%
 * (42000 of 100000 rows), 35000 rows/s, <engine>". */
static void wl_load_line(void *arg, char *line, size_t n)
{
    wl_load_pg *p = arg;
    uint64_t now = bu_now_ns();
    uint64_t done = atomic_load(&wl_load_done),
             total = atomic_load(&wl_load_total);
    double dt = (double)(now - p->t_last) / 1e9;
    double rate = dt > 0 ? (double)(done - p->done_last) / dt : 0;

    p->t_last = now;
    p->done_last = done;
    if (now - p->t0 < 3000000000u || !total)
        return;
    snprintf(line, n, "load %.0f%% (%llu of %llu rows), %.0f rows/s, %s",
             100.0 * (double)done / (double)total, (unsigned long long)done,
             (unsigned long long)total, rate, wl_load_label);
}

/* ---- Engines ------------------------------------------------------------- */

const char *wl_engine_name(const wl_engine *e, char *buf, size_t n)
{
    if (e->kind == KV_LMDB)
        snprintf(buf, n, "lmdb");
    else
        snprintf(buf, n, "bufpool:%s", bp_backend_name(e->backend));
    return buf;
}

/* "bufpool:all": auto, then every backend this build and machine can run
 * (linear needs a 64-bit address space, kmod the bpwin module's device). */
static const bp_backend wl_all_backends[] = {
    BP_BACKEND_AUTO, BP_BACKEND_LINEAR, BP_BACKEND_COPY, BP_BACKEND_RFP,
    BP_BACKEND_MMAP, BP_BACKEND_KMOD};
#define WL_NALL (sizeof wl_all_backends / sizeof wl_all_backends[0])
#define WL_ENGINES_ACCEPTED                                                 \
    "lmdb, bufpool:<backend> or <backend> alone, backend one of auto, "     \
    "rfp, mmap, copy, linear, kmod, all"

static int wl_backend_runs_here(bp_backend b)
{
    if (b == BP_BACKEND_LINEAR)
        return sizeof(void *) >= 8;
    if (b == BP_BACKEND_KMOD)
        return access("/dev/bpwin", F_OK) == 0;
    return 1;
}

/* The backend named s (bp_backend_name's names); -1 when none is. */
static int wl_backend_named(const char *s, bp_backend *out)
{
    for (size_t k = 0; k < WL_NALL; k++)
        if (strcmp(s, bp_backend_name(wl_all_backends[k])) == 0) {
            *out = wl_all_backends[k];
            return 0;
        }
    return -1;
}

/* Append e (named by item on the command line) to o's first *ne engines:
 * -1 with a message when it is there already or the list is full. */
static int wl_add_engine(wl_opts *o, int *ne, wl_engine e, const char *item,
                         const char *what)
{
    char name[64];

    for (int j = 0; j < *ne; j++)
        if (o->engines[j].kind == e.kind &&
            (e.kind == KV_LMDB || o->engines[j].backend == e.backend)) {
            fprintf(stderr, "%s: '%s' repeats %s; give each engine once\n",
                    what, item, wl_engine_name(&e, name, sizeof name));
            return -1;
        }
    if (*ne == 8) {
        fprintf(stderr, "%s: more than 8 engines\n", what);
        return -1;
    }
    o->engines[(*ne)++] = e;
    return 0;
}

/* Every backend that runs here, after the first *ne engines of o. */
static int wl_add_all(wl_opts *o, int *ne, const char *item,
                      const char *what)
{
    for (size_t k = 0; k < WL_NALL; k++)
        if (wl_backend_runs_here(wl_all_backends[k]) &&
            wl_add_engine(o, ne, (wl_engine){KV_BUFPOOL, wl_all_backends[k]},
                          item, what) != 0)
            return -1;
    return 0;
}

/* The engine named b: 0, or -1 when b names none. */
static int wl_engine_named(const char *b, wl_engine *e)
{
    *e = (wl_engine){KV_BUFPOOL, BP_BACKEND_AUTO};
    if (strcmp(b, "lmdb") == 0) {
        e->kind = KV_LMDB;
        return 0;
    }
    if (strncmp(b, "bufpool:", 8) == 0)
        b += 8;
    else if (strcmp(b, "bufpool") == 0)
        return 0;
    return wl_backend_named(b, &e->backend);
}

int wl_parse_engines_as(char *s, wl_opts *o, const char *what)
{
    char *items[8];
    int n = bu_split_list(s, items, 8), ne = 0;
    if (n <= 0) {
        fprintf(stderr, "%s: %s; give 1 to 8 of %s\n", what,
                n < 0 ? "more than 8 engines" : "empty list",
                WL_ENGINES_ACCEPTED);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        wl_engine e;
        if (strcmp(items[i], "bufpool:all") == 0 ||
            strcmp(items[i], "all") == 0) {
            if (wl_add_all(o, &ne, items[i], what) != 0)
                return -1;
            continue;
        }
        if (wl_engine_named(items[i], &e) != 0) {
            fprintf(stderr, "%s: '%s' is not an engine; give %s\n", what,
                    items[i], WL_ENGINES_ACCEPTED);
            return -1;
        }
        if (wl_add_engine(o, &ne, e, items[i], what) != 0)
            return -1;
    }
    o->nengines = ne;
    return 0;
}

int wl_parse_engines(char *s, wl_opts *o)
{
    return wl_parse_engines_as(s, o, "bpbench: --engines");
}

void wl_engine_labels(bo_row *w, const wl_engine *e)
{
    bo_label_str(w, "engine", e->kind == KV_LMDB ? "lmdb" : "bufpool");
    bo_label_str(w, "backend", e->kind == KV_LMDB
                                   ? "none"
                                   : bp_backend_name(e->backend));
}

uint64_t wl_counted(const wl_workload *w, const uint64_t *ops)
{
    if (w->main_kind >= 0)
        return ops[w->main_kind];
    uint64_t n = 0;
    for (int k = 0; k < w->nkinds; k++)
        n += ops[k];
    return n;
}

int wl_rounds(const wl_opts *o)
{
    return o->rounds > 1 ? o->rounds : 1;
}

/* ---- The child ----------------------------------------------------------- */

typedef struct wl_worker {
    const wl_workload *w;
    kv *k;
    int tid;
    wl_counters *c;
    const int *stop;
    atomic_int *done; /* workers whose run returned */
    int rc;
    uint64_t end_ns;  /* when its run returned */
    pthread_t th;
} wl_worker;

static void *wl_worker_main(void *arg)
{
    wl_worker *x = arg;
    x->rc = x->w->run(x->k, x->w->arg, x->tid, x->c, x->stop);
    x->end_ns = bu_now_ns();
    atomic_fetch_add(x->done, 1);
    return NULL;
}

/* Sum the workers' counters (each slot read atomically). */
static void wl_sum(const wl_counters *c, int n, wl_counters *out)
{
    memset(out, 0, sizeof *out);
    for (int t = 0; t < n; t++) {
        for (int k = 0; k < WL_MAX_KINDS; k++)
            out->ops[k] += __atomic_load_n(&c[t].ops[k], __ATOMIC_RELAXED);
        out->aborts += __atomic_load_n(&c[t].aborts, __ATOMIC_RELAXED);
        out->errors += __atomic_load_n(&c[t].errors, __ATOMIC_RELAXED);
    }
}

static void wl_sleep_until(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u),
                          (long)(ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR)
        ;
}

/* Allocated bytes of the regular files in dir (LMDB's map file is sparse). */
static uint64_t wl_dir_bytes(const char *dir)
{
    uint64_t n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    char path[4096];
    struct stat st;
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            n += (uint64_t)st.st_blocks * 512u;
    }
    closedir(d);
    return n;
}

/* The counted operations at time t (seconds), interpolated between the
 * samples of r (0 before the first). */
static double wl_ops_at(const wl_result *r, double t)
{
    double t0 = 0, o0 = 0;

    for (uint32_t i = 0; i < r->nsamples; i++) {
        double t1 = r->sample_t[i], o1 = (double)r->sample_ops[i];
        if (t1 >= t)
            return t1 > t0 ? o0 + (o1 - o0) * (t - t0) / (t1 - t0) : o1;
        t0 = t1;
        o0 = o1;
    }
    return o0;
}

/* A run until steady may end: past WL_STEADY_MIN_S, and the last three
 * windows went at rates within WL_STEADY_BAND of their mean. */
static int wl_steady_now(const wl_result *r)
{
    double t = r->nsamples ? r->sample_t[r->nsamples - 1] : 0, rate[3],
           mean = 0;

    if (t < WL_STEADY_MIN_S || t < 3 * WL_STEADY_WINDOW_S)
        return 0;
    for (int k = 0; k < 3; k++) {
        double b = t - (double)k * WL_STEADY_WINDOW_S;
        rate[k] = (wl_ops_at(r, b) - wl_ops_at(r, b - WL_STEADY_WINDOW_S)) /
                  WL_STEADY_WINDOW_S;
        mean += rate[k] / 3;
    }
    for (int k = 0; k < 3; k++)
        if (rate[k] < mean * (1 - WL_STEADY_BAND) ||
            rate[k] > mean * (1 + WL_STEADY_BAND))
            return 0;
    return mean > 0;
}

/* What the run's progress line reads. */
typedef struct wl_run_pg {
    const wl_workload *w;
    const wl_counters *c;
    int nt;
    const char *label;
    uint64_t t_last, ops_last;
} wl_run_pg;

/* bo_progress_fn of the run: "152340 ops/s, 1523400 ops, ycsb-c on
 * <engine>" (the counted kind for a workload with a main kind). */
static void wl_run_line(void *arg, char *line, size_t n)
{
    wl_run_pg *p = arg;
    wl_counters sum;
    wl_sum(p->c, p->nt, &sum);
    uint64_t now = bu_now_ns(), ops = wl_counted(p->w, sum.ops);
    double dt = (double)(now - p->t_last) / 1e9;
    const char *unit = p->w->main_kind >= 0
                           ? p->w->kind_names[p->w->main_kind]
                           : "ops";

    snprintf(line, n, "%.0f %s/s, %llu %s, %s on %s%s",
             dt > 0 ? (double)(ops - p->ops_last) / dt : 0.0, unit,
             (unsigned long long)ops, unit, p->w->name, p->label,
             sum.errors ? ", errors" : "");
    p->t_last = now;
    p->ops_last = ops;
}

/* A run long enough for progress lines: over 3 s, or of unknown length. */
static int wl_run_long(const wl_opts *o)
{
    return o->ops || o->seconds == 0 || o->seconds > 3;
}

/* Counters, workers and histograms of a run: 0 or -ENOMEM (r->err set,
 * nothing left allocated). */
static int wl_run_alloc(const wl_workload *w, const wl_opts *o,
                        wl_counters **c, wl_worker **x, wl_result *r)
{
    *c = calloc((size_t)o->threads, sizeof **c);
    *x = calloc((size_t)o->threads, sizeof **x);
    if (*c && *x &&
        (o->no_latency || wl_lat_alloc(*c, o->threads, w->nkinds) == 0)) {
        for (int t = 0; t < o->threads; t++)
            (*c)[t].limit = o->ops;
        return 0;
    }
    snprintf(r->err, sizeof r->err, "out of memory");
    free(*c);
    free(*x);
    return -ENOMEM;
}

/* Sample the counters every interval into r until the duration is over,
 * the run is steady (until steady), or every worker is done. */
static void wl_sample(const wl_workload *w, const wl_opts *o,
                      const wl_counters *c, int started, atomic_int *done,
                      uint64_t t0, uint64_t rb0, wl_result *r)
{
    uint64_t step = (uint64_t)(o->interval * 1e9);
    int until_steady = o->seconds == 0 && !o->ops;
    double secs = until_steady ? WL_STEADY_MAX_S
                  : o->seconds > 0 ? o->seconds
                                   : 86400;
    uint64_t end = t0 + (uint64_t)(secs * 1e9);
    wl_counters sum;
    for (uint64_t next = t0 + step; next <= end; next += step) {
        wl_sleep_until(next);
        if (atomic_load(done) == started)
            return; /* nothing left to measure */
        if (r->nsamples >= WL_MAX_SAMPLES)
            continue;
        wl_sum(c, started, &sum);
        r->sample_t[r->nsamples] = (double)(bu_now_ns() - t0) / 1e9;
        r->sample_ops[r->nsamples] = wl_counted(w, sum.ops);
        uint64_t rb = bu_read_bytes();
        r->sample_rb[r->nsamples] =
            rb0 == UINT64_MAX || rb == UINT64_MAX || rb < rb0 ? UINT64_MAX
                                                              : rb - rb0;
        r->nsamples++;
        if (until_steady && wl_steady_now(r))
            return;
    }
    if (atomic_load(done) != started)
        wl_sleep_until(end);
}

/* With --ops: the run lasted until the last worker was done; its final
 * counts are the last sample. */
static void wl_ops_end(const wl_workload *w, const wl_worker *x, int n,
                       uint64_t t0, wl_result *r)
{
    uint64_t end = t0;
    for (int t = 0; t < n; t++)
        if (x[t].end_ns > end)
            end = x[t].end_ns;
    r->run_secs = (double)(end - t0) / 1e9;
    if (r->nsamples < WL_MAX_SAMPLES &&
        (!r->nsamples || r->sample_t[r->nsamples - 1] < r->run_secs)) {
        r->sample_t[r->nsamples] = r->run_secs;
        r->sample_ops[r->nsamples] = wl_counted(w, r->total);
        r->sample_rb[r->nsamples] = r->run_read_bytes;
        r->nsamples++;
    }
}

/* Start the workers, sample until the duration is over (or every worker
 * did its operations), stop them. */
static int wl_child_run(const wl_workload *w, const wl_opts *o, kv *k,
                        wl_result *r)
{
    int nt = o->threads, stop = 0, started = 0, rc;
    atomic_int done = 0;
    wl_counters *c, sum;
    wl_worker *x;
    if ((rc = wl_run_alloc(w, o, &c, &x, r)) != 0)
        return rc;
    wl_run_pg pg = {w, c, nt, r->label, 0, 0};
    uint64_t t0 = bu_now_ns(), rb0 = bu_read_bytes();
    for (; started < nt; started++) {
        x[started] = (wl_worker){w, k, started, &c[started], &stop, &done,
                                 0, 0, 0};
        rc = pthread_create(&x[started].th, NULL, wl_worker_main,
                            &x[started]);
        if (rc) {
            snprintf(r->err, sizeof r->err, "pthread_create: %s",
                     strerror(rc));
            rc = -rc;
            break;
        }
    }
    pg.t_last = t0;
    if (!rc && !bu_quiet && wl_run_long(o))
        bo_progress_start(wl_run_line, &pg);
    if (!rc)
        wl_sample(w, o, c, started, &done, t0, rb0, r);
    bo_progress_stop();
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int t = 0; t < started; t++) {
        pthread_join(x[t].th, NULL);
        if (x[t].rc && !rc) {
            rc = x[t].rc;
            snprintf(r->err, sizeof r->err, "worker %d: %s", t,
                     kv_strerror(rc));
        }
    }
    r->run_secs = (double)(bu_now_ns() - t0) / 1e9;
    uint64_t rb1 = bu_read_bytes();
    r->run_read_bytes = rb0 == UINT64_MAX || rb1 == UINT64_MAX || rb1 < rb0
                            ? UINT64_MAX
                            : rb1 - rb0;
    wl_sum(c, started, &sum);
    memcpy(r->total, sum.ops, sizeof r->total);
    r->errors = sum.errors;
    r->aborts = sum.aborts;
    if (o->ops)
        wl_ops_end(w, x, started, t0, r);
    wl_lat_collect(c, nt, w->nkinds, r);
    free(c);
    free(x);
    return rc;
}

/* What the child of one engine run works on. */
typedef struct wl_job {
    const wl_workload *w;
    const wl_opts *o;
    const kv_cfg *cfg;
    wl_result *r; /* in the MAP_SHARED result block */
} wl_job;

/* Everything the child does (arg a wl_job); returns its exit status. */
static int wl_child(void *arg, br_child *self)
{
    const wl_job *j = arg;
    const wl_workload *w = j->w;
    const wl_opts *o = j->o;
    const kv_cfg *cfg = j->cfg;
    wl_result *r = j->r;
    kv *k = NULL;
    char err[256];
    /* The load is not measured and LMDB loads with all of the page cache,
     * so the bufpool engine loads with a cache that holds the data too
     * (twice the expected size, within half the available memory); the
     * run reopens with the budget. */
    kv_cfg lcfg = *cfg;
    uint64_t avail = bu_mem_available() / 2, want = 2 * w->data_bytes;
    if (want > avail && avail)
        want = avail;
    if (want > lcfg.mem_budget && !cfg->keep_shm) /* a kept cache is */
        lcfg.mem_budget = want; /* revived only with the run's options */
    int rc = kv_open(&k, &lcfg, err, sizeof err);
    if (rc) {
        snprintf(r->err, sizeof r->err, "open: %s", err);
        return 1;
    }
    snprintf(r->label, sizeof r->label, "%s", kv_label(k));
    snprintf(wl_load_label, sizeof wl_load_label, "%s", kv_label(k));
    uint64_t t0 = bu_now_ns();
    wl_load_pg lp = {t0, t0, 0};
    atomic_store(&wl_load_done, 0);
    atomic_store(&wl_load_total, 0);
    if (!bu_quiet)
        bo_progress_start(wl_load_line, &lp);
    rc = w->load(k, w->arg, o->threads);
    bo_progress_stop();
    if (!rc)
        rc = kv_flush(k);
    kv_close(k);
    k = NULL;
    if (rc) {
        snprintf(r->err, sizeof r->err, "load: %s", kv_strerror(rc));
        return 1;
    }
    r->load_secs = (double)(bu_now_ns() - t0) / 1e9;
    r->data_bytes = wl_dir_bytes(cfg->dir);

    /* Let the parent set up memory (it answers at once in memory mode). */
    if (br_child_say(self, 'L') != 0 || br_child_hear(self, 'G') != 0) {
        snprintf(r->err, sizeof r->err, "lost the parent's handshake");
        return 1;
    }
    rc = kv_reopen(&k, cfg, err, sizeof err);
    if (rc) {
        snprintf(r->err, sizeof r->err, "reopen: %s", err);
        return 1;
    }
    rc = wl_child_run(w, o, k, r);
    if (!rc) {
        r->ran = 1;
        wl_counters tot;
        memset(&tot, 0, sizeof tot);
        memcpy(tot.ops, r->total, sizeof tot.ops);
        tot.errors = r->errors;
        tot.aborts = r->aborts;
        r->check_ok = w->check(k, w->arg, &tot, r->check, sizeof r->check) == 0;
    }
    kv_close(k);
    return rc ? 1 : 0;
}

/* ---- The parent ---------------------------------------------------------- */

/* Parent's side of the handshake: out-of-memory set-up for the child, and
 * the page cache dropped for a cold start. */
static void wl_parent_memory(const wl_opts *o, const wl_engine *e,
                             br_child *ch, char *note, size_t notesz)
{
    char why[256];
    if (!o->out_of_memory) {
        if (o->cold && bu_drop_caches(why, sizeof why) != 0)
            snprintf(note, notesz, "NOT EQUALLY COLD: %.200s", why);
        return;
    }
    if (bu_drop_caches(why, sizeof why) != 0)
        snprintf(note, notesz, "NOT EQUAL MEMORY: %.200s", why);
    if (e->kind != KV_LMDB)
        return;
    if (br_child_limit(ch, o->mem_budget, why, sizeof why) != 0) {
        snprintf(note, notesz,
                 "NOT EQUAL MEMORY: LMDB ran without a memory limit: %.180s",
                 why);
    }
}

/* Run engine e; fill *r. */
static void wl_run_engine(const wl_workload *w, const wl_opts *o,
                          const wl_engine *e, wl_result *r)
{
    char dir[4096], base[4100], name[64];
    wl_engine_name(e, name, sizeof name);
    snprintf(r->label, sizeof r->label, "%s", name);
    int rc = bu_tempdir(o->tmp_parent ? o->tmp_parent : "/var/tmp", dir,
                        sizeof dir);
    if (rc) {
        snprintf(r->err, sizeof r->err, "temp dir in %s: %s",
                 o->tmp_parent ? o->tmp_parent : "/var/tmp", strerror(-rc));
        return;
    }
    snprintf(base, sizeof base, "%s/", dir);
    bu_cleanup_files(base, kv_files(e->kind), 1);
    /* warm start: the bufpool cache is kept from the load to the run */
    char shm[96] = "", shm_path[128] = "";
    if (e->kind == KV_BUFPOOL && e->backend != BP_BACKEND_COPY &&
        !o->cold && !o->out_of_memory && bu_shm_name(shm, sizeof shm) == 0)
        snprintf(shm_path, sizeof shm_path, "/dev/shm/%s", shm);
    kv_cfg cfg = {
        .kind = e->kind,
        .backend = e->backend,
        .dir = dir,
        .mem_budget = o->mem_budget,
        .page_size = o->page_size,
        .max_bytes = w->data_bytes,
        .threads = o->threads,
        .out_of_memory = o->out_of_memory,
        .keep_shm = shm[0] ? shm : NULL,
    };
    wl_job job = {w, o, &cfg, r};
    br_child *ch;
    if (br_child_start(&ch, wl_child, &job, r->err, sizeof r->err) == 0) {
        if (br_child_hear(ch, 'L') == 0) {
            wl_parent_memory(o, e, ch, r->memory_note,
                             sizeof r->memory_note);
            br_child_say(ch, 'G');
        }
        br_child_wait(ch, NULL, NULL, r->err, sizeof r->err);
    }
    if (shm_path[0]) {
        unlink(shm_path);
        bu_cleanup_forget(shm_path);
    }
    bu_cleanup_files(base, kv_files(e->kind), 0);
    rmdir(dir);
    bu_cleanup_forget(dir);
}

/* The workload's driver alone: ns per operation, the fastest of
 * WL_DRIVER_REPS timed runs after one untimed run of a tenth as many
 * operations; 0 without a driver hook, -1 when it failed (printed). */
static double wl_driver_ns(const wl_workload *w)
{
    if (!w->driver || !w->driver_ops)
        return 0;
    uint64_t warm = w->driver_ops / 10 ? w->driver_ops / 10 : 1;
    int rc = w->driver(w->arg, warm);
    double best = 0;
    for (int i = 0; !rc && i < WL_DRIVER_REPS; i++) {
        uint64_t t0 = bu_now_ns();
        rc = w->driver(w->arg, w->driver_ops);
        double ns = (double)(bu_now_ns() - t0) / (double)w->driver_ops;
        if (!rc && (best == 0 || ns < best))
            best = ns;
    }
    if (rc) {
        fprintf(stderr, "bpbench: %s: the driver alone failed: %s\n",
                w->name, kv_strerror(rc));
        return -1;
    }
    return best > 0 ? best : 1e-3;
}

/* ---- fio: the data disk's own random-read rate --------------------------- */

/* Size of fio's file: the largest data of any run, at least 64 MiB,
 * rounded up to whole blocks of bs. */
static uint64_t wl_fio_size(const wl_result *res, size_t nres, uint64_t bs)
{
    uint64_t size = 64ull << 20;
    for (size_t i = 0; i < nres; i++)
        if (res[i].data_bytes > size)
            size = res[i].data_bytes;
    return (size + bs - 1) / bs * bs;
}

/* fio's file: made after the first run (in a fresh directory under
 * o->tmp_parent, removed at the end, and by the cleanup registry should
 * the bench die meanwhile), then used by every fio run. */
typedef struct wl_fio_file {
    char dir[4096], path[4200];
    uint64_t size; /* 0: not made yet */
    int dead;      /* fio is missing, or the file could not be made */
} wl_fio_file;

/* One fio run on ff's file: its IOPS, or 0 with the first failure in
 * f->why (the efficiency line is a reference, not something the bench
 * fails on). */
static double wl_fio_once(wl_fio_file *ff, uint64_t seconds, wl_fio *f)
{
    bu_fio_res fr;
    char why[sizeof f->why];

    if (bu_fio_run(ff->path, ff->size, f->bs, (uint64_t)f->depth, 0,
                   seconds, 0, &fr, why, sizeof why) != 0) {
        why[strcspn(why, "\n")] = '\0'; /* fio's line ends in one */
    } else if (fr.iops > 0) {
        return fr.iops;
    } else {
        snprintf(why, sizeof why, "fio reported no reads");
    }
    if (!f->why[0])
        snprintf(f->why, sizeof f->why, "%s", why);
    return 0;
}

/* Make ff's file as large as the data of res[0..n) (at least 64 MiB):
 * fio lays it out in a first short run, whose writes are then synced, so
 * that no measured run shares the disk with them.  0 or -1 (f->why). */
static int wl_fio_make(const wl_opts *o, const wl_result *res, size_t n,
                       wl_fio_file *ff, wl_fio *f)
{
    const char *parent = o->tmp_parent ? o->tmp_parent : "/var/tmp";
    char why[64];

    if (!bu_have_fio()) {
        snprintf(f->why, sizeof f->why,
                 "fio not installed (apt-get install fio)");
        return -1;
    }
    int rc = bu_tempdir(parent, ff->dir, sizeof ff->dir);
    if (rc) {
        snprintf(f->why, sizeof f->why, "temp dir in %s: %s", parent,
                 strerror(-rc));
        return -1;
    }
    snprintf(ff->path, sizeof ff->path, "%s/fio-randread", ff->dir);
    bu_cleanup_add(ff->path, 0);
    ff->size = wl_fio_size(res, n, f->bs);
    if (wl_fio_once(ff, 1, f) <= 0)
        return -1;
    (void)bu_drop_caches(why, sizeof why); /* sync, then drop */
    return 0;
}

static void wl_fio_remove(wl_fio_file *ff)
{
    if (!ff->size)
        return;
    unlink(ff->path);
    bu_cleanup_forget(ff->path);
    rmdir(ff->dir);
    bu_cleanup_forget(ff->dir);
}

/* After run k of res: fio on the same disk into res[k].fio_after, and
 * run k's reference into res[k].fio_iops (the mean of fio's runs just
 * before and after it); the file is made after the first run. */
static void wl_fio_after(const wl_opts *o, wl_result *res, size_t k,
                         wl_fio_file *ff, wl_fio *f)
{
    double before = k ? res[k - 1].fio_after : 0, after;

    if (ff->dead || (!ff->size && wl_fio_make(o, res, k + 1, ff, f))) {
        ff->dead = 1;
        return;
    }
    after = res[k].fio_after = wl_fio_once(ff, WL_FIO_SECONDS, f);
    if (after > 0) {
        f->lo = f->runs && f->lo < after ? f->lo : after;
        f->hi = f->hi > after ? f->hi : after;
        f->runs++;
    }
    res[k].fio_iops = before > 0 && after > 0 ? (before + after) / 2
                      : before > 0            ? before
                                              : after;
}

int wl_run_all(const wl_workload *w, const wl_opts *o)
{
    return wl_run_all_summary(w, o, NULL);
}

/* The first reason the comparison is not on equal memory into note (""
 * while there is none), from result r. */
static void wl_memory_note(const wl_opts *o, const wl_result *r, char *note,
                           size_t notesz)
{
    if (r->memory_note[0] && !note[0])
        snprintf(note, notesz, "%s (%s)", r->memory_note, r->label);
    if (!o->out_of_memory && r->data_bytes > o->mem_budget && !note[0]) {
        char a[32], b[32];
        snprintf(note, notesz,
                 "NOT EQUAL MEMORY: the data (%s, %s) exceeds the budget "
                 "(%s) without --oom, so LMDB may use all of the page "
                 "cache",
                 bu_fmt_bytes(r->data_bytes, a, sizeof a), r->label,
                 bu_fmt_bytes(o->mem_budget, b, sizeof b));
    }
}

/* Bytes of the result block of n results with nkinds histograms each. */
static size_t wl_results_bytes(size_t n, int nkinds)
{
    return n * (sizeof(wl_result) + (size_t)nkinds * bo_hist_size());
}

/* The result block: n zeroed results, then their histograms (bo_hist_size
 * bytes each, a multiple of 8 as is sizeof(wl_result)), all in br_shared
 * memory, so that a forked child fills what the parent reads.  NULL when
 * mmap fails (errno set). */
static wl_result *wl_results_map(size_t n, int nkinds)
{
    wl_result *res = br_shared(wl_results_bytes(n, nkinds));
    if (!res)
        return NULL;
    char *h = (char *)(res + n);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < nkinds; k++, h += bo_hist_size())
            res[i].lat[k] = bo_hist_place(h);
    return res;
}

int wl_run_all_summary(const wl_workload *w, const wl_opts *o,
                       wl_summary *out)
{
    if (o->nengines < 1 || o->nengines > 8 || o->threads < 1 ||
        o->threads > WL_MAX_THREADS || o->seconds < 0 || o->interval <= 0 ||
        o->rounds > WL_MAX_ROUNDS || w->nkinds < 1 ||
        w->nkinds > WL_MAX_KINDS) {
        fprintf(stderr, "bpbench: %s: bad harness options\n", w->name);
        return 1;
    }
    /* The engines list picks the backends; the override would hide that. */
    unsetenv("BUFPOOL_BACKEND");
    if (!o->no_latency) /* before the children, which inherit it */
        wl_lat_clock_init();
    int nr = wl_rounds(o);
    size_t nres = (size_t)nr * (size_t)o->nengines;
    wl_result *res = wl_results_map(nres, w->nkinds);
    if (!res) {
        fprintf(stderr, "bpbench: mmap of the result block: %s\n",
                strerror(errno));
        return 1;
    }
    char note[384] = ""; /* a memory_note (256) and a label (96) */
    int fail = 0;
    double driver_ns = wl_driver_ns(w);
    if (driver_ns < 0) {
        fail = 1;
        driver_ns = 0;
    }
    /* fio reads blocks of the runs' page size (kv_bufpool's default: 8
     * KiB) at their depth */
    wl_fio fio = {.bs = o->page_size ? o->page_size : 8192,
                  .depth = o->threads};
    wl_fio_file ff = {.size = 0};
    for (int r = 0; r < nr; r++)
        for (int i = 0; i < o->nengines; i++) {
            size_t k = (size_t)r * (size_t)o->nengines + (size_t)i;
            wl_result *x = &res[k];
            char name[64], rnd[32] = "";
            if (nr > 1)
                snprintf(rnd, sizeof rnd, ", round %d/%d", r + 1, nr);
            bu_progress("%s: %s%s", w->name,
                        wl_engine_name(&o->engines[i], name, sizeof name),
                        rnd);
            wl_run_engine(w, o, &o->engines[i], x);
            wl_memory_note(o, x, note, sizeof note);
            fail |= !x->ran || !x->check_ok || x->err[0];
            if (o->out_of_memory) {
                bu_progress("%s: fio random reads, %d s", w->name,
                            WL_FIO_SECONDS);
                wl_fio_after(o, res, k, &ff, &fio);
            }
        }
    wl_fio_remove(&ff);
    wl_report(w, o, res, note, driver_ns, o->out_of_memory ? &fio : NULL,
              out);
    br_shared_free(res, wl_results_bytes(nres, w->nkinds));
    return fail ? 1 : 0;
}
