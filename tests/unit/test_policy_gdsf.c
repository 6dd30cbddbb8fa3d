/*
 * test_policy_gdsf.c - model-based test of the cost-aware policy `gdsf`
 * (policy_gdsf.c): the cache (one shard) and a reference GreedyDual-Size-
 * Frequency written here from its definition receive the same random
 * operations: lookups that store on a miss with a random compute_ms and
 * value length, overwrites (new cost, new length), deletes. After every
 * call each held key's priority H = L + freq * cost / size, its tie-break
 * sequence and its access count, the inflation value L, the set of keys
 * held and the eviction count must equal the model's: every victim is the
 * entry of lowest (H, seq) other than the one just stored, and evicting
 * it raises L to its H. Run with an item limit (size 1) and with a byte
 * limit (size = the entry's charge).
 *
 * Then two behaviours the policy exists for, checked through the public
 * API only: an expensive entry outlives cheap ones that were used more
 * recently, and an expensive entry nobody reads again is still evicted
 * eventually (L catches up with it); and the heap and its index shrink
 * back after deletes without losing a priority.
 */
#include "testutil.h"

#include "policy.h"

#include <stdlib.h>

#define KEYS 48
#define CAP 16
#define BYTES_CAP 2400u

typedef struct gmodel {
    int held[KEYS];
    double h[KEYS];
    uint64_t seq[KEYS];
    uint32_t freq[KEYS];
    uint64_t cost[KEYS]; /* compute_ms as stored (0 = unknown) */
    uint64_t size[KEYS]; /* 1, or the entry's charge */
    uint64_t charge[KEYS];
    double L;
    uint64_t next_seq, evictions, bytes;
    int n;
    int by_bytes;
} gmodel_t;

static void keyname(char *buf, int k) { snprintf(buf, 16, "key:%d", k); }

static double prio(const gmodel_t *m, int k) {
    uint64_t cost = m->cost[k] ? m->cost[k] : 1u;
    return m->L + (double)m->freq[k] * (double)cost / (double)m->size[k];
}

static void touch(gmodel_t *m, int k) {
    m->freq[k]++;
    m->h[k] = prio(m, k);
    m->seq[k] = ++m->next_seq;
}

static int over(const gmodel_t *m) {
    return m->by_bytes ? m->bytes > BYTES_CAP : m->n > CAP;
}

/* Evict lowest (H, seq) other than keep while over the limit. */
static void evict(gmodel_t *m, int keep) {
    while (over(m)) {
        int v = -1;
        for (int k = 0; k < KEYS; k++) {
            if (!m->held[k] || k == keep)
                continue;
            if (v < 0 || m->h[k] < m->h[v] || (m->h[k] == m->h[v] && m->seq[k] < m->seq[v]))
                v = k;
        }
        if (v < 0)
            return;
        if (m->h[v] > m->L)
            m->L = m->h[v];
        m->held[v] = 0;
        m->n--;
        m->bytes -= m->charge[v];
        m->evictions++;
    }
}

static void store(gmodel_t *m, int k, uint64_t cost, size_t vlen, int existed) {
    char kn[16];
    keyname(kn, k);
    uint64_t charge = rcache__entry_size(strlen(kn), vlen, cost ? RCACHE__F_COST : 0, 0);
    if (existed)
        m->bytes -= m->charge[k];
    m->cost[k] = cost;
    m->charge[k] = charge;
    m->size[k] = m->by_bytes ? charge : 1u;
    m->bytes += charge;
    if (existed) {
        touch(m, k);
    } else {
        m->held[k] = 1;
        m->n++;
        m->freq[k] = 0;
        touch(m, k);
    }
    evict(m, k);
}

static void compare(rcache_t *c, const gmodel_t *m, long step) {
    rcache__shard_t *s = &c->shards[0];
    pthread_mutex_lock(&s->lock);
    assert_int_equal(s->pol.n[1], 0); /* nothing waits outside the heap */
    assert_int_equal(s->pol.n[0], (uint64_t)m->n);
    if (rcache__gdsf_inflation(s->pol.gdsf) != m->L)
        fail_msg("step %ld: L %.17g, model %.17g", step, rcache__gdsf_inflation(s->pol.gdsf),
                 m->L);
    for (int k = 0; k < KEYS; k++) {
        char kn[16];
        keyname(kn, k);
        rcache__entry_t *e =
            rcache__shard_find_locked(s, rcache__hash(kn, strlen(kn)), kn, strlen(kn));
        if (!e != !m->held[k])
            fail_msg("step %ld: %s %s, model %s", step, kn, e ? "held" : "absent",
                     m->held[k] ? "holds it" : "evicted it");
        if (!e)
            continue;
        double h;
        uint64_t seq;
        uint32_t freq;
        if (!rcache__gdsf_peek(s, e, &h, &seq, &freq))
            fail_msg("step %ld: %s not in the heap", step, kn);
        if (h != m->h[k] || seq != m->seq[k] || freq != m->freq[k])
            fail_msg("step %ld: %s H %.17g seq %llu freq %u, model %.17g %llu %u", step, kn, h,
                     (unsigned long long)seq, freq, m->h[k], (unsigned long long)m->seq[k],
                     m->freq[k]);
    }
    pthread_mutex_unlock(&s->lock);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.evictions, m->evictions);
    const char *why = rcache_test_recount(c);
    if (why)
        fail_msg("step %ld: %s", step, why);
}

