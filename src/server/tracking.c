/*
 * tracking.c - CLIENT TRACKING (tracking.h): server-assisted client-side
 * caching as in Redis 7.0 (tracking.c there).
 *
 * State, all under one mutex (T.mu): the registry of clients that ever
 * enabled tracking (by id: a writer on another thread must find a
 * receiver's mode, redirection and prefixes without touching its client),
 * the BCAST clients, and the table of keys read by default-mode clients
 * (key name -> ids of the clients that read it). Why one mutex: tracking
 * clients are few and the table operations short; writers pay nothing
 * when no client tracks (one relaxed load of T.nclients), which is the
 * cost that matters.
 *
 * Ordering against a concurrent write: a read-only command's keys are
 * remembered *before* the command reads them. A write that lands before
 * the read is seen by the read; one that lands after it finds the key in
 * the table and invalidates it. So a client is never left with a value
 * it was not told about (at worst one spurious invalidation).
 *
 * Delivery: through the receivers' Pub/Sub mailboxes (pubsub.c's
 * rcache__pubsub_send_id), so messages from one writer keep their order,
 * reach clients on any worker, and are bounded by the pub/sub output-
 * buffer limit (a receiver that does not read is disconnected, writers
 * never wait). A message for the client that is running the command lands
 * after that command's reply, as in Redis 7.0.
 *
 * Differences from Redis, deliberate: any write command naming a key
 * invalidates it even when it changed nothing (SET NX on an existing key,
 * DEL of a missing key): a spurious invalidation, never a missed one;
 * BCAST sends one message per modified key instead of one per prefix per
 * event-loop iteration; SWAPDB, RCACHE.INVALIDATE and RCACHE.TAG.INVALIDATE
 * send the flush null.
 */
#include "tracking.h"

#include "db.h"
#include "pubsub.h"
#include "strtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F_ON 1u
#define F_BCAST 2u
#define F_OPTIN 4u
#define F_OPTOUT 8u
#define F_NOLOOP 16u
#define F_BROKEN 32u
#define F_CACHING 64u

typedef struct prefix {
    char *p;
    size_t len;
} prefix_t;

/* One client that enabled tracking at least once (owned by the registry
 * from CLIENT TRACKING ON to the client's close; c->trk points to it).
 * flags: written under T.mu, read by the owner without it (atomic). */
struct rcache__tracking_client {
    uint64_t id;
    rcache__client_t *c;
    struct rcache__tracking_client *next; /* registry chain */
    _Atomic unsigned flags;
    uint64_t redir;
    int resp3;
    prefix_t *prefixes; /* sorted, as Redis's rax lists them */
    size_t nprefixes;
};
typedef struct rcache__tracking_client tc_t;

/* A key read by default-mode clients, with their ids. */
typedef struct entry {
    rcache__strtab_node_t h; /* in T.keys, named by key */
    uint64_t *ids;
    size_t nids, capids;
    char key[];
} entry_t;

#define CLIENT_BUCKETS 256u

static struct {
    pthread_mutex_t mu;
    _Atomic size_t nclients; /* with tracking on */
    _Atomic uint64_t max_keys;
    tc_t *clients[CLIENT_BUCKETS];
    tc_t **bcast;
    size_t nbcast, capbcast;
    rcache__strtab_t keys; /* buckets NULL until a key is remembered */
    size_t nitems, cursor;
} T = {.mu = PTHREAD_MUTEX_INITIALIZER, .max_keys = 1000000};

void rcache__tracking_set_max_keys(uint64_t max_keys) {
    atomic_store_explicit(&T.max_keys, max_keys, memory_order_relaxed);
}

static tc_t *find_client(uint64_t id) {
    tc_t *t = T.clients[id % CLIENT_BUCKETS];
    while (t && t->id != id)
        t = t->next;
    return t;
}

static void show(tc_t *t) {
    unsigned f = atomic_load_explicit(&t->flags, memory_order_relaxed), s = 0;
    if (f & F_ON)
        s |= RCACHE__TRK_SHOWN_ON;
    if (f & F_BROKEN)
        s |= RCACHE__TRK_SHOWN_BROKEN;
    if (f & F_BCAST)
        s |= RCACHE__TRK_SHOWN_BCAST;
    atomic_store_explicit(&t->c->trk_shown, s, memory_order_relaxed);
    atomic_store_explicit(&t->c->trk_redir, (f & F_ON) ? (long long)t->redir : -1,
                          memory_order_relaxed);
}

