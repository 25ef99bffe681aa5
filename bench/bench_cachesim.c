/*
 * bench_cachesim.c - `bpbench cachesim`: how few page reads per YCSB
 * operation any page cache of a given size could make, so that an
 * out-of-memory comparison can be judged against what is possible.
 *
 * Out of memory, both engines of `bpbench ycsb --oom` wait on the same disk
 * with the same threads, and each YCSB A/B/C operation touches one B+tree
 * leaf (inner nodes stay cached).  So an engine can only be k times faster
 * than another if its cache misses k times less often.  This program replays
 * the leaf sequence of YCSB's scrambled zipfian, drawn by the very code
 * `bpbench ycsb` uses (ycsb_scrambled_next), against caches of the same
 * size under seven policies:
 *
 *   LRU        what the kernel's page cache approximates (LMDB's cache);
 *   CLOCK      BP_REPLACE_CLOCK: a use sets the usage count to its
 *              maximum (3), a fill to 1, the hand decrements;
 *   ADMIT      BP_REPLACE_ADMIT, the pool's default: CLOCK with use counts
 *              and newcomers admitted by them (cs_admit below);
 *   LFU online every use of every leaf counted exactly from the first
 *              operation on (no aging, no memory limit), the least counted
 *              leaf evicted, a missed leaf kept only if counted more: what
 *              counting can know by each point of the run, the reference
 *              for a frequency policy that learns online;
 *   LFU, known popularity  the C leaves of highest probability under the
 *              generator's own distribution, cached for good: the best a
 *              frequency policy can do, knowing every leaf's popularity
 *              exactly;
 *   LFU in hindsight  the C leaves most used in the measured window
 *              itself: a bound no online policy reaches, since it picks
 *              leaves by the very draws it is scored on;
 *   MIN        Belady's clairvoyant optimum (evict the leaf used furthest
 *              in the future): no policy, online or not, misses less.
 *
 * Leaves: the records' keys ("user" + FNV-64 of the number, ycsb_key) in
 * sorted order, cut into as many leaves as the data holds pages, with the
 * harness's data estimate (ycsb_data_bytes, within a few % of the trees
 * both engines build).  Cache sizes: the budget in pages, and the copy
 * backend's cache share out of memory (budget - budget / 16, the rest is
 * its window: bench/kv_bufpool.c).
 * The first third of the operations warms the cache and is not counted.
 *
 * Deterministic for given options: no files, no timing, no pool.
 */
#include "bench.h"

#include "bench_out.h"
#include "bench_util.h"
#include "ycsb.h"

#include <stdatomic.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cs_opts {
    uint64_t records, value_size, memory, page_size, ops, seed;
    bo_outopts out; /* out.dir: --out DIR, cachesim.png */
} cs_opts;

enum {
    CS_LRU, CS_CLOCK, CS_ADMIT, CS_ONLINE, CS_KNOWN, CS_LFU, CS_MIN,
    CS_NPOL
};
static const char *const cs_pol_name[CS_NPOL] = {
    "LRU (kernel page cache)", "CLOCK (BP_REPLACE_CLOCK)",
    "ADMIT (BP_REPLACE_ADMIT, default)", "LFU online, every use counted",
    "LFU, known popularity", "LFU in hindsight", "MIN (Belady, clairvoyant)"};
static const char *const cs_pol_key[CS_NPOL] = {
    "lru",       "clock",         "admit", "lfu-online",
    "lfu-known", "lfu-hindsight", "min"};

#define CS_NONE UINT32_MAX
#define CS_NOMEM UINT64_MAX /* a policy's result when it had no memory */

static const char cs_intro[] =
"Replays the leaf accesses of YCSB's scrambled zipfian (A, B, C) against a\n"
"cache of the memory budget under LRU, the pool's two policies (CLOCK and\n"
"ADMIT), an LFU counting every use online, the best frequency policy\n"
"(knowing each leaf's popularity, and in hindsight) and Belady's MIN, and\n"
"prints leaf misses per operation: the fewest page reads per operation any\n"
"cache of that size could make out of memory.  Defaults are what\n"
"`bpbench ycsb --oom --page-size 4096` runs.\n"
"A replay times nothing: its results have no latency.\n";

