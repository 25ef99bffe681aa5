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

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const rm_level_name[RM_NLEVEL] = {"whit", "chit", "miss"};
const char *const rm_pf_name[RM_MAXPF] = {"populate", "nonblock", "lazy"};

/* ---- Options ------------------------------------------------------------- */

static void rm_usage(FILE *f)
{
    fprintf(f,
"usage: bpbench remap [options]\n"
"\n"
"Cost of bp_fix(shared) + reading one word of every 4 KiB of the page +\n"
"bp_unfix, in ns per op, for every window backend side by side, at three\n"
"levels: whit (window hit), chit (window miss, cache hit), miss (cache miss,\n"
"read from the data file), each with prefault populate and nonblock.\n"
"Repetitions are interleaved round-robin across backends; cells show the\n"
"median and the ratio to linear.\n"
"\n"
"options (full-run default / --quick default):\n"
"  --page-size N       page size in bytes, 4096..65536 (8192)\n"
"  --cache-mb N        cache size in MiB (256 / 32)\n"
"  --window-slots N    window slots (2048 / 256)\n"
"  --data-mb N         data file size in MiB, larger than the cache (2048 /\n"
"                      256)\n"
"  --whit-pages N      distinct pages of the whit level, below the slots\n"
"                      (half the slots)\n"
"  --whit-ops N        timed ops per rep for whit, ~60 ns each (1000000 /\n"
"                      200000)\n"
"  --ops N             timed ops per rep for chit, ~2-10 us each (200000 /\n"
"                      20000)\n"
"  --miss-ops N        timed ops per rep for miss, ~40-80 us each (16000 /\n"
"                      1000)\n"
"  --reps N            repetitions, median reported (5 / 3)\n"
"  --backends LIST     comma separated from rfp,mmap,copy,linear,kmod,auto\n"
"                      (all; kmod needs /dev/bpwin, else its cells are n/a)\n"
"  --prefault LIST     comma separated from populate,nonblock,lazy\n"
"                      (populate,nonblock)\n"
"  --levels LIST       comma separated from whit,chit,miss (all)\n"
"  --dir DIR           where the data file's temp directory goes (/var/tmp);\n"
"                      keep it on a disk file system, not tmpfs\n"
"  --buffered          open the data file with BP_BUFFERED_IO, not O_DIRECT\n"
"  --shm memfd|named   cache backing: anonymous memfd (default) or a unique\n"
"                      /dev/shm name\n"
"  --seed N            seed of the page sequences (1)\n"
"  --quick             small sizes, finishes in well under a minute\n"
"  --csv               print CSV rows instead of the tables, columns level,\n"
"                      prefault, backend, ns_median, ratio_to_linear, ops,\n"
"                      reps (machine info and notes go to stderr as # lines)\n"
"  --quiet             no progress lines on stderr\n"
"  --raw               the mechanisms alone, without the library: ns per\n"
"                      scattered remap of one slot (+ a read of every 4 KiB)\n"
"                      for rfp, mmap and kmod (one op per ioctl, and --batch\n"
"                      per ioctl), every slot of a --window-slots window\n"
"                      mapped first; --ops remaps per rep, --reps, --seed,\n"
"                      --page-size, --backends apply\n"
"  --batch N           --raw: kmod ops per ioctl, 1..4096 (64)\n"
"  -h, --help          this text\n"
"\n"
"The environment variable BUFPOOL_BACKEND would force one backend on every\n"
"pool; bpbench remap unsets it.  Exit status: 0, 1 on failure or when a pool\n"
"returned a page with the wrong content, 2 on a usage error.\n");
}

