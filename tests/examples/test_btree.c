/*
 * test_btree.c - the examples/btree.h B+tree against reference models.
 *
 * Keys come from a "universe": U distinct byte strings of 1..200 bytes
 * (many short ones and many sharing their first 4 bytes, so key heads tie),
 * sorted, so a key's id is its rank and the model of a tree is an array
 * indexed by id (present, value length, value version).  Values are
 * generated from (id, version, length), so the model stores no bytes.
 *
 * single_* (one thread, >= 1M ops for 4 KiB pages): random puts (insert
 * and update), deletes, gets and scans (from a universe key or random
 * bytes, limit 1..60) through a small cache and window, so pages are
 * evicted and remapped all the time; bt_check every CHECK_EVERY ops; at the
 * end every key compared both ways (get and a full scan); then bt_flush,
 * bt_close, bp_close, reopen with another cache size and compare again,
 * keep going a little and reopen once more.
 *
 * threads_disjoint: 4 threads, each owning the ids i % 4 == its number
 * (interleaved, so threads share leaves), each with its own model: its
 * gets must match exactly, and a scan must show exactly its own present
 * keys in the range the scan covered.
 *
 * threads_overlap: 4 threads on the same few keys.  A value carries its
 * key id and a writer tag, and its bytes follow from them, so every read
 * checks "a value some thread wrote for this key"; scans check order.  At
 * the end: bt_check, the scan count equals bt_info keys, every value
 * valid, and the same after a reopen.
 *
 * ascending: keys put in ascending order, as TPC-C makes order keys: one
 * stream (a table filled by a counter), then 10 interleaved streams (10
 * districts, each appending to its own key range), with small values and,
 * on 4 KiB pages, values near BT_MAX_VAL (an entry that is itself most of
 * t_min).  bt_check and every key read back, and the leaves are at least
 * 70% full on average with small values: the split rule for ascending
 * inserts keeps the left half full but for t_min (a 50/50 split leaves
 * them near half full for good).
 *
 * bulk_*: the sorted bulk load (bt_bulk_*).  bulk_load loads a few 100k
 * pairs (8-byte big-endian integer keys and universe string keys, small
 * and 120-byte values, fill 1.0 and below) leaving every fifth key of the
 * universe out, and checks: the key count, the leaves filled to the fill
 * asked for (a load through bt_put leaves them 50-75% full), every key
 * with bt_get, a full scan in order, bt_check; then random puts (into the
 * gaps: splits of full leaves) and deletes (merges) against the model,
 * bt_check, flush, close, reopen, the same again.  bulk_sizes loads every
 * small count and many around node boundaries (big keys with long
 * separators, so inner levels fill quickly), each one checked and then
 * deleted key by key: the last node of each level, merged or balanced
 * with its neighbour, must keep the merge rule.  bulk_refused: bad
 * arguments, keys out of order or repeated (refused, the load goes on),
 * a non-empty tree, a second load, a tree changed during the load.
 * bulk_abort: an aborted load leaves an empty valid tree whose pages are
 * all on the free list, and the tree takes a new load after it.
 *
 * Worker threads never call cmocka asserts: they count errors and print
 * the first few; the test thread asserts.
 */
#include "util_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "btree_internal.h" /* bt__leaf_need, BT_HDR: leaf fill; node walk */

#if defined(__SANITIZE_ADDRESS__) || defined(UTIL_TSAN)
#define SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW_BUILD 1
#endif
#endif
#ifdef SLOW_BUILD
#define MT_OPS 12000
#define OPS_8K 100000
#define BULK_SCALE 4 /* bulk tests: a quarter of the keys */
#else
#define MT_OPS 100000
#define OPS_8K 200000
#define BULK_SCALE 1
#endif
#define CHECK_EVERY 100000
#define NTHREADS 4

/* ---- the key universe -------------------------------------------------------- */

typedef struct universe {
    uint32_t n;
    uint32_t *off; /* key i = blob[off[i] .. off[i] + len[i]) */
    uint8_t *len;
    unsigned char *blob;
} universe;

static const unsigned char *ukey(const universe *u, uint32_t id, size_t *len)
{
    *len = u->len[id];
    return u->blob + u->off[id];
}

static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);

    return c ? c : (al < bl ? -1 : al > bl);
}

static const universe *sort_u;

static int cmp_ids(const void *a, const void *b)
{
    size_t al, bl;
    const unsigned char *ka = ukey(sort_u, *(const uint32_t *)a, &al);
    const unsigned char *kb = ukey(sort_u, *(const uint32_t *)b, &bl);

    return key_cmp(ka, al, kb, bl);
}

/* A random key: lengths skewed short, first bytes from a tiny alphabet. */
static size_t random_key(uint64_t *rng, unsigned char *k)
{
    static const unsigned char alpha[4] = {0x00, 0x01, 'a', 0xff};
    size_t len = util_rand_below(rng, 3) == 0 ? 1 + util_rand_below(rng, 200)
                                              : 1 + util_rand_below(rng, 12);

    for (size_t i = 0; i < len; i++)
        k[i] = i < 3 ? alpha[util_rand_below(rng, 4)]
                     : (unsigned char)util_rand(rng);
    return len;
}

/* n distinct random keys, sorted (ids are ranks). */
static void universe_make(universe *u, uint32_t n, uint64_t seed)
{
    universe raw = {.n = n};
    uint32_t *ids = malloc(n * sizeof *ids), w = 0;
    uint64_t rng = seed, pos = 0;

    raw.off = malloc(n * sizeof *raw.off);
    raw.len = malloc(n);
    raw.blob = malloc((size_t)n * 200);
    assert_non_null(ids);
    assert_true(raw.off && raw.len && raw.blob);
    for (uint32_t i = 0; i < n; i++) {
        raw.off[i] = (uint32_t)pos;
        raw.len[i] = (uint8_t)random_key(&rng, raw.blob + pos);
        pos += raw.len[i];
        ids[i] = i;
    }
    sort_u = &raw;
    qsort(ids, n, sizeof *ids, cmp_ids);
    u->off = malloc(n * sizeof *u->off);
    u->len = malloc(n);
    u->blob = malloc(pos);
    assert_true(u->off && u->len && u->blob);
    pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t l, pl = 0;
        const unsigned char *k = ukey(&raw, ids[i], &l), *pk = NULL;

        if (w)
            pk = ukey(u, w - 1, &pl);
        if (pk && key_cmp(k, l, pk, pl) == 0)
            continue; /* duplicate */
        u->off[w] = (uint32_t)pos;
        u->len[w] = (uint8_t)l;
        memcpy(u->blob + pos, k, l);
        pos += l;
        w++;
    }
    u->n = w;
    free(ids);
    free(raw.off);
    free(raw.len);
    free(raw.blob);
}

static void universe_free(universe *u)
{
    free(u->off);
    free(u->len);
    free(u->blob);
}

