/*
 * bench_io.c - `bpbench io`: the pool's data-file I/O against fio on the
 * same file, side by side in one run.
 *
 * Reads: cold random page reads through the pool, one thread, at the
 * --depths for each --page-size.  Depth 1 is bp_fix misses one after
 * another (an engine without read-ahead); depth d keeps d reads in flight
 * as fio does, one bp_prefetch (one submit) per read as fio's
 * iodepth_batch_submit=1 (io_pool_reads_log; --consume poll and --refill
 * pass: io_pool_reads_poll, where one submit of about 10 reads raised the
 * disk's latency per read by a third on the VM this was written on, fio's
 * too).  Every page read is fixed and its stamp checked.  The figure is
 * data-file reads per second from bp_stats over the phase's wall time;
 * fio runs `--rw=randread --direct=1 --ioengine=io_uring --iodepth=d
 * --bs=<page>` on the same file for the same time.  Every read's latency
 * goes to a histogram per backend, page size and depth (all reps), from
 * its start to its completion seen, as fio's lat_ns; a clock read per
 * read costs well under 1% of a read from a disk.
 *
 * Write-back (io_pool_writes): random pages dirtied in a cache that holds
 * them, then bp_flush; pages per second, its fdatasync included, against
 * fio `--rw=randwrite --end_fsync=1` at the same depth on a file of its
 * own, whose IOPS leave the fsync out: the ratio errs against the pool.
 *
 * Each cell is the median of --reps runs.  Within a rep fio runs before
 * and after every pool run (fio, backend 1, fio, backend 2, fio), and a
 * pool run's ratio is to the mean of the two fio runs beside it, so a
 * drift of the disk's rate over those seconds cancels to first order;
 * pool/fio is the median of the reps' own ratios (this VM's disk drifts
 * two- to three-fold over a minute: a ratio of two medians would compare
 * different moments, and one fio run on one side of the pool's puts single
 * cells 0.1-0.2 off).  The fio column is the median of all of fio's runs.
 *
 * --vs-raw measures the pool's own cost with less of the disk's drift:
 * the reference is fio's loop on bare liburing in this process
 * (bench_io_raw.c), alternating with the pool in slices on one file
 * (io_vs_raw_cell; depth 1 read by read, io_vs_raw_one).
 *
 * The data file lives in a fresh directory under --dir (/var/tmp: a
 * real disk, not tmpfs) and is removed at exit.
 */
#include "bench.h"
#include "bench_io.h"

#include <errno.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char io_intro[] =
"Cold random page reads through the pool at queue depths 1, 8, 32 (bp_fix\n"
"misses at depth 1; above, d reads kept in flight with bp_prefetch, one\n"
"submit per read as fio: each read that finishes (bp_io_finished) is\n"
"replaced first, then its page is fixed)\n"
"against fio's io_uring O_DIRECT random read on the same file at the same\n"
"depths; every page read is fixed and its stamp checked;\n"
"then write-back: dirty pages flushed per second (batched writes + one\n"
"fdatasync) against fio random write at the same depth.  Pool/fio ratios.\n"
"Latency percentiles per read: the pool's from each read's start to its\n"
"completion seen (depth 1: each bp_fix), fio's total latency (lat, issue\n"
"to completion) from its JSON output; write-back: the pool's mean write\n"
"(bp_stats).\n";

/* An option with two values, for bo_parse: dst is an int set to 0 for the
 * first word of opt's pair, 1 for the second. */
