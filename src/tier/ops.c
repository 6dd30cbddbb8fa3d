/*
 * ops.c - the tier's reads and writes: read-through (L1, then GET + PTTL
 * pipelined on L2, installed in L1 under the race check of tier.c),
 * write-through (SET ... PX on L2, then L1 synchronously), delete, and
 * pattern invalidation (SCAN MATCH + UNLINK in batches on L2).
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
    char *k;
    size_t kl;
    rcache__pending_t p;
    int rc = rcache__tier_l2key(t, key, klen, &k, &kl), ready, io;
    const char *ga[2] = {"GET", k}, *pa[2] = {"PTTL", k};
    size_t len[2] = {3, kl}, plen[2] = {4, kl};
    memset(f, 0, sizeof *f);
    if (rc)
        return rc;
    pthread_mutex_lock(&t->conn_mu);
    ready = rcache__tier_conn_ready(t);
    if (ready < 0) {
        pthread_mutex_unlock(&t->conn_mu);
        free(k);
        f->unreachable = 1;
        rc = rcache__tier_unavail(t);
        return rc ? rc : RCACHE_ENOTFOUND;
    }
    rcache__pending_add(t, &p, key, klen, ready == 0 ? t->rc_tracking_epoch : 0);
    redisAppendCommandArgv(t->rc, 2, ga, len);
    redisAppendCommandArgv(t->rc, 2, pa, plen);
    io = rcache__tier_roundtrip(t, 2, f->r);
    pthread_mutex_unlock(&t->conn_mu);
    free(k);
    if (io || f->r[0]->type == REDIS_REPLY_ERROR ||
        f->r[1]->type != REDIS_REPLY_INTEGER) {
        rcache__pending_drop(t, &p);
        if (!io)
            rcache__tier_reply_error(t, "GET", 2, f->r);
        rcache__tier_replies_free(2, f->r);
        f->unreachable = 1;
        rc = rcache__tier_unavail(t);
        return rc ? rc : RCACHE_ENOTFOUND;
    }
    if (f->r[0]->type != REDIS_REPLY_STRING || f->r[1]->integer == -2) {
        rcache__pending_drop(t, &p);
        rcache__tier_replies_free(2, f->r);
        atomic_fetch_add(&t->n.misses, 1);
        return RCACHE_ENOTFOUND;
    }
    atomic_fetch_add(&t->n.l2_hits, 1);
    if (t->o.deserialize) {
        void *obj = NULL;
        size_t charge = 0;
        rcache_destructor_fn dtor = NULL;
        int d = t->o.deserialize(f->r[0]->str, f->r[0]->len, &obj, &charge,
                                 &dtor, t->o.serializer_ctx);
        if (d == 0) {
            f->is_obj = 1;
            rc = rcache__tier_install(t, &p, NULL, 0, f->r[1]->integer, obj,
                                      charge, dtor, t->o.serializer_ctx);
            if (rc != RCACHE_OK && dtor)
                dtor(obj, t->o.serializer_ctx);
            f->installed = rc == RCACHE_OK;
            return RCACHE_OK;
        }
        if (d != 1) {
            rcache__pending_drop(t, &p);
            rcache__tier_replies_free(2, f->r);
            return RCACHE_ENOTFOUND;
        }
    }
    rc = rcache__tier_install(t, &p, f->r[0]->str, f->r[0]->len,
                              f->r[1]->integer, NULL, 0, NULL, NULL);
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
        rcache__tier_replies_free(2, f.r);
        return RCACHE_OK;
    }
    /* Not in L1: the value as read, in an entry of its own. */
    {
        detached_t d = {t, &f};
        rc = rcache_memoize(t->c, key, key_len, detached_value, &d, NULL,
                            ref_out, NULL);
    }
    rcache__tier_replies_free(2, f.r);
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
        rcache__tier_replies_free(2, f.r);
        return RCACHE_EWRONGTYPE;
    }
    *val_out = malloc(f.r[0]->len ? f.r[0]->len : 1);
    if (!*val_out) {
        rcache__tier_replies_free(2, f.r);
        return RCACHE_ENOMEM;
    }
    memcpy(*val_out, f.r[0]->str, f.r[0]->len);
    if (val_len_out)
        *val_len_out = f.r[0]->len;
    rcache__tier_replies_free(2, f.r);
    return RCACHE_OK;
}

