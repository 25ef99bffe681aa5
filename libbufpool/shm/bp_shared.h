/*
 * bp_shared.h - everything that lives in the shm file, and nothing else.
 *
 * The shm file is the cache that every attached process shares (a private
 * pool is the case of one process).  Its layout is declared here alone:
 * the header with its control lines, the frame descriptors, the process
 * table, their offsets, sizes and static asserts, and the layout version.
 * Process-private state (window, window table, reader slots, I/O engine,
 * the window lock) is in struct bp_pool (platform/bp_handle.h).
 *
 * All positions are byte offsets from the start of the file; shared data
 * holds offsets and indexes, never pointers, so processes map it at
 * different addresses:
 *
 *   0             struct bp__shm_hdr (identity, control lines, page-table
 *                 partitions: BP__SHM_HDR_SIZE bytes)
 *   procs_off     struct bp__proc[sh_nprocs]       process table
 *   frames_desc   struct bp__frame[nframes]        frame descriptors
 *   words         uint64_t[nframes]                frame state words
 *   ptab          uint32_t[ptab_mask + 1]          page table buckets: first
 *                                                  frame + 1 of each chain
 *   dmap          uint32_t[BP__DMAP_SPAN*nframes]  direct page index: frame
 *                                                  + 1 of page pgno, 0 none
 *   freq          uint8_t[sh_freq_mask + 1]        use counts by page number
 *                                                  (bp_freq.c)
 *   admit         uint64_t[bp__admit_len(nframes)] recently filled frames,
 *                                                  oldest first (bp_freq.c)
 *   stats         BP__STAT_PROC_BYTES * BP__PROCS  each process's counters
 *                 + struct bp__stat_retired        and what left processes
 *                                                  counted (bp_statshm.c)
 *   frames_off    nframes * page_size bytes        cache frames (page aligned)
 *
 * The same layout for 32-bit and 64-bit processes: fixed-width fields at
 * offsets pinned below (an i386 struct aligns uint64_t to 4 only, so every
 * offset is asserted), 8-byte atomics that are lock-free on both ABIs
 * (cmpxchg8b on i386), and locks that are 32-bit futex words, never
 * pthread mutexes (whose size differs between the ABIs).  The arrays after
 * the header start at offsets rounded up to 64 (bp_shm.c).
 *
 * Who writes what: the identity part only the creator, before it writes
 * sh_magic (last, release); attachers check it and never write it.  Every
 * other shared field is written with atomics, under the lock its comment
 * names.
 */
#ifndef BP_SHARED_H
#define BP_SHARED_H

#include <stddef.h>
#include <stdint.h>

#define BP__SHM_MAGIC 0x4250534d48444232ull /* "BPSMHDB2" */
#define BP__LAYOUT_VERSION 6u
#define BP__DMAP_SPAN 2u /* the direct page index covers pages below
                            BP__DMAP_SPAN * nframes (bp_ptab.c) */
#define BP__FREQ_SPAN 4u /* use counters: the power of two at or above
                            BP__FREQ_SPAN * nframes (bp_freq.c) */
#define BP__ADMIT_SHARE 100u /* the admission ring holds nframes / this
                                frames, at least one (bp_freq.c) */
#define BP__PARTS 64   /* page-table partitions */
#define BP__PROCS 128  /* processes attached at once, at most */

/* Each process's counters live in the file (bp_statshm.c), so that bpstat
 * reads a live cache without asking its processes: BP__STAT_SHARDS shards
 * of BP__STAT_SHARD_BYTES (platform.h's struct bp__shard: the counters,
 * then the held-fix count) and BP__STAT_READERS reader blocks of
 * BP__STAT_READER_BYTES (struct bp__readers) per process-table slot. */
#define BP__STAT_SHARDS 64
#define BP__STAT_SHARD_BYTES 384
#define BP__STAT_CTRS (BP__STAT_SHARD_BYTES / 8 - 1) /* counters, at most */
#define BP__STAT_READERS 32
#define BP__STAT_READER_BYTES 128
#define BP__STAT_PROC_BYTES                                                    \
    (BP__STAT_SHARDS * BP__STAT_SHARD_BYTES +                                  \
     BP__STAT_READERS * BP__STAT_READER_BYTES)

/* Byte offsets of the shm file used as OFD lock names (fcntl
 * F_OFD_SETLK; the kernel drops a dead process's locks): */
#define BP__LOCKB_INIT 0  /* exclusive while a process creates, checks or
                             removes the cache */
