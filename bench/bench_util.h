/*
 * bench_util.h - helpers shared by the bpbench subcommands.
 *
 * Owns: the clock, medians, the bench's pseudo-random numbers, the cleanup
 * registry (temporary directories, data files and /dev/shm names removed at
 * exit, on SIGINT/SIGTERM/SIGHUP and on a crash), the data file format used
 * by every subcommand, opening a configured pool, option parsing (the
 * --backend list and number lists for bo_parse too), table and CSV
 * printing, the lists of notes printed under a report, the machine
 * description printed at the top of each report, running gnuplot, and
 * running fio (its IOPS and completion latency percentiles; the
 * disk's own rate that `bpbench io` and the out-of-memory workload reports
 * compare against), and equal memory for the runs of forked children
 * (dropping the page cache, memory cgroups, fresh copies of files).
 *
 * Data file format (bu_data_file_create): in 4 KiB block k of page p, every
 * 64-byte line starts with the 8 bytes bu_stamp(p, k) (native byte order);
 * the rest is 0xA5.  A benchmark that reads one word per 4 KiB block
 * (bu_touch_check) therefore touches every block and checks at the same time
 * that the pool handed out the right page.  The word read sits in a line
 * that varies with p and k (bu_touch_line): reading offset 0 of every block
 * would pile all reads into the few cache sets that 4 KiB-aligned addresses
 * map to, and the cost would then depend on where the kernel happened to
 * place each pool's pages (seen: 53 to 129 ns for the same window hit).
 *
 * Nothing here is thread-safe except bu_now_ns() and the rng functions on
 * per-thread state; the cleanup registry is filled from the main thread
 * before any helper thread starts.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench_out.h"
#include "bufpool.h"

#define BU_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- Time ---------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bu_now_ns(void);

/* Median of n values (n > 0; the mean of the two middle ones for even n).
 * v is not modified.  Returns 0.0 for n == 0. */
double bu_median(const double *v, size_t n);

/* bu_median of the values of v[0..n) above 0; 0.0 when there are none. */
double bu_median_pos(const double *v, size_t n);

/* ---- Random numbers (splitmix64: fast, reproducible from a seed) --------- */

typedef struct bu_rng {
    uint64_t s;
} bu_rng;

/* Seed from a base seed and up to two stream ids, so every (level, rep)
 * gets its own reproducible stream. */
static inline void bu_rng_seed(bu_rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
    r->s = seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^
           0x2545F4914F6CDD1Dull;
}

static inline uint64_t bu_rng_next(bu_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; the bias is below
 * n / 2^64, irrelevant here). */
static inline uint64_t bu_rng_below(bu_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)bu_rng_next(r) * n) >> 64);
}

/* ---- Cleanup registry ------------------------------------------------------
 * Paths registered here are removed (files with unlink, directories with
 * rmdir, newest first) by bu_cleanup_now(), which runs from atexit() and from
 * the handlers of SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS and
 * SIGABRT (which then re-raise the signal with its default action).  The
 * handlers use only async-signal-safe calls. */

/* Install the atexit hook and the signal handlers.  Call once from main()
 * before anything is created.  Returns 0 or -errno. */
int bu_cleanup_init(void);

/* Register path for removal; is_dir selects rmdir.  Returns 0, or -ENOSPC
 * when the registry is full, -ENAMETOOLONG for a path too long. */
int bu_cleanup_add(const char *path, int is_dir);

/* Remove path from the registry without touching the file. */
void bu_cleanup_forget(const char *path);

/* The paths base + names[i] (plain concatenation; names NULL-terminated):
 * with add, registered; else removed (unlink) and unregistered. */
void bu_cleanup_files(const char *base, const char *const *names, int add);

/* In a forked child: the signals the registry catches back at their
 * default actions (an ignored one stays ignored), so that the child,
 * dying, never removes the parent's files. */
void bu_cleanup_child(void);

/* Into err (when it is still empty): how a benchmark's child ended badly
 * from its wait status st ("child killed by signal 9 (Killed): the memory
 * cgroup's OOM killer?" when in_cgroup, "child exited with status 3"); a
 * clean exit leaves err alone. */
void bu_child_err(char *err, size_t len, int st, int in_cgroup);

/* read_bytes of /proc/self/io (what this process read from block
 * devices), UINT64_MAX when it cannot be read. */
uint64_t bu_read_bytes(void);

/* close() each of fds[0..n) that is >= 0. */
void bu_close_fds(const int *fds, size_t n);

