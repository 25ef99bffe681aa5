/*
 * util_test.c - helpers shared by every libbufpool test program
 * (see util_test.h for the list).
 *
 * Cleanup: the temp dir and every /dev/shm entry named "bptest-<pid>-*" are
 * removed by an atexit handler, by a sanitizer's death callback (its
 * reports end the process with _exit) and by a handler for fatal signals.
 * The
 * signal handler is best effort (it calls nftw/opendir, which are not
 * async-signal-safe); it then restores the previous action (ASan's, or the
 * default) so the crash is still reported as such.  Only the process that
 * called util_init() cleans up, so a forked child exiting does not pull the
 * files from under its parent.
 */
#include "util_test.h"
#include "bpwin_uapi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* A sanitizer's report ends the process with _exit, past atexit and any
 * signal: its death callback cleans up instead. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#include <sanitizer/common_interface_defs.h>
#define UT_SANITIZED 1
#endif

static pid_t ut_owner;
static char ut_tmpdir[512];
static char ut_shm_prefix[64];
static unsigned ut_shm_counter;

static const int ut_fatal_signals[] = {SIGABRT, SIGSEGV, SIGBUS,  SIGFPE,
                                       SIGILL,  SIGTERM, SIGINT,  SIGHUP,
                                       SIGQUIT, SIGPIPE, SIGXCPU, SIGSYS,
                                       SIGALRM};
#define UT_NSIG (sizeof ut_fatal_signals / sizeof ut_fatal_signals[0])
static struct sigaction ut_old_actions[UT_NSIG];

/* ---- cleanup ------------------------------------------------------------- */