/* First id whose key is >= key. */
static uint32_t lower_bound(const universe *u, const void *key, size_t klen)
{
    uint32_t lo = 0, hi = u->n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        size_t l;
        const unsigned char *k = ukey(u, mid, &l);

        if (key_cmp(k, l, key, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- values ---------------------------------------------------------------------- */

static void val_fill(unsigned char *v, size_t len, uint32_t id, uint32_t ver)
{
    uint32_t x = id * 2654435761u ^ ver * 2246822519u;

    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        v[i] = (unsigned char)(x >> 24);
    }
}

static int val_ok(const unsigned char *v, size_t len, uint32_t id,
                  uint32_t ver)
{
    unsigned char want[BT_MAX_VAL];

    val_fill(want, len, id, ver);
    return memcmp(v, want, len) == 0;
}

/* ---- pools ------------------------------------------------------------------------- */

static bp_pool *pool_open(const char *path, size_t psz, uint64_t frames,
                          uint64_t slots, bp_backend b, int checksums)
{
    struct util_cfg cfg = {.backend = b, .page_size = psz, .frames = frames,
                           .slots = slots,
                           /* buffered: evictions cost no disk wait */
                           .flags = BP_CREATE | BP_BUFFERED_IO,
                           .checksums = checksums};
    bp_pool *p;

    assert_int_equal(util_pool_open(&p, path, &cfg), 0);
    return p;
}

static void tree_check(bt_tree *t)
{
    char err[256];
    int rc = bt_check(t, err, sizeof err);

    if (rc != 0)
        fail_msg("bt_check: %s (%d)", err, rc);
}

/* ---- single thread against a model ----------------------------------------------- */

typedef struct model {
    const universe *u;
    uint8_t *present;
    uint16_t *vlen;
    uint32_t *ver;
    uint64_t live;
} model;

/* Scan callback: pairs must be the model's present keys in order. */
typedef struct scan_cmp {
    const model *m;
    uint32_t next; /* first id not yet matched */
    int bad;
} scan_cmp;

static int scan_cmp_fn(void *ctx, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
    scan_cmp *s = ctx;
    const model *m = s->m;
    size_t l;

    while (s->next < m->u->n && !m->present[s->next])
        s->next++;
    if (s->next >= m->u->n) {
        s->bad = 1;
        return 1;
    }
    const unsigned char *k = ukey(m->u, s->next, &l);
    if (key_cmp(k, l, key, klen) != 0 || vlen != m->vlen[s->next] ||
        !val_ok(val, vlen, s->next, m->ver[s->next])) {
        s->bad = 1;
        return 1;
    }
    s->next++;
    return 0;
}

/* Scan from a start key with a limit; compare with the model. */
static void scan_verify(bt_tree *t, const model *m, const void *start,
                        size_t slen, uint64_t limit)
{
    scan_cmp s = {.m = m, .next = slen ? lower_bound(m->u, start, slen) : 0};
    uint64_t count, want = 0;
    uint32_t id = s.next;
    int rc = bt_scan(t, start, slen, limit, scan_cmp_fn, &s, &count);

    assert_int_equal(rc, 0);
    if (s.bad)
        fail_msg("scan: pair %" PRIu64 " differs from the model", count);
    for (; id < m->u->n && (!limit || want < limit); id++)
        want += m->present[id];
    assert_int_equal(count, want);
}

static void get_verify(bt_tree *t, const model *m, uint32_t id)
{
    unsigned char v[BT_MAX_VAL];
    size_t kl, vl = 99999;
    const unsigned char *k = ukey(m->u, id, &kl);
    int rc = bt_get(t, k, kl, v, sizeof v, &vl);

    if (!m->present[id]) {
        if (rc != BT_NOTFOUND)
            fail_msg("get id %u: %d, the model has no such key", id, rc);
        return;
    }
    if (rc != 0)
        fail_msg("get id %u: %d (%s)", id, rc, bp_strerror(rc));
    assert_int_equal(vl, m->vlen[id]);
    if (!val_ok(v, vl, id, m->ver[id]))
        fail_msg("get id %u: wrong value", id);
}

static void full_verify(bt_tree *t, const model *m)
{
    bt_info info;

    for (uint32_t id = 0; id < m->u->n; id++)
        get_verify(t, m, id);
    scan_verify(t, m, NULL, 0, 0);
    assert_int_equal(bt_info_get(t, &info), 0);
    assert_int_equal(info.keys, m->live);
    tree_check(t);
}

static void model_op(bt_tree *t, model *m, uint64_t *rng, uint32_t op_no)
{
    const universe *u = m->u;
    uint32_t id = (uint32_t)util_rand_below(rng, u->n), r;
    unsigned char v[BT_MAX_VAL];
    size_t kl;
    const unsigned char *k = ukey(u, id, &kl);
    int rc;

    r = (uint32_t)util_rand_below(rng, 100);
    if (r < 38) { /* put */
        size_t vl = util_rand_below(rng, 4) == 0 ? util_rand_below(rng, 1001)
                                                 : util_rand_below(rng, 160);

        val_fill(v, vl, id, op_no);
        rc = bt_put(t, k, kl, v, vl);
        if (rc != 0)
            fail_msg("put id %u: %d (%s)", id, rc, bp_strerror(rc));
        m->live += !m->present[id];
        m->present[id] = 1;
        m->vlen[id] = (uint16_t)vl;
        m->ver[id] = op_no;
    } else if (r < 60) { /* delete */
        rc = bt_del(t, k, kl);
        assert_int_equal(rc, m->present[id] ? 0 : BT_NOTFOUND);
        m->live -= m->present[id];
        m->present[id] = 0;
    } else if (r < 96) { /* get, sometimes into a short buffer */
        if (r == 95 && m->present[id]) {
            size_t vl = 0, cap = util_rand_below(rng, 8);

            assert_int_equal(bt_get(t, k, kl, v, cap, &vl), 0);
            assert_int_equal(vl, m->vlen[id]);
        } else {
            get_verify(t, m, id);
        }
    } else { /* scan */
        unsigned char start[BT_MAX_KEY];
        size_t sl;

        if (r == 99) {
            sl = random_key(rng, start);
            scan_verify(t, m, start, sl, 1 + util_rand_below(rng, 60));
        } else {
            scan_verify(t, m, k, kl, 1 + util_rand_below(rng, 60));
        }
    }
}

static void model_init(model *m, const universe *u)
{
    m->u = u;
    m->present = calloc(u->n, 1);
    m->vlen = calloc(u->n, sizeof *m->vlen);
    m->ver = calloc(u->n, sizeof *m->ver);
    m->live = 0;
    assert_true(m->present && m->vlen && m->ver);
}

static void model_free(model *m)
{
    free(m->present);
    free(m->vlen);
    free(m->ver);
}

typedef struct single_cfg {
    size_t psz;
    uint32_t keys;
    uint32_t ops;
    uint64_t frames, slots;
    bp_backend backend;
    int checksums;
} single_cfg;

static void run_single(const single_cfg *c)
{
    char path[512];
    universe u;
    model m;
    bp_pool *p;
    bt_tree *t;
    bt_info info;
    uint64_t rng = 0x5eed0000 + c->psz;
    uint32_t op = 0;

    util_tmp_path(path, sizeof path, "single.db");
    remove(path);
    universe_make(&u, c->keys, 42 + c->psz);
    model_init(&m, &u);
    p = pool_open(path, c->psz, c->frames, c->slots, c->backend, c->checksums);
    assert_int_equal(bt_open(&t, p), 0);
    for (; op < c->ops; op++) {
        model_op(t, &m, &rng, op + 1);
        if (op % CHECK_EVERY == CHECK_EVERY - 1)
            tree_check(t);
    }
    full_verify(t, &m);
    assert_int_equal(bt_info_get(t, &info), 0);
    {
        bp_stats st;

        util_stats(p, &st);
        printf("pool (%s, %s): %" PRIu64 " fixes, %" PRIu64 " window misses, "
               "%" PRIu64 " cache misses, %" PRIu64 " writes, %" PRIu64
               " opt failures, %" PRIu64 " restarts\n",
               bp_backend_name((bp_backend)st.backend), st.io_engine,
               st.fixes, st.window_misses, st.cache_misses, st.writes,
               st.opt_failures, info.restarts);
    }
    printf("psz %zu: %u ops, %" PRIu64 " keys, height %" PRIu64 ", %" PRIu64
           " leaves, %" PRIu64 " inner, %" PRIu64 " free pages\n",
           c->psz, c->ops, info.keys, info.height, info.leaves, info.inners,
           info.free_pages);

    /* durability: flush, close everything, reopen with another cache */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(bt_flush(t), 0);
        assert_int_equal(bt_close(t), 0);
        assert_int_equal(bp_close(p), 0);
        p = pool_open(path, c->psz, c->frames * 2, c->slots, BP_BACKEND_AUTO,
                      c->checksums);
        assert_int_equal(bt_open(&t, p), 0);
        full_verify(t, &m);
        for (uint32_t i = 0; i < 20000; i++, op++)
            model_op(t, &m, &rng, op + 1);
        full_verify(t, &m);
    }
    /* empty it: every page must come back to the free list */
    for (uint32_t id = 0; id < u.n; id++) {
        size_t kl;
        const unsigned char *k = ukey(&u, id, &kl);

        assert_int_equal(bt_del(t, k, kl), m.present[id] ? 0 : BT_NOTFOUND);
        m.live -= m.present[id];
        m.present[id] = 0;
    }
    full_verify(t, &m);
    assert_int_equal(bt_info_get(t, &info), 0);
    assert_int_equal(info.height, 1);
    assert_int_equal(info.leaves, 1);
    assert_int_equal(info.free_pages, bp_page_count(p) - 2);
    assert_int_equal(bt_close(t), 0);
    assert_int_equal(bp_close(p), 0);
    model_free(&m);
    universe_free(&u);
    remove(path);
}

static void test_single_4k(void **state)
{
    single_cfg c = {.psz = 4096, .keys = 5000, .ops = 1000000, .frames = 256,
                    .slots = 40, .backend = BP_BACKEND_AUTO};

    (void)state;
    run_single(&c);
}

static void test_single_8k(void **state)
{
    single_cfg c = {.psz = 8192, .keys = 3000, .ops = OPS_8K, .frames = 64,
                    .slots = 16, .backend = BP_BACKEND_COPY, .checksums = 1};

    (void)state;
    run_single(&c);
}

/* ---- API edges ---------------------------------------------------------------------- */

static int count_fn(void *ctx, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    return ++*(int *)ctx >= 3;
}

static int all_fn(void *ctx, const void *key, size_t klen, const void *val,
                  size_t vlen)
{
    (void)ctx, (void)key, (void)klen, (void)val, (void)vlen;
    return 0;
}

static void test_edges(void **state)
{
    char path[512];
    unsigned char big[BT_MAX_KEY + 2] = {0}, v[BT_MAX_VAL + 1] = {0};
    bp_pool *p;
    bt_tree *t;
    uint64_t count;
    size_t vl;
    int n = 0;

    (void)state;
    util_tmp_path(path, sizeof path, "edges.db");
    remove(path);
    p = pool_open(path, 4096, 64, 16, BP_BACKEND_AUTO, 0);
    assert_int_equal(bt_open(&t, p), 0);
    assert_int_equal(bt_put(t, big, 0, v, 1), -EINVAL);
    assert_int_equal(bt_put(t, big, BT_MAX_KEY + 1, v, 1), -EINVAL);
    assert_int_equal(bt_put(t, big, 1, v, BT_MAX_VAL + 1), -EINVAL);
    assert_int_equal(bt_put(t, NULL, 1, v, 1), -EINVAL);
    assert_int_equal(bt_get(t, big, 1, NULL, 0, NULL), BT_NOTFOUND);
    assert_int_equal(bt_del(t, big, 1), BT_NOTFOUND);
    /* largest key with largest value, empty value, prefix keys */
    memset(big, 0xff, sizeof big);
    assert_int_equal(bt_put(t, big, BT_MAX_KEY, v, BT_MAX_VAL), 0);
    assert_int_equal(bt_put(t, big, 1, v, 0), 0);
    assert_int_equal(bt_put(t, big, 2, "xy", 2), 0);
    assert_int_equal(bt_get(t, big, 1, NULL, 0, &vl), 0);
    assert_int_equal(vl, 0);
    assert_int_equal(bt_get(t, big, BT_MAX_KEY, NULL, 0, &vl), 0);
    assert_int_equal(vl, BT_MAX_VAL);
    assert_int_equal(bt_scan(t, NULL, 0, 0, count_fn, &n, &count), 0);
    assert_int_equal(count, 3);
    n = 0;
    assert_int_equal(bt_scan(t, big, 2, 0, count_fn, &n, &count), 0);
    assert_int_equal(count, 2);
    tree_check(t);
    assert_int_equal(bt_close(t), 0);
    assert_int_equal(bp_close(p), 0);
    remove(path);
}

/* ---- long common prefixes and keys that are prefixes of each other ------------- */

#define PFX_SUFFIX_MAX 6u
#define PFX_KEYS 1093u /* 3^0 + 3^1 + ... + 3^6 suffixes */

typedef struct pfx_key {
    unsigned char k[64];
    size_t len;
} pfx_key;

static int pfx_cmp(const void *a, const void *b)
{
    const pfx_key *x = a, *y = b;

    return key_cmp(x->k, x->len, y->k, y->len);
}

/* Every key plen bytes of 'p' then 0..6 bytes from {0x00, 0x01, 0xff}:
 * nodes whose keys share more than BT_PFX_INLINE bytes (plen 30) or
 * fewer (plen 10), and keys equal in their heads that differ only in
 * trailing zero bytes ("p..p", "p..p\0", "p..p\0\0"). */
static uint32_t pfx_keys(pfx_key *keys, size_t plen)
{
    static const unsigned char alpha[3] = {0x00, 0x01, 0xff};
    uint32_t n = 0;

    for (uint32_t sl = 0; sl <= PFX_SUFFIX_MAX; sl++) {
        uint32_t combos = 1;

        for (uint32_t i = 0; i < sl; i++)
            combos *= 3;
        for (uint32_t c = 0; c < combos; c++, n++) {
            memset(keys[n].k, 'p', plen);
            for (uint32_t i = 0, x = c; i < sl; i++, x /= 3)
                keys[n].k[plen + i] = alpha[x % 3];
            keys[n].len = plen + sl;
        }
    }
    return n;
}

typedef struct pfx_scan {
    const pfx_key *keys;
    uint32_t next, n;
    int bad;
} pfx_scan;

static int pfx_scan_fn(void *ctx, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
    pfx_scan *s = ctx;

    if (s->next >= s->n || vlen != 4 ||
        key_cmp(key, klen, s->keys[s->next].k, s->keys[s->next].len) != 0 ||
        memcmp(val, &s->next, 4) != 0)
        s->bad = 1;
    s->next++;
    return s->bad;
}

static void run_prefixes(size_t plen)
{
    pfx_key *keys = calloc(PFX_KEYS, sizeof *keys);
    uint32_t *order = malloc(PFX_KEYS * sizeof *order), n;
    uint64_t rng = 7 + plen, count;
    char path[512];
    bp_pool *p;
    bt_tree *t;

    assert_true(keys && order);
    n = pfx_keys(keys, plen);
    assert_int_equal(n, PFX_KEYS);
    qsort(keys, n, sizeof *keys, pfx_cmp); /* value = rank */
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) { /* inserted in random order */
        uint32_t j = (uint32_t)util_rand_below(&rng, i + 1), x = order[i];

        order[i] = order[j];
        order[j] = x;
    }
    util_tmp_path(path, sizeof path, "prefixes.db");
    remove(path);
    p = pool_open(path, 4096, 64, 16, BP_BACKEND_AUTO, 0);
    assert_int_equal(bt_open(&t, p), 0);
    for (uint32_t i = 0; i < n; i++) {
        const pfx_key *k = &keys[order[i]];

        assert_int_equal(bt_put(t, k->k, k->len, &order[i], 4), 0);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = UINT32_MAX;
        size_t vl = 0;
        unsigned char absent[64];

        if (bt_get(t, keys[i].k, keys[i].len, &v, sizeof v, &vl) != 0 ||
            vl != 4 || v != i)
            fail_msg("prefix %zu: key of rank %u (%zu bytes) reads as rank "
                     "%u", plen, i, keys[i].len, v);
        memcpy(absent, keys[i].k, keys[i].len); /* no key has a 0x02 */
        absent[keys[i].len] = 0x02;
        assert_int_equal(bt_get(t, absent, keys[i].len + 1, NULL, 0, NULL),
                         BT_NOTFOUND);
    }
    pfx_scan sc = {.keys = keys, .n = n};
    assert_int_equal(bt_scan(t, NULL, 0, 0, pfx_scan_fn, &sc, &count), 0);
    if (sc.bad || count != n)
        fail_msg("prefix %zu: the scan differs from the sorted keys at pair "
                 "%u of %u", plen, sc.next, n);
    tree_check(t);
    assert_int_equal(bt_close(t), 0);
    assert_int_equal(bp_close(p), 0);
    remove(path);
    free(keys);
    free(order);
}

