/*
 * bench_io_raw.c - fio's random-read loop on bare liburing, the floor of
 * `bpbench io --vs-raw`.
 *
 * What fio's io_uring engine does at iodepth=d with iodepth_batch_submit=1:
 * d reads in flight, wait for at least one completion, take all that are
 * there, refill each freed place with a read of its own (one submit
 * each).  Plain IORING_OP_READ of whole pages at random page-aligned
 * offsets into page-aligned buffers, file not registered, ring set up as
 * the pool's read-ahead ring: COOP_TASKRUN or no flags.  (fio 3.33 sets
 * COOP_TASKRUN too, and SINGLE_ISSUER | DEFER_TASKRUN, which a ring
 * shared by the pool's threads cannot have: this loop measures the pool's
 * own cost, the fio column the rest.)  A slice ends by waiting for every
 * read still in flight, so slices of the pool and of this loop can
 * alternate on the same disk without overlapping.
 */
#include "bench_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef BP_HAVE_URING
#include <liburing.h>

struct io_raw {
    struct io_uring ring;
    int fd, ring_ok;
    uint64_t psz, depth;
    char *bufs;
};

int io_raw_open(io_raw **out, const char *path, uint64_t psz, uint64_t depth,
                int coop, char *why, size_t whysz)
{
    io_raw *r = calloc(1, sizeof *r);
    int rc;

    *out = NULL;
    if (!r) {
        snprintf(why, whysz, "raw loop: out of memory");
        return -ENOMEM;
    }
    r->psz = psz;
    r->depth = depth;
    if ((r->fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC)) < 0) {
        rc = -errno;
        snprintf(why, whysz, "raw loop: open %s with O_DIRECT: %s", path,
                 strerror(errno));
        goto fail;
    }
    if (posix_memalign((void **)&r->bufs, 4096, (size_t)(psz * depth)) != 0) {
        r->bufs = NULL;
        rc = -ENOMEM;
        snprintf(why, whysz, "raw loop: out of memory for %llu buffers",
                 (unsigned long long)depth);
        goto fail;
    }
    memset(r->bufs, 0, (size_t)(psz * depth)); /* faulted in before timing */
    rc = -EINVAL;
    if (coop)
        rc = io_uring_queue_init((unsigned)depth, &r->ring,
                                 IORING_SETUP_COOP_TASKRUN |
                                     IORING_SETUP_TASKRUN_FLAG);
    if (rc == -EINVAL)
        rc = io_uring_queue_init((unsigned)depth, &r->ring, 0);
    if (rc < 0) {
        snprintf(why, whysz, "raw loop: io_uring_queue_init: %s",
                 strerror(-rc));
        goto fail;
    }
    r->ring_ok = 1;
    *out = r;
    return 0;
fail:
    io_raw_close(r);
    return rc;
}

/* Queue a read of a random page into buffer k and submit it alone. */
static int io_raw_submit(io_raw *r, uint64_t npages, bu_rng *rng, uint64_t k)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    int rc;

    if (!sqe)
        return -EBUSY;
    io_uring_prep_read(sqe, r->fd, r->bufs + k * r->psz, (unsigned)r->psz,
                       bu_rng_below(rng, npages) * r->psz);
    io_uring_sqe_set_data64(sqe, k);
    rc = io_uring_submit(&r->ring);
    return rc == 1 ? 0 : rc < 0 ? rc : -EIO;
}

int io_raw_slice(io_raw *r, uint64_t npages, uint64_t until_ns, bu_rng *rng,
                 uint64_t *reads, char *why, size_t whysz)
{
    uint64_t inflight = 0, done = 0;
    int rc = 0;

    why[0] = '\0';
    for (uint64_t k = 0; k < r->depth && rc == 0; k++)
        if ((rc = io_raw_submit(r, npages, rng, k)) == 0)
            inflight++;
    while (inflight > 0 && rc == 0) {
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        uint64_t freed[1024];
        int more = bu_now_ns() < until_ns;

        if ((rc = io_uring_wait_cqe(&r->ring, &cqe)) < 0) {
            if (rc == -EINTR) {
                rc = 0;
                continue;
            }
            snprintf(why, whysz, "raw loop: io_uring_wait_cqe: %s",
                     strerror(-rc));
            break;
        }
        io_uring_for_each_cqe(&r->ring, head, cqe)
        {
            if (cqe->res != (int)r->psz) {
                snprintf(why, whysz, "raw loop: read returned %d, not %llu",
                         cqe->res, (unsigned long long)r->psz);
                rc = cqe->res < 0 ? cqe->res : -EIO;
            }
            if (n < sizeof freed / sizeof freed[0])
                freed[n] = io_uring_cqe_get_data64(cqe);
            n++;
        }
        io_uring_cq_advance(&r->ring, n);
        inflight -= n;
        done += n;
        for (unsigned i = 0; more && rc == 0 && i < n; i++)
            if ((rc = io_raw_submit(r, npages, rng, freed[i])) == 0)
                inflight++;
        if (rc && !why[0])
            snprintf(why, whysz, "raw loop: submit: %s", strerror(-rc));
    }
    *reads = done;
    return rc;
}

void io_raw_close(io_raw *r)
{
    if (!r)
        return;
    if (r->ring_ok)
        io_uring_queue_exit(&r->ring);
    if (r->fd >= 0)
        close(r->fd);
    free(r->bufs);
    free(r);
}

#else /* !BP_HAVE_URING */

int io_raw_open(io_raw **out, const char *path, uint64_t psz, uint64_t depth,
                int coop, char *why, size_t whysz)
{
    (void)path, (void)psz, (void)depth, (void)coop;
    *out = NULL;
    snprintf(why, whysz, "built without liburing: no raw io_uring loop");
    return -ENOSYS;
}

int io_raw_slice(io_raw *r, uint64_t npages, uint64_t until_ns, bu_rng *rng,
                 uint64_t *reads, char *why, size_t whysz)
{
    (void)r, (void)npages, (void)until_ns, (void)rng;
    *reads = 0;
    snprintf(why, whysz, "built without liburing");
    return -ENOSYS;
}

void io_raw_close(io_raw *r)
{
    (void)r;
}

#endif
