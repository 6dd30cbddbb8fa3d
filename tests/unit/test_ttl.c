/*
 * test_ttl.c - expiry with an injected clock (no sleeping): default and
 * per-entry TTL, lazy expiry, the active sweep, EXPIRE/PERSIST/TTL.
 */
#include "testutil.h"

#include <stdio.h>


/* ---- removal listener (rcache_config_t.on_removal) ---------------------- */

typedef struct removals {
    int n;
    int cause[8];
    char key[8][16];
    rcache_t *cache; /* the listener may call into the cache */
    int exists_seen;
} removals_t;

static void on_removal(int cause, const void *key, size_t klen, void *ctx) {
    removals_t *r = ctx;
    if (r->n < 8) {
        r->cause[r->n] = cause;
        snprintf(r->key[r->n], sizeof r->key[0], "%.*s", (int)klen, (const char *)key);
    }
    r->n++;
    /* no lock is held: calling the cache from here must not deadlock */
    r->exists_seen += rcache_exists(r->cache, key, klen);
}

static rcache_t *open_listening(uint64_t max_items, test_clock_t *clk, removals_t *r) {
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = max_items;
    cfg.default_ttl_ms = 0;
    cfg.shards = 1;
    clk->now_ms = 1700000000000ull;
    cfg.clock = test_clock_fn;
    cfg.clock_ctx = clk;
    cfg.on_removal = on_removal;
    cfg.on_removal_ctx = r;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    r->cache = c;
    return c;
}

static void test_removal_listener(void **state) {
    test_clock_t clk = {0};
    removals_t r = {0};
    rcache_t *c = open_listening(2, &clk, &r);
    char buf[8];
    /* caller's own removals are not reported */
    set_str(c, "a", "1");
    assert_int_equal(rcache_delete(c, "a", 1), RCACHE_OK);
    set_str(c, "a", "1");
    set_str(c, "a", "2"); /* replaced */
    assert_int_equal(r.n, 0);
    /* lazy expiry */
    rcache_set(c, "t", 1, "v", 1, 10, 0);
    clk.now_ms += 10;
    assert_int_equal(get_str(c, "t", buf, sizeof buf), RCACHE_ENOTFOUND);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.cause[0], RCACHE_REMOVED_EXPIRED);
    assert_string_equal(r.key[0], "t");
    /* active expiry */
    rcache_set(c, "u", 1, "v", 1, 10, 0);
    clk.now_ms += 10;
    assert_int_equal(rcache_expire_cycle(c, 100), 1);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.cause[1], RCACHE_REMOVED_EXPIRED);
    assert_string_equal(r.key[1], "u");
    /* eviction: max_items 2, one shard, exact LRU: "a" is the oldest */
    set_str(c, "b", "1");
    set_str(c, "c", "1");
    assert_int_equal(r.n, 3);
    assert_int_equal(r.cause[2], RCACHE_REMOVED_EVICTED);
    assert_string_equal(r.key[2], "a");
    assert_int_equal(r.exists_seen, 0); /* reported after it was gone */
    check_invariants(c);
    rcache_close(c);
    assert_int_equal(r.n, 3); /* closing reports nothing */
}

static void test_default_ttl_and_lazy_expiry(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 1000, 1, &clk);
    char buf[8];
    int64_t ttl;
    set_str(c, "k", "v");
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 1000);
    clk.now_ms += 999;
    assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_OK);
    clk.now_ms += 1;
    assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_ENOTFOUND);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.expirations, 1);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.items, 0);
    check_invariants(c);
    rcache_close(c);
}

