/*
 * bench_hit_run.c - the pools and threads of `bpbench hit`: open one pool
 * per backend, warm the hot set into each window (and take the bare deref
 * pointers), run the timed phases round-robin on fresh threads behind a
 * spinning start barrier, check each cell against bp_stats, close.  A pool
 * that fails is closed and its cells marked n/a (ht_fail); a failing
 * optimistic read takes only that mode out.  The others go on.
 *
 * Per pool:  open -> warm-up (until a pass maps nothing; pointers; one
 * optimistic pass) -> reps x {mode x thread count} timed phases (bp_stats
 * read before and after, deltas summed into the cell) -> ht_check ->
 * bp__test_check -> bp_close.
 */
#include "bench_hit.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- The measured loops -------------------------------------------------
 * Each runs ops ops over seq (wrapping at seqlen), adds the reads that did
 * not find the page's stamp to *bad, and returns 0 or the failing call's
 * code with why filled.  They run on the worker threads. */

static inline uint64_t ht_word(const void *page, uint64_t off)
{
    uint64_t v;
    memcpy(&v, (const unsigned char *)page + off, sizeof v);
    return v;
}

#define HT_INLINE static inline __attribute__((always_inline))

/* Latency: with lat (the latency phase) each batch of mask + 1 ops (a
 * power of two) is timed by the tick clock and its time per op added to
 * lat; the timed reps pass NULL, which compiles the timing out of their
 * loops (the functions are inlined with it). */
#define HT_LAT_BEGIN(lat, i, mask)                                           \
    do {                                                                     \
        if ((lat) && ((i) & (mask)) == 0)                                    \
            lt0 = bo_ticks();                                                \
    } while (0)
#define HT_LAT_END(lat, i, mask)                                             \
    do {                                                                     \
        if ((lat) && ((i) & (mask)) == (mask))                               \
            bo_hist_add((lat), (bo_ticks_to_ns(bo_ticks() - lt0) +           \
                                (mask) / 2 + 1) / ((mask) + 1));             \
    } while (0)

HT_INLINE int ht_loop_fix_g(bp_pool *p, const ht_hot *hot,
                            const uint32_t *seq, uint64_t seqlen,
                            uint64_t ops, uint64_t *bad, char *why,
                            size_t whysz, bo_hist *lat, uint64_t mask)
{
    uint64_t b = 0, j = 0, lt0 = 0;
    bp_page pg;
    for (uint64_t i = 0; i < ops; i++) {
        const ht_hot *h = &hot[seq[j]];
        if (++j == seqlen)
            j = 0;
        HT_LAT_BEGIN(lat, i, mask);
        int rc = bp_fix(p, h->pgno, BP_SHARED, &pg);
        if (rc) {
            snprintf(why, whysz, "bp_fix(page %llu) at op %llu: %s (%d): %s",
                     (unsigned long long)h->pgno, (unsigned long long)i,
                     bp_strerror(rc), rc, bp_errmsg(p));
            *bad += b;
            return rc;
        }
        b += ht_word(pg.data, h->off) != h->stamp;
        rc = bp_unfix(p, &pg, 0);
        if (rc) {
            snprintf(why, whysz, "bp_unfix(page %llu) at op %llu: %s (%d): %s",
                     (unsigned long long)h->pgno, (unsigned long long)i,
                     bp_strerror(rc), rc, bp_errmsg(p));
            *bad += b;
            return rc;
        }
        HT_LAT_END(lat, i, mask);
    }
    *bad += b;
    return 0;
}

static int ht_loop_fix(bp_pool *p, const ht_hot *hot, const uint32_t *seq,
                       uint64_t seqlen, uint64_t ops, uint64_t *bad,
                       char *why, size_t whysz)
{
    return ht_loop_fix_g(p, hot, seq, seqlen, ops, bad, why, whysz, NULL,
                         0);
}

/* The read loop of bufpool.h: retry on BP_ERETRY from bp_opt_begin and on
 * any failed bp_opt_validate; the word counts once it validated. */
