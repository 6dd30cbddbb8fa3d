/*
 * slab.c - the entry store: size-classed slabs carved from 32 KiB pages.
 *
 * Why: one malloc per entry cost glibc's 8-byte chunk header plus rounding
 * to 16 bytes (a 178-byte entry took a 192-byte chunk), and the byte
 * accounting had to guess those chunk sizes. Here an entry of up to
 * RCACHE__SLAB_MAX bytes takes a slot of its size class: 8-byte steps up
 * to 256 bytes, 16-byte steps up to RCACHE__SLAB_MAX (at most 7 bytes of
 * rounding for small entries, 15 for larger ones), no per-slot header. A
 * slot's size is what the entry is charged, exactly; larger entries still
 * use malloc (their rounding is under 1.5%).
 *
 * Layout: pages of RCACHE__SLAB_PAGE bytes, aligned to their size, so a
 * slot finds its page (and the page its class) by masking its address.
 * Pages are carved from 2 MiB chunks mapped with mmap, aligned to 2 MiB;
 * in a cache of no byte limit or a large one, from the fifth chunk on
 * each is made one huge page (chunk_huge). A page holds slots of one
 * class; the class keeps a list of its pages that have a free slot.
 * A page whose last slot is freed goes back to the cache-wide page pool
 * (its memory returned to the kernel with MADV_DONTNEED), and any class
 * can take it from there: that is the rebalancing between classes, so the
 * resident set follows the live slots when the mix of sizes shifts
 * (test_slab_rss). A pooled page keeps only its first 4 KiB (the header
 * and the pool link) resident.
 *
 * A page frees only when its last slot does, so entries that stay (a hot
 * set) can pin many sparse pages of a class whose sizes went out of use.
 * Compaction bounds that: when a class's free slots reach a sixteenth of
 * its slots (and at least two pages' worth), its pages at most half used are
 * marked draining (no slot is handed out from them any more) and a
 * compaction is requested; the next rcache__evict() (compact.c) moves the
 * entries of draining pages that only the table holds into other slots,
 * under their shard's lock, and the emptied pages go to the pool.
 *
 * Locks: each (arena, class) has a mutex; the pool has one, taken inside a
 * class lock, never the other way round. Threads are spread over
 * RCACHE__SLAB_ARENAS arenas (a per-thread index) so two threads storing
 * the same size rarely share a lock. Frees come from any thread (the last
 * handle release) and take the lock of the slot's own arena and class.
 * These are leaf locks: nothing else is taken under them.
 *
 * Under AddressSanitizer free slots and pooled pages are poisoned, so a
 * use after the last release is still reported.
 */
#include "internal.h"

#include <stdint.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif
#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK_BYTES (2u << 20)
#define PAGES_PER_CHUNK (CHUNK_BYTES / RCACHE__SLAB_PAGE)
#define PAGE_HDR 64u /* page header, rounded to a cache line */

typedef struct page {
    struct rcache__slab *slab;
    struct page *prev, *next; /* the class's pages with a free slot, or the
                                 pool's free pages (next only) */
    void *free;               /* free slots, linked through their first word */
    uint32_t used;            /* slots handed out */
    uint32_t carved;          /* slots ever handed out (the rest untouched) */
    uint32_t cap;             /* slots in the page */
    uint16_t cls;             /* size class */
    uint16_t arena;
    _Atomic int draining;     /* off the class's list until it empties;
                                 read without the class lock (compact.c) */
} page_t;

typedef struct cls {
    pthread_mutex_t lock;
    page_t head; /* sentinel of the pages with a free slot */
    uint64_t slots, used; /* slots in the class's pages, and handed out */
    uint64_t rescan_at;   /* free slots at which to look for sparse pages
                             again (hysteresis: a scan walks the list) */
} cls_t;

typedef struct chunk {
    struct chunk *next;
    void *map;      /* what mmap returned */
    size_t map_len; /* and its length */
} chunk_t;

struct rcache__slab {
    pthread_mutex_t pool_lock;
    page_t *pool;         /* empty pages, madvised away */
    unsigned char *carve; /* next never-used page of the newest chunk */
    unsigned carve_left;  /* pages left there */
    chunk_t *chunks;      /* every mapping, unmapped at rcache__slab_free */
    uint64_t mapped_bytes; /* their length */
    _Atomic uint64_t pages;      /* pages held by classes (resident) */
    _Atomic uint64_t slot_bytes; /* bytes of slots handed out */
    _Atomic int compact_pending; /* some page is draining (compact.c) */
    _Atomic uint64_t compactions, moved; /* counters, for tests */
    const _Atomic uint64_t *max_bytes;   /* the cache's limit, or NULL */
    cls_t cls[RCACHE__SLAB_ARENAS][RCACHE__SLAB_CLASSES];
};

