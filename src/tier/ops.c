/*
 * ops.c - the tier's reads and writes: read-through (L1, then GET + PTTL
 * pipelined on L2, installed in L1 under the race check of tier.c),
 * write-through (the write script of tags.c on L2: SET ... PX plus the
 * key's tag records, then L1 synchronously), delete, and pattern
 * invalidation (SCAN MATCH, then the drop script of tags.c per batch).
 *
 * Our own writes are not reported back by the bus (NOLOOP), so a write
 * kills, itself, the pending markers of local fetches of the same key that
 * were sent before it: their replies are older than the write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tier_internal.h"

#define SCAN_BATCH "1000"

/* Mark the pending fills of key dead (except `except`); mu held. */
static void kill_pending_locked(rcache_tier_t *t, const void *key,
                                size_t klen, rcache__pending_t *except) {
    for (rcache__pending_t *p = t->pending; p; p = p->next)
        if (p != except && (!key || (p->key_len == klen &&
                                     memcmp(p->key, key, klen) == 0)))
            p->dead = 1;
}

typedef rcache__fetched_t fetched_t;

/* Read key from L2 and install it in L1. RCACHE_OK (f->r[0] holds the
 * value), RCACHE_ENOTFOUND (f->unreachable tells a fail-open outage from
 * a miss), or the unavailability answer. */
int rcache__tier_l2_read(rcache_tier_t *t, const void *key, size_t klen,
                         fetched_t *f) {
    char *k, *kt = NULL;
    size_t kl, ktl = 0;
    rcache__pending_t p;
    rcache_tag_t tags[RCACHE_MAX_TAGS];
    rcache__write_t w = {0};
    int rc = rcache__tier_l2key(t, key, klen, &k, &kl), ready, io;
    memset(f, 0, sizeof *f);
    if (rc)
        return rc;
    if ((rc = rcache__tier_ktags_key(t, key, klen, &kt, &ktl)) != RCACHE_OK) {
        free(k);
        return rc;
    }
    pthread_mutex_lock(&t->conn_mu);
    ready = rcache__tier_conn_ready(t);
    if (ready < 0) {
        pthread_mutex_unlock(&t->conn_mu);
        free(k);
        free(kt);
        f->unreachable = 1;
        rc = rcache__tier_unavail(t);
        return rc ? rc : RCACHE_ENOTFOUND;
    }
    rcache__pending_add(t, &p, key, klen, ready == 0 ? t->rc_tracking_epoch : 0);
    {
        const char *ga[2] = {"GET", k}, *pa[2] = {"PTTL", k},
                   *sa[2] = {"SMEMBERS", kt};
        size_t len[2] = {3, kl}, plen[2] = {4, kl}, slen[2] = {8, ktl};
        redisAppendCommandArgv(t->rc, 2, ga, len);
        redisAppendCommandArgv(t->rc, 2, pa, plen);
        redisAppendCommandArgv(t->rc, 2, sa, slen);
    }
    io = rcache__tier_roundtrip(t, RCACHE__FETCH_REPLIES, f->r);
    pthread_mutex_unlock(&t->conn_mu);
    free(k);
    free(kt);
    if (io || f->r[0]->type == REDIS_REPLY_ERROR ||
        f->r[1]->type != REDIS_REPLY_INTEGER) {
        rcache__pending_drop(t, &p);
        if (!io)
            rcache__tier_reply_error(t, "GET", RCACHE__FETCH_REPLIES, f->r);
        rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f->r);
        f->unreachable = 1;
        rc = rcache__tier_unavail(t);
        return rc ? rc : RCACHE_ENOTFOUND;
    }
    if (f->r[0]->type != REDIS_REPLY_STRING || f->r[1]->integer == -2) {
        rcache__pending_drop(t, &p);
        rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f->r);
        atomic_fetch_add(&t->n.misses, 1);
        return RCACHE_ENOTFOUND;
    }
    atomic_fetch_add(&t->n.l2_hits, 1);
    /* A tag record of the wrong type or unreadable: installed untagged. */
    w.tags = tags;
    w.ntags = rcache__tier_tags_from_reply(f->r[2], tags);
    w.ttl_ms = f->r[1]->integer;
    if (t->o.deserialize) {
        rcache_destructor_fn dtor = NULL;
        int d = t->o.deserialize(f->r[0]->str, f->r[0]->len, &w.obj, &w.charge,
                                 &dtor, t->o.serializer_ctx);
        if (d == 0) {
            f->is_obj = 1;
            w.dtor = dtor;
            w.dtor_ctx = t->o.serializer_ctx;
            rc = rcache__tier_install(t, &p, &w);
            if (rc != RCACHE_OK && dtor)
                dtor(w.obj, t->o.serializer_ctx);
            f->installed = rc == RCACHE_OK;
            return RCACHE_OK;
        }
        if (d != 1) {
            rcache__pending_drop(t, &p);
            rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f->r);
            return RCACHE_ENOTFOUND;
        }
        w.obj = NULL;
        w.charge = 0;
    }
    w.l2val = f->r[0]->str;
    w.l2len = f->r[0]->len;
    rc = rcache__tier_install(t, &p, &w);
    f->installed = rc == RCACHE_OK;
    return RCACHE_OK;
}