HT_INLINE int ht_loop_opt_g(bp_pool *p, const ht_hot *hot,
                            const uint32_t *seq, uint64_t seqlen,
                            uint64_t ops, uint64_t *bad, uint64_t *retries,
                            char *why, size_t whysz, bo_hist *lat,
                            uint64_t mask)
{
    uint64_t b = 0, j = 0, re = 0, lt0 = 0;
    bp_opt o;
    for (uint64_t i = 0; i < ops; i++) {
        const ht_hot *h = &hot[seq[j]];
        if (++j == seqlen)
            j = 0;
        HT_LAT_BEGIN(lat, i, mask);
        for (uint64_t tries = 0;; tries++) {
            int rc = bp_opt_begin(p, h->pgno, &o);
            if (rc == 0) {
                uint64_t v = ht_word(o.data, h->off);
                if (bp_opt_validate(p, &o) == 0) {
                    b += v != h->stamp;
                    break;
                }
            } else if (rc != BP_ERETRY) {
                snprintf(why, whysz, "bp_opt_begin(page %llu) at op %llu: %s "
                         "(%d): %s", (unsigned long long)h->pgno,
                         (unsigned long long)i, bp_strerror(rc), rc,
                         bp_errmsg(p));
                *bad += b;
                *retries += re;
                return rc;
            }
            re++;
            if (tries == HT_OPT_MAX_RETRY) {
                snprintf(why, whysz, "optimistic read of page %llu at op %llu"
                         " still invalid after %d retries with no writer",
                         (unsigned long long)h->pgno, (unsigned long long)i,
                         HT_OPT_MAX_RETRY);
                *bad += b;
                *retries += re;
                return BP_ERETRY;
            }
        }
        HT_LAT_END(lat, i, mask);
    }
    *bad += b;
    *retries += re;
    return 0;
}

static int ht_loop_opt(bp_pool *p, const ht_hot *hot, const uint32_t *seq,
                       uint64_t seqlen, uint64_t ops, uint64_t *bad,
                       uint64_t *retries, char *why, size_t whysz)
{
    return ht_loop_opt_g(p, hot, seq, seqlen, ops, bad, retries, why, whysz,
                         NULL, 0);
}

HT_INLINE void ht_loop_bare_g(const unsigned char *const *ptr,
                              const ht_hot *hot, const uint32_t *seq,
                              uint64_t seqlen, uint64_t ops, uint64_t *bad,
                              bo_hist *lat, uint64_t mask)
{
    uint64_t b = 0, j = 0, lt0 = 0;
    for (uint64_t i = 0; i < ops; i++) {
        uint32_t k = seq[j];
        if (++j == seqlen)
            j = 0;
        HT_LAT_BEGIN(lat, i, mask);
        b += ht_word(ptr[k], hot[k].off) != hot[k].stamp;
        HT_LAT_END(lat, i, mask);
    }
    *bad += b;
}

static void ht_loop_bare(const unsigned char *const *ptr, const ht_hot *hot,
                         const uint32_t *seq, uint64_t seqlen, uint64_t ops,
                         uint64_t *bad)
{
    ht_loop_bare_g(ptr, hot, seq, seqlen, ops, bad, NULL, 0);
}

/* The three loops of the latency phase: every batch of mask + 1 ops timed
 * into lat. */
static int ht_loop_lat(int mode, bp_pool *p, const unsigned char *const *ptr,
                       const ht_hot *hot, const uint32_t *seq,
                       uint64_t seqlen, uint64_t ops, uint64_t *bad,
                       uint64_t *retries, char *why, size_t whysz,
                       bo_hist *lat, uint64_t mask)
{
    if (mode == HT_FIX)
        return ht_loop_fix_g(p, hot, seq, seqlen, ops, bad, why, whysz, lat,
                             mask);
    if (mode == HT_OPT)
        return ht_loop_opt_g(p, hot, seq, seqlen, ops, bad, retries, why,
                             whysz, lat, mask);
    ht_loop_bare_g(ptr, hot, seq, seqlen, ops, bad, lat, mask);
    return 0;
}

/* ---- A timed phase: T threads, one mode, one pool ------------------------ */

typedef struct ht_phase {
    bp_pool *p;
    int mode;
    const ht_hot *hot;
    const unsigned char *const *ptr;
    uint64_t ops, seqlen;
    int lat;          /* 1: the latency phase (batches timed) */
    uint64_t lat_mask; /* its batches: lat_mask + 1 ops */
    atomic_int ready; /* workers waiting at the start line */
    atomic_int go;    /* 0 wait, 1 run, -1 abort */
} ht_phase;

