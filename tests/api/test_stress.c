/*
 * test_stress.c - many threads mixing shared fixes, exclusive fixes and
 * optimistic reads on one pool.
 *
 * mixed (per backend rfp, mmap, copy, auto): T = max(4, 2 x nproc) threads
 * on a data file of 512 pages seen through 64 cache frames and a 16-slot
 * window, so pages move between the tiers all the time; half the ops go to
 * 8 hot pages, so threads meet on the same pages.  Page layout (64-bit
 * words): word 0 = page number, word 1 = counter, word 2 = a copy of the
 * counter.  Each thread does a random mix of
 *   - shared fix: word 0 is the page number, word 1 == word 2;
 *   - exclusive fix: counter + 1 (words 1 and 2), unfix BP_DIRTY; the thread
 *     counts its increments per page;
 *   - optimistic read (bp_opt_begin, read words 0..2, bp_opt_validate,
 *     retried on BP_ERETRY): a validated read must show the page number,
 *     word 1 == word 2, a counter never below one this thread validated
 *     before, and (checked at the end) never above the page's final total;
 *   - now and then a bp_flush (thread 0 only).
 * At the end every counter, through the pool and in the data file read with
 * plain pread after a flush, equals the sum of all threads' increments.
 *
 * hot (per backend): one writer hammers exclusive fix / increment / unfix
 * on ONE page while two readers read it optimistically in a loop.  Every
 * validated read must be consistent (word 1 == word 2, page number right)
 * and monotonic.  In every 16th read the reader waits, between its reads
 * and bp_opt_validate, until the writer has completed two more exclusive
 * fixes: that validation must fail.  So "an optimistic read detects a
 * concurrent exclusive writer every time" is checked without relying on
 * timing, and validations failed > 0 over the run.
 *
 * Words the optimistic readers read racily are written with relaxed
 * __atomic stores and read with relaxed __atomic loads, so TSan sees the
 * test's own intended races as atomic.  The library also refills a slot
 * under a speculative reader (pread, copy-in, remap after an eviction):
 * that is the race the optimistic protocol accepts, so the speculative
 * reads are bracketed by util_ignore_reads_begin/end (TSan only).  Holders
 * of a shared or exclusive fix read with plain loads: the library's latches
 * must order them, and TSan checks that.
 *
 * Worker threads never call cmocka asserts (they longjmp into the test
 * thread); they count errors, print the first few, and the test thread
 * asserts.
 */
#include "util_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096u

/* mixed */
#define M_NPAGES 512u
#define M_FRAMES 64u
#define M_SLOTS 16u
#define M_HOT_PAGES 8u /* half the ops go to pages 0..7 */
#define M_MAXT 64
/* Operations per backend, split among the threads: ~1-2 s per backend in a
 * normal build on 2 cores, well under a minute for the whole program under
 * TSan.  The environment variable BPTEST_STRESS_OPS overrides it (soak
 * runs by hand). */
#define M_OPS_TOTAL 24000
#define M_FLUSH_EVERY 700 /* thread 0's ops between flushes */
/* Attempts of one optimistic read before giving up (counted as an error:
 * "a failed validation never followed by a successful retry"). */
#define OPT_MAX_ATTEMPTS 1000000
/* Attempts after which a hot reader asks the writer to pause: optimistic
 * reads detect writers, they do not promise progress against one that
 * never stops (engines fall back to a shared fix; this test checks that a
 * retry succeeds once the writer lets it). */
#define STARVING 1000

/* hot */
#define H_NPAGES 8u
#define H_FRAMES 8u
#define H_SLOTS 4u
#define H_PGNO 5u
#define H_READERS 2
#define H_ITERS 6000        /* optimistic reads per reader */
#define H_FORCE_EVERY 16    /* every 16th read waits for the writer */
#define H_WRITER_CAP 50000000ull /* bound on the writer's loop */

#define MAX_REPORTS 5

static int errors;

/* Count an error found by a worker thread and print the first few. */
static void worker_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void worker_error(const char *fmt, ...)
{
    va_list ap;

    if (__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED) >= MAX_REPORTS)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

static uint64_t word_get(const void *page, unsigned i)
{
    return __atomic_load_n((const uint64_t *)page + i, __ATOMIC_RELAXED);
}

