/*
 * platform.h - the platform layer: what every layer above uses.
 *
 * The handle (bp_handle.h), per-thread counter shards and BP_STAT
 * (bp_counters.c), error details and the allocator hook (bp_error.c), the
 * BUFPOOL_* environment (bp_env.c), mutex ranks and the lock-order checker
 * (bp_lockorder.c), the pool states and the fork handler (bp_fork.c), park
 * points for the multi-process tests (bp_sys.c).  System calls go through
 * bp_sys.h.  Nothing here knows the window, the shm file or the I/O
 * engines.
 */
#ifndef BP_PLATFORM_H
#define BP_PLATFORM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "bufpool.h"
#include "platform/bp_handle.h"

#ifndef BP_DEBUG
#define BP_DEBUG 0
#endif

#define BP__NONE UINT32_MAX      /* no frame / no slot */
#define BP__NOPAGE UINT64_MAX    /* frame or slot holds no page */

/* Per-thread data that one thread writes and others do not: this far
 * apart, not just a cache line, because x86's L2 fetches lines in 128-byte
 * pairs (the adjacent-line prefetcher), so two threads writing neighbouring
 * lines still bounce them. */
#define BP__APART 128
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

/* A shared cache's fix count of this process: n is +1 or -1 (an atomic
 * add on the thread's own shard: a fix and its unfix may be in different
 * threads sharing one). */
static inline void bp__held_add(bp_pool *p, int64_t n)
{
    int sh = bp__tls_shard >= 0 ? bp__tls_shard : bp__shard_assign();

    __atomic_add_fetch(&p->shards[sh].held, n, __ATOMIC_RELAXED);
}

/* Entries of an open-addressing table for items: a power of two, at least
 * twice items and at least 16 (the window's table, the page table). */
static inline uint64_t bp__htab_entries_for(uint64_t items)
{
    uint64_t n = 16;

    while (n < items * 2)
        n <<= 1;
    return n;
}

/* A 64-bit mixer: neighbouring keys spread out (page table, use counts). */
static inline uint64_t bp__hash(uint64_t key)
{
    key ^= key >> 30; /* splitmix64 finalizer: neighbours spread out */
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebull;
    key ^= key >> 31;
    return key;
}

/* FORKED: the child's copy of a pool open when its process forked
 * (bp_fork.c): every call but bp_close is refused with BP_EFORKED. */
enum bp__state { BP__CLOSED = 0, BP__OPEN, BP__POISONED, BP__FORKED };
/* The error for a call on a pool in state st (not OPEN): BP_EPOISONED
 * (no message: a state), BP_EFORKED or BP_ESTATE. */
int bp__state_error(bp_pool *p, int st);
/* bp_fork.c: the process's open pools, for its fork handler. */
void bp__fork_register(bp_pool *p);
void bp__fork_unregister(bp_pool *p);

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
/* Note rank r taken (acquire 1) or let go (0): what bp__lock and
 * bp__unlock do around a mutex, for the locks and latch sleeps they do not
 * take (the shm file's locks, latch waits). */
void bp__rank_note(enum bp__rank r, int acquire);

#endif
