/*
 * belady.c - Belady's OPT on a decoded trace, for `rcache-bench trace
 * --policy opt`: the floor under every policy's miss ratio at a capacity,
 * so a policy's distance from LRU can be read against the distance that
 * exists at all (issue 13's hit-ratio target).
 *
 * Two passes over an array of dense key ids: backwards, each request's next
 * use (the position of the key's next request, or "never"); forwards, the
 * cache as an indexed max-heap of its keys by next use. A hit raises its
 * key's next use (sift up); a miss into a full cache evicts the root, the
 * key wanted furthest ahead. Positions are distinct, so the miss count does
 * not depend on how ties among keys never wanted again are broken.
 * O(n log cap) time; no allocation per request.
 */
#include "belady.h"

#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "progress.h"

#define NEVER UINT32_MAX
#define NOWHERE UINT32_MAX

typedef struct heap {
    uint32_t *key;  /* heap slot -> key id */
    uint32_t *next; /* heap slot -> that key's next use */
    uint32_t *pos;  /* key id -> heap slot, or NOWHERE: not resident */
    uint32_t len;
} heap_t;

static void put(heap_t *h, uint32_t i, uint32_t key, uint32_t next)
{
    h->key[i] = key;
    h->next[i] = next;
    h->pos[key] = i;
}

static void sift_up(heap_t *h, uint32_t i)
{
    uint32_t key = h->key[i], next = h->next[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h->next[p] >= next)
            break;
        put(h, i, h->key[p], h->next[p]);
        i = p;
    }
    put(h, i, key, next);
}

static void sift_down(heap_t *h, uint32_t i)
{
    uint32_t key = h->key[i], next = h->next[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && h->next[c + 1] > h->next[c])
            c++;
        if (h->next[c] <= next)
            break;
        put(h, i, h->key[c], h->next[c]);
        i = c;
    }
    put(h, i, key, next);
}

/* next_use[i]: position of the next request for ids[i]'s key, or NEVER. */
static uint32_t *next_uses(const uint32_t *ids, size_t n, uint32_t nkeys)
{
    uint32_t *next = malloc((n ? n : 1) * sizeof *next);
    uint32_t *last = malloc((nkeys ? nkeys : 1) * sizeof *last);
    if (!next || !last) {
        free(next);
        free(last);
        return NULL;
    }
    for (uint32_t k = 0; k < nkeys; k++)
        last[k] = NEVER;
    for (size_t i = n; i-- > 0;) {
        next[i] = last[ids[i]];
        last[ids[i]] = (uint32_t)i;
    }
    free(last);
    return next;
}

int rcache__belady(const uint32_t *ids, size_t n, uint32_t nkeys, uint64_t cap,
                   uint8_t *missed, rcache__belady_counts_t *out)
{
    if (n >= NEVER)
        return -1;
    if (cap == 0 || cap > nkeys)
        cap = nkeys; /* no key is ever evicted */
    uint32_t *next = next_uses(ids, n, nkeys);
    heap_t h = {malloc((cap ? cap : 1) * sizeof *h.key),
                malloc((cap ? cap : 1) * sizeof *h.next),
                malloc((nkeys ? nkeys : 1) * sizeof *h.pos), 0};
    int rc = -1;
    if (!next || !h.key || !h.next || !h.pos)
        goto out;
    memset(h.pos, 0xff, (size_t)nkeys * sizeof *h.pos);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = ids[i], at = h.pos[k];
        if (at != NOWHERE) {
            out->hits++;
            h.next[at] = next[i]; /* later than before: moves towards the root */
            sift_up(&h, at);
        } else {
            out->misses++;
            if (h.len == cap) {
                out->evictions++;
                h.pos[h.key[0]] = NOWHERE;
                h.len--;
                if (h.len) {
                    put(&h, 0, h.key[h.len], h.next[h.len]);
                    sift_down(&h, 0);
                }
            }
            put(&h, h.len, k, next[i]);
            sift_up(&h, h.len++);
        }
        if (missed)
            missed[i] = at == NOWHERE;
    }
    rc = 0;
