/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bpwin_uapi.h - the interface of /dev/bpwin, the window device of
 * libbufpool (kernel/bpwin.c), shared by the module and user space.
 *
 * A window is one open of /dev/bpwin:
 *   1. BPWIN_IOC_INFO tells the ABI version and the limits;
 *   2. BPWIN_IOC_SETUP binds it to a tmpfs (/dev/shm or memfd) file whose
 *      pages are the frames, with the slot size and the number of slots;
 *   3. mmap(NULL, nslots * slot bytes, PROT_READ|PROT_WRITE, MAP_SHARED,
 *      fd, 0) maps the window: one VMA however many slots;
 *   4. BPWIN_IOC_BATCH installs, removes and protects slot -> frame
 *      mappings, many per call.
 *
 * Every structure has the same layout on 32- and 64-bit (fixed-width
 * fields, user pointers as __u64, no implicit padding), so one ioctl
 * number serves both.  Versioned: a structure that changes gets a new
 * ioctl number and BPWIN_ABI_VERSION is raised.
 */
#ifndef BPWIN_UAPI_H
#define BPWIN_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define BPWIN_ABI_VERSION 1
#define BPWIN_DEVICE "/dev/bpwin"

/* BPWIN_IOC_INFO: filled by the module. */
struct bpwin_info {
	__u32 abi_version;    /* BPWIN_ABI_VERSION of the module */
	__u32 page_size;      /* the kernel's PAGE_SIZE */
	__u64 max_slots;      /* the most slots one window may have */
	__u32 max_slot_pages; /* the most pages one slot may span */
	__u32 max_batch;      /* the most ops one BPWIN_IOC_BATCH takes */
	__u32 features;       /* BPWIN_FEAT_* */
	__u32 reserved;       /* 0 */
};

#define BPWIN_FEAT_GUARD    (1u << 0) /* BPWIN_SETUP_GUARD is supported */
#define BPWIN_FEAT_POPULATE (1u << 1) /* BPWIN_MAP_POPULATE is supported */

/* BPWIN_IOC_SETUP: once per open, before mmap. */
struct bpwin_setup {
	__u32 abi_version; /* the caller's BPWIN_ABI_VERSION: must match */
	__s32 shm_fd;      /* a tmpfs file open for reading and writing */
	__u32 slot_pages;  /* pages per slot and per frame: a power of two */
	__u32 flags;       /* BPWIN_SETUP_* */
	__u64 nslots;      /* slots in the window, 1..max_slots */
};

/* Per-slot protection (BPWIN_PROT_READ without WRITE traps writes with
 * SIGSEGV).  Without it, every slot is mapped as the mmap asked (its
 * PROT_WRITE or not) and only BPWIN_PROT_NONE is refused per slot. */
#define BPWIN_SETUP_GUARD (1u << 0)

/* One operation of a batch.  Frame f of the shm file is the slot_pages
 * pages at page offset f * slot_pages. */
struct bpwin_op {
	__u64 slot;  /* 0..nslots-1 */
	__u64 frame; /* MAP: the frame; UNMAP, PROTECT: 0 */
	__u32 op;    /* BPWIN_OP_* */
	__u32 flags; /* BPWIN_PROT_* | BPWIN_MAP_POPULATE */
};

#define BPWIN_OP_MAP     1 /* slot -> frame, replacing what it mapped */
#define BPWIN_OP_UNMAP   2 /* slot maps nothing: a touch raises SIGSEGV */
#define BPWIN_OP_PROTECT 3 /* a mapped slot's protection (BPWIN_PROT_*) */

#define BPWIN_PROT_NONE     0u        /* any touch raises SIGSEGV */
#define BPWIN_PROT_READ     (1u << 0)
#define BPWIN_PROT_WRITE    (1u << 1) /* with READ */
#define BPWIN_PROT_RW       (BPWIN_PROT_READ | BPWIN_PROT_WRITE)
/* Install the page table entries now (MAP_POPULATE); without it the
 * module's fault handler installs them on first touch (MAP_NONBLOCK). */
#define BPWIN_MAP_POPULATE  (1u << 8)

/* BPWIN_IOC_BATCH: count ops read from the user array at ops, applied in
 * order.  Returns 0 when all were applied, or a negative errno; done says
 * how many were applied either way (ops before it took effect, the one at
 * done failed, none after it was looked at). */
struct bpwin_batch {
	__u64 ops;   /* user address of struct bpwin_op[count] */
	__u32 count; /* 1..max_batch */
	__u32 done;  /* out */
};

/* BPWIN_IOC_STATS: counters of this window since SETUP. */
struct bpwin_stats {
	__u64 maps;      /* MAP ops applied */
	__u64 unmaps;    /* UNMAP ops applied */
	__u64 protects;  /* PROTECT ops applied */
	__u64 faults;    /* slots installed by the fault handler */
	__u64 populated; /* slots installed at MAP time */
	__u64 zaps;      /* page-table ranges cleared (one TLB flush each) */
	__u64 traps;     /* touches refused with SIGSEGV */
	__u64 reserved;  /* 0 */
};

#define BPWIN_IOC_MAGIC 0xB7
#define BPWIN_IOC_INFO  _IOR(BPWIN_IOC_MAGIC, 1, struct bpwin_info)
#define BPWIN_IOC_SETUP _IOW(BPWIN_IOC_MAGIC, 2, struct bpwin_setup)
#define BPWIN_IOC_BATCH _IOWR(BPWIN_IOC_MAGIC, 3, struct bpwin_batch)
#define BPWIN_IOC_STATS _IOR(BPWIN_IOC_MAGIC, 4, struct bpwin_stats)

#endif /* BPWIN_UAPI_H */
