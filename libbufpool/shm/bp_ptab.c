/*
 * bp_ptab.c - the shared page table: page number -> cache frame.
 *
 * Owns: the bucket heads in the shm file (p->ptab), the chains through the
 * frame descriptors (fr_next), and the BP__PARTS partition locks.  A
 * bucket's chain is read and changed only under its partition's lock, so
 * misses on pages of different partitions never wait for each other (the
 * shape of PostgreSQL's buffer mapping partitions).
 *
 * Invariants: a frame is on the chain of bucket(fr_pgno) iff fr_pgno !=
 * BP__NOPAGE; a page is on at most one chain once; a frame is linked or
 * unlinked only while BUSY.  part_gen[i] counts the inserts into
 * partition i (early reads use it: bp_io_early.c).  Locks and counts are
 * in the shm file (bp_shared.h), so the processes of a shared cache
 * exclude each other as threads do; the locks are futex words
 * (bp_shlock.c).
 *
 * Also owns the direct page index (p->dmap): for a page below p->dmap_n,
 * dmap[pgno] is its frame + 1 while the page is on a chain, else 0.  It
 * is written with the chain (same lock, frame BUSY) and read with no lock
 * at all: a reader that loads f = dmap[pgno] - 1, then f's state word,
 * then dmap[pgno] again and finds f + 1 both times with the word not BUSY
 * or exclusive holds f as pgno's frame at that word's version (a frame
 * changes page only while BUSY, and leaving BUSY bumps the version), so
 * an optimistic read needs no chain walk (bp_opt_begin, linear window).
 */
#include "shm/shm_impl.h"

static inline uint64_t bp__bucket(const bp_pool *p, uint64_t pgno)
{
    return bp__hash(pgno) & p->ptab_mask;
}

unsigned bp__ptab_lock(bp_pool *p, uint64_t pgno)
{
    unsigned part = (unsigned)(bp__bucket(p, pgno) % BP__PARTS);

    bp__shlock(p, &p->meta->sh_parts[part].sp_lock, BP__RANK_PART);
    return part;
}

void bp__ptab_unlock(bp_pool *p, unsigned part)
{
    bp__shunlock(p, &p->meta->sh_parts[part].sp_lock, BP__RANK_PART);
}

uint32_t bp__ptab_find_locked(bp_pool *p, uint64_t pgno)
{
    uint32_t e = BP__LOAD(p->ptab[bp__bucket(p, pgno)]);

    while (e != 0) {
        if (BP__LOAD(p->frames[e - 1].fr_pgno) == pgno)
            return e - 1;
        e = BP__LOAD(p->frames[e - 1].fr_next);
    }
    return BP__NONE;
}

void bp__ptab_insert_locked(bp_pool *p, uint64_t pgno, uint32_t f)
{
    uint32_t *head = &p->ptab[bp__bucket(p, pgno)];

    BP__STORE(p->frames[f].fr_next, BP__LOAD(*head));
    BP__STORE(*head, f + 1);
    if (pgno < p->dmap_n)
        __atomic_store_n(&p->dmap[pgno], f + 1, __ATOMIC_RELEASE);
    uint64_t *gen = &p->meta->sh_parts[bp__bucket(p, pgno) % BP__PARTS].sp_gen;

    BP__STORE(*gen, BP__LOAD(*gen) + 1);
}

uint64_t bp__ptab_gen_locked(const bp_pool *p, unsigned part)
{
    return BP__LOAD(p->meta->sh_parts[part].sp_gen);
}

void bp__ptab_remove_locked(bp_pool *p, uint64_t pgno, uint32_t f)
{
    uint32_t *link = &p->ptab[bp__bucket(p, pgno)];

    while (BP__LOAD(*link) != 0 && BP__LOAD(*link) != f + 1)
        link = &p->frames[BP__LOAD(*link) - 1].fr_next;
    if (BP__LOAD(*link) == f + 1)
        BP__STORE(*link, BP__LOAD(p->frames[f].fr_next));
    BP__STORE(p->frames[f].fr_next, 0);
    if (pgno < p->dmap_n && BP__LOAD(p->dmap[pgno]) == f + 1)
        __atomic_store_n(&p->dmap[pgno], 0, __ATOMIC_RELEASE);
}

void bp__ptab_rebuild_locked(bp_pool *p, unsigned part)
{
    uint64_t *gen = &p->meta->sh_parts[part].sp_gen;

    for (uint64_t b = part; b <= p->ptab_mask; b += BP__PARTS)
        BP__STORE(p->ptab[b], 0);
    for (uint64_t pg = 0; pg < p->dmap_n; pg++)
        if (BP__LOAD(p->dmap[pg]) != 0 && bp__bucket(p, pg) % BP__PARTS == part)
            __atomic_store_n(&p->dmap[pg], 0, __ATOMIC_RELEASE);
    for (uint64_t f = 0; f < p->nframes; f++) {
        uint64_t pgno = BP__LOAD(p->frames[f].fr_pgno);
        uint32_t *head;

        if (pgno == BP__NOPAGE || bp__bucket(p, pgno) % BP__PARTS != part)
            continue;
        head = &p->ptab[bp__bucket(p, pgno)];
        BP__STORE(p->frames[f].fr_next, BP__LOAD(*head));
        BP__STORE(*head, (uint32_t)f + 1);
        if (pgno < p->dmap_n)
            __atomic_store_n(&p->dmap[pgno], (uint32_t)f + 1,
                             __ATOMIC_RELEASE);
    }
    BP__STORE(*gen, BP__LOAD(*gen) + 1); /* early reads of it are stale */
}

void bp__ptab_discard(bp_pool *p, uint32_t f)
{
    uint64_t pgno = BP__LOAD(p->frames[f].fr_pgno);

    if (pgno != BP__NOPAGE) {
        unsigned part = bp__ptab_lock(p, pgno);

        bp__ptab_remove_locked(p, pgno, f);
        BP__STORE(p->frames[f].fr_pgno, BP__NOPAGE);
        bp__ptab_unlock(p, part);
    }
    __atomic_and_fetch(bp__word(p, f),
                       ~(BP_W_DIRTY | BP_W_WB | BP_W_SCAN | BP_W_USAGE_MASK),
                       __ATOMIC_ACQ_REL);
}
