/*
 * tpcc_txn.c - the five TPC-C transactions (clause 2.4-2.8) and the worker
 * loop: closed loop, no keying or think time, mix New-Order 45, Payment 43,
 * Order-Status 4, Delivery 4, Stock-Level 4 (drawn per transaction).
 *
 * Home warehouse: by default drawn per transaction, uniform over the W
 * warehouses, and so is Stock-Level's district.  With tp->home_fixed each
 * worker is a terminal as in TPC-C: worker tid has home warehouse
 * tid % W + 1 and, for Stock-Level, the fixed district (tid / W) % 10 + 1.
 * Other transactions draw their district per transaction in both modes.
 *
 * Each transaction first draws all of its inputs (tx_*_input: clause
 * 2.x.1's random choices, in the order the transaction uses them), then
 * runs.  The driver alone (tpcc_driver) draws the same inputs and takes
 * and releases the lock sets they name, without kv calls.
 *
 * Concurrency control, the same for every engine:
 *   1. Anything that can be known without locks is found first: the
 *      customer chosen by last name (CUST_NAME never changes after the
 *      load; read in a read transaction of its own).
 *   2. The driver's lock manager (tpcc_lock.c) takes the transaction's
 *      whole lock set in one global order: Payment W(w) D(w,d) C(c);
 *      New-Order D(w,d) C(c) S(each supply warehouse, item); Order-Status
 *      C(c); Stock-Level D(w,d) while it reads the district and its last 20
 *      orders' lines (stock rows afterwards, unlocked: clause 2.8.2.3 lets
 *      Stock-Level read committed rows without repeatable reads); Delivery
 *      per district D(w,d), then a read transaction finds the oldest
 *      NEW_ORDER and its customer, then C(c) (it sorts after every D).
 *   3. Only then kv_begin: a write transaction for New-Order, Payment and
 *      Delivery (LMDB: a real one; bufpool: each put is atomic on its own),
 *      a read transaction for Order-Status and Stock-Level.  All mutexes
 *      are taken before LMDB's writer lock and released after commit, so
 *      the writer lock is last in the order and cannot close a cycle.
 * So conflicting transactions are serialized by the mutexes and every
 * write a transaction makes is final: no transaction needs undoing, which
 * the bufpool engine could not do.
 *
 * New-Order rollback (1%: the last line names an unused item): the items
 * are read right after kv_begin, before any write; an unused one ends the
 * transaction with kv_abort (LMDB discards the write transaction, which
 * has changed nothing; bufpool has nothing to discard).  Counted as a
 * New-Order and in wl_counters.aborts.
 *
 * Delivery runs each district as its own database transaction (allowed by
 * clause 2.7.4.2); a district without undelivered orders is skipped.
 *
 * The worker loop times every transaction that completes, from the end
 * of the one before (its draw, inputs and locks included), into the
 * thread's histogram of its kind (wl_counters.lat) and stops after
 * wl_counters.limit transactions when that is set.
 */
#include "tpcc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct tx_ctx {
    tpcc *tp;
    kv *k;
    bu_rng rng;
    uint32_t w_home;  /* this transaction's home warehouse */
    uint32_t w_fixed, d_fixed; /* tp->home_fixed: the terminal's */
    uint32_t src;  /* HISTORY key source: tid + 1 */
    uint64_t hseq; /* next HISTORY sequence number */
} tx_ctx;

static const uint8_t tx_one = 1;

static uint64_t tx_now(void)
{
    return (uint64_t)time(NULL);
}

/* kv_get of a row that must exist, exactly sizeof *row bytes. */
static int tx_get_row(kv_txn *t, const uint8_t *key, size_t klen, void *row,
                      size_t size)
{
    size_t vlen = 0;
    int rc = kv_get(t, key, klen, row, size, &vlen);
    if (rc == KV_NOTFOUND || (rc == 0 && vlen != size))
        return TPCC_EINCONSISTENT;
    return rc;
}

/* Take the lock set ls, then kv_begin (write or read).  On failure the
 * locks are released and the code returned. */
static int tx_begin_locked(tx_ctx *x, tpcc_lockset *ls, int write,
                           kv_txn **t)
{
    tl_acquire(&x->tp->locks, ls);
    int rc = kv_begin(x->k, write, t);
    if (rc)
        tl_release(&x->tp->locks, ls);
    return rc;
}

/* End what tx_begin_locked began: commit when rc is 0, else abort; then
 * release the locks.  Returns rc or the commit's code. */
