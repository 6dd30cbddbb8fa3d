/*
 * pubsub.c - the Pub/Sub registry and cross-thread delivery (pubsub.h).
 *
 * Why a registry with one rwlock and per-subscriber mailboxes: a publisher
 * may run on any thread (a worker, the script thread, the main thread's
 * expiry timer publishing keyspace events, an eviction on the admin
 * thread), while a subscriber's socket and output buffer belong to its
 * worker alone. The publisher therefore never touches the subscriber's
 * client: it appends the formatted message to the subscriber's mailbox
 * (its own mutex) and activates an event on the subscriber's event_base
 * (thread-safe with libevent's pthread support). Subscriptions change
 * rarely and publishes are frequent, so the registry is read-locked by
 * publishers (in parallel) and write-locked by (UN)SUBSCRIBE.
 *
 * Ordering: one FIFO per subscriber, appended under its lock in the order
 * a publisher publishes: one publisher's messages reach a subscriber in
 * publish order. A subscriber's own replies (subscribe confirmations)
 * are written after draining its mailbox, so a message published before
 * an UNSUBSCRIBE is answered arrives before that confirmation.
 *
 * The pub/sub output-buffer limit (client-output-buffer-limit pubsub
 * <hard> <soft> <seconds>, Redis's default 32mb 8mb 60): a mailbox that
 * would grow past the hard limit is marked overflowed and its client is
 * closed by its worker; after each delivery the worker closes a client
 * whose output (after trying to write it) is above the hard limit, or has
 * been above the soft limit for more than <seconds> on the server clock
 * (the cache clock: DEBUG CLOCK moves it in tests).
 */
#include "pubsub.h"

#include "server.h"
#include "strtab.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

typedef struct node node_t;

typedef struct mailbox {
    pthread_mutex_t lock;
    struct evbuffer *q; /* messages not yet moved to the client's output */
    struct event *ev;   /* on the owner's base: "something arrived" */
    size_t qbytes;
    int scheduled;      /* ev activated and not yet run */
    int overflow;       /* hard limit passed: the owner closes the client */
} mailbox_t;

/* A subscribed client's state. chans/pats and soft_since_ms belong to the
 * owner worker (changed under the registry write lock, so PUBSUB readers
 * see them consistently); mb is shared with publishers. */
struct rcache__pubsub_client {
    mailbox_t mb;
    rcache__client_t *c;
    node_t **chans;
    size_t nchans, capchans;
    node_t **pats;
    size_t npats, cappats;
    uint64_t soft_since_ms; /* 0 = under the soft limit */
    _Atomic int push;       /* RESP3 client: messages are '>' push frames */
    uint64_t id;            /* c->id, for the index by id (R.lock) */
    struct rcache__pubsub_client *id_next;
};
typedef struct rcache__pubsub_client ps_t;

/* One channel or pattern with its subscribers. */
struct node {
    rcache__strtab_node_t h; /* named: in R.chans, or on R.patterns */
    ps_t **subs;
    size_t nsubs, capsubs;
    char name[];
};

static struct {
    pthread_rwlock_t lock;
    rcache__strtab_t chans;
    rcache__strtab_node_t *patterns; /* in PSUBSCRIBE order */
    size_t npatterns;
    _Atomic size_t nsubscriptions; /* all clients, channels + patterns */
    _Atomic uint64_t hard, soft, soft_s;
    /* every mailbox by client id, for rcache__pubsub_send_id (tracking) */
#define ID_BUCKETS 256u
    ps_t *by_id[ID_BUCKETS];
} R;

int rcache__pubsub_init(void) {
    if (rcache__strtab_init(&R.chans, 64) != 0)
        return -1;
    pthread_rwlock_init(&R.lock, NULL);
    return 0;
}

void rcache__pubsub_free(void) {
    /* Every client is closed by now: the registry is empty. */
    rcache__strtab_fini(&R.chans);
    pthread_rwlock_destroy(&R.lock);
}

void rcache__pubsub_set_limits(uint64_t hard_bytes, uint64_t soft_bytes, uint64_t soft_s) {
    atomic_store(&R.hard, hard_bytes);
    atomic_store(&R.soft, soft_bytes);
    atomic_store(&R.soft_s, soft_s);
}

void rcache__pubsub_sizes(size_t *channels, size_t *patterns) {
    *channels = *patterns = 0;
    if (rcache__pubsub_idle())
        return; /* also before init and after free */
    pthread_rwlock_rdlock(&R.lock);
    *channels = R.chans.count;
    *patterns = R.npatterns;
    pthread_rwlock_unlock(&R.lock);
}

