/*
 * shard.c - one shard: a chained hash table plus an exact LRU list.
 *
 * Each shard owns a lock, a power-of-two array of bucket chains and the
 * eviction policy's lists threaded through the entries (policy.c: for lru
 * one doubly linked LRU list, MRU at the head).
 * Every operation here is O(1) on average: lookup walks a chain of at most
 * about one entry (the table doubles when it holds as many entries as
 * buckets and halves when a removal leaves it under a quarter full, so
 * load stays between 0.25 and 1), link/unlink/touch are pointer swaps, and
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

int rcache__shard_init(rcache__shard_t *s, size_t buckets, int policy) {
    memset(s, 0, sizeof(*s));
    s->buckets = rcache__calloc(buckets, sizeof(rcache__entry_t *));
    if (!s->buckets || rcache__pol_init(&s->pol, policy) != RCACHE_OK ||
        init_lock(&s->lock) != 0) {
        rcache__free(s->buckets);
        rcache__pol_fini(&s->pol);
        s->buckets = NULL;
        return RCACHE_ENOMEM;
    }
    s->mask = buckets - 1;
    s->min_buckets = buckets;
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
    rcache__free(s->buckets);
    rcache__pol_fini(&s->pol);
    s->buckets = NULL;
    s->lru = NULL;
    pthread_mutex_destroy(&s->lock);
}

static void release_removed(rcache__reclaim_t *r, rcache__entry_t *e, int cause) {
    rcache_t *c = r->cache;
    while (e) {
        rcache__entry_t *next = e->hnext;
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
        rcache__entry_t *next = e->hnext;
        rcache__entry_unref(e);
        e = next;
    }
}

rcache__entry_t *rcache__shard_find_locked(const rcache__shard_t *s,
                                           uint64_t hash, const void *key,
                                           size_t klen) {
    uint32_t h32 = (uint32_t)hash;
    for (rcache__entry_t *e = s->buckets[h32 & s->mask]; e; e = e->hnext) {
        if (e->hash == h32 && e->klen == klen &&
            memcmp(rcache__entry_key(e), key, klen) == 0)
            return e;
    }
    return NULL;
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

/* Rehash into a table of n buckets (a power of two); on allocation failure
 * keep the old one (chains just get longer, or the table stays sparse), so
 * neither a store nor a removal fails because of the table.  Not while a
 * save walks the table (s->pinned): its bucket cursor must stay valid; the
 * chains grow meanwhile and the first store after the save resizes. */
static void resize_locked(rcache__shard_t *s, size_t n) {
    if (s->pinned)
        return;
    rcache__entry_t **nb = rcache__calloc(n, sizeof(rcache__entry_t *));
    if (!nb)
        return;
    for (size_t i = 0; i <= s->mask; i++) {
        rcache__entry_t *e = s->buckets[i];
        while (e) {
            rcache__entry_t *next = e->hnext;
            size_t b = e->hash & (n - 1);
            e->hnext = nb[b];
            nb[b] = e;
            e = next;
        }
    }
    rcache__free(s->buckets);
    s->buckets = nb;
    s->mask = n - 1;
}

/* Shrink once fewer than a quarter of the buckets hold an entry, to the
 * smallest table at most half full, but not below the size the shard
 * started at (sized for the item limit, so a cache refilling to its limit
 * does not rehash on the way): after a grow the load is >= 1/2, after
 * a shrink < 1/2, so a shard that hovers near a threshold does not rehash
 * back and forth (the next grow needs the entries to double, the next
 * shrink to halve). Without it a FLUSHALL or a mass expiry left every
 * table at its largest size, and every walk (scan, active expiry) paid for
 * the empty buckets. Called where no bucket chain is being walked. */
static void maybe_shrink_locked(rcache__shard_t *s) {
    size_t nb = s->mask + 1;
    if (nb <= s->min_buckets || s->count >= nb / 4)
        return;
    size_t n = s->min_buckets;
    while (n < s->count * 2)
        n *= 2;
    resize_locked(s, n);
}

void rcache__shard_reserve_locked(rcache__shard_t *s, size_t entries) {
    size_t n = s->mask + 1;
    while (n < entries && n <= (size_t)UINT32_MAX)
        n *= 2;
    if (n > s->mask + 1)
        resize_locked(s, n);
}

