/*
 * bus.c - the invalidation bus: one thread of the tier owning a connection
 * subscribed to __redis__:invalidate (RESP2), to which the data
 * connection's CLIENT TRACKING ... BCAST redirects.
 *
 * Why a thread of its own (not the libevent adapter): the library must not
 * impose an event loop on its users, and the bus must run even when the
 * application makes no calls. The thread polls the socket with a deadline:
 * it sends PING every ping_interval_ms and declares the connection lost
 * when nothing arrived for ping_deadline_ms (a stalled proxy, a hung
 * server). Losing the connection, and connecting again, clears L1 (the
 * tier cannot know what it missed); a null invalidation (FLUSHALL) too.
 * Each (re)connect bumps the bus epoch, which makes the data connection
 * re-enable tracking towards the new client id before anything more is
 * installed in L1.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tier_internal.h"

int rcache__tier_bus_classify(const redisReply *r, const redisReply **keys) {
    *keys = NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return 0;
    for (size_t i = 0; i < 2; i++)
        if (!r->element[i] || (r->element[i]->type != REDIS_REPLY_STRING &&
                               r->element[i]->type != REDIS_REPLY_STATUS))
            return 0;
    if (r->element[0]->len == 4 && memcmp(r->element[0]->str, "pong", 4) == 0)
        return 2;
    if (r->elements != 3 || r->element[0]->len != 7 ||
        memcmp(r->element[0]->str, "message", 7) != 0 ||
        r->element[1]->len != 20 ||
        memcmp(r->element[1]->str, "__redis__:invalidate", 20) != 0 ||
        !r->element[2])
        return 0;
    if (r->element[2]->type == REDIS_REPLY_NIL)
        return 1;
    if (r->element[2]->type != REDIS_REPLY_ARRAY)
        return 0;
    *keys = r->element[2];
    return 1;
}

/* Wait up to ms for the stop signal; 1 when stopping. */
static int pause_or_stop(rcache_tier_t *t, uint64_t ms) {
    struct pollfd p = {t->wake_fd[0], POLLIN, 0};
    if (atomic_load(&t->stopping))
        return 1;
    (void)poll(&p, 1, (int)ms);
    return atomic_load(&t->stopping);
}

static void bus_event(rcache_tier_t *t, const redisReply *r) {
    const redisReply *keys;
    int kind = rcache__tier_bus_classify(r, &keys);
    if (kind != 1)
        return;
    if (!keys) {
        atomic_fetch_add(&t->n.null_inval, 1);
        rcache__tier_flush_l1(t, RCACHE_TIER_CLEAR_FLUSHALL);
        return;
    }
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if (k && k->type == REDIS_REPLY_STRING)
            rcache__tier_invalidate_key(t, k->str, k->len);
    }
    pthread_mutex_lock(&t->mu);
    t->events++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* Why a set-up command failed, into err. */
static void setup_error(const redisContext *bc, const redisReply *r,
                        const char *cmd, char *err, size_t errlen) {
    snprintf(err, errlen, "%s: %s", cmd,
             r && r->type == REDIS_REPLY_ERROR ? r->str
             : r                               ? "unexpected reply"
             : bc->errstr[0]                   ? bc->errstr
                                               : "no reply");
}

/* Connect and subscribe; the context, or NULL with the reason in err. */
static redisContext *bus_connect(rcache_tier_t *t, uint64_t *id, char *err,
                                 size_t errlen) {
    redisContext *bc = rcache__tier_connect(t, err, errlen);
    redisReply *r;
    if (!bc)
        return NULL;
    r = redisCommand(bc, "CLIENT ID");
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        setup_error(bc, r, "CLIENT ID", err, errlen);
        goto fail;
    }
    *id = (uint64_t)r->integer;
    freeReplyObject(r);
    r = redisCommand(bc, "SUBSCRIBE __redis__:invalidate");
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        setup_error(bc, r, "SUBSCRIBE", err, errlen);
        goto fail;
    }
    freeReplyObject(r);
    return bc;
fail:
    if (r)
        freeReplyObject(r);
    redisFree(bc);
    return NULL;
}

/* Serve one connection until it is lost (returns why) or the tier stops
 * (returns NULL). */