int rcache__pubsub_idle(void) {
    return atomic_load_explicit(&R.nsubscriptions, memory_order_relaxed) == 0;
}

size_t rcache__pubsub_count(const rcache__client_t *c) {
    return c->ps ? c->ps->nchans + c->ps->npats : 0;
}

/* ---- registry (write lock held unless said) ----------------------------- */

/* The link holding the channel (or pattern) named (name, len), or where it
 * would go. */
static rcache__strtab_node_t **slot_of(const void *name, size_t len, int pattern) {
    return pattern ? rcache__strtab_list_slot(&R.patterns, name, len)
                   : rcache__strtab_slot(&R.chans, name, len);
}

/* The node held by a link (NULL: none). */
static node_t *node_at(rcache__strtab_node_t **slot) { return (node_t *)*slot; }

static int push_ptr(void ***arr, size_t *n, size_t *cap, void *p) {
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        void **na = realloc(*arr, ncap * sizeof *na);
        if (!na)
            return -1;
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

static int has_ptr(void **arr, size_t n, const void *p) {
    for (size_t i = 0; i < n; i++)
        if (arr[i] == p)
            return 1;
    return 0;
}

/* Remove p from arr, keeping the order of the rest. */
static void drop_ptr(void **arr, size_t *n, const void *p) {
    for (size_t i = 0; i < *n; i++) {
        if (arr[i] == p) {
            memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof *arr);
            (*n)--;
            return;
        }
    }
}

/* Add ps to the channel or pattern; 1 added, 0 already there, -1 OOM. */
static int reg_add(ps_t *ps, const void *name, size_t len, int pattern) {
    rcache__strtab_node_t **slot = slot_of(name, len, pattern);
    node_t *n = node_at(slot);
    int created = 0;
    if (n && has_ptr((void **)(pattern ? ps->pats : ps->chans),
                     pattern ? ps->npats : ps->nchans, n))
        return 0;
    if (!n) {
        n = calloc(1, sizeof *n + len + 1);
        if (!n)
            return -1;
        memcpy(n->name, name, len);
        n->h.name = n->name;
        n->h.len = len;
        created = 1;
    }
    if (push_ptr((void ***)&n->subs, &n->nsubs, &n->capsubs, ps) != 0 ||
        (pattern ? push_ptr((void ***)&ps->pats, &ps->npats, &ps->cappats, n)
                 : push_ptr((void ***)&ps->chans, &ps->nchans, &ps->capchans, n)) != 0) {
        if (created) {
            free(n->subs);
            free(n);
        } else {
            drop_ptr((void **)n->subs, &n->nsubs, ps);
        }
        return -1;
    }
    if (created) {
        if (pattern) {
            *slot = &n->h; /* the end of the list */
            R.npatterns++;
        } else {
            rcache__strtab_link(&R.chans, slot, &n->h);
        }
    }
    atomic_fetch_add(&R.nsubscriptions, 1);
    return 1;
}

/* Remove ps from node n (one of its subscriptions). */
static void reg_del(ps_t *ps, node_t *n, int pattern) {
    drop_ptr((void **)n->subs, &n->nsubs, ps);
    if (pattern)
        drop_ptr((void **)ps->pats, &ps->npats, n);
    else
        drop_ptr((void **)ps->chans, &ps->nchans, n);
    atomic_fetch_sub(&R.nsubscriptions, 1);
    if (n->nsubs)
        return;
    rcache__strtab_node_t **slot = slot_of(n->name, n->h.len, pattern);
    if (pattern) {
        *slot = n->h.next;
        R.npatterns--;
    } else {
        rcache__strtab_unlink(&R.chans, slot);
    }
    free(n->subs);
    free(n);
}

/* ---- delivery ----------------------------------------------------------- */

static void push_message(ps_t *ps, const char *buf, size_t len) {
    mailbox_t *mb = &ps->mb;
    uint64_t hard = atomic_load_explicit(&R.hard, memory_order_relaxed);
    pthread_mutex_lock(&mb->lock);
    if (!mb->overflow) {
        /* over the hard limit, or out of memory: the owner drops the client */
        if ((hard && mb->qbytes + len > hard) || evbuffer_add(mb->q, buf, len) != 0)
            mb->overflow = 1;
        else
            mb->qbytes += len;
    }
    if (!mb->scheduled) {
        mb->scheduled = 1;
        event_active(mb->ev, EV_READ, 0);
    }
    pthread_mutex_unlock(&mb->lock);
}

