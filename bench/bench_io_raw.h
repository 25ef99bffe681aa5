/*
 * bench_io_raw.h - the floor `bpbench io --vs-raw` measures the pool
 * against: fio's random-read loop written directly on liburing, in this
 * process, on the pool's own data file (bench_io_raw.c).
 */
#ifndef BENCH_IO_RAW_H
#define BENCH_IO_RAW_H

#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"

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
