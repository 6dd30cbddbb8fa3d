/*
 * commands_db.c - the commands that cross databases (db.h): COPY (with DB
 * and REPLACE, keeping the TTL), MOVE, SWAPDB, and the per-database lines
 * of INFO keyspace.
 *
 * The key arguments arrive already in the client's database (the
 * dispatcher prefixes them); a command that names another database strips
 * that prefix (rcache__db_of_key) and applies the other one.
 *
 * SWAPDB: databases are key prefixes in one cache (db.c explains why), so
 * swapping two of them renames every key of both, under the exclusive gate
 * (gate.h) so that no command runs in between: O(keys in the cache) to
 * find them plus one rename per key. That cost is paid only by SWAPDB (a
 * mapping from database number to prefix would make it O(1) but would
 * need to be saved with snapshots, which store the prefixed keys; see
 * docs/SERVER.md). Every WATCH is invalidated, as Redis invalidates the
 * watches on swapped databases (a superset: a spurious abort is retried).
 */
#include "db.h"
#include "tracking.h"
#include "persist.h"
#include "keyargs.h"
#include "notify.h"
#include "watch.h"

#include <event2/buffer.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redis's getIntFromObjectOrReply(): 0 after the error reply (not_int, or
 * Redis's usual text when NULL). */
static int parse_int(rcache__client_t *c, const rcache__arg_t *a, const char *not_int,
                     int *out) {
    long long v;
    if (!rcache__str2ll(a->ptr, a->len, &v) || v < INT_MIN || v > INT_MAX) {
        rcache__reply_error(c, not_int ? not_int : "ERR value is not an integer or out of range");
        return 0;
    }
    *out = (int)v;
    return 1;
}

static int db_ok(rcache__client_t *c, int db) {
    if (db >= 0 && db < RCACHE__DB_COUNT)
        return 1;
    rcache__reply_error(c, "ERR DB index is out of range");
    return 0;
}

/* A database index argument; -1 after the error reply. */
static int parse_db(rcache__client_t *c, const rcache__arg_t *a) {
    int db;
    return parse_int(c, a, NULL, &db) && db_ok(c, db) ? db : -1;
}

/* The stored form of user key k in database db: malloc'd, *len set. */
static char *db_key(int db, const char *k, size_t klen, size_t *len) {
    size_t p = db > 0 ? RCACHE__DB_PREFIX_LEN : 0;
    char *out = malloc(p + klen + 1);
    if (!out)
        return NULL;
    if (p)
        rcache__db_prefix(db, out);
    if (klen)
        memcpy(out + p, k, klen);
    *len = p + klen;
    return out;
}

/* ---- COPY ------------------------------------------------------------- */

typedef struct copy_ctx {
    char *val;
    size_t len;
    uint64_t expire_at_ms; /* 0: none */
    int found;
} copy_ctx_t;

#define E_NOMEM (RCACHE_EUSER - 1)

/* Read value and expiry in one step under the key's lock. */
static int copy_read_cb(rcache_update_t *u, void *arg) {
    copy_ctx_t *x = arg;
    if (!u->found)
        return RCACHE_UPDATE_KEEP;
    x->val = malloc(u->old_len ? u->old_len : 1);
    if (!x->val)
        return E_NOMEM;
    if (u->old_len)
        memcpy(x->val, u->old_val, u->old_len);
    x->len = u->old_len;
    x->found = 1;
    x->expire_at_ms = u->old_ttl_ms >= 0 ? u->now_ms + (uint64_t)u->old_ttl_ms : 0;
    return RCACHE_UPDATE_KEEP;
}

static int parse_copy_opts(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                           int *dst_db, int *replace) {
    for (size_t j = 3; j < argc; j++) {
        if (rcache__arg_is(&argv[j], "replace")) {
            *replace = 1;
        } else if (rcache__arg_is(&argv[j], "db") && j + 1 < argc) {
            if ((*dst_db = parse_db(c, &argv[++j])) < 0)
                return 0;
        } else {
            rcache__reply_syntax_error(c);
            return 0;
        }
    }
    return 1;
}

/* Store the copy under dst, with the source's tags (read just after its
 * value: a copy is derived from what the original was); 1, 0 (exists, no
 * REPLACE) or a library error. */
