/*
 * commands_strings.c - the string commands: GET, SET and its options,
 * GETEX, GETDEL, SETEX, PSETEX, SETNX, GETSET, MGET, MSET, MSETNX, STRLEN,
 * APPEND, GETRANGE and SETRANGE.
 *
 * Reads use rcache_get_ref() so large values go out without a copy
 * (reply.c). Read-modify-write commands run their logic in an
 * rcache_update() callback, which holds the shard lock: the callbacks here
 * only compute and copy, nothing else. SET ... GET uses rcache_set_ex()'s
 * old_out so the swap is atomic.
 *
 * Keyspace events (notify.h) are Redis 7.0's for each command: "new" for a
 * key created, then "set", "append", "setrange", "expire", "persist" or
 * "del" as redis-server emits them; "keymiss" for a read of a missing key.
 */
#include "keyargs.h"
#include "notify.h"
#include "node.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- GET / GETDEL / MGET / STRLEN ------------------------------------- */

static void note(int type, const char *event, const rcache__arg_t *key) {
    rcache__notify(type, event, key->ptr, key->len);
}

/* A read found no key: Redis's "keymiss" (class m). */
static void note_miss(int rc, const rcache__arg_t *key) {
    if (rc == RCACHE_ENOTFOUND)
        note(RCACHE__NOTIFY_KEY_MISS, "keymiss", key);
}

/* The value of a lookup's reference, nil when not found, else the error. */
static void reply_lookup(rcache__client_t *c, int rc, rcache_ref_t *ref) {
    if (rc == RCACHE_OK)
        rcache__reply_ref(c, ref);
    else if (rc == RCACHE_ENOTFOUND)
        rcache__reply_null(c);
    else
        rcache__reply_lib_error(c, rc);
}

static void reply_get(rcache__client_t *c, const rcache__arg_t *key) {
    rcache_ref_t *ref = NULL;
    if (!rcache__key_valid(key)) {
        rcache__reply_null(c);
        return;
    }
    int rc = rcache__node_get_ref(c, key, &ref);
    note_miss(rc, key);
    reply_lookup(c, rc, ref);
}

void rcache__cmd_get(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    reply_get(c, &argv[1]);
}

/* MGET looks its keys up 16 at a time with rcache_get_many_ref(), whose
 * lookups overlap their memory misses (about half the time a key of a
 * cache much larger than the CPU's: BENCHMARKS.md); with a second tier
 * each key goes through the tier, as GET's does. An unusable key (empty,
 * too long) is nil and no miss, as in GET. */
#define MGET_BATCH 16
void rcache__cmd_mget(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache__reply_array(c, (long long)(argc - 1));
    if (c->srv->tier) {
        for (size_t i = 1; i < argc; i++)
            reply_get(c, &argv[i]);
        return;
    }
    for (size_t at = 1; at < argc; at += MGET_BATCH) {
        const void *keys[MGET_BATCH];
        size_t lens[MGET_BATCH];
        rcache_ref_t *refs[MGET_BATCH];
        int rcs[MGET_BATCH];
        size_t m = argc - at < MGET_BATCH ? argc - at : MGET_BATCH;
        for (size_t i = 0; i < m; i++) {
            keys[i] = argv[at + i].ptr;
            lens[i] = argv[at + i].len;
        }
        /* cannot fail: the cache and every array are there */
        (void)rcache_get_many_ref(RCACHE__CACHE(c), m, keys, lens, refs, rcs);
        for (size_t i = 0; i < m; i++) {
            if (!rcache__key_valid(&argv[at + i])) {
                rcache__reply_null(c); /* refused by the library: no ref */
                continue;
            }
            note_miss(rcs[i], &argv[at + i]);
            reply_lookup(c, rcs[i], refs[i]);
        }
    }
}

void rcache__cmd_getdel(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache_ref_t *ref = NULL;
    (void)argc;
    if (!rcache__key_valid(&argv[1])) {
        rcache__reply_null(c);
        return;
    }
    int rc = rcache_take(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), &ref);
    note_miss(rc, &argv[1]);
    if (rc == RCACHE_OK)
        note(RCACHE__NOTIFY_GENERIC, "del", &argv[1]);
    reply_lookup(c, rc, ref);
}

