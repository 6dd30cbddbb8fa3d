/*
 * admin_cache.c - the whole-cache endpoints of the admin API: stats,
 * config (read and change), clear, invalidate by pattern, the process
 * figures of /api/performance/metrics, /healthz and /metrics. Field names
 * are those existing deployments already read; see docs/ADMIN.md.
 */
#include "admin_config.h"
#include "admin_internal.h"
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

/* JSON integers are signed 64-bit: clamp. */
static json_t *ju64(uint64_t v) {
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static double round_to(double v, double unit) { return round(v / unit) * unit; }

static double mib(uint64_t bytes) { return round_to((double)bytes / 1048576.0, 0.001); }

/* A limit as JSON: null when 0 (unbounded). */
static json_t *limit_u64(uint64_t v) { return v ? ju64(v) : json_null(); }
static json_t *limit_mib(uint64_t v) { return v ? json_real(mib(v)) : json_null(); }

/* Text that may not be UTF-8 (a socket path, a server's error): as is when
 * valid, else with every byte >= 0x80 shown as '?'. NULL on no memory. */
static json_t *jtext(const char *s) {
    char buf[800];
    size_t n = strlen(s);
    if (rcache__admin_utf8_ok(s, n))
        return json_string(s);
    n = n < sizeof buf - 1 ? n : sizeof buf - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    buf[n] = 0;
    return json_string(buf);
}

/* Seconds since, rounded to ms. */
static json_t *age_s(uint64_t ms) { return json_real((double)ms / 1000.0); }

/* Where the second tier stands: state, address (no password), last error,
 * L1 clears by reason (docs/ADMIN.md, "tier"). */
static void tier_status_fields(rcache__admin_t *a, json_t *o) {
    rcache_tier_status_t st;
    json_t *clears;
    if (!a->hooks.tier_status || a->hooks.tier_status(a->hooks.ctx, &st) != 0)
        return;
    json_object_set_new(o, "state", json_string(st.connected        ? "connected"
                                                : st.ever_connected ? "reconnecting"
                                                                    : "connecting"));
    json_object_set_new(o, "address", jtext(st.address));
    json_object_set_new(o, "auth", json_boolean(st.has_password));
    json_object_set_new(o, "last_error",
                        st.last_error[0] ? jtext(st.last_error) : json_null());
    json_object_set_new(o, "last_error_age_seconds",
                        st.last_error[0] ? age_s(st.last_error_age_ms) : json_null());
    clears = json_object();
    for (int i = 0; clears && i < RCACHE_TIER_CLEAR__COUNT; i++)
        json_object_set_new(clears, rcache_tier_clear_reason_name(i), ju64(st.l1_clears[i]));
    json_object_set_new(o, "l1_clears", clears ? clears : json_null());
    json_object_set_new(o, "last_l1_clear",
                        st.last_clear_reason < 0
                            ? json_null()
                            : json_pack("{s:s, s:o}", "reason",
                                        rcache_tier_clear_reason_name(st.last_clear_reason),
                                        "age_seconds", age_s(st.last_clear_age_ms)));
}

/* The second tier's figures (--l2), or null without one. */
static json_t *tier_object(rcache__admin_t *a) {
    rcache_tier_stats_t t;
    json_t *o;
    if (!a->hooks.tier || a->hooks.tier(a->hooks.ctx, &t) != 0)
        return json_null();
    o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "connected", json_boolean(t.connected));
    json_object_set_new(o, "l1_hits", ju64(t.l1_hits));
    json_object_set_new(o, "l2_hits", ju64(t.l2_hits));
    json_object_set_new(o, "misses", ju64(t.misses));
    json_object_set_new(o, "l2_errors", ju64(t.l2_errors));
    json_object_set_new(o, "invalidations", ju64(t.invalidations));
    json_object_set_new(o, "null_invalidations", ju64(t.null_invalidations));
    json_object_set_new(o, "l1_flushes_connection", ju64(t.flushes_conn));
    json_object_set_new(o, "installs_dropped", ju64(t.installs_dropped));
    json_object_set_new(o, "lease_acquired", ju64(t.lease_acquired));
    json_object_set_new(o, "lease_waits", ju64(t.lease_waits));
    json_object_set_new(o, "lease_takeovers", ju64(t.lease_takeovers));
    json_object_set_new(o, "reconnects", ju64(t.reconnects));
    json_object_set_new(o, "l2_roundtrips", ju64(t.l2_roundtrips));
    json_object_set_new(o, "l2_rtt_avg_us",
                        ju64(t.l2_roundtrips ? t.l2_rtt_us_total / t.l2_roundtrips : 0));
    json_object_set_new(o, "l2_rtt_max_us", ju64(t.l2_rtt_us_max));
    tier_status_fields(a, o);
    return o;
}

