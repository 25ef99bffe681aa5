/*
 * bench_hit.c - `bpbench hit`: what a window hit costs, on one thread and
 * on all cores, for every window backend side by side in one run, next to
 * its floor and its lighter alternative:
 *
 *   fix         bp_fix(pgno, BP_SHARED) + read one word of pg.data +
 *               bp_unfix: the shared fix of a page already in the window;
 *   optimistic  bp_opt_begin + read one word + bp_opt_validate (retried as
 *               bufpool.h shows; with no writer nothing should retry);
 *   bare deref  read one word through a pointer to the page kept from a
 *               fix of it (the same page sequence): what the hardware
 *               charges for the read itself, the floor.
 *
 * The word read sits at a line that varies with the page (bu_touch_line;
 * for pages over 4 KiB also in a block that varies), and is checked against
 * the page's stamp, so every mode does the same work besides the library
 * calls, and a wrong page is caught.
 *
 * Method: the data file is written once under a temporary directory (/var
 * tmp).  One pool per backend (memfd shm, cache 2 x the window) is opened,
 * all at the same time.  The hot set is --pages distinct pages (half the
 * window slots by default), shared by all threads: read-only shared hits,
 * the case that should scale.  Each pool is warmed until a pass over the
 * hot set maps nothing, and the pointers of the bare deref are taken in a
 * last pass.  Each thread has its own random sequence over the hot set
 * (the same sequence in every backend and mode).  The timed phases run
 * round-robin (rep 1 of every backend x mode x thread count, then rep 2,
 * ...) so the drift of a shared machine hits them all alike.  In a phase,
 * T fresh threads wait on a spinning start barrier, each runs --ops ops,
 * and the phase's wall time is from the first thread's start to the last
 * one's end: ns/op = wall / ops (per thread), Mops/s = T * ops / wall.  The
 * cell is the median wall time of the reps.  Ratios (scaling, x bare, the
 * optimistic-vs-fix targets) are medians of per-rep ratios of phases that
 * ran back to back, which cancels most of a VM's slow drift between reps.
 * Thread counts: 1, N (--threads, default the CPUs this process may run
 * on) and 2 (the two-thread scaling target).  Each phase has threads of its
 * own that touch one pool only (the library keeps a thread's reader slot
 * block for a few pools at a time).
 *
 * bp_stats deltas around each timed phase are summed per cell and checked:
 * no window miss (the phase is a pure window hit), the library counted the
 * fixes or optimistic reads the bench made, no optimistic read failed.  A
 * mismatch prints a WARNING line.  Before closing, bp__test_check() walks
 * each pool's invariants.
 *
 * A backend whose bp_open or fix fails is closed and shown as "n/a" with
 * the reason under the tables; a failing optimistic read makes only that
 * mode n/a.  The others go on.
 *
 * Last, the hit-path targets are computed from the medians and printed as
 * met or missed: reports, not pass/fail exits.
 *
 * Files: this one (options, set-up, main), bench_hit_run.c (pools, threads,
 * warm-up, timed phases, checks), bench_hit_report.c (tables, CSV, target
 * lines, notes), shared state in bench_hit.h.
 */
#include "bench_hit.h"

#include "bench.h"

#include <stdlib.h>
#include <string.h>

const char *const ht_mode_name[HT_NMODE] = {"fix", "optimistic", "bare"};

/* ---- Options ------------------------------------------------------------- */

static const char ht_intro[] =
"Window-hit cost of bp_fix(shared) + reading one word + bp_unfix, on 1\n"
"thread and on N threads reading the same hot pages, for every window\n"
"backend side by side, next to an optimistic read (bp_opt_begin + read +\n"
"bp_opt_validate) and a bare pointer dereference of the same pages (the\n"
"floor).  Repetitions are interleaved round-robin; cells show the median.\n"
"Latency percentiles per op come from one more phase per cell after the\n"
"reps, in batches of ops timed with the TSC, each batch long enough for\n"
"the clock (the timed reps carry no timer).\n"
"Then the hit-path targets, met or missed (reports, not an exit status).\n";

static const char ht_tail[] =
"The environment variable BUFPOOL_BACKEND would force one backend on every\n"
"pool; bpbench hit unsets it.  Exit status: 0, 1 on failure or when a pool\n"
"returned a page with the wrong content, 2 on a usage error.\n";