static int ut_rm_entry(const char *path, const struct stat *sb, int type,
                       struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void ut_cleanup(void)
{
    if (ut_owner == 0 || getpid() != ut_owner)
        return;
    if (ut_tmpdir[0] != '\0') {
        nftw(ut_tmpdir, ut_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        ut_tmpdir[0] = '\0';
    }
    DIR *d = opendir("/dev/shm");
    if (d == NULL)
        return;
    size_t plen = strlen(ut_shm_prefix);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ut_shm_prefix, plen) == 0)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

static void ut_on_signal(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    ut_cleanup();
    for (size_t i = 0; i < UT_NSIG; i++) {
        if (ut_fatal_signals[i] == sig)
            sigaction(sig, &ut_old_actions[i], NULL);
    }
    /* A fault (SIGSEGV... from the kernel) re-executes and faults again
     * into the restored handler; anything else (abort(), kill, alarm) is
     * raised again and stays pending until we return. */
    int fault = (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
                 sig == SIGFPE) &&
                info != NULL && info->si_code > 0;
    if (!fault)
        raise(sig);
}

void util_init(void)
{
    ut_owner = getpid();
    snprintf(ut_shm_prefix, sizeof ut_shm_prefix, "bptest-%ld-",
             (long)ut_owner);
    unsetenv("BUFPOOL_BACKEND");
    atexit(ut_cleanup);
#ifdef UT_SANITIZED
    __sanitizer_set_death_callback(ut_cleanup);
#endif
    for (size_t i = 0; i < UT_NSIG; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = ut_on_signal;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaction(ut_fatal_signals[i], &sa, &ut_old_actions[i]);
    }
}

int util_skip(const char *why)
{
    printf("SKIP: %s\n", why);
    fflush(stdout);
    exit(UTIL_EXIT_SKIP);
}

const char *util_tmpdir(void)
{
    if (ut_tmpdir[0] != '\0')
        return ut_tmpdir;
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/var/tmp";
    char tmpl[sizeof ut_tmpdir];
    int n = snprintf(tmpl, sizeof tmpl, "%s/bptest-%ld-XXXXXX", base,
                     (long)getpid());
    assert_true(n > 0 && (size_t)n < sizeof tmpl);
    if (mkdtemp(tmpl) == NULL) {
        print_error("mkdtemp(%s): %s\n", tmpl, strerror(errno));
        fail();
    }
    memcpy(ut_tmpdir, tmpl, sizeof ut_tmpdir);
    return ut_tmpdir;
}

void util_tmp_path(char *buf, size_t len, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", util_tmpdir(), name);
    assert_true(n > 0 && (size_t)n < len);
}

void util_shm_name(char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s%u", ut_shm_prefix, ++ut_shm_counter);
    assert_true(n > 0 && (size_t)n < len);
}

void util_shm_path(char *buf, size_t len, const char *name)
{
    int n = snprintf(buf, len, "/dev/shm/%s", name);
    assert_true(n > 0 && (size_t)n < len);
}

/* ---- machine probes ------------------------------------------------------ */

uint64_t util_shm_free(void)
{
    struct statvfs sv;
    if (statvfs("/dev/shm", &sv) != 0)
        return 0;
    return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

uint64_t util_shm_total(void)
{
    struct statvfs sv;
    if (statvfs("/dev/shm", &sv) != 0)
        return 0;
    return (uint64_t)sv.f_blocks * (uint64_t)sv.f_frsize;
}

/* Read one number from a cgroup file; "max" or absent = UINT64_MAX. */
static uint64_t ut_read_limit(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return UINT64_MAX;
    char line[64] = "";
    uint64_t v = UINT64_MAX;
    if (fgets(line, sizeof line, f) != NULL && strncmp(line, "max", 3) != 0)
        v = strtoull(line, NULL, 10);
    fclose(f);
    return v;
}

/* Minimum of <root><cgpath>/<file> over cgpath and all its ancestors. */
static uint64_t ut_walk_limit(const char *root, const char *cgpath,
                              const char *file)
{
    char dir[512];
    char path[640];
    uint64_t best = UINT64_MAX;
    snprintf(dir, sizeof dir, "%s", cgpath);
    for (;;) {
        snprintf(path, sizeof path, "%s%s/%s", root,
                 strcmp(dir, "/") == 0 ? "" : dir, file);
        uint64_t v = ut_read_limit(path);
        if (v < best)
            best = v;
        char *slash = strrchr(dir, '/');
        if (slash == NULL || slash == dir)
            break;
        *slash = '\0';
    }
    /* the root itself */
    snprintf(path, sizeof path, "%s/%s", root, file);
    uint64_t v = ut_read_limit(path);
    return v < best ? v : best;
}

uint64_t util_mem_limit(void)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f == NULL)
        return UINT64_MAX;
    uint64_t best = UINT64_MAX;
    char line[1024];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1;
        const char *cgpath = c2 + 1;
        uint64_t v = UINT64_MAX;
        if (ctrls[0] == '\0')
            v = ut_walk_limit("/sys/fs/cgroup", cgpath, "memory.max");
        else if (strstr(ctrls, "memory") != NULL)
            v = ut_walk_limit("/sys/fs/cgroup/memory", cgpath,
                              "memory.limit_in_bytes");
        if (v < best)
            best = v;
    }
    fclose(f);
    return best;
}

uint64_t util_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return UINT64_MAX;
    char line[256];
    uint64_t v = UINT64_MAX;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long kb;
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            v = (uint64_t)kb * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

bp_backend util_backend_for(bp_backend asked)
{
    const char *e = getenv("BP_TEST_KMOD");

    if (e && strcmp(e, "1") == 0 &&
        (asked == BP_BACKEND_RFP || asked == BP_BACKEND_MMAP))
        return BP_BACKEND_KMOD;
    return asked;
}

int util_backend_here(bp_backend b)
{
    if (b == BP_BACKEND_RFP && !util_have_rfp())
        return 0;
    if (b == BP_BACKEND_LINEAR && sizeof(void *) < 8) {
        print_message("  linear backend: 64-bit only\n");
        return 0;
    }
    if (b == BP_BACKEND_KMOD && access(BPWIN_DEVICE, F_OK) != 0) {
        print_message("  no %s: the bpwin module is not loaded\n",
                      BPWIN_DEVICE);
        return 0;
    }
    return 1;
}

