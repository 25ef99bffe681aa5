/*
 * bp_uring_reg.c - the pool memory io_uring rings register as fixed
 * buffers: the "region".
 *
 * Owns: p->io_reg_base and p->io_reg_len (set once the window is open),
 * the split of the region into registered buffers (chunks of at most
 * BP__REG_CHUNK bytes, the kernel's limit per buffer), the lookup of a
 * page's chunk, and the memlock pre-check.
 *
 * Why: a plain O_DIRECT read pins its destination pages for every request
 * (get_user_pages walk, page refcounts); a READ_FIXED into registered
 * memory does not.  Measured here on this VM, reading into a random page
 * of a 64 MiB shm mapping cost 3-15% against reading into one fixed
 * buffer, and registering the mapping won most of it back (README).
 *
 * The region is memory whose pages never change under the pool while it
 * is open, since registration pins the pages it finds at that moment:
 *  - linear: the whole cache mapping (frames), MAP_SHARED of the shm file,
 *    every byte fallocate()d at open and never punched or truncated while
 *    open;
 *  - copy: the private anonymous window (slots), never remapped.
 * rfp and mmap remap their slots, so a pinned page would stop being the
 * slot's page: no region.  BUFPOOL_IO_REGBUF=0 turns the region off.
 *
 * Invariants:
 *  - io_reg_base/len are written before bp_open returns and never change
 *    until close; rings read them without a lock.
 *  - A page is read into a registered buffer only when it lies inside one
 *    chunk (pages are powers of two dividing the chunk size, so always).
 *  - Pinned pages stay pinned until the ring is torn down (bp_close), after
 *    the window is unmapped or not: the pins keep the pages alive, and no
 *    request is in flight by then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io/io_impl.h"

#ifdef BP_HAVE_URING
#include "platform/bp_sys.h"
#endif

void bp__reg_setup(bp_pool *p, bp_backend kind)
{
    p->io_reg_base = NULL;
    p->io_reg_len = 0;
    if (bp__env_get(BP__ENV_IO_REGBUF, 1) == 0)
        return;
    if ((kind != BP_BACKEND_LINEAR && kind != BP_BACKEND_COPY) ||
        !p->window)
        return;
    if (bp__reg_chunks_of(p->window_bytes) > BP__REG_MAX_CHUNKS)
        return;
    p->io_reg_base = p->window;
    p->io_reg_len = p->window_bytes;
}

unsigned bp__reg_chunks_of(uint64_t len)
{
    return (unsigned)((len + BP__REG_CHUNK - 1) / BP__REG_CHUNK);
}

unsigned bp__reg_chunks(const bp_pool *p)
{
    return bp__reg_chunks_of(p->io_reg_len);
}

unsigned bp__reg_iovecs(const bp_pool *p, struct iovec *iov, unsigned max)
{
    unsigned n = bp__reg_chunks(p);

    if (n > max)
        return 0;
    for (unsigned k = 0; k < n; k++) {
        uint64_t off = (uint64_t)k * BP__REG_CHUNK, left = p->io_reg_len - off;

        iov[k].iov_base = p->io_reg_base + off;
        iov[k].iov_len = (size_t)(left < BP__REG_CHUNK ? left : BP__REG_CHUNK);
    }
    return n;
}

int bp__reg_index(const bp_pool *p, const void *buf, size_t len)
{
    uintptr_t b = (uintptr_t)buf, base = (uintptr_t)p->io_reg_base;
    uint64_t off, in;

    if (!p->io_reg_len || b < base || b - base >= p->io_reg_len)
        return -1;
    off = b - base;
    in = off % BP__REG_CHUNK;
    if (off + len > p->io_reg_len || in + len > BP__REG_CHUNK)
        return -1;
    return (int)(off / BP__REG_CHUNK);
}

int bp__reg_memlock_ok(uint64_t bytes)
{
    struct rlimit rl;

    if (geteuid() == 0 || getrlimit(RLIMIT_MEMLOCK, &rl) != 0 ||
        rl.rlim_cur == RLIM_INFINITY)
        return 1; /* let the kernel decide (CAP_IPC_LOCK, or unlimited) */
    /* the kernel pins every page before it finds the limit exceeded: do
     * not make it pin a large region for nothing */
    return bytes <= (uint64_t)rl.rlim_cur;
}

#ifdef BP_HAVE_URING
/* IORING_REGISTER_CLONE_BUFFERS (Linux 6.12) and its argument; liburing
 * 2.3 (Debian 12) has neither, so they are spelled out here.  With
 * src_off, dst_off and nr zero (6.13) or absent (6.12) the whole table is
 * cloned. */
#define BP__REGISTER_CLONE_BUFFERS 30
struct bp__clone_buffers {
    uint32_t src_fd;
    uint32_t flags;
    uint32_t src_off;
    uint32_t dst_off;
    uint32_t nr;
    uint32_t pad[3];
};

int bp__reg_register(bp_pool *p, struct io_uring *ring,
                     const struct iovec *head, unsigned nhead)
{
    struct iovec iov[BP__REG_HEAD_MAX + BP__REG_MAX_CHUNKS];
    uint64_t bytes = p->io_reg_len;
    unsigned n;

    if (!p->io_reg_len || nhead > BP__REG_HEAD_MAX)
        return -EINVAL;
    for (unsigned i = 0; i < nhead; i++) {
        iov[i] = head[i];
        bytes += head[i].iov_len;
    }
    if (!bp__reg_memlock_ok(bytes) ||
        (n = bp__reg_iovecs(p, iov + nhead, BP__REG_MAX_CHUNKS)) == 0)
        return -ENOMEM;
    return bp__sys_uring_register_buffers(ring, iov, nhead + n);
}

int bp__reg_clone(struct io_uring *dst, int src_ring_fd)
{
    struct bp__clone_buffers arg;
    long rc;

    memset(&arg, 0, sizeof arg);
    arg.src_fd = (uint32_t)src_ring_fd;
    {
        int h = bp__sys_check(BP__SYS_URING_REGISTER);

        if (h)
            return -bp__sys_errno(h);
    }
    rc = syscall(SYS_io_uring_register, dst->ring_fd,
                 BP__REGISTER_CLONE_BUFFERS, &arg, 1);
    return rc < 0 ? -errno : 0;
}
#endif

/* ---- test hooks (bp_testing.h) ----------------------------------------- */

int bp__test_reg_index(uintptr_t base, uint64_t len, uintptr_t addr,
                       size_t n)
{
    static bp_pool q; /* only io_reg_base/len are read */

    q.io_reg_base = (char *)base;
    q.io_reg_len = len;
    return bp__reg_index(&q, (const void *)addr, n);
}

uint64_t bp__test_reg_chunk_len(uintptr_t base, uint64_t len, unsigned k,
                                unsigned max)
{
    static bp_pool q;
    static struct iovec iov[BP__REG_MAX_CHUNKS];
    unsigned n;

    q.io_reg_base = (char *)base;
    q.io_reg_len = len;
    n = bp__reg_iovecs(&q, iov, max < BP__REG_MAX_CHUNKS ? max
                                                          : BP__REG_MAX_CHUNKS);
    if (k >= n)
        return 0;
    if ((uintptr_t)iov[k].iov_base != base + (uintptr_t)k * BP__REG_CHUNK)
        return UINT64_MAX; /* chunks must follow each other */
    return iov[k].iov_len;
}