static int io_two_way(void *dst, const char *cmd, const char *opt,
                      const char *arg)
{
    static const char *const pairs[][3] = {{"refill", "one", "pass"},
                                           {"consume", "log", "poll"},
                                           {"coop", "on", "off"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        if (strcmp(opt, pairs[i][0]) != 0)
            continue;
        if (strcmp(arg, pairs[i][1]) != 0 && strcmp(arg, pairs[i][2]) != 0) {
            fprintf(stderr, "bpbench %s: --%s: '%s'; give %s or %s\n", cmd,
                    opt, arg, pairs[i][1], pairs[i][2]);
            return -1;
        }
        *(int *)dst = strcmp(arg, pairs[i][2]) == 0;
        return 0;
    }
    return -1;
}

/* Fills what the options left at 0 and checks what depends on several;
 * 0 or -1 (said why). */
static int io_defaults(io_opts *o)
{
    static const uint64_t psz[] = {4096, 8192}, depths[] = {1, 8, 32};
#define IO_DEFAULT(v, q, f) (v) = (v) ? (v) : o->quick ? (q) : (f)
    IO_DEFAULT(o->data_mb, 256, 1024);
    IO_DEFAULT(o->reps, 1, 3);
    IO_DEFAULT(o->wpages, 2048, 8192);
#undef IO_DEFAULT
    if (o->duration != floor(o->duration)) {
        fprintf(stderr, "bpbench io: --duration: %g is not whole seconds in "
                        "[1, 3600]\n", o->duration);
        return -1;
    }
    o->seconds = o->duration > 0 ? (uint64_t)o->duration : o->quick ? 1 : 3;
    if (!o->nbk) {
        o->bk[o->nbk++] = BP_BACKEND_AUTO;
        if (sizeof(void *) == 8)
            o->bk[o->nbk++] = BP_BACKEND_LINEAR;
    }
    if (!o->np)
        o->np = 2, memcpy(o->psz, psz, sizeof psz);
    if (!o->nd)
        o->nd = 3, memcpy(o->depths, depths, sizeof depths);
    if (o->refill_pass && !o->consume_poll) {
        fprintf(stderr, "bpbench io: --refill pass needs --consume poll (the "
                "log is read one started page at a time)\n");
        return -1;
    }
    if (o->cache_bytes * 4 > (o->data_mb << 20)) {
        fprintf(stderr, "bpbench io: --pool-size must be at most a quarter of "
                "--data-mb (reads must miss)\n");
        return -1;
    }
    return 0;
}

/* 0, 1 for --help (printed), -1 on a usage error (printed). */
static int io_options(int argc, char **argv, io_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dir = "/var/tmp";
    o->cache_bytes = 64ull << 20;
    o->wdepth = 32;
    o->slice_ms = IO_SLICE_MS;
    o->out.own_plots = BO_PLOT_ALL; /* io_report_plots draws them */
    bu_bklist bkl = {o->bk, &o->nbk, IO_MAXBK};
    bu_u64list psl = {o->psz, &o->np, IO_MAXP, 4096, 65536, 1};
    bu_u64list dl = {o->depths, &o->nd, IO_MAXD, 1, IO_MAXDEPTH, 0};
    const bo_optdef defs[] = {
        BO_OPT("data-mb", NULL, BO_U64, &o->data_mb, 16, 1u << 20, "MIB",
               "data file size in MiB (default: 1024, --quick 256)"),
        BO_OPT("pool-size", NULL, BO_U64, &o->cache_bytes, 4u << 20,
               1ull << 40, "BYTES", "the pool's cache, at most a quarter "
               "of the data file (default: 64m)"),
        {"cache-mb", NULL, BO_U64, &o->cache_bytes, 4, 1u << 20, "MIB",
         "alias of --pool-size, in MiB", NULL, 1u << 20},
        {"page-size", "page-sizes", BO_FN, &psl, 0, 0, "LIST",
         "page sizes in bytes, powers of two in [4096, 65536], comma "
         "separated (default: 4096,8192)", bu_opt_u64list, 0},
        {"depths", NULL, BO_FN, &dl, 0, 0, "LIST",
         "queue depths of the reads, comma separated, in [1, 1024] (default: "
         "1,8,32)", bu_opt_u64list, 0},
        BO_OPT("duration", "seconds", BO_SECS, &o->duration, 1, 3600,
               "SECS", "seconds per read cell, whole (default: 3, --quick 1)"),
        BO_OPT("reps", NULL, BO_U64, &o->reps, 1, 16, "N",
               "repetitions, median reported (default: 3, --quick 1)"),
        BO_OPT("write-pages", NULL, BO_U64, &o->wpages, 16, 1u << 24, "N",
               "pages dirtied and flushed per write cell (default: 8192, "
               "--quick 2048)"),
        BO_OPT("write-depth", NULL, BO_U64, &o->wdepth, 1, 1024, "N",
               "queue depth of the write cell (default: 32)"),
        {"consume", NULL, BO_FN, &o->consume_poll, 0, 0, "MODE",
         "log: pages taken as bp_io_finished names them; poll: each pass "
         "fixes the d pages asked for with BP_NOWAIT and takes those that "
         "arrived (default: log)", io_two_way, 0},
        {"refill", NULL, BO_FN, &o->refill_pass, 0, 0, "MODE",
         "with --consume poll: one: each freed place asked for by its own "
         "bp_prefetch (one submit per read, as fio); pass: all of a pass's "
         "places in one bp_prefetch (default: one)", io_two_way, 0},
        {"coop", NULL, BO_FN, &o->coop_off, 0, 0, "MODE",
         "on: the pool's read-ahead ring (bp_set_io_coop) and the raw "
         "loop's ring complete cooperatively (IORING_SETUP_COOP_TASKRUN), "
         "as fio's io_uring engine sets up its ring; off: neither (default: "
         "on)", io_two_way, 0},
        {"backend", "backends", BO_FN, &bkl, 0, 0, "LIST",
         "window backends, one row each (default: auto,linear on 64-bit: "
         "linear reads straight into its frames, the others into the "
         "window slot the page is fixed in)", bu_opt_backends, 0},
        BO_OPT("vs-raw", NULL, BO_FLAG, &o->vs_raw, 0, 0, NULL,
               "instead of fio and write-back: the same reads through the "
               "pool and through fio's loop written on bare liburing in "
               "this process, alternating in 250 ms slices on the same "
               "file (each slice waits for its reads in flight); pool/raw "
               "is the median of the slice pairs' ratios: the pool's own "
               "cost, with little of the disk's drift between the two.  "
               "Depth 1 alternates read by read: pool/raw is the quotient "
               "of the two sides' reads per second of their own time (a "
               "read over 1 ms counts as 1 ms on either side)"),
        BO_OPT("slice-ms", NULL, BO_U64, &o->slice_ms, 5, 10000, "MS",
               "with --vs-raw: the slices' length above depth 1 in ms "
               "(default: 250)"),
        BO_OPT("dir", NULL, BO_STR, &o->dir, 0, 0, "DIR",
               "where the data file's temp directory goes (default: "
               "/var/tmp)"),
        BO_OPT("quick", NULL, BO_FLAG, &o->quick, 0, 0, NULL,
               "smaller and shorter"),
        BO_OPTS_OUTPUT_WITH(&o->out,
            "write plots there: io-iops.png (IOPS per depth) and "
            "io-latency.png (p50 and p99 per depth) with their .dat and "
            ".gp files, by gnuplot when installed (default: no plots)"),
    };
    const size_t ndefs = sizeof defs / sizeof defs[0];
    int rc = bo_parse("io", defs, ndefs, argc, argv);
    if (rc > 0)
        bo_usage(stdout, "io", io_intro, defs, ndefs,
                 "Exit status: 0, 1 on failure (a pool error, a page read "
                 "back wrong), 2 on a\nusage error.\n");
    return rc ? rc : io_defaults(o);
}

/* ---- the pool ------------------------------------------------------------ */

/* bp_stats.io_staged of the last pool opened per backend asked for, and
 * the backend auto chose, for the report's notes. */
static unsigned io_staged_seen[BP_BACKEND_LINEAR + 1];
static int io_auto_chose = -1;

static int io_open(bp_backend bk, const char *path, uint64_t psz,
                   uint64_t depth, uint64_t cache_bytes, int coop,
                   bp_pool **p, char *why, size_t whysz)
{
    bp_pool *q = NULL;
    bp_stats st;
    int rc;

    /* bu_pool_open has no io depth nor coop setting: configured here */
    rc = bp_create(&q, NULL);
    if (rc == 0) rc = bp_set_page_size(q, psz);
    if (rc == 0) rc = bp_set_cache_size(q, cache_bytes);
    if (rc == 0) rc = bp_set_backend(q, bk);
    if (rc == 0) rc = bp_set_io_depth(q, (unsigned)depth);
    if (rc == 0) rc = bp_set_io_coop(q, coop);
    if (rc == 0) rc = bp_open(q, path, 0);
    if (rc) {
        snprintf(why, whysz, "pool (page %llu, depth %llu): %s: %s",
                 (unsigned long long)psz, (unsigned long long)depth,
                 bp_strerror(rc), q ? bp_errmsg(q) : "");
        bp_close(q);
        return rc;
    }
    if (bp_stats_get(q, &st, sizeof st) == 0) {
        io_staged_seen[bk] = st.io_staged | 0x100u; /* 0x100: seen */
        if (bk == BP_BACKEND_AUTO)
            io_auto_chose = (int)st.backend;
    }
    *p = q;
    return 0;
}

/* ---- latency and progress ----------------------------------------------
 * The read latency of a phase goes to io_lat (NULL: not measured): at
 * depth 1 each bp_fix, above from a read's bp_prefetch to bp_io_finished
 * (or, --consume poll, the BP_NOWAIT fix) finding it done.  io_reads counts
 * the pages fixed, for the progress lines. */
static bo_hist *io_lat;
static atomic_ullong io_reads;

/* What runs, for the progress lines (backend UINT64_MAX: fio). */
static atomic_ullong io_pg_psz, io_pg_depth, io_pg_write, io_pg_bk;

static void io_pg_set(uint64_t psz, uint64_t d, int w, int b)
{
    atomic_store(&io_pg_psz, psz);
    atomic_store(&io_pg_depth, d);
    atomic_store(&io_pg_write, (uint64_t)w);
    atomic_store(&io_pg_bk, b < 0 ? UINT64_MAX : (uint64_t)b);
}

/* Reads in flight by page and when each was started: open addressing on
 * pgno + 1 (0 = free) with backward-shift deletion. */
#define IO_MAPN 4096u /* a power of two above 2 x IO_MAXDEPTH */
static uint64_t io_map_key[IO_MAPN], io_map_t[IO_MAPN];

static uint32_t io_map_home(uint64_t pg)
{
    return (uint32_t)(pg * 0x9E3779B97F4A7C15ull >> 52) & (IO_MAPN - 1);
}

static void io_map_clear(void)
{
    memset(io_map_key, 0, sizeof io_map_key);
}

static void io_map_put(uint64_t pg, uint64_t t)
{
    uint32_t i = io_map_home(pg);
    while (io_map_key[i] && io_map_key[i] != pg + 1)
        i = (i + 1) & (IO_MAPN - 1);
    io_map_key[i] = pg + 1;
    io_map_t[i] = t;
}

/* The start time of pg's read into *t, taken out of the map; 0 when it is
 * not there. */
static int io_map_take(uint64_t pg, uint64_t *t)
{
    uint32_t i = io_map_home(pg);
    while (io_map_key[i] != pg + 1) {
        if (!io_map_key[i])
            return 0;
        i = (i + 1) & (IO_MAPN - 1);
    }
    *t = io_map_t[i];
    for (uint32_t j = (i + 1) & (IO_MAPN - 1); io_map_key[j];
         j = (j + 1) & (IO_MAPN - 1)) {
        uint32_t h = io_map_home(io_map_key[j] - 1);
        /* move j to the hole at i unless its home lies in (i, j] */
        if (((j - h) & (IO_MAPN - 1)) >= ((j - i) & (IO_MAPN - 1))) {
            io_map_key[i] = io_map_key[j];
            io_map_t[i] = io_map_t[j];
            i = j;
        }
    }
    io_map_key[i] = 0;
    return 1;
}

/* Fix page pgno (whose read was asked for), check its stamp, unfix it.
 * 0, or rc with why filled. */
static int io_consume(bp_pool *p, uint64_t pgno, unsigned mode, uint64_t psz,
                      uint64_t *bad, char *why, size_t whysz)
{
    bp_page pg;
    int rc = bp_fix(p, pgno, mode, &pg);

    if (rc == 0) {
        *bad += bu_touch_check(pg.data, pgno, psz) != 0;
        bp_unfix(p, &pg, 0);
        atomic_fetch_add_explicit(&io_reads, 1, memory_order_relaxed);
    } else if (rc != BP_EAGAIN && rc != BP_ENOTCACHED) {
        snprintf(why, whysz, "bp_fix(%llu): %s: %s", (unsigned long long)pgno,
                 bp_strerror(rc), bp_errmsg(p));
    }
    return rc;
}

/* Ask for pages[0..n): one bp_prefetch (one submit) each, or all in one. */
static void io_ask(bp_pool *p, const uint64_t *pages, uint64_t n, int pass)
{
    if (pass) {
        (void)bp_prefetch(p, pages, n);
        return;
    }
    for (uint64_t i = 0; i < n; i++)
        (void)bp_prefetch(p, &pages[i], 1);
}

/* Depth d > 1, as fio keeps it: d pages asked for at all times.  Each pass
 * fixes (BP_NOWAIT) whichever of them have arrived, in any order, and asks
 * for a new random page in each freed place (io_ask); a pass that found
 * nothing sleeps in bp_io_wait until a read finishes.  A page the pool did
 * not start (BP_ENOTCACHED) is asked for again; with nothing at all in
 * flight (BP_EIDLE) one page is fixed plainly, so the loop always moves
 * on. */
static int io_pool_reads_poll(bp_pool *p, uint64_t d, uint64_t npages,
                              uint64_t psz, uint64_t tend, int pass,
                              int drain, bu_rng *rng, uint64_t *bad,
                              char *why, size_t whysz)
{
    uint64_t want[IO_MAXDEPTH], ask[IO_MAXDEPTH], asked[IO_MAXDEPTH];
    int rc;

    for (uint64_t j = 0; j < d; j++) {
        want[j] = bu_rng_below(rng, npages);
        asked[j] = bu_now_ns();
    }
    io_ask(p, want, d, pass);
    while (bu_now_ns() < tend) {
        uint64_t seq = bp_io_seq(p), nask = 0, got = 0;

        for (uint64_t j = 0; j < d; j++) {
            rc = io_consume(p, want[j], BP_SHARED | BP_NOWAIT, psz, bad, why,
                            whysz);
            if (rc == 0) {
                got++;
                if (io_lat)
                    bo_hist_add(io_lat, bu_now_ns() - asked[j]);
                want[j] = bu_rng_below(rng, npages);
            } else if (rc != BP_EAGAIN && rc != BP_ENOTCACHED) {
                return rc;
            }
            if (rc != BP_EAGAIN) {
                if (io_lat)
                    asked[j] = bu_now_ns();
                ask[nask++] = want[j];
            }
        }
        io_ask(p, ask, nask, pass);
        if (got)
            continue;
        rc = bp_io_wait(p, seq, -1);
        if (rc == BP_EIDLE) { /* nothing in flight: one plain fix */
            if ((rc = io_consume(p, want[0], BP_SHARED, psz, bad, why,
                                 whysz)) != 0)
                return rc;
            want[0] = bu_rng_below(rng, npages);
        } else if (rc != 0) {
            snprintf(why, whysz, "bp_io_wait: %s", bp_strerror(rc));
            return rc;
        }
    }
    /* drain: wait for (or read) every page still asked for */
    for (uint64_t j = 0; drain && j < d; j++)
        if ((rc = io_consume(p, want[j], BP_SHARED, psz, bad, why,
                             whysz)) != 0)
            return rc;
    return 0;
}

/* Start k reads of random pages, one bp_prefetch (one submit) each, *out
 * counting those started.  A page the pool skips (cached, or in flight
 * already) is fixed at once instead and another one drawn, at most 8
 * times a place.  0, or rc with why filled. */
static int io_start(bp_pool *p, uint64_t k, uint64_t npages, uint64_t psz,
                    bu_rng *rng, uint64_t *out, uint64_t *bad, char *why,
                    size_t whysz)
{
    for (uint64_t i = 0; i < k; i++) {
        for (int tries = 0; tries < 8; tries++) {
            uint64_t pg = bu_rng_below(rng, npages);
            uint64_t t0 = io_lat ? bu_now_ns() : 0;
            int rc = bp_prefetch(p, &pg, 1);

            if (rc == 1) {
                if (io_lat)
                    io_map_put(pg, t0);
                (*out)++;
                break;
            }
            if (rc < 0) {
                snprintf(why, whysz, "bp_prefetch(%llu): %s: %s",
                         (unsigned long long)pg, bp_strerror(rc),
                         bp_errmsg(p));
                return rc;
            }
            if ((rc = io_consume(p, pg, BP_SHARED, psz, bad, why, whysz)))
                return rc;
        }
    }
    return 0;
}

/* Depth d > 1 as fio keeps it, from the pool's finished-read log: d reads
 * started; each time some finish (bp_io_finished, or bp_io_wait until
 * they do), as many new ones are started first, one submit each, then the
 * finished pages are fixed (plain: a dropped read is read again and its
 * error reported), checked and unfixed.  drain: at tend, the reads still
 * in flight are consumed too. */
static int io_pool_reads_log(bp_pool *p, uint64_t d, uint64_t npages,
                             uint64_t psz, uint64_t tend, int drain,
                             bu_rng *rng, uint64_t *bad, char *why,
                             size_t whysz)
{
    uint64_t seq = bp_io_seq(p), fin[IO_MAXDEPTH], out = 0;
    int rc = io_start(p, d, npages, psz, rng, &out, bad, why, whysz), n;

    while (rc == 0 && out > 0) {
        int more = bu_now_ns() < tend;

        if (!more && !drain)
            break;
        if ((n = bp_io_finished(p, &seq, fin, IO_MAXDEPTH)) < 0) {
            snprintf(why, whysz, "bp_io_finished: %s", bp_strerror(n));
            return n;
        }
        if (n == 0) {
            if ((rc = bp_io_wait(p, seq, -1)) != 0) {
                snprintf(why, whysz, "bp_io_wait with %llu reads started: "
                         "%s", (unsigned long long)out, bp_strerror(rc));
                return rc;
            }
            continue;
        }
        out -= (uint64_t)n < out ? (uint64_t)n : out;
        if (io_lat) {
            uint64_t now = bu_now_ns(), t0;
            for (int i = 0; i < n; i++)
                if (io_map_take(fin[i], &t0))
                    bo_hist_add(io_lat, now - t0);
        }
        if (more)
            rc = io_start(p, (uint64_t)n, npages, psz, rng, &out, bad, why,
                          whysz);
        for (int i = 0; i < n && rc == 0; i++)
            rc = io_consume(p, fin[i], BP_SHARED, psz, bad, why, whysz);
    }
    return rc;
}

/* Depth 1: plain fix misses, one after another, until tend. */
static int io_pool_reads_one(bp_pool *p, uint64_t npages, uint64_t psz,
                             uint64_t tend, bu_rng *rng, uint64_t *bad,
                             char *why, size_t whysz)
{
    int rc = 0;

    for (uint64_t i = 0; rc == 0; i++) {
        if ((i & 15) == 0 && bu_now_ns() >= tend)
            break;
        uint64_t t0 = io_lat ? bu_now_ns() : 0;
        rc = io_consume(p, bu_rng_below(rng, npages), BP_SHARED, psz, bad,
                        why, whysz);
        if (io_lat && rc == 0)
            bo_hist_add(io_lat, bu_now_ns() - t0);
    }
    return rc;
}

/* The reads of a phase at depth d until tend; drain: the reads still in
 * flight then are consumed too. */
static int io_pool_reads_at(const io_opts *o, bp_pool *p, uint64_t d,
                            uint64_t npages, uint64_t psz, uint64_t tend,
                            int drain, bu_rng *rng, uint64_t *bad, char *why,
                            size_t whysz)
{
    if (d == 1)
        return io_pool_reads_one(p, npages, psz, tend, rng, bad, why, whysz);
    if (o->consume_poll)
        return io_pool_reads_poll(p, d, npages, psz, tend, o->refill_pass,
                                  drain, rng, bad, why, whysz);
    return io_pool_reads_log(p, d, npages, psz, tend, drain, rng, bad, why,
                             whysz);
}

/* Cold random reads for `seconds` at depth d: data-file reads per second.
 * Depth 1: plain fix misses, one after another. */
static int io_pool_reads(const io_opts *o, bp_backend bk, const char *path,
                         uint64_t psz, uint64_t npages, uint64_t d,
                         uint64_t rep, double *iops, bo_hist *lat, char *why,
                         size_t whysz)
{
    uint64_t r0, t0, tend, bad = 0;
    bp_stats st;
    bu_rng rng;
    bp_pool *p;
    int rc = 0;

    if ((rc = io_open(bk, path, psz, d, o->cache_bytes, !o->coop_off, &p,
                      why, whysz)))
        return rc;
    bu_rng_seed(&rng, 77, psz, d * 1000 + rep);
    if ((rc = bu_stats(p, &st, why, whysz)) != 0)
        goto out;
    r0 = st.reads;
    io_map_clear();
    io_lat = lat;
    t0 = bu_now_ns();
    tend = t0 + o->seconds * 1000000000ull;
    rc = io_pool_reads_at(o, p, d, npages, psz, tend, 0, &rng, &bad, why,
                          whysz);
    io_lat = NULL;
    if (rc != 0 || (rc = bu_stats(p, &st, why, whysz)) != 0)
        goto out;
    *iops = (double)(st.reads - r0) * 1e9 / (double)(bu_now_ns() - t0);
    if (bad) {
        snprintf(why, whysz, "%llu pages read back wrong",
                 (unsigned long long)bad);
        rc = -EIO;
    }
out:
    bp_close(p);
    return rc;
}

/* Where the reads landed, from the pools' bp_stats.io_staged. */
static void io_notes_where(void)
{
    unsigned a = io_staged_seen[BP_BACKEND_AUTO],
             l = io_staged_seen[BP_BACKEND_LINEAR];

    if (a & 0x100u)
        printf("\nauto calibrates at open and chose %s; its reads are for "
               "the window slot the page is then fixed in%s%s%s\n",
               io_auto_chose >= 0 ? bp_backend_name((bp_backend)io_auto_chose)
                                  : "?",
               (a & 8u) ? " (copy: a private window advised into huge pages, "
                          "bp_stats.io_staged bit 3)"
                        : "",
               (a & 1u) ? "; read-ahead lands in its request's buffer, sent "
                          "before the slot's old page is copied home, and "
                          "is copied into the slot (io_staged bit 0; "
                          "BUFPOOL_IO_STAGE=off to compare)"
                        : "",
               (a & 4u) ? "; fix misses read early, into a landing page "
                          "copied into the slot, and a page reaches its "
                          "frame when its slot lets it go "
                          "(bp_stats.copies_home; BUFPOOL_IO_EARLY=0 to "
                          "compare)"
                        : "");
    if (l & 0x100u)
        printf("linear maps the whole cache (64-bit); %s%s (io_staged 0x%x; "
               "BUFPOOL_IO_STAGE=on|off and BUFPOOL_IO_HUGEPAGE=0 to "
               "compare)\n",
               (l & 3u) == 3u ? "its reads are staged: they land in "
                                "buffers in huge pages and are copied "
                                "into the frames (bp_set_io_stage, AUTO "
                                "on a hypervisor)"
               : (l & 1u) ? "its read-ahead is staged, its fix misses "
                            "land in the frames"
                          : "its reads land straight in the frames",
               (l & 7u) == 7u ? ", and fix misses read early, before they "
                                "take a frame (BUFPOOL_IO_EARLY=0 to "
                                "compare)"
                              : "",
               l & 0xffu);
}

/* How the deep loop runs, for the report's first line. */
static const char *io_mode(const io_opts *o)
{
    if (!o->consume_poll)
        return "each finished read replaced first (one submit each), then "
               "its page fixed";
    return o->refill_pass ? "pages polled with BP_NOWAIT, refilled in one "
                            "submit per pass"
                          : "pages polled with BP_NOWAIT, refilled one "
                            "submit per read";
}

/* How the rings are set up, for the report's first line. */
static const char *io_rings(const io_opts *o)
{
    return o->coop_off ? "without COOP_TASKRUN (--coop off)"
                       : "with COOP_TASKRUN (bp_set_io_coop), as fio's";
}

/* --vs-raw at depth 1: one pool miss and one raw read at a time, who goes
 * first alternating, for --seconds of each.  At depth 1 this disk's rate
 * swings 2-5x between 250 ms windows (fio's own IOPS log), so slices do
 * not cancel it; single reads side by side do.  *piops and *riops are
 * reads per second of each side's own time (the pool's fixes that hit its
 * cache count in its time, not in its reads), *ratio their quotient.  A
 * single read or fix over IO_ONE_CAP_NS counts as that long on either
 * side: the disk stalls now and then for milliseconds, a few dozen times
 * a run, and those few made the quotient swing by several percent from
 * run to run; capped, it stays within about 2% (the notes say how many).
 * v[] as io_vs_raw_cell's, v[3] the reads of each side. */
#define IO_ONE_CAP_NS 1000000ull
static uint64_t io_one_reads[2], io_one_capped[2]; /* [pool, raw], notes */
static int io_vs_raw_one(bp_pool *p, io_raw *raw, uint64_t npages,
                         uint64_t psz, uint64_t seconds, bu_rng *rng,
                         uint64_t *bad, double v[4], char *why,
                         size_t whysz)
{
    uint64_t tp = 0, tr = 0, nr = 0, k = 0, r0, lim = seconds * 1000000000ull;
    bp_stats st;
    int rc;

    if ((rc = bu_stats(p, &st, why, whysz)) != 0)
        return rc;
    r0 = st.reads;
    for (; rc == 0 && (tp < lim || tr < lim); k++) {
        for (int side = 0; side < 2 && rc == 0; side++) {
            int pool_side = (side == 0) == (k % 2 == 0);
            uint64_t t0 = bu_now_ns(), n = 0;

            if (pool_side)
                rc = io_consume(p, bu_rng_below(rng, npages), BP_SHARED, psz,
                                bad, why, whysz);
            else
                rc = io_raw_slice(raw, npages, 0, rng, &n, why, whysz);
            t0 = bu_now_ns() - t0;
            if (pool_side && io_lat && rc == 0)
                bo_hist_add(io_lat, t0);
            if (t0 > IO_ONE_CAP_NS) { /* a stall of the disk's */
                t0 = IO_ONE_CAP_NS;
                io_one_capped[!pool_side]++;
            }
            *(pool_side ? &tp : &tr) += t0;
            io_one_reads[!pool_side]++;
            nr += n;
        }
    }
    if (rc == 0 && (rc = bu_stats(p, &st, why, whysz)) == 0) {
        v[0] = (double)(st.reads - r0) * 1e9 / (double)(tp ? tp : 1);
        v[1] = (double)nr * 1e9 / (double)(tr ? tr : 1);
        v[2] = v[1] > 0 ? v[0] / v[1] : 0;
        v[3] = (double)k;
    }
    return rc;
}

/* --vs-raw: one pool and one raw loop on the same file, alternating in
 * slices of --slice-ms (who goes first alternates too), --seconds of each
 * in all.  Each slice ends with its reads done, so the two never share the
 * disk.  v[0] and v[1] are the medians of the slices' reads per second
 * (pool, raw), v[2] the median of the pairs' own pool/raw, v[3] the
 * pairs.  Depth 1 goes read by read instead (io_vs_raw_one). */
static int io_vs_raw_cell(const io_opts *o, bp_backend bk, const char *path,
                          uint64_t psz, uint64_t npages, uint64_t d,
                          double v[4], bo_hist *lat, char *why, size_t whysz)
{
    uint64_t slice = o->slice_ms * 1000000ull, bad = 0,
             pairs = o->seconds * 1000000000ull / slice;
    double *m = calloc(3 * pairs, sizeof *m), *rp = m, *rr = m + pairs,
           *rat = m + 2 * pairs;
    io_raw *raw = NULL;
    bp_pool *p = NULL;
    bp_stats st;
    bu_rng rng;
    int rc;

    if (!m) {
        snprintf(why, whysz, "out of memory");
        return -ENOMEM;
    }
    if ((rc = io_open(bk, path, psz, d, o->cache_bytes, !o->coop_off, &p,
                      why, whysz)) ||
        (rc = io_raw_open(&raw, path, psz, d, !o->coop_off, why, whysz)))
        goto out;
    bu_rng_seed(&rng, 78, psz, d);
    io_map_clear();
    io_lat = lat;
    if (d == 1) /* read by read: no slices */
        pairs = 0, rc = io_vs_raw_one(p, raw, npages, psz, o->seconds, &rng,
                                      &bad, v, why, whysz);
    for (uint64_t k = 0; k < pairs && rc == 0; k++) {
        for (int side = 0; side < 2 && rc == 0; side++) {
            int pool_side = (side == 0) == (k % 2 == 0);
            uint64_t t0 = bu_now_ns(), until = t0 + slice, n = 0, r0;

            if (pool_side) {
                if ((rc = bu_stats(p, &st, why, whysz)) != 0)
                    break;
                r0 = st.reads;
                rc = io_pool_reads_at(o, p, d, npages, psz, until, 1, &rng,
                                      &bad, why, whysz);
                if (rc == 0 && (rc = bu_stats(p, &st, why, whysz)) == 0)
                    n = st.reads - r0;
            } else {
                rc = io_raw_slice(raw, npages, until, &rng, &n, why, whysz);
            }
            (pool_side ? rp : rr)[k] =
                (double)n * 1e9 / (double)(bu_now_ns() - t0);
        }
        rat[k] = rr[k] > 0 ? rp[k] / rr[k] : 0;
    }
    if (rc == 0 && bad) {
        snprintf(why, whysz, "%llu pages read back wrong",
                 (unsigned long long)bad);
        rc = -EIO;
    }
    if (rc == 0 && pairs) {
        v[0] = bu_median(rp, pairs);
        v[1] = bu_median(rr, pairs);
        v[2] = bu_median(rat, pairs);
        v[3] = (double)pairs;
    }
out:
    io_lat = NULL;
    io_raw_close(raw);
    bp_close(p);
    free(m);
    return rc;
}

/* Dirty n random distinct-ish pages in a cache that holds them, then time
 * bp_flush: pages written per second, sync included. */
static int io_pool_writes(const io_opts *o, bp_backend bk, const char *path,
                          uint64_t psz, uint64_t npages, uint64_t rep,
                          double *pps, double *wmean, char *why, size_t whysz)
{
    uint64_t n = o->wpages, t0, written, wns;
    bp_stats st;
    bu_rng rng;
    bp_pool *p;
    int rc;

    if ((rc = io_open(bk, path, psz, o->wdepth, (n * 2 + 64) * psz,
                      !o->coop_off, &p, why, whysz)))
        return rc;
    bu_rng_seed(&rng, 91, psz, rep);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t pg_no = bu_rng_below(&rng, npages);
        bp_page pg;

        if ((rc = bp_fix(p, pg_no, BP_EXCLUSIVE, &pg)) != 0) {
            snprintf(why, whysz, "bp_fix(%llu, excl): %s: %s",
                     (unsigned long long)pg_no, bp_strerror(rc), bp_errmsg(p));
            goto out;
        }
        /* rewrite the stamp in place: the file stays valid for reads */
        bp_unfix(p, &pg, BP_DIRTY);
    }
    if ((rc = bu_stats(p, &st, why, whysz)) != 0)
        goto out;
    written = st.writes;
    wns = st.write_ns;
    t0 = bu_now_ns();
    if ((rc = bp_flush(p)) != 0) {
        snprintf(why, whysz, "bp_flush: %s: %s", bp_strerror(rc), bp_errmsg(p));
        goto out;
    }
    *pps = 0;
    if ((rc = bu_stats(p, &st, why, whysz)) != 0)
        goto out;
    *pps = (double)(st.writes - written) * 1e9 / (double)(bu_now_ns() - t0);
    *wmean = st.writes > written ? (double)(st.write_ns - wns) /
                                       (double)(st.writes - written)
                                 : 0;
out:
    bp_close(p);
    return rc;
}

