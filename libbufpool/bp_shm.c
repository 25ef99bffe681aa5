/*
 * bp_shm.c - the shm backing file that holds the cache frames and the
 * shared metadata.
 *
 * Owns: creating the file (named in /dev/shm, or an anonymous memfd),
 * checking it is safe and that memory exists for it, allocating every byte
 * up front, mapping and initializing the metadata part, and removing it.
 *
 * Invariants:
 *  - The file is created, never reused: O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC,
 *    mode 0600, then fstat confirms a regular file of our uid with no
 *    group/other bits and one link.  An existing name or a planted symlink
 *    fails with -EEXIST and is left untouched.
 *  - Every byte is fallocate()d at open, so a full tmpfs fails here with
 *    BP_ESHMSPACE instead of raising SIGBUS on some later page touch.  A memfd
 *    is also sealed against shrinking, so nobody can truncate it under the
 *    window (which would raise SIGBUS).
 *  - Layout (offsets, never pointers) is described in bp_internal.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bp_internal.h"
#include "bp_sys.h"

#define BP__SHM_DIR "/dev/shm"

static uint64_t bp__round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* Bytes the memory cgroup still allows, or UINT64_MAX when unlimited or
 * unknown (cgroup v2 memory.max, else v1 memory.limit_in_bytes). */
static uint64_t bp__cgroup_room(void)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[512], path[700];
    uint64_t room = UINT64_MAX;

    if (!f)
        return room;
    while (fgets(line, sizeof line, f)) {
        char *cg = strrchr(line, ':');
        unsigned long long lim, cur = 0;
        FILE *g;

        if (!cg)
            continue;
        cg[strcspn(cg, "\n")] = '\0';
        if (strncmp(line, "0::", 3) == 0)
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", cg + 1);
        else if (strstr(line, ":memory:"))
            snprintf(path, sizeof path,
                     "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", cg + 1);
        else
            continue;
        g = fopen(path, "re");
        if (!g)
            continue;
        if (fscanf(g, "%llu", &lim) == 1) {
            char *slash = strrchr(path, '/');

            fclose(g);
            strcpy(slash + 1, strncmp(line, "0::", 3) == 0
                                  ? "memory.current"
                                  : "memory.usage_in_bytes");
            if ((g = fopen(path, "re")) != NULL) {
                if (fscanf(g, "%llu", &cur) != 1)
                    cur = 0;
                fclose(g);
            }
            if (lim > cur && lim - cur < room)
                room = lim - cur;
            else if (lim <= cur)
                room = 0;
        } else {
            fclose(g); /* "max": unlimited */
        }
    }
    fclose(f);
    return room;
}

static uint64_t bp__mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    unsigned long long kb;

    if (!f)
        return UINT64_MAX;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            fclose(f);
            return (uint64_t)kb * 1024;
        }
    }
    fclose(f);
    return UINT64_MAX;
}

static int bp__shm_space_check(bp_pool *p, uint64_t size, const char *dir)
{
    struct statvfs vfs;
    uint64_t room;
    const char *what;

    if (dir) {
        if (statvfs(dir, &vfs) != 0)
            return bp__fail(p, -errno, "statvfs(%s) failed", dir);
        room = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        what = dir;
    } else {
        room = bp__mem_available();
        what = "memory (MemAvailable, for the memfd)";
    }
    if (size > room)
        return bp__fail(p, BP_ESHMSPACE,
                        "cache needs %" PRIu64 " bytes of shm but %s has %" PRIu64
                        " free: use a smaller cache or a larger tmpfs",
                        size, what, room);
    room = bp__cgroup_room();
    if (size > room)
        return bp__fail(p, BP_ESHMSPACE,
                        "cache needs %" PRIu64 " bytes but the memory cgroup "
                        "allows %" PRIu64 " more: a larger pool would be "
                        "OOM-killed; use a smaller cache",
                        size, room);
    return 0;
}

static int bp__shm_create(bp_pool *p, uint64_t size)
{
    const char *name = p->po_shm_name;
    struct stat st;
    char *path;
    size_t len;
    int fd, rc;

    if (!name) {
        if ((rc = bp__shm_space_check(p, size, NULL)) != 0)
            return rc;
        fd = bp__sys_memfd_create("bufpool",
                                  MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
            return bp__fail(p, -errno, "memfd_create failed");
        p->shm_fd = fd;
        return 0;
    }
    len = strlen(name) + sizeof BP__SHM_DIR + 1;
    if (!(path = bp__alloc(p, len)))
        return -ENOMEM;
    if (strchr(name, '/'))
        memcpy(path, name, strlen(name) + 1);
    else
        snprintf(path, len, "%s/%s", BP__SHM_DIR, name);
    {
        char *dir = bp__alloc(p, len), *slash;

        if (!dir) {
            bp__free(p, path, len);
            return -ENOMEM;
        }
        memcpy(dir, path, len);
        slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        rc = bp__shm_space_check(p, size, dir);
        bp__free(p, dir, len);
        if (rc) {
            bp__free(p, path, len);
            return rc;
        }
    }
    fd = bp__sys_open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0600);
    if (fd < 0) {
        rc = -errno;
        bp__fail(p, rc,
                 rc == -EEXIST ? "shm file %s already exists (never reused or "
                                 "followed): pick another name or remove it"
                               : "cannot create shm file %s",
                 path);
        bp__free(p, path, len);
        return rc;
    }
    p->shm_fd = fd;
    p->shm_path = path;
    p->shm_path_len = len;
    if (bp__sys_fstat(fd, &st) != 0)
        return bp__fail(p, -errno, "fstat of shm file %s failed", path);
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0 || st.st_nlink != 1)
        return bp__fail(p, BP_ESHMUNSAFE,
                        "shm file %s: mode %o uid %u links %u", path,
                        (unsigned)st.st_mode, (unsigned)st.st_uid,
                        (unsigned)st.st_nlink);
    return 0;
}