/* ---- delivery (T.mu held) ----------------------------------------------- */

static int client_exists(rcache__server_t *s, uint64_t id) {
    int found = 0;
    pthread_mutex_lock(&s->clients_lock);
    for (rcache__client_t *o = s->all_clients; o && !found; o = o->gnext)
        found = o->id == id;
    pthread_mutex_unlock(&s->clients_lock);
    return found;
}

/* head + the payload: the key as a one-element array, or the flush null
 * in the tracking client's protocol (Redis: shared.null[c->resp]). */
static size_t frame(char *out, const char *head, size_t hlen, int resp3, const void *key,
                    size_t klen, int null) {
    size_t n = hlen;
    memcpy(out, head, hlen);
    if (null) {
        return n + (size_t)sprintf(out + n, "%s", resp3 ? "_\r\n" : "$-1\r\n");
    }
    n += (size_t)sprintf(out + n, "*1\r\n$%zu\r\n", klen);
    memcpy(out + n, key, klen);
    out[n + klen] = '\r';
    out[n + klen + 1] = '\n';
    return n + klen + 2;
}

/* Send t an invalidation of key (null: the flush null), to its own
 * connection (RESP3) or its REDIRECT client, as Redis's
 * sendTrackingMessage: a RESP3 receiver gets a push frame, a RESP2
 * redirect receiver a __redis__:invalidate message if it is subscribed
 * to something, a RESP2 client without redirection nothing. */
static void send_to(tc_t *t, const void *key, size_t klen, int null) {
    static const char PUSH[] = ">2\r\n$10\r\ninvalidate\r\n";
    static const char MSG[] = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";
    char stack[2][512], *heap = NULL, *p3 = stack[0], *p2 = stack[1];
    size_t cap = sizeof MSG + 48 + klen;
    if (cap > sizeof stack[0]) {
        if (!(heap = malloc(2 * cap)))
            return;
        p3 = heap;
        p2 = heap + cap;
    }
    size_t n3 = frame(p3, PUSH, sizeof PUSH - 1, t->resp3, key, klen, null);
    if (!t->redir) {
        rcache__pubsub_send_id(t->id, p3, n3, NULL, 0);
    } else {
        size_t n2 = frame(p2, MSG, sizeof MSG - 1, t->resp3, key, klen, null);
        if (!rcache__pubsub_send_id(t->redir, p3, n3, p2, n2) &&
            !client_exists(t->c->srv, t->redir)) {
            atomic_fetch_or_explicit(&t->flags, F_BROKEN, memory_order_relaxed);
            show(t);
            if (t->resp3) {
                char b[96];
                int n = snprintf(b, sizeof b, ">2\r\n$21\r\ntracking-redir-broken\r\n:%llu\r\n",
                                 (unsigned long long)t->redir);
                rcache__pubsub_send_id(t->id, b, (size_t)n, NULL, 0);
            }
        }
    }
    free(heap);
}

/* ---- the key table (T.mu held) ------------------------------------------ */

static void drop_entry(rcache__strtab_node_t **slot) {
    entry_t *e = (entry_t *)rcache__strtab_unlink(&T.keys, slot);
    T.nitems -= e->nids;
    free(e->ids);
    free(e);
}

/* Invalidate the entry at slot for its default-mode clients, forget it. */
static void invalidate_entry(rcache__strtab_node_t **slot, uint64_t writer) {
    entry_t *e = (entry_t *)*slot;
    for (size_t i = 0; i < e->nids; i++) {
        tc_t *t = find_client(e->ids[i]);
        unsigned f = t ? atomic_load_explicit(&t->flags, memory_order_relaxed) : 0;
        if (!(f & F_ON) || (f & F_BCAST) || ((f & F_NOLOOP) && t->id == writer))
            continue;
        send_to(t, e->key, e->h.len, 0);
    }
    drop_entry(slot);
}

static void clear_keys(void) {
    if (!T.keys.buckets)
        return;
    for (size_t i = 0; i <= T.keys.mask; i++)
        while (T.keys.buckets[i])
            drop_entry(&T.keys.buckets[i]);
}

