/*
 * test_basic.c - store, lookup, delete, references, object values, bad
 * input and the disabled mode.
 */
#include "testutil.h"

#include <stdlib.h>

static void test_set_get_overwrite(void **state) {
    rcache_t *c = open_cache(100, 0, 0, 4, NULL);
    char buf[64];
    assert_int_equal(set_str(c, "k", "v1"), RCACHE_OK);
    assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "v1");
    assert_int_equal(set_str(c, "k", "value-two"), RCACHE_OK);
    assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "value-two");
    assert_int_equal(rcache_count(c), 1);
    assert_int_equal(get_str(c, "nope", buf, sizeof buf), RCACHE_ENOTFOUND);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.sets, 2);
    assert_true(st.hit_ratio > 0.66 && st.hit_ratio < 0.67);
    check_invariants(c);
    rcache_close(c);
}

static void test_binary_keys_and_values(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    const char k1[] = {'a', 0, 'b'}, k2[] = {'a', 0, 'c'};
    const char v[] = {0, 1, 0, 2};
    char out[8];
    size_t len;
    assert_int_equal(rcache_set(c, k1, 3, v, 4, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_get(c, k2, 3, out, sizeof out, &len), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_get(c, k1, 3, out, sizeof out, &len), RCACHE_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(out, v, 4);
    /* empty value */
    assert_int_equal(rcache_set(c, "e", 1, NULL, 0, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_get(c, "e", 1, NULL, 0, &len), RCACHE_OK);
    assert_int_equal(len, 0);
    void *p = NULL;
    assert_int_equal(rcache_get_alloc(c, "e", 1, &p, &len), RCACHE_OK);
    assert_non_null(p);
    free(p);
    rcache_close(c);
}

static void test_erange_and_get_alloc(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    char small[3];
    size_t len = 0;
    void *p;
    set_str(c, "k", "hello");
    assert_int_equal(rcache_get(c, "k", 1, small, sizeof small, &len), RCACHE_ERANGE);
    assert_int_equal(len, 5);
    assert_int_equal(rcache_get_alloc(c, "k", 1, &p, &len), RCACHE_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "hello", 5);
    free(p);
    assert_int_equal(rcache_get_alloc(c, "x", 1, &p, &len), RCACHE_ENOTFOUND);
    assert_null(p);
    rcache_close(c);
}

static void test_nx_xx(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 2, NULL);
    char buf[16];
    assert_int_equal(rcache_set(c, "k", 1, "a", 1, 0, RCACHE_SET_XX), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_exists(c, "k", 1), 0);
    assert_int_equal(rcache_set(c, "k", 1, "a", 1, 0, RCACHE_SET_NX), RCACHE_OK);
    assert_int_equal(rcache_set(c, "k", 1, "b", 1, 0, RCACHE_SET_NX), RCACHE_EEXIST);
    assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "a");
    assert_int_equal(rcache_set(c, "k", 1, "c", 1, 0, RCACHE_SET_XX), RCACHE_OK);
    assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "c");
    assert_int_equal(rcache_set(c, "k", 1, "d", 1, 0, RCACHE_SET_NX | RCACHE_SET_XX),
                     RCACHE_EINVAL);
    assert_int_equal(rcache_set(c, "k", 1, "d", 1, 0, 0x80), RCACHE_EINVAL);
    rcache_close(c);
}

static void test_set_ex_old_value(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    rcache_ref_t *old = (rcache_ref_t *)0x1;
    size_t len;
    rcache_set_opts_t o = {0};
    assert_int_equal(rcache_set_ex(c, "k", 1, "v1", 2, &o, &old), RCACHE_OK);
    assert_null(old);
    assert_int_equal(rcache_set_ex(c, "k", 1, "v2", 2, &o, &old), RCACHE_OK);
    assert_non_null(old);
    assert_memory_equal(rcache_ref_value(old, &len), "v1", 2);
    rcache_release(old);
    o.flags = RCACHE_SET_NX;
    assert_int_equal(rcache_set_ex(c, "k", 1, "v3", 2, &o, &old), RCACHE_EEXIST);
    assert_non_null(old);
    assert_memory_equal(rcache_ref_value(old, &len), "v2", 2);
    rcache_release(old);
    rcache_close(c);
}

