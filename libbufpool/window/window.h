/*
 * window.h - the window layer: slots in this process's address space that
 * show cache frames.
 *
 * The slots and their pgno -> slot table (bp_window.c, bp_htab.c), the
 * window's memory (bp_winmap.c), one file per backend behind the ops table
 * (bp_backend_*.c), the automatic choice (bp_backend_auto.c) and the VMA
 * budget (bp_vma.c).  It calls down into the shm layer (frame latches,
 * the page table) and the I/O layer (the copy backend's write-back); the
 * cache tier above hands it the frame each miss maps.  What only the
 * layer's own files use is in window_impl.h.
 */
#ifndef BP_WINDOW_H
#define BP_WINDOW_H

#include "shm/shm.h"

/* ---- private: window slots --------------------------------------------------
 * Written under p->lock while the slot's frame is BUSY (or the slot is
 * empty); read by the lock-free hit path, hence atomic accesses. */
struct bp__slot {
    uint64_t sl_pgno;  /* BP__NOPAGE when empty */
    uint32_t sl_frame; /* BP__NONE when empty */
    uint16_t sl_gen;   /* bumped whenever the slot changes page */
    uint8_t sl_ref;    /* BP__REF_*: replacement hints, a lost update is
                          harmless (written racily, atomically) */
    uint8_t sl_dirty;  /* copy backend: BP__SL_* bits, 0 when the slot's
                          bytes equal its frame's */
};
_Static_assert(sizeof(struct bp__slot) == 16, "four slots per cache line");
#define BP__REF_USED 0x1 /* CLOCK reference bit */
#define BP__REF_SCAN 0x2 /* mapped by a BP_SCAN fix, not touched since */
/* sl_dirty (copy backend, bp_backend_copy.c): what the frame lacks */
#define BP__SL_DIRTY 0x1 /* changed by the engine: copied home, frame dirty */
#define BP__SL_HOME 0x2  /* read from disk into the slot, not yet copied
                            into its (clean) frame: copied home when the
                            slot is let go, unless the frame goes too */

static inline uint64_t bp__key_of(const struct bp__htab *h, uint32_t idx)
{
    return __atomic_load_n(&h->ht_slots[idx].sl_pgno, __ATOMIC_ACQUIRE);
}

/* Home position of key: Fibonacci hashing (one multiply, the top bits), so
 * neighbouring page numbers spread over the table. */
static inline uint64_t bp__htab_home(const struct bp__htab *h, uint64_t key)
{
    return (key * 0x9E3779B97F4A7C15ull) >> h->ht_shift;
}

/* The slot index holding key, or BP__NONE (lock-free; see bp_htab.c), with
 * slots == h->ht_slots already loaded by the caller (the hit path goes on
 * to the slot).  Inline: it is the first step of every window hit. */
static inline uint32_t bp__htab_find_in(const struct bp__htab *h,
                                        const struct bp__slot *slots,
                                        uint64_t key)
{
    uint64_t i = bp__htab_home(h, key);
    uint32_t e = __atomic_load_n(&h->ht_ent[i], __ATOMIC_ACQUIRE);

    if (e == 0)
        return BP__NONE;
    for (uint64_t n = 1, mask = h->ht_mask;; n++) {
        if (__atomic_load_n(&slots[e - 1].sl_pgno, __ATOMIC_ACQUIRE) == key)
            return e - 1;
        if (n > mask)
            return BP__NONE;
        i = (i + 1) & mask;
        if ((e = __atomic_load_n(&h->ht_ent[i], __ATOMIC_ACQUIRE)) == 0)
            return BP__NONE;
    }
}

static inline uint32_t bp__htab_find(const struct bp__htab *h, uint64_t key)
{
    return bp__htab_find_in(h, h->ht_slots, key);
}

/* ---- window backends --------------------------------------------------------
 * Chosen at open.  init() reserves p->window for p->nslots slots; map()
 * makes an unpinned slot show frame's bytes (with content == 0 the bytes
 * are about to be overwritten, so the copy backend skips its copy-in);
 * unmap() is called when a slot loses its frame (the copy backend writes a
 * dirty private copy back).  fini() releases the window; it must cope with
 * a half-done init(). */
struct bp__backend_ops {
    bp_backend id;
    const char *name;
    int (*init)(bp_pool *p);
    int (*map)(bp_pool *p, uint32_t slot, uint32_t frame, int content);
    int (*unmap)(bp_pool *p, uint32_t slot, uint32_t frame);
    void (*fini)(bp_pool *p);
};
const struct bp__backend_ops *bp__backend_ops_of(bp_backend b);
extern const struct bp__backend_ops bp__backend_linear;
/* kmod guard mode: give slot s the protection of a fix (write: read-write,
 * else read-only); 0 or an error */
