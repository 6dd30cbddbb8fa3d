/*
 * test_tags.c - the tag index (tags.c): a randomized model check, the
 * memory charge, the API's argument checks and what keeps or drops tags.
 *
 * The model is a plain map key -> (value, tags, expiry). The cache and the
 * model receive the same random operations: stores with random tag sets
 * (and random TTLs), overwrites without tags, deletes, renames, appends
 * (rcache_update SPLICE keeps tags), TTL changes, pattern and tag
 * invalidations, clears, the injected clock moving (entries then expire,
 * reclaimed lazily by the comparison's lookups or actively by
 * rcache_expire_cycle), and small item/byte limits that evict. Eviction
 * victims are the cache's choice, so the comparison accepts a live model
 * key missing from the cache only as an eviction, and the count of those
 * must equal the growth of the eviction counter. After every operation the
 * cache's tags of each key must equal the model's, every index invariant
 * (tests/common/recount.h: records vs linked entries, links both ways,
 * charge) must hold, and the index gauges and charge must equal what the
 * model's live keys give with the formula documented in rcache.h.
 */
#include "testutil.h"

#include <stdlib.h>
#include <unistd.h>

#define NKEYS 48
#define NTAGS 10

static const char *tag_names[NTAGS] = {"a", "b", "img:42", "user:7", "t4",
                                       "t5", "t6", "t7",
                                       "a-much-longer-tag-name-for-a-bigger-node",
                                       "z"};

typedef struct mkey {
    int live;
    char val[64];
    size_t vlen;
    unsigned tags; /* bit i: tag_names[i] */
    uint64_t expire_at;
} mkey_t;

typedef struct world {
    rcache_t *c;
    test_clock_t clk;
    mkey_t k[NKEYS];
    uint64_t evictions; /* cache counter at the last comparison */
    uint64_t seed;
} world_t;

static uint32_t rnd(world_t *w) {
    w->seed = w->seed * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(w->seed >> 33);
}

static size_t keyname(int i, char *buf) {
    return (size_t)sprintf(buf, "k%d", i);
}

static uint64_t fp(uint64_t n) {
    uint64_t chunk = (n + 8u + 15u) & ~(uint64_t)15u;
    return chunk < 32u ? 32u : chunk;
}

/* The charge formula of rcache.h, from the model's live keys. */
static uint64_t model_tag_bytes(const world_t *w, uint64_t *ntags,
                                uint64_t *ntagged) {
    unsigned all = 0;
    uint64_t b = 0;
    *ntagged = 0;
    for (int i = 0; i < NKEYS; i++) {
        if (!w->k[i].live || !w->k[i].tags)
            continue;
        unsigned n = (unsigned)__builtin_popcount(w->k[i].tags);
        b += fp(24 + 16u * n) + 16 + 32u * n;
        all |= w->k[i].tags;
        (*ntagged)++;
    }
    *ntags = (uint64_t)__builtin_popcount(all);
    for (int t = 0; t < NTAGS; t++)
        if (all & (1u << t))
            b += fp(48 + strlen(tag_names[t])) + 16;
    return b;
}

static unsigned tags_of_cache(world_t *w, const char *key, size_t klen,
                              int *found) {
    rcache_tag_list_t *l = NULL;
    int rc = rcache_get_tags(w->c, key, klen, &l);
    unsigned bits = 0;
    *found = rc == RCACHE_OK;
    if (rc != RCACHE_OK) {
        assert_int_equal(rc, RCACHE_ENOTFOUND);
        assert_null(l);
        return 0;
    }
    for (size_t i = 0; i < l->count; i++) {
        int t = 0;
        while (t < NTAGS && !(strlen(tag_names[t]) == l->tags[i].len &&
                              memcmp(tag_names[t], l->tags[i].data,
                                     l->tags[i].len) == 0))
            t++;
        assert_true(t < NTAGS);
        assert_false(bits & (1u << t)); /* no duplicates */
        assert_int_equal(((const char *)l->tags[i].data)[l->tags[i].len], 0);
        bits |= 1u << t;
    }
    rcache_tag_list_free(l);
    return bits;
}

