/*
 * commands_bits.c - the bitmap commands on string values: SETBIT, GETBIT,
 * BITCOUNT, BITPOS and BITOP, with Redis 7.0's argument rules, ranges
 * (BYTE|BIT) and error texts (checked against redis-server 7.0 by
 * tests/server/bits_diff_test.py). BITFIELD is in commands_bitfield.c.
 *
 * SETBIT runs in an rcache_update() callback that hands the library a
 * one-byte SPLICE: the changed byte is written into the entry (grown with
 * zeros when the offset is past the end), never a copy of the whole value
 * built here. Reads use references (no copy). BITOP reads each source
 * atomically but not all of them as one snapshot (as MGET), then stores
 * the result like SET.
 */
#include "bits.h"
#include "keyargs.h"
#include "notify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ERR_BIT_OFFSET "ERR bit offset is not an integer or out of range"

/* bits.h */
int rcache__bit_offset(rcache__client_t *c, const rcache__arg_t *a, int hash_bits,
                       uint64_t *out) {
    long long v;
    int hash = a->len > 0 && a->ptr[0] == '#' && hash_bits > 0;
    if (!rcache__str2ll(a->ptr + hash, a->len - (size_t)hash, &v)) {
        rcache__reply_error(c, ERR_BIT_OFFSET);
        return 0;
    }
    if (hash)
        v = (long long)((unsigned long long)v * (unsigned long long)hash_bits);
    uint64_t limit = atomic_load_explicit(&c->srv->proto_max_bulk_len, memory_order_relaxed);
    if (v < 0 || (uint64_t)(v >> 3) >= limit) {
        rcache__reply_error(c, ERR_BIT_OFFSET);
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

/* ---- SETBIT / GETBIT ------------------------------------------------- */

typedef struct setbit_ctx {
    uint64_t offset;
    int on;
    int old;           /* out: the bit before */
    unsigned char byte; /* the new byte, spliced in */
    int wrote, created; /* out: for the keyspace events */
} setbit_ctx_t;

static int setbit_cb(rcache_update_t *u, void *arg) {
    setbit_ctx_t *s = arg;
    size_t byte = (size_t)(s->offset >> 3);
    int shift = 7 - (int)(s->offset & 7);
    int inside = u->found && byte < u->old_len;
    unsigned char ob = inside ? ((const unsigned char *)u->old_val)[byte] : 0;
    s->old = (ob >> shift) & 1;
    s->byte = (unsigned char)((ob & ~(1u << shift)) | ((unsigned)s->on << shift));
    if (inside && s->byte == ob)
        return RCACHE_UPDATE_KEEP; /* nothing changes (Redis: no write) */
    if (byte >= u->max_new_len)
        return RCACHE_ETOOBIG;
    s->wrote = 1;
    s->created = !u->found;
    u->new_val = &s->byte;
    u->new_len = 1;
    u->splice_offset = byte;
    u->ttl_ms = u->found ? RCACHE_TTL_KEEP : RCACHE_TTL_DEFAULT;
    return RCACHE_UPDATE_SPLICE;
}

void rcache__cmd_setbit(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    uint64_t off;
    long long on;
    if (!rcache__bit_offset(c, &argv[2], 0, &off))
        return;
    if (!rcache__str2ll(argv[3].ptr, argv[3].len, &on) || (on & ~1LL)) {
        rcache__reply_error(c, "ERR bit is not an integer or out of range");
        return;
    }
    if (!rcache__key_ok(c, &argv[1]))
        return;
    setbit_ctx_t s = {off, (int)on, 0, 0, 0, 0};
    int rc = rcache_update(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), setbit_cb, &s);
    if (rc == RCACHE_OK && s.wrote) { /* Redis 7.0's events */
        if (s.created)
            rcache__notify(RCACHE__NOTIFY_NEW, "new", argv[1].ptr, argv[1].len);
        rcache__notify(RCACHE__NOTIFY_STRING, "setbit", argv[1].ptr, argv[1].len);
    }
    if (rc != RCACHE_OK)
        rcache__reply_lib_error(c, rc);
    else
        rcache__reply_int(c, s.old);
}

/* The value of key (a reference the caller releases), or NULL when the key
 * does not exist ("keymiss", as Redis's lookupKeyRead); *len gets its
 * length (0 if none). */
static rcache_ref_t *value_of(rcache__client_t *c, const rcache__arg_t *key,
                              const unsigned char **p, size_t *len) {
    rcache_ref_t *ref = NULL;
    *p = NULL;
    *len = 0;
    if (!rcache__key_valid(key) ||
        rcache_get_ref(RCACHE__CACHE(c), RCACHE__KEY(*key), &ref) != RCACHE_OK) {
        rcache__notify(RCACHE__NOTIFY_KEY_MISS, "keymiss", key->ptr, key->len);
        return NULL;
    }
    *p = rcache_ref_value(ref, len);
    return ref;
}

void rcache__cmd_getbit(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    uint64_t off;
    if (!rcache__bit_offset(c, &argv[2], 0, &off))
        return;
    const unsigned char *p;
    size_t len;
    rcache_ref_t *ref = value_of(c, &argv[1], &p, &len);
    uint64_t byte = off >> 3;
    int bit = p && byte < len ? (p[byte] >> (7 - (off & 7))) & 1 : 0;
    rcache_release(ref);
    rcache__reply_int(c, bit);
}

/* ---- BITCOUNT / BITPOS ----------------------------------------------- */

static long long popcount(const unsigned char *p, size_t n) {
    long long count = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        count += __builtin_popcountll(w);
    }
    for (; i < n; i++)
        count += __builtin_popcount(p[i]);
    return count;
}

