/*
 * btree_bulk.c - the sorted bulk load (API in btree.h, design in
 * examples/README.md): a tree built bottom-up from ascending keys, every
 * node filled to b_limit content bytes.
 *
 * What a load owns:
 *   - level 0: the leaf being filled (b_leaf, fixed exclusively, new from
 *     bp_alloc_page) and the leaf before it (unfixed, its page number and
 *     separator kept);
 *   - level 1 and up: the inner node being filled and the one before it,
 *     both in private buffers; a node gets its page (bp_alloc_page) when it
 *     is written, which is when it is passed up;
 *   - the pages it took, as runs of consecutive page numbers (b_runs), to
 *     give them back when the load is dropped.
 *
 * Invariants:
 *   - a node is passed up (its separator and page number put into the node
 *     being filled one level above) only once the node after it is
 *     complete too, so at the end the last two nodes of a level are still
 *     here and can be merged or balanced (one behind);
 *   - the leftmost node of a level has no separator (bk_seplen 0): it is
 *     the first node passed up to the level above, where it starts a node
 *     as its bn_first, never as a slot;
 *   - every complete node but the last of its level holds more than
 *     b_limit minus one entry; with b_limit >= half a node, two adjacent
 *     nodes are never both underfull (an underfull node was closed by an
 *     entry too big for it, which then starts the next node above t_min);
 *   - page 1 (the root) is not touched before bt_bulk_end installs the top
 *     node in it, so until then the tree is the empty tree;
 *   - a page of the load goes to the free list only once nothing can fail
 *     any more (bk_install), so a failing end gives every page back once.
 *
 * States (handle b):
 *   OPEN    --bt_bulk_add: pair appended, or refused (BT_EORDER, -EINVAL)--> OPEN
 *   OPEN    --bt_bulk_add: pool error (b_err)--> FAILED
 *   FAILED  --bt_bulk_add--> FAILED (returns b_err)
 *   OPEN    --bt_bulk_end: levels finished, root installed--> (freed)
 *   OPEN | FAILED --bt_bulk_abort, or a failing bt_bulk_end--> pages to the
 *                   free list, (freed)
 *
 * Transition -> function: append -> bt_bulk_add (bk_leaf_next when the leaf
 * is full, bk_push up the levels); finish -> bk_finish (bk_even,
 * bk_pass_up, bk_install); drop -> bk_release.
 */
#include "btree_internal.h"

#include <errno.h>
#include <stdlib.h>

/* A node of a level: being filled, or complete and not yet passed up. */
typedef struct bk_node {
    unsigned char *bk_buf; /* inner levels: the node's bytes */
    uint64_t bk_pgno;      /* level 0: the leaf's page */
    int bk_live;
    uint32_t bk_seplen; /* separator of the node (0: leftmost of its level) */
    unsigned char bk_sep[BT_MAX_KEY];
} bk_node;

typedef struct bk_level {
    bk_node bl_prev; /* complete, waits for bl_cur to complete */
    bk_node bl_cur;  /* being filled */
    uint64_t bl_up;  /* nodes of this level passed up */
} bk_level;

typedef struct bk_run {
    uint64_t br_lo, br_hi; /* pages [br_lo, br_hi) */
} bk_run;

struct bt_bulk {
    bt_tree *b_tree;
    uint32_t b_limit; /* content bytes a node is filled to */
    int b_err;        /* sticky pool error */
    bp_page b_leaf;   /* level 0's bl_cur, fixed (data NULL: none) */
    bp_page b_dead;   /* a leaf merged away at the end, fixed until the
                         root is in (then freed; on abort a run frees it) */
    uint64_t b_keys;
    uint32_t b_lastlen;
    unsigned char b_last[BT_MAX_KEY]; /* the last key added */
    bk_run *b_runs;
    size_t b_nruns, b_capruns;
    bk_level b_lv[BT_MAX_HEIGHT];
};

/* A new page from bp_alloc_page, recorded in the runs. */
static int bk_new_page(bt_bulk *b, bp_page *pg)
{
    bt_tree *t = b->b_tree;
    bk_run *last;
    int rc;

    if (b->b_nruns == b->b_capruns) {
        size_t cap = b->b_capruns ? 2 * b->b_capruns : 4;
        bk_run *r = realloc(b->b_runs, cap * sizeof *r);

        if (!r)
            return -ENOMEM;
        b->b_runs = r;
        b->b_capruns = cap;
    }
    pthread_mutex_lock(&t->t_alloc);
    rc = bp_alloc_page(t->t_pool, pg);
    pthread_mutex_unlock(&t->t_alloc);
    if (rc != 0)
        return rc;
    last = b->b_nruns ? &b->b_runs[b->b_nruns - 1] : NULL;
    if (last && last->br_hi == pg->pgno) {
        last->br_hi++;
    } else {
        b->b_runs[b->b_nruns].br_lo = pg->pgno;
        b->b_runs[b->b_nruns].br_hi = pg->pgno + 1;
        b->b_nruns++;
    }
    return 0;
}