/* tracking-table-max-keys: over it, invalidate keys until under. */
static void enforce_max(void) {
    uint64_t max = atomic_load_explicit(&T.max_keys, memory_order_relaxed);
    while (max && T.keys.count > max) {
        T.cursor &= T.keys.mask;
        while (!T.keys.buckets[T.cursor])
            T.cursor = (T.cursor + 1) & T.keys.mask;
        invalidate_entry(&T.keys.buckets[T.cursor], 0);
    }
}

static int remember(uint64_t id, const void *key, size_t klen) {
    if (!T.keys.buckets && rcache__strtab_init(&T.keys, 1024) != 0)
        return -1;
    rcache__strtab_node_t **slot = rcache__strtab_slot(&T.keys, key, klen);
    entry_t *e = (entry_t *)*slot;
    if (!e) {
        if (!(e = calloc(1, sizeof *e + klen)))
            return -1;
        memcpy(e->key, key, klen);
        e->h.name = e->key;
        e->h.len = klen;
        rcache__strtab_link(&T.keys, slot, &e->h);
    }
    for (size_t i = 0; i < e->nids; i++)
        if (e->ids[i] == id)
            return 0;
    if (e->nids == e->capids) {
        size_t ncap = e->capids ? e->capids * 2 : 2;
        uint64_t *n = realloc(e->ids, ncap * sizeof *n);
        if (!n)
            return -1;
        e->ids = n;
        e->capids = ncap;
    }
    e->ids[e->nids++] = id;
    T.nitems++;
    enforce_max();
    return 0;
}

/* ---- hooks -------------------------------------------------------------- */

void rcache__tracking_before_read(rcache__client_t *c, const rcache__cmd_t *cmd, size_t argc,
                                  const rcache__arg_t *argv) {
    tc_t *t = c->trk;
    unsigned f = atomic_load_explicit(&t->flags, memory_order_relaxed);
    if (!(f & F_ON) || (f & F_BCAST) || cmd->first_key <= 0)
        return;
    if (((f & F_OPTIN) && !(f & F_CACHING)) || ((f & F_OPTOUT) && (f & F_CACHING)))
        return;
    size_t last = cmd->last_key < 0 ? argc - 1 : (size_t)cmd->last_key;
    size_t step = cmd->step > 0 ? (size_t)cmd->step : 1;
    pthread_mutex_lock(&T.mu);
    for (size_t i = (size_t)cmd->first_key; i <= last && i < argc; i += step) {
        const char *k;
        size_t kl;
        rcache__db_of_key(argv[i].ptr, argv[i].len, &k, &kl);
        if (remember(t->id, k, kl) != 0) {
            /* Out of memory: the key cannot be tracked, so the client must
             * not keep what it reads. The flush null (no allocation here)
             * reaches it after this command's reply: it drops everything. */
            send_to(t, NULL, 0, 1);
            break;
        }
    }
    pthread_mutex_unlock(&T.mu);
}

void rcache__tracking_after_command(rcache__client_t *c, const rcache__cmd_t *cmd) {
    tc_t *t = c->trk;
    if (!(atomic_load_explicit(&t->flags, memory_order_relaxed) & F_CACHING) || c->in_multi ||
        cmd->fn == rcache__cmd_client)
        return;
    pthread_mutex_lock(&T.mu);
    atomic_fetch_and_explicit(&t->flags, ~F_CACHING, memory_order_relaxed);
    pthread_mutex_unlock(&T.mu);
}

/* The BCAST clients whose prefix matches key (T.mu held). */
static void broadcast(const char *key, size_t klen, uint64_t writer) {
    for (size_t i = 0; i < T.nbcast; i++) {
        tc_t *t = T.bcast[i];
        if ((atomic_load_explicit(&t->flags, memory_order_relaxed) & F_NOLOOP) &&
            t->id == writer)
            continue;
        for (size_t j = 0; j < t->nprefixes; j++) {
            const prefix_t *p = &t->prefixes[j];
            if (p->len <= klen && memcmp(p->p, key, p->len) == 0) {
                send_to(t, key, klen, 0);
                break; /* a client's prefixes do not overlap */
            }
        }
    }
}

