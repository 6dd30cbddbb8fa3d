/*
 * test_policy_model.c - model-based tests of the eviction policies: the
 * cache (one shard, an item limit) and a small reference implementation of
 * each policy, written here from the algorithm's description in
 * libCacheSim's style (evict first, then insert; fixed capacity), receive
 * the same random operations: lookups that insert on a miss (the trace
 * model), overwrites and deletes. After every operation each of the
 * shard's lists must hold the same keys in the same order as the model's
 * queues, with the same per-entry bits, and the eviction counts must agree:
 * every eviction is the one the model predicts.
 *
 * The W-TinyLFU model carries its own copy of the sketch (same hash
 * positions, sizes, saturation and aging), since which entry wins an
 * admission depends on the estimates, and of wtinylfu's window adaptation
 * (its two ghosts, their sizes and the window moves). One difference from libCacheSim is
 * modelled on purpose: the new key is counted when it is stored, before
 * the eviction it causes.
 *
 * Then, for every policy and several shard counts: both limits hold after
 * every call (items and bytes, values of mixed sizes), under each policy
 * and across a change of policy on the live cache.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

#define KEYS 64
#define CAP 24

typedef struct model {
    int kind;
    int q[3][KEYS]; /* q[i][0] is the head (newest) */
    int n[3];
    int where[KEYS]; /* list, or -1 when absent */
    int pf[KEYS];
    int hand;        /* sieve: key, or -1 */
    int ghost[KEYS]; /* s3fifo: oldest first */
    int ng;
    uint32_t hash[KEYS];
    uint8_t *cbf;    /* wtinylfu */
    uint64_t cbf_size, aging;
    uint64_t win;    /* wtinylfu's adaptive window (0: 1%) */
    int gw[KEYS], ngw; /* its ghosts, oldest first: rejected candidates */
    int gm[KEYS], ngm; /* ... and main's victims */
    uint64_t evictions;
} model_t;

static int count(const model_t *m) { return m->n[0] + m->n[1] + m->n[2]; }

static int pos(const model_t *m, int k) {
    int l = m->where[k];
    for (int i = 0; i < m->n[l]; i++)
        if (m->q[l][i] == k)
            return i;
    fail_msg("model: key %d not on its list", k);
    return -1;
}

static void rm(model_t *m, int k) {
    int l = m->where[k], i = pos(m, k);
    memmove(&m->q[l][i], &m->q[l][i + 1], (size_t)(m->n[l] - i - 1) * sizeof(int));
    m->n[l]--;
    m->where[k] = -1;
}

static void push(model_t *m, int l, int k) {
    memmove(&m->q[l][1], &m->q[l][0], (size_t)m->n[l] * sizeof(int));
    m->q[l][0] = k;
    m->n[l]++;
    m->where[k] = l;
}

static int tail(const model_t *m, int l) { return m->n[l] ? m->q[l][m->n[l] - 1] : -1; }

/* ---- the W-TinyLFU sketch, as policy_wtinylfu.c documents it ---- */
static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}
static int is_wt(int kind) {
    return kind == RCACHE_POLICY_WTINYLFU || kind == RCACHE_POLICY_WTINYLFU_FIXED;
}
static uint64_t wmax(const model_t *m, uint64_t cap) {
    uint64_t w = cap / 100;
    if (m && m->kind == RCACHE_POLICY_WTINYLFU && m->win)
        w = m->win < cap ? m->win : cap - 1;
    return w ? w : 1;
}
static uint64_t mmax(const model_t *m, uint64_t cap) { return cap - wmax(m, cap); }

static unsigned est(const model_t *m, int k) {
    uint64_t h = mix(m->hash[k]);
    uint32_t a = (uint32_t)h, b = (uint32_t)(h >> 32);
    unsigned v = 255;
    for (uint32_t i = 0; i < 10; i++) {
        unsigned c = m->cbf[(uint32_t)(a + i * b) % m->cbf_size];
        v = c < v ? c : v;
    }
    return v;
}
static void add(model_t *m, int k, uint64_t cap) {
    uint64_t h = mix(m->hash[k]);
    uint32_t a = (uint32_t)h, b = (uint32_t)(h >> 32);
    unsigned max = m->kind == RCACHE_POLICY_WTINYLFU ? 15 : 255;
    for (uint32_t i = 0; i < 10; i++) {
        uint8_t *c = &m->cbf[(uint32_t)(a + i * b) % m->cbf_size];
        if (*c < max)
            (*c)++;
    }
    if (m->kind == RCACHE_POLICY_WTINYLFU && ++m->aging >= 10 * (cap ? cap : 1)) {
        for (uint64_t i = 0; i < m->cbf_size; i++)
            m->cbf[i] >>= 1;
        m->aging = 0;
    }
}
/* A ghost of keys: add keeps at most limit (oldest dropped), a key already
 * there stays where it is; take removes k, 1 if it was there. */
