/*
 * bench_out.c - owns what bench_out.h promises: the latency histogram, the
 * tick clock for short operations, one run's results and their JSON and
 * CSV files, the machine description in them, the plots of the results
 * (a bar chart and a latency chart per table, by gnuplot), the progress
 * thread, and the shared options (parsing, --help, the output options).
 *
 * Histogram layout: values 0..127 ns have a bucket each; above, every
 * power of two [2^e, 2^(e+1)) is split into 64 equal buckets, so a bucket
 * is at most 1/64 of its values wide and the reported value (the bucket's
 * middle, never above the exact max) is within 1/128 of every value in it.
 * The last bucket takes everything from 2^BO_EMAX ns (about 2.4 hours) up.
 *
 * A run keeps its options and rows in growing arrays of small structs;
 * strings are copied.  An allocation failure marks the run and bo_run_end()
 * reports -ENOMEM instead of writing a partial file.
 */
#include "bench_out.h"

#include "bench_util.h"
#include "bufpool.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ---- Histogram ----------------------------------------------------------- */

#define BO_LIN 128u   /* values below: one bucket each */
#define BO_SUB 64u    /* buckets per power of two above */
#define BO_EMIN 7     /* log2(BO_LIN) */
#define BO_EMAX 43    /* values from 2^BO_EMAX go to the last bucket */
#define BO_NB (BO_LIN + (BO_EMAX - BO_EMIN) * BO_SUB)

struct bo_hist {
    uint64_t count, sum, max, min;
    uint64_t b[BO_NB];
};

static inline unsigned bo_bucket(uint64_t v)
{
    if (v < BO_LIN)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e >= BO_EMAX)
        return BO_NB - 1;
    unsigned sub = (unsigned)(v >> (e - 6)) & (BO_SUB - 1);
    return BO_LIN + (e - BO_EMIN) * BO_SUB + sub;
}

/* The middle of bucket i (its only value below BO_LIN). */
static uint64_t bo_bucket_mid(unsigned i)
{
    if (i < BO_LIN)
        return i;
    unsigned e = BO_EMIN + (i - BO_LIN) / BO_SUB;
    uint64_t sub = (i - BO_LIN) % BO_SUB;
    uint64_t w = 1ull << (e - 6);
    return (1ull << e) + sub * w + w / 2;
}

bo_hist *bo_hist_new(void)
{
    bo_hist *h = malloc(sizeof *h);
    if (h)
        bo_hist_reset(h);
    return h;
}

void bo_hist_free(bo_hist *h)
{
    free(h);
}

size_t bo_hist_size(void)
{
    return sizeof(bo_hist);
}

bo_hist *bo_hist_place(void *mem)
{
    bo_hist *h = mem;
    bo_hist_reset(h);
    return h;
}

