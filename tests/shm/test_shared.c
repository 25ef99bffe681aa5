/*
 * test_shared.c - several processes share one cache (bp_open BP_ATTACH).
 *
 * The other processes are this program again, started with --worker
 * (posix_spawn of /proc/self/exe, so sanitizers see a fresh process): a
 * worker reads one command per line on stdin and answers one line on
 * stdout (shared_worker.c).  The parent holds a pool of its own on the
 * same cache and checks what the workers did:
 *
 *   attach_smoke       create, attach, each sees the other's writes without
 *                      a flush, detach, the last detach removes the name
 *                      (kept with keep, and revived when attached again)
 *   stamp_counters     4 processes increment per-process counters in
 *                      shared pages under exclusive fixes; every page's
 *                      counts add up and its checksum holds
 *   latch_exclusion    a shared fix in one process keeps exclusive fixes
 *                      of another out (BP_EAGAIN) and lets shared ones in;
 *                      an exclusive fix keeps everyone out, optimistic
 *                      reads too
 *   two_caches_refused a second cache, a private pool or a read-only pool
 *                      on a shared cache's data file is refused (-EBUSY),
 *                      and so is a shared cache beside a private pool; an
 *                      attach with other options names the field
 *   copy_refused       the copy backend in a shared cache (BP_EBACKEND)
 *   alloc_concurrent   4 processes allocate pages at once: no page twice
 *   stale_window       a page evicted by another process and its frame
 *                      reused is read again, never through the old slot
 *   stale_reads        read-ahead and an early read of a page that another
 *                      process caches and changes meanwhile see its bytes
 *   flush_across       one process's dirty pages are flushed by another;
 *                      a failed fdatasync in one is seen by every process
 *   fork_then_attach   a forked child's copy is refused; closed, the child
 *                      attaches the cache itself
 *   mixed_abi          a process of the other ABI (BP_TEST_PEER: the
 *                      32-bit leg of make test runs this program 32-bit
 *                      and gives it the 64-bit build) stamps counters on
 *                      the same cache at the same time
 */
#include "util_test.h"
#include "shared_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NW 4 /* workers in the concurrent cases */

struct env {
    char data[600];
    char shm[64];
    char shm_path[128];
};

/* A data file of npages pages stamped gen (UTIL_GEN_ZERO: zero pages) and
 * a fresh shm name. */
static void env_make_gen(struct env *e, const char *name, uint64_t npages,
                         uint32_t gen)
{
    util_tmp_path(e->data, sizeof e->data, name);
    util_datafile_create(e->data, SW_PSZ, npages, gen);
    util_shm_name(e->shm, sizeof e->shm);
    util_shm_path(e->shm_path, sizeof e->shm_path, e->shm);
}

static void env_make(struct env *e, const char *name, uint64_t npages)
{
    env_make_gen(e, name, npages, 1);
}

static bp_pool *attach(const struct env *e, int keep)
{
    bp_pool *p = NULL;
    int rc = sw_open(&p, e->data, e->shm, keep, BP_BACKEND_AUTO, 0);

    if (rc)
        util_print_rc(p, "bp_open(BP_ATTACH)", rc);
    assert_int_equal(rc, 0);
    return p;
}

static int shm_exists(const struct env *e)
{
    struct stat st;

    return stat(e->shm_path, &st) == 0;
}

static void test_attach_smoke(void **state)
{
    (void)state;
    struct env e;
    struct sw w;
    char line[256];

    env_make(&e, "smoke.db", 16);
    bp_pool *p = attach(&e, 0);
    assert_true(shm_exists(&e));
    sw_start(&w, e.data, e.shm, "");
    sw_cmd(&w, "open", line, sizeof line);
    assert_string_equal(line, "ok");
    util_fix_write(p, 3, SW_PSZ, 1, 7); /* dirty in the cache, not flushed */
    sw_cmd(&w, "read 3", line, sizeof line);
    assert_string_equal(line, "gen 7");
    sw_cmd(&w, "write 4 9", line, sizeof line);
    assert_string_equal(line, "ok");
    util_fix_verify(p, 4, BP_SHARED, SW_PSZ, 9);
    sw_cmd(&w, "close", line, sizeof line);
    assert_string_equal(line, "ok");
    assert_int_equal(sw_stop(&w), 0);
    assert_true(shm_exists(&e)); /* we are still attached */
    util_check(p);
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    assert_false(shm_exists(&e)); /* the last detach removed it */
    uint32_t want[16];
    for (unsigned i = 0; i < 16; i++)
        want[i] = i == 3 ? 7 : i == 4 ? 9 : 1;
    util_datafile_verify(e.data, SW_PSZ, 16, want);

    /* kept: the name stays, and the next attach revives the cache
     * (test_revive.c): the never-flushed page 5 is dropped and read from
     * the data file again */
    p = attach(&e, 1);
    util_fix_write(p, 5, SW_PSZ, 1, 11); /* never flushed */
    assert_int_equal(bp_close(p), 0);
    assert_true(shm_exists(&e));
    p = attach(&e, 0);
    util_fix_verify(p, 5, BP_SHARED, SW_PSZ, 1);
    util_fix_verify(p, 3, BP_SHARED, SW_PSZ, 7);
    assert_int_equal(bp_close(p), 0);
    assert_false(shm_exists(&e));
}

