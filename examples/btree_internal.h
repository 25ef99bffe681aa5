/*
 * btree_internal.h - page layout and helpers shared by btree.c (the tree
 * protocols), btree_node.c (one node's bytes), btree_bulk.c (the sorted
 * bulk load) and btree_check.c (the invariant walker).  The design is in
 * examples/README.md.
 *
 * Node page (page size P, usable end E = P - BP_PAGE_TRAILER):
 *
 *   0        48              48 + 8*count      heap            E      P
 *   | header | slot array --> |    free gap     | <-- records   | trailer |
 *
 * A slot is 8 bytes: the key head (the 4 key bytes after the node's common
 * prefix of bn_pfx bytes, as a big-endian integer, zero padded) and
 * meta = record offset | key length << 16.
 * Leaf record: u16 value length, key, value.  Inner record: u64 child, key
 * (child holds keys >= key; bn_first holds keys below the first key).
 * Records freed by a delete or an update count in bn_frag until the node is
 * compacted.  Free page: type BT_FREE, bn_first = next free page.
 */
#ifndef BTREE_INTERNAL_H
#define BTREE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "btree.h"

#define BT_META_MAGIC 0x3145455254504231ull /* "1BPTREE1" */
#define BT_NODE_MAGIC 0x4e425442u           /* "BTBN" */
#define BT_FORMAT 2u /* bm_version: the node layout below */
#define BT_META_PGNO 0u
#define BT_ROOT 1u        /* the root never moves */
#define BT_MAX_HEIGHT 24u /* deeper than any real tree: garbage guard */

enum { BT_LEAF = 1, BT_INNER = 2, BT_FREE = 3 };
#define BT_PFX_INLINE 16u

typedef struct bt_node {
    uint32_t bn_magic;
    uint8_t bn_type;
    uint8_t bn_level; /* 0 = leaf */
    uint16_t bn_count;
    uint16_t bn_heap; /* lowest record byte */
    uint16_t bn_frag; /* dead record bytes below E */
    uint16_t bn_pfx;  /* every key of the node starts with the same bn_pfx
                         bytes; heads are taken after them */
    uint16_t bn_last; /* leaf: 1 + slot of the last new key put in, 0 none
                         (spots ascending inserts: see bt__node_split) */
    uint64_t bn_right; /* leaf: right sibling, 0 = last leaf */
    uint64_t bn_first; /* inner: leftmost child; free page: next free */
    unsigned char bn_pfxb[BT_PFX_INLINE]; /* the prefix's first bytes (up
                         to BT_PFX_INLINE), zeros after: a search compares
                         the prefix in the header's line, not in a key */
} bt_node;

typedef struct bt_slot {
    uint32_t sl_head;
    uint32_t sl_meta; /* offset | klen << 16 */
} bt_slot;

#define BT_HDR ((uint32_t)sizeof(bt_node))
_Static_assert(sizeof(bt_node) == 48, "node header is 48 bytes");
_Static_assert(sizeof(bt_slot) == 8, "slot is 8 bytes");

typedef struct bt_meta {
    uint64_t bm_magic;
    uint32_t bm_version;
    uint32_t bm_page_size;
    uint64_t bm_root;
    uint64_t bm_free_head;
    uint64_t bm_free_count;
    uint64_t bm_keys;
    uint64_t bm_leaves;
    uint64_t bm_inners;
} bt_meta;

/* Per-thread stripes of the key counter (no shared line on the hot path). */
#define BT_STRIPES 32
typedef struct bt_stripe {
    int64_t st_keys;
    char st_pad[64 - sizeof(int64_t)];
} bt_stripe;

struct bt_tree {
    bp_pool *t_pool;
    uint32_t t_psz; /* page size */
    uint32_t t_end; /* usable end: page size - trailer */
    uint32_t t_min; /* underfull below this many content bytes */
    pthread_mutex_t t_alloc; /* free list and bp_alloc_page */
    uint64_t t_free_head;    /* under t_alloc */
    uint64_t t_free_count;   /* under t_alloc */
    int64_t t_leaves;        /* atomic */
    int64_t t_inners;        /* atomic */
    uint64_t t_restarts;     /* atomic */
    int64_t t_keys_base;     /* from meta at open */
    int t_bulk;              /* atomic: 1 while a bulk load is open */
    bt_stripe t_keys[BT_STRIPES];
};

/* ---- TSan: an optimistic reader's reads race with writers by design; they
 * are not checked (bp_opt_validate decides).  Never across pool calls. ---- */
#if defined(__SANITIZE_THREAD__)
#define BT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BT_TSAN 1
#endif
#endif
#ifdef BT_TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define BT_RACY_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define BT_RACY_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define BT_RACY_BEGIN() ((void)0)
#define BT_RACY_END() ((void)0)
#endif

/* Header and slot fields are loaded once into locals (relaxed atomics), so
 * a bounds check on a value holds for the value that is used. */
#define BT_LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static inline bt_node *bt_nd(const void *page)
{
    return (bt_node *)page;
}

static inline bt_slot *bt_slots(const void *page)
{
    return (bt_slot *)((unsigned char *)page + BT_HDR);
}

static inline uint32_t bt_head(const void *key, size_t klen)
{
    const unsigned char *k = key;
    uint32_t h = 0;

    for (size_t i = 0; i < 4; i++)
        h = h << 8 | (i < klen ? k[i] : 0u);
    return h;
}