/* Remove every registered path now (idempotent). */
void bu_cleanup_now(void);

/* Create a fresh private directory <parent>/bpbench.XXXXXX (mode 0700),
 * registered for cleanup; its path goes to out.  Returns 0 or -errno. */
int bu_tempdir(const char *parent, char *out, size_t outsz);

/* A /dev/shm name unique to this process ("bpbench.<pid>.<n>", no '/'), for
 * bp_set_shm(); /dev/shm/<name> is registered for cleanup in case the
 * process dies before the pool removes it.  Returns 0 or -errno. */
int bu_shm_name(char *out, size_t outsz);

/* ---- Pools --------------------------------------------------------------- */

/* How bu_pool_open() sets up a pool.  A 0 field (NULL for shm_name) leaves
 * the library default, except backend, which is always set; cache_frames
 * wins over cache_bytes when both are set; prefault is set only with
 * set_prefault.  The setters run in this order: page size, cache, window
 * slots, backend, prefault, shm (always: shm_name NULL is an anonymous
 * memfd, else a bp_set_shm() name, kept = 0), then bp_open. */
struct bu_pool_cfg {
    const char *path;      /* data file for bp_open */
    unsigned open_flags;   /* bp_open flags (BP_BUFFERED_IO, ...) */
    size_t page_size;      /* bytes */
    uint64_t cache_frames; /* bp_set_cache_frames */
    uint64_t cache_bytes;  /* bp_set_cache_size, when no cache_frames */
    uint64_t window_slots;
    bp_backend backend;
    int set_prefault;      /* 1: bp_set_prefault(prefault) */
    bp_prefault prefault;
    const char *shm_name;  /* NULL: memfd */
    int shm_keep;          /* 1: a shared cache (BP_ATTACH) kept at close
                              in shm_name, revived by the next open */
    unsigned flusher_pct;  /* bp_set_flusher when not 0 */
};

/* Create a pool, configure it from c and open it into *out.  Returns 0, or
 * the failing call's code with "call: strerror (rc): errmsg" in why (just
 * "bp_create: strerror" when bp_create fails) and the pool closed. */
int bu_pool_open(const struct bu_pool_cfg *c, bp_pool **out, char *why,
                 size_t whysz);

/* bp_stats_get into a zeroed *st; on failure why says what and the code is
 * returned. */
int bu_stats(bp_pool *p, bp_stats *st, char *why, size_t whysz);

/* ---- Data file ----------------------------------------------------------- */

/* Word stored at the start of every line of 4 KiB block k of page pgno. */
static inline uint64_t bu_stamp(uint64_t pgno, uint64_t k)
{
    return 0xB9F0000000000000ull ^ (pgno << 5) ^ k;
}

/* Byte offset inside 4 KiB block k of page pgno of the word the touch
 * reads: the start of one of the block's 64 lines. */
static inline size_t bu_touch_line(uint64_t pgno, uint64_t k)
{
    return (size_t)((pgno * 29u + k * 17u) & 63u) * 64u;
}

/* Read one word of every 4 KiB block of a page of page_size bytes (the
 * "touch") and return how many blocks do not hold the stamp of pgno (0 when
 * the page is right). */
static inline uint64_t bu_touch_check(const void *data, uint64_t pgno,
                                      size_t page_size)
{
    const unsigned char *d = data;
    uint64_t bad = 0;
    for (size_t off = 0, k = 0; off < page_size; off += 4096, k++) {
        uint64_t v;
        memcpy(&v, d + off + bu_touch_line(pgno, k), sizeof v);
        bad += v != bu_stamp(pgno, k);
    }
    return bad;
}

/* Create path (O_EXCL, mode 0600) holding npages stamped pages of page_size
 * bytes, written with O_DIRECT when the file system allows it (else
 * buffered, then dropped from the page cache), and fdatasync'ed.  The file is
 * registered for cleanup first.  *secs gets the time taken.  Returns 0 or
 * -errno with a description in err. */
int bu_data_file_create(const char *path, size_t page_size, uint64_t npages,
                        double *secs, char *err, size_t errsz);

/* ---- Options ------------------------------------------------------------- */

/* Parse an unsigned decimal for option opt into *out, within [min, max].
 * With allow_suffix, a k/m/g suffix (any case) multiplies by 2^10/2^20/2^30.
 * On error prints "bpbench: --opt: ..." to stderr and returns -1. */
int bu_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
                 int allow_suffix, uint64_t *out);

