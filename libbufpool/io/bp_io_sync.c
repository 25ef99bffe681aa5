/*
 * bp_io_sync.c - the synchronous I/O engine: pread / pwrite / fdatasync.
 *
 * The simplest engine and the fallback for any faster one.  Returns byte
 * counts or negative errno; EINTR is passed up (the caller retries).
 */
#include <errno.h>
#include <unistd.h>

#include "io/io_impl.h"
#include "platform/bp_sys.h"

static ssize_t bp__sync_read(bp_pool *p, void *buf, size_t len, uint64_t off)
{
    ssize_t n = bp__sys_pread(p->data_fd, buf, len, (off_t)off,
                              p->dio_align);

    return n < 0 ? -errno : n;
}

static ssize_t bp__sync_write(bp_pool *p, const void *buf, size_t len,
                              uint64_t off)
{
    ssize_t n = bp__sys_pwrite(p->data_fd, buf, len, (off_t)off,
                               p->dio_align);

    return n < 0 ? -errno : n;
}

static int bp__sync_sync(bp_pool *p)
{
    return bp__sys_fdatasync(p->data_fd) == 0 ? 0 : -errno;
}

const struct bp__io_ops bp__io_sync = {
    .name = "sync",
    .read = bp__sync_read,
    .write = bp__sync_write,
    .sync = bp__sync_sync,
};