static int rm_parse_prefault(rm_opts *o, char *s)
{
    static const bp_prefault val[RM_MAXPF] = {
        BP_PREFAULT_POPULATE, BP_PREFAULT_NONBLOCK, BP_PREFAULT_LAZY};
    char *items[RM_MAXPF + 1];
    int n = bu_split_list(s, items, RM_MAXPF);
    if (n <= 0) {
        fprintf(stderr, "bpbench: --prefault: give populate, nonblock "
                        "and/or lazy\n");
        return -1;
    }
    o->npf = 0;
    for (int i = 0; i < n; i++) {
        int found = -1;
        for (int j = 0; j < RM_MAXPF; j++)
            if (strcmp(items[i], rm_pf_name[j]) == 0)
                found = j;
        if (found < 0) {
            fprintf(stderr, "bpbench: --prefault: unknown mode '%s'\n",
                    items[i]);
            return -1;
        }
        for (int j = 0; j < o->npf; j++)
            if (o->pf[j] == val[found]) {
                fprintf(stderr, "bpbench: --prefault: '%s' twice\n", items[i]);
                return -1;
            }
        o->pf[o->npf++] = val[found];
    }
    return 0;
}

static int rm_parse_levels(rm_opts *o, char *s)
{
    char *items[RM_NLEVEL + 1];
    int n = bu_split_list(s, items, RM_NLEVEL);
    if (n <= 0) {
        fprintf(stderr, "bpbench: --levels: give whit, chit and/or miss\n");
        return -1;
    }
    memset(o->level_on, 0, sizeof o->level_on);
    for (int i = 0; i < n; i++) {
        int found = -1;
        for (int j = 0; j < RM_NLEVEL; j++)
            if (strcmp(items[i], rm_level_name[j]) == 0)
                found = j;
        if (found < 0) {
            fprintf(stderr, "bpbench: --levels: unknown level '%s'\n",
                    items[i]);
            return -1;
        }
        o->level_on[found] = 1;
    }
    return 0;
}

enum {
    OPT_PAGE_SIZE = 256, OPT_CACHE_MB, OPT_WINDOW_SLOTS, OPT_DATA_MB,
    OPT_WHIT_PAGES, OPT_WHIT_OPS, OPT_OPS, OPT_MISS_OPS, OPT_REPS,
    OPT_BACKENDS, OPT_PREFAULT, OPT_LEVELS, OPT_DIR, OPT_BUFFERED, OPT_SHM,
    OPT_SEED, OPT_QUICK, OPT_CSV, OPT_QUIET, OPT_RAW, OPT_BATCH
};