void rcache__tracking_invalidate(uint64_t writer_id, const void *key, size_t klen) {
    if (atomic_load_explicit(&T.nclients, memory_order_relaxed) == 0)
        return;
    const char *k;
    size_t kl;
    rcache__db_of_key(key, klen, &k, &kl);
    pthread_mutex_lock(&T.mu);
    if (T.nbcast)
        broadcast(k, kl, writer_id);
    if (T.keys.buckets) {
        rcache__strtab_node_t **slot = rcache__strtab_slot(&T.keys, k, kl);
        if (*slot)
            invalidate_entry(slot, writer_id);
    }
    pthread_mutex_unlock(&T.mu);
}

void rcache__tracking_flush(void) {
    if (atomic_load_explicit(&T.nclients, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&T.mu);
    for (size_t b = 0; b < CLIENT_BUCKETS; b++)
        for (tc_t *t = T.clients[b]; t; t = t->next)
            if (atomic_load_explicit(&t->flags, memory_order_relaxed) & F_ON)
                send_to(t, NULL, 0, 1);
    clear_keys();
    pthread_mutex_unlock(&T.mu);
}

void rcache__tracking_after_write(uint64_t writer_id, const rcache__cmd_t *cmd, size_t argc,
                                  const rcache__arg_t *argv) {
    if (atomic_load_explicit(&T.nclients, memory_order_relaxed) == 0)
        return;
    if (cmd->first_key <= 0) {
        if (!(cmd->flags & RCACHE__CMD_SCRIPT)) /* a script's commands did it */
            rcache__tracking_flush();
        return;
    }
    size_t last = cmd->last_key < 0 ? argc - 1 : (size_t)cmd->last_key;
    size_t step = cmd->step > 0 ? (size_t)cmd->step : 1;
    for (size_t i = (size_t)cmd->first_key; i <= last && i < argc; i += step)
        rcache__tracking_invalidate(writer_id, argv[i].ptr, argv[i].len);
}

/* ---- per client (its worker) ------------------------------------------- */

static void bcast_del(tc_t *t) {
    for (size_t i = 0; i < T.nbcast; i++) {
        if (T.bcast[i] == t) {
            T.bcast[i] = T.bcast[--T.nbcast];
            return;
        }
    }
}

static void free_prefixes(tc_t *t) {
    for (size_t i = 0; i < t->nprefixes; i++)
        free(t->prefixes[i].p);
    free(t->prefixes);
    t->prefixes = NULL;
    t->nprefixes = 0;
}

/* Tracking off for t (T.mu held): Redis's disableTracking. */
static void disable(tc_t *t) {
    unsigned f = atomic_load_explicit(&t->flags, memory_order_relaxed);
    if (!(f & F_ON))
        return;
    if (f & F_BCAST)
        bcast_del(t);
    free_prefixes(t);
    atomic_store_explicit(&t->flags, 0, memory_order_relaxed);
    t->redir = 0;
    atomic_fetch_sub(&T.nclients, 1);
    if (atomic_load(&T.nclients) == 0)
        clear_keys(); /* nobody left to tell */
    show(t);
}

void rcache__tracking_set_resp(rcache__client_t *c) {
    if (!c->trk)
        return;
    pthread_mutex_lock(&T.mu);
    c->trk->resp3 = c->resp3;
    pthread_mutex_unlock(&T.mu);
}

void rcache__tracking_forget(rcache__client_t *c) {
    tc_t *t = c->trk;
    if (!t)
        return;
    pthread_mutex_lock(&T.mu);
    disable(t);
    tc_t **pp = &T.clients[t->id % CLIENT_BUCKETS];
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    pthread_mutex_unlock(&T.mu);
    free(t);
    c->trk = NULL;
}

void rcache__tracking_sizes(rcache__tracking_sizes_t *out) {
    memset(out, 0, sizeof *out);
    out->clients = atomic_load_explicit(&T.nclients, memory_order_relaxed);
    pthread_mutex_lock(&T.mu);
    out->keys = T.keys.count;
    out->items = T.nitems;
    /* distinct prefixes (Redis's PrefixTable size) */
    for (size_t i = 0; i < T.nbcast; i++) {
        for (size_t j = 0; j < T.bcast[i]->nprefixes; j++) {
            const prefix_t *p = &T.bcast[i]->prefixes[j];
            int seen = 0;
            for (size_t k = 0; k < i && !seen; k++)
                for (size_t m = 0; m < T.bcast[k]->nprefixes && !seen; m++)
                    seen = T.bcast[k]->prefixes[m].len == p->len &&
                           memcmp(T.bcast[k]->prefixes[m].p, p->p, p->len) == 0;
            out->prefixes += !seen;
        }
    }
    pthread_mutex_unlock(&T.mu);
}

/* ---- CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO ------------------ */

/* Add prefix p to t keeping the list sorted (T.mu held); 0 or -1. */
static int add_prefix(tc_t *t, const char *p, size_t len) {
    size_t at = 0;
    for (; at < t->nprefixes; at++) {
        const prefix_t *q = &t->prefixes[at];
        size_t m = q->len < len ? q->len : len;
        int r = memcmp(q->p, p, m);
        if (r == 0 && q->len == len)
            return 0; /* already there */
        if (r > 0 || (r == 0 && q->len > len))
            break;
    }
    prefix_t *n = realloc(t->prefixes, (t->nprefixes + 1) * sizeof *n);
    if (!n)
        return -1;
    t->prefixes = n;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, p, len);
    memmove(&n[at + 1], &n[at], (t->nprefixes - at) * sizeof *n);
    n[at].p = copy;
    n[at].len = len;
    t->nprefixes++;
    return 0;
}


