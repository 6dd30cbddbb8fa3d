/*
 * cache.c - the public entry points: open/close, store, lookup, delete.
 *
 * Each call hashes the key once (XXH3), picks the shard from the hash's
 * high bits, and does its work under that shard's lock. Memory is allocated
 * before the lock is taken and released after it is dropped (through a
 * reclaim list), so a lock is held only for pointer work and copies, and no
 * destructor ever runs under it.
 */
#include "internal.h"
#include "diag.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SHARDS 1024u

static uint32_t round_pow2(uint64_t v, uint32_t max) {
    uint32_t p = 1;
    while (p < v && p < max)
        p <<= 1;
    return p;
}

/* 32 shards per CPU, at least 64: with a shard lock held across a lookup's
 * DRAM misses, two threads on 16 shards collided often enough to get no
 * speed-up at all; 64 shards gave 2.1x on 2 CPUs (rcache-bench micro). */
static uint32_t default_shards(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t n = cpus > 0 ? (uint64_t)cpus * 32u : 64u;
    return (uint32_t)(n < 64u ? 64u : n > MAX_SHARDS ? MAX_SHARDS : n);
}

int rcache_open(const rcache_config_t *cfg, rcache_t **out) {
    rcache_config_t def;
    rcache_t *c;
    uint32_t n, bits = 0;
    size_t entries;

    if (!out)
        return RCACHE_EINVAL;
    *out = NULL;
    if (!cfg) {
        rcache_config_init(&def);
        cfg = &def;
    }
    if (cfg->default_ttl_ms > (uint64_t)INT64_MAX) /* TTLs are int64_t ms */
        return RCACHE_EINVAL;
    if (cfg->policy < 0 || cfg->policy >= RCACHE_POLICY_COUNT)
        return RCACHE_EINVAL;
    if (cfg->key_classes > RCACHE_MAX_KEY_CLASSES || (cfg->key_classes && !cfg->key_class))
        return RCACHE_EINVAL;
    c = rcache__calloc(1, sizeof(*c));
    if (!c)
        return RCACHE_ENOMEM;
    n = round_pow2(cfg->shards ? cfg->shards : default_shards(), MAX_SHARDS);
    while ((1u << bits) < n)
        bits++;
    c->nshards = n;
    c->shard_shift = 64u - bits;
    rcache__clock_init(&c->clock, cfg->clock, cfg->clock_ctx);
    c->on_removal = cfg->on_removal;
    c->on_removal_ctx = cfg->on_removal_ctx;
    if (cfg->key_class && cfg->key_classes) {
        c->kclass.fn = cfg->key_class;
        c->kclass.ctx = cfg->key_class_ctx;
        c->kclass.n = cfg->key_classes;
    }
    atomic_init(&c->max_items, cfg->max_items);
    atomic_init(&c->max_bytes, cfg->max_bytes);
    atomic_init(&c->default_ttl_ms, cfg->default_ttl_ms);
    atomic_init(&c->disabled, cfg->disabled ? 1 : 0);
    atomic_init(&c->policy, cfg->policy);
    atomic_init(&c->diag_mrc_th, 0);            /* diagnostics off: */
    atomic_init(&c->diag_hot_mask, UINT64_MAX); /* no lookup sampled */
    if (pthread_mutex_init(&c->policy_lock, NULL) != 0) {
        rcache__free(c);
        return RCACHE_ENOMEM;
    }

    /* Size the tables for the item limit when there is one (up to 64k
     * entries a shard), so a cache filling to its limit rarely rehashes. */
    entries = 16;
    if (cfg->max_items)
        entries = cfg->max_items / n + 1 < (1u << 16) ? cfg->max_items / n + 1
                                                       : (1u << 16);

    c->slab = rcache__slab_new(&c->max_bytes);
    c->ctrs = c->slab ? rcache__calloc(RCACHE__CTR_SLOTS, sizeof(*c->ctrs))
                      : NULL;
    c->shards = c->ctrs ? rcache__calloc(n, sizeof(*c->shards)) : NULL;
    if (!c->shards) {
        rcache__free(c->ctrs);
        rcache__slab_free(c->slab);
        pthread_mutex_destroy(&c->policy_lock);
        rcache__free(c);
        return RCACHE_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (rcache__shard_init(&c->shards[i], entries, cfg->policy) !=
            RCACHE_OK) {
            rcache__reclaim_t r = {0};
            for (uint32_t j = 0; j < i; j++)
                rcache__shard_fini(&c->shards[j], &r);
            pthread_mutex_destroy(&c->policy_lock);
            rcache__free(c->shards);
            rcache__free(c->ctrs);
            rcache__slab_free(c->slab);
            rcache__free(c);
            return RCACHE_ENOMEM;
        }
    }
    if (rcache__tags_init(c) != RCACHE_OK || rcache__kclass_init(c) != RCACHE_OK) {
        rcache_close(c);
        return RCACHE_ENOMEM;
    }
    if (cfg->diagnostics && rcache_diag_enable(c, 1) != RCACHE_OK) {
        rcache_close(c);
        return RCACHE_ENOMEM;
    }
    *out = c;
    return RCACHE_OK;
}

