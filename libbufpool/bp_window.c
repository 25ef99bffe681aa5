/*
 * bp_window.c - the window tier: slots in this process's address space
 * through which cache frames are seen.
 *
 * Owns (process-private): p->window, p->slots[], the pgno -> slot table
 * (p->wtab), the slot CLOCK hand, and the I/O slot used to write back frames
 * that no slot maps.  Backends (bp_backend_*.c) only change what a slot
 * shows; this module decides which slot shows what.
 *
 * Slot states and transitions (all under p->lock):
 *
 *   EMPTY --window_get (map)--> MAPPED --fix (pin++)--> PINNED
 *     ^                            |  ^                    |
 *     +--evict_slot (unmap)--------+  +----unfix (pin--)---+
 *
 * Invariants:
 *  - A slot is in wtab iff sl_pgno != BP__NOPAGE, and then sl_frame is the
 *    frame holding sl_pgno and counts in that frame's fr_maps.
 *  - A pinned slot (sl_pin > 0) is never evicted or remapped.
 *  - linear backend: slot i is frame i, always.
 *  - An evicted slot may still show its old frame (rfp, mmap): it is not in
 *    wtab, so nobody reaches it until it is remapped.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bp_internal.h"

#define BP__32BIT_WINDOW_MAX (256ull << 20) /* automatic window cap, 32-bit */
#define BP__32BIT_WINDOW_LIMIT (1ull << 30) /* refused above this, 32-bit */

const struct bp__backend_ops *bp__backend_ops_of(bp_backend b)
{
    switch (b) {
    case BP_BACKEND_RFP:
        return &bp__backend_rfp;
    case BP_BACKEND_MMAP:
        return &bp__backend_mmap;
    case BP_BACKEND_COPY:
        return &bp__backend_copy;
    case BP_BACKEND_LINEAR:
        return &bp__backend_linear;
    default:
        return NULL;
    }
}

/* pread/pwrite of a whole frame through the shm fd (tmpfs: never short but
 * for signals; retried). */
static int bp__shm_xfer(bp_pool *p, void *buf, uint32_t frame, int write)
{
    size_t psz = p->po_page_size, done = 0;
    off_t off = (off_t)bp__frame_off(p, frame);

    while (done < psz) {
        ssize_t n = write ? pwrite(p->shm_fd, (char *)buf + done, psz - done,
                                   off + (off_t)done)
                          : pread(p->shm_fd, (char *)buf + done, psz - done,
                                  off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        done += (size_t)n;
    }
    return 0;
}

int bp__shm_pread(bp_pool *p, void *buf, uint32_t frame)
{
    return bp__shm_xfer(p, buf, frame, 0);
}

int bp__shm_pwrite(bp_pool *p, const void *buf, uint32_t frame)
{
    return bp__shm_xfer(p, (void *)buf, frame, 1);
}

int bp__window_reserve(bp_pool *p, int shared)
{
    size_t len = (size_t)p->window_bytes;
    int flags = shared ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS;
    int linear = p->be->id == BP_BACKEND_LINEAR;
    void *w;

    if (p->po_prefault == BP_PREFAULT_POPULATE &&
        (linear || p->be->id == BP_BACKEND_COPY))
        flags |= MAP_POPULATE;
    w = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, shared ? p->shm_fd : -1,
             shared ? (off_t)p->meta->sh_frames_off : 0);
    if (w == MAP_FAILED)
        return bp__fail(p, errno == ENOMEM ? BP_EWINDOW : -errno,
                        "cannot map a window of %zu bytes: %s", len,
                        strerror(errno));
    p->window = w;
    if (p->po_mlock && mlock(w, len) != 0) {
        struct rlimit rl = {0, 0};
        int err = errno;

        getrlimit(RLIMIT_MEMLOCK, &rl);
        return bp__fail(p, BP_EMEMLOCK,
                        "mlock of a %zu-byte window failed (%s); "
                        "RLIMIT_MEMLOCK is %llu bytes: raise it (ulimit -l) or "
                        "turn mlock off",
                        len, strerror(err), (unsigned long long)rl.rlim_cur);
    }
    if (linear)
        return 0;
    w = mmap(NULL, p->po_page_size, PROT_READ | PROT_WRITE, MAP_SHARED,
             p->shm_fd, (off_t)p->meta->sh_frames_off);
    if (w == MAP_FAILED)
        return bp__fail(p, -errno, "cannot map the I/O slot");
    p->io_slot = w;
    p->io_slot_frame = 0;
    return 0;
}

int bp__window_unmap_nothing(bp_pool *p, uint32_t slot, uint32_t frame)
{
    (void)p, (void)slot, (void)frame;
    return 0;
}

int bp__window_remap_fail(bp_pool *p, int err, const char *what,
                          uint32_t slot, uint32_t frame)
{
    return bp__fail(p, -err, "%s of slot %u to frame %u: %s", what, slot,
                    frame,
                    err == ENOMEM ? "out of mappings (vm.max_map_count)"
                                  : "refused by the kernel");
}

