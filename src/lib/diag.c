/*
 * diag.c - a cache's diagnostics: what more memory would buy (the MRC
 * estimator of mrc.c fed by the cache's lookups), which keys are hot (the
 * sketch of hotkeys.c fed by a sample of lookups), and what is in the cache
 * (a census: log2 histogram of entry footprints, entries and bytes per key
 * namespace).
 *
 * Off by default. The first rcache_diag_enable() allocates the state, which
 * then lives until rcache_close(): sampled lookups read the pointer without
 * a lock, so it is never freed while the cache is open; disabling clears a
 * flag and the two sampling fields in the cache (diag.h's fast path reads
 * only those: a lookup that samples nothing never reaches this file).
 *
 * The hot-key sample is deterministic: 1 hit and 1 miss in hot_every (a
 * power of two) per counter slot, counted with the thread's own hit and
 * miss counters (rcache__ctr_t), which the lookup writes anyway. A random
 * per-lookup draw (the earlier design) cost a thread-local read and write
 * per lookup; with 64 shards interleaving keys, a period in the access
 * pattern would have to match the sampling in every shard to alias.
 *
 * The census is computed, not maintained: it walks every shard's LRU list
 * under that shard's lock (one shard at a time), so it is exact for each
 * shard and costs the get/set path nothing; it is O(entries), meant for an
 * admin page refreshed every few seconds, not for a hot loop.
 */
#include "diag.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_HOT_K 128u
#define DEFAULT_HOT_EVERY 256u
#define DEFAULT_MAX_RATE (1.0 / 256)

void rcache_diag_opts_init(rcache_diag_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->mrc_mem_bytes = RCACHE_MRC_DEFAULT_MEM_BYTES;
    o->mrc_max_rate = DEFAULT_MAX_RATE;
    o->hotkeys_k = DEFAULT_HOT_K;
    o->hotkeys_every = DEFAULT_HOT_EVERY;
}

static uint64_t lookups(rcache_t *c) {
    rcache_stats_t st;
    rcache_stats(c, &st);
    return st.hits + st.misses;
}

static rcache__diag_t *diag_new(const rcache_diag_opts_t *o) {
    rcache__diag_t *d = rcache__calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (rcache_mrc_new(o->mrc_mem_bytes, o->mrc_max_rate, &d->mrc) != RCACHE_OK ||
        rcache_topk_new(o->hotkeys_k ? o->hotkeys_k : DEFAULT_HOT_K, &d->hot) != RCACHE_OK) {
        rcache_mrc_free(d->mrc);
        rcache__free(d);
        return NULL;
    }
    uint32_t every = o->hotkeys_every ? o->hotkeys_every : DEFAULT_HOT_EVERY;
    d->hot_every = 1;
    while (d->hot_every < every && d->hot_every < (1u << 30))
        d->hot_every *= 2; /* a mask test: round up to a power of two */
    return d;
}

/* Open or close the fast path's sampling test (diag.h). */
static void sampling_set(rcache_t *c, const rcache__diag_t *d, int on) {
    atomic_store_explicit(&c->diag_mrc_th, on ? rcache__mrc_threshold(d->mrc) : 0,
                          memory_order_relaxed);
    atomic_store_explicit(&c->diag_hot_mask, on ? (uint64_t)d->hot_every - 1 : UINT64_MAX,
                          memory_order_relaxed);
}

int rcache_diag_enable_ex(rcache_t *c, int on, const rcache_diag_opts_t *opts) {
    rcache_diag_opts_t def;
    if (!c)
        return RCACHE_EINVAL;
    if (!opts) {
        rcache_diag_opts_init(&def);
        opts = &def;
    }
    if (opts->mrc_max_rate < 0 || opts->mrc_max_rate > 1 || opts->hotkeys_k > 65536)
        return RCACHE_EINVAL;
    rcache__diag_t *d = rcache__diag_get(c);
    if (!d && on) {
        rcache__diag_t *nd = diag_new(opts), *expected = NULL;
        if (!nd)
            return RCACHE_ENOMEM;
        atomic_store(&nd->base_lookups, lookups(c));
        if (atomic_compare_exchange_strong_explicit(&c->diag, &expected, nd,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire)) {
            d = nd;
        } else { /* another thread enabled first */
            rcache__diag_free(nd);
            d = expected;
        }
    }
    if (d) {
        /* Back on after a pause: the lookups in between were not sampled,
         * so the curve starts again. */
        if (on && !atomic_exchange(&d->on, 1)) {
            rcache_diag_reset(c);
            sampling_set(c, d, 1);
        } else if (!on) {
            atomic_store_explicit(&d->on, 0, memory_order_relaxed);
            sampling_set(c, d, 0);
        }
    }
    return RCACHE_OK;
}

