/*
 * index.c - the key index of a shard: a bucketized hash table of tagged
 * entry addresses.
 *
 * Why: the chained table it replaces cost a hit three dependent loads
 * before the key compare (the bucket slot, the entry header for its hash
 * and chain link, then the key line) and 8 bytes of link in every entry.
 * Here a bucket is one 64-byte line of 8 slot words; a slot is the entry's
 * address with 18 more bits of its hash (g, below) in the bits the address
 * leaves unused, so a lookup loads the bucket line, compares tags in
 * registers and dereferences only an entry whose tag matches (a false
 * match: 1 in 2^18 to 2^10 a slot): the bucket line and the entry's lines,
 * nothing else.
 *
 * g is the hash bits just above the bucket bits: bits shift..shift+17 of
 * hash32 (rotated, past 2^14 buckets) in a table of 2^shift buckets, its
 * low 16 in the address's unused top 16 bits and its top 2 in bits 1-2
 * (entries are 8-byte aligned). So a resize needs no key: doubling, g's
 * lowest bit names the bucket an entry splits to and g shifts down by one,
 * its new top bit unknown; halving, the bucket bit dropped becomes g's new
 * lowest. Each table records how many low bits of g every slot holds
 * validly (`width`: 18 in a table whose slots were all computed from keys,
 * one less per doubling since, one more per halving) and lookups compare
 * those bits only (`cmask`); a doubling that would leave fewer than
 * MIN_WIDTH (10) reads each entry's key again, as every resize did before
 * (an index filling from empty read every key once a doubling: about one
 * DRAM miss per entry stored; now once every 9 doublings, and with the
 * entries of the bucket 4 ahead prefetched, several misses in flight).
 *
 * Layout: the table is one 64-byte-aligned block, a header line (mask,
 * shift, width, cmask) then 2^k buckets; bucket = hash32 & mask, as before,
 * so rcache_scan()'s reverse-binary cursor, the expiry sweep and resizing
 * (split on grow, merge on shrink) keep their semantics with "bucket"
 * meaning a bucket and its overflow chain. When the 8 slots of a bucket are
 * taken, the 8th word becomes a link (address | 1) to an overflow bucket
 * that receives the entry it held and the new one. The table doubles when
 * it would hold more than RCACHE__INDEX_LOAD (6) entries a bucket on
 * average and halves when under a quarter of that: at 3 to 6 a bucket
 * (Poisson), 0.4% to 15% of buckets overflow and 0.2% to 9% of the entries
 * sit in an overflow line. A removal moves the chain's last entry (if in a
 * later bucket) into the slot it frees, so overflow buckets drain as the
 * chain shrinks (without it they held entries, and memory, for a whole
 * turnover of the cache: 19% of the buckets at 5 a bucket, against 8% with
 * it). No bucket is freed under a walk; an overflow bucket left empty is
 * unlinked by rcache__index_tidy(), which the shard calls after a removal
 * where no walk is in progress (the chains are remembered, up to 8; others
 * wait for the next resize).
 *
 * Tags need user addresses of at most 48 bits, which Linux gives on x86-64
 * and aarch64 (a larger address only with an mmap hint asking for one).
 * Init checks the platform and the table's own address; an entry address
 * that does not fit turns the index untagged (rcache__index_untag: every
 * slot holds the bare address and every key in the chain is compared), so
 * the fallback is slower, never wrong.
 *
 * Ready for readers without the lock (issue 13, step 3): slot words are
 * written with release stores and read with acquire loads; an entry that
 * replaces another (same key) takes its slot in one store; moving a full
 * bucket's last entry into a new overflow bucket fills the overflow bucket
 * first and then stores the link, so a reader sees the entry in one place
 * or the other; a resize builds the new table aside and publishes it with
 * one release store of ix->tab; and the old table and overflow buckets go
 * through rcache__index_retire(), which defers the free past the readers'
 * epoch (rcache__epoch_retire). Untagging rewrites slots in place and is
 * the one step a lock-free reader must guard against (it reads tagmask).
 *
 * Tables of a page or more are mapped (mmap) and unmapped when retired,
 * not malloc'd: a table that grows leaves its old one behind, and glibc
 * keeps a freed block below its mmap threshold (128 KiB, rising as mapped
 * blocks are freed) in the heap, resident, where nothing else of the
 * cache reuses it (the entry store maps its own pages). That was 4.1 MiB,
 * about 4 bytes an entry, after filling 1M entries into 64 shards.
 *
 * 32-bit entry ids instead of addresses were considered (issue 13): with
 * g packed into the unused address bits a slot is 8 bytes anyway, 8
 * to a line, and entries over RCACHE__SLAB_MAX are malloc'd, outside any
 * id space; ids would save nothing per slot and add a translation load.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOTS RCACHE__INDEX_SLOTS
#define LAST (RCACHE__INDEX_SLOTS - 1u)
#define LINE sizeof(rcache__ibucket_t)
#define LINK ((uint64_t)1)
/* The slot bits that are not the address: the hash bits g (below) keep
 * their low 16 in bits 48-63 and their top 2 in bits 1-2 (entries are
 * 8-byte aligned; bit 0 marks a link, in the last slot only). */
