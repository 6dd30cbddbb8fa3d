/*
 * admin_conn.c - the admin listener's connection limits: at most
 * max_connections open at once, and a deadline on each whole request.
 *
 * Why: evhttp (libevent 2.1) has neither. Its timeout restarts on every
 * read, so a client sending one byte a second holds a connection forever,
 * and nothing bounds how many such connections (and their buffers) pile up
 * outside every server limit. libevent 2.1.12 has no
 * evhttp_set_max_connections() (2.2 does) and no callback per accepted
 * connection, so the count is kept here:
 *  - evhttp asks our bufferevent callback for each accepted connection's
 *    bufferevent; we create it, keep a reference, and queue a fix-up event
 *    that runs right after the accept callback returns (the same pass of
 *    the event loop, before any read on the new socket);
 *  - the fix-up finds the connection object evhttp attached to the
 *    bufferevent (its callback argument), refuses it with a 503 when the
 *    cap is reached, and otherwise counts it, sets a close callback (which
 *    evhttp calls whenever it frees the connection) and arms its deadline;
 *  - the deadline is re-armed when a request has been read and dispatched
 *    (rcache__admin_conn_request); when it fires, the connection is freed,
 *    whatever state its request is in.
 * Everything runs on the event base's thread.
 */
#include "admin_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

struct rcache__admin_conn {
    rcache__admin_t *a;
    struct bufferevent *bev;         /* referenced until fixed up */
    struct evhttp_connection *evcon; /* NULL until fixed up */
    struct event *deadline;
    struct rcache__admin_conn *prev, *next;
};
typedef struct rcache__admin_conn conn_t;

static void unlink_conn(conn_t **head, conn_t *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Take the first connection off a list (NULL when empty). */
static conn_t *pop_conn(conn_t **head) {
    conn_t *c = *head;
    if (!c)
        return NULL;
    *head = c->next;
    if (c->next)
        c->next->prev = NULL;
    c->prev = c->next = NULL;
    return c;
}

static void push_conn(conn_t **head, conn_t *c) {
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

static void free_conn(conn_t *c) {
    if (c->deadline)
        event_free(c->deadline);
    free(c);
}

/* evhttp is freeing the connection (any reason, including evhttp_free). */
static void on_close(struct evhttp_connection *evcon, void *arg) {
    conn_t *c = arg;
    rcache__admin_t *a = c->a;
    (void)evcon;
    unlink_conn(&a->conns, c);
    a->nconns--;
    free_conn(c);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
    conn_t *c = arg;
    (void)fd;
    (void)what;
    c->a->timed_out++;
    evhttp_connection_free(c->evcon); /* calls on_close, which frees c */
}

static void arm(conn_t *c) {
    struct timeval tv = {c->a->timeout_s, 0};
    evtimer_add(c->deadline, &tv);
}

static void refuse(conn_t *c) {
    static const char resp[] =
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        "Content-Length: 67\r\n"
        "Connection: close\r\n\r\n"
        "{\"status\":\"error\",\"error\":\"too many admin connections\",\"code\":503}\n";
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    c->a->rejected++;
    if (fd >= 0) /* best effort: the socket is new, its buffer empty */
        (void)send(fd, resp, sizeof resp - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    evhttp_connection_free(c->evcon);
}

/* Runs after the accept callback: decide about each new connection. */
static void on_fixup(evutil_socket_t fd, short what, void *arg) {
    rcache__admin_t *a = arg;
    (void)fd;
    (void)what;
    /* pending is newest first: turn it around so that connections are
     * counted in the order they were accepted */
    conn_t *order = NULL, *c;
    while ((c = pop_conn(&a->pending)) != NULL)
        push_conn(&order, c);
    while ((c = pop_conn(&order)) != NULL) {
        bufferevent_data_cb rcb = NULL;
        void *cbarg = NULL;
        bufferevent_getcb(c->bev, &rcb, NULL, NULL, &cbarg);
        struct bufferevent *bev = c->bev;
        if (!rcb || !cbarg) { /* evhttp already dropped it */
            bufferevent_decref(bev);
            free_conn(c);
            continue;
        }
        c->evcon = cbarg;
        if (a->max_conns && a->nconns >= a->max_conns) {
            refuse(c);
            bufferevent_decref(bev);
            free_conn(c);
            continue;
        }
        c->deadline = evtimer_new(a->base, on_deadline, c);
        if (!c->deadline) {
            evhttp_connection_free(c->evcon);
            bufferevent_decref(bev);
            free(c);
            continue;
        }
        a->nconns++;
        push_conn(&a->conns, c);
        evhttp_connection_set_closecb(c->evcon, on_close, c);
        arm(c);
        bufferevent_decref(bev);
        c->bev = NULL;
    }
}

/* evhttp's bufferevent factory, called for each accepted connection. */
static struct bufferevent *make_bev(struct event_base *base, void *arg) {
    rcache__admin_t *a = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    conn_t *c = bev ? calloc(1, sizeof *c) : NULL;
    if (!c)
        return bev; /* out of memory: evhttp serves it uncounted */
    c->a = a;
    c->bev = bev;
    bufferevent_incref(bev);
    push_conn(&a->pending, c);
    event_active(a->fixup, EV_TIMEOUT, 0);
    return bev;
}

int rcache__admin_conn_init(rcache__admin_t *a, int max_conns, int timeout_s) {
    a->max_conns = max_conns > 0 ? (unsigned)max_conns : 0;
    a->timeout_s = timeout_s > 0 ? timeout_s : 10;
    a->fixup = event_new(a->base, -1, 0, on_fixup, a);
    if (!a->fixup)
        return -1;
    evhttp_set_bevcb(a->http, make_bev, a);
    return 0;
}

void rcache__admin_conn_request(rcache__admin_t *a, struct evhttp_request *req) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    for (conn_t *c = a->conns; c; c = c->next) {
        if (c->evcon == evcon) {
            arm(c); /* the next request gets a whole timeout again */
            return;
        }
    }
}

void rcache__admin_conn_fini(rcache__admin_t *a) {
    /* evhttp_free() has run: every counted connection was closed through
     * on_close; what is left is only pending fix-ups. */
    conn_t *c;
    while ((c = pop_conn(&a->pending)) != NULL) {
        bufferevent_decref(c->bev);
        free_conn(c);
    }
    if (a->fixup)
        event_free(a->fixup);
    a->fixup = NULL;
}
