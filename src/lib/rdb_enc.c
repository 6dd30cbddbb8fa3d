/*
 * rdb_enc.c - RDB encoder: builds RDB version 10 records into a buffer
 * and hands it to the caller's write callback when full.
 *
 * Strings are written the way Redis 7.0's rdbSaveRawString does: a value
 * of at most 11 bytes that is the canonical decimal form of a 32-bit
 * integer is integer-encoded (INT8/16/32); a longer one is LZF-compressed
 * (Debian's liblzf, the same algorithm Redis bundles) when that saves at
 * least 4 bytes; the rest are raw.  The CRC-64 is computed over each
 * buffer as it is flushed.  Errors are sticky: after a failed write every
 * later call does nothing and rcache__rdb_enc_finish() returns the error.
 */
#include "rdb.h"
#include "internal.h"

#include <lzf.h>
#include <stdio.h>
#include <string.h>

#define ENC_BUF ((size_t)1024 * 1024)

int rcache__rdb_enc_init(rcache__rdb_enc_t *e, rcache_snapshot_write_fn write,
                         void *ctx, size_t compress_min) {
    memset(e, 0, sizeof(*e));
    e->write = write;
    e->ctx = ctx;
    e->compress_min = compress_min;
    e->cap = ENC_BUF;
    e->buf = rcache__malloc(e->cap);
    return e->buf ? RCACHE_OK : RCACHE_ENOMEM;
}

void rcache__rdb_enc_free(rcache__rdb_enc_t *e) {
    rcache__free(e->buf);
    rcache__free(e->lzf);
    memset(e, 0, sizeof(*e));
}

static void flush(rcache__rdb_enc_t *e) {
    if (e->err || e->len == 0)
        return;
    e->crc = rcache__crc64(e->crc, e->buf, e->len);
    if (e->write(e->ctx, e->buf, e->len) < 0)
        e->err = RCACHE_EIO;
    else
        e->bytes += e->len;
    e->len = 0;
}

void rcache__rdb_enc_raw(rcache__rdb_enc_t *e, const void *p, size_t n) {
    const unsigned char *s = p;
    while (n > 0 && !e->err) {
        size_t take = e->cap - e->len < n ? e->cap - e->len : n;
        memcpy(e->buf + e->len, s, take);
        e->len += take;
        s += take;
        n -= take;
        if (e->len == e->cap)
            flush(e);
    }
}

static void put_u8(rcache__rdb_enc_t *e, unsigned v) {
    unsigned char b = (unsigned char)v;
    rcache__rdb_enc_raw(e, &b, 1);
}

void rcache__rdb_enc_len(rcache__rdb_enc_t *e, uint64_t len) {
    unsigned char b[9];
    size_t n;
    if (len < 64) {
        b[0] = (unsigned char)len;
        n = 1;
    } else if (len < 16384) {
        b[0] = (unsigned char)(0x40 | (len >> 8));
        b[1] = (unsigned char)len;
        n = 2;
    } else if (len <= UINT32_MAX) {
        b[0] = 0x80;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        n = 5;
    } else {
        b[0] = 0x81;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 9;
    }
    rcache__rdb_enc_raw(e, b, n);
}

/* Is s the canonical decimal form of an int32 ("0", "-5", not "05", "+5",
 * "-0", " 5")?  Then Redis would integer-encode it, and so do we. */
static int as_int32(const unsigned char *s, size_t n, int32_t *out) {
    int64_t v = 0;
    size_t i = 0;
    int neg = 0;
    if (n == 0 || n > 11)
        return 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return 0;
    }
    if (s[i] == '0' && (n - i > 1 || neg))
        return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t)INT32_MAX + 1)
            return 0;
    }
    if (neg)
        v = -v;
    if (v < INT32_MIN || v > INT32_MAX)
        return 0;
    *out = (int32_t)v;
    return 1;
}

static int try_int(rcache__rdb_enc_t *e, const unsigned char *s, size_t n) {
    int32_t v;
    unsigned char b[5];
    size_t w;
    if (!as_int32(s, n, &v))
        return 0;
    if (v >= INT8_MIN && v <= INT8_MAX) {
        b[0] = 0xc0;
        w = 1;
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
        b[0] = 0xc1;
        w = 2;
    } else {
        b[0] = 0xc2;
        w = 4;
    }
    for (size_t i = 0; i < w; i++)
        b[1 + i] = (unsigned char)((uint32_t)v >> (8 * i));
    rcache__rdb_enc_raw(e, b, 1 + w);
    return 1;
}

