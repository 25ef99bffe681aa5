/*
 * bench_remap_report.c - what `bpbench remap` prints: the header (machine,
 * sizes), the ns table (median, ratio to linear), the bp_stats table, the
 * latency table (percentiles of the latency rep), the CSV rows, the notes
 * (auto's choice, n/a reasons, warnings), and the results for bo_run.
 */
#include "bench_remap.h"

#include <stdlib.h>
#include <string.h>

/* ---- Report -------------------------------------------------------------- */

void rm_print_header(void *arg, const char *fs, double write_secs)
{
    rm_ctx *c = arg;
    rm_opts *o = &c->o;
    FILE *f = c->sh.info;
    const char *pre = c->sh.csv ? "# " : "";
    char b1[32], b2[32], b3[32];

    fprintf(f, "%sbpbench remap%s: ns per bp_fix(shared) + touch of every 4 KiB"
               " + bp_unfix, median of %llu reps\n", pre,
            o->quick ? " --quick" : "", (unsigned long long)o->reps);
    bu_print_machine(f, pre);
    fprintf(f, "%spool: page %llu B, cache %s (%llu frames), window %llu slots "
               "(%s), shm %s\n", pre, (unsigned long long)o->page_size,
            bu_fmt_bytes(o->cache_bytes, b1, sizeof b1),
            (unsigned long long)c->sh.frames,
            (unsigned long long)o->window_slots,
            bu_fmt_bytes(o->window_slots * o->page_size, b2, sizeof b2),
            o->named_shm ? "named /dev/shm file" : "memfd");
    fprintf(f, "%sdata: %s on %s, %s (%llu pages), %s, written in %.1f s\n",
            pre, c->sh.path, fs, bu_fmt_bytes(o->data_mb << 20, b3, sizeof b3),
            (unsigned long long)c->sh.data_pages,
            o->buffered ? "BP_BUFFERED_IO" : "O_DIRECT", write_secs);
    fprintf(f, "%slevels: whit = %llu pages (window %llu slots), %llu ops/rep; "
               "chit = %llu pages (cache %llu frames), %llu ops/rep; "
               "miss = %llu pages (%.1fx cache), %llu ops/rep\n", pre,
            (unsigned long long)c->nset[RM_WHIT],
            (unsigned long long)o->window_slots,
            (unsigned long long)o->whit_ops,
            (unsigned long long)c->nset[RM_CHIT],
            (unsigned long long)c->sh.frames,
            (unsigned long long)o->ops, (unsigned long long)c->sh.data_pages,
            (double)c->sh.data_pages / (double)c->sh.frames,
            (unsigned long long)o->miss_ops);
    fprintf(f, "%sbackends:", pre);
    for (int b = 0; b < o->nbk; b++)
        fprintf(f, " %s", bp_backend_name(o->bk[b]));
    fprintf(f, "; %d pools open at once, reps interleaved round-robin over "
               "them; seed %llu\n", c->together, (unsigned long long)o->seed);
    fflush(f);
}

static int rm_col_of(const rm_ctx *c, bp_backend want)
{
    for (int b = 0; b < c->o.nbk; b++)
        if (c->o.bk[b] == want)
            return b;
    return -1;
}

/* Median and ratio of one cell; 0 when it has no number. */
static int rm_result(const rm_ctx *c, int lv, int pi, int b, double *ns,
                     double *ratio)
{
    const rm_cell *cl = &c->cell[lv][pi][b];
    if (cl->na || cl->nrep != c->o.reps)
        return 0;
    *ns = bu_median(cl->ns, cl->nrep);
    *ratio = -1.0;
    int lin = rm_col_of(c, BP_BACKEND_LINEAR);
    if (lin >= 0) {
        const rm_cell *lc = &c->cell[lv][pi][lin];
        if (!lc->na && lc->nrep == c->o.reps) {
            double l = bu_median(lc->ns, lc->nrep);
            if (l > 0.0)
                *ratio = *ns / l;
        }
    }
    return 1;
}

static void rm_fmt_ratio(double r, char *buf, size_t n)
{
    if (r < 0.0)
        snprintf(buf, n, "-");
    else if (r < 10.0)
        snprintf(buf, n, "%.2f", r);
    else if (r < 100.0)
        snprintf(buf, n, "%.1f", r);
    else
        snprintf(buf, n, "%.0f", r);
}

