/*
 * test_kmod.c - the bpwin kernel module (/dev/bpwin, kernel/bpwin.c),
 * driven directly through its ioctls (kernel/bpwin_uapi.h), not through
 * libbufpool.
 *
 * Frames live in a /dev/shm file (shm_open'ed as "bptest-<pid>-kmod-<n>"
 * and unlinked at once, so nothing is left behind even on a crash) and
 * carry stamps: word 0 of page p of frame f is KT_TAG | f << 16 | p, the
 * other words a hash of (f, p, word), so a slot showing the wrong frame,
 * page or a torn mix is caught.  Files needing a disk file system (the
 * O_DIRECT cases, the "not tmpfs" SETUP case) go into a fresh temp dir
 * under $TMPDIR or /var/tmp, removed at exit and on fatal signals.
 *
 * Cases:
 *   info           BPWIN_IOC_INFO fields
 *   setup_bad      wrong ABI, bad fds, not tmpfs, read-only shm, sealed
 *                  memfd, bad slot_pages/nslots/flags, SETUP twice; a
 *                  bound memfd refuses F_SEAL_WRITE
 *   mmap_bad       before SETUP, MAP_PRIVATE, wrong size/offset, twice,
 *                  PROT_EXEC (also by mprotect);
 *                  partial munmap/mprotect and mremap refused, window intact
 *   map_basic      populate vs lazy (pagemap), scattered slots, remap,
 *                  write through a slot / pread the shm, same frame in two
 *                  slots, UNMAP -> SIGSEGV at the touched address, device
 *                  fd closed while the mapping lives on
 *   noguard_prot   without GUARD: PROT_NONE refused, READ mapped writable
 *   guard          GUARD: READ traps writes, PROTECT RW lets them in,
 *                  PROTECT READ traps again, PROT_NONE traps reads
 *   big_slots      16-page slots; a second window over the same shm file
 *                  sees the same pages
 *   batch_bad      each bad op at index k: error, done == k, ops before it
 *                  applied, none after; count 0 / > max; bad pointers; an
 *                  ops array that turns unreadable after 300 ops; an ops
 *                  array living in the window itself
 *   stats          every counter after a known sequence, zap merging
 *   many_slots     70,000 scattered slots in one window (more than
 *                  vm.max_map_count VMAs would allow): one /proc/self/maps
 *                  line
 *   truncate       shm truncated to 0 under mapped slots whose PTEs are
 *                  gone: SIGBUS, MAP past EOF refused; regrow, hole punch
 *   truncate_mapped  ... under populated slots (orphaned pages still
 *                  read, GUARD write SIGBUS): only with
 *                  BPWIN_TEST_TRUNCATE_MAPPED=1, as the kernel logs
 *                  "BUG: Bad page cache" for it (see kernel/bpwin.c)
 *   munmap_race    munmap while threads loop on BATCH and touch: -ENXIO
 *   exit_race      a process exits while its threads are in BATCH
 *   fork           the child has no window (SIGSEGV) and gets -EPERM;
 *                  with MADV_DOFORK the child's copy traps and the parent's
 *                  window is unharmed
 *   odirect        O_DIRECT pread into / pwrite from window slots (and
 *                  EFAULT for READ / PROT_NONE slots of a GUARD window)
 *   dio_race       O_DIRECT reads into a slot that is remapped meanwhile:
 *                  data only ever lands in one of the slot's frames
 *   stress         2 threads remapping the same slots while a third reads
 *                  and writes them (GUARD and not), then: the page tables
 *                  agree with the slot table (reads equal before and after
 *                  MADV_DONTNEED) and no frame is torn
 *
 * BPWIN_STRESS_SECONDS (default 2) sets the length of each racing case;
 * an argument runs only the cases matching it (cmocka's test filter, "*"
 * as a wildcard), e.g. test_kmod test_stress.
 * Skipped (77) when /dev/bpwin does not exist.
 *
 * Build: cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I kernel \
 *        tests/window/test_kmod.c -lcmocka -lpthread
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpwin_uapi.h"

#define KT_TAG UINT64_C(0xb7b7)
#define KT_SKIP 77

static size_t kt_psz;           /* kernel page size */
static struct bpwin_info kt_info;

/* ---- scratch space ------------------------------------------------------- */

static pid_t kt_owner;
static char kt_dir[512];
static unsigned kt_shm_ctr;

static int kt_rm(const char *path, const struct stat *sb, int type,
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

static void kt_cleanup(void)
{
    if (getpid() != kt_owner || kt_dir[0] == '\0')
        return;
    nftw(kt_dir, kt_rm, 8, FTW_DEPTH | FTW_PHYS);
    kt_dir[0] = '\0';
}

static void kt_on_fatal(int sig)
{
    kt_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static const char *kt_tmpdir(void)
{
    if (kt_dir[0] != '\0')
        return kt_dir;
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/var/tmp";
    snprintf(kt_dir, sizeof kt_dir, "%s/bptest-%ld-kmod-XXXXXX", base,
             (long)kt_owner);
    if (mkdtemp(kt_dir) == NULL) {
        print_error("mkdtemp(%s): %s\n", kt_dir, strerror(errno));
        kt_dir[0] = '\0';
        fail();
    }
    return kt_dir;
}

/* A fresh shm file of size bytes, already unlinked. */
static int kt_shm_new(uint64_t bytes)
{
    char name[64];
    snprintf(name, sizeof name, "/bptest-%ld-kmod-%u", (long)kt_owner,
             ++kt_shm_ctr);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        print_error("shm_open(%s): %s\n", name, strerror(errno));
        fail();
    }
    shm_unlink(name);
    assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
    return fd;
}

/* ---- traps: touching memory that may raise SIGSEGV/SIGBUS ---------------- */

/* volatile: the handler reads them, the compiler must not drop or move
 * the stores around the probing access */
static __thread sigjmp_buf *volatile kt_jb;
static __thread volatile int kt_sig;
static __thread void *volatile kt_addr;
static struct sigaction kt_prev_segv, kt_prev_bus;

static void kt_on_trap(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (kt_jb != NULL) {
        kt_sig = sig;
        kt_addr = si->si_addr;
        siglongjmp(*kt_jb, 1);
    }
    /* not expected: back to the previous handler (cmocka's), re-fault */
    kt_cleanup();
    sigaction(SIGSEGV, &kt_prev_segv, NULL);
    sigaction(SIGBUS, &kt_prev_bus, NULL);
}

/* cmocka installs its own handlers around each test: call at its start. */
static void kt_traps_on(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = kt_on_trap;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &kt_prev_segv);
    sigaction(SIGBUS, &sa, &kt_prev_bus);
}

/* Read the u64 at p: 0, or the signal it raised (si_addr in *addr). */
static int kt_read(const void *p, uint64_t *val, void **addr)
{
    sigjmp_buf jb;
    if (sigsetjmp(jb, 1)) {
        kt_jb = NULL;
        if (addr != NULL)
            *addr = kt_addr;
        return kt_sig;
    }
    kt_jb = &jb;
    /* the first byte first: a 32-bit build splits the u64 load, maybe
     * high half first, and si_addr must be p */
    (void)*(const volatile uint8_t *)p;
    uint64_t v = *(const volatile uint64_t *)p;
    kt_jb = NULL;
    if (val != NULL)
        *val = v;
    return 0;
}

/* Write v to the u64 at p: 0, or the signal it raised. */
static int kt_write(void *p, uint64_t v, void **addr)
{
    sigjmp_buf jb;
    if (sigsetjmp(jb, 1)) {
        kt_jb = NULL;
        if (addr != NULL)
            *addr = kt_addr;
        return kt_sig;
    }
    kt_jb = &jb;
    *(volatile uint8_t *)p = (uint8_t)v;  /* first byte first, as above */
    *(volatile uint64_t *)p = v;
    kt_jb = NULL;
    return 0;
}

/* Assert that reading (or writing) p raises sig at p. */
static void kt_expect_trap(void *p, int write, int sig)
{
    void *at = NULL;
    int got = write ? kt_write(p, 0, &at) : kt_read(p, NULL, &at);
    if (got != sig || at != p) {
        print_error("%s %p: signal %d at %p, wanted %d at %p\n",
                    write ? "write" : "read", p, got, at, sig, p);
        fail();
    }
}

/* ---- stamps -------------------------------------------------------------- */

