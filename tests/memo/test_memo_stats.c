/*
 * test_memo_stats.c - what the cache reports it saved: with a manual clock
 * that the callback moves forward (a "250 ms computation" without
 * sleeping), the entry records compute_ms, every hit adds it to
 * compute_saved_ms, computations counts callback runs and
 * singleflight_dedup counts callers served by another caller's run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "memo_test.h"

typedef struct job {
    rcache_t *c;
    manual_clock_t *mc;
    uint64_t cost_ms;
    gate_t gate;
    int use_gate;
    _Atomic int calls;
} job_t;

static int compute_costly(const void *key, size_t klen,
                          rcache_memo_result_t *out, void *ctx) {
    job_t *j = ctx;
    (void)key;
    (void)klen;
    atomic_fetch_add(&j->calls, 1);
    if (j->use_gate)
        gate_pass(&j->gate);
    atomic_fetch_add(&j->mc->now_ms, j->cost_ms); /* "takes" cost_ms */
    out->val = "result";
    out->val_len = 6;
    return RCACHE_OK;
}

typedef struct call {
    job_t *j;
    const char *key;
    int rc, how;
    pthread_t th;
} call_t;

static void *call_thread(void *arg) {
    call_t *a = arg;
    rcache_ref_t *ref = NULL;
    a->rc = rcache_memoize(a->j->c, a->key, strlen(a->key), compute_costly,
                           a->j, NULL, &ref, &a->how);
    rcache_release(ref);
    return NULL;
}

static void done_release(int err, rcache_ref_t *ref, void *ctx) {
    _Atomic int *n = ctx;
    if (err == RCACHE_OK)
        atomic_fetch_add(n, 1);
    rcache_release(ref);
}

static void test_time_saved_and_dedup(void **state) {
    manual_clock_t mc;
    job_t j;
    rcache_ref_t *ref = NULL;
    rcache_stats_t st;
    rcache_memo_stats_t ms;
    rcache_entry_info_t info;
    call_t calls[6];
    _Atomic int async_done = 0;
    int how = 0;
    (void)state;

    memset(&j, 0, sizeof j);
    j.c = open_cache_clock(&mc);
    j.mc = &mc;
    j.cost_ms = 250;
    gate_init(&j.gate);
    atomic_store(&j.calls, 0);

    /* One computation of 250 ms, then 3 hits: 750 ms saved. */
    assert_int_equal(rcache_memoize(j.c, "a", 1, compute_costly, &j, NULL,
                                    &ref, &how), RCACHE_OK);
    assert_int_equal(how, RCACHE_MEMO_COMPUTED);
    rcache_release(ref);
    assert_int_equal(rcache_entry_info(j.c, "a", 1, &info), RCACHE_OK);
    assert_int_equal(info.compute_ms, 250);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rcache_memoize(j.c, "a", 1, compute_costly, &j, NULL,
                                        &ref, &how), RCACHE_OK);
        assert_int_equal(how, RCACHE_MEMO_HIT);
        rcache_release(ref);
    }
    rcache_stats(j.c, &st);
    assert_int_equal(st.computations, 1);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.compute_saved_ms, 750);
    assert_int_equal(st.singleflight_dedup, 0);

    /* Key "b" costs 400 ms; 5 blocked waiters and 2 completions share the
     * one computation: 7 deduplicated, 7 x 400 ms spared. */
    j.cost_ms = 400;
    j.use_gate = 1;
    for (int i = 0; i < 6; i++) {
        calls[i] = (call_t){&j, "b", 0, 0, 0};
        pthread_create(&calls[i].th, NULL, call_thread, &calls[i]);
    }
    gate_wait_entered(&j.gate, 1);
    wait_for_waiters(j.c, "b", 5);
    for (int i = 0; i < 2; i++)
        assert_int_equal(rcache_memoize_async(j.c, "b", 1, compute_costly, &j,
                                              NULL, done_release,
                                              &async_done, &ref),
                         RCACHE_EAGAIN);
    gate_open(&j.gate);
    int computed = 0, shared = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(calls[i].th, NULL);
        assert_int_equal(calls[i].rc, RCACHE_OK);
        computed += calls[i].how == RCACHE_MEMO_COMPUTED;
        shared += calls[i].how == RCACHE_MEMO_SHARED;
    }
    assert_int_equal(computed, 1);
    assert_int_equal(shared, 5);
    assert_int_equal(atomic_load(&async_done), 2);
    assert_int_equal(atomic_load(&j.calls), 2);

    /* Two hits on "b": +800 ms saved. */
    j.use_gate = 0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rcache_memoize(j.c, "b", 1, compute_costly, &j, NULL,
                                        &ref, NULL), RCACHE_OK);
        rcache_release(ref);
    }
    rcache_stats(j.c, &st);
    assert_int_equal(st.computations, 2);
    assert_int_equal(st.singleflight_dedup, 7);
    assert_int_equal(st.compute_saved_ms, 750 + 800);
    rcache_memo_stats(j.c, &ms);
    assert_int_equal(ms.computations, 2);
    assert_int_equal(ms.singleflight_dedup, 7);
    assert_int_equal(ms.compute_ms_total, 250 + 400);
    assert_int_equal(ms.dedup_saved_ms, 7 * 400);
    assert_int_equal(ms.errors, 0);
    assert_int_equal(ms.in_flight, 0);
    assert_int_equal(rcache_entry_info(j.c, "b", 1, &info), RCACHE_OK);
    assert_int_equal(info.compute_ms, 400);
    assert_int_equal(info.access_count, 2);

    /* A bypassed call counts as a computation and saves nothing. */
    rcache_memo_opts_t o;
    rcache_memo_opts_init(&o);
    o.flags = RCACHE_MEMO_BYPASS;
    j.cost_ms = 10;
    assert_int_equal(rcache_memoize(j.c, "a", 1, compute_costly, &j, &o, &ref,
                                    &how), RCACHE_OK);
    assert_int_equal(how, RCACHE_MEMO_BYPASSED);
    rcache_release(ref);
    rcache_stats(j.c, &st);
    assert_int_equal(st.computations, 3);
    assert_int_equal(st.compute_saved_ms, 1550);

    gate_destroy(&j.gate);
    rcache_close(j.c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_saved_and_dedup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
