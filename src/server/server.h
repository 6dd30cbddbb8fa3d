/*
 * server.h - rcached's private internals: the worker threads, their event
 * loops and the network and lifecycle functions shared by server.c (start,
 * apply config, shutdown), net.c (listeners, workers), client.c (client
 * I/O), commands.c (dispatch) and hooks.c (admin figures). Command
 * implementations include command.h instead.
 */
#ifndef RCACHE_SERVER_H
#define RCACHE_SERVER_H

#include "command.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct rcache__worker {
    int index;
    pthread_t thread;
    struct event_base *base;
    rcache__server_t *srv;
    struct event *notify;      /* activated by the main thread */
    struct event *cron;        /* 1 s: idle timeouts */
    pthread_mutex_t lock;      /* guards pending[], stopping */
    int *pending;              /* fds handed over: fd << 1 | is_unix */
    size_t npending, cappending;
    int stopping;
    int draining;              /* worker-side view of stopping */
    rcache__client_t *clients;
    size_t nclients;
    char *rbuf;                /* read scratch for clients with no backlog */
    size_t rbuf_cap;
    /* counters written only by this worker, read by anyone */
    _Atomic uint64_t commands;
    _Atomic uint64_t calls[RCACHE__MAX_COMMANDS];
};

/* ---- server lifecycle (server.c) ------------------------------------ */

/* Run rcached with the settings in s->cfg (parsed by main.c): open the
 * cache, start listeners, workers and the admin API, run the main loop
 * until SIGTERM, SIGINT or SHUTDOWN, then shut down gracefully. Frees
 * s->cfg after a clean run. Returns the process exit status (0, or 1 on a
 * start-up error). */
int rcache__server_run(rcache__server_t *s);

/* ---- clients (client.c) --------------------------------------------- */

rcache__client_t *rcache__client_new(rcache__worker_t *w, evutil_socket_t fd,
                                     int is_unix);
void rcache__clients_cron(rcache__worker_t *w);
void rcache__clients_drain(rcache__worker_t *w);
void rcache__client_close(rcache__client_t *c);

/* ---- listeners and workers (net.c) ---------------------------------- */

int rcache__server_listen(rcache__server_t *s, char *err, size_t errlen);
int rcache__workers_start(rcache__server_t *s, char *err, size_t errlen);
/* Stop accepting, drain and stop workers, join them. */
void rcache__server_stop(rcache__server_t *s);
void rcache__workers_free(rcache__server_t *s);

/* ---- admin hooks (hooks.c) ------------------------------------------ */
struct rcache__server_hooks;
void rcache__server_hooks_init(rcache__server_t *s,
                               struct rcache__server_hooks *h);

#endif /* RCACHE_SERVER_H */