static void test_per_entry_ttl(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 1000, 1, &clk);
    int64_t ttl;
    rcache_set(c, "short", 5, "v", 1, 10, 0);
    rcache_set(c, "none", 4, "v", 1, 0, 0);
    rcache_set(c, "dflt", 4, "v", 1, RCACHE_TTL_DEFAULT, 0);
    assert_int_equal(rcache_ttl(c, "none", 4, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    clk.now_ms += 10;
    assert_int_equal(rcache_exists(c, "short", 5), 0);
    clk.now_ms += 100000;
    assert_int_equal(rcache_exists(c, "none", 4), 1);
    assert_int_equal(rcache_exists(c, "dflt", 4), 0);
    assert_int_equal(rcache_ttl(c, "dflt", 4, &ttl), RCACHE_ENOTFOUND);
    rcache_close(c);
}

static void test_keepttl(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    int64_t ttl;
    rcache_set(c, "k", 1, "a", 1, 500, 0);
    clk.now_ms += 100;
    rcache_set(c, "k", 1, "b", 1, RCACHE_TTL_KEEP, 0);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 400);
    rcache_set(c, "k", 1, "c", 1, 0, 0); /* plain set clears the TTL */
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    rcache_set(c, "new", 3, "c", 1, RCACHE_TTL_KEEP, 0);
    assert_int_equal(rcache_ttl(c, "new", 3, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    rcache_close(c);
}

static void test_expire_persist(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 2, &clk);
    int64_t ttl;
    set_str(c, "k", "v");
    assert_int_equal(rcache_expire(c, "k", 1, 250), RCACHE_OK);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 250);
    assert_int_equal(rcache_persist(c, "k", 1), RCACHE_OK);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    assert_int_equal(rcache_expire_at(c, "k", 1, clk.now_ms + 50), RCACHE_OK);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 50);
    assert_int_equal(rcache_expire_at(c, "k", 1, clk.now_ms - 1), RCACHE_OK);
    assert_int_equal(rcache_exists(c, "k", 1), 0); /* past time deletes */
    assert_int_equal(rcache_expire(c, "k", 1, 10), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_persist(c, "k", 1), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_ttl(c, "k", 1, NULL), RCACHE_EINVAL);
    check_invariants(c);
    rcache_close(c);
}

static void test_active_expire_cycle(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 4, &clk);
    char k[16];
    for (int i = 0; i < 1000; i++) {
        sprintf(k, "t%d", i);
        rcache_set(c, k, strlen(k), "v", 1, i < 600 ? 100 : 0, 0);
    }
    clk.now_ms += 100;
    /* nobody reads: the cycle alone reclaims the expired entries */
    uint64_t total = 0;
    for (int i = 0; i < 100 && rcache_count(c) > 400; i++)
        total += rcache_expire_cycle(c, 64);
    assert_int_equal(total, 600);
    assert_int_equal(rcache_count(c), 400);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.expirations, 600);
    check_invariants(c);
    rcache_close(c);
}

/* The budget counts entries, not buckets: 200 expired keys spread over 64
 * sparse shards are all reclaimed by one call with a budget of 256
 * (regression: a per-shard bucket budget reclaimed ~50 per call, so a
 * server's 100 ms timer fell behind). */
static void test_expire_cycle_budget_is_entries(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 64, &clk);
    char k[16];
    for (int i = 0; i < 200; i++) {
        sprintf(k, "e%d", i);
        rcache_set(c, k, strlen(k), "v", 1, 50, 0);
    }
    rcache_set(c, "keep", 4, "v", 1, 0, 0);
    clk.now_ms += 50;
    assert_int_equal(rcache_expire_cycle(c, 256), 200);
    assert_int_equal(rcache_count(c), 1);
    /* and a small budget is honoured: at most that many examined */
    for (int i = 0; i < 200; i++) {
        sprintf(k, "f%d", i);
        rcache_set(c, k, strlen(k), "v", 1, 10, 0);
    }
    clk.now_ms += 10;
    uint64_t got = rcache_expire_cycle(c, 20);
    assert_true(got > 0 && got <= 20);
    check_invariants(c);
    rcache_close(c);
}

