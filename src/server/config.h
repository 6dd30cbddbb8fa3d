/*
 * config.h - rcached's settings: one struct, filled from defaults, the
 * environment, a redis.conf-style file and command-line flags (config.c).
 *
 * Precedence, lowest to highest: built-in defaults < environment (the
 * library's CACHE_* / RCACHE_* names, then RCACHED_<OPTION>) < config file
 * < flags. Every option has one name, used as "--name" on the command line,
 * "name value" in the file, "RCACHED_NAME" (upper case, '-' -> '_') in the
 * environment and as the CONFIG GET/SET parameter name.
 */
#ifndef RCACHE_SERVER_CONFIG_H
#define RCACHE_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum {
    RCACHE__LOG_DEBUG = 0,
    RCACHE__LOG_VERBOSE = 1,
    RCACHE__LOG_NOTICE = 2,
    RCACHE__LOG_WARNING = 3
};

/* One class of client-output-buffer-limit (Redis's form "<class> <hard>
 * <soft> <soft-seconds>"); 0 = no limit. */
typedef struct rcache__cobl {
    uint64_t hard_bytes, soft_bytes, soft_s;
} rcache__cobl_t;
enum { RCACHE__COBL_NORMAL, RCACHE__COBL_REPLICA, RCACHE__COBL_PUBSUB, RCACHE__COBL_CLASSES };

typedef struct rcache__config {
    /* network */
    char *bind;               /* TCP address, default "127.0.0.1" */
    uint64_t port;            /* default 6380; 0 = no TCP listener */
    char *unixsocket;         /* path or NULL */
    uint64_t unixsocketperm;  /* octal mode, 0 = leave to umask */
    uint64_t tcp_backlog;     /* listen() backlog, default 511 */
    uint64_t tcp_keepalive;   /* seconds, 0 = off, default 300 */
    uint64_t threads;         /* worker threads, 0 = number of cores */
    char *io_engine;          /* "epoll" (NULL too) or "uring" (start only) */
    /* cache */
    uint64_t maxmemory;       /* bytes, default 512 MiB, 0 = unbounded */
    uint64_t max_items;       /* default 0 = unbounded */
    uint64_t default_ttl_ms;  /* default 0 = no expiry */
    uint64_t shards;          /* 0 = library default */
    int policy;               /* rcache_policy_t (maxmemory-policy), lru */
    int disabled;             /* DISABLE_RESULT_CACHE; admin cache_enabled */
    /* clients */
    uint64_t maxclients;      /* default 10000 */
    uint64_t timeout_s;       /* idle timeout, 0 = never */
    char *requirepass;        /* NULL = no AUTH needed */
    uint64_t query_buf_limit; /* bytes, default 64 MiB */
    uint64_t proto_max_bulk_len; /* longest bulk argument, default 512 MiB */
    /* client-output-buffer-limit per class: normal (hard only applied;
     * default 64 MiB), replica (kept for CONFIG GET; no replicas here),
     * pubsub (default 32mb 8mb 60, pubsub.c) */
    rcache__cobl_t cobl[RCACHE__COBL_CLASSES];
    uint64_t lua_time_limit_ms; /* BUSY after a script ran this long, 5000 */
    int64_t slowlog_slower_than_us; /* SLOWLOG threshold, -1 = off, 10000 */
    uint64_t slowlog_max_len;       /* SLOWLOG entries kept, 128 */
    uint64_t tracking_max_keys;     /* tracking-table-max-keys, 1000000 (0 = none) */
    uint64_t latency_threshold_ms;  /* LATENCY threshold, 0 = off */
    int notify_flags;         /* notify-keyspace-events (notify.h), 0 = off */
    /* logging */
    int loglevel;             /* RCACHE__LOG_*, default notice */
    char *logfile;            /* NULL / "" = stderr */
    /* admin HTTP API (admin.h) */
    char *admin_bind;         /* default "127.0.0.1" */
    uint64_t admin_port;      /* default 6381, 0 = disabled */
    char *admin_token;        /* NULL = generated */
    char *admin_token_file;   /* NULL = admin module's default */
    int metrics_auth;         /* yes/no, default no */
    uint64_t admin_max_body;  /* bytes, default 1 MiB */
    uint64_t admin_timeout_s; /* default 10 */
    uint64_t admin_max_conns; /* default 64 */
    /* testing */
    int enable_debug_command; /* DEBUG allowed; start only, default no */
    /* snapshots (persist.c; docs/SERVER.md "Persistence") */
    char *dir;                /* snapshot directory; NULL = persistence off */
    char *dbfilename;         /* file name in dir, default "dump.rdb" */
    char *save;               /* "<s> <changes> ..." rules; NULL = none */
    int snapshot_on_shutdown; /* yes/no, default yes */
    int snapshot_required;    /* yes: refuse to start on a bad file */
    char *pidfile;            /* written at start, removed at exit; NULL = none */
    /* redis.conf directives accepted but not applied (conf_compat.c),
     * space-separated, each once; logged at start. NULL = none. */
    char *ignored;
    /* second tier (librcache-redis), start-only */
    char *l2;                 /* URL; NULL = no L2 */
    char *l2_prefix;          /* NULL = library default "rc:" */
    uint64_t l2_max_ttl_ms;   /* L1 safety net, default 600000; 0 = same */
    int l2_fail_closed;       /* yes/no, default no (fail-open) */
    /* where the file came from, and flags that only make sense at start */
    char *config_file;
    int show_help;
    int show_version;
} rcache__config_t;

