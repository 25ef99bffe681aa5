/*
 * bppcache.c - SQLite's page cache (SQLITE_CONFIG_PCACHE2) with its page
 * buffers in a libbufpool pool's frames.
 *
 * Owns: the process's buffer pool (one libbufpool pool over an unlinked
 * scratch file, opened by xInit at sqlite3_initialize and closed by
 * xShutdown), its free list of buffers, and every page cache SQLite
 * creates (xCreate: one per connection and database).
 *
 * Invariants:
 *  - Every page of the scratch file is fixed exclusively from xInit to
 *    xShutdown, so a buffer's address never changes (SQLite keeps
 *    pBuf in its page header) and the pool never evicts, writes or reads
 *    it; xShutdown unfixes them and truncates the file to nothing before
 *    closing, so nothing is written.
 *  - A buffer belongs to at most one cache page; the free list holds the
 *    others (under bppc_lock, the only lock: SQLite serializes the calls
 *    on one cache).
 *  - A cache page is in its cache's hash table; unpinned, it is also on
 *    the cache's LRU list, from which it is recycled (purgeable caches)
 *    when the cache is at its size (xCachesize) or the pool has no free
 *    buffer.  A page cache larger than the pool's buffers, pages larger
 *    than its page size, and non-purgeable caches (temporary and in-memory
 *    databases) take their buffers from sqlite3_malloc.
 *  - pExtra is zeroed whenever a page is handed out new or recycled
 *    (SQLite tells a new page by its zero header).
 *  - Page headers (with SQLite's extra bytes) come from per-cache chunks
 *    and go back to the cache's spare list, so a header costs its size
 *    and no allocator rounding; maxkey bounds the keys, so the truncate
 *    SQLite asks for at every transaction's end looks at the keys above
 *    the limit, not at the whole table.
 */
#include "bppcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BPPC_DEFAULT_CACHE (64u << 20)
#define BPPC_DEFAULT_PAGE 4096u
#define BPPC_SLACK 16u /* frames beyond the buffers: the pool's own use */

typedef struct bppc_page {
    sqlite3_pcache_page base; /* first: SQLite's handle is this struct */
    unsigned key;
    int pinned;
    int64_t buf; /* index into bppc.pages, or -1: by sqlite3_malloc */
    struct bppc_page *hnext, *lprev, *lnext;
} bppc_page;

#define BPPC_CHUNK 256u /* page headers allocated together */

typedef struct bppc_chunk {
    struct bppc_chunk *next;
} bppc_chunk;

typedef struct bppc_cache {
    int sz_page, sz_extra, purgeable;
    int pooled; /* purgeable, pages that fit a frame: pool buffers */
    unsigned nmax, npage, nhash;
    unsigned maxkey; /* no page has a larger key */
    size_t esz;      /* a page header with its extra bytes */
    bppc_page **hash;
    bppc_page lru;   /* sentinel: lru.lnext the most recently unpinned */
    bppc_page *spare; /* free headers, by hnext */
    bppc_chunk *chunks;
} bppc_cache;

static struct {
    bppcache_config cfg;
    char dir[512];
    sqlite3_pcache_methods2 saved;
    int installed;
    bp_pool *p;
    bp_page *pages;
    uint64_t n;
    int64_t *free;
    uint64_t nfree, from_pool, from_malloc;
} bppc;

static pthread_mutex_t bppc_lock = PTHREAD_MUTEX_INITIALIZER;
static char bppc_err[512];

/* ---- the buffers ------------------------------------------------------------ */

static int bppc_fail(int rc, const char *what)
{
    snprintf(bppc_err, sizeof bppc_err, "bppcache: %s: %s%s%s", what,
             bp_strerror(rc), bppc.p && bp_errmsg(bppc.p)[0] ? ": " : "",
             bppc.p ? bp_errmsg(bppc.p) : "");
    return SQLITE_CANTOPEN;
}

static void bppc_release(void)
{
    if (bppc.p) {
        for (uint64_t i = 0; i < bppc.n; i++)
            (void)bp_unfix(bppc.p, &bppc.pages[i], 0);
        if (bppc.n)
            (void)bp_truncate(bppc.p, 0); /* nothing is written */
        (void)bp_close(bppc.p);
    }
    free(bppc.pages);
    free(bppc.free);
    bppc.p = NULL;
    bppc.pages = NULL;
    bppc.free = NULL;
    bppc.n = bppc.nfree = 0;
}

