/*
 * test_countdown.c - every data-file I/O failure, one after another, in the
 * manner of SQLite's countdown tests.
 *
 * A write-heavy scenario (random exclusive fixes that bump a page's
 * generation, a flush every few operations) runs through a small pool.
 * First once without faults, counting its data-file calls (reads, writes,
 * syncs).  Then for each failure kind (EIO, ENOSPC, EINTR, EAGAIN, a short
 * transfer), once and from then on, and for N = 1, 2, ... up to that count:
 * the Nth call fails.  Every library call must return 0 or an error code
 * (never crash, never hang); the test remembers, per page, the generation
 * the last successful flush acknowledged.  After each run the faults are
 * disarmed, the invariants checked, the pool closed (no page is left
 * fixed), and a fresh pool reopens the file: every page must hold a
 * generation between the acknowledged one and the last written one, i.e.
 * nothing acknowledged is lost.  ASan makes leaks on error paths failures.
 */
#include "util_test.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 24u
#define OPS 48
#define FLUSH_EVERY 12

struct model {
    uint32_t acked[NPAGES]; /* generation the last good flush vouched for */
    uint32_t cur[NPAGES];   /* generation of the last successful unfix */
};

static bp_pool *open_pool(bp_backend b, const char *path)
{
    struct util_cfg cfg = {.backend = b, .page_size = PSZ, .frames = 6,
                           .slots = 3};
    bp_pool *p = NULL;

    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    return p;
}

/* The scenario: returns how many library calls failed. */
static unsigned scenario(bp_pool *p, struct model *m)
{
    uint64_t rng = 0x2545f4914f6cdd1dull;
    unsigned failed = 0;

    for (int op = 1; op <= OPS; op++) {
        uint32_t pg_no = (uint32_t)util_rand_below(&rng, NPAGES);
        bp_page pg;
        int rc = bp_fix(p, pg_no, BP_EXCLUSIVE, &pg);

        if (rc == 0) {
            uint32_t g = util_page_gen(pg.data, PSZ, pg_no);

            /* what a fix shows is what was last written through the pool */
            if (g != m->cur[pg_no] &&
                !(g == UTIL_GEN_ZERO && m->cur[pg_no] == 0))
                fail_msg("page %u shows generation %u, expected %u", pg_no,
                         g, m->cur[pg_no]);
            util_stamp(pg.data, PSZ, pg_no, m->cur[pg_no] + 1);
            assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
            m->cur[pg_no]++;
        } else {
            assert_true(rc < 0); /* a code, never a crash */
            failed++;
        }
        if (op % FLUSH_EVERY == 0) {
            if ((rc = bp_flush(p)) == 0)
                memcpy(m->acked, m->cur, sizeof m->acked);
            else
                failed++;
        }
    }
    return failed;
}

static void verify(bp_backend b, const char *path, const struct model *m)
{
    bp_pool *p = open_pool(b, path);

    for (uint32_t i = 0; i < NPAGES; i++) {
        bp_page pg;
        uint32_t g;

        assert_int_equal(bp_fix(p, i, BP_SHARED, &pg), 0);
        g = util_page_gen(pg.data, PSZ, i);
        if (g == UTIL_GEN_ZERO)
            g = 0;
        assert_int_equal(bp_unfix(p, &pg, 0), 0);
        if (g < m->acked[i] || g > m->cur[i] || g == UTIL_GEN_BAD)
            fail_msg("page %u: generation %u on disk, acknowledged %u, "
                     "last written %u", i, g, m->acked[i], m->cur[i]);
    }
    assert_int_equal(bp_close(p), 0);
}

static void run(bp_backend b)
{
    static const int errs[] = {EIO, ENOSPC, EINTR, EAGAIN, 0};
    struct model m;
    char path[600];
    uint64_t calls;
    unsigned runs = 0, faulted = 0;
    bp_pool *p;

    util_tmp_path(path, sizeof path, "countdown.db");
    util_datafile_create(path, PSZ, NPAGES, UTIL_GEN_ZERO);
    p = open_pool(b, path);
    memset(&m, 0, sizeof m);
    assert_int_equal(bp__test_io_fault(p, 7, UINT64_MAX, EIO, 0), 0);
    assert_int_equal(scenario(p, &m), 0);
    calls = bp__test_io_calls(p);
    assert_int_equal(bp_close(p), 0);
    assert_true(calls > 0);

    for (size_t e = 0; e < sizeof errs / sizeof errs[0]; e++)
        for (int persistent = 0; persistent < 2; persistent++)
            for (uint64_t n = 1; n <= calls; n++) {
                util_datafile_create(path, PSZ, NPAGES, UTIL_GEN_ZERO);
                memset(&m, 0, sizeof m);
                p = open_pool(b, path);
                assert_int_equal(
                    bp__test_io_fault(p, 7, n, errs[e], persistent), 0);
                faulted += scenario(p, &m) > 0;
                assert_int_equal(bp__test_io_fault(p, 0, 0, 0, 0), 0);
                util_check(p);
                assert_int_equal(bp_close(p), 0);
                verify(b, path, &m);
                runs++;
            }
    print_message("%s: %llu data-file calls per run, %u runs, %u with "
                  "failures seen by the engine\n", util_backend_name(b),
                  (unsigned long long)calls, runs, faulted);
    assert_true(faulted > 0);
    unlink(path);
}

int main(void)
{
    static const bp_backend bs[] = {BP_BACKEND_COPY, BP_BACKEND_MMAP};

    util_init();
    return util_run_backends("countdown", run, bs, 2);
}