/* A start/end range as Redis resolves it over a string of len bytes (or
 * len * 8 bits): after it, when start <= end, start and end are byte
 * indexes and the masks select the bits of the edge bytes that lie outside
 * the range (BIT unit). */
typedef struct range {
    long long start, end;
    unsigned first_mask, last_mask;
} range_t;

static void resolve_range(range_t *r, long long len, int isbit) {
    long long total = isbit ? len * 8 : len;
    if (r->start < 0)
        r->start += total;
    if (r->end < 0)
        r->end += total;
    if (r->start < 0)
        r->start = 0;
    if (r->end < 0)
        r->end = 0;
    if (r->end >= total)
        r->end = total - 1;
    r->first_mask = r->last_mask = 0;
    if (isbit && r->start <= r->end) {
        r->first_mask = ~((1u << (8 - (r->start & 7))) - 1) & 0xFFu;
        r->last_mask = (1u << (7 - (r->end & 7))) - 1;
        r->start >>= 3;
        r->end >>= 3;
    }
}

/* BYTE or BIT (1), else -1 after a syntax error reply. */
static int parse_unit(rcache__client_t *c, const rcache__arg_t *a) {
    if (rcache__arg_is(a, "bit"))
        return 1;
    if (rcache__arg_is(a, "byte"))
        return 0;
    rcache__reply_syntax_error(c);
    return -1;
}

static void bitcount_range(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                           const unsigned char *p, size_t len) {
    range_t r = {0, (long long)len - 1, 0, 0};
    int isbit = 0;
    if (argc == 4 || argc == 5) {
        if (!rcache__str2ll(argv[2].ptr, argv[2].len, &r.start) ||
            !rcache__str2ll(argv[3].ptr, argv[3].len, &r.end)) {
            rcache__reply_not_int(c);
            return;
        }
        if (r.start < 0 && r.end < 0 && r.start > r.end) { /* before the unit */
            rcache__reply_int(c, 0);
            return;
        }
        if (argc == 5 && (isbit = parse_unit(c, &argv[4])) < 0)
            return;
        resolve_range(&r, (long long)len, isbit);
    } else if (argc != 2) {
        rcache__reply_syntax_error(c);
        return;
    }
    if (r.start > r.end) {
        rcache__reply_int(c, 0);
        return;
    }
    long long n = popcount(p + r.start, (size_t)(r.end - r.start + 1));
    unsigned char edges[2] = {0, 0};
    if (r.first_mask)
        edges[0] = p[r.start] & r.first_mask;
    if (r.last_mask)
        edges[1] = p[r.end] & r.last_mask;
    rcache__reply_int(c, n - popcount(edges, 2));
}

