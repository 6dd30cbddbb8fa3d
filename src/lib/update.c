/*
 * update.c - atomic read-modify-write on one key, and rename.
 *
 * Commands such as INCR, APPEND, SETRANGE and GETEX must read a value and
 * write the result with no other writer in between. Rather than one entry
 * point per command, the library runs a short caller-supplied decision
 * function under the shard lock (rcache_update). The new value's entry is
 * allocated under that lock - the one place we do so - because its size is
 * known only once the callback has seen the old value. A SPLICE decision
 * (APPEND, SETRANGE) is written straight into that entry, or into the old
 * one grown in place when nobody else holds it, so the value is never
 * built twice (it used to be: once by the callback, again by the store).
 *
 * Rename moves an entry between keys that may live in two shards; both
 * locks are taken in shard-index order (the documented lock order), and a
 * new block is built for the new key since keys are stored inline.
 */
#include "internal.h"

#include <string.h>

/* An explicit absolute time wins; else the TTL rules of a store. */
static uint64_t ttl_to_at(const rcache_t *c, int64_t ttl_ms, uint64_t at_ms,
                          const rcache__entry_t *old, rcache__optime_t *t) {
    return at_ms ? at_ms : rcache__expiry_for(c, ttl_ms, old, t);
}

/* Longest byte value whose entry fits under max_bytes: the exact inverse
 * of rcache__entry_size() (non-decreasing in the value length), found by
 * bisection, so a value of this length fits and one byte more does not.
 * ext: RCACHE__F_COST when the entry keeps a compute time (a splice of
 * one that has it; a STORE would fit 4 bytes more: the bound is the
 * smaller one). */
static size_t max_value_len(const rcache_t *c, size_t klen, unsigned ext) {
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);
    uint64_t lo = 0, hi = UINT32_MAX; /* the entry format's own limit */
    if (!mb || rcache__entry_size(klen, UINT32_MAX, ext, 0) <= mb)
        return UINT32_MAX;
    if (rcache__entry_size(klen, 0, ext, 0) > mb)
        return 0;
    while (lo < hi) { /* invariant: lo fits, hi + 1 does not */
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (rcache__entry_size(klen, (size_t)mid, ext, 0) <= mb)
            lo = mid;
        else
            hi = mid - 1;
    }
    return (size_t)lo;
}

/* Put the new entry e for a key (h32: its hash32) in the table in place
 * of old (NULL: the key was absent), keeping old's creation time and hit
 * count; old goes to the reclaim list. RCACHE_ENOMEM (no room in the
 * index for a new key): e is discarded, nothing changed. */
static int install_locked(rcache_t *c, rcache__shard_t *s, uint32_t h32,
                           rcache__entry_t *old, rcache__entry_t *e, uint32_t now_s,
                           uint64_t expire_at_ms, rcache__reclaim_t *r) {
    rcache__atime_set(e, now_s);
    e->ctime_s = old ? old->ctime_s : now_s;
    rcache__set_hits(e, old ? rcache__hits(old) : 0);
    e->expire_at_ms = expire_at_ms;
    if (old) {
        rcache__tags_move_locked(c, old, e); /* modified, not replaced */
        rcache__shard_replace_locked(c, s, old, e, h32);
        rcache__reclaim_push(r, old);
    } else if (rcache__shard_link_locked(c, s, e, h32) != RCACHE_OK) {
        rcache__entry_discard(e);
        return RCACHE_ENOMEM;
    }
    return RCACHE_OK;
}

/* Build the replacement entry for a STORE decision; keeps metadata. */
static int store_locked(rcache_t *c, rcache__shard_t *s, uint64_t hash,
                        const void *key, size_t klen, rcache__entry_t *old,
                        const rcache_update_t *u, rcache__optime_t *t,
                        rcache__reclaim_t *r, rcache__entry_t **stored) {
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);
    if (u->new_len > UINT32_MAX ||
        (mb && rcache__entry_size(klen, u->new_len, 0, 0) > mb))
        return RCACHE_ETOOBIG;
    if (!u->new_val && u->new_len)
        return RCACHE_EINVAL;
    rcache__entry_t *e = rcache__entry_new(c, key, klen, u->new_val, u->new_len, 0);
    if (!e)
        return RCACHE_ENOMEM;
    uint32_t now_s = rcache__clock_rel_s(&c->clock, rcache__op_now(c, t));
    if (install_locked(c, s, (uint32_t)hash, old, e, now_s,
                       ttl_to_at(c, u->ttl_ms, u->expire_at_ms, old, t), r) != RCACHE_OK)
        return RCACHE_ENOMEM;
    s->st.sets++;
    rcache__entry_ref(e); /* held across rcache__evict(), which keeps e */
    *stored = e;
    return RCACHE_OK;
}

