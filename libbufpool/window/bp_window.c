/*
 * bp_window.c - the window tier: slots in this process's address space
 * through which cache frames are seen.
 *
 * Owns (process-private): p->window, p->slots[], the pgno -> slot table
 * (p->wtab), the slot CLOCK hand, and the I/O slot used to write back frames
 * that no slot maps.  Backends (bp_backend_*.c) only change what a slot
 * shows; this module decides which slot shows what.
 *
 * Slot states and transitions (changes under p->lock):
 *
 *   EMPTY --map_begin--> MAPPED --fix (frame latched)--> FIXED
 *     ^                     |  ^                            |
 *     +--evict (frame BUSY)-+  +---------unfix--------------+
 *
 * Misses map a slot for their fix (map_begin, then map_finish); read-ahead
 * (bp_aio.c) maps one for the page it is about to read (map_begin with
 * BP__GET_AHEAD, then map_slot) and keeps the frame BUSY until the read
 * completes, or undoes the reservation (map_undo) as a failed miss does.
 *
 * Invariants:
 *  - A slot is in wtab iff sl_pgno != BP__NOPAGE.  In a private pool
 *    sl_frame is then the frame holding sl_pgno and counts in that frame's
 *    fr_maps.  In a shared cache the slot is a hint: another process may
 *    have evicted sl_frame and given it to another page (its fr_pgno no
 *    longer sl_pgno: the slot is stale).  Every fix checks fr_pgno once it
 *    holds the frame's latch, and a stale slot is emptied without taking
 *    its frame (bp__window_drop_stale, slot replacement).
 *  - A slot changes page only while its frame is BUSY, so a fix (which
 *    holds a latch on the frame) pins the slot too.  Readers on the hit
 *    path re-check sl_pgno / sl_frame after latching.
 *  - linear backend: slot i is frame i, always.
 *  - An evicted slot may still show its old frame (rfp, mmap): it is not in
 *    wtab, so nobody reaches it until it is remapped.  A pointer kept after
 *    bp_unfix may therefore see another page: using it is the engine's bug.
 *
 * Replacement: CLOCK with one reference bit per slot (set by a hit only
 * when clear, so read-only hits do not write shared lines).  BP_SCAN misses
 * first reuse the slot of the scan ring that scans used longest ago, while
 * it is still unfixed and untouched by a normal fix (BP__REF_SCAN).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "window/window_impl.h"
#include "platform/bp_sys.h"

#define BP__32BIT_WINDOW_MAX (256ull << 20) /* automatic window cap, 32-bit */
#define BP__32BIT_WINDOW_LIMIT (1ull << 30) /* refused above this, 32-bit */

const struct bp__backend_ops *bp__backend_ops_of(bp_backend b)
{
    switch (b) {
    case BP_BACKEND_RFP:
        return &bp__backend_rfp;
    case BP_BACKEND_MMAP:
        return &bp__backend_mmap;
    case BP_BACKEND_COPY:
        return &bp__backend_copy;
    case BP_BACKEND_LINEAR:
        return &bp__backend_linear;
    case BP_BACKEND_KMOD:
        return &bp__backend_kmod;
    default:
        return NULL;
    }
}

/* Number of slots the options ask for, 0 = automatic. */
uint64_t bp__window_slots_asked(const bp_pool *p)
{
    if (p->po_window_slots)
        return p->po_window_slots;
    return p->po_window_bytes / p->po_page_size;
}

static void bp__window_adopt_locked(bp_pool *p);