static int bppc_init(void *arg)
{
    uint64_t want = bppc.cfg.cache_bytes / bppc.cfg.page_size;
    char path[600];
    int fd, rc;

    (void)arg;
    bppc_err[0] = '\0';
    bppc.from_pool = bppc.from_malloc = 0;
    snprintf(path, sizeof path, "%s/bppcache.XXXXXX", bppc.dir);
    if ((fd = mkstemp(path)) < 0)
        return bppc_fail(-errno, "scratch file");
    close(fd);
    bppc.pages = calloc(want ? want : 1, sizeof *bppc.pages);
    bppc.free = calloc(want ? want : 1, sizeof *bppc.free);
    if (!bppc.pages || !bppc.free) {
        unlink(path);
        bppc_release();
        return SQLITE_NOMEM;
    }
    rc = bp_create(&bppc.p, NULL);
    if (rc == 0)
        rc = bp_set_page_size(bppc.p, bppc.cfg.page_size);
    if (rc == 0)
        rc = bp_set_cache_frames(bppc.p, want + BPPC_SLACK);
    if (rc == 0)
        rc = bp_open(bppc.p, path, BP_BUFFERED_IO);
    unlink(path);
    if (rc != 0) {
        rc = bppc_fail(rc, "bp_open of the scratch pool");
        bppc_release();
        return rc;
    }
    for (; bppc.n < want; bppc.n++) {
        if ((rc = bp_alloc_page(bppc.p, &bppc.pages[bppc.n])) != 0) {
            rc = bppc_fail(rc, "a buffer of the scratch pool");
            bppc_release();
            return rc;
        }
        bppc.free[bppc.nfree++] = (int64_t)(want - 1 - bppc.n);
    }
    return SQLITE_OK;
}

static void bppc_shutdown(void *arg)
{
    (void)arg;
    bppc_release();
}

static int64_t bppc_buf_get(const bppc_cache *c)
{
    int64_t b = -1;

    if (!c->pooled)
        return -1;
    pthread_mutex_lock(&bppc_lock);
    if (bppc.nfree)
        b = bppc.free[--bppc.nfree];
    pthread_mutex_unlock(&bppc_lock);
    return b;
}

static uint64_t bppc_nfree(void)
{
    uint64_t n;

    pthread_mutex_lock(&bppc_lock);
    n = bppc.nfree;
    pthread_mutex_unlock(&bppc_lock);
    return n;
}

static void bppc_buf_put(int64_t b)
{
    if (b < 0)
        return;
    pthread_mutex_lock(&bppc_lock);
    bppc.free[bppc.nfree++] = b;
    pthread_mutex_unlock(&bppc_lock);
}

/* ---- a cache's pages -------------------------------------------------------- */

