/*
 * bench_sqlite.c - `bpbench sqlite`: one SQL workload on SQLite given the
 * same memory M in five ways, side by side in one run (sq_heading prints
 * each in full):
 *   stock-cache    SQLite's own page cache of M, its buffers one block of
 *                  M bytes (SQLITE_CONFIG_PAGECACHE), pages by read()
 *   stock-mmap     PRAGMA mmap_size = M, the default 2 MB cache
 *   bufpool-pcache SQLite's page cache in pool frames (bppcache.h,
 *                  SQLITE_CONFIG_PCACHE2), as many pages as stock-cache
 *   bufpool        the bufpool VFS (bpvfs.h), bp_cache=M, pages read in
 *                  place (bp_fetch=1, xFetch)
 *   bufpool-xread  the same with bp_fetch=0: pages copied out by xRead
 *
 * Workload: a table t(k INTEGER PRIMARY KEY, v BLOB), loaded keys 0, 2,
 * 4, ...; per engine four timed phases (sq_sql: select, scan, update,
 * insert of a new odd key), each --duration seconds (or --ops
 * statements), one connection, one thread, every statement its own
 * transaction.  Keys come uniformly (or by --zipf) from a fixed seed and
 * values are made from it, so every run of every engine executes the
 * same statements in the same order.  Each statement (bind, step to the
 * end, reset) is timed into its phase's histogram.  After each write
 * phase an untimed wal_checkpoint(TRUNCATE); after the phases a reopen
 * and a check reads back count(*) and the last SQ_RING inserts and
 * updates.
 *
 * Two cases: in memory (the table about M / 2) and out of memory (about
 * 4 M).  Each case's table is loaded once and its file copied for every
 * run.  Every run is a forked child, the page cache dropped before it;
 * out of memory the child runs in a memory cgroup of M + --headroom, the
 * same for every engine.  The report says when either cannot be done.
 * With --rounds N the engines alternate, round after round; the report
 * gives medians over the rounds (ops/s, KiB read/op, the per-round ratio
 * to stock-cache) and latency from every round merged; the memory rows
 * the highest max RSS and cgroup peak and the median warm-up.
 *
 * Parent                                 Child (per case, round, engine)
 *   copy the case's table to run.db
 *   fork (bench_run.h)  -------------->  signals to their defaults, dies
 *                                        with the parent; wait for 'G'
 *   drop the page cache; out of
 *   memory: cgroup, child moved in
 *   'G'   ---------------------------->  open, pragmas (read back),
 *                                        warm-up, phases (histograms in
 *                                        the MAP_SHARED block)
 *                                 <----  'D'
 *   the cgroup's peak read, the child
 *   moved out, the cgroup removed
 *   'C'   ---------------------------->  close, reopen, check, _exit
 *   wait4 (max RSS), run.db removed, the
 *   phases' histograms merged into the
 *   engine's
 * A SIGINT, SIGTERM, SIGHUP or SIGQUIT kills and reaps the child before
 * the cleanup registry (bench_util.h) removes the files and the cgroup.
 */
#include "bench.h"
#include "bench_out.h"
#include "bench_run.h"
#include "bench_util.h"
#include "bench_wl_impl.h"
#include "bppcache.h"
#include "bpvfs.h"
#include "ycsb.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { SQ_CACHE, SQ_MMAP, SQ_PC, SQ_BP, SQ_BPX, SQ_NENG };
enum { SQ_SELECT, SQ_SCAN, SQ_UPDATE, SQ_INSERT, SQ_NOPS };
enum { SQ_MEM, SQ_OOM, SQ_NCASE };

static const char *const sq_eng[SQ_NENG] = {"stock-cache", "stock-mmap",
                                            "bufpool-pcache", "bufpool",
                                            "bufpool-xread"};
static const char *const sq_opname[SQ_NOPS] = {"select", "scan", "update",
                                               "insert"};
static const char *const sq_case[SQ_NCASE] = {"in-memory",
                                              "out-of-memory"};

#define SQ_PAGE 4096u       /* page_size of the tables */
#define SQ_RING 64u         /* inserts and updates read back by the check */
#define SQ_WARM_SCAN UINT64_MAX /* warm-up: one full scan */
#define SQ_UNSET UINT64_MAX /* an option not given */
#define SQ_MAX_ROUNDS WL_MAX_ROUNDS /* --rounds, as the other workloads */

/* Tags of the value streams (sq_value). */
enum { SQ_TAG_LOAD = 0, SQ_TAG_UPDATE = 10, SQ_TAG_INSERT = 20 };

typedef struct sq_opts {
    uint64_t rows;     /* out-of-memory table */
    uint64_t mem_rows; /* in-memory table; SQ_UNSET: rows / 8 */
    uint64_t mem;      /* M; SQ_UNSET: the out-of-memory file / 4 */
    uint64_t headroom; /* SQ_UNSET: 16 MiB + M / 32 */
    uint64_t value_size, scan_len, ops, seed;
    uint64_t warmup;   /* point selects; SQ_UNSET: the default */
    double seconds;    /* < 0: not given */
    int zipf, quick;
    int rounds;        /* runs per engine and case, alternating */
    int cases;         /* bit SQ_MEM, bit SQ_OOM */
    const char *dir;
    bo_outopts out;
} sq_opts;

/* One run of one engine in one case and round: written by its child
 * (MAP_SHARED) but for the fields marked parent. */
typedef struct sq_res {
    int checked;        /* the check after the reopen held */
    char err[400];      /* first failure, "" when none */
    int opened;         /* cache_size and mmap_size are read back */
    long long cache_size, mmap_size; /* PRAGMA cache_size, mmap_size */
    char pool[240];     /* bufpool engines: the pool's configuration */
    char check[200];    /* what the check found */
    int done[SQ_NOPS];  /* the phase ran to its end */
    uint64_t ops[SQ_NOPS];
    double secs[SQ_NOPS];
    uint64_t read_bytes[SQ_NOPS]; /* /proc/self/io; UINT64_MAX unknown */
    double warm_secs;
    char drop_why[200]; /* parent: why the page cache was not dropped */
    char cg_why[200];   /* parent: why there was no cgroup (out of
                           memory) */
    uint64_t max_rss;   /* parent: the child's peak RSS (wait4) */
    uint64_t cg_peak;   /* parent: the cgroup's peak usage, 0 unknown */
    uint64_t cg_limit;  /* parent: the cgroup's limit, 0 none */
} sq_res;

typedef struct sq_ctx {
    sq_opts o;
    char dir[512];
    char master[SQ_NCASE][600]; /* each case's loaded table */
    char run[620];              /* a run's copy of the table */
    uint64_t rows[SQ_NCASE];    /* rows loaded */
    uint64_t file[SQ_NCASE];    /* bytes of the loaded file */
    uint64_t warmup[SQ_NCASE];  /* point selects, or SQ_WARM_SCAN */
    uint64_t mem, headroom;
    size_t pc_slot;             /* a page buffer of SQLite's page cache */
    sq_res *res;                /* [case][round][engine], MAP_SHARED */
    bo_hist *hrun[SQ_NOPS];     /* the running child's, per phase */
    bo_hist *h[SQ_NCASE][SQ_NENG][SQ_NOPS]; /* every round's merged */
    atomic_uint_fast64_t load_done;
    uint64_t load_total, load_t0;
} sq_ctx;

/* ---- keys and values ----------------------------------------------------- */

/* n bytes of value i of stream tag, the same in every process. */
static void sq_value(unsigned char *v, size_t n, uint64_t seed, uint64_t tag,
                     uint64_t i)
{
    bu_rng r;
    bu_rng_seed(&r, seed, tag, i);
    for (size_t off = 0; off < n; off += 8) {
        uint64_t w = bu_rng_next(&r);
        memcpy(v + off, &w, n - off < 8 ? n - off : 8);
    }
}

/* The key of the j-th insert into a table of rows loaded rows (keys 0, 2,
 * ..., 2 rows - 2): an odd key, spread over the loaded range by a fixed
 * permutation, never twice; past rows inserts, the same above the range. */
static uint64_t sq_insert_key(uint64_t rows, uint64_t j)
{
    uint64_t mult = rows % 2654435761ull ? 2654435761ull : 4294967291ull;
    uint64_t round = j / rows, i = j % rows;
    uint64_t p = (uint64_t)(((unsigned __int128)i * mult + round) % rows);
    return 2 * rows * round + 2 * p + 1;
}

/* Record numbers drawn uniformly or by YCSB's scrambled zipfian. */
typedef struct sq_draw {
    bu_rng r;
    ycsb_zipf z;
    int zipf;
} sq_draw;

static void sq_draw_init(sq_draw *d, const sq_ctx *c, uint64_t a, uint64_t b)
{
    bu_rng_seed(&d->r, c->o.seed, a, b);
    d->zipf = c->o.zipf;
    if (d->zipf)
        ycsb_scrambled_init(&d->z);
}

/* A record number in [0, n). */
static uint64_t sq_draw_next(sq_draw *d, uint64_t n)
{
    if (d->zipf)
        return ycsb_scrambled_next(&d->z, n, ycsb_unit(&d->r));
    return bu_rng_below(&d->r, n);
}

/* ---- the child ----------------------------------------------------------- */

