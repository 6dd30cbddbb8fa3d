/*
 * admin_entries.c - the per-entry endpoints of the admin API: a cursor
 * scan of the keyspace (GET /api/cache/entries), one entry's metadata
 * (GET /api/cache/entries/{key}) and deleting one (DELETE ...). Keys are
 * shown as text when they are valid UTF-8, else in base64 with
 * "key_encoding":"base64"; such keys are addressed back with
 * ?encoding=base64. Each entry lists its tags ("tags", with
 * "tags_encoding" utf-8, or base64 for every tag when one is not UTF-8).
 * ?db=N addresses SELECT's database N (db_key.h): keys are looked up and
 * listed with that database's prefix and shown without it; database 0's
 * listing leaves the other databases' keys out.
 */
#include "admin_internal.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#define DEFAULT_COUNT 100
#define MAX_COUNT 1000

static json_t *ju64(uint64_t v) {
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static double secs(uint64_t ms) { return (double)ms / 1000.0; }

/* Add "key" and "key_encoding" for key bytes. 0, or -1 out of memory. */
static int put_key(json_t *o, const void *key, size_t len) {
    if (rcache__admin_utf8_ok(key, len)) {
        json_object_set_new(o, "key", json_stringn(key, len));
        json_object_set_new(o, "key_encoding", json_string("utf-8"));
    } else {
        char *b = rcache__admin_b64_encode(key, len);
        if (!b)
            return -1;
        json_object_set_new(o, "key", json_string(b));
        json_object_set_new(o, "key_encoding", json_string("base64"));
        free(b);
    }
    return 0;
}

/* Add "tags" and "tags_encoding" (read now: an entry gone meanwhile shows
 * none). 0, or -1 out of memory. */
static int put_tags(json_t *o, rcache_t *c, const void *key, size_t len) {
    rcache_tag_list_t *l = NULL;
    int rc = rcache_get_tags(c, key, len, &l), utf8 = 1;
    if (rc == RCACHE_ENOMEM)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; l && i < l->count; i++)
        utf8 = utf8 && rcache__admin_utf8_ok(l->tags[i].data, l->tags[i].len);
    for (size_t i = 0; arr && l && i < l->count; i++) {
        char *b = utf8 ? NULL : rcache__admin_b64_encode(l->tags[i].data, l->tags[i].len);
        json_t *t = utf8 ? json_stringn(l->tags[i].data, l->tags[i].len)
                         : b ? json_string(b) : NULL;
        free(b);
        if (!t || json_array_append_new(arr, t) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    rcache_tag_list_free(l);
    if (!arr)
        return -1;
    json_object_set_new(o, "tags", arr);
    json_object_set_new(o, "tags_encoding", json_string(utf8 ? "utf-8" : "base64"));
    return 0;
}

/* now_ms and the entry's times are on the cache clock; wall_off_ms
 * (rcache_wall_offset_ms) turns the two absolute ones into wall time.
 * The key is shown as its database's clients see it. */
static json_t *entry_object(rcache_t *c, const rcache_entry_info_t *e, uint64_t now_ms,
                            int64_t wall_off_ms) {
    const char *user;
    size_t user_len;
    json_t *o = json_object();
    (void)rcache__db_of_key(e->key, e->key_len, &user, &user_len);
    if (!o || put_key(o, user, user_len) != 0 ||
        put_tags(o, c, e->key, e->key_len) != 0) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "type", json_string(e->is_object ? "object" : "string"));
    json_object_set_new(o, "size_bytes", ju64(e->size_bytes));
    json_object_set_new(o, "value_bytes", ju64(e->value_len));
    json_object_set_new(o, "created_at", json_real(secs(e->created_at_ms + (uint64_t)wall_off_ms)));
    json_object_set_new(o, "age_seconds",
                        json_real(now_ms > e->created_at_ms ? secs(now_ms - e->created_at_ms) : 0.0));
    json_object_set_new(o, "last_access_at", json_real(secs(e->last_access_ms + (uint64_t)wall_off_ms)));
    json_object_set_new(o, "idle_seconds",
                        json_real(now_ms > e->last_access_ms ? secs(now_ms - e->last_access_ms) : 0.0));
    json_object_set_new(o, "access_count", ju64(e->access_count));
    json_object_set_new(o, "ttl_seconds",
                        e->ttl_ms < 0 ? json_null() : json_real(secs((uint64_t)e->ttl_ms)));
    json_object_set_new(o, "expired", json_boolean(e->expired));
    json_object_set_new(o, "compute_seconds", json_real(secs(e->compute_ms)));
    return o;
}

/* Parse a decimal integer option; 1 found, 0 absent, -1 invalid. */
static int query_u64(const char *query, const char *name, uint64_t *out) {
    char *v = NULL;
    size_t len;
    int rc = rcache__admin_query_get(query, name, &v, &len);
    if (rc <= 0)
        return rc;
    if (len == 0) {
        free(v);
        return 0; /* "cursor=" is the same as no cursor */
    }
    rc = rcache__parse_u64(v, len, out) == 0 ? 1 : -1;
    free(v);
    return rc;
}

int rcache__admin_query_db(struct evhttp_request *req, const char *query, int *db) {
    uint64_t v = 0;
    if (query_u64(query, "db", &v) < 0 || v >= RCACHE__DB_COUNT) {
        rcache__admin_reply_error(req, 400, "db", "db must be a database number from 0 to %d",
                                  RCACHE__DB_COUNT - 1);
        return -1;
    }
    *db = (int)v;
    return 0;
}

int rcache__admin_db_key(int db, const char *key, size_t len, char **out, size_t *out_len) {
    size_t pre = db > 0 ? RCACHE__DB_PREFIX_LEN : 0;
    char *k = malloc(pre + len + 1);
    if (!k)
        return -1;
    if (pre)
        rcache__db_prefix(db, k);
    if (len)
        memcpy(k + pre, key, len);
    k[pre + len] = 0;
    *out = k;
    *out_len = pre + len;
    return 0;
}

/* The scan pattern for database db: match (NULL: every key) behind the
 * database's prefix; database 0's as given. 0, or -1 out of memory. */
static int db_match(int db, char **match, size_t *match_len) {
    char *p;
    size_t n;
    if (db == 0)
        return 0;
    if (rcache__admin_db_key(db, *match ? *match : "*", *match ? *match_len : 1, &p, &n) != 0)
        return -1;
    free(*match);
    *match = p;
    *match_len = n;
    return 0;
}

void rcache__admin_h_entries(rcache__admin_t *a, struct evhttp_request *req,
                             const char *rest, const char *query) {
    uint64_t cursor = 0, count = DEFAULT_COUNT, next = 0;
    char *match = NULL;
    size_t match_len = 0;
    rcache_scan_page_t page = {0};
    json_t *arr, *o;
    uint64_t now;
    int rc, db;

    if (rcache__admin_query_db(req, query, &db) != 0)
        return;
    if (query_u64(query, "cursor", &cursor) < 0) {
        rcache__admin_reply_error(req, 400, "cursor", "cursor must be a decimal integer");
        return;
    }
    if (query_u64(query, "count", &count) < 0 || count == 0) {
        rcache__admin_reply_error(req, 400, "count", "count must be an integer >= 1 (at most %d)",
                                  MAX_COUNT);
        return;
    }
    if (count > MAX_COUNT)
        count = MAX_COUNT;
    rc = rcache__admin_query_get(query, "match", &match, &match_len);
    if (rc < 0) {
        rcache__admin_reply_error(req, 400, "match", "bad percent-encoding in match");
        return;
    }
    if (match && match_len == 0) {
        free(match);
        match = NULL;
    }
    if (match && rcache_glob_validate(match, match_len) != RCACHE_OK) {
        free(match);
        rcache__admin_reply_error(req, 400, "match", "invalid glob pattern");
        return;
    }
    if (db_match(db, &match, &match_len) != 0) {
        free(match);
        rcache__admin_reply_error(req, 500, NULL, "out of memory");
        return;
    }
    rc = rcache_scan(a->cache, cursor, (size_t)count, match, match_len, 1, &page, &next);
    free(match);
    if (rc == RCACHE_EPATTERN || rc == RCACHE_EINVAL) {
        rcache__admin_reply_error(req, 400, rc == RCACHE_EPATTERN ? "match" : "cursor", "%s",
                                  rcache_strerror(rc));
        return;
    }
    if (rc != RCACHE_OK) {
        rcache__admin_reply_error(req, 500, NULL, "scan failed: %s", rcache_strerror(rc));
        return;
    }
    now = rcache_now_ms(a->cache);
    arr = json_array();
    for (size_t i = 0; arr && i < page.count; i++) {
        const char *user;
        size_t user_len;
        if (rcache__db_of_key(page.entries[i].key, page.entries[i].key_len, &user,
                              &user_len) != db)
            continue; /* another database's key (database 0's "*" matches them) */
        json_t *e = entry_object(a->cache, &page.entries[i], now,
                                 rcache_wall_offset_ms(a->cache));
        if (!e || json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    rcache_scan_page_free(&page);
    if (!arr) {
        rcache__admin_reply_error(req, 500, NULL, "out of memory");
        return;
    }
    {
        char nc[24];
        snprintf(nc, sizeof nc, "%llu", (unsigned long long)next);
        o = json_pack("{s:s, s:i, s:I, s:o, s:s, s:b, s:o*}", "status", "success", "db", db,
                      "count", (json_int_t)json_array_size(arr), "entries", arr, "next_cursor",
                      nc, "done", next == 0, "total_items", ju64(rcache_count(a->cache)));
    }
    rcache__admin_reply_json(req, 200, o);
}

void rcache__admin_h_entry(rcache__admin_t *a, struct evhttp_request *req,
                           const char *rest, const char *query) {
    char *key = NULL, *enc = NULL, *stored = NULL;
    size_t key_len = 0, enc_len = 0, stored_len = 0;
    rcache_entry_info_t info;
    int rc, db;

    if (rcache__admin_query_db(req, query, &db) != 0)
        return;
    if (rcache__admin_pct_decode(rest, strlen(rest), 0, &key, &key_len) != 0) {
        rcache__admin_reply_error(req, 400, "key", "bad percent-encoding in the key");
        return;
    }
    if (rcache__admin_query_get(query, "encoding", &enc, &enc_len) > 0 &&
        strcmp(enc, "base64") == 0) {
        unsigned char *raw;
        size_t raw_len;
        if (rcache__admin_b64_decode(key, key_len, &raw, &raw_len) != 0) {
            rcache__admin_reply_error(req, 400, "key", "the key is not valid base64");
            goto out;
        }
        free(key);
        key = (char *)raw;
        key_len = raw_len;
    } else if (enc && strcmp(enc, "utf-8") != 0 && strcmp(enc, "raw") != 0) {
        rcache__admin_reply_error(req, 400, "encoding", "encoding must be base64 or utf-8");
        goto out;
    }
    if (key_len == 0) {
        rcache__admin_reply_error(req, 400, "key", "empty key");
        goto out;
    }
    if (rcache__admin_db_key(db, key, key_len, &stored, &stored_len) != 0) {
        rcache__admin_reply_error(req, 500, NULL, "out of memory");
        goto out;
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_DELETE) {
        rc = a->hooks.delete_key ? a->hooks.delete_key(a->hooks.ctx, stored, stored_len)
                                 : rcache_delete(a->cache, stored, stored_len);
        if (rc == RCACHE_OK) {
            json_t *o = json_pack("{s:s, s:b}", "status", "success", "deleted", 1);
            if (o && put_key(o, key, key_len) != 0) {
                json_decref(o);
                o = NULL;
            }
            rcache__admin_reply_json(req, 200, o);
        } else if (rc == RCACHE_ENOTFOUND) {
            rcache__admin_reply_error(req, 404, NULL, "no such key");
        } else {
            rcache__admin_reply_error(req, 400, "key", "%s", rcache_strerror(rc));
        }
        goto out;
    }
    rc = rcache_entry_info(a->cache, stored, stored_len, &info);
    if (rc == RCACHE_OK) {
        json_t *e = entry_object(a->cache, &info, rcache_now_ms(a->cache),
                                 rcache_wall_offset_ms(a->cache));
        rcache__admin_reply_json(req, 200,
                                 e ? json_pack("{s:s, s:o}", "status", "success", "entry", e)
                                   : NULL);
    } else if (rc == RCACHE_ENOTFOUND) {
        rcache__admin_reply_error(req, 404, NULL, "no such key (or expired)");
    } else {
        rcache__admin_reply_error(req, 400, "key", "%s", rcache_strerror(rc));
    }
out:
    free(key);
    free(stored);
    free(enc);
}
