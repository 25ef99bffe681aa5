/*
 * bench_wl_report.c - the report of one workload over every engine: the
 * table on stdout (throughput, ratio to LMDB, storage KiB read per
 * operation during the run, the driver's share of the time per operation,
 * mix, check), CSV rows in
 * <outdir>/<name>.csv, and two PNG plots drawn by gnuplot when it is
 * installed: throughput over time per engine (<name>-throughput.png, from
 * <name>-throughput.dat) and the ratio of each engine to LMDB as bars
 * (<name>-ratio.png, from <name>-ratio.dat).  Files are overwritten.
 *
 * With several rounds, the table row, CSV row and plot line of an engine
 * come from its median round (by steady rate; with an even count the lower
 * middle), so one row is one real run; "vs lmdb" is the median of the
 * per-round ratios; lines after the table list every round's steady rate
 * and ratio.  With bufpool:auto beside other backends, a line gives auto's
 * rate over the best other backend's, every round and their median.
 *
 * Out-of-memory mode adds one line after those: each engine's efficiency,
 * its disk reads per second (the row's result) over fio's random-read
 * IOPS on the same disk at the page size and the run's depth, measured
 * just before and after that run (bench_wl_impl.h: wl_fio), over the
 * steady part of the run and over the whole run, or why fio gave no
 * figure.  The CSV carries that run's fio IOPS and the two efficiencies
 * in its last three columns.
 *
 * Then the latency table (bench_wl_lat.c) and, into o->run, one result
 * row per engine (its median round): the table's figures as metrics with
 * their units in their names, the latency of every kind.
 */
#include "bench_wl_impl.h"

#include "bench_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* File name base from the workload name: lower case, [a-z0-9-] only. */
static void wl_base(const char *name, char *out, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < n; i++)
        out[j++] = isalnum((unsigned char)name[i])
                       ? (char)tolower((unsigned char)name[i])
                       : '-';
    out[j] = '\0';
}

static double wl_ops_s(const wl_workload *w, const wl_result *r)
{
    return r->ran && r->run_secs > 0
               ? (double)wl_counted(w, r->total) / r->run_secs
               : 0.0;
}

/* Counted operations per second from sample i (-1: the start) to the last
 * sample. */
static double wl_rate_from(const wl_result *r, int i)
{
    uint32_t n = r->nsamples;
    double t0 = i < 0 ? 0 : r->sample_t[i];
    uint64_t o0 = i < 0 ? 0 : r->sample_ops[i];
    double dt = r->sample_t[n - 1] - t0;

    return dt > 0 ? (double)(r->sample_ops[n - 1] - o0) / dt : 0;
}

/* Where the steady part of r begins: the sample index (-1: the start)
 * from which the last third of the run is measured; -2 when r has too
 * few samples for one (then the whole run stands for it). */
static int wl_steady_from(const wl_result *r)
{
    uint32_t n = r->nsamples, i = 0;

    if (!r->ran || n < 3)
        return -2;
    while (i + 1 < n && r->sample_t[i] < r->sample_t[n - 1] * 2 / 3)
        i++;
    return i + 1 < n ? (int)i - 1 : -2;
}

/* Steady throughput: the rate over the last third of the run (the whole
 * run's without samples). */
static double wl_steady_ops_s(const wl_workload *w, const wl_result *r)
{
    int i = wl_steady_from(r);

    return i >= -1 ? wl_rate_from(r, i) : wl_ops_s(w, r);
}

/* Time to steady state: the first moment from which the rest of the run
 * goes at >= 90% of the steady rate (0: from the start). */
static double wl_to_steady_s(const wl_workload *w, const wl_result *r)
{
    double steady = wl_steady_ops_s(w, r);

    if (!r->ran || r->nsamples < 3 || steady <= 0)
        return 0;
    for (int i = -1; i + 2 < (int)r->nsamples; i++)
        if (wl_rate_from(r, i) >= 0.9 * steady)
            return i < 0 ? 0 : r->sample_t[i];
    return r->sample_t[r->nsamples - 1];
}

/* Every kind's operations of r. */
static uint64_t wl_every(const wl_workload *w, const wl_result *r)
{
    uint64_t n = 0;
    for (int k = 0; k < w->nkinds; k++)
        n += r->total[k];
    return n;
}

/* The driver's share (percent) of r's time per operation: one worker's
 * time per operation is min(threads, CPUs) x run time / every kind's
 * operations.  0 when either is unknown. */
