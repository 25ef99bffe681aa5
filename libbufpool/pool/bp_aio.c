/*
 * bp_aio.c - asynchronous data-file I/O: prefetch (read-ahead) and
 * batched write-back.
 *
 * Owns: p->aio (struct bp__aio), created at the first prefetch or batched
 * flush and destroyed at close: a pool of `depth` requests, each with a
 * page-sized bounce buffer; with io_uring its own ring (the data file and
 * the buffers registered when the kernel and RLIMIT_MEMLOCK allow), and a
 * completion thread ("reaper"); on the sync engine a worker thread that
 * does the reads one at a time.
 *
 * Where a read lands: in a window slot.  A frame is reachable only through
 * a mapping, and the cache may be far larger than the address space, so a
 * read needs a slot that shows its frame; the page is about to be fixed,
 * which needs that very slot, so read-ahead reserves it at once, as a fix
 * miss would (bp__cache_map_begin / bp__window_map_slot, BP__GET_AHEAD:
 * the slot's old page released, a dirty copy-backend slot copied home, the
 * slot published for the page), and the O_DIRECT read (plain READ) goes
 * to the slot's address:
 *   - rfp, mmap: the slot is remapped to the frame, so the read lands in
 *     the shm frame itself: no copy, and the fix is a window hit;
 *   - copy: the slot is private memory, filled by the read; on completion
 *     it is marked BP__SL_HOME, and one pwrite copies it into the frame
 *     when the slot lets the page go (bp_backend_copy.c); the fix is a
 *     window hit, no copy in.  Staged (io_uring, io_stage bit 0, as on a
 *     hypervisor by default): the read lands in its request's buffer and
 *     is sent before the slot's old page is copied home, which then runs
 *     while the disk works (bp__aio_slot_ready; with read-ahead in
 *     flight, a refill's copy home used to delay its read); the
 *     completion waits for that copy (pend) and copies the buffer into
 *     the slot with memcpy;
 *   - linear: every frame is mapped for good; the read goes to the frame
 *     (no slot is reserved: a fix maps it for free), or, staged
 *     (bp_iomem.c, io_stage bit 0), to the request's buffer, and the
 *     completion copies it into the frame with memcpy.
 * Request buffers are huge-page backed where THP allows (bp_iomem.c).
 * Bounce buffers remain for what cannot have a slot: reads beyond a
 * quarter of the window in flight at once (bp__aio_slot_cap: fixes of
 * other threads must still find slots to replace), or when every slot's
 * frame is latched or BUSY (read-ahead never evicts those, nor fails for
 * want of a slot: the page goes through a bounce buffer instead).  Such a
 * read lands in its request's buffer (registered: READ_FIXED), and its
 * completion copies it into the frame with one pwrite on the shm file.  A
 * batched write copies each frame into a buffer (pread on the shm file;
 * linear: straight from the frame), stamps the trailer there, and submits
 * all the writes before waiting once.
 *
 * Prefetch life of a page (the frame is BUSY throughout, so a bp_fix of
 * the page finds it in the window, or in the page table, and waits on the
 * latch word, which is the "wait for the read in flight instead of issuing
 * a second one"; BP_NOWAIT answers BP_EAGAIN):
 *
 *   bp_prefetch (a_prep_lock): request -> map_begin(AHEAD): frame BUSY in
 *     the page table, slot published -> map_slot: old page released,
 *     slot remapped (rfp/mmap) -> READ into the slot submitted
 *     [prefetch_started, prefetch_direct]    (caller returns)
 *       (no slot: cache_get: frame BUSY -> READ into the bounce buffer)
 *       (copy, staged: READ into the request's buffer submitted ->
 *        map_slot: the old page copied home -> pend 1)
 *   reaper (or a thread in bp_io_wait): cqe -> (staged copy: wait for
 *     pend 1) full page and checksum ok -> staged: memcpy into the slot
 *     or linear's frame; bounce only: pwrite into the frame
 *     (copy: slot BP__SL_HOME)
 *     -> BUSY released (waiters woken; the fix is a window hit)
 *                                                [prefetch_done]
 *     otherwise -> slot evicted as by a failed miss (bp__window_map_undo),
 *     frame discarded, BUSY released             [prefetch_failed]
 *
 * Who takes completions off the ring (io_uring): whoever holds a_reap_lock.
 * The kernel posts a read's completion in the thread that submitted it;
 * if that thread then had to wait for the reaper to wake, handle it and
 * wake it in turn, every completion would cross two threads.  So a thread
 * in bp_io_wait takes completions itself, sleeping in the ring's own wait
 * (fio's pattern), and handles one per call (BP__AIO_WAIT_REAP; with the
 * copy backend that includes the copy into the frame), so that its caller
 * can start the next read before the rest of a burst is handled; the next
 * call finds the rest waiting in the ring.  The reaper steps aside (sleeps
 * a millisecond instead of waking on each completion) while such waiters
 * keep coming.  The reaper takes the rest: completions waited for by plain
 * fixes (on the frame's latch), by write batches and by close, at most a
 * millisecond late while waiters were reaping just before.
 *
 * Completion order (bp_io_seq, bp_io_wait): a_started counts the reads
 * prefetches reserved, a_done those finished (arrived, dropped, or undone
 * before they were sent), bumped only after the frame's BUSY is released
 * and its request freed, so a thread woken by it finds the page fixable
 * and a request free.  The bump is made under a_lock together with the
 * finished-read log's entry for the page (a_log, read lock-free by
 * bp_io_finished, which checks afterwards that what it copied was not
 * overwritten, as a seqlock reader does), so entries land in ticket
 * order.  bp_io_wait sleeps on a_done's low half (a private
 * futex); the completer wakes only when a_waiters says someone sleeps:
 * each side does its seq_cst write before reading the other's word
 * (Dekker), and the futex sleeps only while the half still reads seq, so
 * no wake-up is lost.
 *
 * Invariants:
 *  - a_lock (rank AIO, a leaf) guards the free list, the submission side of
 *    the ring, the sync worker's queue and the counters; the completion
 *    side of the ring belongs to the holder of a_reap_lock (rank ALLOC,
 *    never nested with the prep lock: handling a completion takes the
 *    window lock, page-table partitions and a_lock below it).  The prep
 *    lock (rank ALLOC) is held while read-ahead reserves slots and frames:
 *    the window lock (MISS) and the partitions (PART) rank below it, and
 *    nothing there sleeps on a latch (a latched page is skipped).
 *  - A request is free, or owned by exactly one of: a prefetch in flight
 *    (its frame BUSY; with a slot, the slot published for the page and
 *    showing that frame, or, a staged copy read with pend 2, still
 *    holding the old page, whose frame is BUSY too, until its prefetcher
 *    has copied it home), a write batch (its frame latched shared by the
 *    flushing thread, which waits for it).  close waits until none is in
 *    flight before the ring, the buffers and the window go.
 *  - Reads in flight into slots (a_slot_reads) are at most
 *    bp__aio_slot_cap; the prep lock's holder alone adds to it.
 *  - Write batches run under p->flush_lock (bp_flush and the flusher never
 *    overlap), so a frame's WB bit means "written, and the next sync of
 *    this flush covers it".
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pool/pool_impl.h"
#include "platform/bp_sys.h"
#include "platform/bp_testing.h"

#ifdef BP_HAVE_URING
#include <liburing.h>
#endif

enum { BP__AIO_READ = 1, BP__AIO_WRITE = 2 };
#define BP__AIO_STOP_TAG UINT64_MAX /* NOP that wakes the reaper at close */
#define BP__AIO_IGNORE_TAG (UINT64_MAX - 1) /* NOP in place of an unsent sqe */
#define BP__AIO_LOG_MIN 256 /* finished-read log entries, at least */

struct bp__aio_batch {
    unsigned pending; /* writes not completed yet (under a_lock) */
};

