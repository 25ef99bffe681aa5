/*
 * bpvfs.h - SQLite on libbufpool: a VFS whose main database files are
 * served through a libbufpool pool.
 *
 * The whole change an application makes:
 *
 *     bpvfs_register(NULL, NULL, 0);                 // once, at start
 *     sqlite3_open_v2("file:app.db?bp_cache=268435456", &db,
 *                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
 *                     SQLITE_OPEN_URI, "bufpool");
 *
 * (or "file:app.db?vfs=bufpool" with SQLITE_OPEN_URI).  Journals, WAL
 * files and temporary files go to the default VFS, and so does locking
 * (xLock, xShmMap).  Several processes share one database by opening it
 * with the same bp_shm (one cache); without it a second process is
 * refused (SQLITE_CANTOPEN), as two private caches would go stale.
 *
 * URI parameters of the main database (each beats bpvfs_config's field):
 *   bp_cache=BYTES      the pool's cache (default 64 MiB)
 *   bp_window=BYTES     its window (default: libbufpool's choice)
 *   bp_page_size=BYTES  page size of a new (empty) database (default
 *                       4096; the connection gets PRAGMA page_size at
 *                       open); an existing database keeps its own, and a
 *                       different value here is an error
 *   bp_shm=NAME         attach the shared cache NAME (BP_ATTACH): every
 *                       process opening the database uses the same name
 *   bp_io=auto|direct|buffered  data-file I/O: O_DIRECT, buffered, or
 *                       (auto, default) O_DIRECT where the file system
 *                       takes it and buffered where it refuses
 *   bp_fetch=0|1        serve SQLite's memory-mapped reads (xFetch) from
 *                       the window (default 1); a connection then gets
 *                       PRAGMA mmap_size at open
 *   bp_readahead=PAGES  pages read ahead, asynchronously, once a
 *                       connection reads pages in file order (a range
 *                       scan over leaves stored in key order); 0: none
 *                       (default 2, at most 64)
 *
 * Errors: a failure SQLite cannot name (a page-size mismatch, a pool that
 * does not open, a page that does not read) goes to sqlite3_log() and to
 * bpvfs_last_error() of the thread, with libbufpool's message.
 */
#ifndef BPVFS_H
#define BPVFS_H

#include <stdint.h>

#include <sqlite3.h>

#include "bufpool.h"

typedef struct bpvfs_config {
    uint64_t cache_bytes;  /* 0: 64 MiB */
    uint64_t window_bytes; /* 0: libbufpool's default */
    unsigned page_size;    /* new databases; 0: 4096 */
    const char *shm;       /* NULL: a private cache per process */
    int io;                /* 0 auto, 1 direct, 2 buffered */
    int no_fetch;          /* nonzero: SQLite's own reads only (xRead) */
    int readahead;         /* pages read ahead in file order; 0: 2, < 0:
                              none (bp_readahead) */
} bpvfs_config;

/* Register the VFS name (NULL: "bufpool") over the default VFS, with cfg
 * as the defaults of every database it opens (NULL: the defaults above;
 * copied, and shm with it).  make_default: also make it SQLite's default
 * VFS.  Registering a name again replaces its defaults.
 *
 * @return SQLITE_OK, SQLITE_NOMEM, SQLITE_ERROR (no default VFS), or
 *         SQLite's code from sqlite3_initialize / sqlite3_vfs_register */
int bpvfs_register(const char *name, const bpvfs_config *cfg,
                   int make_default);

/* The pool serving schema (NULL: "main") of db, or NULL when that file is
 * not served by a bufpool VFS (for bp_stats_get). */
bp_pool *bpvfs_pool(sqlite3 *db, const char *schema);

/* The last error this thread's bufpool VFS calls met ("" when none). */
const char *bpvfs_last_error(void);

#endif /* BPVFS_H */