int util_have_rfp(void)
{
    if (util_backend_for(BP_BACKEND_RFP) == BP_BACKEND_KMOD)
        return 1; /* its cases run on kmod */
    size_t pg = util_sys_page();
    int fd = memfd_create("bptest-rfp-probe", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    int ok = 0;
    if (ftruncate(fd, (off_t)(2 * pg)) == 0) {
        void *a = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (a != MAP_FAILED) {
            ok = remap_file_pages(a, pg, 0, 1, 0) == 0;
            if (!ok && errno == ENOSYS)
                print_message("remap_file_pages not available under "
                              "emulation: %s\n", strerror(errno));
            else if (!ok)
                print_message("remap_file_pages: %s\n", strerror(errno));
            munmap(a, 2 * pg);
        }
    }
    close(fd);
    return ok;
}

/* pagemap entry of addr: bit 63 present; ~0 when it cannot be read. */
static uint64_t util_pagemap_entry(int fd, const void *addr)
{
    uint64_t e = 0, vpn = (uint64_t)(uintptr_t)addr / util_sys_page();

    if (pread(fd, &e, sizeof e, (off_t)(vpn * sizeof e)) != (ssize_t)sizeof e)
        return ~(uint64_t)0;
    return e;
}

const char *util_pagemap_unfaithful(void)
{
    static const char why[] =
        "/proc/self/pagemap does not describe this process's mappings (a "
        "touched page reads as absent or an untouched one as present: "
        "qemu-user maps the guest at an offset in its own address space)";
    size_t pg = util_sys_page();
    const uint64_t present = UINT64_C(1) << 63;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    char *a;
    int ok;

    if (fd < 0)
        return "cannot open /proc/self/pagemap";
    a = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) {
        close(fd);
        return "cannot map two scratch pages";
    }
    *(volatile char *)a = 1;
    ok = (util_pagemap_entry(fd, a) & present) &&
         !(util_pagemap_entry(fd, a + pg) & present);
    munmap(a, 2 * pg);
    close(fd);
    return ok ? NULL : why;
}

int util_thp_eligible(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    char line[512];
    int in = 0, r = -1;
    uintptr_t a = (uintptr_t)addr;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        int v;

        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            in = a >= lo && a < hi;
            continue;
        }
        if (in && sscanf(line, "THPeligible: %d", &v) == 1) {
            r = v;
            break;
        }
    }
    fclose(f);
    return r;
}

const char *util_smaps_thp_unfaithful(void)
{
    const size_t huge = 2 * UTIL_MiB, len = 3 * huge;
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    char line[160] = "";
    char *a, *h;
    int e;

    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    if (!strstr(line, "[always]") && !strstr(line, "[madvise]"))
        return "transparent huge pages are off "
               "(/sys/kernel/mm/transparent_hugepage/enabled)";
    a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (a == MAP_FAILED)
        return "cannot map a scratch range";
    h = (char *)(((uintptr_t)a + huge - 1) & ~(uintptr_t)(huge - 1));
    (void)madvise(h, huge, MADV_HUGEPAGE);
    *(volatile char *)h = 1;
    e = util_thp_eligible(h);
    munmap(a, len);
    return e == 1 ? NULL
                  : "/proc/self/smaps does not show THPeligible 1 for a range "
                    "advised MADV_HUGEPAGE (qemu-user ignores madvise and "
                    "writes its own smaps)";
}

