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

/* The peak is what the cache held once its limits were enforced
 * (regression: it was taken before eviction, so every store into a full
 * cache pushed used_memory_peak above maxmemory). */
static void test_peak_never_above_limit(void **state) {
    uint64_t per = rcache__entry_size(10, 1000, 0, 0);
    rcache_t *c = open_cache(0, per * 5, 0, 4, NULL);
    char k[16], v[3000];
    memset(v, 'x', sizeof v);
    rcache_stats_t st;
    for (int i = 0; i < 50; i++) {
        key_of(k, i);
        assert_int_equal(rcache_set(c, k, 10, v, 1000 + (size_t)(i % 3) * 500, 0, 0),
                         RCACHE_OK);
        rcache_stats(c, &st);
        assert_true(st.peak_bytes <= st.max_bytes);
        assert_true(st.peak_bytes >= st.bytes);
    }
    assert_true(st.evictions_bytes > 0);
    /* updates and renames count the same way */
    assert_int_equal(rcache_rename(c, k, 10, "renamed-key", 11, 0), RCACHE_OK);
    rcache_stats(c, &st);
    assert_true(st.peak_bytes <= st.max_bytes);
    /* a lower limit does not rewrite history, and a higher one is reached */
    assert_int_equal(rcache_set_limits(c, 0, per * 2), RCACHE_OK);
    rcache_stats(c, &st);
    assert_true(st.bytes <= per * 2);
    check_invariants(c);
    rcache_close(c);
}

/* ---- cross-shard order (docs/DESIGN.md, "LRU and eviction") ----------
 * With at most RCACHE__EVICT_SAMPLES shards every eviction takes the entry
 * used longest ago in the whole cache (1 s resolution); with more, the
 * oldest of the sampled shards' LRU ends. Regression: a store evicted its
 * own shard completely before looking at any other. */

/* Store n keys "key:%06d" one second apart; returns the clock after. */
static void fill_seconds(rcache_t *c, test_clock_t *clk, int from, int n, size_t vlen) {
    char k[16], v[4096];
    memset(v, 'o', sizeof v);
    for (int i = from; i < from + n; i++) {
        key_of(k, i);
        assert_int_equal(rcache_set(c, k, 10, v, vlen, 0, 0), RCACHE_OK);
        clk->now_ms += 1000;
    }
}

/* Exactly the keys [lo, hi) remain of those in [0, hi). */
static void expect_window(rcache_t *c, int lo, int hi) {
    char k[16];
    for (int i = 0; i < hi; i++) {
        key_of(k, i);
        if (rcache_exists(c, k, 10) != (i >= lo))
            fail_msg("key %d: %s, expected keys %d..%d only", i,
                     i >= lo ? "evicted" : "kept", lo, hi - 1);
    }
}

/* rcache_touch (TOUCH) makes an entry the most recently used and moves its
 * access time, counting neither a hit nor a miss (regression: TOUCH did
 * neither, so a touched key was evicted first and OBJECT IDLETIME grew). */
static void test_touch_moves_to_mru(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(3, 0, 0, 1, &clk);
    uint64_t t0 = clk.now_ms;
    set_str(c, "a", "1");
    set_str(c, "b", "2");
    set_str(c, "c", "3");
    clk.now_ms += 5000;
    assert_int_equal(rcache_touch(c, "a", 1), RCACHE_OK);
    rcache_entry_info_t info;
    assert_int_equal(rcache_entry_info(c, "a", 1, &info), RCACHE_OK);
    assert_int_equal(info.last_access_ms, t0 + 5000);
    assert_int_equal(info.access_count, 0);
    assert_int_equal(rcache_touch(c, "zz", 2), RCACHE_ENOTFOUND);
    set_str(c, "d", "4"); /* evicts b, not the touched a */
    assert_int_equal(rcache_exists(c, "a", 1), 1);
    assert_int_equal(rcache_exists(c, "b", 1), 0);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.hits + st.misses, 0);
    /* an expired key is not found, and is reclaimed */
    rcache_expire(c, "c", 1, 10);
    clk.now_ms += 10;
    assert_int_equal(rcache_touch(c, "c", 1), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_count(c), 2);
    assert_int_equal(rcache_touch(NULL, "a", 1), RCACHE_EINVAL);
    assert_int_equal(rcache_touch(c, NULL, 1), RCACHE_EINVAL);
    check_invariants(c);
    rcache_close(c);

    /* across shards, the touched key counts as the most recent */
    clk.now_ms = 0;
    c = open_cache(16, 0, 0, 8, &clk);
    fill_seconds(c, &clk, 0, 16, 10);
    char k[16];
    key_of(k, 0);
    assert_int_equal(rcache_touch(c, k, 10), RCACHE_OK);
    clk.now_ms += 1000;
    fill_seconds(c, &clk, 16, 1, 10);
    assert_int_equal(rcache_exists(c, k, 10), 1);
    key_of(k, 1);
    assert_int_equal(rcache_exists(c, k, 10), 0);
    rcache_close(c);
}

