/*
 * test_sqlite.c - SQLite on libbufpool: the bufpool VFS
 * (examples/sqlite/bpvfs.c) checked against SQLite's own unix VFS, across
 * crashes, injected I/O errors, two processes on one shared cache and bad
 * page sizes.
 *
 *   same_results_journal / _wal   one workload (50k rows, an index, updates,
 *                       deletes, range queries, aggregates, a join and a
 *                       subquery) on the default VFS and through the
 *                       bufpool VFS with a 1 MiB pool: every query's rows
 *                       hash the same, integrity_check is ok, and the
 *                       bufpool file read again (through the pool and by
 *                       the default VFS) gives the same rows
 *   crash_safety_journal / _wal   a child commits transactions through the
 *                       bufpool VFS and reports each committed id on a
 *                       pipe; it is SIGKILLed 0-30 ms after its first
 *                       commit, 60 times per mode; each time the database
 *                       opens again at once through the bufpool VFS, is
 *                       intact, holds every reported transaction and no
 *                       part of any other
 *   read_errors_{sync,uring}_engine   failed and short data-file reads
 *                       under queries that must read pages: an error with
 *                       SQLITE_IOERR as primary code or the right answer,
 *                       never a wrong one; disarmed, the same queries are
 *                       right and the pool is consistent
 *   commit_errors_{sync,uring}_engine a failed fdatasync, or failed page
 *                       writes, under COMMIT: COMMIT fails with an IOERR
 *                       code; reopened, the database is intact with the
 *                       old or the new state of that transaction and every
 *                       earlier one
 *   checkpoint_errors   a failed fdatasync under a WAL checkpoint: the
 *                       checkpoint fails with an IOERR code, later commits
 *                       still land, and nothing is lost after reopening
 *   two_processes_journal / _wal  two processes on one database and one
 *                       shared cache (bp_shm): each sees the other's
 *                       commits while both stay open
 *   page_size_errors    page sizes the pool cannot serve, a bad bp_io:
 *                       the open or the first write fails with the right
 *                       code and bpvfs_last_error() names the sizes
 *   new_database_takes_bp_page_size  a new database opened with
 *                       bp_page_size (or bpvfs_config.page_size) gets that
 *                       page size, with no PRAGMA page_size
 *   read_only_then_read_write  a read-only connection, then a read-write
 *                       one on the same database in the same process: a
 *                       write is refused with an error or is durable,
 *                       never reported done and lost, never a hang
 *   vacuum_truncates    after deleting most rows and VACUUM the file size
 *                       is page_count * page_size (stat and xFileSize)
 *   rolled_back_growth  a transaction that grew the file (spilled pages)
 *                       and was rolled back leaves size and bytes as before
 *   pages_read_in_place bp_fetch=1 (default) maps pages in place (fewer
 *                       pager misses, fixes in bp_stats); bp_fetch=0 gives
 *                       the same rows
 *   readahead_in_page_order  range scans over a table stored in key
 *                       order read the next pages ahead (bp_prefetch
 *                       reads in bp_stats) and return the rows the default
 *                       VFS returns; point selects read nothing ahead;
 *                       bp_readahead=0 reads nothing ahead
 *   page_cache_in_pool_frames  SQLite's page cache from bppcache.c
 *                       (SQLITE_CONFIG_PCACHE2, buffers in pool frames),
 *                       500 pages for a database of thousands: the
 *                       workload's rows hash as with SQLite's own cache,
 *                       integrity_check is ok, the buffers came from the
 *                       pool and were recycled; SQLite's cache put back
 *                       after (the last case, as it restarts SQLite)
 *   child_after_fork    a child of a process that has the database open
 *                       (shared cache) opens it anew: its own pool, the
 *                       parent's rows, and its write seen by the parent
 */
#include "util_test.h"

#include "bppcache.h"
#include "bpvfs.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A pool cache of 256 pages of 4 KiB: the data is several times larger. */
#define SMALL_CACHE "bp_cache=1048576"
#define CRASH_KILLS 60 /* per journal mode */

/* ---- SQLite helpers ------------------------------------------------------ */

/* buf = "file:<path, percent-encoded>[?params]". */
static void sq_uri(char *buf, size_t len, const char *path,
                   const char *params)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 5;

    assert_true(len > 16);
    memcpy(buf, "file:", 5);
    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        assert_true(n + 4 < len);
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
            (*s >= '0' && *s <= '9') || strchr("/-_.~", *s)) {
            buf[n++] = (char)*s;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[*s >> 4];
            buf[n++] = hex[*s & 15];
        }
    }
    buf[n] = '\0';
    if (params && *params) {
        assert_true(n + 1 + strlen(params) < len);
        buf[n++] = '?';
        strcpy(buf + n, params);
    }
}

/* sqlite3_open_v2 of path (bufpool: through the bufpool VFS) with params;
 * *db is the handle (even on failure, or NULL). */
static int sq_try_open(const char *path, const char *params, int bufpool,
                       sqlite3 **db)
{
    char uri[1400];
    int rc;

    sq_uri(uri, sizeof uri, path, params);
    *db = NULL;
    rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READWRITE |
                         SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                         bufpool ? "bufpool" : NULL);
    if (*db) {
        sqlite3_extended_result_codes(*db, 1);
        sqlite3_busy_timeout(*db, 10000);
    }
    return rc;
}

static sqlite3 *sq_open(const char *path, const char *params, int bufpool)
{
    sqlite3 *db;
    int rc = sq_try_open(path, params, bufpool, &db);

    if (rc != SQLITE_OK) {
        print_error("open %s (%s, %s): %s (bufpool: %s)\n", path,
                    params ? params : "", bufpool ? "bufpool" : "unix",
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                    bpvfs_last_error());
        sqlite3_close(db);
        fail();
    }
    return db;
}

static void sq_close(sqlite3 *db)
{
    int rc = sqlite3_close(db);

    if (rc != SQLITE_OK)
        print_error("sqlite3_close: %s\n", sqlite3_errstr(rc));
    assert_int_equal(rc, SQLITE_OK);
}

/* sqlite3_exec; returns its code, the message printed when not OK and
 * quiet is 0. */
static int sq_run(sqlite3 *db, const char *sql, int quiet)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

    if (rc != SQLITE_OK && !quiet)
        fprintf(stderr, "%.200s: %s (%d; bufpool: %s)\n", sql,
                err ? err : sqlite3_errstr(rc), rc, bpvfs_last_error());
    sqlite3_free(err);
    return rc;
}

static void sq_exec(sqlite3 *db, const char *sql)
{
    assert_int_equal(sq_run(db, sql, 0), SQLITE_OK);
}

static sqlite3_stmt *sq_prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        print_error("prepare %s: %s (bufpool: %s)\n", sql,
                    sqlite3_errmsg(db), bpvfs_last_error());
    assert_int_equal(rc, SQLITE_OK);
    return st;
}

/* The first column of the first row of sql (0 for NULL or no row is an
 * error). */
