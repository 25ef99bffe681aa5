/*
 * bufpool.h - libbufpool public interface.
 *
 * libbufpool is a buffer pool for database engines with three tiers:
 *
 *   data file (pages on disk, O_DIRECT)
 *     -> cache frames in a /dev/shm (tmpfs) or memfd backing file
 *       -> window slots: a small address range through which frames are seen
 *
 * The cache may be far larger than the address space a process can map
 * (a 32-bit process reaching a 16 GiB cache through a 256 MiB window, as
 * Oracle's "indirect data buffers" did).  Fixing a page maps its frame into a
 * window slot with one of five backends (remap_file_pages, mmap MAP_FIXED per
 * slot, copy into a private slot, one linear map of the whole cache, or an
 * ioctl to the bpwin kernel module).
 *
 * Life cycle (LMDB style): bp_create, bp_set_* options, bp_open, then
 * bp_fix / bp_unfix / bp_alloc_page / bp_flush from any number of threads,
 * bp_close (which also frees a handle whose bp_open failed).  This program
 * creates its data file, appends a page, writes it and makes it durable:
 *
 * Example (compiled and run by the test suite):
 * #include <stdio.h>
 * #include <string.h>
 * #include "bufpool.h"
 *
 * int main(int argc, char **argv)
 * {
 *     const char *path = argc > 1 ? argv[1] : "example.db";
 *     bp_pool *p;
 *     bp_page pg;
 *     int rc = bp_create(&p, NULL);             // NULL: libc malloc/free
 *
 *     if (rc == 0) rc = bp_set_page_size(p, 16384);
 *     if (rc == 0) rc = bp_set_cache_size(p, 64u << 20);  // shm frames
 *     if (rc == 0) rc = bp_set_window_size(p, 4u << 20);  // mapped window
 *     if (rc == 0) rc = bp_open(p, path, BP_CREATE);
 *     if (rc == 0) rc = bp_alloc_page(p, &pg);  // a new page, fixed exclusive
 *     if (rc == 0) {
 *         strcpy(pg.data, "hello");
 *         rc = bp_unfix(p, &pg, BP_DIRTY);
 *     }
 *     if (rc == 0) rc = bp_flush(p);            // O_DIRECT write + fdatasync
 *     if (rc) fprintf(stderr, "%s: %s\n", bp_strerror(rc), bp_errmsg(p));
 *     bp_close(p);                              // also after a failed open
 *     return rc != 0;
 * }
 * (end of example)
 *
 * Errors: every function that can fail returns an int: 0 on success, a
 * negative errno, or a negative library code (BP_E*, below); each
 * function's comment lists the codes it returns and when.  bp_strerror()
 * names every code; bp_errmsg() gives the detail of the calling thread's
 * last failure (which numbers, which file, what to change).  Nothing is
 * printed and nothing aborts on bad input.
 *
 * Threads: a pool may be used by many threads at once.  A page fixed
 * shared by one thread may be unfixed by another; an exclusive fix is
 * unfixed by the thread that took it (see bp_flush).  The pool handle itself
 * must not be closed while other threads use it.  Options are set by one
 * thread before bp_open.  bp_errmsg is per thread: a thread sees the
 * message of its own last failure only.
 *
 * Requirements and environment variables
 * --------------------------------------
 * Linux only, a C11 compiler (or C++: the header compiles as both), glibc
 * 2.32 or later; liburing at build time for the io_uring engine
 * (optional: without it the pool reads and writes with pread/pwrite).
 *
 * Minimum: Linux 3.17.  Tested on Linux 6.18 (x86-64).  The pool looks for
 * each newer feature at run time; what a kernel older than each version
 * loses (the first two lines fail bp_open; the others fall back, or fail
 * only an open that asked for the feature by name):
 *
 *   3.15  OFD locks (F_OFD_SETLK), which keep a data file to one pool:
 *         bp_open fails with -EINVAL.
 *   3.17  memfd_create: bp_open fails with -ENOSYS for the default
 *         anonymous backing file; a named one (bp_set_shm) still works.
 *   4.0   remap_file_pages emulated by mmap: before it the rfp backend
 *         uses the kernel's nonlinear mappings, and the VMA budget, which
 *         counts one VMA per slot, is only too cautious.
 *   4.14  membarrier MEMBARRIER_CMD_PRIVATE_EXPEDITED: every shared fix
 *         pays its store-load fence (bp_stats.reader_fence "fenced
 *         (membarrier refused: ...)"); the same where seccomp refuses it.
 *   5.6   io_uring with IORING_OP_READ, IORING_OP_WRITE, IORING_OP_FSYNC
 *         and the opcode probe (io_uring itself came in 5.1): BP_IO_AUTO
 *         runs pread/pwrite (bp_stats.io_reason says why), BP_IO_URING
 *         and BUFPOOL_IO=uring fail bp_open.  The same where io_uring is
 *         refused (kernel.io_uring_disabled, seccomp, RLIMIT_MEMLOCK).
 *   5.11  IORING_FEAT_EXT_ARG: the read-ahead reaper waits without a
 *         timeout, and bp_io_wait sleeps on the ticket instead of taking
 *         completions off the ring itself.
 *   5.14  MADV_POPULATE_WRITE: I/O buffers are populated by touching
 *         each page.
 *   5.19  IORING_SETUP_COOP_TASKRUN and IORING_SETUP_TASKRUN_FLAG:
 *         bp_set_io_coop(p, 1) gets a plain ring (bp_stats.io_coop 0).
 *   6.1   statx STATX_DIOALIGN (statx itself: 4.11): the data file's
 *         direct-I/O alignment is taken to be st_blksize, an upper bound
 *         (a page size below it is refused with BP_EPAGESIZE).
 *   6.6   O_DIRECT on tmpfs: a data file on tmpfs needs BP_BUFFERED_IO
 *         (else BP_ENODIRECT).
 *   6.12  IORING_REGISTER_CLONE_BUFFERS: each io_uring lane registers the
 *         frames (linear) or the window (copy) itself, each time counted
 *         against RLIMIT_MEMLOCK; a lane refused reads without them.
 * Transparent huge pages "never" (or absent): I/O buffers are 4 KiB pages.
 *
 * Environment variables.  bp_open reads them, anew at each open; no other
 * call does.  Unset or empty: no effect.  Any other value must be one of
 * the values listed, spelled exactly (BUFPOOL_KMOD_DEVICE, last, takes
 * any path); else bp_open fails with -EINVAL before it opens or creates
 * anything, and bp_errmsg names the variable, its value and the valid
 * values, e.g. "BUFPOOL_IO="uring2": valid values are auto, sync, uring,
 * io_uring (or unset)".  A mistyped override is never ignored.
 *
 * Precedence: the API wins over the environment, except for the five
 * variables marked "beats the API" below.  Those exist to run an unchanged
 * program (an engine, a benchmark, this library's test suite, which runs
 * whole a second time with BUFPOOL_IO=sync) on another backend, engine or
 * read path without rebuilding it, so they must beat what the program
 * sets; bp_stats says what runs and, in backend_reason ("set by
 * BUFPOOL_BACKEND") and io_reason ("(BUFPOOL_IO)"), that the environment
 * chose it.  The next four have no API: each turns one mechanism off (or,
 * for tests, forces it).  BUFPOOL_KMOD_DEVICE has no API either: it points
 * the kmod backend at another device, for tests.
 *
 *   BUFPOOL_BACKEND=auto|rfp|mmap|copy|linear|kmod  beats bp_set_backend
 *       the window backend, as bp_set_backend's values.
 *   BUFPOOL_GUARD=0|1                             beats bp_set_guard
 *       1: guard mode (kmod backend only).
 *   BUFPOOL_IO=auto|sync|uring|io_uring           beats bp_set_io_engine
 *       the data-file I/O engine: BP_IO_AUTO, BP_IO_SYNC, BP_IO_URING
 *       (uring and io_uring are the same; bp_open fails when io_uring
 *       cannot be had, as with BP_IO_URING).
 *   BUFPOOL_IO_STAGE=auto|off|on                  beats bp_set_io_stage
 *       staged reads, as bp_set_io_stage's values.
 *   BUFPOOL_REPLACEMENT=admit|clock               beats bp_set_replacement
 *       the cache's replacement, BP_REPLACE_ADMIT or BP_REPLACE_CLOCK
 *       (bp_stats.replacement says which runs).
 *   BUFPOOL_IO_EARLY=0|1                          no API; default 1
 *       0: a staged fix miss (and the copy backend's fix miss on
 *       io_uring) no longer submits its read before it takes a frame
 *       (bp_stats.reads_early stays 0, io_staged bit 2 is clear).
 *   BUFPOOL_IO_HUGEPAGE=0|1                       no API; default 1
 *       0: I/O buffers and the copy backend's window are not advised into
 *       transparent huge pages (io_staged bit 3 is clear).
 *   BUFPOOL_IO_REGBUF=0|1                         no API; default 1
 *       0: on io_uring the frames (linear) or the window (copy) are not
 *       registered as fixed buffers: plain reads and writes
 *       (io_registered bits 2 and 3 are clear).
 *   BUFPOOL_READER_FENCE=auto|always|eager        no API; default auto
 *       auto: shared fixes of hot frames skip their store-load fence and
 *       whoever takes such a frame exclusively pays one membarrier
 *       instead (where membarrier is allowed); always: every shared fix
 *       pays its fence, no membarrier; eager: as auto, but every fenced
 *       hit counts toward skipping the fence (tests reach such frames
 *       quickly).  bp_stats.reader_fence says which runs.
 *   BUFPOOL_KMOD_DEVICE=path                      no API; default /dev/bpwin
 *       the path of the bpwin device, which the kmod backend opens and
 *       auto and guard mode probe.  Any path is taken as is: where no
 *       bpwin device answers there, an open that needs kmod (the kmod
 *       backend, guard mode) fails with BP_EBACKEND, and auto goes on
 *       without kmod.
 */
