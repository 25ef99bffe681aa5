/*
 * btree_node.c - the bytes of one node: search, insert, remove, compaction,
 * split, merge and balance (layout in btree_internal.h).
 *
 * Two kinds of callers:
 *   - optimistic readers ("_opt" functions): the page may change under them
 *     at any moment, so every count, offset and length is loaded once and
 *     bounds-checked before use; garbage gives -1 / 0 / NULL, never a read
 *     outside the page nor an endless loop.  The caller then validates.
 *   - holders of a fix (everything else): the node is stable; functions
 *     that change it need an exclusive fix and a node that passed
 *     bt__node_sane() when it was fixed.
 */
#include "btree_internal.h"

/* Page-sized scratch for compaction, split and merge (max page 64 KiB). */
static _Thread_local unsigned char bt_scratch[65536] __attribute__((aligned(64)));

static inline uint32_t slot_off(uint32_t meta)
{
    return meta & 0xffffu;
}

static inline uint32_t slot_klen(uint32_t meta)
{
    return meta >> 16;
}

/* Bytes of record header before the key. */
static inline uint32_t rec_hdr(int type)
{
    return type == BT_LEAF ? 2u : 8u;
}

/* ---- optimistic reads ------------------------------------------------------ */

/* Key of slot with meta m in a node of type, bounds-checked; NULL on garbage. */
static const unsigned char *key_at(const bt_tree *t, const void *n, int type,
                                   uint32_t m)
{
    uint32_t off = slot_off(m), kl = slot_klen(m);

    if (off < BT_HDR || kl == 0 || kl > BT_MAX_KEY ||
        off + rec_hdr(type) + kl > t->t_end)
        return NULL;
    return (const unsigned char *)n + off + rec_hdr(type);
}

int bt__node_search_opt(const bt_tree *t, const void *n, const void *key,
                        size_t klen, int *eq)
{
    const bt_node *h = bt_nd(n);
    const bt_slot *s = bt_slots(n);
    const unsigned char *kb = key;
    uint32_t cnt = BT_LD(h->bn_count), pfx = BT_LD(h->bn_pfx), kh, lo = 0;
    uint32_t hi = cnt;
    int type = BT_LD(h->bn_type);

    *eq = 0;
    if (BT_HDR + cnt * (uint32_t)sizeof(bt_slot) > t->t_end ||
        (type != BT_LEAF && type != BT_INNER) || pfx > BT_MAX_KEY)
        return -1;
    if (cnt == 0)
        return 0;
    /* the lines the search will probe are fetched together, not one miss
     * after another: all of a small node's slots, the first four probe
     * levels of a large one's */
    if (cnt * (uint32_t)sizeof(bt_slot) <= 1024)
        for (uint32_t b = 0; b < cnt * (uint32_t)sizeof(bt_slot); b += 64)
            __builtin_prefetch((const char *)s + b);
    else
        for (uint32_t k = 1; k < 16; k++)
            __builtin_prefetch(&s[cnt * k / 16]);
    if (pfx > 0) { /* outside the prefix: before or after every key */
        const unsigned char *pb = h->bn_pfxb;
        uint32_t n0 = klen < pfx ? (uint32_t)klen : pfx;
        int c;

        if (pfx > BT_PFX_INLINE) { /* the prefix is whole in key 0 only */
            uint32_t m0 = BT_LD(s[0].sl_meta);

            if (!(pb = key_at(t, n, type, m0)) || slot_klen(m0) < pfx)
                return -1;
        }
        c = memcmp(kb, pb, n0);
        if (c < 0 || (c == 0 && klen < pfx))
            return 0;
        if (c > 0)
            return (int)cnt;
    }
    kh = bt_head(kb + pfx, klen - pfx);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2, sh = BT_LD(s[mid].sl_head);
        int c;

        if (sh != kh) {
            c = sh < kh ? -1 : 1;
        } else {
            uint32_t m = BT_LD(s[mid].sl_meta), sl = slot_klen(m);

            if (sl < pfx)
                return -1;
            if (sl - pfx <= 4 || klen - pfx <= 4) {
                /* equal heads hold every byte of the shorter key: it is
                 * the longer one's prefix (or both are the same key) */
                c = sl < klen ? -1 : sl > klen;
            } else {
                const unsigned char *k = key_at(t, n, type, m);

                if (!k)
                    return -1;
                c = bt_keycmp(k + pfx + 4, sl - pfx - 4, kb + pfx + 4,
                              klen - pfx - 4);
            }
        }
        if (c == 0) {
            /* the caller reads the record next: all of its lines at once
             * (a prefetch never faults, whatever the offset) */
            const char *r = (const char *)n + slot_off(BT_LD(s[mid].sl_meta));

            for (int l = 0; l < (type == BT_LEAF ? 3 : 1); l++)
                __builtin_prefetch(r + 64 * l);
            *eq = 1;
            return (int)mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int)lo;
}

