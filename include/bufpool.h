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
 * window slot with one of four backends (remap_file_pages, mmap MAP_FIXED per
 * slot, copy into a private slot, or one linear map of the whole cache).
 *
 * Life cycle (LMDB style):
 *
 *     bp_pool *p;
 *     bp_create(&p, NULL);                 // NULL: libc malloc/free
 *     bp_set_page_size(p, 16384);
 *     bp_set_cache_size(p, 1u << 30);
 *     bp_set_window_size(p, 64u << 20);
 *     int rc = bp_open(p, "table.db", BP_CREATE);
 *     if (rc) { fprintf(stderr, "%s: %s\n", bp_strerror(rc), bp_errmsg(p)); }
 *     bp_page pg;
 *     bp_fix(p, 7, BP_EXCLUSIVE, &pg);     // pg.data -> page 7 in the window
 *     memcpy(pg.data, "hello", 5);
 *     bp_unfix(p, &pg, BP_DIRTY);
 *     bp_flush(p);                          // write + fdatasync
 *     bp_close(p);                          // -EBUSY while pages are fixed
 *
 * Errors: every function that can fail returns an int: 0 on success, a
 * negative errno, or a negative library code (BP_E*, below).  bp_strerror()
 * names every code; bp_errmsg() gives the detail of the last failure on a
 * pool (which numbers, which file, what to change).  Nothing is printed and
 * nothing aborts on bad input.
 *
 * Threads: a pool may be used by many threads at once.  A page fixed
 * shared by one thread may be unfixed by another; an exclusive fix is
 * unfixed by the thread that took it (see bp_flush).  The pool handle itself
 * must not be closed while other threads use it.
 */
#ifndef BUFPOOL_H
#define BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_VERSION_MAJOR 0
#define BP_VERSION_MINOR 1
#define BP_VERSION_PATCH 0

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
      "with BP_NOWAIT fixes")

enum {
#define BP__ERR_ENUM(name, val, msg) name = (val),
    BP_ERRNO_MAP(BP__ERR_ENUM)
#undef BP__ERR_ENUM
};

/* Name of any return code: 0, a negative errno or a BP_E* code.  The
 * string is static; never NULL. */
const char *bp_strerror(int err);

/* ---- Handles and options ------------------------------------------------ */

typedef struct bp_pool bp_pool;

/* Allocator hook: the library allocates its private memory (the pool
 * struct, the window's slot table) only through these.  NULL in bp_create()
 * means libc malloc/free.  The hook must outlive the pool. */
typedef struct bp_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} bp_allocator;

typedef enum bp_backend {
    BP_BACKEND_AUTO = 0, /* calibrate at open among the allowed backends */
    BP_BACKEND_RFP,      /* remap_file_pages() inside one shared window */
    BP_BACKEND_MMAP,     /* mmap(MAP_SHARED|MAP_FIXED) of the frame per slot */
    BP_BACKEND_COPY,     /* private window, copy in on map, copy back dirty */
    BP_BACKEND_LINEAR    /* whole cache mapped once (64-bit only); the
                            window size is ignored (slots == frames), so a
                            fix of any cached page is a window hit */
} bp_backend;

typedef enum bp_prefault {
    BP_PREFAULT_POPULATE = 0, /* page tables filled when a slot is mapped */
    BP_PREFAULT_NONBLOCK,     /* MAP_NONBLOCK: not populated, fault on touch */
    BP_PREFAULT_LAZY          /* no populate flag at all: fault on touch */
} bp_prefault;

/* Create an empty pool handle with default options.  alloc may be NULL. */
int bp_create(bp_pool **out, const bp_allocator *alloc);

/* Options: valid only before bp_open() (else BP_ESTATE). */
int bp_set_page_size(bp_pool *p, size_t bytes);     /* default 8192 */
int bp_set_cache_size(bp_pool *p, uint64_t bytes);  /* default 64 MiB */
int bp_set_cache_frames(bp_pool *p, uint64_t frames);
/* Window size in bytes; 0 = automatic (a quarter of the cache, kept inside
 * the VMA budget and, on 32-bit, at most 256 MiB). */