typedef struct ht_worker {
    ht_phase *ph;
    const uint32_t *seq;
    pthread_t tid;
    uint64_t t0, t1, bad, retries;
    int rc;
    bo_hist *lat; /* the latency phase's: this thread's op times */
    char why[600];
} ht_worker;

static void *ht_worker_main(void *arg)
{
    ht_worker *w = arg;
    ht_phase *ph = w->ph;
    atomic_fetch_add_explicit(&ph->ready, 1, memory_order_release);
    int go;
    while ((go = atomic_load_explicit(&ph->go, memory_order_acquire)) == 0)
        sched_yield();
    if (go < 0)
        return NULL;
    uint64_t bad = 0, re = 0;
    w->t0 = bu_now_ns();
    if (ph->lat) {
        w->rc = ht_loop_lat(ph->mode, ph->p, ph->ptr, ph->hot, w->seq,
                            ph->seqlen, ph->ops, &bad, &re, w->why,
                            sizeof w->why, w->lat, ph->lat_mask);
        w->t1 = bu_now_ns();
        w->bad = bad;
        w->retries = re;
        return NULL;
    }
    switch (ph->mode) {
    case HT_FIX:
        w->rc = ht_loop_fix(ph->p, ph->hot, w->seq, ph->seqlen, ph->ops, &bad,
                            w->why, sizeof w->why);
        break;
    case HT_OPT:
        w->rc = ht_loop_opt(ph->p, ph->hot, w->seq, ph->seqlen, ph->ops, &bad,
                            &re, w->why, sizeof w->why);
        break;
    default:
        ht_loop_bare(ph->ptr, ph->hot, w->seq, ph->seqlen, ph->ops, &bad);
        break;
    }
    w->t1 = bu_now_ns();
    w->bad = bad;
    w->retries = re;
    return NULL;
}

/* Run ph on nt threads.  0 with the wall time (first start to last end) in
 * *wall_ns and the sums in *bad and *retries; or the first failing code
 * with why filled. */
/* The latency phase's histograms, one per worker; 0 or -ENOMEM. */
static int ht_lat_alloc(ht_worker *w, int nt)
{
    for (int t = 0; t < nt; t++)
        if (!(w[t].lat = bo_hist_new()))
            return -ENOMEM;
    return 0;
}

/* Merge the workers' histograms into into (when not NULL), free them. */
static void ht_lat_collect(ht_worker *w, int nt, bo_hist *into)
{
    for (int t = 0; t < nt; t++) {
        if (into && w[t].lat)
            bo_hist_merge(into, w[t].lat);
        bo_hist_free(w[t].lat);
    }
}

static int ht_run_threads(ht_ctx *c, ht_phase *ph, int nt, double *wall_ns,
                          uint64_t *bad, uint64_t *retries, char *why,
                          size_t whysz, bo_hist *lat)
{
    ht_worker *w = calloc((size_t)nt, sizeof *w);
    if (!w || (ph->lat && ht_lat_alloc(w, nt))) {
        if (w)
            ht_lat_collect(w, nt, NULL);
        free(w);
        snprintf(why, whysz, "out of memory for %d threads", nt);
        return -ENOMEM;
    }
    atomic_init(&ph->ready, 0);
    atomic_init(&ph->go, 0);
    int made = 0, rc = 0;
    for (; made < nt; made++) {
        w[made].ph = ph;
        w[made].seq = c->seq[made];
        int e = pthread_create(&w[made].tid, NULL, ht_worker_main, &w[made]);
        if (e) {
            snprintf(why, whysz, "pthread_create (thread %d of %d): %s",
                     made + 1, nt, strerror(e));
            rc = -e;
            break;
        }
    }
    if (rc == 0)
        while (atomic_load_explicit(&ph->ready, memory_order_acquire) < nt)
            sched_yield();
    atomic_store_explicit(&ph->go, rc ? -1 : 1, memory_order_release);
    for (int t = 0; t < made; t++)
        pthread_join(w[t].tid, NULL);
    if (rc == 0) {
        uint64_t t0 = UINT64_MAX, t1 = 0;
        *bad = *retries = 0;
        for (int t = 0; t < nt; t++) {
            if (w[t].rc && rc == 0) {
                rc = w[t].rc;
                snprintf(why, whysz, "thread %d: %s", t, w[t].why);
            }
            if (w[t].t0 < t0)
                t0 = w[t].t0;
            if (w[t].t1 > t1)
                t1 = w[t].t1;
            *bad += w[t].bad;
            *retries += w[t].retries;
        }
        *wall_ns = (double)(t1 - t0);
    }
    if (ph->lat)
        ht_lat_collect(w, nt, rc == 0 ? lat : NULL);
    free(w);
    return rc;
}

