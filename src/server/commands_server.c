/*
 * commands_server.c - server commands: INFO (Redis's section and field
 * names, so dashboards and client libraries read it unchanged), CONFIG
 * GET/SET/RESETSTAT, TIME, LASTSAVE and SHUTDOWN.
 *
 * CONFIG SET validates every pair with config.c's parser on a copy of the
 * live settings and only then swaps the copy in and applies the changes
 * (cache limits, default TTL, client limits, log level), so a bad value
 * changes nothing.
 */
#include "commands_admin.h"
#include "db.h"
#include "keyargs.h"
#include "node.h"
#include "persist.h"
#include "pubsub.h"
#include "tracking.h"
#include "version.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>


static void addf(struct evbuffer *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void addf(struct evbuffer *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(b, fmt, ap);
    va_end(ap);
}

static int want(const char *sections, const char *name, int is_default) {
    if (!sections[0])
        return is_default;
    if (strstr(sections, " all ") || strstr(sections, " everything "))
        return 1;
    if (is_default && strstr(sections, " default "))
        return 1;
    char key[40];
    snprintf(key, sizeof key, " %s ", name);
    return strstr(sections, key) != NULL;
}

static void info_commandstats_cb(rcache__server_t *s, struct evbuffer *b) {
    size_t n;
    const rcache__cmd_t *t = rcache__command_table(&n);
    for (size_t i = 0; i < n; i++) {
        uint64_t calls = rcache__server_calls(s, t[i].id);
        if (calls)
            addf(b, "cmdstat_%s:calls=%llu,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0\r\n",
                 t[i].name, (unsigned long long)calls);
    }
}

void rcache__cmd_info(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache__server_t *s = c->srv;
    char sections[512] = "";
    size_t so = 0;
    for (size_t i = 1; i < argc; i++) {
        if (argv[i].len + 3 >= sizeof sections - so)
            break;
        sections[so++] = ' ';
        rcache__lower_copy(sections + so, argv[i].ptr, argv[i].len);
        so += argv[i].len;
        sections[so++] = ' ';
        sections[so] = '\0';
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
        return;
    }
    rcache_stats_t st;
    rcache_stats(s->cache, &st);
    uint64_t now_ms = rcache__wall_ms();
    uint64_t up = (now_ms - s->start_ms) / 1000;
    char h1[32], h2[32], h3[32], h4[32];
    int first = 1;
#define SECTION(title) \
    do { \
        if (!first) \
            evbuffer_add(b, "\r\n", 2); \
        first = 0; \
        addf(b, "# %s\r\n", title); \
    } while (0)

    if (want(sections, "server", 1)) {
        struct utsname un;
        uname(&un);
        SECTION("Server");
        addf(b, "redis_version:%s\r\n", RCACHE__REDIS_COMPAT_VERSION);
        addf(b, "rcache_version:%s\r\n", RCACHED_VERSION);
        addf(b, "redis_mode:standalone\r\n");
        addf(b, "os:%s %s %s\r\n", un.sysname, un.release, un.machine);
        addf(b, "arch_bits:%d\r\n", (int)(sizeof(void *) * 8));
        addf(b, "multiplexing_api:%s\r\n", rcache__client_event_method(c));
        addf(b, "process_id:%d\r\n", (int)getpid());
        addf(b, "run_id:%s\r\n", s->run_id);
        addf(b, "tcp_port:%d\r\n", s->tcp_port);
        addf(b, "server_time_usec:%llu\r\n", (unsigned long long)now_ms * 1000);
        addf(b, "uptime_in_seconds:%llu\r\n", (unsigned long long)up);
        addf(b, "uptime_in_days:%llu\r\n", (unsigned long long)(up / 86400));
        addf(b, "hz:10\r\n");
        addf(b, "io_threads_active:%d\r\n", s->nworkers > 1);
        addf(b, "threads:%d\r\n", s->nworkers);
        pthread_mutex_lock(&s->cfg_lock);
        addf(b, "config_file:%s\r\n", s->cfg.config_file ? s->cfg.config_file : "");
        pthread_mutex_unlock(&s->cfg_lock);
        rcache__info_server_extra(s, b);
    }
    if (want(sections, "clients", 1)) {
        SECTION("Clients");
        addf(b, "connected_clients:%llu\r\n",
             (unsigned long long)atomic_load(&s->connected_clients));
        addf(b, "maxclients:%llu\r\n", (unsigned long long)atomic_load(&s->maxclients));
        rcache__tracking_sizes_t ts;
        rcache__tracking_sizes(&ts);
        addf(b, "blocked_clients:0\r\ntracking_clients:%zu\r\n", ts.clients);
        rcache__info_clients_extra(s, b);
    }
    if (want(sections, "memory", 1)) {
        uint64_t rss = rcache__rss_bytes();
        SECTION("Memory");
        rcache__bytes_human(h1, sizeof h1, st.bytes);
        rcache__bytes_human(h2, sizeof h2, rss);
        rcache__bytes_human(h3, sizeof h3, st.peak_bytes);
        rcache__bytes_human(h4, sizeof h4, st.max_bytes);
        addf(b, "used_memory:%llu\r\n", (unsigned long long)st.bytes);
        addf(b, "used_memory_human:%s\r\n", h1);
        addf(b, "used_memory_rss:%llu\r\n", (unsigned long long)rss);
        addf(b, "used_memory_rss_human:%s\r\n", h2);
        addf(b, "used_memory_peak:%llu\r\n", (unsigned long long)st.peak_bytes);
        addf(b, "used_memory_peak_human:%s\r\n", h3);
        addf(b, "maxmemory:%llu\r\n", (unsigned long long)st.max_bytes);
        addf(b, "maxmemory_human:%s\r\n", h4);
        addf(b, "maxmemory_policy:%s\r\n",
             rcache__config_policy_name(rcache_get_policy(s->cache)));
        addf(b, "eviction_policy:%s\r\n",
             rcache_policy_name(rcache_get_policy(s->cache)));
        addf(b, "max_items:%llu\r\n", (unsigned long long)st.max_items);
        addf(b, "default_ttl_ms:%llu\r\n", (unsigned long long)st.default_ttl_ms);
        addf(b, "memory_utilization:%.4f\r\n", st.memory_utilization);
        addf(b, "mem_allocator:libc\r\n");
        addf(b, "mem_zero_copy_refs:%llu\r\n",
             (unsigned long long)atomic_load(&s->out_ref_bytes));
        addf(b, "zero_copy_refs:%llu\r\n", (unsigned long long)atomic_load(&s->out_refs));
    }
    if (want(sections, "persistence", 1)) {
        char pinfo[2048];
        SECTION("Persistence");
        rcache__persist_info(s, pinfo, sizeof pinfo);
        addf(b, "%s", pinfo);
    }
    if (want(sections, "stats", 1)) {
        SECTION("Stats");
        addf(b, "total_connections_received:%llu\r\n",
             (unsigned long long)atomic_load(&s->total_connections));
        addf(b, "total_commands_processed:%llu\r\n",
             (unsigned long long)rcache__server_commands(s));
        addf(b, "instantaneous_ops_per_sec:%llu\r\n",
             (unsigned long long)atomic_load(&s->ops_per_sec));
        addf(b, "rejected_connections:%llu\r\n",
             (unsigned long long)atomic_load(&s->rejected_connections));
        addf(b, "expired_keys:%llu\r\n", (unsigned long long)st.expirations);
        addf(b, "evicted_keys:%llu\r\n", (unsigned long long)st.evictions);
        addf(b, "evicted_keys_items:%llu\r\n", (unsigned long long)st.evictions_items);
        addf(b, "evicted_keys_bytes:%llu\r\n", (unsigned long long)st.evictions_bytes);
        addf(b, "keyspace_hits:%llu\r\n", (unsigned long long)st.hits);
        addf(b, "keyspace_misses:%llu\r\n", (unsigned long long)st.misses);
        size_t pch, ppat;
        rcache__pubsub_sizes(&pch, &ppat);
        addf(b, "pubsub_channels:%zu\r\npubsub_patterns:%zu\r\npubsub_shardchannels:0\r\n",
             pch, ppat);
        rcache__tracking_sizes_t ts;
        rcache__tracking_sizes(&ts);
        addf(b, "tracking_total_keys:%zu\r\ntracking_total_items:%zu\r\n"
                "tracking_total_prefixes:%zu\r\n", ts.keys, ts.items, ts.prefixes);
        addf(b, "keyspace_hit_ratio:%.4f\r\n", st.hit_ratio);
        addf(b, "cache_sets:%llu\r\n", (unsigned long long)st.sets);
        addf(b, "cache_deletes:%llu\r\n", (unsigned long long)st.deletes);
        addf(b, "cache_disabled:%d\r\n", st.disabled);
        addf(b, "tags:%llu\r\n", (unsigned long long)st.tags);
        addf(b, "tagged_keys:%llu\r\n", (unsigned long long)st.tagged_entries);
        addf(b, "tag_index_bytes:%llu\r\n", (unsigned long long)st.tag_bytes);
        addf(b, "tag_invalidations:%llu\r\n", (unsigned long long)st.tag_invalidations);
        addf(b, "tag_invalidated_keys:%llu\r\n", (unsigned long long)st.tag_invalidated);
    }
    if (want(sections, "cpu", 1)) {
        SECTION("CPU");
        rcache__info_cpu(b);
    }
    if (want(sections, "tier", 0)) {
        char tinfo[4096]; /* figures, address (<= 768) and last error (<= 256) */
        SECTION("Tier");
        rcache__node_info(s, tinfo, sizeof tinfo);
        addf(b, "%s", tinfo);
    }
    if (want(sections, "commandstats", 0)) {
        SECTION("Commandstats");
        info_commandstats_cb(s, b);
    }
    if (want(sections, "keyspace", 1)) {
        SECTION("Keyspace");
        rcache__db_keyspace_t ks;
        rcache__db_keyspace(s->cache, &ks);
        for (int db = 0; db < RCACHE__DB_COUNT; db++)
            if (ks.keys[db])
                addf(b, "db%d:keys=%llu,expires=%llu,avg_ttl=%llu\r\n", db,
                     (unsigned long long)ks.keys[db], (unsigned long long)ks.expires[db],
                     (unsigned long long)ks.avg_ttl_ms[db]);
    }
#undef SECTION
    size_t len = evbuffer_get_length(b);
    const char *p = len ? (const char *)evbuffer_pullup(b, -1) : "";
    rcache__reply_verbatim(c, "txt", p, len);
    evbuffer_free(b);
}

/* ---- CONFIG ------------------------------------------------------------ */

/* Redis parameters clients commonly read, with fixed values. */
static const char *const EXTRA_GET[][2] = {
    {"appendonly", "no"},
    {"databases", "16"},
};
#define NEXTRA (sizeof EXTRA_GET / sizeof EXTRA_GET[0])

static int pattern_match(const rcache__arg_t *pats, size_t npats, const char *name) {
    for (size_t i = 0; i < npats; i++) {
        char low[256];
        size_t n = pats[i].len < sizeof low ? pats[i].len : sizeof low;
        rcache__lower_copy(low, pats[i].ptr, n);
        if (rcache_glob_match(low, n, name, strlen(name)) == 1)
            return 1;
    }
    return 0;
}

static void config_get(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache__server_t *s = c->srv;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
        return;
    }
    long long n = 0;
    char val[512];
    pthread_mutex_lock(&s->cfg_lock);
    for (size_t i = 0; i < rcache__config_count(); i++) {
        const char *name = rcache__config_name(i);
        /* The admin API's token is not the data clients' business, nor
         * the L2's URL (it may hold a password). */
        if (!strcmp(name, "admin-token") || !strcmp(name, "l2") ||
            !pattern_match(&argv[2], argc - 2, name))
            continue;
        rcache__config_get(&s->cfg, name, val, sizeof val);
        char hdr[RCACHE_RESP_HDR_MAX];
        evbuffer_add(b, hdr, rcache__resp_fmt_bulk_hdr(hdr, strlen(name)));
        evbuffer_add_printf(b, "%s\r\n", name);
        evbuffer_add(b, hdr, rcache__resp_fmt_bulk_hdr(hdr, strlen(val)));
        evbuffer_add_printf(b, "%s\r\n", val);
        n += 2;
    }
    pthread_mutex_unlock(&s->cfg_lock);
    for (size_t i = 0; i < NEXTRA; i++) {
        if (!pattern_match(&argv[2], argc - 2, EXTRA_GET[i][0]))
            continue;
        char hdr[RCACHE_RESP_HDR_MAX];
        evbuffer_add(b, hdr, rcache__resp_fmt_bulk_hdr(hdr, strlen(EXTRA_GET[i][0])));
        evbuffer_add_printf(b, "%s\r\n", EXTRA_GET[i][0]);
        evbuffer_add(b, hdr, rcache__resp_fmt_bulk_hdr(hdr, strlen(EXTRA_GET[i][1])));
        evbuffer_add_printf(b, "%s\r\n", EXTRA_GET[i][1]);
        n += 2;
    }
    rcache__reply_map(c, n / 2);
    rcache__reply_buffer(c, b);
    evbuffer_free(b);
}