void bo_hist_reset(bo_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void bo_hist_add(bo_hist *h, uint64_t ns)
{
    h->b[bo_bucket(ns)]++;
    h->count++;
    h->sum += ns;
    if (ns > h->max)
        h->max = ns;
    if (ns < h->min)
        h->min = ns;
}

void bo_hist_merge(bo_hist *into, const bo_hist *from)
{
    for (unsigned i = 0; i < BO_NB; i++)
        into->b[i] += from->b[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
    if (from->min < into->min)
        into->min = from->min;
}

uint64_t bo_hist_count(const bo_hist *h)
{
    return h->count;
}

double bo_hist_mean(const bo_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

uint64_t bo_hist_max(const bo_hist *h)
{
    return h->max;
}

uint64_t bo_hist_pct(const bo_hist *h, double q)
{
    if (!h->count)
        return 0;
    if (!(q > 0.0)) /* also NaN */
        return h->min;
    if (q >= 1.0)
        return h->max;
    double r = ceil(q * (double)h->count);
    uint64_t rank = r < 1.0 ? 1 : (uint64_t)r, seen = 0;
    for (unsigned i = 0; i < BO_NB; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = bo_bucket_mid(i);
            if (v < h->min)
                v = h->min;
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

/* ---- Tick clock ---------------------------------------------------------- */

int bo_tick_tsc;
static double bo_tick_per_ns = 1.0, bo_tick_cost_ns, bo_tick_res_ns = 1.0;

uint64_t bo_ticks_slow(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* 1 when /proc/cpuinfo's flags say the TSC runs at one rate always. */
static int bo_tsc_constant(void)
{
    char line[4096];
    int ok = 0;
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            ok = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc");
            break;
        }
    fclose(f);
    return ok;
}

int bo_tick_init(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    bo_tick_tsc = bo_tsc_constant();
#endif
    bo_tick_per_ns = 1.0;
    if (bo_tick_tsc) {
        uint64_t n0 = bo_ticks_slow(), c0 = bo_ticks(), n1, c1;
        do {
            n1 = bo_ticks_slow();
            c1 = bo_ticks();
        } while (n1 - n0 < 20000000u);
        bo_tick_per_ns = (double)(c1 - c0) / (double)(n1 - n0);
        if (!(bo_tick_per_ns > 0.05)) /* nonsense: use the clock */
            bo_tick_tsc = 0, bo_tick_per_ns = 1.0;
    }
    uint64_t least = UINT64_MAX, sum = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = bo_ticks(), b = bo_ticks();
        sum += b - a;
        if (b > a && b - a < least)
            least = b - a;
    }
    bo_tick_cost_ns = (double)sum / 1000.0 / bo_tick_per_ns;
    bo_tick_res_ns = least == UINT64_MAX ? 1.0
                                         : (double)least / bo_tick_per_ns;
    return bo_tick_tsc;
}

double bo_tick_resolution_ns(void)
{
    return bo_tick_res_ns;
}

uint64_t bo_tick_batch(double ns_op)
{
    double res = bo_tick_res_ns, cost = bo_tick_cost_ns;
    double need = 20.0 * (res > cost ? res : cost);
    uint64_t n = 1;
    while (n < 256 && (double)n * ns_op < need)
        n *= 2;
    return n;
}

const char *bo_tick_how(char *buf, size_t n)
{
    snprintf(buf, n, "batches of the ops (1 when an op lasts 20x the "
             "clock's step or cost) timed with %s (step %.1f ns, cost %.1f "
             "ns subtracted), a value being a batch's time / its ops",
             bo_tick_tsc ? "the TSC" : "CLOCK_MONOTONIC", bo_tick_res_ns,
             bo_tick_cost_ns);
    return buf;
}

uint64_t bo_ticks_to_ns(uint64_t ticks)
{
    double ns = (double)ticks / bo_tick_per_ns - bo_tick_cost_ns;
    return ns > 0 ? (uint64_t)(ns + 0.5) : 0;
}

double bo_tick_overhead_ns(void)
{
    return bo_tick_cost_ns;
}

/* ---- One run's results --------------------------------------------------- */

typedef struct bo_kv {
    char *key;
    char *str; /* NULL: a number */
    double num;
} bo_kv;

typedef struct bo_lat {
    char *kind;
    uint64_t count, p50, p90, p99, p999, max;
    double mean;
} bo_lat;

/* A growing array of n items of size sz. */
typedef struct bo_vec {
    void *v;
    size_t n, cap;
} bo_vec;

struct bo_row {
    bo_run *run;
    char *table;
    bo_vec labels, metrics, lats; /* bo_kv, bo_kv, bo_lat */
};

struct bo_run {
    char **argv;
    int argc;
    char started[32];
    struct timespec t0;
    char *json, *csv;
    int oom;
    bo_vec opts; /* bo_kv */
    bo_vec rows; /* bo_row * */
    char *plot_dir; /* NULL: no plots */
    int plot_what;  /* BO_PLOT_* */
    FILE *plot_info;
    bo_vec pmetric, pylabel; /* bo_kv: table -> main metric, axis label */
};

/* A new zeroed item at the end of vec (items of sz bytes), NULL when out
 * of memory. */
static void *bo_vec_push(bo_vec *vec, size_t sz)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 8;
        void *p = realloc(vec->v, cap * sz);
        if (!p)
            return NULL;
        vec->v = p;
        vec->cap = cap;
    }
    void *it = (char *)vec->v + vec->n++ * sz;
    memset(it, 0, sz);
    return it;
}

static char *bo_strdup(bo_run *r, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        r->oom = 1;
    return d;
}

bo_run *bo_run_begin(int argc, char **argv)
{
    bo_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(r->started, sizeof r->started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    r->argv = calloc((size_t)argc + 1, sizeof *r->argv);
    if (!r->argv) {
        free(r);
        return NULL;
    }
    for (int i = 0; i < argc; i++) {
        r->argv[i] = bo_strdup(r, argv[i]);
        r->argc = r->argv[i] ? i + 1 : r->argc;
    }
    return r;
}

void bo_run_outputs(bo_run *r, const char *json_path, const char *csv_path)
{
    if (!r)
        return;
    free(r->json);
    free(r->csv);
    r->json = json_path ? bo_strdup(r, json_path) : NULL;
    r->csv = csv_path ? bo_strdup(r, csv_path) : NULL;
}

/* Sets (or replaces) key in a vector of bo_kv. */
static void bo_kv_set(bo_run *r, bo_vec *vec, const char *key,
                      const char *str, double num)
{
    bo_kv *kv = NULL;
    for (size_t i = 0; i < vec->n && !kv; i++)
        if (strcmp(((bo_kv *)vec->v)[i].key, key) == 0)
            kv = (bo_kv *)vec->v + i;
    if (kv) {
        free(kv->str);
        kv->str = NULL;
    } else if ((kv = bo_vec_push(vec, sizeof *kv)) != NULL) {
        if (!(kv->key = bo_strdup(r, key))) {
            vec->n--;
            return;
        }
    } else {
        r->oom = 1;
        return;
    }
    kv->num = num;
    if (str)
        kv->str = bo_strdup(r, str);
}

void bo_opt_num(bo_run *r, const char *name, double v)
{
    if (r)
        bo_kv_set(r, &r->opts, name, NULL, v);
}

void bo_opt_str(bo_run *r, const char *name, const char *v)
{
    if (r)
        bo_kv_set(r, &r->opts, name, v ? v : "", 0);
}

bo_row *bo_row_new(bo_run *r, const char *table)
{
    if (!r)
        return NULL;
    bo_row **slot = bo_vec_push(&r->rows, sizeof *slot);
    bo_row *w = calloc(1, sizeof *w);
    if (!slot || !w) {
        if (slot)
            r->rows.n--;
        free(w);
        r->oom = 1;
        return NULL;
    }
    w->run = r;
    w->table = bo_strdup(r, table);
    *slot = w;
    return w;
}

void bo_label_str(bo_row *w, const char *key, const char *v)
{
    if (w)
        bo_kv_set(w->run, &w->labels, key, v ? v : "", 0);
}

void bo_label_num(bo_row *w, const char *key, double v)
{
    if (w)
        bo_kv_set(w->run, &w->labels, key, NULL, v);
}

void bo_metric(bo_row *w, const char *name, double v)
{
    if (w)
        bo_kv_set(w->run, &w->metrics, name, NULL, v);
}

void bo_hist_pcts(const bo_hist *h, bo_pcts *out)
{
    out->count = h->count;
    out->mean = bo_hist_mean(h);
    out->p50 = bo_hist_pct(h, 0.50);
    out->p90 = bo_hist_pct(h, 0.90);
    out->p99 = bo_hist_pct(h, 0.99);
    out->p999 = bo_hist_pct(h, 0.999);
    out->max = h->max;
}

void bo_latency_pcts(bo_row *w, const char *kind, const bo_pcts *s)
{
    if (!w || !s || !s->count)
        return;
    bo_lat *l = bo_vec_push(&w->lats, sizeof *l);
    if (!l || !(l->kind = bo_strdup(w->run, kind))) {
        if (l)
            w->lats.n--;
        w->run->oom = 1;
        return;
    }
    l->count = s->count;
    l->mean = s->mean;
    l->p50 = s->p50;
    l->p90 = s->p90;
    l->p99 = s->p99;
    l->p999 = s->p999;
    l->max = s->max;
}

void bo_latency(bo_row *w, const char *kind, const bo_hist *h)
{
    bo_pcts s;
    if (!w || !h)
        return;
    bo_hist_pcts(h, &s);
    bo_latency_pcts(w, kind, &s);
}

static void bo_kvs_free(bo_vec *vec)
{
    for (size_t i = 0; i < vec->n; i++) {
        free(((bo_kv *)vec->v)[i].key);
        free(((bo_kv *)vec->v)[i].str);
    }
    free(vec->v);
}

static void bo_run_free(bo_run *r)
{
    for (size_t i = 0; i < r->rows.n; i++) {
        bo_row *w = ((bo_row **)r->rows.v)[i];
        bo_kvs_free(&w->labels);
        bo_kvs_free(&w->metrics);
        for (size_t j = 0; j < w->lats.n; j++)
            free(((bo_lat *)w->lats.v)[j].kind);
        free(w->lats.v);
        free(w->table);
        free(w);
    }
    free(r->rows.v);
    bo_kvs_free(&r->opts);
    bo_kvs_free(&r->pmetric);
    bo_kvs_free(&r->pylabel);
    free(r->plot_dir);
    for (int i = 0; i < r->argc; i++)
        free(r->argv[i]);
    free(r->argv);
    free(r->json);
    free(r->csv);
    free(r);
}

/* ---- JSON ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t bo_utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
             : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || c == 0xC0 || c == 0xC1 || c > 0xF4)
        return n == 1 ? 1 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0; /* overlong, surrogate or above U+10FFFF */
    return n;
}

/* A JSON string: quotes, backslashes and control characters escaped,
 * bytes that are not UTF-8 replaced by U+FFFD. */
static void bo_json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    fputc('"', f);
    while (*p) {
        size_t n = bo_utf8_len(p);
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(f, "\\u%04x", *p);
        else if (n == 0)
            fputs("\\ufffd", f);
        else
            fwrite(p, 1, n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

/* A finite number into buf: integers up to 2^53 exactly, other values in
 * the shortest form that reads back the same. */
static void bo_fmt_num(char *buf, size_t n, double v)
{
    if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
        snprintf(buf, n, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
}

/* A JSON number; null for NaN and infinities. */
static void bo_json_num(FILE *f, double v)
{
    char buf[40];
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    bo_fmt_num(buf, sizeof buf, v);
    fputs(buf, f);
}

static void bo_json_kvs(FILE *f, const bo_vec *vec)
{
    fputc('{', f);
    for (size_t i = 0; i < vec->n; i++) {
        const bo_kv *kv = (const bo_kv *)vec->v + i;
        if (i)
            fputs(", ", f);
        bo_json_str(f, kv->key);
        fputs(": ", f);
        if (kv->str)
            bo_json_str(f, kv->str);
        else
            bo_json_num(f, kv->num);
    }
    fputc('}', f);
}

static void bo_json_lat(FILE *f, const bo_lat *l)
{
    bo_json_str(f, l->kind);
    fprintf(f, ": {\"count\": %" PRIu64 ", \"mean\": ", l->count);
    bo_json_num(f, l->mean);
    fprintf(f, ", \"p50\": %" PRIu64 ", \"p90\": %" PRIu64
               ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64
               ", \"max\": %" PRIu64 "}",
            l->p50, l->p90, l->p99, l->p999, l->max);
}

static void bo_json_row(FILE *f, const bo_row *w)
{
    fputs("    {\"table\": ", f);
    bo_json_str(f, w->table);
    fputs(",\n     \"labels\": ", f);
    bo_json_kvs(f, &w->labels);
    fputs(",\n     \"metrics\": ", f);
    bo_json_kvs(f, &w->metrics);
    fputs(",\n     \"latency_ns\": {", f);
    for (size_t j = 0; j < w->lats.n; j++) {
        fputs(j ? ",\n       " : "", f);
        bo_json_lat(f, (const bo_lat *)w->lats.v + j);
    }
    fputs("}}", f);
}

static void bo_json_machine(FILE *f)
{
    struct utsname u;
    char cpu[256], host[256] = "", kernel[3 * sizeof u.release];
    if (uname(&u) == 0)
        snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release,
                 u.machine);
    else
        snprintf(kernel, sizeof kernel, "unknown");
    bu_cpu_model(cpu, sizeof cpu, "unknown");
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    fputs(" \"machine\": {\"kernel\": ", f);
    bo_json_str(f, kernel);
    fputs(", \"cpu\": ", f);
    bo_json_str(f, cpu);
    fprintf(f, ",\n             \"cores\": %ld, \"memory_bytes\": %" PRIu64
               ", \"hostname\": ",
            cores > 0 ? cores : 1, bu_meminfo_kib("MemTotal") << 10);
    bo_json_str(f, host);
    fputs("},\n", f);
}

static double bo_run_seconds(const bo_run *r)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - r->t0.tv_sec) +
           (double)(t.tv_nsec - r->t0.tv_nsec) / 1e9;
}

static void bo_json_write(FILE *f, const bo_run *r)
{
    char ver[32];
    snprintf(ver, sizeof ver, "%d.%d.%d", BP_VERSION_MAJOR, BP_VERSION_MINOR,
             BP_VERSION_PATCH);
    fputs("{\"schema\": \"bpbench/1\",\n \"bpbench\": {\"version\": ", f);
    bo_json_str(f, ver);
    fputs(", \"subcommand\": ", f);
    bo_json_str(f, r->argc ? r->argv[0] : "");
    fputs(",\n             \"argv\": [\"bpbench\"", f);
    for (int i = 0; i < r->argc; i++) {
        fputs(", ", f);
        bo_json_str(f, r->argv[i]);
    }
    fputs("],\n             \"started\": ", f);
    bo_json_str(f, r->started);
    fputs(", \"seconds\": ", f);
    bo_json_num(f, round(bo_run_seconds(r) * 1000.0) / 1000.0);
    fputs("},\n", f);
    bo_json_machine(f);
    fputs(" \"options\": ", f);
    bo_json_kvs(f, &r->opts);
    fputs(",\n \"results\": [\n", f);
    for (size_t i = 0; i < r->rows.n; i++) {
        bo_json_row(f, ((bo_row *const *)r->rows.v)[i]);
        fputs(i + 1 < r->rows.n ? ",\n" : "\n", f);
    }
    fputs(" ]}\n", f);
}

/* ---- CSV ----------------------------------------------------------------- */

void bo_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void bo_csv_num(FILE *f, double v)
{
    char buf[40];
    if (!isfinite(v))
        return; /* an empty cell */
    bo_fmt_num(buf, sizeof buf, v);
    fputs(buf, f);
}

/* Appends the names of vec not yet in names (a vector of char *). */
static int bo_names_union(bo_vec *names, const bo_vec *vec, int lat)
{
    for (size_t i = 0; i < vec->n; i++) {
        const char *k = lat ? ((const bo_lat *)vec->v)[i].kind
                            : ((const bo_kv *)vec->v)[i].key;
        size_t j = 0;
        while (j < names->n && strcmp(((char **)names->v)[j], k) != 0)
            j++;
        if (j < names->n)
            continue;
        const char **s = bo_vec_push(names, sizeof *s);
        if (!s)
            return -ENOMEM;
        *s = k;
    }
    return 0;
}

static const bo_kv *bo_kv_find(const bo_vec *vec, const char *key)
{
    for (size_t i = 0; i < vec->n; i++)
        if (strcmp(((const bo_kv *)vec->v)[i].key, key) == 0)
            return (const bo_kv *)vec->v + i;
    return NULL;
}

static const bo_lat *bo_lat_find(const bo_vec *vec, const char *kind)
{
    for (size_t i = 0; i < vec->n; i++)
        if (strcmp(((const bo_lat *)vec->v)[i].kind, kind) == 0)
            return (const bo_lat *)vec->v + i;
    return NULL;
}

static void bo_csv_kv(FILE *f, const bo_kv *kv)
{
    fputc(',', f);
    if (kv && kv->str)
        bo_csv_field(f, kv->str);
    else if (kv)
        bo_csv_num(f, kv->num);
}

static const char *const bo_pct_names[] = {"p50", "p90", "p99", "p999",
                                           "max"};

static void bo_csv_header(FILE *f, const bo_vec n[3])
{
    fputs("table", f);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < n[k].n; i++) {
            fputc(',', f);
            bo_csv_field(f, ((char **)n[k].v)[i]);
        }
    for (size_t i = 0; i < n[2].n; i++)
        for (int p = 0; p < 5; p++) {
            fputc(',', f);
            bo_csv_field(f, ((char **)n[2].v)[i]);
            fprintf(f, "_%s_ns", bo_pct_names[p]);
        }
    fputc('\n', f);
}

static void bo_csv_line(FILE *f, const bo_row *w, const bo_vec n[3])
{
    bo_csv_field(f, w->table);
    for (size_t i = 0; i < n[0].n; i++)
        bo_csv_kv(f, bo_kv_find(&w->labels, ((char **)n[0].v)[i]));
    for (size_t i = 0; i < n[1].n; i++)
        bo_csv_kv(f, bo_kv_find(&w->metrics, ((char **)n[1].v)[i]));
    for (size_t i = 0; i < n[2].n; i++) {
        const bo_lat *l = bo_lat_find(&w->lats, ((char **)n[2].v)[i]);
        uint64_t v[5] = {0};
        if (l) {
            v[0] = l->p50, v[1] = l->p90, v[2] = l->p99;
            v[3] = l->p999, v[4] = l->max;
        }
        for (int p = 0; p < 5; p++) {
            fputc(',', f);
            if (l)
                fprintf(f, "%" PRIu64, v[p]);
        }
    }
    fputc('\n', f);
}

/* One block: the rows of table t (the union of their columns). */
static int bo_csv_block(FILE *f, const bo_run *r, const char *t)
{
    bo_vec n[3] = {{0}};
    int rc = 0;
    bo_row *const *rows = r->rows.v;
    for (size_t i = 0; i < r->rows.n && !rc; i++)
        if (strcmp(rows[i]->table, t) == 0)
            rc = bo_names_union(&n[0], &rows[i]->labels, 0) ||
                         bo_names_union(&n[1], &rows[i]->metrics, 0) ||
                         bo_names_union(&n[2], &rows[i]->lats, 1)
                     ? -ENOMEM
                     : 0;
    if (!rc) {
        bo_csv_header(f, n);
        for (size_t i = 0; i < r->rows.n; i++)
            if (strcmp(rows[i]->table, t) == 0)
                bo_csv_line(f, rows[i], n);
    }
    for (int k = 0; k < 3; k++)
        free(n[k].v);
    return rc;
}

/* 1 when row i is the first of its table. */
static int bo_table_first(const bo_run *r, size_t i)
{
    bo_row *const *rows = r->rows.v;
    size_t j = 0;
    while (j < i && strcmp(rows[j]->table, rows[i]->table) != 0)
        j++;
    return j == i;
}

static int bo_csv_write(FILE *f, const bo_run *r)
{
    bo_row *const *rows = r->rows.v;
    int blocks = 0;
    for (size_t i = 0; i < r->rows.n; i++) {
        if (!bo_table_first(r, i))
            continue; /* the table's block is written */
        if (blocks++)
            fputc('\n', f);
        int rc = bo_csv_block(f, r, rows[i]->table);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- Plots --------------------------------------------------------------- */

void bo_run_plots(bo_run *r, const char *dir, int what, FILE *info)
{
    if (!r)
        return;
    free(r->plot_dir);
    r->plot_dir = dir && what ? bo_strdup(r, dir) : NULL;
    r->plot_what = what;
    r->plot_info = info;
}

void bo_plot_metric(bo_run *r, const char *table, const char *metric,
                    const char *ylabel)
{
    if (!r)
        return;
    bo_kv_set(r, &r->pmetric, table, metric ? metric : "", 0);
    bo_kv_set(r, &r->pylabel, table, ylabel ? ylabel : metric, 0);
}

/* s into buf for a file name: letters, digits, '-', '_' and '.' kept,
 * anything else made '_'. */
static void bo_plot_name(char *buf, size_t n, const char *s)
{
    snprintf(buf, n, "%s", s);
    for (char *p = buf; *p; p++)
        if (!strchr("-_.", *p) && !(*p >= '0' && *p <= '9') &&
            !((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
            *p = '_';
}

/* s as a gnuplot string: in single quotes, a quote doubled. */
static void bo_gp_str(FILE *g, const char *s)
{
    fputc('\'', g);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', g);
        fputc(*s, g);
    }
    fputc('\'', g);
}

/* The label of a bar of w into buf: its labels' values joined by spaces,
 * numbers as key=value, a string equal to the one before left out, then
 * kind (NULL: none) unless a label's value is kind; '"' made '\''. */
static void bo_plot_label(const bo_row *w, const char *kind, char *buf,
                          size_t n)
{
    const bo_kv *kv = w->labels.v;
    char num[40];
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < w->labels.n && len + 1 < n; i++) {
        if (kv[i].str && kind && strcmp(kv[i].str, kind) == 0)
            kind = NULL;
        if (kv[i].str && i && kv[i - 1].str &&
            strcmp(kv[i].str, kv[i - 1].str) == 0)
            continue;
        if (!kv[i].str)
            bo_fmt_num(num, sizeof num, kv[i].num);
        snprintf(buf + len, n - len, "%s%s%s%s", len ? " " : "",
                 kv[i].str ? kv[i].str : kv[i].key, kv[i].str ? "" : "=",
                 kv[i].str ? "" : num);
        len = strlen(buf);
    }
    if (kind && len + 1 < n)
        snprintf(buf + len, n - len, "%s%s", len ? " " : "", kind);
    for (char *p = buf; *p; p++)
        if (*p == '"')
            *p = '\'';
}

/* Table t's main metric (NULL: no bar chart) and its axis label. */
static const char *bo_plot_main(const bo_run *r, const char *t,
                                const char **ylabel)
{
    const bo_kv *m = bo_kv_find(&r->pmetric, t);
    const bo_kv *y = bo_kv_find(&r->pylabel, t);
    bo_row *const *rows = r->rows.v;
    if (m) {
        *ylabel = y && y->str ? y->str : m->str;
        return m->str[0] ? m->str : NULL;
    }
    for (size_t i = 0; i < r->rows.n; i++)
        if (strcmp(rows[i]->table, t) == 0 && rows[i]->metrics.n)
            return *ylabel = ((const bo_kv *)rows[i]->metrics.v)->key;
    return NULL;
}

/* Writes path, the data of t's bar chart of metric m, or (m NULL) of its
 * latency chart: a "#" header line, then a line per row with the metric,
 * "label" value, or per row and latency kind, "label kind" p50 p99 ('?'
 * for 0, which the log scale cannot show).  The lines written, or -errno;
 * the least and the largest value into lim[0], lim[1], the longest
 * label's length into *lab. */
static int bo_plot_data(const bo_run *r, const char *t, const char *m,
                        const char *path, double lim[2], size_t *lab)
{
    bo_row *const *rows = r->rows.v;
    char label[512];
    int n = 0;
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    fprintf(f, "# row %s\n", m ? m : "p50_ns p99_ns");
    for (size_t i = 0; i < r->rows.n; i++) {
        const bo_row *w = rows[i];
        const bo_kv *v = m ? bo_kv_find(&w->metrics, m) : NULL;
        size_t nk = m ? (v && !v->str && isfinite(v->num)) : w->lats.n;
        if (strcmp(w->table, t) != 0)
            continue;
        for (size_t k = 0; k < nk; k++) {
            const bo_lat *l = m ? NULL : (const bo_lat *)w->lats.v + k;
            if (l && !l->p50 && !l->p99)
                continue;
            bo_plot_label(w, l ? l->kind : NULL, label, sizeof label);
            *lab = strlen(label) > *lab ? strlen(label) : *lab;
            fprintf(f, "\"%s\"", label);
            if (!l) {
                bo_fmt_num(label, sizeof label, v->num);
                fprintf(f, " %s", label);
                lim[0] = n && lim[0] < v->num ? lim[0] : v->num;
                lim[1] = n && lim[1] > v->num ? lim[1] : v->num;
            }
            for (int p = 0; l && p < 2; p++)
                if (p ? l->p99 : l->p50)
                    fprintf(f, " %" PRIu64, p ? l->p99 : l->p50);
                else
                    fputs(" ?", f);
            fputc('\n', f);
            n++;
        }
    }
    return fclose(f) ? -errno : n;
}

/* Table t's bar chart of metric m (ylabel its axis), or (m NULL) its
 * latency chart, from base[-latency].dat and .gp to png (n bytes; ""
 * when no row has a value).  The bars have slanted labels under them,
 * and their values over them when there are few; the bar chart has a
 * log scale when its values are above 0 and span more than a factor 100.
 * 0, -errno when a file cannot be written, or gnuplot's exit status. */
static int bo_plot_chart(const bo_run *r, const char *t, const char *m,
                         const char *ylabel, const char *base,
                         const char *term, char *png, size_t n)
{
    char dat[4200], gp[4200], text[600];
    const char *sfx = m ? "" : "-latency";
    double lim[2] = {0, 0};
    size_t lab = 0;
    snprintf(dat, sizeof dat, "%s%s.dat", base, sfx);
    snprintf(gp, sizeof gp, "%s%s.gp", base, sfx);
    snprintf(png, n, "%s%s.png", base, sfx);
    int rows = bo_plot_data(r, t, m, dat, lim, &lab);
    FILE *g = rows > 0 ? fopen(gp, "we") : NULL;
    if (!g) {
        int rc = rows < 0 ? rows : rows ? -errno : 0;
        remove(dat); /* nothing to draw, or not written */
        png[0] = 0;
        return rc;
    }
    int log = !m || (lim[0] > 0 && lim[1] > 100 * lim[0]);
    int lm = lab > 100 ? 70 : lab < 15 ? 10 : (int)lab * 7 / 10;
    int wpx = rows * (m && rows > 24 ? 26 : 44); /* room for the values */
    wpx = (wpx > 360 ? wpx : 360) + 120 + 8 * lm; /* and the margins */
    fprintf(g, "set terminal %s size %d,%d\nset termoption noenhanced\n"
               "set lmargin %d\nset rmargin 4\nset output ", term,
            wpx > 4000 ? 4000 : wpx, 500 + 5 * lm * 10 / 7, lm);
    bo_gp_str(g, png);
    snprintf(text, sizeof text, "bpbench %s: table %s, %s per row%s",
             r->argc ? r->argv[0] : "", t, m ? m : "latency",
             m ? "" : " and kind");
    fputs("\nset title ", g);
    bo_gp_str(g, text);
    snprintf(text, sizeof text, "%s%s", m ? ylabel : "ns",
             log ? " (log scale)" : "");
    fputs("\nset ylabel ", g);
    bo_gp_str(g, text);
    fprintf(g, "\nset style data histograms\nset style histogram "
               "clustered gap 1\nset style fill solid 0.8 border -1\n"
               "set xtics rotate by 45 right\nset grid ytics\n"
               "set datafile missing '?'\n%s%s%s%splot ",
            log ? "set logscale y\n" : lim[0] < 0 ? "" : "set yrange [0:*]\n",
            !m || lim[1] >= 1e5 ? log ? "set format y '%.0s%c'\n" /* 1M */
                                      : "set format y '%.1s%c'\n" : "",
            m && rows <= 24 ? "set offsets 0, 0, graph 0.08, 0\n" : "",
            m ? "set key off\n" : "set key outside top center horizontal\n");
    bo_gp_str(g, dat);
    fputs(!m ? " using 2:xtic(1) title 'p50', '' using 3 title 'p99'\n"
          : rows > 24 ? " using 2:xtic(1)\n"
                      : " using 2:xtic(1), '' using 0:2:(abs($2) < 1000 ? "
                        "sprintf('%.3g', $2) : gprintf('%.1s%c', $2)) with "
                        "labels offset 0,0.8\n", g);
    if (fclose(g))
        return -errno;
    return bu_gnuplot(gp);
}

/* Table t's charts asked for, as base.* and base-latency.*; one line on
 * out names the PNGs, or says what failed. */
static void bo_plot_table(const bo_run *r, const char *t, const char *base,
                          const char *term, FILE *out)
{
    const char *ylabel = NULL, *m = NULL;
    char png[2][4200] = {"", ""};
    if (r->plot_what & BO_PLOT_METRIC)
        m = bo_plot_main(r, t, &ylabel);
    for (int c = 0; c < 2; c++) {
        if (c ? !(r->plot_what & BO_PLOT_LATENCY) : !m)
            continue;
        int rc = bo_plot_chart(r, t, c ? NULL : m, ylabel, base, term,
                               png[c], sizeof png[c]);
        if (rc < 0)
            fprintf(out, "plots: cannot write %s%s.*: %s\n", base,
                    c ? "-latency" : "", strerror(-rc));
        else if (rc > 0)
            fprintf(out, "plots: gnuplot %s%s.gp failed (exit %d)\n", base,
                    c ? "-latency" : "", rc);
        if (rc)
            png[c][0] = 0;
    }
    if (png[0][0])
        fprintf(out, "plots: %s (%s per row)", png[0], m);
    if (png[1][0])
        fprintf(out, "%s %s (p50 and p99 per row and kind)",
                png[0][0] ? "," : "plots:", png[1]);
    if (png[0][0] || png[1][0])
        fputc('\n', out);
}

/* The plots of every table of r, when it has a plot directory. */
static void bo_plot_run(const bo_run *r)
{
    int std = (r->json && strcmp(r->json, "-") == 0) ||
              (r->csv && strcmp(r->csv, "-") == 0);
    FILE *out = r->plot_info ? r->plot_info : std ? stderr : stdout;
    bo_row *const *rows = r->rows.v;
    char base[4096], sub[256], t[256], why[4200];
    const char *term;

    if (!r->plot_dir || !r->rows.n)
        return;
    if (!(term = bu_plot_begin(r->plot_dir, why, sizeof why))) {
        fprintf(out, "%s\n", why);
        return;
    }
    bo_plot_name(sub, sizeof sub, r->argc ? r->argv[0] : "bpbench");
    for (size_t i = 0; i < r->rows.n; i++)
        if (bo_table_first(r, i)) {
            bo_plot_name(t, sizeof t, rows[i]->table);
            snprintf(base, sizeof base, "%s/%s-%s", r->plot_dir, sub, t);
            bo_plot_table(r, rows[i]->table, base, term, out);
        }
    fflush(out);
}

/* ---- Writing the files --------------------------------------------------- */

static char bo_failed[4096];

const char *bo_failed_path(void)
{
    return bo_failed;
}

/* Writes path ("-": stdout) with fn; 0 or -errno. */
static int bo_write_file(const char *path, const bo_run *r, int csv)
{
    int to_stdout = strcmp(path, "-") == 0, rc = 0;
    FILE *f = to_stdout ? stdout : fopen(path, "we");
    if (!f)
        return -errno;
    if (csv)
        rc = bo_csv_write(f, r);
    else
        bo_json_write(f, r);
    if (fflush(f) != 0 || ferror(f))
        rc = rc ? rc : -(errno ? errno : EIO);
    if (!to_stdout && fclose(f) != 0 && !rc)
        rc = -errno;
    return rc;
}

void bo_run_discard(bo_run *r)
{
    if (r)
        bo_run_free(r);
}

int bo_run_end(bo_run *r)
{
    if (!r)
        return 0;
    const char *paths[2] = {r->json, r->csv};
    int rc = r->oom ? -ENOMEM : 0;
    bo_failed[0] = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        if (!paths[i])
            continue;
        errno = 0;
        rc = bo_write_file(paths[i], r, i);
        if (rc)
            snprintf(bo_failed, sizeof bo_failed, "%s", paths[i]);
    }
    if (!r->oom)
        bo_plot_run(r);
    bo_run_free(r);
    return rc;
}

/* ---- Progress ------------------------------------------------------------ */

static struct {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, stop;
    bo_progress_fn fn;
    void *arg;
} bo_pg = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void bo_ts_add_ns(struct timespec *t, uint64_t ns)
{
    uint64_t n = (uint64_t)t->tv_nsec + ns;
    t->tv_sec += (time_t)(n / 1000000000u);
    t->tv_nsec = (long)(n % 1000000000u);
}

static void *bo_progress_main(void *unused)
{
    (void)unused;
    struct timespec t0, next;
    char line[512], prefix[64];
    clock_gettime(CLOCK_MONOTONIC, &t0);
    next = t0;
    pthread_mutex_lock(&bo_pg.mu);
    for (unsigned tick = 1; !bo_pg.stop; tick++) {
        bo_ts_add_ns(&next, 1000000000u);
        while (!bo_pg.stop &&
               pthread_cond_timedwait(&bo_pg.cv, &bo_pg.mu, &next) == 0)
            ;
        if (bo_pg.stop)
            break;
        line[0] = 0;
        bo_pg.fn(bo_pg.arg, line, sizeof line);
        if (!line[0])
            continue; /* nothing to say this second */
        snprintf(prefix, sizeof prefix, "progress: %u.0 s, ", tick);
        fprintf(stderr, "%s%s\n",
                strncmp(line, "progress:", 9) == 0 ? "" : prefix, line);
    }
    pthread_mutex_unlock(&bo_pg.mu);
    return NULL;
}

int bo_progress_start(bo_progress_fn fn, void *arg)
{
    pthread_condattr_t ca;
    if (bu_quiet || !fn)
        return 0;
    if (bo_pg.running)
        return -EBUSY;
    if (pthread_condattr_init(&ca) != 0)
        return -ENOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&bo_pg.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc)
        return -rc;
    bo_pg.fn = fn;
    bo_pg.arg = arg;
    bo_pg.stop = 0;
    rc = pthread_create(&bo_pg.th, NULL, bo_progress_main, NULL);
    if (rc) {
        pthread_cond_destroy(&bo_pg.cv);
        return -rc;
    }
    bo_pg.running = 1;
    return 0;
}

void bo_progress_stop(void)
{
    if (!bo_pg.running)
        return;
    pthread_mutex_lock(&bo_pg.mu);
    bo_pg.stop = 1;
    pthread_cond_signal(&bo_pg.cv);
    pthread_mutex_unlock(&bo_pg.mu);
    pthread_join(bo_pg.th, NULL);
    pthread_cond_destroy(&bo_pg.cv);
    bo_pg.running = 0;
}

/* ---- Options ------------------------------------------------------------- */

/* A bound for an error line: integers as such, 2^64-1 by name. */
static const char *bo_fmt_bound(double v, char *buf, size_t n)
{
    if (v >= 18446744073709551615.0)
        snprintf(buf, n, "2^64-1");
    else if (v == floor(v))
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%g", v);
    return buf;
}

/* "bpbench <cmd>: --<opt>: '<v>' <what>; give N in [min, max]" (v NULL:
 * "--<opt>: <what>; ..."). */
static int bo_bad_range(const char *cmd, const bo_optdef *d, const char *v,
                        const char *what)
{
    char a[32], b[32], q[96] = "";
    if (v)
        snprintf(q, sizeof q, " '%.80s'", v);
    fprintf(stderr, "bpbench %s: --%s:%s %s; give %s in [%s, %s]%s\n", cmd,
            d->name, q, what, d->arg ? d->arg : "a value",
            bo_fmt_bound(d->min, a, sizeof a),
            bo_fmt_bound(d->max, b, sizeof b),
            d->kind == BO_SECS ? " seconds (suffix s or m)"
            : d->kind == BO_U64 && d->max >= 1048576.0
                ? " (suffix k, m or g: x 2^10, 2^20, 2^30)"
                : "");
    return -1;
}

int bo_parse_uint(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    const char *sfx = "kKmMgGtT", *c = *end ? strchr(sfx, *end) : NULL;
    if (c) {
        shift = 10u * (unsigned)((c - sfx) / 2 + 1);
        end++;
    }
    if (errno || *end || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* Seconds with an optional fraction and suffix s or m; -1 when bad. */
static int bo_parse_secs(const char *s, double *out)
{
    char *end;
    if (!s || ((*s < '0' || *s > '9') && *s != '.'))
        return -1;
    double v = strtod(s, &end);
    if (*end == 'm' && end[1] == 0)
        v *= 60.0, end++;
    else if (*end == 's' && end[1] == 0)
        end++;
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int bo_set_value(const char *cmd, const bo_optdef *d, const char *v)
{
    uint64_t u;
    double x;
    switch (d->kind) {
    case BO_FN:
        return d->fn(d->dst, cmd, d->name, v);
    case BO_STR:
    case BO_OPTSTR:
        *(const char **)d->dst = v;
        return 0;
    case BO_SECS:
        if (bo_parse_secs(v, &x))
            return bo_bad_range(cmd, d, v, "is not a duration");
        if (x < d->min || x > d->max)
            return bo_bad_range(cmd, d, v, "is outside the range");
        *(double *)d->dst = x;
        return 0;
    default:
        break;
    }
    int plain = v[strspn(v, "0123456789")] == 0; /* no suffix */
    if (bo_parse_uint(v, &u) || (d->kind == BO_INT && !plain))
        return bo_bad_range(cmd, d, v, "is not a number");
    if ((double)u < d->min || (double)u > d->max)
        return bo_bad_range(cmd, d, v, "is outside the range");
    if (d->kind == BO_INT)
        *(int *)d->dst = (int)u;
    else
        *(uint64_t *)d->dst = u * (d->mult ? d->mult : 1);
    return 0;
}

static const bo_optdef *bo_find_opt(const bo_optdef *defs, size_t n,
                                    const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        const char *a = defs[i].alias;
        if ((strlen(defs[i].name) == len &&
             strncmp(defs[i].name, name, len) == 0) ||
            (a && strlen(a) == len && strncmp(a, name, len) == 0))
            return &defs[i];
    }
    return NULL;
}

/* One "--opt[=v] [v]" at argv[*i]; 0, 1 for help, -1 on error. */
static int bo_parse_one(const char *cmd, const bo_optdef *defs, size_t n,
                        int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
        return 1;
    if (strncmp(a, "--", 2) != 0 || !a[2]) {
        fprintf(stderr, "bpbench %s: unexpected argument '%s' (options "
                        "start with --; see bpbench %s --help)\n",
                cmd, a, cmd);
        return -1;
    }
    const char *eq = strchr(a + 2, '=');
    size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    const bo_optdef *d = bo_find_opt(defs, n, a + 2, len);
    if (!d) {
        fprintf(stderr, "bpbench %s: unknown option '%.*s' (see bpbench %s "
                        "--help)\n", cmd, (int)len + 2, a, cmd);
        return -1;
    }
    if (d->kind == BO_FLAG) {
        if (eq) {
            fprintf(stderr, "bpbench %s: --%s takes no value\n", cmd,
                    d->name);
            return -1;
        }
        *(int *)d->dst = 1;
        return 0;
    }
    const char *v = eq ? eq + 1 : NULL, *next = argv[*i + 1];
    /* the next argument is the value unless it is an option (--x), or,
     * for a value that may be left out, any -x but "-" */
    if (!v && *i + 1 < argc && strncmp(next, "--", 2) != 0 &&
        (d->kind != BO_OPTSTR || next[0] != '-' || strcmp(next, "-") == 0)) {
        v = next;
        ++*i;
    }
    if (!v && d->kind == BO_OPTSTR)
        v = "";
    if (!v && (d->kind == BO_U64 || d->kind == BO_INT ||
               d->kind == BO_SECS))
        return bo_bad_range(cmd, d, NULL, "needs a value");
    if (!v) {
        fprintf(stderr, "bpbench %s: --%s needs a value (%s)\n", cmd,
                d->name, d->arg ? d->arg : "see --help");
        return -1;
    }
    return bo_set_value(cmd, d, v);
}

int bo_parse(const char *cmd, const bo_optdef *defs, size_t n, int argc,
             char **argv)
{
    for (int i = 1; i < argc; i++) {
        int rc = bo_parse_one(cmd, defs, n, argc, argv, &i);
        if (rc)
            return rc;
    }
    return 0;
}

/* Prints text from column col on, wrapped before column 79, every further
 * line indented to col; "\n" in text breaks the line. */
static void bo_wrap(FILE *f, const char *text, int col)
{
    int at = col;
    while (*text) {
        if (*text == '\n' || *text == ' ') {
            int brk = *text == '\n';
            text += brk ? 1 : strspn(text, " ");
            size_t w = strcspn(text, " \n");
            if (brk || (at > col && at + 1 + (int)w > 78)) {
                fprintf(f, "\n%*s", col, "");
                at = col;
            } else if (w) {
                fputc(' ', f);
                at++;
            }
            continue;
        }
        size_t w = strcspn(text, " \n");
        fwrite(text, 1, w, f);
        at += (int)w;
        text += w;
    }
    fputc('\n', f);
}

void bo_wrapf(FILE *f, const char *lead, const char *indent,
              const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    int at = fprintf(f, "%s", lead), first = 1;
    for (const char *t = text; *t;) {
        int w = (int)strcspn(t, " ");
        if (!first && at + 1 + w > 79) {
            at = fprintf(f, "\n%s", indent) - 1;
            first = 1;
        }
        at += fprintf(f, first ? "%.*s" : " %.*s", w, t);
        first = 0;
        t += w;
        t += strspn(t, " ");
    }
    fputc('\n', f);
}

static void bo_usage_line(FILE *f, const char *name, const char *arg,
                          const char *help)
{
    char head[64];
    snprintf(head, sizeof head, "  --%s%s%s", name, arg ? " " : "",
             arg ? arg : "");
    if (strlen(head) > 23)
        fprintf(f, "%s\n%24s", head, "");
    else
        fprintf(f, "%-24s", head);
    bo_wrap(f, help, 24);
}

void bo_usage(FILE *f, const char *cmd, const char *intro,
              const bo_optdef *defs, size_t n, const char *tail)
{
    char buf[96];
    fprintf(f, "usage: bpbench %s [options]\n\n", cmd);
    if (intro)
        fprintf(f, "%s\n", intro);
    fprintf(f, "options (sizes take a suffix k, m or g = x 2^10, 2^20, "
               "2^30):\n");
    for (size_t i = 0; i < n; i++) {
        bo_usage_line(f, defs[i].name, defs[i].arg, defs[i].help);
        if (defs[i].alias) {
            snprintf(buf, sizeof buf, "alias of --%s", defs[i].name);
            bo_usage_line(f, defs[i].alias, defs[i].arg, buf);
        }
    }
    bo_usage_line(f, "help", NULL, "this text (also -h)");
    if (tail)
        fprintf(f, "\n%s", tail);
}

int bo_outopts_apply(const char *cmd, bo_outopts *o, bo_run *r)
{
    if (o->csv && !o->csv[0])
        o->csv = "-";
    if (o->output) {
        size_t l = strlen(o->output);
        int json = l > 5 && strcmp(o->output + l - 5, ".json") == 0;
        int csv = l > 4 && strcmp(o->output + l - 4, ".csv") == 0;
        if (!json && !csv) {
            fprintf(stderr, "bpbench %s: --output: '%s' does not end in "
                            ".json or .csv\n", cmd, o->output);
            return -1;
        }
        if (json && !o->json)
            o->json = o->output;
        if (csv && !o->csv)
            o->csv = o->output;
    }
    if (o->quiet)
        bu_quiet = 1;
    bo_run_outputs(r, o->json, o->csv);
    bo_run_plots(r, o->dir, BO_PLOT_ALL & ~o->own_plots, NULL);
    return 0;
}

int bo_run_finish(const char *cmd, bo_run *r)
{
    int rc = bo_run_end(r);
    if (!rc)
        return 0;
    fprintf(stderr, "bpbench %s: %s: %s\n", cmd,
            bo_failed[0] ? bo_failed : "results", strerror(-rc));
    return 1;
}

const char *bo_fmt_ns(uint64_t ns, char *buf, size_t n)
{
    static const char *const unit[] = {"ns", "us", "ms", "s"};
    double v = (double)ns;
    int u = 0;
    while (v >= 1000.0 && u < 3)
        v /= 1000.0, u++;
    if (u == 0)
        snprintf(buf, n, "%.0f ns", v);
    else
        snprintf(buf, n, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v,
                 unit[u]);
    return buf;
}

void bo_lat_cells(const bo_hist *h, char cb[5][24], int ns_unit)
{
    bo_pcts p;

    bo_hist_pcts(h, &p);
    const uint64_t v[5] = {p.p50, p.p90, p.p99, p.p999, p.max};
    for (int k = 0; k < 5; k++) {
        if (!p.count)
            snprintf(cb[k], sizeof cb[k], ns_unit ? "NA" : "n/a");
        else if (ns_unit)
            snprintf(cb[k], sizeof cb[k], "%llu", (unsigned long long)v[k]);
        else
            bo_fmt_ns(v[k], cb[k], sizeof cb[k]);
    }
}