static void test_prefixes(void **state)
{
    (void)state;
    run_prefixes(10); /* the prefix fits in the node header */
    run_prefixes(30); /* it does not: compared in the first key */
}

/* ---- ascending inserts ------------------------------------------------------------ */

static void asc_key(unsigned char *k, uint32_t stream, uint32_t seq)
{
    k[0] = 'o';
    k[1] = (unsigned char)stream;
    k[2] = (unsigned char)(seq >> 16);
    k[3] = (unsigned char)(seq >> 8);
    k[4] = (unsigned char)seq;
}

/* Ascending streams of keys, interleaved; with tail_first the last stream
 * is put in whole first, so the others grow in front of older keys. */
static void asc_put(bt_tree *t, uint32_t s, uint32_t i, uint32_t per,
                    size_t vlen, uint64_t *bytes)
{
    unsigned char k[5], v[BT_MAX_VAL];
    size_t vl = vlen - (i + s) % 8;

    asc_key(k, s, i);
    val_fill(v, vl, s * per + i, 1);
    assert_int_equal(bt_put(t, k, sizeof k, v, vl), 0);
    *bytes += bt__leaf_need(sizeof k, vl);
}

static void run_ascending(size_t psz, uint32_t streams, uint32_t per,
                          size_t vlen, double min_fill, int tail_first)
{
    char path[512];
    unsigned char k[5], got[BT_MAX_VAL];
    uint32_t first = tail_first ? streams - 1 : streams;
    uint64_t bytes = 0;
    bt_info info;
    bp_pool *p;
    bt_tree *t;
    size_t gl;
    double fill;

    util_tmp_path(path, sizeof path, "asc.db");
    remove(path);
    p = pool_open(path, psz, 4096, 256, BP_BACKEND_AUTO, 0);
    assert_int_equal(bt_open(&t, p), 0);
    for (uint32_t i = 0; tail_first && i < per; i++)
        asc_put(t, streams - 1, i, per, vlen, &bytes);
    for (uint32_t i = 0; i < per; i++)
        for (uint32_t s = 0; s < first; s++)
            asc_put(t, s, i, per, vlen, &bytes);
    tree_check(t);
    for (uint32_t s = 0; s < streams; s++)
        for (uint32_t i = 0; i < per; i++) {
            size_t vl = vlen - (i + s) % 8;

            asc_key(k, s, i);
            assert_int_equal(bt_get(t, k, sizeof k, got, sizeof got, &gl), 0);
            assert_int_equal(gl, vl);
            if (!val_ok(got, gl, s * per + i, 1))
                fail_msg("stream %u key %u: wrong value", s, i);
        }
    assert_int_equal(bt_info_get(t, &info), 0);
    fill = (double)bytes / ((double)info.leaves * (double)(psz - BT_HDR));
    printf("ascending%s, %zu B pages, %u streams x %u keys, values ~%zu "
           "B: %llu leaves, fill %.0f%%\n",
           tail_first ? " in front of older keys" : "", psz, streams, per, vlen,
           (unsigned long long)info.leaves, fill * 100);
    assert_true(info.keys == (uint64_t)streams * per);
    assert_true(fill >= min_fill);
    assert_int_equal(bt_close(t), 0);
    assert_int_equal(bp_close(p), 0);
    remove(path);
}

