/*
 * bp_iomem.c - the memory data-file reads land in: huge-page backed I/O
 * buffers, and staged reads.
 *
 * Owns: the choices of p->io_stage and p->io_thp at open
 * (bp__iomem_setup), the fix-miss and early lanes' landing area
 * (p->io_land, p->io_land_len; one page per lane), and the mapping helper every private
 * I/O buffer goes through (bp__iomem_map): the copy backend's window,
 * read-ahead's request buffers, the landing area.
 *
 * Why: on the virtual machine this was measured on (Firecracker,
 * virtio-blk, THP "madvise", README), where an O_DIRECT read lands costs
 * more than it does on bare metal.  A bare liburing loop at depth 8-32:
 *  - reading 8 KiB pages into buffers made of two physically separate
 *    4 KiB pages (two segments per request) ran 8% slower than into
 *    physically contiguous ones;
 *  - reading into random frames of a 64 MiB shm mapping ran 7-18% slower
 *    than into the same few buffers each time, even with nothing touching
 *    the data afterwards;
 *  - reading into a few buffers inside one transparent huge page, then
 *    copying each page into its random frame with memcpy, ran at 0.96-1.01
 *    of the ideal, against 0.78-0.88 for reading into the frames.
 * So:
 *  - Every private I/O buffer is mapped aligned to the huge page size with
 *    MADV_HUGEPAGE when the kernel's THP setting is not "never": its pages
 *    are then physically contiguous, one segment per request.  Nothing
 *    changes where THP is off (plain pages, as before) or with
 *    BUFPOOL_IO_HUGEPAGE=0.  The price: read-ahead's buffers and the
 *    landing area take one huge page each even when smaller, and a copy
 *    window that is not prefaulted fills in huge pages.
 *  - Staged reads (linear backend only, whose reads otherwise land in the
 *    shm frames): a read lands in a huge-page buffer and is copied into
 *    its frame.  Read-ahead stages through its request's buffer (either
 *    engine); a fix miss through its lane's page of the landing area
 *    (io_uring engine; the sync engine reads into the frame).  The other
 *    backends read into their window slots as before: copy's window is
 *    huge-page backed now, rfp and mmap slots show shm frames (not staged:
 *    not measured).  Copy's fix misses stage only as early reads (io_uring,
 *    io_stage bit 2 without bit 1): the read lands in the early lane's page
 *    and is copied into the slot, so that it can be submitted before the
 *    slot is chosen and the slot's old page copied home (bp_io_early.c).
 *    Copy's read-ahead stages on io_uring (bit 0) for the same reason: it
 *    lands in its request's buffer, sent before the slot's old page goes
 *    home (bp_aio.c); `bpbench io --vs-raw --depths 8,32 --backends copy`
 *    read 0.91-0.99 of the bare loop staged, 0.85-1.01 not (two runs
 *    each, in turn).
 *  - When to stage: bp_set_io_stage or BUFPOOL_IO_STAGE=auto|on|off; auto
 *    stages under a hypervisor (CPUID's hypervisor bit) and not on bare
 *    metal, where the copy would be pure cost (not measured here: no bare
 *    metal machine).
 *
 * Invariants:
 *  - p->io_stage, p->io_thp and the landing area are set at open, before
 *    the window is mapped, and never change until close; readers take
 *    them without a lock.
 *  - Lane i uses bytes [i * page, (i + 1) * page) of the landing area, and
 *    only while it holds lane i's lock: the fix-miss lanes, then (early
 *    reads, io_stage bit 2, unless BUFPOOL_IO_EARLY=0) the early lanes.
 *  - A mapping from bp__iomem_map is exactly *len bytes at the returned
 *    address, aligned to the page size at least (munmap(addr, *len) undoes
 *    it); round lets it grow a buffer smaller than a huge page to one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "io/io_impl.h"
#include "platform/bp_sys.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define BP__THP_MAX (32u << 20) /* no aligning to larger (arm64 64K: 512 MiB) */

/* The huge page size THP would use for an madvised mapping, or 0 when THP
 * is "never", absent, or its pages are too large to align buffers to. */
