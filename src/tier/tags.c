/*
 * tags.c - tags across the tier: what L2 records of an entry's tags, and
 * tag invalidation on every node (rcache_tier_invalidate_tag()).
 *
 * L2 layout, for L1 key K, tag T and key prefix P (both records start
 * with byte 0xff, outside every key prefix, so writing them is never
 * reported by the tracking bus and the value key stays a plain string that
 * redis-cli GET reads):
 *   P K                  the value (SET ... PX ttl), as without tags;
 *   0xff "ktags:" P K    K's tag record: a set of K's tags, same TTL;
 *   0xff "tag:" P T      T's tag set: a set of the L1 keys written with T,
 *                        its TTL never shorter than any member's.
 * Why a companion record rather than a header in the value: other
 * clients (redis-cli, other languages) keep reading the value as it is,
 * and the record is read in the same pipeline as the value (one round
 * trip, SMEMBERS after GET and PTTL).
 *
 * The value key itself is only ever changed by plain commands (SET,
 * UNLINK), never inside a script or MULTI: Redis 7.0 reports a key changed
 * by a script or transaction to the changing client too, in spite of
 * NOLOOP, so the node's own bus would drop what it just wrote. So a write
 * is `SET K v PX ttl` pipelined with a Lua script (atomic, touching only
 * the 0xff records) that, if K still holds v (else a later write's script
 * follows and wins), takes K out of the sets of the tags it no longer has
 * and records the new ones. Deletes, pattern and tag invalidation run a
 * second script that, per key, takes K out of all its tag sets and deletes
 * its record, then UNLINK the values (what the bus reports to the other
 * nodes). Tag invalidation walks T's set with SSCAN (COUNT 1000), page by
 * page, with a guard: a member whose record no longer has T (stale:
 * expired, or rewritten by a non-tier client) only leaves the set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tier_internal.h"

#define SSCAN_BATCH "1000"

/* Run after the write's own SET (pipelined). KEYS[1] value key, KEYS[2]
 * its tag record; ARGV[1] the value written, ARGV[2] TTL in ms ("0":
 * none), ARGV[3] tag-set key prefix, ARGV[4] the L1 key, ARGV[5..] the
 * tags. When the value is no longer ours, a later write's script (run
 * after this one, as its SET came after ours) records its tags: nothing to
 * do. */
static const char write_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "local ttl = tonumber(ARGV[2])\n"
    "local old = redis.call('SMEMBERS', KEYS[2])\n"
    "if #old == 0 and #ARGV < 5 then return 1 end\n"
    "local keep = {}\n"
    "for i = 5, #ARGV do keep[ARGV[i]] = true end\n"
    "for _, g in ipairs(old) do\n"
    "  if not keep[g] then redis.call('SREM', ARGV[3] .. g, ARGV[4]) end\n"
    "end\n"
    "redis.call('DEL', KEYS[2])\n"
    "if #ARGV < 5 then return 1 end\n"
    "redis.call('SADD', KEYS[2], unpack(ARGV, 5))\n"
    "if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end\n"
    "for i = 5, #ARGV do\n"
    "  local s = ARGV[3] .. ARGV[i]\n"
    "  local left = redis.call('PTTL', s)\n"
    "  redis.call('SADD', s, ARGV[4])\n"
    "  if ttl == 0 then redis.call('PERSIST', s)\n"
    "  elseif left == -2 or (left >= 0 and left < ttl) then\n"
    "    redis.call('PEXPIRE', s, ARGV[2]) end\n"
    "end\n"
    "return 1\n";

/* Run before the values are UNLINKed (by a plain command: see the top).
 * ARGV[1] tag-record prefix, ARGV[2] tag-set prefix, ARGV[3] the tag ("":
 * every key given), ARGV[4..] L1 keys. Takes each key that still has the
 * tag out of all its tag sets, deletes its record, and returns those keys
 * (the rest, stale members, only leave the tag's set). */