/* ---- main ---------------------------------------------------------------- */


/* fio's run of one cell into *out (zeroed when fio is absent).  fio's
 * writes go to a file of their own: its data would overwrite the stamps
 * the pool's reads check.  A failing fio leaves the fio column n/a
 * (*have_fio = 0) and the run goes on. */
static void io_fio_cell(const io_opts *o, int *have_fio, int w,
                        const char *path, const char *wpath, uint64_t npages,
                        uint64_t psz, uint64_t d, bu_fio_res *out)
{
    char why[512];

    memset(out, 0, sizeof *out);
    io_pg_set(psz, d, w, -1);
    if (*have_fio && bu_fio_run(w ? wpath : path, npages * psz, psz, d, w,
                                o->seconds, o->wpages, out, why,
                                sizeof why)) {
        fprintf(stderr, "bpbench io: %s\n", why);
        *have_fio = 0;
    }
}

/* --vs-raw: every depth and backend of one page size, a table row each.
 * 0, or 1 after printing why. */
static int io_vs_raw_rows(const io_opts *o, bu_table *t, const char *path,
                          uint64_t psz, uint64_t npages, bo_run *run)
{
    char why[512];

    for (int di = 0; di < o->nd; di++)
        for (int b = 0; b < o->nbk; b++) {
            double v[4] = {0, 0, 0, 0};
            bo_hist *lat = bo_hist_new();
            int rc = lat ? 0 : -ENOMEM;

            bu_progress("page %llu, read depth %llu, %s vs raw liburing",
                        (unsigned long long)psz,
                        (unsigned long long)o->depths[di],
                        bp_backend_name(o->bk[b]));
            io_pg_set(psz, o->depths[di], 0, b);
            if (rc == 0)
                rc = io_vs_raw_cell(o, o->bk[b], path, psz, npages,
                                    o->depths[di], v, lat, why, sizeof why);
            if (rc) {
                fprintf(stderr, "bpbench io: %s vs raw: %s\n",
                        bp_backend_name(o->bk[b]),
                        lat ? why : "out of memory");
                bo_hist_free(lat);
                return 1;
            }
            io_report_raw_row(o, psz, o->depths[di], b, v, lat, t, run);
            bo_hist_free(lat);
        }
    return 0;
}

