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
 *  - Layout (offsets, never pointers) is described in bp_shared.h.
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

#include "shm/shm_impl.h"
#include "platform/bp_sys.h"

#define BP__SHM_DIR "/dev/shm"

static uint64_t bp__round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* The page cache of files a memory cgroup holds, which the kernel
 * reclaims when the cgroup needs room: active_file + inactive_file of the
 * memory.stat beside path (v1: their total_ forms, the hierarchy's).
 * Shared memory is not counted there (it is on the anonymous lists). */
static uint64_t bp__cgroup_file_cache(char *path, int v2)
{
    char *slash = strrchr(path, '/'), key[64];
    unsigned long long v, sum = 0;
    FILE *g;

    strcpy(slash + 1, "memory.stat");
    if (!(g = fopen(path, "re")))
        return 0;
    while (fscanf(g, "%63s %llu", key, &v) == 2)
        if (!strcmp(key, v2 ? "active_file" : "total_active_file") ||
            !strcmp(key, v2 ? "inactive_file" : "total_inactive_file"))
            sum += v;
    fclose(g);
    return sum;
}

/* Bytes the memory cgroup still allows, or UINT64_MAX when unlimited or
 * unknown (cgroup v2 memory.max, else v1 memory.limit_in_bytes), the
 * file page cache it holds counted as room (the kernel reclaims it). */
static uint64_t bp__cgroup_room(void)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[512], path[700];
    uint64_t room = UINT64_MAX;

    if (!f)
        return room;
    while (fgets(line, sizeof line, f)) {
        char *cg = strrchr(line, ':');
        unsigned long long lim, cur = 0, file;
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
            file = bp__cgroup_file_cache(path, strncmp(line, "0::", 3) == 0);
            cur -= file < cur ? file : cur;
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

/* p->shm_path from the name: in /dev/shm unless it holds a '/'. */
static int bp__shm_path(bp_pool *p)
{
    const char *name = p->po_shm_name;
    size_t len = strlen(name) + sizeof BP__SHM_DIR + 1;
    char *path = bp__alloc(p, len);

    if (!path)
        return -ENOMEM;
    if (strchr(name, '/'))
        memcpy(path, name, strlen(name) + 1);
    else
        snprintf(path, len, "%s/%s", BP__SHM_DIR, name);
    p->shm_path = path;
    p->shm_path_len = len;
    return 0;
}

/* The space check for a named file: the file system holding it. */
static int bp__shm_space_named(bp_pool *p, uint64_t size)
{
    size_t len = p->shm_path_len;
    char *dir = bp__alloc(p, len), *slash;
    int rc;

    if (!dir)
        return -ENOMEM;
    memcpy(dir, p->shm_path, len);
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    rc = bp__shm_space_check(p, size, dir);
    bp__free(p, dir, len);
    return rc;
}

/* A named file is ours to use: a regular file with one link and exactly
 * the mode asked for, owned by us (or, with a group mode, by our group). */
static int bp__shm_safe(bp_pool *p, const struct stat *st)
{
    mode_t mode = p->po_shm_mode ? p->po_shm_mode : 0600;
    int owner = st->st_uid == geteuid() ||
                ((mode & 060) && st->st_gid == getegid());

    if (!S_ISREG(st->st_mode) || !owner || (st->st_mode & 0777) != mode ||
        st->st_nlink != 1)
        return bp__fail(p, BP_ESHMUNSAFE,
                        "shm file %s: mode %o uid %u links %u (wanted a "
                        "regular file of mode %o, ours, one link)",
                        p->shm_path, (unsigned)st->st_mode,
                        (unsigned)st->st_uid, (unsigned)st->st_nlink,
                        (unsigned)mode);
    return 0;
}

/* A private pool's file: a new memfd, or a new named file (O_EXCL). */
static int bp__shm_create(bp_pool *p, uint64_t size)
{
    mode_t mode = p->po_shm_mode ? p->po_shm_mode : 0600;
    struct stat st;
    int fd, rc;

    if (!p->po_shm_name) {
        if ((rc = bp__shm_space_check(p, size, NULL)) != 0)
            return rc;
        fd = bp__sys_memfd_create("bufpool",
                                  MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
            return bp__fail(p, -errno, "memfd_create failed");
        p->shm_fd = fd;
        return 0;
    }
    if ((rc = bp__shm_path(p)) != 0 ||
        (rc = bp__shm_space_named(p, size)) != 0)
        return rc;
    fd = bp__sys_open(p->shm_path,
                      O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      mode);
    if (fd < 0) {
        rc = -errno;
        bp__fail(p, rc,
                 rc == -EEXIST ? "shm file %s already exists (never reused or "
                                 "followed): pick another name or remove it"
                               : "cannot create shm file %s",
                 p->shm_path);
        bp__free(p, p->shm_path, p->shm_path_len);
        p->shm_path = NULL; /* not ours: bp__shm_close leaves it */
        return rc;
    }
    p->shm_fd = fd;
    p->shm_created = 1;
    (void)fchmod(fd, mode); /* the umask may have taken group bits */
    if (bp__sys_fstat(fd, &st) != 0)
        return bp__fail(p, -errno, "fstat of shm file %s failed",
                        p->shm_path);
    return bp__shm_safe(p, &st);
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

/* Where each part of the file goes for this pool's options. */
struct bp__geom {
    uint64_t procs_off, desc_off, words_off, ptab_off, ptab_n, dmap_off,
        dmap_n, freq_off, freq_n, admit_off, admit_n, stats_off, frames_off,
        size;
};

static void bp__shm_geom(const bp_pool *p, struct bp__geom *g)
{
    uint32_t psz = p->po_page_size;
    uint64_t n = p->nframes;

    g->ptab_n = bp__htab_entries_for(n);
    g->procs_off = bp__round_up(sizeof(struct bp__shm_hdr), 64);
    g->desc_off = bp__round_up(g->procs_off + BP__PROCS *
                                                  sizeof(struct bp__proc),
                               64);
    g->words_off = bp__round_up(g->desc_off + n * sizeof(struct bp__frame),
                                64);
    g->ptab_off = bp__round_up(g->words_off + n * sizeof(uint64_t), 64);
    g->dmap_off = bp__round_up(g->ptab_off + g->ptab_n * 4, 64);
    g->dmap_n = n * BP__DMAP_SPAN;
    g->freq_off = bp__round_up(g->dmap_off + g->dmap_n * 4, 64);
    g->freq_n = bp__freq_len(n);
    g->admit_off = bp__round_up(g->freq_off + g->freq_n, 64);
    g->admit_n = bp__admit_len(n);
    g->stats_off = bp__round_up(g->admit_off + g->admit_n * 8, 128);
    g->frames_off = bp__round_up(g->stats_off +
                                     (uint64_t)BP__PROCS *
                                         BP__STAT_PROC_BYTES +
                                     sizeof(struct bp__stat_retired),
                                 psz);
    g->size = g->frames_off + n * psz;
}

static uint32_t bp__wal_word(const bp_pool *p)
{
    return p->po_wal_fn ? (uint32_t)p->po_wal_offset : UINT32_MAX;
}

/* Point the pool at the mapped metadata. */
static void bp__shm_bind(bp_pool *p, const struct bp__geom *g)
{
    char *m = (char *)p->meta;

    p->frames = (struct bp__frame *)(m + g->desc_off);
    p->words = (uint64_t *)(m + g->words_off);
    p->ptab = (uint32_t *)(m + g->ptab_off);
    p->ptab_mask = g->ptab_n - 1;
    p->dmap = (uint32_t *)(m + g->dmap_off);
    p->dmap_n = g->dmap_n;
    p->freq = (uint8_t *)(m + g->freq_off);
    p->freq_mask = g->freq_n - 1;
    p->admit = (uint64_t *)(m + g->admit_off);
    p->admit_n = (uint32_t)g->admit_n;
    p->procs = (struct bp__proc *)(m + g->procs_off);
    p->disk_pages = &p->meta->sh_disk_pages;
    p->wal_durable = &p->meta->sh_wal_durable;
}

/* Size the (new or emptied) file, map its metadata and build it; the
 * magic goes in last, so an attacher never trusts a half-built header. */
static int bp__shm_build(bp_pool *p, const struct bp__geom *g)
{
    struct bp__shm_hdr *h;
    unsigned again = 0;
    void *m;
    int rc;

    /* tmpfs stops at a pending signal (EINTR), io_uring's task work
     * included (Linux 6.1); what it allocated stays, so go on */
    while ((rc = bp__sys_fallocate(p->shm_fd, 0, 0, (off_t)g->size)) != 0 &&
           errno == EINTR && ++again < 64)
        ;
    if (rc != 0) {
        rc = -errno;
        if (rc == -ENOSPC || rc == -ENOMEM)
            return bp__fail(p, BP_ESHMSPACE,
                            "fallocate of %" PRIu64 " bytes of shm: %s",
                            g->size, strerror(-rc));
        return bp__fail(p, rc, "fallocate of the shm file failed");
    }
    if (!p->shm_path)
        (void)bp__sys_add_seals(p->shm_fd, F_SEAL_SHRINK | F_SEAL_GROW);
    m = bp__sys_mmap(NULL, (size_t)g->frames_off, PROT_READ | PROT_WRITE,
                     MAP_SHARED, p->shm_fd, 0);
    if (m == MAP_FAILED)
        return bp__fail(p, -errno, "mmap of %" PRIu64 " bytes of metadata",
                        g->frames_off);
    p->meta = h = m;
    p->meta_len = (size_t)g->frames_off;
    bp__shm_bind(p, g);
    h->sh_version = BP__LAYOUT_VERSION;
    h->sh_page_size = p->po_page_size;
    h->sh_nframes = p->nframes;
    h->sh_frames_desc = g->desc_off;
    h->sh_words = g->words_off;
    h->sh_ptab = g->ptab_off;
    h->sh_ptab_mask = g->ptab_n - 1;
    h->sh_dmap = g->dmap_off;
    h->sh_freq = g->freq_off;
    h->sh_freq_mask = g->freq_n - 1;
    h->sh_admit = g->admit_off;
    h->sh_stats = g->stats_off;
    bp__admit_clear(p);
    h->sh_frames_off = g->frames_off;
    h->sh_file_size = g->size;
    h->sh_layout = BP__LAYOUT_SIG;
    h->sh_data_dev = p->data_dev;
    h->sh_data_ino = p->data_ino;
    h->sh_procs_off = g->procs_off;
    h->sh_nprocs = BP__PROCS;
    h->sh_shared = (uint32_t)p->shared;
    h->sh_checksums = (uint32_t)!!p->po_checksums;
    h->sh_wal_offset = bp__wal_word(p);
    h->sh_free_top = p->nframes;
    h->sh_data_pages = h->sh_disk_pages = p->file_pages;
    for (uint64_t i = 0; i < p->nframes; i++)
        p->frames[i].fr_pgno = BP__NOPAGE;
    if (p->nframes &&
        (rc = bp__shm_check_high_map(p, g->frames_off + (p->nframes - 1) *
                                                           p->po_page_size)))
        return rc;
    h->sh_stat_writes = UINT64_MAX;
    bp__data_stamp(p); /* this life's generation, and the file's stat */
    __atomic_store_n(&h->sh_magic, BP__SHM_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

#define BP__ATTACH_WAIT_MS 10000 /* the init lock: creators fallocate */

/* The cache's init lock, waited for in 1 ms naps up to
 * BP__ATTACH_WAIT_MS: 0, or an error naming the wait. */
static int bp__shm_init_lock(bp_pool *p)
{
    const struct timespec ms = {0, 1000000};
    int rc;

    for (int i = 0; i < BP__ATTACH_WAIT_MS; i++) {
        if ((rc = bp__ofd_lock(p->shm_fd, F_WRLCK, BP__LOCKB_INIT)) != -EAGAIN)
            break;
        nanosleep(&ms, NULL);
    }
    if (rc == -EAGAIN)
        return bp__fail(p, -ETIMEDOUT, "shm cache %s: another process held "
                        "its init lock for %d s (creating or checking it)",
                        p->shm_path, BP__ATTACH_WAIT_MS / 1000);
    if (rc)
        return bp__fail(p, rc, "cannot lock shm file %s (F_OFD_SETLK)",
                        p->shm_path);
    p->shm_init_held = 1;
    return 0;
}

static void bp__shm_init_unlock(bp_pool *p)
{
    if (p->shm_init_held)
        (void)bp__ofd_lock(p->shm_fd, F_UNLCK, BP__LOCKB_INIT);
    p->shm_init_held = 0;
}

#define BP__CHECK_FIELD(name, have, want, fmt)                                 \
    do {                                                                       \
        if ((have) != (want))                                                  \
            return bp__fail(p, BP_ESHMMISMATCH, "shm cache %s differs in "   \
                            name ": the cache has " fmt ", this pool "        \
                            "asks for " fmt, p->shm_path, have, want);        \
    } while (0)

/* An existing cache's header against this pool's options. */
static int bp__shm_verify(bp_pool *p, const struct bp__shm_hdr *h,
                          const struct bp__geom *g)
{
    if (__atomic_load_n(&h->sh_magic, __ATOMIC_ACQUIRE) != BP__SHM_MAGIC)
        return bp__fail(p, BP_ESHMMISMATCH, "shm file %s is not a libbufpool "
                        "cache of this layout (magic %#" PRIx64 ")",
                        p->shm_path, h->sh_magic);
    BP__CHECK_FIELD("layout version", h->sh_version, BP__LAYOUT_VERSION,
                    "%u");
    BP__CHECK_FIELD("layout signature", h->sh_layout, BP__LAYOUT_SIG,
                    "%#" PRIx64);
    BP__CHECK_FIELD("sharing (1: BP_ATTACH)", h->sh_shared, 1u, "%u");
    BP__CHECK_FIELD("data file device", h->sh_data_dev, p->data_dev,
                    "%" PRIu64);
    BP__CHECK_FIELD("data file inode", h->sh_data_ino, p->data_ino,
                    "%" PRIu64);
    BP__CHECK_FIELD("page size", h->sh_page_size, p->po_page_size, "%u");
    BP__CHECK_FIELD("cache frames", h->sh_nframes, p->nframes, "%" PRIu64);
    BP__CHECK_FIELD("checksums", h->sh_checksums,
                    (uint32_t)!!p->po_checksums, "%u");
    BP__CHECK_FIELD("WAL page LSN offset", h->sh_wal_offset, bp__wal_word(p),
                    "%u");
    BP__CHECK_FIELD("file size", h->sh_file_size, g->size, "%" PRIu64);
    BP__CHECK_FIELD("frames offset", h->sh_frames_off, g->frames_off,
                    "%" PRIu64);
    BP__CHECK_FIELD("counters offset", h->sh_stats, g->stats_off,
                    "%" PRIu64);
    if (__atomic_load_n(&h->sh_poisoned, __ATOMIC_ACQUIRE))
        return bp__fail(p, BP_EPOISONED, "shm cache %s is poisoned: every "
                        "process must close it before it can be used again",
                        p->shm_path);
    return 0;
}

/* Map the cache in the file after checking its header against this
 * pool's options (the init lock held). */
static int bp__shm_map_existing(bp_pool *p, const struct bp__geom *g)
{
    struct stat st;
    void *m;
    int rc;

    if (bp__sys_fstat(p->shm_fd, &st) != 0)
        return bp__fail(p, -errno, "fstat of shm file %s", p->shm_path);
    if ((uint64_t)st.st_size < sizeof(struct bp__shm_hdr))
        return bp__fail(p, BP_ESHMMISMATCH, "shm file %s is %" PRIu64 " bytes:"
                        " not a libbufpool cache", p->shm_path,
                        (uint64_t)st.st_size);
    m = bp__sys_mmap(NULL, sizeof(struct bp__shm_hdr), PROT_READ, MAP_SHARED,
                     p->shm_fd, 0);
    if (m == MAP_FAILED)
        return bp__fail(p, -errno, "mmap of shm file %s", p->shm_path);
    rc = bp__shm_verify(p, m, g);
    munmap(m, sizeof(struct bp__shm_hdr));
    if (rc)
        return rc;
    if ((uint64_t)st.st_size != g->size)
        return bp__fail(p, BP_ESHMMISMATCH, "shm file %s is %" PRIu64 " bytes,"
                        " its header says %" PRIu64, p->shm_path,
                        (uint64_t)st.st_size, g->size);
    m = bp__sys_mmap(NULL, (size_t)g->frames_off, PROT_READ | PROT_WRITE,
                     MAP_SHARED, p->shm_fd, 0);
    if (m == MAP_FAILED)
        return bp__fail(p, -errno, "mmap of %" PRIu64 " bytes of metadata",
                        g->frames_off);
    p->meta = m;
    p->meta_len = (size_t)g->frames_off;
    bp__shm_bind(p, g);
    return 0;
}

static void bp__shm_unmap(bp_pool *p)
{
    if (p->meta)
        munmap(p->meta, p->meta_len);
    p->meta = NULL;
    p->frames = NULL;
    p->words = NULL;
    p->disk_pages = p->wal_durable = NULL;
    p->procs = NULL;
}

/* Join the cache that other processes hold (the init lock held). */
static int bp__shm_join(bp_pool *p, const struct bp__geom *g)
{
    int rc = bp__shm_map_existing(p, g);

    if (rc == 0) {
        snprintf(p->cache_origin, sizeof p->cache_origin,
                 "joined: other processes hold the cache");
        rc = bp__io_join_shared(p);
    }
    return rc;
}

/* The cache left in the file by processes that are all gone, trusted
 * again when it can be (bp_shm_revive.c): 0, or nonzero with nothing
 * mapped and the reason in p->cache_origin. */
static int bp__shm_try_revive(bp_pool *p, const struct bp__geom *g)
{
    int rc = bp__shm_map_existing(p, g);

    if (rc != 0) {
        snprintf(p->cache_origin, sizeof p->cache_origin,
                 "built new: the file left in %s did not match (%.96s)",
                 p->shm_path, bp_errmsg(p));
        bp__errmsg_clear(p);
    } else if ((rc = bp__shm_revive(p)) == 0) {
        return 0;
    }
    bp__shm_unmap(p);
    return rc;
}

/* Open the named cache, creating it when no live process holds it. */
static int bp__shm_attach(bp_pool *p, const struct bp__geom *g)
{
    mode_t mode = p->po_shm_mode ? p->po_shm_mode : 0600;
    struct stat st, now;
    int rc;

    if ((rc = bp__shm_path(p)) != 0)
        return rc;
    for (int tries = 0;; tries++) {
        int fd = bp__sys_open(p->shm_path, O_RDWR | O_CREAT | O_NOFOLLOW |
                                               O_CLOEXEC, mode);

        if (fd < 0)
            return bp__fail(p, -errno, "cannot open shm file %s",
                            p->shm_path);
        p->shm_fd = fd;
        if (bp__sys_fstat(fd, &st) != 0)
            return bp__fail(p, -errno, "fstat of shm file %s", p->shm_path);
        /* new (empty): the umask may have taken mode bits */
        if (st.st_size == 0 && (st.st_mode & 0777) != mode &&
            fchmod(fd, mode) == 0)
            st.st_mode = (st.st_mode & ~(mode_t)0777) | mode;
        if ((rc = bp__shm_safe(p, &st)) != 0 ||
            (rc = bp__shm_init_lock(p)) != 0)
            return rc;
        /* the last process may have removed the name meanwhile: then this
         * file is nobody's cache, open the name again */
        if (stat(p->shm_path, &now) == 0 && now.st_dev == st.st_dev &&
            now.st_ino == st.st_ino)
            break;
        bp__shm_init_unlock(p);
        close(fd);
        p->shm_fd = -1;
        if (tries == 100)
            return bp__fail(p, -EAGAIN, "shm file %s keeps being replaced",
                            p->shm_path);
    }
    rc = bp__ofd_lock(p->shm_fd, F_WRLCK, BP__LOCKB_ATTACH);
    if (rc == -EAGAIN) { /* live processes hold it: join them */
        if ((rc = bp__shm_join(p, g)) != 0)
            return rc;
        if ((rc = bp__ofd_lock(p->shm_fd, F_RDLCK, BP__LOCKB_ATTACH)) != 0)
            return bp__fail(p, rc, "cannot lock shm file %s", p->shm_path);
        return 0;
    }
    if (rc)
        return bp__fail(p, rc, "cannot lock shm file %s", p->shm_path);
    /* nobody holds the cache: what is in the file (left by processes that
     * closed it or died, or half built by a creator that died) serves
     * again only as far as it can be proven current (bp_shm_revive.c);
     * otherwise the cache is built again from nothing */
    /* a failed open removes the file it made (empty: nothing to keep),
     * but not a left cache it did not touch: a later open may revive it */
    p->shm_created = st.st_size == 0;
    if ((rc = bp__io_claim_shared(p)) != 0)
        return rc;
    p->shm_created = 1;
    if (st.st_size != 0 && bp__shm_try_revive(p, g) == 0) {
        if ((rc = bp__ofd_lock(p->shm_fd, F_RDLCK, BP__LOCKB_ATTACH)) != 0)
            return bp__fail(p, rc, "cannot lock shm file %s", p->shm_path);
        return 0;
    }
    if (ftruncate(p->shm_fd, 0) != 0)
        return bp__fail(p, -errno, "cannot empty shm file %s", p->shm_path);
    if ((rc = bp__shm_space_named(p, g->size)) != 0 ||
        (rc = bp__shm_build(p, g)) != 0)
        return rc;
    if (st.st_size == 0)
        snprintf(p->cache_origin, sizeof p->cache_origin, "built new");
    if ((rc = bp__ofd_lock(p->shm_fd, F_RDLCK, BP__LOCKB_ATTACH)) != 0)
        return bp__fail(p, rc, "cannot lock shm file %s", p->shm_path);
    return 0;
}

/* This process's entry in the process table (the init lock held). */
static int bp__shm_proc_claim(bp_pool *p)
{
    struct bp__shm_hdr *h = p->meta;

    for (uint32_t i = 0; i < BP__PROCS; i++) {
        int rc = bp__ofd_lock(p->shm_fd, F_WRLCK, BP__LOCKB_PROC + i);

        if (rc == -EAGAIN)
            continue;
        if (rc)
            return bp__fail(p, rc, "cannot lock shm file %s", p->shm_path);
        p->proc_slot = i;
        p->proc_tag = i + 1;
        p->proc_held = 1;
        /* a dead process's entry: what it held goes back first (its
         * latches carry this same tag) */
        bp__reap_claimed(p, i);
        if (BP__LOAD(h->sh_poisoned))
            return bp__fail(p, BP_EPOISONED, "shm cache %s is poisoned: "
                            "every process must close it before it can be "
                            "used again", p->shm_path);
        p->procs[i].pr_bits = (uint32_t)(sizeof(void *) * 8);
        p->procs[i].pr_epoch =
            __atomic_add_fetch(&h->sh_attaches, 1, __ATOMIC_ACQ_REL);
        BP__STORE(p->procs[i].pr_pid, (uint32_t)getpid());
        return 0;
    }
    return bp__fail(p, -EUSERS, "shm cache %s: %u processes are attached "
                    "already (the most one cache takes)", p->shm_path,
                    BP__PROCS);
}

int bp__shm_open(bp_pool *p)
{
    struct bp__geom g;
    int rc;

    /* the latches and locks below call the reaper on a dead holder */
    p->reap_slot = bp__reap_slot;
    p->reap_all = bp__reap_all;
    bp__shm_geom(p, &g);
    if (g.frames_off > SIZE_MAX / 2)
        return bp__fail(p, BP_EWINDOW, "cache metadata too large to map");
    p->futex_private = !p->shared;
    if (!p->shared) { /* one process: a new file, built here */
        snprintf(p->cache_origin, sizeof p->cache_origin,
                 "built new (a private pool)");
        if ((rc = bp__shm_create(p, g.size)) != 0 ||
            (rc = bp__shm_build(p, &g)) != 0)
            return rc;
        if (p->shm_path && /* BP_ATTACH openers find it taken */
            (rc = bp__ofd_lock(p->shm_fd, F_WRLCK, BP__LOCKB_ATTACH)) != 0)
            return bp__fail(p, rc, "cannot lock shm file %s", p->shm_path);
        p->proc_slot = 0;
        p->proc_tag = 1;
        p->procs[0].pr_pid = (uint32_t)getpid();
        p->procs[0].pr_bits = (uint32_t)(sizeof(void *) * 8);
        return 0;
    }
    if ((rc = bp__shm_attach(p, &g)) == 0)
        rc = bp__shm_proc_claim(p);
    if (rc == 0) /* on failure bp__shm_close lets it go, after deciding
                    whether the file goes too: nobody joins it meanwhile */
        bp__shm_init_unlock(p);
    return rc;
}

/* A shared cache's detach: the process entry goes, and the last process
 * removes the name (unless kept; a failed open that was alone removes it
 * anyway once it built or revived the cache, and leaves it untouched
 * otherwise). */
static void bp__shm_detach(bp_pool *p, int unlink_anyway)
{
    int remove = unlink_anyway ? p->shm_created : !p->po_shm_keep;

    if (p->proc_held) {
        BP__STORE(p->procs[p->proc_slot].pr_pid, 0);
        (void)bp__ofd_lock(p->shm_fd, F_UNLCK, BP__LOCKB_PROC + p->proc_slot);
        p->proc_held = 0;
    }
    if (!p->shm_init_held && bp__shm_init_lock(p) != 0)
        return; /* a creator stuck for 10 s: leave the name to it */
    if (remove && bp__ofd_lock(p->shm_fd, F_WRLCK, BP__LOCKB_ATTACH) == 0) {
        struct stat st, now;

        if (bp__sys_fstat(p->shm_fd, &st) == 0 &&
            stat(p->shm_path, &now) == 0 && now.st_dev == st.st_dev &&
            now.st_ino == st.st_ino)
            unlink(p->shm_path);
    }
    bp__shm_init_unlock(p);
}

void bp__shm_close(bp_pool *p, int unlink_anyway)
{
    bp__statshm_detach(p); /* the counters back, before the file goes */
    if (p->shared && p->shm_fd >= 0 && p->shm_path && !p->forked)
        bp__shm_detach(p, unlink_anyway);
    bp__shm_unmap(p);
    if (p->shm_fd >= 0)
        close(p->shm_fd);
    p->shm_fd = -1;
    if (p->shm_path) {
        if (!p->shared && p->shm_created &&
            (!p->po_shm_keep || unlink_anyway) && !p->forked)
            unlink(p->shm_path);
        bp__free(p, p->shm_path, p->shm_path_len);
    }
    p->shm_path = NULL;
    p->shm_created = p->shm_init_held = p->proc_held = 0;
}
