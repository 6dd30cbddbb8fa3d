/*
 * client.c - one client connection on its worker thread: reading, RESP
 * parsing, running commands, batching replies, and the per-client limits
 * (query buffer, output buffer, idle timeout).
 *
 * Reading: a client with no unprocessed input reads into its worker's
 * scratch buffer and commands are parsed in place; only a partial command
 * left over is copied into the client's own query buffer, so ten thousand
 * idle clients hold no read buffers. Writing: replies of every command
 * parsed in one read event accumulate in the client's evbuffer and go out
 * in one writev at the end of the event; what the socket does not take
 * waits for EV_WRITE. A client whose pending output passes the output
 * limit is dropped at once (Redis's "client-output-buffer-limit").
 *
 * Under --io-engine uring the worker's ring does the socket I/O (uring.c):
 * it hands received bytes to rcache__client_received, which runs them
 * through the same parsing and commands, and flush_out hands the output
 * to the ring instead of writing it. c->rev and c->wev are then events
 * without a descriptor, kept so that CLIENT KILL and MONITOR can still
 * wake the worker with event_active().
 */
#include "commands_admin.h"
#include "monitor.h"
#include "pubsub.h"
#include "script.h"
#include "server.h"
#include "tracking.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_CHUNK 16384
/* Query buffers larger than this are freed when they become empty, and
 * shrunk when less than a quarter is in use. */
#define QBUF_KEEP ((size_t)32 * 1024)
/* Argument arrays with more slots than this are freed after the command
 * (a 1M-argument MSET must not pin 16 MiB for the connection's life). */
#define ARGV_KEEP ((size_t)1024)

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_wake(evutil_socket_t fd, short what, void *arg);

/* Reading on or off (epoll engine; under io_uring data keeps arriving and
 * rcache__client_received holds or drops it by the same flags). */
static void reading(rcache__client_t *c, int on) {
    if (c->uc)
        return;
    if (on)
        event_add(c->rev, NULL);
    else
        event_del(c->rev);
}

static void registry_add(rcache__server_t *s, rcache__client_t *c) {
    pthread_mutex_lock(&s->clients_lock);
    c->gprev = NULL;
    c->gnext = s->all_clients;
    if (s->all_clients)
        s->all_clients->gprev = c;
    s->all_clients = c;
    pthread_mutex_unlock(&s->clients_lock);
}

static void registry_del(rcache__server_t *s, rcache__client_t *c) {
    pthread_mutex_lock(&s->clients_lock);
    if (c->gprev)
        c->gprev->gnext = c->gnext;
    else
        s->all_clients = c->gnext;
    if (c->gnext)
        c->gnext->gprev = c->gprev;
    pthread_mutex_unlock(&s->clients_lock);
}

static void fmt_addr(const struct sockaddr_storage *ss, socklen_t len,
                     int is_unix, char *out, size_t cap) {
    char host[64];
    if (is_unix || ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
        if (len > offsetof(struct sockaddr_un, sun_path) && un->sun_path[0])
            snprintf(out, cap, "%s:0", un->sun_path);
        else
            snprintf(out, cap, "/unixsocket:0");
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(out, cap, "?:0");
    }
}

