/*
 * btree_check.c - bt_check, the invariant walker for tests (quiescent tree
 * only).  It reads every node under a shared fix (one at a time, copied
 * out, so it holds no fix while it recurses) and checks:
 *   - each node is sane (header, slots and records in bounds, key heads
 *     right), keys strictly sorted and inside the fences its parent gives;
 *   - levels: each child one level below its parent, so all leaves at one
 *     depth; the leaf chain (bn_right) visits the leaves in key order and
 *     ends with 0;
 *   - the merge rule: no two adjacent children of one parent are both
 *     underfull (each below a quarter page);
 *   - the counters: keys, leaves and inner nodes equal the in-memory counts;
 *   - the free list: free pages, not in the tree, as many as counted, and
 *     every page is the meta page, in the tree or on the free list.
 */
#include "btree_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct bt_ck {
    bt_tree *t;
    char *err;
    size_t errsz;
    unsigned char *seen; /* one byte per page */
    uint64_t npages;
    uint64_t keys, leaves, inners;
    uint64_t prev_right; /* right link of the last leaf visited */
    int have_prev;
} bt_ck;

static int ck_fail(bt_ck *c, const char *fmt, ...)
{
    va_list ap;

    if (c->err && c->errsz) {
        va_start(ap, fmt);
        vsnprintf(c->err, c->errsz, fmt, ap);
        va_end(ap);
    }
    return BT_ECORRUPT;
}

/* Fences of a node: keys must be >= lo (when lo) and < hi (when hi). */
typedef struct bt_fence {
    const unsigned char *lo, *hi;
    uint32_t lolen, hilen;
} bt_fence;

static int ck_node(bt_ck *c, uint64_t pgno, int level, bt_fence f,
                   uint32_t *content);

/* Copy page pgno out of the pool into buf. */
static int ck_read(bt_ck *c, uint64_t pgno, unsigned char *buf)
{
    bp_page pg;
    int rc = bp_fix(c->t->t_pool, pgno, BP_SHARED, &pg);

    if (rc != 0)
        return ck_fail(c, "page %" PRIu64 ": bp_fix: %s", pgno,
                       bp_strerror(rc));
    memcpy(buf, pg.data, c->t->t_psz);
    bp_unfix(c->t->t_pool, &pg, 0);
    return 0;
}

static int ck_keys(bt_ck *c, uint64_t pgno, const unsigned char *n,
                   bt_fence f)
{
    const unsigned char *prev = NULL;
    uint32_t prevlen = 0;

    for (uint32_t i = 0; i < bt_nd(n)->bn_count; i++) {
        uint32_t kl;
        const unsigned char *k = bt__node_key_opt(c->t, n, i, &kl);

        if (prev && bt_keycmp(prev, prevlen, k, kl) >= 0)
            return ck_fail(c, "page %" PRIu64 ": key %u not above key %u",
                           pgno, i, i - 1);
        if (f.lo && bt_keycmp(k, kl, f.lo, f.lolen) < 0)
            return ck_fail(c, "page %" PRIu64 ": key %u below the low fence",
                           pgno, i);
        if (f.hi && bt_keycmp(k, kl, f.hi, f.hilen) >= 0)
            return ck_fail(c, "page %" PRIu64 ": key %u not below the high "
                           "fence", pgno, i);
        prev = k, prevlen = kl;
    }
    return 0;
}

static int ck_children(bt_ck *c, uint64_t pgno, const unsigned char *n,
                       bt_fence f)
{
    int cnt = bt_nd(n)->bn_count, prev_under = 0, rc;

    for (int i = -1; i < cnt; i++) {
        bt_fence cf = f;
        uint32_t content;

        if (i >= 0)
            cf.lo = bt__node_key_opt(c->t, n, (uint32_t)i, &cf.lolen);
        if (i + 1 < cnt)
            cf.hi = bt__node_key_opt(c->t, n, (uint32_t)i + 1, &cf.hilen);
        rc = ck_node(c, bt__node_child_at(c->t, n, i),
                     bt_nd(n)->bn_level - 1, cf, &content);
        if (rc != 0)
            return rc;
        if (content < c->t->t_min && prev_under)
            return ck_fail(c, "page %" PRIu64 ": children %d and %d are both "
                           "underfull (merge rule)", pgno, i, i - 1);
        prev_under = content < c->t->t_min;
    }
    return 0;
}

