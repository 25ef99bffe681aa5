/*
 * bench_io.c - `bpbench io`: the pool's data-file I/O against fio on the
 * same file, side by side in one run.
 *
 * Reads: cold random page reads through the pool at queue depths 1, 8 and
 * 32 (--depths), for 4 KiB pages and the pool's page size (--page-sizes).
 * One thread.  Depth 1 is what an engine does without read-ahead: bp_fix
 * misses one after another.  Depth d keeps d reads in flight, as fio does
 * (pool io depth = d): whenever some finish (bp_io_finished names them;
 * bp_io_wait sleeps until one does), as many new random pages are asked
 * for first, one bp_prefetch (one submit) each as fio submits each read by
 * itself (iodepth_batch_submit=1), and then the finished pages are fixed,
 * their stamps checked and unfixed.  --consume poll is the older loop:
 * each pass fixes with BP_NOWAIT whichever of the d pages asked for have
 * arrived and asks for a new page in each freed place; a pass that found
 * none sleeps in bp_io_wait.  With it, --refill pass asks for all of a
 * pass's pages in one bp_prefetch instead: on the VM this was written on,
 * one submit of about 10 reads raised the disk's latency per read by a
 * third (fio's too, with --iodepth_batch_submit=12), so it is not the
 * default.  Every page read is fixed and its stamp checked.  The figure
 * is data-file reads per second from bp_stats (pages found in the cache do
 * not count), over the wall time of the phase.  fio runs `--rw=randread --direct=1
 * --ioengine=io_uring --iodepth=d --bs=<page>` on the same file for the
 * same time; its read IOPS come from its terse output.
 *
 * Write-back: N random pages are dirtied in a pool whose cache holds them,
 * then bp_flush writes them in batches of the depth and fdatasyncs once;
 * pages per second over the flush's wall time, sync included.  fio runs
 * `--rw=randwrite` at the same depth and block size for as many writes
 * with `--end_fsync=1`, on a file of its own of the same size (its data
 * would spoil the stamps the reads check); its IOPS (which leave the final
 * fsync out) are the comparison, so the ratio errs against the pool.
 *
 * Each cell is the median of --reps runs.  Within a rep fio runs before
 * and after every pool run (fio, backend 1, fio, backend 2, fio), and a
 * pool run's ratio is to the mean of the two fio runs beside it, so a
 * drift of the disk's rate over those seconds cancels to first order;
 * pool/fio is the median of the reps' own ratios (this VM's disk drifts
 * two- to three-fold over a minute: a ratio of two medians would compare
 * different moments, and one fio run on one side of the pool's puts single
 * cells 0.1-0.2 off).  The fio column is the
 * median of all of fio's runs of the cell.
 *
 * --vs-raw measures the pool's own cost with less of the disk's drift:
 * instead of fio (a process of its own, seconds away) the reference is
 * fio's loop on bare liburing in this process (bench_io_raw.c), and the
 * pool and it alternate in 250 ms slices on one file, each slice waiting
 * for its own reads, so adjacent slices see nearly the same disk.  At
 * depth 1 they alternate read by read (one miss, one raw read), since
 * there the disk's rate swings within 250 ms.
 *
 * The data file lives in a fresh directory under --dir (/var/tmp: a
 * real disk, not tmpfs) and is removed at exit.  When fio is not installed
 * its column says n/a and a note says why.
 */
#include "bench.h"
#include "bench_io_raw.h"
#include "bench_util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IO_MAXD 8
#define IO_MAXP 4
#define IO_MAXBK 5
#define IO_MAXDEPTH 1024 /* bp_set_io_depth's limit */
#define IO_SLICE_MS 250ull /* --vs-raw's slices above depth 1 (--slice-ms) */

typedef struct io_opts {
    uint64_t data_mb, cache_mb, seconds, reps, wpages, wdepth;
    int refill_pass; /* --refill pass: one bp_prefetch per pass */
    int consume_poll; /* --consume poll: BP_NOWAIT fixes, not the log */
    int vs_raw;      /* --vs-raw: the pool against bench_io_raw.c instead */
    uint64_t slice_ms; /* --slice-ms: its slices above depth 1 */
    int coop_off;    /* --coop off: rings set up without COOP_TASKRUN */
    uint64_t depths[IO_MAXD], psz[IO_MAXP];
    int nd, np, quick, nbk;
    bp_backend bk[IO_MAXBK];
    const char *dir;
} io_opts;

