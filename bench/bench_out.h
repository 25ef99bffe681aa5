/*
 * bench_out.h - what every bpbench subcommand reports, and how: latency
 * histograms, machine-readable results (JSON, CSV), plots of them,
 * progress lines and the shared option vocabulary.
 *
 * One run of a subcommand builds one bo_run: bo_run_begin() records the
 * machine, argv and start time; the subcommand records its options
 * (bo_opt_*), then one result per table row (bo_row_*), each with metrics
 * (numbers) and latency histograms per operation kind; bo_run_end() writes
 * the JSON and/or CSV files asked for by --json FILE / --csv FILE (or
 * --output FILE with the format taken from its suffix) and draws the plots
 * asked for by --out DIR (see "plots of the results").  The human tables
 * stay as the subcommand prints them; the percentiles columns come from
 * bo_hist_pct().
 *
 * JSON (one object, schema "bpbench/1"):
 *   {"schema": "bpbench/1",
 *    "bpbench": {"version": "X.Y.Z", "subcommand": "hit",
 *                "argv": ["bpbench", "hit", ...],
 *                "started": "2026-12-05T21:50:03Z", "seconds": 12.3},
 *    "machine": {"kernel": "Linux 6.18.0 x86_64", "cpu": "<model name>",
 *                "cores": 2, "memory_bytes": 25769803776,
 *                "hostname": "h"},
 *    "options": {"<name>": <number or string>, ...},
 *    "results": [
 *      {"table": "<table name>",
 *       "labels": {"<key>": <string or number>, ...},
 *       "metrics": {"<name>": <number>, ...},
 *       "latency_ns": {"<op kind>": {"count": N, "mean": x, "p50": x,
 *                      "p90": x, "p99": x, "p999": x, "max": x}, ...}},
 *      ...]}
 *   A result is identified by (table, labels); `bpbench compare A B`
 *   matches results that way.  Metric names carry their unit
 *   (ops_per_s, ns_per_op, kib_read_per_op, ratio_...).
 * CSV: one block per table: a header line (table, the label keys, the
 *   metric names, then <kind>_p50_ns ... <kind>_max_ns per latency kind)
 *   and one line per result; blocks separated by one empty line.
 */
#ifndef BENCH_OUT_H
#define BENCH_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- latency histogram -----------------------------------------------
 * HDR-style: log-linear buckets, relative error below 1/64 (about 1.6%)
 * from 1 ns to about 1 hour; values above are counted in the top bucket
 * and max is exact.  Recording is one increment, no allocation; a thread
 * records into its own histogram and the run merges them. */
typedef struct bo_hist bo_hist;

bo_hist *bo_hist_new(void);                /* NULL on allocation failure */
void bo_hist_free(bo_hist *h);
/* A histogram in memory of the caller's (MAP_SHARED memory, for worker
 * processes): bo_hist_size() bytes aligned for a uint64_t, made empty by
 * bo_hist_place(); not for bo_hist_free. */
size_t bo_hist_size(void);
bo_hist *bo_hist_place(void *mem);
void bo_hist_reset(bo_hist *h);
void bo_hist_add(bo_hist *h, uint64_t ns);  /* record one value */
void bo_hist_merge(bo_hist *into, const bo_hist *from);
uint64_t bo_hist_count(const bo_hist *h);
double bo_hist_mean(const bo_hist *h);
uint64_t bo_hist_max(const bo_hist *h);
/* The value at quantile q in [0, 1] (0.5 = p50, 0.999 = p99.9); 0 when
 * empty. */
uint64_t bo_hist_pct(const bo_hist *h, double q);

/* The summary a result keeps of a histogram, also for latencies measured
 * elsewhere (fio's percentiles). */
typedef struct bo_pcts {
    uint64_t count;
    double mean;
    uint64_t p50, p90, p99, p999, max;
} bo_pcts;
void bo_hist_pcts(const bo_hist *h, bo_pcts *out);

/* ---- a clock for operations shorter than a microsecond ------------------
 * bo_ticks() reads the TSC on x86-64 when the CPU says it is constant
 * (constant_tsc and nonstop_tsc), else CLOCK_MONOTONIC in ns; bo_tick_init()
 * decides which and calibrates ticks against CLOCK_MONOTONIC (about 20 ms;
 * call it once before timing).  bo_ticks_to_ns() converts a difference
 * and subtracts the clock's own cost. */
