/*
 * test_eviction.c - LRU eviction under the item limit, the byte limit and
 * both at once; eviction causes; shrinking limits at run time.
 */
#include "testutil.h"

#include <stdlib.h>

static void key_of(char *k, int i) { sprintf(k, "key:%06d", i); }

static void test_item_limit_lru_order(void **state) {
    rcache_t *c = open_cache(3, 0, 0, 1, NULL);
    char buf[16];
    set_str(c, "a", "1");
    set_str(c, "b", "2");
    set_str(c, "c", "3");
    assert_int_equal(get_str(c, "a", buf, sizeof buf), RCACHE_OK); /* a is MRU */
    set_str(c, "d", "4");                                            /* evicts b */
    assert_int_equal(rcache_exists(c, "b", 1), 0);
    assert_int_equal(rcache_exists(c, "a", 1), 1);
    set_str(c, "e", "5"); /* evicts c */
    assert_int_equal(rcache_exists(c, "c", 1), 0);
    assert_int_equal(rcache_count(c), 3);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.evictions_items, 2);
    assert_int_equal(st.evictions_bytes, 0);
    check_invariants(c);
    rcache_close(c);
}

static void test_overwrite_does_not_evict(void **state) {
    rcache_t *c = open_cache(2, 0, 0, 1, NULL);
    set_str(c, "a", "1");
    set_str(c, "b", "2");
    set_str(c, "a", "3"); /* replace: still two items, nothing evicted */
    assert_int_equal(rcache_exists(c, "b", 1), 1);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.evictions, 0);
    rcache_close(c);
}

static void test_byte_limit(void **state) {
    uint64_t per = rcache__entry_size(10, 1000, 0, 0);
    rcache_t *c = open_cache(0, per * 5, 0, 1, NULL);
    char k[16], v[1000];
    memset(v, 'x', sizeof v);
    for (int i = 0; i < 8; i++) {
        key_of(k, i);
        assert_int_equal(rcache_set(c, k, 10, v, sizeof v, 0, 0), RCACHE_OK);
        check_invariants(c);
    }
    assert_int_equal(rcache_count(c), 5);
    for (int i = 0; i < 3; i++) {
        key_of(k, i);
        assert_int_equal(rcache_exists(c, k, 10), 0);
    }
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.evictions_bytes, 3);
    assert_int_equal(st.bytes, per * 5);
    assert_true(st.memory_utilization > 0.99);
    /* one large value pushes out as many small ones as needed */
    char *big = calloc(1, per * 3);
    assert_int_equal(rcache_set(c, "big", 3, big, per * 3 - 200, 0, 0), RCACHE_OK);
    free(big);
    check_invariants(c);
    assert_int_equal(rcache_exists(c, "big", 3), 1);
    rcache_close(c);
}

static void test_both_limits(void **state) {
    uint64_t per = rcache__entry_size(10, 100, 0, 0);
    rcache_t *c = open_cache(10, per * 20, 0, 1, NULL);
    char k[16], v[2000];
    memset(v, 'y', sizeof v);
    for (int i = 0; i < 30; i++) { /* small values: the item limit binds */
        key_of(k, i);
        rcache_set(c, k, 10, v, 100, 0, 0);
        check_invariants(c);
    }
    assert_int_equal(rcache_count(c), 10);
    for (int i = 30; i < 40; i++) { /* large values: the byte limit binds */
        key_of(k, i);
        rcache_set(c, k, 10, v, 2000, 0, 0);
        check_invariants(c);
    }
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_true(st.evictions_items > 0);
    assert_true(st.evictions_bytes > 0);
    assert_true(st.items < 10);
    rcache_close(c);
}

static void test_shrink_limits(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 4, NULL);
    char k[16];
    for (int i = 0; i < 1000; i++) {
        key_of(k, i);
        rcache_set(c, k, 10, "v", 1, 0, 0);
    }
    assert_int_equal(rcache_count(c), 1000);
    assert_int_equal(rcache_set_limits(c, 100, 0), RCACHE_OK);
    assert_int_equal(rcache_count(c), 100);
    check_invariants(c);
    uint64_t per = rcache__entry_size(10, 1, 0, 0);
    assert_int_equal(rcache_set_limits(c, 100, per * 10), RCACHE_OK);
    assert_int_equal(rcache_count(c), 10);
    rcache_config_t cfg;
    rcache_get_config(c, &cfg);
    assert_int_equal(cfg.max_items, 100);
    assert_int_equal(cfg.max_bytes, per * 10);
    check_invariants(c);
    rcache_close(c);
}

static void test_sharded_global_limits(void **state) {
    /* 16 shards, 50 items: the limit is global, not 50/16 per shard. */
    rcache_t *c = open_cache(50, 0, 0, 16, NULL);
    char k[16];
    for (int i = 0; i < 5000; i++) {
        key_of(k, i);
        assert_int_equal(rcache_set(c, k, 10, "v", 1, 0, 0), RCACHE_OK);
        assert_true(rcache_count(c) <= 50);
    }
    assert_int_equal(rcache_count(c), 50);
    /* the most recent key of each shard always survives */
    key_of(k, 4999);
    assert_int_equal(rcache_exists(c, k, 10), 1);
    check_invariants(c);
    rcache_close(c);
}

static void test_value_larger_than_a_shard_share(void **state) {
    /* a value bigger than max_bytes/shards still fits in a sharded cache */
    rcache_t *c = open_cache(0, 1u << 20, 0, 16, NULL);
    char *v = calloc(1, 600 * 1024);
    char k[16];
    for (int i = 0; i < 100; i++) {
        key_of(k, i);
        rcache_set(c, k, 10, v, 1000, 0, 0);
    }
    assert_int_equal(rcache_set(c, "big", 3, v, 600 * 1024, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_exists(c, "big", 3), 1);
    check_invariants(c);
    free(v);
    rcache_close(c);
}

static void test_peak_bytes(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    rcache_set(c, "a", 1, "xxxxxxxx", 8, 0, 0);
    rcache_stats_t st;
    rcache_stats(c, &st);
    uint64_t peak = st.peak_bytes;
    assert_int_equal(peak, st.bytes);
    rcache_delete(c, "a", 1);
    rcache_stats(c, &st);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.peak_bytes, peak);
    rcache_stats_reset(c);
    rcache_stats(c, &st);
    assert_int_equal(st.peak_bytes, 0);
    assert_int_equal(st.deletes, 0);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item_limit_lru_order),
        cmocka_unit_test(test_overwrite_does_not_evict),
        cmocka_unit_test(test_byte_limit),
        cmocka_unit_test(test_both_limits),
        cmocka_unit_test(test_shrink_limits),
        cmocka_unit_test(test_sharded_global_limits),
        cmocka_unit_test(test_value_larger_than_a_shard_share),
        cmocka_unit_test(test_peak_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
