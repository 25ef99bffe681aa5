/*
 * bp_cache.c - the cache tier: frames in the shm file and the page table.
 *
 * Owns (shared, in the shm file): struct bp__frame[], the free-frame
 * counter and the frame CLOCK hand (both atomic); the scan ring of frames;
 * which frame holds which page (through the partitioned page table,
 * bp_ptab.c); the write of a dirty victim (bp__cache_write_frame;
 * batched write-back and flush are bp_flush.c's).  No lock of its own: a
 * frame is taken BUSY by CAS before it changes page, and BUSY is what
 * keeps two misses on one page apart.
 *
 * Frame states:
 *
 *   FREE --cache_get (BUSY)--> RESERVED --filled, BUSY released--> VALID
 *     ^                           |                                  |
 *     +--------discard------------+<---evict (BUSY; write if DIRTY)---+
 *
 * Invariants:
 *  - A frame is in the page table iff fr_pgno != BP__NOPAGE; both change
 *    only with the frame BUSY, under the page's partition lock.  A miss
 *    re-checks the table when it inserts: if another thread cached the page
 *    meanwhile, its frame goes back and it retries.
 *  - Frames [0, sh_free_top) were never used; they are handed out from the
 *    top down, so a cache larger than 4 GiB puts its first pages above the
 *    4 GiB offset at once (the 32-bit tests rely on it).
 *  - A frame is evicted only from latch 0 (CAS to BUSY).  In a private
 *    pool only when no slot maps it, or one slot of this process does
 *    (evicted first); in a shared cache other processes' slots on it do
 *    not hold it (they are hints, checked at every fix: bp_window.c).
 *  - A dirty frame is clean only after its write completed in full and a
 *    later fdatasync succeeded (WB marks "written, not yet synced";
 *    dirtying the frame again clears WB).
 *
 * Replacement: CLOCK with usage counts 0..3 (a fix or an optimistic read
 * raises the count, the hand lowers it; with BP_REPLACE_CLOCK the first
 * evictable frame at 0 goes).  BP_REPLACE_ADMIT (the default) adds use
 * counts per page (bp_freq.c): a miss counts its page, the hand counts
 * every frame it finds used since its last pass; the hand offers
 * BP__ADMIT_OFFER frames at 0 and the least used of them is weighed
 * against the oldest newcomer of the admission ring: the newcomer stays
 * (as an ordinary frame) if it was used since it came in or its page was
 * used more often, else it goes.  Scan resistance: a BP_SCAN cache miss
 * takes its frame from a ring of the last frames scans brought in
 * (BP__RING, plus room for the scan's read-ahead in
 * flight), as long as they are still unlatched and not promoted (SCAN
 * bit, cleared by any normal fix), and scan-loaded frames start at usage
 * 0, so a scan many times the cache cycles through a few frames instead
 * of washing out the hot set.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "pool/pool_impl.h"
#include "platform/bp_testing.h"

int bp__cache_write_frame(bp_pool *p, uint32_t f)
{
    uint64_t pgno = BP__LOAD(p->frames[f].fr_pgno);
    unsigned mark = bp__err_mark();
    int rc;

    if ((rc = bp__window_write_frame(p, f, pgno)) != 0)
        return bp__fail_wrap(p, rc, mark, "write of page %" PRIu64 " failed",
                             pgno);
    return 0;
}

/* Whether frame f, whose word read v, may be evicted at all: unlatched,
 * not mapped by two slots of this private pool, and not dirty under a
 * sticky sync error (dirty pages are then no longer written). */
static int bp__frame_evictable(bp_pool *p, uint32_t f, uint64_t v)
{
    return bp_w_latch(v) == 0 &&
           (p->shared || BP__LOAD(p->frames[f].fr_maps) <= 1) &&
           !((v & BP_W_DIRTY) && BP__LOAD(p->meta->sh_sync_err));
}

