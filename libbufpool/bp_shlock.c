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
 * after BP__SHL_NAP at most and look again: a wait never depends on one
 * wake-up arriving.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bp_internal.h"

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

void bp__shlock(bp_pool *p, uint32_t *w, enum bp__rank r)
{
    const struct timespec nap = {0, BP__SHL_NAP_NS};
    uint32_t v = 0;

    bp__rank_note(r, 1);
    if (__atomic_compare_exchange_n(w, &v, p->proc_tag, 0, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
        return;
    for (int i = 0; i < BP__SHL_SPINS; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        v = __atomic_load_n(w, __ATOMIC_RELAXED);
        if (v == 0 &&
            __atomic_compare_exchange_n(w, &v, p->proc_tag, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
    }
    for (;;) {
        v = __atomic_load_n(w, __ATOMIC_RELAXED);
        if (v == 0) {
            if (__atomic_compare_exchange_n(w, &v,
                                            p->proc_tag | BP__SHL_WAITERS, 0,
                                            __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
                return;
            continue;
        }
        if (!(v & BP__SHL_WAITERS) &&
            !__atomic_compare_exchange_n(w, &v, v | BP__SHL_WAITERS, 0,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            continue;
        (void)syscall(SYS_futex, w, bp__shl_op(p, FUTEX_WAIT),
                      v | BP__SHL_WAITERS, &nap, NULL, 0);
    }
}

void bp__shunlock(bp_pool *p, uint32_t *w, enum bp__rank r)
{
    uint32_t v = __atomic_exchange_n(w, 0, __ATOMIC_RELEASE);

    if (v & BP__SHL_WAITERS)
        (void)syscall(SYS_futex, w, bp__shl_op(p, FUTEX_WAKE), 1, NULL, NULL,
                      0);
    bp__rank_note(r, 0);
}