int bp__window_open(bp_pool *p)
{
    uint64_t n = bp__window_slots_asked(p), psz = p->po_page_size;
    int rc;

    if (p->be->id == BP_BACKEND_LINEAR) {
        n = p->nframes;
    } else if (n == 0) { /* automatic: a quarter of the cache, in budget */
        n = p->nframes / 4 ? p->nframes / 4 : 1;
        if (p->po_addr_budget && n > p->po_addr_budget / psz)
            n = p->po_addr_budget / psz ? p->po_addr_budget / psz : 1;
        if (sizeof(void *) < 8 && n * psz > BP__32BIT_WINDOW_MAX)
            n = BP__32BIT_WINDOW_MAX / psz;
        if (p->be->id == BP_BACKEND_RFP || p->be->id == BP_BACKEND_MMAP) {
            (void)bp__vma_check(p, 0);
            if (p->vma_budget > 2 && n > p->vma_budget - 2)
                n = p->vma_budget - 2;
        }
    } else if ((p->po_window_bytes && p->po_window_bytes % psz) || n == 0) {
        return bp__fail(p, BP_EWINDOW, "window of %" PRIu64 " bytes is not a "
                        "positive multiple of the page size %" PRIu64,
                        p->po_window_bytes, psz);
    }
    if (p->po_addr_budget && n * psz > p->po_addr_budget)
        return bp__fail(p, BP_EWINDOW, "window of %" PRIu64 " bytes is over "
                        "the address budget of %" PRIu64 " bytes "
                        "(bp_set_address_budget)", n * psz,
                        p->po_addr_budget);
    if (n > p->nframes)
        return bp__fail(p, BP_EWINDOW,
                        "window of %" PRIu64 " slots is larger than the cache "
                        "of %" PRIu64 " frames",
                        n, p->nframes);
    if (sizeof(void *) < 8 && n * psz > BP__32BIT_WINDOW_LIMIT)
        return bp__fail(p, BP_EWINDOW,
                        "window of %" PRIu64 " bytes does not fit a 32-bit "
                        "address space: use at most 1 GiB (256 MiB is the "
                        "automatic size)", n * psz);
    if (p->be->id == BP_BACKEND_RFP || p->be->id == BP_BACKEND_MMAP) {
        if ((rc = bp__vma_check(p, n)) != 0)
            return rc;
    } else {
        (void)bp__vma_check(p, 0); /* only fills the numbers for stats */
    }
    p->nslots = (uint32_t)n;
    p->window_bytes = n * psz;
    p->slots = bp__alloc(p, (size_t)n * sizeof *p->slots);
    p->wtab.ht_mask = bp__htab_entries_for(n) - 1;
    p->wtab.ht_shift = 64u - (unsigned)__builtin_popcountll(p->wtab.ht_mask);
    p->wtab_ent = bp__alloc(p, (size_t)(p->wtab.ht_mask + 1) * 4);
    if (!p->slots || !p->wtab_ent)
        return bp__fail(p, -ENOMEM, "no memory for %" PRIu64 " slots", n);
    for (uint64_t i = 0; i < n; i++) {
        p->slots[i].sl_pgno = BP__NOPAGE;
        p->slots[i].sl_frame = BP__NONE;
    }
    p->wtab.ht_ent = p->wtab_ent;
    p->wtab.ht_slots = p->slots;
    if ((rc = p->be->init(p)) == 0 && p->be->id == BP_BACKEND_LINEAR &&
        p->shared) {
        bp__lock(p, &p->lock, BP__RANK_MISS);
        bp__window_adopt_locked(p);
        bp__unlock(&p->lock, BP__RANK_MISS);
    }
    return rc;
}

static void bp__slot_publish_locked(bp_pool *p, uint32_t s, uint32_t f,
                                    uint64_t pgno, int scan);

/* A linear window over a shared cache shows at open every frame that
 * holds a page (cached by other processes, or by a revived cache), so a
 * process that joins starts with window hits.  Its slots are hints like
 * any other: a fix checks the frame's page after latching it. */
static void bp__window_adopt_locked(bp_pool *p)
{
    for (uint32_t f = 0; f < p->nframes; f++) {
        uint64_t pgno = BP__LOAD(p->frames[f].fr_pgno);

        if (pgno != BP__NOPAGE && bp__htab_find(&p->wtab, pgno) == BP__NONE)
            bp__slot_publish_locked(p, f, f, pgno, 0);
    }
}

void bp__window_close(bp_pool *p)
{
    if (p->be)
        p->be->fini(p);
    bp__free(p, p->slots, (size_t)p->nslots * sizeof *p->slots);
    if (p->wtab_ent)
        bp__free(p, p->wtab_ent, (size_t)(p->wtab.ht_mask + 1) * 4);
    p->slots = NULL;
    p->wtab_ent = NULL;
    p->nslots = 0;
}

