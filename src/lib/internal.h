/*
 * internal.h - declarations shared between librcache's source files
 * (rcache__ prefix).  Nothing here is part of the public API.
 *
 * Lock order (see docs/DESIGN.md):
 *   1. a shard lock; when two are needed (rename) the lower index first;
 *      eviction (evict.c) takes one at a time, called with none held;
 *   2. the memo in-flight lock of that key's stripe (memo.c), never taken
 *      while a shard lock is held, and never held while a callback runs.
 * Functions named *_locked expect the caller to hold the shard's lock.
 * Entries are freed, and destructors run, only after every lock is dropped.
 */
#ifndef RCACHE_INTERNAL_H
#define RCACHE_INTERNAL_H

#include "rcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- allocation (alloc.c) ------------------------------------------- */
/* Every allocation of the library goes through these, so the
 * allocation-failure test build (RCACHE_ALLOC_FAIL) can fail the N-th one. */
void *rcache__malloc(size_t n);
void *rcache__calloc(size_t n, size_t size);
void *rcache__realloc(void *p, size_t n);
void rcache__free(void *p);
/* 1 when the allocation-failure build fails this allocation (counted as
 * one); always 0 in other builds. For allocators of our own (slab.c). */
int rcache__alloc_injected_failure(void);
#ifdef RCACHE_ALLOC_FAIL
/* Fail the nth allocation counted from now (1 = the next one) and every
 * one after it while `sticky`; 0 turns injection off. */
void rcache__alloc_fail_after(long nth, int sticky);
/* Allocations made since the last rcache__alloc_fail_after(). */
long rcache__alloc_count(void);
#endif

/* ---- the entry store (slab.c) ---------------------------------------- */
/* Entries of up to RCACHE__SLAB_MAX bytes live in slots of size classes
 * (8-byte steps to 256 bytes, 16-byte steps above) carved from pages of
 * RCACHE__SLAB_PAGE bytes; larger ones are malloc'd. One store per cache. */
#define RCACHE__SLAB_MAX 1024u
#define RCACHE__SLAB_PAGE ((size_t)32768)
#define RCACHE__SLAB_CLASSES 77u /* 29 of 8-byte steps, 48 of 16-byte */
#define RCACHE__SLAB_ARENAS 4u
typedef struct rcache__slab rcache__slab_t;
/* A new, empty store; NULL on ENOMEM. max_bytes: the cache's limit, read
 * when a chunk is mapped (huge pages only in a cache of no limit or a
 * large one: slab.c chunk_huge); NULL counts as no limit. */
rcache__slab_t *rcache__slab_new(const _Atomic uint64_t *max_bytes);
/* Unmap every page. Every slot must have been released. NULL is fine. */
void rcache__slab_free(rcache__slab_t *sl);
/* Slot size for a block of n bytes, 0 when n > RCACHE__SLAB_MAX. */
size_t rcache__slab_size(size_t n);
/* A slot of rcache__slab_size(n) bytes (contents undefined); NULL when
 * n > RCACHE__SLAB_MAX or on ENOMEM. Thread-safe. */
void *rcache__slab_alloc(rcache__slab_t *sl, size_t n);
/* Give a slot back (any thread, no lock of the caller's needed). */
void rcache__slab_release(void *slot);
/* Compaction (slab.c marks sparse pages draining, compact.c moves the
 * entries out): is slot's page draining (read under the entry's shard
 * lock); take the pending request (1 once per request); count a pass. */
int rcache__slab_draining(void *slot);
int rcache__slab_compact_wanted(rcache__slab_t *sl);
uint64_t rcache__slab_pages_bytes(rcache__slab_t *sl); /* resident pages */
void rcache__slab_count_compaction(rcache__slab_t *sl, uint64_t moved);
/* Move the entries of draining slab pages that only the table holds into
 * other slots, shard by shard, when slab.c asked for it (compact.c). No
 * lock held. */
void rcache__compact(rcache_t *c);
/* What a store holds (for tests and diagnostics). */
typedef struct rcache__slab_info {
    uint64_t pages_bytes;  /* pages held by size classes (resident) */
    uint64_t slot_bytes;   /* slots handed out (what entries are charged) */
    uint64_t mapped_bytes; /* address space mapped, pooled pages included */
    uint64_t compactions;  /* compaction passes run */
    uint64_t moved;        /* entries they moved */
} rcache__slab_info_t;
void rcache__slab_info(rcache__slab_t *sl, rcache__slab_info_t *out);

/* ---- epoch-based reclamation (epoch.c) ------------------------------ */
/* Lock-free readers run inside a section: between enter and leave, every
 * block they reach through a shared structure stays allocated. A writer
 * that unlinked a block retires it; it is freed once every section that
 * could have seen it has ended. Process-wide (one domain for every cache).
 * docs/DESIGN.md ("Reads without locks") has the ordering argument. */
#define RCACHE__EPOCH_STRIPES 8u  /* limbo lists (a thread uses one) */
#define RCACHE__EPOCH_BATCH 16u   /* retirements between collections */
/* Retired bytes beyond which a retirement outside a section waits for the
 * readers (a stalled reader cannot make memory grow without bound). */
#define RCACHE__EPOCH_MAX_PENDING ((uint64_t)64 << 20)
typedef void (*rcache__epoch_free_fn)(void *p);
/* This thread's ordinal: 0, 1, 2... in the order threads first ask (below
 * 2^31). Spreads threads round-robin over the epoch stripes and the
 * entry store's arenas. */
unsigned rcache__thread_ordinal(void);
/* Enter a section (nests). 0, or -1 when this thread could not get a
 * record (ENOMEM): the caller takes its locked path instead. Cheap: a
 * store to this thread's own record and a fence. Any thread. Inside a
 * section take no lock and run no caller code: a writer past the pending
 * bound waits for every section to end, possibly under a shard lock. */
int rcache__epoch_enter(void);
/* Leave the section entered last. */
void rcache__epoch_leave(void);
/* 1 inside a section. */
int rcache__epoch_inside(void);
/* Free p with fn(p) once no section can still see it; bytes is what p
 * holds (counted against RCACHE__EPOCH_MAX_PENDING). Call after p was made
 * unreachable, with no lock held that fn's leaf locks order after, and
 * never inside a section. fn must not run caller code (destructors). May
 * free older blocks (its own batch) before returning. */
void rcache__epoch_retire(void *p, uint64_t bytes, rcache__epoch_free_fn fn);
/* Try to advance the epoch and free what is old enough (never waits). */
void rcache__epoch_collect(void);
/* Wait until every section that began before the call has ended, then
 * free everything retired before it (rcache_close: no slab slot may be
 * freed after its store is unmapped). Does nothing inside a section. */
void rcache__epoch_barrier(void);
/* Figures for tests and diagnostics. */
typedef struct rcache__epoch_info {
    uint64_t epoch;         /* the global epoch */
    uint64_t pending_items; /* retired, not yet freed */
    uint64_t pending_bytes; /* their bytes */
    uint64_t freed_items;   /* freed since start */
    uint64_t waits;         /* retirements that waited at the bound */
} rcache__epoch_info_t;
void rcache__epoch_info(rcache__epoch_info_t *out);

/* ---- entries (entry.c) ---------------------------------------------- */
#define RCACHE__F_OBJECT 0x1u /* value is a caller object (rcache__objext) */
#define RCACHE__F_TAGGED 0x2u /* set before the entry is published when it
                                 gets tags; never cleared (the tag index,
                                 tags.c, is the truth: the flag only spares
                                 untagged entries a look there) */
