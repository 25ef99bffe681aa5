/*
 * test_kmod_backend.c - the kmod window backend (the bpwin module's
 * /dev/bpwin) as the library uses it.
 *
 * Everywhere (no module needed):
 *   - BP_BACKEND_KMOD without the device fails bp_open with BP_EBACKEND
 *     and a message naming the device and how to get it; a device that is
 *     not bpwin (/dev/null) is named as such; auto then behaves as without
 *     the module;
 *   - guard mode with another backend fails with BP_EBACKEND.
 * Where /dev/bpwin exists (make test-kernel's guest), each case skipped
 * with the reason elsewhere:
 *   - stamped pages read and written through a window smaller than the
 *     cache (window misses remap slots, reads go by O_DIRECT into them),
 *     flushed and verified in the data file;
 *   - a window of more slots than vm.max_map_count allows VMAs: one VMA;
 *   - auto takes kmod when a window smaller than the cache is asked;
 *   - guard mode: a write to a page fixed shared, or to one no longer
 *     fixed exclusive, raises SIGSEGV at that page; writes while fixed
 *     exclusive and reads at any time go through.
 */
#include "util_test.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpwin_uapi.h"

#define PSZ 8192u

static int have_device(void)
{
    if (access(BPWIN_DEVICE, F_OK) == 0)
        return 1;
    print_message("  skipped: no %s: the bpwin module is not loaded (make "
                  "test-kernel boots a kernel that has it)\n", BPWIN_DEVICE);
    return 0;
}

static void make_data(char *path, size_t len, const char *name,
                      uint64_t pages)
{
    util_tmp_path(path, len, name);
    util_datafile_create(path, PSZ, pages, 1);
}

/* ---- without the module ---------------------------------------------------- */

static int open_kmod(const char *path, bp_backend b, int guard, bp_pool **out)
{
    bp_pool *p = NULL;
    int rc;

    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(bp_set_page_size(p, PSZ), 0);
    assert_int_equal(bp_set_cache_frames(p, 64), 0);
    assert_int_equal(bp_set_window_slots(p, 16), 0);
    assert_int_equal(bp_set_backend(p, b), 0);
    assert_int_equal(bp_set_guard(p, guard), 0);
    rc = bp_open(p, path, 0);
    *out = p;
    return rc;
}

static void no_device_is_named(void **state)
{
    char path[512];
    bp_pool *p;
    bp_stats st;
    int rc;

    (void)state;
    make_data(path, sizeof path, "nodev.db", 32);
    setenv("BUFPOOL_KMOD_DEVICE", "/nonexistent/bpwin", 1);
    rc = open_kmod(path, BP_BACKEND_KMOD, 0, &p);
    print_message("  missing device: %s: %s\n", bp_strerror(rc),
                  bp_errmsg(p));
    assert_int_equal(rc, BP_EBACKEND);
    assert_non_null(strstr(bp_errmsg(p), "/nonexistent/bpwin"));
    assert_non_null(strstr(bp_errmsg(p), "bpwin module"));
    bp_close(p);

    /* auto goes on without it */
    rc = open_kmod(path, BP_BACKEND_AUTO, 0, &p);
    assert_int_equal(rc, 0);
    util_stats(p, &st);
    assert_int_not_equal(st.backend, BP_BACKEND_KMOD);
    bp_close(p);

    /* guard mode cannot be had without it */
    rc = open_kmod(path, BP_BACKEND_AUTO, 1, &p);
    print_message("  guard, auto: %s: %s\n", bp_strerror(rc), bp_errmsg(p));
    assert_int_equal(rc, BP_EBACKEND);
    bp_close(p);

    setenv("BUFPOOL_KMOD_DEVICE", "/dev/null", 1);
    rc = open_kmod(path, BP_BACKEND_KMOD, 0, &p);
    print_message("  /dev/null: %s: %s\n", bp_strerror(rc), bp_errmsg(p));
    assert_int_equal(rc, BP_EBACKEND);
    assert_non_null(strstr(bp_errmsg(p), "BPWIN_IOC_INFO"));
    bp_close(p);
    unsetenv("BUFPOOL_KMOD_DEVICE");
}

static void guard_needs_kmod(void **state)
{
    char path[512];
    bp_pool *p;
    int rc;

    (void)state;
    make_data(path, sizeof path, "guard.db", 32);
    rc = open_kmod(path, BP_BACKEND_COPY, 1, &p);
    print_message("  guard, copy: %s: %s\n", bp_strerror(rc), bp_errmsg(p));
    assert_int_equal(rc, BP_EBACKEND);
    assert_non_null(strstr(bp_errmsg(p), "guard mode needs the kmod"));
    bp_close(p);
}

/* ---- with the module ------------------------------------------------------- */

