/*
 * bp_latch.h - the per-frame state word: latch, version, usage, flags.
 *
 * LOCK ORDER (a thread may only take a lock of a higher rank than every lock
 * it holds; the debug checker in bp_lockorder.c enforces it):
 *
 *   1. p->alloc_lock  bp_alloc_page: new pages are made one at a time
 *   2. p->lock        the window lock: slot replacement and the window
 *                     table's writers (per process)
 *   3. p->parts[i]    a page-table partition (bp_ptab.c); never two at once
 *   4. frame BUSY     a frame latched for remap, eviction or I/O (taken only
 *                     with a CAS, never waited for while holding a mutex)
 *   5. p->io_lock     the one-page I/O slot
 *
 * The io_uring engine's ring mutex is a leaf (the error message is
 * thread-local: no lock).
 *
 * Page latches taken by bp_fix (shared / exclusive) are never waited for
 * while p->lock is held: the miss path tries them with one CAS and, on a
 * conflict, drops p->lock before sleeping.  Engines order their own page
 * latches (for example root to leaf).
 *
 * The word (64 bits, in the shm file, so futexes on it work across
 * processes too):
 *
 *   bits  0..34  version: bumped whenever an exclusive or BUSY latch is
 *                released, so optimistic readers see every change
 *   bits 35..42  OWNER  the process-table slot + 1 of the exclusive or BUSY
 *                       holder (0 otherwise): a waiter that finds the
 *                       holder dead recovers the frame (bp_reap.c)
 *   bits 43..44  HOT    sampled shared hits since the last exclusive or
 *                       BUSY latch, 0..3 (bp_readers.c)
 *   bit  45      UNFENCED shared fixes through reader slots may skip their
 *                       store-load fence; cleared by every exclusive or
 *                       BUSY take, which then runs a process-wide barrier
 *                       (bp__readers_barrier) before anything else
 *   bits 46..47  usage count for CLOCK, 0..3
 *   bit  48      DIRTY  page differs from the data file
 *   bit  49      WB     written by the flush in progress, awaiting fdatasync
 *   bit  50      SCAN   brought in by a BP_SCAN fix and not touched since by
 *                       a normal one (recycled first by the scan ring)
 *   bit  51      WAITERS someone sleeps on the futex (high half of the word)
 *   bits 52..63  latch: 0 free, 1..LATCH_MAX_SHARED shared holders,
 *                LATCH_EXCL exclusive, LATCH_BUSY remap/eviction/I/O
 *
 * A fix holds a latch, so "pinned" means latch != 0: a latched frame is
 * never evicted and its slot never remapped.
 */
#ifndef BP_LATCH_H
#define BP_LATCH_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BP_W_VERSION_BITS 35
#define BP_W_OWNER_SHIFT 35
#define BP_W_OWNER_BITS 8
#define BP_W_HOT_SHIFT 43
#define BP_W_HOT_MASK (3ull << BP_W_HOT_SHIFT)
#define BP_W_UNFENCED (1ull << 45)
#define BP_W_USAGE_SHIFT 46
#define BP_W_USAGE_BITS 2
#define BP_W_DIRTY (1ull << 48)
#define BP_W_WB (1ull << 49)
#define BP_W_SCAN (1ull << 50)
#define BP_W_WAITERS (1ull << 51)
#define BP_W_LATCH_SHIFT 52
#define BP_W_LATCH_BITS 12

_Static_assert(BP_W_VERSION_BITS == BP_W_OWNER_SHIFT &&
                   BP_W_OWNER_SHIFT + BP_W_OWNER_BITS == BP_W_HOT_SHIFT,
               "version, then owner, below HOT");
_Static_assert(BP_W_HOT_SHIFT + 3 == BP_W_USAGE_SHIFT, "HOT, UNFENCED, usage");
_Static_assert(BP_W_USAGE_SHIFT + BP_W_USAGE_BITS == 48, "usage below flags");
_Static_assert(BP_W_LATCH_SHIFT + BP_W_LATCH_BITS == 64, "latch fills the top");
_Static_assert(BP_W_LATCH_SHIFT >= 32, "the futex half must hold the latch");

#define BP_W_VERSION_MASK ((1ull << BP_W_VERSION_BITS) - 1)
#define BP_W_OWNER_MASK (((1ull << BP_W_OWNER_BITS) - 1) << BP_W_OWNER_SHIFT)
#define BP_W_USAGE_MASK (((1ull << BP_W_USAGE_BITS) - 1) << BP_W_USAGE_SHIFT)
#define BP_W_USAGE_MAX ((1u << BP_W_USAGE_BITS) - 1)
#define BP_W_LATCH_MASK (~0ull << BP_W_LATCH_SHIFT)
#define BP_LATCH_BUSY ((1u << BP_W_LATCH_BITS) - 1)
#define BP_LATCH_EXCL (BP_LATCH_BUSY - 1)
#define BP_LATCH_MAX_SHARED (BP_LATCH_EXCL - 1)
#define BP_W_SHARED_ONE (1ull << BP_W_LATCH_SHIFT)

static inline unsigned bp_w_latch(uint64_t w)
{
    return (unsigned)(w >> BP_W_LATCH_SHIFT);
}

static inline uint64_t bp_w_version(uint64_t w)
{
    return w & BP_W_VERSION_MASK;
}