/* 0, 1 for --help (printed), -1 on a usage error (printed). */
static int cs_parse(cs_opts *o, int argc, char **argv)
{
    *o = (cs_opts){.value_size = 100, .memory = 32ull << 20,
                   .page_size = 4096, .ops = 3000000, .seed = 1,
                   .out.own_plots = BO_PLOT_ALL}; /* cs_plot draws them */
    const bo_optdef defs[] = {
        BO_OPT("records", NULL, BO_U64, &o->records, 1000, 1u << 30, "N",
               "records (default: 4x the budget of data, as ycsb --oom)"),
        BO_OPT("value-size", NULL, BO_U64, &o->value_size, 8, 1024,
               "BYTES", "value bytes (default: 100)"),
        BO_OPT("pool-size", "memory", BO_U64, &o->memory, 1u << 20,
               1ull << 40, "BYTES", "memory budget, the cache's size "
               "(default: 32m, as ycsb --oom)"),
        BO_OPT("page-size", NULL, BO_U64, &o->page_size, 4096, 65536,
               "BYTES", "page size (default: 4096)"),
        BO_OPT("ops", NULL, BO_U64, &o->ops, 3000, 1u << 28, "N",
               "operations replayed, the first third warms up (default: "
               "3000000)"),
        BO_OPT("seed", NULL, BO_U64, &o->seed, 0, 18446744073709551615.0,
               "N", "random seed (default: 1)"),
        BO_OPTS_OUTPUT_WITH(&o->out,
            "write cachesim.png (misses per operation of each policy, "
            "both cache sizes) with its .dat and .gp there, by gnuplot "
            "when installed (default: no plot)"),
    };
    const size_t ndefs = sizeof defs / sizeof defs[0];
    int rc = bo_parse("cachesim", defs, ndefs, argc, argv);
    if (rc > 0)
        bo_usage(stdout, "cachesim", cs_intro, defs, ndefs,
                 "Exit status: 0, 1 when out of memory, 2 on a usage error "
                 "(also a cache not\nsmaller than the data).\n");
    if (rc)
        return rc;
    if (!o->records)
        o->records = 4 * o->memory /
                     (ycsb_data_bytes(1000, o->value_size) / 1000);
    return 0;
}

/* ---- The leaf sequence --------------------------------------------------- */

typedef struct cs_key {
    char k[32];
    uint32_t rec;
} cs_key;

static int cs_key_cmp(const void *a, const void *b)
{
    return strcmp(((const cs_key *)a)->k, ((const cs_key *)b)->k);
}

/* leaf[rec]: the leaf holding record rec, with nleaves leaves in key order. */
static uint32_t *cs_leaf_map(uint64_t records, uint32_t nleaves)
{
    cs_key *keys = malloc(records * sizeof *keys);
    uint32_t *leaf = malloc(records * sizeof *leaf);

    if (!keys || !leaf) {
        free(keys);
        free(leaf);
        return NULL;
    }
    for (uint64_t r = 0; r < records; r++) {
        keys[r].k[ycsb_key(r, keys[r].k)] = '\0';
        keys[r].rec = (uint32_t)r;
    }
    qsort(keys, records, sizeof *keys, cs_key_cmp);
    for (uint64_t i = 0; i < records; i++)
        leaf[keys[i].rec] = (uint32_t)(i * nleaves / records);
    free(keys);
    return leaf;
}

/* ---- Policies: misses among seq[warm..n) --------------------------------- */

