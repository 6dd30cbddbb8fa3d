/*
 * rdb_dec.c - RDB decoder: a pull parser over a read callback.
 *
 * rcache__rdb_dec_next() returns one record at a time (an AUX field, a
 * SELECTDB, a RESIZEDB, a string key with its expiry and idle time, a
 * skipped key of another type, the end).  Input is read through a 256 KiB
 * buffer; the CRC-64 is computed over each byte once, just before the
 * buffer drops it, and checked at the EOF opcode.
 *
 * Hostile input: every length is checked against max_str before it is
 * used; a string buffer grows only as its bytes actually arrive (a claimed
 * 512 MiB string in a 100-byte file allocates nothing large); an LZF
 * string's declared length must be reachable from its compressed length
 * (LZF expands at most ~88x) before its output is allocated.  Skipping
 * other types walks their structure with loops, never recursion, and every
 * loop step consumes input, so work is bounded by the input's size.  Every
 * error names the byte offset where it was found and what was wrong; after
 * one, the decoder stays failed.
 */
#include "rdb.h"
#include "internal.h"

#include <lzf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DEC_BUF ((size_t)256 * 1024)
#define DEFAULT_MAX_STR ((uint64_t)512 * 1024 * 1024)
#define AUX_KEEP ((uint64_t)64 * 1024) /* longer AUX values are dropped */

static const char *const type_names[] = {
    "string",        "list",           "set",           "zset",
    "hash",          "zset",           "module",        "module",
    "type8",         "hash-zipmap",    "list-ziplist",  "set-intset",
    "zset-ziplist",  "hash-ziplist",   "list-quicklist", "stream",
    "hash-listpack", "zset-listpack",  "list-quicklist", "stream"};

const char *rcache__rdb_type_name(int type) {
    if (type >= 0 && type <= RDB_TYPE_MAX)
        return type_names[type];
    if (type == RDB_OP_FUNCTION2)
        return "function";
    if (type == RDB_OP_MODULE_AUX)
        return "module-aux";
    return "unknown";
}

static uint64_t off_now(const rcache__rdb_dec_t *d) { return d->base + d->pos; }

static int failf(rcache__rdb_dec_t *d, uint64_t off, int code, const char *fmt,
                 ...) {
    va_list ap;
    if (d->err)
        return d->err;
    d->err = code;
    d->err_off = off;
    va_start(ap, fmt);
    vsnprintf(d->err_msg, sizeof(d->err_msg), fmt, ap);
    va_end(ap);
    d->state = -1;
    return code;
}

static void crc_sync(rcache__rdb_dec_t *d) {
    if (d->no_crc) {
        d->crc_pos = d->pos;
        return;
    }
    if (d->pos > d->crc_pos) {
        d->crc = rcache__crc64(d->crc, d->buf + d->crc_pos, d->pos - d->crc_pos);
        d->crc_pos = d->pos;
    }
}

/* Make at least n (<= DEC_BUF) unread bytes available. */
static int fill(rcache__rdb_dec_t *d, size_t n) {
    if (d->len - d->pos >= n)
        return 0;
    crc_sync(d);
    if (d->pos > 0) {
        memmove(d->buf, d->buf + d->pos, d->len - d->pos);
        d->base += d->pos;
        d->len -= d->pos;
        d->pos = d->crc_pos = 0;
    }
    while (d->len < n) {
        long r;
        if (d->at_eof)
            return failf(d, d->base + d->len, RCACHE_ECORRUPT,
                         "truncated: input ends at offset %llu, %zu more "
                         "byte(s) needed",
                         (unsigned long long)d->base + d->len, n - d->len);
        r = d->read(d->ctx, d->buf + d->len, d->cap - d->len);
        if (r < 0)
            return failf(d, d->base + d->len, RCACHE_EIO, "read error");
        if ((size_t)r > d->cap - d->len)
            return failf(d, d->base + d->len, RCACHE_EIO,
                         "read callback returned more than asked");
        if (r == 0)
            d->at_eof = 1;
        d->len += (size_t)r;
    }
    return 0;
}

static int rd_u8(rcache__rdb_dec_t *d, unsigned *out) {
    *out = 0;
    if (fill(d, 1))
        return d->err;
    *out = d->buf[d->pos++];
    return 0;
}

/* n bytes into dst, or skipped when dst is NULL. */
static int rd_raw(rcache__rdb_dec_t *d, unsigned char *dst, uint64_t n) {
    while (n > 0) {
        size_t avail, take;
        if (fill(d, 1))
            return d->err;
        avail = d->len - d->pos;
        take = avail < n ? avail : (size_t)n;
        if (dst) {
            memcpy(dst, d->buf + d->pos, take);
            dst += take;
        }
        d->pos += take;
        n -= take;
    }
    return 0;
}