static int copy_store(rcache__client_t *c, const char *dst, size_t dlen,
                      const copy_ctx_t *x, int replace, const rcache_tag_list_t *tags) {
    rcache_set_opts_t o = {.ttl_ms = 0, .flags = replace ? 0 : RCACHE_SET_NX,
                           .tags = tags ? tags->tags : NULL, .ntags = tags ? tags->count : 0};
    if (x->expire_at_ms) {
        o.ttl_ms = (int64_t)x->expire_at_ms;
        o.flags |= RCACHE_SET_EXPIRE_AT;
    }
    int rc = rcache_set_ex(RCACHE__CACHE(c), dst, dlen, x->val, x->len, &o, NULL);
    return rc == RCACHE_OK ? 1 : rc == RCACHE_EEXIST ? 0 : rc;
}

void rcache__cmd_copy(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const char *src_user, *dst_user;
    size_t src_ulen, dst_ulen, dlen = 0;
    int src_db = rcache__db_of_key(argv[1].ptr, argv[1].len, &src_user, &src_ulen);
    rcache__db_of_key(argv[2].ptr, argv[2].len, &dst_user, &dst_ulen);
    int dst_db = src_db, replace = 0;
    if (!parse_copy_opts(c, argc, argv, &dst_db, &replace))
        return;
    if (src_db == dst_db && src_ulen == dst_ulen && memcmp(src_user, dst_user, src_ulen) == 0) {
        rcache__reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    copy_ctx_t x = {NULL, 0, 0, 0};
    char *dst = NULL;
    int rc = RCACHE_OK;
    if (rcache__key_valid(&argv[1]))
        rc = rcache_update(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), copy_read_cb, &x);
    if (rc == RCACHE_OK && x.found) {
        if (!(dst = db_key(dst_db, dst_user, dst_ulen, &dlen))) {
            rc = RCACHE_ENOMEM;
        } else if (dlen == 0 || dlen > RCACHE_MAX_KEY_LEN) {
            rcache__arg_t k = {dst, dlen};
            rcache__key_ok(c, &k);
            goto out;
        } else {
            if (dst_db > 0)
                rcache__db_mark_used();
            rcache_tag_list_t *tags = NULL;
            if (rcache_get_tags(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), &tags) == RCACHE_ENOMEM)
                rc = RCACHE_ENOMEM;
            else
                rc = copy_store(c, dst, dlen, &x, replace, tags);
            rcache_tag_list_free(tags);
            if (rc == 1 && dst_db != src_db)
                rcache__watch_touch(dst, dlen);
            if (rc == 1) { /* Redis 7.0: the copy is added anew */
                rcache__notify(RCACHE__NOTIFY_NEW, "new", dst, dlen);
                rcache__notify(RCACHE__NOTIFY_GENERIC, "copy_to", dst, dlen);
            }
        }
    }
    if (rc == E_NOMEM)
        rc = RCACHE_ENOMEM;
    if (rc < 0)
        rcache__reply_lib_error(c, rc);
    else
        rcache__reply_int(c, x.found ? rc : 0);
out:
    free(dst);
    free(x.val);
}

/* ---- MOVE ------------------------------------------------------------- */

void rcache__cmd_move(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    const char *user;
    size_t ulen, dlen;
    int src_db = rcache__db_of_key(argv[1].ptr, argv[1].len, &user, &ulen);
    int dst_db = parse_db(c, &argv[2]);
    if (dst_db < 0)
        return;
    if (dst_db == src_db) {
        rcache__reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    if (!rcache__key_valid(&argv[1])) {
        rcache__reply_int(c, 0);
        return;
    }
    char *dst = db_key(dst_db, user, ulen, &dlen);
    if (!dst) {
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
        return;
    }
    if (dst_db > 0)
        rcache__db_mark_used();
    /* keeps value, TTL and metadata; nx: 0 when the target has the key */
    int rc = rcache_rename(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), dst, dlen, 1);
    if (rc == RCACHE_OK) {
        rcache__watch_touch(dst, dlen);
        rcache__notify(RCACHE__NOTIFY_NEW, "new", dst, dlen);
        rcache__notify(RCACHE__NOTIFY_GENERIC, "move_from", argv[1].ptr, argv[1].len);
        rcache__notify(RCACHE__NOTIFY_GENERIC, "move_to", dst, dlen);
        rcache__reply_int(c, 1);
    } else if (rc == RCACHE_ENOTFOUND || rc == RCACHE_EEXIST) {
        rcache__reply_int(c, 0);
    } else {
        rcache__reply_lib_error(c, rc);
    }
    free(dst);
}

