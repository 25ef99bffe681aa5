/*
 * btree.h - a B+tree key-value store on libbufpool: the example of how a
 * storage engine embeds the pool, and the engine under `bpbench ycsb` and
 * `bpbench tpcc`.
 *
 * Keys are byte strings of 1..BT_MAX_KEY bytes compared with memcmp (a
 * shorter key that is a prefix of a longer one sorts first); values are
 * 0..BT_MAX_VAL bytes.  One tree per data file: page 0 is the tree's meta
 * page (root page number, free-page list head, counts), every other page is
 * a node or a free page.  All pages go through the pool (bp_fix / bp_unfix /
 * bp_opt_*); the tree holds no page pointer across calls.
 *
 * Threads: every function may be called from many threads at once on the
 * same tree.  Readers descend with the pool's optimistic reads (optimistic
 * lock coupling); writers take exclusive fixes only on the nodes they change.
 *
 * Durability: the tree changes pages in the pool only.  bt_flush() (which
 * calls bp_flush) makes everything done before it durable; bt_close() does
 * not flush.  After bt_flush + bt_close + bp_close, a new bp_open + bt_open
 * on the same file sees every key.
 *
 * Errors: 0 or a negative code: the pool's codes (bp_strerror names them),
 * -EINVAL for a bad argument (key length 0 or > BT_MAX_KEY, value longer
 * than BT_MAX_VAL, NULL pointers), BT_NOTFOUND, BT_ECORRUPT.
 */
#ifndef BTREE_H
#define BTREE_H

#include <stddef.h>
#include <stdint.h>

#include "bufpool.h"

#define BT_MAX_KEY 255u
#define BT_MAX_VAL 1024u

#define BT_NOTFOUND (-30800) /* key not in the tree (get, del) */
#define BT_ECORRUPT (-30801) /* a page does not hold a valid node */

typedef struct bt_tree bt_tree;

/* Attach a tree to an open pool.  An empty data file (bp_page_count == 0)
 * is formatted: meta page and an empty root leaf are allocated.  The pool's
 * page size must be at least 4096.  The pool must stay open until
 * bt_close.  Returns 0 or a negative code. */
int bt_open(bt_tree **out, bp_pool *pool);

/* Detach (no flush).  -EBUSY never: the caller guarantees no other thread
 * is inside a bt_* call.  NULL is accepted. */
int bt_close(bt_tree *t);

/* Write every change to the data file durably (bp_flush). */
int bt_flush(bt_tree *t);

/* Look up key; copy at most cap bytes of the value into val (val may be
 * NULL when cap == 0) and its full length into *vlen (may be NULL).
 * Returns 0, BT_NOTFOUND, or an error. */
int bt_get(bt_tree *t, const void *key, size_t klen, void *val, size_t cap,
           size_t *vlen);

/* Insert key or replace its value. */
int bt_put(bt_tree *t, const void *key, size_t klen, const void *val,
           size_t vlen);

/* Remove key: 0 or BT_NOTFOUND.  Nodes that become underfull are merged
 * with a sibling, and emptied pages go to the free list for reuse. */
int bt_del(bt_tree *t, const void *key, size_t klen);

/* Ordered scan: call fn for each key >= start (start NULL / slen 0: from
 * the first key), in key order, at most limit pairs (0 = no limit), until
 * fn returns nonzero.  fn sees copies (it may call other bt_* functions on
 * the same tree).  Returns 0 (also when fn stopped it) or an error; the
 * number of pairs passed to fn goes to *count when count is not NULL.
 * Each pair is read consistently; the scan as a whole is not a snapshot. */
typedef int (*bt_scan_fn)(void *ctx, const void *key, size_t klen,
                          const void *val, size_t vlen);
int bt_scan(bt_tree *t, const void *start, size_t slen, uint64_t limit,
            bt_scan_fn fn, void *ctx, uint64_t *count);

/* Statistics of the tree as it is now (exact only when quiescent). */
typedef struct bt_info {
    uint64_t keys;       /* pairs in the tree */
    uint64_t height;     /* 1 = the root is a leaf */
    uint64_t leaves;     /* leaf nodes */
    uint64_t inners;     /* inner nodes */
    uint64_t free_pages; /* pages on the free list */
    uint64_t restarts;   /* optimistic descents restarted since open */
} bt_info;
int bt_info_get(bt_tree *t, bt_info *out);

/* Structural check (call only while no other thread uses the tree): keys
 * sorted inside each node and within the fence keys its parent gives it,
 * every non-root node at least the minimum fill or the merge rule's
 * documented exception, parent-child links and leaf sibling links
 * consistent, all leaves at one depth, key count in meta right, free list
 * pages not reachable from the root.  Returns 0, or BT_ECORRUPT with a
 * one-line description of the first problem in err. */
int bt_check(bt_tree *t, char *err, size_t errsz);

#endif /* BTREE_H */