uint64_t bt__node_child_at(const bt_tree *t, const void *n, int i)
{
    const bt_node *h = bt_nd(n);
    uint32_t m, off;

    if (i < 0)
        return BT_LD(h->bn_first);
    if ((uint32_t)i >= BT_LD(h->bn_count) ||
        BT_HDR + ((uint32_t)i + 1) * (uint32_t)sizeof(bt_slot) > t->t_end)
        return 0;
    m = BT_LD(bt_slots(n)[i].sl_meta);
    off = slot_off(m);
    if (off < BT_HDR || off + 8 > t->t_end)
        return 0;
    return bt_rd64((const unsigned char *)n + off);
}

uint64_t bt__node_child_opt(const bt_tree *t, const void *n, const void *key,
                            size_t klen)
{
    int eq, pos = bt__node_search_opt(t, n, key, klen, &eq);

    if (pos < 0)
        return 0;
    return bt__node_child_at(t, n, eq ? pos : pos - 1);
}

const unsigned char *bt__node_key_opt(const bt_tree *t, const void *n,
                                      uint32_t i, uint32_t *klen)
{
    const bt_node *h = bt_nd(n);
    uint32_t cnt = BT_LD(h->bn_count), m;
    int type = BT_LD(h->bn_type);

    if (i >= cnt || BT_HDR + (i + 1) * (uint32_t)sizeof(bt_slot) > t->t_end ||
        (type != BT_LEAF && type != BT_INNER))
        return NULL;
    m = BT_LD(bt_slots(n)[i].sl_meta);
    *klen = slot_klen(m);
    return key_at(t, n, type, m);
}

const unsigned char *bt__node_val_opt(const bt_tree *t, const void *n,
                                      uint32_t i, uint32_t *vlen)
{
    const bt_node *h = bt_nd(n);
    const unsigned char *k;
    uint32_t kl, vl, off;

    if (BT_LD(h->bn_type) != BT_LEAF || !(k = bt__node_key_opt(t, n, i, &kl)))
        return NULL;
    off = (uint32_t)(k - (const unsigned char *)n) - 2;
    vl = bt_rd16((const unsigned char *)n + off);
    if (vl > BT_MAX_VAL || off + 2 + kl + vl > t->t_end)
        return NULL;
    *vlen = vl;
    return k + kl;
}

/* ---- fixed nodes ------------------------------------------------------------- */

static uint32_t rec_len(const void *n, uint32_t i)
{
    const bt_node *h = bt_nd(n);
    uint32_t m = bt_slots(n)[i].sl_meta;

    if (h->bn_type == BT_LEAF)
        return 2 + slot_klen(m) + bt_rd16((const unsigned char *)n + slot_off(m));
    return 8 + slot_klen(m);
}

int bt__node_sane(const bt_tree *t, const void *n)
{
    const bt_node *h = bt_nd(n);
    uint32_t low = BT_HDR + h->bn_count * (uint32_t)sizeof(bt_slot);

    return h->bn_magic == BT_NODE_MAGIC &&
           (h->bn_type == BT_LEAF || h->bn_type == BT_INNER) &&
           (h->bn_type == BT_LEAF) == (h->bn_level == 0) &&
           h->bn_level < BT_MAX_HEIGHT && low <= h->bn_heap &&
           h->bn_heap <= t->t_end && h->bn_frag <= t->t_end - h->bn_heap;
}

/* The header's copy of the prefix matches key k (slot 0's) and is zero
 * past the prefix. */
