/*
 * test_update.c - atomic read-modify-write, take (GETDEL) and rename.
 */
#include "testutil.h"

#include <stdlib.h>

/* INCR-like: parse, add, store decimal text. */
static int incr_cb(rcache_update_t *u, void *ctx) {
    static _Thread_local char out[32];
    long long v = 0;
    if (u->found) {
        char tmp[32];
        if (u->old_len >= sizeof tmp)
            return RCACHE_EUSER - 1;
        memcpy(tmp, u->old_val, u->old_len);
        tmp[u->old_len] = 0;
        char *end;
        v = strtoll(tmp, &end, 10);
        if (*end)
            return RCACHE_EUSER - 1;
    }
    v += *(long long *)ctx;
    u->new_len = (size_t)sprintf(out, "%lld", v);
    u->new_val = out;
    return RCACHE_UPDATE_STORE;
}

static void test_incr(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 2, &clk);
    long long by = 5;
    char buf[32];
    int64_t ttl;
    assert_int_equal(rcache_update(c, "n", 1, incr_cb, &by), RCACHE_OK);
    assert_int_equal(get_str(c, "n", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "5");
    rcache_expire(c, "n", 1, 1000);
    by = -7;
    assert_int_equal(rcache_update(c, "n", 1, incr_cb, &by), RCACHE_OK);
    assert_int_equal(get_str(c, "n", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "-2");
    assert_int_equal(rcache_ttl(c, "n", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 1000); /* kept */
    set_str(c, "s", "abc");
    assert_int_equal(rcache_update(c, "s", 1, incr_cb, &by), RCACHE_EUSER - 1);
    assert_int_equal(get_str(c, "s", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "abc"); /* unchanged on error */
    check_invariants(c);
    rcache_close(c);
}

static int del_cb(rcache_update_t *u, void *ctx) { return RCACHE_UPDATE_DELETE; }
static int keep_cb(rcache_update_t *u, void *ctx) {
    *(int *)ctx = u->found;
    return RCACHE_UPDATE_KEEP;
}
static int ttl_cb(rcache_update_t *u, void *ctx) {
    u->ttl_ms = *(int64_t *)ctx;
    return RCACHE_UPDATE_TTL;
}

static void test_update_actions(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 1, &clk);
    int found = -1;
    int64_t t = 300, ttl;
    set_str(c, "k", "v");
    assert_int_equal(rcache_update(c, "k", 1, keep_cb, &found), RCACHE_OK);
    assert_int_equal(found, 1);
    assert_int_equal(rcache_update(c, "x", 1, keep_cb, &found), RCACHE_OK);
    assert_int_equal(found, 0);
    assert_int_equal(rcache_update(c, "k", 1, ttl_cb, &t), RCACHE_OK);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 300);
    t = 0;
    assert_int_equal(rcache_update(c, "k", 1, ttl_cb, &t), RCACHE_OK);
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    assert_int_equal(rcache_update(c, "k", 1, del_cb, NULL), RCACHE_OK);
    assert_int_equal(rcache_exists(c, "k", 1), 0);
    assert_int_equal(rcache_update(c, "k", 1, NULL, NULL), RCACHE_EINVAL);
    check_invariants(c);
    rcache_close(c);
}

static void test_take(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    rcache_ref_t *r;
    size_t len;
    set_str(c, "k", "gone");
    assert_int_equal(rcache_take(c, "k", 1, &r), RCACHE_OK);
    assert_int_equal(rcache_exists(c, "k", 1), 0);
    assert_memory_equal(rcache_ref_value(r, &len), "gone", 4);
    rcache_release(r);
    assert_int_equal(rcache_take(c, "k", 1, &r), RCACHE_ENOTFOUND);
    assert_null(r);
    check_invariants(c);
    rcache_close(c);
}

static void test_rename(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 16, &clk);
    char buf[16], k[16];
    int64_t ttl;
    set_str(c, "src", "value");
    rcache_expire(c, "src", 3, 5000);
    assert_int_equal(rcache_rename(c, "src", 3, "dst", 3, 0), RCACHE_OK);
    assert_int_equal(rcache_exists(c, "src", 3), 0);
    assert_int_equal(get_str(c, "dst", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "value");
    assert_int_equal(rcache_ttl(c, "dst", 3, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 5000);
    set_str(c, "other", "x");
    assert_int_equal(rcache_rename(c, "other", 5, "dst", 3, 1), RCACHE_EEXIST);
    assert_int_equal(rcache_rename(c, "other", 5, "dst", 3, 0), RCACHE_OK);
    assert_int_equal(get_str(c, "dst", buf, sizeof buf), RCACHE_OK);
    assert_string_equal(buf, "x");
    assert_int_equal(rcache_rename(c, "missing", 7, "dst", 3, 0), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_rename(c, "dst", 3, "dst", 3, 0), RCACHE_OK);
    assert_int_equal(rcache_count(c), 1);
    /* across many shard pairs */
    for (int i = 0; i < 200; i++) {
        sprintf(k, "r%d", i);
        char k2[16];
        sprintf(k2, "s%d", i);
        set_str(c, k, "v");
        assert_int_equal(rcache_rename(c, k, strlen(k), k2, strlen(k2), 0), RCACHE_OK);
    }
    assert_int_equal(rcache_count(c), 201);
    check_invariants(c);
    rcache_close(c);
}

/* Rename honours max_bytes as a store does (regression: renaming to a key
 * too long for the cache evicted every other entry and left the cache over
 * its limit). A destination that fits evicts in LRU order. */
static void test_rename_respects_max_bytes(void **state) {
    test_clock_t clk = {0};
    uint64_t per = rcache__entry_size(1, 100, 0, 0);
    rcache_t *c = open_cache(0, per * 4, 0, 4, &clk);
    char v[100], k[8];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 4; i++) {
        sprintf(k, "%c", 'a' + i);
        assert_int_equal(rcache_set(c, k, 1, v, sizeof v, 0, 0), RCACHE_OK);
        clk.now_ms += 1000;
    }
    rcache_stats_t before, after;
    rcache_stats(c, &before);
    /* a key whose entry alone exceeds max_bytes: refused, nothing changes */
    size_t big_len = (size_t)(per * 4);
    char *big = malloc(big_len);
    memset(big, 'K', big_len);
    assert_true(rcache__entry_size(big_len, 100, 0, 0) > per * 4);
    assert_int_equal(rcache_rename(c, "a", 1, big, big_len, 0), RCACHE_ETOOBIG);
    assert_int_equal(rcache_rename(c, "a", 1, big, big_len, 1), RCACHE_ETOOBIG);
    rcache_stats(c, &after);
    assert_int_equal(after.items, 4);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(after.evictions, 0);
    for (int i = 0; i < 4; i++) {
        sprintf(k, "%c", 'a' + i);
        assert_int_equal(rcache_exists(c, k, 1), 1);
    }
    check_invariants(c);
    /* a destination twice the size fits: it evicts the least recently used
     * other entry ("b": "a" is the one being renamed) and the limit holds */
    size_t mid_len = (size_t)(per - 64);
    assert_true(rcache__entry_size(mid_len, 100, 0, 0) <= per * 2);
    assert_int_equal(rcache_rename(c, "a", 1, big, mid_len, 0), RCACHE_OK);
    assert_int_equal(rcache_exists(c, big, mid_len), 1);
    assert_int_equal(rcache_exists(c, "b", 1), 0);
    assert_int_equal(rcache_exists(c, "c", 1), 1);
    assert_int_equal(rcache_exists(c, "d", 1), 1);
    check_invariants(c);
    free(big);
    rcache_close(c);
}

/* max_new_len is exact: a value of that length is stored, one more byte is
 * refused (regression: SETRANGE built 512 MiB values the cache could never
 * hold, see tests/regress/test_regress_setrange_amplification.c). */
static int grow_cb(rcache_update_t *u, void *ctx) {
    size_t *want = ctx;
    static char big[8192];
    if (*want == 0)
        *want = u->max_new_len; /* first call: report the bound */
    u->new_val = big;
    u->new_len = *want;
    return RCACHE_UPDATE_STORE;
}

static void test_update_max_new_len(void **state) {
    for (uint64_t mb = 200; mb < 1200; mb += 7) {
        rcache_t *c = open_cache(0, mb, 0, 1, NULL);
        size_t want = 0;
        int rc = rcache_update(c, "key", 3, grow_cb, &want);
        if (rcache__entry_size(3, 0, 0, 0) > mb) {
            assert_int_equal(want, 0);
        } else {
            assert_int_equal(rc, RCACHE_OK);
            assert_true(rcache__entry_size(3, want, 0, 0) <= mb);
            want++;
            assert_int_equal(rcache_update(c, "key", 3, grow_cb, &want), RCACHE_ETOOBIG);
            assert_true(rcache__entry_size(3, want, 0, 0) > mb);
        }
        rcache_close(c);
    }
}

/* ---- SPLICE (issue 10 item 9) ----------------------------------------- */

typedef struct splice_arg {
    const char *data;
    size_t off; /* RCACHE_SPLICE_END = append */
} splice_arg_t;

static int splice_cb(rcache_update_t *u, void *ctx) {
    const splice_arg_t *a = ctx;
    u->new_val = a->data;
    u->new_len = strlen(a->data);
    u->splice_offset = a->off;
    return RCACHE_UPDATE_SPLICE;
}

static int do_splice(rcache_t *c, const char *k, const char *data, size_t off) {
    splice_arg_t a = {data, off};
    return rcache_update(c, k, strlen(k), splice_cb, &a);
}

static void check_value(rcache_t *c, const char *k, const void *v, size_t n) {
    char buf[256];
    size_t len = 0;
    assert_int_equal(rcache_get(c, k, strlen(k), buf, sizeof buf, &len), RCACHE_OK);
    assert_int_equal(len, n);
    assert_memory_equal(buf, v, n);
}

/* APPEND/SETRANGE semantics of a splice, in place (no outside reference)
 * and copy-on-write (a reference held), with exact accounting. */
static void test_update_splice(void **state) {
    test_clock_t clk = {0};
    rcache_t *c = open_cache(0, 0, 0, 2, &clk);
    assert_int_equal(do_splice(c, "k", "abc", RCACHE_SPLICE_END), RCACHE_OK);
    check_value(c, "k", "abc", 3);
    assert_int_equal(do_splice(c, "k", "de", RCACHE_SPLICE_END), RCACHE_OK);
    check_value(c, "k", "abcde", 5);
    assert_int_equal(do_splice(c, "k", "XY", 1), RCACHE_OK); /* inside */
    check_value(c, "k", "aXYde", 5);
    assert_int_equal(do_splice(c, "k", "Z", 7), RCACHE_OK); /* zero gap */
    check_value(c, "k", "aXYde\0\0Z", 8);
    assert_int_equal(do_splice(c, "k", "tail!", 6), RCACHE_OK); /* overlaps end */
    check_value(c, "k", "aXYde\0tail!", 11);
    assert_int_equal(do_splice(c, "new", "v", 2), RCACHE_OK); /* absent key */
    check_value(c, "new", "\0\0v", 3);
    check_invariants(c);

    /* A held reference keeps its value: the splice copies instead. */
    rcache_ref_t *ref;
    assert_int_equal(rcache_get_ref(c, "k", 1, &ref), RCACHE_OK);
    assert_int_equal(do_splice(c, "k", "++", RCACHE_SPLICE_END), RCACHE_OK);
    assert_int_equal(do_splice(c, "k", "AB", 0), RCACHE_OK);
    size_t rl;
    const void *rv = rcache_ref_value(ref, &rl);
    assert_int_equal(rl, 11);
    assert_memory_equal(rv, "aXYde\0tail!", 11);
    rcache_release(ref);
    check_value(c, "k", "ABYde\0tail!++", 13);
    check_invariants(c);

    /* TTL kept by default, replaced when asked; metadata kept */
    assert_int_equal(rcache_expire(c, "k", 1, 5000), RCACHE_OK);
    assert_int_equal(do_splice(c, "k", "!", RCACHE_SPLICE_END), RCACHE_OK);
    int64_t ttl;
    assert_int_equal(rcache_ttl(c, "k", 1, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 5000);
    rcache_stats_t st;
    rcache_stats(c, &st);
    assert_int_equal(st.expires, 1);
    check_invariants(c);

    /* many appends: in place, each one counted exactly */
    for (int i = 0; i < 2000; i++)
        assert_int_equal(do_splice(c, "grow", "0123456789", RCACHE_SPLICE_END),
                         RCACHE_OK);
    rcache_entry_info_t info;
    assert_int_equal(rcache_entry_info(c, "grow", 4, &info), RCACHE_OK);
    assert_int_equal(info.value_len, 20000);
    assert_int_equal(info.size_bytes, rcache__entry_size(4, 20000, 0, 0));
    check_invariants(c);
    rcache_close(c);
}

/* An entry with a recorded compute time keeps it, its key and its bytes
 * through appends that grow it in place, move it across slab classes and
 * out of the slabs into malloc, with and without a reference held, and
 * through a rename; its charge counts the compute time's 4 bytes. */
static void test_splice_keeps_compute_time(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 2, NULL);
    rcache_set_opts_t o = {.ttl_ms = RCACHE_TTL_DEFAULT, .compute_ms = 4321};
    static char want[4096];
    size_t n = 3;
    memcpy(want, "abc", 3);
    assert_int_equal(rcache_set_ex(c, "memo", 4, want, n, &o, NULL), RCACHE_OK);
    rcache_entry_info_t info;
    for (int i = 0; n + 7 <= sizeof want; i++) {
        rcache_ref_t *ref = NULL;
        if (i % 3 == 0) /* a held reference: the splice copies */
            assert_int_equal(rcache_get_ref(c, "memo", 4, &ref), RCACHE_OK);
        assert_int_equal(do_splice(c, "memo", "0123456", RCACHE_SPLICE_END), RCACHE_OK);
        memcpy(want + n, "0123456", 7);
        n += 7;
        if (ref)
            rcache_release(ref);
        char buf[4096];
        size_t len = 0;
        assert_int_equal(rcache_get(c, "memo", 4, buf, sizeof buf, &len), RCACHE_OK);
        assert_int_equal(len, n);
        assert_memory_equal(buf, want, n);
        assert_int_equal(rcache_entry_info(c, "memo", 4, &info), RCACHE_OK);
        assert_int_equal(info.compute_ms, 4321);
        assert_int_equal(info.size_bytes, rcache__entry_size(4, n, RCACHE__F_COST, 0));
    }
    check_invariants(c);
    assert_int_equal(rcache_rename(c, "memo", 4, "renamed", 7, 0), RCACHE_OK);
    assert_int_equal(rcache_entry_info(c, "renamed", 7, &info), RCACHE_OK);
    assert_int_equal(info.compute_ms, 4321);
    assert_int_equal(info.value_len, n);
    assert_int_equal(info.size_bytes, rcache__entry_size(7, n, RCACHE__F_COST, 0));
    check_invariants(c);
    rcache_close(c);
}

/* A large value grown by many appends moves (copies) a bounded number of
 * times: a block that must move gets a quarter more room (entry.c), since
 * realloc, which used to grow it in place, could free the old block under
 * a lock-free reader. Without the slack every append past the malloc
 * chunk's rounding copied the whole value (quadratic). */
static void test_append_moves_amortised(void **state) {
    (void)state;
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    rcache__shard_t *s = &c->shards[0];
    uint64_t h = rcache__hash("big", 3);
    const rcache__entry_t *last = NULL;
    int moves = 0;
    for (int i = 0; i < 4000; i++) {
        assert_int_equal(do_splice(c, "big", "0123456789", RCACHE_SPLICE_END),
                         RCACHE_OK);
        pthread_mutex_lock(&s->lock);
        const rcache__entry_t *e = rcache__shard_find_locked(s, h, "big", 3);
        pthread_mutex_unlock(&s->lock);
        assert_non_null(e);
        if (e->vlen > RCACHE__SLAB_MAX && e != last)
            moves++;
        last = e;
    }
    printf("4000 appends to 40000 bytes: %d moves past the slab sizes\n", moves);
    assert_true(moves < 60);
    rcache_entry_info_t info;
    assert_int_equal(rcache_entry_info(c, "big", 3, &info), RCACHE_OK);
    assert_int_equal(info.value_len, 40000);
    check_invariants(c);
    rcache_close(c);
}

/* The byte limit holds for a splice: a result too large for max_bytes is
 * refused with the value unchanged; one that fits evicts others. */
static void test_update_splice_limits(void **state) {
    uint64_t mb = 4096;
    rcache_t *c = open_cache(0, mb, 0, 1, NULL);
    static char big[2048];
    memset(big, 'b', sizeof big - 1);
    assert_int_equal(do_splice(c, "k", "abc", RCACHE_SPLICE_END), RCACHE_OK);
    assert_int_equal(do_splice(c, "k", "x", 5000), RCACHE_ETOOBIG);
    check_value(c, "k", "abc", 3);
    assert_int_equal(do_splice(c, "k", "x", SIZE_MAX - 1), RCACHE_ETOOBIG);
    assert_int_equal(set_str(c, "other", big), RCACHE_OK);
    assert_int_equal(do_splice(c, "k", big, RCACHE_SPLICE_END), RCACHE_OK);
    assert_int_equal(rcache_exists(c, "other", 5), 0); /* evicted */
    check_invariants(c);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incr),
        cmocka_unit_test(test_update_actions),
        cmocka_unit_test(test_take),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_rename_respects_max_bytes),
        cmocka_unit_test(test_update_max_new_len),
        cmocka_unit_test(test_update_splice),
        cmocka_unit_test(test_append_moves_amortised),
        cmocka_unit_test(test_splice_keeps_compute_time),
        cmocka_unit_test(test_update_splice_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