static int tx_end_locked(tx_ctx *x, tpcc_lockset *ls, kv_txn *t, int rc)
{
    if (rc)
        kv_abort(t);
    else
        rc = kv_commit(t);
    tl_release(&x->tp->locks, ls);
    return rc;
}

/* A warehouse other than w (w itself when there is only one). */
static uint32_t tx_other_w(tx_ctx *x, uint32_t w)
{
    uint32_t n = x->tp->warehouses;
    if (n == 1)
        return w;
    uint32_t o = tpcc_rand(&x->rng, 1, n - 1);
    return o >= w ? o + 1 : o;
}

/* ---- Customer by last name ----------------------------------------------- */

#define TX_NAME_MAX 1024 /* customers of one last name in a district */

typedef struct tx_names {
    uint8_t prefix[TPCC_KEY_MAX];
    size_t plen;
    uint32_t ids[TX_NAME_MAX];
    uint32_t n;
} tx_names;

static int tx_names_fn(void *ctx, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
    tx_names *s = ctx;
    (void)val;
    (void)vlen;
    if (klen != s->plen + TPCC_NAME_LEN + 4 || memcmp(key, s->prefix, s->plen))
        return 1;
    if (s->n < TX_NAME_MAX)
        s->ids[s->n++] = tk_get32((const uint8_t *)key + klen - 4);
    return 0;
}

/* The CUST_NAME prefix of (w, d, last name number lastno) into s. */
static void tx_names_prefix(tx_names *s, uint32_t w, uint32_t d,
                            uint32_t lastno)
{
    char last[TPCC_NAME_LEN];
    tpcc_last_name(lastno, last);
    s->plen = tk_cust_name(s->prefix, w, d, last, NULL, 0);
    s->n = 0;
}

/* Clause 2.5.2.2: the customers of (w, d) with last name number lastno,
 * sorted by C_FIRST (the index order); take the one at position n/2
 * rounded up.  Runs in a read transaction of its own (the index is never
 * written after the load, so no lock is needed). */
static int tx_customer_by_name(tx_ctx *x, uint32_t w, uint32_t d,
                               uint32_t lastno, uint32_t *c_id)
{
    tx_names s;
    kv_txn *t;
    tx_names_prefix(&s, w, d, lastno);
    int rc = kv_begin(x->k, 0, &t);
    if (rc)
        return rc;
    rc = kv_scan(t, s.prefix, s.plen, TX_NAME_MAX, tx_names_fn, &s);
    int rc2 = kv_commit(t);
    if (rc)
        return rc;
    if (rc2)
        return rc2;
    if (s.n == 0)
        return TPCC_EINCONSISTENT; /* every name exists in every district */
    *c_id = s.ids[(s.n + 1) / 2 - 1];
    return 0;
}

/* A customer as the input names it: by last name number or by id. */
typedef struct tx_cust {
    int by_name;
    uint32_t lastno; /* by_name */
    uint32_t c;      /* !by_name */
} tx_cust;

/* 60% by last name (NURand(255, 0, 999)), else by id (NURand(1023, 1,
 * 3000)). */
static void tx_cust_input(tx_ctx *x, tx_cust *in)
{
    const tpcc_consts *cr = &x->tp->c_run;
    in->by_name = tpcc_rand(&x->rng, 1, 100) <= 60;
    if (in->by_name)
        in->lastno =
            tpcc_nurand(&x->rng, 255, 0, x->tp->last_names - 1, cr->c_last);
    else
        in->c = tpcc_nurand(&x->rng, 1023, 1, x->tp->customers, cr->c_id);
}

/* The customer id of in in (w, d): looked up by name, or in->c. */
static int tx_cust_find(tx_ctx *x, uint32_t w, uint32_t d, const tx_cust *in,
                        uint32_t *c)
{
    if (in->by_name)
        return tx_customer_by_name(x, w, d, in->lastno, c);
    *c = in->c;
    return 0;
}

/* ---- New-Order (clause 2.4) ---------------------------------------------- */

typedef struct tx_no_in {
    uint32_t d, c, ol_cnt, all_local;
    uint32_t i_id[TPCC_MAX_OL], sup_w[TPCC_MAX_OL], qty[TPCC_MAX_OL];
    tpcc_lockset ls; /* D(w,d) C(c) S(each supply warehouse, item) */
} tx_no_in;