int rcache_open_env(rcache_t **out, char *errbuf, size_t errlen) {
    rcache_config_t cfg;
    int rc;
    rcache_config_init(&cfg);
    if ((rc = rcache_config_from_env(&cfg, errbuf, errlen)) != RCACHE_OK)
        return rc;
    return rcache_open(&cfg, out);
}

void rcache_close(rcache_t *c) {
    rcache__reclaim_t r = {0};
    if (!c)
        return;
    rcache__ext_t *x = atomic_load_explicit(&c->ext, memory_order_acquire);
    if (x)
        x->free(x);
    for (uint32_t i = 0; i < c->nshards; i++)
        rcache__shard_fini(&c->shards[i], &r);
    rcache__reclaim_run(&r);
    /* every block retired so far freed: none may reach the slab store
     * after it is unmapped below */
    rcache__epoch_barrier();
    rcache__tags_fini(c);
    rcache__kclass_fini(c);
    rcache__diag_free(rcache__diag_get(c));
    pthread_mutex_destroy(&c->policy_lock);
    rcache__free(c->shards);
    rcache__free(c->ctrs);
    rcache__slab_free(c->slab); /* every entry was released above */
    rcache__free(c);
}

static rcache_t *default_cache;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_create(void) {
    char err[256];
    int rc = rcache_open_env(&default_cache, err, sizeof(err));
    if (rc == RCACHE_EINVAL)
        fprintf(stderr, "rcache: default cache not created: %s\n", err);
    else if (rc != RCACHE_OK)
        fprintf(stderr, "rcache: default cache not created: %s\n",
                rcache_strerror(rc));
}

rcache_t *rcache_default(void) {
    pthread_once(&default_once, default_create);
    return default_cache;
}

/* ---- storing ---------------------------------------------------------- */

static int opts_ok(const rcache_set_opts_t *o) {
    if ((o->flags & ~(RCACHE_SET_NX | RCACHE_SET_XX | RCACHE_SET_EXPIRE_AT)) ||
        (o->flags & RCACHE_SET_NX && o->flags & RCACHE_SET_XX) ||
        o->ttl_ms < ((o->flags & RCACHE_SET_EXPIRE_AT) ? 0 : RCACHE_TTL_KEEP))
        return RCACHE_EINVAL;
    return RCACHE_OK;
}

/* The new entry's absolute expiry (0 = none) at the operation's time t;
 * the exact clock is read only when the expiry depends on it. */
static uint64_t store_expiry(const rcache_t *c, const rcache_set_opts_t *o,
                             const rcache__entry_t *old, rcache__optime_t *t) {
    if (o->flags & RCACHE_SET_EXPIRE_AT)
        return o->ttl_ms ? (uint64_t)o->ttl_ms : 1; /* the epoch: past */
    return rcache__expiry_for(c, o->ttl_ms, old, t);
}

/* An object whose charge would carry the byte gauge past INT64_MAX (only
 * possible with max_bytes 0 and absurd declared charges) is refused, so
 * the gauge's sums never wrap: at most one store per shard can race past
 * the check, each by at most RCACHE_MAX_CHARGE_BYTES. */
static int gauge_room(const rcache_t *c, uint64_t charge) {
    uint64_t bytes = atomic_load_explicit(&c->bytes, memory_order_relaxed);
    return bytes <= (uint64_t)INT64_MAX && charge <= (uint64_t)INT64_MAX - bytes;
}

/* Link e (the caller made sure it is wanted; h32: its key's hash32) in
 * place of old (may be NULL), handing old to old_out or r. RCACHE_ENOMEM:
 * e not linked (the index found no room), nothing changed. */