static void word_set(void *page, unsigned i, uint64_t v)
{
    __atomic_store_n((uint64_t *)page + i, v, __ATOMIC_RELAXED);
}

static int skip_backend(bp_backend b)
{
    if (b == BP_BACKEND_RFP && !util_have_rfp()) {
        printf("rfp: remap_file_pages is not available here\n");
        return 1;
    }
    return 0;
}

/* Fill a fresh data file with npages pages {pgno, 0, 0, ...} through the
 * pool. */
static void fill_pages(bp_pool *p, uint64_t npages)
{
    for (uint64_t i = 0; i < npages; i++) {
        bp_page pg;

        assert_int_equal(bp_alloc_page(p, &pg), 0);
        assert_true(pg.pgno == i);
        word_set(pg.data, 0, i);
        assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    }
}

/* ---- one optimistic read ----------------------------------------------------- */

struct opt_counts {
    uint64_t begins_ok;     /* bp_opt_begin returned 0 */
    uint64_t begin_retries; /* bp_opt_begin returned BP_ERETRY */
    uint64_t failed;        /* bp_opt_validate returned BP_ERETRY */
    uint64_t validated;     /* reads that validated */
    uint64_t needed_retry;  /* reads with >= 1 failed validation */
    uint64_t retried_ok;    /* ... that then validated on a retry */
};

/* Raise *starving (when not NULL) after attempt number STARVING of one read
 * and lower it when the read ends: the hot writer pauses meanwhile. */
static void starve_mark(int *starving, long attempt, int *marked)
{
    if (starving && !*marked && attempt >= STARVING) {
        __atomic_add_fetch(starving, 1, __ATOMIC_ACQ_REL);
        *marked = 1;
    }
}

static void starve_unmark(int *starving, int marked)
{
    if (marked)
        __atomic_sub_fetch(starving, 1, __ATOMIC_ACQ_REL);
}

/* Read words 0..2 of pgno optimistically, retrying until a validation
 * succeeds.  Returns 0 with w[] filled, or -1 (error counted).  starving:
 * see starve_mark (NULL: none). */
static int opt_read(bp_pool *p, uint64_t pgno, uint64_t w[3],
                    struct opt_counts *c, int *starving)
{
    int had_failure = 0, marked = 0, rc = -1;

    for (long attempt = 0; attempt < OPT_MAX_ATTEMPTS; attempt++) {
        bp_opt o;

        starve_mark(starving, attempt, &marked);
        rc = bp_opt_begin(p, pgno, &o);

        if (rc == BP_ERETRY) {
            c->begin_retries++;
            sched_yield();
            continue;
        }
        if (rc != 0) {
            worker_error("bp_opt_begin(%" PRIu64 "): %s (%d)\n", pgno,
                         bp_strerror(rc), rc);
            break;
        }
        c->begins_ok++;
        if (o.data == NULL || o.pgno != pgno) {
            worker_error("bp_opt_begin(%" PRIu64 ") gave data %p pgno %" PRIu64
                         "\n", pgno, o.data, o.pgno);
            rc = -1;
            break;
        }
        util_ignore_reads_begin();
        for (unsigned i = 0; i < 3; i++)
            w[i] = word_get(o.data, i);
        util_ignore_reads_end();
        rc = bp_opt_validate(p, &o);
        if (rc == 0) {
            c->validated++;
            if (had_failure)
                c->retried_ok++;
            break;
        }
        if (rc != BP_ERETRY) {
            worker_error("bp_opt_validate(%" PRIu64 "): %s (%d)\n", pgno,
                         bp_strerror(rc), rc);
            break;
        }
        c->failed++;
        if (!had_failure)
            c->needed_retry++;
        had_failure = 1;
    }
    starve_unmark(starving, marked);
    if (rc == BP_ERETRY)
        worker_error("optimistic read of page %" PRIu64 " still failing after "
                     "%d attempts\n", pgno, OPT_MAX_ATTEMPTS);
    return rc == 0 ? 0 : -1;
}

static void opt_counts_add(struct opt_counts *sum, const struct opt_counts *c)
{
    sum->begins_ok += c->begins_ok;
    sum->begin_retries += c->begin_retries;
    sum->failed += c->failed;
    sum->validated += c->validated;
    sum->needed_retry += c->needed_retry;
    sum->retried_ok += c->retried_ok;
}