static int inline_prefix_ok(const bt_node *h, const unsigned char *k)
{
    uint32_t in = h->bn_pfx < BT_PFX_INLINE ? h->bn_pfx : BT_PFX_INLINE;

    for (uint32_t i = 0; i < BT_PFX_INLINE; i++)
        if (h->bn_pfxb[i] != (i < in ? k[i] : 0))
            return 0;
    return 1;
}

int bt__node_sane_full(const bt_tree *t, const void *n)
{
    const bt_node *h = bt_nd(n);

    if (!bt__node_sane(t, n))
        return 0;
    for (uint32_t i = 0; i < h->bn_count; i++) {
        uint32_t m = bt_slots(n)[i].sl_meta, off = slot_off(m);
        const unsigned char *k = key_at(t, n, h->bn_type, m);

        if (!k || off < h->bn_heap || slot_klen(m) < h->bn_pfx ||
            memcmp(k, key_at(t, n, h->bn_type, bt_slots(n)[0].sl_meta),
                   h->bn_pfx) != 0 ||
            (i == 0 && !inline_prefix_ok(h, k)) ||
            bt_slots(n)[i].sl_head !=
                bt_head(k + h->bn_pfx, slot_klen(m) - h->bn_pfx))
            return 0;
        if (h->bn_type == BT_LEAF &&
            (bt_rd16(k - 2) > BT_MAX_VAL || off + rec_len(n, i) > t->t_end))
            return 0;
    }
    return 1;
}

uint32_t bt__node_content(const bt_tree *t, const void *n)
{
    const bt_node *h = bt_nd(n);

    return h->bn_count * (uint32_t)sizeof(bt_slot) +
           (t->t_end - h->bn_heap - h->bn_frag);
}

uint32_t bt__leaf_need(size_t klen, size_t vlen)
{
    return (uint32_t)(sizeof(bt_slot) + 2 + klen + vlen);
}

uint32_t bt__inner_need(size_t klen)
{
    return (uint32_t)(sizeof(bt_slot) + 8 + klen);
}

void bt__node_init(const bt_tree *t, void *n, int type, int level)
{
    bt_node *h = bt_nd(n);

    memset(h, 0, sizeof *h);
    h->bn_magic = BT_NODE_MAGIC;
    h->bn_type = (uint8_t)type;
    h->bn_level = (uint8_t)level;
    h->bn_heap = (uint16_t)t->t_end;
}

/* Put a record (hdr, key, val) at slot pos; the caller made room. */
static void put_rec(void *n, uint32_t pos, const void *key, size_t klen,
                    const void *hdr, size_t hlen, const void *val, size_t vlen)
{
    bt_node *h = bt_nd(n);
    bt_slot *s = bt_slots(n);
    unsigned char *p = n;
    uint32_t len = (uint32_t)(hlen + klen + vlen);

    h->bn_heap -= len;
    memcpy(p + h->bn_heap, hdr, hlen);
    memcpy(p + h->bn_heap + hlen, key, klen);
    if (vlen)
        memcpy(p + h->bn_heap + hlen + klen, val, vlen);
    memmove(s + pos + 1, s + pos, (h->bn_count - pos) * sizeof *s);
    s[pos].sl_head = bt_head((const unsigned char *)key + h->bn_pfx,
                             klen - h->bn_pfx);
    s[pos].sl_meta = h->bn_heap | (uint32_t)klen << 16;
    h->bn_count++;
}

/* Key of slot i of a fixed node. */
static const unsigned char *fixed_key(const void *n, uint32_t i, uint32_t *kl)
{
    uint32_t m = bt_slots(n)[i].sl_meta;

    *kl = slot_klen(m);
    return (const unsigned char *)n + slot_off(m) + rec_hdr(bt_nd(n)->bn_type);
}

static uint32_t common_prefix(const unsigned char *a, uint32_t al,
                              const unsigned char *b, uint32_t bl)
{
    uint32_t i = 0;

    while (i < al && i < bl && a[i] == b[i])
        i++;
    return i;
}

/* Set the node's prefix to pfx and recompute every head. */
static void set_prefix(void *n, uint32_t pfx)
{
    bt_node *h = bt_nd(n);

    h->bn_pfx = (uint16_t)pfx;
    memset(h->bn_pfxb, 0, sizeof h->bn_pfxb);
    if (pfx > 0) {
        uint32_t kl;
        const unsigned char *k0 = fixed_key(n, 0, &kl);

        memcpy(h->bn_pfxb, k0, pfx < BT_PFX_INLINE ? pfx : BT_PFX_INLINE);
    }
    for (uint32_t i = 0; i < h->bn_count; i++) {
        uint32_t kl;
        const unsigned char *k = fixed_key(n, i, &kl);

        bt_slots(n)[i].sl_head = bt_head(k + pfx, kl - pfx);
    }
}

