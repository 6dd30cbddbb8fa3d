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
    rcache_set_opts_t o = {.ttl_ms = RCACHE_TTL_DEFAULT, .compute_ms = 1234};
    rcache_set_ex(c, "k", 1, "value", 5, &o, NULL);
    assert_int_equal(rcache_entry_info(c, "k", 1, &info), RCACHE_OK);
    assert_int_equal(info.value_len, 5);
    assert_int_equal(info.compute_ms, 1234);
    /* the compute time's 4 bytes are part of the block */
    assert_int_equal(info.size_bytes, rcache__entry_size(1, 5, RCACHE__F_COST, 0));
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

/* ---- issue 10 item 10: bounded scans, shrinking tables ---------------- */

static uint64_t scan_buckets(rcache_t *c) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        n += c->shards[i].st.scan_buckets;
        pthread_mutex_unlock(&c->shards[i].lock);
    }
    return n;
}

/* Position of bucket b in the reverse-binary visiting order of a table of
 * 2^bits buckets. */
static uint64_t visit_pos(uint64_t b, unsigned bits) {
    uint64_t r = 0;
    for (unsigned i = 0; i < bits; i++)
        r |= ((b >> i) & 1u) << (bits - 1 - i);
    return r;
}

/* A table whose first 60% of buckets (in visiting order) are empty but
 * which is too full to shrink: one scan call must stop after count x 10
 * buckets, with no key and a non-zero cursor (before: it walked ~78k empty
 * buckets to find its 10 keys). */
static void test_scan_bounded_on_sparse_table(void **state) {
    enum { NK = 1 << 17, NB = 1 << 15, NB_BITS = 15 };
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    char k[32];
    for (int i = 0; i < NK; i++) {
        sprintf(k, "k%d", i);
        assert_int_equal(rcache_set(c, k, strlen(k), "v", 1, 0, 0), RCACHE_OK);
    }
    rcache__shard_t *s = &c->shards[0];
    assert_int_equal(rcache__index_buckets(&s->idx), NB);
    uint64_t kept = 0;
    for (int i = 0; i < NK; i++) {
        sprintf(k, "k%d", i);
        uint64_t b = (uint32_t)rcache__hash(k, strlen(k)) & (NB - 1);
        if (visit_pos(b, NB_BITS) < (uint64_t)NB * 6 / 10)
            assert_int_equal(rcache_delete(c, k, strlen(k)), RCACHE_OK);
        else
            kept++;
    }
    assert_int_equal(rcache__index_buckets(&s->idx), NB); /* over a quarter */
    assert_int_equal(rcache_count(c), kept);

    rcache_scan_page_t page;
    uint64_t cursor = 0, before = scan_buckets(c);
    assert_int_equal(rcache_scan(c, 0, 10, NULL, 0, 0, &page, &cursor), RCACHE_OK);
    assert_int_equal(page.count, 0);
    assert_true(cursor != 0);
    assert_true(scan_buckets(c) - before <= 100);
    rcache_scan_page_free(&page);

    /* The bounded calls still list every key, exactly once (no resize). */
    static int seen[NK];
    memset(seen, 0, sizeof seen);
    uint64_t calls = 0, listed = 0;
    before = scan_buckets(c);
    do {
        assert_int_equal(rcache_scan(c, cursor, 10, NULL, 0, 0, &page, &cursor),
                         RCACHE_OK);
        for (size_t i = 0; i < page.count; i++)
            seen[atoi((const char *)page.entries[i].key + 1)]++;
        listed += page.count;
        rcache_scan_page_free(&page);
        calls++;
        assert_true(scan_buckets(c) - before <= calls * 100);
    } while (cursor != 0);
    assert_int_equal(listed, kept);
    for (int i = 0; i < NK; i++)
        assert_true(seen[i] <= 1);
    check_invariants(c);
    rcache_close(c);
}

static void assert_tables_minimal(rcache_t *c) {
    for (uint32_t i = 0; i < c->nshards; i++)
        assert_int_equal(rcache__index_buckets(&c->shards[i].idx),
                         RCACHE__MIN_BUCKETS);
}

