/*
 * entry.c - cache entries: one allocation each, reference counted.
 *
 * An entry is a 48-byte header followed by the key and the value in the same
 * block (for an object entry, a small record holding the caller's pointer,
 * destructor and charge comes first; for an entry with a recorded compute
 * time, memoize's, that time's 4 bytes come next: most entries have
 * neither, so neither is a header field). One block per entry halves allocator
 * overhead against separate key/value blocks and keeps a lookup to one or
 * two cache misses. Blocks of up to RCACHE__SLAB_MAX bytes are slots of
 * the cache's slab store (slab.c); larger ones are malloc'd.
 *
 * The table holds one reference; every handle given out holds another. The
 * count is atomic so a handle can be released from any thread without a
 * shard lock: the last release runs the destructor, which is why unref
 * must never be called with a shard lock held, and retires the block
 * (epoch.c): a reader without the lock may still be looking at it, so its
 * memory is freed once every such reader has left. A lock-free reader
 * takes a reference only while the count is nonzero and no writer holds
 * the entry (rcache__entry_try_ref); a writer that changes an entry in
 * place (update.c's splice, a regrow, compaction) first takes it
 * exclusively, 1 -> 1 | RCACHE__REFS_WRITE, so such a reader falls back
 * to the locked path instead of reading half-written bytes.
 *
 * The charge of an entry (what it counts against max_bytes) is its real
 * footprint: the slab slot it takes (exact), or for a larger block the
 * chunk glibc malloc gives it, plus the hash-table slot it uses, plus, for
 * an object, the charge its owner declared.
 */
#include "internal.h"

#include <stddef.h>

#include <malloc.h>
#include <string.h>
#include <xxhash.h>

/* the header is what every entry pays (docs/DESIGN.md "entry layout") */
_Static_assert(sizeof(rcache__entry_t) <= 48, "the entry header must not grow");

uint64_t rcache__hash(const void *key, size_t klen) {
    return XXH3_64bits(key, klen);
}

uint64_t rcache__entry_size(size_t klen, size_t vlen, unsigned ext,
                            uint64_t obj_charge) {
    const int is_object = (ext & RCACHE__F_OBJECT) != 0;
    /* klen < 2^24 and vlen < 2^32 (checked by every caller) cannot wrap
     * the block; the declared charge of an object is checked before it is
     * stored, but saturate anyway so no sum here ever wraps to a small
     * size that would pass a limit. */
    uint64_t block = sizeof(rcache__entry_t) + (uint64_t)klen + (uint64_t)vlen +
                     rcache__ext_bytes(ext);
    uint64_t slot = rcache__slab_size((size_t)block);
    uint64_t size = (slot ? slot : rcache__alloc_footprint(block)) +
                    RCACHE__TABLE_SHARE;
    if (is_object)
        size = obj_charge > UINT64_MAX - size ? UINT64_MAX : size + obj_charge;
    return size;
}

uint64_t rcache__entry_charge(const rcache__entry_t *e) {
    const rcache__objext_t *x = rcache__entry_obj(e);
    return rcache__entry_size(e->klen, e->vlen, e->flags,
                              x ? x->charge_bytes : 0);
}

/* A block of n bytes: a slab slot when it fits one (flags say which). */
static rcache__entry_t *block_alloc(rcache_t *c, size_t n) {
    rcache__entry_t *e;
    if (n <= RCACHE__SLAB_MAX) {
        if (!(e = rcache__slab_alloc(c->slab, n)))
            return NULL;
        memset(e, 0, sizeof(*e));
        e->flags = RCACHE__F_SLAB;
    } else {
        if (!(e = rcache__malloc(n)))
            return NULL;
        memset(e, 0, sizeof(*e));
    }
    return e;
}

/* Free a block now: one no lock-free reader can reach (never published,
 * or past its grace period: the epoch's free function). */
static void block_free_now(void *p) {
    rcache__entry_t *e = p;
    if (e->flags & RCACHE__F_SLAB)
        rcache__slab_release(e);
    else
        rcache__free(e);
}

/* Bytes a block holds (the slot, or the malloc'd request). */
static uint64_t block_bytes(const rcache__entry_t *e) {
    size_t n = rcache__entry_block_len(e);
    return (e->flags & RCACHE__F_SLAB) ? rcache__slab_size(n) : n;
}

void rcache__entry_retire(rcache__entry_t *e) {
    rcache__epoch_retire(e, block_bytes(e), block_free_now);
}

/* ext: RCACHE__F_OBJECT or 0; a compute time adds RCACHE__F_COST. */
static rcache__entry_t *entry_alloc(rcache_t *c, unsigned ext,
                                    uint64_t compute_ms, const void *key,
                                    size_t klen, size_t vlen) {
    if (compute_ms)
        ext |= RCACHE__F_COST;
    rcache__entry_t *e =
        block_alloc(c, sizeof(*e) + rcache__ext_bytes(ext) + klen + vlen);
    if (!e)
        return NULL;
    atomic_init(&e->refs, 1);
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    e->flags = (uint8_t)(e->flags | ext);
    memcpy(rcache__entry_key(e), key, klen);
    if (compute_ms) { /* right before the key: rcache__entry_compute_ms() */
        uint32_t ms = compute_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)compute_ms;
        memcpy(rcache__entry_key(e) - sizeof ms, &ms, sizeof ms);
    }
    return e;
}