const char *util_mmap_high_unfaithful(void)
{
    const off_t high = (off_t)4 << 30;
    size_t pg = util_sys_page();
    const char *why = NULL;
    int fd = memfd_create("bptest-high-probe", MFD_CLOEXEC);
    char *m;

    if (fd < 0)
        return "memfd_create failed";
    if (ftruncate(fd, high + (off_t)pg) != 0 ||
        pwrite(fd, "high", 4, high) != 4 || pwrite(fd, "low!", 4, 0) != 4) {
        close(fd);
        return "cannot write a sparse 4 GiB memfd";
    }
    m = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, high);
    if (m == MAP_FAILED)
        why = "mmap at a file offset of 4 GiB fails";
    else if (memcmp(m, "high", 4) != 0)
        why = "mmap at a file offset of 4 GiB maps the bytes at offset 0: "
              "the offset is cut to 32 bits (qemu-user 7.2 i386 mmap2)";
    if (m != MAP_FAILED)
        munmap(m, pg);
    close(fd);
    return why;
}

size_t util_sys_page(void)
{
    long v = sysconf(_SC_PAGESIZE);
    return v > 0 ? (size_t)v : 4096;
}

/* ---- random -------------------------------------------------------------- */

uint64_t util_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

uint64_t util_rand_below(uint64_t *state, uint64_t n)
{
    return (util_rand(state) >> 11) % n;
}

/* ---- stamps -------------------------------------------------------------- */

#define UT_MAGIC 0x42505354u /* "BPST" */
#define UT_HDR_WORDS 4u

static uint32_t ut_seed(uint64_t pgno, uint32_t gen)
{
    uint64_t x = pgno * UINT64_C(0x9E3779B97F4A7C15) ^
                 ((uint64_t)gen * UINT64_C(0xC2B2AE3D27D4EB4F));
    x ^= x >> 31;
    return (uint32_t)(x ^ (x >> 32));
}

static uint32_t ut_word(uint32_t seed, uint32_t i)
{
    uint32_t x = seed + i * 0x9E3779B9u;
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    x ^= x >> 12;
    return x;
}

static uint32_t ut_expected_word(uint64_t pgno, uint32_t gen, uint32_t seed,
                                 uint32_t i)
{
    switch (i) {
    case 0:
        return UT_MAGIC;
    case 1:
        return (uint32_t)pgno;
    case 2:
        return (uint32_t)(pgno >> 32);
    case 3:
        return gen;
    default:
        return ut_word(seed, i);
    }
}

static size_t ut_tail;

void util_set_stamp_tail(size_t bytes)
{
    ut_tail = bytes;
}

void util_stamp(void *page, size_t psz, uint64_t pgno, uint32_t gen)
{
    uint32_t *w = page;
    uint32_t n = (uint32_t)((psz - ut_tail) / 4);
    if (gen == UTIL_GEN_ZERO) {
        memset(page, 0, psz - ut_tail);
        return;
    }
    uint32_t seed = ut_seed(pgno, gen);
    for (uint32_t i = 0; i < n; i++)
        w[i] = ut_expected_word(pgno, gen, seed, i);
}

static int ut_all_zero(const void *page, size_t psz)
{
    const unsigned char *b = page;
    for (size_t i = 0; i < psz; i++) {
        if (b[i] != 0)
            return 0;
    }
    return 1;
}

uint32_t util_page_gen(const void *page, size_t psz, uint64_t pgno)
{
    const uint32_t *w = page;
    uint32_t n = (uint32_t)((psz - ut_tail) / 4);
    if (ut_all_zero(page, psz - ut_tail))
        return UTIL_GEN_ZERO;
    if (n < UT_HDR_WORDS || w[0] != UT_MAGIC || w[1] != (uint32_t)pgno ||
        w[2] != (uint32_t)(pgno >> 32) || w[3] >= UTIL_GEN_BAD)
        return UTIL_GEN_BAD;
    uint32_t gen = w[3];
    uint32_t seed = ut_seed(pgno, gen);
    for (uint32_t i = UT_HDR_WORDS; i < n; i++) {
        if (w[i] != ut_word(seed, i))
            return UTIL_GEN_BAD;
    }
    return gen;
}

