/*
 * test_mrc_traces.c - the miss-ratio-curve estimator (rcache_mrc_*, SHARDS
 * fixed-size, default 2 MiB bound) against an exact LRU replay of every
 * shared trace with at least 50k requests: the mean absolute error of the
 * hit ratio over cache sizes 1%..50% of the unique keys is <= 0.02 (item
 * curve), and for the traces with object sizes the byte curve is checked
 * the same way against an exact byte-bounded LRU stack.
 *
 * The exact reference is computed independently of the estimator: every
 * request's LRU stack distance (distinct keys since the key's previous
 * request) from a Fenwick tree over request times, no sampling. It is
 * checked against the README's hit ratios at 1% and 10% when the whole
 * trace is replayed. Long traces are cut at MAX_REQ requests so the test
 * stays within ~30 s on a loaded 2-core machine.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rcache.h"
#include "trace.h"
#include "traces_ref.h"

#define MAX_REQ 400000u
#define MAE_LIMIT 0.02

typedef struct kv {
    uint64_t hash;
    uint32_t last; /* request index + 1; 0 = empty slot */
    uint64_t size;
} kv_t;

typedef struct exact {
    kv_t *tab;
    size_t mask;
    int64_t *fw_cnt; /* over request times */
    uint64_t *fw_bytes;
    size_t n;        /* times */
    uint64_t *dist;  /* per request: stack distance in items (0 = cold) */
    uint64_t *bdist; /* in bytes, own size included (0 = cold) */
    uint64_t unique;
    uint64_t live_bytes;
} exact_t;

static void fw_add(exact_t *x, size_t t, int64_t c, int64_t b) {
    for (size_t i = t + 1; i <= x->n; i += i & (~i + 1)) {
        x->fw_cnt[i - 1] += c;
        x->fw_bytes[i - 1] += (uint64_t)b;
    }
}

static void fw_sum(exact_t *x, size_t t, int64_t *c, uint64_t *b) {
    *c = 0;
    *b = 0;
    for (size_t i = t + 1; i > 0; i -= i & (~i + 1)) {
        *c += x->fw_cnt[i - 1];
        *b += x->fw_bytes[i - 1];
    }
}

static kv_t *find(exact_t *x, uint64_t h) {
    size_t i = (size_t)h & x->mask;
    while (x->tab[i].last && x->tab[i].hash != h)
        i = (i + 1) & x->mask;
    return &x->tab[i];
}

/* One request at time t (0-based). */
static void exact_ref(exact_t *x, size_t t, uint64_t h, uint64_t size) {
    kv_t *e = find(x, h);
    if (e->last) {
        int64_t c;
        uint64_t b;
        size_t prev = e->last - 1;
        fw_sum(x, prev, &c, &b);
        x->dist[t] = x->unique - (uint64_t)c + 1;
        x->bdist[t] = x->live_bytes - b + size;
        fw_add(x, prev, -1, -(int64_t)e->size);
        x->live_bytes -= e->size;
    } else {
        e->hash = h;
        x->unique++;
        x->dist[t] = x->bdist[t] = 0;
    }
    e->last = (uint32_t)t + 1;
    e->size = size;
    fw_add(x, t, 1, (int64_t)size);
    x->live_bytes += size;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Exact hit ratio at capacity cap from sorted distances (cold = 0 excluded). */
static double exact_hit(const uint64_t *sorted, size_t n, uint64_t cap) {
    size_t lo = 0, hi = n; /* first index with value > cap */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sorted[mid] <= cap)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t cold = 0;
    while (cold < n && sorted[cold] == 0)
        cold++;
    return (double)(lo - cold) / (double)n;
}

static const double PCTS[] = {1, 2, 3, 5, 7, 10, 15, 20, 25, 30, 40, 50};
#define NPCT (sizeof PCTS / sizeof PCTS[0])

