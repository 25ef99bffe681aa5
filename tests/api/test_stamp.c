/*
 * test_stamp.c - data integrity through all three tiers, per backend.
 *
 * Matrix: backend {rfp, mmap, copy, linear, auto} x page size {4, 16 KiB},
 * plus the I/O engines {sync, io_uring} with page checksums off and on
 * (with prefault populate for 4 KiB, nonblock/lazy for 16 KiB).  Each case:
 * a data file of D stamped pages, a cache of C frames and a window of W
 * slots with W << C << D, so fixes constantly miss the window and the cache
 * and dirty frames are evicted.  Edge cases: W == C (4 frames) and W == 1.
 *
 * A random sequence (fixed seed per case) of fix shared / fix exclusive /
 * write a new generation / unfix dirty / unfix clean, with up to MAX_HELD
 * pages fixed at once, runs against a model of the expected generation of
 * every page; every page seen through the window is checked against the
 * model, and pages held across other fixes are re-checked (a remap must not
 * disturb a fixed slot; the test hooks must agree on where it is).
 * bp__test_check() runs periodically, and the counters must add up (fixes =
 * window hits + misses, window misses = cache hits + misses = reads).
 * Then bp_alloc_page() appends a few pages (zero, then stamped; one left
 * zero and unfixed clean, as an allocated page is dirty already), they are
 * pushed out of the cache and read back, bp_flush(), and the data file is
 * read with plain pread and compared to the model.
 *
 * linear on a 32-bit build: bp_open must refuse with BP_EBACKEND.
 * rfp where remap_file_pages() is missing: that case is skipped.
 */
#include "util_test.h"

#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D_PAGES 512u
#define N_OPS 3000u
#define MAX_HELD 4u
#define N_ALLOC 3u
#define CHECK_EVERY 250u

struct stamp_case {
    bp_backend backend;
    size_t psz;
    bp_prefault prefault;
    uint64_t frames;
    uint64_t slots;
    unsigned max_held; /* <= MAX_HELD, < slots unless slots == 1 */
    bp_io_engine engine;
    int checksums;
};

struct held {
    bp_page pg;
    unsigned mode;
    int modified;
};

struct run {
    bp_pool *p;
    size_t psz;
    uint32_t *model; /* expected generation per page */
    uint32_t next_gen;
    struct held held[MAX_HELD];
    unsigned nheld, max_held;
    uint64_t nfix; /* bp_fix calls */
    uint64_t rng;
};

/* Is pgno held by us, and how?  Returns the index or -1. */
static int held_find(const struct run *r, uint64_t pgno)
{
    for (unsigned i = 0; i < r->nheld; i++) {
        if (r->held[i].pg.pgno == pgno)
            return (int)i;
    }
    return -1;
}

static void op_fix(struct run *r, uint64_t npages)
{
    uint64_t pgno = util_rand_below(&r->rng, npages);
    unsigned mode = util_rand_below(&r->rng, 2) ? BP_EXCLUSIVE : BP_SHARED;
    int h = held_find(r, pgno);
    /* A second fix of a page we hold would wait for ourselves unless both
     * are shared. */
    if (h >= 0 && (mode == BP_EXCLUSIVE || r->held[h].mode == BP_EXCLUSIVE))
        return;
    struct held *n = &r->held[r->nheld];
    memset(n, 0, sizeof *n);
    r->nfix++;
    int rc = bp_fix(r->p, pgno, mode, &n->pg);
    if (rc != 0) {
        char what[64];
        snprintf(what, sizeof what, "bp_fix(%" PRIu64 ", %s)", pgno,
                 mode ? "excl" : "shared");
        util_print_rc(r->p, what, rc);
        fail();
    }
    assert_true(n->pg.pgno == pgno);
    assert_non_null(n->pg.data);
    if (h >= 0)
        assert_ptr_equal(n->pg.data, r->held[h].pg.data);
    util_assert_stamp(n->pg.data, r->psz, pgno, r->model[pgno]);
    n->mode = mode;
    r->nheld++;
}

