/*
 * kv_bufpool.c - the "bufpool" engine of kv.h: the examples/btree.h B+tree
 * on a libbufpool pool whose data file is cfg->dir/bt.db (O_DIRECT; the
 * cache is an anonymous memfd).
 *
 * Memory fairness rule: the engine's memory is the pool's cache plus, for
 * the copy backend, its private window (the only backend whose window is
 * memory of its own: rfp and mmap map cache frames, linear maps the whole
 * cache).  cache + private window = cfg->mem_budget, so the bufpool engine
 * gets exactly the memory LMDB gets from its cgroup limit:
 *   rfp, mmap, linear: cache = budget (window: the library's default);
 *   copy:              window = budget / 5, cache = the rest; out of
 *                      memory (cfg->out_of_memory) window = budget / 16:
 *                      a window slot holds a copy of a cached page, so
 *                      every slot is a page the cache cannot hold, and a
 *                      window miss (a copy from the frame, ~1 us) is cheap
 *                      next to the disk read a cache miss costs (~100 us).
 *                      `bpbench cachesim` shows the cost of the split.
 * Warm start (cfg->keep_shm, in-memory runs): the pool is a shared cache
 * kept in that /dev/shm name, so the reopen after the load revives it and
 * the run reads nothing the load already cached (LMDB keeps the kernel's
 * page cache likewise).
 * Out of memory the pool's background flusher runs too (bp_set_flusher,
 * KB_OOM_FLUSHER_PCT of the frames ahead of the CLOCK hand), as an engine
 * whose data exceeds its memory would run it: a fix miss then seldom has to
 * write a dirty victim before its read.  LMDB's counterpart is the
 * kernel's writeback of its dirty page-cache pages.  BPBENCH_FLUSHER=pct
 * overrides it (0: off), to see the difference.
 * For "auto" the pool is opened with cache = budget; when the calibration
 * picks copy, it is reopened as copy with the split above.  The data file
 * is read and written with O_DIRECT, so the kernel's page cache holds none
 * of it.
 *
 * BPBENCH_POOL_STATS=1 prints the pool's counters (fixes, window and
 * cache misses, reads and early reads, writes, latch waits, reader
 * barriers, mean read and write latency) on stderr when the engine
 * closes: once after the load, once after the run.
 *
 * Transactions: none.  kv_begin hands out the one immutable kv_txn of the
 * handle to every thread; commit is a no-op and abort cannot undo.
 *
 * Built without the tree (no examples/btree*.c yet: BENCH_HAVE_BTREE
 * undefined), kv_open fails with -ENOSYS and says why.
 */
#include "kv_impl.h"

#include "bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef BENCH_HAVE_BTREE
#include "btree.h"

typedef struct kb_kv {
    struct kv base;
    bp_pool *pool;
    bt_tree *tree;
    bt_bulk *bulk; /* a sorted load in progress */
    struct kv_txn txn;
} kb_kv;

static const char *const kb_files[] = {"bt.db", NULL};

static int kb_code(int rc)
{
    return rc == BT_NOTFOUND ? KV_NOTFOUND : rc;
}

static void kb_close(kv *k)
{
    kb_kv *b = (kb_kv *)k;
    bp_stats st;
    /* BPBENCH_POOL_STATS=1: the pool's counters at close, on stderr */
    if (getenv("BPBENCH_POOL_STATS") && b->pool &&
        bp_stats_get(b->pool, &st, sizeof st) == 0)
        fprintf(stderr,
                "pool %s: fixes %llu, window misses %llu, cache misses "
                "%llu, reads %llu (early %llu), writes %llu (batched %llu, "
                "by the flusher %llu), latch waits %llu, opt "
                "failures %llu, reader barriers %llu (%s), mean read "
                "%.1f us, mean write %.1f us\n",
                kv_label(k), (unsigned long long)st.fixes,
                (unsigned long long)st.window_misses,
                (unsigned long long)st.cache_misses,
                (unsigned long long)st.reads,
                (unsigned long long)st.reads_early,
                (unsigned long long)st.writes,
                (unsigned long long)st.batch_writes,
                (unsigned long long)st.flusher_pages,
                (unsigned long long)st.latch_waits,
                (unsigned long long)st.opt_failures,
                (unsigned long long)st.reader_barriers, st.reader_fence,
                st.reads ? st.read_ns / 1e3 / (double)st.reads : 0.0,
                st.writes ? st.write_ns / 1e3 / (double)st.writes : 0.0);
    bt_close(b->tree);
    bp_close(b->pool);
    free(b);
}

#define KB_OOM_FLUSHER_PCT 10u

/* Open the pool with backend bk and the budget split of the header. */
static int kb_pool_open(const kv_cfg *cfg, bp_backend bk, const char *path,
                        bp_pool **out, char *err, size_t errsz)
{
    size_t psz = cfg->page_size ? cfg->page_size : 8192;
    struct bu_pool_cfg pc = {
        .path = path,
        .open_flags = BP_CREATE,
        .page_size = psz,
        .cache_bytes = cfg->mem_budget,
        .backend = bk,
    };
    const char *fl = getenv("BPBENCH_FLUSHER");
    if (fl)
        pc.flusher_pct = (unsigned)atoi(fl);
    else if (cfg->out_of_memory)
        pc.flusher_pct = KB_OOM_FLUSHER_PCT;
    if (cfg->keep_shm && bk != BP_BACKEND_COPY) { /* copy keeps no shared
                                                      cache: cold */
        pc.shm_name = cfg->keep_shm;
        pc.shm_keep = 1;
    }
    if (bk == BP_BACKEND_COPY) {
        uint64_t win = cfg->mem_budget / (cfg->out_of_memory ? 16 : 5) / psz;
        pc.window_slots = win ? win : 1;
        pc.cache_bytes = cfg->mem_budget - pc.window_slots * psz;
    }
    return bu_pool_open(&pc, out, err, errsz);
}

