/*
 * ycsb_wl.c - the YCSB workloads (ycsb.h): generators, load, the worker
 * loop and the check.
 *
 * Shared state of a run (struct ycsb): the workload's mix, key format and
 * request distribution, the insert counter and the acknowledged count (a
 * ring of done flags under a mutex, advanced over contiguous inserts), the
 * first error seen.  Everything else is per worker thread (random stream,
 * Zipfian generators, buffers).
 *
 * The worker loop (ycsb_loop) serves both the run and the driver
 * measurement (ycsb_driver): a worker without a kv handle does everything
 * but the kv calls, then ycsb_driver puts the shared state back as the load
 * left it.  In the run it times every operation that completes into the
 * thread's histogram of its kind (wl_counters.lat; one clock read per
 * operation, bench_wl.h) and stops after wl_counters.limit operations
 * when that is set.
 *
 * A get/put workload (ycsb_create_kv, `bpbench kv`) is the same machinery
 * with its own mix of reads ("get") and updates ("put") of loaded
 * records.
 */
#include "ycsb.h"

#include "bench_util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YCSB_THETA 0.99
/* YCSB's ScrambledZipfianGenerator: item count and its precomputed zeta. */
#define YCSB_SCRAMBLE_ITEMS 10000000000ull
#define YCSB_SCRAMBLE_ZETAN 26.46902820178302
#define YCSB_RING 65536u /* acknowledgement window (inserts in flight) */
#define YCSB_BATCH 256u  /* puts per write transaction while loading */
#define YCSB_MAX_ERRORS 100

/* Shares per kind: read, update, insert, scan, read-modify-write. */
static const double ycsb_mixes[6][YCSB_NKINDS] = {
    {0.50, 0.50, 0, 0, 0},    /* A */
    {0.95, 0.05, 0, 0, 0},    /* B */
    {1.00, 0, 0, 0, 0},       /* C */
    {0.95, 0, 0.05, 0, 0},    /* D */
    {0, 0, 0.05, 0.95, 0},    /* E */
    {0.50, 0, 0, 0, 0.50},    /* F */
};

static const char *const ycsb_kind_names[YCSB_NKINDS] = {
    "read", "update", "insert", "scan", "rmw"};
/* A get/put workload's (ycsb_create_kv). */
static const char *const ycsb_kv_kind_names[YCSB_NKINDS] = {
    "get", "put", "insert", "scan", "rmw"};

struct ycsb {
    char letter; /* 'a'..'f'; 'k' for a get/put workload */
    char name[8];
    char setup[64]; /* "keys int8, distribution uniform" */
    const char *table; /* its results' table: "ycsb" or "kv" */
    const char *const *kind_names;
    const double *mix;
    double own_mix[YCSB_NKINDS]; /* a get/put workload's mix */
    ycsb_dist dist; /* resolved: never YCSB_DIST_DEFAULT */
    ycsb_keys keys;
    uint64_t records;
    size_t value_size;
    uint64_t seed;
    double zetan; /* zeta(records, theta) for "latest", else 0 */
    atomic_uint_fast64_t next_insert; /* next record number to insert */
    atomic_uint_fast64_t acked;       /* records 0..acked-1 all exist */
    pthread_mutex_t ack_lock;
    unsigned char *ring; /* done flags of inserts past acked */
    atomic_uint_fast64_t loaded;      /* load progress */
    atomic_int first_err;
};

const double *ycsb_mix(char letter)
{
    unsigned i = (unsigned)((letter | 0x20) - 'a');
    return i < 6 ? ycsb_mixes[i] : NULL;
}

uint64_t ycsb_data_bytes_keys(uint64_t records, size_t value_size,
                              ycsb_keys keys)
{
    /* Key ~23 B (string) or 8 B, ~16 B of node overhead per pair, leaves
     * ~70% full. */
    size_t klen = keys == YCSB_KEYS_INT8 ? 8 : 23;
    return (uint64_t)((double)records * (double)(value_size + klen + 16) /
                      0.7);
}

uint64_t ycsb_data_bytes(uint64_t records, size_t value_size)
{
    return ycsb_data_bytes_keys(records, value_size, YCSB_KEYS_STRING);
}

/* ---- Key formats and distributions --------------------------------------- */

static const char *const ycsb_keys_names[] = {"string", "int8"};
static const char *const ycsb_dist_names[] = {"default", "uniform", "zipfian",
                                              "latest"};

