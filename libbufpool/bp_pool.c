/*
 * bp_pool.c - the public pool calls: open, close, fix, unfix, allocate,
 * flush, statistics.
 *
 * Owns: the pool's life cycle (CLOSED -> OPEN -> closed and freed; POISONED
 * after a failure that left the pool inconsistent), the page latches
 * (fr_shared / fr_excl, waited on with p->latch_cv) and the pins
 * (sl_pin).  Lock: one pool mutex (p->lock) around every table and state
 * change, held across remaps and I/O (simple and correct; the concurrency
 * issue replaces it).  Latch waits release it.
 *
 *   bp_open:  io_open -> shm_open -> choose backend -> window_open
 *   bp_fix:   window_get (slot, maybe frame and read) -> pin -> latch
 *   bp_unfix: unlatch -> mark dirty -> unpin
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_internal.h"
#include "bp_testing.h"

static void bp__teardown(bp_pool *p, int failed)
{
    bp__window_close(p);
    bp__shm_close(p, failed);
    bp__io_close(p);
    p->be = NULL;
    p->state = BP__CLOSED;
}

static int bp__resolve_backend(bp_pool *p)
{
    const char *env = getenv("BUFPOOL_BACKEND");
    bp_backend b = p->po_backend;
    const char *why = "set by bp_set_backend";

    if (env && *env) {
        static const char *names[] = {"auto", "rfp", "mmap", "copy", "linear"};
        unsigned i;

        for (i = 0; i < 5 && strcmp(env, names[i]) != 0; i++)
            ;
        if (i == 5)
            return bp__fail(p, -EINVAL, "BUFPOOL_BACKEND=%s: use auto, rfp, "
                            "mmap, copy or linear", env);
        b = (bp_backend)i;
        why = "set by BUFPOOL_BACKEND";
    }
    if (b == BP_BACKEND_LINEAR && sizeof(void *) < 8)
        return bp__fail(p, BP_EBACKEND,
                        "the linear backend needs a 64-bit address space");
    if (b == BP_BACKEND_AUTO)
        return bp__backend_choose(p);
    p->be = bp__backend_ops_of(b);
    snprintf(p->be_reason, sizeof p->be_reason, "%s", why);
    return 0;
}

int bp_open(bp_pool *p, const char *path, unsigned flags)
{
    uint64_t n;
    int rc;

    if (!p || !path)
        return -EINVAL;
    if (p->state != BP__CLOSED)
        return bp__fail(p, BP_ESTATE, "pool is already open");
    if (flags & ~(BP_CREATE | BP_BUFFERED_IO))
        return bp__fail(p, -EINVAL, "unknown bp_open flags %#x", flags);
    p->errmsg[0] = '\0';
    memset(&p->st, 0, sizeof p->st);
    n = p->po_cache_frames ? p->po_cache_frames
                           : p->po_cache_bytes / p->po_page_size;
    if (n == 0 || n >= BP__NONE)
        return bp__fail(p, -EINVAL, "cache of %" PRIu64 " frames: use 1 to "
                        "2^32-2 frames of %u bytes", n, p->po_page_size);
    p->nframes = n;
    if (bp__window_slots_asked(p) > n)
        return bp__fail(p, BP_EWINDOW,
                        "window of %" PRIu64 " slots is larger than the cache "
                        "of %" PRIu64 " frames",
                        bp__window_slots_asked(p), n);
    if ((rc = bp__io_open(p, path, flags)) == 0 &&
        (rc = bp__shm_open(p)) == 0 && (rc = bp__resolve_backend(p)) == 0)
        rc = bp__window_open(p);
    if (rc) {
        bp__teardown(p, 1);
        return rc;
    }
    p->state = BP__OPEN;
    return 0;
}

int bp_close(bp_pool *p)
{
    bp_allocator a;

    if (!p)
        return 0;
    pthread_mutex_lock(&p->lock);
    if (p->state != BP__CLOSED) {
        uint32_t fixed = 0;

        for (uint32_t s = 0; s < p->nslots; s++)
            fixed += p->slots[s].sl_pin;
        if (fixed) {
            int rc = bp__fail(p, -EBUSY, "%u page fixes are still held: "
                              "unfix them before bp_close", fixed);

            pthread_mutex_unlock(&p->lock);
            return rc;
        }
        bp__teardown(p, 0);
    }
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->latch_cv);
    if (p->po_shm_name)
        bp__free(p, p->po_shm_name, strlen(p->po_shm_name) + 1);
    a = p->po_alloc;
    a.free(a.ctx, p, sizeof *p);
    return 0;
}

static int bp__usable_locked(bp_pool *p)
{
    if (p->state == BP__OPEN)
        return 0;
    if (p->state == BP__POISONED)
        return BP_EPOISONED;
    return bp__fail(p, BP_ESTATE, "pool is not open");
}

void bp__latch_wait_locked(bp_pool *p)
{
    p->latch_waiters++;
    pthread_cond_wait(&p->latch_cv, &p->lock);
    p->latch_waiters--;
}

/* Pin slot s, take the latch on its frame (waiting for a conflicting
 * holder), and fill the caller's handle. */
