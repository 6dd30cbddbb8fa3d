/*
 * config.c - parsing of rcached's options from flags, a redis.conf-style
 * file and the environment into an rcache__config_t.
 *
 * One table describes every option (name, type, field, default, help), so
 * the flag parser, the file parser, the environment overlay, `--help`,
 * CONFIG GET and CONFIG SET all agree on names, types and error messages.
 * The file is pure apart from reading the config file and getenv(): no
 * sockets, no logging, no globals written, so it can be unit-tested and
 * fuzzed (rcache__config_parse_text() takes any bytes).
 */
#include "config.h"

#include "rcache.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_type { T_STR, T_UINT, T_SIZE, T_BOOL, T_LOGLEVEL, T_OCTAL, T_SAVE,
                T_FILENAME, T_INT /* int64_t, -1 .. max */, T_COBL, T_NOTIFY, T_POLICY,
                T_ENGINE /* "epoll" or "uring", kept as a string */ };

typedef struct opt {
    const char *name;
    enum opt_type type;
    size_t off;        /* offset of the field in rcache__config_t */
    uint64_t min, max; /* T_UINT / T_SIZE / T_OCTAL range */
    int runtime;       /* CONFIG SET may change it */
    const char *metavar;
    const char *defval; /* default, as text for --help */
    const char *help;
} opt_t;

#define F(field) offsetof(rcache__config_t, field)
#define U64MAX UINT64_MAX