/* Table work of a link/unlink, without the lists and global gauges. */
static void table_add_locked(rcache__shard_t *s, rcache__entry_t *e) {
    if (s->count > s->mask && s->mask < (size_t)UINT32_MAX)
        resize_locked(s, (s->mask + 1) * 2);
    size_t b = e->hash & s->mask;
    e->hnext = s->buckets[b];
    s->buckets[b] = e;
    s->count++;
    if (e->expire_at_ms) {
        s->nttl++;
        s->ttl_sum += e->expire_at_ms;
    }
    rcache__kclass_count_locked(s, e, 1);
}

static void table_del_locked(rcache__shard_t *s, rcache__entry_t *e) {
    rcache__entry_t **pp = &s->buckets[e->hash & s->mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->hnext = NULL;
    s->count--;
    if (e->expire_at_ms) {
        s->nttl--;
        s->ttl_sum -= e->expire_at_ms;
    }
    rcache__kclass_count_locked(s, e, -1);
}

/* Table and policy-list work of a link/unlink, without the gauges. */
static void attach_locked(rcache_t *c, rcache__shard_t *s,
                          rcache__entry_t *e) {
    table_add_locked(s, e);
    rcache__pol_link_locked(c, s, e);
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

void rcache__shard_link_locked(rcache_t *c, rcache__shard_t *s,
                               rcache__entry_t *e) {
    attach_locked(c, s, e);
    atomic_fetch_add_explicit(&c->items, 1, memory_order_relaxed);
    bytes_add(c, (int64_t)rcache__entry_charge(e));
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
                                  rcache__entry_t *old, rcache__entry_t *e) {
    rcache__tags_leaving(c, old); /* none left after a move to e */
    table_del_locked(s, old);
    table_add_locked(s, e);
    rcache__pol_replace_locked(c, s, old, e);
    /* one write to the shared gauge line instead of four */
    bytes_add(c, (int64_t)rcache__entry_charge(e) -
                     (int64_t)rcache__entry_charge(old));
}

rcache__entry_t *rcache__shard_regrow_locked(rcache_t *c, rcache__shard_t *s,
                                             rcache__entry_t *e, size_t vlen) {
    uint64_t before = rcache__entry_charge(e);
    rcache__pol_move_t mv;
    /* out of the chain while it may move; the policy list keeps its place:
     * the copy keeps prev/next, and the neighbours are repointed after */
    table_del_locked(s, e);
    rcache__pol_premove_locked(s, e, &mv);
    rcache__entry_t *n = rcache__entry_resize(c, e, vlen);
    if (!n) {
        table_add_locked(s, e);
        return NULL;
    }
    rcache__pol_postmove_locked(s, n, &mv);
    table_add_locked(s, n);
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
    e->expire_at_ms = at_ms;
}

uint64_t rcache__shard_sweep_locked(rcache_t *c, rcache__shard_t *s,
                                    size_t max_entries, size_t max_buckets,
                                    uint64_t now_ms, rcache__reclaim_t *r,
                                    size_t *examined, size_t *visited) {
    uint64_t reclaimed = 0;
    size_t ex = 0, b = 0;
    if (s->nttl != 0) {
        if (max_buckets > s->mask + 1) /* at most one pass over the table */
            max_buckets = s->mask + 1;
        for (; b < max_buckets && ex < max_entries; b++) {
            rcache__entry_t *e = s->buckets[s->sweep_pos++ & s->mask];
            while (e) {
                rcache__entry_t *next = e->hnext;
                ex++;
                if (rcache__expired(e, now_ms)) {
                    unlink_keep_table_locked(c, s, e);
                    s->st.expirations++;
                    rcache__reclaim_push_removed(r, c, e, RCACHE_REMOVED_EXPIRED);
                    reclaimed++;
                }
                e = next;
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
    loc->hash = rcache__hash(key, klen);
    loc->s = rcache__shard_of(c, loc->hash);
    loc->t.state = RCACHE__T_NONE;
    loc->t.ms = 0;
    pthread_mutex_lock(&loc->s->lock);
    return rcache__shard_lookup_locked(c, loc->s, loc->hash, key, klen,
                                       &loc->t, r);
}
