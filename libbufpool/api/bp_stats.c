/*
 * bp_stats.c - the bp_stats_get snapshot.
 *
 * Owns: the sum over the counter shards (bp_counters.c), the count of
 * dirty frames (their state words), and the copy of what each layer
 * recorded in the handle (backend, engine, reasons, registered buffers,
 * COOP_TASKRUN).  The snapshot is not atomic across counters: each counter
 * is exact, their sum at one instant is not.
 */
#include <stdio.h>
#include <string.h>

#include "pool/pool.h"

static uint64_t bp__sum(const bp_pool *p, enum bp__ctr c)
{
    uint64_t n = 0;

    if (!p->shards)
        return 0;
    for (int i = 0; i < BP__SHARDS; i++)
        n += __atomic_load_n(&p->shards[i].c[c], __ATOMIC_RELAXED);
    return n;
}

/* Frames whose state word says DIRTY, in the whole cache. */
static uint64_t bp__dirty_count(bp_pool *p)
{
    uint64_t n = 0;

    for (uint64_t f = 0; f < p->nframes; f++)
        n += !!(bp_w_load(bp__word(p, f)) & BP_W_DIRTY);
    return n;
}

int bp_stats_get(bp_pool *p, bp_stats *out, size_t size)
{
    bp_stats st;
    uint64_t vmas = 0;

    if (!p || !out || size < 2 * sizeof(uint32_t))
        return -EINVAL;
    memset(&st, 0, sizeof st);
    (void)bp__vma_count(&vmas);
    if (!p->forked) /* a parent's thread may have held it at fork() */
        bp__lock(p, &p->lock, BP__RANK_MISS);
#define BP__SUM(name) st.name = bp__sum(p, BP_C_##name);
    BP__COUNTERS(BP__SUM)
#undef BP__SUM
    for (int i = 0; p->readers && i < BP__READERS; i++)
        st.window_hits += __atomic_load_n(&p->readers[i].rd_hits,
                                          __ATOMIC_RELAXED);
    st.fixes = st.window_hits + st.window_misses;
    st.version = BP_STATS_VERSION;
    st.size = (uint32_t)(size < sizeof st ? size : sizeof st);
    st.page_size = p->po_page_size;
    st.backend = p->be ? (uint32_t)p->be->id : BP_BACKEND_AUTO;
    st.prefault = (uint32_t)p->po_prefault;
    st.replacement = (uint32_t)p->po_replacement;
    st.mlocked = (uint32_t)(p->po_mlock &&
                            !(p->be && p->be->id == BP_BACKEND_KMOD));
    st.guard = (uint32_t)p->po_guard;
    st.direct_io = (uint32_t)p->direct_io;
    st.dio_align = p->dio_align;
    st.frames = p->state == BP__CLOSED ? 0 : p->nframes;
    st.slots = p->nslots;
    st.data_pages = p->meta ? BP__LOAD(p->meta->sh_data_pages) : 0;
    snprintf(st.backend_reason, sizeof st.backend_reason, "%s", p->be_reason);
    snprintf(st.cache_origin, sizeof st.cache_origin, "%s", p->cache_origin);
    snprintf(st.io_engine, sizeof st.io_engine, "%s",
             p->io ? p->io->name : "none");
    snprintf(st.io_reason, sizeof st.io_reason, "%s", p->io_reason);
    snprintf(st.reader_fence, sizeof st.reader_fence, "%s", p->rd_fence);
    st.checksums = (uint32_t)p->po_checksums;
    st.shared = (uint32_t)p->shared;
    for (uint32_t s = 0; p->shared && p->procs && s < BP__PROCS; s++)
        st.procs_attached += BP__LOAD(p->procs[s].pr_pid) != 0 &&
                             bp__proc_alive(p, s);
    st.wal_durable = p->meta ? BP__LOAD(p->meta->sh_wal_durable) : 0;
    st.io_depth = p->po_io_depth;
    st.io_registered = __atomic_load_n(&p->st_aio_registered,
                                       __ATOMIC_RELAXED) |
                       __atomic_load_n(&p->st_uring_registered,
                                       __ATOMIC_RELAXED);
    st.io_coop = (uint32_t)__atomic_load_n(&p->st_aio_coop,
                                           __ATOMIC_RELAXED);
    st.io_staged = p->io_stage;
    st.dirty_frames = p->state == BP__CLOSED ? 0 : bp__dirty_count(p);
    st.vmas_in_use = vmas;
    st.vma_limit = p->vma_limit;
    st.vma_budget = p->vma_budget;
    if (!p->forked)
        bp__unlock(&p->lock, BP__RANK_MISS);
    memcpy(out, &st, st.size);
    return 0;
}
