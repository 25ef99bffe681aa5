/*
 * bench_remap.h - shared state of `bpbench remap` (see bench_remap.c for
 * what it measures and how).
 *
 * Files: bench_remap.c (options, set-up, main), bench_remap_run.c (pools,
 * warm-up, timed phases, level checks), bench_remap_report.c (header,
 * tables, CSV, JSON rows, notes), on the runner of bench_pools.h.  One
 * rm_ctx holds everything; the main thread alone uses it.
 */
#ifndef BENCH_REMAP_H
#define BENCH_REMAP_H

#include "bench_pools.h"

enum { RM_WHIT, RM_CHIT, RM_MISS, RM_NLEVEL };
#define RM_MAXBK 6
#define RM_MAXPF 3

extern const char *const rm_level_name[RM_NLEVEL]; /* "whit", ... */
extern const char *const rm_pf_name[RM_MAXPF];      /* "populate", ... */

typedef struct rm_opts {
    uint64_t page_size, cache_mb, window_slots, data_mb;
    uint64_t cache_bytes; /* --pool-size (cache_mb = cache_bytes >> 20) */
    uint64_t whit_pages, whit_ops, ops, miss_ops, reps, seed;
    bp_backend bk[RM_MAXBK];
    int nbk;
    bp_prefault pf[RM_MAXPF];
    int npf;
    int level_on[RM_NLEVEL];
    int quick, buffered, named_shm;
    int raw;        /* --raw: the mechanisms alone (bench_remap_raw.c) */
    uint64_t batch; /* --raw: kmod ops per ioctl (64) */
    const char *dir;
    bo_outopts out; /* --json, --csv FILE, --output, --quiet, --out */
} rm_opts;

/* Result of one (level, prefault, backend). */
typedef struct rm_cell {
    double *ns; /* ns/op of each timed rep */
    uint64_t nrep;
    int na; /* no number: the backend could not run this */
    uint64_t fixes, wh, wm, ch, cm, bad;
    bo_hist *lat;       /* ns per op of the latency rep */
    uint64_t lat_batch; /* ops per timed batch in it */
} rm_cell;

/* `bpbench remap --raw` on an rm_ctx, its results into run (table "raw"):
 * exit status; -1 without --raw. */
int rm_raw_main(void *c, bo_run *run);

typedef struct rm_pool {
    bp_pool *p;
    int pi, bi; /* prefault mode and backend: indexes into rm_opts */
    int dead;
    bp_stats st; /* as opened */
} rm_pool;

typedef struct rm_ctx {
    bpl_ctx sh; /* data file, notes, output stream, progress */
    rm_opts o;
    unsigned open_flags;
    uint64_t nset[RM_NLEVEL]; /* distinct pages each level draws from */
    uint64_t *set;            /* nset[RM_CHIT] distinct pages; whit = prefix */
    uint64_t nops[RM_NLEVEL];
    uint64_t *seq[RM_NLEVEL]; /* reps * nops[level] */
    rm_cell cell[RM_NLEVEL][RM_MAXPF][RM_MAXBK];
    char auto_chose[RM_MAXPF][200];
    bp_backend auto_bk[RM_MAXPF];
    int lib_info_done;
    char lib_info[400];
    int together; /* pools open at once */
} rm_ctx;

/* A line under the tables (bpl_note). */
#define rm_note(c, ...) bpl_note(&(c)->sh, __VA_ARGS__)

/* The bpl_cmd steps, each on an rm_ctx.  bench_remap_run.c: open every
 * pool, run every level, close. */
void rm_run_all(void *c);

/* bench_remap_report.c: the header; the ns, bp_stats and latency tables,
 * or the CSV rows; then the notes. */
void rm_print_header(void *c, const char *fs, double write_secs);
void rm_print_tables(void *c);
void rm_print_csv(void *c);
void rm_print_notes(void *c);
/* The results into r (bo_run rows of table "remap"); its plot shows
 * ns_per_op. */
void rm_record(void *c, bo_run *r);

#endif