static int kb_open(kv **out, const kv_cfg *cfg, char *err, size_t errsz)
{
    kb_kv *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errsz, "bufpool: out of memory");
        return -ENOMEM;
    }
    b->base.ops = &kv_bufpool_ops;
    b->txn.k = &b->base;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", cfg->dir, kb_files[0]);

    int rc = kb_pool_open(cfg, cfg->backend, path, &b->pool, err, errsz);
    bp_stats st;
    if (!rc)
        rc = bu_stats(b->pool, &st, err, errsz);
    if (!rc && cfg->backend == BP_BACKEND_AUTO &&
        st.backend == BP_BACKEND_COPY) {
        bp_close(b->pool);
        b->pool = NULL;
        rc = kb_pool_open(cfg, BP_BACKEND_COPY, path, &b->pool, err, errsz);
    }
    if (!rc) {
        rc = bt_open(&b->tree, b->pool);
        if (rc)
            snprintf(err, errsz, "bt_open: %s", kv_strerror(rc));
    }
    if (rc) {
        kb_close(&b->base);
        return rc;
    }
    if (cfg->backend == BP_BACKEND_AUTO)
        snprintf(b->base.label, sizeof b->base.label, "bufpool/auto (%s)",
                 bp_backend_name((bp_backend)st.backend));
    else
        snprintf(b->base.label, sizeof b->base.label, "bufpool/%s",
                 bp_backend_name(cfg->backend));
    *out = &b->base;
    return 0;
}

static int kb_flush(kv *k) { return bt_flush(((kb_kv *)k)->tree); }

static int kb_begin(kv *k, int write, kv_txn **out)
{
    (void)write;
    *out = &((kb_kv *)k)->txn;
    return 0;
}

static int kb_commit(kv_txn *t)
{
    (void)t;
    return 0;
}

static void kb_abort(kv_txn *t) { (void)t; }

static int kb_get(kv_txn *t, const void *key, size_t klen, void *val,
                  size_t cap, size_t *vlen)
{
    return kb_code(bt_get(((kb_kv *)t->k)->tree, key, klen, val, cap, vlen));
}

static int kb_put(kv_txn *t, const void *key, size_t klen, const void *val,
                  size_t vlen)
{
    return bt_put(((kb_kv *)t->k)->tree, key, klen, val, vlen);
}

static int kb_del(kv_txn *t, const void *key, size_t klen)
{
    return kb_code(bt_del(((kb_kv *)t->k)->tree, key, klen));
}

static int kb_scan(kv_txn *t, const void *start, size_t slen, uint64_t limit,
                   kv_scan_fn fn, void *ctx)
{
    return bt_scan(((kb_kv *)t->k)->tree, start, slen, limit, fn, ctx, NULL);
}

static int kb_load_begin(kv *k)
{
    kb_kv *b = (kb_kv *)k;
    return bt_bulk_begin(b->tree, 1.0, &b->bulk);
}

static int kb_load_add(kv *k, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    return bt_bulk_add(((kb_kv *)k)->bulk, key, klen, val, vlen);
}

static int kb_load_end(kv *k, int abort)
{
    kb_kv *b = (kb_kv *)k;
    int rc = abort ? bt_bulk_abort(b->bulk) : bt_bulk_end(b->bulk);
    b->bulk = NULL;
    return rc;
}

static const char *kb_strerror(int rc)
{
    if (rc == BT_NOTFOUND)
        return "BT_NOTFOUND: key not in the tree";
    if (rc == BT_EORDER)
        return "BT_EORDER: a bulk-loaded key not above the previous one";
    if (rc == BT_ECORRUPT)
        return "BT_ECORRUPT: a page does not hold a valid node";
    return NULL;
}

const kv_ops kv_bufpool_ops = {
    .name = "bufpool",
    .files = kb_files,
    .open = kb_open,
    .flush = kb_flush,
    .close = kb_close,
    .begin = kb_begin,
    .commit = kb_commit,
    .abort = kb_abort,
    .get = kb_get,
    .put = kb_put,
    .del = kb_del,
    .scan = kb_scan,
    .strerror = kb_strerror,
    .load_begin = kb_load_begin,
    .load_add = kb_load_add,
    .load_end = kb_load_end,
};

#else /* !BENCH_HAVE_BTREE */

static const char *const kb_files[] = {"bt.db", NULL};

static int kb_open(kv **out, const kv_cfg *cfg, char *err, size_t errsz)
{
    (void)out;
    (void)cfg;
    snprintf(err, errsz, "bufpool: built without examples/btree*.c (the "
                         "B+tree), so there is no bufpool engine");
    return -ENOSYS;
}

const kv_ops kv_bufpool_ops = {
    .name = "bufpool",
    .files = kb_files,
    .open = kb_open,
};

#endif /* BENCH_HAVE_BTREE */
