/*
 * memo.c - get-or-compute (rcache_memoize and friends) with single-flight.
 *
 * Why: a cache in front of an expensive computation must never pay for it
 * twice, and N callers missing the same key at once must cause one
 * computation, not N (a stampede).  The first caller to miss a key puts a
 * "flight" for it in an in-flight table and runs the callback with no lock
 * held; later callers find the flight and wait on it (or, non-blocking,
 * leave a completion on it).  When the callback returns, the result is
 * stored in the cache and then published to the flight, which wakes every
 * waiter and runs every completion.
 *
 * The in-flight table is split in MEMO_STRIPES stripes by key hash, each a
 * mutex, a condition variable (CLOCK_MONOTONIC, for timed waits) and a
 * chain of flights.  Lock order (internal.h): a stripe lock is never taken
 * while a shard lock is held, and no cache call, callback, completion or
 * destructor runs while a stripe lock is held.
 *
 * Results travel as entry references (rcache_ref_t is an rcache__entry_t).
 * The result entry handed to callers is a private entry built from the
 * callback's result; the cache gets its own copy through the public store
 * calls, so callers keep a valid result even when the store was refused
 * (disabled cache, too big, no_store) or the entry is evicted at once.  An
 * object result is shared by both entries through a small refcounted box
 * whose last release runs the user's destructor exactly once.
 *
 * A failure can be cached (negative caching) as an object entry whose
 * object is a memo_err and whose destructor is err_marker_free: that
 * destructor pointer is how a hit recognises it.
 *
 * A thread-local stack of the keys this thread is computing turns a
 * callback asking for its own key into RCACHE_EDEADLK instead of a hang.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define MEMO_STRIPES 64u /* power of two */

/* A completion left by rcache_memoize_async(). */
typedef struct memo_done {
    struct memo_done *next;
    rcache_memo_done_fn fn;
    void *ctx;
} memo_done_t;

/* One computation in progress. Fields are guarded by the stripe lock; the
 * result fields are written once, before done is set. */
typedef struct memo_flight {
    struct memo_flight *next; /* stripe chain */
    uint64_t hash;
    const void *key;          /* the computing caller's key: valid while
                                 the flight is linked */
    size_t klen;
    uint32_t refs;            /* computing caller + waiters */
    int done;
    int err;                  /* result code once done */
    rcache__entry_t *result;  /* one reference held by the flight */
    uint64_t compute_ms;
    memo_done_t *completions;
} memo_flight_t;

typedef struct memo_stripe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    memo_flight_t *head;
} __attribute__((aligned(64))) memo_stripe_t;

struct rcache__memo {
    rcache__ext_t ext; /* first: the cache frees us through it */
    memo_stripe_t stripes[MEMO_STRIPES];
    _Atomic uint64_t compute_ms_total;
    _Atomic uint64_t dedup_saved_ms;
    _Atomic uint64_t errors;
    _Atomic uint64_t negative_hits;
    _Atomic uint64_t timeouts;
    _Atomic uint64_t deadlocks;
    _Atomic uint64_t in_flight;
};

/* A key this thread is computing (the callback's frame). */
typedef struct memo_frame {
    const rcache_t *c;
    uint64_t hash;
    const void *key;
    size_t klen;
    struct memo_frame *up;
} memo_frame_t;

static _Thread_local memo_frame_t *tls_computing;

/* Negatively cached failure. */
typedef struct memo_err {
    int code;
} memo_err_t;

/* Shares one user object between the private result entry and the cached
 * entry; the last release runs the user's destructor. */
typedef struct memo_box {
    _Atomic uint32_t refs;
    void *obj;
    rcache_destructor_fn dtor;
    void *dtor_ctx;
} memo_box_t;

#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), \
                                                  memory_order_relaxed)

/* ---- state, created on first use ------------------------------------ */

/* The memo layer sits above the cache: rcache_open() does not know it. Its
 * state is made by the first memoize call on a cache and freed by
 * rcache_close() through the ext slot (internal.h). */

static void memo_free(rcache__ext_t *x) {
    struct rcache__memo *m = (struct rcache__memo *)x;
    for (uint32_t i = 0; i < MEMO_STRIPES; i++) {
        pthread_cond_destroy(&m->stripes[i].cv);
        pthread_mutex_destroy(&m->stripes[i].mu);
    }
    rcache__free(m);
}

