/*
 * test_crc32c.c - the CRC32C used for page checksums (bp_crc32c.c).
 *
 * Known vectors (RFC 3720 appendix B.4 and the usual check value) through
 * bp__crc32c(), the portable bp__crc32c_sw() and a bit-at-a-time reference
 * written here from the definition; chaining at every split point equals
 * the one-shot CRC; and the implementation in use (hardware where the CPU
 * has it) agrees with the portable one on random buffers of every length
 * 0..300 at every start offset modulo 8 (head/tail/alignment handling),
 * and on 4 KiB and 64 KiB pages, aligned and not.  On a CPU or
 * architecture without the hardware path both sides are the portable code
 * and the comparison is trivial; the program prints which one runs.
 */
#include "util_test.h"

#include <stdlib.h>
#include <string.h>

#include "io/bp_crc32c.h"

#define MAXLEN 300u
#define BIG (64u * 1024u)

/* CRC32C one bit at a time, straight from the definition. */
static uint32_t ref_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t c = ~crc;

    while (len-- > 0) {
        c ^= *p++;
        for (int i = 0; i < 8; i++)
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

/* Assert that all three implementations give want for buf[0..len). */
static void check_vector(const void *buf, size_t len, uint32_t want)
{
    assert_int_equal(ref_crc32c(0, buf, len), want);
    assert_int_equal(bp__crc32c_sw(0, buf, len), want);
    assert_int_equal(bp__crc32c(0, buf, len), want);
}

static void fill_random(unsigned char *buf, size_t len, uint64_t *rng)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)util_rand(rng);
}

static void test_crc32c_vectors(void **state)
{
    unsigned char buf[32];

    (void)state;
    check_vector("123456789", 9, 0xE3069283u);
    check_vector(NULL, 0, 0);
    check_vector("", 0, 0);

    memset(buf, 0x00, sizeof buf);
    check_vector(buf, sizeof buf, 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    check_vector(buf, sizeof buf, 0x62A8AB43u);
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)i;
    check_vector(buf, sizeof buf, 0x46DD794Eu);
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(31 - i);
    check_vector(buf, sizeof buf, 0x113FDB5Cu);

    /* An empty continuation leaves the CRC alone. */
    assert_int_equal(bp__crc32c(0xE3069283u, buf, 0), 0xE3069283u);
    assert_int_equal(bp__crc32c_sw(0xE3069283u, NULL, 0), 0xE3069283u);
}

static void test_crc32c_chaining(void **state)
{
    unsigned char buf[1000];
    uint64_t rng = 0x243f6a8885a308d3ull;

    (void)state;
    fill_random(buf, sizeof buf, &rng);
    uint32_t whole = bp__crc32c(0, buf, sizeof buf);

    assert_int_equal(whole, ref_crc32c(0, buf, sizeof buf));
    assert_int_equal(whole, bp__crc32c_sw(0, buf, sizeof buf));
    for (size_t i = 0; i <= sizeof buf; i++) {
        uint32_t c = bp__crc32c(0, buf, i);

        assert_int_equal(bp__crc32c(c, buf + i, sizeof buf - i), whole);
        c = bp__crc32c_sw(0, buf, i);
        assert_int_equal(bp__crc32c_sw(c, buf + i, sizeof buf - i), whole);
    }
    /* Three pieces, and a byte at a time. */
    for (size_t i = 0; i < 64; i++) {
        size_t a = util_rand_below(&rng, sizeof buf + 1);
        size_t b = a + util_rand_below(&rng, sizeof buf - a + 1);
        uint32_t c = bp__crc32c(0, buf, a);

        c = bp__crc32c(c, buf + a, b - a);
        assert_int_equal(bp__crc32c(c, buf + b, sizeof buf - b), whole);
    }
    uint32_t c = 0;

    for (size_t i = 0; i < sizeof buf; i++)
        c = bp__crc32c(c, buf + i, 1);
    assert_int_equal(c, whole);
}

static void test_crc32c_hw_sw_agree(void **state)
{
    unsigned char *mem = malloc(MAXLEN + 16);
    uint64_t rng = 0x13198a2e03707344ull;

    (void)state;
    assert_non_null(mem);
    print_message("crc32c implementation: %s\n", bp__crc32c_impl());
    for (size_t len = 0; len <= MAXLEN; len++)
        for (size_t off = 0; off < 8; off++) {
            unsigned char *p = mem + off + util_rand_below(&rng, 2) * 8;
            uint32_t seed = util_rand_below(&rng, 4) == 0
                                ? 0
                                : (uint32_t)util_rand(&rng);
            uint32_t hw, sw;

            fill_random(p, len, &rng);
            hw = bp__crc32c(seed, p, len);
            sw = bp__crc32c_sw(seed, p, len);
            if (hw != sw)
                fail_msg("len %zu offset %zu seed 0x%08x: %s 0x%08x, "
                         "portable 0x%08x", len, off, (unsigned)seed,
                         bp__crc32c_impl(), (unsigned)hw, (unsigned)sw);
            assert_int_equal(sw, ref_crc32c(seed, p, len));
        }
    free(mem);
}

static void test_crc32c_pages(void **state)
{
    unsigned char *mem = malloc(BIG + 64);
    uint64_t rng = 0xa4093822299f31d0ull;
    static const size_t sizes[] = {4096, BIG};
    static const size_t offs[] = {0, 1, 3, 8, 13, 32};

    (void)state;
    assert_non_null(mem);
    fill_random(mem, BIG + 64, &rng);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t o = 0; o < sizeof offs / sizeof offs[0]; o++) {
            const unsigned char *p = mem + offs[o];
            uint32_t hw = bp__crc32c(0, p, sizes[s]);

            assert_int_equal(hw, bp__crc32c_sw(0, p, sizes[s]));
            if (offs[o] == 0)
                assert_int_equal(hw, ref_crc32c(0, p, sizes[s]));
        }
    /* A zero page has a fixed CRC on every implementation. */
    memset(mem, 0, BIG);
    assert_int_equal(bp__crc32c(0, mem, 4096), bp__crc32c_sw(0, mem, 4096));
    assert_int_equal(bp__crc32c(0, mem, 4096), ref_crc32c(0, mem, 4096));
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_chaining),
        cmocka_unit_test(test_crc32c_hw_sw_agree),
        cmocka_unit_test(test_crc32c_pages),
    };

    util_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
