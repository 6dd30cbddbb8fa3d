/*
 * test_trace_replay.c - replaying every shared trace through librcache (one
 * shard, count-bounded) at 1% and 10% of its unique keys reproduces the
 * exact LRU hit ratios of ../shared/traces/README.md to 4 decimals, with
 * the README's capacities, and evictions = misses - capacity once full.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "replay.h"
#include "traces_ref.h"

static void check(const trace_ref_t *r, double pct, uint64_t want_cap, double want_hit)
{
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/%s", RCACHE_TRACES_DIR, r->file);
    uint64_t cap = rcache__capacity_pct(r->unique, pct);
    assert_int_equal(cap, want_cap);
    rcache__replay_opts_t o = {.max_items = cap};
    rcache__replay_result_t res;
    if (rcache__replay(path, &o, &res, err, sizeof err) != 0)
        fail_msg("%s", err);
    print_message("    %-52s %4.0f%% cap %5llu hit %.4f (README %.4f) %.2fs\n", r->file,
                  pct, (unsigned long long)cap, res.hit_ratio, want_hit, res.seconds);
    assert_int_equal(res.requests, r->requests);
    assert_int_equal(res.hits + res.misses, res.requests);
    if (fabs(round(res.hit_ratio * 1e4) / 1e4 - want_hit) > 1e-9)
        fail_msg("%s at %g%%: hit ratio %.6f, README says %.4f", r->file, pct,
                 res.hit_ratio, want_hit);
    uint64_t ev = res.misses > cap ? res.misses - cap : 0;
    assert_int_equal(res.evictions, ev);
}

static void test_lru_hit_ratios(void **state)
{
    (void)state;
    for (size_t i = 0; i < TRACE_REF_COUNT; i++) {
        check(&trace_refs[i], 1, trace_refs[i].cap1, trace_refs[i].hit1);
        check(&trace_refs[i], 10, trace_refs[i].cap10, trace_refs[i].hit10);
    }
}

static void test_capacity_rule(void **state)
{
    (void)state;
    assert_int_equal(rcache__capacity_pct(2001, 10), 200);
    assert_int_equal(rcache__capacity_pct(751, 1), 7);
    assert_int_equal(rcache__capacity_pct(50, 1), 1);   /* max(1, 0) */
    assert_int_equal(rcache__capacity_pct(1000, 0.1), 1);
    assert_int_equal(rcache__capacity_pct(7075, 0.1), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_rule),
        cmocka_unit_test(test_lru_hit_ratios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
