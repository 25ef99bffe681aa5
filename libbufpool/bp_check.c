/*
 * bp_check.c - the invariant walker (tests call it through bp__test_check).
 *
 * Checks, under p->lock, that the tables and states agree:
 *  - every mapped slot is in the window table, its frame holds its page and
 *    is valid; every window-table entry points at such a slot;
 *  - every frame's fr_maps equals the number of slots mapping it;
 *  - every used frame is in the page table, and the table has no others;
 *  - the latches on each frame add up to its slot's pins;
 *  - the dirty count equals the frames flagged dirty.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bp_internal.h"
#include "bp_testing.h"

#define BP__CHECK(cond, ...)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            rc = bp__fail(p, -EUCLEAN, __VA_ARGS__);                           \
            goto out;                                                          \
        }                                                                      \
    } while (0)

int bp__test_check(bp_pool *p)
{
    uint64_t dirty = 0, in_ptab = 0, in_wtab = 0;
    int rc = 0;

    pthread_mutex_lock(&p->lock);
    if (p->state == BP__CLOSED)
        goto out;
    for (uint32_t s = 0; s < p->nslots; s++) {
        struct bp__slot *sl = &p->slots[s];
        struct bp__frame *fr;
        uint32_t maps = 0;

        if (sl->sl_pgno == BP__NOPAGE) {
            BP__CHECK(sl->sl_pin == 0, "empty slot %u is pinned", s);
            continue;
        }
        BP__CHECK(bp__htab_find(&p->wtab, sl->sl_pgno) == s,
                  "slot %u (page %" PRIu64 ") not in the window table", s,
                  sl->sl_pgno);
        BP__CHECK(sl->sl_frame < p->nframes, "slot %u has no frame", s);
        fr = &p->frames[sl->sl_frame];
        BP__CHECK(fr->fr_pgno == sl->sl_pgno && (fr->fr_flags & BP__F_VALID),
                  "slot %u shows page %" PRIu64 " but frame %u holds %" PRIu64,
                  s, sl->sl_pgno, sl->sl_frame, fr->fr_pgno);
        for (uint32_t t = 0; t < p->nslots; t++)
            maps += p->slots[t].sl_frame == sl->sl_frame;
        BP__CHECK(fr->fr_maps == maps, "frame %u: fr_maps %u, slots %u",
                  sl->sl_frame, fr->fr_maps, maps);
        BP__CHECK(fr->fr_shared + fr->fr_excl == sl->sl_pin,
                  "slot %u: %u pins but %u+%u latches", s, sl->sl_pin,
                  fr->fr_shared, fr->fr_excl);
        in_wtab++;
    }
    for (uint64_t f = 0; f < p->nframes; f++) {
        struct bp__frame *fr = &p->frames[f];

        dirty += !!(fr->fr_flags & BP__F_DIRTY);
        if (fr->fr_pgno == BP__NOPAGE) {
            BP__CHECK(fr->fr_flags == 0, "free frame %" PRIu64 " has flags",
                      f);
            continue;
        }
        BP__CHECK(bp__htab_find(&p->ptab, fr->fr_pgno) == f,
                  "frame %" PRIu64 " (page %" PRIu64 ") not in the page table",
                  f, fr->fr_pgno);
        in_ptab++;
    }
    for (uint64_t i = 0; i <= p->ptab.ht_mask; i++)
        in_ptab -= p->ptab.ht_ent[i] != 0;
    BP__CHECK(in_ptab == 0, "page table entries do not match used frames");
    for (uint64_t i = 0; i <= p->wtab.ht_mask; i++)
        in_wtab -= p->wtab.ht_ent[i] != 0;
    BP__CHECK(in_wtab == 0, "window table entries do not match mapped slots");
    BP__CHECK(dirty == p->meta->sh_dirty, "dirty count %" PRIu64 " but %" PRIu64
              " frames dirty", p->meta->sh_dirty, dirty);
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}