int bp_set_window_size(bp_pool *p, uint64_t bytes);
int bp_set_window_slots(bp_pool *p, uint64_t slots);
/* The environment variable BUFPOOL_BACKEND (auto|rfp|mmap|copy|linear)
 * overrides this at open. */
int bp_set_backend(bp_pool *p, bp_backend b);
int bp_set_prefault(bp_pool *p, bp_prefault pf);
/* Lock the window in memory (mlock / MAP_LOCKED).  Default off. */
int bp_set_mlock(bp_pool *p, int on);
/* Backing file: name == NULL (default) uses an anonymous memfd.  A name
 * without '/' is created in /dev/shm; a name with '/' is used as a path.
 * The file must not exist (O_EXCL: an existing name is refused, never
 * reused or followed).  keep != 0 leaves the file in place at close. */
int bp_set_shm(bp_pool *p, const char *name, int keep);

/* Data-file I/O engine.  AUTO (default) uses io_uring when the kernel
 * allows it and falls back to pread/pwrite when it refuses (EPERM, ENOSYS,
 * ENOMEM, a missing opcode); bp_stats says which runs and why.  The
 * environment variable BUFPOOL_IO (auto|sync|uring) overrides this at open.
 * URING fails the open when io_uring cannot be had. */
typedef enum bp_io_engine {
    BP_IO_AUTO = 0,
    BP_IO_SYNC,
    BP_IO_URING
} bp_io_engine;
int bp_set_io_engine(bp_pool *p, bp_io_engine e);

/* Asynchronous I/O (prefetch, read-ahead, batched write-back): at most
 * depth requests in flight at once, 1..1024, default 32.  With io_uring
 * the requests share one ring with the data file (and, where
 * RLIMIT_MEMLOCK allows, depth page buffers) registered; on the sync engine
 * a helper thread does the same work one request at a time. */
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
 * that thread's next tick (a few milliseconds at most). */
int bp_set_io_coop(bp_pool *p, int on);

/* Staged reads (linear backend): a data-file read lands in a small buffer
 * inside one transparent huge page and is then copied into its frame,
 * instead of landing in the frame.  On the virtual machine measured
 * (README) that was 4-22% faster at depths 8 and 32 (neutral at depth 1):
 * the frames are spread over the whole cache and each is made of separate
 * 4 KiB pages, and there each segment and each distinct page a read lands
 * in costs.  On bare metal the copy is pure cost.  AUTO (default) stages
 * under a hypervisor only; the environment variable BUFPOOL_IO_STAGE
 * (auto|on|off) overrides this at open; bp_stats.io_staged says what
 * runs.  Read-ahead stages on either engine, fix misses on io_uring; a
 * staged fix miss also submits its read before it takes a frame (2-3%
 * at depth 1 there; bp_stats.reads_early, BUFPOOL_IO_EARLY=0 turns it
 * off).  Other backends read into their window slots; on io_uring, unless
 * staging is OFF, the copy backend's fix misses also read early (into a
 * landing page, then copied into the slot: io_staged bit 2 without bit
 * 1), and its read-ahead lands in its request's buffer, sent before the
 * slot's old page is copied home, then copied into the slot (io_staged
 * bit 0).  The copy backend's window and all read buffers are huge-page
 * backed wherever THP is not "never". */
typedef enum bp_io_stage {
    BP_STAGE_AUTO = 0,
    BP_STAGE_OFF,
    BP_STAGE_ON
} bp_io_stage;
int bp_set_io_stage(bp_pool *p, bp_io_stage s);

/* Background flusher (default off): a thread that, every few milliseconds,
 * writes the dirty unlatched frames among the next pct percent of frames
 * ahead of the replacement hand in one batch, fdatasyncs, and marks them
 * clean, so that a fix miss rarely has to write a victim first.  pct
 * 1..100; 0 turns it off.  It follows bp_flush's rules (clean only after
 * the write and a later fdatasync succeeded; the sticky sync error stops
 * it). */
int bp_set_flusher(bp_pool *p, unsigned pct);

/* Page checksums (default off).  On: the last BP_PAGE_TRAILER bytes of
 * every page are the library's: CRC32C of the rest of the page and the
 * page number, set when the page is written and checked when it is read.
 * A mismatch, or another page's number (a misdirected or torn write, a
 * flipped bit), fails the fix with BP_ECORRUPT naming the page; the frame
 * is not handed out.  A page of zeros (allocated, never written) passes.
 * Engines must not write into the trailer. */
