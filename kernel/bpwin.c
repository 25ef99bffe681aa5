// SPDX-License-Identifier: GPL-2.0
/*
 * bpwin.c - /dev/bpwin, the window device of libbufpool.
 *
 * A window is one open of /dev/bpwin: a single VMA of nslots slots of
 * slot_pages pages each, whose slots map frames (runs of slot_pages pages)
 * of one tmpfs file, the shm file, in any order, many of them changed by
 * one ioctl.  Without the module the same thing costs one VMA per slot
 * (mmap MAP_FIXED) and runs into vm.max_map_count; here it costs one VMA
 * and one u64 per slot.  The interface is bpwin_uapi.h.
 *
 * Interface details bpwin_uapi.h leaves open
 *   SETUP    -EBUSY once set up; -EINVAL: ABI, flags, slot_pages, nslots,
 *            or the fd is not a tmpfs regular file; -EBADF: bad fd or not
 *            open for reading and writing; -EPERM: sealed against writing.
 *   mmap     -EINVAL before SETUP, MAP_PRIVATE, offset or size not the
 *            window's; -EBUSY for a second mmap of the same open; -EPERM
 *            for PROT_EXEC (never executable).
 *   BATCH    -EINVAL: count 0 or > max_batch, slot >= nslots, unknown op
 *            or flags, frame not wholly below EOF, UNMAP/PROTECT with a
 *            frame, UNMAP with flags, WRITE without READ; -EOPNOTSUPP:
 *            PROT_NONE without GUARD (READ alone is accepted there and
 *            maps as the mmap asked); -ENOENT: PROTECT of an empty slot;
 *            -EFAULT: ops not readable (done counts the ops read and
 *            applied before the unreadable one); -ENXIO: not mapped (or
 *            unmapped meanwhile); -EPERM: not the mapping process;
 *            -EINTR: fatal signal.  UNMAP of an empty slot is a no-op.
 *            POPULATE is best effort (a page it cannot install now
 *            faults in later, and reports its error then).
 *   STATS    any time, any holder of the fd; zeros before SETUP.
 *
 * What this file owns
 *   struct bpwin: the window.  Its slot table (one u64 per slot: 0 = empty,
 *   else ((frame + 1) << 8) | BPWIN_PROT_*), the reference to the shm file
 *   (and a writable-mapping count on it: bpwin_take_shm()), the mm it is
 *   mapped in, the counters of BPWIN_IOC_STATS, and the page table entries
 *   of its VMA (inserted by vm_insert_page(), removed by zap_page_range*()).
 *
 * States (one way only; every open starts NEW)
 *
 *     NEW --SETUP--> SET_UP --mmap--> MAPPED --munmap/exit--> UNMAPPED
 *
 *   transition           function            condition
 *   NEW -> SET_UP        bpwin_ioc_setup()   win->shm set
 *   SET_UP -> MAPPED     bpwin_mmap()        win->mm set (once per open)
 *   MAPPED -> UNMAPPED   (the kernel)        no VMA holds the window
 *   any -> freed         bpwin_free()        last reference dropped
 *
 *   SETUP in any state but NEW is -EBUSY, mmap outside SET_UP is -EINVAL
 *   (NEW) or -EBUSY (MAPPED, UNMAPPED), BPWIN_IOC_BATCH outside MAPPED is
 *   -ENXIO.  The window is not inherited by fork (VM_DONTCOPY); a process
 *   other than the one that mapped it gets -EPERM from BPWIN_IOC_BATCH.
 *
 * Invariants
 *   I1 The slot table is the truth.  A page table entry of slot s is only
 *      ever installed under s's shard mutex, from the entry the table holds
 *      at that moment (fault handler, BPWIN_MAP_POPULATE).
 *   I2 A batch that changes an entry so that existing PTEs could be wrong
 *      (MAP over a mapped slot, UNMAP, PROTECT taking a permission away)
 *      clears the slot's PTEs after the table update and before it
 *      returns.  So once no batch is running, every present PTE maps a
 *      page of the frame its slot's entry names, with no more permission
 *      than the entry allows; a PTE cleared by a batch racing a fault is
 *      simply faulted in again.
 *   I3 The window's VMA is never split, moved or grown (may_split and
 *      mremap refuse, VM_DONTEXPAND), so slot s is always at
 *      vm_start + s * slot bytes.
 *   I4 Each installed PTE holds a reference on its page (vm_insert_page),
 *      dropped after the TLB flush of the zap that removes it: a page
 *      reached through the window is never freed under a reader.
 *   I5 References to struct bpwin: the open file holds one, every VMA
 *      that points at it holds one (vm_ops open/close).  The shm file
 *      reference and the mm_count reference (mmgrab) are dropped with the
 *      last one.
 *
 * Lock order
 *   mmap_lock (read in BATCH and faults; the kernel holds it for write
 *   around mmap, munmap, mremap)
 *     -> shard mutex (slot % BPWIN_SHARDS: the slot table, PTE installs)
 *       -> page lock (GUARD mode installs, page_mkwrite)
 *         -> page table lock (inside vm_insert_page / zap helpers)
 *   win->lock (the state transitions; mmap takes it under mmap_lock) is a
 *   leaf: nothing is taken under it, so SETUP takes the shm file (and its
 *   inode lock, for the seals) before it.
 *   A batch copies its ops from user space with no lock held (the array
 *   may live in the window itself: copying it may fault on the window).
 *   It holds mmap_lock for read only, so faults and other batches proceed.
 *
 * Races, and why they are safe
 *   munmap/exit during a batch: the batch looks the VMA up with
 *     find_vma() under mmap_read_lock() and checks it is this window's;
 *     munmap detaches it under the write lock, so the batch either sees no
 *     VMA (-ENXIO) or a VMA that stays attached while it holds the read
 *     lock.  (The window keeps no VMA pointer: 6.1's munmap calls
 *     ->close() after downgrading to the read lock, so a pointer cleared
 *     there could not be trusted by a reader.)  Exit tears the mm down
 *     only once no thread of it is left in the ioctl.
 *   fault vs. MAP/UNMAP/PROTECT of the same slot: the shard mutex orders
 *     them (I1); a PTE the fault installed from the old entry is removed
 *     by the batch's zap (I2) and faults in again from the new entry.
 *   page_mkwrite vs. PROTECT to READ: page_mkwrite locks the page before
 *     releasing the shard mutex, and installs of GUARD windows take the
 *     page lock, so between its check and the kernel making the PTE
 *     writable no install of the same page can happen; a zap in between
 *     makes the kernel's pte_same() check fail and the write fault again.
 *   truncate/hole punch of the shm file: the window's VMA is not in the
 *     shm file's i_mmap (rmap cannot describe a window: its slots are not
 *     linear in the file), so truncation does not reach into windows.  A
 *     slot faulted after the truncation past EOF gets SIGBUS, and MAP of a
 *     frame past EOF is -EINVAL.  Truncating a page a window's PTE maps
 *     right now is a misuse the module cannot refuse (shmem has no hook
 *     for it): it stays memory-safe (the PTE's page reference keeps the
 *     now orphaned page alive, the slot keeps reading it, a first write
 *     to it in a GUARD window gets SIGBUS, I4), but the kernel logs
 *     "BUG: Bad page cache ... still mapped when deleted" and taints
 *     itself, and a CONFIG_DEBUG_VM kernel stops on VM_BUG_ON_FOLIO.  So
 *     clear a frame from every window (UNMAP) before truncating or
 *     punching it; libbufpool only empties its shm file when no process
 *     has it open.  (The kernel's "mapping exiting" repair in the same
 *     check cannot run: a window holds its shm file open, so the inode is
 *     not evicted while a window's PTE maps its pages.)
 *   fork: VM_DONTCOPY, the child has no window.  If the process cleared
 *     that with MADV_DOFORK, the child's copy of the VMA takes its own
 *     reference (I5), keeps the PTEs copied at fork (pages referenced),
 *     and every fault in it raises SIGSEGV (foreign mm).
 *   O_DIRECT / GUP on the window: the pages are ordinary shmem pages in
 *     ordinary (not special) PTEs, so GUP works; a pin holds the page, a
 *     remap only removes the PTE, so a DMA still in flight lands in the
 *     old frame's page, never in a freed page.
 *
 * Consequences to know
 *   Frames mapped in a window are not reclaimable or migratable while a
 *   PTE of the window maps them (rmap cannot see the window), as with any
 *   vm_insert_page() user; they stay charged to the shm file's memcg.  The
 *   device is mode 0666 so any user can use windows.  A site that does not
 *   want unprivileged users to hold unreclaimable tmpfs pages this way, or
 *   to be able to make the kernel log "Bad page cache" (and stop, with
 *   CONFIG_DEBUG_VM) by truncating a frame their own window maps, should
 *   make it 0600 or 0660 with a group (udev rule) or not load the module.
 */

