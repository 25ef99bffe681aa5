/*
 * bench_wl_cli.c - the command line that `bpbench ycsb`, `bpbench tpcc`
 * and `bpbench kv` share (bench_wl.h, wl_cli): the harness's options in
 * the shared vocabulary of bench_out.h as bo_optdef entries, with the
 * older names kept as aliases (--seconds of --duration, --memory of
 * --pool-size); their checks once parsed; the wl_opts they make; and
 * their record in the results (bo_opt_*).
 *
 * Every error is one line, "bpbench <cmd>: --<option>: ..." naming what
 * the option accepts; the subcommand then exits with status 2.
 */
#include "bench_wl_impl.h"

#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parse the engine list val into dst (a wl_opts). */
static int wl_cli_engines(void *dst, const char *cmd, const char *opt,
                          const char *val)
{
    char buf[512], what[64];
    snprintf(what, sizeof what, "bpbench %s: --%s", cmd, opt);
    if (strlen(val) >= sizeof buf) {
        fprintf(stderr, "%s: the list is too long\n", what);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", val);
    return wl_parse_engines_as(buf, dst, what);
}

/* A bufpool page size: a power of two from 4096 to 65536, suffix k. */
static int wl_cli_page_size(void *dst, const char *cmd, const char *opt,
                            const char *val)
{
    uint64_t v;
    if (bo_parse_uint(val, &v) || v < 4096 || v > 65536 || (v & (v - 1))) {
        fprintf(stderr, "bpbench %s: --%s: '%s' is not a page size; give "
                        "a power of two from 4096 to 65536 bytes (4k to "
                        "64k)\n", cmd, opt, val);
        return -1;
    }
    *(uint64_t *)dst = v;
    return 0;
}

int wl_cli_init(wl_cli *c, const wl_cli_defaults *d)
{
    char engines[256];
    int n = bu_ncpu();

    memset(c, 0, sizeof *c);
    c->d = d;
    c->threads = n < WL_MAX_THREADS ? n : WL_MAX_THREADS;
    c->rounds = 1;
    c->duration = -1; /* not given */
    c->seed = 1;
    c->out.dir = "bpbench-out";
    /* the report draws throughput and the ratio to LMDB: of the generic
     * plots (bench_out.h) only the latency ones are drawn */
    c->out.own_plots = BO_PLOT_METRIC;
    c->wl.tmp_parent = "/var/tmp";
    snprintf(engines, sizeof engines, "%s", d->engines);
    return wl_parse_engines(engines, &c->wl);
}

/* The help texts that name the defaults, into c->help. */
static void wl_cli_help(wl_cli *c)
{
    const wl_cli_defaults *d = c->d;
    char dur[64];

    if (d->duration > 0)
        snprintf(dur, sizeof dur, "%g s", d->duration);
    else
        snprintf(dur, sizeof dur, "until steady");
    snprintf(c->help[0], sizeof c->help[0],
             "worker threads, also the loader threads (default: the "
             "CPUs, %d here)", c->threads);
    snprintf(c->help[1], sizeof c->help[1],
             "seconds of each measured run per %s, suffix s or m; 0: "
             "until steady, 5 to 60 s (the report gives the steady rate "
             "and the time it took to reach it) (default: %s)", d->per,
             dur);
    snprintf(c->help[2], sizeof c->help[2],
             "memory budget of each engine in bytes: the bufpool cache "
             "and private window; LMDB's memory cgroup limit with --oom "
             "(default: %s)", d->pool_size);
    snprintf(c->help[3], sizeof c->help[3],
             "comma separated: lmdb, bufpool:<backend> or the backend "
             "alone, from auto, rfp, mmap, copy, linear, kmod, all (all: "
             "auto and every backend that runs here) (default: %s)",
             d->engines);
    snprintf(c->help[4], sizeof c->help[4],
             "seconds between two throughput samples (the plots, the "
             "steady rate) (default: %s)", d->interval);
}

size_t wl_cli_defs(wl_cli *c, bo_optdef *defs)
{
    wl_cli_help(c);
    const bo_optdef tab[WL_CLI_NDEFS] = {
        {"threads", NULL, BO_INT, &c->threads, 1, WL_MAX_THREADS, "N",
         c->help[0], NULL, 0},
        {"duration", "seconds", BO_SECS, &c->duration, 0, 86400, "SECS",
         c->help[1], NULL, 0},
        {"ops", NULL, BO_U64, &c->ops, 0, 1e15, "N",
         "operations per worker thread instead of a duration; with "
         "--duration, stop there if they are not done (default: 0, the "
         "run is timed)", NULL, 0},
        {"pool-size", "memory", BO_U64, &c->pool_size, 1 << 20,
         17592186044416.0, "BYTES", c->help[2], NULL, 0},
        {"page-size", NULL, BO_FN, &c->page_size, 0, 0, "BYTES",
         "bufpool page size, a power of two from 4096 to 65536 (default: "
         "8192; --oom: 4096)", wl_cli_page_size, 0},
        {"engines", "backend", BO_FN, &c->wl, 0, 0, "LIST", c->help[3],
         wl_cli_engines, 0},
        {"rounds", NULL, BO_INT, &c->rounds, 1, WL_MAX_ROUNDS, "N",
         "runs per engine, the engines alternating (A B A B ...); the "
         "report shows each engine's median round, the median per-round "
         "ratio to LMDB and every round's rate (default: 1)", NULL, 0},
        {"interval", NULL, BO_SECS, &c->interval, 0.01, 3600, "SECS",
         c->help[4], NULL, 0},
        {"oom", NULL, BO_FLAG, &c->oom, 0, 0, NULL,
         "out-of-memory mode: data ~4x the budget, the page cache "
         "dropped before each run, LMDB in a memory cgroup, and the "
         "efficiency line: disk reads/s over fio's random-read rate "
         "(default: off, the data fits)", NULL, 0},
        {"cold", NULL, BO_FLAG, &c->cold, 0, 0, NULL,
         "start each run cold: the bufpool cache is not kept from the "
         "load, the page cache is dropped (default: warm, as the load "
         "left both)", NULL, 0},
        {"no-latency", NULL, BO_FLAG, &c->no_latency, 0, 0, NULL,
         "do not time every operation: no latency table and no latency "
         "in the results (default: timed, one clock read per "
         "operation: the TSC when constant, else clock_gettime)", NULL,
         0},
        {"dir", NULL, BO_STR, &c->wl.tmp_parent, 0, 0, "DIR",
         "where the data directories go (default: /var/tmp)", NULL, 0},
        {"seed", NULL, BO_U64, &c->seed, 0, 18446744073709551615.0, "N",
         "random seed of the load and the run (default: 1)", NULL, 0},
        BO_OPTS_OUTPUT_WITH(&c->out,
            "directory of the CSV files, plot data and PNGs, the latency "
            "plots of the results too (default: bpbench-out)"),
    };
    memcpy(defs, tab, sizeof tab);
    return WL_CLI_NDEFS;
}

int wl_cli_apply(wl_cli *c)
{
    wl_opts *o = &c->wl;

    if (bo_outopts_apply(c->d->cmd, &c->out, NULL) != 0)
        return -1;
    o->outdir = c->out.dir;
    o->threads = c->threads;
    /* --ops alone runs until done; a default duration does not cut it */
    o->seconds = c->duration >= 0 ? c->duration
                 : c->ops         ? 0
                                  : c->d->duration;
    o->ops = c->ops;
    o->rounds = c->rounds;
    o->out_of_memory = c->oom;
    o->cold = c->cold;
    o->no_latency = c->no_latency;
    o->page_size = c->page_size ? (size_t)c->page_size
                   : c->oom     ? 4096 /* out of memory, small pages */
                                : 8192; /* miss less */
    return 0;
}

/* The engines of o as a list ("bufpool:auto,lmdb") into buf. */
static const char *wl_cli_engine_list(const wl_opts *o, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < o->nengines && len + 1 < n; i++) {
        char name[64];
        snprintf(buf + len, n - len, "%s%s", i ? "," : "",
                 wl_engine_name(&o->engines[i], name, sizeof name));
        len = strlen(buf);
    }
    return buf;
}

