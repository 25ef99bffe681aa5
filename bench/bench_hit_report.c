/*
 * bench_hit_report.c - what `bpbench hit` prints: the header (machine,
 * sizes, threads, load), the window-hit table (ns/op, reps min-max, Mops/s,
 * scaling, x bare), the latency table (percentiles per op of the latency
 * phase), the CSV rows, the hit-path target lines (met or MISSED, reports
 * only), the notes (auto's choice, n/a reasons, warnings, the checks line)
 * and the results handed to bo_run (JSON, CSV files).  Every number is a
 * median over the reps; ratios are medians of per-rep ratios (ht_paired).
 */
#include "bench_hit.h"

#include <string.h>

/* Issue targets (reports only). */
#define HT_TARGET_NS 40.0
#define HT_TARGET_BARE_X 10.0
#define HT_TARGET_SCALE2 1.8

/* ---- Report -------------------------------------------------------------- */

/* Median wall time of a cell in ns; 0 when it has no number. */
static int ht_wall(const ht_ctx *c, int b, int m, int ti, double *wall)
{
    const ht_cell *cl = &c->cell[b][m][ti];
    if (cl->na || cl->nrep != c->o.reps)
        return 0;
    *wall = bu_median(cl->wall, cl->nrep);
    return *wall > 0.0;
}

/* ns per op per thread, and total Mops/s, of a cell; 0 when n/a. */
static int ht_result(const ht_ctx *c, int b, int m, int ti, double *ns,
                     double *mops)
{
    double wall;
    if (!ht_wall(c, b, m, ti, &wall))
        return 0;
    *ns = wall / (double)c->o.ops;
    *mops = (double)c->tc[ti] * (double)c->o.ops / wall * 1e3;
    return 1;
}

/* Median over the reps of k * wall(a) / wall(b), each rep's two phases
 * having run back to back (a drift of the machine between reps cancels);
 * 0 when either cell is n/a.  With k = T, a = 1 thread and b = T threads
 * it is the scaling; with a = fix and b = bare deref, "x bare". */
static int ht_paired(const ht_ctx *c, const ht_cell *a, const ht_cell *b,
                     double k, double *out)
{
    double v[1000];
    uint64_t n = c->o.reps;
    if (a->na || b->na || a->nrep != n || b->nrep != n || n > 1000)
        return 0;
    for (uint64_t r = 0; r < n; r++) {
        if (b->wall[r] <= 0.0)
            return 0;
        v[r] = k * a->wall[r] / b->wall[r];
    }
    *out = bu_median(v, n);
    return 1;
}

static int ht_tc_index(const ht_ctx *c, int nt)
{
    for (int ti = 0; ti < c->ntc; ti++)
        if (c->tc[ti] == nt)
            return ti;
    return -1;
}

static void ht_fmt(char *buf, size_t n, double v)
{
    if (v < 10.0)
        snprintf(buf, n, "%.2f", v);
    else if (v < 100.0)
        snprintf(buf, n, "%.1f", v);
    else
        snprintf(buf, n, "%.0f", v);
}

/* Row label of backend b: auto shows what it chose. */
static void ht_bk_label(const ht_ctx *c, int b, char *buf, size_t n)
{
    const ht_pool *pl = &c->pool[b];
    if (c->o.bk[b] == BP_BACKEND_AUTO && pl->st.size)
        snprintf(buf, n, "auto=%s",
                 bp_backend_name((bp_backend)pl->st.backend));
    else
        snprintf(buf, n, "%s", bp_backend_name(c->o.bk[b]));
}

/* The three load averages of /proc/loadavg into buf ("?" when unknown);
 * returns the 1-minute one (-1.0 when unknown). */
static double ht_loadavg(char *buf, size_t n)
{
    double l1 = -1.0, l5, l15;
    FILE *f = fopen("/proc/loadavg", "r");
    snprintf(buf, n, "?");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) == 3)
            snprintf(buf, n, "%.2f %.2f %.2f", l1, l5, l15);
        else
            l1 = -1.0;
        fclose(f);
    }
    return l1;
}

