/*
 * bench_wl.h - the harness that runs one workload (YCSB, TPC-C-like) the
 * same way on every engine and reports it side by side.
 *
 * For each engine, in this order, in a forked child process:
 *   1. kv_open in a fresh directory, load the data (progress lines on
 *      stderr once the load has taken 3 s), kv_flush, kv_close;
 *   2. out-of-memory mode: drop the kernel's page cache (sync; echo 3 >
 *      /proc/sys/vm/drop_caches) and, for LMDB, move the child into a memory
 *      cgroup (v2 if mounted with the memory controller, else v1) limited to
 *      the budget; when either is refused the run goes on and the report
 *      marks the comparison "NOT EQUAL MEMORY: <why>";
 *   3. kv_reopen, start the worker threads, run for the duration (or until
 *      every thread has done its --ops operations), sampling the operation
 *      counters every interval for the time series; every operation's
 *      latency goes into its thread's histogram of its kind (bo_hist,
 *      bench_out.h), merged per kind at the end; a progress line per
 *      second on stderr when the run is longer than 3 s;
 *   4. the workload's check (TPC-C consistency conditions, YCSB mix counts);
 *      kv_close; the directory is removed.
 * The child reports through a MAP_SHARED result block (the latency
 * histograms as quantile tables, bench_wl_impl.h); the parent prints the
 * table (throughput, ratio to LMDB) and the latency table (mean, p50, p90,
 * p99, p99.9, max per kind and engine), writes the CSV rows, draws the PNG
 * plots with gnuplot when it is installed (else it says so), and adds one
 * bo_row per engine to o->run (--json, --csv, --output; and, in the --out
 * directory, its generic latency plot, bench_out.h).
 *
 * With rounds > 1 the engines run in alternation, round after round (A B A
 * B ...), each run as above.  An engine's row, CSV row and plot come from
 * its median round (by steady rate; with an even count the lower middle);
 * its ratio to LMDB is the median of the per-round ratios, and the report
 * lists every round's rate and ratio.
 *
 * Before the engines, when the workload has a driver hook, the parent times
 * the driver alone (the workload's own per-operation work without kv calls,
 * one thread, best of WL_DRIVER_REPS runs of driver_ops operations) and the
 * report gives it in ns per operation and as a share of each engine's time
 * per operation.
 *
 * In out-of-memory mode, after every engine and round, the parent runs fio
 * once (O_DIRECT random reads of the page size at depth threads, on a file
 * as large as the data) and the report gives each engine's efficiency: its
 * disk reads per second during the run over fio's IOPS.
 */
#ifndef BENCH_WL_H
#define BENCH_WL_H

#include <stddef.h>
#include <stdint.h>

#include "bench_out.h"
#include "kv.h"

#define WL_MAX_THREADS 64
#define WL_MAX_SAMPLES 3600
/* A run "until steady" lasts at least WL_STEADY_MIN_S and at most
 * WL_STEADY_MAX_S seconds, and ends once its last three windows of
 * WL_STEADY_WINDOW_S each went at rates within WL_STEADY_BAND of their
 * mean. */
#define WL_STEADY_MIN_S 5.0
#define WL_STEADY_MAX_S 60.0
#define WL_STEADY_WINDOW_S 1.0
#define WL_STEADY_BAND 0.10
#define WL_MAX_KINDS 8 /* operation kinds counted per workload */
#define WL_DRIVER_REPS 5 /* timed runs of the driver; the fastest counts */
#define WL_MAX_ROUNDS 9 /* rounds of the engines in alternation */

/* Per-thread counters a worker updates (relaxed atomics or plain stores of
 * its own slot; the sampler reads them racily-but-atomically).  A zeroed
 * struct is a valid one: no latency recorded, no operation limit. */
typedef struct wl_counters {
    uint64_t ops[WL_MAX_KINDS]; /* completed operations per kind */
    uint64_t aborts;            /* rolled back / retried groups */
    uint64_t errors;            /* failed operations (a real error) */
    /* The thread's own histogram per kind: every completed operation's
     * latency in ns (wl_lat_begin, wl_lat_lap); all NULL: not timed. */
    bo_hist *lat[WL_MAX_KINDS];
    uint64_t limit; /* stop after this many operations; 0: no limit */
    char pad[64];
} wl_counters;

/* Timing of a worker's operations, one clock read per operation: each
 * operation ends at a read that starts the next one, so what is timed is
 * the operation and the worker's few ns of loop between two.  The clock is
 * bo_ticks() (bench_out.h: the TSC when it is constant, else
 * clock_gettime(CLOCK_MONOTONIC)), calibrated by wl_lat_clock_init() in
 * the parent before the engines' children are forked; a read costs about
 * 10 ns with the TSC, 30 to 70 with clock_gettime on a KVM guest.  The
 * first read, before the loop (0 when the thread is not timed) ... */
