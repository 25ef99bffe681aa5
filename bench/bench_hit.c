/*
 * bench_hit.c - `bpbench hit`: what a window hit costs, on one thread and
 * on all cores, for every window backend side by side in one run, next to
 * its floor and its lighter alternative:
 *
 *   fix         bp_fix(pgno, BP_SHARED) + read one word of pg.data +
 *               bp_unfix: the shared fix of a page already in the window;
 *   optimistic  bp_opt_begin + read one word + bp_opt_validate (retried as
 *               bufpool.h shows; with no writer nothing should retry);
 *   bare deref  read one word through a pointer to the page kept from a
 *               fix of it (the same page sequence): what the hardware
 *               charges for the read itself, the floor.
 *
 * The word read sits at a line that varies with the page (bu_touch_line;
 * for pages over 4 KiB also in a block that varies), and is checked against
 * the page's stamp, so every mode does the same work besides the library
 * calls, and a wrong page is caught.
 *
 * Method: the data file is written once under a temporary directory (/var
 * tmp).  One pool per backend (memfd shm, cache 2 x the window) is opened,
 * all at the same time.  The hot set is --pages distinct pages (half the
 * window slots by default), shared by all threads: read-only shared hits,
 * the case that should scale.  Each pool is warmed until a pass over the
 * hot set maps nothing, and the pointers of the bare deref are taken in a
 * last pass.  Each thread has its own random sequence over the hot set
 * (the same sequence in every backend and mode).  The timed phases run
 * round-robin (rep 1 of every backend x mode x thread count, then rep 2,
 * ...) so the drift of a shared machine hits them all alike.  In a phase,
 * T fresh threads wait on a spinning start barrier, each runs --ops ops,
 * and the phase's wall time is from the first thread's start to the last
 * one's end: ns/op = wall / ops (per thread), Mops/s = T * ops / wall.  The
 * cell is the median wall time of the reps.  Ratios (scaling, x bare, the
 * optimistic-vs-fix targets) are medians of per-rep ratios of phases that
 * ran back to back, which cancels most of a VM's slow drift between reps.
 * Thread counts: 1, N (--threads, default the CPUs this process may run
 * on) and 2 (the scaling target).  Each phase has threads of its
 * own that touch one pool only (the library keeps a thread's reader slot
 * block for a few pools at a time).
 *
 * bp_stats deltas around each timed phase are summed per cell and checked:
 * no window miss (the phase is a pure window hit), the library counted the
 * fixes or optimistic reads the bench made, no optimistic read failed.  A
 * mismatch prints a WARNING line.  Before closing, bp__test_check() walks
 * each pool's invariants.
 *
 * A backend whose bp_open or fix fails is closed and shown as "n/a" with
 * the reason under the tables; a failing optimistic read makes only that
 * mode n/a.  The others go on.
 *
 * Last, the targets are computed from the medians and printed as
 * met or missed: reports, not pass/fail exits.
 */
#include "bench.h"
#include "bench_util.h"
#include "bp_testing.h"
#include "bufpool.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HT_MAXBK 5
#define HT_MAXTC 3              /* thread counts: 1, 2, N */
#define HT_SEQ_MAX (1u << 18)   /* sequence entries per thread, then wrap */
#define HT_OPT_MAX_RETRY 100000 /* one optimistic read retried this often:
                                   give up (a bug, not contention) */

/* Issue targets (reports only). */
#define HT_TARGET_NS 40.0
#define HT_TARGET_BARE_X 10.0
#define HT_TARGET_SCALE2 1.8

enum { HT_FIX, HT_OPT, HT_BARE, HT_NMODE };
static const char *const ht_mode_name[HT_NMODE] = {"fix", "optimistic",
                                                   "bare"};

enum { HT_NOTE_INFO, HT_NOTE_NA, HT_NOTE_WARN, HT_NOTE_KINDS };

typedef struct ht_opts {
    uint64_t threads, ops, reps, pages, window_slots, page_size, seed;
    bp_backend bk[HT_MAXBK];
    int nbk;
    int quick, csv, quiet;
    const char *dir;
} ht_opts;

/* One page of the hot set: what to fix and which word to read. */
typedef struct ht_hot {
    uint64_t pgno;
    uint64_t stamp; /* the word expected at off */
    uint64_t off;   /* byte offset of the word in the page */
} ht_hot;

/* One (backend, mode, thread count): the reps' wall times and the bp_stats
 * deltas of the timed phases, summed. */
typedef struct ht_cell {
    double *wall; /* ns */
    uint64_t nrep;
    int na;
    uint64_t fixes, wm, opt_begins, opt_failures, latch_waits;
    uint64_t bad, retries;
} ht_cell;

typedef struct ht_pool {
    bp_pool *p;
    int dead;
    bp_stats st;               /* as opened */
    const unsigned char **ptr; /* address of each hot page (bare deref) */
    unsigned open_flags;
} ht_pool;

typedef struct ht_ctx {
    ht_opts o;
    char dir[PATH_MAX];
    char path[PATH_MAX + 16];
    uint64_t frames, data_pages, nhot;
    ht_hot *hot;
    uint32_t **seq; /* per thread, seqlen indexes into hot */
    uint64_t seqlen;
    int tc[HT_MAXTC], ntc, ncpu;
    ht_pool pool[HT_MAXBK];
    ht_cell cell[HT_MAXBK][HT_NMODE][HT_MAXTC];
    char auto_chose[220];
    char **note[HT_NOTE_KINDS];
    size_t nnote[HT_NOTE_KINDS];
    int data_error;
    FILE *info; /* stdout, or stderr with --csv */
} ht_ctx;

/* ---- Options ------------------------------------------------------------- */

static void ht_usage(FILE *f)
{
    fprintf(f,
"usage: bpbench hit [options]\n"
"\n"
"Window-hit cost of bp_fix(shared) + reading one word + bp_unfix, on 1\n"
"thread and on N threads reading the same hot pages, for every window\n"
"backend side by side, next to an optimistic read (bp_opt_begin + read +\n"
"bp_opt_validate) and a bare pointer dereference of the same pages (the\n"
"floor).  Repetitions are interleaved round-robin; cells show the median.\n"
"Then the issue's targets, met or missed (reports, not an exit status).\n"
"\n"
"options (full-run default / --quick default):\n"
"  --threads N         the \"all cores\" thread count (the CPUs this process\n"
"                      may run on); 1 and 2 threads always run too\n"
"  --ops N             timed ops per thread per rep (2000000 / 200000)\n"
"  --reps N            repetitions, median reported (5 / 3)\n"
"  --pages N           hot pages, below the window slots (half the slots)\n"
"  --window-slots N    window slots (2048); the cache is twice that\n"
"  --page-size N       page size in bytes, 4096..65536 (4096)\n"
"  --backends LIST     comma separated from rfp,mmap,copy,linear,auto (all)\n"
"  --dir DIR           where the data file's temp directory goes (/var/tmp)\n"
"  --seed N            seed of the hot set and the sequences (1)\n"
"  --quick             fewer ops and reps, finishes in a few seconds\n"
"  --csv               print CSV rows instead of the table, columns backend,\n"
"                      runs, mode, threads, wall_ms, ns_per_op, mops,\n"
"                      scaling (vs 1 thread), x_bare (vs bare deref at the\n"
"                      same thread count), ops_per_thread, reps (machine\n"
"                      info, targets and notes go to stderr as # lines)\n"
"  --quiet             no progress lines on stderr\n"
"  -h, --help          this text\n"
"\n"
"The environment variable BUFPOOL_BACKEND would force one backend on every\n"
"pool; bpbench hit unsets it.  Exit status: 0, 1 on failure or when a pool\n"
"returned a page with the wrong content, 2 on a usage error.\n");
}

