/*
 * test_memo_errors.c - failure paths of rcache_memoize(): a failing
 * callback's code reaches every waiter and is not cached; with negative
 * caching it is cached until its own TTL passes (manual clock, no
 * sleeping); waiters time out with RCACHE_ETIMEDOUT while the computation
 * goes on and is stored; a callback asking for its own key gets
 * RCACHE_EDEADLK; the non-blocking variant registers completions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "memo_test.h"

#define MY_ERR (RCACHE_EUSER - 5)

typedef struct ctl {
    rcache_t *c;
    gate_t gate;
    _Atomic int calls;
    int fail;   /* return MY_ERR */
    int use_gate;
} ctl_t;

static int compute_ctl(const void *key, size_t klen, rcache_memo_result_t *out,
                       void *ctx) {
    ctl_t *t = ctx;
    (void)key;
    (void)klen;
    atomic_fetch_add(&t->calls, 1);
    if (t->use_gate)
        gate_pass(&t->gate);
    if (t->fail)
        return MY_ERR;
    out->val = "ok";
    out->val_len = 2;
    return RCACHE_OK;
}

static void ctl_init(ctl_t *t, manual_clock_t *mc) {
    memset(t, 0, sizeof *t);
    t->c = open_cache_clock(mc);
    gate_init(&t->gate);
    atomic_store(&t->calls, 0);
}

static void ctl_fini(ctl_t *t) {
    gate_destroy(&t->gate);
    rcache_close(t->c);
}

typedef struct call {
    ctl_t *t;
    const rcache_memo_opts_t *opts;
    int rc;
    int how;
    pthread_t th;
} call_t;

static void *call_thread(void *arg) {
    call_t *a = arg;
    rcache_ref_t *ref = NULL;
    a->rc = rcache_memoize(a->t->c, "key", 3, compute_ctl, a->t, a->opts,
                           &ref, &a->how);
    rcache_release(ref);
    return NULL;
}

/* ---- errors reach every waiter and are not cached ---------------------- */

static void test_error_to_all_waiters(void **state) {
    ctl_t t;
    call_t calls[8];
    rcache_stats_t st;
    rcache_ref_t *ref = NULL;
    (void)state;
    ctl_init(&t, NULL);
    t.fail = 1;
    t.use_gate = 1;
    for (int i = 0; i < 8; i++) {
        calls[i] = (call_t){&t, NULL, 0, 0, 0};
        pthread_create(&calls[i].th, NULL, call_thread, &calls[i]);
    }
    gate_wait_entered(&t.gate, 1);
    wait_for_waiters(t.c, "key", 7);
    gate_open(&t.gate);
    for (int i = 0; i < 8; i++) {
        pthread_join(calls[i].th, NULL);
        assert_int_equal(calls[i].rc, MY_ERR);
    }
    assert_int_equal(atomic_load(&t.calls), 1);
    rcache_stats(t.c, &st);
    assert_int_equal(st.computations, 1);
    assert_int_equal(st.singleflight_dedup, 7);
    /* Not cached: the next request computes again, and now succeeds. */
    assert_int_equal(rcache_exists(t.c, "key", 3), 0);
    t.fail = 0;
    t.use_gate = 0;
    assert_int_equal(rcache_memoize(t.c, "key", 3, compute_ctl, &t, NULL,
                                    &ref, NULL), RCACHE_OK);
    assert_int_equal(atomic_load(&t.calls), 2);
    rcache_release(ref);
    ctl_fini(&t);
}

/* ---- negative caching ---------------------------------------------------- */

