/*
 * test_reads.c - the lock-free hit path (issue 13 step 3, cache.c
 * lookup_nolock): readers that find and copy or reference values without
 * the shard lock, racing overwrites, deletes, evictions, APPEND-style
 * in-place growth (and regrows) and compaction moves on other threads,
 * must never see a torn or freed value. Also rewrites of a value's bytes
 * that keep its length (SETRANGE over the whole value): a copy of a slab
 * entry takes no reference (cache.c copy_nolock), so such a rewrite must
 * build a new entry rather than write the bytes a copy may be reading.
 * Every value carries a pattern the reader checks byte by byte: byte 0 is
 * a generation g, byte p (p >= 1) is (g + 31 * key + 7 * p) & 0xff, and
 * its length is a multiple of 16 (an append adds 16 bytes continuing the
 * pattern). A torn copy (a length from one write and bytes from another,
 * or bytes of a reused slot) breaks the pattern; a read of a freed block is reported by AddressSanitizer. Run
 * under ThreadSanitizer and ASan too (labels unit;tsan). Also checks that
 * the lock-free path is the one taken (rcache__nolock_hits) and that what
 * it cannot serve (miss, expiry, lru) still behaves as before, and that
 * readers without the lock keep finding keys while the index resizes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "testutil.h"

#define NKEYS 512u
#define UNIT 16u
#define MAXV 2048u

static size_t make_val(unsigned char *v, unsigned key, unsigned g, size_t len) {
    v[0] = (unsigned char)g;
    for (size_t p = 1; p < len; p++)
        v[p] = (unsigned char)(g + 31u * key + 7u * p);
    return len;
}

/* 1 when v[0..len) is a whole value of key */
static int val_ok(const unsigned char *v, size_t len, unsigned key) {
    if (len == 0 || len % UNIT)
        return 0;
    unsigned g = v[0];
    for (size_t p = 1; p < len; p++)
        if (v[p] != (unsigned char)(g + 31u * key + 7u * p))
            return 0;
    return 1;
}

static int key_of(char *buf, unsigned k) {
    return snprintf(buf, 32, "key:%u", k);
}

/* Append UNIT bytes continuing the pattern (the callback sees the old
 * value under the lock). */
typedef struct {
    unsigned key;
    unsigned char add[UNIT];
} app_t;

static int append_cb(rcache_update_t *u, void *ctx) {
    app_t *a = ctx;
    if (!u->found || u->old_len == 0 || u->old_len + UNIT > MAXV)
        return RCACHE_UPDATE_KEEP;
    unsigned g = ((const unsigned char *)u->old_val)[0];
    for (unsigned i = 0; i < UNIT; i++)
        a->add[i] = (unsigned char)(g + 31u * a->key + 7u * (u->old_len + i));
    u->new_val = a->add;
    u->new_len = UNIT;
    u->splice_offset = RCACHE_SPLICE_END;
    return RCACHE_UPDATE_SPLICE;
}

/* Rewrite the whole value in place of its bytes (SETRANGE at 0 over its
 * full length: the length stays, so a splice that could write the entry
 * in place), as a new generation. */
typedef struct {
    unsigned key;
    unsigned gen;
    unsigned char v[MAXV];
} rew_t;

static int rewrite_cb(rcache_update_t *u, void *ctx) {
    rew_t *a = ctx;
    if (!u->found || u->old_len == 0 || u->old_len > MAXV)
        return RCACHE_UPDATE_KEEP;
    u->new_val = a->v;
    u->new_len = make_val(a->v, a->key, a->gen, u->old_len);
    u->splice_offset = 0;
    return RCACHE_UPDATE_SPLICE;
}

typedef struct {
    rcache_t *c;
    unsigned id;
    unsigned iters;
    atomic_int *stop;
    int bad;
    uint64_t hits;
    unsigned span;   /* span_reader: keys iters + stride * [0, span) */
    unsigned stride;
    int must_hit;    /* span_reader: a miss counts as bad */
} worker_t;