static int ht_parse_backends(ht_opts *o, char *s)
{
    static const struct {
        const char *name;
        bp_backend b;
    } names[] = {{"rfp", BP_BACKEND_RFP},       {"mmap", BP_BACKEND_MMAP},
                 {"copy", BP_BACKEND_COPY},     {"linear", BP_BACKEND_LINEAR},
                 {"auto", BP_BACKEND_AUTO}};
    char *items[HT_MAXBK + 1];
    int n = bu_split_list(s, items, HT_MAXBK);
    if (n <= 0) {
        fprintf(stderr, "bpbench: --backends: give 1 to %d of "
                        "rfp,mmap,copy,linear,auto\n", HT_MAXBK);
        return -1;
    }
    o->nbk = 0;
    for (int i = 0; i < n; i++) {
        int found = -1;
        for (int j = 0; j < HT_MAXBK; j++)
            if (strcmp(items[i], names[j].name) == 0)
                found = j;
        if (found < 0) {
            fprintf(stderr, "bpbench: --backends: unknown backend '%s'\n",
                    items[i]);
            return -1;
        }
        for (int j = 0; j < o->nbk; j++)
            if (o->bk[j] == names[found].b) {
                fprintf(stderr, "bpbench: --backends: '%s' twice\n", items[i]);
                return -1;
            }
        o->bk[o->nbk++] = names[found].b;
    }
    return 0;
}

enum {
    OPT_THREADS = 256, OPT_OPS, OPT_REPS, OPT_PAGES, OPT_WINDOW_SLOTS,
    OPT_PAGE_SIZE, OPT_BACKENDS, OPT_DIR, OPT_SEED, OPT_QUICK, OPT_CSV,
    OPT_QUIET
};

/* Returns 0, 1 for --help (exit 0), or -1 on a usage error. */
static int ht_parse(ht_opts *o, int argc, char **argv)
{
    static const struct option lo[] = {
        {"threads", required_argument, NULL, OPT_THREADS},
        {"ops", required_argument, NULL, OPT_OPS},
        {"reps", required_argument, NULL, OPT_REPS},
        {"pages", required_argument, NULL, OPT_PAGES},
        {"window-slots", required_argument, NULL, OPT_WINDOW_SLOTS},
        {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
        {"backends", required_argument, NULL, OPT_BACKENDS},
        {"dir", required_argument, NULL, OPT_DIR},
        {"seed", required_argument, NULL, OPT_SEED},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"csv", no_argument, NULL, OPT_CSV},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* 0 = not given: --quick or the full-run default fills it in below. */
    memset(o, 0, sizeof *o);
    o->page_size = 4096;
    o->window_slots = 2048;
    o->seed = 1;
    o->dir = "/var/tmp";
    char all_bk[] = "rfp,mmap,copy,linear,auto";
    ht_parse_backends(o, all_bk);

    optind = 0; /* full getopt reset (GNU) */
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case 'h': return 1;
        case OPT_THREADS:
            rc = bu_parse_u64("threads", optarg, 1, 1024, 0, &o->threads);
            break;
        case OPT_OPS:
            rc = bu_parse_u64("ops", optarg, 1, 1ull << 32, 1, &o->ops);
            break;
        case OPT_REPS:
            rc = bu_parse_u64("reps", optarg, 1, 1000, 0, &o->reps);
            break;
        case OPT_PAGES:
            rc = bu_parse_u64("pages", optarg, 1, 1u << 24, 1, &o->pages);
            break;
        case OPT_WINDOW_SLOTS:
            rc = bu_parse_u64("window-slots", optarg, 2, 1u << 24, 1,
                              &o->window_slots);
            break;
        case OPT_PAGE_SIZE:
            rc = bu_parse_u64("page-size", optarg, 4096, 65536, 1,
                              &o->page_size);
            if (!rc && (o->page_size & (o->page_size - 1))) {
                fprintf(stderr,
                        "bpbench: --page-size: must be a power of two\n");
                rc = -1;
            }
            break;
        case OPT_BACKENDS: rc = ht_parse_backends(o, optarg); break;
        case OPT_DIR: o->dir = optarg; break;
        case OPT_SEED:
            rc = bu_parse_u64("seed", optarg, 0, UINT64_MAX, 0, &o->seed);
            break;
        case OPT_QUICK: o->quick = 1; break;
        case OPT_CSV: o->csv = 1; break;
        case OPT_QUIET: o->quiet = 1; break;
        default: return -1; /* getopt printed the message */
        }
        if (rc)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "bpbench hit: unexpected argument '%s'\n",
                argv[optind]);
        return -1;
    }
    if (!o->ops)
        o->ops = o->quick ? 200000 : 2000000;
    if (!o->reps)
        o->reps = o->quick ? 3 : 5;
    if (!o->pages)
        o->pages = o->window_slots / 2;
    if (o->pages >= o->window_slots) {
        fprintf(stderr, "bpbench hit: --pages %llu must be below "
                "--window-slots %llu (every timed fix must be a window hit)\n",
                (unsigned long long)o->pages,
                (unsigned long long)o->window_slots);
        return -1;
    }
    return 0;
}

/* ---- Notes (printed under the tables) ------------------------------------ */

static void ht_note(ht_ctx *c, int kind, const char *fmt, ...) BU_PRINTF(3, 4);

static void ht_note(ht_ctx *c, int kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **n = realloc(c->note[kind], (c->nnote[kind] + 1) * sizeof *n);
    char *s = strdup(buf);
    if (!n || !s) { /* out of memory: say it now rather than lose it */
        free(s);
        if (n)
            c->note[kind] = n;
        fprintf(stderr, "bpbench: %s\n", buf);
        return;
    }
    c->note[kind] = n;
    n[c->nnote[kind]++] = s;
    if (kind == HT_NOTE_WARN && !c->o.quiet)
        bu_progress("WARNING: %s", buf);
}

/* ---- Set-up -------------------------------------------------------------- */

/* CPUs this process may run on (what nproc prints). */
static int ht_ncpu(void)
{
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) > 0)
        return CPU_COUNT(&cs);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int ht_setup(ht_ctx *c)
{
    ht_opts *o = &c->o;
    c->frames = 2 * o->window_slots;
    c->data_pages = c->frames;
    c->nhot = o->pages;

    uint64_t need = (uint64_t)o->nbk * c->frames * o->page_size;
    uint64_t avail = bu_mem_available();
    if (avail && need > avail / 2) {
        fprintf(stderr, "bpbench hit: %d caches of %llu MiB need more than "
                "half the available memory (%llu MiB): use fewer "
                "--window-slots, a smaller --page-size or fewer --backends\n",
                o->nbk, (unsigned long long)((c->frames * o->page_size) >> 20),
                (unsigned long long)(avail >> 20));
        return -1;
    }

    /* Thread counts: 1, 2 and N, ascending, without repeats. */
    c->ncpu = ht_ncpu();
    int n = o->threads ? (int)o->threads : c->ncpu;
    c->ntc = 0;
    c->tc[c->ntc++] = 1;
    c->tc[c->ntc++] = 2;
    if (n > 2)
        c->tc[c->ntc++] = n;
    if (c->ncpu < 2)
        ht_note(c, HT_NOTE_INFO, "this process may run on %d CPU: the 2-thread"
                " runs share it, so they cannot scale", c->ncpu);
    if (n > c->ncpu)
        ht_note(c, HT_NOTE_INFO, "--threads %d exceeds the %d CPUs this "
                "process may run on", n, c->ncpu);

    /* The hot set: a random sample of the data file's pages. */
    uint64_t *perm = malloc(c->data_pages * sizeof *perm);
    c->hot = malloc(c->nhot * sizeof *c->hot);
    if (!perm || !c->hot) {
        free(perm);
        fprintf(stderr, "bpbench hit: out of memory for the hot set\n");
        return -1;
    }
    bu_rng r;
    bu_rng_seed(&r, o->seed, 0, 0);
    for (uint64_t i = 0; i < c->data_pages; i++)
        perm[i] = i;
    uint64_t nblk = o->page_size / 4096;
    for (uint64_t i = 0; i < c->nhot; i++) {
        uint64_t j = i + bu_rng_below(&r, c->data_pages - i);
        uint64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        uint64_t pg = perm[i], k = (pg * 7u) % nblk;
        c->hot[i].pgno = pg;
        c->hot[i].stamp = bu_stamp(pg, k);
        c->hot[i].off = k * 4096 + bu_touch_line(pg, k);
    }
    free(perm);

    /* One random sequence per thread, shared by every backend and mode. */
    int maxt = c->tc[c->ntc - 1];
    c->seqlen = o->ops < HT_SEQ_MAX ? o->ops : HT_SEQ_MAX;
    c->seq = calloc((size_t)maxt, sizeof *c->seq);
    if (!c->seq) {
        fprintf(stderr, "bpbench hit: out of memory\n");
        return -1;
    }
    for (int t = 0; t < maxt; t++) {
        c->seq[t] = malloc(c->seqlen * sizeof *c->seq[t]);
        if (!c->seq[t]) {
            fprintf(stderr, "bpbench hit: out of memory for the sequences\n");
            return -1;
        }
        bu_rng_seed(&r, o->seed, 1 + (uint64_t)t, 0);
        for (uint64_t i = 0; i < c->seqlen; i++)
            c->seq[t][i] = (uint32_t)bu_rng_below(&r, c->nhot);
    }

    for (int b = 0; b < o->nbk; b++) {
        c->pool[b].ptr = calloc(c->nhot, sizeof *c->pool[b].ptr);
        if (!c->pool[b].ptr) {
            fprintf(stderr, "bpbench hit: out of memory\n");
            return -1;
        }
        for (int m = 0; m < HT_NMODE; m++)
            for (int ti = 0; ti < c->ntc; ti++) {
                ht_cell *cl = &c->cell[b][m][ti];
                cl->wall = calloc(o->reps, sizeof *cl->wall);
                if (!cl->wall) {
                    fprintf(stderr, "bpbench hit: out of memory\n");
                    return -1;
                }
            }
    }
    return 0;
}

