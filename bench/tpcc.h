/*
 * tpcc.h - the TPC-C-like workload of `bpbench tpcc` (and tests/examples/test_tpcc.c):
 * schema, key encoding, random generators, the driver's lock manager, and
 * the three wl_workload hooks (load, run, check).
 *
 * Files: tpcc.c (the subcommand: options, wl_run_all), tpcc_load.c (the
 * initial database, multi-threaded), tpcc_txn.c (the five transactions,
 * the worker loop and the driver alone), tpcc_check.c (consistency
 * conditions 1-4), tpcc_lock.c (striped mutexes taken in sorted order),
 * this header (rows, keys, NURand).
 *
 * Schema: the nine TPC-C tables plus two read-mostly indexes live in ONE kv
 * store; every key starts with a table id byte followed by the primary key
 * columns big-endian, so memcmp order is (table, w, d, ...) order and a
 * district's rows of one table are contiguous:
 *
 *   table       key after the id byte                      value
 *   WAREHOUSE   w:2                                        tpcc_warehouse
 *   DISTRICT    w:2 d:1                                    tpcc_district
 *   CUSTOMER    w:2 d:1 c:4                                tpcc_customer
 *   HISTORY     w:2 src:2 seq:8 (no primary key in TPC-C;  tpcc_history
 *               src 0 = loader, else worker thread + 1)
 *   NEW_ORDER   w:2 d:1 o:4                                1 byte
 *   ORDER       w:2 d:1 o:4                                tpcc_order
 *   ORDER_LINE  w:2 d:1 o:4 ol:1                           tpcc_order_line
 *   ITEM        i:4                                        tpcc_item
 *   STOCK       w:2 i:4                                    tpcc_stock
 *   CUST_NAME   w:2 d:1 last:16 first:16 c:4 (zero padded) 1 byte
 *   CUST_ORDER  w:2 d:1 c:4 (~o):4 (newest order first)    1 byte
 *
 * CUST_NAME is the secondary index on customer last name (Payment and
 * Order-Status select 60% of their customers by last name); CUST_ORDER
 * finds a customer's newest order (Order-Status) with a forward scan.
 * Money is integer cents and rates are integer 1/10000, so the consistency
 * sums are exact.  Values are the structs below in native byte order.
 */
#ifndef BENCH_TPCC_H
#define BENCH_TPCC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench_util.h"
#include "bench_wl.h"
#include "kv.h"

/* ---- Cardinalities (TPC-C clause 4.3.3.1) ------------------------------- */
#define TPCC_DISTRICTS 10u  /* per warehouse */
#define TPCC_CUSTOMERS 3000u /* per district */
#define TPCC_ITEMS 100000u  /* ITEM rows; STOCK rows per warehouse */
#define TPCC_ORDERS 3000u   /* initial orders per district */
#define TPCC_NEW_ORDERS 900u /* of them undelivered: the last 900 */
#define TPCC_MAX_WAREHOUSES 10000u
#define TPCC_MAX_OL 15u

/* Transaction kinds, also the wl_counters.ops[] slots. */
enum tpcc_kind {
    TPCC_NEW_ORDER,
    TPCC_PAYMENT,
    TPCC_ORDER_STATUS,
    TPCC_DELIVERY,
    TPCC_STOCK_LEVEL,
    TPCC_NKINDS
};

/* Table id bytes (the first byte of every key). */
enum tpcc_table {
    TT_WAREHOUSE = 1,
    TT_DISTRICT,
    TT_CUSTOMER,
    TT_HISTORY,
    TT_NEW_ORDER,
    TT_ORDER,
    TT_ORDER_LINE,
    TT_ITEM,
    TT_STOCK,
    TT_CUST_NAME,
    TT_CUST_ORDER
};

/* A row that must exist is missing, or two tables disagree inside one
 * transaction: a concurrency-control or engine bug, counted as an error. */
#define TPCC_EINCONSISTENT (-30900)

/* ---- Rows (fixed layouts; 8-byte fields first so there is no padding) ---- */

