/*
 * test_replace.c - which pages the cache keeps (bp_set_replacement).
 *
 * A cache of FRAMES frames over NPAGES pages, fixed in patterns whose
 * right outcome is known:
 *   - hot pages used often, then a stream of pages used once, four times
 *     the cache: BP_REPLACE_ADMIT keeps the hot pages (the newcomers were
 *     used less), BP_REPLACE_CLOCK lets the stream wash them out;
 *   - then a new hot set used over and over: ADMIT takes it in (the
 *     counts of the old set age, the new one's grow);
 *   - pages read only optimistically (bp_opt_begin) between the stream's
 *     misses stay cached under either policy: an optimistic read is a use.
 * Each case runs on the copy backend (every ABI) and on linear (64-bit).
 */
#include "platform/bp_testing.h"
#include "util_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096
#define FRAMES 64
#define NPAGES 256 /* = the use counters of 64 frames: one per page */
#define HOT 40
#define STREAM0 140 /* the stream: pages 140..255 */

static char data_path[4096];
static bp_pool *open_p; /* closed by the teardown if a case fails */

static int group_setup(void **state)
{
    (void)state;
    util_tmp_path(data_path, sizeof data_path, "replace.db");
    util_datafile_create(data_path, PSZ, NPAGES, 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(data_path);
    return 0;
}

static bp_pool *open_pool(bp_backend b, bp_replacement r)
{
    struct util_cfg c = {.backend = b, .page_size = PSZ, .frames = FRAMES,
                         .slots = FRAMES / 4, .replacement = r};
    bp_pool *p;

    if (b == BP_BACKEND_LINEAR && sizeof(void *) < 8)
        skip(); /* linear needs a 64-bit address space */
    assert_int_equal(util_pool_open(&p, data_path, &c), 0);
    open_p = p;
    return p;
}

static void close_pool(bp_pool *p)
{
    open_p = NULL;
    assert_int_equal(bp_close(p), 0);
}

static int teardown(void **state)
{
    (void)state;
    if (open_p)
        (void)bp_close(open_p);
    open_p = NULL;
    return 0;
}

static unsigned cached(bp_pool *p, uint64_t first, unsigned n)
{
    unsigned k = 0;

    for (unsigned i = 0; i < n; i++)
        k += bp__test_frame_offset(p, first + i) != UINT64_MAX;
    return k;
}

static void use_hot(bp_pool *p, uint64_t first, unsigned rounds)
{
    for (unsigned r = 0; r < rounds; r++)
        for (unsigned i = 0; i < HOT; i++)
            util_fix_verify(p, first + i, BP_SHARED, PSZ, 1);
}

static void stream(bp_pool *p, unsigned n)
{
    static unsigned next; /* the stream moves on across calls */

    for (unsigned i = 0; i < n; i++, next++)
        util_fix_verify(p, STREAM0 + next % (NPAGES - STREAM0), BP_SHARED,
                        PSZ, 1);
}
/* Rounds of: every hot page used once, then a stream of FRAMES pages
 * used once each.  The hot pages' reuse distance is longer than CLOCK
 * keeps a page, but they are used every round and the stream's pages
 * once: ADMIT keeps them, CLOCK lets the stream wash them out.  Then a
 * new hot set used over and over is taken in. */
static unsigned hot_rounds(bp_pool *p, unsigned rounds)
{
    for (unsigned r = 0; r < rounds; r++) {
        use_hot(p, 0, 1);
        stream(p, FRAMES);
    }
    return cached(p, 0, HOT);
}

static void run_hot_and_stream(bp_backend b)
{
    bp_pool *p = open_pool(b, BP_REPLACE_ADMIT), *q;
    unsigned kept, kept_clock, rounds;
    bp_stats st;

    kept = hot_rounds(p, 30);
    util_stats(p, &st);
    printf("  %s admit: %u of %d hot pages cached after a stream of %d; "
           "newcomers dropped %llu, kept %llu\n", util_backend_name(b), kept,
           HOT, FRAMES, (unsigned long long)st.admit_dropped,
           (unsigned long long)st.admit_kept);
    assert_int_equal(st.replacement, BP_REPLACE_ADMIT);
    assert_true(st.admit_dropped > 0);
    assert_true(kept >= HOT - 4);

    /* a new hot set, used over and over, comes in */
    for (rounds = 0; rounds < 400 && cached(p, 100, HOT) < HOT - 3; rounds++)
        use_hot(p, 100, 1);
    printf("  %s admit: a new hot set of %d in after %u rounds (%u cached)\n",
           util_backend_name(b), HOT, rounds, cached(p, 100, HOT));
    assert_true(cached(p, 100, HOT) >= HOT - 3);
    util_check(p);
    close_pool(p);

    q = open_pool(b, BP_REPLACE_CLOCK);
    kept_clock = hot_rounds(q, 30);
    util_stats(q, &st);
    printf("  %s clock: %u of %d hot pages cached\n", util_backend_name(b),
           kept_clock, HOT);
    assert_int_equal(st.replacement, BP_REPLACE_CLOCK);
    assert_true(st.admit_dropped == 0 && st.admit_kept == 0);
    assert_true(kept_clock < HOT / 2);
    close_pool(q);
}

/* Pages read only optimistically between the stream's misses are never
 * evicted: each is checked to be cached before it is read again.  On
 * linear the frame's usage is all that keeps them (without the raise in
 * bp_opt_begin the hand takes them); on copy their window slots hold
 * them too. */
static void run_opt_reads_count(bp_backend b, bp_replacement r)
{
    bp_pool *p = open_pool(b, r);
    unsigned lost = 0;
    enum { N = 8 };

    use_hot(p, 0, 1); /* bring them in once */
    for (unsigned i = 0; i < 16 * FRAMES; i++) {
        lost += N - cached(p, 0, N);
        for (unsigned h = 0; h < N; h++) {
            bp_opt o;
            int rc;

            while ((rc = bp_opt_begin(p, h, &o)) == BP_ERETRY)
                ;
            assert_int_equal(rc, 0);
            assert_int_equal(util_page_gen(o.data, PSZ, h), 1);
            rc = bp_opt_validate(p, &o);
            assert_true(rc == 0 || rc == BP_ERETRY);
        }
        stream(p, 1);
    }
    printf("  %s %s: optimistically read pages found evicted %u times in "
           "a stream of %d\n", util_backend_name(b),
           r == BP_REPLACE_ADMIT ? "admit" : "clock", lost, 16 * FRAMES);
    assert_int_equal(lost, 0);
    close_pool(p);
}

static void test_hot_copy(void **s)
{
    (void)s;
    run_hot_and_stream(BP_BACKEND_COPY);
}

static void test_hot_linear(void **s)
{
    (void)s;
    run_hot_and_stream(BP_BACKEND_LINEAR);
}

static void test_opt_admit_copy(void **s)
{
    (void)s;
    run_opt_reads_count(BP_BACKEND_COPY, BP_REPLACE_ADMIT);
}

static void test_opt_admit_linear(void **s)
{
    (void)s;
    run_opt_reads_count(BP_BACKEND_LINEAR, BP_REPLACE_ADMIT);
}

static void test_opt_clock_copy(void **s)
{
    (void)s;
    run_opt_reads_count(BP_BACKEND_COPY, BP_REPLACE_CLOCK);
}

static void test_opt_clock_linear(void **s)
{
    (void)s;
    run_opt_reads_count(BP_BACKEND_LINEAR, BP_REPLACE_CLOCK);
}

/* Out-of-range policies are refused before open. */
static void test_bad_policy(void **s)
{
    bp_pool *p;

    (void)s;
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(bp_set_replacement(p, (bp_replacement)7), -EINVAL);
    assert_int_equal(bp_set_replacement(NULL, BP_REPLACE_CLOCK), -EINVAL);
    assert_int_equal(bp_set_replacement(p, BP_REPLACE_CLOCK), 0);
    close_pool(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_policy),
        cmocka_unit_test_teardown(test_hot_copy, teardown),
        cmocka_unit_test_teardown(test_hot_linear, teardown),
        cmocka_unit_test_teardown(test_opt_admit_copy, teardown),
        cmocka_unit_test_teardown(test_opt_admit_linear, teardown),
        cmocka_unit_test_teardown(test_opt_clock_copy, teardown),
        cmocka_unit_test_teardown(test_opt_clock_linear, teardown),
    };

    util_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