typedef struct sq_run {
    const sq_ctx *c;
    int cs, rnd, eng;
    sq_res *r;
    sqlite3 *db;
    sqlite3_stmt *st[SQ_NOPS];
    unsigned char *val, *want; /* value_size bytes each */
    uint64_t upd_key[SQ_RING], upd_j[SQ_RING]; /* the last updates */
    uint64_t cache_pages; /* stock-cache: its cache_size in pages */
} sq_run;

static const char *const sq_sql[SQ_NOPS] = {
    "SELECT v FROM t WHERE k = ?1",
    "SELECT k, v FROM t WHERE k >= ?1 ORDER BY k LIMIT ?2",
    "UPDATE t SET v = ?2 WHERE k = ?1",
    "INSERT INTO t(k, v) VALUES(?1, ?2)",
};

/* The first failure into r->err, with the bufpool VFS's own message. */
static int sq_fail(sq_run *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int sq_fail(sq_run *x, const char *fmt, ...)
{
    char *e = x->r->err;
    size_t n = sizeof x->r->err, len;
    va_list ap;
    if (e[0])
        return -1;
    va_start(ap, fmt);
    vsnprintf(e, n, fmt, ap);
    va_end(ap);
    len = strlen(e);
    if (x->eng >= SQ_BP && bpvfs_last_error()[0] && len < n)
        snprintf(e + len, n - len, " (bufpool VFS: %s)", bpvfs_last_error());
    return -1;
}

static int sq_exec(sq_run *x, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(x->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    sq_fail(x, "%s: %s", sql, msg ? msg : sqlite3_errmsg(x->db));
    sqlite3_free(msg);
    return -1;
}

/* The first column of sql's first row as a number, and as text into txt
 * (n bytes) when txt is not NULL; -1 with r->err set when there is none. */
static long long sq_query(sq_run *x, const char *sql, char *txt, size_t n)
{
    sqlite3_stmt *s = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(x->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sq_fail(x, "%s: %s", sql, sqlite3_errmsg(x->db));
        return -1;
    }
    if (sqlite3_step(s) == SQLITE_ROW) {
        v = sqlite3_column_int64(s, 0);
        if (txt) {
            const unsigned char *t = sqlite3_column_text(s, 0);
            snprintf(txt, n, "%s", t ? (const char *)t : "");
        }
    } else {
        sq_fail(x, "%s: no row: %s", sql, sqlite3_errmsg(x->db));
    }
    sqlite3_finalize(s);
    return v;
}

/* path with the characters a URI reserves percent-encoded, into out. */
static void sq_uri_path(const char *path, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)path;
         *p && o + 4 < n; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("/._-~", *p)) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

/* stock-cache and bufpool-pcache: SQLite restarted, before any connection
 * of the child, with a page cache of as many pages as M holds buffers of
 * a page and its header (pc_slot), so that its memory is M: stock-cache's
 * in one block of M bytes (SQLITE_CONFIG_PAGECACHE; by malloc each buffer
 * would be rounded up to the allocator's size class), bufpool-pcache's in
 * the frames of a pool (bppcache.c), the headers malloc'd beside them.
 * The pages into x->cache_pages; 0 or -1. */
static int sq_pagecache(sq_run *x)
{
    int rc = sqlite3_shutdown();
    size_t sz = x->c->pc_slot;
    uint64_t n = x->c->mem / sz;

    if (x->eng == SQ_CACHE) {
        void *buf = mmap(NULL, n * sz, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED)
            return sq_fail(x, "mmap of %llu bytes of page cache: %s",
                           (unsigned long long)(n * sz), strerror(errno));
        if (rc == SQLITE_OK)
            rc = sqlite3_config(SQLITE_CONFIG_PAGECACHE, buf, (int)sz,
                                (int)n);
    } else if (rc == SQLITE_OK) {
        rc = bppcache_install(&(bppcache_config){
            .cache_bytes = n * SQ_PAGE, .page_size = SQ_PAGE,
            .dir = x->c->dir});
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_initialize();
    if (x->eng == SQ_CACHE && rc != SQLITE_OK)
        return sq_fail(x, "SQLITE_CONFIG_PAGECACHE: %s", sqlite3_errstr(rc));
    if (x->eng == SQ_PC && (rc != SQLITE_OK || !bppcache_pool()))
        return sq_fail(x, "SQLITE_CONFIG_PCACHE2 in pool frames: %s%s%s",
                       sqlite3_errstr(rc), bppcache_last_error()[0] ? ": " : "",
                       bppcache_last_error());
    x->cache_pages = n;
    return 0;
}

/* Open the engine's copy with its settings and read them back into r
 * (first_open) or check them again; 0 or -1. */
static int sq_open(sq_run *x, int first_open)
{
    const sq_ctx *c = x->c;
    char uri[2048], esc[1900], sql[96], jm[32];
    const char *name = c->run, *vfs = NULL;
    int flags = SQLITE_OPEN_READWRITE;

    if (x->eng >= SQ_BP) {
        sq_uri_path(c->run, esc, sizeof esc);
        snprintf(uri, sizeof uri, "file:%s?bp_cache=%llu&bp_fetch=%d", esc,
                 (unsigned long long)c->mem, x->eng == SQ_BP);
        name = uri;
        vfs = "bufpool";
        flags |= SQLITE_OPEN_URI;
    }
    int rc = sqlite3_open_v2(name, &x->db, flags, vfs);
    if (rc != SQLITE_OK)
        return sq_fail(x, "open %s: %s", name,
                       x->db ? sqlite3_errmsg(x->db) : sqlite3_errstr(rc));
    if (x->eng == SQ_CACHE || x->eng == SQ_PC) {
        snprintf(sql, sizeof sql, "PRAGMA cache_size=%llu",
                 (unsigned long long)x->cache_pages);
        if (sq_exec(x, sql) || sq_exec(x, "PRAGMA mmap_size=0"))
            return -1;
    } else if (x->eng == SQ_MMAP) {
        snprintf(sql, sizeof sql, "PRAGMA mmap_size=%llu",
                 (unsigned long long)c->mem);
        if (sq_exec(x, sql))
            return -1;
    }
    if (sq_query(x, "PRAGMA journal_mode=WAL", jm, sizeof jm) < 0 ||
        sq_exec(x, "PRAGMA synchronous=NORMAL"))
        return -1;
    long long cs = sq_query(x, "PRAGMA cache_size", NULL, 0);
    long long mm = sq_query(x, "PRAGMA mmap_size", NULL, 0);
    long long sy = sq_query(x, "PRAGMA synchronous", NULL, 0);
    long long ps = sq_query(x, "PRAGMA page_size", NULL, 0);
    if (x->r->err[0])
        return -1;
    if (strcmp(jm, "wal") != 0 || sy != 1 || ps != SQ_PAGE)
        return sq_fail(x, "journal_mode %s, synchronous %lld, page_size "
                          "%lld: expected wal, 1 (NORMAL), %u",
                       jm, sy, ps, SQ_PAGE);
    if (first_open) {
        x->r->cache_size = cs;
        x->r->mmap_size = mm;
        x->r->opened = 1;
    }
    for (int op = 0; op < SQ_NOPS; op++)
        if (sqlite3_prepare_v2(x->db, sq_sql[op], -1, &x->st[op], NULL) !=
            SQLITE_OK)
            return sq_fail(x, "%s: %s", sq_sql[op], sqlite3_errmsg(x->db));
    return 0;
}

/* Finalize the statements and close; 0 or -1. */
static int sq_close(sq_run *x)
{
    for (int op = 0; op < SQ_NOPS; op++) {
        sqlite3_finalize(x->st[op]);
        x->st[op] = NULL;
    }
    int rc = sqlite3_close(x->db);
    x->db = NULL;
    if (rc != SQLITE_OK)
        return sq_fail(x, "close: %s", sqlite3_errstr(rc));
    return 0;
}

/* One statement of kind op on key (x->val holds the value to write): 0,
 * or -1 with r->err set. */
static int sq_op(sq_run *x, int op, uint64_t key)
{
    sqlite3_stmt *s = x->st[op];
    int vs = (int)x->c->o.value_size, rc, ok;
    uint64_t rows = 0;

    sqlite3_bind_int64(s, 1, (sqlite3_int64)key);
    if (op == SQ_SCAN)
        sqlite3_bind_int64(s, 2, (sqlite3_int64)x->c->o.scan_len);
    else if (op >= SQ_UPDATE)
        sqlite3_bind_blob(s, 2, x->val, vs, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        rows++;
        if (sqlite3_column_bytes(s, op == SQ_SCAN) != vs)
            break;
    }
    ok = rc == SQLITE_DONE &&
         (op == SQ_SELECT ? rows == 1
          : op == SQ_SCAN ? rows == x->c->o.scan_len
          : op == SQ_UPDATE ? sqlite3_changes(x->db) == 1
                            : 1);
    if (!ok)
        sq_fail(x, "%s of key %llu: %s", sq_opname[op],
                (unsigned long long)key,
                rc == SQLITE_ROW    ? "a value of the wrong size"
                : rc != SQLITE_DONE ? sqlite3_errmsg(x->db)
                                    : "wrong number of rows");
    sqlite3_reset(s);
    return ok ? 0 : -1;
}

/* The same warm-up for every engine of a case: a full scan, or point
 * selects of their own key stream; untimed. */
static int sq_warm(sq_run *x)
{
    const sq_ctx *c = x->c;
    uint64_t n = c->warmup[x->cs], t0 = bu_now_ns();
    if (n == SQ_WARM_SCAN) {
        long long sum = sq_query(x, "SELECT sum(length(v)) FROM t", NULL,
                                 0);
        if (sum != (long long)(c->rows[x->cs] * c->o.value_size))
            return sq_fail(x, "warm-up scan: sum(length(v)) %lld, expected "
                              "%llu", sum,
                           (unsigned long long)(c->rows[x->cs] *
                                                c->o.value_size));
    } else {
        sq_draw d;
        sq_draw_init(&d, c, 1 + (uint64_t)x->cs, 100);
        for (uint64_t j = 0; j < n; j++)
            if (sq_op(x, SQ_SELECT, 2 * sq_draw_next(&d, c->rows[x->cs])))
                return -1;
    }
    x->r->warm_secs = (double)(bu_now_ns() - t0) / 1e9;
    return 0;
}

/* One timed phase of kind op. */
static int sq_phase(sq_run *x, int op)
{
    const sq_ctx *c = x->c;
    sq_res *r = x->r;
    bo_hist *h = c->hrun[op];
    uint64_t rows = c->rows[x->cs], vs = c->o.value_size;
    uint64_t span = op == SQ_SCAN ? rows - c->o.scan_len + 1 : rows;
    uint64_t limit = c->o.ops ? c->o.ops : UINT64_MAX, j, rb1;
    uint64_t t0 = bu_now_ns(), rb0 = bu_read_bytes();
    uint64_t end = c->o.seconds > 0
                       ? t0 + (uint64_t)(c->o.seconds * 1e9)
                       : UINT64_MAX;
    sq_draw d;
    int rc = 0;

    sq_draw_init(&d, c, 1 + (uint64_t)x->cs, (uint64_t)op);
    for (j = 0; j < limit && bu_now_ns() < end; j++) {
        uint64_t key;
        if (op == SQ_INSERT) {
            key = sq_insert_key(rows, j);
            sq_value(x->val, vs, c->o.seed, SQ_TAG_INSERT + x->cs, j);
        } else {
            key = 2 * sq_draw_next(&d, span);
        }
        if (op == SQ_UPDATE) {
            sq_value(x->val, vs, c->o.seed, SQ_TAG_UPDATE + x->cs, j);
            x->upd_key[j % SQ_RING] = key;
            x->upd_j[j % SQ_RING] = j;
        }
        uint64_t a = bo_ticks();
        rc = sq_op(x, op, key);
        uint64_t b = bo_ticks();
        if (rc)
            break;
        bo_hist_add(h, bo_ticks_to_ns(b - a));
    }
    r->secs[op] = (double)(bu_now_ns() - t0) / 1e9;
    r->ops[op] = j;
    rb1 = bu_read_bytes();
    r->read_bytes[op] = rb0 == UINT64_MAX || rb1 == UINT64_MAX || rb1 < rb0
                            ? UINT64_MAX
                            : rb1 - rb0;
    if (!rc && op >= SQ_UPDATE)
        rc = sq_exec(x, "PRAGMA wal_checkpoint(TRUNCATE)");
    r->done[op] = !rc;
    return rc;
}

/* Value v of key read back equals want; 0 or -1. */
static int sq_read_back(sq_run *x, uint64_t key, const char *what)
{
    sqlite3_stmt *s = x->st[SQ_SELECT];
    size_t vs = (size_t)x->c->o.value_size;
    int rc, ok;

    sqlite3_bind_int64(s, 1, (sqlite3_int64)key);
    rc = sqlite3_step(s);
    ok = rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(s, 0) == vs &&
         memcmp(sqlite3_column_blob(s, 0), x->want, vs) == 0;
    if (!ok)
        sq_fail(x, "check: %s key %llu: %s", what, (unsigned long long)key,
                rc == SQLITE_ROW    ? "not the value written"
                : rc == SQLITE_DONE ? "no row"
                                    : sqlite3_errmsg(x->db));
    sqlite3_reset(s);
    return ok ? 0 : -1;
}

/* After the reopen: count(*), the last inserts, the last update of each
 * of the last updated keys. */
static int sq_check(sq_run *x)
{
    const sq_ctx *c = x->c;
    sq_res *r = x->r;
    uint64_t rows = c->rows[x->cs], vs = c->o.value_size;
    uint64_t ins = r->ops[SQ_INSERT], upd = r->ops[SQ_UPDATE];
    uint64_t ni = ins < SQ_RING ? ins : SQ_RING;
    uint64_t nu = upd < SQ_RING ? upd : SQ_RING, checked = 0;

    long long n = sq_query(x, "SELECT count(*) FROM t", NULL, 0);
    if (n != (long long)(rows + ins))
        return sq_fail(x, "check: count(*) %lld, expected %llu loaded + "
                          "%llu inserted", n, (unsigned long long)rows,
                       (unsigned long long)ins);
    for (uint64_t j = ins - ni; j < ins; j++) {
        sq_value(x->want, vs, c->o.seed, SQ_TAG_INSERT + x->cs, j);
        if (sq_read_back(x, sq_insert_key(rows, j), "inserted"))
            return -1;
    }
    for (uint64_t i = 0; i < nu; i++) { /* newest first */
        uint64_t slot = (upd - 1 - i) % SQ_RING, key = x->upd_key[slot];
        int later = 0;
        for (uint64_t k = 0; k < i; k++)
            later |= x->upd_key[(upd - 1 - k) % SQ_RING] == key;
        if (later)
            continue;
        sq_value(x->want, vs, c->o.seed, SQ_TAG_UPDATE + x->cs,
                 x->upd_j[slot]);
        if (sq_read_back(x, key, "updated"))
            return -1;
        checked++;
    }
    snprintf(r->check, sizeof r->check,
             "count(*) = %llu loaded + %llu inserted; the last %llu "
             "inserts and %llu updated keys read back",
             (unsigned long long)rows, (unsigned long long)ins,
             (unsigned long long)ni, (unsigned long long)checked);
    return 0;
}

/* The pool's configuration and counters into r->pool: the bufpool VFS's
 * pool, or bufpool-pcache's and where its page buffers came from. */
static void sq_pool_info(sq_run *x)
{
    bp_pool *p = x->eng == SQ_PC ? bppcache_pool() : bpvfs_pool(x->db, NULL);
    char *out = x->r->pool, why[128], b1[32];
    size_t n = sizeof x->r->pool;
    uint64_t from_pool, from_malloc;
    bp_stats st;

    if (!p) {
        snprintf(out, n, "no pool serves the file");
        return;
    }
    if (bu_stats(p, &st, why, sizeof why) != 0) {
        snprintf(out, n, "%s", why);
        return;
    }
    bu_fmt_bytes(st.frames * st.page_size, b1, sizeof b1);
    if (x->eng == SQ_PC) {
        bppcache_counts(&from_pool, &from_malloc);
        snprintf(out, n,
                 "page buffers in a pool of %s (%llu frames, backend %s): "
                 "%llu taken from the pool, %llu from malloc; %llu pool "
                 "reads", b1, (unsigned long long)st.frames,
                 bp_backend_name((bp_backend)st.backend),
                 (unsigned long long)from_pool,
                 (unsigned long long)from_malloc,
                 (unsigned long long)st.reads);
        return;
    }
    snprintf(out, n,
             "pool backend %s, %s I/O by %s, cache %s (%llu frames), %llu "
             "window slots; %llu data-file reads (%llu of them read "
             "ahead), %llu writes",
             bp_backend_name((bp_backend)st.backend),
             st.direct_io ? "direct" : "buffered", st.io_engine, b1,
             (unsigned long long)st.frames, (unsigned long long)st.slots,
             (unsigned long long)st.reads,
             (unsigned long long)st.prefetch_started,
             (unsigned long long)st.writes);
}

/* ", round 2/3" into buf when there are rounds, else "". */
static const char *sq_round_tag(const sq_ctx *c, int rnd, char *buf,
                                size_t n)
{
    buf[0] = '\0';
    if (c->o.rounds > 1)
        snprintf(buf, n, ", round %d/%d", rnd + 1, c->o.rounds);
    return buf;
}

static void sq_child_progress(const sq_run *x, const char *what)
{
    char tag[32];
    if (x->c->o.seconds >= 2 || x->c->o.ops)
        bu_progress("sqlite: %s: %s%s: %s", sq_case[x->cs], sq_eng[x->eng],
                    sq_round_tag(x->c, x->rnd, tag, sizeof tag), what);
}

/* The child (arg the sq_run of its case, round and engine, the rest
 * zero): once the parent says 'G', everything it does, its results into
 * x->r; its exit status.  Its parent moves it out of its cgroup between
 * the phases and the check. */
static int sq_child(void *arg, br_child *self)
{
    sq_run *x = arg;
    if (br_child_hear(self, 'G') != 0)
        return 1;
    x->val = malloc(x->c->o.value_size);
    x->want = malloc(x->c->o.value_size);
    if (!x->val || !x->want) {
        sq_fail(x, "out of memory");
        return 1;
    }
    if (((x->eng == SQ_CACHE || x->eng == SQ_PC) && sq_pagecache(x)) ||
        sq_open(x, 1))
        return 1;
    sq_child_progress(x, "warm-up");
    if (sq_warm(x))
        return 1;
    for (int op = 0; op < SQ_NOPS; op++) {
        sq_child_progress(x, sq_opname[op]);
        if (sq_phase(x, op))
            return 1;
    }
    if (x->eng >= SQ_PC)
        sq_pool_info(x);
    if (br_child_say(self, 'D') != 0 || br_child_hear(self, 'C') != 0) {
        sq_fail(x, "lost the parent's handshake");
        return 1;
    }
    if (sq_close(x) || sq_open(x, 0) || sq_check(x) || sq_close(x))
        return 1;
    x->r->checked = 1;
    return 0;
}

/* ---- the parent ---------------------------------------------------------- */

/* The files of a database: the file, its -wal, -shm and -journal
 * (suffixes of its path, for bu_cleanup_files). */
static const char *const sq_db_files[] = {"", "-wal", "-shm", "-journal",
                                          NULL};

/* The result of round rnd of engine eng in case cs. */
static sq_res *sq_slot(const sq_ctx *c, int cs, int rnd, int eng)
{
    return &c->res[(cs * c->o.rounds + rnd) * SQ_NENG + eng];
}

/* Run round rnd of engine eng of case cs in a child from a fresh copy of
 * the table; fill its sq_res (r->err says why it did not run) and merge
 * the histograms of the phases it finished into the engine's.  Before
 * 'G' the page cache is dropped and, out of memory, the child put in a
 * cgroup of M + headroom (why not: r->drop_why, r->cg_why). */
static void sq_engine(sq_ctx *c, int cs, int rnd, int eng)
{
    sq_res *r = sq_slot(c, cs, rnd, eng);
    sq_run x = {.c = c, .cs = cs, .rnd = rnd, .eng = eng, .r = r};
    uint64_t limit = c->mem + c->headroom;
    char err[sizeof r->err];
    br_child *ch;

    memset(r, 0, sizeof *r);
    for (int op = 0; op < SQ_NOPS; op++)
        bo_hist_reset(c->hrun[op]);
    bu_cleanup_files(c->run, sq_db_files, 1);
    if (bu_copy_file(c->master[cs], c->run, err, sizeof err) != 0) {
        snprintf(r->err, sizeof r->err, "%s", err);
        goto out;
    }
    if (br_child_start(&ch, sq_child, &x, r->err, sizeof r->err))
        goto out;
    if (bu_drop_caches(r->drop_why, sizeof r->drop_why) != 0 &&
        !r->drop_why[0])
        snprintf(r->drop_why, sizeof r->drop_why, "?");
    if (cs == SQ_OOM && br_child_limit(ch, limit, r->cg_why,
                                       sizeof r->cg_why) == 0)
        r->cg_limit = limit;
    else if (cs == SQ_OOM && !r->cg_why[0])
        snprintf(r->cg_why, sizeof r->cg_why, "?");
    if (br_child_say(ch, 'G') == 0 && br_child_hear(ch, 'D') == 0) {
        /* the phases are over: the check runs outside the cgroup */
        br_child_unlimit(ch, &r->cg_peak);
        br_child_say(ch, 'C');
    }
    br_child_wait(ch, &r->max_rss, &r->cg_peak, r->err, sizeof r->err);
    for (int op = 0; op < SQ_NOPS; op++)
        if (r->done[op])
            bo_hist_merge(c->h[cs][eng][op], c->hrun[op]);
out:
    bu_cleanup_files(c->run, sq_db_files, 0);
}

/* bo_progress_fn of a load: nothing in its first 3 s. */
static void sq_load_line(void *arg, char *line, size_t n)
{
    sq_ctx *c = arg;
    uint64_t done = atomic_load(&c->load_done);
    double s = (double)(bu_now_ns() - c->load_t0) / 1e9;
    if (s < 3 || !c->load_total)
        return;
    snprintf(line, n, "load %.0f%% (%llu of %llu rows), %.0f rows/s",
             100.0 * (double)done / (double)c->load_total,
             (unsigned long long)done, (unsigned long long)c->load_total,
             (double)done / s);
}

/* Load case cs's table: rows rows in key order in one transaction with
 * the default VFS; its size into c->file[cs].  0 or -1 (printed). */
static int sq_load(sq_ctx *c, int cs, uint64_t rows)
{
    const char *path = c->master[cs];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    unsigned char *v = malloc(c->o.value_size);
    char *msg = NULL;
    const char *what = "open";
    int rc;
    struct stat st;

    bu_cleanup_files(path, sq_db_files, 1);
    c->rows[cs] = rows;
    c->load_total = rows;
    c->load_t0 = bu_now_ns();
    atomic_store(&c->load_done, 0);
    bu_progress("sqlite: loading the %s table, %llu rows", sq_case[cs],
                (unsigned long long)rows);
    if (!v) {
        fprintf(stderr, "bpbench sqlite: out of memory\n");
        return -1;
    }
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
                         SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        what = "create";
        rc = sqlite3_exec(db, "PRAGMA page_size=4096;"
                              "PRAGMA journal_mode=OFF;"
                              "PRAGMA synchronous=OFF;"
                              "CREATE TABLE t(k INTEGER PRIMARY KEY, "
                              "v BLOB NOT NULL);"
                              "BEGIN",
                          NULL, NULL, &msg);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, sq_sql[SQ_INSERT], -1, &s, NULL);
    if (rc == SQLITE_OK && !bu_quiet)
        bo_progress_start(sq_load_line, c);
    what = "insert";
    for (uint64_t i = 0; rc == SQLITE_OK && i < rows; i++) {
        sq_value(v, c->o.value_size, c->o.seed, SQ_TAG_LOAD, i);
        sqlite3_bind_int64(s, 1, (sqlite3_int64)(2 * i));
        sqlite3_bind_blob(s, 2, v, (int)c->o.value_size, SQLITE_STATIC);
        rc = sqlite3_step(s);
        rc = rc == SQLITE_DONE ? sqlite3_reset(s) : rc;
        if ((i & 4095) == 0)
            atomic_store(&c->load_done, i);
    }
    bo_progress_stop();
    sqlite3_finalize(s);
    if (rc == SQLITE_OK) {
        what = "commit";
        rc = sqlite3_exec(db, "COMMIT; PRAGMA journal_mode=WAL", NULL, NULL,
                          &msg);
    }
    if (rc != SQLITE_OK)
        fprintf(stderr, "bpbench sqlite: %s: %s of the table: %s\n", path,
                what, msg ? msg : db ? sqlite3_errmsg(db)
                                     : sqlite3_errstr(rc));
    sqlite3_free(msg);
    free(v);
    if (sqlite3_close(db) != SQLITE_OK && rc == SQLITE_OK) {
        fprintf(stderr, "bpbench sqlite: %s: close failed\n", path);
        rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK)
        return -1;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "bpbench sqlite: %s: %s\n", path, strerror(errno));
        return -1;
    }
    c->file[cs] = (uint64_t)st.st_size;
    bu_progress("sqlite: %s table loaded in %.1f s", sq_case[cs],
                (double)(bu_now_ns() - c->load_t0) / 1e9);
    return 0;
}