/* The value of a SPLICE decision: old bytes, zeros up to off, then the
 * caller's bytes at off. dst may be the old value itself (grown in place:
 * only the new parts are written). */
static void splice_fill(unsigned char *dst, const unsigned char *old,
                        size_t olen, size_t off, const void *data,
                        size_t len) {
    if (old && old != dst) {
        memcpy(dst, old, off < olen ? off : olen);
        if (off + len < olen)
            memcpy(dst + off + len, old + off + len, olen - off - len);
    }
    if (off > olen)
        memset(dst + olen, 0, off - olen);
    if (len)
        memcpy(dst + off, data, len);
}

/* Apply a SPLICE decision: the new value is written once, into the entry
 * that will hold it. With no reference held outside the table (taken
 * exclusively, refs 1 -> 1 | WRITE, so a lock-free reader's try-get fails
 * meanwhile) the entry itself is grown and written in place (a slab
 * entry only by its move to a new block), so a repeated APPEND rarely
 * copies (a large value moves into a block with a quarter
 * more room once in a while: entry.c); else a new entry is built from the
 * old one, copying the old bytes once (copy-on-write: handles keep seeing
 * the value they got). */
static int splice_locked(rcache_t *c, rcache__shard_t *s, uint64_t hash,
                         const void *key, size_t klen, rcache__entry_t *old,
                         const rcache_update_t *u, rcache__optime_t *t,
                         rcache__reclaim_t *r, rcache__entry_t **stored) {
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);
    uint32_t now_s = rcache__clock_rel_s(&c->clock, rcache__op_now(c, t));
    size_t olen = old ? old->vlen : 0;
    size_t off = u->splice_offset == RCACHE_SPLICE_END ? olen : u->splice_offset;
    if (!u->new_val && u->new_len)
        return RCACHE_EINVAL;
    if (off > UINT32_MAX || u->new_len > UINT32_MAX - off)
        return RCACHE_ETOOBIG;
    size_t nl = off + u->new_len > olen ? off + u->new_len : olen;
    /* a splice modifies the value: the entry keeps its compute time */
    const uint32_t cms = old ? rcache__entry_compute_ms(old) : 0;
    if (mb && rcache__entry_size(klen, nl, cms ? RCACHE__F_COST : 0, 0) > mb)
        return RCACHE_ETOOBIG;
    uint64_t at = ttl_to_at(c, u->ttl_ms, u->expire_at_ms, old, t);
    rcache__entry_t *e;
    /* A tagged entry is never grown in place: a regrow would move it while
     * rcache_invalidate_tag() may be taking a reference from the index. A
     * slab entry's bytes are never written in place either (a lock-free
     * copy reads them without a reference, cache.c copy_nolock): it is
     * only grown, which copies it into a new block; a splice that keeps
     * its length builds a new entry (at most RCACHE__SLAB_MAX bytes). */
    if (old && !(old->flags & RCACHE__F_TAGGED) &&
        (!(old->flags & RCACHE__F_SLAB) || nl > olen) &&
        rcache__entry_write_begin(old)) {
        e = nl > olen ? rcache__shard_regrow_locked(c, s, old, nl) : old;
        if (!e) {
            rcache__entry_write_end(old);
            return RCACHE_ENOMEM;
        }
        splice_fill(rcache__entry_val(e), rcache__entry_val(e), olen, off,
                    u->new_val, u->new_len);
        rcache__entry_write_end(e); /* readers may take it again */
        rcache__set_expire_locked(s, e, at);
        rcache__pol_hit_locked(c, s, e, (uint32_t)hash);
        rcache__atime_set(e, now_s);
    } else {
        if (!(e = rcache__entry_new(c, key, klen, NULL, nl, cms)))
            return RCACHE_ENOMEM;
        splice_fill(rcache__entry_val(e), old ? rcache__entry_val(old) : NULL,
                    olen, off, u->new_val, u->new_len);
        if (install_locked(c, s, (uint32_t)hash, old, e, now_s, at, r) != RCACHE_OK)
            return RCACHE_ENOMEM;
    }
    s->st.sets++;
    rcache__entry_ref(e); /* held across rcache__evict(), which keeps e */
    *stored = e;
    return RCACHE_OK;
}

