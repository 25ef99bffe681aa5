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
#include "bp_internal.h"

#define BP__SPINS 128

void bp__latch_wait(uint64_t *w, uint64_t seen)
{
    uint64_t v;

    for (int i = 0; i < BP__SPINS; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        if (bp_w_load(w) != seen)
            return;
    }
    v = seen;
    /* Nothing holds the latch: no release will come to wake a sleeper.
     * (A caller whose CAS failed on an unlatched word, say one whose usage
     * bits had just changed, passes such a value; sleeping on it hung a
     * fix for good.)  Let the caller look again. */
    if (bp_w_latch(v) == 0)
        return;
    if (!(v & BP_W_WAITERS)) {
        if (!bp_w_cas(w, &v, v | BP_W_WAITERS))
            return; /* changed meanwhile: let the caller look again */
        v |= BP_W_WAITERS;
    }
    bp__rank_note(BP__RANK_BUSY, 1); /* checks no mutex is held */
    bp_w_sleep(w, v);
    bp__rank_note(BP__RANK_BUSY, 0);
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
