/*
 * test_alloc_fail.c - allocation-failure injection over librcache's public
 * calls (built only with -DRCACHE_ALLOC_FAIL=ON; run under ASan+UBSan by
 * `make test-allocfail`, so every leak on a failure path is reported).
 *
 * Why: a cache runs close to its memory limit by design, so malloc failing
 * is an expected event, not a disaster. Each public call must then either
 * succeed or return RCACHE_ENOMEM with the cache exactly as it was, leak
 * nothing, and keep ownership rules (an object refused is still the
 * caller's; a destructor runs exactly once).
 *
 * How: for each operation, N goes 1, 2, 3, ...: a fresh state is prepared
 * with injection off, rcache__alloc_fail_after(N, sticky) makes the N-th
 * allocation from then on fail (and, sticky, every later one), the call
 * runs, injection is turned off and the result is checked: the return code,
 * the cache's contents against a snapshot taken before, the counters
 * against a recount (check_invariants, tests/unit/testutil.h), and the
 * caller-visible ownership. The sweep ends at the first N the call did not
 * reach (it made fewer than N allocations), so every allocation site the
 * call passes through fails once, alone and with all that follow.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>

#define MAX_SWEEP 5000 /* far more allocations than any call makes */

/* ---- snapshot of a cache's contents ------------------------------------ */

typedef struct snap_ent {
    unsigned char *key, *val;
    uint32_t klen, vlen;
    uint64_t expire_at_ms;
    int is_object;
} snap_ent_t;

typedef struct snap {
    snap_ent_t *e;
    size_t n;
    uint64_t items, bytes;
} snap_t;

static int ent_cmp(const void *a, const void *b) {
    const snap_ent_t *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int r = memcmp(x->key, y->key, n);
    if (r)
        return r;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

/* Walk every shard through the internals (no stats or LRU change). */
static void snap_take(rcache_t *c, snap_t *s) {
    size_t cap = 16;
    s->n = 0;
    s->e = malloc(cap * sizeof(*s->e));
    assert_non_null(s->e);
    for (uint32_t i = 0; i < c->nshards; i++) {
        rcache__shard_t *sh = &c->shards[i];
        pthread_mutex_lock(&sh->lock);
        for (rcache__entry_t *e = sh->lru->next; e != sh->lru; e = e->next) {
            if (s->n == cap) {
                cap *= 2;
                s->e = realloc(s->e, cap * sizeof(*s->e));
                assert_non_null(s->e);
            }
            snap_ent_t *d = &s->e[s->n++];
            d->klen = e->klen;
            d->vlen = e->vlen;
            d->key = malloc(e->klen);
            d->val = malloc(e->vlen ? e->vlen : 1);
            assert_true(d->key && d->val);
            memcpy(d->key, rcache__entry_key(e), e->klen);
            memcpy(d->val, rcache__entry_val(e), e->vlen);
            d->expire_at_ms = e->expire_at_ms;
            d->is_object = (e->flags & RCACHE__F_OBJECT) != 0;
        }
        pthread_mutex_unlock(&sh->lock);
    }
    qsort(s->e, s->n, sizeof(*s->e), ent_cmp);
    rcache_stats_t st;
    rcache_stats(c, &st);
    s->items = st.items;
    s->bytes = st.bytes;
}

static void snap_free(snap_t *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].key);
        free(s->e[i].val);
    }
    free(s->e);
    s->e = NULL;
    s->n = 0;
}

/* The cache holds exactly what it held when `before` was taken. */
static void assert_unchanged(rcache_t *c, snap_t *before) {
    snap_t now;
    snap_take(c, &now);
    assert_int_equal(now.n, before->n);
    assert_int_equal(now.items, before->items);
    assert_int_equal(now.bytes, before->bytes);
    for (size_t i = 0; i < now.n; i++) {
        snap_ent_t *a = &now.e[i], *b = &before->e[i];
        assert_int_equal(a->klen, b->klen);
        assert_memory_equal(a->key, b->key, a->klen);
        assert_int_equal(a->vlen, b->vlen);
        if (a->vlen)
            assert_memory_equal(a->val, b->val, a->vlen);
        assert_int_equal(a->expire_at_ms, b->expire_at_ms);
        assert_int_equal(a->is_object, b->is_object);
    }
    snap_free(&now);
}

/* ---- the sweep ---------------------------------------------------------- */

/* One operation under test: prepare() builds a fresh state (injection
 * off), run() is the call under injection and returns its code, check()
 * verifies the outcome (injection off), finish() tears the state down. */
typedef struct op {
    const char *name;
    void (*prepare)(void *st);
    int (*run)(void *st);
    void (*check)(void *st, int rc);
    void (*finish)(void *st);
} op_t;