#define BP__LOCKB_ATTACH 1 /* held shared by every attached process: the
                              one that can take it exclusive is alone */
#define BP__LOCKB_PROC 64 /* + slot: held exclusive by the slot's owner
                             (its liveness: unlocked = no live owner) */

/* Sizes of the use counts and the admission ring for n frames. */
static inline uint64_t bp__freq_len(uint64_t n)
{
    uint64_t len = 64;

    while (len < BP__FREQ_SPAN * n)
        len <<= 1;
    return len;
}

static inline uint64_t bp__admit_len(uint64_t n)
{
    return n / BP__ADMIT_SHARE ? n / BP__ADMIT_SHARE : 1;
}

/* ---- frame descriptors ----------------------------------------------------
 * Each frame has a state word (bp_latch.h: latch, version, usage,
 * DIRTY/WB/SCAN), packed 8 bytes apart in their own array like vmcache's
 * page states.  fr_pgno changes only with the frame BUSY, under the page's
 * partition lock, but is read without it, so all accesses are atomic.
 * fr_maps counts this process's window slots on the frame in a private
 * pool; in a shared cache a window slot is only a hint (bp_window.c) and
 * fr_maps is not kept. */
struct bp__frame {
    uint64_t fr_pgno;  /* BP__NOPAGE when free */
    uint32_t fr_maps;  /* private pools: window slots mapping this frame */
    uint32_t fr_next;  /* page table chain: next frame + 1, 0 = end */
};

/* ---- process table --------------------------------------------------------
 * Slot i belongs to the process holding lock byte BP__LOCKB_PROC + i
 * exclusive; pr_pid is written after the lock is taken and cleared before
 * it is let go, so a slot whose lock is free has no live owner whatever
 * pr_pid says (a dead process's entry is cleaned by whoever takes the
 * lock next: bp_reap.c).
 *
 * pr_anon counts the latches of the process that no latch word names:
 * shared latches (a shared fix, a flush's write-out).  It is raised before
 * such a latch is taken and lowered after it is let go, so it is never
 * below the number held: a dead process whose count is 0 held none, and
 * one whose count is not 0 may have (its cache is then poisoned).  Split
 * in lines by thread shard, so threads of one process do not share one. */
#define BP__ANON_SHARDS 8
struct bp__proc_anon {
    int64_t pa_n;
    uint8_t pa_pad[56];
};
struct bp__proc {
    uint32_t pr_pid;    /* 0: free */
    uint32_t pr_bits;   /* 32 or 64: the owner's ABI */
    uint64_t pr_epoch;  /* attaches so far when it attached */
    uint8_t pr_pad[48];
    struct bp__proc_anon pr_anon[BP__ANON_SHARDS];
};

/* What processes that left the cache (closed, or died and were reaped)
 * had counted, so that the cache's totals only grow.  A process adds its
 * counters here and clears its own with sr_busy raised, then bumps
 * sr_gen: a reader whose snapshot saw sr_busy 0 and the same sr_gen
 * before and after counted nobody twice or not at all. */
struct bp__stat_retired {
    uint64_t sr_busy;  /* retirements in progress */
    uint64_t sr_gen;   /* retirements done */
    uint8_t sr_pad[48];
    uint64_t sr_c[BP__STAT_CTRS]; /* by platform.h's counter index */
    uint64_t sr_pad2;
};

/* ---- page-table partitions -------------------------------------------------
 * One cache line each: the partition's lock (a futex word, bp_shlock.c)
 * and the count of pages inserted into it (early reads compare it:
 * bp_io_early.c). */
struct bp__shpart {
    uint32_t sp_lock;
    uint32_t sp_pad;
    uint64_t sp_gen;
    uint8_t sp_pad2[48];
};

/* ---- the header ------------------------------------------------------------ */
struct bp__shm_hdr {
    /* identity: the creator's, checked by every attacher (bp_shm.c) */
    uint64_t sh_magic;       /* written last */
    uint32_t sh_version;     /* BP__LAYOUT_VERSION */
    uint32_t sh_page_size;
    uint64_t sh_nframes;
    uint64_t sh_frames_desc; /* offset of struct bp__frame[] */
    uint64_t sh_words;       /* offset of the uint64_t state words */
    uint64_t sh_ptab;        /* offset of the page table */
    uint64_t sh_ptab_mask;   /* page table buckets - 1 (power of two) */
    uint64_t sh_frames_off;  /* offset of frame 0 */
    uint64_t sh_file_size;   /* whole shm file */
    uint64_t sh_layout;      /* BP__LAYOUT_SIG of the creator's build */
    uint64_t sh_data_dev;    /* the data file: st_dev, st_ino */
    uint64_t sh_data_ino;
    uint64_t sh_procs_off;   /* offset of struct bp__proc[] */
    uint32_t sh_nprocs;
    uint32_t sh_shared;      /* 1: a shared cache (BP_ATTACH) */
    uint32_t sh_checksums;   /* pages carry the checksum trailer */
    uint32_t sh_wal_offset;  /* page LSN offset, UINT32_MAX: no WAL rule */
    uint64_t sh_dmap;        /* offset of the direct page index */

