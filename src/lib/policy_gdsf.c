/*
 * policy_gdsf.c - the cost-aware eviction policy `gdsf`: GreedyDual-Size-
 * Frequency (Cherkasova, 1998), which keeps the entries that would cost
 * most to recompute per byte they hold.
 *
 * Each entry has a priority H = L + freq * cost / size, set when it is
 * stored and again on every hit: freq counts its accesses under this
 * policy (1 when stored), cost is its compute_ms (what memoize measured or
 * rcache_set_opts_t.compute_ms said; 0, unknown, counts as 1 ms), size is
 * its charge in bytes when the cache has a byte limit and 1 when it has
 * only an item limit (the resource the limit counts). The victim is the
 * entry with the lowest H (ties: the one whose H was set first); evicting
 * it raises the shard's inflation value L to its H, so entries not
 * accessed for a while fall below newly stored ones and age out.
 *
 * Why a side structure: the 64-byte entry header has no room for H and a
 * heap position, and growing it would cost every policy. So each shard
 * keeps, only under this policy, a binary min-heap of {H, seq, freq,
 * entry} (32 bytes per entry) and an open-addressing map from entry
 * address to heap position (16 bytes per slot, at most half full): about
 * 64-128 bytes per entry outside max_bytes' accounting, O(log n) per store,
 * hit and eviction; both shrink by half when a quarter (heap) or an eighth
 * (index) full. Entries also stay on list q[0] (insertion order), so
 * the walks over the policy lists (scan, diagnostics, policy switch) see
 * them as under any other policy. An entry the heap could not take
 * (ENOMEM growing it) waits on list q[1] instead and is evicted first,
 * oldest first; a later hit retries.
 */
#include "policy.h"

typedef struct gnode {
    double h;           /* priority */
    uint64_t seq;       /* when h was set (ties: older first) */
    rcache__entry_t *e;
    uint32_t freq;      /* accesses under gdsf, saturating */
} gnode_t;

typedef struct gslot {
    const rcache__entry_t *e; /* NULL: free */
    uint32_t pos;             /* heap index of e */
} gslot_t;

struct rcache__gdsf {
    gnode_t *heap;
    uint32_t n, cap;
    gslot_t *map;
    size_t mask;  /* map slots - 1 (power of two) */
    size_t used;  /* occupied map slots */
    double L;     /* inflation value */
    uint64_t seq;
};

#define GDSF_MIN_SLOTS 16u

rcache__gdsf_t *rcache__gdsf_new(void) {
    rcache__gdsf_t *g = rcache__calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->map = rcache__calloc(GDSF_MIN_SLOTS, sizeof(gslot_t));
    if (!g->map) {
        rcache__free(g);
        return NULL;
    }
    g->mask = GDSF_MIN_SLOTS - 1;
    return g;
}

void rcache__gdsf_free(rcache__gdsf_t *g) {
    if (!g)
        return;
    rcache__free(g->heap);
    rcache__free(g->map);
    rcache__free(g);
}

double rcache__gdsf_inflation(const rcache__gdsf_t *g) { return g->L; }

/* ---- the address map (linear probing, backward-shift deletion) ---- */
static size_t slot_of(const rcache__gdsf_t *g, uintptr_t e) {
    uint64_t x = (uint64_t)e;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & g->mask;
}

/* Keyed by address only: an address is compared, never followed. */
static gslot_t *map_find(const rcache__gdsf_t *g, uintptr_t e) {
    for (size_t i = slot_of(g, e);; i = (i + 1) & g->mask) {
        if ((uintptr_t)g->map[i].e == e)
            return &g->map[i];
        if (!g->map[i].e)
            return NULL;
    }
}

static void map_put_nogrow(rcache__gdsf_t *g, const rcache__entry_t *e,
                           uint32_t pos) {
    size_t i = slot_of(g, (uintptr_t)e);
    while (g->map[i].e)
        i = (i + 1) & g->mask;
    g->map[i].e = e;
    g->map[i].pos = pos;
    g->used++;
}