void rcache__cmd_strlen(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache_entry_info_t info;
    (void)argc;
    int rc = rcache__key_valid(&argv[1])
                 ? rcache_entry_info(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), &info)
                 : RCACHE_ENOTFOUND;
    note_miss(rc, &argv[1]);
    rcache__reply_int(c, rc == RCACHE_OK ? (long long)info.value_len : 0);
}

/* ---- SET family -------------------------------------------------------- */

#define SET_NX 0x1u
#define SET_XX 0x2u
#define SET_GET 0x4u
#define SET_KEEPTTL 0x8u
#define SET_EX 0x10u
#define SET_PX 0x20u
#define SET_EXAT 0x40u
#define SET_PXAT 0x80u
#define SET_PERSIST 0x100u
#define SET_EXPIRE_ANY (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* Redis's parseExtendedStringArgumentsOrReply(). is_set: SET (else GETEX).
 * On success fills *flags and *exp (kind 0 none, 1 relative ms, 2 absolute
 * ms, 3 keepttl, 4 persist); on error replies and returns 0. */
static int parse_set_args(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                          size_t first, int is_set, const char *cmdname,
                          unsigned *flags, rcache__expire_opt_t *exp) {
    unsigned f = 0;
    const rcache__arg_t *expire = NULL;
    for (size_t j = first; j < argc; j++) {
        const rcache__arg_t *o = &argv[j];
        int has_next = j + 1 < argc;
        if (is_set && rcache__arg_is(o, "nx") && !(f & (SET_NX | SET_XX))) {
            f |= SET_NX;
        } else if (is_set && rcache__arg_is(o, "xx") && !(f & (SET_NX | SET_XX))) {
            f |= SET_XX;
        } else if (is_set && rcache__arg_is(o, "get") && !(f & SET_GET)) {
            f |= SET_GET;
        } else if (is_set && rcache__arg_is(o, "keepttl") &&
                   !(f & (SET_KEEPTTL | SET_EXPIRE_ANY))) {
            f |= SET_KEEPTTL;
        } else if (!is_set && rcache__arg_is(o, "persist") &&
                   !(f & (SET_PERSIST | SET_EXPIRE_ANY))) {
            f |= SET_PERSIST;
        } else if (has_next && !(f & (SET_KEEPTTL | SET_PERSIST | SET_EXPIRE_ANY)) &&
                   (rcache__arg_is(o, "ex") || rcache__arg_is(o, "px") ||
                    rcache__arg_is(o, "exat") || rcache__arg_is(o, "pxat"))) {
            f |= rcache__arg_is(o, "ex")     ? SET_EX
                 : rcache__arg_is(o, "px")   ? SET_PX
                 : rcache__arg_is(o, "exat") ? SET_EXAT
                                             : SET_PXAT;
            expire = &argv[++j];
        } else {
            rcache__reply_syntax_error(c);
            return 0;
        }
    }
    exp->kind = 0;
    exp->ms = 0;
    if (f & SET_KEEPTTL)
        exp->kind = 3;
    if (f & SET_PERSIST)
        exp->kind = 4;
    if (expire) {
        long long v;
        if (!rcache__str2ll(expire->ptr, expire->len, &v)) {
            rcache__reply_not_int(c);
            return 0;
        }
        int secs = (f & (SET_EX | SET_EXAT)) != 0;
        if (v <= 0 || (secs && v > LLONG_MAX / 1000)) {
            rcache__reply_errorf(c, "ERR invalid expire time in '%s' command", cmdname);
            return 0;
        }
        if (secs)
            v *= 1000;
        long long now = (long long)rcache_now_ms(RCACHE__CACHE(c));
        if ((f & (SET_EX | SET_PX)) && v > LLONG_MAX - now) {
            rcache__reply_errorf(c, "ERR invalid expire time in '%s' command", cmdname);
            return 0;
        }
        exp->kind = (f & (SET_EX | SET_PX)) ? 1 : 2;
        exp->ms = v;
        if (exp->kind == 2) { /* EXAT/PXAT: wall time -> cache clock */
            exp->ms = rcache__wall_to_cache_ms(c, v);
            if (exp->ms < 0)
                exp->ms = 0; /* in the past all the same */
        }
    }
    *flags = f;
    return 1;
}

/* Store key/value with the given expiry. Returns the library code; *old
 * receives the previous entry when want_old. An absolute expiry is checked
 * and applied by the library under the key's lock, so a time in the past
 * removes the key in the same step (no window for another client's SET). */
