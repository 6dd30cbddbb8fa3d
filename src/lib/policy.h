/*
 * policy.h - what the eviction policy files share (policy.c dispatches to
 * policy_s3fifo.c, policy_wtinylfu.c and policy_gdsf.c). Every function expects the
 * shard's lock held. Nothing here is part of the public API.
 */
#ifndef RCACHE_POLICY_H
#define RCACHE_POLICY_H

#include "internal.h"

/* Move e (on list i of p) to list j's head, keeping the counts. */
static inline void rcache__pol_move_to(rcache__pol_t *p, rcache__entry_t *e,
                                       unsigned j) {
    p->n[rcache__pq(e)]--;
    rcache__list_del(e);
    rcache__list_push(p->q[j], e);
    rcache__set_pq(e, j & 3u);
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
void rcache__s3fifo_link(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                         uint32_t h32);
rcache__entry_t *rcache__s3fifo_victim(rcache_t *c, rcache__shard_t *s,
                                       const rcache__entry_t *keep);
void rcache__s3fifo_evicted(rcache_t *c, rcache__shard_t *s,
                            const rcache__entry_t *v);
/* The ghost (policy_s3fifo.c): a FIFO of key hashes. add remembers hash
 * in *gp (created on first use), dropping the oldest beyond limit; a hash
 * already there stays where it is; on ENOMEM it remembers nothing. take
 * forgets hash: 1 if it was there. len: hashes held. */
void rcache__ghost_free(rcache__ghost_t *g);
void rcache__ghost_add(rcache__ghost_t **gp, uint32_t hash, uint64_t limit);
int rcache__ghost_take(rcache__ghost_t *g, uint32_t hash);
uint64_t rcache__ghost_len(const rcache__ghost_t *g);

/* wtinylfu (policy_wtinylfu.c) */
void rcache__wtlfu_link(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                        uint32_t h32);
void rcache__wtlfu_hit(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                       uint32_t h32);
rcache__entry_t *rcache__wtlfu_victim(rcache_t *c, rcache__shard_t *s,
                                      const rcache__entry_t *keep);
/* Evict v (the victim just chosen) and admit the pending window entry. */
void rcache__wtlfu_evict(rcache_t *c, rcache__shard_t *s, rcache__entry_t *v);
void rcache__sketch_free(rcache__sketch_t *k);
uint32_t rcache__wtlfu_victim_age(const rcache__shard_t *s,
                                  const rcache__entry_t *v);

/* gdsf (policy_gdsf.c) */
rcache__gdsf_t *rcache__gdsf_new(void); /* NULL on ENOMEM */
void rcache__gdsf_free(rcache__gdsf_t *g);
void rcache__gdsf_link(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e);
void rcache__gdsf_hit(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e);
/* e leaves the heap (before its list unlink). */
void rcache__gdsf_unlink(rcache__shard_t *s, const rcache__entry_t *e);
/* The entry at address old is now e (replaced, or moved by realloc). */
void rcache__gdsf_rename(rcache__shard_t *s, uintptr_t old,
                         rcache__entry_t *e);
rcache__entry_t *rcache__gdsf_victim(rcache__shard_t *s,
                                     const rcache__entry_t *keep);
/* Raise L to v's priority, then unlink v. */
void rcache__gdsf_evict(rcache_t *c, rcache__shard_t *s, rcache__entry_t *v);
/* Tests: the shard's inflation value, and e's heap record (0: none). */
double rcache__gdsf_inflation(const rcache__gdsf_t *g);
int rcache__gdsf_peek(const rcache__shard_t *s, const rcache__entry_t *e,
                      double *h, uint64_t *seq, uint32_t *freq);

#endif
