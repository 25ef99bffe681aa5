/*
 * bp_pool.c - the public pool calls: open, close, fix, unfix, allocate,
 * optimistic reads, flush.
 *
 * Owns: the pool's life cycle (CLOSED -> OPEN -> closed and freed) and the
 * fix protocol.  A fix is a latch on the frame's state word (bp_latch.h);
 * there is no separate pin: a latched frame is never evicted and its slot
 * never remapped.
 *
 *   hit path (no lock, no syscall, no allocation): probe the window table,
 *     one CAS on the frame word (latch + usage), re-check the slot still
 *     shows the page.  On a latch conflict: spin, then sleep on the futex.
 *   miss path: take the page's frame BUSY (found in its page-table
 *     partition, or a victim, bp_cache.c: no global lock); under the window
 *     lock (p->lock) only take a victim slot and publish it for the page
 *     (fixers of the page now wait on BUSY).  Then without any lock: copy
 *     the slot's old page back (copy backend), remap the slot, read or zero
 *     the page, and release BUSY straight into the caller's latch.
 *
 *   bp_open:  io_open -> backend id + VMA budget -> shm_open -> auto's
 *             calibration -> window_open
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "platform/bp_testing.h"

/* Exclusive fixes this thread holds (any pool): bp_flush from a thread
 * holding one would wait for itself. */
static BP__TLS int bp__tls_excl;

/* Pages a BP_SCAN fix reads ahead at a time (bp__scan_ahead): half the
 * I/O depth, 1 to 64; the scan ring makes room for two such windows. */
static unsigned bp__scan_step(const bp_pool *p)
{
    unsigned step = p->po_io_depth / 2;

    return step < 1 ? 1 : step > 64 ? 64 : step;
}

static void bp__teardown(bp_pool *p, int failed)
{
    bp__flusher_stop(p); /* the flusher and reads in flight first */
    bp__aio_close(p);
    bp__window_close(p);
    /* the data file's locks before the cache's: once the last process is
     * gone from a shared cache, a new one may claim the file at once */
    bp__io_close(p);
    bp__shm_close(p, failed);
    bp__free(p, p->shards_raw, BP__SHARDS * sizeof *p->shards + BP__APART);
    bp__free(p, p->readers_raw, BP__READERS * sizeof *p->readers + BP__APART);
    p->shards = p->shards_aligned = p->shards_raw = NULL;
    p->readers = p->readers_aligned = p->readers_raw = NULL;
    p->be = NULL;
    BP__STORE(p->state, BP__CLOSED);
}

/* The backend asked for (BUFPOOL_BACKEND, which beats the option: see
 * bufpool.h), checked for this platform and, for rfp and mmap, against
 * the VMA budget before any memory is committed. */
static int bp__backend_asked(bp_pool *p, bp_backend *out)
{
    int env = bp__env_get(BP__ENV_BACKEND, -1);
    bp_backend b = env >= 0 ? (bp_backend)env : p->po_backend;
    uint64_t slots = bp__window_slots_asked(p);
    int rc;

    snprintf(p->be_reason, sizeof p->be_reason, "set by %s",
             env >= 0 ? "BUFPOOL_BACKEND" : "bp_set_backend");
    if (b == BP_BACKEND_COPY && p->shared)
        return bp__fail(p, BP_EBACKEND, "the copy backend keeps private "
                        "copies of pages, which other processes of a shared "
                        "cache (BP_ATTACH) would not see: use rfp, mmap or "
                        "linear");
    if (b == BP_BACKEND_LINEAR && sizeof(void *) < 8)
        return bp__fail(p, BP_EBACKEND,
                        "the linear backend needs a 64-bit address space");
    if ((b == BP_BACKEND_RFP || b == BP_BACKEND_MMAP) && slots &&
        (rc = bp__vma_check(p, slots)) != 0)
        return rc;
    if ((rc = bp__env_get(BP__ENV_GUARD, -1)) >= 0)
        p->po_guard = rc;
    if (p->po_guard && b != BP_BACKEND_KMOD && b != BP_BACKEND_AUTO)
        return bp__fail(p, BP_EBACKEND, "guard mode needs the kmod backend "
                        "(per-slot protection is the bpwin module's), not "
                        "%s", bp_backend_name(b));
    *out = b;
    return 0;
}

