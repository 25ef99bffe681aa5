/*
 * bench_util.c - clock, medians, cleanup registry, data files, options,
 * table printing, gnuplot, the fio runner, and the page cache, memory
 * cgroups and file copies of child processes for bpbench.  See
 * bench_util.h for the contracts.
 *
 * Cleanup registry: a fixed array of paths filled by the main thread.  An
 * entry becomes visible to the signal handler only after its path is fully
 * written (bu_cl_used is set last), so the handler never reads a half-made
 * entry; the handler and atexit both run bu_cleanup_now(), which clears each
 * entry before removing it, so a signal during the atexit pass at worst
 * removes a path twice (the second unlink fails with ENOENT, harmlessly).
 */
#include "bench_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int bu_quiet;

static uint64_t bu_t0;

uint64_t bu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bu_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bu_median(const double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    double *c = malloc(n * sizeof *c);
    if (!c) { /* fall back to an O(n^2) selection without memory */
        for (size_t i = 0; i < n; i++) {
            size_t below = 0, equal = 0;
            for (size_t j = 0; j < n; j++) {
                below += v[j] < v[i];
                equal += v[j] == v[i];
            }
            if (below <= (n - 1) / 2 && (n - 1) / 2 < below + equal)
                return v[i]; /* lower median */
        }
        return v[0];
    }
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, bu_cmp_double);
    double m = (n & 1) ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2.0;
    free(c);
    return m;
}

double bu_median_pos(const double *v, size_t n)
{
    double small[16], *set = n <= 16 ? small : malloc(n * sizeof *set);
    size_t m = 0;
    if (!set)
        return 0.0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > 0)
            set[m++] = v[i];
    double med = bu_median(set, m);
    if (set != small)
        free(set);
    return med;
}

/* ---- Cleanup registry ---------------------------------------------------- */

#define BU_CL_MAX 64

static char bu_cl_path[BU_CL_MAX][PATH_MAX];
static volatile sig_atomic_t bu_cl_used[BU_CL_MAX];
static int bu_cl_isdir[BU_CL_MAX];
static const int bu_cl_signals[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                                    SIGSEGV, SIGBUS,  SIGABRT, SIGPIPE};

void bu_cleanup_now(void)
{
    for (int i = BU_CL_MAX - 1; i >= 0; i--) {
        if (!bu_cl_used[i])
            continue;
        bu_cl_used[i] = 0;
        if (bu_cl_isdir[i])
            rmdir(bu_cl_path[i]);
        else
            unlink(bu_cl_path[i]);
    }
}

static void bu_on_signal(int sig)
{
    int saved = errno;
    bu_cleanup_now();
    /* SA_RESETHAND restored the default action; the signal is blocked
     * while we run, so it is delivered (and kills us) on return. */
    raise(sig);
    errno = saved;
}

int bu_cleanup_init(void)
{
    bu_t0 = bu_now_ns();
    if (atexit(bu_cleanup_now) != 0)
        return -ENOMEM;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bu_on_signal;
    sa.sa_flags = (int)SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    const size_t nsig = sizeof bu_cl_signals / sizeof bu_cl_signals[0];
    for (size_t i = 0; i < nsig; i++)
        sigaddset(&sa.sa_mask, bu_cl_signals[i]);
    for (size_t i = 0; i < nsig; i++) {
        struct sigaction old;
        if (sigaction(bu_cl_signals[i], NULL, &old) == 0 &&
            old.sa_handler == SIG_IGN)
            continue; /* keep "ignored" (e.g. SIGHUP under nohup) */
        if (sigaction(bu_cl_signals[i], &sa, NULL) != 0)
            return -errno;
    }
    return 0;
}

int bu_cleanup_add(const char *path, int is_dir)
{
    size_t len = strlen(path);
    if (len >= PATH_MAX)
        return -ENAMETOOLONG;
    for (int i = 0; i < BU_CL_MAX; i++) {
        if (bu_cl_used[i])
            continue;
        memcpy(bu_cl_path[i], path, len + 1);
        bu_cl_isdir[i] = is_dir;
        bu_cl_used[i] = 1; /* last: the entry is complete */
        return 0;
    }
    return -ENOSPC;
}

void bu_cleanup_forget(const char *path)
{
    for (int i = 0; i < BU_CL_MAX; i++)
        if (bu_cl_used[i] && strcmp(bu_cl_path[i], path) == 0)
            bu_cl_used[i] = 0;
}

void bu_cleanup_files(const char *base, const char *const *names, int add)
{
    char p[PATH_MAX];
    for (; *names; names++) {
        snprintf(p, sizeof p, "%s%s", base, *names);
        if (add) {
            bu_cleanup_add(p, 0);
        } else {
            unlink(p);
            bu_cleanup_forget(p);
        }
    }
}

