/*
 * function_dump.c - the FUNCTION DUMP / FUNCTION RESTORE payload
 * (functions.h), in Redis 7.0's format so that payloads move both ways
 * between redis-server and rcached: for each library the RDB opcode
 * FUNCTION2 (245) and its code as an RDB string, then a footer of the RDB
 * version (10, 2 bytes little-endian) and the CRC-64/Jones (librcache's,
 * Redis's) of everything before it, 8 bytes little-endian.
 *
 * Strings are written as Redis writes them (LZF, Debian's liblzf, for a
 * string over 20 bytes when that saves at least 4 bytes; otherwise raw),
 * so a dump of the same libraries is byte-identical to Redis's. Reading
 * accepts raw, LZF and integer-encoded strings. Pure and bounded: the
 * decoder never reads past the payload, and an LZF string may expand only
 * to RCACHE__FDUMP_MAX_STR bytes.
 */
#include "functions.h"

#include <lzf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t rcache__crc64(uint64_t crc, const void *buf, size_t len); /* librcache */

#define OP_FUNCTION2 245
#define OP_FUNCTION_PRE_GA 246
#define RDB_VERSION 10
#define FDUMP_MAX_STR ((size_t)512 * 1024 * 1024)
#define ERR_FOOTER "ERR DUMP payload version or checksum are wrong"
#define ERR_BAD "ERR payload is not a valid function payload"

/* ---- encoding ------------------------------------------------------------ */

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int oom;
} buf_t;

