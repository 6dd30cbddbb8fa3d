/*
 * compact.c - slab compaction: move entries out of draining pages.
 *
 * slab.c marks a size class's sparse pages draining when the class has
 * many free slots (a shift in the mix of sizes, with a hot set keeping a
 * few entries alive on every old page, would otherwise pin those pages
 * and let the resident set grow past max_bytes). Here every shard is
 * walked under its lock and each linked entry on a draining page is copied
 * into a fresh slot of the same class and put in its old place: the same
 * bucket-chain position, the same place on the policy's lists (neighbours
 * and the policy's own pointers repointed, as for a regrow), the same
 * charge. The old slot is then retired; a draining page whose last slot
 * goes returns to the page pool.
 *
 * Only entries the table alone holds move (taken exclusively, refs 1 ->
 * 1 | WRITE, so neither a locked nor a lock-free reader takes a reference
 * meanwhile), and never a tagged one (the tag index takes references under
 * its own lock). The old slot is retired (epoch.c): a lock-free reader may
 * still be looking at it. An entry that stays is freed from its page when
 * its last reference goes. A pass costs
 * one walk of every table; a request needs a sixteenth of a class's slots
 * freed since the last scan (slab.c), so passes are rare and their cost
 * amortised over those frees; and it runs only while the pages held exceed
 * max_bytes (below the limit RSS has room: the draining pages just empty
 * as their entries go). Runs from rcache__evict(), no lock held.
 */
#include "internal.h"

/* Move e if it is on a draining page and only the table holds it: the
 * copy takes e's index slot in one store. Returns 1 when moved. */
static int move_locked(rcache_t *c, rcache__shard_t *s, rcache__entry_t *e) {
    if (!(e->flags & RCACHE__F_SLAB) || (e->flags & RCACHE__F_TAGGED) ||
        !rcache__slab_draining(e) || !rcache__entry_write_begin(e))
        return 0;
    size_t n = rcache__entry_block_len(e);
    rcache__entry_t *ne = rcache__slab_alloc(c->slab, n);
    if (!ne) {
        rcache__entry_write_end(e);
        return 0; /* out of memory: it stays where it is */
    }
    rcache__pol_move_t mv;
    rcache__pol_premove_locked(s, e, &mv);
    rcache__entry_copy(ne, e, n);
    atomic_store_explicit(&ne->refs, 1, memory_order_relaxed); /* the copy's */
    /* release: publishes ne */
    rcache__index_replace(&s->idx, (uintptr_t)e, ne, rcache__entry_hash32(ne));
    rcache__pol_postmove_locked(s, ne, &mv);
    /* e keeps the write bit: a lock-free reader that still reaches it
     * fails its try-get and takes the locked path, which finds ne */
    rcache__entry_retire(e);
    return 1;
}

static uint64_t compact_shard_locked(rcache_t *c, rcache__shard_t *s) {
    uint64_t moved = 0;
    size_t nb = rcache__index_buckets(&s->idx);
    for (size_t b = 0; b < nb; b++) {
        rcache__index_it_t it;
        rcache__entry_t *e;
        rcache__index_it_start(&s->idx, b, &it);
        while ((e = rcache__index_it_next(&it)) != NULL)
            moved += (uint64_t)move_locked(c, s, e);
    }
    return moved;
}

void rcache__compact(rcache_t *c) {
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);
    /* worth a walk only when the pages held pass the byte limit (the
     * slots in them never do): a cache below it, or without one, leaves
     * the request pending and its draining pages empty as entries go */
    if (mb == 0 || rcache__slab_pages_bytes(c->slab) <= mb ||
        !rcache__slab_compact_wanted(c->slab))
        return;
    uint64_t moved = 0;
    for (uint32_t i = 0; i < c->nshards; i++) {
        rcache__shard_t *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        moved += compact_shard_locked(c, s);
        pthread_mutex_unlock(&s->lock);
    }
    rcache__slab_count_compaction(c->slab, moved);
    /* the moved-from slots were retired: free them now unless a reader is
     * inside, so their pages go back to the pool */
    rcache__epoch_collect();
}
