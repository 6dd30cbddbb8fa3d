/*
 * node.c - rcached as a node of a shared second tier (--l2 redis://...):
 * opening and closing the tier (librcache-redis), the few command paths
 * that go through it, and its figures for INFO, the admin API and
 * /metrics.
 *
 * What goes through the tier (docs/SERVER.md, "Second tier"): GET and MGET
 * read through on an L1 miss; SET (every form), SETEX, PSETEX write
 * through (forms with NX/XX/GET/KEEPTTL/EXAT/PXAT run on L1 first, then
 * the resulting value, TTL and tags are written to L2), RCACHE.SET with its
 * tags too; DEL and UNLINK delete in both; RCACHE.INVALIDATE and
 * RCACHE.TAG.INVALIDATE invalidate in both (and so on every node). Other
 * writing commands (INCR, APPEND, RENAME, EXPIRE...) run on L1, then the
 * dispatcher publishes their keys' new state, tags included, to L2
 * (rcache__node_after_write). FLUSHALL and the admin API's clear,
 * invalidate (pattern or tag) and delete act on both tiers. An L1 miss
 * blocks the worker thread for one L2 round trip (bounded by the command
 * timeout).
 */
#include "node.h"
#include "db_key.h"

#include "keyargs.h"
#include "log.h"
#include "tracking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tier dropped an L1 key (or all of L1) because the L2 changed:
 * CLIENT TRACKING clients of this node hear of it (tracking.h). */
static void l1_invalidated(const void *key, size_t klen, void *ctx) {
    (void)ctx;
    if (key)
        rcache__tracking_invalidate(0, key, klen);
    else
        rcache__tracking_flush();
}

int rcache__node_open(rcache__server_t *s) {
    rcache_tier_opts_t o;
    int rc;
    if (!s->cfg.l2)
        return 0;
    rcache_tier_opts_init(&o);
    o.key_prefix = s->cfg.l2_prefix;
    o.l1_max_ttl_ms = s->cfg.l2_max_ttl_ms;
    o.on_l1_invalidate = l1_invalidated;
    o.fail_mode = s->cfg.l2_fail_closed ? RCACHE_TIER_FAIL_CLOSED
                                        : RCACHE_TIER_FAIL_OPEN;
    rc = rcache_tier_open(s->cache, s->cfg.l2, &o, &s->tier);
    if (rc != RCACHE_OK) {
        rcache__log(RCACHE__LOG_WARNING, "cannot use l2 %s: %s",
                    rc == RCACHE_EINVAL ? "(bad URL or l2 options)" : "",
                    rcache_tier_strerror(rc));
        fprintf(stderr, "rcached: cannot use l2: %s\n", rcache_tier_strerror(rc));
        return -1;
    }
    rcache__log(RCACHE__LOG_NOTICE, "second tier attached (prefix '%s', %s)",
                s->cfg.l2_prefix ? s->cfg.l2_prefix : "rc:",
                s->cfg.l2_fail_closed ? "fail-closed" : "fail-open");
    return 0;
}

void rcache__node_close(rcache__server_t *s) {
    rcache_tier_close(s->tier);
    s->tier = NULL;
}

int rcache__node_get_ref(rcache__client_t *c, const rcache__arg_t *key,
                         rcache_ref_t **ref) {
    rcache_tier_t *t = c->srv->tier;
    return t ? rcache_tier_get_ref(t, RCACHE__KEY(*key), ref)
             : rcache_get_ref(RCACHE__CACHE(c), RCACHE__KEY(*key), ref);
}

int rcache__node_set(rcache__client_t *c, const rcache__arg_t *key,
                     const rcache__arg_t *val, int64_t ttl_ms,
                     const rcache_tag_t *tags, size_t ntags) {
    uint64_t def;
    rcache_config_t cfg;
    if (ttl_ms == RCACHE_TTL_DEFAULT) {
        rcache_get_config(RCACHE__CACHE(c), &cfg);
        def = cfg.default_ttl_ms;
        ttl_ms = (int64_t)def;
    }
    return rcache_tier_set_tagged(c->srv->tier, RCACHE__KEY(*key), val->ptr,
                                  val->len, ttl_ms, tags, ntags);
}