static int bk_push(bt_bulk *b, unsigned lv, const unsigned char *sep,
                   uint32_t seplen, uint64_t child);

/* Pass the complete node nd of level lv up: inner nodes are written to a
 * new page first.  Its separator and page go into level lv + 1. */
static int bk_pass_up(bt_bulk *b, unsigned lv, bk_node *nd)
{
    bt_tree *t = b->b_tree;
    int rc;

    if (lv > 0) {
        bp_page pg;

        if ((rc = bk_new_page(b, &pg)) != 0)
            return rc;
        bt__node_fit_prefix(nd->bk_buf);
        memcpy(pg.data, nd->bk_buf, t->t_end);
        nd->bk_pgno = pg.pgno;
        bp_unfix(t->t_pool, &pg, BP_DIRTY);
    }
    if ((rc = bk_push(b, lv + 1, nd->bk_sep, nd->bk_seplen, nd->bk_pgno)) != 0)
        return rc;
    nd->bk_live = 0;
    b->b_lv[lv].bl_up++;
    return 0;
}

/* Put (sep, child) into the inner node being filled at level lv; when it
 * has no room left under b_limit, it is complete and a new node starts
 * with child as its bn_first and sep as its own separator. */
static int bk_push(bt_bulk *b, unsigned lv, const unsigned char *sep,
                   uint32_t seplen, uint64_t child)
{
    bt_tree *t = b->b_tree;
    bk_level *l;
    bk_node *cur, tmp;
    int rc;

    if (lv >= BT_MAX_HEIGHT)
        return -EOVERFLOW;
    l = &b->b_lv[lv];
    cur = &l->bl_cur;
    if (cur->bk_live) {
        void *n = cur->bk_buf;

        if (seplen == 0) /* only a level's leftmost node has none */
            return BT_ECORRUPT;
        if (bt__node_content(t, n) + bt__inner_need(seplen) <= b->b_limit) {
            bt__inner_insert(t, n, bt_nd(n)->bn_count, sep, seplen, child);
            return 0;
        }
        if (l->bl_prev.bk_live && (rc = bk_pass_up(b, lv, &l->bl_prev)) != 0)
            return rc;
        tmp = l->bl_prev;
        l->bl_prev = *cur;
        *cur = tmp;
    }
    if (!cur->bk_buf && !(cur->bk_buf = malloc(t->t_psz)))
        return -ENOMEM;
    bt__node_init(t, cur->bk_buf, BT_INNER, (int)lv);
    bt_nd(cur->bk_buf)->bn_first = child;
    memcpy(cur->bk_sep, sep, seplen);
    cur->bk_seplen = seplen;
    cur->bk_live = 1;
    return 0;
}

/* The first leaf of the load. */
static int bk_leaf_first(bt_bulk *b)
{
    bk_node *cur = &b->b_lv[0].bl_cur;
    int rc;

    if ((rc = bk_new_page(b, &b->b_leaf)) != 0)
        return rc;
    bt__node_init(b->b_tree, b->b_leaf.data, BT_LEAF, 0);
    cur->bk_pgno = b->b_leaf.pgno;
    cur->bk_seplen = 0;
    cur->bk_live = 1;
    return 0;
}

/* The open leaf is full: it becomes the previous leaf (the one before it
 * is passed up) and a new leaf starts for key. */
static int bk_leaf_next(bt_bulk *b, const void *key, size_t klen)
{
    bt_tree *t = b->b_tree;
    bk_level *l = &b->b_lv[0];
    bk_node *cur = &l->bl_cur;
    const unsigned char *k = key;
    uint32_t cp = 0;
    bp_page np;
    int rc;

    if (l->bl_prev.bk_live && (rc = bk_pass_up(b, 0, &l->bl_prev)) != 0)
        return rc;
    if ((rc = bk_new_page(b, &np)) != 0)
        return rc;
    bt__node_init(t, np.data, BT_LEAF, 0);
    bt__node_fit_prefix(b->b_leaf.data);
    bt_nd(b->b_leaf.data)->bn_right = np.pgno;
    bp_unfix(t->t_pool, &b->b_leaf, BP_DIRTY);
    b->b_leaf = np;
    l->bl_prev = *cur;
    /* separator: the shortest prefix of key above the last key */
    while (cp < b->b_lastlen && cp < klen && b->b_last[cp] == k[cp])
        cp++;
    cur->bk_seplen = cp + 1;
    memcpy(cur->bk_sep, k, cp + 1);
    cur->bk_pgno = np.pgno;
    return 0;
}