/* Try to take frame f for eviction: latch 0 -> BUSY, no reader slot on it,
 * and no window slot maps it but possibly one of ours, which is evicted here
 * (under the window lock).  Returns 1 with the frame BUSY and unmapped;
 * the caller then evicts it (bp__frame_evict).
 * With honour_usage a usage count above 0 is lowered instead (CLOCK). */
static int bp__frame_take(bp_pool *p, uint32_t f, int honour_usage)
{
    uint64_t *w = bp__word(p, f), v = bp_w_load(w);
    int rc = 0;

    if (!bp__frame_evictable(p, f, v))
        return 0;
    if (honour_usage && bp_w_usage(v) > 0) {
        (void)bp_w_cas(w, &v, bp_w_set_usage(v, bp_w_usage(v) - 1));
        return 0;
    }
    if (!bp__take(p, w, &v, BP_LATCH_BUSY))
        return 0;
    if (bp__readers_hold(p, f)) /* a shared fix through a reader slot */
        goto give_back;
    /* BUSY: nobody maps or unmaps the frame now, fr_maps is stable.  A
     * shared cache keeps no fr_maps: our slot for the frame's page is
     * looked up (a slot is published only while its frame is BUSY, so no
     * slot of ours can start showing it now); other processes' slots
     * become stale hints, which their fixes detect (bp_window.c). */
    if (p->shared) {
        if (bp__window_slot_of_frame(p, f) != BP__NONE) {
            uint32_t s;

            bp__lock(p, &p->lock, BP__RANK_MISS);
            s = bp__window_slot_of_frame(p, f);
            rc = s == BP__NONE ? 0
                               : bp__window_evict_busy_locked(p, s, NULL);
            bp__unlock(&p->lock, BP__RANK_MISS);
            if (rc)
                goto give_back;
        }
    } else if (BP__LOAD(p->frames[f].fr_maps) == 1) {
        uint32_t s;

        bp__lock(p, &p->lock, BP__RANK_MISS);
        s = bp__window_slot_of_frame(p, f);
        if (s != BP__NONE && !(bp_w_load(w) & BP_W_DIRTY) &&
            BP__LOAD(p->slots[s].sl_dirty) == BP__SL_HOME)
            /* copy: bytes read into the slot, never copied into this
             * clean frame, which the caller now discards: no copy */
            BP__STORE(p->slots[s].sl_dirty, 0);
        rc = s == BP__NONE ? -1 /* another process maps it */
                           : bp__window_evict_busy_locked(p, s, NULL);
        bp__unlock(&p->lock, BP__RANK_MISS);
        if (rc)
            goto give_back;
    }
    return 1;
give_back:
    bp__latch_release(w, 2, 0, 0);
    return 0;
}

/* Write back and forget the page of BUSY frame f (no lock held: the write
 * can take a while; fixers of the page wait on BUSY meanwhile). */
static int bp__frame_evict(bp_pool *p, uint32_t f)
{
    int rc;

    if (BP__LOAD(p->frames[f].fr_pgno) == BP__NOPAGE)
        return 0;
    if (bp_w_load(bp__word(p, f)) & BP_W_DIRTY) {
        /* needs_sync before DIRTY goes: should this process die between
         * the two, a later flush still syncs what was written */
        bp__data_will_write(p);
        bp__park(BP__PARK_EVICT);
        if ((rc = bp__cache_write_frame(p, f)) != 0)
            return rc;
        __atomic_and_fetch(bp__word(p, f), ~(BP_W_DIRTY | BP_W_WB),
                           __ATOMIC_ACQ_REL);
    }
    bp__ptab_discard(p, f);
    BP_STAT(p, frame_evictions);
    return 0;
}

static int bp__no_frame(bp_pool *p)
{
    return bp__fail(p, BP_ENOFRAME, "all %" PRIu64 " cache frames are fixed "
                    "or mapped: unfix pages or use a larger cache",
                    p->nframes);
}

