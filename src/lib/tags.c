/*
 * tags.c - the tag index: which entries carry a tag and which tags an entry
 * carries, so rcache_invalidate_tag() costs O(entries tagged) instead of a
 * walk of the keyspace (what pattern invalidation costs).
 *
 * Layout. Each tagged entry has a record (one allocation: the entry
 * pointer and one slot per tag), found through a hash map keyed by the
 * entry's address; each distinct tag has a node holding its name and an
 * array of members, each member naming a record and the slot in it. A
 * slot stores its member's index in the tag's array, so a member is
 * removed by swapping the last one into its place: leaving the index costs
 * O(tags of the entry), joining it O(tags) amortised. The entry header is
 * untouched apart from one flag bit (RCACHE__F_TAGGED) that spares
 * untagged entries any look here, so an untagged cache pays one bit test
 * per removal.
 *
 * Exactness. Entries leave the table in shard.c only, and shard.c calls
 * rcache__tags_leaving() there (unlink and replace), so every cause of
 * removal - delete, overwrite, eviction, lazy and active expiry, pattern
 * and tag invalidation, clear - drops the entry's tags at the moment it
 * goes. The two places that swap an entry for a new block holding the same
 * logical key and value (update.c's copy-on-write and rename) move the
 * record to the new block first.
 *
 * Locks. One mutex for the whole index, taken after a shard lock and never
 * before one. Invalidation therefore copies the members out (with a
 * reference each, so no address can be reused meanwhile), drops the index
 * lock, and removes each entry under its own shard lock after checking
 * that the key still maps to that entry (or to a successor that kept the
 * tag). The index's memory is charged to the cache's byte gauge with the
 * formula documented in rcache.h; the size asserts below keep it true.
 */
#include "internal.h"

#include <string.h>

typedef struct tag tag_t;

typedef struct member {
    rcache__tagrec_t *r; /* the record */
    size_t slot;         /* which of its slots names this tag */
} member_t;

typedef struct slot {
    union {
        tag_t *t;                 /* attached: the tag */
        const rcache_tag_t *want; /* prepared: the caller's tag */
    } u;
    size_t idx; /* attached: position in t->mem */
} slot_t;

struct rcache__tagrec {
    rcache__tagrec_t *hnext;  /* chain in the record map */
    const rcache__entry_t *e; /* the entry (the map's key) */
    uint32_t n;               /* slots */
    slot_t s[];
};

struct tag {
    tag_t *hnext;  /* chain in the tag map */
    uint64_t hash; /* of the name */
    member_t *mem; /* members, n of cap used */
    size_t n, cap;
    uint32_t len;
    unsigned char name[];
};

#if UINTPTR_MAX == UINT64_MAX /* the charge formula in rcache.h is LP64's */
_Static_assert(sizeof(rcache__tagrec_t) == 24, "rcache.h tag charge formula");
_Static_assert(sizeof(slot_t) == 16, "rcache.h tag charge formula");
_Static_assert(sizeof(member_t) == 16, "rcache.h tag charge formula");
_Static_assert(sizeof(tag_t) == 48, "rcache.h tag charge formula");
#endif

/* A chained map; both node types start with their chain link. */
typedef struct hnode {
    struct hnode *hnext;
} hnode_t;
typedef struct htab {
    hnode_t **b;
    size_t mask, count;
} htab_t;
typedef uint64_t (*node_hash_fn)(const hnode_t *n);

struct rcache__tags {
    pthread_mutex_t lock;
    htab_t tags;          /* tag_t by name */
    htab_t recs;          /* rcache__tagrec_t by entry address */
    uint64_t bytes;       /* charged now */
    uint64_t invalidations, invalidated;
};

#define MIN_BUCKETS 16u
/* Bytes a chain slot of these maps costs a node: kept a quarter to fully
 * loaded, 8-byte slots, charged at half load. */
#define TAG_TABLE_SHARE 16u
#define MIN_MEMBERS 4u