static uint64_t cs_lru(const uint32_t *seq, size_t n, size_t warm,
                       uint32_t nleaves, uint32_t cap)
{
    uint32_t *prev = malloc(nleaves * sizeof *prev),
             *next = malloc(nleaves * sizeof *next);
    unsigned char *in = calloc(nleaves, 1);
    uint32_t head = CS_NONE, tail = CS_NONE, used = 0;
    uint64_t miss = CS_NOMEM;

    if (!prev || !next || !in)
        goto out;
    miss = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = seq[i];

        if (in[x]) { /* unlink, then to the front below */
            if (prev[x] != CS_NONE) next[prev[x]] = next[x];
            else head = next[x];
            if (next[x] != CS_NONE) prev[next[x]] = prev[x];
            else tail = prev[x];
        } else {
            miss += i >= warm;
            if (used == cap) { /* evict the least recently used */
                uint32_t v = tail;

                tail = prev[v];
                if (tail != CS_NONE) next[tail] = CS_NONE;
                else head = CS_NONE;
                in[v] = 0;
                used--;
            }
            in[x] = 1;
            used++;
        }
        prev[x] = CS_NONE;
        next[x] = head;
        if (head != CS_NONE)
            prev[head] = x;
        head = x;
        if (tail == CS_NONE)
            tail = x;
    }
out:
    free(prev);
    free(next);
    free(in);
    return miss;
}

static uint64_t cs_clock(const uint32_t *seq, size_t n, size_t warm,
                         uint32_t nleaves, uint32_t cap)
{
    uint32_t *slot = malloc(cap * sizeof *slot),
             *where = malloc(nleaves * sizeof *where), hand = 0;
    unsigned char *use = calloc(cap, 1);
    uint64_t miss = CS_NOMEM;

    if (!slot || !where || !use)
        goto out;
    miss = 0;
    memset(slot, 0xff, cap * sizeof *slot);
    memset(where, 0xff, nleaves * sizeof *where);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = seq[i];

        if (where[x] != CS_NONE) {
            use[where[x]] = 3;
            continue;
        }
        miss += i >= warm;
        while (slot[hand] != CS_NONE && use[hand] > 0) {
            use[hand]--;
            hand = (hand + 1) % cap;
        }
        if (slot[hand] != CS_NONE)
            where[slot[hand]] = CS_NONE;
        slot[hand] = x;
        use[hand] = 1;
        where[x] = hand;
        hand = (hand + 1) % cap;
    }
out:
    free(slot);
    free(where);
    free(use);
    return miss;
}

/* BP_REPLACE_ADMIT as libbufpool/pool/bp_cache.c and shm/bp_freq.c run it: the
 * CLOCK above, plus a use count per leaf (indexed by leaf number modulo a
 * power of two at least 4 x the cache, saturating at 255, all halved every
 * 256 x cache additions): a miss counts its leaf, and so does the hand for
 * every frame it finds used since its last pass (usage at the top).  A
 * miss weighs the oldest of the last cap / 100 leaves brought in against
 * the least counted of the hand's next 4 frames at usage 0: the newcomer
 * stays if it was used since it came in or was counted more, else it
 * goes. */
typedef struct cs_freq {
    unsigned char *c;
    uint64_t mask, adds, period;
} cs_freq;

static void cs_count(cs_freq *q, uint32_t x)
{
    unsigned char *c = &q->c[x & q->mask];

    if (*c < 255)
        (*c)++;
    if (++q->adds % q->period == 0)
        for (uint64_t i = 0; i <= q->mask; i++)
            q->c[i] >>= 1;
}

#define CS_OFFER 4

