/*
 * commands_bitfield.c - BITFIELD and BITFIELD_RO: GET, SET and INCRBY of
 * signed (i1..i64) and unsigned (u1..u63) integers at any bit offset
 * ("#N" = N fields of the type's width), OVERFLOW WRAP|SAT|FAIL, with
 * Redis 7.0's parsing order, overflow arithmetic and error texts.
 *
 * Why one update callback for the whole command: BITFIELD is atomic in
 * Redis (several SET/INCRBY on one key, each seeing the previous). The
 * arguments fix which bytes the writes can touch (the span from the lowest
 * to the highest written byte), so that span is copied out of the old
 * value into a buffer allocated beforehand, every operation runs on it
 * under the key's lock, and the library splices the span back into the
 * entry: the rest of the value is never copied here, and the value grows
 * with zeros to the highest written byte as Redis's does.
 */
#include "bits.h"
#include "keyargs.h"
#include "notify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { BF_GET, BF_SET, BF_INCRBY };
enum { OV_WRAP, OV_SAT, OV_FAIL };

typedef struct bf_op {
    uint64_t offset;
    long long i64;
    int opcode, overflow, bits, sign;
    /* result */
    int is_null;
    long long value;
} bf_op_t;

typedef struct bf_ctx {
    bf_op_t *ops;
    size_t nops;
    uint64_t lo, hi;     /* bytes the writes span (when any) */
    unsigned char *span; /* hi - lo + 1 bytes */
    const unsigned char *old;
    size_t old_len;
    size_t changes;      /* SET/INCRBY ops that changed bits or the key */
    int created;         /* the key did not exist */
    int dirty;           /* created or grown (Redis's lookupStringForBitCommand) */
} bf_ctx_t;

#define ERR_TYPE "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."

/* ---- parsing ---------------------------------------------------------- */

static int parse_type(rcache__client_t *c, const rcache__arg_t *a, int *sign, int *bits) {
    long long b;
    if (a->len < 1 || (a->ptr[0] != 'i' && a->ptr[0] != 'u') ||
        !rcache__str2ll(a->ptr + 1, a->len - 1, &b) || b < 1 ||
        (a->ptr[0] == 'i' && b > 64) || (a->ptr[0] == 'u' && b > 63)) {
        rcache__reply_error(c, ERR_TYPE);
        return 0;
    }
    *sign = a->ptr[0] == 'i';
    *bits = (int)b;
    return 1;
}

/* Parse the operations into ctx (Redis's order of checks); 0 after an
 * error reply. *writes gets 1 when any SET or INCRBY is present. */
static int parse_ops(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                     bf_ctx_t *x, int *writes) {
    int ov = OV_WRAP;
    *writes = 0;
    for (size_t j = 2; j < argc; j++) {
        size_t rem = argc - j - 1;
        bf_op_t op = {0};
        if (rcache__arg_is(&argv[j], "get") && rem >= 2) {
            op.opcode = BF_GET;
        } else if (rcache__arg_is(&argv[j], "set") && rem >= 3) {
            op.opcode = BF_SET;
        } else if (rcache__arg_is(&argv[j], "incrby") && rem >= 3) {
            op.opcode = BF_INCRBY;
        } else if (rcache__arg_is(&argv[j], "overflow") && rem >= 1) {
            const rcache__arg_t *t = &argv[++j];
            if (rcache__arg_is(t, "wrap")) {
                ov = OV_WRAP;
            } else if (rcache__arg_is(t, "sat")) {
                ov = OV_SAT;
            } else if (rcache__arg_is(t, "fail")) {
                ov = OV_FAIL;
            } else {
                rcache__reply_error(c, "ERR Invalid OVERFLOW type specified");
                return 0;
            }
            continue;
        } else {
            rcache__reply_syntax_error(c);
            return 0;
        }
        if (!parse_type(c, &argv[j + 1], &op.sign, &op.bits) ||
            !rcache__bit_offset(c, &argv[j + 2], op.bits, &op.offset))
            return 0;
        if (op.opcode != BF_GET) {
            uint64_t first = op.offset >> 3, last = (op.offset + (uint64_t)op.bits - 1) >> 3;
            if (!*writes || first < x->lo)
                x->lo = first;
            if (!*writes || last > x->hi)
                x->hi = last;
            *writes = 1;
            if (!rcache__str2ll(argv[j + 3].ptr, argv[j + 3].len, &op.i64)) {
                rcache__reply_not_int(c);
                return 0;
            }
        }
        op.overflow = ov;
        x->ops[x->nops++] = op;
        j += op.opcode == BF_GET ? 2 : 3;
    }
    return 1;
}