/* redis.conf directives that are not rcached options (conf_compat.c).
 * is_option: name is an rcached option (then only Redis's
 * `client-output-buffer-limit <class> ...` form is handled here). Returns
 * RCACHE__COMPAT_UNKNOWN (not ours: parse as usual), _APPLIED (done, via
 * the option it means), _IGNORED (accepted, not applicable: the caller
 * notes it), or -1 with err set (refused, with the reason). Pure. */
enum { RCACHE__COMPAT_UNKNOWN = 0, RCACHE__COMPAT_APPLIED = 1, RCACHE__COMPAT_IGNORED = 2 };
int rcache__conf_compat(rcache__config_t *cfg, const char *name, const char *value,
                        int is_option, char *err, size_t errlen);
/* Add name to cfg->ignored unless there (lower-cased). 0 or -1 (memory). */
int rcache__conf_note_ignored(rcache__config_t *cfg, const char *name);

/* CONFIG REWRITE (conf_rewrite.c): write cfg's runtime options into
 * cfg->config_file (lines rewritten in place, missing non-default ones
 * appended, the rest kept; replaced atomically). 0, or -1 with err set
 * (Redis's texts: no config file, I/O errors). */
int rcache__config_rewrite(const rcache__config_t *cfg, char *err, size_t errlen);

/* Built-in defaults (no environment). */
void rcache__config_defaults(rcache__config_t *cfg);
/* Free the strings a config owns (the struct itself is the caller's). */
void rcache__config_free(rcache__config_t *cfg);
/* Deep copy (dst is overwritten, not freed first). 0 or -1 (no memory). */
int rcache__config_copy(rcache__config_t *dst, const rcache__config_t *src);

/* Move the runtime settings (the options CONFIG SET may change, and
 * `disabled`, which the admin API changes) from *next into *live and leave
 * every other field of *live untouched: after start-up those stay as they
 * were, so their strings are never freed under a reader (server.c). String
 * ownership is swapped, so *next then holds the replaced strings and the
 * caller frees it with rcache__config_free() as usual. Returns the number
 * of fields whose value changed (0: nothing to apply). */
size_t rcache__config_take_runtime(rcache__config_t *live, rcache__config_t *next);

/* Set one option by name ("port", "max-items"...; case-insensitive; "_"
 * accepted for "-") from text. 0, or -1 with "…" naming it in err. */
int rcache__config_set(rcache__config_t *cfg, const char *name,
                       const char *value, char *err, size_t errlen);

