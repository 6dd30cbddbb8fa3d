/*
 * test_diag_threads.c - diagnostics under concurrency (also run by
 * `make test-tsan`): lookup and store threads on a cache whose diagnostics
 * are being switched on and off, reset, and read (curve, hot keys, census)
 * by another thread. Nothing is timed; the checks are that every reader
 * sees consistent figures and the census adds up once writers stop.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define THREADS 3
#define OPS 60000

static rcache_t *cache;
static atomic_int writers_left;

static void *worker(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t s = 0x9e3779b97f4a7c15ull * (id + 1);
    char key[32];
    for (int i = 0; i < OPS; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int kl = snprintf(key, sizeof key, "ns%u:%llu", (unsigned)(s % 4), (unsigned long long)(s % 3000));
        if (rcache_get(cache, key, (size_t)kl, NULL, 0, NULL) == RCACHE_ENOTFOUND)
            rcache_set(cache, key, (size_t)kl, "value", 5, 0, 0);
    }
    atomic_fetch_sub(&writers_left, 1);
    return NULL;
}

static void *reader(void *arg) {
    (void)arg;
    rcache_census_t *cs = malloc(sizeof *cs);
    rcache_hotkey_t hk[16];
    int round = 0;
    while (atomic_load(&writers_left) > 0) {
        rcache_diag_enable(cache, round % 7 != 3); /* off now and then */
        if (round % 11 == 5)
            rcache_diag_reset(cache);
        rcache_mrc_t *m = rcache_diag_mrc(cache);
        double h = m ? rcache_mrc_hit_ratio(m, 1000) : 0;
        assert_true(h >= 0 && h <= 1);
        uint64_t total;
        size_t n = rcache_diag_hotkeys(cache, hk, 16, &total);
        for (size_t i = 1; i < n; i++)
            assert_true(hk[i - 1].count >= hk[i].count);
        assert_int_equal(rcache_diag_census(cache, cs), RCACHE_OK);
        uint64_t items = 0;
        for (int b = 0; b < RCACHE_SIZE_BUCKETS; b++)
            items += cs->size_count[b];
        assert_int_equal(items, cs->items);
        round++;
    }
    rcache_diag_enable(cache, 1);
    free(cs);
    return NULL;
}

static void test_diag_concurrent(void **state) {
    (void)state;
    cache = open_cache(2000, 0, 0, 8, NULL);
    assert_int_equal(rcache_diag_enable(cache, 1), RCACHE_OK);
    pthread_t t[THREADS + 1];
    atomic_store(&writers_left, THREADS);
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i), 0);
    assert_int_equal(pthread_create(&t[THREADS], NULL, reader, NULL), 0);
    for (unsigned i = 0; i <= THREADS; i++)
        pthread_join(t[i], NULL);
    rcache_census_t cs;
    assert_int_equal(rcache_diag_census(cache, &cs), RCACHE_OK);
    assert_int_equal(cs.items, rcache_count(cache));
    uint64_t ns_items = cs.other_items;
    for (size_t i = 0; i < cs.ns_count; i++)
        ns_items += cs.ns[i].items;
    assert_int_equal(ns_items, cs.items);
    assert_int_equal(cs.ns_count, 4);
    check_invariants(cache);
    rcache_close(cache);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_diag_concurrent)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
