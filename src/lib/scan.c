/*
 * scan.c - walking the keyspace: cursor scan, entry metadata, glob
 * invalidation and clear.
 *
 * The scan cursor is Redis's reverse-binary bucket cursor (dict.c's
 * dictScan) applied per shard: its low bits name the shard and the rest is
 * the bucket cursor inside it. Incrementing the bucket index from its high
 * bit down means that when a table doubles between two calls, the buckets
 * already visited map exactly onto buckets the new cursor will not revisit,
 * so every entry present for the whole scan is returned at least once, with
 * no state kept between calls. When a table halves (shard.c shrinks
 * sparse tables) the smaller bucket the cursor names holds both buckets of
 * the larger table that share its low bits, so nothing is skipped: at worst
 * the half already visited is returned again (Redis's argument, both
 * halves). A call visits at most count x 10 buckets (an empty shard counts
 * as one), so it may return no entry with a non-zero cursor.
 *
 * Results are copied out under the shard lock (keys into the page's own
 * memory) so no caller code runs while a lock is held.
 */
#include "internal.h"

#include <string.h>

static uint64_t rev64(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFull) | ((v & 0x00FF00FF00FF00FFull) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFull) | ((v & 0x0000FFFF0000FFFFull) << 16);
    return (v >> 32) | (v << 32);
}

static uint32_t shard_bits(const rcache_t *c) {
    uint32_t b = 0;
    while ((1u << b) < c->nshards)
        b++;
    return b;
}

static void fill_info(const rcache_t *c, const rcache__entry_t *e,
                      uint64_t now, rcache_entry_info_t *out) {
    const rcache__objext_t *x = rcache__entry_obj(e);
    memset(out, 0, sizeof(*out));
    out->key_len = e->klen;
    out->value_len = e->vlen;
    out->size_bytes = (size_t)rcache__entry_charge(e);
    out->created_at_ms = rcache__clock_abs_ms(&c->clock, e->ctime_s);
    out->last_access_ms = rcache__clock_abs_ms(&c->clock, e->atime_s);
    out->access_count = rcache__hits(e);
    out->compute_ms = rcache__entry_compute_ms(e);
    out->is_object = x != NULL;
    out->expired = rcache__expired(e, now);
    out->ttl_ms = rcache__ttl_left(e, now);
    out->expire_at_ms = e->expire_at_ms;
}

int rcache_entry_info(rcache_t *c, const void *key, size_t key_len,
                      rcache_entry_info_t *out) {
    rcache__reclaim_t r = {0};
    int rc;
    if (!c || !out)
        return RCACHE_EINVAL;
    if ((rc = rcache__key_check(key, key_len)) != RCACHE_OK)
        return rc;
    rcache__loc_t l;
    rcache__entry_t *e = rcache__lock_lookup(c, key, key_len, &l, &r);
    if (rcache__disabled(c))
        e = NULL; /* disabled: every read misses */
    if (e)
        fill_info(c, e, rcache__op_now(c, &l.t), out);
    pthread_mutex_unlock(&l.s->lock);
    rcache__reclaim_run(&r);
    if (!e)
        return RCACHE_ENOTFOUND;
    out->key = key;
    return RCACHE_OK;
}

/* Growable page: infos plus an arena for the keys. */
typedef struct page_builder {
    rcache_entry_info_t *infos;
    size_t n, cap;
    unsigned char *keys;
    size_t klen_used, kcap;
} page_builder_t;

static int page_add(page_builder_t *b, const rcache_t *c,
                    const rcache__entry_t *e, uint64_t now) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16;
        rcache_entry_info_t *ni = rcache__realloc(b->infos, nc * sizeof(*ni));
        if (!ni)
            return RCACHE_ENOMEM;
        b->infos = ni;
        b->cap = nc;
    }
    if (b->klen_used + e->klen + 1 > b->kcap) {
        size_t nc = b->kcap ? b->kcap * 2 : 1024;
        while (nc < b->klen_used + e->klen + 1)
            nc *= 2;
        unsigned char *nk = rcache__realloc(b->keys, nc);
        if (!nk)
            return RCACHE_ENOMEM;
        b->keys = nk;
        b->kcap = nc;
    }
    fill_info(c, e, now, &b->infos[b->n]);
    memcpy(b->keys + b->klen_used, rcache__entry_key(e), e->klen);
    /* store the offset for now; turned into pointers when complete */
    /* NOLINTNEXTLINE(performance-no-int-to-ptr): an offset, not a pointer */
    b->infos[b->n].key = (const void *)(uintptr_t)b->klen_used;
    b->keys[b->klen_used + e->klen] = '\0'; /* keys are also C strings */
    b->klen_used += e->klen + 1;
    b->n++;
    return RCACHE_OK;
}