struct bp__aio_req {
    uint64_t pgno;
    uint32_t frame;
    uint32_t slot; /* read-ahead into this window slot (published for the
                      page, its frame BUSY), or BP__NONE: a bounce buffer,
                      or the frame itself (linear) */
    uint8_t op;
    uint8_t scan;
    /* a staged read into a copy slot, sent before the slot's old page
     * went home (bp__aio_slot_ready): that page's frame (BUSY) and its
     * sl_dirty; pend 2 until the copy home is done, then 1 (under a_lock:
     * the completion waits for 1 before it fills the slot); undone: the
     * copy home failed and the slot's reservation was undone, the read's
     * bytes go nowhere */
    uint32_t old_frame;
    uint8_t old_dirty;
    uint8_t pend;
    uint8_t undone;
    int res;
    uint64_t t0; /* when the request was taken (read_ns, write_ns) */
    struct bp__aio_batch *batch;
};

struct bp__aio {
    bp_pool *a_pool; /* for the reaper or worker thread (its argument) */
    pthread_mutex_t a_prep_lock; /* one prefetcher prepares sqes at a time */
    pthread_mutex_t a_reap_lock; /* io_uring: one thread takes cqes at once */
    pthread_mutex_t a_lock;
    pthread_cond_t a_cond; /* a request freed, a batch done, work queued */
    pthread_t a_reaper;
    int a_reaper_on, a_stop;
    int a_stop_seen; /* close's stop NOP came back (under a_lock) */
    int a_hold; /* tests (bp__test_aio_hold): finish no read meanwhile */
    int a_uring; /* 1: io_uring; 0: the sync worker */
#ifdef BP_HAVE_URING
    struct io_uring a_ring;
#endif
    int a_coop; /* the ring was set up with COOP_TASKRUN */
    unsigned a_registered; /* bit 0 file, bit 1 bounce buffers, bit 3 the
                              region (bp_uring_reg.c) */
    unsigned a_depth;
    char *a_bufs_raw, *a_bufs; /* a_bufs_map bytes from bp__iomem_map */
    size_t a_bufs_size, a_bufs_map;
    struct bp__aio_req *a_reqs;
    uint32_t *a_free;
    unsigned a_nfree;
    unsigned a_inflight;
    unsigned a_slot_reads; /* reads in flight into window slots (atomic:
                              the prefetcher adds, their completions
                              take away) */
    uint32_t *a_queue; /* sync worker: requests to do, FIFO */
    unsigned a_qhead, a_qlen;
    /* completion order (atomic): reads reserved and finished, sleepers on
     * the ticket, waits that took cqes off the ring themselves */
    uint64_t a_started __attribute__((aligned(8)));
    uint64_t a_done __attribute__((aligned(8)));
    unsigned a_waiters;
    /* the finished-read log (bp_io_finished): the page of the t-th read
     * finished is a_log[t & a_log_mask], written under a_lock just before
     * a_done passes t (entries are atomics: readers copy them lock-free
     * and check afterwards that none was overwritten meanwhile) */
    uint64_t *a_log;
    uint64_t a_log_mask;
    uint64_t a_wait_reaps __attribute__((aligned(8)));
};

static char *bp__aio_buf(struct bp__aio *a, bp_pool *p, uint32_t r)
{
    return a->a_bufs + (size_t)r * p->po_page_size;
}

/* The linear backend maps every frame for good: its I/O goes straight to
 * and from the frame, no bounce buffer, no copy (reads: unless staged). */
static int bp__aio_direct(const bp_pool *p)
{
    return p->be && p->be->id == BP_BACKEND_LINEAR;
}

/* A staged read (bp_iomem.c, io_stage bit 0): the read lands in the
 * request's buffer and is copied with memcpy into linear's frame, or into
 * the copy slot it was asked into. */
static int bp__aio_staged(const bp_pool *p, const struct bp__aio_req *q)
{
    return q->op == BP__AIO_READ && (p->io_stage & BP__STAGE_AHEAD);
}

/* Where request r's page is read into or written from. */
static char *bp__aio_target(struct bp__aio *a, bp_pool *p, uint32_t r)
{
    const struct bp__aio_req *q = &a->a_reqs[r];

    if (bp__aio_staged(p, q))
        return bp__aio_buf(a, p, r);
    if (q->slot != BP__NONE)
        return bp__slot_addr(p, q->slot);
    return bp__aio_direct(p) ? bp__slot_addr(p, q->frame)
                             : bp__aio_buf(a, p, r);
}

/* Reads in flight into window slots at most: a quarter of the window, so
 * other threads' fixes still find slots to replace (write batches keep
 * the same share, bp_cache.c); the rest use bounce buffers.  0 on linear,
 * whose reads land in the frames anyway. */
static unsigned bp__aio_slot_cap(const bp_pool *p)
{
    return bp__aio_direct(p) ? 0 : p->nslots / 4;
}

/* ---- requests --------------------------------------------------------- */

/* A free request, or BP__NONE (wait: block until one is free). */
static uint32_t bp__aio_get(bp_pool *p, struct bp__aio *a, int wait)
{
    uint32_t r = BP__NONE;

    bp__lock(p, &a->a_lock, BP__RANK_AIO);
    while (a->a_nfree == 0 && wait && !a->a_stop)
        pthread_cond_wait(&a->a_cond, &a->a_lock);
    if (a->a_nfree > 0) { /* a_nfree is peeked at without the lock */
        r = a->a_free[a->a_nfree - 1];
        __atomic_store_n(&a->a_nfree, a->a_nfree - 1, __ATOMIC_RELAXED);
        a->a_inflight++;
    }
    bp__unlock(&a->a_lock, BP__RANK_AIO);
    return r;
}

static void bp__aio_put_locked(struct bp__aio *a, uint32_t r)
{
    a->a_reqs[r].op = 0;
    a->a_reqs[r].slot = BP__NONE;
    a->a_reqs[r].old_frame = BP__NONE;
    a->a_reqs[r].pend = 0;
    a->a_reqs[r].undone = 0;
    a->a_reqs[r].batch = NULL;
    a->a_free[a->a_nfree] = r;
    __atomic_store_n(&a->a_nfree, a->a_nfree + 1, __ATOMIC_RELAXED);
    a->a_inflight--;
    pthread_cond_broadcast(&a->a_cond);
}

/* ---- completion order ------------------------------------------------------ */

/* The futex: a_done's low half. */
static uint32_t *bp__aio_seq_futex(struct bp__aio *a)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint32_t *)&a->a_done;
#else
    return (uint32_t *)&a->a_done + 1;
#endif
}

/* A reserved read of pgno finished (arrived, dropped or undone): log it
 * and move the ticket (under a_lock: one writer at a time, so the ticket
 * passes t only once entry t is written). */
static void bp__aio_seq_log_locked(struct bp__aio *a, uint64_t pgno)
{
    uint64_t t = __atomic_load_n(&a->a_done, __ATOMIC_RELAXED);

    /* release: a bp_io_finished that copies this entry over an older one
     * then sees (its loads are acquire) a_done >= t, and knows it lagged */
    __atomic_store_n(&a->a_log[t & a->a_log_mask], pgno, __ATOMIC_RELEASE);
    __atomic_store_n(&a->a_done, t + 1, __ATOMIC_SEQ_CST);
}

/* After bp__aio_seq_log_locked, with a_lock dropped: wake bp_io_wait's
 * sleepers, if there are any (seq_cst: the ticket's store before this
 * load, Dekker with the sleeper). */
static void bp__aio_seq_wake(struct bp__aio *a)
{
    if (__atomic_load_n(&a->a_waiters, __ATOMIC_SEQ_CST))
        syscall(SYS_futex, bp__aio_seq_futex(a), FUTEX_WAKE_PRIVATE, INT_MAX,
                NULL, NULL, 0);
}

/* ---- prefetch completion (reaper or sync worker) ----------------------- */

