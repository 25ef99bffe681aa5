/*
 * bp_flush.c - write-back of dirty frames in batches: bp_flush, the
 * background flusher's rounds, and the flusher thread.
 *
 * Owns: the flusher thread and its stop flag (p->flusher*), and the order
 * of a flush: frames latched shared, written in batches through the
 * asynchronous engine (bp_aio.c), then one fdatasync before any frame is
 * called clean.  A flusher round writes the same way but calls a frame
 * clean as soon as its write completed, and leaves the fdatasync to the
 * next flush.  The flush lock in the shm file (sh_flush_lock) lets one
 * flush or flusher round run at a time in the whole cache; a round is
 * skipped, never waited for, when a flush holds it.
 *
 * Invariants: a frame is clean only after its write completed in full; a
 * flush calls it clean only after a later sync succeeded too (WB marks
 * "written, not yet synced").  sh_needs_sync is set before any write and
 * cleared only by the flush that syncs, so a flush after a flusher round
 * or an eviction syncs what they wrote, even with no page dirty.  After a
 * failed sync every later flush fails (sh_sync_err is sticky), so no
 * caller is told a page is durable that is not.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "pool/pool_impl.h"
#include "platform/bp_testing.h"

#define BP__FLUSHER_PERIOD_NS 5000000L

/* Latch frame f shared for writing it out: 1, 0 = not dirty any more, or
 * an error of the wait.  Counted in this process's unnamed latches (a
 * shared cache: bp_shared.h pr_anon) until bp__cache_write_some lets it
 * go. */
static int bp__flush_latch(bp_pool *p, uint32_t f)
{
    uint64_t *w = bp__word(p, f);
    int rc;

    bp__anon_add(p, 1);
    for (;;) {
        uint64_t v = bp_w_load(w);

        if ((v & (BP_W_DIRTY | BP_W_WB)) != BP_W_DIRTY)
            break;
        if (bp_w_latch(v) < BP_LATCH_MAX_SHARED) {
            if (bp_w_cas(w, &v, v + BP_W_SHARED_ONE))
                return 1;
            continue;
        }
        /* a writer or I/O: wait for it */
        if ((rc = bp__latch_wait(p, w, v)) != 0) {
            bp__anon_add(p, -1);
            return rc;
        }
    }
    bp__anon_add(p, -1);
    return 0;
}

/* Write the n frames of f[] (each latched shared by us) and release them,
 * when written, marked WB (bp_flush: clean after its sync) or, with clean,
 * clean at once (the flusher: the shared latch kept their bytes as
 * written; sh_needs_sync stays set for the next flush).  One io_uring
 * batch when the engine has one, else one at a time.  A frame whose
 * batched write failed or came back short is written again alone (that
 * path continues short transfers).  Returns 0 or the first error; frames
 * not written stay dirty. */
static int bp__cache_write_some(bp_pool *p, const uint32_t *f, unsigned n,
                                int clean)
{
    int res[BP__AIO_MAX_DEPTH], rc = 0;

    /* needs_sync first: a flush that finds these frames WB (written) syncs
     * even if this process dies before it would have set it */
    bp__data_will_write(p);
    if (bp__aio_write_batch(p, f, res, n) != 0) { /* parks after sending */
        bp__park(BP__PARK_FLUSH);
        for (unsigned i = 0; i < n; i++)
            res[i] = -ECANCELED;
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t set = 0, clear = 0;

        if (res[i] != 0)
            res[i] = bp__cache_write_frame(p, f[i]);
        if (res[i] && !rc)
            rc = res[i];
        if (res[i] == 0 && clean)
            clear = BP_W_DIRTY | BP_W_WB; /* clean now */
        else if (res[i] == 0)
            set = BP_W_WB; /* clean after the flush's sync */
        bp__latch_release(bp__word(p, f[i]), 0, set, clear);
        bp__anon_add(p, -1);
    }
    return rc;
}