static inline uint64_t wl_lat_begin(const wl_counters *c)
{
    return c->lat[0] ? bo_ticks() : 0;
}

/* ... then after each operation: its latency since t0 (the previous
 * read, in ticks) recorded in ns into kind k's histogram when ok (an
 * operation that failed is not), and the new read returned. */
static inline uint64_t wl_lat_lap(wl_counters *c, int k, uint64_t t0,
                                  int ok)
{
    if (!t0)
        return 0;
    uint64_t t = bo_ticks();
    if (ok)
        bo_hist_add(c->lat[k], bo_ticks_to_ns(t - t0));
    return t;
}

/* Calibrate the clock of wl_lat_begin/wl_lat_lap once per process (about
 * 20 ms; later calls return at once).  1: the TSC, 0: clock_gettime. */
int wl_lat_clock_init(void);

typedef struct wl_workload {
    const char *name; /* "ycsb-c", "tpcc" */
    /* The bo_row table of its results ("ycsb", "tpcc", "kv"); NULL:
     * name. */
    const char *table;
    /* Metric names of the results: the counted rate (NULL:
     * "ops_per_s") and, with all_unit, every kind per second
     * ("txn_per_s"; NULL: "all_ops_per_s"). */
    const char *rate_metric;
    const char *all_metric;
    /* How the workload is set up, one line for the report's heading and
     * the CSV ("keys int8, distribution uniform"); NULL: nothing to say. */
    const char *setup;
    int nkinds;
    const char *kind_names[WL_MAX_KINDS]; /* "read", "update", "new-order" */
    int main_kind; /* -1: throughput counts every kind; else e.g. New-Order */
    uint64_t data_bytes; /* expected size of the loaded data */
    void *arg;
    /* Load the initial data; report progress as done/total through
     * wl_progress (may be called from several threads). 0 or error. */
    int (*load)(kv *k, void *arg, int threads);
    /* One worker: run until *stop becomes nonzero (read it with an atomic
     * load) or c->limit operations are done, counting into *c and timing
     * each operation into c->lat[kind] (wl_lat_begin, wl_lat_lap). 0 or
     * error. */
    int (*run)(kv *k, void *arg, int tid, wl_counters *c, const int *stop);
    /* After the run: check the workload's invariants; write a one-line
     * summary ("consistency 1-4: ok") into out. 0 when they hold. */
    int (*check)(kv *k, void *arg, const wl_counters *total, char *out,
                 size_t outsz);
    /* With main_kind >= 0: heading of an extra report column giving every
     * kind per second ("tx/s" for TPC-C-like); NULL: no such column. */
    const char *all_unit;
    /* Optional: run nops operations (of any kind, as run draws them) of the
     * driver alone: the draws, keys and checks run makes, every kv call
     * left out; arg is left as it was.  0 or error.  Timed by the harness
     * in the parent, before the engines run. */
    int (*driver)(void *arg, uint64_t nops);
    uint64_t driver_ops; /* nops of one timed driver run */
} wl_workload;

/* Progress of the load: done of total rows.  The harness prints it as a
 * progress line per second (bo_progress_*) once the load has taken 3 s;
 * nothing with --quiet. */
void wl_progress(uint64_t done, uint64_t total);

typedef struct wl_engine {
    kv_kind kind;
    bp_backend backend;
} wl_engine;

typedef struct wl_opts {
    int threads;
    double seconds;       /* run duration; 0: until steady (WL_STEADY_*);
                             with ops: an upper bound (0: none) */
    uint64_t ops;         /* operations per worker thread; 0: by time */
    int no_latency;       /* 1: operations are not timed (no histograms) */
    bo_run *run;          /* results go here as bo_rows; NULL: nowhere */
    double interval;      /* sampling interval, seconds */
    uint64_t mem_budget;  /* bytes */
    int out_of_memory;    /* 1: data >= 4x budget mode (drop caches, cgroup) */
    int cold;             /* 1: the run starts cold (the bufpool cache is
                             not kept from the load, the page cache is
                             dropped); 0: warm, as the load left it */
    size_t page_size;
    const char *outdir;   /* CSV and PNGs go here (created) */
    const char *tmp_parent; /* where data directories are made (/var/tmp) */
    int rounds;           /* runs per engine, the engines alternating
                             round after round, 1..WL_MAX_ROUNDS (0
                             counts as 1) */
    int nengines;
    wl_engine engines[8];
} wl_opts;