int bp_open(bp_pool *p, const char *path, unsigned flags)
{
    bp_backend b = BP_BACKEND_AUTO;
    uint64_t n;
    int rc;

    if (!p || !path)
        return -EINVAL;
    if (p->state != BP__CLOSED)
        return bp__fail(p, BP_ESTATE, "pool is already open");
    if (flags & ~(BP_CREATE | BP_BUFFERED_IO | BP_RDONLY | BP_ATTACH))
        return bp__fail(p, -EINVAL, "unknown bp_open flags %#x", flags);
    if ((flags & BP_CREATE) && (flags & BP_RDONLY))
        return bp__fail(p, -EINVAL, "BP_CREATE with BP_RDONLY: a read-only "
                        "pool cannot create its data file");
    if ((flags & BP_ATTACH) && !p->po_shm_name)
        return bp__fail(p, -EINVAL, "BP_ATTACH needs the shared cache's name: "
                        "bp_set_shm(p, name, keep) first");
    if ((flags & BP_ATTACH) && (flags & BP_RDONLY))
        return bp__fail(p, -EINVAL, "BP_ATTACH with BP_RDONLY: a shared "
                        "cache's processes may all write");
    bp__errmsg_clear(p);
    if ((rc = bp__env_check(p)) != 0) /* BUFPOOL_*: before anything exists */
        return rc;
    p->io_stage = 0; /* bp__iomem_setup decides; calibration windows are */
    p->io_thp = 0;   /* mapped before it, plainly */
    if (p->po_wal_fn &&
        p->po_wal_offset + 8 > p->po_page_size -
                                   (p->po_checksums ? BP_PAGE_TRAILER : 0))
        return bp__fail(p, -EINVAL, "page LSN at offset %zu does not fit a "
                        "page of %u bytes%s", p->po_wal_offset,
                        p->po_page_size,
                        p->po_checksums ? " with its checksum trailer" : "");
    n = p->po_cache_frames ? p->po_cache_frames
                           : p->po_cache_bytes / p->po_page_size;
    if (n == 0 || n >= BP__NONE)
        return bp__fail(p, -EINVAL, "cache of %" PRIu64 " frames: use 1 to "
                        "2^32-2 frames of %u bytes", n, p->po_page_size);
    p->nframes = n;
    p->shared = (flags & BP_ATTACH) != 0;
    if (bp__window_slots_asked(p) > n)
        return bp__fail(p, BP_EWINDOW,
                        "window of %" PRIu64 " slots is larger than the cache "
                        "of %" PRIu64 " frames",
                        bp__window_slots_asked(p), n);
    for (int i = 0; i < BP__RING; i++)
        p->ring_slots[i] = BP__NONE;
    for (int i = 0; i < BP__RING_FRAMES_MAX; i++)
        p->ring_frames[i] = BP__NONE;
    /* 32 frames plus two read-ahead windows, at most a quarter of the
     * cache (but never below 32) */
    p->ring_frames_len = BP__RING + 2 * bp__scan_step(p);
    if (p->ring_frames_len > n / 4)
        p->ring_frames_len = n / 4 > BP__RING ? (uint32_t)(n / 4) : BP__RING;
    p->shards = bp__alloc_lines(p, BP__SHARDS * sizeof *p->shards,
                                &p->shards_raw);
    p->readers = bp__alloc_lines(p, BP__READERS * sizeof *p->readers,
                                 &p->readers_raw);
    if (!p->shards || !p->readers) {
        bp__teardown(p, 1);
        return -ENOMEM;
    }
    p->shards_aligned = p->shards;
    p->readers_aligned = p->readers;
    for (int i = 0; i < BP__READERS; i++)
        for (int k = 0; k < BP__HZ; k++)
            p->readers[i].rd_hz[k] = BP__NONE;
    p->id = bp__readers_new_id();
    bp__readers_open(p);
    /* BUFPOOL_REPLACEMENT beats the option */
    if ((rc = bp__env_get(BP__ENV_REPLACEMENT, -1)) >= 0)
        p->po_replacement = (bp_replacement)rc;
    if ((rc = bp__io_open(p, path, flags)) == 0 &&
        (rc = bp__backend_asked(p, &b)) == 0 && (rc = bp__shm_open(p)) == 0) {
        bp__statshm_attach(p); /* the counters, readable by bpstat */
        if (b == BP_BACKEND_AUTO)
            rc = bp__backend_choose(p);
        else
            p->be = bp__backend_ops_of(b);
        if (rc == 0)
            rc = bp__iomem_setup(p, p->be->id); /* before the window */
        if (rc == 0)
            rc = bp__window_open(p);
        if (rc == 0) {
            bp__reg_setup(p, p->be->id);
#ifdef BP_HAVE_URING
            bp__io_uring_reg_region(p); /* lane 0 now: others clone it */
#endif
        }
    }
    if (rc == 0)
        rc = bp__flusher_start(p);
    if (rc) {
        bp__teardown(p, 1);
        return rc;
    }
    BP__STORE(p->state, BP__OPEN);
    bp__fork_register(p);
    return 0;
}

/* A child's copy of an open pool (bp_fork.c): its private memory and
 * mappings go, and nothing else.  No lock is taken (another thread of the
 * parent may have held it at fork()), no thread joined (none was copied),
 * the data file's lock is not released (its open file description is the
 * parent's too) and the shm file is not removed. */
static void bp__close_forked(bp_pool *p)
{
    bp__fork_unregister(p);
    bp__teardown(p, 0); /* each step checks p->forked */
}

/* Close refuses while frames are latched, naming the first few pages
 * (the leaked fixes of an engine). */
int bp_close(bp_pool *p)
{
    bp_allocator a;

    if (!p)
        return 0;
    if (p->forked) {
        bp__close_forked(p);
        goto free_handle;
    }
    /* the flusher and the reads in flight end first: they take the
     * window lock, and a frame being read counts as fixed below */
    bp__flusher_stop(p);
    bp__aio_close(p);
    bp__lock(p, &p->lock, BP__RANK_MISS);
    if (p->state != BP__CLOSED) {
        char pages[160] = "";
        uint64_t fixed = 0;
        size_t len = 0;

        for (int i = 0; p->shared && i < BP__SHARDS; i++)
            fixed += (uint64_t)__atomic_load_n(&p->shards[i].held,
                                               __ATOMIC_RELAXED);
        if (p->shared && fixed) /* other processes' latches are theirs */
            len = (size_t)snprintf(pages, sizeof pages, " held by this "
                                   "process");
        for (uint64_t f = 0; !p->shared && f < p->nframes; f++) {
            unsigned l = bp_w_latch(bp_w_load(bp__word(p, f)));

            if (l == 0 && !bp__readers_hold(p, (uint32_t)f))
                continue;
            if (fixed++ < 8 && len < sizeof pages - 24)
                len += (size_t)snprintf(pages + len, sizeof pages - len,
                                        " %" PRIu64,
                                        BP__LOAD(p->frames[f].fr_pgno));
        }
        if (fixed) {
            int rc = bp__fail(p, -EBUSY, "%" PRIu64 " pages are still fixed "
                              "(pages%s%s): unfix them before bp_close",
                              fixed, pages, fixed > 8 ? " ..." : "");

            bp__unlock(&p->lock, BP__RANK_MISS);
            (void)bp__flusher_start(p); /* the pool stays open and usable */
            return rc;
        }
        bp__fork_unregister(p);
        bp__teardown(p, 0);
    }
    bp__unlock(&p->lock, BP__RANK_MISS);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->io_lock);
    pthread_mutex_destroy(&p->aio_init_lock);
