/*
 * bp_cache.c - the cache tier: frames in the shm file and the page table.
 *
 * Owns (shared, in the shm file): struct bp__frame[], the page table
 * (pgno -> frame), the free-frame counter and the frame CLOCK hand; the
 * scan ring of frames; write-back and flush.
 *
 * Frame states:
 *
 *   FREE --cache_get (BUSY)--> RESERVED --filled, BUSY released--> VALID
 *     ^                           |                                  |
 *     +--------discard------------+<---evict (BUSY; write if DIRTY)---+
 *
 * Invariants:
 *  - A frame is in the page table iff fr_pgno != BP__NOPAGE; both change
 *    only under p->lock with the frame BUSY.
 *  - Frames [0, sh_free_top) were never used; they are handed out from the
 *    top down, so a cache larger than 4 GiB puts its first pages above the
 *    4 GiB offset at once (the 32-bit tests rely on it).
 *  - A frame is evicted only from latch 0 (CAS to BUSY), and only when no
 *    slot maps it, or one slot of this process does (evicted first).
 *  - A dirty frame is clean only after its write completed in full and a
 *    later fdatasync succeeded (WB marks "written, not yet synced";
 *    dirtying the frame again clears WB).
 *
 * Replacement: CLOCK with usage counts 0..3 (a fix raises the count, the
 * hand lowers it; the first evictable frame at 0 goes).  Scan resistance:
 * a BP_SCAN cache miss takes its frame from a ring of the last BP__RING
 * frames scans brought in, as long as they are still unlatched and not
 * promoted (SCAN bit, cleared by any normal fix), and scan-loaded frames
 * start at usage 0, so a scan many times the cache cycles through a few
 * frames instead of washing out the hot set.
 */
#include <errno.h>
#include <inttypes.h>

#include "bp_internal.h"

int bp__cache_write_frame(bp_pool *p, uint32_t f)
{
    uint64_t pgno = BP__LOAD(p->frames[f].fr_pgno);
    int rc = bp__window_write_frame(p, f, pgno);

    if (rc)
        return bp__fail(p, rc, "write of page %" PRIu64 " failed", pgno);
    return 0;
}

/* Try to take frame f for eviction: latch 0 -> BUSY, and no slot of any
 * process maps it but possibly one of ours (*s, evicted here).  Returns 1
 * with the frame BUSY and unmapped, 0 when it cannot be had. */
static int bp__frame_take_locked(bp_pool *p, uint32_t f, int honour_usage)
{
    struct bp__frame *fr = &p->frames[f];
    uint64_t w = bp_w_load(bp__word(p, f));
    uint32_t s = BP__NONE, maps = BP__LOAD(fr->fr_maps);

    if (bp_w_latch(w) != 0 || maps > 1)
        return 0;
    if (maps == 1 && (s = bp__window_slot_of_frame(p, f)) == BP__NONE)
        return 0; /* mapped by another process */
    if (honour_usage && bp_w_usage(w) > 0) {
        (void)bp_w_cas(bp__word(p, f), &w, bp_w_set_usage(w, bp_w_usage(w) - 1));
        return 0;
    }
    if (!bp_w_cas(bp__word(p, f), &w, bp_w_set_latch(w, BP_LATCH_BUSY)))
        return 0;
    if (bp__readers_hold(p, f)) { /* a shared fix through a reader slot */
        bp__latch_release(bp__word(p, f), 2, 0, 0);
        return 0;
    }
    if (s != BP__NONE && bp__window_evict_busy_locked(p, s, NULL) != 0) {
        bp__latch_release(bp__word(p, f), 2, 0, 0);
        return 0;
    }
    return 1;
}

/* Write back and forget the page of BUSY frame f. */
static int bp__frame_evict_locked(bp_pool *p, uint32_t f)
{
    int rc;

    if (bp_w_load(bp__word(p, f)) & BP_W_DIRTY) {
        if ((rc = bp__cache_write_frame(p, f)) != 0)
            return rc;
        __atomic_and_fetch(bp__word(p, f), ~(BP_W_DIRTY | BP_W_WB),
                           __ATOMIC_ACQ_REL);
        __atomic_store_n(&p->needs_sync, 1, __ATOMIC_RELEASE);
    }
    bp__cache_discard_locked(p, f);
    BP_STAT(p, frame_evictions);
    return 0;
}

/* A victim frame, returned BUSY and empty. */
static int bp__frame_victim_locked(bp_pool *p, int scan, uint32_t *frame)
{
    struct bp__shm_hdr *h = p->meta;
    uint64_t n = p->nframes;
    int rc;

    if (h->sh_free_top > 0) {
        uint32_t f = (uint32_t)--h->sh_free_top;

        bp_w_publish(bp__word(p, f),
                     bp_w_set_latch(bp_w_load(bp__word(p, f)),
                                    BP_LATCH_BUSY));
        *frame = f;
        return 0;
    }
    if (scan) { /* recycle the oldest frame of the scan ring */
        uint32_t f = p->ring_frames[p->ring_frame_pos];

        if (f != BP__NONE && f < n &&
            (bp_w_load(bp__word(p, f)) & BP_W_SCAN) &&
            bp__frame_take_locked(p, f, 0)) {
            if ((rc = bp__frame_evict_locked(p, f)) != 0) {
                bp__latch_release(bp__word(p, f), 2, 0, 0);
                return rc;
            }
            BP_STAT(p, scan_recycles);
            *frame = f;
            return 0;
        }
    }
    for (uint64_t i = 0; i < (BP_W_USAGE_MAX + 2) * n + 1; i++) {
        uint32_t f = (uint32_t)h->sh_clock;

        h->sh_clock = f + 1 == n ? 0 : f + 1;
        if (!bp__frame_take_locked(p, f, 1))
            continue;
        if (BP__LOAD(p->frames[f].fr_pgno) != BP__NOPAGE &&
            (rc = bp__frame_evict_locked(p, f)) != 0) {
            bp__latch_release(bp__word(p, f), 2, 0, 0);
            return rc;
        }
        *frame = f;
        return 0;
    }
    return bp__fail(p, BP_ENOFRAME, "all %" PRIu64 " cache frames are fixed "
                    "or mapped: unfix pages or use a larger cache", n);
}