#define FIELD (((uint64_t)0xffff << 48) | (uint64_t)6)
#define GBITS 18u
#define GFULL ((1u << GBITS) - 1u)
/* A resize moves slots without reading keys while the table's slots keep
 * at least this many valid bits of g afterwards (at 10 bits, a lookup
 * reads a wrong entry's key once in 1,024 / slots compared). */
#define MIN_WIDTH 10u
/* No table over 2^32 buckets (as the chained table before). */
#define MAX_BUCKETS ((size_t)1 << 32)

int rcache__index_test_same_tag;

/* A zeroed, 64-byte-aligned block of n lines, counted by the allocation-
 * failure build like every allocation. */
static void *lines_alloc(size_t n) {
    if (rcache__alloc_injected_failure())
        return NULL;
    void *p = aligned_alloc(LINE, n * LINE);
    if (p)
        memset(p, 0, n * LINE);
    return p;
}

/* Free a dropped table or overflow bucket once no lock-free reader can
 * still be walking it (epoch.c). */
void rcache__index_retire(void *block, size_t bytes) {
    rcache__epoch_retire(block, bytes, free);
}

/* g of h32 in a table of 2^shift buckets: the GBITS hash bits above the
 * bucket bits, h32 rotated right by shift (past 2^14 buckets the top of g
 * wraps round to bucket bits, which tell a bucket's entries nothing apart
 * but stay exact for moves). */
static inline uint32_t g_of(uint32_t h32, unsigned shift) {
    shift &= 31u;
    return (shift ? (h32 >> shift) | (h32 << (32u - shift)) : h32) & GFULL;
}

static inline uint64_t g_pack(uint32_t g) {
    return ((uint64_t)(g & 0xffffu) << 48) | ((uint64_t)((g >> 16) & 3u) << 1);
}

static inline uint32_t g_unpack(uint64_t w) {
    return (uint32_t)(w >> 48) | ((uint32_t)(w >> 1) & 3u) << 16;
}

/* The slot bits a lookup of h32 in t expects (compared under t->cmask). */
static inline uint64_t want_of(const rcache__itab_t *t, uint32_t h32) {
    return g_pack(g_of(h32, t->shift));
}

/* e's slot word in t: the address and, when tags are packed, all of g. */
static inline uint64_t word_of(const rcache__index_t *ix, const rcache__itab_t *t,
                               const rcache__entry_t *e, uint32_t h32) {
    uint64_t g = ix->tagmask && ix->gbits ? want_of(t, h32) : 0;
    return g | (uint64_t)(uintptr_t)e;
}

static inline rcache__entry_t *entry_of(uint64_t w, uint64_t tagmask) {
    /* NOLINTNEXTLINE(performance-no-int-to-ptr): a tagged address */
    return (rcache__entry_t *)(uintptr_t)(w & ~tagmask);
}

static inline rcache__ibucket_t *link_of(uint64_t w) {
    /* NOLINTNEXTLINE(performance-no-int-to-ptr): a marked address */
    return (rcache__ibucket_t *)(uintptr_t)(w & ~LINK);
}

static inline uint64_t load(const _Atomic uint64_t *w) {
    return atomic_load_explicit(w, memory_order_acquire);
}