void rcache__cmd_bitcount(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const unsigned char *p;
    size_t len;
    rcache_ref_t *ref = value_of(c, &argv[1], &p, &len);
    if (!ref) { /* Redis 7.0 looks the key up before parsing the range */
        rcache__reply_int(c, 0);
        return;
    }
    bitcount_range(c, argc, argv, p, len);
    rcache_release(ref);
}

/* Position of the first bit equal to bit in p[0..n), or -1 for a 1 not
 * found, n * 8 for a 0 not found (Redis's redisBitpos()). */
static long long first_bit(const unsigned char *p, size_t n, int bit) {
    unsigned char skip = bit ? 0x00 : 0xFF;
    size_t i = 0;
    while (i < n && p[i] == skip)
        i++;
    if (i == n)
        return bit ? -1 : (long long)n * 8;
    unsigned char b = p[i];
    for (int k = 7; k >= 0; k--)
        if (((b >> k) & 1) == bit)
            return (long long)i * 8 + (7 - k);
    return -1; /* unreachable */
}

/* The search of BITPOS over the resolved range r (start <= end). */
static long long bitpos_search(const unsigned char *p, range_t *r, int bit, int end_given) {
    long long start = r->start, bytes = r->end - r->start + 1, pos;
    unsigned char one;
    if (r->first_mask) {
        one = bit ? p[start] & ~r->first_mask : p[start] | r->first_mask;
        if (r->last_mask && bytes == 1)
            one = bit ? one & ~r->last_mask : one | r->last_mask;
        pos = first_bit(&one, 1, bit);
        if (bytes == 1 || (pos != -1 && pos != 8))
            goto done;
        start++;
        bytes--;
    }
    long long mid = bytes - (r->last_mask ? 1 : 0);
    if (mid > 0) {
        pos = first_bit(p + start, (size_t)mid, bit);
        if (bytes == mid || (pos != -1 && pos != mid * 8))
            goto done;
        start += mid;
        bytes -= mid;
    }
    one = bit ? p[r->end] & ~r->last_mask : p[r->end] | r->last_mask;
    pos = first_bit(&one, 1, bit);
done:
    if (end_given && bit == 0 && pos == bytes * 8)
        return -1; /* no 0 inside an explicit range */
    return pos == -1 ? -1 : pos + start * 8;
}

