/*
 * bp_io_uring.c - the io_uring I/O engine for the synchronous page I/O of
 * fixes, single write-backs and fdatasync: one request per call, waited
 * for, on the calling thread's lane (ring).
 *
 * Owns: p->io_priv while this engine runs (BP__URING_LANES lanes, each a
 * ring, its mutex, whether p->data_fd is registered as fixed file 0 and
 * the region (bp_uring_reg.c) as buffers, the tag of its request in
 * flight).  Lane 0 is set up (and the kernel probed) at open, and
 * registers the region once the window is open; the others when a thread
 * mapped to them first does I/O (a lane that cannot be set up sends its
 * threads to lane 0), cloning lane 0's buffers.  After them as many early
 * lanes (bp_io_early.c: a fix miss's read submitted before the miss takes
 * its frame, landing in the lane's page of p->io_land), set up on first
 * use and never registering the region.  Chosen by
 * bp__io_select (bp_io.c), which falls back to the sync engine when
 * bp__io_uring_init refuses.  Batches and read-ahead have a ring of their
 * own (bp_aio.c).
 *
 * Each call is synchronous, with the same contract as bp_io_sync.c: read and
 * write return the byte count of cqe->res or a negative errno (-EINTR and
 * -EAGAIN from the kernel are passed up: bp__io_read_page/_write_page
 * retry), sync returns 0 or a negative errno.
 *
 * Life of one call (all of it under ur_lock):
 *
 *   get sqe -> prep (fixed file 0 if registered) -> tag
 *     -> submit_and_wait(1)   (-EINTR, -EAGAIN: again, up to
 *                              BP__URING_RETRIES times; only unconsumed
 *                              sqes go)
 *     -> wait_cqe until the cqe carrying the tag (-EINTR, -EAGAIN: again,
 *        as often) -> res -> cqe_seen
 *     -> staged read (bp_iomem.c, io_stage bit 1): it landed in the lane's
 *        page of p->io_land; the bytes that arrived are copied to the
 *        caller's buffer (the frame) before the lock is dropped
 *
 * Its system calls go through the fault table (bp_sys.h), completions
 * included: a test can replace a cqe's res.
 *
 * Invariants:
 *  - ur_lock of a fix-miss lane is a leaf: taken by any thread, with or
 *    without pool locks, and nothing is taken under it.  Several threads
 *    call read/write at once (pages are read outside the pool's locks);
 *    they queue on it.
 *  - ur_lock of an early lane is only ever try-locked, never waited for,
 *    so its holder may keep it from the early read's submission to its
 *    completion while it takes pool locks and sleeps on latches.
 *  - At most one request of ours is in flight, and it is reaped before
 *    ur_lock is released, so the kernel never touches a caller's buffer
 *    after the call returns.  A completion whose user_data is not the
 *    current tag (a NOP left by a failed submit, below) is discarded.
 *  - An sqe that could not be submitted (hard submit error) is turned into
 *    a NOP in place, since it is already in the SQ ring and would otherwise
 *    be submitted later against a buffer the caller has reused.
 *  - If a request is in flight and its completion cannot be waited for
 *    (a hard io_uring_wait_cqe error, never seen), the engine is broken:
 *    every later call returns that error and no new request is queued.
 *  - liburing returns -errno and leaves errno alone; so do we.
 */
#ifdef BP_HAVE_URING

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "io/io_impl.h"
#include "platform/bp_sys.h"

#define BP__URING_DEPTH 64u
#define BP__URING_NOP_TAG 0u /* tags of real requests start at 1 */
#define BP__URING_RETRIES 64 /* EINTR / EAGAIN in a row, then an error */
#define BP__URING_ALL (2 * BP__URING_LANES) /* fix-miss and early lanes */

/* One lane: a ring and its mutex.  Threads are spread over the lanes by
 * their stats shard, so fix misses of different threads read in parallel
 * (one shared ring held one request of the whole pool at a time). */
