/*
 * rdb.h - the RDB codec shared by rdb_enc.c, rdb_dec.c and snapshot.c
 * (rcache__rdb_ prefix).  Pure: no file I/O, only the caller's read and
 * write callbacks, so the decoder can be fuzzed on memory.
 *
 * Format: RDB version 10 as Redis 7.0 writes it (docs/DESIGN.md,
 * "Persistence").  Constants below carry Redis's names.
 */
#ifndef RCACHE_RDB_H
#define RCACHE_RDB_H

#include "rcache.h"

#include <stddef.h>
#include <stdint.h>

/* CRC-64/Jones as Redis (crc64.c); start with crc = 0. */
uint64_t rcache__crc64(uint64_t crc, const void *buf, size_t len);

#define RCACHE__RDB_VERSION 10 /* what we write and the newest we read */

/* Opcodes (Redis 7.0 rdb.h). */
#define RDB_OP_FUNCTION2 245
#define RDB_OP_FUNCTION_PRE_GA 246
#define RDB_OP_MODULE_AUX 247
#define RDB_OP_IDLE 248
#define RDB_OP_FREQ 249
#define RDB_OP_AUX 250
#define RDB_OP_RESIZEDB 251
#define RDB_OP_EXPIRETIME_MS 252
#define RDB_OP_EXPIRETIME 253
#define RDB_OP_SELECTDB 254
#define RDB_OP_EOF 255

/* Value types. */
#define RDB_TYPE_STRING 0
#define RDB_TYPE_MAX 19 /* RDB_TYPE_STREAM_LISTPACKS_2, the last in v10 */

/* Name of an RDB value type ("list", "hash-listpack", ...). */
const char *rcache__rdb_type_name(int type);

/* ---- encoder (rdb_enc.c) ------------------------------------------- */
typedef struct rcache__rdb_enc {
    rcache_snapshot_write_fn write; /* sink */
    void *ctx;
    unsigned char *buf; /* output buffer, flushed when full */
    size_t len, cap;
    uint64_t crc;       /* of everything flushed */
    uint64_t bytes;     /* bytes handed to write so far */
    size_t compress_min; /* LZF above this length; 0 = never */
    unsigned char *lzf; /* compression scratch */
    size_t lzf_cap;
    int err;            /* sticky: RCACHE_EIO or RCACHE_ENOMEM */
} rcache__rdb_enc_t;

/* Set up an encoder; RCACHE_OK or RCACHE_ENOMEM. */
int rcache__rdb_enc_init(rcache__rdb_enc_t *e, rcache_snapshot_write_fn write,
                         void *ctx, size_t compress_min);
void rcache__rdb_enc_free(rcache__rdb_enc_t *e);
/* "REDIS0010". */
void rcache__rdb_enc_header(rcache__rdb_enc_t *e);
void rcache__rdb_enc_aux(rcache__rdb_enc_t *e, const char *key,
                         const char *val);
/* An AUX field with a binary value (rcache-tags). */
void rcache__rdb_enc_aux_bin(rcache__rdb_enc_t *e, const char *key,
                             const void *val, size_t vlen);
void rcache__rdb_enc_selectdb(rcache__rdb_enc_t *e, uint64_t db);
void rcache__rdb_enc_resizedb(rcache__rdb_enc_t *e, uint64_t keys,
                              uint64_t expires);
/* One string key: expire_ms 0 = none; idle_s < 0 = not written. */
void rcache__rdb_enc_string(rcache__rdb_enc_t *e, const void *key, size_t klen,
                            const void *val, size_t vlen, uint64_t expire_ms,
                            int64_t idle_s);
/* EOF, CRC-64 and the final flush; returns the sticky error or RCACHE_OK. */
int rcache__rdb_enc_finish(rcache__rdb_enc_t *e);
/* Write a length (RDB 6/14/32/64-bit length encoding) / an RDB string;
 * exposed for the tests that build hostile files. */
