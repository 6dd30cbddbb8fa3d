/*
 * test_index.c - the shard key index (src/lib/index.c) against a reference.
 *
 * Random inserts, replacements, deletions, grows, shrinks and explicit
 * resizes drive one index and a plain array of what it should hold; after
 * every step batch each key present must be found (as the very entry
 * stored), each absent one not, and a walk of every bucket must return
 * every entry exactly once, in the bucket its hash names. Variants: real
 * tags, all tags equal (rcache__index_test_same_tag: every lookup compares
 * every key), hashes crowded into few buckets (long overflow chains), and
 * the untagged fallback switched on mid-run. Last, rcache_scan's cursor
 * guarantee (every key present for the whole scan is listed) across grows
 * and shrinks with equal tags and crowded chains.
 */
#include "testutil.h"

#include <stdlib.h>

enum { NKEYS = 3000, KEYCAP = 16 };

typedef struct ref {
    rcache__entry_t *cur[NKEYS]; /* the entry the index should hold, or NULL */
    uint32_t hash[NKEYS];
    uint64_t n;
} ref_t;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* An entry header followed by its key, as the index sees entries, and
 * then (where no real entry has anything) the hash the test gave it: the
 * tests choose hashes (equal tags, equal buckets) that are not the key's. */
static rcache__entry_t *fake_new(int k, uint32_t hash) {
    rcache__entry_t *f = calloc(1, sizeof(*f) + KEYCAP + sizeof hash);
    assert_non_null(f);
    int n = snprintf((char *)f->data, KEYCAP, "k%d", k);
    f->klen = (uint32_t)n;
    memcpy(f->data + KEYCAP, &hash, sizeof hash);
    return f;
}

static uint32_t fake_hash(const rcache__entry_t *e) {
    uint32_t h;
    memcpy(&h, e->data + KEYCAP, sizeof h);
    return h;
}

static int fake_index_init(rcache__index_t *ix, size_t entries) {
    int rc = rcache__index_init(ix, entries);
    ix->hash_of = fake_hash;
    return rc;
}

static void check_all(const rcache__index_t *ix, const ref_t *r) {
    static int seen[NKEYS];
    memset(seen, 0, sizeof seen);
    size_t nb = rcache__index_buckets(ix);
    uint64_t walked = 0;
    for (size_t b = 0; b < nb; b++) {
        rcache__index_it_t it;
        rcache__entry_t *e;
        rcache__index_it_start(ix, b, &it);
        while ((e = rcache__index_it_next(&it)) != NULL) {
            int k = atoi((const char *)rcache__entry_key(e) + 1);
            assert_true(k >= 0 && k < NKEYS);
            assert_ptr_equal(e, r->cur[k]);
            assert_int_equal(fake_hash(e) & (nb - 1), b);
            seen[k]++;
            walked++;
        }
    }
    assert_int_equal(walked, r->n);
    /* the overflow buckets linked are the ones counted */
    const rcache__itab_t *t = atomic_load(&ix->tab);
    uint64_t linked = 0;
    for (size_t b = 0; b < nb; b++) {
        uint64_t l = atomic_load(&t->b[b].w[RCACHE__INDEX_SLOTS - 1]);
        while (l & 1u) {
            linked++;
            l = atomic_load(&((const rcache__ibucket_t *)(uintptr_t)(l & ~(uint64_t)1))
                                 ->w[RCACHE__INDEX_SLOTS - 1]);
        }
    }
    assert_int_equal(linked, ix->overflow);
    assert_int_equal(ix->count, r->n);
    const char *why = rcache__index_check(ix);
    if (why)
        fail_msg("%s", why);
    for (int k = 0; k < NKEYS; k++) {
        char key[KEYCAP];
        int n = snprintf(key, sizeof key, "k%d", k);
        rcache__entry_t *e = rcache__index_find(ix, r->hash[k], key, (size_t)n);
        if (r->cur[k]) {
            assert_int_equal(seen[k], 1);
            assert_ptr_equal(e, r->cur[k]);
        } else {
            assert_int_equal(seen[k], 0);
            assert_null(e);
        }
    }
}

/* One random step. */
static void step(rcache__index_t *ix, ref_t *r, int untag_at, long i) {
    int k = (int)(next_rand() % NKEYS);
    unsigned op = (unsigned)(next_rand() % 100);
    if (i == untag_at)
        rcache__index_untag(ix);
    rcache__index_prefetch(ix, r->hash[k]);
    if (op < 45 && !r->cur[k]) {
        rcache__entry_t *f = fake_new(k, r->hash[k]);
        rcache__index_maybe_grow(ix);
        assert_int_equal(rcache__index_add(ix, f, r->hash[k]), RCACHE_OK);
        r->cur[k] = f;
        r->n++;
    } else if (op < 60 && r->cur[k]) {
        rcache__entry_t *f = fake_new(k, r->hash[k]);
        rcache__index_prefetch_entry(ix, r->hash[k]);
        rcache__index_replace(ix, (uintptr_t)r->cur[k], f, r->hash[k]);
        free(r->cur[k]);
        r->cur[k] = f;
    } else if (op < 99 && r->cur[k]) {
        rcache__index_del(ix, r->cur[k]);
        if (op % 2) /* else left for a later tidy or a resize */
            rcache__index_tidy(ix);
        rcache__index_maybe_shrink(ix);
        free(r->cur[k]);
        r->cur[k] = NULL;
        r->n--;
    } else if (op == 99) {
        /* any size, 1 bucket included: every entry in one chain */
        size_t n = (size_t)1 << (next_rand() % 12);
        assert_int_equal(rcache__index_resize(ix, n), RCACHE_OK);
        assert_int_equal(rcache__index_buckets(ix), n);
    }
}