rcache__client_t *rcache__client_new(rcache__worker_t *w, evutil_socket_t fd,
                                     int is_unix) {
    rcache__server_t *s = w->srv;
    rcache__client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    atomic_init(&c->shown_multi, -1);
    c->srv = s;
    c->w = w;
    c->is_unix = is_unix;
    c->out = evbuffer_new();
    if (!c->out || rcache__resp_parser_init(&c->parser, NULL) != 0) {
        if (c->out)
            evbuffer_free(c->out);
        free(c);
        return NULL;
    }
    if (w->uring) {
        c->rev = event_new(w->base, -1, 0, on_wake, c);
        c->wev = event_new(w->base, -1, 0, on_write, c);
    } else {
        c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_read, c);
        c->wev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    }
    if (!c->rev || !c->wev ||
        (w->uring ? rcache__uring_client_start(c) : event_add(c->rev, NULL)) != 0) {
        if (c->rev)
            event_free(c->rev);
        if (c->wev)
            event_free(c->wev);
        rcache__resp_parser_free(&c->parser);
        evbuffer_free(c->out);
        free(c);
        return NULL;
    }
    c->id = atomic_fetch_add(&s->next_client_id, 1) + 1;
    c->authed = !atomic_load(&s->auth_required);
    c->ctime_ms = rcache__mono_ms();
    atomic_store(&c->last_ms, c->ctime_ms);
    atomic_store(&c->last_cmd, "NULL");

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        fmt_addr(&ss, sl, is_unix, c->addr, sizeof c->addr);
    else
        snprintf(c->addr, sizeof c->addr, "?:0");
    sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        fmt_addr(&ss, sl, is_unix, c->laddr, sizeof c->laddr);
    else
        snprintf(c->laddr, sizeof c->laddr, "?:0");

    c->next = w->clients;
    if (w->clients)
        w->clients->prev = c;
    w->clients = c;
    w->nclients++;
    registry_add(s, c);
    rcache__log(RCACHE__LOG_DEBUG, "Accepted %s (id=%llu, worker %d)", c->addr,
                (unsigned long long)c->id, w->index);
    return c;
}

