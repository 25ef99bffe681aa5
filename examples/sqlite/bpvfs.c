/*
 * bpvfs.c - the bufpool VFS: SQLite's main database file through a
 * libbufpool pool; everything else through the default VFS.
 *
 * Owns: the registered VFS objects (never freed: SQLite keeps pointers to
 * them), the process's table of open pools (one per data file, shared by
 * every connection of the process that opens it: libbufpool allows one
 * pool per file and process), and each connection's table of pages SQLite
 * holds through xFetch.
 *
 * A main-database sqlite3_file is struct bpvfs_file followed by the default
 * VFS's own file for the same path, which does the locking (xLock, xShm*)
 * and nothing else.  Any other file is opened by the default VFS straight
 * into SQLite's memory (our szOsFile is the larger), so its methods are
 * the default VFS's own.
 *
 * Invariants:
 *  - xRead/xWrite move bytes between SQLite's buffer and the pool's pages
 *    (fix, copy, unfix); the pool's page size is the database's, checked
 *    at open (the header) and at every write of page 1.
 *  - The file's size is bp_page_count() pages.  A write at the end
 *    appends with bp_alloc_page; one beyond it grows the file first
 *    (bp_truncate: the pages between read as zeros); xTruncate is
 *    bp_truncate, xSync is bp_flush (every dirty page written, then
 *    fdatasync).
 *  - xFetch returns a page shared-fixed in the window; the fix is held
 *    until the matching xUnfetch.  A connection fetching one page twice
 *    holds one fix and a count.  A write to a page the same connection
 *    holds fetched would wait for itself: it fails with SQLITE_IOERR
 *    instead (SQLite's btree drops its read-only pages of a table before
 *    writing to it, so this is not expected).
 *  - The last connection of the process to close a database flushes its
 *    pool and closes it.
 *  - Read-ahead follows page order, per connection: a page read right
 *    after the page before it (a range scan walking its leaves, laid out
 *    in key order) raises a score, a miss anywhere else lowers it; while
 *    the score is high, a miss starts asynchronous reads (bp_prefetch) of
 *    the page and the next ra_pages pages, so they are in flight together,
 *    and a step onto the last page read ahead starts the next ra_pages.
 *    Point lookups keep the score at zero and read nothing extra; a scan
 *    of cached pages never calls bp_prefetch.
 */
#include "bpvfs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BPVFS_DEFAULT_CACHE (64u << 20)
#define BPVFS_DEFAULT_PAGE 4096u
#define BPVFS_BUSY_MS 2000u /* bp_open's -EBUSY: retried for 2 s */
#define BPVFS_RA_PAGES 2u   /* pages read ahead (bp_readahead's default) */
#define BPVFS_RA_MAX 64u    /* bp_readahead's limit */
#define BPVFS_RA_TOP 8      /* the read-ahead score saturates here... */
#define BPVFS_RA_ON 3       /* ...and reads ahead from here on */
/* PRAGMA mmap_size given to a connection whose database this VFS serves
 * (SQLite caps it at its SQLITE_MAX_MMAP_SIZE); only > 0 matters here:
 * every page of the file can be fetched. */
#define BPVFS_MMAP_PRAGMA "PRAGMA mmap_size=2147418112"

struct bpvfs {
    sqlite3_vfs base; /* base.pAppData is this struct */
    sqlite3_vfs *real;
    bpvfs_config cfg;
    char name[64];
    char shm[208];
    struct bpvfs *next;
};

/* One open pool per data file in this process. */
struct bpvfs_db {
    struct bpvfs_db *next;
    dev_t dev;
    ino_t ino;
    pid_t pid; /* the process that opened the pool */
    bp_pool *pool;
    unsigned psz;
    int refs;
    int rdonly;
};

struct bpvfs_fetch {
    uint64_t pgno;
    unsigned count;
    bp_page pg;
};

struct bpvfs_file {
    sqlite3_file base;
    struct bpvfs *vfs;
    struct bpvfs_db *db;
    sqlite3_file *real; /* the default VFS's file, right after this one */
    int fetch;          /* bp_fetch: xFetch serves pages */
    sqlite3_int64 mmap_size; /* SQLITE_FCNTL_MMAP_SIZE; > 0: fetch */
    struct bpvfs_fetch *fx;
    unsigned nfx, capfx;
    unsigned ra_pages; /* bp_readahead: 0, none */
    int ra_score;      /* 0 .. BPVFS_RA_TOP */
    uint64_t ra_next;  /* the page after the last miss or step; 0: none */
    uint64_t ra_last;  /* the last page read ahead; 0: none */
};

#define BPVFS_FILE_HEAD ((sizeof(struct bpvfs_file) + 15) & ~(size_t)15)

static pthread_mutex_t bpvfs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bpvfs_db *bpvfs_dbs;  /* under bpvfs_lock */
static struct bpvfs *bpvfs_list;    /* under bpvfs_lock */
static _Thread_local char bpvfs_err[512];

