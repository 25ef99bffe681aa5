/*
 * bench_restart.c - `bpbench restart`: what a restart costs with a cache
 * kept in /dev/shm and revived at the next open, against a restart that
 * builds the cache anew and reads its pages back from the data file.
 *
 * Work: a data file of --size bytes of stamped pages; a shared cache
 * (BP_ATTACH, kept) that holds all of it, with no window size set (on
 * 64-bit the whole cache is mapped).  Untimed load: every page is read
 * into the cache, then bp_flush and bp_close.  Then, --reps times, two
 * phases, each an open followed by --lookups uniform random lookups (a
 * shared fix of a page and a check of one word of each 4 KiB of it) and a
 * close that leaves every page cached again (untimed):
 *   revived  the open finds the kept cache and revives it;
 *   cold     the kept file is removed first, so the open builds the cache
 *            anew and lookups read their pages from the data file.
 * Both open with BP_PREFAULT_TOUCH (every 4 KiB of the mapped cache read
 * once at open); a third phase, revived with BP_PREFAULT_POPULATE only,
 * shows what the touch moves into the open: where the hypervisor keeps
 * shadow page tables a populated page still faults at its first touch.
 * Reported per phase (median over reps): the open's time, the throughput
 * of the first tenth of the lookups and of the last tenth (steady), their
 * ratio, and data-file reads per lookup.
 */
#include "bench.h"
#include "bench_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rs_opts {
    uint64_t size, page_size, lookups, reps, seed;
    const char *dir;
} rs_opts;

typedef struct rs_ctx {
    rs_opts o;
    uint64_t pages;
    char dir[512], data[600], shm[96], shm_path[160];
} rs_ctx;

typedef struct rs_result {
    double open_ms, first_mops, steady_mops, reads_per_lookup;
    char origin[160];
} rs_result;