/* ---- bit arithmetic ----------------------------------------------------- */

/* Byte i of the value as the operations see it: the write span, then the
 * old value, then zeros. */
static unsigned char byte_at(const bf_ctx_t *x, uint64_t i) {
    if (x->span && i >= x->lo && i <= x->hi)
        return x->span[i - x->lo];
    return i < x->old_len ? x->old[i] : 0;
}

static uint64_t get_bits(const bf_ctx_t *x, uint64_t offset, int bits) {
    uint64_t v = 0;
    for (int j = 0; j < bits; j++) {
        uint64_t o = offset + (uint64_t)j;
        v = v << 1 | (uint64_t)((byte_at(x, o >> 3) >> (7 - (o & 7))) & 1);
    }
    return v;
}

static void set_bits(bf_ctx_t *x, uint64_t offset, int bits, uint64_t v) {
    for (int j = 0; j < bits; j++) {
        uint64_t o = offset + (uint64_t)j;
        unsigned bit = (unsigned)(v >> (bits - 1 - j)) & 1u;
        unsigned char *b = &x->span[(o >> 3) - x->lo];
        unsigned shift = 7u - (unsigned)(o & 7);
        *b = (unsigned char)((*b & ~(1u << shift)) | (bit << shift));
    }
}

static int64_t sign_extend(uint64_t v, int bits) {
    if (bits < 64 && (v >> (bits - 1)) & 1)
        v |= ~(uint64_t)0 << bits;
    return (int64_t)v;
}

/* Redis's overflow rules: 0 no overflow, else 1/-1 with *limit the
 * wrapped or saturated value (for FAIL it is unused). */
static int overflow_u(uint64_t value, int64_t incr, int bits, int ov, uint64_t *limit) {
    uint64_t max = bits == 64 ? UINT64_MAX : (((uint64_t)1 << bits) - 1);
    int64_t maxincr = (int64_t)(max - value), minincr = (int64_t)(0 - value);
    int r = 0;
    if (value > max || (incr > 0 && incr > maxincr))
        r = 1;
    else if (incr < 0 && incr < minincr)
        r = -1;
    if (r && ov == OV_WRAP)
        *limit = (value + (uint64_t)incr) & max;
    else if (r && ov == OV_SAT)
        *limit = r > 0 ? max : 0;
    return r;
}