/* Redis's checkPrefixCollisionsOrReply: 1 when the new prefixes overlap
 * neither t's nor each other (one a prefix of the other), else replies. */
static int prefixes_ok(rcache__client_t *c, const tc_t *t, const rcache__arg_t **pre,
                       size_t n) {
    static const char TAIL[] = "Prefixes for a single client must not overlap.";
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; t && j < t->nprefixes; j++) {
            const prefix_t *q = &t->prefixes[j];
            size_t m = q->len < pre[i]->len ? q->len : pre[i]->len;
            if (memcmp(q->p, pre[i]->ptr, m) == 0) {
                rcache__reply_errorf(c, "ERR Prefix '%.*s' overlaps with an existing prefix "
                                     "'%.*s'. %s", (int)pre[i]->len, pre[i]->ptr,
                                     (int)q->len, q->p, TAIL);
                return 0;
            }
        }
        for (size_t j = i + 1; j < n; j++) {
            size_t m = pre[i]->len < pre[j]->len ? pre[i]->len : pre[j]->len;
            if (memcmp(pre[i]->ptr, pre[j]->ptr, m) == 0) {
                rcache__reply_errorf(c, "ERR Prefix '%.*s' overlaps with another provided "
                                     "prefix '%.*s'. %s", (int)pre[i]->len, pre[i]->ptr,
                                     (int)pre[j]->len, pre[j]->ptr, TAIL);
                return 0;
            }
        }
    }
    return 1;
}

/* The option checks of CLIENT TRACKING ON, in Redis's order (T.mu held);
 * 1 when they pass, else replied. */
static int on_allowed(rcache__client_t *c, const tc_t *t, unsigned opts,
                      const rcache__arg_t **pre, size_t npre) {
    unsigned f = t ? atomic_load_explicit(&t->flags, memory_order_relaxed) : 0;
    const char *err = NULL;
    if (!(opts & F_BCAST) && npre)
        err = "ERR PREFIX option requires BCAST mode to be enabled";
    else if ((f & F_ON) && !(f & F_BCAST) != !(opts & F_BCAST))
        err = "ERR You can't switch BCAST mode on/off before disabling tracking for this "
              "client, and then re-enabling it with a different mode.";
    else if ((opts & F_BCAST) && (opts & (F_OPTIN | F_OPTOUT)))
        err = "ERR OPTIN and OPTOUT are not compatible with BCAST";
    else if ((opts & F_OPTIN) && (opts & F_OPTOUT))
        err = "ERR You can't specify both OPTIN mode and OPTOUT mode";
    else if (((opts & F_OPTIN) && (f & F_OPTOUT)) || ((opts & F_OPTOUT) && (f & F_OPTIN)))
        err = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
              "client, and then re-enabling it with a different mode.";
    if (err) {
        rcache__reply_error(c, err);
        return 0;
    }
    return !(opts & F_BCAST) || prefixes_ok(c, t, pre, npre);
}