static const sqlite3_io_methods bpvfs_methods;

const char *bpvfs_last_error(void)
{
    return bpvfs_err;
}

/* Record and log a failure; returns code (SQLITE_FULL for a full disk).
 * bprc, when nonzero, is libbufpool's code and p's message is added. */
static int bpvfs_fail(int code, bp_pool *p, int bprc, const char *fmt, ...)
{
    size_t n;
    va_list ap;

    if (bprc == -ENOSPC || bprc == -EDQUOT)
        code = SQLITE_FULL;
    va_start(ap, fmt);
    vsnprintf(bpvfs_err, sizeof bpvfs_err, fmt, ap);
    va_end(ap);
    n = strlen(bpvfs_err);
    if (bprc && n < sizeof bpvfs_err)
        snprintf(bpvfs_err + n, sizeof bpvfs_err - n, ": %s%s%s",
                 bp_strerror(bprc), p && *bp_errmsg(p) ? ": " : "",
                 p ? bp_errmsg(p) : "");
    sqlite3_log(code, "bufpool: %s", bpvfs_err);
    return code;
}

/* ---- pages fetched by a connection ---------------------------------------- */

static struct bpvfs_fetch *bpvfs_fetch_find(struct bpvfs_file *f,
                                            uint64_t pgno)
{
    for (unsigned i = f->nfx; i-- > 0;)
        if (f->fx[i].pgno == pgno)
            return &f->fx[i];
    return NULL;
}

static void bpvfs_fetch_release_all(struct bpvfs_file *f)
{
    for (unsigned i = 0; i < f->nfx; i++)
        (void)bp_unfix(f->db->pool, &f->fx[i].pg, 0);
    f->nfx = 0;
    sqlite3_free(f->fx);
    f->fx = NULL;
    f->capfx = 0;
}

/* ---- the open pools ---------------------------------------------------------- */

/* The database's page size from its header (0: no database header yet). */
static int bpvfs_header_psz(sqlite3_file *real, unsigned *psz)
{
    unsigned char h[100];
    sqlite3_int64 size = 0;
    int rc = real->pMethods->xFileSize(real, &size);

    *psz = 0;
    if (rc != SQLITE_OK)
        return rc;
    if (size < (sqlite3_int64)sizeof h)
        return SQLITE_OK;
    rc = real->pMethods->xRead(real, h, (int)sizeof h, 0);
    if (rc != SQLITE_OK)
        return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_OK : rc;
    if (memcmp(h, "SQLite format 3", 16) != 0)
        return SQLITE_OK;
    *psz = (unsigned)h[16] << 8 | h[17];
    if (*psz == 1)
        *psz = 65536;
    return SQLITE_OK;
}

/* The URI parameter name of zName as bytes, or dflt. */
static uint64_t bpvfs_uri_u64(const char *zName, const char *param,
                              uint64_t dflt)
{
    sqlite3_int64 v = sqlite3_uri_int64(zName, param, -1);

    return v < 0 ? dflt : (uint64_t)v;
}

/* bp_open, waiting up to BPVFS_BUSY_MS while the data file's lock is
 * held: a process killed while it had the database open keeps the lock
 * until the kernel has torn down its io_uring rings, which registered the
 * file (tens of milliseconds after the process is gone). */