/* Class of a block of n bytes (n <= RCACHE__SLAB_MAX): 8-byte steps from
 * 32 to 256 bytes (classes 0..28), then 16-byte steps. */
static unsigned class_of(size_t n) {
    if (n <= 32)
        return 0;
    if (n <= 256)
        return (unsigned)((n - 32 + 7) / 8);
    return 28u + (unsigned)((n - 256 + 15) / 16);
}
static size_t class_size(unsigned k) {
    return k <= 28 ? 32u + 8u * k : 256u + 16u * (k - 28u);
}

size_t rcache__slab_size(size_t n) {
    return n > RCACHE__SLAB_MAX ? 0 : class_size(class_of(n));
}

rcache__slab_t *rcache__slab_new(const _Atomic uint64_t *max_bytes) {
    rcache__slab_t *sl = rcache__calloc(1, sizeof(*sl));
    unsigned a, k;
    if (!sl)
        return NULL;
    sl->max_bytes = max_bytes;
    if (pthread_mutex_init(&sl->pool_lock, NULL) != 0) {
        rcache__free(sl);
        return NULL;
    }
    for (a = 0; a < RCACHE__SLAB_ARENAS; a++) {
        for (k = 0; k < RCACHE__SLAB_CLASSES; k++) {
            cls_t *c = &sl->cls[a][k];
            if (pthread_mutex_init(&c->lock, NULL) != 0)
                goto fail;
            c->head.next = c->head.prev = &c->head;
        }
    }
    return sl;
fail:
    while (k-- > 0)
        pthread_mutex_destroy(&sl->cls[a][k].lock);
    while (a-- > 0)
        for (k = 0; k < RCACHE__SLAB_CLASSES; k++)
            pthread_mutex_destroy(&sl->cls[a][k].lock);
    pthread_mutex_destroy(&sl->pool_lock);
    rcache__free(sl);
    return NULL;
}

void rcache__slab_free(rcache__slab_t *sl) {
    if (!sl)
        return;
    for (unsigned a = 0; a < RCACHE__SLAB_ARENAS; a++)
        for (unsigned k = 0; k < RCACHE__SLAB_CLASSES; k++)
            pthread_mutex_destroy(&sl->cls[a][k].lock);
    pthread_mutex_destroy(&sl->pool_lock);
    chunk_t *ch = sl->chunks;
    while (ch) {
        chunk_t *next = ch->next;
        UNPOISON(ch->map, ch->map_len);
        munmap(ch->map, ch->map_len);
        rcache__free(ch);
        ch = next;
    }
    rcache__free(sl);
}

/* Map a chunk aligned to its size, so the kernel can back it with one
 * 2 MiB page. NULL when mmap fails. */
