/*
 * test_tier_race.c - the fetch/invalidate race under a scripted
 * interleaving (deterministic: the tier's before_install hook holds the
 * L2 reply until the test has made the race happen):
 *  - another node's write lands, and its invalidation reaches the bus,
 *    between B's GET reply and B's install: the stale value must not be
 *    installed (and a later read gets the new value);
 *  - B itself writes the key (NOLOOP: no invalidation comes back) between
 *    the reply of its own earlier read and that read's install: the older
 *    read must not overwrite the newer write in L1.
 */
#include "tiertest.h"

TT_REDIS_GROUP_FIXTURE

typedef struct race {
    int armed;
    tt_node_t *node;
    int mode; /* 0: remote write + wait for the bus; 1: local write */
} race_t;

static int saw_inval(void *arg) {
    rcache_tier_stats_t s;
    rcache_tier_stats(((tt_node_t *)arg)->t, &s);
    return s.invalidations >= 1;
}

static void hook(const void *key, size_t len, void *ctx) {
    race_t *r = ctx;
    if (!r->armed || len != 4 || memcmp(key, "race", 4) != 0)
        return;
    r->armed = 0;
    if (r->mode == 0) {
        rcache_tier_stats_t s;
        redisReply *p;
        rcache_tier_stats(r->node->t, &s);
        p = tt_cmd(&R, "SET rc:race new");
        assert_non_null(p);
        freeReplyObject(p);
        /* this write's invalidation, not an earlier one */
        tt_wait_inval(r->node, s.invalidations + 1);
    } else {
        assert_int_equal(rcache_tier_set(r->node->t, "race", 4, "mine", 4, 60000),
                         RCACHE_OK);
    }
}

static void run(int mode, int use_ref, const char *want) {
    tt_node_t b;
    race_t r = {0, &b, mode};
    rcache_tier_opts_t o;
    rcache_tier_stats_t s;
    redisReply *p;
    rcache_tier_opts_init(&o);
    o.ping_deadline_ms = 120000; /* no flush for a slow ping on a loaded CI */
    o.before_install = hook;
    o.hook_ctx = &r;
    tt_node_open(&b, R.url, &o);
    assert_true(tt_wait(tt_node_connected, &b));
    p = tt_cmd(&R, "SET rc:race old");
    freeReplyObject(p);
    /* The bus reports that write too (B tracks the prefix): let it pass. */
    assert_true(tt_wait(saw_inval, &b));
    r.armed = 1;
    if (use_ref) { /* ...as a reference to an entry outside L1 */
        rcache_ref_t *ref = NULL;
        const void *v;
        size_t len = 0;
        assert_int_equal(rcache_tier_get_ref(b.t, "race", 4, &ref), RCACHE_OK);
        v = rcache_ref_value(ref, &len);
        assert_int_equal(len, 3);
        assert_memory_equal(v, "old", 3);
        rcache_release(ref);
    } else {
        void *v = NULL;
        size_t len = 0;
        /* The caller gets what L2 said at read time... */
        assert_int_equal(rcache_tier_get_alloc(b.t, "race", 4, &v, &len), RCACHE_OK);
        assert_int_equal(len, 3);
        assert_memory_equal(v, "old", 3);
        free(v);
    }
    assert_int_equal(r.armed, 0);
    /* ...but L1 never keeps the stale value. */
    assert_false(tt_l1_is(&b, "race", "old"));
    rcache_tier_stats(b.t, &s);
    assert_int_equal(s.installs_dropped, 1);
    assert_true(tt_get_is(&b, "race", want));
    tt_node_close(&b);
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
}

static void test_remote_write_during_fetch(void **state) {
    (void)state;
    run(0, 0, "new");
}

static void test_remote_write_during_fetch_ref(void **state) {
    (void)state;
    run(0, 1, "new");
}

static void test_local_write_during_fetch(void **state) {
    (void)state;
    run(1, 0, "mine");
}

int main(void) {
    TT_SKIP_WITHOUT_REDIS();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_write_during_fetch),
        cmocka_unit_test(test_remote_write_during_fetch_ref),
        cmocka_unit_test(test_local_write_during_fetch),
    };
    return cmocka_run_group_tests(tests, tt_group_setup, tt_group_teardown);
}
