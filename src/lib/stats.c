/*
 * stats.c - statistics snapshots and runtime reconfiguration.
 *
 * Store counters live in each shard and are bumped under that shard's
 * lock; lookup counters (hits, misses, compute_saved_ms) live in per-thread
 * slots (internal.h, rcache__ctr_t), so a hit writes no shared line and
 * needs no lock. A snapshot sums the shards one lock at a time and the
 * slots with relaxed loads: each counter is exact once the calls counted
 * have returned, but the snapshot is not a single instant.
 *
 * rcache_stats_reset() zeroes every counter: the shards under their locks,
 * the slots with atomic stores. A lookup that runs during the reset is
 * counted either before the reset (and zeroed) or after it; a hit and its
 * compute_saved_ms may fall on either side of it independently.
 */
#include "internal.h"

#include <string.h>

/* Mean remaining TTL from the shards' sums of expiry times: sum/n - now,
 * where an expired entry (expiry before now) would count as negative; the
 * result is clamped at 0 rather than corrected, as in Redis's estimate. */
static uint64_t avg_ttl(unsigned __int128 sum, uint64_t n, uint64_t now) {
    if (!n)
        return 0;
    unsigned __int128 avg = sum / n;
    return avg > now ? (uint64_t)(avg - now) : 0;
}

rcache__ctr_t *rcache__ctr(const rcache_t *c) {
    static _Atomic unsigned next_slot;
    static _Thread_local unsigned slot = UINT32_MAX;
    if (slot == UINT32_MAX)
        slot = atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed) %
               RCACHE__CTR_SLOTS;
    return &c->ctrs[slot];
}

void rcache_stats(rcache_t *c, rcache_stats_t *out) {
    unsigned __int128 ttl_sum = 0;
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    for (uint32_t i = 0; i < c->nshards; i++) {
        rcache__shard_t *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        out->sets += s->st.sets;
        out->deletes += s->st.deletes;
        out->evictions_items += s->st.evictions_items;
        out->evictions_bytes += s->st.evictions_bytes;
        out->expirations += s->st.expirations;
        out->expires += s->nttl;
        ttl_sum += s->ttl_sum;
        pthread_mutex_unlock(&s->lock);
    }
    for (uint32_t i = 0; i < RCACHE__CTR_SLOTS; i++) {
        rcache__ctr_t *k = &c->ctrs[i];
        out->hits += atomic_load_explicit(&k->hits, memory_order_relaxed);
        out->misses += atomic_load_explicit(&k->misses, memory_order_relaxed);
        out->compute_saved_ms +=
            atomic_load_explicit(&k->compute_saved_ms, memory_order_relaxed);
    }
    out->avg_ttl_ms = avg_ttl(ttl_sum, out->expires, rcache__clock_now(&c->clock));
    out->evictions = out->evictions_items + out->evictions_bytes;
    out->items = atomic_load(&c->items);
    out->bytes = atomic_load(&c->bytes);
    out->peak_bytes = atomic_load(&c->peak_bytes);
    out->max_items = atomic_load(&c->max_items);
    out->max_bytes = atomic_load(&c->max_bytes);
    out->default_ttl_ms = atomic_load(&c->default_ttl_ms);
    out->computations = atomic_load(&c->computations);
    out->singleflight_dedup = atomic_load(&c->singleflight_dedup);
    out->disabled = atomic_load(&c->disabled);
    rcache__tags_stats(c, out);
    if (out->hits + out->misses)
        out->hit_ratio = (double)out->hits / (double)(out->hits + out->misses);
    if (out->max_bytes)
        out->memory_utilization = (double)out->bytes / (double)out->max_bytes;
}

void rcache_stats_reset(rcache_t *c) {
    if (!c)
        return;
    for (uint32_t i = 0; i < c->nshards; i++) {
        rcache__shard_t *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        memset(&s->st, 0, sizeof(s->st));
        pthread_mutex_unlock(&s->lock);
    }
    for (uint32_t i = 0; i < RCACHE__CTR_SLOTS; i++) {
        rcache__ctr_t *k = &c->ctrs[i];
        atomic_store_explicit(&k->hits, 0, memory_order_relaxed);
        atomic_store_explicit(&k->misses, 0, memory_order_relaxed);
        atomic_store_explicit(&k->compute_saved_ms, 0, memory_order_relaxed);
    }
    rcache__tags_stats_reset(c);
    atomic_store(&c->computations, 0);
    atomic_store(&c->singleflight_dedup, 0);
    /* as evict.c records it: capped at the limit, which a concurrent
     * store's transient excess would otherwise show through */
    uint64_t b = atomic_load(&c->bytes), mb = atomic_load(&c->max_bytes);
    atomic_store(&c->peak_bytes, mb && b > mb ? mb : b);
}

int rcache_set_limits(rcache_t *c, uint64_t max_items, uint64_t max_bytes) {
    rcache__reclaim_t r = {0};
    if (!c)
        return RCACHE_EINVAL;
    atomic_store(&c->max_items, max_items);
    atomic_store(&c->max_bytes, max_bytes);
    rcache__evict(c, NULL, &r);
    rcache__reclaim_run(&r);
    return RCACHE_OK;
}

int rcache_set_default_ttl(rcache_t *c, uint64_t ttl_ms) {
    if (!c || ttl_ms > (uint64_t)INT64_MAX) /* TTLs are int64_t ms everywhere */
        return RCACHE_EINVAL;
    atomic_store(&c->default_ttl_ms, ttl_ms);
    return RCACHE_OK;
}

int rcache_set_disabled(rcache_t *c, int disabled) {
    if (!c)
        return RCACHE_EINVAL;
    atomic_store(&c->disabled, disabled ? 1 : 0);
    return RCACHE_OK;
}

void rcache_get_config(rcache_t *c, rcache_config_t *out) {
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    out->max_items = atomic_load(&c->max_items);
    out->max_bytes = atomic_load(&c->max_bytes);
    out->default_ttl_ms = atomic_load(&c->default_ttl_ms);
    out->shards = c->nshards;
    out->disabled = atomic_load(&c->disabled);
    out->clock = c->clock.fn;
    out->clock_ctx = c->clock.ctx;
    out->policy = rcache_get_policy(c);
    out->key_class = c->kclass.fn;
    out->key_class_ctx = c->kclass.ctx;
    out->key_classes = c->kclass.n;
}

uint64_t rcache__nolock_hits(const rcache_t *c) {
    uint64_t n = 0, locked = 0;
    for (unsigned i = 0; i < RCACHE__CTR_SLOTS; i++)
        n += atomic_load_explicit(&c->ctrs[i].hits, memory_order_relaxed);
    for (uint32_t i = 0; i < c->nshards; i++) {
        rcache__shard_t *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        locked += s->st.locked_hits;
        pthread_mutex_unlock(&s->lock);
    }
    return n - locked;
}
