/*
 * bench_io_report.c - what `bpbench io` reports: the rows of its table
 * (IOPS, pool/fio, p50 and p99 of both), of its latency table (p50, p90,
 * p99, p99.9, max and mean per read or write, the pool's and fio's), the
 * results handed to bo_run (table "io", or "io_vs_raw"), and the plots
 * (--out DIR: IOPS and latency per queue depth, drawn by gnuplot).
 *
 * fio's latency of a cell is its total latency (lat_ns: issue to
 * completion) from its JSON output; over the cell's fio runs each
 * percentile is the median of the runs' own, max the largest, mean the
 * mean weighted by count.
 */
#include "bench_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The cell's fio runs (n of them) merged into one summary (count 0 when
 * none has one). */
static void io_fio_merge(const bu_fio_res *runs, uint64_t n, bo_pcts *out)
{
    double v[5][IO_MAXREP * (IO_MAXBK + 1)], wsum = 0;
    uint64_t k = 0;
    memset(out, 0, sizeof *out);
    for (uint64_t i = 0; i < n; i++) {
        const bo_pcts *c = &runs[i].lat;
        if (!c->count)
            continue;
        v[0][k] = (double)c->p50, v[1][k] = (double)c->p90;
        v[2][k] = (double)c->p99, v[3][k] = (double)c->p999;
        k++;
        out->count += c->count;
        wsum += c->mean * (double)c->count;
        out->max = c->max > out->max ? c->max : out->max;
    }
    if (!k)
        return;
    out->mean = wsum / (double)out->count;
    out->p50 = (uint64_t)bu_median(v[0], k);
    out->p90 = (uint64_t)bu_median(v[1], k);
    out->p99 = (uint64_t)bu_median(v[2], k);
    out->p999 = (uint64_t)bu_median(v[3], k);
}

/* The median of a cell's fio IOPS (0 without fio). */
static double io_fio_iops(const io_res *r, int pi, int di, uint64_t nf)
{
    double iops[IO_MAXREP * (IO_MAXBK + 1)];
    if (!r->have_fio)
        return 0;
    for (uint64_t k = 0; k < nf; k++)
        iops[k] = r->fio[pi][di][k].iops;
    return bu_median(iops, nf);
}

void io_table_head(bu_table *t, bu_table *tl, int vs_raw)
{
    static const char *const h[] = {"test",      "page",     "depth",
                                    "backend",   "pool IOPS", "fio IOPS",
                                    "pool/fio (reps)", "pool p50",
                                    "pool p99",  "fio p50",  "fio p99"};
    static const char *const hr[] = {"test",      "page",     "depth",
                                     "backend",   "pool IOPS", "raw IOPS",
                                     "pool/raw",  "pairs",    "pool p50",
                                     "pool p99"};
    static const char *const hl[] = {"test", "page",  "depth", "who",
                                     "p50",  "p90",   "p99",   "p99.9",
                                     "max",  "mean"};
    bu_table_init(t, vs_raw ? 10 : 11);
    bu_table_add(t, vs_raw ? hr : h);
    bu_table_init(tl, 10);
    bu_table_add(tl, hl);
}

/* p50 and p99 of s into a and b ("-" when there is none). */
static void io_two_pcts(const bo_pcts *s, char *a, char *b, size_t n)
{
    snprintf(a, n, "-");
    snprintf(b, n, "-");
    if (s && s->count) {
        bo_fmt_ns(s->p50, a, n);
        bo_fmt_ns(s->p99, b, n);
    }
}

/* A row of the latency table: five percentiles and the mean of s, or
 * only mean (s NULL; 0: "-"). */
static void io_lat_row(bu_table *tl, const char *test, const char *page,
                       const char *depth, const char *who, const bo_pcts *s,
                       double mean)
{
    char c[6][24];
    for (int k = 0; k < 6; k++)
        snprintf(c[k], sizeof c[k], "-");
    if (s && s->count) {
        const uint64_t v[5] = {s->p50, s->p90, s->p99, s->p999, s->max};
        for (int k = 0; k < 5; k++)
            bo_fmt_ns(v[k], c[k], sizeof c[k]);
        mean = s->mean;
    }
    if (mean > 0)
        bo_fmt_ns((uint64_t)(mean + 0.5), c[5], sizeof c[5]);
    const char *row[10] = {test, page, depth, who,  c[0],
                           c[1], c[2], c[3],  c[4], c[5]};
    bu_table_add(tl, row);
}