int bp__cache_get_locked(bp_pool *p, uint64_t pgno, int fresh, int scan,
                         uint32_t *frame, enum bp__need *need,
                         uint64_t **wait, uint64_t *seen)
{
    uint32_t f = fresh ? BP__NONE : bp__htab_find(&p->ptab, pgno);
    int rc;

    if (f != BP__NONE) { /* cached: take it BUSY while it is mapped */
        uint64_t *w = bp__word(p, f), v = bp_w_load(w);

        if (bp_w_latch(v) != 0 ||
            !bp_w_cas(w, &v, bp_w_set_latch(v, BP_LATCH_BUSY))) {
            *wait = w; /* flush or another miss holds it: wait, retry */
            *seen = v;
            return BP__WAIT;
        }
        BP_STAT(p, cache_hits);
        *frame = f;
        *need = BP__NEED_NOTHING;
        return 0;
    }
    if (!fresh)
        BP_STAT(p, cache_misses);
    if ((rc = bp__frame_victim_locked(p, scan, &f)) != 0)
        return rc;
    BP__STORE(p->frames[f].fr_pgno, pgno);
    bp__htab_insert(&p->ptab, pgno, f);
    if (scan) {
        __atomic_or_fetch(bp__word(p, f), BP_W_SCAN, __ATOMIC_ACQ_REL);
        p->ring_frames[p->ring_frame_pos] = f;
        p->ring_frame_pos = (p->ring_frame_pos + 1) % BP__RING;
    }
    *frame = f;
    *need = fresh ? BP__NEED_ZERO : BP__NEED_READ;
    return 0;
}

void bp__cache_discard_locked(bp_pool *p, uint32_t f)
{
    struct bp__frame *fr = &p->frames[f];
    uint64_t pgno = BP__LOAD(fr->fr_pgno);

    if (pgno != BP__NOPAGE)
        bp__htab_remove(&p->ptab, pgno);
    BP__STORE(fr->fr_pgno, BP__NOPAGE);
    __atomic_and_fetch(bp__word(p, f),
                       ~(BP_W_DIRTY | BP_W_WB | BP_W_SCAN | BP_W_USAGE_MASK),
                       __ATOMIC_ACQ_REL);
}

uint64_t bp__cache_dirty_count(bp_pool *p)
{
    uint64_t n = 0;

    for (uint64_t f = 0; f < p->nframes; f++)
        n += !!(bp_w_load(bp__word(p, f)) & BP_W_DIRTY);
    return n;
}

/* Latch frame f shared for writing it out; 0 = not dirty any more. */
static int bp__flush_latch(bp_pool *p, uint32_t f)
{
    uint64_t *w = bp__word(p, f);

    for (;;) {
        uint64_t v = bp_w_load(w);

        if ((v & (BP_W_DIRTY | BP_W_WB)) != BP_W_DIRTY)
            return 0;
        if (bp_w_latch(v) < BP_LATCH_MAX_SHARED) {
            if (bp_w_cas(w, &v, v + BP_W_SHARED_ONE))
                return 1;
            continue;
        }
        bp__latch_wait(w, v); /* a writer or I/O: wait for it */
    }
}

/* Write every dirty frame once (marking it WB), fdatasync, then mark the
 * written frames clean.  Holds no mutex while waiting for a writer's
 * latch.  A failure leaves every unsynced frame dirty. */
int bp__cache_flush(bp_pool *p)
{
    int rc = bp__window_writeback(p);

    for (uint64_t i = 0; rc == 0 && i < p->nframes; i++) {
        uint32_t f = (uint32_t)i;

        if (!(bp_w_load(bp__word(p, f)) & BP_W_DIRTY) ||
            !bp__flush_latch(p, f))
            continue;
        rc = bp__cache_write_frame(p, f);
        bp__latch_release(bp__word(p, f), 0, rc ? 0 : BP_W_WB, 0);
        __atomic_store_n(&p->needs_sync, 1, __ATOMIC_RELEASE);
    }
    if (rc == 0 && __atomic_exchange_n(&p->needs_sync, 0, __ATOMIC_ACQ_REL)) {
        if ((rc = p->io->sync(p)) != 0) {
            __atomic_store_n(&p->needs_sync, 1, __ATOMIC_RELEASE);
            bp__fail(p, rc, "fdatasync of the data file failed; pages stay "
                     "dirty");
        } else {
            BP_STAT(p, syncs);
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
