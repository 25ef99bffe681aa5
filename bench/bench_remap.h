/*
 * bench_remap.h - shared state of `bpbench remap` (see bench_remap.c for
 * what it measures and how).
 *
 * Files: bench_remap.c (options, set-up, main), bench_remap_run.c (pools,
 * warm-up, timed phases, level checks), bench_remap_report.c (header,
 * tables, CSV, JSON rows, notes).  One rm_ctx holds everything; the main
 * thread alone uses it (the progress thread reads pg_done and pg_total).
 */
#ifndef BENCH_REMAP_H
#define BENCH_REMAP_H

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_out.h"
#include "bench_util.h"
#include "bufpool.h"

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
    int csv, quick, buffered, named_shm, quiet;
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

/* `bpbench remap --raw`, its results into run (table "raw"): exit
 * status. */
int rm_raw_main(const rm_opts *o, bo_run *run);

typedef struct rm_pool {
    bp_pool *p;
    int pi, bi; /* prefault mode and backend: indexes into rm_opts */
    int dead;
    bp_stats st; /* as opened */
} rm_pool;

enum { RM_NOTE_INFO, RM_NOTE_NA, RM_NOTE_WARN, RM_NOTE_KINDS };

typedef struct rm_ctx {
    rm_opts o;
    char dir[PATH_MAX];
    char path[PATH_MAX + 16];
    unsigned open_flags;
    uint64_t frames, data_pages;
    uint64_t nset[RM_NLEVEL]; /* distinct pages each level draws from */
    uint64_t *set;            /* nset[RM_CHIT] distinct pages; whit = prefix */
    uint64_t nops[RM_NLEVEL];
    uint64_t *seq[RM_NLEVEL]; /* reps * nops[level] */
    rm_cell cell[RM_NLEVEL][RM_MAXPF][RM_MAXBK];
    char auto_chose[RM_MAXPF][200];
    bp_backend auto_bk[RM_MAXPF];
    char **note[RM_NOTE_KINDS];
    size_t nnote[RM_NOTE_KINDS];
    int lib_info_done;
    char lib_info[400];
    int data_error;
    int together; /* pools open at once */
    FILE *info; /* stdout, or stderr with --csv */
    atomic_int pg_done, pg_total; /* timed phases, for the progress lines */
} rm_ctx;

/* Add a line under the table: RM_NOTE_INFO "note:", RM_NOTE_NA "n/a:" (why
 * a backend has no numbers), RM_NOTE_WARN "WARNING:" (also echoed at once
 * as a progress line). */
void rm_note(rm_ctx *c, int kind, const char *fmt, ...) BU_PRINTF(3, 4);

/* bench_remap_run.c: open every pool, run every level, close. */
void rm_run_all(rm_ctx *c);

/* bench_remap_report.c */
void rm_print_header(rm_ctx *c, const char *fs, double write_secs);
void rm_print_tables(rm_ctx *c);
void rm_print_csv(rm_ctx *c);
void rm_print_latency(rm_ctx *c);
void rm_print_notes(rm_ctx *c);
/* The results into r (bo_run rows of table "remap"); its plot shows
 * ns_per_op. */
void rm_record(rm_ctx *c, bo_run *r);

#endif