void bu_cleanup_child(void)
{
    const size_t nsig = sizeof bu_cl_signals / sizeof bu_cl_signals[0];
    for (size_t i = 0; i < nsig; i++) {
        struct sigaction old;
        if (sigaction(bu_cl_signals[i], NULL, &old) == 0 &&
            old.sa_handler != SIG_IGN)
            signal(bu_cl_signals[i], SIG_DFL);
    }
}

int bu_tempdir(const char *parent, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/bpbench.XXXXXX", parent);
    if (n < 0 || (size_t)n >= outsz)
        return -ENAMETOOLONG;
    if (!mkdtemp(out))
        return -errno;
    int rc = bu_cleanup_add(out, 1);
    if (rc) {
        rmdir(out);
        return rc;
    }
    return 0;
}

int bu_shm_name(char *out, size_t outsz)
{
    static unsigned counter;
    char full[PATH_MAX];
    int n = snprintf(out, outsz, "bpbench.%ld.%u", (long)getpid(), counter++);
    if (n < 0 || (size_t)n >= outsz)
        return -ENAMETOOLONG;
    snprintf(full, sizeof full, "/dev/shm/%s", out);
    return bu_cleanup_add(full, 0);
}

/* ---- Pools --------------------------------------------------------------- */

int bu_pool_open(const struct bu_pool_cfg *c, bp_pool **out, char *why,
                 size_t whysz)
{
    bp_pool *p = NULL;
    int rc = bp_create(&p, NULL);
    if (rc) {
        snprintf(why, whysz, "bp_create: %s", bp_strerror(rc));
        return rc;
    }
#define BU_TRY(name, call)                                                     \
    do {                                                                       \
        rc = (call);                                                           \
        if (rc) {                                                              \
            snprintf(why, whysz, "%s: %s (%d): %s", name, bp_strerror(rc),     \
                     rc, bp_errmsg(p));                                        \
            bp_close(p);                                                       \
            return rc;                                                         \
        }                                                                      \
    } while (0)
    if (c->page_size)
        BU_TRY("bp_set_page_size", bp_set_page_size(p, c->page_size));
    if (c->cache_frames)
        BU_TRY("bp_set_cache_frames", bp_set_cache_frames(p, c->cache_frames));
    else if (c->cache_bytes)
        BU_TRY("bp_set_cache_size", bp_set_cache_size(p, c->cache_bytes));
    if (c->window_slots)
        BU_TRY("bp_set_window_slots", bp_set_window_slots(p, c->window_slots));
    BU_TRY("bp_set_backend", bp_set_backend(p, c->backend));
    if (c->set_prefault)
        BU_TRY("bp_set_prefault", bp_set_prefault(p, c->prefault));
    BU_TRY("bp_set_shm", bp_set_shm(p, c->shm_name, c->shm_keep));
    if (c->flusher_pct)
        BU_TRY("bp_set_flusher", bp_set_flusher(p, c->flusher_pct));
    BU_TRY("bp_open", bp_open(p, c->path, c->open_flags |
                                              (c->shm_keep ? BP_ATTACH : 0)));
#undef BU_TRY
    *out = p;
    return 0;
}

/* ---- Data file ----------------------------------------------------------- */