static const opt_t OPTS[] = {
    {"port", T_UINT, F(port), 0, 65535, 0, "<n>", "6380",
     "TCP port (0 = no TCP listener)"},
    {"bind", T_STR, F(bind), 0, 0, 0, "<addr>", "127.0.0.1",
     "address to listen on (IPv4 or IPv6)"},
    {"unixsocket", T_STR, F(unixsocket), 0, 0, 0, "<path>", "(none)",
     "also listen on this unix socket"},
    {"unixsocketperm", T_OCTAL, F(unixsocketperm), 0, 07777, 0, "<mode>", "0",
     "octal mode of the unix socket (0 = umask)"},
    {"tcp-backlog", T_UINT, F(tcp_backlog), 1, 65535, 0, "<n>", "511",
     "listen() backlog"},
    {"tcp-keepalive", T_UINT, F(tcp_keepalive), 0, 86400, 0, "<s>", "300",
     "TCP keepalive interval in seconds (0 = off)"},
    {"io-engine", T_ENGINE, F(io_engine), 0, 0, 0, "epoll|uring", "epoll",
     "client I/O of the workers: epoll (libevent) or uring (io_uring; epoll is "
     "used, with a log line, where the build or the kernel lacks it)"},
    {"threads", T_UINT, F(threads), 0, 256, 0, "<n>", "0",
     "worker threads (0 = number of cores)"},
    {"maxmemory", T_SIZE, F(maxmemory), 0, U64MAX, 1, "<size>", "512mb",
     "byte limit of the cache, e.g. 512mb, 1g (0 = unbounded)"},
    {"max-items", T_UINT, F(max_items), 0, U64MAX, 1, "<n>", "0",
     "item limit of the cache (0 = unbounded)"},
    {"default-ttl", T_UINT, F(default_ttl_ms), 0, U64MAX / 2, 1, "<ms>", "0",
     "TTL in ms of keys SET without EX/PX (0 = no expiry)"},
    {"shards", T_UINT, F(shards), 0, 1024, 0, "<n>", "0",
     "cache shards (0 = library default)"},
    {"maxmemory-policy", T_POLICY, F(policy), 0, 0, 1, "<name>", "allkeys-lru",
     "eviction policy: lru, s3fifo, sieve, wtinylfu, wtinylfu-fixed, gdsf, or "
     "Redis's allkeys-lru (= lru), allkeys-lfu (= wtinylfu); also "
     "--eviction-policy"},
    {"maxclients", T_UINT, F(maxclients), 1, 1000000, 1, "<n>", "10000",
     "most simultaneous clients"},
    {"timeout", T_UINT, F(timeout_s), 0, 100000000, 1, "<s>", "0",
     "close clients idle this many seconds (0 = never)"},
    {"requirepass", T_STR, F(requirepass), 0, 0, 1, "<password>", "(none)",
     "password clients must AUTH with"},
    {"client-query-buffer-limit", T_SIZE, F(query_buf_limit), 1024, U64MAX, 1,
     "<size>", "1gb", "largest unprocessed input per client"},
    {"proto-max-bulk-len", T_SIZE, F(proto_max_bulk_len), (uint64_t)1 << 20, U64MAX, 1,
     "<size>", "512mb", "longest bulk argument a client may send"},
    {"client-output-buffer-limit", T_COBL, F(cobl), 0, 0, 1,
     "\"<class> <h> <s> <sec>\"",
     "normal 64mb 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60",
     "per class (normal, replica, pubsub) the pending output above which a client "
     "is disconnected at once (hard), or after <s> seconds above soft; 0 = no "
     "limit; one size sets the normal hard limit"},
    {"notify-keyspace-events", T_NOTIFY, F(notify_flags), 0, 0, 1, "<flags>", "\"\"",
     "keyspace notifications, Redis's letters (K E g $ x e n m A ...)"},
    {"lua-time-limit", T_UINT, F(lua_time_limit_ms), 0, U64MAX / 2, 1, "<ms>", "5000",
     "ms after which a running script gets other clients -BUSY (0 = never)"},
    {"slowlog-log-slower-than", T_INT, F(slowlog_slower_than_us), 0, U64MAX / 4, 1, "<us>",
     "10000", "SLOWLOG records commands taking at least this many us (-1 = off)"},
    {"tracking-table-max-keys", T_UINT, F(tracking_max_keys), 0, U64MAX / 2, 1, "<n>",
     "1000000", "keys CLIENT TRACKING remembers; over it, keys are invalidated (0 = no limit)"},
    {"slowlog-max-len", T_UINT, F(slowlog_max_len), 0, 1000000, 1, "<n>", "128",
     "entries SLOWLOG keeps"},
    {"latency-monitor-threshold", T_UINT, F(latency_threshold_ms), 0, U64MAX / 4, 1, "<ms>",
     "0", "LATENCY records commands taking at least this many ms (0 = off)"},
    {"loglevel", T_LOGLEVEL, F(loglevel), 0, 0, 1, "<level>", "notice",
     "debug, verbose, notice or warning"},
    {"logfile", T_STR, F(logfile), 0, 0, 0, "<path>", "(stderr)",
     "append the log to this file instead of stderr"},
    {"admin-bind", T_STR, F(admin_bind), 0, 0, 0, "<addr>", "127.0.0.1",
     "address of the admin HTTP API"},
    {"admin-port", T_UINT, F(admin_port), 0, 65535, 0, "<n>", "6381",
     "port of the admin HTTP API (0 = disabled)"},
    {"admin-token", T_STR, F(admin_token), 0, 0, 0, "<token>", "(generated)",
     "bearer token of the admin API (env RCACHE_ADMIN_TOKEN)"},
    {"admin-token-file", T_STR, F(admin_token_file), 0, 0, 0, "<path>",
     "(admin default)", "where a generated admin token is written"},
    {"metrics-auth", T_BOOL, F(metrics_auth), 0, 1, 0, "yes|no", "no",
     "whether /metrics needs the admin token"},
    {"admin-max-body", T_SIZE, F(admin_max_body), 1, U64MAX, 0, "<size>", "1mb",
     "largest admin request body"},
    {"admin-timeout", T_UINT, F(admin_timeout_s), 1, 86400, 0, "<s>", "10",
     "seconds an admin request (headers and body) may take to arrive"},
    {"admin-max-connections", T_UINT, F(admin_max_conns), 1, 100000, 0, "<n>", "64",
     "admin HTTP connections open at once (503 above)"},
    {"enable-debug-command", T_BOOL, F(enable_debug_command), 0, 1, 0, "yes|no",
     "no", "allow the DEBUG command (tests: clock and expiry control)"},
    /* dir and dbfilename are not settable at run time: CONFIG SET would
     * let any client write a file anywhere (Redis 7 protects them too). */
    {"dir", T_STR, F(dir), 0, 0, 0, "<path>", "(none: persistence off)",
     "directory of the RDB snapshot (loaded at start, written by SAVE)"},
    {"dbfilename", T_FILENAME, F(dbfilename), 0, 0, 0, "<name>", "dump.rdb",
     "file name of the snapshot in dir"},
    {"save", T_SAVE, F(save), 0, 0, 1, "\"<s> <changes> ...\"",
     "3600 1 300 100 60 10000",
     "BGSAVE after <s> seconds and <changes> writes (\"\" = never)"},
    {"snapshot-on-shutdown", T_BOOL, F(snapshot_on_shutdown), 0, 1, 1, "yes|no",
     "yes", "save the snapshot on SIGTERM/SHUTDOWN (needs dir)"},
    {"pidfile", T_STR, F(pidfile), 0, 0, 0, "<path>", "(none)",
     "write the process id to this file at start (removed at exit)"},
    /* The Redis/Valkey second tier (librcache-redis; docs/SERVER.md). */
    {"l2", T_STR, F(l2), 0, 0, 0, "<url>", "(none)",
     "share results through this Redis/Valkey (redis://[user:pass@]host:port[/db] or unix://path)"},
    {"l2-prefix", T_STR, F(l2_prefix), 0, 0, 0, "<prefix>", "rc:",
     "prefix of this cache's keys in the L2"},
    {"l2-max-ttl", T_UINT, F(l2_max_ttl_ms), 0, U64MAX / 4, 0, "<ms>", "600000",
     "longest time a value read from the L2 stays in this node (0 = default)"},
    {"l2-fail-closed", T_BOOL, F(l2_fail_closed), 0, 1, 0, "yes|no", "no",
     "answer errors instead of serving locally while the L2 is unreachable"},
    {"snapshot-required", T_BOOL, F(snapshot_required), 0, 1, 0, "yes|no", "no",
     "refuse to start when the snapshot cannot be loaded"},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Printable, shortened copy of untrusted text for messages. */
static const char *shown(const char *s, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; s[i] && o + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (s[0] && o + 4 >= cap && strlen(s) > o) {
        buf[o++] = '.';
        buf[o++] = '.';
        buf[o++] = '.';
    }
    buf[o] = '\0';
    return buf;
}

/* maxmemory-policy: our policy names and Redis's allkeys-* ones that map
 * to a policy (docs/SERVER.md). Redis's volatile-*, allkeys-random and
 * noeviction have no equivalent: rcached evicts any key, by the policy. */
int rcache__config_parse_policy(const char *t, int *out) {
    if (!strcasecmp(t, "allkeys-lru")) {
        *out = RCACHE_POLICY_LRU;
        return 0;
    }
    if (!strcasecmp(t, "allkeys-lfu")) {
        *out = RCACHE_POLICY_WTINYLFU;
        return 0;
    }
    return rcache_policy_parse(t, out) == RCACHE_OK ? 0 : -1;
}

const char *rcache__config_policy_name(int policy) {
    if (policy == RCACHE_POLICY_LRU)
        return "allkeys-lru";
    if (policy == RCACHE_POLICY_WTINYLFU)
        return "allkeys-lfu";
    const char *n = rcache_policy_name(policy);
    return n ? n : "?";
}

static const opt_t *find_opt(const char *name) {
    char norm[64];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof norm)
        return NULL;
    for (size_t i = 0; i <= n; i++) {
        char ch = rcache__lower_ascii(name[i]);
        norm[i] = ch == '_' ? '-' : ch;
    }
    if (strcmp(norm, "eviction-policy") == 0) /* our name for it */
        snprintf(norm, sizeof norm, "maxmemory-policy");
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(OPTS[i].name, norm) == 0)
            return &OPTS[i];
    return NULL;
}