static void opt_counts_print(const char *what, const struct opt_counts *c)
{
    printf("%s: optimistic reads validated %" PRIu64 ", begins %" PRIu64
           " (+%" PRIu64 " BP_ERETRY), failed validations %" PRIu64
           ", reads that needed a retry %" PRIu64 ", successful retries %"
           PRIu64 "\n",
           what, c->validated, c->begins_ok, c->begin_retries, c->failed,
           c->needed_retry, c->retried_ok);
}

/* ---- mixed ------------------------------------------------------------------- */

struct mixed {
    bp_pool *p;
    int nthreads;
    int ops; /* per thread */
};

struct mworker {
    struct mixed *m;
    int id;
    pthread_t tid;
    uint64_t incs[M_NPAGES];     /* this thread's increments per page */
    uint64_t seen[M_NPAGES];     /* highest counter it validated */
    struct opt_counts oc;
    uint64_t shared_fixes, excl_fixes, flushes;
    uint64_t not_now; /* BP_NOWAIT fixes that got BP_EAGAIN/BP_ENOTCACHED */
};

/* BP_NOWAIT fixes may answer "not now" (BP_EAGAIN: a conflicting latch,
 * readers still in for an exclusive fix, a read in flight; BP_ENOTCACHED:
 * not cached) with nothing held: counted, not errors. */
static int mixed_not_now(struct mworker *w, unsigned mode, int rc)
{
    if ((mode & BP_NOWAIT) && (rc == BP_EAGAIN || rc == BP_ENOTCACHED)) {
        w->not_now++;
        return 1;
    }
    return 0;
}

static void mixed_shared(struct mworker *w, uint64_t pgno, unsigned mode)
{
    bp_page pg;
    int rc = bp_fix(w->m->p, pgno, BP_SHARED | mode, &pg);

    if (mixed_not_now(w, mode, rc))
        return;
    if (rc != 0) {
        worker_error("bp_fix(%" PRIu64 ", shared): %s (%d)\n", pgno,
                     bp_strerror(rc), rc);
        return;
    }
    const uint64_t *d = pg.data;
    if (d[0] != pgno || d[1] != d[2])
        worker_error("shared fix of page %" PRIu64 ": words %" PRIu64
                     " %" PRIu64 " %" PRIu64 "\n", pgno, d[0], d[1], d[2]);
    if ((rc = bp_unfix(w->m->p, &pg, 0)) != 0)
        worker_error("bp_unfix(%" PRIu64 "): %d\n", pgno, rc);
    w->shared_fixes++;
}

static void mixed_excl(struct mworker *w, uint64_t pgno, int yield,
                       unsigned mode)
{
    bp_page pg;
    int rc = bp_fix(w->m->p, pgno, BP_EXCLUSIVE | mode, &pg);

    if (mixed_not_now(w, mode, rc))
        return;
    if (rc != 0) {
        worker_error("bp_fix(%" PRIu64 ", excl): %s (%d)\n", pgno,
                     bp_strerror(rc), rc);
        return;
    }
    const uint64_t *d = pg.data;
    uint64_t v = d[1];
    if (d[0] != pgno || d[1] != d[2])
        worker_error("exclusive fix of page %" PRIu64 ": words %" PRIu64
                     " %" PRIu64 " %" PRIu64 "\n", pgno, d[0], d[1], d[2]);
    word_set(pg.data, 1, v + 1);
    if (yield) /* widen the window in which words 1 and 2 differ */
        sched_yield();
    word_set(pg.data, 2, v + 1);
    w->incs[pgno]++;
    if ((rc = bp_unfix(w->m->p, &pg, BP_DIRTY)) != 0)
        worker_error("bp_unfix(%" PRIu64 ", dirty): %d\n", pgno, rc);
    w->excl_fixes++;
}