#define BP__ADMIT_OFFER 4 /* frames at usage 0 the hand offers per miss */

/* The hand's next candidates: up to BP__ADMIT_OFFER frames at usage 0
 * that look evictable (bp__frame_evictable).  A frame above 0 has its
 * usage lowered, and its page counted if the usage was at the top (used
 * since the hand's last pass: one count per pass, however many uses).
 * *steps counts the hand's moves. */
static unsigned bp__frame_offer(bp_pool *p, uint32_t *out, uint64_t *steps,
                                uint64_t max_steps)
{
    unsigned got = 0;

    while (got < BP__ADMIT_OFFER && *steps < max_steps) {
        uint32_t f = (uint32_t)(__atomic_fetch_add(&p->meta->sh_clock, 1,
                                                   __ATOMIC_RELAXED) %
                                p->nframes);
        uint64_t *w = bp__word(p, f), v = bp_w_load(w);

        ++*steps;
        if (!bp__frame_evictable(p, f, v))
            continue;
        if (bp_w_usage(v) > 0) {
            /* at the top: used since the hand last lowered it */
            if (bp_w_cas(w, &v, bp_w_set_usage(v, bp_w_usage(v) - 1)) &&
                bp_w_usage(v) == BP_W_USAGE_MAX)
                bp__freq_count(p, BP__LOAD(p->frames[f].fr_pgno));
            continue;
        }
        out[got++] = f;
    }
    return got;
}

/* BP_REPLACE_ADMIT's victim for a miss of pgno, returned BUSY and empty:
 * the oldest newcomer, unless it was used since it came in or its page
 * was counted more than the least counted frame the hand offers, which
 * then goes instead; pgno's frame becomes the newest newcomer. */
static int bp__frame_admit(bp_pool *p, uint64_t pgno, uint32_t *frame)
{
    uint64_t steps = 0, max_steps = (BP_W_USAGE_MAX + 2) * p->nframes + 1;
    uint32_t pos, nf = BP__NONE;
    uint64_t e = bp__admit_take(p, &pos);
    int rc;

    if (e != BP__ADMIT_EMPTY && (uint32_t)(e >> 32) < p->nframes) {
        uint32_t f = (uint32_t)(e >> 32);
        uint64_t pg = BP__LOAD(p->frames[f].fr_pgno);

        if (pg != BP__NOPAGE && (uint32_t)pg == (uint32_t)e)
            nf = f; /* still the page it came in with */
    }
    while (steps < max_steps) {
        uint32_t offer[BP__ADMIT_OFFER], order[2], m = BP__NONE;
        unsigned got = bp__frame_offer(p, offer, &steps, max_steps), k = 0,
                 mu = 0;

        for (unsigned i = 0; i < got; i++) {
            unsigned u;

            if (offer[i] == nf)
                continue;
            u = bp__freq_of(p, BP__LOAD(p->frames[offer[i]].fr_pgno));
            if (m == BP__NONE || u < mu) {
                m = offer[i];
                mu = u;
            }
        }
        if (nf != BP__NONE && m != BP__NONE &&
            (bp_w_usage(bp_w_load(bp__word(p, nf))) > 1 ||
             bp__freq_of(p, BP__LOAD(p->frames[nf].fr_pgno)) > mu)) {
            /* the newcomer was used since it came in, or more often
             * before: it stays */
            order[k++] = m;
            order[k++] = nf;
        } else {
            if (nf != BP__NONE)
                order[k++] = nf;
            if (m != BP__NONE)
                order[k++] = m;
        }
        for (unsigned i = 0; i < k; i++) {
            uint32_t f = order[i];

            if (!bp__frame_take(p, f, 0))
                continue;
            if ((rc = bp__frame_evict(p, f)) != 0) {
                bp__latch_release(bp__word(p, f), 2, 0, 0);
                return rc;
            }
            if (nf != BP__NONE) {
                if (f == nf)
                    BP_STAT(p, admit_dropped);
                else
                    BP_STAT(p, admit_kept);
            }
            bp__admit_put(p, pos, f, pgno);
            *frame = f;
            return 0;
        }
        nf = BP__NONE; /* fixed or taken meanwhile: in use, not a newcomer
                          to weigh any more */
    }
    return bp__no_frame(p);
}