/* The page owns one block: infos followed by the keys. */
static int page_finish(page_builder_t *b, rcache_scan_page_t *page) {
    size_t isz = b->n * sizeof(rcache_entry_info_t);
    unsigned char *blk = rcache__malloc(isz + b->klen_used + 1);
    if (!blk)
        return RCACHE_ENOMEM;
    rcache_entry_info_t *infos = (rcache_entry_info_t *)blk;
    if (b->n)
        memcpy(infos, b->infos, isz);
    if (b->klen_used)
        memcpy(blk + isz, b->keys, b->klen_used);
    for (size_t i = 0; i < b->n; i++)
        infos[i].key = blk + isz + (uintptr_t)infos[i].key;
    page->entries = infos;
    page->count = b->n;
    return RCACHE_OK;
}

/* Buckets (or empty shards) one rcache_scan() call may visit per unit of
 * its count: Redis's dictScan bound, so a call on a sparse table returns
 * after bounded work, perhaps with no entry and a non-zero cursor. */
#define SCAN_VISITS_PER_COUNT 10u

/* Walk one shard's buckets from cursor *v until the shard ends (*v = 0),
 * count entries have been examined or max_visits buckets visited. */
static int scan_shard_locked(const rcache_t *c, const rcache__shard_t *s,
                             uint64_t *v, size_t count, size_t max_visits,
                             const char *pattern, size_t pattern_len,
                             int include_expired, uint64_t now,
                             page_builder_t *b, size_t *examined,
                             size_t *visited) {
    uint64_t mask = rcache__index_buckets(&s->idx) - 1, cur = *v;
    int rc = RCACHE_OK;
    do {
        rcache__index_it_t it;
        rcache__entry_t *e;
        (*visited)++;
        rcache__index_it_start(&s->idx, (size_t)(cur & mask), &it);
        while ((e = rcache__index_it_next(&it)) != NULL) {
            (*examined)++;
            if (!include_expired && rcache__expired(e, now))
                continue;
            if (pattern && !rcache__glob_match_valid(pattern, pattern_len,
                                                     rcache__entry_key(e),
                                                     e->klen))
                continue;
            if ((rc = page_add(b, c, e, now)) != RCACHE_OK)
                break;
        }
        cur |= ~mask;
        cur = rev64(rev64(cur) + 1);
    } while (cur != 0 && *examined < count && *visited < max_visits &&
             rc == RCACHE_OK);
    *v = cur;
    return rc;
}

int rcache_scan(rcache_t *c, uint64_t cursor, size_t count, const char *pattern,
                size_t pattern_len, int include_expired,
                rcache_scan_page_t *page, uint64_t *next_cursor) {
    page_builder_t b = {0};
    int rc = RCACHE_OK;

    if (page) {
        page->entries = NULL;
        page->count = 0;
    }
    if (!c || !page || !next_cursor || (!pattern && pattern_len))
        return RCACHE_EINVAL;
    if (pattern && rcache_glob_validate(pattern, pattern_len) != RCACHE_OK)
        return RCACHE_EPATTERN;
    if (count == 0)
        count = 1;
    if (rcache__disabled(c)) { /* every read misses: an empty, finished scan */
        *next_cursor = 0;
        return RCACHE_OK;
    }
    uint32_t bits = shard_bits(c);
    uint64_t shard = cursor & (c->nshards - 1);
    uint64_t v = cursor >> bits;
    size_t examined = 0, visited = 0;
    size_t max_visits = count > SIZE_MAX / SCAN_VISITS_PER_COUNT
                            ? SIZE_MAX
                            : count * SCAN_VISITS_PER_COUNT;
    int done = 0;

    while (!done && examined < count && visited < max_visits &&
           rc == RCACHE_OK) {
        rcache__shard_t *s = &c->shards[shard];
        size_t before = visited;
        pthread_mutex_lock(&s->lock);
        if (s->count == 0) {
            v = 0; /* nothing here: the whole shard costs one visit */
            visited++;
        } else {
            /* the time of this shard's visit, read under its lock */
            uint64_t now = rcache__clock_now(&c->clock);
            rc = scan_shard_locked(c, s, &v, count, max_visits, pattern,
                                   pattern_len, include_expired, now, &b,
                                   &examined, &visited);
        }
        s->st.scan_buckets += visited - before;
        pthread_mutex_unlock(&s->lock);
        if (v == 0 && ++shard == c->nshards)
            done = 1;
    }
    if (rc == RCACHE_OK)
        rc = page_finish(&b, page);
    rcache__free(b.infos);
    rcache__free(b.keys);
    if (rc != RCACHE_OK)
        return rc;
    *next_cursor = done ? 0 : (v << bits) | shard;
    return RCACHE_OK;
}