int rcache_update(rcache_t *c, const void *key, size_t key_len,
                  rcache_update_fn fn, void *ctx) {
    rcache__reclaim_t r = {0};
    rcache__entry_t *stored = NULL;
    rcache_update_t u;
    int rc;

    if (!c || !fn)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, key_len)) != RCACHE_OK)
        return rc;
    rcache__loc_t l;
    rcache__entry_t *e = rcache__lock_lookup(c, key, key_len, &l, &r);
    rcache__shard_t *s = l.s;
    /* One exact reading, under the lock: the lookup's, if it needed one. */
    uint64_t hash = l.hash, now = rcache__op_now(c, &l.t);
    int off = rcache__disabled(c);
    rcache__entry_t *hidden = off ? e : NULL; /* disabled: seen as absent */
    if (off)
        e = NULL;
    if (e && (e->flags & RCACHE__F_OBJECT)) {
        rc = RCACHE_EWRONGTYPE;
        goto out;
    }
    memset(&u, 0, sizeof(u));
    u.found = e != NULL;
    u.old_val = e ? rcache__entry_val(e) : NULL;
    u.old_len = e ? e->vlen : 0;
    u.old_ttl_ms = e ? rcache__ttl_left(e, now) : -1; /* live: -1 or >= 1 */
    u.now_ms = now;
    u.max_new_len = max_value_len(c, key_len, e ? e->flags & RCACHE__F_COST : 0);
    u.ttl_ms = RCACHE_TTL_KEEP;
    u.splice_offset = RCACHE_SPLICE_END;
    rc = fn(&u, ctx);
    if (rc < 0)
        goto out;
    if (u.expire_at_ms > RCACHE__TIME_MAX &&
        (rc == RCACHE_UPDATE_STORE || rc == RCACHE_UPDATE_TTL ||
         rc == RCACHE_UPDATE_SPLICE)) {
        rc = RCACHE_EINVAL; /* beyond every representable time */
        goto out;
    }
    switch (rc) {
    case RCACHE_UPDATE_KEEP:
        rc = RCACHE_OK;
        break;
    case RCACHE_UPDATE_STORE:
    case RCACHE_UPDATE_SPLICE:
        if (off) { /* nothing cached; what it would replace is dropped */
            if (hidden) {
                rcache__shard_unlink_locked(c, s, hidden);
                rcache__reclaim_push(&r, hidden);
            }
            s->st.sets++;
            rc = RCACHE_OK;
            break;
        }
        if (rc == RCACHE_UPDATE_STORE)
            rc = store_locked(c, s, hash, key, key_len, e, &u, &l.t, &r,
                              &stored);
        else
            rc = splice_locked(c, s, hash, key, key_len, e, &u, &l.t, &r, &stored);
        break;
    case RCACHE_UPDATE_DELETE:
        if (hidden)
            e = hidden;
        if (e) {
            rcache__shard_unlink_locked(c, s, e);
            s->st.deletes++;
            rcache__reclaim_push(&r, e);
        }
        rc = RCACHE_OK;
        break;
    case RCACHE_UPDATE_TTL:
        if (e) {
            uint64_t at = ttl_to_at(c, u.ttl_ms, u.expire_at_ms, e, &l.t);
            if (at && at <= now) {
                rcache__shard_unlink_locked(c, s, e);
                s->st.deletes++;
                rcache__reclaim_push(&r, e);
            } else {
                rcache__set_expire_locked(s, e, at);
            }
        }
        rc = RCACHE_OK;
        break;
    default:
        rc = RCACHE_EINVAL;
    }
