/*
 * shm.h - the shm layer: the cache's segment in the shm file.
 *
 * Its layout (bp_shared.h), the frame state words and latches
 * (bp_latch.h, bp_latch.c), reader slots (bp_readers.c), the locks in the
 * file (bp_shlock.c), the shared page table (bp_ptab.c), creation and
 * attach (bp_shm.c), revival of a left cache (bp_shm_revive.c), the
 * counters in the file (bp_statshm.c), the use counts and admission ring
 * of BP_REPLACE_ADMIT (bp_freq.c), whole-frame transfers through the
 * file (bp_shm_io.c) and the clean-up after a dead process (bp_reap.c).
 * It calls down into the I/O layer (the data file's shared-cache locks,
 * checksums of revived frames) and nothing above.  What only the layer's
 * own files use is in shm_impl.h.
 */
#ifndef BP_SHM_H
#define BP_SHM_H

#include "io/io.h"
#include "shm/bp_latch.h"
#include "shm/bp_shared.h"

/* ---- private: reader slots (bp_readers.c) --------------------------------- */
#define BP__READERS 32 /* threads with scalable shared fixes, per pool */
#define BP__H_BLK_SHIFT 5 /* where bp_page.bp_gen holds the block (bp_pool.c) */
#define BP__HZ 8       /* shared fixes a thread holds that way at once */
struct bp__readers {
    uint32_t rd_owner;       /* tid of the owning thread, 0 = free */
    uint32_t rd_hz[BP__HZ];  /* frames held shared, BP__NONE = unused */
    uint32_t rd_tick;        /* xorshift state (owner only): sampling */
    uint64_t rd_hits;        /* bp_fix's shared-hit path counts here, not in
                              * a shard: summed by bp_stats_get (relaxed) */
} __attribute__((aligned(BP__APART)));
/* One fenced shared fix in BP__HOT_SAMPLE (a power of 2) counts toward
 * making its frame UNFENCED (after 4 counts without an exclusive or BUSY
 * take between; BUFPOOL_READER_FENCE=eager counts every one, for tests). */
#define BP__HOT_SAMPLE 128u

uint64_t bp__readers_new_id(void);
struct bp__readers *bp__readers_mine(bp_pool *p);
/* The block this thread used last, and in which open of a pool (ids are
 * unique over all opens in the process, so the id alone names the pool). */
struct bp__readers_last {
    uint64_t id;
    struct bp__readers *blk;
    uint32_t handle_bits; /* the block's index as bp_page.bp_gen holds it */
};
/* The next pseudo-random number of b's sampling: random rather than every
 * Nth fix, so that a periodic access pattern cannot hide pages from it. */
static inline uint32_t bp__readers_tick(struct bp__readers *b)
{
    uint32_t x = b->rd_tick ? b->rd_tick : 0x9e3779b9u; /* xorshift32 */

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return b->rd_tick = x;
}
int bp__readers_hold(bp_pool *p, uint32_t frame);
void bp__readers_drain(bp_pool *p, uint32_t frame);
/* Asymmetric fences (bp_readers.c): set up at open; the heavy side. */
void bp__readers_open(bp_pool *p);
void bp__readers_barrier(bp_pool *p);

/* The shards and reader blocks live in the shm file while the pool is open
 * (bp_statshm.c), in the same layout for both ABIs. */
_Static_assert(BP__SHARDS == BP__STAT_SHARDS &&
                   sizeof(struct bp__shard) == BP__STAT_SHARD_BYTES &&
                   BP__NCOUNTERS <= BP__STAT_CTRS &&
                   offsetof(struct bp__shard, held) == 8 * BP__NCOUNTERS,
               "counter shards as the shm file lays them out");
_Static_assert(BP__READERS == BP__STAT_READERS &&
                   sizeof(struct bp__readers) == BP__STAT_READER_BYTES &&
                   offsetof(struct bp__readers, rd_hz) == 4 &&
                   offsetof(struct bp__readers, rd_tick) == 36 &&
                   offsetof(struct bp__readers, rd_hits) == 40,
               "reader blocks as the shm file lays them out");

/* bp_statshm.c: once the process-table slot is ours, the counters move
 * into the file (attach; detach and retire: shm_impl.h). */
void bp__statshm_attach(bp_pool *p);
/* The counters of slot s in the file, for readers such as bpstat. */
struct bp__shard *bp__statshm_shards(void *meta, uint64_t stats_off,
                                     uint32_t s);
struct bp__readers *bp__statshm_readers(void *meta, uint64_t stats_off,
                                        uint32_t s);

/* ---- the page table (bp_ptab.c): pgno -> frame, chained, partitioned ----
 * A bucket belongs to partition (bucket % BP__PARTS), each with its own
 * lock: lookups and changes of different partitions never wait for each
 * other.  Chains link frames through fr_next.  A frame joins or leaves a
 * chain only while BUSY, so a frame found under the partition lock and
 * then taken BUSY stays that page's frame. */