void rcache__cmd_bitpos(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long bit;
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &bit)) {
        rcache__reply_not_int(c);
        return;
    }
    if (bit != 0 && bit != 1) {
        rcache__reply_error(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    const unsigned char *p;
    size_t len;
    rcache_ref_t *ref = value_of(c, &argv[1], &p, &len);
    if (!ref) { /* an endless run of 0 bits */
        rcache__reply_int(c, bit ? -1 : 0);
        return;
    }
    range_t r = {0, (long long)len - 1, 0, 0};
    int isbit = 0, end_given = 0;
    if (argc >= 4 && argc <= 6) {
        if (!rcache__str2ll(argv[3].ptr, argv[3].len, &r.start))
            goto not_int;
        if (argc == 6 && (isbit = parse_unit(c, &argv[5])) < 0)
            goto out;
        if (argc >= 5) {
            if (!rcache__str2ll(argv[4].ptr, argv[4].len, &r.end))
                goto not_int;
            end_given = 1;
        } else {
            r.end = isbit ? (long long)len * 8 + 7 : (long long)len - 1;
        }
        resolve_range(&r, (long long)len, isbit);
    } else if (argc != 3) {
        rcache__reply_syntax_error(c);
        goto out;
    }
    rcache__reply_int(c, r.start > r.end ? -1 : bitpos_search(p, &r, (int)bit, end_given));
    goto out;
not_int:
    rcache__reply_not_int(c);
out:
    rcache_release(ref);
}

/* ---- BITOP ----------------------------------------------------------- */

enum { OP_AND, OP_OR, OP_XOR, OP_NOT };

/* Byte i of source k, zero past its end (or when it does not exist). */
static unsigned char src_byte(const unsigned char *const *src, const size_t *len, size_t k,
                              size_t i) {
    return src[k] && i < len[k] ? src[k][i] : 0;
}

static void bitop_compute(int op, size_t n, const unsigned char *const *src,
                          const size_t *len, unsigned char *out, size_t maxlen) {
    for (size_t i = 0; i < maxlen; i++) {
        unsigned char acc = src_byte(src, len, 0, i);
        if (op == OP_NOT) {
            out[i] = (unsigned char)~acc;
            continue;
        }
        for (size_t k = 1; k < n; k++) {
            unsigned char b = src_byte(src, len, k, i);
            acc = op == OP_AND ? acc & b : op == OP_OR ? acc | b : acc ^ b;
        }
        out[i] = acc;
    }
}

/* Store (or, when empty, delete) the BITOP result and reply its length,
 * with Redis 7.0's events: "new" (key created) and "set", or "del" when
 * an empty result removed an existing key. */
static void bitop_store(rcache__client_t *c, const rcache__arg_t *dest,
                        const unsigned char *res, size_t maxlen) {
    int rc = RCACHE_OK;
    if (maxlen == 0) {
        if (rcache_delete(RCACHE__CACHE(c), RCACHE__KEY(*dest)) == RCACHE_OK)
            rcache__notify(RCACHE__NOTIFY_GENERIC, "del", dest->ptr, dest->len);
    } else {
        rcache_set_opts_t o = {.ttl_ms = RCACHE_TTL_DEFAULT};
        rcache_ref_t *old = NULL;
        int want_old = rcache__notify_wanted(RCACHE__NOTIFY_NEW);
        rc = rcache_set_ex(RCACHE__CACHE(c), RCACHE__KEY(*dest), res, maxlen, &o,
                           want_old ? &old : NULL);
        if (rc == RCACHE_OK) {
            if (want_old && !old)
                rcache__notify(RCACHE__NOTIFY_NEW, "new", dest->ptr, dest->len);
            rcache__notify(RCACHE__NOTIFY_STRING, "set", dest->ptr, dest->len);
        }
        rcache_release(old);
    }
    if (rc != RCACHE_OK)
        rcache__reply_lib_error(c, rc);
    else
        rcache__reply_int(c, (long long)maxlen);
}

void rcache__cmd_bitop(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    int op = rcache__arg_is(&argv[1], "and")   ? OP_AND
             : rcache__arg_is(&argv[1], "or")  ? OP_OR
             : rcache__arg_is(&argv[1], "xor") ? OP_XOR
             : rcache__arg_is(&argv[1], "not") ? OP_NOT
                                               : -1;
    if (op < 0) {
        rcache__reply_syntax_error(c);
        return;
    }
    size_t n = argc - 3;
    if (op == OP_NOT && n != 1) {
        rcache__reply_error(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    if (!rcache__key_ok(c, &argv[2]))
        return;
    rcache_ref_t **refs = calloc(n, sizeof(rcache_ref_t *));
    const unsigned char **src = calloc(n, sizeof(const unsigned char *));
    size_t *len = calloc(n, sizeof *len);
    unsigned char *res = NULL;
    size_t maxlen = 0;
    if (!refs || !src || !len)
        goto nomem;
    for (size_t k = 0; k < n; k++) {
        refs[k] = value_of(c, &argv[3 + k], &src[k], &len[k]);
        if (len[k] > maxlen)
            maxlen = len[k];
    }
    if (maxlen && !(res = malloc(maxlen)))
        goto nomem;
    bitop_compute(op, n, src, len, res, maxlen);
    for (size_t k = 0; k < n; k++) /* before the store: a source may be dest */
        rcache_release(refs[k]);
    bitop_store(c, &argv[2], res, maxlen);
    goto out;
nomem:
    for (size_t k = 0; refs && k < n; k++)
        rcache_release(refs[k]);
    rcache__reply_lib_error(c, RCACHE_ENOMEM);
out:
    free(res);
    free(refs);
    free(src);
    free(len);
}
