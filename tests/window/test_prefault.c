/*
 * test_prefault.c - what a window miss leaves in the page tables.
 *
 * For the mapping backends (rfp, mmap) x prefault {POPULATE, NONBLOCK,
 * LAZY, TOUCH}, read /proc/self/pagemap for every kernel page of a slot just
 * mapped on a window miss that was a cache hit (the frame already holds
 * data, read from the data file before), WITHOUT touching it first:
 *
 *   POPULATE, TOUCH   bit 63 (present) set on every kernel page of the slot
 *                     (what TOUCH adds, a read of each, is beyond the
 *                     guest's page tables: bpbench restart measures it);
 *   NONBLOCK, LAZY    bit 63 clear; set after reading one byte of each.
 *
 * Once present, bit 56 ("mapped exclusively") must be set: a frame is never
 * mapped into two slots of the window (nor anywhere else in the process).
 * Only fixed pages are checked, and only while no frame has been reused
 * (cache >= data, frames taken from the top, never the ones an rfp/mmap
 * window or the I/O slot maps at open).  A random phase of fixes and
 * unfixes keeps checking the pages currently fixed.
 *
 * A second phase reuses frames (cache smaller than the data, dirty pages
 * written back): prefault still holds on window misses that hit the cache,
 * and no two fixed pages share a physical page (PFNs, when visible).
 *
 * Skipped (77) when /proc/self/pagemap cannot be read or does not describe
 * this process's own mappings (util_pagemap_unfaithful: qemu-user).
 */
#include "util_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PSZ (16u * 1024)
#define NPAGES 16u
#define NFRAMES 32u /* frames come from the end: never the rfp window's */
#define NSLOTS 4u   /* initial linear map of frames 0..3 */
#define NRANDOM 300u

#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_EXCLUSIVE (UINT64_C(1) << 56)
#define PM_PFN ((UINT64_C(1) << 55) - 1)

/* frame-reuse phase: frames are evicted and reused */
#define R_PAGES 32u
#define R_FRAMES 8u
#define R_SLOTS 4u
#define R_OPS 400u

static int pagemap_fd = -1;
/* Bit 56 is per small page; with tmpfs huge pages on, a large folio mapped
 * by several slots may read as shared, so the check is then left out. */
static int check_exclusive = 1;
/* PFNs are visible to CAP_SYS_ADMIN only; 0 elsewhere. */
static int pfn_visible;

static uint64_t pagemap_entry(const void *addr)
{
    uint64_t vpn = (uint64_t)(uintptr_t)addr / util_sys_page();
    uint64_t e = 0;
    ssize_t r = pread(pagemap_fd, &e, sizeof e, (off_t)(vpn * sizeof e));
    if (r != (ssize_t)sizeof e) {
        print_error("pread(/proc/self/pagemap): %s\n",
                    r < 0 ? strerror(errno) : "short read");
        fail();
    }
    return e;
}

/* Number of kernel pages of [addr, addr + len) whose entry has all of bits
 * set; prints the first one that does not. */
static size_t count_with(const void *addr, size_t len, uint64_t bits,
                         const char *what, uint64_t pgno)
{
    size_t kp = util_sys_page();
    size_t n = 0;
    int printed = 0;
    for (size_t off = 0; off < len; off += kp) {
        uint64_t e = pagemap_entry((const char *)addr + off);
        if ((e & bits) == bits)
            n++;
        else if (!printed && what != NULL) {
            print_message("  page %" PRIu64 " +%zu: pagemap 0x%016" PRIx64
                          " lacks %s\n", pgno, off, e, what);
            printed = 1;
        }
    }
    return n;
}

