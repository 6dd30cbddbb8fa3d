/*
 * policy_s3fifo.c - S3-FIFO (Yang et al., SOSP'23), as libCacheSim's
 * S3FIFO.c implements it, per shard: a small FIFO (q[0], 10% of the
 * shard's entries), a main FIFO (q[1], the rest) and a ghost FIFO of the
 * hashes of entries evicted from the small queue (90% of the entries).
 *
 *  - insert: a key found in the ghost goes to main (and leaves the ghost),
 *    others to small (as the original S3-FIFO and libCacheSim @ aa0fc40
 *    do; later libCacheSim sends new keys to main while small is full and
 *    nothing was evicted yet).
 *  - hit: bump the entry's 2-bit counter (pf, saturating at 3); no list
 *    work.
 *  - evict: from main when main is over its share or small is empty, else
 *    from small. Small: the tail moves to main's head (counter cleared) if
 *    its counter is >= 2, else it is the victim and its hash enters the
 *    ghost; this repeats until a victim is found or small is empty. Main:
 *    a tail with a counter >= 1 is reinserted at the head with the counter
 *    minus one, else it is the victim.
 * The entry just stored (keep) counts in no queue, as in libCacheSim where
 * eviction runs before the insert; entries moved to main go behind it.
 *
 * The ghost is a FIFO of 32-bit key hashes with a chained index, nodes in
 * one array (16 bytes each, grown by doubling). On ENOMEM it simply stops
 * remembering (a ghost hit is a hint, never needed for correctness).
 */
#include "policy.h"


typedef struct gnode {
    uint32_t hash;
    uint32_t hnext;      /* index chain (node index + 1; 0 = none) */
    uint32_t newer, older; /* FIFO links (index + 1) */
} gnode_t;

struct rcache__ghost {
    gnode_t *node;
    uint32_t *bucket;    /* node index + 1 of a chain head */
    uint32_t nnodes;     /* allocated nodes */
    uint32_t nbuckets;   /* power of two, >= nnodes */
    uint32_t used;       /* live nodes */
    uint32_t free_head;  /* free list through hnext */
    uint32_t newest, oldest;
};

void rcache__ghost_free(rcache__ghost_t *g) {
    if (!g)
        return;
    rcache__free(g->node);
    rcache__free(g->bucket);
    rcache__free(g);
}

static uint32_t *chain_of(rcache__ghost_t *g, uint32_t hash) {
    return &g->bucket[hash & (g->nbuckets - 1)];
}

/* Unlink node i (index + 1) from its chain and the FIFO; free it. */
static void ghost_drop(rcache__ghost_t *g, uint32_t i) {
    gnode_t *n = &g->node[i - 1];
    uint32_t *pp = chain_of(g, n->hash);
    while (*pp != i)
        pp = &g->node[*pp - 1].hnext;
    *pp = n->hnext;
    if (n->newer)
        g->node[n->newer - 1].older = n->older;
    else
        g->newest = n->older;
    if (n->older)
        g->node[n->older - 1].newer = n->newer;
    else
        g->oldest = n->newer;
    n->hnext = g->free_head;
    g->free_head = i;
    g->used--;
}

static uint32_t ghost_find(rcache__ghost_t *g, uint32_t hash) {
    for (uint32_t i = *chain_of(g, hash); i; i = g->node[i - 1].hnext)
        if (g->node[i - 1].hash == hash)
            return i;
    return 0;
}

/* Double the node array (and the index with it); -1 on ENOMEM. */
static int ghost_grow(rcache__ghost_t *g) {
    uint32_t nn = g->nnodes ? g->nnodes * 2u : 64u;
    if (nn < g->nnodes)
        return -1;
    gnode_t *node = rcache__realloc(g->node, (size_t)nn * sizeof(gnode_t));
    if (!node)
        return -1;
    g->node = node;
    uint32_t *b = rcache__calloc(nn, sizeof(uint32_t));
    if (!b)
        return -1; /* the node array grew but stays unused past nnodes */
    rcache__free(g->bucket);
    g->bucket = b;
    g->nbuckets = nn;
    for (uint32_t i = g->nnodes; i < nn; i++) { /* new nodes are free */
        g->node[i].hnext = g->free_head;
        g->free_head = i + 1;
    }
    for (uint32_t i = g->newest; i; i = g->node[i - 1].older) { /* reindex */
        uint32_t *pp = chain_of(g, g->node[i - 1].hash);
        g->node[i - 1].hnext = *pp;
        *pp = i;
    }
    g->nnodes = nn;
    return 0;
}

