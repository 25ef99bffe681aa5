/*
 * bp_backend_linear.c - window backend "linear": the whole cache mapped once.
 *
 * The upper bound the other backends are measured against: no remapping at
 * all.  The window is one MAP_SHARED mapping of every frame, slot i is
 * frame i (p->nslots == p->nframes), so map and unmap do nothing and a
 * window miss costs only table work.  64-bit only: a large cache does not
 * fit a 32-bit address space (BP_EBACKEND there).
 * Prefault: populate maps with MAP_POPULATE (the whole cache at open) and
 * then reads every 4 KiB once (bp_winmap.c says why).
 */
#include <errno.h>

#include "window/window_impl.h"

static int bp__linear_init(bp_pool *p)
{
    if (sizeof(void *) < 8)
        return bp__fail(p, BP_EBACKEND,
                        "the linear backend needs a 64-bit address space");
    return bp__window_reserve(p, 1);
}

static int bp__linear_map(bp_pool *p, uint32_t slot, uint32_t frame, int c)
{
    (void)p, (void)slot, (void)frame, (void)c;
    return 0; /* slot i is frame i, mapped once at init */
}

const struct bp__backend_ops bp__backend_linear = {
    .id = BP_BACKEND_LINEAR,
    .name = "linear",
    .init = bp__linear_init,
    .map = bp__linear_map,
    .unmap = bp__window_unmap_nothing,
    .fini = bp__window_release,
};
