/*
 * bp_testing.h - hooks for libbufpool's own tests and benchmarks.
 *
 * Not part of the public interface: these link only from the static
 * library (libbufpool.a) and may change without notice.
 */
#ifndef BP_TESTING_H
#define BP_TESTING_H

#include "platform/bp_sys.h"
#include "bufpool.h"

/* Before bp_open(): pretend the data file's direct-I/O alignment is align
 * bytes (as a 4 KiB or 64 KiB sector device would report).  0 = probe. */
int bp__test_set_dio_align(bp_pool *p, uint32_t align);

/* Byte offset inside the shm backing file of the frame holding pgno, or
 * UINT64_MAX when pgno is not in the cache. */
uint64_t bp__test_frame_offset(bp_pool *p, uint64_t pgno);

/* Address of the window slot that maps pgno, or NULL when pgno is not in the
 * window.  Does not pin. */
void *bp__test_slot_addr(bp_pool *p, uint64_t pgno);

/* Check the pool's internal invariants (tables agree with frame and slot
 * states, counts add up).  Returns 0 or a negative code, and fills
 * bp_errmsg() with what is wrong. */
int bp__test_check(bp_pool *p);

/* Debug builds (BP_DEBUG): the internal lock-order checker.  The count of
 * out-of-order acquisitions it has caught in this process, and a probe
 * that deliberately takes two internal locks of the pool in the wrong order
 * (returns -ENOTSUP in release builds, where the checker is compiled out). */
uint64_t bp__test_lock_order_violations(void);
int bp__test_lock_order_probe(bp_pool *p);

/* Asynchronous reads (bp_prefetch) stay in flight while on != 0: their
 * data may have arrived, but no completion is processed (frames stay BUSY,
 * bp_io_seq does not move) until the hold is lifted (close lifts it).  0,
 * or an error creating the pool's asynchronous I/O state; -EINVAL for a
 * pool that is not open. */
int bp__test_aio_hold(bp_pool *p, int on);

/* Early reads (bp_io_early.c): fn(arg, pgno) is called in the missing
 * thread right after each early read of pgno was submitted, before the
 * miss takes a frame (no pool lock held), so a test can change the page
 * meanwhile; NULL removes it.  Process-wide; set while no other thread is
 * in a pool.  -ENOTSUP where fault injection is compiled out. */
int bp__test_early_hook(void (*fn)(void *arg, uint64_t pgno), void *arg);
/* Read-ahead of the copy backend (io_uring, staged: io_staged bit 0):
 * fn(arg, pgno) is called in the prefetching thread after the read of pgno
 * was sent and before its slot's old page is copied home (a_prep_lock
 * held, pgno's frame BUSY), so a test can let the read complete first.
 * As bp__test_early_hook otherwise. */
int bp__test_ahead_hook(void (*fn)(void *arg, uint64_t pgno), void *arg);
/* bp_uring_reg.c's arithmetic for a region (the memory rings register as
 * buffers) of len bytes at base, nothing mapped or registered: the chunk
 * (registered buffer) holding [addr, addr + n), or -1 when that is not
 * wholly inside one; and the length of chunk k when the caller has room
 * for max chunks (0 past the last chunk, or when max is too few). */
int bp__test_reg_index(uintptr_t base, uint64_t len, uintptr_t addr,
                       size_t n);
uint64_t bp__test_reg_chunk_len(uintptr_t base, uint64_t len, unsigned k,
                                unsigned max);

/* Fault injection through the system-call table (bp_sys.h: the call kinds
 * BP__SYS_<ID>), process-wide, for every pool.  Compiled in unless
 * BP_FAULT_INJECTION is off (Release builds): bp__test_faults_compiled()
 * says 1 when it is; otherwise arming returns -ENOTSUP and tests skip.
 *
 * bp__test_fault_arm: of the calls whose kind is in kinds (a mask of
 * BP__SYS_BIT(ID), or BP__SYS_ALL), the nth (1-based, counted from now)
 * fails, once, or with persistent != 0 every one from then on.  It fails
 * with errno err in the call's own convention (-1 and errno, MAP_FAILED,
 * -errno from liburing, a cqe whose res is -err), or with err ==
 * BP__SYS_SHORT as a short transfer: half the bytes, in direct-I/O
 * alignment units (pread, pwrite, read/write completions); calls that move
 * no bytes fail with EIO then.  Replaces any earlier arming and resets the
 * counts; -EINVAL for nth == 0, err < 0 or unknown kinds.  Arm with a
 * huge nth to count a scenario's calls without failing any.  Arm and
 * disarm while no other thread is in the pool. */
#define BP__SYS_BIT(id) (1u << BP__SYS_##id)
#define BP__SYS_ALL ((1u << BP__SYS_NKINDS) - 1u)
#define BP__SYS_SHORT 0
/* data-file transfers and syncs through either engine */
#define BP__SYS_DATA_READ (BP__SYS_BIT(PREAD) | BP__SYS_BIT(URING_READ))
#define BP__SYS_DATA_WRITE (BP__SYS_BIT(PWRITE) | BP__SYS_BIT(URING_WRITE))
#define BP__SYS_DATA_SYNC (BP__SYS_BIT(FDATASYNC) | BP__SYS_BIT(URING_FSYNC))
int bp__test_faults_compiled(void);
/* Park points: arm point (BP__PARK_*) and the first thread of this process
 * to reach it writes "parked\n" to fd and sleeps until the process is
 * killed (the multi-process tests kill it there).  -ENOTSUP without the
 * fault table. */
#define BP__PARK_EVICT 1 /* a dirty frame BUSY, about to be written back */
#define BP__PARK_FLUSH 2 /* frames latched shared by a flush, their
                            writes sent (io_uring: in flight) or not yet
                            made (pread/pwrite) */
#define BP__PARK_ALLOC 3 /* the allocation lock held and the new page's
                            frame BUSY */
int bp__test_park_arm(int point, int fd);
int bp__test_fault_arm(unsigned kinds, uint64_t nth, int err, int persistent);
void bp__test_fault_disarm(void);
/* Matching calls since arming (all, and of one kind), and how many failed. */
uint64_t bp__test_fault_calls(void);
uint64_t bp__test_fault_kind_calls(unsigned kind);
uint64_t bp__test_fault_hits(void);
/* "pread", "mmap(MAP_FIXED)", ... for messages. */
const char *bp__test_fault_kind_name(unsigned kind);

#endif
