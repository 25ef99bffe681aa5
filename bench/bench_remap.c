/*
 * bench_remap.c - `bpbench remap`: what one fix + touch + unfix costs with
 * each window backend, side by side in one run, at three levels:
 *
 *   whit  window hit: a set of slots/2 pages (--whit-pages), warmed into the
 *         window, so no fix maps anything;
 *   chit  window miss, cache hit: a set of pages larger than the window (at
 *         least 4 windows when the cache allows) but at most the cache,
 *         all read into the cache first, so most fixes map a frame;
 *   miss  cache miss: pages drawn uniformly from a data file several times
 *         larger than the cache, so most fixes read the data file (O_DIRECT
 *         on a real disk: the data file lives under /var/tmp, not /dev/shm).
 *
 * each with prefault POPULATE and NONBLOCK.  One op = bp_fix(shared), read
 * one word of every 4 KiB block of the page (the touch: it makes lazily
 * mapped slots pay their faults, and checks the page holds what the data
 * file says; see bu_touch_check), and bp_unfix.
 *
 * Method: the data file is written once.  One pool per (prefault mode,
 * backend) is opened, all at the same time (memfd shm; one prefault mode at
 * a time when the caches would not fit in half the free memory), then level
 * by level: every pool is warmed, then the timed repetitions run round-robin
 * (rep 1 of every pool, then rep 2, ...) so machine noise, including the
 * slow drift of a shared VM, hits all backends and modes alike.
 * Every backend runs the same page sequence for a given (level, rep); the
 * reps get different sequences (the miss level must not find the previous
 * rep's pages in the cache).  The cell is the median of the reps' ns/op.
 * bp_stats deltas around each timed phase are summed and checked against
 * what the level claims to be; a mismatch prints a WARNING line.
 *
 * Before closing, bp__test_check() walks each pool's invariants.
 *
 * A backend that fails (bp_open or any fix) is closed and shown as "n/a"
 * from then on, with the reason under the table; the others go on.
 *
 * Files: this one (options, set-up, main), bench_remap_run.c (pools,
 * warm-up, timed phases, checks), bench_remap_report.c (output), shared
 * state in bench_remap.h.
 */
#include "bench_remap.h"

#include "bench.h"

#include <stdlib.h>
#include <string.h>

const char *const rm_level_name[RM_NLEVEL] = {"whit", "chit", "miss"};
const char *const rm_pf_name[RM_MAXPF] = {"populate", "nonblock", "lazy"};

/* ---- Options ------------------------------------------------------------- */

static const char rm_intro[] =
"Cost of bp_fix(shared) + reading one word of every 4 KiB of the page +\n"
"bp_unfix, in ns per op, for every window backend side by side, at three\n"
"levels: whit (window hit), chit (window miss, cache hit), miss (cache miss,\n"
"read from the data file), each with prefault populate and nonblock.\n"
"Repetitions are interleaved round-robin across backends; cells show the\n"
"median and the ratio to linear.  Latency percentiles per op come from one\n"
"more rep per level and pool after the timed ones (its own page sequence),\n"
"ops timed with the TSC, in batches where an op is shorter than the clock\n"
"can time.\n";

static const char rm_tail[] =
"The environment variable BUFPOOL_BACKEND would force one backend on every\n"
"pool; bpbench remap unsets it.  Exit status: 0, 1 on failure or when a pool\n"
"returned a page with the wrong content, 2 on a usage error.\n";

/* The comma separated list val of --opt, each item one of names[0..2]
 * (what names one: "mode"), into idx[0..*n-1]; 0, or -1 after a message.
 * An item given twice is an error unless dup_ok. */
