/*
 * kv.h - the key-value engines that `bpbench ycsb` and `bpbench tpcc`
 * compare, behind one interface: "bufpool" (the examples/btree.h B+tree on a
 * libbufpool pool, any window backend) and "lmdb" (the same keys and values
 * in one LMDB database).
 *
 * Transactions: kv_begin/kv_commit/kv_abort bracket a group of operations.
 * LMDB maps them onto real LMDB transactions (one writer at a time, readers
 * on snapshots).  The bufpool engine has no transactions: begin/commit are
 * no-ops, each operation is atomic on its own, and kv_abort cannot undo:
 * a workload that needs atomic groups (TPC-C) serializes conflicting
 * groups with its own locks and checks before it writes, identically for
 * every engine.
 *
 * Threads: one kv handle is shared by all worker threads; each thread uses
 * its own kv_txn.  A kv_txn is used by one thread at a time.
 */
#ifndef BENCH_KV_H
#define BENCH_KV_H

#include <stddef.h>
#include <stdint.h>

#include "bufpool.h"

#define KV_NOTFOUND 1 /* get/del: key absent (not an error) */

typedef enum kv_kind { KV_BUFPOOL = 0, KV_LMDB } kv_kind;

typedef struct kv_cfg {
    kv_kind kind;
    bp_backend backend;   /* KV_BUFPOOL: window backend */
    const char *dir;      /* existing private directory for the files */
    uint64_t mem_budget;  /* bytes of memory the engine may use for data
                             (bufpool: cache + private window; lmdb: the
                             memory cgroup limit set by the harness) */
    size_t page_size;     /* bufpool page size (default 8192 when 0) */
    uint64_t max_bytes;   /* expected data size (lmdb map size is set to
                             4x this, at least 1 GiB) */
    int threads;          /* worker threads that will use the handle */
    int out_of_memory;    /* the data is >= 4x mem_budget (bufpool copy:
                             a smaller private window, more cache) */
    const char *keep_shm; /* bufpool: keep the cache in this /dev/shm name
                             from close to reopen (a shared cache, kept),
                             so a reopen revives it warm; NULL: a memfd,
                             and a reopen starts cold */
} kv_cfg;

typedef struct kv kv;
typedef struct kv_txn kv_txn;

/* Open (creating the files in cfg->dir).  On failure returns a negative
 * code and a one-line reason in err. */
int kv_open(kv **out, const kv_cfg *cfg, char *err, size_t errsz);
/* Make everything durable (bufpool: bt_flush; lmdb: mdb_env_sync). */
int kv_flush(kv *k);
/* Close and free (no flush).  NULL is accepted. */
void kv_close(kv *k);
/* Reopen the files (after kv_close) with the same cfg: the run starts
 * warm (keep_shm, and LMDB's page cache) or cold. */
int kv_reopen(kv **out, const kv_cfg *cfg, char *err, size_t errsz);
/* A load of strictly ascending keys into an empty store by one thread,
 * through the engine's sorted path (bufpool: bt_bulk_*, LMDB: MDB_APPEND
 * puts).  begin returns -ENOTSUP when the engine has none; end with
 * abort set gives up the load. */
int kv_load_sorted_begin(kv *k);
int kv_load_sorted_add(kv *k, const void *key, size_t klen, const void *val,
                       size_t vlen);
int kv_load_sorted_end(kv *k, int abort);
/* Names of the files an engine of this kind creates in cfg->dir
 * (NULL-terminated), so a harness can register them for cleanup. */
const char *const *kv_files(kv_kind kind);
/* "bufpool/auto (copy)" style label: engine, backend and what auto chose. */
const char *kv_label(const kv *k);

int kv_begin(kv *k, int write, kv_txn **out);
int kv_commit(kv_txn *t);
void kv_abort(kv_txn *t);

/* 0, KV_NOTFOUND, or a negative code. */
int kv_get(kv_txn *t, const void *key, size_t klen, void *val, size_t cap,
           size_t *vlen);
int kv_put(kv_txn *t, const void *key, size_t klen, const void *val,
           size_t vlen);
int kv_del(kv_txn *t, const void *key, size_t klen);
/* Up to limit pairs with key >= start, in order, until fn returns nonzero. */
typedef int (*kv_scan_fn)(void *ctx, const void *key, size_t klen,
                          const void *val, size_t vlen);
int kv_scan(kv_txn *t, const void *start, size_t slen, uint64_t limit,
            kv_scan_fn fn, void *ctx);

/* Name of a code returned by any kv_* call. */
const char *kv_strerror(int rc);

#endif /* BENCH_KV_H */
