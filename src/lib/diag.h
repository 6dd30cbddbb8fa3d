/*
 * diag.h - the cache's diagnostics hooks (diag.c, mrc.c, hotkeys.c):
 * internal declarations, and the inline fast path cache.c calls on every
 * lookup and store. Whether diagnostics are on or not, the fast path is two
 * relaxed loads from the cache's first cache line (which every lookup reads
 * anyway) and two compares: the key hash against the MRC threshold, the
 * thread's hit count (its counter slot) against the hot-key sampling mask. No call, no atomic
 * read-modify-write, no shared line written; only a sampled lookup calls
 * into diag.c (issue 15's <= 5% of a get hit).
 */
#ifndef RCACHE_DIAG_H
#define RCACHE_DIAG_H

#include "internal.h"

/* mrc.c: the sampling test (T(hash) < threshold), and recording a sampled
 * reference (size 0: keep the size last seen for that key). */
int rcache__mrc_sampled(const rcache_mrc_t *m, uint64_t hash);
/* The current threshold (it only falls, as the sample shrinks). */
uint32_t rcache__mrc_threshold(const rcache_mrc_t *m);
#define RCACHE__MRC_T(hash) ((uint32_t)((hash) & 0xffffffu))
void rcache__mrc_record(rcache_mrc_t *m, uint64_t hash, uint64_t size_bytes);
/* A store of a sampled key: it moves to the top of the LRU stack with its
 * new size, and no reference (no sample) is counted. */
void rcache__mrc_touch(rcache_mrc_t *m, uint64_t hash, uint64_t size_bytes);

typedef struct rcache__diag {
    _Atomic int on;
    rcache_mrc_t *mrc;
    rcache_topk_t *hot;
    uint32_t hot_every; /* 1 hit (miss) in hot_every per shard: a power of 2 */
    _Atomic uint64_t base_lookups; /* hits + misses when enabled / reset */
} rcache__diag_t;

/* Free the state (rcache_close()). */
void rcache__diag_free(rcache__diag_t *d);

/* Slow paths (diag.c): pick says which samples a lookup joins. */
void rcache__diag_lookup_slow(rcache_t *c, unsigned pick, const void *key, size_t klen,
                              uint64_t hash, uint64_t charge);
void rcache__diag_store_slow(rcache_t *c, uint64_t hash, uint64_t charge);

/* The diagnostics of c, or NULL when never enabled. */
static inline rcache__diag_t *rcache__diag_get(const rcache_t *c) {
    return atomic_load_explicit(&c->diag, memory_order_acquire);
}

/* Which samples a lookup joins: RCACHE__DIAG_MRC (its key is in the MRC
 * sample), RCACHE__DIAG_HOT (this lookup is in the hot-key sample), or 0
 * (nothing more to do: the common case, and always when diagnostics are
 * off). n = the calling thread's counter slot's hit count after counting
 * this hit (its miss count on a miss; rcache__ctr_add's result), so 1 hit
 * and 1 miss in hot_every per slot join the hot-key sample. No lock needed
 * (the lock-free hit path calls it too). The whole test is
 * two loads from the cache's first line, two compares: no call, no write. */
enum { RCACHE__DIAG_MRC = 1, RCACHE__DIAG_HOT = 2 };
static inline unsigned rcache__diag_pick_lookup(const rcache_t *c, uint64_t hash,
                                                uint64_t n) {
    uint32_t th = atomic_load_explicit(&c->diag_mrc_th, memory_order_relaxed);
    uint64_t mask = atomic_load_explicit(&c->diag_hot_mask, memory_order_relaxed);
    unsigned hot = (n & mask) == 0 ? RCACHE__DIAG_HOT : 0u;
    if (__builtin_expect(RCACHE__MRC_T(hash) < th, 0))
        return RCACHE__DIAG_MRC | hot;
    return hot;
}

/* Feed a picked lookup (pick != 0) to the samples; charge = the entry's
 * footprint on a hit, 0 on a miss. Call with no lock held. */
static inline void rcache__diag_lookup(rcache_t *c, unsigned pick, const void *key,
                                       size_t klen, uint64_t hash, uint64_t charge) {
    if (__builtin_expect(pick != 0, 0))
        rcache__diag_lookup_slow(c, pick, key, klen, hash, charge);
}

/* A store of a key (hash) with footprint charge. */
static inline void rcache__diag_store(rcache_t *c, uint64_t hash, uint64_t charge) {
    if (__builtin_expect(
            RCACHE__MRC_T(hash) < atomic_load_explicit(&c->diag_mrc_th, memory_order_relaxed),
            0))
        rcache__diag_store_slow(c, hash, charge);
}

#endif /* RCACHE_DIAG_H */