static void rm_fmt_ns(double ns, char *buf, size_t n)
{
    snprintf(buf, n, ns < 10.0 ? "%.1f" : "%.0f", ns);
}

/* Column header of backend b: "auto" gets what it chose when it chose the
 * same in every prefault mode. */
static void rm_col_name(const rm_ctx *c, int b, char *buf, size_t n)
{
    bp_backend bk = c->o.bk[b];
    snprintf(buf, n, "%s", bp_backend_name(bk));
    if (bk != BP_BACKEND_AUTO)
        return;
    int same = 1, any = 0;
    bp_backend chose = BP_BACKEND_AUTO;
    for (int pi = 0; pi < c->o.npf; pi++) {
        if (!c->auto_chose[pi][0])
            continue;
        if (any && c->auto_bk[pi] != chose)
            same = 0;
        chose = c->auto_bk[pi];
        any = 1;
    }
    if (any && same)
        snprintf(buf, n, "auto=%s", bp_backend_name(chose));
}

/* With kmod and rfp or mmap measured: kmod's throughput over theirs (their
 * ns over kmod's), the median of the per-rep ratios (reps interleave the
 * backends, so each ratio compares the same moment of the machine). */
static void rm_print_kmod(const rm_ctx *c)
{
    static const bp_backend other[] = {BP_BACKEND_RFP, BP_BACKEND_MMAP};
    int k = rm_col_of(c, BP_BACKEND_KMOD), head = 0;

    if (k < 0)
        return;
    for (int lv = 0; lv < RM_NLEVEL; lv++) {
        if (!c->o.level_on[lv])
            continue;
        for (int pi = 0; pi < c->o.npf; pi++) {
            const rm_cell *kc = &c->cell[lv][pi][k];
            char line[256];
            int n = 0, len;

            if (kc->na || kc->nrep != c->o.reps)
                continue;
            len = snprintf(line, sizeof line, "  %-5s  %-8s", rm_level_name[lv],
                           rm_pf_name[c->o.pf[pi]]);
            for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
                int b = rm_col_of(c, other[i]);
                double *q;
                if (b < 0)
                    continue;
                const rm_cell *oc = &c->cell[lv][pi][b];
                if (oc->na || oc->nrep != c->o.reps) {
                    len += snprintf(line + len, sizeof line - (size_t)len,
                                    "  %s n/a", bp_backend_name(other[i]));
                    n++;
                    continue;
                }
                if (!(q = malloc(c->o.reps * sizeof *q)))
                    continue;
                for (uint64_t r = 0; r < c->o.reps; r++)
                    q[r] = kc->ns[r] > 0 ? oc->ns[r] / kc->ns[r] : 0;
                len += snprintf(line + len, sizeof line - (size_t)len,
                                "  %s %.2fx", bp_backend_name(other[i]),
                                bu_median(q, c->o.reps));
                free(q);
                n++;
            }
            if (!n)
                continue;
            if (!head++)
                printf("\nkmod's throughput over rfp's and mmap's (their ns "
                       "over kmod's, median of the per-rep ratios):\n");
            printf("%s\n", line);
        }
    }
}

static void rm_print_latency(const rm_ctx *c);