static void gadd(int *g, int *n, int k, int limit) {
    if (limit <= 0)
        return;
    for (int i = 0; i < *n; i++)
        if (g[i] == k)
            return;
    while (*n >= limit && *n > 0) {
        memmove(&g[0], &g[1], (size_t)(*n - 1) * sizeof(int));
        (*n)--;
    }
    g[(*n)++] = k;
}
static int gtake(int *g, int *n, int k) {
    for (int i = 0; i < *n; i++) {
        if (g[i] == k) {
            memmove(&g[i], &g[i + 1], (size_t)(*n - i - 1) * sizeof(int));
            (*n)--;
            return 1;
        }
    }
    return 0;
}
/* wtinylfu's window adaptation, as policy_wtinylfu.c documents it: a
 * stored key found in the rejected candidates' ghost grows the window by
 * one (main's oldest becomes its newest), one in main's victims' ghost
 * shrinks it by one. */
static void adapt(model_t *m, uint64_t cap, int k) {
    if (m->kind != RCACHE_POLICY_WTINYLFU || cap < 2)
        return;
    if (!m->win)
        m->win = wmax(NULL, cap);
    if (gtake(m->gw, &m->ngw, k)) {
        if (m->win >= cap - 1)
            return;
        if (m->n[1] + m->n[2] > 0) {
            int t = m->n[1] ? tail(m, 1) : tail(m, 2);
            rm(m, t);
            push(m, 0, t);
        }
        m->win++;
    } else if (gtake(m->gm, &m->ngm, k) && m->win > 1) {
        m->win--;
    }
}

static void slru_insert(model_t *m, int k, uint64_t mm) {
    push(m, (m->n[1] + 1 > (int)(mm / 5) && m->n[2] + 1 <= (int)(mm * 4 / 5)) ? 2 : 1, k);
}

/* ---- the policies ---- */
static void model_hit(model_t *m, int k) {
    switch (m->kind) {
    case RCACHE_POLICY_LRU:
        rm(m, k);
        push(m, 0, k);
        break;
    case RCACHE_POLICY_SIEVE:
        m->pf[k] = 1;
        break;
    case RCACHE_POLICY_S3FIFO:
        m->pf[k] = m->pf[k] < 3 ? m->pf[k] + 1 : 3;
        break;
    default: {
        uint64_t cap = (uint64_t)count(m);
        if (m->where[k] == 0) {
            rm(m, k);
            push(m, 0, k);
            if (m->kind == RCACHE_POLICY_WTINYLFU)
                add(m, k, cap);
            break;
        }
        uint64_t mm = mmax(m, (uint64_t)count(m));
        rm(m, k);
        push(m, 2, k);
        while (m->n[2] > (int)(mm * 4 / 5)) {
            int t = tail(m, 2);
            rm(m, t);
            push(m, 1, t);
        }
        add(m, k, cap);
        if (m->kind == RCACHE_POLICY_WTINYLFU_FIXED && ++m->aging >= 32 * mm) {
            for (uint64_t i = 0; i < m->cbf_size; i++)
                m->cbf[i] >>= 1;
            m->aging = 0;
        }
    }
    }
}

static void evict_key(model_t *m, int k) {
    rm(m, k);
    m->evictions++;
}

static void sieve_evict(model_t *m) {
    int o = m->hand >= 0 ? m->hand : tail(m, 0);
    while (m->pf[o]) {
        m->pf[o] = 0;
        int i = pos(m, o);
        o = i ? m->q[0][i - 1] : tail(m, 0);
    }
    int i = pos(m, o);
    m->hand = i ? m->q[0][i - 1] : -1;
    evict_key(m, o);
}

