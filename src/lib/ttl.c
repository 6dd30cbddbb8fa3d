/*
 * ttl.c - per-entry expiry: set, query, remove, and active reclamation.
 *
 * Expiry is lazy first: every lookup checks the entry's absolute expiry time
 * and reclaims it on the spot. That alone would let a cache nobody reads
 * keep expired memory forever, so there is also an active sweep: each store
 * examines one bucket of its shard, and rcache_expire_cycle() (called by the
 * server from a timer, as Redis's activeExpireCycle is) walks a bounded
 * number of buckets across all shards. Shards with no expiring entries are
 * skipped at no cost (a per-shard count of entries with a TTL).
 */
#include "internal.h"

uint64_t rcache__expiry_for(const rcache_t *c, int64_t ttl_ms,
                            const rcache__entry_t *old, rcache__optime_t *t) {
    if (ttl_ms == RCACHE_TTL_DEFAULT) {
        uint64_t d = atomic_load_explicit(&c->default_ttl_ms,
                                          memory_order_relaxed);
        return d ? rcache__add_ms(rcache__op_now(c, t), d) : 0;
    }
    if (ttl_ms == RCACHE_TTL_KEEP)
        return old ? old->expire_at_ms : 0;
    return ttl_ms > 0 ? rcache__add_ms(rcache__op_now(c, t), (uint64_t)ttl_ms)
                      : 0;
}

/* Run fn on a live entry under its shard lock, with the time of the call
 * read once under that lock (the same reading the lookup used). */
typedef int (*ttl_op_fn)(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                         uint64_t now, uint64_t arg, rcache__reclaim_t *r,
                         int64_t *out);

static int with_entry(rcache_t *c, const void *key, size_t klen, ttl_op_fn fn,
                      uint64_t arg, int64_t *out) {
    rcache__reclaim_t r = {0};
    int rc;
    if (!c)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, klen)) != RCACHE_OK)
        return rc;
    rcache__loc_t l;
    rcache__entry_t *e = rcache__lock_lookup(c, key, klen, &l, &r);
    if (rcache__disabled(c))
        e = NULL; /* reads as absent: TTL reads miss, TTL changes do nothing */
    rc = e ? fn(c, l.s, e, rcache__op_now(c, &l.t), arg, &r, out)
           : RCACHE_ENOTFOUND;
    pthread_mutex_unlock(&l.s->lock);
    rcache__reclaim_run(&r);
    return rc;
}

static int op_expire_at(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                        uint64_t now, uint64_t at, rcache__reclaim_t *r,
                        int64_t *out) {
    if (at && at <= now) { /* a time in the past deletes, as in Redis */
        rcache__shard_unlink_locked(c, s, e);
        s->st.deletes++;
        rcache__reclaim_push(r, e);
        return RCACHE_OK;
    }
    rcache__set_expire_locked(s, e, at);
    return RCACHE_OK;
}

static int op_expire(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                     uint64_t now, uint64_t ttl, rcache__reclaim_t *r,
                     int64_t *out) {
    uint64_t at = ttl ? rcache__add_ms(now, ttl) : 0;
    return op_expire_at(c, s, e, now, at, r, out);
}

static int op_ttl(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                  uint64_t now, uint64_t arg, rcache__reclaim_t *r,
                  int64_t *out) {
    *out = rcache__ttl_left(e, now);
    return RCACHE_OK;
}

int rcache_expire(rcache_t *c, const void *key, size_t key_len,
                  uint64_t ttl_ms) {
    if (ttl_ms > RCACHE__TIME_MAX)
        return RCACHE_EINVAL;
    return with_entry(c, key, key_len, op_expire, ttl_ms, NULL);
}

int rcache_expire_at(rcache_t *c, const void *key, size_t key_len,
                     uint64_t at_ms) {
    if (at_ms > RCACHE__TIME_MAX)
        return RCACHE_EINVAL;
    if (at_ms == 0)
        at_ms = 1; /* "the epoch" is in the past, not "no expiry" */
    return with_entry(c, key, key_len, op_expire_at, at_ms, NULL);
}

int rcache_persist(rcache_t *c, const void *key, size_t key_len) {
    return with_entry(c, key, key_len, op_expire_at, 0, NULL);
}

int rcache_ttl(rcache_t *c, const void *key, size_t key_len, int64_t *ttl_ms) {
    int64_t v = -1;
    int rc;
    if (!ttl_ms)
        return RCACHE_EINVAL;
    rc = with_entry(c, key, key_len, op_ttl, 0, &v);
    if (rc == RCACHE_OK)
        *ttl_ms = v;
    return rc;
}

/* Entries examined under one lock hold, and empty buckets allowed per entry
 * of budget (dict.c's "visit at most N*10 empty buckets" bound). */
#define CYCLE_CHUNK 1024u
#define CYCLE_BUCKETS_PER_ENTRY 10u

uint64_t rcache_expire_cycle(rcache_t *c, size_t max_entries) {
    uint64_t reclaimed = 0;
    if (!c || max_entries == 0 || c->nshards == 0) /* nshards >= 1 after open */
        return 0;
    size_t left = max_entries;
    size_t buckets_left = max_entries > SIZE_MAX / CYCLE_BUCKETS_PER_ENTRY
                              ? SIZE_MAX
                              : max_entries * CYCLE_BUCKETS_PER_ENTRY;
    uint32_t n = c->nshards, first = atomic_load(&c->expire_shard), i;
    /* Read before the shard locks, so the sweep may see a time a little
     * behind the truth: it then reclaims a little less, never an entry
     * that is still alive. */
    uint64_t now = rcache__clock_now(&c->clock);
    /* The budget goes to the shards that have entries with a TTL, in turn
     * from where the last call stopped; the others cost one lock each. */
    for (i = 0; i < n && left > 0 && buckets_left > 0; i++) {
        rcache__reclaim_t r = {0};
        rcache__shard_t *s = &c->shards[(first + i) % n];
        size_t ex = 0, visited = 0;
        pthread_mutex_lock(&s->lock);
        reclaimed += rcache__shard_sweep_locked(
            c, s, left < CYCLE_CHUNK ? left : CYCLE_CHUNK, buckets_left, now,
            &r, &ex, &visited);
        pthread_mutex_unlock(&s->lock);
        rcache__reclaim_run(&r);
        left -= ex < left ? ex : left;
        buckets_left -= visited < buckets_left ? visited : buckets_left;
    }
    atomic_store(&c->expire_shard, (first + (i ? i : 1)) % n);
    return reclaimed;
}
