/*
 * test_charge.c - object charges at the edges of uint64 arithmetic: a
 * charge near UINT64_MAX must be refused, never wrap the footprint sum into
 * a small number that passes the byte limit (issue 10 item 12).
 */
#include "testutil.h"

static void obj_free(void *obj, void *ctx) {
    (void)obj;
    (*(int *)ctx)++;
}

static void test_absurd_charge_refused(void **state) {
    static const uint64_t limits[] = {1u << 20, 0};
    static const size_t charges[] = {SIZE_MAX, SIZE_MAX - 100, SIZE_MAX - 200,
                                     (size_t)1 << 63, ((size_t)1 << 62) + 1};
    for (size_t l = 0; l < 2; l++) {
        test_clock_t clk = {0};
        rcache_t *c = open_cache(0, limits[l], 0, 1, &clk);
        int freed = 0, obj = 0;
        rcache_stats_t st;
        assert_int_equal(rcache_set(c, "keep", 4, "v", 1, 0, 0), RCACHE_OK);
        for (size_t i = 0; i < sizeof(charges) / sizeof(charges[0]); i++) {
            int rc = rcache_set_object(c, "o", 1, &obj, charges[i], obj_free,
                                       &freed, NULL);
            if (rc != RCACHE_ETOOBIG)
                fail_msg("max_bytes %llu charge %zu: rc %d",
                         (unsigned long long)limits[l], charges[i], rc);
        }
        /* refused: the caller still owns the object, nothing was evicted */
        assert_int_equal(freed, 0);
        assert_int_equal(rcache_exists(c, "o", 1), 0);
        assert_int_equal(rcache_exists(c, "keep", 4), 1);
        rcache_stats(c, &st);
        assert_int_equal(st.items, 1);
        assert_true(st.bytes < 1024);
        /* the largest accepted charge still counts exactly */
        assert_int_equal(rcache_set_object(c, "o", 1, &obj, RCACHE_MAX_CHARGE_BYTES,
                                           obj_free, &freed, NULL),
                         limits[l] ? RCACHE_ETOOBIG : RCACHE_OK);
        check_invariants(c);
        rcache_close(c);
    }
}

/* With max_bytes 0 nothing bounds the sum of declared charges but the
 * gauge's own range: 70,000 objects charged 2^48 each would wrap 2^64. The
 * stores past INT64_MAX bytes are refused; the gauge stays exact. */
static void test_charge_sum_never_wraps(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 4, &clk);
    int freed = 0, obj = 0, refused = 0;
    char k[16];
    rcache_stats_t st;
    for (int i = 0; i < 70000; i++) {
        snprintf(k, sizeof k, "o%d", i);
        int rc = rcache_set_object(c, k, strlen(k), &obj, (size_t)1 << 48,
                                   obj_free, &freed, NULL);
        assert_true(rc == RCACHE_OK || rc == RCACHE_ETOOBIG);
        refused += rc == RCACHE_ETOOBIG;
    }
    rcache_stats(c, &st);
    assert_true(refused > 0);
    assert_true(st.bytes <= (uint64_t)INT64_MAX);
    assert_true(st.bytes >= (uint64_t)st.items << 48);
    check_invariants(c);
    rcache_close(c);
    assert_int_equal(freed, 70000 - refused);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absurd_charge_refused),
        cmocka_unit_test(test_charge_sum_never_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
