/*
 * tpcc.c - `bpbench tpcc`: a TPC-C-like run (tpcc.h has the schema,
 * tpcc_txn.c the transactions and the concurrency control) on every engine
 * of --engines through the workload harness (bench_wl.h): per engine a
 * fresh database of --warehouses warehouses is loaded, reopened (warm, or
 * cold with --cold), run closed-loop for --duration on --threads workers,
 * then checked against the consistency conditions 1-4.  The report gives
 * New-Orders per second (the measured transaction, with the ratio to
 * LMDB), the latency of every transaction per kind, all transactions per
 * second, and the driver's own cost per transaction (tpcc_driver) with its
 * share of each engine's time per transaction.  Each transaction's home
 * warehouse is drawn uniformly (--home-warehouse: fixed per worker).  It
 * is TPC-C-like, not TPC-C: no terminals, keying or think time, no
 * durability per commit, no response-time limits, so the numbers are
 * never tpmC.
 *
 * The options are tpcc's own (--warehouses, --home-warehouse) and the
 * harness's in the shared vocabulary (bench_wl_cli.c); --json, --csv and
 * --output write one row per engine (table "tpcc": new_orders_per_s,
 * txn_per_s, ratio_vs_lmdb, ..., the latency of every transaction kind
 * and of all).
 */
#include "tpcc.h"

#include "bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define TPCC_DEFAULT_ENGINES "bufpool:auto,bufpool:mmap,lmdb"

void tpcc_workload(tpcc *tp, wl_workload *w)
{
    memset(w, 0, sizeof *w);
    w->name = "TPC-C-like";
    w->table = "tpcc";
    w->rate_metric = "new_orders_per_s";
    w->all_metric = "txn_per_s";
    w->setup = tp->home_fixed ? "home warehouse fixed per worker thread"
                              : "home warehouse drawn per transaction";
    w->nkinds = TPCC_NKINDS;
    for (int i = 0; i < TPCC_NKINDS; i++)
        w->kind_names[i] = tpcc_kind_names[i];
    w->main_kind = TPCC_NEW_ORDER;
    w->data_bytes = tpcc_data_bytes(tp);
    w->arg = tp;
    w->load = tpcc_load;
    w->run = tpcc_run;
    w->check = tpcc_check;
    w->all_unit = "tx/s";
    w->driver = tpcc_driver;
    w->driver_ops = TPCC_DRIVER_OPS;
}

/* The standard cardinalities for w warehouses, for sizes only (no locks). */
static tpcc tpcc_sizes(uint32_t w)
{
    tpcc tp = {.warehouses = w, .items = TPCC_ITEMS,
               .customers = TPCC_CUSTOMERS, .orders = TPCC_ORDERS,
               .new_orders = TPCC_NEW_ORDERS};
    return tp;
}

static void tpcc_usage(FILE *f, const bo_optdef *defs, size_t n)
{
    char intro[1536];
    snprintf(intro, sizeof intro,
"TPC-C-like transactions (New-Order 45%%, Payment 43%%, Order-Status 4%%,\n"
"Delivery 4%%, Stock-Level 4%%; closed loop, no think time) on every engine,\n"
"each on a freshly loaded database: New-Orders per second, all\n"
"transactions per second, the ratio to LMDB, the latency of every\n"
"transaction per kind and of all (p50 ... max), and TPC-C's consistency\n"
"conditions 1-4 checked after the run.  Not tpmC: no terminals, keying or\n"
"think time, no durable commits.  Each transaction's home warehouse is drawn\n"
"uniformly over all warehouses (Stock-Level's district too), unless\n"
"--home-warehouse.  Before the engines run, the driver alone (%u\n"
"transactions' draws and lock sets, no kv calls, one thread) is timed: the\n"
"report gives \"driver: X ns/op\" and its share of each engine's time per\n"
"transaction (\"driver %%\").  --ops counts transactions.\n",
             TPCC_DRIVER_OPS);
    bo_usage(f, "tpcc", intro, defs, n,
             "Exit status: 0, 1 when an engine failed or a consistency "
             "check did not\nhold, 2 on a usage error.\n");
}

typedef struct tpcc_opts {
    uint64_t warehouses;
    int home_fixed;
    char wh_help[160];
    wl_cli cli;
} tpcc_opts;

#define TPCC_NOWN 2 /* tpcc's own options */

static const wl_cli_defaults tpcc_defaults = {
    .cmd = "tpcc",
    .engines = TPCC_DEFAULT_ENGINES,
    .duration = 0,
    .per = "engine",
    .pool_size = "4x the expected data, room for the orders the run "
                 "adds; --oom: a quarter of the expected data",
    .interval = "1",
};