/* Word i of page p of frame f. */
static uint64_t kt_word(uint64_t f, uint64_t p, uint64_t i)
{
    if (i == 0)
        return KT_TAG << 48 | f << 16 | p;
    uint64_t x = (f << 32) ^ (p << 20) ^ i ^ UINT64_C(0x9e3779b97f4a7c15);
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* Fill buf (pages pages) with frame f's stamp. */
static void kt_fill(void *buf, uint64_t f, uint32_t pages)
{
    uint64_t *w = buf;
    size_t per = kt_psz / 8;
    for (uint32_t p = 0; p < pages; p++)
        for (size_t i = 0; i < per; i++)
            w[p * per + i] = kt_word(f, p, i);
}

/* Index of the first word of buf (pages pages) that is not frame f's
 * stamp, or -1; the last word of each page is skipped if skip_last. */
static long kt_mismatch(const void *buf, uint64_t f, uint32_t pages,
                        int skip_last)
{
    const volatile uint64_t *w = buf;
    size_t per = kt_psz / 8;
    for (uint32_t p = 0; p < pages; p++)
        for (size_t i = 0; i < per - (skip_last ? 1 : 0); i++)
            if (w[p * per + i] != kt_word(f, p, i))
                return (long)(p * per + i);
    return -1;
}

/* ---- windows ------------------------------------------------------------- */

struct kt_win {
    int dev;
    int shm;
    uint32_t slot_pages;
    uint32_t flags;
    uint64_t nslots;
    uint64_t nframes;
    size_t slot_bytes;
    size_t bytes;
    char *base;
};

static void kt_stamp_frames(const struct kt_win *w, uint64_t first,
                            uint64_t n)
{
    void *buf = malloc(w->slot_bytes);
    assert_non_null(buf);
    for (uint64_t f = first; f < first + n; f++) {
        kt_fill(buf, f, w->slot_pages);
        assert_int_equal(pwrite(w->shm, buf, w->slot_bytes,
                                (off_t)(f * w->slot_bytes)),
                         (ssize_t)w->slot_bytes);
    }
    free(buf);
}

/* Write stamp `as` into frame f of the shm file. */
static void kt_stamp_frame_as(const struct kt_win *w, uint64_t f, uint64_t as)
{
    void *buf = malloc(w->slot_bytes);
    assert_non_null(buf);
    kt_fill(buf, as, w->slot_pages);
    assert_int_equal(pwrite(w->shm, buf, w->slot_bytes,
                            (off_t)(f * w->slot_bytes)),
                     (ssize_t)w->slot_bytes);
    free(buf);
}

static int kt_dev_open(void)
{
    int fd = open(BPWIN_DEVICE, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        print_error("open(%s): %s\n", BPWIN_DEVICE, strerror(errno));
        fail();
    }
    return fd;
}

static int kt_setup(int dev, int shm, uint32_t slot_pages, uint64_t nslots,
                    uint32_t flags)
{
    struct bpwin_setup s = {.abi_version = BPWIN_ABI_VERSION,
                            .shm_fd = shm,
                            .slot_pages = slot_pages,
                            .flags = flags,
                            .nslots = nslots};
    return ioctl(dev, BPWIN_IOC_SETUP, &s) == 0 ? 0 : -errno;
}

/* Open, set up and map a window over a new shm file of nframes stamped
 * frames. */
static void kt_win_open(struct kt_win *w, uint64_t nslots, uint32_t slot_pages,
                        uint32_t flags, uint64_t nframes)
{
    memset(w, 0, sizeof *w);
    w->slot_pages = slot_pages;
    w->flags = flags;
    w->nslots = nslots;
    w->nframes = nframes;
    w->slot_bytes = slot_pages * kt_psz;
    w->bytes = nslots * w->slot_bytes;
    w->shm = kt_shm_new(nframes * w->slot_bytes);
    kt_stamp_frames(w, 0, nframes);
    w->dev = kt_dev_open();
    int r = kt_setup(w->dev, w->shm, slot_pages, nslots, flags);
    if (r != 0) {
        print_error("SETUP: %s\n", strerror(-r));
        fail();
    }
    void *m = mmap(NULL, w->bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                   w->dev, 0);
    if (m == MAP_FAILED) {
        print_error("mmap window: %s\n", strerror(errno));
        fail();
    }
    w->base = m;
}

static void kt_win_close(struct kt_win *w)
{
    if (w->base != NULL)
        munmap(w->base, w->bytes);
    if (w->dev >= 0)
        close(w->dev);
    if (w->shm >= 0)
        close(w->shm);
    w->base = NULL;
    w->dev = w->shm = -1;
}

static char *kt_slot(const struct kt_win *w, uint64_t slot)
{
    return w->base + slot * w->slot_bytes;
}

static struct bpwin_op kt_op(uint32_t op, uint64_t slot, uint64_t frame,
                             uint32_t flags)
{
    struct bpwin_op o = {.slot = slot, .frame = frame, .op = op,
                         .flags = flags};
    return o;
}

/* BPWIN_IOC_BATCH: 0 or -errno; *done as the module reported it. */
static int kt_batch(int dev, const struct bpwin_op *ops, uint32_t count,
                    uint32_t *done)
{
    struct bpwin_batch b = {.ops = (uint64_t)(uintptr_t)ops,
                            .count = count,
                            .done = UINT32_MAX};
    int r = ioctl(dev, BPWIN_IOC_BATCH, &b) == 0 ? 0 : -errno;
    if (done != NULL)
        *done = b.done;
    return r;
}

/* One op that must succeed. */
static void kt_do(const struct kt_win *w, uint32_t op, uint64_t slot,
                  uint64_t frame, uint32_t flags)
{
    struct bpwin_op o = kt_op(op, slot, frame, flags);
    uint32_t done = 0;
    int r = kt_batch(w->dev, &o, 1, &done);
    if (r != 0 || done != 1) {
        print_error("op %u slot %" PRIu64 " frame %" PRIu64 " flags %#x: "
                    "%s, done %u\n", op, slot, frame, flags,
                    r ? strerror(-r) : "ok", done);
        fail();
    }
}

static void kt_map(const struct kt_win *w, uint64_t slot, uint64_t frame,
                   uint32_t flags)
{
    kt_do(w, BPWIN_OP_MAP, slot, frame, flags);
}

static void kt_stats(const struct kt_win *w, struct bpwin_stats *st)
{
    memset(st, 0xff, sizeof *st);
    assert_int_equal(ioctl(w->dev, BPWIN_IOC_STATS, st), 0);
    assert_int_equal(st->reserved, 0);
}

/* Assert slot reads exactly frame f (no trap). */
static void kt_assert_slot(const struct kt_win *w, uint64_t slot, uint64_t f)
{
    void *at = NULL;
    int sig = kt_read(kt_slot(w, slot), NULL, &at);
    if (sig != 0) {
        print_error("slot %" PRIu64 " (frame %" PRIu64 "): signal %d at %p\n",
                    slot, f, sig, at);
        fail();
    }
    long bad = kt_mismatch(kt_slot(w, slot), f, w->slot_pages, 0);
    if (bad >= 0) {
        print_error("slot %" PRIu64 " word %ld: %#" PRIx64 ", frame %" PRIu64
                    " has %#" PRIx64 "\n", slot, bad,
                    ((const uint64_t *)kt_slot(w, slot))[bad], f,
                    kt_word(f, (uint64_t)bad / (kt_psz / 8),
                            (uint64_t)bad % (kt_psz / 8)));
        fail();
    }
}

/* 1 if the PTE of addr is present, 0 if not, -1 if pagemap cannot tell. */
static int kt_present(const void *addr)
{
    static int fd = -2;
    if (fd == -2)
        fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint64_t e = 0;
    off_t off = (off_t)((uintptr_t)addr / kt_psz * sizeof e);
    if (pread(fd, &e, sizeof e, off) != (ssize_t)sizeof e)
        return -1;
    return (int)(e >> 63);
}

static double kt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double kt_stress_seconds(void)
{
    const char *s = getenv("BPWIN_STRESS_SECONDS");
    double v = s != NULL ? atof(s) : 0;
    return v > 0 ? v : 2.0;
}

static uint64_t kt_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* ---- info, setup, mmap --------------------------------------------------- */

static void test_info(void **state)
{
    (void)state;
    int dev = kt_dev_open();
    struct bpwin_info in;
    memset(&in, 0xff, sizeof in);
    assert_int_equal(ioctl(dev, BPWIN_IOC_INFO, &in), 0);
    assert_int_equal(in.abi_version, BPWIN_ABI_VERSION);
    assert_int_equal(in.page_size, kt_psz);
    assert_true(in.max_slots >= 1);
    assert_int_equal(in.max_slot_pages, 16);
    assert_true(in.max_batch >= 1);
    assert_int_equal(in.features, BPWIN_FEAT_GUARD | BPWIN_FEAT_POPULATE);
    assert_int_equal(in.reserved, 0);
    /* an unknown ioctl */
    assert_int_equal(ioctl(dev, _IO(BPWIN_IOC_MAGIC, 99)), -1);
    assert_int_equal(errno, ENOTTY);
    close(dev);
}

static void test_setup_bad(void **state)
{
    (void)state;
    int shm = kt_shm_new(16 * kt_psz);
    int dev = kt_dev_open();
    struct bpwin_setup s = {.abi_version = BPWIN_ABI_VERSION + 1,
                            .shm_fd = shm, .slot_pages = 1, .nslots = 4};

    assert_int_equal(ioctl(dev, BPWIN_IOC_SETUP, &s), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(kt_setup(dev, -1, 1, 4, 0), -EBADF);
    int closed = dup(shm);
    close(closed);
    assert_int_equal(kt_setup(dev, closed, 1, 4, 0), -EBADF);

    /* not a tmpfs regular file */
    int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_true(dn >= 0);
    assert_int_equal(kt_setup(dev, dn, 1, 4, 0), -EINVAL);
    close(dn);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(kt_setup(dev, pfd[0], 1, 4, 0), -EINVAL);
    close(pfd[0]);
    close(pfd[1]);
    struct statfs sf;
    assert_int_equal(statfs(kt_tmpdir(), &sf), 0);
    if (sf.f_type != TMPFS_MAGIC) {
        char path[600];
        snprintf(path, sizeof path, "%s/plain", kt_tmpdir());
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)(16 * kt_psz)), 0);
        assert_int_equal(kt_setup(dev, fd, 1, 4, 0), -EINVAL);
        close(fd);
        unlink(path);
    } else {
        print_message("NOTE: %s is tmpfs: the plain file case is left out\n",
                      kt_tmpdir());
    }

    /* tmpfs, but open read-only */
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", shm);
    int ro = open(self, O_RDONLY | O_CLOEXEC);
    assert_true(ro >= 0);
    assert_int_equal(kt_setup(dev, ro, 1, 4, 0), -EBADF);
    close(ro);

    /* sealed against writing */
    int mfd = memfd_create("bptest-kmod", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(mfd >= 0);
    assert_int_equal(ftruncate(mfd, (off_t)(4 * kt_psz)), 0);
    assert_int_equal(fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE), 0);
    assert_int_equal(kt_setup(dev, mfd, 1, 4, 0), -EPERM);
    close(mfd);

    assert_int_equal(kt_setup(dev, shm, 0, 4, 0), -EINVAL);
    assert_int_equal(kt_setup(dev, shm, 3, 4, 0), -EINVAL);
    assert_int_equal(kt_setup(dev, shm, 32, 4, 0), -EINVAL);
    assert_int_equal(kt_setup(dev, shm, 1, 0, 0), -EINVAL);
    assert_int_equal(kt_setup(dev, shm, 1, kt_info.max_slots + 1, 0),
                     -EINVAL);
    assert_int_equal(kt_setup(dev, shm, 1, 4, 1u << 7), -EINVAL);
    assert_int_equal(ioctl(dev, BPWIN_IOC_SETUP, NULL), -1);
    assert_int_equal(errno, EFAULT);

    /* a memfd works, and while bound it cannot be sealed against writes */
    mfd = memfd_create("bptest-kmod", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(mfd >= 0);
    assert_int_equal(ftruncate(mfd, (off_t)(4 * kt_psz)), 0);
    assert_int_equal(kt_setup(dev, mfd, 1, 4, BPWIN_SETUP_GUARD), 0);
    assert_int_equal(fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE), -1);
    assert_int_equal(errno, EBUSY);
    assert_int_equal(kt_setup(dev, shm, 1, 4, 0), -EBUSY);
    close(dev);
    /* the window is gone: the seal can be added now */
    assert_int_equal(fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE), 0);
    close(mfd);
    close(shm);
}