void ht_print_header(void *arg, const char *fs, double write_secs)
{
    ht_ctx *c = arg;
    ht_opts *o = &c->o;
    FILE *f = c->sh.info;
    const char *pre = c->sh.csv ? "# " : "";
    char b1[32], b2[32], b3[32];

    fprintf(f, "%sbpbench hit%s: window-hit bp_fix(shared) + read one word + "
               "bp_unfix vs optimistic read vs bare pointer deref, median of "
               "%llu reps\n", pre, o->quick ? " --quick" : "",
            (unsigned long long)o->reps);
    bu_print_machine(f, pre);
    fprintf(f, "%spool: page %llu B, cache %llu frames (%s), window %llu slots"
               " (%s), memfd shm, prefault populate\n", pre,
            (unsigned long long)o->page_size, (unsigned long long)c->sh.frames,
            bu_fmt_bytes(c->sh.frames * o->page_size, b1, sizeof b1),
            (unsigned long long)o->window_slots,
            bu_fmt_bytes(o->window_slots * o->page_size, b2, sizeof b2));
    fprintf(f, "%sdata: %s on %s, %s (%llu pages), written in %.1f s\n", pre,
            c->sh.path, fs, bu_fmt_bytes(c->sh.data_pages * o->page_size, b3,
                                      sizeof b3),
            (unsigned long long)c->sh.data_pages, write_secs);
    fprintf(f, "%shot set: %llu pages shared by all threads, each thread its "
               "own random sequence over it; %llu ops per thread per rep\n",
            pre, (unsigned long long)c->nhot, (unsigned long long)o->ops);
    fprintf(f, "%sthreads:", pre);
    for (int ti = 0; ti < c->ntc; ti++)
        fprintf(f, " %d", c->tc[ti]);
    fprintf(f, " (this process may run on %d CPUs); backends:", c->ncpu);
    for (int b = 0; b < o->nbk; b++)
        fprintf(f, " %s", bp_backend_name(o->bk[b]));
    fprintf(f, "; reps interleaved round-robin over backends, modes and "
               "thread counts; seed %llu\n", (unsigned long long)o->seed);
    char la[64];
    double l1 = ht_loadavg(la, sizeof la);
    fprintf(f, "%sload average at start: %s\n", pre, la);
    if (l1 > 0.5)
        ht_note(c, BPL_INFO, "the machine was busy at the start (load "
                "average %.2f on %d CPUs): expect noise, most of all in the "
                "multi-thread columns", l1, c->ncpu);
    fflush(f);
}

static void ht_print_latency(const ht_ctx *c);