void bp__window_release(bp_pool *p)
{
    if (p->window)
        munmap(p->window, (size_t)p->window_bytes);
    if (p->io_slot)
        munmap(p->io_slot, p->po_page_size);
    p->window = NULL;
    p->io_slot = NULL;
}

/* Number of slots the options ask for, 0 = automatic. */
uint64_t bp__window_slots_asked(const bp_pool *p)
{
    if (p->po_window_slots)
        return p->po_window_slots;
    return p->po_window_bytes / p->po_page_size;
}

int bp__window_open(bp_pool *p)
{
    uint64_t n = bp__window_slots_asked(p), psz = p->po_page_size;
    int rc;

    if (p->be->id == BP_BACKEND_LINEAR) {
        n = p->nframes;
    } else if (n == 0) { /* automatic: a quarter of the cache */
        n = p->nframes / 4 ? p->nframes / 4 : 1;
        if (sizeof(void *) < 8 && n * psz > BP__32BIT_WINDOW_MAX)
            n = BP__32BIT_WINDOW_MAX / psz;
        if (p->be->id != BP_BACKEND_COPY) {
            (void)bp__vma_check(p, 0);
            if (p->vma_budget > 2 && n > p->vma_budget - 2)
                n = p->vma_budget - 2;
        }
    } else if ((p->po_window_bytes && p->po_window_bytes % psz) || n == 0) {
        return bp__fail(p, BP_EWINDOW, "window of %" PRIu64 " bytes is not a "
                        "positive multiple of the page size %" PRIu64,
                        p->po_window_bytes, psz);
    }
    if (n > p->nframes)
        return bp__fail(p, BP_EWINDOW,
                        "window of %" PRIu64 " slots is larger than the cache "
                        "of %" PRIu64 " frames",
                        n, p->nframes);
    if (sizeof(void *) < 8 && n * psz > BP__32BIT_WINDOW_LIMIT)
        return bp__fail(p, BP_EWINDOW,
                        "window of %" PRIu64 " bytes does not fit a 32-bit "
                        "address space: use at most 256 MiB", n * psz);
    if (p->be->id == BP_BACKEND_RFP || p->be->id == BP_BACKEND_MMAP) {
        if ((rc = bp__vma_check(p, n)) != 0)
            return rc;
    } else {
        (void)bp__vma_check(p, 0); /* only fills the numbers for stats */
    }
    p->nslots = (uint32_t)n;
    p->window_bytes = n * psz;
    p->slots = bp__alloc(p, (size_t)n * sizeof *p->slots);
    p->wtab.ht_mask = bp__htab_entries_for(n) - 1;
    p->wtab_ent = bp__alloc(p, (size_t)(p->wtab.ht_mask + 1) * 4);
    if (!p->slots || !p->wtab_ent)
        return bp__fail(p, -ENOMEM, "no memory for %" PRIu64 " slots", n);
    for (uint64_t i = 0; i < n; i++) {
        p->slots[i].sl_pgno = BP__NOPAGE;
        p->slots[i].sl_frame = BP__NONE;
    }
    p->wtab.ht_ent = p->wtab_ent;
    p->wtab.ht_keys = (const char *)&p->slots[0].sl_pgno;
    p->wtab.ht_stride = sizeof(struct bp__slot);
    return p->be->init(p);
}

void bp__window_close(bp_pool *p)
{
    if (p->be)
        p->be->fini(p);
    bp__free(p, p->slots, (size_t)p->nslots * sizeof *p->slots);
    if (p->wtab_ent)
        bp__free(p, p->wtab_ent, (size_t)(p->wtab.ht_mask + 1) * 4);
    p->slots = NULL;
    p->wtab_ent = NULL;
    p->nslots = 0;
}

/* CLOCK over the slots: an empty slot, or an unpinned one whose reference
 * bit is clear (clearing bits on the way). */
static int bp__slot_victim_locked(bp_pool *p, uint32_t *slot)
{
    for (uint64_t i = 0; i < 2 * (uint64_t)p->nslots + 1; i++) {
        uint32_t s = p->slot_clock;
        struct bp__slot *sl = &p->slots[s];

        p->slot_clock = s + 1 == p->nslots ? 0 : s + 1;
        if (sl->sl_pin)
            continue;
        if (sl->sl_pgno != BP__NOPAGE && sl->sl_usage) {
            sl->sl_usage = 0;
            continue;
        }
        *slot = s;
        return 0;
    }
    return bp__fail(p, BP_ENOSLOT, "all %u window slots are pinned: unfix "
                    "pages or use a larger window", p->nslots);
}

int bp__window_evict_slot_locked(bp_pool *p, uint32_t s)
{
    struct bp__slot *sl = &p->slots[s];
    int rc;

    if (sl->sl_pgno == BP__NOPAGE)
        return 0;
    if ((rc = p->be->unmap(p, s, sl->sl_frame)) != 0)
        return rc;
    bp__htab_remove(&p->wtab, sl->sl_pgno);
    p->frames[sl->sl_frame].fr_maps--;
    sl->sl_pgno = BP__NOPAGE;
    sl->sl_frame = BP__NONE;
    sl->sl_gen++;
    sl->sl_usage = 0;
    p->st.slot_evictions++;
    return 0;
}