static void tx_new_order_input(tx_ctx *x, tx_no_in *in)
{
    tpcc *tp = x->tp;
    uint32_t w = x->w_home;
    in->d = tpcc_rand(&x->rng, 1, TPCC_DISTRICTS);
    in->c = tpcc_nurand(&x->rng, 1023, 1, tp->customers, tp->c_run.c_id);
    in->ol_cnt = tpcc_rand(&x->rng, 5, 15);
    int rbk = tpcc_rand(&x->rng, 1, 100) == 1;
    in->all_local = 1;
    in->ls.n = 0;
    tl_add_d(&tp->locks, &in->ls, w, in->d);
    tl_add_c(&tp->locks, &in->ls, w, in->d, in->c);
    for (uint32_t i = 0; i < in->ol_cnt; i++) {
        in->i_id[i] =
            tpcc_nurand(&x->rng, 8191, 1, tp->items, tp->c_run.ol_i_id);
        if (rbk && i == in->ol_cnt - 1)
            in->i_id[i] = tp->items + 1; /* unused: it rolls back */
        in->sup_w[i] =
            tpcc_rand(&x->rng, 1, 100) == 1 ? tx_other_w(x, w) : w;
        if (in->sup_w[i] != w)
            in->all_local = 0;
        in->qty[i] = tpcc_rand(&x->rng, 1, 10);
        tl_add_s(&tp->locks, &in->ls, in->sup_w[i], in->i_id[i]);
    }
}

static int tx_new_order(tx_ctx *x, int *rolled_back)
{
    tx_no_in in;
    tx_new_order_input(x, &in);
    uint32_t w = x->w_home, d = in.d, c = in.c, ol_cnt = in.ol_cnt;
    uint32_t all_local = in.all_local;
    const uint32_t *i_id = in.i_id, *sup_w = in.sup_w, *qty = in.qty;
    tpcc_lockset *ls = &in.ls;
    *rolled_back = 0;

    kv_txn *t;
    int rc = tx_begin_locked(x, ls, 1, &t);
    if (rc)
        return rc;
    uint8_t key[TPCC_KEY_MAX];
    size_t klen;
    tpcc_item items[TPCC_MAX_OL];
    /* Items first: an unused item id rolls back before anything changed. */
    for (uint32_t i = 0; i < ol_cnt && !rc; i++) {
        size_t vlen = 0;
        rc = kv_get(t, key, tk_item(key, i_id[i]), &items[i], sizeof items[i],
                    &vlen);
        if (rc == KV_NOTFOUND) {
            /* Nothing written yet: kv_abort (LMDB discards the empty write
             * transaction; bufpool has nothing to discard). */
            *rolled_back = 1;
            tx_end_locked(x, ls, t, KV_NOTFOUND);
            return 0;
        }
        if (rc == 0 && vlen != sizeof items[i])
            rc = TPCC_EINCONSISTENT;
    }

    tpcc_warehouse wh;
    tpcc_district di;
    tpcc_customer cu;
    tpcc_order od;
    uint32_t o_id = 0;
    if (!rc)
        rc = tx_get_row(t, key, tk_warehouse(key, w), &wh, sizeof wh);
    if (!rc)
        rc = tx_get_row(t, key, (klen = tk_district(key, w, d)), &di,
                        sizeof di);
    if (!rc) {
        o_id = di.next_o_id++;
        rc = kv_put(t, key, klen, &di, sizeof di);
    }
    if (!rc)
        rc = tx_get_row(t, key, tk_customer(key, w, d, c), &cu, sizeof cu);
    if (!rc) {
        memset(&od, 0, sizeof od);
        od.entry_d = tx_now();
        od.c_id = c;
        od.ol_cnt = ol_cnt;
        od.all_local = all_local;
        rc = kv_put(t, key, tk_order(key, TT_ORDER, w, d, o_id), &od,
                    sizeof od);
    }
    if (!rc)
        rc = kv_put(t, key, tk_order(key, TT_NEW_ORDER, w, d, o_id), &tx_one,
                    1);
    if (!rc)
        rc = kv_put(t, key, tk_cust_order(key, w, d, c, o_id), &tx_one, 1);

    int64_t total = 0;
    for (uint32_t i = 0; i < ol_cnt && !rc; i++) {
        tpcc_stock st;
        rc = tx_get_row(t, key, (klen = tk_stock(key, sup_w[i], i_id[i])),
                        &st, sizeof st);
        if (rc)
            break;
        if (st.quantity >= (int32_t)qty[i] + 10)
            st.quantity -= (int32_t)qty[i];
        else
            st.quantity += 91 - (int32_t)qty[i];
        st.ytd += qty[i];
        st.order_cnt++;
        if (sup_w[i] != w)
            st.remote_cnt++;
        if ((rc = kv_put(t, key, klen, &st, sizeof st)) != 0)
            break;
        tpcc_order_line l;
        memset(&l, 0, sizeof l);
        l.i_id = i_id[i];
        l.supply_w_id = sup_w[i];
        l.quantity = qty[i];
        l.amount = (int64_t)qty[i] * items[i].price;
        memcpy(l.dist_info, st.dist[d - 1], sizeof l.dist_info);
        total += l.amount;
        rc = kv_put(t, key, tk_order_line(key, w, d, o_id, i + 1), &l,
                    sizeof l);
    }
    /* The terminal's total (clause 2.4.2.2), computed as the spec says and
     * then dropped: there is no terminal to show it to. */
    if (!rc)
        total = total * (10000 - cu.discount) / 10000 *
                (10000 + wh.tax + di.tax) / 10000;
    (void)total;
    return tx_end_locked(x, ls, t, rc);
}

