/*
 * test_getmany.c - rcache_get_many_ref(): every key as rcache_get_ref()
 * would answer it (found, missing, expired, refused, objects), across
 * several prefetch batches, under each policy; the hit and miss counters
 * as for single lookups; and lookups racing writers that overwrite,
 * delete and grow the tables (also under ThreadSanitizer; under ASan a
 * read of a freed table or entry is reported).
 */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>

enum { NKEYS = 100 };

static void key_of(char *buf, size_t cap, int i) { snprintf(buf, cap, "key:%04d", i); }

/* The value of key i at version v: "v%04d.<v>." and then i % 50 'x's, so
 * a reader can tell a value of another key, or a torn one. */
static size_t val_of(char *buf, size_t cap, int i, unsigned v) {
    int n = snprintf(buf, cap, "v%04d.%u.", i, v);
    assert_true(n > 0 && (size_t)n + 50 < cap);
    memset(buf + n, 'x', (size_t)(i % 50));
    return (size_t)n + (size_t)(i % 50);
}

static void test_answers_as_get_ref(void **state) {
    static const int policies[] = {RCACHE_POLICY_LRU, RCACHE_POLICY_S3FIFO, RCACHE_POLICY_SIEVE,
                                   RCACHE_POLICY_WTINYLFU};
    for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
        test_clock_t clk = {0};
        rcache_t *c = open_cache(0, 0, 0, 4, &clk);
        assert_int_equal(rcache_set_policy(c, policies[p]), RCACHE_OK);

        char kb[NKEYS][16], vb[128];
        static char longkey[RCACHE_MAX_KEY_LEN + 1];
        const void *keys[NKEYS];
        size_t lens[NKEYS];
        rcache_ref_t *refs[NKEYS];
        int rcs[NKEYS], obj = 7;
        for (int i = 0; i < NKEYS; i++) {
            key_of(kb[i], sizeof kb[i], i);
            keys[i] = kb[i];
            lens[i] = strlen(kb[i]);
            if (i % 3 == 0) /* every third key absent */
                continue;
            size_t vl = val_of(vb, sizeof vb, i, 0);
            int64_t ttl = i % 7 == 1 ? 1000 : 0; /* some expire below */
            assert_int_equal(rcache_set(c, kb[i], lens[i], vb, vl, ttl, 0), RCACHE_OK);
        }
        assert_int_equal(rcache_set_object(c, kb[5], lens[5], &obj, 8, NULL, NULL, NULL),
                         RCACHE_OK);
        keys[10] = NULL; /* refused keys are answered, the rest looked up */
        keys[11] = longkey;
        lens[11] = sizeof longkey;
        clk.now_ms += 5000; /* the ones with a TTL are gone */
        rcache_stats_t before, after;
        rcache_stats(c, &before);
        assert_int_equal(rcache_get_many_ref(c, NKEYS, keys, lens, refs, rcs), RCACHE_OK);
        rcache_stats(c, &after);
        uint64_t hits = 0, misses = 0;
        for (int i = 0; i < NKEYS; i++) {
            int want = RCACHE_OK;
            if (i == 10)
                want = RCACHE_EINVAL;
            else if (i == 11)
                want = RCACHE_ETOOBIG;
            else if (i % 3 == 0 || (i % 7 == 1 && i != 5))
                want = RCACHE_ENOTFOUND;
            if (rcs[i] != want)
                fail_msg("policy %d key %d: %d, wanted %d", policies[p], i, rcs[i], want);
            hits += want == RCACHE_OK;
            misses += want == RCACHE_ENOTFOUND;
            if (want != RCACHE_OK) {
                assert_null(refs[i]);
                continue;
            }
            assert_non_null(refs[i]);
            size_t kl;
            const void *k = rcache_ref_key(refs[i], &kl);
            assert_int_equal(kl, lens[i]);
            assert_memory_equal(k, kb[i], kl);
            if (i == 5) {
                assert_ptr_equal(rcache_ref_object(refs[i]), &obj);
            } else {
                size_t vl = val_of(vb, sizeof vb, i, 0), gl;
                const void *v = rcache_ref_value(refs[i], &gl);
                assert_int_equal(gl, vl);
                assert_memory_equal(v, vb, vl);
            }
            rcache_release(refs[i]);
        }
        assert_int_equal(after.hits - before.hits, hits);
        assert_int_equal(after.misses - before.misses, misses);
        /* without rcs; and n = 0 does nothing */
        assert_int_equal(rcache_get_many_ref(c, 3, keys + 4, lens + 4, refs, NULL), RCACHE_OK);
        assert_non_null(refs[0]);
        assert_non_null(refs[1]); /* key 5: the object */
        assert_null(refs[2]);     /* key 6: absent */
        rcache_release(refs[0]);
        rcache_release(refs[1]);
        assert_int_equal(rcache_get_many_ref(c, 0, NULL, NULL, NULL, NULL), RCACHE_OK);
        check_invariants(c);
        rcache_close(c);
    }
}