/* Split s in place at commas into at most max items (empty items are
 * skipped).  Returns the number of items, or -1 when there are more than
 * max. */
int bu_split_list(char *s, char **items, int max);

/* Parse the --backend list s (split in place): 1 to max distinct names of
 * rfp,mmap,copy,linear,kmod,auto into bk[], their count into *nbk.  On error
 * prints "bpbench: --backend: ..." to stderr and returns -1. */
int bu_parse_backends(char *s, bp_backend *bk, int max, int *nbk);

/* --backend LIST for bo_parse (a BO_FN option whose dst is a bu_bklist):
 * the list parsed by bu_parse_backends into bk[0..max), its count in *n. */
typedef struct bu_bklist {
    bp_backend *bk;
    int *n;
    int max;
} bu_bklist;
int bu_opt_backends(void *dst, const char *cmd, const char *opt,
                    const char *val);

/* A comma separated list of 1 to max unsigned numbers in [min, max] for
 * bo_parse (BO_FN, dst a bu_u64list); suffix k, m, g allowed. */
typedef struct bu_u64list {
    uint64_t *v;
    int *n;
    int max;
    uint64_t lo, hi;
    int pow2; /* 1: every value must be a power of two */
} bu_u64list;
int bu_opt_u64list(void *dst, const char *cmd, const char *opt,
                   const char *val);

/* ---- Output -------------------------------------------------------------- */

/* Progress line on stderr, prefixed with the seconds since
 * bu_cleanup_init(); silenced by bu_quiet = 1, which --quiet sets
 * (bo_outopts_apply) and which also silences bo_progress_start(). */
extern int bu_quiet;
void bu_progress(const char *fmt, ...) BU_PRINTF(1, 2);

/* A table of strings: row 0 is the header.  Cells are copied. */
typedef struct bu_table {
    size_t ncols;
    size_t nrows;
    size_t cap;
    char **cells; /* nrows * ncols */
} bu_table;

void bu_table_init(bu_table *t, size_t ncols);
/* Append a row of ncols cells (NULL prints as "").  Returns 0 or -ENOMEM. */
int bu_table_add(bu_table *t, const char *const *cells);
/* Print with aligned columns: the first nleft columns (labels)
 * left-aligned, the others right-aligned, a rule under the header, each line
 * prefixed by indent. */
void bu_table_print(const bu_table *t, FILE *f, const char *indent,
                    size_t nleft);
void bu_table_free(bu_table *t);

/* Append a copy of line to the list *lines of *n notes (printed under a
 * report); when memory runs out, print "bpbench: <line>" to stderr at once
 * rather than lose it. */
void bu_note_add(char ***lines, size_t *n, const char *line);
/* Free a list built by bu_note_add. */
void bu_note_free(char **lines, size_t n);

/* One CSV line of bo_csv_field fields (NULL is empty). */
void bu_csv_row(FILE *f, const char *const *fields, size_t n);

/* "12.5 MiB" style size into buf; returns buf. */
const char *bu_fmt_bytes(uint64_t bytes, char *buf, size_t n);

/* Name of the file system holding path ("ext2/3/4", "tmpfs", "xfs", ... or
 * "0x<magic>"), into buf; returns buf. */
const char *bu_fs_name(const char *path, char *buf, size_t n);

/* Memory a new allocation can count on: MemAvailable, lowered to the
 * memory cgroup's headroom when there is a limit; 0 when unknown. */
uint64_t bu_mem_available(void);

/* The "model name" of /proc/cpuinfo into buf, or none when it has none. */
void bu_cpu_model(char *buf, size_t n, const char *none);

/* The KiB of key ("MemTotal", "MemAvailable") in /proc/meminfo, 0 when
 * unknown. */
uint64_t bu_meminfo_kib(const char *key);

/* CPUs this process may run on (what nproc prints), at least 1. */
int bu_ncpu(void);

/* First unsigned number in a /proc or /sys file, or dflt. */
uint64_t bu_read_u64_file(const char *path, uint64_t dflt);

/* Machine description lines (kernel, CPUs, page size, vm.max_map_count,
 * memory lock limit, memory), each prefixed by prefix. */
void bu_print_machine(FILE *f, const char *prefix);

/* The machine's CPU time so far, in clock ticks summed over all CPUs
 * (/proc/stat's "cpu" line): *total of every kind, *steal the time the
 * hypervisor ran something else on this VM's CPUs.  0 when unknown. */