static int sq_int_rc(sqlite3 *db, const char *sql, int64_t *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    *v = 0;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *v = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_ERROR;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static int64_t sq_int(sqlite3 *db, const char *sql)
{
    int64_t v;
    int rc = sq_int_rc(db, sql, &v);

    if (rc != SQLITE_OK)
        print_error("%s: %s (%d; bufpool: %s)\n", sql, sqlite3_errmsg(db),
                    rc, bpvfs_last_error());
    assert_int_equal(rc, SQLITE_OK);
    return v;
}

/* The first column of the first row of sql as text into buf. */
static void sq_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st = sq_prep(db, sql);
    int rc = sqlite3_step(st);

    if (rc != SQLITE_ROW)
        print_error("%s: %s (bufpool: %s)\n", sql, sqlite3_errmsg(db),
                    bpvfs_last_error());
    assert_int_equal(rc, SQLITE_ROW);
    snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static void sq_integrity(sqlite3 *db)
{
    char buf[512];

    sq_text(db, "PRAGMA integrity_check", buf, sizeof buf);
    if (strcmp(buf, "ok") != 0)
        print_error("integrity_check: %s\n", buf);
    assert_string_equal(buf, "ok");
}

/* The primary code of rc is SQLITE_IOERR (any extended code). */
static int is_ioerr(int rc)
{
    return (rc & 0xff) == SQLITE_IOERR;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* A hash of every row of sql (types and values, in order) and the row
 * count; SQLite's code (SQLITE_OK when every row was read). */
static int sq_hash_rc(sqlite3 *db, const char *sql, uint64_t *hash,
                      int64_t *rows)
{
    sqlite3_stmt *st = NULL;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    *rows = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int nc = sqlite3_column_count(st);

        rc = SQLITE_OK;
        for (int c = 0; c < nc; c++) {
            unsigned char t = (unsigned char)sqlite3_column_type(st, c);
            int64_t iv;

            h = fnv(h, &t, 1);
            switch (t) {
            case SQLITE_INTEGER:
                iv = sqlite3_column_int64(st, c);
                h = fnv(h, &iv, sizeof iv);
                break;
            case SQLITE_NULL:
                break;
            case SQLITE_BLOB: {
                const void *b = sqlite3_column_blob(st, c);
                int n = sqlite3_column_bytes(st, c);

                h = fnv(h, &n, sizeof n);
                h = fnv(h, b, (size_t)n);
                break;
            }
            default: { /* text, and floats as SQLite prints them */
                const unsigned char *s = sqlite3_column_text(st, c);
                int n = sqlite3_column_bytes(st, c);

                h = fnv(h, &n, sizeof n);
                h = fnv(h, s, (size_t)n);
                break;
            }
            }
        }
        h = fnv(h, "\n", 1);
        ++*rows;
    }
    sqlite3_finalize(st);
    *hash = h;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static uint64_t sq_hash(sqlite3 *db, const char *sql, int64_t *rows)
{
    uint64_t h;
    int rc = sq_hash_rc(db, sql, &h, rows);

    if (rc != SQLITE_OK)
        print_error("%s: %s (%d; bufpool: %s)\n", sql, sqlite3_errmsg(db),
                    rc, bpvfs_last_error());
    assert_int_equal(rc, SQLITE_OK);
    return h;
}

/* Remove a database and its journal, WAL and wal-index files. */
static void sq_remove(const char *path)
{
    static const char *const sfx[] = {"", "-journal", "-wal", "-shm"};
    char b[700];

    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(b, sizeof b, "%s%s", path, sfx[i]);
        unlink(b);
    }
}

/* Journal mode, sync level and SQLite's own (small) page cache. */
static void sq_mode(sqlite3 *db, int wal, int cache_pages)
{
    char buf[64];

    sq_text(db, wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE",
            buf, sizeof buf);
    assert_string_equal(buf, wal ? "wal" : "delete");
    sq_exec(db, wal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL");
    snprintf(buf, sizeof buf, "PRAGMA cache_size=%d", cache_pages);
    sq_exec(db, buf);
}

static bp_pool *sq_pool(sqlite3 *db)
{
    bp_pool *p = bpvfs_pool(db, NULL);

    assert_non_null(p);
    return p;
}

/* stat() of path, PRAGMA page_count * page_size and the VFS's xFileSize
 * agree; returns the size. */
static int64_t sq_check_size(sqlite3 *db, const char *path)
{
    int64_t pc = sq_int(db, "PRAGMA page_count");
    int64_t ps = sq_int(db, "PRAGMA page_size");
    sqlite3_file *fp = NULL;
    sqlite3_int64 xsize = -1;
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(sqlite3_file_control(db, "main",
                                          SQLITE_FCNTL_FILE_POINTER, &fp),
                     SQLITE_OK);
    assert_non_null(fp);
    assert_int_equal(fp->pMethods->xFileSize(fp, &xsize), SQLITE_OK);
    if ((int64_t)st.st_size != pc * ps || xsize != pc * ps)
        print_error("%s: stat %lld bytes, xFileSize %lld, page_count %lld "
                    "* page_size %lld\n", path, (long long)st.st_size,
                    (long long)xsize, (long long)pc, (long long)ps);
    assert_int_equal(st.st_size, pc * ps);
    assert_int_equal(xsize, pc * ps);
    return pc * ps;
}

/* ---- pipes and children -------------------------------------------------- */

/* Read n bytes from fd, waiting at most ms for each chunk: n, fewer at
 * end of file, -1 on a timeout or an error. */
static ssize_t pipe_read(int fd, void *buf, size_t n, int ms)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, ms);
        ssize_t k;

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        k = read(fd, (char *)buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static int pipe_write(int fd, const void *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t k = write(fd, (const char *)buf + done, n - done);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        done += (size_t)k;
    }
    return 0;
}

static int child_wait(pid_t pid)
{
    int st = 0;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return st;
}

/* In a child: report what failed and end the process (no cmocka, no
 * atexit handlers). */
static void child_die(sqlite3 *db, const char *what, int code)
{
    fprintf(stderr, "child %ld: %s: %s (bufpool: %s)\n", (long)getpid(),
            what, db ? sqlite3_errmsg(db) : "", bpvfs_last_error());
    _exit(code);
}

static void child_exec(sqlite3 *db, const char *sql, int code)
{
    if (sq_run(db, sql, 0) != SQLITE_OK)
        child_die(db, sql, code);
}

static pid_t fork_child(void)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    return pid;
}

/* ---- 1: the same results as the default VFS ------------------------------ */

static const char *const wl_queries[] = {
    "SELECT id, a, b, c, d FROM t ORDER BY id",
    "SELECT a, count(*), min(c), max(c) FROM t GROUP BY a ORDER BY a",
    "SELECT a % 10, count(*), sum(b), avg(b), max(length(c)) FROM t "
    "GROUP BY 1 ORDER BY 1",
    "SELECT id, b FROM t WHERE b BETWEEN 100000 AND 180000 ORDER BY b, id",
    "SELECT id, c FROM t WHERE a = 17 AND c > 'm' ORDER BY c, id",
    "SELECT u.name, count(*), sum(t.b) FROM t JOIN u ON t.a % 50 = u.id "
    "GROUP BY u.id ORDER BY u.id",
    "SELECT id FROM t WHERE b > (SELECT avg(b) FROM t) AND id % 7 = 1 "
    "ORDER BY id",
    "SELECT count(*), sum(b), sum(length(c)), sum(length(d)) FROM t",
};
#define WL_NQ (sizeof wl_queries / sizeof wl_queries[0])
/* SQLite's own cache, in pages: 2 MiB, a fifth of the data */
#define WL_SQLITE_CACHE 500

static void wl_text(uint64_t *r, char *buf, size_t min, size_t max)
{
    size_t n = min + (size_t)util_rand_below(r, max - min + 1);

    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + util_rand_below(r, 26));
    buf[n] = '\0';
}

