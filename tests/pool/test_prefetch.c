/*
 * test_prefetch.c - asynchronous read-ahead and the background flusher, on
 * both I/O engines (io_uring, sync worker) and three backends (linear reads
 * straight into its frames, the others through bounce buffers).
 *
 *  - bp_prefetch returns before the pages arrive; every page then reads
 *    back right, and the data file is read exactly once per page: a fix of
 *    a page still in flight waits for that read (stats.reads == pages).
 *  - pages beyond the end are refused before anything starts (BP_EPGNO);
 *    cached pages are skipped.
 *  - a prefetched page that fails its checksum is dropped; the fix reads it
 *    again and reports BP_ECORRUPT naming it.  No slot is left showing it
 *    (the invariant walker agrees), and every slot can be fixed at once
 *    afterwards: the slot its read used was given back.
 *  - rfp, mmap, copy: a page prefetched and waited for (bp_io_wait) is in
 *    a window slot already: its fix is a window hit (no window miss, no
 *    copy into the slot, no read), and it reads back right; so does it
 *    after its slot was reused (the frame holds the page too).  Linear
 *    reads into the frame (a trivial window miss, no read either).
 *  - a read-ahead whose read fails (fault table: EIO, once, and for good;
 *    a short read) leaves no slot and no frame for the page, also while a
 *    fix of the page waits for that read; the fixes read it again right.
 *  - two threads prefetching and fixing random pages (plain and
 *    BP_NOWAIT) while a third rewrites a quarter of them exclusively, in
 *    a 16-slot window: every page reads back whole, the writer sees its
 *    own last write, and no lock is taken out of order.
 *  - a BP_SCAN pass over the file reads ahead on its own (prefetch_started
 *    > 0) and still reads each page once.
 *  - close with reads in flight waits for them (no leak, no hang).
 *  - the flusher makes dirty pages clean without bp_flush and without an
 *    fdatasync (syncs stays 0): close without flushing, every page is in
 *    the data file; the bp_flush after it syncs once though no page is
 *    dirty (the sync the flusher's writes owe).
 *  - BP_NOWAIT on a page whose read is in flight (held there by
 *    bp__test_aio_hold) answers BP_EAGAIN at once, on a page never asked
 *    for BP_ENOTCACHED, and starts no read; bp_io_wait times out while the
 *    read is held, wakes a sleeping thread once it finishes, and says
 *    BP_EIDLE with nothing in flight; NOWAIT also refuses to wait for a
 *    latch this thread holds.
 *  - pages prefetched and consumed with BP_NOWAIT in reverse order, the
 *    pages not started asked for again, are each read exactly once and
 *    read back right.
 *  - bad input to both: NULL, a page beyond the end, unknown flags, a
 *    pool not open.
 *  - bp_io_finished names each page whose read finished exactly once, in
 *    pieces of at most max, and the ticket ends where bp_io_seq is; a
 *    named page is fixable with BP_NOWAIT at once; a read that failed is
 *    named too (the fix reads the page itself); a caller that fell more
 *    than the log behind gets BP_ELAGGED and the present ticket; bad
 *    input and a pool not open are refused.
 *  - copy on io_uring, staged (io_staged bit 0): a read-ahead lands in its
 *    request's buffer and is sent before its slot's old page is copied
 *    home; when the read arrives first (a test hook holds the copy home
 *    back), the completion waits for it, so the old page's frame gets the
 *    old page (ahead_home).  A failed copy home drops a clean old page
 *    (read again later, the pool fine) or poisons the pool for a modified
 *    one; the read then ends filling nothing (prefetch_failed).
 *  - all of it again on cooperative rings (bp_set_io_coop; stats say so
 *    on Linux 5.19+), and pages read ahead by a thread that then spins
 *    without system calls reach another thread's fixes, each read once.
 */
#include "util_test.h"

#include "platform/bp_testing.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/utsname.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 96u

struct pcase {
    bp_backend backend;
    bp_io_engine engine;
    int coop; /* bp_set_io_coop */
    int staged; /* bp_set_io_stage ON (else OFF): linear's reads staged */
};

/* Reads ahead that land in their window slot or frame: with staged reads
 * (bp_set_io_stage: linear, and copy on io_uring) none do, they land in
 * request buffers. */
static uint64_t direct_of(const struct pcase *c, uint64_t n)
{
    const char *env = getenv("BUFPOOL_IO"); /* sync: the fallback suite */
    int uring = c->engine == BP_IO_URING && !(env && !strcmp(env, "sync"));

    return c->staged && (c->backend == BP_BACKEND_LINEAR ||
                         (c->backend == BP_BACKEND_COPY && uring))
               ? 0
               : n;
}

static bp_pool *open_case_slots(const struct pcase *c, const char *path,
                                int checksums, unsigned flusher,
                                unsigned flags, unsigned slots)
{
    struct util_cfg cfg = {.backend = c->backend, .page_size = PSZ,
                           .frames = 64, .slots = slots, .engine = c->engine,
                           .checksums = checksums, .flags = flags};
    bp_pool *p;
    int rc;

    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, &cfg), 0);
    assert_int_equal(bp_set_io_depth(p, 16), 0);
    assert_int_equal(bp_set_io_coop(p, 2), -EINVAL); /* 0 or 1 only */
    assert_int_equal(bp_set_io_coop(NULL, 1), -EINVAL);
    assert_int_equal(bp_set_io_coop(p, c->coop), 0);
    assert_int_equal(bp_set_io_stage(p, c->staged ? BP_STAGE_ON
                                                  : BP_STAGE_OFF), 0);
    assert_int_equal(bp_set_flusher(p, flusher), 0);
    if (c->backend == BP_BACKEND_RFP && !util_have_rfp()) {
        print_message("remap_file_pages unavailable: skipped\n");
        bp_close(p);
        return NULL;
    }
    rc = bp_open(p, path, flags);
    if (rc == BP_EBACKEND && c->backend == BP_BACKEND_LINEAR) {
        print_message("linear backend unavailable (32-bit): skipped\n");
        bp_close(p);
        return NULL;
    }
    if (rc && c->engine == BP_IO_URING) {
        print_message("io_uring unavailable here (%s): skipped\n",
                      bp_errmsg(p));
        bp_close(p);
        return NULL;
    }
    if (rc)
        util_print_rc(p, "bp_open", rc);
    assert_int_equal(rc, 0);
    assert_int_not_equal(bp_set_io_coop(p, 1), 0); /* open: too late */
    {
        bp_stats st;

        util_stats(p, &st);
        assert_int_equal(st.io_staged & 1u, direct_of(c, 1) ? 0 : 1);
    }
    return p;
}