static int bpvfs_bp_open(bp_pool *p, const char *path, unsigned flags)
{
    int rc;

    for (unsigned ms = 0;; ms++) {
        if ((rc = bp_open(p, path, flags)) != -EBUSY || ms == BPVFS_BUSY_MS)
            return rc;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

static int bpvfs_open_pool(struct bpvfs *v, const char *zName, int flags,
                           unsigned psz, struct bpvfs_db *d)
{
    uint64_t cache = bpvfs_uri_u64(zName, "bp_cache", v->cfg.cache_bytes);
    uint64_t window = bpvfs_uri_u64(zName, "bp_window", v->cfg.window_bytes);
    const char *shm = sqlite3_uri_parameter(zName, "bp_shm");
    const char *io = sqlite3_uri_parameter(zName, "bp_io");
    int how = v->cfg.io, rc;
    unsigned bpflags = 0;
    bp_pool *p = NULL;

    if (!shm)
        shm = v->cfg.shm;
    if (io && !strcmp(io, "auto"))
        how = 0;
    else if (io && !strcmp(io, "direct"))
        how = 1;
    else if (io && !strcmp(io, "buffered"))
        how = 2;
    else if (io)
        return bpvfs_fail(SQLITE_CANTOPEN, NULL, 0, "%s: bp_io=%s: expected "
                          "auto, direct or buffered", zName, io);
    d->rdonly = (flags & SQLITE_OPEN_READONLY) != 0;
    if (shm && *shm)
        bpflags |= BP_ATTACH;
    else if (d->rdonly)
        bpflags |= BP_RDONLY;
    if (how == 2)
        bpflags |= BP_BUFFERED_IO;
    if ((rc = bp_create(&p, NULL)) != 0)
        return bpvfs_fail(SQLITE_NOMEM, NULL, rc, "%s: bp_create", zName);
    if ((rc = bp_set_page_size(p, psz)) != 0) {
        bpvfs_fail(SQLITE_CANTOPEN, p, rc, "%s: page size %u: libbufpool "
                   "takes powers of two from 4096 to 65536 (VACUUM the "
                   "database to such a page_size first)", zName, psz);
        goto fail;
    }
    if ((rc = bp_set_cache_size(p, cache ? cache : BPVFS_DEFAULT_CACHE)) ||
        (window && (rc = bp_set_window_size(p, window))) ||
        ((bpflags & BP_ATTACH) && (rc = bp_set_shm(p, shm, 0)))) {
        bpvfs_fail(SQLITE_CANTOPEN, p, rc, "%s: pool options (bp_cache=%"
                   PRIu64 ", bp_window=%" PRIu64 ")", zName, cache, window);
        goto fail;
    }
    rc = bpvfs_bp_open(p, zName, bpflags);
    if (rc == BP_ENODIRECT && how == 0) {
        sqlite3_log(SQLITE_NOTICE, "bufpool: %s: the file system refuses "
                    "O_DIRECT: buffered I/O", zName);
        rc = bpvfs_bp_open(p, zName, bpflags | BP_BUFFERED_IO);
    }
    if (rc) {
        bpvfs_fail(SQLITE_CANTOPEN, p, rc, "%s: cannot open its pool",
                   zName);
        goto fail;
    }
    d->pool = p;
    d->psz = psz;
    return SQLITE_OK;
fail:
    bp_close(p);
    return SQLITE_CANTOPEN;
}

/* In a child after fork(): the parent's pools are the parent's (every
 * call on them gives BP_EFORKED); they leave the table, unclosed, since
 * connections copied from the parent may still point at them. */
static void bpvfs_forget_parents(void)
{
    pid_t me = getpid();

    for (struct bpvfs_db **pp = &bpvfs_dbs; *pp;)
        if ((*pp)->pid != me)
            *pp = (*pp)->next;
        else
            pp = &(*pp)->next;
}

/* Find or open the pool of the file real has open at zName. */
static int bpvfs_db_get(struct bpvfs *v, const char *zName, int flags,
                        sqlite3_file *real, struct bpvfs_db **out)
{
    unsigned hpsz, want, psz;
    struct bpvfs_db *d;
    struct stat st;
    int rc;

    if (stat(zName, &st) != 0)
        return bpvfs_fail(SQLITE_CANTOPEN, NULL, -errno, "%s: stat", zName);
    pthread_mutex_lock(&bpvfs_lock);
    bpvfs_forget_parents();
    for (d = bpvfs_dbs; d; d = d->next)
        if (d->dev == st.st_dev && d->ino == st.st_ino)
            break;
    if (d && d->rdonly && !(flags & SQLITE_OPEN_READONLY)) {
        pthread_mutex_unlock(&bpvfs_lock);
        return bpvfs_fail(SQLITE_CANTOPEN, NULL, 0, "%s: open read-only "
                          "in this process: its pool cannot write (close "
                          "the read-only connections, or open read-write "
                          "first)", zName);
    }
    if (d) {
        d->refs++;
        pthread_mutex_unlock(&bpvfs_lock);
        *out = d;
        return SQLITE_OK;
    }
    if ((rc = bpvfs_header_psz(real, &hpsz)) != SQLITE_OK) {
        pthread_mutex_unlock(&bpvfs_lock);
        return bpvfs_fail(rc, NULL, 0, "%s: cannot read its header", zName);
    }
    want = (unsigned)bpvfs_uri_u64(zName, "bp_page_size", v->cfg.page_size);
    psz = hpsz ? hpsz : want ? want : BPVFS_DEFAULT_PAGE;
    if (hpsz && want && sqlite3_uri_parameter(zName, "bp_page_size") &&
        want != hpsz) {
        pthread_mutex_unlock(&bpvfs_lock);
        return bpvfs_fail(SQLITE_CANTOPEN, NULL, 0, "%s: bp_page_size=%u, "
                          "but the database's page size is %u", zName, want,
                          hpsz);
    }
    if (!(d = sqlite3_malloc(sizeof *d))) {
        pthread_mutex_unlock(&bpvfs_lock);
        return SQLITE_NOMEM;
    }
    memset(d, 0, sizeof *d);
    if ((rc = bpvfs_open_pool(v, zName, flags, psz, d)) != SQLITE_OK) {
        pthread_mutex_unlock(&bpvfs_lock);
        sqlite3_free(d);
        return rc;
    }
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    d->pid = getpid();
    d->refs = 1;
    d->next = bpvfs_dbs;
    bpvfs_dbs = d;
    pthread_mutex_unlock(&bpvfs_lock);
    *out = d;
    return SQLITE_OK;
}

static int bpvfs_db_put(struct bpvfs_db *d)
{
    struct bpvfs_db **pp;
    int rc = SQLITE_OK, brc;

    pthread_mutex_lock(&bpvfs_lock);
    if (--d->refs > 0) {
        pthread_mutex_unlock(&bpvfs_lock);
        return SQLITE_OK;
    }
    for (pp = &bpvfs_dbs; *pp && *pp != d; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = d->next;
    pthread_mutex_unlock(&bpvfs_lock);
    if (d->pid != getpid()) { /* the parent's, closed in a child */
        (void)bp_close(d->pool); /* BP_EFORKED handle: just freed */
        sqlite3_free(d);
        return SQLITE_OK;
    }
    if (!d->rdonly && (brc = bp_flush(d->pool)) != 0 &&
        brc != BP_EREADONLY)
        rc = bpvfs_fail(SQLITE_IOERR_CLOSE, d->pool, brc, "flush at close");
    if ((brc = bp_close(d->pool)) != 0)
        rc = bpvfs_fail(SQLITE_IOERR_CLOSE, d->pool, brc, "close");
    sqlite3_free(d);
    return rc;
}

/* ---- io methods of a main database -------------------------------------------- */

static int bpvfs_close(sqlite3_file *pf)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;
    int rc = f->real->pMethods->xClose(f->real), rc2;

    bpvfs_fetch_release_all(f);
    rc2 = bpvfs_db_put(f->db);
    return rc != SQLITE_OK ? rc : rc2;
}

/* Read-ahead's bookkeeping before SQLite's read of page pgno (miss: it is
 * not cached).  While reads run in page order, a miss starts the reads of
 * pgno and the pages after it in one bp_prefetch (one submission: the
 * kernel merges them into one request), and a step onto the last page
 * read ahead starts the next ones.  Returns nonzero when pgno's own read
 * was started.  A failed bp_prefetch is left alone: the fix reads the
 * page itself and reports what is wrong. */
static int bpvfs_ra_note(struct bpvfs_file *f, uint64_t pgno, int miss)
{
    bp_pool *p = f->db->pool;
    uint64_t pgnos[BPVFS_RA_MAX + 1], pages;
    size_t n = 0, want = f->ra_pages + (miss != 0);

    if (pgno == f->ra_next && pgno != 0) {
        f->ra_score += 2;
        if (f->ra_score > BPVFS_RA_TOP)
            f->ra_score = BPVFS_RA_TOP;
    } else if (miss) {
        if (f->ra_score > 0)
            f->ra_score--;
    } else {
        return 0; /* a hit out of order: an inner page, say */
    }
    f->ra_next = pgno + 1;
    if (f->ra_score < BPVFS_RA_ON || (!miss && pgno != f->ra_last))
        return 0;
    pages = bp_page_count(p);
    for (uint64_t pg = miss ? pgno : pgno + 1; n < want && pg < pages; pg++)
        pgnos[n++] = pg;
    if (n == 0)
        return 0;
    f->ra_last = pgnos[n - 1];
    return bp_prefetch(p, pgnos, n) > 0 && miss;
}

/* bp_fix(BP_SHARED) of a page SQLite reads, with read-ahead.  A page whose
 * read went out with read-ahead is waited for in bp_io_wait, where this
 * thread takes the completion itself (no hand-over from the pool's
 * completion thread). */
static int bpvfs_fix_read(struct bpvfs_file *f, uint64_t pgno, bp_page *pg)
{
    bp_pool *p = f->db->pool;
    uint64_t seq;
    int rc;

    if (!f->ra_pages)
        return bp_fix(p, pgno, BP_SHARED, pg);
    rc = bp_fix(p, pgno, BP_SHARED | BP_NOWAIT, pg);
    if (rc == 0) {
        bpvfs_ra_note(f, pgno, 0);
        return 0;
    }
    if (rc != BP_ENOTCACHED && rc != BP_EAGAIN)
        return rc;
    /* BP_EAGAIN: in flight (read ahead) or latched: not a miss */
    if (bpvfs_ra_note(f, pgno, rc == BP_ENOTCACHED) || rc == BP_EAGAIN) {
        for (;;) {
            seq = bp_io_seq(p);
            rc = bp_fix(p, pgno, BP_SHARED | BP_NOWAIT, pg);
            if (rc != BP_EAGAIN ||
                bp_io_wait(p, seq, -1) == BP_EIDLE)
                break;
        }
        if (rc == 0 || (rc != BP_ENOTCACHED && rc != BP_EAGAIN))
            return rc;
    }
    return bp_fix(p, pgno, BP_SHARED, pg);
}

static int bpvfs_read(sqlite3_file *pf, void *buf, int amt,
                      sqlite3_int64 off)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;
    bp_pool *p = f->db->pool;
    uint64_t psz = f->db->psz, pages = bp_page_count(p);
    char *out = buf;

    while (amt > 0) {
        uint64_t pgno = (uint64_t)off / psz, in = (uint64_t)off % psz;
        size_t n = (size_t)(psz - in < (uint64_t)amt ? psz - in : (uint64_t)amt);
        bp_page pg;
        int rc;

        if (pgno >= pages) {
            memset(out, 0, (size_t)amt);
            return SQLITE_IOERR_SHORT_READ;
        }
        if ((rc = bpvfs_fix_read(f, pgno, &pg)) != 0)
            return bpvfs_fail(SQLITE_IOERR_READ, p, rc, "read of page %"
                              PRIu64, pgno);
        memcpy(out, (const char *)pg.data + in, n);
        (void)bp_unfix(p, &pg, 0);
        out += n;
        off += (sqlite3_int64)n;
        amt -= (int)n;
    }
    return SQLITE_OK;
}

/* Fix page pgno exclusively for a write, appending it (and zero pages
 * before it) when it is at or past the end; whole: the write covers all of
 * it, so a page not cached is not read first (BP_OVERWRITE). */
static int bpvfs_fix_for_write(struct bpvfs_file *f, uint64_t pgno,
                               int whole, bp_page *pg)
{
    unsigned mode = BP_EXCLUSIVE | (whole ? BP_OVERWRITE : 0);
    bp_pool *p = f->db->pool;
    uint64_t pages = bp_page_count(p);
    int rc;

    if (pgno > pages && (rc = bp_truncate(p, pgno)) != 0)
        return bpvfs_fail(SQLITE_IOERR_WRITE, p, rc, "growing the file to "
                          "page %" PRIu64, pgno);
    if (pgno >= pages) {
        if ((rc = bp_alloc_page(p, pg)) != 0)
            return bpvfs_fail(SQLITE_IOERR_WRITE, p, rc, "append of page %"
                              PRIu64, pgno);
        if (pg->pgno == pgno)
            return SQLITE_OK;
        (void)bp_unfix(p, pg, BP_DIRTY);
        return bpvfs_fail(SQLITE_IOERR_WRITE, NULL, 0, "append of page %"
                          PRIu64 " made page %" PRIu64 ": another writer "
                          "grew the file", pgno, pg->pgno);
    }
    rc = bp_fix(p, pgno, mode | BP_NOWAIT, pg);
    if (rc == BP_EAGAIN && bpvfs_fetch_find(f, pgno))
        return bpvfs_fail(SQLITE_IOERR_WRITE, NULL, 0, "write of page %"
                          PRIu64 " while this connection holds it "
                          "memory-mapped (xFetch)", pgno);
    if (rc == BP_EAGAIN || rc == BP_ENOTCACHED)
        rc = bp_fix(p, pgno, mode, pg);
    if (rc)
        return bpvfs_fail(SQLITE_IOERR_WRITE, p, rc, "write of page %"
                          PRIu64, pgno);
    return SQLITE_OK;
}

static int bpvfs_write(sqlite3_file *pf, const void *buf, int amt,
                       sqlite3_int64 off)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;
    bp_pool *p = f->db->pool;
    uint64_t psz = f->db->psz;
    const unsigned char *src = buf;

    if (off == 0 && amt >= 18 && !memcmp(src, "SQLite format 3", 16)) {
        unsigned hpsz = (unsigned)src[16] << 8 | src[17];

        if (hpsz == 1)
            hpsz = 65536;
        if (hpsz != psz)
            return bpvfs_fail(SQLITE_IOERR_WRITE, NULL, 0, "the database's "
                              "page size is %u, its pool's %" PRIu64
                              " (open a new database with bp_page_size=%u)",
                              hpsz, psz, hpsz);
    }
    while (amt > 0) {
        uint64_t pgno = (uint64_t)off / psz, in = (uint64_t)off % psz;
        size_t n = (size_t)(psz - in < (uint64_t)amt ? psz - in : (uint64_t)amt);
        bp_page pg;
        int rc;

        if ((rc = bpvfs_fix_for_write(f, pgno, in == 0 && n == psz, &pg)) !=
            SQLITE_OK)
            return rc;
        memcpy((char *)pg.data + in, src, n);
        if ((rc = bp_unfix(p, &pg, BP_DIRTY)) != 0) {
            (void)bp_unfix(p, &pg, 0);
            return bpvfs_fail(SQLITE_IOERR_WRITE, p, rc, "write of page %"
                              PRIu64, pgno);
        }
        src += n;
        off += (sqlite3_int64)n;
        amt -= (int)n;
    }
    return SQLITE_OK;
}