static inline void store(_Atomic uint64_t *w, uint64_t v) {
    atomic_store_explicit(w, v, memory_order_release);
}

/* Bytes of a table of mask + 1 buckets (its first line holds the mask). */
static size_t tab_bytes(size_t mask) {
    return (mask + 2) * LINE;
}

/* Is a table of this size mapped (see the top of the file)? */
static int tab_mapped(size_t bytes) {
    return bytes >= (size_t)sysconf(_SC_PAGESIZE);
}

/* A zeroed table of n buckets (a power of two) whose slots will keep
 * `width` valid bits of g. */
static rcache__itab_t *tab_new(size_t n, unsigned width) {
    rcache__itab_t *t;
    if (!tab_mapped(tab_bytes(n - 1))) {
        t = lines_alloc(n + 1);
    } else if (rcache__alloc_injected_failure()) {
        t = NULL;
    } else {
        void *p = mmap(NULL, tab_bytes(n - 1), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* zeroed */
        t = p == MAP_FAILED ? NULL : p;
    }
    if (t) {
        t->mask = n - 1;
        t->shift = (uint8_t)__builtin_ctzll((unsigned long long)n);
        t->width = (uint8_t)width;
        t->cmask = width ? g_pack((1u << width) - 1u) : 0;
    }
    return t;
}

/* The epoch's free function for a table (its size is in its first line). */
static void tab_free(void *p) {
    rcache__itab_t *t = p;
    size_t bytes = tab_bytes(t->mask);
    if (tab_mapped(bytes))
        (void)munmap(t, bytes);
    else
        free(t);
}

/* Free table t once no lock-free reader can still be walking it. */
static void tab_retire(rcache__itab_t *t) {
    rcache__epoch_retire(t, tab_bytes(t->mask), tab_free);
}

/* Retire every overflow bucket of t (not t itself). */
static void retire_overflow(rcache__itab_t *t) {
    for (size_t i = 0; i <= t->mask; i++) {
        uint64_t l = load(&t->b[i].w[LAST]);
        while (l & LINK) {
            rcache__ibucket_t *o = link_of(l);
            l = load(&o->w[LAST]);
            rcache__index_retire(o, LINE);
        }
    }
}

int rcache__index_init(rcache__index_t *ix, size_t entries) {
    size_t n = RCACHE__MIN_BUCKETS;
    memset(ix, 0, sizeof(*ix));
    while (n * RCACHE__INDEX_LOAD < entries && n < MAX_BUCKETS)
        n *= 2;
    ix->gbits = rcache__index_test_same_tag ? 0u : GBITS;
#if UINTPTR_MAX == UINT64_MAX && (defined(__x86_64__) || defined(__aarch64__))
    ix->tagmask = FIELD;
#endif
    rcache__itab_t *t = tab_new(n, ix->tagmask ? ix->gbits : 0);
    if (!t)
        return RCACHE_ENOMEM;
    if ((uint64_t)(uintptr_t)t & ix->tagmask)
        ix->tagmask = 0; /* a table above 2^48: addresses will not fit */
    ix->min_buckets = n;
    ix->hash_of = rcache__entry_hash32;
    atomic_init(&ix->tab, t);
    atomic_init(&ix->pmask, t->mask);
    return RCACHE_OK;
}

void rcache__index_fini(rcache__index_t *ix) {
    rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    if (!t)
        return;
    retire_overflow(t);
    tab_retire(t);
    atomic_store_explicit(&ix->tab, NULL, memory_order_relaxed);
}

/* The entry of key in the chain from b: slot words whose tag (want, under
 * mask tm) matches are dereferenced and compared. recheck (the lock-free
 * path): a tag mask changed under the walk (untagging) ends it with NULL,
 * which sends the caller to the locked path. */
static inline rcache__entry_t *chain_find(const rcache__index_t *ix, const rcache__ibucket_t *b,
                                          uint64_t tm, uint64_t cm, uint64_t want,
                                          const void *key, size_t klen, int recheck) {
    for (;;) {
        for (unsigned i = 0; i < SLOTS; i++) {
            uint64_t w = load(&b->w[i]);
            if (w == 0)
                continue;
            if (i == LAST && (w & LINK)) {
                b = link_of(w);
                i = (unsigned)-1; /* the loop's i++ starts the next at 0 */
                continue;
            }
            if ((w ^ want) & cm)
                continue;
            if (recheck && __atomic_load_n(&ix->tagmask, __ATOMIC_RELAXED) != tm)
                return NULL;
            /* lock-free: published with a release store; klen and key
             * are set and never change while the block lives (the epoch
             * section keeps it) */
            rcache__entry_t *e = entry_of(w, tm);
            if (e->klen == klen &&
                memcmp(rcache__entry_key(e), key, klen) == 0)
                return e;
        }
        return NULL;
    }
}

rcache__entry_t *rcache__index_find(const rcache__index_t *ix, uint32_t hash32,
                                    const void *key, size_t klen) {
    const rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_acquire);
    return chain_find(ix, &t->b[hash32 & t->mask], ix->tagmask, t->cmask & ix->tagmask,
                      want_of(t, hash32), key, klen, 0);
}