static const char *bus_serve(rcache_tier_t *t, redisContext *bc) {
    uint64_t now = rcache__tier_mono_ms(), last_rx = now;
    uint64_t next_ping = now + t->o.ping_interval_ms;
    while (!atomic_load(&t->stopping)) {
        struct pollfd p[2] = {{bc->fd, POLLIN, 0}, {t->wake_fd[0], POLLIN, 0}};
        int wait = next_ping > now ? (int)(next_ping - now) : 0;
        void *reply;
        if (poll(p, 2, wait) < 0)
            continue;
        now = rcache__tier_mono_ms();
        if (p[0].revents) {
            if (redisBufferRead(bc) != REDIS_OK)
                return bc->errstr[0] ? bc->errstr : "read failed";
            while (redisGetReplyFromReader(bc, &reply) == REDIS_OK && reply) {
                last_rx = now;
                bus_event(t, reply);
                freeReplyObject(reply);
            }
            if (bc->err)
                return bc->errstr;
        }
        if (now >= next_ping) {
            int done = 0;
            redisAppendCommand(bc, "PING");
            while (!done)
                if (redisBufferWrite(bc, &done) != REDIS_OK)
                    return bc->errstr[0] ? bc->errstr : "write failed";
            next_ping = now + t->o.ping_interval_ms;
        }
        if (now - last_rx > t->o.ping_deadline_ms)
            return "no reply within the ping deadline";
        /* Tracking not (yet) in place, e.g. the data connection failed
         * when the bus came up: try again, without waiting behind a call. */
        if (atomic_load(&t->rc_tracked) != t->bus_epoch &&
            pthread_mutex_trylock(&t->conn_mu) == 0) {
            (void)rcache__tier_conn_ready(t);
            pthread_mutex_unlock(&t->conn_mu);
        }
    }
    return NULL;
}

static void *bus_main(void *arg) {
    rcache_tier_t *t = arg;
    int ever = 0;
    while (!atomic_load(&t->stopping)) {
        uint64_t id = 0;
        char err[256];
        const char *why;
        redisContext *bc = bus_connect(t, &id, err, sizeof err);
        if (!bc) {
            rcache__tier_error(t, "invalidation connection", err);
            pause_or_stop(t, t->o.reconnect_ms);
            continue;
        }
        if (ever) {
            atomic_fetch_add(&t->n.reconnects, 1);
            rcache__tier_flush_l1(t, RCACHE_TIER_CLEAR_RESYNC);
        }
        pthread_mutex_lock(&t->mu);
        t->bus_epoch++;
        t->bus_client_id = id;
        t->bus_live = 1;
        t->events++;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
        ever = 1;
        /* Point the data connection's tracking here now, not at its next
         * command, so that other nodes' writes are reported from now on. */
        pthread_mutex_lock(&t->conn_mu);
        (void)rcache__tier_conn_ready(t);
        pthread_mutex_unlock(&t->conn_mu);
        why = bus_serve(t, bc);
        pthread_mutex_lock(&t->mu);
        t->bus_live = 0;
        pthread_mutex_unlock(&t->mu);
        if (atomic_load(&t->stopping) || !why) {
            redisFree(bc);
            break;
        }
        snprintf(err, sizeof err, "%s", why); /* may point into bc */
        redisFree(bc);
        rcache__tier_error(t, "invalidation connection lost", err);
        rcache__tier_flush_l1(t, RCACHE_TIER_CLEAR_BUS_LOST);
        pause_or_stop(t, t->o.reconnect_ms);
    }
    return NULL;
}

int rcache__tier_bus_start(rcache_tier_t *t) {
    if (pipe(t->wake_fd))
        return RCACHE_ENOMEM;
    if (pthread_create(&t->bus_thread, NULL, bus_main, t)) {
        close(t->wake_fd[0]);
        close(t->wake_fd[1]);
        return RCACHE_ENOMEM;
    }
    t->bus_started = 1;
    return RCACHE_OK;
}

void rcache__tier_bus_stop(rcache_tier_t *t) {
    if (!t->bus_started)
        return;
    atomic_store(&t->stopping, 1);
    (void)!write(t->wake_fd[1], "x", 1);
    pthread_join(t->bus_thread, NULL);
    close(t->wake_fd[0]);
    close(t->wake_fd[1]);
    t->bus_started = 0;
}