struct bp__uring {
    struct io_uring ur_ring;
    pthread_mutex_t ur_lock;
    int ur_ready;     /* 1: ring set up; 0: not yet; -1: set-up failed */
    int ur_fixed;     /* p->data_fd registered as fixed file 0 */
    int ur_bufs;      /* 1: the region registered as buffers 0..n-1
                         (bp_uring_reg.c); 0: not (yet); -1: refused */
    int ur_broken;    /* 0, or the negative errno every call returns */
    uint64_t ur_tag;  /* user_data of the last request (never NOP_TAG) */
} __attribute__((aligned(64)));

/* BP__URING_LANES (io.h): lane 0 at open (probed), the others on
 * first use */

static const char *bp__uring_hint(int err)
{
    switch (err) {
    case EPERM:
        return " (io_uring_disabled or seccomp?)";
    case ENOSYS:
        return " (no io_uring in kernel or seccomp)";
    case ENOMEM:
        return " (RLIMIT_MEMLOCK?)";
    default:
        return "";
    }
}

/* Submit sqe (tagged tag), waiting for one completion when wait is set.
 * 0, or a negative errno when submission failed: nothing of ours is in
 * flight then.  ur_lock held. */
static int bp__uring_submit_locked(struct bp__uring *u,
                                   struct io_uring_sqe *sqe, unsigned wait)
{
    unsigned again = 0;
    int rc;

    for (;;) {
        rc = wait ? bp__sys_uring_submit_and_wait(&u->ur_ring, 1)
                  : bp__sys_uring_submit(&u->ur_ring);
        if (rc >= 0)
            return 0;
        if ((rc == -EINTR || rc == -EAGAIN) && ++again < BP__URING_RETRIES)
            continue; /* the sqe is still in the ring: submit it again */
        /* Not consumed by the kernel: neutralise it in place so a later
         * submit runs a NOP instead of I/O into a stale buffer. */
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, BP__URING_NOP_TAG);
        return rc;
    }
}

/* Wait for the completion of our request tag and put its res in *res.  0,
 * or a negative errno when the engine broke.  ur_lock held. */
static int bp__uring_reap_locked(struct bp__uring *u, uint64_t tag, int *res)
{
    struct io_uring_cqe *cqe;
    unsigned again = 0;
    int rc;

    for (;;) {
        rc = bp__sys_uring_wait_cqe(&u->ur_ring, &cqe);
        if ((rc == -EINTR || rc == -EAGAIN) && ++again < BP__URING_RETRIES)
            continue;
        if (rc < 0) {
            u->ur_broken = rc; /* our request may still be in flight */
            return rc;
        }
        if (io_uring_cqe_get_data64(cqe) != tag) {
            io_uring_cqe_seen(&u->ur_ring, cqe); /* a leftover NOP */
            continue;
        }
        *res = cqe->res;
        io_uring_cqe_seen(&u->ur_ring, cqe);
        return 0;
    }
}

/* Register the region on lane u (its mutex held, ring ready), once: lanes
 * other than 0 clone lane 0's table (no second pin, nothing counted
 * against RLIMIT_MEMLOCK again), or register their own when the kernel
 * cannot clone (before 6.12).  Refused: plain reads, as before. */
static void bp__uring_lane_reg(bp_pool *p, struct bp__uring *u)
{
    struct bp__uring *lane0 = p->io_priv;

    if (u->ur_bufs != 0 || !p->io_reg_len)
        return;
    if (lane0 && u != lane0 && lane0->ur_bufs > 0 &&
        bp__reg_clone(&u->ur_ring, lane0->ur_ring.ring_fd) == 0)
        u->ur_bufs = 1;
    else
        u->ur_bufs = bp__reg_register(p, &u->ur_ring, NULL, 0) == 0 ? 1 : -1;
    if ((!lane0 || u == lane0) && u->ur_bufs > 0) /* lane 0: for bp_stats */
        __atomic_store_n(&p->st_uring_registered, 4u, __ATOMIC_RELAXED);
}

/* At open, once the region is known: every lane set up by then (lane 0
 * first, for the others to clone); lanes set up later register in
 * bp__uring_lane_init.  One lane lock at a time (ur_lock is a leaf). */
