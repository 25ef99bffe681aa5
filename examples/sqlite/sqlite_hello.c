/*
 * sqlite_hello.c - SQLite on libbufpool: a table written and read back
 * through the bufpool VFS, with the pool's counters.
 *
 *     sqlite_hello [DB]      (default: sqlite_hello.db in the current
 *                             directory, removed afterwards)
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bpvfs.h"

static int fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "sqlite_hello: %s: %s (%s)\n", what,
            db ? sqlite3_errmsg(db) : "", bpvfs_last_error());
    sqlite3_close(db);
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "sqlite_hello.db";
    char uri[4200];
    sqlite3_stmt *st;
    sqlite3 *db = NULL;
    bp_stats s;
    int rc;

    snprintf(uri, sizeof uri, "file:%s?bp_cache=16777216", path);
    if (bpvfs_register(NULL, NULL, 0) != SQLITE_OK)
        return fail(NULL, "bpvfs_register");
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, "bufpool"))
        return fail(db, "open");
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v);"
                     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
                     "SELECT i + 1 FROM n WHERE i < 100000) "
                     "INSERT OR REPLACE INTO t SELECT i, hex(randomblob(50)) "
                     "FROM n;", NULL, NULL, NULL))
        return fail(db, "load");
    if (sqlite3_prepare_v2(db, "SELECT count(*), sum(length(v)) FROM t",
                           -1, &st, NULL) ||
        sqlite3_step(st) != SQLITE_ROW)
        return fail(db, "select");
    printf("rows %lld, value bytes %lld\n", sqlite3_column_int64(st, 0),
           sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    memset(&s, 0, sizeof s);
    if (bp_stats_get(bpvfs_pool(db, NULL), &s, sizeof s) == 0)
        printf("pool: page %u bytes, %llu fixes, %llu window hits, "
               "%llu cache misses, backend %s\n", s.page_size,
               (unsigned long long)s.fixes,
               (unsigned long long)s.window_hits,
               (unsigned long long)s.cache_misses, bp_backend_name((bp_backend)s.backend));
    rc = sqlite3_close(db);
    if (argc < 2) {
        unlink(path);
        unlink("sqlite_hello.db-wal");
        unlink("sqlite_hello.db-shm");
    }
    return rc == SQLITE_OK ? 0 : 1;
}
