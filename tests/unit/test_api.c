/*
 * test_api.c - API hygiene (issue 10 item 20): one rule for NULL arguments
 * in every public call, one error code for an over-long key, the version
 * written once, memoize state made on first use, and the old name of
 * rcache_ref_memo_error() still compiling.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>

#ifndef RCACHE_TEST_PROJECT_VERSION
#error "CMake passes the project version (tests/unit/CMakeLists.txt)"
#endif

static void test_version(void **state) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", RCACHE_VERSION_MAJOR,
             RCACHE_VERSION_MINOR, RCACHE_VERSION_PATCH);
    assert_string_equal(rcache_version(), want);
    assert_string_equal(RCACHE_VERSION_STRING, want);
    /* the build (and so rcache.pc and rcached) reads the same numbers */
    assert_string_equal(RCACHE_TEST_PROJECT_VERSION, want);
}

static int noop_update(rcache_update_t *u, void *ctx) { return RCACHE_UPDATE_KEEP; }

/* rcache_get_many_ref() of one key: its per-key code (the call's own is
 * RCACHE_OK for any key it looked up). */
static int get_many_one(rcache_t *c, const void *k, size_t kl) {
    const void *keys[1] = {k};
    size_t lens[1] = {kl};
    rcache_ref_t *refs[1];
    int rcs[1];
    int rc = rcache_get_many_ref(c, 1, keys, lens, refs, rcs);
    if (rc != RCACHE_OK)
        return rc;
    rcache_release(refs[0]);
    return rcs[0];
}
static const void *const many_k[1] = {"k"};
static const size_t many_l[1] = {1};
static rcache_ref_t *many_r[1];
static int one_compute(const void *k, size_t kl, rcache_memo_result_t *out, void *ctx) {
    out->val = "v";
    out->val_len = 1;
    return RCACHE_OK;
}

/* Every call that takes a key answers an over-long one with
 * RCACHE_ETOOBIG (before: lookups said ENOTFOUND, memoize EINVAL, rename
 * depended on which side). */
static void test_long_key_one_error(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 2, NULL);
    size_t kl = RCACHE_MAX_KEY_LEN + 1;
    char *k = calloc(1, kl);
    assert_non_null(k);
    char buf[8];
    size_t len;
    void *p;
    rcache_ref_t *ref;
    int64_t ttl;
    rcache_entry_info_t info;
    int how;
    const struct { const char *call; int rc; } t[] = {
        {"set", rcache_set(c, k, kl, "v", 1, 0, 0)},
        {"set_ex", rcache_set_ex(c, k, kl, "v", 1, NULL, NULL)},
        {"set_object", rcache_set_object(c, k, kl, buf, 1, NULL, NULL, NULL)},
        {"get", rcache_get(c, k, kl, buf, sizeof buf, &len)},
        {"get_alloc", rcache_get_alloc(c, k, kl, &p, &len)},
        {"get_ref", rcache_get_ref(c, k, kl, &ref)},
        {"get_many_ref", get_many_one(c, k, kl)},
        {"delete", rcache_delete(c, k, kl)},
        {"take", rcache_take(c, k, kl, &ref)},
        {"expire", rcache_expire(c, k, kl, 10)},
        {"expire_at", rcache_expire_at(c, k, kl, 10)},
        {"persist", rcache_persist(c, k, kl)},
        {"ttl", rcache_ttl(c, k, kl, &ttl)},
        {"rename src", rcache_rename(c, k, kl, "d", 1, 0)},
        {"rename dst", rcache_rename(c, "s", 1, k, kl, 0)},
        {"update", rcache_update(c, k, kl, noop_update, NULL)},
        {"entry_info", rcache_entry_info(c, k, kl, &info)},
        {"memoize", rcache_memoize(c, k, kl, one_compute, NULL, NULL, &ref, &how)},
        {"memoize_copy", rcache_memoize_copy(c, k, kl, one_compute, NULL, NULL, &p, &len)},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].rc != RCACHE_ETOOBIG)
            fail_msg("%s: %d (%s), wanted RCACHE_ETOOBIG", t[i].call, t[i].rc,
                     rcache_strerror(t[i].rc));
    assert_int_equal(rcache_exists(c, k, kl), 0);
    assert_int_equal(rcache_count(c), 0);
    /* at the limit itself a key is fine */
    assert_int_equal(rcache_set(c, k, kl - 1, "v", 1, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_exists(c, k, kl - 1), 1);
    free(k);
    rcache_close(c);
}