static void op_on_held(struct run *r)
{
    unsigned i = (unsigned)util_rand_below(&r->rng, r->nheld);
    struct held *h = &r->held[i];
    uint64_t pgno = h->pg.pgno;
    uint64_t dice = util_rand_below(&r->rng, 4);

    if (h->mode == BP_EXCLUSIVE && dice < 2) {
        /* write a new generation and keep the page fixed */
        util_stamp(h->pg.data, r->psz, pgno, r->next_gen);
        r->model[pgno] = r->next_gen++;
        h->modified = 1;
        return;
    }
    util_assert_stamp(h->pg.data, r->psz, pgno, r->model[pgno]);
    unsigned flags = 0;
    if (h->modified || (h->mode == BP_EXCLUSIVE && dice == 3))
        flags = BP_DIRTY; /* also dirty without change, now and then */
    int rc = bp_unfix(r->p, &h->pg, flags);
    if (rc != 0) {
        util_print_rc(r->p, "bp_unfix", rc);
        fail();
    }
    r->held[i] = r->held[--r->nheld];
}

/* Pages we hold still carry what we expect, sit where the pool's tables
 * say (slot and frame), and are still counted as fixed. */
static void recheck_held(struct run *r)
{
    for (unsigned i = 0; i < r->nheld; i++) {
        uint64_t pgno = r->held[i].pg.pgno;
        util_assert_stamp(r->held[i].pg.data, r->psz, pgno, r->model[pgno]);
        assert_ptr_equal(bp__test_slot_addr(r->p, pgno), r->held[i].pg.data);
        assert_true(bp__test_frame_offset(r->p, pgno) != UINT64_MAX);
    }
}

static void release_all(struct run *r)
{
    while (r->nheld > 0) {
        struct held *h = &r->held[--r->nheld];
        assert_int_equal(bp_unfix(r->p, &h->pg, h->modified ? BP_DIRTY : 0),
                         0);
    }
}

/* bp_alloc_page: appended at the end, zero, counted at once, then stamped.
 * The last one is left zero and unfixed without BP_DIRTY: an allocated page
 * is dirty already, so it must still reach the file.  Then enough other
 * pages are read to push the new pages out of the cache (written past the
 * old end of file) before they are read back. */
static void alloc_pages(struct run *r, uint64_t frames)
{
    for (unsigned i = 0; i < N_ALLOC; i++) {
        uint64_t before = bp_page_count(r->p);
        bp_page pg;
        memset(&pg, 0, sizeof pg);
        int rc = bp_alloc_page(r->p, &pg);
        if (rc != 0) {
            util_print_rc(r->p, "bp_alloc_page", rc);
            fail();
        }
        assert_true(pg.pgno == before);
        assert_true(bp_page_count(r->p) == before + 1);
        util_assert_stamp(pg.data, r->psz, pg.pgno, UTIL_GEN_ZERO);
        if (i == N_ALLOC - 1) {
            r->model[pg.pgno] = UTIL_GEN_ZERO;
            assert_int_equal(bp_unfix(r->p, &pg, 0), 0);
            continue;
        }
        util_stamp(pg.data, r->psz, pg.pgno, r->next_gen);
        r->model[pg.pgno] = r->next_gen++;
        assert_int_equal(bp_unfix(r->p, &pg, BP_DIRTY), 0);
    }
    uint64_t count = bp_page_count(r->p);
    for (uint64_t pgno = count - N_ALLOC; pgno < count; pgno++)
        util_fix_verify(r->p, pgno, BP_SHARED, r->psz, r->model[pgno]);
    for (uint64_t pgno = 0; pgno < 2 * frames; pgno++)
        util_fix_verify(r->p, pgno, BP_SHARED, r->psz, r->model[pgno]);
    for (uint64_t pgno = count - N_ALLOC; pgno < count; pgno++) {
        assert_true(bp__test_frame_offset(r->p, pgno) == UINT64_MAX);
        util_fix_verify(r->p, pgno, BP_SHARED, r->psz, r->model[pgno]);
    }
}

/* With checksums every page must carry a trailer: write the initial
 * D_PAGES stamped pages through a pool. */
static void create_through_pool(const char *path, const struct util_cfg *c)
{
    struct util_cfg cc = *c;
    bp_pool *p;
    bp_page pg;

    unlink(path);
    cc.flags = BP_CREATE;
    assert_int_equal(util_pool_open(&p, path, &cc), 0);
    for (uint64_t i = 0; i < D_PAGES; i++) {
        assert_int_equal(bp_alloc_page(p, &pg), 0);
        util_stamp(pg.data, cc.page_size, i, 0);
        assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
    }
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
}