static void io_usage(FILE *f)
{
    fprintf(f,
"usage: bpbench io [options]\n"
"\n"
"Cold random page reads through the pool at queue depths 1, 8, 32 (bp_fix\n"
"misses at depth 1; above, d reads kept in flight with bp_prefetch, one\n"
"submit per read as fio: each read that finishes (bp_io_finished) is\n"
"replaced first, then its page is fixed)\n"
"against fio's io_uring O_DIRECT random read on the same file at the same\n"
"depths; every page read is fixed and its stamp checked;\n"
"then write-back: dirty pages flushed per second (batched writes + one\n"
"fdatasync) against fio random write at the same depth.  Pool/fio ratios.\n"
"\n"
"options (default / --quick):\n"
"  --data-mb N       data file size in MiB (1024 / 256)\n"
"  --cache-mb N      pool cache in MiB, much smaller than the file (64)\n"
"  --page-sizes LIST page sizes, comma separated (4096,8192)\n"
"  --depths LIST     queue depths (1,8,32)\n"
"  --seconds N       seconds per read cell (3 / 1)\n"
"  --reps N          repetitions, median reported (3 / 1)\n"
"  --write-pages N   pages dirtied and flushed per write cell (8192 / 2048)\n"
"  --write-depth N   queue depth of the write cell (32)\n"
"  --consume MODE    log: pages taken as bp_io_finished names them; poll:\n"
"                    each pass fixes the d pages asked for with BP_NOWAIT\n"
"                    and takes those that arrived (log)\n"
"  --refill MODE     with --consume poll: one: each freed place asked for\n"
"                    by its own bp_prefetch (one submit per read, as fio);\n"
"                    pass: all of a pass's places in one bp_prefetch (one)\n"
"  --coop MODE       on: the pool's read-ahead ring (bp_set_io_coop) and\n"
"                    the raw loop's ring complete cooperatively\n"
"                    (IORING_SETUP_COOP_TASKRUN), as fio's io_uring\n"
"                    engine sets up its ring; off: neither (on)\n"
"  --backends LIST   window backends, one row each (auto,linear on 64-bit:\n"
"                    linear reads straight into its frames, the others\n"
"                    into the window slot the page is fixed in)\n"
"  --vs-raw          instead of fio and write-back: the same reads through\n"
"                    the pool and through fio's loop written on bare\n"
"                    liburing in this process, alternating in 250 ms\n"
"                    slices on the same file (each slice waits for its\n"
"                    reads in flight); pool/raw is the median of the slice\n"
"                    pairs' ratios: the pool's own cost, with little of the\n"
"                    disk's drift between the two.  Depth 1 alternates\n"
"                    read by read: pool/raw is the quotient of the two\n"
"                    sides' reads per second of their own time (a read\n"
"                    over 1 ms counts as 1 ms on either side)\n"
"  --slice-ms N      with --vs-raw: the slices' length above depth 1 (250)\n"
"  --dir DIR         where the data file's temp directory goes (/var/tmp)\n"
"  --quick           smaller and shorter\n");
}