out:
    pthread_mutex_unlock(&s->lock);
    if (stored) {
        rcache__evict(c, stored, &r);
        rcache__entry_unref(stored);
    }
    rcache__reclaim_run(&r);
    return rc;
}

int rcache_rename(rcache_t *c, const void *src, size_t src_len,
                  const void *dst, size_t dst_len, int nx) {
    rcache__reclaim_t r = {0};
    rcache__entry_t *moved = NULL;
    int rc = RCACHE_OK;

    if (!c)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(src, src_len)) != RCACHE_OK ||
        (rc = rcache__key_check(dst, dst_len)) != RCACHE_OK)
        return rc;
    uint64_t hs = rcache__hash(src, src_len), hd = rcache__hash(dst, dst_len);
    rcache__shard_t *ss = rcache__shard_of(c, hs), *sd = rcache__shard_of(c, hd);
    rcache__shard_t *first = ss < sd ? ss : sd, *second = ss < sd ? sd : ss;
    rcache__optime_t t = {0, RCACHE__T_NONE}; /* read under both locks */
    uint64_t mb = atomic_load_explicit(&c->max_bytes, memory_order_relaxed);

    pthread_mutex_lock(&first->lock);
    if (second != first)
        pthread_mutex_lock(&second->lock);
    rcache__entry_t *e = rcache__shard_lookup_locked(c, ss, hs, src, src_len, &t, &r);
    rcache__entry_t *d = rcache__shard_lookup_locked(c, sd, hd, dst, dst_len, &t, &r);
    if (rcache__disabled(c)) {
        /* the source reads as absent; both keys' entries are dropped */
        if (e) {
            rcache__shard_unlink_locked(c, ss, e);
            rcache__reclaim_push(&r, e);
        }
        if (d && d != e) {
            rcache__shard_unlink_locked(c, sd, d);
            rcache__reclaim_push(&r, d);
        }
        rc = RCACHE_ENOTFOUND;
    } else if (!e) {
        rc = RCACHE_ENOTFOUND;
    } else if (e == d) {
        rc = nx ? RCACHE_EEXIST : RCACHE_OK; /* renaming a key to itself */
    } else if (nx && d) {
        rc = RCACHE_EEXIST;
    } else if (e->flags & RCACHE__F_OBJECT) {
        rc = RCACHE_EWRONGTYPE; /* objects are owned by one entry; see header */
    } else if (mb && rcache__entry_size(dst_len, e->vlen,
                                        e->flags & RCACHE__F_COST, 0) > mb) {
        rc = RCACHE_ETOOBIG; /* as a store of that key and value would be */
    } else {
        rcache__entry_t *n =
            rcache__entry_new(c, dst, dst_len, rcache__entry_val(e), e->vlen,
                              rcache__entry_compute_ms(e));
        if (n) {
            n->ctime_s = e->ctime_s;
            rcache__atime_set(n, rcache__atime(e));
            rcache__set_hits(n, rcache__hits(e));
            n->expire_at_ms = e->expire_at_ms;
        }
        /* n is linked first (d, if any, still in the table: removed by
         * address below), so a full index leaves everything unchanged */
        if (!n || rcache__shard_link_locked(c, sd, n, (uint32_t)hd) != RCACHE_OK) {
            if (n)
                rcache__entry_discard(n);
            rc = RCACHE_ENOMEM;
        } else {
            rcache__tags_move_locked(c, e, n); /* the tags go with it */
            rcache__shard_unlink_locked(c, ss, e);
            rcache__reclaim_push(&r, e);
            if (d) {
                rcache__shard_unlink_locked(c, sd, d);
                sd->st.deletes++;
                rcache__reclaim_push(&r, d);
            }
            rcache__entry_ref(n); /* held across rcache__evict(), which keeps n */
            moved = n;
        }
    }
    if (second != first)
        pthread_mutex_unlock(&second->lock);
    pthread_mutex_unlock(&first->lock);
    if (moved) {
        rcache__evict(c, moved, &r);
        rcache__entry_unref(moved);
    }
    rcache__reclaim_run(&r);
    return rc;
}
