/*
 * bench_wl_impl.h - what the harness files share: the result block a
 * forked engine child fills (MAP_SHARED), fio's random-read rate of the
 * data disk, and the report.
 *
 * Files: bench_wl.c (wl_run_all: the child per engine (bench_run.h), its
 * memory in out-of-memory mode (bench_util.h: dropped caches, memory
 * cgroups), worker threads, sampling, progress lines, fio between the
 * runs of out-of-memory mode), bench_wl_report.c (table,
 * efficiency line, CSV, gnuplot plots, result rows), bench_wl_lat.c (the
 * workers' latency histograms, merged into the result block; the latency
 * table), bench_wl_cli.c (the command line shared by ycsb, tpcc and kv).
 */
#ifndef BENCH_WL_IMPL_H
#define BENCH_WL_IMPL_H

#include "bench_run.h"
#include "bench_wl.h"

/* One engine's run, written by its child, read by the parent after
 * waitpid. */
typedef struct wl_result {
    int ran;         /* the child got through the run */
    int check_ok;    /* the workload's check held */
    char label[96];  /* kv_label */
    char err[320];   /* first failure, "" when none */
    char check[320]; /* the check's summary line */
    char memory_note[256]; /* parent: "" or why memory is not equal */
    double load_secs;
    double run_secs;
    uint64_t data_bytes; /* allocated bytes of the files after the load */
    /* out-of-memory mode, parent: fio's IOPS right after this run, and
     * this run's reference, the mean of that and fio's just before it
     * (the first run: after it only); 0 when not measured (wl_fio) */
    double fio_after, fio_iops;
    uint64_t total[WL_MAX_KINDS];
    uint64_t errors;
    uint64_t aborts;
    /* bytes the child read from storage during the run (/proc/self/io
     * read_bytes: every block read its threads submitted, O_DIRECT, page
     * faults and io_uring alike); UINT64_MAX when unknown */
    uint64_t run_read_bytes;
    uint32_t nsamples;
    double sample_t[WL_MAX_SAMPLES];     /* seconds since the run began */
    uint64_t sample_ops[WL_MAX_SAMPLES]; /* counted ops so far */
    /* read_bytes since the run began (as run_read_bytes), UINT64_MAX
     * when unknown */
    uint64_t sample_rb[WL_MAX_SAMPLES];
    /* per kind k < w->nkinds: a histogram in the MAP_SHARED block, after
     * the results, into which the child merges its threads' after the
     * run; empty when not timed */
    bo_hist *lat[WL_MAX_KINDS];
} wl_result;

/* The data disk's own random-read rate in out-of-memory mode, measured
 * by bench_wl.c between the runs: fio, O_DIRECT randread of bs-byte
 * blocks (the bufpool page size of the runs) at depth o->threads for
 * WL_FIO_SECONDS, after every run, on one file in a fresh directory under
 * o->tmp_parent, made after the first run as large as its data and synced
 * before any measurement.  This VM's disk drifts two- to threefold within
 * a minute, so each run is held against the fio runs beside it
 * (wl_result.fio_iops), as `bpbench io` does.  The report's efficiency
 * of a run is its disk reads per second over that: over the steady part
 * of the run (the last third, where the steady ops/s comes from), and over
 * the whole run (run_read_bytes / bs / run_secs). */
#define WL_FIO_SECONDS 5
typedef struct wl_fio {
    uint64_t bs;     /* block size, bytes */
    int depth;       /* queue depth */
    int runs;        /* fio runs measured */
    double lo, hi;   /* their lowest and highest IOPS */
    char why[384];   /* when a run failed or none ran: why (fio missing or
                        failed) */
} wl_fio;

/* Operations that count for throughput: the main kind, or all kinds. */
uint64_t wl_counted(const wl_workload *w, const uint64_t *ops);

/* Rounds of o: o->rounds, at least 1. */
int wl_rounds(const wl_opts *o);

/* ---- bench_wl_lat.c ---------------------------------------------------- */

/* Child: one histogram per thread and kind into c[t].lat (nt threads,
 * nkinds kinds).  0 or -ENOMEM (nothing left allocated). */
int wl_lat_alloc(wl_counters *c, int nt, int nkinds);
/* Child: merge the threads' histograms per kind into r->lat, free them. */
void wl_lat_collect(wl_counters *c, int nt, int nkinds, wl_result *r);

/* The latency table of a report: per engine (the result sel[i] of
 * o->engines[i]) and kind, operations per second, mean, p50, p90, p99,
 * p99.9 and max; with w->main_kind >= 0 also "all" (every kind).
 * h[i][k] are the histograms (k = w->nkinds: all), NULL where there is
 * none. */
void wl_lat_print(const wl_workload *w, const wl_opts *o,
                  const wl_result *const *sel,
                  bo_hist *const (*h)[WL_MAX_KINDS + 1]);

/* ---- bench_wl_report.c ------------------------------------------------- */

/* Print the table, write <outdir>/<name>.csv and the plots, fill *sum
 * (may be NULL).  res[r * o->nengines + i] belongs to round r of
 * o->engines[i] (wl_rounds(o) rounds).  note: "" or "NOT EQUAL MEMORY:
 * ..." for the whole comparison.  driver_ns: the driver alone in ns per
 * operation, 0 when not measured.  fio: the disk's random-read rate for
 * the efficiency line after the table and the CSV's last two columns
 * (fio IOPS, efficiency per engine); NULL when there is none (in-memory
 * runs): no line, empty columns. */
void wl_report(const wl_workload *w, const wl_opts *o, const wl_result *res,
               const char *note, double driver_ns, const wl_fio *fio,
               wl_summary *sum);

/* Name of an engine as the user wrote it ("lmdb", "bufpool:mmap"). */
const char *wl_engine_name(const wl_engine *e, char *buf, size_t n);

#endif /* BENCH_WL_IMPL_H */