static void probe_pagemap(void)
{
    pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pagemap_fd < 0) {
        char why[128];
        snprintf(why, sizeof why, "cannot open /proc/self/pagemap: %s",
                 strerror(errno));
        util_skip(why);
    }
    const char *why = util_pagemap_unfaithful();
    if (why)
        util_skip(why);
    static volatile char probe[1];
    probe[0] = 1;
    uint64_t e = 0;
    uint64_t vpn = (uint64_t)(uintptr_t)probe / util_sys_page();
    if (pread(pagemap_fd, &e, sizeof e, (off_t)(vpn * sizeof e)) !=
        (ssize_t)sizeof e)
        util_skip("/proc/self/pagemap cannot be read");
    pfn_visible = (e & PM_PFN) != 0;
    if (!pfn_visible)
        printf("NOTE: no PFNs in pagemap (not CAP_SYS_ADMIN): frame "
               "aliasing after reuse not checked\n");

    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
    char line[160] = "";
    if (f != NULL) {
        if (fgets(line, sizeof line, f) == NULL)
            line[0] = '\0';
        fclose(f);
    }
    if (strstr(line, "[always]") || strstr(line, "[within_size]") ||
        strstr(line, "[force]")) {
        printf("NOTE: tmpfs huge pages on (%s): bit 56 not checked\n", line);
        check_exclusive = 0;
    }
}

struct pf_case {
    bp_backend backend;
    bp_prefault prefault;
};

/* Check a freshly fixed page that was a window miss. */
static void check_fresh(const struct pf_case *c, const bp_page *pg)
{
    size_t kpages = PSZ / util_sys_page();
    if (c->prefault == BP_PREFAULT_POPULATE ||
        c->prefault == BP_PREFAULT_TOUCH) {
        assert_int_equal(count_with(pg->data, PSZ, PM_PRESENT, "present",
                                    pg->pgno),
                         kpages);
    } else {
        size_t present = count_with(pg->data, PSZ, PM_PRESENT, NULL, 0);
        if (present != 0) {
            print_error("page %" PRIu64 ": %zu of %zu kernel pages present "
                        "before any touch with prefault %d\n",
                        pg->pgno, present, kpages, (int)c->prefault);
            fail();
        }
        util_touch(pg->data, PSZ);
        assert_int_equal(count_with(pg->data, PSZ, PM_PRESENT,
                                    "present after touch", pg->pgno),
                         kpages);
    }
    if (check_exclusive)
        assert_int_equal(count_with(pg->data, PSZ, PM_EXCLUSIVE,
                                    "exclusive (aliased frame?)", pg->pgno),
                         kpages);
}

static void check_held_exclusive(bp_page *held, unsigned n)
{
    size_t kpages = PSZ / util_sys_page();
    for (unsigned i = 0; i < n; i++) {
        util_touch(held[i].data, PSZ);
        uint64_t bits = PM_PRESENT | (check_exclusive ? PM_EXCLUSIVE : 0);
        assert_int_equal(count_with(held[i].data, PSZ, bits,
                                    "present+exclusive", held[i].pgno),
                         kpages);
    }
}

