/*
 * policy_wtinylfu.c - W-TinyLFU (Einziger, Friedman and Manes, 2017), per
 * shard, in two variants: wtinylfu-fixed as libCacheSim's WTinyLFU.c
 * implements it (the window fixed at 1%, validated against its figures),
 * and wtinylfu, whose window size adapts to the trace (adapt() below) and
 * whose sketch ages as Caffeine's does. Per shard: a window LRU (q[0], 1%
 * of the shard's entries, at least one), a main segmented LRU of probation
 * (q[1], 1/5 of main) and protected (q[2], 4/5), and a frequency sketch.
 *
 *  - insert: to the window's head; the key's count goes up.
 *  - hit: window: to the window's head. probation: to protected's head
 *    (protected's tail drops to probation's head while protected is over
 *    its share). protected: to its head. A hit in main counts the key in
 *    the sketch (wtinylfu counts window hits too, as Caffeine).
 *  - evict: while main has room the window's tail moves into main
 *    (probation first, then protected). Then the window's tail W and
 *    main's victim M (probation's tail, else protected's) are compared by
 *    estimated frequency: W enters probation and M is evicted if W's is
 *    higher, else W is evicted; either way W's count goes up (as a move
 *    into main does: libCacheSim's extra increments, kept by both
 *    variants: without them the cross-shard test in test_eviction.c saw
 *    a small shard drained empty, every estimate there being 0).
 * The entry just stored (keep) counts in no queue.
 *
 * Aging. wtinylfu-fixed (libCacheSim): 8-bit counters saturating at 255,
 * every counter halves after 32 x main's size hits in main. wtinylfu
 * (Caffeine's FrequencySketch): counters saturate at 15 (4 bits) and
 * halve after 10 x the shard's capacity increments, so the estimates
 * follow a shifting popularity within ten cache turnovers.
 *
 * Window adaptation (wtinylfu). Caffeine climbs the hit ratio (a sample
 * every 10 x capacity requests, steps of 6.25% decaying by 0.98): on the
 * shared traces it had too few, too noisy samples and kept a small window
 * where recency wins (sprite 10%: 1.40x LRU's misses, corda 10%: 1.16x;
 * BENCHMARKS.md). wtinylfu instead adapts as ARC (Megiddo and Modha, 2003)
 * adapts its T1/T2 split, from two ghosts of key hashes: the window
 * candidates that admission rejected (the last 3/4 x capacity of them)
 * and main's victims (the last 1/2 x capacity). A miss on a key in the
 * first means a larger window would have hit: the window grows by one
 * entry (main's oldest becomes the window's newest); a miss on a key in
 * the second means a larger main would have: it shrinks by one (draining
 * into main through eviction's "main has room" step). The ghost sizes are
 * the two parameters, tuned on the shared traces (docs/DESIGN.md).
 *
 * The sketch is libCacheSim's counting Bloom filter: one array of
 * ceil(14.38 x n) counters for n = main's size (a 0.1% false-positive
 * rate), each key counted in 10 of them ((a + i b) mod size), its estimate
 * their minimum; 8-bit counters, about 14 bytes per entry of the shard. It
 * is sized from max(max_items / shards, entries) on first use and rebuilt
 * (cleared) when main grows past twice its size; on ENOMEM the old one
 * stays. The ghosts (policy_s3fifo.c's) cost about 25-50 bytes per entry
 * of the shard under wtinylfu; on ENOMEM they forget, which only slows the
 * adaptation.
 */
#include "policy.h"

#define SKETCH_HASHES 10u
#define SKETCH_PER_ENTRY 14.3775 /* -ln(0.001) / ln(2)^2 */
#define SKETCH_MAX 255u
#define SKETCH_CMAX 15u   /* wtinylfu: 4-bit counters, as Caffeine */
#define SKETCH_SAMPLE 10u /* wtinylfu: halve every 10 x cap increments */

struct rcache__sketch {
    uint64_t n;    /* entries it was sized for */
    uint64_t size; /* counters */
    uint8_t t[];
};

void rcache__sketch_free(rcache__sketch_t *k) { rcache__free(k); }

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t main_max(const rcache__pol_t *p, uint64_t cap);

