/*
 * bp_backend_mmap.c - window backend "mmap": one mmap(MAP_FIXED) per slot.
 *
 * The mmap-per-slot pool we compare against.  The window starts as one
 * MAP_SHARED mapping of the shm file; mapping frame f into slot s replaces
 * the slot with mmap(slot, page_size, RW, MAP_SHARED|MAP_FIXED|flags, shm_fd,
 * offset(f)).  Each remapped slot is its own VMA (budgeted at open).
 *   populate  -> MAP_POPULATE: page tables filled at map time;
 *   nonblock  -> MAP_POPULATE|MAP_NONBLOCK: since 2.6.23 this populates
 *                nothing; pages fault on first touch;
 *   lazy      -> no flag: pages fault on first touch;
 *   touch     -> MAP_POPULATE, then every 4 KiB read once (bp_window.c).
 * A MAP_FIXED remap silently drops mlock on the slot, so a locked window
 * passes MAP_LOCKED on every remap.
 */
#include <errno.h>
#include <sys/mman.h>

#include "window/window_impl.h"
#include "platform/bp_sys.h"

static int bp__mmap_init(bp_pool *p)
{
    int f = 0;

    if (bp__prefault_populates(p))
        f = MAP_POPULATE;
    else if (p->po_prefault == BP_PREFAULT_NONBLOCK)
        f = MAP_POPULATE | MAP_NONBLOCK;
    if (p->po_mlock)
        f |= MAP_LOCKED;
    p->prefault_flags_mmap = f;
    return bp__window_reserve(p, 1);
}

static int bp__mmap_map(bp_pool *p, uint32_t slot, uint32_t frame, int content)
{
    void *a = bp__slot_addr(p, slot);

    (void)content;
    if (bp__sys_mmap(a, p->po_page_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_FIXED | p->prefault_flags_mmap,
                     p->shm_fd, (off_t)bp__frame_off(p, frame)) == MAP_FAILED)
        return bp__window_remap_fail(p, errno, "mmap(MAP_FIXED)", slot, frame);
    BP_STAT(p, remaps_mmap);
    return 0;
}

const struct bp__backend_ops bp__backend_mmap = {
    .id = BP_BACKEND_MMAP,
    .name = "mmap",
    .init = bp__mmap_init,
    .map = bp__mmap_map,
    .unmap = bp__window_unmap_nothing, /* stale until remapped */
    .fini = bp__window_release,
};