void rcache__node_publish(rcache__client_t *c, const rcache__arg_t *key) {
    rcache_t *cache = RCACHE__CACHE(c);
    rcache_ref_t *ref = NULL;
    rcache_tag_list_t *tags = NULL;
    int64_t ttl = 0;
    const void *v;
    size_t len;
    if (!c->srv->tier)
        return;
    if (rcache_get_ref(cache, RCACHE__KEY(*key), &ref) != RCACHE_OK) {
        (void)rcache_tier_delete(c->srv->tier, RCACHE__KEY(*key));
        return;
    }
    v = rcache_ref_value(ref, &len);
    if (rcache_ttl(cache, RCACHE__KEY(*key), &ttl) != RCACHE_OK || ttl < 0)
        ttl = 0;
    /* In-place changes (INCR, APPEND, EXPIRE...) keep the entry's tags. */
    if (rcache_get_tags(cache, RCACHE__KEY(*key), &tags) != RCACHE_OK)
        tags = NULL;
    if (v)
        (void)rcache_tier_set_tagged(c->srv->tier, RCACHE__KEY(*key), v, len,
                                     ttl, tags ? tags->tags : NULL,
                                     tags ? tags->count : 0);
    rcache_tag_list_free(tags);
    rcache_release(ref);
}

/* Writing commands that reach the L2 on their own. */
static const char *const THROUGH_TIER[] = {
    "set", "setex", "psetex", "setnx", "getset", "mset", "msetnx", "del",
    "unlink", "flushdb", "flushall", "rcache.invalidate", "rcache.set"};

void rcache__node_after_write(rcache__client_t *c, const rcache__cmd_t *cmd,
                              size_t argc, const rcache__arg_t *argv) {
    size_t last;
    if (!c->srv->tier || cmd->first_key <= 0 || cmd->step <= 0)
        return;
    for (size_t i = 0; i < sizeof THROUGH_TIER / sizeof THROUGH_TIER[0]; i++)
        if (!strcmp(cmd->name, THROUGH_TIER[i]))
            return;
    last = cmd->last_key < 0 ? argc + (size_t)cmd->last_key : (size_t)cmd->last_key;
    for (size_t k = (size_t)cmd->first_key; k <= last && k < argc; k += (size_t)cmd->step)
        if (argv[k].len)
            rcache__node_publish(c, &argv[k]);
}

int rcache__node_delete_key(rcache__server_t *s, const void *key, size_t len) {
    return s->tier ? rcache_tier_delete(s->tier, key, len)
                   : rcache_delete(s->cache, key, len);
}

int rcache__node_invalidate_pattern(rcache__server_t *s, int db, const char *pat,
                                    size_t len, uint64_t *removed) {
    uint64_t l1 = 0, l2 = 0;
    int rc;
    if (!s->tier)
        return db < 0 ? rcache_invalidate(s->cache, pat, len, removed)
                      : rcache_invalidate_class(s->cache, (uint32_t)db, pat, len, removed);
    rc = db < 0 ? rcache_tier_invalidate(s->tier, pat, len, &l1, &l2)
                : rcache_tier_invalidate_class(s->tier, (uint32_t)db, pat, len, &l1, &l2);
    if (removed)
        *removed = l2 > l1 ? l2 : l1;
    return rc;
}

int rcache__node_clear(rcache__server_t *s, uint64_t *removed) {
    if (!s->tier)
        return rcache_clear(s->cache, removed);
    return rcache__node_invalidate_pattern(s, -1, "*", 1, removed);
}

int rcache__node_delete(rcache__client_t *c, const rcache__arg_t *key) {
    return rcache__node_delete_key(c->srv, RCACHE__KEY(*key));
}

int rcache__node_invalidate(rcache__client_t *c, const rcache__arg_t *pat,
                            uint64_t *removed) {
    char buf[256] = {0};
    char *p = buf;
    size_t pre = c->db > 0 ? RCACHE__DB_PREFIX_LEN : 0;
    if (pre + pat->len > sizeof buf && !(p = malloc(pre + pat->len)))
        return RCACHE_ENOMEM;
    if (pre) /* the database's prefix: a literal for the glob (bytes < 16) */
        rcache__db_prefix(c->db, p);
    if (pat->len)
        memcpy(p + pre, pat->ptr, pat->len);
    int rc = rcache__node_invalidate_pattern(c->srv, c->db, p, pre + pat->len, removed);
    if (p != buf)
        free(p);
    return rc;
}

int rcache__node_invalidate_tag(rcache__server_t *s, const void *tag,
                                size_t len, uint64_t *removed) {
    uint64_t l1 = 0, l2 = 0;
    int rc;
    if (!s->tier)
        return rcache_invalidate_tag(s->cache, tag, len, removed);
    rc = rcache_tier_invalidate_tag(s->tier, tag, len, &l1, &l2);
    if (removed)
        *removed = l2 > l1 ? l2 : l1;
    return rc;
}