/* The NULL rule of include/rcache.h, call by call: an int-returning call
 * gets RCACHE_EINVAL for a NULL cache or a NULL pointer it needs; void and
 * value-returning calls treat them as "nothing" (no crash); releases and
 * frees accept NULL. */
static void test_null_handling(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 2, NULL);
    char buf[8];
    size_t len;
    void *p;
    rcache_ref_t *ref;
    int64_t ttl;
    uint64_t n, cur;
    rcache_entry_info_t info;
    rcache_scan_page_t page;
    rcache_key_t kb;
    int how;
    rcache_set(c, "k", 1, "v", 1, 0, 0);
    const struct { const char *call; int rc; } t[] = {
        {"open out", rcache_open(NULL, NULL)},
        {"config_from_env cfg", rcache_config_from_env(NULL, NULL, 0)},
        {"parse_size text", rcache_parse_size(NULL, &n)},
        {"parse_size out", rcache_parse_size("1", NULL)},
        {"set c", rcache_set(NULL, "k", 1, "v", 1, 0, 0)},
        {"set key", rcache_set(c, NULL, 1, "v", 1, 0, 0)},
        {"set val", rcache_set(c, "k", 1, NULL, 1, 0, 0)},
        {"set_ex c", rcache_set_ex(NULL, "k", 1, "v", 1, NULL, &ref)},
        {"set_object c", rcache_set_object(NULL, "k", 1, buf, 1, NULL, NULL, NULL)},
        {"set_object key", rcache_set_object(c, NULL, 1, buf, 1, NULL, NULL, NULL)},
        {"get c", rcache_get(NULL, "k", 1, buf, sizeof buf, &len)},
        {"get key", rcache_get(c, NULL, 1, buf, sizeof buf, &len)},
        {"get buf", rcache_get(c, "k", 1, NULL, 8, &len)},
        {"get_alloc c", rcache_get_alloc(NULL, "k", 1, &p, &len)},
        {"get_alloc out", rcache_get_alloc(c, "k", 1, NULL, &len)},
        {"get_ref c", rcache_get_ref(NULL, "k", 1, &ref)},
        {"get_ref out", rcache_get_ref(c, "k", 1, NULL)},
        {"get_many_ref c", rcache_get_many_ref(NULL, 1, many_k, many_l, many_r, NULL)},
        {"get_many_ref keys", rcache_get_many_ref(c, 1, NULL, many_l, many_r, NULL)},
        {"get_many_ref lens", rcache_get_many_ref(c, 1, many_k, NULL, many_r, NULL)},
        {"get_many_ref refs", rcache_get_many_ref(c, 1, many_k, many_l, NULL, NULL)},
        {"get_many_ref key", get_many_one(c, NULL, 1)},
        {"delete c", rcache_delete(NULL, "k", 1)},
        {"delete key", rcache_delete(c, NULL, 1)},
        {"take c", rcache_take(NULL, "k", 1, &ref)},
        {"take out", rcache_take(c, "k", 1, NULL)},
        {"expire c", rcache_expire(NULL, "k", 1, 1)},
        {"expire_at key", rcache_expire_at(c, NULL, 1, 1)},
        {"persist c", rcache_persist(NULL, "k", 1)},
        {"ttl c", rcache_ttl(NULL, "k", 1, &ttl)},
        {"ttl out", rcache_ttl(c, "k", 1, NULL)},
        {"clear c", rcache_clear(NULL, &n)},
        {"rename c", rcache_rename(NULL, "k", 1, "d", 1, 0)},
        {"rename dst", rcache_rename(c, "k", 1, NULL, 1, 0)},
        {"update c", rcache_update(NULL, "k", 1, noop_update, NULL)},
        {"update fn", rcache_update(c, "k", 1, NULL, NULL)},
        {"entry_info c", rcache_entry_info(NULL, "k", 1, &info)},
        {"entry_info out", rcache_entry_info(c, "k", 1, NULL)},
        {"scan c", rcache_scan(NULL, 0, 10, NULL, 0, 0, &page, &cur)},
        {"scan page", rcache_scan(c, 0, 10, NULL, 0, 0, NULL, &cur)},
        {"scan cursor", rcache_scan(c, 0, 10, NULL, 0, 0, &page, NULL)},
        {"scan pattern", rcache_scan(c, 0, 10, NULL, 3, 0, &page, &cur)},
        {"invalidate c", rcache_invalidate(NULL, "*", 1, &n)},
        {"invalidate pattern", rcache_invalidate(c, NULL, 1, &n)},
        {"glob_match pattern", rcache_glob_match(NULL, 1, "a", 1)},
        {"glob_match str", rcache_glob_match("a", 1, NULL, 1)},
        {"glob_validate", rcache_glob_validate(NULL, 1)},
        {"set_limits c", rcache_set_limits(NULL, 0, 0)},
        {"set_default_ttl c", rcache_set_default_ttl(NULL, 0)},
        {"set_disabled c", rcache_set_disabled(NULL, 0)},
        {"key_init k", rcache_key_init(NULL, "ns")},
        {"key_init ns", rcache_key_init(&kb, NULL)},
        {"key_add_str k", rcache_key_add_str(NULL, "s")},
        {"key_add_bytes k", rcache_key_add_bytes(NULL, "s", 1)},
        {"key_add_i64 k", rcache_key_add_i64(NULL, 1)},
        {"key_add_null k", rcache_key_add_null(NULL)},
        {"key_finish k", rcache_key_finish(NULL, (const void **)&p, &len)},
        {"key_invalidate_ns c", rcache_key_invalidate_ns(NULL, "ns", &n)},
        {"memoize c", rcache_memoize(NULL, "k", 1, one_compute, NULL, NULL, &ref, &how)},
        {"memoize out", rcache_memoize(c, "k", 1, one_compute, NULL, NULL, NULL, &how)},
        {"memoize_copy out", rcache_memoize_copy(c, "k", 1, one_compute, NULL, NULL, NULL, &len)},
        {"memoize_key k", rcache_memoize_key(c, NULL, one_compute, NULL, NULL, &ref, &how)},
        {"memoize_async done", rcache_memoize_async(c, "k", 1, one_compute, NULL, NULL, NULL, NULL, &ref)},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].rc != RCACHE_EINVAL)
            fail_msg("%s: %d (%s), wanted RCACHE_EINVAL", t[i].call, t[i].rc,
                     rcache_strerror(t[i].rc));

    /* value-returning and void calls: "nothing", never a crash */
    assert_int_equal(rcache_exists(NULL, "k", 1), 0);
    assert_int_equal(rcache_exists(c, NULL, 1), 0);
    assert_int_equal(rcache_count(NULL), 0);
    assert_int_equal(rcache_now_ms(NULL), 0);
    assert_int_equal(rcache_wall_offset_ms(NULL), 0);
    assert_int_equal(rcache_glob_match_lenient(NULL, 1, "a", 1), 0);
    assert_int_equal(rcache_glob_match_lenient("a", 1, NULL, 1), 0);
    assert_int_equal(rcache_expire_cycle(NULL, 10), 0);
    assert_null(rcache_ref_value(NULL, &len));
    assert_int_equal(len, 0);
    assert_null(rcache_ref_object(NULL));
    assert_null(rcache_ref_key(NULL, &len));
    assert_int_equal(rcache_ref_memo_error(NULL), 0);
    rcache_stats_t st;
    memset(&st, 0xff, sizeof st);
    rcache_stats(NULL, &st);
    assert_int_equal(st.items, 0);
    rcache_stats(c, NULL);
    rcache_stats_reset(NULL);
    rcache_config_t cfg;
    rcache_get_config(NULL, &cfg);
    assert_int_equal(cfg.max_items, 0);
    rcache_get_config(c, NULL);
    rcache_config_init(NULL);
    rcache_memo_opts_init(NULL);
    rcache_memo_stats(c, NULL);
    rcache_release(NULL);
    rcache_scan_page_free(NULL);
    rcache_key_free(NULL);
    rcache_close(NULL);
    assert_int_equal(rcache_count(c), 1); /* nothing above changed it */
    check_invariants(c);
    rcache_close(c);
}