/* Shared cache: does slot sl show a frame (f) that another process has
 * since given to another page?  Then no fix of ours holds f through it (a
 * fix checks the frame's page after latching, and a latched frame keeps
 * its page), and the slot may be emptied without the frame. */
static int bp__slot_stale(const bp_pool *p, const struct bp__slot *sl,
                          uint32_t f)
{
    return p->shared &&
           BP__LOAD(p->frames[f].fr_pgno) != BP__LOAD(sl->sl_pgno);
}

void bp__window_drop_stale(bp_pool *p, uint32_t s, uint64_t pgno)
{
    struct bp__slot *sl = &p->slots[s];
    uint32_t f;

    bp__lock(p, &p->lock, BP__RANK_MISS);
    f = BP__LOAD(sl->sl_frame);
    if (f != BP__NONE && BP__LOAD(sl->sl_pgno) == pgno &&
        bp__slot_stale(p, sl, f))
        (void)bp__window_evict_busy_locked(p, s, NULL);
    bp__unlock(&p->lock, BP__RANK_MISS);
}

/* Take slot s for reuse: empty, or its frame latch 0 -> BUSY.  With
 * honour_usage a set reference bit is cleared instead (second chance). */
static int bp__slot_take_locked(bp_pool *p, uint32_t s, int honour_usage)
{
    struct bp__slot *sl = &p->slots[s];
    uint32_t f = BP__LOAD(sl->sl_frame);
    uint64_t w;

    if (f == BP__NONE)
        return 1;
    if (bp__slot_stale(p, sl, f)) { /* its frame moved on: free to take */
        (void)bp__window_evict_busy_locked(p, s, NULL);
        return 1;
    }
    if (honour_usage && (BP__LOAD(sl->sl_ref) & BP__REF_USED)) {
        BP__STORE(sl->sl_ref, (uint8_t)(BP__LOAD(sl->sl_ref) & ~BP__REF_USED));
        return 0;
    }
    w = bp_w_load(bp__word(p, f));
    if (bp_w_latch(w) != 0 ||
        !bp__take(p, bp__word(p, f), &w, BP_LATCH_BUSY))
        return 0;
    if (bp__readers_hold(p, f)) { /* a shared fix through a reader slot */
        bp__latch_release(bp__word(p, f), 2, 0, 0);
        return 0;
    }
    return 1;
}

/* A victim slot, evicted from the table.  Its old frame, if any, comes back
 * still BUSY in *old (with *dirty: a private copy to write back), for the
 * caller to finish without p->lock. */
static int bp__slot_victim_locked(bp_pool *p, int scan, uint32_t *slot,
                                  uint32_t *old, int *dirty)
{
    uint32_t s = BP__NONE;
    int rc;

    if (scan) {
        uint32_t r = p->ring_slots[p->ring_slot_pos];

        if (r < p->nslots && (BP__LOAD(p->slots[r].sl_ref) & BP__REF_SCAN) &&
            bp__slot_take_locked(p, r, 0))
            s = r;
    }
    for (uint64_t i = 0; s == BP__NONE && i < 2 * (uint64_t)p->nslots + 1;
         i++) {
        uint32_t c = p->slot_clock;

        p->slot_clock = c + 1 == p->nslots ? 0 : c + 1;
        if (bp__slot_take_locked(p, c, 1))
            s = c;
    }
    if (s == BP__NONE) /* the caller says so (read-ahead: quietly) */
        return BP_ENOSLOT;
    *old = BP__LOAD(p->slots[s].sl_frame);
    *dirty = 0;
    if (*old != BP__NONE &&
        (rc = bp__window_evict_busy_locked(p, s, dirty)) != 0) {
        bp__latch_release(bp__word(p, *old), 2, 0, 0);
        return rc;
    }
    if (scan) {
        p->ring_slots[p->ring_slot_pos] = s;
        p->ring_slot_pos = (p->ring_slot_pos + 1) % BP__RING;
    }
    *slot = s;
    return 0;
}