/* ---- the report ---------------------------------------------------------- */

/* Wrapped lines of the report: a case's notes (SQ_NOTE4 for one about an
 * engine) and the heading's. */
#define SQ_NOTE(...) bo_wrapf(stdout, "  ", "  ", __VA_ARGS__)
#define SQ_NOTE4(...) bo_wrapf(stdout, "  ", "    ", __VA_ARGS__)
#define SQ_HEAD(...) bo_wrapf(stdout, "# ", "#   ", __VA_ARGS__)

static double sq_rate(const sq_res *r, int op)
{
    return r->done[op] && r->secs[op] > 0 ? (double)r->ops[op] / r->secs[op]
                                          : 0;
}

/* What the report shows of one op of one engine over the rounds. */
typedef struct sq_agg {
    int done;                    /* rounds that finished the phase */
    double rate[SQ_MAX_ROUNDS];  /* ops/s of every round, 0: not done */
    double ratio[SQ_MAX_ROUNDS]; /* to stock-cache in the round, 0: none */
    double ops_s;                /* the median of rate */
    double ratio_med;            /* the median of ratio, 0: none */
    double kib;                  /* the median KiB read/op, < 0 unknown */
    uint64_t ops;                /* statements, the sum over the rounds */
    double secs;                 /* their seconds, the sum */
} sq_agg;