static void test_prefault_case(void **state)
{
    const struct pf_case *c = *state;
    if (c->backend == BP_BACKEND_RFP && !util_have_rfp())
        skip();
    char path[600];
    char name[64];
    snprintf(name, sizeof name, "prefault-%s-%d.db",
             util_backend_name(c->backend), (int)c->prefault);
    util_tmp_path(path, sizeof path, name);
    util_datafile_create(path, PSZ, NPAGES, 0);

    struct util_cfg cfg = {.backend = c->backend,
                           .prefault = c->prefault,
                           .page_size = PSZ,
                           .frames = NFRAMES,
                           .slots = NSLOTS};
    bp_pool *p;
    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    bp_stats st;
    util_stats(p, &st);
    assert_int_equal(st.prefault, c->prefault);

    /* load every page into the cache; the window ends up holding the last
     * NSLOTS pages */
    for (uint64_t i = 0; i < NPAGES; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, 0);
    util_stats(p, &st);
    uint64_t misses0 = st.window_misses, chits0 = st.cache_hits;
    uint64_t cmiss0 = st.cache_misses;

    /* window misses, cache hits: check before any touch */
    bp_page held[NSLOTS];
    memset(held, 0, sizeof held);
    for (unsigned i = 0; i < NSLOTS; i++) {
        int rc = bp_fix(p, i, BP_SHARED, &held[i]);
        if (rc != 0)
            util_print_rc(p, "bp_fix", rc);
        assert_int_equal(rc, 0);
        check_fresh(c, &held[i]);
    }
    util_stats(p, &st);
    assert_true(st.window_misses == misses0 + NSLOTS);
    assert_true(st.cache_hits == chits0 + NSLOTS);
    assert_true(st.cache_misses == cmiss0);
    check_held_exclusive(held, NSLOTS);
    for (unsigned i = 0; i < NSLOTS; i++) {
        util_assert_stamp(held[i].data, PSZ, i, 0);
        assert_int_equal(bp_unfix(p, &held[i], 0), 0);
    }

    /* random phase: whatever is fixed is mapped exclusively */
    uint64_t rng = 0x5DEECE66Du + (uint64_t)c->backend * 7 + c->prefault;
    unsigned nheld = 0;
    for (unsigned op = 0; op < NRANDOM; op++) {
        if (nheld < NSLOTS - 1 && (nheld == 0 || util_rand_below(&rng, 2))) {
            uint64_t pgno = util_rand_below(&rng, NPAGES);
            int dup = 0;
            for (unsigned i = 0; i < nheld; i++)
                dup |= held[i].pgno == pgno;
            if (dup)
                continue;
            util_stats(p, &st);
            uint64_t before = st.window_misses;
            assert_int_equal(bp_fix(p, pgno, BP_SHARED, &held[nheld]), 0);
            util_stats(p, &st);
            if (st.window_misses != before)
                check_fresh(c, &held[nheld]);
            nheld++;
            check_held_exclusive(held, nheld);
        } else {
            unsigned i = (unsigned)util_rand_below(&rng, nheld);
            util_assert_stamp(held[i].data, PSZ, held[i].pgno, 0);
            assert_int_equal(bp_unfix(p, &held[i], 0), 0);
            held[i] = held[--nheld];
        }
    }
    while (nheld > 0)
        assert_int_equal(bp_unfix(p, &held[--nheld], 0), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
}

/* No two fixed pages share a physical page (needs PFNs). */
static void check_no_alias(const bp_page *held, unsigned n)
{
    if (!pfn_visible)
        return;
    size_t kp = util_sys_page();
    for (unsigned i = 0; i < n; i++) {
        util_touch(held[i].data, PSZ);
        for (size_t oi = 0; oi < PSZ; oi += kp) {
            uint64_t a = pagemap_entry((const char *)held[i].data + oi);
            for (unsigned j = 0; j < i; j++) {
                for (size_t oj = 0; oj < PSZ; oj += kp) {
                    uint64_t b =
                        pagemap_entry((const char *)held[j].data + oj);
                    if ((a & PM_PFN) == (b & PM_PFN)) {
                        print_error("pages %" PRIu64 " and %" PRIu64
                                    " share pfn 0x%" PRIx64 "\n",
                                    held[i].pgno, held[j].pgno, a & PM_PFN);
                        fail();
                    }
                }
            }
        }
    }
}

/*
 * Frame reuse: a cache smaller than the data, pages written and unfixed
 * dirty, so frames are evicted (written back) and reused.  A window miss
 * that is a cache hit must still obey the prefault mode, and no two fixed
 * pages may share a physical page.  Bit 56 is not asserted here: stale
 * mappings of evicted slots and the library's I/O slot may map a frame
 * that is fixed elsewhere (counted and printed).
 */
static void test_prefault_reuse(void **state)
{
    const struct pf_case *c = *state;
    if (c->backend == BP_BACKEND_RFP && !util_have_rfp())
        skip();
    char path[600];
    char name[64];
    snprintf(name, sizeof name, "reuse-%s-%d.db",
             util_backend_name(c->backend), (int)c->prefault);
    util_tmp_path(path, sizeof path, name);
    util_datafile_create(path, PSZ, R_PAGES, 0);
    struct util_cfg cfg = {.backend = c->backend,
                           .prefault = c->prefault,
                           .page_size = PSZ,
                           .frames = R_FRAMES,
                           .slots = R_SLOTS};
    bp_pool *p;
    assert_int_equal(util_pool_open(&p, path, &cfg), 0);

    uint32_t gen[R_PAGES];
    memset(gen, 0, sizeof gen);
    bp_page held[R_SLOTS];
    memset(held, 0, sizeof held);
    unsigned nheld = 0, fresh = 0, shared = 0;
    uint64_t rng = 0xC0FFEEu + (uint64_t)c->backend * 3 + c->prefault;
    for (unsigned op = 0; op < R_OPS; op++) {
        if (nheld < R_SLOTS - 1 && (nheld == 0 || util_rand_below(&rng, 2))) {
            uint64_t pgno = util_rand_below(&rng, R_PAGES);
            int dup = 0;
            for (unsigned i = 0; i < nheld; i++)
                dup |= held[i].pgno == pgno;
            if (dup)
                continue;
            bp_stats st0, st1;
            util_stats(p, &st0);
            assert_int_equal(bp_fix(p, pgno, BP_EXCLUSIVE, &held[nheld]), 0);
            util_stats(p, &st1);
            if (st1.window_misses != st0.window_misses &&
                st1.cache_misses == st0.cache_misses) {
                int keep = check_exclusive;
                check_exclusive = 0;
                check_fresh(c, &held[nheld]);
                check_exclusive = keep;
                fresh++;
            }
            util_touch(held[nheld].data, PSZ);
            shared += count_with(held[nheld].data, PSZ, PM_EXCLUSIVE, NULL,
                                 0) != PSZ / util_sys_page();
            util_assert_stamp(held[nheld].data, PSZ, pgno, gen[pgno]);
            nheld++;
            check_no_alias(held, nheld);
        } else {
            unsigned i = (unsigned)util_rand_below(&rng, nheld);
            uint64_t pgno = held[i].pgno;
            util_assert_stamp(held[i].data, PSZ, pgno, gen[pgno]);
            util_stamp(held[i].data, PSZ, pgno, ++gen[pgno]);
            assert_int_equal(bp_unfix(p, &held[i], BP_DIRTY), 0);
            held[i] = held[--nheld];
        }
    }
    while (nheld > 0) {
        nheld--;
        assert_int_equal(bp_unfix(p, &held[nheld], 0), 0);
    }
    print_message("  %u window misses on cached frames checked; %u fixes "
                  "saw their frame mapped elsewhere too\n",
                  fresh, shared);
    assert_true(fresh > 0);
    util_check(p);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, R_PAGES, gen);
}