#define RCACHE__F_SLAB 0x4u   /* the block is a slab slot (slab.c), not a
                                 malloc'd block */
#define RCACHE__F_COST 0x8u   /* a compute time was recorded: a uint32
                                 (ms, saturating) precedes the key */

/*
 * One cache entry, allocated in one block: the header, then for an object
 * entry a struct rcache__objext, then for an entry with a recorded compute
 * time its uint32 (RCACHE__F_COST), then the key, then the value bytes.
 * 48 bytes of header on LP64: the index (index.c) holds no link in it, and
 * neither the key's hash (recomputed from the key where an entry's own
 * hash is needed: index moves, policy ghosts and sketches) nor a compute
 * time most entries do not have.
 */
typedef struct rcache__entry {
    struct rcache__entry *prev;  /* policy list (policy.c): towards head;
                                    an entry removed from the table: the
                                    reclaim chain (rcache__reclaim_t) */
    struct rcache__entry *next;  /* policy list: towards tail */
    uint64_t expire_at_ms;       /* absolute, cache clock; 0 = no expiry */
    _Atomic uint32_t refs;       /* 1 while in the table + 1 per handle */
    uint32_t klen : 24;          /* key length (<= RCACHE_MAX_KEY_LEN) */
    uint32_t flags : 8;          /* RCACHE__F_* */
    uint32_t vlen;               /* value length (0 for objects) */
    uint32_t ctime_s;            /* created, s since the cache epoch */
    _Atomic uint32_t atime_s;    /* last access, s since the cache epoch
                                    (a hit may store it without the lock:
                                    relaxed, rcache__atime_touch) */
    _Atomic uint32_t acc;        /* what a hit writes, without the lock
                                    too (rcache__pf etc. below): bits 0-1
                                    pf, the policy's visited bit / access
                                    counter; bits 2-3 pq, which list of
                                    the shard (written under the lock
                                    only); bits 4-31 hits since stored
                                    (saturating at RCACHE__HITS_MAX) */
    unsigned char data[];        /* [objext] [compute ms] key value */
} rcache__entry_t;

typedef struct rcache__objext {
    void *obj;
    rcache_destructor_fn dtor;
    void *dtor_ctx;
    uint64_t charge_bytes;
} rcache__objext_t;

#define RCACHE__HITS_MAX ((1u << 28) - 1u)

/* The fields of e->acc. Reads are relaxed; every change is a CAS loop on
 * the whole word, so a lock-free hit (pf, hits) and a locked policy change
 * (pq, pf) never undo each other's other bits. A policy's read-then-write
 * of pf under the lock (s3fifo's decrement) may lose a hit that lands in
 * between: hit bits are lossy, as in Caffeine's read buffers. */