/* Rebuild the index with `slots` slots; RCACHE_ENOMEM keeps the old. */
static int map_resize(rcache__gdsf_t *g, size_t slots) {
    gslot_t *old = g->map, *nm = rcache__calloc(slots, sizeof(gslot_t));
    if (!nm)
        return RCACHE_ENOMEM;
    size_t oslots = g->mask + 1;
    g->map = nm;
    g->mask = slots - 1;
    g->used = 0;
    for (size_t i = 0; i < oslots; i++)
        if (old[i].e)
            map_put_nogrow(g, old[i].e, old[i].pos);
    rcache__free(old);
    return RCACHE_OK;
}

/* Room for one more key at most half full; RCACHE_ENOMEM. */
static int map_reserve(rcache__gdsf_t *g) {
    if ((g->used + 1) * 2 <= g->mask + 1)
        return RCACHE_OK;
    return map_resize(g, (g->mask + 1) * 2);
}

static void map_del(rcache__gdsf_t *g, gslot_t *s) {
    size_t i = (size_t)(s - g->map);
    for (size_t j = (i + 1) & g->mask; g->map[j].e; j = (j + 1) & g->mask) {
        size_t home = slot_of(g, (uintptr_t)g->map[j].e);
        /* move j back to i when its home is not in (i, j] */
        if (((j - home) & g->mask) >= ((j - i) & g->mask)) {
            g->map[i] = g->map[j];
            i = j;
        }
    }
    g->map[i].e = NULL;
    g->used--;
}

/* ---- the heap ---- */
static int before(const gnode_t *a, const gnode_t *b) {
    return a->h < b->h || (a->h == b->h && a->seq < b->seq);
}

static void place(rcache__gdsf_t *g, uint32_t i, const gnode_t *x) {
    g->heap[i] = *x;
    map_find(g, (uintptr_t)x->e)->pos = i;
}

/* Put x at hole i and restore the heap order around it. */
static void sift(rcache__gdsf_t *g, uint32_t i, gnode_t x) {
    while (i > 0 && before(&x, &g->heap[(i - 1) / 2])) {
        place(g, i, &g->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * i + 1, m = l;
        if (l >= g->n)
            break;
        if (l + 1 < g->n && before(&g->heap[l + 1], &g->heap[l]))
            m = l + 1;
        if (!before(&g->heap[m], &x))
            break;
        place(g, i, &g->heap[m]);
        i = m;
    }
    place(g, i, &x);
}

static uint64_t cost_ms(const rcache__entry_t *e) {
    uint32_t ms = rcache__entry_compute_ms(e);
    return ms ? ms : 1u;
}

static double prio(const rcache_t *c, const rcache__gdsf_t *g,
                   const rcache__entry_t *e, uint32_t freq) {
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);
    double size = mb ? (double)rcache__entry_charge(e) : 1.0;
    return g->L + (double)freq * (double)cost_ms(e) / size;
}

/* Add e with freq accesses; RCACHE_ENOMEM leaves g unchanged. */
static int heap_add(rcache_t *c, rcache__gdsf_t *g, rcache__entry_t *e,
                    uint32_t freq) {
    if (g->n == g->cap) {
        uint32_t cap = g->cap ? g->cap * 2 : 16u;
        if (cap < g->cap)
            return RCACHE_ENOMEM;
        gnode_t *nh = rcache__realloc(g->heap, (size_t)cap * sizeof(gnode_t));
        if (!nh)
            return RCACHE_ENOMEM;
        g->heap = nh;
        g->cap = cap;
    }
    if (map_reserve(g) != RCACHE_OK)
        return RCACHE_ENOMEM;
    map_put_nogrow(g, e, g->n);
    gnode_t x = {prio(c, g, e, freq), ++g->seq, e, freq};
    sift(g, g->n++, x);
    return RCACHE_OK;
}

/* Give memory back once the shard has shrunk to a quarter of what the
 * heap or the index was sized for (a failed reallocation keeps the old). */