const char *rcache__loglevel_name(int level) {
    switch (level) {
    case RCACHE__LOG_DEBUG: return "debug";
    case RCACHE__LOG_VERBOSE: return "verbose";
    case RCACHE__LOG_NOTICE: return "notice";
    case RCACHE__LOG_WARNING: return "warning";
    default: return "unknown";
    }
}

int rcache__loglevel_parse(const char *t) {
    static const char *names[] = {"debug", "verbose", "notice", "warning"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(t, names[i]) == 0)
            return i;
    return -1;
}

static int parse_octal(const char *t, uint64_t *out) {
    uint64_t v = 0;
    if (!*t)
        return -1;
    for (; *t; t++) {
        if (*t < '0' || *t > '7' || v > 07777)
            return -1;
        v = v * 8 + (uint64_t)(*t - '0');
    }
    *out = v;
    return 0;
}

static int parse_bool(const char *t, int *out) {
    if (!strcasecmp(t, "yes") || !strcasecmp(t, "true") || !strcmp(t, "1") ||
        !strcasecmp(t, "on")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(t, "no") || !strcasecmp(t, "false") || !strcmp(t, "0") ||
        !strcasecmp(t, "off")) {
        *out = 0;
        return 0;
    }
    return -1;
}

int rcache__config_parse_save(const char *text, rcache__save_rule_t *rules,
                              size_t *n) {
    const char *p = text ? text : "";
    *n = 0;
    for (;;) {
        uint64_t v[2];
        for (int k = 0; k < 2; k++) {
            const char *start;
            while (*p == ' ' || *p == '\t')
                p++;
            if (!*p && k == 0)
                return 0;
            start = p;
            while (*p && *p != ' ' && *p != '\t')
                p++;
            if (rcache__parse_u64(start, (size_t)(p - start), &v[k]) != 0 ||
                (k == 0 && v[k] == 0) || v[k] > (1ull << 40))
                return -1;
        }
        if (*n == RCACHE__MAX_SAVE_RULES)
            return -1;
        rules[*n].seconds = v[0];
        rules[*n].changes = v[1];
        (*n)++;
    }
}

