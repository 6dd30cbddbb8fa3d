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
    struct rcache__uring *uring; /* --io-engine uring: the worker's ring, or NULL (epoll) */
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
/* Bytes received for c by the io_uring engine: parse and run them as the
 * epoll path does after its read (the engine owns data; it is not kept). */
void rcache__client_received(rcache__client_t *c, const char *data, size_t n);

/* The io_uring engine read c's end of file. c is closed, unless commands
 * it sent are still suspended (a script, CLIENT PAUSE): then it closes
 * after their replies, as the epoll engine, which stops reading while
 * they wait, would read the EOF only then. */
void rcache__client_eof(rcache__client_t *c);

/* ---- io_uring engine (uring.c; stubs that refuse without liburing) --- */

/* Give worker w its ring, provided receive buffers and the libevent event
 * that runs its completions. 0, or -1 with why (the caller falls back to
 * epoll and frees what was made with rcache__uring_worker_free). */
int rcache__uring_worker_init(rcache__worker_t *w, char *why, size_t whylen);
/* After the worker's loop: cancel what is in flight, free the clients
 * whose operations outlived their close, the ring and its buffers. */
void rcache__uring_worker_free(rcache__worker_t *w);
/* On the worker's own thread, before its loop: a deferred-task-work ring
 * is enabled there (its single issuer). 0, or a negative errno. */
int rcache__uring_worker_enter(rcache__worker_t *w);
/* Start receiving for a new client of a uring worker. 0, or -1 (out of
 * memory; nothing is left armed). */
int rcache__uring_client_start(rcache__client_t *c);
/* Hand c's output to the kernel unless a send is already in flight (its
 * completion sends the rest). 0, or -1 when c was closed (nothing left to
 * send and CLOSE_AFTER_REPLY, or draining). */
int rcache__uring_flush(rcache__client_t *c);
/* c is being closed: cancel its operations. 1 when c's memory must wait
 * for their completions (uring.c frees it then), 0 when it may go now
 * (the engine's part of c is freed then). */
int rcache__uring_client_closing(rcache__client_t *c);
/* Bytes of c's output a send in flight still holds. */
size_t rcache__uring_pending(const rcache__client_t *c);

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