void ht_print_tables(void *arg)
{
    const ht_ctx *c = arg;
    const char *hdr[3 + 2 * HT_MAXTC + 1];
    char hb[2 * HT_MAXTC][48];
    const char *row[3 + 2 * HT_MAXTC + 1];
    char cb[3 + 2 * HT_MAXTC + 1][64];
    size_t nc = 0;
    bu_table t;

    hdr[nc++] = "";
    hdr[nc++] = "ns/op 1 thr";
    hdr[nc++] = "(reps min-max)";
    hdr[nc++] = "Mops/s 1 thr";
    for (int ti = 1; ti < c->ntc; ti++) {
        snprintf(hb[2 * ti], sizeof hb[0], "Mops/s %d thr", c->tc[ti]);
        snprintf(hb[2 * ti + 1], sizeof hb[0], "scaling %d/1", c->tc[ti]);
        hdr[nc++] = hb[2 * ti];
        hdr[nc++] = hb[2 * ti + 1];
    }
    hdr[nc++] = "x bare";
    bu_table_init(&t, nc);
    bu_table_add(&t, hdr);

    static const int order[HT_NMODE] = {HT_FIX, HT_OPT, HT_BARE};
    for (int b = 0; b < c->o.nbk; b++) {
        char bk[40];
        ht_bk_label(c, b, bk, sizeof bk);
        for (int k = 0; k < HT_NMODE; k++) {
            int m = order[k];
            size_t i = 0;
            double ns1 = 0.0, mops1 = 0.0;
            int have1 = ht_result(c, b, m, 0, &ns1, &mops1);
            if (m == HT_FIX)
                snprintf(cb[i], sizeof cb[i], "%s", bk);
            else
                snprintf(cb[i], sizeof cb[i], "%s (%s)",
                         m == HT_OPT ? "optimistic" : "bare deref", bk);
            i++;
            if (have1) {
                const ht_cell *cl = &c->cell[b][m][0];
                double lo = cl->wall[0], hi = cl->wall[0];
                char a[24], z[24];
                for (uint64_t r = 1; r < cl->nrep; r++) {
                    lo = cl->wall[r] < lo ? cl->wall[r] : lo;
                    hi = cl->wall[r] > hi ? cl->wall[r] : hi;
                }
                ht_fmt(a, sizeof a, lo / (double)c->o.ops);
                ht_fmt(z, sizeof z, hi / (double)c->o.ops);
                ht_fmt(cb[i++], sizeof cb[0], ns1);
                snprintf(cb[i++], sizeof cb[0], "%s-%s", a, z);
                ht_fmt(cb[i++], sizeof cb[0], mops1);
            } else {
                for (int k2 = 0; k2 < 3; k2++)
                    snprintf(cb[i++], sizeof cb[0], "n/a");
            }
            for (int ti = 1; ti < c->ntc; ti++) {
                double ns, mops, sc;
                if (ht_result(c, b, m, ti, &ns, &mops)) {
                    ht_fmt(cb[i++], sizeof cb[0], mops);
                    if (ht_paired(c, &c->cell[b][m][0], &c->cell[b][m][ti],
                                  (double)c->tc[ti], &sc))
                        snprintf(cb[i++], sizeof cb[0], "%.2f", sc);
                    else
                        snprintf(cb[i++], sizeof cb[0], "-");
                } else {
                    snprintf(cb[i++], sizeof cb[0], "n/a");
                    snprintf(cb[i++], sizeof cb[0], "-");
                }
            }
            double xb;
            if (have1 && ht_paired(c, &c->cell[b][m][0],
                                   &c->cell[b][HT_BARE][0], 1.0, &xb))
                ht_fmt(cb[i++], sizeof cb[0], xb);
            else
                snprintf(cb[i++], sizeof cb[0], "-");
            for (size_t j = 0; j < nc; j++)
                row[j] = cb[j];
            bu_table_add(&t, row);
        }
    }
    printf("\nWindow hits, median of %llu reps: ns per op on 1 thread (wall "
           "/ ops) and the fastest-slowest rep; total Mops/s (threads x ops /"
           " wall); scaling = N-thread / 1-thread Mops/s and x bare = "
           "1-thread ns / bare deref ns, both medians of the per-rep ratios "
           "(the two phases of a rep run back to back)\n",
           (unsigned long long)c->o.reps);
    bu_table_print(&t, stdout, "  ", 1);
    bu_table_free(&t);
    ht_print_latency(c);
}

/* How the latency was measured, for the table's title and the JSON. */
static void ht_lat_how(const ht_ctx *c, char *buf, size_t n)
{
    snprintf(buf, n, "one more phase per cell after the reps, %llu ops per "
             "thread, in batches of the ops (column batch) that last at "
             "least 20x the step or cost of %s (%.1f ns, %.1f ns; the cost "
             "subtracted); a value is a batch's time / its ops; the reps' "
             "throughput carries no timer",
             (unsigned long long)c->o.lat_ops,
             bo_tick_tsc ? "the TSC" : "CLOCK_MONOTONIC",
             bo_tick_resolution_ns(), bo_tick_overhead_ns());
}