/* ---- Pools --------------------------------------------------------------- */

/* Open the pool of backend b into c->pool[b]; 0, or an error with why.
 * Every backend's pool is open on the one data file at once, so they open
 * it read-only (BP_RDONLY: read-only pools share a data file).  The data
 * file is opened with O_DIRECT, or buffered where the file system refuses
 * it (window hits do no I/O either way). */
static int ht_open(ht_ctx *c, int b, char *why, size_t whysz)
{
    ht_pool *pl = &c->pool[b];
    struct bu_pool_cfg cfg = {
        .path = c->sh.path,
        .open_flags = BP_RDONLY,
        .page_size = c->o.page_size,
        .cache_frames = c->sh.frames,
        .window_slots = c->o.window_slots,
        .backend = c->o.bk[b],
    };
    int rc = bpl_open(&cfg, 0, 1, &pl->p, &pl->st, why, whysz);
    pl->open_flags = cfg.open_flags;
    return rc;
}

/* Backend b failed: note why, mark all its cells n/a, close the pool. */
static void ht_fail(ht_ctx *c, int b, const char *what, const char *why)
{
    for (int m = 0; m < HT_NMODE; m++)
        for (int ti = 0; ti < c->ntc; ti++)
            c->cell[b][m][ti].na = 1;
    c->pool[b].dead = 1;
    bpl_fail(&c->sh, &c->pool[b].p, bp_backend_name(c->o.bk[b]), what, why);
}

static void ht_data_error(ht_ctx *c, int b, const char *what, uint64_t bad)
{
    c->sh.data_error = 1;
    ht_note(c, BPL_WARN, "DATA ERROR: %s: %llu reads found another "
            "page's content during the %s (library bug)",
            bp_backend_name(c->o.bk[b]), (unsigned long long)bad, what);
}

/* Map the hot set into the window until a pass over it maps nothing, take
 * the bare deref pointers in a last pass (each while its page is fixed),
 * and make one optimistic pass.  0, or -1 after ht_fail. */