void rcache__client_close(rcache__client_t *c) {
    rcache__worker_t *w = c->w;
    rcache__server_t *s = c->srv;
    rcache__monitor_forget(c);
    registry_del(s, c);
    rcache__tracking_forget(c); /* before its mailbox goes */
    rcache__pubsub_forget(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nclients--;
    event_free(c->rev);
    event_free(c->wev);
    if (c->pause_ev)
        event_free(c->pause_ev);
    evbuffer_free(c->out); /* releases referenced cache entries */
    /* Under io_uring, operations still in flight keep c (and the output
     * they send) until they complete; the socket closes now. */
    int outlives = rcache__uring_client_closing(c);
    evutil_closesocket(c->fd);
    rcache__resp_parser_free(&c->parser);
    free(c->argv);
    free(c->qbuf);
    rcache__multi_discard(c);
    rcache__script_forget(c);
    pthread_mutex_lock(&s->clients_lock);
    free(c->name);
    pthread_mutex_unlock(&s->clients_lock);
    rcache__log(RCACHE__LOG_DEBUG, "Client closed (id=%llu)", (unsigned long long)c->id);
    if (!outlives)
        free(c);
    atomic_fetch_sub(&s->connected_clients, 1);
    if (w->draining && w->nclients == 0)
        event_base_loopbreak(w->base);
}

int rcache__client_output_over(rcache__client_t *c, size_t extra) {
    if (c->flags & RCACHE__CLIENT_CLOSING)
        return 1;
    uint64_t olimit = atomic_load_explicit(&c->srv->output_buf_limit,
                                           memory_order_relaxed);
    if (!olimit || rcache__client_out_len(c) + extra <= olimit)
        return 0;
    rcache__log(RCACHE__LOG_WARNING,
                "Client id=%llu addr=%s closed for overcoming of output buffer limits.",
                (unsigned long long)c->id, c->addr);
    c->flags |= RCACHE__CLIENT_CLOSING;
    return 1;
}

/* The longest bulk argument accepted now: proto-max-bulk-len, and never
 * more than the query buffer limit (read live, so CONFIG SET applies to
 * connections already open). */
static size_t bulk_limit(const rcache__server_t *s) {
    uint64_t b = atomic_load_explicit(&s->proto_max_bulk_len, memory_order_relaxed);
    uint64_t q = atomic_load_explicit(&s->query_buf_limit, memory_order_relaxed);
    if (!b || (q && q < b))
        b = q;
    if (!b || b > SIZE_MAX)
        b = SIZE_MAX;
    return (size_t)b;
}

/* Reply Redis's protocol error and close after it. A request over a limit
 * (a length or size the limits refuse) is logged at the default level, as
 * an operator must be able to tell why a client was refused; malformed
 * input only at verbose, as Redis does. */
static void protocol_error(rcache__client_t *c) {
    const char *e = c->parser.error ? c->parser.error : "Protocol error";
    rcache__reply_errorf(c, "ERR %s", e);
    if (strstr(e, "length") || strstr(e, "too big"))
        rcache__log(RCACHE__LOG_NOTICE,
                    "Protocol error (%s) from client id=%llu addr=%s: proto-max-bulk-len is "
                    "%llu, client-query-buffer-limit is %llu", e, (unsigned long long)c->id,
                    c->addr, (unsigned long long)atomic_load(&c->srv->proto_max_bulk_len),
                    (unsigned long long)atomic_load(&c->srv->query_buf_limit));
    else
        rcache__log(RCACHE__LOG_VERBOSE, "Protocol error (%s) from client id=%llu addr=%s", e,
                    (unsigned long long)c->id, c->addr);
    c->flags |= RCACHE__CLIENT_CLOSE_AFTER_REPLY;
}

static void on_pause_retry(evutil_socket_t fd, short what, void *arg);

/* CLIENT PAUSE: hold c (reads and runs nothing) and retry in 10 ms. */
static void pause_hold(rcache__client_t *c) {
    struct timeval tv = {0, 10000};
    c->flags |= RCACHE__CLIENT_SUSPENDED | RCACHE__CLIENT_PAUSED;
    if (!c->pause_ev)
        c->pause_ev = evtimer_new(c->w->base, on_pause_retry, c);
    if (!c->pause_ev || evtimer_add(c->pause_ev, &tv) != 0) {
        rcache__log(RCACHE__LOG_WARNING, "Out of memory holding paused client id=%llu",
                    (unsigned long long)c->id);
        c->flags |= RCACHE__CLIENT_CLOSING;
    }
}

/* Parse and run every complete command in buf[0..len); returns the bytes
 * consumed. Stops early when the client is to be closed. */
static size_t process(rcache__client_t *c, const char *buf, size_t len) {
    size_t off = 0;
    c->parser.lim.max_bulk_len = bulk_limit(c->srv);
    while (off < len && !(c->flags & (RCACHE__CLIENT_CLOSE_AFTER_REPLY |
                                      RCACHE__CLIENT_CLOSING |
                                      RCACHE__CLIENT_SUSPENDED))) {
        size_t argc = 0, consumed = 0;
        int r = rcache__resp_parse(&c->parser, buf + off, len - off, &c->argv,
                                   &c->argv_cap, &argc, &consumed);
        if (r == RCACHE_RESP_NEED_MORE)
            break;
        if (r != RCACHE_RESP_OK) {
            protocol_error(c);
            return len;
        }
        off += consumed;
        if (argc == 0)
            continue;
        /* Scripts pending (script_thread.c): only more scripts may follow
         * before their replies are in; anything else waits in the query
         * buffer, like a paused command, until the last one resumes c. */
        if (c->script_pending && (c->script_pending >= RCACHE__SCRIPT_PIPELINE_MAX ||
                                  !rcache__dispatch_is_script(c, argc, c->argv))) {
            c->flags |= RCACHE__CLIENT_SUSPENDED;
            return off - consumed;
        }
        /* The limit is checked before a command, not after: one reply
         * always goes out whole, so a stored value is always readable
         * however big (docs/SERVER.md); output piling up on top of it
         * (a pipelining client that does not read) closes the client. */
        if (rcache__client_output_over(c, 0))
            return len;
        if (rcache__pause_blocks(c, argc, c->argv)) {
            pause_hold(c); /* the command waits in the query buffer */
            return off - consumed;
        }
        struct evbuffer *muted = rcache__reply_mute(c);
        rcache__dispatch(c, argc, c->argv);
        rcache__reply_unmute(c, muted);
        if (c->argv_cap > ARGV_KEEP) {
            free(c->argv);
            c->argv = NULL;
            c->argv_cap = 0;
        }
    }
    return off;
}

/* Write what is pending; keeps EV_WRITE armed while something remains.
 * Returns -1 if the client was closed. */
static int flush_out(rcache__client_t *c) {
    if (c->flags & RCACHE__CLIENT_CLOSING) {
        rcache__client_close(c);
        return -1;
    }
    if (c->uc)
        return rcache__uring_flush(c);
    int rounds = 0;
    while (evbuffer_get_length(c->out) > 0 && rounds++ < 4) {
        int n = evbuffer_write(c->out, c->fd);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            rcache__client_close(c);
            return -1;
        }
        if (n == 0)
            break;
    }
    if (evbuffer_get_length(c->out) > 0) {
        if (!c->wev_on && event_add(c->wev, NULL) == 0)
            c->wev_on = 1;
        return 0;
    }
    if (c->wev_on) {
        event_del(c->wev);
        c->wev_on = 0;
    }
    if ((c->flags & RCACHE__CLIENT_CLOSE_AFTER_REPLY) || c->w->draining) {
        rcache__client_close(c);
        return -1;
    }
    return 0;
}