static int store_link_locked(rcache_t *c, rcache__shard_t *s,
                             rcache__entry_t *e, uint32_t h32, rcache__entry_t *old,
                             rcache__entry_t **old_out, rcache__reclaim_t *r) {
    if (!old)
        return rcache__shard_link_locked(c, s, e, h32);
    rcache__shard_replace_locked(c, s, old, e, h32);
    if (old_out)
        *old_out = old; /* the table's reference moves to the caller */
    else
        rcache__reclaim_push(r, old);
    return RCACHE_OK;
}

/* A store while disabled: caches nothing and drops the entry it would have
 * replaced; answers as for an absent key (NX stores, XX does not). */
static int store_disabled(rcache_t *c, const void *key, size_t klen,
                          unsigned flags) {
    rcache__reclaim_t r = {0};
    rcache__loc_t l;
    rcache__entry_t *old = rcache__lock_lookup(c, key, klen, &l, &r);
    if (old) {
        rcache__shard_unlink_locked(c, l.s, old);
        rcache__reclaim_push(&r, old);
    }
    if (!(flags & RCACHE_SET_XX))
        l.s->st.sets++;
    pthread_mutex_unlock(&l.s->lock);
    rcache__reclaim_run(&r);
    return (flags & RCACHE_SET_XX) ? RCACHE_ENOTFOUND : RCACHE_OK;
}

/* Store a prepared entry e (which carries the key) with the prepared tag
 * record tr (NULL: no tags). Takes ownership of e and tr: on error, and
 * when its absolute expiry is already past (the old entry is then
 * removed, as a SET with EXAT in the past does), they are freed. */
static int store(rcache_t *c, rcache__entry_t *e, uint64_t hash,
                 const rcache_set_opts_t *o, rcache__entry_t **old_out,
                 rcache__tagrec_t *tr) {
    const void *key = rcache__entry_key(e);
    size_t klen = e->klen;
    rcache__reclaim_t r = {0};
    rcache__optime_t t = {0, RCACHE__T_NONE};
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);
    uint64_t charge = rcache__entry_charge(e);
    rcache__shard_t *s = rcache__shard_of(c, hash);
    rcache__entry_t *old;
    int rc = RCACHE_OK, linked = 0;

    /* with its tag record: what the entry alone will cost at least */
    if (mb && (charge > mb || rcache__tags_record_charge(tr) > mb - charge)) {
        rcache__entry_discard(e);
        rcache__tags_discard(tr);
        return RCACHE_ETOOBIG;
    }
    rcache__index_prefetch(&s->idx, (uint32_t)hash); /* overlaps the lock */
    pthread_mutex_lock(&s->lock);
    old = rcache__shard_lookup_locked(c, s, hash, key, klen, &t, &r);
    if ((o->flags & RCACHE_SET_NX) && old) {
        rc = RCACHE_EEXIST;
        if (old_out) {
            rcache__entry_ref(old);
            *old_out = old;
        }
    } else if ((o->flags & RCACHE_SET_XX) && !old) {
        rc = RCACHE_ENOTFOUND;
    } else if (rcache__entry_obj(e) && !gauge_room(c, charge)) {
        rc = RCACHE_ETOOBIG;
    } else {
        e->expire_at_ms = store_expiry(c, o, old, &t);
        if (e->expire_at_ms && rcache__expired(e, rcache__op_now(c, &t))) {
            /* expired on arrival: the store replaces the key by nothing */
            s->st.sets++;
            if (old) {
                rcache__shard_unlink_locked(c, s, old);
                s->st.deletes++;
                if (old_out)
                    *old_out = old;
                else
                    rcache__reclaim_push(&r, old);
            }
        } else if (tr && rcache__tags_attach_locked(c, e, tr) != RCACHE_OK) {
            rc = RCACHE_ENOMEM; /* nothing changed */
        } else {
            tr = NULL; /* the index holds it now */
            e->ctime_s = rcache__clock_rel_s(&c->clock, rcache__op_stamp(c, &t));
            rcache__atime_set(e, e->ctime_s);
            if (store_link_locked(c, s, e, (uint32_t)hash, old, old_out, &r) !=
                RCACHE_OK) {
                rcache__tags_leaving(c, e); /* back out: nothing changed */
                rc = RCACHE_ENOMEM;
                goto unlock;
            }
            s->st.sets++;
            linked = 1;
            rcache__shard_sweep_locked(c, s, SIZE_MAX, 1,
                                       rcache__op_stamp(c, &t), &r, NULL, NULL);
            rcache__entry_ref(e); /* held across rcache__evict(), which keeps e */
        }
    }
