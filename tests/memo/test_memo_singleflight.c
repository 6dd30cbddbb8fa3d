/*
 * test_memo_singleflight.c - rcache_memoize() runs a missing key's callback
 * exactly once however many threads ask at once, and every thread gets the
 * same value: 64 threads on one key, then 64 threads over 100 keys in
 * different orders.  Also: a callback may use the cache (other keys,
 * nested memoize) without deadlock; object results are shared and
 * destroyed once; the bypass switch and the copy variant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "memo_test.h"

#define NTHREADS 64
#define NKEYS 100

/* ---- 64 threads, one key ------------------------------------------------ */

typedef struct one_key {
    rcache_t *c;
    gate_t gate;
    _Atomic int calls;
    pthread_barrier_t start;
} one_key_t;

static int compute_hello(const void *key, size_t klen,
                         rcache_memo_result_t *out, void *ctx) {
    one_key_t *t = ctx;
    atomic_fetch_add(&t->calls, 1);
    gate_pass(&t->gate);
    out->val = "the value";
    out->val_len = 9;
    (void)key;
    (void)klen;
    return RCACHE_OK;
}

typedef struct reply {
    int rc;
    int how;
    char val[32];
    size_t len;
} reply_t;

static one_key_t g_one;
static reply_t g_replies[NTHREADS];

static void *one_key_thread(void *arg) {
    reply_t *r = arg;
    rcache_ref_t *ref = NULL;
    pthread_barrier_wait(&g_one.start);
    r->rc = rcache_memoize(g_one.c, "k", 1, compute_hello, &g_one, NULL, &ref,
                           &r->how);
    if (r->rc == RCACHE_OK) {
        const void *v = rcache_ref_value(ref, &r->len);
        if (r->len < sizeof(r->val))
            memcpy(r->val, v, r->len);
        rcache_release(ref);
    }
    return NULL;
}

static void test_64_threads_one_key(void **state) {
    pthread_t th[NTHREADS];
    rcache_stats_t st;
    int computed = 0, shared = 0;
    (void)state;

    g_one.c = open_cache_clock(NULL);
    assert_non_null(g_one.c);
    gate_init(&g_one.gate);
    atomic_store(&g_one.calls, 0);
    pthread_barrier_init(&g_one.start, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, one_key_thread,
                                        &g_replies[i]), 0);
    /* Hold the computation until the 63 others wait on it. */
    gate_wait_entered(&g_one.gate, 1);
    wait_for_waiters(g_one.c, "k", NTHREADS - 1);
    gate_open(&g_one.gate);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);

    assert_int_equal(atomic_load(&g_one.calls), 1);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(g_replies[i].rc, RCACHE_OK);
        assert_int_equal(g_replies[i].len, 9);
        assert_memory_equal(g_replies[i].val, "the value", 9);
        computed += g_replies[i].how == RCACHE_MEMO_COMPUTED;
        shared += g_replies[i].how == RCACHE_MEMO_SHARED;
    }
    assert_int_equal(computed, 1);
    assert_int_equal(shared, NTHREADS - 1);
    rcache_stats(g_one.c, &st);
    assert_int_equal(st.computations, 1);
    assert_int_equal(st.singleflight_dedup, NTHREADS - 1);
    assert_int_equal(rcache__memo_waiters(g_one.c, "k", 1), -1);

    /* Now a hit. */
    char buf[16];
    size_t len = 0;
    assert_int_equal(rcache_get(g_one.c, "k", 1, buf, sizeof buf, &len),
                     RCACHE_OK);
    assert_int_equal(len, 9);
    pthread_barrier_destroy(&g_one.start);
    gate_destroy(&g_one.gate);
    rcache_close(g_one.c);
}

/* ---- 64 threads, 100 keys, interleaved ---------------------------------- */

typedef struct many {
    rcache_t *c;
    _Atomic int calls[NKEYS];
    _Atomic int bad;
    pthread_barrier_t start;
} many_t;

static many_t g_many;

static int compute_many(const void *key, size_t klen,
                        rcache_memo_result_t *out, void *ctx) {
    many_t *t = ctx;
    char tmp[16];
    int k;
    (void)ctx;
    if (klen >= sizeof tmp)
        return RCACHE_EUSER;
    memcpy(tmp, key, klen);
    tmp[klen] = 0;
    k = atoi(tmp + 4); /* "key-N" */
    atomic_fetch_add(&t->calls[k], 1);
    sched_yield(); /* widen the window for stampedes */
    char *v = malloc(32);
    if (!v)
        return RCACHE_ENOMEM;
    out->val_len = (size_t)snprintf(v, 32, "value-of-%d", k);
    out->val = v;
    out->val_free = free;
    return RCACHE_OK;
}