/* Fill a newly mapped slot: read the page, or zero a new one. */
static int bp__slot_fill_locked(bp_pool *p, uint32_t s, uint32_t f,
                                enum bp__need need)
{
    void *a = bp__slot_addr(p, s);
    int rc;

    if (need == BP__NEED_ZERO) {
        memset(a, 0, p->po_page_size);
        if (p->be->id == BP_BACKEND_COPY)
            p->slots[s].sl_dirty = 1;
        else
            bp__frame_set_dirty_locked(p, f);
        return 0;
    }
    rc = bp__io_read_page(p, p->slots[s].sl_pgno, a);
    if (rc)
        return bp__fail(p, rc, "read of page %" PRIu64 " failed",
                        p->slots[s].sl_pgno);
    if (p->be->id == BP_BACKEND_COPY) /* the frame must hold the bytes too */
        rc = bp__shm_pwrite(p, a, f);
    return rc;
}

int bp__window_get_locked(bp_pool *p, uint64_t pgno, int fresh, uint32_t *slot)
{
    uint32_t s = bp__htab_find(&p->wtab, pgno), f;
    enum bp__need need;
    int rc;

    if (s != BP__NONE) {
        p->st.window_hits++;
        p->slots[s].sl_usage = 1;
        *slot = s;
        return 0;
    }
    p->st.window_misses++;
    if (p->be->id != BP_BACKEND_LINEAR) {
        if ((rc = bp__slot_victim_locked(p, &s)) != 0)
            return rc;
        if ((rc = bp__window_evict_slot_locked(p, s)) != 0)
            return rc;
    }
    if ((rc = bp__cache_get_locked(p, pgno, fresh, &f, &need)) != 0)
        return rc;
    if (p->be->id == BP_BACKEND_LINEAR)
        s = f;
    if ((rc = p->be->map(p, s, f, need == BP__NEED_NOTHING)) != 0) {
        if (need != BP__NEED_NOTHING)
            bp__cache_discard_locked(p, f);
        return rc;
    }
    p->slots[s].sl_pgno = pgno;
    p->slots[s].sl_frame = f;
    p->slots[s].sl_gen++;
    p->slots[s].sl_usage = 1;
    p->slots[s].sl_dirty = 0;
    p->frames[f].fr_maps++;
    bp__htab_insert(&p->wtab, pgno, s);
    if (need != BP__NEED_NOTHING) {
        if ((rc = bp__slot_fill_locked(p, s, f, need)) != 0) {
            p->slots[s].sl_dirty = 0;
            (void)bp__window_evict_slot_locked(p, s);
            bp__cache_discard_locked(p, f);
            return rc;
        }
        p->frames[f].fr_flags |= BP__F_VALID;
    }
    *slot = s;
    return 0;
}

uint32_t bp__window_slot_of_frame_locked(bp_pool *p, uint32_t f)
{
    uint64_t pgno = p->frames[f].fr_pgno;
    uint32_t s;

    if (pgno == BP__NOPAGE)
        return BP__NONE;
    s = bp__htab_find(&p->wtab, pgno);
    return s != BP__NONE && p->slots[s].sl_frame == f ? s : BP__NONE;
}

int bp__window_frame_addr_locked(bp_pool *p, uint32_t f, void **addr)
{
    uint32_t s;

    if (p->be->id == BP_BACKEND_LINEAR) {
        *addr = bp__slot_addr(p, f);
        return 0;
    }
    if (p->be->id != BP_BACKEND_COPY &&
        (s = bp__window_slot_of_frame_locked(p, f)) != BP__NONE) {
        *addr = bp__slot_addr(p, s);
        return 0;
    }
    if (p->io_slot_frame != f) {
        if (mmap(p->io_slot, p->po_page_size, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_FIXED, p->shm_fd,
                 (off_t)bp__frame_off(p, f)) == MAP_FAILED)
            return bp__fail(p, -errno, "cannot map frame %u for I/O", f);
        p->io_slot_frame = f;
    }
    *addr = p->io_slot;
    return 0;
}

/* Copy backend: copy every dirty slot back into its frame, waiting for an
 * exclusive holder to finish first (its page may be half written). */
int bp__window_writeback_locked(bp_pool *p)
{
    if (p->be->id != BP_BACKEND_COPY)
        return 0;
    for (uint32_t s = 0; s < p->nslots; s++) {
        struct bp__slot *sl = &p->slots[s];
        int rc;

        if (!sl->sl_dirty)
            continue;
        if (p->frames[sl->sl_frame].fr_excl) {
            bp__latch_wait_locked(p);
            s--; /* look at this slot again */
            continue;
        }
        if ((rc = p->be->unmap(p, s, sl->sl_frame)) != 0)
            return rc;
    }
    return 0;
}