static void test_mmap_bad(void **state)
{
    (void)state;
    kt_traps_on();
    int shm = kt_shm_new(8 * kt_psz);
    int dev = kt_dev_open();
    size_t len = 8 * kt_psz;

    assert_true(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0) ==
                MAP_FAILED);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(kt_setup(dev, shm, 2, 4, 0), 0);
    assert_true(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, dev,
                     0) == MAP_FAILED);
    assert_int_equal(errno, EINVAL);
    assert_true(mmap(NULL, len - kt_psz, PROT_READ | PROT_WRITE, MAP_SHARED,
                     dev, 0) == MAP_FAILED);
    assert_int_equal(errno, EINVAL);
    assert_true(mmap(NULL, len + kt_psz, PROT_READ | PROT_WRITE, MAP_SHARED,
                     dev, 0) == MAP_FAILED);
    assert_int_equal(errno, EINVAL);
    assert_true(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
                     (off_t)kt_psz) == MAP_FAILED);
    assert_int_equal(errno, EINVAL);

    assert_true(mmap(NULL, len, PROT_READ | PROT_EXEC, MAP_SHARED, dev, 0) ==
                MAP_FAILED);
    assert_int_equal(errno, EPERM);
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
    assert_true(base != MAP_FAILED);
    assert_int_equal(mprotect(base, len, PROT_READ | PROT_EXEC), -1);
    assert_int_equal(errno, EACCES);
    assert_true(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0) ==
                MAP_FAILED);
    assert_int_equal(errno, EBUSY);

    struct kt_win w = {.dev = dev, .shm = shm, .slot_pages = 2, .nslots = 4,
                       .nframes = 4, .slot_bytes = 2 * kt_psz, .bytes = len,
                       .base = base};
    kt_stamp_frames(&w, 0, 4);
    kt_map(&w, 1, 3, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);

    /* no split: partial munmap, mprotect, madvise that changes flags */
    assert_int_equal(munmap(base + 2 * kt_psz, 2 * kt_psz), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mprotect(base, 2 * kt_psz, PROT_READ), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(madvise(base, 2 * kt_psz, MADV_DOFORK), -1);
    /* no mremap: not moved, not shrunk, not grown */
    void *to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(to != MAP_FAILED);
    assert_true(mremap(base, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) ==
                MAP_FAILED);
    munmap(to, len);
    assert_true(mremap(base, len, len / 2, 0) == MAP_FAILED);
    assert_true(mremap(base, len, len * 2, MREMAP_MAYMOVE) == MAP_FAILED);
    /* ... and the window is intact */
    kt_assert_slot(&w, 1, 3);
    kt_map(&w, 0, 2, BPWIN_PROT_RW);
    kt_assert_slot(&w, 0, 2);
    /* whole-window mprotect is fine */
    assert_int_equal(mprotect(base, len, PROT_READ), 0);
    kt_expect_trap(kt_slot(&w, 0), 1, SIGSEGV);
    assert_int_equal(mprotect(base, len, PROT_READ | PROT_WRITE), 0);
    assert_int_equal(kt_write(kt_slot(&w, 0) + 8, kt_word(2, 0, 1), NULL), 0);

    assert_int_equal(munmap(base, len), 0);
    /* once per open */
    assert_true(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0) ==
                MAP_FAILED);
    assert_int_equal(errno, EBUSY);
    struct bpwin_op o = kt_op(BPWIN_OP_MAP, 0, 0, BPWIN_PROT_RW);
    assert_int_equal(kt_batch(dev, &o, 1, NULL), -ENXIO);
    close(dev);

    /* BATCH before mmap */
    dev = kt_dev_open();
    assert_int_equal(kt_batch(dev, &o, 1, NULL), -ENXIO);
    assert_int_equal(kt_setup(dev, shm, 2, 4, 0), 0);
    assert_int_equal(kt_batch(dev, &o, 1, NULL), -ENXIO);
    close(dev);
    close(shm);
}

/* ---- mapping ------------------------------------------------------------- */

static void test_map_basic(void **state)
{
    (void)state;
    kt_traps_on();
    struct kt_win w;
    kt_win_open(&w, 64, 2, 0, 32);
    static const uint64_t slots[] = {0, 63, 7, 31, 32, 5, 50, 1};
    const size_t n = sizeof slots / sizeof slots[0];
    struct bpwin_op ops[8];
    for (size_t i = 0; i < n; i++)
        ops[i] = kt_op(BPWIN_OP_MAP, slots[i], 30 - 3 * i,
                       BPWIN_PROT_RW | (i % 2 ? 0 : BPWIN_MAP_POPULATE));
    uint32_t done = 0;
    assert_int_equal(kt_batch(w.dev, ops, (uint32_t)n, &done), 0);
    assert_int_equal(done, n);

    /* populated slots have their PTEs, lazy ones do not (yet) */
    for (size_t i = 0; i < n; i++) {
        for (uint32_t p = 0; p < w.slot_pages; p++) {
            int pr = kt_present(kt_slot(&w, slots[i]) + p * kt_psz);
            if (pr >= 0)
                assert_int_equal(pr, i % 2 ? 0 : 1);
        }
    }
    struct bpwin_stats st;
    kt_stats(&w, &st);
    assert_int_equal(st.maps, n);
    assert_int_equal(st.populated, n / 2);
    assert_int_equal(st.faults, 0);
    for (size_t i = 0; i < n; i++)
        kt_assert_slot(&w, slots[i], 30 - 3 * i);
    kt_stats(&w, &st);
    assert_int_equal(st.faults, n / 2);
    /* untouched slots trap */
    kt_expect_trap(kt_slot(&w, 2), 0, SIGSEGV);
    kt_expect_trap(kt_slot(&w, 62) + kt_psz + 8, 1, SIGSEGV);

    /* remap a populated and a lazy slot to other frames */
    kt_map(&w, 0, 1, BPWIN_PROT_RW);
    kt_map(&w, 63, 2, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);
    kt_assert_slot(&w, 0, 1);
    kt_assert_slot(&w, 63, 2);
    /* the same frame in two slots: one page, two addresses */
    kt_map(&w, 10, 2, BPWIN_PROT_RW);
    kt_assert_slot(&w, 10, 2);
    *(volatile uint64_t *)(kt_slot(&w, 10) + kt_psz + 16) = 0x1234;
    assert_int_equal(*(volatile uint64_t *)(kt_slot(&w, 63) + kt_psz + 16),
                     0x1234);
    kt_stamp_frames(&w, 2, 1);

    /* write through a slot, read it back from the shm file, and back */
    uint64_t v = UINT64_C(0xfeedface00000001);
    *(volatile uint64_t *)(kt_slot(&w, 7) + kt_psz + 24) = v;
    uint64_t got = 0;
    off_t foff = (off_t)((30 - 3 * 2) * w.slot_bytes + kt_psz + 24);
    assert_int_equal(pread(w.shm, &got, sizeof got, foff), sizeof got);
    assert_true(got == v);
    v++;
    assert_int_equal(pwrite(w.shm, &v, sizeof v, foff), sizeof v);
    assert_true(*(volatile uint64_t *)(kt_slot(&w, 7) + kt_psz + 24) == v);

    /* unmap: a touch raises SIGSEGV at the touched address */
    kt_do(&w, BPWIN_OP_UNMAP, 7, 0, 0);
    kt_expect_trap(kt_slot(&w, 7) + kt_psz + 24, 0, SIGSEGV);
    kt_expect_trap(kt_slot(&w, 7), 1, SIGSEGV);
    if (kt_present(kt_slot(&w, 7)) >= 0)
        assert_int_equal(kt_present(kt_slot(&w, 7)), 0);
    kt_do(&w, BPWIN_OP_UNMAP, 7, 0, 0);     /* empty: a no-op */
    kt_do(&w, BPWIN_OP_UNMAP, 60, 0, 0);
    kt_stats(&w, &st);
    assert_int_equal(st.unmaps, 3);
    assert_true(st.traps >= 4);

    /* the device fd closed: the mapping lives on, lazy slots still fault */
    kt_map(&w, 20, 20, BPWIN_PROT_RW);
    close(w.dev);
    w.dev = -1;
    kt_assert_slot(&w, 20, 20);
    kt_assert_slot(&w, 31, 30 - 3 * 3);
    kt_expect_trap(kt_slot(&w, 7), 0, SIGSEGV);
    kt_win_close(&w);
}