static uint64_t cs_admit(const uint32_t *seq, size_t n, size_t warm,
                         uint32_t nleaves, uint32_t cap)
{
    uint32_t *slot = malloc(cap * sizeof *slot),
             *where = malloc(nleaves * sizeof *where), hand = 0, used = 0,
             ringn = cap / 100 ? cap / 100 : 1, rpos = 0;
    uint64_t *ring = malloc(ringn * sizeof *ring), len = 64,
             miss = CS_NOMEM;
    unsigned char *use = calloc(cap, 1);
    cs_freq q = {0};

    while (len < 4ull * cap)
        len <<= 1;
    q.c = calloc(len, 1);
    q.mask = len - 1;
    q.period = 256ull * cap;
    if (!slot || !where || !ring || !use || !q.c)
        goto out;
    miss = 0;
    memset(where, 0xff, nleaves * sizeof *where);
    memset(ring, 0xff, ringn * sizeof *ring);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = seq[i], v, nf = CS_NONE, m = CS_NONE;

        if (where[x] != CS_NONE) {
            use[where[x]] = 3;
            continue;
        }
        miss += i >= warm;
        cs_count(&q, x);
        if (used < cap) { /* never used frames first */
            v = used++;
            goto fill;
        }
        uint64_t e = ring[rpos];
        if (e != UINT64_MAX && slot[e >> 32] == (uint32_t)e)
            nf = (uint32_t)(e >> 32);
        for (int got = 0; got < CS_OFFER; hand = (hand + 1) % cap) {
            if (use[hand] > 0) {
                if (use[hand] == 3) /* used since the last pass */
                    cs_count(&q, slot[hand]);
                use[hand]--;
                continue;
            }
            got++;
            if (hand != nf && (m == CS_NONE || q.c[slot[hand] & q.mask] <
                                                   q.c[slot[m] & q.mask]))
                m = hand;
        }
        v = m;
        if (nf != CS_NONE && use[nf] <= 1 &&
            q.c[slot[nf] & q.mask] <= q.c[slot[m] & q.mask])
            v = nf;
        where[slot[v]] = CS_NONE;
        ring[rpos] = (uint64_t)v << 32 | x;
        rpos = (rpos + 1) % ringn;
fill:
        slot[v] = x;
        use[v] = 1;
        where[x] = v;
    }
out:
    free(slot);
    free(where);
    free(ring);
    free(use);
    free(q.c);
    return miss;
}

/* LFU online: cnt[] every leaf's uses so far; the cached leaves in a binary
 * min-heap by count (pos[] a leaf's place in it, CS_NONE when not cached). */
typedef struct cs_lheap {
    uint32_t *h, *pos, *cnt, n;
} cs_lheap;

static int cs_lh_less(const cs_lheap *q, uint32_t i, uint32_t j)
{
    return q->cnt[q->h[i]] < q->cnt[q->h[j]];
}

static void cs_lh_swap(cs_lheap *q, uint32_t i, uint32_t j)
{
    uint32_t t = q->h[i];

    q->h[i] = q->h[j];
    q->h[j] = t;
    q->pos[q->h[i]] = i;
    q->pos[q->h[j]] = j;
}

static void cs_lh_down(cs_lheap *q, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < q->n && cs_lh_less(q, l, m))
            m = l;
        if (r < q->n && cs_lh_less(q, r, m))
            m = r;
        if (m == i)
            return;
        cs_lh_swap(q, i, m);
        i = m;
    }
}