static void stamps_through_window(void **state)
{
    enum { PAGES = 200, FRAMES = 96, SLOTS = 24, OPS = 3000 };
    uint32_t gen[PAGES];
    char path[512];
    uint64_t seed = 7;
    bp_pool *p;
    bp_stats st;

    (void)state;
    if (!have_device())
        skip();
    make_data(path, sizeof path, "stamps.db", PAGES);
    for (int i = 0; i < PAGES; i++)
        gen[i] = 1;
    struct util_cfg c = {.backend = BP_BACKEND_KMOD, .page_size = PSZ,
                         .frames = FRAMES, .slots = SLOTS};
    assert_int_equal(util_pool_open(&p, path, &c), 0);
    for (int i = 0; i < OPS; i++) {
        uint64_t pg = util_rand_below(&seed, PAGES);
        int excl = util_rand_below(&seed, 4) == 0;
        bp_page h;

        assert_int_equal(bp_fix(p, pg, excl ? BP_EXCLUSIVE : BP_SHARED, &h),
                         0);
        util_assert_stamp(h.data, PSZ, pg, gen[pg]);
        if (excl) {
            util_stamp(h.data, PSZ, pg, ++gen[pg]);
            assert_int_equal(bp_unfix(p, &h, BP_DIRTY), 0);
        } else {
            assert_int_equal(bp_unfix(p, &h, 0), 0);
        }
    }
    util_stats(p, &st);
    print_message("  %s: %" PRIu64 " window misses, %" PRIu64 " kmod remaps, "
                  "%" PRIu64 " reads (%s), %" PRIu64 " writes\n",
                  st.backend_reason, st.window_misses, st.remaps_kmod,
                  st.reads, st.io_engine, st.writes);
    assert_int_equal(st.backend, BP_BACKEND_KMOD);
    assert_true(st.remaps_kmod > 0 && st.window_misses > 0);
    assert_true(st.reads > 0);
    assert_int_equal(bp_flush(p), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    util_datafile_verify(path, PSZ, PAGES, gen);
}

static void beyond_vma_limit(void **state)
{
    unsigned long max = 65530;
    char path[512];
    bp_pool *p;
    bp_stats st;
    FILE *f;

    (void)state;
    if (!have_device())
        skip();
    if ((f = fopen("/proc/sys/vm/max_map_count", "r")) != NULL) {
        if (fscanf(f, "%lu", &max) != 1)
            max = 65530;
        fclose(f);
    }
    uint64_t slots = max + 1000, frames = slots + 64;
    if (util_shm_free() && util_shm_free() < frames * 4096 + (64u << 20))
        skip();
    util_tmp_path(path, sizeof path, "wide.db");
    util_datafile_create(path, 4096, frames + 64, 1);
    struct util_cfg c = {.backend = BP_BACKEND_KMOD, .page_size = 4096,
                         .frames = frames, .slots = slots,
                         .prefault = BP_PREFAULT_LAZY};
    assert_int_equal(util_pool_open(&p, path, &c), 0);
    for (uint64_t pg = 0; pg < slots; pg += 97) {
        bp_page h;

        assert_int_equal(bp_fix(p, pg, BP_SHARED, &h), 0);
        util_assert_stamp(h.data, 4096, pg, 1);
        assert_int_equal(bp_unfix(p, &h, 0), 0);
    }
    util_stats(p, &st);
    print_message("  %" PRIu64 " slots (vm.max_map_count %lu): %" PRIu64
                  " mappings in the process\n", st.slots, max,
                  st.vmas_in_use);
    assert_true(st.slots == slots);
    assert_true(st.vmas_in_use < 1000);
    assert_int_equal(bp_close(p), 0);
}

static void auto_takes_kmod(void **state)
{
    char path[512];
    bp_pool *p;
    bp_stats st;

    (void)state;
    if (!have_device())
        skip();
    make_data(path, sizeof path, "auto.db", 32);
    assert_int_equal(open_kmod(path, BP_BACKEND_AUTO, 0, &p), 0);
    util_stats(p, &st);
    print_message("  auto: %s\n", st.backend_reason);
    assert_int_equal(st.backend, BP_BACKEND_KMOD);
    assert_non_null(strstr(st.backend_reason, "bpwin"));
    assert_int_equal(bp_close(p), 0);
}

static sigjmp_buf trap_env;
static void *volatile trap_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    trap_addr = si->si_addr;
    siglongjmp(trap_env, 1);
}

/* 1 if writing one byte at a traps with SIGSEGV at a; 0 if it goes through. */
static int write_traps(volatile char *a)
{
    struct sigaction sa, old;
    int trapped = 0;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old);
    trap_addr = NULL;
    if (sigsetjmp(trap_env, 1) == 0)
        a[0] = a[0];
    else
        trapped = trap_addr == (void *)a;
    sigaction(SIGSEGV, &old, NULL);
    return trapped;
}

static void guard_traps_stray_writes(void **state)
{
    char path[512];
    bp_pool *p;
    bp_page h;
    bp_stats st;

    (void)state;
    if (!have_device())
        skip();
    make_data(path, sizeof path, "guarded.db", 32);
    assert_int_equal(open_kmod(path, BP_BACKEND_KMOD, 1, &p), 0);
    util_stats(p, &st);
    assert_int_equal(st.guard, 1);

    assert_int_equal(bp_fix(p, 3, BP_SHARED, &h), 0);
    char *a = h.data;
    util_assert_stamp(a, PSZ, 3, 1);
    assert_true(write_traps(a + 100));
    assert_int_equal(bp_unfix(p, &h, 0), 0);

    assert_int_equal(bp_fix(p, 3, BP_EXCLUSIVE, &h), 0);
    assert_ptr_equal(h.data, a);
    assert_false(write_traps(a + 100));
    util_stamp(a, PSZ, 3, 2);
    assert_int_equal(bp_unfix(p, &h, BP_DIRTY), 0);
    assert_true(write_traps(a + 100)); /* no longer fixed: read-only */
    util_assert_stamp(a, PSZ, 3, 2);   /* reads go through */

    util_stats(p, &st);
    print_message("  %" PRIu64 " protection changes\n", st.guard_protects);
    assert_true(st.guard_protects >= 2);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
}

int main(void)
{
    util_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_device_is_named),
        cmocka_unit_test(guard_needs_kmod),
        cmocka_unit_test(stamps_through_window),
        cmocka_unit_test(beyond_vma_limit),
        cmocka_unit_test(auto_takes_kmod),
        cmocka_unit_test(guard_traps_stray_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