/* Returns 0, 1 for --help (exit 0), or -1 on a usage error. */
static int rm_parse(rm_opts *o, int argc, char **argv)
{
    static const struct option lo[] = {
        {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
        {"cache-mb", required_argument, NULL, OPT_CACHE_MB},
        {"window-slots", required_argument, NULL, OPT_WINDOW_SLOTS},
        {"data-mb", required_argument, NULL, OPT_DATA_MB},
        {"whit-pages", required_argument, NULL, OPT_WHIT_PAGES},
        {"whit-ops", required_argument, NULL, OPT_WHIT_OPS},
        {"ops", required_argument, NULL, OPT_OPS},
        {"miss-ops", required_argument, NULL, OPT_MISS_OPS},
        {"reps", required_argument, NULL, OPT_REPS},
        {"backends", required_argument, NULL, OPT_BACKENDS},
        {"prefault", required_argument, NULL, OPT_PREFAULT},
        {"levels", required_argument, NULL, OPT_LEVELS},
        {"dir", required_argument, NULL, OPT_DIR},
        {"buffered", no_argument, NULL, OPT_BUFFERED},
        {"shm", required_argument, NULL, OPT_SHM},
        {"seed", required_argument, NULL, OPT_SEED},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"csv", no_argument, NULL, OPT_CSV},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"raw", no_argument, NULL, OPT_RAW},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* 0 = not given: --quick or the full-run default fills it in below. */
    memset(o, 0, sizeof *o);
    o->page_size = 8192;
    o->seed = 1;
    o->dir = "/var/tmp";
    o->level_on[RM_WHIT] = o->level_on[RM_CHIT] = o->level_on[RM_MISS] = 1;
    char all_bk[] = "rfp,mmap,copy,linear,kmod,auto";
    char def_pf[] = "populate,nonblock";
    bu_parse_backends(all_bk, o->bk, RM_MAXBK, &o->nbk);
    rm_parse_prefault(o, def_pf);

    optind = 0; /* full getopt reset (GNU) */
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case 'h': return 1;
        case OPT_PAGE_SIZE:
            rc = bu_parse_u64("page-size", optarg, 4096, 65536, 1,
                              &o->page_size);
            if (!rc && (o->page_size & (o->page_size - 1))) {
                fprintf(stderr,
                        "bpbench: --page-size: must be a power of two\n");
                rc = -1;
            }
            break;
        case OPT_CACHE_MB:
            rc = bu_parse_u64("cache-mb", optarg, 1, 1u << 20, 0, &o->cache_mb);
            break;
        case OPT_WINDOW_SLOTS:
            rc = bu_parse_u64("window-slots", optarg, 2, 1u << 24, 1,
                              &o->window_slots);
            break;
        case OPT_DATA_MB:
            rc = bu_parse_u64("data-mb", optarg, 1, 1u << 24, 0, &o->data_mb);
            break;
        case OPT_WHIT_PAGES:
            rc = bu_parse_u64("whit-pages", optarg, 1, 1u << 24, 1,
                              &o->whit_pages);
            break;
        case OPT_WHIT_OPS:
            rc = bu_parse_u64("whit-ops", optarg, 1, 1ull << 32, 1,
                              &o->whit_ops);
            break;
        case OPT_OPS:
            rc = bu_parse_u64("ops", optarg, 1, 1ull << 32, 1, &o->ops);
            break;
        case OPT_MISS_OPS:
            rc = bu_parse_u64("miss-ops", optarg, 1, 1ull << 32, 1,
                              &o->miss_ops);
            break;
        case OPT_REPS:
            rc = bu_parse_u64("reps", optarg, 1, 1000, 0, &o->reps);
            break;
        case OPT_BACKENDS:
            rc = bu_parse_backends(optarg, o->bk, RM_MAXBK, &o->nbk);
            break;
        case OPT_PREFAULT: rc = rm_parse_prefault(o, optarg); break;
        case OPT_LEVELS: rc = rm_parse_levels(o, optarg); break;
        case OPT_DIR: o->dir = optarg; break;
        case OPT_BUFFERED: o->buffered = 1; break;
        case OPT_SHM:
            if (strcmp(optarg, "memfd") == 0)
                o->named_shm = 0;
            else if (strcmp(optarg, "named") == 0)
                o->named_shm = 1;
            else {
                fprintf(stderr, "bpbench: --shm: memfd or named\n");
                rc = -1;
            }
            break;
        case OPT_SEED:
            rc = bu_parse_u64("seed", optarg, 0, UINT64_MAX, 0, &o->seed);
            break;
        case OPT_QUICK: o->quick = 1; break;
        case OPT_CSV: o->csv = 1; break;
        case OPT_QUIET: o->quiet = 1; break;
        case OPT_RAW: o->raw = 1; break;
        case OPT_BATCH:
            rc = bu_parse_u64("batch", optarg, 1, 4096, 0, &o->batch);
            break;
        default: return -1; /* getopt printed the message */
        }
        if (rc)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "bpbench remap: unexpected argument '%s'\n",
                argv[optind]);
        return -1;
    }
#define RM_DEFAULT(field, dfull, dquick)                                       \
    do {                                                                       \
        if (!o->field)                                                         \
            o->field = o->quick ? (dquick) : (dfull);                          \
    } while (0)
    RM_DEFAULT(cache_mb, 256, 32);
    RM_DEFAULT(window_slots, 2048, 256);
    RM_DEFAULT(data_mb, 2048, 256);
    RM_DEFAULT(whit_ops, 1000000, 200000);
    RM_DEFAULT(ops, 200000, 20000);
    RM_DEFAULT(miss_ops, 16000, 1000);
    RM_DEFAULT(reps, 5, 3);