int bo_tick_init(void);       /* 1: the TSC, 0: CLOCK_MONOTONIC */
extern int bo_tick_tsc;
uint64_t bo_ticks_slow(void); /* CLOCK_MONOTONIC ns */
static inline uint64_t bo_ticks(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (bo_tick_tsc)
        return __builtin_ia32_rdtsc();
#endif
    return bo_ticks_slow();
}
uint64_t bo_ticks_to_ns(uint64_t ticks);
/* The clock's own cost in ns (the mean of many empty pairs, subtracted by
 * bo_ticks_to_ns) and its resolution (the least step it was seen to make;
 * an operation this short cannot be timed alone: time a batch). */
double bo_tick_overhead_ns(void);
double bo_tick_resolution_ns(void);
/* Ops per timed batch for ops of about ns_op each: the fewest (a power of
 * two up to 256) that last 20 times the clock's step or cost, so that
 * neither blurs a batch's time by more than about 5%; 1 for slow ops. */
uint64_t bo_tick_batch(double ns_op);
/* How latency was sampled, for a report: "batches of the ops timed with
 * the TSC (step 10.0 ns, cost 10.5 ns subtracted)" into buf. */
const char *bo_tick_how(char *buf, size_t n);

/* ---- one run's results ------------------------------------------------- */
typedef struct bo_run bo_run;
typedef struct bo_row bo_row;

/* Starts a run: argv as given to the subcommand's main (argv[0] is the
 * subcommand's name). */
bo_run *bo_run_begin(int argc, char **argv);
/* The output files: json and csv may be NULL (not written). */
void bo_run_outputs(bo_run *r, const char *json_path, const char *csv_path);
void bo_opt_num(bo_run *r, const char *name, double v);
void bo_opt_str(bo_run *r, const char *name, const char *v);

/* A result row of `table`; labels and metrics in the order added. */
bo_row *bo_row_new(bo_run *r, const char *table);
void bo_label_str(bo_row *w, const char *key, const char *v);
void bo_label_num(bo_row *w, const char *key, double v);
void bo_metric(bo_row *w, const char *name, double v);
/* Copies the histogram's summary (count, mean, percentiles, max). */
void bo_latency(bo_row *w, const char *kind, const bo_hist *h);
/* The same from a summary (not added when s->count is 0). */
void bo_latency_pcts(bo_row *w, const char *kind, const bo_pcts *s);

/* ---- plots of the results ---------------------------------------------
 * With a plot directory (--out DIR), bo_run_end() also draws, by gnuplot,
 * for each table of the run:
 *   DIR/<subcommand>-<table>.png          (BO_PLOT_METRIC) a bar per row
 *       of the table's main metric: the first metric of its rows unless
 *       bo_plot_metric() names another; a bar is labelled by the row's
 *       labels joined by spaces (numbers as key=value, a string equal to
 *       the one before left out); rows without the metric left out; a log
 *       scale when the values are above 0 and span more than 100x;
 *   DIR/<subcommand>-<table>-latency.png  (BO_PLOT_LATENCY) when rows
 *       have latency: p50 and p99 (ns, log scale) per row and kind, the
 *       kind added to the row's label unless a label's value is the kind;
 * each from its data (.dat) and script (.gp) of the same name, kept.
 * One line per table names its PNGs ("plots: ..."), or one line says why
 * there are none ("plots skipped: gnuplot not installed ...").  A plot
 * that fails does not fail the run. */
#define BO_PLOT_METRIC 1
#define BO_PLOT_LATENCY 2
#define BO_PLOT_ALL (BO_PLOT_METRIC | BO_PLOT_LATENCY)
/* The plot directory (NULL: no plots), which plots (BO_PLOT_*), and where
 * the lines naming them go (NULL: stdout, or stderr when a result file is
 * stdout). */
void bo_run_plots(bo_run *r, const char *dir, int what, FILE *info);
/* The main metric of table's bar chart and its axis label (ylabel NULL:
 * the metric's name); metric NULL: no bar chart of that table. */
void bo_plot_metric(bo_run *r, const char *table, const char *metric,
                    const char *ylabel);

/* Writes the files asked for, draws the plots asked for, frees the run.
 * 0, or -errno of the first failed write (the message is printed to
 * stderr by the caller). */