static uint64_t rec_charge(uint32_t n) {
    return rcache__alloc_footprint(sizeof(rcache__tagrec_t) +
                                   (uint64_t)n * sizeof(slot_t)) +
           TAG_TABLE_SHARE + 2u * sizeof(member_t) * (uint64_t)n;
}

static uint64_t tag_charge(size_t len) {
    return rcache__alloc_footprint(sizeof(tag_t) + len) + TAG_TABLE_SHARE;
}

static void charge(rcache_t *c, int64_t delta) {
    struct rcache__tags *x = c->tags;
    x->bytes += (uint64_t)delta; /* wraps back exactly on the way down */
    if (delta > 0)
        atomic_fetch_add_explicit(&c->bytes, (uint64_t)delta,
                                  memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(&c->bytes, (uint64_t)-delta,
                                  memory_order_relaxed);
}

/* splitmix64's finaliser: entry addresses share their low bits. */
static uint64_t ptr_hash(const void *p) {
    uint64_t v = (uint64_t)(uintptr_t)p;
    v ^= v >> 30;
    v *= 0xbf58476d1ce4e5b9ull;
    v ^= v >> 27;
    v *= 0x94d049bb133111ebull;
    return v ^ (v >> 31);
}

static uint64_t rec_node_hash(const hnode_t *n) {
    return ptr_hash(((const rcache__tagrec_t *)(const void *)n)->e);
}

static uint64_t tag_node_hash(const hnode_t *n) {
    return ((const tag_t *)(const void *)n)->hash;
}

/* ---- the two maps ------------------------------------------------------ */

static int htab_init(htab_t *h) {
    h->b = rcache__calloc(MIN_BUCKETS, sizeof(hnode_t *));
    h->mask = MIN_BUCKETS - 1;
    h->count = 0;
    return h->b ? RCACHE_OK : RCACHE_ENOMEM;
}

/* Rehash into n buckets; on ENOMEM keep the old table (longer chains). */
static void htab_resize(htab_t *h, size_t n, node_hash_fn hf) {
    hnode_t **nb = rcache__calloc(n, sizeof(hnode_t *));
    if (!nb)
        return;
    for (size_t i = 0; i <= h->mask; i++) {
        for (hnode_t *e = h->b[i], *next; e; e = next) {
            next = e->hnext;
            size_t b = hf(e) & (n - 1);
            e->hnext = nb[b];
            nb[b] = e;
        }
    }
    rcache__free(h->b);
    h->b = nb;
    h->mask = n - 1;
}

static void htab_insert(htab_t *h, hnode_t *e, uint64_t hash, node_hash_fn hf,
                        int may_grow) {
    if (may_grow && h->count > h->mask)
        htab_resize(h, (h->mask + 1) * 2, hf);
    size_t b = hash & h->mask;
    e->hnext = h->b[b];
    h->b[b] = e;
    h->count++;
}

/* Unlink a node known to be in the table; may shrink a sparse table. */
static void htab_remove(htab_t *h, hnode_t *e, uint64_t hash, node_hash_fn hf,
                        int may_shrink) {
    hnode_t **pp = &h->b[hash & h->mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    h->count--;
    if (may_shrink && h->mask + 1 > MIN_BUCKETS && h->count < (h->mask + 1) / 4) {
        size_t n = MIN_BUCKETS;
        while (n < h->count * 2)
            n *= 2;
        htab_resize(h, n, hf);
    }
}

static rcache__tagrec_t *rec_find(const struct rcache__tags *x,
                                  const rcache__entry_t *e) {
    hnode_t *n = x->recs.b[ptr_hash(e) & x->recs.mask];
    for (; n; n = n->hnext)
        if (((rcache__tagrec_t *)(void *)n)->e == e)
            return (rcache__tagrec_t *)(void *)n;
    return NULL;
}

static tag_t *tag_find(const struct rcache__tags *x, uint64_t hash,
                       const void *name, size_t len) {
    hnode_t *n = x->tags.b[hash & x->tags.mask];
    for (; n; n = n->hnext) {
        tag_t *t = (tag_t *)(void *)n;
        if (t->hash == hash && t->len == len && memcmp(t->name, name, len) == 0)
            return t;
    }
    return NULL;
}

/* ---- members ----------------------------------------------------------- */

static void tag_free(rcache_t *c, tag_t *t) {
    htab_remove(&c->tags->tags, (hnode_t *)(void *)t, t->hash, tag_node_hash, 1);
    charge(c, -(int64_t)tag_charge(t->len));
    rcache__free(t->mem);
    rcache__free(t);
}

/* Remove member idx of t (swapping the last one in); frees an empty tag. */
static void member_remove(rcache_t *c, tag_t *t, size_t idx) {
    member_t last = t->mem[--t->n];
    if (idx != t->n) {
        t->mem[idx] = last;
        last.r->s[last.slot].idx = idx;
    }
    if (t->n == 0) {
        tag_free(c, t);
    } else if (t->cap > MIN_MEMBERS && t->n < t->cap / 4) {
        member_t *m = rcache__realloc(t->mem, t->cap / 2 * sizeof(member_t));
        if (m) { /* else keep the larger array */
            t->mem = m;
            t->cap /= 2;
        }
    }
}

/* The tag named by want, created (and charged) if absent; NULL on ENOMEM. */
static tag_t *tag_get(rcache_t *c, const rcache_tag_t *want) {
    struct rcache__tags *x = c->tags;
    uint64_t h = rcache__hash(want->data, want->len);
    tag_t *t = tag_find(x, h, want->data, want->len);
    if (t)
        return t;
    t = rcache__malloc(sizeof(*t) + want->len);
    if (!t)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->hash = h;
    t->len = (uint32_t)want->len;
    memcpy(t->name, want->data, want->len);
    htab_insert(&x->tags, (hnode_t *)(void *)t, h, tag_node_hash, 1);
    charge(c, (int64_t)tag_charge(t->len));
    return t;
}

/* Make room for one more member; RCACHE_ENOMEM leaves t as it was. */
static int member_room(tag_t *t) {
    if (t->n < t->cap)
        return RCACHE_OK;
    size_t nc = t->cap ? t->cap * 2 : MIN_MEMBERS;
    member_t *m = rcache__realloc(t->mem, nc * sizeof(member_t));
    if (!m)
        return RCACHE_ENOMEM;
    t->mem = m;
    t->cap = nc;
    return RCACHE_OK;
}

/* ---- the hooks ----------------------------------------------------------- */

int rcache__tags_init(rcache_t *c) {
    struct rcache__tags *x = rcache__calloc(1, sizeof(*x));
    if (!x)
        return RCACHE_ENOMEM;
    if (htab_init(&x->tags) != RCACHE_OK || htab_init(&x->recs) != RCACHE_OK ||
        pthread_mutex_init(&x->lock, NULL) != 0) {
        rcache__free(x->tags.b);
        rcache__free(x->recs.b);
        rcache__free(x);
        return RCACHE_ENOMEM;
    }
    c->tags = x;
    return RCACHE_OK;
}

void rcache__tags_fini(rcache_t *c) {
    struct rcache__tags *x = c->tags;
    if (!x)
        return;
    for (size_t i = 0; i <= x->recs.mask; i++)
        for (hnode_t *n = x->recs.b[i], *next; n; n = next) {
            next = n->hnext;
            rcache__free(n);
        }
    for (size_t i = 0; i <= x->tags.mask; i++)
        for (hnode_t *n = x->tags.b[i], *next; n; n = next) {
            next = n->hnext;
            rcache__free(((tag_t *)(void *)n)->mem);
            rcache__free(n);
        }
    rcache__free(x->recs.b);
    rcache__free(x->tags.b);
    pthread_mutex_destroy(&x->lock);
    rcache__free(x);
    c->tags = NULL;
}

static int tag_check(const void *data, size_t len) {
    if (!data || len == 0)
        return RCACHE_EINVAL;
    return len > RCACHE_MAX_TAG_LEN ? RCACHE_ETOOBIG : RCACHE_OK;
}

int rcache__tags_prepare(const rcache_set_opts_t *o, rcache__tagrec_t **out) {
    const rcache_tag_t *tg = o->tags;
    uint32_t n = 0;
    int rc;
    *out = NULL;
    if (o->ntags == 0)
        return RCACHE_OK;
    if (!tg)
        return RCACHE_EINVAL;
    if (o->ntags > RCACHE_MAX_TAGS)
        return RCACHE_ETOOBIG;
    for (size_t i = 0; i < o->ntags; i++)
        if ((rc = tag_check(tg[i].data, tg[i].len)) != RCACHE_OK)
            return rc;
    rcache__tagrec_t *r = rcache__malloc(sizeof(*r) + o->ntags * sizeof(slot_t));
    if (!r)
        return RCACHE_ENOMEM;
    for (size_t i = 0; i < o->ntags; i++) { /* duplicates count once */
        uint32_t k = 0;
        while (k < n && !(r->s[k].u.want->len == tg[i].len &&
                          memcmp(r->s[k].u.want->data, tg[i].data,
                                 tg[i].len) == 0))
            k++;
        if (k == n)
            r->s[n++].u.want = &tg[i];
    }
    r->n = n;
    r->e = NULL;
    r->hnext = NULL;
    *out = r;
    return RCACHE_OK;
}

uint64_t rcache__tags_record_charge(const rcache__tagrec_t *r) {
    return r ? rec_charge(r->n) : 0;
}

void rcache__tags_discard(rcache__tagrec_t *r) {
    rcache__free(r);
}

int rcache__tags_attach_locked(rcache_t *c, rcache__entry_t *e,
                               rcache__tagrec_t *rec) {
    struct rcache__tags *x = c->tags;
    uint32_t k;
    pthread_mutex_lock(&x->lock);
    for (k = 0; k < rec->n; k++) {
        const rcache_tag_t *want = rec->s[k].u.want;
        tag_t *t = tag_get(c, want);
        if (t && member_room(t) != RCACHE_OK) {
            if (t->n == 0)
                tag_free(c, t); /* created just now */
            t = NULL;
        }
        if (!t)
            break;
        t->mem[t->n] = (member_t){rec, k};
        rec->s[k].u.t = t;
        rec->s[k].idx = t->n++;
    }
    if (k < rec->n) { /* ENOMEM: undo the slots attached so far */
        while (k-- > 0)
            member_remove(c, rec->s[k].u.t, rec->s[k].idx);
        pthread_mutex_unlock(&x->lock);
        return RCACHE_ENOMEM;
    }
    rec->e = e;
    htab_insert(&x->recs, (hnode_t *)(void *)rec, ptr_hash(e), rec_node_hash, 1);
    charge(c, (int64_t)rec_charge(rec->n));
    e->flags |= RCACHE__F_TAGGED; /* e is not published yet */
    pthread_mutex_unlock(&x->lock);
    return RCACHE_OK;
}

void rcache__tags_leave_locked(rcache_t *c, rcache__entry_t *e) {
    struct rcache__tags *x = c->tags;
    pthread_mutex_lock(&x->lock);
    rcache__tagrec_t *rec = rec_find(x, e); /* none after a move away */
    if (rec) {
        htab_remove(&x->recs, (hnode_t *)(void *)rec, ptr_hash(e),
                    rec_node_hash, 1);
        for (uint32_t k = 0; k < rec->n; k++)
            member_remove(c, rec->s[k].u.t, rec->s[k].idx);
        charge(c, -(int64_t)rec_charge(rec->n));
        rcache__free(rec);
    }
    pthread_mutex_unlock(&x->lock);
}

void rcache__tags_move_locked(rcache_t *c, const rcache__entry_t *from,
                              rcache__entry_t *to) {
    struct rcache__tags *x = c->tags;
    if (!(from->flags & RCACHE__F_TAGGED))
        return;
    pthread_mutex_lock(&x->lock);
    rcache__tagrec_t *rec = rec_find(x, from);
    if (rec) {
        /* same count: neither a shrink nor a grow (no allocation) */
        htab_remove(&x->recs, (hnode_t *)(void *)rec, ptr_hash(from),
                    rec_node_hash, 0);
        rec->e = to;
        htab_insert(&x->recs, (hnode_t *)(void *)rec, ptr_hash(to),
                    rec_node_hash, 0);
        to->flags |= RCACHE__F_TAGGED; /* to is not published yet */
    }
    pthread_mutex_unlock(&x->lock);
}

void rcache__tags_stats(rcache_t *c, rcache_stats_t *out) {
    struct rcache__tags *x = c->tags;
    pthread_mutex_lock(&x->lock);
    out->tags = x->tags.count;
    out->tagged_entries = x->recs.count;
    out->tag_bytes = x->bytes;
    out->tag_invalidations = x->invalidations;
    out->tag_invalidated = x->invalidated;
    pthread_mutex_unlock(&x->lock);
}

void rcache__tags_stats_reset(rcache_t *c) {
    struct rcache__tags *x = c->tags;
    pthread_mutex_lock(&x->lock);
    x->invalidations = x->invalidated = 0;
    pthread_mutex_unlock(&x->lock);
}

/* ---- the public calls ----------------------------------------------------- */

/* Does live entry e (under its shard lock) carry the tag? */
static int has_tag_locked(rcache_t *c, const rcache__entry_t *e,
                          const void *tag, size_t len) {
    struct rcache__tags *x = c->tags;
    int found = 0;
    if (!(e->flags & RCACHE__F_TAGGED))
        return 0;
    pthread_mutex_lock(&x->lock);
    const rcache__tagrec_t *rec = rec_find(x, e);
    for (uint32_t k = 0; rec && k < rec->n && !found; k++)
        found = rec->s[k].u.t->len == len &&
                memcmp(rec->s[k].u.t->name, tag, len) == 0;
    pthread_mutex_unlock(&x->lock);
    return found;
}

/* Remove the entry a snapshot saw, or the entry that now holds its key if
 * it kept the tag. Returns 1 if a live entry was removed. */
static int remove_member_entry(rcache_t *c, rcache__entry_t *e,
                               const void *tag, size_t len,
                               rcache__reclaim_t *r) {
    const unsigned char *key = rcache__entry_key(e);
    uint64_t hash = rcache__hash(key, e->klen);
    rcache__shard_t *s = rcache__shard_of(c, hash);
    int removed = 0;
    pthread_mutex_lock(&s->lock);
    rcache__entry_t *cur = rcache__shard_find_locked(s, hash, key, e->klen);
    if (cur && (cur == e || has_tag_locked(c, cur, tag, len))) {
        if (cur->expire_at_ms &&
            rcache__expired(cur, rcache__clock_now(&c->clock))) {
            s->st.expirations++;
        } else {
            s->st.deletes++;
            removed = 1;
        }
        rcache__shard_unlink_locked(c, s, cur);
        rcache__reclaim_push(r, cur);
    }
    pthread_mutex_unlock(&s->lock);
    return removed;
}

int rcache_invalidate_tag(rcache_t *c, const void *tag, size_t tag_len,
                          uint64_t *removed) {
    rcache__entry_t **snap = NULL;
    size_t n = 0;
    uint64_t got = 0;
    int rc;
    if (removed)
        *removed = 0;
    if (!c)
        return RCACHE_EINVAL;
    if ((rc = tag_check(tag, tag_len)) != RCACHE_OK)
        return rc;
    struct rcache__tags *x = c->tags;
    pthread_mutex_lock(&x->lock);
    tag_t *t = tag_find(x, rcache__hash(tag, tag_len), tag, tag_len);
    if (t) {
        snap = rcache__malloc(t->n * sizeof(rcache__entry_t *));
        if (!snap) {
            pthread_mutex_unlock(&x->lock);
            return RCACHE_ENOMEM;
        }
        n = t->n;
        for (size_t i = 0; i < n; i++) {
            /* linked, so alive: the table's reference is dropped only
             * after this index lets go of it */
            snap[i] = (rcache__entry_t *)t->mem[i].r->e;
            rcache__entry_ref(snap[i]);
        }
    }
    x->invalidations++;
    pthread_mutex_unlock(&x->lock);

    rcache__reclaim_t r = {0};
    for (size_t i = 0; i < n; i++)
        got += (uint64_t)remove_member_entry(c, snap[i], tag, tag_len, &r);
    rcache__reclaim_run(&r);
    for (size_t i = 0; i < n; i++)
        rcache__entry_unref(snap[i]);
    rcache__free(snap);
    if (got) {
        pthread_mutex_lock(&x->lock);
        x->invalidated += got;
        pthread_mutex_unlock(&x->lock);
    }
    if (removed)
        *removed = got;
    return RCACHE_OK;
}

/* Copy a record's tags into one allocation; NULL on ENOMEM. */
static rcache_tag_list_t *list_copy(const rcache__tagrec_t *rec) {
    uint32_t n = rec ? rec->n : 0;
    size_t sz = sizeof(rcache_tag_list_t) + n * sizeof(rcache_tag_t);
    for (uint32_t k = 0; k < n; k++)
        sz += rec->s[k].u.t->len + 1u;
    rcache_tag_list_t *l = rcache__malloc(sz);
    if (!l)
        return NULL;
    l->count = n;
    l->tags = (rcache_tag_t *)(void *)(l + 1);
    unsigned char *p = (unsigned char *)(l->tags + n);
    for (uint32_t k = 0; k < n; k++) {
        const tag_t *t = rec->s[k].u.t;
        memcpy(p, t->name, t->len);
        p[t->len] = '\0';
        l->tags[k].data = p;
        l->tags[k].len = t->len;
        p += t->len + 1u;
    }
    return l;
}

int rcache_get_tags(rcache_t *c, const void *key, size_t key_len,
                    rcache_tag_list_t **out) {
    rcache__reclaim_t r = {0};
    rcache_tag_list_t *l = NULL;
    int rc;
    if (out)
        *out = NULL;
    if (!c || !out)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, key_len)) != RCACHE_OK)
        return rc;
    rcache__loc_t loc;
    rcache__entry_t *e = rcache__lock_lookup(c, key, key_len, &loc, &r);
    if (e && rcache__disabled(c))
        e = NULL;
    if (!e) {
        rc = RCACHE_ENOTFOUND;
    } else {
        struct rcache__tags *x = c->tags;
        pthread_mutex_lock(&x->lock);
        l = list_copy((e->flags & RCACHE__F_TAGGED) ? rec_find(x, e) : NULL);
        pthread_mutex_unlock(&x->lock);
        rc = l ? RCACHE_OK : RCACHE_ENOMEM;
    }
    pthread_mutex_unlock(&loc.s->lock);
    rcache__reclaim_run(&r);
    *out = l;
    return rc;
}

