/*
 * kv.c - dispatch of the kv.h interface to the engines' ops tables
 * (kv_impl.h), and the names of their codes.
 *
 * Codes: KV_NOTFOUND (1) is not an error; negative codes are a negative
 * errno, the pool's BP_E* (-30999..-30900), the tree's BT_* (-30801,
 * -30800) or LMDB's MDB_* (-30799..MDB_LAST_ERRCODE).  The ranges do not
 * overlap, so kv_strerror names any of them without knowing the engine
 * (each engine names its own through its ops table).
 */
#include "kv_impl.h"

#include <errno.h>
#include <string.h>

static const kv_ops *kv_ops_of(kv_kind kind)
{
    return kind == KV_LMDB ? &kv_lmdb_ops : &kv_bufpool_ops;
}

int kv_open(kv **out, const kv_cfg *cfg, char *err, size_t errsz)
{
    if (errsz)
        err[0] = '\0';
    if (!out || !cfg || !cfg->dir)
        return -EINVAL;
    *out = NULL;
    return kv_ops_of(cfg->kind)->open(out, cfg, err, errsz);
}

int kv_reopen(kv **out, const kv_cfg *cfg, char *err, size_t errsz)
{
    /* Both engines open existing files the same way they create them. */
    return kv_open(out, cfg, err, errsz);
}

int kv_flush(kv *k) { return k->ops->flush(k); }

void kv_close(kv *k)
{
    if (k)
        k->ops->close(k);
}

int kv_load_sorted_begin(kv *k)
{
    return k->ops->load_begin ? k->ops->load_begin(k) : -ENOTSUP;
}

int kv_load_sorted_add(kv *k, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    return k->ops->load_add(k, key, klen, val, vlen);
}

int kv_load_sorted_end(kv *k, int abort)
{
    return k->ops->load_end(k, abort);
}

const char *kv_label(const kv *k) { return k->label; }

const char *const *kv_files(kv_kind kind) { return kv_ops_of(kind)->files; }

int kv_begin(kv *k, int write, kv_txn **out)
{
    return k->ops->begin(k, write, out);
}

int kv_commit(kv_txn *t) { return t->k->ops->commit(t); }

void kv_abort(kv_txn *t) { t->k->ops->abort(t); }

int kv_get(kv_txn *t, const void *key, size_t klen, void *val, size_t cap,
           size_t *vlen)
{
    return t->k->ops->get(t, key, klen, val, cap, vlen);
}

int kv_put(kv_txn *t, const void *key, size_t klen, const void *val,
           size_t vlen)
{
    return t->k->ops->put(t, key, klen, val, vlen);
}

int kv_del(kv_txn *t, const void *key, size_t klen)
{
    return t->k->ops->del(t, key, klen);
}

int kv_scan(kv_txn *t, const void *start, size_t slen, uint64_t limit,
            kv_scan_fn fn, void *ctx)
{
    return t->k->ops->scan(t, start, slen, limit, fn, ctx);
}

const char *kv_strerror(int rc)
{
    if (rc == KV_NOTFOUND)
        return "key not found";
    const char *s = kv_lmdb_ops.strerror(rc);
    if (!s && kv_bufpool_ops.strerror)
        s = kv_bufpool_ops.strerror(rc);
    return s ? s : bp_strerror(rc);
}