free_handle:
    if (p->po_shm_name)
        bp__free(p, p->po_shm_name, strlen(p->po_shm_name) + 1);
    a = p->po_alloc;
    a.free(a.ctx, p, sizeof *p);
    return 0;
}

static int bp__usable(bp_pool *p)
{
    int st = BP__LOAD(p->state);

    if (st == BP__OPEN && p->shared &&
        __atomic_load_n(&p->meta->sh_poisoned, __ATOMIC_ACQUIRE)) {
        BP__STORE(p->state, BP__POISONED); /* another process found why */
        return bp__fail(p, BP_EPOISONED, "the shared cache was poisoned "
                        "(a process died holding latches that cannot be "
                        "found): close it and open it again");
    }
    return st == BP__OPEN ? 0 : bp__state_error(p, st);
}

/* bp_page.bp_gen: bit 0 exclusive, bits 1..4 reader slot + 1 (0: counted
 * in the word), bits 5..9 reader block, bits 10..25 the slot's generation. */
#define BP__GEN_SHIFT 10
#define BP__GEN_MASK 0xffffu /* sl_gen's width */
_Static_assert(BP__HZ + 1 <= 16 && BP__READERS <= 32, "handle bit budget");
_Static_assert(BP__H_BLK_SHIFT == 5, "the block sits at bits 5..9");

/* Fill out for a fix of pgno in slot s, in two steps: the hit path does
 * the first as soon as it has found the slot (fewer values stay live in
 * registers); what a failed fix left there is cleared by bp__fix_slow. */
static inline void bp__fill_where(bp_pool *p, uint32_t s, uint64_t pgno,
                                  bp_page *out)
{
    out->data = bp__slot_addr(p, s);
    out->pgno = pgno;
    out->bp_slot = s;
}

/* The second step: blk_bits is the reader block's index <<
 * BP__H_BLK_SHIFT (0 when hz < 0). */
static inline void bp__fill_gen(const struct bp__slot *sl, int excl,
                                uint32_t blk_bits, int hz, bp_page *out)
{
    out->bp_gen = ((BP__LOAD(sl->sl_gen) & BP__GEN_MASK) << BP__GEN_SHIFT) |
                  blk_bits | ((uint32_t)(hz + 1) << 1) | (uint32_t)excl;
    if (excl) /* a shared hit writes no thread-local either */
        bp__tls_excl++;
}

/* A handle that holds no fix: unfixed, or what a failed fix leaves. */
static inline void bp__handle_clear(bp_page *pg)
{
    pg->data = NULL;
    pg->bp_slot = BP__NONE;
}

/* Publish frame f in a free slot of reader block b; the slot index, or -1
 * (all slots busy: count in the word instead).  A plain store: the caller
 * fences after it unless the frame's word says UNFENCED (bp_readers.c:
 * asymmetric fences). */
static inline int bp__hz_publish(struct bp__readers *b, uint32_t f)
{
#pragma GCC unroll 8
    for (int k = 0; k < BP__HZ; k++)
        if (__atomic_load_n(&b->rd_hz[k], __ATOMIC_RELAXED) == BP__NONE) {
            __atomic_store_n(&b->rd_hz[k], f, __ATOMIC_RELAXED);
            /* the compiler keeps the store before the word's load; the CPU
             * may not, which the barrier or the fence below answers for */
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            return k;
        }
    return -1;
}

/* With a linear window (frame i in slot i, every frame mapped): the
 * direct page index's entry for pgno, frame + 1 (bp_ptab.c); 0 when the
 * page is not cached, beyond the index, or the window is not linear. */
static inline uint32_t bp__linear_entry(const bp_pool *p, uint64_t pgno)
{
    if (p->be != &bp__backend_linear || pgno >= p->dmap_n)
        return 0;
    return __atomic_load_n(&p->dmap[pgno], __ATOMIC_ACQUIRE);
}

/* The window slot showing pgno, or BP__NONE.  A linear window's slot is
 * the frame the direct page index names (one line, where the window
 * table's probe reads two); the table decides when the index does not
 * show the page in a slot that holds it. */
static inline uint32_t bp__linear_slot(const bp_pool *p,
                                       const struct bp__slot *slots,
                                       uint64_t pgno)
{
    uint32_t e = bp__linear_entry(p, pgno);

    if (e != 0 && e <= p->nslots &&
        __atomic_load_n(&slots[e - 1].sl_pgno, __ATOMIC_ACQUIRE) == pgno)
        return e - 1;
    return bp__htab_find_in(&p->wtab, slots, pgno);
}

enum { BP__FIXED = 0, BP__NOT_MAPPED = 1, BP__AGAIN = 2, BP__SLOW = 3,
       BP__STALE = 4 };

/* The hit path.  BP__FIXED, BP__NOT_MAPPED, or BP__AGAIN after a wait.
 * With fast (a constant: bp_fix's shared-hit path) it calls no function:
 * whatever would need one (no reader block cached yet, no free reader
 * slot, a latch to wait for) returns BP__SLOW with nothing held, and the
 * hit is counted here, in the thread's own reader block.  With nowait
 * (BP_NOWAIT) it never waits: where it would, it lets go of what it took
 * and returns BP_EAGAIN. */