int bo_run_end(bo_run *r);
/* Frees the run without writing anything (a run that failed before its
 * results). */
void bo_run_discard(bo_run *r);
/* The file the last bo_run_end() failed to write ("" when none). */
const char *bo_failed_path(void);

/* ---- progress ------------------------------------------------------------
 * One line per second on stderr while a long phase runs (pgbench -P
 * style): "progress: 3.0 s, 152340 ops/s, p99 41 us" — the subcommand
 * passes a callback that reads its live counters.  bu_quiet (bench_util.h,
 * set by --quiet) turns it off.  bo_progress_start() starts a thread,
 * bo_progress_stop() joins it; both are no-ops when quiet. */
/* The callback writes the rest of the line ("152340 ops/s, p99 41 us")
 * into line (n bytes); the thread prefixes "progress: <t> s, ".  A line
 * that starts with "progress:" is printed as it is; an empty one is not
 * printed.  The callback runs on the progress thread. */
typedef void (*bo_progress_fn)(void *arg, char *line, size_t n);
int bo_progress_start(bo_progress_fn fn, void *arg);
void bo_progress_stop(void);

/* ---- the shared option vocabulary ---------------------------------------
 * One name, one meaning and one unit in every subcommand:
 *   --threads N        threads            --procs N        processes
 *   --duration SECS    seconds of a timed phase; suffix s or m (90, 1.5m)
 *   --ops N            operations (per thread or process where they run
 *                      side by side); suffix k, m, g (x 2^10, 2^20, 2^30)
 *   --pool-size BYTES  the pool's cache; suffix k, m, g
 *   --page-size BYTES  the pool's page size
 *   --window N         the window: its help says bytes or slots
 *   --backend LIST     comma separated from rfp,mmap,copy,linear,kmod,auto
 *   --json FILE, --csv FILE, --output FILE (format from .json or .csv; "-"
 *                      is stdout), --out DIR (plots), --quiet (no
 *                      progress lines)
 * A subcommand lists its options in a bo_optdef table (the output ones
 * from BO_OPTS_OUTPUT), parses argv with bo_parse() and prints --help with
 * bo_usage(), so every help and every error reads alike.  A bad value is
 * one line naming the option and what it accepts, e.g.
 *   bpbench hit: --threads: '0' is outside [1, 1024]
 * and the subcommand exits with status 2. */
typedef enum bo_kind {
    BO_FLAG,  /* no value; dst is an int set to 1 */
    BO_INT,   /* integer in [min, max]; dst is an int */
    BO_U64,   /* integer in [min, max], suffix k/m/g; dst is a uint64_t */
    BO_SECS,  /* seconds in [min, max], fraction and suffix s or m allowed;
                 dst is a double */
    BO_STR,   /* any text; dst is a const char * (points into argv) */
    BO_FN,    /* parsed by fn, which prints its own error line */
    BO_OPTSTR /* BO_STR whose value may be left out (the next argument
                 starts with '-' or there is none): dst is then "" */
} bo_kind;

typedef struct bo_optdef {
    const char *name;  /* without the dashes: "threads" */
    const char *alias; /* an older name, same value and unit, or NULL */
    bo_kind kind;
    void *dst;
    double min, max;   /* BO_INT, BO_U64, BO_SECS: the accepted range */
    const char *arg;   /* the value's name in --help: "N", "BYTES" */
    const char *help;  /* what it is, its unit and its default ("\n"
                          breaks the line; long lines are wrapped) */
    /* BO_FN: 0, or -1 after printing "bpbench <cmd>: --<opt>: ..." */
    int (*fn)(void *dst, const char *cmd, const char *opt, const char *val);
    uint64_t mult;     /* BO_U64: the value is multiplied by it (0 = 1),
                          for an older option in other units */
} bo_optdef;

/* A table entry without a parsing function or a multiplier. */
#define BO_OPT(name, alias, kind, dst, min, max, arg, help)                  \
    {name, alias, kind, dst, min, max, arg, help, NULL, 0}

/* Parses argv (argv[0] is the subcommand, cmd its name) against the n
 * options of defs.  Values come as "--opt V" or "--opt=V".  Returns 0,
 * 1 for -h/--help (nothing printed), or -1 after printing one error line
 * (unknown option, missing or bad value, stray argument). */