static double wl_driver_pct(const wl_workload *w, const wl_opts *o,
                            const wl_result *r, double driver_ns)
{
    uint64_t every = wl_every(w, r);
    if (!r->ran || !every || r->run_secs <= 0 || driver_ns <= 0)
        return 0;
    int cpus = bu_ncpu();
    int busy = cpus < o->threads ? cpus : o->threads;
    double op_ns = (double)busy * r->run_secs * 1e9 / (double)every;
    return 100.0 * driver_ns / op_ns;
}

/* What the report shows of each engine over the rounds. */
typedef struct wl_view {
    int nr;                          /* rounds */
    int lmdb;                        /* index of the LMDB engine, -1: none */
    const wl_result *sel[8];         /* the median round's result */
    double ops[8];                   /* its steady rate */
    double ratio[8];                 /* median per-round ratio, 0: none */
    double steady[8][WL_MAX_ROUNDS]; /* steady rate of every round */
    double rratio[8][WL_MAX_ROUNDS]; /* ratio to LMDB of every round, 0:
                                        none */
} wl_view;

/* Index of the median of v[0..n-1] (n > 0; with an even n the lower
 * middle; equal values in order). */
static int wl_median_at(const double *v, int n)
{
    for (int j = 0; j < n; j++) {
        int below = 0;
        for (int k = 0; k < n; k++)
            below += v[k] < v[j] || (v[k] == v[j] && k < j);
        if (below == (n - 1) / 2)
            return j;
    }
    return 0;
}

/* Fill *v from res (wl_report's layout). */
static void wl_view_fill(const wl_workload *w, const wl_opts *o,
                         const wl_result *res, wl_view *v)
{
    int ne = o->nengines;
    memset(v, 0, sizeof *v);
    v->nr = wl_rounds(o);
    v->lmdb = -1;
    for (int i = 0; i < ne; i++)
        if (o->engines[i].kind == KV_LMDB)
            v->lmdb = i;
    for (int r = 0; r < v->nr; r++)
        for (int i = 0; i < ne; i++)
            v->steady[i][r] = wl_steady_ops_s(w, &res[r * ne + i]);
    for (int r = 0; r < v->nr; r++)
        for (int i = 0; i < ne; i++) {
            double l = v->lmdb >= 0 ? v->steady[v->lmdb][r] : 0;
            v->rratio[i][r] = l > 0 ? v->steady[i][r] / l : 0;
        }
    for (int i = 0; i < ne; i++) {
        int m = wl_median_at(v->steady[i], v->nr);
        v->sel[i] = &res[m * ne + i];
        v->ops[i] = v->steady[i][m];
        v->ratio[i] = bu_median_pos(v->rratio[i], (size_t)v->nr);
    }
}

/* Append to the string in buf (n bytes), cutting what does not fit. */
static BU_PRINTF(3, 4) void wl_append(char *buf, size_t n, const char *fmt,
                                      ...)
{
    size_t len = strlen(buf);
    va_list ap;
    if (len + 1 >= n)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + len, n - len, fmt, ap);
    va_end(ap);
}

/* With several rounds: every round's steady rate per engine and, with an
 * LMDB engine, every round's ratio to it per other engine. */
static void wl_print_rounds(const wl_opts *o, const wl_view *v,
                            const char *unit)
{
    char line[4608];
    if (v->nr < 2)
        return;
    snprintf(line, sizeof line, "  rounds (engines alternate, steady %s):",
             unit);
    for (int i = 0; i < o->nengines; i++) {
        wl_append(line, sizeof line, "%s %s", i ? ";" : "", v->sel[i]->label);
        for (int r = 0; r < v->nr; r++)
            if (v->steady[i][r] > 0)
                wl_append(line, sizeof line, " %.0f", v->steady[i][r]);
            else
                wl_append(line, sizeof line, " n/a");
    }
    printf("%s\n", line);
    if (v->lmdb < 0 || o->nengines < 2)
        return;
    snprintf(line, sizeof line, "  per-round ratio to lmdb:");
    for (int i = 0, first = 1; i < o->nengines; i++) {
        if (i == v->lmdb)
            continue;
        wl_append(line, sizeof line, "%s %s", first ? "" : ";",
                  v->sel[i]->label);
        first = 0;
        for (int r = 0; r < v->nr; r++)
            if (v->rratio[i][r] > 0)
                wl_append(line, sizeof line, " %.2fx", v->rratio[i][r]);
            else
                wl_append(line, sizeof line, " -");
        if (v->ratio[i] > 0)
            wl_append(line, sizeof line, " (median %.2fx)", v->ratio[i]);
        else
            wl_append(line, sizeof line, " (median -)");
    }
    printf("%s\n", line);
}