/* Free the request of a finished read, then move the ticket: a thread it
 * wakes finds the page fixable and room to prefetch more. */
static void bp__aio_read_free(bp_pool *p, struct bp__aio *a, uint32_t r)
{
    bp__lock(p, &a->a_lock, BP__RANK_AIO);
    if (a->a_reqs[r].slot != BP__NONE)
        __atomic_sub_fetch(&a->a_slot_reads, 1, __ATOMIC_RELAXED);
    bp__aio_seq_log_locked(a, a->a_reqs[r].pgno);
    bp__aio_put_locked(a, r);
    bp__unlock(&a->a_lock, BP__RANK_AIO);
    bp__aio_seq_wake(a);
}

/* Give up request r's page (its read failed, or was never sent): no slot
 * shows it any more (the slot's reservation undone as a failed miss's),
 * its frame forgets it, BUSY released: fixes waiting on it retry and read
 * the page themselves.  Counted once all that is done, so that a thread
 * that sees prefetch_failed sees the page gone. */
static void bp__aio_drop(bp_pool *p, struct bp__aio *a, uint32_t r)
{
    struct bp__aio_req *q = &a->a_reqs[r];

    if (q->slot != BP__NONE) {
        struct bp__mapping m = {.slot = q->slot, .frame = q->frame,
                                .old_frame = BP__NONE, .held = 2,
                                .need = BP__NEED_READ};

        bp__window_map_undo(p, &m);
    } else {
        bp__ptab_discard(p, q->frame);
        bp__latch_release(bp__word(p, q->frame), 2, 0, 0);
    }
    BP_STAT(p, prefetch_failed);
}

/* The read of request r finished with res: check the page and release its
 * frame's BUSY, or drop it (the caller frees the request:
 * bp__aio_read_free).  The frame holds the page already when the read
 * landed in it (through an rfp/mmap slot, or linear's); a staged read is
 * copied from the request's buffer into linear's frame or the copy slot
 * with memcpy; from a bounce buffer it goes into the frame with one
 * pwrite; the copy backend's private slot is marked BP__SL_HOME, copied
 * in when the slot lets the page go (bp_backend_copy.c).  A read whose
 * slot reservation was undone meanwhile (undone) fills nothing. */
static void bp__aio_read_fill(bp_pool *p, struct bp__aio *a, uint32_t r,
                              int res)
{
    struct bp__aio_req *q = &a->a_reqs[r];
    uint32_t f = q->frame;
    uint64_t *w = bp__word(p, f);
    char *buf = bp__aio_target(a, p, r);
    int home = q->slot != BP__NONE && p->be->id == BP_BACKEND_COPY;
    int copy = q->slot == BP__NONE && !bp__aio_direct(p);
    int ok;

    if (q->undone) { /* frame and slot no longer ours */
        BP_STAT(p, prefetch_failed);
        return;
    }
    ok = res == (int)p->po_page_size && bp__io_verify(p, buf, q->pgno) == 0 &&
         (!copy || bp__shm_pwrite(p, buf, f) == 0);
    if (!ok) {
        bp__aio_drop(p, a, r);
        return;
    }
    if (bp__aio_staged(p, q) && q->slot != BP__NONE) /* copy; frame BUSY */
        memcpy(bp__slot_addr(p, q->slot), buf, p->po_page_size);
    else if (bp__aio_staged(p, q) && bp__aio_direct(p)) /* linear */
        memcpy(bp__slot_addr(p, f), buf, p->po_page_size);
    if (home)
        BP__STORE(p->slots[q->slot].sl_dirty, BP__SL_HOME);
    BP_STAT(p, reads);
    BP_STAT_ADD(p, bytes_read, p->po_page_size);
    BP_STAT_ADD(p, read_ns, bp__clock_ns() - q->t0);
    if (!q->scan) { /* it was asked for: give it a CLOCK round */
        uint64_t v = bp_w_load(w);

        while (bp_w_usage(v) == 0 && !bp_w_cas(w, &v, bp_w_set_usage(v, 1)))
            ;
    }
    bp__latch_release(w, 2, 0, 0); /* BUSY -> free; fixes waiting retry */
    BP_STAT(p, prefetch_done); /* after: whoever sees it finds the page */
}

#ifdef BP_HAVE_URING
#define BP__AIO_REAP_BATCH 32u
#define BP__AIO_ASIDE_NS 1000000L /* the reaper's pause while waiters reap */
/* completions a thread in bp_io_wait handles before it returns: one, so
 * its caller starts the next read as soon as one page is in (the disk
 * here completes reads in bursts: handling a burst of 30 first, with a
 * copy into the frame each, kept the disk idle for 30 copies) */
#define BP__AIO_WAIT_REAP 1u

/* Take up to max completions off the ring (all there are, if fewer) and
 * handle them, a batch at a time: one hold of a_lock for the batch's
 * requests, then each read's frame filled with no lock held and, at once,
 * its request freed and the ticket moved (freeing them all at the end of
 * the batch made its first pages wait for the last ones' copies).
 * a_reap_lock held (the completion side of the ring is its holder's).
 * The number of completions taken. */
static unsigned bp__aio_reap_locked(bp_pool *p, struct bp__aio *a,
                                    unsigned max)
{
    struct io_uring_cqe *cqes[BP__AIO_REAP_BATCH];
    unsigned n, total = 0;

    while (total < max &&
           (n = io_uring_peek_batch_cqe(&a->a_ring, cqes,
                                        max - total < BP__AIO_REAP_BATCH
                                            ? max - total
                                            : BP__AIO_REAP_BATCH)) > 0) {
        uint64_t tag[BP__AIO_REAP_BATCH];
        uint32_t reads[BP__AIO_REAP_BATCH];
        int res[BP__AIO_REAP_BATCH], rres[BP__AIO_REAP_BATCH];
        unsigned nr = 0;

        for (unsigned i = 0; i < n; i++) {
            tag[i] = io_uring_cqe_get_data64(cqes[i]);
            res[i] = cqes[i]->res;
        }
        io_uring_cq_advance(&a->a_ring, n);
        total += n;
        /* each request was filled before its sqe was queued under a_lock:
         * taking it orders our reads after those writes for TSan too (the
         * kernel's ordering through the ring it cannot see) */
        bp__lock(p, &a->a_lock, BP__RANK_AIO);
        for (unsigned i = 0; i < n; i++) {
            struct bp__aio_req *q;

            if (tag[i] == BP__AIO_STOP_TAG)
                a->a_stop_seen = 1;
            if (tag[i] >= a->a_depth) /* stop, or a request undone */
                continue;
            q = &a->a_reqs[tag[i]];
            if (q->op == BP__AIO_READ) {
                int rr = bp__sys_uring_res(BP__SYS_URING_READ, res[i],
                                           p->dio_align);

                /* a staged copy read whose slot's old page is still
                 * being copied home (bp__aio_slot_ready): wait for it */
                while (q->pend > 1)
                    pthread_cond_wait(&a->a_cond, &a->a_lock);
                q->pend = 0;
                reads[nr] = (uint32_t)tag[i];
                rres[nr++] = rr;
            } else if (q->op == BP__AIO_WRITE) {
                q->res = bp__sys_uring_res(BP__SYS_URING_WRITE, res[i],
                                           p->dio_align);
                if (--q->batch->pending == 0)
                    pthread_cond_broadcast(&a->a_cond);
            }
        }
        while (nr > 0 && a->a_hold && !a->a_stop)
            pthread_cond_wait(&a->a_cond, &a->a_lock);
        bp__unlock(&a->a_lock, BP__RANK_AIO);
        for (unsigned i = 0; i < nr; i++) { /* each page as soon as it is in */
            bp__aio_read_fill(p, a, reads[i], rres[i]);
            bp__aio_read_free(p, a, reads[i]);
        }
    }
    return total;
}

/* The reaper: completions nobody else takes (a thread in bp_io_wait takes
 * them itself while it holds a_reap_lock). */