const char *ycsb_keys_name(ycsb_keys keys)
{
    return (unsigned)keys < 2 ? ycsb_keys_names[keys] : "?";
}

const char *ycsb_dist_name(ycsb_dist dist)
{
    return (unsigned)dist < 4 ? ycsb_dist_names[dist] : "?";
}

int ycsb_keys_parse(const char *s, ycsb_keys *out)
{
    for (unsigned i = 0; i < 2; i++)
        if (strcmp(s, ycsb_keys_names[i]) == 0) {
            *out = (ycsb_keys)i;
            return 0;
        }
    return -1;
}

int ycsb_dist_parse(const char *s, ycsb_dist *out)
{
    for (unsigned i = 1; i < 4; i++) /* "default" is not a choice */
        if (strcmp(s, ycsb_dist_names[i]) == 0) {
            *out = (ycsb_dist)i;
            return 0;
        }
    return -1;
}

/* ---- Generators ---------------------------------------------------------- */

uint64_t ycsb_fnv64(uint64_t v)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (int i = 0; i < 8; i++) {
        h ^= v & 0xff;
        v >>= 8;
        h *= 1099511628211ull;
    }
    int64_t s = (int64_t)h; /* Java's Math.abs on a long */
    return s < 0 ? (uint64_t)0 - h : h;
}

/* "00" .. "99": the decimal is written two digits per division. */
static const char ycsb_digit_pairs[201] =
        "0001020304050607080910111213141516171819"
        "2021222324252627282930313233343536373839"
        "4041424344454647484950515253545556575859"
        "6061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";

size_t ycsb_key(uint64_t n, char *buf)
{
    char digits[20]; /* FNV-64 made non-negative: at most 19 digits */
    uint64_t h = ycsb_fnv64(n);
    size_t d = sizeof digits;
    while (h >= 100) {
        d -= 2;
        memcpy(digits + d, ycsb_digit_pairs + 2 * (h % 100), 2);
        h /= 100;
    }
    if (h >= 10) {
        d -= 2;
        memcpy(digits + d, ycsb_digit_pairs + 2 * h, 2);
    } else {
        digits[--d] = (char)('0' + h);
    }
    memcpy(buf, "user", 4);
    memcpy(buf + 4, digits + d, sizeof digits - d);
    return 4 + sizeof digits - d;
}

static double ycsb_zeta(uint64_t from, uint64_t to, double theta, double sum)
{
    for (uint64_t i = from; i < to; i++)
        sum += 1.0 / pow((double)(i + 1), theta);
    return sum;
}

static void ycsb_zipf_eta(ycsb_zipf *z)
{
    double zeta2 = 1.0 + pow(0.5, z->theta);
    z->eta = (1.0 - pow(2.0 / (double)z->items, 1.0 - z->theta)) /
             (1.0 - zeta2 / z->zetan);
}

void ycsb_zipf_init(ycsb_zipf *z, uint64_t items, double theta, double zetan)
{
    z->items = items;
    z->theta = theta;
    z->alpha = 1.0 / (1.0 - theta);
    z->zetan = zetan > 0 ? zetan : ycsb_zeta(0, items, theta, 0);
    z->half_pow_theta = pow(0.5, theta);
    double ia = nearbyint(z->alpha);
    z->ialpha = ia >= 1 && ia <= 1024 && fabs(z->alpha - ia) < 1e-9
                    ? (unsigned)ia
                    : 0;
    ycsb_zipf_eta(z);
}

/* b to the power e >= 1, by squaring. */
static inline double ycsb_powi(double b, unsigned e)
{
    double r = 1.0;
    for (;;) {
        if (e & 1)
            r *= b;
        e >>= 1;
        if (!e)
            return r;
        b *= b;
    }
}

uint64_t ycsb_zipf_next(ycsb_zipf *z, uint64_t items, double u)
{
    if (items > z->items) {
        z->zetan = ycsb_zeta(z->items, items, z->theta, z->zetan);
        z->items = items;
        ycsb_zipf_eta(z);
    }
    double uz = u * z->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < 1.0 + z->half_pow_theta)
        return 1;
    double base = z->eta * u - z->eta + 1.0;
    double p = z->ialpha ? ycsb_powi(base, z->ialpha) : pow(base, z->alpha);
    uint64_t r = (uint64_t)((double)z->items * p);
    return r < z->items ? r : z->items - 1;
}

