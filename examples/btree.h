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
 * than BT_MAX_VAL, NULL pointers), BT_NOTFOUND, BT_ECORRUPT, and for the
 * bulk load BT_EORDER, -ENOTEMPTY, -EBUSY.  Codes in the BT_ range are the
 * tree's own (bp_strerror does not name them).
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
#define BT_EORDER (-30802)   /* bulk load: key not above the previous key */

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

/* ---- Sorted bulk load ------------------------------------------------------
 * Builds a tree bottom-up from pairs whose keys arrive in strictly
 * ascending order, into an EMPTY tree: each leaf is filled to `fill` of a
 * node and then left for good, its separator goes to the inner node being
 * filled above it, and so on up; bt_bulk_end writes the last nodes and
 * installs the root.  Much faster than bt_put one pair at a time (no
 * descent, no search, no split), and the leaves come out full instead of
 * 50-75%.  New pages come from bp_alloc_page in file order (the free list
 * is left as it is), so the data file is written mostly sequentially.
 * Each page is fixed exclusively only while it is filled: the open leaf,
 * briefly its successor, and the previous leaf once more at bt_bulk_end;
 * inner nodes are built in memory and written when complete.
 *
 * The result is an ordinary tree: every other call works on it, bt_check
 * passes, bt_info counts its keys and nodes.  Every node is full but the
 * last one of each level; when that one would be underfull, it is merged
 * with or balanced against its left neighbour, so the merge rule holds.
 *
 * Rules: one load per tree at a time, driven by one thread at a time;
 * while it is open, the tree is empty to every other call and must not be
 * changed (bt_bulk_end checks that it is still empty).  End or abort the
 * load before bt_close: the load holds a page of the pool fixed.
 *
 *   bt_bulk_begin -> bt_bulk_add ... -> bt_bulk_end    (keys installed)
 *                                    -> bt_bulk_abort  (tree left empty)
 *
 * A refused pair (BT_EORDER, -EINVAL) changes nothing: the load goes on.
 * Any other error from bt_bulk_add (a pool error: no slot or frame, I/O)
 * is sticky: every later bt_bulk_add returns it and the load can only be
 * ended (which aborts it and returns the error) or aborted. */
typedef struct bt_bulk bt_bulk;

/* Start a bulk load into t, which must hold no key and have a leaf root.
 * fill: fraction of each node to fill, in [0.5, 1.0] (0 means 1.0); below
 * 1.0 leaves room for later inserts without splits.
 * Returns 0 with *out set, or -EINVAL (NULL t or out, fill out of range),
 * -ENOTEMPTY (t holds keys), -EBUSY (a load is open on t), -ENOMEM, or a
 * pool error reading the root. */
int bt_bulk_begin(bt_tree *t, double fill, bt_bulk **out);

/* Append a pair; key must be above every key added before (memcmp order).
 * Returns 0, BT_EORDER (key not above the previous key, refused),
 * -EINVAL (as bt_put, refused), or a sticky pool error. */
int bt_bulk_add(bt_bulk *b, const void *key, size_t klen, const void *val,
                size_t vlen);

/* Finish the load: write the last node of every level, install the root,
 * count the keys; frees b in every case.  Returns 0 (the pairs are in the
 * tree; make them durable with bt_flush), or an error: the sticky error
 * of the load, -ENOTEMPTY (the tree was changed while the load was open),
 * a pool error; the load is then aborted as by bt_bulk_abort.  A load
 * with no pair leaves the tree as it was. */
int bt_bulk_end(bt_bulk *b);

/* Drop the load and free b (NULL accepted): the tree stays empty and
 * valid, and every page the load took goes to the free list (lowest page
 * first, so later splits take them in file order).  Returns 0, or the
 * first pool error fixing one of those pages; a page that could not be
 * fixed is neither in the tree nor free (bt_check reports it), the others
 * are freed all the same. */
int bt_bulk_abort(bt_bulk *b);

#endif /* BTREE_H */
