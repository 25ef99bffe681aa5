/*
 * test_api.c - the public header's promises that no other test owns.
 *
 *   version:  bp_version's numbers and string equal the header's
 *             BUFPOOL_VERSION_* (and BP_VERSION_*) macros;
 *   errmsg:   the last-error message is the calling thread's: two threads
 *             failing different calls on one pool at the same time, in a
 *             loop, each read their own message every time; another pool,
 *             another thread, a new handle at a closed one's address see
 *             ""; bp_errmsg(NULL) gives a failed bp_create's detail;
 *             bp_open clears the message;
 *   env:      every BUFPOOL_* variable: a value not listed fails bp_open
 *             with -EINVAL before anything is created, bp_errmsg naming
 *             the variable, the value and the valid values; an empty
 *             value counts as unset; one good value opens and does what
 *             the header says (BUFPOOL_BACKEND, BUFPOOL_IO and
 *             BUFPOOL_IO_STAGE beat the API);
 *   WAL rule: the callback runs on the thread that evicts; its nonzero
 *             return comes back unchanged from bp_fix and bp_flush with
 *             the page left dirty; it may call bp_wal_durable (later
 *             pages below need no call) and fix other pages shared,
 *             being re-entered when such a fix evicts.
 *
 * The suite also runs whole with BUFPOOL_IO=sync: every test that sets a
 * variable puts back what it found.
 */
#include "util_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 32u
#define LSN_OFF 64u

/* ---- helpers ------------------------------------------------------------- */

/* A fresh data file of NPAGES zero pages named name in path. */
static void data_file(char *path, size_t len, const char *name)
{
    util_tmp_path(path, len, name);
    util_datafile_create(path, PSZ, NPAGES, UTIL_GEN_ZERO);
}

/* A created, configured, not yet opened pool: copy backend (every
 * platform), 16 frames, 8 slots. */
static bp_pool *small_pool(bp_backend b)
{
    struct util_cfg cfg = {.backend = b, .page_size = PSZ, .frames = 16,
                           .slots = 8};
    bp_pool *p;

    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, &cfg), 0);
    return p;
}

/* The environment variable as found, to put back. */
struct saved_env {
    const char *name;
    char *value; /* NULL: it was unset */
};

static struct saved_env env_save(const char *name)
{
    const char *v = getenv(name);
    struct saved_env s = {name, v ? strdup(v) : NULL};

    if (v)
        assert_non_null(s.value);
    return s;
}

static void env_restore(struct saved_env *s)
{
    if (s->value)
        assert_int_equal(setenv(s->name, s->value, 1), 0);
    else
        assert_int_equal(unsetenv(s->name), 0);
    free(s->value);
    s->value = NULL;
}

/* ---- version ------------------------------------------------------------- */

static void test_version(void **state)
{
    int ma = -1, mi = -1, pa = -1;
    char want[64];
    const char *s;

    (void)state;
    s = bp_version(&ma, &mi, &pa);
    assert_non_null(s);
    assert_int_equal(ma, BUFPOOL_VERSION_MAJOR);
    assert_int_equal(mi, BUFPOOL_VERSION_MINOR);
    assert_int_equal(pa, BUFPOOL_VERSION_PATCH);
    assert_int_equal(BP_VERSION_MAJOR, BUFPOOL_VERSION_MAJOR);
    assert_int_equal(BP_VERSION_MINOR, BUFPOOL_VERSION_MINOR);
    assert_int_equal(BP_VERSION_PATCH, BUFPOOL_VERSION_PATCH);
    snprintf(want, sizeof want, "libbufpool %d.%d.%d", BUFPOOL_VERSION_MAJOR,
             BUFPOOL_VERSION_MINOR, BUFPOOL_VERSION_PATCH);
    assert_string_equal(s, want);
    /* every pointer may be NULL, and the string stays the same */
    assert_ptr_equal(bp_version(NULL, NULL, NULL), s);
    mi = -1;
    assert_string_equal(bp_version(NULL, &mi, NULL), want);
    assert_int_equal(mi, BUFPOOL_VERSION_MINOR);
}

/* ---- errmsg: rules ------------------------------------------------------- */