/* The exclusive or BUSY holder's process slot + 1, 0 if none is named. */
static inline unsigned bp_w_owner(uint64_t w)
{
    return (unsigned)((w & BP_W_OWNER_MASK) >> BP_W_OWNER_SHIFT);
}

static inline unsigned bp_w_usage(uint64_t w)
{
    return (unsigned)((w & BP_W_USAGE_MASK) >> BP_W_USAGE_SHIFT);
}

static inline uint64_t bp_w_set_usage(uint64_t w, unsigned u)
{
    return (w & ~BP_W_USAGE_MASK) | ((uint64_t)u << BP_W_USAGE_SHIFT);
}

/* w as a use of its page leaves it: usage at the top and SCAN clear (a
 * normal use promotes a scan's page).  Equal to w when it already is, so
 * a caller writes only when the result differs. */
static inline uint64_t bp_w_used(uint64_t w)
{
    return bp_w_set_usage(w, BP_W_USAGE_MAX) & ~BP_W_SCAN;
}

static inline uint64_t bp_w_set_latch(uint64_t w, unsigned l)
{
    return (w & ~BP_W_LATCH_MASK) | ((uint64_t)l << BP_W_LATCH_SHIFT);
}

/* The word taken exclusive or BUSY (latch l) by the process whose tag
 * (slot + 1) is owner: UNFENCED and HOT cleared.  Every such take goes
 * through here; when the word it replaced had UNFENCED, the taker calls
 * bp__readers_barrier before it looks at reader slots or releases the
 * latch (bp_readers.c says why). */
static inline uint64_t bp_w_take(uint64_t w, unsigned l, unsigned owner)
{
    w &= ~(BP_W_UNFENCED | BP_W_HOT_MASK | BP_W_OWNER_MASK);
    return bp_w_set_latch(w | (uint64_t)owner << BP_W_OWNER_SHIFT, l);
}

/* Release to latch l with the version bumped and no owner (after
 * exclusive or BUSY). */
static inline uint64_t bp_w_release(uint64_t w, unsigned l)
{
    uint64_t v = (bp_w_version(w) + 1) & BP_W_VERSION_MASK;

    return bp_w_set_latch(
        (w & ~BP_W_VERSION_MASK & ~BP_W_WAITERS & ~BP_W_OWNER_MASK) | v, l);
}

static inline uint64_t bp_w_load(const uint64_t *w)
{
    return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static inline int bp_w_cas(uint64_t *w, uint64_t *expect, uint64_t desired)
{
    return __atomic_compare_exchange_n(w, expect, desired, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

/* Can a fix in mode excl take the latch now? */
static inline int bp_w_can_latch(uint64_t w, int excl)
{
    unsigned l = bp_w_latch(w);

    return excl ? l == 0 : l < BP_LATCH_MAX_SHARED;
}

/* The latched word for a fix (usage bumped unless scan) by the process
 * tagged owner. */
static inline uint64_t bp_w_latched(uint64_t w, int excl, int scan,
                                    unsigned owner)
{
    unsigned u = bp_w_usage(w);

    if (!scan && u < BP_W_USAGE_MAX)
        w = bp_w_set_usage(w, u + 1);
    if (!scan)
        w &= ~BP_W_SCAN;
    return excl ? bp_w_take(w, BP_LATCH_EXCL, owner) : w + BP_W_SHARED_ONE;
}

/* The futex is the word's high half, which holds latch and WAITERS. */
static inline uint32_t *bp_w_futex(uint64_t *w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint32_t *)w + 1;
#else
    return (uint32_t *)w;
#endif
}

static inline void bp_w_wake(uint64_t *w)
{
    syscall(SYS_futex, bp_w_futex(w), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Sleep until the word changes from w (which has WAITERS set), or for
 * nap at most (NULL: no limit). */
struct timespec;
static inline void bp_w_sleep(uint64_t *w, uint64_t seen,
                              const struct timespec *nap)
{
    syscall(SYS_futex, bp_w_futex(w), FUTEX_WAIT, (uint32_t)(seen >> 32),
            nap, NULL, 0);
}

/* Mark the frame dirty: DIRTY set, WB cleared (written after the flush in
 * progress wrote it, so that flush must not call it clean). */
static inline void bp_w_mark_dirty(uint64_t *w)
{
    uint64_t v = bp_w_load(w);

    while (!bp_w_cas(w, &v, (v | BP_W_DIRTY) & ~BP_W_WB))
        ;
}

/* Wait (spin briefly, then sleep) until the word differs from seen: 0
 * (look again).  In a shared cache the sleep is bounded: a holder found
 * dead is reaped (bp_reap.c) and the caller looks again; a live one is
 * waited for up to the pool's wait limit, then -ETIMEDOUT; a poisoned
 * cache gives BP_EPOISONED. */
struct bp_pool;
int bp__latch_wait(struct bp_pool *p, uint64_t *w, uint64_t seen);

/* Release a latch held in mode excl (0 shared, 1 exclusive, 2 BUSY), OR-ing
 * set_bits into the word (e.g. DIRTY) and clearing clear_bits. */
void bp__latch_release(uint64_t *w, int mode, uint64_t set_bits,
                       uint64_t clear_bits);

#endif
