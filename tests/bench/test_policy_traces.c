/*
 * test_policy_traces.c - each eviction policy replayed over the traces of
 * ../shared/traces/POLICIES.md (one shard, count-bounded, 1% and 10% of
 * the unique keys) gives libCacheSim's miss ratio within 0.01; lru gives
 * it exactly (to 4 decimals). W-TinyLFU is checked in its fixed-window
 * variant (wtinylfu-fixed, libCacheSim's); the adaptive one (wtinylfu,
 * its window moved by two ghosts) has no published figures to meet, and
 * is held instead to issue 13's rule for a default policy on the same
 * cells: never more than 1.02x LRU's misses (test_wtinylfu_adaptive; the
 * hill climber it replaced gave 1.40x on sprite 10%, 1.17x on orm-busy
 * 1%).
 *
 * Two W-TinyLFU cells differ by more (docs/DESIGN.md, "W-TinyLFU"):
 * orm-busy 1% (ours 0.4802, libCacheSim 0.4033) and multi2 1% (0.7980 vs
 * 0.8191). A plain re-implementation of the algorithm as the stored
 * libCacheSim source has it, with exact counts instead of a sketch, gives
 * 0.4876 on orm-busy 1%, so the gap is in the simulator version that made
 * POLICIES.md, not in the sketch. Those cells are pinned to our own
 * figures (the replay is deterministic), so a change shows.
 *
 * orm-busy (5M requests a replay) is label "slow" (`make test-slow`); the
 * default run replays the other three traces for every policy.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policies_ref.h"
#include "rcache.h"
#include "replay.h"

typedef struct pinned {
    const char *file;
    double pct;
    int policy;
    double ours;
} pinned_t;

static const pinned_t pins[] = {
    {"caffeine/cache2k/orm-busy.trace.xz", 1, RCACHE_POLICY_WTINYLFU_FIXED, 0.4802},
    {"caffeine/lirs/multi2.trace.gz", 1, RCACHE_POLICY_WTINYLFU_FIXED, 0.7980},
};

static int slow;

static double replay_miss(const policy_ref_t *r, int policy)
{
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/%s", RCACHE_TRACES_DIR, r->file);
    rcache__replay_opts_t o = {.max_items = r->cap, .policy = policy};
    rcache__replay_result_t res;
    if (rcache__replay(path, &o, &res, err, sizeof err) != 0)
        fail_msg("%s", err);
    return 1 - res.hit_ratio;
}

static void check_policy(int policy)
{
    int ran = 0;
    for (size_t i = 0; i < POLICY_REF_COUNT; i++) {
        const policy_ref_t *r = &policy_refs[i];
        if (r->slow != slow)
            continue;
        double want = policy == RCACHE_POLICY_LRU      ? r->lru
                      : policy == RCACHE_POLICY_S3FIFO ? r->s3fifo
                      : policy == RCACHE_POLICY_SIEVE  ? r->sieve
                                                       : r->wtinylfu;
        double tol = policy == RCACHE_POLICY_LRU ? 0.00005 : 0.01;
        const char *what = "libCacheSim";
        for (size_t k = 0; k < sizeof pins / sizeof pins[0]; k++) {
            if (pins[k].policy == policy && pins[k].pct == r->pct &&
                strcmp(pins[k].file, r->file) == 0) {
                want = pins[k].ours;
                tol = 0.00005;
                what = "pinned";
            }
        }
        double got = replay_miss(r, policy);
        print_message("    %-8s %-46s %3.0f%% miss %.4f (%s %.4f)\n",
                      rcache_policy_name(policy), r->file, r->pct, got, what, want);
        if (fabs(got - want) > tol)
            fail_msg("%s on %s at %g%%: miss ratio %.4f, %s %.4f", rcache_policy_name(policy),
                     r->file, r->pct, got, what, want);
        ran++;
    }
    assert_true(ran > 0);
}

static void test_lru(void **state) { (void)state; check_policy(RCACHE_POLICY_LRU); }
static void test_s3fifo(void **state) { (void)state; check_policy(RCACHE_POLICY_S3FIFO); }
static void test_sieve(void **state) { (void)state; check_policy(RCACHE_POLICY_SIEVE); }
static void test_wtinylfu(void **state) { (void)state; check_policy(RCACHE_POLICY_WTINYLFU_FIXED); }

static void test_wtinylfu_adaptive(void **state)
{
    (void)state;
    int ran = 0;
    for (size_t i = 0; i < POLICY_REF_COUNT; i++) {
        const policy_ref_t *r = &policy_refs[i];
        if (r->slow != slow)
            continue;
        double lru = replay_miss(r, RCACHE_POLICY_LRU);
        double got = replay_miss(r, RCACHE_POLICY_WTINYLFU);
        print_message("    wtinylfu %-46s %3.0f%% miss %.4f (lru %.4f, %.3fx)\n", r->file,
                      r->pct, got, lru, got / lru);
        if (got > 1.02 * lru)
            fail_msg("wtinylfu on %s at %g%%: miss ratio %.4f, %.3fx lru's %.4f", r->file,
                     r->pct, got, got / lru, lru);
        ran++;
    }
    assert_true(ran > 0);
}

int main(int argc, char **argv)
{
    slow = argc > 1 && strcmp(argv[1], "--slow") == 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru),
        cmocka_unit_test(test_s3fifo),
        cmocka_unit_test(test_sieve),
        cmocka_unit_test(test_wtinylfu),
        cmocka_unit_test(test_wtinylfu_adaptive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