static int rm_parse_names(const char *opt, const char *what, const char *val,
                          const char *const *names, int *idx, int *n,
                          int dup_ok)
{
    char buf[128], hint[64], *items[4];
    snprintf(buf, sizeof buf, "%s", val);
    snprintf(hint, sizeof hint, "%s, %s and/or %s", names[0], names[1],
             names[2]);
    int k = bu_split_list(buf, items, 3);
    if (k <= 0) {
        fprintf(stderr, "bpbench: --%s: give %s\n", opt, hint);
        return -1;
    }
    *n = 0;
    for (int i = 0; i < k; i++) {
        int found = -1;
        for (int j = 0; j < 3; j++)
            if (strcmp(items[i], names[j]) == 0)
                found = j;
        if (found < 0) {
            fprintf(stderr, "bpbench: --%s: unknown %s '%s'; give %s\n", opt,
                    what, items[i], hint);
            return -1;
        }
        for (int j = 0; j < *n && !dup_ok; j++)
            if (idx[j] == found) {
                fprintf(stderr, "bpbench: --%s: '%s' twice\n", opt, items[i]);
                return -1;
            }
        idx[(*n)++] = found;
    }
    return 0;
}

static int rm_opt_prefault(void *dst, const char *cmd, const char *opt,
                           const char *val)
{
    static const bp_prefault pf[RM_MAXPF] = {
        BP_PREFAULT_POPULATE, BP_PREFAULT_NONBLOCK, BP_PREFAULT_LAZY};
    rm_opts *o = dst;
    int idx[RM_MAXPF];
    (void)cmd;
    (void)opt;
    if (rm_parse_names("prefault", "mode", val, rm_pf_name, idx, &o->npf, 0))
        return -1;
    for (int i = 0; i < o->npf; i++)
        o->pf[i] = pf[idx[i]];
    return 0;
}

static int rm_opt_levels(void *dst, const char *cmd, const char *opt,
                         const char *val)
{
    rm_opts *o = dst;
    int idx[RM_NLEVEL], n;
    (void)cmd;
    (void)opt;
    if (rm_parse_names("levels", "level", val, rm_level_name, idx, &n, 1))
        return -1;
    memset(o->level_on, 0, sizeof o->level_on);
    for (int i = 0; i < n; i++)
        o->level_on[idx[i]] = 1;
    return 0;
}

static int rm_opt_shm(void *dst, const char *cmd, const char *opt,
                      const char *val)
{
    if (strcmp(val, "memfd") != 0 && strcmp(val, "named") != 0) {
        fprintf(stderr, "bpbench %s: --%s: '%s'; give memfd or named\n", cmd,
                opt, val);
        return -1;
    }
    *(int *)dst = strcmp(val, "named") == 0;
    return 0;
}

/* Fills what the options left at 0; checks --page-size. */
static int rm_defaults(rm_opts *o)
{
    if (o->page_size & (o->page_size - 1)) {
        fprintf(stderr, "bpbench remap: --page-size: %llu is not a power of "
                        "two in [4096, 65536]\n",
                (unsigned long long)o->page_size);
        return -1;
    }
#define RM_DEFAULT(field, dfull, dquick)                                       \
    do {                                                                       \
        if (!o->field)                                                         \
            o->field = o->quick ? (dquick) : (dfull);                          \
    } while (0)
    RM_DEFAULT(cache_bytes, 256ull << 20, 32ull << 20);
    RM_DEFAULT(window_slots, 2048, 256);
    RM_DEFAULT(data_mb, 2048, 256);
    RM_DEFAULT(whit_ops, 1000000, 200000);
    RM_DEFAULT(ops, 200000, 20000);
    RM_DEFAULT(miss_ops, 16000, 1000);
    RM_DEFAULT(reps, 5, 3);
#undef RM_DEFAULT
    o->cache_mb = o->cache_bytes >> 20;
    return 0;
}

