/*
 * bench_pools.h - the runner of `bpbench hit` and `bpbench remap`, which
 * measure pools opened side by side on one data file: the notes under
 * their tables, a pool's open, failure and close, the progress line, and
 * bpl_main, a run from the options to the results.  Their context embeds
 * a bpl_ctx, used by the main thread (the progress thread reads pg_*).
 */
#ifndef BENCH_POOLS_H
#define BENCH_POOLS_H

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_out.h"
#include "bench_util.h"
#include "bufpool.h"

/* The lines under the tables: "note:", "n/a:" (why a cell has no
 * number), "WARNING:" (also echoed at once as a progress line). */
enum { BPL_INFO, BPL_NA, BPL_WARN, BPL_NOTE_KINDS };

typedef struct bpl_ctx {
    char dir[PATH_MAX];       /* the data file's temp directory */
    char path[PATH_MAX + 16]; /* the data file */
    uint64_t frames;          /* cache frames of a pool */
    uint64_t data_pages;      /* pages of the data file */
    uint64_t page_size;
    char **note[BPL_NOTE_KINDS];
    size_t nnote[BPL_NOTE_KINDS];
    int data_error; /* a page held another page's content: exit 1 */
    int csv;        /* --csv alone: CSV rows on stdout instead of tables */
    int quiet;
    FILE *info;     /* stdout, or stderr with csv */
    atomic_int pg_done, pg_total; /* phases run, for the progress lines */
} bpl_ctx;

void bpl_note(bpl_ctx *x, int kind, const char *fmt, ...) BU_PRINTF(3, 4);

/* The notes ("# " first with csv), then checks when there is no WARNING. */
void bpl_print_notes(const bpl_ctx *x, const char *checks);

/* bu_pool_open(cfg) into *out, then bu_stats into *st.  named: the cache
 * in a unique /dev/shm name.  buffered_retry: a data file that refuses
 * O_DIRECT is opened with BP_BUFFERED_IO (added to cfg->open_flags).  0,
 * or the failing code with why (*out set when only bu_stats failed). */
int bpl_open(struct bu_pool_cfg *cfg, int named, int buffered_retry,
             bp_pool **out, bp_stats *st, char *why, size_t whysz);

/* After bpl_open of backend want (who names the pool): auto's choice into
 * chose, or a WARNING when the pool runs another backend. */
void bpl_backend_note(bpl_ctx *x, const char *who, bp_backend want,
                      const bp_stats *st, char *chose, size_t chosesz);

/* Pool who failed at what: an "n/a:" note and a progress line with why;
 * *p closed when open, and NULL. */
void bpl_fail(bpl_ctx *x, bp_pool **p, const char *who, const char *what,
              const char *why);

/* bp__test_check and bp_close of *p (then NULL), a WARNING when either
 * fails. */
void bpl_close(bpl_ctx *x, bp_pool **p, const char *who);

/* bo_progress_fn over a bpl_ctx: "D of T phases". */
void bpl_progress(void *arg, char *line, size_t n);

/* Append item to the comma separated list in buf. */
void bpl_join(char *buf, size_t sz, const char *item);

/* perm[0..n-1]: a permutation of 0..n-1 whose first k entries are a
 * uniform sample (a partial Fisher-Yates shuffle). */
void bpl_sample(uint64_t *perm, uint64_t n, uint64_t k, bu_rng *r);

/* The steps of a subcommand, each on its context c. */
typedef struct bpl_cmd {
    const char *name; /* "hit" */
    /* 0, 1 after --help (printed), -1 on a usage error (reported) */
    int (*parse)(void *c, int argc, char **argv);
    /* NULL, or a run without the data file: its exit status (-1: none) */
    int (*alt)(void *c, bo_run *r);
    /* fills frames, data_pages, page_size; -1 after a usage error */
    int (*setup)(void *c);
    const char *tmpfs_why; /* WARNING when the data file is on tmpfs */
    int size_mib; /* the progress line gives the file in MiB, not pages */
    void (*header)(void *c, const char *fs, double write_secs);
    void (*run)(void *c);
    void (*csv)(void *c);    /* the rows of --csv alone */
    void (*tables)(void *c); /* or the tables */
    void (*tail)(void *c);   /* then the lines under them */
    void (*record)(void *c, bo_run *r);
} bpl_cmd;

/* `bpbench <cmd->name>` on c, whose options hold out and *dir (--dir):
 * options, BUFPOOL_BACKEND unset, set-up, the data file under *dir,
 * header, run, output, results; the notes of x freed.  The exit status:
 * 0, 1 on a failure or a data error, 2 on a usage error. */
int bpl_main(const bpl_cmd *cmd, void *c, bpl_ctx *x, bo_outopts *out,
             const char *const *dir, int argc, char **argv);

#endif
