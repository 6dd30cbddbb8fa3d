/*
 * metrics.c - renders GET /metrics in the Prometheus text format 0.0.4
 * (rcache_ names, _total on counters, HELP and TYPE once per family, label
 * values escaped) so `promtool check metrics` accepts it, and reads this
 * process's RSS and CPU time for servers that have no figures of their own.
 */
#include "metrics.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/buffer.h>

void rcache__metrics_process(rcache__server_figures_t *out) {
    struct rusage ru;
    uint64_t rss;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->cpu_user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
        out->cpu_sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    rss = rcache__rss_bytes();
    if (rss)
        out->rss_bytes = rss;
}

struct render {
    struct evbuffer *out;
    int failed;
};

static void put(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct render *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (evbuffer_add_vprintf(r->out, fmt, ap) < 0)
        r->failed = 1;
    va_end(ap);
}

static void family(struct render *r, const char *name, const char *type, const char *help) {
    put(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void u64(struct render *r, const char *name, const char *type, const char *help,
                uint64_t v) {
    family(r, name, type, help);
    put(r, "%s %llu\n", name, (unsigned long long)v);
}

static void dbl(struct render *r, const char *name, const char *type, const char *help,
                double v) {
    family(r, name, type, help);
    put(r, "%s %.17g\n", name, v);
}

/* A label value with \, " and newline escaped. */
static void label_value(struct render *r, const char *s) {
    for (; *s; s++) {
        if (*s == '\\') put(r, "\\\\");
        else if (*s == '"') put(r, "\\\"");
        else if (*s == '\n') put(r, "\\n");
        else put(r, "%c", *s);
    }
}

static void command_line(const char *name, uint64_t calls, void *arg) {
    struct render *r = arg;
    put(r, "rcache_commands_total{command=\"");
    label_value(r, name);
    put(r, "\"} %llu\n", (unsigned long long)calls);
}

/* Snapshot (RDB) figures, when the server has them. */
static void snapshot_metrics(struct render *r, const rcache__server_hooks_t *hooks) {
    rcache__snapshot_figures_t f;
    if (!hooks || !hooks->snapshot || hooks->snapshot(hooks->ctx, &f) != 0)
        return;
    u64(r, "rcache_snapshot_enabled", "gauge", "1 when a snapshot directory is set.",
        (uint64_t)f.enabled);
    u64(r, "rcache_snapshot_in_progress", "gauge", "1 while a snapshot save runs.",
        (uint64_t)f.in_progress);
    u64(r, "rcache_snapshot_changes_since_save", "gauge",
        "Stores and deletions since the last successful save.", f.changes_since_save);
    u64(r, "rcache_snapshot_saves_total", "counter", "Successful snapshot saves.", f.saves);
    u64(r, "rcache_snapshot_save_failures_total", "counter", "Failed snapshot saves.",
        f.save_failures);
    u64(r, "rcache_snapshot_last_save_success", "gauge",
        "1 when the last snapshot save succeeded.", (uint64_t)f.last_save_ok);
    u64(r, "rcache_snapshot_last_save_timestamp_seconds", "gauge",
        "Unix time of the last successful save (start time before one).", f.last_save_time_s);
    dbl(r, "rcache_snapshot_last_save_duration_seconds", "gauge",
        "Duration of the last successful save.", f.last_save_seconds);
    u64(r, "rcache_snapshot_last_save_keys", "gauge", "Keys in the last saved snapshot.",
        f.last_save_keys);
    u64(r, "rcache_snapshot_last_save_bytes", "gauge", "Size of the last saved snapshot.",
        f.last_save_bytes);
    u64(r, "rcache_snapshot_last_load_keys", "gauge", "Keys stored by the start-up load.",
        f.last_load_keys);
    u64(r, "rcache_snapshot_last_load_skipped_keys", "gauge",
        "Keys the start-up load skipped (too big or other types).", f.last_load_skipped);
    u64(r, "rcache_snapshot_last_load_expired_keys", "gauge",
        "Keys the start-up load skipped because they had expired.", f.last_load_expired);
    dbl(r, "rcache_snapshot_last_load_duration_seconds", "gauge",
        "Duration of the start-up load.", f.last_load_seconds);
}

/* Keys per SELECT database holding any, from the count INFO keyspace
 * reports (db.h: the library's counters until a database above 0 is
 * used, then a walk of every key); nothing without the hook. */
static void db_metrics(struct render *r, const rcache__server_hooks_t *hooks) {
    rcache__db_keyspace_t ks;
    if (!hooks || !hooks->keyspace)
        return;
    hooks->keyspace(hooks->ctx, &ks);
    family(r, "rcache_db_keys", "gauge",
           "Keys held now per database (SELECT), for each database holding keys.");
    for (int db = 0; db < RCACHE__DB_COUNT; db++)
        if (ks.keys[db])
            put(r, "rcache_db_keys{db=\"%d\"} %llu\n", db, (unsigned long long)ks.keys[db]);
    family(r, "rcache_db_expires", "gauge",
           "Keys with a TTL held now per database, for each database holding keys.");
    for (int db = 0; db < RCACHE__DB_COUNT; db++)
        if (ks.keys[db])
            put(r, "rcache_db_expires{db=\"%d\"} %llu\n", db,
                (unsigned long long)ks.expires[db]);
}

/* The second tier's figures (--l2); nothing without one. */
static void tier_metrics(struct render *r, const rcache__server_hooks_t *hooks) {
    rcache_tier_stats_t t;
    if (!hooks || !hooks->tier || hooks->tier(hooks->ctx, &t) != 0)
        return;
    u64(r, "rcache_tier_connected", "gauge",
        "1 when the L2 and the invalidation connection are up with tracking.",
        (uint64_t)t.connected);
    u64(r, "rcache_tier_l2_hits_total", "counter", "L1 misses served from the L2.",
        t.l2_hits);
    u64(r, "rcache_tier_misses_total", "counter", "Lookups found in neither tier.",
        t.misses);
    u64(r, "rcache_tier_l2_errors_total", "counter",
        "Failed L2 round trips and connection attempts.", t.l2_errors);
    u64(r, "rcache_tier_invalidations_total", "counter",
        "Invalidated keys received on the invalidation connection.", t.invalidations);
    u64(r, "rcache_tier_null_invalidations_total", "counter",
        "FLUSHALL/FLUSHDB notices received.", t.null_invalidations);
    u64(r, "rcache_tier_l1_flushes_total", "counter",
        "L1 clears for a lost or re-made connection or a missed ping deadline.",
        t.flushes_conn);
    u64(r, "rcache_tier_installs_dropped_total", "counter",
        "L2 replies not kept because the key was invalidated meanwhile.",
        t.installs_dropped);
    u64(r, "rcache_tier_lease_acquired_total", "counter",
        "Leases taken to compute for the L2.", t.lease_acquired);
    u64(r, "rcache_tier_lease_waits_total", "counter",
        "Computations that waited for another node's lease.", t.lease_waits);
    u64(r, "rcache_tier_lease_takeovers_total", "counter",
        "Leases taken after the holder's expired.", t.lease_takeovers);
    u64(r, "rcache_tier_reconnects_total", "counter", "L2 connections re-made.",
        t.reconnects);
    dbl(r, "rcache_tier_l2_rtt_seconds_total", "counter",
        "Summed time of timed L2 round trips.", (double)t.l2_rtt_us_total / 1e6);
    u64(r, "rcache_tier_l2_roundtrips_total", "counter", "Timed L2 round trips.",
        t.l2_roundtrips);
}

/* Where the second tier stands (the dashboard's tier panel, INFO tier):
 * state as a one-hot gauge, address and auth as an info metric, the last
 * error and the last L1 clear as info metrics with their age, L1 clears by
 * reason. Nothing without a tier; the last-error and last-clear families
 * only once there is one. */
/* A label value from free text (an address, an error message): bytes
 * outside printable ASCII as '?', so the exposition stays valid UTF-8
 * whatever the text holds. */
static void label_text(struct render *r, const char *s) {
    char buf[1024];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof buf; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
    buf[i] = '\0';
    label_value(r, buf);
}

static void tier_status_metrics(struct render *r, const rcache__server_hooks_t *hooks) {
    static const char *const states[] = {"connecting", "reconnecting", "connected"};
    rcache_tier_status_t st;
    if (!hooks || !hooks->tier_status || hooks->tier_status(hooks->ctx, &st) != 0)
        return;
    int now = st.connected ? 2 : st.ever_connected ? 1 : 0;
    family(r, "rcache_tier_state", "gauge",
           "1 for the tier's state now: connecting (never yet), reconnecting, connected.");
    for (int i = 0; i < 3; i++)
        put(r, "rcache_tier_state{state=\"%s\"} %d\n", states[i], i == now);
    family(r, "rcache_tier_info", "gauge",
           "The L2 address (password shown as ***) and whether it carries one.");
    put(r, "rcache_tier_info{address=\"");
    label_text(r, st.address);
    put(r, "\",auth=\"%s\"} 1\n", st.has_password ? "true" : "false");
    family(r, "rcache_tier_l1_clears_total", "counter", "L1 clears by the tier, by reason.");
    for (int i = 0; i < RCACHE_TIER_CLEAR__COUNT; i++)
        put(r, "rcache_tier_l1_clears_total{reason=\"%s\"} %llu\n",
            rcache_tier_clear_reason_name(i), (unsigned long long)st.l1_clears[i]);
    if (st.last_error[0]) {
        family(r, "rcache_tier_last_error_info", "gauge",
               "The last L2 failure since start, as its text.");
        put(r, "rcache_tier_last_error_info{error=\"");
        label_text(r, st.last_error);
        put(r, "\"} 1\n");
        dbl(r, "rcache_tier_last_error_age_seconds", "gauge", "Seconds since the last L2 failure.",
            (double)st.last_error_age_ms / 1000.0);
    }
    if (st.last_clear_reason >= 0) {
        family(r, "rcache_tier_last_l1_clear_age_seconds", "gauge",
               "Seconds since the last L1 clear, labelled with its reason.");
        put(r, "rcache_tier_last_l1_clear_age_seconds{reason=\"%s\"} %.17g\n",
            rcache_tier_clear_reason_name(st.last_clear_reason),
            (double)st.last_clear_age_ms / 1000.0);
    }
}

int rcache__metrics_render(struct evbuffer *out, rcache_t *cache,
                           const rcache__server_figures_t *fig,
                           const rcache__server_hooks_t *hooks) {
    struct render r = {out, 0};
    rcache_stats_t s;
    rcache_stats(cache, &s);

    u64(&r, "rcache_hits_total", "counter", "Lookups that found an entry.", s.hits);
    u64(&r, "rcache_misses_total", "counter", "Lookups that found no entry (or an expired one).",
        s.misses);
    u64(&r, "rcache_sets_total", "counter", "Successful stores, updates included.", s.sets);
    u64(&r, "rcache_deletes_total", "counter",
        "Entries removed by delete, invalidate or clear.", s.deletes);
    family(&r, "rcache_evictions_total", "counter",
           "Entries evicted to honour a limit, by the limit (cause).");
    put(&r, "rcache_evictions_total{cause=\"max_items\"} %llu\n",
        (unsigned long long)s.evictions_items);
    put(&r, "rcache_evictions_total{cause=\"max_bytes\"} %llu\n",
        (unsigned long long)s.evictions_bytes);
    u64(&r, "rcache_expirations_total", "counter", "Entries removed because their TTL passed.",
        s.expirations);
    u64(&r, "rcache_tags", "gauge", "Distinct tags held now.", s.tags);
    u64(&r, "rcache_tagged_entries", "gauge", "Entries held now with at least one tag.",
        s.tagged_entries);
    u64(&r, "rcache_tag_index_bytes", "gauge",
        "Bytes the tag index is charged (included in rcache_bytes).", s.tag_bytes);
    u64(&r, "rcache_tag_invalidations_total", "counter", "Invalidations by tag.",
        s.tag_invalidations);
    u64(&r, "rcache_tag_invalidated_total", "counter",
        "Entries removed by invalidations by tag (also in rcache_deletes_total).",
        s.tag_invalidated);
    u64(&r, "rcache_computations_total", "counter", "Compute callbacks run (memoization).",
        s.computations);
    u64(&r, "rcache_singleflight_dedup_total", "counter",
        "Callers served by another caller's in-flight computation.", s.singleflight_dedup);
    dbl(&r, "rcache_compute_saved_seconds_total", "counter",
        "Compute time saved by hits, from the compute time recorded with each entry.",
        (double)s.compute_saved_ms / 1000.0);

    u64(&r, "rcache_items", "gauge", "Entries held now.", s.items);
    u64(&r, "rcache_memory_bytes", "gauge", "Bytes held now (entry footprints).", s.bytes);
    u64(&r, "rcache_peak_memory_bytes", "gauge", "Highest bytes held since start or reset.",
        s.peak_bytes);
    u64(&r, "rcache_max_items", "gauge", "Item limit in force (0 = unbounded).", s.max_items);
    u64(&r, "rcache_max_memory_bytes", "gauge", "Byte limit in force (0 = unbounded).",
        s.max_bytes);
    dbl(&r, "rcache_default_ttl_seconds", "gauge", "Default TTL in force (0 = no expiry).",
        (double)s.default_ttl_ms / 1000.0);
    dbl(&r, "rcache_hit_ratio", "gauge", "hits / (hits + misses), 0 before any lookup.",
        s.hit_ratio);
    dbl(&r, "rcache_memory_utilization_ratio", "gauge",
        "Bytes held / byte limit (0 when unbounded).", s.memory_utilization);
    db_metrics(&r, hooks);
    u64(&r, "rcache_enabled", "gauge", "1 when the cache is enabled, 0 when disabled.",
        s.disabled ? 0 : 1);

    u64(&r, "rcache_connections_total", "counter", "Client connections accepted.",
        fig->total_connections);
    u64(&r, "rcache_rejected_connections_total", "counter",
        "Client connections refused (maxclients).", fig->rejected_connections);
    u64(&r, "rcache_connected_clients", "gauge", "Client connections open now.",
        fig->connected_clients);
    u64(&r, "rcache_admin_connections", "gauge", "Admin HTTP connections open now.",
        fig->admin_connections);
    u64(&r, "rcache_admin_rejected_connections_total", "counter",
        "Admin HTTP connections refused (admin-max-connections).", fig->admin_rejected);
    u64(&r, "rcache_admin_timeouts_total", "counter",
        "Admin HTTP connections closed because a request missed its deadline.",
        fig->admin_timed_out);
    u64(&r, "rcache_commands_processed_total", "counter", "Commands processed, all commands.",
        fig->total_commands);
    family(&r, "rcache_commands_total", "counter", "Commands processed, by command name.");
    if (hooks && hooks->foreach_command)
        hooks->foreach_command(hooks->ctx, command_line, &r);
    snapshot_metrics(&r, hooks);
    tier_metrics(&r, hooks);
    tier_status_metrics(&r, hooks);
    u64(&r, "rcache_uptime_seconds", "gauge", "Seconds since the server started.", fig->uptime_s);
    dbl(&r, "process_cpu_seconds_total", "counter", "User and system CPU time spent.",
        fig->cpu_user_s + fig->cpu_sys_s);
    u64(&r, "process_resident_memory_bytes", "gauge", "Resident set size.", fig->rss_bytes);
    return r.failed ? -1 : 0;
}
