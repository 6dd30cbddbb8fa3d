/*
 * commands_ttl.c - key expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with
 * NX/XX/GT/LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME and PERSIST.
 *
 * The conditional forms compare against the key's current TTL and change
 * it in one rcache_update() callback, so the check and the change are
 * atomic, and all of it uses the one time the library read under the lock
 * (u->now_ms). A time at or before now deletes the key, as in Redis.
 * Absolute times arrive and leave in wall time; the cache keeps them on its
 * own clock (rcache__wall_to_cache_ms / rcache__cache_to_wall_ms).
 * Keyspace events as Redis 7.0: "expire" (or "del" when the time is past),
 * "persist", and "keymiss" for the reads of a missing key.
 */
#include "keyargs.h"
#include "notify.h"

#include <limits.h>
#include <string.h>

#define EXP_NX 1
#define EXP_XX 2
#define EXP_GT 4
#define EXP_LT 8

typedef struct expire_ctx {
    long long when;  /* relative ms, or absolute ms on the cache clock */
    int relative;
    int flags;
    int result;
} expire_ctx_t;

static int expire_cb(rcache_update_t *u, void *arg) {
    expire_ctx_t *x = arg;
    x->result = 0;
    if (!u->found)
        return RCACHE_UPDATE_KEEP;
    long long now = (long long)u->now_ms, when = x->when;
    if (x->relative && __builtin_add_overflow(now, x->when, &when))
        when = LLONG_MAX;
    /* found: old_ttl_ms is -1 (no expiry) or >= 1, never "expired" */
    long long cur = u->old_ttl_ms < 0 ? -1 : now + u->old_ttl_ms;
    if ((x->flags & EXP_NX) && cur != -1)
        return RCACHE_UPDATE_KEEP;
    if ((x->flags & EXP_XX) && cur == -1)
        return RCACHE_UPDATE_KEEP;
    if ((x->flags & EXP_GT) && (cur == -1 || when <= cur))
        return RCACHE_UPDATE_KEEP;
    if ((x->flags & EXP_LT) && cur != -1 && when >= cur)
        return RCACHE_UPDATE_KEEP;
    x->result = 1;
    if (when <= now) {
        x->result = 2; /* deleted */
        return RCACHE_UPDATE_DELETE;
    }
    u->expire_at_ms = (uint64_t)when;
    return RCACHE_UPDATE_TTL;
}

static void expire_generic(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                           int relative, int secs, const char *name) {
    int flags = 0;
    for (size_t i = 3; i < argc; i++) {
        if (rcache__arg_is(&argv[i], "nx"))
            flags |= EXP_NX;
        else if (rcache__arg_is(&argv[i], "xx"))
            flags |= EXP_XX;
        else if (rcache__arg_is(&argv[i], "gt"))
            flags |= EXP_GT;
        else if (rcache__arg_is(&argv[i], "lt"))
            flags |= EXP_LT;
        else {
            rcache__reply_errorf(c, "ERR Unsupported option %.*s",
                                 (int)(argv[i].len > 128 ? 128 : argv[i].len), argv[i].ptr);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        rcache__reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        rcache__reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    long long when;
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &when)) {
        rcache__reply_not_int(c);
        return;
    }
    if (secs) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            rcache__reply_errorf(c, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when *= 1000;
    }
    if (relative) {
        long long now = (long long)rcache_now_ms(RCACHE__CACHE(c));
        if (when > LLONG_MAX - now) { /* as Redis: the sum must fit */
            rcache__reply_errorf(c, "ERR invalid expire time in '%s' command", name);
            return;
        }
    } else {
        when = rcache__wall_to_cache_ms(c, when);
    }
    if (!rcache__key_valid(&argv[1])) {
        rcache__reply_int(c, 0);
        return;
    }
    expire_ctx_t x = {when, relative, flags, 0};
    int rc = rcache_update(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), expire_cb, &x);
    if (rc == RCACHE_OK && x.result)
        rcache__notify(RCACHE__NOTIFY_GENERIC, x.result == 2 ? "del" : "expire", argv[1].ptr,
                       argv[1].len);
    if (rc != RCACHE_OK)
        rcache__reply_lib_error(c, rc);
    else
        rcache__reply_int(c, x.result != 0);
}

void rcache__cmd_expire(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    expire_generic(c, argc, argv, 1, 1, "expire");
}
void rcache__cmd_pexpire(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    expire_generic(c, argc, argv, 1, 0, "pexpire");
}
void rcache__cmd_expireat(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    expire_generic(c, argc, argv, 0, 1, "expireat");
}
void rcache__cmd_pexpireat(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    expire_generic(c, argc, argv, 0, 0, "pexpireat");
}

/* mode: 0 TTL (s), 1 PTTL (ms), 2 EXPIRETIME (s), 3 PEXPIRETIME (ms).
 * EXPIRETIME is the stored expiry itself (entry info), turned into wall
 * time: no second clock reading, no sum that can overflow. */
static void ttl_generic(rcache__client_t *c, const rcache__arg_t *key, int mode) {
    int64_t ttl = 0;
    rcache_entry_info_t info;
    int rc;
    if (!rcache__key_valid(key)) {
        rcache__reply_int(c, -2);
        return;
    }
    if (mode >= 2) {
        rc = rcache_entry_info(RCACHE__CACHE(c), RCACHE__KEY(*key), &info);
        ttl = info.ttl_ms;
    } else {
        rc = rcache_ttl(RCACHE__CACHE(c), RCACHE__KEY(*key), &ttl);
    }
    if (rc != RCACHE_OK) {
        rcache__notify(RCACHE__NOTIFY_KEY_MISS, "keymiss", key->ptr, key->len);
        rcache__reply_int(c, -2);
        return;
    }
    if (ttl < 0) {
        rcache__reply_int(c, -1);
        return;
    }
    long long v = mode >= 2 ? rcache__cache_to_wall_ms(c, info.expire_at_ms) : ttl;
    if (mode == 0 || mode == 2)
        v = v / 1000 + (v % 1000 >= 500); /* rounded, without v + 500 */
    rcache__reply_int(c, v);
}

void rcache__cmd_ttl(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    ttl_generic(c, &argv[1], 0);
}
void rcache__cmd_pttl(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    ttl_generic(c, &argv[1], 1);
}
void rcache__cmd_expiretime(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    ttl_generic(c, &argv[1], 2);
}
void rcache__cmd_pexpiretime(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    ttl_generic(c, &argv[1], 3);
}

static int persist_cb(rcache_update_t *u, void *arg) {
    int *result = arg;
    *result = 0;
    if (!u->found || u->old_ttl_ms < 0)
        return RCACHE_UPDATE_KEEP;
    *result = 1;
    u->ttl_ms = 0;
    u->expire_at_ms = 0;
    return RCACHE_UPDATE_TTL;
}

void rcache__cmd_persist(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    int result = 0;
    (void)argc;
    if (!rcache__key_valid(&argv[1])) {
        rcache__reply_int(c, 0);
        return;
    }
    int rc = rcache_update(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), persist_cb, &result);
    if (rc == RCACHE_OK && result)
        rcache__notify(RCACHE__NOTIFY_GENERIC, "persist", argv[1].ptr, argv[1].len);
    if (rc != RCACHE_OK)
        rcache__reply_lib_error(c, rc);
    else
        rcache__reply_int(c, result);
}