static struct rcache__memo *memo_new(void) {
    struct rcache__memo *m = rcache__calloc(1, sizeof(*m));
    pthread_condattr_t ca;
    uint32_t i;

    if (!m)
        return NULL;
    if (pthread_condattr_init(&ca)) {
        rcache__free(m);
        return NULL;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (i = 0; i < MEMO_STRIPES; i++) {
        if (pthread_mutex_init(&m->stripes[i].mu, NULL))
            break;
        if (pthread_cond_init(&m->stripes[i].cv, &ca)) {
            pthread_mutex_destroy(&m->stripes[i].mu);
            break;
        }
    }
    pthread_condattr_destroy(&ca);
    if (i < MEMO_STRIPES) {
        while (i--) {
            pthread_cond_destroy(&m->stripes[i].cv);
            pthread_mutex_destroy(&m->stripes[i].mu);
        }
        rcache__free(m);
        return NULL;
    }
    m->ext.free = memo_free;
    return m;
}

/* The state if some call made it already, else NULL. */
static struct rcache__memo *memo_get(rcache_t *c) {
    return (struct rcache__memo *)atomic_load_explicit(&c->ext,
                                                       memory_order_acquire);
}

/* The state, made now if this is the first use; NULL on ENOMEM. Racing
 * first calls each build one; the loser frees its own. */
static struct rcache__memo *memo_state(rcache_t *c) {
    struct rcache__memo *m = memo_get(c);
    if (m)
        return m;
    if (!(m = memo_new()))
        return NULL;
    rcache__ext_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&c->ext, &expected, &m->ext,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        memo_free(&m->ext);
        m = (struct rcache__memo *)expected;
    }
    return m;
}

/* ---- markers ---------------------------------------------------------- */

static void err_marker_free(void *obj, void *ctx) {
    (void)ctx;
    rcache__free(obj);
}

static void box_release(void *obj, void *ctx) {
    memo_box_t *b = ctx;
    (void)obj;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (b->dtor)
        b->dtor(b->obj, b->dtor_ctx);
    rcache__free(b);
}

static int entry_error(const rcache__entry_t *e) {
    const rcache__objext_t *x = e ? rcache__entry_obj(e) : NULL;
    if (x && x->dtor == err_marker_free && x->obj)
        return ((const memo_err_t *)x->obj)->code;
    return 0;
}

int rcache_ref_memo_error(const rcache_ref_t *ref) {
    return entry_error((const rcache__entry_t *)ref);
}

/* ---- options, stats --------------------------------------------------- */

void rcache_memo_opts_init(rcache_memo_opts_t *opts) {
    if (!opts)
        return;
    opts->ttl_ms = RCACHE_TTL_DEFAULT;
    opts->wait_timeout_ms = -1;
    opts->error_ttl_ms = 0;
    opts->flags = 0;
}

void rcache_memo_stats(rcache_t *c, rcache_memo_stats_t *out) {
    struct rcache__memo *m;
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    out->computations = atomic_load(&c->computations);
    out->singleflight_dedup = atomic_load(&c->singleflight_dedup);
    if (!(m = memo_get(c)))
        return;
    out->compute_ms_total = atomic_load(&m->compute_ms_total);
    out->dedup_saved_ms = atomic_load(&m->dedup_saved_ms);
    out->errors = atomic_load(&m->errors);
    out->negative_hits = atomic_load(&m->negative_hits);
    out->timeouts = atomic_load(&m->timeouts);
    out->deadlocks = atomic_load(&m->deadlocks);
    out->in_flight = atomic_load(&m->in_flight);
}

static const rcache_memo_opts_t default_opts = {RCACHE_TTL_DEFAULT, -1, 0, 0};

static int check_args(rcache_t *c, const void *key, size_t klen,
                      const rcache_memo_opts_t *o) {
    int rc;
    if (!c)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, klen)) != RCACHE_OK)
        return rc;
    if (o->ttl_ms < RCACHE_TTL_KEEP || o->error_ttl_ms < 0 ||
        (o->flags & ~(RCACHE_MEMO_BYPASS | RCACHE_MEMO_REFRESH)))
        return RCACHE_EINVAL;
    return RCACHE_OK;
}

/* ---- computing -------------------------------------------------------- */

