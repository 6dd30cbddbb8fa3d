/*
 * mrc.c - online miss-ratio-curve estimator (SHARDS, fixed-size variant).
 *
 * SHARDS (Waldspurger et al., FAST'15) samples the reference stream by key:
 * a key is tracked when T(hash) < threshold, T being 24 bits of the key's
 * hash, so a tracked key is seen on every reference and its reuse distance
 * (distinct keys referenced since its previous reference) is exact among
 * tracked keys; divided by the sampling rate R = threshold / 2^24 it
 * estimates the distance in the full stream. The fixed-size variant bounds
 * memory: at most `max_keys` keys are tracked; when one more arrives, the
 * keys with the largest T are dropped and the threshold lowered to that T,
 * so the rate adapts to the keyspace and memory never grows.
 *
 * Reuse distances: every tracked key holds the logical time of its last
 * reference; a Fenwick tree over logical times counts (and sums the sizes
 * of) the keys whose last reference is after a given time, O(log n) per
 * reference. Logical times are renumbered densely when they reach the end
 * of the tree (every >= max_keys references), so the tree is 2 x max_keys.
 *
 * Each sampled reference adds weight 1/R (the references it stands for) to
 * a histogram of scaled distances, one in items and one in bytes; a cold
 * reference adds to the total only. The hit ratio of an LRU cache of C
 * items is the weight of distances <= C over the total weight. Histograms
 * are log-linear (32 sub-buckets per power of two), interpolated inside a
 * bucket. With the total number of references known, the SHARDS_adj
 * correction is applied (on the traces it cuts the error 2-5x at low
 * sampling rates).
 *
 * One mutex guards the whole estimator; rcache's hook only takes it for
 * sampled references (the threshold test is a relaxed atomic load).
 */
#include "internal.h"
#include "diag.h"

#include <string.h>

#define T_BITS 24u
#define T_ONE ((uint32_t)1 << T_BITS)
#define NONE UINT32_MAX
#define SUB_BITS 5u                       /* 32 sub-buckets per octave */
#define SUB ((uint32_t)1 << SUB_BITS)
#define HBUCKETS (SUB + (64u - SUB_BITS) * SUB)

typedef struct mrc_fw {
    int64_t cnt;
    uint64_t bytes;
} mrc_fw_t;

typedef struct mrc_node {
    uint64_t hash;
    uint64_t size;
    uint32_t ts; /* logical time of the last reference */
    uint32_t pad;
} mrc_node_t;

struct rcache_mrc {
    /* Read by every lookup of the cache (the sampling test): alone on its
     * cache line, away from the lock that sampled lookups write. */
    _Atomic uint32_t threshold; /* sample iff T(hash) < threshold */
    char pad_[64 - sizeof(uint32_t)];
    pthread_mutex_t lock;
    uint32_t max_keys, nkeys;
    mrc_node_t *nodes;
    uint32_t free_head;  /* free node list, chained through ts */
    uint32_t *table;     /* open addressing by hash: node index or NONE */
    uint32_t tmask;
    uint32_t *heap;      /* max-heap of node indices by T(hash) */
    uint32_t tcap;       /* logical times 0..tcap-1 */
    uint32_t now;        /* next logical time */
    mrc_fw_t *fw;        /* Fenwick: keys whose last reference is at t,
                            and their bytes (one cache line per level) */
    uint32_t *owner;     /* node at time t, or NONE */
    uint64_t live_bytes;
    uint64_t refs;       /* references given to rcache_mrc_access */
    uint64_t sampled;    /* sampled references */
    double total_w;      /* weight of every sampled reference */
    double hist_items[HBUCKETS];
    double hist_bytes[HBUCKETS];
    size_t mem_bytes;
};

static inline uint32_t t_of(uint64_t hash) { return (uint32_t)(hash & (T_ONE - 1u)); }

/* ---- histogram buckets ------------------------------------------------ */

static uint32_t bucket_of(double v) {
    if (v < (double)SUB)
        return v < 0 ? 0 : (uint32_t)v;
    if (v >= 9.0e18)
        return HBUCKETS - 1;
    uint64_t x = (uint64_t)v;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(x); /* >= SUB_BITS */
    uint32_t sub = (uint32_t)(x >> (e - SUB_BITS)) - SUB;
    uint32_t b = SUB + (e - SUB_BITS) * SUB + sub;
    return b < HBUCKETS ? b : HBUCKETS - 1;
}

static double bucket_lo(uint32_t b) {
    if (b < SUB)
        return (double)b;
    uint32_t e = (b - SUB) / SUB + SUB_BITS, sub = (b - SUB) % SUB;
    return (double)(SUB + sub) * (double)((uint64_t)1 << (e - SUB_BITS));
}

