/*
 * testutil.h - helpers shared by the unit tests: a clock the test moves by
 * hand (no sleeping for TTL), and an invariant check that recounts every
 * shard and compares with the cache's own counters.
 */
#ifndef RCACHE_TESTUTIL_H
#define RCACHE_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "../common/recount.h"
#include "rcache.h"

typedef struct test_clock {
    uint64_t now_ms;
} test_clock_t;

static inline uint64_t test_clock_fn(void *ctx) {
    return ((test_clock_t *)ctx)->now_ms;
}

/* Open a cache with a manual clock starting at a realistic epoch time. */
static inline rcache_t *open_cache(uint64_t max_items, uint64_t max_bytes,
                                   uint64_t ttl_ms, uint32_t shards,
                                   test_clock_t *clk) {
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = max_items;
    cfg.max_bytes = max_bytes;
    cfg.default_ttl_ms = ttl_ms;
    cfg.shards = shards;
    if (clk) {
        if (clk->now_ms == 0)
            clk->now_ms = 1700000000000ull;
        cfg.clock = test_clock_fn;
        cfg.clock_ctx = clk;
    }
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    return c;
}

/* Recount every shard; the counters and both limits must agree. */
static inline void check_invariants(rcache_t *c) {
    const char *why = rcache_test_recount(c);
    if (why)
        fail_msg("invariant broken: %s", why);
}

static inline int set_str(rcache_t *c, const char *k, const char *v) {
    return rcache_set(c, k, strlen(k), v, strlen(v), RCACHE_TTL_DEFAULT, 0);
}

/* Get as a NUL-terminated string into buf; returns the rcache code. */
static inline int get_str(rcache_t *c, const char *k, char *buf, size_t cap) {
    size_t len = 0;
    int rc = rcache_get(c, k, strlen(k), buf, cap - 1, &len);
    if (rc == RCACHE_OK)
        buf[len] = '\0';
    return rc;
}

#endif
