/*
 * bp_freq.c - what BP_REPLACE_ADMIT knows beyond CLOCK: use counts of
 * pages, and the admission ring of frames filled last.
 *
 * Owns (shared, in the shm file): the use counts (uint8_t, indexed by page
 * number modulo their power-of-two length, at least BP__FREQ_SPAN x the
 * frames, so a data file up to that many pages has a counter per page and
 * a larger one shares them), sh_freq_adds, the admission ring and
 * sh_admit_pos.  No lock: every access is an atomic on one counter or one
 * ring entry, so a process that dies anywhere leaves at most one count
 * lost or one entry stale, and both are hints only.
 *
 * Invariants:
 *  - A count saturates at 255.  Every BP__FREQ_AGE x frames additions all
 *    counts are halved (by the process whose addition reached the
 *    multiple), so counts follow a popularity that moves.
 *  - A ring entry is frame << 32 | the low 32 bits of the page number it
 *    was filled with, or BP__ADMIT_EMPTY.  It is believed only while the
 *    frame still holds a page with those bits; otherwise the frame has
 *    been evicted or reused since and the entry is ignored.
 *  - The ring is read and written at one position per miss (fetch-add of
 *    sh_admit_pos): the entry there is the oldest newcomer, and the frame
 *    the miss fills takes its place.
 */
#include "shm/shm_impl.h"

#define BP__FREQ_AGE 256u /* additions between halvings, per frame */

static void bp__freq_halve(bp_pool *p)
{
    for (uint64_t i = 0; i <= p->freq_mask; i++) {
        uint8_t c = __atomic_load_n(&p->freq[i], __ATOMIC_RELAXED);

        if (c)
            __atomic_store_n(&p->freq[i], (uint8_t)(c >> 1),
                             __ATOMIC_RELAXED);
    }
}

void bp__freq_count(bp_pool *p, uint64_t pgno)
{
    uint8_t *c = &p->freq[pgno & p->freq_mask];
    uint8_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
    uint64_t period = BP__FREQ_AGE * p->nframes;

    while (v < UINT8_MAX &&
           !__atomic_compare_exchange_n(c, &v, (uint8_t)(v + 1), 1,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    if ((__atomic_add_fetch(&p->meta->sh_freq_adds, 1, __ATOMIC_RELAXED) %
         period) == 0)
        bp__freq_halve(p);
}

unsigned bp__freq_of(const bp_pool *p, uint64_t pgno)
{
    return __atomic_load_n(&p->freq[pgno & p->freq_mask], __ATOMIC_RELAXED);
}

uint64_t bp__admit_take(bp_pool *p, uint32_t *pos)
{
    *pos = (uint32_t)(__atomic_fetch_add(&p->meta->sh_admit_pos, 1,
                                         __ATOMIC_RELAXED) %
                      p->admit_n);
    return __atomic_load_n(&p->admit[*pos], __ATOMIC_ACQUIRE);
}

void bp__admit_put(bp_pool *p, uint32_t pos, uint32_t frame, uint64_t pgno)
{
    __atomic_store_n(&p->admit[pos],
                     (uint64_t)frame << 32 | (uint32_t)pgno,
                     __ATOMIC_RELEASE);
}

void bp__admit_clear(bp_pool *p)
{
    for (uint32_t i = 0; i < p->admit_n; i++)
        __atomic_store_n(&p->admit[i], BP__ADMIT_EMPTY, __ATOMIC_RELEASE);
}
