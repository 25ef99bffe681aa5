/*
 * tpcc_load.c - the initial TPC-C database (clause 4.3.3.1), loaded by
 * several threads, plus the workload's set-up (NURand constants, lock
 * manager) and the random string generators.
 *
 * Work units, handed out through one atomic counter: ITEM in chunks of
 * 10,000 rows; per warehouse its WAREHOUSE row, STOCK in chunks of 10,000
 * rows; per district its DISTRICT row, 3,000 CUSTOMERs (with their CUST_NAME
 * index entries and one HISTORY row each), 3,000 ORDERs (customer ids a
 * random permutation; each with CUST_ORDER, 5-15 ORDER_LINEs, and a
 * NEW_ORDER row for orders 2101-3000).  Every unit has its own random
 * stream seeded from (seed, unit), so the database is the same whatever the
 * thread count and for every engine.  Writes are grouped in write
 * transactions of TPCC_LOAD_BATCH rows (LMDB commits; bufpool no-ops).
 */
#include "tpcc.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define TPCC_LOAD_BATCH 2048u
#define TPCC_CHUNK 10000u

const char *const tpcc_kind_names[TPCC_NKINDS] = {
    "new-order", "payment", "order-status", "delivery", "stock-level"};

/* ---- Random strings and names ------------------------------------------- */