/* Write the dirty frames among n frames from start (wrapping), in batches
 * of the I/O depth, marking them as bp__cache_write_some does with clean;
 * *wrote counts them.  The caller holds flush_lock. */
static int bp__cache_write_range(bp_pool *p, uint64_t start, uint64_t n,
                                 uint64_t *wrote, int clean)
{
    uint32_t batch[BP__AIO_MAX_DEPTH];
    unsigned nb = 0, depth = p->po_io_depth;
    int rc = 0;

    /* A batch keeps its frames latched shared until it is written: at most
     * a quarter of the window's slots (and an eighth of the cache), so the
     * fixes of other threads still find slots and frames to replace (a
     * batch of the whole depth made fixes fail with BP_ENOSLOT in small
     * windows). */
    if (depth > p->nslots / 4)
        depth = p->nslots / 4;
    if (depth > p->nframes / 8)
        depth = (unsigned)(p->nframes / 8);
    if (depth < 1)
        depth = 1;

    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint32_t f = (uint32_t)((start + i) % p->nframes);

        if (!(bp_w_load(bp__word(p, f)) & BP_W_DIRTY))
            continue;
        if ((rc = bp__flush_latch(p, f)) <= 0) {
            if (rc == 0)
                continue;
            break; /* the batch so far is still written below */
        }
        rc = 0;
        batch[nb++] = f;
        if (nb == depth) {
            rc = bp__cache_write_some(p, batch, nb, clean);
            *wrote += nb;
            nb = 0;
        }
    }
    if (nb) {
        int rc2 = bp__cache_write_some(p, batch, nb, clean);

        *wrote += nb;
        if (!rc)
            rc = rc2;
    }
    return rc;
}

/* fdatasync if anything was written since the last one, then settle the
 * WB frames: clean after a good sync, dirty again after a failed one. */
static int bp__cache_sync_settle(bp_pool *p, int rc)
{
    if (rc == 0 &&
        __atomic_exchange_n(&p->meta->sh_needs_sync, 0, __ATOMIC_ACQ_REL)) {
        if ((rc = p->io->sync(p)) != 0) {
            /* the kernel may have dropped what was written: from now on no
             * flush can vouch for those pages (PostgreSQL PANICs here) */
            __atomic_store_n(&p->meta->sh_needs_sync, 1, __ATOMIC_RELEASE);
            __atomic_store_n(&p->meta->sh_sync_err, -rc, __ATOMIC_RELEASE);
            bp__fail(p, rc, "fdatasync of the data file failed; pages stay "
                     "dirty and the pool refuses further writes (BP_ESYNC)");
        } else {
            BP_STAT(p, syncs);
            if (p->shared) /* what a later revival compares with */
                bp__data_stat_note(p);
        }
    }
    for (uint64_t i = 0; i < p->nframes; i++) {
        uint64_t *w = bp__word(p, i), v = bp_w_load(w);

        while ((v & BP_W_WB) &&
               !bp_w_cas(w, &v, v & ~(rc ? BP_W_WB : BP_W_WB | BP_W_DIRTY)))
            ;
    }
    return rc;
}

static int bp__sync_failed(bp_pool *p, int err)
{
    return bp__fail(p, BP_ESYNC, "an earlier fdatasync failed (%s): no write "
                    "is acknowledged any more; close, check the device and "
                    "reopen", strerror(err));
}

/* Write every dirty frame once (marking it WB) in batches, fdatasync, then
 * mark the written frames clean.  Holds no mutex but flush_lock while
 * waiting for a writer's latch.  A failure leaves every unsynced frame
 * dirty. */
