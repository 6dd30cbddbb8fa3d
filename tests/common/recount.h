/*
 * recount.h - the cache invariants every test checks after it has driven
 * the cache: walking each shard through the internals, the table, the policy's
 * lists and the counters must agree, and both limits must hold. Free of any
 * test framework so unit tests (cmocka) and fuzz targets share it.
 */
#ifndef RCACHE_TEST_RECOUNT_H
#define RCACHE_TEST_RECOUNT_H

#include "internal.h"

/* NULL when every invariant holds, else which one failed. */
static inline const char *rcache_test_recount(rcache_t *c) {
    uint64_t items = 0, bytes = 0, tagged = 0;
    const char *why = rcache__tags_check(c);
    for (uint32_t i = 0; i < c->nshards && !why; i++) {
        rcache__shard_t *s = &c->shards[i];
        uint64_t n = 0, lru_n = 0, nttl = 0;
        unsigned __int128 ttl_sum = 0;
        pthread_mutex_lock(&s->lock);
        size_t nb = rcache__index_buckets(&s->idx);
        for (size_t b = 0; b < nb && !why; b++) {
            rcache__index_it_t it;
            rcache__entry_t *e;
            rcache__index_it_start(&s->idx, b, &it);
            while (!why && (e = rcache__index_it_next(&it)) != NULL) {
                n++;
                tagged += (e->flags & RCACHE__F_TAGGED) && rcache__tags_has(c, e);
                bytes += rcache__entry_charge(e);
                nttl += e->expire_at_ms != 0;
                ttl_sum += e->expire_at_ms;
                const uint32_t h32 = rcache__entry_hash32(e);
                if ((h32 & (nb - 1)) != b)
                    why = "entry in the wrong bucket";
                else if (atomic_load(&e->refs) < 1)
                    why = "linked entry without the table's reference";
                else if (rcache__index_find(&s->idx, h32, rcache__entry_key(e),
                                            e->klen) != e)
                    why = "linked entry not found by its key";
            }
        }
        if (!why)
            why = rcache__index_check(&s->idx);
        if (!why && s->idx.count != s->count)
            why = "index count differs from the shard's";
        for (unsigned q = 0; q < RCACHE__POL_LISTS && !why; q++) {
            uint64_t qn = 0;
            rcache__entry_t *h = s->pol.q[q];
            for (rcache__entry_t *e = h->next; e != h && !why; e = e->next) {
                if (e->next->prev != e)
                    why = "policy list links disagree";
                else if (rcache__pq(e) != q)
                    why = "entry on a list its pq does not name";
                qn++;
            }
            if (!why && qn != s->pol.n[q])
                why = "policy list length differs from its count";
            lru_n += qn;
        }
        if (!why && n != s->count)
            why = "shard count differs from its table";
        else if (!why && lru_n != s->count)
            why = "shard count differs from its policy lists";
        else if (!why && nttl != s->nttl)
            why = "shard TTL count differs from its entries";
        else if (!why && ttl_sum != s->ttl_sum)
            why = "shard expiry sum differs from its entries";
        items += n;
        pthread_mutex_unlock(&s->lock);
    }
    if (why)
        return why;
    rcache_stats_t st;
    rcache_stats(c, &st);
    if (items != st.items || rcache_count(c) != items)
        return "item gauge differs from a recount";
    if (tagged != st.tagged_entries)
        return "tag records differ from the tagged entries linked";
    if (bytes + st.tag_bytes != st.bytes)
        return "byte gauge differs from a recount";
    if (st.max_items && st.items > st.max_items)
        return "item limit exceeded";
    if (st.max_bytes && st.bytes > st.max_bytes)
        return "byte limit exceeded";
    return NULL;
}

#endif