static void ht_free(ht_ctx *c)
{
    for (int b = 0; b < HT_MAXBK; b++) {
        free(c->pool[b].ptr);
        for (int m = 0; m < HT_NMODE; m++)
            for (int ti = 0; ti < HT_MAXTC; ti++)
                free(c->cell[b][m][ti].wall);
    }
    if (c->seq)
        for (int t = 0; t < c->tc[c->ntc - 1]; t++)
            free(c->seq[t]);
    free(c->seq);
    free(c->hot);
    for (int k = 0; k < HT_NOTE_KINDS; k++) {
        for (size_t i = 0; i < c->nnote[k]; i++)
            free(c->note[k][i]);
        free(c->note[k]);
    }
}

/* ---- The measured loops -------------------------------------------------
 * Each runs ops ops over seq (wrapping at seqlen), adds the reads that did
 * not find the page's stamp to *bad, and returns 0 or the failing call's
 * code with why filled.  They run on the worker threads. */

static inline uint64_t ht_word(const void *page, uint64_t off)
{
    uint64_t v;
    memcpy(&v, (const unsigned char *)page + off, sizeof v);
    return v;
}

static int ht_loop_fix(bp_pool *p, const ht_hot *hot, const uint32_t *seq,
                       uint64_t seqlen, uint64_t ops, uint64_t *bad,
                       char *why, size_t whysz)
{
    uint64_t b = 0, j = 0;
    bp_page pg;
    for (uint64_t i = 0; i < ops; i++) {
        const ht_hot *h = &hot[seq[j]];
        if (++j == seqlen)
            j = 0;
        int rc = bp_fix(p, h->pgno, BP_SHARED, &pg);
        if (rc) {
            snprintf(why, whysz, "bp_fix(page %llu) at op %llu: %s (%d): %s",
                     (unsigned long long)h->pgno, (unsigned long long)i,
                     bp_strerror(rc), rc, bp_errmsg(p));
            *bad += b;
            return rc;
        }
        b += ht_word(pg.data, h->off) != h->stamp;
        rc = bp_unfix(p, &pg, 0);
        if (rc) {
            snprintf(why, whysz, "bp_unfix(page %llu) at op %llu: %s (%d): %s",
                     (unsigned long long)h->pgno, (unsigned long long)i,
                     bp_strerror(rc), rc, bp_errmsg(p));
            *bad += b;
            return rc;
        }
    }
    *bad += b;
    return 0;
}

/* The read loop of bufpool.h: retry on BP_ERETRY from bp_opt_begin and on
 * any failed bp_opt_validate; the word counts once it validated. */
static int ht_loop_opt(bp_pool *p, const ht_hot *hot, const uint32_t *seq,
                       uint64_t seqlen, uint64_t ops, uint64_t *bad,
                       uint64_t *retries, char *why, size_t whysz)
{
    uint64_t b = 0, j = 0, re = 0;
    bp_opt o;
    for (uint64_t i = 0; i < ops; i++) {
        const ht_hot *h = &hot[seq[j]];
        if (++j == seqlen)
            j = 0;
        for (uint64_t tries = 0;; tries++) {
            int rc = bp_opt_begin(p, h->pgno, &o);
            if (rc == 0) {
                uint64_t v = ht_word(o.data, h->off);
                if (bp_opt_validate(p, &o) == 0) {
                    b += v != h->stamp;
                    break;
                }
            } else if (rc != BP_ERETRY) {
                snprintf(why, whysz, "bp_opt_begin(page %llu) at op %llu: %s "
                         "(%d): %s", (unsigned long long)h->pgno,
                         (unsigned long long)i, bp_strerror(rc), rc,
                         bp_errmsg(p));
                *bad += b;
                *retries += re;
                return rc;
            }
            re++;
            if (tries == HT_OPT_MAX_RETRY) {
                snprintf(why, whysz, "optimistic read of page %llu at op %llu"
                         " still invalid after %d retries with no writer",
                         (unsigned long long)h->pgno, (unsigned long long)i,
                         HT_OPT_MAX_RETRY);
                *bad += b;
                *retries += re;
                return BP_ERETRY;
            }
        }
    }
    *bad += b;
    *retries += re;
    return 0;
}

static void ht_loop_bare(const unsigned char *const *ptr, const ht_hot *hot,
                         const uint32_t *seq, uint64_t seqlen, uint64_t ops,
                         uint64_t *bad)
{
    uint64_t b = 0, j = 0;
    for (uint64_t i = 0; i < ops; i++) {
        uint32_t k = seq[j];
        if (++j == seqlen)
            j = 0;
        b += ht_word(ptr[k], hot[k].off) != hot[k].stamp;
    }
    *bad += b;
}

/* ---- A timed phase: T threads, one mode, one pool ------------------------ */

typedef struct ht_phase {
    bp_pool *p;
    int mode;
    const ht_hot *hot;
    const unsigned char *const *ptr;
    uint64_t ops, seqlen;
    atomic_int ready; /* workers waiting at the start line */
    atomic_int go;    /* 0 wait, 1 run, -1 abort */
} ht_phase;

typedef struct ht_worker {
    ht_phase *ph;
    const uint32_t *seq;
    pthread_t tid;
    uint64_t t0, t1, bad, retries;
    int rc;
    char why[600];
} ht_worker;

static void *ht_worker_main(void *arg)
{
    ht_worker *w = arg;
    ht_phase *ph = w->ph;
    atomic_fetch_add_explicit(&ph->ready, 1, memory_order_release);
    int go;
    while ((go = atomic_load_explicit(&ph->go, memory_order_acquire)) == 0)
        sched_yield();
    if (go < 0)
        return NULL;
    uint64_t bad = 0, re = 0;
    w->t0 = bu_now_ns();
    switch (ph->mode) {
    case HT_FIX:
        w->rc = ht_loop_fix(ph->p, ph->hot, w->seq, ph->seqlen, ph->ops, &bad,
                            w->why, sizeof w->why);
        break;
    case HT_OPT:
        w->rc = ht_loop_opt(ph->p, ph->hot, w->seq, ph->seqlen, ph->ops, &bad,
                            &re, w->why, sizeof w->why);
        break;
    default:
        ht_loop_bare(ph->ptr, ph->hot, w->seq, ph->seqlen, ph->ops, &bad);
        break;
    }
    w->t1 = bu_now_ns();
    w->bad = bad;
    w->retries = re;
    return NULL;
}