static void *many_thread(void *arg) {
    int id = (int)(intptr_t)arg;
    pthread_barrier_wait(&g_many.start);
    for (int j = 0; j < NKEYS; j++) {
        /* Each thread walks the keys in its own order. */
        int k = (id % 2) ? (j * 37 + id) % NKEYS : (NKEYS - 1 - j + id) % NKEYS;
        char key[16], want[32];
        void *v = NULL;
        size_t len = 0;
        int n = snprintf(key, sizeof key, "key-%d", k);
        int wl = snprintf(want, sizeof want, "value-of-%d", k);
        int rc = rcache_memoize_copy(g_many.c, key, (size_t)n, compute_many,
                                     &g_many, NULL, &v, &len);
        if (rc != RCACHE_OK || len != (size_t)wl || memcmp(v, want, len))
            atomic_fetch_add(&g_many.bad, 1);
        free(v);
    }
    return NULL;
}

static void test_64_threads_100_keys(void **state) {
    pthread_t th[NTHREADS];
    rcache_stats_t st;
    (void)state;

    g_many.c = open_cache_clock(NULL);
    assert_non_null(g_many.c);
    for (int k = 0; k < NKEYS; k++)
        atomic_store(&g_many.calls[k], 0);
    atomic_store(&g_many.bad, 0);
    pthread_barrier_init(&g_many.start, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, many_thread,
                                        (void *)(intptr_t)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&g_many.bad), 0);
    for (int k = 0; k < NKEYS; k++)
        assert_int_equal(atomic_load(&g_many.calls[k]), 1);
    rcache_stats(g_many.c, &st);
    assert_int_equal(st.computations, NKEYS);
    /* Every other request was a hit or shared a computation. */
    assert_int_equal(st.hits + st.singleflight_dedup,
                     (uint64_t)NTHREADS * NKEYS - NKEYS);
    assert_int_equal(st.items, NKEYS);
    pthread_barrier_destroy(&g_many.start);
    rcache_close(g_many.c);
}

/* ---- callbacks using the cache ------------------------------------------ */

typedef struct nested {
    rcache_t *c;
    int inner_calls;
} nested_t;

static int compute_inner(const void *key, size_t klen,
                         rcache_memo_result_t *out, void *ctx) {
    nested_t *n = ctx;
    n->inner_calls++;
    out->val = "inner";
    out->val_len = 5;
    (void)key;
    (void)klen;
    return RCACHE_OK;
}

static int compute_outer(const void *key, size_t klen,
                         rcache_memo_result_t *out, void *ctx) {
    nested_t *n = ctx;
    rcache_ref_t *ref = NULL;
    size_t len = 0;
    int rc;
    (void)key;
    (void)klen;
    /* Plain cache calls on other keys... */
    if ((rc = rcache_set(n->c, "side", 4, "x", 1, 0, 0)))
        return rc;
    /* ...and a nested memoized key. */
    if ((rc = rcache_memoize(n->c, "inner", 5, compute_inner, n, NULL, &ref,
                             NULL)))
        return rc;
    const char *v = rcache_ref_value(ref, &len);
    char *buf = malloc(len + 6);
    memcpy(buf, "outer+", 6);
    memcpy(buf + 6, v, len);
    rcache_release(ref);
    out->val = buf;
    out->val_len = len + 6;
    out->val_free = free;
    return RCACHE_OK;
}

static void test_callback_uses_cache(void **state) {
    nested_t n = {open_cache_clock(NULL), 0};
    void *v = NULL;
    size_t len = 0;
    (void)state;
    assert_non_null(n.c);
    assert_int_equal(rcache_memoize_copy(n.c, "outer", 5, compute_outer, &n,
                                         NULL, &v, &len), RCACHE_OK);
    assert_int_equal(len, 11);
    assert_memory_equal(v, "outer+inner", 11);
    free(v);
    assert_int_equal(n.inner_calls, 1);
    assert_int_equal(rcache_exists(n.c, "side", 4), 1);
    assert_int_equal(rcache_exists(n.c, "inner", 5), 1);
    rcache_close(n.c);
}

/* ---- object results ------------------------------------------------------ */

typedef struct obj_ctx {
    _Atomic int made, destroyed;
} obj_ctx_t;

static void obj_dtor(void *obj, void *ctx) {
    obj_ctx_t *o = ctx;
    free(obj);
    atomic_fetch_add(&o->destroyed, 1);
}