static unsigned char *chunk_map(void) {
    unsigned char *m = mmap(NULL, 2 * (size_t)CHUNK_BYTES, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    size_t head = (CHUNK_BYTES - ((uintptr_t)m & (CHUNK_BYTES - 1))) & (CHUNK_BYTES - 1);
    if (head)
        munmap(m, head);
    munmap(m + head + CHUNK_BYTES, CHUNK_BYTES - head);
    return m + head;
}

/* From the HUGE_AFTER-th chunk on (a small cache keeps its few pages), in
 * a cache with no byte limit or one of at least HUGE_MIN_LIMIT (so the
 * chunk made resident ahead of its use is at most 1/512 of the limit: RSS
 * keeps tracking max_bytes), a new chunk is made one huge page at once:
 * one fault instead of 512, and one TLB entry for its 64 pages, where a
 * lookup among a million entries otherwise walks the page table for
 * nearly every bucket and entry it touches (BENCHMARKS.md "Huge pages for
 * the slab chunks"). MADV_COLLAPSE (Linux 6.1) needs a mapped page in the
 * range, hence the first touch; it sets no flag on the mapping, so
 * khugepaged (which, in the kernel's default "madvise" mode, scans only
 * MADV_HUGEPAGE ranges) never fills a pooled page's released memory back
 * in. Best effort: on an older kernel, with THP off, or without a free 2
 * MiB page it fails and the chunk stays in 4 KiB pages, as before. */
#define HUGE_AFTER 4u
#define HUGE_MIN_LIMIT ((uint64_t)512 * CHUNK_BYTES)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
static void chunk_huge(unsigned char *a) {
    *(volatile unsigned char *)a = 0;
    (void)madvise(a, CHUNK_BYTES, MADV_COLLAPSE);
}

/* Make a new chunk the one pages are carved from. Under the pool lock,
 * which it drops while it maps the chunk (and makes it a huge page: a 2
 * MiB allocation and clearing the other classes' threads need not wait
 * for); if another thread installed a chunk meanwhile, or pooled a page,
 * that is used and this one unmapped. 0, or -1 on ENOMEM. */
static int chunk_add(rcache__slab_t *sl) {
    const uint64_t limit =
        sl->max_bytes ? atomic_load_explicit(sl->max_bytes, memory_order_relaxed) : 0;
    const int huge = sl->mapped_bytes >= (uint64_t)HUGE_AFTER * CHUNK_BYTES &&
                     (limit == 0 || limit >= HUGE_MIN_LIMIT);
    pthread_mutex_unlock(&sl->pool_lock);
    chunk_t *ch = rcache__malloc(sizeof(*ch));
    unsigned char *m = ch ? chunk_map() : NULL;
    if (m && huge)
        chunk_huge(m);
    pthread_mutex_lock(&sl->pool_lock);
    if (sl->carve_left || sl->pool || !m) {
        if (m)
            munmap(m, CHUNK_BYTES);
        rcache__free(ch);
        return sl->carve_left || sl->pool ? 0 : -1;
    }
    ch->map = m;
    ch->map_len = CHUNK_BYTES;
    ch->next = sl->chunks;
    sl->chunks = ch;
    sl->mapped_bytes += CHUNK_BYTES;
    sl->carve = m;
    sl->carve_left = PAGES_PER_CHUNK;
    POISON(sl->carve, CHUNK_BYTES);
    return 0;
}

/* A page from the pool, or carved from a chunk (mapping a new one). Under
 * a class lock. NULL on ENOMEM. */
static page_t *pool_get(rcache__slab_t *sl) {
    page_t *p = NULL;
    pthread_mutex_lock(&sl->pool_lock);
    while (!sl->pool && sl->carve_left == 0) {
        if (chunk_add(sl) != 0) {
            pthread_mutex_unlock(&sl->pool_lock);
            return NULL;
        }
    }
    if (sl->pool) {
        p = sl->pool;
        UNPOISON(p, PAGE_HDR);
        sl->pool = p->next;
    } else {
        p = (page_t *)sl->carve;
        UNPOISON(p, PAGE_HDR);
        sl->carve += RCACHE__SLAB_PAGE;
        sl->carve_left--;
    }
    pthread_mutex_unlock(&sl->pool_lock);
    atomic_fetch_add_explicit(&sl->pages, 1, memory_order_relaxed);
    return p;
}

/* Give an empty page back to the pool and its memory, but for the first
 * 4 KiB that holds the pool link, to the kernel. No lock held: the page is
 * on no list. */
static void pool_put(rcache__slab_t *sl, page_t *p) {
    atomic_fetch_sub_explicit(&sl->pages, 1, memory_order_relaxed);
    madvise((unsigned char *)p + 4096, RCACHE__SLAB_PAGE - 4096,
            MADV_DONTNEED);
    pthread_mutex_lock(&sl->pool_lock);
    p->next = sl->pool;
    sl->pool = p;
    POISON((unsigned char *)p + sizeof(page_t *) * 3,
           RCACHE__SLAB_PAGE - sizeof(page_t *) * 3);
    pthread_mutex_unlock(&sl->pool_lock);
}

/* The page of a slot: its address rounded down to the page size. */
static page_t *page_of(void *slot) {
    unsigned char *b = slot;
    return (page_t *)(void *)(b - ((uintptr_t)b & (RCACHE__SLAB_PAGE - 1)));
}

static void list_add(cls_t *c, page_t *p) {
    p->prev = &c->head;
    p->next = c->head.next;
    c->head.next->prev = p;
    c->head.next = p;
}
static void list_del(page_t *p) {
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

void *rcache__slab_alloc(rcache__slab_t *sl, size_t n) {
    if (n > RCACHE__SLAB_MAX || rcache__alloc_injected_failure())
        return NULL;
    unsigned a = rcache__thread_ordinal() % RCACHE__SLAB_ARENAS, k = class_of(n);
    size_t sz = class_size(k);
    cls_t *c = &sl->cls[a][k];
    page_t *p;
    void *slot;

    pthread_mutex_lock(&c->lock);
    p = c->head.next;
    if (p == &c->head) {
        if (!(p = pool_get(sl))) {
            pthread_mutex_unlock(&c->lock);
            return NULL;
        } else {
            p->slab = sl;
            p->free = NULL;
            p->used = p->carved = 0;
            p->cap = (uint32_t)((RCACHE__SLAB_PAGE - PAGE_HDR) / sz);
            p->cls = (uint16_t)k;
            p->arena = (uint16_t)a;
            atomic_store_explicit(&p->draining, 0, memory_order_relaxed);
            c->slots += p->cap;
        }
        list_add(c, p);
    }
    if (p->free) {
        slot = p->free;
        UNPOISON(slot, sz);
        p->free = *(void **)slot;
    } else {
        slot = (unsigned char *)p + PAGE_HDR + (size_t)p->carved++ * sz;
        UNPOISON(slot, sz);
    }
    if (++p->used == p->cap)
        list_del(p); /* full: found again by address when a slot frees */
    c->used++;
    if (c->rescan_at > c->slots - c->used + c->slots / 16 + 1)
        c->rescan_at = c->slots - c->used + c->slots / 16 + 1;
    pthread_mutex_unlock(&c->lock);
    atomic_fetch_add_explicit(&sl->slot_bytes, sz, memory_order_relaxed);
    return slot;
}

/* After a release in class c: when its free slots are many, mark its
 * sparse pages draining and request a compaction. Under c's lock. */
static void maybe_drain(rcache__slab_t *sl, cls_t *c, size_t sz) {
    uint64_t free_slots = c->slots - c->used;
    if (free_slots < c->rescan_at || free_slots * 16 < c->slots ||
        free_slots * sz < 2u * RCACHE__SLAB_PAGE)
        return;
    c->rescan_at = free_slots + c->slots / 16 + 1;
    int marked = 0;
    page_t *p = c->head.next;
    while (p != &c->head) {
        page_t *next = p->next;
        /* the newest page (head) keeps taking slots */
        if (p != c->head.next && p->used * 2 <= p->cap) {
            list_del(p);
            atomic_store_explicit(&p->draining, 1, memory_order_relaxed);
            marked = 1;
        }
        p = next;
    }
    if (marked)
        atomic_store_explicit(&sl->compact_pending, 1, memory_order_release);
}

void rcache__slab_release(void *slot) {
    page_t *p = page_of(slot);
    rcache__slab_t *sl = p->slab;
    cls_t *c = &sl->cls[p->arena][p->cls];
    size_t sz = class_size(p->cls);
    page_t *drop = NULL;

    atomic_fetch_sub_explicit(&sl->slot_bytes, sz, memory_order_relaxed);
    pthread_mutex_lock(&c->lock);
    int draining = atomic_load_explicit(&p->draining, memory_order_relaxed);
    if (p->used == p->cap && !draining)
        list_add(c, p);
    *(void **)slot = p->free;
    p->free = slot;
    POISON(slot, sz);
    c->used--;
    if (--p->used == 0) {
        if (!draining)
            list_del(p);
        c->slots -= p->cap;
        drop = p;
    } else if (!draining) {
        maybe_drain(sl, c, sz);
    }
    pthread_mutex_unlock(&c->lock);
    if (drop)
        pool_put(sl, drop);
}

int rcache__slab_draining(void *slot) {
    const page_t *p = page_of(slot);
    return atomic_load_explicit(&p->draining, memory_order_relaxed);
}

uint64_t rcache__slab_pages_bytes(rcache__slab_t *sl) {
    return atomic_load_explicit(&sl->pages, memory_order_relaxed) *
           RCACHE__SLAB_PAGE;
}

int rcache__slab_compact_wanted(rcache__slab_t *sl) {
    if (!atomic_load_explicit(&sl->compact_pending, memory_order_relaxed))
        return 0;
    return atomic_exchange_explicit(&sl->compact_pending, 0,
                                    memory_order_acquire);
}

void rcache__slab_count_compaction(rcache__slab_t *sl, uint64_t moved) {
    atomic_fetch_add_explicit(&sl->compactions, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sl->moved, moved, memory_order_relaxed);
}

void rcache__slab_info(rcache__slab_t *sl, rcache__slab_info_t *out) {
    out->pages_bytes =
        atomic_load_explicit(&sl->pages, memory_order_relaxed) * RCACHE__SLAB_PAGE;
    out->slot_bytes = atomic_load_explicit(&sl->slot_bytes, memory_order_relaxed);
    out->compactions = atomic_load_explicit(&sl->compactions, memory_order_relaxed);
    out->moved = atomic_load_explicit(&sl->moved, memory_order_relaxed);
    pthread_mutex_lock(&sl->pool_lock);
    out->mapped_bytes = sl->mapped_bytes;
    pthread_mutex_unlock(&sl->pool_lock);
}