int bu_data_file_create(const char *path, size_t page_size, uint64_t npages,
                        double *secs, char *err, size_t errsz)
{
    const size_t chunk = 1u << 20; /* a multiple of any page size (<= 64 KiB) */
    uint64_t t0 = bu_now_ns();
    int direct = 1;
    int rc = bu_cleanup_add(path, 0);
    if (rc) {
        snprintf(err, errsz, "cannot register %s for cleanup: %s", path,
                 strerror(-rc));
        return rc;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
                            O_DIRECT, 0600);
    if (fd < 0 && errno == EINVAL) { /* file system without O_DIRECT */
        direct = 0;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    }
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errsz, "open %s: %s", path, strerror(errno));
        bu_cleanup_forget(path);
        return rc;
    }
    unsigned char *buf = NULL;
    if (posix_memalign((void **)&buf, 4096, chunk) != 0) {
        snprintf(err, errsz, "out of memory for a %zu byte write buffer",
                 chunk);
        close(fd);
        return -ENOMEM;
    }
    memset(buf, 0xA5, chunk);
    uint64_t total = npages * page_size;
    rc = 0;
    for (uint64_t off = 0; off < total && rc == 0;) {
        size_t len = total - off < chunk ? (size_t)(total - off) : chunk;
        for (size_t po = 0; po < len; po += page_size) {
            uint64_t pgno = (off + po) / page_size;
            for (size_t b = 0, k = 0; b < page_size; b += 4096, k++) {
                uint64_t v = bu_stamp(pgno, k);
                for (size_t l = 0; l < 4096; l += 64)
                    memcpy(buf + po + b + l, &v, sizeof v);
            }
        }
        ssize_t w = pwrite(fd, buf, len, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            snprintf(err, errsz, "write %s at %llu: %s", path,
                     (unsigned long long)off, strerror(errno));
        } else if (w == 0) {
            rc = -EIO;
            snprintf(err, errsz, "write %s at %llu: wrote nothing", path,
                     (unsigned long long)off);
        } else {
            off += (uint64_t)w; /* a short write of whole pages is resumed */
            if ((uint64_t)w % page_size != 0) {
                rc = -EIO;
                snprintf(err, errsz, "write %s: short write of %zd bytes",
                         path, w);
            }
        }
    }
    free(buf);
    if (rc == 0 && fdatasync(fd) != 0) {
        rc = -errno;
        snprintf(err, errsz, "fdatasync %s: %s", path, strerror(errno));
    }
    if (rc == 0 && !direct)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
        snprintf(err, errsz, "close %s: %s", path, strerror(errno));
    }
    if (rc) {
        unlink(path);
        bu_cleanup_forget(path);
    }
    *secs = (double)(bu_now_ns() - t0) / 1e9;
    return rc;
}

/* ---- Options ------------------------------------------------------------- */

/* "bpbench: --opt: 'v' <what>; give an integer in [min, max] ..." */
static int bu_bad_u64(const char *opt, const char *s, const char *what,
                      uint64_t min, uint64_t max, int allow_suffix)
{
    fprintf(stderr, "bpbench: --%s: '%s' %s; give an integer in [%llu, "
                    "%llu]%s\n", opt, s ? s : "", what,
            (unsigned long long)min, (unsigned long long)max,
            allow_suffix ? " (suffix k, m or g: x 2^10, 2^20, 2^30)" : "");
    return -1;
}

int bu_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
                 int allow_suffix, uint64_t *out)
{
    uint64_t r;
    char sfx = s ? s[strspn(s, "0123456789")] : 0;
    /* bo_parse_uint also takes t; here a suffix is k, m or g */
    if (!s || bo_parse_uint(s, &r) ||
        (sfx && (!allow_suffix || tolower((unsigned char)sfx) == 't')))
        return bu_bad_u64(opt, s, "is not a number", min, max, allow_suffix);
    if (r < min || r > max)
        return bu_bad_u64(opt, s, "is outside the range", min, max,
                          allow_suffix);
    *out = r;
    return 0;
}

int bu_split_list(char *s, char **items, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == max)
            return -1;
        items[n++] = tok;
    }
    return n;
}

int bu_parse_backends(char *s, bp_backend *bk, int max, int *nbk)
{
    static const struct {
        const char *name;
        bp_backend b;
    } names[] = {{"rfp", BP_BACKEND_RFP},       {"mmap", BP_BACKEND_MMAP},
                 {"copy", BP_BACKEND_COPY},     {"linear", BP_BACKEND_LINEAR},
                 {"kmod", BP_BACKEND_KMOD},     {"auto", BP_BACKEND_AUTO}};
    const int nnames = (int)(sizeof names / sizeof names[0]);
    char *items[16];
    if (max > nnames)
        max = nnames;
    int n = bu_split_list(s, items, max);
    if (n <= 0) {
        fprintf(stderr, "bpbench: --backend: give 1 to %d of "
                        "rfp,mmap,copy,linear,kmod,auto\n", max);
        return -1;
    }
    *nbk = 0;
    for (int i = 0; i < n; i++) {
        int found = -1;
        for (int j = 0; j < nnames; j++)
            if (strcmp(items[i], names[j].name) == 0)
                found = j;
        if (found < 0) {
            fprintf(stderr, "bpbench: --backend: unknown backend '%s'; give "
                    "1 to %d of rfp,mmap,copy,linear,kmod,auto\n", items[i],
                    max);
            return -1;
        }
        for (int j = 0; j < *nbk; j++)
            if (bk[j] == names[found].b) {
                fprintf(stderr, "bpbench: --backend: '%s' twice\n", items[i]);
                return -1;
            }
        bk[(*nbk)++] = names[found].b;
    }
    return 0;
}

int bu_opt_backends(void *dst, const char *cmd, const char *opt,
                    const char *val)
{
    bu_bklist *l = dst;
    char buf[256];
    (void)cmd;
    (void)opt;
    snprintf(buf, sizeof buf, "%s", val);
    return bu_parse_backends(buf, l->bk, l->max, l->n);
}

