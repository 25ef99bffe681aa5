/*
 * test_bpstat.c - bpstat reads a live shared cache from outside, and what
 * it shows agrees with the using process's own bp_stats_get.
 *
 *   live_cache   a worker process attaches to a named shared cache and
 *                works in steps; between steps (the worker idle) this
 *                process runs the bpstat program next to this test's
 *                binary and checks:
 *                  totals (--json): fixes, window and cache hits and
 *                  misses and reads equal the worker's bp_stats_get, and
 *                  the read latency is there when reads are;
 *                  --processes: the worker's pid, ABI and counters;
 *                  --frames: the page the worker holds exclusive, with
 *                  its pid, and the pinned count;
 *                  rates (INTERVAL, COUNT) while the worker fixes pages:
 *                  some fixes/s above 0;
 *                  after the worker closed (the cache kept): its counters
 *                  in the cache's totals, no process attached.
 *   private_pool a private pool's frame table shows the window slots
 *                that map a frame (kept there only), and its process.
 *   bad_usage    a missing cache, a file that is not a cache and bad
 *                arguments give exit 1 or 2 and a message.
 *
 * Skipped (77) when bpstat was not built next to the test or does not run
 * (the emulated 32-bit leg runs it under BP_TEST_WORKER_EMU).
 */
#include "util_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BS_PAGES 32
#define BS_PSZ 4096

static char bs_prog[PATH_MAX + 16];
static const char *bs_emu = ""; /* BP_TEST_WORKER_EMU: how to run it */

static uint64_t bs_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Runs "bpstat ARGS", its stdout into out (n bytes); returns the exit
 * status (-1: not run). */
