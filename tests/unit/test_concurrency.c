/*
 * test_concurrency.c - 32 threads x 100k mixed operations on a shared
 * cache with small limits (so eviction runs constantly), then invariants:
 * item and byte counters equal a full recount, both limits hold, every
 * object destructor ran exactly once for every object no longer cached,
 * every INCR-style update ran its callback exactly once and every counter
 * value read back is one the callback could have written. A second test
 * has threads increment shared and private counters with rcache_update()
 * in a cache that never evicts, and checks that no increment is lost
 * (final value = number of increments) and that readers never see a
 * counter go backwards. Runs under ThreadSanitizer in `make test-tsan`.
 * The mixed run is repeated under every eviction policy.
 * RCACHE_STRESS_OPS overrides the operations per thread.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define THREADS 32
#define KEYSPACE 5000

static _Atomic long objects_made, objects_freed;
static _Atomic long torn_values; /* values whose bytes disagree: a torn copy */
static _Atomic long bad_counters; /* digit values incr_cb cannot have written */
static _Atomic long incr_callbacks, incr_ok;
static rcache_t *cache;
static long ops_per_thread = 100000;

static void obj_free(void *obj, void *ctx) {
    free(obj);
    atomic_fetch_add(&objects_freed, 1);
}

/* Values are either letters (stores) or what incr_cb writes: a positive
 * decimal without sign or leading zero. */
static int counter_ok(const char *p, size_t len) {
    if (len == 0 || len > 19 || p[0] == '0')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static int incr_cb(rcache_update_t *u, void *ctx) {
    static _Thread_local char out[24];
    long long v = 0;
    atomic_fetch_add(&incr_callbacks, 1);
    if (u->found && u->old_len > 0 && ((const char *)u->old_val)[0] >= '0' &&
        ((const char *)u->old_val)[0] <= '9' &&
        !counter_ok(u->old_val, u->old_len))
        atomic_fetch_add(&bad_counters, 1);
    if (u->found && u->old_len < 20) {
        char t[24];
        memcpy(t, u->old_val, u->old_len);
        t[u->old_len] = 0;
        v = atoll(t);
    }
    u->new_len = (size_t)snprintf(out, sizeof out, "%lld", v + 1);
    u->new_val = out;
    return RCACHE_UPDATE_STORE;
}

static void *worker(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    char k[32], k2[32], val[600], buf[600];
    rcache_ref_t *held = NULL;
    for (long i = 0; i < ops_per_thread; i++) {
        int r = rand_r(&seed);
        size_t kl = (size_t)snprintf(k, sizeof k, "key:%d", r % KEYSPACE);
        size_t len;
        switch ((r >> 16) % 20) {
        case 0: case 1: case 2: case 3: case 4: case 5: {
            size_t vl = (size_t)(rand_r(&seed) % 600);
            memset(val, 'a' + (int)(vl % 26), vl);
            rcache_set(cache, k, kl, val, vl, rand_r(&seed) % 4 ? 0 : 5, 0);
            break;
        }
        case 6: case 7: case 8: case 9: case 10: case 11:
            /* letter values are one repeated byte chosen from their length */
            if (rcache_get(cache, k, kl, buf, sizeof buf, &len) == RCACHE_OK && len &&
                buf[0] >= 'a' && buf[0] <= 'z') {
                for (size_t j = 0; j < len; j++)
                    if (buf[j] != 'a' + (int)(len % 26)) {
                        atomic_fetch_add(&torn_values, 1);
                        break;
                    }
            } else if (len && buf[0] >= '0' && buf[0] <= '9' && !counter_ok(buf, len)) {
                atomic_fetch_add(&bad_counters, 1);
            }
            break;
        case 12:
            rcache_delete(cache, k, kl);
            break;
        case 13: {
            int *o = malloc(sizeof *o);
            *o = r;
            atomic_fetch_add(&objects_made, 1);
            if (rcache_set_object(cache, k, kl, o, 256, obj_free, NULL, NULL) != RCACHE_OK) {
                free(o);
                atomic_fetch_add(&objects_freed, 1);
            }
            break;
        }
        case 14:
            if (held)
                rcache_release(held);
            held = NULL;
            rcache_get_ref(cache, k, kl, &held);
            break;
        case 15: {
            int rc = rcache_update(cache, k, kl, incr_cb, NULL);
            /* EWRONGTYPE (an object entry) is the only refusal here */
            if (rc == RCACHE_OK)
                atomic_fetch_add(&incr_ok, 1);
            else if (rc != RCACHE_EWRONGTYPE)
                atomic_fetch_add(&bad_counters, 1);
            break;
        }
        case 16: {
            size_t k2l = (size_t)snprintf(k2, sizeof k2, "key:%d", rand_r(&seed) % KEYSPACE);
            rcache_rename(cache, k, kl, k2, k2l, rand_r(&seed) % 2);
            break;
        }
        case 17:
            rcache_expire(cache, k, kl, (uint64_t)(rand_r(&seed) % 3));
            break;
        case 18:
            if (rand_r(&seed) % 50 == 0) {
                rcache_scan_page_t page;
                uint64_t next;
                if (rcache_scan(cache, (uint64_t)rand_r(&seed), 50, "key:1*", 6, 1,
                                &page, &next) == RCACHE_OK)
                    rcache_scan_page_free(&page);
            } else {
                rcache_exists(cache, k, kl);
            }
            break;
        default:
            if (rand_r(&seed) % 2000 == 0)
                rcache_invalidate(cache, "key:2*", 6, NULL);
            else if (rand_r(&seed) % 2000 == 0)
                rcache_set_limits(cache, 1000 + (uint64_t)(rand_r(&seed) % 1000), 300000);
            else
                rcache_expire_cycle(cache, 16);
            break;
        }
    }
    if (held)
        rcache_release(held);
    return NULL;
}

/* One run of the mixed workload under policy, ops operations a thread. */
static void run_mixed(int policy, long ops) {
    ops_per_thread = ops;
    atomic_store(&objects_made, 0);
    atomic_store(&objects_freed, 0);
    atomic_store(&torn_values, 0);
    atomic_store(&bad_counters, 0);
    atomic_store(&incr_callbacks, 0);
    atomic_store(&incr_ok, 0);
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.max_items = 2000;
    cfg.max_bytes = 400000;
    cfg.default_ttl_ms = 0;
    cfg.shards = 8;
    cfg.policy = policy;
    assert_int_equal(rcache_open(&cfg, &cache), RCACHE_OK);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&torn_values), 0);
    assert_int_equal(atomic_load(&bad_counters), 0);
    assert_true(atomic_load(&incr_ok) > 0);
    /* one callback per update that succeeded, none for refused ones */
    assert_int_equal(atomic_load(&incr_callbacks), atomic_load(&incr_ok));
    check_invariants(cache);
    rcache_stats_t st;
    rcache_stats(cache, &st);
    assert_true(st.evictions > 0);
    assert_true(st.hits > 0);
    /* objects still cached are exactly those not yet destroyed */
    uint64_t cached_objects = 0;
    for (uint32_t i = 0; i < cache->nshards; i++)
        for (unsigned q = 0; q < RCACHE__POL_LISTS; q++) {
            rcache__entry_t *h = cache->shards[i].pol.q[q];
            for (rcache__entry_t *e = h->next; e != h; e = e->next)
                cached_objects += (e->flags & RCACHE__F_OBJECT) != 0;
        }
    assert_int_equal(atomic_load(&objects_made) - atomic_load(&objects_freed),
                     (long)cached_objects);
    rcache_close(cache);
    assert_int_equal(atomic_load(&objects_made), atomic_load(&objects_freed));
}

