/*
 * test_scan.c - cursor scan guarantees (every entry present throughout is
 * returned, also while tables grow), glob filters, invalidation, clear.
 */
#include "testutil.h"

#include <stdlib.h>

#define N 3000

/* Scan everything, counting how often each "k<i>" key is seen. */
static void scan_all(rcache_t *c, int *seen, size_t count, int grow_during) {
    uint64_t cursor = 0;
    int calls = 0, grown = 0;
    do {
        rcache_scan_page_t page;
        assert_int_equal(rcache_scan(c, cursor, count, NULL, 0, 0, &page, &cursor),
                         RCACHE_OK);
        for (size_t i = 0; i < page.count; i++) {
            const char *k = page.entries[i].key;
            if (k[0] == 'k')
                seen[atoi(k + 1)]++;
        }
        rcache_scan_page_free(&page);
        if (grow_during && ++calls == 5) {
            char k[32];
            for (int i = 0; i < 4 * N; i++) { /* forces every table to double */
                sprintf(k, "g%d", i);
                rcache_set(c, k, strlen(k), "v", 1, 0, 0);
            }
            grown = 1;
        }
    } while (cursor != 0);
    if (grow_during)
        assert_true(grown);
}

static void fill(rcache_t *c) {
    char k[32];
    for (int i = 0; i < N; i++) {
        sprintf(k, "k%d", i);
        rcache_set(c, k, strlen(k), "v", 1, 0, 0);
    }
}

static void test_scan_covers_all(void **state) {
    for (uint32_t shards = 1; shards <= 16; shards *= 4) {
        rcache_t *c = open_cache(0, 0, 0, shards, NULL);
        static int seen[N];
        fill(c);
        memset(seen, 0, sizeof seen);
        scan_all(c, seen, 10, 0);
        for (int i = 0; i < N; i++)
            assert_int_equal(seen[i], 1); /* no change: exactly once */
        rcache_close(c);
    }
}

static void test_scan_during_growth(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 4, NULL);
    static int seen[N];
    fill(c);
    memset(seen, 0, sizeof seen);
    scan_all(c, seen, 20, 1);
    for (int i = 0; i < N; i++)
        assert_true(seen[i] >= 1);
    rcache_close(c);
}

static void test_scan_pattern_and_expired(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 2, &clk);
    rcache_set(c, "user:1", 6, "a", 1, 0, 0);
    rcache_set(c, "user:2", 6, "b", 1, 10, 0);
    rcache_set(c, "item:1", 6, "c", 1, 0, 0);
    clk.now_ms += 10;
    for (int inc = 0; inc <= 1; inc++) {
        uint64_t cursor = 0;
        size_t found = 0, expired = 0;
        do {
            rcache_scan_page_t page;
            assert_int_equal(rcache_scan(c, cursor, 100, "user:*", 6, inc, &page,
                                         &cursor), RCACHE_OK);
            for (size_t i = 0; i < page.count; i++) {
                found++;
                expired += page.entries[i].expired;
                assert_memory_equal(page.entries[i].key, "user:", 5);
            }
            rcache_scan_page_free(&page);
        } while (cursor);
        assert_int_equal(found, inc ? 2 : 1);
        assert_int_equal(expired, inc ? 1 : 0);
    }
    rcache_scan_page_t page;
    uint64_t next;
    assert_int_equal(rcache_scan(c, 0, 10, "[bad", 4, 0, &page, &next), RCACHE_EPATTERN);
    rcache_close(c);
}

static void test_invalidate(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 8, NULL);
    char k[32];
    for (int i = 0; i < 100; i++) {
        sprintf(k, "model:v%d:%d", i % 4, i);
        rcache_set(c, k, strlen(k), "v", 1, 0, 0);
    }
    uint64_t removed = 99;
    assert_int_equal(rcache_invalidate(c, "model:v3:*", 10, &removed), RCACHE_OK);
    assert_int_equal(removed, 25);
    assert_int_equal(rcache_count(c), 75);
    assert_int_equal(rcache_invalidate(c, "[oops", 5, &removed), RCACHE_EPATTERN);
    assert_int_equal(removed, 0);
    assert_int_equal(rcache_count(c), 75);
    assert_int_equal(rcache_invalidate(c, "", 0, &removed), RCACHE_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(rcache_invalidate(c, "model:v[01]:*", 13, &removed), RCACHE_OK);
    assert_int_equal(removed, 50);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.deletes, 75);
    check_invariants(c);
    assert_int_equal(rcache_clear(c, &removed), RCACHE_OK);
    assert_int_equal(removed, 25);
    assert_int_equal(rcache_count(c), 0);
    check_invariants(c);
    rcache_set(c, "after", 5, "v", 1, 0, 0); /* usable after clear */
    assert_int_equal(rcache_count(c), 1);
    rcache_close(c);
}

static void test_entry_info(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    rcache_entry_info_t info;
    rcache_set_opts_t o = {RCACHE_TTL_DEFAULT, 0, 1234};
    rcache_set_ex(c, "k", 1, "value", 5, &o, NULL);
    assert_int_equal(rcache_entry_info(c, "k", 1, &info), RCACHE_OK);
    assert_int_equal(info.value_len, 5);
    assert_int_equal(info.compute_ms, 1234);
    assert_int_equal(info.size_bytes, rcache__entry_size(1, 5, 0, 0));
    assert_memory_equal(info.key, "k", 1);
    assert_int_equal(rcache_entry_info(c, "x", 1, &info), RCACHE_ENOTFOUND);
    /* compute time saved: each hit adds the entry's compute time */
    char buf[8];
    get_str(c, "k", buf, sizeof buf);
    get_str(c, "k", buf, sizeof buf);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.compute_saved_ms, 2468);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_covers_all),
        cmocka_unit_test(test_scan_during_growth),
        cmocka_unit_test(test_scan_pattern_and_expired),
        cmocka_unit_test(test_invalidate),
        cmocka_unit_test(test_entry_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
