/*
 * bp_shm_revive.c - a shared cache that no live process holds, trusted
 * again instead of built anew (a warm restart), and what the cache keeps
 * knowing about the data file so that it can be.
 *
 * Owns: the data file's stamp (an extended attribute written when a cache
 * is built or revived, and when a private pool opens the file writable),
 * the record of the data file's stat after each good fdatasync, the count
 * of data-file writes started, and the revival of a left cache.
 *
 * A left cache (every process closed it, or died) is revived only when all
 * of these hold; otherwise it is built again from nothing (bp_shm.c):
 *  - its header matches this pool's options, as for an attach, and it is
 *    neither poisoned nor carrying a failed fdatasync;
 *  - no data-file write was started since the stat was last recorded
 *    (sh_writes == sh_stat_writes), and the data file's size, mtime and
 *    ctime are still the recorded ones: nobody wrote the file since
 *    (every write moves mtime and ctime; ctime cannot be set from user
 *    space);
 *  - the file still carries the cache's stamp, where one could be written:
 *    no other pool opened the file writable meanwhile.
 * Then frame by frame: a frame is kept when it holds a page below the
 * file's end, is clean (neither DIRTY nor WB), unlatched, and, with
 * checksums on, its page's trailer checks.  The rest is dropped: a dirty
 * page was never acknowledged (bp_close does not flush: the data file has
 * the page's last flushed content), and a frame latched or mid-write may
 * be half written or half read.  A kept frame equals its page in the data
 * file: a clean frame is made only by a read of its page or by a completed
 * write of it (a flush's, or a flusher round's, which leaves its sync to
 * the next flush), and nothing wrote the file after the last synced write,
 * whose sync recorded the stat.
 *
 * The reviver holds the cache's init lock and its attach lock exclusive:
 * no other process is attached, and none can attach until it is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm_impl.h"
#include "platform/bp_sys.h"

#define BP__STAMP_XATTR "user.libbufpool.stamp"

static uint64_t bp__ts_ns(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

/* A data-file write is about to start: a later flush must sync, and the
 * stat on record no longer vouches for the file.  Before the write, so a
 * process that dies in it leaves both said. */
void bp__data_will_write(bp_pool *p)
{
    __atomic_store_n(&p->meta->sh_needs_sync, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&p->meta->sh_writes, 1, __ATOMIC_ACQ_REL);
}

/* File timestamps come from the kernel's coarse clock (one tick, 4-10 ms;
 * finer only on kernels with multigrain timestamps): a write in the same
 * tick as the one recorded leaves mtime and ctime as they were.  So wait,
 * at most 20 ms, until that clock is past both: any later write then
 * moves them. */
static void bp__data_stat_settle(const struct stat *st)
{
    uint64_t last = bp__ts_ns(&st->st_mtim) > bp__ts_ns(&st->st_ctim)
                        ? bp__ts_ns(&st->st_mtim)
                        : bp__ts_ns(&st->st_ctim);

    for (int i = 0; i < 20; i++) {
        struct timespec now, ms = {0, 1000000};

        if (clock_gettime(CLOCK_REALTIME_COARSE, &now) != 0 ||
            bp__ts_ns(&now) > last)
            return;
        nanosleep(&ms, NULL);
    }
}

/* Record the data file's stat as of the writes started so far (called
 * after a good fdatasync, under the flush lock, or by a process alone in
 * the cache).  A write started after the count was read makes the counts
 * differ; one started before and landing after the fstat moves mtime and
 * ctime: either way the record no longer matches. */
void bp__data_stat_note(bp_pool *p)
{
    struct bp__shm_hdr *h = p->meta;
    uint64_t w = __atomic_load_n(&h->sh_writes, __ATOMIC_ACQUIRE);
    struct stat st;

    __atomic_store_n(&h->sh_stat_writes, UINT64_MAX, __ATOMIC_RELEASE);
    if (p->data_fd < 0 || bp__sys_fstat(p->data_fd, &st) != 0)
        return;
    bp__data_stat_settle(&st);
    __atomic_store_n(&h->sh_data_size, (uint64_t)st.st_size, __ATOMIC_RELAXED);
    __atomic_store_n(&h->sh_data_mtime, bp__ts_ns(&st.st_mtim),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&h->sh_data_ctime, bp__ts_ns(&st.st_ctim),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&h->sh_stat_writes, w, __ATOMIC_RELEASE);
}

/* A new stamp in the data file (this open's generation), then the stat
 * (setting the attribute moves ctime).  Best effort: a file system
 * without user attributes leaves the stamp 0 and the stat alone vouches. */
void bp__data_stamp(bp_pool *p)
{
    uint64_t nonce = 0;

    if (p->rdonly || p->data_fd < 0)
        return;
    if (getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != sizeof nonce) {
        struct timespec t;

        clock_gettime(CLOCK_REALTIME, &t);
        nonce = bp__ts_ns(&t) ^ ((uint64_t)getpid() << 40);
    }
    nonce |= 1; /* never 0 */
    if (fsetxattr(p->data_fd, BP__STAMP_XATTR, &nonce, sizeof nonce, 0) != 0)
        nonce = 0;
    if (p->meta) {
        __atomic_store_n(&p->meta->sh_data_stamp, nonce, __ATOMIC_RELEASE);
        bp__data_stat_note(p);
    }
}