static unsigned rnd(unsigned *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void *reader(void *arg) {
    worker_t *w = arg;
    unsigned char buf[MAXV];
    char key[32];
    unsigned s = 0x9e3779b9u ^ (w->id * 7919u);
    while (!atomic_load(w->stop)) {
        unsigned k = rnd(&s) % NKEYS;
        int kl = key_of(key, k);
        size_t len = 0;
        if (rnd(&s) & 1) {
            int rc = rcache_get(w->c, key, (size_t)kl, buf, sizeof buf, &len);
            if (rc == RCACHE_OK) {
                w->hits++;
                if (!val_ok(buf, len, k))
                    w->bad++;
            } else if (rc != RCACHE_ENOTFOUND) {
                w->bad++;
            }
        } else {
            rcache_ref_t *ref = NULL;
            if (rcache_get_ref(w->c, key, (size_t)kl, &ref) == RCACHE_OK) {
                w->hits++;
                const unsigned char *v = rcache_ref_value(ref, &len);
                /* checked twice: a writer may not change it meanwhile */
                if (!val_ok(v, len, k) || !val_ok(v, len, k))
                    w->bad++;
                rcache_release(ref);
            }
        }
    }
    return NULL;
}

/* Overwrites (new generation, length shifting between size classes so
 * pages drain and compaction moves entries), appends, rewrites, deletes; the byte
 * limit makes the stores evict. */
static void *writer(void *arg) {
    worker_t *w = arg;
    unsigned char val[MAXV];
    char key[32];
    unsigned s = 0x7f4a7c15u ^ (w->id * 104729u);
    for (unsigned i = 0; i < w->iters; i++) {
        unsigned k = rnd(&s) % NKEYS;
        int kl = key_of(key, k);
        unsigned op = rnd(&s) % 16u;
        if (op < 9) {
            /* phases of large then small values: a class goes out of use */
            int big = (i / 2000u) % 2u == 0;
            size_t len = UNIT * (big ? 40u + rnd(&s) % 24u : 1u + rnd(&s) % 8u);
            make_val(val, k, rnd(&s), len);
            if (rcache_set(w->c, key, (size_t)kl, val, len, 0, 0) != RCACHE_OK)
                w->bad++;
        } else if (op < 12) {
            app_t a = {.key = k};
            int rc = rcache_update(w->c, key, (size_t)kl, append_cb, &a);
            if (rc != RCACHE_OK && rc != RCACHE_ENOTFOUND)
                w->bad++;
        } else if (op < 14) {
            static _Thread_local rew_t a;
            a.key = k;
            a.gen = rnd(&s);
            int rc = rcache_update(w->c, key, (size_t)kl, rewrite_cb, &a);
            if (rc != RCACHE_OK && rc != RCACHE_ENOTFOUND)
                w->bad++;
        } else {
            (void)rcache_delete(w->c, key, (size_t)kl);
        }
    }
    return NULL;
}

/* A cache of `shards` shards, `policy`, no item limit and max_bytes,
 * holding keys 0..n-1 with values of `units` * UNIT bytes (generation k). */
static rcache_t *open_filled(int policy, uint64_t max_bytes, unsigned shards,
                             unsigned n, unsigned units) {
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = 0;
    cfg.max_bytes = max_bytes;
    cfg.shards = shards;
    cfg.policy = policy;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    unsigned char val[MAXV];
    char key[32];
    for (unsigned k = 0; k < n; k++) {
        int kl = key_of(key, k);
        size_t len = make_val(val, k, k, UNIT * units);
        assert_int_equal(rcache_set(c, key, (size_t)kl, val, len, 0, 0), RCACHE_OK);
    }
    return c;
}

static void race(int policy, unsigned nr, unsigned nw, unsigned iters) {
    /* 256 KiB: far below NKEYS x ~700 bytes, so the writers evict */
    rcache_t *c = open_filled(policy, 256u << 10, 4, NKEYS, 4);
    atomic_int stop = 0;
    pthread_t th[16];
    worker_t w[16] = {{0}};
    assert_true(nr + nw <= 16);
    for (unsigned i = 0; i < nr + nw; i++) {
        w[i] = (worker_t){c, i, iters, &stop, 0, 0, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, i < nr ? reader : writer, &w[i]), 0);
    }
    for (unsigned i = nr; i < nr + nw; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop, 1);
    uint64_t hits = 0;
    for (unsigned i = 0; i < nr; i++) {
        pthread_join(th[i], NULL);
        hits += w[i].hits;
    }
    for (unsigned i = 0; i < nr + nw; i++)
        assert_int_equal(w[i].bad, 0);
    rcache__slab_info_t in;
    rcache__slab_info(c->slab, &in);
    rcache_stats_t st;
    rcache_stats(c, &st);
    uint64_t nl = rcache__nolock_hits(c);
    printf("%s: %llu reader hits, %llu without the lock; %llu evictions, "
           "%llu compactions moved %llu entries\n",
           rcache_policy_name(policy), (unsigned long long)hits,
           (unsigned long long)nl, (unsigned long long)st.evictions,
           (unsigned long long)in.compactions, (unsigned long long)in.moved);
    assert_true(hits > 0);
    assert_true(st.evictions > 0);
    if (policy == RCACHE_POLICY_LRU)
        assert_int_equal(nl, 0); /* lru keeps the locked hit */
    else
        assert_true(nl > 0);
    check_invariants(c);
    rcache_close(c);
}