double ycsb_unit(bu_rng *r)
{
    return (double)(bu_rng_next(r) >> 11) * 0x1.0p-53;
}

void ycsb_scrambled_init(ycsb_zipf *z)
{
    ycsb_zipf_init(z, YCSB_SCRAMBLE_ITEMS, YCSB_THETA, YCSB_SCRAMBLE_ZETAN);
}

uint64_t ycsb_scrambled_next(ycsb_zipf *z, uint64_t records, double u)
{
    return ycsb_fnv64(ycsb_zipf_next(z, YCSB_SCRAMBLE_ITEMS, u)) % records;
}

/* ---- Records ------------------------------------------------------------- */

/* The key of record n in y's format into buf; returns its length. */
static inline size_t ycsb_make_key(const ycsb *y, uint64_t n, char *buf)
{
    return y->keys == YCSB_KEYS_INT8 ? ycsb_key_int8(n, buf)
                                     : ycsb_key(n, buf);
}

/* Value of record n: its number, then filler from the stream. */
static void ycsb_value(const ycsb *y, uint64_t n, bu_rng *r,
                       unsigned char *v)
{
    memcpy(v, &n, 8);
    uint64_t fill = bu_rng_next(r);
    for (size_t i = 8; i < y->value_size; i += 8) {
        size_t c = y->value_size - i < 8 ? y->value_size - i : 8;
        memcpy(v + i, &fill, c);
    }
}

static void ycsb_note_err(ycsb *y, int rc)
{
    int zero = 0;
    atomic_compare_exchange_strong(&y->first_err, &zero, rc);
}

/* Mark record n inserted; advance acked over contiguous done inserts. */
static void ycsb_ack(ycsb *y, uint64_t n)
{
    pthread_mutex_lock(&y->ack_lock);
    y->ring[n % YCSB_RING] = 1;
    uint64_t a = atomic_load(&y->acked);
    while (y->ring[a % YCSB_RING]) {
        y->ring[a % YCSB_RING] = 0;
        a++;
    }
    atomic_store(&y->acked, a);
    pthread_mutex_unlock(&y->ack_lock);
}

/* ---- Load ---------------------------------------------------------------- */

typedef struct ycsb_loader {
    ycsb *y;
    kv *k;
    uint64_t from, to;
    int rc;
    pthread_t th;
} ycsb_loader;

static void *ycsb_load_range(void *arg)
{
    ycsb_loader *l = arg;
    ycsb *y = l->y;
    bu_rng r;
    bu_rng_seed(&r, y->seed, l->from, 0x10ad);
    unsigned char v[YCSB_MAX_VALUE];
    char key[YCSB_KEY_MAX];
    for (uint64_t n = l->from; n < l->to;) {
        uint64_t end = n + YCSB_BATCH < l->to ? n + YCSB_BATCH : l->to;
        kv_txn *t;
        int rc = kv_begin(l->k, 1, &t);
        if (rc) {
            l->rc = rc;
            break;
        }
        for (uint64_t i = n; !rc && i < end; i++) {
            ycsb_value(y, i, &r, v);
            rc = kv_put(t, key, ycsb_make_key(y, i, key), v, y->value_size);
        }
        if (rc) {
            kv_abort(t);
            l->rc = rc;
            break;
        }
        if ((l->rc = kv_commit(t)) != 0)
            break;
        wl_progress(atomic_fetch_add(&y->loaded, end - n) + (end - n),
                    y->records);
        n = end;
    }
    return NULL;
}

/* int8 keys arrive in record order: every engine takes its sorted path
 * (kv_load_sorted_*), one thread, the values of a one-thread load. */
static int ycsb_load_sorted(kv *k, ycsb *y)
{
    unsigned char v[YCSB_MAX_VALUE];
    char key[YCSB_KEY_MAX];
    int rc = 0;
    bu_rng r;

    atomic_store(&y->loaded, 0);
    bu_rng_seed(&r, y->seed, 0, 0x10ad);
    for (uint64_t i = 0; !rc && i < y->records; i++) {
        ycsb_value(y, i, &r, v);
        rc = kv_load_sorted_add(k, key, ycsb_make_key(y, i, key), v,
                                y->value_size);
        if ((i + 1) % YCSB_BATCH == 0 || i + 1 == y->records)
            wl_progress(i + 1, y->records);
    }
    int e = kv_load_sorted_end(k, rc != 0);
    return rc ? rc : e;
}