/* Runs op with the N-th allocation failing, for every N the call reaches,
 * non-sticky then sticky. Returns how many distinct N failed something. */
static long sweep(const op_t *op, void *st) {
    long failures = 0;
    for (int sticky = 0; sticky <= 1; sticky++) {
        long n;
        for (n = 1; n <= MAX_SWEEP; n++) {
            op->prepare(st);
            rcache__alloc_fail_after(n, sticky);
            int rc = op->run(st);
            long made = rcache__alloc_count();
            rcache__alloc_fail_after(0, 0);
            op->check(st, rc);
            op->finish(st);
            if (made < n)
                break; /* the call did not reach allocation N: done */
            failures++;
        }
        assert_true(n <= MAX_SWEEP);
    }
    return failures;
}

static test_clock_t clk = {1700000000000ull};

/* ---- rcache_open -------------------------------------------------------- */

typedef struct open_st {
    uint32_t shards;
    uint64_t max_items;
    rcache_t *c;
} open_st_t;

static void open_prepare(void *p) { ((open_st_t *)p)->c = (rcache_t *)1; }
static int open_run(void *p) {
    open_st_t *s = p;
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.shards = s->shards;
    cfg.max_items = s->max_items;
    return rcache_open(&cfg, &s->c);
}
static void open_check(void *p, int rc) {
    open_st_t *s = p;
    if (rc == RCACHE_ENOMEM) {
        assert_null(s->c);
        return;
    }
    assert_int_equal(rc, RCACHE_OK);
    assert_non_null(s->c);
    /* usable */
    assert_int_equal(set_str(s->c, "k", "v"), RCACHE_OK);
    check_invariants(s->c);
}
static void open_finish(void *p) {
    open_st_t *s = p;
    if (s->c != (rcache_t *)1)
        rcache_close(s->c);
    s->c = NULL;
}

static void test_open(void **state) {
    (void)state;
    static const op_t op = {"open", open_prepare, open_run, open_check,
                            open_finish};
    open_st_t s1 = {1, 0, NULL}, s16 = {16, 100000, NULL}, s1024 = {1024, 0, NULL};
    assert_true(sweep(&op, &s1) >= 3);  /* cache, shards, table, memo */
    assert_true(sweep(&op, &s16) >= 18);
    assert_true(sweep(&op, &s1024) >= 1026);
}

/* ---- a populated cache, shared by the store/lookup operations ----------- */

typedef struct cache_st {
    rcache_t *c;
    snap_t before;
    uint64_t max_items, max_bytes;
    uint32_t shards;
    int nkeys;       /* keys k0..k{n-1} stored by prepare */
    int objects;     /* object entries stored by prepare */
    int tagged;      /* k0..k9 get tags "all" and "even"/"odd" */
    int policy;      /* rcache_policy_t set before the keys are stored */
    /* op-specific */
    rcache_ref_t *ref;
    void *buf;
    size_t len;
    rcache_scan_page_t page;
    uint64_t cursor, removed;
} cache_st_t;

static _Atomic long dtor_calls, objs_made;

static void obj_dtor(void *obj, void *ctx) {
    (void)ctx;
    free(obj);
    dtor_calls++;
}

static void cache_prepare(void *p) {
    cache_st_t *s = p;
    s->c = open_cache(s->max_items, s->max_bytes, 0, s->shards, &clk);
    assert_int_equal(rcache_set_policy(s->c, s->policy), RCACHE_OK);
    for (int i = 0; i < s->nkeys; i++) {
        char k[32], v[64];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "value-%d-%0*d", i, i % 40, 0);
        rcache_tag_t tg[2] = {{"all", 3}, {i % 2 ? "odd" : "even", i % 2 ? 3 : 4}};
        rcache_set_opts_t o = {.ttl_ms = i % 3 ? 60000 : 0,
                               .tags = tg,
                               .ntags = s->tagged && i < 10 ? 2 : 0};
        assert_int_equal(rcache_set_ex(s->c, k, strlen(k), v, strlen(v), &o,
                                       NULL),
                         RCACHE_OK);
    }
    for (int i = 0; i < s->objects; i++) {
        char k[32];
        snprintf(k, sizeof k, "obj%d", i);
        int *o = malloc(sizeof *o);
        assert_non_null(o);
        objs_made++;
        assert_int_equal(rcache_set_object(s->c, k, strlen(k), o, 100, obj_dtor,
                                           NULL, NULL),
                         RCACHE_OK);
    }
    check_invariants(s->c);
    snap_take(s->c, &s->before);
    s->ref = NULL;
    s->buf = NULL;
    s->len = 0;
    memset(&s->page, 0, sizeof s->page);
    s->cursor = 0;
    s->removed = 0;
}