int bu_opt_u64list(void *dst, const char *cmd, const char *opt,
                   const char *val)
{
    bu_u64list *l = dst;
    char buf[256], *it[64];
    int max = l->max < 64 ? l->max : 64;
    snprintf(buf, sizeof buf, "%s", val);
    int n = bu_split_list(buf, it, max);
    if (n <= 0) {
        fprintf(stderr, "bpbench %s: --%s: '%s': give 1 to %d numbers in "
                        "[%llu, %llu], comma separated\n", cmd, opt, val,
                max, (unsigned long long)l->lo, (unsigned long long)l->hi);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (bu_parse_u64(opt, it[i], l->lo, l->hi, 1, &l->v[i]))
            return -1;
        if (l->pow2 && (l->v[i] & (l->v[i] - 1))) {
            fprintf(stderr, "bpbench %s: --%s: %llu is not a power of two "
                            "in [%llu, %llu]\n", cmd, opt,
                    (unsigned long long)l->v[i], (unsigned long long)l->lo,
                    (unsigned long long)l->hi);
            return -1;
        }
    }
    *l->n = n;
    return 0;
}

/* ---- Output -------------------------------------------------------------- */

void bu_note_add(char ***lines, size_t *n, const char *line)
{
    char **l = realloc(*lines, (*n + 1) * sizeof *l);
    char *s = strdup(line);
    if (!l || !s) { /* out of memory: say it now rather than lose it */
        free(s);
        if (l)
            *lines = l;
        fprintf(stderr, "bpbench: %s\n", line);
        return;
    }
    *lines = l;
    l[(*n)++] = s;
}

void bu_note_free(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

void bu_progress(const char *fmt, ...)
{
    if (bu_quiet)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%6.1fs] %s\n", (double)(bu_now_ns() - bu_t0) / 1e9, line);
}

void bu_table_init(bu_table *t, size_t ncols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
}

int bu_table_add(bu_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
        if (!c)
            return -ENOMEM;
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = strdup(cells[i] ? cells[i] : "");
        if (!row[i]) {
            while (i--)
                free(row[i]);
            return -ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

void bu_table_print(const bu_table *t, FILE *f, const char *indent,
                    size_t nleft)
{
    size_t w[64] = {0};
    size_t nc = t->ncols < 64 ? t->ncols : 64;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < nc; c++) {
            size_t l = strlen(t->cells[r * t->ncols + c]);
            if (l > w[c])
                w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        fputs(indent, f);
        for (size_t c = 0; c < nc; c++) {
            const char *s = t->cells[r * t->ncols + c];
            const char *sep = c ? "  " : "";
            if (c < nleft && c + 1 == nc)
                fprintf(f, "%s%s", sep, s); /* no trailing blanks */
            else if (c < nleft)
                fprintf(f, "%s%-*s", sep, (int)w[c], s);
            else
                fprintf(f, "%s%*s", sep, (int)w[c], s);
        }
        fputc('\n', f);
        if (r == 0) {
            size_t total = 0;
            for (size_t c = 0; c < nc; c++)
                total += w[c] + (c ? 2 : 0);
            fputs(indent, f);
            for (size_t i = 0; i < total; i++)
                fputc('-', f);
            fputc('\n', f);
        }
    }
}

void bu_table_free(bu_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

void bu_csv_row(FILE *f, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        bo_csv_field(f, fields[i] ? fields[i] : "");
    }
    fputc('\n', f);
}

const char *bu_fmt_bytes(uint64_t bytes, char *buf, size_t n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0 || v == (double)(uint64_t)v)
        snprintf(buf, n, "%.0f %s", v, unit[u]);
    else
        snprintf(buf, n, "%.1f %s", v, unit[u]);
    return buf;
}

const char *bu_fs_name(const char *path, char *buf, size_t n)
{
    struct statfs sf;
    if (statfs(path, &sf) != 0) {
        snprintf(buf, n, "unknown (%s)", strerror(errno));
        return buf;
    }
    switch ((unsigned long)sf.f_type) {
    case 0xEF53ul: snprintf(buf, n, "ext2/3/4"); break;
    case 0x01021994ul: snprintf(buf, n, "tmpfs"); break;
    case 0x58465342ul: snprintf(buf, n, "xfs"); break;
    case 0x9123683Eul: snprintf(buf, n, "btrfs"); break;
    case 0x794C7630ul: snprintf(buf, n, "overlayfs"); break;
    case 0x2FC12FC1ul: snprintf(buf, n, "zfs"); break;
    case 0x6969ul: snprintf(buf, n, "nfs"); break;
    default: snprintf(buf, n, "0x%lx", (unsigned long)sf.f_type); break;
    }
    return buf;
}

