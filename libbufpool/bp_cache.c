/*
 * bp_cache.c - the cache tier: frames in the shm file and the page table.
 *
 * Owns (shared, in the shm file): struct bp__frame[], the page table
 * (pgno -> frame), the free-frame counter, the frame CLOCK hand and the
 * dirty count.  Decides which frame holds which page, writes dirty frames
 * back, and flushes.
 *
 * Frame states (all under p->lock):
 *
 *   FREE --cache_get--> RESERVED --slot filled--> VALID (+DIRTY)
 *     ^                    |                        |
 *     +----discard---------+<-----evict (write back if DIRTY)
 *
 * Invariants:
 *  - A frame is in the page table iff fr_pgno != BP__NOPAGE.
 *  - Frames [0, sh_free_top) were never used; they are handed out from the
 *    top down, so a cache larger than 4 GiB puts its first pages above the
 *    4 GiB offset at once (the 32-bit tests rely on it).
 *  - A frame is evicted only when no latch is held on it and no slot of any
 *    process maps it, except one unpinned slot of this process, which is
 *    evicted first.
 *  - A dirty frame is clean only after its write completed in full and a
 *    later fdatasync succeeded (BP__F_WB marks "written, not yet synced";
 *    dirtying the frame again clears it).
 */
#include <errno.h>
#include <inttypes.h>

#include "bp_internal.h"

void bp__frame_set_dirty_locked(bp_pool *p, uint32_t f)
{
    struct bp__frame *fr = &p->frames[f];

    if (!(fr->fr_flags & BP__F_DIRTY))
        p->meta->sh_dirty++;
    fr->fr_flags = (uint16_t)((fr->fr_flags | BP__F_DIRTY) & ~BP__F_WB);
}

void bp__frame_clear_dirty_locked(bp_pool *p, uint32_t f)
{
    struct bp__frame *fr = &p->frames[f];

    if (fr->fr_flags & BP__F_DIRTY)
        p->meta->sh_dirty--;
    fr->fr_flags &= (uint16_t)~(BP__F_DIRTY | BP__F_WB);
}

int bp__cache_write_frame_locked(bp_pool *p, uint32_t f)
{
    void *a;
    int rc;

    if ((rc = bp__window_frame_addr_locked(p, f, &a)) != 0)
        return rc;
    rc = bp__io_write_page(p, p->frames[f].fr_pgno, a);
    if (rc)
        return bp__fail(p, rc, "write of page %" PRIu64 " failed",
                        p->frames[f].fr_pgno);
    return 0;
}

/* Can frame f be evicted?  0 = no, 1 = yes, 2 = yes once slot *s goes. */
static int bp__frame_evictable_locked(bp_pool *p, uint32_t f, uint32_t *s)
{
    struct bp__frame *fr = &p->frames[f];

    if (fr->fr_shared || fr->fr_excl)
        return 0;
    if (fr->fr_maps == 0)
        return 1;
    if (fr->fr_maps > 1)
        return 0;
    *s = bp__window_slot_of_frame_locked(p, f);
    return *s != BP__NONE && p->slots[*s].sl_pin == 0 ? 2 : 0;
}

static int bp__frame_evict_locked(bp_pool *p, uint32_t f, uint32_t s, int how)
{
    struct bp__frame *fr = &p->frames[f];
    int rc;

    if (how == 2 && (rc = bp__window_evict_slot_locked(p, s)) != 0)
        return rc;
    if (fr->fr_flags & BP__F_DIRTY) {
        if ((rc = bp__cache_write_frame_locked(p, f)) != 0)
            return rc;
        bp__frame_clear_dirty_locked(p, f);
        p->needs_sync = 1;
    }
    bp__htab_remove(&p->ptab, fr->fr_pgno);
    fr->fr_pgno = BP__NOPAGE;
    fr->fr_flags = 0;
    fr->fr_usage = 0;
    p->st.frame_evictions++;
    return 0;
}

