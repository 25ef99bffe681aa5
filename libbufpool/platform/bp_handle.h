/*
 * bp_handle.h - struct bp_pool, the handle every layer works on.
 *
 * The handle is the one record the layers share: each group of fields
 * below names the layer that owns it, which sets it up at its open and
 * keeps it; bp_open and the teardown (api/bp_pool.c) also set the
 * options, reset fields between opens and record the backend chosen
 * (p->be).  Types of higher layers appear only as pointers to incomplete
 * structs, so this header needs nothing above the platform layer; their
 * definitions are in the owning layer's header.  The shm file's layout
 * is shm/bp_shared.h; p->meta and the pointers into it are offsets made
 * addresses in this process (bp_shm.c), never stored in the file.
 */
#ifndef BP_HANDLE_H
#define BP_HANDLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bufpool.h"

struct bp__aio;
struct bp__backend_ops;
struct bp__frame;
struct bp__io_ops;
struct bp__proc;
struct bp__readers;
struct bp__shard;
struct bp__shm_hdr;
struct bp__slot;

/* ---- open-addressing hash of window slot indexes keyed by pgno ----------
 * (window/bp_htab.c; a field of the handle, hence defined here)
 * Entries hold slot index + 1 (0 = empty); the key of an entry is the slot's
 * sl_pgno (a fixed record type, so a probe is a shift and a load).  Linear
 * probing with backward-shift deletion: no tombstones, so lookups stay
 * short. */
struct bp__htab {
    uint32_t *ht_ent;
    uint64_t ht_mask;
    struct bp__slot *ht_slots; /* the records whose sl_pgno are the keys */
    unsigned ht_shift;         /* 64 - log2(entries): see bp__htab_home */
};

#define BP__RING 32 /* pages a scan cycles through (PostgreSQL: 256 KiB) */
/* The frame ring also holds the scan's read-ahead in flight (up to two
 * windows of bp__scan_ahead's step, at most 64 pages each): its length is
 * BP__RING + 2 * step, at most a quarter of the cache (bp_open). */
#define BP__RING_FRAMES_MAX (BP__RING + 2 * 64)

struct bp_pool {
    /* options (api: bp_options.c; read by every layer) */
    bp_allocator po_alloc;
    uint32_t po_page_size;
    uint64_t po_cache_bytes;  /* 0 when frames given */
    uint64_t po_cache_frames; /* 0 when bytes given */
    uint64_t po_window_bytes;
    uint64_t po_addr_budget; /* bp_set_address_budget; 0: none of its own */
    uint64_t po_window_slots;
    bp_backend po_backend;
    bp_prefault po_prefault;
    bp_replacement po_replacement;
    int po_mlock;
    int po_guard; /* bp_set_guard / BUFPOOL_GUARD (kmod) */
    char *po_shm_name; /* NULL: memfd */
    unsigned po_shm_mode; /* 0600 (0) or a group mode (bp_set_shm_mode) */
    unsigned po_wait_ms;  /* bp_set_wait_limit: 0 no limit */
    int po_shm_keep;
    uint32_t po_dio_align_override;
    bp_io_engine po_io_engine;
    int po_checksums;
    unsigned po_io_depth;      /* async requests in flight at most */
    int po_io_coop;            /* bp_set_io_coop */
    bp_io_stage po_io_stage;   /* bp_set_io_stage */
    unsigned po_flusher_pct;   /* 0: no background flusher */
    size_t po_wal_offset;
    bp_log_flush_fn po_wal_fn;
    void *po_wal_ctx;

    /* state (api: bp_pool.c) */
    int state; /* enum bp__state */
    pthread_mutex_t lock;    /* the window lock: slot replacement, wtab */
    pthread_mutex_t io_lock; /* the I/O slot */
    pthread_mutex_t aio_init_lock; /* creating p->aio */
    struct bp__aio *aio;           /* bp_aio.c; NULL until first used */
    uint64_t err_id; /* this handle's number, never reused: bp_errmsg's
                        thread-local message names the pool by it */
    int forked;      /* a child's copy (bp_fork.c): close touches nothing
                        shared, joins no thread, takes no lock */
    bp_pool *fork_next, *fork_prev; /* open pools (bp_fork.c) */

    /* data file (io) */
    int data_fd;
    int direct_io;
    int rdonly; /* opened BP_RDONLY: no page is ever written */
    uint32_t dio_align;
    uint64_t data_dev, data_ino; /* the data file's identity */
    const char *io_path; /* the data file's path: bp_open's argument, for
                            messages during bp_open only */
    uint64_t file_pages;      /* the data file's size at open, pages (the
                                 shared sh_data_pages/sh_disk_pages track
                                 it from then on) */
    const struct bp__io_ops *io;
    void *io_priv;            /* the engine's own state (io_uring ring) */
    char io_reason[96];       /* why this engine */

