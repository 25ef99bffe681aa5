/*
 * shm_impl.h - what the shm layer's files share among themselves and no
 * layer above uses: the counters' way back out of the file, the page
 * table's removal and rebuild, the reaper's entry points (the latches and
 * locks reach them through the handle's callbacks), revival, the plain
 * wait for a lock, and clearing the admission ring.  Only the files of
 * shm/ include it (tests/check_layers.sh refuses it elsewhere).
 */
#ifndef BP_SHM_IMPL_H
#define BP_SHM_IMPL_H

#include "shm/shm.h"

/* bp_statshm.c: before the file goes, the counters go back into private
 * memory (detach: a shared cache's process also retires them).  Retire
 * folds a slot's counters into the cache's retired totals and clears them
 * (its owner or its reaper only). */
void bp__statshm_detach(bp_pool *p);
void bp__statshm_retire(bp_pool *p, uint32_t slot);

/* bp_ptab.c */
void bp__ptab_remove_locked(bp_pool *p, uint64_t pgno, uint32_t frame);
/* Relink partition part's chains from the frames' fr_pgno (its lock
 * taken over from a dead process, which may have been halfway through a
 * change): bp_reap.c. */
void bp__ptab_rebuild_locked(bp_pool *p, unsigned part);

/* bp_reap.c.  Clean entry slot if its process is dead: 1 cleaned, 0 not
 * (alive, free, ours, or being cleaned by another survivor). */
int bp__reap_slot(bp_pool *p, uint32_t slot);
/* Clean every dead process's entry: how many. */
int bp__reap_all(bp_pool *p);
/* Clean entry slot, whose lock byte the caller has just taken (claiming
 * it at attach). */
void bp__reap_claimed(bp_pool *p, uint32_t slot);
/* Mark the shared cache poisoned for every process (message: why). */
void bp__poison(bp_pool *p, const char *why);

/* bp_shm_revive.c: stamp the data file; and the left shared cache mapped
 * at p->meta (its header checked), with no process attached: 0 when it
 * serves again (what could not be proven current dropped), else -ESTALE
 * or -ENOMEM and the caller builds anew. */
void bp__data_stamp(bp_pool *p);
int bp__shm_revive(bp_pool *p);

/* bp_shlock.c: take *w, however long a live holder keeps it. */
void bp__shlock(bp_pool *p, uint32_t *w, enum bp__rank r);

/* bp_freq.c: empty the admission ring (a cache built new). */
void bp__admit_clear(bp_pool *p);

#endif