static void test_ascending(void **state)
{
    (void)state;
    run_ascending(8192, 1, 60000, 40, 0.70, 0);
    run_ascending(8192, 10, 6000, 40, 0.70, 0);
    run_ascending(4096, 10, 3000, 120, 0.70, 0);
    /* 3 entries fill a page: correctness, and still better than halves */
    run_ascending(4096, 3, 600, BT_MAX_VAL, 0.60, 0);
    /* runs growing in front of a whole table loaded before them (TPC-C's
     * tables, one after another in one key space).  The split that sent
     * the new key right, to the older keys, left each leaf behind only as
     * full as the room the older keys left, and two such side by side broke
     * the merge rule (bt_check failed here) */
    run_ascending(4096, 2, 3000, 120, 0.70, 1);
    run_ascending(8192, 3, 4000, 300, 0.70, 1);
}

/* ---- sorted bulk load ------------------------------------------------------------ */

static void be64(unsigned char *k, uint64_t x)
{
    for (int i = 7; i >= 0; i--, x >>= 8)
        k[i] = (unsigned char)x;
}

/* n keys: 8-byte big-endian integers 1000 + 3 * id (sorted by id). */
static void universe_ints(universe *u, uint32_t n)
{
    u->n = n;
    u->off = malloc(n * sizeof *u->off);
    u->len = malloc(n);
    u->blob = malloc((size_t)n * 8);
    assert_true(u->off && u->len && u->blob);
    for (uint32_t i = 0; i < n; i++) {
        u->off[i] = 8 * i;
        u->len[i] = 8;
        be64(u->blob + (size_t)8 * i, 1000 + 3 * (uint64_t)i);
    }
}

/* Leaf fill: live leaf bytes over the leaves' room. */
static double leaf_fill(bt_tree *t, size_t psz, uint64_t bytes)
{
    bt_info info;

    assert_int_equal(bt_info_get(t, &info), 0);
    return (double)bytes /
           ((double)info.leaves * (double)(psz - BP_PAGE_TRAILER - BT_HDR));
}

