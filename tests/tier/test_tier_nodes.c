/*
 * test_tier_nodes.c - three nodes (each an rcache_t with its own tier:
 * its own data and invalidation connections, as separate processes would
 * have) sharing one redis-server started by the test:
 *  - a value set on A is read on B from L2, then from B's L1;
 *  - A overwrites it; B and C drop the old value and read the new one
 *    (the propagation time of every round is printed as a distribution,
 *    never asserted);
 *  - invalidation by key and by pattern on C empties A's and B's L1 and
 *    L2; a FLUSHALL (null invalidation) empties every L1;
 *  - TTLs: L1 gets min(L2's remaining TTL, the safety net).
 */
#include "tiertest.h"

TT_REDIS_GROUP_FIXTURE

/* Nodes whose bus never declares the connection lost for a slow ping (a
 * loaded CI machine), so the L1 checks below see only real invalidations. */
static void open3(tt_node_t n[3]) {
    rcache_tier_opts_t o;
    rcache_tier_opts_init(&o);
    o.ping_deadline_ms = 120000;
    for (int i = 0; i < 3; i++)
        tt_node_open(&n[i], R.url, &o);
    for (int i = 0; i < 3; i++)
        assert_true(tt_wait(tt_node_connected, &n[i]));
}

static void close3(tt_node_t n[3]) {
    for (int i = 0; i < 3; i++)
        tt_node_close(&n[i]);
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
}

typedef struct gone {
    tt_node_t *n;
    const char *key;
} gone_t;

static int l1_gone(void *arg) {
    gone_t *g = arg;
    return tt_l1_is(g->n, g->key, NULL);
}

static void test_read_through_then_l1(void **state) {
    tt_node_t n[3];
    rcache_tier_stats_t s;
    redisReply *r;
    (void)state;
    open3(n);
    assert_int_equal(rcache_tier_set(n[0].t, "k1", 2, "v1", 2, 60000), RCACHE_OK);
    r = tt_cmd(&R, "GET rc:k1");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "v1");
    freeReplyObject(r);
    assert_true(tt_l1_is(&n[0], "k1", "v1"));
    assert_true(tt_l1_is(&n[1], "k1", NULL));
    tt_wait_inval(&n[1], 1);
    assert_true(tt_get_is(&n[1], "k1", "v1")); /* from L2 */
    rcache_tier_stats(n[1].t, &s);
    assert_int_equal(s.l2_hits, 1);
    assert_true(tt_l1_is(&n[1], "k1", "v1")); /* installed */
    assert_true(tt_get_is(&n[1], "k1", "v1")); /* from L1 */
    rcache_tier_stats(n[1].t, &s);
    assert_int_equal(s.l2_hits, 1);
    assert_true(s.l1_hits >= 1);
    assert_true(s.l2_roundtrips >= 1);
    /* L1 TTL: capped by L2's remaining TTL. */
    {
        int64_t ttl = 0;
        assert_int_equal(rcache_ttl(n[1].c, "k1", 2, &ttl), RCACHE_OK);
        assert_true(ttl > 0 && ttl <= 60000);
    }
    /* Missing everywhere. */
    assert_true(tt_get_is(&n[2], "nope", NULL));
    rcache_tier_stats(n[2].t, &s);
    assert_int_equal(s.misses, 1);
    close3(n);
}