void io_report_rows(const io_opts *o, const io_res *r, int pi, bu_table *t,
                    bu_table *tl, bo_run *run)
{
    uint64_t nf = o->reps * (uint64_t)(o->nbk + 1);
    char pg[24], dp[24], c[7][64];
    snprintf(pg, sizeof pg, "%llu", (unsigned long long)o->psz[pi]);
    for (int di = 0; di <= o->nd; di++) {
        int w = di == o->nd;
        const char *test = w ? "write-back" : "rand read";
        uint64_t d = w ? o->wdepth : o->depths[di];
        double fm = io_fio_iops(r, pi, di, nf);
        bo_pcts fl;
        io_fio_merge(r->fio[pi][di], r->have_fio ? nf : 0, &fl);
        snprintf(dp, sizeof dp, "%llu", (unsigned long long)d);
        for (int b = 0; b < o->nbk; b++) {
            const char *bk = bp_backend_name(o->bk[b]);
            const double *pool = r->pool[b][pi][di];
            double pm = bu_median(pool, o->reps), ratio[IO_MAXREP], rm,
                   wm = w ? bu_median(r->wmean[b][pi], o->reps) : 0,
                   lo = 0, hi = 0;
            bo_pcts pl = {0};
            if (!w)
                bo_hist_pcts(r->lat[b][pi][di], &pl);
            /* each rep's pool run against the mean of the fio runs beside
             * it (0 without fio on both sides) */
            for (uint64_t k = 0; k < o->reps; k++) {
                const bu_fio_res *fr = &r->fio[pi][di][k * (nf / o->reps) + b];
                ratio[k] = fr[0].iops > 0 && fr[1].iops > 0
                               ? pool[k] / ((fr[0].iops + fr[1].iops) / 2)
                               : 0;
                lo = k && lo < ratio[k] ? lo : ratio[k];
                hi = k && hi > ratio[k] ? hi : ratio[k];
            }
            rm = bu_median(ratio, o->reps);
            snprintf(c[0], sizeof c[0], "%.0f", pm);
            snprintf(c[1], sizeof c[1], r->have_fio ? "%.0f" : "n/a", fm);
            if (!r->have_fio || fm <= 0)
                snprintf(c[2], sizeof c[2], "n/a");
            else if (o->reps > 1)
                snprintf(c[2], sizeof c[2], "%.2f (%.2f-%.2f)", rm, lo, hi);
            else
                snprintf(c[2], sizeof c[2], "%.2f", rm);
            io_two_pcts(&pl, c[3], c[4], sizeof c[3]);
            io_two_pcts(&fl, c[5], c[6], sizeof c[5]);
            const char *row[11] = {test, pg,   dp,   bk,   c[0], c[1],
                                   c[2], c[3], c[4], c[5], c[6]};
            bu_table_add(t, row);
            io_lat_row(tl, test, pg, dp, bk, w ? NULL : &pl, wm);

            bo_row *rw = bo_row_new(run, "io");
            bo_label_str(rw, "test", test);
            bo_label_num(rw, "page", (double)o->psz[pi]);
            bo_label_num(rw, "depth", (double)d);
            bo_label_str(rw, "backend", bk);
            bo_metric(rw, "pool_ops_per_s", pm);
            if (fm > 0) {
                bo_metric(rw, "fio_ops_per_s", fm);
                bo_metric(rw, "ratio_pool_fio", rm);
            }
            if (wm > 0)
                bo_metric(rw, "pool_write_mean_ns", wm);
            if (!w)
                bo_latency(rw, "pool_read", r->lat[b][pi][di]);
            bo_latency_pcts(rw, w ? "fio_write" : "fio_read", &fl);
        }
        if (fl.count)
            io_lat_row(tl, test, pg, dp, "fio", &fl, 0);
    }
}

