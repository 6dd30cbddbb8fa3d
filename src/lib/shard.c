/*
 * shard.c - one shard: a key index plus the eviction policy's lists.
 *
 * Each shard owns a lock, a bucketized hash table (index.c) and the
 * eviction policy's lists threaded through the entries (policy.c: for lru
 * one doubly linked LRU list, MRU at the head).
 * Every operation here is O(1) on average: lookup reads one bucket line
 * (rarely an overflow line too: the table doubles past 6 entries a bucket
 * and halves under 1.5), link/unlink/touch are pointer swaps, and
 * eviction pops the LRU end, O(1) per evicted entry.
 *
 * Resizing rehashes the whole shard at once under its lock. Sharding bounds
 * that pause (1M entries in 16 shards: 64k entries per rehash, about a
 * millisecond); an incremental rehash as in Redis's dict.c would remove it
 * at the cost of two tables per lookup, which we judged not worth it yet.
 *
 * Limits are global (items and bytes are counted in atomics shared by all
 * shards) so one large value can use the whole byte budget. This file keeps
 * those gauges; evict.c decides what goes when a limit is exceeded.
 */
#include "internal.h"

#include <string.h>

/* An adaptive mutex spins briefly before sleeping: a shard lock is held for
 * a few hundred ns at most, and glibc's default mutex sent every collision
 * to a futex sleep of several microseconds (2 threads on 16 shards: no
 * speed-up over 1 thread; adaptive: 1.6x). */
static int init_lock(pthread_mutex_t *m) {
    pthread_mutexattr_t ma;
    int rc;
    if (pthread_mutexattr_init(&ma) != 0)
        return -1;
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    rc = pthread_mutex_init(m, &ma);
    pthread_mutexattr_destroy(&ma);
    return rc;
}

int rcache__shard_init(rcache__shard_t *s, size_t entries, int policy) {
    memset(s, 0, sizeof(*s));
    if (rcache__index_init(&s->idx, entries) != RCACHE_OK)
        return RCACHE_ENOMEM;
    if (rcache__pol_init(&s->pol, policy) != RCACHE_OK ||
        init_lock(&s->lock) != 0) {
        rcache__index_fini(&s->idx);
        rcache__pol_fini(&s->pol);
        return RCACHE_ENOMEM;
    }
    s->lru = s->pol.q[0];
    return RCACHE_OK;
}

void rcache__shard_fini(rcache__shard_t *s, rcache__reclaim_t *r) {
    for (unsigned i = 0; i < RCACHE__POL_LISTS; i++) {
        rcache__entry_t *h = s->pol.q[i];
        rcache__entry_t *e = h->next;
        while (e != h) {
            rcache__entry_t *next = e->next;
            rcache__reclaim_push(r, e);
            e = next;
        }
    }
    rcache__index_fini(&s->idx);
    rcache__pol_fini(&s->pol);
    s->lru = NULL;
    pthread_mutex_destroy(&s->lock);
}

static void release_removed(rcache__reclaim_t *r, rcache__entry_t *e, int cause) {
    rcache_t *c = r->cache;
    while (e) {
        rcache__entry_t *next = e->prev; /* the reclaim chain */
        if (c && c->on_removal)
            c->on_removal(cause, rcache__entry_key(e), e->klen, c->on_removal_ctx);
        rcache__entry_unref(e);
        e = next;
    }
}

void rcache__reclaim_run(rcache__reclaim_t *r) {
    rcache__entry_t *e = r->head;
    if (r->expired || r->evicted) {
        rcache__entry_t *x = r->expired, *v = r->evicted;
        r->expired = r->evicted = NULL;
        release_removed(r, x, RCACHE_REMOVED_EXPIRED);
        release_removed(r, v, RCACHE_REMOVED_EVICTED);
    }
    r->head = NULL;
    while (e) {
        rcache__entry_t *next = e->prev; /* the reclaim chain */
        rcache__entry_unref(e);
        e = next;
    }
}

rcache__entry_t *rcache__shard_find_locked(const rcache__shard_t *s,
                                           uint64_t hash, const void *key,
                                           size_t klen) {
    return rcache__index_find(&s->idx, (uint32_t)hash, key, klen);
}

rcache__entry_t *rcache__shard_lookup_locked(rcache_t *c, rcache__shard_t *s,
                                             uint64_t hash, const void *key,
                                             size_t klen, rcache__optime_t *t,
                                             rcache__reclaim_t *r) {
    rcache__entry_t *e = rcache__shard_find_locked(s, hash, key, klen);
    /* Only an entry with an expiry needs the time, and then the exact one:
     * a coarse reading may lag by any amount (a late tick). */
    if (e && e->expire_at_ms && rcache__expired(e, rcache__op_now(c, t))) {
        rcache__shard_unlink_locked(c, s, e);
        s->st.expirations++;
        rcache__reclaim_push_removed(r, c, e, RCACHE_REMOVED_EXPIRED);
        return NULL;
    }
    return e;
}