/* ---- SWAPDB ----------------------------------------------------------- */

typedef struct ukey {
    char *k;
    size_t len;
} ukey_t;

typedef struct keylist {
    ukey_t *v;
    size_t n, cap;
} keylist_t;

static int keylist_add(keylist_t *l, const char *k, size_t len) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        ukey_t *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, k, len);
    l->v[l->n].k = copy;
    l->v[l->n].len = len;
    l->n++;
    return 0;
}

static void keylist_free(keylist_t *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].k);
    free(l->v);
}

static int ukey_cmp(const void *x, const void *y) {
    const ukey_t *a = x, *b = y;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->k, b->k, a->len);
}

/* The user keys of databases a and b, listed from one walk of the cache. */
static int list_two(rcache_t *cache, int a, int b, keylist_t *la, keylist_t *lb) {
    uint64_t cursor = 0;
    do {
        rcache_scan_page_t page = {0};
        uint64_t next = 0;
        if (rcache_scan(cache, cursor, 1024, NULL, 0, 0, &page, &next) != RCACHE_OK)
            return -1;
        int rc = 0;
        for (size_t i = 0; i < page.count && rc == 0; i++) {
            const char *k;
            size_t kl;
            int db = rcache__db_of_key(page.entries[i].key, page.entries[i].key_len, &k, &kl);
            if (db == a)
                rc = keylist_add(la, k, kl);
            else if (db == b)
                rc = keylist_add(lb, k, kl);
        }
        rcache_scan_page_free(&page);
        if (rc)
            return -1;
        cursor = next;
    } while (cursor != 0);
    /* a key seen twice by the scan is listed twice: sort, then dedupe */
    keylist_t *ls[2] = {la, lb};
    for (int i = 0; i < 2; i++) {
        keylist_t *l = ls[i];
        if (l->n > 1)
            qsort(l->v, l->n, sizeof *l->v, ukey_cmp);
        size_t w = 0;
        for (size_t r = 0; r < l->n; r++) {
            if (w > 0 && ukey_cmp(&l->v[w - 1], &l->v[r]) == 0)
                free(l->v[r].k);
            else
                l->v[w++] = l->v[r];
        }
        l->n = w;
    }
    return 0;
}

/* Rename between two stored names (nx): the library's code, ENOTFOUND (an
 * entry that expired or was evicted meanwhile) counted as done. */
static int rename_nx(rcache_t *cache, const char *s, size_t sl, const char *d, size_t dl) {
    int rc = rcache_rename(cache, s, sl, d, dl, 1);
    return rc == RCACHE_ENOTFOUND ? RCACHE_OK : rc;
}

/* Move user key k from database `from` to database `to`. */
static int move_key(rcache_t *cache, const ukey_t *k, int from, int to) {
    size_t sl = 0, dl = 0;
    char *s = db_key(from, k->k, k->len, &sl), *d = db_key(to, k->k, k->len, &dl);
    int rc = s && d ? rename_nx(cache, s, sl, d, dl) : RCACHE_ENOMEM;
    free(s);
    free(d);
    return rc;
}

/* Swap a key both databases hold, through a free temporary name (a
 * database-0 name under the reserved prefix, docs/SERVER.md). */
static int swap_key(rcache_t *cache, const ukey_t *k, int a, int b) {
    static const char pfx[] = "\x00\xff\xfe" "swapdb-tmp:";
    char tmp[sizeof pfx + 24];
    size_t al = 0, bl = 0, tl = 0;
    char *ka = db_key(a, k->k, k->len, &al), *kb = db_key(b, k->k, k->len, &bl);
    int rc = ka && kb ? RCACHE_EEXIST : RCACHE_ENOMEM;
    memcpy(tmp, pfx, sizeof pfx - 1);
    for (unsigned i = 0; rc == RCACHE_EEXIST; i++) {
        tl = sizeof pfx - 1 + (size_t)snprintf(tmp + sizeof pfx - 1, 24, "%u", i);
        rc = rcache_rename(cache, ka, al, tmp, tl, 1);
    }
    if (rc == RCACHE_OK && (rc = rename_nx(cache, kb, bl, ka, al)) == RCACHE_OK)
        rc = rename_nx(cache, tmp, tl, kb, bl);
    else if (rc == RCACHE_ENOTFOUND) /* a's copy is gone: only b's moves */
        rc = rename_nx(cache, kb, bl, ka, al);
    free(ka);
    free(kb);
    return rc;
}