static int set_opt(rcache__config_t *cfg, const opt_t *o, const char *value,
                   char *err, size_t errlen) {
    char vb[80];
    if (!o || !value)
        return fail(err, errlen, "missing value");
    char *field = (char *)cfg + o->off;
    uint64_t u = 0;
    switch (o->type) {
    case T_SAVE: {
        rcache__save_rule_t rules[RCACHE__MAX_SAVE_RULES];
        size_t n;
        if (rcache__config_parse_save(value, rules, &n) != 0)
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (expected \"<seconds> "
                        "<changes> ...\", seconds >= 1, or \"\")",
                        o->name, shown(value, vb, sizeof vb));
        goto str;
    }
    case T_ENGINE:
        if (strcmp(value, "epoll") != 0 && strcmp(value, "uring") != 0)
            return fail(err, errlen, "invalid value for '%s': '%s' (expected epoll or uring)",
                        o->name, shown(value, vb, sizeof vb));
        goto str;
    case T_FILENAME:
        if (!value[0] || strchr(value, '/') || !strcmp(value, ".") ||
            !strcmp(value, ".."))
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (a file name, not a "
                        "path)",
                        o->name, shown(value, vb, sizeof vb));
        goto str;
    str:
    case T_STR: {
        char **sp = (char **)(void *)field;
        char *dup = NULL;
        if (value[0]) {
            dup = strdup(value);
            if (!dup)
                return fail(err, errlen, "out of memory");
        }
        free(*sp);
        *sp = dup;
        return 0;
    }
    case T_UINT:
        if (rcache__parse_u64(value, strlen(value), &u) != 0 || u < o->min || u > o->max)
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (expected an integer "
                        "%llu..%llu)",
                        o->name, shown(value, vb, sizeof vb),
                        (unsigned long long)o->min, (unsigned long long)o->max);
        *(uint64_t *)(void *)field = u;
        return 0;
    case T_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!value[0] || *end || errno || v < -1 || (uint64_t)(v < 0 ? 0 : v) > o->max)
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (expected an integer -1..%llu)",
                        o->name, shown(value, vb, sizeof vb), (unsigned long long)o->max);
        *(int64_t *)(void *)field = v;
        return 0;
    }
    case T_SIZE:
        if (rcache_parse_size(value, &u) != RCACHE_OK || u < o->min ||
            u > o->max)
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (expected a size such "
                        "as 1048576, 64kb, 512mb, 1g%s)",
                        o->name, shown(value, vb, sizeof vb),
                        o->min ? ", at least 1024" : "");
        *(uint64_t *)(void *)field = u;
        return 0;
    case T_OCTAL:
        if (parse_octal(value, &u) != 0 || u > o->max)
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (expected an octal mode "
                        "such as 700)",
                        o->name, shown(value, vb, sizeof vb));
        *(uint64_t *)(void *)field = u;
        return 0;
    case T_BOOL: {
        int b;
        if (parse_bool(value, &b) != 0)
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (expected yes or no)",
                        o->name, shown(value, vb, sizeof vb));
        *(int *)(void *)field = b;
        return 0;
    }
    case T_COBL: {
        rcache__cobl_t cl[RCACHE__COBL_CLASSES];
        char why[96];
        memcpy(cl, field, sizeof cl);
        if (rcache__cobl_parse(value, cl, why, sizeof why) != 0)
            return fail(err, errlen, "invalid value for '%s': '%s' (%s)", o->name,
                        shown(value, vb, sizeof vb), why);
        memcpy(field, cl, sizeof cl);
        return 0;
    }
    case T_NOTIFY: {
        int fl = rcache__notify_flags_parse(value);
        if (fl < 0)
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (Invalid event class character. "
                        "Use 'Ag$lshzxeKEtmdn'.)",
                        o->name, shown(value, vb, sizeof vb));
        *(int *)(void *)field = fl;
        return 0;
    }
    case T_POLICY: {
        int pol;
        if (rcache__config_parse_policy(value, &pol) != 0) {
            int redis = !strncasecmp(value, "volatile-", 9) ||
                        !strcasecmp(value, "noeviction") ||
                        !strcasecmp(value, "allkeys-random");
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (%sexpected lru, s3fifo, "
                        "sieve, wtinylfu, wtinylfu-fixed, gdsf, allkeys-lru or "
                        "allkeys-lfu)",
                        o->name, shown(value, vb, sizeof vb),
                        redis ? "rcached evicts any key by its policy: "
                                "volatile-*, allkeys-random and noeviction are "
                                "not supported; "
                              : "");
        }
        *(int *)(void *)field = pol;
        return 0;
    }
    case T_LOGLEVEL: {
        int l = rcache__loglevel_parse(value);
        if (l < 0)
            return fail(err, errlen,
                        "invalid value for '%s': '%s' (expected debug, "
                        "verbose, notice or warning)",
                        o->name, shown(value, vb, sizeof vb));
        *(int *)(void *)field = l;
        return 0;
    }
    }
    return fail(err, errlen, "internal error");
}