/* Compare every key; returns nothing, fails the test on a difference. */
static void compare(world_t *w) {
    uint64_t missing = 0, ntags, ntagged;
    for (int i = 0; i < NKEYS; i++) {
        char key[16], buf[128];
        size_t klen = keyname(i, key), vlen = 0;
        mkey_t *m = &w->k[i];
        if (m->live && m->expire_at && w->clk.now_ms >= m->expire_at)
            m->live = 0; /* expired: the lookups below reclaim it */
        int found;
        unsigned bits = tags_of_cache(w, key, klen, &found);
        if (!m->live) {
            if (found)
                fail_msg("key %s present, model says absent", key);
            continue;
        }
        if (!found) { /* only an eviction may take a live key */
            m->live = 0;
            missing++;
            continue;
        }
        if (bits != m->tags)
            fail_msg("key %s tags %x, model %x", key, bits, m->tags);
        assert_int_equal(rcache_get(w->c, key, klen, buf, sizeof(buf), &vlen),
                         RCACHE_OK);
        assert_int_equal(vlen, m->vlen);
        assert_memory_equal(buf, m->val, vlen);
    }
    rcache_stats_t st;
    rcache_stats(w->c, &st);
    assert_int_equal(st.evictions - w->evictions, missing);
    w->evictions = st.evictions;
    check_invariants(w->c);
    uint64_t tb = model_tag_bytes(w, &ntags, &ntagged);
    assert_int_equal(st.tag_bytes, tb);
    assert_int_equal(st.tags, ntags);
    assert_int_equal(st.tagged_entries, ntagged);
}

static void build_tags(unsigned bits, rcache_tag_t *out, size_t *n, int dup) {
    *n = 0;
    for (int t = 0; t < NTAGS; t++)
        if (bits & (1u << t)) {
            out[*n].data = tag_names[t];
            out[(*n)++].len = strlen(tag_names[t]);
        }
    if (dup && *n) /* a duplicate counts once */
        out[(*n)++] = out[0];
}

static void op_set(world_t *w, int i, int with_tags) {
    char key[16];
    size_t klen = keyname(i, key);
    mkey_t *m = &w->k[i];
    rcache_tag_t tg[NTAGS + 1];
    size_t nt = 0;
    unsigned bits = with_tags ? (rnd(w) & ((1u << NTAGS) - 1)) : 0;
    if (with_tags && __builtin_popcount(bits) > 4)
        bits &= 0x31u;
    build_tags(bits, tg, &nt, rnd(w) % 4 == 0);
    rcache_set_opts_t o = {.ttl_ms = 0, .tags = nt ? tg : NULL, .ntags = nt};
    if (rnd(w) % 3 == 0)
        o.ttl_ms = 1 + rnd(w) % 3000;
    char val[64];
    size_t vlen = (size_t)snprintf(val, sizeof(val), "v%u-%u", rnd(w) % 1000,
                                   (unsigned)nt);
    vlen += rnd(w) % 20; /* bigger values for the byte limit */
    memset(val + strlen(val), 'x', vlen - strlen(val));
    assert_int_equal(rcache_set_ex(w->c, key, klen, val, vlen, &o, NULL),
                     RCACHE_OK);
    m->live = 1;
    memcpy(m->val, val, vlen);
    m->vlen = vlen;
    m->tags = bits;
    m->expire_at = o.ttl_ms > 0 ? w->clk.now_ms + (uint64_t)o.ttl_ms : 0;
}

static int append_fn(rcache_update_t *u, void *ctx) {
    (void)ctx;
    if (!u->found)
        return RCACHE_UPDATE_KEEP;
    u->new_val = "+";
    u->new_len = 1;
    return RCACHE_UPDATE_SPLICE;
}

static int incr_fn(rcache_update_t *u, void *ctx) {
    static char buf[64];
    if (!u->found)
        return RCACHE_UPDATE_KEEP;
    memcpy(buf, u->old_val, u->old_len);
    buf[0] = 'w'; /* a STORE of a new value, as INCR does */
    u->new_val = buf;
    u->new_len = u->old_len;
    return RCACHE_UPDATE_STORE;
}