#define CASE(b, pf)                                                            \
    static struct pf_case case_##b##_##pf = {BP_BACKEND_##b,                   \
                                             BP_PREFAULT_##pf}
CASE(RFP, POPULATE);
CASE(RFP, NONBLOCK);
CASE(RFP, LAZY);
CASE(MMAP, POPULATE);
CASE(MMAP, NONBLOCK);
CASE(MMAP, LAZY);
CASE(RFP, TOUCH);
CASE(MMAP, TOUCH);

#define T(b, pf)                                                               \
    {"prefault/" #b "/" #pf, test_prefault_case, NULL, NULL, &case_##b##_##pf}

#define TR(b, pf)                                                              \
    {"prefault-reuse/" #b "/" #pf, test_prefault_reuse, NULL, NULL,           \
     &case_##b##_##pf}

int main(void)
{
    util_init();
    probe_pagemap();
    const struct CMUnitTest tests[] = {
        T(RFP, POPULATE),  T(RFP, NONBLOCK),  T(RFP, LAZY),
        T(MMAP, POPULATE), T(MMAP, NONBLOCK), T(MMAP, LAZY),
        T(RFP, TOUCH),     T(MMAP, TOUCH),
        TR(RFP, POPULATE), TR(RFP, NONBLOCK), TR(MMAP, POPULATE),
        TR(MMAP, LAZY),    TR(MMAP, TOUCH),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    close(pagemap_fd);
    return failed;
}
