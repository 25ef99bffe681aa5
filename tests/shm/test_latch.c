/*
 * test_latch.c - page latch semantics, optimistic-read validation, close
 * while fixed, and the debug lock-order checker.
 *
 * (a) per backend: an exclusive fix excludes a shared and an exclusive fix
 *     of the same page from another thread, and a shared fix excludes an
 *     exclusive one: thread A holds page X
 *     exclusively, thread B calls bp_fix(X) and must not return before A,
 *     which sets a flag just before its unfix, has unfixed: B must see the
 *     flag set right after its bp_fix returns.  A waits for bp_stats'
 *     latch_waits to grow (B is blocked) before it lets go, with a bounded
 *     number of polls as a fallback: the check never depends on speed, only
 *     its sensitivity would.  Two shared fixes must not block each other:
 *     both holders meet at a barrier inside the held section; a library
 *     that blocks the second one deadlocks, which a watchdog turns into a
 *     failure.  Afterwards latch_waits > 0.
 * Every backend, linear too (its optimistic reads and fix hits find the
 * frame through the cache's direct page index, not the window table).
 *
 * (b) per backend: bp_opt_begin on a page another thread holds exclusively
 *     returns BP_ERETRY; after that thread's unfix with BP_DIRTY, an
 *     optimistic read begun before the exclusive fix fails validation
 *     (BP_ERETRY) and one begun after it validates (0) and shows the new
 *     bytes.  And an optimistic read of a page that leaves the window
 *     (its slot taken for other pages) fails validation, even after the
 *     page came back.
 * (c) bp_close with a page still fixed returns -EBUSY, leaves the pool
 *     usable and bp_errmsg names the page number; after the unfix, close
 *     succeeds.
 * (d) BP_DEBUG builds: bp__test_lock_order_probe makes
 *     bp__test_lock_order_violations grow; release builds (probe answers
 *     -ENOTSUP): skipped.
 *
 * (e) asymmetric fences: with BUFPOOL_READER_FENCE=eager, a page read
 *     shared a few times becomes UNFENCED; thread A then holds it shared
 *     through an unfenced reader slot and B's exclusive fix must still wait
 *     for A (as in (a)), having paid one membarrier (reader_barriers + 1);
 *     a second exclusive fix right after pays none (the first take cleared
 *     UNFENCED).  With BUFPOOL_READER_FENCE=always no barrier is ever paid.
 *     Skipped, saying why, where membarrier(2) is refused.
 *
 * Helper threads never call cmocka asserts: they record what they saw and
 * the test thread asserts after joining them.
 */
#include "util_test.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 300u
#define FRAMES 32u
#define SLOTS 8u
#define PGNO_X 7u
#define PGNO_BUSY 293u /* (c): a number unlikely to appear by chance */
#define WATCHDOG_S 120u
/* (a): polls of latch_waits, 1 ms apart, before A lets go anyway */
#define MAX_POLLS 5000

static char data_path[512];