static long stress_ops(long dflt) {
    const char *env = getenv("RCACHE_STRESS_OPS");
    return env ? atol(env) : dflt;
}

static void test_mixed_32_threads(void **state) {
    (void)state;
    run_mixed(RCACHE_POLICY_LRU, stress_ops(100000));
}

/* The same workload under each other policy (a quarter of the operations:
 * the run is about races in the policies' list and counter work, which
 * show within thousands of evictions). */
static void test_mixed_32_threads_policies(void **state) {
    (void)state;
    for (int p = 1; p < RCACHE_POLICY_COUNT; p++) {
        print_message("    policy %s\n", rcache_policy_name(p));
        run_mixed(p, stress_ops(100000) / 4);
    }
}

/* Concurrent fills never report a peak above max_bytes (regression: the
 * peak was taken before eviction, INFO showed used_memory_peak > maxmemory). */
static void *fill_worker(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    char k[32], val[2048];
    memset(val, 'p', sizeof val);
    for (int i = 0; i < 20000; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "fill:%u:%d", seed, i);
        rcache_set(cache, k, kl, val, (size_t)(rand_r(&seed) % sizeof val), 0, 0);
    }
    return NULL;
}

static void test_concurrent_fill_peak(void **state) {
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.max_bytes = 256 * 1024;
    cfg.shards = 16;
    assert_int_equal(rcache_open(&cfg, &cache), RCACHE_OK);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fill_worker, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    rcache_stats_t st;
    rcache_stats(cache, &st);
    assert_true(st.evictions_bytes > 0);
    assert_true(st.peak_bytes <= cfg.max_bytes);
    assert_true(st.peak_bytes >= st.bytes);
    check_invariants(cache);
    rcache_close(cache);
}

/* ---- no lost increments -------------------------------------------- */

#define UPD_THREADS 16
static long upd_iters = 5000;
static _Atomic long upd_callbacks, upd_backwards, upd_bad;

/* ctx: the thread's own call count, to check the callback saw its update. */
static int count_cb(rcache_update_t *u, void *ctx) {
    static _Thread_local char out[24];
    long long v = 0;
    atomic_fetch_add(&upd_callbacks, 1);
    if (u->found) {
        if (!counter_ok(u->old_val, u->old_len)) {
            atomic_fetch_add(&upd_bad, 1);
            return RCACHE_UPDATE_KEEP;
        }
        char t[24];
        memcpy(t, u->old_val, u->old_len);
        t[u->old_len] = 0;
        v = atoll(t);
    }
    ++*(long *)ctx;
    u->new_len = (size_t)snprintf(out, sizeof out, "%lld", v + 1);
    u->new_val = out;
    return RCACHE_UPDATE_STORE;
}