static int bpvfs_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;
    uint64_t psz = f->db->psz;
    int rc;

    if (size < 0)
        return SQLITE_IOERR_TRUNCATE;
    if ((rc = bp_truncate(f->db->pool, ((uint64_t)size + psz - 1) / psz)))
        return bpvfs_fail(SQLITE_IOERR_TRUNCATE, f->db->pool, rc,
                          "truncate to %lld bytes", (long long)size);
    return SQLITE_OK;
}

static int bpvfs_sync(sqlite3_file *pf, int flags)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;
    int rc;

    (void)flags;
    if (f->db->rdonly)
        return SQLITE_OK;
    if ((rc = bp_flush(f->db->pool)) != 0)
        return bpvfs_fail(SQLITE_IOERR_FSYNC, f->db->pool, rc, "flush");
    return SQLITE_OK;
}

static int bpvfs_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    *size = (sqlite3_int64)(bp_page_count(f->db->pool) * f->db->psz);
    return SQLITE_OK;
}

static int bpvfs_lock_(sqlite3_file *pf, int level)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    return f->real->pMethods->xLock(f->real, level);
}

static int bpvfs_unlock(sqlite3_file *pf, int level)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    return f->real->pMethods->xUnlock(f->real, level);
}

static int bpvfs_check_reserved(sqlite3_file *pf, int *out)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int bpvfs_file_control(sqlite3_file *pf, int op, void *arg)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    switch (op) {
    case SQLITE_FCNTL_SIZE_HINT:  /* the pool grows a page at a time */
    case SQLITE_FCNTL_CHUNK_SIZE:
        return SQLITE_OK;
    case SQLITE_FCNTL_MMAP_SIZE: {
        sqlite3_int64 *a = arg, old = f->mmap_size;

        if (*a >= 0)
            f->mmap_size = *a;
        *a = old;
        return SQLITE_OK;
    }
    case SQLITE_FCNTL_VFSNAME:
        *(char **)arg = sqlite3_mprintf("%s", f->vfs->name);
        return SQLITE_OK;
    default:
        return f->real->pMethods->xFileControl(f->real, op, arg);
    }
}