static void test_safety_net_caps_l1_ttl(void **state) {
    tt_node_t a, b;
    rcache_tier_opts_t o;
    int64_t ttl = 0;
    (void)state;
    rcache_tier_opts_init(&o);
    o.l1_max_ttl_ms = 5000;
    o.ping_deadline_ms = 120000;
    tt_node_open(&a, R.url, &o);
    tt_node_open(&b, R.url, &o);
    assert_true(tt_wait(tt_node_connected, &a));
    assert_true(tt_wait(tt_node_connected, &b));
    assert_int_equal(rcache_tier_set(a.t, "cap", 3, "x", 1, 0), RCACHE_OK);
    assert_int_equal(rcache_ttl(a.c, "cap", 3, &ttl), RCACHE_OK);
    assert_true(ttl > 0 && ttl <= 5000);
    tt_wait_inval(&b, 1);
    assert_true(tt_get_is(&b, "cap", "x"));
    assert_int_equal(rcache_ttl(b.c, "cap", 3, &ttl), RCACHE_OK);
    assert_true(ttl > 0 && ttl <= 5000);
    tt_node_close(&a);
    tt_node_close(&b);
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Each round: B and C hold the previous value in L1; A overwrites; both
 * must drop it (timed), then read the new value through. */
static void test_overwrite_propagates(void **state) {
    enum { ROUNDS = 200 };
    tt_node_t n[3];
    uint64_t lat[2 * ROUNDS];
    size_t nl = 0;
    char prev[32] = "v-first";
    (void)state;
    open3(n);
    assert_int_equal(rcache_tier_set(n[0].t, "hot", 3, prev, strlen(prev), 60000),
                     RCACHE_OK);
    tt_wait_inval(&n[1], 1);
    tt_wait_inval(&n[2], 1);
    for (int i = 0; i < ROUNDS; i++) {
        char v[32];
        uint64_t us[2] = {0, 0}, start, end;
        assert_true(tt_get_is(&n[1], "hot", prev));
        assert_true(tt_get_is(&n[2], "hot", prev));
        assert_true(tt_l1_is(&n[1], "hot", prev));
        assert_true(tt_l1_is(&n[2], "hot", prev));
        snprintf(v, sizeof v, "v%d", i);
        start = now_us();
        assert_int_equal(rcache_tier_set(n[0].t, "hot", 3, v, strlen(v), 60000),
                         RCACHE_OK);
        end = tt_now_ms() + TT_DEADLINE_MS;
        while (!us[0] || !us[1]) {
            for (int j = 0; j < 2; j++)
                if (!us[j] && !tt_l1_is(&n[1 + j], "hot", prev))
                    us[j] = now_us() - start + 1;
            assert_true(tt_now_ms() < end);
        }
        lat[nl++] = us[0];
        lat[nl++] = us[1];
        assert_true(tt_get_is(&n[1], "hot", v));
        assert_true(tt_get_is(&n[2], "hot", v));
        memcpy(prev, v, sizeof v);
    }
    qsort(lat, nl, sizeof lat[0], cmp_u64);
    printf("propagation A->B,C over %zu samples (us): p50 %llu  p90 %llu  "
           "p99 %llu  max %llu\n",
           nl, (unsigned long long)lat[nl / 2],
           (unsigned long long)lat[nl * 9 / 10],
           (unsigned long long)lat[nl * 99 / 100],
           (unsigned long long)lat[nl - 1]);
    close3(n);
}

static void test_invalidate_key_and_pattern(void **state) {
    tt_node_t n[3];
    uint64_t r1 = 0, r2 = 0;
    redisReply *r;
    (void)state;
    open3(n);
    const char *keys[] = {"user:1", "user:2", "user:3", "page:1"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(rcache_tier_set(n[0].t, keys[i], strlen(keys[i]), "x", 1,
                                         60000), RCACHE_OK);
    tt_wait_inval(&n[1], 4);
    for (int i = 0; i < 4; i++)
        assert_true(tt_get_is(&n[1], keys[i], "x"));
    /* By key, on C. */
    assert_int_equal(rcache_tier_delete(n[2].t, "user:1", 6), RCACHE_OK);
    for (int j = 0; j < 2; j++) {
        gone_t g = {&n[j], "user:1"};
        assert_true(tt_wait(l1_gone, &g));
    }
    assert_true(tt_get_is(&n[1], "user:1", NULL));
    /* By pattern, on C. */
    assert_int_equal(rcache_tier_invalidate(n[2].t, "user:*", 6, &r1, &r2),
                     RCACHE_OK);
    assert_int_equal(r2, 2);
    for (int j = 0; j < 2; j++)
        for (int k = 1; k < 3; k++) {
            gone_t g = {&n[j], keys[k]};
            assert_true(tt_wait(l1_gone, &g));
        }
    r = tt_cmd(&R, "EXISTS rc:user:2 rc:user:3 rc:page:1");
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    assert_true(tt_l1_is(&n[0], "page:1", "x"));
    assert_true(tt_l1_is(&n[1], "page:1", "x"));
    assert_int_equal(rcache_tier_invalidate(n[2].t, "[", 1, NULL, NULL),
                     RCACHE_EPATTERN);
    close3(n);
}

static void test_pattern_many_batches(void **state) {
    tt_node_t a;
    uint64_t r2 = 0;
    redisReply *r;
    (void)state;
    tt_node_open(&a, R.url, NULL);
    assert_true(tt_wait(tt_node_connected, &a));
    r = tt_cmd(&R, "EVAL %s 0",
               "for i=1,2500 do redis.call('set','rc:bulk:'..i,'v') end "
               "redis.call('set','other:1','v') return 1");
    freeReplyObject(r);
    assert_int_equal(rcache_tier_invalidate(a.t, "bulk:*", 6, NULL, &r2),
                     RCACHE_OK);
    assert_int_equal(r2, 2500);
    r = tt_cmd(&R, "DBSIZE");
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    tt_node_close(&a);
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
}

static int l1_empty(void *arg) {
    return rcache_count(((tt_node_t *)arg)->c) == 0;
}

static void test_flushall_empties_l1(void **state) {
    tt_node_t n[3];
    rcache_tier_stats_t s;
    (void)state;
    open3(n);
    assert_int_equal(rcache_tier_set(n[0].t, "f", 1, "x", 1, 60000), RCACHE_OK);
    assert_true(tt_get_is(&n[1], "f", "x"));
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
    for (int i = 0; i < 3; i++)
        assert_true(tt_wait(l1_empty, &n[i]));
    rcache_tier_stats(n[1].t, &s);
    assert_true(s.null_invalidations >= 1);
    close3(n);
}

/* Objects through a serializer: a struct holding an int. */
typedef struct obj {
    int v;
} obj_t;
static int ser(const void *o, void **buf, size_t *len, void *ctx) {
    (void)ctx;
    *buf = malloc(16);
    *len = (size_t)snprintf(*buf, 16, "O%d", ((const obj_t *)o)->v);
    return 0;
}
static void obj_free(void *o, void *ctx) {
    (void)ctx;
    free(o);
}
static int deser(const void *buf, size_t len, void **o, size_t *charge,
                 rcache_destructor_fn *dtor, void *ctx) {
    char tmp[16];
    (void)ctx;
    if (len < 2 || len >= sizeof tmp || ((const char *)buf)[0] != 'O')
        return 1;
    memcpy(tmp, buf, len);
    tmp[len] = 0;
    obj_t *x = malloc(sizeof *x);
    x->v = atoi(tmp + 1);
    *o = x;
    *charge = sizeof *x;
    *dtor = obj_free;
    return 0;
}

static void test_objects(void **state) {
    tt_node_t a, b;
    rcache_tier_opts_t o;
    rcache_ref_t *ref = NULL;
    obj_t *x = malloc(sizeof *x);
    (void)state;
    rcache_tier_opts_init(&o);
    o.ping_deadline_ms = 120000;
    o.serialize = ser;
    o.deserialize = deser;
    tt_node_open(&a, R.url, &o);
    tt_node_open(&b, R.url, &o);
    assert_true(tt_wait(tt_node_connected, &a));
    assert_true(tt_wait(tt_node_connected, &b));
    x->v = 42;
    assert_int_equal(rcache_tier_set_object(a.t, "o", 1, x, sizeof *x, obj_free,
                                            NULL, 60000), RCACHE_OK);
    /* (also when A's invalidation lands during B's read: then the entry
     * is one of its own, still an object) */
    assert_int_equal(rcache_tier_get_ref(b.t, "o", 1, &ref), RCACHE_OK);
    assert_non_null(rcache_ref_object(ref));
    assert_int_equal(((obj_t *)rcache_ref_object(ref))->v, 42);
    rcache_release(ref);
    /* Plain bytes written by someone else stay bytes (deserializer says 1). */
    freeReplyObject(tt_cmd(&R, "SET rc:plain hello"));
    assert_true(tt_get_is(&b, "plain", "hello"));
    tt_node_close(&a);
    tt_node_close(&b);
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
}

int main(void) {
    TT_SKIP_WITHOUT_REDIS();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_through_then_l1),
        cmocka_unit_test(test_safety_net_caps_l1_ttl),
        cmocka_unit_test(test_overwrite_propagates),
        cmocka_unit_test(test_invalidate_key_and_pattern),
        cmocka_unit_test(test_pattern_many_batches),
        cmocka_unit_test(test_flushall_empties_l1),
        cmocka_unit_test(test_objects),
    };
    return cmocka_run_group_tests(tests, tt_group_setup, tt_group_teardown);
}