void io_report_raw_row(const io_opts *o, uint64_t psz, uint64_t d, int b,
                       const double v[4], const bo_hist *lat, bu_table *t,
                       bo_run *run)
{
    static const char *const m[4] = {"pool_ops_per_s", "raw_ops_per_s",
                                     "ratio_pool_raw", "pairs"};
    const char *bk = bp_backend_name(o->bk[b]);
    bo_row *w = bo_row_new(run, "io_vs_raw");
    char c[8][48];
    bo_pcts pl;
    bo_hist_pcts(lat, &pl);
    snprintf(c[0], sizeof c[0], "%llu", (unsigned long long)psz);
    snprintf(c[1], sizeof c[1], "%llu", (unsigned long long)d);
    bo_label_str(w, "test", "rand read");
    bo_label_num(w, "page", (double)psz);
    bo_label_num(w, "depth", (double)d);
    bo_label_str(w, "backend", bk);
    for (int k = 0; k < 4; k++) {
        snprintf(c[2 + k], sizeof c[2], k == 2 ? "%.2f" : "%.0f", v[k]);
        bo_metric(w, m[k], v[k]);
    }
    bo_latency(w, "pool_read", lat);
    io_two_pcts(&pl, c[6], c[7], sizeof c[6]);
    const char *row[10] = {"rand read", c[0], c[1], bk,   c[2],
                           c[3],        c[4], c[5], c[6], c[7]};
    bu_table_add(t, row);
}

void io_report_opts(const io_opts *o, bo_run *run)
{
    char l[3][160] = {"", "", ""};
    for (int i = 0; i < o->nbk || i < o->np || i < o->nd; i++) {
        size_t a = strlen(l[0]), b = strlen(l[1]), c = strlen(l[2]);
        if (i < o->nbk)
            snprintf(l[0] + a, sizeof l[0] - a, "%s%s", i ? "," : "",
                     bp_backend_name(o->bk[i]));
        if (i < o->np)
            snprintf(l[1] + b, sizeof l[1] - b, "%s%llu", i ? "," : "",
                     (unsigned long long)o->psz[i]);
        if (i < o->nd)
            snprintf(l[2] + c, sizeof l[2] - c, "%s%llu", i ? "," : "",
                     (unsigned long long)o->depths[i]);
    }
    bo_opt_num(run, "data_bytes", (double)(o->data_mb << 20));
    bo_opt_num(run, "pool_size", (double)o->cache_bytes);
    bo_opt_str(run, "backend", l[0]);
    bo_opt_str(run, "page_size", l[1]);
    bo_opt_str(run, "depths", l[2]);
    bo_opt_num(run, "duration_s", (double)o->seconds);
    bo_opt_num(run, "reps", (double)o->reps);
    bo_opt_num(run, "write_pages", (double)o->wpages);
    bo_opt_num(run, "write_depth", (double)o->wdepth);
    bo_opt_str(run, "consume", o->consume_poll ? "poll" : "log");
    bo_opt_str(run, "refill", o->refill_pass ? "pass" : "one");
    bo_opt_str(run, "coop", o->coop_off ? "off" : "on");
    bo_opt_num(run, "vs_raw", o->vs_raw);
    bo_opt_num(run, "quick", o->quick);
    bo_opt_str(run, "latency_sampling",
               "every read: depth 1 each bp_fix (cache hits included), "
               "above from its bp_prefetch to its completion seen; fio: "
               "lat_ns of its JSON output; write-back: the pool's mean "
               "(bp_stats write_ns / writes)");
}

/* ---- Plots --------------------------------------------------------------- */

/* Data of the plots: per page size a block of one line per read depth,
 * IOPS (iops 1) or p50 and p99 in us (iops 0) of each backend, then
 * fio's. */