/* Append the message m (formatted once, as a RESP2 array) to ps's
 * mailbox, as a RESP3 push frame ('>' for '*') when ps speaks RESP3. */
static void deliver(ps_t *ps, char *m, size_t len) {
    int push = atomic_load_explicit(&ps->push, memory_order_relaxed);
    m[0] = push ? '>' : '*';
    push_message(ps, m, len);
}

/* Append "$<len>\r\n<p>\r\n" at out; returns the end. */
static char *put_bulk(char *out, const void *p, size_t len) {
    out += sprintf(out, "$%zu\r\n", len);
    memcpy(out, p, len);
    out += len;
    *out++ = '\r';
    *out++ = '\n';
    return out;
}

#define BULK_OVERHEAD 24 /* "$" + 20 digits + 2 CRLF */

long long rcache__pubsub_publish(const void *channel, size_t clen, const void *msg,
                                 size_t mlen) {
    long long receivers = 0;
    char stack[1024], *buf = NULL, *heap = NULL;
    /* room for the longest form: pmessage with the longest pattern */
    size_t base = 32 + 4 * BULK_OVERHEAD + clen + mlen;
    if (rcache__pubsub_idle())
        return 0;
    pthread_rwlock_rdlock(&R.lock);
    node_t *n = node_at(slot_of(channel, clen, 0));
    if (n && n->nsubs) {
        buf = base <= sizeof stack ? stack : (heap = malloc(base));
        if (buf) {
            char *e = buf + sprintf(buf, "*3\r\n$7\r\nmessage\r\n");
            e = put_bulk(put_bulk(e, channel, clen), msg, mlen);
            for (size_t i = 0; i < n->nsubs; i++)
                deliver(n->subs[i], buf, (size_t)(e - buf));
            receivers += (long long)n->nsubs;
        }
    }
    for (node_t *p = (node_t *)R.patterns; p; p = (node_t *)p->h.next) {
        if (rcache_glob_match_lenient(p->name, p->h.len, channel, clen) != 1)
            continue;
        size_t need = base + p->h.len;
        char *pb = need <= sizeof stack ? stack : malloc(need);
        if (!pb)
            continue;
        char *e = pb + sprintf(pb, "*4\r\n$8\r\npmessage\r\n");
        e = put_bulk(put_bulk(put_bulk(e, p->name, p->h.len), channel, clen), msg, mlen);
        for (size_t i = 0; i < p->nsubs; i++)
            deliver(p->subs[i], pb, (size_t)(e - pb));
        receivers += (long long)p->nsubs;
        if (pb != stack)
            free(pb);
    }
    pthread_rwlock_unlock(&R.lock);
    free(heap);
    return receivers;
}

/* Move the mailbox into c's output; returns the overflow mark. */
static int move_out(ps_t *ps) {
    mailbox_t *mb = &ps->mb;
    pthread_mutex_lock(&mb->lock);
    evbuffer_add_buffer(ps->c->out, mb->q);
    mb->qbytes = 0;
    mb->scheduled = 0;
    int over = mb->overflow;
    pthread_mutex_unlock(&mb->lock);
    return over;
}

void rcache__pubsub_drain(rcache__client_t *c) {
    if (c->ps)
        move_out(c->ps);
}

static void close_over_limit(rcache__client_t *c) {
    rcache__log(RCACHE__LOG_WARNING,
                "Client id=%llu addr=%s closed for overcoming of output buffer limits.",
                (unsigned long long)c->id, c->addr);
    c->flags |= RCACHE__CLIENT_CLOSING;
    rcache__client_flush(c); /* closes it */
}

/* Redis's checkClientOutputBufferLimits for the pubsub class: 1 when c
 * must go (hard limit, or soft limit held for more than soft_s). */
static int over_limits(ps_t *ps, size_t used) {
    uint64_t hard = atomic_load_explicit(&R.hard, memory_order_relaxed);
    uint64_t soft = atomic_load_explicit(&R.soft, memory_order_relaxed);
    if (hard && used >= hard)
        return 1;
    if (!soft || used < soft) {
        ps->soft_since_ms = 0;
        return 0;
    }
    uint64_t now = rcache_now_ms(ps->c->srv->cache);
    if (!ps->soft_since_ms) {
        ps->soft_since_ms = now ? now : 1;
        return 0;
    }
    uint64_t limit_ms = atomic_load_explicit(&R.soft_s, memory_order_relaxed) * 1000;
    return now > ps->soft_since_ms && now - ps->soft_since_ms > limit_ms;
}