static bp_pool *open_case(const struct pcase *c, const char *path,
                          int checksums, unsigned flusher, unsigned flags)
{
    return open_case_slots(c, path, checksums, flusher, flags, 8);
}

/* Wait (bounded) until the pool has no read in flight: every prefetched
 * page is started == done + failed. */
static void settle(bp_pool *p)
{
    bp_stats st;

    for (int i = 0; i < 5000; i++) {
        util_stats(p, &st);
        if (st.prefetch_started == st.prefetch_done + st.prefetch_failed)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("prefetches still in flight after 5 s");
}

/* A data file of NPAGES pages stamped gen at path (a name in the test
 * directory), opened for case c with the flusher at flusher percent;
 * skips the test when the case cannot run here. */
static bp_pool *open_file(const struct pcase *c, char *path, size_t len,
                          const char *name, uint32_t gen, unsigned flusher)
{
    bp_pool *p;

    util_tmp_path(path, len, name);
    util_datafile_create(path, PSZ, NPAGES, gen);
    if (!(p = open_case(c, path, 0, flusher, 0)))
        skip();
    return p;
}

/* Linux 5.19 or later: IORING_SETUP_COOP_TASKRUN exists. */
static int kernel_has_coop(void)
{
    struct utsname u;
    int maj = 0, min = 0;

    if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &maj, &min) != 2)
        return 0;
    return maj > 5 || (maj == 5 && min >= 19);
}

static void test_prefetch_reads_once(void **state)
{
    const struct pcase *c = *state;
    uint64_t list[NPAGES];
    char path[600];
    bp_stats st;
    bp_pool *p;
    int rc;

    p = open_file(c, path, sizeof path, "pf.db", 5, 0);
    for (uint64_t i = 0; i < 16; i++)
        list[i] = i * 3;
    assert_int_equal(bp_prefetch(p, NULL, 0), 0);
    rc = bp_prefetch(p, list, 16);
    assert_true(rc > 0 && rc <= 16);
    /* fix at once: some are still in flight and must be waited for */
    for (uint64_t i = 0; i < 16; i++)
        util_fix_verify(p, list[i], BP_SHARED, PSZ, 5);
    settle(p);
    util_stats(p, &st);
    assert_int_equal(st.reads, 16);
    assert_int_equal(st.prefetch_started, (uint64_t)rc);
    assert_int_equal(st.prefetch_done, (uint64_t)rc);
    assert_int_equal(st.prefetch_failed, 0);
    assert_int_equal(st.io_depth, 16);
    /* cooperative completions where asked for on io_uring (Linux 5.19+;
     * BUFPOOL_IO=sync runs the sync engine whatever the case asks) */
    assert_int_equal(st.io_coop,
                     (uint32_t)(c->coop && kernel_has_coop() &&
                                strcmp(st.io_engine, "io_uring") == 0));
    /* cached pages are skipped; a page beyond the end refuses the call */
    assert_int_equal(bp_prefetch(p, list, 16), 0);
    list[16] = NPAGES;
    assert_int_equal(bp_prefetch(p, list, 17), BP_EPGNO);
    util_stats(p, &st);
    assert_int_equal(st.prefetch_started, (uint64_t)rc);
    /* more than the depth: only depth start, the rest are skipped */
    for (uint64_t i = 0; i < 48; i++)
        list[i] = 48 + i;
    rc = bp_prefetch(p, list, 48);
    assert_true(rc > 0 && rc <= 16);
    /* close with reads maybe in flight */
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* Fix as many good pages at once as the window has slots (all 8; every
 * page below 16 but skip), check their stamps (gen), unfix them: fails
 * with BP_ENOSLOT if a slot was left held. */
static void hold_all_slots(bp_pool *p, uint64_t skip, uint32_t gen)
{
    bp_page pg[8];
    bp_stats st;
    uint64_t n = 0;

    util_stats(p, &st);
    assert_true(st.slots == 8 || st.backend == BP_BACKEND_LINEAR);
    for (uint64_t i = 0; n < 8; i++) {
        if (i == skip)
            continue;
        assert_int_equal(bp_fix(p, i, BP_SHARED, &pg[n]), 0);
        util_assert_stamp(pg[n].data, PSZ, i, gen);
        n++;
    }
    while (n > 0)
        assert_int_equal(bp_unfix(p, &pg[--n], 0), 0);
}

static void test_prefetch_corrupt(void **state)
{
    const struct pcase *c = *state;
    unsigned char buf[PSZ];
    uint64_t pg7 = 7;
    char path[600];
    bp_stats st;
    bp_page pg;
    bp_pool *p;
    int fd;

    util_tmp_path(path, sizeof path, "pfsum.db");
    unlink(path);
    util_set_stamp_tail(BP_PAGE_TRAILER);
    if (!(p = open_case(c, path, 1, 0, BP_CREATE))) {
        util_set_stamp_tail(0);
        skip();
    }
    for (uint64_t i = 0; i < 16; i++) {
        assert_int_equal(bp_alloc_page(p, &pg), 0);
        util_stamp(pg.data, PSZ, i, 9);
        assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    }
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, PSZ, 7 * PSZ), PSZ);
    buf[200] ^= 0x04; /* one flipped bit */
    assert_int_equal(pwrite(fd, buf, PSZ, 7 * PSZ), PSZ);
    assert_int_equal(fsync(fd), 0);
    close(fd);
    p = open_case(c, path, 1, 0, 0);
    assert_int_equal(bp_prefetch(p, &pg7, 1), 1);
    settle(p);
    util_stats(p, &st);
    assert_int_equal(st.prefetch_failed, 1);
    assert_int_equal(st.prefetch_direct, direct_of(c, 1)); /* into a slot */
    assert_null(bp__test_slot_addr(p, 7));   /* which shows it no more */
    assert_int_equal(bp__test_frame_offset(p, 7), UINT64_MAX);
    util_check(p);
    assert_int_equal(bp_fix(p, 7, BP_SHARED, &pg), BP_ECORRUPT);
    assert_non_null(strstr(bp_errmsg(p), "page 7"));
    util_fix_verify(p, 6, BP_SHARED, PSZ, 9);
    util_check(p);
    hold_all_slots(p, 7, 9);
    assert_int_equal(bp_close(p), 0);
    util_set_stamp_tail(0);
    unlink(path);
}