int bp__flush_all(bp_pool *p)
{
    int rc, err = BP__LOAD(p->meta->sh_sync_err);
    uint64_t wrote = 0;

    if (err)
        return bp__sync_failed(p, err);
    if ((rc = bp__shlock_for(p, &p->meta->sh_flush_lock, BP__RANK_FLUSH,
                             p->po_wait_ms)) != 0)
        return rc;
    rc = bp__window_writeback(p);
    if (rc == 0)
        rc = bp__cache_write_range(p, 0, p->nframes, &wrote, 0);
    rc = bp__cache_sync_settle(p, rc);
    bp__shunlock(p, &p->meta->sh_flush_lock, BP__RANK_FLUSH);
    return rc;
}

/* The background flusher's round: the dirty frames among the n ahead of
 * the CLOCK hand are written in batches and marked clean, so the hand finds
 * them clean.  No fdatasync: as a dirty victim an eviction writes, they
 * are durable at the next bp_flush, whose sync sh_needs_sync (set before
 * the writes) calls for.  Skipped while a bp_flush runs (it does the same)
 * and after a sync error. */
int bp__flush_ahead(bp_pool *p, uint64_t start, uint64_t n)
{
    uint64_t wrote = 0;
    int rc;

    if (BP__LOAD(p->meta->sh_sync_err))
        return 0;
    if (!bp__shtrylock(p, &p->meta->sh_flush_lock, BP__RANK_FLUSH))
        return 0;
    rc = bp__cache_write_range(p, start, n, &wrote, 1);
    if (wrote) {
        BP_STAT(p, flusher_rounds);
        if (rc == 0)
            BP_STAT_ADD(p, flusher_pages, wrote);
    }
    bp__shunlock(p, &p->meta->sh_flush_lock, BP__RANK_FLUSH);
    return rc;
}

/* ---- the background flusher ---------------------------------------------- */

static void *bp__flusher_main(void *arg)
{
    bp_pool *p = arg;

    pthread_mutex_lock(&p->flusher_lock);
    while (!p->flusher_stop) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += BP__FLUSHER_PERIOD_NS;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->flusher_cond, &p->flusher_lock, &ts);
        if (p->flusher_stop)
            break;
        pthread_mutex_unlock(&p->flusher_lock);
        {
            uint64_t n = p->nframes * p->po_flusher_pct / 100;
            uint64_t start = __atomic_load_n(&p->meta->sh_clock,
                                             __ATOMIC_RELAXED) % p->nframes;

            if (n == 0)
                n = 1;
            (void)bp__flush_ahead(p, start, n);
        }
        pthread_mutex_lock(&p->flusher_lock);
    }
    pthread_mutex_unlock(&p->flusher_lock);
    return NULL;
}

int bp__flusher_start(bp_pool *p)
{
    int rc;

    if (!p->po_flusher_pct || p->flusher_on)
        return 0;
    if ((rc = bp__aio_start(p)) != 0) /* its rounds write in batches */
        return rc;
    pthread_mutex_init(&p->flusher_lock, NULL);
    pthread_cond_init(&p->flusher_cond, NULL);
    p->flusher_stop = 0;
    if ((rc = pthread_create(&p->flusher, NULL, bp__flusher_main, p)) != 0) {
        pthread_cond_destroy(&p->flusher_cond);
        pthread_mutex_destroy(&p->flusher_lock);
        return bp__fail(p, -rc, "cannot start the flusher thread");
    }
    p->flusher_on = 1;
    return 0;
}

void bp__flusher_stop(bp_pool *p)
{
    if (!p->flusher_on)
        return;
    if (p->forked) { /* bp_fork.c: the parent's thread is not here, and its
                        lock and condition may be mid-use: left alone */
        p->flusher_on = 0;
        return;
    }
    pthread_mutex_lock(&p->flusher_lock);
    p->flusher_stop = 1;
    pthread_cond_broadcast(&p->flusher_cond);
    pthread_mutex_unlock(&p->flusher_lock);
    pthread_join(p->flusher, NULL);
    pthread_cond_destroy(&p->flusher_cond);
    pthread_mutex_destroy(&p->flusher_lock);
    p->flusher_on = 0;
    p->flusher_stop = 0;
}
