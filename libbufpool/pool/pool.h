/*
 * pool.h - the pool layer: the cache tier's replacement and misses
 * (bp_cache.c), asynchronous reads
 * and batched writes (bp_aio.c), and write-back with the flusher
 * (bp_flush.c).  It calls down into the window, shm and I/O layers; the
 * api layer above (bp_pool.c) runs the fix protocol over it.  What only
 * the layer's own files use is in pool_impl.h.
 */
#ifndef BP_POOL_H
#define BP_POOL_H

#include "window/window.h"

/* cache tier (bp_cache.c) */
/* No lock held (bp_alloc_page: alloc_lock; read-ahead: the aio prep
 * lock).  Returns 0 with *m reserved, BP__WAIT when a frame the miss needs
 * is latched (*wait set: wait on it, retry; NULL: retry at once), or an
 * error (BP_ENOSLOT: every slot's frame latched).  With BP__GET_AHEAD a
 * cached page is not reserved (BP__WAIT, *wait NULL), BP_ENOSLOT leaves
 * no error message, and window_misses is not counted. */
int bp__cache_map_begin(bp_pool *p, uint64_t pgno, enum bp__get how,
                        int scan, struct bp__mapping *m, uint64_t **wait,
                        uint64_t *seen);

/* Forget the cached pages at or beyond pages, unwritten (bp_truncate). */
int bp__cache_truncate(bp_pool *p, uint64_t pages);

int bp__flush_all(bp_pool *p); /* bp_flush.c */

/* ---- asynchronous I/O (bp_aio.c) ------------------------------------------ */
#define BP__AIO_MAX_DEPTH 1024u
#define BP__AIO_DEFAULT_DEPTH 32u
/* Start reads of the pages not cached (see bp_prefetch): the number
 * started, or an error. */
int bp__aio_prefetch(bp_pool *p, const uint64_t *pgnos, size_t n, int scan);
/* Is a read-ahead in flight into window slot s (its frame BUSY for it)?
 * For the invariant walker; takes the aio request lock. */
int bp__aio_reading_into(bp_pool *p, uint32_t slot);
int bp__flusher_start(bp_pool *p);
void bp__flusher_stop(bp_pool *p);
void bp__aio_close(bp_pool *p);

#endif