#define BP_PAGE_TRAILER 16u
int bp_set_checksums(bp_pool *p, int on);

/* Write-ahead-log rule (optional, as PostgreSQL's XLogFlush before a
 * buffer write).  The page LSN is a uint64_t in host byte order at byte
 * lsn_offset of every page.  Before writing a dirty page whose LSN is
 * beyond the last durable LSN it knows, the pool calls log_flush(ctx, lsn),
 * which must make the log durable up to lsn and return 0; a nonzero return
 * fails that write (the page stays dirty, the code comes back from the
 * flush or the fix that needed the frame).  The callback runs on the thread
 * that writes, holding no pool mutex; it must not fix pages of this pool.
 * Set before bp_open; lsn_offset + 8 must fit the page (and its trailer). */
typedef int (*bp_log_flush_fn)(void *ctx, uint64_t lsn);
int bp_set_wal(bp_pool *p, size_t lsn_offset, bp_log_flush_fn log_flush,
               void *ctx);
/* The log is durable up to lsn (after the engine's own log fsync): pages
 * whose LSN is at most this need no callback.  Callable any time. */
void bp_wal_durable(bp_pool *p, uint64_t lsn);

/* bp_open flags */
#define BP_CREATE 0x1u      /* create the data file if it does not exist */
#define BP_BUFFERED_IO 0x2u /* buffered I/O instead of O_DIRECT */

/* Open the data file at path (its size must be a multiple of the page size),
 * create the shm cache and the window.  On failure the pool stays closed,
 * everything it made is released, and options may be changed and bp_open
 * called again. */
int bp_open(bp_pool *p, const char *path, unsigned flags);

/* Close: with pages still fixed returns -EBUSY and leaves the pool open and
 * usable.  Otherwise writes nothing (call bp_flush() first to make dirty
 * pages durable: close does not flush, so a crash-consistent engine decides
 * when pages reach the disk), releases everything and frees the handle.
 * NULL is accepted.  A pool that was never opened is just freed. */
int bp_close(bp_pool *p);

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

/* A fixed page.  data points at the page in the window and stays valid until
 * bp_unfix().  The other fields belong to the library. */
typedef struct bp_page {
    void *data;
    uint64_t pgno;
    uint32_t bp_slot;
    uint32_t bp_gen;
} bp_page;

/* Fix page pgno (< bp_page_count()) in mode BP_SHARED or BP_EXCLUSIVE
 * (optionally | BP_SCAN, | BP_NOWAIT) and fill *out.  Waits while another
 * thread holds a conflicting latch on that page or reads it (not with
 * BP_NOWAIT: BP_EAGAIN, BP_ENOTCACHED).  Errors: BP_EPGNO, BP_ENOSLOT,
 * BP_ENOFRAME, -EIO and friends from the data file, -EINVAL for a bad mode
 * or NULL out.  On any other error *out is cleared (data NULL): a failed
 * fix never leaves a pointer into the window behind, so keep a handle you
 * still hold fixed out of it. */
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
 * shared fix and unfix inside bp_opt_begin (it may do I/O).
 * bp_opt_begin returns BP_ERETRY while the page is exclusively fixed. */
typedef struct bp_opt {
    const void *data;
    uint64_t pgno;
    uint64_t bp_version;
    uint32_t bp_frame;
    uint32_t bp_pad;
} bp_opt;

int bp_opt_begin(bp_pool *p, uint64_t pgno, bp_opt *o);
int bp_opt_validate(bp_pool *p, const bp_opt *o);