    /* shm cache (shm) */
    int shm_fd;
    int shared;          /* BP_ATTACH: a cache other processes may share */
    int shm_created;     /* this open created (or rebuilt) the file */
    char cache_origin[160]; /* built new, joined, or revived (and why) */
    int shm_init_held;   /* holds the init lock byte (bp_shm.c) */
    int proc_held;       /* holds its process table entry's lock byte */
    struct bp__proc *procs; /* the process table (in p->meta) */
    uint64_t *disk_pages;  /* &meta->sh_disk_pages, &meta->sh_wal_durable: */
    uint64_t *wal_durable; /* the I/O layer's view of the shm header */
    uint32_t proc_slot;  /* this process's entry in the process table */
    uint32_t proc_tag;   /* proc_slot + 1: what this process writes into
                            the shared locks it holds */
    int futex_private;   /* FUTEX_PRIVATE_FLAG: only this process maps
                            the shm file (a private pool) */
    /* the reaper (bp_reap.c), set by bp__shm_open: a shared cache's latch
     * and lock waits call it when a holder may be dead */
    int (*reap_slot)(bp_pool *p, uint32_t slot);
    int (*reap_all)(bp_pool *p);
    char *shm_path; /* NULL for memfd */
    size_t shm_path_len;
    struct bp__shm_hdr *meta;
    size_t meta_len;
    struct bp__frame *frames;
    uint64_t *words; /* frame state words (bp_latch.h) */
    uint32_t *ptab;       /* bucket heads (bp_ptab.c) */
    uint64_t ptab_mask;
    uint32_t *dmap;       /* direct page index (bp_ptab.c) */
    uint64_t dmap_n;      /* pages it covers: [0, dmap_n) */
    uint8_t *freq;        /* use counts by page number (bp_freq.c) */
    uint64_t freq_mask;
    uint64_t *admit;      /* the admission ring (bp_freq.c) */
    uint32_t admit_n;
    uint64_t nframes;

    /* window (window) */
    const struct bp__backend_ops *be;
    char be_reason[160];
    uint32_t nslots;
    uint32_t slot_clock;
    uint64_t window_bytes;
    char *window;   /* slot i at window + i * page_size (linear: frames) */
    char *io_slot;  /* one page mapping used to write frames not in a slot */
    char *io_reg_base;   /* memory rings register as buffers (bp_uring_reg.c) */
    unsigned io_stage;   /* BP__STAGE_* bits, set at open (bp_iomem.c) */
    size_t io_thp;       /* huge page size I/O buffers align to, or 0 */
    char *io_land;       /* staged fix misses: one page per lane */
    size_t io_land_len;
    uint64_t io_reg_len; /* 0: none */
    uint32_t io_slot_frame;
    struct bp__slot *slots;
    struct bp__htab wtab; /* pgno -> slot */
    uint32_t *wtab_ent;
    uint64_t vma_limit, vma_budget;
    int prefault_flags_rfp;  /* flags for remap_file_pages */
    int prefault_flags_mmap; /* extra mmap flags */
    int kmod_fd1;            /* kmod: the device's fd + 1; 0: none */
    uint32_t kmod_map_flags; /* kmod: BPWIN_PROT_* | BPWIN_MAP_POPULATE */
    uint64_t kmod_frame0;    /* kmod: the module's number of frame 0 */
    uint8_t *kmod_prot;      /* kmod guard mode: each slot's BPWIN_PROT_* */

    /* scan rings (pool; BP_SCAN): recently scanned frames and slots, reused
     * first by the next scan miss; under p->lock */
    uint32_t ring_frames[BP__RING_FRAMES_MAX];
    uint32_t ring_slots[BP__RING];
    uint32_t ring_frame_pos, ring_slot_pos;
    uint32_t ring_frames_len; /* frames in the ring: set at open */

    /* statistics (platform: bp_counters.c; shm: bp_statshm.c) */
    struct bp__shard *shards; /* BP__SHARDS of them, line aligned: in the
                                 shm file while open (bp_statshm.c) */
    struct bp__shard *shards_aligned; /* the private copy */
    void *shards_raw;
    /* what a layer records of its set-up for bp_stats (atomic stores and
     * loads): the io_registered bits of the asynchronous engine (pool:
     * bp_aio.c, 0 while it has none) and of the fix-miss lanes (io:
     * bp_io_uring.c), and the engine's COOP_TASKRUN */
    unsigned st_aio_registered, st_uring_registered;
    int st_aio_coop;

    /* reader slots (shm: bp_readers.c): BP__READERS blocks (this
     * process's; in the shm file while open, like the shards) */
    struct bp__readers *readers; /* line aligned */
    struct bp__readers *readers_aligned; /* the private copy */
    void *readers_raw;
    int rd_unfenced;      /* UNFENCED allowed: membarrier registered */
    uint32_t rd_sample;   /* BP__HOT_SAMPLE - 1, or 0 (every hit counts) */
    char rd_fence[64];    /* how shared fixes fence, and why */
    uint64_t id; /* unique per open, for threads' caches of their block */

    /* the background flusher (pool: bp_flush.c) */
    pthread_t flusher;
    pthread_mutex_t flusher_lock; /* only around its wait */
    pthread_cond_t flusher_cond;  /* close wakes it */
    int flusher_on, flusher_stop;
};

#endif