unlock:
    pthread_mutex_unlock(&s->lock);

    if (linked) {
        rcache__diag_store(c, hash, charge);
        rcache__evict(c, e, &r);
        rcache__entry_unref(e);
    } else if (rc == RCACHE_OK) {
        rcache__reclaim_push(&r, e); /* ours now: released (dtor) below */
    } else {
        rcache__entry_discard(e); /* refused: the caller keeps obj, no destructor */
    }
    rcache__tags_discard(tr);
    rcache__reclaim_run(&r);
    return rc;
}

int rcache_set_ex(rcache_t *c, const void *key, size_t key_len, const void *val,
                  size_t val_len, const rcache_set_opts_t *opts,
                  rcache_ref_t **old_out) {
    static const rcache_set_opts_t defaults = {RCACHE_TTL_DEFAULT, 0, 0, NULL,
                                               0};
    const rcache_set_opts_t *o = opts ? opts : &defaults;
    rcache__entry_t *e, *old = NULL;
    rcache__tagrec_t *tr;
    int rc;

    if (old_out)
        *old_out = NULL;
    if (!c || (!val && val_len))
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, key_len)) || (rc = opts_ok(o)))
        return rc;
    if (val_len > UINT32_MAX)
        return RCACHE_ETOOBIG;
    if ((rc = rcache__tags_prepare(o, &tr)) != RCACHE_OK)
        return rc;
    if (rcache__disabled(c)) {
        rcache__tags_discard(tr);
        return store_disabled(c, key, key_len, o->flags);
    }
    e = rcache__entry_new(c, key, key_len, val, val_len, o->compute_ms);
    if (!e) {
        rcache__tags_discard(tr);
        return RCACHE_ENOMEM;
    }
    rc = store(c, e, rcache__hash(key, key_len), o, old_out ? &old : NULL, tr);
    if (old_out)
        *old_out = (rcache_ref_t *)old;
    return rc;
}

int rcache_set(rcache_t *c, const void *key, size_t key_len, const void *val,
               size_t val_len, int64_t ttl_ms, unsigned flags) {
    rcache_set_opts_t o = {ttl_ms, flags, 0, NULL, 0};
    return rcache_set_ex(c, key, key_len, val, val_len, &o, NULL);
}

int rcache_set_object(rcache_t *c, const void *key, size_t key_len, void *obj,
                      size_t charge_bytes, rcache_destructor_fn dtor,
                      void *dtor_ctx, const rcache_set_opts_t *opts) {
    static const rcache_set_opts_t defaults = {RCACHE_TTL_DEFAULT, 0, 0, NULL,
                                               0};
    const rcache_set_opts_t *o = opts ? opts : &defaults;
    rcache__entry_t *e;
    rcache__tagrec_t *tr;
    int rc;

    if (!c)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, key_len)) || (rc = opts_ok(o)))
        return rc;
    if (charge_bytes > RCACHE_MAX_CHARGE_BYTES)
        return RCACHE_ETOOBIG;
    if ((rc = rcache__tags_prepare(o, &tr)) != RCACHE_OK)
        return rc;
    if (rcache__disabled(c)) {
        rcache__tags_discard(tr);
        rc = store_disabled(c, key, key_len, o->flags);
        /* Not cached: the cache owns obj on RCACHE_OK, so release it now. */
        if (rc == RCACHE_OK && dtor)
            dtor(obj, dtor_ctx);
        return rc;
    }
    e = rcache__entry_new_object(c, key, key_len, obj, charge_bytes, dtor,
                                 dtor_ctx, o->compute_ms);
    if (!e) {
        rcache__tags_discard(tr);
        return RCACHE_ENOMEM;
    }
    return store(c, e, rcache__hash(key, key_len), o, NULL, tr);
}

/* ---- lookup ------------------------------------------------------------ */

/* Record an access: e becomes its shard's most recently used entry and its
 * access time moves to the operation's time (never back: that may be the
 * coarse clock, which can lag the exact time the entry was stored with). */