static void test_ref_survives_delete_and_eviction(void **state) {
    rcache_t *c = open_cache(1, 0, 0, 1, NULL);
    rcache_ref_t *r1, *r2;
    size_t len, klen;
    set_str(c, "a", "alpha");
    assert_int_equal(rcache_get_ref(c, "a", 1, &r1), RCACHE_OK);
    set_str(c, "b", "beta"); /* evicts a (max_items 1) */
    assert_int_equal(rcache_exists(c, "a", 1), 0);
    assert_memory_equal(rcache_ref_value(r1, &len), "alpha", 5);
    assert_memory_equal(rcache_ref_key(r1, &klen), "a", 1);
    assert_int_equal(rcache_get_ref(c, "b", 1, &r2), RCACHE_OK);
    assert_int_equal(rcache_delete(c, "b", 1), RCACHE_OK);
    assert_memory_equal(rcache_ref_value(r2, &len), "beta", 4);
    assert_null(rcache_ref_object(r2));
    rcache_release(r1);
    rcache_release(r2);
    rcache_release(NULL);
    assert_int_equal(rcache_get_ref(c, "zz", 2, &r1), RCACHE_ENOTFOUND);
    assert_null(r1);
    rcache_close(c);
}

typedef struct obj {
    int *destroyed;
    int value;
} obj_t;

static void obj_free(void *o, void *ctx) {
    obj_t *ob = o;
    (*ob->destroyed)++;
    assert_ptr_equal(ctx, (void *)0x42);
    free(ob);
}

static obj_t *obj_new(int *counter, int v) {
    obj_t *o = malloc(sizeof *o);
    o->destroyed = counter;
    o->value = v;
    return o;
}

static void test_object_values(void **state) {
    rcache_t *c = open_cache(0, 1u << 20, 0, 1, NULL);
    int destroyed = 0;
    rcache_ref_t *r;
    char buf[8];
    size_t len;

    assert_int_equal(rcache_set_object(c, "m", 1, obj_new(&destroyed, 7), 1000,
                                       obj_free, (void *)0x42, NULL), RCACHE_OK);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_true(st.bytes >= 1000);
    assert_int_equal(rcache_get_ref(c, "m", 1, &r), RCACHE_OK);
    assert_int_equal(((obj_t *)rcache_ref_object(r))->value, 7);
    assert_null(rcache_ref_value(r, &len));
    assert_int_equal(rcache_get(c, "m", 1, buf, sizeof buf, &len), RCACHE_EWRONGTYPE);
    /* replaced while referenced: destructor waits for the release */
    assert_int_equal(rcache_set_object(c, "m", 1, obj_new(&destroyed, 8), 1000,
                                       obj_free, (void *)0x42, NULL), RCACHE_OK);
    assert_int_equal(destroyed, 0);
    rcache_release(r);
    assert_int_equal(destroyed, 1);
    /* deleted: destroyed at once */
    assert_int_equal(rcache_delete(c, "m", 1), RCACHE_OK);
    assert_int_equal(destroyed, 2);
    /* too big: refused, ownership stays with the caller */
    obj_t *big = obj_new(&destroyed, 9);
    assert_int_equal(rcache_set_object(c, "b", 1, big, 2u << 20, obj_free,
                                       (void *)0x42, NULL), RCACHE_ETOOBIG);
    assert_int_equal(destroyed, 2);
    free(big);
    /* evicted by the byte limit */
    for (int i = 0; i < 3; i++) {
        char k[4] = {'o', (char)('0' + i), 0};
        assert_int_equal(rcache_set_object(c, k, 2, obj_new(&destroyed, i),
                                           400 * 1024, obj_free, (void *)0x42,
                                           NULL), RCACHE_OK);
    }
    assert_int_equal(destroyed, 3); /* 3 x 400 KiB > 1 MiB: one evicted */
    assert_int_equal(rcache_rename(c, "o1", 2, "o9", 2, 0), RCACHE_EWRONGTYPE);
    check_invariants(c);
    rcache_close(c); /* the remaining two */
    assert_int_equal(destroyed, 5);
}