/* The sketch for a shard of cap entries (rebuilt when much too small). */
static rcache__sketch_t *sketch_for(const rcache_t *c, rcache__pol_t *p,
                                    uint64_t cap) {
    uint64_t hint = atomic_load_explicit(&c->max_items, memory_order_relaxed) /
                    c->nshards;
    uint64_t n = main_max(NULL, cap > hint ? cap : hint);
    if (n == 0)
        n = 1;
    if (!p->sketch || p->sketch->n * 2u < n) {
        uint64_t size = (uint64_t)(SKETCH_PER_ENTRY * (double)n) + 1u;
        if (size < (uint64_t)2u * SKETCH_HASHES)
            size = (uint64_t)2u * SKETCH_HASHES;
        rcache__sketch_t *k = rcache__calloc(1, sizeof(*k) + size);
        if (k) {
            k->n = n;
            k->size = size;
            rcache__sketch_free(p->sketch);
            p->sketch = k;
            p->aging = 0;
        }
    }
    return p->sketch;
}

static unsigned sketch_est(const rcache__sketch_t *k, uint32_t hash) {
    uint64_t h = mix(hash);
    uint32_t a = (uint32_t)h, b = (uint32_t)(h >> 32);
    unsigned m = SKETCH_MAX;
    for (uint32_t i = 0; i < SKETCH_HASHES; i++) {
        unsigned v = k->t[(uint32_t)(a + i * b) % k->size];
        if (v < m)
            m = v;
    }
    return m;
}

static void sketch_halve(rcache__sketch_t *k) {
    for (uint64_t i = 0; i < k->size; i++)
        k->t[i] >>= 1;
}

static void sketch_add(const rcache_t *c, rcache__pol_t *p, uint64_t cap,
                       uint32_t hash) {
    rcache__sketch_t *k = sketch_for(c, p, cap);
    if (!k)
        return;
    unsigned max = p->kind == RCACHE_POLICY_WTINYLFU ? SKETCH_CMAX : SKETCH_MAX;
    uint64_t h = mix(hash);
    uint32_t a = (uint32_t)h, b = (uint32_t)(h >> 32);
    for (uint32_t i = 0; i < SKETCH_HASHES; i++) {
        uint8_t *v = &k->t[(uint32_t)(a + i * b) % k->size];
        if (*v < max)
            (*v)++;
    }
    if (p->kind == RCACHE_POLICY_WTINYLFU &&
        ++p->aging >= SKETCH_SAMPLE * (cap ? cap : 1u)) {
        sketch_halve(k);
        p->aging = 0;
    }
}

static unsigned estimate(const rcache__pol_t *p, uint32_t hash) {
    return p->sketch ? sketch_est(p->sketch, hash) : 0;
}

/* Shares of a shard of cap entries: the window is 1% (at least one
 * entry), or for the adaptive variant the size adapt() chose (at most
 * cap - 1, so main keeps an entry); main the rest. p NULL: 1%. */
static uint64_t window_max(const rcache__pol_t *p, uint64_t cap) {
    uint64_t w = cap / 100u;
    if (p && p->kind == RCACHE_POLICY_WTINYLFU && p->win)
        w = p->win < cap ? p->win : cap - 1u;
    return w ? w : 1u;
}
static uint64_t main_max(const rcache__pol_t *p, uint64_t cap) {
    uint64_t w = window_max(p, cap);
    return cap > w ? cap - w : 0;
}

/* wtinylfu: a stored key (a miss) found in a ghost moves the window by
 * one entry (see the top of the file). A larger window takes probation's
 * (then protected's) oldest entry as its newest; a smaller one drains
 * into main through eviction's "main has room" step. */
static void adapt(rcache__pol_t *p, uint64_t cap, uint32_t hash) {
    if (p->kind != RCACHE_POLICY_WTINYLFU || cap < 2u)
        return;
    if (!p->win)
        p->win = window_max(NULL, cap);
    if (rcache__ghost_take(p->ghost, hash)) {
        if (p->win >= cap - 1u)
            return;
        if (p->n[1] + p->n[2] > 0)
            rcache__pol_move_to(p, p->n[1] ? p->q[1]->prev : p->q[2]->prev,
                                0);
        p->win++;
    } else if (rcache__ghost_take(p->ghost2, hash) && p->win > 1u) {
        p->win--;
    }
}

void rcache__wtlfu_link(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                        uint32_t h) {
    rcache__pol_t *p = &s->pol;
    uint64_t cap = rcache__pol_cap(c, s, NULL);
    adapt(p, cap, h); /* first, so e is the window's newest */
    rcache__set_pq(e, 0);
    rcache__list_push(p->q[0], e);
    p->n[0]++;
    sketch_add(c, p, cap, h);
}

