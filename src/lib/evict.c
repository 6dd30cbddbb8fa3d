/*
 * evict.c - the one place that removes entries to honour max_items and
 * max_bytes. Every store, update, rename and limit change calls
 * rcache__evict() once, with no lock held, after its own work; nothing
 * else evicts.
 *
 * Order. Within a shard the eviction policy (policy.c) names the victim:
 * for lru, the least recently used entry, its list's tail ("tail" below
 * means that victim, whatever the policy). Across shards the order is
 * approximated the way Redis's evict.c does it, by sampling: read the tails
 * of up to RCACHE__EVICT_SAMPLES shards, evict from the shard whose tail was
 * used longest ago, and keep evicting there while its tail stays older than
 * the runner-up's; then move on to the runner-up, and sample again when the
 * sample is used up. Ages are the entries' last-access seconds; on a tie the
 * shard holding more entries goes first (then the lower index), so
 * evictions within one second spread over the shards instead of draining
 * one. A victim's age is the policy's (rcache__pol_victim_age_locked):
 * its own last access, except that wtinylfu ranks a rejected newcomer by
 * the main entry it lost to, or its shard would be passed over while
 * another is drained empty.
 *   - one shard: exactly the policy's order (for lru exact LRU, which the
 *     trace-replay tests rely on);
 *   - at most RCACHE__EVICT_SAMPLES shards: every shard is in every sample,
 *     so under lru each victim is the least recently used entry of the
 *     whole cache at 1 s resolution (other policies: the longest unused of
 *     the shards' own victims);
 *   - more shards: the victim is the oldest of the sampled shards' tails;
 *     consecutive samples rotate through the shards, so each is sampled in
 *     turn.
 * Per-entry stamps finer than the existing 1 s access time would cost header
 * space (64 bytes today); a global access counter would make every hit write
 * one shared cache line, which sharding exists to avoid.
 *
 * Locks. One shard lock at a time, never two, so eviction adds nothing to
 * the lock order. A victim is read only while a limit is exceeded, and
 * evicted in the same lock hold: reading it may do the policy's eviction
 * work (move a sieve hand, reinsert s3fifo entries). keep is passed to the
 * policy of its own shard only (found by hashing its immutable key), so the
 * policy may read its fields under the lock that guards them. What a sample
 * read may be stale by the time its shard is
 * locked again; the tail is re-read under the lock and a shard whose tail
 * turned younger is skipped (a bounded number of times, so a call always
 * ends). The entry the caller just stored (keep) is never evicted: the
 * caller holds a reference to it, so the pointer cannot be reused meanwhile.
 *
 * Peak. The byte peak is recorded here, after enforcement, so it reports
 * what the cache held rather than the transient sum before eviction; it is
 * capped at max_bytes, since a concurrent store's excess is gone once that
 * store's own call to rcache__evict() returns.
 */
#include "internal.h"

typedef struct tail {
    rcache__shard_t *s;
    rcache__entry_t *v; /* the victim read (valid under the lock only) */
    uint64_t count;   /* entries in the shard when read */
    uint32_t atime_s; /* last access of the entry eviction would take
                         (rcache__pol_victim_age_locked) */
    int live;         /* 0: nothing to evict there */
} tail_t;

int rcache__over_limit(const rcache_t *c) {
    uint64_t mi = atomic_load_explicit(&c->max_items, memory_order_relaxed);
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);
    if (mi && atomic_load_explicit(&c->items, memory_order_relaxed) > mi)
        return 1;
    if (mb && atomic_load_explicit(&c->bytes, memory_order_relaxed) > mb)
        return 2;
    return 0;
}

/* The entry the policy would evict from t->s next. keep is passed only
 * to the shard that holds it (the policies read it under that lock). */
static void read_tail_locked(rcache_t *c, tail_t *t,
                             const rcache__entry_t *keep,
                             const rcache__shard_t *keep_s) {
    rcache__entry_t *v =
        rcache__pol_victim_locked(c, t->s, t->s == keep_s ? keep : NULL);
    t->v = v;
    t->live = v != NULL;
    t->atime_s = v ? rcache__pol_victim_age_locked(t->s, v) : 0;
    t->count = t->s->count;
}

/* Should a be evicted from before b? Oldest tail first; on a tie the
 * fuller shard, then the lower shard index: a total order, so with every
 * shard sampled (and no other thread) the victims are fully determined,
 * which the model test relies on. */
static int older(const tail_t *a, const tail_t *b) {
    if (!a->live || !b->live)
        return a->live;
    if (a->atime_s != b->atime_s)
        return a->atime_s < b->atime_s;
    if (a->count != b->count)
        return a->count > b->count;
    return a->s < b->s;
}

/* Read the tails of n shards: all of them when n == nshards, else the next
 * n of the rotation. */