static inline __attribute__((always_inline)) int
bp__fix_hit(bp_pool *p, uint64_t pgno, int excl, int scan, int fast,
            int nowait, bp_page *out)
{
    struct bp__slot *slots = p->wtab.ht_slots, *sl;
    uint32_t s = bp__linear_slot(p, slots, pgno), f;
    struct bp__readers *blk = NULL;
    uint32_t blk_bits = 0;
    uint64_t *w, v;
    int hz = -1;

    if (s == BP__NONE)
        return BP__NOT_MAPPED;
    sl = &slots[s];
    if ((f = BP__LOAD(sl->sl_frame)) == BP__NONE)
        return BP__NOT_MAPPED;
    w = bp__word(p, f);
    /* start the word's cache miss now: a fence below would otherwise
     * serialize it after the store buffer drains */
    __builtin_prefetch(w, 0, 3);
    bp__fill_where(p, s, pgno, out);
    if (!excl) {
        if (fast) {
            if (bp__tls_rd_last.id != p->id) /* ids are unique per open */
                return BP__SLOW;
            blk = bp__tls_rd_last.blk;
        } else
            blk = bp__readers_get(p);
        if (blk) {
            hz = bp__hz_publish(blk, f);
            blk_bits = bp__tls_rd_last.handle_bits; /* set with blk */
        }
        if (fast && hz < 0)
            return BP__SLOW;
    }
    if (hz >= 0) {
        uint64_t n;

        /* scalable shared fix: our slot first, then the word (Dekker with
         * the exclusive/BUSY side, which sets the word then scans slots) */
        v = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        n = v;
        if (!(v & BP_W_UNFENCED)) {
            /* the store-load fence: the same store again, as an xchg */
            (void)__atomic_exchange_n(&blk->rd_hz[hz], f, __ATOMIC_SEQ_CST);
            n = v = __atomic_load_n(w, __ATOMIC_SEQ_CST);
            if ((bp__readers_tick(blk) & p->rd_sample) == 0 &&
                __atomic_load_n(&p->rd_unfenced, __ATOMIC_RELAXED) &&
                bp_w_latch(v) <= BP_LATCH_MAX_SHARED)
                n = (v & BP_W_HOT_MASK) == BP_W_HOT_MASK
                        ? v | BP_W_UNFENCED
                        : v + (1ull << BP_W_HOT_SHIFT);
        }
        if (bp_w_latch(v) > BP_LATCH_MAX_SHARED) {
            __atomic_store_n(&blk->rd_hz[hz], BP__NONE, __ATOMIC_RELEASE);
            if (fast)
                return BP__SLOW;
            if (nowait)
                return BP_EAGAIN;
            BP_STAT(p, latch_waits);
            int wrc = bp__latch_wait(p, w, v);
            return wrc ? wrc : BP__AGAIN;
        }
        /* keep CLOCK informed; once usage is saturated nothing is written */
        if (!scan)
            n = bp_w_used(n);
        if (n != v) /* a failed CAS loses a usage bump or a HOT count only */
            (void)bp_w_cas(w, &v, n);
    } else {
        /* a shared cache counts a shared latch among this process's
         * unnamed ones from before it may be taken (bp_shared.h) */
        if (!fast && !excl)
            bp__anon_add(p, 1);
        v = bp_w_load(w);
        do {
            if (!bp_w_can_latch(v, excl)) {
                if (!fast && !excl)
                    bp__anon_add(p, -1);
                if (nowait)
                    return BP_EAGAIN;
                BP_STAT(p, latch_waits);
                int wrc = bp__latch_wait(p, w, v);
                return wrc ? wrc : BP__AGAIN;
            }
        } while (!bp_w_cas(w, &v, bp_w_latched(v, excl, scan, p->proc_tag)));
        if (excl) {
            if (v & BP_W_UNFENCED) /* bp_w_latched took it: see bp__take */
                bp__readers_barrier(p);
            if (nowait && bp__readers_hold(p, f)) { /* readers still in */
                bp__latch_release(w, 1, 0, 0);
                return BP_EAGAIN;
            }
            bp__readers_drain(p, f);
        }
    }
    if (BP__LOAD(sl->sl_frame) != f || BP__LOAD(sl->sl_pgno) != pgno) {
        if (hz >= 0) /* remapped before we latched */
            __atomic_store_n(&blk->rd_hz[hz], BP__NONE, __ATOMIC_RELEASE);
        else
            bp__latch_release(w, excl, 0, 0);
        if (hz < 0 && !excl && !fast)
            bp__anon_add(p, -1);
        return BP__AGAIN;
    }
    if (!fast && p->shared && BP__LOAD(p->frames[f].fr_pgno) != pgno) {
        /* another process gave the frame to another page: the slot is a
         * stale hint (shared fixes never use reader slots here) */
        bp__latch_release(w, excl, 0, 0);
        if (!excl)
            bp__anon_add(p, -1);
        return BP__STALE;
    }
    {
        uint8_t r = BP__LOAD(sl->sl_ref),
                want = scan ? r | BP__REF_USED : BP__REF_USED;

        if (r != want) /* written only when it changes: hits stay reads */
            BP__STORE(sl->sl_ref, want);
    }
    bp__fill_gen(sl, excl, hz >= 0 ? blk_bits : 0, hz, out);
    if (fast) /* owner-only counter on the block's own line */
        __atomic_store_n(&blk->rd_hits,
                         __atomic_load_n(&blk->rd_hits, __ATOMIC_RELAXED) + 1,
                         __ATOMIC_RELAXED);
    return BP__FIXED;
}

/* The miss path: map pgno (how: read it, make it new at the end, or only
 * if cached) and latch it.  BP__FIXED, BP__AGAIN (the hit path takes
 * over), or an error (BP_ENOTCACHED, BP_EAGAIN: BP__GET_CACHED only). */
