/*
 * commands_multi.c - MULTI, EXEC, DISCARD, WATCH and UNWATCH with Redis's
 * semantics.
 *
 * Commands between MULTI and EXEC are queued (+QUEUED; EXECABORT after a
 * refused one). EXEC is flagged "exclusive" in the command table, so the
 * dispatcher runs it holding the exclusive gate (gate.h): no other
 * client's command runs on any thread between the first and the last
 * queued command, and the WATCH check and the commands see one state.
 *
 * WATCH records, per key, its version stamp (watch.c: a counter bumped by
 * every write command naming the key) and whether it existed. EXEC aborts
 * (null reply) when a stamp moved (a write, by anyone, this client
 * included) or a key that existed is gone (expired or evicted: neither
 * goes through a command).
 */
#include "keyargs.h"
#include "watch.h"

#include <stdlib.h>
#include <string.h>

typedef struct rcache__queued {
    size_t argc;
    rcache__arg_t *argv; /* argv and the argument bytes, one allocation */
} rcache__queued_t;

typedef struct rcache__watched {
    uint64_t version;
    int existed;
    size_t len;
    char *key;
} rcache__watched_t;

static void unwatch_all(rcache__client_t *c) {
    for (size_t i = 0; i < c->nwatched; i++)
        free(c->watched[i].key);
    free(c->watched);
    if (c->watched)
        rcache__watch_watchers(-1);
    c->watched = NULL;
    c->nwatched = c->capwatched = 0;
}

/* 1 if a watched key may have changed since WATCH. */
static int watched_changed(rcache__client_t *c) {
    for (size_t i = 0; i < c->nwatched; i++) {
        const rcache__watched_t *w = &c->watched[i];
        if (rcache__watch_version(w->key, w->len) != w->version)
            return 1;
        if (w->existed && !rcache_exists(RCACHE__CACHE(c), w->key, w->len))
            return 1;
    }
    return 0;
}

void rcache__multi_discard(rcache__client_t *c) {
    unwatch_all(c);
    for (size_t i = 0; i < c->nqueued; i++)
        free(c->queue[i].argv);
    free(c->queue);
    c->queue = NULL;
    c->nqueued = c->capqueued = c->queued_bytes = 0;
    c->in_multi = 0;
    c->multi_error = 0;
}

void rcache__multi_queue(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    size_t bytes = argc * sizeof(rcache__arg_t);
    for (size_t i = 0; i < argc; i++)
        bytes += argv[i].len;
    uint64_t limit = atomic_load_explicit(&c->srv->query_buf_limit, memory_order_relaxed);
    if (limit && c->queued_bytes + bytes > limit) {
        rcache__log(RCACHE__LOG_WARNING,
                    "Closing client id=%llu addr=%s: MULTI queue over the query buffer limit",
                    (unsigned long long)c->id, c->addr);
        c->flags |= RCACHE__CLIENT_CLOSING;
        return;
    }
    if (c->nqueued == c->capqueued) {
        size_t ncap = c->capqueued ? c->capqueued * 2 : 8;
        rcache__queued_t *nq = realloc(c->queue, ncap * sizeof *nq);
        if (!nq) {
            c->multi_error = 1;
            rcache__reply_lib_error(c, RCACHE_ENOMEM);
            return;
        }
        c->queue = nq;
        c->capqueued = ncap;
    }
    rcache__arg_t *copy = malloc(bytes ? bytes : 1);
    if (!copy) {
        c->multi_error = 1;
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
        return;
    }
    char *data = (char *)(copy + argc);
    for (size_t i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(data, argv[i].ptr, argv[i].len);
        copy[i].ptr = data;
        copy[i].len = argv[i].len;
        data += argv[i].len;
    }
    c->queue[c->nqueued].argc = argc;
    c->queue[c->nqueued].argv = copy;
    c->nqueued++;
    c->queued_bytes += bytes;
    rcache__reply_raw(c, "+QUEUED\r\n", 9);
}

void rcache__cmd_multi(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    if (c->in_multi) {
        rcache__reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->in_multi = 1;
    c->multi_error = 0;
    rcache__reply_ok(c);
}

void rcache__cmd_exec(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    if (!c->in_multi) {
        rcache__reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    if (c->multi_error) {
        rcache__multi_discard(c);
        rcache__reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    if (watched_changed(c)) {
        rcache__multi_discard(c);
        rcache__reply_null_array(c);
        return;
    }
    unwatch_all(c);
    /* Take the queue so the commands run as if outside MULTI. */
    rcache__queued_t *q = c->queue;
    size_t n = c->nqueued;
    c->queue = NULL;
    c->nqueued = c->capqueued = c->queued_bytes = 0;
    c->in_multi = 0;
    rcache__reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++) {
        rcache__dispatch(c, q[i].argc, q[i].argv);
        free(q[i].argv);
    }
    free(q);
}

void rcache__cmd_discard(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    if (!c->in_multi) {
        rcache__reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    rcache__multi_discard(c);
    rcache__reply_ok(c);
}

static int watch_one(rcache__client_t *c, const rcache__arg_t *k) {
    for (size_t i = 0; i < c->nwatched; i++)
        if (c->watched[i].len == k->len && memcmp(c->watched[i].key, k->ptr, k->len) == 0)
            return 0;
    if (c->nwatched == c->capwatched) {
        size_t ncap = c->capwatched ? c->capwatched * 2 : 4;
        rcache__watched_t *nw = realloc(c->watched, ncap * sizeof *nw);
        if (!nw)
            return -1;
        if (!c->watched)
            rcache__watch_watchers(1); /* before reading any version */
        c->watched = nw;
        c->capwatched = ncap;
    }
    rcache__watched_t *w = &c->watched[c->nwatched];
    w->key = malloc(k->len ? k->len : 1);
    if (!w->key)
        return -1;
    memcpy(w->key, k->ptr, k->len);
    w->len = k->len;
    w->version = rcache__watch_version(k->ptr, k->len);
    w->existed = rcache__key_valid(k) && rcache_exists(RCACHE__CACHE(c), RCACHE__KEY(*k));
    c->nwatched++;
    return 0;
}

void rcache__cmd_watch(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (c->in_multi) {
        rcache__reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (size_t i = 1; i < argc; i++) {
        if (watch_one(c, &argv[i]) != 0) {
            rcache__reply_lib_error(c, RCACHE_ENOMEM);
            return;
        }
    }
    rcache__reply_ok(c);
}

void rcache__cmd_unwatch(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    unwatch_all(c);
    rcache__reply_ok(c);
}