/* L2 unreachable during a write: fail-open keeps the value in L1 alone
 * (cleared again when the connection comes back); fail-closed drops it. */
static int write_local(rcache_tier_t *t, const void *key, size_t klen,
                       const void *val, size_t vlen, int64_t ttl_ms,
                       void *obj, size_t charge, rcache_destructor_fn dtor,
                       void *dtor_ctx) {
    rcache_set_opts_t so = {.ttl_ms = rcache__tier_l1_ttl(t, ttl_ms)};
    if (rcache__tier_unavail(t)) {
        (void)rcache_delete(t->c, key, klen);
        return RCACHE_TIER_EUNAVAIL;
    }
    return obj ? rcache_set_object(t->c, key, klen, obj, charge, dtor,
                                   dtor_ctx, &so)
               : rcache_set_ex(t->c, key, klen, val, vlen, &so, NULL);
}

/* SET on L2 then L1. l2val/l2len: the L2 bytes; obj: the L1 value when
 * not NULL (else the bytes). */
int rcache__tier_write_through(rcache_tier_t *t, const void *key, size_t klen,
                         const void *l2val, size_t l2len, int64_t ttl_ms,
                         void *obj, size_t charge, rcache_destructor_fn dtor,
                         void *dtor_ctx) {
    char *k, px[24];
    size_t kl;
    rcache__pending_t p;
    redisReply *r = NULL;
    int rc = rcache__tier_l2key(t, key, klen, &k, &kl), ready, io;
    const char *argv[5] = {"SET", k, l2val ? l2val : "", "PX", px};
    size_t alen[5] = {3, kl, l2len, 2, 0};
    if (rc)
        return rc;
    alen[4] = (size_t)snprintf(px, sizeof px, "%lld", (long long)ttl_ms);
    pthread_mutex_lock(&t->conn_mu);
    ready = rcache__tier_conn_ready(t);
    if (ready < 0) {
        pthread_mutex_unlock(&t->conn_mu);
        free(k);
        return write_local(t, key, klen, l2val, l2len, ttl_ms, obj, charge,
                           dtor, dtor_ctx);
    }
    rcache__pending_add(t, &p, key, klen, ready == 0 ? t->rc_tracking_epoch : 0);
    redisAppendCommandArgv(t->rc, ttl_ms > 0 ? 5 : 3, argv, alen);
    io = rcache__tier_roundtrip(t, 1, &r);
    pthread_mutex_unlock(&t->conn_mu);
    free(k);
    if (io || r->type == REDIS_REPLY_ERROR) {
        rcache__pending_drop(t, &p);
        if (!io)
            rcache__tier_reply_error(t, "SET", 1, &r);
        rcache__tier_replies_free(1, &r);
        return write_local(t, key, klen, l2val, l2len, ttl_ms, obj, charge,
                           dtor, dtor_ctx);
    }
    freeReplyObject(r);
    pthread_mutex_lock(&t->mu);
    kill_pending_locked(t, key, klen, &p);
    pthread_mutex_unlock(&t->mu);
    rc = rcache__tier_install(t, &p, l2val, l2len, ttl_ms, obj, charge, dtor,
                              dtor_ctx);
    if (rc == 1) { /* not kept in L1 (raced, or no tracking): L2 has it */
        if (obj && dtor)
            dtor(obj, dtor_ctx);
        rc = RCACHE_OK;
    }
    return rc;
}

int rcache_tier_set(rcache_tier_t *t, const void *key, size_t key_len,
                    const void *val, size_t val_len, int64_t ttl_ms) {
    if (!t || ttl_ms < 0 || (!val && val_len))
        return RCACHE_EINVAL;
    return rcache__tier_write_through(t, key, key_len, val, val_len, ttl_ms, NULL, 0, NULL,
                         NULL);
}