static void test_stamp_case(void **state)
{
    const struct stamp_case *c = *state;
    char path[600];
    char name[64];
    snprintf(name, sizeof name, "stamp-%s-%zu-%" PRIu64 ".db",
             util_backend_name(c->backend), c->psz, c->slots);
    util_tmp_path(path, sizeof path, name);

    if (c->backend == BP_BACKEND_RFP && !util_have_rfp()) {
        skip(); /* remap_file_pages unavailable: printed by the probe */
    }

    struct util_cfg cfg = {
        .backend = c->backend,
        .prefault = c->prefault,
        .page_size = c->psz,
        .frames = c->frames,
        .slots = c->slots,
        .engine = c->engine,
        .checksums = c->checksums,
        /* the cases count on recency: fixing 2 x frames other pages
         * evicts the pages allocated before them */
        .replacement = BP_REPLACE_CLOCK,
    };
    util_set_stamp_tail(c->checksums ? BP_PAGE_TRAILER : 0);
    if (c->engine == BP_IO_URING) { /* -m32 builds have no liburing */
        bp_pool *probe;
        int prc;

        util_datafile_create(path, c->psz, 1, 0);
        assert_int_equal(bp_create(&probe, NULL), 0);
        assert_int_equal(util_pool_config(probe, &cfg), 0);
        prc = bp_open(probe, path, 0);
        if (prc)
            print_message("io_uring unavailable (%s): skipped\n",
                          bp_errmsg(probe));
        bp_close(probe);
        if (prc)
            skip();
    }
    if (c->checksums)
        create_through_pool(path, &cfg);
    else
        util_datafile_create(path, c->psz, D_PAGES, 0);
    struct run r;
    memset(&r, 0, sizeof r);
    r.psz = c->psz;
    r.max_held = c->max_held;

    if (c->backend == BP_BACKEND_LINEAR && sizeof(void *) == 4) {
        bp_pool *p;
        assert_int_equal(bp_create(&p, NULL), 0);
        assert_int_equal(util_pool_config(p, &cfg), 0);
        assert_int_equal(bp_open(p, path, 0), BP_EBACKEND);
        assert_int_equal(bp_close(p), 0);
        return;
    }

    assert_int_equal(util_pool_open(&r.p, path, &cfg), 0);
    bp_stats st;
    util_stats(r.p, &st);
    assert_int_equal(st.page_size, c->psz);
    assert_true(st.frames == c->frames);
    assert_int_equal(st.checksums, (uint32_t)c->checksums);
    /* BUFPOOL_IO (make test's whole-suite run on the sync engine) wins
     * over the option, as documented */
    if (c->engine != BP_IO_AUTO && !getenv("BUFPOOL_IO"))
        assert_string_equal(st.io_engine,
                            c->engine == BP_IO_URING ? "io_uring" : "sync");
    /* linear maps the whole cache: its "window" is not W slots */
    if (st.backend != BP_BACKEND_LINEAR)
        assert_true(st.slots == c->slots);
    assert_int_equal(st.prefault, c->prefault);
    assert_true(st.data_pages == D_PAGES);
    assert_true(bp_page_count(r.p) == D_PAGES);
    if (c->backend == BP_BACKEND_AUTO)
        assert_int_not_equal(st.backend, BP_BACKEND_AUTO);
    else
        assert_int_equal(st.backend, util_backend_for(c->backend));
    print_message("  backend %s (%s)\n", util_backend_name(st.backend),
                  st.backend_reason);

    r.model = calloc(D_PAGES + N_ALLOC, sizeof *r.model);
    assert_non_null(r.model);
    r.next_gen = 1;
    r.rng = UINT64_C(0x9E3779B97F4A7C15) ^ ((uint64_t)c->backend << 32) ^
            c->psz ^ (c->slots << 20);

    for (unsigned op = 0; op < N_OPS; op++) {
        int want_fix = r.nheld == 0 ||
                       (r.nheld < r.max_held && util_rand_below(&r.rng, 2));
        if (want_fix)
            op_fix(&r, D_PAGES);
        else
            op_on_held(&r);
        if (op % 8 == 0)
            recheck_held(&r);
        if (op % CHECK_EVERY == 0)
            util_check(r.p);
    }
    release_all(&r);
    util_check(r.p);

    /* every fix is a window hit or miss; every window miss a cache hit or
     * miss; every cache miss one read */
    util_stats(r.p, &st);
    assert_true(st.fixes == r.nfix);
    assert_true(st.window_hits + st.window_misses == st.fixes);
    assert_true(st.cache_hits + st.cache_misses == st.window_misses);
    assert_true(st.reads == st.cache_misses);
    assert_true(st.bytes_read == st.reads * c->psz);

    alloc_pages(&r, c->frames);
    util_check(r.p);

    util_stats(r.p, &st);
    assert_true(st.window_misses > 0);
    assert_true(st.cache_misses > 0);
    assert_true(st.frame_evictions > 0);
    if (st.backend != BP_BACKEND_LINEAR)
        assert_true(st.slot_evictions > 0);
    assert_true(st.data_pages == D_PAGES + N_ALLOC);

    int rc = bp_flush(r.p);
    if (rc != 0)
        util_print_rc(r.p, "bp_flush", rc);
    assert_int_equal(rc, 0);
    util_datafile_verify(path, c->psz, D_PAGES + N_ALLOC, r.model);

    /* a flushed pool still serves pages */
    util_fix_verify(r.p, 0, BP_SHARED, c->psz, r.model[0]);
    assert_int_equal(bp_close(r.p), 0);
    free(r.model);
}

