/*
 * util_test.h - helpers shared by every libbufpool test program.
 *
 * Compiled into every tests/<layer>/test_*.c program (tests/util_*.c are
 * linked into each).  What lives here:
 *
 *   - scratch space: one temp dir per process (under $TMPDIR or /var/tmp, a
 *     disk file system that takes O_DIRECT; never /dev/shm) and unique shm
 *     names "bptest-<pid>-<n>"; both are removed at exit AND on
 *     SIGABRT/SIGSEGV/SIGBUS/..., so a failing test leaves nothing behind;
 *   - page stamps: a page carries its page number, a generation and a
 *     pattern derived from both that fills the whole page, so a page that
 *     landed at the wrong place, is stale or torn is caught;
 *   - data files of N stamped pages, and a verifier reading them back with
 *     plain (buffered) pread;
 *   - opening a pool from a small config struct, printing bp_strerror() and
 *     bp_errmsg() on failure;
 *   - machine probes (free /dev/shm space, memory cgroup limit,
 *     remap_file_pages availability, what an emulator does differently)
 *     and util_skip() (exit code 77).
 *
 * Every test program calls util_init() first thing in main().
 */
#ifndef UTIL_TEST_H
#define UTIL_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>

#include "bufpool.h"
#include "platform/bp_testing.h"

#define UTIL_KiB ((uint64_t)1024)
#define UTIL_MiB (UTIL_KiB * 1024)
#define UTIL_GiB (UTIL_MiB * 1024)

/* Exit code that CTest reads as "skipped". */
#define UTIL_EXIT_SKIP 77

/* ---- process setup and scratch space ------------------------------------- */

/* Install the cleanup (atexit + fatal signal handlers) and unset
 * BUFPOOL_BACKEND so each test gets the backend it asks for. */
void util_init(void);

/* The backend a case that asks for `asked` runs on: with BP_TEST_KMOD=1
 * (make test-kernel, in a guest that has the bpwin module) the mapping
 * backends' cases (rfp, mmap) run on kmod; else asked itself. */
bp_backend util_backend_for(bp_backend asked);

/* Print why and exit(77).  Call it before a pool is created (or after it is
 * closed) so leak checkers see nothing. */
int util_skip(const char *why);

/* The process's temp dir (created on first use). */
const char *util_tmpdir(void);

/* buf = "<tmpdir>/<name>"; fails the test if it does not fit. */
void util_tmp_path(char *buf, size_t len, const char *name);

/* buf = a fresh shm name "bptest-<pid>-<n>" (no '/': lives in /dev/shm). */
void util_shm_name(char *buf, size_t len);

/* buf = "/dev/shm/<name>". */
void util_shm_path(char *buf, size_t len, const char *name);

/* ---- machine probes ------------------------------------------------------ */

/* Bytes free for an unprivileged user in /dev/shm, and its total size (0 if
 * it cannot be read or is unlimited). */
uint64_t util_shm_free(void);
uint64_t util_shm_total(void);

/* Smallest memory limit of this process's memory cgroup and its ancestors
 * (v1 or v2), or UINT64_MAX when unlimited / unknown. */
uint64_t util_mem_limit(void);

/* MemAvailable from /proc/meminfo in bytes, or UINT64_MAX if unknown. */
uint64_t util_mem_available(void);

/* 1 if remap_file_pages() works on a shared memfd mapping, 0 if not (and
 * prints why: qemu-user, which runs the 32-bit suite where the kernel
 * refuses i386 programs, does not implement it). */
int util_have_rfp(void);

/* 1 if backend b can run here (rfp works, linear on 64-bit, kmod: the
 * bpwin device exists); else prints why and returns 0. */
int util_backend_here(bp_backend b);

/* Emulation probes: NULL when the mechanism behaves here as on a native
 * kernel, else a one-line reason for util_skip() or a skipped check.  They
 * tell an emulator's limits from real bugs (docs/platform.md):
 *   pagemap:   /proc/self/pagemap describes this process's own mappings (a
 *              touched page present, an untouched one not);
 *   smaps_thp: /proc/self/smaps shows THPeligible 1 for an anonymous range
 *              advised MADV_HUGEPAGE while transparent huge pages are on;
 *   mmap_high: a MAP_SHARED mapping at a file offset of 4 GiB shows the
 *              bytes pwrite() put there (not those at the offset modulo
 *              4 GiB). */
const char *util_pagemap_unfaithful(void);
const char *util_smaps_thp_unfaithful(void);
const char *util_mmap_high_unfaithful(void);

/* "THPeligible:" of the mapping holding addr in /proc/self/smaps: 0 or 1,
 * or -1 when smaps does not say. */
int util_thp_eligible(const void *addr);

/* Size of a kernel page (sysconf). */
size_t util_sys_page(void);

/* ---- deterministic random numbers ---------------------------------------- */

/* xorshift64*: *state must be nonzero. */
uint64_t util_rand(uint64_t *state);

/* Uniform-ish in [0, n), n > 0. */
uint64_t util_rand_below(uint64_t *state, uint64_t n);

/* ---- page stamps --------------------------------------------------------- */

/* Pseudo generations returned by util_page_gen(). */
#define UTIL_GEN_ZERO UINT32_MAX       /* page is all zero bytes */
#define UTIL_GEN_BAD (UINT32_MAX - 1u) /* neither zero nor a valid stamp */

/* Fill page (psz bytes, psz % 4 == 0) with the stamp of (pgno, gen).
 * gen must be below UTIL_GEN_BAD. */
void util_stamp(void *page, size_t psz, uint64_t pgno, uint32_t gen);

/* The generation of the stamp for pgno that page carries, UTIL_GEN_ZERO for
 * an all-zero page, UTIL_GEN_BAD for anything else (wrong pgno, torn...). */