/* ---- Payment (clause 2.5) ------------------------------------------------ */

typedef struct tx_pay_in {
    uint32_t d, c_w, c_d;
    tx_cust cust;
    int64_t amount;
} tx_pay_in;

static void tx_payment_input(tx_ctx *x, tx_pay_in *in)
{
    in->d = tpcc_rand(&x->rng, 1, TPCC_DISTRICTS);
    in->c_w = x->w_home;
    in->c_d = in->d;
    if (x->tp->warehouses > 1 && tpcc_rand(&x->rng, 1, 100) > 85) {
        in->c_w = tx_other_w(x, x->w_home);
        in->c_d = tpcc_rand(&x->rng, 1, TPCC_DISTRICTS);
    }
    tx_cust_input(x, &in->cust);
    in->amount = tpcc_rand(&x->rng, 100, 500000);
}

static int tx_payment(tx_ctx *x)
{
    tpcc *tp = x->tp;
    tx_pay_in in;
    tx_payment_input(x, &in);
    uint32_t w = x->w_home, d = in.d, c_w = in.c_w, c_d = in.c_d, c;
    int64_t amount = in.amount;
    int rc = tx_cust_find(x, c_w, c_d, &in.cust, &c);
    if (rc)
        return rc;

    tpcc_lockset ls = {.n = 0};
    tl_add_w(&tp->locks, &ls, w);
    tl_add_d(&tp->locks, &ls, w, d);
    tl_add_c(&tp->locks, &ls, c_w, c_d, c);
    kv_txn *t;
    if ((rc = tx_begin_locked(x, &ls, 1, &t)) != 0)
        return rc;
    uint8_t key[TPCC_KEY_MAX];
    size_t klen;
    tpcc_warehouse wh;
    tpcc_district di;
    tpcc_customer cu;
    rc = tx_get_row(t, key, (klen = tk_warehouse(key, w)), &wh, sizeof wh);
    if (!rc) {
        wh.ytd += amount;
        rc = kv_put(t, key, klen, &wh, sizeof wh);
    }
    if (!rc)
        rc = tx_get_row(t, key, (klen = tk_district(key, w, d)), &di,
                        sizeof di);
    if (!rc) {
        di.ytd += amount;
        rc = kv_put(t, key, klen, &di, sizeof di);
    }
    if (!rc)
        rc = tx_get_row(t, key, (klen = tk_customer(key, c_w, c_d, c)), &cu,
                        sizeof cu);
    if (!rc) {
        cu.balance -= amount;
        cu.ytd_payment += amount;
        cu.payment_cnt++;
        if (memcmp(cu.credit, "BC", 2) == 0) {
            /* C_DATA = "c_id c_d w_c d w amount" + old C_DATA, cut at 500. */
            char buf[sizeof cu.data + 64];
            int n = snprintf(buf, 64, "%u %u %u %u %u %lld.%02lld ", c, c_d,
                             c_w, d, w, (long long)(amount / 100),
                             (long long)(amount % 100));
            if (n < 0 || n > 63)
                n = 63;
            memcpy(buf + n, cu.data, sizeof cu.data);
            memcpy(cu.data, buf, sizeof cu.data);
        }
        rc = kv_put(t, key, klen, &cu, sizeof cu);
    }
    if (!rc) {
        tpcc_history h;
        memset(&h, 0, sizeof h);
        h.c_id = c;
        h.c_d_id = c_d;
        h.c_w_id = c_w;
        h.d_id = d;
        h.w_id = w;
        h.date = tx_now();
        h.amount = amount;
        size_t wn = strnlen(wh.pl.name, sizeof wh.pl.name);
        memcpy(h.data, wh.pl.name, wn);
        memcpy(h.data + wn, "    ", 4);
        memcpy(h.data + wn + 4, di.pl.name,
               strnlen(di.pl.name, sizeof di.pl.name));
        rc = kv_put(t, key, tk_history(key, w, x->src, x->hseq++), &h,
                    sizeof h);
    }
    return tx_end_locked(x, &ls, t, rc);
}