static void sample(rcache_t *c, tail_t *t, uint32_t n,
                   const rcache__entry_t *keep, const rcache__shard_t *ks) {
    uint32_t start = 0;
    if (n < c->nshards)
        start = atomic_fetch_add_explicit(&c->evict_cursor, n,
                                          memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        t[i].s = &c->shards[(start + i) & (c->nshards - 1)];
        pthread_mutex_lock(&t[i].s->lock);
        read_tail_locked(c, &t[i], keep, ks);
        pthread_mutex_unlock(&t[i].s->lock);
    }
}

/* Under t->s's lock: evict its policy's victims while over a limit and
 * while its victim comes before next's (any victim, once, when force).
 * The victim is read only while over a limit: reading it may do the
 * policy's eviction-time work (sieve's hand, s3fifo's reinsertions), which
 * must not run ahead of an eviction. Returns how many. */
static uint64_t drain_locked(rcache_t *c, tail_t *t, const tail_t *next,
                             const rcache__entry_t *keep,
                             const rcache__shard_t *ks, int force,
                             rcache__reclaim_t *r) {
    uint64_t n = 0;
    int cause;
    while ((cause = rcache__over_limit(c)) != 0) {
        read_tail_locked(c, t, keep, ks); /* the sample may be stale */
        if (!t->live || !((force && n == 0) || older(t, next)))
            break;
        rcache__entry_t *v = t->v;
        rcache__pol_evict_locked(c, t->s, v);
        if (cause == 1)
            t->s->st.evictions_items++;
        else
            t->s->st.evictions_bytes++;
        rcache__reclaim_push_removed(r, c, v, RCACHE_REMOVED_EVICTED);
        n++;
    }
    return n;
}

/* Indexes of the oldest and second-oldest of n tails. */
static void pick(const tail_t *t, uint32_t n, uint32_t *best,
                 uint32_t *second) {
    *best = 0;
    *second = n > 1 ? 1 : 0;
    if (n > 1 && older(&t[1], &t[0])) {
        *best = 1;
        *second = 0;
    }
    for (uint32_t i = 2; i < n; i++) {
        if (older(&t[i], &t[*best])) {
            *second = *best;
            *best = i;
        } else if (older(&t[i], &t[*second])) {
            *second = i;
        }
    }
}

static void peak_update(rcache_t *c) {
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);
    uint64_t b = atomic_load_explicit(&c->bytes, memory_order_relaxed);
    uint64_t peak = atomic_load_explicit(&c->peak_bytes, memory_order_relaxed);
    if (mb && b > mb)
        b = mb;
    while (b > peak &&
           !atomic_compare_exchange_weak_explicit(&c->peak_bytes, &peak, b,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void rcache__evict(rcache_t *c, const rcache__entry_t *keep,
                   rcache__reclaim_t *r) {
    tail_t t[RCACHE__EVICT_SAMPLES];
    uint32_t n = c->nshards < RCACHE__EVICT_SAMPLES ? c->nshards
                                                    : RCACHE__EVICT_SAMPLES;
    /* A sample with nothing evictable in it: after enough of them every
     * shard has been looked at (the rotation moves n shards each time). */
    uint32_t empty = 0, max_empty = c->nshards / n + 1;
    uint32_t stale = 0; /* drains that found their shard's tail younger */
    int fresh = 0;      /* t[] holds a sample */
    /* keep's shard (the key is immutable, so hashing it needs no lock) */
    const rcache__shard_t *ks;

    rcache__compact(c); /* when slab.c asked for it: frees sparse pages */
    ks = keep && rcache__over_limit(c) ? rcache__shard_of(c, rcache__hash(rcache__entry_key(keep),
                                                keep->klen))
             : NULL;

    if (c->nshards == 1) { /* no sample needed: drain_locked reads the tail */
        t[0] = (tail_t){&c->shards[0], NULL, 0, 0, 1};
        fresh = 1;
    }
    while (rcache__over_limit(c)) {
        uint32_t best, second;
        if (!fresh) {
            sample(c, t, n, keep, ks);
            fresh = 1;
        }
        pick(t, n, &best, &second);
        if (!t[best].live) {
            if (n == c->nshards || ++empty >= max_empty)
                break; /* nothing but keep left to evict */
            fresh = 0;
            continue;
        }
        empty = 0;
        tail_t none = {0};
        const tail_t *next = second != best ? &t[second] : &none;
        pthread_mutex_lock(&t[best].s->lock);
        uint64_t got = drain_locked(c, &t[best], next, keep, ks,
                                    stale > 2 * n, r);
        pthread_mutex_unlock(&t[best].s->lock);
        if (got == 0 && ++stale % n == 0)
            fresh = 0; /* the sample went stale: take a new one */
        else if (got)
            stale = 0;
    }
    peak_update(c);
}