/* Run ph on nt threads.  0 with the wall time (first start to last end) in
 * *wall_ns and the sums in *bad and *retries; or the first failing code
 * with why filled. */
static int ht_run_threads(ht_ctx *c, ht_phase *ph, int nt, double *wall_ns,
                          uint64_t *bad, uint64_t *retries, char *why,
                          size_t whysz)
{
    ht_worker *w = calloc((size_t)nt, sizeof *w);
    if (!w) {
        snprintf(why, whysz, "out of memory for %d threads", nt);
        return -ENOMEM;
    }
    atomic_init(&ph->ready, 0);
    atomic_init(&ph->go, 0);
    int made = 0, rc = 0;
    for (; made < nt; made++) {
        w[made].ph = ph;
        w[made].seq = c->seq[made];
        int e = pthread_create(&w[made].tid, NULL, ht_worker_main, &w[made]);
        if (e) {
            snprintf(why, whysz, "pthread_create (thread %d of %d): %s",
                     made + 1, nt, strerror(e));
            rc = -e;
            break;
        }
    }
    if (rc == 0)
        while (atomic_load_explicit(&ph->ready, memory_order_acquire) < nt)
            sched_yield();
    atomic_store_explicit(&ph->go, rc ? -1 : 1, memory_order_release);
    for (int t = 0; t < made; t++)
        pthread_join(w[t].tid, NULL);
    if (rc == 0) {
        uint64_t t0 = UINT64_MAX, t1 = 0;
        *bad = *retries = 0;
        for (int t = 0; t < nt; t++) {
            if (w[t].rc && rc == 0) {
                rc = w[t].rc;
                snprintf(why, whysz, "thread %d: %s", t, w[t].why);
            }
            if (w[t].t0 < t0)
                t0 = w[t].t0;
            if (w[t].t1 > t1)
                t1 = w[t].t1;
            *bad += w[t].bad;
            *retries += w[t].retries;
        }
        *wall_ns = (double)(t1 - t0);
    }
    free(w);
    return rc;
}

/* ---- Pools --------------------------------------------------------------- */

static int ht_stats(bp_pool *p, bp_stats *st, char *why, size_t whysz)
{
    memset(st, 0, sizeof *st);
    int rc = bp_stats_get(p, st, sizeof *st);
    if (rc)
        snprintf(why, whysz, "bp_stats_get: %s (%d): %s", bp_strerror(rc), rc,
                 bp_errmsg(p));
    return rc;
}

/* Open the pool of backend b into c->pool[b]; 0, or an error with why.
 * The data file is opened with O_DIRECT, or buffered where the file system
 * refuses it (window hits do no I/O either way). */
static int ht_open(ht_ctx *c, int b, char *why, size_t whysz)
{
    ht_pool *pl = &c->pool[b];
    unsigned flags = 0;
    int rc;
    for (;;) {
        bp_pool *p = NULL;
        rc = bp_create(&p, NULL);
        if (rc) {
            snprintf(why, whysz, "bp_create: %s", bp_strerror(rc));
            return rc;
        }
#define HT_TRY(name, call)                                                     \
    do {                                                                       \
        rc = (call);                                                           \
        if (rc) {                                                              \
            snprintf(why, whysz, "%s: %s (%d): %s", name, bp_strerror(rc),     \
                     rc, bp_errmsg(p));                                        \
            bp_close(p);                                                       \
            goto failed;                                                       \
        }                                                                      \
    } while (0)
        HT_TRY("bp_set_page_size", bp_set_page_size(p, c->o.page_size));
        HT_TRY("bp_set_cache_frames", bp_set_cache_frames(p, c->frames));
        HT_TRY("bp_set_window_slots",
               bp_set_window_slots(p, c->o.window_slots));
        HT_TRY("bp_set_backend", bp_set_backend(p, c->o.bk[b]));
        HT_TRY("bp_set_shm", bp_set_shm(p, NULL, 0));
        HT_TRY("bp_open", bp_open(p, c->path, flags));
#undef HT_TRY
        pl->p = p;
        pl->open_flags = flags;
        return ht_stats(p, &pl->st, why, whysz);
    failed:
        if (rc != BP_ENODIRECT || flags)
            return rc;
        flags = BP_BUFFERED_IO;
    }
}

/* Backend b failed: note why, mark all its cells n/a, close the pool. */
static void ht_fail(ht_ctx *c, int b, const char *what, const char *why)
{
    ht_pool *pl = &c->pool[b];
    const char *bn = bp_backend_name(c->o.bk[b]);
    for (int m = 0; m < HT_NMODE; m++)
        for (int ti = 0; ti < c->ntc; ti++)
            c->cell[b][m][ti].na = 1;
    pl->dead = 1;
    int rc = pl->p ? bp_close(pl->p) : 0;
    if (rc)
        ht_note(c, HT_NOTE_NA, "%s: %s failed: %s; then bp_close: %s (%d) "
                "(pool leaked)", bn, what, why, bp_strerror(rc), rc);
    else
        ht_note(c, HT_NOTE_NA, "%s: %s failed: %s", bn, what, why);
    pl->p = NULL;
    bu_progress("%s: n/a: %s: %s", bn, what, why);
}

static void ht_data_error(ht_ctx *c, int b, const char *what, uint64_t bad)
{
    c->data_error = 1;
    ht_note(c, HT_NOTE_WARN, "DATA ERROR: %s: %llu reads found another "
            "page's content during the %s (library bug)",
            bp_backend_name(c->o.bk[b]), (unsigned long long)bad, what);
}

/* Map the hot set into the window until a pass over it maps nothing, take
 * the bare deref pointers in a last pass (each while its page is fixed),
 * and make one optimistic pass.  0, or -1 after ht_fail. */
static int ht_warm(ht_ctx *c, int b)
{
    ht_pool *pl = &c->pool[b];
    const char *bn = bp_backend_name(c->o.bk[b]);
    char why[1200];
    bp_stats s0, s1;
    uint64_t bad = 0;
    uint32_t *all = malloc(c->nhot * sizeof *all);
    if (!all) {
        ht_fail(c, b, "warm-up", "out of memory");
        return -1;
    }
    for (uint64_t i = 0; i < c->nhot; i++)
        all[i] = (uint32_t)i;

    int pass = 0, settled = 0;
    for (; pass < 6 && !settled; pass++) {
        if (ht_stats(pl->p, &s0, why, sizeof why) ||
            ht_loop_fix(pl->p, c->hot, all, c->nhot, c->nhot, &bad, why,
                        sizeof why) ||
            ht_stats(pl->p, &s1, why, sizeof why))
            goto fail;
        settled = pass > 0 && s1.window_misses == s0.window_misses;
    }
    if (!settled)
        ht_note(c, HT_NOTE_WARN, "%s: warm-up: the %llu hot pages still "
                "missed the window after %d passes", bn,
                (unsigned long long)c->nhot, pass);

    /* The pointers: the page's address while it is fixed. */
    if (ht_stats(pl->p, &s0, why, sizeof why))
        goto fail;
    for (uint64_t i = 0; i < c->nhot; i++) {
        bp_page pg;
        int rc = bp_fix(pl->p, c->hot[i].pgno, BP_SHARED, &pg);
        if (rc) {
            snprintf(why, sizeof why, "bp_fix(page %llu): %s (%d): %s",
                     (unsigned long long)c->hot[i].pgno, bp_strerror(rc), rc,
                     bp_errmsg(pl->p));
            goto fail;
        }
        pl->ptr[i] = pg.data;
        bad += ht_word(pg.data, c->hot[i].off) != c->hot[i].stamp;
        rc = bp_unfix(pl->p, &pg, 0);
        if (rc) {
            snprintf(why, sizeof why, "bp_unfix(page %llu): %s (%d): %s",
                     (unsigned long long)c->hot[i].pgno, bp_strerror(rc), rc,
                     bp_errmsg(pl->p));
            goto fail;
        }
    }
    if (ht_stats(pl->p, &s1, why, sizeof why))
        goto fail;
    if (s1.window_misses != s0.window_misses)
        ht_note(c, HT_NOTE_WARN, "%s: %llu window misses while taking the "
                "bare deref pointers: some may point at remapped slots", bn,
                (unsigned long long)(s1.window_misses - s0.window_misses));
    if (bad)
        ht_data_error(c, b, "warm-up", bad);

    /* One optimistic pass; a failure here only takes that mode out. */
    uint64_t re = 0;
    bad = 0;
    int rc = ht_loop_opt(pl->p, c->hot, all, c->nhot, c->nhot, &bad, &re, why,
                         sizeof why);
    free(all);
    if (bad)
        ht_data_error(c, b, "optimistic warm-up", bad);
    if (rc) {
        for (int ti = 0; ti < c->ntc; ti++)
            c->cell[b][HT_OPT][ti].na = 1;
        ht_note(c, HT_NOTE_NA, "%s: optimistic warm-up failed: %s", bn, why);
        bu_progress("%s: optimistic: n/a: %s", bn, why);
    }
    return 0;

fail:
    free(all);
    if (bad)
        ht_data_error(c, b, "warm-up", bad);
    ht_fail(c, b, "warm-up", why);
    return -1;
}