static void wl_insert(sqlite3 *db, sqlite3_stmt *ins, uint64_t *r, int n)
{
    char c[64];
    unsigned char d[256];

    sq_exec(db, "BEGIN");
    for (int i = 0; i < n; i++) {
        int dl = (int)util_rand_below(r, 200);

        wl_text(r, c, 8, 40);
        for (int k = 0; k < dl; k++)
            d[k] = (unsigned char)util_rand(r);
        sqlite3_bind_int64(ins, 1, (int64_t)util_rand_below(r, 100));
        sqlite3_bind_int64(ins, 2, (int64_t)util_rand_below(r, 1000000));
        sqlite3_bind_text(ins, 3, c, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(ins, 4, d, dl, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sq_exec(db, "COMMIT");
}

/* The workload: deterministic, so both VFSes get the same statements. */
static void wl_run(sqlite3 *db)
{
    uint64_t r = UINT64_C(0x5eed5eed1234);
    sqlite3_stmt *ins, *upd;
    char c[64];

    sq_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a INT, b INT, "
                "c TEXT, d BLOB);"
                "CREATE INDEX t_b ON t(b);"
                "CREATE INDEX t_ac ON t(a, c);"
                "CREATE TABLE u(id INTEGER PRIMARY KEY, name TEXT);"
                "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 "
                "FROM s WHERE i < 49) INSERT INTO u SELECT i, "
                "'user' || (i * 37 % 101) FROM s");
    ins = sq_prep(db, "INSERT INTO t(a, b, c, d) VALUES (?, ?, ?, ?)");
    for (int batch = 0; batch < 5; batch++)
        wl_insert(db, ins, &r, 10000);
    upd = sq_prep(db, "UPDATE t SET b = ?, c = ? WHERE id = ?");
    sq_exec(db, "BEGIN");
    for (int i = 0; i < 5000; i++) {
        wl_text(&r, c, 4, 30);
        sqlite3_bind_int64(upd, 1, (int64_t)util_rand_below(&r, 1000000));
        sqlite3_bind_text(upd, 2, c, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(upd, 3, 1 + (int64_t)util_rand_below(&r, 50000));
        assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
        sqlite3_reset(upd);
    }
    sq_exec(db, "COMMIT");
    sqlite3_finalize(upd);
    sq_exec(db, "UPDATE t SET a = (a + 1) % 100, d = NULL "
                "WHERE b BETWEEN 300000 AND 350000");
    sq_exec(db, "DELETE FROM t WHERE id % 13 = 5");
    sq_exec(db, "DELETE FROM t WHERE b BETWEEN 600000 AND 640000");
    wl_insert(db, ins, &r, 5000); /* into the freed pages */
    sqlite3_finalize(ins);
}

static void wl_hashes(sqlite3 *db, uint64_t *h, int64_t *rows)
{
    for (size_t q = 0; q < WL_NQ; q++)
        h[q] = sq_hash(db, wl_queries[q], &rows[q]);
}

static void same_results(int wal)
{
    const char *mode = wal ? "wal" : "journal";
    uint64_t h[4][WL_NQ];
    int64_t rows[4][WL_NQ];
    char plain[600], bpf[600], name[64];
    bp_stats s;

    snprintf(name, sizeof name, "same_%s_unix.db", mode);
    util_tmp_path(plain, sizeof plain, name);
    snprintf(name, sizeof name, "same_%s_bufpool.db", mode);
    util_tmp_path(bpf, sizeof bpf, name);
    for (int v = 0; v < 2; v++) {
        sqlite3 *db = sq_open(v ? bpf : plain, v ? SMALL_CACHE : "", v);

        sq_mode(db, wal, WL_SQLITE_CACHE);
        if (wal)
            sq_exec(db, "PRAGMA wal_autocheckpoint=100");
        wl_run(db);
        wl_hashes(db, h[v], rows[v]);
        sq_integrity(db);
        if (v) {
            util_stats(sq_pool(db), &s);
            print_message("  %s: %" PRIu64 " frames, %" PRIu64 " data pages"
                          ", %" PRIu64 " misses, %" PRIu64 " evictions, "
                          "%" PRIu64 " writes (%s)\n", mode, s.frames,
                          s.data_pages, s.cache_misses, s.frame_evictions,
                          s.writes, s.io_engine);
            /* the data did not fit: pages were evicted and read again */
            assert_true(s.data_pages > 4 * s.frames);
            assert_true(s.frame_evictions > 0);
            assert_true(s.cache_misses > s.frames);
            util_check(sq_pool(db));
        }
        sq_close(db);
    }
    /* the bufpool file again: read through a new pool (one that holds it
     * all), and by SQLite's own VFS straight from the file */
    for (int v = 2; v < 4; v++) {
        sqlite3 *db = sq_open(bpf, v == 2 ? "bp_cache=33554432" : "", v == 2);

        sq_exec(db, "PRAGMA cache_size=50");
        wl_hashes(db, h[v], rows[v]);
        sq_integrity(db);
        sq_close(db);
    }
    for (size_t q = 0; q < WL_NQ; q++) {
        assert_true(rows[0][q] > 0);
        for (int v = 1; v < 4; v++) {
            if (h[v][q] != h[0][q] || rows[v][q] != rows[0][q])
                print_error("query %zu: %lld rows (unix) vs %lld (run %d)"
                            ": %s\n", q, (long long)rows[0][q],
                            (long long)rows[v][q], v, wl_queries[q]);
            assert_int_equal(rows[v][q], rows[0][q]);
            assert_true(h[v][q] == h[0][q]);
        }
    }
    print_message("  %s: %lld rows at the end, %zu queries agree\n", mode,
                  (long long)rows[0][0], WL_NQ);
    sq_remove(plain);
    sq_remove(bpf);
}

static void test_same_results_journal(void **state)
{
    (void)state;
    same_results(0);
}

static void test_same_results_wal(void **state)
{
    (void)state;
    same_results(1);
}

/* ---- 2: crash safety ----------------------------------------------------- */

#define CRASH_BASE_ROWS 2000

static void crash_setup(const char *path, int wal)
{
    sqlite3 *db = sq_open(path, SMALL_CACHE, 1);
    char sql[512];

    sq_mode(db, wal, 32);
    snprintf(sql, sizeof sql,
             "CREATE TABLE t(id INTEGER PRIMARY KEY, tx INT, bal INT, "
             "pad BLOB);"
             "CREATE INDEX t_tx ON t(tx);"
             "CREATE TABLE meta(n INT, last INT);"
             "BEGIN;"
             "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM "
             "s WHERE i < %d) INSERT INTO t(tx, bal, pad) SELECT 0, 0, "
             "randomblob(200 + i %% 400) FROM s;"
             "INSERT INTO meta VALUES (%d, 0);"
             "COMMIT", CRASH_BASE_ROWS, CRASH_BASE_ROWS);
    sq_exec(db, sql);
    sq_close(db);
}

/* The child: transactions until it is killed.  Each inserts 3 rows of its
 * id, moves an amount between two random rows (sum(bal) stays 0), bumps
 * meta's row count and last id; after COMMIT returns, the id goes to fd.
 * Before the first one it writes the id 0. */
static void crash_child(const char *path, int wal, int fd)
{
    uint64_t r = (uint64_t)getpid() * UINT64_C(0x9E3779B97F4A7C15) | 1;
    sqlite3_stmt *ins, *upd, *meta;
    int64_t n, id, zero = 0;
    char uri[1400];
    sqlite3 *db = NULL;

    sq_uri(uri, sizeof uri, path, SMALL_CACHE);
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI,
                        "bufpool") != SQLITE_OK)
        child_die(db, "open", 2);
    child_exec(db, "PRAGMA cache_size=32", 3);
    if (wal)
        child_exec(db, "PRAGMA synchronous=NORMAL;"
                       "PRAGMA wal_autocheckpoint=16", 3);
    else
        child_exec(db, "PRAGMA synchronous=FULL", 3);
    if (sq_int_rc(db, "SELECT n FROM meta", &n) != SQLITE_OK ||
        sq_int_rc(db, "SELECT max(tx) FROM t", &id) != SQLITE_OK)
        child_die(db, "reading meta", 4);
    if (sqlite3_prepare_v2(db, "INSERT INTO t(tx, bal, pad) VALUES "
                           "(?1, 0, randomblob(?2))", -1, &ins, NULL) ||
        sqlite3_prepare_v2(db, "UPDATE t SET bal = bal + ?1, "
                           "pad = randomblob(?2) WHERE id = ?3", -1, &upd,
                           NULL) ||
        sqlite3_prepare_v2(db, "UPDATE meta SET n = n + 3, last = ?1", -1,
                           &meta, NULL))
        child_die(db, "prepare", 5);
    if (pipe_write(fd, &zero, sizeof zero))
        _exit(6);
    for (id++;; id++) {
        int64_t amount = 1 + (int64_t)util_rand_below(&r, 1000);

        child_exec(db, "BEGIN", 7);
        for (int i = 0; i < 3; i++) {
            int64_t pad = 50 + (int64_t)util_rand_below(&r, 250);

            sqlite3_bind_int64(ins, 1, id);
            sqlite3_bind_int64(ins, 2, pad);
            if (sqlite3_step(ins) != SQLITE_DONE)
                child_die(db, "insert", 8);
            sqlite3_reset(ins);
        }
        for (int i = 0; i < 2; i++) {
            int64_t pad = 50 + (int64_t)util_rand_below(&r, 400);
            int64_t row = 1 + (int64_t)util_rand_below(&r, (uint64_t)n);

            sqlite3_bind_int64(upd, 1, i ? -amount : amount);
            sqlite3_bind_int64(upd, 2, pad);
            sqlite3_bind_int64(upd, 3, row);
            if (sqlite3_step(upd) != SQLITE_DONE ||
                sqlite3_changes(db) != 1)
                child_die(db, "update", 9);
            sqlite3_reset(upd);
        }
        sqlite3_bind_int64(meta, 1, id);
        if (sqlite3_step(meta) != SQLITE_DONE)
            child_die(db, "meta", 10);
        sqlite3_reset(meta);
        child_exec(db, "COMMIT", 11);
        n += 3;
        if (pipe_write(fd, &id, sizeof id))
            _exit(12);
    }
}

/* Open path through the bufpool VFS right after the child that had it
 * open was killed and reaped.  That must work at once; a refusal (a pool
 * still holding the data file) is counted in *refused, and the open is
 * tried again for up to 10 s, so that the contents are checked anyway. */
static sqlite3 *crash_reopen(const char *path, unsigned *refused)
{
    sqlite3 *db;

    for (int i = 0;; i++) {
        int rc = sq_try_open(path, "bp_cache=8388608", 1, &db);

        if (rc == SQLITE_OK)
            return db;
        sqlite3_close(db);
        if (i == 0 && ++*refused <= 3)
            print_message("  reopen after the kill refused: %s: %s\n",
                          sqlite3_errstr(rc), bpvfs_last_error());
        if (i == 10000 || !strstr(bpvfs_last_error(), "another pool")) {
            print_error("reopen after the kill: %s: %s\n",
                        sqlite3_errstr(rc), bpvfs_last_error());
            fail();
        }
        usleep(1000);
    }
}

/* The database after a kill: intact, every reported id there with its 3
 * rows, no transaction in part. */
static void crash_verify(const char *path, const int64_t *ids, size_t nids,
                         unsigned *refused)
{
    sqlite3 *db = crash_reopen(path, refused);
    sqlite3_stmt *st;

    sq_integrity(db);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM t"),
                     sq_int(db, "SELECT n FROM meta"));
    assert_int_equal(sq_int(db, "SELECT sum(bal) FROM t"), 0);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM (SELECT tx FROM t "
                                "WHERE tx > 0 GROUP BY tx "
                                "HAVING count(*) <> 3)"), 0);
    assert_int_equal(sq_int(db, "SELECT last FROM meta"),
                     sq_int(db, "SELECT max(tx) FROM t"));
    st = sq_prep(db, "SELECT count(*) FROM t WHERE tx = ?");
    for (size_t i = 0; i < nids; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        if (sqlite3_column_int64(st, 0) != 3)
            print_error("transaction %lld reported committed: %lld rows\n",
                        (long long)ids[i],
                        (long long)sqlite3_column_int64(st, 0));
        assert_int_equal(sqlite3_column_int64(st, 0), 3);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sq_close(db);
}

struct crash_tally {
    unsigned kills, refused;
    uint64_t commits;
};

/* The ids a child reported: at most what a pipe holds (64 KiB by default:
 * the child blocks when it is full). */
static int64_t crash_ids[1 << 16];

static void crash_round(const char *path, int wal, uint64_t *rng,
                        struct crash_tally *t)
{
    int64_t mark = -1, *ids = crash_ids, id;
    size_t nids = 0;
    int fds[2], st, ready;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork_child();
    if (pid == 0) {
        close(fds[0]);
        crash_child(path, wal, fds[1]);
        _exit(1);
    }
    close(fds[1]);
    /* the kill comes 0-30 ms after the child's first acknowledged commit,
     * so that it lands amid transactions however fast the machine is */
    ready = pipe_read(fds[0], &mark, sizeof mark, 60000) ==
                (ssize_t)sizeof mark && mark == 0 &&
            pipe_read(fds[0], &id, sizeof id, 60000) == (ssize_t)sizeof id;
    if (ready) {
        ids[nids++] = id;
        usleep((useconds_t)util_rand_below(rng, 30001));
    }
    kill(pid, SIGKILL);
    st = child_wait(pid);
    while (pipe_read(fds[0], &id, sizeof id, 10000) == (ssize_t)sizeof id) {
        assert_true(nids < sizeof crash_ids / sizeof crash_ids[0]);
        assert_true(nids == 0 || id == ids[nids - 1] + 1);
        ids[nids++] = id;
    }
    close(fds[0]);
    if (!ready || st == -1 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
        print_error("crash child: ready %d, %s %d\n", ready,
                    st != -1 && WIFEXITED(st) ? "exit code" : "status",
                    st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : st);
        fail();
    }
    t->kills++;
    t->commits += nids;
    crash_verify(path, ids, nids, &t->refused);
}