/* r's disk reads per second during its whole run (run_read_bytes in
 * blocks of fio->bs) over fio's IOPS beside it (r->fio_iops); -1 when
 * either is unknown. */
static double wl_efficiency(const wl_result *r, const wl_fio *fio)
{
    if (!fio || r->fio_iops <= 0 || !r->ran || r->run_secs <= 0 ||
        r->run_read_bytes == UINT64_MAX)
        return -1;
    return (double)r->run_read_bytes / (double)fio->bs / r->run_secs /
           r->fio_iops;
}

/* The same over the steady part of the run, the window its steady ops/s
 * is measured over (ops/s x reads per op there, over fio's IOPS); the
 * whole run's when there is no such window; -1 when unknown. */
static double wl_efficiency_steady(const wl_result *r, const wl_fio *fio)
{
    int i = wl_steady_from(r);
    uint32_t n = r->nsamples;

    if (i < -1)
        return wl_efficiency(r, fio);
    if (!fio || r->fio_iops <= 0 || r->sample_rb[n - 1] == UINT64_MAX ||
        (i >= 0 && r->sample_rb[i] == UINT64_MAX))
        return -1;
    double t0 = i < 0 ? 0 : r->sample_t[i];
    uint64_t b0 = i < 0 ? 0 : r->sample_rb[i];
    double dt = r->sample_t[n - 1] - t0;
    if (dt <= 0 || r->sample_rb[n - 1] < b0)
        return -1;
    return (double)(r->sample_rb[n - 1] - b0) / (double)fio->bs / dt /
           r->fio_iops;
}

/* With bufpool:auto and another bufpool backend among the engines: auto's
 * steady rate over the best other backend's, round by round (the best of
 * that round), and the median of those ratios. */
static void wl_print_auto(const wl_opts *o, const wl_view *v,
                          const char *unit)
{
    int a = -1, others = 0;
    char line[4608];
    double q[WL_MAX_ROUNDS];

    for (int i = 0; i < o->nengines; i++)
        if (o->engines[i].kind == KV_BUFPOOL) {
            if (o->engines[i].backend == BP_BACKEND_AUTO)
                a = i;
            else
                others++;
        }
    if (a < 0 || !others)
        return;
    snprintf(line, sizeof line, "  %s against the best other backend "
             "(steady %s over the best's, round by round):",
             v->sel[a]->label, unit);
    for (int r = 0; r < v->nr; r++) {
        int best = -1;
        for (int i = 0; i < o->nengines; i++)
            if (i != a && o->engines[i].kind == KV_BUFPOOL &&
                (best < 0 || v->steady[i][r] > v->steady[best][r]))
                best = i;
        q[r] = v->steady[best][r] > 0 ? v->steady[a][r] / v->steady[best][r]
                                      : 0;
        wl_append(line, sizeof line, " %.2fx (%s)", q[r],
                  v->sel[best]->label);
    }
    if (v->nr > 1)
        wl_append(line, sizeof line, "; median %.2fx",
                  bu_median_pos(q, (size_t)v->nr));
    printf("%s\n", line);
}

/* With fio (out-of-memory mode): the efficiency line of every engine's
 * row, or why there are no figures. */
static void wl_print_efficiency(const wl_opts *o, const wl_view *v,
                                const wl_fio *fio)
{
    char line[4608];
    if (!fio)
        return;
    snprintf(line, sizeof line,
             "  efficiency (disk reads/s over fio's random-read rate, "
             "%llu B, depth %d, %d s after every run, a run against the "
             "mean of the fio runs before and after it",
             (unsigned long long)fio->bs, fio->depth, WL_FIO_SECONDS);
    if (fio->runs == 0) {
        printf("%s): not measured: %s\n", line, fio->why);
        return;
    }
    if (fio->hi > fio->lo)
        wl_append(line, sizeof line, ": %.0f-%.0f IOPS", fio->lo, fio->hi);
    else
        wl_append(line, sizeof line, ": %.0f IOPS", fio->hi);
    wl_append(line, sizeof line, "; steady: the last third of the run, as "
              "ops/s; then the whole run):");
    for (int i = 0; i < o->nengines; i++) {
        double e = wl_efficiency_steady(v->sel[i], fio),
               a = wl_efficiency(v->sel[i], fio);
        wl_append(line, sizeof line, "%s %s", i ? ";" : "", v->sel[i]->label);
        if (e >= 0)
            wl_append(line, sizeof line, " %.2f steady", e);
        else
            wl_append(line, sizeof line, " n/a steady");
        if (a >= 0)
            wl_append(line, sizeof line, ", %.2f whole run", a);
    }
    printf("%s\n", line);
}