static const char drop_lua[] =
    "local out = {}\n"
    "for i = 4, #ARGV do\n"
    "  local m = ARGV[i]\n"
    "  local kt = ARGV[1] .. m\n"
    "  if ARGV[3] == '' or redis.call('SISMEMBER', kt, ARGV[3]) == 1 then\n"
    "    for _, g in ipairs(redis.call('SMEMBERS', kt)) do\n"
    "      redis.call('SREM', ARGV[2] .. g, m)\n"
    "    end\n"
    "    redis.call('DEL', kt)\n"
    "    out[#out + 1] = m\n"
    "  else\n"
    "    redis.call('SREM', ARGV[2] .. ARGV[3], m)\n"
    "  end\n"
    "end\n"
    "return out\n";

int rcache__tier_tags_check(const rcache_tag_t *tags, size_t ntags) {
    if (ntags && !tags)
        return RCACHE_EINVAL;
    if (ntags > RCACHE_MAX_TAGS)
        return RCACHE_ETOOBIG;
    for (size_t i = 0; i < ntags; i++) {
        if (!tags[i].data || tags[i].len == 0)
            return RCACHE_EINVAL;
        if (tags[i].len > RCACHE_MAX_TAG_LEN)
            return RCACHE_ETOOBIG;
    }
    return RCACHE_OK;
}

void rcache__tier_tag_prefixes(rcache_tier_t *t) {
    memcpy(t->kt_prefix, "\xff" "ktags:", 7);
    memcpy(t->kt_prefix + 7, t->prefix, t->prefix_len);
    t->kt_prefix_len = 7 + t->prefix_len;
    memcpy(t->ts_prefix, "\xff" "tag:", 5);
    memcpy(t->ts_prefix + 5, t->prefix, t->prefix_len);
    t->ts_prefix_len = 5 + t->prefix_len;
}

int rcache__tier_ktags_key(rcache_tier_t *t, const void *key, size_t klen,
                           char **out, size_t *out_len) {
    char *k = malloc(t->kt_prefix_len + klen);
    if (!k)
        return RCACHE_ENOMEM;
    memcpy(k, t->kt_prefix, t->kt_prefix_len);
    memcpy(k + t->kt_prefix_len, key, klen);
    *out = k;
    *out_len = t->kt_prefix_len + klen;
    return RCACHE_OK;
}

size_t rcache__tier_tags_from_reply(const redisReply *r, rcache_tag_t *out) {
    size_t n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < r->elements && n < RCACHE_MAX_TAGS; i++) {
        const redisReply *e = r->element[i];
        if (!e || e->type != REDIS_REPLY_STRING || e->len == 0 ||
            e->len > RCACHE_MAX_TAG_LEN)
            continue;
        out[n].data = e->str;
        out[n].len = e->len;
        n++;
    }
    return n;
}

int rcache__tier_append_write(rcache_tier_t *t, const char *vkey, size_t vlen,
                              const char *ktkey, size_t ktlen, const void *key,
                              size_t klen, const void *val, size_t val_len,
                              int64_t ttl_ms, const rcache_tag_t *tags,
                              size_t ntags) {
    enum { FIXED = 9 };
    const char *argv[FIXED + RCACHE_MAX_TAGS];
    size_t alen[FIXED + RCACHE_MAX_TAGS];
    char px[24];
    size_t pxl = (size_t)snprintf(px, sizeof px, "%lld",
                                  (long long)(ttl_ms > 0 ? ttl_ms : 0));
    const char *set[5] = {"SET", vkey, val ? val : "", "PX", px};
    size_t setlen[5] = {3, vlen, val_len, 2, pxl};
    if (ntags > RCACHE_MAX_TAGS)
        return RCACHE_ETOOBIG;
    argv[0] = "EVAL";
    alen[0] = 4;
    argv[1] = write_lua;
    alen[1] = sizeof write_lua - 1;
    argv[2] = "2";
    alen[2] = 1;
    argv[3] = vkey;
    alen[3] = vlen;
    argv[4] = ktkey;
    alen[4] = ktlen;
    argv[5] = set[2];
    alen[5] = val_len;
    argv[6] = px;
    alen[6] = pxl;
    argv[7] = t->ts_prefix;
    alen[7] = t->ts_prefix_len;
    argv[8] = key;
    alen[8] = klen;
    for (size_t i = 0; i < ntags; i++) {
        argv[FIXED + i] = tags[i].data;
        alen[FIXED + i] = tags[i].len;
    }
    /* The SET alone, not in the script nor in MULTI: Redis 7.0 reports
     * writes made by a script or a transaction to the writer too, NOLOOP
     * notwithstanding, and our own bus would then drop what we install. */
    if (redisAppendCommandArgv(t->rc, ttl_ms > 0 ? 5 : 3, set, setlen) !=
            REDIS_OK ||
        redisAppendCommandArgv(t->rc, (int)(FIXED + ntags), argv, alen) !=
            REDIS_OK)
        return RCACHE_ENOMEM;
    return RCACHE_OK;
}

