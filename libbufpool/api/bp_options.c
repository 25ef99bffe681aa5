/*
 * bp_options.c - pool handle creation and the options set before open.
 *
 * Owns: bp_create() and every bp_set_*().  Invariant: options change only
 * while the pool is closed (BP__CLOSED); each setter validates what it can
 * on its own (ranges, powers of two) and bp_open() validates combinations.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "platform/bp_testing.h"

#define BP__DEFAULT_PAGE 8192u
#define BP__DEFAULT_CACHE (64ull << 20)
#define BP__WAIT_MS_DEFAULT 30000u /* bp_set_wait_limit */

int bp_create(bp_pool **out, const bp_allocator *alloc)
{
    bp_pool *p;
    int rc;

    if (!out)
        return bp__fail(NULL, -EINVAL, "bp_create: out is NULL");
    *out = NULL;
    if (alloc && (!alloc->alloc || !alloc->free))
        return bp__fail(NULL, -EINVAL, "bp_create: the allocator hook has "
                        "no %s function", alloc->alloc ? "free" : "alloc");
    if (!alloc)
        alloc = &bp__libc_allocator;
    p = alloc->alloc(alloc->ctx, sizeof *p);
    if (!p)
        return bp__fail(NULL, -ENOMEM, "bp_create: the allocator gave no "
                        "memory for the pool handle (%zu bytes)", sizeof *p);
    memset(p, 0, sizeof *p);
    p->err_id = bp__err_new_id();
    p->po_alloc = *alloc;
    p->po_page_size = BP__DEFAULT_PAGE;
    p->po_cache_bytes = BP__DEFAULT_CACHE;
    p->po_backend = BP_BACKEND_AUTO;
    p->po_prefault = BP_PREFAULT_POPULATE;
    p->po_io_depth = BP__AIO_DEFAULT_DEPTH;
    p->po_wait_ms = BP__WAIT_MS_DEFAULT;
    p->data_fd = -1;
    p->shm_fd = -1;
    pthread_mutexattr_t ma;

    /* the window lock guards table work only: spin a bit before
     * sleeping, a context switch costs more than the wait (the shared
     * locks are in the shm file: bp_shlock.c) */
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    rc = pthread_mutex_init(&p->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    if (rc != 0 ||
        pthread_mutex_init(&p->io_lock, NULL) != 0 ||
        pthread_mutex_init(&p->aio_init_lock, NULL) != 0) {
        alloc->free(alloc->ctx, p, sizeof *p);
        return bp__fail(NULL, -ENOMEM, "bp_create: cannot initialise the "
                        "pool's mutexes");
    }
    *out = p;
    return 0;
}

static int bp__closed(bp_pool *p)
{
    if (!p)
        return -EINVAL;
    if (p->state != BP__CLOSED)
        return bp__fail(p, BP_ESTATE, "options can only be set before bp_open");
    return 0;
}

int bp_set_page_size(bp_pool *p, size_t bytes)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if (bytes < 4096 || bytes > 65536 || (bytes & (bytes - 1)))
        return bp__fail(p, BP_EPAGESIZE,
                        "page size %zu: use a power of two from 4096 to 65536",
                        bytes);
    p->po_page_size = (uint32_t)bytes;
    return 0;
}

int bp_set_cache_size(bp_pool *p, uint64_t bytes)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if (bytes == 0)
        return bp__fail(p, -EINVAL, "cache size 0");
    p->po_cache_bytes = bytes;
    p->po_cache_frames = 0;
    return 0;
}

int bp_set_cache_frames(bp_pool *p, uint64_t frames)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if (frames == 0 || frames >= BP__NONE)
        return bp__fail(p, -EINVAL, "cache of %llu frames: use 1 to 2^32-2",
                        (unsigned long long)frames);
    p->po_cache_frames = frames;
    p->po_cache_bytes = 0;
    return 0;
}

int bp_set_window_size(bp_pool *p, uint64_t bytes)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    p->po_window_bytes = bytes;
    p->po_window_slots = 0;
    return 0;
}

int bp_set_address_budget(bp_pool *p, uint64_t bytes)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    p->po_addr_budget = bytes;
    return 0;
}

int bp_set_window_slots(bp_pool *p, uint64_t slots)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if (slots == 0)
        return bp__fail(p, BP_EWINDOW, "a window needs at least one slot");
    p->po_window_slots = slots;
    p->po_window_bytes = 0;
    return 0;
}

int bp_set_backend(bp_pool *p, bp_backend b)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if ((unsigned)b > BP_BACKEND_KMOD)
        return bp__fail(p, -EINVAL, "unknown backend %d", (int)b);
    p->po_backend = b;
    return 0;
}

