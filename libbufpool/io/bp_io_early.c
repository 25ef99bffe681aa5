/*
 * bp_io_early.c - early reads: a fix miss submits its data-file read as
 * soon as the page is known to be missing from the cache, and takes its
 * frame (the CLOCK sweep, a victim's eviction, the page-table and window
 * updates) while the read is in flight.
 *
 * Owns: this thread's early-read state (bp__tls_early: which pool armed
 * it, the read in flight and its page).  The engine owns where the read
 * lands (io_uring: the early lanes, bp_io_uring.c).
 *
 * Why: at queue depth 1 a miss's time is the library's work plus the
 * disk's.  On the VM measured (README), interleaving one pool miss and one
 * bare liburing read at a time, the pool took 3.5-4 us more per 4 KiB
 * read than the bare loop's ~45 us, of which about 1.5 us came before the
 * read was submitted (bp__cache_map_begin).  Submitting first overlaps
 * that with the disk.  Only staged misses read early (linear, io_stage
 * bit 1; copy, whose slot's old page is copied home meanwhile: bp_iomem.c,
 * bp_backend_copy.c): their bytes land in a landing page, never in the
 * frame or slot, so the read needs neither yet and is copied in once they
 * are taken.  BUFPOOL_IO_EARLY=0 turns it off (for comparisons).
 *
 * Life of an early read (one per thread at a time):
 *   bp__fix_miss, BP__GET_READ: arm
 *     -> bp__cache_get: the page table has no pgno (no pool lock held)
 *        -> start: the engine submits a read of pgno into a landing page;
 *           not started (lane busy, failed): nothing
 *     -> frame taken, window slot published
 *     -> bp__io_read_page(pgno): take: wait, copy the bytes that arrived
 *        into the frame [reads_early]; the rest (a short read; everything
 *        after a failed one) is read there as always
 *   any way out of bp__fix_miss: end: a read still in flight (the page was
 *   cached by another thread meanwhile, or the miss failed) is waited for
 *   and dropped, before the miss sleeps on any latch.
 *
 * Invariants:
 *  - A read in flight belongs to the thread that started it and is taken
 *    or dropped before that thread leaves the bp__fix_miss that armed it.
 *    A miss inside another (a WAL callback that fixes pages) reads the
 *    plain way and leaves the outer miss's state alone (e->nested).
 *  - Its bytes are used only if they are what a plain read would return
 *    now.  It starts after the page was found missing with its partition's
 *    insert count at g (bp_ptab.c), and the bytes are copied only if the
 *    count still reads g where the miss inserts the page.  Every write of
 *    a page completes before the page leaves the cache (an eviction writes
 *    and then discards; a batch keeps its frames latched), so a page not
 *    cached between the two lookups had no write in flight or issued
 *    meanwhile; from the insert on, its frame is BUSY (ours) until the
 *    copy is in.  Otherwise (a page of that partition was cached meanwhile:
 *    perhaps this one, changed and written back) the bytes are dropped and
 *    the page is read as always.
 */
#include "io/io_impl.h"
#include "platform/bp_sys.h"

static BP__TLS struct bp__early bp__tls_early;

int bp__io_early_arm(bp_pool *p)
{
    struct bp__early *e = &bp__tls_early;

    if (e->p) { /* a miss inside a miss (a WAL callback's fix): no early */
        e->nested++; /* read for it, the outer one's state left alone */
        return 1;
    }
    if (!(p->io_stage & BP__STAGE_EARLY) || !p->io->early_start)
        return 0;
    e->p = p;
    return 1;
}

void bp__io_early_start(bp_pool *p, uint64_t pgno, uint64_t gen)
{
    struct bp__early *e = &bp__tls_early;

    if (e->p != p || e->flight || e->nested ||
        pgno >= BP__LOAD(*p->disk_pages))
        return; /* not armed here, or nothing on disk to read */
    e->t0 = bp__clock_ns();
    if (p->io->early_start(p, pgno * p->po_page_size, p->po_page_size, e))
        return; /* the miss reads as always */
    e->flight = 1;
    e->pgno = pgno;
    e->gen = gen;
    e->stale = 0;
    bp__sys_hook_call(BP__HOOK_EARLY, pgno); /* tests */
}

void bp__io_early_insert(bp_pool *p, uint64_t pgno, uint64_t gen)
{
    struct bp__early *e = &bp__tls_early;

    if (e->p == p && e->flight && e->pgno == pgno && gen != e->gen)
        e->stale = 1; /* a page of the partition was cached meanwhile:
                         maybe ours, maybe written since our read */
}

void bp__io_early_end(bp_pool *p)
{
    struct bp__early *e = &bp__tls_early;

    if (e->nested) {
        e->nested--;
        return;
    }
    if (e->p != p)
        return;
    if (e->flight)
        (void)p->io->early_take(p, e, NULL); /* the kernel is done with it */
    e->flight = 0;
    e->p = NULL;
}

ssize_t bp__io_early_take(bp_pool *p, uint64_t pgno, void *buf)
{
    struct bp__early *e = &bp__tls_early;
    ssize_t n;

    if (e->p != p || !e->flight || e->pgno != pgno || e->nested)
        return 0;
    e->flight = 0;
    n = p->io->early_take(p, e, e->stale ? NULL : buf);
    if (n > 0) /* the disk's time for the bytes used or dropped */
        BP_STAT_ADD(p, read_ns, bp__clock_ns() - e->t0);
    if (e->stale || n <= 0)
        return 0; /* dropped, or failed: the plain read tries (and reports) */
    BP_STAT(p, reads_early);
    return n;
}
