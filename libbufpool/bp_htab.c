/*
 * bp_htab.c - open-addressing hash of record indexes keyed by page number.
 *
 * Used twice: the shared page table (pgno -> cache frame, in the shm file)
 * and each process's window table (pgno -> slot, private).  An entry holds
 * index + 1 (0 = empty) and the key is read from the record itself, so a
 * table costs 4 bytes an entry and holds no pointers.
 *
 * Invariants: the table has at least twice as many entries as records
 * (load <= 1/2); every key present appears once; between a key's home
 * position and its entry there is no empty entry (linear probing, deletion
 * by backward shift, no tombstones).  Callers serialize access.
 */
#include "bp_internal.h"

static inline uint64_t bp__hash(uint64_t key)
{
    /* Fibonacci-style mix (splitmix64 finalizer): neighbours spread out. */
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebull;
    key ^= key >> 31;
    return key;
}

static inline uint64_t bp__key_of(const struct bp__htab *h, uint32_t idx)
{
    return *(const uint64_t *)(h->ht_keys + (size_t)idx * h->ht_stride);
}

uint64_t bp__htab_entries_for(uint64_t items)
{
    uint64_t n = 16;

    while (n < items * 2)
        n <<= 1;
    return n;
}

uint32_t bp__htab_find(const struct bp__htab *h, uint64_t key)
{
    uint64_t i = bp__hash(key) & h->ht_mask;

    for (;;) {
        uint32_t e = h->ht_ent[i];

        if (e == 0)
            return BP__NONE;
        if (bp__key_of(h, e - 1) == key)
            return e - 1;
        i = (i + 1) & h->ht_mask;
    }
}

void bp__htab_insert(struct bp__htab *h, uint64_t key, uint32_t idx)
{
    uint64_t i = bp__hash(key) & h->ht_mask;

    while (h->ht_ent[i] != 0)
        i = (i + 1) & h->ht_mask;
    h->ht_ent[i] = idx + 1;
}

void bp__htab_remove(struct bp__htab *h, uint64_t key)
{
    uint64_t i = bp__hash(key) & h->ht_mask, j;

    while (h->ht_ent[i] != 0 && bp__key_of(h, h->ht_ent[i] - 1) != key)
        i = (i + 1) & h->ht_mask;
    if (h->ht_ent[i] == 0)
        return;
    /* Backward shift: pull later entries of the cluster into the hole
     * unless their home lies cyclically in (hole, j]. */
    j = i;
    for (;;) {
        uint64_t home;

        h->ht_ent[i] = 0;
        for (;;) {
            j = (j + 1) & h->ht_mask;
            if (h->ht_ent[j] == 0)
                return;
            home = bp__hash(bp__key_of(h, h->ht_ent[j] - 1)) & h->ht_mask;
            if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
                continue;
            break;
        }
        h->ht_ent[i] = h->ht_ent[j];
        i = j;
    }
}
