/*
 * bp_sys.h - the pool's system calls, all in one table, so that tests can
 * fail any of them (SQLite's test_syscall.c, PostgreSQL's injection points).
 *
 * Owns: the list of call kinds (BP__SYS_CALLS) and one wrapper per kind,
 * bp__sys_<name>(), that every call site in libbufpool/ uses instead of the
 * system call.  The arming state lives in bp_sys.c; tests arm it through
 * bp_testing.h (bp__test_fault_arm).
 *
 * Compiled in when BP_FAULTS is 1 (CMake BP_FAULT_INJECTION: on for Debug,
 * RelWithDebInfo and sanitizer builds, off for Release).  Then a wrapper
 * costs one relaxed load of the armed mask while nothing is armed.  With
 * BP_FAULTS 0 the check is the constant 0 and a wrapper is the call itself.
 *
 * Invariants:
 *  - An injected failure keeps the call's own convention: -1 and errno for
 *    libc calls, MAP_FAILED and errno for mmap, -errno for liburing, NULL
 *    for io_uring_get_probe_ring.  The real call is not made, so it has no
 *    side effect (a submit leaves its sqe in the ring, a wait leaves the
 *    cqe in the completion ring), except for completions: the I/O was done
 *    and only its result is replaced.
 *  - "Short" (err 0 when arming) halves a transfer in units of the file's
 *    direct-I/O alignment (pread/pwrite make the real call with fewer
 *    bytes; a completion reports fewer); a transfer of one unit cannot be
 *    shortened and goes through whole.  Calls that move no bytes fail with
 *    EIO instead.
 *  - Injected EINTR and EAGAIN on a data-file transfer look like a signal
 *    or a busy device before any byte moved; the pool retries them a
 *    bounded number of times.
 *  - Calls that release resources (close, munmap, unlink,
 *    io_uring_queue_exit) are not in the table: the pool cannot act on
 *    their failure, and a faked one would only leak in the test process.
 *    mprotect and madvise are not called by the pool; ftruncate only
 *    empties a shared cache that no live process holds before it is
 *    built again (a failure fails that bp_open).
 */
#ifndef BP_SYS_H
#define BP_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef BP_HAVE_URING
#include <liburing.h>
#endif

#ifndef BP_FAULTS
#define BP_FAULTS 0
#endif

/* X(ID, "name"): the call kinds, in the order of a pool's life. */
#define BP__SYS_CALLS(X)                                                       \
    X(OPEN, "open")                  /* data file, named shm file */          \
    X(FSTAT, "fstat")                /* data file, named shm file */          \
    X(STATX, "statx")                /* data file's direct-I/O alignment */   \
    X(MEMFD, "memfd_create")         /* anonymous shm file */                 \
    X(FALLOCATE, "fallocate")        /* every byte of the shm file */         \
    X(FCNTL, "fcntl")                /* F_ADD_SEALS on the memfd */           \
    X(MMAP, "mmap")                  /* metadata, window, I/O slot */         \
    X(REMAP, "mmap(MAP_FIXED)")      /* a slot or the I/O slot remapped */    \
    X(RFP, "remap_file_pages")       /* a slot remapped (rfp backend) */      \
    X(MLOCK, "mlock")                /* the window (bp_set_mlock) */          \
    X(URING_INIT, "io_uring_queue_init")                                       \
    X(URING_PROBE, "io_uring_get_probe_ring")                                  \
    X(URING_REGISTER, "io_uring_register")  /* files, buffers */              \
    X(URING_SUBMIT, "io_uring_submit")      /* also _submit_and_wait */       \
    X(URING_WAIT, "io_uring_wait_cqe")                                         \
    X(URING_READ, "io_uring read cqe")      /* completion of a page read */   \
    X(URING_WRITE, "io_uring write cqe")    /* of a page write */             \
    X(URING_FSYNC, "io_uring fsync cqe")    /* of a datasync */               \
    X(PREAD, "pread")                /* data file (sync engine) */            \
    X(PWRITE, "pwrite")              /* data file (sync engine) */            \
    X(FDATASYNC, "fdatasync")        /* data file (sync engine) */            \
    X(SHM_PREAD, "pread(shm)")       /* frame -> slot (copy backend) */       \
    X(SHM_PWRITE, "pwrite(shm)")     /* slot -> frame (copy backend) */    \
    X(MEMBARRIER, "membarrier(register)") /* unfenced shared fixes */     \
    X(FTRUNCATE, "ftruncate")        /* data file (bp_truncate) */

enum bp__sys_kind {
#define BP__SYS_ENUM(id, name) BP__SYS_##id,
    BP__SYS_CALLS(BP__SYS_ENUM)
#undef BP__SYS_ENUM
    BP__SYS_NKINDS
};
_Static_assert(BP__SYS_NKINDS <= 32, "call kinds fit an unsigned mask");

/* Result of an armed check: 0 = make the call, > 0 = fail it with that
 * errno, BP__SYS_SHORT_HIT = transfer less. */