uint64_t bu_read_u64_file(const char *path, uint64_t dflt)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return dflt;
    unsigned long long v;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    return ok ? (uint64_t)v : dflt;
}

void bu_cpu_model(char *buf, size_t n, const char *none)
{
    snprintf(buf, n, "%s", none);
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        char *c = strchr(line, ':');
        if (!c)
            break;
        c += 1 + strspn(c + 1, " \t");
        c[strcspn(c, "\n")] = 0;
        snprintf(buf, n, "%s", c);
        break;
    }
    fclose(f);
}

uint64_t bu_meminfo_kib(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return 0;
    char line[256];
    uint64_t v = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtoull(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

int bu_ncpu(void)
{
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) > 0)
        return CPU_COUNT(&cs);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static uint64_t bu_cgroup_limit(void)
{
    uint64_t cg = bu_read_u64_file("/sys/fs/cgroup/memory.max", UINT64_MAX);
    if (cg == UINT64_MAX)
        cg = bu_read_u64_file("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                              UINT64_MAX);
    return cg < (1ull << 60) ? cg : UINT64_MAX; /* v1: huge = no limit */
}

uint64_t bu_mem_available(void)
{
    uint64_t avail = bu_meminfo_kib("MemAvailable") << 10;
    uint64_t cg = bu_cgroup_limit();
    if (cg != UINT64_MAX) {
        uint64_t used =
            bu_read_u64_file("/sys/fs/cgroup/memory.current", UINT64_MAX);
        if (used == UINT64_MAX)
            used = bu_read_u64_file(
                "/sys/fs/cgroup/memory/memory.usage_in_bytes", 0);
        uint64_t room = used < cg ? cg - used : 0;
        if (avail == 0 || room < avail)
            avail = room;
    }
    return avail;
}

int bu_cpu_ticks(uint64_t *total, uint64_t *steal)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n = 0;

    *total = *steal = 0;
    if (!f)
        return 0;
    /* user nice system idle iowait irq softirq steal */
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *steal = v[7];
    return 1;
}

void bu_print_machine(FILE *f, const char *prefix)
{
    struct utsname u;
    char cpu[256], b1[32], b2[32], b3[32];
    if (uname(&u) != 0)
        snprintf(u.release, sizeof u.release, "?");
    bu_cpu_model(cpu, sizeof cpu, "unknown CPU");
    fprintf(f, "%skernel %s %s, nproc %ld (%s), system page %ld B\n", prefix,
            u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN), cpu,
            sysconf(_SC_PAGESIZE));
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        rl.rlim_cur = 0;
    fprintf(f, "%svm.max_map_count %llu, RLIMIT_MEMLOCK %s, MemTotal %s, "
               "MemAvailable %s\n",
            prefix,
            (unsigned long long)bu_read_u64_file("/proc/sys/vm/max_map_count",
                                                 0),
            rl.rlim_cur == RLIM_INFINITY
                ? "unlimited"
                : bu_fmt_bytes((uint64_t)rl.rlim_cur, b1, sizeof b1),
            bu_fmt_bytes(bu_meminfo_kib("MemTotal") << 10, b2, sizeof b2),
            bu_fmt_bytes(bu_meminfo_kib("MemAvailable") << 10, b3, sizeof b3));
    uint64_t cg = bu_cgroup_limit();
    if (cg != UINT64_MAX)
        fprintf(f, "%smemory cgroup limit %s\n", prefix,
                bu_fmt_bytes(cg, b1, sizeof b1));
}

int bu_stats(bp_pool *p, bp_stats *st, char *why, size_t whysz)
{
    memset(st, 0, sizeof *st);
    int rc = bp_stats_get(p, st, sizeof *st);
    if (rc)
        snprintf(why, whysz, "bp_stats_get: %s (%d): %s", bp_strerror(rc), rc,
                 bp_errmsg(p));
    return rc;
}

/* ---- Plots --------------------------------------------------------------- */

/* gnuplot with args a1 (and a2 when not NULL), stdout to /dev/null: its
 * exit status, 127 when it cannot be run. */