#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/log2.h>
#include <linux/magic.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "bpwin_uapi.h"

#if !IS_ENABLED(CONFIG_SHMEM) || !IS_ENABLED(CONFIG_MMU)
#error "bpwin needs CONFIG_MMU and CONFIG_SHMEM"
#endif

/* ---- limits and the slot table entry ------------------------------------- */

#if BITS_PER_LONG == 64
#define BPWIN_MAX_SLOTS (1ULL << 24)
#else
#define BPWIN_MAX_SLOTS (1ULL << 14)
#endif
#define BPWIN_MAX_SLOT_PAGES 16u
#define BPWIN_MAX_BATCH 4096u
#define BPWIN_CHUNK 256u  /* ops copied in and applied per mmap_lock hold */
#define BPWIN_SHARDS 64u  /* shard mutexes, slot % BPWIN_SHARDS */

#define BPWIN_E_PROT_BITS 8
#define BPWIN_E_PROT_MASK ((1ULL << BPWIN_E_PROT_BITS) - 1)

static inline u64 bpwin_entry(u64 frame, u32 prot)
{
	return ((frame + 1) << BPWIN_E_PROT_BITS) | prot;
}

static inline u64 bpwin_entry_frame(u64 e)
{
	return (e >> BPWIN_E_PROT_BITS) - 1;
}

