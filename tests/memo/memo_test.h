/*
 * memo_test.h - helpers shared by the tests in tests/memo: a gate that
 * holds a compute callback until the test opens it, a manual clock for
 * rcache_config_t.clock, and the library's test hook that counts the
 * callers waiting on a key's computation (so a test can open the gate once
 * every waiter is parked, without sleeping).
 */
#ifndef MEMO_TEST_H
#define MEMO_TEST_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "rcache.h"

/* memo.c test hook (not in any public header). */
long rcache__memo_waiters(rcache_t *c, const void *key, size_t klen);

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int entered; /* callbacks that reached the gate */
} gate_t;

static inline void gate_init(gate_t *g) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = 0;
    g->entered = 0;
}
static inline void gate_destroy(gate_t *g) {
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}
/* Called by a callback: note arrival, then wait until opened. */
static inline void gate_pass(gate_t *g) {
    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}
static inline void gate_open(gate_t *g) {
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}
/* Wait until n callbacks reached the gate. */
static inline void gate_wait_entered(gate_t *g, int n) {
    pthread_mutex_lock(&g->mu);
    while (g->entered < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Wait until n callers wait on key's computation. */
static inline void wait_for_waiters(rcache_t *c, const char *key, long n) {
    while (rcache__memo_waiters(c, key, strlen(key)) < n)
        sched_yield();
}

/* Manual clock: ms since the epoch, moved by the test (or a callback). */
typedef struct manual_clock {
    _Atomic uint64_t now_ms;
} manual_clock_t;

static inline uint64_t manual_clock_fn(void *ctx) {
    return atomic_load(&((manual_clock_t *)ctx)->now_ms);
}

static inline rcache_t *open_cache_clock(manual_clock_t *mc) {
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = 0;
    cfg.max_bytes = 0;
    cfg.default_ttl_ms = 0;
    if (mc) {
        atomic_store(&mc->now_ms, UINT64_C(1700000000000));
        cfg.clock = manual_clock_fn;
        cfg.clock_ctx = mc;
    }
    if (rcache_open(&cfg, &c) != RCACHE_OK)
        return NULL;
    return c;
}

#endif