#define BP__SYS_SHORT_HIT (-1)

#if BP_FAULTS
extern unsigned bp__sys_armed; /* mask of armed kinds, 0 = none */
int bp__sys_hit(enum bp__sys_kind k);

static inline int bp__sys_check(enum bp__sys_kind k)
{
    if (__builtin_expect(
            !(__atomic_load_n(&bp__sys_armed, __ATOMIC_RELAXED) & (1u << k)),
            1))
        return 0;
    return bp__sys_hit(k);
}
#else
static inline int bp__sys_check(enum bp__sys_kind k)
{
    (void)k;
    return 0;
}
#endif

/* Test hooks (bp_testing.h): fn(arg, pgno) called at a chosen point of the
 * library, set by a test; nothing at all with BP_FAULTS 0. */
enum bp__sys_hook {
    BP__HOOK_EARLY, /* an early read was sent (bp_io_early.c) */
    BP__HOOK_AHEAD, /* a staged copy read-ahead was sent (bp_aio.c) */
    BP__HOOK_N
};
#if BP_FAULTS
void bp__sys_hook_call(enum bp__sys_hook h, uint64_t pgno);
#else
static inline void bp__sys_hook_call(enum bp__sys_hook h, uint64_t pgno)
{
    (void)h;
    (void)pgno;
}
#endif

/* The errno of a hit on a call that moves no bytes ("short" -> EIO). */
static inline int bp__sys_errno(int hit)
{
    return hit > 0 ? hit : EIO;
}

/* len shortened to about half, in whole units (len itself if one unit). */
static inline size_t bp__sys_short(size_t len, size_t unit)
{
    size_t h;

    unit = unit ? unit : 1;
    h = len / 2 / unit * unit;
    return h ? h : len;
}

#define BP__SYS_FAIL_LIBC(kind)                                                \
    do {                                                                       \
        int h_ = bp__sys_check(kind);                                          \
        if (h_) {                                                              \
            errno = bp__sys_errno(h_);                                         \
            return -1;                                                         \
        }                                                                      \
    } while (0)

/* ---- files ---------------------------------------------------------------- */

static inline int bp__sys_open(const char *path, int flags, mode_t mode)
{
    BP__SYS_FAIL_LIBC(BP__SYS_OPEN);
    return open(path, flags, mode);
}

static inline int bp__sys_fstat(int fd, struct stat *st)
{
    BP__SYS_FAIL_LIBC(BP__SYS_FSTAT);
    return fstat(fd, st);
}

/* statx(2) through the raw syscall (glibc 2.36's struct statx lacks the
 * DIOALIGN fields: stx is the caller's <linux/stat.h> struct statx). */
static inline long bp__sys_statx(int fd, const char *path, int flags,
                                 unsigned mask, void *stx)
{
    BP__SYS_FAIL_LIBC(BP__SYS_STATX);
    return syscall(SYS_statx, fd, path, flags, mask, stx);
}

static inline int bp__sys_memfd_create(const char *name, unsigned flags)
{
    BP__SYS_FAIL_LIBC(BP__SYS_MEMFD);
    return memfd_create(name, flags);
}

static inline int bp__sys_fallocate(int fd, int mode, off_t off, off_t len)
{
    BP__SYS_FAIL_LIBC(BP__SYS_FALLOCATE);
    return fallocate(fd, mode, off, len);
}

static inline int bp__sys_add_seals(int fd, int seals)
{
    BP__SYS_FAIL_LIBC(BP__SYS_FCNTL);
    return fcntl(fd, F_ADD_SEALS, seals);
}

/* ---- mappings ------------------------------------------------------------- */

/* A new mapping (kind MMAP), or with MAP_FIXED a remap (kind REMAP). */
static inline void *bp__sys_mmap(void *addr, size_t len, int prot, int flags,
                                 int fd, off_t off)
{
    int h = bp__sys_check((flags & MAP_FIXED) ? BP__SYS_REMAP : BP__SYS_MMAP);

    if (h) {
        errno = bp__sys_errno(h);
        return MAP_FAILED;
    }
    return mmap(addr, len, prot, flags, fd, off);
}

static inline int bp__sys_remap_file_pages(void *addr, size_t len, int prot,
                                           size_t pgoff, int flags)
{
    BP__SYS_FAIL_LIBC(BP__SYS_RFP);
    return remap_file_pages(addr, len, prot, pgoff, flags);
}

static inline int bp__sys_mlock(const void *addr, size_t len)
{
    BP__SYS_FAIL_LIBC(BP__SYS_MLOCK);
    return mlock(addr, len);
}

/* membarrier(2) registration for MEMBARRIER_CMD_PRIVATE_EXPEDITED.  The
 * barriers themselves are not in the table: once registered they cannot
 * fail (bp_readers.c). */