/* Hands an L2 value that could not be kept in L1 (the bus is down, or the
 * key changed meanwhile) to rcache_memoize() as an uncached result, which
 * gives the caller a reference to an entry of its own. */
typedef struct detached {
    rcache_tier_t *t;
    const fetched_t *f;
} detached_t;

static int detached_value(const void *key, size_t klen,
                          rcache_memo_result_t *out, void *ctx) {
    const detached_t *d = ctx;
    const redisReply *v = d->f->r[0];
    (void)key;
    (void)klen;
    out->no_store = 1;
    if (d->f->is_obj &&
        d->t->o.deserialize(v->str, v->len, &out->obj, &out->charge_bytes,
                            &out->dtor, d->t->o.serializer_ctx) == 0) {
        out->dtor_ctx = d->t->o.serializer_ctx;
        return RCACHE_OK;
    }
    out->obj = NULL;
    out->val = v->str;
    out->val_len = v->len;
    return RCACHE_OK;
}

int rcache_tier_get_ref(rcache_tier_t *t, const void *key, size_t key_len,
                        rcache_ref_t **ref_out) {
    fetched_t f;
    int rc;
    if (!t || !ref_out)
        return RCACHE_EINVAL;
    rc = rcache_get_ref(t->c, key, key_len, ref_out);
    if (rc != RCACHE_ENOTFOUND)
        return rc;
    rc = rcache__tier_l2_read(t, key, key_len, &f);
    if (rc != RCACHE_OK)
        return rc;
    if (f.installed && rcache_get_ref(t->c, key, key_len, ref_out) == RCACHE_OK) {
        rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f.r);
        return RCACHE_OK;
    }
    /* Not in L1: the value as read, in an entry of its own. */
    {
        detached_t d = {t, &f};
        rc = rcache_memoize(t->c, key, key_len, detached_value, &d, NULL,
                            ref_out, NULL);
    }
    rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f.r);
    return rc;
}

int rcache_tier_get_alloc(rcache_tier_t *t, const void *key, size_t key_len,
                          void **val_out, size_t *val_len_out) {
    fetched_t f;
    int rc;
    if (!t || !val_out)
        return RCACHE_EINVAL;
    *val_out = NULL;
    rc = rcache_get_alloc(t->c, key, key_len, val_out, val_len_out);
    if (rc != RCACHE_ENOTFOUND)
        return rc;
    rc = rcache__tier_l2_read(t, key, key_len, &f);
    if (rc != RCACHE_OK)
        return rc;
    if (f.is_obj) {
        rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f.r);
        return RCACHE_EWRONGTYPE;
    }
    *val_out = malloc(f.r[0]->len ? f.r[0]->len : 1);
    if (!*val_out) {
        rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f.r);
        return RCACHE_ENOMEM;
    }
    memcpy(*val_out, f.r[0]->str, f.r[0]->len);
    if (val_len_out)
        *val_len_out = f.r[0]->len;
    rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f.r);
    return RCACHE_OK;
}

/* L2 unreachable during a write: fail-open keeps the value in L1 alone
 * (cleared again when the connection comes back); fail-closed drops it. */
static int write_local(rcache_tier_t *t, const void *key, size_t klen,
                       const rcache__write_t *w) {
    rcache_set_opts_t so = {.ttl_ms = rcache__tier_l1_ttl(t, w->ttl_ms),
                            .tags = w->ntags ? w->tags : NULL,
                            .ntags = w->ntags};
    if (rcache__tier_unavail(t)) {
        (void)rcache_delete(t->c, key, klen);
        return RCACHE_TIER_EUNAVAIL;
    }
    return w->obj ? rcache_set_object(t->c, key, klen, w->obj, w->charge,
                                      w->dtor, w->dtor_ctx, &so)
                  : rcache_set_ex(t->c, key, klen, w->l2val, w->l2len, &so,
                                  NULL);
}