/* A victim frame, returned BUSY and empty.  *ring is the scan ring
 * position to record the new page in (scan misses). */
static int bp__frame_victim(bp_pool *p, uint64_t pgno, int scan,
                            uint32_t *frame, uint32_t *ring)
{
    struct bp__shm_hdr *h = p->meta;
    uint64_t n = p->nframes, top = __atomic_load_n(&h->sh_free_top,
                                                    __ATOMIC_ACQUIRE);
    int rc;

    if (p->po_replacement == BP_REPLACE_ADMIT)
        bp__freq_count(p, pgno); /* a miss is a use */

    while (top > 0 && !__atomic_compare_exchange_n(&h->sh_free_top, &top,
                                                    top - 1, 0,
                                                    __ATOMIC_ACQ_REL,
                                                    __ATOMIC_ACQUIRE))
        ;
    if (top > 0) { /* never used: from the top of the file down */
        uint32_t f = (uint32_t)(top - 1);
        uint64_t *w = bp__word(p, f), v = bp_w_load(w);

        /* by CAS like any taker: once the counter reads 0, another thread's
         * CLOCK hand may reach this frame before we latch it; then it is
         * theirs and we go on to the CLOCK ourselves */
        if (bp_w_latch(v) == 0 &&
            bp__take(p, w, &v, BP_LATCH_BUSY)) {
            /* Still never used?  Another thread's hand may have taken it,
             * filled it and let it go before our load: then it holds that
             * thread's page (in the page table, maybe in a slot), and
             * taking it here as empty would leave a stale chain entry. */
            if (BP__LOAD(p->frames[f].fr_pgno) == BP__NOPAGE &&
                (p->shared || BP__LOAD(p->frames[f].fr_maps) == 0)) {
                *frame = f;
                return 0;
            }
            bp__latch_release(w, 2, 0, 0); /* theirs: to the CLOCK */
        }
    }
    /* recycle the oldest frame of the scan ring that can be taken: frames
     * still being read ahead (BUSY) or fixed are passed over, so that a
     * read-ahead window in flight does not send the scan to the CLOCK,
     * whose hand would take hot frames */
    for (unsigned k = 0; scan && k < p->ring_frames_len; k++) {
        uint32_t pos = __atomic_fetch_add(&p->ring_frame_pos, 1,
                                          __ATOMIC_RELAXED) %
                       p->ring_frames_len;
        uint32_t f = __atomic_load_n(&p->ring_frames[pos], __ATOMIC_ACQUIRE);

        if (k == 0)
            *ring = pos; /* where a frame from the CLOCK is recorded */
        if (f < n && (bp_w_load(bp__word(p, f)) & BP_W_SCAN) &&
            bp__frame_take(p, f, 0)) {
            if ((rc = bp__frame_evict(p, f)) != 0) {
                bp__latch_release(bp__word(p, f), 2, 0, 0);
                return rc;
            }
            BP_STAT(p, scan_recycles);
            *ring = pos;
            *frame = f;
            return 0;
        }
    }
    if (p->po_replacement == BP_REPLACE_ADMIT && !scan)
        return bp__frame_admit(p, pgno, frame);
    for (uint64_t i = 0; i < (BP_W_USAGE_MAX + 2) * n + 1; i++) {
        uint32_t f = (uint32_t)(__atomic_fetch_add(&h->sh_clock, 1,
                                                   __ATOMIC_RELAXED) % n);

        if (!bp__frame_take(p, f, 1))
            continue;
        if ((rc = bp__frame_evict(p, f)) != 0) {
            bp__latch_release(bp__word(p, f), 2, 0, 0);
            return rc;
        }
        *frame = f;
        return 0;
    }
    return bp__no_frame(p);
}

