/*
 * bench_run.h - the runner's process plumbing shared by the bpbench
 * subcommands: memory that forked children and their parent share, and
 * one forked child per measured run (the workload harness runs every
 * engine in one, `bpbench sqlite` every engine and round).
 *
 * A child (br_child_start) starts with the signals the cleanup registry
 * (bench_util.h) catches back at their default actions, so that dying it
 * never removes the parent's files, and dies with its parent (SIGKILL).
 * It talks to its parent by single bytes on two pipes (br_child_say,
 * br_child_hear), in a protocol of the caller's; it leaves by _exit with
 * fn's return value, never by exit(), so the parent's atexit cleanup runs
 * once, in the parent.
 *
 * While a child runs, SIGINT, SIGTERM, SIGHUP and SIGQUIT in the parent
 * kill and reap it before the registry's handler removes the files and
 * the child's memory cgroup; the parent runs one child at a time.
 */
#ifndef BENCH_RUN_H
#define BENCH_RUN_H

#include <stddef.h>
#include <stdint.h>

/* bytes of zeroed MAP_SHARED | MAP_ANONYMOUS memory, shared with the
 * children forked later; NULL when mmap fails (errno set).  Freed by
 * br_shared_free with the same size. */
void *br_shared(size_t bytes);
void br_shared_free(void *p, size_t bytes);

/* One forked child; its fields are bench_run.c's. */
typedef struct br_child br_child;

/* Fork a child that runs fn(arg, itself) and _exits with its return
 * value (1 when the parent is gone already); stdout and stderr are
 * flushed first.  In the parent: 0 with the child in *c, or -errno with
 * "pipe: ...", "fork: ..." or "out of memory" in err (n bytes). */
int br_child_start(br_child **c, int (*fn)(void *arg, br_child *self),
                   void *arg, char *err, size_t n);

/* Send byte b to the other side: 0, or -1 when it cannot be sent (the
 * parent then kills the child with SIGKILL). */
int br_child_say(br_child *c, char b);

/* Wait for a byte from the other side: 0 when it is want, -1 when it is
 * another or the other side closed its pipe. */
int br_child_hear(br_child *c, char want);

/* Parent: put the child into a fresh memory cgroup limited to bytes
 * (bu_cgroup_create): 0, or -errno with the reason in why (no cgroup
 * left behind). */
int br_child_limit(br_child *c, uint64_t bytes, char *why, size_t n);

/* Parent: when the child is in a cgroup, its peak usage into *peak (0
 * when unknown), the child moved out and the cgroup removed. */
void br_child_unlimit(br_child *c, uint64_t *peak);

/* Parent: reap the child and free c.  Its peak RSS (wait4) into *max_rss
 * and, when it ends inside a cgroup, the cgroup's peak usage into *peak
 * (both may be NULL; *peak is left alone otherwise); the cgroup removed.
 * How the child ended badly goes to err unless err holds a reason
 * already (bu_child_err).  0 when it exited with status 0, else -1. */
int br_child_wait(br_child *c, uint64_t *max_rss, uint64_t *peak,
                  char *err, size_t n);

#endif