#ifndef BUFPOOL_H
#define BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ---------------------------------------------------------------
 * The version of this header.  CMake's project() reads these three lines,
 * so the shared library's version and soname (libbufpool.so.MAJOR) are
 * theirs.  BP_VERSION_* are the same numbers under a shorter name. */
#define BUFPOOL_VERSION_MAJOR 0
#define BUFPOOL_VERSION_MINOR 1
#define BUFPOOL_VERSION_PATCH 0
#define BP_VERSION_MAJOR BUFPOOL_VERSION_MAJOR
#define BP_VERSION_MINOR BUFPOOL_VERSION_MINOR
#define BP_VERSION_PATCH BUFPOOL_VERSION_PATCH

/* The version of the library linked (compare it with BUFPOOL_VERSION_* to
 * see whether it matches the header compiled against; LMDB's
 * mdb_version).
 *
 * @param major  if not NULL, receives the major version
 * @param minor  if not NULL, receives the minor version
 * @param patch  if not NULL, receives the patch level
 * @return "libbufpool MAJOR.MINOR.PATCH", a static string.  Cannot fail. */
const char *bp_version(int *major, int *minor, int *patch);

/* ---- Error codes -------------------------------------------------------
 * Library codes live in [-30999, -30900] so they never collide with a
 * negative errno.  The X-macro keeps codes and messages in one table. */
#define BP_ERRNO_MAP(X)                                                        \
    X(BP_EPAGESIZE, -30900,                                                    \
      "page size must be a power of two from 4 KiB to 64 KiB and a multiple "  \
      "of the data file's direct I/O alignment")                               \
    X(BP_EWINDOW, -30901,                                                      \
      "window size invalid: it must hold at least one slot, be no larger "     \
      "than the cache, and fit the address space")                             \
    X(BP_ESHMSPACE, -30902,                                                    \
      "not enough free space in the shm file system (or memory cgroup) for "   \
      "the cache")                                                             \
    X(BP_EVMABUDGET, -30903,                                                   \
      "window needs more memory mappings than vm.max_map_count leaves free")   \
    X(BP_ENODIRECT, -30904,                                                    \
      "the data file's file system refuses O_DIRECT; open with BP_BUFFERED_IO" \
      " to use buffered I/O")                                                  \
    X(BP_ENOTFIXED, -30905, "page handle is not fixed (double or stray unfix)")\
    X(BP_EPGNO, -30906, "page number is beyond the end of the data file")      \
    X(BP_ESHMUNSAFE, -30907,                                                   \
      "shm file failed the safety check (not a regular file we own with mode " \
      "0600)")                                                                 \
    X(BP_ENOFRAME, -30908, "every cache frame is pinned or mapped")            \
    X(BP_ENOSLOT, -30909, "every window slot is pinned")                       \
    X(BP_EMEMLOCK, -30910,                                                     \
      "cannot lock the window in memory (RLIMIT_MEMLOCK too small)")           \
    X(BP_EBACKEND, -30911, "window backend not available on this platform")    \
    X(BP_ESTATE, -30912,                                                       \
      "call not valid in the pool's current state (open/not open)")            \
    X(BP_EFILESIZE, -30913,                                                    \
      "data file size is not a multiple of the page size")                     \
    X(BP_EREADONLY, -30914,                                                    \
      "data file is read-only (file mode or file system)")                     \
    X(BP_EPOISONED, -30915,                                                    \
      "pool is in an error state after a failure that left it inconsistent; " \
      "close it")                                                              \
    X(BP_ERETRY, -30916,                                                       \
      "optimistic read invalidated by a writer or an eviction: read again")   \
    X(BP_ECORRUPT, -30918,                                                     \
      "page failed its checksum or holds another page's number (torn, "       \
      "flipped or misdirected write)")                                        \
    X(BP_ESYNC, -30917,                                                        \
      "an fdatasync of the data file failed earlier: writes are no longer "    \
      "acknowledged (reads still work); close, check the device, reopen")     \
    X(BP_EAGAIN, -30919,                                                       \
      "page not ready (BP_NOWAIT): its read is in flight or another thread "   \
      "holds it latched; bp_io_wait, then fix it again")                      \
    X(BP_ENOTCACHED, -30920,                                                   \
      "page not in the cache and no read of it in flight (BP_NOWAIT starts "   \
      "none): bp_prefetch it, or fix it without BP_NOWAIT")                   \
    X(BP_EIDLE, -30921,                                                        \
      "no asynchronous read in flight: bp_io_wait has nothing to wait for")   \
    X(BP_ELAGGED, -30922,                                                      \
      "the finished-read log no longer holds every read finished since the "  \
      "ticket (read it more often, or raise the io depth): look at the pages "\
      "with BP_NOWAIT fixes")                                              \
    X(BP_EFORKED, -30923,                                                      \
      "pool handle used in a child process after fork(): bp_close it there "  \
      "(that releases nothing the parent uses) and open the pool again")     \
    X(BP_ESHMMISMATCH, -30924,                                                 \
      "the shared cache exists with other options (page size, cache size, "   \
      "data file, checksums, WAL offset or library layout): bp_errmsg names " \
      "the field; open with the same options or another shm name")

enum {
#define BP__ERR_ENUM(name, val, msg) name = (val),
    BP_ERRNO_MAP(BP__ERR_ENUM)
#undef BP__ERR_ENUM
};

/* The name and meaning of any return code.
 *
 * @param err  0, a negative errno or a BP_E* code
 * @return a static string, never NULL: "success" for 0, "BP_E...: what it
 *         means" for a library code, the errno's description for a negative
 *         errno, "unknown error code" for anything else.  Cannot fail. */
const char *bp_strerror(int err);

/* ---- Handles and options ------------------------------------------------ */

typedef struct bp_pool bp_pool;

/* The detail of the calling thread's last failure on pool p: which file,
 * which numbers, what to change (bp_strerror(rc) names the code itself).
 *
 * The message is thread-local: each thread sees the message of its own
 * last failing call, never another thread's, so threads that fail at the
 * same time on one pool do not mix their messages.  It stays until the
 * same thread's next failing call (on any pool) and is not cleared by
 * calls that succeed, except bp_open, which clears it when it starts.
 * Failures inside the library's own threads (read-ahead completions, the
 * background flusher) are not reported here; the calls that meet their
 * consequences report those.  A call given a NULL pool fails with -EINVAL
 * and records no message; BP_NOWAIT's BP_EAGAIN and BP_ENOTCACHED,
 * BP_ERETRY, BP_EIDLE, BP_ELAGGED, bp_io_wait's -ETIMEDOUT and a poisoned
 * pool's BP_EPOISONED record none either (they are states, not faults).
 * A wait that reaches the wait limit (bp_set_wait_limit) records one with
 * its -ETIMEDOUT, and so does the BP_EPOISONED of the call that first
 * finds a shared cache poisoned.
 *
 * @param p  a pool handle that has not been closed, or NULL
 * @return never NULL.  For a pool: this thread's message if its last
 *         failing call was on p, else "" (its last failure was on another
 *         pool, or it has none).  For NULL: this thread's last message,
 *         whatever it was about, including a failed bp_create's (made
 *         without a pool), or "".  The string belongs to the calling
 *         thread and is valid until its next failing call or its exit.
 *         Cannot fail. */
const char *bp_errmsg(const bp_pool *p);

/* Allocator hook: the library allocates its private memory (the pool
 * struct, the window's slot table) only through these.  NULL in bp_create()
 * means libc malloc/free.  The hook must outlive the pool. */
typedef struct bp_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} bp_allocator;

typedef enum bp_backend {
    BP_BACKEND_AUTO = 0, /* at open: linear on 64-bit when the window
                            asked for covers the cache, or no window size
                            is set and the cache fits the address budget;
                            else kmod when /dev/bpwin answers and a
                            scratch window of it works; else calibrate
                            among the allowed rfp, mmap and copy (guard
                            mode: kmod, or BP_EBACKEND) */
    BP_BACKEND_RFP,      /* remap_file_pages() inside one shared window */
    BP_BACKEND_MMAP,     /* mmap(MAP_SHARED|MAP_FIXED) of the frame per slot */
    BP_BACKEND_COPY,     /* private window, copy in on map, copy back dirty */
    BP_BACKEND_LINEAR,   /* whole cache mapped once (64-bit only); the
                            window size is ignored (slots == frames), so a
                            fix of any cached page is a window hit */
    BP_BACKEND_KMOD      /* the bpwin kernel module (/dev/bpwin, kernel/):
                            one mapping however many slots, a remap is one
                            ioctl under mmap_lock for reading */
} bp_backend;

typedef enum bp_prefault {
    BP_PREFAULT_POPULATE = 0, /* page tables filled when a slot is mapped
                                 (linear: at open, then every 4 KiB read
                                 once, as BP_PREFAULT_TOUCH) */
    BP_PREFAULT_NONBLOCK,     /* MAP_NONBLOCK: not populated, fault on touch */
    BP_PREFAULT_LAZY,         /* no populate flag at all: fault on touch */
    BP_PREFAULT_TOUCH         /* populate, then read every 4 KiB once when
                                 mapped (linear: at open): under a
                                 shadow-paging hypervisor MAP_POPULATE fills
                                 the guest's page tables only, and each
                                 first touch still faults into the
                                 hypervisor; the touch takes that cost when
                                 mapping instead of at the first access */
} bp_prefault;