/* Weight of the distances <= x, interpolating inside x's bucket. */
static double hist_upto(const double *h, double x) {
    double sum = 0;
    if (x < 1)
        return 0;
    uint32_t bx = bucket_of(x);
    for (uint32_t b = 0; b < bx; b++)
        sum += h[b];
    double lo = bucket_lo(bx), hi = bx + 1 < HBUCKETS ? bucket_lo(bx + 1) : lo * 2;
    if (bx < SUB)
        sum += h[bx]; /* integer buckets: x >= b covers all of it */
    else if (hi > lo)
        sum += h[bx] * (x - lo) / (hi - lo);
    return sum;
}

/* ---- Fenwick tree over logical times --------------------------------- */

static void fw_add(rcache_mrc_t *m, uint32_t t, int32_t dc, int64_t db) {
    for (uint32_t i = t + 1; i <= m->tcap; i += i & (~i + 1u)) {
        m->fw[i - 1].cnt += dc;
        m->fw[i - 1].bytes += (uint64_t)db;
    }
}

/* Keys, and their bytes, with last reference at times <= t. */
static void fw_prefix(const rcache_mrc_t *m, uint32_t t, uint64_t *cnt, uint64_t *bytes) {
    int64_t c = 0;
    uint64_t b = 0;
    for (uint32_t i = t + 1; i > 0; i -= i & (~i + 1u)) {
        c += m->fw[i - 1].cnt;
        b += m->fw[i - 1].bytes;
    }
    *cnt = (uint64_t)c;
    *bytes = b;
}

/* Renumber the live times 0..nkeys-1 in order and rebuild the tree. */
static void compact(rcache_mrc_t *m) {
    uint32_t k = 0;
    for (uint32_t t = 0; t < m->tcap; t++) {
        uint32_t n = m->owner[t];
        if (n == NONE)
            continue;
        m->owner[t] = NONE;
        m->owner[k] = n;
        m->nodes[n].ts = k++;
    }
    memset(m->fw, 0, m->tcap * sizeof *m->fw);
    for (uint32_t t = 0; t < m->tcap; t++) { /* linear-time build */
        if (t < k) {
            m->fw[t].cnt += 1;
            m->fw[t].bytes += m->nodes[m->owner[t]].size;
        }
        uint32_t p = (t + 1) + ((t + 1) & (~(t + 1) + 1u));
        if (p <= m->tcap) {
            m->fw[p - 1].cnt += m->fw[t].cnt;
            m->fw[p - 1].bytes += m->fw[t].bytes;
        }
    }
    m->now = k;
}

/* ---- hash table of tracked keys --------------------------------------- */

static uint32_t *slot_of(rcache_mrc_t *m, uint64_t hash) {
    uint32_t i = (uint32_t)(hash >> 32) & m->tmask;
    while (m->table[i] != NONE && m->nodes[m->table[i]].hash != hash)
        i = (i + 1) & m->tmask;
    return &m->table[i];
}

/* Linear-probing delete with backward shift (no tombstones). */
static void table_remove(rcache_mrc_t *m, uint32_t *slot) {
    uint32_t i = (uint32_t)(slot - m->table), j = i;
    m->table[i] = NONE;
    for (;;) {
        j = (j + 1) & m->tmask;
        if (m->table[j] == NONE)
            return;
        uint32_t home = (uint32_t)(m->nodes[m->table[j]].hash >> 32) & m->tmask;
        /* move j back to i unless its home lies cyclically in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            m->table[i] = m->table[j];
            m->table[j] = NONE;
            i = j;
        }
    }
}

/* ---- heap of tracked keys by T ---------------------------------------- */

static void heap_push(rcache_mrc_t *m, uint32_t n) {
    uint32_t i = m->nkeys++;
    uint32_t tn = t_of(m->nodes[n].hash);
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (t_of(m->nodes[m->heap[p]].hash) >= tn)
            break;
        m->heap[i] = m->heap[p];
        i = p;
    }
    m->heap[i] = n;
}

static uint32_t heap_pop(rcache_mrc_t *m) {
    uint32_t top = m->heap[0], last = m->heap[--m->nkeys], i = 0;
    uint32_t tl = t_of(m->nodes[last].hash);
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, big = l;
        if (l >= m->nkeys)
            break;
        if (r < m->nkeys &&
            t_of(m->nodes[m->heap[r]].hash) > t_of(m->nodes[m->heap[l]].hash))
            big = r;
        if (t_of(m->nodes[m->heap[big]].hash) <= tl)
            break;
        m->heap[i] = m->heap[big];
        i = big;
    }
    if (m->nkeys)
        m->heap[i] = last;
    return top;
}

