/*
 * test_model.c - randomized model-based test: the cache and a plain
 * reference LRU receive the same operations (sets with NX/XX and TTLs,
 * gets, deletes, EXPIRE/PERSIST, glob invalidation, limit changes, time
 * moving through an injected clock) and must hold the same entries in the
 * same recency order, with the same eviction counts, after every step.
 *
 * With one shard the model is exact global LRU and every eviction must be
 * the one it predicts. With several shards (docs/DESIGN.md, "LRU and
 * eviction") each shard must still be in exact LRU order, and each evicted
 * entry must be the least recently used of its shard. With at most
 * RCACHE__EVICT_SAMPLES shards the model predicts every victim: the LRU end
 * of the shard whose LRU end was used longest ago (1 s resolution; ties to
 * the fuller shard, then the lower index). With more, which shards a sample
 * held is not predicted: the model replays the evictions the cache made
 * and checks them against the per-shard order and the limits.
 *
 * Every cache counts its keys in three key classes (the key's number
 * modulo 3, rcache_config_t.key_class): after every step each class's
 * figures (rcache_class_stats) must equal a recount of the model, and some
 * invalidations are restricted to one class (rcache_invalidate_class).
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
    char fill;       /* value bytes are all this byte */
    uint32_t atime;  /* last access, s since the cache epoch */
    uint32_t shard;  /* index of the key's shard */
} ment_t;

