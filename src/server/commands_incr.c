/*
 * commands_incr.c - INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT.
 *
 * Values are stored as decimal text, like Redis, so GET and APPEND see
 * what Redis clients expect. The arithmetic runs inside rcache_update()'s
 * callback (under the shard lock) so concurrent increments never lose an
 * update; the callback only parses, adds and formats into a stack buffer.
 * The key keeps its TTL, as in Redis.
 */
#include "keyargs.h"
#include "notify.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define E_NOTINT (RCACHE_EUSER - 1)
#define E_OVERFLOW (RCACHE_EUSER - 2)
#define E_NOTFLOAT (RCACHE_EUSER - 3)
#define E_NANINF (RCACHE_EUSER - 4)

typedef struct incr_ctx {
    long long by;
    long double fby;
    int is_float;
    char out[5200];
    size_t out_len;
    long long result;
    int found; /* the key existed ("new" event otherwise) */
} incr_ctx_t;

static int incr_cb(rcache_update_t *u, void *arg) {
    incr_ctx_t *x = arg;
    x->found = u->found;
    if (!x->is_float) {
        long long old = 0;
        if (u->found && !rcache__str2ll(u->old_val, u->old_len, &old))
            return E_NOTINT;
        if ((x->by < 0 && old < 0 && x->by < LLONG_MIN - old) ||
            (x->by > 0 && old > 0 && x->by > LLONG_MAX - old))
            return E_OVERFLOW;
        x->result = old + x->by;
        char buf[32];
        size_t n = 0;
        unsigned long long v = x->result < 0 ? 0ull - (unsigned long long)x->result
                                             : (unsigned long long)x->result;
        do {
            buf[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        if (x->result < 0)
            buf[n++] = '-';
        for (size_t i = 0; i < n; i++)
            x->out[i] = buf[n - 1 - i];
        x->out_len = n;
    } else {
        long double old = 0;
        if (u->found && !rcache__str2ld(u->old_val, u->old_len, &old))
            return E_NOTFLOAT;
        long double r = old + x->fby;
        if (isnan(r) || isinf(r))
            return E_NANINF;
        x->out_len = rcache__ld2str(x->out, sizeof x->out, r);
        if (x->out_len == 0)
            return E_NANINF;
    }
    u->new_val = x->out;
    u->new_len = x->out_len;
    u->ttl_ms = u->found ? RCACHE_TTL_KEEP : RCACHE_TTL_DEFAULT;
    return RCACHE_UPDATE_STORE;
}

static void run(rcache__client_t *c, const rcache__arg_t *key, incr_ctx_t *x) {
    if (!rcache__key_ok(c, key))
        return;
    int rc = rcache_update(RCACHE__CACHE(c), RCACHE__KEY(*key), incr_cb, x);
    if (rc == RCACHE_OK) { /* Redis 7.0's events: "new" for a new key, then these */
        if (!x->found)
            rcache__notify(RCACHE__NOTIFY_NEW, "new", key->ptr, key->len);
        rcache__notify(RCACHE__NOTIFY_STRING, x->is_float ? "incrbyfloat" : "incrby",
                       key->ptr, key->len);
    }
    switch (rc) {
    case RCACHE_OK:
        if (x->is_float)
            rcache__reply_bulk(c, x->out, x->out_len);
        else
            rcache__reply_int(c, x->result);
        break;
    case E_NOTINT:
        rcache__reply_not_int(c);
        break;
    case E_OVERFLOW:
        rcache__reply_error(c, "ERR increment or decrement would overflow");
        break;
    case E_NOTFLOAT:
        rcache__reply_error(c, "ERR value is not a valid float");
        break;
    case E_NANINF:
        rcache__reply_error(c, "ERR increment would produce NaN or Infinity");
        break;
    default:
        rcache__reply_lib_error(c, rc);
    }
}

static void incr_by(rcache__client_t *c, const rcache__arg_t *key, long long by) {
    incr_ctx_t x;
    x.by = by;
    x.is_float = 0;
    run(c, key, &x);
}

void rcache__cmd_incr(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    incr_by(c, &argv[1], 1);
}

void rcache__cmd_decr(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    incr_by(c, &argv[1], -1);
}

void rcache__cmd_incrby(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long by;
    (void)argc;
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &by)) {
        rcache__reply_not_int(c);
        return;
    }
    incr_by(c, &argv[1], by);
}

void rcache__cmd_decrby(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long by;
    (void)argc;
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &by)) {
        rcache__reply_not_int(c);
        return;
    }
    if (by == LLONG_MIN) {
        rcache__reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_by(c, &argv[1], -by);
}

void rcache__cmd_incrbyfloat(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    incr_ctx_t x;
    (void)argc;
    if (!rcache__str2ld(argv[2].ptr, argv[2].len, &x.fby)) {
        rcache__reply_error(c, "ERR value is not a valid float");
        return;
    }
    x.is_float = 1;
    run(c, &argv[1], &x);
}
