/*
 * latency.c - LATENCY's event history (slowlog.h), a minimal form of
 * Redis's latency monitor: the dispatcher reports commands that took at
 * least latency-monitor-threshold ms as the events "command" and
 * "fast-command"; each event keeps its latest 160 samples (one per second,
 * the highest of that second, as Redis) and its all-time maximum, for
 * LATENCY LATEST, LATENCY HISTORY and LATENCY RESET.
 */
#include "slowlog.h"

#include <pthread.h>
#include <string.h>

#define SAMPLES 160 /* Redis's LATENCY_TS_LEN */
#define EVENTS 8

typedef struct {
    char name[32];
    uint64_t time_s[SAMPLES], ms[SAMPLES];
    size_t idx, n;
    uint64_t max_ms;
} event_t;

static struct {
    pthread_mutex_t m;
    event_t ev[EVENTS];
    size_t n;
} T = {.m = PTHREAD_MUTEX_INITIALIZER};

static event_t *find(const char *name, size_t len) {
    for (size_t i = 0; i < T.n; i++)
        if (strlen(T.ev[i].name) == len && memcmp(T.ev[i].name, name, len) == 0)
            return &T.ev[i];
    return NULL;
}

void rcache__latency_add(const char *event, uint64_t ms, uint64_t now_s) {
    pthread_mutex_lock(&T.m);
    event_t *e = find(event, strlen(event));
    if (!e && T.n < EVENTS) {
        e = &T.ev[T.n++];
        memset(e, 0, sizeof *e);
        strncpy(e->name, event, sizeof e->name - 1);
    }
    if (e) {
        size_t last = (e->idx + SAMPLES - 1) % SAMPLES;
        if (e->n && e->time_s[last] == now_s) {
            if (ms > e->ms[last])
                e->ms[last] = ms;
        } else {
            e->time_s[e->idx] = now_s;
            e->ms[e->idx] = ms;
            e->idx = (e->idx + 1) % SAMPLES;
            if (e->n < SAMPLES)
                e->n++;
        }
        if (ms > e->max_ms)
            e->max_ms = ms;
    }
    pthread_mutex_unlock(&T.m);
}

void rcache__latency_latest(rcache__client_t *c) {
    pthread_mutex_lock(&T.m);
    rcache__reply_array(c, (long long)T.n);
    for (size_t i = 0; i < T.n; i++) {
        const event_t *e = &T.ev[i];
        size_t last = (e->idx + SAMPLES - 1) % SAMPLES;
        rcache__reply_array(c, 4);
        rcache__reply_bulk_cstr(c, e->name);
        rcache__reply_int(c, (long long)e->time_s[last]);
        rcache__reply_int(c, (long long)e->ms[last]);
        rcache__reply_int(c, (long long)e->max_ms);
    }
    pthread_mutex_unlock(&T.m);
}

void rcache__latency_history(rcache__client_t *c, const rcache__arg_t *event) {
    pthread_mutex_lock(&T.m);
    const event_t *e = find(event->ptr, event->len);
    size_t n = e ? e->n : 0;
    rcache__reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++) { /* oldest first */
        size_t at = (e->idx + SAMPLES - n + i) % SAMPLES;
        rcache__reply_array(c, 2);
        rcache__reply_int(c, (long long)e->time_s[at]);
        rcache__reply_int(c, (long long)e->ms[at]);
    }
    pthread_mutex_unlock(&T.m);
}

size_t rcache__latency_reset(const rcache__arg_t *events, size_t n) {
    pthread_mutex_lock(&T.m);
    size_t reset = 0;
    if (n == 0) {
        reset = T.n;
        T.n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        event_t *e = find(events[i].ptr, events[i].len);
        if (e) {
            *e = T.ev[--T.n];
            reset++;
        }
    }
    pthread_mutex_unlock(&T.m);
    return reset;
}
