/*
 * belady.h - Belady's optimal replacement (OPT, MIN) over a trace: the
 * fewest misses any policy can have at an item capacity, when every miss
 * inserts its key (the traces README's model). An offline bound, computed
 * from the whole trace's future; not a librcache policy.
 */
#ifndef RCACHE_BENCH_BELADY_H
#define RCACHE_BENCH_BELADY_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"

typedef struct rcache__belady_counts {
    uint64_t hits, misses, evictions;
} rcache__belady_counts_t;

/* Replay ids[0..n) (dense key ids, each < nkeys) through a cache of `cap`
 * items (0 = unbounded) that on a miss evicts the resident key whose next
 * request lies furthest ahead (or never comes), then inserts.
 * @param[out] missed  NULL, or n bytes: missed[i] = 1 when request i missed
 * @param[out] out     hit, miss and eviction counts
 * @return 0, or -1 when n >= 2^32 - 1 (positions are 32-bit) or memory ran
 *         out (nothing else is written then).
 * Pure: no I/O. Memory: at most 4n + 4 nkeys + 8 cap bytes, freed before
 * return.
 * Thread-safety: reentrant. */
int rcache__belady(const uint32_t *ids, size_t n, uint32_t nkeys, uint64_t cap,
                   uint8_t *missed, rcache__belady_counts_t *out);

/* rcache__replay()'s contract for OPT: decodes the trace at `path` into key
 * ids (and per-request costs when o->cost is set), runs rcache__belady()
 * at o->max_items and fills *res (too_big 0; seconds: decode included).
 * o->max_bytes must be 0: OPT here is count-bounded (a byte-bounded
 * optimum is NP-hard; Belady by size is only a heuristic).
 * @return 0, or -1 with a message in err (trace error, out of memory,
 *         a byte capacity). */
int rcache__belady_replay(const char *path, const rcache__replay_opts_t *o,
                          rcache__replay_result_t *res, char *err, size_t errlen);

#endif
