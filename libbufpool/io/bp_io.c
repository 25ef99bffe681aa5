/*
 * bp_io.c - the data file: opening it, its direct-I/O alignment, and page
 * reads and writes through the pool's I/O engine.
 *
 * Owns: p->data_fd and its lock (one pool per data file; read-only pools
 * share it), p->rdonly, p->direct_io, p->dio_align, p->file_pages (the data file's
 * size at open) and the I/O counters.  Every data-file read or write goes through p->io
 * (bp__io_ops), so an engine can be swapped; the engines' system calls go
 * through the fault table (bp_sys.h).
 *
 * Invariants:
 *  - O_DIRECT unless BP_BUFFERED_IO was asked for; a file system that
 *    refuses O_DIRECT is an error (BP_ENODIRECT), never a silent fallback.
 *  - page_size is a multiple of the alignment in force (statx DIOALIGN
 *    offset alignment; fallback st_blksize, an upper bound of the logical
 *    block size), and buffers are frames, page aligned in the shm file.
 *  - A read past the end of the file on disk (a page allocated but not yet
 *    written) yields zeros; any other short transfer is retried, and a
 *    transfer that makes no progress is -EIO.  EINTR and EAGAIN are retried
 *    up to BP__IO_RETRIES times in a row, then returned.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/bp_crc32c.h"
#include "io/io_impl.h"
#include "platform/bp_sys.h"
#include "platform/bp_testing.h"

/* EINTR / EAGAIN from the engine are retried, but not forever: a device
 * that keeps answering so is an error the caller must see. */
#define BP__IO_RETRIES 64

static int bp__io_select(bp_pool *p);

/* statx via the raw syscall: glibc 2.36's struct statx lacks the DIOALIGN
 * fields.  Returns the offset alignment, or 0 when not reported. */
static uint32_t bp__statx_dio_align(int fd, uint32_t *mem_align)
{
    struct statx stx;

    memset(&stx, 0, sizeof stx);
    if (bp__sys_statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0)
        return 0;
    if (!(stx.stx_mask & STATX_DIOALIGN))
        return 0;
    *mem_align = stx.stx_dio_mem_align;
    return stx.stx_dio_offset_align;
}

static int bp__open_fail(bp_pool *p, int err, const char *path, int direct)
{
    switch (err) {
    case ENOENT:
        return bp__fail(p, -ENOENT,
                        "data file %s does not exist (open with BP_CREATE to "
                        "create it)",
                        path);
    case EACCES:
    case EROFS:
    case EPERM:
        if (p->rdonly)
            break;
        return bp__fail(p, BP_EREADONLY, "data file %s cannot be opened "
                        "read-write: %s", path, strerror(err));
    case EINVAL:
        if (direct)
            return bp__fail(p, BP_ENODIRECT,
                            "open(%s, O_DIRECT) failed with EINVAL: the file "
                            "system has no direct I/O; pass BP_BUFFERED_IO",
                            path);
        break;
    default:
        break;
    }
    return bp__fail(p, -err, "cannot open data file %s", path);
}

/* The pid of a process holding an OFD lock on the file dev:ino, found in
 * /proc/<pid>/fdinfo/<fd> "lock:" lines (an OFD lock itself shows no pid):
 * another process if one shows it (a child forked after the holder's open
 * shares its lock), else this one, else 0.  Error path only. */