static json_t *stats_object(rcache__admin_t *a) {
    rcache_stats_t s;
    rcache__server_figures_t f;
    json_t *o = json_object();
    rcache_stats(a->cache, &s);
    rcache__admin_figures(a, &f);
    if (!o)
        return NULL;
    json_object_set_new(o, "hits", ju64(s.hits));
    json_object_set_new(o, "misses", ju64(s.misses));
    json_object_set_new(o, "hit_rate_percent", json_real(round_to(s.hit_ratio * 100.0, 0.01)));
    json_object_set_new(o, "evictions", ju64(s.evictions));
    json_object_set_new(o, "current_items", ju64(s.items));
    json_object_set_new(o, "current_memory_mb", json_real(mib(s.bytes)));
    json_object_set_new(o, "max_items", limit_u64(s.max_items));
    json_object_set_new(o, "max_memory_mb", limit_mib(s.max_bytes));
    json_object_set_new(o, "memory_utilization_percent",
                        json_real(round_to(s.memory_utilization * 100.0, 0.01)));
    json_object_set_new(o, "evictions_items", ju64(s.evictions_items));
    json_object_set_new(o, "evictions_bytes", ju64(s.evictions_bytes));
    json_object_set_new(o, "expirations", ju64(s.expirations));
    json_object_set_new(o, "current_memory_bytes", ju64(s.bytes));
    json_object_set_new(o, "peak_memory_bytes", ju64(s.peak_bytes));
    json_object_set_new(o, "max_memory_bytes", limit_u64(s.max_bytes));
    json_object_set_new(o, "default_ttl_seconds",
                        s.default_ttl_ms ? json_real((double)s.default_ttl_ms / 1000.0)
                                         : json_null());
    json_object_set_new(o, "sets", ju64(s.sets));
    json_object_set_new(o, "deletes", ju64(s.deletes));
    json_object_set_new(o, "uptime_seconds", ju64(f.uptime_s));
    json_object_set_new(o, "compute_saved_seconds",
                        json_real((double)s.compute_saved_ms / 1000.0));
    json_object_set_new(o, "computations", ju64(s.computations));
    json_object_set_new(o, "singleflight_dedup", ju64(s.singleflight_dedup));
    json_object_set_new(o, "tags", ju64(s.tags));
    json_object_set_new(o, "tagged_entries", ju64(s.tagged_entries));
    json_object_set_new(o, "tag_index_bytes", ju64(s.tag_bytes));
    json_object_set_new(o, "tag_invalidations", ju64(s.tag_invalidations));
    json_object_set_new(o, "tag_invalidated", ju64(s.tag_invalidated));
    json_object_set_new(o, "tier", tier_object(a));
    return o;
}

void rcache__admin_h_stats(rcache__admin_t *a, struct evhttp_request *req,
                           const char *rest, const char *query) {
    rcache_stats_t s;
    rcache_stats(a->cache, &s);
    rcache__admin_reply_json(req, 200,
                             json_pack("{s:s, s:b, s:o*}", "status", "success", "cache_enabled",
                                       !s.disabled, "stats", stats_object(a)));
}

static json_t *config_object(rcache__admin_t *a) {
    rcache_config_t c;
    rcache_get_config(a->cache, &c);
    return json_pack("{s:o*, s:o*, s:o*, s:o*, s:b, s:i}", "max_size", limit_u64(c.max_items),
                     "max_memory_mb", limit_mib(c.max_bytes), "max_memory_bytes",
                     limit_u64(c.max_bytes), "default_ttl_seconds",
                     c.default_ttl_ms ? json_real((double)c.default_ttl_ms / 1000.0)
                                      : json_null(),
                     "cache_enabled", !c.disabled, "shards", (int)c.shards);
}

/* A change applied to the cache directly, when no server owns the
 * settings (the admin module on its own, as in tests/admin). */
static void apply_to_cache(rcache_t *cache, const rcache__admin_config_change_t *ch) {
    if (ch->set & (RCACHE__CFG_MAX_ITEMS | RCACHE__CFG_MAX_BYTES)) {
        rcache_config_t cur;
        rcache_get_config(cache, &cur);
        rcache_set_limits(cache, (ch->set & RCACHE__CFG_MAX_ITEMS) ? ch->max_items : cur.max_items,
                          (ch->set & RCACHE__CFG_MAX_BYTES) ? ch->max_bytes : cur.max_bytes);
    }
    if (ch->set & RCACHE__CFG_DEFAULT_TTL)
        rcache_set_default_ttl(cache, ch->default_ttl_ms);
    if (ch->set & RCACHE__CFG_ENABLED)
        rcache_set_disabled(cache, !ch->enabled);
}