static void *bp__aio_reaper(void *arg)
{
    struct bp__aio *a = arg;
    bp_pool *p = a->a_pool;
    uint64_t reaps_seen = 0;

    for (;;) {
        struct io_uring_cqe *cqe;
        uint64_t reaps = __atomic_load_n(&a->a_wait_reaps, __ATOMIC_RELAXED);

        /* A thread in bp_io_wait took completions since we last looked:
         * while such waiters keep coming they take every completion they
         * wait for, and our own wake-up on each would only take a CPU from
         * them (on a small VM, the one its interrupts arrive on) and the
         * reap lock; look again in a millisecond. */
        if (reaps != reaps_seen) {
            struct timespec aside = {0, BP__AIO_ASIDE_NS};

            reaps_seen = reaps;
            nanosleep(&aside, NULL);
            continue;
        }
        /* not through the fault table: the reaper waits at times of the
         * scheduler's choosing, which would make "the Nth call" of a
         * countdown random; completions' results go through it.  The
         * timeout lets it see a_stop even if close's NOP could not be
         * queued.  The wait only looks: the cqes are taken under
         * a_reap_lock, maybe by a waiter first. */
        struct __kernel_timespec ts = {0, 100000000};
        /* without EXT_ARG (before 5.11) liburing would take an sqe for the
         * timeout behind a_lock's back: wait without one there */
        int rc = (a->a_ring.features & IORING_FEAT_EXT_ARG)
                     ? io_uring_wait_cqe_timeout(&a->a_ring, &cqe, &ts)
                     : io_uring_wait_cqe(&a->a_ring, &cqe),
            stop;

        if (rc == -EINTR || rc == -EAGAIN)
            continue;
        if (rc == 0) {
            bp__lock(p, &a->a_reap_lock, BP__RANK_ALLOC);
            (void)bp__aio_reap_locked(p, a, UINT_MAX);
            bp__unlock(&a->a_reap_lock, BP__RANK_ALLOC);
        }
        /* -ETIME (idle), or never seen: stop when told to */
        bp__lock(p, &a->a_lock, BP__RANK_AIO);
        stop = a->a_stop_seen || (rc < 0 && a->a_stop && a->a_inflight == 0);
        bp__unlock(&a->a_lock, BP__RANK_AIO);
        if (stop)
            return NULL;
    }
}

/* bp_io_wait on io_uring: rather than sleep until the reaper thread has
 * handled a completion and woken it (the kernel posts a completion in the
 * submitting thread, which wakes the reaper, which wakes the waiter), the
 * waiter takes a completion off the ring itself, sleeping in the ring's
 * own wait as fio does when none is there.  Only with EXT_ARG (a timeout
 * without an sqe), while no other thread holds a_reap_lock and no test
 * hold is on; a slice of at most 20 ms, since a read undone before it was
 * sent moves the ticket without a completion.  1 when it did (the caller
 * looks again), 0 when the caller must sleep on the ticket. */
static int bp__aio_wait_reap(bp_pool *p, struct bp__aio *a, uint64_t seq,
                             const struct timespec *tmo)
{
    struct __kernel_timespec ts = {0, 20000000};
    struct io_uring_cqe *cqe;

    if (!a->a_uring || !(a->a_ring.features & IORING_FEAT_EXT_ARG) ||
        __atomic_load_n(&a->a_hold, __ATOMIC_ACQUIRE) ||
        pthread_mutex_trylock(&a->a_reap_lock) != 0)
        return 0;
    bp__rank_note(BP__RANK_ALLOC, 1);
    if (tmo && (tmo->tv_sec < 0 ||
                (tmo->tv_sec == 0 && tmo->tv_nsec < ts.tv_nsec))) {
        ts.tv_sec = 0;
        ts.tv_nsec = tmo->tv_sec < 0 ? 0 : tmo->tv_nsec;
    }
    __atomic_add_fetch(&a->a_wait_reaps, 1, __ATOMIC_RELAXED);
    if (bp__aio_reap_locked(p, a, BP__AIO_WAIT_REAP) == 0 &&
        __atomic_load_n(&a->a_done, __ATOMIC_SEQ_CST) == seq &&
        io_uring_wait_cqe_timeout(&a->a_ring, &cqe, &ts) == 0)
        (void)bp__aio_reap_locked(p, a, BP__AIO_WAIT_REAP);
    bp__unlock(&a->a_reap_lock, BP__RANK_ALLOC);
    return 1;
}

/* An sqe (under a_lock); when the SQ ring is full of NOPs left by failed
 * submits, send them first.  NULL only when that fails too. */
static struct io_uring_sqe *bp__aio_sqe_locked(struct bp__aio *a)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&a->a_ring);

    if (!sqe && bp__sys_uring_submit(&a->a_ring) >= 0)
        sqe = io_uring_get_sqe(&a->a_ring);
    return sqe;
}

/* Fill an sqe for request r's page: its read (write = 0) or write, with
 * the registered file and buffers when there are.  Under a_lock, and sent
 * in the same hold: any holder may submit, and must never send a
 * half-filled sqe.  NULL when no sqe can be had. */
static struct io_uring_sqe *bp__aio_queue_locked(bp_pool *p,
                                                 struct bp__aio *a,
                                                 uint32_t r, int write)
{
    struct io_uring_sqe *sqe = bp__aio_sqe_locked(a);
    unsigned psz = (unsigned)p->po_page_size;
    uint64_t off = a->a_reqs[r].pgno * psz;
    int fd = (a->a_registered & 1) ? 0 : p->data_fd, k = -1;
    char *buf = bp__aio_target(a, p, r);

    if (!sqe)
        return NULL;
    /* registered buffer 0 is the bounce buffers, 1.. the region's chunks
     * (a linear frame, a copy slot); the rest are plain reads */
    if ((a->a_registered & 2) && buf >= a->a_bufs &&
        buf < a->a_bufs + a->a_bufs_size)
        k = 0;
    else if ((a->a_registered & 8) && (k = bp__reg_index(p, buf, psz)) >= 0)
        k++;
    if (k >= 0) {
        if (write)
            io_uring_prep_write_fixed(sqe, fd, buf, psz, off, k);
        else
            io_uring_prep_read_fixed(sqe, fd, buf, psz, off, k);
    } else if (write) {
        io_uring_prep_write(sqe, fd, buf, psz, off);
    } else {
        io_uring_prep_read(sqe, fd, buf, psz, off);
    }
    if (a->a_registered & 1)
        sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, r);
    return sqe;
}

/* Submit the n sqes prepared in sqes[] (under a_lock).  The kernel takes
 * all or, on an error, none of them; then each is turned into a NOP in
 * place with the ignore tag (sent by a later submit, its completion
 * discarded), so the kernel never touches a buffer the caller takes back,
 * and the error is returned: the caller undoes the requests itself. */
static int bp__aio_submit_locked(struct bp__aio *a,
                                 struct io_uring_sqe **sqes, unsigned n)
{
    int rc = 0;

    for (int tries = 0; tries < 64; tries++) {
        rc = bp__sys_uring_submit(&a->a_ring);
        if (rc >= 0 || (rc != -EINTR && rc != -EAGAIN))
            break;
    }
    if (rc >= 0)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        io_uring_prep_nop(sqes[i]);
        io_uring_sqe_set_data64(sqes[i], BP__AIO_IGNORE_TAG);
    }
    return rc;
}
#endif /* BP_HAVE_URING */

