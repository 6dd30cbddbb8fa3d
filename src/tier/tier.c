/*
 * tier.c - the tier's life cycle (open, close, stats) and the one place
 * where L1 is filled from L2: pending-fetch markers and installs.
 *
 * The fetch/invalidate race: a node reads key K from L2; before it puts
 * the value in L1, another node writes K and the bus delivers the
 * invalidation. Installing after that would keep the stale value until
 * the safety-net TTL. So every L1 fill registers a pending marker (under
 * mu) before its L2 command is sent; the bus, under mu, marks the markers
 * of the keys it invalidates (all of them on a flush) dead; the install,
 * under mu, happens only if its marker is alive, the bus is live and its
 * epoch is the one the command was sent under. Invalidations that arrive
 * after the install simply delete the entry. (Lettuce had this bug in its
 * client-side caching; this is the fix it adopted, per key.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tier_internal.h"

void rcache_tier_opts_init(rcache_tier_opts_t *opts) {
    if (opts)
        memset(opts, 0, sizeof *opts);
}

const char *rcache_tier_strerror(int err) {
    if (err == RCACHE_TIER_EUNAVAIL)
        return "second tier (L2) unreachable";
    return rcache_strerror(err);
}

rcache_t *rcache_tier_cache(rcache_tier_t *t) { return t ? t->c : NULL; }

void rcache__tier_flush_l1(rcache_tier_t *t, int reason) {
    pthread_mutex_lock(&t->mu);
    for (rcache__pending_t *p = t->pending; p; p = p->next)
        p->dead = 1;
    if (reason != RCACHE_TIER_CLEAR_FLUSHALL)
        atomic_fetch_add(&t->n.flushes_conn, 1);
    atomic_fetch_add(&t->n.clears[reason], 1);
    t->last_clear = reason;
    t->last_clear_ms = rcache__tier_mono_ms();
    (void)rcache_clear(t->c, NULL);
    t->events++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (t->o.on_l1_invalidate)
        t->o.on_l1_invalidate(NULL, 0, t->o.invalidate_ctx);
}

void rcache__tier_error(rcache_tier_t *t, const char *what,
                        const char *detail) {
    atomic_fetch_add(&t->n.l2_errors, 1);
    pthread_mutex_lock(&t->mu);
    snprintf(t->last_error, sizeof t->last_error, "%s%s%s", what,
             detail && detail[0] ? ": " : "", detail ? detail : "");
    t->last_error_ms = rcache__tier_mono_ms();
    pthread_mutex_unlock(&t->mu);
}

void rcache__tier_invalidate_key(rcache_tier_t *t, const char *l2key,
                                 size_t len) {
    const char *key;
    size_t klen;
    if (len <= t->prefix_len || memcmp(l2key, t->prefix, t->prefix_len) != 0)
        return;
    key = l2key + t->prefix_len;
    klen = len - t->prefix_len;
    atomic_fetch_add(&t->n.invalidations, 1);
    pthread_mutex_lock(&t->mu);
    for (rcache__pending_t *p = t->pending; p; p = p->next)
        if (p->key_len == klen && memcmp(p->key, key, klen) == 0)
            p->dead = 1;
    (void)rcache_delete(t->c, key, klen);
    pthread_mutex_unlock(&t->mu);
    if (t->o.on_l1_invalidate)
        t->o.on_l1_invalidate(key, klen, t->o.invalidate_ctx);
}

void rcache__pending_add(rcache_tier_t *t, rcache__pending_t *p,
                         const void *key, size_t key_len, uint64_t epoch) {
    p->key = key;
    p->key_len = key_len;
    p->dead = 0;
    /* The bus epoch the data connection's tracking is enabled for (0 =
     * not tracked): installs are allowed only while it is still current. */
    p->epoch = epoch;
    pthread_mutex_lock(&t->mu);
    p->next = t->pending;
    t->pending = p;
    pthread_mutex_unlock(&t->mu);
}

