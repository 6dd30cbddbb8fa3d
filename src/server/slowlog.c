/*
 * slowlog.c - SLOWLOG's record (slowlog.h): the newest slowlog-max-len
 * commands that took at least slowlog-log-slower-than microseconds, as
 * Redis keeps them (id, unix time, duration, at most 32 arguments of at
 * most 128 bytes each, client address and name), and the dispatcher's
 * hook that also feeds LATENCY (latency.c).
 *
 * A ring of entries under a mutex: only commands over the threshold take
 * it. AUTH and HELLO are never recorded (they carry passwords), as Redis
 * skips them.
 */
#include "slowlog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGC 32      /* Redis's SLOWLOG_ENTRY_MAX_ARGC */
#define MAX_STRING 128   /* Redis's SLOWLOG_ENTRY_MAX_STRING */

typedef struct entry {
    uint64_t id, time_s, dur_us;
    int argc;
    char *argv[MAX_ARGC];
    size_t lens[MAX_ARGC];
    char addr[128];
    char name[64];
} entry_t;

static struct {
    pthread_mutex_t m;
    entry_t *ring; /* cap entries, newest at (head - 1) */
    size_t cap, head, len;
    uint64_t next_id;
    _Atomic int64_t slower_than_us;
    _Atomic uint64_t latency_ms;
} L = {.m = PTHREAD_MUTEX_INITIALIZER, .slower_than_us = 10000};

static void entry_clear(entry_t *e) {
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    e->argc = 0;
}

void rcache__slowlog_configure(int64_t slower_than_us, uint64_t max_len,
                               uint64_t latency_threshold_ms) {
    atomic_store(&L.slower_than_us, slower_than_us);
    atomic_store(&L.latency_ms, latency_threshold_ms);
    pthread_mutex_lock(&L.m);
    if (max_len != L.cap) { /* keep the newest min(len, max_len) */
        entry_t *ring = max_len ? calloc(max_len, sizeof *ring) : NULL;
        size_t keep = 0;
        if (ring || !max_len) {
            keep = L.len < max_len ? L.len : max_len;
            for (size_t i = 0; i < L.len; i++) {
                entry_t *e = &L.ring[(L.head + L.cap - L.len + i) % L.cap];
                if (i >= L.len - keep)
                    ring[i - (L.len - keep)] = *e;
                else
                    entry_clear(e);
            }
            free(L.ring);
            L.ring = ring;
            L.cap = max_len;
            L.len = keep;
            L.head = max_len ? keep % max_len : 0;
        }
    }
    pthread_mutex_unlock(&L.m);
}

int rcache__cmdtime_wanted(void) {
    return atomic_load_explicit(&L.slower_than_us, memory_order_relaxed) >= 0 ||
           atomic_load_explicit(&L.latency_ms, memory_order_relaxed) > 0;
}

/* Copy one argument as Redis shows it: at most MAX_STRING bytes, then
 * "... (N more bytes)". */
static char *arg_copy(const rcache__arg_t *a, size_t *len) {
    char tail[48] = "";
    size_t keep = a->len;
    if (a->len > MAX_STRING) {
        keep = MAX_STRING;
        snprintf(tail, sizeof tail, "... (%zu more bytes)", a->len - MAX_STRING);
    }
    size_t tl = strlen(tail);
    char *s = malloc(keep + tl + 1);
    if (s) {
        memcpy(s, a->ptr, keep);
        memcpy(s + keep, tail, tl + 1);
        *len = keep + tl;
    }
    return s;
}

static void slowlog_add(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                        uint64_t dur_us) {
    entry_t e;
    memset(&e, 0, sizeof e);
    e.dur_us = dur_us;
    e.time_s = rcache__wall_ms() / 1000;
    int shown = argc > MAX_ARGC ? MAX_ARGC - 1 : (int)argc;
    for (int i = 0; i < shown; i++)
        if ((e.argv[e.argc] = arg_copy(&argv[i], &e.lens[e.argc])) != NULL)
            e.argc++;
    if (argc > MAX_ARGC) {
        char more[64];
        int n = snprintf(more, sizeof more, "... (%zu more arguments)", argc - (size_t)shown);
        rcache__arg_t m = {more, (size_t)n};
        if ((e.argv[e.argc] = arg_copy(&m, &e.lens[e.argc])) != NULL)
            e.argc++;
    }
    snprintf(e.addr, sizeof e.addr, "%s", c->addr);
    snprintf(e.name, sizeof e.name, "%s", c->name ? c->name : "");
    pthread_mutex_lock(&L.m);
    if (L.cap == 0) {
        pthread_mutex_unlock(&L.m);
        entry_clear(&e);
        return;
    }
    e.id = L.next_id++;
    entry_t *slot = &L.ring[L.head];
    if (L.len == L.cap)
        entry_clear(slot);
    else
        L.len++;
    *slot = e;
    L.head = (L.head + 1) % L.cap;
    pthread_mutex_unlock(&L.m);
}

void rcache__cmdtime_record(rcache__client_t *c, const rcache__cmd_t *cmd, size_t argc,
                            const rcache__arg_t *argv, uint64_t dur_us) {
    int64_t slow = atomic_load_explicit(&L.slower_than_us, memory_order_relaxed);
    uint64_t lat = atomic_load_explicit(&L.latency_ms, memory_order_relaxed);
    if (slow >= 0 && dur_us >= (uint64_t)slow && strcmp(cmd->name, "auth") != 0 &&
        strcmp(cmd->name, "hello") != 0)
        slowlog_add(c, argc, argv, dur_us);
    if (lat > 0 && dur_us / 1000 >= lat)
        rcache__latency_add((cmd->flags & RCACHE__CMD_FAST) ? "fast-command" : "command",
                            dur_us / 1000, rcache__wall_ms() / 1000);
}

void rcache__slowlog_reply(rcache__client_t *c, long long count) {
    pthread_mutex_lock(&L.m);
    size_t n = count < 0 || (unsigned long long)count > L.len ? L.len : (size_t)count;
    rcache__reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++) { /* newest first */
        const entry_t *e = &L.ring[(L.head + L.cap - 1 - i) % L.cap];
        rcache__reply_array(c, 6);
        rcache__reply_int(c, (long long)e->id);
        rcache__reply_int(c, (long long)e->time_s);
        rcache__reply_int(c, (long long)e->dur_us);
        rcache__reply_array(c, e->argc);
        for (int j = 0; j < e->argc; j++)
            rcache__reply_bulk(c, e->argv[j], e->lens[j]);
        rcache__reply_bulk_cstr(c, e->addr);
        rcache__reply_bulk_cstr(c, e->name);
    }
    pthread_mutex_unlock(&L.m);
}

size_t rcache__slowlog_len(void) {
    pthread_mutex_lock(&L.m);
    size_t n = L.len;
    pthread_mutex_unlock(&L.m);
    return n;
}

void rcache__slowlog_reset(void) {
    pthread_mutex_lock(&L.m);
    for (size_t i = 0; i < L.len; i++)
        entry_clear(&L.ring[(L.head + L.cap - L.len + i) % L.cap]);
    L.len = 0;
    L.head = 0;
    pthread_mutex_unlock(&L.m);
}
