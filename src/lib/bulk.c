/*
 * bulk.c - storing many prepared entries at once: the snapshot loader's
 * fast path (snapshot_load.c).
 *
 * Why: a load through rcache_set() paid, per key, a shard lock, an
 * eviction call, reference-count atomics, an expiry sweep step and two
 * cache misses in the hash table (the bucket slot and the chain head); on
 * 1M small keys perf put the hash-chain lookup alone at about a third of
 * the load.  Here entries are queued (up to RCACHE__BULK_CAP of them or
 * RCACHE__BULK_BYTES of values), then stored shard by shard: one lock per
 * shard per batch, the bucket slots and chain heads prefetched a few
 * entries ahead, one
 * eviction call per shard per batch.  rcache__bulk_reserve() grows the
 * tables once, before a load, to the size it will need, so no rehash runs
 * during it.
 *
 * Semantics are rcache_set_ex()'s with an absolute expiry: a key already
 * in the cache is replaced (and a later duplicate in the same batch
 * replaces an earlier one: entries of one shard keep their queue order),
 * both limits hold after each shard's part of a batch (entries of a batch
 * are linked before the eviction that follows them, so a cache smaller
 * than a batch evicts the batch's oldest entries: the most recently used,
 * queued last, stay), stores count in the stats as sets.  The caller
 * checks expiry before queueing.  Never used on a disabled cache.
 */
#include "diag.h"
#include "internal.h"

#include <string.h>

#define PREFETCH_AHEAD ((size_t)8)

struct rcache__bulk {
    rcache_t *c;
    size_t n;          /* queued */
    uint64_t vbytes;   /* value bytes queued */
    rcache__entry_t *e[RCACHE__BULK_CAP];
    uint64_t hash[RCACHE__BULK_CAP];
    int64_t idle_s[RCACHE__BULK_CAP];  /* -1: accessed now */
    uint64_t charge[RCACHE__BULK_CAP]; /* for the diagnostics, after unlock */
    uint32_t order[RCACHE__BULK_CAP];  /* queue indexes grouped by shard */
    uint32_t *start;                   /* nshards + 1 group offsets */
};

rcache__bulk_t *rcache__bulk_new(rcache_t *c) {
    rcache__bulk_t *b = rcache__calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->start = rcache__calloc((size_t)c->nshards + 1, sizeof(uint32_t));
    if (!b->start) {
        rcache__free(b);
        return NULL;
    }
    b->c = c;
    return b;
}

/* Access time of a stored entry: now, or idle_s before now. */
static uint32_t atime_of(const rcache_t *c, uint64_t now_ms, int64_t idle_s) {
    uint64_t at = now_ms;
    if (idle_s > 0)
        at = (uint64_t)idle_s * 1000u < now_ms ? now_ms - (uint64_t)idle_s * 1000u : 0;
    return rcache__clock_rel_s(&c->clock, at);
}

