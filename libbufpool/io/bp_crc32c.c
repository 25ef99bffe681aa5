/*
 * bp_crc32c.c - CRC32C (Castagnoli) for page checksums.
 *
 * Owns two implementations of the same function and the choice between
 * them:
 *
 *   crc_hw()  x86 SSE4.2 crc32 instruction, 8 bytes a step on x86-64 and 4
 *             on i386.  Compiled with a target("sse4.2") attribute, so the
 *             file builds without -msse4.2 and runs on any x86 CPU as long
 *             as crc_hw() is only called where the CPU has SSE4.2.  Not
 *             compiled on other architectures.
 *   crc_sw()  portable slicing-by-8: eight 256-entry tables (8 KiB), 8 bytes
 *             a step with any byte order and alignment.
 *
 * Both work on the raw (non-inverted) register; the exported functions do
 * the ~ on entry and exit, so callers only ever see finalized values and
 * chaining works (see bp_crc32c.h).  Unaligned buffers: the head is taken a
 * byte at a time up to an 8-byte boundary, then whole words, then the tail
 * byte by byte.
 *
 * Invariants: crc_tab and crc_use_hw are written only by crc_init(), once
 * per process under pthread_once(), and read only after a pthread_once()
 * on the same control, which orders the reads after the writes.  They never
 * change afterwards.  Transitions: process start -> (first call of any
 * bp__crc32c*) crc_init() -> tables filled, implementation chosen.
 */
#include <pthread.h>
#include <string.h>

#include "io/bp_crc32c.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define CRC_HAVE_HW 1
#else
#define CRC_HAVE_HW 0
#endif

/* Reflected Castagnoli polynomial. */
#define CRC_POLY 0x82F63B78u

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
/* crc_tab[0] is the classic byte table; crc_tab[k][b] is the CRC register
 * after byte b followed by k zero bytes. */
static uint32_t crc_tab[8][256];
static int crc_use_hw;

static void crc_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;

        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (CRC_POLY & (0u - (c & 1u)));
        crc_tab[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++) {
            uint32_t c = crc_tab[k - 1][b];

            crc_tab[k][b] = (c >> 8) ^ crc_tab[0][c & 0xffu];
        }
#if CRC_HAVE_HW
    __builtin_cpu_init();
    crc_use_hw = __builtin_cpu_supports("sse4.2") != 0;
#else
    crc_use_hw = 0;
#endif
}

/* A little-endian 32-bit word at p (any alignment). */
static inline uint32_t crc_le32(const unsigned char *p)
{
    uint32_t w;

    memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap32(w);
#endif
    return w;
}

static uint32_t crc_sw(uint32_t c, const unsigned char *p, size_t len)
{
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        c = (c >> 8) ^ crc_tab[0][(c ^ *p++) & 0xffu];
        len--;
    }
    while (len >= 8) {
        uint32_t lo = c ^ crc_le32(p), hi = crc_le32(p + 4);

        c = crc_tab[7][lo & 0xffu] ^ crc_tab[6][(lo >> 8) & 0xffu] ^
            crc_tab[5][(lo >> 16) & 0xffu] ^ crc_tab[4][lo >> 24] ^
            crc_tab[3][hi & 0xffu] ^ crc_tab[2][(hi >> 8) & 0xffu] ^
            crc_tab[1][(hi >> 16) & 0xffu] ^ crc_tab[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = (c >> 8) ^ crc_tab[0][(c ^ *p++) & 0xffu];
        len--;
    }
    return c;
}

#if CRC_HAVE_HW
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t c, const unsigned char *p, size_t len)
{
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        c = _mm_crc32_u8(c, *p++);
        len--;
    }
#if defined(__x86_64__)
    {
        uint64_t c64 = c;

        while (len >= 8) {
            uint64_t w;

            memcpy(&w, p, sizeof w);
            c64 = _mm_crc32_u64(c64, w);
            p += 8;
            len -= 8;
        }
        c = (uint32_t)c64;
    }
#else
    while (len >= 4) {
        uint32_t w;

        memcpy(&w, p, sizeof w);
        c = _mm_crc32_u32(c, w);
        p += 4;
        len -= 4;
    }
#endif
    while (len > 0) {
        c = _mm_crc32_u8(c, *p++);
        len--;
    }
    return c;
}
#endif

uint32_t bp__crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
#if CRC_HAVE_HW
    if (crc_use_hw)
        return ~crc_hw(~crc, buf, len);
#endif
    return ~crc_sw(~crc, buf, len);
}

uint32_t bp__crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return ~crc_sw(~crc, buf, len);
}

const char *bp__crc32c_impl(void)
{
    pthread_once(&crc_once, crc_init);
    return crc_use_hw ? "sse4.2" : "portable";
}
