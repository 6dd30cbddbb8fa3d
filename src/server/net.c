/*
 * net.c - listeners and worker threads: the main thread accepts (TCP and
 * unix socket) with evconnlistener, applies maxclients, and hands each new
 * socket round-robin to a worker through a small locked queue plus
 * event_active() on the worker's notify event (libevent's pthread support
 * makes that call safe across threads). Each worker runs its own
 * event_base; client I/O lives in client.c (and, under --io-engine
 * uring, in the worker's ring: uring.c).
 *
 * Shutdown: the listeners are freed first (no new clients), then every
 * worker is told to drain: it stops reading, sends what it still owes and
 * leaves its loop when its last client is gone (or after a deadline).
 */
#include "server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DRAIN_DEADLINE_S 5

static const char MAXCLIENTS_MSG[] = "-ERR max number of clients reached\r\n";

static void hand_over(rcache__server_t *s, evutil_socket_t fd, int is_unix) {
    rcache__worker_t *w = &s->workers[s->next_worker++ % (unsigned)s->nworkers];
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        evutil_closesocket(fd);
        atomic_fetch_sub(&s->connected_clients, 1);
        return;
    }
    if (w->npending == w->cappending) {
        size_t ncap = w->cappending ? w->cappending * 2 : 64;
        int *np = realloc(w->pending, ncap * sizeof *np);
        if (!np) {
            pthread_mutex_unlock(&w->lock);
            evutil_closesocket(fd);
            atomic_fetch_sub(&s->connected_clients, 1);
            return;
        }
        w->pending = np;
        w->cappending = ncap;
    }
    w->pending[w->npending++] = (int)fd << 1 | (is_unix ? 1 : 0);
    pthread_mutex_unlock(&w->lock);
    event_active(w->notify, EV_READ, 0);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *addr, int socklen, void *arg) {
    rcache__server_t *s = arg;
    (void)l;
    (void)socklen;
    int is_unix = addr && addr->sa_family == AF_UNIX;
    if (atomic_load(&s->shutting_down)) {
        evutil_closesocket(fd);
        return;
    }
    atomic_fetch_add(&s->total_connections, 1);
    if (atomic_load(&s->connected_clients) >= atomic_load(&s->maxclients)) {
        /* Redis answers before closing; the write is best effort. */
        ssize_t wr = send(fd, MAXCLIENTS_MSG, sizeof MAXCLIENTS_MSG - 1, MSG_NOSIGNAL);
        (void)wr;
        evutil_closesocket(fd);
        atomic_fetch_add(&s->rejected_connections, 1);
        rcache__log(RCACHE__LOG_VERBOSE, "Error registering fd event for the new client: max number of clients reached");
        return;
    }
    atomic_fetch_add(&s->connected_clients, 1);
    if (!is_unix) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        uint64_t ka = s->cfg.tcp_keepalive;
        if (ka) {
            int iv = (int)ka;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &iv, sizeof iv);
            int intvl = iv / 3 ? iv / 3 : 1, cnt = 3;
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        }
    }
    hand_over(s, fd, is_unix);
}

static void reenable_listener(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    evconnlistener_enable(arg);
}

static void on_accept_error(struct evconnlistener *l, void *arg) {
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    rcache__log(RCACHE__LOG_WARNING, "Accepting client connection: %s",
                evutil_socket_error_to_string(err));
    if (err == EMFILE || err == ENFILE) {
        /* Out of descriptors: pause accepting briefly rather than spin. */
        evconnlistener_disable(l);
        struct timeval tv = {0, 100000};
        event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT,
                        reenable_listener, l, &tv);
    }
}

/* Listen on one TCP address ("*" = every IPv4 address, "::*" = every
 * IPv6 one). NULL with err set. */
static struct evconnlistener *listen_tcp(rcache__server_t *s, const char *bind, char *err,
                                         size_t errlen) {
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (!strcmp(bind, "*"))
        bind = "0.0.0.0";
    else if (!strcmp(bind, "::*"))
        bind = "::";
    if (evutil_inet_pton(AF_INET, bind, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)s->cfg.port);
        sl = sizeof *in;
    } else if (evutil_inet_pton(AF_INET6, bind, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)s->cfg.port);
        sl = sizeof *in6;
    } else {
        snprintf(err, errlen, "invalid bind address '%s' (expected an IPv4 or IPv6 address)", bind);
        return NULL;
    }
    struct evconnlistener *l = evconnlistener_new_bind(
        s->base, on_accept, s, flags, (int)s->cfg.tcp_backlog, (struct sockaddr *)&ss, (int)sl);
    if (!l) {
        snprintf(err, errlen, "Could not create server TCP listening socket %s:%llu: %s",
                 bind, (unsigned long long)s->cfg.port, strerror(errno));
        return NULL;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    return l;
}

