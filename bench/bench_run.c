/*
 * bench_run.c - owns what bench_run.h promises: shared memory for forked
 * children, and the child of one measured run with its pipes, its memory
 * cgroup and its reaping.
 *
 * The parent runs one child at a time: br_running holds its pid from the
 * fork to the reaping, and br_on_signal, chained before the handlers the
 * cleanup registry installed (installed at the first br_child_start),
 * kills and reaps it, then lets the registry's handler clean up and end
 * the process.  A br_child is the parent's or the child's view: pid is the
 * child's in the parent, 0 in the child; rd and wr are that side's ends
 * of the two pipes.
 */
#include "bench_run.h"

#include "bench_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

void *br_shared(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void br_shared_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes);
}

struct br_child {
    pid_t pid;    /* parent: the child's; child: 0 */
    int rd, wr;   /* this side's ends of the pipes */
    bu_cgroup cg; /* parent: the child's memory cgroup, path "" when none */
};

/* The signals that stop the parent from outside, and the handlers the
 * cleanup registry had installed for them. */
static const int br_stops[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define BR_NSTOPS (sizeof br_stops / sizeof br_stops[0])
static struct sigaction br_old[BR_NSTOPS];
static volatile pid_t br_running; /* the child being run, 0: none */

/* Kill and reap the running child, then the registry's handler (cleanup,
 * the signal raised again with its default action).  Async-signal-safe
 * calls only. */
static void br_on_signal(int sig)
{
    pid_t pid = br_running;
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    for (size_t i = 0; i < BR_NSTOPS; i++)
        if (br_stops[i] == sig && br_old[i].sa_handler != SIG_DFL &&
            br_old[i].sa_handler != SIG_IGN) {
            br_old[i].sa_handler(sig);
            return;
        }
    raise(sig); /* SA_RESETHAND: the default action once we return */
}

/* Chain br_on_signal before the registry's handlers, once (a signal
 * ignored stays ignored). */
static void br_parent_signals(void)
{
    static int done;
    struct sigaction sa;
    if (done)
        return;
    done = 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = br_on_signal;
    sa.sa_flags = (int)SA_RESETHAND;
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < BR_NSTOPS; i++)
        if (sigaction(br_stops[i], NULL, &br_old[i]) == 0 &&
            br_old[i].sa_handler != SIG_IGN)
            sigaction(br_stops[i], &sa, NULL);
}

int br_child_start(br_child **out, int (*fn)(void *arg, br_child *self),
                   void *arg, char *err, size_t n)
{
    int up[2] = {-1, -1}, down[2] = {-1, -1}, rc;
    br_child *c = calloc(1, sizeof *c);

    *out = NULL;
    if (!c) {
        snprintf(err, n, "out of memory");
        return -ENOMEM;
    }
    if (pipe(up) != 0 || pipe(down) != 0) {
        rc = -errno;
        snprintf(err, n, "pipe: %s", strerror(-rc));
        goto fail;
    }
    br_parent_signals();
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        rc = -errno;
        snprintf(err, n, "fork: %s", strerror(-rc));
        goto fail;
    }
    if (pid == 0) {
        bu_cleanup_child();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(up[0]);
        close(down[1]);
        c->rd = down[0];
        c->wr = up[1];
        _exit(getppid() == parent ? fn(arg, c) : 1);
    }
    br_running = pid;
    close(up[1]);
    close(down[0]);
    c->pid = pid;
    c->rd = up[0];
    c->wr = down[1];
    *out = c;
    return 0;
fail:
    bu_close_fds(up, 2);
    bu_close_fds(down, 2);
    free(c);
    return rc;
}

int br_child_say(br_child *c, char b)
{
    if (write(c->wr, &b, 1) == 1)
        return 0;
    if (c->pid > 0)
        kill(c->pid, SIGKILL);
    return -1;
}

int br_child_hear(br_child *c, char want)
{
    char b;
    return read(c->rd, &b, 1) == 1 && b == want ? 0 : -1;
}

int br_child_limit(br_child *c, uint64_t bytes, char *why, size_t n)
{
    int rc = bu_cgroup_create(&c->cg, bytes, why, n);
    if (!rc)
        rc = bu_cgroup_enter(&c->cg, c->pid, why, n);
    if (rc)
        bu_cgroup_remove(&c->cg);
    return rc;
}

void br_child_unlimit(br_child *c, uint64_t *peak)
{
    if (!c->cg.path[0])
        return;
    *peak = bu_cgroup_peak(&c->cg);
    bu_cgroup_remove(&c->cg);
}

int br_child_wait(br_child *c, uint64_t *max_rss, uint64_t *peak,
                  char *err, size_t n)
{
    int st = 0;
    struct rusage ru;

    memset(&ru, 0, sizeof ru);
    while (wait4(c->pid, &st, 0, &ru) < 0 && errno == EINTR)
        ;
    br_running = 0;
    if (max_rss)
        *max_rss = (uint64_t)ru.ru_maxrss * 1024;
    if (peak && c->cg.path[0])
        *peak = bu_cgroup_peak(&c->cg);
    bu_child_err(err, n, st, c->cg.path[0] != 0);
    bu_cgroup_remove(&c->cg);
    close(c->rd);
    close(c->wr);
    free(c);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}