static int group_setup(void **state)
{
    (void)state;
    util_tmp_path(data_path, sizeof data_path, "latch.db");
    util_datafile_create(data_path, PSZ, NPAGES, 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(data_path);
    return 0;
}

/* A test that failed while the watchdog ran must not leave it armed. */
static int teardown_watchdog(void **state)
{
    (void)state;
    util_watchdog_stop();
    return 0;
}

static int skip_backend(bp_backend b)
{
    if (b == BP_BACKEND_RFP && !util_have_rfp()) {
        printf("rfp: remap_file_pages is not available here\n");
        return 1;
    }
    if (b == BP_BACKEND_LINEAR && sizeof(void *) < 8) {
        printf("linear: needs a 64-bit address space\n");
        return 1;
    }
    return 0;
}

static bp_pool *open_pool(bp_backend b)
{
    /* the eviction cases push a page out by fixing others after it:
     * recency order */
    struct util_cfg c = {.backend = b, .page_size = PSZ, .frames = FRAMES,
                         .slots = SLOTS, .replacement = BP_REPLACE_CLOCK};
    bp_pool *p;

    assert_int_equal(util_pool_open(&p, data_path, &c), 0);
    return p;
}

static uint64_t latch_waits(bp_pool *p)
{
    bp_stats st;

    util_stats(p, &st);
    return st.latch_waits;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- (a) exclusive excludes ---------------------------------------------------- */

struct blocker {
    bp_pool *p;
    unsigned mode;      /* B's mode */
    int started;        /* atomic: B is about to call bp_fix */
    int returned;       /* atomic: B's bp_fix returned */
    int released;       /* atomic: A is about to unfix */
    int fix_rc;         /* B's results, read after join */
    int saw_released;
    int unfix_rc;
};

static void *blocker_b(void *arg)
{
    struct blocker *bl = arg;
    bp_page pg;

    __atomic_store_n(&bl->started, 1, __ATOMIC_RELEASE);
    bl->fix_rc = bp_fix(bl->p, PGNO_X, bl->mode, &pg);
    bl->saw_released = __atomic_load_n(&bl->released, __ATOMIC_ACQUIRE);
    __atomic_store_n(&bl->returned, 1, __ATOMIC_RELEASE);
    if (bl->fix_rc == 0)
        bl->unfix_rc = bp_unfix(bl->p, &pg, 0);
    return NULL;
}

/* The test thread is A: it holds X in a_mode while B fixes X in mode (a
 * conflicting pair: A exclusive, or A shared and B exclusive, which makes
 * B drain A's reader slot). */
static void excl_excludes(bp_pool *p, unsigned a_mode, unsigned mode)
{
    struct blocker bl;
    pthread_t tid;
    bp_page pg;
    uint64_t waits0;
    int polls = 0;

    memset(&bl, 0, sizeof bl);
    bl.p = p;
    bl.mode = mode;
    assert_int_equal(bp_fix(p, PGNO_X, a_mode, &pg), 0);
    waits0 = latch_waits(p);
    assert_int_equal(pthread_create(&tid, NULL, blocker_b, &bl), 0);
    while (!__atomic_load_n(&bl.started, __ATOMIC_ACQUIRE))
        sched_yield();
    /* Wait until B is blocked in bp_fix (latch_waits grew), B returned (a
     * bug: then B sees released == 0), or enough polls went by. */
    while (latch_waits(p) == waits0 &&
           !__atomic_load_n(&bl.returned, __ATOMIC_ACQUIRE) &&
           polls++ < MAX_POLLS)
        sleep_ms(1);
    __atomic_store_n(&bl.released, 1, __ATOMIC_RELEASE);
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    assert_int_equal(pthread_join(tid, NULL), 0);
    printf("%s vs %s: B %s while A held the page (%d polls)\n",
           a_mode == BP_EXCLUSIVE ? "exclusive" : "shared",
           mode == BP_EXCLUSIVE ? "exclusive" : "shared",
           bl.saw_released ? "waited" : "DID NOT wait", polls);
    assert_int_equal(bl.fix_rc, 0);
    assert_int_equal(bl.unfix_rc, 0);
    if (!bl.saw_released)
        fail_msg("bp_fix(%s) of page %u returned while another thread held "
                 "it %s",
                 mode == BP_EXCLUSIVE ? "BP_EXCLUSIVE" : "BP_SHARED", PGNO_X,
                 a_mode == BP_EXCLUSIVE ? "exclusively" : "shared");
}

/* Two shared holders at once: each fixes X shared and waits at a barrier
 * for the other before unfixing. */
struct sharer {
    bp_pool *p;
    pthread_barrier_t *bar;
    int fix_rc, unfix_rc;
};

static void *sharer_main(void *arg)
{
    struct sharer *s = arg;
    bp_page pg;

    s->fix_rc = bp_fix(s->p, PGNO_X, BP_SHARED, &pg);
    pthread_barrier_wait(s->bar); /* both hold X shared here */
    if (s->fix_rc == 0)
        s->unfix_rc = bp_unfix(s->p, &pg, 0);
    return NULL;
}

static void shared_shares(bp_pool *p)
{
    pthread_barrier_t bar;
    struct sharer s[2];
    pthread_t tid[2];

    assert_int_equal(pthread_barrier_init(&bar, NULL, 2), 0);
    util_watchdog_start(WATCHDOG_S, "two shared fixes of one page block each "
                                    "other (test_latch shared_shares)");
    for (int i = 0; i < 2; i++) {
        s[i].p = p;
        s[i].bar = &bar;
        s[i].fix_rc = s[i].unfix_rc = -1;
        assert_int_equal(pthread_create(&tid[i], NULL, sharer_main, &s[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(tid[i], NULL), 0);
    util_watchdog_stop();
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s[i].fix_rc, 0);
        assert_int_equal(s[i].unfix_rc, 0);
    }
}

static void run_excludes(bp_backend b)
{
    bp_pool *p;

    if (skip_backend(b))
        skip();
    p = open_pool(b);
    util_watchdog_start(WATCHDOG_S, "exclusive latch test (test_latch)");
    excl_excludes(p, BP_EXCLUSIVE, BP_SHARED);
    excl_excludes(p, BP_EXCLUSIVE, BP_EXCLUSIVE);
    excl_excludes(p, BP_SHARED, BP_EXCLUSIVE); /* drains A's reader slot */
    util_watchdog_stop();
    shared_shares(p);
    uint64_t waits = latch_waits(p);
    printf("%s: latch_waits %" PRIu64 "\n", util_backend_name(b), waits);
    assert_true(waits > 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
}

/* ---- (b) optimistic reads against an exclusive holder ---------------------------- */

/* The holder thread fixes X exclusively, lets the test thread look, then
 * changes the page and unfixes it BP_DIRTY. */
struct holder {
    bp_pool *p;
    pthread_barrier_t fixed, go;
    int fix_rc, unfix_rc;
    uint32_t old_word, new_word;
};

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    bp_page pg;

    h->fix_rc = bp_fix(h->p, PGNO_X, BP_EXCLUSIVE, &pg);
    pthread_barrier_wait(&h->fixed);
    pthread_barrier_wait(&h->go);
    if (h->fix_rc != 0)
        return NULL;
    /* the stamp's last word; the test thread reads it only after join */
    uint32_t *w = pg.data;
    h->old_word = w[PSZ / 4 - 1];
    w[PSZ / 4 - 1] = h->new_word;
    h->unfix_rc = bp_unfix(h->p, &pg, BP_DIRTY);
    return NULL;
}

static void run_opt(bp_backend b)
{
    struct holder h;
    pthread_t tid;
    bp_opt before, during, after;
    bp_stats st;
    bp_page pg;
    int rc;

    if (skip_backend(b))
        skip();
    memset(&h, 0, sizeof h);
    h.p = open_pool(b);
    h.new_word = 0x5eed1234u;
    h.fix_rc = h.unfix_rc = -1;
    assert_int_equal(pthread_barrier_init(&h.fixed, NULL, 2), 0);
    assert_int_equal(pthread_barrier_init(&h.go, NULL, 2), 0);

    /* An optimistic read with nobody on the page validates. */
    assert_int_equal(bp_opt_begin(h.p, PGNO_X, &before), 0);
    assert_non_null(before.data);
    assert_true(before.pgno == PGNO_X);
    assert_true(util_page_gen(before.data, PSZ, PGNO_X) == 1);
    assert_int_equal(bp_opt_validate(h.p, &before), 0);
    /* ... and begin one that will straddle the exclusive fix. */
    assert_int_equal(bp_opt_begin(h.p, PGNO_X, &before), 0);

    util_watchdog_start(WATCHDOG_S, "optimistic read test (test_latch)");
    assert_int_equal(pthread_create(&tid, NULL, holder_main, &h), 0);
    pthread_barrier_wait(&h.fixed);
    rc = h.fix_rc == 0 ? bp_opt_begin(h.p, PGNO_X, &during) : h.fix_rc;
    pthread_barrier_wait(&h.go);
    assert_int_equal(pthread_join(tid, NULL), 0);
    util_watchdog_stop();
    assert_int_equal(h.fix_rc, 0);
    if (rc != BP_ERETRY)
        fail_msg("bp_opt_begin on a page fixed exclusively by another thread "
                 "returned %s (%d), expected BP_ERETRY",
                 bp_strerror(rc), rc);
    assert_int_equal(h.unfix_rc, 0);

    rc = bp_opt_validate(h.p, &before);
    if (rc != BP_ERETRY)
        fail_msg("optimistic read begun before an exclusive fix and validated "
                 "after its dirty unfix: %s (%d), expected BP_ERETRY",
                 bp_strerror(rc), rc);
    assert_int_equal(bp_opt_begin(h.p, PGNO_X, &after), 0);
    uint32_t last = ((const uint32_t *)after.data)[PSZ / 4 - 1];
    rc = bp_opt_validate(h.p, &after);
    if (rc != 0)
        fail_msg("optimistic read begun after the exclusive unfix: %s (%d), "
                 "expected 0", bp_strerror(rc), rc);
    assert_true(last == h.new_word);

    util_stats(h.p, &st);
    printf("%s: opt_begins %" PRIu64 ", opt_failures %" PRIu64 "\n",
           util_backend_name(b), st.opt_begins, st.opt_failures);
    assert_true(st.opt_begins == 3);
    assert_true(st.opt_failures == 1);

    /* put the stamp back (the data file is shared by every test) */
    assert_int_equal(bp_fix(h.p, PGNO_X, BP_EXCLUSIVE, &pg), 0);
    ((uint32_t *)pg.data)[PSZ / 4 - 1] = h.old_word;
    util_assert_stamp(pg.data, PSZ, PGNO_X, 1);
    assert_int_equal(bp_unfix(h.p, &pg, BP_DIRTY), 0);
    util_check(h.p);
    assert_int_equal(bp_close(h.p), 0);
    pthread_barrier_destroy(&h.fixed);
    pthread_barrier_destroy(&h.go);
}

/* An optimistic read of a page that then leaves the window (its slot is
 * taken for other pages) must fail validation, even once the page is back:
 * "no eviction of it from the window happened since bp_opt_begin". */
static void run_opt_evict(bp_backend b)
{
    bp_pool *p;
    bp_opt o, again;
    int rc;

    if (skip_backend(b))
        skip();
    p = open_pool(b);
    assert_int_equal(bp_opt_begin(p, PGNO_X, &o), 0);
    /* Fix 4 x SLOTS other pages (more than the cache holds, too): the slot
     * CLOCK gives every slot a second chance at most once. */
    for (uint64_t i = 0; i < 4 * FRAMES; i++) {
        uint64_t pgno = 100 + i % (NPAGES - 100);

        util_fix_verify(p, pgno, BP_SHARED, PSZ, 1);
    }
    assert_null(bp__test_slot_addr(p, PGNO_X));
    rc = bp_opt_validate(p, &o);
    if (rc != BP_ERETRY)
        fail_msg("optimistic read of page %u validated after the page left "
                 "the window: %s (%d), expected BP_ERETRY", PGNO_X,
                 bp_strerror(rc), rc);

    /* evicted and brought back (maybe into the same slot): still invalid */
    assert_int_equal(bp_opt_begin(p, PGNO_X, &o), 0);
    for (uint64_t i = 0; i < 4 * FRAMES; i++)
        util_fix_verify(p, 100 + i % (NPAGES - 100), BP_SHARED, PSZ, 1);
    assert_null(bp__test_slot_addr(p, PGNO_X));
    util_fix_verify(p, PGNO_X, BP_SHARED, PSZ, 1);
    assert_non_null(bp__test_slot_addr(p, PGNO_X));
    rc = bp_opt_validate(p, &o);
    if (rc != BP_ERETRY)
        fail_msg("optimistic read of page %u validated after the page left "
                 "the window and came back: %s (%d), expected BP_ERETRY",
                 PGNO_X, bp_strerror(rc), rc);

    /* a read begun now validates and shows the page */
    assert_int_equal(bp_opt_begin(p, PGNO_X, &again), 0);
    uint32_t gen = util_page_gen(again.data, PSZ, PGNO_X);
    assert_int_equal(bp_opt_validate(p, &again), 0);
    assert_int_equal(gen, 1);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
}

/* ---- (c) close while fixed ---------------------------------------------------------- */

/* 1 if msg contains the decimal number n as a whole number. */
static int names_number(const char *msg, uint64_t n)
{
    char num[24];
    size_t len;

    snprintf(num, sizeof num, "%" PRIu64, n);
    len = strlen(num);
    for (const char *s = strstr(msg, num); s; s = strstr(s + 1, num)) {
        if ((s == msg || !isdigit((unsigned char)s[-1])) &&
            !isdigit((unsigned char)s[len]))
            return 1;
    }
    return 0;
}

static void test_close_busy(void **state)
{
    bp_pool *p = open_pool(BP_BACKEND_AUTO);
    bp_page pg;
    int rc;

    (void)state;
    assert_int_equal(bp_fix(p, PGNO_BUSY, BP_SHARED, &pg), 0);
    rc = bp_close(p);
    printf("close with page %u fixed: %s (%d): %s\n", PGNO_BUSY,
           bp_strerror(rc), rc, bp_errmsg(p));
    assert_int_equal(rc, -EBUSY);
    if (!names_number(bp_errmsg(p), PGNO_BUSY))
        fail_msg("bp_errmsg after close -EBUSY does not name page %u: \"%s\"",
                 PGNO_BUSY, bp_errmsg(p));
    /* still open and usable */
    util_fix_verify(p, PGNO_X, BP_SHARED, PSZ, 1);
    util_check(p);
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    assert_int_equal(bp_close(p), 0);
}

/* ---- (d) lock-order checker ---------------------------------------------------------- */

static void test_lock_order(void **state)
{
    bp_pool *p = open_pool(BP_BACKEND_AUTO);
    uint64_t before = bp__test_lock_order_violations();
    int rc;

    (void)state;
    rc = bp__test_lock_order_probe(p);
    if (rc == -ENOTSUP) {
        assert_int_equal(bp_close(p), 0);
        printf("lock-order checker compiled out (release build: BP_DEBUG=0): "
               "skipped\n");
        skip();
    }
    uint64_t after = bp__test_lock_order_violations();
    printf("lock-order probe returned %d; violations %" PRIu64 " -> %" PRIu64
           "\n", rc, before, after);
    assert_true(after >= before + 1);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
}

/* ---- (e) asymmetric fences -------------------------------------------------------- */

static bp_stats stats_of(bp_pool *p)
{
    bp_stats st;

    util_stats(p, &st);
    return st;
}

static void run_unfenced(const char *mode)
{
    bp_pool *p;
    bp_stats st;
    uint64_t b0, b1, b2;
    int eager = strcmp(mode, "eager") == 0;

    assert_int_equal(setenv("BUFPOOL_READER_FENCE", mode, 1), 0);
    p = open_pool(BP_BACKEND_AUTO);
    assert_int_equal(unsetenv("BUFPOOL_READER_FENCE"), 0);
    st = stats_of(p);
    printf("BUFPOOL_READER_FENCE=%s: reader_fence \"%s\"\n", mode,
           st.reader_fence);
    if (eager && strncmp(st.reader_fence, "asymmetric", 10) != 0) {
        assert_int_equal(bp_close(p), 0);
        printf("membarrier(2) is refused here: skipped\n");
        skip();
    }
    assert_true(strncmp(st.reader_fence, eager ? "asymmetric" : "fenced",
                        eager ? 10 : 6) == 0);
    for (int i = 0; i < 16; i++) /* 4 counted hits make it UNFENCED */
        util_fix_verify(p, PGNO_X, BP_SHARED, PSZ, 1);
    b0 = stats_of(p).reader_barriers;
    util_watchdog_start(WATCHDOG_S, "unfenced reader test (test_latch)");
    excl_excludes(p, BP_SHARED, BP_EXCLUSIVE); /* A unfenced, B drains it */
    b1 = stats_of(p).reader_barriers;
    excl_excludes(p, BP_SHARED, BP_EXCLUSIVE); /* A fenced now: no barrier */
    util_watchdog_stop();
    b2 = stats_of(p).reader_barriers;
    printf("reader_barriers %" PRIu64 " -> %" PRIu64 " -> %" PRIu64 "\n", b0,
           b1, b2);
    assert_int_equal(b1 - b0, eager ? 1 : 0);
    assert_int_equal(b2, b1);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
}

static void test_unfenced_eager(void **state)
{
    (void)state;
    run_unfenced("eager");
}

static void test_unfenced_never(void **state)
{
    (void)state;
    run_unfenced("always");
}

/* ---- cmocka -------------------------------------------------------------------- */

#define BACKEND_TESTS(b, name)                                                 \
    static void test_excludes_##name(void **state)                             \
    {                                                                          \
        (void)state;                                                           \
        run_excludes(b);                                                       \
    }                                                                          \
    static void test_opt_##name(void **state)                                  \
    {                                                                          \
        (void)state;                                                           \
        run_opt(b);                                                            \
    }                                                                          \
    static void test_opt_evict_##name(void **state)                            \
    {                                                                          \
        (void)state;                                                           \
        run_opt_evict(b);                                                      \
    }

BACKEND_TESTS(BP_BACKEND_RFP, rfp)
BACKEND_TESTS(BP_BACKEND_MMAP, mmap)
BACKEND_TESTS(BP_BACKEND_COPY, copy)
BACKEND_TESTS(BP_BACKEND_AUTO, auto)
BACKEND_TESTS(BP_BACKEND_LINEAR, linear)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_excludes_rfp, teardown_watchdog),
        cmocka_unit_test_teardown(test_excludes_mmap, teardown_watchdog),
        cmocka_unit_test_teardown(test_excludes_copy, teardown_watchdog),
        cmocka_unit_test_teardown(test_excludes_auto, teardown_watchdog),
        cmocka_unit_test_teardown(test_excludes_linear, teardown_watchdog),
        cmocka_unit_test_teardown(test_opt_rfp, teardown_watchdog),
        cmocka_unit_test_teardown(test_opt_mmap, teardown_watchdog),
        cmocka_unit_test_teardown(test_opt_copy, teardown_watchdog),
        cmocka_unit_test_teardown(test_opt_auto, teardown_watchdog),
        cmocka_unit_test_teardown(test_opt_linear, teardown_watchdog),
        cmocka_unit_test(test_opt_evict_rfp),
        cmocka_unit_test(test_opt_evict_mmap),
        cmocka_unit_test(test_opt_evict_copy),
        cmocka_unit_test(test_opt_evict_auto),
        cmocka_unit_test(test_opt_evict_linear),
        cmocka_unit_test(test_close_busy),
        cmocka_unit_test(test_lock_order),
        cmocka_unit_test_teardown(test_unfenced_eager, teardown_watchdog),
        cmocka_unit_test_teardown(test_unfenced_never, teardown_watchdog),
    };

    util_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