/* The L2 keys (prefix + key) of n L1 keys, as UNLINK's arguments. */
static int unlink_argv(rcache_tier_t *t, size_t n, const char *const *keys,
                       const size_t *lens, const char ***argv_out,
                       size_t **alen_out, char **buf_out) {
    size_t total = 0;
    const char **argv;
    size_t *alen;
    char *buf, *o;
    for (size_t i = 0; i < n; i++)
        total += t->prefix_len + lens[i];
    argv = malloc((n + 1) * sizeof *argv);
    alen = malloc((n + 1) * sizeof *alen);
    buf = malloc(total ? total : 1);
    if (!argv || !alen || !buf) {
        free(argv);
        free(alen);
        free(buf);
        return -1;
    }
    argv[0] = "UNLINK";
    alen[0] = 6;
    o = buf;
    for (size_t i = 0; i < n; i++) {
        memcpy(o, t->prefix, t->prefix_len);
        memcpy(o + t->prefix_len, keys[i], lens[i]);
        argv[i + 1] = o;
        alen[i + 1] = t->prefix_len + lens[i];
        o += alen[i + 1];
    }
    *argv_out = argv;
    *alen_out = alen;
    *buf_out = buf;
    return 0;
}

/* The drop script's arguments for n keys; malloc'd. */
static int drop_argv(rcache_tier_t *t, const void *tag, size_t tag_len,
                     size_t n, const char *const *keys, const size_t *lens,
                     const char ***argv_out, size_t **alen_out) {
    enum { FIXED = 6 };
    const char **argv = malloc((FIXED + n) * sizeof *argv);
    size_t *alen = malloc((FIXED + n) * sizeof *alen);
    if (!argv || !alen) {
        free(argv);
        free(alen);
        return -1;
    }
    argv[0] = "EVAL";
    alen[0] = 4;
    argv[1] = drop_lua;
    alen[1] = sizeof drop_lua - 1;
    argv[2] = "0";
    alen[2] = 1;
    argv[3] = t->kt_prefix;
    alen[3] = t->kt_prefix_len;
    argv[4] = t->ts_prefix;
    alen[4] = t->ts_prefix_len;
    argv[5] = tag ? tag : "";
    alen[5] = tag ? tag_len : 0;
    for (size_t i = 0; i < n; i++) {
        argv[FIXED + i] = keys[i];
        alen[FIXED + i] = lens[i];
    }
    *argv_out = argv;
    *alen_out = alen;
    return (int)(FIXED + n);
}

/* UNLINK the values of n L1 keys; adds the count to *removed. 0 or -1. */
static int unlink_values(rcache_tier_t *t, size_t n, const char *const *keys,
                         const size_t *lens, uint64_t *removed) {
    const char **argv;
    size_t *alen;
    char *buf;
    redisReply *r;
    if (n == 0)
        return 0;
    if (unlink_argv(t, n, keys, lens, &argv, &alen, &buf))
        return -1;
    r = rcache__tier_l2_command(t, (int)n + 1, argv, alen);
    free(argv);
    free(alen);
    free(buf);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER && removed)
        *removed += (uint64_t)r->integer;
    freeReplyObject(r);
    return 0;
}

