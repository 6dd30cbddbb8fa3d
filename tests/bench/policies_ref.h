/*
 * policies_ref.h - libCacheSim's miss ratios from ../shared/traces/
 * POLICIES.md (libCacheSim @ aa0fc40, cachesim, count-bounded, capacity =
 * floor(unique x p / 100)), for the policies librcache implements. The
 * W-TinyLFU figures at 1% of sprite and multi2 are the runs with a
 * 1-object window (librcache's window is never under one entry).
 */
#ifndef RCACHE_TESTS_POLICIES_REF_H
#define RCACHE_TESTS_POLICIES_REF_H

#include <stdint.h>

typedef struct policy_ref {
    const char *file; /* relative to RCACHE_TRACES_DIR */
    double pct;       /* 1 or 10 */
    uint64_t cap;
    double lru, s3fifo, sieve, wtinylfu;
    int slow;         /* seconds per replay: not in the default run */
} policy_ref_t;

static const policy_ref_t policy_refs[] = {
    {"caffeine/cache2k/orm-busy.trace.xz", 1, 763, 0.2297, 0.2436, 0.2947, 0.4033, 1},
    {"caffeine/cache2k/orm-busy.trace.xz", 10, 7634, 0.1199, 0.1111, 0.1188, 0.1176, 1},
    {"caffeine/lirs/sprite.trace.gz", 1, 70, 0.8367, 0.7876, 0.8071, 0.7811, 0},
    {"caffeine/lirs/sprite.trace.gz", 10, 707, 0.1352, 0.1386, 0.1848, 0.2453, 0},
    {"caffeine/lirs/multi2.trace.gz", 1, 56, 0.9649, 0.9026, 0.9324, 0.8191, 0},
    {"caffeine/lirs/multi2.trace.gz", 10, 568, 0.6308, 0.5070, 0.6384, 0.4952, 0},
    {"libcachesim/cloudPhysicsIO.oracleGeneral.bin", 1, 489, 0.8380, 0.8304, 0.8292, 0.8473, 0},
    {"libcachesim/cloudPhysicsIO.oracleGeneral.bin", 10, 4897, 0.8049, 0.7525, 0.7907, 0.7761, 0},
};
#define POLICY_REF_COUNT (sizeof policy_refs / sizeof policy_refs[0])

#endif