/* 1M keys, then FLUSHALL: every table is back to its minimum and a scan of
 * the empty cache costs one visit per shard. */
static void test_tables_shrink_after_clear(void **state) {
    enum { NK = 1000000 };
    rcache_t *c = open_cache(0, 0, 0, 16, NULL);
    char k[32];
    for (int i = 0; i < NK; i++) {
        int n = sprintf(k, "key:%d", i);
        assert_int_equal(rcache_set(c, k, (size_t)n, "v", 1, 0, 0), RCACHE_OK);
    }
    assert_true(rcache__index_buckets(&c->shards[0].idx) >= 8192);
    uint64_t removed = 0;
    assert_int_equal(rcache_clear(c, &removed), RCACHE_OK);
    assert_int_equal(removed, NK);
    assert_tables_minimal(c);
    check_invariants(c);

    rcache_scan_page_t page;
    uint64_t cursor = 0, before = scan_buckets(c), calls = 0;
    do {
        assert_int_equal(rcache_scan(c, cursor, 1, NULL, 0, 0, &page, &cursor),
                         RCACHE_OK);
        assert_int_equal(page.count, 0);
        rcache_scan_page_free(&page);
        calls++;
        assert_true(scan_buckets(c) - before <= calls * 10);
    } while (cursor != 0);
    assert_int_equal(scan_buckets(c) - before, c->nshards);
    /* and the tables grow again as needed */
    for (int i = 0; i < 1000; i++) {
        int n = sprintf(k, "again:%d", i);
        assert_int_equal(rcache_set(c, k, (size_t)n, "v", 1, 0, 0), RCACHE_OK);
    }
    check_invariants(c);
    rcache_close(c);

    /* a table sized for the item limit at open is not shrunk below that */
    c = open_cache(65536, 0, 0, 4, NULL);
    /* 4096 buckets: 65536 / 4 shards + 1 entries at 6 a bucket, rounded up */
    size_t start = rcache__index_buckets(&c->shards[0].idx);
    assert_int_equal(start, 4096);
    for (int i = 0; i < 200000; i++) {
        int n = sprintf(k, "key:%d", i);
        assert_int_equal(rcache_set(c, k, (size_t)n, "v", 1, 0, 0), RCACHE_OK);
    }
    assert_int_equal(rcache_clear(c, &removed), RCACHE_OK);
    for (uint32_t i = 0; i < c->nshards; i++)
        assert_int_equal(rcache__index_buckets(&c->shards[i].idx), start);
    check_invariants(c);
    rcache_close(c);
}

/* A mass expiry reclaimed by active expiry (and by lookups) shrinks the
 * tables too. */
static void test_tables_shrink_after_mass_expiry(void **state) {
    enum { NK = 200000 };
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 4, &clk);
    char k[32];
    for (int i = 0; i < NK; i++) {
        int n = sprintf(k, "t:%d", i);
        assert_int_equal(rcache_set(c, k, (size_t)n, "v", 1, 1000, 0), RCACHE_OK);
    }
    clk.now_ms += 1000;
    while (rcache_expire_cycle(c, 100000) > 0)
        ;
    assert_int_equal(rcache_count(c), 0);
    assert_tables_minimal(c);
    check_invariants(c);
    rcache_close(c);
}

/* Every key present for the whole scan is listed at least once while the
 * tables shrink and grow between calls (seeded, so reproducible). */