static void pending_unlink(rcache_tier_t *t, rcache__pending_t *p) {
    for (rcache__pending_t **pp = &t->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

void rcache__pending_drop(rcache_tier_t *t, rcache__pending_t *p) {
    pthread_mutex_lock(&t->mu);
    pending_unlink(t, p);
    pthread_mutex_unlock(&t->mu);
}

int64_t rcache__tier_l1_ttl(rcache_tier_t *t, int64_t ttl_ms) {
    int64_t cap = (int64_t)t->o.l1_max_ttl_ms;
    return ttl_ms > 0 && ttl_ms < cap ? ttl_ms : cap;
}

/* Install in L1 (w->l2val bytes, or w->obj when not NULL, with w->tags)
 * and unlink p. w->ttl_ms is L2's remaining TTL (<= 0: none). Returns
 * RCACHE_OK when installed, 1 when not (raced with an invalidation or the
 * bus is down; obj not taken), or the store's error (obj not taken). */
int rcache__tier_install(rcache_tier_t *t, rcache__pending_t *p,
                         const rcache__write_t *w) {
    rcache_set_opts_t so = {.ttl_ms = rcache__tier_l1_ttl(t, w->ttl_ms),
                            .tags = w->ntags ? w->tags : NULL,
                            .ntags = w->ntags};
    int rc = 1;
    if (t->o.before_install)
        t->o.before_install(p->key, p->key_len, t->o.hook_ctx);
    pthread_mutex_lock(&t->mu);
    pending_unlink(t, p);
    if (!p->dead && t->bus_live && p->epoch == t->bus_epoch && p->epoch) {
        rc = w->obj ? rcache_set_object(t->c, p->key, p->key_len, w->obj,
                                        w->charge, w->dtor, w->dtor_ctx, &so)
                    : rcache_set_ex(t->c, p->key, p->key_len, w->l2val,
                                    w->l2len, &so, NULL);
    } else {
        (void)rcache_delete(t->c, p->key, p->key_len);
        atomic_fetch_add(&t->n.installs_dropped, 1);
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int rcache__tier_l2key(rcache_tier_t *t, const void *key, size_t key_len,
                       char **out, size_t *out_len) {
    char *k;
    if (!key || key_len == 0)
        return RCACHE_EINVAL;
    if (key_len > RCACHE_MAX_KEY_LEN)
        return RCACHE_ETOOBIG;
    k = malloc(t->prefix_len + key_len);
    if (!k)
        return RCACHE_ENOMEM;
    memcpy(k, t->prefix, t->prefix_len);
    memcpy(k + t->prefix_len, key, key_len);
    *out = k;
    *out_len = t->prefix_len + key_len;
    return RCACHE_OK;
}

int rcache__tier_unavail(rcache_tier_t *t) {
    return t->o.fail_mode == RCACHE_TIER_FAIL_CLOSED ? RCACHE_TIER_EUNAVAIL
                                                     : RCACHE_OK;
}

static int check_opts(rcache_tier_opts_t *o) {
    size_t plen;
    if (!o->key_prefix)
        o->key_prefix = "rc:";
    plen = strlen(o->key_prefix);
    if (plen == 0 || plen > 64 || (unsigned char)o->key_prefix[0] == 0xff)
        return RCACHE_EINVAL;
    if (o->fail_mode != RCACHE_TIER_FAIL_OPEN &&
        o->fail_mode != RCACHE_TIER_FAIL_CLOSED)
        return RCACHE_EINVAL;
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i])
            return RCACHE_EINVAL;
    if ((o->serialize == NULL) != (o->deserialize == NULL))
        return RCACHE_EINVAL;
#define DEF(f, v) if (!o->f) o->f = (v)
    DEF(l1_max_ttl_ms, 600000);
    DEF(connect_timeout_ms, 1000);
    DEF(command_timeout_ms, 1000);
    DEF(ping_interval_ms, 500);
    DEF(ping_deadline_ms, 2000);
    DEF(reconnect_ms, 200);
    DEF(lease_ms, 30000);
    DEF(lease_poll_ms, 100);
#undef DEF
    if (o->l1_max_ttl_ms > INT64_MAX / 2 || o->ping_interval_ms > 3600000 ||
        o->reconnect_ms > 3600000 || o->lease_poll_ms > 3600000)
        return RCACHE_EINVAL;
    return RCACHE_OK;
}

int rcache_tier_open(rcache_t *c, const char *url,
                     const rcache_tier_opts_t *opts, rcache_tier_t **out) {
    rcache_tier_t *t;
    int rc;
    if (!out)
        return RCACHE_EINVAL;
    *out = NULL;
    if (!c || !url)
        return RCACHE_EINVAL;
    t = calloc(1, sizeof *t);
    if (!t)
        return RCACHE_ENOMEM;
    if (opts)
        t->o = *opts;
    if ((rc = check_opts(&t->o)) != RCACHE_OK ||
        (rc = rcache_tier_parse_url(url, strlen(url), &t->url)) != RCACHE_OK) {
        free(t);
        return rc;
    }
    t->c = c;
    t->last_clear = -1;
    t->prefix_len = strlen(t->o.key_prefix);
    memcpy(t->prefix, t->o.key_prefix, t->prefix_len + 1);
    t->o.key_prefix = t->prefix;
    rcache__tier_tag_prefixes(t);
    pthread_mutex_init(&t->conn_mu, NULL);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    pthread_mutex_lock(&t->conn_mu);
    rc = rcache__tier_conn_ready(t);
    pthread_mutex_unlock(&t->conn_mu);
    if (rc < 0 && t->o.fail_mode == RCACHE_TIER_FAIL_CLOSED) {
        rcache_tier_close(t);
        return RCACHE_TIER_EUNAVAIL;
    }
    if ((rc = rcache__tier_bus_start(t)) != RCACHE_OK) {
        rcache_tier_close(t);
        return rc;
    }
    *out = t;
    return RCACHE_OK;
}

void rcache_tier_close(rcache_tier_t *t) {
    if (!t)
        return;
    rcache__tier_bus_stop(t);
    if (t->rc)
        redisFree(t->rc);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->conn_mu);
    free(t);
}

void rcache_tier_stats(rcache_tier_t *t, rcache_tier_stats_t *out) {
    rcache_stats_t cs;
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!t)
        return;
    rcache_stats(t->c, &cs);
    out->l1_hits = cs.hits;
    out->l2_hits = atomic_load(&t->n.l2_hits);
    out->misses = atomic_load(&t->n.misses);
    out->l2_errors = atomic_load(&t->n.l2_errors);
    out->invalidations = atomic_load(&t->n.invalidations);
    out->null_invalidations = atomic_load(&t->n.null_inval);
    out->flushes_conn = atomic_load(&t->n.flushes_conn);
    out->installs_dropped = atomic_load(&t->n.installs_dropped);
    out->lease_acquired = atomic_load(&t->n.lease_acquired);
    out->lease_waits = atomic_load(&t->n.lease_waits);
    out->lease_takeovers = atomic_load(&t->n.lease_takeovers);
    out->l2_roundtrips = atomic_load(&t->n.roundtrips);
    out->l2_rtt_us_total = atomic_load(&t->n.rtt_us_total);
    out->l2_rtt_us_max = atomic_load(&t->n.rtt_us_max);
    out->reconnects = atomic_load(&t->n.reconnects);
    pthread_mutex_lock(&t->mu);
    out->connected = t->bus_live && atomic_load(&t->rc_up) &&
                     atomic_load(&t->rc_tracked) == t->bus_epoch;
    pthread_mutex_unlock(&t->mu);
}