static int try_lzf(rcache__rdb_enc_t *e, const unsigned char *s, size_t n) {
    unsigned clen;
    if (e->compress_min == 0 || n <= e->compress_min || n > UINT32_MAX)
        return 0;
    if (e->lzf_cap < n) {
        unsigned char *nb = rcache__realloc(e->lzf, n);
        if (!nb)
            return 0; /* no memory to compress: write it raw */
        e->lzf = nb;
        e->lzf_cap = n;
    }
    clen = lzf_compress(s, (unsigned)n, e->lzf, (unsigned)(n - 4));
    if (clen == 0)
        return 0;
    put_u8(e, 0xc3);
    rcache__rdb_enc_len(e, clen);
    rcache__rdb_enc_len(e, n);
    rcache__rdb_enc_raw(e, e->lzf, clen);
    return 1;
}

void rcache__rdb_enc_str(rcache__rdb_enc_t *e, const void *p, size_t n) {
    const unsigned char *s = p;
    if (try_int(e, s, n) || try_lzf(e, s, n))
        return;
    rcache__rdb_enc_len(e, n);
    rcache__rdb_enc_raw(e, s, n);
}

void rcache__rdb_enc_header(rcache__rdb_enc_t *e) {
    char magic[16];
    snprintf(magic, sizeof(magic), "REDIS%04d", RCACHE__RDB_VERSION);
    rcache__rdb_enc_raw(e, magic, 9);
}

void rcache__rdb_enc_aux(rcache__rdb_enc_t *e, const char *key,
                         const char *val) {
    put_u8(e, RDB_OP_AUX);
    rcache__rdb_enc_str(e, key, strlen(key));
    rcache__rdb_enc_str(e, val, strlen(val));
}

void rcache__rdb_enc_aux_bin(rcache__rdb_enc_t *e, const char *key,
                             const void *val, size_t vlen) {
    put_u8(e, RDB_OP_AUX);
    rcache__rdb_enc_str(e, key, strlen(key));
    rcache__rdb_enc_str(e, val, vlen);
}

void rcache__rdb_enc_selectdb(rcache__rdb_enc_t *e, uint64_t db) {
    put_u8(e, RDB_OP_SELECTDB);
    rcache__rdb_enc_len(e, db);
}

void rcache__rdb_enc_resizedb(rcache__rdb_enc_t *e, uint64_t keys,
                              uint64_t expires) {
    put_u8(e, RDB_OP_RESIZEDB);
    rcache__rdb_enc_len(e, keys);
    rcache__rdb_enc_len(e, expires);
}

void rcache__rdb_enc_string(rcache__rdb_enc_t *e, const void *key, size_t klen,
                            const void *val, size_t vlen, uint64_t expire_ms,
                            int64_t idle_s) {
    if (expire_ms) {
        unsigned char b[9];
        b[0] = RDB_OP_EXPIRETIME_MS;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (unsigned char)(expire_ms >> (8 * i));
        rcache__rdb_enc_raw(e, b, 9);
    }
    if (idle_s >= 0) {
        put_u8(e, RDB_OP_IDLE);
        rcache__rdb_enc_len(e, (uint64_t)idle_s);
    }
    put_u8(e, RDB_TYPE_STRING);
    rcache__rdb_enc_str(e, key, klen);
    rcache__rdb_enc_str(e, val, vlen);
}

int rcache__rdb_enc_finish(rcache__rdb_enc_t *e) {
    unsigned char b[8];
    uint64_t crc;
    put_u8(e, RDB_OP_EOF);
    if (e->err)
        return e->err;
    crc = rcache__crc64(e->crc, e->buf, e->len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(crc >> (8 * i));
    if (e->cap - e->len >= 8) {
        memcpy(e->buf + e->len, b, 8);
        e->len += 8;
        flush(e);
    } else {
        flush(e);
        if (!e->err && e->write(e->ctx, b, 8) < 0)
            e->err = RCACHE_EIO;
        else if (!e->err)
            e->bytes += 8;
    }
    return e->err;
}
