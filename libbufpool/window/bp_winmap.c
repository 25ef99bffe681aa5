/*
 * bp_winmap.c - the window's memory: the address range reserved for the
 * slots, the I/O slot, their release, and what every backend shares
 * (prefault by touch, the message of a refused remap).
 *
 * Owns: p->window and p->io_slot between bp__window_reserve and
 * bp__window_release.  The backends (bp_backend_*.c) call these to set up
 * and tear down; bp_window.c decides which slot shows which frame.
 *
 * Invariants: p->window is window_bytes long and mapped (private
 * anonymous memory for copy, the shm file's frames for linear, and a
 * shared mapping of the shm file for the remapping backends) while open;
 * mlock, when asked, covers all of it or bp_open fails.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "window/window_impl.h"
#include "platform/bp_sys.h"

/* Read every 4 KiB of [a, a + len) once, so that the engine's first
 * access does not fault (under a shadow-paging hypervisor populated page
 * tables are the guest's only): BP_PREFAULT_TOUCH on every map, and the
 * linear window at open whenever it is populated. */
static void bp__window_read_each(const void *a, size_t len)
{
    const volatile char *b = a;
    char sink = 0;

    for (size_t off = 0; off < len; off += 4096)
        sink = (char)(sink + b[off]);
    (void)sink;
}

void bp__window_touch(const bp_pool *p, const void *a, size_t len)
{
    if (p->po_prefault == BP_PREFAULT_TOUCH)
        bp__window_read_each(a, len);
}

int bp__window_reserve(bp_pool *p, int shared)
{
    size_t len = (size_t)p->window_bytes;
    int flags = shared ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS;
    int linear = p->be->id == BP_BACKEND_LINEAR, err = 0;
    void *w;

    if (bp__prefault_populates(p) &&
        (linear || p->be->id == BP_BACKEND_COPY))
        flags |= MAP_POPULATE;
    if (!shared) /* copy's slots: reads land there (bp_iomem.c) */
        err = bp__iomem_map(p, &len, 0, (flags & MAP_POPULATE) != 0, &w);
    else if ((w = bp__sys_mmap(NULL, len, PROT_READ | PROT_WRITE, flags,
                               p->shm_fd, (off_t)p->meta->sh_frames_off)) ==
             MAP_FAILED)
        err = -errno;
    if (err)
        return bp__fail(p, err == -ENOMEM ? BP_EWINDOW : err,
                        "cannot map a window of %zu bytes: %s", len,
                        strerror(-err));
    p->window = w;
    if (p->po_mlock && bp__sys_mlock(w, len) != 0) {
        struct rlimit rl = {0, 0};

        err = errno;
        getrlimit(RLIMIT_MEMLOCK, &rl);
        return bp__fail(p, BP_EMEMLOCK,
                        "mlock of a %zu-byte window failed (%s); "
                        "RLIMIT_MEMLOCK is %llu bytes: raise it (ulimit -l) or "
                        "turn mlock off",
                        len, strerror(err), (unsigned long long)rl.rlim_cur);
    }
    if (linear) {
        /* The linear window is read once whatever populated it: under a
         * shadow-paging hypervisor a page populated but never read has no
         * entry the CPU can use, and a masked vector load whose masked-off
         * bytes cross into it (glibc's memcmp on a key at the end of the
         * frame before) takes a ~180 ns assist every time, since nothing
         * ever faults the entry in.  Here the page after a hot frame is
         * any frame, read or not; in the remapping windows it is a slot,
         * read by the fix that mapped it. */
        if (bp__prefault_populates(p))
            bp__window_read_each(w, len);
        return 0;
    }
    return bp__window_io_slot(p);
}

int bp__window_io_slot(bp_pool *p)
{
    void *w = bp__sys_mmap(NULL, p->po_page_size, PROT_READ | PROT_WRITE,
                           MAP_SHARED, p->shm_fd,
                           (off_t)p->meta->sh_frames_off);

    if (w == MAP_FAILED)
        return bp__fail(p, -errno, "cannot map the I/O slot");
    p->io_slot = w;
    p->io_slot_frame = 0;
    return 0;
}

int bp__window_unmap_nothing(bp_pool *p, uint32_t slot, uint32_t frame)
{
    (void)p, (void)slot, (void)frame;
    return 0;
}

int bp__window_remap_fail(bp_pool *p, int err, const char *what,
                          uint32_t slot, uint32_t frame)
{
    return bp__fail(p, -err, "%s of slot %u to frame %u: %s", what, slot,
                    frame,
                    err == ENOMEM ? "out of mappings (vm.max_map_count)"
                                  : "refused by the kernel");
}

void bp__window_release(bp_pool *p)
{
    if (p->window)
        munmap(p->window, (size_t)p->window_bytes);
    if (p->io_slot)
        munmap(p->io_slot, p->po_page_size);
    p->window = NULL;
    p->io_slot = NULL;
}
