/*
 * bp_check.c - the invariant walker (tests call it through bp__test_check).
 *
 * Checks, under p->lock, that the tables and states agree:
 *  - every mapped slot is in the window table, its frame holds its page and
 *    is not BUSY unless a read-ahead is in flight into that slot; every
 *    window-table entry points at such a slot;
 *  - every frame's fr_maps equals the number of slots mapping it;
 *  - every used frame is in the page table (and, below dmap_n, in the
 *    direct page index), and neither has others;
 *  - a free frame is unlatched, clean and unmapped;
 *  - no frame is UNFENCED while latched exclusive or BUSY.
 * In a shared cache a slot is a hint (its frame may hold another page
 * now) and fr_maps is not kept, other processes may hold frames BUSY:
 * those checks are left out there.  Meant for quiescent moments (no fix in flight in another thread): it
 * holds the window lock and reads the page table without its partition
 * locks.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "pool/pool.h"
#include "platform/bp_testing.h"

#define BP__CHECK(cond, ...)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            rc = bp__fail(p, -EUCLEAN, __VA_ARGS__);                           \
            goto out;                                                          \
        }                                                                      \
    } while (0)

int bp__test_check(bp_pool *p)
{
    uint64_t in_ptab = 0, in_wtab = 0;
    uint32_t *maps = NULL;
    int rc = 0;

    bp__lock(p, &p->lock, BP__RANK_MISS);
    if (p->state == BP__CLOSED)
        goto out;
    maps = bp__alloc(p, (size_t)p->nframes * sizeof *maps);
    BP__CHECK(maps != NULL, "no memory for the check");
    for (uint32_t s = 0; s < p->nslots; s++) {
        struct bp__slot *sl = &p->slots[s];
        struct bp__frame *fr;

        if (sl->sl_pgno == BP__NOPAGE) {
            BP__CHECK(sl->sl_frame == BP__NONE, "empty slot %u has a frame", s);
            continue;
        }
        BP__CHECK(bp__htab_find(&p->wtab, sl->sl_pgno) == s,
                  "slot %u (page %" PRIu64 ") not in the window table", s,
                  sl->sl_pgno);
        BP__CHECK(sl->sl_frame < p->nframes, "slot %u has no frame", s);
        fr = &p->frames[sl->sl_frame];
        BP__CHECK(fr->fr_pgno == sl->sl_pgno || p->shared, /* a hint */
                  "slot %u shows page %" PRIu64 " but frame %u holds %" PRIu64,
                  s, sl->sl_pgno, sl->sl_frame, fr->fr_pgno);
        /* a read that ends meanwhile frees its request only after it
         * released BUSY: so the word is looked at again after the requests */
        BP__CHECK(p->shared ||
                      bp_w_latch(bp_w_load(bp__word(p, sl->sl_frame))) !=
                          BP_LATCH_BUSY ||
                      bp__aio_reading_into(p, s) ||
                      bp_w_latch(bp_w_load(bp__word(p, sl->sl_frame))) !=
                          BP_LATCH_BUSY,
                  "slot %u (page %" PRIu64 ") has its frame %u BUSY with no "
                  "read-ahead into it", s, sl->sl_pgno, sl->sl_frame);
        maps[sl->sl_frame]++;
        in_wtab++;
    }
    for (uint64_t f = 0; f < p->nframes; f++) {
        struct bp__frame *fr = &p->frames[f];
        uint64_t w = bp_w_load(bp__word(p, f));

        BP__CHECK(p->shared || fr->fr_maps == maps[f], "frame %" PRIu64 ": fr_maps %u, "
                  "slots %u", f, fr->fr_maps, maps[f]);
        BP__CHECK(!(w & BP_W_UNFENCED) ||
                      bp_w_latch(w) <= BP_LATCH_MAX_SHARED,
                  "frame %" PRIu64 " is UNFENCED while exclusive or BUSY", f);
        if (fr->fr_pgno == BP__NOPAGE) {
            BP__CHECK(bp_w_latch(w) == 0 && !(w & BP_W_DIRTY) &&
                          (p->shared || fr->fr_maps == 0),
                      "free frame %" PRIu64 " is latched, dirty or mapped", f);
            continue;
        }
        BP__CHECK(bp__ptab_find_locked(p, fr->fr_pgno) == f,
                  "frame %" PRIu64 " (page %" PRIu64 ") not in the page table",
                  f, fr->fr_pgno);
        BP__CHECK(fr->fr_pgno >= p->dmap_n || p->dmap[fr->fr_pgno] == f + 1,
                  "frame %" PRIu64 " (page %" PRIu64 ") not in the direct "
                  "page index", f, fr->fr_pgno);
        in_ptab++;
    }
    for (uint64_t pg = 0; pg < p->dmap_n; pg++) { /* no stale entry */
        uint32_t e = p->dmap[pg];

        BP__CHECK(e == 0 || (e <= p->nframes && p->frames[e - 1].fr_pgno == pg),
                  "direct page index: page %" PRIu64 " names frame %u, which "
                  "holds another page", pg, e - 1);
    }
    for (uint64_t i = 0; i <= p->ptab_mask; i++) /* every chained frame */
        for (uint32_t e = p->ptab[i]; e != 0; e = p->frames[e - 1].fr_next)
            in_ptab--;
    BP__CHECK(in_ptab == 0, "page table entries do not match used frames");
    for (uint64_t i = 0; i <= p->wtab.ht_mask; i++)
        in_wtab -= p->wtab.ht_ent[i] != 0;
    BP__CHECK(in_wtab == 0, "window table entries do not match mapped slots");
out:
    if (maps)
        bp__free(p, maps, (size_t)p->nframes * sizeof *maps);
    bp__unlock(&p->lock, BP__RANK_MISS);
    return rc;
}
