/*
 * uring.c - the io_uring I/O engine for client connections
 * (--io-engine uring): one ring per worker thread, a multishot receive per
 * client into the ring's provided buffers, and sends (sendmsg of the
 * output's chains) as submissions, batched: every completion that arrived
 * is handled, then everything prepared meanwhile is submitted with one
 * io_uring_enter.
 *
 * Why it sits inside libevent instead of replacing it: the worker's
 * event_base keeps everything else that wakes a worker (hand-over of new
 * sockets, pub/sub mailboxes, MONITOR, CLIENT KILL, CLIENT PAUSE and idle
 * timers, the script thread's replies), all through event_active() from
 * other threads. Where the kernel allows, the ring defers its task work
 * (DEFER_TASKRUN): completions are posted only when the worker asks, and
 * the kernel signals a registered eventfd, polled by that base, when
 * there is work to ask for; otherwise the ring's own file descriptor is
 * polled (readable while completions wait). Commands, parsing and replies are
 * client.c's, shared with the epoll engine (rcache__client_received).
 *
 * Each submission's user_data points to its client's recv_op or send_op
 * (a cancel's is NULL).
 *
 * Output: a send takes the chains of c->out into c->uc->sending (moved,
 * not copied) and the kernel reads them in place, so zero-copy GET
 * references are held until the send completes; replies made meanwhile go
 * to c->out, never under the kernel. A client closed with operations in
 * flight is cancelled and its memory lives on until their completions
 * came back (or the ring is torn down).
 *
 * Without liburing (RCACHE_HAVE_URING unset) only stubs that refuse are
 * compiled, and the server falls back to epoll with a log line.
 */
#include "server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RCACHE_HAVE_URING

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/uio.h>

#define RING_ENTRIES 1024u
#define NBUFS 256u          /* provided receive buffers per worker (power of 2) */
#define BUF_BYTES 16384u    /* bytes of each */
#define BGID 0
#define SEND_IOV 64         /* chains per sendmsg */
enum { OP_RECV = 1, OP_SEND };

/* What a submission's user_data points to (NULL: a cancel, ignored). */
struct op {
    rcache__client_t *c;
    int kind;
};

struct rcache__uring_conn {
    struct op recv_op, send_op;
    struct evbuffer *sending;   /* bytes the send in flight covers */
    int ops;                    /* operations in flight */
    int send_busy;
    int closed;                 /* rcache__client_close ran */
    struct msghdr mh;
    struct iovec iov[SEND_IOV];
};

struct rcache__uring {
    struct io_uring ring;
    int ring_ok;
    int deferred;               /* DEFER_TASKRUN: completions wait for get_events */
    int efd;                    /* eventfd the kernel signals (deferred), or -1 */
    struct io_uring_buf_ring *br;
    char *bufs;
    int in_loop;                /* completions being handled: submit after */
    int no_multishot;           /* the kernel refused multishot receive */
    struct event *ev;           /* the ring's fd on the worker's base */
    rcache__client_t *zombies;  /* closed, operations still in flight */
};

static struct io_uring_sqe *get_sqe(struct rcache__uring *u) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static void submit_unless_looping(struct rcache__uring *u) {
    if (!u->in_loop)
        io_uring_submit(&u->ring);
}

static int arm_recv(rcache__client_t *c) {
    struct rcache__uring *u = c->w->uring;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return -1;
    if (u->no_multishot)
        io_uring_prep_recv(sqe, c->fd, NULL, 0, 0);
    else
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data(sqe, &c->uc->recv_op);
    c->uc->ops++;
    submit_unless_looping(u);
    return 0;
}

static void recycle(struct rcache__uring *u, unsigned bid) {
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUF_BYTES, BUF_BYTES, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUFS), 0);
    io_uring_buf_ring_advance(u->br, 1);
}

static void free_conn_mem(rcache__client_t *c) {
    if (c->uc) {
        if (c->uc->sending)
            evbuffer_free(c->uc->sending); /* releases referenced entries */
        free(c->uc);
    }
    free(c);
}