/* Resizes wait while a save walks the table by bucket (s->pinned): its
 * bucket cursor must stay valid; chains grow meanwhile and the first store
 * after the save resizes. On ENOMEM the index keeps its table (longer
 * chains, or a sparse table), so no store or removal fails for it. */
static void maybe_shrink_locked(rcache__shard_t *s) {
    /* a save keeps a bucket number between lock holds, never a pointer:
     * emptied overflow buckets may go even while it is pinned */
    rcache__index_tidy(&s->idx);
    if (!s->pinned)
        rcache__index_maybe_shrink(&s->idx);
}

void rcache__shard_reserve_locked(rcache__shard_t *s, size_t entries) {
    if (!s->pinned)
        rcache__index_reserve(&s->idx, entries);
}

/* Table work of a link/unlink, without the lists and global gauges.
 * RCACHE_ENOMEM when the index needs an overflow bucket it cannot get. */
static int table_add_locked(rcache__shard_t *s, rcache__entry_t *e, uint32_t h32) {
    if (!s->pinned)
        rcache__index_maybe_grow(&s->idx);
    if (rcache__index_add(&s->idx, e, h32) != RCACHE_OK)
        return RCACHE_ENOMEM;
    s->count++;
    if (e->expire_at_ms) {
        s->nttl++;
        s->ttl_sum += e->expire_at_ms;
    }
    rcache__kclass_count_locked(s, e, 1);
    return RCACHE_OK;
}

static void table_del_locked(rcache__shard_t *s, rcache__entry_t *e) {
    rcache__index_del(&s->idx, e);
    s->count--;
    if (e->expire_at_ms) {
        s->nttl--;
        s->ttl_sum -= e->expire_at_ms;
    }
    rcache__kclass_count_locked(s, e, -1);
}

/* Table and policy-list work of a link/unlink, without the gauges. */
static int attach_locked(rcache_t *c, rcache__shard_t *s,
                         rcache__entry_t *e, uint32_t h32) {
    if (table_add_locked(s, e, h32) != RCACHE_OK)
        return RCACHE_ENOMEM;
    rcache__pol_link_locked(c, s, e, h32);
    return RCACHE_OK;
}

static void detach_locked(rcache__shard_t *s, rcache__entry_t *e) {
    rcache__pol_unlink_locked(s, e);
    table_del_locked(s, e);
}

/* Move the byte gauge by delta. The peak is taken after eviction
 * (evict.c), not here, so it never counts a store's transient excess. */
static void bytes_add(rcache_t *c, int64_t delta) {
    if (delta > 0) {
        atomic_fetch_add_explicit(&c->bytes, (uint64_t)delta,
                                  memory_order_relaxed);
    } else if (delta < 0) {
        atomic_fetch_sub_explicit(&c->bytes, (uint64_t)-delta,
                                  memory_order_relaxed);
    }
}

int rcache__shard_link_locked(rcache_t *c, rcache__shard_t *s,
                              rcache__entry_t *e, uint32_t h32) {
    if (attach_locked(c, s, e, h32) != RCACHE_OK)
        return RCACHE_ENOMEM;
    atomic_fetch_add_explicit(&c->items, 1, memory_order_relaxed);
    bytes_add(c, (int64_t)rcache__entry_charge(e));
    return RCACHE_OK;
}

/* Unlink without shrinking: for callers walking a bucket chain. */
static void unlink_keep_table_locked(rcache_t *c, rcache__shard_t *s,
                                     rcache__entry_t *e) {
    rcache__tags_leaving(c, e); /* the index drops e with the table */
    detach_locked(s, e);
    atomic_fetch_sub_explicit(&c->items, 1, memory_order_relaxed);
    bytes_add(c, -(int64_t)rcache__entry_charge(e));
}

void rcache__shard_unlink_locked(rcache_t *c, rcache__shard_t *s,
                                 rcache__entry_t *e) {
    unlink_keep_table_locked(c, s, e);
    maybe_shrink_locked(s);
}