static int bp__fix_miss(bp_pool *p, uint64_t pgno, int excl, int scan,
                        enum bp__get how, bp_page *out)
{
    int fresh = how == BP__GET_FRESH, early = 0;
    struct bp__mapping m;
    uint64_t *w = NULL, v = 0, n;
    int rc, cached;

    if (fresh) { /* new pages are made one at a time, in file order */
        if ((rc = bp__shlock_for(p, &p->meta->sh_alloc_lock, BP__RANK_ALLOC,
                                 p->po_wait_ms)) != 0)
            return rc;
        pgno = BP__LOAD(p->meta->sh_data_pages);
    }
    if (how == BP__GET_READ) /* the read may start once the page misses */
        early = bp__io_early_arm(p);
    rc = bp__cache_map_begin(p, pgno, how, scan, &m, &w, &v);
    if (fresh && rc == 0)
        bp__park(BP__PARK_ALLOC);
    if (fresh)
        bp__shunlock(p, &p->meta->sh_alloc_lock, BP__RANK_ALLOC);
    if (rc == BP__WAIT) { /* the page's frame is busy: wait, then retry */
        if (early)
            bp__io_early_end(p); /* before any sleep */
        if (w && how == BP__GET_CACHED)
            return BP_EAGAIN; /* being read, moved or fixed: no sleep */
        if (w) {
            BP_STAT(p, latch_waits);
            if ((rc = bp__latch_wait(p, w, v)) != 0)
                return rc;
        }
        return BP__AGAIN;
    }
    /* a page the cache had is used again: usage to the top, as a hit's;
     * a page just read or made starts at 1 */
    cached = rc == 0 && m.need == BP__NEED_NOTHING;
    if (rc == 0)
        rc = bp__window_map_finish(p, &m);
    if (early)
        bp__io_early_end(p);
    if (rc)
        return rc;
    w = bp__word(p, m.frame);
    if (m.held == 0) { /* latched shared already (bp__cache_get) */
        if (excl) { /* the hit path takes it exclusive, waiting its turn */
            bp__latch_release(w, 0, 0, 0);
            bp__anon_add(p, -1);
            return BP__AGAIN;
        }
        bp__fill_where(p, m.slot, pgno, out);
        bp__fill_gen(&p->slots[m.slot], 0, 0, -1, out);
        return BP__FIXED;
    }
    /* BUSY -> the caller's latch, straight away (a shared one is unnamed
     * from now on: counted first) */
    if (!excl)
        bp__anon_add(p, 1);
    v = bp_w_load(w);
    do {
        n = bp_w_release(v, excl ? BP_LATCH_EXCL : 1);
        if (excl) /* BUSY -> exclusive: still ours */
            n |= (uint64_t)p->proc_tag << BP_W_OWNER_SHIFT;
        if (!scan)
            n = bp_w_set_usage(n, cached ? BP_W_USAGE_MAX : 1);
    } while (!bp_w_cas(w, &v, n));
    if (v & BP_W_WAITERS)
        bp_w_wake(w);
    bp__fill_where(p, m.slot, pgno, out);
    bp__fill_gen(&p->slots[m.slot], excl, 0, -1, out);
    return BP__FIXED;
}

/* Read-ahead of a BP_SCAN fix of pgno: a window of depth / 2 pages (at
 * most 64) kept one step ahead.  A scan that had to read pgno itself starts
 * right after it; afterwards every step-th page asks for the next step, by
 * when the window before it is (being) read.  Best effort: errors are the
 * later fixes' to report. */
static void bp__scan_ahead(bp_pool *p, uint64_t pgno, int missed)
{
    uint64_t list[64], pages = bp_page_count(p), from;
    unsigned step = bp__scan_step(p), n = 0;

    if (missed)
        from = pgno + 1;
    else if (pgno % step == 0)
        from = pgno + step;
    else
        return;
    for (uint64_t q = from; q < pages && n < step; q++)
        list[n++] = q;
    (void)bp__aio_prefetch(p, list, n, 1);
}

static int bp__fix(bp_pool *p, uint64_t pgno, unsigned mode, int fresh,
                   bp_page *out)
{
    int excl = (mode & BP_EXCLUSIVE) != 0, scan = (mode & BP_SCAN) != 0;
    int nowait = (mode & BP_NOWAIT) != 0, rc, missed = 0;

    if ((rc = bp__usable(p)) != 0)
        return rc;
    if (!fresh && pgno >= BP__LOAD(p->meta->sh_data_pages))
        return bp__fail(p, BP_EPGNO, "page %" PRIu64 " is beyond the end of "
                        "the data file (%" PRIu64 " pages)", pgno,
                        bp_page_count(p));
    for (;;) {
        if (!fresh) {
            rc = bp__fix_hit(p, pgno, excl, scan, 0, nowait, out);
            if (rc < 0) /* BP_EAGAIN, or a wait that failed */
                return rc;
            if (rc == BP__FIXED) {
                if (!missed)
                    BP_STAT(p, window_hits);
                if (scan)
                    bp__scan_ahead(p, pgno, missed);
                return 0;
            }
            if (rc == BP__AGAIN)
                continue;
            if (rc == BP__STALE) {
                bp__window_drop_stale(p, out->bp_slot, pgno);
                continue;
            }
        }
        rc = bp__fix_miss(p, pgno, excl, scan,
                          fresh                    ? BP__GET_FRESH
                          : nowait                 ? BP__GET_CACHED
                          : mode & BP_OVERWRITE    ? BP__GET_OVERWRITE
                                                   : BP__GET_READ,
                          out);
        if (rc == BP__FIXED && scan && !fresh)
            bp__scan_ahead(p, pgno, 1);
        if (rc != BP__AGAIN) /* a fresh page never comes back AGAIN */
            return rc;
        missed = 1;
    }
}