typedef struct model {
    ment_t e[MAXN]; /* e[0] is MRU */
    size_t n;
    uint64_t max_items, max_bytes;
    uint64_t ev_items, ev_bytes;
    uint32_t nshards;
    int exact_across; /* every shard in every eviction sample */
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

static int over_limit(const model_t *m) {
    if (m->max_items && m->n > m->max_items)
        return 1;
    if (m->max_bytes && bytes_of(m) > m->max_bytes)
        return 2;
    return 0;
}

/* Index of the least recently used entry of shard sh, -1 if none; e[0]
 * is skipped when protected. */
static long shard_tail(const model_t *m, uint32_t sh, int keep_front) {
    for (long i = (long)m->n - 1; i >= (keep_front ? 1 : 0); i--)
        if (m->e[i].shard == sh)
            return i;
    return -1;
}

static size_t shard_count(const model_t *m, uint32_t sh) {
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->e[i].shard == sh;
    return n;
}

static void count_cause(model_t *m, int cause) {
    if (cause == 1)
        m->ev_items++;
    else
        m->ev_bytes++;
}

/* Every shard in every sample: the victim is exactly the LRU end of the
 * shard whose LRU end was used longest ago (seconds), ties going to the
 * shard with more entries, then to the lower index. keep_front protects
 * e[0] (the entry just stored). compare() then checks the result. */
static void evict_exact(model_t *m, int keep_front) {
    int cause;
    while ((cause = over_limit(m)) != 0) {
        long pick = -1;
        size_t pick_n = 0;
        for (uint32_t sh = 0; sh < m->nshards; sh++) {
            long t = shard_tail(m, sh, keep_front);
            size_t n = shard_count(m, sh);
            if (t >= 0 && (pick < 0 || m->e[t].atime < m->e[pick].atime ||
                           (m->e[t].atime == m->e[pick].atime && n > pick_n))) {
                pick = t;
                pick_n = n;
            }
        }
        if (pick < 0)
            return;
        remove_at(m, (size_t)pick);
        count_cause(m, cause);
    }
}

/* Sampled shards: which shards a sample held is not the model's business,
 * so replay what the cache did: the entries it no longer holds must be,
 * shard by shard, the LRU end of that shard; afterwards the limits hold,
 * and they did not before the last eviction. */
static void evict_sampled(rcache_t *c, model_t *m, int keep_front, long step) {
    size_t before = m->n, over_items = 0;
    if (m->max_items && m->n > m->max_items)
        over_items = m->n - m->max_items;
    uint64_t largest = 0; /* largest charge among each shard's last victim */
    for (uint32_t sh = 0; sh < m->nshards; sh++) {
        long t;
        uint64_t last = 0;
        while ((t = shard_tail(m, sh, keep_front)) >= 0 &&
               !rcache_exists(c, m->e[t].key, m->e[t].klen)) {
            last = charge(&m->e[t]);
            remove_at(m, (size_t)t);
        }
        largest = last > largest ? last : largest;
    }
    size_t gone = before - m->n;
    size_t by_items = gone < over_items ? gone : over_items;
    m->ev_items += by_items;
    m->ev_bytes += gone - by_items;
    if (over_limit(m))
        fail_msg("step %ld: still over a limit after evicting %zu", step, gone);
    if (gone > by_items && (!m->max_bytes || bytes_of(m) + largest <= m->max_bytes))
        fail_msg("step %ld: evicted more than the limits needed", step);
}

/* compare() then checks that the cache evicted exactly these. */
static void evict(rcache_t *c, model_t *m, int keep_front, long step) {
    if (m->exact_across)
        evict_exact(m, keep_front);
    else
        evict_sampled(c, m, keep_front, step);
}

static void purge_expired(model_t *m, uint64_t now) {
    for (size_t i = 0; i < m->n;)
        if (m->e[i].expire_at && now >= m->e[i].expire_at)
            remove_at(m, i);
        else
            i++;
}

#define NCLS 3u

static uint32_t key_class(const void *key, size_t len, void *ctx) {
    (void)ctx;
    const unsigned char *p = key; /* "k<number>", not NUL-terminated */
    uint32_t n = 0;
    for (size_t i = 1; i < len && p[i] >= '0' && p[i] <= '9'; i++)
        n = n * 10 + (uint32_t)(p[i] - '0');
    return n % NCLS;
}

static uint32_t class_of(const char *k) { return key_class(k, strlen(k), NULL); }

/* Each class's figures against a recount of the model at now_ms. */
static void compare_classes(rcache_t *c, const model_t *m, uint64_t now_ms, long step) {
    rcache_class_stats_t got[NCLS + 1];
    uint64_t items[NCLS] = {0}, expires[NCLS] = {0}, sum[NCLS] = {0};
    for (size_t i = 0; i < m->n; i++) {
        uint32_t k = class_of(m->e[i].key);
        items[k]++;
        if (m->e[i].expire_at) {
            expires[k]++;
            sum[k] += m->e[i].expire_at;
        }
    }
    assert_int_equal(rcache_class_stats(c, got, NCLS + 1), RCACHE_OK);
    for (uint32_t k = 0; k < NCLS; k++) {
        uint64_t avg = expires[k] && sum[k] / expires[k] > now_ms ? sum[k] / expires[k] - now_ms : 0;
        if (got[k].items != items[k] || got[k].expires != expires[k] || got[k].avg_ttl_ms != avg)
            fail_msg("step %ld: class %u: cache %llu keys %llu with TTL avg %llu, model %llu %llu %llu",
                     step, k, (unsigned long long)got[k].items, (unsigned long long)got[k].expires,
                     (unsigned long long)got[k].avg_ttl_ms, (unsigned long long)items[k],
                     (unsigned long long)expires[k], (unsigned long long)avg);
    }
    assert_int_equal(got[NCLS].items, 0); /* beyond key_classes: zeros */
}

static void compare(rcache_t *c, const model_t *m, long step) {
    size_t total = 0;
    for (uint32_t sh = 0; sh < m->nshards; sh++) {
        rcache__shard_t *s = &c->shards[sh];
        size_t i = 0; /* position in the model, among entries of shard sh */
        for (rcache__entry_t *e = s->lru->next; e != s->lru; e = e->next, i++, total++) {
            while (i < m->n && m->e[i].shard != sh)
                i++;
            if (i >= m->n)
                fail_msg("step %ld: shard %u has more entries than the model", step, sh);
            const ment_t *x = &m->e[i];
            if (e->klen != x->klen || memcmp(rcache__entry_key(e), x->key, x->klen) ||
                e->vlen != x->vlen || e->expire_at_ms != x->expire_at ||
                e->atime_s != x->atime)
                fail_msg("step %ld (%u shards): shard %u position %zu differs: "
                         "cache '%.*s' model '%s'", step, m->nshards, sh, i, (int)e->klen,
                         (const char *)rcache__entry_key(e), x->key);
            for (size_t j = 0; j < e->vlen; j++)
                assert_int_equal(rcache__entry_val(e)[j], (unsigned char)x->fill);
        }
    }
    if (total != m->n)
        fail_msg("step %ld: cache has %zu entries, model %zu", step, total, m->n);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.evictions_items, m->ev_items);
    assert_int_equal(st.evictions_bytes, m->ev_bytes);
    assert_int_equal(st.bytes, bytes_of(m));
}

/* With several shards time moves in seconds (the resolution of the
 * cross-shard order), so that both orders and ties are exercised. */