int rcache__client_flush(rcache__client_t *c) {
    return flush_out(c);
}

/* Make room for `room` more bytes of input. The buffer grows geometrically
 * but never past what the command in progress still lacks (when the parser
 * knows it) nor past the query buffer limit plus one read: the limit is
 * checked before growing, not after. Returns 0, -1 out of memory, -2 over
 * the limit. */
static int ensure_qbuf(rcache__client_t *c, size_t room) {
    if (c->qcap - c->qlen >= room)
        return 0;
    size_t need = c->qlen + room;
    uint64_t qlimit = atomic_load_explicit(&c->srv->query_buf_limit, memory_order_relaxed);
    size_t most = qlimit && qlimit < SIZE_MAX - READ_CHUNK ? (size_t)qlimit + READ_CHUNK
                                                           : SIZE_MAX;
    if (need > most)
        return -2;
    size_t ncap = c->qcap && c->qcap <= SIZE_MAX / 2 ? c->qcap * 2 : READ_CHUNK;
    size_t cmd = rcache__resp_need(&c->parser);
    if (cmd >= need && ncap > cmd)
        ncap = cmd;
    if (ncap < need)
        ncap = need;
    if (ncap > most)
        ncap = most;
    char *nb = realloc(c->qbuf, ncap);
    if (!nb)
        return -1;
    c->qbuf = nb;
    c->qcap = ncap;
    return 0;
}

/* Give back query buffer memory once a large request has been consumed. */
static void trim_qbuf(rcache__client_t *c) {
    if (c->qcap <= QBUF_KEEP)
        return;
    if (c->qlen == 0) {
        free(c->qbuf);
        c->qbuf = NULL;
        c->qcap = 0;
    } else if (c->qlen < c->qcap / 4) {
        size_t ncap = c->qlen * 2 > READ_CHUNK ? c->qlen * 2 : READ_CHUNK;
        char *nb = realloc(c->qbuf, ncap);
        if (nb) {
            c->qbuf = nb;
            c->qcap = ncap;
        }
    }
}

/* Publish the client's footprint for CLIENT LIST (owner thread only). */
/* The command state CLIENT LIST shows (db, MULTI), published before the
 * replies go out: a client that has read its +QUEUED then finds itself
 * "in MULTI" in another client's CLIENT LIST. */
static void publish_state(rcache__client_t *c) {
    atomic_store_explicit(&c->shown_db, c->db, memory_order_relaxed);
    atomic_store_explicit(&c->shown_multi, c->in_multi ? (long)c->nqueued : -1,
                          memory_order_release);
}

static void publish_mem(rcache__client_t *c) {
    const rcache__resp_parser_t *p = &c->parser;
    size_t argv = c->argv_cap * sizeof(rcache__arg_t) + p->cap * 2 * sizeof(size_t) +
                  p->inline_cap;
    atomic_store_explicit(&c->mem_qbuf, c->qlen, memory_order_relaxed);
    atomic_store_explicit(&c->mem_qfree, c->qcap - c->qlen, memory_order_relaxed);
    atomic_store_explicit(&c->mem_argv, argv, memory_order_relaxed);
    atomic_store_explicit(&c->mem_out, rcache__client_out_len(c), memory_order_relaxed);
    atomic_store_explicit(&c->mem_multi, c->queued_bytes, memory_order_relaxed);
    publish_state(c);
}