static void s3fifo_evict(model_t *m) {
    int cap = count(m), t;
    if (!(m->n[1] > cap - cap / 10 || m->n[0] == 0)) {
        while ((t = tail(m, 0)) >= 0) {
            rm(m, t);
            if (m->pf[t] >= 2) {
                push(m, 1, t);
                m->pf[t] = 0;
                continue;
            }
            m->where[t] = 0; /* evict_key() takes it off again */
            m->n[0]++;
            m->q[0][m->n[0] - 1] = t;
            evict_key(m, t);
            int in = 0;
            for (int i = 0; i < m->ng; i++)
                in |= m->ghost[i] == t;
            if (!in) {
                while (m->ng >= cap * 9 / 10 && m->ng > 0) {
                    memmove(&m->ghost[0], &m->ghost[1], (size_t)(m->ng - 1) * sizeof(int));
                    m->ng--;
                }
                if (cap * 9 / 10 > 0)
                    m->ghost[m->ng++] = t;
            }
            return;
        }
    }
    for (;;) {
        t = tail(m, 1);
        if (m->pf[t] == 0) {
            evict_key(m, t);
            return;
        }
        int f = m->pf[t];
        rm(m, t);
        push(m, 1, t);
        m->pf[t] = f - 1;
    }
}

static void wtlfu_evict(model_t *m) {
    uint64_t cap = (uint64_t)count(m), mm = mmax(m, cap);
    int wt = m->kind == RCACHE_POLICY_WTINYLFU;
    for (;;) {
        int w = tail(m, 0);
        if (w < 0) {
            int v = m->n[1] ? tail(m, 1) : tail(m, 2);
            evict_key(m, v);
            if (wt)
                gadd(m->gm, &m->ngm, v, (int)(cap / 2));
            return;
        }
        if ((uint64_t)(m->n[1] + m->n[2]) + 1 <= mm) {
            add(m, w, cap); /* libCacheSim counts the move */
            rm(m, w);
            slru_insert(m, w, mm);
            continue;
        }
        int v = m->n[1] ? tail(m, 1) : tail(m, 2);
        int admit = est(m, w) > est(m, v);
        add(m, w, cap); /* ... and the candidate, either way */
        if (admit) {
            evict_key(m, v);
            rm(m, w);
            slru_insert(m, w, mm);
            if (wt)
                gadd(m->gm, &m->ngm, v, (int)(cap / 2));
        } else {
            evict_key(m, w);
            if (wt)
                gadd(m->gw, &m->ngw, w, (int)(cap * 3 / 4));
        }
        return;
    }
}

static void model_insert(model_t *m, int k) {
    int l = 0;
    m->pf[k] = 0;
    if (is_wt(m->kind)) {
        adapt(m, (uint64_t)count(m) + 1, k); /* the store counts the key */
        add(m, k, (uint64_t)count(m) + 1); /* before the eviction, as librcache */
    }
    if (m->kind == RCACHE_POLICY_S3FIFO) { /* the lookup takes it from the ghost */
        for (int i = 0; i < m->ng; i++) {
            if (m->ghost[i] == k) {
                memmove(&m->ghost[i], &m->ghost[i + 1], (size_t)(m->ng - i - 1) * sizeof(int));
                m->ng--;
                l = 1;
                break;
            }
        }
    }
    if (count(m) >= CAP) {
        if (m->kind == RCACHE_POLICY_LRU)
            evict_key(m, tail(m, 0));
        else if (m->kind == RCACHE_POLICY_SIEVE)
            sieve_evict(m);
        else if (m->kind == RCACHE_POLICY_S3FIFO)
            s3fifo_evict(m);
        else
            wtlfu_evict(m);
    }
    push(m, l, k);
}

static void model_delete(model_t *m, int k) {
    if (m->kind == RCACHE_POLICY_SIEVE && m->hand == k) {
        int i = pos(m, k);
        m->hand = i ? m->q[0][i - 1] : -1;
    }
    rm(m, k);
}

/* ---- driving both ---- */
static void keyname(char *buf, int k) { snprintf(buf, 16, "key:%d", k); }