static void test_cross_shard_lru(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(32, 0, 0, 8, &clk);
    /* item limit, one key a second: the 32 most recent survive, whatever
     * shard each one hashes to */
    for (int i = 0; i < 200; i++) {
        fill_seconds(c, &clk, i, 1, 10);
        expect_window(c, i + 1 > 32 ? i + 1 - 32 : 0, i + 1);
    }
    /* a hit makes an entry the most recent in the whole cache */
    char k[16], buf[16];
    size_t len;
    key_of(k, 168); /* the oldest */
    assert_int_equal(rcache_get(c, k, 10, buf, sizeof buf, &len), RCACHE_OK);
    clk.now_ms += 1000;
    fill_seconds(c, &clk, 200, 1, 10);
    assert_int_equal(rcache_exists(c, k, 10), 1);
    key_of(k, 169);
    assert_int_equal(rcache_exists(c, k, 10), 0);
    check_invariants(c);
    rcache_close(c);
}

static void test_cross_shard_lru_bytes(void **state) {
    /* one large value evicts the oldest entries of every shard, not the
     * newest of its own */
    test_clock_t clk = {0};
    uint64_t per = rcache__entry_size(10, 100, 0, 0);
    rcache_t *c = open_cache(0, per * 100, 0, 8, &clk);
    fill_seconds(c, &clk, 0, 100, 100);
    char *big = calloc(1, per * 30);
    assert_int_equal(rcache_set(c, "big", 3, big, per * 30 - 200, 0, 0), RCACHE_OK);
    free(big);
    expect_window(c, 30, 100);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.evictions_bytes, 30);
    check_invariants(c);
    rcache_close(c);
}

/* test_cross_shard_lru_bytes under the other policies whose victim is a
 * shard's oldest unused entry: one large value must not empty its own
 * shard. Under s3fifo, sieve and gdsf (no hits, equal costs and sizes, so
 * each shard's victim is its oldest entry) exactly the 30 oldest entries
 * of the cache go, whatever shard holds them, as under lru.
 * wtinylfu: the next test. */
static void test_cross_shard_bytes_other_policies(void **state) {
    (void)state;
    const int kinds[] = {RCACHE_POLICY_S3FIFO, RCACHE_POLICY_SIEVE, RCACHE_POLICY_GDSF};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        test_clock_t clk = {0};
        uint64_t per = rcache__entry_size(10, 100, 0, 0);
        rcache_t *c = open_cache(0, per * 100, 0, 8, &clk);
        assert_int_equal(rcache_set_policy(c, kinds[k]), RCACHE_OK);
        fill_seconds(c, &clk, 0, 100, 100);
        char *big = calloc(1, per * 30);
        assert_int_equal(rcache_set(c, "big", 3, big, per * 30 - 200, 0, 0), RCACHE_OK);
        free(big);
        rcache_stats_t st;
        rcache_stats(c, &st);
        assert_int_equal(st.evictions_bytes, 30);
        expect_window(c, 30, 100);
        check_invariants(c);
        rcache_close(c);
    }
}

/* The same under wtinylfu, whose admission may nominate a shard's newest
 * entry: the 30 evictions must not empty any shard (before evict.c ranked
 * such a shard by its main victim's age, shard 0 went from 11 entries to
 * 0 here) and must come from several shards. */