static void close_over_qlimit(rcache__client_t *c) {
    rcache__log(RCACHE__LOG_WARNING,
                "Closing client id=%llu addr=%s that reached max query buffer length",
                (unsigned long long)c->id, c->addr);
    rcache__client_close(c);
}

/* Run what the query buffer holds and keep the unconsumed rest. */
static void consume_qbuf(rcache__client_t *c) {
    size_t used = process(c, c->qbuf, c->qlen);
    if (used >= c->qlen) {
        c->qlen = 0;
    } else if (used) {
        memmove(c->qbuf, c->qbuf + used, c->qlen - used);
        c->qlen -= used;
    }
    trim_qbuf(c);
}

void rcache__client_resume(rcache__client_t *c) {
    c->flags &= ~RCACHE__CLIENT_SUSPENDED;
    if (!(c->flags & (RCACHE__CLIENT_CLOSING | RCACHE__CLIENT_CLOSE_AFTER_REPLY))) {
        reading(c, 1);
        if (c->qlen)
            consume_qbuf(c);
        if ((c->flags & (RCACHE__CLIENT_CLOSE_AFTER_REPLY | RCACHE__CLIENT_SUSPENDED)) ||
            c->script_pending)
            reading(c, 0);
    }
    if ((c->flags & RCACHE__CLIENT_PEER_EOF) && !(c->flags & RCACHE__CLIENT_SUSPENDED) &&
        !c->script_pending)
        c->flags |= RCACHE__CLIENT_CLOSE_AFTER_REPLY; /* all answered: now the EOF */
    flush_out(c);
}

void rcache__client_eof(rcache__client_t *c) {
    if (!(c->flags & (RCACHE__CLIENT_CLOSING | RCACHE__CLIENT_CLOSE_AFTER_REPLY)) &&
        ((c->flags & RCACHE__CLIENT_SUSPENDED) || c->script_pending)) {
        c->flags |= RCACHE__CLIENT_PEER_EOF;
        return;
    }
    rcache__client_close(c);
}

static void on_pause_retry(evutil_socket_t fd, short what, void *arg) {
    rcache__client_t *c = arg;
    (void)fd;
    (void)what;
    c->flags &= ~RCACHE__CLIENT_PAUSED;
    rcache__client_resume(c); /* runs the held command, or holds c again */
}

/* ensure_qbuf(), closing c when the buffer cannot grow (over the query
 * buffer limit, or no memory): 0, or -1 when c was closed. */
static int qbuf_room_or_close(rcache__client_t *c, size_t room) {
    int grc = ensure_qbuf(c, room);
    if (grc == 0)
        return 0;
    if (grc == -2)
        close_over_qlimit(c);
    else
        rcache__client_close(c);
    return -1;
}

/* Run n bytes just received. data is a buffer of the engine's (the
 * worker's scratch, or a ring buffer) unless in_qbuf: then they were read
 * straight onto the end of the query buffer. With nothing buffered the
 * commands are parsed in place and only a partial one is kept. */
static void handle_input(rcache__client_t *c, const char *data, size_t n, int in_qbuf) {
    atomic_store_explicit(&c->last_ms, rcache__mono_ms(), memory_order_relaxed);
    if (in_qbuf || c->qlen) {
        if (!in_qbuf) {
            if (qbuf_room_or_close(c, n) != 0)
                return;
            memcpy(c->qbuf + c->qlen, data, n);
        }
        c->qlen += n;
        consume_qbuf(c);
    } else {
        size_t used = process(c, data, n);
        size_t rest = n - used;
        if (rest && !(c->flags & (RCACHE__CLIENT_CLOSING | RCACHE__CLIENT_CLOSE_AFTER_REPLY))) {
            if (qbuf_room_or_close(c, rest) != 0)
                return;
            memcpy(c->qbuf, data + used, rest);
            c->qlen = rest;
        }
    }
    uint64_t qlimit = atomic_load_explicit(&c->srv->query_buf_limit, memory_order_relaxed);
    if (qlimit && c->qlen > qlimit) {
        rcache__log(RCACHE__LOG_WARNING,
                    "Closing client id=%llu addr=%s that reached max query buffer length",
                    (unsigned long long)c->id, c->addr);
        c->flags |= RCACHE__CLIENT_CLOSING;
    }
    /* With scripts pending, read nothing more until they are answered (as
     * when suspended): an end of file read now would drop their replies
     * (under io_uring, rcache__client_eof holds it instead). */
    if ((c->flags & (RCACHE__CLIENT_CLOSE_AFTER_REPLY | RCACHE__CLIENT_SUSPENDED)) ||
        c->script_pending)
        reading(c, 0);
    publish_state(c);
    if (flush_out(c) == 0)
        publish_mem(c);
}