static void zombie_done(struct rcache__uring *u, rcache__client_t *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        u->zombies = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free_conn_mem(c);
}

static void on_recv(struct rcache__uring *u, rcache__client_t *c, int res, unsigned flags) {
    struct rcache__uring_conn *uc = c->uc;
    int more = (flags & IORING_CQE_F_MORE) != 0;
    int has_buf = (flags & IORING_CQE_F_BUFFER) != 0;
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (!more)
        uc->ops--;
    if (uc->closed) {
        if (has_buf)
            recycle(u, bid);
        if (uc->ops == 0)
            zombie_done(u, c);
        return;
    }
    if (res == -EINVAL && !u->no_multishot && !has_buf) {
        u->no_multishot = 1; /* an older kernel: one receive at a time */
        res = -ENOBUFS;
    }
    if (res == -ENOBUFS || (res > 0 && !more)) {
        /* Re-arm before running the data, which may close c: the new
         * receive then only gets cancelled. */
        if (arm_recv(c) != 0) {
            if (has_buf)
                recycle(u, bid);
            rcache__client_close(c);
            return;
        }
        if (res == -ENOBUFS)
            return;
    }
    if (res > 0) {
        rcache__client_received(c, u->bufs + (size_t)bid * BUF_BYTES, (size_t)res);
        recycle(u, bid);
        return;
    }
    if (has_buf)
        recycle(u, bid);
    if (res == 0) {
        rcache__client_eof(c); /* the peer closed (or half-closed) */
        return;
    }
    rcache__log(RCACHE__LOG_VERBOSE, "Reading from client id=%llu: %s",
                (unsigned long long)c->id, strerror(-res));
    rcache__client_close(c);
}

static void on_send(struct rcache__uring *u, rcache__client_t *c, int res) {
    struct rcache__uring_conn *uc = c->uc;
    uc->ops--;
    uc->send_busy = 0;
    if (uc->closed) {
        if (uc->ops == 0)
            zombie_done(u, c);
        return;
    }
    if (res < 0) {
        rcache__log(RCACHE__LOG_VERBOSE, "Writing to client id=%llu: %s",
                    (unsigned long long)c->id, strerror(-res));
        rcache__client_close(c);
        return;
    }
    evbuffer_drain(uc->sending, (size_t)res);
    rcache__client_flush(c); /* the rest, or what came meanwhile */
}

static void handle(struct rcache__uring *u, const struct op *op, int res, unsigned flags) {
    if (!op)
        return; /* a cancel's own completion */
    if (op->kind == OP_RECV)
        on_recv(u, op->c, res, flags);
    else
        on_send(u, op->c, res);
}

/* The ring's fd is readable: handle every completion, submit what they
 * prepared, and go on while submitting completed more (sends usually
 * complete inline), so one wake-up does a whole round of I/O. */
static void on_ring(evutil_socket_t fd, short what, void *arg) {
    struct rcache__uring *u = arg;
    (void)fd;
    (void)what;
    u->in_loop = 1;
    if (u->deferred)
        io_uring_submit_and_get_events(&u->ring); /* run the deferred task work */
    for (int round = 0; round < 16; round++) {
        struct io_uring_cqe *cqes[64];
        unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes, 64);
        for (unsigned i = 0; i < n; i++) {
            const struct op *op = io_uring_cqe_get_data(cqes[i]);
            int res = cqes[i]->res;
            unsigned flags = cqes[i]->flags;
            io_uring_cqe_seen(&u->ring, cqes[i]);
            handle(u, op, res, flags);
        }
        if (u->deferred)
            io_uring_submit_and_get_events(&u->ring);
        else if (io_uring_sq_ready(&u->ring))
            io_uring_submit(&u->ring);
        if (n == 0 && !io_uring_cq_ready(&u->ring))
            break;
    }
    u->in_loop = 0;
}

/* The ring, with task work deferred to the worker's own io_uring_enter
 * (DEFER_TASKRUN, which needs SINGLE_ISSUER: the ring starts disabled and
 * the worker thread enables it, so it is the issuer) where the kernel
 * allows; otherwise a plain ring, whose completions are posted by task
 * work that interrupts the worker wherever it is (epoll_wait's EINTR). */