rcache__entry_t *rcache__index_find_nolock(const rcache__index_t *ix,
                                           uint32_t hash32, const void *key,
                                           size_t klen) {
    /* untagging stores tagmask 0 (release) before it stores any untagged
     * word a stale mask would misread; a word loaded with acquire after
     * that store makes the recheck in chain_find see it */
    const uint64_t tm = __atomic_load_n(&ix->tagmask, __ATOMIC_ACQUIRE);
    if (!tm)
        return NULL; /* untagged index: the locked path */
    const rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_acquire);
    return chain_find(ix, &t->b[hash32 & t->mask], tm, t->cmask & tm, want_of(t, hash32),
                      key, klen, 1);
}

void rcache__index_prefetch_entry(const rcache__index_t *ix, uint32_t hash32) {
    const rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_acquire);
    const rcache__ibucket_t *b = &t->b[hash32 & t->mask];
    /* atomic: also called without the lock (inside an epoch section); a
     * stale mask only prefetches the wrong line */
    const uint64_t tm = __atomic_load_n(&ix->tagmask, __ATOMIC_ACQUIRE);
    const uint64_t cm = t->cmask & tm, want = want_of(t, hash32);
    for (unsigned i = 0; i < LAST; i++) {
        uint64_t w = load(&b->w[i]);
        if (w != 0 && ((w ^ want) & cm) == 0) {
            __builtin_prefetch(entry_of(w, tm));
            return;
        }
    }
}

/* Put slot word w in the first empty slot of the chain from b, adding an
 * overflow bucket when the chain is full. RCACHE_ENOMEM: nothing changed. */
static int chain_put(rcache__index_t *ix, rcache__ibucket_t *b, uint64_t w) {
    for (;;) {
        for (unsigned i = 0; i < LAST; i++) {
            if (load(&b->w[i]) == 0) {
                store(&b->w[i], w);
                return RCACHE_OK;
            }
        }
        uint64_t l = load(&b->w[LAST]);
        if (l == 0) {
            store(&b->w[LAST], w);
            return RCACHE_OK;
        }
        if (!(l & LINK)) {
            /* full: the last entry and w move to a new overflow bucket,
             * filled before it is linked */
            rcache__ibucket_t *o = lines_alloc(1);
            if (!o)
                return RCACHE_ENOMEM;
            atomic_store_explicit(&o->w[0], l, memory_order_relaxed);
            atomic_store_explicit(&o->w[1], w, memory_order_relaxed);
            store(&b->w[LAST], (uint64_t)(uintptr_t)o | LINK);
            ix->overflow++;
            return RCACHE_OK;
        }
        b = link_of(l);
    }
}

/* The slot holding the entry at address a in the chain of hash32's
 * bucket, or NULL; *bucket (when not NULL) is the bucket that holds it.
 * By address: a slot's g may have fewer valid bits than a fresh word's. */
static _Atomic uint64_t *slot_of(const rcache__index_t *ix, uint32_t hash32,
                                 uint64_t a, rcache__ibucket_t **bucket) {
    rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    rcache__ibucket_t *b = &t->b[hash32 & t->mask];
    while (b) {
        rcache__ibucket_t *next = NULL;
        for (unsigned i = 0; i < SLOTS; i++) {
            uint64_t x = load(&b->w[i]);
            if (x && (x & ~ix->tagmask) == a) { /* a link has bit 0 set */
                if (bucket)
                    *bucket = b;
                return &b->w[i];
            }
            if (i == LAST && (x & LINK))
                next = link_of(x);
        }
        b = next;
    }
    return NULL;
}