/* Every rep of every cell of page size index pi: fio before and after
 * each backend's run.  0, or 1 after printing why. */
static int io_cells(const io_opts *o, io_res *r, int pi, const char *path,
                    const char *wpath, uint64_t npages)
{
    uint64_t psz = o->psz[pi];
    char why[512];

    for (uint64_t rep = 0; rep < o->reps; rep++)
        for (int di = 0; di <= o->nd; di++) {
            int w = di == o->nd; /* the last column: write-back */
            uint64_t d = w ? o->wdepth : o->depths[di];
            bu_fio_res *fr = &r->fio[pi][di][rep * (uint64_t)(o->nbk + 1)];

            io_fio_cell(o, &r->have_fio, w, path, wpath, npages, psz, d,
                        &fr[0]);
            for (int b = 0; b < o->nbk; b++) {
                double *out = &r->pool[b][pi][di][rep];
                int rc;

                bu_progress("page %llu, %s depth %llu, %s, rep %llu",
                            (unsigned long long)psz, w ? "write" : "read",
                            (unsigned long long)d, bp_backend_name(o->bk[b]),
                            (unsigned long long)rep + 1);
                io_pg_set(psz, d, w, b);
                rc = w ? io_pool_writes(o, o->bk[b], path, psz, npages, rep,
                                        out, &r->wmean[b][pi][rep], why,
                                        sizeof why)
                       : io_pool_reads(o, o->bk[b], path, psz, npages, d,
                                       rep, out, r->lat[b][pi][di], why,
                                       sizeof why);
                if (rc) {
                    fprintf(stderr, "bpbench io: %s: %s\n",
                            bp_backend_name(o->bk[b]), why);
                    return 1;
                }
                io_fio_cell(o, &r->have_fio, w, path, wpath, npages, psz, d,
                            &fr[b + 1]);
            }
        }
    return 0;
}

