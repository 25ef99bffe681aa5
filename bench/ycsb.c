/*
 * ycsb.c - `bpbench ycsb`: the YCSB core workloads A-F (ycsb.h) on every
 * engine (the bufpool B+tree on chosen window backends, and LMDB), each run
 * by the bench_wl.h harness in its own child process, then a summary across
 * the workloads.
 *
 * Defaults are sized so that a bare `bpbench ycsb` compares the three
 * default engines on all six workloads in about a minute: 100000 records
 * of 100 bytes (one YCSB field; YCSB's default record is 10 x 100 B, use
 * --value-size 1000 for that), 2 s per engine and workload, all CPUs, a
 * 256 MiB memory budget (the data fits: in-memory mode).
 * --oom: out-of-memory mode, data ~4x the budget: the budget defaults to
 * 32 MiB and the records to what fills 4x it (about 4 * 32 MiB of tree),
 * the page cache is dropped before each run and LMDB runs in a memory
 * cgroup limited to the budget (see bench_wl_mem.c, kv_bufpool.c for the
 * equal-memory rule).
 * --distribution and --keys set the request distribution of every workload
 * and the key format (ycsb.h): `--distribution uniform --keys int8
 * --value-size 120 --workloads c` is vmcache's lookup shape.
 */
#include "bench.h"
#include "bench_util.h"
#include "bench_wl.h"
#include "ycsb.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void ycsb_usage(FILE *f)
{
    fprintf(f,
"usage: bpbench ycsb [options]\n"
"\n"
"YCSB core workloads on the bufpool B+tree (examples/btree.h, one run per\n"
"window backend) and on LMDB, side by side: throughput (operations/s), ratio\n"
"to LMDB, the operation mix, and a check that the mix matches the workload\n"
"and every record is there.  Each engine runs in its own process: load\n"
"(progress bar), close, reopen (warm: the caches the load left; --cold),\n"
"run, check.\n"
"\n"
"  A 50%% read/50%% update   B 95%% read/5%% update   C 100%% read\n"
"  D 95%% read/5%% insert, latest distribution\n"
"  E 95%% scan (1..100 records)/5%% insert          F 50%% read/50%% rmw\n"
"  keys: \"user\" + FNV-64 of the record number; records chosen by a scrambled\n"
"  zipfian 0.99 (D: latest); --keys and --distribution change either\n"
"\n"
"options (default):\n"
"  --workloads LIST   letters from a..f, comma separated or not (abcdef)\n"
"  --records N        records loaded (100000; --oom: 4x the budget of data)\n"
"  --value-size N     value bytes, 8..1024 (100: one YCSB field)\n"
"  --distribution D   records read, updated, scanned from and read-modify-\n"
"                     written, for every workload: uniform (all records\n"
"                     inserted so far alike), zipfian (YCSB's scrambled\n"
"                     zipfian 0.99) or latest (newest minus a zipfian 0.99\n"
"                     offset) (each workload's own: D latest, else zipfian)\n"
"  --keys K           string (\"user\" + decimal FNV-64 of the record number)\n"
"                     or int8 (the record number, 8 bytes big-endian: keys\n"
"                     sort in record order) (string)\n"
"  --threads N        worker and loader threads (CPUs available)\n"
"  --seconds S        run time per engine and workload (default: until\n"
"                     steady, 5 to 60 s; the report gives the steady rate\n"
"                     and the time it took to reach it)\n"
"  --interval S       throughput sampling interval (seconds / 20, >= 0.05)\n"
"  --engines LIST     lmdb and bufpool:<rfp|mmap|copy|linear|kmod|auto|all>\n"
"                     (all: auto and every backend that runs here; default\n"
"                     bufpool:auto,bufpool:mmap,lmdb)\n"
"  --rounds N         runs per engine and workload, 1..9, the engines\n"
"                     alternating (A B A B ...); the report shows each\n"
"                     engine's median round, the median per-round ratio to\n"
"                     LMDB and every round's rate (1)\n"
"  --memory N         memory budget, k/m/g suffix (256m; --oom: 32m):\n"
"                     bufpool cache + private window; LMDB's cgroup limit\n"
"  --cold             start each run cold: the bufpool cache is not kept\n"
"                     from the load, the page cache is dropped (default:\n"
"                     warm, as the load left both)\n"
"  --oom              out-of-memory mode: data ~4x the budget, page cache\n"
"                     dropped before each run, LMDB in a memory cgroup,\n"
"                     and the efficiency line: disk reads/s over fio's\n"
"                     random-read rate\n"
"  --page-size N      bufpool page size (8192; --oom: 4096, see README)\n"
"  --out DIR          CSV, plot data and PNGs (./bpbench-out)\n"
"  --dir DIR          where the data directories go (/var/tmp)\n"
"  --seed N           random seed (1)\n"
"  --quiet            no progress on stderr\n"
"  -h, --help         this text\n"
"\n"
"Every engine gets the same keys and, per worker thread, the same sequence\n"
"of operations.  Before the engines run, the driver alone (the draws, keys\n"
"and checks of %u operations without kv calls, one thread) is timed: the\n"
"report gives it as \"driver: X ns/op\" and as a share of each engine's time\n"
"per operation (\"driver %%\").  vmcache's shape: --workloads c --distribution\n"
"uniform --keys int8 --value-size 120.\n"
"\n"
"Exit status: 0, 1 when an engine failed or a check did not hold, 2 on a\n"
"usage error.\n", YCSB_DRIVER_OPS);
}