static void cache_finish(void *p) {
    cache_st_t *s = p;
    check_invariants(s->c);
    rcache_close(s->c);
    s->c = NULL;
    snap_free(&s->before);
    assert_int_equal(dtor_calls, objs_made); /* each object ended once */
}

/* The call either worked or failed cleanly with the cache untouched. */
static void check_ok_or_unchanged(cache_st_t *s, int rc) {
    if (rc == RCACHE_ENOMEM) {
        assert_unchanged(s->c, &s->before);
        return;
    }
    assert_int_equal(rc, RCACHE_OK);
}

static void assert_value(rcache_t *c, const char *k, const char *want) {
    char buf[256];
    assert_int_equal(get_str(c, k, buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, want);
}

/* set: a new key, into a shard whose table is due to grow, or with the
 * item limit forcing an eviction. */
static int set_new_run(void *p) {
    return set_str(((cache_st_t *)p)->c, "newkey", "newvalue");
}
static void set_new_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK)
        assert_value(s->c, "newkey", "newvalue");
    else
        assert_int_equal(rcache_exists(s->c, "newkey", 6), 0);
}

/* set: replace an existing key. */
static int set_replace_run(void *p) {
    return set_str(((cache_st_t *)p)->c, "k3", "replaced");
}
static void set_replace_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK)
        assert_value(s->c, "k3", "replaced");
    else
        assert_value(s->c, "k3", "value-3-000");
}

/* set_ex with the previous entry handed back (SET ... GET). */
static int set_get_run(void *p) {
    cache_st_t *s = p;
    rcache_set_opts_t o = {.ttl_ms = RCACHE_TTL_KEEP, .flags = RCACHE_SET_XX, .compute_ms = 5};
    return rcache_set_ex(s->c, "k4", 2, "x", 1, &o, &s->ref);
}
static void set_get_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK) {
        size_t len;
        const void *v = rcache_ref_value(s->ref, &len);
        assert_int_equal(len, strlen("value-4-0000"));
        assert_memory_equal(v, "value-4-0000", len);
        assert_value(s->c, "k4", "x");
    } else {
        assert_null(s->ref);
    }
    rcache_release(s->ref);
    s->ref = NULL;
}

/* set_object: on ENOMEM the object stays the caller's. */
static int set_obj_run(void *p) {
    cache_st_t *s = p;
    int *o = malloc(sizeof *o);
    assert_non_null(o);
    *o = 42;
    s->buf = o;
    return rcache_set_object(s->c, "newobj", 6, o, 1000, obj_dtor, NULL, NULL);
}
static void set_obj_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK) {
        objs_made++;
        rcache_ref_t *r = NULL;
        assert_int_equal(rcache_get_ref(s->c, "newobj", 6, &r), RCACHE_OK);
        assert_ptr_equal(rcache_ref_object(r), s->buf);
        rcache_release(r);
    } else {
        free(s->buf); /* still ours; the destructor was not called */
    }
    s->buf = NULL;
}

/* get_alloc: the copy (the caller's, freed with free()) comes from
 * rcache__malloc, so its failure is injected too: ENOMEM, cache intact. */
static int get_alloc_run(void *p) {
    cache_st_t *s = p;
    return rcache_get_alloc(s->c, "k5", 2, &s->buf, &s->len);
}
static void get_alloc_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK) {
        assert_int_equal(s->len, strlen("value-5-00000"));
        assert_memory_equal(s->buf, "value-5-00000", s->len);
    } else {
        assert_null(s->buf);
    }
    free(s->buf);
    s->buf = NULL;
}

/* update: APPEND-like STORE (allocates under the shard lock). */
static int append_fn(rcache_update_t *u, void *ctx) {
    static char out[256];
    (void)ctx;
    memcpy(out, u->old_val, u->old_len);
    memcpy(out + u->old_len, "+more", 5);
    u->new_val = out;
    u->new_len = u->old_len + 5;
    return RCACHE_UPDATE_STORE;
}
static int update_run(void *p) {
    return rcache_update(((cache_st_t *)p)->c, "k6", 2, append_fn, NULL);
}
static void update_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    assert_value(s->c, "k6", rc == RCACHE_OK ? "value-6-000000+more"
                                             : "value-6-000000");
}

/* update: APPEND as a SPLICE (the entry grown in place): a failed realloc
 * leaves the value and its accounting as they were. */
static int splice_fn(rcache_update_t *u, void *ctx) {
    (void)ctx;
    u->new_val = "+more";
    u->new_len = 5;
    return RCACHE_UPDATE_SPLICE;
}
static int splice_run(void *p) {
    return rcache_update(((cache_st_t *)p)->c, "k6", 2, splice_fn, NULL);
}
/* rename onto an existing key, across shards. */
static int rename_run(void *p) {
    return rcache_rename(((cache_st_t *)p)->c, "k7", 2, "k8", 2, 0);
}
static void rename_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK) {
        assert_int_equal(rcache_exists(s->c, "k7", 2), 0);
        assert_value(s->c, "k8", "value-7-0000000");
    } else {
        assert_value(s->c, "k7", "value-7-0000000");
        assert_value(s->c, "k8", "value-8-00000000");
    }
}