/* CONFIG SET's edit of the settings (under cfg_lock, server.c): apply
 * every pair to next or stop at the first bad one. Replies only after. */
struct config_set_edit {
    size_t argc;
    const rcache__arg_t *argv;
    size_t bad;          /* index of the failing name */
    char name[64];       /* that name, lower case ("" if not text) */
    const char *fail;    /* why it was refused */
    char err[512];
};

enum { EDIT_UNKNOWN = 1, EDIT_REFUSED = 2, EDIT_NOMEM = 3 };

static int config_set_one(rcache__config_t *next, struct config_set_edit *e,
                          const char *name, const char *value) {
    int known = name[0] && rcache__config_get(next, name, e->err, sizeof e->err) == 0;
    e->fail = NULL;
    if (!strcmp(name, "appendonly")) {
        if (strcasecmp(value, "no") != 0)
            e->fail = "rcached does not persist data; only no is accepted";
    } else if (!known) {
        return EDIT_UNKNOWN;
    } else if (!rcache__config_runtime(name)) {
        e->fail = "can't set immutable config";
    } else if (rcache__config_set(next, name, value, e->err, sizeof e->err) != 0) {
        e->fail = e->err;
    }
    return e->fail ? EDIT_REFUSED : 0;
}

/* 1 if the parameter at argv[i] was already named earlier in this SET. */
static int dup_param(const rcache__arg_t *argv, size_t i) {
    for (size_t j = 2; j < i; j += 2)
        if (argv[j].len == argv[i].len && !strncasecmp(argv[j].ptr, argv[i].ptr, argv[i].len))
            return 1;
    return 0;
}

