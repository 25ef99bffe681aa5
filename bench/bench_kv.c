/*
 * bench_kv.c - `bpbench kv`: random gets and puts of single records on
 * every kv engine (kv.h: the bufpool B+tree on each window backend that
 * runs here, and LMDB), db_bench's readrandom / readrandomwriterandom
 * shape.  The workload is ycsb's machinery with its own mix
 * (ycsb_create_kv: --read-pct gets, the rest puts of loaded records), so
 * the load, the key formats, the distributions and the check are ycsb's,
 * and each engine runs through the workload harness (bench_wl.h) in its
 * own process: load, reopen, run, check.
 *
 * The report is the harness's: the table (ops/s, ratio to LMDB, disk KiB
 * per operation, ...) and the latency table (ops/s, mean, p50, p90, p99,
 * p99.9, max of gets and puts per engine); --json, --csv and --output
 * write one row per engine (table "kv").  The defaults run in about ten
 * seconds: 100000 records of 100 B, int8 keys, uniform, 1 s per engine.
 */
#include "bench.h"
#include "bench_util.h"
#include "bench_wl.h"
#include "ycsb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char kv_intro[] =
"Random gets and puts of single records on every kv engine: the bufpool\n"
"B+tree (examples/btree.h) on each window backend that runs here, and LMDB,\n"
"side by side.  Each engine runs in its own process: load (ycsb's loader),\n"
"close, reopen (warm: the caches the load left; --cold), run, check (every\n"
"get found its record, the mix is --read-pct).  The report gives ops/s, the\n"
"ratio to LMDB, and the latency of every get and put: p50, p90, p99, p99.9\n"
"and max per engine.\n";

static const char kv_tail[] =
"A get is a read transaction with one kv_get, a put a write transaction\n"
"with one kv_put of an existing record (same size).  `bpbench ycsb` runs\n"
"the YCSB mixes on the same engines.\n"
"\n"
"Exit status: 0, 1 when an engine failed or a check did not hold, 2 on a\n"
"usage error.\n";

typedef struct kv_opts {
    uint64_t records;    /* 0: the default */
    uint64_t value_size;
    int read_pct;
    ycsb_dist dist;
    ycsb_keys keys;
    wl_cli cli;
} kv_opts;

#define KV_NOWN 5 /* kv's own options */

static const wl_cli_defaults kv_defaults = {
    .cmd = "kv",
    .engines = "all,lmdb",
    .duration = 1,
    .per = "engine",
    .pool_size = "256m; --oom: 32m",
    .interval = "the duration / 20, at least 0.05",
};

/* The option table: kv's own, then the harness's. */
static size_t kv_defs(kv_opts *o, bo_optdef *defs)
{
    const bo_optdef own[KV_NOWN] = {
        {"records", NULL, BO_U64, &o->records, 100, 17179869184.0, "N",
         "records loaded, suffix k, m, g (default: 100000; --oom: what "
         "makes 4x the budget of data)", NULL, 0},
        {"value-size", NULL, BO_U64, &o->value_size, YCSB_MIN_VALUE,
         YCSB_MAX_VALUE, "BYTES",
         "bytes of each value, 8 to 1024 (default: 100)", NULL, 0},
        {"read-pct", NULL, BO_INT, &o->read_pct, 0, 100, "PCT",
         "percent of the operations that are gets, the rest are puts "
         "(default: 100)", NULL, 0},
        {"distribution", NULL, BO_FN, &o->dist, 0, 0, "D",
         "records operated on: uniform, zipfian (YCSB's scrambled zipfian "
         "0.99) or latest (the highest record numbers hottest) (default: "
         "uniform)", ycsb_opt_dist, 0},
        {"keys", NULL, BO_FN, &o->keys, 0, 0, "K",
         "int8 (the record number, 8 bytes big-endian) or string (\"user\" "
         "+ decimal FNV-64 of the record number) (default: int8)",
         ycsb_opt_keys, 0},
    };
    memcpy(defs, own, sizeof own);
    return KV_NOWN + wl_cli_defs(&o->cli, defs + KV_NOWN);
}

static void kv_heading(const kv_opts *o)
{
    char b1[32], b2[32];
    const wl_opts *w = &o->cli.wl;
    printf("bpbench kv: %d%% gets, %d%% puts; %llu records x %llu B (~%s "
           "of data), %s keys, %s distribution, memory budget %s%s\n",
           o->read_pct, 100 - o->read_pct, (unsigned long long)o->records,
           (unsigned long long)o->value_size,
           bu_fmt_bytes(ycsb_data_bytes_keys(o->records, o->value_size,
                                             o->keys),
                        b1, sizeof b1),
           ycsb_keys_name(o->keys), ycsb_dist_name(o->dist),
           bu_fmt_bytes(w->mem_budget, b2, sizeof b2),
           w->out_of_memory ? ", out-of-memory mode" : "");
    bu_print_machine(stdout, "# ");
    fflush(stdout);
}

/* The workload through the harness: 0, 1 when an engine failed, -1 when
 * it could not be set up (printed). */
static int kv_run(const kv_opts *o)
{
    ycsb *y;
    int rc = ycsb_create_kv(&y, (unsigned)o->read_pct, o->records,
                            (size_t)o->value_size, o->cli.seed);
    if (!rc && !(rc = ycsb_set_keys(y, o->keys)))
        rc = ycsb_set_distribution(y, o->dist);
    if (rc) {
        ycsb_free(y);
        fprintf(stderr, "bpbench kv: %s\n", strerror(-rc));
        return -1;
    }
    wl_workload w;
    ycsb_workload(y, &w);
    rc = wl_run_all(&w, &o->cli.wl);
    ycsb_free(y);
    return rc;
}

int bench_kv_main(int argc, char **argv)
{
    kv_opts o;
    bo_optdef defs[KV_NOWN + WL_CLI_NDEFS];
    memset(&o, 0, sizeof o);
    o.value_size = 100;
    o.read_pct = 100;
    o.dist = YCSB_DIST_UNIFORM;
    o.keys = YCSB_KEYS_INT8;
    if (wl_cli_init(&o.cli, &kv_defaults) != 0)
        return 1;
    size_t n = kv_defs(&o, defs);
    int rc = bo_parse("kv", defs, n, argc, argv);
    if (rc > 0)
        bo_usage(stdout, "kv", kv_intro, defs, n, kv_tail);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (wl_cli_apply(&o.cli) != 0)
        return 2;
    ycsb_cli_defaults(&o.cli, &o.records, (size_t)o.value_size, o.keys);
    bo_run *run = wl_cli_begin(&o.cli, argc, argv);
    if (!run)
        return 1;
    bo_opt_num(run, "records", (double)o.records);
    bo_opt_num(run, "value_size_bytes", (double)o.value_size);
    bo_opt_num(run, "read_pct", o.read_pct);
    bo_opt_str(run, "distribution", ycsb_dist_name(o.dist));
    bo_opt_str(run, "keys", ycsb_keys_name(o.keys));
    kv_heading(&o);
    rc = kv_run(&o);
    return wl_cli_end(&o.cli, run) || rc ? 1 : 0;
}
