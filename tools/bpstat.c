/*
 * bpstat.c - look inside a live libbufpool cache, like vmstat or
 * pg_buffercache.
 *
 *   bpstat [--csv|--json] NAME [INTERVAL [COUNT]]   totals, or rates
 *   bpstat --frames [--csv|--json] NAME              the frame table
 *   bpstat --processes [--csv|--json] NAME           attached processes
 *
 * NAME is the cache's shm name as given to bp_set_shm (a file in /dev/shm
 * unless it holds a '/').  bpstat opens it read-only and maps its
 * metadata read-only: it never changes the cache, takes no lock and never
 * waits for the processes using it.  Every figure is read with atomic
 * loads from the shm file (bp_shared.h): each process's counters live
 * there while it is open (bp_statshm.c), the counters of processes that
 * left are in the retired totals, the frames' state words say what is
 * latched, dirty or in use.
 *
 * Consistency: a snapshot is retaken (up to 100 times, 1 ms apart) while a
 * process is retiring its counters, so no process is counted twice or not
 * at all; each counter is exact, their sum at one instant is not, as with
 * bp_stats_get.  Exit status 0, 1 on errors, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm.h"

enum { OUT_TEXT, OUT_CSV, OUT_JSON };
enum { VIEW_TOTALS, VIEW_FRAMES, VIEW_PROCS };

static const char *const ctr_name[] = {
#define BS_NAME(n) #n,
    BP__COUNTERS(BS_NAME)
#undef BS_NAME
};

struct cache {
    const char *name;
    char path[4096];
    int fd;
    const struct bp__shm_hdr *h;
    size_t len;
    const uint64_t *words;
    const struct bp__frame *frames;
    const struct bp__proc *procs;
    uint64_t nframes;
};

struct proc_snap {
    uint32_t pid, bits, alive;
    uint64_t epoch;
    int64_t anon;       /* shared latches no word names */
    uint32_t hz;        /* shared fixes held through reader slots */
    uint64_t excl, busy; /* frames it holds exclusive, BUSY */
    uint64_t c[BP__NCOUNTERS];
};

#define HZ_MAX (BP__PROCS * BP__READERS * BP__HZ)