/* CLIENT KILL from another thread: close c on its own worker. */
static int killed(rcache__client_t *c) {
    if (!atomic_load_explicit(&c->kill_requested, memory_order_relaxed))
        return 0;
    rcache__log(RCACHE__LOG_VERBOSE, "Client id=%llu addr=%s killed by CLIENT KILL",
                (unsigned long long)c->id, c->addr);
    rcache__client_close(c);
    return 1;
}

void rcache__client_received(rcache__client_t *c, const char *data, size_t n) {
    if (killed(c))
        return;
    /* What follows a reply that closes the client, or arrives while the
     * server drains, is not read (the epoll engine stops reading). */
    if ((c->flags & (RCACHE__CLIENT_CLOSING | RCACHE__CLIENT_CLOSE_AFTER_REPLY)) ||
        c->w->draining)
        return;
    handle_input(c, data, n, 0);
}

/* io_uring engine: c->rev activated by CLIENT KILL. */
static void on_wake(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    killed(arg);
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
    rcache__client_t *c = arg;
    rcache__worker_t *w = c->w;
    ssize_t n;
    (void)what;
    if (killed(c))
        return;
    if (c->qlen == 0) {
        n = read(fd, w->rbuf, w->rbuf_cap);
    } else {
        /* Read at most what the bulk in progress still lacks, or a chunk. */
        size_t room = READ_CHUNK, cmd = rcache__resp_need(&c->parser);
        if (cmd > c->qlen && cmd - c->qlen < room)
            room = cmd - c->qlen;
        int grc = ensure_qbuf(c, room);
        if (grc == -2) {
            close_over_qlimit(c);
            return;
        }
        if (grc != 0) {
            rcache__log(RCACHE__LOG_WARNING, "Out of memory for client id=%llu query buffer",
                        (unsigned long long)c->id);
            rcache__client_close(c);
            return;
        }
        n = read(fd, c->qbuf + c->qlen, c->qcap - c->qlen);
    }
    if (n == 0) {
        rcache__client_close(c);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        rcache__log(RCACHE__LOG_VERBOSE, "Reading from client id=%llu: %s",
                    (unsigned long long)c->id, strerror(errno));
        rcache__client_close(c);
        return;
    }
    handle_input(c, c->qlen ? NULL : w->rbuf, (size_t)n, c->qlen != 0);
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    flush_out(arg);
}

/* Called by the worker's 1 s timer: idle timeout. */
void rcache__clients_cron(rcache__worker_t *w) {
    uint64_t timeout = atomic_load(&w->srv->timeout_s);
    if (!timeout)
        return;
    uint64_t now = rcache__mono_ms();
    rcache__client_t *c = w->clients;
    while (c) {
        rcache__client_t *next = c->next;
        uint64_t last = atomic_load_explicit(&c->last_ms, memory_order_relaxed);
        if (now > last && now - last > timeout * 1000 &&
            rcache__client_out_len(c) == 0) {
            rcache__log(RCACHE__LOG_VERBOSE, "Closing idle client id=%llu addr=%s",
                        (unsigned long long)c->id, c->addr);
            rcache__client_close(c);
        }
        c = next;
    }
}