static void crash_safety(int wal)
{
    const char *mode = wal ? "wal" : "journal";
    uint64_t rng = wal ? 0x77aa11 : 0x3355cc;
    struct crash_tally t = {0, 0, 0};
    char path[600], name[64];

#if defined(__SANITIZE_THREAD__)
    print_message("  skipped under TSan: no threads in a forked child\n");
    skip();
#endif
    snprintf(name, sizeof name, "crash_%s.db", mode);
    util_tmp_path(path, sizeof path, name);
    crash_setup(path, wal);
    for (int i = 0; i < CRASH_KILLS; i++)
        crash_round(path, wal, &rng, &t);
    print_message("  %s: %u kills, %" PRIu64 " commits acknowledged\n",
                  mode, t.kills, t.commits);
    assert_int_equal(t.kills, CRASH_KILLS);
    assert_true(t.commits >= CRASH_KILLS); /* kills did land in work */
    /* a database whose user was killed opens again at once, as with
     * SQLite's own VFS */
    if (t.refused)
        print_error("%s: the reopen right after the kill was refused %u "
                    "times of %u\n", mode, t.refused, t.kills);
    assert_int_equal(t.refused, 0);
    sq_remove(path);
}

static void test_crash_safety_journal(void **state)
{
    (void)state;
    crash_safety(0);
}

static void test_crash_safety_wal(void **state)
{
    (void)state;
    crash_safety(1);
}

/* ---- 3: I/O errors ------------------------------------------------------- */

/* The prestate of the fault cases: BUFPOOL_IO's value while they run. */
static char saved_io[64];
static int had_io;

static int engine_setup(void **state)
{
    const char *old = getenv("BUFPOOL_IO");

    had_io = old != NULL;
    snprintf(saved_io, sizeof saved_io, "%s", old ? old : "");
    setenv("BUFPOOL_IO", *state, 1);
    return 0;
}

static int engine_teardown(void **state)
{
    (void)state;
    bp__test_fault_disarm();
    if (had_io)
        setenv("BUFPOOL_IO", saved_io, 1);
    else
        unsetenv("BUFPOOL_IO");
    return 0;
}

static int faults_teardown(void **state)
{
    (void)state;
    bp__test_fault_disarm();
    return 0;
}

static void need_faults(void)
{
    if (!bp__test_faults_compiled()) {
        print_message("  skipped: fault injection is compiled out "
                      "(BP_FAULT_INJECTION=OFF)\n");
        skip();
    }
}

/* Open path through the bufpool VFS on the engine asked (BUFPOOL_IO); NULL
 * after printing why when that engine is not available here. */
static sqlite3 *engine_open(const char *path, const char *engine)
{
    const char *want = strcmp(engine, "uring") ? "sync" : "io_uring";
    sqlite3 *db;
    bp_stats s;
    int rc = sq_try_open(path, SMALL_CACHE, 1, &db);

    if (rc != SQLITE_OK && !strcmp(engine, "uring")) {
        print_message("  io_uring is not available here: %s\n",
                      bpvfs_last_error());
        sqlite3_close(db);
        return NULL;
    }
    if (rc != SQLITE_OK)
        print_error("open: %s\n", bpvfs_last_error());
    assert_int_equal(rc, SQLITE_OK);
    util_stats(sq_pool(db), &s);
    if (strcmp(s.io_engine, want) != 0)
        print_error("engine %s, asked %s\n", s.io_engine, want);
    assert_string_equal(s.io_engine, want);
    return db;
}

#define RERR_ROWS 6000
static const char *const rerr_queries[] = {
    "SELECT count(*), sum(b), sum(length(pad)) FROM t",
    "SELECT id, b FROM t WHERE b BETWEEN 200000 AND 400000 ORDER BY b, id",
};
#define RERR_NQ (sizeof rerr_queries / sizeof rerr_queries[0])

static void test_read_errors(void **state)
{
    const char *engine = *state;
    const unsigned kinds = BP__SYS_BIT(PREAD) | BP__SYS_BIT(URING_READ);
    const int errs[] = {EIO, BP__SYS_SHORT};
    uint64_t want[RERR_NQ];
    int64_t wrows[RERR_NQ];
    char path[600], name[64], sql[400];
    sqlite3 *db;

    need_faults();
    snprintf(name, sizeof name, "read_errors_%s.db", engine);
    util_tmp_path(path, sizeof path, name);
    if (!(db = engine_open(path, engine)))
        skip();
    sq_mode(db, 0, 16);
    snprintf(sql, sizeof sql,
             "CREATE TABLE t(id INTEGER PRIMARY KEY, b INT, pad BLOB);"
             "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM "
             "s WHERE i < %d) INSERT INTO t(b, pad) SELECT "
             "(i * 7919) %% 1000000, randomblob(500) FROM s;"
             "CREATE INDEX t_b ON t(b)", RERR_ROWS);
    sq_exec(db, sql);
    for (size_t q = 0; q < RERR_NQ; q++)
        want[q] = sq_hash(db, rerr_queries[q], &wrows[q]);
    sq_close(db);
    for (size_t e = 0; e < 2; e++) {
        for (size_t q = 0; q < RERR_NQ; q++) {
            uint64_t h = 0, hits, calls;
            int64_t rows = 0;
            bp_stats s;
            int rc;

            /* a new pool: the table is not in its cache (nor could it
             * be: 256 frames), only what the schema needs */
            db = engine_open(path, engine);
            assert_non_null(db);
            sq_exec(db, "PRAGMA cache_size=16");
            assert_int_equal(sq_int(db, "SELECT count(*) FROM sqlite_master"),
                             2);
            util_stats(sq_pool(db), &s);
            assert_true(s.frames * 2 < s.data_pages);
            assert_int_equal(bp__test_fault_arm(kinds, 1, errs[e], 1), 0);
            rc = sq_hash_rc(db, rerr_queries[q], &h, &rows);
            hits = bp__test_fault_hits();
            calls = bp__test_fault_calls();
            bp__test_fault_disarm();
            print_message("  %s, %s, query %zu: %s (%d), %" PRIu64
                          " reads faulted of %" PRIu64 "%s%s\n", engine,
                          errs[e] == EIO ? "EIO" : "short", q,
                          sqlite3_errstr(rc), rc, hits, calls,
                          rc ? ": " : "", rc ? bpvfs_last_error() : "");
            assert_true(hits > 0);
            if (errs[e] == EIO || rc != SQLITE_OK) {
                assert_true(is_ioerr(rc));
                assert_non_null(strstr(bpvfs_last_error(), "read of page"));
            } else { /* a short read completed: the right answer */
                assert_int_equal(rows, wrows[q]);
                assert_true(h == want[q]);
            }
            util_check(sq_pool(db));
            /* disarmed: the same query, right */
            h = sq_hash(db, rerr_queries[q], &rows);
            assert_int_equal(rows, wrows[q]);
            assert_true(h == want[q]);
            sq_integrity(db);
            sq_close(db);
        }
    }
    sq_remove(path);
}

/* Transactions 1..k each add their id to log and 1 to every v: v is the
 * number of transactions in log, everywhere. */
static void log_tx(sqlite3 *db, int k, int commit)
{
    char sql[160];

    snprintf(sql, sizeof sql, "BEGIN; INSERT INTO log VALUES (%d);"
                              "UPDATE t SET v = v + 1;%s", k,
             commit ? "COMMIT" : "");
    sq_exec(db, sql);
}

static void log_setup(sqlite3 *db)
{
    sq_exec(db, "CREATE TABLE log(tx INTEGER PRIMARY KEY);"
                "CREATE TABLE t(id INTEGER PRIMARY KEY, v INT, pad BLOB);"
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                "FROM s WHERE i < 3000) INSERT INTO t(v, pad) SELECT 0, "
                "randomblob(150) FROM s");
}

/* Reopened: intact, transactions 1..done (and also, when not 0) all
 * there, v agrees with log; returns the number of transactions. */
static int64_t log_verify(const char *path, int done, int also)
{
    sqlite3 *db = sq_open(path, SMALL_CACHE, 1);
    int64_t n;

    sq_integrity(db);
    n = sq_int(db, "SELECT count(*) FROM log");
    for (int k = 1; k <= done + (also != 0); k++) {
        char sql[80];

        snprintf(sql, sizeof sql, "SELECT count(*) FROM log WHERE tx = %d",
                 k > done ? also : k);
        assert_int_equal(sq_int(db, sql), 1);
    }
    assert_int_equal(sq_int(db, "SELECT count(*) FROM t WHERE v <> "
                                "(SELECT count(*) FROM log)"), 0);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM t"), 3000);
    sq_close(db);
    return n;
}

