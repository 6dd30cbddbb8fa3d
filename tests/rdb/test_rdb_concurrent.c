/*
 * test_rdb_concurrent.c - saving while other threads store, read, change
 * TTLs and delete (also run under ThreadSanitizer: label tsan).  Every
 * snapshot taken meanwhile must load, hold no duplicate key (redis-server
 * refuses those) and hold only keys the writers use.
 */
#include "rdbtest.h"

#include <pthread.h>
#include <stdatomic.h>

#define NKEYS 2000

static _Atomic int stop;

static void *writer(void *arg) {
    rcache_t *c = arg;
    unsigned seed = 7;
    char k[32], v[200];
    memset(v, 'v', sizeof v);
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)(seed >> 8) % NKEYS;
        size_t kl = (size_t)snprintf(k, sizeof k, "key:%d", i);
        switch ((seed >> 4) % 5) {
        case 0: rcache_delete(c, k, kl); break;
        case 1: rcache_expire(c, k, kl, 100000); break;
        case 2: {
            char buf[256];
            size_t len;
            rcache_get(c, k, kl, buf, sizeof buf, &len);
            break;
        }
        default: rcache_set(c, k, kl, v, (seed >> 16) % sizeof v, 0, 0);
        }
    }
    return NULL;
}

static void test_save_during_writes(void **state) {
    (void)state;
    rcache_t *c = rdb_open(1500, 0, 8, NULL);
    pthread_t t[2];
    for (int i = 0; i < NKEYS; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "key:%d", i);
        rcache_set(c, k, kl, "x", 1, 0, 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, c), 0);
    for (int round = 0; round < 20; round++) {
        mbuf_t m = {0};
        rcache_snapshot_result_t res;
        assert_int_equal(rcache_snapshot_save_stream(c, mbuf_write, &m, NULL, &res), RCACHE_OK);
        /* Loads, and no key twice: a fresh cache's count equals the
         * entries stored. */
        rcache_t *d = rdb_open(0, 0, 4, NULL);
        msrc_t s = {m.p, m.n, 0, 0};
        assert_int_equal(rcache_snapshot_load_stream(d, msrc_read, &s, NULL, &res), RCACHE_OK);
        assert_int_equal(rcache_count(d), res.entries);
        assert_true(res.entries <= 1500);
        rcache_close(d);
        free(m.p);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    rcache_close(c);
}

/* A save lists each shard in steps of a few hundred entries, dropping the
 * lock between steps (snapshot_save.c), while the table is pinned.  Here
 * a churn thread grows and shrinks the one shard's table meanwhile (30k
 * keys stored, then deleted, again and again): every key present during
 * the whole save must be in the file exactly once.  (Without the pin, a
 * resize between two steps lists entries twice or misses them.) */
#define NSTABLE 3000
static _Atomic int churn_stop;

static void *churner(void *arg) {
    rcache_t *c = arg;
    char k[32];
    for (int round = 0; !atomic_load(&churn_stop); round++) {
        for (int i = 0; i < 30000 && !atomic_load(&churn_stop); i++) {
            size_t kl = (size_t)snprintf(k, sizeof k, "churn:%d", i);
            if (round % 2 == 0)
                rcache_set(c, k, kl, "c", 1, 0, 0);
            else
                rcache_delete(c, k, kl);
        }
    }
    return NULL;
}

static void test_save_during_resizes(void **state) {
    (void)state;
    rcache_t *c = rdb_open(0, 0, 1, NULL); /* one shard: many steps a walk */
    pthread_t t;
    char k[32];
    for (int i = 0; i < NSTABLE; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "stable:%d", i);
        rcache_set(c, k, kl, "s", 1, 0, 0);
    }
    assert_int_equal(pthread_create(&t, NULL, churner, c), 0);
    for (int round = 0; round < 20; round++) {
        mbuf_t m = {0};
        rcache_snapshot_result_t res;
        assert_int_equal(rcache_snapshot_save_stream(c, mbuf_write, &m, NULL, &res), RCACHE_OK);
        rcache_t *d = rdb_open(0, 0, 4, NULL);
        msrc_t s = {m.p, m.n, 0, 0};
        assert_int_equal(rcache_snapshot_load_stream(d, msrc_read, &s, NULL, &res), RCACHE_OK);
        assert_int_equal(rcache_count(d), res.entries); /* no key twice */
        for (int i = 0; i < NSTABLE; i++) {
            size_t kl = (size_t)snprintf(k, sizeof k, "stable:%d", i);
            if (!rcache_exists(d, k, kl))
                fail_msg("round %d: %s missing from the snapshot", round, k);
        }
        rcache_close(d);
        free(m.p);
    }
    atomic_store(&churn_stop, 1);
    pthread_join(t, NULL);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_during_writes),
        cmocka_unit_test(test_save_during_resizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
