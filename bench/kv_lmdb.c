/*
 * kv_lmdb.c - the "lmdb" engine of kv.h: one LMDB environment with one
 * (unnamed) database in cfg->dir, the reference the bufpool B+tree is
 * measured against.
 *
 * Environment flags, chosen to compare like with like:
 *   MDB_NOSYNC | MDB_NOMETASYNC  no fsync/msync at commit.  The bufpool
 *       engine makes nothing durable per operation either (bt_flush only at
 *       kv_flush), so both engines defer durability to kv_flush, which here
 *       is mdb_env_sync(force).  A crash may lose the last commits but never
 *       corrupts the file (LMDB's shadow paging keeps it consistent).
 *   MDB_WRITEMAP  write transactions change pages in the shared map in
 *       place instead of malloc'ed copies written back with pwrite at commit:
 *       the faster write path, and the same "update the page in memory,
 *       write back later" model as the buffer pool.  The data file is then
 *       sparse up to the map size (st_blocks, not st_size, is the data).
 *   MDB_NORDAHEAD  madvise(MADV_RANDOM) on the map: YCSB and TPC-C read
 *       random pages, so kernel read-ahead would only fill the memory
 *       budget (the cgroup limit in out-of-memory mode) with neighbours
 *       nobody asked for.  In memory it changes nothing after the warm-up.
 *   MDB_NOTLS  read transactions are not tied to threads: each worker keeps
 *       its own read transaction and reuses it with mdb_txn_reset /
 *       mdb_txn_renew (no reader-slot search, no malloc per read), and
 *       kv_close can abort them all from the closing thread.
 * Map size: 4 x cfg->max_bytes, at least 1 GiB (address space only).
 * Memory: LMDB has no cache of its own; its memory is the kernel's page
 * cache over the map, which the harness limits with a memory cgroup of
 * cfg->mem_budget bytes in out-of-memory mode.
 *
 * Transactions: kv_begin(write) is a real LMDB write transaction (one at a
 * time; the others wait in mdb_txn_begin); kv_abort undoes it.
 * Read transactions are snapshots.  Each thread claims one slot of
 * KL_SLOTS on its first kv_begin (a thread-local pointer remembers it): the
 * slot keeps the thread's reset read transaction and read cursor.  A nested
 * begin, or a thread beyond the slots, gets a one-shot transaction from the
 * heap.
 */
#include "kv_impl.h"

#include <errno.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KL_SLOTS 256

typedef struct kl_txn {
    struct kv_txn base;
    MDB_txn *txn;
    MDB_cursor *cur; /* read slots: kept across reset/renew */
    int cur_fresh;   /* cur renewed for this txn */
    int write;
    int busy;
    int heap;        /* one-shot: freed at commit/abort */
} kl_txn;

typedef struct kl_slot {
    kl_txn rd;
    kl_txn wr;
} kl_slot;

typedef struct kl_kv {
    struct kv base;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *load;     /* a sorted load's write transaction */
    uint64_t load_n;   /* puts in it */
    uint64_t id; /* tells a thread's cached slot of a closed kv apart */
    atomic_uint nslots;
    kl_slot slots[KL_SLOTS];
} kl_kv;

static const char *const kl_files[] = {"data.mdb", "lock.mdb", NULL};

static atomic_uint_fast64_t kl_next_id = 1;

/* The slot this thread claimed in the kv with id tls_id. */
static _Thread_local uint64_t kl_tls_id;
static _Thread_local kl_slot *kl_tls_slot;

static int kl_code(int rc)
{
    /* LMDB returns MDB_* codes (negative) or errno values (positive). */
    return rc > 0 ? -rc : rc;
}

static void kl_close(kv *k)
{
    kl_kv *l = (kl_kv *)k;
    unsigned n = atomic_load(&l->nslots);
    for (unsigned i = 0; i < n && i < KL_SLOTS; i++) {
        if (l->slots[i].rd.cur)
            mdb_cursor_close(l->slots[i].rd.cur);
        if (l->slots[i].rd.txn)
            mdb_txn_abort(l->slots[i].rd.txn);
        if (l->slots[i].wr.txn)
            mdb_txn_abort(l->slots[i].wr.txn);
    }
    if (l->env)
        mdb_env_close(l->env);
    free(l);
}

