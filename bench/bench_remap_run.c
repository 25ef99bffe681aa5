/*
 * bench_remap_run.c - the pools of `bpbench remap`: open them, warm each
 * level up, run the timed repetitions round-robin, check each level against
 * bp_stats, close.  A pool that fails is closed and its cells marked n/a
 * from the failing level on (rm_fail); the others go on.
 *
 * Per pool and level:  warm-up (untimed) -> reps x timed phase (bp_stats
 * read before and after, deltas summed into the cell) -> rm_check.
 */
#include "bench_remap.h"

#include <string.h>

/* ---- Pools --------------------------------------------------------------- */

/* "backend/prefault" of pool pl, for messages. */
static const char *rm_who(const rm_ctx *c, const rm_pool *pl, char *buf,
                          size_t n)
{
    snprintf(buf, n, "%s/%s", bp_backend_name(c->o.bk[pl->bi]),
             rm_pf_name[c->o.pf[pl->pi]]);
    return buf;
}

/* Open pool pl (pl->st as opened); 0, or an error with why.  Several
 * pools are open on the one data file at once, so they open it read-only
 * (BP_RDONLY: read-only pools share a data file). */
static int rm_open(rm_ctx *c, rm_pool *pl, char *why, size_t whysz)
{
    struct bu_pool_cfg cfg = {
        .path = c->sh.path,
        .open_flags = c->open_flags | BP_RDONLY,
        .page_size = c->o.page_size,
        .cache_bytes = c->o.cache_bytes,
        .window_slots = c->o.window_slots,
        .backend = c->o.bk[pl->bi],
        .set_prefault = 1,
        .prefault = c->o.pf[pl->pi],
    };
    return bpl_open(&cfg, c->o.named_shm, 0, &pl->p, &pl->st, why, whysz);
}

/* The measured loop: n ops over seq.  Adds wrong-content blocks (and wrong
 * page numbers in the handle) to *bad.  0, or the failing call's code with
 * why filled.  With lat (the latency rep) each batch of mask + 1 ops (a
 * power of two) is timed by the tick clock and its time per op added to
 * lat; the timed reps pass NULL, which compiles the timing out of their
 * loop (the function is inlined with it). */
static inline __attribute__((always_inline)) int
rm_ops_g(bp_pool *p, const uint64_t *seq, uint64_t n, size_t psz,
         uint64_t *bad, char *why, size_t whysz, bo_hist *lat, uint64_t mask)
{
    uint64_t b = 0, lt0 = 0;
    bp_page pg;
    for (uint64_t i = 0; i < n; i++) {
        if (lat && (i & mask) == 0)
            lt0 = bo_ticks();
        int rc = bp_fix(p, seq[i], BP_SHARED, &pg);
        if (rc) {
            snprintf(why, whysz, "bp_fix(page %llu) at op %llu: %s (%d): %s",
                     (unsigned long long)seq[i], (unsigned long long)i,
                     bp_strerror(rc), rc, bp_errmsg(p));
            *bad += b;
            return rc;
        }
        b += bu_touch_check(pg.data, seq[i], psz) + (pg.pgno != seq[i]);
        rc = bp_unfix(p, &pg, 0);
        if (rc) {
            snprintf(why, whysz, "bp_unfix(page %llu) at op %llu: %s (%d): %s",
                     (unsigned long long)seq[i], (unsigned long long)i,
                     bp_strerror(rc), rc, bp_errmsg(p));
            *bad += b;
            return rc;
        }
        if (lat && (i & mask) == mask)
            bo_hist_add(lat, (bo_ticks_to_ns(bo_ticks() - lt0) + mask / 2 +
                              1) / (mask + 1));
    }
    *bad += b;
    return 0;
}

static int rm_ops(bp_pool *p, const uint64_t *seq, uint64_t n, size_t psz,
                  uint64_t *bad, char *why, size_t whysz)
{
    return rm_ops_g(p, seq, n, psz, bad, why, whysz, NULL, 0);
}

static int rm_ops_lat(bp_pool *p, const uint64_t *seq, uint64_t n,
                      size_t psz, uint64_t *bad, char *why, size_t whysz,
                      bo_hist *lat, uint64_t mask)
{
    return rm_ops_g(p, seq, n, psz, bad, why, whysz, lat, mask);
}

