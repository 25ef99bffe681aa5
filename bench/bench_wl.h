/*
 * bench_wl.h - the harness that runs one workload (YCSB, TPC-C-like) the
 * same way on every engine and reports it side by side.
 *
 * For each engine, in this order, in a forked child process:
 *   1. kv_open in a fresh directory, load the data (progress bar on stderr),
 *      kv_flush, kv_close;
 *   2. out-of-memory mode: drop the kernel's page cache (sync; echo 3 >
 *      /proc/sys/vm/drop_caches) and, for LMDB, move the child into a memory
 *      cgroup (v2 if mounted with the memory controller, else v1) limited to
 *      the budget; when either is refused the run goes on and the report
 *      marks the comparison "NOT EQUAL MEMORY: <why>";
 *   3. kv_reopen, start the worker threads, run for the duration, sampling
 *      the operation counters every interval for the time series;
 *   4. the workload's check (TPC-C consistency conditions, YCSB mix counts);
 *      kv_close; the directory is removed.
 * The child reports through a MAP_SHARED result block; the parent prints the
 * table (throughput, ratio to LMDB), appends CSV rows, and draws the PNG
 * plots with gnuplot when it is installed (else it says so).
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
 * its own slot; the sampler reads them racily-but-atomically). */
typedef struct wl_counters {
    uint64_t ops[WL_MAX_KINDS]; /* completed operations per kind */
    uint64_t aborts;            /* rolled back / retried groups */
    uint64_t errors;            /* failed operations (a real error) */
    char pad[64];
} wl_counters;

typedef struct wl_workload {
    const char *name; /* "ycsb-c", "tpcc" */
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
     * load), counting into *c. 0 or error. */
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

/* Progress of the load, drawn as a bar on stderr (no-op when not a tty or
 * quiet). */
void wl_progress(uint64_t done, uint64_t total);

typedef struct wl_engine {
    kv_kind kind;
    bp_backend backend;
} wl_engine;

typedef struct wl_opts {
    int threads;
    double seconds;       /* run duration; 0: until steady (WL_STEADY_*) */
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

#endif /* BENCH_WL_H */