int bo_parse(const char *cmd, const bo_optdef *defs, size_t n, int argc,
             char **argv);

/* An unsigned decimal with an optional suffix k, m, g or t (any case,
 * x 2^10 ... 2^40) into *out; -1 when s is not one or overflows. */
int bo_parse_uint(const char *s, uint64_t *out);

/* Prints lead, then the text of fmt wrapped at spaces before column 80,
 * every further line after indent; a word longer than a line is not
 * broken. */
void bo_wrapf(FILE *f, const char *lead, const char *indent,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* --help: "usage: bpbench <cmd> [options]", intro (NULL: none), the
 * options of defs, one per line with aliases as "alias of --x", then
 * -h/--help, then tail (NULL: none). */
void bo_usage(FILE *f, const char *cmd, const char *intro,
              const bo_optdef *defs, size_t n, const char *tail);

/* The output options every subcommand takes. */
typedef struct bo_outopts {
    const char *json, *csv, *output; /* FILE or NULL; "-" is stdout */
    const char *dir;                 /* --out DIR: plots; NULL: none */
    int quiet;
    /* Set before bo_outopts_apply() by a subcommand that draws plots of
     * its own in dir: the generic ones (BO_PLOT_*) it leaves out. */
    int own_plots;
} bo_outopts;

/* --out DIR with the help text help; BO_OUT_HELP for the generic plots. */
#define BO_OUT_HELP                                                         \
    "write plots of the results to DIR (created), by gnuplot when "        \
    "installed: per table <subcommand>-<table>.png (its main metric per "   \
    "row) and, with latency, <subcommand>-<table>-latency.png (p50 and "    \
    "p99 per row and kind), with their .dat and .gp files (default: no "    \
    "plots)"
#define BO_OPT_OUTDIR(o, help)                                              \
    {"out", NULL, BO_STR, &(o)->dir, 0, 0, "DIR", help, NULL, 0}

#define BO_OPTS_OUTPUT(o) BO_OPTS_OUTPUT_WITH(o, BO_OUT_HELP)
/* The same with the help text of --out of a subcommand's own plots. */
#define BO_OPTS_OUTPUT_WITH(o, outhelp)                                     \
    BO_OPT_OUTDIR(o, outhelp),                                              \
    {"json", NULL, BO_STR, &(o)->json, 0, 0, "FILE",                        \
     "write the results as JSON (schema bpbench/1) to FILE; - is stdout",   \
     NULL, 0},                                                              \
    {"csv", NULL, BO_OPTSTR, &(o)->csv, 0, 0, "FILE",                       \
     "write the results as CSV to FILE (one block per table); - is "        \
     "stdout", NULL, 0},                                                    \
    {"output", NULL, BO_STR, &(o)->output, 0, 0, "FILE",                    \
     "write the results to FILE: JSON when it ends in .json, CSV in .csv",  \
     NULL, 0},                                                              \
    {"quiet", NULL, BO_FLAG, &(o)->quiet, 0, 0, NULL,                       \
     "no progress lines on stderr", NULL, 0}

/* After bo_parse: checks --output's suffix, sets bu_quiet on --quiet
 * and gives the files and the plot directory to r (bo_run_outputs,
 * bo_run_plots with the plots but own_plots; r may be NULL).  A --csv
 * without FILE means stdout.  0, or -1 after printing an error line. */
int bo_outopts_apply(const char *cmd, bo_outopts *o, bo_run *r);

/* bo_run_end() with the error line "bpbench <cmd>: <file>: <reason>"
 * printed on failure: 0 or 1 (an exit status). */
int bo_run_finish(const char *cmd, bo_run *r);

/* A latency for a human table: "850 ns", "12.3 us", "4.10 ms", "2.00 s"
 * (3 significant digits) into buf; returns buf. */
const char *bo_fmt_ns(uint64_t ns, char *buf, size_t n);

/* The five latency cells p50, p90, p99, p99.9, max of h for a table:
 * ns figures (ns_unit: CSV rows, "NA" when h is empty) or human ones
 * (bo_fmt_ns, "n/a" when empty). */
void bo_lat_cells(const bo_hist *h, char cb[5][24], int ns_unit);

/* One CSV field: s as it is, or quoted (quotes doubled) when it holds a
 * comma, a quote or a line break. */
void bo_csv_field(FILE *f, const char *s);

#endif