/* Create an empty pool handle with default options (page 8192 bytes, cache
 * 64 MiB, automatic window and backend, memfd backing file, I/O engine
 * AUTO, depth 32, no checksums, no WAL rule, no flusher).  Free it with
 * bp_close, opened or not.
 *
 * @param out    receives the handle (NULL on failure)
 * @param alloc  the allocator hook, copied; NULL: libc malloc/free
 * @return 0, or
 *   -EINVAL  out is NULL, or alloc lacks its alloc or free function
 *   -ENOMEM  the allocator returned NULL for the handle, or its mutexes
 *            could not be initialised
 * A failure has no pool: bp_errmsg(NULL) gives its detail. */
int bp_create(bp_pool **out, const bp_allocator *alloc);

/* ---- Options ----------------------------------------------------------------
 * Every bp_set_* takes a pool that is not open (just created, or whose
 * bp_open failed), checks what it can alone, and leaves combinations to
 * bp_open.  Each returns 0, or
 *   -EINVAL     p is NULL, or (where said) the value is out of range
 *   BP_ESTATE   the pool is open: options are set before bp_open
 * and the other codes named with it. */

/* Page size in bytes (default 8192).  bp_open also needs it to be a
 * multiple of the data file's direct-I/O alignment (BP_EPAGESIZE there).
 *
 * @param p      a pool that is not open
 * @param bytes  a power of two from 4096 to 65536
 * @return 0, -EINVAL, BP_ESTATE, or
 *   BP_EPAGESIZE  bytes is not a power of two in 4096..65536 */
int bp_set_page_size(bp_pool *p, size_t bytes);

/* Cache size in bytes (default 64 MiB): bp_open makes bytes / page size
 * frames (at least 1, fewer than 2^32 - 1, else -EINVAL there).  Replaces
 * an earlier bp_set_cache_frames.
 *
 * @param p      a pool that is not open
 * @param bytes  > 0
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, bytes 0) */
int bp_set_cache_size(bp_pool *p, uint64_t bytes);

/* Cache size in frames of the page size.  Replaces an earlier
 * bp_set_cache_size.
 *
 * @param p       a pool that is not open
 * @param frames  1 to 2^32 - 2
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, frames out of range) */
int bp_set_cache_frames(bp_pool *p, uint64_t frames);

/* Window size in bytes; 0 (default) = automatic: with BP_BACKEND_AUTO on
 * 64-bit the whole cache when it fits the address budget (linear, see
 * bp_set_address_budget); else a quarter of the cache, kept inside the
 * address and VMA budgets (rfp, mmap) and, on 32-bit, at most 256 MiB.
 * A size below one page makes 0 slots, so it is automatic too.  The
 * linear backend ignores it.  bp_open checks it (BP_EWINDOW: not a
 * multiple of the page size, larger than the cache, beyond 1 GiB on
 * 32-bit; BP_EVMABUDGET).  Replaces an earlier bp_set_window_slots.
 *
 * @param p      a pool that is not open
 * @param bytes  0 (or below one page: automatic), or a multiple of the
 *               page size
 * @return 0, -EINVAL (NULL p), BP_ESTATE */
int bp_set_window_size(bp_pool *p, uint64_t bytes);

/* Window size in slots (pages).  Replaces an earlier bp_set_window_size;
 * bp_open checks it as that.
 *
 * @param p      a pool that is not open
 * @param slots  >= 1
 * @return 0, -EINVAL (NULL p), BP_ESTATE, or
 *   BP_EWINDOW  slots is 0 */
int bp_set_window_slots(bp_pool *p, uint64_t slots);

/* The most address space this process's window may take (default 0: no
 * budget of its own; RLIMIT_AS still counts).  On 64-bit, with no window
 * size set, AUTO maps the whole cache linearly when it fits the budget and
 * half of what RLIMIT_AS leaves; otherwise an automatic window is at most
 * the budget.  An explicit window size is checked against it (BP_EWINDOW).
 *
 * @param p      a pool that is not open
 * @param bytes  0, or the budget in bytes
 * @return 0, -EINVAL (NULL p), BP_ESTATE */
int bp_set_address_budget(bp_pool *p, uint64_t bytes);

/* The window backend (default BP_BACKEND_AUTO).  BUFPOOL_BACKEND beats it
 * (top of this file).  bp_open fails with BP_EBACKEND for linear on
 * 32-bit, and for kmod when /dev/bpwin does not answer or the page size
 * or the number of slots is beyond the module's limits.
 *
 * @param p  a pool that is not open
 * @param b  a bp_backend
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, b not a bp_backend) */
int bp_set_backend(bp_pool *p, bp_backend b);

/* When a slot's page tables are filled (default BP_PREFAULT_POPULATE).
 *
 * @param p   a pool that is not open
 * @param pf  a bp_prefault
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, pf not a bp_prefault) */
int bp_set_prefault(bp_pool *p, bp_prefault pf);

/* How a cache miss picks the frame it evicts (default
 * BP_REPLACE_ADMIT).  Both run a CLOCK over the frames: a fix or an
 * optimistic read of a page raises its frame's usage count, the hand
 * lowers it, and a frame at 0 may go.  ADMIT also keeps a use count per
 * page, evicted or not (a miss adds one, and so does the hand for every
 * frame it finds used since its last pass), and puts each page it reads
 * on probation: a later miss weighs the oldest newcomer against the
 * least counted of the hand's next frames at 0, and the newcomer stays
 * only if it was used since it came in or its page was counted more.  A
 * page read once is then the next to go, instead of pushing out a page
 * used often; scans (BP_SCAN) keep their own ring either way.  bp_stats
 * counts the outcomes (admit_kept, admit_dropped).  In a shared cache each
 * process evicts by its own choice; the use counts are shared.
 *
 * @param p  a pool that is not open
 * @param r  a bp_replacement
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, r not a bp_replacement) */
typedef enum bp_replacement {
    BP_REPLACE_ADMIT = 0, /* CLOCK, with newcomers admitted by use count */
    BP_REPLACE_CLOCK      /* CLOCK alone */
} bp_replacement;
int bp_set_replacement(bp_pool *p, bp_replacement r);

/* Lock the window in memory (mlock; the mmap backend also passes
 * MAP_LOCKED to every remap).  Default off.  bp_open fails with
 * BP_EMEMLOCK when RLIMIT_MEMLOCK is too small.  The kmod backend never
 * locks its window (a page mapped there cannot be reclaimed while it is
 * mapped): bp_stats.mlocked reports 0 there.
 *
 * @param p   a pool that is not open
 * @param on  nonzero: lock
 * @return 0, -EINVAL (NULL p), BP_ESTATE */
int bp_set_mlock(bp_pool *p, int on);

/* Guard mode, a debugging aid of the kmod backend: every window slot is
 * mapped with the protection its latest fix asked for (read-only for
 * BP_SHARED, read-write for BP_EXCLUSIVE), and an emptied slot maps
 * nothing, so a stray write to a page fixed shared, or any touch of a
 * slot given up, raises SIGSEGV at that address instead of changing the
 * cache.  It costs an ioctl whenever a slot's protection changes.
 * BUFPOOL_GUARD=1 turns it on too.  Default off.  bp_open fails with
 * BP_EBACKEND when it is on and the backend is neither kmod nor auto, or
 * is auto and /dev/bpwin does not answer (auto takes kmod in guard mode).
 *
 * @param p   a pool that is not open
 * @param on  nonzero: guard
 * @return 0, -EINVAL (NULL p), BP_ESTATE */
int bp_set_guard(bp_pool *p, int on);

/* Backing file: name == NULL (default) uses an anonymous memfd.  A name
 * without '/' is created in /dev/shm; a name with '/' is used as a path.
 * A private pool's file must not exist (O_EXCL: an existing name is
 * refused at bp_open with -EEXIST, never reused or followed).  With
 * BP_ATTACH the name is the shared cache's: created by the first process,
 * attached by the others (never through a symlink: O_NOFOLLOW), removed by
 * the last to close unless keep.  A shared cache that no process holds
 * (kept, or left by processes that died) is revived by the next attach:
 * its clean pages serve again without a read, if the data file is
 * unchanged since the cache's last synced write (bp_stats.cache_origin).
 *
 * @param p     a pool that is not open
 * @param name  NULL, or 1 to 200 bytes, not "." nor ".." (copied)
 * @param keep  nonzero: leave the file in place at bp_close
 * @return 0, BP_ESTATE, or
 *   -EINVAL  p is NULL, or name is empty, longer than 200, "." or ".."
 *   -ENOMEM  the allocator gave no memory for the copy of name */
int bp_set_shm(bp_pool *p, const char *name, int keep);

/* Data-file I/O engine.  AUTO (default) uses io_uring when the kernel
 * allows it and falls back to pread/pwrite when it refuses (EPERM, ENOSYS,
 * ENOMEM, a missing opcode); bp_stats says which runs and why.  URING
 * fails bp_open when io_uring cannot be had.  BUFPOOL_IO beats it (top of
 * this file). */
typedef enum bp_io_engine {
    BP_IO_AUTO = 0,
    BP_IO_SYNC,
    BP_IO_URING
} bp_io_engine;

/* Choose the data-file I/O engine (default BP_IO_AUTO, above).
 *
 * @param p  a pool that is not open
 * @param e  a bp_io_engine
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, e not a bp_io_engine) */
int bp_set_io_engine(bp_pool *p, bp_io_engine e);