static int ring_init(struct rcache__uring *u) {
    const char *plain = getenv("RCACHE_TEST_URING_PLAIN");
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
    int rc = plain && plain[0] == '1' ? -EINVAL : io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
    if (rc == 0) {
        u->deferred = 1;
        return 0;
    }
    return io_uring_queue_init(RING_ENTRIES, &u->ring, 0);
}

int rcache__uring_worker_init(rcache__worker_t *w, char *why, size_t whylen) {
    const char *refuse = getenv("RCACHE_TEST_URING_REFUSE");
    if (refuse && refuse[0] == '1') {
        snprintf(why, whylen, "io_uring refused by RCACHE_TEST_URING_REFUSE (test hook)");
        return -1;
    }
    struct rcache__uring *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    w->uring = u;
    u->efd = -1;
    int rc = ring_init(u);
    if (rc < 0) {
        snprintf(why, whylen, "io_uring_queue_init: %s", strerror(-rc));
        return -1;
    }
    u->ring_ok = 1;
    size_t brbytes = NBUFS * sizeof(struct io_uring_buf);
    void *brmem = NULL;
    if (posix_memalign(&brmem, 4096, brbytes) != 0 ||
        !(u->bufs = malloc((size_t)NBUFS * BUF_BYTES))) {
        free(brmem);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    u->br = brmem;
    io_uring_buf_ring_init(u->br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)u->br;
    reg.ring_entries = NBUFS;
    reg.bgid = BGID;
    rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
    if (rc < 0) {
        snprintf(why, whylen, "provided buffer rings: %s", strerror(-rc));
        return -1;
    }
    for (unsigned i = 0; i < NBUFS; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * BUF_BYTES, BUF_BYTES,
                              (unsigned short)i, io_uring_buf_ring_mask(NBUFS), (int)i);
    io_uring_buf_ring_advance(u->br, (int)NBUFS);
    /* Deferred: the kernel signals the eventfd when completion work
     * waits (polling the ring's fd would not wake up for it); edge
     * triggered, so it is never read. */
    int wfd = u->ring.ring_fd;
    short wev = EV_READ | EV_PERSIST;
    if (u->deferred) {
        u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (u->efd < 0 || io_uring_register_eventfd(&u->ring, u->efd) != 0) {
            snprintf(why, whylen, "io_uring eventfd: %s", strerror(errno));
            return -1;
        }
        wfd = u->efd;
        wev |= EV_ET;
    }
    u->ev = event_new(w->base, wfd, wev, on_ring, u);
    if (!u->ev || event_add(u->ev, NULL) != 0) {
        snprintf(why, whylen, "cannot add the ring to the event loop");
        return -1;
    }
    return 0;
}

/* Cancel everything in flight and take the completions, so no send reads
 * a buffer after it is freed (the ring's own teardown runs later, in the
 * kernel's time). Bounded: 1 s without a completion ends the wait. */
static void reap(struct rcache__uring *u) {
    if (!u->zombies)
        return;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return;
    io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data(sqe, NULL);
    io_uring_submit(&u->ring);
    u->in_loop = 1;
    while (u->zombies) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {1, 0};
        if (io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts) != 0)
            break;
        const struct op *op = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        unsigned flags = cqe->flags;
        io_uring_cqe_seen(&u->ring, cqe);
        handle(u, op, res, flags);
    }
}

int rcache__uring_worker_enter(rcache__worker_t *w) {
    struct rcache__uring *u = w->uring;
    if (!u || !u->deferred)
        return 0;
    /* io_uring_enable_rings() is declared but not exported by liburing
     * 2.3: the register call it wraps. */
    long rc = syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
                      NULL, 0);
    return rc < 0 ? -errno : 0;
}