static void ht_print_latency(const ht_ctx *c)
{
    static const char *const hdr[] = {"",    "threads", "batch", "p50",
                                      "p90", "p99",     "p99.9", "max"};
    static const int order[HT_NMODE] = {HT_FIX, HT_OPT, HT_BARE};
    char how[512], lab[64], bk[40], nt[16], bt[16], cb[5][24];
    bu_table t;
    bu_table_init(&t, 8);
    bu_table_add(&t, hdr);
    for (int b = 0; b < c->o.nbk; b++) {
        ht_bk_label(c, b, bk, sizeof bk);
        for (int k = 0; k < HT_NMODE; k++)
            for (int ti = 0; ti < c->ntc; ti++) {
                int m = order[k];
                if (m == HT_FIX)
                    snprintf(lab, sizeof lab, "%s", bk);
                else
                    snprintf(lab, sizeof lab, "%s (%s)",
                             m == HT_OPT ? "optimistic" : "bare deref", bk);
                snprintf(nt, sizeof nt, "%d", c->tc[ti]);
                snprintf(bt, sizeof bt, "%llu",
                         (unsigned long long)c->cell[b][m][ti].lat_batch);
                bo_lat_cells(c->cell[b][m][ti].lat, cb, 0);
                const char *row[8] = {lab,   nt,    bt,    cb[0],
                                      cb[1], cb[2], cb[3], cb[4]};
                bu_table_add(&t, row);
            }
    }
    ht_lat_how(c, how, sizeof how);
    printf("\nLatency per op: %s\n", how);
    bu_table_print(&t, stdout, "  ", 1);
    bu_table_free(&t);
}

void ht_print_csv(void *arg)
{
    const ht_ctx *c = arg;
    static const char *const hdr[] = {"backend", "runs", "mode", "threads",
                                      "wall_ms", "ns_per_op", "mops",
                                      "scaling", "x_bare", "ops_per_thread",
                                      "reps", "p50_ns", "p90_ns", "p99_ns",
                                      "p999_ns", "max_ns"};
    bu_csv_row(stdout, hdr, 16);
    for (int b = 0; b < c->o.nbk; b++)
        for (int m = 0; m < HT_NMODE; m++)
            for (int ti = 0; ti < c->ntc; ti++) {
                char runs[32] = "NA", nt[16], wall_s[32] = "NA",
                     ns_s[32] = "NA", mops_s[32] = "NA", sc_s[32] = "NA",
                     xb_s[32] = "NA", ops_s[32], reps_s[32];
                double wall, ns, mops, x;
                if (c->pool[b].st.size)
                    snprintf(runs, sizeof runs, "%s",
                             bp_backend_name(
                                 (bp_backend)c->pool[b].st.backend));
                if (ht_wall(c, b, m, ti, &wall) &&
                    ht_result(c, b, m, ti, &ns, &mops)) {
                    snprintf(wall_s, sizeof wall_s, "%.3f", wall / 1e6);
                    snprintf(ns_s, sizeof ns_s, "%.2f", ns);
                    snprintf(mops_s, sizeof mops_s, "%.2f", mops);
                }
                if (ht_paired(c, &c->cell[b][m][0], &c->cell[b][m][ti],
                              (double)c->tc[ti], &x))
                    snprintf(sc_s, sizeof sc_s, "%.3f", x);
                if (ht_paired(c, &c->cell[b][m][ti], &c->cell[b][HT_BARE][ti],
                              1.0, &x))
                    snprintf(xb_s, sizeof xb_s, "%.3f", x);
                snprintf(nt, sizeof nt, "%d", c->tc[ti]);
                snprintf(ops_s, sizeof ops_s, "%llu",
                         (unsigned long long)c->o.ops);
                snprintf(reps_s, sizeof reps_s, "%llu",
                         (unsigned long long)c->cell[b][m][ti].nrep);
                char lc[5][24];
                bo_lat_cells(c->cell[b][m][ti].lat, lc, 1);
                const char *f[] = {bp_backend_name(c->o.bk[b]), runs,
                                   ht_mode_name[m], nt,    wall_s, ns_s,
                                   mops_s, sc_s,          xb_s,   ops_s,
                                   reps_s, lc[0], lc[1], lc[2], lc[3],
                                   lc[4]};
                bu_csv_row(stdout, f, 16);
            }
}