static int self_request(const rcache_t *c, uint64_t hash, const void *key,
                        size_t klen) {
    for (const memo_frame_t *f = tls_computing; f; f = f->up)
        if (f->c == c && f->hash == hash && f->klen == klen &&
            memcmp(f->key, key, klen) == 0)
            return 1;
    return 0;
}

/*
 * Run fn for key and turn its result into a private result entry
 * (*result_out, one reference, NULL on failure); store it in the cache
 * unless `store` is 0 or the callback said no_store.  Returns RCACHE_OK or
 * the failure every caller gets.  No lock held.
 */
static int compute(rcache_t *c, uint64_t hash, const void *key, size_t klen,
                   rcache_compute_fn fn, void *fn_ctx,
                   const rcache_memo_opts_t *o, int store,
                   rcache__entry_t **result_out, uint64_t *compute_ms_out) {
    struct rcache__memo *m = memo_get(c); /* made by memoize() */
    rcache_memo_result_t res;
    memo_frame_t frame = {c, hash, key, klen, tls_computing};
    rcache_set_opts_t so = {0};
    rcache__entry_t *e = NULL;
    uint64_t t0, t1, ms;
    int rc;

    *result_out = NULL;
    memset(&res, 0, sizeof(res));
    res.ttl_ms = o->ttl_ms;

    ADD(m->in_flight, 1);
    tls_computing = &frame;
    t0 = rcache_now_ms(c);
    rc = fn(key, klen, &res, fn_ctx);
    t1 = rcache_now_ms(c);
    tls_computing = frame.up;
    atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed);

    ms = t1 > t0 ? t1 - t0 : 0;
    *compute_ms_out = ms;
    ADD(c->computations, 1);
    ADD(m->compute_ms_total, ms);
    if (rc > 0)
        rc = RCACHE_EINVAL;
    if (!store || res.no_store)
        store = 0;
    if (res.ttl_ms < RCACHE_TTL_KEEP)
        res.ttl_ms = o->ttl_ms; /* nonsense from the callback: ignore it */
    so.ttl_ms = res.ttl_ms;
    so.flags = 0;
    so.compute_ms = ms;

    if (rc < 0) {
        ADD(m->errors, 1);
        if (store && o->error_ttl_ms > 0) {
            memo_err_t *me = rcache__malloc(sizeof(*me));
            if (me) {
                me->code = rc;
                so.ttl_ms = o->error_ttl_ms;
                if (rcache_set_object(c, key, klen, me, sizeof(*me),
                                      err_marker_free, NULL, &so) != RCACHE_OK)
                    rcache__free(me);
            }
        }
        return rc;
    }

    so.tags = res.tags; /* the result's own, not an error marker's */
    so.ntags = res.ntags;
    if (!res.obj) {
        /* Bytes. */
        if (!res.val && res.val_len) {
            rc = RCACHE_EINVAL;
        } else if (res.val_len > UINT32_MAX) {
            rc = RCACHE_ETOOBIG;
        } else if (!(e = rcache__entry_new(c, key, klen, res.val,
                                           res.val_len, ms))) {
            rc = RCACHE_ENOMEM;
        } else {
            if (store)
                (void)rcache_set_ex(c, key, klen, res.val, res.val_len, &so,
                                    NULL);
        }
        if (res.val_free)
            res.val_free((void *)res.val);
        *result_out = e;
        return rc;
    }

    /* Object: the cache owns it from here on. */
    memo_box_t *b = rcache__malloc(sizeof(*b));
    if (b)
        e = rcache__entry_new_object(c, key, klen, res.obj, res.charge_bytes,
                                     box_release, b, ms);
    if (!e) {
        rcache__free(b);
        if (res.dtor)
            res.dtor(res.obj, res.dtor_ctx);
        return RCACHE_ENOMEM;
    }
    b->obj = res.obj;
    b->dtor = res.dtor;
    b->dtor_ctx = res.dtor_ctx;
    atomic_init(&b->refs, store ? 2u : 1u);
    if (store && rcache_set_object(c, key, klen, res.obj, res.charge_bytes,
                                   box_release, b, &so) != RCACHE_OK)
        box_release(res.obj, b); /* not taken: drop the cache's share */
    *result_out = e;
    return RCACHE_OK;
}

/* ---- the in-flight table ---------------------------------------------- */

static memo_stripe_t *stripe_of(struct rcache__memo *m, uint64_t hash) {
    return &m->stripes[hash & (MEMO_STRIPES - 1u)];
}