/* Is overflow bucket o empty (no entry; its last word 0 or a link)? */
static int bucket_empty(const rcache__ibucket_t *o) {
    for (unsigned i = 0; i < LAST; i++)
        if (load(&o->w[i]) != 0)
            return 0;
    uint64_t l = load(&o->w[LAST]);
    return l == 0 || (l & LINK);
}

/* Unlink the empty overflow buckets of hash32's chain: the word linking
 * one takes its own last word (the rest of the chain, or 0) in one store,
 * so a reader inside it still finds its way; then it is retired. */
static void tidy_chain(rcache__index_t *ix, uint32_t hash32) {
    rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    rcache__ibucket_t *b = &t->b[hash32 & t->mask];
    for (;;) {
        uint64_t l = load(&b->w[LAST]);
        if (!(l & LINK))
            return;
        rcache__ibucket_t *o = link_of(l);
        if (bucket_empty(o)) {
            store(&b->w[LAST], load(&o->w[LAST]));
            rcache__index_retire(o, LINE);
            ix->overflow--;
        } else {
            b = o;
        }
    }
}

void rcache__index_tidy(rcache__index_t *ix) {
    for (uint32_t i = 0; i < ix->ntidy; i++)
        tidy_chain(ix, ix->tidy[i]);
    ix->ntidy = 0;
}

/* An address that does not fit under the tag: untag the index first. */
static void fit(rcache__index_t *ix, const rcache__entry_t *e) {
    if (ix->tagmask && ((uint64_t)(uintptr_t)e & ix->tagmask))
        rcache__index_untag(ix);
}

int rcache__index_add(rcache__index_t *ix, rcache__entry_t *e, uint32_t h) {
    fit(ix, e);
    rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    int rc = chain_put(ix, &t->b[h & t->mask], word_of(ix, t, e, h));
    if (rc == RCACHE_OK)
        ix->count++;
    return rc;
}

/* The last entry slot of the chain after bucket b (in an overflow
 * bucket), or NULL; *in is the bucket holding it. */
static _Atomic uint64_t *chain_last(rcache__ibucket_t *b, rcache__ibucket_t **in) {
    _Atomic uint64_t *last = NULL;
    for (;;) {
        uint64_t l = load(&b->w[LAST]);
        if (!(l & LINK))
            return last;
        b = link_of(l);
        for (unsigned i = 0; i < SLOTS; i++) {
            uint64_t x = load(&b->w[i]);
            if (x && !(i == LAST && (x & LINK))) {
                last = &b->w[i];
                *in = b;
            }
        }
    }
}

void rcache__index_del(rcache__index_t *ix, const rcache__entry_t *e) {
    rcache__ibucket_t *b = NULL, *tail = NULL;
    const uint32_t h = ix->hash_of(e);
    _Atomic uint64_t *w = slot_of(ix, h, (uint64_t)(uintptr_t)e, &b);
    if (!w)
        return;
    ix->count--;
    /* the chain's last entry, if in a later bucket, takes the slot (copy,
     * then clear): overflow buckets drain as soon as the chain fits */
    _Atomic uint64_t *last = chain_last(b, &tail);
    if (last) {
        store(w, load(last));
        w = last;
        b = tail;
    }
    store(w, 0);
    rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    if (b != &t->b[h & t->mask] && bucket_empty(b) &&
        ix->ntidy < RCACHE__INDEX_TIDY) /* else left for a resize */
        ix->tidy[ix->ntidy++] = h;
}

void rcache__index_replace(rcache__index_t *ix, uintptr_t old,
                           rcache__entry_t *e, uint32_t h) {
    fit(ix, e);
    _Atomic uint64_t *w = slot_of(ix, h, (uint64_t)old, NULL);
    if (w)
        store(w, word_of(ix, atomic_load_explicit(&ix->tab, memory_order_relaxed), e, h));
}

