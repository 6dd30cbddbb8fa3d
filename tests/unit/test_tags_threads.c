/*
 * test_tags_threads.c - the tag index under concurrency (also run under
 * ThreadSanitizer, label tsan): threads store tagged and untagged entries,
 * append (copy-on-write moves of the record), rename, delete, invalidate
 * tags and patterns and read tags while a small item limit evicts and an
 * injected clock expires entries. Afterwards the index must be exact
 * (tests/common/recount.h), and once every thread is joined an
 * invalidation of each tag must leave no entry carrying it.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>

#define THREADS 4
#define OPS 20000
#define KEYS 300

static const char *tag_names[] = {"a", "b", "c", "d", "e"};
#define NT 5

static _Atomic uint64_t now_ms = 1700000000000ull;
static uint64_t atomic_clock(void *ctx) {
    (void)ctx;
    return atomic_load(&now_ms);
}

static int append_fn(rcache_update_t *u, void *ctx) {
    (void)ctx;
    if (!u->found || u->old_len > 200)
        return RCACHE_UPDATE_KEEP;
    u->new_val = "+";
    u->new_len = 1;
    return RCACHE_UPDATE_SPLICE;
}

typedef struct arg {
    rcache_t *c;
    unsigned seed;
} arg_t;

static void *worker(void *p) {
    arg_t *a = p;
    for (int i = 0; i < OPS; i++) {
        char k[16], k2[16];
        int r = rand_r(&a->seed) % 100;
        snprintf(k, sizeof k, "k%d", rand_r(&a->seed) % KEYS);
        snprintf(k2, sizeof k2, "k%d", rand_r(&a->seed) % KEYS);
        if (r < 40) {
            rcache_tag_t tg[3];
            size_t n = (size_t)(rand_r(&a->seed) % 4);
            for (size_t j = 0; j < n; j++) {
                tg[j].data = tag_names[rand_r(&a->seed) % NT];
                tg[j].len = 1;
            }
            rcache_set_opts_t o = {.ttl_ms = rand_r(&a->seed) % 3 ? 0 : 50,
                                   .tags = tg, .ntags = n};
            assert_int_equal(rcache_set_ex(a->c, k, strlen(k), "value", 5, &o,
                                           NULL),
                             RCACHE_OK);
        } else if (r < 55) {
            rcache_ref_t *ref = NULL;
            if (rand_r(&a->seed) % 2)
                rcache_get_ref(a->c, k, strlen(k), &ref);
            assert_int_equal(rcache_update(a->c, k, strlen(k), append_fn, NULL),
                             RCACHE_OK);
            rcache_release(ref);
        } else if (r < 62) {
            rcache_rename(a->c, k, strlen(k), k2, strlen(k2), 0);
        } else if (r < 70) {
            rcache_delete(a->c, k, strlen(k));
        } else if (r < 80) {
            uint64_t removed;
            assert_int_equal(rcache_invalidate_tag(a->c,
                                                   tag_names[rand_r(&a->seed) % NT],
                                                   1, &removed),
                             RCACHE_OK);
        } else if (r < 82) {
            rcache_invalidate(a->c, "k1*", 3, NULL);
        } else if (r < 92) {
            rcache_tag_list_t *l = NULL;
            if (rcache_get_tags(a->c, k, strlen(k), &l) == RCACHE_OK)
                assert_true(l->count <= 3);
            rcache_tag_list_free(l);
        } else if (r < 96) {
            atomic_fetch_add(&now_ms, 10);
        } else {
            rcache_expire_cycle(a->c, 100);
        }
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = 200;
    cfg.shards = 8;
    cfg.clock = atomic_clock;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    pthread_t th[THREADS];
    arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (arg_t){c, (unsigned)i * 7919u + 1u};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    check_invariants(c);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_true(st.tag_invalidations > 0);
    for (int t = 0; t < NT; t++)
        assert_int_equal(rcache_invalidate_tag(c, tag_names[t], 1, NULL),
                         RCACHE_OK);
    rcache_stats(c, &st);
    assert_int_equal(st.tagged_entries, 0);
    assert_int_equal(st.tags, 0);
    assert_int_equal(st.tag_bytes, 0);
    check_invariants(c);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