/* The sync engine's worker: reads queued requests one at a time. */
static void *bp__aio_worker(void *arg)
{
    struct bp__aio *a = arg;
    bp_pool *p = a->a_pool;

    for (;;) {
        uint32_t r;
        ssize_t n;

        bp__lock(p, &a->a_lock, BP__RANK_AIO);
        while ((a->a_qlen == 0 || a->a_hold) && !a->a_stop)
            pthread_cond_wait(&a->a_cond, &a->a_lock);
        if (a->a_qlen == 0) { /* stopping, queue empty */
            bp__unlock(&a->a_lock, BP__RANK_AIO);
            return NULL;
        }
        r = a->a_queue[a->a_qhead];
        a->a_qhead = (a->a_qhead + 1) % a->a_depth;
        a->a_qlen--;
        bp__unlock(&a->a_lock, BP__RANK_AIO);
        n = bp__io_xfer_page(p, a->a_reqs[r].pgno, bp__aio_target(a, p, r),
                             0);
        bp__aio_read_fill(p, a, r, (int)n);
        bp__aio_read_free(p, a, r);
    }
}

/* ---- waiting for completions (bp_io_seq, bp_io_wait) ------------------- */

uint64_t bp_io_seq(bp_pool *p)
{
    struct bp__aio *a = p ? __atomic_load_n(&p->aio, __ATOMIC_ACQUIRE) : NULL;

    return a ? __atomic_load_n(&a->a_done, __ATOMIC_SEQ_CST) : 0;
}

/* A bp_io_finished caller at ticket s when a_done is d has lagged when
 * the log no longer holds entry s: then *seq moves to the present. */
static int bp__aio_lagged(const struct bp__aio *a, uint64_t s, uint64_t d,
                          uint64_t *seq)
{
    if (d - s <= a->a_log_mask)
        return 0;
    *seq = d;
    return 1;
}

int bp_io_finished(bp_pool *p, uint64_t *seq, uint64_t *pgnos, size_t max)
{
    struct bp__aio *a;
    uint64_t s, d, n;
    int st;

    if (!p || !seq || (!pgnos && max))
        return -EINVAL;
    if ((st = BP__LOAD(p->state)) != BP__OPEN)
        return bp__state_error(p, st);
    if (!(a = __atomic_load_n(&p->aio, __ATOMIC_ACQUIRE)))
        return 0; /* never read ahead: nothing finished */
    /* entry s + i is overwritten by ticket s + i + size, written only once
     * a_done has reached it: so lagging is a_done - s >= size (the log
     * holds size - 1 finished reads behind the present) */
    s = *seq;
    d = __atomic_load_n(&a->a_done, __ATOMIC_ACQUIRE);
    if (bp__aio_lagged(a, s, d, seq))
        return BP_ELAGGED;
    n = d - s < max ? d - s : max;
    if (n > INT_MAX)
        n = INT_MAX;
    /* acquire loads (plain loads on x86): an overwriting entry we read
     * was stored (release) after a_done reached its ticket >= s + size, so
     * the load of a_done below sees that (no fence: TSan has none) */
    for (uint64_t i = 0; i < n; i++)
        pgnos[i] = __atomic_load_n(&a->a_log[(s + i) & a->a_log_mask],
                                   __ATOMIC_ACQUIRE);
    /* seqlock check: were the entries copied overwritten meanwhile? */
    if (bp__aio_lagged(a, s, __atomic_load_n(&a->a_done, __ATOMIC_RELAXED),
                       seq))
        return BP_ELAGGED;
    *seq = s + n;
    return (int)n;
}

int bp_io_wait(bp_pool *p, uint64_t seq, int64_t timeout_ns)
{
    struct timespec now, end = {0, 0};
    struct bp__aio *a;
    int st, rc;

    if (!p)
        return -EINVAL;
    if ((st = BP__LOAD(p->state)) != BP__OPEN)
        return bp__state_error(p, st);
    if (!(a = __atomic_load_n(&p->aio, __ATOMIC_ACQUIRE)))
        return BP_EIDLE; /* never read ahead */
    if (timeout_ns > 0) {
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += (time_t)(timeout_ns / 1000000000);
        end.tv_nsec += (long)(timeout_ns % 1000000000);
        if (end.tv_nsec >= 1000000000L) {
            end.tv_sec++;
            end.tv_nsec -= 1000000000L;
        }
    }
    for (;;) {
        uint64_t d = __atomic_load_n(&a->a_done, __ATOMIC_SEQ_CST);
        struct timespec left, *tmo = NULL;

        if (d != seq) {
            rc = 0;
            break;
        }
        if (__atomic_load_n(&a->a_started, __ATOMIC_SEQ_CST) == d) {
            rc = BP_EIDLE; /* nothing in flight: nothing would wake us */
            break;
        }
        if (timeout_ns > 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            left.tv_sec = end.tv_sec - now.tv_sec;
            left.tv_nsec = end.tv_nsec - now.tv_nsec;
            if (left.tv_nsec < 0) {
                left.tv_sec--;
                left.tv_nsec += 1000000000L;
            }
            tmo = &left;
        }
        if (timeout_ns == 0 || (tmo && left.tv_sec < 0)) {
            rc = -ETIMEDOUT;
            break;
        }
#ifdef BP_HAVE_URING
        if (bp__aio_wait_reap(p, a, seq, tmo))
            continue;
#endif
        /* counted as a sleeper before the last look at the ticket: a
         * completer that moves it after that look sees us and wakes us */
        __atomic_add_fetch(&a->a_waiters, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&a->a_done, __ATOMIC_SEQ_CST) == seq) {
            bp__rank_note(BP__RANK_BUSY, 1); /* checks no mutex is held */
            syscall(SYS_futex, bp__aio_seq_futex(a), FUTEX_WAIT_PRIVATE,
                    (uint32_t)seq, tmo, NULL, 0);
            bp__rank_note(BP__RANK_BUSY, 0);
        }
        __atomic_sub_fetch(&a->a_waiters, 1, __ATOMIC_SEQ_CST);
    }
    return rc;
}

/* ---- set-up and teardown -------------------------------------------------- */

#ifdef BP_HAVE_URING
static int bp__aio_ring_init(bp_pool *p, struct bp__aio *a)
{
    /* cooperative (bp_set_io_coop): no interrupt to a running submitter;
     * the flags came in Linux 5.19, earlier kernels refuse them */
    int rc = -EINVAL;

    if (p->po_io_coop) {
        rc = bp__sys_uring_queue_init(a->a_depth, &a->a_ring,
                                      IORING_SETUP_COOP_TASKRUN |
                                          IORING_SETUP_TASKRUN_FLAG);
        a->a_coop = rc == 0;
    }
    if (rc == -EINVAL)
        rc = bp__sys_uring_queue_init(a->a_depth, &a->a_ring, 0);
    if (rc < 0)
        return rc;
    if (bp__sys_uring_register_files(&a->a_ring, &p->data_fd, 1) == 0)
        a->a_registered |= 1;
    {
        struct iovec bounce = {a->a_bufs, a->a_bufs_size};

        /* buffer 0: the bounce buffers; 1..: the region (linear frames or
         * the copy window, bp_uring_reg.c).  Counts against
         * RLIMIT_MEMLOCK (not for CAP_IPC_LOCK): without the region, the
         * bounce buffers alone; without those, plain READ/WRITE */
        if (bp__reg_register(p, &a->a_ring, &bounce, 1) == 0)
            a->a_registered |= 2 | 8;
        else if (bp__sys_uring_register_buffers(&a->a_ring, &bounce, 1) == 0)
            a->a_registered |= 2;
    }
    return 0;
}
#endif

static void bp__aio_free(bp_pool *p, struct bp__aio *a)
{
    if (a->a_reqs)
        bp__free(p, a->a_reqs, a->a_depth * sizeof *a->a_reqs);
    if (a->a_free)
        bp__free(p, a->a_free, a->a_depth * sizeof *a->a_free);
    if (a->a_queue)
        bp__free(p, a->a_queue, a->a_depth * sizeof *a->a_queue);
    if (a->a_bufs_raw)
        munmap(a->a_bufs_raw, a->a_bufs_map);
    if (a->a_log)
        bp__free(p, a->a_log, (a->a_log_mask + 1) * sizeof *a->a_log);
    if (!p->forked) { /* a child's copies may show the parent's waiters */
        pthread_cond_destroy(&a->a_cond);
        pthread_mutex_destroy(&a->a_lock);
        pthread_mutex_destroy(&a->a_prep_lock);
        pthread_mutex_destroy(&a->a_reap_lock);
    }
    bp__free(p, a, sizeof *a);
}