static void mixed_opt(struct mworker *w, uint64_t pgno)
{
    uint64_t d[3];

    if (opt_read(w->m->p, pgno, d, &w->oc, NULL) != 0)
        return;
    if (d[0] != pgno || d[1] != d[2])
        worker_error("validated optimistic read of page %" PRIu64
                     ": words %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                     pgno, d[0], d[1], d[2]);
    if (d[1] < w->seen[pgno])
        worker_error("validated optimistic read of page %" PRIu64
                     ": counter %" PRIu64 " below %" PRIu64
                     " validated before\n", pgno, d[1], w->seen[pgno]);
    else
        w->seen[pgno] = d[1];
}

static void *mixed_main(void *arg)
{
    struct mworker *w = arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);

    for (int i = 0; i < w->m->ops; i++) {
        /* half the ops on a few hot pages, for contention */
        uint64_t pgno = util_rand_below(&rng, 2)
                            ? util_rand_below(&rng, M_HOT_PAGES)
                            : util_rand_below(&rng, M_NPAGES);
        uint64_t r = util_rand_below(&rng, 100);
        unsigned mode = i % 8 == 3 ? BP_NOWAIT : 0; /* some never wait */

        if (r < 35)
            mixed_shared(w, pgno, mode);
        else if (r < 60)
            mixed_excl(w, pgno, r % 4 == 0, mode);
        else
            mixed_opt(w, pgno);
        if (w->id == 0 && i % M_FLUSH_EVERY == M_FLUSH_EVERY - 1) {
            int rc = bp_flush(w->m->p);

            if (rc != 0)
                worker_error("bp_flush: %s (%d)\n", bp_strerror(rc), rc);
            w->flushes++;
        }
    }
    return NULL;
}

static uint64_t mixed_total(struct mworker *ws, int n, uint64_t pgno)
{
    uint64_t sum = 0;

    for (int t = 0; t < n; t++)
        sum += ws[t].incs[pgno];
    return sum;
}

/* M_OPS_TOTAL, or $BPTEST_STRESS_OPS for a longer soak by hand. */
static unsigned long mixed_ops_total(void)
{
    const char *env = getenv("BPTEST_STRESS_OPS");
    unsigned long n = env ? strtoul(env, NULL, 10) : 0;

    return n > 0 && n < 1000000000ul ? n : M_OPS_TOTAL;
}