void rcache__rdb_enc_len(rcache__rdb_enc_t *e, uint64_t len);
void rcache__rdb_enc_raw(rcache__rdb_enc_t *e, const void *p, size_t n);
void rcache__rdb_enc_str(rcache__rdb_enc_t *e, const void *p, size_t n);

/* ---- decoder (rdb_dec.c) ------------------------------------------- */
enum {
    RCACHE__RDB_EV_AUX = 1,    /* key/val = AUX name / value */
    RCACHE__RDB_EV_SELECTDB,   /* n1 = db */
    RCACHE__RDB_EV_RESIZEDB,   /* n1 = keys, n2 = keys with expiry */
    RCACHE__RDB_EV_STRING,     /* key/val, expire_ms, idle_s, too_big */
    RCACHE__RDB_EV_SKIPPED,    /* a non-string key: type, key */
    RCACHE__RDB_EV_EOF,        /* end; CRC checked */
    RCACHE__RDB_EV_FUNCTION    /* FUNCTION2: val = the library's code (NULL
                                  when not materialised or too_big) */
};

typedef struct rcache__rdb_item {
    int kind;            /* RCACHE__RDB_EV_* */
    int type;            /* RDB type of a key, or the opcode skipped */
    const char *type_name;
    const unsigned char *key; /* valid until the next call */
    size_t klen;
    const unsigned char *val; /* NULL when too_big or not materialised */
    size_t vlen;
    int too_big;         /* the value (or key) was longer than keep_max */
    uint64_t db;         /* current database */
    uint64_t expire_ms;  /* 0 = no expiry */
    int64_t idle_s;      /* -1 = none */
    int freq;            /* -1 = none */
    uint64_t n1, n2;     /* SELECTDB / RESIZEDB numbers */
    uint64_t offset;     /* file offset where the record starts */
} rcache__rdb_item_t;

typedef struct rcache__rdb_dec {
    rcache_snapshot_read_fn read;
    void *ctx;
    unsigned char *buf;  /* input buffer */
    size_t cap, pos, len;
    size_t crc_pos;      /* buf[crc_pos..pos) not yet in crc */
    uint64_t base;       /* file offset of buf[0] */
    uint64_t crc;
    int at_eof;          /* read returned 0 */
    int state;           /* 0 header, 1 body, 2 done, -1 failed */
    int version;
    uint64_t max_str;    /* longer strings are an error */
    uint64_t keep_max;   /* longer values are consumed, not kept */
    int materialize;     /* 0: verify only (values skipped, no LZF) */
    int no_crc;          /* 1: the CRC was checked by an earlier pass */
    uint64_t db;
    unsigned char *kb, *vb; /* key and value scratch */
    size_t kcap, vcap;
    unsigned char *zb;   /* compressed-input scratch */
    size_t zcap;
    int err;             /* RCACHE_ECORRUPT / RCACHE_EIO / RCACHE_ENOMEM */
    uint64_t err_off;
    char err_msg[200];
} rcache__rdb_dec_t;

/* Set up a decoder over a read callback.  max_str: longest string allowed
 * (0 = 512 MiB); keep_max: longest value returned (longer ones are read
 * and dropped with too_big set); materialize 0 = verify only. */
int rcache__rdb_dec_init(rcache__rdb_dec_t *d, rcache_snapshot_read_fn read,
                         void *ctx, uint64_t max_str, uint64_t keep_max,
                         int materialize);
void rcache__rdb_dec_free(rcache__rdb_dec_t *d);
/* Next record into *it: RCACHE_OK (it->kind set; RCACHE__RDB_EV_EOF at the
 * end, after which further calls return it again) or an error code with
 * d->err_off and d->err_msg set.  Once an error is returned, every later
 * call returns it. */
int rcache__rdb_dec_next(rcache__rdb_dec_t *d, rcache__rdb_item_t *it);
/* Bytes consumed so far (the offset of the next byte). */
static inline uint64_t rcache__rdb_dec_offset(const rcache__rdb_dec_t *d) {
    return d->base + d->pos;
}

#endif /* RCACHE_RDB_H */