int bp__window_evict_busy_locked(bp_pool *p, uint32_t s, int *dirty)
{
    struct bp__slot *sl = &p->slots[s];
    uint32_t f = sl->sl_frame;
    int rc;

    if (sl->sl_pgno == BP__NOPAGE)
        return 0;
    if (dirty)
        *dirty = BP__LOAD(sl->sl_dirty);
    else if ((rc = p->be->unmap(p, s, f)) != 0)
        return rc;
    bp__htab_remove(&p->wtab, sl->sl_pgno);
    BP__STORE(sl->sl_pgno, BP__NOPAGE);
    BP__STORE(sl->sl_frame, BP__NONE);
    BP__STORE(sl->sl_gen, (uint16_t)(sl->sl_gen + 1));
    BP__STORE(sl->sl_ref, 0);
    if (!p->shared)
        __atomic_sub_fetch(&p->frames[f].fr_maps, 1, __ATOMIC_ACQ_REL);
    BP_STAT(p, slot_evictions);
    return 0;
}

/* Make slot s stand for pgno in frame f (BUSY): readers that find it wait
 * on the frame until the miss is finished. */
static void bp__slot_publish_locked(bp_pool *p, uint32_t s, uint32_t f,
                                    uint64_t pgno, int scan)
{
    struct bp__slot *sl = &p->slots[s];

    BP__STORE(sl->sl_frame, f);
    BP__STORE(sl->sl_pgno, pgno);
    BP__STORE(sl->sl_gen, (uint16_t)(sl->sl_gen + 1));
    BP__STORE(sl->sl_ref, (uint8_t)(BP__REF_USED | (scan ? BP__REF_SCAN : 0)));
    BP__STORE(sl->sl_dirty, 0);
    if (!p->shared)
        __atomic_add_fetch(&p->frames[f].fr_maps, 1, __ATOMIC_ACQ_REL);
    bp__htab_insert(&p->wtab, pgno, s);
}

/* Let go of a reservation's frame latch: BUSY, or a shared latch counted
 * among this process's unnamed ones (bp__cache_get's held 0). */
static void bp__mapping_let_go(bp_pool *p, const struct bp__mapping *m)
{
    bp__latch_release(bp__word(p, m->frame), m->held, 0, 0);
    if (m->held == 0)
        bp__anon_add(p, -1);
}

int bp__window_map_begin(bp_pool *p, uint64_t pgno, enum bp__get how,
                         int scan, struct bp__mapping *m, uint64_t **wait)
{
    int rc;

    m->old_frame = BP__NONE;
    m->old_dirty = 0;
    if (how == BP__GET_AHEAD && m->need == BP__NEED_NOTHING) {
        /* read-ahead of a cached page: nothing to read */
        bp__mapping_let_go(p, m);
        *wait = NULL;
        return BP__WAIT;
    }
    if (how == BP__GET_FRESH) /* the new page exists once findable */
        BP__STORE(p->meta->sh_data_pages, pgno + 1);
    bp__lock(p, &p->lock, BP__RANK_MISS);
    if (bp__htab_find(&p->wtab, pgno) != BP__NONE) {
        /* mapped by another thread since our window probe: use that */
        bp__unlock(&p->lock, BP__RANK_MISS);
        if (m->need != BP__NEED_NOTHING)
            bp__ptab_discard(p, m->frame);
        bp__mapping_let_go(p, m);
        *wait = NULL;
        return BP__WAIT;
    }
    if (p->be->id == BP_BACKEND_LINEAR) {
        m->slot = m->frame; /* slot f was emptied with its frame, or (in a
                               shared cache) still shows its old page */
        if (p->shared && p->slots[m->slot].sl_frame != BP__NONE)
            (void)bp__window_evict_busy_locked(p, m->slot, NULL);
    } else if ((rc = bp__slot_victim_locked(p, scan, &m->slot, &m->old_frame,
                                            &m->old_dirty)) != 0) {
        bp__unlock(&p->lock, BP__RANK_MISS);
        if (m->need != BP__NEED_NOTHING)
            bp__ptab_discard(p, m->frame);
        bp__mapping_let_go(p, m);
        if (rc == BP_ENOSLOT && how != BP__GET_AHEAD)
            rc = bp__fail(p, rc, "all %u window slots are fixed: unfix "
                          "pages or use a larger window", p->nslots);
        return rc;
    }
    if (how != BP__GET_AHEAD) /* read-ahead is no fix */
        BP_STAT(p, window_misses);
    bp__slot_publish_locked(p, m->slot, m->frame, pgno, scan);
    bp__unlock(&p->lock, BP__RANK_MISS);
    return 0;
}