void rm_print_tables(void *arg)
{
    const rm_ctx *c = arg;
    const rm_opts *o = &c->o;
    int nb = o->nbk;
    char names[RM_MAXBK][32];
    const char *hdr[2 + RM_MAXBK];
    char cellbuf[RM_MAXBK][96];
    const char *row[2 + RM_MAXBK];
    bu_table t, h;

    bu_table_init(&t, 2 + (size_t)nb);
    bu_table_init(&h, 2 + (size_t)nb);
    hdr[0] = "level";
    hdr[1] = "prefault";
    for (int b = 0; b < nb; b++) {
        rm_col_name(c, b, names[b], sizeof names[b]);
        hdr[2 + b] = names[b];
    }
    bu_table_add(&t, hdr);
    bu_table_add(&h, hdr);
    for (int lv = 0; lv < RM_NLEVEL; lv++) {
        if (!o->level_on[lv])
            continue;
        for (int pi = 0; pi < o->npf; pi++) {
            row[0] = rm_level_name[lv];
            row[1] = rm_pf_name[o->pf[pi]];
            for (int b = 0; b < nb; b++) {
                double ns, ratio;
                char a[32], r[32];
                if (rm_result(c, lv, pi, b, &ns, &ratio)) {
                    rm_fmt_ns(ns, a, sizeof a);
                    rm_fmt_ratio(ratio, r, sizeof r);
                    snprintf(cellbuf[b], sizeof cellbuf[b], "%s (%s)", a, r);
                } else {
                    snprintf(cellbuf[b], sizeof cellbuf[b], "n/a");
                }
                row[2 + b] = cellbuf[b];
            }
            bu_table_add(&t, row);
            for (int b = 0; b < nb; b++) {
                const rm_cell *cl = &c->cell[lv][pi][b];
                if (cl->na || cl->nrep == 0)
                    snprintf(cellbuf[b], sizeof cellbuf[b], "n/a");
                else
                    snprintf(cellbuf[b], sizeof cellbuf[b], "%llu/%llu/%llu",
                             (unsigned long long)cl->wh,
                             (unsigned long long)cl->ch,
                             (unsigned long long)cl->cm);
                row[2 + b] = cellbuf[b];
            }
            bu_table_add(&h, row);
        }
    }
    printf("\nns per fix+touch+unfix, median of %llu reps (ratio to linear):\n",
           (unsigned long long)o->reps);
    bu_table_print(&t, stdout, "  ", 2);
    printf("\nbp_stats in the timed phases, summed over the reps: "
           "window_hits/cache_hits/cache_misses\n");
    bu_table_print(&h, stdout, "  ", 2);
    bu_table_free(&t);
    bu_table_free(&h);
    rm_print_kmod(c);
    rm_print_latency(c);
}

/* The latency table: one row per level, prefault mode and backend. */
static void rm_print_latency(const rm_ctx *c)
{
    static const char *const hdr[] = {"level", "prefault", "backend",
                                      "batch", "p50",      "p90",
                                      "p99",   "p99.9",    "max"};
    char how[400], bt[24], cb[5][24], name[32];
    bu_table t;
    bu_table_init(&t, 9);
    bu_table_add(&t, hdr);
    for (int lv = 0; lv < RM_NLEVEL; lv++)
        for (int pi = 0; c->o.level_on[lv] && pi < c->o.npf; pi++)
            for (int b = 0; b < c->o.nbk; b++) {
                const rm_cell *cl = &c->cell[lv][pi][b];
                rm_col_name(c, b, name, sizeof name);
                snprintf(bt, sizeof bt, "%llu",
                         (unsigned long long)cl->lat_batch);
                bo_lat_cells(cl->lat, cb, 0);
                const char *row[9] = {rm_level_name[lv],
                                      rm_pf_name[c->o.pf[pi]],
                                      name, bt, cb[0], cb[1], cb[2], cb[3],
                                      cb[4]};
                bu_table_add(&t, row);
            }
    printf("\nLatency per op: one more rep per level and pool after the "
           "timed ones, on a sequence of its own, %s\n",
           bo_tick_how(how, sizeof how));
    bu_table_print(&t, stdout, "  ", 3);
    bu_table_free(&t);
}

void rm_print_csv(void *arg)
{
    const rm_ctx *c = arg;
    const rm_opts *o = &c->o;
    static const char *const hdr[] = {"level", "prefault", "backend",
                                      "ns_median", "ratio_to_linear", "ops",
                                      "reps", "p50_ns", "p90_ns", "p99_ns",
                                      "p999_ns", "max_ns"};
    bu_csv_row(stdout, hdr, 12);
    for (int lv = 0; lv < RM_NLEVEL; lv++) {
        if (!o->level_on[lv])
            continue;
        for (int pi = 0; pi < o->npf; pi++)
            for (int b = 0; b < o->nbk; b++) {
                char ns_s[32] = "NA", ra_s[32] = "NA", ops_s[32], reps_s[32];
                double ns, ratio;
                if (rm_result(c, lv, pi, b, &ns, &ratio)) {
                    snprintf(ns_s, sizeof ns_s, "%.1f", ns);
                    if (ratio >= 0.0)
                        snprintf(ra_s, sizeof ra_s, "%.3f", ratio);
                }
                snprintf(ops_s, sizeof ops_s, "%llu",
                         (unsigned long long)c->nops[lv]);
                snprintf(reps_s, sizeof reps_s, "%llu",
                         (unsigned long long)c->cell[lv][pi][b].nrep);
                char lc[5][24];
                bo_lat_cells(c->cell[lv][pi][b].lat, lc, 1);
                const char *f[] = {rm_level_name[lv], rm_pf_name[o->pf[pi]],
                                   bp_backend_name(o->bk[b]), ns_s, ra_s, ops_s,
                                   reps_s, lc[0], lc[1], lc[2], lc[3], lc[4]};
                bu_csv_row(stdout, f, 12);
            }
    }
}

