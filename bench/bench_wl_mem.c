/*
 * bench_wl_mem.c - equal memory for every engine in out-of-memory mode:
 * dropping the kernel's page cache before a run, and the memory cgroup
 * that limits LMDB (whose only cache is the page cache) to the budget the
 * bufpool engine gets as cache + private window.
 *
 * Cgroup life cycle (all in the parent, which outlives the child):
 *   wl_cgroup_create  mkdir <root>/bpbench.<pid>.<n>, set the limit
 *                     (v2 memory.max, v1 memory.limit_in_bytes), register
 *                     the directory for cleanup (rmdir at exit or signal)
 *   wl_cgroup_enter   write the child's pid into its cgroup.procs
 *   wl_cgroup_remove  write every pid still listed back into the cgroup we
 *                     came from, then rmdir (retried while the kernel still
 *                     holds the exited child's charges)
 * v2 is used when a cgroup2 hierarchy (/sys/fs/cgroup or
 * /sys/fs/cgroup/unified) lists "memory" in cgroup.controllers; otherwise
 * the v1 memory controller at /sys/fs/cgroup/memory.
 */
#include "bench_wl_impl.h"

#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Write s to path.  0 or -errno. */
static int wl_write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = strlen(s);
    ssize_t w = write(fd, s, n);
    int rc = w == (ssize_t)n ? 0 : (w < 0 ? -errno : -EIO);
    if (close(fd) != 0 && !rc)
        rc = -errno;
    return rc;
}

/* Read up to n-1 bytes of path into buf ("" on failure). */
static void wl_read_file(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t r = read(fd, buf, n - 1);
    buf[r > 0 ? r : 0] = '\0';
    close(fd);
}

int wl_drop_caches(char *why, size_t whysz)
{
    sync();
    int rc = wl_write_file("/proc/sys/vm/drop_caches", "3");
    if (rc)
        snprintf(why, whysz, "cannot drop the page cache "
                             "(/proc/sys/vm/drop_caches: %s)", strerror(-rc));
    return rc;
}

/* Our own cgroup's directory under root (v1 memory line or v2 "0::"). */
static void wl_own_cgroup(const char *root, int v2, char *out, size_t n)
{
    char buf[4096];
    wl_read_file("/proc/self/cgroup", buf, sizeof buf);
    const char *rel = "/";
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if ((v2 && strncmp(line, "0::", 3) == 0) ||
            (!v2 && strstr(line, ":memory:"))) {
            rel = strrchr(line, ':') + 1;
            break;
        }
    }
    snprintf(out, n, "%s%s", root, strcmp(rel, "/") == 0 ? "" : rel);
}

static int wl_has_v2_memory(const char *root)
{
    char path[256], buf[512];
    snprintf(path, sizeof path, "%s/cgroup.controllers", root);
    wl_read_file(path, buf, sizeof buf);
    for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
        if (strcmp(t, "memory") == 0)
            return 1;
    return 0;
}

int wl_cgroup_create(wl_cgroup *cg, uint64_t limit, char *why, size_t whysz)
{
    static const char *const v2roots[] = {"/sys/fs/cgroup",
                                          "/sys/fs/cgroup/unified"};
    static unsigned seq;
    const char *root = NULL;
    memset(cg, 0, sizeof *cg);
    for (size_t i = 0; i < 2 && !root; i++)
        if (wl_has_v2_memory(v2roots[i])) {
            root = v2roots[i];
            cg->v2 = 1;
        }
    if (!root && access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) ==
                     0)
        root = "/sys/fs/cgroup/memory";
    if (!root) {
        snprintf(why, whysz, "no memory cgroup controller is mounted");
        return -ENOENT;
    }
    char home[200];
    wl_own_cgroup(root, cg->v2, home, sizeof home);
    snprintf(cg->home, sizeof cg->home, "%s/cgroup.procs", home);
    char path[256];
    snprintf(path, sizeof path, "%s/bpbench.%d.%u", root, (int)getpid(),
             seq++);
    if (mkdir(path, 0700) != 0) {
        snprintf(why, whysz, "mkdir %s: %s", path, strerror(errno));
        return -errno;
    }
    snprintf(cg->path, sizeof cg->path, "%s", path);
    bu_cleanup_add(cg->path, 1);
    if (cg->v2) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s/cgroup.subtree_control", root);
        wl_write_file(sub, "+memory"); /* may already be on */
    }
    char file[320], val[32];
    snprintf(file, sizeof file, "%s/%s", path,
             cg->v2 ? "memory.max" : "memory.limit_in_bytes");
    snprintf(val, sizeof val, "%llu", (unsigned long long)limit);
    int rc = wl_write_file(file, val);
    if (rc) {
        snprintf(why, whysz, "%s: %s", file, strerror(-rc));
        wl_cgroup_remove(cg);
        return rc;
    }
    /* No swap here, but if there were, the limit must hold for it too. */
    snprintf(file, sizeof file, "%s/%s", path,
             cg->v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
    if (access(file, F_OK) == 0)
        wl_write_file(file, cg->v2 ? "0" : val);
    return 0;
}

int wl_cgroup_enter(const wl_cgroup *cg, int pid, char *why, size_t whysz)
{
    char file[320], val[32];
    snprintf(file, sizeof file, "%s/cgroup.procs", cg->path);
    snprintf(val, sizeof val, "%d", pid);
    int rc = wl_write_file(file, val);
    if (rc)
        snprintf(why, whysz, "%s: %s", file, strerror(-rc));
    return rc;
}

int wl_cgroup_remove(wl_cgroup *cg)
{
    if (!cg->path[0])
        return 0;
    char file[320], buf[4096];
    snprintf(file, sizeof file, "%s/cgroup.procs", cg->path);
    wl_read_file(file, buf, sizeof buf);
    for (char *t = strtok(buf, "\n"); t; t = strtok(NULL, "\n"))
        wl_write_file(cg->home, t);
    int rc = 0;
    for (int i = 0; i < 100; i++) {
        rc = rmdir(cg->path) == 0 || errno == ENOENT ? 0 : -errno;
        if (rc != -EBUSY)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc)
        fprintf(stderr, "bpbench: cannot remove cgroup %s: %s\n", cg->path,
                strerror(-rc));
    else
        bu_cleanup_forget(cg->path);
    cg->path[0] = '\0';
    return rc;
}
