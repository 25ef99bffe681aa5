/*
 * bp_backend_copy.c - window backend "copy": classic double buffering.
 *
 * The window is private anonymous memory.  Mapping frame f into slot s
 * copies the frame's bytes in (pread from the shm fd); when a slot whose
 * copy was modified (sl_dirty) loses its frame, or at flush, the bytes are
 * copied back (pwrite to the shm fd) and the frame becomes dirty.  No VMA
 * per slot: the window is one mapping whatever its size.
 * Invariant: a slot's bytes equal its frame's unless sl_dirty is set.
 * Prefault applies to the window itself: populate fills it at open.
 */
#include <errno.h>
#include <unistd.h>

#include "bp_internal.h"

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

static int bp__copy_unmap(bp_pool *p, uint32_t slot, uint32_t frame)
{
    struct bp__slot *sl = &p->slots[slot];
    int rc;

    if (!BP__LOAD(sl->sl_dirty))
        return 0;
    rc = bp__shm_pwrite(p, bp__slot_addr(p, slot), frame);
    if (rc)
        return bp__fail(p, rc, "copy of slot %u back to frame %u failed",
                        slot, frame);
    BP__STORE(sl->sl_dirty, 0);
    bp_w_mark_dirty(bp__word(p, frame));
    BP_STAT(p, copies_out);
    return 0;
}

const struct bp__backend_ops bp__backend_copy = {
    .id = BP_BACKEND_COPY,
    .name = "copy",
    .init = bp__copy_init,
    .map = bp__copy_map,
    .unmap = bp__copy_unmap,
    .fini = bp__window_release,
};