void rcache__config_defaults(rcache__config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 6380;
    cfg->bind = strdup("127.0.0.1");
    cfg->tcp_backlog = 511;
    cfg->tcp_keepalive = 300;
    cfg->maxmemory = 512ull * 1024 * 1024;
    cfg->maxclients = 10000;
    cfg->query_buf_limit = 1024ull * 1024 * 1024; /* Redis 7.0 */
    cfg->admin_max_conns = 64;
    cfg->proto_max_bulk_len = 512ull * 1024 * 1024;
    cfg->cobl[RCACHE__COBL_NORMAL].hard_bytes = 64ull * 1024 * 1024;
    cfg->cobl[RCACHE__COBL_REPLICA] = (rcache__cobl_t){256ull << 20, 64ull << 20, 60};
    cfg->cobl[RCACHE__COBL_PUBSUB] = (rcache__cobl_t){32ull << 20, 8ull << 20, 60};
    cfg->lua_time_limit_ms = 5000;
    cfg->slowlog_slower_than_us = 10000;
    cfg->slowlog_max_len = 128;
    cfg->tracking_max_keys = 1000000;
    cfg->loglevel = RCACHE__LOG_NOTICE;
    cfg->admin_bind = strdup("127.0.0.1");
    cfg->admin_port = 6381;
    cfg->admin_max_body = (uint64_t)1024 * 1024;
    cfg->admin_timeout_s = 10;
    cfg->dbfilename = strdup("dump.rdb");
    cfg->save = strdup("3600 1 300 100 60 10000");
    cfg->snapshot_on_shutdown = 1;
    cfg->l2_max_ttl_ms = 600000; /* librcache-redis's default, shown as such */
}

/* The string fields a config owns. */
static const size_t STR_OFFS[] = {
    F(bind),        F(unixsocket),  F(requirepass),      F(logfile),
    F(admin_bind),  F(admin_token), F(admin_token_file), F(config_file),
    F(dir),         F(dbfilename),  F(save),            F(pidfile),
    F(ignored),     F(l2),          F(l2_prefix),       F(io_engine)};
#define NSTR (sizeof STR_OFFS / sizeof STR_OFFS[0])

static char **str_field(rcache__config_t *cfg, size_t i) {
    return (char **)(void *)((char *)cfg + STR_OFFS[i]);
}

void rcache__config_free(rcache__config_t *cfg) {
    for (size_t i = 0; i < NSTR; i++) {
        free(*str_field(cfg, i));
        *str_field(cfg, i) = NULL;
    }
}

int rcache__config_copy(rcache__config_t *dst, const rcache__config_t *src) {
    int rc = 0;
    *dst = *src;
    for (size_t i = 0; i < NSTR; i++) {
        char **sp = str_field(dst, i);
        if (*sp && !(*sp = strdup(*sp)))
            rc = -1;
    }
    return rc;
}

/* Move one option's value from next to live; 1 if it differed. */
static int take_field(rcache__config_t *live, rcache__config_t *next, size_t off,
                      enum opt_type type) {
    char *lf = (char *)live + off, *nf = (char *)next + off;
    switch (type) {
    case T_SAVE:
    case T_ENGINE:
    case T_FILENAME:
    case T_STR: {
        char **lp = (char **)(void *)lf, **np = (char **)(void *)nf;
        int same = (!*lp && !*np) || (*lp && *np && !strcmp(*lp, *np));
        if (same)
            return 0;
        char *t = *lp; /* swap: next keeps the old string to free */
        *lp = *np;
        *np = t;
        return 1;
    }
    case T_COBL: {
        size_t sz = sizeof(rcache__cobl_t) * RCACHE__COBL_CLASSES;
        if (memcmp(lf, nf, sz) == 0)
            return 0;
        memcpy(lf, nf, sz);
        return 1;
    }
    case T_NOTIFY:
    case T_BOOL:
    case T_POLICY:
    case T_LOGLEVEL: {
        int *li = (int *)(void *)lf, *ni = (int *)(void *)nf;
        if (*li == *ni)
            return 0;
        *li = *ni;
        return 1;
    }
    case T_INT:
    case T_UINT:
    case T_SIZE:
    case T_OCTAL: {
        uint64_t *lu = (uint64_t *)(void *)lf, *nu = (uint64_t *)(void *)nf;
        if (*lu == *nu)
            return 0;
        *lu = *nu;
        return 1;
    }
    }
    return 0;
}

size_t rcache__config_take_runtime(rcache__config_t *live, rcache__config_t *next) {
    size_t changed = 0;
    for (size_t i = 0; i < NOPTS; i++)
        if (OPTS[i].runtime)
            changed += (size_t)take_field(live, next, OPTS[i].off, OPTS[i].type);
    changed += (size_t)take_field(live, next, F(disabled), T_BOOL);
    return changed;
}

