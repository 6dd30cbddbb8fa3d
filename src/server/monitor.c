/*
 * monitor.c - MONITOR: every command the server runs, as Redis prints it
 * (`+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"`, `[0 lua]` for
 * a script's redis.call), streamed to the clients that asked.
 *
 * Commands run on every worker thread and monitors live on theirs, so a
 * monitor's output buffer gets libevent's locking when it subscribes, the
 * feeding thread appends to it under the monitor list's mutex and wakes
 * the monitor's write event (event_active is thread-safe with pthreads
 * locking on). Closing a monitor removes it under the same mutex first,
 * so no thread touches it afterwards. With no monitor, feeding costs one
 * relaxed atomic load per command. AUTH and HELLO are never shown (they
 * carry passwords); a monitor's own commands are not shown to it.
 */
#include "monitor.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MONITORS 64

static struct {
    pthread_mutex_t m;
    rcache__client_t *mons[MAX_MONITORS];
    int n;
    _Atomic int count;
} M = {.m = PTHREAD_MUTEX_INITIALIZER};

/* Append a as Redis's sdscatrepr: "..." with \n \r \t \a \b \" \\ and
 * \xHH escapes. */
static void add_repr(struct evbuffer *b, const rcache__arg_t *a) {
    evbuffer_add(b, " \"", 2);
    for (size_t i = 0; i < a->len; i++) {
        unsigned char ch = (unsigned char)a->ptr[i];
        switch (ch) {
        case '\\': evbuffer_add(b, "\\\\", 2); break;
        case '"': evbuffer_add(b, "\\\"", 2); break;
        case '\n': evbuffer_add(b, "\\n", 2); break;
        case '\r': evbuffer_add(b, "\\r", 2); break;
        case '\t': evbuffer_add(b, "\\t", 2); break;
        case '\a': evbuffer_add(b, "\\a", 2); break;
        case '\b': evbuffer_add(b, "\\b", 2); break;
        default:
            if (ch >= 0x20 && ch < 0x7f)
                evbuffer_add(b, &ch, 1);
            else
                evbuffer_add_printf(b, "\\x%02x", ch);
        }
    }
    evbuffer_add(b, "\"", 1);
}

void rcache__monitor_feed(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (!atomic_load_explicit(&M.count, memory_order_relaxed) || argc == 0)
        return;
    if (rcache__arg_is(&argv[0], "auth") || rcache__arg_is(&argv[0], "hello") ||
        rcache__arg_is(&argv[0], "monitor"))
        return;
    struct evbuffer *line = evbuffer_new();
    if (!line)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    evbuffer_add_printf(line, "+%lld.%06ld [%d %s]", (long long)ts.tv_sec,
                        ts.tv_nsec / 1000, c->db, c->addr[0] ? c->addr : "lua");
    for (size_t i = 0; i < argc; i++)
        add_repr(line, &argv[i]);
    evbuffer_add(line, "\r\n", 2);
    size_t len = evbuffer_get_length(line);
    const unsigned char *p = evbuffer_pullup(line, -1);
    pthread_mutex_lock(&M.m);
    for (int i = 0; i < M.n && p; i++) {
        rcache__client_t *mc = M.mons[i];
        if (mc == c)
            continue;
        evbuffer_add(mc->out, p, len);
        event_active(mc->wev, EV_WRITE, 0);
    }
    pthread_mutex_unlock(&M.m);
    evbuffer_free(line);
}

void rcache__cmd_monitor(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    if (c->monitor) { /* already one */
        rcache__reply_ok(c);
        return;
    }
    if (c->in_multi || c->real_out || !c->wev) {
        rcache__reply_error(c, "ERR MONITOR is not allowed here");
        return;
    }
    pthread_mutex_lock(&M.m);
    int ok = M.n < MAX_MONITORS && evbuffer_enable_locking(c->out, NULL) == 0;
    if (ok) {
        M.mons[M.n++] = c;
        atomic_store(&M.count, M.n);
        c->monitor = 1;
        evbuffer_add(c->out, "+OK\r\n", 5);
    }
    pthread_mutex_unlock(&M.m);
    if (!ok)
        rcache__reply_error(c, "ERR too many monitors");
}

void rcache__monitor_forget(rcache__client_t *c) {
    if (!c->monitor)
        return;
    pthread_mutex_lock(&M.m);
    for (int i = 0; i < M.n; i++)
        if (M.mons[i] == c) {
            M.mons[i] = M.mons[--M.n];
            break;
        }
    atomic_store(&M.count, M.n);
    pthread_mutex_unlock(&M.m);
    c->monitor = 0;
}