/* Backend bi of prefault pi failed at level lv: note why, mark its cells
 * from lv on as n/a, close the pool. */
static void rm_fail(rm_ctx *c, rm_pool *pl, int pi, int bi, int lv,
                    const char *what, const char *why)
{
    char who[64];
    for (int l = lv; l < RM_NLEVEL; l++)
        c->cell[l][pi][bi].na = 1;
    pl->dead = 1;
    bpl_fail(&c->sh, &pl->p, rm_who(c, pl, who, sizeof who), what, why);
}

/* bu_stats of pool pl into st; -1 after rm_fail (cells from level lv on,
 * the phase named what) when it fails. */
static int rm_stats(rm_ctx *c, rm_pool *pl, int lv, const char *what,
                    bp_stats *st)
{
    char why[1200];
    if (!bu_stats(pl->p, st, why, sizeof why))
        return 0;
    rm_fail(c, pl, pl->pi, pl->bi, lv, what, why);
    return -1;
}

/* ---- Warm-up ------------------------------------------------------------- */

/* Untimed ops with a checked result; 0 or -1 after rm_fail (which marks
 * the cells from level lv on).  what names the phase in messages. */
static int rm_warm_ops(rm_ctx *c, rm_pool *pl, int pi, int bi, int lv,
                       const char *what, const uint64_t *seq, uint64_t n)
{
    char why[1200];
    uint64_t bad = 0;
    int rc = rm_ops(pl->p, seq, n, c->o.page_size, &bad, why, sizeof why);
    if (bad) {
        c->sh.data_error = 1;
        rm_note(c, BPL_WARN, "DATA ERROR: %s/%s: %llu blocks with the "
                "wrong content during the %s (library bug)",
                bp_backend_name(c->o.bk[bi]), rm_pf_name[c->o.pf[pi]],
                (unsigned long long)bad, what);
    }
    if (rc) {
        rm_fail(c, pl, pi, bi, lv, what, why);
        return -1;
    }
    return 0;
}

/* Bring pool bi to the steady state of level lv (see bench_remap.c). */
static int rm_warm(rm_ctx *c, rm_pool *pl, int pi, int bi, int lv)
{
    bp_stats s0, s1;
    bu_rng r;
    uint64_t buf[1024];

    switch (lv) {
    case RM_WHIT:
        /* Map the whole set; repeat until a pass needs no remap. */
        for (int pass = 0; pass < 6; pass++) {
            if (rm_stats(c, pl, lv, "warm-up", &s0) ||
                rm_warm_ops(c, pl, pi, bi, lv, "whit warm-up", c->set,
                            c->nset[RM_WHIT]) ||
                rm_stats(c, pl, lv, "warm-up", &s1))
                return -1;
            if (pass > 0 && s1.window_misses == s0.window_misses)
                return 0;
        }
        rm_note(c, BPL_INFO, "%s/%s: whit warm-up: the %llu-page set "
                "still missed the window after 6 passes",
                bp_backend_name(c->o.bk[bi]), rm_pf_name[c->o.pf[pi]],
                (unsigned long long)c->nset[RM_WHIT]);
        return 0;
    case RM_CHIT: {
        /* The set is cached already; fill the window with a random mix. */
        uint64_t n = 2 * c->o.window_slots;
        bu_rng_seed(&r, c->o.seed, 100 + lv, 0);
        while (n) {
            uint64_t k = n < 1024 ? n : 1024;
            for (uint64_t i = 0; i < k; i++)
                buf[i] = c->set[bu_rng_below(&r, c->nset[RM_CHIT])];
            if (rm_warm_ops(c, pl, pi, bi, lv, "chit warm-up", buf, k))
                return -1;
            n -= k;
        }
        return 0;
    }
    case RM_MISS: {
        /* Random pages until the cache is full (frames get evicted). */
        uint64_t cap = c->sh.frames + 4 * c->o.window_slots + 4096, done = 0;
        bu_rng_seed(&r, c->o.seed, 100 + lv, 0);
        if (rm_stats(c, pl, lv, "warm-up", &s0))
            return -1;
        while (done < cap) {
            for (uint64_t i = 0; i < 1024; i++)
                buf[i] = bu_rng_below(&r, c->sh.data_pages);
            if (rm_warm_ops(c, pl, pi, bi, lv, "miss warm-up", buf, 1024))
                return -1;
            done += 1024;
            if (rm_stats(c, pl, lv, "warm-up", &s1))
                return -1;
            if (s1.frame_evictions - s0.frame_evictions >= 256)
                return 0;
        }
        rm_note(c, BPL_INFO, "%s/%s: miss warm-up: %llu random fixes "
                "evicted fewer than 256 frames", bp_backend_name(c->o.bk[bi]),
                rm_pf_name[c->o.pf[pi]], (unsigned long long)done);
        return 0;
    }
    default: return 0;
    }
}