/* Shutdown: stop reading from every client, close those with nothing to
 * send; the others close when their output has drained. */
void rcache__clients_drain(rcache__worker_t *w) {
    rcache__client_t *c = w->clients;
    while (c) {
        rcache__client_t *next = c->next;
        reading(c, 0);
        if (rcache__client_out_len(c) == 0)
            rcache__client_close(c);
        else
            flush_out(c);
        c = next;
    }
}

size_t rcache__client_describe(rcache__client_t *c, rcache__client_t *self,
                               char *out, size_t cap) {
    uint64_t now = rcache__mono_ms();
    uint64_t last = atomic_load_explicit(&c->last_ms, memory_order_relaxed);
    const char *cmd = atomic_load_explicit(&c->last_cmd, memory_order_relaxed);
    if (c == self)
        publish_mem(c); /* its own figures are current */
    size_t qbuf = atomic_load_explicit(&c->mem_qbuf, memory_order_relaxed);
    size_t qfree = atomic_load_explicit(&c->mem_qfree, memory_order_relaxed);
    size_t argv = atomic_load_explicit(&c->mem_argv, memory_order_relaxed);
    size_t omem = atomic_load_explicit(&c->mem_out, memory_order_relaxed);
    size_t mmem = atomic_load_explicit(&c->mem_multi, memory_order_relaxed);
    size_t tot = sizeof *c + qbuf + qfree + argv + omem + mmem;
    int db = atomic_load_explicit(&c->shown_db, memory_order_relaxed);
    long multi = atomic_load_explicit(&c->shown_multi, memory_order_relaxed);
    unsigned nsub = atomic_load_explicit(&c->nsub, memory_order_relaxed);
    unsigned npsub = atomic_load_explicit(&c->npsub, memory_order_relaxed);
    int resp = atomic_load_explicit(&c->shown_resp, memory_order_relaxed);
    char flags[16], *f = flags;
    if (nsub + npsub)
        *f++ = 'P';
    if (multi >= 0)
        *f++ = 'x';
    unsigned trk = atomic_load_explicit(&c->trk_shown, memory_order_relaxed);
    if (trk & RCACHE__TRK_SHOWN_ON)
        *f++ = 't';
    if (trk & RCACHE__TRK_SHOWN_BROKEN)
        *f++ = 'R';
    if (trk & RCACHE__TRK_SHOWN_BCAST)
        *f++ = 'B';
    if (atomic_load_explicit(&c->no_evict, memory_order_relaxed))
        *f++ = 'e';
    if (f == flags)
        *f++ = 'N';
    *f = '\0';
    int n = snprintf(out, cap,
                     "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu "
                     "flags=%s db=%d sub=%u psub=%u ssub=0 multi=%ld qbuf=%zu "
                     "qbuf-free=%zu argv-mem=%zu multi-mem=%zu rbs=0 rbp=0 obl=0 "
                     "oll=0 omem=%zu tot-mem=%zu events=r cmd=%s user=default "
                     "redir=%lld resp=%d\n",
                     (unsigned long long)c->id, c->addr, c->laddr, (int)c->fd,
                     c->name ? c->name : "",
                     (unsigned long long)((now - c->ctime_ms) / 1000),
                     (unsigned long long)(now > last ? (now - last) / 1000 : 0), flags, db,
                     nsub, npsub, multi, qbuf, qfree, argv, mmem, omem, tot, cmd ? cmd : "NULL",
                     (trk & RCACHE__TRK_SHOWN_ON)
                         ? atomic_load_explicit(&c->trk_redir, memory_order_relaxed)
                         : -1LL,
                     resp == 3 ? 3 : 2);
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

void rcache__client_kill(rcache__client_t *o) {
    atomic_store(&o->kill_requested, 1);
    event_active(o->rev, EV_READ, 0);
}

const char *rcache__client_event_method(rcache__client_t *c) {
    return c->w->uring ? "io_uring" : event_base_get_method(c->w->base);
}

size_t rcache__client_out_len(const rcache__client_t *c) {
    return evbuffer_get_length(c->out) + rcache__uring_pending(c);
}