static int io_parse_list(const char *opt, char *s, uint64_t *out, int max,
                         uint64_t lo, uint64_t hi)
{
    char *it[IO_MAXD];
    int n = bu_split_list(s, it, max);

    if (n <= 0) {
        fprintf(stderr, "bpbench: --%s: 1 to %d values\n", opt, max);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (bu_parse_u64(opt, it[i], lo, hi, 0, &out[i]) != 0)
            return -1;
    return n;
}

/* An option with two values: *flag = 0 for off, 1 for on; -1 (said why)
 * for anything else. */
static int io_two_way(const char *opt, const char *arg, const char *off,
                      const char *on, int *flag)
{
    if (strcmp(arg, off) != 0 && strcmp(arg, on) != 0) {
        fprintf(stderr, "bpbench: --%s: %s or %s\n", opt, off, on);
        return -1;
    }
    *flag = strcmp(arg, on) == 0;
    return 0;
}

static int io_options(int argc, char **argv, io_opts *o)
{
    enum { O_DATA = 256, O_CACHE, O_PS, O_DEP, O_SEC, O_REPS, O_WP, O_WD,
           O_REFILL, O_CONSUME, O_COOP, O_RAW, O_SLICE,
           O_BK, O_DIR, O_QUICK, O_HELP };
    static const struct option lo[] = {
        {"data-mb", required_argument, NULL, O_DATA},
        {"cache-mb", required_argument, NULL, O_CACHE},
        {"page-sizes", required_argument, NULL, O_PS},
        {"depths", required_argument, NULL, O_DEP},
        {"seconds", required_argument, NULL, O_SEC},
        {"reps", required_argument, NULL, O_REPS},
        {"write-pages", required_argument, NULL, O_WP},
        {"write-depth", required_argument, NULL, O_WD},
        {"refill", required_argument, NULL, O_REFILL},
        {"consume", required_argument, NULL, O_CONSUME},
        {"coop", required_argument, NULL, O_COOP},
        {"vs-raw", no_argument, NULL, O_RAW},
        {"slice-ms", required_argument, NULL, O_SLICE},
        {"backends", required_argument, NULL, O_BK},
        {"dir", required_argument, NULL, O_DIR},
        {"quick", no_argument, NULL, O_QUICK},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0}};
    int c;

    memset(o, 0, sizeof *o);
    o->nbk = 0;
    o->dir = "/var/tmp";
    o->cache_mb = 64;
    o->wdepth = 32;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        int bad = 0;

        switch (c) {
        case O_DATA: bad = bu_parse_u64("data-mb", optarg, 16, 1u << 20, 0, &o->data_mb); break;
        case O_CACHE: bad = bu_parse_u64("cache-mb", optarg, 4, 1u << 20, 0, &o->cache_mb); break;
        case O_PS: bad = (o->np = io_parse_list("page-sizes", optarg, o->psz, IO_MAXP, 4096, 65536)) < 0; break;
        case O_DEP: bad = (o->nd = io_parse_list("depths", optarg, o->depths, IO_MAXD, 1, IO_MAXDEPTH)) < 0; break;
        case O_SEC: bad = bu_parse_u64("seconds", optarg, 1, 3600, 0, &o->seconds); break;
        case O_REPS: bad = bu_parse_u64("reps", optarg, 1, 100, 0, &o->reps); break;
        case O_WP: bad = bu_parse_u64("write-pages", optarg, 16, 1u << 24, 0, &o->wpages); break;
        case O_WD: bad = bu_parse_u64("write-depth", optarg, 1, 1024, 0, &o->wdepth); break;
        case O_REFILL: bad = io_two_way("refill", optarg, "one", "pass", &o->refill_pass); break;
        case O_CONSUME: bad = io_two_way("consume", optarg, "log", "poll", &o->consume_poll); break;
        case O_COOP: bad = io_two_way("coop", optarg, "on", "off", &o->coop_off); break;
        case O_BK: {
            bad = bu_parse_backends(optarg, o->bk, IO_MAXBK, &o->nbk) != 0;
            break;
        }
        case O_RAW: o->vs_raw = 1; break;
        case O_SLICE: bad = bu_parse_u64("slice-ms", optarg, 5, 10000, 0, &o->slice_ms); break;
        case O_DIR: o->dir = optarg; break;
        case O_QUICK: o->quick = 1; break;
        case 'h':
        case O_HELP: io_usage(stdout); exit(0);
        default: io_usage(stderr); return -1;
        }
        if (bad)
            return -1;
    }
    if (!o->data_mb)
        o->data_mb = o->quick ? 256 : 1024;
    if (!o->seconds)
        o->seconds = o->quick ? 1 : 3;
    if (!o->reps)
        o->reps = o->quick ? 1 : 3;
    if (!o->slice_ms)
        o->slice_ms = IO_SLICE_MS;
    if (!o->wpages)
        o->wpages = o->quick ? 2048 : 8192;
    if (!o->nbk) {
        o->bk[o->nbk++] = BP_BACKEND_AUTO;
        if (sizeof(void *) == 8)
            o->bk[o->nbk++] = BP_BACKEND_LINEAR;
    }
    if (!o->np) {
        o->psz[0] = 4096;
        o->psz[1] = 8192;
        o->np = 2;
    }
    if (!o->nd) {
        o->depths[0] = 1;
        o->depths[1] = 8;
        o->depths[2] = 32;
        o->nd = 3;
    }
    for (int i = 0; i < o->np; i++)
        if (o->psz[i] & (o->psz[i] - 1)) {
            fprintf(stderr, "bpbench: --page-sizes: %llu is not a power of "
                    "two\n", (unsigned long long)o->psz[i]);
            return -1;
        }
    if (o->refill_pass && !o->consume_poll) {
        fprintf(stderr, "bpbench: --refill pass needs --consume poll (the "
                "log is read one started page at a time)\n");
        return -1;
    }
    if (o->cache_mb * 4 > o->data_mb) {
        fprintf(stderr, "bpbench: --cache-mb must be at most a quarter of "
                "--data-mb (reads must miss)\n");
        return -1;
    }
    return 0;
}

