/*
 * keyargs.h - helpers shared by the key-taking command files: the cache
 * handle of a client, and the check that a key is one librcache accepts
 * (1..RCACHE_MAX_KEY_LEN bytes; Redis also allows the empty key, rcached
 * does not - see docs/SERVER.md).
 */
#ifndef RCACHE_SERVER_KEYARGS_H
#define RCACHE_SERVER_KEYARGS_H

#include "command.h"

#include <limits.h>

#define RCACHE__CACHE(c) ((c)->srv->cache)
#define RCACHE__KEY(a) (a).ptr, (a).len
/* Largest string value, as Redis's proto-max-bulk-len. */
#define RCACHE__MAX_STRING (512ull * 1024 * 1024)

/* For commands that write: 1 if the key is usable, else replies an error
 * and returns 0. */
static inline int rcache__key_ok(rcache__client_t *c, const rcache__arg_t *k) {
    if (k->len == 0) {
        rcache__reply_error(c, "ERR empty keys are not supported by rcached");
        return 0;
    }
    if (k->len > RCACHE_MAX_KEY_LEN) {
        rcache__reply_error(c, "ERR key is too long for rcached");
        return 0;
    }
    return 1;
}

/* For commands that only read: an unusable key simply does not exist. */
static inline int rcache__key_valid(const rcache__arg_t *k) {
    return k->len > 0 && k->len <= RCACHE_MAX_KEY_LEN;
}

/* Parse the expire-time arguments shared by SET and GETEX. */
typedef struct rcache__expire_opt {
    int kind;        /* 0 none, 1 relative ms, 2 absolute ms, 3 keepttl, 4 persist */
    long long ms;    /* relative ms, or absolute ms on the cache clock */
} rcache__expire_opt_t;

/* Absolute times: clients speak wall time (EXAT, PXAT, EXPIREAT,
 * EXPIRETIME), the cache keeps expiry on its own monotonic clock (see
 * rcache_wall_offset_ms). Both conversions saturate. */
static inline long long rcache__wall_to_cache_ms(rcache__client_t *c, long long wall_ms) {
    long long at;
    if (__builtin_sub_overflow(wall_ms, (long long)rcache_wall_offset_ms(RCACHE__CACHE(c)),
                               &at))
        at = wall_ms < 0 ? LLONG_MIN : LLONG_MAX;
    return at;
}
static inline long long rcache__cache_to_wall_ms(rcache__client_t *c, uint64_t at_ms) {
    long long wall, at = at_ms > (uint64_t)LLONG_MAX ? LLONG_MAX : (long long)at_ms;
    if (__builtin_add_overflow(at, (long long)rcache_wall_offset_ms(RCACHE__CACHE(c)), &wall))
        wall = LLONG_MAX;
    return wall;
}

#endif /* RCACHE_SERVER_KEYARGS_H */
