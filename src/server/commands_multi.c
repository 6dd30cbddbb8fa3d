/*
 * commands_multi.c - MULTI, EXEC, DISCARD, WATCH and UNWATCH.
 *
 * Many clients wrap pipelines in MULTI/EXEC by default (redis-py's
 * pipeline(), ioredis's multi()), so rcached queues commands between MULTI
 * and EXEC with Redis's replies (+QUEUED, EXECABORT after a refused
 * command, nested-MULTI and EXEC-without-MULTI errors) and runs them back
 * to back at EXEC. What it does not give is isolation: other clients'
 * commands, on other worker threads, may interleave with the queued ones
 * (each single command stays atomic). WATCH, whose promise rests on that
 * isolation, is refused rather than silently weakened.
 */
#include "command.h"

#include <stdlib.h>
#include <string.h>

typedef struct rcache__queued {
    size_t argc;
    rcache__arg_t *argv; /* argv and the argument bytes, one allocation */
} rcache__queued_t;

void rcache__multi_discard(rcache__client_t *c) {
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

void rcache__cmd_watch(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    if (c->in_multi) {
        rcache__reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    rcache__reply_error(c, "ERR WATCH is not supported by rcached (transactions are not isolated)");
}

void rcache__cmd_unwatch(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    rcache__reply_ok(c);
}
