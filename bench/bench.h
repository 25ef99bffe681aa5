/*
 * bench.h - the bpbench subcommands.
 *
 * Each subcommand lives in its own file (bench_<name>.c) and exports one
 * entry point with main()'s signature: argv[0] is the subcommand's name and
 * the return value is the process exit status (0 ok, 1 failure, 2 usage
 * error).  bpbench.c lists them in its dispatch table.
 */
#ifndef BENCH_H
#define BENCH_H

typedef struct bench_cmd {
    const char *name;
    const char *summary; /* one line for `bpbench --help` */
    int (*main)(int argc, char **argv);
} bench_cmd;

/* bench_remap.c: the window backends side by side at three hit levels. */
int bench_remap_main(int argc, char **argv);

/* bench_hit.c: window-hit fix+unfix on 1 and N threads, every backend, next
 * to optimistic reads and a bare pointer dereference. */
int bench_hit_main(int argc, char **argv);

/* bench_io.c: cold random reads and write-back through the pool vs fio. */
int bench_io_main(int argc, char **argv);

/* ycsb.c: YCSB workloads A-F on the bufpool B+tree and LMDB. */
int bench_ycsb_main(int argc, char **argv);

/* bench_kv.c: random key-value gets and puts on every kv engine, with
 * throughput and latency percentiles. */
int bench_kv_main(int argc, char **argv);

/* tpcc.c: TPC-C-like transactions on every kv engine (bench_wl.h). */
int bench_tpcc_main(int argc, char **argv);

/* bench_compare.c: two runs' JSON results (bench_out.h) side by side. */
int bench_compare_main(int argc, char **argv);

/* bench_cachesim.c: the fewest page reads per YCSB operation any cache of
 * the budget could make (LRU, CLOCK, LFU bound, Belady's MIN). */
int bench_cachesim_main(int argc, char **argv);

/* bench_share.c: one shared cache used by N threads against N processes
 * (and LMDB by N processes). */
int bench_share_main(int argc, char **argv);

/* bench_restart.c: a kept shared cache revived at open against one built
 * anew, at the first lookups and in steady state. */
int bench_restart_main(int argc, char **argv);

/* bench_sqlite.c: SQLite's cache vs mmap vs the bufpool VFS, same memory. */
int bench_sqlite_main(int argc, char **argv);

#endif