/* One timed phase of backend b, mode m, thread count index ti. */
static void ht_timed(ht_ctx *c, int b, int m, int ti)
{
    ht_pool *pl = &c->pool[b];
    ht_cell *cl = &c->cell[b][m][ti];
    char why[1200];
    bp_stats s0, s1;
    ht_phase ph;
    memset(&ph, 0, sizeof ph);
    ph.p = pl->p;
    ph.mode = m;
    ph.hot = c->hot;
    ph.ptr = pl->ptr;
    ph.ops = c->o.ops;
    ph.seqlen = c->seqlen;

    if (ht_stats(pl->p, &s0, why, sizeof why)) {
        ht_fail(c, b, "timed phase", why);
        return;
    }
    double wall = 0.0;
    uint64_t bad = 0, re = 0;
    int rc = ht_run_threads(c, &ph, c->tc[ti], &wall, &bad, &re, why,
                            sizeof why);
    cl->bad += bad;
    cl->retries += re;
    if (rc) {
        if (m == HT_OPT) { /* the pool itself still works: drop the mode */
            for (int t = 0; t < c->ntc; t++)
                c->cell[b][m][t].na = 1;
            ht_note(c, HT_NOTE_NA, "%s: optimistic, %d threads: %s",
                    bp_backend_name(c->o.bk[b]), c->tc[ti], why);
            bu_progress("%s: optimistic: n/a: %s",
                        bp_backend_name(c->o.bk[b]), why);
        } else {
            ht_fail(c, b, "timed phase", why);
        }
        return;
    }
    if (ht_stats(pl->p, &s1, why, sizeof why)) {
        ht_fail(c, b, "timed phase", why);
        return;
    }
    cl->wall[cl->nrep++] = wall;
    cl->fixes += s1.fixes - s0.fixes;
    cl->wm += s1.window_misses - s0.window_misses;
    cl->opt_begins += s1.opt_begins - s0.opt_begins;
    cl->opt_failures += s1.opt_failures - s0.opt_failures;
    cl->latch_waits += s1.latch_waits - s0.latch_waits;
}

/* Is each cell what it claims?  WARNING notes if not. */
static void ht_check(ht_ctx *c, int b)
{
    const char *bn = bp_backend_name(c->o.bk[b]);
    for (int m = 0; m < HT_NMODE; m++)
        for (int ti = 0; ti < c->ntc; ti++) {
            const ht_cell *cl = &c->cell[b][m][ti];
            const char *mn = ht_mode_name[m];
            int nt = c->tc[ti];
            uint64_t ops = (uint64_t)nt * c->o.ops * cl->nrep;
            if (cl->bad && m != HT_BARE)
                ht_data_error(c, b, m == HT_FIX ? "timed fixes"
                                                : "timed optimistic reads",
                              cl->bad);
            if (cl->bad && m == HT_BARE)
                ht_note(c, HT_NOTE_WARN, "%s/bare/%d thr: %llu reads through "
                        "the kept pointers found another page (a slot was "
                        "remapped after the warm-up)", bn, nt,
                        (unsigned long long)cl->bad);
            if (cl->nrep == 0)
                continue;
            if (cl->wm)
                ht_note(c, HT_NOTE_WARN, "%s/%s/%d thr: %llu window misses "
                        "(%.3f%% of ops) in the timed phases, expected 0: not "
                        "pure window hits", bn, mn, nt,
                        (unsigned long long)cl->wm,
                        100.0 * (double)cl->wm / (double)ops);
            if (m == HT_FIX && cl->fixes != ops)
                ht_note(c, HT_NOTE_WARN, "%s/fix/%d thr: bp_stats counted %llu"
                        " fixes in the timed phases, the bench made %llu", bn,
                        nt, (unsigned long long)cl->fixes,
                        (unsigned long long)ops);
            if (m == HT_FIX && cl->latch_waits)
                ht_note(c, HT_NOTE_WARN, "%s/fix/%d thr: %llu latch waits in "
                        "shared-only fixes", bn, nt,
                        (unsigned long long)cl->latch_waits);
            if (m == HT_OPT && cl->opt_begins < ops)
                ht_note(c, HT_NOTE_WARN, "%s/optimistic/%d thr: bp_stats "
                        "counted %llu successful bp_opt_begin, the bench made"
                        " %llu optimistic reads", bn, nt,
                        (unsigned long long)cl->opt_begins,
                        (unsigned long long)ops);
            if (m == HT_OPT && (cl->retries || cl->opt_failures))
                ht_note(c, HT_NOTE_WARN, "%s/optimistic/%d thr: %llu retries, "
                        "%llu failed validations (bp_stats) with no writer "
                        "and no eviction", bn, nt,
                        (unsigned long long)cl->retries,
                        (unsigned long long)cl->opt_failures);
            if (m == HT_OPT && cl->fixes)
                ht_note(c, HT_NOTE_INFO, "%s/optimistic/%d thr: bp_stats "
                        "counted %llu fixes during optimistic reads of "
                        "pages in the window", bn, nt,
                        (unsigned long long)cl->fixes);
            if (m == HT_BARE && cl->fixes)
                ht_note(c, HT_NOTE_WARN, "%s/bare/%d thr: %llu fixes counted "
                        "while no thread called the library", bn, nt,
                        (unsigned long long)cl->fixes);
        }
}

static void ht_record_open(ht_ctx *c, int b)
{
    const bp_stats *st = &c->pool[b].st;
    bp_backend want = c->o.bk[b];
    const char *bn = bp_backend_name(want);
    if (want == BP_BACKEND_AUTO)
        snprintf(c->auto_chose, sizeof c->auto_chose, "%s (%.150s)",
                 bp_backend_name((bp_backend)st->backend), st->backend_reason);
    else if (st->backend != (uint32_t)want)
        ht_note(c, HT_NOTE_WARN, "%s: the pool runs backend %s, not %s", bn,
                bp_backend_name((bp_backend)st->backend), bn);
    if (st->slots != c->o.window_slots && st->backend != BP_BACKEND_LINEAR)
        ht_note(c, HT_NOTE_INFO, "%s: %llu window slots (asked %llu)", bn,
                (unsigned long long)st->slots,
                (unsigned long long)c->o.window_slots);
    if (st->frames != c->frames)
        ht_note(c, HT_NOTE_INFO, "%s: %llu cache frames (asked %llu)", bn,
                (unsigned long long)st->frames, (unsigned long long)c->frames);
    if (c->pool[b].open_flags & BP_BUFFERED_IO)
        ht_note(c, HT_NOTE_INFO, "%s: the data file refused O_DIRECT: opened "
                "with BP_BUFFERED_IO (window hits do no I/O)", bn);
}