static int bpvfs_sector_size(sqlite3_file *pf)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    return f->real->pMethods->xSectorSize(f->real);
}

static int bpvfs_device_chars(sqlite3_file *pf)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int bpvfs_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend,
                         void volatile **pp)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    if (f->real->pMethods->iVersion < 2)
        return SQLITE_IOERR_SHMMAP;
    return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int bpvfs_shm_lock(sqlite3_file *pf, int ofs, int n, int flags)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    return f->real->pMethods->xShmLock(f->real, ofs, n, flags);
}

static void bpvfs_shm_barrier(sqlite3_file *pf)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    f->real->pMethods->xShmBarrier(f->real);
}

static int bpvfs_shm_unmap(sqlite3_file *pf, int del)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;

    return f->real->pMethods->xShmUnmap(f->real, del);
}

/* A page SQLite reads in place: shared-fixed until xUnfetch.  Any miss
 * (not a whole page, past the end, no slot, an I/O error) returns no
 * pointer, and SQLite reads the page with xRead (which reports errors). */
static int bpvfs_fetch(sqlite3_file *pf, sqlite3_int64 off, int amt,
                       void **pp)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;
    uint64_t psz = f->db->psz, pgno = (uint64_t)off / psz;
    struct bpvfs_fetch *e;

    *pp = NULL;
    if (!f->fetch || f->mmap_size <= 0 || (uint64_t)amt != psz ||
        (uint64_t)off % psz || pgno >= bp_page_count(f->db->pool))
        return SQLITE_OK;
    if ((e = bpvfs_fetch_find(f, pgno))) {
        e->count++;
        *pp = e->pg.data;
        return SQLITE_OK;
    }
    if (f->nfx == f->capfx) {
        unsigned cap = f->capfx ? 2 * f->capfx : 16;
        struct bpvfs_fetch *n = sqlite3_realloc64(f->fx, cap * sizeof *n);

        if (!n)
            return SQLITE_OK;
        f->fx = n;
        f->capfx = cap;
    }
    e = &f->fx[f->nfx];
    if (bpvfs_fix_read(f, pgno, &e->pg) != 0)
        return SQLITE_OK;
    e->pgno = pgno;
    e->count = 1;
    f->nfx++;
    *pp = e->pg.data;
    return SQLITE_OK;
}