typedef struct bulk_cfg {
    const char *name;
    size_t psz;
    int strings;   /* universe_make keys, else universe_ints */
    uint32_t keys; /* universe size; every fifth id is left out */
    size_t vlen;   /* 0: small values of 0..23 bytes */
    double fill;
    uint64_t frames, slots;
    bp_backend backend;
    int checksums;
} bulk_cfg;

static size_t bulk_vlen(const bulk_cfg *c, uint32_t id)
{
    return c->vlen ? c->vlen : id % 24;
}

static void run_bulk(const bulk_cfg *c)
{
    char path[512];
    unsigned char v[BT_MAX_VAL];
    uint32_t n = c->keys / BULK_SCALE;
    uint64_t rng = 0xb0b0 + n, bytes = 0;
    universe u;
    model m;
    bp_pool *p;
    bt_tree *t;
    bt_bulk *b;
    bt_info info;
    double fill;

    util_tmp_path(path, sizeof path, "bulk.db");
    remove(path);
    if (c->strings)
        universe_make(&u, n, 99 + n);
    else
        universe_ints(&u, n);
    model_init(&m, &u);
    p = pool_open(path, c->psz, c->frames, c->slots, c->backend, c->checksums);
    assert_int_equal(bt_open(&t, p), 0);
    assert_int_equal(bt_bulk_begin(t, c->fill, &b), 0);
    for (uint32_t id = 0; id < u.n; id++) {
        size_t kl, vl = bulk_vlen(c, id);
        const unsigned char *k = ukey(&u, id, &kl);
        int rc;

        if (id % 5 == 2)
            continue;
        val_fill(v, vl, id, 1);
        if ((rc = bt_bulk_add(b, k, kl, v, vl)) != 0)
            fail_msg("bulk add id %u: %d (%s)", id, rc, bp_strerror(rc));
        m.present[id] = 1;
        m.vlen[id] = (uint16_t)vl;
        m.ver[id] = 1;
        m.live++;
        bytes += bt__leaf_need(kl, vl);
    }
    assert_int_equal(bt_bulk_end(b), 0);
    assert_int_equal(bt_info_get(t, &info), 0);
    assert_int_equal(info.keys, m.live);
    fill = leaf_fill(t, c->psz, bytes);
    printf("bulk %s: %" PRIu64 " keys, height %" PRIu64 ", %" PRIu64
           " leaves, %" PRIu64 " inner, leaf fill %.1f%% (asked %.0f%%)\n",
           c->name, info.keys, info.height, info.leaves, info.inners,
           fill * 100, (c->fill ? c->fill : 1.0) * 100);
    /* every leaf but the last holds more than fill minus one entry */
    assert_true(fill >= (c->fill ? c->fill : 1.0) - 0.07);
    assert_true(fill <= (c->fill ? c->fill : 1.0) + 0.001);
    full_verify(t, &m);

    /* an ordinary tree: puts into the gaps split full leaves, deletes merge */
    for (uint32_t op = 0; op < 60000 / BULK_SCALE; op++)
        model_op(t, &m, &rng, op + 2);
    full_verify(t, &m);
    assert_int_equal(bt_flush(t), 0);
    assert_int_equal(bt_close(t), 0);
    assert_int_equal(bp_close(p), 0);
    p = pool_open(path, c->psz, c->frames, c->slots, BP_BACKEND_AUTO,
                  c->checksums);
    assert_int_equal(bt_open(&t, p), 0);
    full_verify(t, &m);
    assert_int_equal(bt_close(t), 0);
    assert_int_equal(bp_close(p), 0);
    model_free(&m);
    universe_free(&u);
    remove(path);
}

