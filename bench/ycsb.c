/*
 * ycsb.c - `bpbench ycsb`: the YCSB core workloads A-F (ycsb.h) on every
 * engine (the bufpool B+tree on chosen window backends, and LMDB), each run
 * by the bench_wl.h harness in its own child process, then a summary across
 * the workloads.
 *
 * Defaults: a bare `bpbench ycsb` compares the three default engines on
 * all six workloads: 100000 records of 100 bytes (one YCSB field; YCSB's
 * default record is 10 x 100 B, use --value-size 1000 for that), until
 * steady (5 to 60 s) per engine and workload, all CPUs, a 256 MiB memory
 * budget (the data fits: in-memory mode).
 * --oom: out-of-memory mode, data ~4x the budget: the budget defaults to
 * 32 MiB and the records to what fills 4x it (about 4 * 32 MiB of tree),
 * the page cache is dropped before each run and LMDB runs in a memory
 * cgroup limited to the budget (see bench_util.h, kv_bufpool.c for the
 * equal-memory rule).
 * --distribution and --keys set the request distribution of every workload
 * and the key format (ycsb.h): `--distribution uniform --keys int8
 * --value-size 120 --workloads c` is vmcache's lookup shape.
 *
 * The options are ycsb's own (--workloads, --records, --value-size,
 * --distribution, --keys) and the harness's in the shared vocabulary
 * (bench_wl_cli.c).  --json, --csv and --output write every table row:
 * table "ycsb" (one row per workload and engine, bench_wl_report.c, with
 * the latency of every kind) and "ycsb_summary".
 */
#include "bench.h"
#include "bench_util.h"
#include "bench_wl.h"
#include "ycsb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char ycsb_intro[] =
"YCSB core workloads on the bufpool B+tree (examples/btree.h, one run per\n"
"window backend) and on LMDB, side by side: throughput (operations/s), ratio\n"
"to LMDB, the latency of every operation per kind (p50 ... max), the\n"
"operation mix, and a check that the mix matches the workload and every\n"
"record is there.  Each engine runs in its own process: load, close,\n"
"reopen (warm: the caches the load left; --cold), run, check.\n"
"\n"
"  A 50% read/50% update   B 95% read/5% update   C 100% read\n"
"  D 95% read/5% insert, latest distribution\n"
"  E 95% scan (1..100 records)/5% insert          F 50% read/50% rmw\n"
"  keys: \"user\" + FNV-64 of the record number; records chosen by a\n"
"  scrambled zipfian 0.99 (D: latest); --keys and --distribution change\n"
"  either\n";

static void ycsb_usage(FILE *f, const bo_optdef *defs, size_t n)
{
    char tail[1024];
    snprintf(tail, sizeof tail,
"Every engine gets the same keys and, per worker thread, the same sequence\n"
"of operations.  Before the engines run, the driver alone (the draws, keys\n"
"and checks of %u operations without kv calls, one thread) is timed: the\n"
"report gives it as \"driver: X ns/op\" and as a share of each engine's time\n"
"per operation (\"driver %%\").  vmcache's shape: --workloads c\n"
"--distribution uniform --keys int8 --value-size 120.\n"
"\n"
"Exit status: 0, 1 when an engine failed or a check did not hold, 2 on a\n"
"usage error.\n", YCSB_DRIVER_OPS);
    bo_usage(f, "ycsb", ycsb_intro, defs, n, tail);
}

typedef struct ycsb_opts {
    char letters[8];
    uint64_t records;    /* 0: the default */
    uint64_t value_size;
    ycsb_dist dist;
    ycsb_keys keys;
    wl_cli cli;
} ycsb_opts;

#define YCSB_NOWN 5 /* ycsb's own options */

static const wl_cli_defaults ycsb_defaults = {
    .cmd = "ycsb",
    .engines = "bufpool:auto,bufpool:mmap,lmdb",
    .duration = 0,
    .per = "engine and workload",
    .pool_size = "256m; --oom: 32m",
    .interval = "the duration / 20, at least 0.05; until steady: 0.1",
};

static int ycsb_opt_letters(void *dst, const char *cmd, const char *opt,
                            const char *s)
{
    char *out = dst;
    size_t j = 0;
    for (; *s; s++) {
        if (*s == ',' || *s == ' ')
            continue;
        char c = (char)(*s | 0x20);
        if (c < 'a' || c > 'f' || j + 1 >= 8 || memchr(out, c, j)) {
            fprintf(stderr, "bpbench %s: --%s: '%c' is not a new one of "
                            "a..f; give letters a to f, each once\n",
                    cmd, opt, *s);
            return -1;
        }
        out[j++] = c;
    }
    out[j] = '\0';
    if (!j) {
        fprintf(stderr, "bpbench %s: --%s: empty list; give letters a to "
                        "f\n", cmd, opt);
        return -1;
    }
    return 0;
}

