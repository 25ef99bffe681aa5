/*
 * bp_backend_kmod.c - window backend "kmod": the bpwin kernel module
 * (kernel/bpwin.c, the device /dev/bpwin).
 *
 * The window is one mapping of the device, bound to the pool's shm file:
 * one VMA however many slots, so vm.max_map_count does not bound it, and
 * mapping frame f into slot s is one BPWIN_OP_MAP in one ioctl, which
 * holds mmap_lock for reading only.  The slot's pages are ordinary shm
 * pages, so page reads and writes go by O_DIRECT straight between the
 * data file and the slot, as with rfp and mmap.
 *   populate -> BPWIN_MAP_POPULATE: page tables filled by the ioctl;
 *   nonblock, lazy -> nothing filled: the module's fault handler installs
 *               the slot on first touch;
 *   touch    -> populate, then every 4 KiB read once (bp_window.c).
 * Guard mode (bp_set_guard): the window is set up with BPWIN_SETUP_GUARD
 * and a slot is writable only while its page is fixed exclusive (or
 * while the library itself fills it): bp_fix sets the fix's protection
 * (bp__kmod_protect), an exclusive unfix sets it back to read-only, so a
 * stray write to a page fixed shared, or no longer fixed, raises SIGSEGV
 * at the slot instead of changing the cache.  Reads are never refused:
 * optimistic readers read slots without a fix.
 *
 * Owns: p->kmod_fd1 (the device's fd + 1, 0 when closed), p->kmod_frame0
 * (the module's frame number of pool frame 0: frames start at
 * sh_frames_off, a multiple of the page size), p->kmod_map_flags.
 * Slots keep showing their frame until remapped (as rfp and mmap).
 * mlock is not applied: a page mapped in the window is never reclaimed
 * while it is (the kernel cannot unmap it), so there is nothing to lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "window/window_impl.h"
#include "platform/bp_sys.h"
#include "bpwin_uapi.h"

/* The device's path: BPWIN_DEVICE, or BUFPOOL_KMOD_DEVICE for tests. */
static const char *bp__kmod_path(void)
{
    const char *e = getenv("BUFPOOL_KMOD_DEVICE");

    return e && *e ? e : BPWIN_DEVICE;
}

/* Open the device and check its ABI and page size.  The fd, or a
 * negative errno with why filled. */
static int bp__kmod_open(struct bpwin_info *info, char *why, size_t n)
{
    const char *path = bp__kmod_path();
    int fd = open(path, O_RDWR | O_CLOEXEC), err;

    if (fd < 0) {
        err = errno;
        snprintf(why, n, "%s: %s%s", path, strerror(err),
                 err == ENOENT ? " (load the bpwin module: kernel/README.md)"
                               : "");
        return -err;
    }
    memset(info, 0, sizeof *info);
    if (ioctl(fd, BPWIN_IOC_INFO, info) != 0) {
        err = errno;
        snprintf(why, n, "%s: BPWIN_IOC_INFO: %s (not the bpwin device?)",
                 path, strerror(err));
        close(fd);
        return -err;
    }
    if (info->abi_version != BPWIN_ABI_VERSION ||
        info->page_size != (uint32_t)sysconf(_SC_PAGESIZE)) {
        snprintf(why, n, "%s: module ABI %u with %u-byte pages, the library "
                 "needs ABI %u with %ld-byte pages: rebuild the module from "
                 "this tree's kernel/", path, info->abi_version,
                 info->page_size, BPWIN_ABI_VERSION, sysconf(_SC_PAGESIZE));
        close(fd);
        return -EPROTO;
    }
    return fd;
}