/* bind is one or more addresses separated by spaces, as in redis.conf; an
 * address written "-addr" is skipped (logged) when it cannot be bound
 * (e.g. "-::1" on a host without IPv6), as Redis does. */
static int listen_all_tcp(rcache__server_t *s, char *err, size_t errlen) {
    const char *p = s->cfg.bind ? s->cfg.bind : "127.0.0.1";
    char addr[128];
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        int optional = p[0] == '-';
        snprintf(addr, sizeof addr, "%.*s", (int)(n - (size_t)optional), p + optional);
        p += n;
        if (s->tcp && s->ntcp_more == RCACHE__MAX_BIND) {
            snprintf(err, errlen, "too many bind addresses (at most %d)", RCACHE__MAX_BIND + 1);
            return -1;
        }
        struct evconnlistener *l = listen_tcp(s, addr, err, errlen);
        if (!l && optional) {
            rcache__log(RCACHE__LOG_NOTICE, "Skipping optional bind address: %s", err);
            continue;
        }
        if (!l)
            return -1;
        if (!s->tcp)
            s->tcp = l;
        else
            s->tcp_more[s->ntcp_more++] = l;
    }
    if (!s->tcp) {
        snprintf(err, errlen, "no bind address could be used");
        return -1;
    }
    s->tcp_port = (int)s->cfg.port;
    return 0;
}

int rcache__server_listen(rcache__server_t *s, char *err, size_t errlen) {
    int backlog = (int)s->cfg.tcp_backlog;
    if (s->cfg.port && listen_all_tcp(s, err, errlen) != 0)
        return -1;
    if (s->cfg.unixsocket && s->cfg.unixsocket[0]) {
        struct sockaddr_un un;
        memset(&un, 0, sizeof un);
        un.sun_family = AF_UNIX;
        if (strlen(s->cfg.unixsocket) >= sizeof un.sun_path) {
            snprintf(err, errlen, "unixsocket path too long: '%s'", s->cfg.unixsocket);
            return -1;
        }
        memcpy(un.sun_path, s->cfg.unixsocket, strlen(s->cfg.unixsocket) + 1);
        unlink(s->cfg.unixsocket);
        s->unix_l = evconnlistener_new_bind(s->base, on_accept, s,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                            backlog, (struct sockaddr *)&un, sizeof un);
        if (!s->unix_l) {
            snprintf(err, errlen, "Could not create server unix socket '%s': %s",
                     s->cfg.unixsocket, strerror(errno));
            return -1;
        }
        evconnlistener_set_error_cb(s->unix_l, on_accept_error);
        if (s->cfg.unixsocketperm)
            chmod(s->cfg.unixsocket, (mode_t)s->cfg.unixsocketperm);
    }
    if (!s->tcp && !s->unix_l) {
        snprintf(err, errlen, "nothing to listen on: port is 0 and no unixsocket given");
        return -1;
    }
    return 0;
}

/* ---- workers ----------------------------------------------------------- */

static void on_notify(evutil_socket_t fd, short what, void *arg) {
    rcache__worker_t *w = arg;
    (void)fd;
    (void)what;
    int local[256];
    for (;;) {
        size_t n = 0;
        int stopping;
        pthread_mutex_lock(&w->lock);
        stopping = w->stopping;
        while (n < 256 && w->npending > 0)
            local[n++] = w->pending[--w->npending];
        pthread_mutex_unlock(&w->lock);
        for (size_t i = 0; i < n; i++) {
            evutil_socket_t cfd = local[i] >> 1;
            if (stopping || !rcache__client_new(w, cfd, local[i] & 1)) {
                evutil_closesocket(cfd);
                atomic_fetch_sub(&w->srv->connected_clients, 1);
            }
        }
        if (stopping && !w->draining) {
            w->draining = 1;
            rcache__clients_drain(w);
            if (w->nclients == 0) {
                event_base_loopbreak(w->base);
            } else {
                struct timeval tv = {DRAIN_DEADLINE_S, 0};
                event_base_loopexit(w->base, &tv);
            }
        }
        if (n < 256)
            break;
    }
}

static void on_cron(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rcache__clients_cron(arg);
}

static void *worker_main(void *arg) {
    rcache__worker_t *w = arg;
    int rc = rcache__uring_worker_enter(w);
    if (rc != 0) /* not expected: the ring was made for this */
        rcache__log(RCACHE__LOG_WARNING, "worker %d: enabling its io_uring ring: %s", w->index,
                    strerror(-rc));
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    /* Whatever is left after the deadline is closed unsent. */
    while (w->clients)
        rcache__client_close(w->clients);
    rcache__uring_worker_free(w);
    return NULL;
}

