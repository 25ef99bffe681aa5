/*
 * ycsb.h - the YCSB core workloads A-F on the kv.h engines: the workload
 * hooks for the bench_wl.h harness (`bpbench ycsb`, tests/examples/test_ycsb.c) and
 * the key generators, as in YCSB's CoreWorkload:
 *
 *   workload  mix                                          key choice
 *   A         50% read, 50% update                         zipfian
 *   B         95% read, 5% update                          zipfian
 *   C         100% read                                    zipfian
 *   D         95% read, 5% insert                          latest
 *   E         95% scan (length uniform 1..100), 5% insert  zipfian
 *   F         50% read, 50% read-modify-write              zipfian
 *
 * Records: one value of value_size bytes (YCSB's record is 10 fields x
 * 100 B; here one field of value_size bytes: the first 8 bytes hold the
 * record number, which every read checks, the rest is filler) under one of
 * two key formats (ycsb_set_keys):
 *   string (default): "user" + the decimal of FNV-1a-64(record number)
 *           (YCSB's hashed inserts, Utils.fnvhash64 with its Math.abs);
 *   int8:   the record number as 8 bytes big-endian, so keys sort in record
 *           order (vmcache's integer keys).
 * Request distributions of the records read, updated, scanned from or
 * read-modified-written (ycsb_set_distribution; the default is the
 * workload's own from the table above):
 *   zipfian: YCSB's ScrambledZipfianGenerator: a Zipfian(theta 0.99) draw
 *           over 10^10 items with YCSB's precomputed zeta, hashed with
 *           FNV-64, modulo the records inserted so far;
 *   latest: SkewedLatestGenerator: newest record minus a Zipfian(0.99) draw
 *           over the records, so the newest are hottest;
 *   uniform: every record inserted so far equally likely.
 * Inserts take the next record number from a shared counter; readers see a
 * record only once it is acknowledged (all records below it inserted), as
 * YCSB's AcknowledgedCounterGenerator does.
 *
 * Every operation is one kv transaction: read = read transaction with one
 * get; update/insert = write transaction with one put; scan = read
 * transaction with one kv_scan; read-modify-write = write transaction with
 * a get, then a put of the changed value (atomic on LMDB, two atomic steps
 * on the bufpool tree).
 *
 * Every engine gets the same records and, per worker thread, the same
 * sequence of operations: a worker's random stream depends on the seed, the
 * workload and the thread number only (the record number of an insert
 * comes from the shared counter, so with several threads the interleaving
 * decides which thread inserts which record).
 *
 * The driver (wl_workload.driver): the worker loop with every kv call left
 * out: the choice of the kind, the record draw, the key, the value written
 * or the check of the value read, the insert counter and acknowledgement.
 */
#ifndef BENCH_YCSB_H
#define BENCH_YCSB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench_util.h"
#include "bench_wl.h"
#include "kv.h"

enum ycsb_kind { YCSB_READ, YCSB_UPDATE, YCSB_INSERT, YCSB_SCAN, YCSB_RMW,
                 YCSB_NKINDS };

#define YCSB_MAX_SCAN 100u  /* scan length uniform in 1..YCSB_MAX_SCAN */
#define YCSB_MIN_VALUE 8u   /* the record number */
#define YCSB_MAX_VALUE 1024u /* BT_MAX_VAL */
#define YCSB_DRIVER_OPS 200000u /* operations of one timed driver run */

/* Request distribution of the records operated on. */
typedef enum ycsb_dist {
    YCSB_DIST_DEFAULT = 0, /* the workload's own: D latest, else zipfian */
    YCSB_DIST_UNIFORM,
    YCSB_DIST_ZIPFIAN,
    YCSB_DIST_LATEST
} ycsb_dist;

/* Key format. */
typedef enum ycsb_keys {
    YCSB_KEYS_STRING = 0, /* "user" + decimal FNV-64 of the record number */
    YCSB_KEYS_INT8        /* the record number, 8 bytes big-endian */
} ycsb_keys;

#define YCSB_KEY_MAX 24 /* bytes of the longest key of either format */

typedef struct ycsb ycsb;

/* Workload letter 'a'..'f' (either case) over records records of
 * value_size bytes (YCSB_MIN_VALUE..YCSB_MAX_VALUE).  Returns 0, -EINVAL
 * or -ENOMEM. */
int ycsb_create(ycsb **out, char letter, uint64_t records, size_t value_size,
                uint64_t seed);
void ycsb_free(ycsb *y);

/* A get/put workload named "kv" (`bpbench kv`): read_pct percent reads of
 * one record (kind "get", YCSB_READ), the rest updates of one record
 * ("put", YCSB_UPDATE), over records records of value_size bytes; the
 * default distribution is zipfian (ycsb_set_distribution changes it).
 * Its results' table is "kv".  Returns 0, -EINVAL or -ENOMEM. */