/* ---- Order lines of one order -------------------------------------------- */

typedef struct tx_lines {
    uint8_t prefix[TPCC_KEY_MAX]; /* ORDER_LINE (w, d, o) */
    size_t plen;
    uint32_t n;
    uint8_t ol[TPCC_MAX_OL];
    tpcc_order_line row[TPCC_MAX_OL];
    int bad;
} tx_lines;

static int tx_lines_fn(void *ctx, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
    tx_lines *s = ctx;
    if (klen != s->plen + 1 || memcmp(key, s->prefix, s->plen))
        return 1;
    if (s->n >= TPCC_MAX_OL || vlen != sizeof s->row[0]) {
        s->bad = 1;
        return 1;
    }
    s->ol[s->n] = ((const uint8_t *)key)[s->plen];
    memcpy(&s->row[s->n++], val, vlen);
    return 0;
}

/* Read the lines of order (w, d, o) into s; TPCC_EINCONSISTENT unless
 * there are exactly ol_cnt of them. */
static int tx_read_lines(kv_txn *t, uint32_t w, uint32_t d, uint32_t o,
                         uint32_t ol_cnt, tx_lines *s)
{
    s->plen = tk_order(s->prefix, TT_ORDER_LINE, w, d, o);
    s->n = 0;
    s->bad = 0;
    int rc = kv_scan(t, s->prefix, s->plen, TPCC_MAX_OL + 1, tx_lines_fn, s);
    if (!rc && (s->bad || s->n != ol_cnt))
        rc = TPCC_EINCONSISTENT;
    return rc;
}

/* First key of a table under a prefix: its last 4 bytes as a number. */
typedef struct tx_first {
    uint8_t prefix[TPCC_KEY_MAX];
    size_t plen, klen;
    uint32_t v;
    int found;
} tx_first;

static int tx_first_fn(void *ctx, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
    tx_first *s = ctx;
    (void)val;
    (void)vlen;
    if (klen == s->klen && memcmp(key, s->prefix, s->plen) == 0) {
        s->v = tk_get32((const uint8_t *)key + klen - 4);
        s->found = 1;
    }
    return 1;
}

static int tx_first_key(kv_txn *t, tx_first *s)
{
    s->found = 0;
    return kv_scan(t, s->prefix, s->plen, 1, tx_first_fn, s);
}

/* ---- Order-Status (clause 2.6) ------------------------------------------- */

typedef struct tx_os_in {
    uint32_t d;
    tx_cust cust;
} tx_os_in;

static void tx_order_status_input(tx_ctx *x, tx_os_in *in)
{
    in->d = tpcc_rand(&x->rng, 1, TPCC_DISTRICTS);
    tx_cust_input(x, &in->cust);
}

static int tx_order_status(tx_ctx *x)
{
    tpcc *tp = x->tp;
    tx_os_in in;
    tx_order_status_input(x, &in);
    uint32_t w = x->w_home, d = in.d, c;
    int rc = tx_cust_find(x, w, d, &in.cust, &c);
    if (rc)
        return rc;
    tpcc_lockset ls = {.n = 0};
    tl_add_c(&tp->locks, &ls, w, d, c);
    kv_txn *t;
    if ((rc = tx_begin_locked(x, &ls, 0, &t)) != 0)
        return rc;
    uint8_t key[TPCC_KEY_MAX];
    tpcc_customer cu;
    tpcc_order od;
    tx_first f;
    tx_lines lines;
    rc = tx_get_row(t, key, tk_customer(key, w, d, c), &cu, sizeof cu);
    if (!rc) {
        f.plen = tk_cust_order(f.prefix, w, d, c, 0);
        f.klen = f.plen + 4;
        rc = tx_first_key(t, &f);
        if (!rc && !f.found)
            rc = TPCC_EINCONSISTENT; /* every customer has an order */
    }
    if (!rc)
        rc = tx_get_row(t, key, tk_order(key, TT_ORDER, w, d, ~f.v), &od,
                        sizeof od);
    if (!rc)
        rc = tx_read_lines(t, w, d, ~f.v, od.ol_cnt, &lines);
    return tx_end_locked(x, &ls, t, rc);
}