/* Redis's enableTracking (T.mu held); 0, or -1 out of memory. */
static int enable(rcache__client_t *c, uint64_t redir, unsigned opts,
                  const rcache__arg_t **pre, size_t npre) {
    tc_t *t = c->trk;
    if (!t) {
        if (!(t = calloc(1, sizeof *t)))
            return -1;
        t->id = c->id;
        t->c = c;
        t->next = T.clients[t->id % CLIENT_BUCKETS];
        T.clients[t->id % CLIENT_BUCKETS] = t;
        c->trk = t;
    }
    unsigned f = atomic_load_explicit(&t->flags, memory_order_relaxed);
    if ((opts & F_BCAST) && !(f & F_BCAST)) {
        if (T.nbcast == T.capbcast) {
            size_t ncap = T.capbcast ? T.capbcast * 2 : 8;
            tc_t **n = realloc(T.bcast, ncap * sizeof(tc_t *));
            if (!n)
                return -1;
            T.bcast = n;
            T.capbcast = ncap;
        }
        T.bcast[T.nbcast++] = t;
    }
    if (!(f & F_ON))
        atomic_fetch_add(&T.nclients, 1);
    t->redir = redir;
    t->resp3 = c->resp3;
    unsigned nf = F_ON | (f & F_CACHING) | (opts & (F_BCAST | F_OPTIN | F_OPTOUT | F_NOLOOP));
    atomic_store_explicit(&t->flags, nf, memory_order_relaxed);
    int rc = 0;
    if ((opts & F_BCAST) && npre == 0)
        rc = add_prefix(t, "", 0);
    for (size_t i = 0; i < npre && rc == 0; i++)
        rc = add_prefix(t, pre[i]->ptr, pre[i]->len);
    show(t);
    return rc;
}

/* Parse CLIENT TRACKING's options as Redis does; 0, or -1 replied. */
static int parse_tracking(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                          long long *redir, unsigned *opts, const rcache__arg_t **pre,
                          size_t *npre) {
    for (size_t j = 3; j < argc; j++) {
        int more = j + 1 < argc;
        const rcache__arg_t *a = &argv[j];
        if (rcache__arg_is(a, "redirect") && more) {
            j++;
            if (*redir != 0) {
                rcache__reply_error(c, "ERR A client can only redirect to a single other client");
                return -1;
            }
            if (!rcache__str2ll(argv[j].ptr, argv[j].len, redir)) {
                rcache__reply_not_int(c);
                return -1;
            }
            if (*redir <= 0 || !client_exists(c->srv, (uint64_t)*redir)) {
                rcache__reply_error(c, "ERR The client ID you want redirect to does not exist");
                return -1;
            }
        } else if (rcache__arg_is(a, "bcast")) {
            *opts |= F_BCAST;
        } else if (rcache__arg_is(a, "optin")) {
            *opts |= F_OPTIN;
        } else if (rcache__arg_is(a, "optout")) {
            *opts |= F_OPTOUT;
        } else if (rcache__arg_is(a, "noloop")) {
            *opts |= F_NOLOOP;
        } else if (rcache__arg_is(a, "prefix") && more) {
            pre[(*npre)++] = &argv[++j];
        } else {
            rcache__reply_syntax_error(c);
            return -1;
        }
    }
    return 0;
}

static void cmd_tracking(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long redir = 0;
    unsigned opts = 0;
    size_t npre = 0;
    const rcache__arg_t **pre = malloc(argc * sizeof(rcache__arg_t *));
    if (!pre) {
        rcache__reply_error(c, "ERR out of memory");
        return;
    }
    if (parse_tracking(c, argc, argv, &redir, &opts, pre, &npre) != 0)
        goto out;
    if (rcache__arg_is(&argv[2], "on")) {
        if (rcache__pubsub_open(c) != 0) { /* invalidations arrive through it */
            rcache__reply_error(c, "ERR out of memory");
            goto out;
        }
        pthread_mutex_lock(&T.mu);
        int ok = on_allowed(c, c->trk, opts, pre, npre);
        int rc = ok ? enable(c, (uint64_t)redir, opts, pre, npre) : 0;
        pthread_mutex_unlock(&T.mu);
        if (!ok)
            goto out;
        if (rc != 0) {
            rcache__reply_error(c, "ERR out of memory");
            goto out;
        }
    } else if (rcache__arg_is(&argv[2], "off")) {
        if (c->trk) {
            pthread_mutex_lock(&T.mu);
            disable(c->trk);
            pthread_mutex_unlock(&T.mu);
        }
    } else {
        rcache__reply_syntax_error(c);
        goto out;
    }
    rcache__reply_ok(c);
out:
    free(pre);
}