void bp__io_uring_reg_region(bp_pool *p)
{
    struct bp__uring *lanes = p->io_priv;

    if (!lanes) /* io_priv is the lanes while io_uring runs */
        return;
    for (int i = 0; i < BP__URING_LANES; i++) { /* early lanes: never */
        pthread_mutex_lock(&lanes[i].ur_lock);
        if (lanes[i].ur_ready > 0)
            bp__uring_lane_reg(p, &lanes[i]);
        pthread_mutex_unlock(&lanes[i].ur_lock);
    }
}

/* 1 if u is an early lane (lane 0 is set up before io_priv is set). */
static int bp__uring_is_early(const bp_pool *p, const struct bp__uring *u)
{
    const struct bp__uring *lanes = p->io_priv;

    return lanes && u >= lanes + BP__URING_LANES;
}

/* Set up lane u's ring (its mutex held).  0 or a negative errno. */
static int bp__uring_lane_init(bp_pool *p, struct bp__uring *u)
{
    int rc = bp__sys_uring_queue_init(BP__URING_DEPTH, &u->ur_ring, 0);

    if (rc < 0)
        return rc;
    /* Not fatal: without it each request looks the fd up again. */
    u->ur_fixed =
        bp__sys_uring_register_files(&u->ur_ring, &p->data_fd, 1) == 0;
    u->ur_ready = 1;
    if (!bp__uring_is_early(p, u)) /* early reads land in the landing area */
        bp__uring_lane_reg(p, u); /* at open: no region yet (reg_region) */
    return 0;
}

/* This thread's lane, locked and ready (lane 0 when its own could not be
 * set up). */
static struct bp__uring *bp__uring_lane(bp_pool *p)
{
    struct bp__uring *lanes = p->io_priv, *u;
    int sh = bp__tls_shard >= 0 ? bp__tls_shard : bp__shard_assign();

    u = &lanes[sh % BP__URING_LANES];
    pthread_mutex_lock(&u->ur_lock);
    if (u->ur_ready == 0 && bp__uring_lane_init(p, u) != 0)
        u->ur_ready = -1;
    if (u->ur_ready < 0) {
        pthread_mutex_unlock(&u->ur_lock);
        u = &lanes[0];
        pthread_mutex_lock(&u->ur_lock);
    }
    return u;
}

/* Lane u's page of the landing area (staged reads). */
static char *bp__uring_land(bp_pool *p, const struct bp__uring *u)
{
    return p->io_land + (size_t)(u - (struct bp__uring *)p->io_priv) *
                            p->po_page_size;
}

/* A request of opcode op (READ, WRITE or FSYNC) on the data file queued
 * on lane u (ur_lock held): READ_FIXED / WRITE_FIXED when buf lies in the
 * registered region; its tag is u->ur_tag.  NULL (*rc set) when the lane
 * is broken or its ring full. */
static struct io_uring_sqe *bp__uring_prep(bp_pool *p, struct bp__uring *u,
                                           int op, void *buf, size_t len,
                                           uint64_t off, int *rc)
{
    struct io_uring_sqe *sqe;
    int fd, k;

    if (u->ur_broken) {
        *rc = u->ur_broken;
        return NULL;
    }
    sqe = io_uring_get_sqe(&u->ur_ring);
    if (!sqe) {
        /* Only leftover NOPs can fill the ring: push them out and retry. */
        (void)bp__sys_uring_submit(&u->ur_ring);
        if (!(sqe = io_uring_get_sqe(&u->ur_ring))) {
            *rc = -EBUSY;
            return NULL;
        }
    }
    fd = u->ur_fixed ? 0 : p->data_fd;
    k = op != IORING_OP_FSYNC && u->ur_bufs > 0 ? bp__reg_index(p, buf, len)
                                                : -1;
    switch (op) {
    case IORING_OP_READ:
        if (k >= 0)
            io_uring_prep_read_fixed(sqe, fd, buf, (unsigned)len, off, k);
        else
            io_uring_prep_read(sqe, fd, buf, (unsigned)len, off);
        break;
    case IORING_OP_WRITE:
        if (k >= 0)
            io_uring_prep_write_fixed(sqe, fd, buf, (unsigned)len, off, k);
        else
            io_uring_prep_write(sqe, fd, buf, (unsigned)len, off);
        break;
    default:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        break;
    }
    if (u->ur_fixed)
        sqe->flags |= IOSQE_FIXED_FILE;
    if (++u->ur_tag == BP__URING_NOP_TAG)
        ++u->ur_tag;
    io_uring_sqe_set_data64(sqe, u->ur_tag);
    return sqe;
}