static pid_t bp__io_lock_holder(dev_t dev, ino_t ino)
{
    char want[64], path[600], line[256];
    DIR *procs = opendir("/proc");
    struct dirent *pe;
    pid_t found = 0, self = 0, me = getpid();

    if (!procs)
        return 0;
    snprintf(want, sizeof want, " %02x:%02x:%llu ", major(dev), minor(dev),
             (unsigned long long)ino);
    while (!found && (pe = readdir(procs)) != NULL) {
        DIR *fds;
        struct dirent *fe;

        if (pe->d_name[0] < '1' || pe->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/fdinfo", pe->d_name);
        if (!(fds = opendir(path)))
            continue;
        while (!found && (fe = readdir(fds)) != NULL) {
            FILE *f;

            if (fe->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "/proc/%s/fdinfo/%s", pe->d_name,
                     fe->d_name);
            if (!(f = fopen(path, "re")))
                continue;
            while (fgets(line, sizeof line, f))
                if (strncmp(line, "lock:", 5) == 0 && strstr(line, "OFDLCK") &&
                    strstr(line, want)) {
                    pid_t pid = (pid_t)atol(pe->d_name);

                    if (pid == me)
                        self = me;
                    else
                        found = pid;
                }
            fclose(f);
        }
        closedir(fds);
    }
    closedir(procs);
    return found ? found : self;
}

/* -EBUSY for the data file at path, naming the holder of its lock. */
static int bp__io_busy(bp_pool *p, const char *what)
{
    pid_t who = bp__io_lock_holder((dev_t)p->data_dev, (ino_t)p->data_ino);
    const char *rule = "one pool per data file (only read-only pools, or "
                       "the processes of one shared cache, share one)";

    if (who == getpid())
        return bp__fail(p, -EBUSY, "data file %s is open in another pool of "
                        "this process%s: %s", p->io_path, what, rule);
    if (who > 0)
        return bp__fail(p, -EBUSY, "data file %s is open in a pool of "
                        "process %ld%s: %s", p->io_path, (long)who, what,
                        rule);
    return bp__fail(p, -EBUSY, "data file %s is open in another pool (its "
                    "lock's holder is not visible here)%s: %s", p->io_path,
                    what, rule);
}

/* One pool per data file: an OFD lock (fcntl F_OFD_SETLK) on byte
 * BP__DLOCKB_OPEN, held by the pool's open file description until
 * bp_close, exclusive for a pool that may write.  Two pools on one file
 * would each cache its pages and lose the other's updates; the second, in
 * this process or another, gets -EBUSY naming the holder.  BP_RDONLY pools
 * take it shared, and stay away from a file whose BP__DLOCKB_SHARED byte
 * a shared cache holds.  The processes of a shared cache take both bytes
 * shared, while they hold the cache's init lock (so two of them starting
 * at once never see each other's half-taken locks), and its creator first
 * checks that it alone has the file (bp__io_claim_shared).  The kernel
 * drops the locks when the holder dies. */
static int bp__io_lock_file(bp_pool *p)
{
    short type = p->rdonly ? F_RDLCK : F_WRLCK;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                       .l_start = BP__DLOCKB_SHARED, .l_len = 1};
    int rc;

    if (p->shared) /* under the cache's init lock: bp__io_claim_shared */
        return 0;
    rc = bp__ofd_lock(p->data_fd, type, BP__DLOCKB_OPEN);

    if (rc == -EAGAIN)
        return bp__io_busy(p, "");
    if (rc)
        return bp__fail(p, rc, "cannot lock data file %s (F_OFD_SETLK)",
                        p->io_path);
    if (!p->rdonly)
        return 0;
    if (fcntl(p->data_fd, F_OFD_GETLK, &fl) != 0)
        return bp__fail(p, -errno, "cannot test the lock of data file %s "
                        "(F_OFD_GETLK)", p->io_path);
    if (fl.l_type != F_UNLCK)
        return bp__io_busy(p, " as a shared cache's (BP_ATTACH)");
    return 0;
}

int bp__io_claim_shared(bp_pool *p)
{
    int rc = bp__ofd_lock(p->data_fd, F_WRLCK, BP__DLOCKB_OPEN);

    if (rc == -EAGAIN)
        return bp__io_busy(p, " (read-only, or by another shared cache)");
    if (rc == 0)
        rc = bp__ofd_lock(p->data_fd, F_RDLCK, BP__DLOCKB_SHARED);
    if (rc == 0) /* back to shared, now that the mark is set */
        rc = bp__ofd_lock(p->data_fd, F_RDLCK, BP__DLOCKB_OPEN);
    return rc ? bp__fail(p, rc, "cannot lock data file %s", p->io_path) : 0;
}