static void accessed_locked(rcache_t *c, rcache__loc_t *l, rcache__entry_t *e) {
    rcache__atime_touch(e, rcache__clock_rel_s(&c->clock, rcache__op_stamp(c, &l->t)));
    rcache__pol_hit_locked(c, l->s, e, (uint32_t)l->hash);
}

/* The lock-free hit (docs/DESIGN.md "Reads without locks"): only for
 * policies whose hit sets a bit or bumps a small counter, and only a hit on
 * a live entry that no writer holds; everything else returns
 * RCACHE__NOLOCK_FALLBACK and the caller runs the locked lookup, unchanged
 * (so a miss, an expiry, memoize and single-flight never come from here).
 * No lock is taken and no caller code runs inside the epoch section (the
 * clock may be the caller's function: with one, a copy takes a reference
 * and leaves the section before reading it). */
#define RCACHE__NOLOCK_FALLBACK 1000

/* Count a lock-free hit on e (e readable: referenced, or inside the epoch
 * section); returns the hot-key sampler's pick. */
static unsigned nolock_hit(rcache_t *c, rcache__entry_t *e, int pol,
                           uint64_t hash, rcache__optime_t *t, uint64_t *charge) {
    rcache__ctr_t *k = rcache__ctr(c);
    uint64_t n = rcache__ctr_add(&k->hits, 1);
    unsigned pick = rcache__diag_pick_lookup(c, hash, n);
    if (e->flags & RCACHE__F_COST)
        rcache__ctr_add(&k->compute_saved_ms, rcache__entry_compute_ms(e));
    rcache__hit_bump(e, pol == RCACHE_POLICY_SIEVE ? 1u : 3u, n);
    rcache__atime_touch(e, rcache__clock_rel_s(&c->clock, rcache__op_stamp(c, t)));
    *charge = pick ? rcache__entry_charge(e) : 0;
    return pick;
}

/* A copy without a reference, inside the epoch section: for a slab entry
 * seen with no writer (refs loaded with acquire: nonzero, no WRITE bit)
 * under the built-in clock. Nothing writes such an entry's flags, length
 * or bytes once it is published or its writer has let go (update.c copies
 * a small value for a splice instead of writing it in place; a regrow or
 * compaction writes a new block and leaves the write bit on the old one),
 * and its memory is freed only after the section ends, so the bytes read
 * here are the value it was found with. Returns RCACHE__NOLOCK_TRY_REF
 * when the entry does not qualify (the caller takes a reference instead),
 * RCACHE__NOLOCK_FALLBACK when it has expired (the caller runs the locked
 * lookup, which unlinks it), else the call's result. */
#define RCACHE__NOLOCK_TRY_REF 1001
static int copy_nolock(rcache_t *c, rcache__entry_t *e, int pol, uint64_t hash,
                       void *buf, size_t cap, size_t *len_out, unsigned *pick,
                       uint64_t *charge) {
    uint32_t r = atomic_load_explicit(&e->refs, memory_order_acquire);
    if (r == 0 || (r & RCACHE__REFS_WRITE) || c->clock.fn ||
        (e->flags & (RCACHE__F_SLAB | RCACHE__F_OBJECT)) != RCACHE__F_SLAB)
        return RCACHE__NOLOCK_TRY_REF;
    rcache__optime_t t = {0};
    uint64_t exp = __atomic_load_n(&e->expire_at_ms, __ATOMIC_RELAXED);
    if (exp && rcache__op_now(c, &t) >= exp)
        return RCACHE__NOLOCK_FALLBACK;
    const size_t vlen = e->vlen;
    int rc = vlen > cap ? RCACHE_ERANGE : RCACHE_OK;
    if (rc == RCACHE_OK && vlen)
        memcpy(buf, rcache__entry_val(e), vlen);
    if (len_out)
        *len_out = vlen;
    *pick = nolock_hit(c, e, pol, hash, &t, charge);
    return rc;
}