static void cs_lh_up(cs_lheap *q, uint32_t i)
{
    while (i && cs_lh_less(q, i, (i - 1) / 2)) {
        cs_lh_swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static uint64_t cs_lfu_online(const uint32_t *seq, size_t n, size_t warm,
                              uint32_t nleaves, uint32_t cap)
{
    cs_lheap q = {malloc(cap * sizeof *q.h), malloc(nleaves * sizeof *q.pos),
                  calloc(nleaves, sizeof *q.cnt), 0};
    uint64_t miss = CS_NOMEM;

    if (!q.h || !q.pos || !q.cnt)
        goto out;
    miss = 0;
    memset(q.pos, 0xff, nleaves * sizeof *q.pos);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = seq[i];

        if (q.cnt[x] < UINT32_MAX)
            q.cnt[x]++;
        if (q.pos[x] != CS_NONE) { /* a hit: its count rose */
            cs_lh_down(&q, q.pos[x]);
            continue;
        }
        miss += i >= warm;
        if (q.n < cap) {
            q.h[q.n] = x;
            q.pos[x] = q.n++;
            cs_lh_up(&q, q.pos[x]);
        } else if (q.cnt[x] > q.cnt[q.h[0]]) { /* else read, not kept */
            q.pos[q.h[0]] = CS_NONE;
            q.h[0] = x;
            q.pos[x] = 0;
            cs_lh_down(&q, 0);
        }
    }
out:
    free(q.h);
    free(q.pos);
    free(q.cnt);
    return miss;
}

/* The probability of each leaf under the scrambled zipfian's own sampler
 * (ycsb_zipf_next: rank 0 below 1/zetan, rank 1 below u0, then
 * items * (eta u - eta + 1)^alpha), summed over the first CS_RANKS ranks;
 * the rest of the mass lands on records by FNV hash, spread evenly here. */
#define CS_RANKS (1ull << 27)
static double *cs_leaf_prob(const uint32_t *leaf, uint64_t records,
                            uint32_t nleaves)
{
    ycsb_zipf z;
    double *pr = calloc(nleaves, sizeof *pr);
    uint32_t *per = calloc(nleaves, sizeof *per);

    if (!pr || !per) {
        free(pr);
        free(per);
        return NULL;
    }
    ycsb_scrambled_init(&z);
    double u0 = (1.0 + z.half_pow_theta) / z.zetan, prev = 0, cdf;
    uint64_t ranks = CS_RANKS < z.items ? CS_RANKS : z.items;
    for (uint64_t r = 0; r < ranks; r++) {
        /* P(rank <= r): the two fixed ranks, then the formula's share */
        double g = (pow((double)(r + 1) / (double)z.items, 1.0 / z.alpha) -
                    1.0 + z.eta) / z.eta;
        cdf = g > u0 ? g : u0;
        if (r == 0)
            cdf = 1.0 / z.zetan + (g > u0 ? g - u0 : 0);
        pr[leaf[ycsb_fnv64(r) % records]] += cdf - prev;
        prev = cdf;
    }
    for (uint64_t r = 0; r < records; r++)
        per[leaf[r]]++;
    for (uint32_t l = 0; l < nleaves; l++)
        pr[l] += (1.0 - prev) * per[l] / (double)records;
    free(per);
    return pr;
}

static int cs_dbl_desc_idx(const void *a, const void *b, void *ctx)
{
    const double *pr = ctx;
    double x = pr[*(const uint32_t *)a], y = pr[*(const uint32_t *)b];
    return x < y ? 1 : x > y ? -1 : 0;
}

static uint64_t cs_lfu_known(const uint32_t *seq, size_t n, size_t warm,
                             uint32_t nleaves, uint32_t cap, const double *pr)
{
    uint32_t *idx = malloc(nleaves * sizeof *idx);
    unsigned char *in = calloc(nleaves, 1);
    uint64_t miss = CS_NOMEM;

    if (!idx || !in)
        goto out;
    for (uint32_t l = 0; l < nleaves; l++)
        idx[l] = l;
    qsort_r(idx, nleaves, sizeof *idx, cs_dbl_desc_idx, (void *)pr);
    for (uint32_t i = 0; i < cap && i < nleaves; i++)
        in[idx[i]] = 1;
    miss = 0;
    for (size_t i = warm; i < n; i++)
        miss += !in[seq[i]];
out:
    free(idx);
    free(in);
    return miss;
}

static int cs_u64_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static uint64_t cs_lfu_bound(const uint32_t *seq, size_t n, size_t warm,
                             uint32_t nleaves, uint32_t cap)
{
    uint64_t *cnt = calloc(nleaves, sizeof *cnt), hit = 0;

    if (!cnt)
        return CS_NOMEM;
    for (size_t i = warm; i < n; i++)
        cnt[seq[i]]++;
    qsort(cnt, nleaves, sizeof *cnt, cs_u64_desc);
    for (uint32_t i = 0; i < cap && i < nleaves; i++)
        hit += cnt[i];
    free(cnt);
    return (n - warm) - hit;
}

/* Belady's MIN with a max-heap of (next use, leaf), stale entries skipped. */
typedef struct cs_he {
    uint64_t next;
    uint32_t leaf;
} cs_he;

static void cs_heap_push(cs_he *h, size_t *hn, cs_he e)
{
    size_t i = (*hn)++;

    h[i] = e;
    while (i > 0 && h[(i - 1) / 2].next < h[i].next) {
        cs_he t = h[(i - 1) / 2];
        h[(i - 1) / 2] = h[i];
        h[i] = t;
        i = (i - 1) / 2;
    }
}

static cs_he cs_heap_pop(cs_he *h, size_t *hn)
{
    cs_he top = h[0];
    size_t i = 0;

    h[0] = h[--*hn];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < *hn && h[l].next > h[m].next) m = l;
        if (r < *hn && h[r].next > h[m].next) m = r;
        if (m == i)
            break;
        cs_he t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
    return top;
}