int rcache__tier_l2_drop(rcache_tier_t *t, const void *tag, size_t tag_len,
                         size_t n, const char *const *keys, const size_t *lens,
                         uint64_t *removed) {
    const char **argv, **ks;
    size_t *alen, *ls, m = 0;
    redisReply *r;
    int argc, rc;
    if (n == 0)
        return 0;
    if ((argc = drop_argv(t, tag, tag_len, n, keys, lens, &argv, &alen)) < 0)
        return -1;
    /* Records first, values second: a write landing in between leaves
     * records without a value (harmless, pruned later), never a tagged
     * value without its records. */
    r = rcache__tier_l2_command(t, argc, argv, alen);
    free(argv);
    free(alen);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    if (!tag) {
        freeReplyObject(r);
        return unlink_values(t, n, keys, lens, removed);
    }
    ks = malloc((r->elements ? r->elements : 1) * sizeof *ks);
    ls = malloc((r->elements ? r->elements : 1) * sizeof *ls);
    if (!ks || !ls) {
        free(ks);
        free(ls);
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING) {
            ks[m] = r->element[i]->str;
            ls[m++] = r->element[i]->len;
        }
    rc = unlink_values(t, m, ks, ls, removed);
    free(ks);
    free(ls);
    freeReplyObject(r);
    return rc;
}

/* SSCAN the tag's set and drop each page; 0, or -1 when L2 failed. */
static int l2_invalidate_tag(rcache_tier_t *t, const void *tag, size_t tag_len,
                             uint64_t *n) {
    size_t sl = t->ts_prefix_len + tag_len;
    char *set = malloc(sl), cursor[32] = "0";
    int rc = 0;
    if (!set)
        return -1;
    memcpy(set, t->ts_prefix, t->ts_prefix_len);
    memcpy(set + t->ts_prefix_len, tag, tag_len);
    do {
        const char *argv[5] = {"SSCAN", set, cursor, "COUNT", SSCAN_BATCH};
        size_t alen[5] = {5, sl, strlen(cursor), 5, strlen(SSCAN_BATCH)};
        redisReply *r = rcache__tier_l2_command(t, 5, argv, alen);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[0]->len >= sizeof cursor ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            if (r)
                freeReplyObject(r);
            rc = -1;
            break;
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = 0;
        rc = rcache__tier_drop_page(t, tag, tag_len, r->element[1], 0, -1, n);
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    free(set);
    return rc;
}

int rcache_tier_invalidate_tag(rcache_tier_t *t, const void *tag,
                               size_t tag_len, uint64_t *removed_l1,
                               uint64_t *removed_l2) {
    uint64_t n1 = 0, n2 = 0, again = 0;
    int rc, l2rc;
    if (!t || !tag || tag_len == 0)
        return RCACHE_EINVAL;
    if (tag_len > RCACHE_MAX_TAG_LEN)
        return RCACHE_ETOOBIG;
    if ((rc = rcache_invalidate_tag(t->c, tag, tag_len, &n1)) != RCACHE_OK)
        return rc;
    l2rc = l2_invalidate_tag(t, tag, tag_len, &n2);
    /* A fill sent before the drop may carry the tag, and NOLOOP keeps our
     * own UNLINKs off our bus: drop every pending fill and sweep L1 by the
     * tag once more (a fill installed meanwhile was read with its tags). */
    pthread_mutex_lock(&t->mu);
    for (rcache__pending_t *p = t->pending; p; p = p->next)
        p->dead = 1;
    (void)rcache_invalidate_tag(t->c, tag, tag_len, &again);
    pthread_mutex_unlock(&t->mu);
    if (removed_l1)
        *removed_l1 = n1 + again;
    if (removed_l2)
        *removed_l2 = n2;
    return l2rc ? RCACHE_TIER_EUNAVAIL : RCACHE_OK;
}
