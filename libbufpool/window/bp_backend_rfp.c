/*
 * bp_backend_rfp.c - window backend "rfp": remap_file_pages().
 *
 * The window is one MAP_SHARED mapping of the shm file; mapping frame f into
 * slot s is remap_file_pages(slot, page_size, 0, pgoff(f), flags).  Since
 * Linux 4.0 the kernel emulates it as mmap(MAP_FIXED|MAP_POPULATE
 * [|MAP_NONBLOCK]) of the range, so each remapped slot is its own VMA
 * (budgeted at open, bp_vma.c), and:
 *   populate  -> flags 0: the kernel populates the slot's page tables;
 *   nonblock  -> MAP_NONBLOCK: nothing populated, pages fault on first touch;
 *   lazy      -> the same as nonblock (rfp has no third way).
 * A locked window (mlock at init) stays locked across remaps and is always
 * populated.  prot must be 0; the window must stay one shared mapping (no
 * mprotect splitting it).
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "window/window_impl.h"
#include "platform/bp_sys.h"

static int bp__rfp_init(bp_pool *p)
{
    p->prefault_flags_rfp = bp__prefault_populates(p) ? 0 : MAP_NONBLOCK;
    return bp__window_reserve(p, 1);
}

static int bp__rfp_map(bp_pool *p, uint32_t slot, uint32_t frame, int content)
{
    (void)content;
    if (bp__sys_remap_file_pages(bp__slot_addr(p, slot), p->po_page_size, 0,
                                 (size_t)(bp__frame_off(p, frame) / 4096),
                                 p->prefault_flags_rfp) != 0)
        return bp__window_remap_fail(p, errno, "remap_file_pages", slot, frame);
    BP_STAT(p, remaps_rfp);
    return 0;
}

const struct bp__backend_ops bp__backend_rfp = {
    .id = BP_BACKEND_RFP,
    .name = "rfp",
    .init = bp__rfp_init,
    .map = bp__rfp_map,
    .unmap = bp__window_unmap_nothing, /* stale until remapped */
    .fini = bp__window_release,
};
