/*
 * bp_shlock.c - locks that live in the shm file: 32-bit futex words.
 *
 * Owns: the lock protocol of every lock shared by the processes of a cache
 * (bp_shared.h: the page-table partitions, sh_alloc_lock, sh_flush_lock).
 * A pthread mutex cannot be one: its size differs between the 32-bit and
 * 64-bit ABIs, and a robust one still leaves the protected data half
 * changed when its holder dies.
 *
 * The word: 0 free; else the holder's proc_tag (its process slot + 1) with
 * BP__SHL_WAITERS set while someone may sleep on it.  Taking: CAS 0 ->
 * tag, a short spin, then set WAITERS and FUTEX_WAIT (shared futex in a
 * shared cache, private in a private pool).  A sleeper that wakes takes
 * the lock with WAITERS set again, since it cannot know whether others
 * still sleep (Drepper's "futexes are tricky", mutex 3).  Releasing:
 * exchange with 0, and wake one sleeper if WAITERS was set.  Sleeps end
 * after BP__SHL_NAP_NS at most and look again: a wait never depends on one
 * wake-up arriving, and a holder found dead is reaped (bp_reap.c), which
 * frees the lock.  Page-table partitions are held for table work only,
 * never across I/O or a wait, so their waits have no limit; the
 * allocation and flush locks are waited for up to the pool's wait limit
 * (bp_set_wait_limit) when their holder lives.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm_impl.h"

#define BP__SHL_SPINS 100
#define BP__SHL_NAP_NS 50000000L /* 50 ms */

static int bp__shl_op(const bp_pool *p, int op)
{
    return op | (p->futex_private ? FUTEX_PRIVATE_FLAG : 0);
}

int bp__shtrylock(bp_pool *p, uint32_t *w, enum bp__rank r)
{
    uint32_t v = 0;

    if (!__atomic_compare_exchange_n(w, &v, p->proc_tag, 0, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return 0;
    bp__rank_note(r, 1);
    return 1;
}

int bp__shlock_for(bp_pool *p, uint32_t *w, enum bp__rank r,
                   unsigned limit_ms)
{
    const struct timespec nap = {0, BP__SHL_NAP_NS};
    uint64_t waited_ms = 0;
    uint32_t v = 0;

    if (__atomic_compare_exchange_n(w, &v, p->proc_tag, 0, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
        goto taken;
    for (int i = 0; i < BP__SHL_SPINS; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        v = __atomic_load_n(w, __ATOMIC_RELAXED);
        if (v == 0 &&
            __atomic_compare_exchange_n(w, &v, p->proc_tag, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            goto taken;
    }
    for (;;) {
        v = __atomic_load_n(w, __ATOMIC_RELAXED);
        if (v == 0) {
            if (__atomic_compare_exchange_n(w, &v,
                                            p->proc_tag | BP__SHL_WAITERS, 0,
                                            __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
                goto taken;
            continue;
        }
        if (!(v & BP__SHL_WAITERS) &&
            !__atomic_compare_exchange_n(w, &v, v | BP__SHL_WAITERS, 0,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            continue;
        v |= BP__SHL_WAITERS;
        if (syscall(SYS_futex, w, bp__shl_op(p, FUTEX_WAIT), v, &nap, NULL,
                    0) == 0 ||
            errno != ETIMEDOUT || !p->shared)
            continue;
        /* a nap went by: is the holder dead (then its entry is cleaned,
         * which frees this lock), or too long alive? */
        if (p->reap_slot(p, (v & ~BP__SHL_WAITERS) - 1))
            continue;
        waited_ms += BP__SHL_NAP_NS / 1000000;
        if (limit_ms && waited_ms >= limit_ms) {
            uint32_t o = (v & ~BP__SHL_WAITERS) - 1;

            return bp__fail(p, -ETIMEDOUT, "a lock of the shared cache has "
                            "been held by process %u, alive, for %" PRIu64
                            " ms (stopped or stuck?): what a live process "
                            "holds is not taken from it",
                            o < BP__PROCS ? BP__LOAD(p->procs[o].pr_pid) : 0u,
                            waited_ms);
        }
    }
taken:
    bp__rank_note(r, 1);
    return 0;
}

void bp__shlock(bp_pool *p, uint32_t *w, enum bp__rank r)
{
    (void)bp__shlock_for(p, w, r, 0);
}

void bp__shunlock(bp_pool *p, uint32_t *w, enum bp__rank r)
{
    uint32_t v = __atomic_exchange_n(w, 0, __ATOMIC_RELEASE);

    if (v & BP__SHL_WAITERS)
        (void)syscall(SYS_futex, w, bp__shl_op(p, FUTEX_WAKE), 1, NULL, NULL,
                      0);
    bp__rank_note(r, 0);
}