/* --io-engine uring: a ring for every worker, or none: where the build or
 * the kernel refuses one, every worker stays on epoll and one line says
 * why. */
static void engine_setup(rcache__server_t *s) {
    if (!s->cfg.io_engine || strcmp(s->cfg.io_engine, "uring") != 0)
        return;
    char why[160] = "";
    int i;
    for (i = 0; i < s->nworkers; i++)
        if (rcache__uring_worker_init(&s->workers[i], why, sizeof why) != 0)
            break;
    if (i == s->nworkers) {
        rcache__log(RCACHE__LOG_NOTICE, "I/O engine: io_uring (%d worker rings)", s->nworkers);
        return;
    }
    for (int j = 0; j <= i; j++)
        rcache__uring_worker_free(&s->workers[j]);
    rcache__log(RCACHE__LOG_WARNING, "io-engine uring unavailable (%s): using epoll", why);
}

int rcache__workers_start(rcache__server_t *s, char *err, size_t errlen) {
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (!s->workers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < s->nworkers; i++) {
        rcache__worker_t *w = &s->workers[i];
        w->index = i;
        w->srv = s;
        pthread_mutex_init(&w->lock, NULL);
        w->rbuf_cap = (size_t)64 * 1024;
        w->rbuf = malloc(w->rbuf_cap);
        w->base = event_base_new();
        if (!w->base || !w->rbuf) {
            snprintf(err, errlen, "cannot create worker %d event base", i);
            return -1;
        }
        w->notify = event_new(w->base, -1, EV_READ | EV_PERSIST, on_notify, w);
        w->cron = event_new(w->base, -1, EV_PERSIST, on_cron, w);
        struct timeval sec = {1, 0};
        if (!w->notify || !w->cron || event_add(w->notify, NULL) != 0 ||
            event_add(w->cron, &sec) != 0) {
            snprintf(err, errlen, "cannot create worker %d events", i);
            return -1;
        }
    }
    engine_setup(s);
    for (int i = 0; i < s->nworkers; i++) {
        int rc = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start worker thread %d: %s", i, strerror(rc));
            s->nworkers = i;
            return -1;
        }
    }
    return 0;
}

void rcache__server_stop(rcache__server_t *s) {
    atomic_store(&s->shutting_down, 1);
    if (s->tcp) {
        evconnlistener_free(s->tcp);
        s->tcp = NULL;
    }
    for (int i = 0; i < s->ntcp_more; i++)
        evconnlistener_free(s->tcp_more[i]);
    s->ntcp_more = 0;
    if (s->unix_l) {
        evconnlistener_free(s->unix_l);
        s->unix_l = NULL;
        if (s->cfg.unixsocket)
            unlink(s->cfg.unixsocket);
    }
    for (int i = 0; i < s->nworkers; i++) {
        rcache__worker_t *w = &s->workers[i];
        pthread_mutex_lock(&w->lock);
        w->stopping = 1;
        pthread_mutex_unlock(&w->lock);
        event_active(w->notify, EV_READ, 0);
    }
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i].thread, NULL);
}

void rcache__workers_free(rcache__server_t *s) {
    if (!s->workers)
        return;
    for (int i = 0; i < s->nworkers; i++) {
        rcache__worker_t *w = &s->workers[i];
        for (size_t j = 0; j < w->npending; j++)
            evutil_closesocket(w->pending[j] >> 1);
        free(w->pending);
        rcache__uring_worker_free(w); /* a worker that never ran */
        if (w->notify)
            event_free(w->notify);
        if (w->cron)
            event_free(w->cron);
        if (w->base)
            event_base_free(w->base);
        free(w->rbuf);
        pthread_mutex_destroy(&w->lock);
    }
    free(s->workers);
    s->workers = NULL;
}

uint64_t rcache__server_commands(rcache__server_t *s) {
    uint64_t n = 0;
    for (int i = 0; i < s->nworkers; i++)
        n += atomic_load_explicit(&s->workers[i].commands, memory_order_relaxed);
    return n;
}

uint64_t rcache__server_calls(rcache__server_t *s, int id) {
    uint64_t n = 0;
    if (id < 0 || id >= RCACHE__MAX_COMMANDS)
        return 0;
    for (int i = 0; i < s->nworkers; i++)
        n += atomic_load_explicit(&s->workers[i].calls[id], memory_order_relaxed);
    return n;
}

void rcache__server_reset_stats(rcache__server_t *s) {
    for (int i = 0; i < s->nworkers; i++) {
        atomic_store(&s->workers[i].commands, 0);
        for (int j = 0; j < RCACHE__MAX_COMMANDS; j++)
            atomic_store(&s->workers[i].calls[j], 0);
    }
    atomic_store(&s->total_connections, 0);
    atomic_store(&s->rejected_connections, 0);
}