/* A frame at or beyond 4 GiB must map the bytes that pread/pwrite see at
 * its offset.  A system that cuts mmap offsets to 32 bits (qemu-user 7.2
 * running an i386 program: its mmap2 shifts the page offset in 32 bits)
 * would map another frame there and lose data without a word; one page of
 * the highest frame, written, mapped and compared at open, refuses that.
 * The frame is fresh (the file was just created) and is zeroed again. */
static int bp__shm_check_high_map(bp_pool *p, uint64_t off)
{
    const uint64_t mark = BP__SHM_MAGIC ^ off, zero = 0;
    size_t kp = (size_t)sysconf(_SC_PAGESIZE);
    ssize_t n;
    int same;
    void *m;

    if (off <= UINT32_MAX)
        return 0;
    if ((n = bp__sys_shm_pwrite(p->shm_fd, &mark, sizeof mark,
                                (off_t)off)) != (ssize_t)sizeof mark)
        return bp__fail(p, n < 0 ? -errno : -EIO,
                        "write of shm offset %" PRIu64 " failed", off);
    m = bp__sys_mmap(NULL, kp, PROT_READ, MAP_SHARED, p->shm_fd, (off_t)off);
    if (m == MAP_FAILED)
        return bp__fail(p, -errno, "mmap of shm offset %" PRIu64 " failed",
                        off);
    same = memcmp(m, &mark, sizeof mark) == 0;
    munmap(m, kp);
    if (!same)
        return bp__fail(p, -EOVERFLOW,
                        "a mapping of shm offset %" PRIu64 " shows other "
                        "bytes than were written there: this system cuts "
                        "mmap offsets to 32 bits (as qemu-user's i386 "
                        "emulation does); use a cache below 4 GiB",
                        off);
    if ((n = bp__sys_shm_pwrite(p->shm_fd, &zero, sizeof zero,
                                (off_t)off)) != (ssize_t)sizeof zero)
        return bp__fail(p, n < 0 ? -errno : -EIO,
                        "write of shm offset %" PRIu64 " failed", off);
    return 0;
}

int bp__shm_open(bp_pool *p)
{
    uint32_t psz = p->po_page_size;
    uint64_t n = p->nframes, ptab_n = bp__htab_entries_for(n);
    uint64_t desc_off = bp__round_up(sizeof(struct bp__shm_hdr), 64);
    uint64_t words_off = bp__round_up(desc_off + n * sizeof(struct bp__frame),
                                      64);
    uint64_t ptab_off = bp__round_up(words_off + n * sizeof(uint64_t), 64);
    uint64_t frames_off = bp__round_up(ptab_off + ptab_n * 4, psz);
    uint64_t size = frames_off + n * psz;
    struct bp__shm_hdr *h;
    void *m;
    int rc;

    if (frames_off > SIZE_MAX / 2)
        return bp__fail(p, BP_EWINDOW, "cache metadata too large to map");
    if ((rc = bp__shm_create(p, size)) != 0)
        return rc;
    rc = bp__sys_fallocate(p->shm_fd, 0, 0, (off_t)size);
    if (rc != 0) {
        rc = -errno;
        if (rc == -ENOSPC || rc == -ENOMEM)
            return bp__fail(p, BP_ESHMSPACE,
                            "fallocate of %" PRIu64 " bytes of shm: %s", size,
                            strerror(-rc));
        return bp__fail(p, rc, "fallocate of the shm file failed");
    }
    if (!p->shm_path)
        (void)bp__sys_add_seals(p->shm_fd, F_SEAL_SHRINK | F_SEAL_GROW);
    m = bp__sys_mmap(NULL, (size_t)frames_off, PROT_READ | PROT_WRITE,
                     MAP_SHARED, p->shm_fd, 0);
    if (m == MAP_FAILED)
        return bp__fail(p, -errno, "mmap of %" PRIu64 " bytes of metadata",
                        frames_off);
    p->meta = h = m;
    p->meta_len = (size_t)frames_off;
    h->sh_magic = BP__SHM_MAGIC;
    h->sh_version = 1;
    h->sh_page_size = psz;
    h->sh_nframes = n;
    h->sh_frames_desc = desc_off;
    h->sh_words = words_off;
    h->sh_ptab = ptab_off;
    h->sh_ptab_mask = ptab_n - 1;
    h->sh_frames_off = frames_off;
    h->sh_file_size = size;
    h->sh_free_top = n;
    p->frames = (struct bp__frame *)((char *)m + desc_off);
    p->words = (uint64_t *)((char *)m + words_off);
    for (uint64_t i = 0; i < n; i++)
        p->frames[i].fr_pgno = BP__NOPAGE;
    p->ptab = (uint32_t *)((char *)m + ptab_off);
    p->ptab_mask = ptab_n - 1;
    return n ? bp__shm_check_high_map(p, frames_off + (n - 1) * psz) : 0;
}

void bp__shm_close(bp_pool *p, int unlink_anyway)
{
    if (p->meta)
        munmap(p->meta, p->meta_len);
    p->meta = NULL;
    p->frames = NULL;
    p->words = NULL;
    if (p->shm_fd >= 0)
        close(p->shm_fd);
    p->shm_fd = -1;
    if (p->shm_path) {
        if ((!p->po_shm_keep || unlink_anyway) && !p->forked)
            unlink(p->shm_path);
        bp__free(p, p->shm_path, p->shm_path_len);
    }
    p->shm_path = NULL;
}