int bp__cache_get(bp_pool *p, uint64_t pgno, enum bp__get how, int scan,
                  uint32_t *frame, enum bp__need *need, uint64_t **wait,
                  uint64_t *seen, int *held)
{
    uint32_t f, ring = BP__NONE;
    uint64_t gen = 0;
    unsigned part;
    int rc;

    if (how != BP__GET_FRESH) {
        part = bp__ptab_lock(p, pgno);
        gen = bp__ptab_gen_locked(p, part);
        if ((f = bp__ptab_find_locked(p, pgno)) != BP__NONE) {
            uint64_t *w = bp__word(p, f), v = bp_w_load(w);

            /* cached: take it BUSY while it is mapped; latched (a flush,
             * another miss): wait and retry.  In a shared cache a frame
             * latched shared may be another process's fix, held for long:
             * a shared latch of ours keeps it just as well while our slot
             * is mapped to it (held 0). */
            if (held && p->shared && bp_w_latch(v) != 0 &&
                bp_w_latch(v) < BP_LATCH_MAX_SHARED) {
                bp__anon_add(p, 1); /* an unnamed latch (bp_shared.h) */
                while ((rc = bp_w_latch(v) != 0 &&
                             bp_w_latch(v) < BP_LATCH_MAX_SHARED) &&
                       !bp_w_cas(w, &v, v + BP_W_SHARED_ONE))
                    ;
                if (!rc)
                    bp__anon_add(p, -1);
                if (rc) {
                    bp__ptab_unlock(p, part);
                    BP_STAT(p, cache_hits);
                    *frame = f;
                    *need = BP__NEED_NOTHING;
                    *held = 0;
                    return 0;
                }
            }
            rc = bp_w_latch(v) == 0 &&
                 bp__take(p, w, &v, BP_LATCH_BUSY);
            bp__ptab_unlock(p, part);
            if (!rc) {
                *wait = w;
                *seen = v;
                return BP__WAIT;
            }
            BP_STAT(p, cache_hits);
            *frame = f;
            *need = BP__NEED_NOTHING;
            if (held)
                *held = 2;
            return 0;
        }
        bp__ptab_unlock(p, part);
        if (how == BP__GET_CACHED)
            return BP_ENOTCACHED; /* BP_NOWAIT: no read started */
        if (how != BP__GET_AHEAD) /* read-ahead counts once it has a slot */
            BP_STAT(p, cache_misses);
        if (how == BP__GET_READ) /* a fix miss: its read can start now */
            bp__io_early_start(p, pgno, gen);
    }
    if ((rc = bp__frame_victim(p, pgno, scan, &f, &ring)) != 0)
        return rc;
    part = bp__ptab_lock(p, pgno);
    if (how != BP__GET_FRESH && bp__ptab_find_locked(p, pgno) != BP__NONE) {
        /* another thread cached the page meanwhile: ours goes back */
        bp__ptab_unlock(p, part);
        bp__latch_release(bp__word(p, f), 2, 0, 0);
        *wait = NULL;
        return BP__WAIT;
    }
    if (how == BP__GET_READ)
        bp__io_early_insert(p, pgno, bp__ptab_gen_locked(p, part));
    BP__STORE(p->frames[f].fr_pgno, pgno);
    bp__ptab_insert_locked(p, pgno, f);
    bp__ptab_unlock(p, part);
    if (scan) {
        __atomic_or_fetch(bp__word(p, f), BP_W_SCAN, __ATOMIC_ACQ_REL);
        if (ring == BP__NONE)
            ring = __atomic_fetch_add(&p->ring_frame_pos, 1,
                                      __ATOMIC_RELAXED) % p->ring_frames_len;
        __atomic_store_n(&p->ring_frames[ring], f, __ATOMIC_RELEASE);
    }
    *frame = f;
    *need = how == BP__GET_FRESH || how == BP__GET_OVERWRITE
                ? BP__NEED_ZERO /* new, or its old bytes not wanted */
                : BP__NEED_READ;
    if (held)
        *held = 2;
    return 0;
}