int util_stamp_ok(const void *page, size_t psz, uint64_t pgno, uint32_t gen)
{
    const uint32_t *w = page;
    uint32_t n = (uint32_t)((psz - ut_tail) / 4);
    uint32_t seed = ut_seed(pgno, gen);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t want =
            gen == UTIL_GEN_ZERO ? 0 : ut_expected_word(pgno, gen, seed, i);
        if (w[i] == want)
            continue;
        uint64_t hdr_pgno = n >= 3 ? ((uint64_t)w[2] << 32 | w[1]) : 0;
        print_error("page %" PRIu64 ": expected gen %" PRIu32
                    "%s; word %" PRIu32 " is 0x%08" PRIx32
                    " not 0x%08" PRIx32 " (header: magic 0x%08" PRIx32
                    " pgno %" PRIu64 " gen %" PRIu32 ")\n",
                    pgno, gen, gen == UTIL_GEN_ZERO ? " (zero page)" : "", i,
                    w[i], want, w[0], hdr_pgno, n >= 4 ? w[3] : 0);
        return 0;
    }
    return 1;
}

void util_touch(const void *addr, size_t len)
{
    size_t pg = util_sys_page();
    const volatile unsigned char *b = addr;
    unsigned sink = 0;
    for (size_t off = 0; off < len; off += pg)
        sink += b[off];
    (void)sink;
}

/* ---- data files ---------------------------------------------------------- */

void util_datafile_create(const char *path, size_t psz, uint64_t npages,
                          uint32_t gen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        print_error("open(%s): %s\n", path, strerror(errno));
        fail();
    }
    void *buf = malloc(psz);
    assert_non_null(buf);
    for (uint64_t i = 0; i < npages; i++) {
        util_stamp(buf, psz, i, gen);
        ssize_t w = pwrite(fd, buf, psz, (off_t)(i * psz));
        if (w != (ssize_t)psz) {
            print_error("pwrite(%s, page %" PRIu64 "): %s\n", path, i,
                        w < 0 ? strerror(errno) : "short write");
            free(buf);
            close(fd);
            fail();
        }
    }
    free(buf);
    assert_int_equal(fsync(fd), 0);
    assert_int_equal(close(fd), 0);
}

uint64_t util_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        print_error("stat(%s): %s\n", path, strerror(errno));
        fail();
    }
    return (uint64_t)st.st_size;
}

void util_datafile_gens(const char *path, size_t psz, uint64_t npages,
                        uint32_t *gens)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        print_error("open(%s): %s\n", path, strerror(errno));
        fail();
    }
    void *buf = malloc(psz);
    assert_non_null(buf);
    for (uint64_t i = 0; i < npages; i++) {
        ssize_t r = pread(fd, buf, psz, (off_t)(i * psz));
        gens[i] = r == (ssize_t)psz ? util_page_gen(buf, psz, i) : UTIL_GEN_BAD;
    }
    free(buf);
    close(fd);
}

static const char *ut_gen_str(uint32_t gen, char *buf, size_t len)
{
    if (gen == UTIL_GEN_ZERO)
        return "zero";
    if (gen == UTIL_GEN_BAD)
        return "garbage";
    snprintf(buf, len, "%" PRIu32, gen);
    return buf;
}

void util_datafile_verify(const char *path, size_t psz, uint64_t npages,
                          const uint32_t *want)
{
    uint64_t size = util_file_size(path);
    if (size != npages * psz) {
        print_error("%s: size %" PRIu64 ", expected %" PRIu64 " pages of %zu "
                    "= %" PRIu64 "\n",
                    path, size, npages, psz, npages * psz);
        fail();
    }
    uint32_t *got = calloc((size_t)npages, sizeof *got);
    assert_non_null(got);
    util_datafile_gens(path, psz, npages, got);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < npages; i++) {
        if (got[i] == want[i])
            continue;
        if (bad++ < 8) {
            char b1[16], b2[16];
            print_error("%s: page %" PRIu64 " holds gen %s, expected %s\n",
                        path, i, ut_gen_str(got[i], b1, sizeof b1),
                        ut_gen_str(want[i], b2, sizeof b2));
        }
    }
    free(got);
    if (bad != 0) {
        print_error("%s: %" PRIu64 " of %" PRIu64 " pages wrong\n", path, bad,
                    npages);
        fail();
    }
}