/* The failures and check lines of every run, round by round (prefixed
 * with the round when there are several). */
static void wl_run_notes(const wl_opts *o, const wl_result *res, int nr,
                         char ***notes, size_t *nnotes)
{
    char line[4608], pre[32] = "";
    for (int r = 0; r < nr; r++)
        for (int i = 0; i < o->nengines; i++) {
            const wl_result *x = &res[r * o->nengines + i];
            if (nr > 1)
                snprintf(pre, sizeof pre, "round %d: ", r + 1);
            if (x->err[0]) {
                snprintf(line, sizeof line, "%s%s: %s", pre, x->label,
                         x->err);
                bu_note_add(notes, nnotes, line);
            }
            if (x->check[0]) {
                snprintf(line, sizeof line, "%s%s check: %s", pre, x->label,
                         x->check);
                bu_note_add(notes, nnotes, line);
            }
        }
}

/* "read 50.1%, update 49.9%" of the kinds that ran. */
static void wl_mix(const wl_workload *w, const wl_result *r, char *out,
                   size_t n)
{
    uint64_t all = 0;
    for (int k = 0; k < w->nkinds; k++)
        all += r->total[k];
    out[0] = '\0';
    for (int k = 0; k < w->nkinds && all; k++)
        if (r->total[k])
            wl_append(out, n, "%s%s %.1f%%", out[0] ? ", " : "",
                      w->kind_names[k],
                      100.0 * (double)r->total[k] / (double)all);
}

static void wl_csv(const wl_workload *w, const wl_opts *o,
                   const wl_result *const *sel, const double *ops,
                   const double *ratio, const char *note, double driver_ns,
                   const wl_fio *fio, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bpbench: %s: %s\n", path, strerror(errno));
        return;
    }
    static const char *const hdr[] = {
        "workload", "engine", "threads", "seconds", "memory_budget",
        "out_of_memory", "data_bytes", "load_s", "ops", "ops_per_s",
        "ratio_to_lmdb", "kinds", "errors", "aborts", "check_ok", "check",
        "error", "memory_note", "run_read_bytes", "driver_ns_per_op",
        "driver_pct", "setup", "to_steady_s", "start", "fio_randread_iops",
        "efficiency", "efficiency_whole_run"};
    bu_csv_row(f, hdr, sizeof hdr / sizeof hdr[0]);
    for (int i = 0; i < o->nengines; i++) {
        const wl_result *r = sel[i];
        char c[19][64] = {{0}}, kinds[512] = "";
        for (int k = 0; k < w->nkinds; k++)
            wl_append(kinds, sizeof kinds, "%s%s=%llu", k ? ";" : "",
                      w->kind_names[k], (unsigned long long)r->total[k]);
        snprintf(c[0], 64, "%d", o->threads);
        snprintf(c[1], 64, "%.3f", r->run_secs);
        snprintf(c[2], 64, "%llu", (unsigned long long)o->mem_budget);
        snprintf(c[3], 64, "%d", o->out_of_memory);
        snprintf(c[4], 64, "%llu", (unsigned long long)r->data_bytes);
        snprintf(c[5], 64, "%.3f", r->load_secs);
        snprintf(c[6], 64, "%llu",
                 (unsigned long long)wl_counted(w, r->total));
        snprintf(c[7], 64, "%.1f", ops[i]);
        snprintf(c[8], 64, "%.4f", ratio[i]);
        snprintf(c[9], 64, "%llu", (unsigned long long)r->errors);
        snprintf(c[10], 64, "%llu", (unsigned long long)r->aborts);
        snprintf(c[11], 64, "%d", r->check_ok);
        if (r->run_read_bytes == UINT64_MAX)
            snprintf(c[12], 64, "unknown");
        else
            snprintf(c[12], 64, "%llu",
                     (unsigned long long)r->run_read_bytes);
        snprintf(c[13], 64, "%.1f", driver_ns);
        snprintf(c[14], 64, "%.3f", wl_driver_pct(w, o, r, driver_ns));
        snprintf(c[15], 64, "%.2f", wl_to_steady_s(w, r));
        double eff = wl_efficiency_steady(r, fio), /* empty cells: n/a */
            eff_all = wl_efficiency(r, fio);
        if (fio && r->fio_iops > 0)
            snprintf(c[16], 64, "%.1f", r->fio_iops);
        if (eff >= 0)
            snprintf(c[17], 64, "%.4f", eff);
        if (eff_all >= 0)
            snprintf(c[18], 64, "%.4f", eff_all);
        const char *row[] = {w->name, r->label, c[0], c[1], c[2], c[3], c[4],
                             c[5], c[6], c[7], c[8], kinds, c[9], c[10],
                             c[11], r->check, r->err,
                             r->memory_note[0] ? r->memory_note : note,
                             c[12], c[13], c[14],
                             w->setup ? w->setup : "", c[15],
                             o->out_of_memory || o->cold ? "cold" : "warm",
                             c[16], c[17], c[18]};
        bu_csv_row(f, row, sizeof row / sizeof row[0]);
    }
    fclose(f);
}