static inline u32 bpwin_entry_prot(u64 e)
{
	return e & BPWIN_E_PROT_MASK;
}

/* ---- the window ---------------------------------------------------------- */

struct bpwin_counters {
	atomic64_t maps;
	atomic64_t unmaps;
	atomic64_t protects;
	atomic64_t faults;
	atomic64_t populated;
	atomic64_t zaps;
	atomic64_t traps;
};

struct bpwin {
	struct kref ref;	/* the open file's + one per VMA (I5) */
	struct mutex lock;	/* SETUP and mmap: the state transitions */

	/* Set by SETUP under lock, then read-only. */
	struct file *shm;	/* NULL until SETUP */
	struct address_space *mapping;	/* shm->f_mapping */
	u64 nslots;
	u64 bytes;		/* nslots * slot bytes */
	unsigned int slot_shift;	/* log2(slot_pages) */
	unsigned int slot_pages;
	bool guard;		/* BPWIN_SETUP_GUARD */
	u64 *table;		/* [nslots]; each under its shard mutex */

	/* Set by mmap under lock (start first, then mm with release). */
	unsigned long start;
	struct mm_struct *mm;	/* NULL until mapped; mmgrab'd */

	struct bpwin_counters st;
	struct mutex shard[BPWIN_SHARDS];
};

static inline struct mutex *bpwin_shard(struct bpwin *win, u64 slot)
{
	return &win->shard[slot % BPWIN_SHARDS];
}

static inline unsigned int bpwin_slot_bits(const struct bpwin *win)
{
	return PAGE_SHIFT + win->slot_shift;
}

static void bpwin_free(struct kref *ref)
{
	struct bpwin *win = container_of(ref, struct bpwin, ref);
	unsigned int i;

	if (win->shm) {
		mapping_unmap_writable(win->mapping);
		fput(win->shm);
	}
	if (win->mm)
		mmdrop(win->mm);
	kvfree(win->table);
	for (i = 0; i < BPWIN_SHARDS; i++)
		mutex_destroy(&win->shard[i]);
	mutex_destroy(&win->lock);
	kfree(win);
}

static inline void bpwin_put(struct bpwin *win)
{
	kref_put(&win->ref, bpwin_free);
}

/* ---- page table entries -------------------------------------------------- */

/*
 * bpwin_may - may entry e be touched (for writing if write)?
 * Without GUARD every entry is READ|WRITE (bpwin_check_prot()).
 */
static inline bool bpwin_may(u64 e, bool write)
{
	u32 prot = bpwin_entry_prot(e);

	if (!e || !(prot & BPWIN_PROT_READ))
		return false;
	return !write || (prot & BPWIN_PROT_WRITE);
}

/**
 * bpwin_install_locked - install the PTEs of slot for entry e
 * @win: the window
 * @vma: its VMA (mmap_lock held for read)
 * @slot: the slot; its shard mutex is held
 * @e: the slot's current entry (not empty)
 * @must: the faulting address, or 0 when populating
 *
 * Looks up each page of the frame in the shm file (allocating holes below
 * EOF) and inserts it.  A PTE already present (a racing fault got there
 * first) is left alone.  GUARD windows take the page lock around the
 * insert (see page_mkwrite).
 *
 * Return: 0; or the error of the page at @must (a fault), or of the first
 * page that failed (populating): -EINVAL past EOF, -ENOMEM, -EIO...
 * Errors of other pages of a fault are ignored: they fault on their own.
 */
static int bpwin_install_locked(struct bpwin *win, struct vm_area_struct *vma,
				u64 slot, u64 e, unsigned long must)
{
	unsigned long addr = vma->vm_start +
			     ((unsigned long)slot << bpwin_slot_bits(win));
	pgoff_t index = (pgoff_t)bpwin_entry_frame(e) << win->slot_shift;
	gfp_t gfp = mapping_gfp_mask(win->mapping);
	unsigned int i;

	for (i = 0; i < win->slot_pages; i++, addr += PAGE_SIZE, index++) {
		struct page *page;
		int err;

		page = shmem_read_mapping_page_gfp(win->mapping, index, gfp);
		if (IS_ERR(page)) {
			err = PTR_ERR(page);
		} else {
			if (win->guard)
				lock_page(page);
			err = vm_insert_page(vma, addr, page);
			if (win->guard)
				unlock_page(page);
			put_page(page);
			if (err == -EBUSY)
				err = 0;
		}
		if (err && (!must || addr == must))
			return err;
	}
	return 0;
}