void rcache__uring_worker_free(rcache__worker_t *w) {
    struct rcache__uring *u = w->uring;
    if (!u)
        return;
    if (u->ev)
        event_free(u->ev);
    if (u->efd >= 0)
        close(u->efd);
    if (u->ring_ok) {
        reap(u);
        io_uring_queue_exit(&u->ring);
    }
    for (rcache__client_t *c = u->zombies, *next; c; c = next) {
        next = c->next;
        free_conn_mem(c);
    }
    u->zombies = NULL;
    free(u->br);
    free(u->bufs);
    free(u);
    w->uring = NULL;
}

int rcache__uring_client_start(rcache__client_t *c) {
    c->uc = calloc(1, sizeof *c->uc);
    if (!c->uc)
        return -1;
    c->uc->recv_op = (struct op){c, OP_RECV};
    c->uc->send_op = (struct op){c, OP_SEND};
    c->uc->sending = evbuffer_new();
    if (!c->uc->sending || arm_recv(c) != 0) {
        if (c->uc->sending)
            evbuffer_free(c->uc->sending);
        free(c->uc);
        c->uc = NULL;
        return -1;
    }
    return 0;
}

size_t rcache__uring_pending(const rcache__client_t *c) {
    return c->uc ? evbuffer_get_length(c->uc->sending) : 0;
}

int rcache__uring_flush(rcache__client_t *c) {
    struct rcache__uring_conn *uc = c->uc;
    if (uc->send_busy)
        return 0;
    if (evbuffer_get_length(uc->sending) == 0) {
        if (evbuffer_get_length(c->out) == 0) {
            if ((c->flags & RCACHE__CLIENT_CLOSE_AFTER_REPLY) || c->w->draining) {
                rcache__client_close(c);
                return -1;
            }
            return 0;
        }
        if (evbuffer_add_buffer(uc->sending, c->out) != 0) {
            rcache__client_close(c);
            return -1;
        }
    }
    struct rcache__uring *u = c->w->uring;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe) {
        rcache__client_close(c);
        return -1;
    }
    int n = evbuffer_peek(uc->sending, -1, NULL, (struct evbuffer_iovec *)uc->iov, SEND_IOV);
    memset(&uc->mh, 0, sizeof uc->mh);
    uc->mh.msg_iov = uc->iov;
    uc->mh.msg_iovlen = (size_t)(n < SEND_IOV ? n : SEND_IOV);
    io_uring_prep_sendmsg(sqe, c->fd, &uc->mh, MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, &uc->send_op);
    uc->ops++;
    uc->send_busy = 1;
    submit_unless_looping(u);
    return 0;
}

int rcache__uring_client_closing(rcache__client_t *c) {
    struct rcache__uring_conn *uc = c->uc;
    struct rcache__uring *u = c->w->uring;
    if (!uc)
        return 0;
    uc->closed = 1;
    if (uc->ops == 0) {
        evbuffer_free(uc->sending);
        free(uc);
        c->uc = NULL;
        return 0;
    }
    struct op *ops[] = {&uc->recv_op, &uc->send_op};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct io_uring_sqe *sqe = get_sqe(u);
        if (!sqe)
            break; /* the ring's teardown cancels it */
        io_uring_prep_cancel(sqe, ops[i], IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data(sqe, NULL);
    }
    submit_unless_looping(u);
    c->prev = NULL;
    c->next = u->zombies;
    if (u->zombies)
        u->zombies->prev = c;
    u->zombies = c;
    return 1;
}

#else /* !RCACHE_HAVE_URING */

int rcache__uring_worker_init(rcache__worker_t *w, char *why, size_t whylen) {
    (void)w;
    snprintf(why, whylen, "built without liburing");
    return -1;
}

int rcache__uring_worker_enter(rcache__worker_t *w) {
    (void)w;
    return 0;
}

void rcache__uring_worker_free(rcache__worker_t *w) {
    (void)w;
}

int rcache__uring_client_start(rcache__client_t *c) {
    (void)c;
    return -1;
}

int rcache__uring_flush(rcache__client_t *c) {
    (void)c;
    return 0;
}

int rcache__uring_client_closing(rcache__client_t *c) {
    (void)c;
    return 0;
}

size_t rcache__uring_pending(const rcache__client_t *c) {
    (void)c;
    return 0;
}

#endif