static void test_bulk_load(void **state)
{
    /* caches that hold the tree (the single_* tests evict all the time);
     * after the reopen every page comes from the file */
    static const bulk_cfg cfgs[] = {
        {"int keys, small values, 4 KiB", 4096, 0, 375000, 0, 1.0, 8192, 4096,
         BP_BACKEND_AUTO, 0},
        {"int keys, 120 B values, 8 KiB, fill 0.9", 8192, 0, 250000, 120, 0.9,
         8192, 4096, BP_BACKEND_AUTO, 0},
        {"string keys, 120 B values, 4 KiB", 4096, 1, 250000, 120, 0, 8192,
         4096, BP_BACKEND_AUTO, 0},
        {"string keys, small values, 8 KiB, fill 0.6, copy, checksums", 8192,
         1, 375000, 0, 0.6, 8192, 2048, BP_BACKEND_COPY, 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        run_bulk(&cfgs[i]);
}

/* Key i of the size sweep: 195 bytes shared, the number last, so the
 * separators are long and inner nodes hold few of them. */
static void sweep_key(unsigned char *k, uint32_t i)
{
    memset(k, 'x', 195);
    k[195] = (unsigned char)(i >> 24);
    k[196] = (unsigned char)(i >> 16);
    k[197] = (unsigned char)(i >> 8);
    k[198] = (unsigned char)i;
}

static size_t sweep_vlen(uint32_t i, int mode)
{
    return mode == 0 ? 300 : mode == 1 ? (i * 2654435761u >> 7) % 1025 : 10;
}

/* Nodes under t_min content bytes below node pgno (white box: reads the
 * pages; pgno itself not counted when it is the root). */
static uint64_t underfull_nodes(bt_tree *t, uint64_t pgno)
{
    unsigned char *n = malloc(t->t_psz);
    uint64_t under = 0;
    bp_page pg;

    assert_non_null(n);
    assert_int_equal(bp_fix(t->t_pool, pgno, BP_SHARED, &pg), 0);
    memcpy(n, pg.data, t->t_psz);
    assert_int_equal(bp_unfix(t->t_pool, &pg, 0), 0);
    if (pgno != BT_ROOT && bt__node_content(t, n) < t->t_min)
        under++;
    if (bt_nd(n)->bn_type == BT_INNER)
        for (int i = -1; i < (int)bt_nd(n)->bn_count; i++)
            under += underfull_nodes(t, bt__node_child_at(t, n, i));
    free(n);
    return under;
}

/* Load n keys, check everything, then delete them all (merging).  With
 * entries of one size (modes 0 and 2) every node but the root holds at
 * least t_min: the last node of each level was merged or balanced. */
static void sweep_one(bt_tree *t, uint32_t n, double fill, int mode)
{
    unsigned char k[199], v[BT_MAX_VAL], got[BT_MAX_VAL];
    char err[256];
    bt_bulk *b;
    bt_info info;
    uint64_t count;
    size_t gl;

    assert_int_equal(bt_bulk_begin(t, fill, &b), 0);
    for (uint32_t i = 0; i < n; i++) {
        size_t vl = sweep_vlen(i, mode);

        sweep_key(k, i);
        val_fill(v, vl, i, 3);
        assert_int_equal(bt_bulk_add(b, k, sizeof k, v, vl), 0);
    }
    assert_int_equal(bt_bulk_end(b), 0);
    assert_int_equal(bt_info_get(t, &info), 0);
    if (info.keys != n)
        fail_msg("%u keys loaded, bt_info counts %" PRIu64, n, info.keys);
    if (bt_check(t, err, sizeof err) != 0)
        fail_msg("load of %u (fill %.2f, values %d): bt_check: %s", n, fill,
                 mode, err);
    if (mode != 1 && underfull_nodes(t, BT_ROOT) != 0)
        fail_msg("load of %u (fill %.2f, values %d): %" PRIu64 " underfull "
                 "nodes", n, fill, mode, underfull_nodes(t, BT_ROOT));
    for (uint32_t i = 0; i < n; i++) {
        sweep_key(k, i);
        assert_int_equal(bt_get(t, k, sizeof k, got, sizeof got, &gl), 0);
        assert_int_equal(gl, sweep_vlen(i, mode));
        assert_true(val_ok(got, gl, i, 3));
    }
    assert_int_equal(bt_scan(t, NULL, 0, 0, all_fn, NULL, &count), 0);
    assert_int_equal(count, n);
    /* delete from the right end first: the last nodes merge first */
    for (uint32_t i = n; i-- > 0;) {
        sweep_key(k, i);
        assert_int_equal(bt_del(t, k, sizeof k), 0);
        if (i == n / 2)
            tree_check(t);
    }
    tree_check(t);
    assert_int_equal(bt_info_get(t, &info), 0);
    assert_int_equal(info.keys, 0);
    assert_int_equal(info.height, 1);
}

static void test_bulk_sizes(void **state)
{
    /* fill 1.0, 300 B values: 7 pairs a leaf, 19 children an inner node,
     * so a new level starts above 133 and 2527 pairs; fill 0.5 with values
     * of 0..1024 bytes: entries up to most of the fill; fill 0.8, 10 B
     * values: 14 pairs a leaf, 16 children */
    static const struct {
        double fill;
        int mode;
        uint32_t big[6];
    } runs[] = {
        {1.0, 0, {267, 2528, 2534, 2661, 5055, 5062}},
        {0.5, 1, {500, 1200, 2500, 3001, 4000, 6000}},
        {0.8, 2, {449, 3585, 3586, 3599, 3600, 7169}},
    };
    char path[512];
    bp_pool *p = NULL;
    bt_tree *t = NULL;

    (void)state;
    util_tmp_path(path, sizeof path, "bulksizes.db");
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        /* a load takes new pages, so the free list grows with each size:
         * a fresh file every 16 sizes keeps bt_check's walk of it short */
        for (uint32_t n = 0; n <= 160 / BULK_SCALE; n++) {
            if (n % 16 == 0) {
                remove(path);
                p = pool_open(path, 4096, 1024, 1024, BP_BACKEND_AUTO, 0);
                assert_int_equal(bt_open(&t, p), 0);
            }
            sweep_one(t, n, runs[r].fill, runs[r].mode);
            if (n % 16 == 15 || n == 160 / BULK_SCALE) {
                assert_int_equal(bt_close(t), 0);
                assert_int_equal(bp_close(p), 0);
            }
        }
        for (size_t i = 0; i < 6; i++) {
            remove(path);
            p = pool_open(path, 4096, 3072, 1024, BP_BACKEND_AUTO, 0);
            assert_int_equal(bt_open(&t, p), 0);
            sweep_one(t, runs[r].big[i], runs[r].fill, runs[r].mode);
            assert_int_equal(bt_close(t), 0);
            assert_int_equal(bp_close(p), 0);
        }
    }
    remove(path);
}

static void test_bulk_refused(void **state)
{
    char path[512];
    unsigned char k[8], big[BT_MAX_VAL + 1] = {0};
    bt_bulk *b, *b2 = (bt_bulk *)&b;
    bt_info info;
    bp_pool *p;
    bt_tree *t;
    uint64_t count;
    size_t vl;

    (void)state;
    util_tmp_path(path, sizeof path, "bulkrefused.db");
    remove(path);
    p = pool_open(path, 4096, 256, 32, BP_BACKEND_AUTO, 0);
    assert_int_equal(bt_open(&t, p), 0);

    /* arguments */
    assert_int_equal(bt_bulk_begin(NULL, 1.0, &b), -EINVAL);
    assert_null(b);
    assert_int_equal(bt_bulk_begin(t, 1.0, NULL), -EINVAL);
    assert_int_equal(bt_bulk_begin(t, 0.3, &b), -EINVAL);
    assert_int_equal(bt_bulk_begin(t, 1.01, &b), -EINVAL);
    assert_int_equal(bt_bulk_begin(t, -1.0, &b), -EINVAL);
    assert_int_equal(bt_bulk_end(NULL), -EINVAL);
    assert_int_equal(bt_bulk_abort(NULL), 0);

    /* out of order and repeated keys are refused; the load goes on */
    assert_int_equal(bt_bulk_begin(t, 0, &b), 0);
    assert_int_equal(bt_bulk_begin(t, 1.0, &b2), -EBUSY);
    assert_null(b2);
    be64(k, 5);
    assert_int_equal(bt_bulk_add(b, k, 8, "five", 4), 0);
    be64(k, 3);
    assert_int_equal(bt_bulk_add(b, k, 8, "three", 5), BT_EORDER);
    be64(k, 5);
    assert_int_equal(bt_bulk_add(b, k, 8, "again", 5), BT_EORDER);
    assert_int_equal(bt_bulk_add(b, k, 0, "x", 1), -EINVAL);
    assert_int_equal(bt_bulk_add(b, k, BT_MAX_KEY + 1, "x", 1), -EINVAL);
    assert_int_equal(bt_bulk_add(b, k, 8, big, BT_MAX_VAL + 1), -EINVAL);
    assert_int_equal(bt_bulk_add(b, NULL, 8, "x", 1), -EINVAL);
    assert_int_equal(bt_bulk_add(b, k, 8, NULL, 1), -EINVAL);
    assert_int_equal(bt_bulk_add(NULL, k, 8, "x", 1), -EINVAL);
    /* a key that is the previous one plus a byte is above it, its prefix
     * is below */
    assert_int_equal(bt_bulk_add(b, "\0\0\0\0\0\0\0\5\0", 9, "", 0), 0);
    assert_int_equal(bt_bulk_add(b, k, 8, "x", 1), BT_EORDER);
    be64(k, 7);
    assert_int_equal(bt_bulk_add(b, k, 8, "seven", 5), 0);
    assert_int_equal(bt_bulk_end(b), 0);
    tree_check(t);
    assert_int_equal(bt_info_get(t, &info), 0);
    assert_int_equal(info.keys, 3);
    assert_int_equal(bt_get(t, k, 8, big, sizeof big, &vl), 0);
    assert_int_equal(vl, 5);
    assert_memory_equal(big, "seven", 5);
    be64(k, 5);
    assert_int_equal(bt_get(t, k, 8, big, sizeof big, &vl), 0);
    assert_memory_equal(big, "five", 4);
    be64(k, 3);
    assert_int_equal(bt_get(t, k, 8, NULL, 0, NULL), BT_NOTFOUND);

    /* not empty: refused, and nothing changes */
    b = (bt_bulk *)&b;
    assert_int_equal(bt_bulk_begin(t, 1.0, &b), -ENOTEMPTY);
    assert_null(b);
    assert_int_equal(bt_scan(t, NULL, 0, 0, all_fn, NULL, &count), 0);
    assert_int_equal(count, 3);

    /* emptied by deletes: a load is taken again; one with no pair leaves
     * the tree as it was */
    be64(k, 5);
    assert_int_equal(bt_del(t, k, 8), 0);
    be64(k, 7);
    assert_int_equal(bt_del(t, k, 8), 0);
    assert_int_equal(bt_del(t, "\0\0\0\0\0\0\0\5\0", 9), 0);
    assert_int_equal(bt_bulk_begin(t, 1.0, &b), 0);
    assert_int_equal(bt_bulk_end(b), 0);
    tree_check(t);

    /* the tree changed while a load was open: the end refuses, the load's
     * pages go to the free list, the put stays */
    assert_int_equal(bt_bulk_begin(t, 1.0, &b), 0);
    for (uint32_t i = 0; i < 5000; i++) {
        be64(k, 100 + i);
        assert_int_equal(bt_bulk_add(b, k, 8, big, 100), 0);
    }
    be64(k, 1);
    assert_int_equal(bt_put(t, k, 8, "one", 3), 0);
    assert_int_equal(bt_bulk_end(b), -ENOTEMPTY);
    tree_check(t);
    assert_int_equal(bt_info_get(t, &info), 0);
    assert_int_equal(info.keys, 1);
    assert_int_equal(info.height, 1);
    assert_int_equal(info.free_pages, bp_page_count(p) - 2);
    assert_int_equal(bt_get(t, k, 8, NULL, 0, NULL), 0);
    be64(k, 100);
    assert_int_equal(bt_get(t, k, 8, NULL, 0, NULL), BT_NOTFOUND);

    assert_int_equal(bt_close(t), 0);
    assert_int_equal(bp_close(p), 0);
    remove(path);
}

/* Bulk-load keys first, first + step, ... (n of them) and check them. */
static void bulk_ints_verify(bt_tree *t, uint64_t first, uint64_t step,
                              uint32_t n)
{
    unsigned char k[8], v[64], got[64];
    bt_bulk *b;
    uint64_t count;
    size_t gl;

    assert_int_equal(bt_bulk_begin(t, 1.0, &b), 0);
    for (uint32_t i = 0; i < n; i++) {
        be64(k, first + step * i);
        val_fill(v, sizeof v, i, 7);
        assert_int_equal(bt_bulk_add(b, k, 8, v, sizeof v), 0);
    }
    assert_int_equal(bt_bulk_end(b), 0);
    tree_check(t);
    for (uint32_t i = 0; i < n; i++) {
        be64(k, first + step * i);
        assert_int_equal(bt_get(t, k, 8, got, sizeof got, &gl), 0);
        assert_int_equal(gl, sizeof v);
        assert_true(val_ok(got, gl, i, 7));
    }
    assert_int_equal(bt_scan(t, NULL, 0, 0, all_fn, NULL, &count), 0);
    assert_int_equal(count, n);
}

static void test_bulk_abort(void **state)
{
    char path[512];
    unsigned char k[8], v[64] = {0};
    bt_bulk *b;
    bt_info info;
    bp_pool *p;
    bt_tree *t;
    uint64_t count, pages;
    uint32_t n = 50000 / BULK_SCALE;

    (void)state;
    util_tmp_path(path, sizeof path, "bulkabort.db");
    remove(path);
    p = pool_open(path, 4096, 256, 32, BP_BACKEND_AUTO, 0);
    assert_int_equal(bt_open(&t, p), 0);

    /* nothing added */
    assert_int_equal(bt_bulk_begin(t, 1.0, &b), 0);
    assert_int_equal(bt_bulk_abort(b), 0);
    assert_int_equal(bp_page_count(p), 2);

    /* a load of several levels, and a refused key, then abort */
    assert_int_equal(bt_bulk_begin(t, 1.0, &b), 0);
    for (uint32_t i = 0; i < n; i++) {
        be64(k, 10 + 2 * (uint64_t)i);
        assert_int_equal(bt_bulk_add(b, k, 8, v, sizeof v), 0);
    }
    be64(k, 10);
    assert_int_equal(bt_bulk_add(b, k, 8, v, sizeof v), BT_EORDER);
    assert_int_equal(bt_bulk_abort(b), 0);
    pages = bp_page_count(p);
    assert_true(pages >= 2 + n / 50); /* a leaf holds 49 of these pairs */
    tree_check(t);
    assert_int_equal(bt_info_get(t, &info), 0);
    assert_int_equal(info.keys, 0);
    assert_int_equal(info.height, 1);
    assert_int_equal(info.leaves, 1);
    assert_int_equal(info.inners, 0);
    assert_int_equal(info.free_pages, pages - 2);
    assert_int_equal(bt_get(t, k, 8, NULL, 0, NULL), BT_NOTFOUND);
    assert_int_equal(bt_scan(t, NULL, 0, 0, all_fn, NULL, &count), 0);
    assert_int_equal(count, 0);

    /* the tree works: puts (taking free pages) and deletes */
    for (uint32_t i = 0; i < 2000; i++) {
        be64(k, i * 7919 % 2000);
        assert_int_equal(bt_put(t, k, 8, v, sizeof v), 0);
    }
    tree_check(t);
    for (uint32_t i = 0; i < 2000; i++) {
        be64(k, i);
        assert_int_equal(bt_del(t, k, 8), 0);
    }
    tree_check(t);

    /* and a new load, beside the free list, survives a reopen */
    bulk_ints_verify(t, 5, 3, n);
    assert_int_equal(bt_flush(t), 0);
    assert_int_equal(bt_close(t), 0);
    assert_int_equal(bp_close(p), 0);
    p = pool_open(path, 4096, 128, 32, BP_BACKEND_AUTO, 0);
    assert_int_equal(bt_open(&t, p), 0);
    tree_check(t);
    assert_int_equal(bt_info_get(t, &info), 0);
    assert_int_equal(info.keys, n);
    assert_int_equal(bt_close(t), 0);
    assert_int_equal(bp_close(p), 0);
    remove(path);
}

/* ---- threads ------------------------------------------------------------------------- */

typedef struct mt_shared {
    const universe *u;
    bt_tree *t;
    int overlap;
    int errors;
} mt_shared;

typedef struct mt_worker {
    mt_shared *sh;
    int id;
    model m;            /* disjoint: this thread's keys */
    pthread_t th;
} mt_worker;

static void mt_error(mt_shared *sh, const char *fmt, uint32_t id, int rc)
{
    if (__atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED) <= 5) {
        printf("thread error: ");
        printf(fmt, id, rc);
        printf("\n");
    }
}