static int store_tagged(rcache__client_t *c, const rcache__arg_t *key,
                        const rcache__arg_t *val, const rcache__expire_opt_t *exp,
                        unsigned lib_flags, int want_old, rcache_ref_t **old,
                        const rcache_tag_t *tags, size_t ntags) {
    rcache_set_opts_t o = {.ttl_ms = RCACHE_TTL_DEFAULT, .flags = lib_flags,
                           .tags = tags, .ntags = ntags};
    if (exp->kind == 1) {
        o.ttl_ms = exp->ms;
    } else if (exp->kind == 2) {
        o.ttl_ms = exp->ms;
        o.flags |= RCACHE_SET_EXPIRE_AT;
    } else if (exp->kind == 3) {
        o.ttl_ms = RCACHE_TTL_KEEP;
    }
    if (c->srv->tier && !lib_flags && !want_old && exp->kind <= 1)
        return rcache__node_set(c, key, val, o.ttl_ms, tags, ntags);
    int rc = rcache_set_ex(RCACHE__CACHE(c), RCACHE__KEY(*key), val->ptr, val->len, &o,
                           want_old ? old : NULL);
    if (rc == RCACHE_OK)
        rcache__node_publish(c, key); /* the other forms: L1, then L2 */
    return rc;
}

/* A store succeeded: "new" (if it created the key), "set", and "expire"
 * when it gave the key an expiry (EX/PX/EXAT/PXAT, SETEX). */
static void note_stored(const rcache__arg_t *key, int was_new, const rcache__expire_opt_t *exp) {
    if (was_new)
        note(RCACHE__NOTIFY_NEW, "new", key);
    note(RCACHE__NOTIFY_STRING, "set", key);
    if (exp->kind == 1 || exp->kind == 2)
        note(RCACHE__NOTIFY_GENERIC, "expire", key);
}

/* Whether a store must fetch the old entry just to tell "new" events. */
static int want_new(void) {
    return rcache__notify_wanted(RCACHE__NOTIFY_NEW);
}


static int store(rcache__client_t *c, const rcache__arg_t *key, const rcache__arg_t *val,
                 const rcache__expire_opt_t *exp, unsigned lib_flags, int want_old,
                 rcache_ref_t **old) {
    return store_tagged(c, key, val, exp, lib_flags, want_old, old, NULL, 0);
}

/* SET, and RCACHE.SET with its TAGS (tags NULL: none). */
static void set_common(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                       const char *name, const rcache_tag_t *tags, size_t ntags) {
    unsigned f;
    rcache__expire_opt_t exp;
    if (!parse_set_args(c, argc, argv, 3, 1, name, &f, &exp))
        return;
    if (!rcache__key_ok(c, &argv[1]))
        return;
    unsigned lf = (f & SET_NX) ? RCACHE_SET_NX : (f & SET_XX) ? RCACHE_SET_XX : 0;
    rcache_ref_t *old = NULL;
    int rc = store_tagged(c, &argv[1], &argv[2], &exp, lf, (f & SET_GET) || want_new(), &old,
                          tags, ntags);
    if (rc != RCACHE_OK && rc != RCACHE_EEXIST && rc != RCACHE_ENOTFOUND) {
        rcache_release(old);
        rcache__reply_lib_error(c, rc);
        return;
    }
    if ((f & SET_GET) && !old)
        note(RCACHE__NOTIFY_KEY_MISS, "keymiss", &argv[1]);
    if (rc == RCACHE_OK)
        note_stored(&argv[1], old == NULL && (lf != RCACHE_SET_XX), &exp);
    if (!(f & SET_GET)) {
        rcache_release(old);
        old = NULL;
    }
    if (f & SET_GET) {
        if (old)
            rcache__reply_ref(c, old);
        else
            rcache__reply_null(c);
    } else if (rc == RCACHE_OK) {
        rcache__reply_ok(c);
    } else {
        rcache__reply_null(c);
    }
}

void rcache__cmd_set(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    set_common(c, argc, argv, "set", NULL, 0);
}

/* RCACHE.SET key value [SET's options] TAGS tag [tag ...]: SET plus the
 * entry's tags (docs/SERVER.md says why a companion command and not a SET
 * option). Everything after TAGS is a tag. */