static void check_trace(const trace_ref_t *r, size_t mem, double *worst) {
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/%s", RCACHE_TRACES_DIR, r->file);
    rcache__trace_t *t = rcache__trace_open(path, RCACHE__TF_AUTO, RCACHE__Z_DETECT, err,
                                            sizeof err);
    if (!t)
        fail_msg("%s", err);
    size_t cap = r->requests < MAX_REQ ? r->requests : MAX_REQ;
    exact_t x = {0};
    size_t tsz = 1;
    while (tsz < cap * 2)
        tsz *= 2;
    x.tab = calloc(tsz, sizeof *x.tab);
    x.mask = tsz - 1;
    x.n = cap;
    x.fw_cnt = calloc(cap, sizeof *x.fw_cnt);
    x.fw_bytes = calloc(cap, sizeof *x.fw_bytes);
    x.dist = calloc(cap, sizeof *x.dist);
    x.bdist = calloc(cap, sizeof *x.bdist);
    assert_non_null(x.tab);
    assert_non_null(x.fw_cnt);
    assert_non_null(x.fw_bytes);
    assert_non_null(x.dist);
    assert_non_null(x.bdist);

    rcache_mrc_t *m = NULL;
    assert_int_equal(rcache_mrc_new(mem, 1.0, &m), RCACHE_OK);
    rcache__trace_req_t req;
    size_t n = 0;
    int has_size = 0;
    while (n < cap && rcache__trace_next(t, &req) == 1) {
        uint64_t h = rcache_key_hash(req.key, req.key_len);
        uint64_t size = req.has_size && req.size ? req.size : 1;
        has_size |= req.has_size;
        rcache_mrc_access(m, h, size);
        exact_ref(&x, n, h, size);
        n++;
    }
    rcache__trace_close(t);
    assert_int_equal(n, cap);
    qsort(x.dist, n, sizeof *x.dist, cmp_u64);
    qsort(x.bdist, n, sizeof *x.bdist, cmp_u64);

    if (cap == r->requests) { /* the reference itself against the README */
        assert_int_equal(x.unique, r->unique);
        assert_true(fabs(exact_hit(x.dist, n, r->cap1) - r->hit1) < 6e-5);
        assert_true(fabs(exact_hit(x.dist, n, r->cap10) - r->hit10) < 6e-5);
    }

    double mae = 0, bmae = 0, total_bytes = (double)x.live_bytes;
    for (size_t i = 0; i < NPCT; i++) {
        uint64_t c = (uint64_t)floor((double)x.unique * PCTS[i] / 100.0);
        if (c < 1)
            c = 1;
        mae += fabs(rcache_mrc_hit_ratio(m, c) - exact_hit(x.dist, n, c));
        uint64_t cb = (uint64_t)(total_bytes * PCTS[i] / 100.0);
        bmae += fabs(rcache_mrc_hit_ratio_bytes(m, cb) - exact_hit(x.bdist, n, cb));
    }
    mae /= NPCT;
    bmae /= NPCT;
    rcache_mrc_info_t info;
    rcache_mrc_info(m, &info);
    print_message("    %-50s req %7zu uniq %6llu rate %.3f keys %5u mem %zu  MAE items %.4f "
                  "bytes %.4f\n",
                  r->file, n, (unsigned long long)x.unique, info.sampling_rate,
                  info.tracked_keys, info.mem_bytes, mae, bmae);
    assert_true(info.mem_bytes <= (mem ? mem : RCACHE_MRC_DEFAULT_MEM_BYTES));
    if (mae > MAE_LIMIT)
        fail_msg("%s: item MAE %.4f > %.2f", r->file, mae, MAE_LIMIT);
    if (has_size && bmae > MAE_LIMIT)
        fail_msg("%s: byte MAE %.4f > %.2f", r->file, bmae, MAE_LIMIT);
    if (mae > *worst)
        *worst = mae;
    rcache_mrc_free(m);
    free(x.tab);
    free(x.fw_cnt);
    free(x.fw_bytes);
    free(x.dist);
    free(x.bdist);
}

static void run_all(size_t mem) {
    double worst = 0;
    size_t checked = 0;
    print_message("    memory bound %zu bytes\n", mem ? mem : RCACHE_MRC_DEFAULT_MEM_BYTES);
    for (size_t i = 0; i < TRACE_REF_COUNT; i++) {
        if (trace_refs[i].requests < 50000)
            continue;
        check_trace(&trace_refs[i], mem, &worst);
        checked++;
    }
    print_message("    %zu traces, worst item MAE %.4f\n", checked, worst);
    assert_true(checked >= 10);
}

/* The default bound (2 MiB): most traces fit at a high sampling rate. */
static void test_mrc_vs_exact_lru(void **state) {
    (void)state;
    run_all(0);
}

/* A 256 KiB bound (~3k keys) forces lower sampling rates: still within 0.02. */
static void test_mrc_vs_exact_lru_small(void **state) {
    (void)state;
    run_all(256 * 1024);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mrc_vs_exact_lru),
        cmocka_unit_test(test_mrc_vs_exact_lru_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
