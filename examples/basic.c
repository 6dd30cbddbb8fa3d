/*
 * basic.c - librcache's hello world (binary rcache-example): open a cache,
 * store and read a value, read it through a reference, memoize a small
 * computation, and print the statistics.  `make run` runs it while the
 * server does not exist yet.
 */
#include <stdio.h>
#include <string.h>

#include "rcache.h"

static int compute_greeting(const void *key, size_t key_len,
                            rcache_memo_result_t *out, void *ctx) {
    static char buf[64];
    (void)ctx;
    out->val_len = (size_t)snprintf(buf, sizeof buf, "hello, %.*s",
                                    (int)key_len, (const char *)key);
    out->val = buf;
    out->ttl_ms = 60000; /* a minute */
    return RCACHE_OK;
}

int main(void) {
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_ref_t *ref = NULL;
    rcache_stats_t st;
    char buf[64];
    size_t len = 0;
    int rc;

    rcache_config_init(&cfg);
    cfg.max_items = 100;
    cfg.max_bytes = 1 << 20;
    if ((rc = rcache_open(&cfg, &c)) != RCACHE_OK) {
        fprintf(stderr, "rcache_open: %s\n", rcache_strerror(rc));
        return 1;
    }

    /* set / get */
    rc = rcache_set(c, "answer", 6, "42", 2, RCACHE_TTL_DEFAULT, 0);
    printf("set answer=42: %s\n", rcache_strerror(rc));
    rc = rcache_get(c, "answer", 6, buf, sizeof buf, &len);
    printf("get answer: %s, \"%.*s\"\n", rcache_strerror(rc), (int)len, buf);
    rc = rcache_get(c, "question", 8, buf, sizeof buf, &len);
    printf("get question: %s\n", rcache_strerror(rc));

    /* a reference stays valid until released, even if the key goes away */
    if (rcache_get_ref(c, "answer", 6, &ref) == RCACHE_OK) {
        const char *v = rcache_ref_value(ref, &len);
        rcache_delete(c, "answer", 6);
        printf("through a reference after delete: \"%.*s\"\n", (int)len, v);
        rcache_release(ref);
    }

    /* get-or-compute: computed once, then served from the cache */
    for (int i = 0; i < 3; i++) {
        int how = 0;
        rc = rcache_memoize(c, "world", 5, compute_greeting, NULL, NULL, &ref,
                            &how);
        if (rc == RCACHE_OK) {
            const char *v = rcache_ref_value(ref, &len);
            printf("memoize world: \"%.*s\" (%s)\n", (int)len, v,
                   how == RCACHE_MEMO_COMPUTED ? "computed" : "from cache");
            rcache_release(ref);
        }
    }

    rcache_stats(c, &st);
    printf("stats: items=%llu bytes=%llu hits=%llu misses=%llu sets=%llu "
           "deletes=%llu hit_ratio=%.2f computations=%llu\n",
           (unsigned long long)st.items, (unsigned long long)st.bytes,
           (unsigned long long)st.hits, (unsigned long long)st.misses,
           (unsigned long long)st.sets, (unsigned long long)st.deletes,
           st.hit_ratio, (unsigned long long)st.computations);
    rcache_close(c);
    return 0;
}