static void rm_record_opts(const rm_ctx *c, bo_run *r)
{
    const rm_opts *o = &c->o;
    char bks[128] = "", pfs[64] = "", lvs[32] = "", how[400];
    for (int b = 0; b < o->nbk; b++)
        bpl_join(bks, sizeof bks, bp_backend_name(o->bk[b]));
    for (int pi = 0; pi < o->npf; pi++)
        bpl_join(pfs, sizeof pfs, rm_pf_name[o->pf[pi]]);
    for (int lv = 0; lv < RM_NLEVEL; lv++)
        if (o->level_on[lv])
            bpl_join(lvs, sizeof lvs, rm_level_name[lv]);
    bo_opt_num(r, "page_size", (double)o->page_size);
    bo_opt_num(r, "pool_size", (double)o->cache_bytes);
    bo_opt_num(r, "window_slots", (double)o->window_slots);
    bo_opt_num(r, "data_bytes", (double)(o->data_mb << 20));
    bo_opt_num(r, "whit_ops", (double)o->whit_ops);
    bo_opt_num(r, "ops", (double)o->ops);
    bo_opt_num(r, "miss_ops", (double)o->miss_ops);
    bo_opt_num(r, "reps", (double)o->reps);
    bo_opt_str(r, "backend", bks);
    bo_opt_str(r, "prefault", pfs);
    bo_opt_str(r, "levels", lvs);
    bo_opt_num(r, "seed", (double)o->seed);
    bo_opt_num(r, "quick", o->quick);
    snprintf(how, sizeof how, "one more rep per level and pool on a "
             "sequence of its own, ");
    bo_tick_how(how + strlen(how), sizeof how - strlen(how));
    bo_opt_str(r, "latency_sampling", how);
}

void rm_record(void *arg, bo_run *r)
{
    const rm_ctx *c = arg;
    rm_record_opts(c, r);
    bo_plot_metric(r, "remap", "ns_per_op", "ns per op (median of the reps)");
    for (int lv = 0; lv < RM_NLEVEL; lv++)
        for (int pi = 0; c->o.level_on[lv] && pi < c->o.npf; pi++)
            for (int b = 0; b < c->o.nbk; b++) {
                const rm_cell *cl = &c->cell[lv][pi][b];
                bo_row *w = bo_row_new(r, "remap");
                double ns, ratio;
                bo_label_str(w, "level", rm_level_name[lv]);
                bo_label_str(w, "prefault", rm_pf_name[c->o.pf[pi]]);
                bo_label_str(w, "backend", bp_backend_name(c->o.bk[b]));
                if (rm_result(c, lv, pi, b, &ns, &ratio)) {
                    bo_metric(w, "ns_per_op", ns);
                    if (ratio >= 0.0)
                        bo_metric(w, "ratio_to_linear", ratio);
                }
                bo_metric(w, "ops", (double)c->nops[lv]);
                bo_metric(w, "reps", (double)cl->nrep);
                if (bo_hist_count(cl->lat)) {
                    bo_metric(w, "latency_batch_ops", (double)cl->lat_batch);
                    bo_latency(w, "fix_touch_unfix", cl->lat);
                }
            }
}

void rm_print_notes(void *arg)
{
    const rm_ctx *c = arg;
    FILE *f = c->sh.info;
    const char *pre = c->sh.csv ? "# " : "";
    if (!c->sh.csv)
        fputc('\n', f);
    if (c->lib_info_done)
        fprintf(f, "%slibrary: %s\n", pre, c->lib_info);
    for (int pi = 0; pi < c->o.npf; pi++)
        if (c->auto_chose[pi][0])
            fprintf(f, "%sauto (%s) chose %s\n", pre,
                    rm_pf_name[c->o.pf[pi]], c->auto_chose[pi]);
    bpl_print_notes(&c->sh, "checks: every level is what it says (bp_stats), "
                    "every page held its own content, pool invariants hold");
}