int ycsb_opt_dist(void *dst, const char *cmd, const char *opt,
                  const char *val)
{
    if (ycsb_dist_parse(val, dst) == 0)
        return 0;
    fprintf(stderr, "bpbench %s: --%s: '%s' is not uniform, zipfian or "
                    "latest\n", cmd, opt, val);
    return -1;
}

int ycsb_opt_keys(void *dst, const char *cmd, const char *opt,
                  const char *val)
{
    if (ycsb_keys_parse(val, dst) == 0)
        return 0;
    fprintf(stderr, "bpbench %s: --%s: '%s' is not int8 or string\n", cmd,
            opt, val);
    return -1;
}

/* The option table: ycsb's own, then the harness's. */
static size_t ycsb_defs(ycsb_opts *o, bo_optdef *defs)
{
    const bo_optdef own[YCSB_NOWN] = {
        {"workloads", NULL, BO_FN, o->letters, 0, 0, "LIST",
         "letters from a to f, comma separated or not (default: abcdef)",
         ycsb_opt_letters, 0},
        {"records", NULL, BO_U64, &o->records, 100, 17179869184.0, "N",
         "records loaded, suffix k, m, g (default: 100000; --oom: what "
         "makes 4x the budget of data)", NULL, 0},
        {"value-size", NULL, BO_U64, &o->value_size, YCSB_MIN_VALUE,
         YCSB_MAX_VALUE, "BYTES",
         "bytes of each value, 8 to 1024 (default: 100, one YCSB field)",
         NULL, 0},
        {"distribution", NULL, BO_FN, &o->dist, 0, 0, "D",
         "records read, updated, scanned from and read-modify-written, "
         "for every workload: uniform (all records inserted so far "
         "alike), zipfian (YCSB's scrambled zipfian 0.99) or latest "
         "(newest minus a zipfian 0.99 offset) (default: each "
         "workload's own: D latest, else zipfian)", ycsb_opt_dist, 0},
        {"keys", NULL, BO_FN, &o->keys, 0, 0, "K",
         "string (\"user\" + decimal FNV-64 of the record number) or int8 "
         "(the record number, 8 bytes big-endian: keys sort in record "
         "order) (default: string)", ycsb_opt_keys, 0},
    };
    memcpy(defs, own, sizeof own);
    return YCSB_NOWN + wl_cli_defs(&o->cli, defs + YCSB_NOWN);
}

void ycsb_cli_defaults(wl_cli *c, uint64_t *records, size_t value_size,
                       ycsb_keys keys)
{
    wl_opts *w = &c->wl;
    w->mem_budget = c->pool_size ? c->pool_size
                    : w->out_of_memory ? 32ull << 20
                                       : 256ull << 20;
    if (!*records)
        *records = !w->out_of_memory
                       ? 100000
                       : 4 * w->mem_budget /
                             (ycsb_data_bytes_keys(1000, value_size, keys) /
                              1000);
    double iv = c->interval ? c->interval
                : w->seconds > 0 ? w->seconds / 20
                                 : 0.1;
    w->interval = iv < 0.05 ? 0.05 : iv;
    if (w->seconds / w->interval > WL_MAX_SAMPLES)
        w->interval = w->seconds / WL_MAX_SAMPLES;
}

/* Summary over the workloads: ops/s and ratio per engine, each figure
 * printed, written to ycsb-summary.csv beside it and recorded (table
 * "ycsb_summary"). */