/* Data files, script and PNGs; the plot lines for the notes go to notes. */
static void wl_plots(const wl_workload *w, const wl_opts *o,
                     const wl_result *const *sel, const double *ratio,
                     int have_lmdb, const char *base, char ***notes,
                     size_t *nnotes)
{
    char line[4608];
    const char *term = bu_plot_begin(NULL, line, sizeof line);
    if (!term) {
        bu_note_add(notes, nnotes, line);
        return;
    }
    char dat[1100], rdat[1100], gp[1100], png[1100], rpng[1100];
    snprintf(dat, sizeof dat, "%s-throughput.dat", base);
    snprintf(rdat, sizeof rdat, "%s-ratio.dat", base);
    snprintf(gp, sizeof gp, "%s.gp", base);
    snprintf(png, sizeof png, "%s-throughput.png", base);
    snprintf(rpng, sizeof rpng, "%s-ratio.png", base);
    FILE *d = fopen(dat, "w"), *rd = fopen(rdat, "w"), *g = fopen(gp, "w");
    if (!d || !rd || !g) {
        snprintf(line, sizeof line, "plots: cannot write %s: %s", base,
                 strerror(errno));
        bu_note_add(notes, nnotes, line);
        if (d)
            fclose(d);
        if (rd)
            fclose(rd);
        if (g)
            fclose(g);
        return;
    }
    int blocks = 0;
    for (int i = 0; i < o->nengines; i++) {
        const wl_result *r = sel[i];
        if (!r->nsamples)
            continue;
        fprintf(d, "%s# %s\n", blocks ? "\n\n" : "", r->label);
        double pt = 0, po = 0;
        for (uint32_t s = 0; s < r->nsamples; s++) {
            double dt = r->sample_t[s] - pt;
            double rate = dt > 0 ? (double)(r->sample_ops[s] - po) / dt : 0;
            fprintf(d, "%.3f %.1f\n", r->sample_t[s], rate);
            pt = r->sample_t[s];
            po = (double)r->sample_ops[s];
        }
        blocks++;
    }
    for (int i = 0; i < o->nengines; i++)
        if (ratio[i] > 0)
            fprintf(rd, "\"%s\" %.4f\n", sel[i]->label, ratio[i]);
    fclose(d);
    fclose(rd);
    const char *unit = w->main_kind >= 0 ? w->kind_names[w->main_kind]
                                         : "operations";
    fprintf(g, "set terminal %s size 900,500\n", term);
    fprintf(g, "set output '%s'\nset title '%s: %s per second, %d threads'\n",
            png, w->name, unit, o->threads);
    fprintf(g, "set xlabel 'seconds'\nset ylabel '%s/s'\nset grid\n"
               "set key outside right\nset yrange [0:*]\nplot ",
            unit);
    for (int i = 0, b = 0; i < o->nengines; i++) {
        if (!sel[i]->nsamples)
            continue;
        fprintf(g, "%s'%s' index %d using 1:2 with linespoints title '%s'",
                b ? ", " : "", dat, b, sel[i]->label);
        b++;
    }
    fprintf(g, "%s\n", blocks ? "" : "0 notitle");
    if (have_lmdb) {
        fprintf(g, "set output '%s'\nset title '%s: throughput relative to "
                   "LMDB (1.0 = LMDB)'\n", rpng, w->name);
        fprintf(g, "unset xlabel\nset ylabel 'ratio to LMDB'\nset key off\n"
                   "set style fill solid 0.6\nset boxwidth 0.6\n"
                   "set xtics rotate by -20\nset yrange [0:*]\n"
                   "plot '%s' using 0:2:xtic(1) with boxes, '' using "
                   "0:2:(sprintf('%%.2f', $2)) with labels offset 0,1\n",
                   rdat);
    }
    fclose(g);
    int rc = bu_gnuplot(gp);
    if (rc)
        snprintf(line, sizeof line, "plots: gnuplot %s failed (exit %d)", gp,
                 rc);
    else if (have_lmdb)
        snprintf(line, sizeof line, "plots: %s (throughput over time), %s "
                 "(ratio to LMDB)", png, rpng);
    else
        snprintf(line, sizeof line, "plots: %s (throughput over time); no "
                 "ratio plot without an lmdb engine", png);
    bu_note_add(notes, nnotes, line);
}