int ycsb_create_kv(ycsb **out, unsigned read_pct, uint64_t records,
                   size_t value_size, uint64_t seed);

/* Choose the key format and the request distribution (the default
 * resolves to the workload's own); call before the load.  Returns 0, or
 * -EINVAL for a value out of the enum. */
int ycsb_set_keys(ycsb *y, ycsb_keys keys);
int ycsb_set_distribution(ycsb *y, ycsb_dist dist);

/* Names: "string", "int8"; "uniform", "zipfian", "latest" (the default
 * resolves to the workload's own).  ycsb_*_parse: -1 when s names none. */
const char *ycsb_keys_name(ycsb_keys keys);
const char *ycsb_dist_name(ycsb_dist dist);
int ycsb_keys_parse(const char *s, ycsb_keys *out);
int ycsb_dist_parse(const char *s, ycsb_dist *out);
/* bo_optdef parsers (BO_FN) of --distribution (dst: a ycsb_dist) and
 * --keys (dst: a ycsb_keys): 0, or -1 after the error line. */
int ycsb_opt_dist(void *dst, const char *cmd, const char *opt,
                  const char *val);
int ycsb_opt_keys(void *dst, const char *cmd, const char *opt,
                  const char *val);
/* The defaults of `bpbench ycsb` and `bpbench kv` that depend on other
 * options, after wl_cli_apply: the memory budget (256m; --oom: 32m),
 * *records when 0 (100000; --oom: what makes 4x the budget of data of
 * value_size bytes and keys), the sampling interval (the duration / 20,
 * at least 0.05 s; until steady: 0.1 s). */
void ycsb_cli_defaults(wl_cli *c, uint64_t *records, size_t value_size,
                       ycsb_keys keys);
/* The distribution y draws from (never YCSB_DIST_DEFAULT). */
ycsb_dist ycsb_distribution(const ycsb *y);

/* Fill *w ("ycsb-a" ..., the five kinds, throughput = every operation)
 * with hooks running y, the driver hook included. */
void ycsb_workload(ycsb *y, wl_workload *w);

/* The expected share of each kind for a workload letter (NULL if none). */
const double *ycsb_mix(char letter);

/* Estimated bytes of the loaded data (keys, values, tree overhead) with
 * string keys; ycsb_data_bytes_keys for either format. */
uint64_t ycsb_data_bytes(uint64_t records, size_t value_size);
uint64_t ycsb_data_bytes_keys(uint64_t records, size_t value_size,
                              ycsb_keys keys);

/* ---- Generators (exposed for the test) ----------------------------------- */

/* YCSB's Utils.fnvhash64: FNV-1a over the 8 bytes of v, made non-negative
 * as Java's Math.abs does. */
uint64_t ycsb_fnv64(uint64_t v);

/* The string key of record n: "user<digits>" into buf (at least
 * YCSB_KEY_MAX bytes); returns its length. */
size_t ycsb_key(uint64_t n, char *buf);

/* The int8 key of record n: 8 bytes big-endian into buf; returns 8. */
static inline size_t ycsb_key_int8(uint64_t n, char *buf)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    n = __builtin_bswap64(n);
    memcpy(buf, &n, 8);
#else
    for (int i = 7; i >= 0; i--) {
        buf[i] = (char)(n & 0xff);
        n >>= 8;
    }
#endif
    return 8;
}

/* Zipfian generator over [0, items) (YCSB's ZipfianGenerator); items may
 * grow (zeta is extended incrementally). */
typedef struct ycsb_zipf {
    uint64_t items;
    double theta, alpha, zetan, eta, half_pow_theta;
    /* alpha = 1 / (1 - theta) when it is an integer (100 for YCSB's
     * theta 0.99): the draw's power by squaring instead of pow(); else 0 */
    unsigned ialpha;
} ycsb_zipf;
/* zetan: zeta(items, theta), or 0 to compute it here. */
void ycsb_zipf_init(ycsb_zipf *z, uint64_t items, double theta, double zetan);
/* u uniform in [0, 1); items >= the current item count. */
uint64_t ycsb_zipf_next(ycsb_zipf *z, uint64_t items, double u);
/* YCSB's scrambled zipfian (A, B, C, E, F): a zipfian over 10^10 items,
 * FNV-hashed onto [0, records).  Init once, then one draw per u. */
void ycsb_scrambled_init(ycsb_zipf *z);
uint64_t ycsb_scrambled_next(ycsb_zipf *z, uint64_t records, double u);
/* Uniform in [0, 1) from r (53 bits). */
double ycsb_unit(bu_rng *r);

#endif /* BENCH_YCSB_H */
