/*
 * bp_readers.c - scalable shared fixes: per-thread reader slots.
 *
 * A shared latch counted in the frame's state word makes every reader
 * write the frame's cache line, so two cores reading the same hot pages
 * bounce that line between them and read-only hits do not scale.  Instead a
 * shared fix normally publishes the frame index in one of BP__HZ slots of
 * a block owned by the calling thread (its own cache line), then checks the
 * word holds no exclusive or BUSY latch.  A thread that wants the frame
 * exclusively, or BUSY to remap or evict it, first sets that latch in the
 * word and then scans every block for the frame (Dekker: both sides store
 * then load, with seq_cst, so at least one sees the other; the reader backs
 * off, the writer waits or gives up).
 *
 * Owns: p->readers[] (BP__READERS blocks of BP__HZ slots) and the thread's
 * cache of which block it owns in which pool.  A thread claims a block at
 * its first shared fix in a pool (CAS on the owner tid).  Blocks of threads
 * that have exited are reclaimed lazily when no block is free.  A thread
 * that finds no block, or holds BP__HZ shared fixes already, falls back to
 * the counted shared latch in the word, which stays fully supported.
 *
 * Invariant: a slot holds a frame index only while its thread holds a
 * shared fix on that frame obtained through the slot.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bp_internal.h"

#define BP__TLS_POOLS 4

static _Thread_local struct {
    const bp_pool *pool;
    uint64_t id;
    struct bp__readers *blk;
} bp__tls_rd[BP__TLS_POOLS];
static _Thread_local uint32_t bp__tls_tid;
BP__TLS struct bp__readers_last bp__tls_rd_last;
static uint64_t bp__pool_ids;

uint64_t bp__readers_new_id(void)
{
    return __atomic_add_fetch(&bp__pool_ids, 1, __ATOMIC_RELAXED);
}

static uint32_t bp__tid(void)
{
    if (!bp__tls_tid)
        bp__tls_tid = (uint32_t)syscall(SYS_gettid);
    return bp__tls_tid;
}

static int bp__tid_alive(uint32_t tid)
{
    return syscall(SYS_tgkill, getpid(), (pid_t)tid, 0) == 0 || errno != ESRCH;
}

static struct bp__readers *bp__claim(bp_pool *p)
{
    uint32_t me = bp__tid();

    for (int i = 0; i < BP__READERS; i++) /* ours already (cache evicted) */
        if (__atomic_load_n(&p->readers[i].rd_owner, __ATOMIC_ACQUIRE) == me)
            return &p->readers[i];
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < BP__READERS; i++) {
            struct bp__readers *b = &p->readers[i];
            uint32_t owner = __atomic_load_n(&b->rd_owner, __ATOMIC_ACQUIRE);

            if (owner != 0) {
                int idle = 1;

                if (pass == 0 || bp__tid_alive(owner))
                    continue;
                for (int k = 0; k < BP__HZ; k++)
                    idle &= BP__LOAD(b->rd_hz[k]) == BP__NONE;
                if (!idle) /* a dead thread's leaked fixes: keep them */
                    continue;
            }
            if (__atomic_compare_exchange_n(&b->rd_owner, &owner, me, 0,
                                            __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                return b;
        }
    }
    return NULL;
}

/* This thread's block in pool p, or NULL (fall back to counting). */
struct bp__readers *bp__readers_mine(bp_pool *p)
{
    int free_i = -1;

    for (int i = 0; i < BP__TLS_POOLS; i++) {
        if (bp__tls_rd[i].pool == p && bp__tls_rd[i].id == p->id) {
            bp__tls_rd_last = (struct bp__readers_last){p, p->id,
                                                        bp__tls_rd[i].blk};
            return bp__tls_rd[i].blk;
        }
        if (free_i < 0 && bp__tls_rd[i].pool == NULL)
            free_i = i;
    }
    if (free_i < 0)
        free_i = (int)(p->id % BP__TLS_POOLS); /* forget an older pool */
    bp__tls_rd[free_i].pool = p;
    bp__tls_rd[free_i].id = p->id;
    bp__tls_rd[free_i].blk = bp__claim(p);
    bp__tls_rd_last = (struct bp__readers_last){p, p->id,
                                                bp__tls_rd[free_i].blk};
    return bp__tls_rd[free_i].blk;
}

/* Does any reader slot hold frame f? */
int bp__readers_hold(bp_pool *p, uint32_t f)
{
    for (int i = 0; i < BP__READERS; i++) {
        struct bp__readers *b = &p->readers[i];

        if (!__atomic_load_n(&b->rd_owner, __ATOMIC_SEQ_CST))
            continue;
        for (int k = 0; k < BP__HZ; k++)
            if (__atomic_load_n(&b->rd_hz[k], __ATOMIC_SEQ_CST) == f)
                return 1;
    }
    return 0;
}

/* After taking f exclusive: wait until no reader slot holds it (readers
 * that see the exclusive latch back off; the others unfix in time).  Spin,
 * then yield, then sleep with a backoff capped at 1 ms, so a reader holding
 * its fix for long does not cost the waiter a CPU. */
void bp__readers_drain(bp_pool *p, uint32_t f)
{
    long sleep_ns = 1000;

    for (unsigned spins = 0; bp__readers_hold(p, f); spins++) {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        } else if (spins < 96) {
            if (spins == 64)
                BP_STAT(p, latch_waits);
            sched_yield();
        } else {
            struct timespec ts = {0, sleep_ns};

            nanosleep(&ts, NULL);
            if (sleep_ns < 1000000)
                sleep_ns *= 2;
        }
    }
}