static int ht_warm(ht_ctx *c, int b)
{
    ht_pool *pl = &c->pool[b];
    const char *bn = bp_backend_name(c->o.bk[b]);
    char why[1200];
    bp_stats s0, s1;
    uint64_t bad = 0;
    uint32_t *all = malloc(c->nhot * sizeof *all);
    if (!all) {
        ht_fail(c, b, "warm-up", "out of memory");
        return -1;
    }
    for (uint64_t i = 0; i < c->nhot; i++)
        all[i] = (uint32_t)i;

    int pass = 0, settled = 0;
    for (; pass < 6 && !settled; pass++) {
        if (bu_stats(pl->p, &s0, why, sizeof why) ||
            ht_loop_fix(pl->p, c->hot, all, c->nhot, c->nhot, &bad, why,
                        sizeof why) ||
            bu_stats(pl->p, &s1, why, sizeof why))
            goto fail;
        settled = pass > 0 && s1.window_misses == s0.window_misses;
    }
    if (!settled)
        ht_note(c, BPL_WARN, "%s: warm-up: the %llu hot pages still "
                "missed the window after %d passes", bn,
                (unsigned long long)c->nhot, pass);

    /* The pointers: the page's address while it is fixed. */
    if (bu_stats(pl->p, &s0, why, sizeof why))
        goto fail;
    for (uint64_t i = 0; i < c->nhot; i++) {
        bp_page pg;
        int rc = bp_fix(pl->p, c->hot[i].pgno, BP_SHARED, &pg);
        if (rc) {
            snprintf(why, sizeof why, "bp_fix(page %llu): %s (%d): %s",
                     (unsigned long long)c->hot[i].pgno, bp_strerror(rc), rc,
                     bp_errmsg(pl->p));
            goto fail;
        }
        pl->ptr[i] = pg.data;
        bad += ht_word(pg.data, c->hot[i].off) != c->hot[i].stamp;
        rc = bp_unfix(pl->p, &pg, 0);
        if (rc) {
            snprintf(why, sizeof why, "bp_unfix(page %llu): %s (%d): %s",
                     (unsigned long long)c->hot[i].pgno, bp_strerror(rc), rc,
                     bp_errmsg(pl->p));
            goto fail;
        }
    }
    if (bu_stats(pl->p, &s1, why, sizeof why))
        goto fail;
    if (s1.window_misses != s0.window_misses)
        ht_note(c, BPL_WARN, "%s: %llu window misses while taking the "
                "bare deref pointers: some may point at remapped slots", bn,
                (unsigned long long)(s1.window_misses - s0.window_misses));
    if (bad)
        ht_data_error(c, b, "warm-up", bad);

    /* One optimistic pass; a failure here only takes that mode out. */
    uint64_t re = 0;
    bad = 0;
    int rc = ht_loop_opt(pl->p, c->hot, all, c->nhot, c->nhot, &bad, &re, why,
                         sizeof why);
    free(all);
    if (bad)
        ht_data_error(c, b, "optimistic warm-up", bad);
    if (rc) {
        for (int ti = 0; ti < c->ntc; ti++)
            c->cell[b][HT_OPT][ti].na = 1;
        ht_note(c, BPL_NA, "%s: optimistic warm-up failed: %s", bn, why);
        bu_progress("%s: optimistic: n/a: %s", bn, why);
    }
    return 0;

fail:
    free(all);
    if (bad)
        ht_data_error(c, b, "warm-up", bad);
    ht_fail(c, b, "warm-up", why);
    return -1;
}

/* One timed phase of backend b, mode m, thread count index ti. */
static void ht_timed(ht_ctx *c, int b, int m, int ti)
{
    ht_pool *pl = &c->pool[b];
    ht_cell *cl = &c->cell[b][m][ti];
    char why[1200];
    bp_stats s0, s1;
    ht_phase ph = {.p = pl->p, .mode = m, .hot = c->hot, .ptr = pl->ptr,
                   .ops = c->o.ops, .seqlen = c->seqlen};

    if (bu_stats(pl->p, &s0, why, sizeof why)) {
        ht_fail(c, b, "timed phase", why);
        return;
    }
    double wall = 0.0;
    uint64_t bad = 0, re = 0, t0, st0, t1, st1;
    int ticks = bu_cpu_ticks(&t0, &st0);
    int rc = ht_run_threads(c, &ph, c->tc[ti], &wall, &bad, &re, why,
                            sizeof why, NULL);
    if (ticks && bu_cpu_ticks(&t1, &st1) && t1 >= t0 && st1 >= st0) {
        cl->ticks += t1 - t0;
        cl->steal += st1 - st0;
    }
    cl->bad += bad;
    cl->retries += re;
    if (rc) {
        if (m == HT_OPT) { /* the pool itself still works: drop the mode */
            for (int t = 0; t < c->ntc; t++)
                c->cell[b][m][t].na = 1;
            ht_note(c, BPL_NA, "%s: optimistic, %d threads: %s",
                    bp_backend_name(c->o.bk[b]), c->tc[ti], why);
            bu_progress("%s: optimistic: n/a: %s",
                        bp_backend_name(c->o.bk[b]), why);
        } else {
            ht_fail(c, b, "timed phase", why);
        }
        return;
    }
    if (bu_stats(pl->p, &s1, why, sizeof why)) {
        ht_fail(c, b, "timed phase", why);
        return;
    }
    cl->wall[cl->nrep++] = wall;
    cl->fixes += s1.fixes - s0.fixes;
    cl->wm += s1.window_misses - s0.window_misses;
    cl->opt_begins += s1.opt_begins - s0.opt_begins;
    cl->opt_failures += s1.opt_failures - s0.opt_failures;
    cl->latch_waits += s1.latch_waits - s0.latch_waits;
}

/* The latency phase of backend b, mode m, thread count index ti: the
 * same threads and sequences, --lat-ops ops each, in batches timed into the
 * cell's histogram (bo_tick_batch).  Its time counts in no throughput. */