/* Create p->aio (under p->aio_init_lock).  0 or an error. */
static int bp__aio_create(bp_pool *p)
{
    struct bp__aio *a = bp__alloc(p, sizeof *a);
    size_t align = p->dio_align > 64 ? p->dio_align : 64;
    void *bufs;
    int rc = 0;

    if (!a)
        return -ENOMEM;
    memset(a, 0, sizeof *a);
    a->a_depth = p->po_io_depth;
    pthread_mutex_init(&a->a_lock, NULL);
    pthread_mutex_init(&a->a_prep_lock, NULL);
    pthread_mutex_init(&a->a_reap_lock, NULL);
    pthread_cond_init(&a->a_cond, NULL);
    a->a_bufs_size = (size_t)a->a_depth * p->po_page_size;
    a->a_bufs_map = a->a_bufs_size + align;
    if (bp__iomem_map(p, &a->a_bufs_map, 1, 1, &bufs) == 0)
        a->a_bufs_raw = bufs; /* huge-page backed: bp_iomem.c */
    a->a_reqs = bp__alloc(p, a->a_depth * sizeof *a->a_reqs);
    a->a_free = bp__alloc(p, a->a_depth * sizeof *a->a_free);
    a->a_queue = bp__alloc(p, a->a_depth * sizeof *a->a_queue);
    /* the log: a power of two, more than 4 x depth, 256 entries at least
     * (it holds one less finished read than its size) */
    a->a_log_mask = BP__AIO_LOG_MIN - 1;
    while (a->a_log_mask < 4ull * a->a_depth)
        a->a_log_mask = a->a_log_mask * 2 + 1;
    a->a_log = bp__alloc(p, (a->a_log_mask + 1) * sizeof *a->a_log);
    if (!a->a_bufs_raw || !a->a_reqs || !a->a_free || !a->a_queue ||
        !a->a_log) {
        bp__aio_free(p, a);
        return -ENOMEM;
    }
    a->a_bufs = (char *)(((uintptr_t)a->a_bufs_raw + align - 1) &
                         ~(uintptr_t)(align - 1));
    memset(a->a_reqs, 0, a->a_depth * sizeof *a->a_reqs);
    for (uint32_t r = 0; r < a->a_depth; r++) {
        a->a_reqs[r].slot = BP__NONE;
        a->a_free[r] = a->a_depth - 1 - r;
    }
    a->a_nfree = a->a_depth;
#ifdef BP_HAVE_URING
    if (strcmp(p->io->name, "io_uring") == 0 &&
        bp__aio_ring_init(p, a) == 0)
        a->a_uring = 1;
#endif
    a->a_pool = p;
#ifdef BP_HAVE_URING
    if (a->a_uring)
        rc = pthread_create(&a->a_reaper, NULL, bp__aio_reaper, a);
    else
#endif
        rc = pthread_create(&a->a_reaper, NULL, bp__aio_worker, a);
    if (rc != 0) {
#ifdef BP_HAVE_URING
        if (a->a_uring)
            io_uring_queue_exit(&a->a_ring);
#endif
        bp__aio_free(p, a);
        return -rc;
    }
    a->a_reaper_on = 1;
    __atomic_store_n(&p->st_aio_registered, a->a_registered,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&p->st_aio_coop, a->a_coop, __ATOMIC_RELAXED);
    /* published whole, thread running: other threads load it lock-free */
    __atomic_store_n(&p->aio, a, __ATOMIC_RELEASE);
    return 0;
}

/* p->aio, created on first use; NULL with *err set when it cannot be. */
static struct bp__aio *bp__aio_state(bp_pool *p, int *err)
{
    struct bp__aio *a = __atomic_load_n(&p->aio, __ATOMIC_ACQUIRE);

    *err = 0;
    if (a)
        return a;
    bp__lock(p, &p->aio_init_lock, BP__RANK_ALLOC);
    if (!p->aio)
        *err = bp__aio_create(p);
    a = p->aio;
    bp__unlock(&p->aio_init_lock, BP__RANK_ALLOC);
    return a;
}

int bp__aio_start(bp_pool *p)
{
    int rc;

    return bp__aio_state(p, &rc) ? 0 : rc;
}

int bp__aio_reading_into(bp_pool *p, uint32_t slot)
{
    struct bp__aio *a = __atomic_load_n(&p->aio, __ATOMIC_ACQUIRE);
    int found = 0;

    if (!a)
        return 0;
    bp__lock(p, &a->a_lock, BP__RANK_AIO);
    for (uint32_t r = 0; r < a->a_depth && !found; r++)
        found = a->a_reqs[r].op == BP__AIO_READ && a->a_reqs[r].slot == slot;
    bp__unlock(&a->a_lock, BP__RANK_AIO);
    return found;
}

void bp__aio_close(bp_pool *p)
{
    struct bp__aio *a = p->aio;

    if (!a)
        return;
    __atomic_store_n(&p->st_aio_registered, 0u, __ATOMIC_RELAXED);
    __atomic_store_n(&p->st_aio_coop, 0, __ATOMIC_RELAXED);
    if (p->forked) { /* bp_fork.c: no thread, no lock, nothing in flight */
#ifdef BP_HAVE_URING
        if (a->a_uring)
            io_uring_queue_exit(&a->a_ring);
#endif
        p->aio = NULL;
        bp__aio_free(p, a);
        return;
    }
    bp__lock(p, &a->a_lock, BP__RANK_AIO);
    __atomic_store_n(&a->a_hold, 0, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&a->a_cond);
    while (a->a_inflight > 0) /* prefetches still reading */
        pthread_cond_wait(&a->a_cond, &a->a_lock);
    a->a_stop = 1;
    pthread_cond_broadcast(&a->a_cond);
#ifdef BP_HAVE_URING
    if (a->a_uring) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&a->a_ring);

        if (sqe) {
            io_uring_prep_nop(sqe);
            io_uring_sqe_set_data64(sqe, BP__AIO_STOP_TAG);
            (void)io_uring_submit(&a->a_ring);
        }
    }
#endif
    bp__unlock(&a->a_lock, BP__RANK_AIO);
    if (a->a_reaper_on)
        pthread_join(a->a_reaper, NULL);
#ifdef BP_HAVE_URING
    if (a->a_uring)
        io_uring_queue_exit(&a->a_ring);
#endif
    __atomic_store_n(&p->aio, NULL, __ATOMIC_RELEASE);
    bp__aio_free(p, a);
}

/* ---- prefetch ------------------------------------------------------------ */

/* Give up a prefetch whose read was never sent: frame and request back. */
static __attribute__((unused)) void
bp__aio_undo_read(bp_pool *p, struct bp__aio *a, uint32_t r)
{
    bp__aio_drop(p, a, r);
    bp__aio_read_free(p, a, r);
}

/* Read-ahead straight into a window slot (rfp, mmap, copy): the page's
 * frame and a slot reserved and published as a fix miss does them (fixers
 * of the page find the slot and wait on the frame's BUSY), the slot's old
 * page released (copy: its dirty bytes copied home first) and the slot
 * made to show the frame (rfp/mmap remap it; copy copies nothing in, the
 * read overwrites it).  1 reserved (*frame, *slot), 0 skipped (cached, or
 * latched: in flight or in use), BP_ENOSLOT when every slot's frame is
 * latched or BUSY (none is evicted for read-ahead), or an error (the
 * reservation undone). */