/* After a node was rebuilt: the longest prefix its keys share (sorted, so
 * that of the first and last key). */
void bt__node_fit_prefix(void *n)
{
    uint32_t cnt = bt_nd(n)->bn_count, al, bl, pfx = 0;

    if (cnt > 0) {
        const unsigned char *a = fixed_key(n, 0, &al);
        const unsigned char *b = fixed_key(n, cnt - 1, &bl);

        pfx = common_prefix(a, al, b, bl);
    }
    set_prefix(n, pfx);
}

/* Before key goes into n: shorten the prefix if key does not share it. */
static void admit_key(void *n, const void *key, size_t klen)
{
    bt_node *h = bt_nd(n);
    uint32_t kl;

    if (h->bn_count == 0) {
        set_prefix(n, 0);
    } else if (h->bn_pfx > 0) {
        const unsigned char *k0 = fixed_key(n, 0, &kl);
        uint32_t c = common_prefix(k0, h->bn_pfx, key, (uint32_t)klen);

        if (c < h->bn_pfx)
            set_prefix(n, c);
    }
}

/* Append slot i of src (a fixed node of the same type) to dst. */
static void append_from(void *dst, const void *src, uint32_t i)
{
    uint32_t m = bt_slots(src)[i].sl_meta, len = rec_len(src, i);
    const unsigned char *r = (const unsigned char *)src + slot_off(m);
    uint32_t hl = rec_hdr(bt_nd(src)->bn_type);

    put_rec(dst, bt_nd(dst)->bn_count, r + hl, slot_klen(m), r, hl,
            r + hl + slot_klen(m), len - hl - slot_klen(m));
}

/* Copy n to the scratch page and return it. */
static unsigned char *to_scratch(const bt_tree *t, const void *n)
{
    memcpy(bt_scratch, n, t->t_end);
    return bt_scratch;
}

/* Rewrite the records of n without the dead bytes. */
static void compact(const bt_tree *t, void *n)
{
    const unsigned char *old = to_scratch(t, n);
    bt_node *h = bt_nd(n);
    uint32_t cnt = h->bn_count;

    h->bn_count = 0;
    h->bn_heap = (uint16_t)t->t_end;
    h->bn_frag = 0;
    for (uint32_t i = 0; i < cnt; i++)
        append_from(n, old, i);
    bt__node_fit_prefix(n);
}

/* Make room for need bytes (slot + record); -1 if they cannot fit. */
static int make_room(const bt_tree *t, void *n, uint32_t need)
{
    bt_node *h = bt_nd(n);
    uint32_t gap = h->bn_heap - BT_HDR - h->bn_count * (uint32_t)sizeof(bt_slot);

    if (gap >= need)
        return 0;
    if (gap + h->bn_frag < need)
        return -1;
    compact(t, n);
    return 0;
}

int bt__leaf_insert(const bt_tree *t, void *n, uint32_t pos, const void *key,
                    size_t klen, const void *val, size_t vlen)
{
    uint16_t vl = (uint16_t)vlen;

    if (make_room(t, n, bt__leaf_need(klen, vlen)) != 0)
        return -1;
    admit_key(n, key, klen);
    put_rec(n, pos, key, klen, &vl, sizeof vl, val, vlen);
    return 0;
}

int bt__inner_insert(const bt_tree *t, void *n, uint32_t pos, const void *key,
                     size_t klen, uint64_t child)
{
    if (make_room(t, n, bt__inner_need(klen)) != 0)
        return -1;
    admit_key(n, key, klen);
    put_rec(n, pos, key, klen, &child, sizeof child, NULL, 0);
    return 0;
}

void bt__node_remove(const bt_tree *t, void *n, uint32_t pos)
{
    bt_node *h = bt_nd(n);
    bt_slot *s = bt_slots(n);

    (void)t;
    h->bn_frag += rec_len(n, pos);
    memmove(s + pos, s + pos + 1, (h->bn_count - pos - 1) * sizeof *s);
    h->bn_count--;
}