void rcache__admin_h_config(rcache__admin_t *a, struct evhttp_request *req,
                            const char *rest, const char *query) {
    struct evbuffer *in;
    size_t len;
    const char *data;
    rcache__admin_config_change_t ch;
    rcache__admin_config_error_t e;
    rcache_stats_t before, after;
    json_t *o;

    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        rcache__admin_reply_json(req, 200, json_pack("{s:s, s:o*}", "status", "success",
                                                     "config", config_object(a)));
        return;
    }
    in = evhttp_request_get_input_buffer(req);
    len = evbuffer_get_length(in);
    if (len > a->max_body) {
        rcache__admin_reply_error(req, 413, NULL, "request body over %zu bytes", a->max_body);
        return;
    }
    data = len ? (const char *)evbuffer_pullup(in, -1) : "";
    if (rcache__admin_config_parse(data, len, &ch, &e) != 0) {
        o = json_pack("{s:s, s:s, s:i}", "status", "error", "error", e.message, "code",
                      e.status);
        if (o && e.field[0])
            json_object_set_new(o, "field", json_string(e.field));
        if (o && e.line >= 0) {
            json_object_set_new(o, "line", json_integer(e.line));
            json_object_set_new(o, "column", json_integer(e.column));
            json_object_set_new(o, "position", json_integer(e.position));
        }
        rcache__admin_reply_json(req, e.status, o);
        return;
    }
    rcache_stats(a->cache, &before);
    if (a->hooks.set_config) {
        /* The server owns the settings (CONFIG GET/SET see the change). */
        if (a->hooks.set_config(a->hooks.ctx, &ch) != 0) {
            rcache__admin_reply_error(req, 500, NULL, "out of memory");
            return;
        }
    } else {
        apply_to_cache(a->cache, &ch);
    }
    rcache_stats(a->cache, &after);
    rcache__admin_reply_json(
        req, 200,
        json_pack("{s:s, s:o*, s:o*}", "status", "success", "config", config_object(a),
                  "evicted", ju64(after.evictions >= before.evictions
                                      ? after.evictions - before.evictions : 0)));
}

void rcache__admin_h_clear(rcache__admin_t *a, struct evhttp_request *req,
                           const char *rest, const char *query) {
    uint64_t removed = 0;
    if (a->hooks.clear)
        (void)a->hooks.clear(a->hooks.ctx, &removed);
    else
        rcache_clear(a->cache, &removed);
    rcache__admin_reply_json(req, 200, json_pack("{s:s, s:o*}", "status", "success",
                                                 "removed", ju64(removed)));
}

/* {"tag": "..."}: rcache_invalidate_tag(). */
static void invalidate_tag(rcache__admin_t *a, struct evhttp_request *req, json_t *t) {
    uint64_t removed = 0;
    size_t len = json_is_string(t) ? json_string_length(t) : 0;
    if (len == 0 || len > RCACHE_MAX_TAG_LEN) {
        rcache__admin_reply_error(req, 400, "tag", "field \"tag\" must be a string of 1 to %u bytes",
                                  RCACHE_MAX_TAG_LEN);
        return;
    }
    int rc = a->hooks.invalidate_tag
                 ? a->hooks.invalidate_tag(a->hooks.ctx, json_string_value(t), len, &removed)
                 : rcache_invalidate_tag(a->cache, json_string_value(t), len, &removed);
    if (rc != RCACHE_OK)
        rcache__admin_reply_error(req, 500, NULL, "invalidate failed: %s",
                                  rc == RCACHE_TIER_EUNAVAIL ? "second tier (L2) unreachable"
                                                             : rcache_strerror(rc));
    else
        rcache__admin_reply_json(req, 200,
                                 json_pack("{s:s, s:o*, s:O}", "status", "success", "removed",
                                           ju64(removed), "tag", t));
}

/* Without the server's hooks: the cache's key class db when it counts
 * databases as classes (rcached does), else every stored name. */
static int invalidate_db(rcache_t *cache, int db, const char *pat, size_t len,
                         uint64_t *removed) {
    rcache_config_t cfg;
    rcache_get_config(cache, &cfg);
    return cfg.key_classes ? rcache_invalidate_class(cache, (uint32_t)db, pat, len, removed)
                           : rcache_invalidate(cache, pat, len, removed);
}