static void test_noguard_prot(void **state)
{
    (void)state;
    kt_traps_on();
    struct kt_win w;
    kt_win_open(&w, 8, 1, 0, 8);
    struct bpwin_op o = kt_op(BPWIN_OP_MAP, 1, 1, BPWIN_PROT_NONE);
    uint32_t done = 9;
    assert_int_equal(kt_batch(w.dev, &o, 1, &done), -EOPNOTSUPP);
    assert_int_equal(done, 0);
    kt_map(&w, 1, 1, BPWIN_PROT_READ);      /* mapped as the mmap asked */
    assert_int_equal(kt_write(kt_slot(&w, 1) + 8, kt_word(1, 0, 1), NULL), 0);
    kt_assert_slot(&w, 1, 1);
    o = kt_op(BPWIN_OP_PROTECT, 1, 0, BPWIN_PROT_NONE);
    assert_int_equal(kt_batch(w.dev, &o, 1, &done), -EOPNOTSUPP);
    kt_do(&w, BPWIN_OP_PROTECT, 1, 0, BPWIN_PROT_READ);
    kt_assert_slot(&w, 1, 1);
    kt_win_close(&w);

    /* a read-only window (device opened O_RDONLY) */
    w.shm = kt_shm_new(4 * kt_psz);
    w.dev = open(BPWIN_DEVICE, O_RDONLY | O_CLOEXEC);
    assert_true(w.dev >= 0);
    assert_int_equal(kt_setup(w.dev, w.shm, 1, 4, 0), 0);
    assert_true(mmap(NULL, 4 * kt_psz, PROT_READ | PROT_WRITE, MAP_SHARED,
                     w.dev, 0) == MAP_FAILED);
    w.base = mmap(NULL, 4 * kt_psz, PROT_READ, MAP_SHARED, w.dev, 0);
    assert_true(w.base != MAP_FAILED);
    w.slot_pages = 1;
    w.slot_bytes = kt_psz;
    w.bytes = 4 * kt_psz;
    w.nslots = w.nframes = 4;
    kt_stamp_frames(&w, 0, 4);
    kt_map(&w, 2, 3, BPWIN_PROT_RW);
    kt_assert_slot(&w, 2, 3);
    kt_expect_trap(kt_slot(&w, 2), 1, SIGSEGV);
    kt_win_close(&w);
}

static void test_guard(void **state)
{
    (void)state;
    kt_traps_on();
    struct kt_win w;
    kt_win_open(&w, 16, 2, BPWIN_SETUP_GUARD, 8);
    char *s3 = kt_slot(&w, 3);
    char *s4 = kt_slot(&w, 4);
    uint64_t x = kt_word(5, 1, 3);

    /* READ: reads fine, writes trap (populated and lazy) */
    kt_map(&w, 3, 5, BPWIN_PROT_READ);
    kt_map(&w, 4, 6, BPWIN_PROT_READ | BPWIN_MAP_POPULATE);
    kt_assert_slot(&w, 3, 5);
    kt_assert_slot(&w, 4, 6);
    kt_expect_trap(s3 + kt_psz + 24, 1, SIGSEGV);
    kt_expect_trap(s4, 1, SIGSEGV);
    kt_map(&w, 5, 7, BPWIN_PROT_READ);
    kt_expect_trap(kt_slot(&w, 5), 1, SIGSEGV);   /* write as first touch */
    kt_assert_slot(&w, 3, 5);

    /* PROTECT RW: writes go through (to the frame) */
    kt_do(&w, BPWIN_OP_PROTECT, 3, 0, BPWIN_PROT_RW);
    assert_int_equal(kt_write(s3 + kt_psz + 24, x ^ 1, NULL), 0);
    uint64_t got = 0;
    assert_int_equal(pread(w.shm, &got, 8, (off_t)(5 * w.slot_bytes +
                                                   kt_psz + 24)), 8);
    assert_true(got == (x ^ 1));
    /* back to READ: the (now writable) PTE goes, writes trap again */
    kt_do(&w, BPWIN_OP_PROTECT, 3, 0, BPWIN_PROT_READ | BPWIN_MAP_POPULATE);
    kt_expect_trap(s3 + kt_psz + 24, 1, SIGSEGV);
    assert_true(*(volatile uint64_t *)(s3 + kt_psz + 24) == (x ^ 1));
    kt_do(&w, BPWIN_OP_PROTECT, 3, 0, BPWIN_PROT_RW);
    assert_int_equal(kt_write(s3 + kt_psz + 24, x, NULL), 0);
    kt_assert_slot(&w, 3, 5);

    /* PROT_NONE: reads trap too */
    kt_do(&w, BPWIN_OP_PROTECT, 3, 0, BPWIN_PROT_NONE);
    kt_expect_trap(s3, 0, SIGSEGV);
    kt_expect_trap(s3 + kt_psz, 1, SIGSEGV);
    kt_map(&w, 6, 1, BPWIN_PROT_NONE | BPWIN_MAP_POPULATE);
    kt_expect_trap(kt_slot(&w, 6), 0, SIGSEGV);
    if (kt_present(kt_slot(&w, 6)) >= 0)
        assert_int_equal(kt_present(kt_slot(&w, 6)), 0);
    kt_do(&w, BPWIN_OP_PROTECT, 3, 0, BPWIN_PROT_READ);
    kt_assert_slot(&w, 3, 5);

    /* MAP RW over a READ slot: writable, shows the new frame */
    kt_map(&w, 4, 2, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);
    assert_int_equal(kt_write(s4 + 8, kt_word(2, 0, 1), NULL), 0);
    kt_assert_slot(&w, 4, 2);

    /* PROTECT of an empty slot; WRITE without READ */
    struct bpwin_op o = kt_op(BPWIN_OP_PROTECT, 9, 0, BPWIN_PROT_RW);
    uint32_t done = 7;
    assert_int_equal(kt_batch(w.dev, &o, 1, &done), -ENOENT);
    assert_int_equal(done, 0);
    o = kt_op(BPWIN_OP_MAP, 9, 1, BPWIN_PROT_WRITE);
    assert_int_equal(kt_batch(w.dev, &o, 1, &done), -EINVAL);

    struct bpwin_stats st;
    kt_stats(&w, &st);
    assert_true(st.traps >= 7);
    assert_int_equal(st.protects, 5);
    kt_win_close(&w);
}

/* 16-page slots, and a second window over the same shm file. */
static void test_big_slots(void **state)
{
    (void)state;
    kt_traps_on();
    struct kt_win a, b;
    kt_win_open(&a, 8, 16, BPWIN_SETUP_GUARD, 4);
    memset(&b, 0, sizeof b);
    b = a;
    b.flags = 0;
    b.shm = dup(a.shm);
    assert_true(b.shm >= 0);
    b.dev = kt_dev_open();
    assert_int_equal(kt_setup(b.dev, b.shm, 16, 8, 0), 0);
    b.base = mmap(NULL, b.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, b.dev, 0);
    assert_true(b.base != MAP_FAILED);

    kt_map(&a, 7, 3, BPWIN_PROT_READ | BPWIN_MAP_POPULATE);
    kt_map(&a, 0, 1, BPWIN_PROT_RW);
    kt_map(&b, 2, 3, BPWIN_PROT_RW);
    kt_assert_slot(&a, 7, 3);
    kt_assert_slot(&a, 0, 1);
    kt_assert_slot(&b, 2, 3);
    char *last = kt_slot(&a, 7) + 15 * kt_psz;
    kt_expect_trap(last + 64, 1, SIGSEGV);          /* READ in a */
    uint64_t v = kt_word(3, 15, 8) ^ 0xff;
    assert_int_equal(kt_write(kt_slot(&b, 2) + 15 * kt_psz + 64, v, NULL), 0);
    assert_true(*(volatile uint64_t *)(last + 64) == v);   /* one page */
    assert_int_equal(kt_write(kt_slot(&b, 2) + 15 * kt_psz + 64,
                              kt_word(3, 15, 8), NULL), 0);
    kt_assert_slot(&a, 7, 3);

    /* remap and unmap cover the whole 16-page slot */
    kt_map(&a, 7, 2, BPWIN_PROT_RW);
    kt_assert_slot(&a, 7, 2);
    kt_do(&a, BPWIN_OP_UNMAP, 7, 0, 0);
    kt_expect_trap(last, 0, SIGSEGV);
    kt_expect_trap(kt_slot(&a, 7), 1, SIGSEGV);
    kt_assert_slot(&b, 2, 3);                       /* b unaffected */
    kt_win_close(&b);
    kt_win_close(&a);
}

/* ---- bad batches --------------------------------------------------------- */

/* ops[0..k) valid MAPs of slots 0..k-1, ops[k] = bad, ops[k+1] a MAP of
 * slot k+1: the batch fails with err, done == k, slot k+1 untouched. */
