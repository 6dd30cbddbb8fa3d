/*
 * keyclass.c - per key class counts (rcache_config_t.key_class): entries,
 * entries with a TTL and the sum of their expiry times for each class of a
 * caller-defined partition of the keyspace, kept per shard under the shard
 * lock at the same three points as the shard's own counts (an entry joins
 * the table, leaves it, or its TTL changes).
 *
 * Why: rcached's numbered databases live in one cache (a key of database
 * N > 0 carries a prefix); DBSIZE, INFO keyspace, /metrics and FLUSHDB of
 * one database used to walk every key once a database above 0 was used.
 * With the database as the key's class they read O(shards x classes)
 * counters instead. The class is recomputed from the key at each point (a
 * key never changes), so the entry header carries nothing for it.
 */
#include "internal.h"

uint32_t rcache__kclass_of(const rcache__kclass_t *k, const unsigned char *key,
                           size_t klen) {
    if (!k->n)
        return 0;
    uint32_t cls = k->fn(key, klen, k->ctx);
    return cls < k->n ? cls : 0;
}

int rcache__kclass_init(rcache_t *c) {
    if (!c->kclass.n)
        return RCACHE_OK;
    for (uint32_t i = 0; i < c->nshards; i++) {
        c->shards[i].kcls = rcache__calloc(c->kclass.n, sizeof(rcache__kcls_t));
        if (!c->shards[i].kcls)
            return RCACHE_ENOMEM; /* rcache__kclass_fini() frees the others */
        c->shards[i].kcfg = &c->kclass;
    }
    return RCACHE_OK;
}

void rcache__kclass_fini(rcache_t *c) {
    for (uint32_t i = 0; c->shards && i < c->nshards; i++) {
        rcache__free(c->shards[i].kcls);
        c->shards[i].kcls = NULL;
    }
}

static rcache__kcls_t *class_of_entry(rcache__shard_t *s, const rcache__entry_t *e) {
    return &s->kcls[rcache__kclass_of(s->kcfg, rcache__entry_key(e), e->klen)];
}

void rcache__kclass_count_locked(rcache__shard_t *s, const rcache__entry_t *e,
                                 int sign) {
    if (!s->kcls)
        return;
    rcache__kcls_t *k = class_of_entry(s, e);
    if (sign > 0) {
        k->items++;
        if (e->expire_at_ms) {
            k->nttl++;
            k->ttl_sum += e->expire_at_ms;
        }
    } else {
        k->items--;
        if (e->expire_at_ms) {
            k->nttl--;
            k->ttl_sum -= e->expire_at_ms;
        }
    }
}

void rcache__kclass_expire_locked(rcache__shard_t *s, const rcache__entry_t *e,
                                  uint64_t at_ms) {
    if (!s->kcls)
        return;
    rcache__kcls_t *k = class_of_entry(s, e);
    if (e->expire_at_ms && !at_ms)
        k->nttl--;
    else if (!e->expire_at_ms && at_ms)
        k->nttl++;
    k->ttl_sum -= e->expire_at_ms;
    k->ttl_sum += at_ms;
}

void rcache__kclass_replace_locked(rcache__shard_t *s, const rcache__entry_t *old,
                                   const rcache__entry_t *e) {
    if (s->kcls && old->expire_at_ms != e->expire_at_ms)
        rcache__kclass_expire_locked(s, old, e->expire_at_ms);
}

uint32_t rcache_key_class(const rcache_t *c, const void *key, size_t key_len) {
    if (!c || !key)
        return 0;
    return rcache__kclass_of(&c->kclass, key, key_len);
}

int rcache_class_stats(rcache_t *c, rcache_class_stats_t *out, uint32_t n) {
    if (!c || !out)
        return RCACHE_EINVAL;
    memset(out, 0, (size_t)n * sizeof(*out));
    if (!n)
        return RCACHE_OK;
    uint32_t ncls = c->kclass.n ? c->kclass.n : 1;
    uint32_t m = n < ncls ? n : ncls;
    unsigned __int128 sum[RCACHE_MAX_KEY_CLASSES] = {0};
    for (uint32_t i = 0; i < c->nshards; i++) {
        rcache__shard_t *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        if (!s->kcls) { /* no classes: the shard's own counts, class 0 */
            out[0].items += s->count;
            out[0].expires += s->nttl;
            sum[0] += s->ttl_sum;
        }
        for (uint32_t j = 0; s->kcls && j < m; j++) {
            out[j].items += s->kcls[j].items;
            out[j].expires += s->kcls[j].nttl;
            sum[j] += s->kcls[j].ttl_sum;
        }
        pthread_mutex_unlock(&s->lock);
    }
    uint64_t now = rcache__clock_now(&c->clock);
    for (uint32_t j = 0; j < m; j++) {
        /* as rcache_stats(): the mean expiry less now, clamped at 0 */
        unsigned __int128 avg = out[j].expires ? sum[j] / out[j].expires : 0;
        out[j].avg_ttl_ms = avg > now ? (uint64_t)(avg - now) : 0;
    }
    return RCACHE_OK;
}