int rcache_diag_enable(rcache_t *c, int on) { return rcache_diag_enable_ex(c, on, NULL); }

int rcache_diag_enabled(rcache_t *c) {
    rcache__diag_t *d = c ? rcache__diag_get(c) : NULL;
    return d && atomic_load_explicit(&d->on, memory_order_relaxed);
}

void rcache__diag_free(rcache__diag_t *d) {
    if (!d)
        return;
    rcache_mrc_free(d->mrc);
    rcache_topk_free(d->hot);
    rcache__free(d);
}

/* The MRC sample shrank (its threshold fell): lower the fast path's copy,
 * unless diagnostics were switched off meanwhile (the compare-exchange
 * then finds 0 and leaves it). A stale, higher copy only sends a few more
 * lookups here, which record_locked() turns away. */
static void mrc_threshold_follow(rcache_t *c, const rcache__diag_t *d) {
    uint32_t cur = atomic_load_explicit(&c->diag_mrc_th, memory_order_relaxed);
    uint32_t th = rcache__mrc_threshold(d->mrc);
    while (th < cur && !atomic_compare_exchange_weak_explicit(
                           &c->diag_mrc_th, &cur, th, memory_order_relaxed,
                           memory_order_relaxed)) {
    }
}

void rcache__diag_lookup_slow(rcache_t *c, unsigned pick, const void *key, size_t klen,
                              uint64_t hash, uint64_t charge) {
    rcache__diag_t *d = rcache__diag_get(c);
    if (!d || !atomic_load_explicit(&d->on, memory_order_relaxed))
        return;
    if (pick & RCACHE__DIAG_MRC) {
        rcache__mrc_record(d->mrc, hash, charge);
        mrc_threshold_follow(c, d);
    }
    if (pick & RCACHE__DIAG_HOT)
        rcache_topk_add(d->hot, key, klen, hash, charge, d->hot_every);
}

void rcache__diag_store_slow(rcache_t *c, uint64_t hash, uint64_t charge) {
    rcache__diag_t *d = rcache__diag_get(c);
    if (!d || !atomic_load_explicit(&d->on, memory_order_relaxed))
        return;
    rcache__mrc_touch(d->mrc, hash, charge);
    mrc_threshold_follow(c, d);
}

rcache_mrc_t *rcache_diag_mrc(rcache_t *c) {
    rcache__diag_t *d = c ? rcache__diag_get(c) : NULL;
    if (!d)
        return NULL;
    uint64_t now = lookups(c), base = atomic_load(&d->base_lookups);
    rcache_mrc_set_references(d->mrc, now >= base ? now - base : 0);
    return d->mrc;
}

size_t rcache_diag_hotkeys(rcache_t *c, rcache_hotkey_t *out, size_t cap,
                           uint64_t *sampled_total) {
    rcache__diag_t *d = c ? rcache__diag_get(c) : NULL;
    if (sampled_total)
        *sampled_total = 0;
    return d ? rcache_topk_list(d->hot, out, cap, sampled_total) : 0;
}

int rcache_diag_reset(rcache_t *c) {
    rcache__diag_t *d = c ? rcache__diag_get(c) : NULL;
    if (!c)
        return RCACHE_EINVAL;
    if (d) {
        atomic_store(&d->base_lookups, lookups(c));
        rcache_mrc_reset(d->mrc);
        rcache_topk_reset(d->hot);
    }
    return RCACHE_OK;
}

/* ---- census ------------------------------------------------------------ */