void rcache__admin_h_invalidate(rcache__admin_t *a, struct evhttp_request *req,
                                const char *rest, const char *query) {
    json_t *body, *p, *t;
    uint64_t removed = 0;
    char *pat = NULL;
    size_t pat_len = 0;
    int rc, db;
    if (rcache__admin_query_db(req, query, &db) != 0)
        return;
    body = rcache__admin_read_json(a, req);
    if (!body)
        return;
    if (!json_is_object(body)) {
        rcache__admin_reply_error(req, 400, NULL, "the body must be a JSON object");
        goto out;
    }
    p = json_object_get(body, "pattern");
    t = json_object_get(body, "tag");
    if (json_object_size(body) != 1 || (!p && !t)) {
        rcache__admin_reply_error(req, 400, NULL,
                                  "exactly one field, \"pattern\" or \"tag\", is accepted");
        goto out;
    }
    if (t) {
        if (db != 0)
            rcache__admin_reply_error(req, 400, "db", "tags are not per database: no db with %s",
                                      "\"tag\"");
        else
            invalidate_tag(a, req, t);
        goto out;
    }
    if (!json_is_string(p)) {
        rcache__admin_reply_error(req, 400, "pattern", "field \"pattern\" (a string) is %s",
                                  "not a string");
        goto out;
    }
    /* database N's keys: the pattern behind N's prefix (db_key.h) */
    if (rcache__admin_db_key(db, json_string_value(p), json_string_length(p), &pat,
                             &pat_len) != 0) {
        rcache__admin_reply_error(req, 500, NULL, "out of memory");
        goto out;
    }
    rc = a->hooks.invalidate
             ? a->hooks.invalidate(a->hooks.ctx, db, pat, pat_len, &removed)
             : invalidate_db(a->cache, db, pat, pat_len, &removed);
    if (rc == RCACHE_EPATTERN) {
        rcache__admin_reply_error(req, 400, "pattern", "invalid glob pattern: %s",
                                  rcache_strerror(rc));
    } else if (rc != RCACHE_OK) {
        rcache__admin_reply_error(req, 500, NULL, "invalidate failed: %s",
                                  rc == RCACHE_TIER_EUNAVAIL ? "second tier (L2) unreachable"
                                                             : rcache_strerror(rc));
    } else {
        rcache__admin_reply_json(req, 200,
                                 json_pack("{s:s, s:o*, s:O, s:i}", "status", "success",
                                           "removed", ju64(removed), "pattern", p, "db", db));
    }
out:
    free(pat);
    json_decref(body);
}

void rcache__admin_h_perf_metrics(rcache__admin_t *a, struct evhttp_request *req,
                                  const char *rest, const char *query) {
    rcache__server_figures_t f;
    rcache_stats_t s;
    double rate = rcache__admin_command_rate(a);
    json_t *m = json_object();
    rcache__admin_figures(a, &f);
    rcache_stats(a->cache, &s);
    if (m) {
        json_object_set_new(m, "uptime_seconds", ju64(f.uptime_s));
        json_object_set_new(m, "rss_bytes", ju64(f.rss_bytes));
        json_object_set_new(m, "rss_mb", json_real(mib(f.rss_bytes)));
        json_object_set_new(m, "cpu_user_seconds", json_real(round_to(f.cpu_user_s, 0.001)));
        json_object_set_new(m, "cpu_system_seconds", json_real(round_to(f.cpu_sys_s, 0.001)));
        json_object_set_new(m, "cpu_seconds",
                            json_real(round_to(f.cpu_user_s + f.cpu_sys_s, 0.001)));
        json_object_set_new(m, "connected_clients", ju64(f.connected_clients));
        json_object_set_new(m, "total_connections", ju64(f.total_connections));
        json_object_set_new(m, "rejected_connections", ju64(f.rejected_connections));
        json_object_set_new(m, "total_commands", ju64(f.total_commands));
        json_object_set_new(m, "commands_per_second", json_real(round_to(rate, 0.01)));
        json_object_set_new(m, "commands_per_second_avg",
                            json_real(f.uptime_s ? round_to((double)f.total_commands /
                                                                (double)f.uptime_s, 0.01)
                                                 : 0.0));
        json_object_set_new(m, "cache_items", ju64(s.items));
        json_object_set_new(m, "cache_memory_mb", json_real(mib(s.bytes)));
        json_object_set_new(m, "cache_hit_rate_percent",
                            json_real(round_to(s.hit_ratio * 100.0, 0.01)));
    }
    rcache__admin_reply_json(req, 200,
                             json_pack("{s:s, s:o*}", "status", "success", "metrics", m));
}

void rcache__admin_h_healthz(rcache__admin_t *a, struct evhttp_request *req,
                             const char *rest, const char *query) {
    rcache__admin_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void rcache__admin_h_metrics(rcache__admin_t *a, struct evhttp_request *req,
                             const char *rest, const char *query) {
    rcache__server_figures_t f;
    struct evbuffer *buf = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    rcache__admin_figures(a, &f);
    if (!buf || rcache__metrics_render(buf, a->cache, &f, &a->hooks) != 0) {
        if (buf)
            evbuffer_free(buf);
        rcache__admin_reply_error(req, 500, NULL, "out of memory");
        return;
    }
    evhttp_remove_header(h, "Content-Type");
    evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}