/* Asynchronous I/O (prefetch, read-ahead, batched write-back): at most
 * depth requests in flight at once, default 32.  With io_uring the
 * requests share one ring with the data file (and, where RLIMIT_MEMLOCK
 * allows, depth page buffers) registered; on the sync engine a helper
 * thread does the same work one request at a time.
 *
 * @param p      a pool that is not open
 * @param depth  1..1024
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, depth out of range) */
int bp_set_io_depth(bp_pool *p, unsigned depth);

/* Cooperative completions for the asynchronous ring (default off; io_uring
 * only, Linux 5.19+; the ring is set up without it where the kernel
 * refuses, and bp_stats.io_coop says which).  A finished read or write is
 * then completed when the thread that started it next enters the kernel
 * (any system call, a sleep in bp_io_wait or on a page in flight, a
 * scheduler tick) instead of by an interrupt sent to that thread while it
 * runs: one interrupt (a VM exit, on a virtual machine) saved per request
 * when the threads that read ahead also wait for their reads, as fio's
 * io_uring engine does.  The price: a page read ahead by a thread that
 * then computes without system calls arrives for other threads only at
 * that thread's next tick (a few milliseconds at most).
 *
 * @param p   a pool that is not open
 * @param on  0 or 1
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, on neither 0 nor 1) */
int bp_set_io_coop(bp_pool *p, int on);

/* Staged reads (linear backend): a data-file read lands in a small buffer
 * inside one transparent huge page and is then copied into its frame,
 * instead of landing in the frame.  On the virtual machine measured
 * (README) that was 4-22% faster at depths 8 and 32 (neutral at depth 1):
 * the frames are spread over the whole cache and each is made of separate
 * 4 KiB pages, and there each segment and each distinct page a read lands
 * in costs.  On bare metal the copy is pure cost.  AUTO (default) stages
 * under a hypervisor only; BUFPOOL_IO_STAGE beats this option (top of this
 * file); bp_stats.io_staged says what runs.  Read-ahead stages on either
 * engine, fix misses on io_uring; a staged fix miss also submits its read
 * before it takes a frame (2-3% at depth 1 there; bp_stats.reads_early,
 * BUFPOOL_IO_EARLY=0 turns it off).  Other backends read into their window
 * slots; on io_uring, unless staging is OFF, the copy backend's fix misses
 * also read early (into a landing page, then copied into the slot:
 * io_staged bit 2 without bit 1), and its read-ahead lands in its
 * request's buffer, sent before the slot's old page is copied home, then
 * copied into the slot (io_staged bit 0).  The copy backend's window and
 * all read buffers are huge-page backed wherever THP is not "never"
 * (BUFPOOL_IO_HUGEPAGE=0 turns that off). */
typedef enum bp_io_stage {
    BP_STAGE_AUTO = 0,
    BP_STAGE_OFF,
    BP_STAGE_ON
} bp_io_stage;

/* Choose when reads are staged (default BP_STAGE_AUTO, above).
 *
 * @param p  a pool that is not open
 * @param s  a bp_io_stage
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, s not a bp_io_stage) */
int bp_set_io_stage(bp_pool *p, bp_io_stage s);

/* Background flusher (default off): a thread that, every few milliseconds,
 * writes the dirty unlatched frames among the next pct percent of frames
 * ahead of the replacement hand in one batch and marks each clean once its
 * write completed in full, so that a fix miss rarely has to write a victim
 * first.  It does not fdatasync: as an eviction's write-back, what it
 * wrote is durable at the next bp_flush, which syncs even when no page is
 * dirty any more (the cache records that a sync is owed, across processes
 * too).  The sticky sync error stops it; it runs the WAL callback on its
 * own thread.  bp_open starts it (an error there if the thread cannot be
 * created).
 *
 * @param p    a pool that is not open
 * @param pct  1..100; 0 turns it off
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, pct above 100) */
int bp_set_flusher(bp_pool *p, unsigned pct);

/* Page checksums (default off).  On: the last BP_PAGE_TRAILER bytes of
 * every page are the library's: CRC32C of the rest of the page and the
 * page number, set when the page is written and checked when it is read.
 * A mismatch, or another page's number (a misdirected or torn write, a
 * flipped bit), fails the fix with BP_ECORRUPT naming the page; the frame
 * is not handed out.  A page of zeros (allocated, never written) passes.
 * Engines must not write into the trailer.
 *
 * @param p   a pool that is not open
 * @param on  nonzero: checksums on
 * @return 0, -EINVAL (NULL p), BP_ESTATE */
#define BP_PAGE_TRAILER 16u
int bp_set_checksums(bp_pool *p, int on);

/* ---- The write-ahead-log rule -----------------------------------------------
 * Optional, as PostgreSQL's XLogFlush before a buffer write.  The page LSN
 * is a uint64_t in host byte order at byte lsn_offset of every page.
 *
 * When: before the pool writes a dirty page whose LSN is above the durable
 * LSN it knows, it calls log_flush(ctx, lsn) with that page's LSN; a
 * batched write (bp_flush and the flusher, on io_uring) calls it once per
 * group of up to 8 pages, with the group's highest LSN.  Pages at or
 * below the durable LSN are written without a call.  The durable LSN is 0
 * when bp_open builds or revives the cache, and then only grows:
 * bp_wal_durable raises it, and so does every call that returns 0 (to its
 * lsn).
 *
 * Return: 0 promises the log is durable up to lsn; the page (or group) is
 * then written.  Any other value (a negative errno or a BP_E* code) means
 * it is not: that page (group) is not written and stays dirty, and the
 * value comes back unchanged, with bp_errmsg naming the page ("write of
 * page N failed"), from the call that needed the write: bp_flush, or the
 * bp_fix, bp_alloc_page, bp_opt_begin or bp_prefetch whose cache miss had
 * to evict that dirty page (bp_prefetch only when it started no read); the
 * flusher tries again at its next round.
 *
 * Where it runs: on the thread that writes the page: a thread in bp_flush,
 * the background flusher's thread (bp_set_flusher), or a thread whose
 * bp_fix, bp_alloc_page, bp_opt_begin, bp_prefetch or BP_SCAN read-ahead
 * evicts a dirty page.  So it runs on several threads at once, with LSNs
 * in no order: it must be thread-safe.
 *
 * Held while it runs: no window, page-table or I/O-slot mutex.  The
 * writing thread may hold the flush lock (bp_flush, the flusher), the
 * allocation lock (bp_alloc_page) or the read-ahead lock (bp_prefetch, a
 * BP_SCAN fix), the latch of the page(s) being written (shared during a
 * flush; BUSY during an eviction, so the page being evicted cannot be
 * fixed until its write ends), the frames its read-ahead has reserved
 * (BUSY), and the engine's own fixes.
 *
 * So, from the callback: bp_wal_durable may be called (lock-free; a log
 * that made more durable than asked can say so).  Other pages may be
 * fixed BP_SHARED (without BP_SCAN) and must be unfixed before it returns;
 * such a fix may miss and evict another dirty page, which calls log_flush
 * again on the same thread (re-entry: allow it).  A shared fix made while
 * the callback runs inside bp_alloc_page or bp_prefetch waits with that
 * call's lock held, so it must not fix a page that a thread waiting for
 * bp_alloc_page or bp_prefetch holds exclusively (pages the log itself
 * owns are the safe choice).  It must not: fix the page an eviction is
 * writing (the one whose LSN it was given: BUSY until written), fix
 * BP_EXCLUSIVE (a flush holds its batch's pages shared), fix with BP_SCAN,
 * or call bp_flush, bp_alloc_page, bp_prefetch or bp_close: each waits for
 * a lock or latch its own thread holds. */
typedef int (*bp_log_flush_fn)(void *ctx, uint64_t lsn);

/* Set the WAL rule (above), before bp_open; bp_open fails with -EINVAL when
 * lsn_offset + 8 does not fit the page (before its trailer, with
 * checksums).
 *
 * @param p           a pool that is not open
 * @param lsn_offset  byte offset of the page LSN in every page
 * @param log_flush   the callback; NULL turns the rule off
 * @param ctx         passed to log_flush as is
 * @return 0, -EINVAL (NULL p), BP_ESTATE */
int bp_set_wal(bp_pool *p, size_t lsn_offset, bp_log_flush_fn log_flush,
               void *ctx);

/* The log is durable up to lsn (after the engine's own log fsync): pages
 * whose LSN is at most this need no callback.  Raises the durable LSN,
 * never lowers it.  Callable from any thread, and from the log_flush
 * callback itself: lock-free, never waits.  The durable LSN lives in the
 * open cache (in a shared cache, one for every process attached), so a
 * call on a pool that is not open does nothing.  A shared cache revived
 * at bp_open starts again from 0: the engine's recovery may have cut its
 * log.
 *
 * @param p    an open pool; NULL, or a pool not open, is ignored
 * @param lsn  the durable LSN */
void bp_wal_durable(bp_pool *p, uint64_t lsn);

/* Shared cache (bp_open with BP_ATTACH): how long a fix, flush or
 * allocation waits for a latch or lock that a live process holds before
 * it fails with -ETIMEDOUT (the holder may be stopped, SIGSTOP, or stuck;
 * what a live process holds is never taken from it).  A holder found dead
 * is not waited for: what it held is taken back (bp_reap).
 *
 * @param p   a pool that is not open
 * @param ms  1 to 86400000, or 0: wait as long as it takes (default 30000)
 * @return 0, BP_ESTATE, or -EINVAL (NULL p, ms too large) */