/* scan: one call over everything (the page grows several times). */
static int scan_run(void *p) {
    cache_st_t *s = p;
    return rcache_scan(s->c, 0, 100000, NULL, 0, 1, &s->page, &s->cursor);
}
static void scan_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK) {
        assert_int_equal(s->cursor, 0);
        assert_int_equal(s->page.count, s->before.n);
    } else {
        assert_null(s->page.entries);
        assert_int_equal(s->page.count, 0);
    }
    rcache_scan_page_free(&s->page);
}

/* scan with a pattern, continued with the cursor. */
static int scan_pat_run(void *p) {
    cache_st_t *s = p;
    uint64_t cur = 0;
    size_t total = 0;
    int rc;
    do {
        rc = rcache_scan(s->c, cur, 7, "k1*", 3, 0, &s->page, &cur);
        if (rc != RCACHE_OK)
            return rc;
        total += s->page.count;
        rcache_scan_page_free(&s->page);
    } while (cur);
    s->len = total;
    return RCACHE_OK;
}
static void scan_pat_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK)
        assert_true(s->len >= 111); /* k1, k10-19, k100-199 */
}

/* invalidate: removes without allocating. */
static int invalidate_run(void *p) {
    cache_st_t *s = p;
    return rcache_invalidate(s->c, "k2*", 3, &s->removed);
}
static void invalidate_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK) {
        assert_int_equal(s->removed, 111); /* k2, k20-29, k200-299 */
        assert_int_equal(rcache_exists(s->c, "k2", 2), 0);
    }
}

/* key_invalidate_ns: builds an escaped pattern (allocates). */
static int invalidate_ns_run(void *p) {
    cache_st_t *s = p;
    return rcache_key_invalidate_ns(s->c, "k*", &s->removed);
}
static void invalidate_ns_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK)
        assert_int_equal(s->removed, 0); /* no key is in namespace "k*" */
}

/* set_limits: shrinking evicts. */
static int limits_run(void *p) {
    return rcache_set_limits(((cache_st_t *)p)->c, 10, 0);
}
static void limits_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK)
        assert_true(rcache_count(s->c) <= 10);
}

static void run_cache_op(const char *name, int (*run)(void *),
                         void (*check)(void *, int), cache_st_t base,
                         long min_failures) {
    op_t op = {name, cache_prepare, run, check, cache_finish};
    cache_st_t s = base;
    long f = sweep(&op, &s);
    print_message("  %-18s %ld injected failures\n", name, f);
    assert_true(f >= min_failures);
}

/* 24 keys in one shard of 4 buckets (6 a bucket): the next new key grows
 * the table. */
static const cache_st_t ONE_SHARD = {.max_items = 0, .shards = 1,
                                     .nkeys = RCACHE__MIN_BUCKETS * RCACHE__INDEX_LOAD,
                                     .objects = 0};

/* Entries in bucket 0 of the one shard's index (its chain included). */
static int bucket0_entries(rcache_t *c, int *overflowed) {
    rcache__index_it_t it;
    int n = 0;
    rcache__index_it_start(&c->shards[0].idx, 0, &it);
    while (rcache__index_it_next(&it))
        n++;
    *overflowed = c->shards[0].idx.overflow != 0;
    return n;
}

/* A key not stored yet whose bucket is 0 (of 4). */
static void bucket0_key(rcache_t *c, const char *prefix, int *next, char *k, size_t cap) {
    for (;; (*next)++) {
        snprintf(k, cap, "%s%d", prefix, *next);
        if ((rcache__hash(k, strlen(k)) & 3u) == 0 && !rcache_exists(c, k, strlen(k)))
            return;
    }
}

/* 16 keys, then bucket 0 filled to its 8 slots: the next key of bucket 0
 * needs an overflow bucket, the table (20 or so of 24) no grow. */