/* Open every pool, warm them, run the reps round-robin, check, close. */
static void ht_run_all(ht_ctx *c)
{
    ht_opts *o = &c->o;
    char why[1200];

    bu_progress("opening %d pools", o->nbk);
    for (int b = 0; b < o->nbk; b++) {
        uint64_t t0 = bu_now_ns();
        if (ht_open(c, b, why, sizeof why)) {
            ht_fail(c, b, "open", why);
            continue;
        }
        ht_record_open(c, b);
        if (o->bk[b] == BP_BACKEND_AUTO)
            bu_progress("auto chose %s in %.2f s: %s",
                        bp_backend_name((bp_backend)c->pool[b].st.backend),
                        (double)(bu_now_ns() - t0) / 1e9,
                        c->pool[b].st.backend_reason);
    }
    bu_progress("warming %llu hot pages into each window",
                (unsigned long long)c->nhot);
    for (int b = 0; b < o->nbk; b++)
        if (!c->pool[b].dead)
            ht_warm(c, b);

    /* Innermost the thread counts, then the modes: the phases whose ratio
     * the report takes run back to back. */
    for (uint64_t rep = 0; rep < o->reps; rep++) {
        bu_progress("rep %llu/%llu: %d pools x %d modes x %d thread counts x "
                    "%llu ops per thread", (unsigned long long)rep + 1,
                    (unsigned long long)o->reps, o->nbk, HT_NMODE, c->ntc,
                    (unsigned long long)o->ops);
        for (int b = 0; b < o->nbk; b++)
            for (int m = 0; m < HT_NMODE; m++)
                for (int ti = 0; ti < c->ntc; ti++)
                    if (!c->pool[b].dead && !c->cell[b][m][ti].na)
                        ht_timed(c, b, m, ti);
    }

    for (int b = 0; b < o->nbk; b++) {
        ht_pool *pl = &c->pool[b];
        ht_check(c, b);
        if (pl->dead || !pl->p)
            continue;
        const char *bn = bp_backend_name(o->bk[b]);
        int rc = bp__test_check(pl->p);
        if (rc)
            ht_note(c, HT_NOTE_WARN, "%s: invariant check after the run: %s "
                    "(%d): %s", bn, bp_strerror(rc), rc, bp_errmsg(pl->p));
        rc = bp_close(pl->p);
        if (rc)
            ht_note(c, HT_NOTE_WARN, "%s: bp_close: %s (%d): %s", bn,
                    bp_strerror(rc), rc, bp_errmsg(pl->p));
        pl->p = NULL;
    }
}

/* ---- Report -------------------------------------------------------------- */

/* Median wall time of a cell in ns; 0 when it has no number. */
static int ht_wall(const ht_ctx *c, int b, int m, int ti, double *wall)
{
    const ht_cell *cl = &c->cell[b][m][ti];
    if (cl->na || cl->nrep != c->o.reps)
        return 0;
    *wall = bu_median(cl->wall, cl->nrep);
    return *wall > 0.0;
}

/* ns per op per thread, and total Mops/s, of a cell; 0 when n/a. */
static int ht_result(const ht_ctx *c, int b, int m, int ti, double *ns,
                     double *mops)
{
    double wall;
    if (!ht_wall(c, b, m, ti, &wall))
        return 0;
    *ns = wall / (double)c->o.ops;
    *mops = (double)c->tc[ti] * (double)c->o.ops / wall * 1e3;
    return 1;
}

/* Median over the reps of k * wall(a) / wall(b), each rep's two phases
 * having run back to back (a drift of the machine between reps cancels);
 * 0 when either cell is n/a.  With k = T, a = 1 thread and b = T threads
 * it is the scaling; with a = fix and b = bare deref, "x bare". */
static int ht_paired(const ht_ctx *c, const ht_cell *a, const ht_cell *b,
                     double k, double *out)
{
    double v[1000];
    uint64_t n = c->o.reps;
    if (a->na || b->na || a->nrep != n || b->nrep != n || n > 1000)
        return 0;
    for (uint64_t r = 0; r < n; r++) {
        if (b->wall[r] <= 0.0)
            return 0;
        v[r] = k * a->wall[r] / b->wall[r];
    }
    *out = bu_median(v, n);
    return 1;
}

static int ht_tc_index(const ht_ctx *c, int nt)
{
    for (int ti = 0; ti < c->ntc; ti++)
        if (c->tc[ti] == nt)
            return ti;
    return -1;
}

static void ht_fmt(char *buf, size_t n, double v)
{
    if (v < 10.0)
        snprintf(buf, n, "%.2f", v);
    else if (v < 100.0)
        snprintf(buf, n, "%.1f", v);
    else
        snprintf(buf, n, "%.0f", v);
}

/* Row label of backend b: auto shows what it chose. */
static void ht_bk_label(const ht_ctx *c, int b, char *buf, size_t n)
{
    const ht_pool *pl = &c->pool[b];
    if (c->o.bk[b] == BP_BACKEND_AUTO && pl->st.size)
        snprintf(buf, n, "auto=%s",
                 bp_backend_name((bp_backend)pl->st.backend));
    else
        snprintf(buf, n, "%s", bp_backend_name(c->o.bk[b]));
}

/* The three load averages of /proc/loadavg into buf ("?" when unknown);
 * returns the 1-minute one (-1.0 when unknown). */
static double ht_loadavg(char *buf, size_t n)
{
    double l1 = -1.0, l5, l15;
    FILE *f = fopen("/proc/loadavg", "r");
    snprintf(buf, n, "?");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) == 3)
            snprintf(buf, n, "%.2f %.2f %.2f", l1, l5, l15);
        else
            l1 = -1.0;
        fclose(f);
    }
    return l1;
}

static void ht_print_header(ht_ctx *c, const char *fs, double write_secs)
{
    ht_opts *o = &c->o;
    FILE *f = c->info;
    const char *pre = o->csv ? "# " : "";
    char b1[32], b2[32], b3[32];

    fprintf(f, "%sbpbench hit%s: window-hit bp_fix(shared) + read one word + "
               "bp_unfix vs optimistic read vs bare pointer deref, median of "
               "%llu reps\n", pre, o->quick ? " --quick" : "",
            (unsigned long long)o->reps);
    bu_print_machine(f, pre);
    fprintf(f, "%spool: page %llu B, cache %llu frames (%s), window %llu slots"
               " (%s), memfd shm, prefault populate\n", pre,
            (unsigned long long)o->page_size, (unsigned long long)c->frames,
            bu_fmt_bytes(c->frames * o->page_size, b1, sizeof b1),
            (unsigned long long)o->window_slots,
            bu_fmt_bytes(o->window_slots * o->page_size, b2, sizeof b2));
    fprintf(f, "%sdata: %s on %s, %s (%llu pages), written in %.1f s\n", pre,
            c->path, fs, bu_fmt_bytes(c->data_pages * o->page_size, b3,
                                      sizeof b3),
            (unsigned long long)c->data_pages, write_secs);
    fprintf(f, "%shot set: %llu pages shared by all threads, each thread its "
               "own random sequence over it; %llu ops per thread per rep\n",
            pre, (unsigned long long)c->nhot, (unsigned long long)o->ops);
    fprintf(f, "%sthreads:", pre);
    for (int ti = 0; ti < c->ntc; ti++)
        fprintf(f, " %d", c->tc[ti]);
    fprintf(f, " (this process may run on %d CPUs); backends:", c->ncpu);
    for (int b = 0; b < o->nbk; b++)
        fprintf(f, " %s", bp_backend_name(o->bk[b]));
    fprintf(f, "; reps interleaved round-robin over backends, modes and "
               "thread counts; seed %llu\n", (unsigned long long)o->seed);
    char la[64];
    double l1 = ht_loadavg(la, sizeof la);
    fprintf(f, "%sload average at start: %s\n", pre, la);
    if (l1 > 0.5)
        ht_note(c, HT_NOTE_INFO, "the machine was busy at the start (load "
                "average %.2f on %d CPUs): expect noise, most of all in the "
                "multi-thread columns", l1, c->ncpu);
    fflush(f);
}