static void shrink(rcache__gdsf_t *g) {
    if (g->cap > 16u && g->n < g->cap / 4) {
        gnode_t *nh = rcache__realloc(g->heap, (size_t)(g->cap / 2) * sizeof(gnode_t));
        if (nh) {
            g->heap = nh;
            g->cap /= 2;
        }
    }
    size_t slots = g->mask + 1;
    if (slots > GDSF_MIN_SLOTS && g->used * 8 < slots)
        (void)map_resize(g, slots / 2);
}

static void heap_remove(rcache__gdsf_t *g, gslot_t *s) {
    uint32_t i = s->pos;
    map_del(g, s);
    if (--g->n > i)
        sift(g, i, g->heap[g->n]);
    shrink(g);
}

/* ---- the policy hooks (policy.c dispatches here) ---- */
void rcache__gdsf_link(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e) {
    rcache__pol_t *p = &s->pol;
    unsigned l = heap_add(c, p->gdsf, e, 1) == RCACHE_OK ? 0u : 1u;
    rcache__set_pq(e, l);
    rcache__list_push(p->q[l], e);
    p->n[l]++;
}

void rcache__gdsf_hit(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e) {
    rcache__gdsf_t *g = s->pol.gdsf;
    gslot_t *sl = map_find(g, (uintptr_t)e);
    if (!sl) { /* waiting on q[1]: try the heap again */
        if (heap_add(c, g, e, 1) == RCACHE_OK)
            rcache__pol_move_to(&s->pol, e, 0);
        return;
    }
    gnode_t x = g->heap[sl->pos];
    if (x.freq < UINT32_MAX)
        x.freq++;
    x.h = prio(c, g, e, x.freq);
    x.seq = ++g->seq;
    sift(g, sl->pos, x);
}

void rcache__gdsf_unlink(rcache__shard_t *s, const rcache__entry_t *e) {
    rcache__gdsf_t *g = s->pol.gdsf;
    gslot_t *sl = map_find(g, (uintptr_t)e);
    if (sl)
        heap_remove(g, sl);
}

void rcache__gdsf_rename(rcache__shard_t *s, uintptr_t old,
                         rcache__entry_t *e) {
    rcache__gdsf_t *g = s->pol.gdsf;
    gslot_t *sl = map_find(g, old);
    if (!sl)
        return;
    uint32_t pos = sl->pos;
    map_del(g, sl); /* one out, one in: never needs to grow */
    map_put_nogrow(g, e, pos);
    g->heap[pos].e = e;
}

rcache__entry_t *rcache__gdsf_victim(rcache__shard_t *s,
                                     const rcache__entry_t *keep) {
    const rcache__pol_t *p = &s->pol;
    rcache__entry_t *e = rcache__pol_tail(p, 1, keep);
    if (e)
        return e;
    const rcache__gdsf_t *g = p->gdsf;
    if (g->n == 0)
        return NULL;
    if (g->heap[0].e != keep)
        return g->heap[0].e;
    /* keep is the minimum: the next is one of its children */
    if (g->n == 1)
        return NULL;
    uint32_t m = g->n > 2 && before(&g->heap[2], &g->heap[1]) ? 2 : 1;
    return g->heap[m].e;
}

void rcache__gdsf_evict(rcache_t *c, rcache__shard_t *s, rcache__entry_t *v) {
    rcache__gdsf_t *g = s->pol.gdsf;
    const gslot_t *sl = map_find(g, (uintptr_t)v);
    if (sl && g->heap[sl->pos].h > g->L)
        g->L = g->heap[sl->pos].h;
    rcache__shard_unlink_locked(c, s, v);
}

int rcache__gdsf_peek(const rcache__shard_t *s, const rcache__entry_t *e,
                      double *h, uint64_t *seq, uint32_t *freq) {
    const rcache__gdsf_t *g = s->pol.gdsf;
    const gslot_t *sl = g ? map_find(g, (uintptr_t)e) : NULL;
    if (!sl)
        return 0;
    *h = g->heap[sl->pos].h;
    *seq = g->heap[sl->pos].seq;
    *freq = g->heap[sl->pos].freq;
    return 1;
}