static char overflow_key[32];
static void overflow_prepare(void *p) {
    cache_st_t *s = p;
    int next = 0, ov = 0;
    cache_prepare(p);
    while (bucket0_entries(s->c, &ov) < 8) {
        char k[32];
        bucket0_key(s->c, "f", &next, k, sizeof k);
        assert_int_equal(rcache_set(s->c, k, strlen(k), "v", 1, 0, 0), RCACHE_OK);
    }
    assert_int_equal(bucket0_entries(s->c, &ov), 8);
    assert_int_equal(ov, 0);
    assert_true(rcache_count(s->c) < RCACHE__MIN_BUCKETS * RCACHE__INDEX_LOAD);
    next = 0;
    bucket0_key(s->c, "n", &next, overflow_key, sizeof overflow_key);
    snap_free(&s->before);
    snap_take(s->c, &s->before);
}
static int overflow_run(void *p) {
    return set_str(((cache_st_t *)p)->c, overflow_key, "newvalue");
}
static void overflow_check(void *p, int rc) {
    cache_st_t *s = p;
    int ov = 0;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK) {
        assert_value(s->c, overflow_key, "newvalue");
        assert_int_equal(bucket0_entries(s->c, &ov), 9);
        assert_int_equal(ov, 1);
    } else {
        assert_int_equal(rcache_exists(s->c, overflow_key, strlen(overflow_key)), 0);
    }
}
static const cache_st_t MANY = {.max_items = 0, .shards = 4, .nkeys = 300,
                                .objects = 3};

static void test_set(void **state) {
    (void)state;
    run_cache_op("set new (grow)", set_new_run, set_new_check, ONE_SHARD, 2);
    cache_st_t full = ONE_SHARD;
    full.nkeys = 16;
    full.max_items = 16; /* the set evicts one */
    run_cache_op("set new (evict)", set_new_run, set_new_check, full, 1);
    /* a full bucket: the overflow bucket's allocation fails, nothing
     * changes (the entry's slot and the overflow bucket: 2 failures) */
    cache_st_t crowded = ONE_SHARD;
    crowded.nkeys = 16;
    op_t op = {"set new (overflow)", overflow_prepare, overflow_run, overflow_check,
               cache_finish};
    long f = sweep(&op, &crowded);
    print_message("  %-18s %ld injected failures\n", "set new (overflow)", f);
    assert_true(f >= 2);
    run_cache_op("set replace", set_replace_run, set_replace_check, MANY, 1);
    run_cache_op("set_ex get", set_get_run, set_get_check, MANY, 1);
}

/* gdsf: a store whose heap or heap index cannot grow still succeeds, the
 * entry waiting outside the heap (list q[1]); its next hit, with memory
 * back, moves it into the heap; and it is evictable meanwhile. */
static long gdsf_waiting;
static void gdsf_set_check(void *p, int rc) {
    cache_st_t *s = p;
    /* before set_new_check(), whose read is a hit */
    rcache__shard_t *sh = rcache__shard_of(s->c, rcache__hash("newkey", 6));
    pthread_mutex_lock(&sh->lock);
    uint64_t waiting = sh->pol.n[1];
    pthread_mutex_unlock(&sh->lock);
    set_new_check(p, rc);
    if (rc != RCACHE_OK)
        return;
    gdsf_waiting += waiting != 0;
    assert_value(s->c, "newkey", "newvalue"); /* a hit: retries the heap */
    pthread_mutex_lock(&sh->lock);
    assert_int_equal(sh->pol.n[1], 0);
    pthread_mutex_unlock(&sh->lock);
    assert_int_equal(rcache_set_limits(s->c, 3, 0), RCACHE_OK);
    check_invariants(s->c);
}

static void test_gdsf(void **state) {
    (void)state;
    cache_st_t g = ONE_SHARD;
    g.nkeys = 16; /* the heap index (16 slots to start) grows on the 17th */
    g.policy = RCACHE_POLICY_GDSF;
    run_cache_op("gdsf set (grow)", set_new_run, gdsf_set_check, g, 2);
    assert_true(gdsf_waiting > 0);
    g.max_items = 16;
    run_cache_op("gdsf set (evict)", set_new_run, set_new_check, g, 1);
    cache_st_t m = MANY;
    m.policy = RCACHE_POLICY_GDSF;
    run_cache_op("gdsf set replace", set_replace_run, set_replace_check, m, 1);
}

static void test_set_object(void **state) {
    (void)state;
    run_cache_op("set_object", set_obj_run, set_obj_check, MANY, 1);
}

static void test_get_alloc(void **state) {
    (void)state;
    run_cache_op("get_alloc", get_alloc_run, get_alloc_check, MANY, 1);
}

static void test_update(void **state) {
    (void)state;
    run_cache_op("update", update_run, update_check, MANY, 1);
    run_cache_op("update splice", splice_run, update_check, MANY, 1);
}

/* A SPLICE writes the value once, into its entry: one allocation (the
 * realloc growing it in place, or the new entry when a reference is held),
 * none when it overwrites within the value; the bytes of the value are
 * never built elsewhere first (issue 10 item 9). */