static void test_bad_input(void **state) {
    rcache_t *c = open_cache(10, 1u << 20, 0, 2, NULL);
    char buf[8];
    size_t len;
    set_str(c, "keep", "me");
    assert_int_equal(rcache_set(c, NULL, 1, "v", 1, 0, 0), RCACHE_EINVAL);
    assert_int_equal(rcache_set(c, "k", 0, "v", 1, 0, 0), RCACHE_EINVAL);
    assert_int_equal(rcache_set(c, "k", 1, NULL, 1, 0, 0), RCACHE_EINVAL);
    assert_int_equal(rcache_set(NULL, "k", 1, "v", 1, 0, 0), RCACHE_EINVAL);
    assert_int_equal(rcache_set(c, "k", 1, "v", 1, -5, 0), RCACHE_EINVAL);
    assert_int_equal(rcache_get(c, NULL, 1, buf, sizeof buf, &len), RCACHE_EINVAL);
    assert_int_equal(rcache_get(c, "k", 0, buf, sizeof buf, &len), RCACHE_EINVAL);
    assert_int_equal(rcache_delete(c, NULL, 0), RCACHE_EINVAL);
    /* key too long */
    size_t big = RCACHE_MAX_KEY_LEN + 1;
    char *k = calloc(1, big);
    assert_int_equal(rcache_set(c, k, big, "v", 1, 0, 0), RCACHE_ETOOBIG);
    free(k);
    /* value larger than the byte limit: refused, nothing evicted */
    char *v = calloc(1, 2u << 20);
    assert_int_equal(rcache_set(c, "huge", 4, v, 2u << 20, 0, 0), RCACHE_ETOOBIG);
    free(v);
    assert_int_equal(get_str(c, "keep", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "me");
    assert_int_equal(rcache_count(c), 1);
    check_invariants(c);
    rcache_close(c);
    rcache_close(NULL);
    assert_int_equal(rcache_open(NULL, NULL), RCACHE_EINVAL);
}

static int disabled_store_cb(rcache_update_t *u, void *ctx) {
    *(int *)ctx = u->found;
    u->new_val = "1";
    u->new_len = 1;
    return RCACHE_UPDATE_STORE;
}

static int disabled_peek_cb(rcache_update_t *u, void *ctx) {
    *(int *)ctx = u->found;
    return RCACHE_UPDATE_KEEP;
}

static int dtor_runs;
static void count_dtor(void *obj, void *ctx) { dtor_runs++; }

/* Disabled mode (DISABLE_RESULT_CACHE): every read misses, no write is
 * cached, and a write drops the entry it would have replaced or removed, so
 * no value written over while disabled comes back when the cache is enabled
 * again (regression: SET k v1; disable; SET k v2; enable; GET k gave v1). */
static void test_disabled_mode(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 4, &clk);
    char buf[8];
    int found = -1;
    int64_t ttl;
    rcache_ref_t *ref = NULL;
    rcache_entry_info_t info;
    rcache_scan_page_t page;
    uint64_t next = 1;
    const char *keys[] = {"k", "kept", "del", "take", "upd", "src", "dst", "nx", "xx", "obj"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_int_equal(set_str(c, keys[i], "old"), RCACHE_OK);
    rcache_stats_reset(c);
    assert_int_equal(rcache_set_disabled(c, 1), RCACHE_OK);

    /* every read misses */
    assert_int_equal(get_str(c, "kept", buf, sizeof buf), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_get_ref(c, "kept", 4, &ref), RCACHE_ENOTFOUND);
    assert_null(ref);
    assert_int_equal(rcache_exists(c, "kept", 4), 0);
    assert_int_equal(rcache_ttl(c, "kept", 4, &ttl), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_entry_info(c, "kept", 4, &info), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_update(c, "kept", 4, disabled_peek_cb, &found), RCACHE_OK);
    assert_int_equal(found, 0);
    for (int expired = 0; expired <= 1; expired++) {
        assert_int_equal(rcache_scan(c, 0, 1000, NULL, 0, expired, &page, &next), RCACHE_OK);
        assert_int_equal(page.count, 0);
        assert_int_equal(next, 0);
        rcache_scan_page_free(&page);
    }
    /* a TTL change on a key that reads as absent does nothing */
    assert_int_equal(rcache_expire(c, "kept", 4, 10), RCACHE_ENOTFOUND);

    /* writes are not cached and drop what they name */
    assert_int_equal(set_str(c, "k", "v2"), RCACHE_OK);
    assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_delete(c, "del", 3), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_take(c, "take", 4, &ref), RCACHE_ENOTFOUND);
    assert_null(ref);
    found = -1;
    assert_int_equal(rcache_update(c, "upd", 3, disabled_store_cb, &found), RCACHE_OK);
    assert_int_equal(found, 0);
    assert_int_equal(rcache_rename(c, "src", 3, "dst", 3, 0), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_set(c, "nx", 2, "v", 1, 0, RCACHE_SET_NX), RCACHE_OK);
    assert_int_equal(rcache_set(c, "xx", 2, "v", 1, 0, RCACHE_SET_XX), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_set_object(c, "obj", 3, &found, 10, count_dtor, NULL, NULL),
                     RCACHE_OK);
    assert_int_equal(dtor_runs, 1); /* not cached: released at once */
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.disabled, 1);
    assert_int_equal(st.hits, 0);
    assert_int_equal(st.items, 1); /* only "kept" is still held */

    rcache_set_disabled(c, 0);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i], "kept") != 0 &&
            get_str(c, keys[i], buf, sizeof buf) != RCACHE_ENOTFOUND)
            fail_msg("'%s' written while disabled came back as '%s'", keys[i], buf);
    assert_int_equal(get_str(c, "kept", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "old");
    assert_int_equal(rcache_ttl(c, "kept", 4, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    check_invariants(c);
    rcache_close(c);
}

static void test_exists_counts_nothing(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    set_str(c, "k", "v");
    assert_int_equal(rcache_exists(c, "k", 1), 1);
    assert_int_equal(rcache_exists(c, "x", 1), 0);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.hits + st.misses, 0);
    rcache_close(c);
}

static void test_strerror(void **state) {
    for (int e = 0; e >= -11; e--)
        assert_string_not_equal(rcache_strerror(e), "unknown error");
    assert_string_equal(rcache_strerror(-500), "unknown error");
    assert_string_equal(rcache_strerror(RCACHE_EUSER - 3),
                        "error returned by a compute callback");
}

static void test_default_instance(void **state) {
    rcache_t *a = rcache_default(), *b = rcache_default();
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_int_equal(set_str(a, "shared", "1"), RCACHE_OK);
    assert_int_equal(rcache_exists(b, "shared", 6), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_overwrite),
        cmocka_unit_test(test_binary_keys_and_values),
        cmocka_unit_test(test_erange_and_get_alloc),
        cmocka_unit_test(test_nx_xx),
        cmocka_unit_test(test_set_ex_old_value),
        cmocka_unit_test(test_ref_survives_delete_and_eviction),
        cmocka_unit_test(test_object_values),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_disabled_mode),
        cmocka_unit_test(test_exists_counts_nothing),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_default_instance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
