/*
 * lease.c - distributed single-flight: rcache_tier_memoize().
 *
 * Within a node, rcache_memoize() already lets one caller per key compute;
 * that caller runs memo_fill() below instead of the user's function. It
 * reads L2; on a miss it takes a lease in L2 with
 *     SET <0xff "lease:" prefix key> <token> NX PX <lease_ms>
 * pipelined with a second GET of the value (a holder writes the value
 * before releasing, so a lease won right after a release sees it). The
 * holder computes, writes the result through (SET and the tag script of
 * tags.c, with the result's tags; then L1) and releases with a
 * compare-and-delete script, so an expired lease taken over by another
 * node is never deleted by its late first holder. Nodes without
 * the lease wait on the tier's condition variable, which the bus signals on
 * every invalidation (the holder's SET of the value is one), re-reading L2
 * at least every lease_poll_ms, until the value appears, the lease expires
 * (they take it over) or their wait_timeout_ms passes. The lease key starts
 * with byte 0xff, outside every key prefix, so it is never tracked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tier_internal.h"

static const char release_lua[] =
    "if redis.call('get',KEYS[1])==ARGV[1] then "
    "return redis.call('del',KEYS[1]) else return 0 end";

typedef struct memo_ctx {
    rcache_tier_t *t;
    rcache_compute_fn fn;
    void *fn_ctx;
    int64_t wait_timeout_ms;
} memo_ctx_t;

typedef struct lease {
    char *key;
    size_t key_len;
    char token[48];
} lease_t;

static int lease_key(rcache_tier_t *t, const void *key, size_t klen,
                     lease_t *l) {
    static _Atomic uint64_t seq;
    l->key_len = 7 + t->prefix_len + klen;
    l->key = malloc(l->key_len);
    if (!l->key)
        return RCACHE_ENOMEM;
    memcpy(l->key, "\xff" "lease:", 7);
    memcpy(l->key + 7, t->prefix, t->prefix_len);
    memcpy(l->key + 7 + t->prefix_len, key, klen);
    snprintf(l->token, sizeof l->token, "%ld.%llu.%llu", (long)getpid(),
             (unsigned long long)rcache__tier_mono_us(),
             (unsigned long long)atomic_fetch_add(&seq, 1));
    return RCACHE_OK;
}

/* Try the lease: 1 = taken (the value still absent), 2 = taken but the
 * value is there now (lease released again), 0 = held by another node,
 * -1 = L2 unreachable. */
static int lease_try(rcache_tier_t *t, const void *key, size_t klen,
                     lease_t *l) {
    char *vk, px[24];
    size_t vkl;
    redisReply *r[2] = {NULL, NULL};
    int got, have, io = -1;
    const char *set[6] = {"SET", l->key, l->token, "NX", "PX", px};
    size_t slen[6] = {3, l->key_len, strlen(l->token), 2, 2, 0};
    if (rcache__tier_l2key(t, key, klen, &vk, &vkl))
        return -1;
    slen[5] = (size_t)snprintf(px, sizeof px, "%llu",
                               (unsigned long long)t->o.lease_ms);
    {
        const char *get[2] = {"GET", vk};
        size_t glen[2] = {3, vkl};
        pthread_mutex_lock(&t->conn_mu);
        if (rcache__tier_conn_ready(t) >= 0) {
            redisAppendCommandArgv(t->rc, 6, set, slen);
            redisAppendCommandArgv(t->rc, 2, get, glen);
            io = rcache__tier_roundtrip(t, 2, r);
        }
        pthread_mutex_unlock(&t->conn_mu);
    }
    free(vk);
    if (io)
        return -1;
    got = r[0]->type == REDIS_REPLY_STATUS;
    have = r[1]->type == REDIS_REPLY_STRING;
    if (r[0]->type == REDIS_REPLY_ERROR || r[1]->type == REDIS_REPLY_ERROR) {
        rcache__tier_reply_error(t, "lease SET", 2, r);
        got = -1;
    }
    rcache__tier_replies_free(2, r);
    return got < 0 ? -1 : !got ? 0 : have ? 2 : 1;
}

static void lease_release(rcache_tier_t *t, lease_t *l) {
    const char *argv[5] = {"EVAL", release_lua, "1", l->key, l->token};
    size_t alen[5] = {4, sizeof release_lua - 1, 1, l->key_len,
                      strlen(l->token)};
    redisReply *r = rcache__tier_l2_command(t, 5, argv, alen);
    if (r)
        freeReplyObject(r);
}

/* Hand an L2 value to rcache_memoize() as the result (not stored again:
 * the read installed it in L1 when it could). */
static int take_fetched(rcache_tier_t *t, rcache__fetched_t *f,
                        rcache_memo_result_t *out) {
    const redisReply *v = f->r[0];
    if (f->is_obj) {
        int d = t->o.deserialize(v->str, v->len, &out->obj, &out->charge_bytes,
                                 &out->dtor, t->o.serializer_ctx);
        out->dtor_ctx = t->o.serializer_ctx;
        rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f->r);
        out->no_store = 1;
        return d == 0 ? RCACHE_OK : RCACHE_ENOMEM;
    }
    out->val = malloc(v->len ? v->len : 1);
    if (!out->val) {
        rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f->r);
        return RCACHE_ENOMEM;
    }
    memcpy((void *)out->val, v->str, v->len);
    out->val_len = v->len;
    out->val_free = free;
    out->no_store = 1;
    rcache__tier_replies_free(RCACHE__FETCH_REPLIES, f->r);
    return RCACHE_OK;
}