static void test_splice_allocations(void **state) {
    (void)state;
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    static char big[100000];
    memset(big, 'x', sizeof big);
    assert_int_equal(rcache_set(c, "k", 1, big, sizeof big, 0, 0), RCACHE_OK);
    rcache__alloc_fail_after(0, 0); /* counting only */
    assert_int_equal(rcache_update(c, "k", 1, splice_fn, NULL), RCACHE_OK);
    assert_int_equal(rcache__alloc_count(), 1);
    rcache_ref_t *ref = NULL;
    assert_int_equal(rcache_get_ref(c, "k", 1, &ref), RCACHE_OK);
    rcache__alloc_fail_after(0, 0);
    assert_int_equal(rcache_update(c, "k", 1, splice_fn, NULL), RCACHE_OK);
    assert_int_equal(rcache__alloc_count(), 1);
    rcache_release(ref);
    size_t len = 0;
    assert_int_equal(rcache_get(c, "k", 1, NULL, 0, &len), RCACHE_ERANGE);
    assert_int_equal(len, sizeof big + 10);
    check_invariants(c);
    rcache_close(c);
}

/* ---- tags ----------------------------------------------------------------- */

static uint64_t tagged_count(rcache_t *c) {
    rcache_stats_t st;
    rcache_stats(c, &st);
    return st.tagged_entries;
}

/* A tagged store of a new key, and of a key that had other tags. */
static int tag_set_run(void *p) {
    cache_st_t *s = p;
    rcache_tag_t tg[3] = {{"fresh", 5}, {"all", 3}, {"new2", 4}};
    rcache_set_opts_t o = {.ttl_ms = 0, .tags = tg, .ntags = 3};
    return rcache_set_ex(s->c, s->len ? "k3" : "tnew", s->len ? 2 : 4, "v", 1,
                         &o, NULL);
}
static void tag_set_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    uint64_t removed = 0;
    assert_int_equal(rcache_invalidate_tag(s->c, "fresh", 5, &removed), RCACHE_OK);
    assert_int_equal(removed, rc == RCACHE_OK ? 1 : 0);
    assert_int_equal(tagged_count(s->c), s->len && rc == RCACHE_OK ? 9 : 10);
}
static void tag_set_replace_prepare(void *p) {
    cache_prepare(p);
    ((cache_st_t *)p)->len = 1; /* run on k3 */
}

static int tag_inval_run(void *p) {
    cache_st_t *s = p;
    return rcache_invalidate_tag(s->c, "even", 4, &s->removed);
}
static void tag_inval_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    assert_int_equal(s->removed, rc == RCACHE_OK ? 5 : 0);
    assert_int_equal(tagged_count(s->c), rc == RCACHE_OK ? 5 : 10);
}

static int tag_get_run(void *p) {
    cache_st_t *s = p;
    return rcache_get_tags(s->c, "k4", 2, (rcache_tag_list_t **)&s->buf);
}
static void tag_get_check(void *p, int rc) {
    cache_st_t *s = p;
    rcache_tag_list_t *l = s->buf;
    check_ok_or_unchanged(s, rc);
    if (rc == RCACHE_OK) {
        assert_int_equal(l->count, 2);
        assert_string_equal(l->tags[1].data, "even");
    } else {
        assert_null(l);
    }
    rcache_tag_list_free(l);
    s->buf = NULL;
}

/* In-place changes keep tags whatever fails: update copy and rename. */
static void tag_keep_check(void *p, int rc) {
    cache_st_t *s = p;
    check_ok_or_unchanged(s, rc);
    assert_int_equal(tagged_count(s->c), 10);
}

/* k7 -> k8: k8's tags go with its entry, k7's move to k8. */
static void tag_rename_check(void *p, int rc) {
    cache_st_t *s = p;
    rcache_tag_list_t *l = NULL;
    check_ok_or_unchanged(s, rc);
    assert_int_equal(tagged_count(s->c), rc == RCACHE_OK ? 9 : 10);
    assert_int_equal(rcache_get_tags(s->c, "k8", 2, &l), RCACHE_OK);
    assert_string_equal(l->tags[1].data, rc == RCACHE_OK ? "odd" : "even");
    rcache_tag_list_free(l);
}

static void test_tags(void **state) {
    (void)state;
    cache_st_t t = MANY;
    t.tagged = 1;
    run_cache_op("tagged set new", tag_set_run, tag_set_check, t, 4);
    op_t op = {"tagged set replace", tag_set_replace_prepare, tag_set_run,
               tag_set_check, cache_finish};
    cache_st_t s = t;
    assert_true(sweep(&op, &s) >= 2);
    run_cache_op("invalidate_tag", tag_inval_run, tag_inval_check, t, 1);
    run_cache_op("get_tags", tag_get_run, tag_get_check, t, 1);
    run_cache_op("update tagged", update_run, tag_keep_check, t, 1);
    run_cache_op("rename tagged", rename_run, tag_rename_check, t, 1);
}

static void test_rename(void **state) {
    (void)state;
    run_cache_op("rename", rename_run, rename_check, MANY, 1);
}

