/*
 * bench_io.h - shared state of `bpbench io` (see bench_io.c for what it
 * measures and how): its options and the results of a run.
 *
 * Files: bench_io.c (options, the pool's reads and writes, fio runs,
 * main), bench_io_raw.c (fio's loop on bare liburing, for --vs-raw: the
 * floor it measures the pool against, in this process, on the pool's own
 * data file), bench_io_report.c (the tables' rows, the latency table, the
 * results for bo_run, the plots).
 */
#ifndef BENCH_IO_H
#define BENCH_IO_H

#include <stddef.h>
#include <stdint.h>

#include "bench_out.h"
#include "bench_util.h"
#include "bufpool.h"

#define IO_MAXD 8
#define IO_MAXP 4
#define IO_MAXBK 5
#define IO_MAXREP 16
#define IO_MAXDEPTH 1024 /* bp_set_io_depth's limit */
#define IO_SLICE_MS 250ull /* --vs-raw's slices above depth 1 (--slice-ms) */

typedef struct io_opts {
    uint64_t data_mb, cache_bytes, seconds, reps, wpages, wdepth;
    double duration; /* --duration, whole seconds */
    int refill_pass; /* --refill pass: one bp_prefetch per pass */
    int consume_poll; /* --consume poll: BP_NOWAIT fixes, not the log */
    int vs_raw;      /* --vs-raw: the pool against bench_io_raw.c instead */
    uint64_t slice_ms; /* --slice-ms: its slices above depth 1 */
    int coop_off;    /* --coop off: rings set up without COOP_TASKRUN */
    uint64_t depths[IO_MAXD], psz[IO_MAXP];
    int nd, np, quick, nbk;
    bp_backend bk[IO_MAXBK];
    const char *dir;
    bo_outopts out;  /* out.dir: --out DIR, gnuplot PNGs and their data */
} io_opts;

/* A run's numbers.  Depth index di < nd is a read cell, di == nd the
 * write-back cell.  fio runs before and after each backend's run, so a
 * rep has nbk + 1 fio runs of a cell. */
typedef struct io_res {
    int have_fio;
    double pool[IO_MAXBK][IO_MAXP][IO_MAXD + 1][IO_MAXREP]; /* IOPS */
    double wmean[IO_MAXBK][IO_MAXP][IO_MAXREP]; /* ns per pool write */
    bu_fio_res fio[IO_MAXP][IO_MAXD + 1][IO_MAXREP * (IO_MAXBK + 1)];
    bo_hist *lat[IO_MAXBK][IO_MAXP][IO_MAXD]; /* pool reads, every rep */
} io_res;

/* bench_io_report.c */
void io_table_head(bu_table *t, bu_table *tl, int vs_raw);
/* The rows of page size index pi: the table's, the latency table's and
 * run's (table "io"). */
void io_report_rows(const io_opts *o, const io_res *r, int pi, bu_table *t,
                    bu_table *tl, bo_run *run);
/* One --vs-raw row of page psz, depth d, backend b. */
void io_report_raw_row(const io_opts *o, uint64_t psz, uint64_t d, int b,
                       const double v[4], const bo_hist *lat, bu_table *t,
                       bo_run *run);
void io_report_opts(const io_opts *o, bo_run *run);
/* The PNGs and their data in o->out.dir; one line on stdout says where, or
 * why not. */
void io_report_plots(const io_opts *o, const io_res *r);

/* bench_io_raw.c */
typedef struct io_raw io_raw;

/* Open path with O_DIRECT and a ring of depth entries with depth buffers
 * of psz bytes, set up with COOP_TASKRUN when coop is set (and the kernel
 * has it: Linux 5.19), as the pool's ring with bp_set_io_coop.  0, or
 * -errno with why filled (-ENOSYS: built without liburing). */
int io_raw_open(io_raw **out, const char *path, uint64_t psz, uint64_t depth,
                int coop, char *why, size_t whysz);

/* One slice: keep depth random reads of whole pages below npages in
 * flight, each refilled by its own submit as it completes (fio's
 * iodepth_batch_submit=1), until the clock passes until_ns; then wait for
 * the rest.  Depth 1 is one read submitted and waited for at a time.
 * *reads gets the reads completed, all of them full pages.  0, or -errno
 * with why filled. */
int io_raw_slice(io_raw *r, uint64_t npages, uint64_t until_ns, bu_rng *rng,
                 uint64_t *reads, char *why, size_t whysz);

void io_raw_close(io_raw *r);

#endif