static void compare(rcache_t *c, const model_t *m, long step) {
    rcache__shard_t *s = &c->shards[0];
    char want[16];
    for (int l = 0; l < 3; l++) {
        rcache__entry_t *h = s->pol.q[l], *e = h->next;
        for (int i = 0; i < m->n[l]; i++, e = e->next) {
            keyname(want, m->q[l][i]);
            if (e == h)
                fail_msg("step %ld: list %d has %d entries, model %d", step, l, i, m->n[l]);
            if (e->klen != strlen(want) || memcmp(rcache__entry_key(e), want, e->klen) != 0)
                fail_msg("step %ld: list %d position %d holds %.*s, model %s", step, l, i,
                         (int)e->klen, (const char *)rcache__entry_key(e), want);
            if (!is_wt(m->kind) && m->kind != RCACHE_POLICY_LRU &&
                (int)rcache__pf(e) != m->pf[m->q[l][i]])
                fail_msg("step %ld: %s has bits %u, model %d", step, want, rcache__pf(e),
                         m->pf[m->q[l][i]]);
        }
        if (e != h)
            fail_msg("step %ld: list %d is longer than the model's %d", step, l, m->n[l]);
    }
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.evictions_items, m->evictions);
    const char *why = rcache_test_recount(c);
    if (why)
        fail_msg("step %ld: %s", step, why);
}

static void run_policy(int kind, unsigned seed, long steps) {
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.max_items = CAP;
    cfg.max_bytes = 0;
    cfg.default_ttl_ms = 0;
    cfg.shards = 1;
    cfg.policy = kind;
    rcache_t *c = NULL;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    static model_t m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.hand = -1;
    for (int k = 0; k < KEYS; k++) {
        char kn[16];
        keyname(kn, k);
        m.where[k] = -1;
        m.hash[k] = (uint32_t)rcache__hash(kn, strlen(kn));
    }
    uint64_t n = mmax(NULL, CAP);
    m.cbf_size = (uint64_t)(14.3775 * (double)n) + 1;
    m.cbf = calloc(m.cbf_size, 1);
    srand(seed);
    for (long step = 0; step < steps; step++) {
        /* skewed keys, so hits, promotions and admissions all happen */
        int k = rand() % 4 ? rand() % (KEYS / 4) : rand() % KEYS;
        int op = rand() % 20;
        char kn[16];
        keyname(kn, k);
        if (op == 0) {
            int rc = rcache_delete(c, kn, strlen(kn));
            assert_int_equal(rc == RCACHE_OK, m.where[k] >= 0);
            if (m.where[k] >= 0)
                model_delete(&m, k);
        } else if (op == 1 && m.where[k] >= 0) {
            assert_int_equal(rcache_set(c, kn, strlen(kn), "v", 1, 0, 0), RCACHE_OK);
            model_hit(&m, k);
        } else {
            size_t len;
            int rc = rcache_get(c, kn, strlen(kn), NULL, 0, &len);
            if (rc == RCACHE_ENOTFOUND) {
                if (m.where[k] >= 0)
                    fail_msg("step %ld: %s missing, the model holds it", step, kn);
                assert_int_equal(rcache_set(c, kn, strlen(kn), "v", 1, 0, 0), RCACHE_OK);
                model_insert(&m, k);
            } else {
                if (m.where[k] < 0)
                    fail_msg("step %ld: %s present, the model evicted it", step, kn);
                model_hit(&m, k);
            }
        }
        compare(c, &m, step);
    }
    assert_true(m.evictions > (uint64_t)steps / 20);
    free(m.cbf);
    rcache_close(c);
}

static void test_model_lru(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 3; seed++)
        run_policy(RCACHE_POLICY_LRU, seed, 3000);
}
static void test_model_sieve(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 3; seed++)
        run_policy(RCACHE_POLICY_SIEVE, seed, 3000);
}
static void test_model_s3fifo(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 3; seed++)
        run_policy(RCACHE_POLICY_S3FIFO, seed, 3000);
}
static void test_model_wtinylfu(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 3; seed++)
        run_policy(RCACHE_POLICY_WTINYLFU, seed, 6000);
}
static void test_model_wtinylfu_fixed(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 3; seed++)
        run_policy(RCACHE_POLICY_WTINYLFU_FIXED, seed, 3000);
}

/* Both limits hold after every call, for every policy and shard count,
 * with values of mixed sizes, overwrites, deletes and a policy change in
 * the middle; every key just stored is still there. */
