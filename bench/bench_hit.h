/*
 * bench_hit.h - shared state of `bpbench hit` (see bench_hit.c for what it
 * measures and how).
 *
 * Files: bench_hit.c (options, set-up, main), bench_hit_run.c (pools,
 * threads, warm-up, timed phases, checks), bench_hit_report.c (header,
 * tables, CSV, JSON rows, target lines, notes), on the runner of
 * bench_pools.h.  One ht_ctx holds everything; the main thread alone uses
 * it (the worker threads of a timed phase see only their ht_phase and
 * ht_worker, in bench_hit_run.c).
 */
#ifndef BENCH_HIT_H
#define BENCH_HIT_H

#include "bench_pools.h"

#define HT_MAXBK 6
#define HT_MAXTC 3              /* thread counts: 1, 2, N */
#define HT_SEQ_MAX (1u << 18)   /* sequence entries per thread, then wrap */
#define HT_OPT_MAX_RETRY 100000 /* one optimistic read retried this often:
                                   give up (a bug, not contention) */

enum { HT_FIX, HT_OPT, HT_BARE, HT_NMODE };
extern const char *const ht_mode_name[HT_NMODE]; /* "fix", ... */

typedef struct ht_opts {
    uint64_t threads, ops, reps, pages, window_slots, page_size, seed;
    uint64_t lat_ops; /* ops per thread of a cell's latency phase */
    bp_backend bk[HT_MAXBK];
    int nbk;
    int quick;
    const char *dir;
    bo_outopts out; /* --json, --csv FILE, --output, --quiet, --out */
} ht_opts;

/* One page of the hot set: what to fix and which word to read. */
typedef struct ht_hot {
    uint64_t pgno;
    uint64_t stamp; /* the word expected at off */
    uint64_t off;   /* byte offset of the word in the page */
} ht_hot;

/* One (backend, mode, thread count): the reps' wall times and the bp_stats
 * deltas of the timed phases, summed. */
typedef struct ht_cell {
    double *wall; /* ns */
    uint64_t nrep;
    int na;
    uint64_t fixes, wm, opt_begins, opt_failures, latch_waits;
    uint64_t bad, retries;
    uint64_t ticks, steal; /* bu_cpu_ticks deltas around the phases */
    bo_hist *lat;          /* per-op ns of the latency phase, all threads */
    uint64_t lat_batch;    /* ops per timed batch in it */
} ht_cell;

typedef struct ht_pool {
    bp_pool *p;
    int dead;
    bp_stats st;               /* as opened */
    const unsigned char **ptr; /* address of each hot page (bare deref) */
    unsigned open_flags;
} ht_pool;

typedef struct ht_ctx {
    bpl_ctx sh; /* data file, notes, output stream, progress */
    ht_opts o;
    uint64_t nhot;
    ht_hot *hot;
    uint32_t **seq; /* per thread, seqlen indexes into hot */
    uint64_t seqlen;
    int tc[HT_MAXTC], ntc, ncpu;
    ht_pool pool[HT_MAXBK];
    ht_cell cell[HT_MAXBK][HT_NMODE][HT_MAXTC];
    char auto_chose[220];
    char fence[64]; /* bp_stats.reader_fence of the pools */
} ht_ctx;

/* A line under the tables (bpl_note). */
#define ht_note(c, ...) bpl_note(&(c)->sh, __VA_ARGS__)

/* The bpl_cmd steps, each on an ht_ctx.  bench_hit_run.c: open every pool,
 * warm them, run the reps round-robin, check, close. */
void ht_run_all(void *c);

/* bench_hit_report.c: the header; the window-hit and latency tables, or
 * the CSV rows; then the target lines and the notes. */
void ht_print_header(void *c, const char *fs, double write_secs);
void ht_print_tables(void *c);
void ht_print_csv(void *c);
void ht_print_tail(void *c);
/* The results into r (bo_run rows of table "hit"). */
void ht_record(void *c, bo_run *r);

#endif
