/*
 * bench_wl_lat.c - the harness's latency histograms (bench_wl_impl.h): one
 * bo_hist per worker thread and operation kind in the engine's child,
 * merged per kind after the run and written into the MAP_SHARED result
 * block as the values it reports with their counts (wl_lat); the parent
 * rebuilds an equal bo_hist from them for the report's latency table and
 * the result rows.
 *
 * The workers record without allocation or lock: each thread owns its
 * histograms (wl_counters.lat), allocated before the threads start; the
 * clock (bo_ticks) is calibrated here once, in the parent.
 */
#include "bench_wl_impl.h"

#include "bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int wl_lat_clock_init(void)
{
    static int done = -1;
    if (done < 0)
        done = bo_tick_init();
    return done;
}

int wl_lat_alloc(wl_counters *c, int nt, int nkinds)
{
    for (int t = 0; t < nt; t++)
        for (int k = 0; k < nkinds; k++)
            if (!(c[t].lat[k] = bo_hist_new())) {
                for (int u = 0; u <= t; u++)
                    for (int j = 0; j < nkinds; j++) {
                        bo_hist_free(c[u].lat[j]);
                        c[u].lat[j] = NULL;
                    }
                return -ENOMEM;
            }
    return 0;
}

/* The value h reports at rank r (1..count): the quantile whose rank
 * bo_hist_pct rounds up to r exactly. */
static uint64_t wl_lat_at(const bo_hist *h, uint64_t r, uint64_t n)
{
    return bo_hist_pct(h, ((double)r - 0.5) / (double)n);
}

/* The last rank from r on (at most n) at which h reports v, its value at
 * r: galloping, then bisection. */
static uint64_t wl_lat_run_end(const bo_hist *h, uint64_t r, uint64_t n,
                               uint64_t v)
{
    uint64_t lo = r, step = 1, hi;
    while (lo + step <= n && wl_lat_at(h, lo + step, n) == v) {
        lo += step;
        step *= 2;
    }
    hi = lo + step <= n ? lo + step : n + 1; /* first rank known past */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (wl_lat_at(h, mid, n) == v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The values h reports and their counts into l. */
static void wl_lat_export(const bo_hist *h, wl_lat *l)
{
    uint64_t n = bo_hist_count(h);

    l->count = n;
    l->n = 0;
    if (!n)
        return;
    l->min = bo_hist_pct(h, 0);
    l->max = bo_hist_max(h);
    for (uint64_t r = 1; r <= n; l->n++) {
        uint64_t v = wl_lat_at(h, r, n);
        uint64_t end = l->n + 1 < WL_LAT_VALUES ? wl_lat_run_end(h, r, n, v)
                                                : n; /* the rest */
        l->v[l->n] = v;
        l->c[l->n] = end - r + 1;
        r = end + 1;
    }
}

void wl_lat_collect(wl_counters *c, int nt, int nkinds, wl_result *r)
{
    for (int k = 0; k < nkinds; k++) {
        bo_hist *into = nt > 0 ? c[0].lat[k] : NULL;
        if (!into)
            continue;
        for (int t = 1; t < nt; t++)
            if (c[t].lat[k])
                bo_hist_merge(into, c[t].lat[k]);
        wl_lat_export(into, &r->lat[k]);
        for (int t = 0; t < nt; t++) {
            bo_hist_free(c[t].lat[k]);
            c[t].lat[k] = NULL;
        }
    }
}

/* Add v to h n times. */
static void wl_hist_add_n(bo_hist *h, uint64_t v, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        bo_hist_add(h, v);
}

bo_hist *wl_lat_rebuild(const wl_lat *l)
{
    bo_hist *h = l->count && l->n ? bo_hist_new() : NULL;

    if (!h)
        return NULL;
    for (uint32_t i = 0; i < l->n; i++) {
        uint64_t cnt = l->c[i];
        if (i == 0 && cnt) { /* the fastest operation, in its bucket */
            bo_hist_add(h, l->min);
            cnt--;
        }
        if (i == l->n - 1 && cnt) { /* and the slowest */
            bo_hist_add(h, l->max);
            cnt--;
        }
        wl_hist_add_n(h, l->v[i], cnt);
    }
    return h;
}

/* One row of the latency table. */
static void wl_lat_row(bu_table *t, const char *engine, const char *kind,
                       double ops_s, const bo_hist *h)
{
    static const double q[4] = {0.5, 0.9, 0.99, 0.999};
    char c[8][32];
    const char *row[9] = {engine, kind, c[0], c[1], c[2], c[3], c[4], c[5],
                          c[6]};

    snprintf(c[0], sizeof c[0], "%.0f", ops_s);
    bo_fmt_ns((uint64_t)(bo_hist_mean(h) + 0.5), c[1], sizeof c[1]);
    for (int i = 0; i < 4; i++)
        bo_fmt_ns(bo_hist_pct(h, q[i]), c[2 + i], sizeof c[2 + i]);
    bo_fmt_ns(bo_hist_max(h), c[6], sizeof c[6]);
    bu_table_add(t, row);
}

void wl_lat_print(const wl_workload *w, const wl_opts *o,
                  const wl_result *const *sel,
                  bo_hist *const (*h)[WL_MAX_KINDS + 1])
{
    static const char *const hdr[9] = {"engine", "op", "ops/s", "mean",
                                       "p50", "p90", "p99", "p99.9",
                                       "max"};
    bu_table t;
    int rows = 0;

    bu_table_init(&t, 9);
    bu_table_add(&t, hdr);
    for (int i = 0; i < o->nengines; i++) {
        const wl_result *r = sel[i];
        double secs = r->run_secs > 0 ? r->run_secs : 1;
        uint64_t every = 0;
        for (int k = 0; k < w->nkinds; k++) {
            every += r->total[k];
            if (h[i][k]) {
                wl_lat_row(&t, r->label, w->kind_names[k],
                           (double)r->total[k] / secs, h[i][k]);
                rows++;
            }
        }
        if (w->main_kind >= 0 && h[i][w->nkinds])
            wl_lat_row(&t, r->label, "all", (double)every / secs,
                       h[i][w->nkinds]);
    }
    if (rows) {
        printf("  latency of every %s, per kind (%s, %.0f ns per read "
               "taken off):\n",
               w->main_kind >= 0 ? "transaction" : "operation",
               bo_tick_tsc ? "TSC" : "clock_gettime", bo_tick_overhead_ns());
        bu_table_print(&t, stdout, "  ", 2);
    }
    bu_table_free(&t);
}
