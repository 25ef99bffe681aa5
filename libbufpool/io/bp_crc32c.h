/*
 * bp_crc32c.h - CRC32C (Castagnoli) of a byte range, for page checksums.
 *
 * The CRC is the one iSCSI, ext4, btrfs and PostgreSQL use: reflected
 * polynomial 0x82F63B78, initial value ~0, final xor ~0
 * ("123456789" -> 0xE3069283).  Values passed in and returned are always
 * finalized, so a CRC can be extended piece by piece:
 *
 *   bp__crc32c(bp__crc32c(0, a, n), b, m) == bp__crc32c(0, a || b, n + m)
 *
 * All functions are thread-safe and may be called before any pool exists.
 */
#ifndef BP_CRC32C_H
#define BP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of buf[0..len) continued from crc (0 to start a new CRC, or the
 * value a previous call returned for the bytes before buf).  Uses the
 * fastest implementation this CPU supports (see bp__crc32c_impl()); every
 * implementation gives the same result.  buf may be NULL when len is 0.
 * Returns the finalized CRC. */
uint32_t bp__crc32c(uint32_t crc, const void *buf, size_t len);

/* The same with the portable implementation (slicing-by-8 tables), always
 * available; for tests and benchmarks that compare implementations. */
uint32_t bp__crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* Name of the implementation bp__crc32c() uses in this process: "sse4.2"
 * (x86 crc32 instruction) or "portable".  A static string; the choice is
 * made once per process, on first use. */
const char *bp__crc32c_impl(void);

#endif /* BP_CRC32C_H */
