/*
 * pool_impl.h - what the pool layer's files share among themselves and no
 * layer above uses: the cache tier's frame for a page and its single
 * write, the asynchronous engine's batched writes and start, and the
 * flusher's round.  Only the files of pool/ include it
 * (tests/check_layers.sh refuses it elsewhere).
 */
#ifndef BP_POOL_IMPL_H
#define BP_POOL_IMPL_H

#include "pool/pool.h"

/* bp_cache.c */
/* Find or make the frame for pgno and return it BUSY, with *need saying
 * how to fill it.  No lock held on entry or exit.  BP__WAIT when the cached
 * frame is latched (*wait and *seen say what to wait on; *wait == NULL:
 * another thread cached the page meanwhile, just retry).  With held (a
 * shared cache's window miss): a cached frame latched shared is latched
 * shared once more instead (*held 0; else 2, BUSY). */
int bp__cache_get(bp_pool *p, uint64_t pgno, enum bp__get how, int scan,
                  uint32_t *frame, enum bp__need *need, uint64_t **wait,
                  uint64_t *seen, int *held);

/* Write frame (latched by the caller: shared or BUSY) to the data file. */
int bp__cache_write_frame(bp_pool *p, uint32_t frame);

/* bp_aio.c */
/* Write frames[0..n) (each latched shared by the caller, n <= depth) in one
 * batch: res[i] = 0 or the error of frame i.  -ENOTSUP (nothing done)
 * when batches are not available (sync engine): write one at a time. */
int bp__aio_write_batch(bp_pool *p, const uint32_t *frames, int *res,
                        unsigned n);
/* Create the engine's state now (it is made at first use otherwise): 0
 * or an error. */
int bp__aio_start(bp_pool *p);

/* bp_flush.c: one flusher round over n frames from start */
int bp__flush_ahead(bp_pool *p, uint64_t start, uint64_t n);

#endif
