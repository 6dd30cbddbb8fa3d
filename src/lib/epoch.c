/*
 * epoch.c - epoch-based reclamation (EBR) for lock-free readers.
 *
 * Why: a reader that looks an entry up without the shard lock may hold a
 * pointer to it while a writer unlinks it; the block must stay readable
 * until every such reader is done. EBR (Fraser, 2004; the scheme of
 * crossbeam-epoch) makes that cheap for the reader: entering costs one
 * store to a per-thread slot and a fence, leaving one store, and nothing
 * is written to a line another thread writes.
 *
 * The scheme (three epochs): a global epoch G. A reader enters by storing
 * (G << 1) | 1 in its own record and issuing a seq_cst fence, and leaves
 * by storing 0. A block unlinked from every shared structure is retired
 * with the epoch read after its unlinking (again after a fence); the global
 * epoch moves from g to g + 1 only when every active record shows g. A
 * block retired at epoch e is freed once G >= e + 2: a reader that could
 * still hold it entered at e or e - 1 (it read the pointer before the
 * unlinking), and G could not have passed e + 1 while it stayed inside.
 *
 * Records: one per thread, registered on its first enter, kept on a
 * lock-free list that never shrinks, and handed back for reuse by a
 * pthread key destructor at thread exit. Sections nest (a depth count).
 *
 * Retired blocks wait in RCACHE__EPOCH_STRIPES limbo lists (a thread uses
 * its own stripe, so two writers rarely share a lock) and are freed in
 * batches: every RCACHE__EPOCH_BATCH retirements on a stripe, the retiring
 * thread tries to advance the epoch twice (with no reader inside, so that
 * everything retired so far is old enough) and frees what is, calling
 * the free functions after the stripe lock is dropped. A free function
 * may take leaf locks only (slab.c's class locks, malloc's) and must not
 * run caller code such as destructors: those run when the last reference
 * goes (entry.c), only the memory is deferred.
 *
 * Bound: a reader's section is short and calls no user code, so only a
 * descheduled or stopped thread keeps the epoch from moving. While it does,
 * retired blocks pile up; their bytes are counted, and once they pass
 * RCACHE__EPOCH_MAX_PENDING a retirement outside any section waits (yields)
 * until the readers move on and frees the backlog, so the memory held for
 * readers never exceeds that bound by more than one batch per stripe. A
 * thread inside a section never waits (it would wait for itself).
 */
#include "internal.h"

#include <sched.h>
#include <stdint.h>

/* One reader record, padded to its own lines (malloc aligns to 16 only). */
typedef struct rec {
    unsigned char pad0[64];
    _Atomic uint64_t state; /* 0: outside; (epoch << 1) | 1: inside */
    _Atomic int used;       /* held by a live thread */
    struct rec *next;       /* registry link, set before publication */
    unsigned char pad1[64];
} rec_t;

typedef struct item {
    void *p;
    rcache__epoch_free_fn fn;
    uint64_t epoch;
    uint64_t bytes;
} item_t;

typedef struct stripe {
    pthread_mutex_t lock;
    item_t *v;      /* retired, oldest first */
    size_t n, cap;
    unsigned since; /* retirements since the last collection */
    unsigned char pad[64];
} stripe_t;

static _Atomic uint64_t global_epoch = 1;
static rec_t *_Atomic registry;
_Static_assert(RCACHE__EPOCH_STRIPES == 8, "the initializer below");
static stripe_t stripes[RCACHE__EPOCH_STRIPES] = {
#define S {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, {0}}
    S, S, S, S, S, S, S, S
#undef S
};
static _Atomic uint64_t pending_items, pending_bytes, freed_items, waits;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t rec_key;
static int key_ok;
static _Thread_local rec_t *my_rec;
static _Thread_local unsigned my_depth;

/* Thread exit: the record goes back for another thread to take. */
static void rec_release(void *p) {
    rec_t *r = p;
    atomic_store_explicit(&r->state, 0, memory_order_release);
    atomic_store_explicit(&r->used, 0, memory_order_release);
}

static void key_init(void) {
    key_ok = pthread_key_create(&rec_key, rec_release) == 0;
}

/* This thread's record: a free one of the registry, or a new one. */
static rec_t *rec_get(void) {
    if (my_rec)
        return my_rec;
    pthread_once(&key_once, key_init);
    if (!key_ok)
        return NULL;
    rec_t *r;
    for (r = atomic_load_explicit(&registry, memory_order_acquire); r;
         r = r->next) {
        int expect = 0;
        if (atomic_load_explicit(&r->used, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&r->used, &expect, 1,
                                                    memory_order_acquire,
                                                    memory_order_relaxed))
            break;
    }
    if (!r) {
        if (!(r = rcache__calloc(1, sizeof(*r))))
            return NULL;
        atomic_init(&r->used, 1);
        atomic_init(&r->state, 0);
        r->next = atomic_load_explicit(&registry, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(
            &registry, &r->next, r, memory_order_release, memory_order_relaxed))
            ;
    }
    if (pthread_setspecific(rec_key, r) != 0) {
        rec_release(r);
        return NULL;
    }
    my_rec = r;
    return r;
}

int rcache__epoch_enter(void) {
    if (my_depth) {
        my_depth++;
        return 0;
    }
    rec_t *r = rec_get();
    if (!r)
        return -1;
    uint64_t g = atomic_load_explicit(&global_epoch, memory_order_relaxed);
    atomic_store_explicit(&r->state, (g << 1) | 1u, memory_order_release);
    /* the store above is visible before any pointer this section loads */
    atomic_thread_fence(memory_order_seq_cst);
    my_depth = 1;
    return 0;
}

