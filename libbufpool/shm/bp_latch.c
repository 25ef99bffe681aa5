/*
 * bp_latch.c - waiting for and releasing a frame's latch (bp_latch.h).
 *
 * Waiting spins briefly (a latch is usually held for a few hundred ns),
 * then sets WAITERS and sleeps on the futex in the word's high half.  Every
 * release that clears a latch while WAITERS is set wakes all sleepers; they
 * re-check and, if still blocked, set WAITERS again.  No lost wake-up: the
 * sleeper sets WAITERS with a CAS on exactly the value it saw, and the
 * futex sleeps only while the high half still equals it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "shm/shm_impl.h"

#define BP__SPINS 128
#define BP__LATCH_NAP_NS 100000000L /* shared cache: look every 100 ms */

int bp__latch_wait(bp_pool *p, uint64_t *w, uint64_t seen)
{
    const struct timespec nap = {0, BP__LATCH_NAP_NS};
    uint64_t v, waited_ms = 0;

    for (int i = 0; i < BP__SPINS; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        if (bp_w_load(w) != seen)
            return 0;
    }
    v = seen;
    /* Nothing holds the latch: no release will come to wake a sleeper.
     * (A caller whose CAS failed on an unlatched word, say one whose usage
     * bits had just changed, passes such a value; sleeping on it hung a
     * fix for good.)  Let the caller look again. */
    if (bp_w_latch(v) == 0)
        return 0;
    if (!(v & BP_W_WAITERS)) {
        if (!bp_w_cas(w, &v, v | BP_W_WAITERS))
            return 0; /* changed meanwhile: let the caller look again */
        v |= BP_W_WAITERS;
    }
    bp__rank_note(BP__RANK_BUSY, 1); /* checks no mutex is held */
    for (;;) {
        bp_w_sleep(w, v, p->shared ? &nap : NULL);
        if (bp_w_load(w) != v || !p->shared)
            break;
        /* a shared cache's holder may be dead, or stopped */
        if (__atomic_load_n(&p->meta->sh_poisoned, __ATOMIC_ACQUIRE)) {
            bp__rank_note(BP__RANK_BUSY, 0);
            return BP_EPOISONED;
        }
        bp__rank_note(BP__RANK_BUSY, 0); /* reaping takes partitions */
        if (bp_w_owner(v) ? p->reap_slot(p, bp_w_owner(v) - 1)
                          : p->reap_all(p) > 0)
            return 0;
        bp__rank_note(BP__RANK_BUSY, 1);
        waited_ms += BP__LATCH_NAP_NS / 1000000;
        if (p->po_wait_ms && waited_ms >= p->po_wait_ms) {
            uint32_t f = (uint32_t)(w - p->words);
            unsigned o = bp_w_owner(v);
            char who[48] = "by processes that live";

            if (o)
                snprintf(who, sizeof who, "by process %u, alive,",
                         BP__LOAD(p->procs[o - 1].pr_pid));
            bp__rank_note(BP__RANK_BUSY, 0);
            return bp__fail(p, -ETIMEDOUT, "page %" PRIu64 " has been latched "
                            "%s %s for %" PRIu64 " ms (stopped or stuck?): "
                            "what a live process holds is not taken from it",
                            BP__LOAD(p->frames[f].fr_pgno),
                            bp_w_latch(v) == BP_LATCH_BUSY   ? "BUSY"
                            : bp_w_latch(v) == BP_LATCH_EXCL ? "exclusive"
                                                             : "shared",
                            who, waited_ms);
        }
    }
    bp__rank_note(BP__RANK_BUSY, 0);
    return 0;
}

void bp__latch_release(uint64_t *w, int mode, uint64_t set_bits,
                       uint64_t clear_bits)
{
    uint64_t v = bp_w_load(w), n;

    do {
        if (mode == 0) {
            n = v - BP_W_SHARED_ONE;
            if (bp_w_latch(n) == 0)
                n &= ~BP_W_WAITERS;
        } else {
            n = bp_w_release(v, 0);
        }
        n = (n | set_bits) & ~clear_bits;
    } while (!bp_w_cas(w, &v, n));
    if ((v & BP_W_WAITERS) && !(n & BP_W_WAITERS))
        bp_w_wake(w);
}