/* ---- memoize state: made by the first memoize call, not by open ------ */

typedef struct first_use {
    rcache_t *c;
    pthread_barrier_t *start;
    int rc;
} first_use_t;

static void *first_use_thread(void *arg) {
    first_use_t *f = arg;
    rcache_ref_t *ref = NULL;
    char key[16];
    snprintf(key, sizeof key, "k%p", arg);
    pthread_barrier_wait(f->start);
    f->rc = rcache_memoize(f->c, key, strlen(key), one_compute, NULL, NULL, &ref, NULL);
    rcache_release(ref);
    return NULL;
}

static void test_memo_state_on_first_use(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 2, NULL);
    assert_null(atomic_load(&c->ext)); /* rcache_open() made none */
    rcache_memo_stats_t ms;
    rcache_memo_stats(c, &ms); /* reading the stats does not make it */
    assert_int_equal(ms.errors, 0);
    assert_null(atomic_load(&c->ext));
    rcache_close(c); /* and a cache never memoized closes without it */

    /* racing first uses: every caller succeeds on one shared state (the
     * losers' states are freed: the leak checker of test-sanitize) */
    enum { T = 8 };
    c = open_cache(0, 0, 0, 2, NULL);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, T);
    pthread_t th[T];
    first_use_t f[T];
    for (int i = 0; i < T; i++) {
        f[i] = (first_use_t){c, &start, -1};
        assert_int_equal(pthread_create(&th[i], NULL, first_use_thread, &f[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(f[i].rc, RCACHE_OK);
    }
    pthread_barrier_destroy(&start);
    assert_non_null(atomic_load(&c->ext));
    rcache_memo_stats(c, &ms);
    assert_int_equal(ms.errors, 0);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.computations, T);
    rcache_close(c);
}

/* The old name still compiles (with a deprecation warning, silenced here)
 * and answers as the new one. */
static int fail_compute(const void *k, size_t kl, rcache_memo_result_t *out, void *ctx) {
    return RCACHE_EUSER - 7;
}

static void test_memo_ref_error_alias(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    rcache_memo_opts_t o;
    rcache_memo_opts_init(&o);
    o.error_ttl_ms = 10000;
    rcache_ref_t *ref = NULL;
    assert_int_equal(rcache_memoize(c, "e", 1, fail_compute, NULL, &o, &ref, NULL),
                     RCACHE_EUSER - 7);
    assert_int_equal(rcache_get_ref(c, "e", 1, &ref), RCACHE_OK);
    assert_int_equal(rcache_ref_memo_error(ref), RCACHE_EUSER - 7);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    assert_int_equal(rcache_memo_ref_error(ref), RCACHE_EUSER - 7);
#pragma GCC diagnostic pop
    rcache_release(ref);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_long_key_one_error),
        cmocka_unit_test(test_null_handling),
        cmocka_unit_test(test_memo_state_on_first_use),
        cmocka_unit_test(test_memo_ref_error_alias),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