static void ht_print_table(ht_ctx *c)
{
    const char *hdr[3 + 2 * HT_MAXTC + 1];
    char hb[2 * HT_MAXTC][48];
    const char *row[3 + 2 * HT_MAXTC + 1];
    char cb[3 + 2 * HT_MAXTC + 1][64];
    size_t nc = 0;
    bu_table t;

    hdr[nc++] = "";
    hdr[nc++] = "ns/op 1 thr";
    hdr[nc++] = "(reps min-max)";
    hdr[nc++] = "Mops/s 1 thr";
    for (int ti = 1; ti < c->ntc; ti++) {
        snprintf(hb[2 * ti], sizeof hb[0], "Mops/s %d thr", c->tc[ti]);
        snprintf(hb[2 * ti + 1], sizeof hb[0], "scaling %d/1", c->tc[ti]);
        hdr[nc++] = hb[2 * ti];
        hdr[nc++] = hb[2 * ti + 1];
    }
    hdr[nc++] = "x bare";
    bu_table_init(&t, nc);
    bu_table_add(&t, hdr);

    static const int order[HT_NMODE] = {HT_FIX, HT_OPT, HT_BARE};
    for (int b = 0; b < c->o.nbk; b++) {
        char bk[40];
        ht_bk_label(c, b, bk, sizeof bk);
        for (int k = 0; k < HT_NMODE; k++) {
            int m = order[k];
            size_t i = 0;
            double ns1 = 0.0, mops1 = 0.0;
            int have1 = ht_result(c, b, m, 0, &ns1, &mops1);
            if (m == HT_FIX)
                snprintf(cb[i], sizeof cb[i], "%s", bk);
            else
                snprintf(cb[i], sizeof cb[i], "%s (%s)",
                         m == HT_OPT ? "optimistic" : "bare deref", bk);
            i++;
            if (have1) {
                const ht_cell *cl = &c->cell[b][m][0];
                double lo = cl->wall[0], hi = cl->wall[0];
                char a[24], z[24];
                for (uint64_t r = 1; r < cl->nrep; r++) {
                    lo = cl->wall[r] < lo ? cl->wall[r] : lo;
                    hi = cl->wall[r] > hi ? cl->wall[r] : hi;
                }
                ht_fmt(a, sizeof a, lo / (double)c->o.ops);
                ht_fmt(z, sizeof z, hi / (double)c->o.ops);
                ht_fmt(cb[i++], sizeof cb[0], ns1);
                snprintf(cb[i++], sizeof cb[0], "%s-%s", a, z);
                ht_fmt(cb[i++], sizeof cb[0], mops1);
            } else {
                for (int k2 = 0; k2 < 3; k2++)
                    snprintf(cb[i++], sizeof cb[0], "n/a");
            }
            for (int ti = 1; ti < c->ntc; ti++) {
                double ns, mops, sc;
                if (ht_result(c, b, m, ti, &ns, &mops)) {
                    ht_fmt(cb[i++], sizeof cb[0], mops);
                    if (ht_paired(c, &c->cell[b][m][0], &c->cell[b][m][ti],
                                  (double)c->tc[ti], &sc))
                        snprintf(cb[i++], sizeof cb[0], "%.2f", sc);
                    else
                        snprintf(cb[i++], sizeof cb[0], "-");
                } else {
                    snprintf(cb[i++], sizeof cb[0], "n/a");
                    snprintf(cb[i++], sizeof cb[0], "-");
                }
            }
            double xb;
            if (have1 && ht_paired(c, &c->cell[b][m][0],
                                   &c->cell[b][HT_BARE][0], 1.0, &xb))
                ht_fmt(cb[i++], sizeof cb[0], xb);
            else
                snprintf(cb[i++], sizeof cb[0], "-");
            for (size_t j = 0; j < nc; j++)
                row[j] = cb[j];
            bu_table_add(&t, row);
        }
    }
    printf("\nWindow hits, median of %llu reps: ns per op on 1 thread (wall "
           "/ ops) and the fastest-slowest rep; total Mops/s (threads x ops /"
           " wall); scaling = N-thread / 1-thread Mops/s and x bare = "
           "1-thread ns / bare deref ns, both medians of the per-rep ratios "
           "(the two phases of a rep run back to back)\n",
           (unsigned long long)c->o.reps);
    bu_table_print(&t, stdout, "  ", 1);
    bu_table_free(&t);
}

static void ht_print_csv(ht_ctx *c)
{
    static const char *const hdr[] = {"backend", "runs", "mode", "threads",
                                      "wall_ms", "ns_per_op", "mops",
                                      "scaling", "x_bare", "ops_per_thread",
                                      "reps"};
    bu_csv_row(stdout, hdr, 11);
    for (int b = 0; b < c->o.nbk; b++)
        for (int m = 0; m < HT_NMODE; m++)
            for (int ti = 0; ti < c->ntc; ti++) {
                char runs[32] = "NA", nt[16], wall_s[32] = "NA",
                     ns_s[32] = "NA", mops_s[32] = "NA", sc_s[32] = "NA",
                     xb_s[32] = "NA", ops_s[32], reps_s[32];
                double wall, ns, mops, x;
                if (c->pool[b].st.size)
                    snprintf(runs, sizeof runs, "%s",
                             bp_backend_name(
                                 (bp_backend)c->pool[b].st.backend));
                if (ht_wall(c, b, m, ti, &wall) &&
                    ht_result(c, b, m, ti, &ns, &mops)) {
                    snprintf(wall_s, sizeof wall_s, "%.3f", wall / 1e6);
                    snprintf(ns_s, sizeof ns_s, "%.2f", ns);
                    snprintf(mops_s, sizeof mops_s, "%.2f", mops);
                }
                if (ht_paired(c, &c->cell[b][m][0], &c->cell[b][m][ti],
                              (double)c->tc[ti], &x))
                    snprintf(sc_s, sizeof sc_s, "%.3f", x);
                if (ht_paired(c, &c->cell[b][m][ti], &c->cell[b][HT_BARE][ti],
                              1.0, &x))
                    snprintf(xb_s, sizeof xb_s, "%.3f", x);
                snprintf(nt, sizeof nt, "%d", c->tc[ti]);
                snprintf(ops_s, sizeof ops_s, "%llu",
                         (unsigned long long)c->o.ops);
                snprintf(reps_s, sizeof reps_s, "%llu",
                         (unsigned long long)c->cell[b][m][ti].nrep);
                const char *f[] = {bp_backend_name(c->o.bk[b]), runs,
                                   ht_mode_name[m], nt,    wall_s, ns_s,
                                   mops_s, sc_s,          xb_s,   ops_s,
                                   reps_s};
                bu_csv_row(stdout, f, 11);
            }
}

/* The targets: one row per backend, one column per target, each
 * cell the measured value and "met" or "MISSED"; then per target how many
 * backends meet it. */
enum { HT_T_NS, HT_T_BARE, HT_T_SCALE2, HT_T_OPT1, HT_T_OPTN, HT_NT };

/* Target r of backend b: 1 met, 0 missed, -1 no number; the value in buf.
 * Ratios are the paired per-rep medians of the table. */
static int ht_target(const ht_ctx *c, int b, int r, char *buf, size_t n)
{
    int ti2 = ht_tc_index(c, 2), tiN = c->ntc - 1;
    const ht_cell *fix = c->cell[b][HT_FIX], *opt = c->cell[b][HT_OPT];
    double ns, mops, x;
    switch (r) {
    case HT_T_NS:
        if (!ht_result(c, b, HT_FIX, 0, &ns, &mops))
            return -1;
        snprintf(buf, n, "%.1f ns", ns);
        return ns <= HT_TARGET_NS;
    case HT_T_BARE:
        if (!ht_paired(c, &fix[0], &c->cell[b][HT_BARE][0], 1.0, &x))
            return -1;
        snprintf(buf, n, "%.1fx", x);
        return x <= HT_TARGET_BARE_X;
    case HT_T_SCALE2:
        if (ti2 < 0 || !ht_paired(c, &fix[0], &fix[ti2], 2.0, &x))
            return -1;
        snprintf(buf, n, "%.2fx", x);
        return x >= HT_TARGET_SCALE2;
    case HT_T_OPT1: /* opt ns / fix ns */
        if (!ht_paired(c, &opt[0], &fix[0], 1.0, &x))
            return -1;
        snprintf(buf, n, "%.2f", x);
        return x < 1.0;
    default: /* opt Mops/s / fix Mops/s = fix wall / opt wall */
        if (!ht_paired(c, &fix[tiN], &opt[tiN], 1.0, &x))
            return -1;
        snprintf(buf, n, "%.2f", x);
        return x > 1.0;
    }
}