static int bu_gnuplot_exec(const char *a1, const char *a2)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return 127;
    if (pid == 0) {
        FILE *n = freopen("/dev/null", "w", stdout);
        (void)n;
        if (a2)
            execlp("gnuplot", "gnuplot", a1, a2, (char *)NULL);
        else
            execlp("gnuplot", "gnuplot", a1, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 126;
}

const char *bu_gnuplot_term(void)
{
    static int probed;
    static const char *term;
    if (!probed) {
        probed = 1;
        int rc = bu_gnuplot_exec("-e", "set terminal pngcairo");
        term = rc == 0 ? "pngcairo" : rc == 127 ? NULL : "png";
    }
    return term;
}

int bu_gnuplot(const char *script)
{
    return bu_gnuplot_exec(script, NULL);
}

const char *bu_plot_begin(const char *dir, char *why, size_t n)
{
    const char *term = bu_gnuplot_term();
    int rc;

    if (!term) {
        snprintf(why, n, "plots skipped: gnuplot not installed (apt-get "
                 "install gnuplot-nox)");
        return NULL;
    }
    if (dir && (rc = bu_mkdir(dir)) != 0) {
        snprintf(why, n, "plots skipped: cannot create %s: %s", dir,
                 strerror(-rc));
        return NULL;
    }
    return term;
}

int bu_mkdir(const char *dir)
{
    char parent[4096], *slash;
    struct stat st;
    if (mkdir(dir, 0755) == 0)
        return 0;
    /* a missing parent: made first, then dir again */
    if (errno == ENOENT && strlen(dir) < sizeof parent) {
        snprintf(parent, sizeof parent, "%s", dir);
        slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = 0;
            int rc = bu_mkdir(parent);
            if (rc)
                return rc;
            if (mkdir(dir, 0755) == 0)
                return 0;
        }
    }
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return -errno;
}

/* ---- Memory of child processes ------------------------------------------ */

/* Write s to path.  0 or -errno. */
static int bu_write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = strlen(s);
    ssize_t w = write(fd, s, n);
    int rc = w == (ssize_t)n ? 0 : (w < 0 ? -errno : -EIO);
    if (close(fd) != 0 && !rc)
        rc = -errno;
    return rc;
}

/* Read up to n-1 bytes of path into buf ("" on failure). */
static void bu_read_text(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t r = read(fd, buf, n - 1);
    buf[r > 0 ? r : 0] = '\0';
    close(fd);
}

int bu_drop_caches(char *why, size_t whysz)
{
    sync();
    int rc = bu_write_file("/proc/sys/vm/drop_caches", "3");
    if (rc)
        snprintf(why, whysz, "cannot drop the page cache "
                             "(/proc/sys/vm/drop_caches: %s)", strerror(-rc));
    return rc;
}

/* Our own cgroup's directory under root (v1 memory line or v2 "0::"). */
static void bu_own_cgroup(const char *root, int v2, char *out, size_t n)
{
    char buf[4096];
    bu_read_text("/proc/self/cgroup", buf, sizeof buf);
    const char *rel = "/";
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if ((v2 && strncmp(line, "0::", 3) == 0) ||
            (!v2 && strstr(line, ":memory:"))) {
            rel = strrchr(line, ':') + 1;
            break;
        }
    }
    snprintf(out, n, "%s%s", root, strcmp(rel, "/") == 0 ? "" : rel);
}

static int bu_has_v2_memory(const char *root)
{
    char path[256], buf[512];
    snprintf(path, sizeof path, "%s/cgroup.controllers", root);
    bu_read_text(path, buf, sizeof buf);
    for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
        if (strcmp(t, "memory") == 0)
            return 1;
    return 0;
}

int bu_cgroup_create(bu_cgroup *cg, uint64_t limit, char *why, size_t whysz)
{
    static const char *const v2roots[] = {"/sys/fs/cgroup",
                                          "/sys/fs/cgroup/unified"};
    static unsigned seq;
    const char *root = NULL;
    memset(cg, 0, sizeof *cg);
    for (size_t i = 0; i < 2 && !root; i++)
        if (bu_has_v2_memory(v2roots[i])) {
            root = v2roots[i];
            cg->v2 = 1;
        }
    if (!root && access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) ==
                     0)
        root = "/sys/fs/cgroup/memory";
    if (!root) {
        snprintf(why, whysz, "no memory cgroup controller is mounted");
        return -ENOENT;
    }
    char home[200];
    bu_own_cgroup(root, cg->v2, home, sizeof home);
    snprintf(cg->home, sizeof cg->home, "%s/cgroup.procs", home);
    char path[256];
    snprintf(path, sizeof path, "%s/bpbench.%d.%u", root, (int)getpid(),
             seq++);
    if (mkdir(path, 0700) != 0) {
        snprintf(why, whysz, "mkdir %s: %s", path, strerror(errno));
        return -errno;
    }
    snprintf(cg->path, sizeof cg->path, "%s", path);
    bu_cleanup_add(cg->path, 1);
    if (cg->v2) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s/cgroup.subtree_control", root);
        bu_write_file(sub, "+memory"); /* may already be on */
    }
    char file[320], val[32];
    snprintf(file, sizeof file, "%s/%s", path,
             cg->v2 ? "memory.max" : "memory.limit_in_bytes");
    snprintf(val, sizeof val, "%llu", (unsigned long long)limit);
    int rc = bu_write_file(file, val);
    if (rc) {
        snprintf(why, whysz, "%s: %s", file, strerror(-rc));
        bu_cgroup_remove(cg);
        return rc;
    }
    /* No swap here, but if there were, the limit must hold for it too. */
    snprintf(file, sizeof file, "%s/%s", path,
             cg->v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
    if (access(file, F_OK) == 0)
        bu_write_file(file, cg->v2 ? "0" : val);
    return 0;
}