static int rs_open(const rs_ctx *c, bp_prefault pf, bp_pool **out)
{
    bp_pool *p = NULL;
    int rc = bp_create(&p, NULL);

    if (rc == 0 && (rc = bp_set_page_size(p, c->o.page_size)) == 0 &&
        (rc = bp_set_prefault(p, pf)) == 0 &&
        (rc = bp_set_cache_frames(p, c->pages + 64)) == 0 &&
        (rc = bp_set_shm(p, c->shm, 1)) == 0)
        rc = bp_open(p, c->data, BP_ATTACH);
    if (rc) {
        fprintf(stderr, "bpbench restart: bp_open: %s: %s\n", bp_strerror(rc),
                p ? bp_errmsg(p) : "");
        bp_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Fix pgno shared and check its stamp: 0, or -1 (printed). */
static int rs_lookup(bp_pool *p, const rs_ctx *c, uint64_t pgno)
{
    bp_page pg;
    uint64_t bad;
    int rc = bp_fix(p, pgno, BP_SHARED, &pg);

    if (rc) {
        fprintf(stderr, "bpbench restart: bp_fix(%" PRIu64 "): %s: %s\n",
                pgno, bp_strerror(rc), bp_errmsg(p));
        return -1;
    }
    bad = bu_touch_check(pg.data, pgno, c->o.page_size);
    bp_unfix(p, &pg, 0);
    if (bad) {
        fprintf(stderr, "bpbench restart: page %" PRIu64 " does not hold "
                "its stamp\n", pgno);
        return -1;
    }
    return 0;
}

/* Every page once (untimed), flush, close: the next open finds them all. */
static int rs_warm_close(bp_pool *p, const rs_ctx *c)
{
    int rc = 0;

    for (uint64_t pgno = 0; pgno < c->pages && rc == 0; pgno++)
        rc = rs_lookup(p, c, pgno);
    if (rc == 0 && (rc = bp_flush(p)) != 0)
        fprintf(stderr, "bpbench restart: bp_flush: %s\n", bp_strerror(rc));
    if (bp_close(p) != 0 && rc == 0)
        rc = -1;
    return rc;
}

enum { RS_REVIVED, RS_REVIVED_POPULATE, RS_COLD, RS_PHASES };
static const char *const rs_phase_name[] = {"revived", "revived-populate",
                                            "cold"};

/* One phase: open (after removing the kept file when cold), lookups,
 * warm close. */
static int rs_phase(const rs_ctx *c, int phase, uint64_t seed, rs_result *r)
{
    int cold = phase == RS_COLD;
    uint64_t tenth = c->o.lookups / 10, t0, t1, t_first = 0, t_last0 = 0;
    bp_stats a, b;
    bp_pool *p;
    bu_rng rng;

    if (cold)
        unlink(c->shm_path);
    bu_rng_seed(&rng, c->o.seed, seed, 7);
    t0 = bu_now_ns();
    if (rs_open(c, phase == RS_REVIVED_POPULATE ? BP_PREFAULT_POPULATE
                                                : BP_PREFAULT_TOUCH,
                &p) != 0)
        return -1;
    t1 = bu_now_ns();
    r->open_ms = (double)(t1 - t0) / 1e6;
    if (bp_stats_get(p, &a, sizeof a) != 0) {
        bp_close(p);
        return -1;
    }
    snprintf(r->origin, sizeof r->origin, "%s", a.cache_origin);
    t0 = bu_now_ns();
    for (uint64_t i = 0; i < c->o.lookups; i++) {
        if (i == tenth)
            t_first = bu_now_ns();
        if (i == c->o.lookups - tenth)
            t_last0 = bu_now_ns();
        if (rs_lookup(p, c, bu_rng_below(&rng, c->pages)) != 0) {
            bp_close(p);
            return -1;
        }
    }
    t1 = bu_now_ns();
    if (bp_stats_get(p, &b, sizeof b) != 0) {
        bp_close(p);
        return -1;
    }
    r->first_mops = (double)tenth / (double)(t_first - t0) * 1e3;
    r->steady_mops = (double)tenth / (double)(t1 - t_last0) * 1e3;
    r->reads_per_lookup = (double)(b.reads - a.reads) / (double)c->o.lookups;
    return rs_warm_close(p, c);
}

static int rs_usage(const char *bad)
{
    fprintf(bad ? stderr : stdout,
            "usage: bpbench restart [--quick] [--size BYTES (2g)] "
            "[--page-size N (8192)] [--lookups N (2000000)] [--reps N (3)] "
            "[--seed N] [--dir D]\n"
            "  a kept shared cache revived at open against one built anew "
            "(cold):\n  open time, first tenth and last tenth of the "
            "lookups, disk reads per lookup\n");
    return bad && strcmp(bad, "--help") != 0 ? 2 : 0;
}

int bench_restart_main(int argc, char **argv)
{
    rs_ctx c = {.o = {.size = 2ull << 30, .page_size = 8192,
                      .lookups = 2000000, .reps = 3, .seed = 1}};
    rs_result res[RS_PHASES][100];
    bp_pool *p;
    double secs;
    char err[256];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--quick") == 0) {
            c.o.size = 64ull << 20;
            c.o.lookups = 200000;
            c.o.reps = 1;
        } else if (strcmp(a, "--size") == 0 && v) {
            if (bu_parse_u64(a, v, 1ull << 20, 1ull << 44, 1, &c.o.size))
                return 2;
            i++;
        } else if (strcmp(a, "--page-size") == 0 && v) {
            if (bu_parse_u64(a, v, 4096, 65536, 1, &c.o.page_size))
                return 2;
            i++;
        } else if (strcmp(a, "--lookups") == 0 && v) {
            if (bu_parse_u64(a, v, 1000, 1ull << 40, 1, &c.o.lookups))
                return 2;
            i++;
        } else if (strcmp(a, "--reps") == 0 && v) {
            if (bu_parse_u64(a, v, 1, 100, 0, &c.o.reps))
                return 2;
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            if (bu_parse_u64(a, v, 0, UINT64_MAX, 0, &c.o.seed))
                return 2;
            i++;
        } else if (strcmp(a, "--dir") == 0 && v) {
            c.o.dir = v;
            i++;
        } else {
            return rs_usage(a);
        }
    }
    c.pages = c.o.size / c.o.page_size;
    if (bu_tempdir(c.o.dir ? c.o.dir : "/var/tmp", c.dir, sizeof c.dir) != 0 ||
        bu_shm_name(c.shm, sizeof c.shm) != 0)
        return 1;
    snprintf(c.data, sizeof c.data, "%s/restart.db", c.dir);
    snprintf(c.shm_path, sizeof c.shm_path, "/dev/shm/%s", c.shm);
    bu_print_machine(stdout, "# ");
    printf("# bpbench restart: %" PRIu64 " pages of %" PRIu64 " bytes, a "
           "shared cache holding all of them (kept), %" PRIu64 " uniform "
           "lookups per phase, median of %" PRIu64 "\n",
           c.pages, c.o.page_size, c.o.lookups, c.o.reps);
    if (bu_data_file_create(c.data, c.o.page_size, c.pages, &secs, err,
                            sizeof err) != 0) {
        fprintf(stderr, "bpbench restart: %s\n", err);
        return 1;
    }
    if (rs_open(&c, BP_PREFAULT_TOUCH, &p) != 0 || rs_warm_close(p, &c) != 0)
        return 1;
    for (uint64_t r = 0; r < c.o.reps; r++)
        for (int ph = 0; ph < RS_PHASES; ph++)
            if (rs_phase(&c, ph, r + 1, &res[ph][r]) != 0)
                return 1;
    unlink(c.shm_path);
    printf("# %-16s %9s %12s %12s %12s %13s\n", "phase", "open ms",
           "first Mop/s", "steady Mop/s", "first/steady", "reads/lookup");
    for (int ph = 0; ph < RS_PHASES; ph++) {
        double v[5][100], m[5];

        for (uint64_t r = 0; r < c.o.reps; r++) {
            v[0][r] = res[ph][r].open_ms;
            v[1][r] = res[ph][r].first_mops;
            v[2][r] = res[ph][r].steady_mops;
            v[3][r] = res[ph][r].first_mops / res[ph][r].steady_mops;
            v[4][r] = res[ph][r].reads_per_lookup;
        }
        for (int k = 0; k < 5; k++)
            m[k] = bu_median(v[k], c.o.reps);
        printf("  %-16s %9.1f %12.2f %12.2f %11.2fx %13.4f\n",
               rs_phase_name[ph], m[0], m[1], m[2], m[3], m[4]);
    }
    for (int ph = 0; ph < RS_PHASES; ph++)
        printf("# %s: %s\n", rs_phase_name[ph], res[ph][0].origin);
    return 0;
}