struct snap {
    uint64_t t_ns;
    uint64_t c[BP__NCOUNTERS];
    uint64_t valid, dirty, pinned;
    uint32_t nprocs;
    struct proc_snap p[BP__PROCS];
    /* frames named by reader slots (shared fixes that leave the word's
     * latch count alone: bp_readers.c), sorted, one entry per fix */
    uint32_t nhz;
    uint32_t hz[HZ_MAX];
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Shared fixes of frame f held through reader slots. */
static unsigned hz_count(const struct snap *sn, uint32_t f)
{
    const uint32_t *at = bsearch(&f, sn->hz, sn->nhz, sizeof f, cmp_u32);
    unsigned n = 0;

    if (!at)
        return 0;
    while (at > sn->hz && at[-1] == f)
        at--;
    for (; at < sn->hz + sn->nhz && *at == f; at++)
        n++;
    return n;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t ld64(const uint64_t *x)
{
    return __atomic_load_n(x, __ATOMIC_ACQUIRE);
}

static uint32_t ld32(const uint32_t *x)
{
    return __atomic_load_n(x, __ATOMIC_ACQUIRE);
}

/* ---- attaching ------------------------------------------------------ */

static int cache_open(struct cache *c, const char *name)
{
    struct bp__shm_hdr hdr;
    struct stat st;
    void *m;

    c->name = name;
    if (strchr(name, '/'))
        snprintf(c->path, sizeof c->path, "%s", name);
    else
        snprintf(c->path, sizeof c->path, "/dev/shm/%s", name);
    if ((c->fd = open(c->path, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "bpstat: %s: %s\n", name,
                errno == ENOENT ? "no such shared cache" : strerror(errno));
        return -1;
    }
    if (fstat(c->fd, &st) != 0 || (uint64_t)st.st_size < sizeof hdr ||
        pread(c->fd, &hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
        hdr.sh_magic != BP__SHM_MAGIC) {
        fprintf(stderr, "bpstat: %s: not a libbufpool cache (or one still "
                "being built)\n", name);
        return -1;
    }
    if (hdr.sh_version != BP__LAYOUT_VERSION ||
        hdr.sh_layout != BP__LAYOUT_SIG) {
        fprintf(stderr, "bpstat: %s: a cache of layout %u (signature %#"
                PRIx64 "); this bpstat reads layout %u (%#" PRIx64 "): use "
                "the bpstat of the library that made it\n", name,
                hdr.sh_version, hdr.sh_layout, BP__LAYOUT_VERSION,
                (uint64_t)BP__LAYOUT_SIG);
        return -1;
    }
    if (hdr.sh_frames_off > (uint64_t)st.st_size || hdr.sh_stats == 0 ||
        hdr.sh_stats + (uint64_t)BP__PROCS * BP__STAT_PROC_BYTES +
                sizeof(struct bp__stat_retired) > hdr.sh_frames_off) {
        fprintf(stderr, "bpstat: %s: header offsets out of range\n", name);
        return -1;
    }
    m = mmap(NULL, (size_t)hdr.sh_frames_off, PROT_READ, MAP_SHARED, c->fd,
             0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "bpstat: %s: mmap: %s\n", name, strerror(errno));
        return -1;
    }
    c->h = m;
    c->len = (size_t)hdr.sh_frames_off;
    c->nframes = hdr.sh_nframes;
    c->words = (const uint64_t *)((const char *)m + hdr.sh_words);
    c->frames = (const struct bp__frame *)((const char *)m +
                                           hdr.sh_frames_desc);
    c->procs = (const struct bp__proc *)((const char *)m +
                                         hdr.sh_procs_off);
    return 0;
}

static void cache_close(struct cache *c)
{
    if (c->h)
        munmap((void *)c->h, c->len);
    if (c->fd >= 0)
        close(c->fd);
}

/* Slot s has a live owner: its lock byte is held (a private pool: the
 * attach byte, which its one process holds). */
static int proc_alive(const struct cache *c, uint32_t s)
{
    long at = c->h->sh_shared ? BP__LOCKB_PROC + (long)s : BP__LOCKB_ATTACH;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                       .l_start = (off_t)at, .l_len = 1};

    if (fcntl(c->fd, F_OFD_GETLK, &fl) != 0)
        return 1; /* cannot tell */
    return fl.l_type != F_UNLCK;
}

/* ---- snapshots -------------------------------------------------------- */

static void snap_proc(const struct cache *c, uint32_t s, struct snap *sn,
                      struct proc_snap *ps)
{
    void *meta = (void *)c->h;
    const struct bp__shard *sh = bp__statshm_shards(meta, c->h->sh_stats, s);
    const struct bp__readers *rd = bp__statshm_readers(meta,
                                                       c->h->sh_stats, s);

    for (int k = 0; k < BP__NCOUNTERS; k++) {
        uint64_t n = 0;

        for (int i = 0; i < BP__SHARDS; i++)
            n += ld64(&sh[i].c[k]);
        ps->c[k] = n;
    }
    for (int i = 0; i < BP__READERS; i++) {
        ps->c[BP_C_window_hits] += ld64(&rd[i].rd_hits);
        if (ld32(&rd[i].rd_owner) == 0)
            continue;
        for (int k = 0; k < BP__HZ; k++) {
            uint32_t f = ld32(&rd[i].rd_hz[k]);

            if (f == BP__NONE)
                continue;
            ps->hz++;
            if (sn->nhz < HZ_MAX)
                sn->hz[sn->nhz++] = f;
        }
    }
    for (int i = 0; i < BP__ANON_SHARDS; i++)
        ps->anon += __atomic_load_n(&c->procs[s].pr_anon[i].pa_n,
                                    __ATOMIC_ACQUIRE);
}

static void snap_frames(const struct cache *c, struct snap *sn)
{
    for (uint64_t f = 0; f < c->nframes; f++) {
        uint64_t w = ld64(&c->words[f]);
        unsigned l = bp_w_latch(w), o = bp_w_owner(w);

        sn->valid += ld64(&c->frames[f].fr_pgno) != BP__NOPAGE;
        sn->dirty += (w & BP_W_DIRTY) != 0;
        sn->pinned += l != 0 || hz_count(sn, (uint32_t)f) != 0;
        if (o == 0 || o > BP__PROCS || l < BP_LATCH_EXCL)
            continue;
        if (l == BP_LATCH_EXCL)
            sn->p[o - 1].excl++;
        else
            sn->p[o - 1].busy++;
    }
}

static int snap_take(const struct cache *c, struct snap *sn)
{
    const struct bp__stat_retired *r =
        (const void *)bp__statshm_shards((void *)c->h, c->h->sh_stats,
                                         BP__PROCS);
    const struct timespec ms = {0, 1000000};

    for (int tries = 0; tries < 100; tries++) {
        uint64_t busy = ld64(&r->sr_busy), gen = ld64(&r->sr_gen);

        memset(sn, 0, sizeof *sn);
        sn->t_ns = now_ns();
        for (int k = 0; k < BP__NCOUNTERS; k++)
            sn->c[k] = ld64(&r->sr_c[k]);
        for (uint32_t s = 0; s < BP__PROCS; s++) {
            struct proc_snap *ps = &sn->p[s];

            ps->pid = ld32(&c->procs[s].pr_pid);
            if (ps->pid == 0)
                continue;
            ps->bits = ld32(&c->procs[s].pr_bits);
            ps->epoch = ld64(&c->procs[s].pr_epoch);
            ps->alive = (uint32_t)proc_alive(c, s);
            sn->nprocs += ps->alive;
            snap_proc(c, s, sn, ps);
            for (int k = 0; k < BP__NCOUNTERS; k++)
                sn->c[k] += ps->c[k];
        }
        if (busy == 0 && ld64(&r->sr_busy) == 0 && ld64(&r->sr_gen) == gen) {
            qsort(sn->hz, sn->nhz, sizeof sn->hz[0], cmp_u32);
            snap_frames(c, sn);
            return 0;
        }
        nanosleep(&ms, NULL);
    }
    fprintf(stderr, "bpstat: %s: processes kept retiring counters for "
            "100 ms; no consistent snapshot\n", c->name);
    return -1;
}

/* ---- the totals view ---------------------------------------------------- */

struct col {
    const char *name; /* column header, CSV/JSON key */
    int ctr;          /* counter index, or -1 */
};

#define C(n) {#n, BP_C_##n}
static const struct col rate_cols[] = {
    {"fixes", -1}, C(window_hits), C(window_misses), C(cache_hits),
    C(cache_misses), C(reads), C(writes), C(slot_evictions),
    C(frame_evictions),
};
#undef C
#define NRATE (sizeof rate_cols / sizeof rate_cols[0])

static uint64_t col_val(const struct snap *s, const struct col *c)
{
    return c->ctr >= 0 ? s->c[c->ctr]
                       : s->c[BP_C_window_hits] + s->c[BP_C_window_misses];
}

/* Mean latency in us of the I/O in [a, b] (a NULL: since creation). */
static double lat_us(const struct snap *a, const struct snap *b, int ns,
                     int n)
{
    uint64_t dn = b->c[n] - (a ? a->c[n] : 0);
    uint64_t dt = b->c[ns] - (a ? a->c[ns] : 0);

    return dn ? (double)dt / (double)dn / 1000.0 : 0.0;
}

static void totals_header(int out, int rates)
{
    if (out == OUT_JSON)
        return;
    if (out == OUT_CSV) {
        printf("%s", rates ? "seconds" : "procs");
        if (rates)
            printf(",procs");
        for (size_t i = 0; i < NRATE; i++)
            printf(",%s%s", rate_cols[i].name, rates ? "_per_s" : "");
        printf(",read_us,write_us,dirty,pinned,valid,frames\n");
        return;
    }
    printf("%s%5s %9s %9s %9s %9s %9s %8s %7s %8s %7s %8s %8s %8s %8s\n",
           rates ? "    time " : "", "procs", "fix", "w-hit", "w-miss",
           "c-hit", "c-miss", "read", "rd-us", "write", "wr-us", "s-evict",
           "f-evict", "dirty", "pinned");
}

static void totals_line(int out, const struct cache *c, const struct snap *a,
                        const struct snap *b, double secs)
{
    double v[NRATE];

    for (size_t i = 0; i < NRATE; i++) {
        uint64_t d = col_val(b, &rate_cols[i]) -
                     (a ? col_val(a, &rate_cols[i]) : 0);

        v[i] = a ? (double)d / secs : (double)d;
    }
    double rl = lat_us(a, b, BP_C_read_ns, BP_C_reads);
    double wl = lat_us(a, b, BP_C_write_ns, BP_C_writes);

    if (out == OUT_JSON) {
        printf("{");
        if (a)
            printf("\"seconds\":%.3f,", secs);
        printf("\"procs\":%u", b->nprocs);
        for (size_t i = 0; i < NRATE; i++)
            printf(a ? ",\"%s_per_s\":%.1f" : ",\"%s\":%.0f",
                   rate_cols[i].name, v[i]);
        printf(",\"read_us\":%.2f,\"write_us\":%.2f,\"dirty\":%" PRIu64
               ",\"pinned\":%" PRIu64 ",\"valid\":%" PRIu64
               ",\"frames\":%" PRIu64,
               rl, wl, b->dirty, b->pinned, b->valid, c->nframes);
        if (!a) {
            printf(",\"counters\":{");
            for (int k = 0; k < BP__NCOUNTERS; k++)
                printf("%s\"%s\":%" PRIu64, k ? "," : "", ctr_name[k],
                       b->c[k]);
            printf("}");
        }
        printf("}\n");
    } else if (out == OUT_CSV) {
        if (a)
            printf("%.3f,", secs);
        printf("%u", b->nprocs);
        for (size_t i = 0; i < NRATE; i++)
            printf(",%.*f", a ? 1 : 0, v[i]);
        printf(",%.2f,%.2f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
               "\n", rl, wl, b->dirty, b->pinned, b->valid, c->nframes);
    } else {
        if (a) {
            time_t t = time(NULL);
            struct tm tm;

            localtime_r(&t, &tm);
            printf("%02d:%02d:%02d ", tm.tm_hour, tm.tm_min, tm.tm_sec);
        }
        printf("%5u %9.0f %9.0f %9.0f %9.0f %9.0f %8.0f %7.1f %8.0f %7.1f "
               "%8.0f %8.0f %8" PRIu64 " %8" PRIu64 "\n",
               b->nprocs, v[0], v[1], v[2], v[3], v[4], v[5], rl, v[6], wl,
               v[7], v[8], b->dirty, b->pinned);
    }
    fflush(stdout);
}

static int view_totals(const struct cache *c, int out, double interval,
                       long count)
{
    struct snap *a = malloc(sizeof *a), *b = malloc(sizeof *b), *t;
    int rc = 0;

    if (!a || !b) {
        fprintf(stderr, "bpstat: out of memory\n");
        free(a);
        free(b);
        return 1;
    }
    if (snap_take(c, a) != 0) {
        rc = 1;
    } else if (interval <= 0) {
        totals_header(out, 0);
        totals_line(out, c, NULL, a, 0);
        if (out == OUT_TEXT)
            printf("(totals since the cache was made; frames %" PRIu64
                   ", valid %" PRIu64 ", read %.1f us and write %.1f us "
                   "on average)\n", c->nframes, a->valid,
                   lat_us(NULL, a, BP_C_read_ns, BP_C_reads),
                   lat_us(NULL, a, BP_C_write_ns, BP_C_writes));
    } else {
        totals_header(out, 1);
        for (long i = 0; count <= 0 || i < count; i++) {
            struct timespec ts = {(time_t)interval,
                                  (long)((interval - (double)(time_t)interval)
                                         * 1e9)};

            nanosleep(&ts, NULL);
            if (snap_take(c, b) != 0) {
                rc = 1;
                break;
            }
            totals_line(out, c, a, b, (double)(b->t_ns - a->t_ns) / 1e9);
            t = a;
            a = b;
            b = t;
        }
    }
    free(a);
    free(b);
    return rc;
}

/* ---- the frame table ------------------------------------------------- */

static const char *frame_state(uint64_t pgno, unsigned l)
{
    if (pgno == BP__NOPAGE)
        return l ? "busy" : "free";
    if (l == BP_LATCH_BUSY)
        return "busy";
    if (l == BP_LATCH_EXCL)
        return "exclusive";
    return l ? "shared" : "valid";
}

/* pids holding frame f shared through reader slots, comma separated */
static void frame_holders(const struct cache *c, const struct snap *sn,
                          uint32_t f, unsigned owner, char *buf, size_t n)
{
    size_t at = 0;

    buf[0] = 0;
    if (owner && owner <= BP__PROCS)
        at += (size_t)snprintf(buf, n, "%u", sn->p[owner - 1].pid);
    for (uint32_t s = 0; s < BP__PROCS && at < n; s++) {
        const struct bp__readers *rd;
        int held = 0;

        if (!sn->p[s].pid || !sn->p[s].hz)
            continue;
        rd = bp__statshm_readers((void *)c->h, c->h->sh_stats, s);
        for (int i = 0; i < BP__READERS && !held; i++)
            for (int k = 0; k < BP__HZ; k++)
                held |= ld32(&rd[i].rd_hz[k]) == f;
        if (held)
            at += (size_t)snprintf(buf + at, n - at, "%s%u", at ? "," : "",
                                   sn->p[s].pid);
    }
}

static int view_frames(const struct cache *c, int out)
{
    struct snap *sn = malloc(sizeof *sn);
    int first = 1;

    if (!sn || snap_take(c, sn) != 0) {
        free(sn);
        return 1;
    }
    if (out == OUT_TEXT)
        printf("%10s %12s %-9s %5s %5s %5s %6s %s\n", "frame", "page",
               "state", "dirty", "pins", "usage", "mapped", "held by (pid)");
    else if (out == OUT_CSV)
        printf("frame,page,state,dirty,pins,usage,mapped,held_by\n");
    else
        printf("{\"frames\":%" PRIu64 ",\"pages\":[", c->nframes);
    for (uint64_t f = 0; f < c->nframes; f++) {
        uint64_t pgno = ld64(&c->frames[f].fr_pgno);
        uint64_t w = ld64(&c->words[f]);
        unsigned l = bp_w_latch(w);
        unsigned hz = hz_count(sn, (uint32_t)f);
        unsigned pins = (l >= BP_LATCH_EXCL ? 1 : l) + hz;
        /* window slots showing the frame: kept in a private pool only (a
         * shared cache's windows are each process's own: -1, unknown) */
        long maps = c->h->sh_shared ? -1
                                    : (long)ld32(&c->frames[f].fr_maps);
        char who[256], mp[24] = "-";

        if (pgno == BP__NOPAGE && l == 0)
            continue;
        if (l == 0 && hz) /* fixed shared through reader slots only */
            l = 1;
        frame_holders(c, sn, (uint32_t)f, l >= BP_LATCH_EXCL ?
                      bp_w_owner(w) : 0, who, sizeof who);
        if (out == OUT_TEXT) {
            char pg[24] = "-";

            if (pgno != BP__NOPAGE)
                snprintf(pg, sizeof pg, "%" PRIu64, pgno);
            if (maps >= 0)
                snprintf(mp, sizeof mp, "%ld", maps);
            printf("%10" PRIu64 " %12s %-9s %5d %5u %5u %6s %s\n", f, pg,
                   frame_state(pgno, l), (w & BP_W_DIRTY) != 0, pins,
                   bp_w_usage(w), mp, who);
        }
        if (out == OUT_CSV)
            printf("%" PRIu64 ",%" PRId64 ",%s,%d,%u,%u,%ld,\"%s\"\n", f,
                   pgno == BP__NOPAGE ? (int64_t)-1 : (int64_t)pgno,
                   frame_state(pgno, l), (w & BP_W_DIRTY) != 0, pins,
                   bp_w_usage(w), maps, who);
        if (out == OUT_JSON)
            printf("%s{\"frame\":%" PRIu64 ",\"page\":%" PRId64
                   ",\"state\":\"%s\",\"dirty\":%d,\"pins\":%u,"
                   "\"usage\":%u,\"mapped\":%ld,\"held_by\":[%s]}",
                   first ? "" : ",", f,
                   pgno == BP__NOPAGE ? (int64_t)-1 : (int64_t)pgno,
                   frame_state(pgno, l), (w & BP_W_DIRTY) != 0, pins,
                   bp_w_usage(w), maps, who);
        first = 0;
    }
    if (out == OUT_JSON)
        printf("]}\n");
    free(sn);
    return 0;
}

/* ---- attached processes -------------------------------------------------- */

/* One column of --processes: its name (CSV and JSON key), its text
 * header and width, and its decimals (-1: "yes"/"no" in text, true/false
 * in JSON). */
struct pcol {
    const char *key, *head;
    int width, dec;
};

static const struct pcol proc_cols[] = {
    {"slot", "slot", 4, 0},           {"pid", "pid", 8, 0},
    {"abi", "abi", 3, 0},             {"epoch", "epoch", 6, 0},
    {"alive", "alive", 5, -1},        {"fixes", "fixes", 10, 0},
    {"window_hits", "w-hit", 10, 0},  {"window_misses", "w-miss", 9, 0},
    {"cache_hits", "c-hit", 9, 0},    {"cache_misses", "c-miss", 9, 0},
    {"reads", "reads", 8, 0},         {"writes", "writes", 8, 0},
    {"shared_latches", "shared", 6, 0},
    {"exclusive_latches", "excl", 5, 0},
    {"busy_latches", "busy", 4, 0},   {"read_us", "rd-us", 7, 1},
    {"write_us", "wr-us", 7, 1},
};
#define NPCOL (sizeof proc_cols / sizeof proc_cols[0])

static double mean_us(const struct proc_snap *p, int ns, int n)
{
    return p->c[n] ? (double)p->c[ns] / (double)p->c[n] / 1e3 : 0;
}

static void proc_values(uint32_t s, const struct proc_snap *p, double *v)
{
    const double vals[NPCOL] = {
        s, p->pid, p->bits, (double)p->epoch, p->alive,
        (double)(p->c[BP_C_window_hits] + p->c[BP_C_window_misses]),
        (double)p->c[BP_C_window_hits], (double)p->c[BP_C_window_misses],
        (double)p->c[BP_C_cache_hits], (double)p->c[BP_C_cache_misses],
        (double)p->c[BP_C_reads], (double)p->c[BP_C_writes],
        (double)(p->anon + (int64_t)p->hz), (double)p->excl,
        (double)p->busy, mean_us(p, BP_C_read_ns, BP_C_reads),
        mean_us(p, BP_C_write_ns, BP_C_writes)};

    memcpy(v, vals, sizeof vals);
}

static void proc_line(int out, const double *v, int first)
{
    if (out == OUT_JSON)
        printf("%s{", first ? "" : ",");
    for (size_t i = 0; i < NPCOL; i++) {
        const struct pcol *k = &proc_cols[i];
        const char *sep = i == 0 ? "" : out == OUT_TEXT ? " " : ",";

        if (out == OUT_JSON)
            printf("%s\"%s\":", sep, k->key);
        else
            printf("%s", sep);
        if (k->dec < 0 && out == OUT_TEXT)
            printf("%*s", k->width, v[i] != 0 ? "yes" : "no");
        else if (k->dec < 0 && out == OUT_JSON)
            printf("%s", v[i] != 0 ? "true" : "false");
        else
            printf("%*.*f", out == OUT_TEXT ? k->width : 0,
                   k->dec < 0 ? 0 : k->dec, v[i]);
    }
    printf(out == OUT_JSON ? "}" : "\n");
}

static int view_procs(const struct cache *c, int out)
{
    struct snap *sn = malloc(sizeof *sn);
    double v[NPCOL];
    int first = 1;

    if (!sn || snap_take(c, sn) != 0) {
        free(sn);
        return 1;
    }
    if (out == OUT_JSON)
        printf("{\"processes\":[");
    for (size_t i = 0; out != OUT_JSON && i < NPCOL; i++) {
        const char *sep = i == 0 ? "" : out == OUT_TEXT ? " " : ",";

        if (out == OUT_TEXT)
            printf("%s%*s", sep, proc_cols[i].width, proc_cols[i].head);
        else
            printf("%s%s", sep, proc_cols[i].key);
    }
    if (out != OUT_JSON)
        printf("\n");
    for (uint32_t s = 0; s < BP__PROCS; s++) {
        if (!sn->p[s].pid)
            continue;
        proc_values(s, &sn->p[s], v);
        proc_line(out, v, first);
        first = 0;
    }
    if (out == OUT_JSON)
        printf("]}\n");
    free(sn);
    return 0;
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
"usage: bpstat [--csv|--json] NAME [INTERVAL [COUNT]]\n"
"       bpstat --frames [--csv|--json] NAME\n"
"       bpstat --processes [--csv|--json] NAME\n"
"\n"
"Reads the live libbufpool cache NAME (its bp_set_shm name: /dev/shm/NAME,\n"
"or a path when NAME holds a '/') without changing it or waiting for it.\n"
"  (no INTERVAL)  one line of totals since the cache was made\n"
"  INTERVAL       seconds between lines of rates (decimals allowed);\n"
"                 COUNT lines (default: until interrupted)\n"
"  --frames       the frame table: frame, page, state, dirty, pins,\n"
"                 usage count, window slots mapping it (a private pool;\n"
"                 -1 in a shared cache), pids holding it\n"
"  --processes    attached processes: their counters and held latches\n"
"  --csv, --json  the same as CSV or JSON (JSON: one object per line)\n"
"  -V, --version  the library version bpstat reads\n");
}

int main(int argc, char **argv)
{
    int out = OUT_TEXT, view = VIEW_TOTALS, rc;
    const char *name = NULL;
    double interval = 0;
    long count = 0;
    int npos = 0;
    struct cache c = {.fd = -1};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("bpstat (libbufpool %s, cache layout %u)\n",
                   bp_version(NULL, NULL, NULL), BP__LAYOUT_VERSION);
            return 0;
        } else if (strcmp(a, "--csv") == 0) {
            out = OUT_CSV;
        } else if (strcmp(a, "--json") == 0) {
            out = OUT_JSON;
        } else if (strcmp(a, "--frames") == 0) {
            view = VIEW_FRAMES;
        } else if (strcmp(a, "--processes") == 0) {
            view = VIEW_PROCS;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "bpstat: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (npos == 0) {
            name = a;
            npos++;
        } else if (npos == 1) {
            errno = 0;
            interval = strtod(a, &end);
            if (errno || *end || !(interval > 0) || interval > 86400) {
                fprintf(stderr, "bpstat: INTERVAL '%s': seconds above 0, "
                        "at most 86400\n", a);
                return 2;
            }
            npos++;
        } else if (npos == 2) {
            errno = 0;
            count = strtol(a, &end, 10);
            if (errno || *end || count < 1) {
                fprintf(stderr, "bpstat: COUNT '%s': a whole number above "
                        "0\n", a);
                return 2;
            }
            npos++;
        } else {
            fprintf(stderr, "bpstat: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!name || !*name) {
        usage(stderr);
        return 2;
    }
    if (view != VIEW_TOTALS && npos > 1) {
        fprintf(stderr, "bpstat: --frames and --processes take no "
                "INTERVAL\n");
        return 2;
    }
    if (cache_open(&c, name) != 0) {
        cache_close(&c);
        return 1;
    }
    rc = view == VIEW_FRAMES  ? view_frames(&c, out)
         : view == VIEW_PROCS ? view_procs(&c, out)
                              : view_totals(&c, out, interval, count);
    cache_close(&c);
    return rc;
}