/* ---- pools --------------------------------------------------------------- */

void util_print_rc(const bp_pool *p, const char *what, int rc)
{
    print_error("%s: %s (%d): %s\n", what, bp_strerror(rc), rc,
                p != NULL ? bp_errmsg(p) : "(no pool)");
}

#define UT_SET(call, name)                                                     \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != 0) {                                                        \
            util_print_rc(p, name, rc_);                                       \
            return rc_;                                                        \
        }                                                                      \
    } while (0)

int util_pool_config(bp_pool *p, const struct util_cfg *c)
{
    if (c->page_size != 0)
        UT_SET(bp_set_page_size(p, c->page_size), "bp_set_page_size");
    if (c->frames != 0)
        UT_SET(bp_set_cache_frames(p, c->frames), "bp_set_cache_frames");
    if (c->slots != 0)
        UT_SET(bp_set_window_slots(p, c->slots), "bp_set_window_slots");
    UT_SET(bp_set_backend(p, util_backend_for(c->backend)), "bp_set_backend");
    UT_SET(bp_set_prefault(p, c->prefault), "bp_set_prefault");
    UT_SET(bp_set_replacement(p, c->replacement), "bp_set_replacement");
    if (c->shm_name != NULL)
        UT_SET(bp_set_shm(p, c->shm_name, c->shm_keep), "bp_set_shm");
    UT_SET(bp_set_io_engine(p, c->engine), "bp_set_io_engine");
    if (c->checksums)
        UT_SET(bp_set_checksums(p, 1), "bp_set_checksums");
    return 0;
}