/* Guard mode (kmod): the fixed slot gets the fix's protection.  When the
 * module refuses, the fix is undone and the error returned. */
static __attribute__((noinline)) int bp__guard_fixed(bp_pool *p,
                                                     bp_page *out, int excl)
{
    int rc = bp__kmod_protect(p, out->bp_slot, excl);

    if (rc != 0)
        (void)bp_unfix(p, out, 0);
    return rc;
}

/* Everything but a shared hit: argument checks, then bp__fix. */
static __attribute__((noinline)) int
bp__fix_slow(bp_pool *p, uint64_t pgno, unsigned mode, bp_page *out)
{
    int rc;

    if (!p || !out ||
        (mode & ~(BP_EXCLUSIVE | BP_SCAN | BP_NOWAIT | BP_OVERWRITE)) ||
        ((mode & BP_OVERWRITE) && !(mode & BP_EXCLUSIVE)))
        return -EINVAL;
    if ((rc = bp__fix(p, pgno, mode, 0, out)) != 0)
        bp__handle_clear(out); /* the hit path may have begun to fill it */
    else if (p->shared)
        bp__held_add(p, 1);
    if (rc == 0 && p->kmod_prot)
        rc = bp__guard_fixed(p, out, (mode & BP_EXCLUSIVE) != 0);
    return rc;
}

int bp_fix(bp_pool *p, uint64_t pgno, unsigned mode, bp_page *out)
{
    /* The common case straight away: a shared hit in an open pool, with no
     * function call, so it needs no stack frame.  A page found in the
     * window is below the end of the file, so the bounds check waits for
     * the slow path. */
    if (__builtin_expect(mode == BP_SHARED && p && out, 1) &&
        BP__LOAD(p->state) == BP__OPEN) {
        if (bp__fix_hit(p, pgno, 0, 0, 1, 0, out) == BP__FIXED)
            return __builtin_expect(p->kmod_prot == NULL, 1)
                       ? 0
                       : bp__guard_fixed(p, out, 0);
        return bp__fix_slow(p, pgno, BP_SHARED, out); /* mode: one less
                                                          register live */
    }
    return bp__fix_slow(p, pgno, mode, out);
}

int bp_alloc_page(bp_pool *p, bp_page *out)
{
    int rc;

    if (!p || !out)
        return -EINVAL;
    if ((rc = BP__LOAD(p->state)) == BP__FORKED || rc == BP__POISONED)
        rc = bp__state_error(p, rc);
    else if (p->rdonly && BP__LOAD(p->state) != BP__CLOSED)
        rc = bp__fail(p, BP_EREADONLY, "bp_alloc_page on a pool opened "
                      "BP_RDONLY");
    else if (p->meta && BP__LOAD(p->meta->sh_sync_err))
        rc = bp__fail(p, BP_ESYNC, "an earlier fdatasync failed: no new "
                      "page can be made durable");
    else
        rc = bp__fix(p, 0, BP_EXCLUSIVE, 1, out);
    if (rc)
        bp__handle_clear(out);
    else if (p->shared)
        bp__held_add(p, 1);
    if (rc == 0 && p->kmod_prot)
        rc = bp__guard_fixed(p, out, 1);
    return rc;
}

/* The slot handle pg names, when the slot still shows pg's page in pg's
 * generation (its frame in *f); NULL: pg holds no fix. */
static inline struct bp__slot *bp__handle_slot(bp_pool *p, const bp_page *pg,
                                               uint32_t *f)
{
    struct bp__slot *sl;

    if (pg->bp_slot >= p->nslots)
        return NULL;
    sl = &p->slots[pg->bp_slot];
    if (pg->data != bp__slot_addr(p, pg->bp_slot) ||
        (BP__LOAD(sl->sl_gen) & BP__GEN_MASK) != pg->bp_gen >> BP__GEN_SHIFT ||
        BP__LOAD(sl->sl_pgno) != pg->pgno ||
        (*f = BP__LOAD(sl->sl_frame)) == BP__NONE)
        return NULL;
    return sl;
}

/* Everything but the unfix of a shared fix held in a reader slot. */
static __attribute__((noinline)) int bp__unfix_slow(bp_pool *p, bp_page *pg,
                                                    unsigned flags)
{
    struct bp__readers *blk;
    struct bp__slot *sl;
    uint64_t *w, v;
    uint32_t f;
    int excl, copy, hz, st;

    if (!p || !pg || (flags & ~BP_DIRTY))
        return -EINVAL;
    if ((st = BP__LOAD(p->state)) == BP__CLOSED || st == BP__FORKED)
        return bp__state_error(p, st);
    excl = pg->bp_gen & 1;
    hz = (int)((pg->bp_gen >> 1) & 15) - 1;
    blk = &p->readers[(pg->bp_gen >> 5) & 31];
    if (!(sl = bp__handle_slot(p, pg, &f)) || hz >= BP__HZ ||
        (hz >= 0 && (excl || BP__LOAD(blk->rd_hz[hz]) != f)))
        goto notfixed;
    if ((flags & BP_DIRTY) && p->rdonly)
        return bp__fail(p, BP_EREADONLY, "BP_DIRTY on page %" PRIu64 " of a "
                        "pool opened BP_RDONLY (the page stays fixed: unfix "
                        "it with 0)", pg->pgno);
    if ((flags & BP_DIRTY) && !excl)
        return bp__fail(p, -EINVAL, "BP_DIRTY on page %" PRIu64 " fixed "
                        "shared: fix it BP_EXCLUSIVE to modify it", pg->pgno);
    if (hz >= 0) { /* a shared fix held in a reader slot: no word write */
        __atomic_store_n(&blk->rd_hz[hz], BP__NONE, __ATOMIC_RELEASE);
        bp__handle_clear(pg);
        return 0;
    }
    w = bp__word(p, f);
    v = bp_w_load(w);
    if (excl ? bp_w_latch(v) != BP_LATCH_EXCL
             : (bp_w_latch(v) == 0 || bp_w_latch(v) > BP_LATCH_MAX_SHARED))
        goto notfixed;
    if (p->shared)
        bp__held_add(p, -1);
    if (excl && p->kmod_prot) /* guard: writable only while fixed so */
        (void)bp__kmod_protect(p, pg->bp_slot, 0);
    copy = p->be->id == BP_BACKEND_COPY;
    if ((flags & BP_DIRTY) && copy)
        BP__STORE(sl->sl_dirty, 1);
    bp__latch_release(w, excl, (flags & BP_DIRTY) && !copy ? BP_W_DIRTY : 0,
                      (flags & BP_DIRTY) ? BP_W_WB : 0);
    if (!excl)
        bp__anon_add(p, -1); /* after the latch went */
    bp__tls_excl -= excl;
    bp__handle_clear(pg);
    return 0;
notfixed:
    return bp__fail(p, BP_ENOTFIXED, "unfix of page %" PRIu64 " that this "
                    "handle does not hold fixed", pg->pgno);
}