/* ---- Delivery (clause 2.7) ----------------------------------------------- */

/* One district: 0, or 1 when it has no undelivered order. */
static int tx_deliver_district(tx_ctx *x, uint32_t w, uint32_t d,
                               uint32_t carrier)
{
    tpcc *tp = x->tp;
    uint8_t key[TPCC_KEY_MAX];
    size_t klen;
    tpcc_order od;
    tx_first f;
    kv_txn *t;
    tpcc_lockset ld = {.n = 0}, lc = {.n = 0};
    tl_add_d(&tp->locks, &ld, w, d);
    tl_acquire(&tp->locks, &ld);

    /* Find the oldest NEW_ORDER and its customer (stable under D(w,d)). */
    int rc = kv_begin(x->k, 0, &t);
    if (!rc) {
        f.plen = tk_wd(f.prefix, TT_NEW_ORDER, w, d);
        f.klen = f.plen + 4;
        rc = tx_first_key(t, &f);
        if (!rc && f.found)
            rc = tx_get_row(t, key, tk_order(key, TT_ORDER, w, d, f.v), &od,
                            sizeof od);
        int rc2 = kv_commit(t);
        rc = rc ? rc : rc2;
    }
    if (rc || !f.found) {
        tl_release(&tp->locks, &ld);
        return rc ? rc : 1;
    }
    uint32_t o_id = f.v, c = od.c_id;
    tl_add_c(&tp->locks, &lc, w, d, c);
    if ((rc = tx_begin_locked(x, &lc, 1, &t)) != 0) {
        tl_release(&tp->locks, &ld);
        return rc;
    }
    tx_lines lines;
    tpcc_customer cu;
    rc = kv_del(t, key, tk_order(key, TT_NEW_ORDER, w, d, o_id));
    if (rc == KV_NOTFOUND)
        rc = TPCC_EINCONSISTENT;
    if (!rc)
        rc = tx_get_row(t, key, (klen = tk_order(key, TT_ORDER, w, d, o_id)),
                        &od, sizeof od);
    if (!rc && od.c_id != c)
        rc = TPCC_EINCONSISTENT;
    if (!rc) {
        od.carrier_id = carrier;
        rc = kv_put(t, key, klen, &od, sizeof od);
    }
    if (!rc)
        rc = tx_read_lines(t, w, d, o_id, od.ol_cnt, &lines);
    int64_t sum = 0;
    uint64_t now = tx_now();
    for (uint32_t i = 0; i < lines.n && !rc; i++) {
        lines.row[i].delivery_d = now;
        sum += lines.row[i].amount;
        rc = kv_put(t, key, tk_order_line(key, w, d, o_id, lines.ol[i]),
                    &lines.row[i], sizeof lines.row[i]);
    }
    if (!rc)
        rc = tx_get_row(t, key, (klen = tk_customer(key, w, d, c)), &cu,
                        sizeof cu);
    if (!rc) {
        cu.balance += sum;
        cu.delivery_cnt++;
        rc = kv_put(t, key, klen, &cu, sizeof cu);
    }
    rc = tx_end_locked(x, &lc, t, rc);
    tl_release(&tp->locks, &ld);
    return rc;
}