/* One page size: its data file, its cells, its rows.  0 or 1 (failed). */
static int io_page_size(const io_opts *o, io_res *r, int pi, const char *dir,
                        bu_table *t, bu_table *tl, bo_run *run)
{
    uint64_t psz = o->psz[pi], npages = (o->data_mb << 20) / psz;
    char path[600], wpath[600], why[512], fsbuf[32], b1[32];
    const char *const files[] = {path, wpath, NULL};
    double secs;
    int failed;

    snprintf(path, sizeof path, "%s/io-%llu.db", dir,
             (unsigned long long)psz);
    snprintf(wpath, sizeof wpath, "%s/fio-write-%llu.db", dir,
             (unsigned long long)psz);
    bu_cleanup_add(wpath, 0);
    bu_progress("writing %llu MiB data file of %llu-byte pages",
                (unsigned long long)o->data_mb, (unsigned long long)psz);
    if (bu_data_file_create(path, psz, npages, &secs, why, sizeof why)) {
        fprintf(stderr, "bpbench io: %s\n", why);
        return 1;
    }
    if (pi == 0)
        printf("data: %s on %s, %llu MiB; pool cache %s\n", dir,
               bu_fs_name(path, fsbuf, sizeof fsbuf),
               (unsigned long long)o->data_mb,
               bu_fmt_bytes(o->cache_bytes, b1, sizeof b1));
    if (o->vs_raw)
        failed = io_vs_raw_rows(o, t, path, psz, npages, run);
    else if (!(failed = io_cells(o, r, pi, path, wpath, npages)))
        io_report_rows(o, r, pi, t, tl, run);
    bu_cleanup_files("", files, 0);
    return failed;
}

