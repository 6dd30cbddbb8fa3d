/*
 * policy.c - the eviction policies' common part: list upkeep, lru and
 * sieve, and the dispatch to s3fifo (policy_s3fifo.c) and wtinylfu
 * (policy_wtinylfu.c). docs/DESIGN.md ("Eviction policies") explains each.
 *
 * A shard's policy state (rcache__pol_t) lives in the shard and is used
 * under its lock only. Entries are threaded on up to RCACHE__POL_LISTS
 * circular lists through their prev/next links; rcache__pq(e) names the
 * list and rcache__pf(e) holds the policy's per-entry bits (sieve's visited
 * bit, s3fifo's 2-bit access counter), both in the entry's atomic `acc`
 * word (internal.h), so no policy adds to the entry header and a hit may
 * update them without the lock.
 *
 * What a hit does: lru moves the entry to the head of its list (exact
 * LRU, as before policies existed); sieve sets a bit; s3fifo bumps a
 * 2-bit counter; wtinylfu moves the entry within its segmented LRU and
 * counts the access in the shard's frequency sketch. Eviction is where
 * sieve and s3fifo do their list work, lazily: rcache__pol_victim_locked()
 * advances the sieve hand or reinserts accessed FIFO entries until it
 * finds the entry to evict. gdsf (policy_gdsf.c) keeps a priority heap
 * beside its list and updates the entry's priority on a hit.
 */
#include "policy.h"

int rcache__pol_init(rcache__pol_t *p, int kind) {
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    for (unsigned i = 0; i < RCACHE__POL_LISTS; i++) {
        /* header only, allocated apart so no flexible-array struct is
         * embedded */
        p->q[i] = rcache__calloc(1, sizeof(rcache__entry_t));
        if (!p->q[i]) {
            rcache__pol_fini(p);
            return RCACHE_ENOMEM;
        }
        rcache__list_init(p->q[i]);
    }
    if (kind == RCACHE_POLICY_GDSF && !(p->gdsf = rcache__gdsf_new())) {
        rcache__pol_fini(p);
        return RCACHE_ENOMEM;
    }
    return RCACHE_OK;
}

void rcache__pol_fini(rcache__pol_t *p) {
    for (unsigned i = 0; i < RCACHE__POL_LISTS; i++) {
        rcache__free(p->q[i]);
        p->q[i] = NULL;
    }
    rcache__ghost_free(p->ghost);
    rcache__ghost_free(p->ghost2);
    rcache__sketch_free(p->sketch);
    rcache__gdsf_free(p->gdsf);
    p->ghost = p->ghost2 = NULL;
    p->sketch = NULL;
    p->gdsf = NULL;
}

uint64_t rcache__pol_cap(const rcache_t *c, const rcache__shard_t *s,
                         const rcache__entry_t *keep) {
    (void)c;
    uint64_t held = s->count - (keep && s->count ? 1u : 0u);
    return held ? held : 1u;
}

void rcache__pol_link_locked(rcache_t *c, rcache__shard_t *s,
                             rcache__entry_t *e, uint32_t h32) {
    rcache__pol_t *p = &s->pol;
    rcache__set_pf(e, 0);
    switch (p->kind) {
    case RCACHE_POLICY_S3FIFO:
        rcache__s3fifo_link(c, s, e, h32);
        return;
    case RCACHE_POLICY_WTINYLFU:
    case RCACHE_POLICY_WTINYLFU_FIXED:
        rcache__wtlfu_link(c, s, e, h32);
        return;
    case RCACHE_POLICY_GDSF:
        rcache__gdsf_link(c, s, e);
        return;
    default: /* lru, sieve: one list, new entries at its head */
        rcache__set_pq(e, 0);
        rcache__list_push(p->q[0], e);
        p->n[0]++;
        return;
    }
}

/* Repoint what referred to e before it leaves its place. */
static void forget_locked(rcache__pol_t *p, const rcache__entry_t *e) {
    if (p->hand == e) /* sieve: the hand moves on towards the head */
        p->hand = e->prev == p->q[rcache__pq(e)] ? NULL : e->prev;
    if (p->admit == e || p->admit_for == e)
        p->admit = p->admit_for = NULL;
    if (p->keep == e)
        p->keep = NULL;
}

void rcache__pol_unlink_locked(rcache__shard_t *s, rcache__entry_t *e) {
    rcache__pol_t *p = &s->pol;
    forget_locked(p, e);
    if (p->gdsf)
        rcache__gdsf_unlink(s, e);
    p->n[rcache__pq(e)]--;
    rcache__list_del(e);
}

void rcache__pol_replace_locked(rcache_t *c, rcache__shard_t *s,
                                rcache__entry_t *old, rcache__entry_t *e,
                                uint32_t h32) {
    rcache__pol_t *p = &s->pol;
    int hand = p->hand == old;
    forget_locked(p, old);
    rcache__set_pq(e, rcache__pq(old));
    rcache__set_pf(e, rcache__pf(old));
    e->prev = old->prev;
    e->next = old->next;
    e->prev->next = e;
    e->next->prev = e;
    old->prev = old->next = NULL;
    if (hand)
        p->hand = e;
    if (p->gdsf)
        rcache__gdsf_rename(s, (uintptr_t)old, e);
    rcache__pol_hit_locked(c, s, e, h32);
}