void bp__window_map_undo(bp_pool *p, struct bp__mapping *m)
{
    bp__lock(p, &p->lock, BP__RANK_MISS);
    BP__STORE(p->slots[m->slot].sl_dirty, 0); /* nothing to copy back */
    (void)bp__window_evict_busy_locked(p, m->slot, NULL);
    bp__unlock(&p->lock, BP__RANK_MISS);
    if (m->need != BP__NEED_NOTHING)
        bp__ptab_discard(p, m->frame);
    bp__mapping_let_go(p, m);
}

int bp__window_map_slot(bp_pool *p, struct bp__mapping *m)
{
    uint32_t s = m->slot, f = m->frame;
    void *a = bp__slot_addr(p, s);
    int rc = 0;

    if (m->old_frame != BP__NONE) {
        int changed = (m->old_dirty & BP__SL_DIRTY) != 0;

        /* copy backend: the old page's bytes go home */
        if (m->old_dirty &&
            (rc = bp__copy_home(p, a, m->old_frame,
                                (unsigned)m->old_dirty)) != 0) {
            if (changed) { /* its changes would be lost: stop */
                BP__STORE(p->state, BP__POISONED);
                bp__fail(p, rc, "copy of slot %u back to frame %u failed; "
                         "the pool is poisoned", s, m->old_frame);
            } else { /* a clean page's frame never got its bytes: the
                        page leaves the cache (a later fix reads it) */
                bp__ptab_discard(p, m->old_frame);
                rc = 0;
            }
        }
        bp__latch_release(bp__word(p, m->old_frame), 2,
                          changed && rc == 0 ? BP_W_DIRTY : 0,
                          changed && rc == 0 ? BP_W_WB : 0);
    }
    if (rc == 0)
        rc = p->be->map(p, s, f, m->need == BP__NEED_NOTHING);
    if (rc == 0 && p->be->id != BP_BACKEND_LINEAR &&
        p->be->id != BP_BACKEND_COPY) /* linear: at open; copy: copies */
        bp__window_touch(p, a, p->po_page_size);
    if (rc)
        bp__window_map_undo(p, m);
    return rc;
}

int bp__window_map_finish(bp_pool *p, struct bp__mapping *m)
{
    uint32_t s = m->slot, f = m->frame;
    void *a = bp__slot_addr(p, s);
    int rc = bp__window_map_slot(p, m);

    if (rc)
        return rc; /* undone */
    if (m->need == BP__NEED_ZERO) {
        memset(a, 0, p->po_page_size);
        if (p->be->id == BP_BACKEND_COPY)
            BP__STORE(p->slots[s].sl_dirty, BP__SL_DIRTY);
        else
            bp_w_mark_dirty(bp__word(p, f));
    } else if (m->need == BP__NEED_READ) {
        if ((rc = bp__io_read_page(p, p->slots[s].sl_pgno, a)) != 0)
            bp__fail(p, rc, "read of page %" PRIu64 " failed",
                     p->slots[s].sl_pgno);
        else if (p->be->id == BP_BACKEND_COPY) /* the frame gets it later */
            BP__STORE(p->slots[s].sl_dirty, BP__SL_HOME);
    }
    if (rc)
        bp__window_map_undo(p, m);
    return rc;
}

