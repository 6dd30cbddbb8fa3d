/*
 * admin.h - the HTTP admin listener of rcached (admin_http.c, metrics.c).
 *
 * The server (config.c, started by server.c) parses the admin options with the rest of its config,
 * then calls rcache__admin_start() with its event base; the admin module
 * serves HTTP/1.1 JSON endpoints and Prometheus metrics from there. The
 * server exposes its own figures (connections, commands) through hooks so
 * the admin module never reads server globals.
 */
#ifndef RCACHE_ADMIN_H
#define RCACHE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "rcache.h"
#include "rcache_tier.h"
#include "../db_key.h" /* SELECT databases: rcache__db_keyspace_t */

struct event_base;

typedef struct rcache__admin_opts {
    const char *bind;        /* address, default "127.0.0.1" */
    int port;                /* TCP port, default 6381; 0 = no admin listener */
    const char *token;       /* bearer token; NULL = generate one */
    const char *token_file;  /* where a generated token is written (0600);
                                NULL = default path (see admin_http.c) */
    int metrics_auth;        /* 1: /metrics needs the token too */
    size_t max_body_bytes;   /* request body cap, default 1 MiB (413 above) */
    int timeout_s;           /* read/write timeout for HTTP clients, and the
                                deadline of each whole request, default 10 */
    int max_connections;     /* admin connections open at once, default 64;
                                above it a connection gets 503 and is closed */
} rcache__admin_opts_t;

/* The server's own figures, filled on demand. */
typedef struct rcache__server_figures {
    uint64_t uptime_s;
    uint64_t connected_clients;
    uint64_t total_connections;    /* accepted since start */
    uint64_t rejected_connections; /* refused (maxclients) */
    uint64_t total_commands;       /* commands processed */
    double cpu_user_s, cpu_sys_s;  /* process CPU time */
    uint64_t rss_bytes;            /* resident set size */
    /* filled by the admin module itself */
    uint64_t admin_connections;    /* admin HTTP connections open now */
    uint64_t admin_rejected;       /* refused at the cap */
    uint64_t admin_timed_out;      /* closed at the request deadline */
} rcache__server_figures_t;

struct rcache__admin_config_change; /* admin_config.h */
/* The server's snapshot figures (rcached's persist.c), for
 * /api/cache/snapshot and /metrics. */
typedef struct rcache__snapshot_figures {
    int enabled;                  /* a snapshot directory is set */
    int in_progress;              /* a save is running */
    int last_save_ok;             /* outcome of the last save */
    int last_load_status;         /* -1 none, 0 failed, 1 ok */
    uint64_t changes_since_save;  /* writes since the last success */
    uint64_t last_save_time_s;    /* Unix s of the last success */
    uint64_t last_save_keys, last_save_bytes, saves, save_failures;
    double last_save_seconds, last_load_seconds;
    uint64_t last_load_keys, last_load_expired, last_load_skipped,
        last_load_bytes;
    char last_error[400];         /* "" when the last operation succeeded */
} rcache__snapshot_figures_t;

typedef struct rcache__server_hooks {
    void *ctx;
    /* Fill *out with current figures. */
    void (*figures)(void *ctx, rcache__server_figures_t *out);
    /* Call fn(name, calls, arg) for every command that has been called
     * (names lower-case, as Redis's INFO commandstats). */
    void (*foreach_command)(void *ctx,
                            void (*fn)(const char *name, uint64_t calls, void *arg),
                            void *arg);
    /* Change the cache settings (POST /api/cache/config): only the fields
     * whose bit is in ch->set. The server owns its settings: it records
     * the change where CONFIG GET/SET see it and applies it to the cache
     * before returning. 0, or -1 (out of memory; nothing changed). NULL:
     * no server owns them, the admin module changes the cache itself. */
    int (*set_config)(void *ctx, const struct rcache__admin_config_change *ch);
    /* Snapshot figures: 0, or -1 when the server has none (may be NULL). */
    int (*snapshot)(void *ctx, rcache__snapshot_figures_t *out);
    /* Start a background save (or schedule one behind a running save): 0,
     * or -1 with the reason in err (may be NULL). */
    int (*snapshot_start)(void *ctx, char *err, size_t errlen);
    /* Second-tier figures (--l2): 0, or -1 without a tier (may be NULL). */
    int (*tier)(void *ctx, rcache_tier_stats_t *out);
    /* Second-tier status (address, last error, L1 clears by reason): 0,
     * or -1 without a tier (may be NULL). */
    int (*tier_status)(void *ctx, rcache_tier_status_t *out);
    /* Remove a key / keys matching a pattern / everything, in the second
     * tier too when there is one (may be NULL: the cache alone). Return
     * the rcache_delete / rcache_invalidate / rcache_clear codes. */
    int (*delete_key)(void *ctx, const void *key, size_t len);
    /* invalidate: pat matched against stored names (db_key.h) of
     * database db only (the cache's key class db). */
    int (*invalidate)(void *ctx, int db, const char *pat, size_t len, uint64_t *removed);
    int (*clear)(void *ctx, uint64_t *removed);
    /* Remove every entry with a tag (in the second tier and on every
     * node too when there is one; may be NULL: the cache alone). The
     * rcache_invalidate_tag() codes, plus RCACHE_TIER_EUNAVAIL. */
    int (*invalidate_tag)(void *ctx, const void *tag, size_t len, uint64_t *removed);
    /* Per-database key counts of SELECT's databases, as INFO keyspace
     * reports them (/metrics rcache_db_keys, rcache_db_expires); may be
     * NULL: no per-database lines. */
    void (*keyspace)(void *ctx, rcache__db_keyspace_t *out);
} rcache__server_hooks_t;

typedef struct rcache__admin rcache__admin_t;

/* Defaults for every field (bind 127.0.0.1, port 6381, 1 MiB, 10 s). */
void rcache__admin_opts_default(rcache__admin_opts_t *o);

/*
 * Start serving on base (the caller runs the loop). Prints the token file
 * path (never the token) to stderr when it generated a token.
 * Returns NULL with a message in err on failure (bind error, bad options).
 */
rcache__admin_t *rcache__admin_start(struct event_base *base, rcache_t *cache,
                                     const rcache__admin_opts_t *opts,
                                     const rcache__server_hooks_t *hooks,
                                     char *err, size_t errlen);

/* Stop listening and free everything (call before freeing base). */
void rcache__admin_stop(rcache__admin_t *a);

#endif /* RCACHE_ADMIN_H */
