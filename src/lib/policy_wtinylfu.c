/*
 * policy_wtinylfu.c - W-TinyLFU (Einziger, Friedman and Manes, 2017), as
 * libCacheSim's WTinyLFU.c implements it (fixed window, no hill
 * climbing), per shard: a window LRU (q[0], 1% of the shard's entries,
 * at least one), a main segmented LRU of probation (q[1], 1/5 of main)
 * and protected (q[2], 4/5), and a count-min frequency sketch.
 *
 *  - insert: to the window's head; the key's count goes up.
 *  - hit: window: to the window's head. probation: to protected's head
 *    (protected's tail drops to probation's head while protected is over
 *    its share). protected: to its head. A hit in main counts the key in
 *    the sketch; after 32 x main's size such counts every counter halves
 *    (aging). As in libCacheSim, window hits are not counted.
 *  - evict: while main has room the window's tail moves into main
 *    (probation first, then protected). Then the window's tail W and
 *    main's victim M (probation's tail, else protected's) are compared by
 *    estimated frequency: W enters probation and M is evicted if W's is
 *    higher, else W is evicted; either way W's count goes up.
 * The entry just stored (keep) counts in no queue.
 *
 * The sketch: 4 rows of 8-bit counters (saturating at 15, as Caffeine's
 * 4-bit ones), each row a power of two >= 4 x the shard's entries, with
 * conservative update (only the rows holding the minimum are raised). It
 * is sized on first use and doubled (and cleared) when the shard outgrows
 * it; on ENOMEM the old one stays.
 */
#include "policy.h"

#define SKETCH_ROWS 4u
#define SKETCH_MAX 15u
#define SKETCH_PER_ENTRY 4u

struct rcache__sketch {
    uint64_t width; /* counters per row, a power of two */
    uint8_t t[];    /* SKETCH_ROWS x width */
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

/* The sketch for a shard of cap entries (grown when too small). */
static rcache__sketch_t *sketch_for(rcache__pol_t *p, uint64_t cap) {
    uint64_t want = 64;
    while (want < cap * SKETCH_PER_ENTRY && want < (1ull << 30))
        want <<= 1;
    if (!p->sketch || p->sketch->width < want) {
        rcache__sketch_t *k =
            rcache__calloc(1, sizeof(*k) + SKETCH_ROWS * want);
        if (k) {
            k->width = want;
            rcache__sketch_free(p->sketch);
            p->sketch = k;
            p->aging = 0;
        }
    }
    return p->sketch;
}

static unsigned sketch_est(const rcache__sketch_t *k, uint32_t hash) {
    uint64_t h = mix(hash);
    unsigned m = 255;
    for (unsigned r = 0; r < SKETCH_ROWS; r++) {
        uint64_t i = mix(h + r * 0x9e3779b97f4a7c15ull) & (k->width - 1);
        unsigned v = k->t[r * k->width + i];
        if (v < m)
            m = v;
    }
    return m;
}

static void sketch_add(rcache__pol_t *p, uint64_t cap, uint32_t hash) {
    rcache__sketch_t *k = sketch_for(p, cap);
    if (!k)
        return;
    unsigned m = sketch_est(k, hash);
    if (m >= SKETCH_MAX)
        return;
    uint64_t h = mix(hash);
    for (unsigned r = 0; r < SKETCH_ROWS; r++) {
        uint64_t i = mix(h + r * 0x9e3779b97f4a7c15ull) & (k->width - 1);
        if (k->t[r * k->width + i] == m)
            k->t[r * k->width + i]++;
    }
}

static unsigned estimate(const rcache__pol_t *p, uint32_t hash) {
    return p->sketch ? sketch_est(p->sketch, hash) : 0;
}

/* Shares of a shard of cap entries. */
static uint64_t window_max(uint64_t cap) {
    uint64_t w = cap / 100u;
    return w ? w : 1u;
}
static uint64_t main_max(uint64_t cap) {
    return cap > window_max(cap) ? cap - window_max(cap) : 0;
}

void rcache__wtlfu_link(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e) {
    rcache__pol_t *p = &s->pol;
    e->pq = 0;
    rcache__list_push(p->q[0], e);
    p->n[0]++;
    sketch_add(p, rcache__pol_cap(c, s, NULL), e->hash);
}

/* Insert e (off every list's count: the caller moves it) into main's
 * first segment with room; probation when neither has. */
static void slru_insert(rcache__pol_t *p, rcache__entry_t *e, uint64_t mm) {
    unsigned q = 1;
    if (p->n[1] + 1u > mm / 5u && p->n[2] + 1u <= mm * 4u / 5u)
        q = 2;
    rcache__pol_move_to(p, e, q);
}

void rcache__wtlfu_hit(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e) {
    rcache__pol_t *p = &s->pol;
    if (e->pq == 0) {
        rcache__pol_move_to(p, e, 0);
        return;
    }
    uint64_t cap = rcache__pol_cap(c, s, NULL);
    uint64_t mm = main_max(cap);
    rcache__pol_move_to(p, e, 2);
    while (p->n[2] > mm * 4u / 5u) /* protected over its share: demote */
        rcache__pol_move_to(p, p->q[2]->prev, 1);
    sketch_add(p, cap, e->hash);
    if (++p->aging >= 32u * (mm ? mm : 1u) && p->sketch) {
        rcache__sketch_t *k = p->sketch;
        for (uint64_t i = 0; i < SKETCH_ROWS * k->width; i++)
            k->t[i] >>= 1;
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
    uint64_t mm = main_max(cap);
    rcache__entry_t *w, *m;
    p->admit = p->admit_for = NULL;
    for (;;) {
        if (!(w = rcache__pol_tail(p, 0, keep)))
            return main_victim(p, keep);
        uint64_t nmain = p->n[1] + p->n[2] - (keep && keep->pq != 0);
        if (nmain + 1u > mm)
            break;
        sketch_add(p, cap, w->hash); /* main has room: w moves in */
        slru_insert(p, w, mm);
    }
    if (!(m = main_victim(p, keep)) ||
        estimate(p, w->hash) <= estimate(p, m->hash)) {
        p->admit = w;
        p->admit_for = w;
        return w;
    }
    p->admit = w;
    p->admit_for = m;
    return m;
}

void rcache__wtlfu_evict(rcache_t *c, rcache__shard_t *s, rcache__entry_t *v) {
    rcache__pol_t *p = &s->pol;
    rcache__entry_t *w = p->admit;
    int admit = w && p->admit_for == v && w != v;
    uint64_t cap = rcache__pol_cap(c, s, NULL);
    cap = cap > 1 ? cap - 1 : cap; /* v is still counted */
    if (w && p->admit_for == v)
        sketch_add(p, cap, w->hash);
    p->admit = p->admit_for = NULL;
    rcache__shard_unlink_locked(c, s, v);
    if (admit && w->pq == 0)
        slru_insert(p, w, main_max(cap));
}