static int lookup_nolock(rcache_t *c, const void *key, size_t klen,
                         uint64_t hash, void *buf, size_t cap, size_t *len_out,
                         rcache__entry_t **ref_out, int allow_object) {
    int pol = atomic_load_explicit(&c->policy, memory_order_relaxed);
    if ((pol != RCACHE_POLICY_S3FIFO && pol != RCACHE_POLICY_SIEVE) ||
        rcache__disabled(c))
        return RCACHE__NOLOCK_FALLBACK;
    rcache__shard_t *s = rcache__shard_of(c, hash);
    rcache__index_prefetch(&s->idx, (uint32_t)hash);
    if (rcache__epoch_enter() != 0)
        return RCACHE__NOLOCK_FALLBACK;
    rcache__entry_t *e = rcache__index_find_nolock(&s->idx, (uint32_t)hash, key, klen);
    unsigned pick = 0;
    uint64_t charge = 0;
    int rc = RCACHE__NOLOCK_TRY_REF;
    if (e && !ref_out)
        rc = copy_nolock(c, e, pol, hash, buf, cap, len_out, &pick, &charge);
    int got = rc == RCACHE__NOLOCK_TRY_REF && e && rcache__entry_try_ref(e);
    rcache__epoch_leave(); /* before any unref: no retirement inside */
    if (rc != RCACHE__NOLOCK_TRY_REF) {
        if (rc != RCACHE__NOLOCK_FALLBACK)
            rcache__diag_lookup(c, pick, key, klen, hash, charge);
        return rc;
    }
    if (!got)
        return RCACHE__NOLOCK_FALLBACK;
    rcache__optime_t t = {0};
    /* the expiry may change under the lock (EXPIRE): one relaxed read */
    uint64_t exp = __atomic_load_n(&e->expire_at_ms, __ATOMIC_RELAXED);
    if ((exp && rcache__op_now(c, &t) >= exp) ||
        (!allow_object && (e->flags & RCACHE__F_OBJECT))) {
        rcache__entry_unref(e); /* the locked path unlinks or refuses it */
        return RCACHE__NOLOCK_FALLBACK;
    }
    pick = nolock_hit(c, e, pol, hash, &t, &charge);
    rc = RCACHE_OK;
    if (len_out)
        *len_out = e->vlen;
    if (ref_out) {
        *ref_out = e; /* the try-ref's reference is the caller's */
    } else {
        if (e->vlen > cap)
            rc = RCACHE_ERANGE;
        else if (e->vlen)
            memcpy(buf, rcache__entry_val(e), e->vlen);
        rcache__entry_unref(e);
    }
    rcache__diag_lookup(c, pick, key, klen, hash, charge);
    return rc;
}

/* Find a live entry and count a hit (touching it) or a miss. With want_ref
 * a reference is taken. For bytes, copies into buf when it fits. hash_in:
 * the key's rcache__hash() when the caller has it, else NULL. */
static int lookup(rcache_t *c, const void *key, size_t klen, void *buf,
                  size_t cap, size_t *len_out, rcache__entry_t **ref_out,
                  int allow_object, const uint64_t *hash_in) {
    rcache__reclaim_t r = {0};
    rcache__shard_t *s;
    rcache__entry_t *e;
    unsigned pick = 0;
    uint64_t charge = 0;
    int rc = RCACHE_OK;

    if (!c)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, klen)))
        return rc;
    const uint64_t hash = hash_in ? *hash_in : rcache__hash(key, klen);
    rc = lookup_nolock(c, key, klen, hash, buf, cap, len_out, ref_out, allow_object);
    if (rc != RCACHE__NOLOCK_FALLBACK)
        return rc;
    rc = RCACHE_OK;
    rcache__loc_t l;
    e = rcache__lock_lookup_hashed(c, key, klen, hash, &l, &r);
    s = l.s;
    if (rcache__disabled(c))
        e = NULL; /* disabled: every lookup misses */
    if (!e) {
        /* 0 unless sampled: the hot-key sample counts this thread's lookups */
        pick = rcache__diag_pick_lookup(c, l.hash,
                                        rcache__ctr_add(&rcache__ctr(c)->misses, 1));
        rc = RCACHE_ENOTFOUND;
    } else if (!allow_object && (e->flags & RCACHE__F_OBJECT)) {
        rc = RCACHE_EWRONGTYPE;
    } else {
        rcache__ctr_t *k = rcache__ctr(c);
        uint64_t n = rcache__ctr_add(&k->hits, 1);
        s->st.locked_hits++;
        pick = rcache__diag_pick_lookup(c, l.hash, n);
        if (e->flags & RCACHE__F_COST)
            rcache__ctr_add(&k->compute_saved_ms, rcache__entry_compute_ms(e));
        rcache__hit_bump(e, 0, n);
        accessed_locked(c, &l, e);
        if (pick)
            charge = rcache__entry_charge(e);
        if (len_out)
            *len_out = e->vlen;
        if (ref_out) {
            rcache__entry_ref(e);
            *ref_out = e;
        } else if (e->vlen > cap) {
            rc = RCACHE_ERANGE;
        } else if (e->vlen) {
            memcpy(buf, rcache__entry_val(e), e->vlen);
        }
    }
    pthread_mutex_unlock(&s->lock);
    rcache__reclaim_run(&r);
    rcache__diag_lookup(c, pick, key, klen, l.hash, charge);
    return rc;
}

