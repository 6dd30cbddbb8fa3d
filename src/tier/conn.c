/*
 * conn.c - the tier's connections to L2: connecting (TCP or unix socket,
 * timeouts, AUTH, SELECT), the one data connection with client tracking
 * kept in step with the invalidation bus, and timed round trips.
 *
 * Why one data connection: tracking is a property of a connection. With
 * every L2 command on the connection that carries "CLIENT TRACKING on
 * REDIRECT <bus> BCAST PREFIX <p> NOLOOP", Redis reports exactly the writes
 * of other nodes (NOLOOP drops our own, which we apply to L1 ourselves) and
 * one copy of each. Losing that connection loses tracking, so dropping it
 * clears L1, and so does re-enabling tracking on a new one (writes made
 * meanwhile were not reported). Calls are serialised by conn_mu; the cost
 * is one L2 round trip at a time per node.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tier_internal.h"

uint64_t rcache__tier_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t rcache__tier_mono_ms(void) { return rcache__tier_mono_us() / 1000u; }

static struct timeval tv_ms(uint64_t ms) {
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* Run one command synchronously during set-up; 0 if it did not fail. */
static int setup_cmd(redisContext *rc, int argc, const char **argv,
                     char *err, size_t errlen) {
    redisReply *r = redisCommandArgv(rc, argc, argv, NULL);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(err, errlen, "%s: %s", argv[0],
                 r ? r->str : (rc->errstr[0] ? rc->errstr : "no reply"));
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

redisContext *rcache__tier_connect(rcache_tier_t *t, char *err,
                                   size_t errlen) {
    const rcache_tier_url_t *u = &t->url;
    struct timeval ctv = tv_ms(t->o.connect_timeout_ms);
    redisContext *rc = u->is_unix
                           ? redisConnectUnixWithTimeout(u->path, ctv)
                           : redisConnectWithTimeout(u->host, u->port, ctv);
    char db[16];
    if (!rc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (rc->err) {
        snprintf(err, errlen, "%s", rc->errstr);
        goto fail;
    }
    if (redisSetTimeout(rc, tv_ms(t->o.command_timeout_ms)) != REDIS_OK) {
        snprintf(err, errlen, "setting the timeout failed");
        goto fail;
    }
    if (u->pass[0]) {
        const char *a2[] = {"AUTH", u->pass};
        const char *a3[] = {"AUTH", u->user, u->pass};
        if (u->user[0] ? setup_cmd(rc, 3, a3, err, errlen)
                       : setup_cmd(rc, 2, a2, err, errlen))
            goto fail;
    }
    if (u->db) {
        const char *sel[] = {"SELECT", db};
        snprintf(db, sizeof db, "%d", u->db);
        if (setup_cmd(rc, 2, sel, err, errlen))
            goto fail;
    }
    return rc;
fail:
    redisFree(rc);
    return NULL;
}

void rcache__tier_conn_drop(rcache_tier_t *t) {
    if (!t->rc)
        return;
    redisFree(t->rc);
    t->rc = NULL;
    atomic_store(&t->rc_up, 0);
    t->rc_tracking_epoch = 0;
    atomic_store(&t->rc_tracked, 0);
    t->rc_retry_at_ms = rcache__tier_mono_ms() + t->o.reconnect_ms;
    rcache__tier_flush_l1(t, RCACHE_TIER_CLEAR_DATA_LOST);
}

/* Enable tracking for the bus's current connection; 0 on success. */
static int enable_tracking(rcache_tier_t *t, uint64_t bus_id) {
    char id[24];
    const char *off[] = {"CLIENT", "TRACKING", "off"};
    const char *on[] = {"CLIENT", "TRACKING", "on", "REDIRECT", id, "BCAST",
                        "PREFIX", t->prefix, "NOLOOP"};
    size_t onlen[9];
    redisReply *r[2] = {NULL, NULL};
    int ok;
    snprintf(id, sizeof id, "%llu", (unsigned long long)bus_id);
    for (int i = 0; i < 9; i++)
        onlen[i] = i == 7 ? t->prefix_len : strlen(on[i]);
    redisAppendCommandArgv(t->rc, 3, off, NULL);
    redisAppendCommandArgv(t->rc, 9, on, onlen);
    if (rcache__tier_roundtrip(t, 2, r))
        return -1;
    ok = r[1]->type == REDIS_REPLY_STATUS;
    rcache__tier_replies_free(2, r);
    return ok ? 0 : -1;
}

int rcache__tier_conn_ready(rcache_tier_t *t) {
    uint64_t epoch, id;
    int live;
    if (!t->rc) {
        char err[256];
        if (rcache__tier_mono_ms() < t->rc_retry_at_ms)
            return -1;
        t->rc = rcache__tier_connect(t, err, sizeof err);
        if (!t->rc) {
            rcache__tier_error(t, "data connection", err);
            t->rc_retry_at_ms = rcache__tier_mono_ms() + t->o.reconnect_ms;
            return -1;
        }
        atomic_store(&t->rc_up, 1);
        if (t->rc_ever_tracked)
            atomic_fetch_add(&t->n.reconnects, 1);
    }
    pthread_mutex_lock(&t->mu);
    live = t->bus_live;
    epoch = t->bus_epoch;
    id = t->bus_client_id;
    pthread_mutex_unlock(&t->mu);
    if (!live)
        return 1;
    if (t->rc_tracking_epoch == epoch)
        return 0;
    if (enable_tracking(t, id))
        return t->rc ? 1 : -1;
    /* Writes between losing tracking and now were not reported. */
    if (t->rc_ever_tracked)
        rcache__tier_flush_l1(t, RCACHE_TIER_CLEAR_RESYNC);
    t->rc_ever_tracked = 1;
    pthread_mutex_lock(&t->mu);
    t->ever_up = 1;
    pthread_mutex_unlock(&t->mu);
    t->rc_tracking_epoch = epoch;
    atomic_store(&t->rc_tracked, epoch);
    return 0;
}

void rcache__tier_replies_free(int n, redisReply **replies) {
    for (int i = 0; i < n; i++) {
        if (replies[i])
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

void rcache__tier_reply_error(rcache_tier_t *t, const char *cmd, int n,
                              redisReply *const *r) {
    const char *why = "unexpected reply";
    for (int i = 0; i < n; i++)
        if (r[i] && r[i]->type == REDIS_REPLY_ERROR) {
            why = r[i]->str;
            break;
        }
    rcache__tier_error(t, cmd, why);
}

int rcache__tier_roundtrip(rcache_tier_t *t, int n, redisReply **replies) {
    uint64_t t0 = rcache__tier_mono_us(), dt, max;
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(t->rc, &r) != REDIS_OK || !r) {
            rcache__tier_replies_free(i, replies);
            rcache__tier_error(t, "data connection lost",
                               t->rc->errstr[0] ? t->rc->errstr : "no reply");
            rcache__tier_conn_drop(t);
            return -1;
        }
        replies[i] = r;
    }
    dt = rcache__tier_mono_us() - t0;
    atomic_fetch_add(&t->n.roundtrips, 1);
    atomic_fetch_add(&t->n.rtt_us_total, dt);
    max = atomic_load(&t->n.rtt_us_max);
    while (dt > max && !atomic_compare_exchange_weak(&t->n.rtt_us_max, &max, dt))
        ;
    return 0;
}