typedef struct ycsb_opts {
    char letters[8];
    uint64_t records;
    uint64_t value_size;
    uint64_t seed;
    ycsb_dist dist;
    ycsb_keys keys;
    int records_set;
    int memory_set;
    double interval_set;
    wl_opts wl;
} ycsb_opts;

enum {
    YO_WORKLOADS = 256, YO_RECORDS, YO_VALUE_SIZE, YO_THREADS, YO_SECONDS,
    YO_INTERVAL, YO_ENGINES, YO_MEMORY, YO_OOM, YO_COLD, YO_PAGE_SIZE, YO_OUT, YO_DIR,
    YO_SEED, YO_QUIET, YO_DISTRIBUTION, YO_KEYS, YO_ROUNDS
};

static int ycsb_parse_seconds(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0.01 || v > 3600) {
        fprintf(stderr, "bpbench: --%s: '%s' is not a duration from 0.01 to "
                        "3600 seconds\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int ycsb_parse_letters(const char *s, char *out, size_t n)
{
    size_t j = 0;
    for (; *s; s++) {
        if (*s == ',' || *s == ' ')
            continue;
        char c = (char)(*s | 0x20);
        if (c < 'a' || c > 'f' || j + 1 >= n || memchr(out, c, j)) {
            fprintf(stderr, "bpbench: --workloads: '%c' is not a new one of "
                            "a..f\n", *s);
            return -1;
        }
        out[j++] = c;
    }
    out[j] = '\0';
    if (!j) {
        fprintf(stderr, "bpbench: --workloads: empty list\n");
        return -1;
    }
    return 0;
}

/* 0, 1 for --help, -1 on a usage error. */
static int ycsb_parse(ycsb_opts *o, int argc, char **argv)
{
    static const struct option lo[] = {
        {"workloads", required_argument, NULL, YO_WORKLOADS},
        {"records", required_argument, NULL, YO_RECORDS},
        {"value-size", required_argument, NULL, YO_VALUE_SIZE},
        {"distribution", required_argument, NULL, YO_DISTRIBUTION},
        {"keys", required_argument, NULL, YO_KEYS},
        {"threads", required_argument, NULL, YO_THREADS},
        {"seconds", required_argument, NULL, YO_SECONDS},
        {"interval", required_argument, NULL, YO_INTERVAL},
        {"engines", required_argument, NULL, YO_ENGINES},
        {"rounds", required_argument, NULL, YO_ROUNDS},
        {"memory", required_argument, NULL, YO_MEMORY},
        {"oom", no_argument, NULL, YO_OOM},
        {"cold", no_argument, NULL, YO_COLD},
        {"page-size", required_argument, NULL, YO_PAGE_SIZE},
        {"out", required_argument, NULL, YO_OUT},
        {"dir", required_argument, NULL, YO_DIR},
        {"seed", required_argument, NULL, YO_SEED},
        {"quiet", no_argument, NULL, YO_QUIET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cpu_set_t cpus;
    int ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0
                   ? CPU_COUNT(&cpus)
                   : 1;
    char engines[] = "bufpool:auto,bufpool:mmap,lmdb";
    memset(o, 0, sizeof *o);
    snprintf(o->letters, sizeof o->letters, "abcdef");
    o->records = 100000;
    o->value_size = 100;
    o->seed = 1;
    o->wl.threads = ncpu < WL_MAX_THREADS ? ncpu : WL_MAX_THREADS;
    o->wl.seconds = 0; /* until steady */
    o->wl.rounds = 1;
    o->wl.mem_budget = 256ull << 20;
    o->wl.page_size = 0; /* 8192, or 4096 with --oom: below */
    o->wl.outdir = "bpbench-out";
    o->wl.tmp_parent = "/var/tmp";
    if (wl_parse_engines(engines, &o->wl) != 0)
        return -1;
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case YO_WORKLOADS:
            if (ycsb_parse_letters(optarg, o->letters, sizeof o->letters))
                return -1;
            break;
        case YO_RECORDS:
            if (bu_parse_u64("records", optarg, 100, 1ull << 34, 1,
                             &o->records))
                return -1;
            o->records_set = 1;
            break;
        case YO_VALUE_SIZE:
            if (bu_parse_u64("value-size", optarg, YCSB_MIN_VALUE,
                             YCSB_MAX_VALUE, 1, &o->value_size))
                return -1;
            break;
        case YO_DISTRIBUTION:
            if (ycsb_dist_parse(optarg, &o->dist)) {
                fprintf(stderr, "bpbench: --distribution: '%s' is not "
                                "uniform, zipfian or latest\n", optarg);
                return -1;
            }
            break;
        case YO_KEYS:
            if (ycsb_keys_parse(optarg, &o->keys)) {
                fprintf(stderr, "bpbench: --keys: '%s' is not int8 or "
                                "string\n", optarg);
                return -1;
            }
            break;
        case YO_THREADS:
            if (bu_parse_u64("threads", optarg, 1, WL_MAX_THREADS, 0, &v))
                return -1;
            o->wl.threads = (int)v;
            break;
        case YO_SECONDS:
            if (ycsb_parse_seconds("seconds", optarg, &o->wl.seconds))
                return -1;
            break;
        case YO_INTERVAL:
            if (ycsb_parse_seconds("interval", optarg, &o->interval_set))
                return -1;
            break;
        case YO_ENGINES:
            if (wl_parse_engines(optarg, &o->wl))
                return -1;
            break;
        case YO_ROUNDS:
            if (bu_parse_u64("rounds", optarg, 1, WL_MAX_ROUNDS, 0, &v))
                return -1;
            o->wl.rounds = (int)v;
            break;
        case YO_MEMORY:
            if (bu_parse_u64("memory", optarg, 1ull << 20, 1ull << 44, 1,
                             &o->wl.mem_budget))
                return -1;
            o->memory_set = 1;
            break;
        case YO_OOM:
            o->wl.out_of_memory = 1;
            break;
        case YO_COLD:
            o->wl.cold = 1;
            break;
        case YO_PAGE_SIZE:
            if (bu_parse_u64("page-size", optarg, 4096, 65536, 1, &v))
                return -1;
            o->wl.page_size = (size_t)v;
            break;
        case YO_OUT:
            o->wl.outdir = optarg;
            break;
        case YO_DIR:
            o->wl.tmp_parent = optarg;
            break;
        case YO_SEED:
            if (bu_parse_u64("seed", optarg, 0, UINT64_MAX, 0, &o->seed))
                return -1;
            break;
        case YO_QUIET:
            bu_quiet = 1;
            break;
        case 'h':
            return 1;
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bpbench: ycsb: unexpected argument '%s'\n",
                argv[optind]);
        return -1;
    }
    if (!o->wl.page_size) /* out of memory, small pages miss less */
        o->wl.page_size = o->wl.out_of_memory ? 4096 : 8192;
    if (o->wl.out_of_memory) {
        if (!o->memory_set)
            o->wl.mem_budget = 32ull << 20;
        if (!o->records_set)
            o->records = 4 * o->wl.mem_budget /
                         (ycsb_data_bytes_keys(1000, o->value_size, o->keys) /
                          1000);
    }
    double iv = o->interval_set ? o->interval_set
                : o->wl.seconds > 0 ? o->wl.seconds / 20
                                    : 0.1;
    o->wl.interval = iv < 0.05 ? 0.05 : iv;
    if (o->wl.seconds / o->wl.interval > WL_MAX_SAMPLES)
        o->wl.interval = o->wl.seconds / WL_MAX_SAMPLES;
    return 0;
}

/* Summary over the workloads: ops/s and ratio per engine; CSV beside it. */
static void ycsb_summary(const ycsb_opts *o, const wl_summary *s, int n)
{
    bu_table t;
    const wl_opts *w = &o->wl;
    bu_table_init(&t, (size_t)w->nengines + 2);
    const char *hdr[10] = {"workload"};
    for (int e = 0; e < w->nengines; e++)
        hdr[e + 1] = s[0].label[e];
    hdr[w->nengines + 1] = "driver ns/op";
    bu_table_add(&t, hdr);
    char path[4096];
    snprintf(path, sizeof path, "%s/ycsb-summary.csv", w->outdir);
    FILE *f = fopen(path, "w");
    if (f) {
        static const char *const ch[] = {"workload", "engine", "ops_per_s",
                                         "ratio_to_lmdb", "ok",
                                         "memory_note", "keys",
                                         "distribution", "driver_ns_per_op"};
        bu_csv_row(f, ch, 9);
    }
    for (int i = 0; i < n; i++) {
        char cell[8][64], wname[16], drv[32];
        const char *row[10];
        snprintf(wname, sizeof wname, "ycsb-%c", o->letters[i]);
        row[0] = wname;
        for (int e = 0; e < w->nengines; e++) {
            if (!s[i].ok[e])
                snprintf(cell[e], 64, "FAILED");
            else if (s[i].ratio[e] > 0)
                snprintf(cell[e], 64, "%.0f (%.2fx)", s[i].ops_per_s[e],
                         s[i].ratio[e]);
            else
                snprintf(cell[e], 64, "%.0f", s[i].ops_per_s[e]);
            row[e + 1] = cell[e];
            if (f) {
                char ops[32], ratio[32], dns[32];
                snprintf(ops, sizeof ops, "%.1f", s[i].ops_per_s[e]);
                snprintf(ratio, sizeof ratio, "%.4f", s[i].ratio[e]);
                snprintf(dns, sizeof dns, "%.1f", s[i].driver_ns);
                const char *r[] = {wname, s[i].label[e], ops, ratio,
                                   s[i].ok[e] ? "1" : "0",
                                   s[i].memory_note, ycsb_keys_name(o->keys),
                                   o->dist ? ycsb_dist_name(o->dist)
                                   : o->letters[i] == 'd' ? "latest"
                                                          : "zipfian",
                                   dns};
                bu_csv_row(f, r, 9);
            }
        }
        snprintf(drv, sizeof drv, s[i].driver_ns > 0 ? "%.1f" : "n/a",
                 s[i].driver_ns);
        row[w->nengines + 1] = drv;
        bu_table_add(&t, row);
    }
    printf("\nYCSB summary: operations/s (ratio to LMDB), %d threads, "
           "%llu records of %llu B, %s keys, distribution %s\n",
           w->threads, (unsigned long long)o->records,
           (unsigned long long)o->value_size, ycsb_keys_name(o->keys),
           o->dist ? ycsb_dist_name(o->dist) : "each workload's own");
    bu_table_print(&t, stdout, "  ", 1);
    bu_table_free(&t);
    for (int i = 0; i < n; i++)
        if (s[i].memory_note[0])
            printf("  ycsb-%c: %s\n", o->letters[i], s[i].memory_note);
    if (f) {
        fclose(f);
        printf("  csv: %s\n", path);
    }
}

int bench_ycsb_main(int argc, char **argv)
{
    ycsb_opts o;
    int rc = ycsb_parse(&o, argc, argv);
    if (rc) {
        ycsb_usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    char b1[32], b2[32];
    printf("bpbench ycsb: workloads %s, %llu records x %llu B (~%s of data), "
           "memory budget %s%s\n",
           o.letters, (unsigned long long)o.records,
           (unsigned long long)o.value_size,
           bu_fmt_bytes(ycsb_data_bytes_keys(o.records, o.value_size, o.keys),
                        b1, sizeof b1),
           bu_fmt_bytes(o.wl.mem_budget, b2, sizeof b2),
           o.wl.out_of_memory ? ", out-of-memory mode" : "");
    printf("  keys %s (%s); request distribution %s\n",
           ycsb_keys_name(o.keys),
           o.keys == YCSB_KEYS_INT8
               ? "the record number, 8 bytes big-endian"
               : "\"user\" + decimal FNV-64 of the record number",
           o.dist ? ycsb_dist_name(o.dist)
                  : "each workload's own (D latest, else zipfian)");
    bu_print_machine(stdout, "# ");
    wl_summary sum[6];
    int n = (int)strlen(o.letters), fail = 0;
    for (int i = 0; i < n; i++) {
        ycsb *y;
        rc = ycsb_create(&y, o.letters[i], o.records, (size_t)o.value_size,
                         o.seed);
        if (!rc && !(rc = ycsb_set_keys(y, o.keys)))
            rc = ycsb_set_distribution(y, o.dist);
        if (rc) {
            ycsb_free(y);
            fprintf(stderr, "bpbench: ycsb: %s\n", strerror(-rc));
            return 1;
        }
        wl_workload w;
        ycsb_workload(y, &w);
        fail |= wl_run_all_summary(&w, &o.wl, &sum[i]);
        ycsb_free(y);
    }
    if (n > 1)
        ycsb_summary(&o, sum, n);
    return fail ? 1 : 0;
}