/* Run the user's function as lease holder and publish its result. */
static int compute_and_publish(memo_ctx_t *m, const void *key, size_t klen,
                               rcache_memo_result_t *out) {
    rcache_tier_t *t = m->t;
    int rc = m->fn(key, klen, out, m->fn_ctx);
    int64_t ttl;
    rcache_config_t cfg;
    if (rc != RCACHE_OK || out->no_store)
        return rc;
    ttl = out->ttl_ms;
    if (ttl == RCACHE_TTL_DEFAULT || ttl < 0) {
        rcache_get_config(t->c, &cfg);
        ttl = (int64_t)cfg.default_ttl_ms;
    }
    if (!out->obj) {
        rcache__write_t w = {.l2val = out->val, .l2len = out->val_len,
                             .ttl_ms = ttl, .tags = out->tags,
                             .ntags = out->ntags};
        /* invalid tags: rcache_memoize() leaves the result uncached */
        if (rcache__tier_tags_check(out->tags, out->ntags) != RCACHE_OK)
            return rc;
        (void)rcache__tier_write_through(t, key, klen, &w);
        out->no_store = 1; /* in L1 already (or deliberately not) */
    } else if (t->o.serialize) {
        void *buf = NULL;
        size_t len = 0;
        if (rcache__tier_tags_check(out->tags, out->ntags) == RCACHE_OK &&
            t->o.serialize(out->obj, &buf, &len, t->o.serializer_ctx) == 0) {
            /* L2 only; rcache_memoize() stores the object in L1. */
            rcache__write_t w = {.l2val = buf, .l2len = len, .ttl_ms = ttl,
                                 .tags = out->tags, .ntags = out->ntags};
            (void)rcache__tier_l2_write(t, key, klen, &w);
            free(buf);
        }
        out->ttl_ms = rcache__tier_l1_ttl(t, ttl);
    }
    return rc;
}

/* Wait for a bus event or the poll interval; ETIMEDOUT past the deadline. */
static int wait_event(rcache_tier_t *t, uint64_t deadline_ms) {
    uint64_t now = rcache__tier_mono_ms(), until = now + t->o.lease_poll_ms;
    struct timespec ts;
    uint64_t seen;
    if (deadline_ms && now >= deadline_ms)
        return RCACHE_ETIMEDOUT;
    if (deadline_ms && until > deadline_ms)
        until = deadline_ms;
    clock_gettime(CLOCK_REALTIME, &ts);
    {
        uint64_t ns = (uint64_t)ts.tv_nsec + (until - now) * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
    }
    pthread_mutex_lock(&t->mu);
    seen = t->events;
    while (t->events == seen && !atomic_load(&t->stopping))
        if (pthread_cond_timedwait(&t->cv, &t->mu, &ts))
            break;
    pthread_mutex_unlock(&t->mu);
    return RCACHE_OK;
}

static int memo_fill(const void *key, size_t klen, rcache_memo_result_t *out,
                     void *ctx) {
    memo_ctx_t *m = ctx;
    rcache_tier_t *t = m->t;
    uint64_t deadline = m->wait_timeout_ms < 0
                            ? 0
                            : rcache__tier_mono_ms() +
                                  (uint64_t)m->wait_timeout_ms + 1;
    int waited = 0, rc;
    lease_t l;
    if ((rc = lease_key(t, key, klen, &l)) != RCACHE_OK)
        return rc;
    for (;;) {
        rcache__fetched_t f;
        int got;
        rc = rcache__tier_l2_read(t, key, klen, &f);
        if (rc == RCACHE_OK) {
            rc = take_fetched(t, &f, out);
            break;
        }
        if (rc != RCACHE_ENOTFOUND || f.unreachable) {
            rc = rc != RCACHE_ENOTFOUND ? rc : m->fn(key, klen, out, m->fn_ctx);
            break;
        }
        got = lease_try(t, key, klen, &l);
        if (got == 2)
            lease_release(t, &l);
        if (got == 2)
            continue;
        if (got == 1) {
            atomic_fetch_add(&t->n.lease_acquired, 1);
            if (waited)
                atomic_fetch_add(&t->n.lease_takeovers, 1);
            rc = compute_and_publish(m, key, klen, out);
            lease_release(t, &l);
            break;
        }
        if (got < 0) { /* unreachable: as for the read */
            rc = rcache__tier_unavail(t);
            rc = rc ? rc : m->fn(key, klen, out, m->fn_ctx);
            break;
        }
        if (!waited)
            atomic_fetch_add(&t->n.lease_waits, 1);
        waited = 1;
        if ((rc = wait_event(t, deadline)) != RCACHE_OK)
            break;
    }
    free(l.key);
    return rc;
}

int rcache_tier_memoize(rcache_tier_t *t, const void *key, size_t key_len,
                        rcache_compute_fn fn, void *fn_ctx,
                        const rcache_memo_opts_t *opts,
                        rcache_ref_t **ref_out, int *how_out) {
    memo_ctx_t m;
    rcache_memo_opts_t o;
    if (!t || !fn)
        return RCACHE_EINVAL;
    if (opts)
        o = *opts;
    else
        rcache_memo_opts_init(&o);
    if (o.flags & RCACHE_MEMO_BYPASS)
        return rcache_memoize(t->c, key, key_len, fn, fn_ctx, &o, ref_out,
                              how_out);
    m.t = t;
    m.fn = fn;
    m.fn_ctx = fn_ctx;
    m.wait_timeout_ms = o.wait_timeout_ms;
    return rcache_memoize(t->c, key, key_len, memo_fill, &m, &o, ref_out,
                          how_out);
}