int bp_unfix(bp_pool *p, bp_page *pg, unsigned flags)
{
    /* The common case first: a shared fix held in a reader slot, in an
     * open pool; the same checks as bp__unfix_slow's, in a straight line. */
    if (__builtin_expect(p && pg && flags == 0, 1) &&
        (unsigned)BP__LOAD(p->state) - BP__OPEN <= BP__POISONED - BP__OPEN) {
        uint32_t gen = pg->bp_gen, f;
        unsigned hz = ((gen >> 1) & 15) - 1u; /* (unsigned)-1: counted */
        struct bp__readers *blk = &p->readers[(gen >> 5) & 31];

        if (!(gen & 1) && hz < BP__HZ && bp__handle_slot(p, pg, &f) &&
            BP__LOAD(blk->rd_hz[hz]) == f) {
            __atomic_store_n(&blk->rd_hz[hz], BP__NONE, __ATOMIC_RELEASE);
            bp__handle_clear(pg);
            return 0;
        }
    }
    return bp__unfix_slow(p, pg, flags);
}

int bp_prefetch(bp_pool *p, const uint64_t *pgnos, size_t n)
{
    uint64_t pages;
    int rc;

    if (!p || (!pgnos && n))
        return -EINVAL;
    if ((rc = bp__usable(p)) != 0)
        return rc;
    pages = bp_page_count(p);
    for (size_t i = 0; i < n; i++)
        if (pgnos[i] >= pages)
            return bp__fail(p, BP_EPGNO, "prefetch of page %" PRIu64 " beyond "
                            "the end of the data file (%" PRIu64 " pages)",
                            pgnos[i], pages);
    return bp__aio_prefetch(p, pgnos, n, 0);
}

/* An optimistic read of pgno begun: slot s shows frame f, whose word read
 * v. */
static inline int bp__opt_begun(bp_pool *p, bp_opt *o, uint32_t s,
                                uint64_t pgno, uint32_t f, uint64_t v)
{
    o->data = bp__slot_addr(p, s);
    o->pgno = pgno;
    o->bp_version = bp_w_version(v);
    o->bp_frame = f;
    BP_STAT(p, opt_begins);
    return 0;
}

/* An optimistic read is a use of the page, for the CLOCK as a fix's: its
 * frame's usage goes to the top (one CAS, lost if it fails; nothing is
 * written once the count is at the top, so a page read often costs no
 * write until the hand has lowered it again). */
static inline void bp__opt_used(uint64_t *w, uint64_t v)
{
    if (bp_w_used(v) != v)
        (void)bp_w_cas(w, &v, bp_w_used(v));
}

int bp_opt_begin(bp_pool *p, uint64_t pgno, bp_opt *o)
{
    int rc;

    if (!p || !o)
        return -EINVAL;
    if ((rc = bp__usable(p)) != 0)
        return rc;
    /* a linear window: the direct page index names the frame, and the
     * frame is the address (the protocol: bp_ptab.c) */
    uint32_t e = bp__linear_entry(p, pgno);

    if (e != 0 && e <= p->nframes) {
        uint32_t f = e - 1;
        uint64_t v;

        /* the caller reads the page next: its first line (and TLB entry)
         * comes in while the state word does */
        __builtin_prefetch(bp__slot_addr(p, f));
        v = bp_w_load(bp__word(p, f));
        if (bp_w_latch(v) > BP_LATCH_MAX_SHARED)
            return BP_ERETRY;
        if (bp__linear_entry(p, pgno) == e) {
            bp__opt_used(bp__word(p, f), v);
            return bp__opt_begun(p, o, f, pgno, f, v);
        }
    }
    for (int tries = 0; tries < 4; tries++) {
        uint32_t s = bp__htab_find(&p->wtab, pgno), f;
        bp_page pg;

        if (s != BP__NONE && (f = BP__LOAD(p->slots[s].sl_frame)) != BP__NONE) {
            uint64_t v = bp_w_load(bp__word(p, f));

            if (bp_w_latch(v) > BP_LATCH_MAX_SHARED)
                return BP_ERETRY; /* exclusive or BUSY right now */
            if (BP__LOAD(p->slots[s].sl_frame) != f ||
                BP__LOAD(p->slots[s].sl_pgno) != pgno)
                continue;
            if (p->shared && BP__LOAD(p->frames[f].fr_pgno) != pgno) {
                bp__window_drop_stale(p, s, pgno); /* a stale hint */
                continue;
            }
            bp__opt_used(bp__word(p, f), v);
            return bp__opt_begun(p, o, s, pgno, f, v);
        }
        if ((rc = bp_fix(p, pgno, BP_SHARED, &pg)) != 0) /* bring it in */
            return rc;
        bp_unfix(p, &pg, 0);
    }
    return BP_ERETRY;
}