static void op_modify(world_t *w, int i) {
    char key[16];
    size_t klen = keyname(i, key);
    mkey_t *m = &w->k[i];
    int live = m->live && !(m->expire_at && w->clk.now_ms >= m->expire_at);
    int kind = (int)(rnd(w) % 3);
    if (kind == 0 && m->vlen >= 60)
        kind = 2; /* the model's buffer is full */
    rcache_ref_t *hold = NULL;
    if (live && rnd(w) % 2) /* a handle forces the copy-on-write path */
        assert_int_equal(rcache_get_ref(w->c, key, klen, &hold), RCACHE_OK);
    if (kind == 0) {
        assert_int_equal(rcache_update(w->c, key, klen, append_fn, NULL),
                         RCACHE_OK);
        if (live)
            m->val[m->vlen++] = '+';
    } else if (kind == 1) {
        assert_int_equal(rcache_update(w->c, key, klen, incr_fn, NULL),
                         RCACHE_OK);
        if (live)
            m->val[0] = 'w';
    } else {
        uint64_t ttl = rnd(w) % 2 ? 0 : 1 + rnd(w) % 3000;
        int rc = ttl ? rcache_expire(w->c, key, klen, ttl)
                     : rcache_persist(w->c, key, klen);
        assert_int_equal(rc, live ? RCACHE_OK : RCACHE_ENOTFOUND);
        if (live)
            m->expire_at = ttl ? w->clk.now_ms + ttl : 0;
    }
    rcache_release(hold);
}

static void op_rename(world_t *w, int i, int j) {
    char ks[16], kd[16];
    size_t ls = keyname(i, ks), ld = keyname(j, kd);
    mkey_t *s = &w->k[i];
    int live = s->live && !(s->expire_at && w->clk.now_ms >= s->expire_at);
    int rc = rcache_rename(w->c, ks, ls, kd, ld, 0);
    assert_int_equal(rc, live ? RCACHE_OK : RCACHE_ENOTFOUND);
    if (live && i != j) {
        w->k[j] = *s;
        s->live = 0;
    }
}

static void op_invalidate_tag(world_t *w) {
    int t = (int)(rnd(w) % NTAGS);
    uint64_t removed = 99, expect = 0;
    for (int i = 0; i < NKEYS; i++) {
        mkey_t *m = &w->k[i];
        if (m->live && (m->tags & (1u << t))) {
            if (!(m->expire_at && w->clk.now_ms >= m->expire_at))
                expect++;
            m->live = 0;
        }
    }
    assert_int_equal(rcache_invalidate_tag(w->c, tag_names[t],
                                           strlen(tag_names[t]), &removed),
                     RCACHE_OK);
    /* exact: compare() ran just before, so every eviction is known */
    assert_int_equal(removed, expect);
}

static void op_pattern(world_t *w) {
    uint64_t removed = 0;
    int d = (int)(rnd(w) % 10);
    char pat[8];
    snprintf(pat, sizeof(pat), "k%d*", d);
    assert_int_equal(rcache_invalidate(w->c, pat, strlen(pat), &removed),
                     RCACHE_OK);
    for (int i = 0; i < NKEYS; i++) {
        char key[16];
        keyname(i, key);
        if (rcache_glob_match(pat, strlen(pat), key, strlen(key)) == 1)
            w->k[i].live = 0;
    }
}