static void sq_agg_of(const sq_ctx *c, int cs, int eng, int op, sq_agg *a)
{
    double kib[SQ_MAX_ROUNDS] = {0};
    size_t nk = 0;
    memset(a, 0, sizeof *a);
    for (int rnd = 0; rnd < c->o.rounds; rnd++) {
        const sq_res *r = sq_slot(c, cs, rnd, eng);
        double base = sq_rate(sq_slot(c, cs, rnd, SQ_CACHE), op);
        a->rate[rnd] = sq_rate(r, op);
        a->ratio[rnd] = base > 0 && a->rate[rnd] > 0 ? a->rate[rnd] / base
                                                     : 0;
        if (!r->done[op])
            continue;
        a->done++;
        a->ops += r->ops[op];
        a->secs += r->secs[op];
        if (r->read_bytes[op] != UINT64_MAX && r->ops[op])
            kib[nk++] = (double)r->read_bytes[op] / 1024.0 /
                        (double)r->ops[op];
    }
    a->ops_s = bu_median_pos(a->rate, (size_t)c->o.rounds);
    a->ratio_med = bu_median_pos(a->ratio, (size_t)c->o.rounds);
    a->kib = nk ? bu_median(kib, nk) : -1;
}

/* A table cell into cell (SQ_CELL bytes): fmt of the arguments when ok,
 * else "n/a"; returns cell. */