static void test_stamp_counters(void **state)
{
    (void)state;
    struct env e;
    struct sw w[NW];
    char line[4096], cmd[128];
    const unsigned npages = 24, iters = 3000;
    uint64_t counts[NW][SW_MAXPAGES];

    env_make_gen(&e, "stamp.db", npages, UTIL_GEN_ZERO);
    bp_pool *p = attach(&e, 0);
    for (unsigned i = 0; i < NW; i++) {
        sw_start(&w[i], e.data, e.shm, "");
        sw_cmd(&w[i], "open", line, sizeof line);
        assert_string_equal(line, "ok");
    }
    for (unsigned i = 0; i < NW; i++) { /* all at once */
        snprintf(cmd, sizeof cmd, "stamp %u %u %u %u", iters, npages, i,
                 i + 1);
        sw_send(&w[i], cmd);
    }
    for (unsigned i = 0; i < NW; i++) {
        sw_recv(&w[i], line, sizeof line);
        assert_int_equal(sw_parse_counts(line, counts[i], npages), 0);
        sw_cmd(&w[i], "flush", line, sizeof line);
        assert_string_equal(line, "ok");
        sw_cmd(&w[i], "close", line, sizeof line);
        assert_string_equal(line, "ok");
        assert_int_equal(sw_stop(&w[i]), 0);
    }
    /* every page in the cache, then on disk, holds exactly the counts */
    for (unsigned pg = 0; pg < npages; pg++) {
        bp_page h;
        uint64_t want[SW_WORKERS] = {0};
        for (unsigned i = 0; i < NW; i++)
            want[i] = counts[i][pg];
        assert_int_equal(bp_fix(p, pg, BP_SHARED, &h), 0);
        assert_int_equal(sw_counter_check(h.data, pg, want), 0);
        assert_int_equal(bp_unfix(p, &h, 0), 0);
    }
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    assert_false(shm_exists(&e));
}

