/*
 * shared_worker.h - the other processes of the multi-process tests.
 *
 * A worker is the test program itself started with --worker <data> <shm>
 * (posix_spawn of its own path: a fresh process, which sanitizers accept
 * where they refuse threads in a forked child), or the same program built
 * for the other ABI (BP_TEST_PEER: a 32-bit and a 64-bit process on one
 * cache).  It reads one
 * command per line on stdin and writes one line per command on stdout:
 *
 *   open                    bp_open(BP_ATTACH) with the sw_open options
 *   close | flush           bp_close | bp_flush
 *   fix <pgno> s|x|sn|xn    fix and hold (n: BP_NOWAIT)
 *   unfix <pgno> [dirty]    let the held fix go
 *   read <pgno>             "gen <g>": the stamp generation of the page
 *   write <pgno> <gen>      stamp the page with gen under an exclusive fix
 *   alloc <n> <gen>         "pages p1 ... pn": n new pages, each stamped
 *   stamp <iters> <npages> <id> <seed>
 *                           "counts c0 ... c(npages-1)": iters exclusive
 *                           fixes of random pages, each adding 1 to the
 *                           page's counter of worker id (sw_counter_*)
 *   failsync                the next fdatasync fails with EIO ("skip"
 *                           without a fault table)
 *   scribble <pgno>         fix exclusive, overwrite half the page, hold
 *   park evict|flush|alloc [base]
 *                           walk into that park point (bp_testing.h),
 *                           writing pages from base on: the library
 *                           answers "parked" and the worker waits to be
 *                           killed ("skip" without a fault table)
 *   loop <ackfile> <base> <n> <gen0>
 *                           until killed: stamp page base + g % n with g,
 *                           g = gen0, gen0 + 1, ...; flush every 8 pages
 *                           and write the acknowledged g (and the longest
 *                           call in us) to ackfile; reopen when poisoned
 *   quit                    exit 0
 *
 * Answers are "ok", "err <rc>" (and the message on stderr), or the value.
 */
#ifndef SHARED_WORKER_H
#define SHARED_WORKER_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "bufpool.h"

#define SW_PSZ 8192u     /* every pool of these tests */
#define SW_FRAMES 32u
#define SW_SLOTS 8u
#define SW_MAXPAGES 256u /* pages a stamp run spreads over, at most */
#define SW_WORKERS 8u    /* counters per page */

/* bp_create and the options every process of a test uses, then bp_open
 * (with shm: that shared cache, BP_ATTACH; without: a private pool).  On
 * failure *out stays set (for bp_errmsg) and the code is returned. */
int sw_open(bp_pool **out, const char *data, const char *shm, int keep,
            bp_backend be, unsigned flags);

struct sw {
    pid_t pid;
    FILE *to, *from;
};

/* A worker of this program (under BP_TEST_WORKER_EMU, the emulator that
 * runs this program, when set), or of prog (under emu when not NULL). */
void sw_start(struct sw *w, const char *data, const char *shm,
              const char *extra);
void sw_start_prog(struct sw *w, const char *prog, const char *emu,
                   const char *data, const char *shm, const char *extra);
void sw_send(struct sw *w, const char *cmd);
void sw_recv(struct sw *w, char *line, size_t len); /* fails on EOF */
void sw_cmd(struct sw *w, const char *cmd, char *line, size_t len);
int sw_stop(struct sw *w); /* quit, wait: the exit status (128 + signal) */

int sw_parse_counts(const char *line, uint64_t *counts, unsigned n);
int sw_parse_list(const char *line, const char *tag, uint64_t *v, unsigned n);

/* A counter page: uint64 counts[SW_WORKERS], then a hash of the counts
 * and of a fill derived from them and pgno over the rest of the page.
 * check: 0 when the page is whole and holds want (all zero: a new page);
 * else -1 (printed). */
void sw_counter_add(void *page, uint64_t pgno, unsigned id);
int sw_counter_check(const void *page, uint64_t pgno, const uint64_t *want);

int sw_main(int argc, char **argv);

#endif