static void kt_bad_at(struct kt_win *w, uint32_t k, struct bpwin_op bad,
                      int err)
{
    struct bpwin_op ops[8];
    assert_true(k + 2 <= 8);
    for (uint32_t i = 0; i < 8; i++)
        kt_do(w, BPWIN_OP_UNMAP, i, 0, 0);
    for (uint32_t i = 0; i < k; i++)
        ops[i] = kt_op(BPWIN_OP_MAP, i, i, BPWIN_PROT_RW);
    ops[k] = bad;
    ops[k + 1] = kt_op(BPWIN_OP_MAP, k + 1, 1, BPWIN_PROT_RW);
    uint32_t done = UINT32_MAX;
    int r = kt_batch(w->dev, ops, k + 2, &done);
    if (r != err || done != k) {
        print_error("bad op %u at %u: %d (%s), done %u; wanted %d, done %u\n",
                    bad.op, k, r, strerror(-r), done, err, k);
        fail();
    }
    for (uint32_t i = 0; i < k; i++)
        kt_assert_slot(w, i, i);
    kt_expect_trap(kt_slot(w, k + 1), 0, SIGSEGV);
}

static void test_batch_bad(void **state)
{
    (void)state;
    kt_traps_on();
    struct kt_win w;
    kt_win_open(&w, 16, 1, BPWIN_SETUP_GUARD, 16);

    kt_bad_at(&w, 0, kt_op(BPWIN_OP_MAP, 16, 0, BPWIN_PROT_RW), -EINVAL);
    kt_bad_at(&w, 2, kt_op(BPWIN_OP_MAP, UINT64_MAX, 0, BPWIN_PROT_RW),
              -EINVAL);
    kt_bad_at(&w, 3, kt_op(BPWIN_OP_MAP, 4, 16, BPWIN_PROT_RW), -EINVAL);
    kt_bad_at(&w, 1, kt_op(BPWIN_OP_MAP, 4, UINT64_MAX, BPWIN_PROT_RW),
              -EINVAL);
    kt_bad_at(&w, 2, kt_op(0, 4, 0, 0), -EINVAL);
    kt_bad_at(&w, 2, kt_op(4, 4, 0, 0), -EINVAL);
    kt_bad_at(&w, 1, kt_op(BPWIN_OP_MAP, 4, 1, BPWIN_PROT_RW | 1u << 4),
              -EINVAL);
    kt_bad_at(&w, 1, kt_op(BPWIN_OP_MAP, 4, 1, 1u << 31), -EINVAL);
    kt_bad_at(&w, 1, kt_op(BPWIN_OP_MAP, 4, 1, BPWIN_PROT_WRITE), -EINVAL);
    kt_bad_at(&w, 2, kt_op(BPWIN_OP_UNMAP, 4, 1, 0), -EINVAL);
    kt_bad_at(&w, 2, kt_op(BPWIN_OP_UNMAP, 4, 0, BPWIN_PROT_RW), -EINVAL);
    kt_bad_at(&w, 2, kt_op(BPWIN_OP_PROTECT, 4, 1, BPWIN_PROT_RW), -EINVAL);
    kt_bad_at(&w, 2, kt_op(BPWIN_OP_PROTECT, 4, 0, 1u << 9), -EINVAL);
    kt_bad_at(&w, 2, kt_op(BPWIN_OP_PROTECT, 5, 0, BPWIN_PROT_READ),
              -ENOENT);

    /* count 0, count > max_batch, bad pointers */
    struct bpwin_op o = kt_op(BPWIN_OP_MAP, 9, 9, BPWIN_PROT_RW);
    uint32_t done = 5;
    assert_int_equal(kt_batch(w.dev, &o, 0, &done), -EINVAL);
    assert_int_equal(done, 0);
    assert_int_equal(kt_batch(w.dev, &o, kt_info.max_batch + 1, &done),
                     -EINVAL);
    assert_int_equal(done, 0);
    assert_int_equal(kt_batch(w.dev, NULL, 1, &done), -EFAULT);
    assert_int_equal(done, 0);
    assert_int_equal(kt_batch(w.dev, (void *)(uintptr_t)-4096, 1, &done),
                     -EFAULT);
    assert_int_equal(ioctl(w.dev, BPWIN_IOC_BATCH, NULL), -1);
    assert_int_equal(errno, EFAULT);

    /* 300 readable ops, then an unreadable page: done == 300 exactly,
     * across the module's internal chunks (x86 copy_from_user() copies up
     * to the faulting byte) */
    size_t per_page = kt_psz / sizeof(struct bpwin_op);
    size_t npages = (300 + per_page - 1) / per_page + 1;
    char *arr = mmap(NULL, npages * kt_psz, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(arr != MAP_FAILED);
    char *end = arr + (npages - 1) * kt_psz;
    assert_int_equal(mprotect(end, kt_psz, PROT_NONE), 0);
    struct bpwin_op *ops = (struct bpwin_op *)end - 300;
    for (size_t i = 0; i < 300; i++)
        ops[i] = kt_op(BPWIN_OP_MAP, i % 16, (i * 5) % 16, BPWIN_PROT_RW);
    done = 0;
    if (kt_info.max_batch >= 302) {
        assert_int_equal(kt_batch(w.dev, ops, 302, &done), -EFAULT);
        assert_int_equal(done, 300);
        for (uint64_t s = 0; s < 16; s++) {
            uint64_t last = 0;
            for (size_t i = 0; i < 300; i++)
                if (i % 16 == s)
                    last = (i * 5) % 16;
            kt_assert_slot(&w, s, last);
        }
    }
    munmap(arr, npages * kt_psz);

    /* the ops array inside the window itself (in a slot not yet faulted) */
    kt_map(&w, 15, 15, BPWIN_PROT_RW);
    struct bpwin_op *in = (struct bpwin_op *)kt_slot(&w, 15);
    in[0] = kt_op(BPWIN_OP_MAP, 14, 3, BPWIN_PROT_RW);
    in[1] = kt_op(BPWIN_OP_UNMAP, 13, 0, 0);
    kt_do(&w, BPWIN_OP_UNMAP, 15, 0, 0);
    kt_map(&w, 15, 15, BPWIN_PROT_RW);       /* lazy again: no PTE */
    assert_int_equal(kt_batch(w.dev, in, 2, &done), 0);
    assert_int_equal(done, 2);
    kt_assert_slot(&w, 14, 3);
    kt_stamp_frames(&w, 15, 1);
    kt_win_close(&w);
}

/* ---- statistics ---------------------------------------------------------- */

static void test_stats(void **state)
{
    (void)state;
    kt_traps_on();
    struct kt_win w;
    kt_win_open(&w, 32, 1, BPWIN_SETUP_GUARD, 16);
    struct bpwin_stats st;
    kt_stats(&w, &st);
    assert_int_equal(st.maps | st.unmaps | st.protects | st.faults |
                         st.populated | st.zaps | st.traps, 0);

    struct bpwin_op ops[16];
    uint32_t n = 0;
    for (uint64_t s = 3; s <= 5; s++)
        ops[n++] = kt_op(BPWIN_OP_MAP, s, s, BPWIN_PROT_RW |
                         BPWIN_MAP_POPULATE);
    ops[n++] = kt_op(BPWIN_OP_MAP, 10, 1, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);
    ops[n++] = kt_op(BPWIN_OP_MAP, 12, 2, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);
    ops[n++] = kt_op(BPWIN_OP_MAP, 20, 9, BPWIN_PROT_READ);
    assert_int_equal(kt_batch(w.dev, ops, n, NULL), 0);
    kt_stats(&w, &st);
    assert_int_equal(st.maps, 6);
    assert_int_equal(st.populated, 5);
    assert_int_equal(st.zaps, 0);       /* nothing was mapped before */

    /* unmapping 5, 3, 4 (one run) and 10, 12 (two): three zaps */
    n = 0;
    ops[n++] = kt_op(BPWIN_OP_UNMAP, 5, 0, 0);
    ops[n++] = kt_op(BPWIN_OP_UNMAP, 10, 0, 0);
    ops[n++] = kt_op(BPWIN_OP_UNMAP, 3, 0, 0);
    ops[n++] = kt_op(BPWIN_OP_UNMAP, 12, 0, 0);
    ops[n++] = kt_op(BPWIN_OP_UNMAP, 4, 0, 0);
    ops[n++] = kt_op(BPWIN_OP_UNMAP, 30, 0, 0);  /* empty: nothing to zap */
    assert_int_equal(kt_batch(w.dev, ops, n, NULL), 0);
    kt_stats(&w, &st);
    assert_int_equal(st.unmaps, 6);
    assert_int_equal(st.zaps, 3);

    /* a fault, a trap, a protect that adds a permission (no zap) and one
     * that removes it (one zap) */
    kt_assert_slot(&w, 20, 9);
    kt_stats(&w, &st);
    assert_int_equal(st.faults, 1);
    kt_expect_trap(kt_slot(&w, 20), 1, SIGSEGV);
    kt_expect_trap(kt_slot(&w, 21), 0, SIGSEGV);
    kt_do(&w, BPWIN_OP_PROTECT, 20, 0, BPWIN_PROT_RW);
    kt_stats(&w, &st);
    assert_int_equal(st.traps, 2);
    assert_int_equal(st.zaps, 3);
    assert_int_equal(st.protects, 1);
    kt_do(&w, BPWIN_OP_PROTECT, 20, 0, BPWIN_PROT_READ);
    kt_stats(&w, &st);
    assert_int_equal(st.zaps, 4);
    assert_int_equal(st.protects, 2);
    /* a MAP over a mapped slot zaps even for the same frame */
    kt_map(&w, 20, 9, BPWIN_PROT_READ);
    kt_stats(&w, &st);
    assert_int_equal(st.zaps, 5);
    assert_int_equal(st.maps, 7);
    kt_win_close(&w);
}

/* ---- scale --------------------------------------------------------------- */

/* Lines of /proc/self/maps naming the bpwin device; *start, *end: the
 * last one. */
static int kt_maps_lines(uintptr_t *start, uintptr_t *end)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "bpwin") == NULL)
            continue;
        unsigned long a = 0, b = 0;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2) {
            *start = a;
            *end = b;
        }
        n++;
    }
    fclose(f);
    return n;
}

