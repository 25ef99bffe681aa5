/*
 * bench_wl_lat.c - the harness's latency histograms (bench_wl_impl.h): one
 * bo_hist per worker thread and operation kind in the engine's child,
 * merged per kind after the run into the result's histograms, which live
 * in the MAP_SHARED result block; the parent reads them there for the
 * report's latency table and the result rows.
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

void wl_lat_collect(wl_counters *c, int nt, int nkinds, wl_result *r)
{
    for (int k = 0; k < nkinds; k++)
        for (int t = 0; t < nt; t++) {
            if (c[t].lat[k])
                bo_hist_merge(r->lat[k], c[t].lat[k]);
            bo_hist_free(c[t].lat[k]);
            c[t].lat[k] = NULL;
        }
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
