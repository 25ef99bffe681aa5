/*
 * bp_shm_io.c - whole frames read and written through the shm file's
 * descriptor, for memory that cannot map the frame: the copy backend's
 * private slots and read-ahead's bounce buffers.
 *
 * Owns nothing: it moves one frame's bytes between a buffer and the shm
 * file (p->shm_fd at the frame's offset).  tmpfs never transfers short but
 * for signals, so a short count is retried and EINTR up to 64 times in a
 * row; 0 bytes is -EIO.
 */
#include <errno.h>

#include "shm/shm_impl.h"
#include "platform/bp_sys.h"

/* pread/pwrite of a whole frame through the shm fd (tmpfs: never short but
 * for signals; retried, EINTR up to 64 times in a row, then returned). */
static int bp__shm_xfer(bp_pool *p, void *buf, uint32_t frame, int write)
{
    size_t psz = p->po_page_size, done = 0;
    off_t off = (off_t)bp__frame_off(p, frame);
    unsigned again = 0;

    while (done < psz) {
        ssize_t n = write ? bp__sys_shm_pwrite(p->shm_fd, (char *)buf + done,
                                               psz - done, off + (off_t)done)
                          : bp__sys_shm_pread(p->shm_fd, (char *)buf + done,
                                              psz - done, off + (off_t)done);
        if (n < 0 && errno == EINTR && ++again < 64)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        done += (size_t)n;
    }
    return 0;
}

int bp__shm_pread(bp_pool *p, void *buf, uint32_t frame)
{
    return bp__shm_xfer(p, buf, frame, 0);
}

int bp__shm_pwrite(bp_pool *p, const void *buf, uint32_t frame)
{
    return bp__shm_xfer(p, (void *)buf, frame, 1);
}