void rcache__shard_replace_locked(rcache_t *c, rcache__shard_t *s,
                                  rcache__entry_t *old, rcache__entry_t *e,
                                  uint32_t h32) {
    rcache__tags_leaving(c, old); /* none left after a move to e */
    /* e takes old's slot in one store (a reader sees one or the other) */
    rcache__index_replace(&s->idx, (uintptr_t)old, e, h32);
    s->nttl += (uint64_t)(e->expire_at_ms != 0) - (uint64_t)(old->expire_at_ms != 0);
    s->ttl_sum += e->expire_at_ms;
    s->ttl_sum -= old->expire_at_ms;
    rcache__kclass_replace_locked(s, old, e);
    rcache__pol_replace_locked(c, s, old, e, h32);
    /* one write to the shared gauge line instead of four */
    bytes_add(c, (int64_t)rcache__entry_charge(e) -
                     (int64_t)rcache__entry_charge(old));
}

rcache__entry_t *rcache__shard_regrow_locked(rcache_t *c, rcache__shard_t *s,
                                             rcache__entry_t *e, size_t vlen) {
    uint64_t before = rcache__entry_charge(e);
    uintptr_t was = (uintptr_t)e;
    rcache__pol_move_t mv;
    /* the policy list keeps its place: the copy keeps prev/next, and the
     * neighbours are repointed after; the index slot is repointed too */
    rcache__pol_premove_locked(s, e, &mv);
    rcache__entry_t *n = rcache__entry_resize(c, e, vlen);
    if (!n)
        return NULL;
    rcache__pol_postmove_locked(s, n, &mv);
    rcache__index_replace(&s->idx, was, n, rcache__entry_hash32(n));
    if (n != e)
        rcache__entry_retire(e); /* unreachable now: EBR frees it later */
    bytes_add(c, (int64_t)rcache__entry_charge(n) - (int64_t)before);
    return n;
}

void rcache__set_expire_locked(rcache__shard_t *s, rcache__entry_t *e,
                               uint64_t at_ms) {
    rcache__kclass_expire_locked(s, e, at_ms);
    if (e->expire_at_ms && !at_ms)
        s->nttl--;
    else if (!e->expire_at_ms && at_ms)
        s->nttl++;
    s->ttl_sum -= e->expire_at_ms;
    s->ttl_sum += at_ms;
    /* a lock-free hit reads it (cache.c lookup_nolock) */
    __atomic_store_n(&e->expire_at_ms, at_ms, __ATOMIC_RELAXED);
}

uint64_t rcache__shard_sweep_locked(rcache_t *c, rcache__shard_t *s,
                                    size_t max_entries, size_t max_buckets,
                                    uint64_t now_ms, rcache__reclaim_t *r,
                                    size_t *examined, size_t *visited) {
    uint64_t reclaimed = 0;
    size_t ex = 0, b = 0;
    if (s->nttl != 0) {
        size_t nb = rcache__index_buckets(&s->idx);
        if (max_buckets > nb) /* at most one pass over the table */
            max_buckets = nb;
        while (b < max_buckets && ex < max_entries) {
            rcache__index_it_t it;
            rcache__entry_t *e;
            b++;
            /* removing the entry just returned is fine mid-walk; a bucket
             * holds several entries, so the budget may end inside one:
             * the next sweep starts over at that bucket */
            rcache__index_it_start(&s->idx, s->sweep_pos++, &it);
            while ((e = rcache__index_it_next(&it)) != NULL) {
                if (ex == max_entries) {
                    s->sweep_pos--;
                    break;
                }
                ex++;
                if (rcache__expired(e, now_ms)) {
                    unlink_keep_table_locked(c, s, e);
                    s->st.expirations++;
                    rcache__reclaim_push_removed(r, c, e, RCACHE_REMOVED_EXPIRED);
                    reclaimed++;
                }
            }
        }
        if (reclaimed)
            maybe_shrink_locked(s);
    }
    if (examined)
        *examined = ex;
    if (visited)
        *visited = b;
    return reclaimed;
}

rcache__entry_t *rcache__lock_lookup(rcache_t *c, const void *key, size_t klen,
                                     rcache__loc_t *loc, rcache__reclaim_t *r) {
    return rcache__lock_lookup_hashed(c, key, klen, rcache__hash(key, klen), loc, r);
}

rcache__entry_t *rcache__lock_lookup_hashed(rcache_t *c, const void *key,
                                            size_t klen, uint64_t hash,
                                            rcache__loc_t *loc,
                                            rcache__reclaim_t *r) {
    loc->hash = hash;
    loc->s = rcache__shard_of(c, loc->hash);
    loc->t.state = RCACHE__T_NONE;
    loc->t.ms = 0;
    /* the bucket line's miss overlaps taking the lock */
    rcache__index_prefetch(&loc->s->idx, (uint32_t)loc->hash);
    pthread_mutex_lock(&loc->s->lock);
    return rcache__shard_lookup_locked(c, loc->s, loc->hash, key, klen,
                                       &loc->t, r);
}