static memo_flight_t *find_locked(memo_stripe_t *s, uint64_t hash,
                                  const void *key, size_t klen) {
    for (memo_flight_t *f = s->head; f; f = f->next)
        if (f->hash == hash && f->klen == klen &&
            memcmp(f->key, key, klen) == 0)
            return f;
    return NULL;
}

static void unlink_locked(memo_stripe_t *s, memo_flight_t *f) {
    memo_flight_t **pp = &s->head;
    while (*pp && *pp != f)
        pp = &(*pp)->next;
    if (*pp)
        *pp = f->next;
}

/* Free a flight nobody refers to any more. No lock held. */
static void flight_free(memo_flight_t *f) {
    if (f->result)
        rcache__entry_unref(f->result);
    rcache__free(f);
}

/* Copy of the result for one more caller: the entry with a reference
 * taken (under the stripe lock: refs is atomic and the flight keeps its
 * own, so the entry cannot go away meanwhile). */
static rcache__entry_t *result_ref(memo_flight_t *f) {
    if (f->result)
        rcache__entry_ref(f->result);
    return f->result;
}

/* Publish a finished flight: wake the waiters, run the completions. The
 * caller's own reference to the result is taken and returned in *mine. */
static void publish(rcache_t *c, memo_stripe_t *s, memo_flight_t *f, int err,
                    rcache__entry_t *result, uint64_t ms,
                    rcache__entry_t **mine) {
    struct rcache__memo *m = memo_get(c);
    memo_done_t *dl;
    int last;

    pthread_mutex_lock(&s->mu);
    f->err = err;
    f->result = err ? NULL : result;
    f->compute_ms = ms;
    f->done = 1;
    unlink_locked(s, f);
    dl = f->completions;
    f->completions = NULL;
    *mine = result_ref(f);
    last = --f->refs == 0;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);

    if (err && result) /* an error carries no result */
        rcache__entry_unref(result);

    while (dl) {
        memo_done_t *d = dl;
        rcache__entry_t *r = NULL;
        dl = d->next;
        if (!err) {
            /* This thread still holds *mine, so the entry lives. */
            r = result;
            rcache__entry_ref(r);
        }
        ADD(c->singleflight_dedup, 1);
        ADD(m->dedup_saved_ms, ms);
        d->fn(err, (rcache_ref_t *)r, d->ctx);
        rcache__free(d);
    }
    if (last)
        flight_free(f);
}