void rcache__cmd_rcache_set(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache_tag_t tags[RCACHE_MAX_TAGS];
    size_t t = 3;
    while (t < argc && !rcache__arg_is(&argv[t], "tags"))
        t++;
    if (t + 1 >= argc) {
        rcache__reply_error(c, "ERR TAGS and at least one tag are required");
        return;
    }
    if (argc - t - 1 > RCACHE_MAX_TAGS) {
        rcache__reply_errorf(c, "ERR too many tags (at most %u)", RCACHE_MAX_TAGS);
        return;
    }
    for (size_t i = t + 1; i < argc; i++) {
        if (argv[i].len == 0 || argv[i].len > RCACHE_MAX_TAG_LEN) {
            rcache__reply_errorf(c, "ERR a tag must be 1 to %u bytes",
                                 RCACHE_MAX_TAG_LEN);
            return;
        }
        tags[i - t - 1].data = argv[i].ptr;
        tags[i - t - 1].len = argv[i].len;
    }
    set_common(c, t, argv, "rcache.set", tags, argc - t - 1);
}

static void setex_common(rcache__client_t *c, const rcache__arg_t *argv, int secs,
                         const char *name) {
    long long v;
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &v)) {
        rcache__reply_not_int(c);
        return;
    }
    long long now = (long long)rcache_now_ms(RCACHE__CACHE(c));
    if (v <= 0 || (secs && v > LLONG_MAX / 1000) ||
        (secs ? v * 1000 : v) > LLONG_MAX - now) {
        rcache__reply_errorf(c, "ERR invalid expire time in '%s' command", name);
        return;
    }
    if (!rcache__key_ok(c, &argv[1]))
        return;
    rcache__expire_opt_t exp = {1, secs ? v * 1000 : v};
    rcache_ref_t *old = NULL;
    int rc = store(c, &argv[1], &argv[3], &exp, 0, want_new(), &old);
    if (rc == RCACHE_OK)
        note_stored(&argv[1], !old, &exp);
    rcache_release(old);
    if (rc == RCACHE_OK)
        rcache__reply_ok(c);
    else
        rcache__reply_lib_error(c, rc);
}

void rcache__cmd_setex(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    setex_common(c, argv, 1, "setex");
}

void rcache__cmd_psetex(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    setex_common(c, argv, 0, "psetex");
}

void rcache__cmd_setnx(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    if (!rcache__key_ok(c, &argv[1]))
        return;
    rcache__expire_opt_t exp = {0, 0};
    int rc = store(c, &argv[1], &argv[2], &exp, RCACHE_SET_NX, 0, NULL);
    if (rc == RCACHE_OK)
        note_stored(&argv[1], 1, &exp);
    if (rc == RCACHE_OK)
        rcache__reply_int(c, 1);
    else if (rc == RCACHE_EEXIST)
        rcache__reply_int(c, 0);
    else
        rcache__reply_lib_error(c, rc);
}

void rcache__cmd_getset(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    if (!rcache__key_ok(c, &argv[1]))
        return;
    rcache__expire_opt_t exp = {0, 0};
    rcache_ref_t *old = NULL;
    int rc = store(c, &argv[1], &argv[2], &exp, 0, 1, &old);
    if (rc == RCACHE_OK && !old)
        note(RCACHE__NOTIFY_KEY_MISS, "keymiss", &argv[1]);
    if (rc == RCACHE_OK)
        note_stored(&argv[1], !old, &exp);
    if (rc != RCACHE_OK) {
        rcache_release(old);
        rcache__reply_lib_error(c, rc);
    } else if (old) {
        rcache__reply_ref(c, old);
    } else {
        rcache__reply_null(c);
    }
}

/* MSET/MSETNX: key value pairs with valid keys (else the error is sent). */
static int pairs_ok(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                    const char *name) {
    if (argc % 2 == 0) {
        rcache__reply_arity(c, name);
        return 0;
    }
    for (size_t i = 1; i < argc; i += 2)
        if (!rcache__key_ok(c, &argv[i]))
            return 0;
    return 1;
}

/* MSET stores the pairs one after another, each under its own shard lock:
 * another client may see some pairs stored and not yet the others, and an
 * error (ETOOBIG, ENOMEM) leaves the earlier pairs stored. MSETNX checks
 * every key, then stores: a concurrent writer may slip in between. */
void rcache__cmd_mset(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (!pairs_ok(c, argc, argv, "mset"))
        return;
    rcache__expire_opt_t exp = {0, 0};
    int wn = want_new();
    for (size_t i = 1; i < argc; i += 2) {
        rcache_ref_t *old = NULL;
        int rc = store(c, &argv[i], &argv[i + 1], &exp, 0, wn, &old);
        if (rc != RCACHE_OK) {
            rcache__reply_lib_error(c, rc);
            return;
        }
        note_stored(&argv[i], !old, &exp);
        rcache_release(old);
    }
    rcache__reply_ok(c);
}