void rcache_scan_page_free(rcache_scan_page_t *page) {
    if (!page)
        return;
    rcache__free(page->entries);
    page->entries = NULL;
    page->count = 0;
}

/* Remove every entry of one shard whose key matches pattern (NULL: every
 * key) and, for cls >= 0, is of key class cls. */
static uint64_t remove_matching(rcache_t *c, rcache__shard_t *s,
                                const char *pattern, size_t plen, int64_t cls) {
    rcache__reclaim_t r = {0};
    uint64_t removed = 0;
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < RCACHE__POL_LISTS; i++) {
        rcache__entry_t *h = s->pol.q[i], *e = h->next;
        while (e != h) {
            rcache__entry_t *next = e->next;
            const unsigned char *k = rcache__entry_key(e);
            if ((cls < 0 || rcache__kclass_of(&c->kclass, k, e->klen) == (uint32_t)cls) &&
                (!pattern || rcache__glob_match_valid(pattern, plen, k, e->klen))) {
                rcache__shard_unlink_locked(c, s, e);
                rcache__reclaim_push(&r, e);
                removed++;
            }
            e = next;
        }
    }
    s->st.deletes += removed;
    pthread_mutex_unlock(&s->lock);
    rcache__reclaim_run(&r);
    return removed;
}

/* rcache_invalidate() and rcache_invalidate_class() (cls < 0: any). */
static int invalidate(rcache_t *c, int64_t cls, const char *pattern, size_t pattern_len,
                      uint64_t *removed) {
    uint64_t n = 0;
    if (removed)
        *removed = 0;
    if (!c || (!pattern && pattern_len))
        return RCACHE_EINVAL;
    if (rcache_glob_validate(pattern, pattern_len) != RCACHE_OK)
        return RCACHE_EPATTERN;
    if (pattern_len == 0) /* matches only the empty key, which cannot exist */
        return RCACHE_OK;
    int all = pattern_len == 1 && pattern[0] == '*';
    for (uint32_t i = 0; i < c->nshards; i++)
        n += remove_matching(c, &c->shards[i], all ? NULL : pattern, pattern_len, cls);
    if (removed)
        *removed = n;
    return RCACHE_OK;
}

int rcache_invalidate(rcache_t *c, const char *pattern, size_t pattern_len,
                      uint64_t *removed) {
    return invalidate(c, -1, pattern, pattern_len, removed);
}

int rcache_invalidate_class(rcache_t *c, uint32_t cls, const char *pattern,
                            size_t pattern_len, uint64_t *removed) {
    if (removed)
        *removed = 0;
    if (!c || cls >= (c->kclass.n ? c->kclass.n : 1u))
        return RCACHE_EINVAL;
    if (!pattern && !pattern_len)
        return invalidate(c, c->kclass.n ? (int64_t)cls : -1, "*", 1, removed);
    return invalidate(c, c->kclass.n ? (int64_t)cls : -1, pattern, pattern_len, removed);
}

int rcache_clear(rcache_t *c, uint64_t *removed) {
    uint64_t n = 0;
    if (!c)
        return RCACHE_EINVAL;
    for (uint32_t i = 0; i < c->nshards; i++)
        n += remove_matching(c, &c->shards[i], NULL, 0, -1);
    if (removed)
        *removed = n;
    return RCACHE_OK;
}