/* Name and address of a warehouse or district. */
typedef struct tpcc_place {
    char name[10], street1[20], street2[20], city[20], state[2], zip[9];
} tpcc_place;

typedef struct tpcc_warehouse {
    int64_t ytd; /* cents */
    int32_t tax; /* 1/10000 */
    tpcc_place pl;
    char pad[3];
} tpcc_warehouse;

typedef struct tpcc_district {
    int64_t ytd;
    int32_t tax;
    uint32_t next_o_id;
    tpcc_place pl;
    char pad[7];
} tpcc_district;

typedef struct tpcc_customer {
    int64_t credit_lim, balance, ytd_payment; /* cents */
    uint64_t since;
    int32_t discount; /* 1/10000 */
    uint32_t payment_cnt, delivery_cnt;
    char first[16], middle[2], last[16];
    char street1[20], street2[20], city[20], state[2], zip[9], phone[16];
    char credit[2];
    char data[500];
    char pad[5];
} tpcc_customer;

typedef struct tpcc_history {
    int64_t amount;
    uint64_t date;
    uint32_t c_id, c_d_id, c_w_id, d_id, w_id;
    char data[24];
    char pad[4];
} tpcc_history;

typedef struct tpcc_order {
    uint64_t entry_d;
    uint32_t c_id;
    uint32_t carrier_id; /* 0 = null (not delivered) */
    uint32_t ol_cnt;
    uint32_t all_local;
} tpcc_order;

typedef struct tpcc_order_line {
    int64_t amount;
    uint64_t delivery_d; /* 0 = null */
    uint32_t i_id, supply_w_id, quantity;
    char dist_info[24];
    char pad[4];
} tpcc_order_line;

typedef struct tpcc_item {
    int64_t price;
    uint32_t im_id;
    char name[24];
    char data[50];
    char pad[2];
} tpcc_item;

typedef struct tpcc_stock {
    int32_t quantity;
    uint32_t ytd, order_cnt, remote_cnt;
    char dist[TPCC_DISTRICTS][24];
    char data[50];
    char pad[6];
} tpcc_stock;

_Static_assert(sizeof(tpcc_customer) <= 1024, "customer row fits a value");

/* ---- Keys ---------------------------------------------------------------- */

#define TPCC_KEY_MAX 48
#define TPCC_NAME_LEN 16 /* C_LAST and C_FIRST in CUST_NAME keys */

static inline uint8_t *tk_u8(uint8_t *p, uint32_t v)
{
    *p = (uint8_t)v;
    return p + 1;
}
static inline uint8_t *tk_u16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}
static inline uint8_t *tk_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}
static inline uint32_t tk_get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}
static inline uint32_t tk_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