static void test_race_s3fifo(void **state) {
    (void)state;
    race(RCACHE_POLICY_S3FIFO, 3, 2, 20000);
}

static void test_race_sieve(void **state) {
    (void)state;
    race(RCACHE_POLICY_SIEVE, 2, 2, 12000);
}

static void test_race_lru(void **state) {
    (void)state;
    race(RCACHE_POLICY_LRU, 2, 2, 6000);
}

/* Compaction moves hot entries while readers hit them: the single writer
 * shifts the whole cache from 1 KiB to 160-byte values (as test_slab's
 * bound case) and the readers read hot keys among the last stored 1 KiB
 * ones (every 8th of the last NKEYS) throughout. span_reader reads keys
 * iters + stride * [0, span) and checks each value it finds. */
static void *span_reader(void *arg) {
    worker_t *w = arg;
    unsigned char buf[MAXV];
    char key[32];
    unsigned s = 0x2545f491u ^ w->id;
    while (!atomic_load(w->stop)) {
        unsigned k = w->iters + (rnd(&s) % w->span) * w->stride; /* iters: base */
        int kl = key_of(key, k);
        size_t len = 0;
        if (rcache_get(w->c, key, (size_t)kl, buf, sizeof buf, &len) == RCACHE_OK) {
            w->hits++;
            if (!val_ok(buf, len, k))
                w->bad++;
        } else if (w->must_hit) {
            w->bad++;
        }
    }
    return NULL;
}