static uint64_t cs_min(const uint32_t *seq, size_t n, size_t warm,
                       uint32_t nleaves, uint32_t cap)
{
    uint64_t *nextuse = malloc(n * sizeof *nextuse),
             *pending = malloc(nleaves * sizeof *pending), miss = CS_NOMEM;
    cs_he *heap = malloc((n + 1) * sizeof *heap);
    unsigned char *in = calloc(nleaves, 1);
    size_t hn = 0;
    uint32_t used = 0;

    if (!nextuse || !pending || !heap || !in)
        goto out;
    miss = 0;
    memset(pending, 0xff, nleaves * sizeof *pending); /* never again */
    for (size_t i = n; i-- > 0;) {
        nextuse[i] = pending[seq[i]];
        pending[seq[i]] = i;
    }
    /* pending[x] from here on: the next use the heap entry of x must show */
    for (size_t i = 0; i < n; i++) {
        uint32_t x = seq[i];

        if (!in[x]) {
            miss += i >= warm;
            while (used == cap) {
                cs_he e = cs_heap_pop(heap, &hn);

                if (in[e.leaf] && pending[e.leaf] == e.next) {
                    in[e.leaf] = 0;
                    used--;
                }
            }
            in[x] = 1;
            used++;
        }
        pending[x] = nextuse[i];
        cs_heap_push(heap, &hn, (cs_he){nextuse[i], x});
    }
out:
    free(nextuse);
    free(pending);
    free(heap);
    free(in);
    return miss;
}

/* ---- The run ------------------------------------------------------------- */

static atomic_int cs_done; /* replays finished, for the progress lines */

static void cs_progress(void *arg, char *line, size_t n)
{
    (void)arg;
    snprintf(line, n, "%d of %d replays", atomic_load(&cs_done),
             2 * CS_NPOL);
}

typedef uint64_t (*cs_policy)(const uint32_t *seq, size_t n, size_t warm,
                              uint32_t nleaves, uint32_t cap);
static const double *cs_prob; /* the leaf probabilities of cs_known */

static uint64_t cs_known(const uint32_t *seq, size_t n, size_t warm,
                         uint32_t nleaves, uint32_t cap)
{
    return cs_lfu_known(seq, n, warm, nleaves, cap, cs_prob);
}

static const cs_policy cs_pol_fn[CS_NPOL] = {
    cs_lru, cs_clock, cs_admit, cs_lfu_online, cs_known, cs_lfu_bound,
    cs_min};

/* Every policy on both cache sizes into miss; 0, 1 out of memory, 2 a
 * cache not smaller than the data (said why). */
static int cs_replay(const cs_opts *o, const uint32_t *seq, size_t warm,
                     uint32_t nleaves, const uint32_t cap[2],
                     uint64_t miss[2][CS_NPOL])
{
    for (int c = 0; c < 2; c++) {
        if (cap[c] == 0 || cap[c] >= nleaves) {
            fprintf(stderr, "bpbench cachesim: the cache (%u pages) must be "
                    "smaller than the data (%u pages)\n", cap[c], nleaves);
            return 2;
        }
        for (int q = 0; q < CS_NPOL; q++) {
            miss[c][q] = cs_pol_fn[q](seq, o->ops, warm, nleaves, cap[c]);
            atomic_fetch_add(&cs_done, 1);
            if (miss[c][q] == CS_NOMEM) {
                fprintf(stderr, "bpbench cachesim: out of memory\n");
                return 1;
            }
        }
    }
    return 0;
}

/* The table of misses per operation and its notes on stdout, each cell's
 * figure recorded in run as it is computed. */
