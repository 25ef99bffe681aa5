/*
 * bench_io_report.c - what `bpbench io` reports: the rows of its table
 * (IOPS, pool/fio, p50 and p99 of both), of its latency table (p50, p90,
 * p99, p99.9, max and mean per read or write, the pool's and fio's), the
 * results handed to bo_run (table "io", or "io_vs_raw"), and the plots
 * (--out DIR: IOPS and latency per queue depth, drawn by gnuplot).
 *
 * fio's latency of a cell is its total latency (lat_ns: issue to
 * completion) from its JSON output; over the cell's fio runs each percentile is the median of
 * the runs' own, max the largest, mean the mean weighted by count.
 */
#include "bench_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static double io_med_of(const double *v, uint64_t n)
{
    return bu_median(v, (size_t)n);
}

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
    out->p50 = (uint64_t)io_med_of(v[0], k);
    out->p90 = (uint64_t)io_med_of(v[1], k);
    out->p99 = (uint64_t)io_med_of(v[2], k);
    out->p999 = (uint64_t)io_med_of(v[3], k);
}

/* The median of a cell's fio IOPS (0 without fio). */
static double io_fio_iops(const io_res *r, int pi, int di, uint64_t nf)
{
    double iops[IO_MAXREP * (IO_MAXBK + 1)];
    if (!r->have_fio)
        return 0;
    for (uint64_t k = 0; k < nf; k++)
        iops[k] = r->fio[pi][di][k].iops;
    return io_med_of(iops, nf);
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

/* The pool/fio ratio of backend b in each rep of a cell (0 without fio
 * on both sides) into ratio[]. */
static void io_ratios(const io_opts *o, const io_res *r, int b, int pi,
                      int di, double *ratio)
{
    for (uint64_t k = 0; k < o->reps; k++) {
        const bu_fio_res *fr = &r->fio[pi][di][k * (uint64_t)(o->nbk + 1)];
        double beside = (fr[b].iops + fr[b + 1].iops) / 2;
        ratio[k] = fr[b].iops > 0 && fr[b + 1].iops > 0
                       ? r->pool[b][pi][di][k] / beside
                       : 0;
    }
}

/* The pool/fio cell: the median ratio and, over reps, its spread. */
static void io_ratio_cell(const io_opts *o, const double *ratio, int have,
                          char *buf, size_t n)
{
    if (!have) {
        snprintf(buf, n, "n/a");
        return;
    }
    snprintf(buf, n, "%.2f", io_med_of(ratio, o->reps));
    if (o->reps > 1) {
        double lo = ratio[0], hi = ratio[0];
        size_t at = strlen(buf);
        for (uint64_t k = 1; k < o->reps; k++) {
            lo = ratio[k] < lo ? ratio[k] : lo;
            hi = ratio[k] > hi ? ratio[k] : hi;
        }
        snprintf(buf + at, n - at, " (%.2f-%.2f)", lo, hi);
    }
}

/* The result of backend b in a cell for bo_run. */
static void io_run_row(const io_opts *o, const io_res *r, int b, int pi,
                       int di, const bo_pcts *fl, double fm,
                       const double *ratio, bo_run *run)
{
    int w = di == o->nd;
    bo_row *row = bo_row_new(run, "io");
    bo_label_str(row, "test", w ? "write-back" : "rand read");
    bo_label_num(row, "page", (double)o->psz[pi]);
    bo_label_num(row, "depth", (double)(w ? o->wdepth : o->depths[di]));
    bo_label_str(row, "backend", bp_backend_name(o->bk[b]));
    bo_metric(row, "pool_ops_per_s", io_med_of(r->pool[b][pi][di], o->reps));
    if (fm > 0) {
        bo_metric(row, "fio_ops_per_s", fm);
        bo_metric(row, "ratio_pool_fio", io_med_of(ratio, o->reps));
    }
    if (w) {
        double wm = io_med_of(r->wmean[b][pi], o->reps);
        if (wm > 0)
            bo_metric(row, "pool_write_mean_ns", wm);
    } else {
        bo_latency(row, "pool_read", r->lat[b][pi][di]);
    }
    bo_latency_pcts(row, w ? "fio_write" : "fio_read", fl);
}

void io_report_rows(const io_opts *o, const io_res *r, int pi, bu_table *t,
                    bu_table *tl, bo_run *run)
{
    char pg[24], dp[24], cell[8][64];
    snprintf(pg, sizeof pg, "%llu", (unsigned long long)o->psz[pi]);
    for (int di = 0; di <= o->nd; di++) {
        int w = di == o->nd;
        const char *test = w ? "write-back" : "rand read";
        uint64_t nf = o->reps * (uint64_t)(o->nbk + 1);
        double fm = io_fio_iops(r, pi, di, nf), ratio[IO_MAXREP];
        bo_pcts fl;
        io_fio_merge(r->fio[pi][di], r->have_fio ? nf : 0, &fl);
        snprintf(dp, sizeof dp, "%llu",
                 (unsigned long long)(w ? o->wdepth : o->depths[di]));
        for (int b = 0; b < o->nbk; b++) {
            bo_pcts pl = {0};
            const char *bk = bp_backend_name(o->bk[b]);
            if (!w)
                bo_hist_pcts(r->lat[b][pi][di], &pl);
            io_ratios(o, r, b, pi, di, ratio);
            snprintf(cell[0], sizeof cell[0], "%.0f",
                     io_med_of(r->pool[b][pi][di], o->reps));
            snprintf(cell[1], sizeof cell[1], r->have_fio ? "%.0f" : "n/a",
                     fm);
            io_ratio_cell(o, ratio, r->have_fio && fm > 0, cell[2],
                          sizeof cell[2]);
            io_two_pcts(&pl, cell[3], cell[4], sizeof cell[3]);
            io_two_pcts(&fl, cell[5], cell[6], sizeof cell[5]);
            const char *row[11] = {test,    pg,      dp,      bk,
                                   cell[0], cell[1], cell[2], cell[3],
                                   cell[4], cell[5], cell[6]};
            bu_table_add(t, row);
            io_lat_row(tl, test, pg, dp, bk, w ? NULL : &pl,
                       w ? io_med_of(r->wmean[b][pi], o->reps) : 0);
            io_run_row(o, r, b, pi, di, &fl, fm, ratio, run);
        }
        if (fl.count)
            io_lat_row(tl, test, pg, dp, "fio", &fl, 0);
    }
}

void io_report_raw_row(const io_opts *o, uint64_t psz, uint64_t d, int b,
                       const double v[4], const bo_hist *lat, bu_table *t,
                       bo_run *run)
{
    char c[9][48];
    bo_pcts pl;
    bo_hist_pcts(lat, &pl);
    snprintf(c[0], sizeof c[0], "%llu", (unsigned long long)psz);
    snprintf(c[1], sizeof c[1], "%llu", (unsigned long long)d);
    snprintf(c[2], sizeof c[2], "%s", bp_backend_name(o->bk[b]));
    snprintf(c[3], sizeof c[3], "%.0f", v[0]);
    snprintf(c[4], sizeof c[4], "%.0f", v[1]);
    snprintf(c[5], sizeof c[5], "%.2f", v[2]);
    snprintf(c[6], sizeof c[6], "%.0f", v[3]);
    io_two_pcts(&pl, c[7], c[8], sizeof c[7]);
    const char *row[10] = {"rand read", c[0], c[1], c[2], c[3],
                           c[4],        c[5], c[6], c[7], c[8]};
    bu_table_add(t, row);
    bo_row *w = bo_row_new(run, "io_vs_raw");
    bo_label_str(w, "test", "rand read");
    bo_label_num(w, "page", (double)psz);
    bo_label_num(w, "depth", (double)d);
    bo_label_str(w, "backend", bp_backend_name(o->bk[b]));
    bo_metric(w, "pool_ops_per_s", v[0]);
    bo_metric(w, "raw_ops_per_s", v[1]);
    bo_metric(w, "ratio_pool_raw", v[2]);
    bo_metric(w, "pairs", v[3]);
    bo_latency(w, "pool_read", lat);
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
                            io_med_of(r->pool[b][pi][di], o->reps));
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