static void ht_record_opts(const ht_ctx *c, bo_run *r)
{
    const ht_opts *o = &c->o;
    char bks[128] = "", how[512];
    for (int b = 0; b < o->nbk; b++)
        bpl_join(bks, sizeof bks, bp_backend_name(o->bk[b]));
    bo_opt_num(r, "threads", c->tc[c->ntc - 1]);
    bo_opt_num(r, "ops", (double)o->ops);
    bo_opt_num(r, "lat_ops", (double)o->lat_ops);
    bo_opt_num(r, "reps", (double)o->reps);
    bo_opt_num(r, "pages", (double)o->pages);
    bo_opt_num(r, "window_slots", (double)o->window_slots);
    bo_opt_num(r, "page_size", (double)o->page_size);
    bo_opt_str(r, "backend", bks);
    bo_opt_num(r, "seed", (double)o->seed);
    bo_opt_num(r, "quick", o->quick);
    ht_lat_how(c, how, sizeof how);
    bo_opt_str(r, "latency_sampling", how);
}

/* One result of table "hit" per backend x mode x thread count. */
static void ht_record_cell(const ht_ctx *c, bo_run *r, int b, int m, int ti)
{
    bo_row *w = bo_row_new(r, "hit");
    double wall, ns, mops, x;
    bo_label_str(w, "backend", bp_backend_name(c->o.bk[b]));
    bo_label_str(w, "runs", c->pool[b].st.size
                                ? bp_backend_name(
                                      (bp_backend)c->pool[b].st.backend)
                                : "n/a");
    bo_label_str(w, "mode", ht_mode_name[m]);
    bo_label_num(w, "threads", c->tc[ti]);
    if (ht_wall(c, b, m, ti, &wall) && ht_result(c, b, m, ti, &ns, &mops)) {
        bo_metric(w, "wall_ms", wall / 1e6);
        bo_metric(w, "ns_per_op", ns);
        bo_metric(w, "ops_per_s", mops * 1e6);
    }
    if (ht_paired(c, &c->cell[b][m][0], &c->cell[b][m][ti],
                  (double)c->tc[ti], &x))
        bo_metric(w, "ratio_scaling", x);
    if (ht_paired(c, &c->cell[b][m][ti], &c->cell[b][HT_BARE][ti], 1.0, &x))
        bo_metric(w, "ratio_x_bare", x);
    bo_metric(w, "ops_per_thread", (double)c->o.ops);
    bo_metric(w, "reps", (double)c->cell[b][m][ti].nrep);
    if (bo_hist_count(c->cell[b][m][ti].lat)) {
        bo_metric(w, "latency_batch_ops", (double)c->cell[b][m][ti].lat_batch);
        bo_latency(w, ht_mode_name[m], c->cell[b][m][ti].lat);
    }
}

void ht_record(void *arg, bo_run *r)
{
    const ht_ctx *c = arg;
    ht_record_opts(c, r);
    bo_plot_metric(r, "hit", "ns_per_op", "ns per op (median of the reps)");
    for (int b = 0; b < c->o.nbk; b++)
        for (int m = 0; m < HT_NMODE; m++)
            for (int ti = 0; ti < c->ntc; ti++)
                ht_record_cell(c, r, b, m, ti);
}

/* The hit-path targets: one row per backend, one column per target, each
 * cell the measured value and "met" or "MISSED"; then per target how many
 * backends meet it. */
enum { HT_T_NS, HT_T_BARE, HT_T_SCALE2, HT_T_OPT1, HT_T_OPTN, HT_NT };

/* Target r of backend b: 1 met, 0 missed, -1 no number; the value in buf.
 * Ratios are the paired per-rep medians of the table. */
