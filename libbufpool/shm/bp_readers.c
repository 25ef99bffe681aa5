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
 *
 * Asymmetric fences.  The reader's store-load fence (an xchg) is about
 * 40% of a window hit.  For frames that are read far more often than they
 * are taken, the word carries UNFENCED and the reader skips the fence: it
 * stores its slot, loads the word, and if the word says UNFENCED it is done.
 * The other side pays instead: whoever takes such a word exclusive or BUSY
 * clears UNFENCED in the same CAS (bp_w_take) and, before it scans the
 * slots or releases the latch, runs membarrier(PRIVATE_EXPEDITED), which
 * makes every thread of the process that is running execute a full barrier
 * (bp__readers_barrier).  Why that is enough, for a reader R that loaded
 * the word with UNFENCED set and no exclusive/BUSY latch, and the first
 * taker T after that value (T saw UNFENCED, since only a take clears it):
 *  - if R's barrier point falls after R's slot store, the store is visible
 *    to T when membarrier returns, so T's scan finds R;
 *  - if it falls before the store, R's load of the word comes after the
 *    barrier and so sees T's take, which contradicts what R loaded.
 * Later takers see UNFENCED clear and take no barrier: they acquire the
 * word after T released it, so T's barrier is behind them too.  A reader
 * that loads a word without UNFENCED fences (xchg) and loads again: the
 * plain Dekker protocol above.
 * UNFENCED is set only by a reader, by CAS on a word with no exclusive or
 * BUSY latch, after the frame has collected 4 sampled fenced hits (one in
 * BP__HOT_SAMPLE of a thread's fenced shared fixes counts, in the word's
 * HOT bits) with no take in between; every take resets HOT.  So each
 * membarrier follows some hundreds of fences saved, and a page that is
 * written often stays fenced.  Without membarrier (refused, or
 * BUFPOOL_READER_FENCE=always) UNFENCED is never set.  The barrier covers
 * this process only, which is enough: reader slots are per process.
 * BUFPOOL_READER_FENCE=eager makes every fenced hit count (tests reach
 * UNFENCED frames and their takes quickly).
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm_impl.h"
#include "platform/bp_sys.h"

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

static void bp__readers_remember(bp_pool *p, struct bp__readers *blk)
{
    bp__tls_rd_last = (struct bp__readers_last){
        p->id, blk, blk ? (uint32_t)(blk - p->readers) << BP__H_BLK_SHIFT : 0};
}

/* This thread's block in pool p, or NULL (fall back to counting). */
struct bp__readers *bp__readers_mine(bp_pool *p)
{
    int free_i = -1;

    if (p->shared) /* other processes cannot see our slots: the word */
        return NULL;
    for (int i = 0; i < BP__TLS_POOLS; i++) {
        if (bp__tls_rd[i].pool == p && bp__tls_rd[i].id == p->id) {
            bp__readers_remember(p, bp__tls_rd[i].blk);
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
    bp__readers_remember(p, bp__tls_rd[free_i].blk);
    return bp__tls_rd[free_i].blk;
}

/* At open: may shared fixes go unfenced?  Says which in p->rd_fence. */
void bp__readers_open(bp_pool *p)
{
    /* BUFPOOL_READER_FENCE: 0 auto, 1 always, 2 eager (bp_env.c) */
    int env = bp__env_get(BP__ENV_READER_FENCE, 0);

    p->rd_unfenced = 0;
    p->rd_sample = env == 2 ? 0 : BP__HOT_SAMPLE - 1;
    if (p->shared)
        snprintf(p->rd_fence, sizeof p->rd_fence,
                 "counted in the frame word (shared cache)");
    else if (env == 1)
        snprintf(p->rd_fence, sizeof p->rd_fence,
                 "fenced (BUFPOOL_READER_FENCE=always)");
    else if (bp__sys_membarrier_register() != 0)
        snprintf(p->rd_fence, sizeof p->rd_fence,
                 "fenced (membarrier refused: %s)", strerror(errno));
    else {
        p->rd_unfenced = 1;
        snprintf(p->rd_fence, sizeof p->rd_fence,
                 "asymmetric (membarrier on takes of hot frames%s)",
                 p->rd_sample ? "" : ", eager");
    }
}

/* The heavy side: after clearing UNFENCED from a word, before looking at
 * the reader slots.  Registered at open, so membarrier(2) cannot fail
 * (EINVAL and EPERM are its only errors); should it all the same, no frame
 * becomes UNFENCED again and we wait out the store buffers (microseconds)
 * a thousand times over. */
void bp__readers_barrier(bp_pool *p)
{
    BP_STAT(p, reader_barriers);
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return;
    __atomic_store_n(&p->rd_unfenced, 0, __ATOMIC_RELAXED);
    nanosleep(&(struct timespec){0, 1000000}, NULL);
}

/* Does any reader slot hold frame f? */
int bp__readers_hold(bp_pool *p, uint32_t f)
{
    if (p->shared) /* no reader slots: every shared fix is in the word */
        return 0;
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