/* The valid bits of g that t's slots keep in a table of 2^nshift buckets
 * when they move there without a key read, or -1 when the keys must be
 * read: no g kept, or fewer than MIN_WIDTH bits would be left. */
static int moved_width(const rcache__index_t *ix, const rcache__itab_t *t,
                       unsigned nshift) {
    if (!ix->tagmask || !ix->gbits)
        return -1;
    if (nshift >= t->shift) { /* each doubling uses up g's lowest bit */
        unsigned d = nshift - t->shift;
        return t->width >= d + MIN_WIDTH ? (int)(t->width - d) : -1;
    }
    unsigned d = t->shift - nshift; /* each halving gains a bucket bit */
    return d >= GBITS - t->width ? (int)GBITS : (int)(t->width + d);
}

/* Slot word w of bucket i of a table of 2^s buckets, moved to the table
 * of 2^ns without reading its entry; *nb: its bucket there. Growing, the
 * low bits of g name the new bucket bits and g shifts down (its top bits
 * unknown); shrinking, the bucket bits dropped become g's low bits. */
static uint64_t moved(uint64_t w, size_t i, unsigned s, unsigned ns, size_t *nb) {
    uint32_t g = g_unpack(w);
    if (ns >= s) {
        unsigned d = ns - s;
        *nb = i | (size_t)(g & ((1u << d) - 1u)) << s;
        g >>= d;
    } else {
        unsigned d = s - ns;
        *nb = i & (((size_t)1 << ns) - 1u);
        g = ((d < GBITS ? g << d : 0u) | (uint32_t)(i >> ns)) & GFULL;
    }
    return (w & ~FIELD) | g_pack(g);
}

/* Prefetch the entries of bucket b's own line (header and key lines), so
 * that a resize reading keys has several misses in flight. */
static void prefetch_keys(const rcache__ibucket_t *b, uint64_t tm) {
    for (unsigned j = 0; j < SLOTS; j++) {
        uint64_t w = load(&b->w[j]);
        if (w && !(j == LAST && (w & LINK))) {
            const char *e = (const char *)entry_of(w, tm);
            __builtin_prefetch(e);
            __builtin_prefetch(e + sizeof(rcache__entry_t) + 15);
        }
    }
}

/* Buckets ahead whose keys a reading resize prefetches. */
#define PREFETCH_AHEAD 4u

/* Move every entry of t into nt, by the bits of g in the slots (move) or
 * by each entry's hash, read from its key; RCACHE_ENOMEM (nt partly
 * filled). */
static int rehash(rcache__index_t *ix, const rcache__itab_t *t,
                  rcache__itab_t *nt, int move) {
    const uint64_t tm = ix->tagmask;
    for (size_t i = 0; i <= t->mask; i++) {
        const rcache__ibucket_t *b = &t->b[i];
        if (!move && i + PREFETCH_AHEAD <= t->mask)
            prefetch_keys(&t->b[i + PREFETCH_AHEAD], tm);
        while (b) {
            const rcache__ibucket_t *next = NULL;
            for (unsigned j = 0; j < SLOTS; j++) {
                uint64_t w = load(&b->w[j]);
                if (w == 0)
                    continue;
                if (j == LAST && (w & LINK)) {
                    next = link_of(w);
                    continue;
                }
                size_t nb;
                uint64_t nw;
                if (move) {
                    nw = moved(w, i, t->shift, nt->shift, &nb);
                } else {
                    const rcache__entry_t *e = entry_of(w, tm);
                    const uint32_t h = ix->hash_of(e);
                    nb = h & nt->mask;
                    nw = word_of(ix, nt, e, h);
                }
                if (chain_put(ix, &nt->b[nb], nw) != RCACHE_OK)
                    return RCACHE_ENOMEM;
            }
            b = next;
        }
    }
    return RCACHE_OK;
}