/* ---- the pool ---------------------------------------------------------------- */

/* bp_stats.io_staged of the last pool opened per backend asked for, and
 * the backend auto chose, for the report's notes. */
static unsigned io_staged_seen[BP_BACKEND_LINEAR + 1];
static int io_auto_chose = -1;

static int io_open(bp_backend bk, const char *path, uint64_t psz,
                   uint64_t depth, uint64_t cache_bytes, int coop,
                   bp_pool **p, char *why, size_t whysz)
{
    bp_pool *q = NULL;
    int rc;

    /* bu_pool_open has no depth setting: configure by hand */
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
    {
        bp_stats st;

        if (bp_stats_get(q, &st, sizeof st) == 0) {
            io_staged_seen[bk] = st.io_staged | 0x100u; /* 0x100: seen */
            if (bk == BP_BACKEND_AUTO)
                io_auto_chose = (int)st.backend;
        }
    }
    *p = q;
    return 0;
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
    uint64_t want[IO_MAXDEPTH], ask[IO_MAXDEPTH];
    int rc;

    for (uint64_t j = 0; j < d; j++)
        want[j] = bu_rng_below(rng, npages);
    io_ask(p, want, d, pass);
    while (bu_now_ns() < tend) {
        uint64_t seq = bp_io_seq(p), nask = 0, got = 0;

        for (uint64_t j = 0; j < d; j++) {
            rc = io_consume(p, want[j], BP_SHARED | BP_NOWAIT, psz, bad, why,
                            whysz);
            if (rc == 0) {
                got++;
                want[j] = bu_rng_below(rng, npages);
            } else if (rc != BP_EAGAIN && rc != BP_ENOTCACHED) {
                return rc;
            }
            if (rc != BP_EAGAIN)
                ask[nask++] = want[j];
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
            int rc = bp_prefetch(p, &pg, 1);

            if (rc == 1) {
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
        if (more)
            rc = io_start(p, (uint64_t)n, npages, psz, rng, &out, bad, why,
                          whysz);
        for (int i = 0; i < n && rc == 0; i++)
            rc = io_consume(p, fin[i], BP_SHARED, psz, bad, why, whysz);
    }
    return rc;
}

static int io_pool_reads_deep(const io_opts *o, bp_pool *p, uint64_t d,
                              uint64_t npages, uint64_t psz, uint64_t tend,
                              int drain, bu_rng *rng, uint64_t *bad,
                              char *why, size_t whysz)
{
    if (o->consume_poll)
        return io_pool_reads_poll(p, d, npages, psz, tend, o->refill_pass,
                                  drain, rng, bad, why, whysz);
    return io_pool_reads_log(p, d, npages, psz, tend, drain, rng, bad, why,
                             whysz);
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
        rc = io_consume(p, bu_rng_below(rng, npages), BP_SHARED, psz, bad,
                        why, whysz);
    }
    return rc;
}

/* Cold random reads for `seconds` at depth d: data-file reads per second.
 * Depth 1: plain fix misses, one after another. */
static int io_pool_reads(const io_opts *o, bp_backend bk, const char *path,
                         uint64_t psz, uint64_t npages, uint64_t d,
                         uint64_t rep, double *iops, char *why, size_t whysz)
{
    uint64_t r0, t0, tend, bad = 0;
    bp_stats st;
    bu_rng rng;
    bp_pool *p;
    int rc = 0;

    if ((rc = io_open(bk, path, psz, d, o->cache_mb << 20, !o->coop_off,
                      &p, why, whysz)))
        return rc;
    bu_rng_seed(&rng, 77, psz, d * 1000 + rep);
    if ((rc = bu_stats(p, &st, why, whysz)) != 0)
        goto out;
    r0 = st.reads;
    t0 = bu_now_ns();
    tend = t0 + o->seconds * 1000000000ull;
    if (d > 1)
        rc = io_pool_reads_deep(o, p, d, npages, psz, tend, 0, &rng, &bad,
                                why, whysz);
    else
        rc = io_pool_reads_one(p, npages, psz, tend, &rng, &bad, why, whysz);
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
        printf("linear maps the whole cache (64-bit); %s (io_staged 0x%x; "
               "BUFPOOL_IO_STAGE=on|off and BUFPOOL_IO_HUGEPAGE=0 to "
               "compare)\n",
               (l & 7u) == 7u ? "its reads are staged: they land in "
                                "buffers in huge pages and are copied "
                                "into the frames (bp_set_io_stage, AUTO "
                                "on a hypervisor), and fix misses read "
                                "early, before they take a frame "
                                "(BUFPOOL_IO_EARLY=0 to compare)"
               : (l & 3u) == 3u ? "its reads are staged: they land in "
                                  "buffers in huge pages and are copied "
                                  "into the frames (bp_set_io_stage, AUTO "
                                  "on a hypervisor)"
               : (l & 1u) ? "its read-ahead is staged, its fix misses "
                            "land in the frames"
                          : "its reads land straight in the frames",
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

static double io_med(double *v, uint64_t n);

/* --vs-raw at depth 1: one pool miss and one raw read at a time, who goes
 * first alternating, for --seconds of each.  At depth 1 this disk's rate
 * swings 2-5x between 250 ms windows (fio's own IOPS log), so slices do
 * not cancel it; single reads side by side do.  *piops and *riops are
 * reads per second of each side's own time (the pool's fixes that hit its
 * cache count in its time, not in its reads), *ratio their quotient.  A
 * single read or fix over IO_ONE_CAP_NS counts as that long on either
 * side: the disk stalls now and then for milliseconds, a few dozen times
 * a run, and those few made the quotient swing by several percent from
 * run to run; capped, it stays within about 2% (the notes say how many). */
#define IO_ONE_CAP_NS 1000000ull
static uint64_t io_one_reads[2], io_one_capped[2]; /* [pool, raw], notes */
static int io_vs_raw_one(bp_pool *p, io_raw *raw, uint64_t npages,
                         uint64_t psz, uint64_t seconds, bu_rng *rng,
                         uint64_t *bad, double *piops, double *riops,
                         double *ratio, uint64_t *npairs, char *why,
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
        *piops = (double)(st.reads - r0) * 1e9 / (double)(tp ? tp : 1);
        *riops = (double)nr * 1e9 / (double)(tr ? tr : 1);
        *ratio = *riops > 0 ? *piops / *riops : 0;
        *npairs = k;
    }
    return rc;
}

/* --vs-raw: one pool and one raw loop on the same file, alternating in
 * slices of --slice-ms (who goes first alternates too), --seconds of each
 * in all.  Each slice ends with its reads done, so the two never share the
 * disk.  *piops and *riops are the medians of the slices' reads per
 * second, *ratio the median of the pairs' own pool/raw.  Depth 1 goes
 * read by read instead (io_vs_raw_one). */
static int io_vs_raw_cell(const io_opts *o, bp_backend bk, const char *path,
                          uint64_t psz, uint64_t npages, uint64_t d,
                          double *piops, double *riops, double *ratio,
                          uint64_t *npairs, char *why, size_t whysz)
{
    uint64_t slice = o->slice_ms * 1000000ull, bad = 0,
             pairs = o->seconds * 1000000000ull / slice;
    double *v = calloc(3 * pairs, sizeof *v), *rp = v, *rr = v + pairs,
           *rat = v + 2 * pairs;
    io_raw *raw = NULL;
    bp_pool *p = NULL;
    bp_stats st;
    bu_rng rng;
    int rc;

    if (!v) {
        snprintf(why, whysz, "out of memory");
        return -ENOMEM;
    }
    if ((rc = io_open(bk, path, psz, d, o->cache_mb << 20, !o->coop_off,
                      &p, why, whysz)) ||
        (rc = io_raw_open(&raw, path, psz, d, !o->coop_off, why, whysz)))
        goto out;
    bu_rng_seed(&rng, 78, psz, d);
    if (d == 1) /* read by read: no slices */
        pairs = 0, rc = io_vs_raw_one(p, raw, npages, psz, o->seconds, &rng,
                                      &bad, piops, riops, ratio, npairs, why,
                                      whysz);
    for (uint64_t k = 0; k < pairs && rc == 0; k++) {
        for (int side = 0; side < 2 && rc == 0; side++) {
            int pool_side = (side == 0) == (k % 2 == 0);
            uint64_t t0 = bu_now_ns(), until = t0 + slice, n = 0, r0;

            if (pool_side) {
                if ((rc = bu_stats(p, &st, why, whysz)) != 0)
                    break;
                r0 = st.reads;
                rc = d > 1 ? io_pool_reads_deep(o, p, d, npages, psz, until,
                                                1, &rng, &bad, why, whysz)
                           : io_pool_reads_one(p, npages, psz, until, &rng,
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
        *piops = io_med(rp, pairs);
        *riops = io_med(rr, pairs);
        *ratio = io_med(rat, pairs);
        *npairs = pairs;
    }
out:
    io_raw_close(raw);
    bp_close(p);
    free(v);
    return rc;
}

/* Dirty n random distinct-ish pages in a cache that holds them, then time
 * bp_flush: pages written per second, sync included. */
static int io_pool_writes(const io_opts *o, bp_backend bk, const char *path,
                          uint64_t psz,
                          uint64_t npages, uint64_t rep, double *pps,
                          char *why, size_t whysz)
{
    uint64_t n = o->wpages, t0, written;
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
    t0 = bu_now_ns();
    if ((rc = bp_flush(p)) != 0) {
        snprintf(why, whysz, "bp_flush: %s: %s", bp_strerror(rc), bp_errmsg(p));
        goto out;
    }
    *pps = 0;
    if ((rc = bu_stats(p, &st, why, whysz)) != 0)
        goto out;
    *pps = (double)(st.writes - written) * 1e9 / (double)(bu_now_ns() - t0);
out:
    bp_close(p);
    return rc;
}

/* ---- main ------------------------------------------------------------------- */

static double io_med(double *v, uint64_t n)
{
    return bu_median(v, (size_t)n);
}

/* fio's run of one cell into *out (0 when fio is absent).  fio's writes go
 * to a file of their own: its data would overwrite the stamps the pool's
 * reads check.  A failing fio leaves the fio column n/a (*have_fio = 0)
 * and the run goes on; returns 0. */
static int io_fio_cell(const io_opts *o, int *have_fio, int w,
                       const char *path, const char *wpath, uint64_t npages,
                       uint64_t psz, uint64_t d, double *out)
{
    char why[512];

    *out = 0;
    if (*have_fio && bu_fio(w ? wpath : path, npages * psz, psz, d, w,
                            o->seconds, o->wpages, out, why, sizeof why)) {
        fprintf(stderr, "bpbench io: %s\n", why);
        *have_fio = 0;
    }
    return 0;
}

/* --vs-raw: every depth and backend of one page size, a table row each.
 * 0, or 1 after printing why. */
static int io_vs_raw_rows(const io_opts *o, bu_table *t, const char *path,
                          uint64_t psz, uint64_t npages)
{
    char why[512], c[7][48];
    const char *row[8] = {"rand read", c[0], c[1], c[2], c[3], c[4], c[5],
                          c[6]};

    for (int di = 0; di < o->nd; di++)
        for (int b = 0; b < o->nbk; b++) {
            double pi = 0, ri = 0, ratio = 0;
            uint64_t pairs = 0;
            int rc;

            bu_progress("page %llu, read depth %llu, %s vs raw liburing",
                        (unsigned long long)psz,
                        (unsigned long long)o->depths[di],
                        bp_backend_name(o->bk[b]));
            rc = io_vs_raw_cell(o, o->bk[b], path, psz, npages,
                                o->depths[di], &pi, &ri, &ratio, &pairs, why,
                                sizeof why);
            if (rc) {
                fprintf(stderr, "bpbench io: %s vs raw: %s\n",
                        bp_backend_name(o->bk[b]), why);
                return 1;
            }
            snprintf(c[0], sizeof c[0], "%llu", (unsigned long long)psz);
            snprintf(c[1], sizeof c[1], "%llu",
                     (unsigned long long)o->depths[di]);
            snprintf(c[2], sizeof c[2], "%s", bp_backend_name(o->bk[b]));
            snprintf(c[3], sizeof c[3], "%.0f", pi);
            snprintf(c[4], sizeof c[4], "%.0f", ri);
            snprintf(c[5], sizeof c[5], "%.2f", ratio);
            snprintf(c[6], sizeof c[6], "%llu", (unsigned long long)pairs);
            bu_table_add(t, row);
        }
    return 0;
}

int bench_io_main(int argc, char **argv)
{
    char dir[512], path[600], wpath[600], why[512], cell[8][64], label[64];
    static double pool[IO_MAXBK][IO_MAXP][IO_MAXD + 1][16],
        fio[IO_MAXP][IO_MAXD + 1][16 * (IO_MAXBK + 1)];
    int have_fio = bu_have_fio(), failed = 0;
    bu_table t;
    io_opts o;
    int rc;

    if (io_options(argc, argv, &o) != 0)
        return 2;
    if (o.reps > 16)
        o.reps = 16;
    if (o.vs_raw)
        printf("bpbench io --vs-raw: cold random reads through the pool "
               "(bp_fix misses at depth 1, d reads in flight above, %s) "
               "against fio's loop on bare liburing in this process, "
               "alternating in %llu ms slices (depth 1: read by read), %llu s "
               "of each; medians over the slice pairs; rings %s\n",
               io_mode(&o),
               (unsigned long long)o.slice_ms,
               (unsigned long long)o.seconds, io_rings(&o));
    else
        printf("bpbench io: cold random reads through the pool (bp_fix misses "
               "at depth 1, d reads in flight above, %s) vs fio io_uring "
               "O_DIRECT randread; write-back (bp_flush: batches + "
               "fdatasync) vs fio randwrite; fio runs before and after "
               "each pool run, whose ratio is to their mean; median of "
               "%llu reps; the pool's ring %s\n",
               io_mode(&o), (unsigned long long)o.reps, io_rings(&o));
    bu_print_machine(stdout, "");
    if ((rc = bu_tempdir(o.dir, dir, sizeof dir)) != 0) {
        fprintf(stderr, "bpbench io: temp dir in %s: %s\n", o.dir,
                strerror(-rc));
        return 1;
    }
    bu_table_init(&t, o.vs_raw ? 8 : 7);
    if (o.vs_raw) {
        const char *h[8] = {"test",      "page",     "depth",    "backend",
                            "pool IOPS", "raw IOPS", "pool/raw", "pairs"};
        bu_table_add(&t, h);
    } else {
        const char *h[7] = {"test", "page", "depth", "backend", "pool IOPS",
                            "fio IOPS", "pool/fio (reps)"};
        bu_table_add(&t, h);
    }
    for (int pi = 0; pi < o.np && !failed; pi++) {
        uint64_t psz = o.psz[pi], npages = (o.data_mb << 20) / psz;
        double secs;
        char fsbuf[32];

        snprintf(path, sizeof path, "%s/io-%llu.db", dir,
                 (unsigned long long)psz);
        snprintf(wpath, sizeof wpath, "%s/fio-write-%llu.db", dir,
                 (unsigned long long)psz);
        bu_cleanup_add(wpath, 0);
        bu_progress("writing %llu MiB data file of %llu-byte pages",
                    (unsigned long long)o.data_mb, (unsigned long long)psz);
        if (bu_data_file_create(path, psz, npages, &secs, why, sizeof why)) {
            fprintf(stderr, "bpbench io: %s\n", why);
            failed = 1;
            break;
        }
        if (pi == 0)
            printf("data: %s on %s, %llu MiB; pool cache %llu MiB\n", dir,
                   bu_fs_name(path, fsbuf, sizeof fsbuf),
                   (unsigned long long)o.data_mb,
                   (unsigned long long)o.cache_mb);
        if (o.vs_raw) {
            failed = io_vs_raw_rows(&o, &t, path, psz, npages);
            unlink(path);
            bu_cleanup_forget(path);
            bu_cleanup_forget(wpath);
            continue;
        }
        for (uint64_t rep = 0; rep < o.reps && !failed; rep++) {
            for (int di = 0; di <= o.nd && !failed; di++) {
                int w = di == o.nd; /* the last column: write-back */
                uint64_t d = w ? o.wdepth : o.depths[di];

                /* fio before and after each backend's run */
                double *fr = &fio[pi][di][rep * (uint64_t)(o.nbk + 1)];

                if (io_fio_cell(&o, &have_fio, w, path, wpath, npages, psz, d,
                                &fr[0]))
                    failed = 1;
                for (int b = 0; b < o.nbk && !failed; b++) {
                    double *out = &pool[b][pi][di][rep];

                    bu_progress("page %llu, %s depth %llu, %s, rep %llu",
                                (unsigned long long)psz,
                                w ? "write" : "read", (unsigned long long)d,
                                bp_backend_name(o.bk[b]),
                                (unsigned long long)rep + 1);
                    rc = w ? io_pool_writes(&o, o.bk[b], path, psz, npages,
                                            rep, out, why, sizeof why)
                           : io_pool_reads(&o, o.bk[b], path, psz, npages, d,
                                           rep, out, why, sizeof why);
                    if (rc) {
                        fprintf(stderr, "bpbench io: %s: %s\n",
                                bp_backend_name(o.bk[b]), why);
                        failed = 1;
                    }
                    if (!failed && io_fio_cell(&o, &have_fio, w, path, wpath,
                                               npages, psz, d, &fr[b + 1]))
                        failed = 1;
                }
            }
        }
        for (int di = 0; di <= o.nd && !failed; di++) {
            int w = di == o.nd;
            uint64_t nf = o.reps * (uint64_t)(o.nbk + 1);
            double fm = have_fio ? io_med(fio[pi][di], nf) : 0;

            for (int b = 0; b < o.nbk; b++) {
                double pm = io_med(pool[b][pi][di], o.reps), ratio[16];

                for (uint64_t r = 0; r < o.reps; r++) {
                    const double *fr = &fio[pi][di][r * (uint64_t)(o.nbk + 1)];
                    double beside = (fr[b] + fr[b + 1]) / 2;

                    ratio[r] = fr[b] > 0 && fr[b + 1] > 0
                                   ? pool[b][pi][di][r] / beside
                                   : 0;
                }
                const char *row[7] = {label,   cell[0], cell[1], cell[5],
                                      cell[2], cell[3], cell[4]};

                snprintf(label, sizeof label, "%s",
                         w ? "write-back" : "rand read");
                snprintf(cell[0], sizeof cell[0], "%llu",
                         (unsigned long long)psz);
                snprintf(cell[1], sizeof cell[1], "%llu",
                         (unsigned long long)(w ? o.wdepth : o.depths[di]));
                snprintf(cell[5], sizeof cell[5], "%s",
                         bp_backend_name(o.bk[b]));
                snprintf(cell[2], sizeof cell[2], "%.0f", pm);
                snprintf(cell[3], sizeof cell[3], have_fio ? "%.0f" : "n/a",
                         fm);
                snprintf(cell[4], sizeof cell[4],
                         have_fio && fm > 0 ? "%.2f" : "n/a",
                         fm > 0 ? io_med(ratio, o.reps) : 0);
                if (have_fio && fm > 0 && o.reps > 1) { /* the reps' spread */
                    double lo = ratio[0], hi = ratio[0];
                    size_t at = strlen(cell[4]);

                    for (uint64_t r = 1; r < o.reps; r++) {
                        lo = ratio[r] < lo ? ratio[r] : lo;
                        hi = ratio[r] > hi ? ratio[r] : hi;
                    }
                    snprintf(cell[4] + at, sizeof cell[4] - at,
                             " (%.2f-%.2f)", lo, hi);
                }
                bu_table_add(&t, row);
            }
        }
        unlink(path);
        bu_cleanup_forget(path);
        unlink(wpath);
        bu_cleanup_forget(wpath);
    }
    if (!failed) {
        printf("\n");
        bu_table_print(&t, stdout, "  ", 1);
        io_notes_where();
        if (o.vs_raw)
            printf("\npool IOPS = data-file reads per second of a pool slice "
                   "(bp_stats.reads over its wall time, waiting for its last "
                   "reads included); raw IOPS = the same for the raw loop's "
                   "slice; pool/raw = median of the pairs' own ratios; at "
                   "depth 1 (pairs = single reads) reads per second of each "
                   "side's own time and their quotient\n");
        if (o.vs_raw && io_one_reads[0])
            printf("depth 1: of %llu pool fixes and %llu raw reads, %llu "
                   "and %llu took over %llu ms and count as that long\n",
                   (unsigned long long)io_one_reads[0],
                   (unsigned long long)io_one_reads[1],
                   (unsigned long long)io_one_capped[0],
                   (unsigned long long)io_one_capped[1],
                   (unsigned long long)(IO_ONE_CAP_NS / 1000000));
        else
            printf("\nread IOPS = data-file reads per second (bp_stats.reads "
                   "over the phase's wall time); write-back = pages per "
                   "second over bp_flush's wall time including its "
                   "fdatasync, fio's write IOPS leave its end_fsync out; "
                   "pool/fio = median of the reps' ratios (each to the mean "
                   "of the fio runs before and after it), the lowest and "
                   "highest in brackets; fio IOPS = median of all its "
                   "runs\n");
        if (!o.vs_raw && !bu_have_fio())
            printf("fio column skipped: fio not installed (apt-get install fio); "
                   "its cells are n/a\n");
    }
    bu_table_free(&t);
    return failed;
}