static void test_limits_all_policies(void **state) {
    (void)state;
    static const uint32_t shards[] = {1, 4, 16};
    for (int kind = 0; kind < RCACHE_POLICY_COUNT; kind++) {
        for (size_t si = 0; si < sizeof shards / sizeof shards[0]; si++) {
            rcache_t *c = open_cache(200, 64 * 1024, 0, shards[si], NULL);
            assert_int_equal(rcache_set_policy(c, kind), RCACHE_OK);
            assert_int_equal(rcache_get_policy(c), kind);
            char key[32], val[2048];
            memset(val, 'x', sizeof val);
            srand(7 + (unsigned)kind);
            for (int i = 0; i < 6000; i++) {
                int k = rand() % 600;
                snprintf(key, sizeof key, "k%d", k);
                size_t vl = (size_t)(rand() % 4 ? rand() % 64 : rand() % 2048);
                if (i == 3000) /* switch on the live cache */
                    assert_int_equal(rcache_set_policy(c, (kind + 1) % RCACHE_POLICY_COUNT),
                                     RCACHE_OK);
                if (rand() % 10 == 0) {
                    rcache_delete(c, key, strlen(key));
                } else if (rand() % 3 == 0) {
                    size_t len;
                    rcache_get(c, key, strlen(key), NULL, 0, &len);
                } else {
                    assert_int_equal(rcache_set(c, key, strlen(key), val, vl, 0, 0), RCACHE_OK);
                    size_t len;
                    assert_int_equal(rcache_get(c, key, strlen(key), NULL, 0, &len), RCACHE_ERANGE * (vl > 0));
                }
                rcache_stats_t st;
                rcache_stats(c, &st);
                if (st.items > 200 || st.bytes > 64 * 1024)
                    fail_msg("%s, %u shards, call %d: %llu items, %llu bytes",
                             rcache_policy_name(kind), shards[si], i,
                             (unsigned long long)st.items, (unsigned long long)st.bytes);
            }
            const char *why = rcache_test_recount(c);
            if (why)
                fail_msg("%s, %u shards: %s", rcache_policy_name(kind), shards[si], why);
            rcache_stats_t st;
            rcache_stats(c, &st);
            assert_true(st.evictions > 0);
            rcache_close(c);
        }
    }
}

static void test_policy_names(void **state) {
    (void)state;
    int p = -1;
    for (int i = 0; i < RCACHE_POLICY_COUNT; i++) {
        assert_int_equal(rcache_policy_parse(rcache_policy_name(i), &p), RCACHE_OK);
        assert_int_equal(p, i);
    }
    assert_int_equal(rcache_policy_parse("W-TinyLFU", &p), RCACHE_OK);
    assert_int_equal(p, RCACHE_POLICY_WTINYLFU);
    assert_int_equal(rcache_policy_parse("allkeys-lru", &p), RCACHE_EINVAL);
    assert_null(rcache_policy_name(RCACHE_POLICY_COUNT));
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    assert_int_equal(cfg.policy, RCACHE_POLICY_LRU);
    cfg.policy = RCACHE_POLICY_COUNT;
    rcache_t *c = NULL;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_EINVAL);
    cfg.policy = RCACHE_POLICY_SIEVE;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    rcache_config_t got;
    rcache_get_config(c, &got);
    assert_int_equal(got.policy, RCACHE_POLICY_SIEVE);
    assert_int_equal(rcache_set_policy(c, -1), RCACHE_EINVAL);
    rcache_close(c);
    /* RCACHE_POLICY */
    char err[256];
    rcache_config_init(&cfg);
    setenv("RCACHE_POLICY", "S3FIFO", 1);
    assert_int_equal(rcache_config_from_env(&cfg, err, sizeof err), RCACHE_OK);
    assert_int_equal(cfg.policy, RCACHE_POLICY_S3FIFO);
    setenv("RCACHE_POLICY", "wtinylfu-fixed", 1);
    assert_int_equal(rcache_config_from_env(&cfg, err, sizeof err), RCACHE_OK);
    assert_int_equal(cfg.policy, RCACHE_POLICY_WTINYLFU_FIXED);
    setenv("RCACHE_POLICY", "arc", 1);
    assert_int_equal(rcache_config_from_env(&cfg, err, sizeof err), RCACHE_EINVAL);
    assert_non_null(strstr(err, "RCACHE_POLICY=arc"));
    assert_int_equal(cfg.policy, RCACHE_POLICY_WTINYLFU_FIXED); /* unchanged */
    unsetenv("RCACHE_POLICY");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_lru),
        cmocka_unit_test(test_model_sieve),
        cmocka_unit_test(test_model_s3fifo),
        cmocka_unit_test(test_model_wtinylfu),
        cmocka_unit_test(test_model_wtinylfu_fixed),
        cmocka_unit_test(test_limits_all_policies),
        cmocka_unit_test(test_policy_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