static void ht_print_targets(ht_ctx *c)
{
    FILE *f = c->info;
    const char *pre = c->o.csv ? "# " : "";
    int nN = c->tc[c->ntc - 1], nt = nN > 1 ? HT_NT : HT_NT - 1;
    char hb[HT_NT][48], lab[HT_NT][120], cb[HT_NT][64], bk[40];
    const char *hdr[1 + HT_NT], *row[1 + HT_NT];
    int met[HT_NT] = {0}, tried[HT_NT] = {0};
    char who[HT_NT][200];
    bu_table t;

    snprintf(hb[HT_T_NS], sizeof hb[0], "<= %.0f ns", HT_TARGET_NS);
    snprintf(lab[HT_T_NS], sizeof lab[0], "single-thread window hit (shared "
             "fix+read+unfix) at most %.0f ns", HT_TARGET_NS);
    snprintf(hb[HT_T_BARE], sizeof hb[0], "<= %.0fx bare", HT_TARGET_BARE_X);
    snprintf(lab[HT_T_BARE], sizeof lab[0], "single-thread window hit at most "
             "%.0fx the bare deref", HT_TARGET_BARE_X);
    snprintf(hb[HT_T_SCALE2], sizeof hb[0], "2 thr >= %.1fx", HT_TARGET_SCALE2);
    snprintf(lab[HT_T_SCALE2], sizeof lab[0], "2 threads at least %.1fx the "
             "1-thread Mops/s on read-only shared fixes", HT_TARGET_SCALE2);
    snprintf(hb[HT_T_OPT1], sizeof hb[0], "opt/fix ns 1 thr < 1");
    snprintf(lab[HT_T_OPT1], sizeof lab[0], "optimistic read faster than "
             "shared fix, 1 thread (ns/op optimistic / fix below 1)");
    snprintf(hb[HT_T_OPTN], sizeof hb[0], "opt/fix Mops/s %d thr > 1", nN);
    snprintf(lab[HT_T_OPTN], sizeof lab[0], "optimistic read faster than "
             "shared fix, %d threads (Mops/s optimistic / fix above 1)", nN);

    bu_table_init(&t, 1 + (size_t)nt);
    hdr[0] = "";
    for (int r = 0; r < nt; r++) {
        hdr[1 + r] = hb[r];
        who[r][0] = '\0';
    }
    bu_table_add(&t, hdr);
    for (int b = 0; b < c->o.nbk; b++) {
        ht_bk_label(c, b, bk, sizeof bk);
        row[0] = bk;
        for (int r = 0; r < nt; r++) {
            char v[48];
            int ok = ht_target(c, b, r, v, sizeof v);
            if (ok < 0) {
                snprintf(cb[r], sizeof cb[r], "n/a");
            } else {
                snprintf(cb[r], sizeof cb[r], "%s %s", v,
                         ok ? "met" : "MISSED");
                tried[r]++;
                met[r] += ok;
                if (ok) {
                    size_t l = strlen(who[r]);
                    snprintf(who[r] + l, sizeof who[r] - l, "%s%s",
                             l ? ", " : "", bk);
                }
            }
            row[1 + r] = cb[r];
        }
        bu_table_add(&t, row);
    }
    fprintf(f, "\n%sThe issue's targets, computed from the medians above "
               "(reports, not pass/fail):\n", pre);
    bu_table_print(&t, f, c->o.csv ? "#   " : "  ", 1);
    bu_table_free(&t);
    for (int r = 0; r < nt; r++)
        fprintf(f, "%s  %s: met by %d of %d backends%s%s%s\n", pre, lab[r],
                met[r], tried[r], met[r] ? " (" : "", who[r],
                met[r] ? ")" : "");
    if (c->ncpu < 2)
        fprintf(f, "%s  (one CPU: the 2-thread target cannot be met here)\n",
                pre);
}

static void ht_print_notes(ht_ctx *c)
{
    FILE *f = c->info;
    const char *pre = c->o.csv ? "# " : "";
    char la[64];
    ht_loadavg(la, sizeof la);
    fputc('\n', f);
    fprintf(f, "%sload average at the end: %s\n", pre, la);
    if (c->auto_chose[0])
        fprintf(f, "%sauto chose %s\n", pre, c->auto_chose);
    for (size_t i = 0; i < c->nnote[HT_NOTE_INFO]; i++)
        fprintf(f, "%snote: %s\n", pre, c->note[HT_NOTE_INFO][i]);
    for (size_t i = 0; i < c->nnote[HT_NOTE_NA]; i++)
        fprintf(f, "%sn/a: %s\n", pre, c->note[HT_NOTE_NA][i]);
    for (size_t i = 0; i < c->nnote[HT_NOTE_WARN]; i++)
        fprintf(f, "%sWARNING: %s\n", pre, c->note[HT_NOTE_WARN][i]);
    if (c->nnote[HT_NOTE_WARN] == 0)
        fprintf(f, "%schecks: no window miss in any timed phase, bp_stats "
                   "counted the ops the bench made, no optimistic read "
                   "retried, every read found its page's stamp, pool "
                   "invariants hold\n", pre);
}

/* ---- Entry point --------------------------------------------------------- */

int bench_hit_main(int argc, char **argv)
{
    ht_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "bpbench hit: out of memory\n");
        return 1;
    }
    int prc = ht_parse(&c->o, argc, argv);
    if (prc) {
        if (prc > 0)
            ht_usage(stdout);
        else
            fprintf(stderr, "try 'bpbench hit --help'\n");
        free(c);
        return prc > 0 ? 0 : 2;
    }
    ht_opts *o = &c->o;
    bu_quiet = o->quiet;
    c->info = o->csv ? stderr : stdout;
    int status = 1;

    if (getenv("BUFPOOL_BACKEND")) {
        ht_note(c, HT_NOTE_INFO, "BUFPOOL_BACKEND=%s was unset so that each "
                "pool runs the backend it asks for", getenv("BUFPOOL_BACKEND"));
        unsetenv("BUFPOOL_BACKEND");
    }
    if (ht_setup(c)) {
        status = 2;
        goto out;
    }

    int rc = bu_tempdir(o->dir, c->dir, sizeof c->dir);
    if (rc) {
        fprintf(stderr, "bpbench hit: cannot create a directory in %s: %s\n",
                o->dir, strerror(-rc));
        goto out;
    }
    snprintf(c->path, sizeof c->path, "%s/data.db", c->dir);
    char fs[64], err[PATH_MAX + 128];
    bu_fs_name(c->dir, fs, sizeof fs);
    bu_progress("writing the %llu-page data file %s",
                (unsigned long long)c->data_pages, c->path);
    double wsecs = 0.0;
    rc = bu_data_file_create(c->path, o->page_size, c->data_pages, &wsecs, err,
                             sizeof err);
    if (rc) {
        fprintf(stderr, "bpbench hit: cannot create the data file: %s\n", err);
        goto out;
    }
    ht_print_header(c, fs, wsecs);

    ht_run_all(c);
    bu_progress("done");

    if (o->csv)
        ht_print_csv(c);
    else
        ht_print_table(c);
    ht_print_targets(c);
    ht_print_notes(c);
    status = c->data_error ? 1 : 0;

out:
    fflush(stdout);
    bu_cleanup_now();
    ht_free(c);
    free(c);
    return status;
}