static int ht_target(const ht_ctx *c, int b, int r, char *buf, size_t n)
{
    int ti2 = ht_tc_index(c, 2), tiN = c->ntc - 1;
    const ht_cell *fix = c->cell[b][HT_FIX], *opt = c->cell[b][HT_OPT];
    double ns, mops, x;
    switch (r) {
    case HT_T_NS:
        if (!ht_result(c, b, HT_FIX, 0, &ns, &mops))
            return -1;
        snprintf(buf, n, "%.1f ns", ns);
        return ns <= HT_TARGET_NS;
    case HT_T_BARE:
        if (!ht_paired(c, &fix[0], &c->cell[b][HT_BARE][0], 1.0, &x))
            return -1;
        snprintf(buf, n, "%.1fx", x);
        return x <= HT_TARGET_BARE_X;
    case HT_T_SCALE2:
        if (ti2 < 0 || !ht_paired(c, &fix[0], &fix[ti2], 2.0, &x))
            return -1;
        snprintf(buf, n, "%.2fx", x);
        return x >= HT_TARGET_SCALE2;
    case HT_T_OPT1: /* opt ns / fix ns */
        if (!ht_paired(c, &opt[0], &fix[0], 1.0, &x))
            return -1;
        snprintf(buf, n, "%.2f", x);
        return x < 1.0;
    default: /* opt Mops/s / fix Mops/s = fix wall / opt wall */
        if (!ht_paired(c, &fix[tiN], &opt[tiN], 1.0, &x))
            return -1;
        snprintf(buf, n, "%.2f", x);
        return x > 1.0;
    }
}

/* What the machine itself did in the same phases: the bare deref's
 * scaling (it shares nothing, so it is the ceiling of any scaling here) and
 * the CPU steal, the time the hypervisor gave this VM's CPUs to others
 * (it hits 2-thread phases first). */
static void ht_print_machine_scaling(const ht_ctx *c, FILE *f,
                                     const char *pre)
{
    int ti2 = ht_tc_index(c, 2), n = 0;
    double lo = 0.0, hi = 0.0, x;
    uint64_t tk[2] = {0, 0}, st[2] = {0, 0};

    if (ti2 < 0)
        return;
    for (int b = 0; b < c->o.nbk; b++) {
        const ht_cell *bare = c->cell[b][HT_BARE];
        if (ht_paired(c, &bare[0], &bare[ti2], 2.0, &x)) {
            lo = n == 0 || x < lo ? x : lo;
            hi = n == 0 || x > hi ? x : hi;
            n++;
        }
        for (int m = 0; m < HT_NMODE; m++) {
            tk[0] += c->cell[b][m][0].ticks;
            st[0] += c->cell[b][m][0].steal;
            tk[1] += c->cell[b][m][ti2].ticks;
            st[1] += c->cell[b][m][ti2].steal;
        }
    }
    if (n)
        fprintf(f, "%s  the machine's own 2-thread scaling in the same phases "
                   "(bare deref, which shares nothing): %.2f-%.2fx\n",
                pre, lo, hi);
    if (tk[0] && tk[1])
        fprintf(f, "%s  CPU steal (the host running others on this VM's "
                   "CPUs) during the timed phases: 1 thread %.1f%%, 2 threads "
                   "%.1f%% of CPU time\n", pre, 100.0 * (double)st[0] /
                   (double)tk[0], 100.0 * (double)st[1] / (double)tk[1]);
}