/* hash_mask: bits of the hash kept (crowds keys into few buckets). */
static void run_random(int same_tag, uint32_t hash_mask, int untag_at,
                       int want_overflow) {
    static ref_t r;
    rcache__index_t ix;
    uint64_t max_overflow = 0;
    memset(&r, 0, sizeof r);
    for (int k = 0; k < NKEYS; k++) {
        char key[KEYCAP];
        int n = snprintf(key, sizeof key, "k%d", k);
        r.hash[k] = (uint32_t)rcache__hash(key, (size_t)n) & hash_mask;
    }
    rcache__index_test_same_tag = same_tag;
    assert_int_equal(fake_index_init(&ix, 16), RCACHE_OK);
    rcache__index_test_same_tag = 0;
    for (long i = 0; i < 30000; i++) {
        step(&ix, &r, untag_at, i);
        if (ix.overflow > max_overflow)
            max_overflow = ix.overflow;
        if (i % 2000 == 0)
            check_all(&ix, &r);
    }
    check_all(&ix, &r);
    if (want_overflow)
        assert_true(max_overflow > 0);
    if (untag_at >= 0)
        assert_int_equal(ix.tagmask, 0);
    for (int k = 0; k < NKEYS; k++)
        free(r.cur[k]);
    rcache__index_fini(&ix);
}

static void test_index_random(void **state) {
    (void)state;
    run_random(0, UINT32_MAX, -1, 0);
}

static void test_index_same_tags(void **state) {
    (void)state;
    run_random(1, UINT32_MAX, -1, 0);
}

/* Hashes crowded into 16 low-bit classes: chains of hundreds of entries
 * (overflow buckets), with and without equal tags. */
static void test_index_overflow_chains(void **state) {
    (void)state;
    run_random(0, 0xfff0000fu, -1, 1);
    run_random(1, 0xfff0000fu, -1, 1);
}

static void test_index_untagged_fallback(void **state) {
    (void)state;
    run_random(0, UINT32_MAX, 15000, 0);
    run_random(1, 0xfff0000fu, 100, 1);
}

static unsigned long hash_reads;
static uint32_t counting_hash(const rcache__entry_t *e) {
    hash_reads++;
    return fake_hash(e);
}

/* Resizes move slots by the hash bits kept beside the address (g): from a
 * fresh table eight doublings read no key, the ninth reads every entry's
 * key once (fewer than 10 valid bits would be left) and restores all 18;
 * halvings read none and give the bits back. Lookups find every key
 * throughout (check_all). */
static void test_index_moves_without_key_reads(void **state) {
    (void)state;
    static ref_t r;
    rcache__index_t ix;
    memset(&r, 0, sizeof r);
    assert_int_equal(rcache__index_init(&ix, 16), RCACHE_OK);
    ix.hash_of = counting_hash;
    const size_t nb = rcache__index_buckets(&ix);
    for (int k = 0; k < NKEYS; k++) {
        char key[KEYCAP];
        int n = snprintf(key, sizeof key, "k%d", k);
        r.hash[k] = (uint32_t)rcache__hash(key, (size_t)n);
        r.cur[k] = fake_new(k, r.hash[k]);
        assert_int_equal(rcache__index_add(&ix, r.cur[k], r.hash[k]), RCACHE_OK);
        r.n++;
    }
    for (unsigned d = 1; d <= 8; d++) {
        hash_reads = 0;
        assert_int_equal(rcache__index_resize(&ix, nb << d), RCACHE_OK);
        assert_int_equal(hash_reads, 0);
        check_all(&ix, &r);
    }
    hash_reads = 0;
    assert_int_equal(rcache__index_resize(&ix, nb << 9), RCACHE_OK);
    assert_int_equal(hash_reads, NKEYS);
    check_all(&ix, &r);
    hash_reads = 0;
    assert_int_equal(rcache__index_resize(&ix, nb), RCACHE_OK); /* 9 halvings */
    assert_int_equal(rcache__index_resize(&ix, nb << 8), RCACHE_OK);
    assert_int_equal(rcache__index_resize(&ix, nb << 3), RCACHE_OK);
    assert_int_equal(rcache__index_resize(&ix, nb << 8), RCACHE_OK);
    assert_int_equal(hash_reads, 0);
    check_all(&ix, &r);
    hash_reads = 0; /* 10 bits left: one more doubling reads the keys */
    assert_int_equal(rcache__index_resize(&ix, nb << 9), RCACHE_OK);
    assert_int_equal(hash_reads, NKEYS);
    check_all(&ix, &r);
    for (int k = 0; k < NKEYS; k++)
        free(r.cur[k]);
    rcache__index_fini(&ix);
}

