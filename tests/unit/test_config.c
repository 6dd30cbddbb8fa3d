/*
 * test_config.c - defaults, size parsing and environment variables,
 * including invalid values (refused with a message naming them, config
 * untouched).
 */
#include "testutil.h"

#include <stdlib.h>

static const char *vars[] = {"CACHE_MAX_SIZE", "CACHE_MAX_MEMORY_MB",
                             "CACHE_TTL_SECONDS", "RCACHE_MAX_ITEMS",
                             "RCACHE_MAX_BYTES", "RCACHE_DEFAULT_TTL_MS",
                             "RCACHE_SHARDS", "DISABLE_RESULT_CACHE"};

static int clear_env(void **state) {
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static void test_defaults(void **state) {
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    assert_int_equal(cfg.max_items, 1000);
    assert_int_equal(cfg.max_bytes, 512ull << 20);
    assert_int_equal(cfg.default_ttl_ms, 24ull * 3600 * 1000);
    assert_int_equal(cfg.disabled, 0);
}

static void test_parse_size(void **state) {
    uint64_t v;
    assert_int_equal(rcache_parse_size("1048576", &v), RCACHE_OK);
    assert_int_equal(v, 1048576);
    assert_int_equal(rcache_parse_size("512mb", &v), RCACHE_OK);
    assert_int_equal(v, 512ull << 20);
    assert_int_equal(rcache_parse_size("1g", &v), RCACHE_OK);
    assert_int_equal(v, 1ull << 30);
    assert_int_equal(rcache_parse_size("64KB", &v), RCACHE_OK);
    assert_int_equal(v, 64ull << 10);
    assert_int_equal(rcache_parse_size("2GiB", &v), RCACHE_OK);
    assert_int_equal(v, 2ull << 30);
    const char *bad[] = {"", "mb", "-1", "1.5g", "12 mb", "1x", "99999999999999999999",
                         "17179869184g"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rcache_parse_size(bad[i], &v), RCACHE_EINVAL);
    assert_int_equal(rcache_parse_size(NULL, &v), RCACHE_EINVAL);
}

static void test_env_names(void **state) {
    rcache_config_t cfg;
    char err[128];
    rcache_config_init(&cfg);
    setenv("CACHE_MAX_SIZE", "2000", 1);
    setenv("CACHE_MAX_MEMORY_MB", "64", 1);
    setenv("CACHE_TTL_SECONDS", "3600", 1);
    setenv("DISABLE_RESULT_CACHE", "1", 1);
    assert_int_equal(rcache_config_from_env(&cfg, err, sizeof err), RCACHE_OK);
    assert_int_equal(cfg.max_items, 2000);
    assert_int_equal(cfg.max_bytes, 64ull << 20);
    assert_int_equal(cfg.default_ttl_ms, 3600000);
    assert_int_equal(cfg.disabled, 1);
    /* rcache's own names win */
    setenv("RCACHE_MAX_ITEMS", "5", 1);
    setenv("RCACHE_MAX_BYTES", "1g", 1);
    setenv("RCACHE_DEFAULT_TTL_MS", "250", 1);
    setenv("DISABLE_RESULT_CACHE", "false", 1);
    assert_int_equal(rcache_config_from_env(&cfg, err, sizeof err), RCACHE_OK);
    assert_int_equal(cfg.max_items, 5);
    assert_int_equal(cfg.max_bytes, 1ull << 30);
    assert_int_equal(cfg.default_ttl_ms, 250);
    assert_int_equal(cfg.disabled, 0);
}

static void expect_refused(const char *name, const char *value) {
    rcache_config_t cfg, before;
    char err[128] = "";
    rcache_config_init(&cfg);
    before = cfg;
    setenv(name, value, 1);
    assert_int_equal(rcache_config_from_env(&cfg, err, sizeof err), RCACHE_EINVAL);
    assert_memory_equal(&cfg, &before, sizeof cfg);
    assert_non_null(strstr(err, name));
    assert_non_null(strstr(err, value));
    unsetenv(name);
}

static void test_env_invalid(void **state) {
    expect_refused("CACHE_MAX_SIZE", "lots");
    expect_refused("CACHE_MAX_SIZE", "-1");
    expect_refused("CACHE_MAX_MEMORY_MB", "1.5");
    expect_refused("CACHE_MAX_MEMORY_MB", "99999999999999999");
    expect_refused("CACHE_TTL_SECONDS", "1h");
    expect_refused("RCACHE_MAX_BYTES", "512 megabytes");
    expect_refused("RCACHE_SHARDS", "4096");
    expect_refused("DISABLE_RESULT_CACHE", "maybe");
    /* fuzz_env crash: a TTL above INT64_MAX ms was accepted and then
     * wrapped now + ttl into the past (every entry expired at once). */
    expect_refused("RCACHE_DEFAULT_TTL_MS", "18446744073709551615");
    expect_refused("RCACHE_DEFAULT_TTL_MS", "9223372036854775808");
    expect_refused("CACHE_TTL_SECONDS", "9223372036854776");
}

static void test_open_env(void **state) {
    rcache_t *c = NULL;
    char err[128];
    setenv("RCACHE_MAX_ITEMS", "3", 1);
    assert_int_equal(rcache_open_env(&c, err, sizeof err), RCACHE_OK);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.max_items, 3);
    rcache_close(c);
    setenv("RCACHE_MAX_ITEMS", "three", 1);
    c = NULL;
    assert_int_equal(rcache_open_env(&c, err, sizeof err), RCACHE_EINVAL);
    assert_null(c);
    assert_string_equal(err, "RCACHE_MAX_ITEMS=three: expected a non-negative integer");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test_setup(test_env_names, clear_env),
        cmocka_unit_test_setup(test_env_invalid, clear_env),
        cmocka_unit_test_setup(test_open_env, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
