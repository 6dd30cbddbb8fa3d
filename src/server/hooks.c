/*
 * hooks.c - the server's side of the admin API contract (admin.h): the
 * figures and per-command call counts the admin module reports, read from
 * the server's atomics so the admin thread never touches worker state, and
 * config changes, handed to the settings' one owner (server.c).
 */
#include "admin/admin.h"
#include "admin/admin_config.h"
#include "admin/metrics.h"
#include "db.h"
#include "tracking.h"
#include "persist.h"
#include "node.h"
#include "server.h"

#include <stdio.h>


static void figures(void *ctx, rcache__server_figures_t *out) {
    rcache__server_t *s = ctx;
    out->uptime_s = (rcache__wall_ms() - s->start_ms) / 1000;
    out->connected_clients = atomic_load(&s->connected_clients);
    out->total_connections = atomic_load(&s->total_connections);
    out->rejected_connections = atomic_load(&s->rejected_connections);
    out->total_commands = rcache__server_commands(s);
    out->cpu_user_s = out->cpu_sys_s = 0;
    out->rss_bytes = 0;
    rcache__metrics_process(out);
}

static void foreach_command(void *ctx,
                            void (*fn)(const char *name, uint64_t calls, void *arg),
                            void *arg) {
    rcache__server_t *s = ctx;
    size_t n;
    const rcache__cmd_t *t = rcache__command_table(&n);
    for (size_t i = 0; i < n; i++) {
        uint64_t calls = rcache__server_calls(s, t[i].id);
        if (calls)
            fn(t[i].name, calls, arg);
    }
}

/* POST /api/cache/config: the same owner as CONFIG SET (server.c). */
static int edit_from_admin(rcache__config_t *next, void *ctx) {
    const rcache__admin_config_change_t *ch = ctx;
    if (ch->set & RCACHE__CFG_MAX_ITEMS)
        next->max_items = ch->max_items;
    if (ch->set & RCACHE__CFG_MAX_BYTES)
        next->maxmemory = ch->max_bytes;
    if (ch->set & RCACHE__CFG_DEFAULT_TTL)
        next->default_ttl_ms = ch->default_ttl_ms;
    if (ch->set & RCACHE__CFG_ENABLED)
        next->disabled = !ch->enabled;
    return 0;
}

static int set_config(void *ctx, const struct rcache__admin_config_change *ch) {
    return rcache__server_config_update(ctx, edit_from_admin, (void *)ch) == 0 ? 0 : -1;
}

static int snapshot(void *ctx, rcache__snapshot_figures_t *out) {
    rcache__persist_figures_t f;
    rcache__persist_figures(ctx, &f);
    out->enabled = f.enabled;
    out->in_progress = f.bgsave_in_progress;
    out->last_save_ok = f.last_save_ok;
    out->last_load_status = f.last_load_ok;
    out->changes_since_save = f.changes_since_save;
    out->last_save_time_s = f.last_save_time;
    out->last_save_keys = f.last_save_keys;
    out->last_save_bytes = f.last_save_bytes;
    out->saves = f.saves;
    out->save_failures = f.save_failures;
    out->last_save_seconds = f.last_save_seconds;
    out->last_load_seconds = f.last_load_seconds;
    out->last_load_keys = f.last_load_keys;
    out->last_load_expired = f.last_load_expired;
    out->last_load_skipped = f.last_load_skipped;
    out->last_load_bytes = f.last_load_bytes;
    snprintf(out->last_error, sizeof out->last_error, "%s", f.last_error);
    return 0;
}

static int snapshot_start(void *ctx, char *err, size_t errlen) {
    return rcache__persist_bgsave(ctx, 1, err, errlen) < 0 ? -1 : 0;
}

static int tier(void *ctx, rcache_tier_stats_t *out) {
    return rcache__node_stats(ctx, out);
}

static int tier_status(void *ctx, rcache_tier_status_t *out) {
    return rcache__node_status(ctx, out);
}

/* The admin API's writes tell CLIENT TRACKING clients as commands do:
 * the key, or the flush null for pattern, tag and whole-cache removals. */
static int delete_key(void *ctx, const void *key, size_t len) {
    int rc = rcache__node_delete_key(ctx, key, len);
    rcache__tracking_invalidate(0, key, len);
    return rc;
}

static int invalidate(void *ctx, int db, const char *pat, size_t len, uint64_t *removed) {
    int rc = rcache__node_invalidate_pattern(ctx, db, pat, len, removed);
    rcache__tracking_flush();
    return rc;
}

static int invalidate_tag(void *ctx, const void *tag, size_t len, uint64_t *removed) {
    int rc = rcache__node_invalidate_tag(ctx, tag, len, removed);
    rcache__tracking_flush();
    return rc;
}

static int clear(void *ctx, uint64_t *removed) {
    int rc = rcache__node_clear(ctx, removed);
    rcache__tracking_flush();
    return rc;
}

static void keyspace(void *ctx, rcache__db_keyspace_t *out) {
    rcache__server_t *s = ctx;
    rcache__db_keyspace(s->cache, out);
}

void rcache__server_hooks_init(rcache__server_t *s, struct rcache__server_hooks *h) {
    h->ctx = s;
    h->set_config = set_config;
    h->snapshot = snapshot;
    h->snapshot_start = snapshot_start;
    h->tier = tier;
    h->tier_status = tier_status;
    h->delete_key = delete_key;
    h->invalidate = invalidate;
    h->clear = clear;
    h->invalidate_tag = invalidate_tag;
    h->figures = figures;
    h->foreach_command = foreach_command;
    h->keyspace = keyspace;
}
