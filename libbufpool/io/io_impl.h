/*
 * io_impl.h - what the I/O layer's files share among themselves and no
 * layer above uses: the engines' ops tables and set-up, the region
 * arithmetic of fixed buffers, the landing area's release, and the bytes
 * an early read brought.  Only the files of io/ include it
 * (tests/check_layers.sh refuses it elsewhere).
 */
#ifndef BP_IO_IMPL_H
#define BP_IO_IMPL_H

#include "io/io.h"

extern const struct bp__io_ops bp__io_sync;
#ifdef BP_HAVE_URING
/* bp_io_uring.c: set up io_uring for p->data_fd.  0: p->io and p->io_priv
 * are set; else a negative errno with p->io_reason saying why. */
int bp__io_uring_init(bp_pool *p);
void bp__io_uring_fini(bp_pool *p);
#endif

/* bp_uring_reg.c: chunks of a region of len bytes, and of p's region;
 * bp__reg_iovecs fills at most max iovecs (0 if more are needed);
 * bp__reg_memlock_ok says whether registering bytes can pass
 * RLIMIT_MEMLOCK. */
unsigned bp__reg_chunks_of(uint64_t len);
unsigned bp__reg_chunks(const bp_pool *p);
struct iovec;
unsigned bp__reg_iovecs(const bp_pool *p, struct iovec *iov, unsigned max);
int bp__reg_memlock_ok(uint64_t bytes);
#ifdef BP_HAVE_URING
struct io_uring;
/* Clone src's registered buffers into dst (which has none): 0 or -errno
 * (-EINVAL before Linux 6.12). */
int bp__reg_clone(struct io_uring *dst, int src_ring_fd);
#endif

/* bp_iomem.c: unmap the fix-miss lanes' landing area (at close). */
void bp__iomem_close(bp_pool *p);

/* bp_io_early.c, in bp__io_read_page: the bytes of pgno that an early read
 * brought into buf (0 if none: read them). */
ssize_t bp__io_early_take(bp_pool *p, uint64_t pgno, void *buf);

#endif