/* The replies of a write (SET, then the tag script): 1 when the SET
 * took (a failed tag script is counted as an L2 error: the value is
 * written, its tag records may be stale). */
static int write_replies_ok(rcache_tier_t *t, redisReply **r) {
    if (r[0]->type == REDIS_REPLY_ERROR) {
        rcache__tier_reply_error(t, "SET", 1, r);
        return 0;
    }
    if (r[1]->type == REDIS_REPLY_ERROR)
        rcache__tier_reply_error(t, "tag records script", 1, &r[1]);
    return 1;
}

/* SET and the tag script on L2 (value, TTL, tags), then L1. */
int rcache__tier_write_through(rcache_tier_t *t, const void *key, size_t klen,
                               const rcache__write_t *w) {
    char *k, *kt = NULL;
    size_t kl, ktl = 0;
    rcache__pending_t p;
    redisReply *r[2] = {NULL, NULL};
    int rc = rcache__tier_l2key(t, key, klen, &k, &kl), ready, io;
    if (rc)
        return rc;
    if ((rc = rcache__tier_ktags_key(t, key, klen, &kt, &ktl)) != RCACHE_OK) {
        free(k);
        return rc;
    }
    pthread_mutex_lock(&t->conn_mu);
    ready = rcache__tier_conn_ready(t);
    if (ready < 0) {
        pthread_mutex_unlock(&t->conn_mu);
        free(k);
        free(kt);
        return write_local(t, key, klen, w);
    }
    rcache__pending_add(t, &p, key, klen, ready == 0 ? t->rc_tracking_epoch : 0);
    rc = rcache__tier_append_write(t, k, kl, kt, ktl, key, klen, w->l2val,
                                   w->l2len, w->ttl_ms, w->tags, w->ntags);
    io = rc == RCACHE_OK ? rcache__tier_roundtrip(t, 2, r) : -1;
    pthread_mutex_unlock(&t->conn_mu);
    free(k);
    free(kt);
    if (rc != RCACHE_OK) {
        rcache__pending_drop(t, &p);
        return rc;
    }
    if (io || !write_replies_ok(t, r)) {
        rcache__pending_drop(t, &p);
        if (!io)
            rcache__tier_replies_free(2, r);
        return write_local(t, key, klen, w);
    }
    rcache__tier_replies_free(2, r);
    pthread_mutex_lock(&t->mu);
    kill_pending_locked(t, key, klen, &p);
    pthread_mutex_unlock(&t->mu);
    rc = rcache__tier_install(t, &p, w);
    if (rc == 1) { /* not kept in L1 (raced, or no tracking): L2 has it */
        if (w->obj && w->dtor)
            w->dtor(w->obj, w->dtor_ctx);
        rc = RCACHE_OK;
    }
    return rc;
}

/* The write script alone (L2 only; the caller keeps L1). 0, or -1. */
int rcache__tier_l2_write(rcache_tier_t *t, const void *key, size_t klen,
                          const rcache__write_t *w) {
    char *k, *kt = NULL;
    size_t kl, ktl = 0;
    redisReply *r[2] = {NULL, NULL};
    int io = -1;
    if (rcache__tier_l2key(t, key, klen, &k, &kl))
        return -1;
    if (rcache__tier_ktags_key(t, key, klen, &kt, &ktl)) {
        free(k);
        return -1;
    }
    pthread_mutex_lock(&t->conn_mu);
    if (rcache__tier_conn_ready(t) >= 0 &&
        rcache__tier_append_write(t, k, kl, kt, ktl, key, klen, w->l2val,
                                  w->l2len, w->ttl_ms, w->tags,
                                  w->ntags) == RCACHE_OK)
        io = rcache__tier_roundtrip(t, 2, r);
    pthread_mutex_unlock(&t->conn_mu);
    free(k);
    free(kt);
    if (io)
        return -1;
    io = write_replies_ok(t, r) ? 0 : -1;
    rcache__tier_replies_free(2, r);
    return io;
}