/* Clear the PTEs of [start, start + size) of vma; one TLB flush. */
static void bpwin_zap(struct vm_area_struct *vma, unsigned long start,
		      unsigned long size)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	zap_page_range_single(vma, start, size, NULL);
#else
	zap_page_range(vma, start, size);
#endif
}

/* ---- vm_operations ------------------------------------------------------- */

static vm_fault_t bpwin_trap(struct bpwin *win)
{
	atomic64_inc(&win->st.traps);
	return VM_FAULT_SIGSEGV;
}

/*
 * The slot of vmf's address, or U64_MAX when the fault is not the mapping
 * process's (a child's copy of the VMA after MADV_DOFORK + fork).
 */
static u64 bpwin_fault_slot(struct bpwin *win, struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	u64 slot = (vmf->address - vma->vm_start) >> bpwin_slot_bits(win);

	if (vma->vm_mm != win->mm || slot >= win->nslots)
		return U64_MAX;
	return slot;
}

/*
 * bpwin_fault_lock - the slot vmf touches, with its shard mutex held and
 * its entry in *e, when that entry allows the touch (for writing if
 * write).  Returns the mutex held, or NULL (nothing held): the caller
 * traps.
 */
static struct mutex *bpwin_fault_lock(struct bpwin *win, struct vm_fault *vmf,
				      bool write, u64 *slot, u64 *e)
{
	struct mutex *m;

	*slot = bpwin_fault_slot(win, vmf);
	if (*slot == U64_MAX)
		return NULL;
	m = bpwin_shard(win, *slot);
	mutex_lock(m);
	*e = win->table[*slot];
	if (!bpwin_may(*e, write)) {
		mutex_unlock(m);
		return NULL;
	}
	return m;
}

/*
 * bpwin_fault - a touch of a slot with no PTE: install the whole slot from
 * its entry.  SIGSEGV for an empty or PROT_NONE slot and for a write to a
 * READ slot of a GUARD window; SIGBUS past EOF of the shm file.
 */
static vm_fault_t bpwin_fault(struct vm_fault *vmf)
{
	struct bpwin *win = vmf->vma->vm_private_data;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	struct mutex *m;
	u64 slot, e;
	int err;

	m = bpwin_fault_lock(win, vmf, write, &slot, &e);
	if (!m)
		return bpwin_trap(win);
	err = bpwin_install_locked(win, vmf->vma, slot, e, vmf->address);
	mutex_unlock(m);
	if (err == -ENOMEM)
		return VM_FAULT_OOM;
	if (err)
		return VM_FAULT_SIGBUS;
	atomic64_inc(&win->st.faults);
	return VM_FAULT_NOPAGE;
}

/*
 * bpwin_page_mkwrite - first write through a (write-protected) PTE of a
 * GUARD window.  Allowed on a READ|WRITE slot: returns VM_FAULT_LOCKED with
 * the page locked, and the kernel makes the PTE writable if it is still
 * the one that faulted (pte_same), then dirties and unlocks the page.
 * SIGSEGV when the slot does not allow writing; SIGBUS when the page was
 * truncated out of the shm file; NOPAGE (the write retries) when the PTE
 * is a stale one a running batch is about to clear (I2).
 */
static vm_fault_t bpwin_page_mkwrite(struct vm_fault *vmf)
{
	struct bpwin *win = vmf->vma->vm_private_data;
	struct folio *folio = page_folio(vmf->page);
	unsigned long off = vmf->address - vmf->vma->vm_start;
	struct mutex *m;
	pgoff_t want;
	u64 slot, e;

	m = bpwin_fault_lock(win, vmf, true, &slot, &e);
	if (!m)
		return bpwin_trap(win);
	folio_lock(folio);
	mutex_unlock(m);

	if (folio->mapping != win->mapping) {
		folio_unlock(folio);
		return VM_FAULT_SIGBUS;
	}
	want = ((pgoff_t)bpwin_entry_frame(e) << win->slot_shift) +
	       ((off >> PAGE_SHIFT) & (win->slot_pages - 1));
	if (folio->index + folio_page_idx(folio, vmf->page) != want) {
		folio_unlock(folio);
		return VM_FAULT_NOPAGE;
	}
	return VM_FAULT_LOCKED;
}

static void bpwin_vm_open(struct vm_area_struct *vma)
{
	struct bpwin *win = vma->vm_private_data;

	kref_get(&win->ref);
}