int bt_bulk_add(bt_bulk *b, const void *key, size_t klen, const void *val,
                size_t vlen)
{
    bt_tree *t;
    void *n;
    int rc = 0;

    if (!b || !key || klen == 0 || klen > BT_MAX_KEY || vlen > BT_MAX_VAL ||
        (!val && vlen))
        return -EINVAL;
    if (b->b_err)
        return b->b_err;
    if (b->b_keys && bt_keycmp(key, klen, b->b_last, b->b_lastlen) <= 0)
        return BT_EORDER;
    t = b->b_tree;
    if (!b->b_leaf.data)
        rc = bk_leaf_first(b);
    else if (bt__node_content(t, b->b_leaf.data) + bt__leaf_need(klen, vlen) >
             b->b_limit)
        rc = bk_leaf_next(b, key, klen);
    if (rc != 0)
        return b->b_err = rc;
    n = b->b_leaf.data;
    bt__leaf_insert(t, n, bt_nd(n)->bn_count, key, klen, val, vlen);
    memcpy(b->b_last, key, klen);
    b->b_lastlen = (uint32_t)klen;
    b->b_keys++;
    return 0;
}

/* ---- finishing -------------------------------------------------------------- */

/* The last node of level lv is underfull: merge it into the one before it
 * when both fit in one node, else balance the two. */
static int bk_even(bt_bulk *b, unsigned lv)
{
    bt_tree *t = b->b_tree;
    bk_level *l = &b->b_lv[lv];
    bk_node *prev = &l->bl_prev, *cur = &l->bl_cur, tmp;
    void *left, *right, *scratch;
    bp_page pp = {0};
    int rc;

    if (!prev->bk_live ||
        bt__node_content(t, lv ? cur->bk_buf : b->b_leaf.data) >= t->t_min)
        return 0;
    if (lv == 0) {
        if ((rc = bp_fix(t->t_pool, prev->bk_pgno, BP_EXCLUSIVE, &pp)) != 0)
            return rc;
        left = pp.data;
        right = b->b_leaf.data;
    } else {
        left = prev->bk_buf;
        right = cur->bk_buf;
    }
    if (bt__node_can_merge(t, left, right, cur->bk_seplen)) {
        bt__node_merge(t, left, right, cur->bk_sep, cur->bk_seplen);
        if (lv == 0) {
            b->b_dead = b->b_leaf;
            b->b_leaf = pp;
        }
        tmp = *cur; /* keeps the spare buffer of an inner level */
        *cur = *prev;
        *prev = tmp;
        prev->bk_live = 0;
        return 0;
    }
    rc = 0;
    if ((scratch = malloc(t->t_psz)) != NULL)
        bt__node_balance(t, left, right, cur->bk_sep, &cur->bk_seplen,
                         scratch);
    else
        rc = -ENOMEM;
    free(scratch);
    if (lv == 0)
        bp_unfix(t->t_pool, &pp, rc == 0 ? BP_DIRTY : 0);
    return rc;
}

/* Copy the top node (level lv's only node) into page 1, which must still
 * be the empty root leaf. */
static int bk_install(bt_bulk *b, unsigned lv)
{
    bt_tree *t = b->b_tree;
    int64_t leaves = 1, inners = 0;
    bp_page root;
    bt_node *h;
    int rc;

    if ((rc = bp_fix(t->t_pool, BT_ROOT, BP_EXCLUSIVE, &root)) != 0)
        return rc;
    h = bt_nd(root.data);
    if (!bt__node_sane(t, root.data) || h->bn_type != BT_LEAF ||
        h->bn_count != 0 || bt__keys(t) != 0) {
        bp_unfix(t->t_pool, &root, 0);
        return -ENOTEMPTY;
    }
    if (b->b_dead.data) {
        bt__free_page(t, &b->b_dead);
        bp_unfix(t->t_pool, &b->b_dead, BP_DIRTY);
    }
    if (lv == 0) {
        bt__node_fit_prefix(b->b_leaf.data);
        memcpy(root.data, b->b_leaf.data, t->t_end);
        h->bn_last = h->bn_count; /* appends after the load split as runs */
        bt__free_page(t, &b->b_leaf);
        bp_unfix(t->t_pool, &b->b_leaf, BP_DIRTY);
    } else {
        bt__node_fit_prefix(b->b_lv[lv].bl_cur.bk_buf);
        memcpy(root.data, b->b_lv[lv].bl_cur.bk_buf, t->t_end);
        leaves = (int64_t)b->b_lv[0].bl_up;
        for (unsigned i = 1; i <= lv; i++)
            inners += i < lv ? (int64_t)b->b_lv[i].bl_up : 1;
    }
    bp_unfix(t->t_pool, &root, BP_DIRTY);
    bt__add_counts(t, (int64_t)b->b_keys, leaves - 1, inners);
    return 0;
}

