/*
 * kv_impl.h - what kv.c shares with the engines (kv_bufpool.c, kv_lmdb.c):
 * the ops table each engine fills, and the two structs every engine embeds
 * as its first member.  Not for workloads: they use kv.h only.
 *
 * kv.c owns dispatch (kv_get(t, ...) -> t->k->ops->get(t, ...)), kv_reopen
 * and kv_strerror; an engine owns everything behind its ops table.
 */
#ifndef BENCH_KV_IMPL_H
#define BENCH_KV_IMPL_H

#include "kv.h"

typedef struct kv_ops {
    const char *name;
    /* Files the engine creates in cfg->dir (NULL-terminated). */
    const char *const *files;
    int (*open)(kv **out, const kv_cfg *cfg, char *err, size_t errsz);
    int (*flush)(kv *k);
    void (*close)(kv *k);
    int (*begin)(kv *k, int write, kv_txn **out);
    int (*commit)(kv_txn *t);
    void (*abort)(kv_txn *t);
    int (*get)(kv_txn *t, const void *key, size_t klen, void *val,
               size_t cap, size_t *vlen);
    int (*put)(kv_txn *t, const void *key, size_t klen, const void *val,
               size_t vlen);
    int (*del)(kv_txn *t, const void *key, size_t klen);
    int (*scan)(kv_txn *t, const void *start, size_t slen, uint64_t limit,
                kv_scan_fn fn, void *ctx);
    /* Name of one of the engine's own codes, NULL for any other code. */
    const char *(*strerror)(int rc);
    /* A load of strictly ascending keys into an empty store, one thread
     * (kv_load_sorted_*); NULL when the engine has no such path. */
    int (*load_begin)(kv *k);
    int (*load_add)(kv *k, const void *key, size_t klen, const void *val,
                    size_t vlen);
    int (*load_end)(kv *k, int abort);
} kv_ops;

/* First member of every engine's handle. */
struct kv {
    const kv_ops *ops;
    char label[96];
};

/* First member of every engine's transaction. */
struct kv_txn {
    kv *k;
};

extern const kv_ops kv_bufpool_ops;
extern const kv_ops kv_lmdb_ops;

#endif /* BENCH_KV_IMPL_H */
