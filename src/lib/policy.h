/*
 * policy.h - what the eviction policy files share (policy.c dispatches to
 * policy_s3fifo.c and policy_wtinylfu.c). Every function expects the
 * shard's lock held. Nothing here is part of the public API.
 */
#ifndef RCACHE_POLICY_H
#define RCACHE_POLICY_H

#include "internal.h"

/* Move e (on list i of p) to list j's head, keeping the counts. */
static inline void rcache__pol_move_to(rcache__pol_t *p, rcache__entry_t *e,
                                       unsigned j) {
    p->n[e->pq]--;
    rcache__list_del(e);
    rcache__list_push(p->q[j], e);
    e->pq = j & 3u;
    p->n[j]++;
}
/* Tail of list i other than keep (NULL when none): when the tail is keep,
 * the entry before it. */
static inline rcache__entry_t *rcache__pol_tail(const rcache__pol_t *p,
                                                unsigned i,
                                                const rcache__entry_t *keep) {
    rcache__entry_t *e = p->q[i]->prev;
    if (keep && e == keep)
        e = e->prev;
    return e == p->q[i] ? NULL : e;
}

/* s3fifo (policy_s3fifo.c) */
void rcache__s3fifo_link(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e);
rcache__entry_t *rcache__s3fifo_victim(rcache_t *c, rcache__shard_t *s,
                                       const rcache__entry_t *keep);
void rcache__s3fifo_evicted(rcache_t *c, rcache__shard_t *s,
                            const rcache__entry_t *v);
void rcache__ghost_free(rcache__ghost_t *g);

/* wtinylfu (policy_wtinylfu.c) */
void rcache__wtlfu_link(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e);
void rcache__wtlfu_hit(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e);
rcache__entry_t *rcache__wtlfu_victim(rcache_t *c, rcache__shard_t *s,
                                      const rcache__entry_t *keep);
/* Evict v (the victim just chosen) and admit the pending window entry. */
void rcache__wtlfu_evict(rcache_t *c, rcache__shard_t *s, rcache__entry_t *v);
void rcache__sketch_free(rcache__sketch_t *k);

#endif