static void drop_node(rcache_mrc_t *m, uint32_t n) {
    mrc_node_t *nd = &m->nodes[n];
    fw_add(m, nd->ts, -1, -(int64_t)nd->size);
    m->owner[nd->ts] = NONE;
    m->live_bytes -= nd->size;
    table_remove(m, slot_of(m, nd->hash));
    nd->ts = m->free_head;
    m->free_head = n;
}

/* Make room for one more key: drop the largest T, lower the threshold. */
static void shrink(rcache_mrc_t *m) {
    uint32_t t = t_of(m->nodes[m->heap[0]].hash);
    while (m->nkeys && t_of(m->nodes[m->heap[0]].hash) >= t)
        drop_node(m, heap_pop(m));
    atomic_store_explicit(&m->threshold, t, memory_order_relaxed);
}

/* ---- public ------------------------------------------------------------- */

static size_t footprint(uint32_t max_keys, uint32_t tsize) {
    return sizeof(rcache_mrc_t) + (size_t)max_keys * (sizeof(mrc_node_t) + 4u) +
           (size_t)tsize * 4u +
           (size_t)2u * max_keys * (sizeof(mrc_fw_t) + 4u);
}

static uint32_t table_size(uint32_t max_keys) {
    uint32_t t = 16;
    while (t < max_keys * 2u)
        t *= 2;
    return t;
}

int rcache_mrc_new(size_t mem_bytes, double max_rate, rcache_mrc_t **out) {
    uint32_t keys = 1u << 20, tsize;
    if (!out)
        return RCACHE_EINVAL;
    *out = NULL;
    if (mem_bytes == 0)
        mem_bytes = RCACHE_MRC_DEFAULT_MEM_BYTES;
    if (max_rate <= 0 || max_rate > 1)
        max_rate = 1;
    while (keys > 64 && footprint(keys, table_size(keys)) > mem_bytes)
        keys = keys - keys / 8;
    if (footprint(keys, table_size(keys)) > mem_bytes)
        return RCACHE_EINVAL;
    tsize = table_size(keys);
    rcache_mrc_t *m = rcache__calloc(1, sizeof *m);
    if (!m)
        return RCACHE_ENOMEM;
    m->max_keys = keys;
    m->tcap = 2u * keys;
    m->tmask = tsize - 1;
    m->nodes = rcache__malloc((size_t)keys * sizeof *m->nodes);
    m->heap = rcache__malloc((size_t)keys * sizeof *m->heap);
    m->table = rcache__malloc((size_t)tsize * sizeof *m->table);
    m->fw = rcache__calloc(m->tcap, sizeof *m->fw);
    m->owner = rcache__malloc((size_t)m->tcap * sizeof *m->owner);
    if (!m->nodes || !m->heap || !m->table || !m->fw || !m->owner ||
        pthread_mutex_init(&m->lock, NULL) != 0) {
        m->lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        rcache_mrc_free(m);
        return RCACHE_ENOMEM;
    }
    memset(m->table, 0xff, (size_t)tsize * sizeof *m->table);
    memset(m->owner, 0xff, (size_t)m->tcap * sizeof *m->owner);
    for (uint32_t i = 0; i < keys; i++)
        m->nodes[i].ts = i + 1 < keys ? i + 1 : NONE;
    m->free_head = 0;
    double th = max_rate * (double)T_ONE;
    atomic_init(&m->threshold, th >= (double)T_ONE ? T_ONE : (uint32_t)th);
    m->mem_bytes = footprint(keys, tsize);
    *out = m;
    return RCACHE_OK;
}

void rcache_mrc_free(rcache_mrc_t *m) {
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    rcache__free(m->nodes);
    rcache__free(m->heap);
    rcache__free(m->table);
    rcache__free(m->fw);
    rcache__free(m->owner);
    rcache__free(m);
}

int rcache__mrc_sampled(const rcache_mrc_t *m, uint64_t hash) {
    return t_of(hash) < atomic_load_explicit(&m->threshold, memory_order_relaxed);
}

/* Record one reference of a key that passed the sampling test; with
 * count 0 the key only moves to the top of the LRU stack (a store: the
 * cache puts the key at its MRU end, but a store is not a lookup, so it
 * adds no sample to the curve). */