int bp__kmod_probe(char *why, size_t n)
{
    struct bpwin_info info;
    int fd = bp__kmod_open(&info, why, n);

    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

static int bp__kmod_init(bp_pool *p)
{
    long sys = sysconf(_SC_PAGESIZE);
    struct bpwin_info info;
    struct bpwin_setup su;
    char why[192];
    void *w;
    int fd;

    if ((fd = bp__kmod_open(&info, why, sizeof why)) < 0)
        return bp__fail(p, BP_EBACKEND, "kmod backend: %s", why);
    p->kmod_fd1 = fd + 1;
    if (p->po_page_size % (uint32_t)sys ||
        p->po_page_size / (uint32_t)sys > info.max_slot_pages ||
        p->nslots > info.max_slots)
        return bp__fail(p, BP_EBACKEND, "kmod backend: %u-byte pages or %u "
                        "slots are beyond the module's limits (%u pages a "
                        "slot, %" PRIu64 " slots)", p->po_page_size,
                        p->nslots, info.max_slot_pages,
                        (uint64_t)info.max_slots);
    memset(&su, 0, sizeof su);
    su.abi_version = BPWIN_ABI_VERSION;
    su.shm_fd = p->shm_fd;
    su.slot_pages = p->po_page_size / (uint32_t)sys;
    su.flags = p->po_guard ? BPWIN_SETUP_GUARD : 0;
    su.nslots = p->nslots;
    if (ioctl(fd, BPWIN_IOC_SETUP, &su) != 0)
        return bp__fail(p, -errno, "kmod backend: BPWIN_IOC_SETUP of %u "
                        "slots: %s", p->nslots, strerror(errno));
    if (p->po_guard &&
        !(p->kmod_prot = bp__alloc(p, p->nslots ? p->nslots : 1)))
        return bp__fail(p, -ENOMEM, "kmod backend: no memory for %u slots' "
                        "protections", p->nslots);
    if (p->kmod_prot)
        memset(p->kmod_prot, BPWIN_PROT_NONE, p->nslots);
    p->kmod_frame0 = p->meta->sh_frames_off / p->po_page_size;
    p->kmod_map_flags =
        (bp__prefault_populates(p) ? BPWIN_MAP_POPULATE : 0) | BPWIN_PROT_RW;
    w = bp__sys_mmap(NULL, (size_t)p->window_bytes, PROT_READ | PROT_WRITE,
                     MAP_SHARED, fd, 0);
    if (w == MAP_FAILED)
        return bp__fail(p, errno == ENOMEM ? BP_EWINDOW : -errno,
                        "kmod backend: cannot map a window of %" PRIu64
                        " bytes: %s", p->window_bytes, strerror(errno));
    p->window = w;
    return bp__window_io_slot(p);
}

/* One operation on slot s; 0 or the ioctl's errno, negated. */
static int bp__kmod_op(bp_pool *p, uint32_t op, uint32_t s, uint32_t f,
                       uint32_t flags)
{
    struct bpwin_op o = {.slot = s, .op = op, .flags = flags};
    struct bpwin_batch b = {.ops = (uint64_t)(uintptr_t)&o, .count = 1};

    if (op == BPWIN_OP_MAP)
        o.frame = p->kmod_frame0 + f;
    for (unsigned again = 0;; again++) {
        if (ioctl(p->kmod_fd1 - 1, BPWIN_IOC_BATCH, &b) == 0)
            return 0;
        if (errno != EINTR || again >= 64)
            return -errno;
    }
}

static int bp__kmod_map(bp_pool *p, uint32_t slot, uint32_t frame,
                        int content)
{
    uint32_t fl = p->kmod_map_flags;
    int rc;

    /* guard: read-only when the frame holds the page already; else the
     * library writes it (read, zeroed) before the fix sets the fix's
     * protection */
    if (p->kmod_prot && content)
        fl = (fl & ~BPWIN_PROT_RW) | BPWIN_PROT_READ;
    if ((rc = bp__kmod_op(p, BPWIN_OP_MAP, slot, frame, fl)) != 0)
        return bp__window_remap_fail(p, -rc, "BPWIN_OP_MAP", slot, frame);
    if (p->kmod_prot)
        BP__STORE(p->kmod_prot[slot], (uint8_t)(fl & BPWIN_PROT_RW));
    BP_STAT(p, remaps_kmod);
    return 0;
}

int bp__kmod_protect(bp_pool *p, uint32_t slot, int write)
{
    uint32_t want = write ? BPWIN_PROT_RW : BPWIN_PROT_READ;
    int rc;

    if (BP__LOAD(p->kmod_prot[slot]) == want)
        return 0;
    rc = bp__kmod_op(p, BPWIN_OP_PROTECT, slot, 0,
                     want | (p->kmod_map_flags & BPWIN_MAP_POPULATE));
    if (rc != 0)
        return bp__fail(p, rc, "BPWIN_OP_PROTECT of slot %u: %s", slot,
                        strerror(-rc));
    BP__STORE(p->kmod_prot[slot], (uint8_t)want);
    BP_STAT(p, guard_protects);
    return 0;
}

static void bp__kmod_fini(bp_pool *p)
{
    bp__window_release(p);
    if (p->kmod_prot)
        bp__free(p, p->kmod_prot, p->nslots ? p->nslots : 1);
    p->kmod_prot = NULL;
    if (p->kmod_fd1 > 0)
        close(p->kmod_fd1 - 1);
    p->kmod_fd1 = 0;
}

const struct bp__backend_ops bp__backend_kmod = {
    .id = BP_BACKEND_KMOD,
    .name = "kmod",
    .init = bp__kmod_init,
    .map = bp__kmod_map,
    .unmap = bp__window_unmap_nothing, /* stale until remapped */
    .fini = bp__kmod_fini,
};