/* Histograms of the selected results: h[i][k] per kind (the result's
 * own), h[i][nkinds] every kind merged (with a main kind only, allocated
 * here); NULL where there is none. */
static void wl_hists(const wl_workload *w, const wl_opts *o,
                     const wl_view *v, bo_hist *(*h)[WL_MAX_KINDS + 1])
{
    for (int i = 0; i < o->nengines; i++) {
        bo_hist *all = NULL;
        for (int k = 0; k < w->nkinds; k++) {
            bo_hist *r = v->sel[i]->lat[k];
            h[i][k] = v->sel[i]->ran && bo_hist_count(r) ? r : NULL;
            if (h[i][k] && w->main_kind >= 0 &&
                (all || (all = bo_hist_new()) != NULL))
                bo_hist_merge(all, h[i][k]);
        }
        h[i][w->nkinds] = all;
    }
}

/* Free what wl_hists allocated. */
static void wl_hists_free(const wl_workload *w, const wl_opts *o,
                          bo_hist *(*h)[WL_MAX_KINDS + 1])
{
    for (int i = 0; i < o->nengines; i++)
        bo_hist_free(h[i][w->nkinds]);
}

/* The metrics of engine i's row. */
static void wl_row_metrics(const wl_workload *w, const wl_opts *o,
                           const wl_view *v, int i, double driver_ns,
                           const wl_fio *fio, bo_row *row)
{
    const wl_result *r = v->sel[i];
    uint64_t every = wl_every(w, r);
    double pct = wl_driver_pct(w, o, r, driver_ns),
           eff = wl_efficiency_steady(r, fio), eff_all = wl_efficiency(r, fio);

    bo_metric(row, w->rate_metric ? w->rate_metric : "ops_per_s", v->ops[i]);
    if (w->main_kind >= 0 && w->all_unit)
        bo_metric(row, w->all_metric ? w->all_metric : "all_ops_per_s",
                  r->run_secs > 0 ? (double)every / r->run_secs : 0);
    if (v->ratio[i] > 0)
        bo_metric(row, "ratio_vs_lmdb", v->ratio[i]);
    bo_metric(row, "check_ok", r->ran && r->check_ok && !r->err[0]);
    bo_metric(row, "load_s", r->load_secs);
    bo_metric(row, "data_bytes", (double)r->data_bytes);
    bo_metric(row, "run_s", r->run_secs);
    bo_metric(row, "ops", (double)wl_counted(w, r->total));
    bo_metric(row, "to_steady_s", wl_to_steady_s(w, r));
    bo_metric(row, "errors", (double)r->errors);
    bo_metric(row, "aborts", (double)r->aborts);
    if (r->ran && every && r->run_read_bytes != UINT64_MAX)
        bo_metric(row, "kib_read_per_op",
                  (double)r->run_read_bytes / 1024.0 / (double)every);
    if (driver_ns > 0)
        bo_metric(row, "driver_ns_per_op", driver_ns);
    if (pct > 0)
        bo_metric(row, "driver_pct", pct);
    if (fio && r->fio_iops > 0)
        bo_metric(row, "fio_randread_iops", r->fio_iops);
    if (eff >= 0)
        bo_metric(row, "efficiency", eff);
    if (eff_all >= 0)
        bo_metric(row, "efficiency_whole_run", eff_all);
}

