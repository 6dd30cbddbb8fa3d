/*
 * traces_ref.h - the reference figures of ../shared/traces/README.md
 * (requests, unique keys, bytes of unique objects, LRU capacities and hit
 * ratios at 1% and 10%), shared by the bench tests.
 */
#ifndef RCACHE_TESTS_TRACES_REF_H
#define RCACHE_TESTS_TRACES_REF_H

#include <stdint.h>

typedef struct trace_ref {
    const char *file;     /* relative to RCACHE_TRACES_DIR */
    const char *format;
    uint64_t requests, unique, unique_bytes; /* unique_bytes 0 = "-" */
    uint64_t cap1;
    double hit1;
    uint64_t cap10;
    double hit10;
} trace_ref_t;

static const trace_ref_t trace_refs[] = {
    {"caffeine/adapt_size/request.trace.xz", "adaptsize-txt", 66987, 36815, 279261548, 368, 0.2429, 3681, 0.3419},
    {"caffeine/cache2k/orm-busy.trace.xz", "be-int32", 5000000, 76349, 0, 763, 0.7703, 7634, 0.8801},
    {"caffeine/cache2k/orm-night.trace.xz", "be-int32", 5000000, 86466, 0, 864, 0.6624, 8646, 0.9348},
    {"caffeine/cache2k/web07.trace.xz", "be-int32", 76118, 20484, 0, 204, 0.3915, 2048, 0.5566},
    {"caffeine/cache2k/web12.trace.xz", "be-int32", 95607, 13756, 0, 137, 0.3970, 1375, 0.6848},
    {"caffeine/corda/trace_vaultservice.gz", "be-int64", 135702, 90468, 0, 904, 0.3333, 9046, 0.3333},
    {"caffeine/lirs/2_pools.trace.gz", "lirs-txt", 100000, 9939, 0, 99, 0.2177, 993, 0.5438},
    {"caffeine/lirs/backf.trace.gz", "lirs-txt", 9000, 751, 0, 7, 0.0086, 75, 0.0917},
    {"caffeine/lirs/cpp.trace.gz", "lirs-txt", 9047, 1223, 0, 12, 0.0040, 122, 0.7572},
    {"caffeine/lirs/cs.trace.gz", "lirs-txt", 6781, 1409, 0, 14, 0.0181, 140, 0.0183},
    {"caffeine/lirs/gli.trace.gz", "lirs-txt", 6015, 2529, 0, 25, 0.0090, 252, 0.0091},
    {"caffeine/lirs/loop.trace.gz", "lirs-txt", 505500, 1011, 0, 10, 0.0000, 101, 0.0000},
    {"caffeine/lirs/multi1.trace.gz", "lirs-txt", 15858, 2606, 0, 26, 0.0103, 260, 0.4342},
    {"caffeine/lirs/multi2.trace.gz", "lirs-txt", 26311, 5684, 0, 56, 0.0351, 568, 0.3692},
    {"caffeine/lirs/multi3.trace.gz", "lirs-txt", 30241, 7454, 0, 74, 0.0514, 745, 0.3549},
    {"caffeine/lirs/ps.trace.gz", "lirs-txt", 10448, 3083, 0, 30, 0.0728, 308, 0.1633},
    {"caffeine/lirs/scan.trace.gz", "lirs-txt", 50025, 2001, 0, 20, 0.0000, 200, 0.0000},
    {"caffeine/lirs/sprite.trace.gz", "lirs-txt", 133996, 7075, 0, 70, 0.1633, 707, 0.8648},
    {"caffeine/lirs/zigzag.trace.gz", "lirs-txt", 52001, 2001, 0, 20, 0.0091, 200, 0.0957},
    {"caffeine/snia_tencent_photo/cloud_photos-sample.bz2", "tencent-photo-txt", 10000, 9694, 305537207, 96, 0.0014, 969, 0.0098},
    {"libcachesim/cloudPhysicsIO.csv", "lcs-csv", 113872, 48974, 2033711616, 489, 0.1620, 4897, 0.1951},
    {"libcachesim/cloudPhysicsIO.oracleGeneral.bin", "oracleGeneral", 113872, 48974, 2029769728, 489, 0.1620, 4897, 0.1951},
    {"libcachesim/cloudPhysicsIO.txt", "plain-txt", 113872, 48974, 0, 489, 0.1620, 4897, 0.1951},
};
#define TRACE_REF_COUNT (sizeof trace_refs / sizeof trace_refs[0])

#endif