static void test_scan(void **state) {
    (void)state;
    run_cache_op("scan", scan_run, scan_check, MANY, 3);
    run_cache_op("scan pattern", scan_pat_run, scan_pat_check, MANY, 2);
}

static void test_invalidate(void **state) {
    (void)state;
    run_cache_op("invalidate", invalidate_run, invalidate_check, MANY, 0);
    run_cache_op("key_invalidate_ns", invalidate_ns_run, invalidate_ns_check,
                 MANY, 1);
}

static void test_set_limits(void **state) {
    (void)state;
    run_cache_op("set_limits", limits_run, limits_check, MANY, 0);
}

/* ---- memoize ------------------------------------------------------------ */

static _Atomic long val_frees, computes;

static void val_free(void *v) {
    free(v);
    val_frees++;
}

/* Bytes result in a malloc'd buffer the cache frees with val_free. */
static int compute_bytes(const void *key, size_t klen, rcache_memo_result_t *out,
                         void *ctx) {
    (void)ctx;
    computes++;
    char *v = malloc(klen + 8);
    if (!v)
        return RCACHE_ENOMEM;
    memcpy(v, "computed", 8);
    memcpy(v + 8, key, klen);
    out->val = v;
    out->val_len = klen + 8;
    out->val_free = val_free;
    return RCACHE_OK;
}

static int compute_obj(const void *key, size_t klen, rcache_memo_result_t *out,
                       void *ctx) {
    (void)key;
    (void)klen;
    (void)ctx;
    computes++;
    int *o = malloc(sizeof *o);
    if (!o)
        return RCACHE_ENOMEM;
    *o = 7;
    objs_made++;
    out->obj = o;
    out->charge_bytes = 64;
    out->dtor = obj_dtor;
    return RCACHE_OK;
}

#define MY_ERR (RCACHE_EUSER - 5)
static int compute_fail(const void *key, size_t klen, rcache_memo_result_t *out,
                        void *ctx) {
    (void)key;
    (void)klen;
    (void)out;
    (void)ctx;
    computes++;
    return MY_ERR;
}

typedef struct memo_st {
    cache_st_t cs;
    int kind; /* 0 bytes, 1 object, 2 negative caching, 3 copy, 4 key */
    long computes_before, frees_before;
} memo_st_t;

static void memo_prepare(void *p) {
    memo_st_t *m = p;
    cache_prepare(&m->cs);
    m->computes_before = computes;
    m->frees_before = val_frees;
}