int bp_opt_validate(bp_pool *p, const bp_opt *o)
{
    uint64_t v;

    if (!p || !o)
        return -EINVAL;
    if (BP__LOAD(p->state) == BP__CLOSED)
        return BP_ESTATE;
    if (BP__LOAD(p->state) == BP__FORKED)
        return bp__state_error(p, BP__FORKED);
    if (o->bp_frame >= p->nframes)
        return -EINVAL;
    /* the caller's reads of the page must happen before the re-read */
#if defined(__SANITIZE_THREAD__)
    /* TSan has no fences: an acq_rel RMW of nothing orders them the same */
    v = __atomic_fetch_add(bp__word(p, o->bp_frame), 0,
                           __ATOMIC_ACQ_REL);
#else
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    v = bp_w_load(bp__word(p, o->bp_frame));
#endif
    if (bp_w_version(v) == o->bp_version &&
        bp_w_latch(v) <= BP_LATCH_MAX_SHARED)
        return 0;
    BP_STAT(p, opt_failures);
    return BP_ERETRY;
}

uint64_t bp_page_count(const bp_pool *p)
{
    return p && p->meta ? BP__LOAD(p->meta->sh_data_pages) : 0;
}

int bp_truncate(bp_pool *p, uint64_t pages)
{
    uint64_t old, psz;
    int rc;

    if (!p)
        return -EINVAL;
    if ((rc = bp__usable(p)) != 0)
        return rc;
    psz = p->po_page_size;
    if (p->rdonly)
        return bp__fail(p, BP_EREADONLY, "bp_truncate on a pool opened "
                        "BP_RDONLY");
    if (pages > (uint64_t)INT64_MAX / psz)
        return bp__fail(p, -EFBIG, "bp_truncate to %" PRIu64 " pages: "
                        "beyond the largest file offset", pages);
    if (BP__LOAD(p->meta->sh_sync_err))
        return bp__fail(p, BP_ESYNC, "an earlier fdatasync failed: the "
                        "file's size cannot be made durable");
    if ((rc = bp__shlock_for(p, &p->meta->sh_alloc_lock, BP__RANK_ALLOC,
                             p->po_wait_ms)) != 0)
        return rc;
    old = BP__LOAD(p->meta->sh_data_pages);
    if (pages < old) {
        BP__STORE(p->meta->sh_data_pages, pages); /* new fixes stop here */
        if ((rc = bp__cache_truncate(p, pages)) != 0) {
            BP__STORE(p->meta->sh_data_pages, old);
            goto out;
        }
    }
    bp__data_will_write(p); /* the next flush syncs the new size */
    if (pages > old) {
        struct stat st;

        /* a failed shrink left the file longer than the pool: cut it to
         * old first, or its bytes beyond old would come back as the new
         * pages (no page at or beyond old exists, none is written) */
        if ((bp__sys_fstat(p->data_fd, &st) != 0 ||
             (uint64_t)st.st_size > old * psz) &&
            bp__sys_ftruncate(p->data_fd, (off_t)(old * psz)) != 0) {
            rc = bp__fail(p, -errno, "ftruncate of the data file to %"
                          PRIu64 " pages failed", old);
            goto out;
        }
        if (BP__LOAD(p->meta->sh_disk_pages) > old)
            BP__STORE(p->meta->sh_disk_pages, old);
    }
    if (bp__sys_ftruncate(p->data_fd, (off_t)(pages * psz)) != 0) {
        rc = bp__fail(p, -errno, "ftruncate of the data file to %" PRIu64
                      " pages failed", pages);
        goto out; /* shrinking: the cache no longer has the pages cut */
    }
    BP__STORE(p->meta->sh_disk_pages, pages);
    BP__STORE(p->meta->sh_data_pages, pages);
out:
    bp__shunlock(p, &p->meta->sh_alloc_lock, BP__RANK_ALLOC);
    return rc;
}

int bp_flush(bp_pool *p)
{
    int rc;

    if (!p)
        return -EINVAL;
    if ((rc = bp__usable(p)) != 0)
        return rc;
    if (bp__tls_excl > 0)
        return bp__fail(p, -EDEADLK, "bp_flush called by a thread holding %d "
                        "exclusive fixes: it would wait for itself; unfix "
                        "them first", bp__tls_excl);
    return bp__flush_all(p);
}

/* ---- test hooks (bp_testing.h) ------------------------------------------- */

uint64_t bp__test_frame_offset(bp_pool *p, uint64_t pgno)
{
    uint64_t off = UINT64_MAX;
    uint32_t f;

    unsigned part;

    if (p->state == BP__CLOSED)
        return off;
    part = bp__ptab_lock(p, pgno);
    if ((f = bp__ptab_find_locked(p, pgno)) != BP__NONE)
        off = bp__frame_off(p, f);
    bp__ptab_unlock(p, part);
    return off;
}

void *bp__test_slot_addr(bp_pool *p, uint64_t pgno)
{
    void *a = NULL;
    uint32_t s;

    bp__lock(p, &p->lock, BP__RANK_MISS);
    if (p->state != BP__CLOSED &&
        (s = bp__htab_find(&p->wtab, pgno)) != BP__NONE)
        a = bp__slot_addr(p, s);
    bp__unlock(&p->lock, BP__RANK_MISS);
    return a;
}