int rcache_tier_set_tagged(rcache_tier_t *t, const void *key, size_t key_len,
                           const void *val, size_t val_len, int64_t ttl_ms,
                           const rcache_tag_t *tags, size_t ntags) {
    rcache__write_t w = {.l2val = val, .l2len = val_len, .ttl_ms = ttl_ms,
                         .tags = tags, .ntags = ntags};
    int rc;
    if (!t || ttl_ms < 0 || (!val && val_len))
        return RCACHE_EINVAL;
    if ((rc = rcache__tier_tags_check(tags, ntags)) != RCACHE_OK)
        return rc;
    return rcache__tier_write_through(t, key, key_len, &w);
}

int rcache_tier_set(rcache_tier_t *t, const void *key, size_t key_len,
                    const void *val, size_t val_len, int64_t ttl_ms) {
    return rcache_tier_set_tagged(t, key, key_len, val, val_len, ttl_ms, NULL,
                                  0);
}

int rcache_tier_set_object(rcache_tier_t *t, const void *key, size_t key_len,
                           void *obj, size_t charge_bytes,
                           rcache_destructor_fn dtor, void *dtor_ctx,
                           int64_t ttl_ms) {
    rcache__write_t w = {.ttl_ms = ttl_ms, .obj = obj, .charge = charge_bytes,
                         .dtor = dtor, .dtor_ctx = dtor_ctx};
    void *buf = NULL;
    int rc;
    if (!t || !obj || ttl_ms < 0 || !t->o.serialize)
        return RCACHE_EINVAL;
    if (t->o.serialize(obj, &buf, &w.l2len, t->o.serializer_ctx))
        return RCACHE_EINVAL;
    w.l2val = buf;
    rc = rcache__tier_write_through(t, key, key_len, &w);
    free(buf);
    return rc;
}