/* CLOCK over the frames; never-used frames first. */
static int bp__frame_victim_locked(bp_pool *p, uint32_t *frame)
{
    struct bp__shm_hdr *h = p->meta;
    uint64_t n = p->nframes;

    if (h->sh_free_top > 0) {
        *frame = (uint32_t)--h->sh_free_top;
        return 0;
    }
    for (uint64_t i = 0; i < 2 * n + 1; i++) {
        uint32_t f = (uint32_t)h->sh_clock, s = BP__NONE;
        struct bp__frame *fr = &p->frames[f];
        int how, rc;

        h->sh_clock = f + 1 == n ? 0 : f + 1;
        if (fr->fr_pgno == BP__NOPAGE && fr->fr_maps == 0) {
            *frame = f;
            return 0;
        }
        if ((how = bp__frame_evictable_locked(p, f, &s)) == 0)
            continue;
        if (fr->fr_usage) {
            fr->fr_usage = 0;
            continue;
        }
        if ((rc = bp__frame_evict_locked(p, f, s, how)) != 0)
            return rc;
        *frame = f;
        return 0;
    }
    return bp__fail(p, BP_ENOFRAME, "all %" PRIu64 " cache frames are pinned "
                    "or mapped: unfix pages or use a larger cache", n);
}

int bp__cache_get_locked(bp_pool *p, uint64_t pgno, int fresh, uint32_t *frame,
                         enum bp__need *need)
{
    uint32_t f = fresh ? BP__NONE : bp__htab_find(&p->ptab, pgno);
    int rc;

    if (f != BP__NONE) {
        p->st.cache_hits++;
        p->frames[f].fr_usage = 1;
        *frame = f;
        *need = BP__NEED_NOTHING;
        return 0;
    }
    if (!fresh)
        p->st.cache_misses++;
    if ((rc = bp__frame_victim_locked(p, &f)) != 0)
        return rc;
    p->frames[f].fr_pgno = pgno;
    p->frames[f].fr_flags = 0;
    p->frames[f].fr_usage = 1;
    bp__htab_insert(&p->ptab, pgno, f);
    *frame = f;
    *need = fresh ? BP__NEED_ZERO : BP__NEED_READ;
    return 0;
}

void bp__cache_discard_locked(bp_pool *p, uint32_t f)
{
    struct bp__frame *fr = &p->frames[f];

    if (fr->fr_pgno == BP__NOPAGE)
        return;
    bp__frame_clear_dirty_locked(p, f);
    bp__htab_remove(&p->ptab, fr->fr_pgno);
    fr->fr_pgno = BP__NOPAGE;
    fr->fr_flags = 0;
}

static void bp__frames_clear_wb_locked(bp_pool *p)
{
    for (uint64_t i = 0; i < p->nframes; i++)
        p->frames[i].fr_flags &= (uint16_t)~BP__F_WB;
}

/* Write every dirty frame (each once: BP__F_WB), then fdatasync, then mark
 * the written frames clean.  A failure leaves every unsynced frame dirty, to
 * be written again by the next flush. */
int bp__cache_flush_locked(bp_pool *p)
{
    int rc = bp__window_writeback_locked(p);

    if (rc)
        return rc;
    bp__frames_clear_wb_locked(p);
    for (uint64_t i = 0; i < p->nframes; i++) {
        uint32_t f = (uint32_t)i;
        struct bp__frame *fr = &p->frames[f];

        if ((fr->fr_flags & (BP__F_DIRTY | BP__F_WB)) != BP__F_DIRTY)
            continue;
        if (fr->fr_excl) { /* half-written page: wait for its holder */
            bp__latch_wait_locked(p);
            i--;
            continue;
        }
        if ((rc = bp__cache_write_frame_locked(p, f)) != 0) {
            bp__frames_clear_wb_locked(p);
            return rc;
        }
        fr->fr_flags |= BP__F_WB;
        p->needs_sync = 1;
    }
    if (p->needs_sync) {
        if ((rc = p->io->sync(p)) != 0) {
            bp__frames_clear_wb_locked(p);
            return bp__fail(p, rc, "fdatasync of the data file failed; "
                            "pages stay dirty");
        }
        p->st.syncs++;
        p->needs_sync = 0;
    }
    for (uint64_t i = 0; i < p->nframes; i++)
        if (p->frames[i].fr_flags & BP__F_WB)
            bp__frame_clear_dirty_locked(p, (uint32_t)i);
    return 0;
}