/* maxmemory-policy values: parse one (0, or -1 if unknown) into a
 * rcache_policy_t, and the name CONFIG GET and INFO show for a policy
 * (Redis's allkeys-lru / allkeys-lfu where one maps, else ours). */
int rcache__config_parse_policy(const char *text, int *out);
const char *rcache__config_policy_name(int policy);

/* Format one option's value as CONFIG GET shows it; -1 if unknown. */
int rcache__config_get(const rcache__config_t *cfg, const char *name,
                       char *out, size_t cap);

/* Number of options, and the i-th option's name / whether CONFIG SET may
 * change it while running / its help line / its default as text. */
size_t rcache__config_count(void);
const char *rcache__config_name(size_t i);
int rcache__config_runtime(const char *name);
const char *rcache__config_help_text(size_t i);
const char *rcache__config_default_text(size_t i);
const char *rcache__config_metavar(size_t i);

/* Apply redis.conf-style text ("name value" lines, '#' comments, values
 * optionally in "..." or '...'). origin names the source in messages. */
int rcache__config_parse_text(rcache__config_t *cfg, const char *text,
                              size_t len, const char *origin, char *err,
                              size_t errlen);

/* Read a file and apply it with rcache__config_parse_text(). */
int rcache__config_load_file(rcache__config_t *cfg, const char *path,
                             char *err, size_t errlen);

/* Overlay the environment: the library's names (rcache_config_from_env())
 * then RCACHED_<NAME> for every option, and RCACHE_ADMIN_TOKEN. */
int rcache__config_apply_env(rcache__config_t *cfg, char *err, size_t errlen);

/* Apply command-line flags only ("--name value", "--name=value",
 * "-h/--help", "-v/--version"); a leading non-flag argument is taken as the
 * config file name and only recorded in cfg->config_file. */
int rcache__config_apply_args(rcache__config_t *cfg, int argc, char **argv,
                              char *err, size_t errlen);

/* Whole start-up sequence: defaults, environment, file (from --config or
 * the first positional argument), flags. 0 or -1 with a message. */
int rcache__config_from_argv(rcache__config_t *cfg, int argc, char **argv,
                             char *err, size_t errlen);

/* Parse client-output-buffer-limit's value into cl (classes not named
 * keep their values): one size ("64mb", rcached's older form: the normal
 * class's hard limit) or Redis's "<class> <hard> <soft> <seconds>" groups,
 * class normal|replica|slave|pubsub. 0, or -1 with the reason in why
 * (config_cobl.c; pure). */
int rcache__cobl_parse(const char *text, rcache__cobl_t cl[RCACHE__COBL_CLASSES],
                       char *why, size_t whylen);
/* Redis's CONFIG GET form: "normal <h> <s> <sec> slave ... pubsub ...". */
void rcache__cobl_format(const rcache__cobl_t cl[RCACHE__COBL_CLASSES], char *out,
                         size_t cap);
/* notify-keyspace-events letters to flags (notify_flags.c; pure): -1 for
 * a letter Redis does not know. */
int rcache__notify_flags_parse(const char *text);
/* Flags to Redis's canonical letters (CONFIG GET); out >= 32 bytes. */
void rcache__notify_flags_format(int flags, char *out, size_t cap);

/* One "<seconds> <changes>" rule of the save option. */
typedef struct rcache__save_rule {
    uint64_t seconds, changes;
} rcache__save_rule_t;
#define RCACHE__MAX_SAVE_RULES 16
/* Parse the save option's text ("" or NULL = no rules) into rules; 0, or
 * -1 when it is not pairs of positive integers (at most
 * RCACHE__MAX_SAVE_RULES). */
int rcache__config_parse_save(const char *text, rcache__save_rule_t *rules,
                              size_t *n);

/* "debug"... for a level, and the reverse (-1 if unknown). */
const char *rcache__loglevel_name(int level);
int rcache__loglevel_parse(const char *text);

#endif /* RCACHE_SERVER_CONFIG_H */