/* (table, w, d) prefix shared by the district-scoped tables: 4 bytes. */
static inline size_t tk_wd(uint8_t *k, unsigned table, uint32_t w, uint32_t d)
{
    uint8_t *p = tk_u8(k, table);
    p = tk_u16(p, w);
    p = tk_u8(p, d);
    return (size_t)(p - k);
}
static inline size_t tk_warehouse(uint8_t *k, uint32_t w)
{
    return (size_t)(tk_u16(tk_u8(k, TT_WAREHOUSE), w) - k);
}
static inline size_t tk_district(uint8_t *k, uint32_t w, uint32_t d)
{
    return tk_wd(k, TT_DISTRICT, w, d);
}
static inline size_t tk_customer(uint8_t *k, uint32_t w, uint32_t d,
                                 uint32_t c)
{
    size_t n = tk_wd(k, TT_CUSTOMER, w, d);
    return (size_t)(tk_u32(k + n, c) - k);
}
static inline size_t tk_history(uint8_t *k, uint32_t w, uint32_t src,
                                uint64_t seq)
{
    uint8_t *p = tk_u16(tk_u8(k, TT_HISTORY), w);
    p = tk_u16(p, src);
    p = tk_u32(p, (uint32_t)(seq >> 32));
    return (size_t)(tk_u32(p, (uint32_t)seq) - k);
}
/* NEW_ORDER, ORDER: table, w, d, o. */
static inline size_t tk_order(uint8_t *k, unsigned table, uint32_t w,
                              uint32_t d, uint32_t o)
{
    size_t n = tk_wd(k, table, w, d);
    return (size_t)(tk_u32(k + n, o) - k);
}
static inline size_t tk_order_line(uint8_t *k, uint32_t w, uint32_t d,
                                   uint32_t o, uint32_t ol)
{
    size_t n = tk_order(k, TT_ORDER_LINE, w, d, o);
    return (size_t)(tk_u8(k + n, ol) - k);
}
static inline size_t tk_item(uint8_t *k, uint32_t i)
{
    return (size_t)(tk_u32(tk_u8(k, TT_ITEM), i) - k);
}
static inline size_t tk_stock(uint8_t *k, uint32_t w, uint32_t i)
{
    return (size_t)(tk_u32(tk_u16(tk_u8(k, TT_STOCK), w), i) - k);
}
/* CUST_NAME prefix (w, d, last) when first is NULL; else the full key. */
static inline size_t tk_cust_name(uint8_t *k, uint32_t w, uint32_t d,
                                  const char *last, const char *first,
                                  uint32_t c)
{
    size_t n = tk_wd(k, TT_CUST_NAME, w, d);
    memset(k + n, 0, 2 * TPCC_NAME_LEN);
    memcpy(k + n, last, strnlen(last, TPCC_NAME_LEN));
    n += TPCC_NAME_LEN;
    if (!first)
        return n;
    memcpy(k + n, first, strnlen(first, TPCC_NAME_LEN));
    n += TPCC_NAME_LEN;
    return (size_t)(tk_u32(k + n, c) - k);
}
/* CUST_ORDER: (w, d, c) prefix when o == 0, else with ~o appended. */
static inline size_t tk_cust_order(uint8_t *k, uint32_t w, uint32_t d,
                                   uint32_t c, uint32_t o)
{
    size_t n = tk_wd(k, TT_CUST_ORDER, w, d);
    n = (size_t)(tk_u32(k + n, c) - k);
    return o ? (size_t)(tk_u32(k + n, ~o) - k) : n;
}

/* ---- Random numbers (TPC-C clause 2.1.6 and 4.3.2) ---------------------- */

/* Uniform in [lo, hi]. */
static inline uint32_t tpcc_rand(bu_rng *r, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)bu_rng_below(r, (uint64_t)hi - lo + 1);
}

/* NURand(A, x, y) with the constant C. */
static inline uint32_t tpcc_nurand(bu_rng *r, uint32_t a, uint32_t x,
                                   uint32_t y, uint32_t c)
{
    return (((tpcc_rand(r, 0, a) | tpcc_rand(r, x, y)) + c) % (y - x + 1)) +
           x;
}

/* The three NURand constants, one set for the load and one for the run. */
typedef struct tpcc_consts {
    uint32_t c_last; /* A = 255 */
    uint32_t c_id;   /* A = 1023 */
    uint32_t ol_i_id; /* A = 8191 */
} tpcc_consts;

/* Draw load and run constants: C_LAST of the run differs from the load's
 * by 65..119 (absolute), never 96 or 112 (clause 2.1.6.1). */
void tpcc_consts_draw(bu_rng *r, tpcc_consts *load, tpcc_consts *run);
/* 1 if run is a valid run-time C_LAST for load. */
int tpcc_c_last_ok(uint32_t load, uint32_t run);

/* C_LAST of number n (0..999): three syllables, NUL terminated into
 * out[TPCC_NAME_LEN]. */
void tpcc_last_name(uint32_t n, char *out);

/* Random a-string / n-string of length lo..hi into out (not terminated;
 * bytes up to hi are zeroed); returns the length. */
size_t tpcc_astring(bu_rng *r, char *out, size_t lo, size_t hi);
size_t tpcc_nstring(bu_rng *r, char *out, size_t lo, size_t hi);

/* ---- Lock manager (tpcc_lock.c) ------------------------------------------
 * Mutexes in four regions in this order: warehouse rows, district rows (one
 * mutex each), customer stripes, stock stripes.  A transaction collects its
 * set in a tpcc_lockset and tl_acquire takes it sorted and deduplicated, so
 * every thread locks in one global order: no deadlock.  A transaction may
 * acquire a second set later only when all of it sorts after everything it
 * holds (Delivery: a district, then the customer it finds). */