static void put(buf_t *b, const void *s, size_t n) {
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_len(buf_t *b, uint64_t n) {
    unsigned char h[9];
    if (n < (1u << 6)) {
        h[0] = (unsigned char)n;
        put(b, h, 1);
    } else if (n < (1u << 14)) {
        h[0] = (unsigned char)(0x40 | (n >> 8));
        h[1] = (unsigned char)n;
        put(b, h, 2);
    } else if (n <= UINT32_MAX) {
        h[0] = 0x80;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
        put(b, h, 5);
    } else {
        h[0] = 0x81;
        for (int i = 0; i < 8; i++)
            h[1 + i] = (unsigned char)(n >> (56 - 8 * i));
        put(b, h, 9);
    }
}

static void put_str(buf_t *b, const char *s, size_t n) {
    if (n > 20 && n <= UINT32_MAX) { /* Redis: rdbcompression yes */
        unsigned char *z = malloc(n);
        unsigned clen = z ? lzf_compress(s, (unsigned)n, z, (unsigned)(n - 4)) : 0;
        if (clen > 0) {
            unsigned char t = 0xc3;
            put(b, &t, 1);
            put_len(b, clen);
            put_len(b, n);
            put(b, z, clen);
            free(z);
            return;
        }
        free(z);
    }
    put_len(b, n);
    put(b, s, n);
}

int rcache__fdump_encode(char *const *codes, const size_t *lens, size_t n,
                         unsigned char **out, size_t *out_len) {
    buf_t b = {0};
    for (size_t i = 0; i < n; i++) {
        unsigned char op = OP_FUNCTION2;
        put(&b, &op, 1);
        put_str(&b, codes[i], lens[i]);
    }
    unsigned char foot[10] = {RDB_VERSION & 0xff, RDB_VERSION >> 8};
    put(&b, foot, 2);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    uint64_t crc = rcache__crc64(0, b.p, b.len);
    for (int i = 0; i < 8; i++)
        foot[2 + i] = (unsigned char)(crc >> (8 * i));
    put(&b, foot + 2, 8);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    size_t pos, len;
} rd_t;

/* A length, or an encoding (*enc 1, value in *n). 0 or -1 (truncated). */
static int get_len(rd_t *r, uint64_t *n, int *enc) {
    *enc = 0;
    if (r->pos >= r->len)
        return -1;
    unsigned char h = r->p[r->pos++];
    switch (h >> 6) {
    case 0:
        *n = h & 0x3f;
        return 0;
    case 1:
        if (r->pos >= r->len)
            return -1;
        *n = ((uint64_t)(h & 0x3f) << 8) | r->p[r->pos++];
        return 0;
    case 2: {
        int w = h == 0x80 ? 4 : h == 0x81 ? 8 : 0;
        if (w == 0 || r->len - r->pos < (size_t)w)
            return -1;
        *n = 0;
        for (int i = 0; i < w; i++)
            *n = (*n << 8) | r->p[r->pos++];
        return 0;
    }
    default:
        *enc = 1;
        *n = h & 0x3f;
        return 0;
    }
}

/* One RDB string, malloc'd into *s / *n. 0 or -1. */
static int get_str(rd_t *r, char **s, size_t *n) {
    uint64_t l;
    int enc;
    if (get_len(r, &l, &enc) != 0)
        return -1;
    if (enc && l <= 2) { /* integer: 1, 2 or 4 bytes little-endian */
        size_t w = (size_t)1 << l;
        if (r->len - r->pos < w)
            return -1;
        int64_t v = 0;
        for (size_t i = 0; i < w; i++)
            v |= (int64_t)r->p[r->pos + i] << (8 * i);
        unsigned bits = 8u * (unsigned)w; /* 8, 16 or 32 */
        if (bits > 0 && bits <= 32 && (v >> (bits - 1)) & 1) /* sign-extend */
            v -= (int64_t)1 << bits;
        r->pos += w;
        char tmp[24];
        int k = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
        *s = malloc((size_t)k + 1);
        if (!*s)
            return -1;
        memcpy(*s, tmp, (size_t)k + 1);
        *n = (size_t)k;
        return 0;
    }
    if (enc && l == 3) { /* LZF */
        uint64_t clen, ulen;
        int e1, e2;
        if (get_len(r, &clen, &e1) || get_len(r, &ulen, &e2) || e1 || e2 ||
            clen > r->len - r->pos || ulen == 0 || ulen > FDUMP_MAX_STR)
            return -1;
        *s = malloc(ulen + 1);
        if (!*s)
            return -1;
        if (lzf_decompress(r->p + r->pos, (unsigned)clen, *s, (unsigned)ulen) != ulen) {
            free(*s);
            return -1;
        }
        r->pos += clen;
        (*s)[ulen] = '\0';
        *n = ulen;
        return 0;
    }
    if (enc || l > r->len - r->pos)
        return -1;
    *s = malloc(l + 1);
    if (!*s)
        return -1;
    memcpy(*s, r->p + r->pos, l);
    (*s)[l] = '\0';
    r->pos += l;
    *n = l;
    return 0;
}

int rcache__fdump_decode(const unsigned char *p, size_t len, char ***codes,
                         size_t **lens, size_t *n, const char **err) {
    *codes = NULL;
    *lens = NULL;
    *n = 0;
    *err = ERR_FOOTER;
    if (len < 10)
        return -1;
    unsigned ver = p[len - 10] | (unsigned)p[len - 9] << 8;
    uint64_t crc = 0;
    for (int i = 0; i < 8; i++)
        crc |= (uint64_t)p[len - 8 + i] << (8 * i);
    if (ver > RDB_VERSION || crc != rcache__crc64(0, p, len - 8))
        return -1;
    rd_t r = {p, 0, len - 10};
    size_t cap = 0;
    while (r.pos < r.len) {
        unsigned char op = p[r.pos++];
        if (op == OP_FUNCTION_PRE_GA) {
            *err = "ERR Pre-GA function format not supported";
            goto fail;
        }
        if (op != OP_FUNCTION2) {
            *err = "ERR given type is not a function";
            goto fail;
        }
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **c2 = realloc(*codes, nc * sizeof *c2);
            if (c2)
                *codes = c2;
            size_t *l2 = c2 ? realloc(*lens, nc * sizeof *l2) : NULL;
            if (!l2) {
                *err = "ERR out of memory";
                goto fail;
            }
            *lens = l2;
            cap = nc;
        }
        if (get_str(&r, &(*codes)[*n], &(*lens)[*n]) != 0) {
            *err = ERR_BAD;
            goto fail;
        }
        (*n)++;
    }
    return 0;
fail:
    for (size_t i = 0; i < *n; i++)
        free((*codes)[i]);
    free(*codes);
    free(*lens);
    *codes = NULL;
    *lens = NULL;
    *n = 0;
    return -1;
}