static void test_latch_exclusion(void **state)
{
    (void)state;
    struct env e;
    struct sw w;
    char line[256];
    bp_page h;
    bp_opt o;

    env_make(&e, "latch.db", 8);
    bp_pool *p = attach(&e, 0);
    sw_start(&w, e.data, e.shm, "");
    sw_cmd(&w, "open", line, sizeof line);
    assert_string_equal(line, "ok");

    sw_cmd(&w, "fix 2 s", line, sizeof line); /* held shared there */
    assert_string_equal(line, "ok");
    assert_int_equal(bp_fix(p, 2, BP_EXCLUSIVE | BP_NOWAIT, &h), BP_EAGAIN);
    assert_int_equal(bp_fix(p, 2, BP_SHARED, &h), 0);
    assert_int_equal(bp_unfix(p, &h, 0), 0);
    sw_cmd(&w, "unfix 2", line, sizeof line);
    assert_string_equal(line, "ok");
    assert_int_equal(bp_fix(p, 2, BP_EXCLUSIVE | BP_NOWAIT, &h), 0);
    assert_int_equal(bp_unfix(p, &h, 0), 0);

    sw_cmd(&w, "fix 2 x", line, sizeof line); /* held exclusive there */
    assert_string_equal(line, "ok");
    assert_int_equal(bp_fix(p, 2, BP_SHARED | BP_NOWAIT, &h), BP_EAGAIN);
    assert_int_equal(bp_fix(p, 2, BP_EXCLUSIVE | BP_NOWAIT, &h), BP_EAGAIN);
    assert_int_equal(bp_opt_begin(p, 2, &o), BP_ERETRY);
    sw_cmd(&w, "unfix 2", line, sizeof line);
    assert_string_equal(line, "ok");

    /* an optimistic read here fails once the other process writes */
    assert_int_equal(bp_opt_begin(p, 2, &o), 0);
    assert_int_equal(bp_opt_validate(p, &o), 0);
    sw_cmd(&w, "write 2 5", line, sizeof line);
    assert_string_equal(line, "ok");
    assert_int_equal(bp_opt_validate(p, &o), BP_ERETRY);
    util_fix_verify(p, 2, BP_SHARED, SW_PSZ, 5);

    /* our exclusive fix keeps theirs out */
    assert_int_equal(bp_fix(p, 2, BP_EXCLUSIVE, &h), 0);
    sw_cmd(&w, "fix 2 xn", line, sizeof line);
    assert_string_equal(line, "err -30919"); /* BP_EAGAIN */
    sw_cmd(&w, "fix 2 sn", line, sizeof line);
    assert_string_equal(line, "err -30919");
    assert_int_equal(bp_unfix(p, &h, 0), 0);
    sw_cmd(&w, "fix 2 sn", line, sizeof line);
    assert_string_equal(line, "ok");
    sw_cmd(&w, "unfix 2", line, sizeof line);
    assert_string_equal(line, "ok");
    sw_cmd(&w, "close", line, sizeof line);
    assert_int_equal(sw_stop(&w), 0);
    assert_int_equal(bp_close(p), 0);
}

static void test_two_caches_refused(void **state)
{
    (void)state;
    struct env e;
    char other[64];
    bp_pool *q = NULL;

    env_make(&e, "twocaches.db", 8);
    bp_pool *p = attach(&e, 0);
    util_shm_name(other, sizeof other);
    assert_int_equal(sw_open(&q, e.data, other, 0, BP_BACKEND_AUTO, 0),
                     -EBUSY);
    print_message("  second cache: %s\n", bp_errmsg(q));
    bp_close(q);
    q = NULL;
    assert_int_equal(sw_open(&q, e.data, NULL, 0, BP_BACKEND_AUTO, 0), -EBUSY);
    print_message("  private pool: %s\n", bp_errmsg(q));
    bp_close(q);
    q = NULL;
    assert_int_equal(sw_open(&q, e.data, NULL, 0, BP_BACKEND_AUTO, BP_RDONLY),
                     -EBUSY);
    print_message("  read-only pool: %s\n", bp_errmsg(q));
    assert_non_null(strstr(bp_errmsg(q), "shared cache"));
    bp_close(q);

    /* the same name with other options: the field is named */
    q = NULL;
    assert_int_equal(bp_create(&q, NULL), 0);
    assert_int_equal(bp_set_page_size(q, SW_PSZ), 0);
    assert_int_equal(bp_set_cache_frames(q, SW_FRAMES * 2), 0);
    assert_int_equal(bp_set_window_slots(q, SW_SLOTS), 0);
    assert_int_equal(bp_set_shm(q, e.shm, 0), 0);
    assert_int_equal(bp_open(q, e.data, BP_ATTACH), BP_ESHMMISMATCH);
    print_message("  other cache size: %s\n", bp_errmsg(q));
    assert_non_null(strstr(bp_errmsg(q), "cache frames"));
    bp_close(q);
    assert_true(shm_exists(&e)); /* a refused attach removes nothing */
    assert_int_equal(bp_close(p), 0);

    /* a shared cache beside a private pool */
    assert_int_equal(sw_open(&p, e.data, NULL, 0, BP_BACKEND_AUTO, 0), 0);
    q = NULL;
    assert_int_equal(sw_open(&q, e.data, e.shm, 0, BP_BACKEND_AUTO, 0),
                     -EBUSY);
    print_message("  beside a private pool: %s\n", bp_errmsg(q));
    bp_close(q);
    assert_false(shm_exists(&e));
    assert_int_equal(bp_close(p), 0);
}