/* The option table: tpcc's own, then the harness's. */
static size_t tpcc_defs(tpcc_opts *o, bo_optdef *defs)
{
    tpcc one = tpcc_sizes(1);
    snprintf(o->wh_help, sizeof o->wh_help,
             "warehouses, each ~%" PRIu64 " rows, ~%" PRIu64
             " MiB (default: 1)", tpcc_load_rows(&one) - TPCC_ITEMS,
             tpcc_data_bytes(&one) >> 20);
    const bo_optdef own[TPCC_NOWN] = {
        {"warehouses", NULL, BO_U64, &o->warehouses, 1, TPCC_MAX_WAREHOUSES,
         "N", o->wh_help, NULL, 0},
        {"home-warehouse", NULL, BO_FLAG, &o->home_fixed, 0, 0, NULL,
         "each worker thread is a TPC-C terminal with a fixed home "
         "warehouse (thread t: t % N + 1) and Stock-Level district ((t / "
         "N) % 10 + 1) (default: off, both drawn per transaction, "
         "uniform)", NULL, 0},
    };
    memcpy(defs, own, sizeof own);
    return TPCC_NOWN + wl_cli_defs(&o->cli, defs + TPCC_NOWN);
}

/* The defaults that depend on other options, once parsed. */
static void tpcc_finish(tpcc_opts *o)
{
    wl_opts *w = &o->cli.wl;
    w->interval = o->cli.interval ? o->cli.interval : 1;
    if (w->seconds / w->interval > WL_MAX_SAMPLES)
        w->interval = w->seconds / WL_MAX_SAMPLES;
    w->mem_budget = o->cli.pool_size;
    if (!w->mem_budget) {
        tpcc sz = tpcc_sizes((uint32_t)o->warehouses);
        uint64_t data = tpcc_data_bytes(&sz);
        /* In memory: the run adds ~1 KiB per New-Order to the data. */
        w->mem_budget = w->out_of_memory ? data / 4 : 4 * data;
    }
}

static void tpcc_heading(const tpcc *tp, const wl_workload *w,
                         uint64_t wh, uint64_t seed, int home_fixed)
{
    char b1[32];
    printf("TPC-C-like: %" PRIu64 " warehouse%s, ~%" PRIu64
           " rows loaded per engine (%s expected), mix New-Order 45%%, "
           "Payment 43%%, Order-Status 4%%, Delivery 4%%, Stock-Level 4%%\n"
           "  closed loop, no think time; home warehouse %s; NURand C: "
           "C_LAST load %u run %u, C_ID %u, OL_I_ID %u; seed %" PRIu64 "\n"
           "  concurrency control: the driver's sorted striped locks for "
           "every engine, plus an LMDB transaction per TPC-C transaction on "
           "lmdb\n",
           wh, wh == 1 ? "" : "s", tpcc_load_rows(tp),
           bu_fmt_bytes(w->data_bytes, b1, sizeof b1),
           home_fixed ? "fixed per worker thread (t % W + 1)"
                      : "drawn per transaction, uniform",
           tp->c_load.c_last,
           tp->c_run.c_last, tp->c_run.c_id, tp->c_run.ol_i_id, seed);
    bu_print_machine(stdout, "  ");
    fflush(stdout);
}

int bench_tpcc_main(int argc, char **argv)
{
    tpcc_opts o;
    bo_optdef defs[TPCC_NOWN + WL_CLI_NDEFS];
    memset(&o, 0, sizeof o);
    o.warehouses = 1;
    if (wl_cli_init(&o.cli, &tpcc_defaults) != 0)
        return 1;
    size_t n = tpcc_defs(&o, defs);
    int rc = bo_parse("tpcc", defs, n, argc, argv);
    if (rc > 0)
        tpcc_usage(stdout, defs, n);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (wl_cli_apply(&o.cli) != 0)
        return 2;
    tpcc_finish(&o);
    tpcc tp;
    rc = tpcc_init(&tp, (uint32_t)o.warehouses, o.cli.seed);
    if (rc) {
        fprintf(stderr, "bpbench tpcc: set-up: %s\n", strerror(-rc));
        return 1;
    }
    tp.home_fixed = o.home_fixed;
    wl_workload w;
    tpcc_workload(&tp, &w);
    bo_run *run = wl_cli_begin(&o.cli, argc, argv);
    if (!run) {
        tpcc_destroy(&tp);
        return 1;
    }
    bo_opt_num(run, "warehouses", (double)o.warehouses);
    bo_opt_num(run, "home_warehouse_fixed", o.home_fixed);
    tpcc_heading(&tp, &w, o.warehouses, o.cli.seed, o.home_fixed);
    rc = wl_run_all(&w, &o.cli.wl);
    tpcc_destroy(&tp);
    return wl_cli_end(&o.cli, run) || rc ? 1 : 0;
}