int bp__io_join_shared(bp_pool *p)
{
    int rc = bp__ofd_lock(p->data_fd, F_RDLCK, BP__DLOCKB_OPEN);

    if (rc == -EAGAIN)
        return bp__io_busy(p, "");
    if (rc == 0)
        rc = bp__ofd_lock(p->data_fd, F_RDLCK, BP__DLOCKB_SHARED);
    return rc ? bp__fail(p, rc, "cannot lock data file %s", p->io_path) : 0;
}

int bp__io_open(bp_pool *p, const char *path, unsigned flags)
{
    int direct = !(flags & BP_BUFFERED_IO);
    int rdonly = (flags & BP_RDONLY) != 0;
    int oflags = (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
                 (direct ? O_DIRECT : 0);
    uint32_t align, mem_align = 0;
    struct stat st;
    int fd, rc;

    if (flags & BP_CREATE)
        oflags |= O_CREAT;
    p->rdonly = rdonly;
    fd = bp__sys_open(path, oflags, 0644);
    if (fd < 0)
        return bp__open_fail(p, errno, path, direct);
    p->data_fd = fd;
    p->direct_io = direct;
    if (bp__sys_fstat(fd, &st) != 0)
        return bp__fail(p, -errno, "fstat of data file %s", path);
    if (!S_ISREG(st.st_mode))
        return bp__fail(p, -EINVAL, "data file %s is not a regular file", path);
    p->data_dev = (uint64_t)st.st_dev;
    p->data_ino = (uint64_t)st.st_ino;
    p->io_path = path;
    if ((rc = bp__io_lock_file(p)) != 0)
        return rc;
    if ((st.st_mode & 0222) == 0 && !rdonly)
        return bp__fail(p, BP_EREADONLY,
                        "data file %s has mode %03o (no write permission): "
                        "the pool writes pages back, so it refuses it even "
                        "for root", path, (unsigned)(st.st_mode & 0777));
    if ((uint64_t)st.st_size % p->po_page_size)
        return bp__fail(p, BP_EFILESIZE,
                        "data file %s has %lld bytes, not a multiple of the "
                        "page size %u", path, (long long)st.st_size,
                        p->po_page_size);
    align = p->po_dio_align_override;
    if (!align && direct)
        align = bp__statx_dio_align(fd, &mem_align);
    if (!align)
        align = direct ? (uint32_t)st.st_blksize : 1;
    if (mem_align > align)
        align = mem_align;
    p->dio_align = align;
    if (p->po_page_size % align)
        return bp__fail(p, BP_EPAGESIZE,
                        "page size %u is not a multiple of the data file's "
                        "direct I/O alignment %u: use a page size of at "
                        "least %u", p->po_page_size, align, align);
    p->file_pages = (uint64_t)st.st_size / p->po_page_size;
    return bp__io_select(p);
}

/* The engine: BUFPOOL_IO, which beats the option (bufpool.h says why),
 * else the option; auto tries io_uring, then sync. */
static int bp__io_select(bp_pool *p)
{
    /* auto, sync, uring, io_uring (bp_env.c): the last two are URING */
    int env = bp__env_get(BP__ENV_IO, -1);
    bp_io_engine e = env < 0    ? p->po_io_engine
                     : env >= 2 ? BP_IO_URING
                                : (bp_io_engine)env;
    const char *by = env < 0 ? "option" : "BUFPOOL_IO";
    int rc = -ENOSYS;

    p->io = &bp__io_sync;
    if (e == BP_IO_SYNC) {
        snprintf(p->io_reason, sizeof p->io_reason, "sync asked for (%s)", by);
        return 0;
    }
#ifdef BP_HAVE_URING
    rc = bp__io_uring_init(p);
#else
    snprintf(p->io_reason, sizeof p->io_reason,
             "built without liburing");
#endif
    if (rc == 0)
        return 0;
    if (e == BP_IO_URING)
        return bp__fail(p, rc, "io_uring asked for (%s) but unavailable: %s",
                        by, p->io_reason);
    p->io = &bp__io_sync; /* auto: fall back, saying why */
    {
        char why[96];

        snprintf(why, sizeof why, "%s", p->io_reason);
        snprintf(p->io_reason, sizeof p->io_reason, "fallback: %.80s", why);
    }
    return 0;
}

void bp__io_close(bp_pool *p)
{
#ifdef BP_HAVE_URING
    if (p->io_priv)
        bp__io_uring_fini(p);
#endif
    p->io = NULL;
    bp__iomem_close(p);
    if (p->data_fd >= 0) {
        /* An io_uring ring that registered the file drops its reference
         * later, from a kernel worker; the lock goes with the explicit
         * unlock, so the file can be opened again at once. */
        struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};

        if (!p->forked) /* a forked child's description is its parent's */
            (void)fcntl(p->data_fd, F_OFD_SETLK, &fl); /* every byte */
        close(p->data_fd);
    }
    p->data_fd = -1;
}