static void record_locked(rcache_mrc_t *m, uint64_t hash, uint64_t size, int count) {
    uint32_t th = atomic_load_explicit(&m->threshold, memory_order_relaxed);
    if (t_of(hash) >= th)
        return; /* the threshold moved since the unlocked test */
    double w = (double)T_ONE / (double)th;
    uint32_t *slot = slot_of(m, hash);
    mrc_node_t *nd;
    if (count) {
        m->sampled++;
        m->total_w += w;
    }
    if (m->now == m->tcap)
        compact(m), slot = slot_of(m, hash);
    if (*slot != NONE) {
        nd = &m->nodes[*slot];
        if (size == 0)
            size = nd->size;
        if (count) {
            uint64_t cnt, bytes;
            fw_prefix(m, nd->ts, &cnt, &bytes);
            uint64_t after = (uint64_t)m->nkeys - cnt;
            uint64_t after_b = m->live_bytes - bytes;
            m->hist_items[bucket_of((double)after / ((double)th / T_ONE) + 1.0)] += w;
            m->hist_bytes[bucket_of((double)after_b / ((double)th / T_ONE) + (double)size)] += w;
        }
        fw_add(m, nd->ts, -1, -(int64_t)nd->size);
        m->owner[nd->ts] = NONE;
        m->live_bytes -= nd->size;
    } else {
        if (m->nkeys == m->max_keys) {
            shrink(m);
            if (t_of(hash) >= atomic_load_explicit(&m->threshold, memory_order_relaxed))
                return; /* this key is now outside the sample */
            slot = slot_of(m, hash);
        }
        uint32_t n = m->free_head;
        m->free_head = m->nodes[n].ts;
        nd = &m->nodes[n];
        nd->hash = hash;
        nd->size = 0;
        *slot = n;
        heap_push(m, n);
    }
    if (size)
        nd->size = size;
    nd->ts = m->now++;
    m->owner[nd->ts] = (uint32_t)(nd - m->nodes);
    fw_add(m, nd->ts, 1, (int64_t)nd->size);
    m->live_bytes += nd->size;
}

uint32_t rcache__mrc_threshold(const rcache_mrc_t *m) {
    return atomic_load_explicit(&m->threshold, memory_order_relaxed);
}

void rcache__mrc_record(rcache_mrc_t *m, uint64_t hash, uint64_t size_bytes) {
    pthread_mutex_lock(&m->lock);
    record_locked(m, hash, size_bytes, 1);
    pthread_mutex_unlock(&m->lock);
}

void rcache__mrc_touch(rcache_mrc_t *m, uint64_t hash, uint64_t size_bytes) {
    pthread_mutex_lock(&m->lock);
    record_locked(m, hash, size_bytes, 0);
    pthread_mutex_unlock(&m->lock);
}

void rcache_mrc_access(rcache_mrc_t *m, uint64_t key_hash, uint64_t size_bytes) {
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->refs++;
    if (rcache__mrc_sampled(m, key_hash))
        record_locked(m, key_hash, size_bytes, 1);
    pthread_mutex_unlock(&m->lock);
}

/* Hit ratio at size x. SHARDS_adj: when the total number of references is
 * known (rcache_mrc_access() counts them, rcache_mrc_set_references() sets them), the difference
 * between it and the weight of the samples is credited to the smallest
 * distance, which corrects for a sample that caught more or fewer
 * references than its share. */
static double estimate(const rcache_mrc_t *m, const double *h, double x) {
    double n = m->refs ? (double)m->refs : m->total_w;
    if (n <= 0 || m->total_w <= 0)
        return 0;
    double hits = hist_upto(h, x);
    if (m->refs)
        hits += n - m->total_w;
    return hits <= 0 ? 0 : hits / n;
}

double rcache_mrc_hit_ratio(rcache_mrc_t *m, uint64_t size_items) {
    double r = 0;
    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    r = estimate(m, m->hist_items, (double)size_items);
    pthread_mutex_unlock(&m->lock);
    return r > 1 ? 1 : r;
}

double rcache_mrc_hit_ratio_bytes(rcache_mrc_t *m, uint64_t size_bytes) {
    double r = 0;
    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    r = estimate(m, m->hist_bytes, (double)size_bytes);
    pthread_mutex_unlock(&m->lock);
    return r > 1 ? 1 : r;
}

void rcache_mrc_set_references(rcache_mrc_t *m, uint64_t references) {
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->refs = references;
    pthread_mutex_unlock(&m->lock);
}

void rcache_mrc_info(rcache_mrc_t *m, rcache_mrc_info_t *out) {
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    out->references = m->refs;
    out->sampled_references = m->sampled;
    out->tracked_keys = m->nkeys;
    out->max_tracked_keys = m->max_keys;
    out->sampling_rate =
        (double)atomic_load_explicit(&m->threshold, memory_order_relaxed) / (double)T_ONE;
    out->mem_bytes = m->mem_bytes;
    out->weight = m->total_w;
    pthread_mutex_unlock(&m->lock);
}

void rcache_mrc_reset(rcache_mrc_t *m) {
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->refs = m->sampled = 0;
    m->total_w = 0;
    memset(m->hist_items, 0, sizeof m->hist_items);
    memset(m->hist_bytes, 0, sizeof m->hist_bytes);
    pthread_mutex_unlock(&m->lock);
}

uint64_t rcache_key_hash(const void *key, size_t key_len) {
    return rcache__hash(key, key_len);
}
