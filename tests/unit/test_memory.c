/*
 * test_memory.c - the byte accounting tracks real memory: filling a
 * 256 MiB cache with 1 KiB values grows the process's resident set by at
 * most 1.15 x 256 MiB, and the cache stays within its limit while doing so.
 * RSS is meaningless under sanitizers, so such builds skip (exit 77).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rcache.h"

#include "rss.h"

int main(void) {
#ifdef SANITIZED
    puts("test_memory: skipped under sanitizers");
    return 77;
#else
    const uint64_t max = 256ull << 20;
    rcache_config_t cfg;
    rcache_t *c;
    rcache_config_init(&cfg);
    cfg.max_items = 0;
    cfg.max_bytes = max;
    cfg.default_ttl_ms = 0;
    if (rcache_open(&cfg, &c) != RCACHE_OK)
        return 1;
    char val[1024], key[32];
    memset(val, 'v', sizeof val);
    long before = rss_bytes();
    /* 1.5x what fits, so eviction and reuse of freed blocks happen too */
    uint64_t n = (max / 1024) * 3 / 2;
    for (uint64_t i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof key, "result:%012llu", (unsigned long long)i);
        if (rcache_set(c, key, (size_t)kl, val, sizeof val, 0, 0) != RCACHE_OK)
            return 1;
    }
    long after = rss_bytes();
    rcache_stats_t st;
    rcache_stats(c, &st);
    double grown = (double)(after - before);
    printf("items %llu bytes %llu (limit %llu) rss growth %.1f MiB = %.3f x limit\n",
           (unsigned long long)st.items, (unsigned long long)st.bytes,
           (unsigned long long)max, grown / 1048576.0, grown / (double)max);
    rcache_close(c);
    if (st.bytes > max) {
        puts("FAIL: bytes over the limit");
        return 1;
    }
    if (grown > 1.15 * (double)max) {
        puts("FAIL: RSS grew by more than 1.15 x max_bytes");
        return 1;
    }
    puts("1 passed, 0 failed");
    return 0;
#endif
}
