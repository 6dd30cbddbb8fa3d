/*
 * test_diag.c - the cache diagnostics (issue 15): hot keys find the true
 * top 10 of a Zipf stream (the sketch alone, and through a cache's lookups),
 * and the sketch keeps Space-Saving's guarantees under heavy churn;
 * the census (size histogram, namespaces) equals a recount through
 * rcache_scan(); the MRC estimator stays within its memory bound on a
 * 10M-key stream; a cache's own estimator predicts the hit ratio the cache
 * actually gets; diagnostics are off by default and cost nothing then.
 */
#include "testutil.h"

#include <malloc.h>
#include <math.h>
#include <stdlib.h>

#include "diag.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Zipf(s) over n ranks: a CDF to search. */
static double *zipf_cdf(size_t n, double s) {
    double *cdf = malloc(n * sizeof *cdf), sum = 0;
    assert_non_null(cdf);
    for (size_t i = 0; i < n; i++)
        cdf[i] = (sum += 1.0 / pow((double)(i + 1), s));
    for (size_t i = 0; i < n; i++)
        cdf[i] /= sum;
    return cdf;
}

static size_t zipf_draw(const double *cdf, size_t n) {
    double u = (double)(rng() >> 11) / 9007199254740992.0;
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t key_of(char *buf, size_t rank) {
    /* scramble so the hot keys are not neighbours in any order */
    return (size_t)sprintf(buf, "user:%llu", (unsigned long long)(rank * 2654435761u % 1000003u));
}

/* The true top 10 ranks by observed count, as key strings. */
static void true_top10(const uint32_t *counts, size_t n, char top[10][32]) {
    for (int k = 0; k < 10; k++) {
        size_t best = 0;
        for (size_t i = 0; i < n; i++)
            if (counts[i] > counts[best])
                best = i;
        key_of(top[k], best);
        ((uint32_t *)counts)[best] = 0; /* counts is scratch */
    }
}

static int in_list(const rcache_hotkey_t *h, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (h[i].key_len == strlen(key) && memcmp(h[i].key, key, h[i].key_len) == 0)
            return 1;
    return 0;
}

static void test_topk_zipf(void **state) {
    (void)state;
    const size_t n = 100000, refs = 1000000;
    double *cdf = zipf_cdf(n, 1.0);
    uint32_t *counts = calloc(n, sizeof *counts);
    rcache_topk_t *t = NULL;
    char key[32], top[10][32];
    assert_int_equal(rcache_topk_new(128, &t), RCACHE_OK);
    for (size_t i = 0; i < refs; i++) {
        size_t r = zipf_draw(cdf, n), kl = key_of(key, r);
        counts[r]++;
        rcache_topk_add(t, key, kl, rcache_key_hash(key, kl), 100, 1);
    }
    rcache_hotkey_t out[10];
    uint64_t total;
    assert_int_equal(rcache_topk_list(t, out, 10, &total), 10);
    assert_int_equal(total, refs);
    true_top10(counts, n, top);
    for (int k = 0; k < 10; k++)
        if (!in_list(out, 10, top[k]))
            fail_msg("true top-10 key %s (rank %d) missing from the sketch's top 10", top[k], k);
    for (int k = 1; k < 10; k++)
        assert_true(out[k - 1].count >= out[k].count);
    assert_int_equal(out[0].bytes, 100);
    rcache_topk_free(t);
    free(counts);
    free(cdf);
}

/* Space-Saving's guarantees under heavy churn (a small K, a long tail, so
 * nearly every add replaces the smallest counter: the index and the heap
 * are exercised on every path): counts sum to the total; each held key's
 * true count lies in [count - error, count]; every key with more than
 * total/K references is held; and a reset empties the sketch. */
static void test_topk_guarantees(void **state) {
    (void)state;
    const size_t n = 5000, refs = 200000;
    const uint32_t k = 16;
    double *cdf = zipf_cdf(n, 0.8);
    uint32_t *counts = calloc(n, sizeof *counts);
    char key[32];
    rcache_topk_t *t = NULL;
    assert_non_null(counts);
    assert_int_equal(rcache_topk_new(k, &t), RCACHE_OK);
    for (size_t i = 0; i < refs; i++) {
        size_t r = zipf_draw(cdf, n), kl = key_of(key, r);
        uint64_t w = 1 + (i % 3); /* weights vary, as scaled samples do */
        counts[r] += (uint32_t)w;
        rcache_topk_add(t, key, kl, rcache_key_hash(key, kl), 10, w);
    }
    rcache_hotkey_t out[16];
    uint64_t total = 0, sum = 0, wsum = 0;
    size_t got = rcache_topk_list(t, out, k, &total);
    assert_int_equal(got, k);
    for (size_t r = 0; r < n; r++)
        wsum += counts[r];
    assert_int_equal(total, wsum);
    for (size_t i = 0; i < got; i++) {
        sum += out[i].count;
        if (i > 0)
            assert_true(out[i - 1].count >= out[i].count);
        size_t r;
        for (r = 0; r < n; r++) {
            size_t kl = key_of(key, r);
            if (kl == out[i].key_len && memcmp(key, out[i].key, kl) == 0)
                break;
        }
        assert_true(r < n);
        assert_true(out[i].count - out[i].error <= counts[r]);
        assert_true(counts[r] <= out[i].count);
    }
    assert_int_equal(sum, total);
    for (size_t r = 0; r < n; r++)
        if (counts[r] > total / k)
            assert_true(in_list(out, got, (key_of(key, r), key)));
    rcache_topk_reset(t);
    assert_int_equal(rcache_topk_list(t, out, k, &total), 0);
    assert_int_equal(total, 0);
    rcache_topk_add(t, "a", 1, rcache_key_hash("a", 1), 0, 5);
    assert_int_equal(rcache_topk_list(t, out, k, &total), 1);
    assert_int_equal(out[0].count, 5);
    assert_int_equal(out[0].error, 0);
    rcache_topk_free(t);
    free(counts);
    free(cdf);
}

/* Through a cache: 1 lookup in 16 sampled (every 16th hit and miss of each
 * shard), counts scaled back. */
static void test_cache_hotkeys_zipf(void **state) {
    (void)state;
    const size_t n = 20000, refs = 400000;
    double *cdf = zipf_cdf(n, 1.1);
    uint32_t *counts = calloc(n, sizeof *counts);
    char key[32], top[10][32];
    rcache_t *c = open_cache(0, 0, 0, 4, NULL);
    assert_int_equal(rcache_diag_enabled(c), 0);
    rcache_diag_opts_t o;
    rcache_diag_opts_init(&o);
    o.hotkeys_every = 16; /* the default (256) needs more lookups for a tight top 10 */
    assert_int_equal(rcache_diag_enable_ex(c, 1, &o), RCACHE_OK);
    assert_int_equal(rcache_diag_enabled(c), 1);
    for (size_t i = 0; i < refs; i++) {
        size_t r = zipf_draw(cdf, n), kl = key_of(key, r);
        counts[r]++;
        if (rcache_get(c, key, kl, NULL, 0, NULL) == RCACHE_ENOTFOUND)
            assert_int_equal(rcache_set(c, key, kl, "v", 1, 0, 0), RCACHE_OK);
    }
    /* The sketch sees 1/16 of the lookups (every 16th of each shard), so
     * neighbours near rank 10 can swap: the true top 10
     * must be within the sketch's top 20 (rank 20 is drawn ~half as often
     * as rank 10, many standard deviations apart), the top 3 within its
     * top 10. */
    rcache_hotkey_t out[20];
    uint64_t total;
    assert_int_equal(rcache_diag_hotkeys(c, out, 20, &total), 20);
    assert_true(total > refs / 20 * 19 && total < refs / 20 * 21); /* 1/16 per shard, scaled */
    true_top10(counts, n, top);
    for (int k = 0; k < 10; k++)
        if (!in_list(out, k < 3 ? 10 : 20, top[k]))
            fail_msg("true top-10 key %s (rank %d) missing", top[k], k);
    assert_true(out[0].bytes > 0);
    rcache_close(c);
    free(counts);
    free(cdf);
}

/* The census against a recount through rcache_scan(). */
static void test_census_recount(void **state) {
    (void)state;
    static const char *ns[] = {"user", "session", "thumb", "", "a:b"};
    rcache_t *c = open_cache(0, 0, 0, 8, NULL);
    char key[64];
    static char val[70000];
    for (int i = 0; i < 3000; i++) {
        int kl = snprintf(key, sizeof key, "%s%s%d", ns[i % 5], i % 5 == 3 ? "" : ":", i);
        size_t vl = (size_t)(rng() % (i % 7 == 0 ? 65536 : 300));
        assert_int_equal(rcache_set(c, key, (size_t)kl, val, vl, 0, 0), RCACHE_OK);
    }
    /* 70 more namespaces than the census lists: the rest go to "other" */
    for (int i = 0; i < 130; i++) {
        int kl = snprintf(key, sizeof key, "ns%d:x", i);
        assert_int_equal(rcache_set(c, key, (size_t)kl, "v", 1, 0, 0), RCACHE_OK);
    }
    rcache_census_t *cs = calloc(1, sizeof *cs);
    assert_int_equal(rcache_diag_census(c, cs), RCACHE_OK);

    uint64_t cnt[RCACHE_SIZE_BUCKETS] = {0}, bytes[RCACHE_SIZE_BUCKETS] = {0}, items = 0, total = 0;
    uint64_t ns_items[RCACHE_NS_MAX] = {0}, other = 0;
    uint64_t cur = 0;
    do {
        rcache_scan_page_t page;
        assert_int_equal(rcache_scan(c, cur, 100, NULL, 0, 1, &page, &cur), RCACHE_OK);
        for (size_t i = 0; i < page.count; i++) {
            const rcache_entry_info_t *e = &page.entries[i];
            unsigned b = rcache_size_bucket(e->size_bytes);
            assert_true(b < RCACHE_SIZE_BUCKETS);
            assert_true(e->size_bytes >= (1ull << b) && e->size_bytes < (2ull << b));
            cnt[b]++;
            bytes[b] += e->size_bytes;
            items++;
            total += e->size_bytes;
            const char *colon = memchr(e->key, ':', e->key_len);
            size_t nl = colon ? (size_t)(colon - (const char *)e->key) : 0;
            size_t j;
            for (j = 0; j < cs->ns_count; j++)
                if (cs->ns[j].has_prefix == (colon != NULL) && cs->ns[j].name_len == nl &&
                    memcmp(cs->ns[j].name, e->key, nl) == 0)
                    break;
            if (j < cs->ns_count)
                ns_items[j]++;
            else
                other++;
        }
        rcache_scan_page_free(&page);
    } while (cur != 0);
    /* no concurrent writers, so the scan saw each entry exactly once */
    assert_int_equal(items, rcache_count(c));
    assert_int_equal(cs->items, items);
    assert_int_equal(cs->bytes, total);
    for (int b = 0; b < RCACHE_SIZE_BUCKETS; b++) {
        assert_int_equal(cs->size_count[b], cnt[b]);
        assert_int_equal(cs->size_bytes[b], bytes[b]);
    }
    assert_int_equal(cs->ns_count, RCACHE_NS_MAX);
    for (size_t j = 0; j < cs->ns_count; j++)
        assert_int_equal(cs->ns[j].items, ns_items[j]);
    assert_int_equal(cs->other_items, other);
    assert_true(other > 0);
    /* the five big groups come first (600 entries each), then singletons */
    for (int j = 0; j < 5; j++)
        assert_int_equal(cs->ns[j].items, 600);
    assert_int_equal(cs->ns[5].items, 1);
    assert_int_equal(other, 130 - (RCACHE_NS_MAX - 5));
    int seen_none = 0, seen_user = 0, seen_a = 0;
    for (int j = 0; j < 5; j++) {
        seen_none |= !cs->ns[j].has_prefix;
        seen_user |= strcmp(cs->ns[j].name, "user") == 0;
        seen_a |= strcmp(cs->ns[j].name, "a") == 0; /* "a:b..." splits at the first ':' */
    }
    assert_true(seen_none && seen_user && seen_a);
    free(cs);
    rcache_close(c);
}

static size_t heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* 10M distinct keys (then 2M repeats): memory fixed at creation, <= 2 MiB. */
static void test_mrc_memory_bound(void **state) {
    (void)state;
    size_t before = heap_in_use();
    rcache_mrc_t *m = NULL;
    assert_int_equal(rcache_mrc_new(0, 1.0, &m), RCACHE_OK);
    size_t created = heap_in_use();
    rcache_mrc_info_t info;
    rcache_mrc_info(m, &info);
    assert_true(info.mem_bytes <= RCACHE_MRC_DEFAULT_MEM_BYTES);
    /* the allocator's view agrees (0 under sanitizers that hide it) */
    if (created > before)
        assert_true(created - before <= RCACHE_MRC_DEFAULT_MEM_BYTES + (size_t)64 * 1024);
    const uint64_t nkeys = 10000000;
    for (uint64_t i = 0; i < nkeys + 2000000; i++) {
        uint64_t k = i < nkeys ? i : rng() % nkeys;
        rcache_mrc_access(m, rcache_key_hash(&k, sizeof k), 100);
    }
    size_t after = heap_in_use();
    if (created > before)
        assert_int_equal(after, created); /* nothing allocated while running */
    rcache_mrc_info(m, &info);
    assert_true(info.tracked_keys <= info.max_tracked_keys);
    assert_true(info.mem_bytes <= RCACHE_MRC_DEFAULT_MEM_BYTES);
    assert_int_equal(info.references, nkeys + 2000000);
    print_message("    10M keys: rate %.5f, %u keys tracked, %zu bytes\n", info.sampling_rate,
                  info.tracked_keys, info.mem_bytes);
    assert_true(info.sampling_rate < 0.01);
    /* uniform repeats over 10M keys: an LRU of 1M holds ~1/10 of them, and
     * the 2M repeats are 1/6 of the stream */
    double h = rcache_mrc_hit_ratio(m, 1000000);
    assert_true(h >= 0 && h < 0.05);
    assert_true(rcache_mrc_hit_ratio(m, 20000000) > 0.1);
    rcache_mrc_free(m);
}

/* A cache's own estimator predicts the hit ratio it gets at its size and
 * says a bigger cache would hit more. */
static void test_cache_mrc_predicts(void **state) {
    (void)state;
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = 2000;
    cfg.max_bytes = 0;
    cfg.default_ttl_ms = 0;
    cfg.shards = 1;
    cfg.diagnostics = 1;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    assert_int_equal(rcache_diag_enabled(c), 1); /* on from the config */
    rcache_diag_opts_t o;
    rcache_diag_opts_init(&o);
    assert_true(o.mrc_max_rate > 0 && o.mrc_max_rate < 0.02); /* 1/256 by default */
    rcache_mrc_info_t i0;
    rcache_mrc_info(rcache_diag_mrc(c), &i0);
    assert_true(fabs(i0.sampling_rate - o.mrc_max_rate) < 1e-6);
    /* the first enabling fixed the options: start a cache with rate 1, as
     * rcached does, for a curve of 20,000 keys */
    rcache_close(c);
    cfg.diagnostics = 0;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    o.mrc_max_rate = 1;
    assert_int_equal(rcache_diag_enable_ex(c, 1, &o), RCACHE_OK);
    double *cdf = zipf_cdf(20000, 0.9);
    char key[32];
    for (int i = 0; i < 300000; i++) {
        size_t kl = key_of(key, zipf_draw(cdf, 20000));
        if (rcache_get(c, key, kl, NULL, 0, NULL) == RCACHE_ENOTFOUND)
            rcache_set(c, key, kl, "value", 5, 0, 0);
    }
    rcache_stats_t st;
    rcache_stats(c, &st);
    rcache_mrc_t *m = rcache_diag_mrc(c);
    assert_non_null(m);
    double est = rcache_mrc_hit_ratio(m, 2000);
    print_message("    cache hit ratio %.4f, estimated %.4f; at 2x %.4f\n", st.hit_ratio, est,
                  rcache_mrc_hit_ratio(m, 4000));
    assert_true(fabs(est - st.hit_ratio) < 0.02);
    assert_true(rcache_mrc_hit_ratio(m, 4000) > est + 0.02);
    uint64_t charge = st.bytes / st.items;
    assert_true(fabs(rcache_mrc_hit_ratio_bytes(m, st.bytes) - st.hit_ratio) < 0.03 ||
                charge == 0);
    /* off: nothing more is sampled */
    rcache_mrc_info_t a, b;
    rcache_mrc_info(m, &a);
    assert_int_equal(rcache_diag_enable(c, 0), RCACHE_OK);
    for (int i = 0; i < 1000; i++) {
        size_t kl = key_of(key, (size_t)i);
        rcache_get(c, key, kl, NULL, 0, NULL);
    }
    rcache_mrc_info(m, &b);
    assert_int_equal(a.sampled_references, b.sampled_references);
    free(cdf);
    rcache_close(c);
}

static void test_off_by_default(void **state) {
    (void)state;
    rcache_t *c = open_cache(100, 0, 0, 1, NULL);
    assert_null(rcache_diag_mrc(c));
    assert_int_equal(rcache_diag_enabled(c), 0);
    rcache_hotkey_t h[1];
    assert_int_equal(rcache_diag_hotkeys(c, h, 1, NULL), 0);
    assert_int_equal(rcache_diag_reset(c), RCACHE_OK);
    assert_int_equal(rcache_diag_reset(NULL), RCACHE_EINVAL);
    rcache_diag_opts_t o;
    rcache_diag_opts_init(&o);
    o.mrc_max_rate = 2;
    assert_int_equal(rcache_diag_enable_ex(c, 1, &o), RCACHE_EINVAL);
    assert_int_equal(rcache_diag_enabled(c), 0);
    rcache_close(c);
    rcache_mrc_t *m;
    assert_int_equal(rcache_mrc_new(100, 1, &m), RCACHE_EINVAL); /* below the minimum */
    assert_int_equal(rcache_size_bucket(0), 0);
    assert_int_equal(rcache_size_bucket(1), 0);
    assert_int_equal(rcache_size_bucket(96), 6);
    assert_int_equal(rcache_size_bucket(128), 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_by_default),
        cmocka_unit_test(test_topk_zipf),
        cmocka_unit_test(test_topk_guarantees),
        cmocka_unit_test(test_cache_hotkeys_zipf),
        cmocka_unit_test(test_census_recount),
        cmocka_unit_test(test_mrc_memory_bound),
        cmocka_unit_test(test_cache_mrc_predicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