int bu_cgroup_enter(const bu_cgroup *cg, int pid, char *why, size_t whysz)
{
    char file[320], val[32];
    snprintf(file, sizeof file, "%s/cgroup.procs", cg->path);
    snprintf(val, sizeof val, "%d", pid);
    int rc = bu_write_file(file, val);
    if (rc)
        snprintf(why, whysz, "%s: %s", file, strerror(-rc));
    return rc;
}

uint64_t bu_cgroup_peak(const bu_cgroup *cg)
{
    char f[320];
    snprintf(f, sizeof f, "%s/%s", cg->path,
             cg->v2 ? "memory.peak" : "memory.max_usage_in_bytes");
    return bu_read_u64_file(f, 0);
}

int bu_cgroup_remove(bu_cgroup *cg)
{
    if (!cg->path[0])
        return 0;
    char file[320], buf[4096];
    snprintf(file, sizeof file, "%s/cgroup.procs", cg->path);
    bu_read_text(file, buf, sizeof buf);
    for (char *t = strtok(buf, "\n"); t; t = strtok(NULL, "\n"))
        bu_write_file(cg->home, t);
    int rc = 0;
    for (int i = 0; i < 100; i++) {
        rc = rmdir(cg->path) == 0 || errno == ENOENT ? 0 : -errno;
        if (rc != -EBUSY)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc)
        fprintf(stderr, "bpbench: cannot remove cgroup %s: %s\n", cg->path,
                strerror(-rc));
    else
        bu_cleanup_forget(cg->path);
    cg->path[0] = '\0';
    return rc;
}

int bu_copy_file(const char *src, const char *dst, char *err, size_t n)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    static char buf[1 << 20];
    struct stat st;

    if (in < 0 || fstat(in, &st) != 0) {
        rc = -errno;
        snprintf(err, n, "%s: %s", src, strerror(errno));
        goto done;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = -errno;
        snprintf(err, n, "%s: %s", dst, strerror(errno));
        goto done;
    }
    off_t left = st.st_size;
    int by_range = 1;
    while (left > 0) {
        ssize_t k = -1;
        if (by_range) {
            k = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
            if (k < 0 && (errno == EXDEV || errno == ENOSYS ||
                          errno == EINVAL || errno == EOPNOTSUPP)) {
                by_range = 0;
                continue;
            }
        } else if ((k = read(in, buf, sizeof buf)) > 0) {
            for (ssize_t w = 0, m; w < k; w += m)
                if ((m = write(out, buf + w, (size_t)(k - w))) < 0) {
                    k = -1;
                    break;
                }
        }
        if (k <= 0) {
            rc = k < 0 ? -errno : -EIO;
            snprintf(err, n, "copy %s to %s: %s", src, dst,
                     k < 0 ? strerror(errno) : "the source ended early");
            goto done;
        }
        left -= k;
    }
    if (fdatasync(out) != 0) {
        rc = -errno;
        snprintf(err, n, "fdatasync %s: %s", dst, strerror(errno));
        goto done;
    }
    posix_fadvise(in, 0, 0, POSIX_FADV_DONTNEED);
    posix_fadvise(out, 0, 0, POSIX_FADV_DONTNEED);
done:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && !rc) {
        rc = -errno;
        snprintf(err, n, "close %s: %s", dst, strerror(errno));
    }
    return rc;
}

/* ---- fio ----------------------------------------------------------------- */

int bu_have_fio(void)
{
    return system("command -v fio >/dev/null 2>&1") == 0;
}

/* The number after "key": at or after from in fio's JSON, before end;
 * -1 when missing. */
static double bu_json_num(const char *from, const char *end, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *k = strstr(from, pat);
    if (!k || k >= end)
        return -1;
    k += strlen(pat);
    return strtod(k + strspn(k, " \t\n:"), NULL);
}

/* fio's JSON: the read or write section's IOPS and total latency
 * (lat_ns: from the I/O's issue to its completion, as the pool's is
 * measured; its percentiles are there with --lat_percentiles=1).  0, or
 * -1 when it is not there. */