static int config_set_edit(rcache__config_t *next, void *ctx) {
    struct config_set_edit *e = ctx;
    for (size_t i = 2; i < e->argc; i += 2) {
        const rcache__arg_t *n = &e->argv[i], *v = &e->argv[i + 1];
        char *name = e->name;
        if (rcache__arg_cstr(n, name, sizeof e->name) != 0 || memchr(name, 0, n->len))
            name[0] = '\0';
        rcache__lower_copy(name, name, strlen(name));
        char *value = malloc(v->len + 1);
        if (!value)
            return EDIT_NOMEM;
        memcpy(value, v->ptr, v->len);
        value[v->len] = '\0';
        e->bad = i;
        int rc = dup_param(e->argv, i) ? (e->fail = "duplicate parameter", EDIT_REFUSED)
                                       : config_set_one(next, e, name, value);
        free(value);
        if (rc)
            return rc;
    }
    return 0;
}

static void config_set(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (argc < 4) {
        rcache__reply_arity(c, "config|set");
        return;
    }
    if ((argc - 2) % 2 != 0) {
        rcache__reply_syntax_error(c);
        return;
    }
    struct config_set_edit e = {.argc = argc, .argv = argv};
    int rc = rcache__server_config_update(c->srv, config_set_edit, &e);
    if (rc == 0) {
        rcache__reply_ok(c);
    } else if (rc == EDIT_UNKNOWN) {
        const rcache__arg_t *n = &argv[e.bad];
        rcache__reply_errorf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                             (int)(n->len > 128 ? 128 : n->len), n->ptr);
    } else if (rc == EDIT_REFUSED) {
        rcache__reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                             e.name, e.fail);
    } else {
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
    }
}