/* Why the left cache cannot be trusted as a whole, or NULL. */
static const char *bp__revive_refusal(bp_pool *p)
{
    const struct bp__shm_hdr *h = p->meta;
    uint64_t stamp = BP__LOAD(h->sh_data_stamp), have = 0;
    struct stat st;

    if (BP__LOAD(h->sh_sync_err))
        return "an fdatasync had failed";
    if (BP__LOAD(h->sh_stat_writes) == UINT64_MAX ||
        BP__LOAD(h->sh_stat_writes) != BP__LOAD(h->sh_writes))
        return "data-file writes were not synced";
    if (bp__sys_fstat(p->data_fd, &st) != 0)
        return "the data file cannot be stat'ed";
    if ((uint64_t)st.st_size != BP__LOAD(h->sh_data_size) ||
        bp__ts_ns(&st.st_mtim) != BP__LOAD(h->sh_data_mtime) ||
        bp__ts_ns(&st.st_ctim) != BP__LOAD(h->sh_data_ctime))
        return "the data file changed since the cache last saw it";
    if (stamp && (fgetxattr(p->data_fd, BP__STAMP_XATTR, &have,
                            sizeof have) != (ssize_t)sizeof have ||
                  have != stamp))
        return "another pool opened the data file since";
    return NULL;
}

/* Frame f of the left cache can be served as it is. */
static int bp__revive_frame_ok(bp_pool *p, uint32_t f, void *page)
{
    uint64_t pgno = BP__LOAD(p->frames[f].fr_pgno),
             w = bp_w_load(bp__word(p, f));
    off_t at;

    if (pgno == BP__NOPAGE || pgno >= p->file_pages)
        return 0;
    if ((w & (BP_W_DIRTY | BP_W_WB)) || bp_w_latch(w) != 0)
        return 0;
    if (!p->po_checksums)
        return 1;
    at = (off_t)(BP__LOAD(p->meta->sh_frames_off) +
                 (uint64_t)f * p->po_page_size);
    if (bp__sys_shm_pread(p->shm_fd, page, p->po_page_size, at) !=
        (ssize_t)p->po_page_size)
        return 0;
    return bp__io_verify(p, page, pgno) == 0;
}

int bp__shm_revive(bp_pool *p)
{
    struct bp__shm_hdr *h = p->meta;
    const char *why = bp__revive_refusal(p);
    uint64_t kept = 0, dropped = 0;
    void *page = NULL;

    if (why) {
        snprintf(p->cache_origin, sizeof p->cache_origin,
                 "built new: the cache left in %s was not trusted (%s)",
                 p->shm_path, why);
        return -ESTALE;
    }
    if (p->po_checksums && !(page = bp__alloc(p, p->po_page_size))) {
        snprintf(p->cache_origin, sizeof p->cache_origin,
                 "built new: no memory to check the left cache's pages");
        return -ENOMEM;
    }
    /* nobody is attached: every process entry is a dead one's */
    memset(p->procs, 0, BP__PROCS * sizeof *p->procs);
    for (uint64_t f = 0; f < p->nframes; f++) {
        uint64_t *w = bp__word(p, f), v = bp_w_load(w);
        int has_page = BP__LOAD(p->frames[f].fr_pgno) != BP__NOPAGE;

        if (!has_page || bp__revive_frame_ok(p, (uint32_t)f, page)) {
            BP__STORE(*w, v & BP_W_VERSION_MASK); /* unlatched, clean */
            kept += (uint64_t)has_page;
        } else { /* a new version: whatever saw the old one is stale */
            BP__STORE(p->frames[f].fr_pgno, BP__NOPAGE);
            BP__STORE(*w, (bp_w_version(v) + 1) & BP_W_VERSION_MASK);
            dropped++;
        }
        BP__STORE(p->frames[f].fr_maps, 0);
    }
    bp__errmsg_clear(p); /* trailer checks of dropped frames */
    if (page)
        bp__free(p, page, p->po_page_size);
    memset(p->dmap, 0, p->dmap_n * sizeof *p->dmap); /* rebuilt below */
    for (unsigned part = 0; part < BP__PARTS; part++) {
        BP__STORE(h->sh_parts[part].sp_lock, 0);
        bp__ptab_rebuild_locked(p, part);
    }
    BP__STORE(h->sh_alloc_lock, 0);
    BP__STORE(h->sh_flush_lock, 0);
    BP__STORE(h->sh_needs_sync, 0);
    BP__STORE(h->sh_data_pages, p->file_pages);
    BP__STORE(h->sh_disk_pages, p->file_pages);
    /* the engine's log may have been cut back by its recovery: no LSN is
     * taken as durable until the engine says so again */
    BP__STORE(h->sh_wal_durable, 0);
    BP_STAT_ADD(p, revived_frames, kept);
    BP_STAT_ADD(p, revive_dropped, dropped);
    snprintf(p->cache_origin, sizeof p->cache_origin,
             "revived: %" PRIu64 " frames kept, %" PRIu64 " dropped (dirty, "
             "mid-write or failing their checksum)", kept, dropped);
    bp__data_stamp(p); /* this life's generation */
    return 0;
}
