/*
 * tpcc.c - `bpbench tpcc`: a TPC-C-like run (tpcc.h has the schema,
 * tpcc_txn.c the transactions and the concurrency control) on every engine
 * of --engines through the workload harness (bench_wl.h): per engine a
 * fresh database of --warehouses warehouses is loaded, reopened (warm, or
 * cold with --cold), run closed-loop for --seconds on --threads workers,
 * then checked against the consistency conditions 1-4.  The report gives New-Orders per second (the
 * measured transaction, with the ratio to LMDB), all transactions per
 * second, and the driver's own cost per transaction (tpcc_driver) with its
 * share of each engine's time per transaction.  Each transaction's home
 * warehouse is drawn uniformly (--home-warehouse: fixed per worker).  It
 * is TPC-C-like, not TPC-C: no terminals, keying or think time, no
 * durability per commit, no response-time limits, so the numbers are
 * never tpmC.
 */
#include "tpcc.h"

#include "bench.h"

#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TPCC_DEFAULT_ENGINES "bufpool:auto,bufpool:mmap,lmdb"

void tpcc_workload(tpcc *tp, wl_workload *w)
{
    memset(w, 0, sizeof *w);
    w->name = "TPC-C-like";
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

static void tpcc_usage(FILE *f)
{
    tpcc one = tpcc_sizes(1);
    fprintf(f,
"usage: bpbench tpcc [options]\n"
"\n"
"TPC-C-like transactions (New-Order 45%%, Payment 43%%, Order-Status 4%%,\n"
"Delivery 4%%, Stock-Level 4%%; closed loop, no think time) on every engine,\n"
"each on a freshly loaded database: New-Orders per second, all\n"
"transactions per second, the ratio to LMDB, and TPC-C's consistency\n"
"conditions 1-4 checked after the run.  Not tpmC: no terminals, keying or\n"
"think time, no durable commits.  Each transaction's home warehouse is drawn\n"
"uniformly over all warehouses (Stock-Level's district too), unless\n"
"--home-warehouse.  Before the engines run, the driver alone (%u\n"
"transactions' draws and lock sets, no kv calls, one thread) is timed: the\n"
"report gives \"driver: X ns/op\" and its share of each engine's time per\n"
"transaction (\"driver %%\").\n"
"\n"
"options:\n"
"  --warehouses N   warehouses (1), each ~%" PRIu64 " rows, ~%" PRIu64 " MiB\n"
"  --home-warehouse\n"
"                   each worker thread is a TPC-C terminal with a fixed\n"
"                   home warehouse (thread t: t %% N + 1) and Stock-Level\n"
"                   district ((t / N) %% 10 + 1) (off: both drawn per\n"
"                   transaction, uniform)\n"
"  --threads N      worker threads, also loader threads (the CPUs)\n"
"  --seconds S      run time per engine (default: until steady, 5 to 60 s;\n"
"                   the report gives the steady rate and the time it took\n"
"                   to reach it)\n"
"  --engines LIST   comma separated from bufpool:<backend> (or just\n"
"                   <backend>: rfp,mmap,copy,linear,kmod,auto; all: auto\n"
"                   and every backend that runs here) and lmdb\n"
"                   (" TPCC_DEFAULT_ENGINES ")\n"
"  --rounds N       runs per engine, 1..9, the engines alternating (A B A\n"
"                   B ...); the report shows each engine's median round,\n"
"                   the median per-round ratio to LMDB and every round's\n"
"                   rate (1)\n"
"  --memory BYTES   memory budget of each engine, k/m/g suffixes (default:\n"
"                   4x the expected data, room for the orders the run\n"
"                   adds; with --oom a quarter of the expected data)\n"
"  --cold           start each run cold: the bufpool cache is not kept\n"
"                   from the load, the page cache is dropped (default:\n"
"                   warm, as the load left both)\n"
"  --oom            out-of-memory mode: data >= 4x budget, page cache\n"
"                   dropped before each run, LMDB in a memory cgroup, and\n"
"                   the efficiency line: disk reads/s over fio's\n"
"                   random-read rate\n"
"  --out DIR        CSV and plots go here (bpbench-out)\n"
"  --dir DIR        where the databases' temp directories go (/var/tmp)\n"
"  --page-size N    bufpool page size (8192; --oom: 4096, see README)\n"
"  --interval S     throughput sampling interval for the plot (1)\n"
"  --seed N         random seed of the load and the run (1)\n"
"  --quiet          no progress on stderr\n"
"  -h, --help       this text\n"
"\n"
"Exit status: 0, 1 when an engine failed or a consistency check did not\n"
"hold, 2 on a usage error.\n",
            TPCC_DRIVER_OPS, tpcc_load_rows(&one) - TPCC_ITEMS,
            tpcc_data_bytes(&one) >> 20);
}

enum {
    OPT_WAREHOUSES = 256, OPT_THREADS, OPT_SECONDS, OPT_ENGINES, OPT_MEMORY,
    OPT_OOM, OPT_COLD, OPT_OUT, OPT_DIR, OPT_PAGE_SIZE, OPT_INTERVAL, OPT_SEED,
    OPT_QUIET, OPT_HOME_WAREHOUSE, OPT_ROUNDS
};

static int tpcc_ncpu(void)
{
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) > 0)
        return CPU_COUNT(&cs);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Seconds as a decimal ("0.5", "10"), within [min, max]. */