static int tx_delivery(tx_ctx *x)
{
    uint32_t carrier = tpcc_rand(&x->rng, 1, 10);
    for (uint32_t d = 1; d <= TPCC_DISTRICTS; d++) {
        int rc = tx_deliver_district(x, x->w_home, d, carrier);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- Stock-Level (clause 2.8) -------------------------------------------- */

typedef struct tx_recent {
    uint8_t prefix[TPCC_KEY_MAX]; /* ORDER_LINE (w, d) */
    size_t plen;
    uint32_t o_end; /* D_NEXT_O_ID */
    uint32_t n;
    uint32_t items[20 * TPCC_MAX_OL];
} tx_recent;

static int tx_recent_fn(void *ctx, const void *key, size_t klen,
                        const void *val, size_t vlen)
{
    tx_recent *s = ctx;
    const uint8_t *k = key;
    if (klen != s->plen + 5 || memcmp(k, s->prefix, s->plen) ||
        tk_get32(k + s->plen) >= s->o_end || vlen != sizeof(tpcc_order_line))
        return 1;
    if (s->n < sizeof s->items / sizeof s->items[0]) {
        tpcc_order_line l;
        memcpy(&l, val, sizeof l);
        s->items[s->n++] = l.i_id;
    }
    return 0;
}

static int tx_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct tx_sl_in {
    uint32_t d;
    int32_t threshold;
} tx_sl_in;

/* The terminal's district, or one drawn per transaction; the threshold. */
static void tx_stock_level_input(tx_ctx *x, tx_sl_in *in)
{
    in->d = x->tp->home_fixed ? x->d_fixed
                              : tpcc_rand(&x->rng, 1, TPCC_DISTRICTS);
    in->threshold = (int32_t)tpcc_rand(&x->rng, 10, 20);
}

static int tx_stock_level(tx_ctx *x)
{
    tpcc *tp = x->tp;
    tx_sl_in in;
    tx_stock_level_input(x, &in);
    uint32_t w = x->w_home, d = in.d;
    int32_t threshold = in.threshold;
    tpcc_lockset ls = {.n = 0};
    tl_add_d(&tp->locks, &ls, w, d);
    kv_txn *t;
    int rc = tx_begin_locked(x, &ls, 0, &t);
    if (rc)
        return rc;
    uint8_t key[TPCC_KEY_MAX];
    tpcc_district di;
    tx_recent s;
    rc = tx_get_row(t, key, tk_district(key, w, d), &di, sizeof di);
    if (!rc) {
        s.plen = tk_wd(s.prefix, TT_ORDER_LINE, w, d);
        s.o_end = di.next_o_id;
        s.n = 0;
        uint8_t start[TPCC_KEY_MAX];
        size_t slen = tk_order(start, TT_ORDER_LINE, w, d,
                               di.next_o_id > 20 ? di.next_o_id - 20 : 1);
        rc = kv_scan(t, start, slen, 20 * TPCC_MAX_OL, tx_recent_fn, &s);
    }
    tl_release(&tp->locks, &ls);

    uint32_t low = 0;
    if (!rc) {
        qsort(s.items, s.n, sizeof s.items[0], tx_cmp_u32);
        for (uint32_t i = 0; i < s.n && !rc; i++) {
            if (i > 0 && s.items[i] == s.items[i - 1])
                continue;
            tpcc_stock st;
            rc = tx_get_row(t, key, tk_stock(key, w, s.items[i]), &st,
                            sizeof st);
            if (!rc && st.quantity < threshold)
                low++;
        }
    }
    (void)low; /* the terminal's answer */
    int rc2 = kv_commit(t);
    return rc ? rc : rc2;
}

/* ---- Worker -------------------------------------------------------------- */

/* Worker tid's context on k (NULL for the driver alone). */
static void tx_init(tx_ctx *x, tpcc *tp, kv *k, int tid)
{
    memset(x, 0, sizeof *x);
    x->tp = tp;
    x->k = k;
    bu_rng_seed(&x->rng, tp->seed, 0x70a1, (uint64_t)tid);
    x->w_fixed = (uint32_t)tid % tp->warehouses + 1;
    x->d_fixed = (uint32_t)tid / tp->warehouses % TPCC_DISTRICTS + 1;
    x->w_home = x->w_fixed;
    x->src = (uint32_t)tid + 1;
}

/* The next transaction's kind (clause 5.2.3's mix) and home warehouse. */
static int tx_next(tx_ctx *x)
{
    uint32_t r = tpcc_rand(&x->rng, 1, 100);
    uint32_t nw = x->tp->warehouses;
    if (!x->tp->home_fixed)
        x->w_home = nw == 1 ? 1 : tpcc_rand(&x->rng, 1, nw);
    return r <= 45   ? TPCC_NEW_ORDER
           : r <= 88 ? TPCC_PAYMENT
           : r <= 92 ? TPCC_ORDER_STATUS
           : r <= 96 ? TPCC_DELIVERY
                     : TPCC_STOCK_LEVEL;
}

int tpcc_run(kv *k, void *arg, int tid, wl_counters *c, const int *stop)
{
    tx_ctx x;
    tx_init(&x, arg, k, tid);
    uint64_t t = wl_lat_begin(c);
    for (uint64_t done = 0; !__atomic_load_n(stop, __ATOMIC_RELAXED) &&
                            (!c->limit || done < c->limit);
         done++) {
        int kind = tx_next(&x), rc, rolled_back = 0;
        switch (kind) {
        case TPCC_NEW_ORDER: rc = tx_new_order(&x, &rolled_back); break;
        case TPCC_PAYMENT: rc = tx_payment(&x); break;
        case TPCC_ORDER_STATUS: rc = tx_order_status(&x); break;
        case TPCC_DELIVERY: rc = tx_delivery(&x); break;
        default: rc = tx_stock_level(&x); break;
        }
        if (rc) {
            __atomic_fetch_add(&c->errors, 1, __ATOMIC_RELAXED);
            return rc;
        }
        t = wl_lat_lap(c, kind, t, 1);
        if (rolled_back)
            __atomic_fetch_add(&c->aborts, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&c->ops[kind], 1, __ATOMIC_RELAXED);
    }
    return 0;
}

/* ---- The driver alone ---------------------------------------------------- */

/* What the driver computed, kept so that none of it is optimized away. */
static volatile uint64_t tx_driver_sink;

/* Take and release the lock set s. */
static void tx_lock_cycle(tx_ctx *x, tpcc_lockset *s)
{
    tl_acquire(&x->tp->locks, s);
    tl_release(&x->tp->locks, s);
}

/* The customer of in for a lock set.  By last name: the key the index
 * scan would start at is built (into *sink), and since the customer it
 * finds needs the engine, customer lastno + 1 stands in (taking a stripe
 * costs the same whichever it is). */
static uint32_t tx_cust_stand_in(tx_ctx *x, uint32_t w, uint32_t d,
                                 const tx_cust *in, uint64_t *sink)
{
    if (!in->by_name)
        return in->c;
    tx_names s;
    tx_names_prefix(&s, w, d, in->lastno);
    *sink += s.plen + s.prefix[s.plen - 1];
    return in->lastno % x->tp->customers + 1;
}

int tpcc_driver(void *arg, uint64_t nops)
{
    tpcc *tp = arg;
    tx_ctx x;
    tx_init(&x, tp, NULL, 0);
    uint64_t sink = 0;
    for (uint64_t i = 0; i < nops; i++) {
        int kind = tx_next(&x);
        uint32_t w = x.w_home;
        tpcc_lockset ls = {.n = 0};
        switch (kind) {
        case TPCC_NEW_ORDER: {
            tx_no_in in;
            tx_new_order_input(&x, &in);
            tx_lock_cycle(&x, &in.ls);
            sink += in.ol_cnt;
            break;
        }
        case TPCC_PAYMENT: {
            tx_pay_in in;
            tx_payment_input(&x, &in);
            uint32_t c =
                tx_cust_stand_in(&x, in.c_w, in.c_d, &in.cust, &sink);
            tl_add_w(&tp->locks, &ls, w);
            tl_add_d(&tp->locks, &ls, w, in.d);
            tl_add_c(&tp->locks, &ls, in.c_w, in.c_d, c);
            tx_lock_cycle(&x, &ls);
            sink += (uint64_t)in.amount;
            break;
        }
        case TPCC_ORDER_STATUS: {
            tx_os_in in;
            tx_order_status_input(&x, &in);
            tl_add_c(&tp->locks, &ls, w, in.d,
                     tx_cust_stand_in(&x, w, in.d, &in.cust, &sink));
            tx_lock_cycle(&x, &ls);
            break;
        }
        case TPCC_DELIVERY: {
            /* per district: D(w,d) around C(the order's customer) */
            sink += tpcc_rand(&x.rng, 1, 10);
            for (uint32_t d = 1; d <= TPCC_DISTRICTS; d++) {
                tpcc_lockset ld = {.n = 0}, lc = {.n = 0};
                tl_add_d(&tp->locks, &ld, w, d);
                tl_acquire(&tp->locks, &ld);
                tl_add_c(&tp->locks, &lc, w, d, d);
                tx_lock_cycle(&x, &lc);
                tl_release(&tp->locks, &ld);
            }
            break;
        }
        default: {
            tx_sl_in in;
            tx_stock_level_input(&x, &in);
            tl_add_d(&tp->locks, &ls, w, in.d);
            tx_lock_cycle(&x, &ls);
            sink += (uint64_t)in.threshold;
            break;
        }
        }
    }
    tx_driver_sink = sink;
    return 0;
}