/* ---- split and merge ----------------------------------------------------------- */

/* Leaf split point m in [1, count-1]: the left half keeps slots [0, m).
 * The pending entry (size pending, at ppos, replacing ppos when prep) is
 * counted on the side it will go to, so both halves are balanced after it
 * goes in. */
static uint32_t leaf_split_point(const void *n, uint32_t ppos,
                                 uint32_t pending, int prep)
{
    uint32_t cnt = bt_nd(n)->bn_count, best = 1, total = pending, left = 0;
    uint64_t bestd = UINT64_MAX;

    for (uint32_t i = 0; i < cnt; i++)
        if (!(prep && i == ppos))
            total += (uint32_t)sizeof(bt_slot) + rec_len(n, i);
    for (uint32_t m = 1; m < cnt; m++) {
        uint32_t i = m - 1;
        int64_t d;

        if (!(prep && i == ppos))
            left += (uint32_t)sizeof(bt_slot) + rec_len(n, i);
        d = 2 * (int64_t)(left + (ppos < m ? pending : 0)) - total;
        if ((uint64_t)(d < 0 ? -d : d) < bestd) {
            bestd = (uint64_t)(d < 0 ? -d : d);
            best = m;
        }
    }
    return best;
}

/* Inner split point: the key at m moves up; halves balanced by bytes. */
static uint32_t inner_split_point(const void *n)
{
    uint32_t cnt = bt_nd(n)->bn_count, total = 0, left = 0, best = cnt / 2;
    uint64_t bestd = UINT64_MAX;

    if (cnt < 3)
        return best;
    for (uint32_t i = 0; i < cnt; i++)
        total += (uint32_t)sizeof(bt_slot) + rec_len(n, i);
    for (uint32_t m = 1; m + 1 < cnt; m++) {
        uint32_t me = (uint32_t)sizeof(bt_slot) + rec_len(n, m);
        int64_t d;

        left += (uint32_t)sizeof(bt_slot) + rec_len(n, m - 1);
        d = 2 * (int64_t)left - (total - me);
        if ((uint64_t)(d < 0 ? -d : d) < bestd) {
            bestd = (uint64_t)(d < 0 ? -d : d);
            best = m;
        }
    }
    return best;
}

/* Split point for ascending inserts into leaf n (the pending entry new, at
 * ppos, right after the last key put in); 0 when the rule does not apply.
 *  - Inside the leaf, with at least t_min bytes of older keys after ppos
 *    (a run of keys growing in front of keys loaded earlier, as TPC-C's
 *    tables loaded one after another in one key space): split at ppos and
 *    let the pending entry go LEFT (*pend_left).  The old keys keep their
 *    own leaf and the run appends at the end of the left one, so the next
 *    split is the end case below.  Sending the entry right with the old
 *    keys instead left behind leaves only as full as the room the old keys
 *    left free, side by side and underfull (a TPC-C-like load at 4 KiB
 *    pages made 195 MiB of data instead of 125).
 *  - At the end, or with fewer old keys after ppos: the largest m <= ppos
 *    that leaves the right half (slots m.. and the pending entry) at least
 *    t_min bytes and fits it in a page. */
static uint32_t leaf_append_point(const bt_tree *t, const void *n,
                                  uint32_t ppos, uint32_t pending,
                                  int *pend_left)
{
    uint32_t right = pending, room = t->t_end - BT_HDR, tail = 0, left = 0;

    *pend_left = 0;
    if (ppos == 0 || ppos > bt_nd(n)->bn_count ||
        bt_nd(n)->bn_last != ppos)
        return 0;
    for (uint32_t i = ppos; i < bt_nd(n)->bn_count; i++)
        tail += (uint32_t)sizeof(bt_slot) + rec_len(n, i);
    for (uint32_t i = 0; i < ppos; i++)
        left += (uint32_t)sizeof(bt_slot) + rec_len(n, i);
    if (tail >= t->t_min && left + pending <= room) {
        *pend_left = 1;
        return ppos;
    }
    right += tail;
    for (uint32_t m = ppos; m >= 1; m--) {
        if (right > room)
            return 0;
        /* m == count would leave no old key on the right: the separator
         * comes from the pending key, see bt__node_split */
        if (right >= t->t_min)
            return m;
        right += (uint32_t)sizeof(bt_slot) + rec_len(n, m - 1);
    }
    return 0;
}

