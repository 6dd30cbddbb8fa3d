/*
 * test_ttl.c - expiry with an injected clock (no sleeping): default and
 * per-entry TTL, lazy expiry, the active sweep, EXPIRE/PERSIST/TTL.
 */
#include "testutil.h"

#include <time.h>

static void test_default_ttl_and_lazy_expiry(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 1000, 1, &clk);
    char buf[8];
    int64_t ttl;
    set_str(c, "k", "v");
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 1000);
    clk.now_ms += 999;
    assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_OK);
    clk.now_ms += 1;
    assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_ENOTFOUND);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.expirations, 1);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.items, 0);
    check_invariants(c);
    rcache_close(c);
}

static void test_per_entry_ttl(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 1000, 1, &clk);
    int64_t ttl;
    rcache_set(c, "short", 5, "v", 1, 10, 0);
    rcache_set(c, "none", 4, "v", 1, 0, 0);
    rcache_set(c, "dflt", 4, "v", 1, RCACHE_TTL_DEFAULT, 0);
    assert_int_equal(rcache_ttl(c, "none", 4, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    clk.now_ms += 10;
    assert_int_equal(rcache_exists(c, "short", 5), 0);
    clk.now_ms += 100000;
    assert_int_equal(rcache_exists(c, "none", 4), 1);
    assert_int_equal(rcache_exists(c, "dflt", 4), 0);
    assert_int_equal(rcache_ttl(c, "dflt", 4, &ttl), RCACHE_ENOTFOUND);
    rcache_close(c);
}

static void test_keepttl(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    int64_t ttl;
    rcache_set(c, "k", 1, "a", 1, 500, 0);
    clk.now_ms += 100;
    rcache_set(c, "k", 1, "b", 1, RCACHE_TTL_KEEP, 0);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 400);
    rcache_set(c, "k", 1, "c", 1, 0, 0); /* plain set clears the TTL */
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    rcache_set(c, "new", 3, "c", 1, RCACHE_TTL_KEEP, 0);
    assert_int_equal(rcache_ttl(c, "new", 3, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    rcache_close(c);
}

static void test_expire_persist(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 2, &clk);
    int64_t ttl;
    set_str(c, "k", "v");
    assert_int_equal(rcache_expire(c, "k", 1, 250), RCACHE_OK);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 250);
    assert_int_equal(rcache_persist(c, "k", 1), RCACHE_OK);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    assert_int_equal(rcache_expire_at(c, "k", 1, clk.now_ms + 50), RCACHE_OK);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 50);
    assert_int_equal(rcache_expire_at(c, "k", 1, clk.now_ms - 1), RCACHE_OK);
    assert_int_equal(rcache_exists(c, "k", 1), 0); /* past time deletes */
    assert_int_equal(rcache_expire(c, "k", 1, 10), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_persist(c, "k", 1), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_ttl(c, "k", 1, NULL), RCACHE_EINVAL);
    check_invariants(c);
    rcache_close(c);
}

static void test_active_expire_cycle(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 4, &clk);
    char k[16];
    for (int i = 0; i < 1000; i++) {
        sprintf(k, "t%d", i);
        rcache_set(c, k, strlen(k), "v", 1, i < 600 ? 100 : 0, 0);
    }
    clk.now_ms += 100;
    /* nobody reads: the cycle alone reclaims the expired entries */
    uint64_t total = 0;
    for (int i = 0; i < 100 && rcache_count(c) > 400; i++)
        total += rcache_expire_cycle(c, 64);
    assert_int_equal(total, 600);
    assert_int_equal(rcache_count(c), 400);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.expirations, 600);
    check_invariants(c);
    rcache_close(c);
}

/* The budget counts entries, not buckets: 200 expired keys spread over 64
 * sparse shards are all reclaimed by one call with a budget of 256
 * (regression: a per-shard bucket budget reclaimed ~50 per call, so a
 * server's 100 ms timer fell behind). */
static void test_expire_cycle_budget_is_entries(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 64, &clk);
    char k[16];
    for (int i = 0; i < 200; i++) {
        sprintf(k, "e%d", i);
        rcache_set(c, k, strlen(k), "v", 1, 50, 0);
    }
    rcache_set(c, "keep", 4, "v", 1, 0, 0);
    clk.now_ms += 50;
    assert_int_equal(rcache_expire_cycle(c, 256), 200);
    assert_int_equal(rcache_count(c), 1);
    /* and a small budget is honoured: at most that many examined */
    for (int i = 0; i < 200; i++) {
        sprintf(k, "f%d", i);
        rcache_set(c, k, strlen(k), "v", 1, 10, 0);
    }
    clk.now_ms += 10;
    uint64_t got = rcache_expire_cycle(c, 20);
    assert_true(got > 0 && got <= 20);
    check_invariants(c);
    rcache_close(c);
}