int rcache__config_set(rcache__config_t *cfg, const char *name,
                       const char *value, char *err, size_t errlen) {
    char nb[80];
    const opt_t *o = find_opt(name);
    if (!o)
        return fail(err, errlen, "unknown option '%s'",
                    shown(name, nb, sizeof nb));
    return set_opt(cfg, o, value, err, errlen);
}

int rcache__config_get(const rcache__config_t *cfg, const char *name,
                       char *out, size_t cap) {
    const opt_t *o = find_opt(name);
    if (!o)
        return -1;
    const char *field = (const char *)cfg + o->off;
    switch (o->type) {
    case T_ENGINE: { /* NULL: the default engine, shown by name */
        const char *s = *(char *const *)(const void *)field;
        snprintf(out, cap, "%s", s ? s : "epoll");
        break;
    }
    case T_SAVE:
    case T_FILENAME:
    case T_STR: {
        const char *s = *(char *const *)(const void *)field;
        snprintf(out, cap, "%s", s ? s : "");
        break;
    }
    case T_UINT:
    case T_SIZE:
        snprintf(out, cap, "%llu",
                 (unsigned long long)*(const uint64_t *)(const void *)field);
        break;
    case T_INT:
        snprintf(out, cap, "%lld", (long long)*(const int64_t *)(const void *)field);
        break;
    case T_OCTAL:
        snprintf(out, cap, "%llo",
                 (unsigned long long)*(const uint64_t *)(const void *)field);
        break;
    case T_BOOL:
        snprintf(out, cap, "%s", *(const int *)(const void *)field ? "yes" : "no");
        break;
    case T_COBL:
        rcache__cobl_format((const rcache__cobl_t *)(const void *)field, out, cap);
        break;
    case T_NOTIFY:
        rcache__notify_flags_format(*(const int *)(const void *)field, out, cap);
        break;
    case T_LOGLEVEL:
        snprintf(out, cap, "%s",
                 rcache__loglevel_name(*(const int *)(const void *)field));
        break;
    case T_POLICY:
        snprintf(out, cap, "%s",
                 rcache__config_policy_name(*(const int *)(const void *)field));
        break;
    }
    return 0;
}

size_t rcache__config_count(void) { return NOPTS; }
const char *rcache__config_name(size_t i) { return i < NOPTS ? OPTS[i].name : NULL; }
const char *rcache__config_help_text(size_t i) { return i < NOPTS ? OPTS[i].help : NULL; }
const char *rcache__config_default_text(size_t i) { return i < NOPTS ? OPTS[i].defval : NULL; }
const char *rcache__config_metavar(size_t i) { return i < NOPTS ? OPTS[i].metavar : NULL; }

int rcache__config_runtime(const char *name) {
    const opt_t *o = find_opt(name);
    return o ? o->runtime : 0;
}

/* ---- redis.conf-style text ------------------------------------------ */

static int is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Unquote value[0..len) into out (cap >= len + 1). -1 if a quote is not
 * closed or text follows the closing quote. */
static int unquote(const char *v, size_t len, char *out) {
    size_t o = 0;
    if (len >= 1 && (v[0] == '"' || v[0] == '\'')) {
        char q = v[0];
        size_t i = 1;
        for (; i < len && v[i] != q; i++) {
            if (q == '"' && v[i] == '\\' && i + 1 < len) {
                char e = v[++i];
                out[o++] = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
            } else {
                out[o++] = v[i];
            }
        }
        if (i >= len || i + 1 != len)
            return -1;
    } else {
        memcpy(out, v, len);
        o = len;
    }
    out[o] = '\0';
    return 0;
}

/* A redis.conf directive that is not ours (conf_compat.c): noted when
 * ignored. RCACHE__COMPAT_* or -1 with err set. */
static int compat(rcache__config_t *cfg, const char *name, const char *value, char *err,
                  size_t errlen) {
    int cr = rcache__conf_compat(cfg, name, value, find_opt(name) != NULL, err, errlen);
    if (cr == RCACHE__COMPAT_IGNORED && rcache__conf_note_ignored(cfg, name) != 0)
        return fail(err, errlen, "out of memory");
    return cr;
}

/* A further `save` line: its rules join those before. */
static int append_save(rcache__config_t *cfg, const char *value, char *err, size_t errlen) {
    size_t n = strlen(cfg->save) + strlen(value) + 2;
    char *joined = malloc(n);
    if (!joined)
        return fail(err, errlen, "out of memory");
    snprintf(joined, n, "%s %s", cfg->save, value);
    int rc = rcache__config_set(cfg, "save", joined, err, errlen);
    free(joined);
    return rc;
}