static void test_commit_errors(void **state)
{
    const char *engine = *state;
    static const struct {
        const char *what;
        unsigned kinds;
        uint64_t nth;
        int persistent;
    } faults[] = {
        {"fdatasync", BP__SYS_DATA_SYNC, 1, 0},
        {"page writes", BP__SYS_DATA_WRITE, 3, 1},
    };
    char path[600], name[64];

    need_faults();
    for (size_t f = 0; f < 2; f++) {
        uint64_t hits;
        int64_t n;
        sqlite3 *db;
        int rc;

        snprintf(name, sizeof name, "commit_errors_%s_%zu.db", engine, f);
        util_tmp_path(path, sizeof path, name);
        if (!(db = engine_open(path, engine)))
            skip();
        sq_mode(db, 0, 1000);
        log_setup(db);
        for (int k = 1; k <= 3; k++)
            log_tx(db, k, 1);
        log_tx(db, 4, 0);
        assert_int_equal(bp__test_fault_arm(faults[f].kinds, faults[f].nth,
                                            EIO, faults[f].persistent), 0);
        rc = sq_run(db, "COMMIT", 1);
        hits = bp__test_fault_hits();
        bp__test_fault_disarm();
        print_message("  %s, failed %s: COMMIT %s (%d): %s\n", engine,
                      faults[f].what, sqlite3_errstr(rc), rc,
                      bpvfs_last_error());
        assert_true(hits > 0);
        assert_true(is_ioerr(rc));
        if (!sqlite3_get_autocommit(db))
            (void)sq_run(db, "ROLLBACK", 1);
        if (faults[f].persistent) {
            /* a failed write is not sticky: the connection goes on */
            log_tx(db, 5, 1);
        }
        sq_close(db);
        n = log_verify(path, 3, faults[f].persistent ? 5 : 0);
        print_message("  reopened: %lld transactions\n", (long long)n);
        if (faults[f].persistent)
            assert_true(n == 4 || n == 5);
        else
            assert_true(n == 3 || n == 4);
        sq_remove(path);
    }
}

static void test_checkpoint_errors(void **state)
{
    char path[600];
    uint64_t hits;
    sqlite3 *db;
    int rc;

    (void)state;
    need_faults();
    util_tmp_path(path, sizeof path, "checkpoint_errors.db");
    db = sq_open(path, SMALL_CACHE, 1);
    sq_mode(db, 1, 1000);
    sq_exec(db, "PRAGMA wal_autocheckpoint=0");
    log_setup(db);
    for (int k = 1; k <= 3; k++)
        log_tx(db, k, 1);
    assert_int_equal(bp__test_fault_arm(BP__SYS_DATA_SYNC, 1, EIO, 0), 0);
    rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_FULL, NULL,
                                   NULL);
    hits = bp__test_fault_hits();
    bp__test_fault_disarm();
    print_message("  checkpoint with a failed fdatasync: %s (%d): %s\n",
                  sqlite3_errstr(rc), rc, bpvfs_last_error());
    assert_true(hits > 0);
    assert_true(is_ioerr(rc));
    log_tx(db, 4, 1); /* into the WAL */
    sq_close(db);
    assert_int_equal(log_verify(path, 4, 0), 4);
    sq_remove(path);
}

/* ---- 4: two processes, one shared cache ---------------------------------- */

enum { TP_READY = 1, TP_TURN, TP_DONE, TP_QUIT, TP_BYE, TP_ERR };

struct tp_msg {
    int64_t op;
    int64_t rows, sum;
    uint64_t hash;
};

#define TP_ROUNDS 4

/* One process's turn: 300 rows of its own, the other's rows changed. */
static int tp_write(sqlite3 *db, char who, int round)
{
    char sql[400];

    snprintf(sql, sizeof sql,
             "BEGIN;"
             "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM "
             "s WHERE i < 300) INSERT INTO t(who, v, pad) SELECT '%c', "
             "%d * 1000 + i, randomblob(100 + i) FROM s;"
             "UPDATE t SET v = v + 1 WHERE who <> '%c' AND id %% 3 = %d;"
             "COMMIT", who, round, who, round % 3);
    return sq_run(db, sql, 0);
}

static int tp_state(sqlite3 *db, struct tp_msg *m)
{
    int rc = sq_int_rc(db, "SELECT count(*) FROM t", &m->rows);

    if (rc == SQLITE_OK)
        rc = sq_int_rc(db, "SELECT total(v) FROM t", &m->sum);
    if (rc == SQLITE_OK) {
        int64_t rows;

        rc = sq_hash_rc(db, "SELECT id, who, v, pad FROM t ORDER BY id",
                        &m->hash, &rows);
        if (rc == SQLITE_OK && rows != m->rows)
            rc = SQLITE_ERROR;
    }
    return rc;
}

static void tp_child(const char *path, const char *params, int in, int out)
{
    struct tp_msg m = {TP_READY, 0, 0, 0}, mine;
    char uri[1400];
    sqlite3 *db = NULL;
    int64_t v;

    sq_uri(uri, sizeof uri, path, params);
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                        | SQLITE_OPEN_URI, "bufpool") != SQLITE_OK)
        child_die(db, "open", 2);
    sqlite3_busy_timeout(db, 10000);
    if (sq_int_rc(db, "SELECT count(*) FROM sqlite_master", &v) != SQLITE_OK)
        child_die(db, "first read", 3);
    if (pipe_write(out, &m, sizeof m))
        _exit(4);
    for (int round = 0;; round++) {
        if (pipe_read(in, &m, sizeof m, 60000) != (ssize_t)sizeof m)
            child_die(NULL, "no word from the parent", 5);
        if (m.op == TP_QUIT)
            break;
        if (m.op != TP_TURN)
            _exit(6);
        /* what the other process committed, seen from here */
        if (tp_state(db, &mine) != SQLITE_OK)
            child_die(db, "reading the parent's rows", 7);
        if (mine.rows != m.rows || mine.sum != m.sum || mine.hash != m.hash) {
            fprintf(stderr, "child: round %d: %lld rows, sum %lld; the "
                    "parent has %lld rows, sum %lld\n", round,
                    (long long)mine.rows, (long long)mine.sum,
                    (long long)m.rows, (long long)m.sum);
            m.op = TP_ERR;
            (void)pipe_write(out, &m, sizeof m);
            _exit(8);
        }
        if (tp_write(db, 'B', round) != SQLITE_OK ||
            tp_state(db, &m) != SQLITE_OK)
            child_die(db, "writing", 9);
        m.op = TP_DONE;
        if (pipe_write(out, &m, sizeof m))
            _exit(10);
    }
    {
        char ok[16] = "";
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
                               NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            snprintf(ok, sizeof ok, "%s", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (strcmp(ok, "ok") != 0)
            child_die(db, "integrity_check", 11);
    }
    if (sqlite3_close(db) != SQLITE_OK)
        child_die(NULL, "close", 12);
    m.op = TP_BYE;
    (void)pipe_write(out, &m, sizeof m);
    _exit(0);
}

static void tp_expect(int fd, int64_t op, struct tp_msg *m)
{
    ssize_t n = pipe_read(fd, m, sizeof *m, 60000);

    if (n != (ssize_t)sizeof *m || m->op != op)
        print_error("from the child: %zd bytes, op %lld, expected %lld\n", n,
                    n == (ssize_t)sizeof *m ? (long long)m->op : -1LL,
                    (long long)op);
    assert_int_equal(n, sizeof *m);
    assert_int_equal(m->op, op);
}

static void two_processes(int wal)
{
    const char *mode = wal ? "wal" : "journal";
    char path[600], name[64], shm[64], shm_path[128], params[200];
    struct tp_msg m, mine;
    int a2b[2], b2a[2], st;
    struct stat sb;
    sqlite3 *db;
    pid_t pid;

#if defined(__SANITIZE_THREAD__)
    print_message("  skipped under TSan: no threads in a forked child\n");
    skip();
#endif
    snprintf(name, sizeof name, "two_%s.db", mode);
    util_tmp_path(path, sizeof path, name);
    util_shm_name(shm, sizeof shm);
    util_shm_path(shm_path, sizeof shm_path, shm);
    snprintf(params, sizeof params, SMALL_CACHE "&bp_shm=%s", shm);
    assert_int_equal(pipe(a2b), 0);
    assert_int_equal(pipe(b2a), 0);
    pid = fork_child();
    if (pid == 0) {
        close(a2b[1]);
        close(b2a[0]);
        tp_child(path, params, a2b[0], b2a[1]);
        _exit(1);
    }
    close(a2b[0]);
    close(b2a[1]);
    tp_expect(b2a[0], TP_READY, &m); /* the child has it open */
    assert_int_equal(stat(shm_path, &sb), 0);
    db = sq_open(path, params, 1);
    sq_mode(db, wal, 50);
    sq_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, v INT, "
                "pad BLOB)");
    for (int round = 0; round < TP_ROUNDS; round++) {
        assert_int_equal(tp_write(db, 'A', round), SQLITE_OK);
        assert_int_equal(tp_state(db, &m), SQLITE_OK);
        m.op = TP_TURN;
        assert_int_equal(pipe_write(a2b[1], &m, sizeof m), 0);
        tp_expect(b2a[0], TP_DONE, &m);
        /* what the child committed, seen from here */
        assert_int_equal(tp_state(db, &mine), SQLITE_OK);
        assert_int_equal(mine.rows, m.rows);
        assert_int_equal(mine.sum, m.sum);
        assert_true(mine.hash == m.hash);
        assert_int_equal(mine.rows, 600 * (round + 1));
    }
    m.op = TP_QUIT;
    assert_int_equal(pipe_write(a2b[1], &m, sizeof m), 0);
    tp_expect(b2a[0], TP_BYE, &m);
    st = child_wait(pid);
    close(a2b[1]);
    close(b2a[0]);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sq_integrity(db);
    util_check(sq_pool(db));
    sq_close(db);
    assert_int_equal(stat(shm_path, &sb), -1); /* the last one removed it */
    /* and the file itself, read by SQLite's own VFS */
    db = sq_open(path, "", 0);
    sq_integrity(db);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM t"), 600 * TP_ROUNDS);
    assert_true(sq_hash(db, "SELECT id, who, v, pad FROM t ORDER BY id",
                        &m.rows) == mine.hash);
    sq_close(db);
    print_message("  %s: %d rounds each way\n", mode, TP_ROUNDS);
    sq_remove(path);
}