int bp_set_wait_limit(bp_pool *p, unsigned ms);

/* The file mode of a named shm file (bp_set_shm) when this process
 * creates it (in a shared cache, group members of the creator may then
 * attach).  bp_open also requires that mode of the file it creates or
 * attaches (BP_ESHMUNSAFE otherwise), so every process of a shared cache
 * sets the same one; with a group mode a file owned by this process's
 * group is accepted.
 *
 * @param p     a pool that is not open
 * @param mode  0600 (default), 0640 or 0660
 * @return 0, BP_ESTATE, or -EINVAL */
int bp_set_shm_mode(bp_pool *p, unsigned mode);

/* ---- Open and close ------------------------------------------------------ */

#define BP_CREATE 0x1u      /* create the data file if it does not exist */
#define BP_BUFFERED_IO 0x2u /* buffered I/O instead of O_DIRECT */
#define BP_RDONLY 0x4u      /* read-only: no page is ever written */
#define BP_ATTACH 0x8u      /* create or attach the named shared cache */

/* One pool per data file.  bp_open locks the data file (an OFD lock,
 * fcntl F_OFD_SETLK, dropped by the kernel if the process dies): a pool
 * that may write holds it exclusively, so a second pool on the same file,
 * in this process or another, would read stale pages and lose updates and
 * is refused with -EBUSY.  Pools opened BP_RDONLY share the lock: several
 * may read one file at once, and none while a writable pool or a shared
 * cache has it open.
 *
 * BP_ATTACH: one cache shared by many processes (up to 128), each through
 * its own window; bp_set_shm names it.  The first process creates it, the
 * others attach: the page size, cache size, data file, checksums and WAL
 * offset must be the same (else BP_ESHMMISMATCH naming the field); window
 * size and backend are each process's own, but not the copy backend
 * (BP_EBACKEND).  Shared fixes count in the frame's state word (a shared
 * hit writes it).  A process that dies holding latches does not block the
 * others (bp_reap); a live holder is waited for up to bp_set_wait_limit.
 * After a death that leaves shared latches unaccounted for, every call
 * returns BP_EPOISONED: close and open again (flushed pages are in the
 * data file; the cache is built again once every process has closed).
 *
 * A BP_RDONLY pool opens the file O_RDONLY (a file without write
 * permission is accepted), and refuses what would write: BP_DIRTY at
 * unfix and bp_alloc_page (BP_EREADONLY); bp_flush has nothing to do. */

/* Open the data file at path (its size must be a multiple of the page size),
 * create the shm cache and the window.  BUFPOOL_* environment variables are
 * read here (top of this file).  On failure the pool stays closed,
 * everything it made is released (a data file it created stays), and
 * options may be changed and bp_open called again.
 *
 * @param p      a pool that is not open
 * @param path   the data file (created mode 0644 with BP_CREATE)
 * @param flags  0, or BP_CREATE, BP_BUFFERED_IO, BP_RDONLY (not with
 *               BP_CREATE nor BP_ATTACH) and/or BP_ATTACH
 * @return 0, or
 *   -EINVAL         p or path is NULL; flags has other bits, BP_RDONLY
 *                   with BP_CREATE or BP_ATTACH, or BP_ATTACH without a
 *                   shm name; a BUFPOOL_*
 *                   variable has a value not listed; the page LSN does not
 *                   fit the page (bp_set_wal); the cache has no frame or
 *                   2^32 - 1 frames or more; the data file is not a regular
 *                   file
 *   BP_ESTATE       the pool is open already (or poisoned, not closed)
 *   BP_EWINDOW      the window asked for has more slots than the cache has
 *                   frames, is not a positive multiple of the page size, is
 *                   above 1 GiB on 32-bit, or finds no room in the address
 *                   space (its mmap failed with ENOMEM), or the cache's
 *                   metadata is too large to map
 *   -ENOMEM         the allocator gave no memory (counters, reader slots,
 *                   window tables)
 *   -ENOENT         the data file does not exist and BP_CREATE was not
 *                   given (or a directory of path does not exist)
 *   BP_EREADONLY    without BP_RDONLY: the data file cannot be opened
 *                   read-write (EACCES, EROFS, EPERM), or its mode has no
 *                   write permission
 *   BP_ENODIRECT    its file system refuses O_DIRECT (open fails with
 *                   EINVAL) and BP_BUFFERED_IO was not given
 *   other -errno    from open(2) or fstat(2) of the data file: -EISDIR,
 *                   -ENOTDIR, -ELOOP, -ENAMETOOLONG, -EMFILE, -ENFILE,
 *                   -ENOSPC or -EDQUOT (creating it), -EIO, ...
 *   -EBUSY          the data file is open in another pool, of this process
 *                   or another, and one of the two may write (bp_errmsg
 *                   names the process when it can); also for tens of
 *                   milliseconds after such a process died while its
 *                   io_uring rings (which hold the file) are torn down
 *   other -errno    from its lock, fcntl(F_OFD_SETLK): -EINVAL before
 *                   Linux 3.15, -ENOLCK, ...
 *   BP_EFILESIZE    the data file's size is not a multiple of the page size
 *   BP_EPAGESIZE    the page size is not a multiple of the data file's
 *                   direct-I/O alignment
 *   io_uring asked for (BP_IO_URING, BUFPOOL_IO=uring) but unavailable:
 *                   the -errno of io_uring_queue_init (-EPERM: disabled by
 *                   sysctl or seccomp; -ENOSYS: no io_uring; -ENOMEM:
 *                   RLIMIT_MEMLOCK), -EOPNOTSUPP (the kernel lacks an
 *                   opcode, or the probe: before 5.6), -ENOMEM, -ENOSYS
 *                   (built without liburing)
 *   BP_EBACKEND     the linear backend on a 32-bit process; kmod when
 *                   /dev/bpwin does not answer (no module, another ABI)
 *                   or the page size or number of slots is beyond the
 *                   module's limits; guard mode (bp_set_guard) with a
 *                   backend other than kmod or auto, or with auto when
 *                   /dev/bpwin does not answer
 *   BP_EVMABUDGET   rfp or mmap: the window needs more mappings than
 *                   vm.max_map_count leaves free (bp_errmsg says how many
 *                   slots fit)
 *   -errno          rfp or mmap: /proc/sys/vm/max_map_count or
 *                   /proc/self/maps cannot be read (-ENOENT without /proc;
 *                   -EIO when unreadable as a number)
 *   BP_ESHMSPACE    the shm file system, MemAvailable (memfd) or the memory
 *                   cgroup has less room than the cache, or fallocate found
 *                   none (ENOSPC, ENOMEM)
 *   -EEXIST         the shm file named by bp_set_shm exists (or is a
 *                   symlink): never reused
 *   BP_ESHMUNSAFE   the shm file created (or, BP_ATTACH, found) is not a
 *                   regular file with one link, of the mode of
 *                   bp_set_shm_mode (0600 by default), owned by this
 *                   process's user or, with a group mode, its group
 *   -ENOSYS         memfd_create is missing (kernel before 3.17)
 *   other -errno    creating the shm file (open(2): -EACCES, -ENOENT for a
 *                   missing directory, ...; memfd_create: -EMFILE, ...),
 *                   statvfs(2) of its directory, fstat(2), fallocate(2)
 *                   (-EOPNOTSUPP, -EFBIG, ...), pwrite(2), mmap(2) of the cache
 *                   metadata, of the staged-read buffers, of the window or
 *                   of the I/O slot (-ENOMEM, ...)
 *   -EOVERFLOW      a cache reaching beyond 4 GiB on a system that cuts
 *                   mmap offsets to 32 bits (qemu-user running i386 code)
 *   BP_EMEMLOCK     bp_set_mlock: mlock of the window failed
 *                   (RLIMIT_MEMLOCK too small; never with kmod)
 *   -EAGAIN,
 *   -ENOMEM         bp_set_flusher: its thread (or the asynchronous-I/O
 *                   state it needs) could not be created
 *   BP_ATTACH:
 *   BP_ESHMMISMATCH the cache exists with other options or layout
 *                   (bp_errmsg names the field)
 *   BP_EPOISONED    the cache is poisoned and some process still has it
 *                   open
 *   BP_EBACKEND     the copy backend asked for
 *   -EBUSY          the data file is open in a private or read-only pool,
 *                   or another shared cache
 *   -ETIMEDOUT      another process held the cache's init lock for 10 s
 *   -EUSERS         128 processes are attached already */
int bp_open(bp_pool *p, const char *path, unsigned flags);

/* Close: with pages still fixed returns -EBUSY and leaves the pool open and
 * usable.  Otherwise writes nothing (call bp_flush() first to make dirty
 * pages durable: close does not flush, so a crash-consistent engine decides
 * when pages reach the disk), waits for reads in flight, stops the flusher,
 * releases everything and frees the handle.  A pool that was never opened,
 * or whose bp_open failed, is just freed.  No other thread may use the pool
 * during or after the call.
 *
 * @param p  the pool; NULL is accepted (0)
 * @return 0 (the handle is freed), or
 *   -EBUSY  pages are still fixed (bp_errmsg names up to eight of them);
 *           the pool stays open and usable */
int bp_close(bp_pool *p);

/* Shared cache: clean up after a process that died while attached (its
 * exclusive and BUSY latches and its shared locks taken back, pages it was
 * changing dropped from the cache; when it may have held shared latches
 * that nothing names, the cache is poisoned: every process gets
 * BP_EPOISONED and reopens).  Survivors do this by themselves when a wait
 * finds the holder dead; an engine that learns of a death first (SIGCHLD)
 * may call it at once.
 *
 * @param p    an open pool
 * @param pid  the dead process, or 0: every attached process found dead
 * @return the number of processes cleaned up (0: none was attached, or
 *         another process cleaned it), or
 *   -EBUSY   pid is alive
 *   -EINVAL  p is NULL or pid negative
 *   BP_ESTATE, BP_EFORKED */