void rcache__cmd_config(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "get")) {
        if (argc < 3) {
            rcache__reply_arity(c, "config|get");
            return;
        }
        config_get(c, argc, argv);
    } else if (rcache__arg_is(sub, "set")) {
        config_set(c, argc, argv);
    } else if (rcache__arg_is(sub, "resetstat")) {
        if (argc != 2) {
            rcache__reply_arity(c, "config|resetstat");
            return;
        }
        rcache_stats_reset(c->srv->cache);
        rcache__server_reset_stats(c->srv);
        rcache__reply_ok(c);
    } else if (rcache__arg_is(sub, "rewrite")) {
        char err[512];
        pthread_mutex_lock(&c->srv->cfg_lock);
        int rc = rcache__config_rewrite(&c->srv->cfg, err, sizeof err);
        pthread_mutex_unlock(&c->srv->cfg_lock);
        if (rc == 0)
            rcache__reply_ok(c);
        else
            rcache__reply_errorf(c, "ERR %s", err);
    } else if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_array(c, 7);
        rcache__reply_status(c, "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        rcache__reply_status(c, "GET <pattern> [<pattern> ...]");
        rcache__reply_status(c, "    Return parameters matching the glob-like <pattern>s and their values.");
        rcache__reply_status(c, "SET <directive> <value> [<directive> <value> ...]");
        rcache__reply_status(c, "    Set the configuration <directive>s to <value>s.");
        rcache__reply_status(c, "RESETSTAT");
        rcache__reply_status(c, "    Reset statistics reported by the INFO command.");
    } else {
        rcache__reply_unknown_subcommand(c, sub, "CONFIG");
    }
}