/* Readers of batches race a writer that overwrites, deletes and re-adds
 * keys and makes the tables grow and shrink: every reference a reader gets
 * is its key's, with a whole value of that key. */
typedef struct {
    rcache_t *c;
    int nkeys;
    int rounds;
} race_t;

static void *reader(void *arg) {
    race_t *r = arg;
    char (*kb)[16] = calloc((size_t)r->nkeys, sizeof *kb);
    const void **keys = calloc((size_t)r->nkeys, sizeof *keys);
    size_t *lens = calloc((size_t)r->nkeys, sizeof *lens);
    rcache_ref_t **refs = calloc((size_t)r->nkeys, sizeof *refs);
    assert_true(kb && keys && lens && refs);
    for (int i = 0; i < r->nkeys; i++) {
        key_of(kb[i], sizeof kb[i], i);
        keys[i] = kb[i];
        lens[i] = strlen(kb[i]);
    }
    for (int round = 0; round < r->rounds; round++) {
        assert_int_equal(rcache_get_many_ref(r->c, (size_t)r->nkeys, keys, lens, refs, NULL),
                         RCACHE_OK);
        for (int i = 0; i < r->nkeys; i++) {
            if (!refs[i])
                continue;
            size_t kl, vl;
            const char *k = rcache_ref_key(refs[i], &kl);
            const char *v = rcache_ref_value(refs[i], &vl);
            if (kl != lens[i] || memcmp(k, kb[i], kl) != 0)
                fail_msg("key %d: a reference to another key", i);
            /* a whole value of key i (val_of) */
            char head[16];
            snprintf(head, sizeof head, "v%04d.", i);
            const char *dot = vl > 6 ? memchr(v + 6, '.', vl - 6) : NULL;
            int whole = vl > 6 && memcmp(v, head, 6) == 0 && dot &&
                        (size_t)(v + vl - dot - 1) == (size_t)(i % 50);
            for (const char *x = dot ? dot + 1 : v + vl; whole && x < v + vl; x++)
                whole = *x == 'x';
            if (!whole)
                fail_msg("key %d: torn or foreign value (%zu bytes)", i, vl);
            rcache_release(refs[i]);
        }
    }
    free(kb);
    free(keys);
    free(lens);
    free(refs);
    return NULL;
}

static void race(int policy) {
    rcache_t *c = open_cache(0, 0, 0, 2, NULL);
    assert_int_equal(rcache_set_policy(c, policy), RCACHE_OK);
    race_t r = {c, 300, 300};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, &r), 0);
    /* the writer: a fixed amount of work, no timing */
    char kb[16], vb[128];
    unsigned v = 1;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < r.nkeys; i++) {
            key_of(kb, sizeof kb, i);
            if ((i + round) % 5 == 0) {
                (void)rcache_delete(c, kb, strlen(kb));
            } else {
                size_t vl = val_of(vb, sizeof vb, i, v++);
                assert_int_equal(rcache_set(c, kb, strlen(kb), vb, vl, 0, 0), RCACHE_OK);
            }
        }
        if (round % 10 == 9) { /* empty the tables: they shrink, then grow */
            uint64_t n;
            assert_int_equal(rcache_clear(c, &n), RCACHE_OK);
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    check_invariants(c);
    rcache_close(c);
}

static void test_race_lru(void **state) { race(RCACHE_POLICY_LRU); }
static void test_race_s3fifo(void **state) { race(RCACHE_POLICY_S3FIFO); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_as_get_ref),
        cmocka_unit_test(test_race_lru),
        cmocka_unit_test(test_race_s3fifo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