/* Deadline on CLOCK_MONOTONIC, timeout_ms from now. */
static struct timespec deadline_after(int64_t timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* ---- the calls -------------------------------------------------------- */

/* Look the key up (hit path). RCACHE_ENOTFOUND means: go compute. */
static int lookup(rcache_t *c, const void *key, size_t klen,
                  rcache__entry_t **out, int *how) {
    rcache_ref_t *ref = NULL;
    int rc = rcache_get_ref(c, key, klen, &ref);
    if (rc != RCACHE_OK)
        return rc;
    *how = RCACHE_MEMO_HIT;
    rc = entry_error((rcache__entry_t *)ref);
    if (rc) {
        ADD(memo_get(c)->negative_hits, 1);
        rcache_release(ref);
        return rc;
    }
    *out = (rcache__entry_t *)ref;
    return RCACHE_OK;
}

/*
 * The shared body of rcache_memoize() and rcache_memoize_async(): done ==
 * NULL waits, done != NULL registers it and returns RCACHE_EAGAIN.
 */
static int memoize(rcache_t *c, const void *key, size_t klen,
                   rcache_compute_fn fn, void *fn_ctx,
                   const rcache_memo_opts_t *opts, rcache_memo_done_fn done,
                   void *done_ctx, rcache__entry_t **out, int *how) {
    const rcache_memo_opts_t *o = opts ? opts : &default_opts;
    struct rcache__memo *m;
    memo_stripe_t *s;
    memo_flight_t *f;
    rcache__entry_t *result = NULL;
    uint64_t hash, ms = 0;
    int rc;

    *out = NULL;
    *how = 0;
    if ((rc = check_args(c, key, klen, o)))
        return rc;
    if ((o->flags & RCACHE_MEMO_BYPASS) && !fn)
        return RCACHE_EINVAL;
    if (!(m = memo_state(c)))
        return RCACHE_ENOMEM;

    if (o->flags & RCACHE_MEMO_BYPASS) {
        *how = RCACHE_MEMO_BYPASSED;
        rc = compute(c, rcache__hash(key, klen), key, klen, fn, fn_ctx, o, 0,
                     &result, &ms);
        *out = result;
        return rc;
    }

    /* Hit path: one shard lookup (which hashes the key), no memo lock. */
    if (!(o->flags & RCACHE_MEMO_REFRESH)) {
        rc = lookup(c, key, klen, out, how);
        if (rc != RCACHE_ENOTFOUND)
            return rc;
    }
    hash = rcache__hash(key, klen);

    if (self_request(c, hash, key, klen)) {
        ADD(m->deadlocks, 1);
        return RCACHE_EDEADLK;
    }

    s = stripe_of(m, hash);
    pthread_mutex_lock(&s->mu);
    f = find_locked(s, hash, key, klen);
    if (f) {
        /* Someone is computing it: share their result. */
        if (done) {
            memo_done_t *d = rcache__malloc(sizeof(*d));
            if (!d) {
                pthread_mutex_unlock(&s->mu);
                return RCACHE_ENOMEM;
            }
            d->fn = done;
            d->ctx = done_ctx;
            d->next = f->completions;
            f->completions = d;
            pthread_mutex_unlock(&s->mu);
            return RCACHE_EAGAIN;
        }
        if (o->wait_timeout_ms == 0) {
            pthread_mutex_unlock(&s->mu);
            ADD(m->timeouts, 1);
            return RCACHE_ETIMEDOUT;
        }
        struct timespec dl = {0, 0};
        int timed_out = 0, last;
        if (o->wait_timeout_ms > 0)
            dl = deadline_after(o->wait_timeout_ms);
        f->refs++;
        while (!f->done && !timed_out) {
            if (o->wait_timeout_ms > 0)
                timed_out = pthread_cond_timedwait(&s->cv, &s->mu, &dl) ==
                            ETIMEDOUT;
            else
                pthread_cond_wait(&s->cv, &s->mu);
        }
        if (f->done) {
            rc = f->err;
            *out = result_ref(f);
            ms = f->compute_ms;
            *how = RCACHE_MEMO_SHARED;
        } else {
            rc = RCACHE_ETIMEDOUT;
        }
        last = --f->refs == 0;
        pthread_mutex_unlock(&s->mu);
        if (last)
            flight_free(f);
        if (rc == RCACHE_ETIMEDOUT) {
            ADD(m->timeouts, 1);
        } else {
            ADD(c->singleflight_dedup, 1);
            ADD(m->dedup_saved_ms, ms);
        }
        return rc;
    }
    if (!fn) {
        pthread_mutex_unlock(&s->mu);
        return RCACHE_ENOTFOUND;
    }

    /* Nobody is: this caller computes. */
    f = rcache__calloc(1, sizeof(*f));
    if (!f) {
        pthread_mutex_unlock(&s->mu);
        return RCACHE_ENOMEM;
    }
    f->hash = hash;
    f->key = key;
    f->klen = klen;
    f->refs = 1;
    f->next = s->head;
    s->head = f;
    pthread_mutex_unlock(&s->mu);

    /* A computation that finished between our miss and our claim has
     * stored its result: take it instead of computing again. */
    rc = RCACHE_ENOTFOUND;
    if (!(o->flags & RCACHE_MEMO_REFRESH) && rcache_exists(c, key, klen)) {
        rcache_ref_t *ref = NULL;
        if (rcache_get_ref(c, key, klen, &ref) == RCACHE_OK) {
            result = (rcache__entry_t *)ref;
            rc = entry_error(result);
            if (rc)
                ADD(m->negative_hits, 1);
            *how = RCACHE_MEMO_HIT;
        }
    }
    if (rc == RCACHE_ENOTFOUND) {
        *how = RCACHE_MEMO_COMPUTED;
        rc = compute(c, hash, key, klen, fn, fn_ctx, o, 1, &result, &ms);
    }
    publish(c, s, f, rc, result, ms, out);
    return rc;
}

int rcache_memoize(rcache_t *c, const void *key, size_t key_len,
                   rcache_compute_fn fn, void *fn_ctx,
                   const rcache_memo_opts_t *opts, rcache_ref_t **ref_out,
                   int *how_out) {
    rcache__entry_t *e = NULL;
    int how = 0, rc;
    if (how_out)
        *how_out = 0;
    if (!ref_out)
        return RCACHE_EINVAL;
    rc = memoize(c, key, key_len, fn, fn_ctx, opts, NULL, NULL, &e, &how);
    if (rc != RCACHE_OK && e) { /* defensive: errors carry no result */
        rcache__entry_unref(e);
        e = NULL;
    }
    *ref_out = (rcache_ref_t *)e;
    if (how_out)
        *how_out = how;
    return rc;
}

int rcache_memoize_async(rcache_t *c, const void *key, size_t key_len,
                         rcache_compute_fn fn, void *fn_ctx,
                         const rcache_memo_opts_t *opts,
                         rcache_memo_done_fn done, void *done_ctx,
                         rcache_ref_t **ref_out) {
    rcache__entry_t *e = NULL;
    int how = 0, rc;
    if (!ref_out)
        return RCACHE_EINVAL;
    *ref_out = NULL;
    if (!done)
        return RCACHE_EINVAL;
    rc = memoize(c, key, key_len, fn, fn_ctx, opts, done, done_ctx, &e, &how);
    if (rc != RCACHE_OK && e) {
        rcache__entry_unref(e);
        e = NULL;
    }
    *ref_out = (rcache_ref_t *)e;
    return rc;
}

int rcache_memoize_copy(rcache_t *c, const void *key, size_t key_len,
                        rcache_compute_fn fn, void *fn_ctx,
                        const rcache_memo_opts_t *opts, void **val_out,
                        size_t *val_len_out) {
    rcache_ref_t *ref = NULL;
    const void *v;
    size_t len = 0;
    void *copy;
    int rc;

    if (val_len_out)
        *val_len_out = 0;
    if (!val_out)
        return RCACHE_EINVAL;
    *val_out = NULL;
    rc = rcache_memoize(c, key, key_len, fn, fn_ctx, opts, &ref, NULL);
    if (rc != RCACHE_OK)
        return rc;
    if (rcache_ref_object(ref)) {
        rcache_release(ref);
        return RCACHE_EWRONGTYPE;
    }
    v = rcache_ref_value(ref, &len);
    /* rcache__malloc is malloc underneath: the caller frees with free(). */
    copy = rcache__malloc(len ? len : 1);
    if (!copy) {
        rcache_release(ref);
        return RCACHE_ENOMEM;
    }
    if (len)
        memcpy(copy, v, len);
    rcache_release(ref);
    *val_out = copy;
    if (val_len_out)
        *val_len_out = len;
    return RCACHE_OK;
}

int rcache_memoize_key(rcache_t *c, rcache_key_t *k, rcache_compute_fn fn,
                       void *fn_ctx, const rcache_memo_opts_t *opts,
                       rcache_ref_t **ref_out, int *how_out) {
    const void *key;
    size_t klen;
    int rc;

    if (how_out)
        *how_out = 0;
    if (ref_out)
        *ref_out = NULL;
    if (!k)
        return RCACHE_EINVAL;
    rc = rcache_key_finish(k, &key, &klen);
    if (rc == RCACHE_OK)
        rc = rcache_memoize(c, key, klen, fn, fn_ctx, opts, ref_out, how_out);
    rcache_key_free(k);
    return rc;
}

/* ---- test support ------------------------------------------------------ */

/*
 * Callers now waiting on key's computation (blocked waiters plus registered
 * completions); -1 when nothing is in flight for key.  For tests, which
 * declare it themselves (tests/memo/memo_test.h): it lets them open a
 * callback's gate only once every waiter is parked, instead of sleeping.
 */
long rcache__memo_waiters(rcache_t *c, const void *key, size_t klen);

long rcache__memo_waiters(rcache_t *c, const void *key, size_t klen) {
    uint64_t hash;
    memo_stripe_t *s;
    memo_flight_t *f;
    long n = -1;

    struct rcache__memo *m = c ? memo_get(c) : NULL;
    if (!m || !key || !klen)
        return -1;
    hash = rcache__hash(key, klen);
    s = stripe_of(m, hash);
    pthread_mutex_lock(&s->mu);
    f = find_locked(s, hash, key, klen);
    if (f) {
        n = (long)f->refs - 1;
        for (memo_done_t *d = f->completions; d; d = d->next)
            n++;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}