static inline uint16_t bt_rd16(const unsigned char *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t bt_rd64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof v);
    return v;
}

/* Compare key with key b of length blen (memcmp order, shorter first). */
static inline int bt_keycmp(const void *a, size_t alen, const void *b,
                            size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    return c ? c : (alen < blen ? -1 : alen > blen);
}

/* ---- btree_node.c: one node's bytes -------------------------------------
 * Functions on a node that may be read optimistically ("_opt") check every
 * offset and return -1 / 0 on garbage; the others expect a node the caller
 * holds fixed (exclusively when it changes it). */

/* Lower bound of key in node n: first slot with key >= key, in [0, count].
 * *eq = 1 when that slot's key equals key.  -1 on garbage. */
int bt__node_search_opt(const bt_tree *t, const void *n, const void *key,
                        size_t klen, int *eq);
/* Child of inner node n for key; 0 on garbage. */
uint64_t bt__node_child_opt(const bt_tree *t, const void *n, const void *key,
                            size_t klen);
/* Slot i's key (pointer into n) and length; NULL on garbage. */
const unsigned char *bt__node_key_opt(const bt_tree *t, const void *n,
                                      uint32_t i, uint32_t *klen);
/* Leaf slot i's value and length; NULL on garbage. */
const unsigned char *bt__node_val_opt(const bt_tree *t, const void *n,
                                      uint32_t i, uint32_t *vlen);
/* Inner slot i's child (i == -1: bn_first); 0 on garbage. */
uint64_t bt__node_child_at(const bt_tree *t, const void *n, int i);

/* 1 if the header is in bounds (the check on every exclusive fix: O(1);
 * slots are trusted, or caught by the pool's page checksums). */
int bt__node_sane(const bt_tree *t, const void *n);
/* The same and every slot and record in bounds, heads right (bt_check,
 * validated scan copies). */
int bt__node_sane_full(const bt_tree *t, const void *n);
/* Slot and live record bytes. */
uint32_t bt__node_content(const bt_tree *t, const void *n);
/* Bytes a new entry costs: slot + record. */
uint32_t bt__leaf_need(size_t klen, size_t vlen);
uint32_t bt__inner_need(size_t klen);

void bt__node_init(const bt_tree *t, void *n, int type, int level);
/* Insert at slot pos (compacts when only the fragments have room);
 * -1 if it does not fit. */
int bt__leaf_insert(const bt_tree *t, void *n, uint32_t pos, const void *key,
                    size_t klen, const void *val, size_t vlen);
int bt__inner_insert(const bt_tree *t, void *n, uint32_t pos, const void *key,
                     size_t klen, uint64_t child);
void bt__node_remove(const bt_tree *t, void *n, uint32_t pos);

/* Split n into n and the fresh page r (same type).  Leaves: the separator
 * (shortest key between the halves) goes to sep; pending is the size of
 * an entry for key about to go in at slot ppos (replacing slot ppos when
 * prep) so the halves balance with it.  When the leaf's last new key went
 * in just before ppos (ascending inserts, as TPC-C's order keys within a
 * district), the split follows the run instead (leaf_append_point): in
 * front of at least t_min bytes of older keys it is at ppos with the new
 * key going left; otherwise the left half keeps as much as it can and the
 * right one starts at the new key, holding at least t_min bytes.  Inner:
 * the middle key moves up into sep. */
void bt__node_split(const bt_tree *t, void *n, void *r, uint64_t rpgno,
                    unsigned char *sep, uint32_t *seplen, uint32_t ppos,
                    uint32_t pending, int prep, const void *key,
                    uint32_t klen);
/* Set the node's prefix to the longest one its keys share and recompute
 * every head (after a node was built or rebuilt). */
void bt__node_fit_prefix(void *n);
/* Would l + (separator) + r fit in one node? */
int bt__node_can_merge(const bt_tree *t, const void *l, const void *r,
                       uint32_t seplen);
/* Move r's entries (after sep, for inner nodes) to the end of l. */
void bt__node_merge(const bt_tree *t, void *l, const void *r,
                    const unsigned char *sep, uint32_t seplen);

/* Spread the entries of the adjacent nodes l and r (r right of l, same
 * type and level, both fixed exclusively or private) over both, balanced
 * by bytes: the halves differ by at most one entry.  Inner nodes: *sep is
 * the separator between them on entry (r's bn_first its child) and the
 * one that moves up on return; leaves: the new shortest separator goes to
 * sep.  tmp: page-sized scratch.  Nothing happens when there are too few
 * entries to give each node one. */
void bt__node_balance(const bt_tree *t, void *l, void *r, unsigned char *sep,
                      uint32_t *seplen, void *tmp);

/* ---- btree.c helpers used by btree_check.c and btree_bulk.c ------------- */
int64_t bt__keys(bt_tree *t);
/* Add to the key, leaf and inner node counters. */
void bt__add_counts(bt_tree *t, int64_t keys, int64_t leaves, int64_t inners);
/* Turn the exclusively fixed page pg into a free page on the list (unfix
 * it BP_DIRTY). */
void bt__free_page(bt_tree *t, bp_page *pg);

#endif /* BTREE_INTERNAL_H */
