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
 * K is small (64..1024), so lookups and the minimum are linear scans over
 * a packed array of hashes and counts: a few hundred ns, paid only by the
 * sampled lookups that reach here. One mutex guards the sketch.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct topk_slot {
    uint64_t count, error, bytes;
    size_t key_len;
    int truncated;
    unsigned char key[RCACHE_HOTKEY_MAX_KEY];
} topk_slot_t;

struct rcache_topk {
    pthread_mutex_t lock;
    uint32_t k, used;
    uint64_t total;
    uint64_t *hashes; /* packed for the scan */
    uint64_t *counts; /* slots[i].count, packed for the minimum scan */
    topk_slot_t *slots;
};

int rcache_topk_new(uint32_t k, rcache_topk_t **out) {
    if (!out || k == 0 || k > 65536)
        return RCACHE_EINVAL;
    *out = NULL;
    rcache_topk_t *t = rcache__calloc(1, sizeof *t);
    if (!t)
        return RCACHE_ENOMEM;
    t->k = k;
    t->hashes = rcache__calloc(k, sizeof *t->hashes);
    t->slots = rcache__calloc(k, sizeof *t->slots);
    t->counts = rcache__calloc(k, sizeof *t->counts);
    if (!t->hashes || !t->slots || !t->counts || pthread_mutex_init(&t->lock, NULL) != 0) {
        rcache__free(t->hashes);
        rcache__free(t->counts);
        rcache__free(t->slots);
        rcache__free(t);
        return RCACHE_ENOMEM;
    }
    *out = t;
    return RCACHE_OK;
}

void rcache_topk_free(rcache_topk_t *t) {
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    rcache__free(t->hashes);
    rcache__free(t->counts);
    rcache__free(t->slots);
    rcache__free(t);
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
    uint32_t i, min = 0;
    for (i = 0; i < t->used; i++)
        if (t->hashes[i] == hash)
            break;
    if (i == t->used && t->used < t->k) {
        t->used++;
        t->hashes[i] = hash;
        memset(&t->slots[i], 0, sizeof t->slots[i]);
        set_key(&t->slots[i], key, key_len);
    } else if (i == t->used) {
        for (uint32_t j = 1; j < t->used; j++)
            if (t->counts[j] < t->counts[min])
                min = j;
        i = min;
        t->hashes[i] = hash;
        t->slots[i].error = t->slots[i].count;
        t->slots[i].bytes = 0;
        set_key(&t->slots[i], key, key_len);
    }
    t->slots[i].count += weight;
    t->counts[i] = t->slots[i].count;
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
        all[i].count = s->count;
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
    pthread_mutex_unlock(&t->lock);
}
