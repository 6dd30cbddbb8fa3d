/*
 * replay.h - replay a cache trace through librcache (one shard, one policy)
 * and count hits, misses and evictions, as the traces README models it:
 * every request is a lookup and a miss inserts the key.
 */
#ifndef RCACHE_BENCH_REPLAY_H
#define RCACHE_BENCH_REPLAY_H

#include "costmodel.h"
#include "trace.h"
#include "trace_count.h"

typedef struct rcache__replay_opts {
    rcache__trace_format_t fmt;  /* RCACHE__TF_AUTO: from the name */
    rcache__zkind_t zkind;       /* RCACHE__Z_DETECT: from the name */
    uint64_t max_items;          /* item capacity; 0 = unbounded */
    uint64_t max_bytes;          /* byte capacity; 0 = unbounded. When set,
                                    values are as long as the trace's sizes */
    uint64_t expect_requests;    /* for the progress bar's ETA; 0 unknown */
    int progress;                /* draw a progress bar if stderr is a tty */
    const char *label;           /* progress label */
    int policy;                  /* rcache_policy_t (0 = lru) */
    const rcache__cost_model_t *cost; /* per-key compute cost, or NULL:
                                    each store then passes its key's cost
                                    as compute_ms, and misses add it up */
} rcache__replay_opts_t;

typedef struct rcache__replay_result {
    uint64_t requests, hits, misses, evictions;
    uint64_t too_big;            /* misses not stored: larger than max_bytes */
    double hit_ratio;            /* hits / requests */
    double seconds;              /* wall time of the replay (decode included) */
    uint64_t cost_ms_missed;     /* with a cost model: sum of the costs of
                                    the misses ("compute time recomputed") */
    uint64_t cost_ms_total;      /* ... and of every request */
} rcache__replay_result_t;

/* 0, or -1 with a message (file and offset for trace errors) in err. */
int rcache__replay(const char *path, const rcache__replay_opts_t *o,
                   rcache__replay_result_t *res, char *err, size_t errlen);

/* capacity = max(1, floor(unique * pct / 100)), the README's rule. */
uint64_t rcache__capacity_pct(uint64_t unique, double pct);

#endif