static int io_plot_data(const io_opts *o, const io_res *r, const char *path,
                        int iops)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    for (int pi = 0; pi < o->np; pi++) {
        fprintf(f, "%s# page %llu\n", pi ? "\n\n" : "",
                (unsigned long long)o->psz[pi]);
        for (int di = 0; di < o->nd; di++) {
            uint64_t nf = o->reps * (uint64_t)(o->nbk + 1);
            bo_pcts s;
            fprintf(f, "%llu", (unsigned long long)o->depths[di]);
            for (int b = 0; b <= o->nbk; b++) {
                if (b == o->nbk)
                    io_fio_merge(r->fio[pi][di], r->have_fio ? nf : 0, &s);
                else
                    bo_hist_pcts(r->lat[b][pi][di], &s);
                if (iops && b < o->nbk)
                    fprintf(f, " %.0f",
                            bu_median(r->pool[b][pi][di], o->reps));
                else if (iops)
                    fprintf(f, " %.0f", io_fio_iops(r, pi, di, nf));
                else
                    fprintf(f, " %.3f %.3f", (double)s.p50 / 1e3,
                            (double)s.p99 / 1e3);
            }
            fputc('\n', f);
        }
    }
    return fclose(f) ? -errno : 0;
}

/* The plot command of one PNG: a line per page size and backend (and
 * fio), ncol columns per line. */
static void io_plot_cmd(FILE *g, const io_opts *o, const char *dat,
                        int iops, int have_fio)
{
    const char *sep = "plot ";
    for (int pi = 0; pi < o->np; pi++)
        for (int b = 0; b <= o->nbk; b++) {
            if (b == o->nbk && !have_fio)
                continue;
            const char *who = b < o->nbk ? bp_backend_name(o->bk[b]) : "fio";
            for (int k = 0; k < (iops ? 1 : 2); k++) {
                int col = iops ? 2 + b : 2 + 2 * b + k;
                fprintf(g, "%s'%s' index %d using 1:%d with linespoints "
                           "title '%s %s%llu'", sep, dat, pi, col, who,
                        iops ? "" : k ? "p99 " : "p50 ",
                        (unsigned long long)o->psz[pi]);
                sep = ", \\\n     ";
            }
        }
    fputc('\n', g);
}

static int io_plot_one(const io_opts *o, const io_res *r, const char *term,
                       int iops)
{
    char dat[1100], gp[1100], png[1100];
    const char *base = iops ? "io-iops" : "io-latency";
    snprintf(dat, sizeof dat, "%s/%s.dat", o->out.dir, base);
    snprintf(gp, sizeof gp, "%s/%s.gp", o->out.dir, base);
    snprintf(png, sizeof png, "%s/%s.png", o->out.dir, base);
    int rc = io_plot_data(o, r, dat, iops);
    FILE *g = rc ? NULL : fopen(gp, "w");
    if (!g)
        return rc ? rc : -errno;
    fprintf(g, "set terminal %s size 900,520\nset output '%s'\n"
               "set title 'bpbench io: cold random reads, %s per queue "
               "depth'\nset xlabel 'queue depth'\nset logscale x 2\n"
               "set ylabel '%s'\nset key outside right\nset grid\n",
            term, png, iops ? "IOPS" : "latency",
            iops ? "reads per second" : "microseconds (log scale)");
    fprintf(g, iops ? "set yrange [0:*]\n" : "set logscale y\n");
    io_plot_cmd(g, o, dat, iops, r->have_fio);
    if (fclose(g))
        return -errno;
    rc = bu_gnuplot(gp);
    return rc ? -EIO : 0;
}

void io_report_plots(const io_opts *o, const io_res *r)
{
    const char *term;
    char why[1200];
    int rc;
    if (!o->out.dir)
        return;
    if (!(term = bu_plot_begin(o->out.dir, why, sizeof why))) {
        printf("%s\n", why);
        return;
    }
    for (int iops = 1; iops >= 0; iops--)
        if ((rc = io_plot_one(o, r, term, iops)) != 0) {
            printf("plots: %s/%s.gp failed: %s\n", o->out.dir,
                   iops ? "io-iops" : "io-latency", strerror(-rc));
            return;
        }
    printf("plots: %s/io-iops.png (IOPS per depth), %s/io-latency.png (p50 "
           "and p99 per depth)\n", o->out.dir, o->out.dir);
}
