/*
 * bp_backend_copy.c - window backend "copy": classic double buffering.
 *
 * The window is private anonymous memory.  Mapping frame f into slot s
 * copies the frame's bytes in (pread from the shm fd); when a slot whose
 * copy was modified (sl_dirty BP__SL_DIRTY) loses its frame, or at flush,
 * the bytes are copied back (pwrite to the shm fd) and the frame becomes
 * dirty.  No VMA per slot: the window is one mapping whatever its size.
 *
 * A page read from the data file lands in its slot, and its frame gets the
 * bytes only when the slot lets the page go (BP__SL_HOME: copied home then,
 * the frame staying clean), not when the read completes: a fix miss at
 * queue depth 1 then copies home the victim slot's page while its own read
 * is in flight (early reads, bp_io_early.c) instead of its own page after
 * the read, off the miss's critical path.  If the frame itself is evicted
 * (bp_cache.c), the bytes are not copied at all.
 *
 * Invariants: a slot's bytes equal its frame's unless sl_dirty is set.  A
 * slot with BP__SL_HOME alone shows a clean frame (BUSY while the read is
 * in flight), and the only copy of the page's cached bytes is the slot's:
 * every path that lets the slot go copies them home first, or drops the
 * frame from the cache.  The slot is private to this process, so another
 * process could not copy them home: a pool shared between processes (not
 * yet built) must copy at read time instead.
 * Prefault applies to the window itself: populate fills it at open.
 */
#include <errno.h>
#include <unistd.h>

#include "window/window_impl.h"

static int bp__copy_init(bp_pool *p)
{
    return bp__window_reserve(p, 0);
}

static int bp__copy_map(bp_pool *p, uint32_t slot, uint32_t frame, int content)
{
    int rc;

    if (!content)
        return 0;
    rc = bp__shm_pread(p, bp__slot_addr(p, slot), frame);
    if (rc)
        return bp__fail(p, rc, "copy of frame %u into slot %u failed", frame,
                        slot);
    BP_STAT(p, copies_in);
    return 0;
}

int bp__copy_home(bp_pool *p, const void *a, uint32_t frame, unsigned d)
{
    int rc = bp__shm_pwrite(p, a, frame);

    if (rc == 0 && (d & BP__SL_DIRTY))
        BP_STAT(p, copies_out);
    else if (rc == 0)
        BP_STAT(p, copies_home);
    return rc;
}

static int bp__copy_unmap(bp_pool *p, uint32_t slot, uint32_t frame)
{
    struct bp__slot *sl = &p->slots[slot];
    unsigned d = BP__LOAD(sl->sl_dirty);
    int rc;

    if (!d)
        return 0;
    if ((rc = bp__copy_home(p, bp__slot_addr(p, slot), frame, d)) != 0)
        return bp__fail(p, rc, "copy of slot %u back to frame %u failed",
                        slot, frame);
    BP__STORE(sl->sl_dirty, 0);
    if (d & BP__SL_DIRTY)
        bp_w_mark_dirty(bp__word(p, frame));
    return 0;
}

/* At close, a kept shm file (bp_set_shm keep) gets every slot's bytes its
 * frame lacks, so that it shows what this process saw; errors are moot. */
static void bp__copy_fini(bp_pool *p)
{
    for (uint32_t s = 0; p->po_shm_keep && !p->forked && p->slots &&
                         s < p->nslots;
         s++) {
        struct bp__slot *sl = &p->slots[s];

        if (sl->sl_dirty && sl->sl_frame != BP__NONE)
            (void)bp__copy_home(p, bp__slot_addr(p, s), sl->sl_frame,
                                sl->sl_dirty);
    }
    bp__window_release(p);
}

const struct bp__backend_ops bp__backend_copy = {
    .id = BP_BACKEND_COPY,
    .name = "copy",
    .init = bp__copy_init,
    .map = bp__copy_map,
    .unmap = bp__copy_unmap,
    .fini = bp__copy_fini,
};