int bp__kmod_protect(bp_pool *p, uint32_t slot, int write);

/* The prefault policy fills page tables at map time (POPULATE, and TOUCH
 * which reads the pages afterwards too). */
static inline int bp__prefault_populates(const bp_pool *p)
{
    return p->po_prefault == BP_PREFAULT_POPULATE ||
           p->po_prefault == BP_PREFAULT_TOUCH;
}

static inline char *bp__slot_addr(const bp_pool *p, uint32_t slot)
{
    return p->window + (size_t)slot * p->po_page_size;
}

/* VMA budget (bp_vma.c) */
int bp__vma_count(uint64_t *count);
int bp__vma_check(bp_pool *p, uint64_t slots);

/* A miss: what its page needs, and what the miss may do. */
enum bp__need { BP__NEED_NOTHING = 0, BP__NEED_READ, BP__NEED_ZERO };
/* What a miss may do for its page: read it from the data file, make it
 * new (zeroed, at the end), or only take the frame already caching it
 * (BP_NOWAIT: BP_ENOTCACHED when there is none; nothing read).  AHEAD is
 * read-ahead's reservation of a slot for a page it is about to read
 * (bp__cache_map_begin only; the cache treats it as READ). */
enum bp__get { BP__GET_READ = 0, BP__GET_FRESH, BP__GET_CACHED,
               BP__GET_AHEAD, BP__GET_OVERWRITE };

/* window tier (bp_window.c) */
uint64_t bp__window_slots_asked(const bp_pool *p); /* 0 = automatic */
int bp__window_open(bp_pool *p);
void bp__window_close(bp_pool *p);
/* A window miss in flight: reserved under p->lock by map_begin, finished
 * without it by map_finish. */
struct bp__mapping {
    uint32_t slot, frame; /* frame is BUSY, slot published for the page */
    uint32_t old_frame;   /* BUSY frame the slot showed before, or NONE */
    int old_dirty;        /* copy backend: the old slot's sl_dirty (its
                             bytes go back; BP__SL_DIRTY: frame dirty) */
    enum bp__need need;
    int held;             /* how frame is latched: 2 BUSY, 0 shared (a
                             shared cache's page fixed shared elsewhere:
                             bp__cache_get; need is NOTHING then) */
};
#define BP__WAIT 3 /* bp__cache_map_begin, bp__window_map_begin */
/* The window's half of a miss (bp__cache_map_begin): m->frame, m->need
 * and m->held come from the cache tier (bp__cache_get); reserves a slot
 * for them.  Returns as bp__cache_map_begin. */
int bp__window_map_begin(bp_pool *p, uint64_t pgno, enum bp__get how,
                         int scan, struct bp__mapping *m, uint64_t **wait);
/* No lock held: copy the slot's old page back (copy backend), release its
 * old frame, make the slot show m->frame (copy backend: its bytes copied
 * in only when the page is cached, need NOTHING).  On failure the
 * reservation is undone. */
int bp__window_map_slot(bp_pool *p, struct bp__mapping *m);
/* bp__window_map_slot, then read or zero the page.  On failure the
 * reservation is undone. */
int bp__window_map_finish(bp_pool *p, struct bp__mapping *m);
/* Undo a reservation whose old frame is released (map_slot done or
 * failed): the slot evicted, the frame discarded unless it was cached
 * (need NOTHING), its BUSY released.  No lock held. */
void bp__window_map_undo(bp_pool *p, struct bp__mapping *m);
/* Evict slot s whose frame the caller holds BUSY (p->lock held).  With
 * dirty != NULL the copy backend's copy-back is left to the caller (*dirty
 * says whether it is needed). */
int bp__window_evict_busy_locked(bp_pool *p, uint32_t slot, int *dirty);
uint32_t bp__window_slot_of_frame(bp_pool *p, uint32_t frame);
/* Shared cache: empty slot s if it still stands for pgno but its frame
 * holds another page now (takes p->lock). */
void bp__window_drop_stale(bp_pool *p, uint32_t s, uint64_t pgno);
/* Write frame f through its slot or the I/O slot. */
int bp__window_write_frame(bp_pool *p, uint32_t frame, uint64_t pgno);
int bp__window_writeback(bp_pool *p);

/* backend choice (bp_backend_auto.c) */
int bp__backend_choose(bp_pool *p);

#endif
