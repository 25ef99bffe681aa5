/*
 * bp_reap.c - what the survivors of a shared cache do when a process dies
 * (kill -9 at any instruction).
 *
 * Owns: the liveness test of a process-table entry, the clean-up of a
 * dead process's entry (its latches, its shared locks, its counts), the
 * cache's poisoning, and bp_reap().
 *
 * Liveness is the entry's OFD lock byte (bp_shared.h): the kernel drops a
 * process's OFD locks when its files are released at exit, which is after
 * io_uring has cancelled or waited out every request of the process
 * (io_uring_files_cancel, early in do_exit) and after any synchronous
 * write it was in returned.  So once an entry's lock is free, no I/O of
 * its process is in flight: a survivor may reuse what it held at once.
 *
 * Clean-up happens under the entry's lock byte, taken by the survivor (or
 * by a new process claiming the entry), so it runs once.  In order:
 *
 *   1. pr_anon (shared latches that no word names) is not 0: the process
 *      may hold shared latches that cannot be found; the cache is poisoned
 *      (every process gets BP_EPOISONED and reopens; the last to close
 *      removes the file, the next attach builds it again from the data
 *      file, where every flushed page is).
 *   2. Shared locks whose word holds its tag: the allocation and flush
 *      locks are taken over and released (what they guard is consistent
 *      at every instruction: a page count that is either bumped or not,
 *      WB bits that say "written, not synced" only after needs_sync is
 *      set); a page-table partition's chains are rebuilt from the frames'
 *      page numbers before its lock is released.
 *   3. Frames latched exclusive or BUSY with its tag (OWNER in the word):
 *      taken over BUSY; an exclusive one's page may be half changed, so it
 *      leaves the cache, never written (the data file has its last flushed
 *      content); a BUSY one keeps its page when DIRTY (a write-back, or a
 *      new page zeroed: the frame is whole) and drops it otherwise (a read
 *      was filling it).
 *
 * A live process is never robbed: a stopped one (SIGSTOP) keeps what it
 * holds, and waiters get -ETIMEDOUT after the pool's wait limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shm/shm_impl.h"
#include "platform/bp_sys.h"

int bp__proc_alive(bp_pool *p, uint32_t slot)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                       .l_start = (off_t)(BP__LOCKB_PROC + slot), .l_len = 1};

    if (!p->shared || slot == p->proc_slot || slot >= BP__PROCS)
        return 1;
    if (fcntl(p->shm_fd, F_OFD_GETLK, &fl) != 0)
        return 1; /* cannot tell: never rob a process that may live */
    return fl.l_type != F_UNLCK;
}

void bp__poison(bp_pool *p, const char *why)
{
    __atomic_store_n(&p->meta->sh_poisoned, 1, __ATOMIC_RELEASE);
    BP__STORE(p->state, BP__POISONED);
    bp__fail(p, BP_EPOISONED, "shared cache poisoned: %s; every process "
             "must close it and open it again (flushed pages are safe in "
             "the data file)", why);
}

/* Take over shared lock w from the dead process tagged tag: 1 taken (the
 * caller releases it with bp__shunlock), 0 not its. */
static int bp__reap_lock(bp_pool *p, uint32_t *w, unsigned tag)
{
    uint32_t v = __atomic_load_n(w, __ATOMIC_ACQUIRE);

    while ((v & ~BP__SHL_WAITERS) == tag)
        if (__atomic_compare_exchange_n(w, &v,
                                        p->proc_tag | (v & BP__SHL_WAITERS),
                                        0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_ACQUIRE))
            return 1;
    return 0;
}

/* Frame f latched exclusive or BUSY by the dead process tagged tag. */
static void bp__reap_frame(bp_pool *p, uint32_t f, unsigned tag)
{
    uint64_t *w = bp__word(p, f), v = bp_w_load(w), n;
    int excl;

    do {
        if (bp_w_latch(v) < BP_LATCH_EXCL || bp_w_owner(v) != tag)
            return; /* taken over by another survivor meanwhile */
        excl = bp_w_latch(v) == BP_LATCH_EXCL;
        n = bp_w_take(v, BP_LATCH_BUSY, p->proc_tag);
    } while (!bp_w_cas(w, &v, n));
    if (excl || !(v & BP_W_DIRTY)) {
        __atomic_and_fetch(w, ~(BP_W_DIRTY | BP_W_WB), __ATOMIC_ACQ_REL);
        bp__ptab_discard(p, f);
    }
    BP_STAT(p, peer_frames);
    bp__latch_release(w, 2, 0, 0);
}