static void test_many_slots(void **state)
{
    (void)state;
    kt_traps_on();
    const uint64_t nslots = UINT64_C(1) << 18; /* 1 GiB: fits 32-bit too */
    const uint64_t nmap = 70000;      /* > vm.max_map_count's 65530 */
    const uint64_t nframes = 4096;
    if (kt_info.max_slots < nslots)
        skip();
    struct kt_win w;
    kt_win_open(&w, nslots, 1, 0, nframes);
    uint32_t chunk = kt_info.max_batch < 4096 ? kt_info.max_batch : 4096;
    struct bpwin_op *ops = calloc(chunk, sizeof *ops);
    assert_non_null(ops);
    uint64_t k = 0;
    for (unsigned b = 0; k < nmap; b++) {
        uint32_t n = 0;
        for (; n < chunk && k < nmap; n++, k++)
            ops[n] = kt_op(BPWIN_OP_MAP, (k * 7919 + 13) % nslots,
                           k % nframes,
                           BPWIN_PROT_RW | (b % 2 ? BPWIN_MAP_POPULATE : 0));
        uint32_t done = 0;
        assert_int_equal(kt_batch(w.dev, ops, n, &done), 0);
        assert_int_equal(done, n);
    }
    uintptr_t a = 0, e = 0;
    assert_int_equal(kt_maps_lines(&a, &e), 1);
    assert_true(a == (uintptr_t)w.base && e == (uintptr_t)w.base + w.bytes);

    uint64_t bad = 0;
    for (k = 0; k < nmap; k++) {
        uint64_t v = 0;
        const char *p = kt_slot(&w, (k * 7919 + 13) % nslots);
        if (kt_read(p, &v, NULL) != 0 || v != kt_word(k % nframes, 0, 0) ||
            *(const volatile uint64_t *)(p + kt_psz - 8) !=
                kt_word(k % nframes, 0, kt_psz / 8 - 1)) {
            if (bad++ < 5)
                print_error("mapping %" PRIu64 ": wrong contents\n", k);
        }
    }
    assert_int_equal(bad, 0);
    struct bpwin_stats st;
    kt_stats(&w, &st);
    assert_int_equal(st.maps, nmap);
    assert_int_equal(st.populated + st.faults, nmap);
    assert_int_equal(kt_maps_lines(&a, &e), 1);

    /* and all away again */
    for (k = 0; k < nmap;) {
        uint32_t n = 0;
        for (; n < chunk && k < nmap; n++, k++)
            ops[n] = kt_op(BPWIN_OP_UNMAP, (k * 7919 + 13) % nslots, 0, 0);
        assert_int_equal(kt_batch(w.dev, ops, n, NULL), 0);
    }
    kt_expect_trap(kt_slot(&w, 13), 0, SIGSEGV);
    free(ops);
    kt_win_close(&w);
}

/* ---- truncation ---------------------------------------------------------- */

/* Truncation and hole punch of frames the window's slots map, once the
 * window holds no PTE of them (as after UNMAP or MADV_DONTNEED): faults
 * past EOF get SIGBUS, MAP past EOF is refused, a regrown or punched
 * frame reads zeros. */
static void kt_truncate_case(uint32_t flags)
{
    struct kt_win w;
    kt_win_open(&w, 16, 2, flags, 8);
    for (uint64_t s = 0; s < 4; s++)
        kt_map(&w, s, s, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);
    for (uint64_t s = 4; s < 8; s++)
        kt_map(&w, s, s, BPWIN_PROT_RW);
    for (uint64_t s = 0; s < 8; s++)
        kt_assert_slot(&w, s, s);
    /* the PTEs go, the slot table stays */
    assert_int_equal(madvise(w.base, w.bytes, MADV_DONTNEED), 0);
    for (uint64_t s = 0; s < 8; s++)
        if (kt_present(kt_slot(&w, s)) >= 0)
            assert_int_equal(kt_present(kt_slot(&w, s)), 0);

    assert_int_equal(ftruncate(w.shm, 0), 0);
    for (uint64_t s = 0; s < 8; s++)
        kt_expect_trap(kt_slot(&w, s) + (s % 2) * kt_psz, (int)(s % 3 == 0),
                       SIGBUS);
    struct bpwin_op o = kt_op(BPWIN_OP_MAP, 9, 0, BPWIN_PROT_RW);
    assert_int_equal(kt_batch(w.dev, &o, 1, NULL), -EINVAL);
    o.flags |= BPWIN_MAP_POPULATE;
    assert_int_equal(kt_batch(w.dev, &o, 1, NULL), -EINVAL);

    /* grown again: the slots fault in the new (zero) pages */
    assert_int_equal(ftruncate(w.shm, (off_t)(8 * w.slot_bytes)), 0);
    uint64_t v = 1;
    assert_int_equal(kt_read(kt_slot(&w, 4), &v, NULL), 0);
    assert_true(v == 0);
    kt_stamp_frame_as(&w, 3, 7);
    kt_assert_slot(&w, 3, 7);
    kt_stamp_frames(&w, 0, 8);
    kt_assert_slot(&w, 3, 3);

    /* a hole punched in a frame no PTE maps: the slot reads zeros */
    kt_map(&w, 6, 6, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);
    kt_assert_slot(&w, 6, 6);
    kt_do(&w, BPWIN_OP_UNMAP, 6, 0, 0);
    assert_int_equal(fallocate(w.shm, FALLOC_FL_PUNCH_HOLE |
                                   FALLOC_FL_KEEP_SIZE,
                               (off_t)(6 * w.slot_bytes),
                               (off_t)w.slot_bytes), 0);
    kt_map(&w, 6, 6, BPWIN_PROT_RW);
    assert_int_equal(kt_read(kt_slot(&w, 6) + kt_psz, &v, NULL), 0);
    assert_true(v == 0);
    kt_win_close(&w);
}

static void test_truncate(void **state)
{
    (void)state;
    kt_traps_on();
    kt_truncate_case(0);
    kt_truncate_case(BPWIN_SETUP_GUARD);
}

/* Truncation of pages a window's PTEs map right now: a misuse the module
 * cannot refuse.  Memory-safe (the slots keep reading the orphaned pages,
 * faults past EOF get SIGBUS, a GUARD window's first write to an orphaned
 * page gets SIGBUS), but the kernel logs "BUG: Bad page cache" and taints
 * itself (a CONFIG_DEBUG_VM kernel stops on VM_BUG_ON), so only run when
 * BPWIN_TEST_TRUNCATE_MAPPED=1. */
static void kt_truncate_mapped_case(uint32_t flags)
{
    struct kt_win w;
    kt_win_open(&w, 16, 2, flags, 8);
    for (uint64_t s = 0; s < 4; s++)
        kt_map(&w, s, s, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);
    for (uint64_t s = 4; s < 8; s++)
        kt_map(&w, s, s, BPWIN_PROT_RW);
    kt_assert_slot(&w, 1, 1);              /* and make it writable */
    assert_int_equal(kt_write(kt_slot(&w, 1) + 8, kt_word(1, 0, 1), NULL), 0);

    assert_int_equal(ftruncate(w.shm, 0), 0);
    for (uint64_t s = 0; s < 4; s++)
        kt_assert_slot(&w, s, s);
    kt_expect_trap(kt_slot(&w, 4), 0, SIGBUS);
    kt_expect_trap(kt_slot(&w, 5) + kt_psz, 1, SIGBUS);
    if (flags & BPWIN_SETUP_GUARD)
        kt_expect_trap(kt_slot(&w, 2) + 8, 1, SIGBUS);
    else
        assert_int_equal(kt_write(kt_slot(&w, 2) + 8, 1, NULL), 0);
    assert_int_equal(kt_write(kt_slot(&w, 1) + 8, kt_word(1, 0, 1), NULL), 0);

    /* regrown: a remap (even of the same frame) shows the file's pages */
    assert_int_equal(ftruncate(w.shm, (off_t)(8 * w.slot_bytes)), 0);
    kt_assert_slot(&w, 3, 3);
    kt_stamp_frame_as(&w, 3, 7);
    kt_map(&w, 3, 3, BPWIN_PROT_RW);
    kt_assert_slot(&w, 3, 7);

    /* a hole punched under a populated slot: it keeps the old page */
    kt_stamp_frames(&w, 6, 1);
    kt_map(&w, 6, 6, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);
    assert_int_equal(fallocate(w.shm, FALLOC_FL_PUNCH_HOLE |
                                   FALLOC_FL_KEEP_SIZE,
                               (off_t)(6 * w.slot_bytes),
                               (off_t)w.slot_bytes), 0);
    kt_assert_slot(&w, 6, 6);
    kt_win_close(&w);
}

static void test_truncate_mapped(void **state)
{
    (void)state;
    const char *e = getenv("BPWIN_TEST_TRUNCATE_MAPPED");
    if (e == NULL || strcmp(e, "1") != 0) {
        print_message("SKIP: truncating pages a window maps logs \"BUG: Bad "
                      "page cache\" and taints the kernel; "
                      "BPWIN_TEST_TRUNCATE_MAPPED=1 runs it\n");
        skip();
    }
    kt_traps_on();
    kt_truncate_mapped_case(0);
    kt_truncate_mapped_case(BPWIN_SETUP_GUARD);
}

/* ---- races --------------------------------------------------------------- */

struct kt_racer {
    struct kt_win *w;
    atomic_int *stop;
    uint64_t seed;
    uint64_t slots;     /* touch/remap slots [0, slots) */
    atomic_long ok;     /* batches that succeeded / touches done */
    int err;            /* the error that ended the loop */
    long bad;           /* wrong contents seen */
    int guard;          /* GUARD window: random protections */
    int writes;         /* the toucher also writes each page's last word */
};