static void io_print_head(const io_opts *o)
{
    if (o->vs_raw)
        printf("bpbench io --vs-raw: cold random reads through the pool "
               "(bp_fix misses at depth 1, d reads in flight above, %s) "
               "against fio's loop on bare liburing in this process, "
               "alternating in %llu ms slices (depth 1: read by read), %llu s "
               "of each; medians over the slice pairs; rings %s\n",
               io_mode(o),
               (unsigned long long)o->slice_ms,
               (unsigned long long)o->seconds, io_rings(o));
    else
        printf("bpbench io: cold random reads through the pool (bp_fix misses "
               "at depth 1, d reads in flight above, %s) vs fio io_uring "
               "O_DIRECT randread; write-back (bp_flush: batches + "
               "fdatasync) vs fio randwrite; fio runs before and after "
               "each pool run, whose ratio is to their mean; median of "
               "%llu reps; the pool's ring %s\n",
               io_mode(o), (unsigned long long)o->reps, io_rings(o));
    bu_print_machine(stdout, "");
}

static void io_print_notes(const io_opts *o)
{
    io_notes_where();
    if (o->vs_raw) {
        printf("\npool IOPS = data-file reads per second of a pool slice "
               "(bp_stats.reads over its wall time, waiting for its last "
               "reads included); raw IOPS = the same for the raw loop's "
               "slice; pool/raw = median of the pairs' own ratios; at "
               "depth 1 (pairs = single reads) reads per second of each "
               "side's own time and their quotient; pool p50/p99: the "
               "pool's reads (as in the latency table of a run without "
               "--vs-raw)\n");
        if (io_one_reads[0])
            printf("depth 1: of %llu pool fixes and %llu raw reads, %llu "
                   "and %llu took over %llu ms and count as that long\n",
                   (unsigned long long)io_one_reads[0],
                   (unsigned long long)io_one_reads[1],
                   (unsigned long long)io_one_capped[0],
                   (unsigned long long)io_one_capped[1],
                   (unsigned long long)(IO_ONE_CAP_NS / 1000000));
        return;
    }
    printf("\nread IOPS = data-file reads per second (bp_stats.reads over "
           "the phase's wall time); write-back = pages per second over "
           "bp_flush's wall time including its fdatasync, fio's write IOPS "
           "leave its end_fsync out; pool/fio = median of the reps' ratios "
           "(each to the mean of the fio runs before and after it), the "
           "lowest and highest in brackets; fio IOPS = median of all its "
           "runs\n");
    printf("latency: every read, all reps; the pool's at depth 1 is each "
           "bp_fix (its cache hits, about pool/data of them, included), "
           "above from a read's bp_prefetch to its completion seen "
           "(bp_io_finished, or the BP_NOWAIT fix with --consume poll); "
           "fio's is its total latency (lat: issue to completion), each "
           "percentile the median over its runs; write-back: the pool's "
           "mean per write (bp_stats write_ns / writes), its writes are "
           "batched inside bp_flush\n");
    if (!bu_have_fio())
        printf("fio column skipped: fio not installed (apt-get install fio); "
               "its cells are n/a\n");
}