int bp_reap(bp_pool *p, long pid);

/* ---- Pages --------------------------------------------------------------- */

#define BP_SHARED 0u
#define BP_EXCLUSIVE 1u
/* Access hint, OR-ed into the mode: this fix is part of a sequential scan.
 * A page that a scan brings into the cache or the window is recycled
 * through a small ring first (PostgreSQL's ring buffers), so a scan over
 * data many times the cache does not wash out the hot set.  A later fix
 * without the hint promotes the page to normal replacement. */
#define BP_SCAN 0x100u
/* OR-ed into the mode: never sleep, never read.  A page that is not in the
 * cache gives BP_ENOTCACHED (no read is started: bp_prefetch it); one whose
 * asynchronous read is still in flight, or that another thread holds in a
 * conflicting latch (or, for BP_EXCLUSIVE, still reads it through a
 * shared fix), gives BP_EAGAIN (wait with bp_io_wait, then fix it again).
 * Neither sets bp_errmsg.  A page in the cache
 * but not in the window is mapped as usual (a copy or a remap, no
 * data-file I/O).  With bp_prefetch and bp_io_wait this lets an engine
 * consume read-ahead in the order it arrives (see bp_io_wait). */
#define BP_NOWAIT 0x200u
/* OR-ed into BP_EXCLUSIVE: the caller overwrites the whole page.  A page
 * not in the cache is not read: it comes zeroed and already dirty (as
 * from bp_alloc_page), so its old bytes on disk are replaced even if the
 * caller unfixes it without BP_DIRTY.  A cached page comes as it is.
 * What a database's checkpoint or a page copy writes whole needs no read
 * first. */
#define BP_OVERWRITE 0x400u

/* A fixed page.  Callers may read data and pgno: data points at the page
 * in the window and stays valid until bp_unfix(); pgno is the page's
 * number (where bp_alloc_page's caller finds it).  bp_slot and bp_gen
 * belong to the library.  No field may be changed while the page is
 * fixed: bp_unfix checks them all (BP_ENOTFIXED). */
typedef struct bp_page {
    void *data;
    uint64_t pgno;
    uint32_t bp_slot;
    uint32_t bp_gen;
} bp_page;

/* Fix page pgno and fill *out.  Waits while another thread holds a
 * conflicting latch on that page or reads it (not with BP_NOWAIT).  A miss
 * may evict a page (writing it first if dirty: the WAL rule applies) and
 * reads the page from the data file.  A shared fix of a page in the window
 * makes no system call, takes no lock and allocates nothing.  On any error
 * *out is cleared (data NULL): a failed fix never leaves a pointer into the
 * window behind, so keep a handle you still hold fixed out of it.
 *
 * @param p     an open pool
 * @param pgno  the page, below bp_page_count(p)
 * @param mode  BP_SHARED or BP_EXCLUSIVE, optionally | BP_SCAN, | BP_NOWAIT,
 *              and BP_EXCLUSIVE | BP_OVERWRITE
 * @param out   receives the fixed page
 * @return 0, or
 *   -EINVAL        p or out is NULL, or mode has other bits, or
 *                  BP_OVERWRITE without BP_EXCLUSIVE
 *   BP_ESTATE      the pool is not open
 *   BP_EPOISONED   the pool is poisoned (close it)
 *   BP_EFORKED     the pool was opened by the parent before fork()
 *   BP_EPGNO       pgno is at or beyond bp_page_count(p)
 *   BP_ENOTCACHED  BP_NOWAIT: the page is not in the cache, no read of it
 *                  in flight (no message)
 *   BP_EAGAIN      BP_NOWAIT: its read is in flight, or it is latched in a
 *                  conflicting mode (no message)
 *   BP_ENOSLOT     every window slot holds a fixed page (or one being read)
 *   BP_ENOFRAME    every cache frame is fixed or mapped by a fixed slot,
 *                  or, after a failed fdatasync, dirty
 *   BP_ECORRUPT    checksums on: the page read failed its checksum or
 *                  holds another page's number
 *   -ETIMEDOUT     shared cache: a live process held the page's latch
 *                  longer than the wait limit (bp_set_wait_limit)
 *   -errno         reading the page from the data file (-EIO, ...; -EINTR
 *                  or -EAGAIN after 64 retries in a row); writing the dirty
 *                  page it evicts (as bp_flush: -EIO, -ENOSPC, -EDQUOT,
 *                  ...), or the WAL callback's nonzero return for it;
 *                  remapping the slot (rfp, mmap: -ENOMEM at
 *                  vm.max_map_count); the copy backend's copies through
 *                  the shm file (-EIO, ...).  When the copy of a modified
 *                  page back into its frame fails, its error is returned
 *                  once and the pool is poisoned: the change would be
 *                  lost. */
int bp_fix(bp_pool *p, uint64_t pgno, unsigned mode, bp_page *out);

/* ---- Optimistic reads ------------------------------------------------------
 * Read a page without pinning or latching it (vmcache / LeanStore style):
 *
 *     bp_opt o;
 *     do {
 *         if ((rc = bp_opt_begin(p, pgno, &o)) != 0 && rc != BP_ERETRY)
 *             return rc;                   // a real error
 *         if (rc == 0)
 *             copy_what_you_need(o.data);  // may see torn bytes: don't trust
 *     } while (rc != 0 || bp_opt_validate(p, &o) != 0);
 *
 * What was read is consistent only when bp_opt_validate() returns 0: no
 * exclusive fix of the page and no eviction of it from the window happened
 * since bp_opt_begin().  Read the bytes as untrusted until then (bounds-check
 * any offsets found in them).  A page not in the window is brought in by a
 * shared fix and unfix inside bp_opt_begin (it may do I/O). */
typedef struct bp_opt {
    const void *data;
    uint64_t pgno;
    uint64_t bp_version;
    uint32_t bp_frame;
    uint32_t bp_pad;
} bp_opt;

/* Start an optimistic read of page pgno: o->data points at the page in
 * the window.
 *
 * @param p     an open pool
 * @param pgno  the page, below bp_page_count(p)
 * @param o     receives the read's state
 * @return 0, or
 *   -EINVAL       p or o is NULL
 *   BP_ESTATE     the pool is not open
 *   BP_EPOISONED  the pool is poisoned
 *   BP_EFORKED    the pool was opened by the parent before fork()
 *   BP_ERETRY     the page is fixed exclusively, or being remapped or
 *                 evicted, right now (or moved four times meanwhile): try
 *                 again (no message)
 *   any error of bp_fix(p, pgno, BP_SHARED, ...) when the page is not in
 *   the window (BP_EPGNO, BP_ENOSLOT, BP_ENOFRAME, BP_ECORRUPT,
 *   -ETIMEDOUT, -errno) */
int bp_opt_begin(bp_pool *p, uint64_t pgno, bp_opt *o);

/* End an optimistic read: were the bytes read since bp_opt_begin
 * consistent?  Cheap (one load of the frame's word); may be called more
 * than once.
 *
 * @param p  the open pool the read began on
 * @param o  filled by a bp_opt_begin that returned 0
 * @return 0: consistent, or
 *   BP_ERETRY   the page was fixed exclusively, remapped or evicted
 *               since bp_opt_begin: read again (no message)
 *   BP_ESTATE   the pool is not open (no message)
 *   BP_EFORKED  the pool was opened by the parent before fork()
 *   -EINVAL     p or o is NULL, or o does not come from bp_opt_begin
 *               (detected when its frame index is beyond the cache) */
int bp_opt_validate(bp_pool *p, const bp_opt *o);

/* ---- Read-ahead -------------------------------------------------------------
 * Start reading pages into the cache and return at once: each page of
 * pgnos[] not cached yet gets a frame and a read in flight; a later bp_fix
 * of a page still in flight waits for that read instead of issuing a second
 * one.  Pages already cached or in flight are skipped; so are pages once
 * depth reads are in flight (bp_set_io_depth), and pages beyond the end of
 * the file on disk (allocated, never written).  A read that fails or does
 * not pass its checksum is dropped silently: the later bp_fix reads the page
 * itself and reports the error.  The first call creates the pool's
 * asynchronous-I/O state (request buffers, a ring, a reaper thread).
 *
 * BP_SCAN fixes read ahead on their own: a scan that fixes page n also
 * prefetches the pages that follow, a window of depth / 2 pages kept one step
 * ahead (its errors are left to the later fixes).
 *
 * @param p      an open pool
 * @param pgnos  the pages, each below bp_page_count(p)
 * @param n      how many (0: nothing to do)
 * @return the number of reads started (>= 0), or
 *   -EINVAL       p is NULL, or pgnos is NULL with n > 0
 *   BP_ESTATE     the pool is not open
 *   BP_EPOISONED  the pool is poisoned
 *   BP_EFORKED    the pool was opened by the parent before fork()
 *   BP_EPGNO      a page is at or beyond bp_page_count(p) (nothing started)
 * and, only when no read was started: -ENOMEM or -EAGAIN (the
 * asynchronous-I/O state or its thread could not be created), BP_ENOFRAME,
 * the -errno or WAL-callback code of writing an evicted dirty page, of a
 * remap or of the copy backend's copies (as bp_fix), or the -errno of
 * io_uring_submit. */