static void run_model(uint64_t seed, uint64_t max_items, uint64_t max_bytes,
                      uint32_t shards, int steps) {
    world_t w;
    memset(&w, 0, sizeof(w));
    w.seed = seed;
    w.c = open_cache(max_items, max_bytes, 0, shards, &w.clk);
    for (int step = 0; step < steps; step++) {
        /* Compare first: an invalidation's count is then exact, since every
         * eviction so far has been seen. */
        compare(&w);
        int i = (int)(rnd(&w) % NKEYS), r = (int)(rnd(&w) % 100);
        char key[16];
        size_t klen = keyname(i, key);
        if (r < 35) {
            op_set(&w, i, 1);
        } else if (r < 45) {
            op_set(&w, i, 0);
        } else if (r < 52) {
            int rc = rcache_delete(w.c, key, klen);
            assert_true(rc == RCACHE_OK || rc == RCACHE_ENOTFOUND);
            w.k[i].live = 0;
        } else if (r < 62) {
            op_modify(&w, i);
        } else if (r < 68) {
            op_rename(&w, i, (int)(rnd(&w) % NKEYS));
        } else if (r < 78) {
            op_invalidate_tag(&w);
        } else if (r < 81) {
            op_pattern(&w);
        } else if (r < 82) {
            assert_int_equal(rcache_clear(w.c, NULL), RCACHE_OK);
            for (int k = 0; k < NKEYS; k++)
                w.k[k].live = 0;
        } else if (r < 92) {
            w.clk.now_ms += rnd(&w) % 1500;
        } else {
            rcache_expire_cycle(w.c, 1u << 20); /* active expiry */
        }
    }
    compare(&w);
    rcache_close(w.c);
}

/* Exact counts: no limits, so nothing is evicted and every invalidation
 * must report exactly the live tagged keys. */
static void test_invalidate_counts_exact(void **state) {
    (void)state;
    world_t w;
    memset(&w, 0, sizeof(w));
    w.seed = 7;
    w.c = open_cache(0, 0, 0, 4, &w.clk);
    for (int round = 0; round < 300; round++) {
        for (int k = 0; k < 6; k++)
            op_set(&w, (int)(rnd(&w) % NKEYS), rnd(&w) % 4 != 0);
        if (round % 3 == 0)
            w.clk.now_ms += rnd(&w) % 1000;
        int t = (int)(rnd(&w) % NTAGS);
        uint64_t expect = 0, removed = 0;
        for (int i = 0; i < NKEYS; i++) {
            mkey_t *m = &w.k[i];
            if (m->live && m->expire_at && w.clk.now_ms >= m->expire_at)
                m->live = 0;
            if (m->live && (m->tags & (1u << t))) {
                expect++;
                m->live = 0;
            }
        }
        assert_int_equal(rcache_invalidate_tag(w.c, tag_names[t],
                                               strlen(tag_names[t]), &removed),
                         RCACHE_OK);
        assert_int_equal(removed, expect);
        compare(&w);
    }
    rcache_close(w.c);
}

static void test_model_one_shard(void **state) {
    (void)state;
    run_model(1, 0, 0, 1, 3000);
    run_model(2, 20, 0, 1, 3000);
}

static void test_model_shards_items(void **state) {
    (void)state;
    run_model(3, 24, 0, 8, 3000);
    run_model(4, 0, 0, 16, 3000);
}

static void test_model_byte_limit(void **state) {
    (void)state;
    /* small enough that tag charges decide evictions */
    run_model(5, 0, 3000, 4, 3000);
    run_model(6, 30, 2500, 1, 3000);
}