/* ---- page trailers (BP_PAGE_TRAILER bytes at the end of each page):
 * uint64 page number, uint32 CRC32C of the page before the trailer with
 * the number, uint32 reserved (0); all little-endian as stored.  */
struct bp__trailer {
    uint64_t tr_pgno;
    uint32_t tr_crc;
    uint32_t tr_zero;
};
_Static_assert(sizeof(struct bp__trailer) == BP_PAGE_TRAILER, "trailer");

static uint32_t bp__page_crc(const bp_pool *p, const void *buf, uint64_t pgno)
{
    uint32_t c = bp__crc32c(0, buf, p->po_page_size - BP_PAGE_TRAILER);

    return bp__crc32c(c, &pgno, sizeof pgno);
}

static void bp__trailer_set(bp_pool *p, void *buf, uint64_t pgno)
{
    struct bp__trailer t = {pgno, bp__page_crc(p, buf, pgno), 0};

    memcpy((char *)buf + p->po_page_size - BP_PAGE_TRAILER, &t, sizeof t);
}

static int bp__trailer_check(bp_pool *p, const void *buf, uint64_t pgno)
{
    const char *b = buf;
    struct bp__trailer t;
    uint32_t crc;
    size_t i;

    memcpy(&t, b + p->po_page_size - BP_PAGE_TRAILER, sizeof t);
    if (t.tr_pgno == 0 && t.tr_crc == 0 && t.tr_zero == 0) {
        for (i = 0; i < p->po_page_size && b[i] == 0; i++)
            ;
        if (i == p->po_page_size)
            return 0; /* allocated, never written */
    }
    if (t.tr_pgno != pgno) {
        BP_STAT(p, checksum_failures);
        return bp__fail(p, BP_ECORRUPT, "page %" PRIu64 " holds the trailer "
                        "of page %" PRIu64 " (misdirected write?)", pgno,
                        t.tr_pgno);
    }
    if ((crc = bp__page_crc(p, buf, pgno)) != t.tr_crc) {
        BP_STAT(p, checksum_failures);
        return bp__fail(p, BP_ECORRUPT, "page %" PRIu64 ": checksum %08x, "
                        "stored %08x (torn write or flipped bits)", pgno, crc,
                        t.tr_crc);
    }
    return 0;
}

/* Move the whole page at pgno between buf and the data file: short
 * transfers are continued, EINTR and EAGAIN retried up to BP__IO_RETRIES
 * times.  Returns the bytes moved (a read stops early at the end of the
 * file on disk) or a negative errno. */