/* ---- TIME, LASTSAVE, SHUTDOWN ----------------------------------------- */

void rcache__cmd_time(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    struct timeval tv;
    (void)argc;
    (void)argv;
    gettimeofday(&tv, NULL);
    rcache__reply_array(c, 2);
    rcache__reply_bulk_ll(c, (long long)tv.tv_sec);
    rcache__reply_bulk_ll(c, (long long)tv.tv_usec);
}

void rcache__cmd_lastsave(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    rcache__reply_int(c, (long long)rcache__persist_lastsave(c->srv));
}

void rcache__cmd_shutdown(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    int mode = 0;
    for (size_t i = 1; i < argc; i++) {
        if (rcache__arg_is(&argv[i], "nosave"))
            mode = -1;
        else if (rcache__arg_is(&argv[i], "save"))
            mode = 1;
        if (rcache__arg_is(&argv[i], "abort")) {
            rcache__reply_error(c, "ERR No shutdown in progress.");
            return;
        }
        if (!rcache__arg_is(&argv[i], "nosave") && !rcache__arg_is(&argv[i], "save") &&
            !rcache__arg_is(&argv[i], "now") && !rcache__arg_is(&argv[i], "force")) {
            rcache__reply_syntax_error(c);
            return;
        }
    }
    rcache__persist_shutdown_mode(c->srv, mode);
    rcache__log(RCACHE__LOG_WARNING, "User requested shutdown...");
    rcache__server_request_shutdown(c->srv);
    c->flags |= RCACHE__CLIENT_CLOSE_AFTER_REPLY;
}