void rcache_tag_list_free(rcache_tag_list_t *list) {
    rcache__free(list);
}

/* ---- test support (tests/common/recount.h) -------------------------------- */

int rcache__tags_has(rcache_t *c, const rcache__entry_t *e) {
    struct rcache__tags *x = c->tags;
    pthread_mutex_lock(&x->lock);
    int has = rec_find(x, e) != NULL;
    pthread_mutex_unlock(&x->lock);
    return has;
}

/* Walk the whole index: links both ways, counts and the charge. */
static const char *check_tag(const tag_t *t, uint64_t *bytes) {
    if (t->n == 0 || t->n > t->cap)
        return "tag with no member or over its array";
    if (t->hash != rcache__hash(t->name, t->len))
        return "tag hash differs from its name";
    for (size_t i = 0; i < t->n; i++) {
        const member_t *m = &t->mem[i];
        if (m->slot >= m->r->n || m->r->s[m->slot].u.t != t ||
            m->r->s[m->slot].idx != i)
            return "tag member and record slot disagree";
    }
    *bytes += tag_charge(t->len);
    return NULL;
}

const char *rcache__tags_check(rcache_t *c) {
    struct rcache__tags *x = c->tags;
    const char *why = NULL;
    uint64_t bytes = 0, nrec = 0, ntag = 0;
    pthread_mutex_lock(&x->lock);
    for (size_t b = 0; b <= x->recs.mask && !why; b++)
        for (hnode_t *n = x->recs.b[b]; n && !why; n = n->hnext) {
            const rcache__tagrec_t *r = (const rcache__tagrec_t *)(void *)n;
            nrec++;
            if ((ptr_hash(r->e) & x->recs.mask) != b)
                why = "record in the wrong bucket";
            else if (!(r->e->flags & RCACHE__F_TAGGED) || r->n == 0)
                why = "record of an entry not flagged, or with no tag";
            for (uint32_t k = 0; k < r->n && !why; k++)
                if (r->s[k].idx >= r->s[k].u.t->n ||
                    r->s[k].u.t->mem[r->s[k].idx].r != r)
                    why = "record slot and tag member disagree";
            bytes += rec_charge(r->n);
        }
    for (size_t b = 0; b <= x->tags.mask && !why; b++)
        for (hnode_t *n = x->tags.b[b]; n && !why; n = n->hnext) {
            ntag++;
            why = check_tag((const tag_t *)(void *)n, &bytes);
        }
    if (!why && (nrec != x->recs.count || ntag != x->tags.count))
        why = "tag index counts differ from a recount";
    if (!why && bytes != x->bytes)
        why = "tag index charge differs from a recount";
    pthread_mutex_unlock(&x->lock);
    return why;
}