static int ck_node(bt_ck *c, uint64_t pgno, int level, bt_fence f,
                   uint32_t *content)
{
    unsigned char *n;
    int rc;

    if (pgno < 1 || pgno >= c->npages)
        return ck_fail(c, "child page %" PRIu64 " out of range", pgno);
    if (c->seen[pgno])
        return ck_fail(c, "page %" PRIu64 " reached twice", pgno);
    c->seen[pgno] = 1;
    if (!(n = malloc(c->t->t_psz)))
        return -ENOMEM;
    if ((rc = ck_read(c, pgno, n)) != 0)
        goto out;
    rc = BT_ECORRUPT;
    if (!bt__node_sane_full(c->t, n)) {
        ck_fail(c, "page %" PRIu64 ": not a valid node", pgno);
        goto out;
    }
    if (level >= 0 && bt_nd(n)->bn_level != level) {
        ck_fail(c, "page %" PRIu64 ": level %u, expected %d", pgno,
                bt_nd(n)->bn_level, level);
        goto out;
    }
    if ((rc = ck_keys(c, pgno, n, f)) != 0)
        goto out;
    *content = bt__node_content(c->t, n);
    if (bt_nd(n)->bn_type == BT_LEAF) {
        if (c->have_prev && c->prev_right != pgno) {
            rc = ck_fail(c, "leaf chain: expected %" PRIu64 ", tree has %"
                         PRIu64, c->prev_right, pgno);
            goto out;
        }
        c->have_prev = 1;
        c->prev_right = bt_nd(n)->bn_right;
        c->keys += bt_nd(n)->bn_count;
        c->leaves++;
    } else {
        c->inners++;
        rc = ck_children(c, pgno, n, f);
    }
out:
    free(n);
    return rc;
}

static int ck_free_list(bt_ck *c)
{
    unsigned char *n = malloc(c->t->t_psz);
    uint64_t pgno = c->t->t_free_head, count = 0;
    int rc = 0;

    if (!n)
        return -ENOMEM;
    while (pgno != 0 && rc == 0) {
        if (pgno < 2 || pgno >= c->npages || c->seen[pgno]) {
            rc = ck_fail(c, "free list: page %" PRIu64 " out of range, in "
                         "the tree or listed twice", pgno);
            break;
        }
        c->seen[pgno] = 1;
        if ((rc = ck_read(c, pgno, n)) != 0)
            break;
        if (bt_nd(n)->bn_magic != BT_NODE_MAGIC || bt_nd(n)->bn_type != BT_FREE)
            rc = ck_fail(c, "free list: page %" PRIu64 " is not free", pgno);
        count++;
        pgno = bt_nd(n)->bn_first;
    }
    free(n);
    if (rc == 0 && count != c->t->t_free_count)
        rc = ck_fail(c, "free list holds %" PRIu64 " pages, counted %" PRIu64,
                     count, c->t->t_free_count);
    return rc;
}

int bt_check(bt_tree *t, char *err, size_t errsz)
{
    bt_ck c = {.t = t, .err = err, .errsz = errsz};
    bt_fence none = {0};
    uint32_t content;
    int rc;

    if (!t)
        return -EINVAL;
    if (err && errsz)
        err[0] = '\0';
    c.npages = bp_page_count(t->t_pool);
    if (!(c.seen = calloc(c.npages ? c.npages : 1, 1)))
        return -ENOMEM;
    c.seen[0] = 1;
    rc = ck_node(&c, BT_ROOT, -1, none, &content);
    if (rc == 0 && c.prev_right != 0)
        rc = ck_fail(&c, "last leaf has right link %" PRIu64, c.prev_right);
    if (rc == 0 && (int64_t)c.keys != bt__keys(t))
        rc = ck_fail(&c, "tree holds %" PRIu64 " keys, counted %" PRId64,
                     c.keys, bt__keys(t));
    if (rc == 0 && ((int64_t)c.leaves != t->t_leaves ||
                    (int64_t)c.inners != t->t_inners))
        rc = ck_fail(&c, "tree has %" PRIu64 " leaves and %" PRIu64 " inner "
                     "nodes, counted %" PRId64 " and %" PRId64, c.leaves,
                     c.inners, t->t_leaves, t->t_inners);
    if (rc == 0)
        rc = ck_free_list(&c);
    for (uint64_t i = 0; rc == 0 && i < c.npages; i++)
        if (!c.seen[i])
            rc = ck_fail(&c, "page %" PRIu64 " is neither in the tree nor on "
                         "the free list", i);
    free(c.seen);
    return rc;
}