unsigned bp__ptab_lock(bp_pool *p, uint64_t pgno);
void bp__ptab_unlock(bp_pool *p, unsigned part);
uint32_t bp__ptab_find_locked(bp_pool *p, uint64_t pgno);
void bp__ptab_insert_locked(bp_pool *p, uint64_t pgno, uint32_t frame);
/* Pages ever inserted into partition part (its lock held): a page missing
 * at two lookups with the same count was not cached in between. */
uint64_t bp__ptab_gen_locked(const bp_pool *p, unsigned part);
/* Forget a BUSY frame's page; it stays BUSY (caller releases). */
void bp__ptab_discard(bp_pool *p, uint32_t frame);

/* Frame f's state word. */
static inline uint64_t *bp__word(const bp_pool *p, uint32_t f)
{
    return &p->words[f];
}

/* Frame i's offset in the shm file. */
static inline uint64_t bp__frame_off(const bp_pool *p, uint32_t frame)
{
    return p->meta->sh_frames_off + (uint64_t)frame * p->po_page_size;
}

extern BP__TLS struct bp__readers_last bp__tls_rd_last;

/* This thread's reader block in p (NULL: count in the word): the last one
 * used, else bp__readers_mine's lookup. */
static inline struct bp__readers *bp__readers_get(bp_pool *p)
{
    if (bp__tls_rd_last.id == p->id) /* ids are unique: the pool is p */
        return bp__tls_rd_last.blk;
    return bp__readers_mine(p);
}

/* Take frame word w from *v to latch l (BP_LATCH_EXCL or BP_LATCH_BUSY) by
 * one CAS (*v updated on failure, as bp_w_cas).  If the word was UNFENCED,
 * the process-wide barrier runs before this returns, so the caller's scan
 * of the reader slots sees every unfenced shared fix. */
static inline int bp__take(bp_pool *p, uint64_t *w, uint64_t *v, unsigned l)
{
    if (!bp_w_cas(w, v, bp_w_take(*v, l, p->proc_tag)))
        return 0;
    if (*v & BP_W_UNFENCED)
        bp__readers_barrier(p);
    return 1;
}

/* copy a frame to or from memory through the shm fd (bp_shm_io.c) */
int bp__shm_pread(bp_pool *p, void *buf, uint32_t frame);
int bp__shm_pwrite(bp_pool *p, const void *buf, uint32_t frame);

/* ---- dead processes (bp_reap.c) ------------------------------------------- */
/* 1 when process-table entry slot has a live owner (always in a private
 * pool, and for our own entry). */
int bp__proc_alive(bp_pool *p, uint32_t slot);
/* The count of this process's latches that no word names (bp_shared.h:
 * pr_anon), by n; nothing in a private pool. */
static inline void bp__anon_add(bp_pool *p, int64_t n)
{
    if (p->shared) {
        int sh = bp__tls_shard >= 0 ? bp__tls_shard : bp__shard_assign();

        __atomic_add_fetch(&p->procs[p->proc_slot]
                                .pr_anon[sh % BP__ANON_SHARDS]
                                .pa_n,
                           n, __ATOMIC_RELAXED);
    }
}

/* shm backing file (bp_shm.c) */
int bp__shm_open(bp_pool *p);
void bp__shm_close(bp_pool *p, int unlink_anyway);

/* the data file as the cache knows it (bp_shm_revive.c) */
void bp__data_will_write(bp_pool *p);
void bp__data_stat_note(bp_pool *p);

/* Locks in the shm file (bp_shlock.c): 32-bit futex words that every
 * attached process takes (page-table partitions, allocation, flush).  The
 * word holds the holder's process slot + 1 (BP__SHL_WAITERS set while
 * someone sleeps); a waiter sleeps with a timeout and looks again, so no
 * wait is unbounded by construction. */
#define BP__SHL_WAITERS 0x80000000u
/* Take *w, giving up after limit_ms (0: never) of a live holder: 0 or
 * -ETIMEDOUT (message names the holder). */
int bp__shlock_for(bp_pool *p, uint32_t *w, enum bp__rank r,
                   unsigned limit_ms);
int bp__shtrylock(bp_pool *p, uint32_t *w, enum bp__rank r); /* 1: taken */
void bp__shunlock(bp_pool *p, uint32_t *w, enum bp__rank r);

/* BP_REPLACE_ADMIT's use counts and admission ring (bp_freq.c). */
#define BP__ADMIT_EMPTY UINT64_MAX
void bp__freq_count(bp_pool *p, uint64_t pgno);
unsigned bp__freq_of(const bp_pool *p, uint64_t pgno);
/* The ring's next position in *pos, and the entry there. */
uint64_t bp__admit_take(bp_pool *p, uint32_t *pos);
void bp__admit_put(bp_pool *p, uint32_t pos, uint32_t frame, uint64_t pgno);

#endif