#define RCACHE__ACC_PF 0x3u
#define RCACHE__ACC_PQ_SHIFT 2
#define RCACHE__ACC_HITS_SHIFT 4
static inline unsigned rcache__pf(const rcache__entry_t *e) {
    return atomic_load_explicit(&e->acc, memory_order_relaxed) & RCACHE__ACC_PF;
}
static inline unsigned rcache__pq(const rcache__entry_t *e) {
    return (atomic_load_explicit(&e->acc, memory_order_relaxed) >>
            RCACHE__ACC_PQ_SHIFT) & 3u;
}
static inline uint32_t rcache__hits(const rcache__entry_t *e) {
    return atomic_load_explicit(&e->acc, memory_order_relaxed) >>
           RCACHE__ACC_HITS_SHIFT;
}
/* Replace the bits of mask by v (already shifted into place). */
static inline void rcache__acc_set(rcache__entry_t *e, uint32_t mask,
                                   uint32_t v) {
    uint32_t o = atomic_load_explicit(&e->acc, memory_order_relaxed);
    while ((o & mask) != v &&
           !atomic_compare_exchange_weak_explicit(&e->acc, &o, (o & ~mask) | v,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}
static inline void rcache__set_pf(rcache__entry_t *e, unsigned v) {
    rcache__acc_set(e, RCACHE__ACC_PF, v & 3u);
}
static inline void rcache__set_pq(rcache__entry_t *e, unsigned v) {
    rcache__acc_set(e, 3u << RCACHE__ACC_PQ_SHIFT,
                    (v & 3u) << RCACHE__ACC_PQ_SHIFT);
}
static inline void rcache__set_hits(rcache__entry_t *e, uint32_t v) {
    rcache__acc_set(e, ~(uint32_t)0 << RCACHE__ACC_HITS_SHIFT,
                    (v > RCACHE__HITS_MAX ? RCACHE__HITS_MAX : v)
                        << RCACHE__ACC_HITS_SHIFT);
}
/* pf += 1 up to max (sieve: max 1 sets the bit; s3fifo: max 3). No write
 * when already there: a hot entry's line is not dirtied again. */
static inline void rcache__pf_bump(rcache__entry_t *e, unsigned max) {
    uint32_t o = atomic_load_explicit(&e->acc, memory_order_relaxed);
    while ((o & RCACHE__ACC_PF) < max &&
           !atomic_compare_exchange_weak_explicit(&e->acc, &o, o + 1u,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}
/* Hits counted exactly; past this, estimated (rcache__hits_step). */
#define RCACHE__HITS_EXACT_LOG2 7u
#define RCACHE__HITS_EXACT (1u << RCACHE__HITS_EXACT_LOG2)

/* What a hit adds to a count of h hits, given a pseudo-random draw: 1
 * below RCACHE__HITS_EXACT (128); above, 2^k with probability 2^-k, k =
 * log2(h) - 6 (64 steps per doubling: an unbiased estimate, one standard
 * deviation about 8% of the count, that writes a hot entry's line about
 * 64 times per doubling of its hits instead of on every hit: two threads
 * hitting a small hot set would otherwise take that line from each other
 * on every hit). The draw is the thread's running hit count plus the
 * entry's address; the top k bits of its Weyl-sequence product decide. */
static inline uint32_t rcache__hits_step(uint32_t h, uint64_t draw) {
    if (h < RCACHE__HITS_EXACT)
        return 1;
    unsigned k = (31u - (unsigned)__builtin_clz(h)) -
                 (RCACHE__HITS_EXACT_LOG2 - 1u); /* >= 1 */
    if ((draw * 0x9E3779B97F4A7C15ull) >> (64u - k))
        return 0;
    uint32_t step = 1u << k;
    return h > RCACHE__HITS_MAX - step ? RCACHE__HITS_MAX - h : step;
}
/* Count a hit (exact below RCACHE__HITS_EXACT, then estimated:
 * rcache__hits_step; saturating) and bump the policy's bits up to pf_max
 * (0: leave them): one compare-exchange, so a lock-free hit does both with
 * one full barrier instead of two, and none when neither changes. draw: the
 * thread's running hit count (rcache__ctr_add's result) or any value that
 * changes from hit to hit. */
static inline void rcache__hit_bump(rcache__entry_t *e, unsigned pf_max,
                                    uint64_t draw) {
    uint32_t o = atomic_load_explicit(&e->acc, memory_order_relaxed), n;
    draw += (uintptr_t)e;
    do {
        n = o + (rcache__hits_step(o >> RCACHE__ACC_HITS_SHIFT, draw)
                 << RCACHE__ACC_HITS_SHIFT);
        if ((o & RCACHE__ACC_PF) < pf_max)
            n += 1u;
    } while (n != o &&
             !atomic_compare_exchange_weak_explicit(&e->acc, &o, n,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
}
/* Move the access time forward to at_s (never back). */
static inline void rcache__atime_touch(rcache__entry_t *e, uint32_t at_s) {
    if (at_s > atomic_load_explicit(&e->atime_s, memory_order_relaxed))
        atomic_store_explicit(&e->atime_s, at_s, memory_order_relaxed);
}
static inline void rcache__atime_set(rcache__entry_t *e, uint32_t at_s) {
    atomic_store_explicit(&e->atime_s, at_s, memory_order_relaxed);
}
static inline uint32_t rcache__atime(const rcache__entry_t *e) {
    return atomic_load_explicit(&e->atime_s, memory_order_relaxed);
}

/* Bytes the index (index.c) costs, charged to each entry: one 64-byte
 * bucket line holds up to 8 entries and the table doubles when it holds
 * RCACHE__INDEX_LOAD (6) a bucket on average and halves below a quarter of
 * that, so it stays between 1.5 and 6 a bucket (10.7 to 43 bytes an
 * entry); we charge the cost at 3 a bucket (64 / 3 = 21.3), where a table
 * is after it grows or shrinks (see docs/DESIGN.md). */
#define RCACHE__TABLE_SHARE 21u

/* What an allocation of n bytes costs in glibc malloc (8-byte chunk
 * header, 16-byte granularity, 32-byte minimum). */
static inline uint64_t rcache__alloc_footprint(uint64_t n) {
    uint64_t chunk = (n + 8u + 15u) & ~(uint64_t)15u;
    return chunk < 32u ? 32u : chunk;
}

/* 64-bit hash of a key (XXH3). */
uint64_t rcache__hash(const void *key, size_t klen);

/* Bytes between the header and the key for these RCACHE__F_* flags. */
static inline size_t rcache__ext_bytes(unsigned flags) {
    return ((flags & RCACHE__F_OBJECT) ? sizeof(rcache__objext_t) : 0) +
           ((flags & RCACHE__F_COST) ? sizeof(uint32_t) : 0);
}
static inline unsigned char *rcache__entry_key(const rcache__entry_t *e) {
    return (unsigned char *)e->data + rcache__ext_bytes(e->flags);
}
/* The block's bytes as requested: header, extensions, key, value. */
static inline size_t rcache__entry_block_len(const rcache__entry_t *e) {
    return sizeof(*e) + rcache__ext_bytes(e->flags) + e->klen + e->vlen;
}
/* The compute time recorded with e, ms (0: none). */
static inline uint32_t rcache__entry_compute_ms(const rcache__entry_t *e) {
    uint32_t ms = 0;
    if (e->flags & RCACHE__F_COST)
        memcpy(&ms, rcache__entry_key(e) - sizeof ms, sizeof ms);
    return ms;
}
/* The low 32 bits of e's key hash (rcache__hash), recomputed: the header
 * does not keep it. */
static inline uint32_t rcache__entry_hash32(const rcache__entry_t *e) {
    return (uint32_t)rcache__hash(rcache__entry_key(e), e->klen);
}
static inline unsigned char *rcache__entry_val(const rcache__entry_t *e) {
    return rcache__entry_key(e) + e->klen;
}
static inline rcache__objext_t *rcache__entry_obj(const rcache__entry_t *e) {
    return (e->flags & RCACHE__F_OBJECT) ? (rcache__objext_t *)e->data : NULL;
}

/* Footprint of an entry with these sizes (what max_bytes is charged);
 * ext: its RCACHE__F_* flags, of which RCACHE__F_OBJECT and
 * RCACHE__F_COST count (0: a plain byte string; 1 is RCACHE__F_OBJECT). */
uint64_t rcache__entry_size(size_t klen, size_t vlen, unsigned ext,
                            uint64_t obj_charge);
/* Footprint of an existing entry. */
uint64_t rcache__entry_charge(const rcache__entry_t *e);
/* Allocate a byte-string entry of c's store (refs = 1); val NULL leaves
 * the vlen value bytes for the caller to fill; compute_ms: the compute time
 * to record (0: none, and no room taken for it; saturates at UINT32_MAX).
 * NULL on ENOMEM. */
rcache__entry_t *rcache__entry_new(rcache_t *c, const void *key, size_t klen,
                                   const void *val, size_t vlen,
                                   uint64_t compute_ms);
/* Allocate an object entry of c's store (refs = 1); compute_ms as above.
 * NULL on ENOMEM. */
rcache__entry_t *rcache__entry_new_object(rcache_t *c, const void *key,
                                          size_t klen,
                                          void *obj, uint64_t charge,
                                          rcache_destructor_fn dtor,
                                          void *dtor_ctx, uint64_t compute_ms);
/* Copy the first bytes (>= the header) of e into n, refs included but
 * read and written atomically (a lock-free reader's try-ref may touch e's
 * meanwhile); for a writer holding e's write bit. */
void rcache__entry_copy(rcache__entry_t *n, rcache__entry_t *e, size_t bytes);
/* Copy e (never linked elsewhere meanwhile) into a block for a value of
 * vlen bytes (the first min(vlen, e->vlen) value bytes kept, the rest
 * uninitialised); a malloc'd block whose chunk has the room is grown where
 * it is and returned. When the result is another block, the caller
 * retires e (rcache__entry_retire) after the copy replaced it in the
 * index, never before: a reader entering between a retirement and the
 * unlinking could still reach e after its grace period. Returns the new entry (its refs
 * copied from e), or NULL on ENOMEM with e unchanged. Byte-string entries
 * only. */
rcache__entry_t *rcache__entry_resize(rcache_t *c, rcache__entry_t *e,
                                      size_t vlen);
/* Free an entry no one else has seen, without running its destructor
 * (a refused store: the caller keeps its object). */
void rcache__entry_discard(rcache__entry_t *e);
/* Take one more reference (the caller holds one, or the shard lock). */
void rcache__entry_ref(rcache__entry_t *e);
/* refs bit of a writer that holds the entry exclusively to change it in
 * place (see entry.c); set only from refs == 1 (the table's alone). */
#define RCACHE__REFS_WRITE 0x80000000u
/* Take a reference unless the count is 0 (being freed) or a writer holds
 * the entry: 1 when taken. For readers without the shard lock, inside an
 * epoch section. */
int rcache__entry_try_ref(rcache__entry_t *e);
/* Under the shard lock: take e exclusively (refs 1 -> 1 | WRITE) to write
 * it in place; 0 when anyone else holds a reference. A copy of the header
 * (regrow, compaction) carries the bit; write_end clears it (refs = 1) on
 * the entry that stays linked. */
int rcache__entry_write_begin(rcache__entry_t *e);
void rcache__entry_write_end(rcache__entry_t *e);
/* Free a block once no lock-free reader can see it (epoch.c); for a block
 * that left the table or was replaced by a copy. Runs no destructor. */
void rcache__entry_retire(rcache__entry_t *e);
/* Drop a reference; the last one runs the destructor and retires the
 * block (freed after the lock-free readers). Never with a shard lock held. */
void rcache__entry_unref(rcache__entry_t *e);

/* ---- the key index of a shard (index.c) ----------------------------- */
/* A bucketized hash table: each bucket is one 64-byte line of 8 slot words,
 * a slot the entry's address with 18 bits of its hash (g, index.c) in the
 * top 16 bits and bits 1-2 (user addresses fit 48 bits on x86-64 and
 * aarch64; see index.c for the fallback), 0 when empty. The last slot of
 * a full bucket holds instead the address of an overflow bucket, low bit
 * set. Bucket = hash & mask: a bucket and its overflow chain are the unit
 * of scans, sweeps, resizes.
 * Every slot word is written with a release store and read with an acquire
 * load, and a replaced entry's slot changes in one store, so that a reader
 * without the lock (step 3 of issue 13) sees the old or the new entry;
 * tables and overflow buckets a resize drops go through
 * rcache__index_retire(). Everything else: under the shard lock. */
#define RCACHE__INDEX_SLOTS 8u
/* Entries a bucket holds on average when the table doubles. */
#define RCACHE__INDEX_LOAD 6u
/* Chains with an emptied overflow bucket remembered for the next tidy. */
#define RCACHE__INDEX_TIDY 8u
/* Smallest table (buckets); a table never shrinks below its starting size. */
#define RCACHE__MIN_BUCKETS 4u
typedef struct rcache__ibucket {
    _Atomic uint64_t w[RCACHE__INDEX_SLOTS];
} __attribute__((aligned(64))) rcache__ibucket_t;
typedef struct rcache__itab {
    size_t mask;          /* buckets - 1 (a power of two) */
    uint64_t cmask;       /* the slot bits a lookup compares: `width` bits
                             of g (index.c), 0 when none */
    uint8_t shift;        /* log2(buckets) */
    uint8_t width;        /* valid low bits of g in every slot (index.c) */
    rcache__ibucket_t b[]; /* the buckets, from the table's second line */
} rcache__itab_t;
typedef struct rcache__index {
    rcache__itab_t *_Atomic tab; /* the table (release-stored on resize) */
    _Atomic size_t pmask;  /* tab's mask, for a prefetch without the lock */
    uint64_t count;        /* entries held */
    size_t min_buckets;    /* size at init: never shrunk below it */
    uint64_t overflow;     /* overflow buckets held */
    uint64_t tagmask;      /* the slot bits that are not address (g's) when
                              tags are packed, else 0 */
    uint32_t gbits;        /* bits of g a new slot keeps: 18, or 0 (test:
                              every tag equal) */
    /* an entry's hash32, recomputed (the header keeps none): set by init
     * to rcache__entry_hash32; tests may give fake entries fake hashes */
    uint32_t (*hash_of)(const rcache__entry_t *e);
    uint32_t ntidy;        /* chains with an emptied overflow bucket ... */
    uint32_t tidy[RCACHE__INDEX_TIDY]; /* ... (their hash32), for tidy() */
} rcache__index_t;
/* A walk over one bucket and its overflow chain. Removing or replacing the
 * entry last returned is allowed during the walk (no bucket is freed by a
 * removal: only by a resize or rcache__index_tidy(), which nothing calls
 * while a walk is in progress); a removal may move a later entry of the
 * chain into a slot already passed, which this walk then does not see. */
typedef struct rcache__index_it {
    const rcache__ibucket_t *b;
    unsigned i;
    uint64_t tagmask;
} rcache__index_it_t;
/* Test hook: set before a cache opens, every tag of its tables is equal
 * (every lookup compares every key of the chain). */
extern int rcache__index_test_same_tag;
/* Set up an index sized for `entries` (a table of RCACHE__MIN_BUCKETS or
 * more buckets holding RCACHE__INDEX_LOAD a bucket). RCACHE_ENOMEM. */
int rcache__index_init(rcache__index_t *ix, size_t entries);
/* Free the table and its overflow buckets (the entries are the caller's). */
void rcache__index_fini(rcache__index_t *ix);
/* Release a table or an overflow bucket (bytes: its size) dropped from the
 * index: freed through rcache__epoch_retire once no lock-free reader can
 * still reach it. The one place index memory is released. Never inside an
 * epoch section. */
void rcache__index_retire(void *block, size_t bytes);
/* The entry with this key (hash32: low 32 bits of its hash), or NULL. */
rcache__entry_t *rcache__index_find(const rcache__index_t *ix, uint32_t hash32,
                                    const void *key, size_t klen);
/* The same without the shard lock, inside an epoch section (the lock-free
 * hit path, cache.c). The entry may be unlinked or replaced meanwhile (the
 * caller's try-ref decides); NULL is not a miss: a removal's move of an
 * overflow entry into an earlier slot, or the untagging, can hide a key
 * for a moment, so the caller re-runs the lookup under the lock. */
rcache__entry_t *rcache__index_find_nolock(const rcache__index_t *ix,
                                           uint32_t hash32, const void *key,
                                           size_t klen);
/* Add e (absent; h32: its hash32, what ix->hash_of(e) gives). Never resizes. RCACHE_ENOMEM when a full
 * bucket chain needs an overflow bucket and none can be allocated (nothing
 * changed). */
int rcache__index_add(rcache__index_t *ix, rcache__entry_t *e, uint32_t h32);
/* Remove e (present): the chain's last entry, when in a later (overflow)
 * bucket, moves into e's slot (stored there, then cleared where it was),
 * else e's slot becomes empty. No bucket is freed (a walk may be inside
 * it), but a chain whose overflow bucket this empties is remembered for
 * rcache__index_tidy(). */
void rcache__index_del(rcache__index_t *ix, const rcache__entry_t *e);
/* Unlink and retire the empty overflow buckets of the chains remembered
 * (not during a walk of the table). */
void rcache__index_tidy(rcache__index_t *ix);
/* Put e in the slot of the entry at address old (same key; old is not
 * read, so it may already be freed), in one store. */
void rcache__index_replace(rcache__index_t *ix, uintptr_t old,
                           rcache__entry_t *e, uint32_t h32);
/* Double the table when one more entry would pass the load; halve it
 * (towards its starting size) when under a quarter of it; grow it for
 * `entries`. On ENOMEM each keeps the old table (longer chains). */
void rcache__index_maybe_grow(rcache__index_t *ix);
void rcache__index_maybe_shrink(rcache__index_t *ix);
void rcache__index_reserve(rcache__index_t *ix, size_t entries);
/* Rehash into n buckets (a power of two), for tests; RCACHE_ENOMEM. */
int rcache__index_resize(rcache__index_t *ix, size_t n);
/* Tests: every entry in the bucket its hash names, its slot's valid bits
 * of g those of its key's hash. NULL when so, else what differs. */
const char *rcache__index_check(const rcache__index_t *ix);
/* Store every entry untagged from now on (index.c calls it when an
 * address does not fit 48 bits; tests call it to check that path). */
void rcache__index_untag(rcache__index_t *ix);
/* Buckets of the table (mask + 1). */
static inline size_t rcache__index_buckets(const rcache__index_t *ix) {
    return atomic_load_explicit(&ix->tab, memory_order_relaxed)->mask + 1;
}
/* Prefetch the bucket line of hash32; safe without the lock (reads only
 * atomics and never dereferences a table). */
static inline void rcache__index_prefetch(const rcache__index_t *ix,
                                          uint32_t hash32) {
    const rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    size_t m = atomic_load_explicit(&ix->pmask, memory_order_relaxed);
    /* t and m may be a resize apart: a wrong line is only a wasted hint */
    __builtin_prefetch((const char *)t + offsetof(rcache__itab_t, b) +
                       sizeof(rcache__ibucket_t) * (hash32 & m));
}
/* Prefetch the first entry whose tag matches hash32 (under the lock). */
void rcache__index_prefetch_entry(const rcache__index_t *ix, uint32_t hash32);
/* Start a walk of bucket `bucket` (taken & mask) and step through it. */
void rcache__index_it_start(const rcache__index_t *ix, size_t bucket,
                            rcache__index_it_t *it);
rcache__entry_t *rcache__index_it_next(rcache__index_it_t *it);

/* ---- the cache clock (clock.c) --------------------------------------- */
/* Every time below is ms on the cache clock (see clock.c and DESIGN.md):
 * by default CLOCK_MONOTONIC shifted to read as ms since the Unix epoch at
 * open, so wall-clock steps move no expiry; or the injected clock. */

/* Largest absolute time or TTL: every one fits an int64_t, so replies and
 * remaining-TTL arithmetic never overflow. Expiry sums saturate here. */
#define RCACHE__TIME_MAX ((uint64_t)INT64_MAX)

typedef struct rcache__clock {
    rcache_clock_fn fn;  /* injected clock, or NULL for the default */
    void *ctx;           /* its context */
    int64_t base_ns;     /* default clock: CLOCK_REALTIME - CLOCK_MONOTONIC
                            at open */
    uint64_t epoch_ms;   /* the clock at open; entry times are relative */
    _Atomic int64_t wall_offset_ms; /* last wall offset reported */
} rcache__clock_t;

/* Set up the clock (fn NULL: the default) and read its epoch. */
void rcache__clock_init(rcache__clock_t *k, rcache_clock_fn fn, void *ctx);
/* Exact time: what every expiry decision and TTL computation uses. */
uint64_t rcache__clock_now(const rcache__clock_t *k);
/* Coarse time (last timer tick): never ahead of the exact time, behind it
 * by an unbounded amount when a tick is late; access-time stamps only. */
uint64_t rcache__clock_coarse(const rcache__clock_t *k);
/* Wall clock minus cache clock, ms (0 for an injected clock). */
int64_t rcache__clock_wall_offset(rcache__clock_t *k);
/* Seconds since the epoch of the clock for a time, and back. */
uint32_t rcache__clock_rel_s(const rcache__clock_t *k, uint64_t now_ms);
uint64_t rcache__clock_abs_ms(const rcache__clock_t *k, uint32_t rel_s);

/* The time of one operation: read lazily, at most once exactly, and only
 * after the operation's shard lock is taken. Zero-initialise. */
enum { RCACHE__T_NONE = 0, RCACHE__T_COARSE = 1, RCACHE__T_EXACT = 2 };
typedef struct rcache__optime {
    uint64_t ms;
    int state; /* RCACHE__T_* */
} rcache__optime_t;
/* The exact time of the operation (read on first use). */
uint64_t rcache__op_now(const rcache_t *c, rcache__optime_t *t);
/* A time for access stamps: the exact one if already read, else coarse. */
uint64_t rcache__op_stamp(const rcache_t *c, rcache__optime_t *t);

/* now + ms, saturating at RCACHE__TIME_MAX: a huge TTL means "far future",
 * never a wrap-around into the past. */
uint64_t rcache__add_ms(uint64_t now, uint64_t ms);
/* Remaining ms of e at now: -1 no expiry, 0 expired, else expiry - now
 * (at most INT64_MAX). The one place remaining time is computed. */
int64_t rcache__ttl_left(const rcache__entry_t *e, uint64_t now);

/* ---- shards and the cache (shard.c, cache.c) ------------------------ */

/* Counters a lookup bumps (hits, misses, compute_saved_ms) live in
 * per-thread slots of the cache (a thread's slot is picked once, round
 * robin; threads beyond RCACHE__CTR_SLOTS share slots), added with relaxed
 * atomics, so a hit writes no line another thread writes (when threads <=
 * slots) and needs no shard lock; rcache_stats() sums them. 128 bytes
 * apart, so two slots never share a cache line whatever the alignment. */
#define RCACHE__CTR_SLOTS 32u
typedef struct rcache__ctr {
    _Atomic uint64_t hits;             /* lookups that found a live entry */
    _Atomic uint64_t misses;           /* lookups that found none */
    _Atomic uint64_t compute_saved_ms; /* sum of compute_ms over hits */
    unsigned char pad[128 - 3 * sizeof(uint64_t)];
} rcache__ctr_t;
/* Hits served without the shard lock since open or the last reset: the
 * slots' hits less the shards' locked_hits (a lock-free hit counts no
 * second counter), exact once the lookups counted have returned; tests. */
uint64_t rcache__nolock_hits(const rcache_t *c);
/* This thread's counter slot of c. */
rcache__ctr_t *rcache__ctr(const rcache_t *c);
/* Add n; returns the slot's new value (the diagnostics' sampling count). */
static inline uint64_t rcache__ctr_add(_Atomic uint64_t *v, uint64_t n) {
    return atomic_fetch_add_explicit(v, n, memory_order_relaxed) + n;
}

/* Counters of one shard, updated under its lock. */
typedef struct rcache__shard_stats {
    uint64_t sets;             /* successful stores */
    uint64_t deletes;          /* explicit removals */
    uint64_t evictions_items;  /* removed to honour max_items */
    uint64_t evictions_bytes;  /* removed to honour max_bytes */
    uint64_t expirations;      /* removed because expired */
    uint64_t scan_buckets;     /* buckets rcache_scan() visited (tests use
                                  it to check the per-call bound) */
    uint64_t locked_hits;      /* hits served under the lock (the rest of
                                  the slots' hits were lock-free) */
} rcache__shard_stats_t;

/* ---- eviction policy state of one shard (policy*.c) ----------------- */
/* Every linked entry is on exactly one of the shard's RCACHE__POL_LISTS
 * circular lists (sentinel q[i]; q[i]->next is the head, the newest,
 * q[i]->prev the tail); e->pq says which. Lists a policy does not use stay
 * empty, so a walk over all of them visits every entry once:
 *   for (i = 0; i < RCACHE__POL_LISTS; i++)
 *       for (e = s->pol.q[i]->next; e != s->pol.q[i]; e = e->next) ...
 * lru: q[0] the LRU list. sieve: q[0] the FIFO. s3fifo: q[0] small,
 * q[1] main. wtinylfu(-fixed): q[0] window, q[1] probation, q[2]
 * protected. gdsf: q[0] entries in its heap (insertion order), q[1] those
 * the heap could not take (ENOMEM), evicted first. */
#define RCACHE__POL_LISTS 3
typedef struct rcache__ghost rcache__ghost_t;   /* policy_s3fifo.c */
typedef struct rcache__sketch rcache__sketch_t; /* policy_wtinylfu.c */
typedef struct rcache__gdsf rcache__gdsf_t;     /* policy_gdsf.c */
typedef struct rcache__pol {
    int kind;                               /* rcache_policy_t */
    rcache__entry_t *q[RCACHE__POL_LISTS];  /* list sentinels */
    uint64_t n[RCACHE__POL_LISTS];          /* entries on each list */
    rcache__entry_t *hand;     /* sieve: next entry to examine, or NULL */
    const rcache__entry_t *keep; /* keep of the last victim read (compared,
                                    never dereferenced, by the eviction) */
    rcache__entry_t *admit;    /* wtinylfu: window entry to admit when */
    rcache__entry_t *admit_for; /* ... this main victim is evicted */
    uint64_t aging;            /* wtinylfu: sketch increments since halving */
    uint64_t win;              /* wtinylfu: window size, entries (0: 1%) */
    rcache__ghost_t *ghost;    /* s3fifo: hashes of recent small evictions;
                                  wtinylfu: of rejected window entries */
    rcache__ghost_t *ghost2;   /* wtinylfu: hashes of main's victims */
    rcache__sketch_t *sketch;  /* wtinylfu: frequency sketch */
    rcache__gdsf_t *gdsf;      /* gdsf: priority heap and its index */
} rcache__pol_t;

/* Key classes (keyclass.c): the classifier of a cache
 * (rcache_config_t.key_class), set at open, and the counts of one class in
 * one shard, under the shard lock. */
typedef struct rcache__kclass {
    rcache_key_class_fn fn;
    void *ctx;
    uint32_t n; /* classes; 0 = none */
} rcache__kclass_t;
typedef struct rcache__kcls {
    uint64_t items, nttl;
    unsigned __int128 ttl_sum;
} rcache__kcls_t;

typedef struct rcache__shard {
    pthread_mutex_t lock;
    rcache__index_t idx;       /* the key index (index.c) */
    uint64_t count;            /* entries linked here */
    rcache__entry_t *lru;      /* == pol.q[0]: the LRU list under lru
                                  (lru->next MRU, lru->prev LRU) */
    rcache__pol_t pol;         /* eviction policy state (policy.c) */
    size_t sweep_pos;          /* next bucket for active expiry */
    uint32_t pinned;           /* saves walking the table by bucket: no
                                  resize while > 0 (snapshot_save.c) */
    uint64_t nttl;             /* entries here that have an expiry */
    unsigned __int128 ttl_sum; /* sum of their expire_at_ms (avg_ttl_ms in
                                  the stats without walking entries) */
    rcache__shard_stats_t st;
    rcache__kcls_t *kcls;        /* per key class counts, NULL when the
                                    cache has no classes */
    const rcache__kclass_t *kcfg; /* the cache's classifier */
} __attribute__((aligned(64))) rcache__shard_t;

/* State that a layer above the core (memo.c) attaches to a cache on first
 * use. The core only frees it, in rcache_close(), through its own free
 * function: it knows nothing else about it. */
typedef struct rcache__ext {
    void (*free)(struct rcache__ext *x);
} rcache__ext_t;
struct rcache__diag; /* diag.c */
struct rcache__tags; /* tags.c */

struct rcache {
    rcache__shard_t *shards;
    uint32_t nshards;
    uint32_t shard_shift; /* shard = hash >> shard_shift (64-bit hash) */
    /* The diagnostics' sampling test (diag.h), read by every lookup next
     * to the fields above and written only when diagnostics are switched
     * or the MRC sample shrinks: a lookup's key joins the MRC sample when
     * RCACHE__MRC_T(hash) < diag_mrc_th (0: off), and a lookup joins the
     * hot-key sample when its shard's hit (or miss) count & diag_hot_mask
     * is 0 (UINT64_MAX: off). */
    _Atomic uint32_t diag_mrc_th;
    _Atomic uint64_t diag_hot_mask;
    rcache__clock_t clock; /* the cache clock (clock.c) */
    _Atomic uint64_t max_items;
    _Atomic uint64_t max_bytes;
    _Atomic uint64_t default_ttl_ms;
    _Atomic int disabled;
    _Atomic uint32_t expire_shard; /* rcache_expire_cycle position */
    _Atomic uint32_t evict_cursor; /* next shard an eviction samples */
    _Atomic int policy;            /* rcache_policy_t (rcache_set_policy) */
    pthread_mutex_t policy_lock;   /* serialises rcache_set_policy() */
    rcache__ext_t *_Atomic ext;    /* memo.c's state, NULL until its first
                                      use (set once, by compare-exchange) */
    _Atomic(struct rcache__diag *) diag; /* diagnostics (diag.c), or NULL */
    rcache_removal_fn on_removal;  /* set at open, read-only after */
    void *on_removal_ctx;
    struct rcache__tags *tags;           /* the tag index (tags.c) */
    rcache__slab_t *slab;                /* the entry store (slab.c) */
    rcache__kclass_t kclass;             /* key classifier, set at open */
    rcache__ctr_t *ctrs;                 /* RCACHE__CTR_SLOTS lookup counters */
    /* Global gauges, written by every store: their own cache line. */
    _Atomic uint64_t items __attribute__((aligned(64)));
    _Atomic uint64_t bytes;
    _Atomic uint64_t peak_bytes;
    /* Memoize counters (memo.c). */
    _Atomic uint64_t computations __attribute__((aligned(64)));
    _Atomic uint64_t singleflight_dedup;
};

/* Disabled mode (DISABLE_RESULT_CACHE, docs/DESIGN.md): reads see no entry,
 * stores cache nothing, and every store, delete or rename drops the entries
 * it names, so nothing written over while disabled comes back later. */
static inline int rcache__disabled(const rcache_t *c) {
    return atomic_load_explicit(&c->disabled, memory_order_relaxed);
}

/* The key check of every public call that takes a key: RCACHE_EINVAL for
 * a NULL or empty key, RCACHE_ETOOBIG for one longer than
 * RCACHE_MAX_KEY_LEN (whatever the call: a store could not keep it and a
 * lookup could not find it, and one code keeps callers' error handling
 * simple), else RCACHE_OK. */
static inline int rcache__key_check(const void *key, size_t klen) {
    if (!key || klen == 0)
        return RCACHE_EINVAL;
    if (klen > RCACHE_MAX_KEY_LEN)
        return RCACHE_ETOOBIG;
    return RCACHE_OK;
}

static inline rcache__shard_t *rcache__shard_of(const rcache_t *c,
                                                uint64_t hash) {
    return &c->shards[c->nshards == 1 ? 0 : (hash >> c->shard_shift)];
}

/* Absolute expiry for a store (0 = none) from a ttl_ms argument
 * (RCACHE_TTL_DEFAULT, RCACHE_TTL_KEEP, 0, > 0) and the entry it replaces
 * (may be NULL), at the operation's time t, read only when the expiry
 * depends on it (ttl.c). */
uint64_t rcache__expiry_for(const rcache_t *c, int64_t ttl_ms,
                            const rcache__entry_t *old, rcache__optime_t *t);

/* ---- deferred release ------------------------------------------------ */
/* Entries removed under a shard lock are collected here (chained through
 * prev, which an entry off the policy lists no longer uses) and released
 * after the lock is dropped, so destructors never run under a lock. */
typedef struct rcache__reclaim {
    rcache__entry_t *head;
    /* removed by the cache itself (expired, evicted): the removal listener
     * hears of them (rcache_removal_fn) before they are released */
    rcache__entry_t *expired, *evicted;
    rcache_t *cache; /* set with the two lists */
} rcache__reclaim_t;

static inline void rcache__reclaim_push(rcache__reclaim_t *r,
                                        rcache__entry_t *e) {
    e->prev = r->head;
    r->head = e;
}
/* Collect an entry the cache removed by itself (cause RCACHE_REMOVED_*). */
static inline void rcache__reclaim_push_removed(rcache__reclaim_t *r, rcache_t *c,
                                                rcache__entry_t *e, int cause) {
    rcache__entry_t **head = cause == RCACHE_REMOVED_EXPIRED ? &r->expired : &r->evicted;
    e->prev = *head;
    *head = e;
    r->cache = c;
}
/* Tell the removal listener of the expired and evicted entries, then drop
 * the table's reference of every collected entry. No lock held. */
void rcache__reclaim_run(rcache__reclaim_t *r);

/* ---- shard operations (shard.c) ------------------------------------- */
/* Set up s with an index sized for `entries` and policy kind; ENOMEM. */
int rcache__shard_init(rcache__shard_t *s, size_t entries, int policy);
/* Free the table; entries still linked are pushed to r. */
void rcache__shard_fini(rcache__shard_t *s, rcache__reclaim_t *r);

static inline int rcache__expired(const rcache__entry_t *e, uint64_t now_ms) {
    return e->expire_at_ms != 0 && now_ms >= e->expire_at_ms;
}
/* Find a key, expired or not. */
rcache__entry_t *rcache__shard_find_locked(const rcache__shard_t *s,
                                           uint64_t hash, const void *key,
                                           size_t klen);
/* Find a live key; an expired one is unlinked (an expiration) and pushed
 * to r, and NULL returned. Reads t's exact time when the key has an
 * expiry. */
rcache__entry_t *rcache__shard_lookup_locked(rcache_t *c, rcache__shard_t *s,
                                             uint64_t hash, const void *key,
                                             size_t klen, rcache__optime_t *t,
                                             rcache__reclaim_t *r);
/* Insert at the MRU end and count it; the caller made sure the key is
 * absent; h32: the low 32 bits of its key's rcache__hash() (the callers
 * have it; the index and the policy need it). Grows the table when it is
 * full (keeps the old one on ENOMEM).
 * RCACHE_ENOMEM (rare: a full bucket chain and no overflow bucket to be
 * had) leaves e unlinked and nothing changed. */
int rcache__shard_link_locked(rcache_t *c, rcache__shard_t *s,
                              rcache__entry_t *e, uint32_t h32);
/* Remove from table and LRU list and uncount; the caller pushes e to a
 * reclaim list (or hands the table's reference to someone). May shrink the
 * table (a sparse one), so never call it while walking a bucket chain. */
void rcache__shard_unlink_locked(rcache_t *c, rcache__shard_t *s,
                                 rcache__entry_t *e);
/* Unlink old and link e in its place (at the MRU end) in one step: the
 * item gauge is unchanged and the byte gauge moves once, by the difference.
 * The caller pushes old to a reclaim list or hands its reference on. */
void rcache__shard_replace_locked(rcache_t *c, rcache__shard_t *s,
                                  rcache__entry_t *old, rcache__entry_t *e,
                                  uint32_t h32);
/* Grow byte-string entry e, linked in s, to a value of vlen bytes in place
 * (realloc: the old bytes stay, the new ones are uninitialised), keeping
 * its place on the policy's list (the caller records the access with
 * rcache__pol_hit_locked()); the byte gauge moves by the change. The caller
 * holds e exclusively (rcache__entry_write_begin); the new block carries
 * the write bit, for the caller to clear. Returns the
 * entry's new address, or NULL on ENOMEM (e unchanged, still linked). */
rcache__entry_t *rcache__shard_regrow_locked(rcache_t *c, rcache__shard_t *s,
                                             rcache__entry_t *e, size_t vlen);
/* ---- eviction policies (policy.c, policy_s3fifo.c, policy_wtinylfu.c,
 * policy_gdsf.c) */
/* Set up p for policy kind with empty lists; RCACHE_ENOMEM. */
int rcache__pol_init(rcache__pol_t *p, int kind);
/* Free p's state (the entries on its lists are the caller's). */
void rcache__pol_fini(rcache__pol_t *p);
/* A new entry e joined s (already in its table and counted); h32: the
 * low 32 bits of its key's rcache__hash(). */
void rcache__pol_link_locked(rcache_t *c, rcache__shard_t *s,
                             rcache__entry_t *e, uint32_t h32);
/* e leaves s (before it is uncounted). */
void rcache__pol_unlink_locked(rcache__shard_t *s, rcache__entry_t *e);
/* e takes linked old's place on its list, then counts as accessed; old
 * is off every list afterwards. */
void rcache__pol_replace_locked(rcache_t *c, rcache__shard_t *s,
                                rcache__entry_t *old, rcache__entry_t *e,
                                uint32_t h32);
/* A hit (or an update) of e: what the policy does on access. h32: the low
 * 32 bits of e's key hash (the caller's lookup has it; W-TinyLFU's sketch
 * counts by it). */
void rcache__pol_hit_locked(rcache_t *c, rcache__shard_t *s,
                            rcache__entry_t *e, uint32_t h32);
/* The entry s's policy would evict next, never keep; NULL when there is
 * none. May reorder s's lists (s3fifo promotions, sieve hand moves), which
 * is what the policy's eviction would do anyway; calling it again without
 * an eviction in between returns the same entry. */
rcache__entry_t *rcache__pol_victim_locked(rcache_t *c, rcache__shard_t *s,
                                           const rcache__entry_t *keep);
/* The last-access second by which eviction (evict.c) ranks v, the victim
 * rcache__pol_victim_locked() just returned, against other shards'
 * victims: v's own, except under wtinylfu when v is a window entry its
 * admission rejected: then the older of v and the main entry it lost to,
 * so that a shard whose policy nominated a newcomer is not passed over
 * while another shard is drained empty. */
uint32_t rcache__pol_victim_age_locked(const rcache__shard_t *s,
                                       const rcache__entry_t *v);
/* Evict v, the entry rcache__pol_victim_locked() just returned: unlink it
 * (rcache__shard_unlink_locked) and do the policy's bookkeeping (ghost,
 * admission). The caller pushes v to a reclaim list. */
void rcache__pol_evict_locked(rcache_t *c, rcache__shard_t *s,
                              rcache__entry_t *v);
/* realloc support: what of the policy state points at e ... */
typedef struct rcache__pol_move {
    int hand, admit, admit_for;
    uintptr_t old; /* e's address (gdsf: the heap's index is by address) */
} rcache__pol_move_t;
void rcache__pol_premove_locked(const rcache__shard_t *s,
                                const rcache__entry_t *e,
                                rcache__pol_move_t *m);
/* ... and, after e moved to n (realloc copied prev/next), repoint it. */
void rcache__pol_postmove_locked(rcache__shard_t *s, rcache__entry_t *n,
                                 const rcache__pol_move_t *m);
/* Rethread every entry of s into policy kind (s's lists, oldest first
 * becoming the new policy's oldest). np is a fresh state from
 * rcache__pol_init(); s's old state is freed. */
void rcache__pol_switch_locked(rcache_t *c, rcache__shard_t *s,
                               rcache__pol_t *np);
/* Item capacity of a shard the policy sizes its queues by:
 * max(max_items / nshards, entries held other than keep). */
uint64_t rcache__pol_cap(const rcache_t *c, const rcache__shard_t *s,
                         const rcache__entry_t *keep);

/* List primitives (circular, sentinel h: h->next head, h->prev tail). */
static inline void rcache__list_init(rcache__entry_t *h) {
    h->next = h->prev = h;
}
static inline void rcache__list_push(rcache__entry_t *h, rcache__entry_t *e) {
    e->prev = h;
    e->next = h->next;
    h->next->prev = e;
    h->next = e;
}
static inline void rcache__list_del(rcache__entry_t *e) {
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
}
/* Change e's absolute expiry (0 = none), keeping the shard's count right. */
void rcache__set_expire_locked(rcache__shard_t *s, rcache__entry_t *e,
                               uint64_t at_ms);
/* From the sweep position, visit at most max_buckets buckets (and at most
 * one pass over the table), stopping once max_entries entries have been
 * examined; reclaim the expired ones. O(1) when the shard has no entry with
 * a TTL. Reports what was examined/visited (either pointer may be NULL);
 * returns the number reclaimed. */
uint64_t rcache__shard_sweep_locked(rcache_t *c, rcache__shard_t *s,
                                    size_t max_entries, size_t max_buckets,
                                    uint64_t now_ms, rcache__reclaim_t *r,
                                    size_t *examined, size_t *visited);

/* Where a key lives: its hash, its shard and the time of the operation. */
typedef struct rcache__loc {
    uint64_t hash;
    rcache__shard_t *s;
    rcache__optime_t t; /* read under the lock: rcache__op_now(c, &loc->t) */
} rcache__loc_t;
/* Hash the key, pick its shard, LOCK the shard and look the key up (an
 * expired entry is reclaimed into r). The caller unlocks loc->s->lock.
 * Returns the live entry or NULL. The operation's time is loc->t: the
 * lookup read it if the key has an expiry, and every later use in the same
 * call (remaining TTL, new expiry) reads the same value. */
rcache__entry_t *rcache__lock_lookup(rcache_t *c, const void *key, size_t klen,
                                     rcache__loc_t *loc, rcache__reclaim_t *r);
/* The same with the key's rcache__hash() already computed. */
rcache__entry_t *rcache__lock_lookup_hashed(rcache_t *c, const void *key,
                                            size_t klen, uint64_t hash,
                                            rcache__loc_t *loc,
                                            rcache__reclaim_t *r);

/* ---- key classes (keyclass.c) -------------------------------------- */
/* Give every shard of c its class counters (c->kclass set). ENOMEM. */
int rcache__kclass_init(rcache_t *c);
void rcache__kclass_fini(rcache_t *c);
/* Class of a key under c's classifier (0 without one). */
uint32_t rcache__kclass_of(const rcache__kclass_t *k, const unsigned char *key,
                           size_t klen);
/* Count e in (sign 1) or out of (sign -1) its class; and a TTL change of
 * linked e from its expire_at_ms to at_ms. Under s's lock; no-ops for a
 * cache without classes. */
void rcache__kclass_count_locked(rcache__shard_t *s, const rcache__entry_t *e,
                                 int sign);
void rcache__kclass_expire_locked(rcache__shard_t *s, const rcache__entry_t *e,
                                  uint64_t at_ms);
/* e takes linked old's place (the same key, so the same class): only the
 * TTL figures can change, and the class is not computed when the two
 * expiries are equal (a plain SET over a key without TTL). */
void rcache__kclass_replace_locked(rcache__shard_t *s, const rcache__entry_t *old,
                                   const rcache__entry_t *e);

/* ---- tags (tags.c) -------------------------------------------------- */
/* Lock order: a shard lock, then the index lock (inside tags.c only). */
typedef struct rcache__tagrec rcache__tagrec_t;
int rcache__tags_init(rcache_t *c);
void rcache__tags_fini(rcache_t *c);
/* Check o's tags and build the record a store attaches, before any lock;
 * *out NULL when o has no tags. RCACHE_EINVAL, RCACHE_ETOOBIG, ENOMEM. */
int rcache__tags_prepare(const rcache_set_opts_t *o, rcache__tagrec_t **out);
/* What a prepared record (NULL: 0) will be charged once attached, the tag
 * nodes it may create aside. */
uint64_t rcache__tags_record_charge(const rcache__tagrec_t *r);
/* Free a prepared record that was not attached (NULL is fine). */
void rcache__tags_discard(rcache__tagrec_t *r);
/* Give e, not yet linked and not yet seen by any other thread, the tags of
 * the prepared record rec (which the index takes on RCACHE_OK, and which
 * must still be able to read o's tag strings), and charge them. Under e's
 * shard lock. RCACHE_ENOMEM leaves nothing changed (rec still the
 * caller's). */
int rcache__tags_attach_locked(rcache_t *c, rcache__entry_t *e,
                               rcache__tagrec_t *rec);
/* The one hook where an entry leaves the table (shard.c): drop e's tags
 * and their charge. Under e's shard lock. */
void rcache__tags_leave_locked(rcache_t *c, rcache__entry_t *e);
static inline void rcache__tags_leaving(rcache_t *c, rcache__entry_t *e) {
    if (e->flags & RCACHE__F_TAGGED)
        rcache__tags_leave_locked(c, e);
}
/* An in-place change or a rename replaces from by to (a new entry not yet
 * linked nor seen by any other thread): to takes over from's tags. Under
 * the shard lock(s). Call before from is unlinked. */
void rcache__tags_move_locked(rcache_t *c, const rcache__entry_t *from,
                              rcache__entry_t *to);
/* The tags of e (on which the caller holds a reference; no lock held), in
 * the persisted form: for each tag a 2-byte little-endian length and its
 * bytes. *out NULL and *len 0 when e has none. RCACHE_ENOMEM. */
int rcache__tags_encode(rcache_t *c, const rcache__entry_t *e,
                        unsigned char **out, size_t *len);
/* Parse the persisted form (pure, bounded by n): tags point into p.
 * RCACHE_OK, or RCACHE_ECORRUPT for a malformed or over-limit list. */
int rcache__tags_decode(const unsigned char *p, size_t n,
                        rcache_tag_t tags[RCACHE_MAX_TAGS], size_t *ntags);
/* The AUX field that carries the tags of the key that follows it. */
#define RCACHE__TAGS_AUX "rcache-tags"
/* Add the index's figures to a stats snapshot; zero its counters. */
void rcache__tags_stats(rcache_t *c, rcache_stats_t *out);
void rcache__tags_stats_reset(rcache_t *c);
/* Tests: does e have a record (call under e's shard lock)? And a walk of
 * the whole index (links, counts, charge): NULL when consistent. */
int rcache__tags_has(rcache_t *c, const rcache__entry_t *e);
const char *rcache__tags_check(rcache_t *c);

/* ---- eviction (evict.c) --------------------------------------------- */
/* Shards whose LRU tails one eviction round compares; caches with at most
 * this many shards evict in exact global LRU order (1 s resolution). */
#define RCACHE__EVICT_SAMPLES 8u
/* 0 when both limits hold, 1 when items are over, 2 when bytes are. */
int rcache__over_limit(const rcache_t *c);
/* The one eviction entry point, for stores, updates, renames and limit
 * changes: evict in approximate global LRU order (see evict.c) until both
 * limits hold or nothing but keep is left, then record the byte peak. Call
 * with no lock held; keep (may be NULL) is the entry the caller just
 * stored, on which it holds a reference. Evicted entries are pushed to r. */
void rcache__evict(rcache_t *c, const rcache__entry_t *keep,
                   rcache__reclaim_t *r);

/* ---- bulk stores (bulk.c): the snapshot loader's fast path ---------- */
/* Entries (RCACHE__BULK_CAP, or RCACHE__BULK_BYTES of values) queued before
 * they are stored shard by shard. */
#define RCACHE__BULK_CAP 4096u
#define RCACHE__BULK_BYTES (4u << 20)
typedef struct rcache__bulk rcache__bulk_t;
/* A queue for c (not disabled); NULL on ENOMEM.  One thread uses it. */
rcache__bulk_t *rcache__bulk_new(rcache_t *c);
/* Queue one string entry (copied): expire_at_ms 0 = none, else absolute
 * and in the future (the caller checked); idle_s > 0 backdates its access
 * time.  May store the queue.  RCACHE_OK, RCACHE_EINVAL / RCACHE_ETOOBIG
 * (bad key, value over max_bytes: nothing queued) or RCACHE_ENOMEM. */
int rcache__bulk_add(rcache__bulk_t *b, const void *key, size_t klen,
                     const void *val, size_t vlen, uint64_t expire_at_ms,
                     int64_t idle_s);
/* Store what is queued (one lock per shard, evicting after each shard). */
void rcache__bulk_flush(rcache__bulk_t *b);
/* Flush, then free the queue (NULL is fine). */
void rcache__bulk_free(rcache__bulk_t *b);
/* Grow every shard's table so that `entries` more keys, spread over the
 * shards, need no rehash (takes each shard lock in turn). */
void rcache__bulk_reserve(rcache_t *c, uint64_t entries);
/* Grow s's table to at least `entries` buckets (never shrinks). */
void rcache__shard_reserve_locked(rcache__shard_t *s, size_t entries);

/* Match a pattern already checked by rcache_glob_validate() (glob.c). */
int rcache__glob_match_valid(const char *p, size_t plen, const unsigned char *s,
                             size_t slen);


#endif /* RCACHE_INTERNAL_H */