/* The owner's side: messages arrived (or the mailbox overflowed). */
static void on_mailbox(evutil_socket_t fd, short what, void *arg) {
    ps_t *ps = arg;
    rcache__client_t *c = ps->c;
    (void)fd;
    (void)what;
    if (move_out(ps)) {
        close_over_limit(c);
        return;
    }
    if (rcache__client_flush(c) != 0)
        return; /* closed */
    size_t used = rcache__client_out_len(c);
    if (over_limits(ps, used)) {
        close_over_limit(c);
        return;
    }
    atomic_store_explicit(&c->mem_out, used, memory_order_relaxed);
}

static ps_t *ps_of(rcache__client_t *c) {
    if (c->ps)
        return c->ps;
    if (!c->w)
        return NULL;
    ps_t *ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    ps->c = c;
    ps->mb.q = evbuffer_new();
    ps->mb.ev = event_new(c->w->base, -1, 0, on_mailbox, ps);
    if (!ps->mb.q || !ps->mb.ev) {
        if (ps->mb.q)
            evbuffer_free(ps->mb.q);
        if (ps->mb.ev)
            event_free(ps->mb.ev);
        free(ps);
        return NULL;
    }
    pthread_mutex_init(&ps->mb.lock, NULL);
    atomic_init(&ps->push, c->resp3);
    ps->id = c->id;
    pthread_rwlock_wrlock(&R.lock);
    ps->id_next = R.by_id[ps->id % ID_BUCKETS];
    R.by_id[ps->id % ID_BUCKETS] = ps;
    pthread_rwlock_unlock(&R.lock);
    c->ps = ps;
    return ps;
}

int rcache__pubsub_open(rcache__client_t *c) {
    return ps_of(c) ? 0 : -1;
}

int rcache__pubsub_send_id(uint64_t id, const char *push, size_t plen, const char *msg,
                           size_t mlen) {
    int found = 0;
    pthread_rwlock_rdlock(&R.lock);
    for (ps_t *ps = R.by_id[id % ID_BUCKETS]; ps; ps = ps->id_next) {
        if (ps->id != id)
            continue;
        found = 1;
        if (atomic_load_explicit(&ps->push, memory_order_relaxed))
            push_message(ps, push, plen);
        else if (msg && ps->nchans + ps->npats)
            push_message(ps, msg, mlen);
        break;
    }
    pthread_rwlock_unlock(&R.lock);
    return found;
}

/* ---- the SUBSCRIBE family ------------------------------------------------ */

void rcache__pubsub_set_resp(rcache__client_t *c) {
    if (c->ps)
        atomic_store_explicit(&c->ps->push, c->resp3, memory_order_relaxed);
}

static void reply_confirm(rcache__client_t *c, const char *kind, const void *name,
                          size_t len, int null_name) {
    rcache__reply_push(c, 3);
    rcache__reply_bulk_cstr(c, kind);
    if (null_name)
        rcache__reply_null(c);
    else
        rcache__reply_bulk(c, name, len);
    rcache__reply_int(c, (long long)rcache__pubsub_count(c));
}

static void publish_counts(rcache__client_t *c) {
    atomic_store_explicit(&c->nsub, (unsigned)(c->ps ? c->ps->nchans : 0),
                          memory_order_relaxed);
    atomic_store_explicit(&c->npsub, (unsigned)(c->ps ? c->ps->npats : 0),
                          memory_order_relaxed);
}

void rcache__pubsub_subscribe(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                              int pattern) {
    ps_t *ps = ps_of(c);
    if (!ps) {
        rcache__reply_error(c, "ERR out of memory");
        return;
    }
    move_out(ps); /* messages already published come before these replies */
    for (size_t i = 1; i < argc; i++) {
        pthread_rwlock_wrlock(&R.lock);
        int rc = reg_add(ps, argv[i].ptr, argv[i].len, pattern);
        pthread_rwlock_unlock(&R.lock);
        if (rc < 0) {
            rcache__reply_error(c, "ERR out of memory");
            continue;
        }
        reply_confirm(c, pattern ? "psubscribe" : "subscribe", argv[i].ptr, argv[i].len, 0);
    }
    publish_counts(c);
}

/* Leave one subscription of ps; reply if asked. Patterns go in the order
 * they were subscribed, as Redis 7.0's list of them does; channels last
 * first (Redis's order is its dict's, which no client can rely on). */
