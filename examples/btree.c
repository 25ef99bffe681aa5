/*
 * btree.c - the tree protocols: open/close/flush, optimistic descent, get,
 * put, delete, scan, splits, merges and the free list (design and the
 * concurrency argument in examples/README.md).
 *
 * Who holds what:
 *   readers  (get, scan, every descent): no fix at all; bp_opt_begin on the
 *            child, then bp_opt_validate on the parent (lock coupling), and
 *            the node read is trusted only once its own validate passes.
 *   writers  (put, del): the leaf exclusively, found by an optimistic
 *            descent and proven current by validating its parent after the
 *            fix (any change of a node's key range changes its parent).
 *   structure changes (split, merge): parent, then the nodes left to right,
 *            all exclusive; at most 4 fixes; one level per step (a full
 *            parent is split first, as its own step, then the caller
 *            retries).  Nobody waits for a fix while holding a lower or a
 *            right-hand node, so there is no deadlock.
 *   t_alloc  (mutex): the free list and bp_alloc_page; taken while holding
 *            fixes; under it only free pages are fixed.
 */
#include "btree_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#define BT_RESTART 1 /* internal: validation failed, descend again */
#define BT_GONE 2    /* internal: no node at the wanted level on the path */

static const unsigned char bt_empty_key[1];

/* ---- small helpers --------------------------------------------------------- */