/* One request of opcode op on the data file, waited for.  Returns
 * cqe->res or a negative errno. */
static int bp__uring_do(bp_pool *p, int op, void *buf, size_t len,
                        uint64_t off)
{
    struct bp__uring *u = bp__uring_lane(p);
    struct io_uring_sqe *sqe;
    char *dst = buf; /* a staged read lands in the lane's landing page */
    int res = 0, rc = 0;

    if (op == IORING_OP_READ && (p->io_stage & BP__STAGE_MISS) &&
        len <= p->po_page_size)
        buf = bp__uring_land(p, u);
    if (!(sqe = bp__uring_prep(p, u, op, buf, len, off, &rc)))
        goto out;
    rc = bp__uring_submit_locked(u, sqe, 1);
    if (rc == 0)
        rc = bp__uring_reap_locked(u, u->ur_tag, &res);
    if (rc == 0)
        rc = bp__sys_uring_res(op == IORING_OP_READ    ? BP__SYS_URING_READ
                               : op == IORING_OP_WRITE ? BP__SYS_URING_WRITE
                                                       : BP__SYS_URING_FSYNC,
                               res, p->dio_align);
    if (rc > 0 && buf != dst)
        memcpy(dst, buf, (size_t)rc); /* staged: into the frame */
out:
    pthread_mutex_unlock(&u->ur_lock);
    return rc;
}

/* Early reads (bp_io_early.c): on the early lanes, BP__URING_LANES +
 * shard % BP__URING_LANES, each with its page of the landing area.  An
 * early lane is only ever try-locked (busy: the miss reads as always), so
 * its holder may keep it while it takes pool locks and sleeps on latches:
 * no thread ever waits for it, so it closes no cycle. */
static int bp__uring_early_start(bp_pool *p, uint64_t off, size_t len,
                                 struct bp__early *e)
{
    struct bp__uring *u = p->io_priv;
    int sh = bp__tls_shard >= 0 ? bp__tls_shard : bp__shard_assign(), rc;
    struct io_uring_sqe *sqe;

    u += BP__URING_LANES + sh % BP__URING_LANES;
    if (pthread_mutex_trylock(&u->ur_lock) != 0)
        return -EBUSY;
    if (u->ur_ready == 0 && bp__uring_lane_init(p, u) != 0)
        u->ur_ready = -1;
    rc = u->ur_ready < 0 ? -EAGAIN : 0;
    if (rc == 0 && (sqe = bp__uring_prep(p, u, IORING_OP_READ,
                                         bp__uring_land(p, u), len, off,
                                         &rc)) != NULL)
        rc = bp__uring_submit_locked(u, sqe, 0);
    if (rc) {
        pthread_mutex_unlock(&u->ur_lock);
        return rc;
    }
    e->lane = u;
    e->tag = u->ur_tag;
    return 0;
}

static ssize_t bp__uring_early_take(bp_pool *p, struct bp__early *e,
                                    void *dst)
{
    struct bp__uring *u = e->lane;
    int res = 0, rc = bp__uring_reap_locked(u, e->tag, &res);

    if (rc == 0)
        rc = bp__sys_uring_res(BP__SYS_URING_READ, res, p->dio_align);
    if (rc > 0 && dst)
        memcpy(dst, bp__uring_land(p, u), (size_t)rc);
    pthread_mutex_unlock(&u->ur_lock);
    return rc;
}

static ssize_t bp__uring_read(bp_pool *p, void *buf, size_t len, uint64_t off)
{
    return bp__uring_do(p, IORING_OP_READ, buf, len, off);
}

static ssize_t bp__uring_write(bp_pool *p, const void *buf, size_t len,
                               uint64_t off)
{
    return bp__uring_do(p, IORING_OP_WRITE, (void *)buf, len, off);
}

