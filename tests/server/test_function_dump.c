/*
 * test_function_dump.c - unit tests of the FUNCTION DUMP payload codec
 * (src/server/function_dump.c): round trips (raw and LZF strings, many
 * libraries, none), a payload from redis-server 7.0 (bytes captured from
 * `FUNCTION DUMP`) decoded, and hostile input: every truncation, every
 * single-bit flip, and garbage behind a correct footer must be refused
 * without reading out of bounds (run under ASan in `make test-sanitize`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "functions.h"

uint64_t rcache__crc64(uint64_t crc, const void *buf, size_t len);

static void free_codes(char **codes, size_t *lens, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(codes[i]);
    free(codes);
    free(lens);
}

static void roundtrip(char *const *codes, const size_t *lens, size_t n) {
    unsigned char *p;
    size_t len;
    assert_int_equal(rcache__fdump_encode(codes, lens, n, &p, &len), 0);
    char **out;
    size_t *olens, on;
    const char *err;
    assert_int_equal(rcache__fdump_decode(p, len, &out, &olens, &on, &err), 0);
    assert_int_equal(on, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(olens[i], lens[i]);
        assert_memory_equal(out[i], codes[i], lens[i]);
    }
    free_codes(out, olens, on);
    free(p);
}

static void test_roundtrip(void **state) {
    (void)state;
    roundtrip(NULL, NULL, 0);
    char small[] = "#!lua name=a\nredis.register_function('f', function() return 1 end)";
    char *big = malloc(100000);
    assert_non_null(big);
    for (size_t i = 0; i < 100000; i++) /* compressible: LZF path */
        big[i] = "#!lua name=b\n-- padding\n"[i % 24];
    char tiny[] = "#!x";
    char *codes[] = {small, big, tiny};
    size_t lens[] = {strlen(small), 100000, 3};
    roundtrip(codes, lens, 3);
    free(big);
}

/* `FUNCTION DUMP` of redis-server 7.0.15 after loading CODE (its string is
 * LZF-compressed), footer included. */
#define CODE "#!lua name=mylib\nredis.register_function('f', function() return 1 end)\n-- " \
    "abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc"
static const unsigned char REDIS_DUMP[] = {
    0xf5, 0xc3, 0x40, 0x50, 0x40, 0xaa, 0x1f, 0x23, 0x21, 0x6c, 0x75, 0x61, 0x20, 0x6e,
    0x61, 0x6d, 0x65, 0x3d, 0x6d, 0x79, 0x6c, 0x69, 0x62, 0x0a, 0x72, 0x65, 0x64, 0x69,
    0x73, 0x2e, 0x72, 0x65, 0x67, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f, 0x0d, 0x66, 0x75,
    0x6e, 0x63, 0x74, 0x69, 0x6f, 0x6e, 0x28, 0x27, 0x66, 0x27, 0x2c, 0x20, 0xe0, 0x00,
    0x0d, 0x15, 0x29, 0x20, 0x72, 0x65, 0x74, 0x75, 0x72, 0x6e, 0x20, 0x31, 0x20, 0x65,
    0x6e, 0x64, 0x29, 0x0a, 0x2d, 0x2d, 0x20, 0x61, 0x62, 0x63, 0xe0, 0x52, 0x02, 0x01,
    0x62, 0x63, 0x0a, 0x00, 0x15, 0x1b, 0xc4, 0x17, 0xb5, 0xb3, 0x1a, 0xe6};

static void test_redis_payload(void **state) {
    (void)state;
    /* our encoding of the same code is Redis's payload, byte for byte */
    char *codes[] = {(char *)CODE};
    size_t lens[] = {strlen(CODE)}, len;
    unsigned char *p;
    assert_int_equal(rcache__fdump_encode(codes, lens, 1, &p, &len), 0);
    assert_int_equal(len, sizeof REDIS_DUMP);
    assert_memory_equal(p, REDIS_DUMP, sizeof REDIS_DUMP);
    free(p);
    /* and Redis's payload decodes to the code */
    char **out;
    size_t *olens, on;
    const char *err;
    assert_int_equal(rcache__fdump_decode(REDIS_DUMP, sizeof REDIS_DUMP, &out, &olens, &on, &err), 0);
    assert_int_equal(on, 1);
    assert_int_equal(olens[0], strlen(CODE));
    assert_memory_equal(out[0], CODE, olens[0]);
    free_codes(out, olens, on);
}

static void test_hostile(void **state) {
    (void)state;
    char code[] = "#!lua name=h\nredis.register_function('h', function() return 'hhhhhhhhhhhhhhhhhhhh' end)";
    char *codes[] = {code, code};
    size_t lens[] = {strlen(code), strlen(code)}, len;
    unsigned char *p;
    assert_int_equal(rcache__fdump_encode(codes, lens, 2, &p, &len), 0);
    char **out;
    size_t *olens, on;
    const char *err;
    for (size_t cut = 0; cut < len; cut++) { /* every truncation */
        unsigned char *q = malloc(cut ? cut : 1);
        memcpy(q, p, cut);
        assert_int_equal(rcache__fdump_decode(q, cut, &out, &olens, &on, &err), -1);
        assert_non_null(err);
        free(q);
    }
    for (size_t bit = 0; bit < len * 8; bit++) { /* every bit flip: the CRC catches it */
        p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        assert_int_equal(rcache__fdump_decode(p, len, &out, &olens, &on, &err), -1);
        p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    /* garbage bodies behind a correct footer: refused or decoded, never read
     * past the end (ASan) */
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        unsigned char g[64];
        size_t n = 1 + (size_t)(round % 50);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            g[i] = (unsigned char)(seed >> 16);
        }
        if (round % 3 == 0)
            g[0] = 0xf5;
        g[n] = 10;
        g[n + 1] = 0;
        uint64_t crc = rcache__crc64(0, g, n + 2);
        for (int i = 0; i < 8; i++)
            g[n + 2 + i] = (unsigned char)(crc >> (8 * i));
        if (rcache__fdump_decode(g, n + 10, &out, &olens, &on, &err) == 0)
            free_codes(out, olens, on);
    }
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_redis_payload),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