static void test_sets_sweep_expired(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    char k[16];
    for (int i = 0; i < 200; i++) {
        sprintf(k, "old%d", i);
        rcache_set(c, k, strlen(k), "v", 1, 10, 0);
    }
    clk.now_ms += 20;
    for (int i = 0; i < 2000; i++) { /* writes to other keys */
        sprintf(k, "new%d", i % 10);
        rcache_set(c, k, strlen(k), "v", 1, 0, 0);
    }
    assert_int_equal(rcache_count(c), 10);
    rcache_close(c);
}

static void test_entry_times(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    uint64_t t0 = clk.now_ms;
    rcache_entry_info_t info;
    char buf[4];
    set_str(c, "k", "v");
    clk.now_ms += 5000;
    get_str(c, "k", buf, sizeof buf);
    get_str(c, "k", buf, sizeof buf);
    assert_int_equal(rcache_entry_info(c, "k", 1, &info), RCACHE_OK);
    assert_int_equal(info.created_at_ms, t0);
    assert_int_equal(info.last_access_ms, t0 + 5000);
    assert_int_equal(info.access_count, 2);
    assert_int_equal(info.ttl_ms, -1);
    assert_int_equal(info.expired, 0);
    rcache_close(c);
}

/* The real (default) clock: expiry holds to the millisecond. Every bound
 * compares readings of the cache's own clock (rcache_now_ms) taken around
 * each call, never elapsed time, so a loaded machine (this process
 * descheduled for seconds, a late timer tick) cannot make it fail: the key
 * is never gone before set_before + ttl, and never still there when a
 * reading taken before the call is already past set_after + ttl. The loop
 * ends when the key expires; ctest's timeout bounds it. (issue 10 item 18) */
static void test_real_clock_ms_precision(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    for (int round = 0; round < 3; round++) {
        uint64_t set_before = rcache_now_ms(c);
        assert_int_equal(rcache_set(c, "k", 1, "v", 1, 25, 0), RCACHE_OK);
        uint64_t set_after = rcache_now_ms(c);
        for (;;) {
            uint64_t before = rcache_now_ms(c);
            int present = rcache_exists(c, "k", 1);
            uint64_t after = rcache_now_ms(c);
            if (!present) {
                assert_true(after >= set_before + 25); /* never early */
                break;
            }
            assert_true(before < set_after + 25); /* never late */
        }
    }
    rcache_close(c);
}

/* Regression (fuzz_env; issue 10 items 12 and 19): huge TTLs never wrap
 * into the past, TTLs above INT64_MAX ms are refused everywhere, and entry
 * info (what the admin API shows) reports the far-future expiry as a
 * positive remaining TTL, not a negative one ("no expiry"). */
static void expect_far_ttl(rcache_t *c, const char *k) {
    rcache_entry_info_t info;
    int64_t ttl = 0;
    assert_int_equal(rcache_ttl(c, k, 1, &ttl), RCACHE_OK);
    assert_true(ttl > 1000000000000ll);
    assert_int_equal(rcache_entry_info(c, k, 1, &info), RCACHE_OK);
    assert_int_equal(info.expired, 0);
    if (info.ttl_ms <= 1000000000000ll)
        fail_msg("%s: entry info ttl_ms %lld", k, (long long)info.ttl_ms);
}