out:
    free(next);
    free(h.key);
    free(h.next);
    free(h.pos);
    return rc;
}

/* The trace as key ids (and, with a cost model, each request's cost). */
typedef struct decoded {
    uint32_t *ids;
    uint64_t *cost;
    size_t n, cap;
    uint32_t nkeys;
} decoded_t;

static int push(decoded_t *d, uint32_t id, uint64_t cost, int with_cost)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 65536;
        uint32_t *ni = realloc(d->ids, nc * sizeof *ni);
        if (!ni)
            return -1;
        d->ids = ni;
        if (with_cost) {
            uint64_t *ncst = realloc(d->cost, nc * sizeof *ncst);
            if (!ncst)
                return -1;
            d->cost = ncst;
        }
        d->cap = nc;
    }
    d->ids[d->n] = id;
    if (with_cost)
        d->cost[d->n] = cost;
    d->n++;
    return 0;
}

static int decode(const char *path, const rcache__replay_opts_t *o, decoded_t *d, char *err,
                  size_t errlen)
{
    rcache__trace_t *t = rcache__trace_open(path, o->fmt, o->zkind, err, errlen);
    if (!t)
        return -1;
    rcache__keyset_t *ks = rcache__keyset_new();
    rcache__trace_req_t rq;
    int r = -1, fail = !ks;
    while (!fail && (r = rcache__trace_next(t, &rq)) == 1) {
        uint32_t id;
        uint64_t cost = o->cost ? rcache__cost_of(o->cost, rq.key, rq.key_len, rq.size,
                                                  rq.has_size)
                                : 0;
        if (d->n >= NEVER - 1 || rcache__keyset_add_id(ks, rq.key, rq.key_len, 0, &id) < 0 ||
            push(d, id, cost, o->cost != NULL) != 0)
            fail = 1;
    }
    if (fail)
        snprintf(err, errlen, "opt: out of memory (or over 2^32 requests) decoding %s", path);
    else if (r < 0)
        snprintf(err, errlen, "%s", rcache__trace_error(t));
    d->nkeys = ks ? (uint32_t)rcache__keyset_count(ks) : 0;
    rcache__keyset_free(ks);
    rcache__trace_close(t);
    return fail || r < 0 ? -1 : 0;
}

int rcache__belady_replay(const char *path, const rcache__replay_opts_t *o,
                          rcache__replay_result_t *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (o->max_bytes) {
        snprintf(err, errlen, "opt (Belady) is count-bounded: give --capacity or --sweep, "
                              "not --capacity-bytes");
        return -1;
    }
    double t0 = rcache__bench_now();
    decoded_t d = {0};
    uint8_t *missed = NULL;
    rcache__belady_counts_t bc;
    int rc = decode(path, o, &d, err, errlen);
    if (rc == 0 && ((o->cost && !(missed = malloc(d.n ? d.n : 1))) ||
                    rcache__belady(d.ids, d.n, d.nkeys, o->max_items, missed, &bc) != 0)) {
        snprintf(err, errlen, "opt: out of memory for %zu requests", d.n);
        rc = -1;
    }
    if (rc == 0) {
        res->requests = d.n;
        res->hits = bc.hits;
        res->misses = bc.misses;
        res->evictions = bc.evictions;
        res->hit_ratio = d.n ? (double)bc.hits / (double)d.n : 0;
        for (size_t i = 0; o->cost && i < d.n; i++) {
            res->cost_ms_total += d.cost[i];
            res->cost_ms_missed += missed[i] ? d.cost[i] : 0;
        }
    }
    res->seconds = rcache__bench_now() - t0;
    free(missed);
    free(d.ids);
    free(d.cost);
    return rc;
}