/* Run one command on L2 under conn_mu: the reply, or NULL (unreachable). */
redisReply *rcache__tier_l2_command(rcache_tier_t *t, int argc, const char **argv,
                              const size_t *alen) {
    redisReply *r = NULL;
    pthread_mutex_lock(&t->conn_mu);
    if (rcache__tier_conn_ready(t) >= 0) {
        redisAppendCommandArgv(t->rc, argc, argv, alen);
        if (rcache__tier_roundtrip(t, 1, &r))
            r = NULL;
    }
    pthread_mutex_unlock(&t->conn_mu);
    if (r && r->type == REDIS_REPLY_ERROR) {
        rcache__tier_reply_error(t, argv[0], 1, &r);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

int rcache_tier_delete(rcache_tier_t *t, const void *key, size_t key_len) {
    const char *keys[1] = {key};
    size_t lens[1] = {key_len};
    uint64_t n = 0;
    int rc, l2rc;
    if (!t || !key || key_len == 0)
        return RCACHE_EINVAL;
    if (key_len > RCACHE_MAX_KEY_LEN)
        return RCACHE_ETOOBIG;
    l2rc = rcache__tier_l2_drop(t, NULL, 0, 1, keys, lens, &n);
    pthread_mutex_lock(&t->mu);
    kill_pending_locked(t, key, key_len, NULL);
    rc = rcache_delete(t->c, key, key_len);
    pthread_mutex_unlock(&t->mu);
    if (l2rc)
        return rcache__tier_unavail(t) ? RCACHE_TIER_EUNAVAIL : rc;
    return n > 0 ? RCACHE_OK : rc;
}

/* prefix with glob specials escaped, then pattern; malloc'd. */
static char *l2_pattern(rcache_tier_t *t, const char *pat, size_t plen,
                        size_t *out_len) {
    char *m = malloc(2 * t->prefix_len + plen + 1), *o = m;
    if (!m)
        return NULL;
    for (size_t i = 0; i < t->prefix_len; i++) {
        if (strchr("*?[]\\", t->prefix[i]))
            *o++ = '\\';
        *o++ = t->prefix[i];
    }
    if (plen)
        memcpy(o, pat, plen);
    *out_len = (size_t)(o - m) + plen;
    return m;
}

/* The keys one SCAN or SSCAN page names, dropped from L2 with their tag
 * records (tier_internal.h). */
int rcache__tier_drop_page(rcache_tier_t *t, const void *tag, size_t tag_len,
                           const redisReply *page, int prefixed, int64_t cls,
                           uint64_t *n) {
    const char **ks;
    size_t *lens, m = 0, cut = prefixed ? t->prefix_len : 0;
    int rc;
    if (page->elements == 0)
        return 0;
    ks = malloc(page->elements * sizeof *ks);
    lens = malloc(page->elements * sizeof *lens);
    if (!ks || !lens) {
        free(ks);
        free(lens);
        return -1;
    }
    for (size_t i = 0; i < page->elements; i++) {
        const redisReply *e = page->element[i];
        if (!e || e->type != REDIS_REPLY_STRING)
            continue;
        /* SCAN MATCH <prefix>...: every name starts with the prefix */
        if (prefixed && (e->len <= cut || memcmp(e->str, t->prefix, cut) != 0))
            continue;
        if (cls >= 0 && rcache_key_class(t->c, e->str + cut, e->len - cut) != (uint32_t)cls)
            continue; /* another class (rcached: another database) */
        ks[m] = e->str + cut;
        lens[m++] = e->len - cut;
    }
    rc = rcache__tier_l2_drop(t, tag, tag_len, m, ks, lens, n);
    free(ks);
    free(lens);
    return rc;
}

/* SCAN MATCH + drop over L2 (keys of class cls only when cls >= 0); 0,
 * or -1 when L2 failed part-way. */
static int l2_invalidate(rcache_tier_t *t, const char *pat, size_t plen, int64_t cls,
                         uint64_t *n) {
    size_t mlen;
    char *m = l2_pattern(t, pat, plen, &mlen), cursor[32] = "0";
    int rc = 0;
    if (!m)
        return -1;
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", m, "COUNT", SCAN_BATCH};
        size_t alen[6] = {4, strlen(cursor), 5, mlen, 5, strlen(SCAN_BATCH)};
        redisReply *r = rcache__tier_l2_command(t, 6, argv, alen);
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
        rc = rcache__tier_drop_page(t, NULL, 0, r->element[1], 1, cls, n);
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    free(m);
    return rc;
}

/* L1's part of a pattern invalidation (class cls only when cls >= 0). */
static int l1_invalidate(rcache_tier_t *t, int64_t cls, const char *pat, size_t plen,
                         uint64_t *n) {
    return cls < 0 ? rcache_invalidate(t->c, pat, plen, n)
                   : rcache_invalidate_class(t->c, (uint32_t)cls, pat, plen, n);
}

/* rcache_tier_invalidate() and rcache_tier_invalidate_class() (cls < 0:
 * every class). */
static int tier_invalidate(rcache_tier_t *t, int64_t cls, const char *pattern,
                           size_t pattern_len, uint64_t *removed_l1,
                           uint64_t *removed_l2) {
    uint64_t n1 = 0, n2 = 0, again = 0;
    int rc, l2rc;
    if (!t || (!pattern && pattern_len))
        return RCACHE_EINVAL;
    if ((rc = rcache_glob_validate(pattern, pattern_len)) != RCACHE_OK)
        return rc;
    if ((rc = l1_invalidate(t, cls, pattern, pattern_len, &n1)) != RCACHE_OK)
        return rc;
    l2rc = l2_invalidate(t, pattern, pattern_len, cls, &n2);
    /* Fills sent before the UNLINKs may hold matching keys: drop them all
     * (a rare, conservative miss) and sweep L1 once more. */
    pthread_mutex_lock(&t->mu);
    kill_pending_locked(t, NULL, 0, NULL);
    (void)l1_invalidate(t, cls, pattern, pattern_len, &again);
    pthread_mutex_unlock(&t->mu);
    if (removed_l1)
        *removed_l1 = n1 + again;
    if (removed_l2)
        *removed_l2 = n2;
    return l2rc ? RCACHE_TIER_EUNAVAIL : RCACHE_OK;
}

int rcache_tier_invalidate(rcache_tier_t *t, const char *pattern,
                           size_t pattern_len, uint64_t *removed_l1,
                           uint64_t *removed_l2) {
    return tier_invalidate(t, -1, pattern, pattern_len, removed_l1, removed_l2);
}

int rcache_tier_invalidate_class(rcache_tier_t *t, uint32_t cls, const char *pattern,
                                 size_t pattern_len, uint64_t *removed_l1,
                                 uint64_t *removed_l2) {
    if (!t)
        return RCACHE_EINVAL;
    rcache_config_t cfg;
    rcache_get_config(t->c, &cfg);
    if (cls >= (cfg.key_classes ? cfg.key_classes : 1u))
        return RCACHE_EINVAL;
    return tier_invalidate(t, cfg.key_classes ? (int64_t)cls : -1, pattern, pattern_len,
                           removed_l1, removed_l2);
}