/* Overlap values: [u32 id][u32 tag][bytes from (id, tag)], length from tag. */
static size_t ov_len(uint32_t tag)
{
    return 8 + (tag * 2654435761u >> 8) % 300;
}

static size_t ov_make(unsigned char *v, uint32_t id, uint32_t tag)
{
    size_t len = ov_len(tag);

    memcpy(v, &id, 4);
    memcpy(v + 4, &tag, 4);
    val_fill(v + 8, len - 8, id, tag);
    return len;
}

static int ov_ok(const unsigned char *v, size_t len, uint32_t id)
{
    uint32_t vid, tag;

    if (len < 8)
        return 0;
    memcpy(&vid, v, 4);
    memcpy(&tag, v + 4, 4);
    return vid == id && len == ov_len(tag) && val_ok(v + 8, len - 8, id, tag);
}

typedef struct mt_scan {
    mt_worker *w;
    uint32_t next; /* disjoint: next own id expected at or after */
    unsigned char prev[BT_MAX_KEY];
    size_t prevlen;
    int bad;
} mt_scan;

static int mt_scan_fn(void *ctx, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    mt_scan *s = ctx;
    mt_worker *w = s->w;
    const universe *u = w->sh->u;
    uint32_t id = lower_bound(u, key, klen);
    size_t l = 0;
    const unsigned char *uk = id < u->n ? ukey(u, id, &l) : NULL;

    if (!uk || key_cmp(uk, l, key, klen) != 0 ||
        (s->prevlen && key_cmp(s->prev, s->prevlen, key, klen) >= 0)) {
        s->bad = 1;
        return 1;
    }
    memcpy(s->prev, key, klen);
    s->prevlen = klen;
    if (w->sh->overlap) {
        s->bad |= !ov_ok(val, vlen, id);
        return s->bad;
    }
    /* own keys between the last one seen and this one must be absent */
    for (; s->next < id; s->next++)
        if ((int)(s->next % NTHREADS) == w->id && w->m.present[s->next])
            s->bad = 1;
    if ((int)(id % NTHREADS) == w->id &&
        (!w->m.present[id] || vlen != w->m.vlen[id] ||
         !val_ok(val, vlen, id, w->m.ver[id])))
        s->bad = 1;
    s->next = id + 1;
    return s->bad;
}