rcache__entry_t *rcache__entry_new(rcache_t *c, const void *key, size_t klen,
                                   const void *val, size_t vlen,
                                   uint64_t compute_ms) {
    rcache__entry_t *e = entry_alloc(c, 0, compute_ms, key, klen, vlen);
    if (e && vlen && val)
        memcpy(rcache__entry_val(e), val, vlen);
    return e;
}

rcache__entry_t *rcache__entry_new_object(rcache_t *c, const void *key,
                                          size_t klen, void *obj,
                                          uint64_t charge,
                                          rcache_destructor_fn dtor,
                                          void *dtor_ctx, uint64_t compute_ms) {
    rcache__entry_t *e =
        entry_alloc(c, RCACHE__F_OBJECT, compute_ms, key, klen, 0);
    if (!e)
        return NULL;
    rcache__objext_t *x = rcache__entry_obj(e);
    x->obj = obj;
    x->dtor = dtor;
    x->dtor_ctx = dtor_ctx;
    x->charge_bytes = charge;
    return e;
}

/* The atomic fields sit between the plain ones as entry_copy expects. */
_Static_assert(offsetof(rcache__entry_t, acc) ==
                       offsetof(rcache__entry_t, atime_s) + 4 &&
                   offsetof(rcache__entry_t, acc) + 4 == sizeof(rcache__entry_t),
               "rcache__entry_copy copies atime_s and acc last");

void rcache__entry_copy(rcache__entry_t *n, rcache__entry_t *e, size_t bytes) {
    /* The atomic fields are read one by one, not by the byte copies: a
     * lock-free reader's try-ref may compare-exchange refs meanwhile (and
     * fail, the write bit being set), and a lock-free hit that found e
     * before the writer took it may still store its access time and hit
     * bits (lost with the old block, as a hit bit may be). */
    const size_t at = offsetof(rcache__entry_t, refs), after = at + sizeof(e->refs);
    const size_t times = offsetof(rcache__entry_t, atime_s);
    memcpy(n, e, at);
    memcpy((unsigned char *)n + after, (const unsigned char *)e + after,
           times - after);
    atomic_store_explicit(&n->refs,
                          atomic_load_explicit(&e->refs, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&n->atime_s,
                          atomic_load_explicit(&e->atime_s, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&n->acc,
                          atomic_load_explicit(&e->acc, memory_order_relaxed),
                          memory_order_relaxed);
    memcpy(n->data, e->data, bytes - sizeof(*e));
}

rcache__entry_t *rcache__entry_resize(rcache_t *c, rcache__entry_t *e,
                                      size_t vlen) {
    size_t head = sizeof(*e) + rcache__ext_bytes(e->flags) + e->klen;
    size_t keep = head + (vlen < e->vlen ? vlen : e->vlen);
    size_t size = head + vlen;
    rcache__entry_t *n;
    /* a malloc'd block whose chunk already has the room grows where it
     * is; realloc is never used: it could free the old block under a
     * lock-free reader, so a move copies and retires the old one */
    if (!(e->flags & RCACHE__F_SLAB) && size > RCACHE__SLAB_MAX &&
        malloc_usable_size(e) >= size) {
        e->vlen = (uint32_t)vlen;
        return e;
    }
    /* a large value growing (APPEND) gets a quarter more room, so a run
     * of appends copies each byte a bounded number of times instead of
     * once per append; the slack is not charged (at most a quarter of
     * such an entry's value: see docs/DESIGN.md) */
    size_t room = size;
    if (size > RCACHE__SLAB_MAX && vlen > e->vlen)
        room = size + size / 4;
    n = block_alloc(c, room);
    if (!n)
        return NULL;
    unsigned slab = n->flags & RCACHE__F_SLAB;
    rcache__entry_copy(n, e, keep);
    n->flags = (uint8_t)((n->flags & ~RCACHE__F_SLAB) | slab);
    n->vlen = (uint32_t)vlen;
    return n; /* the caller retires e once n has taken its index slot */
}

void rcache__entry_discard(rcache__entry_t *e) {
    if (e)
        block_free_now(e); /* never published: no reader saw it */
}

void rcache__entry_ref(rcache__entry_t *e) {
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

int rcache__entry_try_ref(rcache__entry_t *e) {
    uint32_t r = atomic_load_explicit(&e->refs, memory_order_relaxed);
    do {
        if (r == 0 || (r & RCACHE__REFS_WRITE))
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(
        &e->refs, &r, r + 1, memory_order_acquire, memory_order_relaxed));
    return 1;
}

int rcache__entry_write_begin(rcache__entry_t *e) {
    uint32_t one = 1;
    return atomic_compare_exchange_strong_explicit(
        &e->refs, &one, 1u | RCACHE__REFS_WRITE, memory_order_acquire,
        memory_order_relaxed);
}

void rcache__entry_write_end(rcache__entry_t *e) {
    atomic_store_explicit(&e->refs, 1, memory_order_release);
}

void rcache__entry_unref(rcache__entry_t *e) {
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* the destructor runs now, with no lock held; only the block's memory
     * waits for the lock-free readers that may still look at it */
    rcache__objext_t *x = rcache__entry_obj(e);
    if (x && x->dtor)
        x->dtor(x->obj, x->dtor_ctx);
    rcache__entry_retire(e);
}