    /* frame allocation (own lines: touched by every miss) */
    uint64_t sh_free_top;    /* frames [0, free_top) never used yet */
    uint64_t sh_freq_adds;   /* use counts added so far (ageing: bp_freq.c) */
    uint64_t sh_stats;       /* offset of the counters (written at build) */
    uint8_t sh_pad1[40];
    uint64_t sh_clock;       /* frame CLOCK hand */
    uint64_t sh_admit_pos;   /* the admission ring's next position */
    uint8_t sh_pad2[48];

    /* the data file and its durability, for every process */
    uint64_t sh_data_pages;  /* logical size, pages (grows under alloc) */
    uint64_t sh_disk_pages;  /* pages known to exist on disk */
    uint64_t sh_wal_durable; /* the log is durable up to here (grows) */
    uint64_t sh_attaches;    /* attaches so far (pr_epoch) */
    uint32_t sh_needs_sync;  /* a write since the last fdatasync */
    int32_t sh_sync_err;     /* sticky: errno of a failed fdatasync */
    uint32_t sh_poisoned;    /* 1: no process may trust the cache */
    uint32_t sh_alloc_lock;  /* bp_alloc_page: one new page at a time */
    uint32_t sh_flush_lock;  /* one flush or flusher round at a time */
    uint32_t sh_pad3;

    /* what the cache knows of the data file, so that a cache left by
     * processes that are gone can be trusted again (bp_shm_revive.c) */
    uint64_t sh_writes;      /* data-file writes started (bumped before) */
    uint64_t sh_stat_writes; /* sh_writes when the stat below was taken
                                after an fdatasync; UINT64_MAX: none */
    uint64_t sh_data_size;   /* the data file's size, mtime and ctime (ns) */
    uint64_t sh_data_mtime;
    uint64_t sh_data_ctime;
    uint64_t sh_data_stamp;  /* the data file's stamp (an xattr) this cache
                                wrote; 0: none could be written */
    uint64_t sh_freq;        /* offset of the use counts */
    uint64_t sh_freq_mask;   /* use counters - 1 (power of two) */
    uint64_t sh_admit;       /* offset of the admission ring */

    struct bp__shpart sh_parts[BP__PARTS];
};

#define BP__SHM_HDR_SIZE (384 + 64 * BP__PARTS)

/* The layout in one number: sizes and the word's bit layout that both
 * ABIs must agree on (all asserted below), so a build whose layout
 * differs is refused at attach even if its version was not bumped. */
#define BP__LAYOUT_SIG                                                        \
    (((uint64_t)sizeof(struct bp__shm_hdr) << 40) |                           \
     ((uint64_t)sizeof(struct bp__frame) << 32) |                             \
     ((uint64_t)(sizeof(struct bp__proc) / 64) << 24) |                       \
     ((uint64_t)BP__PARTS << 16) | ((uint64_t)BP__PROCS << 4) |               \
     ((uint64_t)BP__DMAP_SPAN << 12) |                                        \
     ((uint64_t)(BP__STAT_SHARD_BYTES / 128) << 56) |                         \
     (uint64_t)(BP_W_LATCH_SHIFT - 48))

_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
               "shared 8-byte words must be lock-free");
_Static_assert(__atomic_always_lock_free(sizeof(uint32_t), 0),
               "shared 4-byte words must be lock-free");
_Static_assert(sizeof(struct bp__frame) == 16 &&
                   offsetof(struct bp__frame, fr_pgno) == 0 &&
                   offsetof(struct bp__frame, fr_maps) == 8 &&
                   offsetof(struct bp__frame, fr_next) == 12,
               "frame descriptor layout");
_Static_assert(sizeof(struct bp__proc) == 64 + 64 * BP__ANON_SHARDS &&
                   sizeof(struct bp__proc_anon) == 64 &&
                   offsetof(struct bp__proc, pr_pid) == 0 &&
                   offsetof(struct bp__proc, pr_bits) == 4 &&
                   offsetof(struct bp__proc, pr_epoch) == 8 &&
                   offsetof(struct bp__proc, pr_anon) == 64,
               "process table layout");