static void test_two_processes_journal(void **state)
{
    (void)state;
    two_processes(0);
}

static void test_two_processes_wal(void **state)
{
    (void)state;
    two_processes(1);
}

/* ---- 5: page sizes the pool cannot serve --------------------------------- */

/* A database of page size psz made by SQLite's own VFS. */
static void make_plain_db(const char *path, int psz)
{
    sqlite3 *db = sq_open(path, "", 0);
    char sql[200];

    snprintf(sql, sizeof sql, "PRAGMA page_size=%d; CREATE TABLE t(x);"
                              "INSERT INTO t VALUES (1), (2), (3)", psz);
    sq_exec(db, sql);
    assert_int_equal(sq_int(db, "PRAGMA page_size"), psz);
    sq_close(db);
}

/* rc of opening path through the bufpool VFS with params and running a
 * first query; the message of bpvfs_last_error() copied to err. */
static int open_and_query(const char *path, const char *params, char *err,
                          size_t len)
{
    sqlite3 *db;
    int64_t v;
    int rc = sq_try_open(path, params, 1, &db);

    if (rc == SQLITE_OK)
        rc = sq_int_rc(db, "SELECT count(*) FROM t", &v);
    snprintf(err, len, "%s", bpvfs_last_error());
    print_message("  %s: %s (%d): %s\n", *params ? params : "no parameters",
                  sqlite3_errstr(rc), rc, err);
    sqlite3_close(db);
    return rc;
}

static void test_page_size_errors(void **state)
{
    char p8[600], p1[600], pn[600], pb[600], err[600];
    sqlite3 *db;
    bp_stats s;
    int rc;

    (void)state;
    /* 8192 on disk, 4096 asked */
    util_tmp_path(p8, sizeof p8, "psz8192.db");
    make_plain_db(p8, 8192);
    rc = open_and_query(p8, "bp_page_size=4096", err, sizeof err);
    assert_int_equal(rc & 0xff, SQLITE_CANTOPEN);
    assert_non_null(strstr(err, "8192"));
    assert_non_null(strstr(err, "4096"));
    /* not asked: the database's own size */
    db = sq_open(p8, "", 1);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM t"), 3);
    util_stats(sq_pool(db), &s);
    assert_int_equal(s.page_size, 8192);
    sq_integrity(db);
    sq_close(db);

    /* 1024: below what libbufpool takes */
    util_tmp_path(p1, sizeof p1, "psz1024.db");
    make_plain_db(p1, 1024);
    rc = open_and_query(p1, "", err, sizeof err);
    assert_int_equal(rc & 0xff, SQLITE_CANTOPEN);
    assert_non_null(strstr(err, "1024"));

    /* a new database asking for 8192 on a pool of 4096 */
    util_tmp_path(pn, sizeof pn, "psz_new.db");
    db = sq_open(pn, "", 1);
    sq_exec(db, "PRAGMA journal_mode=DELETE");
    rc = sq_run(db, "PRAGMA page_size=8192; CREATE TABLE t(x)", 1);
    snprintf(err, sizeof err, "%s", bpvfs_last_error());
    print_message("  new database, page_size=8192 on a pool of 4096: %s "
                  "(%d): %s\n", sqlite3_errstr(rc), rc, err);
    assert_true(is_ioerr(rc));
    assert_non_null(strstr(err, "8192"));
    assert_non_null(strstr(err, "4096"));
    sq_close(db);
    /* with bp_page_size=8192 it works */
    db = sq_open(pn, "bp_page_size=8192", 1);
    sq_exec(db, "PRAGMA page_size=8192; CREATE TABLE t(x);"
                "INSERT INTO t VALUES (1)");
    assert_int_equal(sq_int(db, "PRAGMA page_size"), 8192);
    sq_integrity(db);
    sq_close(db);

    /* a bp_io that does not exist */
    util_tmp_path(pb, sizeof pb, "bad_io.db");
    rc = open_and_query(pb, "bp_io=fast", err, sizeof err);
    assert_int_equal(rc & 0xff, SQLITE_CANTOPEN);
    assert_non_null(strstr(err, "bp_io"));
    sq_remove(p8);
    sq_remove(p1);
    sq_remove(pn);
    sq_remove(pb);
}

/* bp_page_size (or bpvfs_config.page_size) is the page size of a new
 * database: SQLite takes it without being told PRAGMA page_size. */
static void test_new_database_takes_bp_page_size(void **state)
{
    static const struct {
        const char *vfs, *params;
        int64_t psz;
    } cases[] = {
        {"bufpool", "bp_page_size=8192", 8192},
        {"bufpool", "bp_page_size=65536", 65536},
        {"bufpool_16k", "", 16384}, /* bpvfs_config.page_size */
    };
    bpvfs_config cfg;
    char path[600], uri[1400];
    unsigned refused = 0;

    (void)state;
    memset(&cfg, 0, sizeof cfg);
    cfg.page_size = 16384;
    assert_int_equal(bpvfs_register("bufpool_16k", &cfg, 0), SQLITE_OK);
    util_tmp_path(path, sizeof path, "new_psz.db");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sqlite3 *db = NULL;
        bp_stats s;
        int rc;

        sq_remove(path);
        sq_uri(uri, sizeof uri, path, cases[i].params);
        assert_int_equal(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE |
                                         SQLITE_OPEN_CREATE |
                                         SQLITE_OPEN_URI, cases[i].vfs),
                         SQLITE_OK);
        sqlite3_extended_result_codes(db, 1);
        util_stats(sq_pool(db), &s);
        assert_int_equal(s.page_size, cases[i].psz);
        rc = sq_run(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB);"
                        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT "
                        "i + 1 FROM s WHERE i < 500) INSERT INTO t(pad) "
                        "SELECT randomblob(300) FROM s", 1);
        print_message("  %s %s, no PRAGMA page_size: %s (%d)%s%s\n",
                      cases[i].vfs, cases[i].params, sqlite3_errstr(rc), rc,
                      rc ? ": " : "", rc ? bpvfs_last_error() : "");
        if (rc != SQLITE_OK) { /* the others are still tried */
            refused++;
            sq_close(db);
            continue;
        }
        assert_int_equal(sq_int(db, "PRAGMA page_size"), cases[i].psz);
        sq_integrity(db);
        sq_close(db);
        /* it stays so, opened without the parameter, by either VFS */
        for (int v = 0; v < 2; v++) {
            db = sq_open(path, "", v);
            assert_int_equal(sq_int(db, "PRAGMA page_size"), cases[i].psz);
            assert_int_equal(sq_int(db, "SELECT count(*) FROM t"), 500);
            sq_integrity(db);
            sq_close(db);
        }
    }
    sq_remove(path);
    assert_int_equal(refused, 0);
}

/* ---- a read-only and a read-write connection in one process ------------- */

enum { RO_OPEN_RO = 1, RO_OPEN_RW, RO_WRITE, RO_READ_RW, RO_READ_RO,
       RO_CLOSED };

struct ro_msg {
    int64_t step, rc, value;
};

static void ro_say(int fd, int64_t step, int64_t rc, int64_t value)
{
    struct ro_msg m = {step, rc, value};

    if (pipe_write(fd, &m, sizeof m))
        _exit(3);
}

/* The child: each step's outcome goes to fd as soon as it is known, so a
 * step that never returns shows as the one missing. */
static void ro_child(const char *path, int fd)
{
    sqlite3 *ro = NULL, *rw = NULL;
    char uri[1400];
    int64_t v = 0;
    int rc;

    sq_uri(uri, sizeof uri, path, "");
    rc = sqlite3_open_v2(uri, &ro, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                         "bufpool");
    if (rc == SQLITE_OK)
        rc = sq_int_rc(ro, "SELECT count(*) FROM t", &v);
    ro_say(fd, RO_OPEN_RO, rc, v);
    if (rc != SQLITE_OK)
        _exit(4);
    rc = sqlite3_open_v2(uri, &rw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI,
                         "bufpool");
    if (rw)
        sqlite3_extended_result_codes(rw, 1);
    ro_say(fd, RO_OPEN_RW, rc, 0);
    if (rc == SQLITE_OK) {
        rc = sq_run(rw, "INSERT INTO t VALUES (2)", 1);
        ro_say(fd, RO_WRITE, rc, 0);
        rc = sq_int_rc(rw, "SELECT count(*) FROM t", &v);
        ro_say(fd, RO_READ_RW, rc, v);
        rc = sq_int_rc(ro, "SELECT count(*) FROM t", &v);
        ro_say(fd, RO_READ_RO, rc, v);
    }
    sqlite3_close(rw);
    sqlite3_close(ro);
    ro_say(fd, RO_CLOSED, 0, 0);
    _exit(0);
}