/* Store the n queued entries ix[] of shard s, in queue order. */
static void store_group(rcache__bulk_t *b, rcache__shard_t *s, const uint32_t *ix,
                        size_t n) {
    rcache_t *c = b->c;
    rcache__reclaim_t r = {0};
    rcache__optime_t t = {0, RCACHE__T_NONE};
    rcache__entry_t *e = NULL;
    pthread_mutex_lock(&s->lock);
    uint64_t now_ms = rcache__op_stamp(c, &t);
    uint32_t now_rel = rcache__clock_rel_s(&c->clock, now_ms);
    for (size_t i = 0; i < n; i++) {
        /* two stages: the bucket line 2*AHEAD entries ahead, then the
         * entry its tag points to AHEAD entries ahead */
        if (i + 2 * PREFETCH_AHEAD < n)
            rcache__index_prefetch(&s->idx,
                                   (uint32_t)b->hash[ix[i + 2 * PREFETCH_AHEAD]]);
        if (i + PREFETCH_AHEAD < n)
            rcache__index_prefetch_entry(&s->idx,
                                         (uint32_t)b->hash[ix[i + PREFETCH_AHEAD]]);
        e = b->e[ix[i]];
        rcache__entry_t *old = rcache__shard_lookup_locked(
            c, s, b->hash[ix[i]], rcache__entry_key(e), e->klen, &t, &r);
        e->ctime_s = now_rel;
        rcache__atime_set(e, b->idle_s[ix[i]] > 0
                                 ? atime_of(c, now_ms, b->idle_s[ix[i]])
                                 : now_rel);
        s->st.sets++;
        b->charge[ix[i]] = rcache__entry_charge(e);
        if (old) {
            rcache__shard_replace_locked(c, s, old, e, (uint32_t)b->hash[ix[i]]);
            rcache__reclaim_push(&r, old);
        } else if (rcache__shard_link_locked(c, s, e, (uint32_t)b->hash[ix[i]]) !=
                   RCACHE_OK) {
            /* no room in the index (ENOMEM): the entry is dropped, as an
             * entry the limits would evict */
            s->st.sets--;
            b->charge[ix[i]] = 0;
            rcache__reclaim_push(&r, e);
        }
    }
    rcache__entry_ref(e); /* kept across rcache__evict() */
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++)
        rcache__diag_store(c, b->hash[ix[i]], b->charge[ix[i]]);
    rcache__evict(c, e, &r);
    rcache__entry_unref(e);
    rcache__reclaim_run(&r);
}

void rcache__bulk_flush(rcache__bulk_t *b) {
    rcache_t *c = b->c;
    uint32_t ns = c->nshards;
    if (b->n == 0)
        return;
    /* counting sort of the queue by shard, stable */
    memset(b->start, 0, ((size_t)ns + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < b->n; i++)
        b->start[(size_t)(rcache__shard_of(c, b->hash[i]) - c->shards) + 1]++;
    for (uint32_t k = 0; k < ns; k++)
        b->start[k + 1] += b->start[k];
    for (size_t i = 0; i < b->n; i++) {
        size_t k = (size_t)(rcache__shard_of(c, b->hash[i]) - c->shards);
        b->order[b->start[k]++] = (uint32_t)i;
    }
    /* start[k] is now the end of group k; group k begins at start[k-1] */
    for (uint32_t k = 0, from = 0; k < ns; k++) {
        if (b->start[k] > from)
            store_group(b, &c->shards[k], b->order + from, b->start[k] - from);
        from = b->start[k];
    }
    b->n = 0;
    b->vbytes = 0;
}

int rcache__bulk_add(rcache__bulk_t *b, const void *key, size_t klen,
                     const void *val, size_t vlen, uint64_t expire_at_ms,
                     int64_t idle_s) {
    rcache_t *c = b->c;
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);
    int rc = rcache__key_check(key, klen);
    if (rc != RCACHE_OK)
        return rc;
    if (vlen > UINT32_MAX || (mb && rcache__entry_size(klen, vlen, 0, 0) > mb))
        return RCACHE_ETOOBIG;
    rcache__entry_t *e = rcache__entry_new(b->c, key, klen, val, vlen, 0);
    if (!e)
        return RCACHE_ENOMEM;
    uint64_t hash = rcache__hash(key, klen);
    e->expire_at_ms = expire_at_ms;
    b->e[b->n] = e;
    b->hash[b->n] = hash;
    b->idle_s[b->n] = idle_s;
    b->n++;
    b->vbytes += vlen;
    if (b->n == RCACHE__BULK_CAP || b->vbytes >= RCACHE__BULK_BYTES)
        rcache__bulk_flush(b);
    return RCACHE_OK;
}

void rcache__bulk_free(rcache__bulk_t *b) {
    if (!b)
        return;
    rcache__bulk_flush(b);
    rcache__free(b->start);
    rcache__free(b);
}

void rcache__bulk_reserve(rcache_t *c, uint64_t entries) {
    uint64_t per = entries / c->nshards;
    per += per / 8 + 16; /* keys do not spread exactly evenly */
    for (uint32_t k = 0; k < c->nshards; k++) {
        rcache__shard_t *s = &c->shards[k];
        pthread_mutex_lock(&s->lock);
        rcache__shard_reserve_locked(s, s->count + per);
        pthread_mutex_unlock(&s->lock);
    }
}