static void test_race_compaction(void **state) {
    (void)state;
    const size_t SMALL = 160, BIG = 896; /* two size classes, 16 | both */
    const uint64_t max = 16ull << 20;
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = 0; /* the byte limit alone */
    cfg.max_bytes = max;
    cfg.shards = 4;
    cfg.policy = RCACHE_POLICY_S3FIFO;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    unsigned char val[MAXV];
    char key[32];
    const unsigned n1 = (unsigned)(max / 1000); /* fills the cache */
    for (unsigned k = 0; k < n1; k++) {
        int kl = key_of(key, k);
        make_val(val, k, k, BIG);
        assert_int_equal(rcache_set(c, key, (size_t)kl, val, BIG, 0, 0), RCACHE_OK);
    }
    rcache_stats_t st;
    rcache_stats(c, &st);
    /* hot: every 10th of the live ones, spread over all their pages */
    const unsigned lo = ((unsigned)(n1 - st.items) + 9u) / 10u * 10u;
    const unsigned span = (n1 - lo) / 10u;
    atomic_int stop = 0;
    pthread_t th[2];
    worker_t w[2] = {{0}};
    const unsigned nr = 2;
    for (unsigned i = 0; i < nr; i++) {
        w[i] = (worker_t){c, i, lo, &stop, 0, 0, span, 10, 0};
        assert_int_equal(pthread_create(&th[i], NULL, span_reader, &w[i]), 0);
    }
    for (unsigned i = 0; i < 4 * n1; i++) {
        unsigned k = n1 + i;
        int kl = key_of(key, k);
        make_val(val, k, i, SMALL);
        assert_int_equal(rcache_set(c, key, (size_t)kl, val, SMALL, 0, 0), RCACHE_OK);
        /* keep the hot keys hot from this thread too (the readers may be
         * descheduled on a loaded machine) */
        unsigned h = lo + (i % span) * 10u;
        kl = key_of(key, h);
        size_t len = 0;
        if (rcache_get(c, key, (size_t)kl, val, sizeof val, &len) == RCACHE_OK)
            assert_true(val_ok(val, len, h));
    }
    atomic_store(&stop, 1);
    for (unsigned i = 0; i < nr; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    rcache__slab_info_t in;
    rcache__slab_info(c->slab, &in);
    printf("compaction: %llu + %llu reader hits, %llu compactions moved %llu, "
           "%llu hits without the lock\n",
           (unsigned long long)w[0].hits, (unsigned long long)w[1].hits,
           (unsigned long long)in.compactions, (unsigned long long)in.moved,
           (unsigned long long)rcache__nolock_hits(c));
    assert_true(in.moved > 0);
    assert_true(rcache__nolock_hits(c) > 0);
    check_invariants(c);
    rcache_close(c);
}

/* Lock-free readers across index resizes: a writer adds and deletes 3,000
 * churn keys over and over in a one-shard cache, so its table doubles from
 * 64 to 1,024 buckets and halves again, moving entries by the hash bits kept
 * in the slots (index.c), while readers (and the writer itself, between
 * its stores) get 256 stable keys. Every get must find its stable key's
 * value, and nearly all must do so without the lock: a lookup without the
 * lock computes its tag from the table it loaded (its shift and compare
 * mask), and a wrong one would send every read to the locked path. */
static void test_race_resizes(void **state) {
    (void)state;
    enum { STABLE = 256, CHURN = 3000, CYCLES = 6 };
    rcache_t *c = open_filled(RCACHE_POLICY_S3FIFO, 0, 1, STABLE, 2);
    unsigned char val[MAXV];
    char key[32];
    atomic_int stop = 0;
    pthread_t th[2];
    worker_t w[2] = {{0}};
    for (unsigned i = 0; i < 2; i++) {
        w[i] = (worker_t){c, i, 0, &stop, 0, 0, STABLE, 1, 1};
        assert_int_equal(pthread_create(&th[i], NULL, span_reader, &w[i]), 0);
    }
    size_t smallest = SIZE_MAX, largest = 0;
    uint64_t own = 0;
    unsigned s = 12345u;
    for (unsigned cyc = 0; cyc < CYCLES; cyc++) {
        for (unsigned pass = 0; pass < 2; pass++) {
            for (unsigned i = 0; i < CHURN; i++) {
                unsigned k = STABLE + i;
                int kl = key_of(key, k);
                if (pass == 0) {
                    make_val(val, k, cyc, UNIT);
                    assert_int_equal(rcache_set(c, key, (size_t)kl, val, UNIT, 0, 0),
                                     RCACHE_OK);
                } else {
                    assert_int_equal(rcache_delete(c, key, (size_t)kl), RCACHE_OK);
                }
                unsigned h = rnd(&s) % STABLE;
                kl = key_of(key, h);
                size_t len = 0;
                assert_int_equal(rcache_get(c, key, (size_t)kl, val, sizeof val, &len),
                                 RCACHE_OK);
                assert_true(val_ok(val, len, h));
                own++;
                size_t nb = rcache__index_buckets(&c->shards[0].idx);
                smallest = nb < smallest ? nb : smallest;
                largest = nb > largest ? nb : largest;
            }
        }
    }
    atomic_store(&stop, 1);
    uint64_t hits = own;
    for (unsigned i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
        hits += w[i].hits;
    }
    const uint64_t nl = rcache__nolock_hits(c);
    printf("resizes: table %zu to %zu buckets; %llu hits, %llu without the lock\n",
           smallest, largest, (unsigned long long)hits, (unsigned long long)nl);
    assert_true(largest >= 8 * smallest); /* 3 doublings and back, each cycle */
    assert_true(nl * 10 >= hits * 9);
    check_invariants(c);
    rcache_close(c);
}

/* What the lock-free path must leave to the locked one: a miss is counted
 * as a miss, an expired entry is unlinked and counted as an expiration,
 * a hit is counted once and serves the value. */
static void test_fallbacks(void **state) {
    (void)state;
    test_clock_t clk = {0};
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.policy = RCACHE_POLICY_S3FIFO;
    cfg.shards = 1;
    clk.now_ms = 1700000000000ull;
    cfg.clock = test_clock_fn;
    cfg.clock_ctx = &clk;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    char buf[16];
    size_t len = 0;
    assert_int_equal(rcache_set(c, "a", 1, "xy", 2, 1000, 0), RCACHE_OK);
    assert_int_equal(rcache_get(c, "a", 1, buf, sizeof buf, &len), RCACHE_OK);
    assert_int_equal(len, 2);
    assert_int_equal(rcache__nolock_hits(c), 1);
    assert_int_equal(rcache_get(c, "a", 1, buf, 1, &len), RCACHE_ERANGE);
    assert_int_equal(rcache_get(c, "b", 1, buf, sizeof buf, &len), RCACHE_ENOTFOUND);
    clk.now_ms += 1000;
    assert_int_equal(rcache_get(c, "a", 1, buf, sizeof buf, &len), RCACHE_ENOTFOUND);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.expirations, 1);
    assert_int_equal(st.items, 0);
    assert_int_equal(rcache__nolock_hits(c), 2);
    int obj = 5;
    assert_int_equal(rcache_set_object(c, "o", 1, &obj, 8, NULL, NULL, NULL), RCACHE_OK);
    assert_int_equal(rcache_get(c, "o", 1, buf, sizeof buf, &len), RCACHE_EWRONGTYPE);
    rcache_ref_t *ref = NULL;
    assert_int_equal(rcache_get_ref(c, "o", 1, &ref), RCACHE_OK);
    assert_ptr_equal(rcache_ref_object(ref), &obj);
    rcache_release(ref);
    check_invariants(c);
    rcache_close(c);
}

