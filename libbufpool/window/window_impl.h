/*
 * window_impl.h - what the window layer's files share among themselves
 * and no layer above uses: the window table's changes, the backends' ops
 * tables, what every backend calls to set up and tear down the window
 * (bp_winmap.c), the copy backend's copy home and the VMA limit.  Only
 * the files of window/ include it (tests/check_layers.sh refuses it
 * elsewhere).
 */
#ifndef BP_WINDOW_IMPL_H
#define BP_WINDOW_IMPL_H

#include "window/window.h"

/* bp_htab.c: p->lock held; readers find keys without it. */
void bp__htab_insert(struct bp__htab *h, uint64_t key, uint32_t idx);
void bp__htab_remove(struct bp__htab *h, uint64_t key);

extern const struct bp__backend_ops bp__backend_rfp;
extern const struct bp__backend_ops bp__backend_mmap;
extern const struct bp__backend_ops bp__backend_copy;
extern const struct bp__backend_ops bp__backend_kmod;
/* kmod: 0 when /dev/bpwin answers with our ABI, else a negative errno and
 * why says so (auto's probe) */
int bp__kmod_probe(char *why, size_t n);
/* Copy backend: a slot's bytes at a into frame (one pwrite); d is the
 * slot's sl_dirty (BP__SL_*), counted as copies_out or copies_home.  0 or
 * -errno; the caller marks the frame dirty and clears sl_dirty. */
int bp__copy_home(bp_pool *p, const void *a, uint32_t frame, unsigned d);

/* bp_winmap.c.  The backends' common window set-up: a MAP_SHARED mapping
 * of the first slots' worth of frames (rfp, mmap, linear), or a private
 * anonymous one (copy). */
int bp__window_reserve(bp_pool *p, int shared);
/* Map the one-page I/O slot (bp__window_write_frame) at frame 0. */
int bp__window_io_slot(bp_pool *p);
void bp__window_release(bp_pool *p);
/* unmap() of backends whose slots keep showing the frame until remapped */
int bp__window_unmap_nothing(bp_pool *p, uint32_t slot, uint32_t frame);
/* error of a failed remap: errno err of call what (the caller's errno) */
int bp__window_remap_fail(bp_pool *p, int err, const char *what,
                          uint32_t slot, uint32_t frame);
/* BP_PREFAULT_TOUCH: read every 4 KiB of [a, a + len) once. */
void bp__window_touch(const bp_pool *p, const void *a, size_t len);

/* bp_vma.c: vm.max_map_count. */
int bp__vma_limit(uint64_t *limit);

#endif