static void bppc_lru_unlink(bppc_page *e)
{
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void bppc_lru_push(bppc_cache *c, bppc_page *e)
{
    e->lnext = c->lru.lnext;
    e->lprev = &c->lru;
    c->lru.lnext->lprev = e;
    c->lru.lnext = e;
}

static bppc_page **bppc_slot(bppc_cache *c, unsigned key)
{
    bppc_page **s = &c->hash[key & (c->nhash - 1)];

    while (*s && (*s)->key != key)
        s = &(*s)->hnext;
    return s;
}

static void bppc_hash_grow(bppc_cache *c)
{
    unsigned n = c->nhash ? 2 * c->nhash : 256;
    bppc_page **h = sqlite3_malloc64(n * sizeof *h);

    if (!h)
        return; /* longer chains, still correct */
    memset(h, 0, n * sizeof *h);
    for (unsigned i = 0; i < c->nhash; i++)
        for (bppc_page *e = c->hash[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = h[e->key & (n - 1)];
            h[e->key & (n - 1)] = e;
        }
    sqlite3_free(c->hash);
    c->hash = h;
    c->nhash = n;
}

/* Take e out of the cache and free it (pinned or not). */
static void bppc_page_free(bppc_cache *c, bppc_page *e)
{
    *bppc_slot(c, e->key) = e->hnext;
    if (!e->pinned)
        bppc_lru_unlink(e);
    if (e->buf < 0)
        sqlite3_free(e->base.pBuf);
    bppc_buf_put(e->buf);
    e->hnext = c->spare;
    c->spare = e;
    c->npage--;
}

static void bppc_trim(bppc_cache *c, unsigned keep)
{
    while (c->npage > keep && c->lru.lprev != &c->lru)
        bppc_page_free(c, c->lru.lprev);
}

/* A free page header, from the spare list or a new chunk; NULL when out
 * of memory. */
static bppc_page *bppc_header(bppc_cache *c)
{
    bppc_page *e = c->spare;

    if (!e) {
        bppc_chunk *k = sqlite3_malloc64(sizeof(bppc_chunk) + 8 +
                                         (uint64_t)BPPC_CHUNK * c->esz);
        char *at;

        if (!k)
            return NULL;
        k->next = c->chunks;
        c->chunks = k;
        at = (char *)(k + 1) + 8 - (uintptr_t)(k + 1) % 8;
        for (unsigned i = 0; i < BPPC_CHUNK; i++) {
            e = (bppc_page *)(at + (size_t)i * c->esz);
            e->hnext = c->spare;
            c->spare = e;
        }
        e = c->spare;
    }
    c->spare = e->hnext;
    return e;
}

static bppc_page *bppc_page_new(bppc_cache *c, unsigned key)
{
    int64_t b = bppc_buf_get(c);
    void *buf = b < 0 ? sqlite3_malloc(c->sz_page) : bppc.pages[b].data;
    bppc_page *e = buf ? bppc_header(c) : NULL;

    if (!e) {
        if (b < 0)
            sqlite3_free(buf);
        bppc_buf_put(b);
        return NULL;
    }
    memset(e, 0, c->esz);
    e->base.pExtra = e + 1;
    e->base.pBuf = buf;
    e->buf = b;
    __atomic_add_fetch(b < 0 ? &bppc.from_malloc : &bppc.from_pool, 1,
                       __ATOMIC_RELAXED);
    if (c->npage >= c->nhash)
        bppc_hash_grow(c);
    if (key > c->maxkey)
        c->maxkey = key;
    e->key = key;
    e->hnext = c->hash[key & (c->nhash - 1)];
    c->hash[key & (c->nhash - 1)] = e;
    c->npage++;
    return e;
}

/* ---- sqlite3_pcache_methods2 ------------------------------------------------ */

static sqlite3_pcache *bppc_create(int sz_page, int sz_extra, int purgeable)
{
    bppc_cache *c = sqlite3_malloc64(sizeof *c);

    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->sz_page = sz_page;
    c->sz_extra = sz_extra;
    c->purgeable = purgeable;
    c->pooled = purgeable && (unsigned)sz_page <= bppc.cfg.page_size;
    c->nmax = 100;
    c->esz = (sizeof(bppc_page) + (size_t)sz_extra + 7) & ~(size_t)7;
    c->lru.lnext = c->lru.lprev = &c->lru;
    bppc_hash_grow(c);
    if (!c->hash) {
        sqlite3_free(c);
        return NULL;
    }
    return (sqlite3_pcache *)c;
}

static void bppc_cachesize(sqlite3_pcache *pc, int n)
{
    bppc_cache *c = (bppc_cache *)pc;

    c->nmax = n > 0 ? (unsigned)n : 1;
    if (c->purgeable)
        bppc_trim(c, c->nmax);
}

static int bppc_pagecount(sqlite3_pcache *pc)
{
    return (int)((bppc_cache *)pc)->npage;
}

static sqlite3_pcache_page *bppc_fetch(sqlite3_pcache *pc, unsigned key,
                                       int create)
{
    bppc_cache *c = (bppc_cache *)pc;
    bppc_page *e = *bppc_slot(c, key);
    int full;

    if (e) {
        if (!e->pinned) {
            bppc_lru_unlink(e);
            e->pinned = 1;
        }
        return &e->base;
    }
    if (!create)
        return NULL;
    full = c->purgeable &&
           (c->npage >= c->nmax || (c->pooled && bppc_nfree() == 0));
    if (full && c->lru.lprev != &c->lru) { /* recycle the oldest */
        e = c->lru.lprev;
        bppc_lru_unlink(e);
        *bppc_slot(c, e->key) = e->hnext;
        memset(e->base.pExtra, 0, (size_t)c->sz_extra);
        if (key > c->maxkey)
            c->maxkey = key;
        e->key = key;
        e->hnext = c->hash[key & (c->nhash - 1)];
        c->hash[key & (c->nhash - 1)] = e;
    } else if (full && create == 1) {
        return NULL; /* SQLite spills dirty pages, then asks with 2 */
    } else if (!(e = bppc_page_new(c, key))) {
        return NULL;
    }
    e->pinned = 1;
    return &e->base;
}

static void bppc_unpin(sqlite3_pcache *pc, sqlite3_pcache_page *pg,
                       int discard)
{
    bppc_cache *c = (bppc_cache *)pc;
    bppc_page *e = (bppc_page *)pg;

    if (discard) {
        bppc_page_free(c, e);
        return;
    }
    e->pinned = 0;
    bppc_lru_push(c, e);
    if (c->purgeable)
        bppc_trim(c, c->nmax);
}

static void bppc_rekey(sqlite3_pcache *pc, sqlite3_pcache_page *pg,
                       unsigned old_key, unsigned new_key)
{
    bppc_cache *c = (bppc_cache *)pc;
    bppc_page *e = (bppc_page *)pg, *other;

    (void)old_key;
    if ((other = *bppc_slot(c, new_key)) != NULL && other != e)
        bppc_page_free(c, other);
    *bppc_slot(c, e->key) = e->hnext;
    if (new_key > c->maxkey)
        c->maxkey = new_key;
    e->key = new_key;
    e->hnext = c->hash[new_key & (c->nhash - 1)];
    c->hash[new_key & (c->nhash - 1)] = e;
}

static void bppc_truncate(sqlite3_pcache *pc, unsigned limit)
{
    bppc_cache *c = (bppc_cache *)pc;
    bppc_page *e;

    if (limit > c->maxkey || c->npage == 0)
        return;
    if (c->maxkey - limit < c->nhash) { /* the few keys above the limit */
        for (unsigned k = limit;; k++) {
            if ((e = *bppc_slot(c, k)) != NULL)
                bppc_page_free(c, e);
            if (k == c->maxkey)
                break;
        }
    } else {
        for (unsigned i = 0; i < c->nhash; i++)
            for (bppc_page *next, *x = c->hash[i]; x; x = next) {
                next = x->hnext;
                if (x->key >= limit)
                    bppc_page_free(c, x);
            }
    }
    c->maxkey = limit ? limit - 1 : 0;
}

static void bppc_destroy(sqlite3_pcache *pc)
{
    bppc_cache *c = (bppc_cache *)pc;

    bppc_truncate(pc, 0);
    while (c->chunks) {
        bppc_chunk *k = c->chunks;

        c->chunks = k->next;
        sqlite3_free(k);
    }
    sqlite3_free(c->hash);
    sqlite3_free(c);
}

static void bppc_shrink(sqlite3_pcache *pc)
{
    bppc_trim((bppc_cache *)pc, 0);
}

static const sqlite3_pcache_methods2 bppc_methods = {
    .iVersion = 1,
    .xInit = bppc_init,
    .xShutdown = bppc_shutdown,
    .xCreate = bppc_create,
    .xCachesize = bppc_cachesize,
    .xPagecount = bppc_pagecount,
    .xFetch = bppc_fetch,
    .xUnpin = bppc_unpin,
    .xRekey = bppc_rekey,
    .xTruncate = bppc_truncate,
    .xDestroy = bppc_destroy,
    .xShrink = bppc_shrink,
};

/* ---- public ------------------------------------------------------------------ */

int bppcache_install(const bppcache_config *cfg)
{
    sqlite3_pcache_methods2 saved;
    int rc;

    if (bppc.p)
        return SQLITE_MISUSE;
    if ((rc = sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &saved)) != SQLITE_OK)
        return rc;
    if ((rc = sqlite3_config(SQLITE_CONFIG_PCACHE2, &bppc_methods)) !=
        SQLITE_OK)
        return rc;
    if (!bppc.installed)
        bppc.saved = saved;
    bppc.installed = 1;
    bppc.cfg = cfg ? *cfg : (bppcache_config){0};
    if (!bppc.cfg.cache_bytes)
        bppc.cfg.cache_bytes = BPPC_DEFAULT_CACHE;
    if (!bppc.cfg.page_size)
        bppc.cfg.page_size = BPPC_DEFAULT_PAGE;
    snprintf(bppc.dir, sizeof bppc.dir, "%s",
             bppc.cfg.dir ? bppc.cfg.dir : "/var/tmp");
    bppc.cfg.dir = bppc.dir;
    return SQLITE_OK;
}

int bppcache_uninstall(void)
{
    int rc;

    if (!bppc.installed)
        return SQLITE_OK;
    if ((rc = sqlite3_config(SQLITE_CONFIG_PCACHE2, &bppc.saved)) !=
        SQLITE_OK)
        return rc;
    bppc.installed = 0;
    return SQLITE_OK;
}

bp_pool *bppcache_pool(void)
{
    return bppc.p;
}

void bppcache_counts(uint64_t *from_pool, uint64_t *from_malloc)
{
    if (from_pool)
        *from_pool = __atomic_load_n(&bppc.from_pool, __ATOMIC_RELAXED);
    if (from_malloc)
        *from_malloc = __atomic_load_n(&bppc.from_malloc, __ATOMIC_RELAXED);
}

const char *bppcache_last_error(void)
{
    return bppc_err;
}