/* Clean entry s of a dead process (its lock byte held by the caller:
 * bp__reap_slot, or a process claiming the entry at attach). */
void bp__reap_claimed(bp_pool *p, uint32_t s)
{
    struct bp__shm_hdr *h = p->meta;
    struct bp__proc *pr = &p->procs[s];
    unsigned tag = s + 1;
    uint32_t pid = BP__LOAD(pr->pr_pid);
    int64_t anon = 0;

    if (pid == 0)
        return;
    for (int i = 0; i < BP__ANON_SHARDS; i++)
        anon += __atomic_load_n(&pr->pr_anon[i].pa_n, __ATOMIC_ACQUIRE);
    if (anon != 0) {
        char why[96];

        snprintf(why, sizeof why, "process %u died holding %" PRId64
                 " shared latches", pid, anon);
        bp__poison(p, why);
    }
    if (bp__reap_lock(p, &h->sh_alloc_lock, tag))
        bp__shunlock(p, &h->sh_alloc_lock, BP__RANK_ALLOC);
    if (bp__reap_lock(p, &h->sh_flush_lock, tag))
        bp__shunlock(p, &h->sh_flush_lock, BP__RANK_FLUSH);
    for (unsigned i = 0; i < BP__PARTS; i++) {
        if (!bp__reap_lock(p, &h->sh_parts[i].sp_lock, tag))
            continue;
        bp__ptab_rebuild_locked(p, i);
        bp__shunlock(p, &h->sh_parts[i].sp_lock, BP__RANK_PART);
    }
    for (uint64_t f = 0; f < p->nframes; f++) {
        uint64_t v = bp_w_load(bp__word(p, f));

        if (bp_w_latch(v) >= BP_LATCH_EXCL && bp_w_owner(v) == tag)
            bp__reap_frame(p, (uint32_t)f, tag);
    }
    for (int i = 0; i < BP__ANON_SHARDS; i++)
        __atomic_store_n(&pr->pr_anon[i].pa_n, 0, __ATOMIC_RELEASE);
    bp__statshm_retire(p, s); /* its counters go to the cache's totals */
    BP__STORE(pr->pr_pid, 0);
    BP_STAT(p, peer_reaps);
}

int bp__reap_slot(bp_pool *p, uint32_t s)
{
    if (!p->shared || s == p->proc_slot || s >= BP__PROCS ||
        BP__LOAD(p->procs[s].pr_pid) == 0)
        return 0;
    /* the entry's lock: free only when its process is dead, and then
     * ours while we clean (no other survivor, no new process, takes it) */
    if (bp__ofd_lock(p->shm_fd, F_WRLCK, BP__LOCKB_PROC + s) != 0)
        return 0;
    bp__reap_claimed(p, s);
    (void)bp__ofd_lock(p->shm_fd, F_UNLCK, BP__LOCKB_PROC + s);
    return 1;
}

int bp__reap_all(bp_pool *p)
{
    int n = 0;

    for (uint32_t s = 0; p->shared && s < BP__PROCS; s++)
        n += bp__reap_slot(p, s);
    return n;
}

int bp_reap(bp_pool *p, long pid)
{
    int st, n = 0;

    if (!p || pid < 0)
        return -EINVAL;
    if ((st = BP__LOAD(p->state)) != BP__OPEN && st != BP__POISONED)
        return bp__state_error(p, st);
    if (!p->shared)
        return 0;
    for (uint32_t s = 0; s < BP__PROCS; s++) {
        uint32_t who = BP__LOAD(p->procs[s].pr_pid);

        if (who == 0 || s == p->proc_slot || (pid && who != (uint32_t)pid))
            continue;
        if (pid && bp__proc_alive(p, s))
            return bp__fail(p, -EBUSY, "process %ld is alive: nothing of "
                            "it is taken", pid);
        n += bp__reap_slot(p, s);
    }
    return n;
}