static int kl_open(kv **out, const kv_cfg *cfg, char *err, size_t errsz)
{
    kl_kv *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errsz, "lmdb: out of memory");
        return -ENOMEM;
    }
    l->base.ops = &kv_lmdb_ops;
    snprintf(l->base.label, sizeof l->base.label, "lmdb");
    l->id = atomic_fetch_add(&kl_next_id, 1);

    uint64_t map = cfg->max_bytes * 4;
    if (map < (1ull << 30))
        map = 1ull << 30;
    const char *what = "mdb_env_create";
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&l->env);
    if (!rc) {
        what = "mdb_env_set_mapsize";
        rc = mdb_env_set_mapsize(l->env, (size_t)map);
    }
    if (!rc) {
        what = "mdb_env_set_maxreaders";
        rc = mdb_env_set_maxreaders(l->env, 2 * KL_SLOTS);
    }
    if (!rc) {
        what = "mdb_env_open";
        rc = mdb_env_open(l->env, cfg->dir,
                          MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP |
                              MDB_NORDAHEAD | MDB_NOTLS,
                          0600);
    }
    if (!rc) {
        what = "mdb_txn_begin";
        rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    }
    if (!rc) {
        what = "mdb_dbi_open";
        rc = mdb_dbi_open(txn, NULL, 0, &l->dbi);
        if (rc)
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);
    }
    if (rc) {
        snprintf(err, errsz, "lmdb: %s in %s: %s", what, cfg->dir,
                 mdb_strerror(rc));
        kl_close(&l->base);
        return kl_code(rc);
    }
    *out = &l->base;
    return 0;
}

static int kl_flush(kv *k)
{
    return kl_code(mdb_env_sync(((kl_kv *)k)->env, 1));
}

static kl_slot *kl_my_slot(kl_kv *l)
{
    if (kl_tls_id == l->id)
        return kl_tls_slot;
    unsigned i = atomic_fetch_add(&l->nslots, 1);
    if (i >= KL_SLOTS)
        return NULL;
    kl_slot *s = &l->slots[i];
    s->rd.base.k = &l->base;
    s->wr.base.k = &l->base;
    s->wr.write = 1;
    kl_tls_id = l->id;
    kl_tls_slot = s;
    return s;
}