int bp_prefetch(bp_pool *p, const uint64_t *pgnos, size_t n);

/* ---- Consuming read-ahead in completion order ------------------------------
 * bp_io_seq is a ticket: the number of asynchronous reads (bp_prefetch,
 * BP_SCAN read-ahead) finished since open, arrived or dropped; it grows
 * once a finished page can be fixed (or, dropped, is no longer in flight).
 * bp_io_wait(p, seq, timeout_ns) returns 0 as soon as the ticket differs
 * from seq (at once if it already does), BP_EIDLE when no asynchronous read
 * is in flight (nothing would move it: fix what is left without
 * BP_NOWAIT, or prefetch it), -ETIMEDOUT after timeout_ns (0: do not
 * sleep; negative: no limit).  Take the ticket before looking at the pages,
 * so that a read finishing meanwhile is never missed.
 *
 * bp_io_finished(p, &seq, pgnos, max) says which: it copies into pgnos the
 * page numbers of the reads finished after ticket seq, at most max, in the
 * order they finished, moves seq past them and returns how many (0: none
 * yet).  A finished page was either read (a fix finds it cached, unless
 * it was evicted meanwhile) or dropped (its read failed: a fix reads it
 * itself and reports the error); either way it is no longer in flight.
 * The log is the pool's, shared by all threads (a thread takes the pages
 * it asked for and skips the rest), and holds the last 255 finished
 * reads, or 4 x io depth if that is more; a caller that falls further
 * behind gets
 * BP_ELAGGED, with seq moved to the present, and looks at its pages with
 * BP_NOWAIT fixes.  Pages bp_prefetch did not start (it returns how many
 * it did: cached ones are skipped) never appear.  A stream of reads kept
 * d deep, each page consumed as it arrives (what an index nested-loop
 * join or a bitmap heap scan does):
 *
 *     uint64_t seq = bp_io_seq(p), fin[64];
 *     ... bp_prefetch d pages, one call each; fix at once any it skips ...
 *     for (;;) {
 *         int n = bp_io_finished(p, &seq, fin, 64);
 *         if (n == 0) { rc = bp_io_wait(p, seq, -1); ...; continue; }
 *         ... bp_prefetch the next n pages first (the disk stays busy),
 *         ... then for each fin[i]: bp_fix(p, fin[i], BP_SHARED, &pg),
 *             use it, bp_unfix
 *     }
 *
 * A multi-get that does not care about order (a batch of index probes)
 * can also poll its pages instead of reading the log:
 *
 *     bp_prefetch(p, pgnos, n);                  // up to the io depth
 *     while (left > 0) {
 *         uint64_t seq = bp_io_seq(p);
 *         int got = 0;
 *         for (i in pages not done) {
 *             rc = bp_fix(p, pgnos[i], BP_SHARED | BP_NOWAIT, &pg);
 *             if (rc == 0) { use(pg); bp_unfix(p, &pg, 0); done i; got++; }
 *             else if (rc == BP_ENOTCACHED) bp_prefetch(p, &pgnos[i], 1);
 *             else if (rc != BP_EAGAIN) return rc;       // a real error
 *         }
 *         if (!got && (rc = bp_io_wait(p, seq, -1)) == BP_EIDLE)
 *             ... fix one page of the rest without BP_NOWAIT ...
 *     }
 *
 * None of them holds a pool lock while it waits; the ticket's futex is
 * woken only while some thread sleeps in bp_io_wait. */

/* The completion ticket.
 *
 * @param p  the pool, or NULL
 * @return the ticket; 0 for NULL or a pool that never read ahead.  Cannot
 *         fail. */
uint64_t bp_io_seq(bp_pool *p);

/* Wait until the ticket differs from seq.
 *
 * @param p           an open pool
 * @param seq         a ticket from bp_io_seq
 * @param timeout_ns  0: do not sleep; negative: no limit
 * @return 0: the ticket differs from seq, or
 *   BP_EIDLE      no asynchronous read is in flight (or none ever was):
 *                 nothing would move the ticket (no message)
 *   -ETIMEDOUT    timeout_ns passed (at once for 0) (no message)
 *   -EINVAL       p is NULL
 *   BP_ESTATE     the pool is not open
 *   BP_EPOISONED  the pool is poisoned
 *   BP_EFORKED    the pool was opened by the parent before fork() */
int bp_io_wait(bp_pool *p, uint64_t seq, int64_t timeout_ns);

/* Which reads finished after ticket *seq.
 *
 * @param p      an open pool
 * @param seq    in: a ticket; out: moved past the pages returned (or, with
 *               BP_ELAGGED, to the present)
 * @param pgnos  receives up to max page numbers, in completion order
 * @param max    room in pgnos
 * @return the number of pages copied (0: none yet, or the pool never read
 *         ahead), or
 *   BP_ELAGGED    the log no longer holds every read since *seq (no
 *                 message)
 *   -EINVAL       p or seq is NULL, or pgnos is NULL with max > 0
 *   BP_ESTATE     the pool is not open
 *   BP_EPOISONED  the pool is poisoned
 *   BP_EFORKED    the pool was opened by the parent before fork() */
int bp_io_finished(bp_pool *p, uint64_t *seq, uint64_t *pgnos, size_t max);

#define BP_DIRTY 0x1u /* the page was modified while fixed exclusively */

/* Unfix a page fixed by bp_fix() or bp_alloc_page(); the handle is cleared
 * (data NULL).  A shared fix may be unfixed by any thread, an exclusive one
 * by the thread that took it.  Also works on a poisoned pool.
 *
 * @param p      the pool the page was fixed in
 * @param pg     the handle filled by the fix
 * @param flags  0, or BP_DIRTY: the page was modified (exclusive fixes
 *               only)
 * @return 0, or
 *   -EINVAL       p or pg is NULL; flags has other bits; BP_DIRTY on a
 *                 shared fix (the page stays fixed)
 *   BP_ESTATE     the pool is not open
 *   BP_EFORKED    the pool was opened by the parent before fork()
 *   BP_EREADONLY  BP_DIRTY on a pool opened BP_RDONLY (the page stays
 *                 fixed: unfix it with 0)
 *   BP_ENOTFIXED  pg holds no fix: unfixed already, cleared by a failed
 *                 fix, or never filled */
int bp_unfix(bp_pool *p, bp_page *pg, unsigned flags);

/* Append a new zeroed page at the end of the data file and return it fixed
 * exclusively (already dirty).  The page counts in bp_page_count() at once;
 * it reaches the disk at the next bp_flush() or eviction.  New pages are
 * made one at a time, in file order.  On error *out is cleared, as by
 * bp_fix.
 *
 * @param p    an open pool
 * @param out  receives the new page, fixed exclusively
 * @return 0, or
 *   -EINVAL       p or out is NULL
 *   BP_ESTATE     the pool is not open
 *   BP_EPOISONED  the pool is poisoned
 *   BP_EFORKED    the pool was opened by the parent before fork()
 *   BP_EREADONLY  the pool was opened BP_RDONLY
 *   BP_ESYNC      an earlier fdatasync failed: no new page can be made
 *                 durable
 *   -ETIMEDOUT    shared cache: a live process held the allocation lock
 *                 longer than the wait limit (bp_set_wait_limit)
 *   BP_ENOSLOT, BP_ENOFRAME, -errno  as bp_fix: no slot or frame free, or
 *                 evicting a dirty page failed (its write, the WAL
 *                 callback's return, a remap, a copy) */
int bp_alloc_page(bp_pool *p, bp_page *out);

/* Number of pages in the data file, including pages allocated and not yet
 * written.
 *
 * @param p  the pool, or NULL
 * @return the page count; 0 for NULL, a pool never opened, or one whose
 *         bp_open failed.  Cannot fail. */
uint64_t bp_page_count(const bp_pool *p);

/* Set the data file's size to pages: a file system's ftruncate(2) for the
 * pool.  Shrinking forgets the cached pages at or beyond pages without
 * writing them (dirty or not) and cuts the file; growing adds pages that
 * read as zeros.  bp_page_count() is pages afterwards.  The new size is
 * durable at the next bp_flush().  No thread (or, in a shared cache,
 * process) may fix a page at or beyond pages during the call: a page that
 * stays fixed or in flight for about a second is reported as -EBUSY and
 * nothing changes.
 *
 * @param p      an open pool
 * @param pages  the new size, in pages
 * @return 0, or
 *   -EINVAL       p is NULL
 *   BP_ESTATE     the pool is not open
 *   BP_EPOISONED  the pool is poisoned
 *   BP_EFORKED    the pool was opened by the parent before fork()
 *   BP_EREADONLY  the pool was opened BP_RDONLY
 *   BP_ESYNC      an earlier fdatasync failed (sticky)
 *   -EFBIG        pages * page size is beyond the largest file offset
 *   -EBUSY        a page at or beyond pages is fixed, or being read or
 *                 written (bp_errmsg names it)
 *   -ETIMEDOUT    shared cache: a live process held the allocation lock
 *                 longer than the wait limit (bp_set_wait_limit)
 *   -errno        ftruncate(2) of the data file failed (-EIO, -ENOSPC,
 *                 -EFBIG, ...); when shrinking, the cache has dropped the
 *                 pages cut and bp_page_count() is pages already */
int bp_truncate(bp_pool *p, uint64_t pages);