/* A progress line: what runs and the pages the pool fixed per second. */
static void io_progress(void *arg, char *line, size_t n)
{
    static uint64_t last;
    uint64_t now = atomic_load(&io_reads), b = atomic_load(&io_pg_bk);
    int len;
    (void)arg;
    len = snprintf(line, n, "page %llu, %s depth %llu, ",
                   (unsigned long long)atomic_load(&io_pg_psz),
                   atomic_load(&io_pg_write) ? "write" : "read",
                   (unsigned long long)atomic_load(&io_pg_depth));
    if (len > 0 && (size_t)len < n)
        snprintf(line + len, n - (size_t)len, b == UINT64_MAX
                                                  ? "fio running"
                                                  : "pool: %llu pages/s",
                 (unsigned long long)(now - last));
    last = now;
}

static void io_free(io_res *r)
{
    if (!r)
        return;
    for (int b = 0; b < IO_MAXBK; b++)
        for (int p = 0; p < IO_MAXP; p++)
            for (int d = 0; d < IO_MAXD; d++)
                bo_hist_free(r->lat[b][p][d]);
    free(r);
}

/* The results of a run: 0, or -1 when out of memory. */
static int io_alloc(const io_opts *o, io_res **out)
{
    io_res *r = calloc(1, sizeof *r);
    *out = r;
    if (!r)
        return -1;
    r->have_fio = !o->vs_raw && bu_have_fio();
    for (int b = 0; b < o->nbk; b++)
        for (int p = 0; p < o->np; p++)
            for (int d = 0; d < o->nd; d++)
                if (!(r->lat[b][p][d] = bo_hist_new()))
                    return -1;
    return 0;
}