void bt__node_split(const bt_tree *t, void *n, void *r, uint64_t rpgno,
                    unsigned char *sep, uint32_t *seplen, uint32_t ppos,
                    uint32_t pending, int prep, const void *key,
                    uint32_t klen)
{
    bt_node *h = bt_nd(n), *rh = bt_nd(r);
    int type = h->bn_type, level = h->bn_level;
    uint32_t cnt = h->bn_count, m = 0, kl;
    const unsigned char *old, *k;
    int pend_left = 0;

    if (type == BT_LEAF && !prep)
        m = leaf_append_point(t, n, ppos, pending, &pend_left);
    if (m == 0)
        m = type == BT_LEAF ? leaf_split_point(n, ppos, pending, prep)
                            : inner_split_point(n);
    old = to_scratch(t, n);
    bt__node_init(t, n, type, level);
    bt__node_init(t, r, type, level);
    h->bn_first = bt_nd(old)->bn_first;
    for (uint32_t i = 0; i < m; i++)
        append_from(n, old, i);
    if (type == BT_LEAF) {
        /* shortest key above the left half's last and <= the right's first
         * (the pending key is the left's last when it goes left, the
         * right's first when it goes right at ppos) */
        uint32_t al, cp = 0;
        const unsigned char *a;

        if (pend_left) {
            a = key;
            al = klen;
        } else
            a = bt__node_key_opt(t, old, m - 1, &al);
        if (m == ppos && !pend_left) {
            k = key;
            kl = klen;
        } else
            k = bt__node_key_opt(t, old, m, &kl);
        while (cp < al && cp < kl && a[cp] == k[cp])
            cp++;
        *seplen = cp + 1;
        memcpy(sep, k, *seplen);
        for (uint32_t i = m; i < cnt; i++)
            append_from(r, old, i);
        rh->bn_right = bt_nd(old)->bn_right;
        h->bn_right = rpgno;
    } else {
        k = bt__node_key_opt(t, old, m, &kl);
        *seplen = kl;
        memcpy(sep, k, kl);
        rh->bn_first = bt__node_child_at(t, old, (int)m);
        for (uint32_t i = m + 1; i < cnt; i++)
            append_from(r, old, i);
    }
    bt__node_fit_prefix(n);
    bt__node_fit_prefix(r);
}

int bt__node_can_merge(const bt_tree *t, const void *l, const void *r,
                       uint32_t seplen)
{
    uint32_t sum = bt__node_content(t, l) + bt__node_content(t, r);

    if (bt_nd(l)->bn_type == BT_INNER)
        sum += bt__inner_need(seplen);
    return sum <= t->t_end - BT_HDR;
}

void bt__node_merge(const bt_tree *t, void *l, const void *r,
                    const unsigned char *sep, uint32_t seplen)
{
    bt_node *h = bt_nd(l);
    const bt_node *rh = bt_nd(r);

    compact(t, l);
    set_prefix(l, 0); /* r's keys and sep need not share l's prefix */
    if (h->bn_type == BT_INNER) {
        uint64_t child = rh->bn_first;

        put_rec(l, h->bn_count, sep, seplen, &child, sizeof child, NULL, 0);
    }
    for (uint32_t i = 0; i < rh->bn_count; i++)
        append_from(l, r, i);
    h->bn_right = rh->bn_right;
    bt__node_fit_prefix(l);
}

/* ---- balancing two built nodes --------------------------------------------------- */

/* The entries of two adjacent nodes as one run: l's slots, then (inner
 * nodes) the separator between them with r's leftmost child, then r's
 * slots.  l and r are copies. */
typedef struct bt_run {
    const unsigned char *ru_l, *ru_r;
    uint32_t ru_lc, ru_rc, ru_inner;
    const unsigned char *ru_sep;
    uint32_t ru_seplen;
    uint64_t ru_child;
} bt_run;

static uint32_t run_size(const bt_run *q, uint32_t j)
{
    if (j < q->ru_lc)
        return (uint32_t)sizeof(bt_slot) + rec_len(q->ru_l, j);
    if (q->ru_inner && j == q->ru_lc)
        return bt__inner_need(q->ru_seplen);
    return (uint32_t)sizeof(bt_slot) +
           rec_len(q->ru_r, j - q->ru_lc - q->ru_inner);
}

