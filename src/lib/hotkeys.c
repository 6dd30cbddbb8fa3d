/*
 * hotkeys.c - a top-K sketch of the most referenced keys (Space-Saving,
 * Metwally et al. 2005).
 *
 * K counters, each with a key, a count and an error bound. A key already
 * counted gets its count raised; a new key takes the counter with the
 * smallest count, inheriting that count as its error (so counts are upper
 * bounds and count - error lower bounds). Every key referenced more than
 * total/K times is guaranteed to hold a counter. Memory is fixed at
 * creation: K counters of at most RCACHE_HOTKEY_MAX_KEY key bytes each
 * (longer keys are kept truncated, identified by their full 64-bit hash).
 *
 * An update is O(1) for a counted key and O(log K) for a new one, so the
 * cache can feed it often: an open-addressing index (hash -> counter) finds
 * the key, and a min-heap of counters by count gives the smallest. A count
 * only grows, so a counted key only moves down the heap; hot keys sit at
 * its leaves, where raising their count costs one or two compares. One
 * mutex guards the sketch.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

typedef struct topk_slot {
    uint64_t error, bytes;
    size_t key_len;
    int truncated;
    unsigned char key[RCACHE_HOTKEY_MAX_KEY];
} topk_slot_t;

struct rcache_topk {
    pthread_mutex_t lock;
    uint32_t k, used, imask;
    uint64_t total;
    uint64_t *hashes; /* per counter: the key's hash */
    uint64_t *counts; /* per counter: its count */
    uint32_t *pos;    /* per counter: its place in heap */
    uint32_t *heap;   /* counters, a min-heap by count */
    uint32_t *index;  /* open addressing by hash: counter or NONE */
    topk_slot_t *slots;
};

int rcache_topk_new(uint32_t k, rcache_topk_t **out) {
    if (!out || k == 0 || k > 65536)
        return RCACHE_EINVAL;
    *out = NULL;
    rcache_topk_t *t = rcache__calloc(1, sizeof *t);
    if (!t)
        return RCACHE_ENOMEM;
    uint32_t isz = 16;
    while (isz < 2u * k)
        isz *= 2;
    t->k = k;
    t->imask = isz - 1;
    t->hashes = rcache__calloc(k, sizeof *t->hashes);
    t->counts = rcache__calloc(k, sizeof *t->counts);
    t->pos = rcache__calloc(k, sizeof *t->pos);
    t->heap = rcache__calloc(k, sizeof *t->heap);
    t->index = rcache__malloc((size_t)isz * sizeof *t->index);
    t->slots = rcache__calloc(k, sizeof *t->slots);
    if (!t->hashes || !t->counts || !t->pos || !t->heap || !t->index || !t->slots ||
        pthread_mutex_init(&t->lock, NULL) != 0) {
        t->lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        rcache_topk_free(t);
        return RCACHE_ENOMEM;
    }
    memset(t->index, 0xff, (size_t)isz * sizeof *t->index);
    *out = t;
    return RCACHE_OK;
}

void rcache_topk_free(rcache_topk_t *t) {
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    rcache__free(t->hashes);
    rcache__free(t->counts);
    rcache__free(t->pos);
    rcache__free(t->heap);
    rcache__free(t->index);
    rcache__free(t->slots);
    rcache__free(t);
}

/* ---- index: hash -> counter (linear probing, backward-shift delete) ---- */

static uint32_t home_of(const rcache_topk_t *t, uint64_t hash) {
    return (uint32_t)(hash >> 32) & t->imask;
}

static uint32_t *index_slot(rcache_topk_t *t, uint64_t hash) {
    uint32_t i = home_of(t, hash);
    while (t->index[i] != NONE && t->hashes[t->index[i]] != hash)
        i = (i + 1) & t->imask;
    return &t->index[i];
}