static void test_scan_reads_ahead(void **state)
{
    const struct pcase *c = *state;
    char path[600];
    bp_stats st;
    bp_pool *p;

    p = open_file(c, path, sizeof path, "scan.db", 2, 0);
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t i = 0; i < NPAGES; i++)
            util_fix_verify(p, i, BP_SHARED | BP_SCAN, PSZ, 2);
    settle(p);
    util_stats(p, &st);
    assert_true(st.prefetch_started > 0);
    assert_true(st.prefetch_done > 0);
    /* the cache (64 frames) holds less than the file: the second pass
     * reads again, but no page is read twice within a pass */
    assert_true(st.reads <= 2 * NPAGES);
    assert_true(st.reads >= NPAGES);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

static void test_flusher(void **state)
{
    const struct pcase *c = *state;
    uint32_t want[NPAGES];
    char path[600];
    bp_stats st;
    bp_pool *p;
    int copy;

    p = open_file(c, path, sizeof path, "flusher.db", 1, 100);
    for (uint32_t i = 0; i < NPAGES; i++)
        want[i] = 1;
    for (uint32_t i = 0; i < 40; i++)
        util_fix_write(p, i, PSZ, 1, want[i] = 4);
    for (int i = 0; i < 5000; i++) { /* the copy backend's slots hold 8 */
        util_stats(p, &st);
        if (st.dirty_frames == 0 && st.flusher_pages >= 32)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    util_stats(p, &st);
    copy = st.backend == BP_BACKEND_COPY; /* auto may have chosen it */
    if (copy) {
        /* dirty bytes still in window slots are not the flusher's: those
         * reach the frames (and the flusher) when their slots are reused */
        assert_true(st.flusher_pages >= 32);
    } else {
        assert_int_equal(st.dirty_frames, 0);
        assert_true(st.flusher_pages >= 40);
    }
    assert_true(st.flusher_rounds > 0);
    assert_int_equal(st.syncs, 0); /* written, not synced */
    util_check(p);
    if (!copy) {
        /* the pages are in the file before any sync (O_DIRECT) */
        util_datafile_verify(path, PSZ, NPAGES, want);
        assert_int_equal(bp_flush(p), 0); /* nothing dirty, a sync owed */
        util_stats(p, &st);
        assert_int_equal(st.syncs, 1);
    }
    assert_int_equal(bp_close(p), 0); /* no bp_flush */
    if (!copy)
        util_datafile_verify(path, PSZ, NPAGES, want);
    unlink(path);
}

struct waiter {
    bp_pool *p;
    uint64_t seq;
    int rc;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;

    w->rc = bp_io_wait(w->p, w->seq, -1);
    return NULL;
}

static void test_nowait_inflight(void **state)
{
    const struct pcase *c = *state;
    uint64_t five = 5, seq;
    struct waiter wt;
    pthread_t th;
    char path[600];
    bp_stats st;
    bp_page pg, pg2;
    bp_pool *p;

    p = open_file(c, path, sizeof path, "nowait.db", 6, 0);
    assert_int_equal(bp_io_seq(p), 0);
    assert_int_equal(bp_io_wait(p, 0, -1), BP_EIDLE); /* never read ahead */
    assert_int_equal(bp__test_aio_hold(p, 1), 0);
    seq = bp_io_seq(p);
    assert_int_equal(bp_prefetch(p, &five, 1), 1);
    /* in flight, held there: no sleep (the test would hang), no read */
    assert_int_equal(bp_fix(p, 5, BP_SHARED | BP_NOWAIT, &pg), BP_EAGAIN);
    assert_int_equal(bp_fix(p, 5, BP_EXCLUSIVE | BP_NOWAIT, &pg), BP_EAGAIN);
    /* never asked for: nothing is started */
    assert_int_equal(bp_fix(p, 6, BP_SHARED | BP_NOWAIT, &pg), BP_ENOTCACHED);
    assert_int_equal(bp_fix(p, 6, BP_SHARED | BP_SCAN | BP_NOWAIT, &pg),
                     BP_ENOTCACHED);
    util_stats(p, &st);
    assert_int_equal(st.reads, 0);
    assert_int_equal(st.prefetch_started, 1);
    assert_int_equal(st.prefetch_done, 0);
    /* a second prefetch of a page in flight starts nothing */
    assert_int_equal(bp_prefetch(p, &five, 1), 0);
    assert_int_equal(bp_io_seq(p), seq);
    assert_int_equal(bp_io_wait(p, seq, 0), -ETIMEDOUT);
    assert_int_equal(bp_io_wait(p, seq, 2000000), -ETIMEDOUT);
    /* a thread asleep in bp_io_wait wakes when the read finishes */
    wt = (struct waiter){p, seq, 1};
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &wt), 0);
    assert_int_equal(bp__test_aio_hold(p, 0), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(wt.rc, 0);
    assert_true(bp_io_seq(p) != seq);
    util_fix_verify(p, 5, BP_SHARED | BP_NOWAIT, PSZ, 6);
    util_stats(p, &st);
    assert_int_equal(st.reads, 1);
    assert_int_equal(st.prefetch_done, 1);
    assert_int_equal(bp_io_wait(p, seq, -1), 0); /* an old ticket: at once */
    assert_int_equal(bp_io_wait(p, bp_io_seq(p), -1), BP_EIDLE);
    /* latched by this very thread: reported, not waited for */
    assert_int_equal(bp_fix(p, 5, BP_SHARED, &pg), 0);
    assert_int_equal(bp_fix(p, 5, BP_EXCLUSIVE | BP_NOWAIT, &pg2), BP_EAGAIN);
    assert_int_equal(bp_fix(p, 5, BP_SHARED | BP_NOWAIT, &pg2), 0);
    assert_int_equal(bp_unfix(p, &pg2, 0), 0);
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    assert_int_equal(bp_fix(p, 5, BP_EXCLUSIVE, &pg), 0);
    assert_int_equal(bp_fix(p, 5, BP_SHARED | BP_NOWAIT, &pg2), BP_EAGAIN);
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    /* the page not asked for is read by a plain fix, once */
    util_fix_verify(p, 6, BP_SHARED, PSZ, 6);
    util_stats(p, &st);
    assert_int_equal(st.reads, 2);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

static void test_nowait_any_order(void **state)
{
    enum { N = 48 };
    const struct pcase *c = *state;
    uint64_t want[N], ask[N];
    int done[N] = {0}, left = N, rounds = 0, rc;
    char path[600];
    bp_stats st;
    bp_pool *p;

    p = open_file(c, path, sizeof path, "anyorder.db", 8, 0);
    for (int i = 0; i < N; i++)
        want[i] = (uint64_t)(2 * i + 1);
    /* the first depth start together and arrive in any order */
    assert_int_equal(bp__test_aio_hold(p, 1), 0);
    assert_int_equal(bp_prefetch(p, want, N), 16);
    assert_int_equal(bp__test_aio_hold(p, 0), 0);
    while (left > 0) {
        uint64_t seq = bp_io_seq(p);
        size_t nask = 0;
        int got = 0;

        assert_true(++rounds < 100000);
        for (int i = N - 1; i >= 0; i--) { /* newest first */
            bp_page pg;

            if (done[i])
                continue;
            rc = bp_fix(p, want[i], BP_SHARED | BP_NOWAIT, &pg);
            if (rc == 0) {
                util_assert_stamp(pg.data, PSZ, want[i], 8);
                assert_int_equal(bp_unfix(p, &pg, 0), 0);
                done[i] = 1;
                left--;
                got++;
            } else if (rc == BP_ENOTCACHED) {
                ask[nask++] = want[i]; /* not started (depth): again */
            } else {
                assert_int_equal(rc, BP_EAGAIN);
            }
        }
        if (nask)
            assert_true(bp_prefetch(p, ask, nask) >= 0);
        if (!got) {
            rc = bp_io_wait(p, seq, -1);
            assert_true(rc == 0 || rc == BP_EIDLE);
        }
    }
    settle(p);
    util_stats(p, &st);
    assert_int_equal(st.reads, N); /* each page once, none by the fixes */
    assert_int_equal(st.prefetch_started, N);
    assert_int_equal(st.prefetch_done, N);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* Take n pages off the finished-read log into got[], waiting when none is
 * there; at most `piece` per call. */
static void finished_take(bp_pool *p, uint64_t *seq, uint64_t *got, int n,
                          int piece)
{
    uint64_t fin[8];
    int have = 0;

    while (have < n) {
        int k = bp_io_finished(p, seq, fin, (size_t)piece);

        assert_true(k >= 0 && k <= piece && have + k <= n);
        for (int i = 0; i < k; i++)
            got[have++] = fin[i];
        if (k == 0)
            assert_int_equal(bp_io_wait(p, *seq, 5000000000LL), 0);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void test_finished_log(void **state)
{
    const struct pcase *c = *state;
    uint64_t list[3] = {3, 5, 7}, got[3], fin[8], seq, seq0, old;
    char path[600];
    bp_pool *p, *q;

    p = open_file(c, path, sizeof path, "finlog.db", 9, 0);
    seq = bp_io_seq(p);
    assert_int_equal(bp_io_finished(p, &seq, fin, 8), 0); /* never read */
    assert_int_equal(bp__test_aio_hold(p, 1), 0);
    assert_int_equal(bp_prefetch(p, list, 3), 3);
    assert_int_equal(bp_io_finished(p, &seq, fin, 8), 0); /* held */
    assert_int_equal(bp__test_aio_hold(p, 0), 0);
    finished_take(p, &seq, got, 3, 2);
    assert_int_equal(seq, bp_io_seq(p));
    qsort(got, 3, sizeof got[0], cmp_u64);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i], list[i]);
        util_fix_verify(p, got[i], BP_SHARED | BP_NOWAIT, PSZ, 9);
    }
    assert_int_equal(bp_io_finished(p, &seq, fin, 8), 0);
    assert_int_equal(bp_io_finished(p, &seq, NULL, 0), 0);
    /* a read that fails is named too; the fix reads the page itself */
    if (bp__test_faults_compiled()) {
        list[0] = 40;
        assert_int_equal(bp__test_fault_arm(BP__SYS_DATA_READ, 1, EIO, 0),
                         0);
        assert_int_equal(bp_prefetch(p, list, 1), 1);
        finished_take(p, &seq, got, 1, 8);
        bp__test_fault_disarm();
        assert_int_equal(got[0], 40);
        util_fix_verify(p, 40, BP_SHARED, PSZ, 9);
    }
    /* more reads finish than the log holds (256) while nobody reads it */
    seq0 = old = bp_io_seq(p);
    for (uint64_t k = 0; bp_io_seq(p) - seq0 <= 300 && k < 2000; k++) {
        uint64_t b[16];

        for (uint64_t j = 0; j < 16; j++)
            b[j] = (k * 16 + j) % NPAGES;
        assert_true(bp_prefetch(p, b, 16) >= 0);
        settle(p);
    }
    assert_true(bp_io_seq(p) - seq0 > 300);
    assert_int_equal(bp_io_finished(p, &old, fin, 8), BP_ELAGGED);
    assert_int_equal(old, bp_io_seq(p));
    assert_int_equal(bp_io_finished(p, &old, fin, 8), 0);
    /* bad input */
    assert_int_equal(bp_io_finished(NULL, &seq, fin, 1), -EINVAL);
    assert_int_equal(bp_io_finished(p, NULL, fin, 1), -EINVAL);
    assert_int_equal(bp_io_finished(p, &seq, NULL, 1), -EINVAL);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    assert_int_equal(bp_create(&q, NULL), 0);
    seq = 0;
    assert_int_equal(bp_io_finished(q, &seq, fin, 1), BP_ESTATE);
    assert_int_equal(bp_close(q), 0);
    unlink(path);
}

static void test_nowait_bad_input(void **state)
{
    const struct pcase *c = *state;
    char path[600];
    bp_page pg;
    bp_pool *p, *q;

    p = open_file(c, path, sizeof path, "nowaitbad.db", 3, 0);
    assert_int_equal(bp_fix(NULL, 0, BP_NOWAIT, &pg), -EINVAL);
    assert_int_equal(bp_fix(p, 0, BP_SHARED | BP_NOWAIT, NULL), -EINVAL);
    assert_int_equal(bp_fix(p, 0, BP_NOWAIT | 0x400u, &pg), -EINVAL);
    assert_int_equal(bp_fix(p, NPAGES, BP_SHARED | BP_NOWAIT, &pg), BP_EPGNO);
    assert_non_null(strstr(bp_errmsg(p), "beyond the end"));
    assert_int_equal(bp_io_wait(NULL, 0, 0), -EINVAL);
    assert_int_equal(bp_io_seq(NULL), 0);
    assert_int_equal(bp_create(&q, NULL), 0); /* never opened */
    assert_int_equal(bp_io_wait(q, 0, -1), BP_ESTATE);
    assert_int_equal(bp_fix(q, 0, BP_SHARED | BP_NOWAIT, &pg), BP_ESTATE);
    assert_int_equal(bp_io_seq(q), 0);
    assert_int_equal(bp__test_aio_hold(q, 1), -EINVAL);
    assert_int_equal(bp_close(q), 0);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* Prefetch pgno alone and wait until its read has finished. */
static void prefetch_wait(bp_pool *p, uint64_t pgno)
{
    uint64_t seq = bp_io_seq(p);

    assert_int_equal(bp_prefetch(p, &pgno, 1), 1);
    assert_int_equal(bp_io_wait(p, seq, -1), 0);
}

static void test_prefetch_window_hit(void **state)
{
    const struct pcase *c = *state;
    char path[600];
    bp_stats st, st2;
    bp_pool *p;
    int linear;

    p = open_file(c, path, sizeof path, "pfhit.db", 4, 0);
    util_stats(p, &st);
    linear = st.backend == BP_BACKEND_LINEAR;
    for (uint64_t k = 0; k < 3; k++) {
        uint64_t pgno = 10 + 7 * k;

        prefetch_wait(p, pgno);
        if (!linear) /* the read landed in the slot the fix will use */
            assert_non_null(bp__test_slot_addr(p, pgno));
        util_stats(p, &st);
        util_fix_verify(p, pgno, BP_SHARED, PSZ, 4);
        util_stats(p, &st2);
        assert_int_equal(st2.reads, st.reads); /* read once, ahead */
        if (!linear) {
            assert_int_equal(st2.window_hits, st.window_hits + 1);
            assert_int_equal(st2.window_misses, st.window_misses);
            assert_int_equal(st2.copies_in, st.copies_in);
            assert_int_equal(st2.remaps_rfp, st.remaps_rfp);
            assert_int_equal(st2.remaps_mmap, st.remaps_mmap);
        }
    }
    util_stats(p, &st);
    assert_int_equal(st.prefetch_started, 3);
    assert_int_equal(st.prefetch_done, 3);
    assert_int_equal(st.prefetch_direct, direct_of(c, 3));
    assert_int_equal(st.reads, 3);
    util_check(p);
    /* the frames hold the pages too: reuse every slot (8 other pages),
     * then the three come back from the cache, no read */
    for (uint64_t i = 40; i < 48; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, 4);
    for (uint64_t k = 0; k < 3; k++)
        util_fix_verify(p, 10 + 7 * k, BP_EXCLUSIVE, PSZ, 4);
    util_stats(p, &st2);
    assert_int_equal(st2.reads, st.reads + 8);
    if (!linear)
        assert_int_equal(st2.window_misses, st.window_misses + 11);
    assert_int_equal(bp__test_lock_order_violations(), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

struct fixer {
    bp_pool *p;
    uint64_t pgno;
    uint32_t gen;
    int rc, ok;
};

static void *fix_thread(void *arg)
{
    struct fixer *x = arg;
    bp_page pg;

    x->rc = bp_fix(x->p, x->pgno, BP_SHARED, &pg);
    if (x->rc == 0) {
        x->ok = util_page_gen(pg.data, PSZ, x->pgno) == x->gen;
        x->rc = bp_unfix(x->p, &pg, 0);
    }
    return NULL;
}

/* The read of pgno fails as the fault table says (kinds, err, persistent):
 * afterwards neither a slot nor a frame holds the page; the fix after
 * reads it right.  *failed counts the failures so far. */
static void prefetch_fail_one(bp_pool *p, uint64_t pgno, int err,
                              uint64_t *failed)
{
    bp_stats st, st2;

    util_stats(p, &st);
    assert_int_equal(bp__test_fault_arm(BP__SYS_DATA_READ, 1, err, 0), 0);
    prefetch_wait(p, pgno);
    bp__test_fault_disarm();
    util_stats(p, &st2);
    /* a short read on the sync engine is completed: then it arrives */
    if (err == BP__SYS_SHORT && st2.prefetch_done == st.prefetch_done + 1) {
        util_fix_verify(p, pgno, BP_SHARED, PSZ, 3);
        return;
    }
    assert_int_equal(st2.prefetch_failed, ++*failed);
    assert_int_equal(st2.reads, st.reads);
    assert_null(bp__test_slot_addr(p, pgno));
    assert_int_equal(bp__test_frame_offset(p, pgno), UINT64_MAX);
    util_check(p);
    util_fix_verify(p, pgno, BP_SHARED, PSZ, 3);
    util_stats(p, &st);
    assert_int_equal(st.reads, st2.reads + 1);
}

static void test_prefetch_read_fails(void **state)
{
    const struct pcase *c = *state;
    uint64_t failed = 0, list[4] = {30, 31, 32, 33};
    struct fixer fx;
    pthread_t th;
    char path[600];
    bp_stats st;
    bp_pool *p;

    if (!bp__test_faults_compiled())
        skip();
    p = open_file(c, path, sizeof path, "pffail.db", 3, 0);
    prefetch_fail_one(p, 20, EIO, &failed);
    prefetch_fail_one(p, 21, BP__SYS_SHORT, &failed);
    /* failing for good: every page of a batch dropped, none left held */
    assert_int_equal(bp__test_fault_arm(BP__SYS_DATA_READ, 1, EIO, 1), 0);
    assert_int_equal(bp_prefetch(p, list, 4), 4);
    settle(p);
    bp__test_fault_disarm();
    failed += 4;
    util_stats(p, &st);
    assert_int_equal(st.prefetch_failed, failed);
    util_check(p);
    for (int i = 0; i < 4; i++) {
        assert_null(bp__test_slot_addr(p, list[i]));
        util_fix_verify(p, list[i], BP_SHARED, PSZ, 3);
    }
    hold_all_slots(p, UINT64_MAX, 3);
    /* a fix waiting for the read when it fails reads the page itself */
    assert_int_equal(bp__test_aio_hold(p, 1), 0);
    assert_int_equal(bp__test_fault_arm(BP__SYS_DATA_READ, 1, EIO, 0), 0);
    list[0] = 50;
    assert_int_equal(bp_prefetch(p, list, 1), 1);
    fx = (struct fixer){p, 50, 3, -1, 0};
    assert_int_equal(pthread_create(&th, NULL, fix_thread, &fx), 0);
    {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL); /* let it find the page in flight */
    }
    assert_int_equal(bp__test_aio_hold(p, 0), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    settle(p);
    bp__test_fault_disarm();
    assert_int_equal(fx.rc, 0);
    assert_true(fx.ok);
    util_stats(p, &st);
    assert_int_equal(st.prefetch_failed, failed + 1);
    assert_int_equal(bp__test_lock_order_violations(), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* ---- prefetching, fixing and writing threads at once ------------------ */

#define WPAGES 24u /* pages 0..WPAGES-1 rewritten by the writer */
#define ROUNDS 300

struct mixed {
    bp_pool *p;
    uint64_t seed;
    int bad;
};

static int mixed_check(bp_pool *p, uint64_t pgno, unsigned mode)
{
    bp_page pg;
    uint32_t gen;
    int rc = bp_fix(p, pgno, mode, &pg);

    if (rc)
        return rc;
    gen = util_page_gen(pg.data, PSZ, pgno);
    rc = bp_unfix(p, &pg, 0);
    /* the writer's pages move on; the others stay at 1 */
    if (gen == UTIL_GEN_BAD || gen == UTIL_GEN_ZERO ||
        (pgno >= WPAGES && gen != 1))
        return -EUCLEAN;
    return rc;
}

static void *mixed_reader(void *arg)
{
    struct mixed *m = arg;
    uint64_t rng = m->seed;

    for (int r = 0; r < ROUNDS && !m->bad; r++) {
        uint64_t list[6];
        unsigned mode = r & 1 ? BP_SHARED : BP_SHARED | BP_SCAN;

        for (int i = 0; i < 6; i++)
            list[i] = util_rand_below(&rng, NPAGES);
        if (bp_prefetch(m->p, list, 6) < 0)
            m->bad = 1;
        for (int i = 0; i < 6 && !m->bad; i++) {
            int rc = mixed_check(m->p, list[i], mode | BP_NOWAIT);

            if (rc == BP_EAGAIN || rc == BP_ENOTCACHED)
                rc = mixed_check(m->p, list[i], mode);
            if (rc) {
                print_error("page %llu: %s\n", (unsigned long long)list[i],
                            bp_strerror(rc));
                m->bad = 1;
            }
        }
    }
    return NULL;
}

static void test_prefetch_threads(void **state)
{
    const struct pcase *c = *state;
    uint32_t gens[NPAGES];
    struct mixed rd[2];
    pthread_t th[2];
    uint64_t rng = 99;
    char path[600];
    bp_stats st;
    bp_pool *p;

    /* 16 slots: the three threads' fixes and misses, the flush's batch
     * and the reads into slots (a quarter) leave some to replace */
    util_tmp_path(path, sizeof path, "pfthreads.db");
    util_datafile_create(path, PSZ, NPAGES, 1);
    if (!(p = open_case_slots(c, path, 0, 0, 0, 16)))
        skip();
    for (uint32_t i = 0; i < NPAGES; i++)
        gens[i] = 1;
    for (int t = 0; t < 2; t++) {
        rd[t] = (struct mixed){p, 1000u + (uint64_t)t, 0};
        assert_int_equal(pthread_create(&th[t], NULL, mixed_reader, &rd[t]),
                         0);
    }
    for (int r = 0; r < 2 * ROUNDS; r++) { /* the writer: this thread */
        uint64_t pgno = util_rand_below(&rng, WPAGES);

        util_fix_write(p, pgno, PSZ, gens[pgno], gens[pgno] + 1);
        gens[pgno]++;
        if (r % 100 == 99)
            assert_int_equal(bp_flush(p), 0);
    }
    for (int t = 0; t < 2; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_false(rd[t].bad);
    }
    settle(p);
    for (uint64_t i = 0; i < NPAGES; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, gens[i]);
    util_stats(p, &st);
    assert_true(st.prefetch_started > 0);
    assert_true(st.prefetch_direct > 0 || !direct_of(c, 1));
    assert_int_equal(bp__test_lock_order_violations(), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* Each page read ahead is one cache miss, whether it went into a window
 * slot or through a bounce buffer: past the quarter of the window that may
 * be in flight into slots, or when every slot is fixed (then the page was
 * looked up once for a slot and again for the bounce buffer). */
static void counts_check(bp_pool *p, uint64_t reads, uint64_t dmin,
                         uint64_t dmax)
{
    bp_stats st;

    util_stats(p, &st);
    assert_int_equal(st.prefetch_done, 6);
    assert_int_equal(st.reads, reads);
    assert_int_equal(st.cache_misses, reads);
    if (dmin == UINT64_MAX)
        return;
    if (st.backend == BP_BACKEND_LINEAR) /* all 6 into their frames, or
                                            all staged (io_staged bit 0) */
        assert_int_equal(st.prefetch_direct, (st.io_staged & 1u) ? 0 : 6);
    else if (st.io_staged & 1u) /* copy: staged, into slots or not */
        assert_int_equal(st.prefetch_direct, 0);
    else
        assert_true(st.prefetch_direct >= dmin && st.prefetch_direct <= dmax);
}

/* Prefetch pages first..first+5 into a pool of 8 slots, fixed of them
 * held (pages 88..), and check the counts (dmin..dmax reads into slots)
 * before and after fixing them. */
static void counts_run(const struct pcase *c, const char *path,
                       uint64_t first, int fixed, uint64_t dmin,
                       uint64_t dmax)
{
    uint64_t pgnos[6];
    bp_page held[8];
    bp_pool *p = open_case_slots(c, path, 0, 0, 0, 8);

    for (int i = 0; i < fixed; i++)
        assert_int_equal(bp_fix(p, 88 + (uint64_t)i, BP_SHARED, &held[i]),
                         0);
    for (int i = 0; i < 6; i++)
        pgnos[i] = first + (uint64_t)i;
    assert_int_equal(bp_prefetch(p, pgnos, 6), 6);
    settle(p);
    counts_check(p, (uint64_t)fixed + 6, dmin, dmax);
    for (int i = 0; i < fixed; i++)
        assert_int_equal(bp_unfix(p, &held[i], 0), 0);
    for (int i = 0; i < 6; i++)
        util_fix_verify(p, pgnos[i], BP_SHARED, PSZ, 3);
    counts_check(p, (uint64_t)fixed + 6, UINT64_MAX, 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
}

static void test_prefetch_counts(void **state)
{
    const struct pcase *c = *state;
    char path[600];
    bp_pool *p;

    util_tmp_path(path, sizeof path, "pfcount.db");
    util_datafile_create(path, PSZ, NPAGES, 3);
    if (!(p = open_case_slots(c, path, 0, 0, 0, 8)))
        skip();
    assert_int_equal(bp_close(p), 0);
    /* 8 slots: 2 reads into slots at a time (the quarter), the rest
     * bounced; more than 2 when a read into a slot finished before the
     * later pages were reserved (the sync engine's worker is that quick) */
    counts_run(c, path, 0, 0, 2, 6);
    /* every slot fixed: the reads that try a slot find none and bounce */
    counts_run(c, path, 10, 8, 0, 0);
    unlink(path);
}

/* Pages read ahead by a thread that then computes without system calls
 * (cooperative rings complete its reads only when it enters the kernel,
 * or at its next scheduler tick) reach another thread anyway: the other
 * thread's fixes of all of them return, right, while the first still
 * spins.  Bounded by a watchdog. */
struct spin_arg {
    bp_pool *p;
    int started;          /* atomic: the prefetch went out */
    int stop;             /* atomic: the fixer is done */
    int rc;
};

static void *spin_reader(void *v)
{
    struct spin_arg *a = v;
    uint64_t list[16];

    for (uint64_t i = 0; i < 16; i++)
        list[i] = 5 + 4 * i;
    a->rc = bp_prefetch(a->p, list, 16);
    __atomic_store_n(&a->started, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE))
        ; /* no system call */
    return NULL;
}

static void test_prefetch_other_thread(void **state)
{
    const struct pcase *c = *state;
    struct spin_arg a = {0};
    char path[600];
    pthread_t t;
    bp_stats st;

    a.p = open_file(c, path, sizeof path, "spin.db", 3, 0);
    util_watchdog_start(60, "read-ahead by a spinning thread");
    assert_int_equal(pthread_create(&t, NULL, spin_reader, &a), 0);
    while (!__atomic_load_n(&a.started, __ATOMIC_ACQUIRE))
        sched_yield();
    assert_true(a.rc > 0);
    for (uint64_t i = 0; i < 16; i++) /* waits for the reads in flight */
        util_fix_verify(a.p, 5 + 4 * i, BP_SHARED, PSZ, 3);
    __atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(t, NULL), 0);
    util_watchdog_stop();
    settle(a.p);
    util_stats(a.p, &st);
    assert_int_equal(st.reads, 16); /* each page read once */
    util_check(a.p);
    assert_int_equal(bp_close(a.p), 0);
    unlink(path);
}

/* ---- copy: read-ahead sent before the slot's old page goes home -------- */

static void ahead_sleep(void *arg, uint64_t pgno)
{
    struct timespec ts = {0, 20000000};

    (void)pgno;
    (*(int *)arg)++;
    nanosleep(&ts, NULL); /* the read completes meanwhile */
}

/* Pages 0..7 fixed into the 8 slots of a copy pool (dirty: rewritten from
 * gen 4 to 5), then pages 40, 41 read ahead into two of those slots. */
static bp_pool *ahead_setup(const struct pcase *c, char *path, size_t len,
                            const char *name, int dirty, bp_stats *st0)
{
    bp_pool *p = open_file(c, path, len, name, 4, 0);

    for (uint64_t pg = 0; pg < 8; pg++) {
        if (dirty)
            util_fix_write(p, pg, PSZ, 4, 5);
        else
            util_fix_verify(p, pg, BP_SHARED, PSZ, 4);
    }
    util_stats(p, st0);
    return p;
}

/* Copy backend, io_uring, staged (io_staged bit 0): a read-ahead into a
 * slot is sent first, and the slot's old page is copied home while the
 * disk reads; the completion copies the page into the slot only after
 * that (here it arrives first: bp__test_ahead_hook sleeps before the copy
 * home), so the old page's frame gets the old page, not the new one.
 * When the copy home fails, a clean old page leaves the cache (read again
 * later, the pool fine), and a modified one poisons the pool; the read
 * then ends with nothing filled (prefetch_failed). */
static void test_copy_ahead_home(void **state)
{
    const struct pcase *c = *state;
    uint64_t list[2] = {40, 41};
    char path[600];
    bp_stats st0, st;
    int calls = 0, gone = 0;
    bp_pool *p;

    p = ahead_setup(c, path, sizeof path, "ahead-home.db", 0, &st0);
    if (!(st0.io_staged & 1u)) { /* BUFPOOL_IO=sync */
        bp_close(p);
        unlink(path);
        print_message("  %s engine: read-ahead not staged, skipped\n",
                      st0.io_engine);
        skip();
    }
    util_fix_write(p, 0, PSZ, 4, 5); /* two of the slots modified */
    util_fix_write(p, 1, PSZ, 4, 5);
    if (bp__test_ahead_hook(ahead_sleep, &calls) != 0) {
        bp_close(p);
        unlink(path);
        print_message("  test hooks compiled out, skipped\n");
        skip();
    }
    assert_int_equal(bp_prefetch(p, list, 2), 2);
    settle(p);
    bp__test_ahead_hook(NULL, NULL);
    assert_int_equal(calls, 2);
    util_stats(p, &st);
    assert_int_equal(st.prefetch_done - st0.prefetch_done, 2);
    assert_int_equal(st.prefetch_direct, 0); /* staged */
    assert_int_equal(st.copies_home + st.copies_out -
                         (st0.copies_home + st0.copies_out), 2);
    util_fix_verify(p, 40, BP_SHARED, PSZ, 4);
    util_fix_verify(p, 41, BP_SHARED, PSZ, 4);
    for (uint64_t pg = 0; pg < 8; pg++) /* from their frames */
        util_fix_verify(p, pg, BP_SHARED, PSZ, pg < 2 ? 5 : 4);
    util_stats(p, &st);
    assert_int_equal(st.reads, st0.reads + 2);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);

    /* a clean old page whose copy home fails leaves the cache */
    p = ahead_setup(c, path, sizeof path, "ahead-fail.db", 0, &st0);
    if (bp__test_fault_arm(BP__SYS_BIT(SHM_PWRITE), 1, EIO, 0) != 0) {
        bp_close(p);
        unlink(path);
        print_message("  fault injection compiled out, skipped\n");
        skip();
    }
    assert_int_equal(bp_prefetch(p, list, 1), 1);
    settle(p);
    assert_int_equal(bp__test_fault_hits(), 1);
    bp__test_fault_disarm();
    util_stats(p, &st);
    assert_int_equal(st.prefetch_done - st0.prefetch_done, 1);
    assert_int_equal(st.prefetch_failed, st0.prefetch_failed);
    for (uint64_t pg = 0; pg < 8; pg++)
        gone += bp__test_frame_offset(p, pg) == UINT64_MAX;
    assert_int_equal(gone, 1);
    util_fix_verify(p, 40, BP_SHARED, PSZ, 4);
    for (uint64_t pg = 0; pg < 8; pg++)
        util_fix_verify(p, pg, BP_SHARED, PSZ, 4);
    util_stats(p, &st);
    assert_int_equal(st.reads, st0.reads + 2); /* page 40, the one gone */
    assert_int_equal(bp_flush(p), 0); /* not poisoned */
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);

    /* a modified one: its changes are lost, the pool is poisoned */
    p = ahead_setup(c, path, sizeof path, "ahead-poison.db", 1, &st0);
    assert_int_equal(bp__test_fault_arm(BP__SYS_BIT(SHM_PWRITE), 1, EIO, 0),
                     0);
    assert_int_equal(bp_prefetch(p, list, 1), 1);
    settle(p);
    assert_int_equal(bp__test_fault_hits(), 1);
    bp__test_fault_disarm();
    util_stats(p, &st);
    assert_int_equal(st.prefetch_done, st0.prefetch_done);
    assert_int_equal(st.prefetch_failed - st0.prefetch_failed, 1);
    assert_int_equal(bp_flush(p), BP_EPOISONED);
    (void)bp_close(p);
    unlink(path);
}

static const struct pcase cases[] = {
    {BP_BACKEND_COPY, BP_IO_URING, 0, 0},
    {BP_BACKEND_MMAP, BP_IO_URING, 0, 0},
    {BP_BACKEND_COPY, BP_IO_SYNC, 0, 0},
    {BP_BACKEND_MMAP, BP_IO_SYNC, 0, 0},
    {BP_BACKEND_LINEAR, BP_IO_URING, 0, 0}, /* I/O straight into the frames */
    {BP_BACKEND_LINEAR, BP_IO_SYNC, 0, 0},
    {BP_BACKEND_RFP, BP_IO_URING, 0, 0},
    {BP_BACKEND_RFP, BP_IO_SYNC, 0, 0},
    {BP_BACKEND_AUTO, BP_IO_URING, 0, 0},
    {BP_BACKEND_AUTO, BP_IO_SYNC, 0, 0},
    {BP_BACKEND_LINEAR, BP_IO_URING, 1, 0}, /* cooperative completions */
    {BP_BACKEND_COPY, BP_IO_URING, 1, 0},
    {BP_BACKEND_COPY, BP_IO_SYNC, 1, 0},  /* no ring: no effect */
    {BP_BACKEND_LINEAR, BP_IO_URING, 0, 1}, /* staged reads */
    {BP_BACKEND_LINEAR, BP_IO_SYNC, 0, 1},
    {BP_BACKEND_LINEAR, BP_IO_URING, 1, 1},
    {BP_BACKEND_COPY, BP_IO_URING, 0, 1},   /* staged into the slots */
    {BP_BACKEND_COPY, BP_IO_SYNC, 0, 1},    /* no ring: no effect */
};
#define NCASES (sizeof cases / sizeof cases[0])

int main(void)
{
    struct CMUnitTest t[NCASES * 13 + 1];
    static char names[NCASES * 13][64];
    size_t n = 0;

    util_init();
    for (size_t i = 0; i < NCASES; i++) {
        static const struct {
            const char *name;
            CMUnitTestFunction fn;
        } fns[] = {{"prefetch_reads_once", test_prefetch_reads_once},
                   {"prefetch_corrupt", test_prefetch_corrupt},
                   {"scan_reads_ahead", test_scan_reads_ahead},
                   {"flusher", test_flusher},
                   {"nowait_inflight", test_nowait_inflight},
                   {"nowait_any_order", test_nowait_any_order},
                   {"nowait_bad_input", test_nowait_bad_input},
                   {"finished_log", test_finished_log},
                   {"prefetch_window_hit", test_prefetch_window_hit},
                   {"prefetch_read_fails", test_prefetch_read_fails},
                   {"prefetch_threads", test_prefetch_threads},
                   {"prefetch_counts", test_prefetch_counts},
                   {"prefetch_other_thread", test_prefetch_other_thread}};

        for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++, n++) {
            snprintf(names[n], sizeof names[n], "%s/%s%s%s/%s",
                     util_backend_name(cases[i].backend),
                     cases[i].engine == BP_IO_URING ? "io_uring" : "sync",
                     cases[i].coop ? "+coop" : "",
                     cases[i].staged ? "+staged" : "", fns[k].name);
            t[n] = (struct CMUnitTest){names[n], fns[k].fn, NULL, NULL,
                                       (void *)&cases[i]};
        }
    }
    for (size_t i = 0; i < NCASES; i++) /* copy's staged read-ahead */
        if (cases[i].backend == BP_BACKEND_COPY &&
            cases[i].engine == BP_IO_URING && cases[i].staged) {
            t[n++] = (struct CMUnitTest){"copy/io_uring+staged/ahead_home",
                                         test_copy_ahead_home, NULL, NULL,
                                         (void *)&cases[i]};
            break;
        }
    return _cmocka_run_group_tests("prefetch", t, n, NULL, NULL);
}