#define TL_MAX 32

typedef struct tpcc_locks {
    pthread_mutex_t *m;
    uint32_t nw, base_d, base_c, nc, base_s, ns, n;
} tpcc_locks;

typedef struct tpcc_lockset {
    uint32_t idx[TL_MAX];
    int n;
} tpcc_lockset;

int tl_init(tpcc_locks *l, uint32_t warehouses);
void tl_destroy(tpcc_locks *l);
void tl_add_w(const tpcc_locks *l, tpcc_lockset *s, uint32_t w);
void tl_add_d(const tpcc_locks *l, tpcc_lockset *s, uint32_t w, uint32_t d);
void tl_add_c(const tpcc_locks *l, tpcc_lockset *s, uint32_t w, uint32_t d,
              uint32_t c);
void tl_add_s(const tpcc_locks *l, tpcc_lockset *s, uint32_t w, uint32_t i);
/* Sort, drop repeats, lock in order. */
void tl_acquire(tpcc_locks *l, tpcc_lockset *s);
/* Unlock what tl_acquire locked; s is emptied. */
void tl_release(tpcc_locks *l, tpcc_lockset *s);

/* ---- The workload -------------------------------------------------------- */

typedef struct tpcc {
    uint32_t warehouses;
    /* Cardinalities: TPCC_ITEMS, TPCC_CUSTOMERS, TPCC_ORDERS,
     * TPCC_NEW_ORDERS, or each divided by the test's scale divisor. */
    uint32_t items, customers, orders, new_orders;
    uint32_t last_names; /* C_LAST numbers in use: 1000, fewer if scaled */
    uint64_t seed;
    int home_fixed; /* 1: worker tid's home warehouse is tid % W + 1;
                       0 (tpcc_init's): drawn per transaction */
    uint64_t load_date; /* entry/since dates of the loaded rows */
    tpcc_consts c_load, c_run;
    tpcc_locks locks;
} tpcc;

/* Set up for warehouses (1..TPCC_MAX_WAREHOUSES) with seed: constants and
 * lock manager.  0 or -ENOMEM / -EINVAL. */
int tpcc_init(tpcc *tp, uint32_t warehouses, uint64_t seed);
/* The same with items, customers, orders and new-orders per district
 * divided by div (1, 2, 5 or 10): a smaller database for tests under
 * sanitizers, not TPC-C's cardinalities (bpbench never uses it). */
int tpcc_init_scaled(tpcc *tp, uint32_t warehouses, uint64_t seed,
                     uint32_t div);
void tpcc_destroy(tpcc *tp);

/* Rows the load writes (for the progress lines) and the bytes it stores
 * (keys + values, times a B+tree fill allowance). */
uint64_t tpcc_load_rows(const tpcc *tp);
uint64_t tpcc_data_bytes(const tpcc *tp);

/* Fill a wl_workload for tp (name "TPC-C-like", the five kinds). */
void tpcc_workload(tpcc *tp, wl_workload *w);

/* The hooks (arg is the tpcc). */
int tpcc_load(kv *k, void *arg, int threads);
int tpcc_run(kv *k, void *arg, int tid, wl_counters *c, const int *stop);
int tpcc_check(kv *k, void *arg, const wl_counters *total, char *out,
               size_t outsz);
/* The driver alone (wl_workload.driver): nops transactions' kind, home
 * warehouse and inputs drawn as tpcc_run draws them, and the lock sets
 * they name taken and released (a customer chosen by last name needs the
 * engine: a stand-in is locked); no kv call, no row built or changed.
 * Single-threaded; tp is left as it was.  Returns 0. */
int tpcc_driver(void *arg, uint64_t nops);
#define TPCC_DRIVER_OPS 100000u /* transactions of one timed driver run */

extern const char *const tpcc_kind_names[TPCC_NKINDS];

#endif /* BENCH_TPCC_H */