static void bp__pin_latch_locked(bp_pool *p, uint32_t s, unsigned mode,
                                 bp_page *out)
{
    struct bp__slot *sl = &p->slots[s];
    struct bp__frame *fr = &p->frames[sl->sl_frame];

    sl->sl_pin++; /* from here on the slot cannot change page */
    if (mode == BP_EXCLUSIVE) {
        while (fr->fr_excl || fr->fr_shared)
            bp__latch_wait_locked(p);
        fr->fr_excl = 1;
    } else {
        while (fr->fr_excl)
            bp__latch_wait_locked(p);
        fr->fr_shared++;
    }
    p->st.fixes++;
    out->data = bp__slot_addr(p, s);
    out->pgno = sl->sl_pgno;
    out->bp_slot = s;
    out->bp_gen = (sl->sl_gen << 1) | (mode == BP_EXCLUSIVE);
}

int bp_fix(bp_pool *p, uint64_t pgno, unsigned mode, bp_page *out)
{
    uint32_t s;
    int rc;

    if (!p || !out || mode > BP_EXCLUSIVE)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    if ((rc = bp__usable_locked(p)) != 0)
        goto out;
    if (pgno >= p->data_pages) {
        rc = bp__fail(p, BP_EPGNO, "page %" PRIu64 " is beyond the end of the "
                      "data file (%" PRIu64 " pages)", pgno, p->data_pages);
        goto out;
    }
    if ((rc = bp__window_get_locked(p, pgno, 0, &s)) == 0)
        bp__pin_latch_locked(p, s, mode, out);
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int bp_alloc_page(bp_pool *p, bp_page *out)
{
    uint32_t s;
    int rc;

    if (!p || !out)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    if ((rc = bp__usable_locked(p)) == 0 &&
        (rc = bp__window_get_locked(p, p->data_pages, 1, &s)) == 0) {
        __atomic_store_n(&p->data_pages, p->data_pages + 1, __ATOMIC_RELEASE);
        bp__pin_latch_locked(p, s, BP_EXCLUSIVE, out);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int bp_unfix(bp_pool *p, bp_page *pg, unsigned flags)
{
    struct bp__slot *sl;
    struct bp__frame *fr;
    int excl, rc = 0;

    if (!p || !pg || (flags & ~BP_DIRTY))
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    if (p->state == BP__CLOSED) {
        rc = bp__fail(p, BP_ESTATE, "pool is not open");
        goto out;
    }
    sl = pg->bp_slot < p->nslots ? &p->slots[pg->bp_slot] : NULL;
    if (!sl || !pg->data || sl->sl_pin == 0 ||
        sl->sl_gen != (pg->bp_gen >> 1) || sl->sl_pgno != pg->pgno ||
        pg->data != bp__slot_addr(p, pg->bp_slot)) {
        rc = bp__fail(p, BP_ENOTFIXED, "unfix of page %" PRIu64 " that this "
                      "handle does not hold fixed", pg->pgno);
        goto out;
    }
    excl = pg->bp_gen & 1;
    fr = &p->frames[sl->sl_frame];
    if ((flags & BP_DIRTY) && !excl) {
        rc = bp__fail(p, -EINVAL, "BP_DIRTY on page %" PRIu64 " fixed shared: "
                      "fix it BP_EXCLUSIVE to modify it", pg->pgno);
        goto out;
    }
    if (excl)
        fr->fr_excl = 0;
    else
        fr->fr_shared--;
    if (flags & BP_DIRTY) {
        if (p->be->id == BP_BACKEND_COPY)
            sl->sl_dirty = 1;
        else
            bp__frame_set_dirty_locked(p, sl->sl_frame);
    }
    sl->sl_pin--;
    if (p->latch_waiters)
        pthread_cond_broadcast(&p->latch_cv);
    pg->data = NULL;
    pg->bp_slot = BP__NONE;
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

uint64_t bp_page_count(const bp_pool *p)
{
    return p ? __atomic_load_n(&p->data_pages, __ATOMIC_ACQUIRE) : 0;
}

int bp_flush(bp_pool *p)
{
    int rc;

    if (!p)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    if ((rc = bp__usable_locked(p)) == 0)
        rc = bp__cache_flush_locked(p);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int bp_stats_get(bp_pool *p, bp_stats *out, size_t size)
{
    bp_stats st;
    uint64_t vmas = 0;

    if (!p || !out || size < 2 * sizeof(uint32_t))
        return -EINVAL;
    (void)bp__vma_count(&vmas);
    pthread_mutex_lock(&p->lock);
    st = p->st;
    st.version = BP_STATS_VERSION;
    st.size = (uint32_t)(size < sizeof st ? size : sizeof st);
    st.page_size = p->po_page_size;
    st.backend = p->be ? (uint32_t)p->be->id : BP_BACKEND_AUTO;
    st.prefault = (uint32_t)p->po_prefault;
    st.mlocked = (uint32_t)p->po_mlock;
    st.direct_io = (uint32_t)p->direct_io;
    st.dio_align = p->dio_align;
    st.frames = p->state == BP__CLOSED ? 0 : p->nframes;
    st.slots = p->nslots;
    st.data_pages = p->data_pages;
    snprintf(st.backend_reason, sizeof st.backend_reason, "%s", p->be_reason);
    snprintf(st.io_engine, sizeof st.io_engine, "%s",
             p->io ? p->io->name : "none");
    st.dirty_frames = p->meta ? p->meta->sh_dirty : 0;
    st.vmas_in_use = vmas;
    st.vma_limit = p->vma_limit;
    st.vma_budget = p->vma_budget;
    pthread_mutex_unlock(&p->lock);
    memcpy(out, &st, st.size);
    return 0;
}

/* ---- test hooks (bp_testing.h) ------------------------------------------- */

uint64_t bp__test_frame_offset(bp_pool *p, uint64_t pgno)
{
    uint64_t off = UINT64_MAX;
    uint32_t f;

    pthread_mutex_lock(&p->lock);
    if (p->state != BP__CLOSED &&
        (f = bp__htab_find(&p->ptab, pgno)) != BP__NONE)
        off = bp__frame_off(p, f);
    pthread_mutex_unlock(&p->lock);
    return off;
}

void *bp__test_slot_addr(bp_pool *p, uint64_t pgno)
{
    void *a = NULL;
    uint32_t s;

    pthread_mutex_lock(&p->lock);
    if (p->state != BP__CLOSED &&
        (s = bp__htab_find(&p->wtab, pgno)) != BP__NONE)
        a = bp__slot_addr(p, s);
    pthread_mutex_unlock(&p->lock);
    return a;
}