static void run_mixed(bp_backend b)
{
    struct util_cfg c = {.backend = b, .page_size = PSZ, .frames = M_FRAMES,
                         .slots = M_SLOTS, .flags = BP_CREATE};
    struct mixed m;
    struct mworker *ws;
    struct opt_counts sum;
    bp_stats st;
    char path[512];
    uint64_t excl = 0, shared = 0, flushes = 0, not_now = 0;
    int fd;

    if (skip_backend(b))
        skip();
    memset(&m, 0, sizeof m);
    memset(&sum, 0, sizeof sum);
    errors = 0;
    m.nthreads = 2 * util_nproc();
    if (m.nthreads < 4)
        m.nthreads = 4;
    if (m.nthreads > M_MAXT)
        m.nthreads = M_MAXT;
    m.ops = (int)(mixed_ops_total() / (unsigned long)m.nthreads);
    ws = calloc((size_t)m.nthreads, sizeof *ws);
    assert_non_null(ws);

    util_tmp_path(path, sizeof path, "mixed");
    unlink(path);
    assert_int_equal(util_pool_open(&m.p, path, &c), 0);
    fill_pages(m.p, M_NPAGES);

    for (int t = 0; t < m.nthreads; t++) {
        ws[t].m = &m;
        ws[t].id = t;
        assert_int_equal(pthread_create(&ws[t].tid, NULL, mixed_main, &ws[t]),
                         0);
    }
    for (int t = 0; t < m.nthreads; t++)
        assert_int_equal(pthread_join(ws[t].tid, NULL), 0);

    for (int t = 0; t < m.nthreads; t++) {
        opt_counts_add(&sum, &ws[t].oc);
        excl += ws[t].excl_fixes;
        shared += ws[t].shared_fixes;
        flushes += ws[t].flushes;
        not_now += ws[t].not_now;
    }
    util_stats(m.p, &st);
    printf("%s (%s): %d threads x %d ops: %" PRIu64 " shared fixes, %" PRIu64
           " exclusive fixes, %" PRIu64 " flushes, %" PRIu64 " BP_NOWAIT "
           "fixes not ready; stats: fixes %" PRIu64
           ", latch_waits %" PRIu64 ", opt_begins %" PRIu64
           ", opt_failures %" PRIu64 ", slot_evictions %" PRIu64
           ", frame_evictions %" PRIu64 ", reader_barriers %" PRIu64
           " (%s)\n",
           util_backend_name(b), bp_backend_name((bp_backend)st.backend),
           m.nthreads, m.ops, shared, excl, flushes, not_now, st.fixes,
           st.latch_waits,
           st.opt_begins, st.opt_failures, st.slot_evictions,
           st.frame_evictions, st.reader_barriers, st.reader_fence);
    opt_counts_print(util_backend_name(b), &sum);
    assert_int_equal(errors, 0);
    /* (a) every failed validation was followed by a successful retry */
    assert_true(sum.retried_ok == sum.needed_retry);
    assert_true(sum.needed_retry <= sum.failed);
    /* the library's counters agree with what the threads saw */
    assert_true(st.opt_begins == sum.begins_ok);
    assert_true(st.opt_failures == sum.failed);

    util_check(m.p);
    for (uint64_t i = 0; i < M_NPAGES; i++) {
        uint64_t want = mixed_total(ws, m.nthreads, i);
        bp_page pg;

        assert_int_equal(bp_fix(m.p, i, BP_SHARED, &pg), 0);
        const uint64_t *d = pg.data;
        uint64_t d0 = d[0], d1 = d[1], d2 = d[2];
        assert_int_equal(bp_unfix(m.p, &pg, 0), 0);
        if (d0 != i || d1 != want || d2 != want)
            print_error("page %" PRIu64 " through the pool: words %" PRIu64
                        " %" PRIu64 " %" PRIu64 ", expected counter %" PRIu64
                        "\n", i, d0, d1, d2, want);
        assert_true(d0 == i);
        assert_true(d1 == want);
        assert_true(d2 == want);
        for (int t = 0; t < m.nthreads; t++) {
            if (ws[t].seen[i] > want)
                print_error("thread %d validated counter %" PRIu64 " of page %"
                            PRIu64 ", above its final %" PRIu64 "\n", t,
                            ws[t].seen[i], i, want);
            assert_true(ws[t].seen[i] <= want);
        }
    }
    assert_int_equal(bp_flush(m.p), 0);
    assert_int_equal(bp_close(m.p), 0);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(util_file_size(path) == (uint64_t)M_NPAGES * PSZ);
    for (uint64_t i = 0; i < M_NPAGES; i++) {
        uint64_t d[3], want = mixed_total(ws, m.nthreads, i);

        assert_int_equal(pread(fd, d, sizeof d, (off_t)(i * PSZ)),
                         (ssize_t)sizeof d);
        if (d[0] != i || d[1] != want || d[2] != want)
            print_error("page %" PRIu64 " in the data file: words %" PRIu64
                        " %" PRIu64 " %" PRIu64 ", expected counter %" PRIu64
                        "\n", i, d[0], d[1], d[2], want);
        assert_true(d[0] == i && d[1] == want && d[2] == want);
    }
    close(fd);
    unlink(path);
    free(ws);
}

/* ---- hot: one writer, two optimistic readers, one page ----------------------- */

struct hot {
    bp_pool *p;
    uint64_t progress;   /* exclusive fixes completed (atomic) */
    int readers_done;    /* atomic */
    int writer_done;     /* atomic */
    int starving;        /* atomic: readers asking the writer to pause */
    uint64_t pauses;     /* times the writer paused for them */
    uint64_t writes;     /* the writer's increments (read after join) */
};

struct hreader {
    struct hot *h;
    int id;
    pthread_t tid;
    struct opt_counts oc;
    uint64_t seen;          /* highest validated counter */
    uint64_t forced;        /* reads that waited for two writer fixes */
    uint64_t forced_failed; /* ... whose validation failed, as it must */
};