static void *kt_batcher(void *arg)
{
    struct kt_racer *r = arg;
    struct bpwin_op ops[16];
    while (!atomic_load(r->stop)) {
        uint32_t n = 1 + (uint32_t)(kt_rand(&r->seed) % 16);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t x = kt_rand(&r->seed);
            uint64_t slot = x % r->slots;
            uint64_t frame = (x >> 32) % r->w->nframes;
            uint32_t pop = (x >> 20) % 3 == 0 ? BPWIN_MAP_POPULATE : 0;
            uint32_t prot = BPWIN_PROT_RW;
            if (r->guard) {
                uint32_t p = (x >> 24) % 4;
                prot = p == 0 ? BPWIN_PROT_NONE
                              : p == 1 ? BPWIN_PROT_READ : BPWIN_PROT_RW;
            }
            switch ((x >> 16) % 8) {
            case 0:
                ops[i] = kt_op(BPWIN_OP_UNMAP, slot, 0, 0);
                break;
            case 1:
                ops[i] = kt_op(BPWIN_OP_PROTECT, slot, 0, prot | pop);
                break;
            default:
                ops[i] = kt_op(BPWIN_OP_MAP, slot, frame, prot | pop);
                break;
            }
        }
        int e = kt_batch(r->w->dev, ops, n, NULL);
        if (e == -ENOENT)
            continue;   /* PROTECT of a slot empty at the time */
        if (e != 0) {
            r->err = e;
            break;
        }
        atomic_fetch_add(&r->ok, 1);
    }
    return NULL;
}

/* Read word 0 of each page of random slots (a valid stamp of the right
 * page for some frame, or a trap), write the last word of a page. */
static void *kt_toucher(void *arg)
{
    struct kt_racer *r = arg;
    struct kt_win *w = r->w;
    while (!atomic_load(r->stop)) {
        uint64_t x = kt_rand(&r->seed);
        uint64_t slot = x % r->slots;
        uint64_t p = (x >> 32) % w->slot_pages;
        char *pg = kt_slot(w, slot) + p * kt_psz;
        uint64_t v = 0;
        if (kt_read(pg, &v, NULL) == 0) {
            uint64_t f = (v >> 16) & 0xffffffff;
            if (v >> 48 != KT_TAG || (v & 0xffff) != p || f >= w->nframes)
                r->bad++;
        }
        if (r->writes && (x >> 40) % 4 == 0)
            kt_write(pg + kt_psz - 8, x, NULL);
        atomic_fetch_add(&r->ok, 1);
    }
    return NULL;
}

static void test_munmap_race(void **state)
{
    (void)state;
    kt_traps_on();
    for (int round = 0; round < 4; round++) {
        struct kt_win w;
        kt_win_open(&w, 256, 1, round % 2 ? BPWIN_SETUP_GUARD : 0, 64);
        atomic_int stop = 0;
        struct kt_racer r[3];
        pthread_t t[3];
        for (int i = 0; i < 3; i++) {
            r[i] = (struct kt_racer){.w = &w, .stop = &stop,
                                     .seed = 0x1234567ull * (i + 1) + round,
                                     .slots = 256,
                                     .guard = round % 2};
            assert_int_equal(pthread_create(&t[i], NULL,
                                             i < 2 ? kt_batcher : kt_toucher,
                                             &r[i]), 0);
        }
        double t0 = kt_now();
        while ((atomic_load(&r[0].ok) < 20 || atomic_load(&r[1].ok) < 20) &&
               kt_now() - t0 < 10)
            usleep(1000);
        usleep(20000);
        assert_int_equal(munmap(w.base, w.bytes), 0);
        /* the batchers end on -ENXIO; the toucher now hits no mapping */
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_join(t[i], NULL), 0);
        atomic_store(&stop, 1);
        assert_int_equal(pthread_join(t[2], NULL), 0);
        w.base = NULL;  /* unmapped already */
        for (int i = 0; i < 2; i++) {
            if (r[i].err != -ENXIO)
                print_error("batcher %d: %d (%s) after %ld batches\n", i,
                            r[i].err, strerror(-r[i].err),
                            atomic_load(&r[i].ok));
            assert_int_equal(r[i].err, -ENXIO);
        }
        assert_int_equal(r[2].bad, 0);
        kt_win_close(&w);
    }
}