unsigned rcache_size_bucket(uint64_t size_bytes) {
    return size_bytes ? 63u - (unsigned)__builtin_clzll(size_bytes) : 0u;
}

/* Namespaces are gathered in a larger table than the census lists, then
 * the biggest (by entries) are kept and the rest summed as "other". */
#define NS_TRACK 1024u

typedef struct ns_acc {
    rcache_ns_stat_t *t; /* NS_TRACK slots */
    uint64_t *hash;
    size_t n;
    uint64_t over_items, over_bytes; /* beyond NS_TRACK */
} ns_acc_t;

/* Namespace of a key: the bytes before its first ':' (at most
 * RCACHE_NS_NAME_MAX), or none. */
static void census_ns(ns_acc_t *a, const unsigned char *key, size_t klen, uint64_t charge) {
    const unsigned char *colon = memchr(key, ':', klen);
    size_t n = colon ? (size_t)(colon - key) : 0;
    int trunc = n > RCACHE_NS_NAME_MAX;
    if (trunc)
        n = RCACHE_NS_NAME_MAX;
    uint64_t h = colon ? rcache__hash(key, n) ^ (uint64_t)trunc : 0;
    size_t i;
    for (i = 0; i < a->n; i++)
        if (a->hash[i] == h && a->t[i].has_prefix == (colon != NULL) &&
            a->t[i].name_len == n && memcmp(a->t[i].name, key, n) == 0 &&
            a->t[i].truncated == trunc)
            break;
    if (i == a->n) {
        if (a->n == NS_TRACK) {
            a->over_items++;
            a->over_bytes += charge;
            return;
        }
        rcache_ns_stat_t *s = &a->t[a->n++];
        memset(s, 0, sizeof *s);
        memcpy(s->name, key, n);
        s->name[n] = '\0';
        s->name_len = n;
        s->has_prefix = colon != NULL;
        s->truncated = trunc;
        a->hash[i] = h;
    }
    a->t[i].items++;
    a->t[i].bytes += charge;
}

static int ns_by_items_desc(const void *x, const void *y) {
    const rcache_ns_stat_t *a = x, *b = y;
    if (a->items != b->items)
        return a->items < b->items ? 1 : -1;
    if (a->bytes != b->bytes)
        return a->bytes < b->bytes ? 1 : -1;
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static void census_shard(rcache__shard_t *s, rcache_census_t *out, ns_acc_t *a) {
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < RCACHE__POL_LISTS; i++) {
        rcache__entry_t *h = s->pol.q[i];
        for (rcache__entry_t *e = h->next; e != h; e = e->next) {
            uint64_t charge = rcache__entry_charge(e);
            unsigned b = rcache_size_bucket(charge);
            out->items++;
            out->bytes += charge;
            out->size_count[b]++;
            out->size_bytes[b] += charge;
            census_ns(a, rcache__entry_key(e), e->klen, charge);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

int rcache_diag_census(rcache_t *c, rcache_census_t *out) {
    ns_acc_t a = {0};
    if (!c || !out)
        return RCACHE_EINVAL;
    memset(out, 0, sizeof *out);
    a.t = rcache__malloc(NS_TRACK * sizeof *a.t);
    a.hash = rcache__malloc(NS_TRACK * sizeof *a.hash);
    if (!a.t || !a.hash) {
        rcache__free(a.t);
        rcache__free(a.hash);
        return RCACHE_ENOMEM;
    }
    for (uint32_t i = 0; i < c->nshards; i++)
        census_shard(&c->shards[i], out, &a);
    qsort(a.t, a.n, sizeof *a.t, ns_by_items_desc);
    out->ns_count = a.n < RCACHE_NS_MAX ? a.n : RCACHE_NS_MAX;
    memcpy(out->ns, a.t, out->ns_count * sizeof *a.t);
    out->other_items = a.over_items;
    out->other_bytes = a.over_bytes;
    for (size_t i = out->ns_count; i < a.n; i++) {
        out->other_items += a.t[i].items;
        out->other_bytes += a.t[i].bytes;
    }
    rcache__free(a.t);
    rcache__free(a.hash);
    return RCACHE_OK;
}