static int bu_fio_parse(const char *out, int write, bu_fio_res *res)
{
    static const char *const key[4] = {"50.000000", "90.000000",
                                       "99.000000", "99.900000"};
    const char *jobs = strstr(out, "\"jobs\""), *sec, *lat, *pct;
    if (!jobs || !(sec = strstr(jobs, write ? "\"write\"" : "\"read\"")))
        return -1;
    const char *end = sec + strlen(sec);
    memset(res, 0, sizeof *res);
    res->iops = bu_json_num(sec, end, "iops");
    /* "lat_ns", not the "clat_ns" before it: the quote comes first */
    if (res->iops < 0 || !(lat = strstr(sec, "\"lat_ns\"")))
        return -1;
    double n = bu_json_num(lat, end, "N");
    res->lat.count = n > 0 ? (uint64_t)n : 0;
    res->lat.mean = bu_json_num(lat, end, "mean");
    res->lat.max = (uint64_t)fmax(bu_json_num(lat, end, "max"), 0);
    /* its percentiles, if any, come before the object's first '}' */
    if (!res->lat.count || !(pct = strstr(lat, "\"percentile\"")) ||
        memchr(lat, '}', (size_t)(pct - lat)))
        return 0; /* no I/O, or no percentiles: no latency */
    uint64_t *dst[4] = {&res->lat.p50, &res->lat.p90, &res->lat.p99,
                        &res->lat.p999};
    for (int i = 0; i < 4; i++) {
        double v = bu_json_num(pct, end, key[i]);
        *dst[i] = v > 0 ? (uint64_t)v : 0;
        if (*dst[i] > res->lat.max)
            *dst[i] = res->lat.max;
    }
    return 0;
}

/* All of a command's output (stderr too) into a new string; NULL when out
 * of memory.  *status gets pclose's status (-1 when popen failed). */
static char *bu_run_capture(const char *cmd, int *status)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    FILE *f = buf ? popen(cmd, "r") : NULL;
    *status = -1;
    if (!f) {
        free(buf);
        return NULL;
    }
    for (size_t got; (got = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += got;
        if (cap - len < 4096) {
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
    }
    buf[len] = 0;
    *status = pclose(f);
    return buf;
}

int bu_fio_run(const char *path, uint64_t size, uint64_t bs, uint64_t depth,
               int write, uint64_t seconds, uint64_t nios, bu_fio_res *res,
               char *why, size_t whysz)
{
    char cmd[1024], extra[128];
    int st;

    snprintf(extra, sizeof extra, write ? " --io_size=%llu"
                                        : " --runtime=%llu",
             (unsigned long long)(write ? nios * bs : seconds));
    snprintf(cmd, sizeof cmd,
             "fio --name=bpbench --filename=%s --size=%llu --rw=%s --bs=%llu "
             "--direct=1 --ioengine=io_uring --iodepth=%llu --numjobs=1 "
             "--randrepeat=0 --norandommap --output-format=json "
             "--lat_percentiles=1 %s%s 2>&1",
             path, (unsigned long long)size, write ? "randwrite" : "randread",
             (unsigned long long)bs, (unsigned long long)depth,
             write ? "--end_fsync=1 --number_ios=0" : "--time_based", extra);
    char *out = bu_run_capture(cmd, &st);
    if (!out) {
        snprintf(why, whysz, "running fio: %s", strerror(errno ? errno
                                                               : ENOMEM));
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) || bu_fio_parse(out, write, res)) {
        size_t l = strlen(out);
        while (l && out[l - 1] == '\n')
            out[--l] = 0;
        const char *last = strrchr(out, '\n');
        snprintf(why, whysz, "fio failed (status %d): %.200s\n", st,
                 last ? last + 1 : out);
        free(out);
        return -1;
    }
    free(out);
    return 0;
}

void bu_child_err(char *err, size_t len, int st, int in_cgroup)
{
    if (err[0])
        return;
    if (WIFSIGNALED(st))
        snprintf(err, len, "child killed by signal %d (%s)%s", WTERMSIG(st),
                 strsignal(WTERMSIG(st)),
                 in_cgroup && WTERMSIG(st) == SIGKILL
                     ? ": the memory cgroup's OOM killer?"
                     : "");
    else if (WIFEXITED(st) && WEXITSTATUS(st))
        snprintf(err, len, "child exited with status %d", WEXITSTATUS(st));
}

uint64_t bu_read_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "re");
    char line[128];
    unsigned long long v;
    uint64_t n = UINT64_MAX;

    if (!f)
        return n;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "read_bytes: %llu", &v) == 1)
            n = v;
    fclose(f);
    return n;
}

void bu_close_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}