static int bs_run(char *out, size_t n, const char *args)
{
    char cmd[PATH_MAX + 512];
    size_t got = 0;
    FILE *f;
    int st;

    snprintf(cmd, sizeof cmd, "%s '%s' %s 2>&1", bs_emu, bs_prog, args);
    if (!(f = popen(cmd, "r")))
        return -1;
    while (got + 1 < n) {
        size_t k = fread(out + got, 1, n - 1 - got, f);

        if (k == 0)
            break;
        got += k;
    }
    out[got] = 0;
    st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The number after "\"key\":" in a JSON line (fails when missing). */
static double bs_num(const char *json, const char *key)
{
    char pat[96];
    const char *at;

    snprintf(pat, sizeof pat, "\"%s\":", key);
    at = strstr(json, pat);
    if (!at)
        fail_msg("bpstat's JSON has no \"%s\": %s", key, json);
    return strtod(at + strlen(pat), NULL);
}

/* ---- the worker ------------------------------------------------------- */

struct bs_link {
    int to_parent, from_parent;
};

static void bs_send(const struct bs_link *l, bp_pool *p)
{
    bp_stats st;

    memset(&st, 0, sizeof st);
    if (p && bp_stats_get(p, &st, sizeof st) != 0)
        _exit(3);
    if (write(l->to_parent, &st, sizeof st) != (ssize_t)sizeof st)
        _exit(3);
}

static void bs_wait(const struct bs_link *l)
{
    char c;

    if (read(l->from_parent, &c, 1) != 1)
        _exit(0); /* the test ended */
}

static int bs_fix_unfix(bp_pool *p, uint64_t pgno)
{
    bp_page pg;

    return bp_fix(p, pgno, BP_SHARED, &pg) || bp_unfix(p, &pg, 0);
}

static void bs_worker(const struct bs_link *l, const char *data,
                      const char *shm)
{
    struct util_cfg cfg = {.page_size = BS_PSZ, .frames = 64, .slots = 16,
                           .flags = BP_ATTACH, .shm_name = shm,
                           .shm_keep = 1};
    bp_pool *p;
    bp_page pg;

    if (util_pool_open(&p, data, &cfg) != 0)
        _exit(2);
    /* step 1: every page once (misses), then hits on a few */
    for (uint64_t i = 0; i < BS_PAGES; i++)
        if (bs_fix_unfix(p, i))
            _exit(4);
    for (int r = 0; r < 10; r++)
        for (uint64_t i = 0; i < 8; i++)
            if (bs_fix_unfix(p, i))
                _exit(4);
    bs_send(l, p);
    bs_wait(l);
    /* step 2: page 5 held exclusive */
    if (bp_fix(p, 5, BP_EXCLUSIVE, &pg) != 0)
        _exit(4);
    bs_send(l, p);
    bs_wait(l);
    if (bp_unfix(p, &pg, 0) != 0)
        _exit(4);
    /* step 3: fixes for about 1.5 s, window misses among them */
    for (uint64_t t0 = bs_now_ns(), i = 0;
         bs_now_ns() - t0 < 1500000000ull; i++)
        if (bs_fix_unfix(p, i % BS_PAGES))
            _exit(4);
    bs_send(l, p);
    bs_wait(l);
    /* step 4: close (the cache is kept), the last figures first */
    bs_send(l, p);
    if (bp_close(p) != 0)
        _exit(5);
    _exit(0);
}

/* ---- the checks --------------------------------------------------------- */

static void bs_agree(const char *json, const bp_stats *st)
{
    assert_int_equal((uint64_t)bs_num(json, "fixes"), st->fixes);
    assert_int_equal((uint64_t)bs_num(json, "window_hits"), st->window_hits);
    assert_int_equal((uint64_t)bs_num(json, "window_misses"),
                     st->window_misses);
    assert_int_equal((uint64_t)bs_num(json, "cache_hits"), st->cache_hits);
    assert_int_equal((uint64_t)bs_num(json, "cache_misses"),
                     st->cache_misses);
    assert_int_equal((uint64_t)bs_num(json, "reads"), st->reads);
    if (st->reads)
        assert_true(bs_num(json, "read_us") > 0);
}

static void bs_recv(int fd, bp_stats *st)
{
    assert_int_equal(read(fd, st, sizeof *st), (ssize_t)sizeof *st);
}

static void test_live_cache(void **state)
{
    char data[PATH_MAX], shm[64], shm_path[PATH_MAX], args[256];
    static char out[1 << 16];
    int up[2], down[2];
    struct bs_link l;
    bp_stats st, st1;
    pid_t pid;
    int status;

    (void)state;
    util_tmp_path(data, sizeof data, "bpstat.db");
    util_datafile_create(data, BS_PSZ, BS_PAGES, 1);
    util_shm_name(shm, sizeof shm);
    util_shm_path(shm_path, sizeof shm_path, shm);
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        l.to_parent = up[1];
        l.from_parent = down[0];
        close(up[0]);
        close(down[1]);
        bs_worker(&l, data, shm);
    }
    close(up[1]);
    close(down[0]);

    /* step 1: totals and processes agree with the worker's own figures */
    bs_recv(up[0], &st1);
    assert_true(st1.fixes > BS_PAGES && st1.reads >= BS_PAGES);
    snprintf(args, sizeof args, "--json %s", shm);
    assert_int_equal(bs_run(out, sizeof out, args), 0);
    bs_agree(out, &st1);
    assert_int_equal((int)bs_num(out, "procs"), 1);
    snprintf(args, sizeof args, "--processes --json %s", shm);
    assert_int_equal(bs_run(out, sizeof out, args), 0);
    assert_int_equal((pid_t)bs_num(out, "pid"), pid);
    assert_int_equal((int)bs_num(out, "abi"), (int)(sizeof(void *) * 8));
    bs_agree(out, &st1);
    assert_int_equal(write(down[1], "g", 1), 1);

    /* step 2: the page held exclusive shows in the frame table */
    bs_recv(up[0], &st);
    assert_int_equal(st.fixes, st1.fixes + 1);
    snprintf(args, sizeof args, "--frames --csv %s", shm);
    assert_int_equal(bs_run(out, sizeof out, args), 0);
    {
        const char *at = strstr(out, ",5,exclusive,");
        char pidtxt[32];

        if (!at)
            fail_msg("no exclusive page 5 in bpstat --frames:\n%s", out);
        snprintf(pidtxt, sizeof pidtxt, "\"%d\"", (int)pid);
        assert_non_null(strstr(at, pidtxt));
    }
    snprintf(args, sizeof args, "--json %s", shm);
    assert_int_equal(bs_run(out, sizeof out, args), 0);
    bs_agree(out, &st);
    assert_true(bs_num(out, "pinned") >= 1);
    assert_int_equal(write(down[1], "g", 1), 1);

    /* step 3: rates while the worker fixes pages */
    snprintf(args, sizeof args, "--json %s 0.3 3", shm);
    assert_int_equal(bs_run(out, sizeof out, args), 0);
    {
        double best = 0;

        for (const char *at = out; (at = strstr(at, "\"fixes_per_s\":"));
             at++) {
            double v = strtod(at + strlen("\"fixes_per_s\":"), NULL);

            best = v > best ? v : best;
        }
        if (!(best > 0))
            fail_msg("no fixes/s above 0 while the worker ran:\n%s", out);
    }
    bs_recv(up[0], &st);
    assert_int_equal(write(down[1], "g", 1), 1);

    /* step 4: closed, its counters stay in the cache's totals */
    bs_recv(up[0], &st);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    snprintf(args, sizeof args, "--json %s", shm);
    assert_int_equal(bs_run(out, sizeof out, args), 0);
    bs_agree(out, &st);
    assert_int_equal((int)bs_num(out, "procs"), 0);
    close(up[0]);
    close(down[1]);
    unlink(shm_path);
}