static void cmd_caching(rcache__client_t *c, const rcache__arg_t *opt) {
    tc_t *t = c->trk;
    unsigned f = t ? atomic_load_explicit(&t->flags, memory_order_relaxed) : 0;
    if (!(f & F_ON)) {
        rcache__reply_error(c, "ERR CLIENT CACHING can be called only when the client is in "
                               "tracking mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    if (rcache__arg_is(opt, "yes")) {
        if (!(f & F_OPTIN)) {
            rcache__reply_error(c, "ERR CLIENT CACHING YES is only valid when tracking is "
                                   "enabled in OPTIN mode.");
            return;
        }
    } else if (rcache__arg_is(opt, "no")) {
        if (!(f & F_OPTOUT)) {
            rcache__reply_error(c, "ERR CLIENT CACHING NO is only valid when tracking is "
                                   "enabled in OPTOUT mode.");
            return;
        }
    } else {
        rcache__reply_syntax_error(c);
        return;
    }
    pthread_mutex_lock(&T.mu);
    atomic_fetch_or_explicit(&t->flags, F_CACHING, memory_order_relaxed);
    pthread_mutex_unlock(&T.mu);
    rcache__reply_ok(c);
}

static void cmd_trackinginfo(rcache__client_t *c) {
    tc_t *t = c->trk;
    pthread_mutex_lock(&T.mu);
    unsigned f = t ? atomic_load_explicit(&t->flags, memory_order_relaxed) : 0;
    const char *names[8];
    int n = 0;
    names[n++] = (f & F_ON) ? "on" : "off";
    if (f & F_BCAST)
        names[n++] = "bcast";
    if (f & F_OPTIN) {
        names[n++] = "optin";
        if (f & F_CACHING)
            names[n++] = "caching-yes";
    }
    if (f & F_OPTOUT) {
        names[n++] = "optout";
        if (f & F_CACHING)
            names[n++] = "caching-no";
    }
    if (f & F_NOLOOP)
        names[n++] = "noloop";
    if (f & F_BROKEN)
        names[n++] = "broken_redirect";
    rcache__reply_map(c, 3);
    rcache__reply_bulk_cstr(c, "flags");
    rcache__reply_set(c, n);
    for (int i = 0; i < n; i++)
        rcache__reply_bulk_cstr(c, names[i]);
    rcache__reply_bulk_cstr(c, "redirect");
    rcache__reply_int(c, t && (f & F_ON) ? (long long)t->redir : -1);
    rcache__reply_bulk_cstr(c, "prefixes");
    rcache__reply_array(c, t ? (long long)t->nprefixes : 0);
    for (size_t i = 0; t && i < t->nprefixes; i++)
        rcache__reply_bulk(c, t->prefixes[i].p, t->prefixes[i].len);
    pthread_mutex_unlock(&T.mu);
}

int rcache__tracking_command(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "tracking")) {
        atomic_store_explicit(&c->last_cmd, "client|tracking", memory_order_relaxed);
        if (argc < 3)
            rcache__reply_arity(c, "client|tracking");
        else
            cmd_tracking(c, argc, argv);
    } else if (rcache__arg_is(sub, "caching")) {
        atomic_store_explicit(&c->last_cmd, "client|caching", memory_order_relaxed);
        if (argc != 3)
            rcache__reply_arity(c, "client|caching");
        else
            cmd_caching(c, &argv[2]);
    } else if (rcache__arg_is(sub, "getredir")) {
        atomic_store_explicit(&c->last_cmd, "client|getredir", memory_order_relaxed);
        unsigned f = c->trk ? atomic_load_explicit(&c->trk->flags, memory_order_relaxed) : 0;
        if (argc != 2)
            rcache__reply_arity(c, "client|getredir");
        else
            rcache__reply_int(c, c->trk && (f & F_ON) ? (long long)c->trk->redir : -1);
    } else if (rcache__arg_is(sub, "trackinginfo")) {
        atomic_store_explicit(&c->last_cmd, "client|trackinginfo", memory_order_relaxed);
        if (argc != 2)
            rcache__reply_arity(c, "client|trackinginfo");
        else
            cmd_trackinginfo(c);
    } else {
        return 0;
    }
    return 1;
}