static void test_read_only_then_read_write(void **state)
{
    static const char *const steps[] = {
        "", "read-only open and read", "read-write open", "INSERT",
        "read through the read-write connection",
        "read through the read-only connection", "close"};
    struct ro_msg m[RO_CLOSED + 1];
    int fds[2], st, written = 0;
    char path[600];
    sqlite3 *db;
    pid_t pid;

    (void)state;
#if defined(__SANITIZE_THREAD__)
    print_message("  skipped under TSan: no threads in a forked child\n");
    skip();
#endif
    util_tmp_path(path, sizeof path, "ro_rw.db");
    db = sq_open(path, "", 1);
    sq_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)");
    sq_close(db);
    memset(m, 0, sizeof m);
    assert_int_equal(pipe(fds), 0);
    pid = fork_child();
    if (pid == 0) {
        close(fds[0]);
        ro_child(path, fds[1]);
        _exit(1);
    }
    close(fds[1]);
    for (int64_t want = RO_OPEN_RO; want <= RO_CLOSED; want++) {
        struct ro_msg r;

        if (want == RO_WRITE && m[RO_OPEN_RW].rc != SQLITE_OK)
            want = RO_CLOSED;
        if (pipe_read(fds[0], &r, sizeof r, 5000) != (ssize_t)sizeof r) {
            print_error("the child did not finish the step \"%s\" in 5 s"
                        "\n", steps[want]);
            kill(pid, SIGKILL);
            child_wait(pid);
            close(fds[0]);
            fail();
        }
        assert_int_equal(r.step, want);
        m[want] = r;
        print_message("  %s: %s (%lld), %lld rows\n", steps[want],
                      sqlite3_errstr((int)r.rc), (long long)r.rc,
                      (long long)r.value);
    }
    close(fds[0]);
    st = child_wait(pid);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(m[RO_OPEN_RO].rc, SQLITE_OK);
    assert_int_equal(m[RO_OPEN_RO].value, 1);
    if (m[RO_OPEN_RW].rc == SQLITE_OK) {
        written = m[RO_WRITE].rc == SQLITE_OK;
        /* refused with an error code, or done and seen by both */
        if (written) {
            assert_int_equal(m[RO_READ_RW].rc, SQLITE_OK);
            assert_int_equal(m[RO_READ_RW].value, 2);
            assert_int_equal(m[RO_READ_RO].rc, SQLITE_OK);
            assert_int_equal(m[RO_READ_RO].value, 2);
        }
    }
    /* what the file holds: the row if the INSERT said it was done */
    db = sq_open(path, "", 0);
    sq_integrity(db);
    if (sq_int(db, "SELECT count(*) FROM t") != 1 + written)
        print_error("the INSERT %s, the file holds %lld rows\n",
                    written ? "was reported done" : "failed",
                    (long long)sq_int(db, "SELECT count(*) FROM t"));
    assert_int_equal(sq_int(db, "SELECT count(*) FROM t"), 1 + written);
    sq_close(db);
    sq_remove(path);
}

/* ---- 6: xTruncate and xFileSize ------------------------------------------ */

static void test_vacuum_truncates(void **state)
{
    const char *kept = "SELECT id, b, pad FROM t ORDER BY id";
    int64_t size0, size1, rows0, rows1;
    uint64_t h0, h1;
    char path[600];
    struct stat sb;
    sqlite3 *db;

    (void)state;
    util_tmp_path(path, sizeof path, "vacuum.db");
    db = sq_open(path, SMALL_CACHE, 1);
    sq_mode(db, 0, 100);
    sq_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b INT, pad BLOB);"
                "CREATE INDEX t_b ON t(b);"
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                "FROM s WHERE i < 20000) INSERT INTO t(b, pad) SELECT "
                "(i * 104729) % 1000003, randomblob(200) FROM s");
    size0 = sq_check_size(db, path);
    sq_exec(db, "DELETE FROM t WHERE id % 10 <> 0");
    h0 = sq_hash(db, kept, &rows0);
    assert_int_equal(rows0, 2000);
    assert_int_equal(sq_check_size(db, path), size0); /* freelist pages */
    sq_exec(db, "VACUUM");
    size1 = sq_check_size(db, path);
    print_message("  %lld bytes, %lld after deleting 90%% and VACUUM\n",
                  (long long)size0, (long long)size1);
    assert_true(size1 * 4 < size0);
    h1 = sq_hash(db, kept, &rows1);
    assert_int_equal(rows1, rows0);
    assert_true(h1 == h0);
    sq_integrity(db);
    util_check(sq_pool(db));
    sq_close(db);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, size1);
    db = sq_open(path, SMALL_CACHE, 1);
    assert_int_equal(sq_check_size(db, path), size1);
    assert_true(sq_hash(db, kept, &rows1) == h0);
    sq_integrity(db);
    sq_close(db);
    sq_remove(path);
}

static unsigned char *file_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    struct stat sb;

    assert_non_null(f);
    assert_int_equal(fstat(fileno(f), &sb), 0);
    *len = (size_t)sb.st_size;
    b = malloc(*len ? *len : 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void test_rolled_back_growth(void **state)
{
    const char *all = "SELECT id, b, pad FROM t ORDER BY id";
    int64_t size0, rows0, rows1, pc0;
    unsigned char *before, *after;
    size_t len0, len1;
    sqlite3_file *fp = NULL;
    sqlite3_int64 xsize = 0;
    uint64_t h0;
    char path[600];
    sqlite3 *db;

    (void)state;
    util_tmp_path(path, sizeof path, "growth.db");
    db = sq_open(path, SMALL_CACHE, 1);
    sq_mode(db, 0, 100);
    sq_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b INT, pad BLOB);"
                "CREATE INDEX t_b ON t(b);"
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                "FROM s WHERE i < 2000) INSERT INTO t(b, pad) SELECT "
                "(i * 7919) % 100003, randomblob(300) FROM s");
    size0 = sq_check_size(db, path);
    pc0 = sq_int(db, "PRAGMA page_count");
    h0 = sq_hash(db, all, &rows0);
    before = file_bytes(path, &len0);
    assert_int_equal((int64_t)len0, size0);

    /* a small cache: the new pages spill to the file mid-transaction */
    sq_exec(db, "PRAGMA cache_size=10");
    sq_exec(db, "BEGIN;"
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                "FROM s WHERE i < 4000) INSERT INTO t(b, pad) SELECT "
                "i * 13, randomblob(800) FROM s;"
                "UPDATE t SET b = b + 1 WHERE id <= 2000");
    assert_int_equal(sqlite3_file_control(db, "main",
                                          SQLITE_FCNTL_FILE_POINTER, &fp),
                     SQLITE_OK);
    assert_int_equal(fp->pMethods->xFileSize(fp, &xsize), SQLITE_OK);
    print_message("  %lld bytes before, %lld with the spilled pages\n",
                  (long long)size0, (long long)xsize);
    assert_true(xsize > size0 + 500 * 4096);
    assert_true(sq_int(db, "PRAGMA page_count") > pc0 + 500);
    sq_exec(db, "ROLLBACK");
    assert_int_equal(sq_check_size(db, path), size0);
    assert_int_equal(sq_int(db, "PRAGMA page_count"), pc0);
    assert_true(sq_hash(db, all, &rows1) == h0);
    assert_int_equal(rows1, rows0);
    sq_integrity(db);
    util_check(sq_pool(db));
    sq_close(db);
    after = file_bytes(path, &len1);
    assert_int_equal(len1, len0);
    assert_memory_equal(after, before, len0);
    free(before);
    free(after);
    sq_remove(path);
}

/* ---- 7: pages read in place (xFetch) ------------------------------------- */

static void test_pages_read_in_place(void **state)
{
    static const char *const qs[] = {
        "SELECT id, b, pad FROM t ORDER BY id",
        "SELECT b % 97, count(*), sum(b) FROM t WHERE b < 500000 "
        "GROUP BY 1 ORDER BY 1",
    };
    uint64_t h[2][2];
    int64_t rows[2][2], misses[2], mmap_size[2];
    char path[600];
    sqlite3 *db;

    (void)state;
    util_tmp_path(path, sizeof path, "fetch.db");
    db = sq_open(path, "", 1);
    sq_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b INT, pad BLOB);"
                "CREATE INDEX t_b ON t(b);"
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                "FROM s WHERE i < 10000) INSERT INTO t(b, pad) SELECT "
                "(i * 7919) % 1000003, randomblob(300) FROM s");
    sq_close(db);
    /* the default VFS's connections have no pool */
    db = sq_open(path, "", 0);
    assert_null(bpvfs_pool(db, NULL));
    sq_close(db);
    for (int f = 0; f < 2; f++) { /* f = 1: bp_fetch on (the default) */
        bp_stats s0, s1;
        int cur = 0, hi = 0;

        db = sq_open(path, f ? "bp_cache=8388608"
                             : "bp_cache=8388608&bp_fetch=0", 1);
        mmap_size[f] = sq_int(db, "PRAGMA mmap_size");
        sq_exec(db, "PRAGMA cache_size=10");
        util_stats(sq_pool(db), &s0);
        for (int q = 0; q < 2; q++)
            h[f][q] = sq_hash(db, qs[q], &rows[f][q]);
        util_stats(sq_pool(db), &s1);
        assert_int_equal(sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS,
                                           &cur, &hi, 0), SQLITE_OK);
        misses[f] = cur;
        print_message("  bp_fetch=%d: mmap_size %lld, %" PRIu64 " fixes, "
                      "%lld pager misses\n", f, (long long)mmap_size[f],
                      s1.fixes - s0.fixes, (long long)misses[f]);
        assert_true(s1.fixes - s0.fixes > s1.data_pages / 2);
        sq_integrity(db);
        sq_close(db);
    }
    assert_int_equal(mmap_size[0], 0);
    if (sqlite3_compileoption_used("MAX_MMAP_SIZE=0")) {
        print_message("  SQLite is built without memory-mapped I/O "
                      "(SQLITE_MAX_MMAP_SIZE=0): no in-place reads\n");
    } else {
        assert_true(mmap_size[1] > 0);
        /* pages mapped in place are not read into SQLite's cache */
        assert_true(misses[1] * 2 < misses[0]);
    }
    for (int q = 0; q < 2; q++) {
        assert_true(rows[0][q] > 0);
        assert_int_equal(rows[1][q], rows[0][q]);
        assert_true(h[1][q] == h[0][q]);
    }
    sq_remove(path);
}