/* ---- Timed phases, checks, the run --------------------------------------- */

static void rm_timed(rm_ctx *c, rm_pool *pl, int pi, int bi, int lv,
                     uint64_t rep)
{
    char why[1200];
    bp_stats s0, s1;
    rm_cell *cl = &c->cell[lv][pi][bi];
    const uint64_t *seq = c->seq[lv] + rep * c->nops[lv];
    uint64_t n = c->nops[lv];

    if (rm_stats(c, pl, lv, "timed phase", &s0))
        return;
    uint64_t bad = 0;
    uint64_t t0 = bu_now_ns();
    int rc = rm_ops(pl->p, seq, n, c->o.page_size, &bad, why, sizeof why);
    uint64_t t1 = bu_now_ns();
    cl->bad += bad;
    if (rc) {
        rm_fail(c, pl, pi, bi, lv, "timed phase", why);
        return;
    }
    if (rm_stats(c, pl, lv, "timed phase", &s1))
        return;
    cl->ns[cl->nrep++] = (double)(t1 - t0) / (double)n;
    cl->fixes += s1.fixes - s0.fixes;
    cl->wh += s1.window_hits - s0.window_hits;
    cl->wm += s1.window_misses - s0.window_misses;
    cl->ch += s1.cache_hits - s0.cache_hits;
    cl->cm += s1.cache_misses - s0.cache_misses;
}

/* The latency rep of a level: its own sequence (the one after the timed
 * reps'), in batches timed into the cell's histogram (bo_tick_batch of the
 * timed reps' median ns/op).  It counts in no ns/op and no check. */
static void rm_latency(rm_ctx *c, rm_pool *pl, int pi, int bi, int lv)
{
    char why[1200];
    rm_cell *cl = &c->cell[lv][pi][bi];
    const uint64_t *seq = c->seq[lv] + c->o.reps * c->nops[lv];
    uint64_t bad = 0;

    cl->lat_batch = bo_tick_batch(cl->nrep ? bu_median(cl->ns, cl->nrep)
                                           : 0.0);
    if (rm_ops_lat(pl->p, seq, c->nops[lv], c->o.page_size, &bad, why,
                   sizeof why, cl->lat, cl->lat_batch - 1))
        rm_fail(c, pl, pi, bi, lv, "latency rep", why);
    cl->bad += bad;
}