const char *rcache_tier_clear_reason_name(int reason) {
    static const char *const names[RCACHE_TIER_CLEAR__COUNT] = {
        "bus_lost", "data_lost", "resync", "flushall"};
    return reason >= 0 && reason < RCACHE_TIER_CLEAR__COUNT ? names[reason]
                                                             : "unknown";
}

void rcache_tier_status(rcache_tier_t *t, rcache_tier_status_t *out) {
    rcache_tier_stats_t st;
    uint64_t now;
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    out->last_clear_reason = -1;
    if (!t)
        return;
    rcache_tier_stats(t, &st);
    (void)rcache_tier_format_url(&t->url, out->address, sizeof out->address);
    out->has_password = t->url.pass[0] != 0;
    out->connected = st.connected;
    for (int i = 0; i < RCACHE_TIER_CLEAR__COUNT; i++)
        out->l1_clears[i] = atomic_load(&t->n.clears[i]);
    now = rcache__tier_mono_ms();
    pthread_mutex_lock(&t->mu);
    out->ever_connected = t->ever_up;
    memcpy(out->last_error, t->last_error, sizeof out->last_error);
    if (t->last_error[0])
        out->last_error_age_ms = now - t->last_error_ms;
    out->last_clear_reason = t->last_clear;
    if (t->last_clear >= 0)
        out->last_clear_age_ms = now - t->last_clear_ms;
    pthread_mutex_unlock(&t->mu);
}