int util_pool_open(bp_pool **out, const char *path, const struct util_cfg *c)
{
    bp_pool *p = NULL;
    *out = NULL;
    int rc = bp_create(&p, NULL);
    if (rc != 0) {
        util_print_rc(NULL, "bp_create", rc);
        return rc;
    }
    rc = util_pool_config(p, c);
    if (rc == 0) {
        rc = bp_open(p, path, c->flags);
        if (rc != 0) {
            char what[600];
            snprintf(what, sizeof what,
                     "bp_open(%s, backend %s, page %zu, %" PRIu64
                     " frames, %" PRIu64 " slots)",
                     path, util_backend_name(c->backend), c->page_size,
                     c->frames, c->slots);
            util_print_rc(p, what, rc);
        }
    }
    if (rc != 0) {
        bp_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

void util_check(bp_pool *p)
{
    int rc = bp__test_check(p);
    if (rc != 0) {
        util_print_rc(p, "bp__test_check", rc);
        fail();
    }
}

void util_stats(bp_pool *p, bp_stats *st)
{
    memset(st, 0, sizeof *st);
    int rc = bp_stats_get(p, st, sizeof *st);
    if (rc != 0) {
        util_print_rc(p, "bp_stats_get", rc);
        fail();
    }
}

void util_fix_verify(bp_pool *p, uint64_t pgno, unsigned mode, size_t psz,
                     uint32_t gen)
{
    bp_page pg;
    memset(&pg, 0, sizeof pg);
    int rc = bp_fix(p, pgno, mode, &pg);
    if (rc != 0) {
        char what[64];
        snprintf(what, sizeof what, "bp_fix(%" PRIu64 ")", pgno);
        util_print_rc(p, what, rc);
        fail();
    }
    assert_true(pg.pgno == pgno);
    assert_non_null(pg.data);
    util_assert_stamp(pg.data, psz, pgno, gen);
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
}

void util_fix_write(bp_pool *p, uint64_t pgno, size_t psz, uint32_t old_gen,
                    uint32_t new_gen)
{
    util_fix_write_mode(p, pgno, BP_EXCLUSIVE, psz, old_gen, new_gen);
}

void util_fix_write_mode(bp_pool *p, uint64_t pgno, unsigned mode, size_t psz,
                         uint32_t old_gen, uint32_t new_gen)
{
    bp_page pg;
    memset(&pg, 0, sizeof pg);
    int rc = bp_fix(p, pgno, mode, &pg);
    if (rc != 0) {
        char what[64];
        snprintf(what, sizeof what, "bp_fix(%" PRIu64 ", excl, %#x)", pgno,
                 mode);
        util_print_rc(p, what, rc);
        fail();
    }
    assert_true(pg.pgno == pgno);
    util_assert_stamp(pg.data, psz, pgno, old_gen);
    util_stamp(pg.data, psz, pgno, new_gen);
    assert_int_equal(bp_unfix(p, &pg, BP_DIRTY), 0);
}

struct util_backend_case {
    void (*run)(bp_backend b);
    bp_backend b;
};

static void util_backend_test(void **state)
{
    const struct util_backend_case *c = *state;

    c->run(c->b);
}

int util_run_backends(const char *group, void (*run)(bp_backend b),
                      const bp_backend *bs, size_t n)
{
    struct util_backend_case cases[8];
    struct CMUnitTest tests[8];

    assert_true(n <= 8);
    memset(tests, 0, sizeof tests);
    for (size_t i = 0; i < n; i++) {
        cases[i].run = run;
        cases[i].b = bs[i];
        tests[i].name = util_backend_name(bs[i]);
        tests[i].test_func = util_backend_test;
        tests[i].initial_state = &cases[i];
    }
    return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

const char *util_backend_name(bp_backend b)
{
    return bp_backend_name(b);
}

/* ---- threads --------------------------------------------------------------- */

int util_nproc(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static pthread_mutex_t ut_wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ut_wd_cv;
static pthread_t ut_wd_thread;
static int ut_wd_running; /* a watchdog thread exists */
static int ut_wd_armed;   /* cleared by util_watchdog_stop() */
static unsigned ut_wd_seconds;
static char ut_wd_what[256];

static void *ut_wd_main(void *arg)
{
    struct timespec until;
    int expired = 0;

    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)ut_wd_seconds;
    pthread_mutex_lock(&ut_wd_lock);
    while (ut_wd_armed && !expired)
        expired = pthread_cond_timedwait(&ut_wd_cv, &ut_wd_lock, &until) ==
                  ETIMEDOUT;
    if (ut_wd_armed) {
        print_error("watchdog: still not done after %u s (deadlock?): %s\n",
                    ut_wd_seconds, ut_wd_what);
        fflush(stdout);
        fflush(stderr);
        abort();
    }
    pthread_mutex_unlock(&ut_wd_lock);
    return NULL;
}

void util_watchdog_start(unsigned seconds, const char *what)
{
    pthread_condattr_t ca;

    assert_false(ut_wd_running);
    assert_int_equal(pthread_condattr_init(&ca), 0);
    assert_int_equal(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
    assert_int_equal(pthread_cond_init(&ut_wd_cv, &ca), 0);
    pthread_condattr_destroy(&ca);
    snprintf(ut_wd_what, sizeof ut_wd_what, "%s", what);
    ut_wd_seconds = seconds;
    ut_wd_armed = 1;
    assert_int_equal(pthread_create(&ut_wd_thread, NULL, ut_wd_main, NULL), 0);
    ut_wd_running = 1;
}

void util_watchdog_stop(void)
{
    if (!ut_wd_running)
        return;
    pthread_mutex_lock(&ut_wd_lock);
    ut_wd_armed = 0;
    pthread_cond_signal(&ut_wd_cv);
    pthread_mutex_unlock(&ut_wd_lock);
    pthread_join(ut_wd_thread, NULL);
    pthread_cond_destroy(&ut_wd_cv);
    ut_wd_running = 0;
}