/* Does the level look like what it claims?  WARNING notes if not. */
static void rm_check(rm_ctx *c, rm_pool *pl, int pi, int bi, int lv)
{
    rm_cell *cl = &c->cell[lv][pi][bi];
    const char *bn = bp_backend_name(c->o.bk[bi]);
    const char *pn = rm_pf_name[c->o.pf[pi]];
    const char *ln = rm_level_name[lv];
    uint64_t expect = c->nops[lv] * c->o.reps;
    double f = cl->fixes ? 100.0 / (double)cl->fixes : 0.0;

    if (cl->bad) {
        c->sh.data_error = 1;
        rm_note(c, BPL_WARN, "DATA ERROR: %s/%s/%s: %llu touched blocks "
                "held another page's content (library bug)", ln, pn, bn,
                (unsigned long long)cl->bad);
    }
    if (cl->fixes != expect)
        rm_note(c, BPL_WARN, "%s/%s/%s: bp_stats counted %llu fixes in the "
                "timed phases, the bench made %llu", ln, pn, bn,
                (unsigned long long)cl->fixes, (unsigned long long)expect);
    if (cl->wh + cl->wm != cl->fixes || cl->ch + cl->cm != cl->wm)
        rm_note(c, BPL_WARN, "%s/%s/%s: bp_stats do not add up: fixes %llu,"
                " window hits %llu + misses %llu, cache hits %llu + misses "
                "%llu", ln, pn, bn, (unsigned long long)cl->fixes,
                (unsigned long long)cl->wh, (unsigned long long)cl->wm,
                (unsigned long long)cl->ch, (unsigned long long)cl->cm);
    switch (lv) {
    case RM_WHIT:
        if (cl->wm)
            rm_note(c, BPL_WARN, "%s/%s/%s: %llu window misses (%.2f%% of "
                    "fixes) in the timed phase, expected 0: not a pure window "
                    "hit level", ln, pn, bn, (unsigned long long)cl->wm,
                    (double)cl->wm * f);
        break;
    case RM_CHIT:
        if (cl->cm)
            rm_note(c, BPL_WARN, "%s/%s/%s: %llu cache misses (%.2f%% of "
                    "fixes) in the timed phase, expected 0: not a pure cache "
                    "hit level", ln, pn, bn, (unsigned long long)cl->cm,
                    (double)cl->cm * f);
        /* linear maps the whole cache: nothing to remap, nothing to check */
        if (c->o.bk[bi] != BP_BACKEND_LINEAR &&
            pl->st.backend != BP_BACKEND_LINEAR && pl->st.slots &&
            pl->st.slots < c->nset[RM_CHIT] && cl->wm * 2 < cl->fixes)
            rm_note(c, BPL_WARN, "%s/%s/%s: only %.1f%% of fixes missed "
                    "the window (expected about %.0f%%): the window holds too "
                    "much of the set", ln, pn, bn, (double)cl->wm * f,
                    100.0 * (1.0 - (double)pl->st.slots /
                                       (double)c->nset[RM_CHIT]));
        break;
    case RM_MISS:
        if (cl->cm * 2 < cl->fixes)
            rm_note(c, BPL_WARN, "%s/%s/%s: only %.1f%% of fixes missed "
                    "the cache (expected about %.0f%%)", ln, pn, bn,
                    (double)cl->cm * f,
                    100.0 * (1.0 - (double)c->sh.frames /
                                       (double)c->sh.data_pages));
        break;
    default: break;
    }
}

static void rm_record_open(rm_ctx *c, rm_pool *pl, int pi, int bi)
{
    bp_backend want = c->o.bk[bi];
    const char *bn = bp_backend_name(want);
    const char *pn = rm_pf_name[c->o.pf[pi]];
    bp_stats *st = &pl->st;
    char who[64];

    if (want == BP_BACKEND_AUTO)
        c->auto_bk[pi] = (bp_backend)st->backend;
    bpl_backend_note(&c->sh, rm_who(c, pl, who, sizeof who), want, st,
                     c->auto_chose[pi], sizeof c->auto_chose[pi]);
    if (st->prefault != (uint32_t)c->o.pf[pi])
        rm_note(c, BPL_INFO, "%s/%s: the pool reports prefault %u", bn, pn,
                st->prefault);
    if (st->slots != c->o.window_slots)
        rm_note(c, BPL_INFO, "%s/%s: %llu window slots (asked %llu)", bn,
                pn, (unsigned long long)st->slots,
                (unsigned long long)c->o.window_slots);
    if (st->frames != c->sh.frames)
        rm_note(c, BPL_INFO, "%s/%s: %llu cache frames (expected %llu)", bn,
                pn, (unsigned long long)st->frames,
                (unsigned long long)c->sh.frames);
    if (st->data_pages != c->sh.data_pages)
        rm_note(c, BPL_WARN, "%s/%s: the pool sees %llu data pages, the "
                "file has %llu", bn, pn, (unsigned long long)st->data_pages,
                (unsigned long long)c->sh.data_pages);
    if (!c->lib_info_done) {
        c->lib_info_done = 1;
        snprintf(c->lib_info, sizeof c->lib_info,
                 "io engine %.16s, %s (alignment %u), vm.max_map_count %llu, "
                 "window VMA budget %llu",
                 st->io_engine, st->direct_io ? "O_DIRECT" : "buffered I/O",
                 st->dio_align, (unsigned long long)st->vma_limit,
                 (unsigned long long)st->vma_budget);
    }
}