static void leave_next(rcache__client_t *c, int pattern, int reply) {
    ps_t *ps = c->ps;
    pthread_rwlock_wrlock(&R.lock);
    node_t *n = pattern ? ps->pats[0] : ps->chans[ps->nchans - 1];
    /* the analyzer misses reg_del's memmove: pats[0] is never a freed node */
    size_t len = n->h.len; // NOLINT(clang-analyzer-unix.Malloc)
    char *name = reply ? malloc(len + 1) : NULL;
    if (name)
        memcpy(name, n->name, len);
    reg_del(ps, n, pattern);
    pthread_rwlock_unlock(&R.lock);
    if (reply)
        reply_confirm(c, pattern ? "punsubscribe" : "unsubscribe", name ? name : "", name ? len : 0,
                      0);
    free(name);
}

void rcache__pubsub_unsubscribe(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                                int pattern, int reply) {
    ps_t *ps = c->ps;
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    if (ps)
        move_out(ps);
    if (argc <= 1) {
        if (!ps || (pattern ? ps->npats : ps->nchans) == 0) {
            if (reply)
                reply_confirm(c, kind, NULL, 0, 1);
        } else {
            while (pattern ? ps->npats : ps->nchans)
                leave_next(c, pattern, reply);
        }
        publish_counts(c);
        return;
    }
    for (size_t i = 1; i < argc; i++) {
        if (ps) {
            pthread_rwlock_wrlock(&R.lock);
            node_t *n = node_at(slot_of(argv[i].ptr, argv[i].len, pattern));
            if (n && has_ptr((void **)n->subs, n->nsubs, ps))
                reg_del(ps, n, pattern);
            pthread_rwlock_unlock(&R.lock);
        }
        if (reply)
            reply_confirm(c, kind, argv[i].ptr, argv[i].len, 0);
    }
    publish_counts(c);
}

void rcache__pubsub_forget(rcache__client_t *c) {
    ps_t *ps = c->ps;
    if (!ps)
        return;
    rcache__pubsub_unsubscribe(c, 1, NULL, 0, 0);
    rcache__pubsub_unsubscribe(c, 1, NULL, 1, 0);
    pthread_rwlock_wrlock(&R.lock);
    ps_t **pp = &R.by_id[ps->id % ID_BUCKETS];
    while (*pp && *pp != ps)
        pp = &(*pp)->id_next;
    if (*pp)
        *pp = ps->id_next;
    pthread_rwlock_unlock(&R.lock);
    /* No publisher can reach ps now (it left the registry and the index
     * under the write lock), so its mailbox goes without further locking. */
    event_free(ps->mb.ev);
    evbuffer_free(ps->mb.q);
    pthread_mutex_destroy(&ps->mb.lock);
    free(ps->chans);
    free(ps->pats);
    free(ps);
    c->ps = NULL;
}

/* ---- PUBSUB ------------------------------------------------------------- */

void rcache__pubsub_reply_channels(rcache__client_t *c, const rcache__arg_t *pattern) {
    struct evbuffer *b = evbuffer_new();
    long long n = 0;
    if (!b) {
        rcache__reply_error(c, "ERR out of memory");
        return;
    }
    pthread_rwlock_rdlock(&R.lock);
    for (size_t i = 0; i <= R.chans.mask; i++) {
        for (node_t *ch = node_at(&R.chans.buckets[i]); ch; ch = (node_t *)ch->h.next) {
            if (pattern && rcache_glob_match_lenient(pattern->ptr, pattern->len, ch->name,
                                                     ch->h.len) != 1)
                continue;
            evbuffer_add_printf(b, "$%zu\r\n", ch->h.len);
            evbuffer_add(b, ch->name, ch->h.len);
            evbuffer_add(b, "\r\n", 2);
            n++;
        }
    }
    pthread_rwlock_unlock(&R.lock);
    rcache__reply_array(c, n);
    rcache__reply_buffer(c, b);
    evbuffer_free(b);
}

void rcache__pubsub_reply_numsub(rcache__client_t *c, size_t n, const rcache__arg_t *channels) {
    rcache__reply_array(c, 2 * (long long)n);
    for (size_t i = 0; i < n; i++) {
        pthread_rwlock_rdlock(&R.lock);
        node_t *ch = node_at(slot_of(channels[i].ptr, channels[i].len, 0));
        long long subs = ch ? (long long)ch->nsubs : 0;
        pthread_rwlock_unlock(&R.lock);
        rcache__reply_bulk(c, channels[i].ptr, channels[i].len);
        rcache__reply_int(c, subs);
    }
}

void rcache__pubsub_reply_numpat(rcache__client_t *c) {
    pthread_rwlock_rdlock(&R.lock);
    long long n = (long long)R.npatterns;
    pthread_rwlock_unlock(&R.lock);
    rcache__reply_int(c, n);
}