static int bp__uring_sync(bp_pool *p)
{
    int rc = bp__uring_do(p, IORING_OP_FSYNC, NULL, 0, 0);

    return rc > 0 ? 0 : rc;
}

const struct bp__io_ops bp__io_uring = {
    .name = "io_uring",
    .read = bp__uring_read,
    .write = bp__uring_write,
    .sync = bp__uring_sync,
    .early_start = bp__uring_early_start,
    .early_take = bp__uring_early_take,
};

/* 0 if the kernel has every opcode we use, else -EOPNOTSUPP with the
 * reason written. */
static int bp__uring_probe(bp_pool *p, struct io_uring *ring)
{
    static const struct {
        int op;
        const char *name;
    } ops[] = {{IORING_OP_READ, "IORING_OP_READ"},
               {IORING_OP_WRITE, "IORING_OP_WRITE"},
               {IORING_OP_FSYNC, "IORING_OP_FSYNC"}};
    struct io_uring_probe *probe = bp__sys_uring_get_probe_ring(ring);
    size_t i;

    if (!probe) {
        snprintf(p->io_reason, sizeof p->io_reason,
                 "io_uring_get_probe_ring failed (kernel before 5.6?)");
        return -EOPNOTSUPP;
    }
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (!io_uring_opcode_supported(probe, ops[i].op)) {
            snprintf(p->io_reason, sizeof p->io_reason,
                     "io_uring: kernel lacks %s", ops[i].name);
            io_uring_free_probe(probe);
            return -EOPNOTSUPP;
        }
    }
    io_uring_free_probe(probe);
    return 0;
}

static void bp__uring_free(bp_pool *p, struct bp__uring *lanes)
{
    for (int i = 0; i < BP__URING_ALL; i++) {
        /* Nothing is in flight: every call reaps its request before
         * returning (a broken lane may still own one; exiting the ring
         * cancels it); exiting also drops the registered file. */
        if (lanes[i].ur_ready > 0)
            io_uring_queue_exit(&lanes[i].ur_ring);
        if (!p->forked) /* bp_fork.c: maybe held by a parent's thread */
            pthread_mutex_destroy(&lanes[i].ur_lock);
    }
    bp__free(p, lanes, BP__URING_ALL * sizeof *lanes);
}

int bp__io_uring_init(bp_pool *p)
{
    struct bp__uring *lanes;
    int rc;

    /* the allocator hook promises no alignment beyond malloc's: the lanes
     * are aligned for speed only, not for correctness */
    lanes = bp__alloc(p, BP__URING_ALL * sizeof *lanes);
    if (!lanes) {
        snprintf(p->io_reason, sizeof p->io_reason,
                 "io_uring: out of memory for the engine state");
        return -ENOMEM;
    }
    memset(lanes, 0, BP__URING_ALL * sizeof *lanes);
    for (int i = 0; i < BP__URING_ALL; i++)
        pthread_mutex_init(&lanes[i].ur_lock, NULL);
    rc = bp__uring_lane_init(p, &lanes[0]);
    if (rc < 0) {
        snprintf(p->io_reason, sizeof p->io_reason,
                 "io_uring_queue_init: %s%s", strerror(-rc),
                 bp__uring_hint(-rc));
        bp__uring_free(p, lanes);
        return rc;
    }
    if ((rc = bp__uring_probe(p, &lanes[0].ur_ring)) != 0) {
        bp__uring_free(p, lanes);
        return rc;
    }
    p->io_priv = lanes;
    p->io = &bp__io_uring;
    snprintf(p->io_reason, sizeof p->io_reason,
             "io_uring available (%d lanes of depth %u, %s)", BP__URING_LANES,
             BP__URING_DEPTH,
             lanes[0].ur_fixed ? "registered file" : "file not registered");
    return 0;
}

void bp__io_uring_fini(bp_pool *p)
{
    if (!p->io_priv)
        return;
    bp__uring_free(p, p->io_priv);
    p->io_priv = NULL;
    __atomic_store_n(&p->st_uring_registered, 0u, __ATOMIC_RELAXED);
}

#endif /* BP_HAVE_URING */