uint32_t util_page_gen(const void *page, size_t psz, uint64_t pgno);

/* 1 if page is exactly the stamp of (pgno, gen) (gen may be UTIL_GEN_ZERO);
 * else prints what is there (via print_error) and returns 0. */
int util_stamp_ok(const void *page, size_t psz, uint64_t pgno, uint32_t gen);

#define util_assert_stamp(page, psz, pgno, gen)                                \
    assert_true(util_stamp_ok((page), (psz), (pgno), (gen)))

/* Read one byte of every kernel page in [addr, addr + len) (faults it in). */
void util_touch(const void *addr, size_t len);

/* ---- data files ---------------------------------------------------------- */

/* Create (or truncate) path with npages pages of psz bytes, each stamped with
 * gen (UTIL_GEN_ZERO: zero pages).  Written buffered and fsynced. */
void util_datafile_create(const char *path, size_t psz, uint64_t npages,
                          uint32_t gen);

/* Size of path in bytes (fails the test if stat fails). */
uint64_t util_file_size(const char *path);

/* Read the data file with plain buffered pread (no O_DIRECT) and store the
 * generation of each of its npages pages in gens[] (util_page_gen). */
void util_datafile_gens(const char *path, size_t psz, uint64_t npages,
                        uint32_t *gens);

/* Verify that the data file holds exactly npages pages and page i carries
 * generation want[i].  Prints each mismatch (up to a few) and fails the
 * test if any. */
void util_datafile_verify(const char *path, size_t psz, uint64_t npages,
                          const uint32_t *want);

/* ---- pools --------------------------------------------------------------- */

/* Options for util_pool_config()/util_pool_open().  0 fields keep the
 * library default (except backend: 0 is BP_BACKEND_AUTO). */
struct util_cfg {
    bp_backend backend;
    bp_prefault prefault;
    size_t page_size;
    uint64_t frames; /* cache frames */
    uint64_t slots;  /* window slots */
    unsigned flags;  /* bp_open flags */
    const char *shm_name;
    int shm_keep;
    bp_io_engine engine; /* 0: auto */
    int checksums;       /* bp_set_checksums */
    bp_replacement replacement; /* 0: BP_REPLACE_ADMIT (the default) */
};

/* Stamps leave the last `bytes` of a page alone and checks ignore them
 * (BP_PAGE_TRAILER when the pool keeps page checksums there); 0 = none. */
void util_set_stamp_tail(size_t bytes);

/* Print "what: <strerror> (<rc>): <errmsg>" through print_error. */
void util_print_rc(const bp_pool *p, const char *what, int rc);

/* Apply the options of c to an unopened pool; returns the first nonzero
 * setter result (printed), or 0. */
int util_pool_config(bp_pool *p, const struct util_cfg *c);

/* bp_create + util_pool_config + bp_open(path, c->flags).  On success *out
 * is the open pool.  On failure the error is printed, the handle closed,
 * *out = NULL and the code returned. */
int util_pool_open(bp_pool **out, const char *path, const struct util_cfg *c);

/* Assert bp__test_check(p) == 0, printing bp_errmsg() when not. */
void util_check(bp_pool *p);

/* Assert bp_stats_get() succeeds. */
void util_stats(bp_pool *p, bp_stats *st);

/* Fix pgno in mode, assert success and that it carries gen, unfix clean. */
void util_fix_verify(bp_pool *p, uint64_t pgno, unsigned mode, size_t psz,
                     uint32_t gen);

/* Fix pgno exclusively, assert it carries old_gen, stamp new_gen, unfix
 * dirty. */
void util_fix_write(bp_pool *p, uint64_t pgno, size_t psz, uint32_t old_gen,
                    uint32_t new_gen);

/* The same with mode (BP_EXCLUSIVE, optionally | BP_SCAN). */
void util_fix_write_mode(bp_pool *p, uint64_t pgno, unsigned mode, size_t psz,
                         uint32_t old_gen, uint32_t new_gen);

/* Run run(b) as one cmocka test per backend in bs[0..n) (named after the
 * backend), as group `group`; returns cmocka's result for main(). */
int util_run_backends(const char *group, void (*run)(bp_backend b),
                      const bp_backend *bs, size_t n);

/* Backend name for messages ("rfp", ...). */
const char *util_backend_name(bp_backend b);

/* ---- threads --------------------------------------------------------------- */

/* Online processors (at least 1). */
int util_nproc(void);

/* A watchdog for a test that could hang (a deadlock in the library): unless
 * util_watchdog_stop() is called within seconds, print "watchdog: <what>"
 * (through print_error) and abort() the process, which CTest reports as a
 * failure and util_init()'s handler cleans up after.  It does not call
 * fail_msg(): cmocka's failure longjmps into the test thread's context,
 * which is undefined from another thread.  One watchdog at a time; the
 * timeout is a deadlock bound, never a speed check, so make it generous. */
void util_watchdog_start(unsigned seconds, const char *what);
void util_watchdog_stop(void);

/* TSan: the reads between util_ignore_reads_begin() and _end() on this thread
 * are neither checked nor remembered.  For an optimistic reader's
 * speculative reads only: the library may refill or remap the slot under
 * them (pread, copy-in) at any time, which is the race the optimistic
 * protocol accepts and bp_opt_validate() detects.  No-ops without TSan. */
#if defined(__SANITIZE_THREAD__)
#define UTIL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UTIL_TSAN 1
#endif
#endif
#ifdef UTIL_TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define util_ignore_reads_begin() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define util_ignore_reads_end() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define util_ignore_reads_begin() ((void)0)
#define util_ignore_reads_end() ((void)0)
#endif

#endif /* UTIL_TEST_H */