static void test_negative_caching(void **state) {
    manual_clock_t mc;
    ctl_t t;
    rcache_memo_opts_t o;
    rcache_ref_t *ref = NULL;
    rcache_memo_stats_t ms;
    char buf[8];
    size_t len;
    int how = 0;
    (void)state;
    ctl_init(&t, &mc);
    rcache_memo_opts_init(&o);
    o.ttl_ms = 60000;
    o.error_ttl_ms = 1000;
    t.fail = 1;

    assert_int_equal(rcache_memoize(t.c, "key", 3, compute_ctl, &t, &o, &ref,
                                    &how), MY_ERR);
    assert_null(ref);
    assert_int_equal(how, RCACHE_MEMO_COMPUTED);
    assert_int_equal(atomic_load(&t.calls), 1);

    /* Within error_ttl_ms: the failure comes from the cache. */
    atomic_fetch_add(&mc.now_ms, 999);
    assert_int_equal(rcache_memoize(t.c, "key", 3, compute_ctl, &t, &o, &ref,
                                    &how), MY_ERR);
    assert_int_equal(how, RCACHE_MEMO_HIT);
    assert_int_equal(atomic_load(&t.calls), 1);
    /* What plain calls see. */
    assert_int_equal(rcache_get(t.c, "key", 3, buf, sizeof buf, &len),
                     RCACHE_EWRONGTYPE);
    assert_int_equal(rcache_get_ref(t.c, "key", 3, &ref), RCACHE_OK);
    assert_int_equal(rcache_ref_memo_error(ref), MY_ERR);
    rcache_release(ref);
    int64_t ttl = 0;
    assert_int_equal(rcache_ttl(t.c, "key", 3, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 1);
    rcache_memo_stats(t.c, &ms);
    assert_int_equal(ms.negative_hits, 1);
    assert_int_equal(ms.errors, 1);

    /* Its own TTL passes: computed again (and this time it works). */
    atomic_fetch_add(&mc.now_ms, 1);
    t.fail = 0;
    assert_int_equal(rcache_memoize(t.c, "key", 3, compute_ctl, &t, &o, &ref,
                                    &how), RCACHE_OK);
    assert_int_equal(how, RCACHE_MEMO_COMPUTED);
    assert_int_equal(atomic_load(&t.calls), 2);
    rcache_release(ref);
    assert_int_equal(rcache_get(t.c, "key", 3, buf, sizeof buf, &len),
                     RCACHE_OK);
    assert_int_equal(rcache_ttl(t.c, "key", 3, &ttl), RCACHE_OK);
    assert_int_equal(ttl, 60000);
    ctl_fini(&t);
}

/* ---- timeouts ------------------------------------------------------------ */

static void test_timeout(void **state) {
    ctl_t t;
    call_t computer, waiter;
    rcache_memo_opts_t o0, o50;
    rcache_memo_stats_t ms;
    rcache_ref_t *ref = NULL;
    char buf[8];
    size_t len;
    (void)state;
    ctl_init(&t, NULL);
    t.use_gate = 1;
    rcache_memo_opts_init(&o0);
    o0.wait_timeout_ms = 0;
    rcache_memo_opts_init(&o50);
    o50.wait_timeout_ms = 30;

    computer = (call_t){&t, NULL, 0, 0, 0};
    pthread_create(&computer.th, NULL, call_thread, &computer);
    gate_wait_entered(&t.gate, 1);

    /* Don't wait at all. */
    assert_int_equal(rcache_memoize(t.c, "key", 3, compute_ctl, &t, &o0, &ref,
                                    NULL), RCACHE_ETIMEDOUT);
    assert_null(ref);
    /* Wait 30 ms: the gate is still closed, so it times out. */
    waiter = (call_t){&t, &o50, 0, 0, 0};
    pthread_create(&waiter.th, NULL, call_thread, &waiter);
    pthread_join(waiter.th, NULL);
    assert_int_equal(waiter.rc, RCACHE_ETIMEDOUT);
    assert_int_equal(rcache__memo_waiters(t.c, "key", 3), 0);

    /* The computation goes on and is stored. */
    gate_open(&t.gate);
    pthread_join(computer.th, NULL);
    assert_int_equal(computer.rc, RCACHE_OK);
    assert_int_equal(rcache_get(t.c, "key", 3, buf, sizeof buf, &len),
                     RCACHE_OK);
    assert_memory_equal(buf, "ok", 2);
    assert_int_equal(atomic_load(&t.calls), 1);
    rcache_memo_stats(t.c, &ms);
    assert_int_equal(ms.timeouts, 2);
    assert_int_equal(ms.singleflight_dedup, 0);
    ctl_fini(&t);
}

/* ---- recursive self-request ----------------------------------------------- */

typedef struct rec {
    rcache_t *c;
    int inner_rc;
    int depth;
} rec_t;

static int compute_self(const void *key, size_t klen,
                        rcache_memo_result_t *out, void *ctx) {
    rec_t *r = ctx;
    rcache_ref_t *ref = NULL;
    r->inner_rc = rcache_memoize(r->c, key, klen, compute_self, r, NULL, &ref,
                                 NULL);
    rcache_release(ref);
    out->val = "x";
    out->val_len = 1;
    return RCACHE_OK;
}

/* a -> b -> a */
static int compute_ab(const void *key, size_t klen, rcache_memo_result_t *out,
                      void *ctx) {
    rec_t *r = ctx;
    rcache_ref_t *ref = NULL;
    int rc;
    r->depth++;
    if (klen == 1 && *(const char *)key == 'a')
        rc = rcache_memoize(r->c, "b", 1, compute_ab, r, NULL, &ref, NULL);
    else
        rc = r->inner_rc =
            rcache_memoize(r->c, "a", 1, compute_ab, r, NULL, &ref, NULL);
    rcache_release(ref);
    out->val = "y";
    out->val_len = 1;
    return rc == RCACHE_EDEADLK ? RCACHE_OK : rc;
}

static void done_noop(int err, rcache_ref_t *ref, void *ctx) {
    (void)err;
    (void)ctx;
    rcache_release(ref);
}

static int compute_self_async(const void *key, size_t klen,
                              rcache_memo_result_t *out, void *ctx) {
    rec_t *r = ctx;
    rcache_ref_t *ref = NULL;
    r->inner_rc = rcache_memoize_async(r->c, key, klen, compute_self_async, r,
                                       NULL, done_noop, NULL, &ref);
    rcache_release(ref);
    out->val = "z";
    out->val_len = 1;
    return RCACHE_OK;
}

static void test_recursive_self_request(void **state) {
    rec_t r = {open_cache_clock(NULL), 0, 0};
    rcache_ref_t *ref = NULL;
    rcache_memo_stats_t ms;
    (void)state;
    assert_int_equal(rcache_memoize(r.c, "self", 4, compute_self, &r, NULL,
                                    &ref, NULL), RCACHE_OK);
    assert_int_equal(r.inner_rc, RCACHE_EDEADLK);
    rcache_release(ref);

    assert_int_equal(rcache_memoize(r.c, "a", 1, compute_ab, &r, NULL, &ref,
                                    NULL), RCACHE_OK);
    assert_int_equal(r.inner_rc, RCACHE_EDEADLK);
    assert_int_equal(r.depth, 2);
    rcache_release(ref);

    assert_int_equal(rcache_memoize(r.c, "as", 2, compute_self_async, &r,
                                    NULL, &ref, NULL), RCACHE_OK);
    assert_int_equal(r.inner_rc, RCACHE_EDEADLK);
    rcache_release(ref);
    rcache_memo_stats(r.c, &ms);
    assert_int_equal(ms.deadlocks, 3);
    /* The same key on another cache is not a self-request. */
    rcache_close(r.c);
}

/* ---- non-blocking variant ------------------------------------------------- */

typedef struct got {
    _Atomic int n;
    int err[4];
    char val[4][4];
} got_t;

static void done_record(int err, rcache_ref_t *ref, void *ctx) {
    got_t *g = ctx;
    int i = atomic_load(&g->n);
    g->err[i] = err;
    if (ref) {
        size_t len = 0;
        const void *v = rcache_ref_value(ref, &len);
        memcpy(g->val[i], v, len < 3 ? len : 3);
        rcache_release(ref);
    }
    atomic_store(&g->n, i + 1);
}

static void test_async(void **state) {
    ctl_t t;
    call_t computer;
    got_t g;
    rcache_ref_t *ref = NULL;
    rcache_stats_t st;
    (void)state;
    memset(&g, 0, sizeof g);
    ctl_init(&t, NULL);
    t.use_gate = 1;

    /* Miss, nothing in flight, fn NULL: not found, nothing registered. */
    assert_int_equal(rcache_memoize_async(t.c, "key", 3, NULL, NULL, NULL,
                                          done_record, &g, &ref),
                     RCACHE_ENOTFOUND);
    computer = (call_t){&t, NULL, 0, 0, 0};
    pthread_create(&computer.th, NULL, call_thread, &computer);
    gate_wait_entered(&t.gate, 1);
    /* In flight: completions are registered, RCACHE_EAGAIN. */
    assert_int_equal(rcache_memoize_async(t.c, "key", 3, compute_ctl, &t,
                                          NULL, done_record, &g, &ref),
                     RCACHE_EAGAIN);
    assert_null(ref);
    assert_int_equal(rcache_memoize_async(t.c, "key", 3, NULL, NULL, NULL,
                                          done_record, &g, &ref),
                     RCACHE_EAGAIN);
    assert_int_equal(rcache__memo_waiters(t.c, "key", 3), 2);
    assert_int_equal(atomic_load(&g.n), 0);
    gate_open(&t.gate);
    pthread_join(computer.th, NULL);
    assert_int_equal(atomic_load(&g.n), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(g.err[i], RCACHE_OK);
        assert_string_equal(g.val[i], "ok");
    }
    rcache_stats(t.c, &st);
    assert_int_equal(st.computations, 1);
    assert_int_equal(st.singleflight_dedup, 2);
    /* Hit: answered at once, the completion is not called. */
    assert_int_equal(rcache_memoize_async(t.c, "key", 3, compute_ctl, &t,
                                          NULL, done_record, &g, &ref),
                     RCACHE_OK);
    assert_memory_equal(rcache_ref_value(ref, NULL), "ok", 2);
    rcache_release(ref);
    assert_int_equal(atomic_load(&g.n), 2);

    /* A failing computation delivers its error to completions. */
    memset(&g, 0, sizeof g);
    t.fail = 1;
    gate_destroy(&t.gate);
    gate_init(&t.gate);
    computer = (call_t){&t, NULL, 0, 0, 0};
    rcache_delete(t.c, "key", 3);
    pthread_create(&computer.th, NULL, call_thread, &computer);
    gate_wait_entered(&t.gate, 1);
    assert_int_equal(rcache_memoize_async(t.c, "key", 3, compute_ctl, &t,
                                          NULL, done_record, &g, &ref),
                     RCACHE_EAGAIN);
    gate_open(&t.gate);
    pthread_join(computer.th, NULL);
    assert_int_equal(computer.rc, MY_ERR);
    assert_int_equal(atomic_load(&g.n), 1);
    assert_int_equal(g.err[0], MY_ERR);
    /* Without a completion: EINVAL. */
    assert_int_equal(rcache_memoize_async(t.c, "key", 3, compute_ctl, &t,
                                          NULL, NULL, NULL, &ref),
                     RCACHE_EINVAL);
    ctl_fini(&t);
}

/* ---- allocation failures (RCACHE_ALLOC_FAIL builds only) ---------------- */

#ifdef RCACHE_ALLOC_FAIL
void rcache__alloc_fail_after(long nth, int sticky);

static void obj_free(void *obj, void *ctx) {
    _Atomic int *n = ctx;
    free(obj);
    atomic_fetch_add(n, 1);
}

static _Atomic int objs_made;

static int compute_alloc_obj(const void *key, size_t klen,
                             rcache_memo_result_t *out, void *ctx) {
    int *p = malloc(sizeof *p);
    atomic_fetch_add(&objs_made, 1);
    (void)key;
    (void)klen;
    *p = 7;
    out->obj = p;
    out->charge_bytes = 4;
    out->dtor = obj_free;
    out->dtor_ctx = ctx;
    return RCACHE_OK;
}

/* Fail the n-th allocation for n = 1, 2, ...: every call returns RCACHE_OK
 * (a result, cached or not) or RCACHE_ENOMEM, objects are destroyed exactly
 * once, and nothing leaks (ASan build). */
static void test_alloc_failures(void **state) {
    _Atomic int freed = 0;
    int ok = 0;
    (void)state;
    for (long n = 1; n < 40; n++) {
        rcache_t *c = open_cache_clock(NULL);
        rcache_ref_t *ref = NULL;
        rcache_key_t *k;
        ctl_t t;
        int rc;
        assert_non_null(c);
        memset(&t, 0, sizeof t);
        rcache__alloc_fail_after(n, 0);
        rc = rcache_memoize(c, "obj", 3, compute_alloc_obj, &freed, NULL,
                            &ref, NULL);
        assert_true(rc == RCACHE_OK || rc == RCACHE_ENOMEM);
        ok += rc == RCACHE_OK;
        rcache_release(ref);
        rcache__alloc_fail_after(n, 0);
        rc = rcache_memoize(c, "bytes", 5, compute_ctl, &t, NULL, &ref, NULL);
        assert_true(rc == RCACHE_OK || rc == RCACHE_ENOMEM);
        rcache_release(ref);
        rcache__alloc_fail_after(n, 0);
        k = RCACHE_KEY_ARGS("ns", "a long string argument that does not fit "
                                  "in the inline buffer of the builder, "
                                  "so that it has to grow on the heap ....",
                            1, 2.0);
        rc = rcache_memoize_key(c, k, compute_ctl, &t, NULL, &ref, NULL);
        assert_true(rc == RCACHE_OK || rc == RCACHE_ENOMEM);
        rcache_release(ref);
        rcache__alloc_fail_after(0, 0);
        rcache_close(c);
        assert_int_equal(atomic_load(&freed), atomic_load(&objs_made));
    }
    assert_true(ok > 0);
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_to_all_waiters),
        cmocka_unit_test(test_negative_caching),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_recursive_self_request),
        cmocka_unit_test(test_async),
#ifdef RCACHE_ALLOC_FAIL
        cmocka_unit_test(test_alloc_failures),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