static void test_sets_sweep_expired(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    char k[16];
    for (int i = 0; i < 200; i++) {
        sprintf(k, "old%d", i);
        rcache_set(c, k, strlen(k), "v", 1, 10, 0);
    }
    clk.now_ms += 20;
    for (int i = 0; i < 2000; i++) { /* writes to other keys */
        sprintf(k, "new%d", i % 10);
        rcache_set(c, k, strlen(k), "v", 1, 0, 0);
    }
    assert_int_equal(rcache_count(c), 10);
    rcache_close(c);
}

static void test_entry_times(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    uint64_t t0 = clk.now_ms;
    rcache_entry_info_t info;
    char buf[4];
    set_str(c, "k", "v");
    clk.now_ms += 5000;
    get_str(c, "k", buf, sizeof buf);
    get_str(c, "k", buf, sizeof buf);
    assert_int_equal(rcache_entry_info(c, "k", 1, &info), RCACHE_OK);
    assert_int_equal(info.created_at_ms, t0);
    assert_int_equal(info.last_access_ms, t0 + 5000);
    assert_int_equal(info.access_count, 2);
    assert_int_equal(info.ttl_ms, -1);
    assert_int_equal(info.expired, 0);
    rcache_close(c);
}

/* The real clock: lookups read a coarse clock and refine it near an expiry,
 * so a TTL must still hold to the millisecond. Polls for ~40 ms (bounded);
 * the assertions compare exact clock readings taken around each call, so
 * machine load cannot make them fail. */
static uint64_t exact_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_real_clock_ms_precision(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    for (int round = 0; round < 3; round++) {
        uint64_t set_before = exact_ms();
        assert_int_equal(rcache_set(c, "k", 1, "v", 1, 25, 0), RCACHE_OK);
        uint64_t set_after = exact_ms();
        for (;;) {
            uint64_t before = exact_ms();
            int present = rcache_exists(c, "k", 1);
            uint64_t after = exact_ms();
            if (!present) {
                /* never before its time */
                assert_true(after >= set_before + 25);
                break;
            }
            /* and never after it: past set_after + 25 it must be gone */
            assert_true(before < set_after + 25);
            assert_true(after < set_before + 5000); /* bounded loop */
        }
    }
    rcache_close(c);
}

/* Regression (fuzz_env): huge TTLs never wrap into the past. */
static void test_huge_ttl_saturates(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    int64_t ttl;
    assert_int_equal(rcache_set_default_ttl(c, UINT64_MAX), RCACHE_EINVAL);
    assert_int_equal(rcache_set_default_ttl(c, (uint64_t)INT64_MAX), RCACHE_OK);
    rcache_set(c, "d", 1, "v", 1, RCACHE_TTL_DEFAULT, 0);
    rcache_set(c, "x", 1, "v", 1, INT64_MAX, 0);
    assert_int_equal(rcache_expire(c, "x", 1, UINT64_MAX), RCACHE_OK);
    clk.now_ms += 1000000;
    assert_int_equal(rcache_exists(c, "d", 1), 1);
    assert_int_equal(rcache_exists(c, "x", 1), 1);
    assert_int_equal(rcache_ttl(c, "x", 1, &ttl), RCACHE_OK);
    assert_true(ttl > 0);
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.default_ttl_ms = UINT64_MAX;
    rcache_t *bad = NULL;
    assert_int_equal(rcache_open(&cfg, &bad), RCACHE_EINVAL);
    assert_null(bad);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_ttl_and_lazy_expiry),
        cmocka_unit_test(test_per_entry_ttl),
        cmocka_unit_test(test_keepttl),
        cmocka_unit_test(test_expire_persist),
        cmocka_unit_test(test_active_expire_cycle),
        cmocka_unit_test(test_expire_cycle_budget_is_entries),
        cmocka_unit_test(test_sets_sweep_expired),
        cmocka_unit_test(test_entry_times),
        cmocka_unit_test(test_real_clock_ms_precision),
        cmocka_unit_test(test_huge_ttl_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