static int compute_obj(const void *key, size_t klen, rcache_memo_result_t *out,
                       void *ctx) {
    obj_ctx_t *o = ctx;
    int *p = malloc(sizeof *p);
    (void)key;
    (void)klen;
    if (!p)
        return RCACHE_ENOMEM;
    *p = 42;
    atomic_fetch_add(&o->made, 1);
    out->obj = p;
    out->charge_bytes = 100;
    out->dtor = obj_dtor;
    out->dtor_ctx = o;
    return RCACHE_OK;
}

static void test_object_results(void **state) {
    obj_ctx_t o;
    rcache_ref_t *r1 = NULL, *r2 = NULL;
    rcache_t *c = open_cache_clock(NULL);
    int how = 0;
    void *copy = NULL;
    (void)state;
    atomic_store(&o.made, 0);
    atomic_store(&o.destroyed, 0);

    assert_int_equal(rcache_memoize(c, "obj", 3, compute_obj, &o, NULL, &r1,
                                    &how), RCACHE_OK);
    assert_int_equal(how, RCACHE_MEMO_COMPUTED);
    assert_int_equal(*(int *)rcache_ref_object(r1), 42);
    assert_int_equal(rcache_memoize(c, "obj", 3, compute_obj, &o, NULL, &r2,
                                    &how), RCACHE_OK);
    assert_int_equal(how, RCACHE_MEMO_HIT);
    assert_ptr_equal(rcache_ref_object(r1), rcache_ref_object(r2));
    assert_int_equal(rcache_ref_memo_error(r2), 0);
    /* A byte copy of an object is refused (it stays cached). */
    assert_int_equal(rcache_memoize_copy(c, "obj", 3, compute_obj, &o, NULL,
                                         &copy, NULL), RCACHE_EWRONGTYPE);
    /* Deleting the cached entry does not end the object while refs live. */
    assert_int_equal(rcache_delete(c, "obj", 3), RCACHE_OK);
    assert_int_equal(atomic_load(&o.destroyed), 0);
    rcache_release(r2);
    assert_int_equal(atomic_load(&o.destroyed), 0);
    rcache_release(r1);
    assert_int_equal(atomic_load(&o.destroyed), 1);

    /* Stored and still referenced at close: destroyed once. */
    assert_int_equal(rcache_memoize(c, "obj2", 4, compute_obj, &o, NULL, &r1,
                                    NULL), RCACHE_OK);
    rcache_release(r1);
    rcache_close(c);
    assert_int_equal(atomic_load(&o.made), 2);
    assert_int_equal(atomic_load(&o.destroyed), 2);

    /* A disabled cache stores nothing; the caller still gets the object. */
    c = open_cache_clock(NULL);
    rcache_set_disabled(c, 1);
    assert_int_equal(rcache_memoize(c, "obj", 3, compute_obj, &o, NULL, &r1,
                                    &how), RCACHE_OK);
    assert_int_equal(*(int *)rcache_ref_object(r1), 42);
    assert_int_equal(atomic_load(&o.destroyed), 2);
    rcache_release(r1);
    assert_int_equal(atomic_load(&o.destroyed), 3);
    rcache_close(c);
}

/* ---- bypass switch, refresh, no_store ------------------------------------ */

static int compute_count(const void *key, size_t klen,
                         rcache_memo_result_t *out, void *ctx) {
    int *n = ctx;
    static _Thread_local char buf[16];
    (void)key;
    (void)klen;
    (*n)++;
    out->val_len = (size_t)snprintf(buf, sizeof buf, "v%d", *n);
    out->val = buf;
    return RCACHE_OK;
}

static int compute_nostore(const void *key, size_t klen,
                           rcache_memo_result_t *out, void *ctx) {
    int rc = compute_count(key, klen, out, ctx);
    out->no_store = 1;
    return rc;
}