/* Write every dirty page to the data file and fdatasync it.  When it returns
 * 0, every page unfixed dirty before the call is durable.  A failed write
 * leaves its page dirty for the next flush.  A failed fdatasync is returned
 * once as its errno and then puts the pool in a sticky state, as PostgreSQL
 * does: the kernel may have dropped the written pages, so no later flush
 * can vouch for them; bp_flush and bp_alloc_page then return BP_ESYNC,
 * dirty frames are no longer written or evicted, and reads keep working.  A
 * page fixed exclusively by another thread is waited for (its bytes may be
 * half written); a thread that itself holds an exclusive fix gets -EDEADLK.
 * An exclusive fix must therefore be unfixed by the thread that took it.
 * The WAL rule applies to every page written.
 *
 * @param p  an open pool
 * @return 0, or
 *   -EINVAL       p is NULL
 *   BP_ESTATE     the pool is not open
 *   BP_EPOISONED  the pool is poisoned
 *   BP_EFORKED    the pool was opened by the parent before fork()
 *   -EDEADLK      the calling thread holds exclusive fixes
 *   BP_ESYNC      an earlier fdatasync failed (sticky)
 *   -ETIMEDOUT    shared cache: a live process held the flush lock or a
 *                 page's latch longer than the wait limit
 *                 (bp_set_wait_limit)
 *   -errno        the first failed page write (-EIO, -ENOSPC, -EDQUOT,
 *                 ...; -EINTR or -EAGAIN after 64 retries in a row); the
 *                 fdatasync's error, once; the copy backend's copy of a
 *                 modified slot into its frame, or the mapping of a frame
 *                 for writing (-ENOMEM, ...)
 *   the WAL callback's nonzero return (bp_set_wal), unchanged */
int bp_flush(bp_pool *p);

/* ---- Statistics ---------------------------------------------------------- */

#define BP_STATS_VERSION 1

typedef struct bp_stats {
    uint32_t version; /* BP_STATS_VERSION */
    uint32_t size;    /* sizeof(bp_stats) as filled */

    /* configuration as opened */
    uint32_t page_size;
    uint32_t backend;  /* bp_backend in use (never AUTO once open) */
    uint32_t prefault; /* bp_prefault */
    uint32_t mlocked;   /* 1: the window is locked (bp_set_mlock; 0
                           with kmod, whose window is never locked) */
    uint32_t direct_io; /* 1: O_DIRECT, 0: buffered */
    uint32_t dio_align; /* alignment in force for data file I/O */
    uint64_t frames;    /* cache frames */
    uint64_t slots;     /* window slots */
    uint64_t data_pages;
    char backend_reason[160]; /* why this backend (auto's calibration) */
    char io_engine[16];       /* "io_uring" or "sync"; "none" when not
                                 open */

    /* counters since open */
    uint64_t fixes;
    uint64_t window_hits;   /* page already mapped in a slot */
    uint64_t window_misses; /* had to map a frame into a slot */
    uint64_t cache_hits;    /* window miss, page in a cache frame */
    uint64_t cache_misses;  /* page read from the data file */
    uint64_t slot_evictions;
    uint64_t frame_evictions;
    uint64_t remaps_rfp;      /* remap_file_pages calls */
    uint64_t remaps_mmap;     /* mmap MAP_FIXED calls */
    uint64_t copies_in;       /* copy backend: frame -> slot */
    uint64_t copies_out;      /* copy backend: dirty slot -> frame */
    uint64_t reads;           /* data file reads */
    uint64_t writes;          /* data file writes */
    uint64_t bytes_read;
    uint64_t bytes_written;
    uint64_t syncs; /* fdatasync calls */
    uint64_t dirty_frames;    /* now */
    uint64_t vmas_in_use;     /* lines of /proc/self/maps now */
    uint64_t vma_limit;       /* vm.max_map_count */
    uint64_t vma_budget;      /* mappings the window may use */
    uint64_t latch_waits;     /* fixes that had to wait for a latch */
    uint64_t opt_begins;      /* bp_opt_begin calls that returned 0 */
    uint64_t opt_failures;    /* bp_opt_validate calls that failed */
    uint64_t scan_recycles;   /* victims taken from the scan ring */
    char io_reason[96];       /* why this I/O engine */
    uint32_t checksums;       /* page trailers on */
    uint32_t pad0;
    uint64_t checksum_failures; /* reads refused as corrupt */
    uint64_t wal_flushes;       /* log_flush callbacks made */
    uint64_t wal_durable;       /* the durable LSN the pool knows */
    /* asynchronous I/O */
    uint32_t io_depth;          /* bp_set_io_depth */
    uint32_t io_registered;     /* registered with io_uring: bit 0 the file
                                   (read-ahead ring), bit 1 its bounce
                                   buffers, bit 2 the frames (linear) or
                                   the window (copy) for fix misses, bit 3
                                   the same for read-ahead and write-back;
                                   BUFPOOL_IO_REGBUF=0 leaves 2 and 3 off */
    uint64_t prefetch_started;  /* reads started by bp_prefetch/read-ahead */
    uint64_t prefetch_done;     /* of those, pages that arrived */
    uint64_t prefetch_failed;   /* dropped: I/O error or checksum */
    uint64_t batch_writes;      /* page writes issued in batches */
    uint64_t flusher_rounds;    /* background flusher rounds that wrote */
    uint64_t flusher_pages;     /* pages the flusher made clean */
    /* shared fixes: "asymmetric (...)" when hot frames skip the reader's
     * store-load fence, else "fenced (why)"; see libbufpool/README.md */
    char reader_fence[64];
    uint64_t reader_barriers;   /* membarrier calls that paid for it */
    uint64_t prefetch_direct;   /* of prefetch_started, reads that landed
                                   straight in a window slot (linear: in
                                   the frame), not in a bounce buffer nor
                                   staged (io_staged bit 0) */
    uint32_t io_coop;           /* 1: the asynchronous ring completes
                                   cooperatively (bp_set_io_coop) */
    uint32_t io_staged;         /* bp_set_io_stage: bit 0 read-ahead and
                                   bit 1 fix misses are staged; bit 2 a
                                   fix miss (staged, or copy's) submits its
                                   read before it takes a frame and slot
                                   (reads_early; not with
                                   BUFPOOL_IO_EARLY=0); bit 3 I/O
                                   buffers are advised into huge pages
                                   (THP not "never", no
                                   BUFPOOL_IO_HUGEPAGE=0); bit 4 a
                                   hypervisor was seen (AUTO's input) */
    uint64_t reads_early;       /* fix-miss reads submitted as soon as the
                                   page was missed, whose bytes were used
                                   (io_staged bit 2) */
    uint64_t copies_home;       /* copy backend: a page read into its slot
                                   copied into its clean frame when the
                                   slot let it go (none when the frame
                                   went too) */
    /* a shared cache (BP_ATTACH); 0 in a private pool */
    uint32_t shared;            /* 1: opened BP_ATTACH */
    uint32_t procs_attached;    /* processes attached now (this one too) */
    uint64_t peer_reaps;        /* dead processes' entries this process
                                   cleaned (bp_reap, a wait that found the
                                   holder dead, an attach) */
    uint64_t peer_frames;       /* frames a dead process held exclusive or
                                   BUSY that this process took back */
    /* a shared cache that no process held at this open (all closed it or
     * died) is revived instead of built anew when the data file is
     * unchanged since its last synced write: its clean, unlatched frames
     * (whose checksums hold) serve again without a read */
    uint64_t revived_frames;    /* frames this open kept that way */
    uint64_t revive_dropped;    /* frames it dropped: dirty (never
                                   flushed), mid-write, latched or torn */
    char cache_origin[160];     /* "built new", "joined", "revived: ..." or
                                   "built new: ... not trusted (why)" */
    /* replacement (bp_set_replacement) */
    uint32_t replacement;       /* bp_replacement */
    uint32_t pad1;
    uint64_t admit_kept;        /* newcomers kept: a used frame went */
    uint64_t admit_dropped;     /* newcomers evicted, used less than the
                                   frame the hand offered */
    /* the kmod backend */
    uint64_t remaps_kmod;       /* BPWIN_OP_MAP ioctls */
    uint64_t guard_protects;    /* guard mode: BPWIN_OP_PROTECT ioctls */
    uint32_t guard;             /* 1: bp_set_guard on (kmod only) */
    uint32_t pad2;
    /* time spent in data-file I/O: a synchronous transfer from its start
     * to its end, an asynchronous one (read-ahead, batched write-back)
     * from taking its request to its completion being seen, a fix miss's
     * early read from its submission to its take; mean latency
     * = read_ns / reads, write_ns / writes */
    uint64_t read_ns;
    uint64_t write_ns;
} bp_stats;

/* Fill *st with a snapshot of the configuration and the counters.  Each
 * counter is exact; their sum at one instant is not.  Works in any state
 * (a pool never opened reports its options and zero counters).  Takes the
 * window lock briefly and reads /proc/self/maps: not for hot paths.
 *
 * @param p     the pool
 * @param st    receives the snapshot
 * @param size  sizeof *st as the caller knows it: a smaller size (a
 *              caller built against an older bp_stats) gets the fields
 *              that fit, and st->size says how many bytes were filled
 * @return 0, or
 *   -EINVAL  p or st is NULL, or size is below 8 (version and size) */
int bp_stats_get(bp_pool *p, bp_stats *st, size_t size);

/* Name of a backend.
 *
 * @param b  a bp_backend
 * @return "auto", "rfp", "mmap", "copy", "linear" or "kmod"
 *         (bp_stats.backend's names, BUFPOOL_BACKEND's values), "unknown"
 *         for anything else; static, never NULL.  Cannot fail. */
const char *bp_backend_name(bp_backend b);

#ifdef __cplusplus
}
#endif
#endif /* BUFPOOL_H */