/* Finish the levels bottom-up: even out the last two nodes, pass them up;
 * the first level left with a single node is the root. */
static int bk_finish(bt_bulk *b)
{
    bt_tree *t = b->b_tree;
    int rc;

    if (b->b_keys == 0)
        return 0;
    for (unsigned lv = 0; lv < BT_MAX_HEIGHT; lv++) {
        bk_level *l = &b->b_lv[lv];

        if ((rc = bk_even(b, lv)) != 0)
            return rc;
        if (!l->bl_prev.bk_live && l->bl_up == 0)
            return bk_install(b, lv);
        if (l->bl_prev.bk_live && (rc = bk_pass_up(b, lv, &l->bl_prev)) != 0)
            return rc;
        if (lv == 0) {
            bt_node *h = bt_nd(b->b_leaf.data);

            bt__node_fit_prefix(h);
            h->bn_last = h->bn_count; /* appends after the load split as runs */
            bp_unfix(t->t_pool, &b->b_leaf, BP_DIRTY);
        }
        if ((rc = bk_pass_up(b, lv, &l->bl_cur)) != 0)
            return rc;
    }
    return -EOVERFLOW;
}

/* Free everything b holds; with drop, its pages go to the free list
 * (highest first, so the list starts with the lowest).  Returns the first
 * error fixing one of them. */
static int bk_release(bt_bulk *b, int drop)
{
    bt_tree *t = b->b_tree;
    int rc = 0;

    if (b->b_leaf.data)
        bp_unfix(t->t_pool, &b->b_leaf, BP_DIRTY);
    if (b->b_dead.data)
        bp_unfix(t->t_pool, &b->b_dead, BP_DIRTY);
    for (size_t i = b->b_nruns; drop && i-- > 0;) {
        for (uint64_t p = b->b_runs[i].br_hi; p-- > b->b_runs[i].br_lo;) {
            bp_page pg;
            int r = bp_fix(t->t_pool, p, BP_EXCLUSIVE, &pg);

            if (r != 0) {
                rc = rc ? rc : r;
                continue;
            }
            bt__free_page(t, &pg);
            bp_unfix(t->t_pool, &pg, BP_DIRTY);
        }
    }
    for (unsigned lv = 0; lv < BT_MAX_HEIGHT; lv++) {
        free(b->b_lv[lv].bl_prev.bk_buf);
        free(b->b_lv[lv].bl_cur.bk_buf);
    }
    free(b->b_runs);
    __atomic_store_n(&t->t_bulk, 0, __ATOMIC_RELEASE);
    free(b);
    return rc;
}

/* ---- the API ---------------------------------------------------------------- */

int bt_bulk_begin(bt_tree *t, double fill, bt_bulk **out)
{
    int busy = 0, rc;
    bp_page root;
    bt_bulk *b;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (fill == 0)
        fill = 1.0;
    if (!t || !(fill >= 0.5 && fill <= 1.0))
        return -EINVAL;
    if (!__atomic_compare_exchange_n(&t->t_bulk, &busy, 1, 0,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return -EBUSY;
    rc = bp_fix(t->t_pool, BT_ROOT, BP_SHARED, &root);
    if (rc == 0) {
        if (bt_nd(root.data)->bn_type != BT_LEAF ||
            bt_nd(root.data)->bn_count != 0 || bt__keys(t) != 0)
            rc = -ENOTEMPTY;
        bp_unfix(t->t_pool, &root, 0);
    }
    if (rc == 0 && !(b = calloc(1, sizeof *b)))
        rc = -ENOMEM;
    if (rc != 0) {
        __atomic_store_n(&t->t_bulk, 0, __ATOMIC_RELEASE);
        return rc;
    }
    b->b_tree = t;
    b->b_limit = (uint32_t)(fill * (double)(t->t_end - BT_HDR));
    *out = b;
    return 0;
}

int bt_bulk_end(bt_bulk *b)
{
    int rc;

    if (!b)
        return -EINVAL;
    rc = b->b_err ? b->b_err : bk_finish(b);
    if (rc != 0) {
        bk_release(b, 1);
        return rc;
    }
    return bk_release(b, 0);
}

int bt_bulk_abort(bt_bulk *b)
{
    return b ? bk_release(b, 1) : 0;
}