void rcache__cmd_msetnx(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (!pairs_ok(c, argc, argv, "msetnx"))
        return;
    for (size_t i = 1; i < argc; i += 2) {
        if (rcache_exists(RCACHE__CACHE(c), RCACHE__KEY(argv[i]))) {
            rcache__reply_int(c, 0);
            return;
        }
    }
    rcache__expire_opt_t exp = {0, 0};
    for (size_t i = 1; i < argc; i += 2) {
        rcache_ref_t *old = NULL;
        int rc = store(c, &argv[i], &argv[i + 1], &exp, 0, want_new(), &old);
        if (rc != RCACHE_OK) {
            rcache__reply_lib_error(c, rc);
            return;
        }
        note_stored(&argv[i], !old, &exp);
        rcache_release(old);
    }
    rcache__reply_int(c, 1);
}

/* ---- GETEX ---------------------------------------------------------- */

typedef struct getex_ctx {
    const rcache__expire_opt_t *exp;
    const char *event; /* what the update did: "expire", "del", "persist" */
    int found;
    char *copy;   /* malloc'd copy of the value */
    size_t len;
} getex_ctx_t;

#define E_NOMEM (RCACHE_EUSER - 1)

static int getex_cb(rcache_update_t *u, void *arg) {
    getex_ctx_t *g = arg;
    if (!u->found)
        return RCACHE_UPDATE_KEEP;
    g->found = 1;
    g->copy = malloc(u->old_len ? u->old_len : 1);
    if (!g->copy)
        return E_NOMEM;
    if (u->old_len)
        memcpy(g->copy, u->old_val, u->old_len);
    g->len = u->old_len;
    switch (g->exp->kind) {
    case 1:
        u->ttl_ms = g->exp->ms;
        g->event = "expire";
        return RCACHE_UPDATE_TTL;
    case 2: /* not after u->now_ms: the library deletes the key */
        u->expire_at_ms = g->exp->ms > 0 ? (uint64_t)g->exp->ms : 1;
        g->event = u->expire_at_ms <= u->now_ms ? "del" : "expire";
        return RCACHE_UPDATE_TTL;
    case 4:
        u->ttl_ms = 0;
        g->event = u->old_ttl_ms >= 0 ? "persist" : NULL; /* had a TTL */
        return RCACHE_UPDATE_TTL;
    default:
        return RCACHE_UPDATE_KEEP;
    }
}

void rcache__cmd_getex(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    unsigned f;
    rcache__expire_opt_t exp;
    if (!parse_set_args(c, argc, argv, 2, 0, "getex", &f, &exp))
        return;
    if (exp.kind == 0) {
        reply_get(c, &argv[1]);
        return;
    }
    if (!rcache__key_valid(&argv[1])) {
        rcache__reply_null(c);
        return;
    }
    getex_ctx_t g = {&exp, NULL, 0, NULL, 0};
    int rc = rcache_update(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), getex_cb, &g);
    if (rc == E_NOMEM)
        rc = RCACHE_ENOMEM;
    if (rc == RCACHE_OK && !g.found)
        note(RCACHE__NOTIFY_KEY_MISS, "keymiss", &argv[1]);
    if (rc == RCACHE_OK && g.event)
        note(RCACHE__NOTIFY_GENERIC, g.event, &argv[1]);
    if (rc != RCACHE_OK)
        rcache__reply_lib_error(c, rc);
    else if (!g.found)
        rcache__reply_null(c);
    else
        rcache__reply_bulk(c, g.copy, g.len);
    free(g.copy);
}

/* ---- APPEND / SETRANGE / GETRANGE ------------------------------------ */

typedef struct splice_ctx {
    const char *data;
    size_t len;
    size_t offset;    /* SETRANGE offset; APPEND: RCACHE_SPLICE_END */
    size_t new_len;
    uint64_t max_len; /* proto-max-bulk-len when the command started */
    int found;        /* the key existed */
} splice_ctx_t;

#define E_TOOBIG (RCACHE_EUSER - 2)

/* Checks the length and hands the write to the library (a SPLICE), which
 * builds the new value once, in the entry (issue 10 item 9: this used to
 * malloc and fill the whole new value here, then the library copied it
 * again, next to the old one, under the shard lock). */