int rcache__node_stats(const rcache__server_t *s, rcache_tier_stats_t *out) {
    if (!s->tier)
        return -1;
    rcache_tier_stats(s->tier, out);
    return 0;
}

int rcache__node_status(const rcache__server_t *s, rcache_tier_status_t *out) {
    if (!s->tier)
        return -1;
    rcache_tier_status(s->tier, out);
    return 0;
}

/* An INFO value: text with control characters (CR, LF among them) as '?',
 * so a field stays on its line. */
static void info_text(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
    dst[i] = '\0';
}

/* The status part of INFO tier: state, address, last error, L1 clears by
 * reason (the admin API's stats.tier fields, docs/SERVER.md). */
static size_t node_status_info(const rcache__server_t *s, char *buf, size_t cap) {
    rcache_tier_status_t st;
    char addr[sizeof st.address], err[sizeof st.last_error];
    size_t used;
    int n;
    if (rcache__node_status(s, &st) != 0)
        return 0;
    info_text(addr, sizeof addr, st.address);
    info_text(err, sizeof err, st.last_error);
    n = snprintf(buf, cap,
                 "tier_state:%s\r\ntier_address:%s\r\ntier_auth:%d\r\n"
                 "tier_last_error:%s\r\ntier_last_error_age_ms:%lld\r\n",
                 st.connected ? "connected" : st.ever_connected ? "reconnecting" : "connecting",
                 addr, st.has_password, err,
                 st.last_error[0] ? (long long)st.last_error_age_ms : -1LL);
    used = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    for (int i = 0; i < RCACHE_TIER_CLEAR__COUNT && used + 1 < cap; i++) {
        n = snprintf(buf + used, cap - used, "tier_l1_clears_%s:%llu\r\n",
                     rcache_tier_clear_reason_name(i), (unsigned long long)st.l1_clears[i]);
        used += n < 0 ? 0 : (size_t)n < cap - used ? (size_t)n : cap - used - 1;
    }
    if (used + 1 < cap) {
        n = snprintf(buf + used, cap - used,
                     "tier_last_l1_clear_reason:%s\r\ntier_last_l1_clear_age_ms:%lld\r\n",
                     st.last_clear_reason < 0
                         ? "none"
                         : rcache_tier_clear_reason_name(st.last_clear_reason),
                     st.last_clear_reason < 0 ? -1LL : (long long)st.last_clear_age_ms);
        used += n < 0 ? 0 : (size_t)n < cap - used ? (size_t)n : cap - used - 1;
    }
    return used;
}

size_t rcache__node_info(const rcache__server_t *s, char *buf, size_t cap) {
    rcache_tier_stats_t st;
    int n;
    if (rcache__node_stats(s, &st) != 0)
        n = snprintf(buf, cap, "tier_enabled:0\r\n");
    else
        n = snprintf(
            buf, cap,
            "tier_enabled:1\r\ntier_connected:%d\r\ntier_l1_hits:%llu\r\n"
            "tier_l2_hits:%llu\r\ntier_misses:%llu\r\ntier_l2_errors:%llu\r\n"
            "tier_invalidations:%llu\r\ntier_null_invalidations:%llu\r\n"
            "tier_l1_flushes_conn:%llu\r\ntier_installs_dropped:%llu\r\n"
            "tier_lease_acquired:%llu\r\ntier_lease_waits:%llu\r\n"
            "tier_lease_takeovers:%llu\r\ntier_reconnects:%llu\r\n"
            "tier_l2_roundtrips:%llu\r\ntier_l2_rtt_avg_us:%llu\r\n"
            "tier_l2_rtt_max_us:%llu\r\n",
            st.connected, (unsigned long long)st.l1_hits,
            (unsigned long long)st.l2_hits, (unsigned long long)st.misses,
            (unsigned long long)st.l2_errors,
            (unsigned long long)st.invalidations,
            (unsigned long long)st.null_invalidations,
            (unsigned long long)st.flushes_conn,
            (unsigned long long)st.installs_dropped,
            (unsigned long long)st.lease_acquired,
            (unsigned long long)st.lease_waits,
            (unsigned long long)st.lease_takeovers,
            (unsigned long long)st.reconnects,
            (unsigned long long)st.l2_roundtrips,
            (unsigned long long)(st.l2_roundtrips
                                     ? st.l2_rtt_us_total / st.l2_roundtrips
                                     : 0),
            (unsigned long long)st.l2_rtt_us_max);
    size_t used = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    if (used + 1 < cap)
        used += node_status_info(s, buf + used, cap - used);
    return used;
}