uint32_t bp__window_slot_of_frame(bp_pool *p, uint32_t f)
{
    uint64_t pgno = BP__LOAD(p->frames[f].fr_pgno);
    uint32_t s;

    if (pgno == BP__NOPAGE)
        return BP__NONE;
    s = bp__htab_find(&p->wtab, pgno);
    return s != BP__NONE && BP__LOAD(p->slots[s].sl_frame) == f ? s : BP__NONE;
}

/* Frame f is latched by the caller (shared or BUSY), so a slot mapping it
 * stays put; otherwise the one-page I/O slot is remapped to it. */
int bp__window_write_frame(bp_pool *p, uint32_t f, uint64_t pgno)
{
    uint32_t s;
    int rc;

    if (p->be->id == BP_BACKEND_LINEAR)
        return bp__io_write_page(p, pgno, bp__slot_addr(p, f));
    if (p->be->id != BP_BACKEND_COPY &&
        (s = bp__window_slot_of_frame(p, f)) != BP__NONE)
        return bp__io_write_page(p, pgno, bp__slot_addr(p, s));
    if (p->po_wal_fn) {
        /* The WAL rule before the I/O slot's lock: the engine's callback
         * may fix pages, whose misses may write frames through the I/O
         * slot too.  The frame is latched: its LSN stays put. */
        uint64_t lsn;
        off_t at = (off_t)(bp__frame_off(p, f) + p->po_wal_offset);
        ssize_t n = bp__sys_shm_pread(p->shm_fd, &lsn, sizeof lsn, at);

        if (n != (ssize_t)sizeof lsn)
            return bp__fail(p, n < 0 ? -errno : -EIO, "cannot read the LSN "
                            "of frame %u", f);
        if ((rc = bp__io_wal_before(p, lsn, pgno)) != 0)
            return rc;
    }
    bp__lock(p, &p->io_lock, BP__RANK_IO);
    rc = 0;
    if (p->io_slot_frame != f) {
        if (bp__sys_mmap(p->io_slot, p->po_page_size, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_FIXED, p->shm_fd,
                         (off_t)bp__frame_off(p, f)) == MAP_FAILED)
            rc = bp__fail(p, -errno, "cannot map frame %u for I/O", f);
        else
            p->io_slot_frame = f;
    }
    if (rc == 0)
        rc = bp__io_write_page_logged(p, pgno, p->io_slot);
    bp__unlock(&p->io_lock, BP__RANK_IO);
    return rc;
}

/* Copy backend, at flush: copy every dirty slot back into its frame,
 * holding a shared latch on the frame (an exclusive holder may be halfway
 * through the page: wait for it). */
int bp__window_writeback(bp_pool *p)
{
    if (p->be->id != BP_BACKEND_COPY)
        return 0;
    for (uint32_t s = 0; s < p->nslots; s++) {
        struct bp__slot *sl = &p->slots[s];
        uint32_t f = BP__LOAD(sl->sl_frame);
        uint64_t *w, v;
        int rc;

        if (!(BP__LOAD(sl->sl_dirty) & BP__SL_DIRTY) || f == BP__NONE)
            continue; /* BP__SL_HOME alone: the frame is clean */
        w = bp__word(p, f);
        v = bp_w_load(w);
        if (bp_w_latch(v) >= BP_LATCH_MAX_SHARED) {
            (void)bp__latch_wait(p, w, v); /* copy: a private pool */
            s--; /* look at this slot again */
            continue;
        }
        if (!bp_w_cas(w, &v, v + BP_W_SHARED_ONE)) {
            s--;
            continue;
        }
        rc = 0;
        if (BP__LOAD(sl->sl_frame) == f &&
            (BP__LOAD(sl->sl_dirty) & BP__SL_DIRTY)) {
            rc = bp__copy_home(p, bp__slot_addr(p, s), f, BP__SL_DIRTY);
            if (rc == 0)
                BP__STORE(sl->sl_dirty, 0);
        }
        bp__latch_release(w, 0, rc ? 0 : BP_W_DIRTY, rc ? 0 : BP_W_WB);
        if (rc)
            return bp__fail(p, rc, "copy of slot %u back to frame %u failed",
                            s, f);
    }
    return 0;
}
