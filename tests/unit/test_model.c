/*
 * test_model.c - randomized model-based test: the cache (one shard) and a
 * plain reference LRU receive the same operations (sets with NX/XX and TTLs,
 * gets, deletes, EXPIRE/PERSIST, glob invalidation, limit changes, time
 * moving through an injected clock) and must hold the same entries in the
 * same recency order, with the same eviction counts, after every step.
 *
 * Lazy expiry and the per-store sweep reclaim expired entries at moments a
 * model cannot predict, so before each operation both sides reclaim every
 * expired entry (the cache through rcache_expire_cycle); what is compared
 * is then exact.
 */
#include "testutil.h"

#include <stdlib.h>

#define KEYS 120
#define MAXN 512

typedef struct ment {
    char key[16];
    size_t klen, vlen;
    uint64_t expire_at;
    char fill; /* value bytes are all this byte */
} ment_t;

typedef struct model {
    ment_t e[MAXN]; /* e[0] is MRU */
    size_t n;
    uint64_t max_items, max_bytes;
    uint64_t ev_items, ev_bytes;
} model_t;

static uint64_t charge(const ment_t *m) {
    return rcache__entry_size(m->klen, m->vlen, 0, 0);
}

static uint64_t bytes_of(const model_t *m) {
    uint64_t b = 0;
    for (size_t i = 0; i < m->n; i++)
        b += charge(&m->e[i]);
    return b;
}

static long find(const model_t *m, const char *k, size_t kl) {
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].klen == kl && memcmp(m->e[i].key, k, kl) == 0)
            return (long)i;
    return -1;
}

static void remove_at(model_t *m, size_t i) {
    memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(ment_t));
    m->n--;
}

static void to_front(model_t *m, size_t i) {
    ment_t t = m->e[i];
    memmove(&m->e[1], &m->e[0], i * sizeof(ment_t));
    m->e[0] = t;
}

/* Evict from the LRU end while over a limit; keep_front protects e[0]. */
static void evict(model_t *m, int keep_front) {
    for (;;) {
        int cause = 0;
        if (m->max_items && m->n > m->max_items)
            cause = 1;
        else if (m->max_bytes && bytes_of(m) > m->max_bytes)
            cause = 2;
        if (!cause || m->n == 0 || (keep_front && m->n == 1))
            return;
        remove_at(m, m->n - 1);
        if (cause == 1)
            m->ev_items++;
        else
            m->ev_bytes++;
    }
}

static void purge_expired(model_t *m, uint64_t now) {
    for (size_t i = 0; i < m->n;)
        if (m->e[i].expire_at && now >= m->e[i].expire_at)
            remove_at(m, i);
        else
            i++;
}

static void compare(rcache_t *c, const model_t *m, long step) {
    rcache__shard_t *s = &c->shards[0];
    size_t i = 0;
    for (rcache__entry_t *e = s->lru->next; e != s->lru; e = e->next, i++) {
        if (i >= m->n)
            fail_msg("step %ld: cache has more entries than the model (%zu)", step, m->n);
        const ment_t *x = &m->e[i];
        if (e->klen != x->klen || memcmp(rcache__entry_key(e), x->key, x->klen) ||
            e->vlen != x->vlen || e->expire_at_ms != x->expire_at)
            fail_msg("step %ld: position %zu differs: cache '%.*s' model '%s'", step,
                     i, (int)e->klen, (const char *)rcache__entry_key(e), x->key);
        for (size_t j = 0; j < e->vlen; j++)
            assert_int_equal(rcache__entry_val(e)[j], (unsigned char)x->fill);
    }
    if (i != m->n)
        fail_msg("step %ld: cache has %zu entries, model %zu", step, i, m->n);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.evictions_items, m->ev_items);
    assert_int_equal(st.evictions_bytes, m->ev_bytes);
    assert_int_equal(st.bytes, bytes_of(m));
}