static void test_huge_ttl_saturates(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    assert_int_equal(rcache_set_default_ttl(c, UINT64_MAX), RCACHE_EINVAL);
    assert_int_equal(rcache_set_default_ttl(c, (uint64_t)INT64_MAX), RCACHE_OK);
    rcache_set(c, "d", 1, "v", 1, RCACHE_TTL_DEFAULT, 0);
    rcache_set(c, "x", 1, "v", 1, INT64_MAX, 0);
    rcache_set(c, "y", 1, "v", 1, 0, 0);
    rcache_set(c, "z", 1, "v", 1, 0, 0);
    /* above INT64_MAX ms: refused, the key keeps what it had */
    assert_int_equal(rcache_expire(c, "x", 1, UINT64_MAX), RCACHE_EINVAL);
    assert_int_equal(rcache_expire(c, "y", 1, (uint64_t)INT64_MAX + 1), RCACHE_EINVAL);
    assert_int_equal(rcache_expire_at(c, "z", 1, UINT64_MAX), RCACHE_EINVAL);
    int64_t ttl;
    assert_int_equal(rcache_ttl(c, "y", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    /* the largest accepted values saturate, and read back positive */
    assert_int_equal(rcache_expire(c, "y", 1, (uint64_t)INT64_MAX), RCACHE_OK);
    assert_int_equal(rcache_expire_at(c, "z", 1, (uint64_t)INT64_MAX), RCACHE_OK);
    clk.now_ms += 1000000;
    const char *keys[] = {"d", "x", "y", "z"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rcache_exists(c, keys[i], 1), 1);
        expect_far_ttl(c, keys[i]);
    }
    check_invariants(c);
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    cfg.default_ttl_ms = UINT64_MAX;
    rcache_t *bad = NULL;
    assert_int_equal(rcache_open(&cfg, &bad), RCACHE_EINVAL);
    assert_null(bad);
    rcache_close(c);
}

/* ---- item 1: one clock reading per call, taken under the shard lock ---- */

/* A clock that moves on by step_ms every time it is read, so any second
 * reading inside one call sees a later time than the first. */
typedef struct tick_clock {
    uint64_t now_ms;
    uint64_t step_ms;
} tick_clock_t;

static uint64_t tick_clock_fn(void *ctx) {
    tick_clock_t *t = ctx;
    uint64_t v = t->now_ms;
    t->now_ms += t->step_ms;
    return v;
}

static rcache_t *open_ticking(tick_clock_t *t) {
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = 0;
    cfg.max_bytes = 0;
    cfg.default_ttl_ms = 0;
    cfg.shards = 1;
    cfg.clock = tick_clock_fn;
    cfg.clock_ctx = t;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    return c;
}

typedef struct seen_ttl {
    int found;
    int64_t old_ttl_ms;
} seen_ttl_t;

static int record_ttl_cb(rcache_update_t *u, void *ctx) {
    seen_ttl_t *s = ctx;
    s->found = u->found;
    s->old_ttl_ms = u->old_ttl_ms;
    return RCACHE_UPDATE_KEEP;
}

/* Regression (issue 10 item 1): a key that expires between two clock
 * readings of one call was reported with TTL = INT64_MAX (rcache_ttl), a
 * negative remaining TTL ("no expiry" to EXPIRE NX/LT, which then revived
 * it) in rcache_update, and a wrapped TTL in entry info. Every call must
 * see the key either gone, or alive with 1..ttl ms left. */
static void test_ttl_one_reading_under_lock(void **state) {
    for (uint64_t step = 1; step <= 7; step += 3) {
        tick_clock_t clk = {1700000000000ull, step};
        rcache_t *c = open_ticking(&clk);
        for (int64_t ttl = 1; ttl <= 40; ttl++) {
            for (int op = 0; op < 3; op++) {
                assert_int_equal(rcache_set(c, "k", 1, "v", 1, ttl, 0), RCACHE_OK);
                for (int guard = 0; guard < 100; guard++) {
                    int64_t left = -5;
                    rcache_entry_info_t info;
                    seen_ttl_t seen = {0, -5};
                    int rc;
                    if (op == 0) {
                        rc = rcache_ttl(c, "k", 1, &left);
                    } else if (op == 1) {
                        rc = rcache_entry_info(c, "k", 1, &info);
                        if (rc == RCACHE_OK) {
                            assert_int_equal(info.expired, 0);
                            left = info.ttl_ms;
                        }
                    } else {
                        assert_int_equal(rcache_update(c, "k", 1, record_ttl_cb, &seen),
                                         RCACHE_OK);
                        rc = seen.found ? RCACHE_OK : RCACHE_ENOTFOUND;
                        left = seen.old_ttl_ms;
                    }
                    if (rc == RCACHE_ENOTFOUND)
                        break;
                    assert_int_equal(rc, RCACHE_OK);
                    if (left < 1 || left > ttl)
                        fail_msg("step %llu ttl %lld op %d: remaining %lld",
                                 (unsigned long long)step, (long long)ttl, op,
                                 (long long)left);
                }
            }
        }
        check_invariants(c);
        rcache_close(c);
    }
}

/* EXPIRE (no flag, NX, LT) as the server runs it: a decision on the old
 * TTL, then an absolute expiry. A key found alive has a positive TTL, so
 * NX and LT never take an expired key for one without expiry. */
typedef struct expire_nx {
    int applied;
} expire_nx_t;

static int expire_nx_cb(rcache_update_t *u, void *ctx) {
    expire_nx_t *x = ctx;
    if (!u->found || u->old_ttl_ms >= 0)
        return RCACHE_UPDATE_KEEP; /* NX: only keys without an expiry */
    x->applied = 1;
    u->ttl_ms = 1000000;
    return RCACHE_UPDATE_TTL;
}

static void test_expire_nx_never_revives(void **state) {
    tick_clock_t clk = {1700000000000ull, 5};
    rcache_t *c = open_ticking(&clk);
    for (int64_t ttl = 1; ttl <= 60; ttl++) {
        expire_nx_t x = {0};
        assert_int_equal(rcache_set(c, "k", 1, "v", 1, ttl, 0), RCACHE_OK);
        for (int guard = 0; guard < 100 && rcache_exists(c, "k", 1); guard++)
            assert_int_equal(rcache_update(c, "k", 1, expire_nx_cb, &x), RCACHE_OK);
        if (x.applied)
            fail_msg("ttl %lld: EXPIRE NX applied to a key that had a TTL",
                     (long long)ttl);
    }
    rcache_close(c);
}

/* ---- item 3: SET with an absolute expiry, applied under the lock ------ */

/* Regression (issue 10 item 3): SET ... PXAT <past> must replace the key by
 * nothing in one step (the server used to store, then expire with a second
 * call, deleting whatever another client stored in between), and a future
 * PXAT must land exactly on the given time, not be turned into a TTL with
 * one clock reading and back with another (here every reading moves on). */
static void test_set_expire_at(void **state) {
    tick_clock_t clk = {1700000000000ull, 7};
    rcache_t *c = open_ticking(&clk);
    rcache_set_opts_t o = {.ttl_ms = 0, .flags = RCACHE_SET_EXPIRE_AT};
    rcache_ref_t *old = NULL;
    rcache_entry_info_t info;
    rcache_stats_t st;
    size_t len;

    /* future: exactly the time given, whatever the clock did meanwhile */
    o.ttl_ms = (int64_t)clk.now_ms + 5000;
    assert_int_equal(rcache_set_ex(c, "k", 1, "v1", 2, &o, NULL), RCACHE_OK);
    assert_int_equal(rcache_entry_info(c, "k", 1, &info), RCACHE_OK);
    assert_int_equal(info.expire_at_ms, (uint64_t)o.ttl_ms);

    /* past: the old value goes in the same call, nothing new is stored */
    o.ttl_ms = (int64_t)clk.now_ms - 1;
    assert_int_equal(rcache_set_ex(c, "k", 1, "v2", 2, &o, &old), RCACHE_OK);
    assert_non_null(old);
    assert_memory_equal(rcache_ref_value(old, &len), "v1", 2);
    rcache_release(old);
    assert_int_equal(rcache_exists(c, "k", 1), 0);
    rcache_stats(c, &st);
    assert_int_equal(st.items, 0);

    /* NX/XX are checked first: XX on a missing key stores nothing, NX on a
     * present key keeps it */
    o.flags = RCACHE_SET_EXPIRE_AT | RCACHE_SET_XX;
    assert_int_equal(rcache_set_ex(c, "k", 1, "v3", 2, &o, NULL), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_set(c, "k", 1, "v4", 2, 0, 0), RCACHE_OK);
    o.flags = RCACHE_SET_EXPIRE_AT | RCACHE_SET_NX;
    assert_int_equal(rcache_set_ex(c, "k", 1, "v5", 2, &o, NULL), RCACHE_EEXIST);
    assert_int_equal(rcache_exists(c, "k", 1), 1);
    /* the epoch is in the past, a negative time is refused */
    o.flags = RCACHE_SET_EXPIRE_AT;
    o.ttl_ms = 0;
    assert_int_equal(rcache_set_ex(c, "k", 1, "v6", 2, &o, NULL), RCACHE_OK);
    assert_int_equal(rcache_exists(c, "k", 1), 0);
    o.ttl_ms = -1;
    assert_int_equal(rcache_set_ex(c, "k", 1, "v7", 2, &o, NULL), RCACHE_EINVAL);
    check_invariants(c);
    rcache_close(c);
}

/* An object stored with a past absolute expiry is the cache's on
 * RCACHE_OK: its destructor runs (once), nothing stays. */
static void count_free(void *obj, void *ctx) {
    (void)obj;
    (*(int *)ctx)++;
}

static void test_set_object_expire_at_past(void **state) {
    tick_clock_t clk = {1700000000000ull, 1};
    rcache_t *c = open_ticking(&clk);
    rcache_set_opts_t o = {.ttl_ms = 1, .flags = RCACHE_SET_EXPIRE_AT};
    int freed = 0, obj = 0;
    assert_int_equal(rcache_set_object(c, "o", 1, &obj, 10, count_free, &freed, &o),
                     RCACHE_OK);
    assert_int_equal(freed, 1);
    assert_int_equal(rcache_exists(c, "o", 1), 0);
    check_invariants(c);
    rcache_close(c);
}

/* rcache_update reports the time it used: old_ttl_ms counts from now_ms. */
typedef struct seen_now {
    uint64_t now_ms;
    int64_t old_ttl_ms;
} seen_now_t;

static int record_now_cb(rcache_update_t *u, void *ctx) {
    seen_now_t *s = ctx;
    s->now_ms = u->now_ms;
    s->old_ttl_ms = u->old_ttl_ms;
    return RCACHE_UPDATE_KEEP;
}

static void test_update_reports_its_time(void **state) {
    tick_clock_t clk = {1700000000000ull, 3};
    rcache_t *c = open_ticking(&clk);
    rcache_entry_info_t info;
    seen_now_t s = {0, 0};
    assert_int_equal(rcache_set(c, "k", 1, "v", 1, 100000, 0), RCACHE_OK);
    assert_int_equal(rcache_entry_info(c, "k", 1, &info), RCACHE_OK);
    assert_int_equal(rcache_update(c, "k", 1, record_now_cb, &s), RCACHE_OK);
    assert_int_equal(s.now_ms + (uint64_t)s.old_ttl_ms, info.expire_at_ms);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_ttl_and_lazy_expiry),
        cmocka_unit_test(test_per_entry_ttl),
        cmocka_unit_test(test_keepttl),
        cmocka_unit_test(test_expire_persist),
        cmocka_unit_test(test_active_expire_cycle),
        cmocka_unit_test(test_expire_cycle_budget_is_entries),
        cmocka_unit_test(test_sets_sweep_expired),
        cmocka_unit_test(test_entry_times),
        cmocka_unit_test(test_real_clock_ms_precision),
        cmocka_unit_test(test_huge_ttl_saturates),
        cmocka_unit_test(test_ttl_one_reading_under_lock),
        cmocka_unit_test(test_expire_nx_never_revives),
        cmocka_unit_test(test_set_expire_at),
        cmocka_unit_test(test_set_object_expire_at_past),
        cmocka_unit_test(test_update_reports_its_time),
        cmocka_unit_test(test_removal_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