int bp_set_prefault(bp_pool *p, bp_prefault pf)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if ((unsigned)pf > BP_PREFAULT_TOUCH)
        return bp__fail(p, -EINVAL, "unknown prefault policy %d", (int)pf);
    p->po_prefault = pf;
    return 0;
}

int bp_set_replacement(bp_pool *p, bp_replacement r)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if ((unsigned)r > BP_REPLACE_CLOCK)
        return bp__fail(p, -EINVAL, "unknown replacement policy %d", (int)r);
    p->po_replacement = r;
    return 0;
}

int bp_set_mlock(bp_pool *p, int on)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    p->po_mlock = !!on;
    return 0;
}

int bp_set_guard(bp_pool *p, int on)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    p->po_guard = !!on;
    return 0;
}

int bp_set_wait_limit(bp_pool *p, unsigned ms)
{
    int rc;

    if (!p)
        return -EINVAL;
    if ((rc = bp__closed(p)) != 0)
        return rc;
    if (ms > 86400000u)
        return bp__fail(p, -EINVAL, "wait limit %u ms is above a day", ms);
    p->po_wait_ms = ms;
    return 0;
}

int bp_set_shm_mode(bp_pool *p, unsigned mode)
{
    int rc;

    if (!p)
        return -EINVAL;
    if ((rc = bp__closed(p)) != 0)
        return rc;
    if (mode != 0600 && mode != 0640 && mode != 0660)
        return bp__fail(p, -EINVAL, "shm mode %o: use 0600, 0640 or 0660",
                        mode);
    p->po_shm_mode = mode;
    return 0;
}

int bp_set_shm(bp_pool *p, const char *name, int keep)
{
    int rc = bp__closed(p);
    char *copy = NULL;

    if (rc)
        return rc;
    if (name) {
        size_t n = strlen(name);

        if (n == 0 || n > 200 || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0)
            return bp__fail(p, -EINVAL, "bad shm name '%s'", name);
        copy = bp__alloc(p, n + 1);
        if (!copy)
            return bp__fail(p, -ENOMEM, "no memory for the shm name");
        memcpy(copy, name, n + 1);
    }
    if (p->po_shm_name)
        bp__free(p, p->po_shm_name, strlen(p->po_shm_name) + 1);
    p->po_shm_name = copy;
    p->po_shm_keep = !!keep;
    return 0;
}

int bp_set_io_engine(bp_pool *p, bp_io_engine e)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if ((unsigned)e > BP_IO_URING)
        return bp__fail(p, -EINVAL, "unknown I/O engine %d", (int)e);
    p->po_io_engine = e;
    return 0;
}

int bp_set_checksums(bp_pool *p, int on)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    p->po_checksums = !!on;
    return 0;
}

int bp_set_io_depth(bp_pool *p, unsigned depth)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if (depth < 1 || depth > BP__AIO_MAX_DEPTH)
        return bp__fail(p, -EINVAL, "I/O depth %u out of range 1..%u", depth,
                        BP__AIO_MAX_DEPTH);
    p->po_io_depth = depth;
    return 0;
}

int bp_set_io_coop(bp_pool *p, int on)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if (on != 0 && on != 1)
        return bp__fail(p, -EINVAL, "bp_set_io_coop: %d is neither 0 nor 1",
                        on);
    p->po_io_coop = on;
    return 0;
}

int bp_set_io_stage(bp_pool *p, bp_io_stage s)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if (s != BP_STAGE_AUTO && s != BP_STAGE_OFF && s != BP_STAGE_ON)
        return bp__fail(p, -EINVAL, "bp_set_io_stage: %d is not a "
                        "bp_io_stage", (int)s);
    p->po_io_stage = s;
    return 0;
}

int bp_set_flusher(bp_pool *p, unsigned pct)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    if (pct > 100)
        return bp__fail(p, -EINVAL, "flusher share %u%% above 100%%", pct);
    p->po_flusher_pct = pct;
    return 0;
}

int bp_set_wal(bp_pool *p, size_t lsn_offset, bp_log_flush_fn log_flush,
               void *ctx)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    p->po_wal_offset = lsn_offset;
    p->po_wal_fn = log_flush;
    p->po_wal_ctx = ctx;
    return 0;
}

void bp_wal_durable(bp_pool *p, uint64_t lsn)
{
    if (!p || !p->wal_durable || p->forked) /* not open (or the parent's):
                                                nothing to remember it in */
        return;
    bp__io_wal_durable(p, lsn);
}

int bp__test_set_dio_align(bp_pool *p, uint32_t align)
{
    int rc = bp__closed(p);

    if (rc)
        return rc;
    p->po_dio_align_override = align;
    return 0;
}