static void bpwin_vm_close(struct vm_area_struct *vma)
{
	bpwin_put(vma->vm_private_data);
}

/* I3: no partial munmap/mprotect/mlock/madvise split, no mremap. */
static int bpwin_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static int bpwin_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static const struct vm_operations_struct bpwin_vm_ops = {
	.open = bpwin_vm_open,
	.close = bpwin_vm_close,
	.may_split = bpwin_may_split,
	.mremap = bpwin_mremap,
	.fault = bpwin_fault,
};

/* GUARD: page_mkwrite makes the kernel install every PTE write-protected. */
static const struct vm_operations_struct bpwin_vm_ops_guard = {
	.open = bpwin_vm_open,
	.close = bpwin_vm_close,
	.may_split = bpwin_may_split,
	.mremap = bpwin_mremap,
	.fault = bpwin_fault,
	.page_mkwrite = bpwin_page_mkwrite,
};

/* ---- BPWIN_IOC_BATCH ----------------------------------------------------- */

struct bpwin_chunk {
	struct bpwin_op op[BPWIN_CHUNK];
	u64 zap[BPWIN_CHUNK];	/* slots whose PTEs must go (phase B) */
	u64 want[BPWIN_CHUNK];	/* entry to populate per op, 0 = none */
};

/*
 * The window's VMA in mm (mmap_lock held), or NULL once it is unmapped.
 * Only this window's VMA carries these vm_ops with this private data.
 */
static struct vm_area_struct *bpwin_vma_locked(struct bpwin *win,
					       struct mm_struct *mm)
{
	struct vm_area_struct *vma = find_vma(mm, win->start);

	if (!vma || vma->vm_start != win->start ||
	    vma->vm_private_data != win ||
	    (vma->vm_ops != &bpwin_vm_ops && vma->vm_ops != &bpwin_vm_ops_guard))
		return NULL;
	return vma;
}

/* The protection an op asks for: 0 when allowed, else the error. */
static int bpwin_check_prot(const struct bpwin *win, u32 flags, u32 *prot)
{
	u32 p = flags & BPWIN_PROT_RW;

	if (p == BPWIN_PROT_WRITE)
		return -EINVAL;
	if (!win->guard) {
		/* mapped as the mmap asked; per-slot PROT_NONE needs GUARD */
		if (p == BPWIN_PROT_NONE)
			return -EOPNOTSUPP;
		p = BPWIN_PROT_RW;
	}
	*prot = p;
	return 0;
}

/*
 * bpwin_check_op - validate op against the window and the number of
 * frames in the shm file; for MAP and UNMAP *e is the new entry, for
 * PROTECT *prot is the new protection.
 */
static int bpwin_check_op(const struct bpwin *win, const struct bpwin_op *op,
			  u64 nframes, u64 *e, u32 *prot)
{
	int err;

	if (op->slot >= win->nslots)
		return -EINVAL;
	switch (op->op) {
	case BPWIN_OP_MAP:
		if (op->flags & ~(BPWIN_PROT_RW | BPWIN_MAP_POPULATE))
			return -EINVAL;
		if (op->frame >= nframes)
			return -EINVAL;
		err = bpwin_check_prot(win, op->flags, prot);
		if (err)
			return err;
		*e = bpwin_entry(op->frame, *prot);
		return 0;
	case BPWIN_OP_UNMAP:
		if (op->frame || op->flags)
			return -EINVAL;
		*e = 0;
		return 0;
	case BPWIN_OP_PROTECT:
		if (op->frame || (op->flags & ~(BPWIN_PROT_RW | BPWIN_MAP_POPULATE)))
			return -EINVAL;
		return bpwin_check_prot(win, op->flags, prot);
	default:
		return -EINVAL;
	}
}

/*
 * Must the slot's PTEs go when op changes its entry from old to new?  A MAP
 * over a mapped slot always clears them (it replaces what the slot mapped:
 * a remap of the same frame also drops pages the shm file no longer holds
 * after a truncation); UNMAP clears; PROTECT only when it takes a
 * permission away (PTEs that allow less than the entry fault in again).
 */
static inline bool bpwin_needs_zap(u32 op, u64 old, u64 new)
{
	if (!old)
		return false;
	if (op != BPWIN_OP_PROTECT)
		return true;
	return bpwin_entry_prot(old) & ~bpwin_entry_prot(new);
}

static int bpwin_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Phase B: clear the PTEs of the n slots in zap[] (sorted here), one zap
 * per run of adjacent slots.  Returns the number of zaps.
 */