static void *read_msg(void *arg)
{
    const bp_pool *p = arg;

    return (void *)(uintptr_t)(bp_errmsg(p)[0] == '\0' &&
                               bp_errmsg(NULL)[0] == '\0');
}

static void test_errmsg_rules(void **state)
{
    char path[600];
    bp_pool *p, *q, *r;
    pthread_t t;
    void *empty = NULL;

    (void)state;
    data_file(path, sizeof path, "errmsg.db");

    /* a failed bp_create has no pool: bp_errmsg(NULL) has its detail */
    assert_int_equal(bp_create(NULL, NULL), -EINVAL);
    assert_non_null(strstr(bp_errmsg(NULL), "bp_create"));
    bp_allocator half = {NULL, NULL, NULL};
    assert_int_equal(bp_create(&p, &half), -EINVAL);
    assert_null(p);
    assert_non_null(strstr(bp_errmsg(NULL), "allocator"));

    p = small_pool(BP_BACKEND_COPY);
    q = small_pool(BP_BACKEND_COPY);
    assert_int_equal(bp_set_page_size(p, 1000), BP_EPAGESIZE);
    assert_non_null(strstr(bp_errmsg(p), "1000"));
    assert_non_null(strstr(bp_errmsg(NULL), "1000")); /* whatever pool */
    assert_string_equal(bp_errmsg(q), "");            /* not q's failure */

    /* another thread has its own (empty) message */
    assert_int_equal(pthread_create(&t, NULL, read_msg, p), 0);
    assert_int_equal(pthread_join(t, &empty), 0);
    assert_true(empty != NULL);

    /* the last failure wins, on whichever pool it was */
    assert_int_equal(bp_set_io_depth(q, 0), -EINVAL);
    assert_string_equal(bp_errmsg(p), "");
    assert_non_null(strstr(bp_errmsg(q), "depth"));

    /* success keeps the message; bp_open clears it when it starts */
    assert_int_equal(bp_set_page_size(p, 1000), BP_EPAGESIZE);
    assert_int_equal(bp_set_page_size(p, PSZ), 0);
    assert_non_null(strstr(bp_errmsg(p), "1000"));
    assert_int_equal(bp_open(p, path, 0), 0);
    assert_string_equal(bp_errmsg(p), "");
    assert_int_equal(bp_close(p), 0);

    /* a message about a closed handle never shows for a new one, even
     * at the same address */
    assert_int_equal(bp_set_io_depth(q, 5000), -EINVAL);
    assert_non_null(strstr(bp_errmsg(q), "5000"));
    assert_int_equal(bp_close(q), 0);
    assert_int_equal(bp_create(&r, NULL), 0);
    assert_string_equal(bp_errmsg(r), "");
    assert_non_null(strstr(bp_errmsg(NULL), "5000"));
    assert_int_equal(bp_close(r), 0);
    unlink(path);
}

/* ---- errmsg: two threads failing at once on one pool --------------------- */

#define RACE_LOOPS 50000u

struct racer {
    bp_pool *p;
    pthread_barrier_t *go;
    int which;         /* 0: bp_fix beyond the end, 1: a stray bp_unfix */
    unsigned wrong;    /* iterations that read another message */
    unsigned bad_rc;   /* iterations whose call did not fail as expected */
    char seen[600];    /* the first wrong message */
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char want[96];

    pthread_barrier_wait(r->go);
    for (unsigned i = 0; i < RACE_LOOPS; i++) {
        uint64_t pg = (r->which ? 1000000u : NPAGES) + i; /* unique */
        bp_page h;
        int rc;

        if (r->which == 0) {
            rc = bp_fix(r->p, pg, BP_SHARED, &h);
            r->bad_rc += rc != BP_EPGNO;
            snprintf(want, sizeof want, "page %llu is beyond the end",
                     (unsigned long long)pg);
        } else {
            memset(&h, 0, sizeof h);
            h.pgno = pg;
            h.bp_slot = UINT32_MAX; /* no slot: a stray handle */
            rc = bp_unfix(r->p, &h, 0);
            r->bad_rc += rc != BP_ENOTFIXED;
            snprintf(want, sizeof want, "unfix of page %llu ",
                     (unsigned long long)pg);
        }
        if (!strstr(bp_errmsg(r->p), want)) {
            if (r->wrong++ == 0)
                snprintf(r->seen, sizeof r->seen, "wanted \"%s...\", read "
                         "\"%s\"", want, bp_errmsg(r->p));
        }
    }
    return NULL;
}