/* ---- Read-ahead -------------------------------------------------------------
 * Start reading pages into the cache and return at once: each page of
 * pgnos[] not cached yet gets a frame and a read in flight; a later bp_fix
 * of a page still in flight waits for that read instead of issuing a second
 * one.  Pages already cached or in flight are skipped; so are pages once
 * depth reads are in flight (bp_set_io_depth), and pages beyond the end of
 * the file on disk (allocated, never written).  A read that fails or does
 * not pass its checksum is dropped silently: the later bp_fix reads the page
 * itself and reports the error.  Returns the number of reads started
 * (>= 0), or an error (BP_EPGNO for a page beyond bp_page_count, before
 * anything is started; BP_ENOFRAME when no frame can be had).
 *
 * BP_SCAN fixes read ahead on their own: a scan that fixes page n also
 * prefetches the pages that follow, a window of depth / 2 pages kept one step
 * ahead. */
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
 * woken only while some thread sleeps in bp_io_wait.  Errors: -EINVAL
 * (NULL pool; bp_io_finished: NULL seq, or NULL pgnos with max > 0),
 * BP_ESTATE (not open).  bp_io_seq returns 0 for NULL or a pool that never
 * read ahead, and bp_io_finished 0 for a pool that never read ahead. */
uint64_t bp_io_seq(bp_pool *p);
int bp_io_wait(bp_pool *p, uint64_t seq, int64_t timeout_ns);
int bp_io_finished(bp_pool *p, uint64_t *seq, uint64_t *pgnos, size_t max);

#define BP_DIRTY 0x1u /* the page was modified while fixed exclusively */

/* Unfix a page fixed by bp_fix() or bp_alloc_page(); flags BP_DIRTY marks it
 * modified (only allowed with an exclusive fix: -EINVAL otherwise).  The
 * handle is cleared; unfixing it again returns BP_ENOTFIXED. */
int bp_unfix(bp_pool *p, bp_page *pg, unsigned flags);

/* Append a new zeroed page at the end of the data file and return it fixed
 * exclusively (already dirty).  The page counts in bp_page_count() at once;
 * it reaches the disk at the next bp_flush() or eviction.  On error *out is
 * cleared, as by bp_fix. */
int bp_alloc_page(bp_pool *p, bp_page *out);

/* Number of pages in the data file, including pages allocated and not yet
 * written. */
uint64_t bp_page_count(const bp_pool *p);

/* Write every dirty page to the data file and fdatasync it.  When it returns
 * 0, every page unfixed dirty before the call is durable.  A failed write
 * leaves its page dirty for the next flush.  A failed fdatasync is returned
 * once as its errno and then puts the pool in a sticky state, as PostgreSQL
 * does: the kernel may have dropped the written pages, so no later flush
 * can vouch for them; bp_flush and bp_alloc_page then return BP_ESYNC,
 * dirty frames are no longer written or evicted, and reads keep working.  A page fixed
 * exclusively by another thread is waited for (its bytes may be half
 * written); a thread that itself holds an exclusive fix gets -EDEADLK.  An
 * exclusive fix must therefore be unfixed by the thread that took it. */
int bp_flush(bp_pool *p);

/* Detail of the last error on this pool (which numbers, what to change), or
 * "" when there was none.  Valid until the next call on the pool. */
const char *bp_errmsg(const bp_pool *p);

/* ---- Statistics ------------------------------------------------------------ */

#define BP_STATS_VERSION 1

typedef struct bp_stats {
    uint32_t version; /* BP_STATS_VERSION */
    uint32_t size;    /* sizeof(bp_stats) as filled */

    /* configuration as opened */
    uint32_t page_size;
    uint32_t backend;  /* bp_backend in use (never AUTO once open) */
    uint32_t prefault; /* bp_prefault */
    uint32_t mlocked;
    uint32_t direct_io; /* 1: O_DIRECT, 0: buffered */
    uint32_t dio_align; /* alignment in force for data file I/O */
    uint64_t frames;    /* cache frames */
    uint64_t slots;     /* window slots */
    uint64_t data_pages;
    char backend_reason[160]; /* why this backend (auto's calibration) */
    char io_engine[16];       /* "io_uring" or "sync" */

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
} bp_stats;

/* Fill *st with a snapshot; size = sizeof *st (a smaller size from an older
 * caller gets the fields that fit). */
int bp_stats_get(bp_pool *p, bp_stats *st, size_t size);

/* Name of a backend ("rfp", "mmap", "copy", "linear", "auto"). */
const char *bp_backend_name(bp_backend b);

#ifdef __cplusplus
}
#endif
#endif /* BUFPOOL_H */