static void test_copy_refused(void **state)
{
    (void)state;
    struct env e;
    bp_pool *q = NULL;

    env_make(&e, "copy.db", 8);
    assert_int_equal(sw_open(&q, e.data, e.shm, 0, BP_BACKEND_COPY, 0),
                     BP_EBACKEND);
    print_message("  %s\n", bp_errmsg(q));
    assert_non_null(strstr(bp_errmsg(q), "copy"));
    bp_close(q);
    assert_false(shm_exists(&e));
}

static void test_alloc_concurrent(void **state)
{
    (void)state;
    struct env e;
    struct sw w[NW];
    char line[8192], cmd[64];
    enum { each = 40, start = 8 };
    unsigned char seen[start + NW * each] = {0};

    env_make(&e, "alloc.db", start);
    bp_pool *p = attach(&e, 0);
    for (unsigned i = 0; i < NW; i++) {
        sw_start(&w[i], e.data, e.shm, "");
        sw_cmd(&w[i], "open", line, sizeof line);
        assert_string_equal(line, "ok");
    }
    for (unsigned i = 0; i < NW; i++) {
        snprintf(cmd, sizeof cmd, "alloc %u %u", each, 100 + i);
        sw_send(&w[i], cmd);
    }
    for (unsigned i = 0; i < NW; i++) {
        uint64_t pg[64];
        sw_recv(&w[i], line, sizeof line);
        assert_int_equal(sw_parse_list(line, "pages", pg, each), 0);
        for (unsigned k = 0; k < each; k++) {
            assert_true(pg[k] >= start && pg[k] < start + NW * each);
            assert_int_equal(seen[pg[k]], 0); /* no page twice */
            seen[pg[k]] = (unsigned char)(i + 1);
        }
    }
    assert_int_equal(bp_page_count(p), start + NW * each);
    for (uint64_t pg = start; pg < start + NW * each; pg++)
        util_fix_verify(p, pg, BP_SHARED, SW_PSZ, 100 + seen[pg] - 1);
    assert_int_equal(bp_flush(p), 0);
    for (unsigned i = 0; i < NW; i++) {
        sw_cmd(&w[i], "close", line, sizeof line);
        assert_int_equal(sw_stop(&w[i]), 0);
    }
    assert_int_equal(bp_close(p), 0);
    uint32_t want[start + NW * each];
    for (unsigned i = 0; i < start + NW * each; i++)
        want[i] = i < start ? 1 : 100 + seen[i] - 1;
    util_datafile_verify(e.data, SW_PSZ, start + NW * each, want);
}

static void test_stale_window(void **state)
{
    (void)state;
    struct env e;
    struct sw w;
    char line[256], cmd[64];
    const unsigned npages = SW_FRAMES * 3;

    env_make(&e, "stale.db", npages);
    bp_pool *p = attach(&e, 0);
    sw_start(&w, e.data, e.shm, "");
    sw_cmd(&w, "open", line, sizeof line);
    assert_string_equal(line, "ok");
    util_fix_write(p, 0, SW_PSZ, 1, 2); /* in our window */
    /* the worker reads three caches' worth: every frame is reused, ours
     * included, while our slot still shows frame of page 0 */
    for (unsigned pg = 1; pg < npages; pg++) {
        snprintf(cmd, sizeof cmd, "read %u", pg);
        sw_cmd(&w, cmd, line, sizeof line);
        assert_string_equal(line, "gen 1");
    }
    util_fix_verify(p, 0, BP_SHARED, SW_PSZ, 2); /* written back, read */
    for (unsigned pg = 1; pg < 8; pg++)
        util_fix_verify(p, pg, BP_EXCLUSIVE, SW_PSZ, 1);
    util_check(p);
    sw_cmd(&w, "close", line, sizeof line);
    assert_int_equal(sw_stop(&w), 0);
    assert_int_equal(bp_close(p), 0);
}