int rcache__config_parse_text(rcache__config_t *cfg, const char *text,
                              size_t len, const char *origin, char *err,
                              size_t errlen) {
    size_t pos = 0;
    int line = 0, saves = 0;
    char *buf = NULL;
    size_t bufcap = 0;
    int rc = 0;
    char nb[80];
    if (!origin)
        origin = "config";
    while (pos < len && rc == 0) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        line++;
        size_t s = pos, e = end;
        pos = end + 1;
        while (s < e && is_space(text[s]))
            s++;
        while (e > s && is_space(text[e - 1]))
            e--;
        if (s == e || text[s] == '#')
            continue;
        if (memchr(text + s, '\0', e - s)) {
            rc = fail(err, errlen, "%s line %d: NUL byte in line", origin, line);
            break;
        }
        size_t ne = s;
        while (ne < e && !is_space(text[ne]))
            ne++;
        size_t vs = ne;
        while (vs < e && is_space(text[vs]))
            vs++;
        size_t need = (e - s) + 2;
        if (need > bufcap) {
            char *nbuf = realloc(buf, need);
            if (!nbuf) {
                rc = fail(err, errlen, "out of memory");
                break;
            }
            buf = nbuf;
            bufcap = need;
        }
        char *name = buf;
        memcpy(name, text + s, ne - s);
        name[ne - s] = '\0';
        char *value = name + (ne - s) + 1;
        if (unquote(text + vs, e - vs, value) != 0) {
            rc = fail(err, errlen, "%s line %d: unbalanced quotes in value of '%s'",
                      origin, line, shown(name, nb, sizeof nb));
            break;
        }
        if (!strcasecmp(name, "config")) {
            rc = fail(err, errlen, "%s line %d: 'config' is only a command-line option",
                      origin, line);
            break;
        }
        char sub[512];
        int cr = compat(cfg, name, value, sub, sizeof sub);
        if (cr < 0) {
            rc = fail(err, errlen, "%s line %d: %s", origin, line, sub);
            break;
        }
        if (cr != RCACHE__COMPAT_UNKNOWN)
            continue;
        if (vs == e && !find_opt(name)) {
            rc = fail(err, errlen, "%s line %d: unknown option '%s'", origin, line,
                      shown(name, nb, sizeof nb));
            break;
        }
        /* Several `save` lines add up, as in Redis ("" clears them). */
        int more_save = !strcasecmp(name, "save") && saves++ && value[0] && cfg->save;
        int bad = more_save ? append_save(cfg, value, sub, sizeof sub) != 0
                            : rcache__config_set(cfg, name, value, sub, sizeof sub) != 0;
        if (bad)
            rc = fail(err, errlen, "%s line %d: %s", origin, line, sub);
    }
    free(buf);
    return rc;
}

int rcache__config_load_file(rcache__config_t *cfg, const char *path,
                             char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, "cannot open config file '%s': %s", path,
                    strerror(errno));
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            if (ncap > (64u << 20)) {
                fclose(f);
                free(data);
                return fail(err, errlen, "config file '%s' is too large", path);
            }
            char *nd = realloc(data, ncap);
            if (!nd) {
                fclose(f);
                free(data);
                return fail(err, errlen, "out of memory");
            }
            data = nd;
            cap = ncap;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(data);
        return fail(err, errlen, "cannot read config file '%s'", path);
    }
    char origin[300];
    snprintf(origin, sizeof origin, "config file '%s'", path);
    int rc = rcache__config_parse_text(cfg, data, len, origin, err, errlen);
    free(data);
    return rc;
}

/* ---- environment ------------------------------------------------------ */