static long read_counter(const char *key) {
    char buf[32];
    size_t len = 0;
    if (rcache_get(cache, key, strlen(key), buf, sizeof buf - 1, &len) != RCACHE_OK)
        return 0;
    if (!counter_ok(buf, len)) {
        atomic_fetch_add(&upd_bad, 1);
        return -1;
    }
    buf[len] = 0;
    return atol(buf);
}

static void *counter_worker(void *arg) {
    int id = (int)(uintptr_t)arg;
    char own[32];
    long calls = 0, last_seen = 0;
    snprintf(own, sizeof own, "count:%d", id);
    for (long i = 0; i < upd_iters; i++) {
        if (rcache_update(cache, "count:all", 9, count_cb, &calls) != RCACHE_OK ||
            rcache_update(cache, own, strlen(own), count_cb, &calls) != RCACHE_OK)
            atomic_fetch_add(&upd_bad, 1);
        if (i % 8 == 0) {
            /* later reads in one thread never see an earlier value */
            long v = read_counter("count:all");
            if (v < last_seen)
                atomic_fetch_add(&upd_backwards, 1);
            last_seen = v;
        }
    }
    if (calls != 2 * upd_iters) /* each update ran the callback once */
        atomic_fetch_add(&upd_bad, 1);
    return NULL;
}

static void test_update_no_lost_increments(void **state) {
    const char *env = getenv("RCACHE_STRESS_OPS");
    if (env)
        upd_iters = atol(env) / 20 > 0 ? atol(env) / 20 : 1;
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.max_items = 0; /* nothing may be evicted: every increment must stay */
    cfg.max_bytes = 0;
    cfg.default_ttl_ms = 0;
    cfg.shards = 4;
    assert_int_equal(rcache_open(&cfg, &cache), RCACHE_OK);
    pthread_t th[UPD_THREADS];
    for (int i = 0; i < UPD_THREADS; i++)
        assert_int_equal(
            pthread_create(&th[i], NULL, counter_worker, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < UPD_THREADS; i++)
        pthread_join(th[i], NULL);
    /* every increment is in the final values */
    assert_int_equal(read_counter("count:all"), (long)UPD_THREADS * upd_iters);
    for (int i = 0; i < UPD_THREADS; i++) {
        char own[32];
        snprintf(own, sizeof own, "count:%d", i);
        assert_int_equal(read_counter(own), upd_iters);
    }
    assert_int_equal(atomic_load(&upd_callbacks), 2L * UPD_THREADS * upd_iters);
    assert_int_equal(atomic_load(&upd_bad), 0);
    assert_int_equal(atomic_load(&upd_backwards), 0);
    rcache_stats_t st;
    rcache_stats(cache, &st);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.items, UPD_THREADS + 1);
    check_invariants(cache);
    rcache_close(cache);
}

/* Lookup counters are per-thread slots (stats.c): with more threads than
 * slots (so some share one), every hit, miss and compute_saved_ms is
 * counted exactly once the threads are joined, and a reset zeroes them. */
#define CTR_THREADS 40
#define CTR_OPS 2000
static void *ctr_worker(void *arg) {
    rcache_t *c = arg;
    char out[8];
    size_t len;
    for (int i = 0; i < CTR_OPS; i++) {
        assert_int_equal(rcache_get(c, "hot", 3, out, sizeof out, &len), RCACHE_OK);
        assert_int_equal(rcache_get(c, "absent", 6, out, sizeof out, &len),
                         RCACHE_ENOTFOUND);
    }
    return NULL;
}

static void test_counters_threads(void **state) {
    (void)state;
    rcache_t *c = open_cache(0, 0, 0, 4, NULL);
    rcache_set_opts_t o = {RCACHE_TTL_DEFAULT, 0, 7, NULL, 0};
    assert_int_equal(rcache_set_ex(c, "hot", 3, "v", 1, &o, NULL), RCACHE_OK);
    pthread_t th[CTR_THREADS];
    for (int i = 0; i < CTR_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, ctr_worker, c), 0);
    for (int i = 0; i < CTR_THREADS; i++)
        pthread_join(th[i], NULL);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.hits, (uint64_t)CTR_THREADS * CTR_OPS);
    assert_int_equal(st.misses, (uint64_t)CTR_THREADS * CTR_OPS);
    assert_int_equal(st.compute_saved_ms, 7ull * CTR_THREADS * CTR_OPS);
    rcache_stats_reset(c);
    rcache_stats(c, &st);
    assert_int_equal(st.hits, 0);
    assert_int_equal(st.misses, 0);
    assert_int_equal(st.compute_saved_ms, 0);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_32_threads),
        cmocka_unit_test(test_mixed_32_threads_policies),
        cmocka_unit_test(test_concurrent_fill_peak),
        cmocka_unit_test(test_update_no_lost_increments),
        cmocka_unit_test(test_counters_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