/* Run every level on the n pools pl[] (each names its prefault mode pi and
 * backend bi), opened together so the timed reps interleave over all of
 * them. */
static void rm_group(rm_ctx *c, rm_pool *pl, int n)
{
    char why[1200];

    bu_progress("opening %d pools", n);
    for (int k = 0; k < n; k++) {
        int pi = pl[k].pi, b = pl[k].bi;
        uint64_t t0 = bu_now_ns();
        if (rm_open(c, &pl[k], why, sizeof why)) {
            rm_fail(c, &pl[k], pi, b, 0, "open", why);
            continue;
        }
        rm_record_open(c, &pl[k], pi, b);
        if (c->o.bk[b] == BP_BACKEND_AUTO)
            bu_progress("auto (%s) chose %s in %.2f s: %s",
                        rm_pf_name[c->o.pf[pi]],
                        bp_backend_name((bp_backend)pl[k].st.backend),
                        (double)(bu_now_ns() - t0) / 1e9,
                        pl[k].st.backend_reason);
    }

    if (c->o.level_on[RM_CHIT]) {
        bu_progress("reading the %llu-page chit set into each cache",
                    (unsigned long long)c->nset[RM_CHIT]);
        for (int k = 0; k < n; k++)
            if (!pl[k].dead)
                rm_warm_ops(c, &pl[k], pl[k].pi, pl[k].bi, RM_WHIT,
                            "first read of the chit set", c->set,
                            c->nset[RM_CHIT]);
    }

    for (int lv = 0; lv < RM_NLEVEL; lv++) {
        if (!c->o.level_on[lv])
            continue;
        bu_progress("level %s: warm-up", rm_level_name[lv]);
        for (int k = 0; k < n; k++)
            if (!pl[k].dead)
                rm_warm(c, &pl[k], pl[k].pi, pl[k].bi, lv);
        bu_progress("level %s: %llu reps x %llu ops x %d pools",
                    rm_level_name[lv], (unsigned long long)c->o.reps,
                    (unsigned long long)c->nops[lv], n);
        for (uint64_t rep = 0; rep <= c->o.reps; rep++)
            for (int k = 0; k < n; k++) {
                if (pl[k].dead)
                    continue;
                if (rep < c->o.reps)
                    rm_timed(c, &pl[k], pl[k].pi, pl[k].bi, lv, rep);
                else
                    rm_latency(c, &pl[k], pl[k].pi, pl[k].bi, lv);
                atomic_fetch_add(&c->sh.pg_done, 1);
            }
        for (int k = 0; k < n; k++)
            if (!pl[k].dead)
                rm_check(c, &pl[k], pl[k].pi, pl[k].bi, lv);
    }

    for (int k = 0; k < n; k++) {
        char who[64];
        if (!pl[k].dead && pl[k].p)
            bpl_close(&c->sh, &pl[k].p, rm_who(c, &pl[k], who, sizeof who));
    }
}

/* Open the pools of all prefault modes together, or one mode at a time
 * (c->together, chosen by rm_setup). */
void rm_run_all(void *arg)
{
    rm_ctx *c = arg;
    rm_pool pl[RM_MAXPF * RM_MAXBK];
    int n = 0;
    memset(pl, 0, sizeof pl);
    for (int pi = 0; pi < c->o.npf; pi++)
        for (int b = 0; b < c->o.nbk; b++) {
            pl[n].pi = pi;
            pl[n].bi = b;
            n++;
        }
    int nlv = 0;
    for (int lv = 0; lv < RM_NLEVEL; lv++)
        nlv += c->o.level_on[lv];
    atomic_store(&c->sh.pg_total, nlv * n * (int)(c->o.reps + 1));
    bo_progress_start(bpl_progress, &c->sh);
    if (c->together == n) {
        rm_group(c, pl, n);
    } else {
        for (int pi = 0; pi < c->o.npf; pi++)
            rm_group(c, pl + pi * c->o.nbk, c->o.nbk);
    }
    bo_progress_stop();
}