static void bt_pause(unsigned spins)
{
    if (spins < 16) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

static unsigned bt_stripe_of_thread(void)
{
    static unsigned next;
    static _Thread_local unsigned mine = UINT32_MAX;

    if (mine == UINT32_MAX)
        mine = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % BT_STRIPES;
    return mine;
}

static void bt_count_keys(bt_tree *t, int64_t d)
{
    __atomic_fetch_add(&t->t_keys[bt_stripe_of_thread()].st_keys, d,
                       __ATOMIC_RELAXED);
}

int64_t bt__keys(bt_tree *t)
{
    int64_t n = t->t_keys_base;

    for (int i = 0; i < BT_STRIPES; i++)
        n += __atomic_load_n(&t->t_keys[i].st_keys, __ATOMIC_RELAXED);
    return n;
}

static void bt_count_nodes(bt_tree *t, int level, int64_t d)
{
    __atomic_fetch_add(level == 0 ? &t->t_leaves : &t->t_inners, d,
                       __ATOMIC_RELAXED);
}

void bt__add_counts(bt_tree *t, int64_t keys, int64_t leaves, int64_t inners)
{
    bt_count_keys(t, keys);
    bt_count_nodes(t, 0, leaves);
    bt_count_nodes(t, 1, inners);
}

static int bt_room(const bt_tree *t, const void *n, uint32_t need)
{
    return bt__node_content(t, n) + need <= t->t_end - BT_HDR;
}

/* bp_opt_begin, waiting out exclusive holders. */
static int opt_begin(bt_tree *t, uint64_t pgno, bp_opt *o)
{
    for (unsigned spins = 0;; spins++) {
        int rc = bp_opt_begin(t->t_pool, pgno, o);

        if (rc != BP_ERETRY)
            return rc;
        bt_pause(spins);
    }
}

static int restart(bt_tree *t, unsigned *n)
{
    __atomic_fetch_add(&t->t_restarts, 1, __ATOMIC_RELAXED);
    bt_pause((*n)++);
    return BT_RESTART;
}

/* ---- optimistic descent ------------------------------------------------------- */

typedef struct bt_path {
    bp_opt par;     /* parent of the target, when has_par */
    bp_opt node;    /* the target itself, when begun */
    uint64_t pgno;  /* the target */
    int has_par;
} bt_path;

/* Descend toward key to the node at `level`.  With begin, its optimistic
 * read is begun in path->node (parent validated after it began); without,
 * only its number is read and the parent is left in path->par, validated
 * once (validate again after fixing the target).  Returns 0, BT_RESTART,
 * BT_GONE (the tree is lower than level) or a negative code. */
static int descend_once(bt_tree *t, const void *key, size_t klen,
                        unsigned level, int begin, bt_path *path)
{
    bp_opt cur, nx;
    int rc;

    if ((rc = opt_begin(t, BT_ROOT, &cur)) != 0)
        return rc;
    path->has_par = 0;
    for (unsigned depth = 0, plv = 0; depth < BT_MAX_HEIGHT; depth++) {
        unsigned lv;
        int type;
        uint64_t child = 0;

        BT_RACY_BEGIN();
        lv = BT_LD(bt_nd(cur.data)->bn_level);
        type = BT_LD(bt_nd(cur.data)->bn_type);
        if (lv > level && type == BT_INNER)
            child = bt__node_child_opt(t, cur.data, key, klen);
        BT_RACY_END();
        if ((depth == 0 || lv + 1 == plv) && lv == level &&
            (type == BT_LEAF) == (level == 0)) {
            path->node = cur;
            path->pgno = cur.pgno;
            return 0;
        }
        if (lv <= level || child < 2 || child >= bp_page_count(t->t_pool) ||
            (depth > 0 && lv + 1 != plv)) {
            if (bp_opt_validate(t->t_pool, &cur) != 0)
                return BT_RESTART;
            return lv < level && depth == 0 ? BT_GONE : BT_ECORRUPT;
        }
        if (lv == level + 1 && !begin) {
            if (bp_opt_validate(t->t_pool, &cur) != 0)
                return BT_RESTART;
            path->par = cur;
            path->has_par = 1;
            path->pgno = child;
            return 0;
        }
        rc = opt_begin(t, child, &nx);
        if (bp_opt_validate(t->t_pool, &cur) != 0)
            return BT_RESTART;
        if (rc != 0)
            return rc;
        path->par = cur;
        path->has_par = 1;
        cur = nx;
        plv = lv;
    }
    return bp_opt_validate(t->t_pool, &cur) != 0 ? BT_RESTART : BT_ECORRUPT;
}

static int descend(bt_tree *t, const void *key, size_t klen, unsigned level,
                   int begin, bt_path *path)
{
    unsigned n = 0;
    int rc;

    while ((rc = descend_once(t, key, klen, level, begin, path)) == BT_RESTART)
        restart(t, &n);
    return rc;
}

/* Fix the node at level covering key exclusively, proven current: its
 * parent did not change between the descent and the fix.  Returns 0 with
 * *pg fixed, BT_GONE, or a negative code. */
static int fix_target(bt_tree *t, const void *key, size_t klen,
                      unsigned level, bp_page *pg)
{
    unsigned n = 0;
    bt_path path;
    int rc;

    for (;; restart(t, &n)) {
        bt_node *h;

        if ((rc = descend(t, key, klen, level, 0, &path)) != 0)
            return rc;
        if ((rc = bp_fix(t->t_pool, path.pgno, BP_EXCLUSIVE, pg)) != 0) {
            if (path.has_par && bp_opt_validate(t->t_pool, &path.par) != 0)
                continue;
            return rc;
        }
        h = bt_nd(pg->data);
        if (path.has_par ? bp_opt_validate(t->t_pool, &path.par) != 0
                         : h->bn_level != level) {
            bp_unfix(t->t_pool, pg, 0);
            continue;
        }
        if (h->bn_level != level || !bt__node_sane(t, pg->data)) {
            bp_unfix(t->t_pool, pg, 0);
            return BT_ECORRUPT;
        }
        return 0;
    }
}

/* ---- free list ------------------------------------------------------------------ */

/* A page for a new node, fixed exclusively (unfix it BP_DIRTY). */
static int alloc_page(bt_tree *t, bp_page *pg)
{
    int rc;

    pthread_mutex_lock(&t->t_alloc);
    if (t->t_free_head != 0) {
        rc = bp_fix(t->t_pool, t->t_free_head, BP_EXCLUSIVE, pg);
        if (rc == 0) {
            bt_node *h = bt_nd(pg->data);

            if (h->bn_magic != BT_NODE_MAGIC || h->bn_type != BT_FREE) {
                bp_unfix(t->t_pool, pg, 0);
                rc = BT_ECORRUPT;
            } else {
                t->t_free_head = h->bn_first;
                t->t_free_count--;
            }
        }
    } else {
        rc = bp_alloc_page(t->t_pool, pg);
    }
    pthread_mutex_unlock(&t->t_alloc);
    return rc;
}

void bt__free_page(bt_tree *t, bp_page *pg)
{
    bt_node *h = bt_nd(pg->data);

    bt__node_init(t, h, BT_FREE, 0);
    pthread_mutex_lock(&t->t_alloc);
    h->bn_first = t->t_free_head;
    t->t_free_head = pg->pgno;
    t->t_free_count++;
    pthread_mutex_unlock(&t->t_alloc);
}

/* ---- splits ------------------------------------------------------------------------ */

/* Does node n (at level) still need a split for an entry of `need` bytes
 * for key?  Also gives the pending entry's slot for the split. */
static int needs_split(const bt_tree *t, const void *n, const void *key,
                       size_t klen, uint32_t need, uint32_t *ppos, int *prep)
{
    int eq, pos = bt__node_search_opt(t, n, key, klen, &eq);
    uint32_t have = 0;

    *ppos = (uint32_t)pos;
    *prep = bt_nd(n)->bn_type == BT_LEAF && eq;
    if (*prep) {
        uint32_t vl;

        bt__node_val_opt(t, n, (uint32_t)pos, &vl);
        have = bt__leaf_need(klen, vl);
    }
    return bt__node_content(t, n) - have + need > t->t_end - BT_HDR;
}

/* The root (page 1, fixed exclusively) moves into two new children. */
static int split_root(bt_tree *t, bp_page *root, uint32_t ppos,
                      uint32_t pending, int prep, const void *key,
                      size_t klen)
{
    bp_page a, b;
    unsigned char sep[BT_MAX_KEY];
    uint32_t seplen;
    int level = bt_nd(root->data)->bn_level, rc;

    if ((rc = alloc_page(t, &a)) != 0)
        return rc;
    if ((rc = alloc_page(t, &b)) != 0) {
        bt__free_page(t, &a);
        bp_unfix(t->t_pool, &a, BP_DIRTY);
        return rc;
    }
    memcpy(a.data, root->data, t->t_end);
    bt__node_split(t, a.data, b.data, b.pgno, sep, &seplen, ppos, pending,
                   prep, key, (uint32_t)klen);
    bt__node_init(t, root->data, BT_INNER, level + 1);
    bt_nd(root->data)->bn_first = a.pgno;
    bt__inner_insert(t, root->data, 0, sep, seplen, b.pgno);
    bt_count_nodes(t, level, 1);
    bt_count_nodes(t, 1, 1);
    bp_unfix(t->t_pool, &b, BP_DIRTY);
    bp_unfix(t->t_pool, &a, BP_DIRTY);
    return 0;
}

/* Split node pgno at level (found through key) so that an entry of `need`
 * bytes for key fits.  One step: when the parent is full, the parent is
 * split instead.  Returns 0 (the caller retries its change) or a negative
 * code. */
static int split_node(bt_tree *t, uint64_t pgno, unsigned level,
                      const void *key, size_t klen, uint32_t need)
{
    bp_page par, node, r;
    unsigned char sep[BT_MAX_KEY];
    uint32_t seplen, ppos;
    int rc, prep, eq, pos;

    if (pgno == BT_ROOT) {
        if ((rc = bp_fix(t->t_pool, BT_ROOT, BP_EXCLUSIVE, &node)) != 0)
            return rc;
        if (!bt__node_sane(t, node.data)) {
            bp_unfix(t->t_pool, &node, 0);
            return BT_ECORRUPT;
        }
        rc = 0;
        if (bt_nd(node.data)->bn_level == level &&
            needs_split(t, node.data, key, klen, need, &ppos, &prep))
            rc = split_root(t, &node, ppos, need, prep, key, klen);
        bp_unfix(t->t_pool, &node, rc == 0 ? BP_DIRTY : 0);
        return rc;
    }
    if ((rc = fix_target(t, key, klen, level + 1, &par)) != 0)
        return rc == BT_GONE ? 0 : rc;
    if (bt__node_child_opt(t, par.data, key, klen) != pgno) {
        bp_unfix(t->t_pool, &par, 0);
        return 0; /* pgno moved: the caller's retry finds its new place */
    }
    if (!bt_room(t, par.data, bt__inner_need(BT_MAX_KEY))) {
        bp_unfix(t->t_pool, &par, 0);
        return split_node(t, par.pgno, level + 1, key, klen,
                          bt__inner_need(BT_MAX_KEY));
    }
    if ((rc = bp_fix(t->t_pool, pgno, BP_EXCLUSIVE, &node)) != 0) {
        bp_unfix(t->t_pool, &par, 0);
        return rc;
    }
    if (!bt__node_sane(t, node.data) || bt_nd(node.data)->bn_level != level) {
        bp_unfix(t->t_pool, &node, 0);
        bp_unfix(t->t_pool, &par, 0);
        return BT_ECORRUPT;
    }
    if (!needs_split(t, node.data, key, klen, need, &ppos, &prep)) {
        bp_unfix(t->t_pool, &node, 0);
        bp_unfix(t->t_pool, &par, 0);
        return 0;
    }
    if ((rc = alloc_page(t, &r)) != 0) {
        bp_unfix(t->t_pool, &node, 0);
        bp_unfix(t->t_pool, &par, 0);
        return rc;
    }
    bt__node_split(t, node.data, r.data, r.pgno, sep, &seplen, ppos, need,
                   prep, key, (uint32_t)klen);
    pos = bt__node_search_opt(t, par.data, sep, seplen, &eq);
    bt__inner_insert(t, par.data, (uint32_t)pos, sep, seplen, r.pgno);
    bt_count_nodes(t, (int)level, 1);
    bp_unfix(t->t_pool, &r, BP_DIRTY);
    bp_unfix(t->t_pool, &node, BP_DIRTY);
    bp_unfix(t->t_pool, &par, BP_DIRTY);
    return 0;
}

/* ---- merges -------------------------------------------------------------------------- */

/* One merge step for the underfull node pgno at level (found through
 * key): with its right sibling under the same parent if the two fit in one
 * page, else with its left one.  *next = the survivor when it is still
 * underfull, else the parent when that is underfull, else 0. */
static int merge_once(bt_tree *t, uint64_t *pgno, unsigned *level,
                      const void *key, size_t klen)
{
    bp_page par, pg[3]; /* left, node, right */
    int fixed[3] = {0, 0, 0};
    bp_page *dead = NULL, *keep = NULL;
    unsigned char *p;
    uint32_t cnt, kl;
    int eq, pos, idx, rc = 0, i;
    uint64_t want[3];

    if ((rc = fix_target(t, key, klen, *level + 1, &par)) != 0) {
        *pgno = 0;
        return rc == BT_GONE ? 0 : rc;
    }
    p = par.data;
    cnt = bt_nd(p)->bn_count;
    pos = bt__node_search_opt(t, p, key, klen, &eq);
    idx = eq ? pos : pos - 1; /* child index, -1 = bn_first */
    want[0] = idx >= 0 ? bt__node_child_at(t, p, idx - 1) : 0;
    want[1] = bt__node_child_at(t, p, idx);
    want[2] = idx + 1 < (int)cnt ? bt__node_child_at(t, p, idx + 1) : 0;
    if (want[1] != *pgno) {
        bp_unfix(t->t_pool, &par, 0);
        *pgno = 0;
        return 0;
    }
    for (i = 0; i < 3 && rc == 0; i++) {
        if (!want[i])
            continue;
        if ((rc = bp_fix(t->t_pool, want[i], BP_EXCLUSIVE, &pg[i])) != 0)
            break;
        fixed[i] = 1;
        if (!bt__node_sane(t, pg[i].data) ||
            bt_nd(pg[i].data)->bn_level != *level)
            rc = BT_ECORRUPT;
    }
    if (rc == 0 && bt__node_content(t, pg[1].data) < t->t_min) {
        const unsigned char *sep;

        if (want[2] && (sep = bt__node_key_opt(t, p, (uint32_t)idx + 1, &kl)) &&
            bt__node_can_merge(t, pg[1].data, pg[2].data, kl)) {
            bt__node_merge(t, pg[1].data, pg[2].data, sep, kl);
            bt__node_remove(t, p, (uint32_t)idx + 1);
            keep = &pg[1], dead = &pg[2];
        } else if (want[0] &&
                   (sep = bt__node_key_opt(t, p, (uint32_t)idx, &kl)) &&
                   bt__node_can_merge(t, pg[0].data, pg[1].data, kl)) {
            bt__node_merge(t, pg[0].data, pg[1].data, sep, kl);
            bt__node_remove(t, p, (uint32_t)idx);
            keep = &pg[0], dead = &pg[1];
        }
    }
    *pgno = 0;
    if (dead) {
        bt_count_nodes(t, (int)*level, -1);
        bt__free_page(t, dead);
        if (par.pgno == BT_ROOT && bt_nd(p)->bn_count == 0) {
            /* the root has one child left: it takes the child's place */
            memcpy(p, keep->data, t->t_end);
            bt_count_nodes(t, 1, -1);
            bt__free_page(t, keep);
        } else if (bt__node_content(t, keep->data) < t->t_min) {
            *pgno = keep->pgno;
        }
    }
    if (!*pgno && par.pgno != BT_ROOT && bt__node_content(t, p) < t->t_min) {
        *pgno = par.pgno;
        ++*level;
    }
    for (i = 2; i >= 0; i--)
        if (fixed[i])
            bp_unfix(t->t_pool, &pg[i], dead ? BP_DIRTY : 0);
    bp_unfix(t->t_pool, &par, dead ? BP_DIRTY : 0);
    return rc;
}

/* Merge the underfull node pgno and whatever becomes underfull above it.
 * Best effort: an error leaves an underfull but valid tree. */
static void merge_node(bt_tree *t, uint64_t pgno, unsigned level,
                       const void *key, size_t klen)
{
    while (pgno != 0 && pgno != BT_ROOT)
        if (merge_once(t, &pgno, &level, key, klen) != 0)
            break;
}

/* ---- the API ------------------------------------------------------------------------- */

static int bad_key(const void *key, size_t klen)
{
    return !key || klen == 0 || klen > BT_MAX_KEY;
}

int bt_get(bt_tree *t, const void *key, size_t klen, void *val, size_t cap,
           size_t *vlen)
{
    unsigned n = 0;
    bt_path path;
    int rc;

    if (!t || bad_key(key, klen) || (!val && cap))
        return -EINVAL;
    for (;; restart(t, &n)) {
        const unsigned char *v = NULL;
        uint32_t vl = 0;
        int eq = 0, pos;

        if ((rc = descend(t, key, klen, 0, 1, &path)) != 0)
            return rc;
        BT_RACY_BEGIN();
        pos = bt__node_search_opt(t, path.node.data, key, klen, &eq);
        if (pos >= 0 && eq &&
            (v = bt__node_val_opt(t, path.node.data, (uint32_t)pos, &vl)) &&
            cap)
            memcpy(val, v, cap < vl ? cap : vl);
        BT_RACY_END();
        if (bp_opt_validate(t->t_pool, &path.node) != 0)
            continue;
        if (pos < 0 || (eq && !v))
            return BT_ECORRUPT;
        if (!eq)
            return BT_NOTFOUND;
        if (vlen)
            *vlen = vl;
        return 0;
    }
}

int bt_put(bt_tree *t, const void *key, size_t klen, const void *val,
           size_t vlen)
{
    uint32_t need = bt__leaf_need(klen, vlen);
    bp_page pg;
    int rc;

    if (!t || bad_key(key, klen) || vlen > BT_MAX_VAL || (!val && vlen))
        return -EINVAL;
    for (;;) {
        void *n;
        int eq, pos, under = 0;
        uint32_t have = 0, vl;

        if ((rc = fix_target(t, key, klen, 0, &pg)) != 0)
            return rc;
        n = pg.data;
        pos = bt__node_search_opt(t, n, key, klen, &eq);
        if (eq) {
            unsigned char *v =
                (unsigned char *)bt__node_val_opt(t, n, (uint32_t)pos, &vl);

            if (vl == vlen) { /* same size: overwrite in place */
                if (vlen)
                    memcpy(v, val, vlen);
                bp_unfix(t->t_pool, &pg, BP_DIRTY);
                return 0;
            }
            have = bt__leaf_need(klen, vl);
        }
        if (bt__node_content(t, n) - have + need <= t->t_end - BT_HDR) {
            if (eq)
                bt__node_remove(t, n, (uint32_t)pos);
            bt__leaf_insert(t, n, (uint32_t)pos, key, klen, val, vlen);
            if (!eq) /* for bt__node_split's ascending-insert rule */
                bt_nd(n)->bn_last = (uint16_t)(pos + 1);
            under = pg.pgno != BT_ROOT && bt__node_content(t, n) < t->t_min;
            bp_unfix(t->t_pool, &pg, BP_DIRTY);
            if (!eq)
                bt_count_keys(t, 1);
            if (under)
                merge_node(t, pg.pgno, 0, key, klen);
            return 0;
        }
        {
            uint64_t pgno = pg.pgno;

            bp_unfix(t->t_pool, &pg, 0);
            if ((rc = split_node(t, pgno, 0, key, klen, need)) != 0)
                return rc;
        }
    }
}

int bt_del(bt_tree *t, const void *key, size_t klen)
{
    bp_page pg;
    uint64_t pgno;
    int rc, eq, pos, under;

    if (!t || bad_key(key, klen))
        return -EINVAL;
    if ((rc = fix_target(t, key, klen, 0, &pg)) != 0)
        return rc;
    pos = bt__node_search_opt(t, pg.data, key, klen, &eq);
    if (!eq) {
        bp_unfix(t->t_pool, &pg, 0);
        return BT_NOTFOUND;
    }
    bt__node_remove(t, pg.data, (uint32_t)pos);
    pgno = pg.pgno;
    under = pgno != BT_ROOT && bt__node_content(t, pg.data) < t->t_min;
    bp_unfix(t->t_pool, &pg, BP_DIRTY);
    bt_count_keys(t, -1);
    if (under)
        merge_node(t, pgno, 0, key, klen);
    return 0;
}

/* Copy node n's header, slots and records to buf, not the free gap
 * between them (all of it when the header reads as garbage: the caller
 * validates the copy). */
static void copy_node(const bt_tree *t, unsigned char *buf, const void *n)
{
    uint32_t cnt = BT_LD(bt_nd(n)->bn_count), heap = BT_LD(bt_nd(n)->bn_heap);
    uint32_t low = BT_HDR + cnt * (uint32_t)sizeof(bt_slot);

    if (low <= heap && heap <= t->t_end) {
        memcpy(buf, n, low);
        memcpy(buf + heap, (const unsigned char *)n + heap, t->t_end - heap);
    } else {
        memcpy(buf, n, t->t_end);
    }
}

/* Feed fn the pairs of the validated leaf copy buf from slot i on. */
static int scan_leaf(bt_tree *t, const unsigned char *buf, uint32_t i,
                     uint64_t limit, bt_scan_fn fn, void *ctx, uint64_t *done,
                     unsigned char *last, uint32_t *lastlen)
{
    for (; i < bt_nd(buf)->bn_count; i++) {
        uint32_t kl, vl;
        const unsigned char *k = bt__node_key_opt(t, buf, i, &kl);
        const unsigned char *v = bt__node_val_opt(t, buf, i, &vl);

        if (!k || !v)
            return BT_ECORRUPT;
        memcpy(last, k, kl);
        *lastlen = kl;
        ++*done;
        if (fn(ctx, k, kl, v, vl) != 0 || (limit && *done >= limit))
            return 1;
    }
    return 0;
}

int bt_scan(bt_tree *t, const void *start, size_t slen, uint64_t limit,
            bt_scan_fn fn, void *ctx, uint64_t *count)
{
    unsigned char last[BT_MAX_KEY], *buf;
    uint32_t lastlen = 0;
    uint64_t done = 0;
    unsigned n = 0;
    bt_path path;
    int rc = 0;

    if (count)
        *count = 0;
    if (!t || !fn || slen > BT_MAX_KEY || (!start && slen))
        return -EINVAL;
    if (!(buf = malloc(t->t_psz)))
        return -ENOMEM;
    if (!start || slen == 0)
        start = bt_empty_key, slen = 0;
    for (int again = 1; again && rc == 0;) {
        const void *from = lastlen ? last : start;
        size_t flen = lastlen ? lastlen : slen;
        bp_opt o;

        if ((rc = descend(t, from, flen, 0, 1, &path)) != 0)
            break;
        o = path.node;
        for (;;) {
            int eq, pos;
            uint64_t right;
            bp_opt ro;

            BT_RACY_BEGIN();
            copy_node(t, buf, o.data);
            BT_RACY_END();
            if (bp_opt_validate(t->t_pool, &o) != 0) {
                restart(t, &n);
                break;
            }
            /* a validated copy is a node as a fixed writer left it; the
             * _opt readers below bound every access, so the header's
             * check is enough (bt_check walks the slots) */
            if (!bt__node_sane(t, buf) || bt_nd(buf)->bn_type != BT_LEAF) {
                rc = BT_ECORRUPT;
                break;
            }
            pos = bt__node_search_opt(t, buf, from, flen, &eq);
            if ((rc = scan_leaf(t, buf, (uint32_t)pos + (lastlen && eq),
                                limit, fn, ctx, &done, last, &lastlen)) != 0) {
                again = 0;
                break;
            }
            from = last, flen = lastlen;
            if ((right = bt_nd(buf)->bn_right) == 0) {
                again = 0;
                break;
            }
            rc = opt_begin(t, right, &ro);
            /* o unchanged since it was read: its right link is current */
            if (bp_opt_validate(t->t_pool, &o) != 0) {
                rc = 0;
                restart(t, &n);
                break;
            }
            if (rc != 0)
                break;
            o = ro;
        }
    }
    free(buf);
    if (count)
        *count = done;
    return rc < 0 ? rc : 0;
}

/* ---- life cycle ------------------------------------------------------------------------ */

/* Write the in-memory counters and free list head to the meta page. */
static int write_meta(bt_tree *t)
{
    bp_page pg;
    bt_meta m;
    int rc;

    if ((rc = bp_fix(t->t_pool, BT_META_PGNO, BP_EXCLUSIVE, &pg)) != 0)
        return rc;
    memcpy(&m, pg.data, sizeof m);
    pthread_mutex_lock(&t->t_alloc);
    m.bm_free_head = t->t_free_head;
    m.bm_free_count = t->t_free_count;
    pthread_mutex_unlock(&t->t_alloc);
    m.bm_keys = (uint64_t)bt__keys(t);
    m.bm_leaves = (uint64_t)__atomic_load_n(&t->t_leaves, __ATOMIC_RELAXED);
    m.bm_inners = (uint64_t)__atomic_load_n(&t->t_inners, __ATOMIC_RELAXED);
    memcpy(pg.data, &m, sizeof m);
    return bp_unfix(t->t_pool, &pg, BP_DIRTY);
}

static int format(bt_tree *t)
{
    bp_page meta, root;
    bt_meta m = {.bm_magic = BT_META_MAGIC, .bm_version = BT_FORMAT,
                 .bm_page_size = t->t_psz, .bm_root = BT_ROOT,
                 .bm_leaves = 1};
    int rc;

    if ((rc = bp_alloc_page(t->t_pool, &meta)) != 0)
        return rc;
    if ((rc = bp_alloc_page(t->t_pool, &root)) != 0) {
        bp_unfix(t->t_pool, &meta, BP_DIRTY);
        return rc;
    }
    if (meta.pgno != BT_META_PGNO || root.pgno != BT_ROOT)
        rc = BT_ECORRUPT;
    memcpy(meta.data, &m, sizeof m);
    bt__node_init(t, root.data, BT_LEAF, 0);
    t->t_leaves = 1;
    bp_unfix(t->t_pool, &root, BP_DIRTY);
    bp_unfix(t->t_pool, &meta, BP_DIRTY);
    return rc;
}

static int load(bt_tree *t)
{
    bp_page pg;
    bt_meta m;
    int rc;

    if (bp_page_count(t->t_pool) < 2)
        return BT_ECORRUPT;
    if ((rc = bp_fix(t->t_pool, BT_META_PGNO, BP_SHARED, &pg)) != 0)
        return rc;
    memcpy(&m, pg.data, sizeof m);
    bp_unfix(t->t_pool, &pg, 0);
    if (m.bm_magic != BT_META_MAGIC || m.bm_version != BT_FORMAT ||
        m.bm_page_size != t->t_psz || m.bm_root != BT_ROOT ||
        m.bm_free_head >= bp_page_count(t->t_pool))
        return BT_ECORRUPT;
    t->t_free_head = m.bm_free_head;
    t->t_free_count = m.bm_free_count;
    t->t_keys_base = (int64_t)m.bm_keys;
    t->t_leaves = (int64_t)m.bm_leaves;
    t->t_inners = (int64_t)m.bm_inners;
    return 0;
}

int bt_open(bt_tree **out, bp_pool *pool)
{
    bp_stats st;
    bt_tree *t;
    int rc;

    if (!out || !pool)
        return -EINVAL;
    *out = NULL;
    if ((rc = bp_stats_get(pool, &st, sizeof st)) != 0)
        return rc;
    if (st.page_size < 4096 || st.page_size > 65536)
        return -EINVAL;
    if (!(t = calloc(1, sizeof *t)))
        return -ENOMEM;
    t->t_pool = pool;
    t->t_psz = st.page_size;
    t->t_end = st.page_size - BP_PAGE_TRAILER;
    t->t_min = (t->t_end - BT_HDR) / 4;
    pthread_mutex_init(&t->t_alloc, NULL);
    rc = bp_page_count(pool) == 0 ? format(t) : load(t);
    if (rc != 0) {
        pthread_mutex_destroy(&t->t_alloc);
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int bt_close(bt_tree *t)
{
    int rc;

    if (!t)
        return 0;
    rc = write_meta(t);
    pthread_mutex_destroy(&t->t_alloc);
    free(t);
    return rc;
}

int bt_flush(bt_tree *t)
{
    int rc;

    if (!t)
        return -EINVAL;
    if ((rc = write_meta(t)) != 0)
        return rc;
    return bp_flush(t->t_pool);
}

int bt_info_get(bt_tree *t, bt_info *out)
{
    bp_page pg;
    int rc;

    if (!t || !out)
        return -EINVAL;
    if ((rc = bp_fix(t->t_pool, BT_ROOT, BP_SHARED, &pg)) != 0)
        return rc;
    out->height = bt_nd(pg.data)->bn_level + 1u;
    bp_unfix(t->t_pool, &pg, 0);
    out->keys = (uint64_t)bt__keys(t);
    out->leaves = (uint64_t)__atomic_load_n(&t->t_leaves, __ATOMIC_RELAXED);
    out->inners = (uint64_t)__atomic_load_n(&t->t_inners, __ATOMIC_RELAXED);
    pthread_mutex_lock(&t->t_alloc);
    out->free_pages = t->t_free_count;
    pthread_mutex_unlock(&t->t_alloc);
    out->restarts = __atomic_load_n(&t->t_restarts, __ATOMIC_RELAXED);
    return 0;
}