static size_t bp__iomem_thp_size(void)
{
    char buf[64] = "";
    unsigned long long sz = 0;
    FILE *f;

    if (bp__env_get(BP__ENV_IO_HUGEPAGE, 1) == 0)
        return 0;
    if (!(f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re")))
        return 0;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    if (!buf[0] || strstr(buf, "[never]"))
        return 0;
    f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
    if (!f)
        return 0;
    if (fscanf(f, "%llu", &sz) != 1)
        sz = 0;
    fclose(f);
    if (sz < 2 * (unsigned long long)sysconf(_SC_PAGESIZE) ||
        sz > BP__THP_MAX || (sz & (sz - 1)))
        return 0;
    return (size_t)sz;
}

int bp__iomem_map(bp_pool *p, size_t *lenp, int round, int populate,
                  void **out)
{
    size_t h = p->io_thp, len = *lenp;
    char *m, *a;

    if (round && h && len < h)
        *lenp = len = h; /* a huge page needs h aligned bytes mapped */
    if (h == 0 || len > SIZE_MAX - h) {
        m = bp__sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS |
                             (populate ? MAP_POPULATE : 0),
                         -1, 0);
        if (m == MAP_FAILED)
            return -errno;
        *out = m;
        return 0;
    }
    /* Reserve h more, keep the aligned len bytes: a huge page needs an
     * aligned whole of h bytes inside the mapping. */
    m = bp__sys_mmap(NULL, len + h, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -errno;
    a = (char *)(((uintptr_t)m + h - 1) & ~(uintptr_t)(h - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    munmap(a + len, (size_t)(m + h - a));
    (void)madvise(a, len, MADV_HUGEPAGE); /* advice: plain pages if not */
    if (populate && madvise(a, len, MADV_POPULATE_WRITE) != 0) {
        long pg = sysconf(_SC_PAGESIZE);

        for (size_t o = 0; o < len; o += (size_t)pg) /* before 5.14 */
            ((volatile char *)a)[o] = 0;
    }
    *out = a;
    return 0;
}

/* 1 under a hypervisor (x86: CPUID leaf 1, ECX bit 31), else 0. */
static int bp__iomem_hypervisor(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;

    if (__get_cpuid(1, &a, &b, &c, &d))
        return (c >> 31) & 1;
#endif
    return 0;
}

int bp__iomem_setup(bp_pool *p, bp_backend kind)
{
    /* BUFPOOL_IO_STAGE (auto, off, on: bp_io_stage's order) beats the
     * option (bufpool.h says why) */
    int mode = bp__env_get(BP__ENV_IO_STAGE, (int)p->po_io_stage),
        hv = bp__iomem_hypervisor(), early, linear, uring, rc;
    size_t len;
    void *m;

    p->io_thp = bp__iomem_thp_size();
    p->io_stage = (hv ? BP__STAGE_HV : 0) | (p->io_thp ? BP__STAGE_THP : 0);
    if (mode == BP_STAGE_OFF || (mode == BP_STAGE_AUTO && !hv) ||
        (kind != BP_BACKEND_LINEAR && kind != BP_BACKEND_COPY))
        return 0;
    linear = kind == BP_BACKEND_LINEAR;
    uring = p->io && strcmp(p->io->name, "io_uring") == 0;
    /* read-ahead: linear's on either engine; copy's on io_uring, where it
     * is sent before its slot's old page goes home (bp_aio.c) */
    if (linear || uring)
        p->io_stage |= BP__STAGE_AHEAD;
    if (!uring)
        return 0;
    early = bp__env_get(BP__ENV_IO_EARLY, 1); /* bp_io_early.c */
    if (!linear && !early) /* copy: fix misses read into the slot itself */
        return 0;
    /* a page per lane: fix-miss lanes, then early lanes (copy uses only
     * the early lanes' half: its fix misses land in the private slot) */
    len = (size_t)BP__URING_LANES * (early ? 2u : 1u) * p->po_page_size;
    if ((rc = bp__iomem_map(p, &len, 1, 1, &m)) != 0)
        return bp__fail(p, rc, "cannot map %zu bytes for staged reads: %s "
                        "(BUFPOOL_IO_STAGE=off reads into the frames)",
                        len, strerror(-rc));
    p->io_land = m;
    p->io_land_len = len;
    p->io_stage |= (linear ? BP__STAGE_MISS : 0) |
                   (early ? BP__STAGE_EARLY : 0);
    return 0;
}

void bp__iomem_close(bp_pool *p)
{
    if (p->io_land)
        munmap(p->io_land, p->io_land_len);
    p->io_land = NULL;
    p->io_land_len = 0;
}