static void ht_latency(ht_ctx *c, int b, int m, int ti)
{
    ht_pool *pl = &c->pool[b];
    ht_cell *cl = &c->cell[b][m][ti];
    char why[1200];
    ht_phase ph = {.p = pl->p, .mode = m, .hot = c->hot, .ptr = pl->ptr,
                   .ops = c->o.lat_ops, .seqlen = c->seqlen, .lat = 1};
    cl->lat_batch = bo_tick_batch(cl->nrep ? bu_median(cl->wall, cl->nrep) /
                                                (double)c->o.ops
                                          : 0.0);
    ph.lat_mask = cl->lat_batch - 1;
    double wall = 0.0;
    uint64_t bad = 0, re = 0;
    int rc = ht_run_threads(c, &ph, c->tc[ti], &wall, &bad, &re, why,
                            sizeof why, cl->lat);
    cl->bad += bad;
    if (rc)
        ht_note(c, BPL_NA, "%s/%s/%d thr: latency phase: %s",
                bp_backend_name(c->o.bk[b]), ht_mode_name[m], c->tc[ti],
                why);
}

/* Is each cell what it claims?  WARNING notes if not. */
static void ht_check(ht_ctx *c, int b)
{
    const char *bn = bp_backend_name(c->o.bk[b]);
    for (int m = 0; m < HT_NMODE; m++)
        for (int ti = 0; ti < c->ntc; ti++) {
            const ht_cell *cl = &c->cell[b][m][ti];
            const char *mn = ht_mode_name[m];
            int nt = c->tc[ti];
            uint64_t ops = (uint64_t)nt * c->o.ops * cl->nrep;
            if (cl->bad && m != HT_BARE)
                ht_data_error(c, b, m == HT_FIX ? "timed fixes"
                                                : "timed optimistic reads",
                              cl->bad);
            if (cl->bad && m == HT_BARE)
                ht_note(c, BPL_WARN, "%s/bare/%d thr: %llu reads through "
                        "the kept pointers found another page (a slot was "
                        "remapped after the warm-up)", bn, nt,
                        (unsigned long long)cl->bad);
            if (cl->nrep == 0)
                continue;
            if (cl->wm)
                ht_note(c, BPL_WARN, "%s/%s/%d thr: %llu window misses "
                        "(%.3f%% of ops) in the timed phases, expected 0: not "
                        "pure window hits", bn, mn, nt,
                        (unsigned long long)cl->wm,
                        100.0 * (double)cl->wm / (double)ops);
            if (m == HT_FIX && cl->fixes != ops)
                ht_note(c, BPL_WARN, "%s/fix/%d thr: bp_stats counted %llu"
                        " fixes in the timed phases, the bench made %llu", bn,
                        nt, (unsigned long long)cl->fixes,
                        (unsigned long long)ops);
            if (m == HT_FIX && cl->latch_waits)
                ht_note(c, BPL_WARN, "%s/fix/%d thr: %llu latch waits in "
                        "shared-only fixes", bn, nt,
                        (unsigned long long)cl->latch_waits);
            if (m == HT_OPT && cl->opt_begins < ops)
                ht_note(c, BPL_WARN, "%s/optimistic/%d thr: bp_stats "
                        "counted %llu successful bp_opt_begin, the bench made"
                        " %llu optimistic reads", bn, nt,
                        (unsigned long long)cl->opt_begins,
                        (unsigned long long)ops);
            if (m == HT_OPT && (cl->retries || cl->opt_failures))
                ht_note(c, BPL_WARN, "%s/optimistic/%d thr: %llu retries, "
                        "%llu failed validations (bp_stats) with no writer "
                        "and no eviction", bn, nt,
                        (unsigned long long)cl->retries,
                        (unsigned long long)cl->opt_failures);
            if (m == HT_OPT && cl->fixes)
                ht_note(c, BPL_INFO, "%s/optimistic/%d thr: bp_stats "
                        "counted %llu fixes during optimistic reads of "
                        "pages in the window", bn, nt,
                        (unsigned long long)cl->fixes);
            if (m == HT_BARE && cl->fixes)
                ht_note(c, BPL_WARN, "%s/bare/%d thr: %llu fixes counted "
                        "while no thread called the library", bn, nt,
                        (unsigned long long)cl->fixes);
        }
}