/* The harness options into r. */
static void wl_cli_record(const wl_cli *c, bo_run *r)
{
    const wl_opts *o = &c->wl;
    char engines[512];

    bo_opt_str(r, "engines", wl_cli_engine_list(o, engines, sizeof engines));
    bo_opt_num(r, "threads", o->threads);
    bo_opt_num(r, "duration_s", o->seconds);
    bo_opt_num(r, "ops", (double)o->ops);
    bo_opt_num(r, "pool_size_bytes", (double)o->mem_budget);
    bo_opt_num(r, "page_size_bytes", (double)o->page_size);
    bo_opt_num(r, "rounds", o->rounds);
    bo_opt_num(r, "interval_s", o->interval);
    bo_opt_num(r, "oom", o->out_of_memory);
    bo_opt_str(r, "start", o->out_of_memory || o->cold ? "cold" : "warm");
    bo_opt_num(r, "latency", !o->no_latency);
    if (!o->no_latency)
        bo_opt_str(r, "latency_clock",
                   wl_lat_clock_init() ? "tsc" : "clock_monotonic");
    bo_opt_num(r, "seed", (double)c->seed);
}

bo_run *wl_cli_begin(wl_cli *c, int argc, char **argv)
{
    bo_run *r = bo_run_begin(argc, argv);
    if (!r) {
        fprintf(stderr, "bpbench %s: out of memory\n", c->d->cmd);
        return NULL;
    }
    bo_run_outputs(r, c->out.json, c->out.csv);
    bo_run_plots(r, c->out.dir, BO_PLOT_ALL & ~c->out.own_plots, NULL);
    wl_cli_record(c, r);
    c->wl.run = r;
    return r;
}

int wl_cli_end(wl_cli *c, bo_run *r)
{
    const char *json = c->out.json, *csv = c->out.csv;
    if (bo_run_finish(c->d->cmd, r) != 0)
        return 1;
    if (json && strcmp(json, "-") != 0)
        printf("results: %s (JSON, schema bpbench/1)\n", json);
    if (csv && strcmp(csv, "-") != 0)
        printf("results: %s (CSV)\n", csv);
    return 0;
}
