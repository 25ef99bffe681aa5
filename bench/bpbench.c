/*
 * bpbench.c - benchmark driver for libbufpool: a dispatcher over a table of
 * subcommands (bench.h).  Benchmarks are programs, not tests: they print
 * numbers and warnings and never decide pass/fail on time.
 *
 *   bpbench <subcommand> [options]     run one benchmark
 *   bpbench <subcommand> --help        its options
 *   bpbench --help | help [<subcommand>]
 *   bpbench compare A.json B.json      two runs' results side by side
 *
 * What every subcommand reports and how (latency percentiles, JSON and CSV
 * files, progress lines, the shared option names) is bench_out.h's.
 */
#include "bench.h"
#include "bench_util.h"
#include "bufpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bench_cmd bench_cmds[] = {
    {"remap", "fix+touch+unfix cost of every window backend at window hit, "
              "cache hit and cache miss",
     bench_remap_main},
    {"hit", "window-hit shared fix+unfix on 1 and all cores, every backend, "
            "vs optimistic read and bare deref",
     bench_hit_main},
    {"io", "cold random reads (depth 1/8/32) and write-back through the "
           "pool vs fio on the same file",
     bench_io_main},
    {"ycsb", "YCSB workloads A-F on the bufpool B+tree (per backend) vs "
             "LMDB: throughput, ratio, plots",
     bench_ycsb_main},
    {"kv", "random key-value gets and puts on every kv engine (bufpool "
           "B+tree per backend, LMDB): throughput and latency percentiles",
     bench_kv_main},
    {"tpcc", "TPC-C-like New-Orders/s and transactions/s on every kv engine, "
             "consistency checked",
     bench_tpcc_main},
    {"compare", "two runs' --json files side by side: every metric and "
                "latency percentile, with B/A ratios",
     bench_compare_main},
    {"cachesim", "fewest page reads per YCSB operation any cache of the "
                 "budget could make (LRU, CLOCK, MIN)",
     bench_cachesim_main},
    {"share", "one shared cache: N threads vs N processes (and LMDB by N "
              "processes), warm, reads and updates",
     bench_share_main},
    {"restart", "a kept cache revived at open vs one built anew: open time, "
                "first and steady lookups, disk reads",
     bench_restart_main},
    {"sqlite", "SQLite: own cache vs mmap vs bufpool VFS", bench_sqlite_main},
};
#define BENCH_NCMDS (sizeof bench_cmds / sizeof bench_cmds[0])

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: bpbench <subcommand> [options]\n"
            "       bpbench <subcommand> --help\n"
            "\n"
            "Benchmarks for libbufpool %d.%d.%d.  Subcommands:\n",
            BP_VERSION_MAJOR, BP_VERSION_MINOR, BP_VERSION_PATCH);
    for (size_t i = 0; i < BENCH_NCMDS; i++) {
        char lead[32]; /* "  name     ", the summary from column 11 on */
        snprintf(lead, sizeof lead, "  %-8s ", bench_cmds[i].name);
        bo_wrapf(f, lead, "           ", "%s", bench_cmds[i].summary);
    }
    fprintf(f, "\nEvery benchmark takes --json FILE, --csv FILE, --output "
               "FILE (.json or .csv),\n--out DIR (plots) and --quiet; "
               "bpbench(1) has the formats.  Temporary files\n(data files "
               "under /var/tmp, /dev/shm names) are removed at exit, also "
               "on\nSIGINT/SIGTERM.\n");
}

static const bench_cmd *bench_find(const char *name)
{
    for (size_t i = 0; i < BENCH_NCMDS; i++)
        if (strcmp(bench_cmds[i].name, name) == 0)
            return &bench_cmds[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        bench_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        if (strcmp(name, "help") == 0 && argc > 2) {
            const bench_cmd *c = bench_find(argv[2]);
            if (c) {
                char *hargv[] = {argv[2], (char *)"--help", NULL};
                return c->main(2, hargv);
            }
            fprintf(stderr, "bpbench: unknown subcommand '%s'\n", argv[2]);
            return 2;
        }
        bench_usage(stdout);
        return 0;
    }
    const bench_cmd *c = bench_find(name);
    if (!c) {
        fprintf(stderr, "bpbench: unknown subcommand '%s'\n\n", name);
        bench_usage(stderr);
        return 2;
    }
    int rc = bu_cleanup_init();
    if (rc) {
        fprintf(stderr, "bpbench: cannot install cleanup handlers: %s\n",
                strerror(-rc));
        return 1;
    }
    return c->main(argc - 1, argv + 1);
}