int rcache__config_apply_env(rcache__config_t *cfg, char *err, size_t errlen) {
    rcache_config_t lc;
    char lerr[256] = "";
    rcache_config_init(&lc);
    lc.max_items = cfg->max_items;
    lc.max_bytes = cfg->maxmemory;
    lc.default_ttl_ms = cfg->default_ttl_ms;
    lc.shards = (uint32_t)cfg->shards;
    lc.disabled = cfg->disabled;
    if (rcache_config_from_env(&lc, lerr, sizeof lerr) != RCACHE_OK)
        return fail(err, errlen, "environment: %s", lerr[0] ? lerr : "invalid value");
    cfg->max_items = lc.max_items;
    cfg->maxmemory = lc.max_bytes;
    cfg->default_ttl_ms = lc.default_ttl_ms;
    cfg->shards = lc.shards;
    cfg->disabled = lc.disabled;

    const char *tok = getenv("RCACHE_ADMIN_TOKEN");
    if (tok && tok[0] && set_opt(cfg, find_opt("admin-token"), tok, err, errlen))
        return -1;
    for (size_t i = 0; i < NOPTS; i++) {
        char var[80] = "RCACHED_";
        size_t o = strlen(var);
        for (const char *p = OPTS[i].name; *p && o + 1 < sizeof var; p++)
            var[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        var[o] = '\0';
        const char *v = getenv(var);
        if (!v)
            continue;
        char sub[400];
        if (set_opt(cfg, &OPTS[i], v, sub, sizeof sub) != 0)
            return fail(err, errlen, "environment %s: %s", var, sub);
    }
    return 0;
}

/* ---- command line ------------------------------------------------------ */

/* value and the following argv words that are not --options, joined by
 * spaces (malloc'd; *i moves past them). NULL when out of memory. */
static char *join_words(int argc, char **argv, int *i, const char *value) {
    size_t n = strlen(value) + 1;
    int j = *i + 1;
    for (; j < argc && argv[j] && strncmp(argv[j], "--", 2) != 0; j++)
        n += strlen(argv[j]) + 1;
    char *out = malloc(n);
    if (!out)
        return NULL;
    size_t o = (size_t)snprintf(out, n, "%s", value);
    for (int k = *i + 1; k < j; k++)
        o += (size_t)snprintf(out + o, n - o, " %s", argv[k]);
    *i = j - 1;
    return out;
}

/* One --name value from the command line. */
static int apply_arg(rcache__config_t *cfg, const char *name, const char *value, char *err,
                     size_t errlen) {
    char nb[80];
    int cr = compat(cfg, name, value, err, errlen);
    if (cr < 0)
        return -1;
    if (cr != RCACHE__COMPAT_UNKNOWN)
        return 0;
    if (!find_opt(name))
        return fail(err, errlen, "unknown option '--%s'", shown(name, nb, sizeof nb));
    return rcache__config_set(cfg, name, value, err, errlen);
}

int rcache__config_apply_args(rcache__config_t *cfg, int argc, char **argv,
                              char *err, size_t errlen) {
    char nb[80];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!a)
            break;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cfg->show_help = 1;
            continue;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--version")) {
            cfg->show_version = 1;
            continue;
        }
        if (a[0] != '-') {
            if (i == 1) /* config file, redis-server style */
                continue;
            return fail(err, errlen, "unexpected argument '%s'", shown(a, nb, sizeof nb));
        }
        if (a[1] != '-' || a[2] == '\0')
            return fail(err, errlen, "unknown option '%s' (options are --name value)",
                        shown(a, nb, sizeof nb));
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        char namebuf[80];
        const char *value;
        if (eq) {
            size_t nl = (size_t)(eq - name);
            if (nl >= sizeof namebuf)
                return fail(err, errlen, "unknown option '--%s'", shown(name, nb, sizeof nb));
            memcpy(namebuf, name, nl);
            namebuf[nl] = '\0';
            name = namebuf;
            value = eq + 1;
        } else {
            if (i + 1 >= argc) {
                if (!strcasecmp(name, "config") || find_opt(name))
                    return fail(err, errlen, "option '--%s' needs a value",
                                shown(name, nb, sizeof nb));
                return fail(err, errlen, "unknown option '--%s'", shown(name, nb, sizeof nb));
            }
            value = argv[++i];
            if (!value)
                return fail(err, errlen, "option '--%s' needs a value", shown(name, nb, sizeof nb));
        }
        if (!strcasecmp(name, "config"))
            continue; /* handled by rcache__config_from_argv() */
        /* redis-server style: the words up to the next --option form the
         * value (--save 900 1 300 10, --bind 127.0.0.1 ::1). */
        char *joined = NULL;
        if (!eq && (joined = join_words(argc, argv, &i, value)) == NULL)
            return fail(err, errlen, "out of memory");
        int rc = apply_arg(cfg, name, joined ? joined : value, err, errlen);
        free(joined);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The config file named on the command line, or NULL. */
static const char *config_file_arg(int argc, char **argv) {
    const char *file = NULL;
    if (argc > 1 && argv[1][0] != '-')
        file = argv[1];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[++i];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    return file;
}

int rcache__config_from_argv(rcache__config_t *cfg, int argc, char **argv,
                             char *err, size_t errlen) {
    rcache__config_defaults(cfg);
    if (!cfg->bind || !cfg->admin_bind)
        return fail(err, errlen, "out of memory");
    /* A flag error is reported before environment or file problems, and
     * --help works whatever the environment holds. */
    rcache__config_t probe;
    rcache__config_defaults(&probe);
    int prc = rcache__config_apply_args(&probe, argc, argv, err, errlen);
    int help = probe.show_help || probe.show_version;
    cfg->show_help = probe.show_help;
    cfg->show_version = probe.show_version;
    rcache__config_free(&probe);
    if (prc != 0)
        return -1;
    if (help)
        return 0;
    if (rcache__config_apply_env(cfg, err, errlen) != 0)
        return -1;
    const char *file = config_file_arg(argc, argv);
    if (file) {
        free(cfg->config_file);
        cfg->config_file = strdup(file);
        if (rcache__config_load_file(cfg, file, err, errlen) != 0)
            return -1;
    }
    return rcache__config_apply_args(cfg, argc, argv, err, errlen);
}