/* Keys of database 0 get a prefix in another database: refuse the swap
 * before changing anything if one would then be too long. */
static int fits(const keylist_t *l, int to) {
    if (to == 0)
        return 1;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].len + RCACHE__DB_PREFIX_LEN > RCACHE_MAX_KEY_LEN)
            return 0;
    return 1;
}

/* Merge the two sorted lists: a-only keys move to b, b-only to a, and
 * keys in both swap. */
static int swap_all(rcache_t *cache, const keylist_t *la, const keylist_t *lb, int a, int b) {
    size_t i = 0, j = 0;
    int rc = RCACHE_OK;
    while (rc == RCACHE_OK && (i < la->n || j < lb->n)) {
        int d = i == la->n ? 1 : j == lb->n ? -1 : ukey_cmp(&la->v[i], &lb->v[j]);
        if (d < 0)
            rc = move_key(cache, &la->v[i++], a, b);
        else if (d > 0)
            rc = move_key(cache, &lb->v[j++], b, a);
        else
            rc = swap_key(cache, &la->v[i++], a, b), j++;
    }
    return rc;
}

void rcache__cmd_swapdb(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    int a, b;
    if (!parse_int(c, &argv[1], "ERR invalid first DB index", &a) ||
        !parse_int(c, &argv[2], "ERR invalid second DB index", &b) || !db_ok(c, a) ||
        !db_ok(c, b))
        return;
    if (a == b) {
        rcache__reply_ok(c);
        return;
    }
    if (rcache__persist_hold(c->srv) != 0) {
        rcache__reply_error(c, "ERR Background save in progress, SWAPDB would write a half-swapped "
                               "snapshot; retry when it ends");
        return;
    }
    rcache__db_mark_used();
    keylist_t la = {0}, lb = {0};
    int rc = list_two(RCACHE__CACHE(c), a, b, &la, &lb) == 0 ? RCACHE_OK : RCACHE_ENOMEM;
    if (rc == RCACHE_OK && (!fits(&la, b) || !fits(&lb, a))) {
        rcache__reply_error(c, "ERR a key of database 0 is too long for rcached in another database");
        goto out;
    }
    if (rc == RCACHE_OK)
        rc = swap_all(RCACHE__CACHE(c), &la, &lb, a, b);
    rcache__watch_touch_all();
    rcache__tracking_flush(); /* every tracked name may hold another value */
    if (rc != RCACHE_OK) {
        rcache__log(RCACHE__LOG_WARNING, "SWAPDB %d %d stopped part way: %s", a, b,
                    rcache_strerror(rc));
        rcache__reply_lib_error(c, rc);
    } else {
        rcache__log(RCACHE__LOG_VERBOSE, "SWAPDB %d %d: %zu and %zu keys", a, b, la.n, lb.n);
        rcache__reply_ok(c);
    }
out:
    rcache__persist_release(c->srv);
    keylist_free(&la);
    keylist_free(&lb);
}

/* ---- INFO keyspace ---------------------------------------------------- */

void rcache__db_keyspace(rcache_t *cache, rcache__db_keyspace_t *out) {
    rcache_class_stats_t cls[RCACHE__DB_COUNT];
    rcache_stats_t st;
    memset(out, 0, sizeof *out);
    rcache_stats(cache, &st);
    if (st.disabled)
        return;
    /* the library counts each database's keys as its key class
     * (rcache__db_class): no entry is walked */
    if (rcache_class_stats(cache, cls, RCACHE__DB_COUNT) != RCACHE_OK)
        return;
    for (int db = 0; db < RCACHE__DB_COUNT; db++) {
        out->keys[db] = cls[db].items;
        out->expires[db] = cls[db].expires;
        out->avg_ttl_ms[db] = cls[db].avg_ttl_ms;
    }
}