int bp__cache_map_begin(bp_pool *p, uint64_t pgno, enum bp__get how,
                        int scan, struct bp__mapping *m, uint64_t **wait,
                        uint64_t *seen)
{
    int rc = bp__cache_get(p, pgno, how, scan, &m->frame, &m->need, wait,
                           seen, &m->held);

    return rc ? rc : bp__window_map_begin(p, pgno, how, scan, m, wait);
}

/* bp_truncate: forget every cached page at or beyond pages, dirty or not,
 * without writing it.  Each such frame is taken BUSY as for an eviction
 * (a slot of ours on it is unmapped; other processes' slots become stale
 * hints) and emptied.  A frame that stays latched (fixed, being read or
 * written out) for about a second gives -EBUSY; sh_data_pages is already
 * below it then, so no new fix can reach it. */
/* Another half millisecond for the frame of pgno, or -EBUSY after about
 * a second of them. */
static int bp__trunc_wait(bp_pool *p, unsigned tries, uint64_t pgno)
{
    if (tries == 2000)
        return bp__fail(p, -EBUSY, "page %" PRIu64 " is fixed or in "
                        "flight: it cannot be truncated away", pgno);
    nanosleep(&(struct timespec){0, 500000}, NULL);
    return 0;
}

int bp__cache_truncate(bp_pool *p, uint64_t pages)
{
    int rc;

    /* First wait, without taking anything, until no frame at or beyond
     * pages is latched, mapped twice or held by a reader slot: -EBUSY then
     * leaves every page as it was.  (Dropping the frames met before a
     * fixed one would lose their dirty bytes while the file and the page
     * count stay.)  What latches such a frame after this pass (a flush
     * writing it, an eviction scan) lets go soon: the loop below waits. */
    for (uint64_t f = 0; f < p->nframes; f++) {
        for (unsigned tries = 0;; tries++) {
            uint64_t pgno = BP__LOAD(p->frames[f].fr_pgno);
            uint64_t v = bp_w_load(bp__word(p, f));

            if (pgno == BP__NOPAGE || pgno < pages)
                break;
            if (bp_w_latch(v) == 0 &&
                (p->shared || BP__LOAD(p->frames[f].fr_maps) <= 1) &&
                !bp__readers_hold(p, (uint32_t)f))
                break;
            if ((rc = bp__trunc_wait(p, tries, pgno)) != 0)
                return rc;
        }
    }
    for (uint64_t f = 0; f < p->nframes; f++) {
        for (unsigned tries = 0;; tries++) {
            uint64_t pgno = BP__LOAD(p->frames[f].fr_pgno);
            uint64_t *w = bp__word(p, f);

            if (pgno == BP__NOPAGE || pgno < pages)
                break;
            if ((bp_w_load(w) & BP_W_DIRTY) &&
                BP__LOAD(p->meta->sh_sync_err))
                __atomic_and_fetch(w, ~(BP_W_DIRTY | BP_W_WB),
                                   __ATOMIC_ACQ_REL); /* dropped anyway */
            if (bp__frame_take(p, (uint32_t)f, 0)) {
                pgno = BP__LOAD(p->frames[f].fr_pgno);
                if (pgno != BP__NOPAGE && pgno >= pages)
                    bp__ptab_discard(p, (uint32_t)f);
                bp__latch_release(w, 2, 0, 0);
                break;
            }
            if ((rc = bp__trunc_wait(p, tries, pgno)) != 0)
                return rc;
        }
    }
    return 0;
}