static void test_flush_across(void **state)
{
    (void)state;
    struct env e;
    struct sw w[2];
    char line[256];
    bp_stats st;

    env_make(&e, "flush.db", 8);
    bp_pool *p = attach(&e, 0);
    for (int i = 0; i < 2; i++) {
        sw_start(&w[i], e.data, e.shm, "");
        sw_cmd(&w[i], "open", line, sizeof line);
        assert_string_equal(line, "ok");
    }
    sw_cmd(&w[0], "write 1 3", line, sizeof line);
    sw_cmd(&w[0], "close", line, sizeof line); /* not flushed: still dirty */
    assert_int_equal(sw_stop(&w[0]), 0);
    util_stats(p, &st);
    assert_int_equal(st.dirty_frames, 1);
    assert_int_equal(bp_flush(p), 0); /* ours writes theirs */
    uint32_t want[8] = {1, 3, 1, 1, 1, 1, 1, 1};
    util_datafile_verify(e.data, SW_PSZ, 8, want);

    /* an fdatasync that fails in the worker is every process's error */
    sw_cmd(&w[1], "write 2 4", line, sizeof line);
    assert_string_equal(line, "ok");
    sw_cmd(&w[1], "failsync", line, sizeof line);
    if (strcmp(line, "skip") == 0) {
        print_message("  fdatasync failure not injected: this build has "
                      "no fault table (BP_FAULT_INJECTION off)\n");
    } else {
        assert_string_equal(line, "ok");
        sw_cmd(&w[1], "flush", line, sizeof line);
        assert_string_equal(line, "err -5"); /* its own failure: EIO */
        assert_int_equal(bp_flush(p), BP_ESYNC); /* ours: the sticky one */
        print_message("  %s\n", bp_errmsg(p));
        bp_page h;
        assert_int_equal(bp_alloc_page(p, &h), BP_ESYNC);
        util_fix_verify(p, 2, BP_SHARED, SW_PSZ, 4); /* reads still work */
    }
    sw_cmd(&w[1], "close", line, sizeof line);
    assert_int_equal(sw_stop(&w[1]), 0);
    assert_int_equal(bp_close(p), 0);
}

/* The early-read hook: another process writes the page while this
 * process's early read of it is in flight. */
struct early_ctx {
    struct sw *w;
    unsigned calls;
};

static void early_write(void *arg, uint64_t pgno)
{
    struct early_ctx *c = arg;
    char cmd[64], line[64];

    c->calls++;
    snprintf(cmd, sizeof cmd, "write %" PRIu64 " 9", pgno);
    sw_cmd(c->w, cmd, line, sizeof line);
}

static void test_stale_reads(void **state)
{
    (void)state;
    struct env e;
    struct sw w;
    char line[256];
    bp_pool *p = NULL;
    bp_stats st;
    struct early_ctx ec = {&w, 0};
    uint64_t y = 6;

    env_make(&e, "earlyx.db", 16);
    /* this process: linear, staged, so a fix miss reads early */
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(bp_set_page_size(p, SW_PSZ), 0);
    assert_int_equal(bp_set_cache_frames(p, SW_FRAMES), 0);
    assert_int_equal(bp_set_shm(p, e.shm, 0), 0);
    if (sizeof(void *) >= 8) {
        assert_int_equal(bp_set_backend(p, BP_BACKEND_LINEAR), 0);
        assert_int_equal(bp_set_io_stage(p, BP_STAGE_ON), 0);
    }
    int rc = bp_open(p, e.data, BP_ATTACH);
    if (rc)
        util_print_rc(p, "bp_open", rc);
    assert_int_equal(rc, 0);
    sw_start(&w, e.data, e.shm, "");
    sw_cmd(&w, "open", line, sizeof line);
    assert_string_equal(line, "ok");

    /* read-ahead: the page is dirty in the other process's cache */
    sw_cmd(&w, "write 6 7", line, sizeof line);
    assert_string_equal(line, "ok");
    assert_true(bp_prefetch(p, &y, 1) >= 0);
    util_fix_verify(p, 6, BP_SHARED, SW_PSZ, 7);

    /* early read: the other process caches and changes the page while
     * this process's read of it is in flight */
    util_stats(p, &st);
    if (bp__test_early_hook(early_write, &ec) != 0 ||
        !(st.io_staged & 4)) {
        bp__test_early_hook(NULL, NULL);
        print_message("  early-read case skipped: %s\n",
                      !(st.io_staged & 4) ? "no early reads here (io_uring "
                                            "and staging needed)"
                                          : "no fault table in this build");
    } else {
        bp_page h;
        rc = bp_fix(p, 3, BP_SHARED, &h);
        bp__test_early_hook(NULL, NULL);
        assert_int_equal(rc, 0);
        assert_int_equal(ec.calls, 1);
        assert_int_equal(util_page_gen(h.data, SW_PSZ, 3), 9);
        assert_int_equal(bp_unfix(p, &h, 0), 0);
    }
    sw_cmd(&w, "close", line, sizeof line);
    assert_int_equal(sw_stop(&w), 0);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
}