static int bpvfs_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *ptr)
{
    struct bpvfs_file *f = (struct bpvfs_file *)pf;
    struct bpvfs_fetch *e;

    if (!ptr) /* a hint to drop mappings: nothing is mapped unfixed */
        return SQLITE_OK;
    e = bpvfs_fetch_find(f, (uint64_t)off / f->db->psz);
    if (!e || e->pg.data != ptr)
        return bpvfs_fail(SQLITE_IOERR, NULL, 0, "xUnfetch of offset %lld "
                          "that was not fetched", (long long)off);
    if (--e->count == 0) {
        (void)bp_unfix(f->db->pool, &e->pg, 0);
        *e = f->fx[--f->nfx];
    }
    return SQLITE_OK;
}

static const sqlite3_io_methods bpvfs_methods = {
    .iVersion = 3,
    .xClose = bpvfs_close,
    .xRead = bpvfs_read,
    .xWrite = bpvfs_write,
    .xTruncate = bpvfs_truncate,
    .xSync = bpvfs_sync,
    .xFileSize = bpvfs_file_size,
    .xLock = bpvfs_lock_,
    .xUnlock = bpvfs_unlock,
    .xCheckReservedLock = bpvfs_check_reserved,
    .xFileControl = bpvfs_file_control,
    .xSectorSize = bpvfs_sector_size,
    .xDeviceCharacteristics = bpvfs_device_chars,
    .xShmMap = bpvfs_shm_map,
    .xShmLock = bpvfs_shm_lock,
    .xShmBarrier = bpvfs_shm_barrier,
    .xShmUnmap = bpvfs_shm_unmap,
    .xFetch = bpvfs_fetch,
    .xUnfetch = bpvfs_unfetch,
};