/* The main matrix: W << C << D; 4 KiB pages populate the window, 16 KiB
 * pages fault in lazily (rfp, mmap). */
#define CASE(b, kib, pf)                                                       \
    static struct stamp_case case_##b##_##kib = {                             \
        BP_BACKEND_##b, (kib) * 1024, BP_PREFAULT_##pf, 64, 16, MAX_HELD,     \
        BP_IO_AUTO, 0}
CASE(RFP, 4, POPULATE);
CASE(RFP, 16, NONBLOCK);
CASE(MMAP, 4, POPULATE);
CASE(MMAP, 16, LAZY);
CASE(COPY, 4, POPULATE);
CASE(COPY, 16, LAZY);
CASE(LINEAR, 4, POPULATE);
CASE(LINEAR, 16, NONBLOCK);
CASE(AUTO, 4, POPULATE);
CASE(AUTO, 16, POPULATE);

/* Edges: a window as large as the cache (every frame eviction must first
 * evict a slot) and a single slot. */
#define EDGE(b, f, s, h)                                                       \
    static struct stamp_case edge_##b##_##s = {                               \
        BP_BACKEND_##b, 4096, BP_PREFAULT_POPULATE, f, s, h, BP_IO_AUTO, 0}
EDGE(RFP, 4, 4, 3);
EDGE(MMAP, 4, 4, 3);
EDGE(COPY, 4, 4, 3);
EDGE(LINEAR, 4, 4, 3);
EDGE(RFP, 2, 1, 1);
EDGE(MMAP, 2, 1, 1);
EDGE(COPY, 2, 1, 1);

/* The I/O engines, with and without page checksums. */
#define IOCASE(b, e, sums)                                                     \
    static struct stamp_case io_##b##_##e##_##sums = {                        \
        BP_BACKEND_##b, 4096, BP_PREFAULT_POPULATE, 64, 16, MAX_HELD,         \
        BP_IO_##e, sums}
IOCASE(COPY, SYNC, 0);
IOCASE(MMAP, URING, 0);
IOCASE(COPY, URING, 1);
IOCASE(MMAP, SYNC, 1);
#define TIO(b, e, sums)                                                        \
    {"stamp/" #b "/" #e "/checksums-" #sums, test_stamp_case, NULL, NULL,     \
     &io_##b##_##e##_##sums}

#define T(b, kib)                                                              \
    {"stamp/" #b "/" #kib "k", test_stamp_case, NULL, NULL, &case_##b##_##kib}
#define TE(b, s)                                                               \
    {"stamp/" #b "/" #s "-slot-edge", test_stamp_case, NULL, NULL,            \
     &edge_##b##_##s}

int main(void)
{
    util_init();
    const struct CMUnitTest tests[] = {
        T(RFP, 4),   T(RFP, 16),    T(MMAP, 4),     T(MMAP, 16),
        T(COPY, 4),  T(COPY, 16),   T(LINEAR, 4),   T(LINEAR, 16),
        T(AUTO, 4),  T(AUTO, 16),   TE(RFP, 4),     TE(MMAP, 4),
        TE(COPY, 4), TE(LINEAR, 4), TE(RFP, 1),     TE(MMAP, 1),
        TE(COPY, 1), TIO(COPY, SYNC, 0), TIO(MMAP, URING, 0),
        TIO(COPY, URING, 1), TIO(MMAP, SYNC, 1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