static int tpcc_parse_secs(const char *opt, const char *s, double min,
                           double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= min && v <= max)) {
        fprintf(stderr, "bpbench: --%s: '%s' is not a number of seconds in "
                "[%g, %g]\n", opt, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Returns 0, 1 for --help, -1 on a usage error. */
static int tpcc_parse(int argc, char **argv, wl_opts *o, uint64_t *wh,
                      uint64_t *seed, int *home_fixed)
{
    static const struct option lo[] = {
        {"warehouses", required_argument, NULL, OPT_WAREHOUSES},
        {"home-warehouse", no_argument, NULL, OPT_HOME_WAREHOUSE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"engines", required_argument, NULL, OPT_ENGINES},
        {"rounds", required_argument, NULL, OPT_ROUNDS},
        {"memory", required_argument, NULL, OPT_MEMORY},
        {"oom", no_argument, NULL, OPT_OOM},
        {"cold", no_argument, NULL, OPT_COLD},
        {"out", required_argument, NULL, OPT_OUT},
        {"dir", required_argument, NULL, OPT_DIR},
        {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"seed", required_argument, NULL, OPT_SEED},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char engines[] = TPCC_DEFAULT_ENGINES;
    uint64_t v;
    memset(o, 0, sizeof *o);
    o->seconds = 0; /* until steady */
    o->rounds = 1;
    o->interval = 1;
    o->page_size = 0; /* 8192, or 4096 with --oom: below */
    o->outdir = "bpbench-out";
    o->tmp_parent = "/var/tmp";
    *wh = 1;
    *seed = 1;
    *home_fixed = 0;
    if (wl_parse_engines(engines, o) != 0)
        return -1;

    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case 'h': return 1;
        case OPT_WAREHOUSES:
            rc = bu_parse_u64("warehouses", optarg, 1, TPCC_MAX_WAREHOUSES, 0,
                              wh);
            break;
        case OPT_THREADS:
            rc = bu_parse_u64("threads", optarg, 1, WL_MAX_THREADS, 0, &v);
            o->threads = (int)v;
            break;
        case OPT_SECONDS:
            rc = tpcc_parse_secs("seconds", optarg, 0.1, 86400, &o->seconds);
            break;
        case OPT_ENGINES:
            o->nengines = 0;
            rc = wl_parse_engines(optarg, o);
            break;
        case OPT_ROUNDS:
            rc = bu_parse_u64("rounds", optarg, 1, WL_MAX_ROUNDS, 0, &v);
            o->rounds = (int)v;
            break;
        case OPT_MEMORY:
            rc = bu_parse_u64("memory", optarg, 1u << 20, UINT64_MAX / 2, 1,
                              &o->mem_budget);
            break;
        case OPT_HOME_WAREHOUSE: *home_fixed = 1; break;
        case OPT_OOM: o->out_of_memory = 1; break;
        case OPT_COLD: o->cold = 1; break;
        case OPT_OUT: o->outdir = optarg; break;
        case OPT_DIR: o->tmp_parent = optarg; break;
        case OPT_PAGE_SIZE:
            rc = bu_parse_u64("page-size", optarg, 4096, 65536, 1, &v);
            if (!rc && (v & (v - 1))) {
                fprintf(stderr,
                        "bpbench: --page-size: must be a power of two\n");
                rc = -1;
            }
            o->page_size = (size_t)v;
            break;
        case OPT_INTERVAL:
            rc = tpcc_parse_secs("interval", optarg, 0.01, 3600,
                                 &o->interval);
            break;
        case OPT_SEED:
            rc = bu_parse_u64("seed", optarg, 0, UINT64_MAX, 0, seed);
            break;
        case OPT_QUIET: bu_quiet = 1; break;
        default: return -1; /* getopt printed the message */
        }
        if (rc)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "bpbench tpcc: unexpected argument '%s'\n",
                argv[optind]);
        return -1;
    }
    if (!o->threads) {
        o->threads = tpcc_ncpu();
        if (o->threads > WL_MAX_THREADS)
            o->threads = WL_MAX_THREADS;
    }
    if (!o->page_size) /* out of memory, small pages miss less */
        o->page_size = o->out_of_memory ? 4096 : 8192;
    if (!o->mem_budget) {
        tpcc sz = tpcc_sizes((uint32_t)*wh);
        uint64_t data = tpcc_data_bytes(&sz);
        /* In memory: the run adds ~1 KiB per New-Order to the data. */
        o->mem_budget = o->out_of_memory ? data / 4 : 4 * data;
    }
    return 0;
}