static ssize_t bp__io_page_loop(bp_pool *p, uint64_t pgno, void *buf,
                                int write, size_t done)
{
    size_t psz = p->po_page_size;
    uint64_t off = pgno * psz;
    unsigned again = 0;

    while (done < psz) {
        char *b = (char *)buf + done;
        ssize_t n = write ? p->io->write(p, b, psz - done, off + done)
                          : p->io->read(p, b, psz - done, off + done);

        if ((n == -EINTR || n == -EAGAIN) && ++again < BP__IO_RETRIES)
            continue;
        if (n == 0 && write)
            return -EIO; /* no progress */
        if (n <= 0)
            return n < 0 ? n : (ssize_t)done;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* bp__io_page_loop, its time counted in read_ns or write_ns. */
static ssize_t bp__io_page_xfer(bp_pool *p, uint64_t pgno, void *buf,
                                int write, size_t done)
{
    uint64_t t0 = bp__clock_ns();
    ssize_t rc = bp__io_page_loop(p, pgno, buf, write, done);

    if (write)
        BP_STAT_ADD(p, write_ns, bp__clock_ns() - t0);
    else
        BP_STAT_ADD(p, read_ns, bp__clock_ns() - t0);
    return rc;
}

int bp__io_read_page(bp_pool *p, uint64_t pgno, void *buf)
{
    size_t psz = p->po_page_size;
    ssize_t n = 0;

    /* past the end of the file on disk: allocated, never (fully) written */
    if (pgno < BP__LOAD(*p->disk_pages) &&
        (n = bp__io_page_xfer(p, pgno, buf, 0,
                              (size_t)bp__io_early_take(p, pgno, buf))) < 0)
        return (int)n;
    memset((char *)buf + n, 0, psz - (size_t)n);
    BP_STAT(p, reads);
    BP_STAT_ADD(p, bytes_read, psz);
    return p->po_checksums ? bp__trailer_check(p, buf, pgno) : 0;
}

/* WAL rule: the log first, durable up to lsn, before page pgno is written
 * (a batch asks once for its highest LSN). */
int bp__io_wal_before(bp_pool *p, uint64_t lsn, uint64_t pgno)
{
    int rc;

    if (!p->po_wal_fn ||
        lsn <= BP__LOAD(*p->wal_durable))
        return 0;
    BP_STAT(p, wal_flushes);
    if ((rc = p->po_wal_fn(p->po_wal_ctx, lsn)) != 0)
        return bp__fail(p, rc, "log_flush(%" PRIu64 ") for page %" PRIu64
                        " failed: page not written", lsn, pgno);
    bp__io_wal_durable(p, lsn);
    return 0;
}

void bp__io_wal_durable(bp_pool *p, uint64_t lsn)
{
    uint64_t d = __atomic_load_n(p->wal_durable, __ATOMIC_RELAXED);

    while (lsn > d &&
           !__atomic_compare_exchange_n(p->wal_durable, &d, lsn, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        ;
}

/* The trailer of a page about to be written (checksums on). */
void bp__io_stamp(bp_pool *p, void *buf, uint64_t pgno)
{
    if (p->po_checksums)
        bp__trailer_set(p, buf, pgno);
}

/* A page just read: its trailer checked (checksums on). */
int bp__io_verify(bp_pool *p, const void *buf, uint64_t pgno)
{
    return p->po_checksums ? bp__trailer_check(p, buf, pgno) : 0;
}

ssize_t bp__io_xfer_page(bp_pool *p, uint64_t pgno, void *buf, int write)
{
    return bp__io_page_xfer(p, pgno, buf, write, 0);
}

/* Page pgno was written in full: count it, and the file now has it. */
void bp__io_wrote(bp_pool *p, uint64_t pgno)
{
    uint64_t d = __atomic_load_n(p->disk_pages, __ATOMIC_RELAXED);

    while (pgno >= d &&
           !__atomic_compare_exchange_n(p->disk_pages, &d, pgno + 1, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        ;
    BP_STAT(p, writes);
    BP_STAT_ADD(p, bytes_written, p->po_page_size);
}

int bp__io_write_page(bp_pool *p, uint64_t pgno, void *buf)
{
    int rc;

    if (p->po_wal_fn) {
        uint64_t lsn;

        memcpy(&lsn, (char *)buf + p->po_wal_offset, sizeof lsn);
        if ((rc = bp__io_wal_before(p, lsn, pgno)) != 0)
            return rc;
    }
    return bp__io_write_page_logged(p, pgno, buf);
}

int bp__io_write_page_logged(bp_pool *p, uint64_t pgno, void *buf)
{
    ssize_t n;

    bp__io_stamp(p, buf, pgno); /* the frame is latched (shared or BUSY) */
    if ((n = bp__io_page_xfer(p, pgno, buf, 1, 0)) < 0)
        return (int)n;
    bp__io_wrote(p, pgno);
    return 0;
}