static void cs_report(const cs_opts *o, size_t warm, uint32_t nleaves,
                      const uint32_t cap[2], uint64_t miss[2][CS_NPOL],
                      bo_run *run)
{
    static const char *const cache[2] = {"whole budget", "copy share"};
    char cell[CS_NPOL][4][48];
    bu_table t;
    const char *h[5] = {"policy", "misses/op, whole budget", "LRU's / this",
                        "misses/op, copy's cache",
                        "LRU (whole budget)'s / this"};
    double lru = (double)miss[0][CS_LRU], n = (double)(o->ops - warm);
    bo_opt_num(run, "records", (double)o->records);
    bo_opt_num(run, "value_size", (double)o->value_size);
    bo_opt_num(run, "memory", (double)o->memory);
    bo_opt_num(run, "page_size", (double)o->page_size);
    bo_opt_num(run, "ops", (double)o->ops);
    bo_opt_num(run, "warm_ops", (double)warm);
    bo_opt_num(run, "leaves", nleaves);
    bo_opt_num(run, "seed", (double)o->seed);
    for (int c = 0; c < 2; c++)
        for (int p = 0; p < CS_NPOL; p++) {
            double per_op = (double)miss[c][p] / n,
                   ratio = lru / (double)miss[c][p];
            snprintf(cell[p][2 * c], sizeof cell[p][0], "%.3f", per_op);
            snprintf(cell[p][2 * c + 1], sizeof cell[p][0], "%.2fx", ratio);
            bo_row *w = bo_row_new(run, "cachesim");
            bo_label_str(w, "policy", cs_pol_key[p]);
            bo_label_str(w, "cache", cache[c]);
            bo_metric(w, "cache_pages", cap[c]);
            bo_metric(w, "misses_per_op", per_op);
            bo_metric(w, "ratio_lru_whole_over_this", ratio);
        }
    bu_table_init(&t, 5);
    bu_table_add(&t, h);
    for (int p = 0; p < CS_NPOL; p++) {
        const char *row[5] = {cs_pol_name[p], cell[p][0], cell[p][1],
                              cell[p][2], cell[p][3]};
        bu_table_add(&t, row);
    }
    printf("caches: whole budget %u pages, copy backend's cache share %u "
           "pages (its window holds the rest)\n", cap[0], cap[1]);
    bu_table_print(&t, stdout, "  ", 1);
    bu_table_free(&t);
#define CS_PCT(a, b) (100.0 * ((double)miss[0][a] / (double)miss[0][b] - 1))
    printf("ADMIT misses %+.1f%% against LFU with known popularity, %+.1f%% "
           "against LFU in hindsight and %+.1f%% against LFU online (whole "
           "budget); CLOCK %+.1f%%, %+.1f%% and %+.1f%%.\n",
           CS_PCT(CS_ADMIT, CS_KNOWN), CS_PCT(CS_ADMIT, CS_LFU),
           CS_PCT(CS_ADMIT, CS_ONLINE), CS_PCT(CS_CLOCK, CS_KNOWN),
           CS_PCT(CS_CLOCK, CS_LFU), CS_PCT(CS_CLOCK, CS_ONLINE));
#undef CS_PCT
    printf("A disk-bound engine with the same threads on the same disk is at "
           "most \"LRU's / this\" times as fast as one whose cache is an "
           "LRU of the whole budget.\n");
}

/* cachesim.png in o->out.dir: misses per operation per policy, a bar for
 * each cache size; one line says where, or why not. */