/* Returns 0, 1 for --help (printed), or -1 on a usage error. */
static int ht_parse(void *arg, int argc, char **argv)
{
    ht_opts *o = &((ht_ctx *)arg)->o;
    /* 0 = not given: --quick or the full-run default fills it in below. */
    memset(o, 0, sizeof *o);
    o->page_size = 4096;
    o->window_slots = 2048;
    o->seed = 1;
    o->dir = "/var/tmp";
    char all_bk[] = "rfp,mmap,copy,linear,kmod,auto";
    bu_parse_backends(all_bk, o->bk, HT_MAXBK, &o->nbk);
    bu_bklist bkl = {o->bk, &o->nbk, HT_MAXBK};
    const bo_optdef defs[] = {
        BO_OPT("threads", NULL, BO_U64, &o->threads, 1, 1024, "N",
            "the \"all cores\" thread count (default: the CPUs this "
            "process may run on); 1 and 2 threads always run too"),
        BO_OPT("ops", NULL, BO_U64, &o->ops, 1, 4294967296.0, "N",
            "timed ops per thread per rep (default: 2000000, --quick 200000)"),
        BO_OPT("lat-ops", NULL, BO_U64, &o->lat_ops, 1, 4294967296.0, "N",
            "ops per thread of each cell's latency phase (default: a quarter "
            "of --ops)"),
        BO_OPT("reps", NULL, BO_U64, &o->reps, 1, 1000, "N",
            "repetitions, median reported (default: 5, --quick 3)"),
        BO_OPT("pages", NULL, BO_U64, &o->pages, 1, 16777216, "N",
            "hot pages, below the window slots (default: half the slots)"),
        BO_OPT("window", "window-slots", BO_U64, &o->window_slots, 2, 16777216,
            "SLOTS", "window size in slots (pages; default 2048); the cache is "
            "twice that"),
        BO_OPT("page-size", NULL, BO_U64, &o->page_size, 4096, 65536, "BYTES",
            "page size, a power of two (default: 4096)"),
        {"backend", "backends", BO_FN, &bkl, 0, 0, "LIST",
            "comma separated from rfp,mmap,copy,linear,kmod,auto (default: "
            "all; kmod needs /dev/bpwin, else its cells are n/a)",
            bu_opt_backends, 0},
        BO_OPT("dir", NULL, BO_STR, &o->dir, 0, 0, "DIR",
            "where the data file's temp directory goes (default: /var/tmp)"),
        BO_OPT("seed", NULL, BO_U64, &o->seed, 0, 18446744073709551615.0, "N",
            "seed of the hot set and the sequences (default: 1)"),
        BO_OPT("quick", NULL, BO_FLAG, &o->quick, 0, 0, NULL,
            "fewer ops and reps, finishes in a few seconds"),
        BO_OPT("json", NULL, BO_STR, &o->out.json, 0, 0, "FILE",
            "write the results as JSON (schema bpbench/1) to FILE; - is "
            "stdout"),
        BO_OPT("csv", NULL, BO_OPTSTR, &o->out.csv, 0, 0, "[FILE]",
            "write the results as CSV (bpbench/1 layout) to FILE; without "
            "FILE: print CSV rows instead of the table, columns backend, "
            "runs, mode, threads, wall_ms, ns_per_op, mops, scaling (vs 1 "
            "thread), x_bare (vs bare deref at the same thread count), "
            "ops_per_thread, reps, then p50_ns, p90_ns, p99_ns, p999_ns, "
            "max_ns (machine info, targets and notes go to stderr as # "
            "lines)"),
        BO_OPT("output", NULL, BO_STR, &o->out.output, 0, 0, "FILE",
            "write the results to FILE: JSON when it ends in .json, CSV in "
            ".csv"),
        BO_OPT("quiet", NULL, BO_FLAG, &o->out.quiet, 0, 0, NULL,
            "no progress lines on stderr"),
        BO_OPT_OUTDIR(&o->out, BO_OUT_HELP),
    };
    const size_t ndefs = sizeof defs / sizeof defs[0];

    int rc = bo_parse("hit", defs, ndefs, argc, argv);
    if (rc > 0)
        bo_usage(stdout, "hit", ht_intro, defs, ndefs, ht_tail);
    if (rc)
        return rc;
    if (o->page_size & (o->page_size - 1)) {
        fprintf(stderr, "bpbench hit: --page-size: %llu is not a power of "
                        "two in [4096, 65536]\n",
                (unsigned long long)o->page_size);
        return -1;
    }
    if (!o->ops)
        o->ops = o->quick ? 200000 : 2000000;
    if (!o->lat_ops)
        o->lat_ops = o->ops / 4 ? o->ops / 4 : 1;
    if (!o->reps)
        o->reps = o->quick ? 3 : 5;
    if (!o->pages)
        o->pages = o->window_slots / 2;
    if (o->pages >= o->window_slots) {
        fprintf(stderr, "bpbench hit: --pages %llu must be below "
                "--window %llu (every timed fix must be a window hit)\n",
                (unsigned long long)o->pages,
                (unsigned long long)o->window_slots);
        return -1;
    }
    return 0;
}

/* ---- Set-up -------------------------------------------------------------- */