/* The copy without a reference (cache.c copy_nolock) under the built-in
 * clock: a small value, one with a TTL, a buffer too small (ERANGE with
 * the length, counted as a hit), and a value too large for a slab slot
 * (served with a reference instead) are all lock-free hits; an object is
 * refused as before. */
static void test_copy_paths(void **state) {
    (void)state;
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.policy = RCACHE_POLICY_SIEVE;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    static unsigned char big[4000], buf[4096];
    size_t len = 0;
    make_val(big, 7, 3, sizeof big);
    assert_int_equal(rcache_set(c, "s", 1, "small", 5, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_set(c, "t", 1, "ttl", 3, 60000, 0), RCACHE_OK);
    assert_int_equal(rcache_set(c, "b", 1, big, sizeof big, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_get(c, "s", 1, buf, sizeof buf, &len), RCACHE_OK);
    assert_true(len == 5 && memcmp(buf, "small", 5) == 0);
    assert_int_equal(rcache_get(c, "t", 1, buf, sizeof buf, &len), RCACHE_OK);
    assert_true(len == 3 && memcmp(buf, "ttl", 3) == 0);
    len = 0;
    assert_int_equal(rcache_get(c, "s", 1, buf, 4, &len), RCACHE_ERANGE);
    assert_int_equal(len, 5);
    assert_int_equal(rcache_get(c, "b", 1, buf, sizeof buf, &len), RCACHE_OK);
    assert_true(len == sizeof big && memcmp(buf, big, len) == 0);
    assert_int_equal(rcache__nolock_hits(c), 4);
    int obj = 1;
    assert_int_equal(rcache_set_object(c, "o", 1, &obj, 8, NULL, NULL, NULL), RCACHE_OK);
    assert_int_equal(rcache_get(c, "o", 1, buf, sizeof buf, &len), RCACHE_EWRONGTYPE);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.hits, 4);
    /* no reference was left behind: every entry goes on delete */
    assert_int_equal(rcache_delete(c, "s", 1), RCACHE_OK);
    assert_int_equal(rcache_delete(c, "b", 1), RCACHE_OK);
    check_invariants(c);
    rcache_close(c);
}

/* A hit count is exact below RCACHE__HITS_EXACT and an estimate above it
 * (internal.h rcache__hits_step: a hot entry's line is not written on
 * every hit): on each lookup path (lock-free copy and reference, locked
 * lru), 100 hits read 100 and 200,000 read within a quarter of that. */
static void hit_counts(int policy, int injected_clock) {
    test_clock_t clk = {.now_ms = 1700000000000ull};
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.policy = policy;
    if (injected_clock) {
        cfg.clock = test_clock_fn;
        cfg.clock_ctx = &clk;
    }
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    const unsigned many = 200000;
    char buf[16];
    size_t len;
    assert_int_equal(rcache_set(c, "few", 3, "v", 1, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_set(c, "many", 4, "v", 1, 0, 0), RCACHE_OK);
    for (unsigned i = 0; i < many; i++) {
        if (i < 100)
            assert_int_equal(rcache_get(c, "few", 3, buf, sizeof buf, &len), RCACHE_OK);
        if (i % 2) {
            assert_int_equal(rcache_get(c, "many", 4, buf, sizeof buf, &len), RCACHE_OK);
        } else {
            rcache_ref_t *ref = NULL;
            assert_int_equal(rcache_get_ref(c, "many", 4, &ref), RCACHE_OK);
            rcache_release(ref);
        }
    }
    rcache_entry_info_t info;
    assert_int_equal(rcache_entry_info(c, "few", 3, &info), RCACHE_OK);
    assert_int_equal(info.access_count, 100);
    assert_int_equal(rcache_entry_info(c, "many", 4, &info), RCACHE_OK);
    printf("%s%s: %u hits counted as %llu\n", rcache_policy_name(policy),
           injected_clock ? " (injected clock)" : "", many,
           (unsigned long long)info.access_count);
    assert_true(info.access_count >= many * 3 / 4 && info.access_count <= many * 5 / 4);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.hits, many + 100);
    rcache_close(c);
}

static void test_hit_counts(void **state) {
    (void)state;
    hit_counts(RCACHE_POLICY_S3FIFO, 0);
    hit_counts(RCACHE_POLICY_S3FIFO, 1);
    hit_counts(RCACHE_POLICY_LRU, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_hit_counts),
        cmocka_unit_test(test_copy_paths),
        cmocka_unit_test(test_race_s3fifo),
        cmocka_unit_test(test_race_sieve),
        cmocka_unit_test(test_race_lru),
        cmocka_unit_test(test_race_compaction),
        cmocka_unit_test(test_race_resizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