int rcache_tier_set_object(rcache_tier_t *t, const void *key, size_t key_len,
                           void *obj, size_t charge_bytes,
                           rcache_destructor_fn dtor, void *dtor_ctx,
                           int64_t ttl_ms) {
    void *buf = NULL;
    size_t len = 0;
    int rc;
    if (!t || !obj || ttl_ms < 0 || !t->o.serialize)
        return RCACHE_EINVAL;
    if (t->o.serialize(obj, &buf, &len, t->o.serializer_ctx))
        return RCACHE_EINVAL;
    rc = rcache__tier_write_through(t, key, key_len, buf, len, ttl_ms, obj, charge_bytes,
                       dtor, dtor_ctx);
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
    char *k;
    size_t kl;
    redisReply *r;
    int rc;
    if (!t)
        return RCACHE_EINVAL;
    if ((rc = rcache__tier_l2key(t, key, key_len, &k, &kl)) != RCACHE_OK)
        return rc;
    {
        const char *argv[2] = {"UNLINK", k};
        size_t alen[2] = {6, kl};
        r = rcache__tier_l2_command(t, 2, argv, alen);
    }
    free(k);
    pthread_mutex_lock(&t->mu);
    kill_pending_locked(t, key, key_len, NULL);
    rc = rcache_delete(t->c, key, key_len);
    pthread_mutex_unlock(&t->mu);
    if (!r)
        return rcache__tier_unavail(t) ? RCACHE_TIER_EUNAVAIL : rc;
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        rc = RCACHE_OK;
    freeReplyObject(r);
    return rc;
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

/* UNLINK the keys of one SCAN page; count them into *n. 0 or -1. */
static int unlink_page(rcache_tier_t *t, const redisReply *keys, uint64_t *n) {
    const char **argv;
    size_t *alen;
    redisReply *r;
    if (keys->elements == 0)
        return 0;
    argv = malloc((keys->elements + 1) * sizeof *argv);
    alen = malloc((keys->elements + 1) * sizeof *alen);
    if (!argv || !alen) {
        free(argv);
        free(alen);
        return -1;
    }
    argv[0] = "UNLINK";
    alen[0] = 6;
    for (size_t i = 0; i < keys->elements; i++) {
        argv[i + 1] = keys->element[i]->str;
        alen[i + 1] = keys->element[i]->len;
    }
    r = rcache__tier_l2_command(t, (int)keys->elements + 1, argv, alen);
    free(argv);
    free(alen);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER)
        *n += (uint64_t)r->integer;
    freeReplyObject(r);
    return 0;
}

/* SCAN MATCH + UNLINK over L2; 0, or -1 when L2 failed part-way. */
static int l2_invalidate(rcache_tier_t *t, const char *pat, size_t plen,
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
        rc = unlink_page(t, r->element[1], n);
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    free(m);
    return rc;
}

int rcache_tier_invalidate(rcache_tier_t *t, const char *pattern,
                           size_t pattern_len, uint64_t *removed_l1,
                           uint64_t *removed_l2) {
    uint64_t n1 = 0, n2 = 0, again = 0;
    int rc, l2rc;
    if (!t || (!pattern && pattern_len))
        return RCACHE_EINVAL;
    if ((rc = rcache_glob_validate(pattern, pattern_len)) != RCACHE_OK)
        return rc;
    if ((rc = rcache_invalidate(t->c, pattern, pattern_len, &n1)) != RCACHE_OK)
        return rc;
    l2rc = l2_invalidate(t, pattern, pattern_len, &n2);
    /* Fills sent before the UNLINKs may hold matching keys: drop them all
     * (a rare, conservative miss) and sweep L1 once more. */
    pthread_mutex_lock(&t->mu);
    kill_pending_locked(t, NULL, 0, NULL);
    (void)rcache_invalidate(t->c, pattern, pattern_len, &again);
    pthread_mutex_unlock(&t->mu);
    if (removed_l1)
        *removed_l1 = n1 + again;
    if (removed_l2)
        *removed_l2 = n2;
    return l2rc ? RCACHE_TIER_EUNAVAIL : RCACHE_OK;
}
