/*
 * bp_testing.h - hooks for libbufpool's own tests and benchmarks.
 *
 * Not part of the public interface: these link only from the static
 * library (libbufpool.a) and may change without notice.
 */
#ifndef BP_TESTING_H
#define BP_TESTING_H

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

/* Fault injection on the data file (an open pool): the nth call (1-based,
 * counted from now) of the kinds in ops fails with -err, or, with err == 0,
 * transfers only half the bytes asked (in direct-I/O alignment units, as a
 * device would; a sync fails with -EIO then); once, or with persistent != 0
 * from then on.  A later call replaces the setting; ops == 0 disarms. */
#define BP__FAULT_READ 0x1u
#define BP__FAULT_WRITE 0x2u
#define BP__FAULT_SYNC 0x4u
int bp__test_io_fault(bp_pool *p, unsigned ops, uint64_t nth, int err,
                      int persistent);
/* Calls of the armed kinds counted since bp__test_io_fault (arm with a
 * huge nth to count a scenario's calls without failing any). */
uint64_t bp__test_io_calls(bp_pool *p);

#endif
