/*
 * bp_htab.c - open-addressing hash of record indexes keyed by page number.
 *
 * Used for each process's window table (pgno -> slot, private); the shared
 * page table is chained and partitioned instead (bp_ptab.c).  An entry holds
 * index + 1 (0 = empty) and the key is read from the record itself, so a
 * table costs 4 bytes an entry and holds no pointers.
 *
 * Invariants: the table has at least twice as many entries as records
 * (load <= 1/2); every key present appears once; between a key's home
 * position and its entry there is no empty entry (linear probing, deletion
 * by backward shift, no tombstones).
 *
 * Writers (insert, remove) are serialized by the caller (p->lock).  Readers
 * (find) take no lock: entries and keys are read atomically, so a reader
 * racing with a writer may miss a key that is being moved by a backward
 * shift (a false miss: callers re-check under p->lock before acting on a
 * miss) or see a key change under it (callers re-check the record after
 * latching it).  It never loops forever: the table is at most half full.
 */
#include "window/window_impl.h"

static inline uint32_t bp__ent(const struct bp__htab *h, uint64_t i)
{
    return __atomic_load_n(&h->ht_ent[i], __ATOMIC_RELAXED);
}

static inline void bp__set_ent(struct bp__htab *h, uint64_t i, uint32_t e)
{
    __atomic_store_n(&h->ht_ent[i], e, __ATOMIC_RELEASE);
}

void bp__htab_insert(struct bp__htab *h, uint64_t key, uint32_t idx)
{
    uint64_t i = bp__htab_home(h, key);

    while (bp__ent(h, i) != 0)
        i = (i + 1) & h->ht_mask;
    bp__set_ent(h, i, idx + 1);
}

void bp__htab_remove(struct bp__htab *h, uint64_t key)
{
    uint64_t i = bp__htab_home(h, key), j;

    while (bp__ent(h, i) != 0 && bp__key_of(h, bp__ent(h, i) - 1) != key)
        i = (i + 1) & h->ht_mask;
    if (bp__ent(h, i) == 0)
        return;
    /* Backward shift: pull later entries of the cluster into the hole
     * unless their home lies cyclically in (hole, j]. */
    j = i;
    for (;;) {
        uint64_t home;

        bp__set_ent(h, i, 0);
        for (;;) {
            j = (j + 1) & h->ht_mask;
            if (bp__ent(h, j) == 0)
                return;
            home = bp__htab_home(h, bp__key_of(h, bp__ent(h, j) - 1));
            if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
                continue;
            break;
        }
        bp__set_ent(h, i, bp__ent(h, j));
        i = j;
    }
}