static void test_fork_then_attach(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    print_message("  skipped under TSan: no threads in a forked child\n");
    skip();
#endif
    struct env e;
    env_make(&e, "forkattach.db", 8);
    bp_pool *p = attach(&e, 0);
    util_fix_write(p, 6, SW_PSZ, 1, 12);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bp_page h;
        bp_pool *q = NULL;
        int ok = bp_fix(p, 6, BP_SHARED, &h) == BP_EFORKED &&
                 bp_close(p) == 0 &&
                 sw_open(&q, e.data, e.shm, 0, BP_BACKEND_AUTO, 0) == 0 &&
                 bp_fix(q, 6, BP_EXCLUSIVE, &h) == 0 &&
                 util_page_gen(h.data, SW_PSZ, 6) == 12;
        if (ok) {
            util_stamp(h.data, SW_PSZ, 6, 13);
            ok = bp_unfix(q, &h, BP_DIRTY) == 0 && bp_close(q) == 0;
        }
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(shm_exists(&e)); /* the child was not the last */
    util_fix_verify(p, 6, BP_SHARED, SW_PSZ, 13);
    assert_int_equal(bp_close(p), 0);
    assert_false(shm_exists(&e));
}

static void test_mixed_abi(void **state)
{
    (void)state;
    const char *peer = getenv("BP_TEST_PEER");
    if (!peer || !*peer || access(peer, X_OK) != 0) {
        print_message("  skipped: no program of the other ABI to run beside "
                      "this one (BP_TEST_PEER; the 32-bit leg of make test "
                      "sets it to the 64-bit build)\n");
        skip();
    }
    const char *emu = getenv("BP_TEST_PEER_EMU");
    struct env e;
    struct sw w[2];
    char line[4096], cmd[128];
    const unsigned npages = 16, iters = 2000;
    uint64_t counts[2][SW_MAXPAGES];

    env_make_gen(&e, "mixed.db", npages, UTIL_GEN_ZERO);
    bp_pool *p = attach(&e, 0);
    print_message("  this process is %zu-bit; the peer is %s\n",
                  sizeof(void *) * 8, peer);
    sw_start(&w[0], e.data, e.shm, "");
    sw_start_prog(&w[1], peer, emu && *emu ? emu : NULL, e.data, e.shm, "");
    for (unsigned i = 0; i < 2; i++) {
        sw_cmd(&w[i], "open", line, sizeof line);
        assert_string_equal(line, "ok");
    }
    sw_cmd(&w[1], "bits", line, sizeof line);
    print_message("  peer worker: %s-bit\n", line);
    assert_true(atoi(line) != (int)(sizeof(void *) * 8));
    for (unsigned i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "stamp %u %u %u %u", iters, npages, i,
                 i + 7);
        sw_send(&w[i], cmd);
    }
    for (unsigned i = 0; i < 2; i++) {
        sw_recv(&w[i], line, sizeof line);
        assert_int_equal(sw_parse_counts(line, counts[i], npages), 0);
        sw_cmd(&w[i], "close", line, sizeof line);
        assert_string_equal(line, "ok");
        assert_int_equal(sw_stop(&w[i]), 0);
    }
    for (unsigned pg = 0; pg < npages; pg++) {
        bp_page h;
        uint64_t want[SW_WORKERS] = {counts[0][pg], counts[1][pg]};
        assert_int_equal(bp_fix(p, pg, BP_SHARED, &h), 0);
        assert_int_equal(sw_counter_check(h.data, pg, want), 0);
        assert_int_equal(bp_unfix(p, &h, 0), 0);
    }
    assert_int_equal(bp_close(p), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--worker") == 0)
        return sw_main(argc - 2, argv + 2);
    util_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_smoke),
        cmocka_unit_test(test_stamp_counters),
        cmocka_unit_test(test_latch_exclusion),
        cmocka_unit_test(test_two_caches_refused),
        cmocka_unit_test(test_copy_refused),
        cmocka_unit_test(test_alloc_concurrent),
        cmocka_unit_test(test_stale_window),
        cmocka_unit_test(test_flush_across),
        cmocka_unit_test(test_stale_reads),
        cmocka_unit_test(test_fork_then_attach),
        cmocka_unit_test(test_mixed_abi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