static int bp__aio_reserve_slot(bp_pool *p, uint64_t pgno, int scan,
                                int defer, struct bp__mapping *m)
{
    uint64_t *wait = NULL, seen;
    int rc = bp__cache_map_begin(p, pgno, BP__GET_AHEAD, scan, m, &wait,
                                  &seen);

    if (rc == BP__WAIT)
        return 0;
    if (rc == 0 && !defer)
        rc = bp__window_map_slot(p, m);
    if (rc)
        return rc;
    /* counted here, not by the lookup: without a slot the page is looked up
     * again for a bounce buffer, which counts it */
    BP_STAT(p, cache_misses);
    return 1;
}

/* The slot of request r (a staged copy read, reserved with defer) lets its
 * old page go, after r's read was sent (sent) or given up (!sent): the
 * old page's bytes go home while the disk reads the new one into r's
 * buffer, off the read's critical path; the completion waits for this
 * (pend) before it copies the buffer into the slot.  When the copy home
 * fails, bp__window_map_slot undoes the reservation (the pool poisoned if
 * the old page was modified): the read, if sent, ends with nothing to
 * fill (undone). */
static __attribute__((unused)) void
bp__aio_slot_ready(bp_pool *p, struct bp__aio *a, uint32_t r, int sent)
{
    struct bp__aio_req *q = &a->a_reqs[r];
    struct bp__mapping m = {.slot = q->slot, .frame = q->frame,
                            .old_frame = q->old_frame, .held = 2,
                            .old_dirty = q->old_dirty,
                            .need = BP__NEED_READ};
    int rc;

    if (sent)
        bp__sys_hook_call(BP__HOOK_AHEAD, q->pgno); /* tests */
    rc = bp__window_map_slot(p, &m);
    if (!sent && rc == 0) {
        bp__aio_undo_read(p, a, r);
        return;
    }
    if (!sent) { /* map_slot undid the slot's reservation already */
        BP_STAT(p, prefetch_failed);
        bp__aio_read_free(p, a, r);
        return;
    }
    bp__lock(p, &a->a_lock, BP__RANK_AIO);
    q->undone = rc != 0;
    q->pend = 1;
    pthread_cond_broadcast(&a->a_cond);
    bp__unlock(&a->a_lock, BP__RANK_AIO);
}

/* Read-ahead into a bounce buffer (or linear's frame): only the page's
 * frame reserved, BUSY in the page table.  1 reserved, 0 skipped (cached,
 * or latched), or an error. */
static int bp__aio_reserve_frame(bp_pool *p, uint64_t pgno, int scan,
                                 uint32_t *frame)
{
    enum bp__need need;
    uint64_t *wait = NULL, seen;
    int rc = bp__cache_get(p, pgno, BP__GET_READ, scan, frame, &need, &wait,
                           &seen, NULL);

    if (rc == BP__WAIT)
        return 0; /* latched: in flight or in use */
    if (rc < 0)
        return rc;
    if (need == BP__NEED_NOTHING) { /* cached already */
        bp__latch_release(bp__word(p, *frame), 2, 0, 0);
        return 0;
    }
    return 1;
}

/* Reserve a request, and a slot or a frame, for pgno (io_uring: the caller
 * queues the read; sync: it goes on the worker's queue here).  Windowed
 * backends read into a slot while fewer than bp__aio_slot_cap reads do;
 * beyond that, or when no slot can be had, the page still goes, through a
 * bounce buffer (read-ahead is best effort, but a busy window is no reason
 * to read less).  1 reserved (*req set; *deferred: a staged copy read
 * whose slot still holds its old page, for bp__aio_slot_ready once the
 * read is sent), 0 skipped (cached, in flight, never written, or no
 * request free), or an error. */
static int bp__aio_prefetch_one(bp_pool *p, struct bp__aio *a, uint64_t pgno,
                                int scan, uint32_t *req, uint8_t *deferred)
{
    struct bp__mapping m = {.slot = BP__NONE, .old_frame = BP__NONE,
                            .held = 2};
    uint32_t f = BP__NONE, s = BP__NONE, r;
    /* a staged copy read goes before its slot's old page goes home */
    int defer = a->a_uring && (p->io_stage & BP__STAGE_AHEAD) &&
                !bp__aio_direct(p);
    int rc = BP_ENOSLOT;

    if (pgno >= BP__LOAD(p->meta->sh_disk_pages))
        return 0; /* never written: a fix makes it zeros, no I/O */
    if (__atomic_load_n(&a->a_nfree, __ATOMIC_RELAXED) == 0 ||
        (r = bp__aio_get(p, a, 0)) == BP__NONE)
        return 0;
    if (__atomic_load_n(&a->a_slot_reads, __ATOMIC_RELAXED) <
        bp__aio_slot_cap(p))
        rc = bp__aio_reserve_slot(p, pgno, scan, defer, &m);
    if (rc == 1) {
        f = m.frame;
        s = m.slot;
    }
    if (rc == BP_ENOSLOT)
        rc = bp__aio_reserve_frame(p, pgno, scan, &f);
    if (rc <= 0) { /* the request goes back unused */
        bp__lock(p, &a->a_lock, BP__RANK_AIO);
        bp__aio_put_locked(a, r);
        bp__unlock(&a->a_lock, BP__RANK_AIO);
        return rc;
    }
    a->a_reqs[r] = (struct bp__aio_req){
        .pgno = pgno, .frame = f, .slot = s, .op = BP__AIO_READ,
        .scan = (uint8_t)scan,
        .old_frame = s != BP__NONE && defer ? m.old_frame : BP__NONE,
        .old_dirty = (uint8_t)m.old_dirty,
        .pend = s != BP__NONE && defer ? 2 : 0,
        .t0 = bp__clock_ns()};
    if (s != BP__NONE) /* the prep lock's holder alone adds */
        __atomic_add_fetch(&a->a_slot_reads, 1, __ATOMIC_RELAXED);
    if (!bp__aio_staged(p, &a->a_reqs[r]) &&
        (s != BP__NONE || bp__aio_direct(p)))
        BP_STAT(p, prefetch_direct);
    BP_STAT(p, prefetch_started);
    __atomic_add_fetch(&a->a_started, 1, __ATOMIC_SEQ_CST);
    *req = r;
    *deferred = s != BP__NONE && defer;
    if (!a->a_uring) {
        bp__lock(p, &a->a_lock, BP__RANK_AIO);
        a->a_queue[(a->a_qhead + a->a_qlen) % a->a_depth] = r;
        a->a_qlen++;
        pthread_cond_broadcast(&a->a_cond);
        bp__unlock(&a->a_lock, BP__RANK_AIO);
    }
    return 1;
}

int bp__aio_prefetch(bp_pool *p, const uint64_t *pgnos, size_t n, int scan)
{
    uint32_t reqs[BP__AIO_MAX_DEPTH];
    uint8_t deferred[BP__AIO_MAX_DEPTH]; /* bp__aio_slot_ready after send */
    struct bp__aio *a;
    unsigned started = 0;
    int rc = 0;

    if (n == 0)
        return 0;
    if (!(a = bp__aio_state(p, &rc)))
        return rc;
    /* one thread at a time prepares and sends sqes, so the batch sent is
     * exactly this call's (a second prefetcher waits its turn) */
    bp__lock(p, &a->a_prep_lock, BP__RANK_ALLOC);
    for (size_t i = 0; i < n && started < a->a_depth; i++) {
        rc = bp__aio_prefetch_one(p, a, pgnos[i], scan, &reqs[started],
                                  &deferred[started]);
        if (rc < 0)
            break;
        started += (unsigned)rc;
        rc = 0;
    }
#ifdef BP_HAVE_URING
    if (a->a_uring && started > 0) {
        struct io_uring_sqe *sqes[BP__AIO_MAX_DEPTH];
        unsigned nsqe = 0;
        int src = 0;

        /* filled and sent in one hold of a_lock: nobody else can submit
         * a half-filled sqe of ours, and on failure none of them was
         * consumed, so turning them into NOPs is safe */
        bp__lock(p, &a->a_lock, BP__RANK_AIO);
        while (nsqe < started &&
               (sqes[nsqe] = bp__aio_queue_locked(p, a, reqs[nsqe], 0)))
            nsqe++;
        if (nsqe)
            src = bp__aio_submit_locked(a, sqes, nsqe);
        bp__unlock(&a->a_lock, BP__RANK_AIO);
        if (src < 0) /* none sent: take every reservation back */
            nsqe = 0;
        for (unsigned i = 0; i < started; i++) {
            if (deferred[i]) /* copy: the old pages go home */
                bp__aio_slot_ready(p, a, reqs[i], i < nsqe);
            else if (i >= nsqe)
                bp__aio_undo_read(p, a, reqs[i]);
        }
        if (src < 0 && rc == 0)
            rc = bp__fail(p, src, "io_uring submit of read-ahead failed");
        started = nsqe;
    }
#endif
    bp__unlock(&a->a_prep_lock, BP__RANK_ALLOC);
    return started > 0 ? (int)started : rc;
}