static int overflow_i(int64_t value, int64_t incr, int bits, int ov, int64_t *limit) {
    int64_t max = bits == 64 ? INT64_MAX : (((int64_t)1 << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
    int r = 0;
    if (value > max || (bits != 64 && incr > maxincr) ||
        (value >= 0 && incr > 0 && incr > maxincr))
        r = 1;
    else if (value < min || (bits != 64 && incr < minincr) ||
             (value < 0 && incr < 0 && incr < minincr))
        r = -1;
    if (r && ov == OV_WRAP) {
        uint64_t s = (uint64_t)value + (uint64_t)incr;
        if (bits < 64) {
            uint64_t mask = ~(uint64_t)0 << bits;
            s = (s & ((uint64_t)1 << (bits - 1))) ? s | mask : s & ~mask;
        }
        *limit = (int64_t)s;
    } else if (r && ov == OV_SAT) {
        *limit = r > 0 ? max : min;
    }
    return r;
}

/* One SET or INCRBY on the span. */
static void run_write(bf_ctx_t *x, bf_op_t *op) {
    uint64_t raw = get_bits(x, op->offset, op->bits);
    uint64_t nv;
    int over;
    if (op->sign) {
        int64_t old = sign_extend(raw, op->bits), lim = 0, v;
        if (op->opcode == BF_INCRBY) {
            over = overflow_i(old, op->i64, op->bits, op->overflow, &lim);
            v = over ? lim : (int64_t)((uint64_t)old + (uint64_t)op->i64);
            op->value = v;
        } else {
            over = overflow_i(op->i64, 0, op->bits, op->overflow, &lim);
            v = over ? lim : op->i64;
            op->value = old;
        }
        nv = (uint64_t)v;
    } else {
        uint64_t lim = 0;
        if (op->opcode == BF_INCRBY) {
            over = overflow_u(raw, op->i64, op->bits, op->overflow, &lim);
            nv = over ? lim : raw + (uint64_t)op->i64;
            op->value = (long long)nv;
        } else {
            over = overflow_u((uint64_t)op->i64, 0, op->bits, op->overflow, &lim);
            nv = over ? lim : (uint64_t)op->i64;
            op->value = (long long)raw;
        }
    }
    if (over && op->overflow == OV_FAIL) {
        op->is_null = 1;
        return;
    }
    set_bits(x, op->offset, op->bits, nv);
    if (x->dirty || get_bits(x, op->offset, op->bits) != raw)
        x->changes++; /* Redis 7.0: "setbit" only when something changed */
}

static void run_ops(bf_ctx_t *x) {
    for (size_t i = 0; i < x->nops; i++) {
        bf_op_t *op = &x->ops[i];
        if (op->opcode != BF_GET) {
            run_write(x, op);
            continue;
        }
        uint64_t raw = get_bits(x, op->offset, op->bits);
        op->value = op->sign ? sign_extend(raw, op->bits) : (long long)raw;
    }
}

/* The update callback of a BITFIELD with writes. */
static int bitfield_cb(rcache_update_t *u, void *arg) {
    bf_ctx_t *x = arg;
    x->old = u->found ? u->old_val : NULL;
    x->old_len = u->found ? u->old_len : 0;
    x->changes = 0; /* counted afresh if the library calls again */
    x->created = !u->found;
    x->dirty = !u->found || x->hi >= x->old_len;
    if (x->hi >= u->max_new_len)
        return RCACHE_ETOOBIG;
    size_t n = (size_t)(x->hi - x->lo + 1);
    for (size_t i = 0; i < n; i++)
        x->span[i] = x->lo + i < x->old_len ? x->old[x->lo + i] : 0;
    run_ops(x);
    u->new_val = x->span;
    u->new_len = n;
    u->splice_offset = (size_t)x->lo;
    u->ttl_ms = u->found ? RCACHE_TTL_KEEP : RCACHE_TTL_DEFAULT;
    return RCACHE_UPDATE_SPLICE;
}

/* ---- the commands ----------------------------------------------------- */

static int run_read_only(rcache__client_t *c, const rcache__arg_t *key, bf_ctx_t *x) {
    rcache_ref_t *ref = NULL;
    if (rcache__key_valid(key) &&
        rcache_get_ref(RCACHE__CACHE(c), RCACHE__KEY(*key), &ref) == RCACHE_OK)
        x->old = rcache_ref_value(ref, &x->old_len);
    else /* Redis's lookupKeyRead: only GETs read the key */
        rcache__notify(RCACHE__NOTIFY_KEY_MISS, "keymiss", key->ptr, key->len);
    run_ops(x);
    rcache_release(ref);
    return RCACHE_OK;
}

static int run_writes(rcache__client_t *c, const rcache__arg_t *key, bf_ctx_t *x) {
    if (!rcache__key_ok(c, key))
        return 1;
    uint64_t n = x->hi - x->lo + 1;
    if (n > SIZE_MAX || !(x->span = malloc((size_t)n)))
        return RCACHE_ENOMEM;
    return rcache_update(RCACHE__CACHE(c), RCACHE__KEY(*key), bitfield_cb, x);
}

static void bitfield(rcache__client_t *c, size_t argc, const rcache__arg_t *argv, int ro) {
    bf_ctx_t x = {0};
    int writes;
    x.ops = malloc((argc / 2 + 1) * sizeof *x.ops);
    if (!x.ops) {
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
        return;
    }
    if (!parse_ops(c, argc, argv, &x, &writes))
        goto out;
    if (writes && ro) {
        rcache__reply_error(c, "ERR BITFIELD_RO only supports the GET subcommand");
        goto out;
    }
    int rc = writes ? run_writes(c, &argv[1], &x) : run_read_only(c, &argv[1], &x);
    if (rc == 1) /* the key error was sent */
        goto out;
    if (rc != RCACHE_OK) {
        rcache__reply_lib_error(c, rc);
        goto out;
    }
    /* Redis 7.0's events: "new" when the writes created the key (even
     * if every one failed its OVERFLOW FAIL), "setbit" when one applied */
    if (writes && x.created)
        rcache__notify(RCACHE__NOTIFY_NEW, "new", argv[1].ptr, argv[1].len);
    if (writes && x.changes)
        rcache__notify(RCACHE__NOTIFY_STRING, "setbit", argv[1].ptr, argv[1].len);
    rcache__reply_array(c, (long long)x.nops);
    for (size_t i = 0; i < x.nops; i++) {
        if (x.ops[i].is_null)
            rcache__reply_null(c);
        else
            rcache__reply_int(c, x.ops[i].value);
    }
out:
    free(x.span);
    free(x.ops);
}

void rcache__cmd_bitfield(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    bitfield(c, argc, argv, 0);
}

void rcache__cmd_bitfield_ro(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    bitfield(c, argc, argv, 1);
}