_Static_assert(sizeof(struct bp__stat_retired) ==
                   64 + 8 * (BP__STAT_CTRS + 1) &&
                   offsetof(struct bp__stat_retired, sr_gen) == 8 &&
                   offsetof(struct bp__stat_retired, sr_c) == 64,
               "retired counters layout");
_Static_assert(sizeof(struct bp__shpart) == 64 &&
                   offsetof(struct bp__shpart, sp_lock) == 0 &&
                   offsetof(struct bp__shpart, sp_gen) == 8,
               "partition layout");
_Static_assert(offsetof(struct bp__shm_hdr, sh_magic) == 0 &&
                   offsetof(struct bp__shm_hdr, sh_version) == 8 &&
                   offsetof(struct bp__shm_hdr, sh_page_size) == 12 &&
                   offsetof(struct bp__shm_hdr, sh_nframes) == 16 &&
                   offsetof(struct bp__shm_hdr, sh_frames_desc) == 24 &&
                   offsetof(struct bp__shm_hdr, sh_words) == 32 &&
                   offsetof(struct bp__shm_hdr, sh_ptab) == 40 &&
                   offsetof(struct bp__shm_hdr, sh_ptab_mask) == 48 &&
                   offsetof(struct bp__shm_hdr, sh_frames_off) == 56 &&
                   offsetof(struct bp__shm_hdr, sh_file_size) == 64 &&
                   offsetof(struct bp__shm_hdr, sh_layout) == 72 &&
                   offsetof(struct bp__shm_hdr, sh_data_dev) == 80 &&
                   offsetof(struct bp__shm_hdr, sh_data_ino) == 88 &&
                   offsetof(struct bp__shm_hdr, sh_procs_off) == 96 &&
                   offsetof(struct bp__shm_hdr, sh_nprocs) == 104 &&
                   offsetof(struct bp__shm_hdr, sh_shared) == 108 &&
                   offsetof(struct bp__shm_hdr, sh_checksums) == 112 &&
                   offsetof(struct bp__shm_hdr, sh_wal_offset) == 116 &&
                   offsetof(struct bp__shm_hdr, sh_dmap) == 120,
               "shm header identity layout");
_Static_assert(offsetof(struct bp__shm_hdr, sh_free_top) == 128 &&
                   offsetof(struct bp__shm_hdr, sh_freq_adds) == 136 &&
                   offsetof(struct bp__shm_hdr, sh_stats) == 144 &&
                   offsetof(struct bp__shm_hdr, sh_clock) == 192 &&
                   offsetof(struct bp__shm_hdr, sh_admit_pos) == 200 &&
                   offsetof(struct bp__shm_hdr, sh_data_pages) == 256 &&
                   offsetof(struct bp__shm_hdr, sh_disk_pages) == 264 &&
                   offsetof(struct bp__shm_hdr, sh_wal_durable) == 272 &&
                   offsetof(struct bp__shm_hdr, sh_attaches) == 280 &&
                   offsetof(struct bp__shm_hdr, sh_needs_sync) == 288 &&
                   offsetof(struct bp__shm_hdr, sh_sync_err) == 292 &&
                   offsetof(struct bp__shm_hdr, sh_poisoned) == 296 &&
                   offsetof(struct bp__shm_hdr, sh_alloc_lock) == 300 &&
                   offsetof(struct bp__shm_hdr, sh_flush_lock) == 304 &&
                   offsetof(struct bp__shm_hdr, sh_writes) == 312 &&
                   offsetof(struct bp__shm_hdr, sh_stat_writes) == 320 &&
                   offsetof(struct bp__shm_hdr, sh_data_size) == 328 &&
                   offsetof(struct bp__shm_hdr, sh_data_mtime) == 336 &&
                   offsetof(struct bp__shm_hdr, sh_data_ctime) == 344 &&
                   offsetof(struct bp__shm_hdr, sh_data_stamp) == 352 &&
                   offsetof(struct bp__shm_hdr, sh_freq) == 360 &&
                   offsetof(struct bp__shm_hdr, sh_freq_mask) == 368 &&
                   offsetof(struct bp__shm_hdr, sh_admit) == 376,
               "shm header control layout");
_Static_assert(offsetof(struct bp__shm_hdr, sh_parts) == 384 &&
                   sizeof(struct bp__shm_hdr) == BP__SHM_HDR_SIZE,
               "shm header size");

#endif
