/*
 * bench_restart.c - `bpbench restart`: what a restart costs with a cache
 * kept in /dev/shm and revived at the next open, against a restart that
 * builds the cache anew and reads its pages back from the data file.
 *
 * Work: a data file of --size bytes of stamped pages; a shared cache
 * (BP_ATTACH, kept) that holds all of it, with no window size set (on
 * 64-bit the whole cache is mapped).  Untimed load: every page is read
 * into the cache, then bp_flush and bp_close.  Then, --reps times, two
 * phases, each an open followed by --lookups uniform random lookups (a
 * shared fix of a page and a check of one word of each 4 KiB of it) and a
 * close that leaves every page cached again (untimed):
 *   revived  the open finds the kept cache and revives it;
 *   cold     the kept file is removed first, so the open builds the cache
 *            anew and lookups read their pages from the data file.
 * Both open with BP_PREFAULT_TOUCH (every 4 KiB of the mapped cache read
 * once at open); a third phase, revived with BP_PREFAULT_POPULATE only,
 * shows what the touch moves into the open: where the hypervisor keeps
 * shadow page tables a populated page still faults at its first touch.
 * Reported per phase (median over reps): the open's time, the throughput
 * of the first tenth of the lookups and of the last tenth (steady), their
 * ratio, and data-file reads per lookup.
 */
#include "bench.h"
#include "bench_out.h"
#include "bench_util.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct rs_opts {
    uint64_t size, page_size, lookups, reps, seed;
    const char *dir;
    int quick;
    bo_outopts out;
} rs_opts;

enum { RS_REVIVED, RS_REVIVED_POPULATE, RS_COLD, RS_PHASES };
enum { RS_FIRST, RS_STEADY, RS_NLAT }; /* first and last tenth */
#define RS_SAMPLE 63u /* every 64th lookup is timed */

typedef struct rs_ctx {
    rs_opts o;
    uint64_t pages;
    char dir[512], data[600], shm[96], shm_path[160];
    bo_hist *lat[RS_PHASES][RS_NLAT]; /* sampled lookups, every rep */
    atomic_int pg_phase, pg_rep; /* what runs, for the progress lines */
} rs_ctx;

/* A phase's open ms, first and steady Mop/s, their ratio, reads/lookup */
typedef struct rs_result {
    double v[5];
    char origin[160];
} rs_result;