static void test_cross_shard_bytes_wtinylfu(void **state) {
    (void)state;
    const int kinds[] = {RCACHE_POLICY_WTINYLFU, RCACHE_POLICY_WTINYLFU_FIXED};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        test_clock_t clk = {0};
        uint64_t per = rcache__entry_size(10, 100, 0, 0);
        rcache_t *c = open_cache(0, per * 100, 0, 8, &clk);
        assert_int_equal(rcache_set_policy(c, kinds[k]), RCACHE_OK);
        fill_seconds(c, &clk, 0, 100, 100);
        uint64_t before[8];
        for (int i = 0; i < 8; i++)
            before[i] = c->shards[i].count;
        char *big = calloc(1, per * 30);
        assert_int_equal(rcache_set(c, "big", 3, big, per * 30 - 200, 0, 0), RCACHE_OK);
        free(big);
        rcache_stats_t st;
        rcache_stats(c, &st);
        assert_int_equal(st.evictions_bytes, 30);
        const rcache__shard_t *bs = rcache__shard_of(c, rcache__hash("big", 3));
        int touched = 0;
        for (int i = 0; i < 8; i++) {
            uint64_t now = c->shards[i].count - (&c->shards[i] == bs ? 1u : 0u);
            touched += now < before[i];
            if (now == 0)
                fail_msg("%s: shard %d emptied (%llu entries before)",
                         rcache_policy_name(kinds[k]), i, (unsigned long long)before[i]);
        }
        if (touched < 4)
            fail_msg("%s: evictions from %d shards only", rcache_policy_name(kinds[k]), touched);
        check_invariants(c);
        rcache_close(c);
    }
}

static int grow_to(rcache_update_t *u, void *ctx) {
    static char v[4096];
    u->new_val = v;
    u->new_len = *(size_t *)ctx;
    return RCACHE_UPDATE_STORE;
}

static void test_cross_shard_lru_update_and_limits(void **state) {
    /* rcache_update and rcache_set_limits evict in the same order */
    test_clock_t clk = {0};
    uint64_t per = rcache__entry_size(10, 100, 0, 0);
    rcache_t *c = open_cache(0, per * 64, 0, 8, &clk);
    fill_seconds(c, &clk, 0, 64, 100);
    char k[16];
    key_of(k, 63);
    size_t grow = (size_t)(per * 10);
    assert_int_equal(rcache_update(c, k, 10, grow_to, &grow), RCACHE_OK);
    assert_true(rcache__entry_size(10, grow, 0, 0) - per <= per * 11);
    int lo = 0;
    while (rcache_exists(c, (key_of(k, lo), k), 10) == 0)
        lo++;
    assert_true(lo >= 10 && lo <= 11);
    expect_window(c, lo, 64);
    assert_int_equal(rcache_set_limits(c, 20, 0), RCACHE_OK);
    expect_window(c, 44, 64);
    assert_int_equal(rcache_set_limits(c, 0, 0), RCACHE_OK);
    check_invariants(c);
    rcache_close(c);
}

static void test_cross_shard_lru_sampled(void **state) {
    /* 64 shards, more than one sample covers: each sample still spans
     * several shards, so a large value evicts old entries of many shards
     * and no recent one while every shard still holds old entries */
    test_clock_t clk = {0};
    uint64_t per = rcache__entry_size(10, 100, 0, 0);
    rcache_t *c = open_cache(0, per * 4096, 0, 64, &clk);
    char k[16], v[100];
    memset(v, 'o', sizeof v);
    for (int i = 0; i < 2048; i++) { /* old: all in the same second */
        key_of(k, i);
        assert_int_equal(rcache_set(c, k, 10, v, sizeof v, 0, 0), RCACHE_OK);
    }
    for (uint32_t i = 0; i < 64; i++) /* premise: every shard has 16+ old */
        assert_true(c->shards[i].count >= 16);
    clk.now_ms += 10000;
    for (int i = 2048; i < 4096; i++) { /* new */
        key_of(k, i);
        assert_int_equal(rcache_set(c, k, 10, v, sizeof v, 0, 0), RCACHE_OK);
    }
    clk.now_ms += 10000;
    char *big = calloc(1, per * 64);
    assert_int_equal(rcache_set(c, "big", 3, big, per * 64 - 200, 0, 0), RCACHE_OK);
    free(big);
    int evicted = 0;
    for (int i = 0; i < 4096; i++) {
        key_of(k, i);
        if (!rcache_exists(c, k, 10)) {
            if (i >= 2048)
                fail_msg("recent key %d evicted while older entries remain", i);
            evicted++;
        }
    }
    assert_int_equal(evicted, 64);
    check_invariants(c);
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
        cmocka_unit_test(test_peak_never_above_limit),
        cmocka_unit_test(test_touch_moves_to_mru),
        cmocka_unit_test(test_cross_shard_lru),
        cmocka_unit_test(test_cross_shard_lru_bytes),
        cmocka_unit_test(test_cross_shard_bytes_other_policies),
        cmocka_unit_test(test_cross_shard_bytes_wtinylfu),
        cmocka_unit_test(test_cross_shard_lru_update_and_limits),
        cmocka_unit_test(test_cross_shard_lru_sampled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