static const unsigned char *run_key(const bt_run *q, uint32_t j, uint32_t *kl)
{
    if (j < q->ru_lc)
        return fixed_key(q->ru_l, j, kl);
    if (q->ru_inner && j == q->ru_lc) {
        *kl = q->ru_seplen;
        return q->ru_sep;
    }
    return fixed_key(q->ru_r, j - q->ru_lc - q->ru_inner, kl);
}

/* Inner runs: the child of entry j. */
static uint64_t run_child(const bt_run *q, uint32_t j)
{
    const unsigned char *n = q->ru_l;

    if (j == q->ru_lc)
        return q->ru_child;
    if (j > q->ru_lc) {
        n = q->ru_r;
        j -= q->ru_lc + 1;
    }
    return bt_rd64(n + slot_off(bt_slots(n)[j].sl_meta));
}

static void run_append(void *dst, const bt_run *q, uint32_t j)
{
    if (j < q->ru_lc) {
        append_from(dst, q->ru_l, j);
    } else if (q->ru_inner && j == q->ru_lc) {
        put_rec(dst, bt_nd(dst)->bn_count, q->ru_sep, q->ru_seplen,
                &q->ru_child, sizeof q->ru_child, NULL, 0);
    } else {
        append_from(dst, q->ru_r, j - q->ru_lc - q->ru_inner);
    }
}

void bt__node_balance(const bt_tree *t, void *l, void *r, unsigned char *sep,
                      uint32_t *seplen, void *tmp)
{
    bt_node *lh = bt_nd(l), *rh = bt_nd(r);
    int type = lh->bn_type, level = lh->bn_level;
    uint32_t inner = type == BT_INNER, total = 0, left = 0, m, e, kl, al;
    uint64_t lfirst = lh->bn_first, rright = rh->bn_right, bestd = UINT64_MAX;
    unsigned char oldsep[BT_MAX_KEY];
    const unsigned char *k, *a;
    bt_run q = {0};

    q.ru_lc = lh->bn_count;
    q.ru_rc = rh->bn_count;
    q.ru_inner = inner;
    e = q.ru_lc + q.ru_rc + inner;
    if (e < 2 + inner)
        return;
    if (inner) {
        memcpy(oldsep, sep, *seplen);
        q.ru_sep = oldsep;
        q.ru_seplen = *seplen;
        q.ru_child = rh->bn_first;
    }
    q.ru_l = to_scratch(t, l);
    memcpy(tmp, r, t->t_end);
    q.ru_r = tmp;
    for (uint32_t j = 0; j < e; j++)
        total += run_size(&q, j);
    /* leaves: l keeps [0, m); inner: entry m moves up (1 <= m <= e - 2) */
    m = 1;
    for (uint32_t j = 1; j + inner < e; j++) {
        uint32_t up = inner ? run_size(&q, j) : 0;
        int64_t d;

        left += run_size(&q, j - 1);
        d = 2 * (int64_t)left - (int64_t)(total - up);
        if ((uint64_t)(d < 0 ? -d : d) < bestd) {
            bestd = (uint64_t)(d < 0 ? -d : d);
            m = j;
        }
    }
    bt__node_init(t, l, type, level);
    bt__node_init(t, r, type, level);
    for (uint32_t j = 0; j < m; j++)
        run_append(l, &q, j);
    k = run_key(&q, m, &kl);
    if (inner) {
        lh->bn_first = lfirst;
        rh->bn_first = run_child(&q, m);
        *seplen = kl;
        memcpy(sep, k, kl);
        for (uint32_t j = m + 1; j < e; j++)
            run_append(r, &q, j);
    } else {
        uint32_t cp = 0;

        a = run_key(&q, m - 1, &al);
        while (cp < al && cp < kl && a[cp] == k[cp])
            cp++;
        *seplen = cp + 1;
        memcpy(sep, k, *seplen);
        for (uint32_t j = m; j < e; j++)
            run_append(r, &q, j);
        lh->bn_right = bt_nd(q.ru_l)->bn_right;
        rh->bn_right = rright;
    }
    bt__node_fit_prefix(l);
    bt__node_fit_prefix(r);
}
