/*
 * bp_lockorder.c - the debug-build lock-order checker.
 *
 * Every internal lock has a rank (platform.h: flush 0, alloc 1, window 2,
 * page-table partition 3, frame BUSY 4, I/O slot 5, aio requests 6).  In debug builds (BP_DEBUG) each
 * thread keeps a bit set of the ranks it holds; taking a lock whose rank is
 * not above every held rank, or sleeping on a latch while holding a mutex,
 * is a violation: it is
 * counted (bp__test_lock_order_violations) rather than aborted on, and the
 * tests assert the count stays 0.  Release builds compile the checks out.
 */
#include "platform/platform.h"
#include "platform/bp_testing.h"

static _Thread_local unsigned bp__held; /* bit r set: holds rank r */
static uint64_t bp__violations;

void bp__rank_note(enum bp__rank r, int acquire)
{
    if (!BP_DEBUG)
        return;
    if (acquire) {
        /* sleeping on a latch (rank BUSY) while holding any mutex, or
         * taking a lock at or below a held rank, inverts the order */
        if (r == BP__RANK_BUSY ? (bp__held & ~(1u << BP__RANK_FLUSH)) != 0
                               : (bp__held >> r) != 0)
            __atomic_add_fetch(&bp__violations, 1, __ATOMIC_RELAXED);
        bp__held |= 1u << r;
    } else {
        bp__held &= ~(1u << r);
    }
}

void bp__lock(bp_pool *p, pthread_mutex_t *m, enum bp__rank r)
{
    (void)p;
    bp__rank_note(r, 1);
    pthread_mutex_lock(m);
}

void bp__unlock(pthread_mutex_t *m, enum bp__rank r)
{
    pthread_mutex_unlock(m);
    bp__rank_note(r, 0);
}

uint64_t bp__test_lock_order_violations(void)
{
    return __atomic_load_n(&bp__violations, __ATOMIC_RELAXED);
}

int bp__test_lock_order_probe(bp_pool *p)
{
    if (!BP_DEBUG)
        return -ENOTSUP;
    bp__lock(p, &p->io_lock, BP__RANK_IO);
    bp__lock(p, &p->lock, BP__RANK_MISS); /* wrong: rank 2 under rank 5 */
    bp__unlock(&p->lock, BP__RANK_MISS);
    bp__unlock(&p->io_lock, BP__RANK_IO);
    return 0;
}