#undef RM_DEFAULT
    return 0;
}

/* ---- Notes (printed under the table) ------------------------------------- */

void rm_note(rm_ctx *c, int kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    bu_note_add(&c->note[kind], &c->nnote[kind], buf);
    if (kind == RM_NOTE_WARN && !c->o.quiet)
        bu_progress("WARNING: %s", buf);
}

/* ---- Set-up -------------------------------------------------------------- */

static int rm_setup(rm_ctx *c)
{
    rm_opts *o = &c->o;
    c->frames = (o->cache_mb << 20) / o->page_size;
    c->data_pages = (o->data_mb << 20) / o->page_size;
    if (o->window_slots > c->frames) {
        fprintf(stderr, "bpbench remap: --window-slots %llu exceeds the %llu "
                "cache frames\n", (unsigned long long)o->window_slots,
                (unsigned long long)c->frames);
        return -1;
    }
    if (c->data_pages <= c->frames) {
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
    uint64_t n = c->frames / 2;
    if (n < 4 * o->window_slots) {
        n = 4 * o->window_slots;
        if (n > c->frames - c->frames / 8)
            n = c->frames - c->frames / 8;
    }
    c->nset[RM_CHIT] = n;
    c->nset[RM_MISS] = c->data_pages;
    if (o->level_on[RM_CHIT] && c->nset[RM_CHIT] <= o->window_slots)
        rm_note(c, RM_NOTE_WARN, "the chit set (%llu pages) fits the window "
                "(%llu slots): chit cannot miss the window; use a larger "
                "--cache-mb or fewer --window-slots",
                (unsigned long long)c->nset[RM_CHIT],
                (unsigned long long)o->window_slots);
    if (o->level_on[RM_MISS] && c->data_pages < 4 * c->frames)
        rm_note(c, RM_NOTE_INFO, "the data file is only %.1fx the cache: the "
                "miss level hits the cache %.0f%% of the time",
                (double)c->data_pages / (double)c->frames,
                100.0 * (double)c->frames / (double)c->data_pages);

    /* All pools at once when their caches fit in half the available memory
     * (reps then interleave over backends and prefault modes); else one
     * prefault mode at a time. */
    uint64_t npool = (uint64_t)o->npf * (uint64_t)o->nbk;
    uint64_t avail = bu_mem_available();
    c->together = (int)npool;
    if (avail && npool * (o->cache_mb << 20) > avail / 2) {
        c->together = o->nbk;
        rm_note(c, RM_NOTE_INFO, "%llu caches of %llu MiB do not fit in half "
                "the available memory: one prefault mode at a time",
                (unsigned long long)npool, (unsigned long long)o->cache_mb);
    }

    c->nops[RM_WHIT] = o->whit_ops;
    c->nops[RM_CHIT] = o->ops;
    c->nops[RM_MISS] = o->miss_ops;

    /* The page sets: a random permutation prefix of the data file. */
    uint64_t *perm = malloc(c->data_pages * sizeof *perm);
    if (!perm) {
        fprintf(stderr, "bpbench remap: out of memory for %llu page numbers\n",
                (unsigned long long)c->data_pages);
        return -1;
    }
    bu_rng r;
    bu_rng_seed(&r, o->seed, 0, 0);
    for (uint64_t i = 0; i < c->data_pages; i++)
        perm[i] = i;
    for (uint64_t i = 0; i < c->nset[RM_CHIT]; i++) {
        uint64_t j = i + bu_rng_below(&r, c->data_pages - i);
        uint64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    /* shrunk to the prefix; kept whole if realloc fails (perm still
     * valid then, which GCC 12's -Wuse-after-free does not see through) */
    {
        uint64_t *shrunk = realloc(perm, c->nset[RM_CHIT] * sizeof *perm);

        c->set = shrunk;
        if (!shrunk)
            c->set = perm;
    }

    for (int lv = 0; lv < RM_NLEVEL; lv++) {
        c->seq[lv] = malloc(o->reps * c->nops[lv] * sizeof *c->seq[lv]);
        if (!c->seq[lv]) {
            fprintf(stderr, "bpbench remap: out of memory for the sequences\n");
            return -1;
        }
        for (uint64_t rep = 0; rep < o->reps; rep++) {
            uint64_t *s = c->seq[lv] + rep * c->nops[lv];
            bu_rng_seed(&r, o->seed, 1 + (uint64_t)lv, 1 + rep);
            for (uint64_t i = 0; i < c->nops[lv]; i++)
                s[i] = lv == RM_MISS ? bu_rng_below(&r, c->data_pages)
                                     : c->set[bu_rng_below(&r, c->nset[lv])];
        }
        for (int pi = 0; pi < o->npf; pi++)
            for (int b = 0; b < o->nbk; b++) {
                rm_cell *cl = &c->cell[lv][pi][b];
                cl->ns = calloc(o->reps, sizeof *cl->ns);
                if (!cl->ns) {
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
            for (int b = 0; b < RM_MAXBK; b++)
                free(c->cell[lv][pi][b].ns);
    }
    free(c->set);
    for (int k = 0; k < RM_NOTE_KINDS; k++)
        bu_note_free(c->note[k], c->nnote[k]);
}

int bench_remap_main(int argc, char **argv)
{
    rm_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "bpbench remap: out of memory\n");
        return 1;
    }
    int prc = rm_parse(&c->o, argc, argv);
    if (prc) {
        if (prc > 0)
            rm_usage(stdout);
        else
            fprintf(stderr, "try 'bpbench remap --help'\n");
        free(c);
        return prc > 0 ? 0 : 2;
    }
    rm_opts *o = &c->o;
    bu_quiet = o->quiet;
    c->info = o->csv ? stderr : stdout;
    c->open_flags = o->buffered ? BP_BUFFERED_IO : 0;
    int status = 1;

    if (o->raw) {
        status = rm_raw_main(o);
        free(c);
        return status;
    }
    if (getenv("BUFPOOL_BACKEND")) {
        rm_note(c, RM_NOTE_INFO, "BUFPOOL_BACKEND=%s was unset so that each "
                "pool runs the backend it asks for", getenv("BUFPOOL_BACKEND"));
        unsetenv("BUFPOOL_BACKEND");
    }
    if (rm_setup(c)) {
        status = 2;
        goto out;
    }

    int rc = bu_tempdir(o->dir, c->dir, sizeof c->dir);
    if (rc) {
        fprintf(stderr, "bpbench remap: cannot create a directory in %s: %s\n",
                o->dir, strerror(-rc));
        goto out;
    }
    snprintf(c->path, sizeof c->path, "%s/data.db", c->dir);
    char fs[64], err[PATH_MAX + 128];
    bu_fs_name(c->dir, fs, sizeof fs);
    if (strcmp(fs, "tmpfs") == 0)
        rm_note(c, RM_NOTE_WARN, "the data file is on tmpfs (%s): the miss "
                "level reads memory, not a disk; use --dir on a disk file "
                "system", o->dir);
    bu_progress("writing the %llu MiB data file %s",
                (unsigned long long)o->data_mb, c->path);
    double wsecs = 0.0;
    rc = bu_data_file_create(c->path, o->page_size, c->data_pages, &wsecs, err,
                             sizeof err);
    if (rc) {
        fprintf(stderr, "bpbench remap: cannot create the data file: %s\n",
                err);
        goto out;
    }
    rm_print_header(c, fs, wsecs);

    rm_run_all(c);
    bu_progress("done");

    if (o->csv)
        rm_print_csv(c);
    else
        rm_print_tables(c);
    rm_print_notes(c);
    status = c->data_error ? 1 : 0;

out:
    fflush(stdout);
    bu_cleanup_now();
    rm_free(c);
    free(c);
    return status;
}