int bu_cpu_ticks(uint64_t *total, uint64_t *steal);

/* ---- Plots --------------------------------------------------------------- */

/* gnuplot's PNG terminal: "pngcairo" when it knows it, else "png"; NULL
 * when gnuplot is not installed. */
const char *bu_gnuplot_term(void);

/* Run gnuplot on the script file script (its output to /dev/null).  Its
 * exit status, 127 when it cannot be run. */
int bu_gnuplot(const char *script);

/* Ready to plot into dir (NULL: no directory to make): gnuplot's PNG
 * terminal, after making dir; NULL with the line to print in why (n
 * bytes) when gnuplot is missing or dir cannot be made. */
const char *bu_plot_begin(const char *dir, char *why, size_t n);

/* Create directory dir (mode 0755) and its missing parents unless it
 * exists; 0 or -errno. */
int bu_mkdir(const char *dir);

/* ---- Memory of child processes ------------------------------------------
 * Equal memory for every engine's child: the kernel's page cache dropped
 * before a run, and a memory cgroup that limits a child (its page cache
 * included) to a budget.  Cgroup life cycle, all in the parent, which
 * outlives the child:
 *   bu_cgroup_create  mkdir <root>/bpbench.<pid>.<n>, set the limit
 *                     (v2 memory.max, v1 memory.limit_in_bytes), register
 *                     the directory for cleanup (rmdir at exit or signal)
 *   bu_cgroup_enter   write the child's pid into its cgroup.procs
 *   bu_cgroup_remove  write every pid still listed back into the cgroup we
 *                     came from, then rmdir (retried while the kernel still
 *                     holds the exited child's charges)
 * v2 is used when a cgroup2 hierarchy (/sys/fs/cgroup or
 * /sys/fs/cgroup/unified) lists "memory" in cgroup.controllers; otherwise
 * the v1 memory controller at /sys/fs/cgroup/memory. */

/* sync() and drop the kernel's page cache.  0, or -errno with the reason
 * in why. */
int bu_drop_caches(char *why, size_t whysz);

/* A memory cgroup made for one child. */
typedef struct bu_cgroup {
    char path[256]; /* the cgroup's directory, "" when none */
    char home[256]; /* cgroup.procs of the cgroup we came from */
    int v2;
} bu_cgroup;

/* Create a uniquely named memory cgroup limited to limit bytes,
 * registered for cleanup.  0, or -errno with the reason in why (nothing
 * left behind). */
int bu_cgroup_create(bu_cgroup *cg, uint64_t limit, char *why, size_t whysz);

/* Move process pid into the cgroup.  0 or -errno with why. */
int bu_cgroup_enter(const bu_cgroup *cg, int pid, char *why, size_t whysz);

/* The cgroup's peak usage (v2 memory.peak, v1
 * memory.max_usage_in_bytes); 0 when unknown. */
uint64_t bu_cgroup_peak(const bu_cgroup *cg);

/* Move every process still in the cgroup back home and remove it.
 * Idempotent (path "" is no cgroup); 0 or -errno (printed). */
int bu_cgroup_remove(bu_cgroup *cg);

/* Copy src to dst (created, mode 0600), by copy_file_range or else
 * read/write, fdatasync it and evict both from the page cache, so that
 * a run starts cold from the same bytes.  0 or -errno, why in err. */
int bu_copy_file(const char *src, const char *dst, char *err, size_t n);

/* ---- fio ----------------------------------------------------------------- */

/* 1 when a fio program is on PATH (`command -v fio` through sh). */
int bu_have_fio(void);

/* Run fio once on path (size bytes, laid out by fio when missing or
 * short): O_DIRECT io_uring random I/O of bs-byte blocks at queue depth
 * depth, one job.  Reads (write 0) run for seconds; writes (write 1) do
 * nios blocks and end with an fsync that fio's IOPS leave out.  From fio's
 * JSON output, res gets the read or write IOPS and the total latency
 * (lat_ns, from issue to completion: count, mean, p50, p90, p99, p99.9,
 * max; all 0 when it did no I/O).  Returns 0, or -1 with the reason in why
 * (for a failed run, fio's exit status and last output line, newline
 * included). */
typedef struct bu_fio_res {
    double iops;
    bo_pcts lat;
} bu_fio_res;
int bu_fio_run(const char *path, uint64_t size, uint64_t bs, uint64_t depth,
               int write, uint64_t seconds, uint64_t nios, bu_fio_res *res,
               char *why, size_t whysz);

#endif