static void ht_print_targets(const ht_ctx *c)
{
    FILE *f = c->sh.info;
    const char *pre = c->sh.csv ? "# " : "";
    int nN = c->tc[c->ntc - 1], nt = nN > 1 ? HT_NT : HT_NT - 1;
    char hb[HT_NT][48], lab[HT_NT][120], cb[HT_NT][64], bk[40];
    const char *hdr[1 + HT_NT], *row[1 + HT_NT];
    int met[HT_NT] = {0}, tried[HT_NT] = {0};
    char who[HT_NT][200];
    bu_table t;

    snprintf(hb[HT_T_NS], sizeof hb[0], "<= %.0f ns", HT_TARGET_NS);
    snprintf(lab[HT_T_NS], sizeof lab[0], "single-thread window hit (shared "
             "fix+read+unfix) at most %.0f ns", HT_TARGET_NS);
    snprintf(hb[HT_T_BARE], sizeof hb[0], "<= %.0fx bare", HT_TARGET_BARE_X);
    snprintf(lab[HT_T_BARE], sizeof lab[0], "single-thread window hit at most "
             "%.0fx the bare deref", HT_TARGET_BARE_X);
    snprintf(hb[HT_T_SCALE2], sizeof hb[0], "2 thr >= %.1fx", HT_TARGET_SCALE2);
    snprintf(lab[HT_T_SCALE2], sizeof lab[0], "2 threads at least %.1fx the "
             "1-thread Mops/s on read-only shared fixes", HT_TARGET_SCALE2);
    snprintf(hb[HT_T_OPT1], sizeof hb[0], "opt/fix ns 1 thr < 1");
    snprintf(lab[HT_T_OPT1], sizeof lab[0], "optimistic read faster than "
             "shared fix, 1 thread (ns/op optimistic / fix below 1)");
    snprintf(hb[HT_T_OPTN], sizeof hb[0], "opt/fix Mops/s %d thr > 1", nN);
    snprintf(lab[HT_T_OPTN], sizeof lab[0], "optimistic read faster than "
             "shared fix, %d threads (Mops/s optimistic / fix above 1)", nN);

    bu_table_init(&t, 1 + (size_t)nt);
    hdr[0] = "";
    for (int r = 0; r < nt; r++) {
        hdr[1 + r] = hb[r];
        who[r][0] = '\0';
    }
    bu_table_add(&t, hdr);
    for (int b = 0; b < c->o.nbk; b++) {
        ht_bk_label(c, b, bk, sizeof bk);
        row[0] = bk;
        for (int r = 0; r < nt; r++) {
            char v[48];
            int ok = ht_target(c, b, r, v, sizeof v);
            if (ok < 0) {
                snprintf(cb[r], sizeof cb[r], "n/a");
            } else {
                snprintf(cb[r], sizeof cb[r], "%s %s", v,
                         ok ? "met" : "MISSED");
                tried[r]++;
                met[r] += ok;
                if (ok) {
                    size_t l = strlen(who[r]);
                    snprintf(who[r] + l, sizeof who[r] - l, "%s%s",
                             l ? ", " : "", bk);
                }
            }
            row[1 + r] = cb[r];
        }
        bu_table_add(&t, row);
    }
    fprintf(f, "\n%sThe hit-path targets, computed from the medians above "
               "(reports, not pass/fail):\n", pre);
    bu_table_print(&t, f, c->sh.csv ? "#   " : "  ", 1);
    bu_table_free(&t);
    for (int r = 0; r < nt; r++)
        fprintf(f, "%s  %s: met by %d of %d backends%s%s%s\n", pre, lab[r],
                met[r], tried[r], met[r] ? " (" : "", who[r],
                met[r] ? ")" : "");
    if (c->ncpu < 2)
        fprintf(f, "%s  (one CPU: the 2-thread target cannot be met here)\n",
                pre);
    ht_print_machine_scaling(c, f, pre);
}

void ht_print_tail(void *arg)
{
    const ht_ctx *c = arg;
    FILE *f = c->sh.info;
    const char *pre = c->sh.csv ? "# " : "";
    char la[64];
    ht_print_targets(c);
    ht_loadavg(la, sizeof la);
    fputc('\n', f);
    fprintf(f, "%sload average at the end: %s\n", pre, la);
    if (c->auto_chose[0])
        fprintf(f, "%sauto chose %s\n", pre, c->auto_chose);
    if (c->fence[0])
        fprintf(f, "%sshared fixes: %s (BUFPOOL_READER_FENCE=always: "
                "fenced)\n", pre, c->fence);
    bpl_print_notes(&c->sh, "checks: no window miss in any timed phase, "
                    "bp_stats counted the ops the bench made, no optimistic "
                    "read retried, every read found its page's stamp, pool "
                    "invariants hold");
}