static uint64_t le_get(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int rd_le(rcache__rdb_dec_t *d, int n, uint64_t *out) {
    unsigned char b[8] = {0};
    *out = 0;
    if (rd_raw(d, b, (uint64_t)n))
        return d->err;
    *out = le_get(b, n);
    return 0;
}

/* An RDB length; *enc = 1 for a special string encoding (len = its kind). */
static int rd_len(rcache__rdb_dec_t *d, uint64_t *len, int *enc) {
    unsigned b, b2;
    unsigned char w[8] = {0};
    uint64_t at = off_now(d);
    *enc = 0;
    *len = 0;
    if (rd_u8(d, &b))
        return d->err;
    switch (b >> 6) {
    case 0: *len = b & 0x3fu; return 0;
    case 1:
        if (rd_u8(d, &b2))
            return d->err;
        *len = ((uint64_t)(b & 0x3fu) << 8) | b2;
        return 0;
    case 3: *enc = 1; *len = b & 0x3fu; return 0;
    default: break;
    }
    if (b != 0x80 && b != 0x81)
        return failf(d, at, RCACHE_ECORRUPT, "bad length byte 0x%02x", b);
    if (rd_raw(d, w, b == 0x80 ? 4 : 8))
        return d->err;
    *len = 0;
    for (int i = 0; i < (b == 0x80 ? 4 : 8); i++)
        *len = (*len << 8) | w[i];
    return 0;
}

/* A length that may not be a string encoding. */
static int rd_plen(rcache__rdb_dec_t *d, uint64_t *len) {
    int enc = 0;
    uint64_t at = off_now(d);
    if (rd_len(d, len, &enc))
        return d->err;
    if (enc)
        return failf(d, at, RCACHE_ECORRUPT,
                     "string encoding where a length was expected");
    return 0;
}

static int grow(rcache__rdb_dec_t *d, unsigned char **b, size_t *cap,
                size_t need) {
    size_t n;
    unsigned char *nb;
    if (need <= *cap)
        return 0;
    n = *cap ? *cap : 64;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    nb = rcache__realloc(*b, n);
    if (!nb)
        return failf(d, off_now(d), RCACHE_ENOMEM, "out of memory");
    *b = nb;
    *cap = n;
    return 0;
}

/* Read n raw bytes into a slot, growing it only as bytes arrive. */
static int rd_into(rcache__rdb_dec_t *d, unsigned char **b, size_t *cap,
                   uint64_t n) {
    size_t got = 0;
    while (got < n) {
        size_t avail, take, want;
        if (fill(d, 1))
            return d->err;
        avail = d->len - d->pos;
        take = avail < n - got ? avail : (size_t)(n - got);
        want = got + take;
        if (want > *cap) { /* geometric, but never past n */
            size_t g = *cap * 2 > want ? *cap * 2 : want;
            if (grow(d, b, cap, g < n ? g : (size_t)n))
                return d->err;
        }
        memcpy(*b + got, d->buf + d->pos, take);
        d->pos += take;
        got += take;
    }
    return 0;
}

/*
 * An RDB string into slot (0 key, 1 value).  keep: longer strings are
 * consumed but not returned (*dropped = 1, *p = NULL, *n = their length).
 * With d->materialize == 0 nothing is returned, only checked.
 */
static int rd_str(rcache__rdb_dec_t *d, int slot, uint64_t keep,
                  const unsigned char **p, size_t *n, int *dropped) {
    unsigned char **b = slot ? &d->vb : &d->kb;
    size_t *cap = slot ? &d->vcap : &d->kcap;
    uint64_t len, clen, at = off_now(d);
    int enc;
    *p = NULL;
    *n = 0;
    *dropped = 0;
    if (rd_len(d, &len, &enc))
        return d->err;
    if (enc) {
        if (len <= 2) { /* INT8, INT16, INT32, little-endian */
            uint64_t v;
            int w = 1 << len;
            int64_t s;
            if (rd_le(d, w, &v))
                return d->err;
            s = w == 1 ? (int8_t)v : w == 2 ? (int16_t)v : (int32_t)v;
            if (grow(d, b, cap, 24))
                return d->err;
            *n = (size_t)snprintf((char *)*b, 24, "%lld", (long long)s);
            *p = *b;
            return 0;
        }
        if (len != 3)
            return failf(d, at, RCACHE_ECORRUPT, "unknown string encoding %llu",
                         (unsigned long long)len);
        if (rd_plen(d, &clen) || rd_plen(d, &len))
            return d->err;
        if (clen == 0 || len == 0 || clen > d->max_str || len > d->max_str)
            return failf(d, at, RCACHE_ECORRUPT,
                         "LZF string lengths %llu -> %llu out of range (limit "
                         "%llu)",
                         (unsigned long long)clen, (unsigned long long)len,
                         (unsigned long long)d->max_str);
        if (len / 90u > clen)
            return failf(d, at, RCACHE_ECORRUPT,
                         "LZF string of %llu bytes cannot expand to %llu",
                         (unsigned long long)clen, (unsigned long long)len);
        *n = (size_t)len;
        if (!d->materialize || len > keep) {
            *dropped = len > keep;
            return rd_raw(d, NULL, clen);
        }
        if (rd_into(d, &d->zb, &d->zcap, clen) || grow(d, b, cap, (size_t)len))
            return d->err;
        if (lzf_decompress(d->zb, (unsigned)clen, *b, (unsigned)len) != len)
            return failf(d, at, RCACHE_ECORRUPT,
                         "LZF data does not decompress to %llu bytes",
                         (unsigned long long)len);
        *p = *b;
        return 0;
    }
    if (len > d->max_str)
        return failf(d, at, RCACHE_ECORRUPT,
                     "string length %llu exceeds the limit %llu",
                     (unsigned long long)len, (unsigned long long)d->max_str);
    *n = (size_t)len;
    if (!d->materialize || len > keep) {
        *dropped = len > keep;
        return rd_raw(d, NULL, len);
    }
    if (rd_into(d, b, cap, len))
        return d->err;
    *p = len ? *b : (const unsigned char *)"";
    return 0;
}

static int skip_str(rcache__rdb_dec_t *d) {
    const unsigned char *p;
    size_t n;
    int dropped, m = d->materialize;
    d->materialize = 0;
    rd_str(d, 1, 0, &p, &n, &dropped);
    d->materialize = m;
    return d->err;
}

/* Module values: (opcode, value)* until opcode 0 (RDB_MODULE_OPCODE_EOF). */
static int skip_module_values(rcache__rdb_dec_t *d) {
    for (;;) {
        uint64_t op, v, at = off_now(d);
        if (rd_plen(d, &op))
            return d->err;
        switch (op) {
        case 0: return 0;
        case 1: case 2: if (rd_plen(d, &v)) return d->err; break;
        case 3: if (rd_raw(d, NULL, 4)) return d->err; break;
        case 4: if (rd_raw(d, NULL, 8)) return d->err; break;
        case 5: if (skip_str(d)) return d->err; break;
        default:
            return failf(d, at, RCACHE_ECORRUPT, "unknown module opcode %llu",
                         (unsigned long long)op);
        }
    }
}

/* Streams (types 15 and 19), as Redis 7.0's rdbLoadObject reads them. */
static int skip_stream(rcache__rdb_dec_t *d, int type) {
    uint64_t n, m, k, v;
    if (rd_plen(d, &n))
        return d->err;
    while (n--)
        if (skip_str(d) || skip_str(d)) /* node key, listpack */
            return d->err;
    for (int i = 0; i < (type == 19 ? 8 : 3); i++) /* length, ids, counts */
        if (rd_plen(d, &v))
            return d->err;
    if (rd_plen(d, &n)) /* consumer groups */
        return d->err;
    while (n--) {
        if (skip_str(d) || rd_plen(d, &v) || rd_plen(d, &v))
            return d->err;
        if (type == 19 && rd_plen(d, &v))
            return d->err;
        if (rd_plen(d, &m))
            return d->err;
        while (m--) /* PEL: raw id, delivery time, count */
            if (rd_raw(d, NULL, 16 + 8) || rd_plen(d, &v))
                return d->err;
        if (rd_plen(d, &m))
            return d->err;
        while (m--) { /* consumers */
            if (skip_str(d) || rd_raw(d, NULL, 8) || rd_plen(d, &k))
                return d->err;
            while (k--)
                if (rd_raw(d, NULL, 16))
                    return d->err;
        }
    }
    return 0;
}

static int skip_value(rcache__rdb_dec_t *d, int type, uint64_t at) {
    uint64_t n, v;
    unsigned b;
    switch (type) {
    case 1: case 2: case 14:
        if (rd_plen(d, &n)) return d->err;
        while (n--) if (skip_str(d)) return d->err;
        return 0;
    case 18:
        if (rd_plen(d, &n)) return d->err;
        while (n--) if (rd_plen(d, &v) || skip_str(d)) return d->err;
        return 0;
    case 3:
        if (rd_plen(d, &n)) return d->err;
        while (n--) {
            if (skip_str(d) || rd_u8(d, &b)) return d->err;
            if (b < 253 && rd_raw(d, NULL, b)) return d->err;
        }
        return 0;
    case 5:
        if (rd_plen(d, &n)) return d->err;
        while (n--) if (skip_str(d) || rd_raw(d, NULL, 8)) return d->err;
        return 0;
    case 4:
        if (rd_plen(d, &n)) return d->err;
        while (n--) if (skip_str(d) || skip_str(d)) return d->err;
        return 0;
    case 9: case 10: case 11: case 12: case 13: case 16: case 17:
        return skip_str(d);
    case 15: case 19:
        return skip_stream(d, type);
    case 7:
        if (rd_plen(d, &v)) return d->err;
        return skip_module_values(d);
    default:
        return failf(d, at, RCACHE_ECORRUPT,
                     "value type %d cannot be read (%s)", type,
                     type == 6 ? "pre-release module format" : "unknown type");
    }
}

static int rd_header(rcache__rdb_dec_t *d) {
    int v = 0;
    if (fill(d, 9))
        return d->err;
    if (memcmp(d->buf + d->pos, "REDIS", 5) != 0)
        return failf(d, 0, RCACHE_ECORRUPT,
                     "not an RDB file (no \"REDIS\" magic)");
    for (int i = 5; i < 9; i++) {
        unsigned char ch = d->buf[d->pos + i];
        if (ch < '0' || ch > '9')
            return failf(d, 5, RCACHE_ECORRUPT, "bad RDB version digits");
        v = v * 10 + (ch - '0');
    }
    if (v < 1 || v > RCACHE__RDB_VERSION)
        return failf(d, 5, RCACHE_ECORRUPT,
                     "RDB version %d is not supported (this reader knows "
                     "versions 1 to %d, Redis 7.0)",
                     v, RCACHE__RDB_VERSION);
    d->version = v;
    d->pos += 9;
    d->state = 1;
    return 0;
}

static int rd_eof(rcache__rdb_dec_t *d) {
    uint64_t stored, computed, at;
    crc_sync(d);
    computed = d->crc;
    at = off_now(d);
    if (d->version >= 5) {
        if (rd_le(d, 8, &stored))
            return d->err;
        /* 0: written unchecked (rdbchecksum no) */
        if (stored != 0 && stored != computed && !d->no_crc)
            return failf(d, at, RCACHE_ECORRUPT,
                         "CRC-64 mismatch: the file says %016llx, its bytes "
                         "give %016llx",
                         (unsigned long long)stored,
                         (unsigned long long)computed);
    }
    d->state = 2;
    return 0;
}

/* A key record of the given type (the type byte is read). */
static int rd_key(rcache__rdb_dec_t *d, int type, rcache__rdb_item_t *it) {
    int dropped;
    const unsigned char *p;
    size_t n;
    it->type = type;
    it->type_name = rcache__rdb_type_name(type);
    if (rd_str(d, 0, RCACHE_MAX_KEY_LEN, &p, &n, &dropped))
        return d->err;
    it->key = p;
    it->klen = n;
    it->too_big = dropped;
    if (type != RDB_TYPE_STRING) {
        it->kind = RCACHE__RDB_EV_SKIPPED;
        return skip_value(d, type, it->offset);
    }
    if (rd_str(d, 1, d->keep_max, &p, &n, &dropped))
        return d->err;
    it->kind = RCACHE__RDB_EV_STRING;
    it->val = p;
    it->vlen = n;
    it->too_big |= dropped;
    return 0;
}

/* AUX: two strings, read even when only verifying (they are small). */
static int rd_aux(rcache__rdb_dec_t *d, rcache__rdb_item_t *it) {
    const unsigned char *p;
    size_t n;
    int dropped, m = d->materialize;
    d->materialize = 1;
    if (rd_str(d, 0, AUX_KEEP, &p, &n, &dropped) == 0) {
        it->key = p;
        it->klen = n;
        rd_str(d, 1, AUX_KEEP, &p, &n, &dropped);
        it->val = p;
        it->vlen = n;
    }
    d->materialize = m;
    if (d->err)
        return d->err;
    it->kind = RCACHE__RDB_EV_AUX;
    return 0;
}

/* MODULE_AUX: module id, when_opcode (must be UINT), when, values. */
static int rd_module_aux(rcache__rdb_dec_t *d, rcache__rdb_item_t *it,
                         uint64_t at) {
    uint64_t v;
    if (rd_plen(d, &v) || rd_plen(d, &v))
        return d->err;
    if (v != 2)
        return failf(d, at, RCACHE_ECORRUPT,
                     "module AUX with bad 'when' opcode %llu",
                     (unsigned long long)v);
    if (rd_plen(d, &v) || skip_module_values(d))
        return d->err;
    it->kind = RCACHE__RDB_EV_SKIPPED;
    it->type = RDB_OP_MODULE_AUX;
    it->type_name = rcache__rdb_type_name(RDB_OP_MODULE_AUX);
    return 0;
}

int rcache__rdb_dec_next(rcache__rdb_dec_t *d, rcache__rdb_item_t *it) {
    memset(it, 0, sizeof(*it));
    it->idle_s = -1;
    it->freq = -1;
    if (d->state < 0)
        return d->err;
    if (d->state == 0 && rd_header(d))
        return d->err;
    if (d->state == 2) {
        it->kind = RCACHE__RDB_EV_EOF;
        return 0;
    }
    it->offset = off_now(d);
    for (;;) {
        unsigned op;
        uint64_t v, at = off_now(d);
        it->db = d->db;
        if (rd_u8(d, &op))
            return d->err;
        switch (op) {
        case RDB_OP_EXPIRETIME_MS:
            if (rd_le(d, 8, &v))
                return d->err;
            it->expire_ms = v ? v : 1; /* 0 is "none" to us, 1970 to Redis */
            continue;
        case RDB_OP_EXPIRETIME:
            if (rd_le(d, 4, &v))
                return d->err;
            it->expire_ms = v ? v * (uint64_t)1000 : 1;
            continue;
        case RDB_OP_IDLE:
            if (rd_plen(d, &v))
                return d->err;
            it->idle_s = v > INT64_MAX ? INT64_MAX : (int64_t)v;
            continue;
        case RDB_OP_FREQ:
            if (rd_u8(d, &op))
                return d->err;
            it->freq = (int)op;
            continue;
        case RDB_OP_SELECTDB:
            if (rd_plen(d, &d->db))
                return d->err;
            it->kind = RCACHE__RDB_EV_SELECTDB;
            it->n1 = it->db = d->db;
            return 0;
        case RDB_OP_RESIZEDB:
            if (rd_plen(d, &it->n1) || rd_plen(d, &it->n2))
                return d->err;
            it->kind = RCACHE__RDB_EV_RESIZEDB;
            return 0;
        case RDB_OP_AUX:
            return rd_aux(d, it);
        case RDB_OP_MODULE_AUX:
            return rd_module_aux(d, it, at);
        case RDB_OP_FUNCTION2: {
            /* a function library's code: kept whole when materialising */
            const unsigned char *p;
            size_t n;
            int dropped;
            if (rd_str(d, 1, d->keep_max, &p, &n, &dropped))
                return d->err;
            it->kind = RCACHE__RDB_EV_FUNCTION;
            it->type = (int)op;
            it->type_name = rcache__rdb_type_name((int)op);
            it->val = p;
            it->vlen = n;
            it->too_big = dropped;
            return 0;
        }
        case RDB_OP_EOF:
            if (rd_eof(d))
                return d->err;
            it->kind = RCACHE__RDB_EV_EOF;
            return 0;
        default:
            if (op > RDB_TYPE_MAX || op == 8)
                return failf(d, at, RCACHE_ECORRUPT,
                             "unknown opcode or value type 0x%02x", op);
            return rd_key(d, (int)op, it);
        }
    }
}

int rcache__rdb_dec_init(rcache__rdb_dec_t *d, rcache_snapshot_read_fn read,
                         void *ctx, uint64_t max_str, uint64_t keep_max,
                         int materialize) {
    memset(d, 0, sizeof(*d));
    d->read = read;
    d->ctx = ctx;
    d->max_str = max_str ? max_str : DEFAULT_MAX_STR;
    d->keep_max = keep_max < d->max_str ? keep_max : d->max_str;
    d->materialize = materialize;
    d->cap = DEC_BUF;
    d->buf = rcache__malloc(d->cap);
    return d->buf ? RCACHE_OK : RCACHE_ENOMEM;
}

void rcache__rdb_dec_free(rcache__rdb_dec_t *d) {
    rcache__free(d->buf);
    rcache__free(d->kb);
    rcache__free(d->vb);
    rcache__free(d->zb);
    memset(d, 0, sizeof(*d));
}