int bench_io_main(int argc, char **argv)
{
    bo_run *run = bo_run_begin(argc, argv);
    bu_table t, tl;
    io_res *r = NULL;
    char dir[512];
    int rc = 0, failed = 0;
    io_opts o;

    if (!run) {
        fprintf(stderr, "bpbench io: out of memory\n");
        return 1;
    }
    if ((rc = io_options(argc, argv, &o)) != 0 ||
        bo_outopts_apply("io", &o.out, run) != 0) {
        bo_run_discard(run);
        return rc > 0 ? 0 : 2;
    }
    if (io_alloc(&o, &r)) {
        fprintf(stderr, "bpbench io: out of memory\n");
        goto fail;
    }
    io_print_head(&o);
    if ((rc = bu_tempdir(o.dir, dir, sizeof dir)) != 0) {
        fprintf(stderr, "bpbench io: temp dir in %s: %s\n", o.dir,
                strerror(-rc));
        goto fail;
    }
    io_report_opts(&o, run);
    io_table_head(&t, &tl, o.vs_raw);
    bo_progress_start(io_progress, NULL);
    for (int pi = 0; pi < o.np && !failed; pi++)
        failed = io_page_size(&o, r, pi, dir, &t, &tl, run);
    bo_progress_stop();
    if (!failed) {
        printf("\n");
        bu_table_print(&t, stdout, "  ", 1);
        if (!o.vs_raw) {
            printf("\nLatency per read and write:\n");
            bu_table_print(&tl, stdout, "  ", 1);
        }
        io_print_notes(&o);
        io_report_plots(&o, r);
    }
    bu_table_free(&t);
    bu_table_free(&tl);
    if (!failed) {
        io_free(r);
        return bo_run_finish("io", run);
    }
fail:
    io_free(r);
    bo_run_discard(run);
    return 1;
}
