/*
 * bppcache.h - SQLite's page cache (SQLITE_CONFIG_PCACHE2) with its page
 * buffers in the frames of a libbufpool pool.
 *
 * The other way to layer SQLite on libbufpool, kept to measure it against
 * the VFS (bpvfs.h): every connection's page cache takes its buffers from
 * one pool's cache, while the database file is read and written by
 * whichever VFS the connection uses (the default one: read() into the
 * buffer).  The pool is only the memory: its pages are a scratch file's,
 * all fixed for as long as the page cache is installed, so a buffer never
 * moves, is never written back and never read.  Why the VFS is the
 * layering this project ships is in examples/sqlite/README.md.
 *
 *     sqlite3_shutdown();                  // or before any SQLite call
 *     bppcache_install(&(bppcache_config){.cache_bytes = 256 << 20});
 *     sqlite3_initialize();
 *     ... connections as usual; PRAGMA cache_size as usual ...
 *     sqlite3_shutdown();                  // closes the pool
 *     bppcache_uninstall();                // SQLite's own page cache back
 */
#ifndef BPPCACHE_H
#define BPPCACHE_H

#include <stdint.h>
#include <sqlite3.h>
#include "bufpool.h"

typedef struct bppcache_config {
    uint64_t cache_bytes; /* the buffers of every page cache; 0: 64 MiB */
    unsigned page_size;   /* the largest database page served; 0: 4096 */
    const char *dir;      /* where the scratch data file is made (and
                             unlinked at once); NULL: /var/tmp */
} bppcache_config;

/* Install the page cache (SQLITE_CONFIG_PCACHE2), with cfg copied (dir
 * too).  SQLite must not be initialized (call sqlite3_shutdown first);
 * the pool opens at sqlite3_initialize and closes at sqlite3_shutdown.
 * Pages larger than page_size, and pages beyond the pool's buffers (every
 * buffer in use by pinned pages), come from sqlite3_malloc instead.
 *
 * @return SQLITE_OK, SQLITE_MISUSE (SQLite is initialized), SQLITE_NOMEM */
int bppcache_install(const bppcache_config *cfg);

/* Put back the page cache that was configured before bppcache_install
 * (SQLite must not be initialized).  SQLITE_OK or SQLITE_MISUSE. */
int bppcache_uninstall(void);

/* The pool holding the buffers while SQLite is initialized, else NULL. */
bp_pool *bppcache_pool(void);

/* Buffers handed out from the pool and from sqlite3_malloc since
 * sqlite3_initialize; either may be NULL. */
void bppcache_counts(uint64_t *from_pool, uint64_t *from_malloc);

/* Why the last sqlite3_initialize failed to open the pool ("" when it
 * did not fail). */
const char *bppcache_last_error(void);

#endif /* BPPCACHE_H */