static int splice_cb(rcache_update_t *u, void *arg) {
    splice_ctx_t *s = arg;
    size_t old = u->found ? u->old_len : 0;
    size_t off = s->offset == RCACHE_SPLICE_END ? old : s->offset;
    s->found = u->found;
    if (s->len == 0) { /* nothing to write: report the length only */
        s->new_len = old;
        if (u->found || s->offset != RCACHE_SPLICE_END)
            return RCACHE_UPDATE_KEEP;
        u->new_val = ""; /* APPEND of "" to a missing key creates it, as Redis */
        u->new_len = 0;
        u->ttl_ms = RCACHE_TTL_DEFAULT;
        return RCACHE_UPDATE_STORE;
    }
    size_t end = off + s->len;
    size_t nl = end > old ? end : old;
    if (nl > s->max_len)
        return E_TOOBIG;
    if (nl > u->max_new_len) /* could never be stored */
        return RCACHE_ETOOBIG;
    s->new_len = nl;
    u->new_val = s->data;
    u->new_len = s->len;
    u->splice_offset = off;
    u->ttl_ms = u->found ? RCACHE_TTL_KEEP : RCACHE_TTL_DEFAULT;
    return RCACHE_UPDATE_SPLICE;
}

/* The longest string APPEND and SETRANGE may build: proto-max-bulk-len,
 * read live as Redis's checkStringLength() does. */
static uint64_t max_string(rcache__client_t *c) {
    return atomic_load_explicit(&c->srv->proto_max_bulk_len, memory_order_relaxed);
}

static void splice(rcache__client_t *c, const rcache__arg_t *key, const rcache__arg_t *val,
                   size_t offset, const char *event) {
    if (!rcache__key_ok(c, key))
        return;
    splice_ctx_t s = {val->ptr, val->len, offset, 0, max_string(c), 0};
    int rc = rcache_update(RCACHE__CACHE(c), RCACHE__KEY(*key), splice_cb, &s);
    /* Redis: APPEND always notifies (of "" too, which creates a missing
     * key); SETRANGE of nothing changes nothing */
    if (rc == RCACHE_OK && (val->len || offset == RCACHE_SPLICE_END)) {
        if (!s.found)
            note(RCACHE__NOTIFY_NEW, "new", key);
        note(RCACHE__NOTIFY_STRING, event, key);
    }
    if (rc == E_TOOBIG)
        rcache__reply_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    else if (rc != RCACHE_OK)
        rcache__reply_lib_error(c, rc);
    else
        rcache__reply_int(c, (long long)s.new_len);
}

void rcache__cmd_append(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    splice(c, &argv[1], &argv[2], RCACHE_SPLICE_END, "append");
}

void rcache__cmd_setrange(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long off;
    (void)argc;
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &off)) {
        rcache__reply_not_int(c);
        return;
    }
    if (off < 0) {
        rcache__reply_error(c, "ERR offset is out of range");
        return;
    }
    if (argv[3].len > 0 && (unsigned long long)off + argv[3].len > max_string(c)) {
        rcache__reply_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    splice(c, &argv[1], &argv[3], (size_t)off, "setrange");
}

void rcache__cmd_getrange(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long start, end;
    (void)argc;
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &start) ||
        !rcache__str2ll(argv[3].ptr, argv[3].len, &end)) {
        rcache__reply_not_int(c);
        return;
    }
    rcache_ref_t *ref = NULL;
    int grc = rcache__key_valid(&argv[1])
                  ? rcache_get_ref(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), &ref)
                  : RCACHE_ENOTFOUND;
    if (grc != RCACHE_OK) {
        note_miss(grc, &argv[1]);
        rcache__reply_bulk(c, "", 0);
        return;
    }
    size_t len = 0;
    const char *v = rcache_ref_value(ref, &len);
    long long sl = (long long)len;
    if (start < 0 && end < 0 && start > end) {
        rcache__reply_bulk(c, "", 0);
        rcache_release(ref);
        return;
    }
    if (start < 0)
        start = sl + start;
    if (end < 0)
        end = sl + end;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= sl)
        end = sl - 1;
    if (!v || start > end || sl == 0)
        rcache__reply_bulk(c, "", 0);
    else
        rcache__reply_bulk(c, v + start, (size_t)(end - start + 1));
    rcache_release(ref);
}