/* ---- the VFS ------------------------------------------------------------------ */

#define BPVFS_REAL(vfs) (((struct bpvfs *)(vfs)->pAppData)->real)

static int bpvfs_xopen(sqlite3_vfs *vfs, const char *zName,
                       sqlite3_file *pf, int flags, int *out_flags)
{
    struct bpvfs *v = vfs->pAppData;
    struct bpvfs_file *f = (struct bpvfs_file *)pf;
    const char *fetch;
    uint64_t ra;
    int rc;

    if (!(flags & SQLITE_OPEN_MAIN_DB) || !zName)
        return v->real->xOpen(v->real, zName, pf, flags, out_flags);
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)((char *)f + BPVFS_FILE_HEAD);
    rc = v->real->xOpen(v->real, zName, f->real, flags, out_flags);
    if (rc != SQLITE_OK)
        return rc;
    if ((rc = bpvfs_db_get(v, zName, flags, f->real, &f->db)) !=
        SQLITE_OK) {
        f->real->pMethods->xClose(f->real);
        return rc;
    }
    fetch = sqlite3_uri_parameter(zName, "bp_fetch");
    f->fetch = fetch ? sqlite3_uri_boolean(zName, "bp_fetch", 1)
                     : !v->cfg.no_fetch;
    ra = bpvfs_uri_u64(zName, "bp_readahead",
                       v->cfg.readahead < 0 ? 0
                       : v->cfg.readahead ? (uint64_t)v->cfg.readahead
                                          : BPVFS_RA_PAGES);
    f->ra_pages = ra > BPVFS_RA_MAX ? BPVFS_RA_MAX : (unsigned)ra;
    f->vfs = v;
    f->base.pMethods = &bpvfs_methods;
    return SQLITE_OK;
}

static int bpvfs_xdelete(sqlite3_vfs *vfs, const char *z, int sync)
{
    return BPVFS_REAL(vfs)->xDelete(BPVFS_REAL(vfs), z, sync);
}

static int bpvfs_xaccess(sqlite3_vfs *vfs, const char *z, int flags,
                         int *out)
{
    return BPVFS_REAL(vfs)->xAccess(BPVFS_REAL(vfs), z, flags, out);
}

static int bpvfs_xfullpath(sqlite3_vfs *vfs, const char *z, int n,
                           char *out)
{
    return BPVFS_REAL(vfs)->xFullPathname(BPVFS_REAL(vfs), z, n, out);
}

static void *bpvfs_xdlopen(sqlite3_vfs *vfs, const char *z)
{
    return BPVFS_REAL(vfs)->xDlOpen(BPVFS_REAL(vfs), z);
}

static void bpvfs_xdlerror(sqlite3_vfs *vfs, int n, char *out)
{
    BPVFS_REAL(vfs)->xDlError(BPVFS_REAL(vfs), n, out);
}

static void (*bpvfs_xdlsym(sqlite3_vfs *vfs, void *h, const char *z))(void)
{
    return BPVFS_REAL(vfs)->xDlSym(BPVFS_REAL(vfs), h, z);
}

static void bpvfs_xdlclose(sqlite3_vfs *vfs, void *h)
{
    BPVFS_REAL(vfs)->xDlClose(BPVFS_REAL(vfs), h);
}

static int bpvfs_xrandom(sqlite3_vfs *vfs, int n, char *out)
{
    return BPVFS_REAL(vfs)->xRandomness(BPVFS_REAL(vfs), n, out);
}

static int bpvfs_xsleep(sqlite3_vfs *vfs, int us)
{
    return BPVFS_REAL(vfs)->xSleep(BPVFS_REAL(vfs), us);
}