/* Returns 0, 1 for --help (printed), or -1 on a usage error. */
static int rm_parse(void *arg, int argc, char **argv)
{
    rm_opts *o = &((rm_ctx *)arg)->o;
    /* 0 = not given: --quick or the full-run default fills it in below. */
    memset(o, 0, sizeof *o);
    o->page_size = 8192;
    o->seed = 1;
    o->dir = "/var/tmp";
    o->level_on[RM_WHIT] = o->level_on[RM_CHIT] = o->level_on[RM_MISS] = 1;
    char all_bk[] = "rfp,mmap,copy,linear,kmod,auto";
    bu_parse_backends(all_bk, o->bk, RM_MAXBK, &o->nbk);
    o->pf[0] = BP_PREFAULT_POPULATE;
    o->pf[1] = BP_PREFAULT_NONBLOCK;
    o->npf = 2;
    bu_bklist bkl = {o->bk, &o->nbk, RM_MAXBK};
    const bo_optdef defs[] = {
        BO_OPT("page-size", NULL, BO_U64, &o->page_size, 4096, 65536,
               "BYTES", "page size, a power of two (default: 8192)"),
        BO_OPT("pool-size", NULL, BO_U64, &o->cache_bytes, 1u << 20,
               1ull << 40, "BYTES",
               "the pool's cache (default: 256m, --quick 32m)"),
        {"cache-mb", NULL, BO_U64, &o->cache_bytes, 1, 1u << 20, "MIB",
         "alias of --pool-size, in MiB", NULL, 1u << 20},
        BO_OPT("window", "window-slots", BO_U64, &o->window_slots, 2,
               1u << 24, "SLOTS", "window size in slots (pages; default "
               "2048, --quick 256)"),
        BO_OPT("data-mb", NULL, BO_U64, &o->data_mb, 1, 1u << 24, "MIB",
               "data file size in MiB, larger than the cache (default: 2048, "
               "--quick 256)"),
        BO_OPT("whit-pages", NULL, BO_U64, &o->whit_pages, 1, 1u << 24, "N",
               "distinct pages of the whit level, below the slots (default: "
               "half the slots)"),
        BO_OPT("whit-ops", NULL, BO_U64, &o->whit_ops, 1, 1ull << 32, "N",
               "timed ops per rep for whit, ~60 ns each (default: 1000000, "
               "--quick 200000)"),
        BO_OPT("ops", NULL, BO_U64, &o->ops, 1, 1ull << 32, "N",
               "timed ops per rep for chit, ~2-10 us each (default: 200000, "
               "--quick 20000); with --raw: remaps per rep"),
        BO_OPT("miss-ops", NULL, BO_U64, &o->miss_ops, 1, 1ull << 32, "N",
               "timed ops per rep for miss, ~40-80 us each (default: 16000, "
               "--quick 1000)"),
        BO_OPT("reps", NULL, BO_U64, &o->reps, 1, 1000, "N",
               "repetitions, median reported (default: 5, --quick 3)"),
        {"backend", "backends", BO_FN, &bkl, 0, 0, "LIST",
         "comma separated from rfp,mmap,copy,linear,kmod,auto (default: all; "
         "kmod needs /dev/bpwin, else its cells are n/a)", bu_opt_backends,
         0},
        {"prefault", NULL, BO_FN, o, 0, 0, "LIST",
         "comma separated from populate,nonblock,lazy (default: "
         "populate,nonblock)", rm_opt_prefault, 0},
        {"levels", NULL, BO_FN, o, 0, 0, "LIST",
         "comma separated from whit,chit,miss (default: all)", rm_opt_levels,
         0},
        BO_OPT("dir", NULL, BO_STR, &o->dir, 0, 0, "DIR",
               "where the data file's temp directory goes (default: "
               "/var/tmp); keep it on a disk file system, not tmpfs"),
        BO_OPT("buffered", NULL, BO_FLAG, &o->buffered, 0, 0, NULL,
               "open the data file with BP_BUFFERED_IO, not O_DIRECT"),
        {"shm", NULL, BO_FN, &o->named_shm, 0, 0, "KIND",
         "cache backing: memfd, an anonymous memfd (default), or named, a "
         "unique /dev/shm name", rm_opt_shm, 0},
        BO_OPT("seed", NULL, BO_U64, &o->seed, 0, 18446744073709551615.0,
               "N", "seed of the page sequences (default: 1)"),
        BO_OPT("quick", NULL, BO_FLAG, &o->quick, 0, 0, NULL,
               "small sizes, finishes in well under a minute"),
        BO_OPT("raw", NULL, BO_FLAG, &o->raw, 0, 0, NULL,
               "the mechanisms alone, without the library: ns per scattered "
               "remap of one slot (+ a read of every 4 KiB) for rfp, mmap "
               "and kmod (one op per ioctl, and --batch per ioctl), every "
               "slot of a --window window mapped first; --ops remaps per "
               "rep, --reps, --seed, --page-size, --backend and the output "
               "options apply (results: table raw)"),
        BO_OPT("batch", NULL, BO_U64, &o->batch, 1, 4096, "N",
               "--raw: kmod ops per ioctl (default: 64)"),
        BO_OPT("json", NULL, BO_STR, &o->out.json, 0, 0, "FILE",
               "write the results as JSON (schema bpbench/1) to FILE; - is "
               "stdout"),
        BO_OPT("csv", NULL, BO_OPTSTR, &o->out.csv, 0, 0, "[FILE]",
               "write the results as CSV (bpbench/1 layout) to FILE; "
               "without FILE: print CSV rows instead of the tables, columns "
               "level, prefault, backend, ns_median, ratio_to_linear, ops, "
               "reps, then p50_ns, p90_ns, p99_ns, p999_ns, max_ns (machine "
               "info and notes go to stderr as # lines)"),
        BO_OPT("output", NULL, BO_STR, &o->out.output, 0, 0, "FILE",
               "write the results to FILE: JSON when it ends in .json, CSV "
               "in .csv"),
        BO_OPT("quiet", NULL, BO_FLAG, &o->out.quiet, 0, 0, NULL,
               "no progress lines on stderr"),
        BO_OPT_OUTDIR(&o->out, BO_OUT_HELP),
    };
    const size_t ndefs = sizeof defs / sizeof defs[0];
    int rc = bo_parse("remap", defs, ndefs, argc, argv);
    if (rc > 0)
        bo_usage(stdout, "remap", rm_intro, defs, ndefs, rm_tail);
    return rc ? rc : rm_defaults(o);
}

