/*
 * io.h - the I/O layer: the data file and the engines that move its pages.
 *
 * Opening and locking the data file, O_DIRECT alignment, the engine ops
 * (bp_io_sync.c, bp_io_uring.c), page trailers and the WAL rule (bp_io.c),
 * fixed buffers (bp_uring_reg.c), where reads land (bp_iomem.c), early
 * reads (bp_io_early.c).  It reads the shm header only through the handle's
 * disk_pages and wal_durable words, which the shm layer points at its
 * header; it calls nothing above it.  What only the layer's own files use
 * is in io_impl.h.
 */
#ifndef BP_IO_H
#define BP_IO_H

#include "platform/platform.h"

/* Byte offsets of the data file used as OFD lock names (bp_io.c): */
#define BP__DLOCKB_OPEN 0   /* exclusive: a private pool; shared: read-only
                               pools and the processes of one shared cache */
#define BP__DLOCKB_SHARED 1 /* shared by the processes of the shared cache
                               that has the data file (read-only pools stay
                               away while it is held) */

/* ---- data-file I/O engine ---------------------------------------------------
 * Every data-file I/O goes through these ops so that an engine can be
 * swapped; the engines make their system calls through bp_sys.h.  Calls
 * return the byte count or a negative errno; they never return short except
 * at end of file (read) and never retry EINTR themselves beyond what they
 * document. */
struct bp__early;
struct bp__io_ops {
    const char *name;
    ssize_t (*read)(bp_pool *p, void *buf, size_t len, uint64_t off);
    ssize_t (*write)(bp_pool *p, const void *buf, size_t len, uint64_t off);
    int (*sync)(bp_pool *p);
    /* Early reads (bp_io_early.c; NULL: the engine has none).  start:
     * submit a read of len bytes at off into a landing page and return
     * without waiting: 0 (e->lane and e->tag set), or a negative errno with
     * nothing in flight.  take: wait for it, copy the bytes that arrived to
     * dst (none when dst is NULL) and give the landing page back: the byte
     * count or a negative errno. */
    int (*early_start)(bp_pool *p, uint64_t off, size_t len,
                       struct bp__early *e);
    ssize_t (*early_take)(bp_pool *p, struct bp__early *e, void *dst);
};

/* bp_uring_reg.c: the region rings register as fixed buffers, split in
 * chunks of BP__REG_CHUNK bytes.  bp__reg_setup after the window opens
 * (then bp__io_uring_reg_region registers it on the fix-miss lane 0);
 * bp__reg_index is the chunk holding [buf, buf+len) or -1. */
#define BP__REG_CHUNK (1ull << 30)  /* the kernel's limit per buffer */
#define BP__REG_MAX_CHUNKS 256u     /* 256 GiB; the kernel takes 16K */
void bp__reg_setup(bp_pool *p, bp_backend kind);
int bp__reg_index(const bp_pool *p, const void *buf, size_t len);
#ifdef BP_HAVE_URING
struct io_uring;
struct iovec;
/* Register head[0..nhead) (at most BP__REG_HEAD_MAX) and then the
 * region's chunks as ring's buffers, the region's first chunk at index
 * nhead: 0, or -errno (-ENOMEM without trying when RLIMIT_MEMLOCK would
 * refuse; -EINVAL with no region). */
#define BP__REG_HEAD_MAX 1u
int bp__reg_register(bp_pool *p, struct io_uring *ring,
                     const struct iovec *head, unsigned nhead);
/* bp_io_uring.c: register the region on lane 0 (after the window opens);
 * not fatal, plain reads without it. */
void bp__io_uring_reg_region(bp_pool *p);
#endif

/* bp_iomem.c: where reads land.  bp__iomem_setup, at open before the
 * window is mapped, decides io_thp and io_stage (and maps the fix-miss
 * lanes' landing area): 0 or an error.  bp__iomem_map maps *len bytes of
 * private anonymous memory (populated when asked), aligned to and advised
 * into huge pages of io_thp bytes when that is not 0 (round: *len grows
 * to one huge page when smaller); 0 or -errno. */
#define BP__STAGE_AHEAD 1u /* read-ahead lands in its request's buffer */
#define BP__STAGE_MISS 2u  /* a fix miss lands in its lane's page */
#define BP__STAGE_EARLY 4u /* ... and is submitted before its frame is
                              taken (bp_io_early.c) */
#define BP__STAGE_THP 8u   /* I/O buffers advised into huge pages */
#define BP__STAGE_HV 16u   /* a hypervisor was seen (auto's input) */
#define BP__URING_LANES 8  /* fix-miss lanes (bp_io_uring.c), and as
                              many early lanes after them */
int bp__iomem_map(bp_pool *p, size_t *len, int round, int populate,
                  void **out);
int bp__iomem_setup(bp_pool *p, bp_backend kind);

int bp__io_open(bp_pool *p, const char *path, unsigned flags);
/* bp_io.c: the data file's locks for a shared cache.  claim: its creator
 * checks no other pool or cache has the file and marks it a shared
 * cache's; join: a later process marks it too.  0 or -EBUSY. */
int bp__io_claim_shared(bp_pool *p);
int bp__io_join_shared(bp_pool *p);
void bp__io_close(bp_pool *p);
int bp__io_read_page(bp_pool *p, uint64_t pgno, void *buf);
/* bp_io_early.c: a fix miss's read submitted as soon as the page is known
 * to be missing from the cache, while the miss takes a frame (io_stage bit
 * 2).  arm before the miss looks the page up; start where the lookup
 * fails (gen: the partition's insert count then; no pool lock held);
 * insert where the miss inserts its page (gen: the count just before);
 * end on every way out of the miss (before any sleep on a latch); take
 * (io_impl.h) gives bp__io_read_page the bytes. */
struct bp__early {
    bp_pool *p;       /* armed or in flight for this pool, else NULL */
    unsigned nested;  /* misses armed inside the one that armed p */
    int flight;       /* a read is in flight */
    uint64_t pgno;    /* its page */
    uint64_t gen;     /* its partition's insert count when pgno was missing */
    int stale;        /* the page was cached since: drop the bytes */
    uint64_t t0;      /* when it was submitted (read_ns) */
    void *lane;       /* the engine's: where it is in flight */
    uint64_t tag;
};
int bp__io_early_arm(bp_pool *p); /* 1: call end on the way out */
void bp__io_early_start(bp_pool *p, uint64_t pgno, uint64_t gen);
void bp__io_early_insert(bp_pool *p, uint64_t pgno, uint64_t gen);
void bp__io_early_end(bp_pool *p);
/* sets the trailer */
int bp__io_write_page(bp_pool *p, uint64_t pgno, void *buf);
/* The same once the caller has applied the WAL rule (bp__io_wal_before). */
int bp__io_write_page_logged(bp_pool *p, uint64_t pgno, void *buf);

/* bp_io.c pieces shared with the asynchronous engine (pool/bp_aio.c) */
ssize_t bp__io_xfer_page(bp_pool *p, uint64_t pgno, void *buf, int write);
int bp__io_verify(bp_pool *p, const void *buf, uint64_t pgno);
void bp__io_stamp(bp_pool *p, void *buf, uint64_t pgno);
int bp__io_wal_before(bp_pool *p, uint64_t lsn, uint64_t pgno);
/* The log is durable up to lsn (the shm header's word only grows). */
void bp__io_wal_durable(bp_pool *p, uint64_t lsn);
void bp__io_wrote(bp_pool *p, uint64_t pgno);

#endif