int rcache__index_resize(rcache__index_t *ix, size_t n) {
    rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    const int mw = moved_width(ix, t, (unsigned)__builtin_ctzll((unsigned long long)n));
    const unsigned read_width = ix->tagmask ? ix->gbits : 0u;
    rcache__itab_t *nt = tab_new(n, mw >= 0 ? (unsigned)mw : read_width);
    if (!nt)
        return RCACHE_ENOMEM;
    uint64_t overflow = ix->overflow;
    ix->overflow = 0;
    if (rehash(ix, t, nt, mw >= 0) != RCACHE_OK) {
        retire_overflow(nt);
        tab_retire(nt);
        ix->overflow = overflow;
        return RCACHE_ENOMEM;
    }
    atomic_store_explicit(&ix->tab, nt, memory_order_release);
    atomic_store_explicit(&ix->pmask, nt->mask, memory_order_relaxed);
    ix->ntidy = 0; /* the new chains have no empty bucket */
    retire_overflow(t);
    tab_retire(t);
    return RCACHE_OK;
}

void rcache__index_maybe_grow(rcache__index_t *ix) {
    size_t n = rcache__index_buckets(ix);
    if (ix->count >= (uint64_t)n * RCACHE__INDEX_LOAD && n < MAX_BUCKETS)
        (void)rcache__index_resize(ix, n * 2);
}

/* Shrink once under a quarter of the load, to the smallest table at most
 * half loaded (not below the starting size): after a grow the load is over
 * half, after a shrink under half, so a shard near a threshold does not
 * resize back and forth. */
void rcache__index_maybe_shrink(rcache__index_t *ix) {
    size_t nb = rcache__index_buckets(ix);
    if (nb <= ix->min_buckets ||
        ix->count * 4 >= (uint64_t)nb * RCACHE__INDEX_LOAD)
        return;
    size_t n = ix->min_buckets;
    while ((uint64_t)n * RCACHE__INDEX_LOAD < ix->count * 2)
        n *= 2;
    (void)rcache__index_resize(ix, n);
}

void rcache__index_reserve(rcache__index_t *ix, size_t entries) {
    size_t nb = rcache__index_buckets(ix), n = nb;
    while ((uint64_t)n * RCACHE__INDEX_LOAD < entries && n < MAX_BUCKETS)
        n *= 2;
    if (n > nb)
        (void)rcache__index_resize(ix, n);
}

void rcache__index_untag(rcache__index_t *ix) {
    const uint64_t tm = ix->tagmask;
    rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    if (!tm)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        rcache__ibucket_t *b = &t->b[i];
        while (b) {
            rcache__ibucket_t *next = NULL;
            for (unsigned j = 0; j < SLOTS; j++) {
                uint64_t w = load(&b->w[j]);
                if (j == LAST && (w & LINK))
                    next = link_of(w);
                else if (w)
                    store(&b->w[j], w & ~tm);
            }
            b = next;
        }
    }
    __atomic_store_n(&ix->tagmask, 0, __ATOMIC_RELEASE);
}

void rcache__index_it_start(const rcache__index_t *ix, size_t bucket,
                            rcache__index_it_t *it) {
    const rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    it->b = &t->b[bucket & t->mask];
    it->i = 0;
    it->tagmask = ix->tagmask;
}

rcache__entry_t *rcache__index_it_next(rcache__index_it_t *it) {
    while (it->b) {
        while (it->i < SLOTS) {
            unsigned i = it->i++;
            uint64_t w = load(&it->b->w[i]);
            if (w == 0)
                continue;
            if (i == LAST && (w & LINK)) {
                it->b = link_of(w);
                it->i = 0;
                continue;
            }
            return entry_of(w, it->tagmask);
        }
        it->b = NULL;
    }
    return NULL;
}

const char *rcache__index_check(const rcache__index_t *ix) {
    const rcache__itab_t *t = atomic_load_explicit(&ix->tab, memory_order_relaxed);
    const uint64_t cm = t->cmask & ix->tagmask;
    for (size_t i = 0; i <= t->mask; i++) {
        rcache__index_it_t it;
        rcache__entry_t *e;
        rcache__index_it_start(ix, i, &it);
        while ((e = rcache__index_it_next(&it)) != NULL) {
            const uint32_t h = ix->hash_of(e);
            if ((h & t->mask) != i)
                return "index entry in the wrong bucket";
            const _Atomic uint64_t *w = slot_of(ix, h, (uint64_t)(uintptr_t)e, NULL);
            if (!w || ((load(w) ^ want_of(t, h)) & cm))
                return "index slot missing, or its hash bits differ from its key's";
        }
    }
    return NULL;
}
