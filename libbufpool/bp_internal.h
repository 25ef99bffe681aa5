/*
 * bp_internal.h - the pool's internal state, shared by the library's modules.
 *
 * The shm file's layout (what every attached process shares) is declared
 * in bp_shared.h; the metadata part [0, frames_off) is mapped once per
 * process (p->meta).  Frames are reached only through the window
 * (bp_window.c) or by I/O on the shm fd; the linear backend maps all of
 * them at once.
 *
 * Process-private state: the window (slots), its pgno -> slot table, the
 * I/O engine, the locks (bp_latch.h: lock order).  See libbufpool/README.md
 * for the access rules.
 */
#ifndef BP_INTERNAL_H
#define BP_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "bp_latch.h"
#include "bp_shared.h"
#include "bufpool.h"

#ifndef BP_DEBUG
#define BP_DEBUG 0
#endif

#define BP__NONE UINT32_MAX      /* no frame / no slot */
#define BP__NOPAGE UINT64_MAX    /* frame or slot holds no page */

/* ---- private: window slots --------------------------------------------------
 * Written under p->lock while the slot's frame is BUSY (or the slot is
 * empty); read by the lock-free hit path, hence atomic accesses. */
struct bp__slot {
    uint64_t sl_pgno;  /* BP__NOPAGE when empty */
    uint32_t sl_frame; /* BP__NONE when empty */
    uint16_t sl_gen;   /* bumped whenever the slot changes page */
    uint8_t sl_ref;    /* BP__REF_*: replacement hints, a lost update is
                          harmless (written racily, atomically) */
    uint8_t sl_dirty;  /* copy backend: BP__SL_* bits, 0 when the slot's
                          bytes equal its frame's */
};
_Static_assert(sizeof(struct bp__slot) == 16, "four slots per cache line");
#define BP__REF_USED 0x1 /* CLOCK reference bit */
#define BP__REF_SCAN 0x2 /* mapped by a BP_SCAN fix, not touched since */
/* sl_dirty (copy backend, bp_backend_copy.c): what the frame lacks */
#define BP__SL_DIRTY 0x1 /* changed by the engine: copied home, frame dirty */
#define BP__SL_HOME 0x2  /* read from disk into the slot, not yet copied
                            into its (clean) frame: copied home when the
                            slot is let go, unless the frame goes too */

/* Per-thread data that one thread writes and others do not: this far
 * apart, not just a cache line, because x86's L2 fetches lines in 128-byte
 * pairs (the adjacent-line prefetcher), so two threads writing neighbouring
 * lines still bounce them. */
#define BP__APART 128

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

#define BP__LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define BP__STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* ---- statistics: per-thread shards ------------------------------------------
 * Counters live in BP__SHARDS cache-line-aligned shards; a thread adds to
 * its own (picked round-robin at its first count) with a plain relaxed
 * load and store, so counting costs no locked instruction and no shared
 * cache line.  With more threads than shards two threads may share one and
 * a count may be lost: the statistics are exact below BP__SHARDS threads. */
#define BP__COUNTERS(X)                                                        \
    X(window_hits) X(window_misses) X(cache_hits) X(cache_misses)             \
    X(slot_evictions) X(frame_evictions) X(remaps_rfp) X(remaps_mmap)         \
    X(copies_in) X(copies_out) X(reads) X(writes) X(bytes_read)               \
    X(bytes_written) X(syncs) X(latch_waits) X(opt_begins) X(opt_failures)    \
    X(scan_recycles) X(checksum_failures) X(wal_flushes)                     \
    X(prefetch_started) X(prefetch_done) X(prefetch_failed) X(batch_writes)   \
    X(flusher_rounds) X(flusher_pages) X(reader_barriers)                   \
    X(prefetch_direct) X(reads_early) X(copies_home) X(peer_reaps)           \
    X(peer_frames) X(revived_frames) X(revive_dropped) X(admit_kept)         \
    X(admit_dropped) X(remaps_kmod) X(guard_protects) X(read_ns)            \
    X(write_ns)

enum bp__ctr {
#define BP__CTR_ENUM(name) BP_C_##name,
    BP__COUNTERS(BP__CTR_ENUM)
#undef BP__CTR_ENUM
    BP__NCOUNTERS
};