static void *hot_writer(void *arg)
{
    struct hot *h = arg;

    for (uint64_t n = 0; n < H_WRITER_CAP; n++) {
        bp_page pg;
        int rc;

        if (__atomic_load_n(&h->readers_done, __ATOMIC_ACQUIRE) == H_READERS)
            break;
        if (__atomic_load_n(&h->starving, __ATOMIC_ACQUIRE)) {
            h->pauses++;
            while (__atomic_load_n(&h->starving, __ATOMIC_ACQUIRE))
                sched_yield();
        }
        if ((rc = bp_fix(h->p, H_PGNO, BP_EXCLUSIVE, &pg)) != 0) {
            worker_error("writer: bp_fix: %s (%d)\n", bp_strerror(rc), rc);
            break;
        }
        const uint64_t *d = pg.data;
        uint64_t v = d[1];
        if (d[0] != H_PGNO || d[2] != v)
            worker_error("writer: page words %" PRIu64 " %" PRIu64 " %" PRIu64
                         "\n", d[0], d[1], d[2]);
        /* two separate stores: a reader in between sees word1 != word2 */
        word_set(pg.data, 1, v + 1);
        if (n % 16 == 0)
            sched_yield();
        word_set(pg.data, 2, v + 1);
        h->writes++;
        if ((rc = bp_unfix(h->p, &pg, BP_DIRTY)) != 0) {
            worker_error("writer: bp_unfix: %s (%d)\n", bp_strerror(rc), rc);
            break;
        }
        __atomic_add_fetch(&h->progress, 1, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&h->writer_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* One read that holds its optimistic read open until the writer has
 * completed two more exclusive fixes: the second of them began after
 * bp_opt_begin returned, so the validation must fail. */
static void hot_forced_read(struct hreader *r)
{
    struct hot *h = r->h;
    bp_opt o;
    int rc, marked = 0;

    for (long attempt = 0;; attempt++) {
        starve_mark(&h->starving, attempt, &marked);
        if ((rc = bp_opt_begin(h->p, H_PGNO, &o)) != BP_ERETRY)
            break;
        r->oc.begin_retries++;
        sched_yield();
    }
    starve_unmark(&h->starving, marked);
    if (rc != 0) {
        worker_error("reader: bp_opt_begin: %s (%d)\n", bp_strerror(rc), rc);
        return;
    }
    r->oc.begins_ok++;
    util_ignore_reads_begin();
    uint64_t w1 = word_get(o.data, 1);
    util_ignore_reads_end();
    uint64_t snap = __atomic_load_n(&h->progress, __ATOMIC_SEQ_CST);
    int waited = 1;
    while (__atomic_load_n(&h->progress, __ATOMIC_SEQ_CST) < snap + 2) {
        if (__atomic_load_n(&h->writer_done, __ATOMIC_ACQUIRE)) {
            waited = __atomic_load_n(&h->progress, __ATOMIC_SEQ_CST) >=
                     snap + 2;
            break;
        }
        sched_yield();
    }
    rc = bp_opt_validate(h->p, &o);
    if (rc != 0 && rc != BP_ERETRY) {
        worker_error("reader: bp_opt_validate: %s (%d)\n", bp_strerror(rc), rc);
        return;
    }
    if (rc == BP_ERETRY)
        r->oc.failed++;
    else
        r->oc.validated++;
    if (!waited)
        return;
    r->forced++;
    if (rc == BP_ERETRY)
        r->forced_failed++;
    else
        worker_error("reader %d: bp_opt_validate returned 0 although the "
                     "writer completed exclusive fixes of the page after "
                     "bp_opt_begin (counter read %" PRIu64 ", now >= %" PRIu64
                     ")\n", r->id, w1, snap + 2);
}

static void *hot_reader(void *arg)
{
    struct hreader *r = arg;
    struct hot *h = r->h;

    for (int i = 0; i < H_ITERS; i++) {
        uint64_t d[3];

        if (i % H_FORCE_EVERY == H_FORCE_EVERY - 1) {
            hot_forced_read(r);
            continue;
        }
        if (opt_read(h->p, H_PGNO, d, &r->oc, &h->starving) != 0)
            break;
        if (d[0] != H_PGNO || d[1] != d[2])
            worker_error("reader %d: validated an inconsistent read: words %"
                         PRIu64 " %" PRIu64 " %" PRIu64 "\n", r->id, d[0],
                         d[1], d[2]);
        if (d[1] < r->seen)
            worker_error("reader %d: validated counter %" PRIu64 " after %"
                         PRIu64 "\n", r->id, d[1], r->seen);
        else
            r->seen = d[1];
    }
    __atomic_add_fetch(&h->readers_done, 1, __ATOMIC_ACQ_REL);
    return NULL;
}

static void run_hot(bp_backend b)
{
    struct util_cfg c = {.backend = b, .page_size = PSZ, .frames = H_FRAMES,
                         .slots = H_SLOTS, .flags = BP_CREATE};
    struct hot h;
    struct hreader rs[H_READERS];
    struct opt_counts sum;
    pthread_t wt;
    bp_stats st;
    bp_page pg;
    char path[512];
    uint64_t forced = 0, forced_failed = 0;

    if (skip_backend(b))
        skip();
    memset(&h, 0, sizeof h);
    memset(rs, 0, sizeof rs);
    memset(&sum, 0, sizeof sum);
    errors = 0;
    util_tmp_path(path, sizeof path, "hot");
    unlink(path);
    assert_int_equal(util_pool_open(&h.p, path, &c), 0);
    fill_pages(h.p, H_NPAGES);

    assert_int_equal(pthread_create(&wt, NULL, hot_writer, &h), 0);
    for (int i = 0; i < H_READERS; i++) {
        rs[i].h = &h;
        rs[i].id = i;
        assert_int_equal(pthread_create(&rs[i].tid, NULL, hot_reader, &rs[i]),
                         0);
    }
    for (int i = 0; i < H_READERS; i++)
        assert_int_equal(pthread_join(rs[i].tid, NULL), 0);
    assert_int_equal(pthread_join(wt, NULL), 0);

    for (int i = 0; i < H_READERS; i++) {
        opt_counts_add(&sum, &rs[i].oc);
        forced += rs[i].forced;
        forced_failed += rs[i].forced_failed;
    }
    util_stats(h.p, &st);
    printf("%s (%s): writer %" PRIu64 " exclusive fixes, paused %" PRIu64
           " times for starving readers; reads held across two writer fixes %"
           PRIu64 ", of which failed validation %" PRIu64 "; stats latch_waits %"
           PRIu64 " opt_begins %" PRIu64 " opt_failures %" PRIu64 "\n",
           util_backend_name(b), bp_backend_name((bp_backend)st.backend),
           h.writes, h.pauses, forced, forced_failed, st.latch_waits,
           st.opt_begins, st.opt_failures);
    opt_counts_print(util_backend_name(b), &sum);
    assert_int_equal(errors, 0);
    assert_true(sum.retried_ok == sum.needed_retry);
    assert_true(forced > 0);
    assert_true(forced_failed == forced);
    assert_true(sum.failed > 0);
    assert_true(st.opt_begins == sum.begins_ok);
    assert_true(st.opt_failures == sum.failed);

    util_check(h.p);
    assert_int_equal(bp_fix(h.p, H_PGNO, BP_SHARED, &pg), 0);
    const uint64_t *d = pg.data;
    uint64_t d0 = d[0], d1 = d[1], d2 = d[2];
    assert_int_equal(bp_unfix(h.p, &pg, 0), 0);
    assert_true(d0 == H_PGNO);
    assert_true(d1 == h.writes);
    assert_true(d2 == h.writes);
    for (int i = 0; i < H_READERS; i++)
        assert_true(rs[i].seen <= h.writes);
    assert_int_equal(bp_close(h.p), 0);
    unlink(path);
}

/* ---- cmocka ------------------------------------------------------------------ */

#define BACKEND_TESTS(b, name)                                                 \
    static void test_mixed_##name(void **state)                                \
    {                                                                          \
        (void)state;                                                           \
        run_mixed(b);                                                          \
    }                                                                          \
    static void test_hot_##name(void **state)                                  \
    {                                                                          \
        (void)state;                                                           \
        run_hot(b);                                                            \
    }

BACKEND_TESTS(BP_BACKEND_RFP, rfp)
BACKEND_TESTS(BP_BACKEND_MMAP, mmap)
BACKEND_TESTS(BP_BACKEND_COPY, copy)
BACKEND_TESTS(BP_BACKEND_AUTO, auto)

/* Last: all the runs above took the library's locks in order (debug
 * builds count inversions; release builds count nothing). */
static void test_lock_order_clean(void **state)
{
    (void)state;
    assert_int_equal(bp__test_lock_order_violations(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hot_rfp),   cmocka_unit_test(test_hot_mmap),
        cmocka_unit_test(test_hot_copy),  cmocka_unit_test(test_hot_auto),
        cmocka_unit_test(test_mixed_rfp), cmocka_unit_test(test_mixed_mmap),
        cmocka_unit_test(test_mixed_copy), cmocka_unit_test(test_mixed_auto),
        cmocka_unit_test(test_lock_order_clean),
    };

    util_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