static void run_model(unsigned seed, long steps) {
    test_clock_t clk = {0};
    model_t *m = calloc(1, sizeof *m);
    m->max_items = 40;
    m->max_bytes = 8000;
    rcache_t *c = open_cache(m->max_items, m->max_bytes, 0, 1, &clk);
    srand(seed);
    char val[400];

    for (long step = 0; step < steps; step++) {
        clk.now_ms += (uint64_t)(rand() % 3);
        rcache_expire_cycle(c, 1u << 20);
        purge_expired(m, clk.now_ms);

        char k[16];
        size_t kl = (size_t)sprintf(k, "k%d", rand() % KEYS);
        long at = find(m, k, kl);
        int op = rand() % 100;

        if (op < 45) { /* set */
            ment_t x = {{0}, kl, (size_t)(rand() % 400), 0, (char)('a' + rand() % 26)};
            memcpy(x.key, k, kl + 1);
            int64_t ttl = rand() % 4 == 0 ? 1 + rand() % 100 : 0;
            unsigned flags = rand() % 10 == 0 ? RCACHE_SET_NX
                             : rand() % 10 == 0 ? RCACHE_SET_XX : 0;
            memset(val, x.fill, x.vlen);
            int rc = rcache_set(c, k, kl, val, x.vlen, ttl, flags);
            x.expire_at = ttl ? clk.now_ms + (uint64_t)ttl : 0;
            if (m->max_bytes && charge(&x) > m->max_bytes) {
                assert_int_equal(rc, RCACHE_ETOOBIG);
            } else if (flags == RCACHE_SET_NX && at >= 0) {
                assert_int_equal(rc, RCACHE_EEXIST);
            } else if (flags == RCACHE_SET_XX && at < 0) {
                assert_int_equal(rc, RCACHE_ENOTFOUND);
            } else {
                assert_int_equal(rc, RCACHE_OK);
                if (at >= 0)
                    remove_at(m, (size_t)at);
                memmove(&m->e[1], &m->e[0], m->n * sizeof(ment_t));
                m->e[0] = x;
                m->n++;
                evict(m, 1);
            }
        } else if (op < 80) { /* get */
            size_t len;
            int rc = rcache_get(c, k, kl, val, sizeof val, &len);
            assert_int_equal(rc, at >= 0 ? RCACHE_OK : RCACHE_ENOTFOUND);
            if (at >= 0) {
                assert_int_equal(len, m->e[at].vlen);
                to_front(m, (size_t)at);
            }
        } else if (op < 88) { /* delete */
            assert_int_equal(rcache_delete(c, k, kl), at >= 0 ? RCACHE_OK : RCACHE_ENOTFOUND);
            if (at >= 0)
                remove_at(m, (size_t)at);
        } else if (op < 94) { /* expire / persist */
            uint64_t ttl = rand() % 3 == 0 ? 0 : 1 + (uint64_t)(rand() % 50);
            assert_int_equal(rcache_expire(c, k, kl, ttl), at >= 0 ? RCACHE_OK : RCACHE_ENOTFOUND);
            if (at >= 0)
                m->e[at].expire_at = ttl ? clk.now_ms + ttl : 0;
        } else if (op < 97) { /* change limits */
            m->max_items = (uint64_t)(rand() % 60);
            m->max_bytes = rand() % 4 == 0 ? 0 : 2000 + (uint64_t)(rand() % 12000);
            assert_int_equal(rcache_set_limits(c, m->max_items, m->max_bytes), RCACHE_OK);
            evict(m, 0);
        } else { /* invalidate "k1*" style pattern */
            char pat[8];
            size_t pl = (size_t)sprintf(pat, "k%d*", rand() % 10);
            uint64_t removed, want = 0;
            for (size_t i = 0; i < m->n;)
                if (rcache_glob_match(pat, pl, m->e[i].key, m->e[i].klen) == 1) {
                    remove_at(m, i);
                    want++;
                } else {
                    i++;
                }
            assert_int_equal(rcache_invalidate(c, pat, pl, &removed), RCACHE_OK);
            assert_int_equal(removed, want);
        }
        compare(c, m, step);
    }
    check_invariants(c);
    rcache_close(c);
    free(m);
}

static void test_model_seeds(void **state) {
    for (unsigned seed = 1; seed <= 8; seed++)
        run_model(seed, 20000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
