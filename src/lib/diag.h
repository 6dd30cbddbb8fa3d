/*
 * diag.h - the cache's diagnostics hooks (diag.c, mrc.c, hotkeys.c):
 * internal declarations, and the inline fast path cache.c calls on every
 * lookup and store. The fast path is one pointer load when diagnostics were
 * never enabled, and a flag plus two cheap tests (the key hash against the
 * MRC threshold, a thread-local countdown for the hot-key sample) when they
 * are; only a sampled reference calls into diag.c.
 */
#ifndef RCACHE_DIAG_H
#define RCACHE_DIAG_H

#include "internal.h"

/* mrc.c: the sampling test (T(hash) < threshold), and recording a sampled
 * reference (size 0: keep the size last seen for that key). */
int rcache__mrc_sampled(const rcache_mrc_t *m, uint64_t hash);
const _Atomic uint32_t *rcache__mrc_threshold(const rcache_mrc_t *m);
#define RCACHE__MRC_T(hash) ((uint32_t)((hash) & 0xffffffu))
void rcache__mrc_record(rcache_mrc_t *m, uint64_t hash, uint64_t size_bytes);
/* A store of a sampled key: it moves to the top of the LRU stack with its
 * new size, and no reference (no sample) is counted. */
void rcache__mrc_touch(rcache_mrc_t *m, uint64_t hash, uint64_t size_bytes);

typedef struct rcache__diag {
    _Atomic int on;
    rcache_mrc_t *mrc;
    const _Atomic uint32_t *mrc_threshold; /* inside mrc: the sampling test */
    rcache_topk_t *hot;
    uint32_t hot_every; /* sample 1 lookup in hot_every per thread */
    _Atomic uint64_t base_lookups; /* hits + misses when enabled / reset */
} rcache__diag_t;

/* Free the state (rcache_close()). */
void rcache__diag_free(rcache__diag_t *d);

/* Slow paths (diag.c): mrc = the key is in the MRC sample, hot = this
 * lookup is in the hot-key sample. */
void rcache__diag_lookup_slow(rcache__diag_t *d, const void *key, size_t klen,
                              uint64_t hash, uint64_t charge, int mrc, int hot);
void rcache__diag_store_slow(rcache__diag_t *d, uint64_t hash, uint64_t charge);

/* Per-thread xorshift state for the hot-key sample: random, so a periodic
 * access pattern cannot alias with the sampling (a countdown could). */
extern _Thread_local uint32_t rcache__diag_rng;

/* 1 with probability about 1/every. */
static inline int rcache__diag_pick(uint32_t every) {
    uint32_t x = rcache__diag_rng;
    if (x == 0)
        x = 0x9e3779b9u ^ (uint32_t)(uintptr_t)&rcache__diag_rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rcache__diag_rng = x;
    return (((uint64_t)x * every) >> 32) == 0;
}

/* The diagnostics of c, or NULL when never enabled. */
static inline rcache__diag_t *rcache__diag_get(const rcache_t *c) {
    return atomic_load_explicit(&c->diag, memory_order_acquire);
}

/* Which samples a lookup of a key with this hash joins: RCACHE__DIAG_MRC
 * (its key is in the MRC sample), RCACHE__DIAG_HOT (this lookup is in the
 * hot-key sample), or 0 (nothing more to do: the common case). d may be
 * NULL. Cheap: a flag, one relaxed load, a per-thread xorshift. */
enum { RCACHE__DIAG_MRC = 1, RCACHE__DIAG_HOT = 2 };
static inline unsigned rcache__diag_pick_lookup(const rcache__diag_t *d, uint64_t hash) {
    if (!d || !atomic_load_explicit(&d->on, memory_order_relaxed))
        return 0;
    uint32_t th = atomic_load_explicit(d->mrc_threshold, memory_order_relaxed);
    return (RCACHE__MRC_T(hash) < th ? RCACHE__DIAG_MRC : 0u) |
           (rcache__diag_pick(d->hot_every) ? RCACHE__DIAG_HOT : 0u);
}

/* Feed a picked lookup (pick != 0) to the samples; charge = the entry's
 * footprint on a hit, 0 on a miss. Call with no lock held. */
static inline void rcache__diag_lookup(rcache__diag_t *d, unsigned pick, const void *key,
                                       size_t klen, uint64_t hash, uint64_t charge) {
    if (pick)
        rcache__diag_lookup_slow(d, key, klen, hash, charge, pick & RCACHE__DIAG_MRC,
                                 pick & RCACHE__DIAG_HOT);
}

/* A store of a key (hash) with footprint charge. */
static inline void rcache__diag_store(rcache__diag_t *d, uint64_t hash, uint64_t charge) {
    if (d && atomic_load_explicit(&d->on, memory_order_relaxed) &&
        RCACHE__MRC_T(hash) < atomic_load_explicit(d->mrc_threshold, memory_order_relaxed))
        rcache__diag_store_slow(d, hash, charge);
}

#endif /* RCACHE_DIAG_H */