static void test_exit_race(void **state)
{
    (void)state;
    kt_traps_on();
    for (int round = 0; round < 6; round++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct kt_win w;
            kt_win_open(&w, 128, 2, round % 2 ? BPWIN_SETUP_GUARD : 0, 32);
            atomic_int stop = 0;
            static struct kt_racer r[3];
            pthread_t t;
            for (int i = 0; i < 3; i++) {
                r[i] = (struct kt_racer){.w = &w, .stop = &stop,
                                         .seed = 77ull * (i + 1) + round,
                                         .slots = 128, .guard = round % 2};
                if (pthread_create(&t, NULL, i < 2 ? kt_batcher : kt_toucher,
                                   &r[i]) != 0)
                    _exit(2);
            }
            usleep(20000 + 10000 * round);
            _exit(r[2].bad == 0 ? 0 : 3);   /* threads still in BATCH */
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

/* ---- fork ---------------------------------------------------------------- */

static void test_fork(void **state)
{
    (void)state;
    kt_traps_on();
    struct kt_win w;
    kt_win_open(&w, 8, 1, 0, 8);
    kt_map(&w, 1, 1, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);

    for (int dofork = 0; dofork < 2; dofork++) {
        if (dofork)
            assert_int_equal(madvise(w.base, w.bytes, MADV_DOFORK), 0);
        /* slot 2: mapped, never touched, so no PTE to copy */
        kt_map(&w, 2, 2 + dofork, BPWIN_PROT_RW);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int code = 0;
            void *at = NULL;
            uint64_t v = 0;
            int sig = kt_read(kt_slot(&w, 1), &v, &at);
            if (!dofork && (sig != SIGSEGV || at != kt_slot(&w, 1)))
                code |= 1;      /* no window in the child */
            if (dofork && sig == 0 && v != kt_word(1, 0, 0))
                code |= 1;      /* a copied PTE, if any, is the frame's */
            sig = kt_read(kt_slot(&w, 2), &v, &at);
            if (sig != SIGSEGV || at != kt_slot(&w, 2))
                code |= 2;      /* nothing faults in for the child */
            struct bpwin_op o = kt_op(BPWIN_OP_MAP, 3, 3, BPWIN_PROT_RW);
            if (kt_batch(w.dev, &o, 1, NULL) != -EPERM)
                code |= 4;
            struct bpwin_stats st;
            if (ioctl(w.dev, BPWIN_IOC_STATS, &st) != 0)
                code |= 8;
            _exit(code);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
            print_error("child (MADV_DOFORK %d): code %d\n", dofork,
                        WEXITSTATUS(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* the parent's window is unharmed */
        kt_assert_slot(&w, 1, 1);
        kt_assert_slot(&w, 2, 2 + dofork);
        kt_map(&w, 3, 4, BPWIN_PROT_RW);
        kt_assert_slot(&w, 3, 4);
        kt_do(&w, BPWIN_OP_UNMAP, 3, 0, 0);
    }
    kt_win_close(&w);
}

/* ---- O_DIRECT ------------------------------------------------------------ */

/* A data file of n pages in the temp dir holding frame stamps of frames
 * base..base+n-1 (slot_pages 1), opened O_DIRECT; -1 (and a printed
 * reason) when the file system refuses O_DIRECT. */
static int kt_dio_file(const char *name, uint64_t base, uint64_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", kt_tmpdir(), name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    void *buf = malloc(kt_psz);
    assert_non_null(buf);
    for (uint64_t i = 0; i < n; i++) {
        kt_fill(buf, base + i, 1);
        assert_int_equal(pwrite(fd, buf, kt_psz, (off_t)(i * kt_psz)),
                         (ssize_t)kt_psz);
    }
    free(buf);
    assert_int_equal(fsync(fd), 0);
    close(fd);
    fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        print_message("SKIP O_DIRECT: %s refuses O_DIRECT (%s)\n", kt_tmpdir(),
                      strerror(errno));
        unlink(path);
        return -1;
    }
    unlink(path);   /* the fd keeps it */
    return fd;
}

static void test_odirect(void **state)
{
    (void)state;
    kt_traps_on();
    int fd = kt_dio_file("dio", 100, 4);
    if (fd < 0)
        skip();
    for (int guard = 0; guard < 2; guard++) {
        struct kt_win w;
        kt_win_open(&w, 16, 1, guard ? BPWIN_SETUP_GUARD : 0, 8);
        void *got = malloc(kt_psz);
        assert_non_null(got);

        /* pread into a lazy and a populated slot lands in their frames */
        kt_map(&w, 3, 5, BPWIN_PROT_RW);
        kt_map(&w, 4, 6, BPWIN_PROT_RW | BPWIN_MAP_POPULATE);
        ssize_t r = pread(fd, kt_slot(&w, 3), kt_psz, 0);
        if (r < 0 && errno == EINVAL) {
            print_message("SKIP O_DIRECT: pread EINVAL on %s\n", kt_tmpdir());
            free(got);
            kt_win_close(&w);
            close(fd);
            skip();
        }
        assert_int_equal(r, (ssize_t)kt_psz);
        assert_int_equal(pread(fd, kt_slot(&w, 4), kt_psz,
                               (off_t)(2 * kt_psz)), (ssize_t)kt_psz);
        assert_int_equal(pread(w.shm, got, kt_psz, (off_t)(5 * kt_psz)),
                         (ssize_t)kt_psz);
        assert_int_equal(kt_mismatch(got, 100, 1, 0), -1);
        assert_int_equal(pread(w.shm, got, kt_psz, (off_t)(6 * kt_psz)),
                         (ssize_t)kt_psz);
        assert_int_equal(kt_mismatch(got, 102, 1, 0), -1);

        /* pwrite from a slot (frame 1) writes the frame's bytes */
        kt_map(&w, 7, 1, BPWIN_PROT_READ | BPWIN_MAP_POPULATE);
        assert_int_equal(pwrite(fd, kt_slot(&w, 7), kt_psz,
                                (off_t)(3 * kt_psz)), (ssize_t)kt_psz);
        void *al = NULL;
        assert_int_equal(posix_memalign(&al, kt_psz, kt_psz), 0);
        assert_int_equal(pread(fd, al, kt_psz, (off_t)(3 * kt_psz)),
                         (ssize_t)kt_psz);
        assert_int_equal(kt_mismatch(al, 1, 1, 0), -1);
        kt_fill(al, 103, 1);
        assert_int_equal(pwrite(fd, al, kt_psz, (off_t)(3 * kt_psz)),
                         (ssize_t)kt_psz);
        free(al);

        if (guard) {
            /* READ slot as a read destination, PROT_NONE either way */
            errno = 0;
            assert_int_equal(pread(fd, kt_slot(&w, 7), kt_psz, 0), -1);
            assert_int_equal(errno, EFAULT);
            kt_map(&w, 8, 2, BPWIN_PROT_NONE);
            errno = 0;
            assert_int_equal(pwrite(fd, kt_slot(&w, 8), kt_psz, 0), -1);
            assert_int_equal(errno, EFAULT);
            assert_int_equal(pread(fd, kt_slot(&w, 8), kt_psz, 0), -1);
            assert_int_equal(errno, EFAULT);
            kt_assert_slot(&w, 7, 1);
        }
        /* an empty slot */
        errno = 0;
        assert_int_equal(pread(fd, kt_slot(&w, 9), kt_psz, 0), -1);
        assert_int_equal(errno, EFAULT);
        free(got);
        kt_win_close(&w);
    }
    close(fd);
}

struct kt_dio {
    struct kt_win *w;
    atomic_int *stop;
    int fd;
    long n;
    int err;
};

static void *kt_dio_reader(void *arg)
{
    struct kt_dio *d = arg;
    while (!atomic_load(d->stop)) {
        ssize_t r = pread(d->fd, kt_slot(d->w, 2), kt_psz, 0);
        if (r != (ssize_t)kt_psz) {
            d->err = r < 0 ? errno : EIO;
            break;
        }
        d->n++;
    }
    return NULL;
}

static void test_dio_race(void **state)
{
    (void)state;
    kt_traps_on();
    int fd = kt_dio_file("dio-race", 500, 1);
    if (fd < 0)
        skip();
    struct kt_win w;
    kt_win_open(&w, 8, 1, 0, 8);
    kt_map(&w, 2, 0, BPWIN_PROT_RW);
    atomic_int stop = 0;
    struct kt_dio d = {.w = &w, .stop = &stop, .fd = fd};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, kt_dio_reader, &d), 0);
    double t0 = kt_now(), dur = kt_stress_seconds() / 2;
    uint64_t x = 99, remaps = 0;
    while (kt_now() - t0 < dur) {
        /* frames 0 and 1 take turns under slot 2 */
        kt_map(&w, 2, remaps % 2, BPWIN_PROT_RW |
               (kt_rand(&x) % 2 ? BPWIN_MAP_POPULATE : 0));
        remaps++;
    }
    atomic_store(&stop, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(fd);
    if (d.err == EINVAL) {
        kt_win_close(&w);
        skip();
    }
    assert_int_equal(d.err, 0);
    print_message("dio_race: %ld O_DIRECT reads, %" PRIu64 " remaps\n", d.n,
                  remaps);
    /* frames 0 and 1 hold their stamp or the file's page, nothing torn;
     * the other frames were never touched */
    void *buf = malloc(kt_psz);
    assert_non_null(buf);
    for (uint64_t f = 0; f < 8; f++) {
        assert_int_equal(pread(w.shm, buf, kt_psz, (off_t)(f * kt_psz)),
                         (ssize_t)kt_psz);
        int ok = kt_mismatch(buf, f, 1, 0) < 0 ||
                 (f < 2 && kt_mismatch(buf, 500, 1, 0) < 0);
        if (!ok)
            print_error("frame %" PRIu64 " is neither its stamp nor the "
                        "file's\n", f);
        assert_true(ok);
    }
    free(buf);
    kt_win_close(&w);
}

/* ---- stress -------------------------------------------------------------- */

/* word 0 of each page of each slot, or 0 for a trap */
static void kt_snapshot(const struct kt_win *w, uint64_t nslots, uint64_t *out)
{
    for (uint64_t s = 0; s < nslots; s++)
        for (uint32_t p = 0; p < w->slot_pages; p++) {
            uint64_t v = 0;
            if (kt_read(kt_slot(w, s) + p * kt_psz, &v, NULL) != 0)
                v = 0;
            out[s * w->slot_pages + p] = v;
        }
}

static void kt_stress_case(uint32_t flags)
{
    const uint64_t nslots = 64, hot = 16, nframes = 16;
    struct kt_win w;
    kt_win_open(&w, nslots, 2, flags, nframes);
    atomic_int stop = 0;
    struct kt_racer r[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (struct kt_racer){.w = &w, .stop = &stop,
                                 .seed = 0xabcdefull * (i + 3) + flags,
                                 .slots = hot,
                                 .guard = (flags & BPWIN_SETUP_GUARD) != 0,
                                 .writes = 1};
        assert_int_equal(pthread_create(&t[i], NULL,
                                        i < 2 ? kt_batcher : kt_toucher,
                                        &r[i]), 0);
    }
    double t0 = kt_now(), dur = kt_stress_seconds();
    while (kt_now() - t0 < dur)
        usleep(10000);
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    print_message("stress%s: %ld + %ld batches, %ld touches\n",
                  flags ? " (guard)" : "", atomic_load(&r[0].ok),
                  atomic_load(&r[1].ok), atomic_load(&r[2].ok));
    for (int i = 0; i < 2; i++) {
        if (r[i].err != 0)
            print_error("batcher %d: %s\n", i, strerror(-r[i].err));
        assert_int_equal(r[i].err, 0);
    }
    assert_int_equal(r[2].bad, 0);

    /* quiescent: the page tables agree with the slot table */
    size_t n = nslots * w.slot_pages;
    uint64_t *before = calloc(n, sizeof *before);
    uint64_t *after = calloc(n, sizeof *after);
    assert_non_null(before);
    assert_non_null(after);
    kt_snapshot(&w, nslots, before);
    assert_int_equal(madvise(w.base, w.bytes, MADV_DONTNEED), 0);
    kt_snapshot(&w, nslots, after);
    for (size_t i = 0; i < n; i++) {
        if (before[i] != after[i])
            print_error("slot %zu page %zu: %#" PRIx64 " before "
                        "MADV_DONTNEED, %#" PRIx64 " after\n",
                        i / w.slot_pages, i % w.slot_pages, before[i],
                        after[i]);
        assert_true(before[i] == after[i]);
    }
    free(before);
    free(after);
    /* no frame torn (each page's last word is the toucher's scratch) */
    void *buf = malloc(w.slot_bytes);
    assert_non_null(buf);
    for (uint64_t f = 0; f < nframes; f++) {
        assert_int_equal(pread(w.shm, buf, w.slot_bytes,
                               (off_t)(f * w.slot_bytes)),
                         (ssize_t)w.slot_bytes);
        assert_int_equal(kt_mismatch(buf, f, w.slot_pages, 1), -1);
    }
    free(buf);
    struct bpwin_stats st;
    kt_stats(&w, &st);
    assert_true(st.maps > 0 && st.zaps > 0);
    kt_win_close(&w);
}

static void test_stress(void **state)
{
    (void)state;
    kt_traps_on();
    kt_stress_case(0);
    kt_stress_case(BPWIN_SETUP_GUARD);
}

int main(int argc, char **argv)
{
    kt_owner = getpid();
    if (access(BPWIN_DEVICE, F_OK) != 0) {
        printf("SKIP: no /dev/bpwin: the bpwin module is not loaded "
               "(make test-kernel boots a kernel with it)\n");
        return KT_SKIP;
    }
    kt_psz = (size_t)sysconf(_SC_PAGESIZE);
    atexit(kt_cleanup);
    static const int fatal[] = {SIGABRT, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        signal(fatal[i], kt_on_fatal);
    int dev = open(BPWIN_DEVICE, O_RDWR | O_CLOEXEC);
    if (dev < 0 || ioctl(dev, BPWIN_IOC_INFO, &kt_info) != 0) {
        printf("FAIL: %s: %s\n", BPWIN_DEVICE, strerror(errno));
        return 1;
    }
    close(dev);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_setup_bad),
        cmocka_unit_test(test_mmap_bad),
        cmocka_unit_test(test_map_basic),
        cmocka_unit_test(test_noguard_prot),
        cmocka_unit_test(test_guard),
        cmocka_unit_test(test_big_slots),
        cmocka_unit_test(test_batch_bad),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_many_slots),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_truncate_mapped),
        cmocka_unit_test(test_munmap_race),
        cmocka_unit_test(test_exit_race),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_odirect),
        cmocka_unit_test(test_dio_race),
        cmocka_unit_test(test_stress),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);    /* e.g. "test_stress" */
    return cmocka_run_group_tests_name("kmod", tests, NULL, NULL);
}