/* ---- Set-up -------------------------------------------------------------- */

static int rm_setup(void *arg)
{
    rm_ctx *c = arg;
    rm_opts *o = &c->o;
    c->open_flags = o->buffered ? BP_BUFFERED_IO : 0;
    c->sh.page_size = o->page_size;
    c->sh.frames = (o->cache_bytes) / o->page_size;
    c->sh.data_pages = (o->data_mb << 20) / o->page_size;
    if (o->window_slots > c->sh.frames) {
        fprintf(stderr, "bpbench remap: --window-slots %llu exceeds the %llu "
                "cache frames\n", (unsigned long long)o->window_slots,
                (unsigned long long)c->sh.frames);
        return -1;
    }
    if (c->sh.data_pages <= c->sh.frames) {
        fprintf(stderr, "bpbench remap: --data-mb %llu must exceed --cache-mb "
                "%llu (the miss level needs a data file larger than the "
                "cache)\n", (unsigned long long)o->data_mb,
                (unsigned long long)o->cache_mb);
        return -1;
    }
    /* whit: half the window.  chit: half the cache, or at least 4 windows
     * while that leaves 1/8 of the cache free. */
    c->nset[RM_WHIT] = o->whit_pages ? o->whit_pages : o->window_slots / 2;
    if (c->nset[RM_WHIT] >= o->window_slots) {
        fprintf(stderr, "bpbench remap: --whit-pages %llu must be below "
                "--window-slots %llu\n", (unsigned long long)o->whit_pages,
                (unsigned long long)o->window_slots);
        return -1;
    }
    uint64_t n = c->sh.frames / 2;
    if (n < 4 * o->window_slots) {
        n = 4 * o->window_slots;
        if (n > c->sh.frames - c->sh.frames / 8)
            n = c->sh.frames - c->sh.frames / 8;
    }
    c->nset[RM_CHIT] = n;
    c->nset[RM_MISS] = c->sh.data_pages;
    if (o->level_on[RM_CHIT] && c->nset[RM_CHIT] <= o->window_slots)
        rm_note(c, BPL_WARN, "the chit set (%llu pages) fits the window "
                "(%llu slots): chit cannot miss the window; use a larger "
                "--cache-mb or fewer --window-slots",
                (unsigned long long)c->nset[RM_CHIT],
                (unsigned long long)o->window_slots);
    if (o->level_on[RM_MISS] && c->sh.data_pages < 4 * c->sh.frames)
        rm_note(c, BPL_INFO, "the data file is only %.1fx the cache: the "
                "miss level hits the cache %.0f%% of the time",
                (double)c->sh.data_pages / (double)c->sh.frames,
                100.0 * (double)c->sh.frames / (double)c->sh.data_pages);

    /* All pools at once when their caches fit in half the available memory
     * (reps then interleave over backends and prefault modes); else one
     * prefault mode at a time. */
    uint64_t npool = (uint64_t)o->npf * (uint64_t)o->nbk;
    uint64_t avail = bu_mem_available();
    c->together = (int)npool;
    if (avail && npool * (o->cache_bytes) > avail / 2) {
        c->together = o->nbk;
        rm_note(c, BPL_INFO, "%llu caches of %llu MiB do not fit in half "
                "the available memory: one prefault mode at a time",
                (unsigned long long)npool, (unsigned long long)o->cache_mb);
    }

    c->nops[RM_WHIT] = o->whit_ops;
    c->nops[RM_CHIT] = o->ops;
    c->nops[RM_MISS] = o->miss_ops;

    /* The page sets: a random permutation prefix of the data file. */
    uint64_t *perm = malloc(c->sh.data_pages * sizeof *perm);
    if (!perm) {
        fprintf(stderr, "bpbench remap: out of memory for %llu page numbers\n",
                (unsigned long long)c->sh.data_pages);
        return -1;
    }
    bu_rng r;
    bu_rng_seed(&r, o->seed, 0, 0);
    bpl_sample(perm, c->sh.data_pages, c->nset[RM_CHIT], &r);
    /* shrunk to the prefix; kept whole if realloc fails (perm still
     * valid then, which GCC 12's -Wuse-after-free does not see through) */
    {
        uint64_t *shrunk = realloc(perm, c->nset[RM_CHIT] * sizeof *perm);

        c->set = shrunk;
        if (!shrunk)
            c->set = perm;
    }

    for (int lv = 0; lv < RM_NLEVEL; lv++) {
        /* reps + 1: the last is the latency rep's */
        c->seq[lv] = malloc((o->reps + 1) * c->nops[lv] * sizeof *c->seq[lv]);
        if (!c->seq[lv]) {
            fprintf(stderr, "bpbench remap: out of memory for the sequences\n");
            return -1;
        }
        for (uint64_t rep = 0; rep <= o->reps; rep++) {
            uint64_t *s = c->seq[lv] + rep * c->nops[lv];
            bu_rng_seed(&r, o->seed, 1 + (uint64_t)lv, 1 + rep);
            for (uint64_t i = 0; i < c->nops[lv]; i++)
                s[i] = lv == RM_MISS ? bu_rng_below(&r, c->sh.data_pages)
                                     : c->set[bu_rng_below(&r, c->nset[lv])];
        }
        for (int pi = 0; pi < o->npf; pi++)
            for (int b = 0; b < o->nbk; b++) {
                rm_cell *cl = &c->cell[lv][pi][b];
                cl->ns = calloc(o->reps, sizeof *cl->ns);
                cl->lat = bo_hist_new();
                if (!cl->ns || !cl->lat) {
                    fprintf(stderr, "bpbench remap: out of memory\n");
                    return -1;
                }
            }
    }
    return 0;
}

static void rm_free(rm_ctx *c)
{
    for (int lv = 0; lv < RM_NLEVEL; lv++) {
        free(c->seq[lv]);
        for (int pi = 0; pi < RM_MAXPF; pi++)
            for (int b = 0; b < RM_MAXBK; b++) {
                free(c->cell[lv][pi][b].ns);
                bo_hist_free(c->cell[lv][pi][b].lat);
            }
    }
    free(c->set);
}

static const bpl_cmd rm_cmd = {
    .name = "remap", .parse = rm_parse, .alt = rm_raw_main, .setup = rm_setup,
    .tmpfs_why = "the miss level reads memory, not a disk; use --dir on a "
                 "disk file system",
    .size_mib = 1, .header = rm_print_header, .run = rm_run_all,
    .csv = rm_print_csv, .tables = rm_print_tables, .tail = rm_print_notes,
    .record = rm_record,
};

int bench_remap_main(int argc, char **argv)
{
    rm_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "bpbench remap: out of memory\n");
        return 1;
    }
    int status = bpl_main(&rm_cmd, c, &c->sh, &c->o.out, &c->o.dir, argc,
                          argv);
    rm_free(c);
    free(c);
    return status;
}