/* The table sizes for its starting entries, grows past 6 a bucket on
 * average and shrinks back to its starting size, never below. */
static void test_index_load(void **state) {
    (void)state;
    rcache__index_t ix;
    static rcache__entry_t *f[NKEYS];
    assert_int_equal(fake_index_init(&ix, 16), RCACHE_OK);
    assert_int_equal(rcache__index_buckets(&ix), RCACHE__MIN_BUCKETS);
    for (int k = 0; k < NKEYS; k++) {
        char key[KEYCAP];
        int n = snprintf(key, sizeof key, "k%d", k);
        f[k] = fake_new(k, (uint32_t)rcache__hash(key, (size_t)n));
        rcache__index_maybe_grow(&ix);
        assert_int_equal(rcache__index_add(&ix, f[k], fake_hash(f[k])), RCACHE_OK);
        assert_true(ix.count <= rcache__index_buckets(&ix) * RCACHE__INDEX_LOAD);
    }
    assert_int_equal(rcache__index_buckets(&ix), 512); /* 3000 / 6 -> 512 */
    for (int k = 0; k < NKEYS; k++) {
        rcache__index_del(&ix, f[k]);
        rcache__index_maybe_shrink(&ix);
        free(f[k]);
    }
    assert_int_equal(rcache__index_buckets(&ix), RCACHE__MIN_BUCKETS);
    assert_int_equal(ix.count, 0);
    rcache__index_fini(&ix);

    assert_int_equal(fake_index_init(&ix, 6000), RCACHE_OK);
    assert_int_equal(rcache__index_buckets(&ix), 1024);
    rcache__index_reserve(&ix, 6145);
    assert_int_equal(rcache__index_buckets(&ix), 2048);
    rcache__index_maybe_shrink(&ix); /* empty, but not below its start */
    assert_int_equal(rcache__index_buckets(&ix), 1024);
    rcache__index_fini(&ix);
}

/* rcache_scan across grows and shrinks with every tag equal: every key
 * present for the whole scan is listed at least once. */
static void scan_across_resizes(int same_tag) {
    enum { STABLE = 2000, BATCH = 200, PERIOD = 40 };
    static int seen[STABLE];
    char k[32];
    rcache__index_test_same_tag = same_tag;
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    rcache__index_test_same_tag = 0;
    for (int i = 0; i < STABLE; i++) {
        int n = sprintf(k, "s%d", i);
        assert_int_equal(rcache_set(c, k, (size_t)n, "v", 1, 0, 0), RCACHE_OK);
    }
    memset(seen, 0, sizeof seen);
    uint64_t cursor = 0;
    int round = 0;
    size_t smallest = SIZE_MAX, largest = 0;
    do {
        rcache_scan_page_t page;
        assert_int_equal(rcache_scan(c, cursor, 40, NULL, 0, 0, &page, &cursor),
                         RCACHE_OK);
        for (size_t i = 0; i < page.count; i++)
            if (((const char *)page.entries[i].key)[0] == 's')
                seen[atoi((const char *)page.entries[i].key + 1)]++;
        rcache_scan_page_free(&page);
        /* alternately add and remove churn keys: the table doubles and
         * halves several times during the scan */
        int add = (round / PERIOD) % 2 == 0;
        for (int j = 0; j < BATCH; j++) {
            int n = sprintf(k, "c%d", (round % PERIOD) * BATCH + j);
            if (add)
                assert_int_equal(rcache_set(c, k, (size_t)n, "v", 1, 0, 0),
                                 RCACHE_OK);
            else
                (void)rcache_delete(c, k, (size_t)n);
        }
        size_t nb = rcache__index_buckets(&c->shards[0].idx);
        smallest = nb < smallest ? nb : smallest;
        largest = nb > largest ? nb : largest;
        round++;
    } while (cursor != 0);
    assert_true(largest >= 4 * smallest); /* it did resize during the scan */
    for (int i = 0; i < STABLE; i++)
        assert_true(seen[i] >= 1);
    check_invariants(c);
    rcache_close(c);
}

static void test_index_scan_across_resizes(void **state) {
    (void)state;
    scan_across_resizes(0);
    scan_across_resizes(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_random),
        cmocka_unit_test(test_index_same_tags),
        cmocka_unit_test(test_index_overflow_chains),
        cmocka_unit_test(test_index_untagged_fallback),
        cmocka_unit_test(test_index_load),
        cmocka_unit_test(test_index_moves_without_key_reads),
        cmocka_unit_test(test_index_scan_across_resizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