static void run_model(unsigned seed, long steps, uint32_t nshards) {
    test_clock_t clk = {0};
    model_t *m = calloc(1, sizeof *m);
    m->max_items = 40;
    m->max_bytes = 8000;
    m->nshards = nshards;
    m->exact_across = nshards <= RCACHE__EVICT_SAMPLES;
    const uint64_t unit = nshards > 1 ? 1000 : 1; /* ms per clock tick */
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = m->max_items;
    cfg.max_bytes = m->max_bytes;
    cfg.default_ttl_ms = 0;
    cfg.shards = nshards;
    clk.now_ms = 1700000000000ull;
    cfg.clock = test_clock_fn;
    cfg.clock_ctx = &clk;
    cfg.key_class = key_class;
    cfg.key_classes = NCLS;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    const uint64_t epoch = clk.now_ms;
    assert_int_equal(c->nshards, nshards);
    srand(seed);
    char val[400];

    for (long step = 0; step < steps; step++) {
        clk.now_ms += (uint64_t)(rand() % 3) * unit;
        uint32_t now_s = (uint32_t)((clk.now_ms - epoch) / 1000);
        rcache_expire_cycle(c, 1u << 20);
        purge_expired(m, clk.now_ms);

        char k[16];
        size_t kl = (size_t)sprintf(k, "k%d", rand() % KEYS);
        long at = find(m, k, kl);
        int op = rand() % 100;

        if (op < 45) { /* set */
            ment_t x = {{0}, kl, (size_t)(rand() % 400), 0, (char)('a' + rand() % 26),
                        now_s, (uint32_t)(rcache__shard_of(c, rcache__hash(k, kl)) - c->shards)};
            memcpy(x.key, k, kl + 1);
            int64_t ttl = rand() % 4 == 0 ? (1 + rand() % 100) * (int64_t)unit : 0;
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
                evict(c, m, 1, step);
            }
        } else if (op < 80) { /* get */
            size_t len;
            int rc = rcache_get(c, k, kl, val, sizeof val, &len);
            assert_int_equal(rc, at >= 0 ? RCACHE_OK : RCACHE_ENOTFOUND);
            if (at >= 0) {
                assert_int_equal(len, m->e[at].vlen);
                if (m->e[at].atime < now_s)
                    m->e[at].atime = now_s;
                to_front(m, (size_t)at);
            }
        } else if (op < 88) { /* delete */
            assert_int_equal(rcache_delete(c, k, kl), at >= 0 ? RCACHE_OK : RCACHE_ENOTFOUND);
            if (at >= 0)
                remove_at(m, (size_t)at);
        } else if (op < 94) { /* expire / persist */
            uint64_t ttl = rand() % 3 == 0 ? 0 : (1 + (uint64_t)(rand() % 50)) * unit;
            assert_int_equal(rcache_expire(c, k, kl, ttl), at >= 0 ? RCACHE_OK : RCACHE_ENOTFOUND);
            if (at >= 0)
                m->e[at].expire_at = ttl ? clk.now_ms + ttl : 0;
        } else if (op < 97) { /* change limits */
            m->max_items = (uint64_t)(rand() % 60);
            m->max_bytes = rand() % 4 == 0 ? 0 : 2000 + (uint64_t)(rand() % 12000);
            assert_int_equal(rcache_set_limits(c, m->max_items, m->max_bytes), RCACHE_OK);
            evict(c, m, 0, step);
        } else { /* invalidate "k1*" style pattern, in one class or all */
            char pat[8];
            size_t pl = (size_t)sprintf(pat, "k%d*", rand() % 10);
            int cls = rand() % 2 ? -1 : rand() % (int)NCLS;
            uint64_t removed, want = 0;
            for (size_t i = 0; i < m->n;)
                if (rcache_glob_match(pat, pl, m->e[i].key, m->e[i].klen) == 1 &&
                    (cls < 0 || class_of(m->e[i].key) == (uint32_t)cls)) {
                    remove_at(m, i);
                    want++;
                } else {
                    i++;
                }
            if (cls < 0)
                assert_int_equal(rcache_invalidate(c, pat, pl, &removed), RCACHE_OK);
            else
                assert_int_equal(rcache_invalidate_class(c, (uint32_t)cls, pat, pl, &removed),
                                 RCACHE_OK);
            assert_int_equal(removed, want);
        }
        compare(c, m, step);
        compare_classes(c, m, clk.now_ms, step);
    }
    check_invariants(c);
    rcache_close(c);
    free(m);
}

static void test_model_seeds(void **state) {
    for (unsigned seed = 1; seed <= 8; seed++)
        run_model(seed, 20000, 1);
}

/* Cross-shard eviction order (regression: a store evicted its own shard
 * completely before any other, so the newest entries of one shard went
 * before far older ones elsewhere). */
static void test_model_multi_shard(void **state) {
    for (unsigned seed = 1; seed <= 4; seed++)
        run_model(seed, 20000, 4);
    for (unsigned seed = 1; seed <= 2; seed++)
        run_model(seed, 20000, 16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_seeds),
        cmocka_unit_test(test_model_multi_shard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