static int ycsb_load(kv *k, void *arg, int threads)
{
    ycsb *y = arg;
    if (y->keys == YCSB_KEYS_INT8) {
        int rc = kv_load_sorted_begin(k);
        if (rc == 0)
            return ycsb_load_sorted(k, y);
        if (rc != -ENOTSUP)
            return rc;
    }
    if (threads < 1)
        threads = 1;
    ycsb_loader *l = calloc((size_t)threads, sizeof *l);
    if (!l)
        return -ENOMEM;
    atomic_store(&y->loaded, 0);
    int started = 0, rc = 0;
    for (; started < threads; started++) {
        ycsb_loader *x = &l[started];
        x->y = y;
        x->k = k;
        x->from = y->records * (uint64_t)started / (uint64_t)threads;
        x->to = y->records * (uint64_t)(started + 1) / (uint64_t)threads;
        int e = pthread_create(&x->th, NULL, ycsb_load_range, x);
        if (e) {
            rc = -e;
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        pthread_join(l[i].th, NULL);
        if (l[i].rc && !rc)
            rc = l[i].rc;
    }
    free(l);
    return rc;
}

/* ---- Run ----------------------------------------------------------------- */

typedef struct ycsb_worker {
    ycsb *y;
    kv *k;               /* NULL: the driver alone, no kv call */
    bu_rng r;
    ycsb_zipf latest;    /* the latest distribution */
    ycsb_zipf scrambled; /* zipfian: over YCSB_SCRAMBLE_ITEMS */
    double cum[YCSB_NKINDS]; /* cumulative shares of the mix */
    unsigned char v[YCSB_MAX_VALUE];
    unsigned char got[YCSB_MAX_VALUE];
    char key[YCSB_KEY_MAX];
} ycsb_worker;

/* Set up worker tid of y on k (NULL for the driver alone). */
static void ycsb_worker_init(ycsb_worker *x, ycsb *y, kv *k, int tid)
{
    x->y = y;
    x->k = k;
    bu_rng_seed(&x->r, y->seed, (uint64_t)tid + 1, (uint64_t)y->letter);
    if (y->dist == YCSB_DIST_ZIPFIAN)
        ycsb_scrambled_init(&x->scrambled);
    if (y->dist == YCSB_DIST_LATEST)
        ycsb_zipf_init(&x->latest, y->records, YCSB_THETA, y->zetan);
    /* Cumulative shares; the last kind in the mix ends at exactly 1. */
    double sum = 0;
    for (int i = 0; i < YCSB_NKINDS; i++)
        x->cum[i] = sum += y->mix[i];
    for (int i = YCSB_NKINDS - 1; i >= 0 && x->cum[i] >= 0.999; i--)
        x->cum[i] = 1.0;
}

/* Record number of an existing record to operate on. */
static uint64_t ycsb_pick(ycsb_worker *x)
{
    uint64_t have = atomic_load_explicit(&x->y->acked, memory_order_acquire);
    switch (x->y->dist) {
    case YCSB_DIST_UNIFORM:
        return bu_rng_below(&x->r, have);
    case YCSB_DIST_LATEST: /* newest record minus a zipfian offset */
        return have - 1 - ycsb_zipf_next(&x->latest, have, ycsb_unit(&x->r));
    default:
        return ycsb_scrambled_next(&x->scrambled, have, ycsb_unit(&x->r));
    }
}

/* Check a value read for record n.  0 or -EBADMSG. */
static int ycsb_value_ok(const ycsb *y, uint64_t n, const void *v,
                         size_t vlen)
{
    uint64_t m;
    if (vlen != y->value_size)
        return -EBADMSG;
    memcpy(&m, v, 8);
    return m == n ? 0 : -EBADMSG;
}

typedef struct ycsb_scan_ctx {
    ycsb_keys keys;
    uint64_t rows;
    int bad;
} ycsb_scan_ctx;

static int ycsb_scan_row(void *ctx, const void *key, size_t klen,
                         const void *val, size_t vlen)
{
    ycsb_scan_ctx *s = ctx;
    s->rows++;
    if (s->keys == YCSB_KEYS_INT8)
        s->bad |= klen != 8 || vlen < 8 || !val;
    else
        s->bad |= klen < 5 || memcmp(key, "user", 4) != 0 || vlen < 8 ||
                  !val;
    return 0;
}

/* Operation kind for u uniform in [0, 1). */
static inline int ycsb_kind_of(const ycsb_worker *x, double u)
{
    int kind = 0;
    while (kind < YCSB_NKINDS - 1 &&
           (u >= x->cum[kind] || !x->y->mix[kind]))
        kind++;
    return kind;
}

/* The driver's part of an operation of kind kind on record n without its
 * kv calls: the value written, the check of a value read (the record's
 * number as the engine would return it), the scan length. */
static int ycsb_op_alone(ycsb_worker *x, int kind, uint64_t n)
{
    ycsb *y = x->y;
    switch (kind) {
    case YCSB_READ:
        memcpy(x->got, &n, 8);
        return ycsb_value_ok(y, n, x->got, y->value_size);
    case YCSB_SCAN: /* the length drawn; no rows to check */
        (void)bu_rng_below(&x->r, YCSB_MAX_SCAN);
        return 0;
    case YCSB_RMW:
        memcpy(x->got, &n, 8);
        if (ycsb_value_ok(y, n, x->got, y->value_size))
            return -EBADMSG;
        ycsb_value(y, n, &x->r, x->v);
        return 0;
    default: /* update, insert */
        ycsb_value(y, n, &x->r, x->v);
        return 0;
    }
}

/* One operation of kind kind.  0, or a negative code. */
static int ycsb_op(ycsb_worker *x, int kind)
{
    ycsb *y = x->y;
    kv_txn *t;
    int rc;
    size_t vlen = 0;
    uint64_t n = kind == YCSB_INSERT ? atomic_fetch_add(&y->next_insert, 1)
                                     : ycsb_pick(x);
    size_t klen = ycsb_make_key(y, n, x->key);
    if (!x->k) {
        rc = ycsb_op_alone(x, kind, n);
        if (kind == YCSB_INSERT)
            ycsb_ack(y, n);
        return rc;
    }
    if ((rc = kv_begin(x->k, kind != YCSB_READ && kind != YCSB_SCAN, &t)))
        return rc;
    switch (kind) {
    case YCSB_READ:
        rc = kv_get(t, x->key, klen, x->got, sizeof x->got, &vlen);
        if (!rc)
            rc = ycsb_value_ok(y, n, x->got, vlen);
        break;
    case YCSB_UPDATE:
    case YCSB_INSERT:
        ycsb_value(y, n, &x->r, x->v);
        rc = kv_put(t, x->key, klen, x->v, y->value_size);
        break;
    case YCSB_SCAN: {
        ycsb_scan_ctx s = {y->keys, 0, 0};
        uint64_t len = 1 + bu_rng_below(&x->r, YCSB_MAX_SCAN);
        rc = kv_scan(t, x->key, klen, len, ycsb_scan_row, &s);
        if (!rc && (s.bad || s.rows > len))
            rc = -EBADMSG;
        break;
    }
    default: /* YCSB_RMW */
        rc = kv_get(t, x->key, klen, x->got, sizeof x->got, &vlen);
        if (!rc)
            rc = ycsb_value_ok(y, n, x->got, vlen);
        if (!rc) {
            /* modify: new filler, same record number */
            ycsb_value(y, n, &x->r, x->v);
            rc = kv_put(t, x->key, klen, x->v, y->value_size);
        }
        break;
    }
    if (rc) {
        kv_abort(t);
    } else {
        rc = kv_commit(t);
    }
    if (kind == YCSB_INSERT)
        ycsb_ack(y, n); /* even when it failed: readers must not stall */
    return rc == KV_NOTFOUND ? -ENOENT : rc;
}

/* The worker loop: until *stop becomes nonzero or limit operations (0: no
 * limit) are done, counting into *c and timing each completed operation
 * into c->lat[kind] (when set).  0, or the error that ended it. */
static int ycsb_loop(ycsb_worker *x, wl_counters *c, const int *stop,
                     uint64_t limit)
{
    ycsb *y = x->y;
    uint64_t done = 0, t = wl_lat_begin(c);
    while (!__atomic_load_n(stop, __ATOMIC_RELAXED) &&
           (!limit || done < limit)) {
        int kind = ycsb_kind_of(x, ycsb_unit(&x->r));
        int e = ycsb_op(x, kind);
        done++;
        t = wl_lat_lap(c, kind, t, !e);
        if (!e) {
            __atomic_store_n(&c->ops[kind], c->ops[kind] + 1,
                             __ATOMIC_RELAXED);
            continue;
        }
        ycsb_note_err(y, e);
        uint64_t errs = c->errors + 1;
        __atomic_store_n(&c->errors, errs, __ATOMIC_RELAXED);
        if (errs >= YCSB_MAX_ERRORS)
            return e;
    }
    return 0;
}

static int ycsb_run(kv *k, void *arg, int tid, wl_counters *c,
                    const int *stop)
{
    ycsb *y = arg;
    ycsb_worker *x = calloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    ycsb_worker_init(x, y, k, tid);
    int rc = ycsb_loop(x, c, stop, c->limit);
    free(x);
    return rc;
}

/* The shared state of a run as the load leaves it. */
static void ycsb_reset(ycsb *y)
{
    atomic_store(&y->next_insert, y->records);
    atomic_store(&y->acked, y->records);
    atomic_store(&y->first_err, 0);
    memset(y->ring, 0, YCSB_RING);
}

/* The driver alone: worker 0's loop for nops operations without kv calls;
 * the shared state is put back as it was. */
static int ycsb_driver(void *arg, uint64_t nops)
{
    ycsb *y = arg;
    ycsb_worker *x = calloc(1, sizeof *x);
    wl_counters *c = calloc(1, sizeof *c);
    int stop = 0, rc = -ENOMEM;
    if (x && c) {
        ycsb_worker_init(x, y, NULL, 0);
        rc = ycsb_loop(x, c, &stop, nops);
    }
    ycsb_reset(y);
    free(x);
    free(c);
    return rc;
}

/* ---- Check --------------------------------------------------------------- */

static int ycsb_count_row(void *ctx, const void *key, size_t klen,
                          const void *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    ++*(uint64_t *)ctx;
    return 0;
}

/* Largest deviation of a share allowed for n operations: 1 point plus
 * 4.5 standard deviations of a binomial share (so a correct mix fails
 * about once in 150000 checks, and a brief run is not held to 1%). */
static double ycsb_tolerance(double p, uint64_t n)
{
    return 0.01 + 4.5 * sqrt(p * (1 - p) / (double)n);
}

static int ycsb_check(kv *k, void *arg, const wl_counters *total, char *out,
                      size_t outsz)
{
    ycsb *y = arg;
    uint64_t n = 0;
    for (int i = 0; i < YCSB_NKINDS; i++)
        n += total->ops[i];
    int fe = atomic_load(&y->first_err);
    if (total->errors) {
        snprintf(out, outsz, "%" PRIu64 " failed operations (first: %s)",
                 total->errors, kv_strerror(fe));
        return 1;
    }
    if (n == 0) {
        snprintf(out, outsz, "no operation completed");
        return 1;
    }
    char mix[256] = "";
    int bad = 0;
    for (int i = 0; i < YCSB_NKINDS; i++) {
        double p = y->mix[i], got = (double)total->ops[i] / (double)n;
        int off = p == 0 ? total->ops[i] != 0
                         : fabs(got - p) > ycsb_tolerance(p, n);
        bad |= off;
        if (p == 0 && !off)
            continue;
        size_t len = strlen(mix);
        snprintf(mix + len, sizeof mix - len, "%s%s %.1f%% (%.0f%%)%s",
                 len ? ", " : "", y->kind_names[i], 100 * got, 100 * p,
                 off ? " OFF" : "");
    }
    /* Every record loaded or inserted is there, and nothing else. */
    uint64_t inserted = atomic_load(&y->next_insert) - y->records;
    uint64_t keys = 0;
    kv_txn *t;
    int rc = kv_begin(k, 0, &t);
    if (!rc) {
        rc = kv_scan(t, NULL, 0, 0, ycsb_count_row, &keys);
        if (rc)
            kv_abort(t);
        else
            rc = kv_commit(t);
    }
    if (rc) {
        snprintf(out, outsz, "mix %s; counting keys failed: %s", mix,
                 kv_strerror(rc));
        return 1;
    }
    int keys_bad = inserted != total->ops[YCSB_INSERT] ||
                   keys != y->records + inserted;
    snprintf(out, outsz, "%s: %s; %" PRIu64 " ops; %" PRIu64 " keys = %" PRIu64
             " loaded + %" PRIu64 " inserted%s",
             bad || keys_bad ? "FAILED" : "ok", mix, n, keys, y->records,
             total->ops[YCSB_INSERT], keys_bad ? " MISMATCH" : "");
    return bad || keys_bad;
}

/* ---- Set-up -------------------------------------------------------------- */

int ycsb_create(ycsb **out, char letter, uint64_t records, size_t value_size,
                uint64_t seed)
{
    const double *mix = ycsb_mix(letter);
    *out = NULL;
    if (!mix || records < 2 || value_size < YCSB_MIN_VALUE ||
        value_size > YCSB_MAX_VALUE)
        return -EINVAL;
    ycsb *y = calloc(1, sizeof *y);
    if (!y || !(y->ring = calloc(YCSB_RING, 1))) {
        free(y);
        return -ENOMEM;
    }
    y->letter = (char)(letter | 0x20);
    snprintf(y->name, sizeof y->name, "ycsb-%c", y->letter);
    y->table = "ycsb";
    y->kind_names = ycsb_kind_names;
    y->mix = mix;
    y->keys = YCSB_KEYS_STRING;
    y->records = records;
    y->value_size = value_size;
    y->seed = seed;
    atomic_init(&y->next_insert, records);
    atomic_init(&y->acked, records);
    atomic_init(&y->loaded, 0);
    atomic_init(&y->first_err, 0);
    pthread_mutex_init(&y->ack_lock, NULL);
    ycsb_set_distribution(y, YCSB_DIST_DEFAULT);
    *out = y;
    return 0;
}

int ycsb_create_kv(ycsb **out, unsigned read_pct, uint64_t records,
                   size_t value_size, uint64_t seed)
{
    if (read_pct > 100)
        return -EINVAL;
    int rc = ycsb_create(out, 'c', records, value_size, seed);
    if (rc)
        return rc;
    ycsb *y = *out;
    y->letter = 'k'; /* its own random streams */
    snprintf(y->name, sizeof y->name, "kv");
    y->table = "kv";
    y->kind_names = ycsb_kv_kind_names;
    y->own_mix[YCSB_READ] = read_pct / 100.0;
    y->own_mix[YCSB_UPDATE] = (100 - read_pct) / 100.0;
    y->mix = y->own_mix;
    return 0;
}

int ycsb_set_keys(ycsb *y, ycsb_keys keys)
{
    if (keys != YCSB_KEYS_STRING && keys != YCSB_KEYS_INT8)
        return -EINVAL;
    y->keys = keys;
    return 0;
}

int ycsb_set_distribution(ycsb *y, ycsb_dist dist)
{
    if ((unsigned)dist > YCSB_DIST_LATEST)
        return -EINVAL;
    if (dist == YCSB_DIST_DEFAULT)
        dist = y->letter == 'd' ? YCSB_DIST_LATEST : YCSB_DIST_ZIPFIAN;
    y->dist = dist;
    if (dist == YCSB_DIST_LATEST && y->zetan == 0)
        y->zetan = ycsb_zeta(0, y->records, YCSB_THETA, 0);
    return 0;
}

ycsb_dist ycsb_distribution(const ycsb *y)
{
    return y->dist;
}

void ycsb_free(ycsb *y)
{
    if (!y)
        return;
    pthread_mutex_destroy(&y->ack_lock);
    free(y->ring);
    free(y);
}

void ycsb_workload(ycsb *y, wl_workload *w)
{
    memset(w, 0, sizeof *w);
    snprintf(y->setup, sizeof y->setup, "keys %s, distribution %s",
             ycsb_keys_name(y->keys), ycsb_dist_name(y->dist));
    w->name = y->name;
    w->table = y->table;
    w->setup = y->setup;
    w->nkinds = YCSB_NKINDS;
    for (int i = 0; i < YCSB_NKINDS; i++)
        w->kind_names[i] = y->kind_names[i];
    w->main_kind = -1;
    w->data_bytes = ycsb_data_bytes_keys(y->records, y->value_size, y->keys);
    w->arg = y;
    w->load = ycsb_load;
    w->run = ycsb_run;
    w->check = ycsb_check;
    w->driver = ycsb_driver;
    w->driver_ops = YCSB_DRIVER_OPS;
}