/* ---- read-ahead in page order --------------------------------------------- */

/* nq queries from seed on db (scans: 50 rows from a key, else one row by
 * key), hashed together; the pool's prefetch reads they started go to
 * *started (NULL: db has no pool). */
static uint64_t ra_queries(sqlite3 *db, int scans, int nq, uint64_t seed,
                           uint64_t *started)
{
    uint64_t h = 0, hq, r = seed;
    bp_stats s0, s1;
    int64_t rows, all = 0;
    char sql[128];

    if (started)
        util_stats(sq_pool(db), &s0);
    for (int i = 0; i < nq; i++) {
        r = r * UINT64_C(6364136223846793005) + 1442695040888963407u;
        snprintf(sql, sizeof sql, scans
                 ? "SELECT k, v FROM t WHERE k >= %d ORDER BY k LIMIT 50"
                 : "SELECT k, v FROM t WHERE k = %d",
                 (int)((r >> 33) % 20000));
        hq = sq_hash(db, sql, &rows);
        h = fnv(h, &hq, sizeof hq);
        all += rows;
    }
    assert_true(all >= (scans ? 50 : 1) * (int64_t)nq * 9 / 10);
    if (started) {
        util_stats(sq_pool(db), &s1);
        *started = s1.prefetch_started - s0.prefetch_started;
    }
    return h;
}

static void test_readahead_in_page_order(void **state)
{
    uint64_t want, got, started;
    char path[600];
    sqlite3 *db;

    (void)state;
    util_tmp_path(path, sizeof path, "ra.db");
    /* 20,000 rows of 150 bytes in key order: about 800 leaves in a row */
    db = sq_open(path, "", 0);
    sq_exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB);"
                "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 "
                "FROM s WHERE i < 19999) INSERT INTO t SELECT i, "
                "randomblob(150) FROM s");
    want = ra_queries(db, 1, 300, 7, NULL);
    sq_close(db);

    db = sq_open(path, SMALL_CACHE "&bp_readahead=2", 1);
    (void)ra_queries(db, 0, 300, 11, &started);
    print_message("  point selects: %" PRIu64 " pages read ahead\n",
                  started);
    assert_int_equal(started, 0);
    got = ra_queries(db, 1, 300, 7, &started);
    print_message("  range scans: %" PRIu64 " pages read ahead\n", started);
    assert_true(got == want);
    assert_true(started >= 300);
    sq_integrity(db);
    sq_close(db);

    db = sq_open(path, SMALL_CACHE "&bp_readahead=0", 1);
    got = ra_queries(db, 1, 300, 7, &started);
    assert_true(got == want);
    assert_int_equal(started, 0);
    sq_close(db);
    sq_remove(path);
}

/* ---- SQLite's page cache in pool frames (bppcache.c) ---------------------- */

static void test_page_cache_in_pool_frames(void **state)
{
    uint64_t h[2][WL_NQ], from_pool, from_malloc;
    int64_t rows[2][WL_NQ];
    char path[600];
    bp_stats s;

    (void)state;
    util_tmp_path(path, sizeof path, "pcache.db");
    for (int v = 0; v < 2; v++) {
        sqlite3 *db;

        if (v) { /* SQLite restarted with the page cache in pool frames */
            assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
            assert_int_equal(bppcache_install(&(bppcache_config){
                                 .cache_bytes = 4u << 20,
                                 .dir = util_tmpdir()}),
                             SQLITE_OK);
            assert_int_equal(sqlite3_initialize(), SQLITE_OK);
            assert_non_null(bppcache_pool());
        }
        db = sq_open(path, "", 0);
        sq_mode(db, 1, WL_SQLITE_CACHE);
        wl_run(db);
        wl_hashes(db, h[v], rows[v]);
        sq_integrity(db);
        if (v) {
            util_stats(bppcache_pool(), &s);
            bppcache_counts(&from_pool, &from_malloc);
            print_message("  %" PRIu64 " buffers from the pool (%" PRIu64
                          " frames), %" PRIu64 " from malloc, %lld pages "
                          "in the file, %" PRIu64 " pool reads\n",
                          from_pool, s.frames, from_malloc,
                          (long long)sq_int(db, "PRAGMA page_count"),
                          s.reads);
            assert_true(from_pool >= WL_SQLITE_CACHE);
            assert_true(sq_int(db, "PRAGMA page_count") >
                        4 * WL_SQLITE_CACHE);
            assert_int_equal(s.reads, 0); /* only memory */
        }
        sq_close(db);
        sq_remove(path);
    }
    for (size_t q = 0; q < WL_NQ; q++) {
        assert_true(rows[0][q] > 0);
        assert_int_equal(rows[1][q], rows[0][q]);
        assert_true(h[1][q] == h[0][q]);
    }
    /* SQLite's own page cache back, and the bufpool VFS with it */
    assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
    assert_null(bppcache_pool());
    assert_int_equal(bppcache_uninstall(), SQLITE_OK);
    assert_int_equal(sqlite3_initialize(), SQLITE_OK);
    assert_int_equal(bpvfs_register(NULL, NULL, 0), SQLITE_OK);
}

/* ---- a child after fork() opens its own pool ------------------------------ */

/* The parent holds the database open through a shared cache; a child it
 * forks opens the same database anew: it must get its own pool (attached
 * to the same cache), not the parent's handle, and read the parent's
 * committed rows. */
static void test_child_after_fork(void **state)
{
    char path[600], shm[64], params[200];
    sqlite3 *db;
    pid_t pid;
    int st;

    (void)state;
#if defined(__SANITIZE_THREAD__)
    print_message("  skipped under TSan: no threads in a forked child\n");
    skip();
#endif
    util_tmp_path(path, sizeof path, "fork.db");
    util_shm_name(shm, sizeof shm);
    snprintf(params, sizeof params, SMALL_CACHE "&bp_shm=%s", shm);
    db = sq_open(path, params, 1);
    sq_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INT);"
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                "FROM s WHERE i < 5000) INSERT INTO t(v) SELECT i FROM s");
    pid = fork_child();
    if (pid == 0) {
        sqlite3 *c = NULL;
        int64_t sum = -1;

        if (sq_try_open(path, params, 1, &c) != SQLITE_OK)
            child_die(c, "open in the child", 2);
        if (sq_int_rc(c, "SELECT sum(v) FROM t", &sum) != SQLITE_OK)
            child_die(c, "select in the child", 3);
        if (sum != 5000 * 5001 / 2)
            child_die(c, "wrong sum in the child", 4);
        child_exec(c, "INSERT INTO t(v) VALUES(-1)", 5);
        if (sqlite3_close(c) != SQLITE_OK)
            child_die(NULL, "close in the child", 6);
        _exit(0);
    }
    st = child_wait(pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM t WHERE v = -1"), 1);
    sq_integrity(db);
    sq_close(db);
    sq_remove(path);
}

int main(int argc, char **argv)
{
    static const char *const engines[] = {"sync", "uring"};
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_results_journal),
        cmocka_unit_test(test_same_results_wal),
        cmocka_unit_test(test_child_after_fork),
        cmocka_unit_test(test_crash_safety_journal),
        cmocka_unit_test(test_crash_safety_wal),
        {"read_errors_sync_engine", test_read_errors, engine_setup,
         engine_teardown, (void *)engines[0]},
        {"read_errors_uring_engine", test_read_errors, engine_setup,
         engine_teardown, (void *)engines[1]},
        {"commit_errors_sync_engine", test_commit_errors, engine_setup,
         engine_teardown, (void *)engines[0]},
        {"commit_errors_uring_engine", test_commit_errors, engine_setup,
         engine_teardown, (void *)engines[1]},
        cmocka_unit_test_teardown(test_checkpoint_errors, faults_teardown),
        cmocka_unit_test(test_two_processes_journal),
        cmocka_unit_test(test_two_processes_wal),
        cmocka_unit_test(test_page_size_errors),
        cmocka_unit_test(test_new_database_takes_bp_page_size),
        cmocka_unit_test(test_read_only_then_read_write),
        cmocka_unit_test(test_vacuum_truncates),
        cmocka_unit_test(test_rolled_back_growth),
        cmocka_unit_test(test_pages_read_in_place),
        cmocka_unit_test(test_readahead_in_page_order),
        cmocka_unit_test(test_page_cache_in_pool_frames), /* the last */
    };
    int rc;

    util_init();
    if (argc > 1) /* e.g. "test_crash*" */
        cmocka_set_test_filter(argv[1]);
    /* SQLite's temporary files (VACUUM) in the test's directory too */
    setenv("SQLITE_TMPDIR", util_tmpdir(), 1);
    if ((rc = bpvfs_register(NULL, NULL, 0)) != SQLITE_OK) {
        fprintf(stderr, "bpvfs_register: %s\n", sqlite3_errstr(rc));
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