void rcache__ghost_add(rcache__ghost_t **gp, uint32_t hash, uint64_t limit) {
    rcache__ghost_t *g = *gp;
    if (limit == 0)
        return;
    if (!g) {
        if (!(g = rcache__calloc(1, sizeof(*g))))
            return;
        *gp = g;
    }
    if (g->nbuckets && ghost_find(g, hash))
        return; /* already remembered: libCacheSim's ghost "hit" */
    while (g->used >= limit && g->oldest)
        ghost_drop(g, g->oldest);
    if (!g->free_head && ghost_grow(g) != 0)
        return;
    uint32_t i = g->free_head;
    gnode_t *n = &g->node[i - 1];
    g->free_head = n->hnext;
    uint32_t *pp = chain_of(g, hash);
    n->hash = hash;
    n->hnext = *pp;
    *pp = i;
    n->newer = 0;
    n->older = g->newest;
    if (g->newest)
        g->node[g->newest - 1].newer = i;
    else
        g->oldest = i;
    g->newest = i;
    g->used++;
}

int rcache__ghost_take(rcache__ghost_t *g, uint32_t hash) {
    uint32_t i;
    if (!g || !g->nbuckets || !(i = ghost_find(g, hash)))
        return 0;
    ghost_drop(g, i);
    return 1;
}

uint64_t rcache__ghost_len(const rcache__ghost_t *g) { return g ? g->used : 0; }

void rcache__s3fifo_link(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e,
                         uint32_t h32) {
    (void)c;
    rcache__pol_t *p = &s->pol;
    unsigned q = 0;
    if (rcache__ghost_take(p->ghost, h32))
        q = 1;
    rcache__set_pq(e, q & 1u);
    rcache__list_push(p->q[q], e);
    p->n[q]++;
}

/* Put e at main's head, but behind keep when keep is there: libCacheSim
 * inserts the new entry after its eviction, so the new entry is newer. */
static void to_main(rcache__pol_t *p, rcache__entry_t *e,
                    const rcache__entry_t *keep) {
    p->n[rcache__pq(e)]--;
    rcache__list_del(e);
    if (keep && rcache__pq(keep) == 1 && p->q[1]->next == keep)
        rcache__list_push((rcache__entry_t *)keep, e);
    else
        rcache__list_push(p->q[1], e);
    rcache__set_pq(e, 1);
    p->n[1]++;
}

rcache__entry_t *rcache__s3fifo_victim(rcache_t *c, rcache__shard_t *s,
                                       const rcache__entry_t *keep) {
    rcache__pol_t *p = &s->pol;
    uint64_t cap = rcache__pol_cap(c, s, keep);
    uint64_t main_max = cap - cap / 10u;
    uint64_t nsmall = p->n[0] - (keep && rcache__pq(keep) == 0);
    uint64_t nmain = p->n[1] - (keep && rcache__pq(keep) == 1);
    rcache__entry_t *e;

    if (nmain <= main_max && nsmall > 0) {
        /* from small, until one is evicted or small runs out */
        while ((e = rcache__pol_tail(p, 0, keep)) != NULL) {
            if (rcache__pf(e) < 2)
                return e;
            to_main(p, e, keep);
            rcache__set_pf(e, 0);
        }
    }
    for (;;) {
        if (!(e = rcache__pol_tail(p, 1, keep)))
            return NULL;
        if (rcache__pf(e) == 0)
            return e;
        unsigned f = rcache__pf(e);
        to_main(p, e, keep);
        rcache__set_pf(e, (f - 1u) & 3u);
    }
}

void rcache__s3fifo_evicted(rcache_t *c, rcache__shard_t *s,
                            const rcache__entry_t *v) {
    rcache__pol_t *p = &s->pol;
    if (rcache__pq(v) == 0) {
        uint64_t cap = rcache__pol_cap(c, s, NULL);
        /* cap counts v, which is still linked: the ghost's share is
         * computed from the full cache, as libCacheSim sizes it */
        cap = cap > 1 ? cap - 1 : cap;
        rcache__ghost_add(&p->ghost, rcache__entry_hash32(v), cap * 9u / 10u);
    }
}