#define SQ_CELL 32
static const char *sq_cell(char *cell, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *sq_cell(char *cell, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (ok)
        vsnprintf(cell, SQ_CELL, fmt, ap);
    else
        snprintf(cell, SQ_CELL, "n/a");
    va_end(ap);
    return cell;
}

/* The engines of case cs whose why (a field of sq_res at offset off) is
 * set in some round, as a list into out, and the first why into *first;
 * how many. */
static int sq_engines_with(const sq_ctx *c, int cs, size_t off, char *out,
                           size_t n, const char **first)
{
    int k = 0;
    out[0] = '\0';
    *first = "";
    for (int e = 0; e < SQ_NENG; e++) {
        const char *why = "";
        size_t len = strlen(out);
        for (int rnd = 0; rnd < c->o.rounds && !why[0]; rnd++)
            why = (const char *)sq_slot(c, cs, rnd, e) + off;
        if (!why[0])
            continue;
        if (!k++)
            *first = why;
        snprintf(out + len, n - len, "%s%s", len ? ", " : "", sq_eng[e]);
    }
    return k;
}

static void sq_case_heading(const sq_ctx *c, int cs)
{
    char b1[32], b2[32], b3[32], warm[64], nodrop[96], nocg[96];
    const char *drop_why, *cg_why;
    int nr = c->o.rounds;
    int ndrop = sq_engines_with(c, cs, offsetof(sq_res, drop_why), nodrop,
                                sizeof nodrop, &drop_why);
    int ncg = sq_engines_with(c, cs, offsetof(sq_res, cg_why), nocg,
                              sizeof nocg, &cg_why);
    if (c->warmup[cs] == SQ_WARM_SCAN)
        snprintf(warm, sizeof warm, "one full scan (SELECT sum(length(v)) "
                                    "FROM t)");
    else if (c->warmup[cs] == 0)
        snprintf(warm, sizeof warm, "none");
    else
        snprintf(warm, sizeof warm, "%llu point selects",
                 (unsigned long long)c->warmup[cs]);
    printf("\n");
    bo_wrapf(stdout, "", "  ", "%s: %llu rows, file %s = %.2f x M, M = %s; %s.",
             sq_case[cs], (unsigned long long)c->rows[cs],
             bu_fmt_bytes(c->file[cs], b1, sizeof b1),
             (double)c->file[cs] / (double)c->mem,
             bu_fmt_bytes(c->mem, b2, sizeof b2),
             cs == SQ_MEM ? "no memory cgroup (the table fits)"
             : ncg        ? "memory cgroups asked for"
                          : "every engine in a memory cgroup");
    if (cs == SQ_OOM)
        SQ_NOTE("cgroup limit M + %s = %s for every engine (the headroom holds "
                "the process: SQLite's heap, the pool's metadata, the WAL; the "
                "stock engines may fill what is left of it with page cache).",
                bu_fmt_bytes(c->headroom, b1, sizeof b1),
                bu_fmt_bytes(c->mem + c->headroom, b3, sizeof b3));
    if (cs == SQ_OOM && ncg)
        SQ_NOTE("NOT EQUAL MEMORY: no memory cgroup could be made for %s%s "
                "(%s): those ran without a limit, and there the stock engines "
                "may use the kernel's page cache beyond M.",
                nr > 1 ? "runs of " : "", nocg, cg_why);
    if (ndrop)
        SQ_NOTE("NOT EQUALLY COLD: the page cache was not dropped before %s%s "
                "(%s); each run's copy of the table was evicted with "
                "posix_fadvise(DONTNEED) instead.", nr > 1 ? "runs of " : "",
                nodrop, drop_why);
    else if (nr > 1)
        SQ_NOTE("Page cache dropped before every run (each engine, each "
                "round).");
    else
        SQ_NOTE("Page cache dropped before each engine.");
    SQ_NOTE("Warm-up, untimed, the same for every engine%s: %s.",
            nr > 1 ? " and round" : "", warm);
    if (cs == SQ_MEM && c->file[cs] > c->mem)
        SQ_NOTE("NOT IN MEMORY: the table (%s) is larger than M.",
                bu_fmt_bytes(c->file[cs], b1, sizeof b1));
    if (cs == SQ_OOM && c->file[cs] < 2 * c->mem)
        SQ_NOTE("Note: the table is only %.2f x M: give --rows or --mem for a "
                "table several times M.", (double)c->file[cs] / (double)c->mem);
    if (nr > 1)
        SQ_NOTE("%d rounds, the engines alternating: ops/s and KiB read/op are "
                "the medians of the rounds, ratio the median of the per-round "
                "ratios to stock-cache, latency from every round's statements "
                "merged.", nr);
}

/* The table of one case and its result rows: per op and engine over the
 * rounds (sq_agg; ops and seconds summed), rate, ratio, percentiles of
 * the merged histograms, disk reads. */
static void sq_case_table(const sq_ctx *c, int cs, bo_run *run)
{
    static const char *const hdr[8] = {"op",  "engine", "ops/s", "ratio",
                                       "p50", "p99",    "p99.9",
                                       "KiB read/op"};
    bu_table t;
    bu_table_init(&t, 8);
    bu_table_add(&t, hdr);
    for (int op = 0; op < SQ_NOPS; op++)
        for (int e = 0; e < SQ_NENG; e++) {
            const bo_hist *h = c->h[cs][e][op];
            char cell[3][SQ_CELL], lat[5][24];
            const char *row[8] = {e ? "" : sq_opname[op], sq_eng[e],
                                  cell[0], cell[1], lat[0], lat[2],
                                  lat[3], cell[2]};
            sq_agg a;
            sq_agg_of(c, cs, e, op, &a);
            int ok = a.done && bo_hist_count(h);
            sq_cell(cell[0], ok, "%.0f", a.ops_s);
            sq_cell(cell[1], ok && a.ratio_med > 0, "%.2f", a.ratio_med);
            sq_cell(cell[2], ok && a.kib >= 0, "%.2f", a.kib);
            bo_lat_cells(h, lat, 0); /* "n/a" when empty */
            bu_table_add(&t, row);
            if (!a.done)
                continue;
            bo_row *w = bo_row_new(run, "sqlite");
            bo_label_str(w, "case", sq_case[cs]);
            bo_label_str(w, "op", sq_opname[op]);
            bo_label_str(w, "engine", sq_eng[e]);
            bo_metric(w, "ops_per_s", a.ops_s);
            if (a.ratio_med > 0)
                bo_metric(w, "ratio_to_stock_cache", a.ratio_med);
            if (a.kib >= 0)
                bo_metric(w, "kib_read_per_op", a.kib);
            bo_metric(w, "ops", (double)a.ops);
            bo_metric(w, "seconds", a.secs);
            bo_latency(w, sq_opname[op], h);
        }
    bu_table_print(&t, stdout, "  ", 2);
    bu_table_free(&t);
}

/* With more than one round: every round's ops/s per op and engine, their
 * spread, and the lowest and highest per-round ratio to stock-cache. */
static void sq_case_rounds(const sq_ctx *c, int cs)
{
    enum { NC = 2 + SQ_MAX_ROUNDS + 2 };
    int nr = c->o.rounds, nc = 2 + nr + 2;
    char hc[SQ_MAX_ROUNDS][24];
    const char *hdr[NC] = {"op", "engine"};
    bu_table t;

    if (nr < 2)
        return;
    for (int rnd = 0; rnd < nr; rnd++) {
        snprintf(hc[rnd], sizeof hc[rnd], "round %d", rnd + 1);
        hdr[2 + rnd] = hc[rnd];
    }
    hdr[2 + nr] = "spread";
    hdr[3 + nr] = "ratios";
    bu_table_init(&t, (size_t)nc);
    bu_table_add(&t, hdr);
    for (int op = 0; op < SQ_NOPS; op++)
        for (int e = 0; e < SQ_NENG; e++) {
            char cell[SQ_MAX_ROUNDS + 2][SQ_CELL];
            const char *row[NC] = {e ? "" : sq_opname[op], sq_eng[e]};
            double lo = 0, hi = 0, rlo = 0, rhi = 0;
            sq_agg a;
            sq_agg_of(c, cs, e, op, &a);
            for (int rnd = 0; rnd < nr; rnd++) {
                double v = a.rate[rnd], q = a.ratio[rnd];
                row[2 + rnd] = sq_cell(cell[rnd], v > 0, "%.0f", v);
                if (v > 0 && (lo == 0 || v < lo))
                    lo = v;
                if (v > hi)
                    hi = v;
                if (q > 0 && (rlo == 0 || q < rlo))
                    rlo = q;
                if (q > rhi)
                    rhi = q;
            }
            row[2 + nr] = sq_cell(cell[nr], a.ops_s > 0 && a.done > 1,
                                  "%.1f%%", 100.0 * (hi - lo) / a.ops_s);
            row[3 + nr] = e == SQ_CACHE ? "-"
                          : sq_cell(cell[nr + 1], rlo > 0, "%.2f-%.2f", rlo,
                                    rhi);
            bu_table_add(&t, row);
        }
    printf("\n");
    SQ_NOTE("every round's ops/s (the engines alternate, round 1: each engine "
            "once, then round 2, ...; spread: (max - min) / median; ratios: "
            "the lowest and the highest per-round ratio to stock-cache):");
    bu_table_print(&t, stdout, "  ", 2);
    bu_table_free(&t);
}

/* Per engine: the settings read back, its memory (and its result row),
 * the pool, failures.  Over the rounds: the settings of the first round
 * that opened, the median warm-up, the highest max RSS and cgroup peak, a
 * cgroup limit when a round had one. */
static void sq_case_engines(const sq_ctx *c, int cs, bo_run *run)
{
    static const char *const hdr[6] = {"engine",  "cache_size",
                                       "mmap_size", "warm-up",
                                       "max RSS", "cgroup peak"};
    int nr = c->o.rounds;
    char tag[32];
    const sq_res *mm = NULL; /* stock-mmap's */
    bu_table t;
    bu_table_init(&t, 6);
    bu_table_add(&t, hdr);
    for (int e = 0; e < SQ_NENG; e++) {
        const sq_res *o = NULL;
        double warm[SQ_MAX_ROUNDS] = {0}, warm_s;
        uint64_t rss = 0, peak = 0, limit = 0;
        char cell[5][SQ_CELL];
        const char *row[6] = {sq_eng[e], cell[0], cell[1], cell[2],
                              cell[3], cell[4]};
        for (int rnd = 0; rnd < nr; rnd++) {
            const sq_res *r = sq_slot(c, cs, rnd, e);
            o = o || !r->opened ? o : r;
            warm[rnd] = r->warm_secs;
            rss = r->max_rss > rss ? r->max_rss : rss;
            if (r->cg_limit) {
                peak = r->cg_peak > peak ? r->cg_peak : peak;
                limit = r->cg_limit;
            }
        }
        warm_s = bu_median_pos(warm, (size_t)nr);
        mm = e == SQ_MMAP ? o : mm;
        sq_cell(cell[0], o != NULL, "%lld", o ? o->cache_size : 0);
        sq_cell(cell[1], o != NULL, "%lld", o ? o->mmap_size : 0);
        sq_cell(cell[2], 1, "%.2f s", warm_s);
        bu_fmt_bytes(rss, cell[3], sizeof cell[3]);
        if (limit && peak)
            bu_fmt_bytes(peak, cell[4], sizeof cell[4]);
        else
            snprintf(cell[4], sizeof cell[4], limit ? "?" : "none");
        bu_table_add(&t, row);
        bo_row *w = bo_row_new(run, "sqlite_memory");
        bo_label_str(w, "case", sq_case[cs]);
        bo_label_str(w, "engine", sq_eng[e]);
        bo_metric(w, "max_rss_bytes", (double)rss);
        if (limit) {
            bo_metric(w, "cgroup_peak_bytes", (double)peak);
            bo_metric(w, "cgroup_limit_bytes", (double)limit);
        }
        bo_metric(w, "warmup_s", warm_s);
    }
    printf("\n");
    bu_table_print(&t, stdout, "  ", 1);
    bu_table_free(&t);
    SQ_NOTE("(cache_size and mmap_size as read back; max RSS: the child's "
            "peak resident set, the check included; cgroup peak: its "
            "anonymous, shm and page-cache memory over the warm-up and the "
            "phases%s)", nr > 1 ? "; over the rounds: the median warm-up, "
                                  "the highest max RSS and cgroup peak" : "");
    if (mm && (uint64_t)mm->mmap_size < c->mem)
        SQ_NOTE4("stock-mmap: mmap_size read back %lld, less than M: SQLite "
                 "caps it at its SQLITE_MAX_MMAP_SIZE, the rest of M is not "
                 "used", mm->mmap_size);
    for (int e = 0; e < SQ_NENG; e++)
        for (int rnd = 0; rnd < nr; rnd++) {
            const sq_res *r = sq_slot(c, cs, rnd, e);
            if (!r->pool[0])
                continue;
            SQ_NOTE4("%s%s: %s", sq_eng[e],
                     sq_round_tag(c, rnd, tag, sizeof tag), r->pool);
            break;
        }
    int all = 1;
    for (int rnd = 0; rnd < nr; rnd++)
        for (int e = 0; e < SQ_NENG; e++)
            all &= sq_slot(c, cs, rnd, e)->checked;
    if (all)
        SQ_NOTE4("check after a reopen, every engine%s: ok (%s%s: %s)",
                 nr > 1 ? " and round" : "", sq_eng[SQ_CACHE],
                 sq_round_tag(c, 0, tag, sizeof tag),
                 sq_slot(c, cs, 0, SQ_CACHE)->check);
    for (int rnd = 0; rnd < nr; rnd++)
        for (int e = 0; e < SQ_NENG; e++) {
            const sq_res *r = sq_slot(c, cs, rnd, e);
            sq_round_tag(c, rnd, tag, sizeof tag);
            if (!all && r->checked)
                SQ_NOTE4("%s%s: check ok: %s", sq_eng[e], tag, r->check);
            if (r->err[0])
                SQ_NOTE4("%s%s: FAILED: %s", sq_eng[e], tag, r->err);
        }
}

/* Every case's ratios to stock-cache in one table (the medians of the
 * per-round ratios). */
static void sq_summary(const sq_ctx *c)
{
    const char *hdr[2 + SQ_NENG - 1] = {"case", "op"};
    bu_table t;
    bu_table_init(&t, 2 + SQ_NENG - 1);
    for (int e = 1; e < SQ_NENG; e++)
        hdr[1 + e] = sq_eng[e];
    bu_table_add(&t, hdr);
    for (int cs = 0; cs < SQ_NCASE; cs++) {
        if (!(c->o.cases & (1 << cs)))
            continue;
        for (int op = 0; op < SQ_NOPS; op++) {
            char cell[SQ_NENG][SQ_CELL];
            const char *row[2 + SQ_NENG - 1] = {op ? "" : sq_case[cs],
                                                sq_opname[op]};
            for (int e = 1; e < SQ_NENG; e++) {
                sq_agg a;
                sq_agg_of(c, cs, e, op, &a);
                row[1 + e] = sq_cell(cell[e], a.ratio_med > 0, "%.2f",
                                     a.ratio_med);
            }
            bu_table_add(&t, row);
        }
    }
    printf("\n");
    if (c->o.rounds > 1)
        bo_wrapf(stdout, "", "  ",
                 "ops/s relative to stock-cache, the median of "
                 "%d per-round ratios (above 1: faster than SQLite's own "
                 "cache of M):", c->o.rounds);
    else
        printf("ops/s relative to stock-cache (above 1: faster than "
               "SQLite's own cache of M):\n");
    bu_table_print(&t, stdout, "  ", 2);
    bu_table_free(&t);
}

/* ---- options and heading ------------------------------------------------- */

static const char sq_intro[] =
"One SQL workload on SQLite given the same memory M five ways, side by\n"
"side: stock SQLite with a page cache of M (stock-cache: PRAGMA\n"
"cache_size, its page buffers one block of M bytes), stock SQLite with\n"
"PRAGMA mmap_size = M (stock-mmap), SQLite's page cache of M in the\n"
"frames of a pool (bufpool-pcache: SQLITE_CONFIG_PCACHE2, the default\n"
"VFS), the bufpool VFS with bp_cache = M reading pages in place\n"
"(bufpool, bp_fetch=1) and copying them by xRead (bufpool-xread,\n"
"bp_fetch=0).  Phases of point selects, range scans, updates and\n"
"inserts, each statement its own transaction, journal_mode=WAL and\n"
"synchronous=NORMAL for every engine; ops/s, the ratio to stock-cache\n"
"and p50/p99/p99.9 latency per phase and engine.  Two cases: in memory\n"
"(the table about M / 2) and out of memory (about 4 M; every engine in\n"
"a memory cgroup of M + headroom).  The tables are loaded once and\n"
"copied for each run of an engine; the page cache is dropped before\n"
"each run; each run is its own process.  With --rounds N the engines\n"
"run N times in alternation (A B C D E A B C D E ...): ops/s is the\n"
"median of the rounds, the ratio the median of the per-round ratios,\n"
"the latency from every round merged, and a table gives every round's\n"
"ops/s.\n";

static const char sq_tail[] =
"The data files go to a fresh directory under --dir, removed at exit\n"
"(also on SIGINT/SIGTERM); use a disk file system that takes O_DIRECT,\n"
"not tmpfs.  Dropping the page cache and the memory cgroup need root;\n"
"without them the report says so.\n"
"\n"
"Exit status: 0, 1 when an engine failed or its check did not hold, 2 on\n"
"a usage error.\n";

static int sq_opt_case(void *dst, const char *cmd, const char *opt,
                       const char *val)
{
    int *cases = dst;
    if (strcmp(val, "both") == 0)
        *cases = 3;
    else if (strcmp(val, "in-memory") == 0 || strcmp(val, "memory") == 0)
        *cases = 1 << SQ_MEM;
    else if (strcmp(val, "out-of-memory") == 0 || strcmp(val, "oom") == 0)
        *cases = 1 << SQ_OOM;
    else {
        fprintf(stderr, "bpbench %s: --%s: '%s'; give in-memory, "
                        "out-of-memory or both\n", cmd, opt, val);
        return -1;
    }
    return 0;
}

/* 0, 1 for --help (printed), -1 on a usage error (printed). */
static int sq_parse(sq_opts *o, int argc, char **argv)
{
    *o = (sq_opts){.mem_rows = SQ_UNSET, .mem = SQ_UNSET,
                   .headroom = SQ_UNSET, .value_size = 150,
                   .scan_len = 50, .seed = 1, .warmup = SQ_UNSET,
                   .seconds = -1, .rounds = 1, .cases = 3,
                   .dir = "/var/tmp"};
    const bo_optdef defs[] = {
        BO_OPT("quick", NULL, BO_FLAG, &o->quick, 0, 0, NULL,
               "a small run of a few seconds: 200000 rows, 0.25 s per "
               "phase"),
        BO_OPT("rows", NULL, BO_U64, &o->rows, 1000, 4e9, "N",
               "rows of the out-of-memory table, suffix k, m, g (default: "
               "10000000; --quick: 200000)"),
        BO_OPT("mem-rows", NULL, BO_U64, &o->mem_rows, 1000, 4e9, "N",
               "rows of the in-memory table (default: --rows / 8, a "
               "table of about M / 2; with --mem, what makes M / 2)"),
        BO_OPT("mem", "memory", BO_U64, &o->mem, 4 << 20, 1099511627776.0,
               "BYTES",
               "the memory M of every engine: stock-cache's page cache, "
               "mmap_size, bp_cache; suffix k, m, g (default: a quarter "
               "of the out-of-memory table's file, in MiB)"),
        BO_OPT("headroom", NULL, BO_U64, &o->headroom, 1 << 20, 1e12,
               "BYTES",
               "out of memory, every engine's cgroup limit is M + this: "
               "the process, SQLite's heap, the pool's metadata, the WAL "
               "(default: 16 MiB + M / 32)"),
        BO_OPT("value-size", NULL, BO_U64, &o->value_size, 8, 4000,
               "BYTES", "bytes of each row's value (default: 150)"),
        BO_OPT("scan-len", NULL, BO_U64, &o->scan_len, 1, 10000, "N",
               "rows of each range scan (default: 50)"),
        BO_OPT("duration", "seconds", BO_SECS, &o->seconds, 0, 86400,
               "SECS",
               "seconds of each phase per engine and round, suffix s or "
               "m; 0: no limit (with --ops) (default: 5; --quick: 0.25)"),
        BO_OPT("ops", NULL, BO_U64, &o->ops, 0, 1e15, "N",
               "statements of each phase per engine and round instead "
               "of a duration; with --duration, stop there if not done "
               "(default: 0, the phases are timed)"),
        BO_OPT("rounds", NULL, BO_INT, &o->rounds, 1, SQ_MAX_ROUNDS, "N",
               "runs per engine and case, the engines alternating (A B "
               "C D E A B C D E ...), each run in its own process from a "
               "fresh copy of the table, the page cache dropped before "
               "each; the report shows each engine's median ops/s, the "
               "median per-round ratio to stock-cache, latency from every "
               "round merged and every round's ops/s (default: 1; "
               "--quick: 1)"),
        BO_OPT("warmup", NULL, BO_U64, &o->warmup, 0, 1e12, "N",
               "untimed point selects before the phases, every engine "
               "and case (default: in memory one full scan of the "
               "table; out of memory M / 4 KiB point selects)"),
        BO_OPT("zipf", NULL, BO_FLAG, &o->zipf, 0, 0, NULL,
               "keys of selects, scans and updates by YCSB's scrambled "
               "zipfian (theta 0.99) instead of uniform"),
        {"case", NULL, BO_FN, &o->cases, 0, 0, "CASE",
         "in-memory, out-of-memory or both (default: both)", sq_opt_case,
         0},
        BO_OPT("seed", NULL, BO_U64, &o->seed, 0, 18446744073709551615.0,
               "N", "seed of the values and keys (default: 1)"),
        BO_OPT("dir", NULL, BO_STR, &o->dir, 0, 0, "DIR",
               "where the data directory goes (default: /var/tmp)"),
        BO_OPTS_OUTPUT(&o->out),
    };
    const size_t n = sizeof defs / sizeof defs[0];
    int rc = bo_parse("sqlite", defs, n, argc, argv);
    if (rc > 0)
        bo_usage(stdout, "sqlite", sq_intro, defs, n, sq_tail);
    if (rc)
        return rc;
    if (!o->rows)
        o->rows = o->quick ? 200000 : 10000000;
    if (o->seconds < 0)
        o->seconds = o->ops ? 0 : o->quick ? 0.25 : 5;
    if (o->seconds == 0 && !o->ops) {
        fprintf(stderr, "bpbench sqlite: --duration 0 needs --ops\n");
        return -1;
    }
    if (o->rows < 2 * o->scan_len ||
        (o->mem_rows != SQ_UNSET && o->mem_rows < 2 * o->scan_len)) {
        fprintf(stderr, "bpbench sqlite: --rows and --mem-rows must be at "
                        "least twice --scan-len\n");
        return -1;
    }
    return 0;
}

static void sq_record(const sq_ctx *c, bo_run *run)
{
    bo_opt_num(run, "rows", (double)c->o.rows);
    if (c->o.cases & (1 << SQ_MEM))
        bo_opt_num(run, "mem_rows", (double)c->rows[SQ_MEM]);
    bo_opt_num(run, "mem_bytes", (double)c->mem);
    bo_opt_num(run, "headroom_bytes", (double)c->headroom);
    bo_opt_num(run, "value_size_bytes", (double)c->o.value_size);
    bo_opt_num(run, "scan_len", (double)c->o.scan_len);
    bo_opt_num(run, "duration_s", c->o.seconds);
    bo_opt_num(run, "ops", (double)c->o.ops);
    bo_opt_num(run, "rounds", c->o.rounds);
    bo_opt_str(run, "latency_over", "every round merged");
    for (int cs = 0; cs < SQ_NCASE; cs++) {
        const char *name = cs == SQ_MEM ? "warmup_in_memory"
                                        : "warmup_out_of_memory";
        if (!(c->o.cases & (1 << cs)))
            continue;
        if (c->warmup[cs] == SQ_WARM_SCAN)
            bo_opt_str(run, name, "full scan");
        else
            bo_opt_num(run, name, (double)c->warmup[cs]);
    }
    bo_opt_num(run, "stock_cache_page_buffer_bytes", (double)c->pc_slot);
    bo_opt_str(run, "distribution", c->o.zipf ? "zipfian" : "uniform");
    bo_opt_str(run, "cases", c->o.cases == 3 ? "both"
                                             : sq_case[c->o.cases >> 1]);
    bo_opt_num(run, "seed", (double)c->o.seed);
    bo_opt_str(run, "journal_mode", "wal");
    bo_opt_str(run, "synchronous", "normal");
    bo_opt_str(run, "sqlite_version", sqlite3_libversion());
    bo_opt_str(run, "latency_clock", bo_tick_tsc ? "tsc" : "clock_monotonic");
}

static void sq_heading(const sq_ctx *c, int argc, char **argv)
{
    char date[64], fs[32], cmd[1024] = "bpbench", each[64];
    time_t now = time(NULL);
    struct tm tm;
    size_t len = strlen(cmd);

    for (int i = 0; i < argc && len + 2 < sizeof cmd; i++) {
        snprintf(cmd + len, sizeof cmd - len,
                 strpbrk(argv[i], " \t'\"") ? " '%s'" : " %s", argv[i]);
        len = strlen(cmd);
    }
    if (localtime_r(&now, &tm))
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", &tm);
    else
        snprintf(date, sizeof date, "?");
    if (c->o.ops && c->o.seconds > 0)
        snprintf(each, sizeof each, "%llu statements or %g s",
                 (unsigned long long)c->o.ops, c->o.seconds);
    else if (c->o.ops)
        snprintf(each, sizeof each, "%llu statements",
                 (unsigned long long)c->o.ops);
    else
        snprintf(each, sizeof each, "%g s", c->o.seconds);
    printf("bpbench sqlite: SQLite given the same memory M five ways\n");
    bo_wrapf(stdout, "# command: ", "#   ", "%s", cmd);
    printf("# date: %s\n", date);
    bu_print_machine(stdout, "# ");
    SQ_HEAD("SQLite %s, %s; data in %s (%s)", sqlite3_libversion(),
            bp_version(NULL, NULL, NULL), c->dir,
            bu_fs_name(c->dir, fs, sizeof fs));
    if (strcmp(fs, "tmpfs") == 0)
        SQ_HEAD("WARNING: the data is on tmpfs: the file is its own page "
                "cache, which no cgroup limit or drop removes; give --dir on a "
                "disk file system");
    size_t slot = c->pc_slot;
    void *probe = malloc(slot);
    size_t by_malloc = probe ? malloc_usable_size(probe) : 0;
    free(probe);
    printf("# engines, each run in its own process, one connection, one "
           "thread:\n");
    bo_wrapf(stdout, "#   stock-cache    ", "#                  ",
             "default unix "
             "VFS, PRAGMA cache_size=M/%zu pages, their buffers one block "
             "of M bytes (SQLITE_CONFIG_PAGECACHE; by malloc a %zu-byte "
             "buffer takes %zu bytes here), pages by read()", slot, slot,
             by_malloc);
    printf(
"#   stock-mmap     default unix VFS, PRAGMA mmap_size=M, default\n"
"#                  cache_size (2 MB): the first M bytes of the file read\n"
"#                  in place from the page cache, the rest by read()\n"
"#   bufpool-pcache default unix VFS, SQLite's page cache in the frames\n"
"#                  of a pool (SQLITE_CONFIG_PCACHE2, bppcache.c), as\n"
"#                  many pages as stock-cache (their headers malloc'd),\n"
"#                  pages by read()\n"
"#   bufpool        bufpool VFS, bp_cache=M, bp_fetch=1: pages read in\n"
"#                  place from the pool (xFetch; the VFS sets mmap_size);\n"
"#                  SQLite's own cache at its default 2 MB; pages in\n"
"#                  file order read ahead (bp_readahead=2)\n"
"#   bufpool-xread  bufpool VFS, bp_cache=M, bp_fetch=0: every page\n"
"#                  copied from the pool by xRead into the 2 MB cache\n");
    SQ_HEAD("Every engine: journal_mode=WAL, synchronous=NORMAL (both read "
            "back), page_size %u, each statement its own transaction.  Table "
            "t(k INTEGER PRIMARY KEY, v BLOB) of %llu-byte values, loaded once "
            "per case in key order (keys 0, 2, 4, ...) in one transaction with "
            "the default VFS; the file copied for every run.", SQ_PAGE,
            (unsigned long long)c->o.value_size);
    if (c->o.rounds > 1)
        SQ_HEAD("Rounds: %d per case, the engines alternating (stock-cache, "
                "stock-mmap, bufpool, bufpool-xread, then again), every run "
                "from a fresh copy of the table with the page cache dropped "
                "before it.  ops/s and KiB read/op: the median of the %d "
                "rounds (of an even count the mean of the two middle ones); "
                "ratio: the median over the rounds of the engine's ops/s over "
                "stock-cache's in the same round; p50/p99/p99.9: every round's "
                "statements merged.", c->o.rounds, c->o.rounds);
    else
        SQ_HEAD("Rounds: 1 (each engine runs once per case, one after another; "
                "--rounds N alternates them N times); ratio: the engine's "
                "ops/s over stock-cache's.");
    printf("# phases in this order, each %s per engine%s:\n"
           "#   select  SELECT v FROM t WHERE k = ?  (a loaded key)\n"
           "#   scan    SELECT k, v FROM t WHERE k >= ? ORDER BY k LIMIT "
           "%llu\n"
           "#   update  UPDATE t SET v = ? WHERE k = ?  (a loaded key)\n"
           "#   insert  INSERT INTO t(k, v) VALUES(?, ?)  (a new odd key)\n",
           each, c->o.rounds > 1 ? " and round" : "",
           (unsigned long long)c->o.scan_len);
    SQ_HEAD("Keys %s, seed %llu: the same statements in the same order for "
            "every engine%s; an untimed wal_checkpoint(TRUNCATE) after update "
            "and after insert.  Latency: every statement (bind, steps, reset) "
            "timed with %s.",
            c->o.zipf ? "by YCSB's scrambled zipfian (theta 0.99)" : "uniform",
            (unsigned long long)c->o.seed, c->o.rounds > 1 ? " and round" : "",
            bo_tick_tsc ? "the TSC" : "CLOCK_MONOTONIC");
    fflush(stdout);
}

/* ---- main ---------------------------------------------------------------- */

/* The shared result block and histograms; 0 or -1. */
static int sq_shared(sq_ctx *c)
{
    size_t hsz = (bo_hist_size() + 63) & ~(size_t)63;
    unsigned char *m = br_shared(hsz * (SQ_NCASE * SQ_NENG + 1) * SQ_NOPS);
    c->res = br_shared(sizeof *c->res * SQ_NCASE * (size_t)c->o.rounds *
                       SQ_NENG);
    if (!c->res || !m)
        return -1;
    for (int op = 0; op < SQ_NOPS; op++, m += hsz)
        c->hrun[op] = bo_hist_place(m);
    for (int cs = 0; cs < SQ_NCASE; cs++)
        for (int e = 0; e < SQ_NENG; e++)
            for (int op = 0; op < SQ_NOPS; op++, m += hsz)
                c->h[cs][e][op] = bo_hist_place(m);
    return 0;
}

/* Load the tables and size M: the out-of-memory table first when it
 * runs (M is a quarter of its file), the in-memory one at rows / 8 or
 * what makes M / 2.  0 or -1 (printed). */
static int sq_tables(sq_ctx *c)
{
    const sq_opts *o = &c->o;
    uint64_t mem_rows = o->mem_rows;
    for (int cs = 0; cs < SQ_NCASE; cs++)
        snprintf(c->master[cs], sizeof c->master[cs], "%s/%s.db", c->dir,
                 cs == SQ_MEM ? "in-memory" : "out-of-memory");
    c->mem = o->mem;
    if (o->cases & (1 << SQ_OOM)) {
        if (sq_load(c, SQ_OOM, o->rows) != 0)
            return -1;
        if (c->mem == SQ_UNSET)
            c->mem = c->file[SQ_OOM] / 4 >> 20 << 20;
        if (mem_rows == SQ_UNSET && o->mem != SQ_UNSET)
            mem_rows = (uint64_t)((double)c->mem / 2 /
                                  ((double)c->file[SQ_OOM] /
                                   (double)o->rows));
    }
    if (mem_rows == SQ_UNSET)
        mem_rows = o->rows / 8;
    if (mem_rows < 2 * o->scan_len)
        mem_rows = 2 * o->scan_len;
    if (o->cases & (1 << SQ_MEM)) {
        if (sq_load(c, SQ_MEM, mem_rows) != 0)
            return -1;
        if (c->mem == SQ_UNSET)
            c->mem = c->file[SQ_MEM] * 2 >> 20 << 20;
    }
    if (c->mem < (4u << 20))
        c->mem = 4u << 20;
    c->headroom = o->headroom != SQ_UNSET ? o->headroom
                                          : (16u << 20) + c->mem / 32;
    c->warmup[SQ_MEM] = o->warmup != SQ_UNSET ? o->warmup : SQ_WARM_SCAN;
    c->warmup[SQ_OOM] = o->warmup != SQ_UNSET ? o->warmup
                                              : c->mem / SQ_PAGE;
    return 0;
}

/* Run every engine of case cs, round after round, the engines
 * alternating; print its report, add its rows; 0 when every run ran and
 * its check held. */
static int sq_case_run(sq_ctx *c, int cs, bo_run *run)
{
    int fail = 0;
    char tag[32];
    for (int rnd = 0; rnd < c->o.rounds; rnd++)
        for (int e = 0; e < SQ_NENG; e++) {
            bu_progress("sqlite: %s: %s%s", sq_case[cs], sq_eng[e],
                        sq_round_tag(c, rnd, tag, sizeof tag));
            sq_engine(c, cs, rnd, e);
            const sq_res *r = sq_slot(c, cs, rnd, e);
            fail |= !r->checked || r->err[0];
        }
    bu_cleanup_files(c->master[cs], sq_db_files, 0);
    sq_case_heading(c, cs);
    sq_case_table(c, cs, run);
    sq_case_rounds(c, cs);
    sq_case_engines(c, cs, run);
    fflush(stdout);
    return fail;
}

int bench_sqlite_main(int argc, char **argv)
{
    static sq_ctx c;
    bo_run *run = bo_run_begin(argc, argv);
    int rc = run ? sq_parse(&c.o, argc, argv) : -2;

    if (rc == 0 && bo_outopts_apply("sqlite", &c.o.out, run) != 0)
        rc = -1;
    if (rc == 0 && sq_shared(&c) != 0)
        rc = -2;
    if (rc) {
        if (rc == -2)
            fprintf(stderr, "bpbench sqlite: out of memory\n");
        bo_run_discard(run);
        return rc > 0 ? 0 : rc == -2 ? 1 : 2;
    }
    bo_tick_init();
    int hdr = 0; /* before SQLite is initialized (bpvfs_register) */
    sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr);
    c.pc_slot = (SQ_PAGE + (size_t)hdr + 7) & ~(size_t)7;
    if ((rc = bpvfs_register(NULL, NULL, 0)) != SQLITE_OK)
        fprintf(stderr, "bpbench sqlite: bpvfs_register: %s\n",
                sqlite3_errstr(rc));
    else if ((rc = bu_tempdir(c.o.dir, c.dir, sizeof c.dir)) != 0)
        fprintf(stderr, "bpbench sqlite: temp dir in %s: %s\n", c.o.dir,
                strerror(-rc));
    if (rc) {
        bo_run_discard(run);
        return 1;
    }
    snprintf(c.run, sizeof c.run, "%s/run.db", c.dir);
    sq_heading(&c, argc, argv);
    if (sq_tables(&c) != 0) {
        bo_run_discard(run);
        return 1;
    }
    sq_record(&c, run);
    bo_plot_metric(run, "sqlite", "ops_per_s", "statements per second");
    bo_plot_metric(run, "sqlite_memory", "max_rss_bytes",
                   "the engine's peak RSS, bytes");
    int fail = 0;
    for (int cs = 0; cs < SQ_NCASE; cs++)
        if (c.o.cases & (1 << cs))
            fail |= sq_case_run(&c, cs, run);
    sq_summary(&c);
    rmdir(c.dir);
    bu_cleanup_forget(c.dir);
    const char *json = c.o.out.json, *csv = c.o.out.csv;
    if (bo_run_finish("sqlite", run) != 0)
        return 1;
    if (json && strcmp(json, "-") != 0)
        printf("results: %s (JSON, schema bpbench/1)\n", json);
    if (csv && strcmp(csv, "-") != 0)
        printf("results: %s (CSV)\n", csv);
    return fail ? 1 : 0;
}
