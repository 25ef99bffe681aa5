/*
 * test_scan.c - scan resistance: a sequential scan with the BP_SCAN hint
 * must not wash the hot set out of the cache.
 *
 * Cache of C = 256 frames of 4 KiB, window of 32 slots, data file of
 * C/2 hot pages followed by 8 x C scan pages.  ROUNDS times: fix every hot
 * page shared (and unfix) HOT_PASSES times, then scan all the scan pages in
 * order with BP_SHARED | BP_SCAN.  Round 0 warms up; over the hot-set
 * accesses of the later rounds only (bp_stats deltas):
 *
 *     hit ratio = (window_hits + cache_hits) /
 *                 (window_hits + cache_hits + cache_misses)  >= 0.90
 *
 * and scan_recycles > 0 over the run; the scan's read-ahead is not recycled
 * before it is fixed (pages read at most 1.10 x the hot set once plus each
 * scan page once per scan); scan pages promoted by a normal fix
 * then survive another hinted scan like the hot set.  A scan that writes
 * (BP_EXCLUSIVE | BP_SCAN, unfix dirty) makes the ring recycle dirty frames:
 * every page must reach the data file.  The same run without the hint is
 * printed for information only (plain CLOCK loses the hot set to the scan,
 * so it lands near 1 - 1/HOT_PASSES).  Every page fixed is checked to be
 * the right page (util stamps).  Backends: rfp (when available), mmap,
 * copy.
 */
#include "util_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096u
#define FRAMES 256u
#define SLOTS 32u
#define HOT (FRAMES / 2)
#define SCAN (8 * FRAMES)
#define NPAGES (HOT + SCAN)
#define ROUNDS 5
#define HOT_PASSES 2
#define GEN 1u
#define MIN_RATIO 0.90
#define PROMO 16u /* scan pages promoted by a normal fix */

static char data_path[512];

static int group_setup(void **state)
{
    (void)state;
    util_tmp_path(data_path, sizeof data_path, "scan.db");
    util_datafile_create(data_path, PSZ, NPAGES, GEN);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(data_path);
    return 0;
}

/* Fix pgno in mode, check it is pgno's page, unfix. */
static void touch_page(bp_pool *p, uint64_t pgno, unsigned mode)
{
    bp_page pg;
    int rc = bp_fix(p, pgno, mode, &pg);

    if (rc != 0) {
        char what[80];

        snprintf(what, sizeof what, "bp_fix(%" PRIu64 ", %#x)", pgno, mode);
        util_print_rc(p, what, rc);
        fail();
    }
    assert_true(pg.pgno == pgno);
    if (util_page_gen(pg.data, PSZ, pgno) != GEN) {
        util_stamp_ok(pg.data, PSZ, pgno, GEN); /* prints what is there */
        fail_msg("page %" PRIu64 " fixed with mode %#x is not its page",
                 pgno, mode);
    }
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
}

struct result {
    uint64_t hits, misses, scan_recycles, cache_misses;
    double ratio;
    uint64_t promo_hits, promo_misses; /* with the hint: promoted pages */
};

/* hits and misses between two snapshots */
static void count_delta(const bp_stats *a, const bp_stats *b, uint64_t *hits,
                        uint64_t *misses)
{
    *hits += (b->window_hits - a->window_hits) + (b->cache_hits - a->cache_hits);
    *misses += b->cache_misses - a->cache_misses;
}

static void run(bp_backend b, unsigned scan_hint, struct result *res)
{
    struct util_cfg c = {.backend = b, .page_size = PSZ, .frames = FRAMES,
                         .slots = SLOTS};
    bp_pool *p;
    bp_stats before, after, end;

    memset(res, 0, sizeof *res);
    assert_int_equal(util_pool_open(&p, data_path, &c), 0);
    for (int round = 0; round < ROUNDS; round++) {
        util_stats(p, &before);
        for (int pass = 0; pass < HOT_PASSES; pass++) {
            for (uint64_t i = 0; i < HOT; i++)
                touch_page(p, i, BP_SHARED);
        }
        util_stats(p, &after);
        if (round > 0)
            count_delta(&before, &after, &res->hits, &res->misses);
        for (uint64_t i = HOT; i < NPAGES; i++)
            touch_page(p, i, BP_SHARED | scan_hint);
    }
    if (scan_hint) {
        /* Promotion: the last PROMO pages of the scan (still cached) are
         * fixed without the hint, then the scan runs again over the other
         * scan pages: the promoted pages must have stayed in the cache
         * like the hot set. */
        for (uint64_t i = NPAGES - PROMO; i < NPAGES; i++)
            touch_page(p, i, BP_SHARED);
        for (uint64_t i = HOT; i < NPAGES - PROMO; i++)
            touch_page(p, i, BP_SHARED | BP_SCAN);
        util_stats(p, &before);
        for (uint64_t i = NPAGES - PROMO; i < NPAGES; i++)
            touch_page(p, i, BP_SHARED);
        util_stats(p, &after);
        count_delta(&before, &after, &res->promo_hits, &res->promo_misses);
    }
    util_check(p);
    util_stats(p, &end);
    res->scan_recycles = end.scan_recycles;
    res->cache_misses = end.cache_misses;
    res->ratio = res->hits + res->misses == 0
                     ? 0.0
                     : (double)res->hits / (double)(res->hits + res->misses);
    printf("%s (%s), scan %s: hot-set hits %" PRIu64 ", misses %" PRIu64
           ", hit ratio %.3f; whole run: fixes %" PRIu64 ", cache_misses %"
           PRIu64 ", frame_evictions %" PRIu64 ", scan_recycles %" PRIu64
           "\n",
           util_backend_name(b), bp_backend_name((bp_backend)end.backend),
           scan_hint ? "with BP_SCAN" : "without hint", res->hits,
           res->misses, res->ratio, end.fixes, end.cache_misses,
           end.frame_evictions, end.scan_recycles);
    if (scan_hint)
        printf("%s: %u promoted scan pages after another scan: hits %" PRIu64
               ", misses %" PRIu64 "\n",
               util_backend_name(b), PROMO, res->promo_hits,
               res->promo_misses);
    assert_int_equal(bp_close(p), 0);
    /* every hot access was counted as a hit or a miss */
    assert_true(res->hits + res->misses ==
                (uint64_t)(ROUNDS - 1) * HOT_PASSES * HOT);
}

