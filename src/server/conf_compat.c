/*
 * conf_compat.c - redis.conf directives that are not rcached options
 * (config.h): so that a stock redis.conf (e.g. Debian's
 * /etc/redis/redis.conf) starts rcached, each is either applied through
 * the rcached option it means, accepted and reported as "ignored: not
 * applicable" (the server logs each name once at start), or refused with
 * a reason when ignoring it would silently change what the operator asked
 * for (appendonly yes, replicaof, rename-command, modules, ACL users, TLS,
 * cluster mode). A name that is neither an rcached option nor listed here
 * is still an unknown directive.
 *
 * Pure: no I/O, no globals written; config.c calls it from the file and
 * command-line parsers only (CONFIG SET is unchanged).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Accepted and ignored, by exact name. */
static const char *const IGNORED[] = {
    "daemonize", "supervised", "protected-mode", "always-show-logo", "set-proc-title",
    "proc-title-template", "stop-writes-on-bgsave-error", "rdbcompression",
    "rdbchecksum", "rdb-del-sync-files", "acllog-max-len", "disable-thp",
    "appendfilename", "appenddirname", "appendfsync", "no-appendfsync-on-rewrite",
    "hll-sparse-max-bytes", "activerehashing",
    "activedefrag", "hz", "dynamic-hz", "rdb-save-incremental-fsync",
    "jemalloc-bg-thread", "maxmemory-samples", "maxmemory-eviction-tenacity",
    "lfu-log-factor", "lfu-decay-time", "io-threads", "io-threads-do-reads",
    "enable-protected-configs", "enable-module-command",
    "shutdown-timeout", "shutdown-on-sigint", "shutdown-on-sigterm",
    "active-expire-effort", "sanitize-dump-payload", "propagation-error-behavior",
    "ignore-warnings", "masterauth", "masteruser", "replica-announced",
    "lua-replicate-commands", "syslog-enabled", "syslog-ident",
    "syslog-facility", "crash-log-enabled", "crash-memcheck-enabled",
    "socket-mark-id", "locale-collate", "oom-score-adj", "oom-score-adj-values",
    "repl-diskless-sync", "maxmemory-clients", "lazyfree-lazy-user-flush"};

/* Accepted and ignored, by prefix (families of replication, AOF, encoding
 * and defragmentation tunables). */
static const char *const IGNORED_PREFIX[] = {
    "replica-", "slave-", "repl-", "lazyfree-", "aof-", "auto-aof-", "hash-max-",
    "list-max-", "list-compress-", "set-max-", "zset-max-", "stream-node-",
    "active-defrag-", "min-replicas-", "min-slaves-", "latency-tracking",
    "cluster-", "tls-"};

/* Directives refused at start: ignoring them would betray the operator. */
static const struct {
    const char *name;
    const char *why;
} REFUSED[] = {
    {"replicaof", "replication is not supported by rcached"},
    {"slaveof", "replication is not supported by rcached"},
    {"rename-command", "rename-command is not supported (restrict access with bind and "
                       "requirepass)"},
    {"loadmodule", "modules are not supported by rcached"},
    {"user", "ACL users are not supported (only requirepass)"},
    {"aclfile", "ACL users are not supported (only requirepass)"},
    {"include", "include is not supported: put the directives in one file"},
};

static int is_no(const char *v) {
    return !strcasecmp(v, "no") || !strcmp(v, "0") || !strcasecmp(v, "false");
}

int rcache__conf_compat(rcache__config_t *cfg, const char *name, const char *value,
                        int is_option, char *err, size_t errlen) {
    if (is_option)
        return RCACHE__COMPAT_UNKNOWN;
    if (!strcasecmp(name, "busy-reply-threshold")) /* Redis 7's lua-time-limit */
        return rcache__config_set(cfg, "lua-time-limit", value, err, errlen) == 0
                   ? RCACHE__COMPAT_APPLIED
                   : -1;
    if (!strcasecmp(name, "databases")) {
        if (strcmp(value, "16") != 0) {
            snprintf(err, errlen, "'databases %.20s': rcached has exactly 16 databases", value);
            return -1;
        }
        return RCACHE__COMPAT_APPLIED;
    }
    if ((!strcasecmp(name, "appendonly") || !strcasecmp(name, "cluster-enabled"))) {
        if (is_no(value))
            return RCACHE__COMPAT_IGNORED;
        snprintf(err, errlen, "'%s %.20s' is not supported by rcached (%s)", name, value,
                 name[0] == 'a' || name[0] == 'A' ? "RDB snapshots only, no AOF"
                                                  : "no cluster mode");
        return -1;
    }
    if (!strcasecmp(name, "tls-port") && strcmp(value, "0") != 0) {
        snprintf(err, errlen, "TLS is not supported by rcached ('tls-port %.20s')", value);
        return -1;
    }
    for (size_t i = 0; i < sizeof REFUSED / sizeof REFUSED[0]; i++)
        if (!strcasecmp(name, REFUSED[i].name)) {
            snprintf(err, errlen, "'%s': %s", REFUSED[i].name, REFUSED[i].why);
            return -1;
        }
    for (size_t i = 0; i < sizeof IGNORED / sizeof IGNORED[0]; i++)
        if (!strcasecmp(name, IGNORED[i]))
            return RCACHE__COMPAT_IGNORED;
    for (size_t i = 0; i < sizeof IGNORED_PREFIX / sizeof IGNORED_PREFIX[0]; i++)
        if (!strncasecmp(name, IGNORED_PREFIX[i], strlen(IGNORED_PREFIX[i])))
            return RCACHE__COMPAT_IGNORED;
    return RCACHE__COMPAT_UNKNOWN;
}

int rcache__conf_note_ignored(rcache__config_t *cfg, const char *name) {
    size_t nl = strlen(name), have = cfg->ignored ? strlen(cfg->ignored) : 0;
    if (nl == 0 || nl > 64)
        return 0;
    if (cfg->ignored) { /* once per name */
        for (const char *p = cfg->ignored; *p;) {
            const char *e = strchr(p, ' ');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l == nl && !strncasecmp(p, name, nl))
                return 0;
            p += l + (e ? 1 : 0);
        }
    }
    char *n = realloc(cfg->ignored, have + nl + 2);
    if (!n)
        return -1;
    if (have)
        n[have++] = ' ';
    for (size_t i = 0; i <= nl; i++)
        n[have + i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    cfg->ignored = n;
    return 0;
}