static void cs_plot(const cs_opts *o, size_t warm, uint64_t miss[2][CS_NPOL])
{
    const char *term;
    char dat[1100], gp[1100], png[1100], mem[32], why[1200];
    double n = (double)(o->ops - warm);
    int rc;
    if (!o->out.dir)
        return;
    if (!(term = bu_plot_begin(o->out.dir, why, sizeof why))) {
        printf("%s\n", why);
        return;
    }
    snprintf(dat, sizeof dat, "%s/cachesim.dat", o->out.dir);
    snprintf(gp, sizeof gp, "%s/cachesim.gp", o->out.dir);
    snprintf(png, sizeof png, "%s/cachesim.png", o->out.dir);
    FILE *f = fopen(dat, "w"), *g = f ? fopen(gp, "w") : NULL;
    if (!g) {
        printf("plots skipped: cannot write %s: %s\n", f ? gp : dat,
               strerror(errno));
        if (f)
            fclose(f);
        return;
    }
    fprintf(f, "# policy misses_per_op_whole misses_per_op_copy_share\n");
    for (int p = 0; p < CS_NPOL; p++)
        fprintf(f, "%s %.5f %.5f\n", cs_pol_key[p], miss[0][p] / n,
                miss[1][p] / n);
    fprintf(g, "set terminal %s size 900,500\nset output '%s'\n"
               "set title 'bpbench cachesim: leaf misses per YCSB operation "
               "(%s budget)'\nset style data histograms\nset style fill "
               "solid 0.8 border -1\nset boxwidth 0.9\nset yrange [0:*]\n"
               "set ylabel 'misses per operation'\nset key top right\n"
               "set grid ytics\nplot '%s' using 2:xtic(1) title 'whole "
               "budget', '' using 3 title 'copy backend''s cache share'\n",
            term, png, bu_fmt_bytes(o->memory, mem, sizeof mem), dat);
    int bad = fclose(f) | fclose(g);
    rc = bad ? -1 : bu_gnuplot(gp);
    if (rc)
        printf("plots: %s failed\n", gp);
    else
        printf("plots: %s (misses per operation per policy)\n", png);
}

int bench_cachesim_main(int argc, char **argv)
{
    char b1[32], b2[32];
    uint64_t miss[2][CS_NPOL];
    cs_opts o;
    bo_run *run = bo_run_begin(argc, argv);
    int rc = run ? cs_parse(&o, argc, argv) : -2;

    if (rc == 0 && bo_outopts_apply("cachesim", &o.out, run))
        rc = -1;
    if (rc) {
        if (rc == -2)
            fprintf(stderr, "bpbench cachesim: out of memory\n");
        bo_run_discard(run);
        return rc > 0 ? 0 : rc == -2 ? 1 : 2;
    }
    uint64_t data = ycsb_data_bytes(o.records, o.value_size);
    uint32_t nleaves = (uint32_t)((data + o.page_size - 1) / o.page_size);
    uint32_t cap[2] = {(uint32_t)(o.memory / o.page_size),
                       (uint32_t)(o.memory / o.page_size -
                                  o.memory / 16 / o.page_size)};
    size_t warm = o.ops / 3;
    uint32_t *leaf = cs_leaf_map(o.records, nleaves);
    uint32_t *seq = malloc(o.ops * sizeof *seq);
    double *prob = NULL;
    ycsb_zipf z;
    bu_rng r;

    if (leaf && seq) {
        ycsb_scrambled_init(&z);
        bu_rng_seed(&r, o.seed, 1, 'c');
        for (uint64_t i = 0; i < o.ops; i++)
            seq[i] = leaf[ycsb_scrambled_next(&z, o.records, ycsb_unit(&r))];
        prob = cs_leaf_prob(leaf, o.records, nleaves);
    }
    free(leaf);
    if (!prob) {
        fprintf(stderr, "bpbench cachesim: out of memory\n");
        free(seq);
        bo_run_discard(run);
        return 1;
    }
    printf("bpbench cachesim: leaf misses per YCSB operation (scrambled "
           "zipfian 0.99), %llu records of %llu B in ~%s (%u leaves of %llu "
           "B), memory budget %s; %llu operations, the first %zu warm the "
           "cache\n",
           (unsigned long long)o.records, (unsigned long long)o.value_size,
           bu_fmt_bytes(data, b1, sizeof b1), nleaves,
           (unsigned long long)o.page_size,
           bu_fmt_bytes(o.memory, b2, sizeof b2), (unsigned long long)o.ops,
           warm);
    bo_progress_start(cs_progress, NULL);
    cs_prob = prob;
    rc = cs_replay(&o, seq, warm, nleaves, cap, miss);
    bo_progress_stop();
    free(seq);
    free(prob);
    if (rc) {
        bo_run_discard(run);
        return rc;
    }
    cs_report(&o, warm, nleaves, cap, miss, run);
    cs_plot(&o, warm, miss);
    return bo_run_finish("cachesim", run);
}