static void *mt_main(void *arg)
{
    mt_worker *w = arg;
    mt_shared *sh = w->sh;
    const universe *u = sh->u;
    uint64_t rng = 0x77 + (uint64_t)w->id * 0x9e3779b97f4a7c15ull;
    unsigned char v[BT_MAX_VAL];

    for (uint32_t op = 1; op <= MT_OPS && sh->errors == 0; op++) {
        uint32_t id = (uint32_t)util_rand_below(&rng, u->n), r;
        uint32_t tag = (uint32_t)w->id << 24 | op;
        size_t kl, vl;
        const unsigned char *k;
        int rc;

        if (!sh->overlap)
            id = id - id % NTHREADS + (uint32_t)w->id < u->n
                     ? id - id % NTHREADS + (uint32_t)w->id
                     : (uint32_t)w->id;
        k = ukey(u, id, &kl);
        r = (uint32_t)util_rand_below(&rng, 100);
        if (r < 40) {
            if (sh->overlap) {
                vl = ov_make(v, id, tag);
            } else {
                vl = util_rand_below(&rng, 4) ? util_rand_below(&rng, 200)
                                              : util_rand_below(&rng, 1001);
                val_fill(v, vl, id, tag);
            }
            if ((rc = bt_put(sh->t, k, kl, v, vl)) != 0) {
                mt_error(sh, "put id %u: %d", id, rc);
                continue;
            }
            if (!sh->overlap) {
                w->m.live += !w->m.present[id];
                w->m.present[id] = 1;
                w->m.vlen[id] = (uint16_t)vl;
                w->m.ver[id] = tag;
            }
        } else if (r < 65) {
            rc = bt_del(sh->t, k, kl);
            if (rc != 0 && rc != BT_NOTFOUND)
                mt_error(sh, "del id %u: %d", id, rc);
            else if (!sh->overlap && (rc == 0) != w->m.present[id])
                mt_error(sh, "del id %u: %d disagrees with the model", id, rc);
            if (!sh->overlap)
                w->m.present[id] = 0;
        } else if (r < 95) {
            rc = bt_get(sh->t, k, kl, v, sizeof v, &vl);
            if (rc != 0 && rc != BT_NOTFOUND)
                mt_error(sh, "get id %u: %d", id, rc);
            else if (sh->overlap ? rc == 0 && !ov_ok(v, vl, id)
                                 : (rc == 0) != w->m.present[id] ||
                                       (rc == 0 && (vl != w->m.vlen[id] ||
                                                    !val_ok(v, vl, id,
                                                            w->m.ver[id]))))
                mt_error(sh, "get id %u: %d: wrong answer", id, rc);
        } else {
            mt_scan s = {.w = w, .next = id};
            uint64_t count;

            rc = bt_scan(sh->t, k, kl, 1 + util_rand_below(&rng, 40),
                         mt_scan_fn, &s, &count);
            if (rc != 0 || s.bad)
                mt_error(sh, "scan from id %u: %d: wrong answer", id, rc);
        }
    }
    return NULL;
}

static int ov_count_fn(void *ctx, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
    mt_scan *s = ctx;

    s->bad |= mt_scan_fn(ctx, key, klen, val, vlen);
    return 0;
}

static void run_threads(int overlap, size_t psz)
{
    char path[512];
    universe u;
    mt_shared sh = {.overlap = overlap};
    mt_worker w[NTHREADS];
    bp_pool *p;
    bt_info info;
    uint64_t count, live = 0;

    util_tmp_path(path, sizeof path, "threads.db");
    remove(path);
    universe_make(&u, overlap ? 600 : 8000, 7 + (uint64_t)overlap);
    sh.u = &u;
    p = pool_open(path, psz, 256, 48, BP_BACKEND_AUTO, 0);
    assert_int_equal(bt_open(&sh.t, p), 0);
    util_watchdog_start(900, "btree threads");
    for (int i = 0; i < NTHREADS; i++) {
        w[i].sh = &sh;
        w[i].id = i;
        model_init(&w[i].m, &u);
        assert_int_equal(pthread_create(&w[i].th, NULL, mt_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(w[i].th, NULL);
    util_watchdog_stop();
    assert_int_equal(sh.errors, 0);
    tree_check(sh.t);
    for (int round = 0; round < 2; round++) {
        mt_worker all = {.sh = &sh, .id = -1};
        mt_scan s = {.w = &all};

        all.m = w[0].m;
        assert_int_equal(bt_scan(sh.t, NULL, 0, 0, ov_count_fn, &s, &count),
                         0);
        assert_false(s.bad && overlap);
        assert_int_equal(bt_info_get(sh.t, &info), 0);
        assert_int_equal(info.keys, count);
        if (!overlap) {
            live = 0;
            for (int i = 0; i < NTHREADS; i++)
                for (uint32_t id = 0; id < u.n; id++)
                    if ((int)(id % NTHREADS) == i) {
                        live += w[i].m.present[id];
                        get_verify(sh.t, &w[i].m, id);
                    }
            assert_int_equal(count, live);
        }
        /* flush, close, reopen: the same again */
        assert_int_equal(bt_flush(sh.t), 0);
        assert_int_equal(bt_close(sh.t), 0);
        assert_int_equal(bp_close(p), 0);
        p = pool_open(path, psz, 128, 32, BP_BACKEND_AUTO, 0);
        assert_int_equal(bt_open(&sh.t, p), 0);
        tree_check(sh.t);
    }
    assert_int_equal(bt_close(sh.t), 0);
    assert_int_equal(bp_close(p), 0);
    for (int i = 0; i < NTHREADS; i++)
        model_free(&w[i].m);
    universe_free(&u);
    remove(path);
}

static void test_threads_disjoint(void **state)
{
    (void)state;
    run_threads(0, 4096);
}

static void test_threads_overlap(void **state)
{
    (void)state;
    run_threads(1, 4096);
    run_threads(1, 8192);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_ascending),
        cmocka_unit_test(test_bulk_load),
        cmocka_unit_test(test_bulk_sizes),
        cmocka_unit_test(test_bulk_refused),
        cmocka_unit_test(test_bulk_abort),
        cmocka_unit_test(test_single_4k),
        cmocka_unit_test(test_single_8k),
        cmocka_unit_test(test_threads_disjoint),
        cmocka_unit_test(test_threads_overlap),
    };

    util_init();
    if (getenv("BTREE_TEST_FILTER")) /* e.g. "test_single_*" */
        cmocka_set_test_filter(getenv("BTREE_TEST_FILTER"));
    return cmocka_run_group_tests_name("btree", tests, NULL, NULL);
}