static void index_remove(rcache_topk_t *t, uint32_t *slot) {
    uint32_t i = (uint32_t)(slot - t->index), j = i;
    t->index[i] = NONE;
    for (;;) {
        j = (j + 1) & t->imask;
        if (t->index[j] == NONE)
            return;
        uint32_t home = home_of(t, t->hashes[t->index[j]]);
        /* move j back to i unless its home lies cyclically in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            t->index[i] = t->index[j];
            t->index[j] = NONE;
            i = j;
        }
    }
}

/* ---- min-heap of counters by count ------------------------------------- */

static void heap_set(rcache_topk_t *t, uint32_t at, uint32_t n) {
    t->heap[at] = n;
    t->pos[n] = at;
}

static void sift_up(rcache_topk_t *t, uint32_t i) {
    uint32_t n = t->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (t->counts[t->heap[p]] <= t->counts[n])
            break;
        heap_set(t, i, t->heap[p]);
        i = p;
    }
    heap_set(t, i, n);
}

/* Counter heap[i]'s count grew: move it down to its place. */
static void sift_down(rcache_topk_t *t, uint32_t i) {
    uint32_t n = t->heap[i];
    uint64_t c = t->counts[n];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, small = l;
        if (l >= t->used)
            break;
        if (r < t->used && t->counts[t->heap[r]] < t->counts[t->heap[l]])
            small = r;
        if (t->counts[t->heap[small]] >= c)
            break;
        heap_set(t, i, t->heap[small]);
        i = small;
    }
    heap_set(t, i, n);
}

static void set_key(topk_slot_t *s, const void *key, size_t klen) {
    s->truncated = klen > RCACHE_HOTKEY_MAX_KEY;
    s->key_len = s->truncated ? RCACHE_HOTKEY_MAX_KEY : klen;
    memcpy(s->key, key, s->key_len);
}

void rcache_topk_add(rcache_topk_t *t, const void *key, size_t key_len, uint64_t hash,
                     uint64_t bytes, uint64_t weight) {
    if (!t || !key || weight == 0)
        return;
    pthread_mutex_lock(&t->lock);
    t->total += weight;
    uint32_t *slot = index_slot(t, hash), i = *slot;
    if (i != NONE) { /* counted: raise it */
        t->counts[i] += weight;
        sift_down(t, t->pos[i]);
    } else if (t->used < t->k) { /* a free counter */
        i = t->used++;
        t->hashes[i] = hash;
        t->counts[i] = weight;
        *slot = i;
        memset(&t->slots[i], 0, sizeof t->slots[i]);
        set_key(&t->slots[i], key, key_len);
        heap_set(t, t->used - 1, i);
        sift_up(t, t->used - 1);
    } else { /* take the smallest counter */
        i = t->heap[0];
        index_remove(t, index_slot(t, t->hashes[i]));
        t->hashes[i] = hash;
        *index_slot(t, hash) = i;
        t->slots[i].error = t->counts[i];
        t->slots[i].bytes = 0;
        set_key(&t->slots[i], key, key_len);
        t->counts[i] += weight;
        sift_down(t, 0);
    }
    if (bytes)
        t->slots[i].bytes = bytes;
    pthread_mutex_unlock(&t->lock);
}

static int by_count_desc(const void *a, const void *b) {
    const rcache_hotkey_t *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

size_t rcache_topk_list(rcache_topk_t *t, rcache_hotkey_t *out, size_t cap,
                        uint64_t *total_out) {
    size_t n;
    if (total_out)
        *total_out = 0;
    if (!t || (!out && cap))
        return 0;
    rcache_hotkey_t *all = rcache__malloc((size_t)t->k * sizeof *all);
    if (!all)
        return 0;
    pthread_mutex_lock(&t->lock);
    n = t->used;
    for (size_t i = 0; i < n; i++) {
        const topk_slot_t *s = &t->slots[i];
        memcpy(all[i].key, s->key, s->key_len);
        all[i].key_len = s->key_len;
        all[i].truncated = s->truncated;
        all[i].count = t->counts[i];
        all[i].error = s->error;
        all[i].bytes = s->bytes;
    }
    if (total_out)
        *total_out = t->total;
    pthread_mutex_unlock(&t->lock);
    qsort(all, n, sizeof *all, by_count_desc);
    if (n > cap)
        n = cap;
    if (n)
        memcpy(out, all, n * sizeof *all);
    rcache__free(all);
    return n;
}

void rcache_topk_reset(rcache_topk_t *t) {
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->used = 0;
    t->total = 0;
    memset(t->index, 0xff, ((size_t)t->imask + 1) * sizeof *t->index);
    pthread_mutex_unlock(&t->lock);
}