static u64 bpwin_zap_slots(struct bpwin *win, struct vm_area_struct *vma,
			   u64 *zap, u32 n)
{
	unsigned int bits = bpwin_slot_bits(win);
	u64 zaps = 0;
	u32 i = 0;

	sort(zap, n, sizeof(*zap), bpwin_cmp_u64, NULL);
	while (i < n) {
		u64 first = zap[i], last = zap[i];

		while (++i < n && zap[i] <= last + 1)
			last = zap[i];
		bpwin_zap(vma, vma->vm_start + ((unsigned long)first << bits),
			  (unsigned long)(last - first + 1) << bits);
		zaps++;
	}
	return zaps;
}

/**
 * bpwin_apply_locked - apply the n ops of c to the window
 * @win: the window
 * @vma: its VMA; mmap_lock held for read
 * @c: the ops (copied in) and scratch space
 * @n: number of ops in c
 * @err: set to the error of the first op that failed, left alone if none
 *
 * Phase A updates the table op by op (each under its shard mutex) and
 * notes the slots whose PTEs must go; phase B clears those, merged into
 * runs; phase C populates the MAP/PROTECT ops that asked for it, if their
 * entry is still the one phase A wrote.  Population is best effort: a page
 * that cannot be installed now is faulted in on first touch, which reports
 * the error then.
 *
 * Return: the number of ops applied (those before the failed one).
 */
static u32 bpwin_apply_locked(struct bpwin *win, struct vm_area_struct *vma,
			      struct bpwin_chunk *c, u32 n, long *err)
{
	u64 nframes = ((u64)i_size_read(file_inode(win->shm)) >> PAGE_SHIFT) >>
		      win->slot_shift;
	u64 maps = 0, unmaps = 0, protects = 0, populated = 0;
	u32 i, j, nzap = 0;

	for (i = 0; i < n; i++) {			/* phase A */
		const struct bpwin_op *op = &c->op[i];
		struct mutex *m = bpwin_shard(win, op->slot);
		u64 old, new = 0;
		u32 prot = 0;
		int e;

		e = bpwin_check_op(win, op, nframes, &new, &prot);
		if (e) {
			*err = e;
			break;
		}
		mutex_lock(m);
		old = win->table[op->slot];
		if (op->op == BPWIN_OP_PROTECT) {
			if (!old) {
				mutex_unlock(m);
				*err = -ENOENT;
				break;
			}
			new = (old & ~BPWIN_E_PROT_MASK) | prot;
		}
		win->table[op->slot] = new;
		mutex_unlock(m);

		if (bpwin_needs_zap(op->op, old, new))
			c->zap[nzap++] = op->slot;
		c->want[i] = (op->flags & BPWIN_MAP_POPULATE) &&
			     bpwin_may(new, false) ? new : 0;
		maps += op->op == BPWIN_OP_MAP;
		unmaps += op->op == BPWIN_OP_UNMAP;
		protects += op->op == BPWIN_OP_PROTECT;
		cond_resched();
	}

	if (nzap)					/* phase B */
		atomic64_add(bpwin_zap_slots(win, vma, c->zap, nzap),
			     &win->st.zaps);

	for (j = 0; j < i; j++) {			/* phase C */
		u64 slot = c->op[j].slot;
		struct mutex *m = bpwin_shard(win, slot);

		if (!c->want[j])
			continue;
		mutex_lock(m);
		if (win->table[slot] == c->want[j] &&
		    !bpwin_install_locked(win, vma, slot, c->want[j], 0))
			populated++;
		mutex_unlock(m);
		cond_resched();
	}

	atomic64_add(maps, &win->st.maps);
	atomic64_add(unmaps, &win->st.unmaps);
	atomic64_add(protects, &win->st.protects);
	atomic64_add(populated, &win->st.populated);
	return i;
}

/*
 * Run count ops from uops in chunks; *done counts the ops applied.
 * Return: 0 or the error of the op at *done.
 */
static long bpwin_batch_run(struct bpwin *win, struct mm_struct *mm,
			    struct bpwin_chunk *c,
			    const struct bpwin_op __user *uops, u32 count,
			    u32 *done)
{
	while (*done < count) {
		u32 n = min(count - *done, BPWIN_CHUNK);
		unsigned long left;
		struct vm_area_struct *vma;
		long err = 0;
		u32 got;

		/* No lock held: the array may be in the window itself. */
		left = copy_from_user(c->op, uops + *done, n * sizeof(c->op[0]));
		got = n - DIV_ROUND_UP(left, sizeof(c->op[0]));
		if (!got)
			return -EFAULT;

		if (mmap_read_lock_killable(mm))
			return -EINTR;
		vma = bpwin_vma_locked(win, mm);
		if (!vma) {
			mmap_read_unlock(mm);
			return -ENXIO;
		}
		*done += bpwin_apply_locked(win, vma, c, got, &err);
		mmap_read_unlock(mm);

		if (err)
			return err;
		if (got < n)
			return -EFAULT;	/* the op at *done could not be read */
		if (*done < count && fatal_signal_pending(current))
			return -EINTR;
	}
	return 0;
}