void rcache__pol_hit_locked(rcache_t *c, rcache__shard_t *s,
                            rcache__entry_t *e, uint32_t h32) {
    rcache__pol_t *p = &s->pol;
    switch (p->kind) {
    case RCACHE_POLICY_SIEVE:
        rcache__pf_bump(e, 1);
        return;
    case RCACHE_POLICY_S3FIFO:
        rcache__pf_bump(e, 3);
        return;
    case RCACHE_POLICY_WTINYLFU:
    case RCACHE_POLICY_WTINYLFU_FIXED:
        rcache__wtlfu_hit(c, s, e, h32);
        return;
    case RCACHE_POLICY_GDSF:
        rcache__gdsf_hit(c, s, e);
        return;
    default:
        if (p->q[0]->next != e) {
            rcache__list_del(e);
            rcache__list_push(p->q[0], e);
        }
        return;
    }
}

/* SIEVE (Zhang et al., NSDI'24): the hand walks from the tail towards the
 * head, clearing visited bits, and stops at the first unvisited entry;
 * after the eviction it continues from that entry's newer neighbour, and
 * wraps from the head to the tail. */
static rcache__entry_t *sieve_victim(rcache__pol_t *p,
                                     const rcache__entry_t *keep) {
    rcache__entry_t *h = p->q[0];
    if (p->n[0] == 0 || (p->n[0] == 1 && h->next == keep))
        return NULL;
    rcache__entry_t *e = p->hand ? p->hand : h->prev;
    for (;;) {
        if (e == h) {
            e = h->prev;
            continue;
        }
        if (e == keep) {
            e = e->prev;
            continue;
        }
        if (!rcache__pf(e))
            break;
        rcache__set_pf(e, 0);
        e = e->prev;
    }
    p->hand = e;
    return e;
}

rcache__entry_t *rcache__pol_victim_locked(rcache_t *c, rcache__shard_t *s,
                                           const rcache__entry_t *keep) {
    rcache__pol_t *p = &s->pol;
    p->keep = keep;
    switch (p->kind) {
    case RCACHE_POLICY_SIEVE:
        return sieve_victim(p, keep);
    case RCACHE_POLICY_S3FIFO:
        return rcache__s3fifo_victim(c, s, keep);
    case RCACHE_POLICY_WTINYLFU:
    case RCACHE_POLICY_WTINYLFU_FIXED:
        return rcache__wtlfu_victim(c, s, keep);
    case RCACHE_POLICY_GDSF:
        return rcache__gdsf_victim(s, keep);
    default:
        return rcache__pol_tail(p, 0, keep);
    }
}

uint32_t rcache__pol_victim_age_locked(const rcache__shard_t *s,
                                       const rcache__entry_t *v) {
    if (s->pol.kind == RCACHE_POLICY_WTINYLFU ||
        s->pol.kind == RCACHE_POLICY_WTINYLFU_FIXED)
        return rcache__wtlfu_victim_age(s, v);
    return rcache__atime(v);
}

void rcache__pol_evict_locked(rcache_t *c, rcache__shard_t *s,
                              rcache__entry_t *v) {
    switch (s->pol.kind) {
    case RCACHE_POLICY_WTINYLFU:
    case RCACHE_POLICY_WTINYLFU_FIXED:
        rcache__wtlfu_evict(c, s, v);
        return;
    case RCACHE_POLICY_GDSF:
        rcache__gdsf_evict(c, s, v);
        return;
    case RCACHE_POLICY_SIEVE:
        rcache__shard_unlink_locked(c, s, v);
        /* The hand moved to v's newer neighbour; when that is the entry
         * just stored it wraps to the tail instead, as in SIEVE, where the
         * new entry is inserted after the eviction. */
        if (s->pol.hand && s->pol.hand == s->pol.keep)
            s->pol.hand = NULL;
        return;
    case RCACHE_POLICY_S3FIFO:
        rcache__s3fifo_evicted(c, s, v);
        /* fall through */
    default:
        rcache__shard_unlink_locked(c, s, v);
        return;
    }
}

void rcache__pol_premove_locked(const rcache__shard_t *s,
                                const rcache__entry_t *e,
                                rcache__pol_move_t *m) {
    m->hand = s->pol.hand == e;
    m->admit = s->pol.admit == e;
    m->admit_for = s->pol.admit_for == e;
    m->old = (uintptr_t)e;
}

void rcache__pol_postmove_locked(rcache__shard_t *s, rcache__entry_t *n,
                                 const rcache__pol_move_t *m) {
    n->prev->next = n;
    n->next->prev = n;
    if (m->hand)
        s->pol.hand = n;
    if (m->admit)
        s->pol.admit = n;
    if (m->admit_for)
        s->pol.admit_for = n;
    if (s->pol.gdsf)
        rcache__gdsf_rename(s, m->old, n);
}

void rcache__pol_switch_locked(rcache_t *c, rcache__shard_t *s,
                               rcache__pol_t *np) {
    rcache__pol_t op = s->pol;
    s->pol = *np;
    s->lru = s->pol.q[0];
    for (unsigned i = 0; i < RCACHE__POL_LISTS; i++) {
        rcache__entry_t *h = op.q[i];
        while (h->prev != h) { /* oldest first */
            rcache__entry_t *e = h->prev;
            rcache__list_del(e);
            rcache__pol_link_locked(c, s, e, rcache__entry_hash32(e));
        }
    }
    op.hand = op.admit = op.admit_for = NULL;
    op.keep = NULL;
    rcache__pol_fini(&op);
}