size_t tpcc_astring(bu_rng *r, char *out, size_t lo, size_t hi)
{
    static const char al[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = tpcc_rand(r, (uint32_t)lo, (uint32_t)hi);
    memset(out, 0, hi);
    for (size_t i = 0; i < n; i++)
        out[i] = al[bu_rng_below(r, sizeof al - 1)];
    return n;
}

size_t tpcc_nstring(bu_rng *r, char *out, size_t lo, size_t hi)
{
    size_t n = tpcc_rand(r, (uint32_t)lo, (uint32_t)hi);
    memset(out, 0, hi);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('0' + bu_rng_below(r, 10));
    return n;
}

void tpcc_last_name(uint32_t n, char *out)
{
    static const char *const syl[10] = {"BAR", "OUGHT", "ABLE",  "PRI",
                                        "PRES", "ESE", "ANTI", "CALLY",
                                        "ATION", "EING"};
    memset(out, 0, TPCC_NAME_LEN);
    size_t len = 0;
    for (uint32_t div = 100; div; div /= 10) {
        const char *s = syl[(n / div) % 10];
        size_t sl = strlen(s);
        memcpy(out + len, s, sl);
        len += sl;
    }
}

int tpcc_c_last_ok(uint32_t load, uint32_t run)
{
    uint32_t delta = load > run ? load - run : run - load;
    return delta >= 65 && delta <= 119 && delta != 96 && delta != 112;
}

void tpcc_consts_draw(bu_rng *r, tpcc_consts *load, tpcc_consts *run)
{
    load->c_last = tpcc_rand(r, 0, 255);
    do
        run->c_last = tpcc_rand(r, 0, 255);
    while (!tpcc_c_last_ok(load->c_last, run->c_last));
    /* C_ID and OL_I_ID are not used by the load; both phases share them. */
    load->c_id = run->c_id = tpcc_rand(r, 0, 1023);
    load->ol_i_id = run->ol_i_id = tpcc_rand(r, 0, 8191);
}

/* 10% of I_DATA and S_DATA hold "ORIGINAL" at a random place. */
static void tpcc_data_original(bu_rng *r, char *out, size_t lo, size_t hi)
{
    size_t n = tpcc_astring(r, out, lo, hi);
    if (tpcc_rand(r, 1, 10) == 1) {
        size_t at = bu_rng_below(r, n - 8 + 1);
        memcpy(out + at, "ORIGINAL", 8);
    }
}

static void tpcc_address(bu_rng *r, char *street1, char *street2, char *city,
                         char *state, char *zip)
{
    tpcc_astring(r, street1, 10, 20);
    tpcc_astring(r, street2, 10, 20);
    tpcc_astring(r, city, 10, 20);
    tpcc_astring(r, state, 2, 2);
    tpcc_nstring(r, zip, 4, 4);
    memcpy(zip + 4, "11111", 5);
}

/* ---- Set-up -------------------------------------------------------------- */

int tpcc_init_scaled(tpcc *tp, uint32_t warehouses, uint64_t seed,
                     uint32_t div)
{
    memset(tp, 0, sizeof *tp);
    if (warehouses < 1 || warehouses > TPCC_MAX_WAREHOUSES ||
        (div != 1 && div != 2 && div != 5 && div != 10))
        return -EINVAL;
    tp->warehouses = warehouses;
    tp->items = TPCC_ITEMS / div;
    tp->customers = TPCC_CUSTOMERS / div;
    tp->orders = TPCC_ORDERS / div;
    tp->new_orders = TPCC_NEW_ORDERS / div;
    tp->last_names = tp->customers < 1000 ? tp->customers : 1000;
    tp->seed = seed;
    tp->load_date = (uint64_t)time(NULL);
    bu_rng r;
    bu_rng_seed(&r, seed, 0x7bcc, 0);
    tpcc_consts_draw(&r, &tp->c_load, &tp->c_run);
    return tl_init(&tp->locks, warehouses);
}

int tpcc_init(tpcc *tp, uint32_t warehouses, uint64_t seed)
{
    return tpcc_init_scaled(tp, warehouses, seed, 1);
}

void tpcc_destroy(tpcc *tp)
{
    tl_destroy(&tp->locks);
}

/* Rows of one district unit: district, 3 per customer, and per order the
 * order, its index entry and ~10 lines, plus the new-orders. */
static uint64_t tpcc_district_rows(const tpcc *tp)
{
    return 1 + 3ull * tp->customers + 12ull * tp->orders + tp->new_orders;
}

uint64_t tpcc_load_rows(const tpcc *tp)
{
    return tp->items + (uint64_t)tp->warehouses *
           (1 + tp->items + TPCC_DISTRICTS * tpcc_district_rows(tp));
}

uint64_t tpcc_data_bytes(const tpcc *tp)
{
    uint64_t d = 8 + sizeof(tpcc_district) +
                 tp->customers * (8 + sizeof(tpcc_customer) + 41 + 16 +
                                  sizeof(tpcc_history)) +
                 tp->orders * (8 + sizeof(tpcc_order) + 13 +
                               10 * (9 + sizeof(tpcc_order_line))) +
                 tp->new_orders * 9;
    uint64_t w = 4 + sizeof(tpcc_warehouse) + TPCC_DISTRICTS * d +
                 tp->items * (7 + sizeof(tpcc_stock));
    uint64_t raw = tp->items * (5 + sizeof(tpcc_item)) + tp->warehouses * w;
    return raw / 2 * 3; /* B+tree pages are not full */
}

/* ---- Batched writer ------------------------------------------------------ */

typedef struct ld_shared {
    tpcc *tp;
    kv *k;
    uint32_t nunits;
    uint32_t next;  /* atomic: next unit */
    uint64_t done;  /* atomic: rows written */
    uint64_t total;
    int rc;         /* atomic: first error */
} ld_shared;

typedef struct ld_batch {
    ld_shared *sh;
    kv_txn *t;
    uint32_t n;
} ld_batch;

static int ld_commit(ld_batch *b)
{
    if (!b->t)
        return 0;
    int rc = kv_commit(b->t);
    b->t = NULL;
    uint64_t done =
        __atomic_add_fetch(&b->sh->done, b->n, __ATOMIC_RELAXED);
    b->n = 0;
    /* The order-line count is random: the total is an estimate. */
    wl_progress(done < b->sh->total ? done : b->sh->total, b->sh->total);
    return rc;
}

static int ld_put(ld_batch *b, const uint8_t *key, size_t klen,
                  const void *val, size_t vlen)
{
    int rc;
    if (!b->t && (rc = kv_begin(b->sh->k, 1, &b->t)) != 0) {
        b->t = NULL;
        return rc;
    }
    if ((rc = kv_put(b->t, key, klen, val, vlen)) != 0) {
        kv_abort(b->t);
        b->t = NULL;
        return rc;
    }
    if (++b->n >= TPCC_LOAD_BATCH)
        return ld_commit(b);
    return 0;
}

static const uint8_t ld_one = 1; /* value of NEW_ORDER and index rows */

/* ---- Units --------------------------------------------------------------- */

static int ld_items(ld_batch *b, bu_rng *r, uint32_t lo, uint32_t hi)
{
    uint8_t key[TPCC_KEY_MAX];
    for (uint32_t i = lo; i <= hi; i++) {
        tpcc_item it;
        memset(&it, 0, sizeof it);
        it.im_id = tpcc_rand(r, 1, 10000);
        tpcc_astring(r, it.name, 14, 24);
        it.price = tpcc_rand(r, 100, 10000);
        tpcc_data_original(r, it.data, 26, 50);
        int rc = ld_put(b, key, tk_item(key, i), &it, sizeof it);
        if (rc)
            return rc;
    }
    return 0;
}

static void ld_place(bu_rng *r, tpcc_place *pl)
{
    tpcc_astring(r, pl->name, 6, 10);
    tpcc_address(r, pl->street1, pl->street2, pl->city, pl->state, pl->zip);
}

static int ld_warehouse(ld_batch *b, bu_rng *r, uint32_t w)
{
    uint8_t key[TPCC_KEY_MAX];
    tpcc_warehouse wh;
    memset(&wh, 0, sizeof wh);
    ld_place(r, &wh.pl);
    wh.tax = (int32_t)tpcc_rand(r, 0, 2000);
    wh.ytd = 30000000; /* 300,000.00 */
    return ld_put(b, key, tk_warehouse(key, w), &wh, sizeof wh);
}

static int ld_stock(ld_batch *b, bu_rng *r, uint32_t w, uint32_t lo,
                    uint32_t hi)
{
    uint8_t key[TPCC_KEY_MAX];
    for (uint32_t i = lo; i <= hi; i++) {
        tpcc_stock s;
        memset(&s, 0, sizeof s);
        s.quantity = (int32_t)tpcc_rand(r, 10, 100);
        for (unsigned d = 0; d < TPCC_DISTRICTS; d++)
            tpcc_astring(r, s.dist[d], 24, 24);
        tpcc_data_original(r, s.data, 26, 50);
        int rc = ld_put(b, key, tk_stock(key, w, i), &s, sizeof s);
        if (rc)
            return rc;
    }
    return 0;
}

static int ld_customers(ld_batch *b, bu_rng *r, uint32_t w, uint32_t d)
{
    tpcc *tp = b->sh->tp;
    uint8_t key[TPCC_KEY_MAX];
    int rc;
    for (uint32_t c = 1; c <= tp->customers; c++) {
        tpcc_customer cu;
        memset(&cu, 0, sizeof cu);
        tpcc_astring(r, cu.first, 8, 16);
        memcpy(cu.middle, "OE", 2);
        char last[TPCC_NAME_LEN];
        tpcc_last_name(c <= tp->last_names
                           ? c - 1
                           : tpcc_nurand(r, 255, 0, tp->last_names - 1,
                                         tp->c_load.c_last),
                       last);
        memcpy(cu.last, last, TPCC_NAME_LEN);
        tpcc_address(r, cu.street1, cu.street2, cu.city, cu.state, cu.zip);
        tpcc_nstring(r, cu.phone, 16, 16);
        cu.since = tp->load_date;
        memcpy(cu.credit, tpcc_rand(r, 1, 10) == 1 ? "BC" : "GC", 2);
        cu.credit_lim = 5000000;
        cu.discount = (int32_t)tpcc_rand(r, 0, 5000);
        cu.balance = -1000;
        cu.ytd_payment = 1000;
        cu.payment_cnt = 1;
        tpcc_astring(r, cu.data, 300, 500);
        if ((rc = ld_put(b, key, tk_customer(key, w, d, c), &cu,
                         sizeof cu)) != 0 ||
            (rc = ld_put(b, key,
                         tk_cust_name(key, w, d, cu.last, cu.first, c),
                         &ld_one, 1)) != 0)
            return rc;

        tpcc_history h;
        memset(&h, 0, sizeof h);
        h.c_id = c;
        h.c_d_id = h.d_id = d;
        h.c_w_id = h.w_id = w;
        h.date = tp->load_date;
        h.amount = 1000;
        tpcc_astring(r, h.data, 12, 24);
        uint64_t seq = (uint64_t)d * tp->customers + c;
        if ((rc = ld_put(b, key, tk_history(key, w, 0, seq), &h,
                         sizeof h)) != 0)
            return rc;
    }
    return 0;
}

static int ld_orders(ld_batch *b, bu_rng *r, uint32_t w, uint32_t d)
{
    tpcc *tp = b->sh->tp;
    uint8_t key[TPCC_KEY_MAX];
    uint32_t perm[TPCC_CUSTOMERS];
    int rc;

    for (uint32_t i = 0; i < tp->orders; i++)
        perm[i] = i % tp->customers + 1;
    for (uint32_t i = tp->orders - 1; i > 0; i--) {
        uint32_t j = (uint32_t)bu_rng_below(r, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    uint32_t first_new = tp->orders - tp->new_orders + 1; /* 2101 */
    for (uint32_t o = 1; o <= tp->orders; o++) {
        tpcc_order od;
        memset(&od, 0, sizeof od);
        od.c_id = perm[o - 1];
        od.entry_d = tp->load_date;
        od.carrier_id = o < first_new ? tpcc_rand(r, 1, 10) : 0;
        od.ol_cnt = tpcc_rand(r, 5, 15);
        od.all_local = 1;
        if ((rc = ld_put(b, key, tk_order(key, TT_ORDER, w, d, o), &od,
                         sizeof od)) != 0 ||
            (rc = ld_put(b, key, tk_cust_order(key, w, d, od.c_id, o),
                         &ld_one, 1)) != 0)
            return rc;
        for (uint32_t ol = 1; ol <= od.ol_cnt; ol++) {
            tpcc_order_line l;
            memset(&l, 0, sizeof l);
            l.i_id = tpcc_rand(r, 1, tp->items);
            l.supply_w_id = w;
            l.delivery_d = o < first_new ? tp->load_date : 0;
            l.quantity = 5;
            l.amount = o < first_new ? 0 : tpcc_rand(r, 1, 999999);
            tpcc_astring(r, l.dist_info, 24, 24);
            if ((rc = ld_put(b, key, tk_order_line(key, w, d, o, ol), &l,
                             sizeof l)) != 0)
                return rc;
        }
        if (o >= first_new &&
            (rc = ld_put(b, key, tk_order(key, TT_NEW_ORDER, w, d, o),
                         &ld_one, 1)) != 0)
            return rc;
    }
    return 0;
}

static int ld_district(ld_batch *b, bu_rng *r, uint32_t w, uint32_t d)
{
    uint8_t key[TPCC_KEY_MAX];
    tpcc_district di;
    memset(&di, 0, sizeof di);
    ld_place(r, &di.pl);
    di.tax = (int32_t)tpcc_rand(r, 0, 2000);
    di.ytd = 3000000; /* 30,000.00 */
    di.next_o_id = b->sh->tp->orders + 1;
    int rc = ld_put(b, key, tk_district(key, w, d), &di, sizeof di);
    if (!rc)
        rc = ld_customers(b, r, w, d);
    if (!rc)
        rc = ld_orders(b, r, w, d);
    return rc;
}

/* Unit numbering: item chunks first, then per warehouse one unit for the
 * warehouse row, the stock chunks, and one unit per district. */
static uint32_t ld_nchunk(const tpcc *tp)
{
    return (tp->items + TPCC_CHUNK - 1) / TPCC_CHUNK;
}

static uint32_t ld_per_w(const tpcc *tp)
{
    return 1 + ld_nchunk(tp) + TPCC_DISTRICTS;
}

static int ld_unit(ld_batch *b, uint32_t u)
{
    const tpcc *tp = b->sh->tp;
    uint32_t nchunk = ld_nchunk(tp), items = tp->items;
    bu_rng r;
    bu_rng_seed(&r, tp->seed, 0x10ad, u);
    if (u < nchunk) {
        uint32_t lo = u * TPCC_CHUNK + 1, hi = lo + TPCC_CHUNK - 1;
        return ld_items(b, &r, lo, hi < items ? hi : items);
    }
    u -= nchunk;
    uint32_t w = u / ld_per_w(tp) + 1, v = u % ld_per_w(tp);
    if (v == 0)
        return ld_warehouse(b, &r, w);
    if (v <= nchunk) {
        uint32_t lo = (v - 1) * TPCC_CHUNK + 1, hi = lo + TPCC_CHUNK - 1;
        return ld_stock(b, &r, w, lo, hi < items ? hi : items);
    }
    return ld_district(b, &r, w, v - nchunk);
}

static void *ld_thread(void *arg)
{
    ld_shared *sh = arg;
    ld_batch b = {sh, NULL, 0};
    for (;;) {
        if (__atomic_load_n(&sh->rc, __ATOMIC_RELAXED))
            break;
        uint32_t u = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);
        if (u >= sh->nunits)
            break;
        int rc = ld_unit(&b, u);
        if (!rc)
            rc = ld_commit(&b);
        if (rc) {
            int zero = 0;
            __atomic_compare_exchange_n(&sh->rc, &zero, rc, 0,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            break;
        }
    }
    return NULL;
}

int tpcc_load(kv *k, void *arg, int threads)
{
    tpcc *tp = arg;
    ld_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.tp = tp;
    sh.k = k;
    sh.nunits = ld_nchunk(tp) + tp->warehouses * ld_per_w(tp);
    sh.total = tpcc_load_rows(tp);

    if (threads < 1)
        threads = 1;
    if ((uint32_t)threads > sh.nunits)
        threads = (int)sh.nunits;
    if (threads > WL_MAX_THREADS)
        threads = WL_MAX_THREADS;
    pthread_t th[WL_MAX_THREADS];
    int started = 0;
    for (; started < threads - 1; started++)
        if (pthread_create(&th[started], NULL, ld_thread, &sh) != 0)
            break;
    ld_thread(&sh); /* this thread works too */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    wl_progress(sh.total, sh.total);
    return sh.rc;
}