static int rs_open(const rs_ctx *c, bp_prefault pf, bp_pool **out)
{
    bp_pool *p = NULL;
    int rc = bp_create(&p, NULL);

    if (rc == 0 && (rc = bp_set_page_size(p, c->o.page_size)) == 0 &&
        (rc = bp_set_prefault(p, pf)) == 0 &&
        (rc = bp_set_cache_frames(p, c->pages + 64)) == 0 &&
        (rc = bp_set_shm(p, c->shm, 1)) == 0)
        rc = bp_open(p, c->data, BP_ATTACH);
    if (rc) {
        fprintf(stderr, "bpbench restart: bp_open: %s: %s\n", bp_strerror(rc),
                p ? bp_errmsg(p) : "");
        bp_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Fix pgno shared and check its stamp: 0, or -1 (printed). */
static int rs_lookup(bp_pool *p, const rs_ctx *c, uint64_t pgno)
{
    bp_page pg;
    uint64_t bad;
    int rc = bp_fix(p, pgno, BP_SHARED, &pg);

    if (rc) {
        fprintf(stderr, "bpbench restart: bp_fix(%" PRIu64 "): %s: %s\n",
                pgno, bp_strerror(rc), bp_errmsg(p));
        return -1;
    }
    bad = bu_touch_check(pg.data, pgno, c->o.page_size);
    bp_unfix(p, &pg, 0);
    if (bad) {
        fprintf(stderr, "bpbench restart: page %" PRIu64 " does not hold "
                "its stamp\n", pgno);
        return -1;
    }
    return 0;
}

/* Every page once (untimed), flush, close: the next open finds them all. */
static int rs_warm_close(bp_pool *p, const rs_ctx *c)
{
    int rc = 0;

    for (uint64_t pgno = 0; pgno < c->pages && rc == 0; pgno++)
        rc = rs_lookup(p, c, pgno);
    if (rc == 0 && (rc = bp_flush(p)) != 0)
        fprintf(stderr, "bpbench restart: bp_flush: %s\n", bp_strerror(rc));
    if (bp_close(p) != 0 && rc == 0)
        rc = -1;
    return rc;
}

static const char *const rs_phase_name[] = {"revived", "revived-populate",
                                            "cold"};

/* One phase: open (after removing the kept file when cold), lookups,
 * warm close. */
static int rs_phase(const rs_ctx *c, int phase, uint64_t seed, rs_result *r)
{
    int cold = phase == RS_COLD;
    uint64_t tenth = c->o.lookups / 10, t0, t1, t_first = 0, t_last0 = 0;
    bp_stats a, b;
    bp_pool *p;
    bu_rng rng;

    if (cold)
        unlink(c->shm_path);
    bu_rng_seed(&rng, c->o.seed, seed, 7);
    t0 = bu_now_ns();
    if (rs_open(c, phase == RS_REVIVED_POPULATE ? BP_PREFAULT_POPULATE
                                                : BP_PREFAULT_TOUCH,
                &p) != 0)
        return -1;
    t1 = bu_now_ns();
    r->v[0] = (double)(t1 - t0) / 1e6;
    if (bp_stats_get(p, &a, sizeof a) != 0)
        goto fail;
    snprintf(r->origin, sizeof r->origin, "%s", a.cache_origin);
    t0 = bu_now_ns();
    for (uint64_t i = 0; i < c->o.lookups; i++) {
        uint64_t s0 = (i & RS_SAMPLE) == 0 ? bo_ticks() : 0;
        if (i == tenth)
            t_first = bu_now_ns();
        if (i == c->o.lookups - tenth)
            t_last0 = bu_now_ns();
        if (rs_lookup(p, c, bu_rng_below(&rng, c->pages)) != 0)
            goto fail;
        if ((i & RS_SAMPLE) == 0 && (i < tenth || i >= c->o.lookups - tenth))
            bo_hist_add(c->lat[phase][i < tenth ? RS_FIRST : RS_STEADY],
                        bo_ticks_to_ns(bo_ticks() - s0));
    }
    t1 = bu_now_ns();
    if (bp_stats_get(p, &b, sizeof b) != 0)
        goto fail;
    r->v[1] = (double)tenth / (double)(t_first - t0) * 1e3;
    r->v[2] = (double)tenth / (double)(t1 - t_last0) * 1e3;
    r->v[3] = r->v[1] / r->v[2];
    r->v[4] = (double)(b.reads - a.reads) / (double)c->o.lookups;
    return rs_warm_close(p, c);
fail:
    bp_close(p);
    return -1;
}

static const char rs_intro[] =
"A kept shared cache revived at open against one built anew (cold): open\n"
"time, first tenth and last tenth of the lookups (throughput and latency\n"
"percentiles), disk reads per lookup.  Latency: every 64th lookup timed\n"
"with the TSC (its cost subtracted).\n";

/* 0, 1 for --help (printed), -1 on a usage error (printed). */
static int rs_parse(rs_opts *o, int argc, char **argv)
{
    *o = (rs_opts){.page_size = 8192, .reps = 3, .seed = 1};
    const bo_optdef defs[] = {
        BO_OPT("quick", NULL, BO_FLAG, &o->quick, 0, 0, NULL,
               "64 MiB of data, 200000 lookups, 1 rep"),
        BO_OPT("size", NULL, BO_U64, &o->size, 1u << 20, 1ull << 44,
               "BYTES", "data file size; the cache holds all of it "
               "(default: 2g, --quick 64m)"),
        BO_OPT("page-size", NULL, BO_U64, &o->page_size, 4096, 65536,
               "BYTES", "page size (default: 8192)"),
        BO_OPT("ops", "lookups", BO_U64, &o->lookups, 1000, 1ull << 40,
               "N", "uniform random lookups per phase (default: 2000000, "
               "--quick 200000)"),
        BO_OPT("reps", NULL, BO_U64, &o->reps, 1, 100, "N",
               "repetitions, median reported (default: 3, --quick 1)"),
        BO_OPT("seed", NULL, BO_U64, &o->seed, 0, 18446744073709551615.0,
               "N", "seed of the lookups (default: 1)"),
        BO_OPT("dir", NULL, BO_STR, &o->dir, 0, 0, "DIR",
               "where the data file's temp directory goes (default: "
               "/var/tmp)"),
        BO_OPTS_OUTPUT(&o->out),
    };
    const size_t ndefs = sizeof defs / sizeof defs[0];
    int rc = bo_parse("restart", defs, ndefs, argc, argv);
    if (rc > 0)
        bo_usage(stdout, "restart", rs_intro, defs, ndefs,
                 "Exit status: 0, 1 on failure, 2 on a usage error.\n");
    if (rc)
        return rc;
    if (!o->size)
        o->size = o->quick ? 64ull << 20 : 2ull << 30;
    if (!o->lookups)
        o->lookups = o->quick ? 200000 : 2000000;
    if (o->quick && o->reps == 3)
        o->reps = 1;
    return 0;
}

/* A progress line: the phase and rep that run. */
static void rs_progress(void *arg, char *line, size_t n)
{
    rs_ctx *c = arg;
    snprintf(line, n, "rep %d, %s", atomic_load(&c->pg_rep),
             rs_phase_name[atomic_load(&c->pg_phase)]);
}

/* The latency histograms: freed (alloc 0) or allocated; 0 or -1. */
static int rs_lat(rs_ctx *c, int alloc)
{
    for (int ph = 0; ph < RS_PHASES; ph++)
        for (int k = 0; k < RS_NLAT; k++) {
            if (!alloc)
                bo_hist_free(c->lat[ph][k]);
            else if (!(c->lat[ph][k] = bo_hist_new()))
                return -1;
        }
    return 0;
}

/* The median of every column over the reps, printed and recorded. */
static void rs_report(rs_ctx *c, rs_result res[RS_PHASES][100], bo_run *run)
{
    static const char *const kind[RS_NLAT] = {"first", "steady"};
    char lc[5][24];
    printf("# %-16s %9s %12s %12s %12s %13s\n", "phase", "open ms",
           "first Mop/s", "steady Mop/s", "first/steady", "reads/lookup");
    for (int ph = 0; ph < RS_PHASES; ph++) {
        double v[100], m[5];

        for (int k = 0; k < 5; k++) {
            for (uint64_t r = 0; r < c->o.reps; r++)
                v[r] = res[ph][r].v[k];
            m[k] = bu_median(v, c->o.reps);
        }
        printf("  %-16s %9.1f %12.2f %12.2f %11.2fx %13.4f\n",
               rs_phase_name[ph], m[0], m[1], m[2], m[3], m[4]);
        bo_row *w = bo_row_new(run, "restart");
        bo_label_str(w, "phase", rs_phase_name[ph]);
        bo_metric(w, "open_ms", m[0]);
        bo_metric(w, "first_ops_per_s", m[1] * 1e6);
        bo_metric(w, "steady_ops_per_s", m[2] * 1e6);
        bo_metric(w, "ratio_first_steady", m[3]);
        bo_metric(w, "reads_per_lookup", m[4]);
        for (int k = 0; k < RS_NLAT; k++)
            bo_latency(w, kind[k], c->lat[ph][k]);
    }
    printf("# latency per lookup, every 64th of the first and of the last "
           "tenth timed, all reps:\n# %-16s %-7s %9s %9s %9s %9s %9s\n",
           "phase", "tenth", "p50", "p90", "p99", "p99.9", "max");
    for (int ph = 0; ph < RS_PHASES; ph++)
        for (int k = 0; k < RS_NLAT; k++) {
            bo_lat_cells(c->lat[ph][k], lc, 0);
            printf("  %-16s %-7s %9s %9s %9s %9s %9s\n", rs_phase_name[ph],
                   kind[k], lc[0], lc[1], lc[2], lc[3], lc[4]);
        }
    for (int ph = 0; ph < RS_PHASES; ph++)
        printf("# %s: %s\n", rs_phase_name[ph], res[ph][0].origin);
}

static void rs_record_opts(const rs_ctx *c, bo_run *run)
{
    char how[400];
    snprintf(how, sizeof how, "every 64th lookup of the first and of the "
             "last tenth timed alone with %s (step %.1f ns, cost %.1f ns "
             "subtracted)",
             bo_tick_tsc ? "the TSC" : "CLOCK_MONOTONIC",
             bo_tick_resolution_ns(), bo_tick_overhead_ns());
    bo_opt_num(run, "size", (double)c->o.size);
    bo_opt_num(run, "page_size", (double)c->o.page_size);
    bo_opt_num(run, "ops", (double)c->o.lookups);
    bo_opt_num(run, "reps", (double)c->o.reps);
    bo_opt_num(run, "seed", (double)c->o.seed);
    bo_opt_str(run, "latency_sampling", how);
}

/* The load and the reps: 0 or -1 (said why). */
static int rs_run(rs_ctx *c, rs_result res[RS_PHASES][100])
{
    double secs;
    char err[256];
    bp_pool *p;

    if (bu_data_file_create(c->data, c->o.page_size, c->pages, &secs, err,
                            sizeof err) != 0) {
        fprintf(stderr, "bpbench restart: %s\n", err);
        return -1;
    }
    if (rs_open(c, BP_PREFAULT_TOUCH, &p) != 0 || rs_warm_close(p, c) != 0)
        return -1;
    bo_progress_start(rs_progress, c);
    int rc = 0;
    for (uint64_t r = 0; r < c->o.reps && rc == 0; r++)
        for (int ph = 0; ph < RS_PHASES && rc == 0; ph++) {
            atomic_store(&c->pg_rep, (int)r + 1);
            atomic_store(&c->pg_phase, ph);
            rc = rs_phase(c, ph, r + 1, &res[ph][r]);
        }
    bo_progress_stop();
    unlink(c->shm_path);
    return rc;
}

int bench_restart_main(int argc, char **argv)
{
    static rs_result res[RS_PHASES][100];
    static rs_ctx c;
    bo_run *run = bo_run_begin(argc, argv);
    int rc = run ? rs_parse(&c.o, argc, argv) : -2;

    if (rc == 0 && bo_outopts_apply("restart", &c.o.out, run))
        rc = -1;
    if (rc == 0 && rs_lat(&c, 1))
        rc = -2;
    if (rc) {
        if (rc == -2)
            fprintf(stderr, "bpbench restart: out of memory\n");
        rc = rc > 0 ? 0 : rc == -2 ? 1 : 2;
        goto fail;
    }
    bo_tick_init();
    c.pages = c.o.size / c.o.page_size;
    rc = 1;
    if (bu_tempdir(c.o.dir ? c.o.dir : "/var/tmp", c.dir, sizeof c.dir) != 0 ||
        bu_shm_name(c.shm, sizeof c.shm) != 0)
        goto fail;
    snprintf(c.data, sizeof c.data, "%s/restart.db", c.dir);
    snprintf(c.shm_path, sizeof c.shm_path, "/dev/shm/%s", c.shm);
    bu_print_machine(stdout, "# ");
    printf("# bpbench restart: %" PRIu64 " pages of %" PRIu64 " bytes, a "
           "shared cache holding all of them (kept), %" PRIu64 " uniform "
           "lookups per phase, median of %" PRIu64 "\n",
           c.pages, c.o.page_size, c.o.lookups, c.o.reps);
    if (rs_run(&c, res) != 0)
        goto fail;
    rs_record_opts(&c, run);
    bo_plot_metric(run, "restart", "open_ms",
                   "ms to open the pool (median of the reps)");
    rs_report(&c, res, run);
    rs_lat(&c, 0);
    return bo_run_finish("restart", run);
fail:
    bo_run_discard(run);
    rs_lat(&c, 0);
    return rc;
}