static void test_scan_during_shrink_and_growth(void **state) {
    enum { NS = 2000, NT = 8000 };
    for (uint32_t shards = 1; shards <= 4; shards *= 4) {
        for (unsigned seed = 1; seed <= 4; seed++) {
            rcache_t *c = open_cache(0, 0, 0, shards, NULL);
            static int seen[NS];
            char k[32];
            unsigned rs = seed;
            memset(seen, 0, sizeof seen);
            for (int i = 0; i < NS; i++) {
                sprintf(k, "k%d", i);
                rcache_set(c, k, strlen(k), "v", 1, 0, 0);
            }
            int transient = 0; /* keys t0..t<transient-1> present */
            if (seed % 2) {    /* start large, so the first moves shrink */
                for (; transient < NT; transient++) {
                    sprintf(k, "t%d", transient);
                    rcache_set(c, k, strlen(k), "v", 1, 0, 0);
                }
            }
            uint64_t cursor = 0;
            size_t count = 1 + (size_t)(rand_r(&rs) % 50);
            do {
                rcache_scan_page_t page;
                assert_int_equal(rcache_scan(c, cursor, count, NULL, 0, 0, &page,
                                             &cursor), RCACHE_OK);
                for (size_t i = 0; i < page.count; i++) {
                    const char *key = page.entries[i].key;
                    if (key[0] == 'k')
                        seen[atoi(key + 1)]++;
                }
                rcache_scan_page_free(&page);
                /* grow or shrink by a random amount */
                int target = rand_r(&rs) % 3 == 0 ? rand_r(&rs) % NT : transient / 4;
                for (; transient < target; transient++) {
                    sprintf(k, "t%d", transient);
                    rcache_set(c, k, strlen(k), "v", 1, 0, 0);
                }
                while (transient > target) {
                    sprintf(k, "t%d", --transient);
                    rcache_delete(c, k, strlen(k));
                }
            } while (cursor != 0);
            for (int i = 0; i < NS; i++)
                assert_true(seen[i] >= 1);
            check_invariants(c);
            rcache_close(c);
        }
    }
}

/* INFO keyspace's numbers come from counters, not from walking entries:
 * expires and avg_ttl_ms follow every way an expiry changes. */
static void test_stats_keyspace_counters(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 4, &clk);
    rcache_stats_t st;
    rcache_set(c, "a", 1, "v", 1, 1000, 0);
    rcache_set(c, "b", 1, "v", 1, 3000, 0);
    rcache_set(c, "n", 1, "v", 1, 0, 0);
    rcache_stats(c, &st);
    assert_int_equal(st.items, 3);
    assert_int_equal(st.expires, 2);
    assert_int_equal(st.avg_ttl_ms, 2000);
    clk.now_ms += 500;
    rcache_stats(c, &st);
    assert_int_equal(st.avg_ttl_ms, 1500);
    assert_int_equal(rcache_persist(c, "b", 1), RCACHE_OK);
    rcache_stats(c, &st);
    assert_int_equal(st.expires, 1);
    assert_int_equal(st.avg_ttl_ms, 500);
    assert_int_equal(rcache_expire(c, "n", 1, 4500), RCACHE_OK);
    rcache_stats(c, &st);
    assert_int_equal(st.expires, 2);
    assert_int_equal(st.avg_ttl_ms, 2500);
    rcache_set(c, "n", 1, "w", 1, RCACHE_TTL_KEEP, 0); /* keeps 4500 */
    assert_int_equal(rcache_rename(c, "n", 1, "m", 1, 0), RCACHE_OK);
    rcache_stats(c, &st);
    assert_int_equal(st.expires, 2);
    assert_int_equal(st.avg_ttl_ms, 2500);
    assert_int_equal(rcache_delete(c, "a", 1), RCACHE_OK);
    rcache_stats(c, &st);
    assert_int_equal(st.expires, 1);
    assert_int_equal(st.avg_ttl_ms, 4500);
    check_invariants(c);
    clk.now_ms += 10000; /* expired, not reclaimed: clamped at 0 */
    rcache_stats(c, &st);
    assert_int_equal(st.expires, 1);
    assert_int_equal(st.avg_ttl_ms, 0);
    uint64_t removed;
    rcache_clear(c, &removed);
    rcache_stats(c, &st);
    assert_int_equal(st.expires, 0);
    assert_int_equal(st.avg_ttl_ms, 0);
    check_invariants(c);
    rcache_close(c);
}

/* Key classes (rcache_config_t.key_class): the first byte of the key,
 * 'a'.. 'c' -> 0..2, anything else a class out of range (counted as 0). */
static uint32_t first_byte_class(const void *key, size_t len, void *ctx) {
    (void)len;
    *(int *)ctx += 1;
    return (uint32_t)(((const unsigned char *)key)[0] - 'a');
}