static void ht_record_open(ht_ctx *c, int b)
{
    const bp_stats *st = &c->pool[b].st;
    bp_backend want = c->o.bk[b];
    const char *bn = bp_backend_name(want);
    snprintf(c->fence, sizeof c->fence, "%s", st->reader_fence);
    bpl_backend_note(&c->sh, bn, want, st, c->auto_chose,
                     sizeof c->auto_chose);
    if (st->slots != c->o.window_slots && st->backend != BP_BACKEND_LINEAR)
        ht_note(c, BPL_INFO, "%s: %llu window slots (asked %llu)", bn,
                (unsigned long long)st->slots,
                (unsigned long long)c->o.window_slots);
    if (st->frames != c->sh.frames)
        ht_note(c, BPL_INFO, "%s: %llu cache frames (asked %llu)", bn,
                (unsigned long long)st->frames,
                (unsigned long long)c->sh.frames);
    if (c->pool[b].open_flags & BP_BUFFERED_IO)
        ht_note(c, BPL_INFO, "%s: the data file refused O_DIRECT: opened "
                "with BP_BUFFERED_IO (window hits do no I/O)", bn);
}

/* Open every pool, warm them, run the reps round-robin, check, close. */
void ht_run_all(void *arg)
{
    ht_ctx *c = arg;
    ht_opts *o = &c->o;
    char why[1200];

    bu_progress("opening %d pools", o->nbk);
    for (int b = 0; b < o->nbk; b++) {
        uint64_t t0 = bu_now_ns();
        if (ht_open(c, b, why, sizeof why)) {
            ht_fail(c, b, "open", why);
            continue;
        }
        ht_record_open(c, b);
        if (o->bk[b] == BP_BACKEND_AUTO)
            bu_progress("auto chose %s in %.2f s: %s",
                        bp_backend_name((bp_backend)c->pool[b].st.backend),
                        (double)(bu_now_ns() - t0) / 1e9,
                        c->pool[b].st.backend_reason);
    }
    bu_progress("warming %llu hot pages into each window",
                (unsigned long long)c->nhot);
    for (int b = 0; b < o->nbk; b++)
        if (!c->pool[b].dead)
            ht_warm(c, b);

    /* Innermost the thread counts, then the modes: the phases whose ratio
     * the report takes run back to back. */
    atomic_store(&c->sh.pg_total, (int)((o->reps + 1) * (uint64_t)o->nbk *
                                        HT_NMODE * (uint64_t)c->ntc));
    atomic_store(&c->sh.pg_done, 0);
    bo_progress_start(bpl_progress, &c->sh);
    for (uint64_t rep = 0; rep < o->reps; rep++) {
        bu_progress("rep %llu/%llu: %d pools x %d modes x %d thread counts x "
                    "%llu ops per thread", (unsigned long long)rep + 1,
                    (unsigned long long)o->reps, o->nbk, HT_NMODE, c->ntc,
                    (unsigned long long)o->ops);
        for (int b = 0; b < o->nbk; b++)
            for (int m = 0; m < HT_NMODE; m++)
                for (int ti = 0; ti < c->ntc; ti++)
                    if (!c->pool[b].dead && !c->cell[b][m][ti].na) {
                        ht_timed(c, b, m, ti);
                        atomic_fetch_add(&c->sh.pg_done, 1);
                    }
    }
    bu_progress("latency: every op of %llu per thread timed, each cell once",
                (unsigned long long)o->lat_ops);
    for (int b = 0; b < o->nbk; b++)
        for (int m = 0; m < HT_NMODE; m++)
            for (int ti = 0; ti < c->ntc; ti++)
                if (!c->pool[b].dead && !c->cell[b][m][ti].na) {
                    ht_latency(c, b, m, ti);
                    atomic_fetch_add(&c->sh.pg_done, 1);
                }
    bo_progress_stop();

    for (int b = 0; b < o->nbk; b++) {
        ht_check(c, b);
        if (!c->pool[b].dead && c->pool[b].p)
            bpl_close(&c->sh, &c->pool[b].p, bp_backend_name(o->bk[b]));
    }
}