int bp__test_aio_hold(bp_pool *p, int on)
{
    struct bp__aio *a;
    int rc;

    if (!p || BP__LOAD(p->state) != BP__OPEN)
        return -EINVAL;
    if (!(a = bp__aio_state(p, &rc)))
        return rc;
    bp__lock(p, &a->a_lock, BP__RANK_AIO);
    __atomic_store_n(&a->a_hold, on != 0, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&a->a_cond);
    bp__unlock(&a->a_lock, BP__RANK_AIO);
    return 0;
}

/* ---- batched writes --------------------------------------------------------- */

#ifdef BP_HAVE_URING
/* Pages of a write batch sent to the disk at once: the first chunk's
 * writes run while the next chunk's pages are copied into buffers. */
#define BP__AIO_WRITE_CHUNK 8u

/* Queue and submit the batch's requests reqs[from, to) (a_lock taken
 * here): *sent becomes to, or stays when the submit failed (none of them
 * went: the caller gives up).  A request left without an sqe keeps res
 * -ECANCELED and is written singly by the caller. */
static int bp__aio_write_send(bp_pool *p, struct bp__aio *a,
                              struct bp__aio_batch *batch,
                              const uint32_t *reqs, unsigned from,
                              unsigned to, unsigned *sent)
{
    struct io_uring_sqe *sqes[BP__AIO_MAX_DEPTH];
    unsigned nsqe = 0;
    int rc = 0;

    bp__lock(p, &a->a_lock, BP__RANK_AIO);
    while (from + nsqe < to &&
           (sqes[nsqe] = bp__aio_queue_locked(p, a, reqs[from + nsqe], 1)))
        nsqe++;
    if (nsqe && (rc = bp__aio_submit_locked(a, sqes, nsqe)) == 0)
        batch->pending += nsqe;
    bp__unlock(&a->a_lock, BP__RANK_AIO);
    if (rc == 0)
        *sent = to;
    return rc;
}
#endif

/* The trailer just stamped into a copy of frame f goes into the frame
 * too, so that a clean frame's checksum holds (a revived cache checks it:
 * bp_shm_revive.c).  The trailer is the library's part of the page; a
 * failure leaves the old trailer, and that frame is dropped, not served. */
#ifdef BP_HAVE_URING
static void bp__aio_trailer_home(bp_pool *p, const char *buf, uint32_t f)
{
    size_t at = p->po_page_size - BP_PAGE_TRAILER;

    (void)bp__sys_shm_pwrite(p->shm_fd, buf + at, BP_PAGE_TRAILER,
                             (off_t)(bp__frame_off(p, f) + at));
}
#endif

int bp__aio_write_batch(bp_pool *p, const uint32_t *frames, int *res,
                        unsigned n)
{
#ifdef BP_HAVE_URING
    struct bp__aio_batch batch = {0};
    uint32_t reqs[BP__AIO_MAX_DEPTH];
    uint64_t max_lsn = 0, t_done;
    struct bp__aio *a;
    unsigned got = 0, sent = 0;
    size_t psz = p->po_page_size;
    int rc = 0;

    if (n == 0)
        return 0;
    if (strcmp(p->io->name, "io_uring") != 0) /* no ring to batch on: */
        return -ENOTSUP;       /* the caller writes one at a time */
    if (!(a = bp__aio_state(p, &rc)) || !a->a_uring || n > a->a_depth)
        return -ENOTSUP;
    /* copy every frame into a buffer, stamp it, note the highest LSN; each
     * BP__AIO_WRITE_CHUNK pages go to the disk at once (after the WAL rule
     * for their highest LSN), so the disk works while the rest are copied
     * (copy backend: one pread from the shm file each) */
    for (; got < n; got++) {
        uint32_t r = bp__aio_get(p, a, 1);
        uint64_t pgno = BP__LOAD(p->frames[frames[got]].fr_pgno);
        char *buf;

        if (r == BP__NONE) {
            rc = -ECANCELED;
            break;
        }
        reqs[got] = r;
        a->a_reqs[r] = (struct bp__aio_req){.pgno = pgno,
                                            .frame = frames[got],
                                            .slot = BP__NONE,
                                            .op = BP__AIO_WRITE,
                                            .res = -ECANCELED,
                                            .batch = &batch,
                                            .t0 = bp__clock_ns()};
        buf = bp__aio_target(a, p, r); /* linear: the frame, latched */
        if (!bp__aio_direct(p) &&
            (rc = bp__shm_pread(p, buf, frames[got])) != 0) {
            got++;
            break;
        }
        if (p->po_wal_fn) {
            uint64_t lsn;

            memcpy(&lsn, buf + p->po_wal_offset, sizeof lsn);
            if (lsn > max_lsn)
                max_lsn = lsn;
        }
        bp__io_stamp(p, buf, pgno);
        if (p->po_checksums && !bp__aio_direct(p))
            bp__aio_trailer_home(p, buf, frames[got]);
        if (got + 1 - sent < BP__AIO_WRITE_CHUNK && got + 1 < n)
            continue;
        if (max_lsn) /* the WAL rule, once per chunk */
            rc = bp__io_wal_before(p, max_lsn, a->a_reqs[reqs[sent]].pgno);
        max_lsn = 0;
        if (rc == 0)
            rc = bp__aio_write_send(p, a, &batch, reqs, sent, got + 1,
                                    &sent);
        if (rc) {
            got++;
            break;
        }
    }
    bp__park(BP__PARK_FLUSH); /* O_DIRECT writes in flight */
    bp__lock(p, &a->a_lock, BP__RANK_AIO);
    while (batch.pending > 0)
        pthread_cond_wait(&a->a_cond, &a->a_lock);
    bp__unlock(&a->a_lock, BP__RANK_AIO);
    t_done = bp__clock_ns();
    for (unsigned i = 0; i < got; i++) {
        struct bp__aio_req *q = &a->a_reqs[reqs[i]];

        if (i >= sent) /* never sent: every such page stays dirty */
            res[i] = rc ? rc : -ECANCELED;
        else if (q->res == (int)psz)
            res[i] = 0;
        else /* short: written again; no sqe: -ECANCELED, written singly */
            res[i] = q->res < 0 ? q->res : -EIO;
        if (res[i] == 0) {
            bp__io_wrote(p, q->pgno);
            BP_STAT(p, batch_writes);
            BP_STAT_ADD(p, write_ns, t_done - q->t0);
        }
        bp__lock(p, &a->a_lock, BP__RANK_AIO);
        bp__aio_put_locked(a, reqs[i]);
        bp__unlock(&a->a_lock, BP__RANK_AIO);
    }
    for (unsigned i = got; i < n; i++)
        res[i] = rc ? rc : -ECANCELED;
    return 0;
#else
    (void)p;
    (void)frames;
    (void)res;
    (void)n;
    return -ENOTSUP;
#endif
}