static void ycsb_summary(const ycsb_opts *o, const wl_summary *s, int n)
{
    bu_table t;
    const wl_opts *w = &o->cli.wl;
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
            double ops = s[i].ops_per_s[e], ratio = s[i].ratio[e];
            if (!s[i].ok[e])
                snprintf(cell[e], 64, "FAILED");
            else if (ratio > 0)
                snprintf(cell[e], 64, "%.0f (%.2fx)", ops, ratio);
            else
                snprintf(cell[e], 64, "%.0f", ops);
            row[e + 1] = cell[e];
            if (f) {
                char c_ops[32], c_ratio[32], dns[32];
                snprintf(c_ops, sizeof c_ops, "%.1f", ops);
                snprintf(c_ratio, sizeof c_ratio, "%.4f", ratio);
                snprintf(dns, sizeof dns, "%.1f", s[i].driver_ns);
                const char *r[] = {wname, s[i].label[e], c_ops, c_ratio,
                                   s[i].ok[e] ? "1" : "0",
                                   s[i].memory_note, ycsb_keys_name(o->keys),
                                   o->dist ? ycsb_dist_name(o->dist)
                                   : o->letters[i] == 'd' ? "latest"
                                                          : "zipfian",
                                   dns};
                bu_csv_row(f, r, 9);
            }
            if (!w->run)
                continue;
            bo_row *jr = bo_row_new(w->run, "ycsb_summary");
            bo_label_str(jr, "workload", wname);
            wl_engine_labels(jr, &w->engines[e]);
            bo_label_num(jr, "threads", w->threads);
            bo_metric(jr, "ops_per_s", ops);
            if (ratio > 0)
                bo_metric(jr, "ratio_vs_lmdb", ratio);
            bo_metric(jr, "check_ok", s[i].ok[e]);
            if (s[i].driver_ns > 0)
                bo_metric(jr, "driver_ns_per_op", s[i].driver_ns);
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

/* Every workload of o through the harness; 0, or 1 when one failed. */
static int ycsb_run_all(ycsb_opts *o)
{
    wl_summary sum[6];
    int n = (int)strlen(o->letters), fail = 0;
    for (int i = 0; i < n; i++) {
        ycsb *y;
        int rc = ycsb_create(&y, o->letters[i], o->records,
                             (size_t)o->value_size, o->cli.seed);
        if (!rc && !(rc = ycsb_set_keys(y, o->keys)))
            rc = ycsb_set_distribution(y, o->dist);
        if (rc) {
            ycsb_free(y);
            fprintf(stderr, "bpbench ycsb: %s\n", strerror(-rc));
            return 1;
        }
        wl_workload w;
        ycsb_workload(y, &w);
        fail |= wl_run_all_summary(&w, &o->cli.wl, &sum[i]);
        ycsb_free(y);
    }
    if (n > 1)
        ycsb_summary(o, sum, n);
    return fail;
}

static void ycsb_heading(const ycsb_opts *o)
{
    char b1[32], b2[32];
    const wl_opts *w = &o->cli.wl;
    printf("bpbench ycsb: workloads %s, %llu records x %llu B (~%s of data), "
           "memory budget %s%s\n",
           o->letters, (unsigned long long)o->records,
           (unsigned long long)o->value_size,
           bu_fmt_bytes(ycsb_data_bytes_keys(o->records, o->value_size,
                                             o->keys),
                        b1, sizeof b1),
           bu_fmt_bytes(w->mem_budget, b2, sizeof b2),
           w->out_of_memory ? ", out-of-memory mode" : "");
    printf("  keys %s (%s); request distribution %s\n",
           ycsb_keys_name(o->keys),
           o->keys == YCSB_KEYS_INT8
               ? "the record number, 8 bytes big-endian"
               : "\"user\" + decimal FNV-64 of the record number",
           o->dist ? ycsb_dist_name(o->dist)
                   : "each workload's own (D latest, else zipfian)");
    bu_print_machine(stdout, "# ");
    fflush(stdout);
}

int bench_ycsb_main(int argc, char **argv)
{
    ycsb_opts o;
    bo_optdef defs[YCSB_NOWN + WL_CLI_NDEFS];
    memset(&o, 0, sizeof o);
    snprintf(o.letters, sizeof o.letters, "abcdef");
    o.value_size = 100;
    if (wl_cli_init(&o.cli, &ycsb_defaults) != 0)
        return 1;
    size_t n = ycsb_defs(&o, defs);
    int rc = bo_parse("ycsb", defs, n, argc, argv);
    if (rc > 0)
        ycsb_usage(stdout, defs, n);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (wl_cli_apply(&o.cli) != 0)
        return 2;
    ycsb_cli_defaults(&o.cli, &o.records, (size_t)o.value_size, o.keys);
    bo_run *run = wl_cli_begin(&o.cli, argc, argv);
    if (!run)
        return 1;
    bo_opt_str(run, "workloads", o.letters);
    bo_opt_num(run, "records", (double)o.records);
    bo_opt_num(run, "value_size_bytes", (double)o.value_size);
    bo_opt_str(run, "keys", ycsb_keys_name(o.keys));
    bo_opt_str(run, "distribution", o.dist ? ycsb_dist_name(o.dist)
                                           : "each workload's own");
    ycsb_heading(&o);
    int fail = ycsb_run_all(&o);
    return wl_cli_end(&o.cli, run) || fail ? 1 : 0;
}