/* ---- the persisted form (snapshot_save.c / snapshot_load.c) ---------------- */

int rcache__tags_encode(rcache_t *c, const rcache__entry_t *e,
                        unsigned char **out, size_t *len) {
    struct rcache__tags *x = c->tags;
    int rc = RCACHE_OK;
    *out = NULL;
    *len = 0;
    if (!(e->flags & RCACHE__F_TAGGED))
        return RCACHE_OK;
    pthread_mutex_lock(&x->lock);
    const rcache__tagrec_t *rec = rec_find(x, e); /* gone if removed since */
    size_t n = 0;
    for (uint32_t k = 0; rec && k < rec->n; k++)
        n += 2u + rec->s[k].u.t->len;
    unsigned char *p = n ? rcache__malloc(n) : NULL;
    if (n && !p) {
        rc = RCACHE_ENOMEM;
    } else if (n) {
        unsigned char *w = p;
        for (uint32_t k = 0; k < rec->n; k++) {
            const tag_t *t = rec->s[k].u.t;
            w[0] = (unsigned char)(t->len & 0xffu);
            w[1] = (unsigned char)(t->len >> 8);
            memcpy(w + 2, t->name, t->len);
            w += 2u + t->len;
        }
        *out = p;
        *len = n;
    }
    pthread_mutex_unlock(&x->lock);
    return rc;
}

int rcache__tags_decode(const unsigned char *p, size_t n,
                        rcache_tag_t tags[RCACHE_MAX_TAGS], size_t *ntags) {
    size_t i = 0, k = 0;
    *ntags = 0;
    while (i < n) {
        if (n - i < 2 || k == RCACHE_MAX_TAGS)
            return RCACHE_ECORRUPT;
        size_t len = (size_t)p[i] | (size_t)p[i + 1] << 8;
        i += 2;
        if (len == 0 || len > RCACHE_MAX_TAG_LEN || len > n - i)
            return RCACHE_ECORRUPT;
        tags[k].data = p + i;
        tags[k++].len = len;
        i += len;
    }
    *ntags = k;
    return RCACHE_OK;
}