/* Insert e (off every list's count: the caller moves it) into main's
 * first segment with room; probation when neither has. */
static void slru_insert(rcache__pol_t *p, rcache__entry_t *e, uint64_t mm) {
    unsigned q = 1;
    if (p->n[1] + 1u > mm / 5u && p->n[2] + 1u <= mm * 4u / 5u)
        q = 2;
    rcache__pol_move_to(p, e, q);
}

void rcache__wtlfu_hit(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                       uint32_t h32) {
    rcache__pol_t *p = &s->pol;
    uint64_t cap = rcache__pol_cap(c, s, NULL);
    if (rcache__pq(e) == 0) {
        rcache__pol_move_to(p, e, 0);
        if (p->kind == RCACHE_POLICY_WTINYLFU) /* Caffeine counts every hit */
            sketch_add(c, p, cap, h32);
        return;
    }
    uint64_t mm = main_max(p, cap);
    rcache__pol_move_to(p, e, 2);
    while (p->n[2] > mm * 4u / 5u) /* protected over its share: demote */
        rcache__pol_move_to(p, p->q[2]->prev, 1);
    sketch_add(c, p, cap, h32);
    if (p->kind == RCACHE_POLICY_WTINYLFU_FIXED &&
        ++p->aging >= 32u * (mm ? mm : 1u) && p->sketch) {
        sketch_halve(p->sketch);
        p->aging = 0;
    }
}

static rcache__entry_t *main_victim(const rcache__pol_t *p,
                                    const rcache__entry_t *keep) {
    rcache__entry_t *m = rcache__pol_tail(p, 1, keep);
    return m ? m : rcache__pol_tail(p, 2, keep);
}

rcache__entry_t *rcache__wtlfu_victim(rcache_t *c, rcache__shard_t *s,
                                      const rcache__entry_t *keep) {
    rcache__pol_t *p = &s->pol;
    uint64_t cap = rcache__pol_cap(c, s, keep);
    uint64_t mm = main_max(p, cap);
    rcache__entry_t *w, *m;
    p->admit = p->admit_for = NULL;
    for (;;) {
        if (!(w = rcache__pol_tail(p, 0, keep)))
            return main_victim(p, keep);
        uint64_t nmain = p->n[1] + p->n[2] - (keep && rcache__pq(keep) != 0);
        if (nmain + 1u > mm)
            break;
        /* main has room: w moves in */
        sketch_add(c, p, cap, rcache__entry_hash32(w));
        slru_insert(p, w, mm);
    }
    if (!(m = main_victim(p, keep)) ||
        estimate(p, rcache__entry_hash32(w)) <=
            estimate(p, rcache__entry_hash32(m))) {
        p->admit = w;
        p->admit_for = w;
        return w;
    }
    p->admit = w;
    p->admit_for = m;
    return m;
}

uint32_t rcache__wtlfu_victim_age(const rcache__shard_t *s,
                                  const rcache__entry_t *v) {
    const rcache__entry_t *m =
        rcache__pq(v) == 0 ? main_victim(&s->pol, s->pol.keep) : NULL;
    uint32_t va = rcache__atime(v);
    return m && rcache__atime(m) < va ? rcache__atime(m) : va;
}

void rcache__wtlfu_evict(rcache_t *c, rcache__shard_t *s, rcache__entry_t *v) {
    rcache__pol_t *p = &s->pol;
    rcache__entry_t *w = p->admit;
    int admit = w && p->admit_for == v && w != v;
    uint64_t cap = rcache__pol_cap(c, s, NULL);
    cap = cap > 1 ? cap - 1 : cap; /* v is still counted */
    if (w && p->admit_for == v)
        sketch_add(c, p, cap, rcache__entry_hash32(w));
    p->admit = p->admit_for = NULL;
    if (p->kind == RCACHE_POLICY_WTINYLFU) { /* adapt()'s ghosts */
        if (rcache__pq(v) == 0)
            rcache__ghost_add(&p->ghost, rcache__entry_hash32(v), cap * 3u / 4u);
        else
            rcache__ghost_add(&p->ghost2, rcache__entry_hash32(v), cap / 2u);
    }
    rcache__shard_unlink_locked(c, s, v);
    if (admit && rcache__pq(w) == 0)
        slru_insert(p, w, main_max(p, cap));
}