static void test_key_classes(void **state) {
    (void)state;
    rcache_config_t cfg;
    rcache_t *c = NULL;
    int calls = 0;
    rcache_class_stats_t st[4];
    uint64_t removed = 0;
    rcache_config_init(&cfg);
    cfg.key_classes = 3; /* without key_class: refused */
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_EINVAL);
    cfg.key_class = first_byte_class;
    cfg.key_class_ctx = &calls;
    cfg.key_classes = RCACHE_MAX_KEY_CLASSES + 1;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_EINVAL);
    cfg.key_classes = 3;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    const char *keys[] = {"a1", "a2", "b1", "c1", "c2", "c3", "z1"};
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(rcache_set(c, keys[i], 2, "v", 1, i % 2 ? 60000 : 0, 0), RCACHE_OK);
    assert_true(calls > 0);
    assert_int_equal(rcache_key_class(c, "b9", 2), 1);
    assert_int_equal(rcache_key_class(c, "z9", 2), 0); /* out of range: 0 */
    assert_int_equal(rcache_class_stats(c, st, 4), RCACHE_OK);
    assert_int_equal(st[0].items, 3); /* a1 a2 z1 */
    assert_int_equal(st[0].expires, 1); /* a2 */
    assert_int_equal(st[1].items, 1);
    assert_int_equal(st[2].items, 3);
    assert_int_equal(st[2].expires, 2); /* c1 c3 (i = 3, 5) */
    assert_true(st[2].avg_ttl_ms > 0 && st[2].avg_ttl_ms <= 60000);
    assert_int_equal(st[3].items, 0);
    /* a class's pattern invalidation leaves other classes' matches */
    assert_int_equal(rcache_invalidate_class(c, 2, "*1", 2, &removed), RCACHE_OK);
    assert_int_equal(removed, 1); /* c1, not a1, b1, z1 */
    assert_int_equal(rcache_invalidate_class(c, 0, NULL, 0, &removed), RCACHE_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(rcache_invalidate_class(c, 3, NULL, 0, &removed), RCACHE_EINVAL);
    assert_int_equal(rcache_invalidate_class(c, 0, "[", 1, &removed), RCACHE_EPATTERN);
    assert_int_equal(rcache_class_stats(c, st, 3), RCACHE_OK);
    assert_int_equal(st[0].items + st[1].items + st[2].items, 3);
    assert_int_equal(rcache_count(c), 3);
    rcache_get_config(c, &cfg);
    assert_int_equal(cfg.key_classes, 3);
    assert_ptr_equal(cfg.key_class, first_byte_class);
    rcache_close(c);

    /* without classes: one class, 0, holding everything */
    assert_int_equal(rcache_open(NULL, &c), RCACHE_OK);
    assert_int_equal(rcache_set(c, "x", 1, "v", 1, 1000, 0), RCACHE_OK);
    assert_int_equal(rcache_set(c, "y", 1, "v", 1, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_class_stats(c, st, 2), RCACHE_OK);
    assert_int_equal(st[0].items, 2);
    assert_int_equal(st[0].expires, 1);
    assert_int_equal(st[1].items, 0);
    assert_int_equal(rcache_key_class(c, "x", 1), 0);
    assert_int_equal(rcache_invalidate_class(c, 1, "*", 1, &removed), RCACHE_EINVAL);
    assert_int_equal(rcache_invalidate_class(c, 0, "x", 1, &removed), RCACHE_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(rcache_class_stats(NULL, st, 2), RCACHE_EINVAL);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_covers_all),
        cmocka_unit_test(test_scan_during_growth),
        cmocka_unit_test(test_scan_pattern_and_expired),
        cmocka_unit_test(test_invalidate),
        cmocka_unit_test(test_entry_info),
        cmocka_unit_test(test_scan_bounded_on_sparse_table),
        cmocka_unit_test(test_tables_shrink_after_clear),
        cmocka_unit_test(test_tables_shrink_after_mass_expiry),
        cmocka_unit_test(test_scan_during_shrink_and_growth),
        cmocka_unit_test(test_stats_keyspace_counters),
        cmocka_unit_test(test_key_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