int rcache_get(rcache_t *c, const void *key, size_t key_len, void *buf,
               size_t buf_cap, size_t *val_len) {
    if (!buf && buf_cap)
        return RCACHE_EINVAL;
    return lookup(c, key, key_len, buf, buf_cap, val_len, NULL, 0, NULL);
}

int rcache_get_ref(rcache_t *c, const void *key, size_t key_len,
                   rcache_ref_t **ref_out) {
    rcache__entry_t *e = NULL;
    int rc;
    if (!ref_out)
        return RCACHE_EINVAL;
    *ref_out = NULL;
    rc = lookup(c, key, key_len, NULL, 0, NULL, &e, 1, NULL);
    if (rc == RCACHE_OK)
        *ref_out = (rcache_ref_t *)e;
    return rc;
}

/* Lookups of rcache_get_many_ref() in flight at once: their bucket lines,
 * then their entries' first lines, are fetched together (16 lines stay
 * within the outstanding-miss buffers of current cores). */
#define RCACHE__MANY_BATCH 16

/* Hash keys[0..n) into hash (ok[i] 0 for a key the lookup will refuse)
 * and start fetching what their lookups will read: every bucket line,
 * then, once those are likely here, every entry a bucket's tag points at.
 * The second pass reads the index without a lock, so inside an epoch
 * section (a table dropped by a resize meanwhile stays readable). */
static void many_prefetch(rcache_t *c, size_t n, const void *const keys[],
                          const size_t lens[], uint64_t *hash, int *ok) {
    for (size_t i = 0; i < n; i++) {
        ok[i] = rcache__key_check(keys[i], lens[i]) == RCACHE_OK;
        hash[i] = ok[i] ? rcache__hash(keys[i], lens[i]) : 0;
        if (ok[i])
            rcache__index_prefetch(&rcache__shard_of(c, hash[i])->idx,
                                   (uint32_t)hash[i]);
    }
    if (rcache__epoch_enter() != 0)
        return; /* no reader record: the lookups run unprefetched */
    for (size_t i = 0; i < n; i++)
        if (ok[i])
            rcache__index_prefetch_entry(&rcache__shard_of(c, hash[i])->idx,
                                         (uint32_t)hash[i]);
    rcache__epoch_leave();
}

int rcache_get_many_ref(rcache_t *c, size_t n, const void *const keys[],
                        const size_t key_lens[], rcache_ref_t *refs[],
                        int rcs[]) {
    uint64_t hash[RCACHE__MANY_BATCH];
    int ok[RCACHE__MANY_BATCH];
    if (!c || (n && (!keys || !key_lens || !refs)))
        return RCACHE_EINVAL;
    for (size_t at = 0; at < n; at += RCACHE__MANY_BATCH) {
        size_t m = n - at < RCACHE__MANY_BATCH ? n - at : RCACHE__MANY_BATCH;
        many_prefetch(c, m, keys + at, key_lens + at, hash, ok);
        for (size_t i = 0; i < m; i++) {
            rcache__entry_t *e = NULL;
            int rc = lookup(c, keys[at + i], key_lens[at + i], NULL, 0, NULL,
                            &e, 1, ok[i] ? &hash[i] : NULL);
            refs[at + i] = rc == RCACHE_OK ? (rcache_ref_t *)e : NULL;
            if (rcs)
                rcs[at + i] = rc;
        }
    }
    return RCACHE_OK;
}