static void test_errmsg_threads(void **state)
{
    char path[600];
    pthread_barrier_t go;
    struct racer r[2];
    pthread_t t[2];
    bp_pool *p;

    (void)state;
    data_file(path, sizeof path, "errrace.db");
    p = small_pool(BP_BACKEND_COPY);
    assert_int_equal(bp_open(p, path, 0), 0);
    assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
    util_watchdog_start(120, "test_errmsg_threads");
    for (int i = 0; i < 2; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].p = p;
        r[i].go = &go;
        r[i].which = i;
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    util_watchdog_stop();
    pthread_barrier_destroy(&go);
    for (int i = 0; i < 2; i++) {
        print_message("  thread %d (%s): %u of %u messages wrong%s%s\n", i,
                      i ? "bp_unfix" : "bp_fix", r[i].wrong, RACE_LOOPS,
                      r[i].wrong ? ", first: " : "", r[i].seen);
        assert_int_equal(r[i].bad_rc, 0);
        assert_int_equal(r[i].wrong, 0);
    }
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* ---- environment variables ----------------------------------------------- */

struct env_case {
    const char *name;
    const char *bad;    /* a value not listed */
    const char *valid;  /* the valid values, as bp_errmsg lists them */
    const char *good;   /* a listed value */
    /* the pool's own options for the good value (what a variable that
     * beats the API beats) */
    bp_backend backend;
    bp_io_engine engine;
    bp_io_stage stage;
    void (*check)(bp_pool *p); /* after the good value's open */
};

/* Open a fresh pool on path with name=value set (and, with options, c's
 * options; else the copy backend and defaults), the variable put back
 * afterwards; *out is the pool (open or not). */
static int open_with(const struct env_case *c, const char *value,
                     int options, const char *path, unsigned flags,
                     bp_pool **out)
{
    struct saved_env s = env_save(c->name);
    bp_pool *p = small_pool(options ? c->backend : BP_BACKEND_COPY);
    int rc;

    if (options) {
        assert_int_equal(bp_set_io_engine(p, c->engine), 0);
        assert_int_equal(bp_set_io_stage(p, c->stage), 0);
    }
    assert_int_equal(setenv(c->name, value, 1), 0);
    rc = bp_open(p, path, flags);
    env_restore(&s);
    *out = p;
    return rc;
}

/* A value not listed: -EINVAL before anything is created (BP_CREATE's
 * file included), the message names variable, value and valid values;
 * the pool stays closed and opens once the variable is put back. */
static void test_env_bad(void **state)
{
    const struct env_case *c = *state;
    char path[600], want[200];
    bp_pool *p;
    int rc;

    util_tmp_path(path, sizeof path, "envbad.db");
    unlink(path);
    rc = open_with(c, c->bad, 0, path, BP_CREATE, &p);
    print_message("  %s=%s: %s (%d): %s\n", c->name, c->bad,
                  bp_strerror(rc), rc, bp_errmsg(p));
    assert_int_equal(rc, -EINVAL);
    snprintf(want, sizeof want, "%s=\"%s\": valid values are %s", c->name,
             c->bad, c->valid);
    assert_non_null(strstr(bp_errmsg(p), want));
    assert_int_equal(access(path, F_OK), -1); /* not created */
    assert_int_equal(errno, ENOENT);
    bp_page pg;
    assert_int_equal(bp_fix(p, 0, BP_SHARED, &pg), BP_ESTATE);
    /* as found (BUFPOOL_IO=sync in the sync run): opens */
    rc = bp_open(p, path, BP_CREATE);
    if (rc != 0)
        util_print_rc(p, "bp_open with the environment put back", rc);
    assert_int_equal(rc, 0);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* A listed value opens, and does what the header says. */
static void test_env_good(void **state)
{
    const struct env_case *c = *state;
    char path[600];
    bp_pool *p;
    int rc;

    /* a file per open: each test's pools are independent */
    data_file(path, sizeof path, "envgood.db");
    rc = open_with(c, c->good, 1, path, 0, &p);
    if (rc != 0)
        util_print_rc(p, c->name, rc);
    assert_int_equal(rc, 0);
    c->check(p);
    util_fix_verify(p, 3, BP_SHARED, PSZ, UTIL_GEN_ZERO);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
    /* empty counts as unset */
    data_file(path, sizeof path, "envempty.db");
    rc = open_with(c, "", 0, path, 0, &p);
    if (rc != 0)
        util_print_rc(p, "empty value", rc);
    assert_int_equal(rc, 0);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

static void check_backend(bp_pool *p)
{
    bp_stats st;

    util_stats(p, &st);
    assert_int_equal(st.backend, BP_BACKEND_COPY); /* beat the option mmap */
    assert_non_null(strstr(st.backend_reason, "BUFPOOL_BACKEND"));
}

static void check_io(bp_pool *p)
{
    bp_stats st;

    util_stats(p, &st);
    assert_string_equal(st.io_engine, "sync"); /* beat the option uring */
    assert_non_null(strstr(st.io_reason, "BUFPOOL_IO"));
}

static void check_stage(bp_pool *p)
{
    bp_stats st;

    util_stats(p, &st);
    assert_int_equal(st.io_staged & 7u, 0); /* beat the option ON */
}

static void check_early(bp_pool *p)
{
    bp_stats st;

    util_stats(p, &st);
    assert_int_equal(st.io_staged & 4u, 0);
}

static void check_hugepage(bp_pool *p)
{
    bp_stats st;

    util_stats(p, &st);
    assert_int_equal(st.io_staged & 8u, 0);
}

static void check_regbuf(bp_pool *p)
{
    bp_stats st;

    util_fix_verify(p, 1, BP_SHARED, PSZ, UTIL_GEN_ZERO); /* a read */
    util_stats(p, &st);
    assert_int_equal(st.io_registered & 12u, 0);
}

static void check_fence(bp_pool *p)
{
    bp_stats st;

    util_stats(p, &st);
    assert_non_null(strstr(st.reader_fence, "BUFPOOL_READER_FENCE=always"));
}

/* BUFPOOL_BACKEND, BUFPOOL_IO and BUFPOOL_IO_STAGE's good values beat the
 * options set (mmap, uring, ON); the others have no API, and their pools
 * ask for what they turn off (copy on io_uring when there, staged). */
static struct env_case env_cases[] = {
    {"BUFPOOL_BACKEND", "mmapp", "auto, rfp, mmap, copy, linear", "copy",
     BP_BACKEND_MMAP, BP_IO_AUTO, BP_STAGE_AUTO, check_backend},
    {"BUFPOOL_IO", "uring2", "auto, sync, uring, io_uring", "sync",
     BP_BACKEND_COPY, BP_IO_URING, BP_STAGE_AUTO, check_io},
    {"BUFPOOL_IO_STAGE", "sometimes", "auto, off, on", "off",
     BP_BACKEND_COPY, BP_IO_AUTO, BP_STAGE_ON, check_stage},
    {"BUFPOOL_IO_EARLY", "no", "0, 1", "0", BP_BACKEND_COPY, BP_IO_AUTO,
     BP_STAGE_ON, check_early},
    {"BUFPOOL_IO_HUGEPAGE", "off", "0, 1", "0", BP_BACKEND_COPY, BP_IO_AUTO,
     BP_STAGE_ON, check_hugepage},
    {"BUFPOOL_IO_REGBUF", "2", "0, 1", "0", BP_BACKEND_COPY, BP_IO_AUTO,
     BP_STAGE_AUTO, check_regbuf},
    {"BUFPOOL_READER_FENCE", "Always", "auto, always, eager", "always",
     BP_BACKEND_COPY, BP_IO_AUTO, BP_STAGE_AUTO, check_fence},
};
#define N_ENV (sizeof env_cases / sizeof env_cases[0])

/* io_uring spelled either way: the same engine (or, without io_uring, an
 * open that fails for that reason, never as a bad value). */
static void test_env_io_uring_names(void **state)
{
    static const char *names[] = {"uring", "io_uring"};
    char path[600];

    (void)state;
    for (int i = 0; i < 2; i++) {
        struct saved_env s = env_save("BUFPOOL_IO");
        bp_pool *p = small_pool(BP_BACKEND_COPY);
        bp_stats st;
        int rc;

        data_file(path, sizeof path, names[i]);
        assert_int_equal(bp_set_io_engine(p, BP_IO_SYNC), 0);
        assert_int_equal(setenv("BUFPOOL_IO", names[i], 1), 0);
        rc = bp_open(p, path, 0);
        env_restore(&s);
        print_message("  BUFPOOL_IO=%s: %s%s%s\n", names[i], bp_strerror(rc),
                      rc ? ": " : "", rc ? bp_errmsg(p) : "");
        if (rc == 0) {
            util_stats(p, &st);
            assert_string_equal(st.io_engine, "io_uring");
        } else {
            assert_null(strstr(bp_errmsg(p), "valid values"));
            assert_non_null(strstr(bp_errmsg(p), "io_uring"));
        }
        assert_int_equal(bp_close(p), 0);
        unlink(path);
    }
}

/* ---- the WAL rule -------------------------------------------------------- */

struct wal {
    bp_pool *p;
    pthread_t main;
    int ret;            /* what the callback returns */
    int raise;          /* bp_wal_durable(p, lsn + raise) from inside */
    int nest;           /* fix page NEST_PG shared from inside */
    unsigned calls, off_thread, depth, max_depth, nested_ok, nested_bad;
    uint64_t last_lsn;
};
#define NEST_PG (NPAGES - 1)

static int wal_flush(void *ctx, uint64_t lsn)
{
    struct wal *w = ctx;

    w->calls++;
    w->last_lsn = lsn;
    if (!pthread_equal(pthread_self(), w->main))
        w->off_thread++;
    if (++w->depth > w->max_depth)
        w->max_depth = w->depth;
    if (w->raise)
        bp_wal_durable(w->p, lsn + (uint64_t)w->raise);
    if (w->nest && w->depth == 1) {
        bp_page h;
        int rc = bp_fix(w->p, NEST_PG, BP_SHARED, &h);

        if (rc == 0 && util_page_gen(h.data, PSZ, NEST_PG) == UTIL_GEN_ZERO)
            w->nested_ok++;
        else
            w->nested_bad++;
        if (rc == 0)
            (void)bp_unfix(w->p, &h, 0);
    }
    w->depth--;
    return w->ret;
}

static void set_lsn(bp_pool *p, uint64_t pgno, uint64_t lsn)
{
    bp_page pg;

    assert_int_equal(bp_fix(p, pgno, BP_EXCLUSIVE, &pg), 0);
    memcpy((char *)pg.data + LSN_OFF, &lsn, sizeof lsn);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
}

/* A copy pool of 8 frames and 4 slots whose 8 frames are dirty pages 0..7,
 * LSNs 100..107, with the WAL callback reporting to w. */
static bp_pool *wal_pool(char *path, size_t len, const char *name,
                         struct wal *w)
{
    struct util_cfg cfg = {.backend = BP_BACKEND_COPY, .page_size = PSZ,
                           .frames = 8, .slots = 4};
    bp_pool *p;

    data_file(path, len, name);
    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, &cfg), 0);
    assert_int_equal(bp_set_wal(p, LSN_OFF, wal_flush, w), 0);
    assert_int_equal(bp_open(p, path, 0), 0);
    w->p = p;
    w->main = pthread_self();
    for (uint64_t i = 0; i < 8; i++)
        set_lsn(p, i, 100 + i);
    return p;
}

/* The data file's page LSNs, read back with plain pread. */
static uint64_t file_lsn(const char *path, uint64_t pgno)
{
    uint64_t lsn = 0;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &lsn, sizeof lsn,
                           (off_t)(pgno * PSZ + LSN_OFF)),
                     (ssize_t)sizeof lsn);
    close(fd);
    return lsn;
}