static inline int bp__sys_membarrier_register(void)
{
    BP__SYS_FAIL_LIBC(BP__SYS_MEMBARRIER);
    return (int)syscall(SYS_membarrier,
                        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
}

/* ---- transfers: unit is the file's direct-I/O alignment ------------------- */

static inline ssize_t bp__sys_xfer(enum bp__sys_kind k, int fd, void *buf,
                                   size_t len, off_t off, size_t unit,
                                   int write)
{
    int h = bp__sys_check(k);

    if (h == BP__SYS_SHORT_HIT)
        len = bp__sys_short(len, unit);
    else if (h) {
        errno = h;
        return -1;
    }
    return write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
}

static inline ssize_t bp__sys_pread(int fd, void *buf, size_t len, off_t off,
                                    size_t unit)
{
    return bp__sys_xfer(BP__SYS_PREAD, fd, buf, len, off, unit, 0);
}

static inline ssize_t bp__sys_pwrite(int fd, const void *buf, size_t len,
                                     off_t off, size_t unit)
{
    return bp__sys_xfer(BP__SYS_PWRITE, fd, (void *)buf, len, off, unit, 1);
}

static inline int bp__sys_fdatasync(int fd)
{
    BP__SYS_FAIL_LIBC(BP__SYS_FDATASYNC);
    return fdatasync(fd);
}

static inline int bp__sys_ftruncate(int fd, off_t len)
{
    BP__SYS_FAIL_LIBC(BP__SYS_FTRUNCATE);
    return ftruncate(fd, len);
}

static inline ssize_t bp__sys_shm_pread(int fd, void *buf, size_t len,
                                        off_t off)
{
    return bp__sys_xfer(BP__SYS_SHM_PREAD, fd, buf, len, off, 1, 0);
}

static inline ssize_t bp__sys_shm_pwrite(int fd, const void *buf, size_t len,
                                         off_t off)
{
    return bp__sys_xfer(BP__SYS_SHM_PWRITE, fd, (void *)buf, len, off, 1, 1);
}

/* ---- io_uring (liburing returns -errno) ----------------------------------- */
#ifdef BP_HAVE_URING

#define BP__SYS_FAIL_URING(kind)                                               \
    do {                                                                       \
        int h_ = bp__sys_check(kind);                                          \
        if (h_)                                                                \
            return -bp__sys_errno(h_);                                         \
    } while (0)

static inline int bp__sys_uring_queue_init(unsigned entries,
                                           struct io_uring *ring,
                                           unsigned flags)
{
    BP__SYS_FAIL_URING(BP__SYS_URING_INIT);
    return io_uring_queue_init(entries, ring, flags);
}

static inline struct io_uring_probe *
bp__sys_uring_get_probe_ring(struct io_uring *ring)
{
    if (bp__sys_check(BP__SYS_URING_PROBE))
        return NULL;
    return io_uring_get_probe_ring(ring);
}

static inline int bp__sys_uring_register_files(struct io_uring *ring,
                                               const int *fds, unsigned n)
{
    BP__SYS_FAIL_URING(BP__SYS_URING_REGISTER);
    return io_uring_register_files(ring, fds, n);
}

static inline int bp__sys_uring_register_buffers(struct io_uring *ring,
                                                 const struct iovec *iov,
                                                 unsigned n)
{
    BP__SYS_FAIL_URING(BP__SYS_URING_REGISTER);
    return io_uring_register_buffers(ring, iov, n);
}

static inline int bp__sys_uring_submit(struct io_uring *ring)
{
    BP__SYS_FAIL_URING(BP__SYS_URING_SUBMIT);
    return io_uring_submit(ring);
}

static inline int bp__sys_uring_submit_and_wait(struct io_uring *ring,
                                                unsigned wait_nr)
{
    BP__SYS_FAIL_URING(BP__SYS_URING_SUBMIT);
    return io_uring_submit_and_wait(ring, wait_nr);
}

static inline int bp__sys_uring_wait_cqe(struct io_uring *ring,
                                         struct io_uring_cqe **cqe)
{
    BP__SYS_FAIL_URING(BP__SYS_URING_WAIT);
    return io_uring_wait_cqe(ring, cqe);
}

/* The result res of a completed request of kind URING_READ, _WRITE or
 * _FSYNC: replaced by -errno, or halved ("short"; an fsync gets -EIO). */
static inline int bp__sys_uring_res(enum bp__sys_kind k, int res, size_t unit)
{
    int h = bp__sys_check(k);

    if (h == BP__SYS_SHORT_HIT && k != BP__SYS_URING_FSYNC)
        return res > 0 ? (int)bp__sys_short((size_t)res, unit) : res;
    return h ? -bp__sys_errno(h) : res;
}

#undef BP__SYS_FAIL_URING
#endif /* BP_HAVE_URING */

#undef BP__SYS_FAIL_LIBC

/* An OFD lock on byte `at` of fd (type F_RDLCK, F_WRLCK or F_UNLCK):
 * 0, or -errno (-EAGAIN: held by another open file description). */
static inline int bp__ofd_lock(int fd, short type, long at)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET,
                       .l_start = (off_t)at, .l_len = 1};

    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0
           : errno == EACCES                ? -EAGAIN
                                            : -errno;
}

#endif