static int memo_run(void *p) {
    memo_st_t *m = p;
    rcache_memo_opts_t o;
    rcache_memo_opts_init(&o);
    int how = 0;
    switch (m->kind) {
    case 0:
        return rcache_memoize(m->cs.c, "mkey", 4, compute_bytes, NULL, &o,
                              &m->cs.ref, &how);
    case 1:
        return rcache_memoize(m->cs.c, "mobj", 4, compute_obj, NULL, &o,
                              &m->cs.ref, &how);
    case 2:
        o.error_ttl_ms = 10000;
        return rcache_memoize(m->cs.c, "mfail", 5, compute_fail, NULL, &o,
                              &m->cs.ref, &how);
    case 3:
        return rcache_memoize_copy(m->cs.c, "mcopy", 5, compute_bytes, NULL,
                                   &o, &m->cs.buf, &m->cs.len);
    default: {
        /* a key longer than the builder's inline buffer: it allocates */
        char big[300];
        memset(big, 'z', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        return RCACHE_MEMOIZE(m->cs.c, &o, &m->cs.ref, compute_bytes, NULL,
                              "memo/v1", big, 42);
    }
    }
}

static void memo_check(void *p, int rc) {
    memo_st_t *m = p;
    cache_st_t *s = &m->cs;
    long ran = computes - m->computes_before;
    assert_true(ran == 0 || ran == 1);
    /* a bytes result handed over is freed exactly once */
    if ((m->kind == 0 || m->kind == 3 || m->kind == 4) && ran == 1)
        assert_int_equal(val_frees - m->frees_before, 1);
    if (m->kind == 2) {
        /* the callback's code, unless memoize failed before running it */
        if (ran)
            assert_int_equal(rc, MY_ERR);
        else
            assert_int_equal(rc, RCACHE_ENOMEM);
        assert_null(s->ref);
        /* stored as a negative entry, or (on ENOMEM) not at all */
        rcache_ref_t *r = NULL;
        if (rcache_get_ref(s->c, "mfail", 5, &r) == RCACHE_OK) {
            assert_int_equal(rcache_ref_memo_error(r), MY_ERR);
            rcache_release(r);
        }
        return;
    }
    if (rc == RCACHE_ENOMEM) {
        assert_null(s->ref);
        assert_null(s->buf);
        /* either nothing was stored or the stored result is complete */
    } else {
        assert_int_equal(rc, RCACHE_OK);
        if (m->kind == 1) {
            assert_non_null(rcache_ref_object(s->ref));
            assert_int_equal(*(int *)rcache_ref_object(s->ref), 7);
        } else if (m->kind == 3) {
            assert_int_equal(s->len, 13);
            assert_memory_equal(s->buf, "computedmcopy", 13);
        } else {
            size_t len;
            const char *v = rcache_ref_value(s->ref, &len);
            assert_non_null(v);
            assert_memory_equal(v, "computed", 8);
        }
    }
    /* whatever happened, a later call with no injection works */
    rcache_release(s->ref);
    s->ref = NULL;
    free(s->buf);
    s->buf = NULL;
    rcache_memo_stats_t ms;
    rcache_memo_stats(s->c, &ms);
    assert_int_equal(ms.in_flight, 0);
}

static void memo_finish(void *p) { cache_finish(&((memo_st_t *)p)->cs); }

static void test_memoize(void **state) {
    (void)state;
    static const char *names[] = {"memoize bytes", "memoize object",
                                  "memoize negative", "memoize_copy",
                                  "RCACHE_MEMOIZE key"};
    for (int kind = 0; kind < 5; kind++) {
        memo_st_t m = {.cs = MANY, .kind = kind};
        op_t op = {names[kind], memo_prepare, memo_run, memo_check, memo_finish};
        long f = sweep(&op, &m);
        print_message("  %-18s %ld injected failures\n", names[kind], f);
        assert_true(f >= 2);
    }
}

/* Async: another thread is computing; registering the completion
 * allocates. */
typedef struct async_st {
    rcache_t *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, open;
    long done_calls;
} async_st_t;

static int compute_gated(const void *key, size_t klen, rcache_memo_result_t *out,
                         void *ctx) {
    async_st_t *a = ctx;
    (void)key;
    (void)klen;
    pthread_mutex_lock(&a->mu);
    a->entered = 1;
    pthread_cond_broadcast(&a->cv);
    while (!a->open)
        pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    out->val = "gated";
    out->val_len = 5;
    return RCACHE_OK;
}

static void *computer(void *p) {
    async_st_t *a = p;
    rcache_ref_t *ref = NULL;
    assert_int_equal(rcache_memoize(a->c, "akey", 4, compute_gated, a, NULL,
                                    &ref, NULL),
                     RCACHE_OK);
    rcache_release(ref);
    return NULL;
}

static void async_done(int err, rcache_ref_t *ref, void *ctx) {
    async_st_t *a = ctx;
    assert_int_equal(err, RCACHE_OK);
    size_t len;
    assert_memory_equal(rcache_ref_value(ref, &len), "gated", 5);
    rcache_release(ref);
    a->done_calls++;
}

static void test_memoize_async(void **state) {
    (void)state;
    long failures = 0;
    for (long n = 1; n <= 100; n++) {
        async_st_t a = {0};
        pthread_t t;
        rcache_ref_t *ref = NULL;
        a.c = open_cache(0, 0, 0, 4, NULL);
        pthread_mutex_init(&a.mu, NULL);
        pthread_cond_init(&a.cv, NULL);
        assert_int_equal(pthread_create(&t, NULL, computer, &a), 0);
        pthread_mutex_lock(&a.mu);
        while (!a.entered)
            pthread_cond_wait(&a.cv, &a.mu);
        pthread_mutex_unlock(&a.mu);
        /* the computing thread is parked in its callback: it allocates
         * nothing until the gate opens, so the counter is ours */
        rcache__alloc_fail_after(n, 1);
        int rc = rcache_memoize_async(a.c, "akey", 4, compute_gated, &a, NULL,
                                      async_done, &a, &ref);
        long made = rcache__alloc_count();
        rcache__alloc_fail_after(0, 0);
        assert_true(rc == RCACHE_EAGAIN || rc == RCACHE_ENOMEM);
        assert_null(ref);
        pthread_mutex_lock(&a.mu);
        a.open = 1;
        pthread_cond_broadcast(&a.cv);
        pthread_mutex_unlock(&a.mu);
        pthread_join(t, NULL);
        assert_int_equal(a.done_calls, rc == RCACHE_EAGAIN ? 1 : 0);
        check_invariants(a.c);
        rcache_close(a.c);
        pthread_mutex_destroy(&a.mu);
        pthread_cond_destroy(&a.cv);
        if (made < n)
            break;
        failures++;
    }
    assert_true(failures >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_set_object),
        cmocka_unit_test(test_gdsf),
        cmocka_unit_test(test_get_alloc),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_splice_allocations),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_invalidate),
        cmocka_unit_test(test_set_limits),
        cmocka_unit_test(test_memoize),
        cmocka_unit_test(test_memoize_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