/* A private pool keeps which window slots map a frame: --frames shows
 * it, and the pool's own process in --processes. */
static void test_private_pool(void **state)
{
    struct util_cfg cfg = {.page_size = BS_PSZ, .frames = 64, .slots = 16};
    char data[PATH_MAX], shm[64], args[256];
    static char out[1 << 16];
    bp_pool *p;
    bp_page pg;
    char want[64];

    (void)state;
    util_tmp_path(data, sizeof data, "bpstat-private.db");
    util_datafile_create(data, BS_PSZ, BS_PAGES, 1);
    util_shm_name(shm, sizeof shm);
    cfg.shm_name = shm;
    cfg.backend = util_backend_for(BP_BACKEND_MMAP);
    assert_int_equal(util_pool_open(&p, data, &cfg), 0);
    assert_int_equal(bp_fix(p, 3, BP_SHARED, &pg), 0);
    snprintf(args, sizeof args, "--frames --csv %s", shm);
    assert_int_equal(bs_run(out, sizeof out, args), 0);
    /* frame,page,state,dirty,pins,usage,mapped,held_by */
    snprintf(want, sizeof want, ",3,shared,0,1,");
    if (!strstr(out, want))
        fail_msg("page 3 not shown fixed shared:\n%s", out);
    assert_true(strtol(strchr(strstr(out, want) + strlen(want), ',') + 1,
                       NULL, 10) >= 1);
    snprintf(args, sizeof args, "--processes --json %s", shm);
    assert_int_equal(bs_run(out, sizeof out, args), 0);
    assert_int_equal((pid_t)bs_num(out, "pid"), getpid());
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    assert_int_equal(bp_close(p), 0);
}

static void test_bad_usage(void **state)
{
    char args[PATH_MAX + 64], path[PATH_MAX];
    static char out[4096];
    int fd;

    (void)state;
    assert_int_equal(bs_run(out, sizeof out, "bptest-no-such-cache-xyz"), 1);
    assert_non_null(strstr(out, "no such shared cache"));
    util_tmp_path(path, sizeof path, "not-a-cache");
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    snprintf(args, sizeof args, "'%s'", path);
    assert_int_equal(bs_run(out, sizeof out, args), 1);
    assert_non_null(strstr(out, "not a libbufpool cache"));
    assert_int_equal(bs_run(out, sizeof out, ""), 2);
    assert_int_equal(bs_run(out, sizeof out, "--bogus x"), 2);
    assert_int_equal(bs_run(out, sizeof out, "x 0"), 2);
    assert_int_equal(bs_run(out, sizeof out, "x 1 -3"), 2);
    assert_int_equal(bs_run(out, sizeof out, "--frames x 1"), 2);
    assert_int_equal(bs_run(out, sizeof out, "--help"), 0);
    assert_non_null(strstr(out, "usage: bpstat"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_cache),
        cmocka_unit_test(test_private_pool),
        cmocka_unit_test(test_bad_usage),
    };
    char self[PATH_MAX];
    ssize_t n;

    util_init();
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return util_skip("cannot read /proc/self/exe to find bpstat");
    self[n] = 0;
    *strrchr(self, '/') = 0;
    snprintf(bs_prog, sizeof bs_prog, "%s/bpstat", self);
    if (access(bs_prog, X_OK) != 0)
        return util_skip("bpstat was not built next to this test");
    /* the emulated 32-bit leg runs bpstat under the test's emulator */
    if (getenv("BP_TEST_WORKER_EMU"))
        bs_emu = getenv("BP_TEST_WORKER_EMU");
    {
        static char out[256];

        if (bs_run(out, sizeof out, "--version") != 0)
            return util_skip("bpstat does not run here (--version failed)");
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