#define BP__SHARDS 64
struct bp__shard {
    uint64_t c[BP__NCOUNTERS];
    int64_t held; /* shared cache: fixes taken minus released here (the
                     latch words cannot say whose a fix is; bp_close sums
                     these to refuse closing with fixes held) */
} __attribute__((aligned(BP__APART)));

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
 * into the file (attach); before the file goes, back into private memory
 * (detach: a shared cache's process also retires them).  Retire folds a
 * slot's counters into the cache's retired totals and clears them (its
 * owner or its reaper only). */
void bp__statshm_attach(bp_pool *p);
void bp__statshm_detach(bp_pool *p);
void bp__statshm_retire(bp_pool *p, uint32_t slot);
/* The counters of slot s in the file, for readers such as bpstat. */
struct bp__shard *bp__statshm_shards(void *meta, uint64_t stats_off,
                                     uint32_t s);
struct bp__readers *bp__statshm_readers(void *meta, uint64_t stats_off,
                                        uint32_t s);

/* A shared cache's fix count of this process: n is +1 or -1 (an atomic
 * add on the thread's own shard: a fix and its unfix may be in different
 * threads sharing one). */
static inline void bp__held_add(bp_pool *p, int64_t n);

/* Thread-locals of the hit path use the initial-exec model: a plain
 * %fs-relative access even in the shared library (no __tls_get_addr). */
#define BP__TLS __attribute__((tls_model("initial-exec"))) _Thread_local
extern BP__TLS int bp__tls_shard;
int bp__shard_assign(void);

#define BP_STAT_ADD(p, name, n)                                                \
    do {                                                                       \
        int sh_ = bp__tls_shard >= 0 ? bp__tls_shard : bp__shard_assign();    \
        uint64_t *c_ = &(p)->shards[sh_].c[BP_C_##name];                      \
        __atomic_store_n(c_, __atomic_load_n(c_, __ATOMIC_RELAXED) + (n),     \
                         __ATOMIC_RELAXED);                                    \
    } while (0)
#define BP_STAT(p, name) BP_STAT_ADD(p, name, 1)

/* CLOCK_MONOTONIC in ns (I/O latency counters; never on the hit path). */
static inline uint64_t bp__clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- open-addressing hash of window slot indexes keyed by pgno ----------
 * Entries hold slot index + 1 (0 = empty); the key of an entry is the slot's
 * sl_pgno (a fixed record type, so a probe is a shift and a load).  Linear
 * probing with backward-shift deletion: no tombstones, so lookups stay
 * short. */
struct bp__htab {
    uint32_t *ht_ent;
    uint64_t ht_mask;
    struct bp__slot *ht_slots; /* the records whose sl_pgno are the keys */
    unsigned ht_shift;         /* 64 - log2(entries): see bp__htab_home */
};

uint64_t bp__htab_entries_for(uint64_t items);
void bp__htab_insert(struct bp__htab *h, uint64_t key, uint32_t idx);
void bp__htab_remove(struct bp__htab *h, uint64_t key);

/* ---- the page table (bp_ptab.c): pgno -> frame, chained, partitioned ----
 * A bucket belongs to partition (bucket % BP__PARTS), each with its own
 * lock: lookups and changes of different partitions never wait for each
 * other.  Chains link frames through fr_next.  A frame joins or leaves a
 * chain only while BUSY, so a frame found under the partition lock and
 * then taken BUSY stays that page's frame. */
static inline uint64_t bp__hash(uint64_t key)
{
    key ^= key >> 30; /* splitmix64 finalizer: neighbours spread out */
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebull;
    key ^= key >> 31;
    return key;
}

static inline uint64_t bp__key_of(const struct bp__htab *h, uint32_t idx)
{
    return __atomic_load_n(&h->ht_slots[idx].sl_pgno, __ATOMIC_ACQUIRE);
}

/* Home position of key: Fibonacci hashing (one multiply, the top bits), so
 * neighbouring page numbers spread over the table. */
static inline uint64_t bp__htab_home(const struct bp__htab *h, uint64_t key)
{
    return (key * 0x9E3779B97F4A7C15ull) >> h->ht_shift;
}

/* The slot index holding key, or BP__NONE (lock-free; see bp_htab.c), with
 * slots == h->ht_slots already loaded by the caller (the hit path goes on
 * to the slot).  Inline: it is the first step of every window hit. */
static inline uint32_t bp__htab_find_in(const struct bp__htab *h,
                                        const struct bp__slot *slots,
                                        uint64_t key)
{
    uint64_t i = bp__htab_home(h, key);
    uint32_t e = __atomic_load_n(&h->ht_ent[i], __ATOMIC_ACQUIRE);

    if (e == 0)
        return BP__NONE;
    for (uint64_t n = 1, mask = h->ht_mask;; n++) {
        if (__atomic_load_n(&slots[e - 1].sl_pgno, __ATOMIC_ACQUIRE) == key)
            return e - 1;
        if (n > mask)
            return BP__NONE;
        i = (i + 1) & mask;
        if ((e = __atomic_load_n(&h->ht_ent[i], __ATOMIC_ACQUIRE)) == 0)
            return BP__NONE;
    }
}

static inline uint32_t bp__htab_find(const struct bp__htab *h, uint64_t key)
{
    return bp__htab_find_in(h, h->ht_slots, key);
}
unsigned bp__ptab_lock(bp_pool *p, uint64_t pgno);
void bp__ptab_unlock(bp_pool *p, unsigned part);
uint32_t bp__ptab_find_locked(bp_pool *p, uint64_t pgno);
void bp__ptab_insert_locked(bp_pool *p, uint64_t pgno, uint32_t frame);
void bp__ptab_remove_locked(bp_pool *p, uint64_t pgno, uint32_t frame);
/* Pages ever inserted into partition part (its lock held): a page missing
 * at two lookups with the same count was not cached in between. */
uint64_t bp__ptab_gen_locked(const bp_pool *p, unsigned part);
/* Relink partition part's chains from the frames' fr_pgno (its lock
 * taken over from a dead process, which may have been halfway through a
 * change): bp_reap.c. */
void bp__ptab_rebuild_locked(bp_pool *p, unsigned part);

/* ---- data-file I/O engine ---------------------------------------------------
 * Every data-file I/O goes through these ops so that an engine can be
 * swapped; the engines make their system calls through bp_sys.h.  Calls
 * return the byte count or a negative errno; they never return short except
 * at end of file (read) and never retry EINTR themselves beyond what they
 * document. */
struct bp__early;
struct bp__io_ops {
    const char *name;
    ssize_t (*read)(bp_pool *p, void *buf, size_t len, uint64_t off);
    ssize_t (*write)(bp_pool *p, const void *buf, size_t len, uint64_t off);
    int (*sync)(bp_pool *p);
    /* Early reads (bp_io_early.c; NULL: the engine has none).  start:
     * submit a read of len bytes at off into a landing page and return
     * without waiting: 0 (e->lane and e->tag set), or a negative errno with
     * nothing in flight.  take: wait for it, copy the bytes that arrived to
     * dst (none when dst is NULL) and give the landing page back: the byte
     * count or a negative errno. */
    int (*early_start)(bp_pool *p, uint64_t off, size_t len,
                       struct bp__early *e);
    ssize_t (*early_take)(bp_pool *p, struct bp__early *e, void *dst);
};
extern const struct bp__io_ops bp__io_sync;
#ifdef BP_HAVE_URING
/* bp_io_uring.c: set up io_uring for p->data_fd.  0: p->io and p->io_priv
 * are set; else a negative errno with p->io_reason saying why. */
int bp__io_uring_init(bp_pool *p);
void bp__io_uring_fini(bp_pool *p);
#endif

/* bp_uring_reg.c: the region rings register as fixed buffers, split in
 * chunks of BP__REG_CHUNK bytes.  bp__reg_setup after the window opens
 * (registers it on the fix-miss lane 0 too);
 * bp__reg_iovecs fills at most max iovecs (0 if more are needed);
 * bp__reg_index is the chunk holding [buf, buf+len) or -1;
 * bp__reg_memlock_ok says whether registering bytes can pass
 * RLIMIT_MEMLOCK. */
#define BP__REG_CHUNK (1ull << 30)  /* the kernel's limit per buffer */
#define BP__REG_MAX_CHUNKS 256u     /* 256 GiB; the kernel takes 16K */
void bp__reg_setup(bp_pool *p);
unsigned bp__reg_chunks_of(uint64_t len);
unsigned bp__reg_chunks(const bp_pool *p);
struct iovec;
unsigned bp__reg_iovecs(const bp_pool *p, struct iovec *iov, unsigned max);
int bp__reg_index(const bp_pool *p, const void *buf, size_t len);
int bp__reg_memlock_ok(uint64_t bytes);
#ifdef BP_HAVE_URING
struct io_uring;
/* Register head[0..nhead) (at most BP__REG_HEAD_MAX) and then the
 * region's chunks as ring's buffers, the region's first chunk at index
 * nhead: 0, or -errno (-ENOMEM without trying when RLIMIT_MEMLOCK would
 * refuse; -EINVAL with no region). */
#define BP__REG_HEAD_MAX 1u
int bp__reg_register(bp_pool *p, struct io_uring *ring,
                     const struct iovec *head, unsigned nhead);
/* Clone src's registered buffers into dst (which has none): 0 or -errno
 * (-EINVAL before Linux 6.12). */
int bp__reg_clone(struct io_uring *dst, int src_ring_fd);
/* bp_io_uring.c: register the region on lane 0 (after the window opens);
 * not fatal, plain reads without it. */
void bp__io_uring_reg_region(bp_pool *p);
/* bits 2 (lane 0) of io_registered from the fix-miss lanes */
unsigned bp__io_uring_registered(const bp_pool *p);
#endif

/* bp_iomem.c: where reads land.  bp__iomem_setup, at open before the
 * window is mapped, decides io_thp and io_stage (and maps the fix-miss
 * lanes' landing area): 0 or an error.  bp__iomem_map maps *len bytes of
 * private anonymous memory (populated when asked), aligned to and advised
 * into huge pages of io_thp bytes when that is not 0 (round: *len grows
 * to one huge page when smaller); 0 or -errno. */
#define BP__STAGE_AHEAD 1u /* read-ahead lands in its request's buffer */
#define BP__STAGE_MISS 2u  /* a fix miss lands in its lane's page */
#define BP__STAGE_EARLY 4u /* ... and is submitted before its frame is
                              taken (bp_io_early.c) */
#define BP__STAGE_THP 8u   /* I/O buffers advised into huge pages */
#define BP__STAGE_HV 16u   /* a hypervisor was seen (auto's input) */
#define BP__URING_LANES 8  /* fix-miss lanes (bp_io_uring.c), and as
                              many early lanes after them */
int bp__iomem_map(bp_pool *p, size_t *len, int round, int populate,
                  void **out);
int bp__iomem_setup(bp_pool *p);
void bp__iomem_close(bp_pool *p);

int bp__io_open(bp_pool *p, const char *path, unsigned flags);
/* bp_io.c: the data file's locks for a shared cache.  claim: its creator
 * checks no other pool or cache has the file and marks it a shared
 * cache's; join: a later process marks it too.  0 or -EBUSY. */
int bp__io_claim_shared(bp_pool *p);
int bp__io_join_shared(bp_pool *p);
void bp__io_close(bp_pool *p);
int bp__io_read_page(bp_pool *p, uint64_t pgno, void *buf);
/* bp_io_early.c: a fix miss's read submitted as soon as the page is known
 * to be missing from the cache, while the miss takes a frame (io_stage bit
 * 2).  arm before the miss looks the page up; start where the lookup
 * fails (gen: the partition's insert count then; no pool lock held);
 * insert where the miss inserts its page (gen: the count just before);
 * end on every way out of the miss (before any sleep on a latch); take, in
 * bp__io_read_page: the bytes of pgno that an early read brought into buf
 * (0 if none: read them). */
struct bp__early {
    bp_pool *p;       /* armed or in flight for this pool, else NULL */
    unsigned nested;  /* misses armed inside the one that armed p */
    int flight;       /* a read is in flight */
    uint64_t pgno;    /* its page */
    uint64_t gen;     /* its partition's insert count when pgno was missing */
    int stale;        /* the page was cached since: drop the bytes */
    void *lane;       /* the engine's: where it is in flight */
    uint64_t tag;
};
int bp__io_early_arm(bp_pool *p); /* 1: call end on the way out */
void bp__io_early_start(bp_pool *p, uint64_t pgno, uint64_t gen);
void bp__io_early_insert(bp_pool *p, uint64_t pgno, uint64_t gen);
void bp__io_early_end(bp_pool *p);
ssize_t bp__io_early_take(bp_pool *p, uint64_t pgno, void *buf);
int bp__io_write_page(bp_pool *p, uint64_t pgno, void *buf); /* sets the trailer */
/* The same once the caller has applied the WAL rule (bp__io_wal_before). */
int bp__io_write_page_logged(bp_pool *p, uint64_t pgno, void *buf);

/* ---- window backends --------------------------------------------------------
 * Chosen at open.  init() reserves p->window for p->nslots slots; map()
 * makes an unpinned slot show frame's bytes (with content == 0 the bytes
 * are about to be overwritten, so the copy backend skips its copy-in);
 * unmap() is called when a slot loses its frame (the copy backend writes a
 * dirty private copy back).  fini() releases the window; it must cope with
 * a half-done init(). */
struct bp__backend_ops {
    bp_backend id;
    const char *name;
    int (*init)(bp_pool *p);
    int (*map)(bp_pool *p, uint32_t slot, uint32_t frame, int content);
    int (*unmap)(bp_pool *p, uint32_t slot, uint32_t frame);
    void (*fini)(bp_pool *p);
};
const struct bp__backend_ops *bp__backend_ops_of(bp_backend b);
/* copy a frame to or from memory through the shm fd (copy backend, I/O) */
int bp__shm_pread(bp_pool *p, void *buf, uint32_t frame);
int bp__shm_pwrite(bp_pool *p, const void *buf, uint32_t frame);
extern const struct bp__backend_ops bp__backend_rfp;
extern const struct bp__backend_ops bp__backend_mmap;
extern const struct bp__backend_ops bp__backend_copy;
extern const struct bp__backend_ops bp__backend_linear;
extern const struct bp__backend_ops bp__backend_kmod;
/* kmod: 0 when /dev/bpwin answers with our ABI, else a negative errno and
 * why says so (auto's probe) */
int bp__kmod_probe(char *why, size_t n);
/* kmod guard mode: give slot s the protection of a fix (write: read-write,
 * else read-only); 0 or an error */
int bp__kmod_protect(bp_pool *p, uint32_t slot, int write);
/* Copy backend: a slot's bytes at a into frame (one pwrite); d is the
 * slot's sl_dirty (BP__SL_*), counted as copies_out or copies_home.  0 or
 * -errno; the caller marks the frame dirty and clears sl_dirty. */
int bp__copy_home(bp_pool *p, const void *a, uint32_t frame, unsigned d);

/* ---- the pool ------------------------------------------------------------ */

/* FORKED: the child's copy of a pool open when its process forked
 * (bp_fork.c): every call but bp_close is refused with BP_EFORKED. */
enum bp__state { BP__CLOSED = 0, BP__OPEN, BP__POISONED, BP__FORKED };
/* The error for a call on a pool in state st (not OPEN): BP_EPOISONED
 * (no message: a state), BP_EFORKED or BP_ESTATE. */
int bp__state_error(bp_pool *p, int st);
/* bp_fork.c: the process's open pools, for its fork handler. */
void bp__fork_register(bp_pool *p);
void bp__fork_unregister(bp_pool *p);

#define BP__RING 32 /* pages a scan cycles through (PostgreSQL: 256 KiB) */
/* The frame ring also holds the scan's read-ahead in flight (up to two
 * windows of bp__scan_ahead's step, at most 64 pages each): its length is
 * BP__RING + 2 * step, at most a quarter of the cache (bp_open). */
#define BP__RING_FRAMES_MAX (BP__RING + 2 * 64)

struct bp_pool {
    /* options */
    bp_allocator po_alloc;
    uint32_t po_page_size;
    uint64_t po_cache_bytes;  /* 0 when frames given */
    uint64_t po_cache_frames; /* 0 when bytes given */
    uint64_t po_window_bytes;
    uint64_t po_addr_budget; /* bp_set_address_budget; 0: none of its own */
    uint64_t po_window_slots;
    bp_backend po_backend;
    bp_prefault po_prefault;
    bp_replacement po_replacement;
    int po_mlock;
    int po_guard; /* bp_set_guard / BUFPOOL_GUARD (kmod) */
    char *po_shm_name; /* NULL: memfd */
    unsigned po_shm_mode; /* 0600 (0) or a group mode (bp_set_shm_mode) */
    unsigned po_wait_ms;  /* bp_set_wait_limit: 0 no limit */
    int po_shm_keep;
    uint32_t po_dio_align_override;
    bp_io_engine po_io_engine;
    int po_checksums;
    unsigned po_io_depth;      /* async requests in flight at most */
    int po_io_coop;            /* bp_set_io_coop */
    bp_io_stage po_io_stage;   /* bp_set_io_stage */
    unsigned po_flusher_pct;   /* 0: no background flusher */
    size_t po_wal_offset;
    bp_log_flush_fn po_wal_fn;
    void *po_wal_ctx;

    /* state */
    int state; /* enum bp__state */
    pthread_mutex_t lock;    /* the window lock: slot replacement, wtab */
    pthread_mutex_t io_lock; /* the I/O slot */
    pthread_mutex_t aio_init_lock; /* creating p->aio */
    struct bp__aio *aio;           /* bp_aio.c; NULL until first used */
    uint64_t err_id; /* this handle's number, never reused: bp_errmsg's
                        thread-local message names the pool by it */
    int forked;      /* a child's copy (bp_fork.c): close touches nothing
                        shared, joins no thread, takes no lock */
    bp_pool *fork_next, *fork_prev; /* open pools (bp_fork.c) */

    /* data file */
    int data_fd;
    int direct_io;
    int rdonly; /* opened BP_RDONLY: no page is ever written */
    uint32_t dio_align;
    uint64_t data_dev, data_ino; /* the data file's identity */
    const char *io_path; /* the data file's path: bp_open's argument, for
                            messages during bp_open only */
    uint64_t file_pages;      /* the data file's size at open, pages (the
                                 shared sh_data_pages/sh_disk_pages track
                                 it from then on) */
    const struct bp__io_ops *io;
    void *io_priv;            /* the engine's own state (io_uring ring) */
    char io_reason[96];       /* why this engine */

    /* shm cache */
    int shm_fd;
    int shared;          /* BP_ATTACH: a cache other processes may share */
    int shm_created;     /* this open created (or rebuilt) the file */
    char cache_origin[160]; /* built new, joined, or revived (and why) */
    int shm_init_held;   /* holds the init lock byte (bp_shm.c) */
    int proc_held;       /* holds its process table entry's lock byte */
    struct bp__proc *procs; /* the process table (in p->meta) */
    uint32_t proc_slot;  /* this process's entry in the process table */
    uint32_t proc_tag;   /* proc_slot + 1: what this process writes into
                            the shared locks it holds */
    int futex_private;   /* FUTEX_PRIVATE_FLAG: only this process maps
                            the shm file (a private pool) */
    char *shm_path; /* NULL for memfd */
    size_t shm_path_len;
    struct bp__shm_hdr *meta;
    size_t meta_len;
    struct bp__frame *frames;
    uint64_t *words; /* frame state words (bp_latch.h) */
    uint32_t *ptab;       /* bucket heads (bp_ptab.c) */
    uint64_t ptab_mask;
    uint32_t *dmap;       /* direct page index (bp_ptab.c) */
    uint64_t dmap_n;      /* pages it covers: [0, dmap_n) */
    uint8_t *freq;        /* use counts by page number (bp_freq.c) */
    uint64_t freq_mask;
    uint64_t *admit;      /* the admission ring (bp_freq.c) */
    uint32_t admit_n;
    uint64_t nframes;

    /* window */
    const struct bp__backend_ops *be;
    char be_reason[160];
    uint32_t nslots;
    uint32_t slot_clock;
    uint64_t window_bytes;
    char *window;   /* slot i at window + i * page_size (linear: frames) */
    char *io_slot;  /* one page mapping used to write frames not in a slot */
    char *io_reg_base;   /* memory rings register as buffers (bp_uring_reg.c) */
    unsigned io_stage;   /* BP__STAGE_* bits, set at open (bp_iomem.c) */
    size_t io_thp;       /* huge page size I/O buffers align to, or 0 */
    char *io_land;       /* staged fix misses: one page per lane */
    size_t io_land_len;
    uint64_t io_reg_len; /* 0: none */
    uint32_t io_slot_frame;
    struct bp__slot *slots;
    struct bp__htab wtab; /* pgno -> slot */
    uint32_t *wtab_ent;
    uint64_t vma_limit, vma_budget;
    int prefault_flags_rfp;  /* flags for remap_file_pages */
    int prefault_flags_mmap; /* extra mmap flags */
    int kmod_fd1;            /* kmod: the device's fd + 1; 0: none */
    uint32_t kmod_map_flags; /* kmod: BPWIN_PROT_* | BPWIN_MAP_POPULATE */
    uint64_t kmod_frame0;    /* kmod: the module's number of frame 0 */
    uint8_t *kmod_prot;      /* kmod guard mode: each slot's BPWIN_PROT_* */

    /* scan rings (BP_SCAN): recently scanned frames and slots, reused
     * first by the next scan miss; under p->lock */
    uint32_t ring_frames[BP__RING_FRAMES_MAX];
    uint32_t ring_slots[BP__RING];
    uint32_t ring_frame_pos, ring_slot_pos;
    uint32_t ring_frames_len; /* frames in the ring: set at open */

    /* statistics */
    struct bp__shard *shards; /* BP__SHARDS of them, line aligned: in the
                                 shm file while open (bp_statshm.c) */
    struct bp__shard *shards_aligned; /* the private copy */
    void *shards_raw;

    /* reader slots: BP__READERS blocks (this process's; in the shm file
     * while open, like the shards) */
    struct bp__readers *readers; /* line aligned */
    struct bp__readers *readers_aligned; /* the private copy */
    void *readers_raw;
    int rd_unfenced;      /* UNFENCED allowed: membarrier registered */
    uint32_t rd_sample;   /* BP__HOT_SAMPLE - 1, or 0 (every hit counts) */
    char rd_fence[64];    /* how shared fixes fence, and why */
    uint64_t id; /* unique per open, for threads' caches of their block */
};

static inline void bp__held_add(bp_pool *p, int64_t n)
{
    int sh = bp__tls_shard >= 0 ? bp__tls_shard : bp__shard_assign();

    __atomic_add_fetch(&p->shards[sh].held, n, __ATOMIC_RELAXED);
}

/* The prefault policy fills page tables at map time (POPULATE, and TOUCH
 * which reads the pages afterwards too). */
static inline int bp__prefault_populates(const bp_pool *p)
{
    return p->po_prefault == BP_PREFAULT_POPULATE ||
           p->po_prefault == BP_PREFAULT_TOUCH;
}

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

static inline char *bp__slot_addr(const bp_pool *p, uint32_t slot)
{
    return p->window + (size_t)slot * p->po_page_size;
}

/* ---- park points for the multi-process tests (bp_sys.c, bp_testing.h) ---- */
extern int bp__park_armed;
void bp__park_here(int point);
static inline void bp__park(int point)
{
#if BP_FAULTS
    if (__builtin_expect(__atomic_load_n(&bp__park_armed, __ATOMIC_RELAXED) ==
                             point,
                         0))
        bp__park_here(point);
#else
    (void)point;
#endif
}

/* ---- dead processes (bp_reap.c) ------------------------------------------- */
/* 1 when process-table entry slot has a live owner (always in a private
 * pool, and for our own entry). */
int bp__proc_alive(bp_pool *p, uint32_t slot);
/* Clean entry slot if its process is dead: 1 cleaned, 0 not (alive, free,
 * ours, or being cleaned by another survivor). */
int bp__reap_slot(bp_pool *p, uint32_t slot);
/* Clean every dead process's entry: how many. */
int bp__reap_all(bp_pool *p);
/* Clean entry slot, whose lock byte the caller has just taken (claiming
 * it at attach). */
void bp__reap_claimed(bp_pool *p, uint32_t slot);
/* Mark the shared cache poisoned for every process (message: why). */
void bp__poison(bp_pool *p, const char *why);
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

/* ---- cross-module functions ----------------------------------------------- */

/* errors (bp_error.c): record the calling thread's detail message for
 * pool p (NULL: a call without a pool, bp_create) and return rc.  Only on
 * failure paths: the message is a thread-local buffer, no lock. */
int bp__fail(bp_pool *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, keeping after the new text the detail a callee recorded for
 * p since mark = bp__err_mark() was taken before the call ("write of page
 * 7 failed: log_flush(107) for page 7 failed: ..."); an older message is
 * not appended.  bp__err_mark only reads the thread's failure count. */
unsigned bp__err_mark(void);
int bp__fail_wrap(bp_pool *p, int rc, unsigned mark, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Empty the calling thread's message, now about p (bp_open's start). */
void bp__errmsg_clear(const bp_pool *p);
/* A number for a new handle's err_id (bp_create). */
uint64_t bp__err_new_id(void);

/* BUFPOOL_* environment variables (bp_env.c; bufpool.h lists them). */
enum bp__env {
    BP__ENV_BACKEND,      /* auto rfp mmap copy linear kmod: bp_backend */
    BP__ENV_IO,           /* auto sync uring io_uring */
    BP__ENV_IO_STAGE,     /* auto off on: bp_io_stage order */
    BP__ENV_IO_EARLY,     /* 0 1 */
    BP__ENV_IO_HUGEPAGE,  /* 0 1 */
    BP__ENV_IO_REGBUF,    /* 0 1 */
    BP__ENV_REPLACEMENT,  /* admit clock (bp_replacement's order) */
    BP__ENV_READER_FENCE, /* auto always eager */
    BP__ENV_GUARD,        /* 0 1 */
    BP__ENV_COUNT
};
/* Every variable unset, empty or valid: 0; else -EINVAL through bp__fail
 * naming the variable, its value and the valid values. */
int bp__env_check(bp_pool *p);
/* The variable's value as an index into its valid values, or dflt when
 * it is unset or empty (or invalid: bp__env_check refuses that first). */
int bp__env_get(enum bp__env which, int dflt);
extern const bp_allocator bp__libc_allocator;
void *bp__alloc(bp_pool *p, size_t size);
/* BP__APART-aligned zeroed memory, size + BP__APART bytes allocated; *raw
 * is what bp__free takes back */
void *bp__alloc_lines(bp_pool *p, size_t size, void **raw);
void bp__free(bp_pool *p, void *ptr, size_t size);

/* shm backing file (bp_shm.c) */
int bp__shm_open(bp_pool *p);
/* An OFD lock on byte at of fd (F_RDLCK, F_WRLCK, F_UNLCK): 0 or -errno,
 * -EAGAIN when another open file description holds a conflicting one. */
int bp__ofd_lock(int fd, short type, long at);
void bp__shm_close(bp_pool *p, int unlink_anyway);

/* the data file as the cache knows it, and a left cache trusted again
 * (bp_shm_revive.c) */
void bp__data_will_write(bp_pool *p);
void bp__data_stat_note(bp_pool *p);
void bp__data_stamp(bp_pool *p);
/* The left shared cache mapped at p->meta (its header checked), with no
 * process attached: 0 when it serves again (what could not be proven
 * current dropped), else -ESTALE or -ENOMEM and the caller builds anew. */
int bp__shm_revive(bp_pool *p);

/* VMA budget (bp_vma.c) */
int bp__vma_count(uint64_t *count);
int bp__vma_limit(uint64_t *limit);
int bp__vma_check(bp_pool *p, uint64_t slots);

/* cache tier (bp_cache.c); _locked functions need p->lock */
enum bp__need { BP__NEED_NOTHING = 0, BP__NEED_READ, BP__NEED_ZERO };
/* What a miss may do for its page: read it from the data file, make it
 * new (zeroed, at the end), or only take the frame already caching it
 * (BP_NOWAIT: BP_ENOTCACHED when there is none; nothing read).  AHEAD is
 * read-ahead's reservation of a slot for a page it is about to read
 * (bp__window_map_begin only; the cache treats it as READ). */
enum bp__get { BP__GET_READ = 0, BP__GET_FRESH, BP__GET_CACHED,
               BP__GET_AHEAD, BP__GET_OVERWRITE };
/* Find or make the frame for pgno and return it BUSY, with *need saying
 * how to fill it.  No lock held on entry or exit.  BP__WAIT when the cached
 * frame is latched (*wait and *seen say what to wait on; *wait == NULL:
 * another thread cached the page meanwhile, just retry).  With held (a
 * shared cache's window miss): a cached frame latched shared is latched
 * shared once more instead (*held 0; else 2, BUSY). */
int bp__cache_get(bp_pool *p, uint64_t pgno, enum bp__get how, int scan,
                  uint32_t *frame, enum bp__need *need, uint64_t **wait,
                  uint64_t *seen, int *held);
/* Forget a BUSY frame's page; it stays BUSY (caller releases). */
void bp__cache_discard(bp_pool *p, uint32_t frame);
/* Forget the cached pages at or beyond pages, unwritten (bp_truncate). */
int bp__cache_truncate(bp_pool *p, uint64_t pages);

/* BP_REPLACE_ADMIT's use counts and admission ring (bp_freq.c). */
#define BP__ADMIT_EMPTY UINT64_MAX
void bp__freq_count(bp_pool *p, uint64_t pgno);
unsigned bp__freq_of(const bp_pool *p, uint64_t pgno);
/* The ring's next position in *pos, and the entry there. */
uint64_t bp__admit_take(bp_pool *p, uint32_t *pos);
void bp__admit_put(bp_pool *p, uint32_t pos, uint32_t frame, uint64_t pgno);
void bp__admit_clear(bp_pool *p);
/* Write frame (latched by the caller: shared or BUSY) to the data file. */
int bp__cache_write_frame(bp_pool *p, uint32_t frame);
int bp__cache_flush(bp_pool *p);
uint64_t bp__cache_dirty_count(bp_pool *p);

/* window tier (bp_window.c) */
uint64_t bp__window_slots_asked(const bp_pool *p); /* 0 = automatic */
int bp__window_open(bp_pool *p);
void bp__window_close(bp_pool *p);
/* A window miss in flight: reserved under p->lock by map_begin, finished
 * without it by map_finish. */
struct bp__mapping {
    uint32_t slot, frame; /* frame is BUSY, slot published for the page */
    uint32_t old_frame;   /* BUSY frame the slot showed before, or NONE */
    int old_dirty;        /* copy backend: the old slot's sl_dirty (its
                             bytes go back; BP__SL_DIRTY: frame dirty) */
    enum bp__need need;
    int held;             /* how frame is latched: 2 BUSY, 0 shared (a
                             shared cache's page fixed shared elsewhere:
                             bp__cache_get; need is NOTHING then) */
};
/* No lock held (bp_alloc_page: alloc_lock; read-ahead: the aio prep
 * lock).  Returns 0 with *m reserved, BP__WAIT when a frame the miss needs
 * is latched (*wait set: wait on it, retry; NULL: retry at once), or an
 * error (BP_ENOSLOT: every slot's frame latched).  With BP__GET_AHEAD a
 * cached page is not reserved (BP__WAIT, *wait NULL), BP_ENOSLOT leaves
 * no error message, and window_misses is not counted. */
#define BP__WAIT 3
int bp__window_map_begin(bp_pool *p, uint64_t pgno, enum bp__get how,
                         int scan, struct bp__mapping *m, uint64_t **wait,
                         uint64_t *seen);
/* No lock held: copy the slot's old page back (copy backend), release its
 * old frame, make the slot show m->frame (copy backend: its bytes copied
 * in only when the page is cached, need NOTHING).  On failure the
 * reservation is undone. */
int bp__window_map_slot(bp_pool *p, struct bp__mapping *m);
/* bp__window_map_slot, then read or zero the page.  On failure the
 * reservation is undone. */
int bp__window_map_finish(bp_pool *p, struct bp__mapping *m);
/* Undo a reservation whose old frame is released (map_slot done or
 * failed): the slot evicted, the frame discarded unless it was cached
 * (need NOTHING), its BUSY released.  No lock held. */
void bp__window_map_undo(bp_pool *p, struct bp__mapping *m);
/* Evict slot s whose frame the caller holds BUSY (p->lock held).  With
 * dirty != NULL the copy backend's copy-back is left to the caller (*dirty
 * says whether it is needed). */
int bp__window_evict_busy_locked(bp_pool *p, uint32_t slot, int *dirty);
uint32_t bp__window_slot_of_frame(bp_pool *p, uint32_t frame);
/* Shared cache: empty slot s if it still stands for pgno but its frame
 * holds another page now (takes p->lock). */
void bp__window_drop_stale(bp_pool *p, uint32_t s, uint64_t pgno);
/* Write frame f through its slot or the I/O slot. */
int bp__window_write_frame(bp_pool *p, uint32_t frame, uint64_t pgno);
int bp__window_writeback(bp_pool *p);
/* backends' common window set-up: a MAP_SHARED mapping of the first slots'
 * worth of frames (rfp, mmap, linear), or a private anonymous one (copy) */
int bp__window_reserve(bp_pool *p, int shared);
/* Map the one-page I/O slot (bp__window_write_frame) at frame 0. */
int bp__window_io_slot(bp_pool *p);
void bp__window_release(bp_pool *p);
/* unmap() of backends whose slots keep showing the frame until remapped */
int bp__window_unmap_nothing(bp_pool *p, uint32_t slot, uint32_t frame);
/* error of a failed remap: errno err of call what (the caller's errno) */
int bp__window_remap_fail(bp_pool *p, int err, const char *what,
                          uint32_t slot, uint32_t frame);

/* ---- asynchronous I/O (bp_aio.c) ------------------------------------------ */
#define BP__AIO_MAX_DEPTH 1024u
#define BP__AIO_DEFAULT_DEPTH 32u
/* Start reads of the pages not cached (see bp_prefetch): the number
 * started, or an error. */
int bp__aio_prefetch(bp_pool *p, const uint64_t *pgnos, size_t n, int scan);
/* Write frames[0..n) (each latched shared by the caller, n <= depth) in one
 * batch: res[i] = 0 or the error of frame i.  -ENOTSUP (nothing done)
 * when batches are not available (sync engine): write one at a time. */
int bp__aio_write_batch(bp_pool *p, const uint32_t *frames, int *res,
                        unsigned n);
unsigned bp__aio_registered(const bp_pool *p);
int bp__aio_coop(const bp_pool *p); /* ring set up cooperatively */
/* Is a read-ahead in flight into window slot s (its frame BUSY for it)?
 * For the invariant walker; takes the aio request lock. */
int bp__aio_reading_into(bp_pool *p, uint32_t slot);
int bp__flusher_start(bp_pool *p);
void bp__flusher_stop(bp_pool *p);
void bp__aio_close(bp_pool *p);
/* bp_cache.c: one flusher round over n frames from start */
int bp__cache_flush_ahead(bp_pool *p, uint64_t start, uint64_t n);
/* bp_io.c pieces shared with bp_aio.c */
ssize_t bp__io_xfer_page(bp_pool *p, uint64_t pgno, void *buf, int write);
int bp__io_verify(bp_pool *p, const void *buf, uint64_t pgno);
void bp__io_stamp(bp_pool *p, void *buf, uint64_t pgno);
int bp__io_wal_before(bp_pool *p, uint64_t lsn, uint64_t pgno);
void bp__io_wrote(bp_pool *p, uint64_t pgno);

/* lock-order checker (bp_lockorder.c); no-ops unless BP_DEBUG */
enum bp__rank {
    BP__RANK_FLUSH = 0, /* p->flush_lock: outermost; latches may be waited
                           for while holding it */
    BP__RANK_ALLOC = 1, /* alloc_lock, aio_init_lock, the aio prep lock */
    BP__RANK_MISS = 2, /* the window lock, p->lock */
    BP__RANK_PART = 3,
    BP__RANK_BUSY = 4,
    BP__RANK_IO = 5,
    BP__RANK_AIO = 6 /* the aio request lock: a leaf */
};
void bp__lock(bp_pool *p, pthread_mutex_t *m, enum bp__rank r);
void bp__unlock(pthread_mutex_t *m, enum bp__rank r);

/* Locks in the shm file (bp_shlock.c): 32-bit futex words that every
 * attached process takes (page-table partitions, allocation, flush).  The
 * word holds the holder's process slot + 1 (BP__SHL_WAITERS set while
 * someone sleeps); a waiter sleeps with a timeout and looks again, so no
 * wait is unbounded by construction. */
#define BP__SHL_WAITERS 0x80000000u
void bp__shlock(bp_pool *p, uint32_t *w, enum bp__rank r);
/* The same, giving up after limit_ms (0: never) of a live holder: 0 or
 * -ETIMEDOUT (message names the holder). */
int bp__shlock_for(bp_pool *p, uint32_t *w, enum bp__rank r,
                   unsigned limit_ms);
int bp__shtrylock(bp_pool *p, uint32_t *w, enum bp__rank r); /* 1: taken */
void bp__shunlock(bp_pool *p, uint32_t *w, enum bp__rank r);
void bp__rank_note(enum bp__rank r, int acquire);

/* backend choice (bp_backend_auto.c) */
int bp__backend_choose(bp_pool *p);
void bp__window_touch(const bp_pool *p, const void *a, size_t len);

#endif