static void test_bypass_refresh_nostore(void **state) {
    rcache_t *c = open_cache_clock(NULL);
    rcache_memo_opts_t o;
    rcache_ref_t *r = NULL;
    int n = 0, how = 0;
    size_t len;
    (void)state;

    rcache_memo_opts_init(&o);
    o.flags = RCACHE_MEMO_BYPASS;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(rcache_memoize(c, "b", 1, compute_count, &n, &o, &r,
                                        &how), RCACHE_OK);
        assert_int_equal(how, RCACHE_MEMO_BYPASSED);
        assert_int_equal(n, i);
        rcache_release(r);
    }
    assert_int_equal(rcache_exists(c, "b", 1), 0);

    o.flags = 0;
    assert_int_equal(rcache_memoize(c, "b", 1, compute_count, &n, &o, &r,
                                    &how), RCACHE_OK);
    assert_int_equal(how, RCACHE_MEMO_COMPUTED);
    assert_memory_equal(rcache_ref_value(r, &len), "v4", 2);
    rcache_release(r);
    o.flags = RCACHE_MEMO_REFRESH;
    assert_int_equal(rcache_memoize(c, "b", 1, compute_count, &n, &o, &r,
                                    &how), RCACHE_OK);
    assert_int_equal(how, RCACHE_MEMO_COMPUTED);
    rcache_release(r);
    char buf[8];
    assert_int_equal(rcache_get(c, "b", 1, buf, sizeof buf, &len), RCACHE_OK);
    assert_memory_equal(buf, "v5", 2);

    o.flags = 0;
    assert_int_equal(rcache_memoize(c, "ns", 2, compute_nostore, &n, &o, &r,
                                    &how), RCACHE_OK);
    assert_memory_equal(rcache_ref_value(r, &len), "v6", 2);
    rcache_release(r);
    assert_int_equal(rcache_exists(c, "ns", 2), 0);

    /* fn NULL: lookup only. */
    assert_int_equal(rcache_memoize(c, "none", 4, NULL, NULL, NULL, &r, NULL),
                     RCACHE_ENOTFOUND);
    assert_null(r);
    assert_int_equal(rcache_memoize(c, "b", 1, NULL, NULL, NULL, &r, &how),
                     RCACHE_OK);
    assert_int_equal(how, RCACHE_MEMO_HIT);
    rcache_release(r);
    /* Bad arguments. */
    assert_int_equal(rcache_memoize(c, "b", 0, compute_count, &n, NULL, &r,
                                    NULL), RCACHE_EINVAL);
    assert_int_equal(rcache_memoize(c, "b", 1, compute_count, &n, NULL, NULL,
                                    NULL), RCACHE_EINVAL);
    o.flags = 0x80;
    assert_int_equal(rcache_memoize(c, "b", 1, compute_count, &n, &o, &r,
                                    NULL), RCACHE_EINVAL);
    rcache_close(c);
}

/* ---- RCACHE_MEMOIZE() macro ---------------------------------------------- */

typedef struct area_args {
    const char *shape;
    double size;
    int calls;
} area_args_t;

static int compute_area(const void *key, size_t klen,
                        rcache_memo_result_t *out, void *ctx) {
    area_args_t *a = ctx;
    static _Thread_local double v;
    (void)key;
    (void)klen;
    a->calls++;
    v = strcmp(a->shape, "square") == 0 ? a->size * a->size
                                        : 3.0 * a->size * a->size;
    out->val = &v;
    out->val_len = sizeof v;
    return RCACHE_OK;
}

static double area(rcache_t *c, const rcache_memo_opts_t *o, area_args_t *a) {
    rcache_ref_t *r = NULL;
    double v = -1;
    if (RCACHE_MEMOIZE(c, o, &r, compute_area, a, "area/v1", a->shape,
                       a->size) == RCACHE_OK) {
        memcpy(&v, rcache_ref_value(r, NULL), sizeof v);
        rcache_release(r);
    }
    return v;
}

static void test_memoize_macro(void **state) {
    rcache_t *c = open_cache_clock(NULL);
    rcache_memo_opts_t o;
    area_args_t a = {"square", 3.0, 0};
    (void)state;
    rcache_memo_opts_init(&o);
    assert_true(area(c, &o, &a) == 9.0);
    assert_true(area(c, &o, &a) == 9.0);
    assert_int_equal(a.calls, 1);
    a.shape = "circle";
    assert_true(area(c, &o, &a) == 27.0);
    assert_int_equal(a.calls, 2);
    o.flags = RCACHE_MEMO_BYPASS; /* this call site switched off */
    assert_true(area(c, &o, &a) == 27.0);
    assert_int_equal(a.calls, 3);
    /* The macro's key is the builder's key. */
    rcache_key_t k;
    const void *kb;
    size_t kl;
    rcache_key_init(&k, "area/v1");
    rcache_key_add_str(&k, "circle");
    rcache_key_add_double(&k, 3.0);
    assert_int_equal(rcache_key_finish(&k, &kb, &kl), RCACHE_OK);
    assert_int_equal(rcache_exists(c, kb, kl), 1);
    rcache_key_free(&k);
    uint64_t removed = 0;
    assert_int_equal(rcache_key_invalidate_ns(c, "area/v1", &removed),
                     RCACHE_OK);
    assert_int_equal(removed, 2);
    rcache_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_64_threads_one_key),
        cmocka_unit_test(test_64_threads_100_keys),
        cmocka_unit_test(test_callback_uses_cache),
        cmocka_unit_test(test_object_results),
        cmocka_unit_test(test_bypass_refresh_nostore),
        cmocka_unit_test(test_memoize_macro),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