/* One bo_row per engine into o->run: labels workload, engine, backend,
 * threads; the table's figures; the latency per kind. */
static void wl_rows(const wl_workload *w, const wl_opts *o, const wl_view *v,
                    bo_hist *const (*h)[WL_MAX_KINDS + 1], double driver_ns,
                    const wl_fio *fio)
{
    for (int i = 0; o->run && i < o->nengines; i++) {
        bo_row *row = bo_row_new(o->run, w->table ? w->table : w->name);
        bo_label_str(row, "workload", w->name);
        wl_engine_labels(row, &o->engines[i]);
        bo_label_num(row, "threads", o->threads);
        wl_row_metrics(w, o, v, i, driver_ns, fio, row);
        for (int k = 0; k < w->nkinds; k++)
            if (h[i][k])
                bo_latency(row, w->kind_names[k], h[i][k]);
        if (h[i][w->nkinds])
            bo_latency(row, "all", h[i][w->nkinds]);
    }
}

/* Keep the cells of row (n of them) whose keep flag is set, in order;
 * returns how many. */
static int wl_keep_cols(const char **row, int n, const int *keep)
{
    int j = 0;
    for (int i = 0; i < n; i++)
        if (keep[i])
            row[j++] = row[i];
    return j;
}

void wl_report(const wl_workload *w, const wl_opts *o, const wl_result *res,
               const char *note, double driver_ns, const wl_fio *fio,
               wl_summary *sum)
{
    wl_view v;
    wl_view_fill(w, o, res, &v);
    const double *ops = v.ops, *ratio = v.ratio;
    int have_lmdb = v.lmdb >= 0 && ratio[v.lmdb] > 0;

    char **notes = NULL;
    size_t nnotes = 0;
    char line[4608], unit[64];
    snprintf(unit, sizeof unit, "%s/s",
             w->main_kind >= 0 ? w->kind_names[w->main_kind] : "ops");
    /* Column 5, every kind per second, only with w->all_unit; column 7,
     * the driver's share of the time per operation, only when measured. */
    const int keep[12] = {1, 1, 1, 1, 1, 1, w->main_kind >= 0 && w->all_unit,
                          1, driver_ns > 0, 1, 1, 1};
    const char *hdr[12] = {"engine", "load s", "data", unit, "to steady s",
                           "vs lmdb", w->all_unit, "disk KiB/op", "driver %",
                           "mix", "errors", "check"};
    bu_table t;
    bu_table_init(&t, (size_t)wl_keep_cols(hdr, 12, keep));
    bu_table_add(&t, hdr);
    for (int i = 0; i < o->nengines; i++) {
        const wl_result *r = v.sel[i];
        char c[9][48], mix[256];
        snprintf(c[0], 48, "%.2f", r->load_secs);
        bu_fmt_bytes(r->data_bytes, c[1], 48);
        snprintf(c[2], 48, r->ran ? "%.0f" : "n/a", ops[i]);
        snprintf(c[3], 48, ratio[i] > 0 ? "%.2fx" : "-", ratio[i]);
        snprintf(c[4], 48, "%llu", (unsigned long long)r->errors);
        wl_mix(w, r, mix, sizeof mix);
        uint64_t every = wl_every(w, r);
        snprintf(c[5], 48, r->ran && r->run_secs > 0 ? "%.0f" : "n/a",
                 r->run_secs > 0 ? (double)every / r->run_secs : 0.0);
        /* storage bytes read per operation of any kind during the run */
        if (r->ran && every && r->run_read_bytes != UINT64_MAX)
            snprintf(c[6], 48, "%.2f",
                     (double)r->run_read_bytes / 1024.0 / (double)every);
        else
            snprintf(c[6], 48, "n/a");
        double pct = wl_driver_pct(w, o, r, driver_ns);
        snprintf(c[7], 48, pct > 0 ? "%.1f%%" : "n/a", pct);
        snprintf(c[8], 48, r->ran ? "%.1f" : "n/a", wl_to_steady_s(w, r));
        const char *row[12] = {r->label, c[0], c[1], c[2], c[8], c[3], c[5],
                               c[6], c[7], mix, c[4],
                               r->ran ? (r->check_ok ? "ok" : "FAILED")
                                      : "n/a"};
        wl_keep_cols(row, 12, keep);
        bu_table_add(&t, row);
    }
    wl_run_notes(o, res, v.nr, &notes, &nnotes);
    char b1[32];
    char secs[128];
    if (o->ops)
        snprintf(secs, sizeof secs, "%llu operations per thread per "
                 "engine%s", (unsigned long long)o->ops,
                 o->seconds > 0 ? " or the duration" : "");
    else if (o->seconds > 0)
        snprintf(secs, sizeof secs, "%.1f s per engine", o->seconds);
    else
        snprintf(secs, sizeof secs, "until steady (%.0f-%.0f s) per engine",
                 WL_STEADY_MIN_S, WL_STEADY_MAX_S);
    if (v.nr > 1)
        wl_append(secs, sizeof secs, ", %d rounds alternating", v.nr);
    printf("\n%s%s%s%s: %d threads, %s, memory budget %s%s\n",
           w->name, w->setup ? " (" : "", w->setup ? w->setup : "",
           w->setup ? ")" : "", o->threads, secs,
           bu_fmt_bytes(o->mem_budget, b1, sizeof b1),
           o->out_of_memory ? " (out-of-memory mode: data > budget, caches "
                              "dropped, LMDB in a memory cgroup)"
           : o->cold ? " (in memory, cold start: bufpool cache built anew, "
                       "page cache dropped)"
                     : " (in memory, warm start: the caches the load left)");
    if (note[0])
        printf("  %s\n", note);
    for (int i = 0; i < o->nengines && !o->cold && !o->out_of_memory; i++)
        if (o->engines[i].kind == KV_BUFPOOL &&
            o->engines[i].backend == BP_BACKEND_COPY)
            printf("  %s starts cold: the copy backend keeps no shared "
                   "cache to carry from the load to the run\n",
                   v.sel[i]->label);
    if (driver_ns > 0)
        printf("  driver: %.1f ns/op (the bench's own work per operation "
               "without kv calls, 1 thread, best of %d x %llu ops); driver "
               "%% = its share of one worker's time per operation\n",
               driver_ns, WL_DRIVER_REPS, (unsigned long long)w->driver_ops);
    bu_table_print(&t, stdout, "  ", 1);
    bu_table_free(&t);
    wl_print_rounds(o, &v, unit);
    wl_print_auto(o, &v, unit);
    wl_print_efficiency(o, &v, fio);
    bo_hist *h[8][WL_MAX_KINDS + 1] = {{NULL}};
    wl_hists(w, o, &v, h);
    wl_lat_print(w, o, v.sel, (bo_hist *const (*)[WL_MAX_KINDS + 1])h);
    wl_rows(w, o, &v, (bo_hist *const (*)[WL_MAX_KINDS + 1])h, driver_ns,
            fio);
    wl_hists_free(w, o, h);

    char base[1024], file[64], csv[1100];
    wl_base(w->name, file, sizeof file);
    int rc = strlen(o->outdir) > 900 ? -ENAMETOOLONG : bu_mkdir(o->outdir);
    if (rc) {
        snprintf(line, sizeof line, "no CSV or plots: cannot create %s: %s",
                 o->outdir, strerror(-rc));
        bu_note_add(&notes, &nnotes, line);
    } else {
        snprintf(base, sizeof base, "%s/%s", o->outdir, file);
        snprintf(csv, sizeof csv, "%s.csv", base);
        wl_csv(w, o, v.sel, ops, ratio, note, driver_ns, fio, csv);
        snprintf(line, sizeof line, "csv: %s", csv);
        bu_note_add(&notes, &nnotes, line);
        wl_plots(w, o, v.sel, ratio, have_lmdb, base, &notes, &nnotes);
    }
    for (size_t i = 0; i < nnotes; i++)
        printf("  %s\n", notes[i]);
    bu_note_free(notes, nnotes);
    fflush(stdout);

    if (sum) {
        memset(sum, 0, sizeof *sum);
        sum->n = o->nengines;
        snprintf(sum->memory_note, sizeof sum->memory_note, "%s", note);
        sum->driver_ns = driver_ns;
        for (int i = 0; i < o->nengines; i++) {
            snprintf(sum->label[i], sizeof sum->label[i], "%s",
                     v.sel[i]->label);
            sum->ops_per_s[i] = ops[i];
            sum->ratio[i] = ratio[i];
            sum->ok[i] = 1;
            for (int r = 0; r < v.nr; r++) {
                const wl_result *x = &res[r * o->nengines + i];
                sum->ok[i] &= x->ran && x->check_ok && !x->err[0];
            }
        }
    }
}
