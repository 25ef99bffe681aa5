/*
 * bp_statshm.c - the process's counters in the shm file.
 *
 * Owns: moving a pool's counter shards and reader blocks (platform.h, shm.h)
 * between private memory and the process's stats area in the shm file
 * (bp_shared.h: BP__STAT_PROC_BYTES per process-table slot), and the
 * retired totals of processes that left.
 *
 * While the pool is open, p->shards and p->readers point into the file, so
 * a reader of the file (bpstat) sees every counter as it moves, without
 * asking the process and without any write on the hot path besides the
 * counter's own (the same store as in private memory).  Before open and
 * after close they point to the private copies (shards_raw, readers_raw),
 * which attach copies in and detach copies back.
 *
 * Invariants
 *   - Only the slot's owner writes its area, and the reaper of a dead
 *     owner (holding the slot's lock byte: bp_reap.c).
 *   - The cache's totals, retired + every claimed slot's counters, never
 *     go down: a slot's counters are added to the retired block before
 *     they are cleared, with sr_busy raised around both (a reader retries
 *     a snapshot that overlapped one).
 *   - A forked child never writes the file's counters (its parent still
 *     owns the slot): detach only copies back.
 */
#include <string.h>

#include "shm/shm_impl.h"

struct bp__shard *bp__statshm_shards(void *meta, uint64_t stats_off,
                                     uint32_t s)
{
    return (struct bp__shard *)((char *)meta + stats_off +
                                (uint64_t)s * BP__STAT_PROC_BYTES);
}

struct bp__readers *bp__statshm_readers(void *meta, uint64_t stats_off,
                                        uint32_t s)
{
    return (struct bp__readers *)((char *)bp__statshm_shards(meta, stats_off,
                                                             s) +
                                  BP__STAT_SHARDS * BP__STAT_SHARD_BYTES);
}

static struct bp__stat_retired *bp__statshm_ret(bp_pool *p)
{
    return (struct bp__stat_retired *)bp__statshm_shards(
        p->meta, p->meta->sh_stats, BP__PROCS);
}

void bp__statshm_retire(bp_pool *p, uint32_t slot)
{
    struct bp__stat_retired *r = bp__statshm_ret(p);
    struct bp__shard *sh = bp__statshm_shards(p->meta, p->meta->sh_stats,
                                              slot);
    struct bp__readers *rd = bp__statshm_readers(p->meta, p->meta->sh_stats,
                                                 slot);

    __atomic_add_fetch(&r->sr_busy, 1, __ATOMIC_ACQ_REL);
    for (int c = 0; c < BP__NCOUNTERS; c++) {
        uint64_t n = 0;

        for (int i = 0; i < BP__SHARDS; i++)
            n += __atomic_exchange_n(&sh[i].c[c], 0, __ATOMIC_ACQ_REL);
        if (n)
            __atomic_add_fetch(&r->sr_c[c], n, __ATOMIC_ACQ_REL);
    }
    for (int i = 0; i < BP__READERS; i++) {
        uint64_t n = __atomic_exchange_n(&rd[i].rd_hits, 0,
                                         __ATOMIC_ACQ_REL);

        if (n)
            __atomic_add_fetch(&r->sr_c[BP_C_window_hits], n,
                               __ATOMIC_ACQ_REL);
    }
    for (int i = 0; i < BP__SHARDS; i++)
        __atomic_store_n(&sh[i].held, 0, __ATOMIC_RELEASE);
    __atomic_add_fetch(&r->sr_gen, 1, __ATOMIC_ACQ_REL);
    __atomic_sub_fetch(&r->sr_busy, 1, __ATOMIC_ACQ_REL);
}

void bp__statshm_attach(bp_pool *p)
{
    struct bp__shard *sh;
    struct bp__readers *rd;

    if (!p->meta || !p->shards || p->shards != p->shards_aligned)
        return;
    /* what a previous owner left (a clean close retired it already) */
    bp__statshm_retire(p, p->proc_slot);
    sh = bp__statshm_shards(p->meta, p->meta->sh_stats, p->proc_slot);
    rd = bp__statshm_readers(p->meta, p->meta->sh_stats, p->proc_slot);
    memcpy(sh, p->shards, BP__SHARDS * sizeof *sh);
    memcpy(rd, p->readers, BP__READERS * sizeof *rd);
    /* no other thread uses the pool before bp_open publishes it (its
     * state's release store) */
    p->shards = sh;
    p->readers = rd;
}

void bp__statshm_detach(bp_pool *p)
{
    if (!p->meta || !p->shards || p->shards == p->shards_aligned)
        return;
    memcpy(p->shards_aligned, p->shards, BP__SHARDS * sizeof *p->shards);
    memcpy(p->readers_aligned, p->readers, BP__READERS * sizeof *p->readers);
    p->shards = p->shards_aligned;
    p->readers = p->readers_aligned;
    if (p->shared && !p->forked)
        bp__statshm_retire(p, p->proc_slot);
}