static void run_backend(bp_backend b)
{
    struct result hint, plain;

    if (b == BP_BACKEND_RFP && !util_have_rfp()) {
        printf("rfp: remap_file_pages is not available here\n");
        skip();
    }
    run(b, 0, &plain);
    run(b, BP_SCAN, &hint);
    printf("%s: hot-set hit ratio %.3f with BP_SCAN, %.3f without "
           "(information only)\n",
           util_backend_name(b), hint.ratio, plain.ratio);
    if (hint.ratio < MIN_RATIO)
        fail_msg("%s: hot-set hit ratio %.3f with BP_SCAN, below %.2f",
                 util_backend_name(b), hint.ratio, MIN_RATIO);
    assert_true(hint.scan_recycles > 0);
    /* the scan's read-ahead is used, not recycled before its fix: the run
     * reads little more than the hot set once and every scan page once
     * per scan */
    uint64_t once = HOT + (uint64_t)(ROUNDS + 1) * SCAN;
    if ((double)hint.cache_misses > 1.10 * (double)once)
        fail_msg("%s: %" PRIu64 " pages read with BP_SCAN, more than 1.10 x "
                 "%" PRIu64 ": read-ahead recycled before it was used",
                 util_backend_name(b), hint.cache_misses, once);
    assert_true(hint.promo_hits + hint.promo_misses == PROMO);
    if ((double)hint.promo_hits < MIN_RATIO * PROMO)
        fail_msg("%s: %" PRIu64 " of %u scan pages promoted by a normal fix "
                 "were lost to the next BP_SCAN scan",
                 util_backend_name(b), hint.promo_misses, PROMO);
}

/* A scan that writes: BP_EXCLUSIVE | BP_SCAN over every scan page (stamp
 * gen 1 -> 2, unfix dirty), so the ring recycles dirty frames and must
 * write them back first.  Then a read scan with the hint sees gen 2 (read
 * back from the data file), the hot set still gen 1, and after a flush the
 * data file holds exactly that. */
static void run_write_scan(bp_backend b)
{
    struct util_cfg c = {.backend = b, .page_size = PSZ, .frames = FRAMES,
                         .slots = SLOTS};
    char path[512];
    uint32_t *want;
    bp_pool *p;
    bp_stats st;

    if (b == BP_BACKEND_RFP && !util_have_rfp()) {
        printf("rfp: remap_file_pages is not available here\n");
        skip();
    }
    util_tmp_path(path, sizeof path, "scan-write.db");
    util_datafile_create(path, PSZ, NPAGES, GEN);
    assert_int_equal(util_pool_open(&p, path, &c), 0);
    for (uint64_t i = 0; i < HOT; i++)
        touch_page(p, i, BP_SHARED);
    for (uint64_t i = HOT; i < NPAGES; i++)
        util_fix_write_mode(p, i, BP_EXCLUSIVE | BP_SCAN, PSZ, GEN, GEN + 1);
    for (uint64_t i = 0; i < HOT; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, GEN);
    for (uint64_t i = HOT; i < NPAGES; i++)
        util_fix_verify(p, i, BP_SHARED | BP_SCAN, PSZ, GEN + 1);
    util_check(p);
    util_stats(p, &st);
    printf("%s (%s): write scan: scan_recycles %" PRIu64 ", writes %" PRIu64
           ", frame_evictions %" PRIu64 "\n",
           util_backend_name(b), bp_backend_name((bp_backend)st.backend),
           st.scan_recycles, st.writes, st.frame_evictions);
    assert_true(st.scan_recycles > 0);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);

    want = calloc(NPAGES, sizeof *want);
    assert_non_null(want);
    for (uint64_t i = 0; i < NPAGES; i++)
        want[i] = i < HOT ? GEN : GEN + 1;
    util_datafile_verify(path, PSZ, NPAGES, want);
    free(want);
    unlink(path);
}

static void test_scan_rfp(void **state)
{
    (void)state;
    run_backend(BP_BACKEND_RFP);
}

static void test_scan_mmap(void **state)
{
    (void)state;
    run_backend(BP_BACKEND_MMAP);
}

static void test_scan_copy(void **state)
{
    (void)state;
    run_backend(BP_BACKEND_COPY);
}

static void test_write_scan_rfp(void **state)
{
    (void)state;
    run_write_scan(BP_BACKEND_RFP);
}

static void test_write_scan_mmap(void **state)
{
    (void)state;
    run_write_scan(BP_BACKEND_MMAP);
}

static void test_write_scan_copy(void **state)
{
    (void)state;
    run_write_scan(BP_BACKEND_COPY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_rfp),
        cmocka_unit_test(test_scan_mmap),
        cmocka_unit_test(test_scan_copy),
        cmocka_unit_test(test_write_scan_rfp),
        cmocka_unit_test(test_write_scan_mmap),
        cmocka_unit_test(test_write_scan_copy),
    };

    util_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
