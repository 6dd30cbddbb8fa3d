/*
 * crc64.c - the CRC-64 that ends every RDB file.
 *
 * Redis checks its RDB files (and DUMP payloads) with CRC-64/Jones: the
 * polynomial 0xad93d23594c935a9 in its reflected form 0x95ac9329ac4bc9b5,
 * initial value 0, no final xor; check("123456789") = 0xe9c6d914c4b8d9ca.
 * We compute it "slice by 8" (eight 256-entry tables, eight input bytes per
 * step), which runs at several GB/s, so checking a snapshot costs little
 * next to reading it.  The tables are built once, on first use.
 */
#include "rdb.h"

#include <pthread.h>
#include <string.h>

#define CRC64_POLY 0x95ac9329ac4bc9b5ull

static uint64_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_build(void) {
    for (unsigned n = 0; n < 256; n++) {
        uint64_t crc = n;
        for (int k = 0; k < 8; k++)
            crc = (crc & 1u) ? (crc >> 1) ^ CRC64_POLY : crc >> 1;
        crc_table[0][n] = crc;
    }
    for (unsigned n = 0; n < 256; n++) {
        uint64_t crc = crc_table[0][n];
        for (int k = 1; k < 8; k++) {
            crc = crc_table[0][crc & 0xffu] ^ (crc >> 8);
            crc_table[k][n] = crc;
        }
    }
}

uint64_t rcache__crc64(uint64_t crc, const void *buf, size_t len) {
    const unsigned char *p = buf;
    pthread_once(&crc_once, crc_build);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        crc ^= w;
        crc = crc_table[7][crc & 0xff] ^ crc_table[6][(crc >> 8) & 0xff] ^
              crc_table[5][(crc >> 16) & 0xff] ^
              crc_table[4][(crc >> 24) & 0xff] ^
              crc_table[3][(crc >> 32) & 0xff] ^
              crc_table[2][(crc >> 40) & 0xff] ^
              crc_table[1][(crc >> 48) & 0xff] ^ crc_table[0][crc >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}