static int ht_setup(void *arg)
{
    ht_ctx *c = arg;
    ht_opts *o = &c->o;
    c->sh.frames = 2 * o->window_slots;
    c->sh.data_pages = c->sh.frames;
    c->sh.page_size = o->page_size;
    c->nhot = o->pages;

    uint64_t need = (uint64_t)o->nbk * c->sh.frames * o->page_size;
    uint64_t avail = bu_mem_available();
    if (avail && need > avail / 2) {
        fprintf(stderr, "bpbench hit: %d caches of %llu MiB need more than "
                "half the available memory (%llu MiB): use fewer "
                "--window-slots, a smaller --page-size or fewer --backends\n",
                o->nbk,
                (unsigned long long)((c->sh.frames * o->page_size) >> 20),
                (unsigned long long)(avail >> 20));
        return -1;
    }

    /* Thread counts: 1, 2 and N, ascending, without repeats. */
    c->ncpu = bu_ncpu();
    int n = o->threads ? (int)o->threads : c->ncpu;
    c->ntc = 0;
    c->tc[c->ntc++] = 1;
    c->tc[c->ntc++] = 2;
    if (n > 2)
        c->tc[c->ntc++] = n;
    if (c->ncpu < 2)
        ht_note(c, BPL_INFO, "this process may run on %d CPU: the 2-thread"
                " runs share it, so they cannot scale", c->ncpu);
    if (n > c->ncpu)
        ht_note(c, BPL_INFO, "--threads %d exceeds the %d CPUs this "
                "process may run on", n, c->ncpu);

    /* The hot set: a random sample of the data file's pages. */
    uint64_t *perm = malloc(c->sh.data_pages * sizeof *perm);
    c->hot = malloc(c->nhot * sizeof *c->hot);
    if (!perm || !c->hot) {
        free(perm);
        fprintf(stderr, "bpbench hit: out of memory for the hot set\n");
        return -1;
    }
    bu_rng r;
    bu_rng_seed(&r, o->seed, 0, 0);
    bpl_sample(perm, c->sh.data_pages, c->nhot, &r);
    uint64_t nblk = o->page_size / 4096;
    for (uint64_t i = 0; i < c->nhot; i++) {
        uint64_t pg = perm[i], k = (pg * 7u) % nblk;
        c->hot[i].pgno = pg;
        c->hot[i].stamp = bu_stamp(pg, k);
        c->hot[i].off = k * 4096 + bu_touch_line(pg, k);
    }
    free(perm);

    /* One random sequence per thread, shared by every backend and mode. */
    int maxt = c->tc[c->ntc - 1];
    c->seqlen = o->ops < HT_SEQ_MAX ? o->ops : HT_SEQ_MAX;
    c->seq = calloc((size_t)maxt, sizeof *c->seq);
    if (!c->seq) {
        fprintf(stderr, "bpbench hit: out of memory\n");
        return -1;
    }
    for (int t = 0; t < maxt; t++) {
        c->seq[t] = malloc(c->seqlen * sizeof *c->seq[t]);
        if (!c->seq[t]) {
            fprintf(stderr, "bpbench hit: out of memory for the sequences\n");
            return -1;
        }
        bu_rng_seed(&r, o->seed, 1 + (uint64_t)t, 0);
        for (uint64_t i = 0; i < c->seqlen; i++)
            c->seq[t][i] = (uint32_t)bu_rng_below(&r, c->nhot);
    }

    for (int b = 0; b < o->nbk; b++) {
        c->pool[b].ptr = calloc(c->nhot, sizeof *c->pool[b].ptr);
        if (!c->pool[b].ptr) {
            fprintf(stderr, "bpbench hit: out of memory\n");
            return -1;
        }
        for (int m = 0; m < HT_NMODE; m++)
            for (int ti = 0; ti < c->ntc; ti++) {
                ht_cell *cl = &c->cell[b][m][ti];
                cl->wall = calloc(o->reps, sizeof *cl->wall);
                cl->lat = bo_hist_new();
                if (!cl->wall || !cl->lat) {
                    fprintf(stderr, "bpbench hit: out of memory\n");
                    return -1;
                }
            }
    }
    return 0;
}

static void ht_free(ht_ctx *c)
{
    for (int b = 0; b < HT_MAXBK; b++) {
        free(c->pool[b].ptr);
        for (int m = 0; m < HT_NMODE; m++)
            for (int ti = 0; ti < HT_MAXTC; ti++) {
                free(c->cell[b][m][ti].wall);
                bo_hist_free(c->cell[b][m][ti].lat);
            }
    }
    if (c->seq)
        for (int t = 0; t < c->tc[c->ntc - 1]; t++)
            free(c->seq[t]);
    free(c->seq);
    free(c->hot);
}

/* ---- Entry point --------------------------------------------------------- */

static const bpl_cmd ht_cmd = {
    .name = "hit", .parse = ht_parse, .setup = ht_setup,
    .header = ht_print_header, .run = ht_run_all, .csv = ht_print_csv,
    .tables = ht_print_tables, .tail = ht_print_tail, .record = ht_record,
};

int bench_hit_main(int argc, char **argv)
{
    ht_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "bpbench hit: out of memory\n");
        return 1;
    }
    int status = bpl_main(&ht_cmd, c, &c->sh, &c->o.out, &c->o.dir, argc,
                          argv);
    ht_free(c);
    free(c);
    return status;
}