/* A refusing callback: its code comes back unchanged from the fix that
 * had to evict, and from bp_flush; nothing is written, pages stay dirty;
 * the callback ran on the calling thread.  Then it agrees: all goes. */
static void test_wal_refused(void **state)
{
    struct wal w = {.ret = -ENOSPC};
    char path[600];
    bp_stats st;
    bp_page pg;
    bp_pool *p;

    (void)state;
    p = wal_pool(path, sizeof path, "walno.db", &w);
    assert_int_equal(bp_fix(p, 8, BP_SHARED, &pg), -ENOSPC); /* evicts */
    assert_null(pg.data);
    assert_true(w.calls >= 1);
    assert_int_equal(w.off_thread, 0);
    assert_true(w.last_lsn >= 100 && w.last_lsn <= 107);
    assert_non_null(strstr(bp_errmsg(p), "write of page "));
    assert_non_null(strstr(bp_errmsg(p), "log_flush(")); /* the cause */
    w.ret = BP_EREADONLY; /* any code comes back as is */
    assert_int_equal(bp_flush(p), BP_EREADONLY);
    util_stats(p, &st);
    assert_int_equal(st.dirty_frames, 8);
    assert_int_equal(st.writes, 0);
    for (uint64_t i = 0; i < 8; i++)
        assert_int_equal(file_lsn(path, i), 0);
    w.ret = 0;
    assert_int_equal(bp_flush(p), 0);
    util_stats(p, &st);
    assert_int_equal(st.dirty_frames, 0);
    assert_int_equal(st.wal_durable, 107);
    for (uint64_t i = 0; i < 8; i++)
        assert_int_equal(file_lsn(path, i), 100 + i);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* bp_wal_durable from inside the callback: pages at or below the LSN it
 * reports are written without another call. */
static void test_wal_durable_inside(void **state)
{
    struct wal w = {.raise = 1000};
    char path[600];
    bp_stats st;
    bp_pool *p;

    (void)state;
    p = wal_pool(path, sizeof path, "walraise.db", &w);
    for (uint64_t i = 8; i < 16; i++) /* evicts all eight dirty pages */
        util_fix_verify(p, i, BP_SHARED, PSZ, UTIL_GEN_ZERO);
    assert_int_equal(bp_flush(p), 0);
    util_stats(p, &st);
    print_message("  %u calls, durable %llu\n", w.calls,
                  (unsigned long long)st.wal_durable);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.off_thread, 0);
    assert_true(st.wal_durable >= 1100);
    for (uint64_t i = 0; i < 8; i++)
        assert_int_equal(file_lsn(path, i), 100 + i);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

/* The callback fixes another page shared (and unfixes it) while an
 * eviction waits for it; that fix may evict in turn, calling it again on
 * the same thread.  Every fix succeeds and every page reaches the disk
 * after its call. */
static void test_wal_nested_fix(void **state)
{
    struct wal w = {.nest = 1};
    char path[600];
    bp_pool *p;

    (void)state;
    p = wal_pool(path, sizeof path, "walnest.db", &w);
    for (uint64_t i = 8; i < 16; i++)
        util_fix_verify(p, i, BP_SHARED, PSZ, UTIL_GEN_ZERO);
    assert_int_equal(bp_flush(p), 0);
    print_message("  %u calls, %u nested fixes, depth up to %u\n", w.calls,
                  w.nested_ok, w.max_depth);
    assert_true(w.nested_ok > 0);
    assert_int_equal(w.nested_bad, 0);
    assert_int_equal(w.off_thread, 0);
    for (uint64_t i = 0; i < 8; i++)
        assert_int_equal(file_lsn(path, i), 100 + i);
    util_check(p);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

int main(void)
{
    struct CMUnitTest tests[8 + 2 * N_ENV];
    size_t n = 0;
    char names[2 * N_ENV][64];

    util_init();
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_version);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_errmsg_rules);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_errmsg_threads);
    for (size_t i = 0; i < N_ENV; i++) {
        snprintf(names[2 * i], sizeof names[0], "test_env_bad/%s",
                 env_cases[i].name);
        snprintf(names[2 * i + 1], sizeof names[0], "test_env_good/%s",
                 env_cases[i].name);
        tests[n++] = (struct CMUnitTest){names[2 * i], test_env_bad, NULL,
                                         NULL, &env_cases[i]};
        tests[n++] = (struct CMUnitTest){names[2 * i + 1], test_env_good,
                                         NULL, NULL, &env_cases[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_env_io_uring_names);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_wal_refused);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_wal_durable_inside);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_wal_nested_fix);
    return _cmocka_run_group_tests("api", tests, n, NULL, NULL);
}