static void run_model(unsigned seed, long steps, int by_bytes) {
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.max_items = by_bytes ? 0 : CAP;
    cfg.max_bytes = by_bytes ? BYTES_CAP : 0;
    cfg.default_ttl_ms = 0;
    cfg.shards = 1;
    cfg.policy = RCACHE_POLICY_GDSF;
    rcache_t *c = NULL;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    static gmodel_t m;
    memset(&m, 0, sizeof m);
    m.by_bytes = by_bytes;
    static char val[200];
    srand(seed);
    for (long step = 0; step < steps; step++) {
        int k = rand() % 4 ? rand() % (KEYS / 3) : rand() % KEYS;
        int op = rand() % 20;
        /* costs: mostly cheap, some expensive, some unknown (0) */
        uint64_t cost = rand() % 5 == 0 ? 0u : (uint64_t)(rand() % 8 ? 1 + rand() % 10 : 500 + rand() % 500);
        size_t vlen = (size_t)(rand() % (int)sizeof val);
        rcache_set_opts_t o = {.ttl_ms = 0, .compute_ms = cost};
        char kn[16];
        keyname(kn, k);
        if (op == 0) {
            int rc = rcache_delete(c, kn, strlen(kn));
            assert_int_equal(rc == RCACHE_OK, m.held[k]);
            if (m.held[k]) {
                m.held[k] = 0;
                m.n--;
                m.bytes -= m.charge[k];
            }
        } else if (op == 1 && m.held[k]) {
            assert_int_equal(rcache_set_ex(c, kn, strlen(kn), val, vlen, &o, NULL), RCACHE_OK);
            store(&m, k, cost, vlen, 1);
        } else {
            size_t len;
            int rc = rcache_get(c, kn, strlen(kn), NULL, 0, &len);
            if (rc == RCACHE_ENOTFOUND) {
                if (m.held[k])
                    fail_msg("step %ld: %s missing, the model holds it", step, kn);
                assert_int_equal(rcache_set_ex(c, kn, strlen(kn), val, vlen, &o, NULL),
                                 RCACHE_OK);
                store(&m, k, cost, vlen, 0);
            } else {
                if (!m.held[k])
                    fail_msg("step %ld: %s present, the model evicted it", step, kn);
                touch(&m, k);
            }
        }
        compare(c, &m, step);
    }
    assert_true(m.evictions > (uint64_t)steps / 20);
    assert_true(m.L > 0);
    rcache_close(c);
}

static void test_model_items(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 4; seed++)
        run_model(seed, 3000, 0);
}

static void test_model_bytes(void **state) {
    (void)state;
    for (unsigned seed = 11; seed <= 14; seed++)
        run_model(seed, 3000, 1);
}

static rcache_t *open_items(uint64_t cap) {
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.max_items = cap;
    cfg.default_ttl_ms = 0;
    cfg.shards = 1;
    cfg.policy = RCACHE_POLICY_GDSF;
    rcache_t *c = NULL;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    return c;
}

static void put(rcache_t *c, const char *k, uint64_t cost) {
    rcache_set_opts_t o = {.ttl_ms = 0, .compute_ms = cost};
    assert_int_equal(rcache_set_ex(c, k, strlen(k), "v", 1, &o, NULL), RCACHE_OK);
}

/* One 1000 ms result among 1 ms ones, never read again: LRU would evict it
 * after `cap` newer stores; gdsf keeps it while cheap keys churn (each
 * eviction raises L by at most 1), until L reaches its H of 1000, which
 * takes about 9 evictions per unit of L with 9 cheap keys held. */
static void test_expensive_kept_then_aged(void **state) {
    (void)state;
    rcache_t *c = open_items(10);
    put(c, "expensive", 1000);
    char k[32];
    int i;
    /* rcache_exists() is not an access: it leaves priorities alone */
    for (i = 0; i < 20000 && rcache_exists(c, "expensive", 9) == 1; i++) {
        snprintf(k, sizeof k, "cheap:%d", i);
        put(c, k, 1);
    }
    assert_int_equal(rcache_exists(c, "expensive", 9), 0);
    assert_true(i > 5000); /* lru: 10 */
    assert_true(i < 20000);
    rcache_close(c);
}

/* The heap and its index grow to 2000 entries and shrink back as they are
 * deleted; the priorities survive both rebuilds: the 5 cheapest go first. */
static void test_grow_and_shrink(void **state) {
    (void)state;
    rcache_t *c = open_items(0);
    char k[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        put(c, k, (uint64_t)i);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        if (i % 200)
            assert_int_equal(rcache_delete(c, k, strlen(k)), RCACHE_OK);
    }
    check_invariants(c);
    assert_int_equal(rcache_set_limits(c, 5, 0), RCACHE_OK);
    for (int i = 0; i < 2000; i += 200) {
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(rcache_exists(c, k, strlen(k)), i >= 1000);
    }
    check_invariants(c);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_items),
        cmocka_unit_test(test_model_bytes),
        cmocka_unit_test(test_expensive_kept_then_aged),
        cmocka_unit_test(test_grow_and_shrink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
