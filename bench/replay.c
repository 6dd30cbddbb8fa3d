/*
 * replay.c - drives librcache with a trace: every request is an
 * rcache_get() (a hit whether or not the value fits the empty buffer:
 * RCACHE_ERANGE counts as a hit), and every miss an rcache_set().  One
 * shard, so eviction is exact LRU and the hit ratios can be compared with
 * the reference LRU figures of the traces README.
 *
 * With a byte capacity each value is as long as the trace says the object
 * is (max_items 0); the cache then charges its real per-entry footprint, so
 * results are close to, not equal to, a simulator that charges sizes only.
 *
 * With a cost model (costmodel.c) every store passes its key's cost as
 * compute_ms, as memoize would pass the measured time, and the replay
 * sums the costs of the misses: the compute time a cache with that policy
 * would have spent recomputing.
 */
#include "replay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "rcache.h"

uint64_t rcache__capacity_pct(uint64_t unique, double pct)
{
    /* floor() of the exact product; the small epsilon keeps 10% of 2000
     * from becoming 199 through binary rounding of 0.1. */
    double c = floor((double)unique * pct / 100.0 + 1e-9);
    return c < 1 ? 1 : (uint64_t)c;
}

int rcache__replay(const char *path, const rcache__replay_opts_t *o,
                   rcache__replay_result_t *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    rcache__trace_t *t = rcache__trace_open(path, o->fmt, o->zkind, err, errlen);
    if (!t)
        return -1;

    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.max_items = o->max_items;
    cfg.max_bytes = o->max_bytes;
    cfg.default_ttl_ms = 0;
    cfg.shards = 1;
    cfg.policy = o->policy;
    rcache_t *c = NULL;
    int rc = rcache_open(&cfg, &c);
    if (rc != RCACHE_OK) {
        snprintf(err, errlen, "rcache_open: %s", rcache_strerror(rc));
        rcache__trace_close(t);
        return -1;
    }

    unsigned char *val = NULL; /* zeros, as long as the largest object */
    size_t val_cap = 0;
    int sized = o->max_bytes != 0;
    rcache__progress_t pg;
    rcache__progress_start(&pg, o->label ? o->label : "replay", o->progress);
    rcache__trace_req_t rq;
    int r, fail = 0;
    double t0 = rcache__bench_now();
    while ((r = rcache__trace_next(t, &rq)) == 1) {
        res->requests++;
        uint64_t cost = o->cost ? rcache__cost_of(o->cost, rq.key, rq.key_len, rq.size,
                                                  rq.has_size)
                                : 0;
        res->cost_ms_total += cost;
        size_t vlen = 0;
        rc = rcache_get(c, rq.key, rq.key_len, NULL, 0, &vlen);
        if (rc == RCACHE_OK || rc == RCACHE_ERANGE) {
            res->hits++;
        } else if (rc == RCACHE_ENOTFOUND) {
            res->misses++;
            res->cost_ms_missed += cost;
            size_t want = sized && rq.has_size ? (size_t)rq.size : 0;
            if (want > val_cap) {
                unsigned char *nv = realloc(val, want);
                if (!nv) {
                    snprintf(err, errlen, "out of memory for a %zu-byte value", want);
                    fail = 1;
                    break;
                }
                memset(nv + val_cap, 0, want - val_cap);
                val = nv;
                val_cap = want;
            }
            rcache_set_opts_t so = {.ttl_ms = 0, .compute_ms = cost};
            rc = rcache_set_ex(c, rq.key, rq.key_len, val, want, &so, NULL);
            if (rc == RCACHE_ETOOBIG) {
                res->too_big++;
            } else if (rc != RCACHE_OK) {
                snprintf(err, errlen, "rcache_set: %s", rcache_strerror(rc));
                fail = 1;
                break;
            }
        } else {
            snprintf(err, errlen, "rcache_get: %s", rcache_strerror(rc));
            fail = 1;
            break;
        }
        if ((res->requests & 0xffff) == 0) {
            double frac = o->expect_requests
                ? (double)res->requests / (double)o->expect_requests
                : (rcache__trace_in_size(t)
                   ? (double)rcache__trace_in_pos(t) / (double)rcache__trace_in_size(t)
                   : -1);
            rcache__progress_update(&pg, res->requests, frac);
        }
    }
    res->seconds = rcache__bench_now() - t0;
    rcache__progress_end(&pg);
    if (r < 0 && !fail) {
        snprintf(err, errlen, "%s", rcache__trace_error(t));
        fail = 1;
    }
    rcache_stats_t st;
    rcache_stats(c, &st);
    res->evictions = st.evictions;
    res->hit_ratio = res->requests ? (double)res->hits / (double)res->requests : 0;
    if (!fail && (st.hits != res->hits || st.misses != res->misses)) {
        snprintf(err, errlen, "rcache stats disagree with the replay: %llu/%llu hits, %llu/%llu misses",
                 (unsigned long long)st.hits, (unsigned long long)res->hits,
                 (unsigned long long)st.misses, (unsigned long long)res->misses);
        fail = 1;
    }
    rcache_close(c);
    free(val);
    rcache__trace_close(t);
    return fail ? -1 : 0;
}