int bench_tpcc_main(int argc, char **argv)
{
    wl_opts o;
    uint64_t wh, seed;
    int home_fixed;
    int rc = tpcc_parse(argc, argv, &o, &wh, &seed, &home_fixed);
    if (rc) {
        if (rc > 0)
            tpcc_usage(stdout);
        else
            fprintf(stderr, "(bpbench tpcc --help for the options)\n");
        return rc > 0 ? 0 : 2;
    }
    tpcc tp;
    rc = tpcc_init(&tp, (uint32_t)wh, seed);
    if (rc) {
        fprintf(stderr, "bpbench tpcc: set-up: %s\n", strerror(-rc));
        return 1;
    }
    tp.home_fixed = home_fixed;
    wl_workload w;
    tpcc_workload(&tp, &w);

    char b1[32];
    printf("TPC-C-like: %" PRIu64 " warehouse%s, ~%" PRIu64
           " rows loaded per engine (%s expected), mix New-Order 45%%, "
           "Payment 43%%, Order-Status 4%%, Delivery 4%%, Stock-Level 4%%\n"
           "  closed loop, no think time; home warehouse %s; NURand C: "
           "C_LAST load %u run %u, C_ID %u, OL_I_ID %u; seed %" PRIu64 "\n"
           "  concurrency control: the driver's sorted striped locks for "
           "every engine, plus an LMDB transaction per TPC-C transaction on "
           "lmdb\n",
           wh, wh == 1 ? "" : "s", tpcc_load_rows(&tp),
           bu_fmt_bytes(w.data_bytes, b1, sizeof b1),
           home_fixed ? "fixed per worker thread (t % W + 1)"
                      : "drawn per transaction, uniform",
           tp.c_load.c_last,
           tp.c_run.c_last, tp.c_run.c_id, tp.c_run.ol_i_id, seed);
    bu_print_machine(stdout, "  ");
    fflush(stdout);
    rc = wl_run_all(&w, &o);
    tpcc_destroy(&tp);
    return rc;
}