/* Argument checks and the documented errors. */
static void test_errors(void **state) {
    (void)state;
    rcache_t *c = open_cache(0, 0, 0, 2, NULL);
    char big[RCACHE_MAX_TAG_LEN + 2];
    memset(big, 'q', sizeof(big));
    rcache_tag_t tg[RCACHE_MAX_TAGS + 1];
    for (size_t i = 0; i <= RCACHE_MAX_TAGS; i++) {
        tg[i].data = big + i; /* distinct tags of distinct lengths */
        tg[i].len = 1 + i;
    }
    rcache_set_opts_t o = {.ttl_ms = 0, .tags = tg, .ntags = RCACHE_MAX_TAGS};
    assert_int_equal(rcache_set_ex(c, "k", 1, "v", 1, &o, NULL), RCACHE_OK);
    o.ntags = RCACHE_MAX_TAGS + 1;
    assert_int_equal(rcache_set_ex(c, "k", 1, "w", 1, &o, NULL), RCACHE_ETOOBIG);
    o.tags = NULL;
    o.ntags = 1;
    assert_int_equal(rcache_set_ex(c, "k", 1, "w", 1, &o, NULL), RCACHE_EINVAL);
    rcache_tag_t bad = {NULL, 3};
    o.tags = &bad;
    assert_int_equal(rcache_set_ex(c, "k", 1, "w", 1, &o, NULL), RCACHE_EINVAL);
    bad.data = "x";
    bad.len = 0;
    assert_int_equal(rcache_set_ex(c, "k", 1, "w", 1, &o, NULL), RCACHE_EINVAL);
    bad.data = big;
    bad.len = RCACHE_MAX_TAG_LEN + 1;
    assert_int_equal(rcache_set_ex(c, "k", 1, "w", 1, &o, NULL), RCACHE_ETOOBIG);
    assert_int_equal(rcache_set_object(c, "k", 1, NULL, 0, NULL, NULL, &o),
                     RCACHE_ETOOBIG);
    bad.len = RCACHE_MAX_TAG_LEN;
    assert_int_equal(rcache_set_ex(c, "k2", 2, "w", 1, &o, NULL), RCACHE_OK);
    /* refused stores changed nothing: k still has its 32 tags and value */
    rcache_tag_list_t *l = NULL;
    assert_int_equal(rcache_get_tags(c, "k", 1, &l), RCACHE_OK);
    assert_int_equal(l->count, RCACHE_MAX_TAGS);
    rcache_tag_list_free(l);
    uint64_t removed = 5;
    assert_int_equal(rcache_invalidate_tag(NULL, "a", 1, &removed), RCACHE_EINVAL);
    assert_int_equal(removed, 0);
    assert_int_equal(rcache_invalidate_tag(c, NULL, 1, NULL), RCACHE_EINVAL);
    assert_int_equal(rcache_invalidate_tag(c, "a", 0, NULL), RCACHE_EINVAL);
    assert_int_equal(rcache_invalidate_tag(c, big, RCACHE_MAX_TAG_LEN + 1, NULL),
                     RCACHE_ETOOBIG);
    assert_int_equal(rcache_invalidate_tag(c, "nope", 4, &removed), RCACHE_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(rcache_invalidate_tag(c, big, RCACHE_MAX_TAG_LEN, &removed),
                     RCACHE_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(rcache_get_tags(c, "nokey", 5, &l), RCACHE_ENOTFOUND);
    assert_null(l);
    assert_int_equal(rcache_get_tags(c, "k", 1, NULL), RCACHE_EINVAL);
    assert_int_equal(rcache_get_tags(c, NULL, 1, &l), RCACHE_EINVAL);
    /* a plain store: an empty list */
    assert_int_equal(rcache_set(c, "u", 1, "v", 1, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_get_tags(c, "u", 1, &l), RCACHE_OK);
    assert_int_equal(l->count, 0);
    rcache_tag_list_free(l);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.tag_invalidations, 2);
    assert_int_equal(st.tag_invalidated, 1);
    check_invariants(c);
    /* object entries carry tags too, and a disabled cache drops them */
    rcache_tag_t one = {"obj", 3};
    rcache_set_opts_t oo = {.ttl_ms = 0, .tags = &one, .ntags = 1};
    static int obj;
    assert_int_equal(rcache_set_object(c, "o", 1, &obj, 100, NULL, NULL, &oo),
                     RCACHE_OK);
    assert_int_equal(rcache_set_disabled(c, 1), RCACHE_OK);
    assert_int_equal(rcache_set_ex(c, "o", 1, "v", 1, &oo, NULL), RCACHE_OK);
    assert_int_equal(rcache_set_disabled(c, 0), RCACHE_OK);
    assert_int_equal(rcache_invalidate_tag(c, "obj", 3, &removed), RCACHE_OK);
    assert_int_equal(removed, 0);
    check_invariants(c);
    rcache_stats_reset(c);
    rcache_stats(c, &st);
    assert_int_equal(st.tag_invalidations, 0);
    rcache_close(c);
}

/* The charge moves the byte gauge by the documented amount, and a limit
 * that the tags push over evicts. */
static void test_charge(void **state) {
    (void)state;
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    rcache_stats_t st;
    rcache_stats(c, &st);
    uint64_t base = st.bytes;
    rcache_tag_t tg[3] = {{"alpha", 5}, {"beta", 4}, {"alpha", 5}};
    rcache_set_opts_t o = {.ttl_ms = 0, .tags = tg, .ntags = 3};
    assert_int_equal(rcache_set_ex(c, "key", 3, "val", 3, &o, NULL), RCACHE_OK);
    rcache_stats(c, &st);
    uint64_t entry = rcache__entry_size(3, 3, 0, 0);
    uint64_t tags = fp(24 + 32) + 16 + 64 + fp(48 + 5) + 16 + fp(48 + 4) + 16;
    assert_int_equal(st.bytes - base, entry + tags);
    assert_int_equal(st.tag_bytes, tags);
    /* a second entry with one of the tags: record + member only */
    o.ntags = 1;
    assert_int_equal(rcache_set_ex(c, "k2", 2, "v", 1, &o, NULL), RCACHE_OK);
    rcache_stats(c, &st);
    assert_int_equal(st.tag_bytes, tags + fp(24 + 16) + 16 + 32);
    /* overwrite without tags: back to the first entry's tags only */
    assert_int_equal(rcache_set(c, "k2", 2, "v", 1, 0, 0), RCACHE_OK);
    rcache_stats(c, &st);
    assert_int_equal(st.tag_bytes, tags);
    assert_int_equal(rcache_delete(c, "key", 3), RCACHE_OK);
    rcache_stats(c, &st);
    assert_int_equal(st.tag_bytes, 0);
    assert_int_equal(st.tags, 0);
    assert_int_equal(st.bytes - base, rcache__entry_size(2, 1, 0, 0));
    check_invariants(c);
    /* limit: untagged entries fit exactly; tagging one pushes it over */
    uint64_t one = rcache__entry_size(2, 1, 0, 0);
    assert_int_equal(rcache_set_limits(c, 0, 4 * one), RCACHE_OK);
    for (int i = 0; i < 4; i++) {
        char k[3] = {'a', (char)('0' + i), 0};
        assert_int_equal(rcache_set(c, k, 2, "v", 1, 0, 0), RCACHE_OK);
    }
    rcache_stats(c, &st);
    assert_int_equal(st.items, 4);
    assert_int_equal(rcache_set_ex(c, "a0", 2, "v", 1, &o, NULL), RCACHE_OK);
    rcache_stats(c, &st);
    assert_true(st.items < 4); /* the tag's charge evicted */
    assert_true(rcache_exists(c, "a0", 2));
    assert_true(st.bytes <= 4 * one);
    check_invariants(c);
    /* an entry that fits only without its tag record is refused */
    uint64_t with_rec = one + fp(24 + 16) + 16 + 32;
    assert_int_equal(rcache_set_limits(c, 0, with_rec - 1), RCACHE_OK);
    assert_int_equal(rcache_set(c, "a1", 2, "v", 1, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_set_ex(c, "a2", 2, "v", 1, &o, NULL), RCACHE_ETOOBIG);
    assert_true(rcache_exists(c, "a1", 2)); /* nothing evicted for it */
    check_invariants(c);
    rcache_close(c);
}

/* What keeps tags: in-place changes and rename; what drops them. */
static void test_semantics(void **state) {
    (void)state;
    rcache_t *c = open_cache(0, 0, 0, 4, NULL);
    rcache_tag_t tg = {"t", 1};
    rcache_set_opts_t o = {.ttl_ms = 0, .tags = &tg, .ntags = 1};
    rcache_tag_list_t *l;
    uint64_t removed;
    assert_int_equal(rcache_set_ex(c, "a", 1, "1", 1, &o, NULL), RCACHE_OK);
    assert_int_equal(rcache_update(c, "a", 1, append_fn, NULL), RCACHE_OK);
    assert_int_equal(rcache_update(c, "a", 1, incr_fn, NULL), RCACHE_OK);
    assert_int_equal(rcache_expire(c, "a", 1, 100000), RCACHE_OK);
    assert_int_equal(rcache_rename(c, "a", 1, "b", 1, 0), RCACHE_OK);
    assert_int_equal(rcache_get_tags(c, "b", 1, &l), RCACHE_OK);
    assert_int_equal(l->count, 1);
    assert_memory_equal(l->tags[0].data, "t", 2);
    rcache_tag_list_free(l);
    /* TTL_KEEP overwrite without tags drops them */
    o.ttl_ms = RCACHE_TTL_KEEP;
    o.ntags = 0;
    assert_int_equal(rcache_set_ex(c, "b", 1, "2", 1, &o, NULL), RCACHE_OK);
    assert_int_equal(rcache_get_tags(c, "b", 1, &l), RCACHE_OK);
    assert_int_equal(l->count, 0);
    rcache_tag_list_free(l);
    assert_int_equal(rcache_invalidate_tag(c, "t", 1, &removed), RCACHE_OK);
    assert_int_equal(removed, 0);
    /* NX refused: the old entry keeps its tags */
    o.ntags = 1;
    o.ttl_ms = 0;
    assert_int_equal(rcache_set_ex(c, "c", 1, "1", 1, &o, NULL), RCACHE_OK);
    rcache_tag_t other = {"u", 1};
    rcache_set_opts_t nx = {.ttl_ms = 0, .flags = RCACHE_SET_NX, .tags = &other,
                            .ntags = 1};
    assert_int_equal(rcache_set_ex(c, "c", 1, "2", 1, &nx, NULL), RCACHE_EEXIST);
    assert_int_equal(rcache_invalidate_tag(c, "u", 1, &removed), RCACHE_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(rcache_invalidate_tag(c, "t", 1, &removed), RCACHE_OK);
    assert_int_equal(removed, 1);
    check_invariants(c);
    rcache_close(c);
}

/* rcache_memoize() stores a result with the tags its callback names. */
static int tagged_compute(const void *key, size_t klen, rcache_memo_result_t *out,
                          void *ctx) {
    static const rcache_tag_t tg[2] = {{"src:1", 5}, {"memo", 4}};
    (void)key;
    (void)klen;
    (void)ctx;
    out->val = "computed";
    out->val_len = 8;
    out->tags = tg;
    out->ntags = 2;
    return RCACHE_OK;
}

static void test_memoize_tags(void **state) {
    (void)state;
    rcache_t *c = open_cache(0, 0, 0, 2, NULL);
    rcache_ref_t *ref = NULL;
    rcache_tag_list_t *l;
    uint64_t removed;
    assert_int_equal(rcache_memoize(c, "m", 1, tagged_compute, NULL, NULL, &ref, NULL),
                     RCACHE_OK);
    rcache_release(ref);
    assert_int_equal(rcache_get_tags(c, "m", 1, &l), RCACHE_OK);
    assert_int_equal(l->count, 2);
    assert_string_equal(l->tags[0].data, "src:1");
    rcache_tag_list_free(l);
    assert_int_equal(rcache_invalidate_tag(c, "memo", 4, &removed), RCACHE_OK);
    assert_int_equal(removed, 1);
    assert_false(rcache_exists(c, "m", 1));
    check_invariants(c);
    rcache_close(c);
}

/* Snapshots keep tags: an AUX field before each tagged key. */
static void test_snapshot_round_trip(void **state) {
    (void)state;
    char path[] = "/tmp/rcache-tags-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    rcache_t *c = open_cache(0, 0, 0, 4, NULL);
    static char longtag[RCACHE_MAX_TAG_LEN];
    memset(longtag, 'L', sizeof longtag);
    rcache_tag_t many[RCACHE_MAX_TAGS];
    char names[RCACHE_MAX_TAGS][8];
    for (unsigned i = 0; i < RCACHE_MAX_TAGS; i++) {
        many[i].len = (size_t)snprintf(names[i], sizeof names[i], "m%u", i);
        many[i].data = names[i];
    }
    rcache_tag_t odd[3] = {{"\0\xff", 2}, {longtag, sizeof longtag}, {"x", 1}};
    rcache_set_opts_t o = {.ttl_ms = 0, .tags = many, .ntags = RCACHE_MAX_TAGS};
    assert_int_equal(rcache_set_ex(c, "many", 4, "v1", 2, &o, NULL), RCACHE_OK);
    o.tags = odd;
    o.ntags = 3;
    o.ttl_ms = 100000;
    assert_int_equal(rcache_set_ex(c, "odd", 3, "v2", 2, &o, NULL), RCACHE_OK);
    assert_int_equal(rcache_set(c, "plain", 5, "v3", 2, 0, 0), RCACHE_OK);
    for (int i = 0; i < 200; i++) { /* many keys, some tagged */
        char k[16];
        int kl = snprintf(k, sizeof k, "k%d", i);
        o.tags = &odd[2];
        o.ntags = i % 3 == 0;
        assert_int_equal(rcache_set_ex(c, k, (size_t)kl, "v", 1, &o, NULL), RCACHE_OK);
    }
    assert_int_equal(rcache_snapshot_save(c, path, NULL, NULL), RCACHE_OK);
    rcache_t *d = open_cache(0, 0, 0, 2, NULL);
    rcache_snapshot_result_t res;
    assert_int_equal(rcache_snapshot_load(d, path, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, 203);
    rcache_tag_list_t *l;
    assert_int_equal(rcache_get_tags(d, "many", 4, &l), RCACHE_OK);
    assert_int_equal(l->count, RCACHE_MAX_TAGS);
    for (unsigned i = 0; i < RCACHE_MAX_TAGS; i++)
        assert_string_equal(l->tags[i].data, names[i]);
    rcache_tag_list_free(l);
    assert_int_equal(rcache_get_tags(d, "odd", 3, &l), RCACHE_OK);
    assert_int_equal(l->count, 3);
    assert_int_equal(l->tags[0].len, 2);
    assert_memory_equal(l->tags[0].data, "\0\xff", 2);
    assert_int_equal(l->tags[1].len, sizeof longtag);
    rcache_tag_list_free(l);
    assert_int_equal(rcache_get_tags(d, "plain", 5, &l), RCACHE_OK);
    assert_int_equal(l->count, 0);
    rcache_tag_list_free(l);
    uint64_t removed;
    assert_int_equal(rcache_invalidate_tag(d, "x", 1, &removed), RCACHE_OK);
    assert_int_equal(removed, 1 + 67); /* "odd" and k0, k3, ... k198 */
    check_invariants(d);
    rcache_close(d);
    rcache_close(c);
    unlink(path);
}

/* The persisted form's parser is bounded and refuses bad lists. */
static void test_decode(void **state) {
    (void)state;
    rcache_tag_t t[RCACHE_MAX_TAGS];
    size_t n = 9;
    assert_int_equal(rcache__tags_decode((const unsigned char *)"", 0, t, &n), RCACHE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(rcache__tags_decode((const unsigned char *)"\2\0ab\1\0c", 7, t, &n),
                     RCACHE_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(t[1].data, "c", 1);
    assert_int_equal(rcache__tags_decode((const unsigned char *)"\2", 1, t, &n),
                     RCACHE_ECORRUPT); /* half a length */
    assert_int_equal(rcache__tags_decode((const unsigned char *)"\3\0ab", 4, t, &n),
                     RCACHE_ECORRUPT); /* runs past the end */
    assert_int_equal(rcache__tags_decode((const unsigned char *)"\0\0", 2, t, &n),
                     RCACHE_ECORRUPT); /* empty tag */
    assert_int_equal(rcache__tags_decode((const unsigned char *)"\1\4", 2, t, &n),
                     RCACHE_ECORRUPT); /* 1025 bytes: over the limit */
    unsigned char many[3 * (RCACHE_MAX_TAGS + 1)];
    for (size_t i = 0; i < sizeof many; i += 3) {
        many[i] = 1;
        many[i + 1] = 0;
        many[i + 2] = 'a';
    }
    assert_int_equal(rcache__tags_decode(many, sizeof many - 3, t, &n), RCACHE_OK);
    assert_int_equal(n, RCACHE_MAX_TAGS);
    assert_int_equal(rcache__tags_decode(many, sizeof many, t, &n), RCACHE_ECORRUPT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_charge),
        cmocka_unit_test(test_semantics),
        cmocka_unit_test(test_invalidate_counts_exact),
        cmocka_unit_test(test_model_one_shard),
        cmocka_unit_test(test_model_shards_items),
        cmocka_unit_test(test_model_byte_limit),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_memoize_tags),
        cmocka_unit_test(test_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