static long bpwin_ioc_batch(struct bpwin *win, struct bpwin_batch __user *ub)
{
	struct bpwin_chunk *c = NULL;
	struct bpwin_batch b;
	struct mm_struct *mm;
	u32 done = 0;
	long ret = 0;

	if (copy_from_user(&b, ub, sizeof(b)))
		return -EFAULT;
	mm = smp_load_acquire(&win->mm);	/* pairs with bpwin_mmap() */
	if (!b.count || b.count > BPWIN_MAX_BATCH)
		ret = -EINVAL;
	else if (!mm)
		ret = -ENXIO;
	else if (mm != current->mm)
		ret = -EPERM;
	if (!ret) {
		c = kvmalloc(sizeof(*c), GFP_KERNEL);
		if (!c)
			ret = -ENOMEM;
	}
	if (!ret)
		ret = bpwin_batch_run(win, mm, c, u64_to_user_ptr(b.ops),
				      b.count, &done);
	kvfree(c);
	if (put_user(done, &ub->done))
		return -EFAULT;
	return ret;
}

/* ---- the other ioctls ---------------------------------------------------- */

static long bpwin_ioc_info(void __user *uarg)
{
	struct bpwin_info info = {
		.abi_version = BPWIN_ABI_VERSION,
		.page_size = PAGE_SIZE,
		.max_slots = BPWIN_MAX_SLOTS,
		.max_slot_pages = BPWIN_MAX_SLOT_PAGES,
		.max_batch = BPWIN_MAX_BATCH,
		.features = BPWIN_FEAT_GUARD | BPWIN_FEAT_POPULATE,
	};

	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

/*
 * The shm file must be a tmpfs (shmem) regular file (-EINVAL), open for
 * reading and writing (-EBADF), not sealed against writing (-EPERM).
 * On success it counts as a writable shared mapping of the file, so
 * F_SEAL_WRITE cannot be added while the window exists (memfd: -EBUSY).
 */
static int bpwin_take_shm(struct file *shm)
{
	struct inode *inode = file_inode(shm);
	int err = 0;

	/* shmem_read_mapping_page_gfp() BUG()s on anything but shmem */
	if (!S_ISREG(inode->i_mode) || inode->i_sb->s_magic != TMPFS_MAGIC ||
	    !shmem_file(shm))
		return -EINVAL;
	if ((shm->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE))
		return -EBADF;
	inode_lock_shared(inode);	/* memfd_add_seals() takes it */
	if (SHMEM_I(inode)->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))
		err = -EPERM;
	else
		err = mapping_map_writable(shm->f_mapping);
	inode_unlock_shared(inode);
	return err;
}

static bool bpwin_set_up(struct bpwin *win)
{
	bool ret;

	mutex_lock(&win->lock);
	ret = win->shm;
	mutex_unlock(&win->lock);
	return ret;
}

/*
 * bpwin_ioc_setup - bind the window to its shm file (NEW -> SET_UP).
 * The shm file is taken and the table allocated before win->lock: the
 * shm inode's lock must not nest inside win->lock, which mmap takes under
 * mmap_lock (a write(2) to the shm file faults under its inode lock).
 */
static long bpwin_ioc_setup(struct bpwin *win, void __user *uarg)
{
	struct bpwin_setup s;
	struct file *shm;
	u64 *table;
	long ret;

	if (copy_from_user(&s, uarg, sizeof(s)))
		return -EFAULT;
	if (bpwin_set_up(win))
		return -EBUSY;
	if (s.abi_version != BPWIN_ABI_VERSION ||
	    (s.flags & ~BPWIN_SETUP_GUARD) || !s.slot_pages ||
	    s.slot_pages > BPWIN_MAX_SLOT_PAGES ||
	    !is_power_of_2(s.slot_pages) || !s.nslots ||
	    s.nslots > BPWIN_MAX_SLOTS)
		return -EINVAL;
	shm = s.shm_fd < 0 ? NULL : fget(s.shm_fd);
	if (!shm)
		return -EBADF;
	ret = bpwin_take_shm(shm);
	if (ret)
		goto out_fput;
	ret = -ENOMEM;
	table = kvcalloc(s.nslots, sizeof(*table),
			 GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!table)
		goto out_unmap;

	mutex_lock(&win->lock);
	ret = -EBUSY;			/* a concurrent SETUP won */
	if (!win->shm) {
		win->mapping = shm->f_mapping;
		win->nslots = s.nslots;
		win->slot_pages = s.slot_pages;
		win->slot_shift = ilog2(s.slot_pages);
		win->bytes = s.nslots << bpwin_slot_bits(win);
		win->guard = s.flags & BPWIN_SETUP_GUARD;
		win->table = table;
		win->shm = shm;
		ret = 0;
	}
	mutex_unlock(&win->lock);
	if (!ret)
		return 0;
	kvfree(table);
out_unmap:
	mapping_unmap_writable(shm->f_mapping);
out_fput:
	fput(shm);
	return ret;
}

