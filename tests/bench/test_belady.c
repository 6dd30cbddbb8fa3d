/*
 * test_belady.c - Belady's OPT (bench/belady.c), the bound
 * `rcache-bench trace --policy opt` prints: a hand-worked sequence; on
 * thousands of random short sequences, the miss count of an exhaustive
 * search over every eviction choice (the true optimum when each miss
 * inserts); and on real traces, no librcache policy below it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "belady.h"
#include "rcache.h"

static void test_hand_sequence(void **state)
{
    (void)state;
    /* a b c a b, 2 items: c's miss evicts b (wanted at 4) rather than a
     * (wanted at 3): a hits, b misses. LRU would miss all five. */
    const uint32_t ids[] = {0, 1, 2, 0, 1};
    uint8_t missed[5];
    rcache__belady_counts_t c;
    assert_int_equal(rcache__belady(ids, 5, 3, 2, missed, &c), 0);
    assert_int_equal(c.misses, 4);
    assert_int_equal(c.hits, 1);
    assert_int_equal(c.evictions, 2);
    const uint8_t want[] = {1, 1, 1, 0, 1};
    assert_memory_equal(missed, want, 5);
    /* Unbounded (cap 0) and a cap above the key count: compulsory misses only. */
    assert_int_equal(rcache__belady(ids, 5, 3, 0, NULL, &c), 0);
    assert_int_equal(c.misses, 3);
    assert_int_equal(c.evictions, 0);
    assert_int_equal(rcache__belady(ids, 5, 3, 99, NULL, &c), 0);
    assert_int_equal(c.misses, 3);
    /* Empty trace. */
    assert_int_equal(rcache__belady(ids, 0, 0, 4, NULL, &c), 0);
    assert_int_equal(c.misses + c.hits, 0);
}

/* Fewest misses over ids[i..n) from the resident set `res` (a bit mask of
 * keys, |res| <= cap), trying every victim on each miss of a full cache. */
static unsigned brute(const uint32_t *ids, size_t i, size_t n, unsigned res, unsigned cap)
{
    for (; i < n && (res >> ids[i] & 1u); i++)
        ;
    if (i == n)
        return 0;
    unsigned k = 1u << ids[i];
    if ((unsigned)__builtin_popcount(res) < cap)
        return 1 + brute(ids, i + 1, n, res | k, cap);
    unsigned best = ~0u;
    for (unsigned v = res; v; v &= v - 1) {
        unsigned m = brute(ids, i + 1, n, (res & ~(v & -v)) | k, cap);
        best = m < best ? m : best;
    }
    return 1 + best;
}

static void test_against_exhaustive_search(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull; /* xorshift: the same cases every run */
    for (int t = 0; t < 3000; t++) {
        uint32_t ids[14];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = 4 + x % 11;
        uint32_t nkeys = 2 + (uint32_t)(x >> 8) % 5;
        unsigned cap = 1 + (unsigned)(x >> 16) % 3;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            ids[i] = (uint32_t)(x % nkeys);
        }
        rcache__belady_counts_t c;
        assert_int_equal(rcache__belady(ids, n, nkeys, cap, NULL, &c), 0);
        unsigned want = brute(ids, 0, n, 0, cap);
        if (c.misses != want)
            fail_msg("case %d (n %zu, %u keys, cap %u): OPT %llu misses, search %u", t, n,
                     nkeys, cap, (unsigned long long)c.misses, want);
        assert_int_equal(c.hits + c.misses, n);
    }
}

/* On real traces at 1% and 10%: OPT never misses more than any policy. */
static void test_floor_under_policies(void **state)
{
    (void)state;
    static const char *files[] = {"caffeine/lirs/multi2.trace.gz",
                                  "caffeine/lirs/sprite.trace.gz",
                                  "caffeine/cache2k/web12.trace.xz"};
    static const double pct[] = {1, 10};
    static const uint64_t caps[3][2] = {{56, 568}, {70, 707}, {137, 1375}};
    char path[4096], err[1024];
    for (size_t f = 0; f < 3; f++)
        for (size_t p = 0; p < 2; p++) {
            snprintf(path, sizeof path, "%s/%s", RCACHE_TRACES_DIR, files[f]);
            rcache__replay_opts_t o = {.max_items = caps[f][p]};
            rcache__replay_result_t opt, pol;
            if (rcache__belady_replay(path, &o, &opt, err, sizeof err) != 0)
                fail_msg("%s", err);
            assert_int_equal(opt.hits + opt.misses, opt.requests);
            for (int k = 0; k < RCACHE_POLICY_COUNT; k++) {
                o.policy = k;
                if (rcache__replay(path, &o, &pol, err, sizeof err) != 0)
                    fail_msg("%s", err);
                assert_int_equal(pol.requests, opt.requests);
                if (opt.misses > pol.misses)
                    fail_msg("%s %g%%: opt %llu misses, %s %llu", files[f], pct[p],
                             (unsigned long long)opt.misses, rcache_policy_name(k),
                             (unsigned long long)pol.misses);
            }
            print_message("    %-36s %3.0f%% opt miss ratio %.4f\n", files[f], pct[p],
                          1 - opt.hit_ratio);
        }
    /* A byte capacity is refused with a reason. */
    rcache__replay_opts_t o = {.max_bytes = 1 << 20};
    rcache__replay_result_t r;
    snprintf(path, sizeof path, "%s/%s", RCACHE_TRACES_DIR, files[0]);
    assert_int_equal(rcache__belady_replay(path, &o, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "count-bounded"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_sequence),
        cmocka_unit_test(test_against_exhaustive_search),
        cmocka_unit_test(test_floor_under_policies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