int rcache_get_alloc(rcache_t *c, const void *key, size_t key_len,
                     void **val_out, size_t *val_len) {
    rcache__entry_t *e = NULL;
    int rc;
    if (!val_out)
        return RCACHE_EINVAL;
    *val_out = NULL;
    rc = lookup(c, key, key_len, NULL, 0, NULL, &e, 0, NULL);
    if (rc != RCACHE_OK)
        return rc;
    /* rcache__malloc is plain malloc (plus failure injection in test
     * builds), so the caller frees the copy with free(). */
    void *copy = rcache__malloc(e->vlen ? e->vlen : 1);
    if (copy) {
        memcpy(copy, rcache__entry_val(e), e->vlen);
        *val_out = copy;
        if (val_len)
            *val_len = e->vlen;
    } else {
        rc = RCACHE_ENOMEM;
    }
    rcache__entry_unref(e);
    return rc;
}

const void *rcache_ref_value(const rcache_ref_t *ref, size_t *len_out) {
    const rcache__entry_t *e = (const rcache__entry_t *)ref;
    if (!e || (e->flags & RCACHE__F_OBJECT)) {
        if (len_out)
            *len_out = 0;
        return NULL;
    }
    if (len_out)
        *len_out = e->vlen;
    return rcache__entry_val(e);
}

void *rcache_ref_object(const rcache_ref_t *ref) {
    const rcache__objext_t *x =
        ref ? rcache__entry_obj((const rcache__entry_t *)ref) : NULL;
    return x ? x->obj : NULL;
}

const void *rcache_ref_key(const rcache_ref_t *ref, size_t *len_out) {
    const rcache__entry_t *e = (const rcache__entry_t *)ref;
    if (len_out)
        *len_out = e ? e->klen : 0;
    return e ? rcache__entry_key(e) : NULL;
}

void rcache_release(rcache_ref_t *ref) {
    if (ref)
        rcache__entry_unref((rcache__entry_t *)ref);
}

int rcache_exists(rcache_t *c, const void *key, size_t key_len) {
    rcache__reclaim_t r = {0};
    int found;
    if (!c || rcache__key_check(key, key_len) != RCACHE_OK)
        return 0;
    rcache__loc_t l;
    found = rcache__lock_lookup(c, key, key_len, &l, &r) != NULL &&
            !rcache__disabled(c);
    pthread_mutex_unlock(&l.s->lock);
    rcache__reclaim_run(&r);
    return found;
}

int rcache_touch(rcache_t *c, const void *key, size_t key_len) {
    rcache__reclaim_t r = {0};
    int rc;
    if (!c)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, key_len)))
        return rc;
    rcache__loc_t l;
    rcache__entry_t *e = rcache__lock_lookup(c, key, key_len, &l, &r);
    if (e && rcache__disabled(c))
        e = NULL;
    if (e)
        accessed_locked(c, &l, e);
    pthread_mutex_unlock(&l.s->lock);
    rcache__reclaim_run(&r);
    return e ? RCACHE_OK : RCACHE_ENOTFOUND;
}

/* ---- removal ------------------------------------------------------------ */

static int remove_key(rcache_t *c, const void *key, size_t klen,
                      rcache__entry_t **taken) {
    rcache__reclaim_t r = {0};
    int rc;
    if (!c)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, klen)))
        return rc;
    rcache__loc_t l;
    rcache__entry_t *e = rcache__lock_lookup(c, key, klen, &l, &r);
    rcache__shard_t *s = l.s;
    int hidden = e && rcache__disabled(c); /* removed, but reads as absent */
    if (e) {
        rcache__shard_unlink_locked(c, s, e);
        s->st.deletes++;
        if (taken && !hidden)
            *taken = e;
        else
            rcache__reclaim_push(&r, e);
    }
    pthread_mutex_unlock(&s->lock);
    rcache__reclaim_run(&r);
    return e && !hidden ? RCACHE_OK : RCACHE_ENOTFOUND;
}

int rcache_delete(rcache_t *c, const void *key, size_t key_len) {
    return remove_key(c, key, key_len, NULL);
}

int rcache_take(rcache_t *c, const void *key, size_t key_len,
                rcache_ref_t **ref_out) {
    rcache__entry_t *e = NULL;
    int rc;
    if (!ref_out)
        return RCACHE_EINVAL;
    *ref_out = NULL;
    rc = remove_key(c, key, key_len, &e);
    if (rc == RCACHE_OK)
        *ref_out = (rcache_ref_t *)e;
    return rc;
}

uint64_t rcache_count(rcache_t *c) {
    return c ? atomic_load_explicit(&c->items, memory_order_relaxed) : 0;
}