/* Run w on every engine of o and print the report.  Returns 0 when every
 * engine ran and every check held, 1 otherwise (the report says which). */
int wl_run_all(const wl_workload *w, const wl_opts *o);

/* What wl_run_all reported, for a subcommand that runs several workloads
 * and prints a summary across them. */
typedef struct wl_summary {
    int n;                  /* engines, in the order of o->engines */
    char label[8][96];      /* kv_label, or the engine's name if it failed */
    double ops_per_s[8];    /* steady throughput (main kind) of the
                               median round; 0 when it failed */
    double ratio[8];        /* ops_per_s / LMDB's, the median over rounds
                               of the per-round ratio; 0 without an LMDB
                               run */
    int ok[8];              /* ran and its check held, in every round */
    char memory_note[256];  /* "" or "NOT EQUAL MEMORY: why" */
    double driver_ns;       /* the driver alone, ns per operation; 0: none */
} wl_summary;

/* wl_run_all, also filling *out (may be NULL). */
int wl_run_all_summary(const wl_workload *w, const wl_opts *o,
                       wl_summary *out);

/* Parse "bufpool:auto,bufpool:mmap,lmdb" style lists (also "auto", "mmap",
 * ... for bufpool backends). -1 on error (printed). */
int wl_parse_engines(char *s, wl_opts *o);
/* The same, the error line prefixed by what ("bpbench ycsb: --engines"). */
int wl_parse_engines_as(char *s, wl_opts *o, const char *what);

/* The bo_row labels of engine e: engine ("bufpool", "lmdb") and backend
 * ("auto", "mmap", ...; "none" for LMDB). */
void wl_engine_labels(bo_row *w, const wl_engine *e);

/* ---- The command line of ycsb, tpcc and kv (bench_wl_cli.c) -------------
 * The harness's options in the shared vocabulary (bench_out.h): --threads,
 * --duration (alias --seconds), --ops, --pool-size (alias --memory),
 * --page-size, --engines (alias --backend), --rounds, --interval, --oom,
 * --cold, --no-latency, --dir, --seed, and the output options --out
 * (default bpbench-out), --json, --csv, --output, --quiet. */
#define WL_CLI_NDEFS 18 /* bo_optdef entries wl_cli_defs appends */

typedef struct wl_cli_defaults {
    const char *cmd;       /* "ycsb" */
    const char *engines;   /* default --engines list */
    double duration;       /* default --duration; 0: until steady */
    const char *per;       /* what a duration is for: "engine" */
    const char *pool_size; /* help: the default --pool-size */
    const char *interval;  /* help: the default --interval */
} wl_cli_defaults;

typedef struct wl_cli {
    wl_opts wl;          /* filled by wl_cli_apply */
    bo_outopts out;
    const wl_cli_defaults *d;
    uint64_t pool_size;  /* bytes; 0: the subcommand's default */
    uint64_t page_size;  /* bytes; 0: 8192, 4096 with --oom */
    uint64_t ops;        /* per thread; 0: by time */
    uint64_t seed;
    double duration;     /* seconds; 0: until steady; -1: not given */
    double interval;     /* seconds; 0: the subcommand's default */
    int threads;
    int rounds;
    int oom, cold, no_latency;
    char help[5][320];   /* help texts that name the defaults */
} wl_cli;

/* Defaults from d (kept by pointer), threads = the CPUs. */
int wl_cli_init(wl_cli *c, const wl_cli_defaults *d);
/* Append the WL_CLI_NDEFS option entries to defs[0..]; returns their
 * count. */
size_t wl_cli_defs(wl_cli *c, bo_optdef *defs);
/* After bo_parse: check the output options, turn --quiet on, resolve the
 * page size, fill c->wl but for mem_budget and interval, which depend on
 * the subcommand.  0, or -1 after one error line. */
int wl_cli_apply(wl_cli *c);
/* Once the subcommand set mem_budget and interval: the run of results
 * (argv as the subcommand's main got it) writing the files asked for,
 * into c->wl.run, with the harness options recorded (bo_opt_*).  NULL
 * after an error line when memory ran out. */
bo_run *wl_cli_begin(wl_cli *c, int argc, char **argv);
/* Write the files asked for, draw the latency plots of the results in the
 * --out directory and free r (bo_run_finish), then name the files on
 * stdout.  0, or 1 after the error line. */
int wl_cli_end(wl_cli *c, bo_run *r);

#endif /* BENCH_WL_H */