static long bpwin_ioc_stats(struct bpwin *win, void __user *uarg)
{
	struct bpwin_stats st = {
		.maps = atomic64_read(&win->st.maps),
		.unmaps = atomic64_read(&win->st.unmaps),
		.protects = atomic64_read(&win->st.protects),
		.faults = atomic64_read(&win->st.faults),
		.populated = atomic64_read(&win->st.populated),
		.zaps = atomic64_read(&win->st.zaps),
		.traps = atomic64_read(&win->st.traps),
	};

	return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long bpwin_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct bpwin *win = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case BPWIN_IOC_INFO:
		return bpwin_ioc_info(uarg);
	case BPWIN_IOC_SETUP:
		return bpwin_ioc_setup(win, uarg);
	case BPWIN_IOC_BATCH:
		return bpwin_ioc_batch(win, uarg);
	case BPWIN_IOC_STATS:
		return bpwin_ioc_stats(win, uarg);
	default:
		return -ENOTTY;
	}
}

/* ---- file operations ----------------------------------------------------- */

/*
 * bpwin_mmap - map the window: after SETUP (-EINVAL before), once per open
 * (-EBUSY), MAP_SHARED (-EINVAL), offset 0 and exactly the window's size
 * (-EINVAL), never executable (-EPERM, and mprotect cannot add PROT_EXEC:
 * the frames may live on a noexec /dev/shm).  Open the device O_RDWR for a
 * writable window.
 */
static int bpwin_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct bpwin *win = file->private_data;
	const vm_flags_t flags = VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTCOPY |
				 VM_DONTDUMP;
	int ret = 0;

	mutex_lock(&win->lock);
	if (!win->shm)
		ret = -EINVAL;
	else if (win->mm)
		ret = -EBUSY;
	else if (!(vma->vm_flags & VM_MAYSHARE) || vma->vm_pgoff ||
		 vma->vm_end - vma->vm_start != win->bytes)
		ret = -EINVAL;
	else if (vma->vm_flags & VM_EXEC)
		ret = -EPERM;
	if (ret)
		goto out;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, flags, VM_MAYEXEC);
#else
	vma->vm_flags = (vma->vm_flags | flags) & ~VM_MAYEXEC;
#endif
	vma->vm_ops = win->guard ? &bpwin_vm_ops_guard : &bpwin_vm_ops;
	vma->vm_private_data = win;
	kref_get(&win->ref);		/* the VMA's (dropped in ->close) */
	mmgrab(vma->vm_mm);
	win->start = vma->vm_start;
	smp_store_release(&win->mm, vma->vm_mm);
out:
	mutex_unlock(&win->lock);
	return ret;
}

static int bpwin_open(struct inode *inode, struct file *file)
{
	struct bpwin *win;
	unsigned int i;

	win = kzalloc(sizeof(*win), GFP_KERNEL_ACCOUNT);
	if (!win)
		return -ENOMEM;
	kref_init(&win->ref);
	mutex_init(&win->lock);
	for (i = 0; i < BPWIN_SHARDS; i++)
		mutex_init(&win->shard[i]);
	file->private_data = win;
	return nonseekable_open(inode, file);
}

static int bpwin_release(struct inode *inode, struct file *file)
{
	bpwin_put(file->private_data);
	return 0;
}

static const struct file_operations bpwin_fops = {
	.owner = THIS_MODULE,
	.open = bpwin_open,
	.release = bpwin_release,
	.unlocked_ioctl = bpwin_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = bpwin_mmap,
	.llseek = noop_llseek,
};

/* 0666: any process may have windows (see "Consequences" above). */
static struct miscdevice bpwin_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "bpwin",
	.fops = &bpwin_fops,
	.mode = 0666,
};

static int __init bpwin_init(void)
{
	/* the entry's frame + 1 fits above the protection bits */
	BUILD_BUG_ON((MAX_LFS_FILESIZE >> PAGE_SHIFT) >=
		     (1ULL << (64 - BPWIN_E_PROT_BITS)));
	BUILD_BUG_ON(BPWIN_PROT_RW > BPWIN_E_PROT_MASK);
	BUILD_BUG_ON(ilog2(BPWIN_MAX_SLOTS) + ilog2(BPWIN_MAX_SLOT_PAGES) +
		     PAGE_SHIFT >= BITS_PER_LONG);
	return misc_register(&bpwin_misc);
}

static void __exit bpwin_exit(void)
{
	misc_deregister(&bpwin_misc);
}

module_init(bpwin_init);
module_exit(bpwin_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("libbufpool window device: one VMA, slots map tmpfs frames");
MODULE_VERSION("0.1.0");