void rcache__epoch_leave(void) {
    if (my_depth == 0 || --my_depth)
        return;
    atomic_store_explicit(&my_rec->state, 0, memory_order_release);
}

int rcache__epoch_inside(void) {
    return my_depth != 0;
}

/* Move the global epoch on when every reader inside has seen it. */
static int try_advance(void) {
    uint64_t g = atomic_load_explicit(&global_epoch, memory_order_acquire);
    atomic_thread_fence(memory_order_seq_cst);
    for (rec_t *r = atomic_load_explicit(&registry, memory_order_acquire); r;
         r = r->next) {
        uint64_t s = atomic_load_explicit(&r->state, memory_order_acquire);
        if ((s & 1u) && (s >> 1) != g)
            return 0;
    }
    uint64_t expect = g;
    atomic_compare_exchange_strong_explicit(&global_epoch, &expect, g + 1,
                                            memory_order_acq_rel,
                                            memory_order_acquire);
    return 1;
}

unsigned rcache__thread_ordinal(void) {
    static _Atomic unsigned next;
    static _Thread_local unsigned ord = UINT32_MAX;
    if (ord == UINT32_MAX)
        ord = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) & 0x7fffffffu;
    return ord;
}

/* Free what stripe s holds that no reader can see any more. */
static void collect_stripe(stripe_t *s) {
    item_t batch[RCACHE__EPOCH_BATCH];
    for (;;) {
        size_t k = 0;
        pthread_mutex_lock(&s->lock);
        uint64_t g = atomic_load_explicit(&global_epoch, memory_order_acquire);
        size_t i = 0, keep = 0;
        for (; i < s->n; i++) {
            if (k < RCACHE__EPOCH_BATCH && s->v[i].epoch + 2 <= g)
                batch[k++] = s->v[i];
            else
                s->v[keep++] = s->v[i];
        }
        s->n = keep;
        s->since = 0;
        pthread_mutex_unlock(&s->lock);
        uint64_t bytes = 0;
        for (size_t j = 0; j < k; j++) {
            bytes += batch[j].bytes;
            batch[j].fn(batch[j].p);
        }
        atomic_fetch_sub_explicit(&pending_items, k, memory_order_relaxed);
        atomic_fetch_sub_explicit(&pending_bytes, bytes, memory_order_relaxed);
        atomic_fetch_add_explicit(&freed_items, k, memory_order_relaxed);
        if (k < RCACHE__EPOCH_BATCH)
            return;
    }
}

/* Wait (yielding) until two advances pass: everything retired before the
 * call is then unreachable. Never from inside a section. */
static void grace_period(void) {
    uint64_t start = atomic_load_explicit(&global_epoch, memory_order_acquire);
    while (atomic_load_explicit(&global_epoch, memory_order_acquire) < start + 2) {
        if (!try_advance())
            sched_yield();
    }
}

void rcache__epoch_barrier(void) {
    if (my_depth)
        return; /* would wait for itself: what is old enough goes below */
    grace_period();
    for (unsigned i = 0; i < RCACHE__EPOCH_STRIPES; i++)
        collect_stripe(&stripes[i]);
}

void rcache__epoch_collect(void) {
    if (try_advance()) /* with no reader inside: everything retired so far */
        try_advance();
    for (unsigned i = 0; i < RCACHE__EPOCH_STRIPES; i++)
        collect_stripe(&stripes[i]);
}

/* Past the bound: wait for the readers, then free the backlog. */
static void over_bound(void) {
    atomic_fetch_add_explicit(&waits, 1, memory_order_relaxed);
    rcache__epoch_barrier();
}

void rcache__epoch_retire(void *p, uint64_t bytes, rcache__epoch_free_fn fn) {
    stripe_t *s = &stripes[rcache__thread_ordinal() % RCACHE__EPOCH_STRIPES];
    /* the unlinking that made p unreachable is ordered before the epoch
     * read that stamps it */
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t e = atomic_load_explicit(&global_epoch, memory_order_acquire);
    pthread_mutex_lock(&s->lock);
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : (size_t)2 * RCACHE__EPOCH_BATCH;
        item_t *nv = rcache__realloc(s->v, ncap * sizeof(*nv));
        if (!nv) {
            pthread_mutex_unlock(&s->lock);
            /* no room to defer it: wait for the readers and free it now
             * (inside a section that is impossible; the caller never
             * retires there, see internal.h) */
            if (!my_depth) {
                grace_period();
                fn(p);
            }
            return;
        }
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = (item_t){p, fn, e, bytes};
    int due = ++s->since >= RCACHE__EPOCH_BATCH;
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add_explicit(&pending_items, 1, memory_order_relaxed);
    uint64_t pend = atomic_fetch_add_explicit(&pending_bytes, bytes,
                                              memory_order_relaxed) + bytes;
    if (pend > RCACHE__EPOCH_MAX_PENDING && !my_depth) {
        over_bound();
    } else if (due) {
        if (try_advance())
            try_advance();
        collect_stripe(s);
    }
}

void rcache__epoch_info(rcache__epoch_info_t *out) {
    out->epoch = atomic_load_explicit(&global_epoch, memory_order_relaxed);
    out->pending_items = atomic_load_explicit(&pending_items, memory_order_relaxed);
    out->pending_bytes = atomic_load_explicit(&pending_bytes, memory_order_relaxed);
    out->freed_items = atomic_load_explicit(&freed_items, memory_order_relaxed);
    out->waits = atomic_load_explicit(&waits, memory_order_relaxed);
}
