/*
 * test_checksum.c - page checksums (bp_set_checksums): the trailer is set
 * on write and checked on read.
 *
 * For backends copy and mmap: pages are written through the pool (their
 * usable bytes carry a pattern of their number) and flushed; then the data
 * file is damaged behind the pool's back, as disks do: one bit flipped in
 * page 3, the first half of page 5 overwritten (a torn write), page 7's
 * bytes written over page 8 (a misdirected write).  After reopening, each
 * damaged page fails its fix with BP_ECORRUPT naming the page, the frame is
 * not handed out (the pool's invariants hold and the same fix fails again),
 * and every other page reads back intact.  Pages of zeros that never went
 * through the pool (the file extended from outside) pass; with checksums
 * off the damage goes unnoticed.
 */
#include "util_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PSZ 4096u
#define NPAGES 12u

static bp_pool *open_pool(bp_backend b, const char *path, int sums,
                          unsigned flags)
{
    struct util_cfg cfg = {.backend = b, .page_size = PSZ, .frames = 8,
                           .slots = 4};
    bp_pool *p;

    assert_int_equal(bp_create(&p, NULL), 0);
    assert_int_equal(util_pool_config(p, &cfg), 0);
    assert_int_equal(bp_set_checksums(p, sums), 0);
    assert_int_equal(bp_open(p, path, flags), 0);
    return p;
}

static void fill(void *page, uint64_t pgno)
{
    memset(page, (int)(0x40 + pgno), PSZ - BP_PAGE_TRAILER);
}

static int intact(const void *page, uint64_t pgno)
{
    const unsigned char *b = page;

    for (size_t i = 0; i < PSZ - BP_PAGE_TRAILER; i++)
        if (b[i] != (unsigned char)(0x40 + pgno))
            return 0;
    return 1;
}

static void damage(const char *path)
{
    unsigned char buf[PSZ];
    int fd = open(path, O_RDWR);

    assert_true(fd >= 0);
    /* a flipped bit in page 3 */
    assert_int_equal(pread(fd, buf, PSZ, 3 * PSZ), PSZ);
    buf[100] ^= 0x10;
    assert_int_equal(pwrite(fd, buf, PSZ, 3 * PSZ), PSZ);
    /* a torn page 5: the first half from another version */
    memset(buf, 0x77, PSZ / 2);
    assert_int_equal(pwrite(fd, buf, PSZ / 2, 5 * PSZ), PSZ / 2);
    /* a misdirected write: page 7 landed on page 8 */
    assert_int_equal(pread(fd, buf, PSZ, 7 * PSZ), PSZ);
    assert_int_equal(pwrite(fd, buf, PSZ, 8 * PSZ), PSZ);
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

static void expect_corrupt(bp_pool *p, uint64_t pgno)
{
    char num[32];
    bp_page pg;

    for (int again = 0; again < 2; again++) {
        assert_int_equal(bp_fix(p, pgno, BP_SHARED, &pg), BP_ECORRUPT);
        snprintf(num, sizeof num, "page %u", (unsigned)pgno);
        if (!strstr(bp_errmsg(p), num))
            fail_msg("errmsg does not name %s: %s", num, bp_errmsg(p));
        util_check(p);
    }
}

static void run(bp_backend b)
{
    char path[600];
    bp_stats st;
    bp_page pg;
    bp_pool *p;

    util_tmp_path(path, sizeof path, "sums.db");
    unlink(path);
    p = open_pool(b, path, 1, BP_CREATE);
    for (uint64_t i = 0; i < NPAGES; i++) {
        assert_int_equal(bp_alloc_page(p, &pg), 0);
        if (i != NPAGES - 1) /* the last stays zeros, never written */
            fill(pg.data, i);
        assert_int_equal(bp_unfix(p, &pg, i != NPAGES - 1 ? BP_DIRTY : 0), 0);
    }
    assert_int_equal(bp_flush(p), 0);
    assert_int_equal(bp_close(p), 0);
    damage(path);
    assert_int_equal(truncate(path, (off_t)(NPAGES + 2) * PSZ), 0);

    p = open_pool(b, path, 1, 0);
    expect_corrupt(p, 3);
    expect_corrupt(p, 5);
    expect_corrupt(p, 8);
    for (uint64_t i = 0; i < NPAGES - 1; i++) {
        if (i == 3 || i == 5 || i == 8)
            continue;
        assert_int_equal(bp_fix(p, i, BP_SHARED, &pg), 0);
        assert_true(intact(pg.data, i));
        assert_int_equal(bp_unfix(p, &pg, 0), 0);
    }
    /* allocated and left zero: written with its trailer, usable part 0 */
    assert_int_equal(bp_fix(p, NPAGES - 1, BP_SHARED, &pg), 0);
    for (size_t i = 0; i < PSZ - BP_PAGE_TRAILER; i++)
        assert_int_equal(((unsigned char *)pg.data)[i], 0);
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    /* pages of zeros that never went through the pool pass too */
    util_fix_verify(p, NPAGES, BP_SHARED, PSZ, UTIL_GEN_ZERO);
    util_fix_verify(p, NPAGES + 1, BP_SHARED, PSZ, UTIL_GEN_ZERO);
    util_stats(p, &st);
    assert_int_equal(st.checksums, 1);
    assert_true(st.checksum_failures >= 6);
    assert_int_equal(bp_close(p), 0);

    p = open_pool(b, path, 0, 0); /* without checksums nobody notices */
    assert_int_equal(bp_fix(p, 3, BP_SHARED, &pg), 0);
    assert_false(intact(pg.data, 3));
    assert_int_equal(bp_unfix(p, &pg, 0), 0);
    assert_int_equal(bp_close(p), 0);
    unlink(path);
}

int main(void)
{
    static const bp_backend bs[] = {BP_BACKEND_COPY, BP_BACKEND_MMAP};

    util_init();
    return util_run_backends("checksum", run, bs, 2);
}