static int kl_begin(kv *k, int write, kv_txn **out)
{
    kl_kv *l = (kl_kv *)k;
    kl_slot *s = kl_my_slot(l);
    kl_txn *t = s ? (write ? &s->wr : &s->rd) : NULL;
    if (!t || t->busy) {
        t = calloc(1, sizeof *t);
        if (!t)
            return -ENOMEM;
        t->base.k = k;
        t->write = write;
        t->heap = 1;
    }
    int rc;
    if (!write && t->txn) {
        rc = mdb_txn_renew(t->txn);
    } else {
        rc = mdb_txn_begin(l->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
        if (rc)
            t->txn = NULL;
    }
    if (rc) {
        if (t->heap)
            free(t);
        return kl_code(rc);
    }
    t->busy = 1;
    t->cur_fresh = 0;
    *out = &t->base;
    return 0;
}

/* End t: commit (commit != 0) or abort.  Read transactions of a slot are
 * reset for reuse instead. */
static int kl_end(kv_txn *kt, int commit)
{
    kl_txn *t = (kl_txn *)kt;
    int rc = 0;
    if (!t->write && !t->heap) {
        mdb_txn_reset(t->txn);
    } else {
        if (t->cur)
            mdb_cursor_close(t->cur);
        t->cur = NULL;
        if (commit && t->write)
            rc = mdb_txn_commit(t->txn);
        else
            mdb_txn_abort(t->txn);
        t->txn = NULL;
    }
    t->busy = 0;
    if (t->heap)
        free(t);
    return kl_code(rc);
}

static int kl_commit(kv_txn *t) { return kl_end(t, 1); }

static void kl_abort(kv_txn *t) { kl_end(t, 0); }

static int kl_get(kv_txn *kt, const void *key, size_t klen, void *val,
                  size_t cap, size_t *vlen)
{
    kl_txn *t = (kl_txn *)kt;
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, ((kl_kv *)kt->k)->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return KV_NOTFOUND;
    if (rc)
        return kl_code(rc);
    if (cap)
        memcpy(val, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
    if (vlen)
        *vlen = v.mv_size;
    return 0;
}

static int kl_put(kv_txn *kt, const void *key, size_t klen, const void *val,
                  size_t vlen)
{
    kl_txn *t = (kl_txn *)kt;
    if (!t->write)
        return -EINVAL;
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    return kl_code(mdb_put(t->txn, ((kl_kv *)kt->k)->dbi, &k, &v, 0));
}

static int kl_del(kv_txn *kt, const void *key, size_t klen)
{
    kl_txn *t = (kl_txn *)kt;
    if (!t->write)
        return -EINVAL;
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(t->txn, ((kl_kv *)kt->k)->dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? KV_NOTFOUND : kl_code(rc);
}

static int kl_scan(kv_txn *kt, const void *start, size_t slen,
                   uint64_t limit, kv_scan_fn fn, void *ctx)
{
    kl_txn *t = (kl_txn *)kt;
    MDB_dbi dbi = ((kl_kv *)kt->k)->dbi;
    int rc = 0;
    if (!t->cur)
        rc = mdb_cursor_open(t->txn, dbi, &t->cur);
    else if (!t->cur_fresh)
        rc = mdb_cursor_renew(t->txn, t->cur);
    if (rc)
        return kl_code(rc);
    t->cur_fresh = 1;
    MDB_val k = {slen, (void *)start}, v;
    rc = slen ? mdb_cursor_get(t->cur, &k, &v, MDB_SET_RANGE)
              : mdb_cursor_get(t->cur, &k, &v, MDB_FIRST);
    for (uint64_t n = 0; !rc && (limit == 0 || n < limit); n++) {
        if (fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
        rc = mdb_cursor_get(t->cur, &k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : kl_code(rc);
}

static const char *kl_strerror(int rc)
{
    return rc <= MDB_KEYEXIST && rc >= MDB_LAST_ERRCODE ? mdb_strerror(rc)
                                                        : NULL;
}

/* A sorted load: MDB_APPEND puts (LMDB's path for keys in order: no
 * search, full pages), committed every KL_LOAD_BATCH records. */
#define KL_LOAD_BATCH 100000u

static int kl_load_begin(kv *k)
{
    kl_kv *l = (kl_kv *)k;
    l->load_n = 0;
    return kl_code(mdb_txn_begin(l->env, NULL, 0, &l->load));
}

static int kl_load_add(kv *k, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    kl_kv *l = (kl_kv *)k;
    MDB_val kk = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_put(l->load, l->dbi, &kk, &v, MDB_APPEND);

    if (rc == 0 && ++l->load_n % KL_LOAD_BATCH == 0) {
        rc = mdb_txn_commit(l->load);
        l->load = NULL;
        if (rc == 0)
            rc = mdb_txn_begin(l->env, NULL, 0, &l->load);
    }
    return kl_code(rc);
}

static int kl_load_end(kv *k, int abort)
{
    kl_kv *l = (kl_kv *)k;
    int rc = 0;

    if (l->load && abort)
        mdb_txn_abort(l->load);
    else if (l->load)
        rc = mdb_txn_commit(l->load);
    l->load = NULL;
    return kl_code(rc);
}

const kv_ops kv_lmdb_ops = {
    .name = "lmdb",
    .files = kl_files,
    .open = kl_open,
    .flush = kl_flush,
    .close = kl_close,
    .begin = kl_begin,
    .commit = kl_commit,
    .abort = kl_abort,
    .get = kl_get,
    .put = kl_put,
    .del = kl_del,
    .scan = kl_scan,
    .strerror = kl_strerror,
    .load_begin = kl_load_begin,
    .load_add = kl_load_add,
    .load_end = kl_load_end,
};