static int bpvfs_xtime(sqlite3_vfs *vfs, double *out)
{
    return BPVFS_REAL(vfs)->xCurrentTime(BPVFS_REAL(vfs), out);
}

static int bpvfs_xlasterr(sqlite3_vfs *vfs, int n, char *out)
{
    return BPVFS_REAL(vfs)->xGetLastError(BPVFS_REAL(vfs), n, out);
}

static int bpvfs_xtime64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return BPVFS_REAL(vfs)->xCurrentTimeInt64(BPVFS_REAL(vfs), out);
}

/* Auto-extension: a connection whose main database this VFS serves gets
 * PRAGMA mmap_size, so SQLite reads its pages in place (xFetch), and, when
 * the database is new (no page yet), PRAGMA page_size of its pool. */
static int bpvfs_autoext(sqlite3 *db, const char **err,
                         const struct sqlite3_api_routines *api)
{
    sqlite3_file *fp = NULL;

    (void)err;
    (void)api;
    struct bpvfs_file *f;
    char sql[64];

    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &fp) !=
            SQLITE_OK || !fp || fp->pMethods != &bpvfs_methods)
        return SQLITE_OK;
    f = (struct bpvfs_file *)fp;
    if (bp_page_count(f->db->pool) == 0) { /* new: the pool's page size */
        snprintf(sql, sizeof sql, "PRAGMA page_size=%u", f->db->psz);
        (void)sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (f->fetch)
        (void)sqlite3_exec(db, BPVFS_MMAP_PRAGMA, NULL, NULL, NULL);
    return SQLITE_OK;
}

int bpvfs_register(const char *name, const bpvfs_config *cfg,
                   int make_default)
{
    static int autoext; /* under bpvfs_lock */
    sqlite3_vfs *real;
    struct bpvfs *v;
    int rc, first;

    if ((rc = sqlite3_initialize()) != SQLITE_OK)
        return rc;
    if (!name)
        name = "bufpool";
    if (strlen(name) >= sizeof v->name ||
        (cfg && cfg->shm && strlen(cfg->shm) >= sizeof v->shm))
        return SQLITE_MISUSE;
    pthread_mutex_lock(&bpvfs_lock);
    for (v = bpvfs_list; v && strcmp(v->name, name); v = v->next)
        ;
    if (!v) {
        if (!(real = sqlite3_vfs_find(NULL)) ||
            real->xOpen == bpvfs_xopen) {
            pthread_mutex_unlock(&bpvfs_lock);
            return SQLITE_ERROR;
        }
        if (!(v = sqlite3_malloc(sizeof *v))) {
            pthread_mutex_unlock(&bpvfs_lock);
            return SQLITE_NOMEM;
        }
        memset(v, 0, sizeof *v);
        v->real = real;
        snprintf(v->name, sizeof v->name, "%s", name);
        v->base = (sqlite3_vfs){
            .iVersion = 2,
            .szOsFile = (int)(BPVFS_FILE_HEAD + (size_t)real->szOsFile),
            .mxPathname = real->mxPathname,
            .zName = v->name,
            .pAppData = v,
            .xOpen = bpvfs_xopen,
            .xDelete = bpvfs_xdelete,
            .xAccess = bpvfs_xaccess,
            .xFullPathname = bpvfs_xfullpath,
            .xDlOpen = bpvfs_xdlopen,
            .xDlError = bpvfs_xdlerror,
            .xDlSym = bpvfs_xdlsym,
            .xDlClose = bpvfs_xdlclose,
            .xRandomness = bpvfs_xrandom,
            .xSleep = bpvfs_xsleep,
            .xCurrentTime = bpvfs_xtime,
            .xGetLastError = bpvfs_xlasterr,
            .xCurrentTimeInt64 = bpvfs_xtime64,
        };
        v->next = bpvfs_list;
        bpvfs_list = v;
    }
    if (cfg)
        v->cfg = *cfg;
    else
        memset(&v->cfg, 0, sizeof v->cfg);
    if (v->cfg.shm) {
        snprintf(v->shm, sizeof v->shm, "%s", v->cfg.shm);
        v->cfg.shm = v->shm;
    }
    first = !autoext++;
    pthread_mutex_unlock(&bpvfs_lock);
    if ((rc = sqlite3_vfs_register(&v->base, make_default)) != SQLITE_OK)
        return rc;
    if (first)
        rc = sqlite3_auto_extension((void (*)(void))bpvfs_autoext);
    return rc;
}

bp_pool *bpvfs_pool(sqlite3 *db, const char *schema)
{
    sqlite3_file *fp = NULL;

    if (sqlite3_file_control(db, schema ? schema : "main",
                             SQLITE_FCNTL_FILE_POINTER, &fp) != SQLITE_OK ||
        !fp || fp->pMethods != &bpvfs_methods)
        return NULL;
    return ((struct bpvfs_file *)fp)->db->pool;
}
