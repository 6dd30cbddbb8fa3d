/*
 * commands_conn.c - connection commands: PING, ECHO, QUIT, SELECT, AUTH,
 * HELLO, CLIENT and RESET, with Redis's replies and error texts.
 *
 * rcached has one user ("default", whose password is requirepass) and
 * speaks RESP2 until a client sends HELLO 3 (RESP3, per connection, until
 * HELLO 2 or RESET), as Redis 7.0 does.
 */
#include "commands_admin.h"
#include "command.h"
#include "db.h"
#include "pubsub.h"
#include "tracking.h"
#include "version.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>


void rcache__cmd_ping(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (argc > 2) {
        rcache__reply_arity(c, "ping");
        return;
    }
    if (!c->resp3 && rcache__pubsub_count(c)) { /* RESP2 subscriber mode: a message */
        rcache__reply_array(c, 2);
        rcache__reply_bulk(c, "pong", 4);
        rcache__reply_bulk(c, argc == 2 ? argv[1].ptr : "", argc == 2 ? argv[1].len : 0);
    } else if (argc == 2) {
        rcache__reply_bulk(c, argv[1].ptr, argv[1].len);
    } else {
        rcache__reply_raw(c, "+PONG\r\n", 7);
    }
}

void rcache__cmd_echo(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    rcache__reply_bulk(c, argv[1].ptr, argv[1].len);
}

void rcache__cmd_quit(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    rcache__reply_ok(c);
    c->flags |= RCACHE__CLIENT_CLOSE_AFTER_REPLY;
}

void rcache__cmd_select(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long db;
    (void)argc;
    if (!rcache__str2ll(argv[1].ptr, argv[1].len, &db)) {
        rcache__reply_not_int(c);
        return;
    }
    if (db < 0 || db >= RCACHE__DB_COUNT) {
        rcache__reply_error(c, "ERR DB index is out of range");
        return;
    }
    if (db > 0)
        rcache__db_mark_used();
    c->db = (int)db;
    rcache__reply_ok(c);
}

/* Constant-time comparison of a password with requirepass. Returns 1 if
 * it matches; with no requirepass every password matches. */
static int check_password(rcache__server_t *s, const rcache__arg_t *pass) {
    int ok;
    pthread_mutex_lock(&s->cfg_lock);
    const char *req = s->cfg.requirepass;
    if (!req) {
        ok = 1;
    } else {
        size_t rl = strlen(req);
        size_t diff = rl ^ pass->len; /* no truncation: any length difference counts */
        for (size_t i = 0; i < pass->len; i++)
            diff |= (unsigned char)pass->ptr[i] ^ (unsigned char)req[i % (rl ? rl : 1)];
        ok = diff == 0;
    }
    pthread_mutex_unlock(&s->cfg_lock);
    return ok;
}

static const char WRONGPASS[] =
    "WRONGPASS invalid username-password pair or user is disabled.";

void rcache__cmd_auth(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (argc > 3) {
        rcache__reply_syntax_error(c);
        return;
    }
    int required = atomic_load(&c->srv->auth_required);
    if (argc == 2 && !required) {
        rcache__reply_error(c, "ERR AUTH <password> called without any password "
                               "configured for the default user. Are you sure "
                               "your configuration is correct?");
        return;
    }
    if (argc == 3 && !rcache__arg_is(&argv[1], "default")) {
        rcache__reply_error(c, WRONGPASS);
        return;
    }
    if (!check_password(c->srv, &argv[argc - 1])) {
        rcache__log(RCACHE__LOG_VERBOSE, "Failed AUTH from client id=%llu addr=%s",
                    (unsigned long long)c->id, c->addr);
        rcache__reply_error(c, WRONGPASS);
        return;
    }
    c->authed = 1;
    rcache__reply_ok(c);
}

static int valid_name(const rcache__arg_t *a) {
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] < '!' || a->ptr[i] > '~')
            return 0;
    return 1;
}

static void set_name(rcache__client_t *c, const rcache__arg_t *a) {
    char *n = NULL;
    if (a->len) {
        n = malloc(a->len + 1);
        if (n) {
            memcpy(n, a->ptr, a->len);
            n[a->len] = '\0';
        }
    }
    pthread_mutex_lock(&c->srv->clients_lock);
    free(c->name);
    c->name = n;
    pthread_mutex_unlock(&c->srv->clients_lock);
}

static const char BAD_NAME[] =
    "ERR Client names cannot contain spaces, newlines or special characters.";

void rcache__cmd_hello(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *user = NULL, *pass = NULL, *name = NULL;
    int resp3 = c->resp3;
    if (argc >= 2) {
        long long ver;
        if (!rcache__str2ll(argv[1].ptr, argv[1].len, &ver)) {
            rcache__reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver != 2 && ver != 3) {
            rcache__reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
        resp3 = ver == 3;
    }
    for (size_t i = 2; i < argc; i++) {
        size_t more = argc - i - 1;
        if (rcache__arg_is(&argv[i], "auth") && more >= 2) {
            user = &argv[i + 1];
            pass = &argv[i + 2];
            i += 2;
        } else if (rcache__arg_is(&argv[i], "setname") && more >= 1) {
            name = &argv[i + 1];
            i += 1;
        } else {
            rcache__reply_errorf(c, "ERR Syntax error in HELLO option '%.*s'",
                                 (int)(argv[i].len > 128 ? 128 : argv[i].len), argv[i].ptr);
            return;
        }
    }
    if (user) {
        if (!rcache__arg_is(user, "default") || !check_password(c->srv, pass)) {
            rcache__reply_error(c, WRONGPASS);
            return;
        }
        c->authed = 1;
    }
    if (!c->authed && atomic_load(&c->srv->auth_required)) {
        rcache__reply_error(c, "NOAUTH HELLO must be called with the client already "
                               "authenticated, otherwise the HELLO <proto> AUTH "
                               "<user> <pass> option can be used to authenticate "
                               "the client and select the RESP protocol version at "
                               "the same time");
        return;
    }
    if (name) {
        if (!valid_name(name)) {
            rcache__reply_error(c, BAD_NAME);
            return;
        }
        set_name(c, name);
    }
    c->resp3 = resp3;
    atomic_store_explicit(&c->shown_resp, resp3 ? 3 : 2, memory_order_relaxed);
    rcache__pubsub_set_resp(c);
    rcache__tracking_set_resp(c);
    rcache__reply_map(c, 7);
    rcache__reply_bulk_cstr(c, "server");
    rcache__reply_bulk_cstr(c, "redis");
    rcache__reply_bulk_cstr(c, "version");
    rcache__reply_bulk_cstr(c, RCACHE__REDIS_COMPAT_VERSION);
    rcache__reply_bulk_cstr(c, "proto");
    rcache__reply_int(c, resp3 ? 3 : 2);
    rcache__reply_bulk_cstr(c, "id");
    rcache__reply_int(c, (long long)c->id);
    rcache__reply_bulk_cstr(c, "mode");
    rcache__reply_bulk_cstr(c, "standalone");
    rcache__reply_bulk_cstr(c, "role");
    rcache__reply_bulk_cstr(c, "master");
    rcache__reply_bulk_cstr(c, "modules");
    rcache__reply_array(c, 0);
}

/* Redis's client types (getClientType): rcached has no replication, so
 * master and replica match no client; MONITOR clients are normal. */
enum { TYPE_NORMAL, TYPE_PUBSUB, TYPE_MASTER, TYPE_REPLICA };

/* Redis's getClientTypeByName: the type, or -1. */
static int client_type_by_name(const rcache__arg_t *a) {
    if (rcache__arg_is(a, "normal"))
        return TYPE_NORMAL;
    if (rcache__arg_is(a, "pubsub"))
        return TYPE_PUBSUB;
    if (rcache__arg_is(a, "master"))
        return TYPE_MASTER;
    if (rcache__arg_is(a, "replica") || rcache__arg_is(a, "slave"))
        return TYPE_REPLICA;
    return -1;
}

/* o's type: pubsub while it has a subscription (RESP2 or RESP3). */
static int client_type_of(rcache__client_t *o) {
    unsigned subs = atomic_load_explicit(&o->nsub, memory_order_relaxed) +
                    atomic_load_explicit(&o->npsub, memory_order_relaxed);
    return subs ? TYPE_PUBSUB : TYPE_NORMAL;
}

static void reply_unknown_type(rcache__client_t *c, const rcache__arg_t *a) {
    rcache__reply_errorf(c, "ERR Unknown client type '%.*s'", (int)(a->len > 64 ? 64 : a->len),
                         a->ptr);
}

static void client_list(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    /* CLIENT LIST [TYPE normal|pubsub|master|replica] [ID id ...] */
    long long *ids = NULL;
    size_t nids = 0;
    int type = -1;
    for (size_t i = 2; i < argc; i++) {
        if (rcache__arg_is(&argv[i], "type") && i + 1 < argc) {
            i++;
            type = client_type_by_name(&argv[i]);
            if (type < 0) {
                reply_unknown_type(c, &argv[i]);
                free(ids);
                return;
            }
        } else if (rcache__arg_is(&argv[i], "id") && i + 1 < argc) {
            free(ids);
            ids = calloc(argc, sizeof *ids);
            if (!ids) {
                rcache__reply_lib_error(c, RCACHE_ENOMEM);
                return;
            }
            for (i++; i < argc; i++) {
                long long v;
                if (!rcache__str2ll(argv[i].ptr, argv[i].len, &v) || v <= 0) {
                    rcache__reply_error(c, "ERR Invalid client ID");
                    free(ids);
                    return;
                }
                ids[nids++] = v;
            }
        } else {
            rcache__reply_syntax_error(c);
            free(ids);
            return;
        }
    }
    struct evbuffer *list = evbuffer_new();
    if (!list) {
        free(ids);
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
        return;
    }
    char line[1024];
    rcache__server_t *s = c->srv;
    pthread_mutex_lock(&s->clients_lock);
    for (rcache__client_t *o = s->all_clients; o; o = o->gnext) {
        if (ids) {
            int want = 0;
            for (size_t k = 0; k < nids; k++)
                want |= ids[k] == (long long)o->id;
            if (!want)
                continue;
        }
        if (type >= 0 && client_type_of(o) != type)
            continue;
        size_t n = rcache__client_describe(o, c, line, sizeof line);
        evbuffer_add(list, line, n);
    }
    pthread_mutex_unlock(&s->clients_lock);
    free(ids);
    size_t len = evbuffer_get_length(list);
    const char *p = (const char *)evbuffer_pullup(list, -1);
    rcache__reply_verbatim(c, "txt", p ? p : "", p ? len : 0);
    evbuffer_free(list);
}

static int arg_eq(const rcache__arg_t *a, const char *s) {
    size_t n = strlen(s);
    return a->len == n && memcmp(a->ptr, s, n) == 0;
}

/* CLIENT KILL addr | CLIENT KILL [ID id] [ADDR a] [LADDR a] [TYPE t]
 * [USER u] [SKIPME yes|no]. A client of another worker is flagged and its
 * read event activated; its own worker closes it (clients_lock keeps it
 * alive meanwhile: a client leaves the registry before it is freed). */
static void client_kill(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *addr = NULL, *laddr = NULL;
    long long id = 0;
    int skipme = 1, old_form = 0, type = -1;
    if (argc == 3) {
        old_form = 1;
        skipme = 0;
        addr = &argv[2];
    } else if (argc >= 4 && argc % 2 == 0) {
        for (size_t i = 2; i < argc; i += 2) {
            const rcache__arg_t *o = &argv[i], *v = &argv[i + 1];
            if (rcache__arg_is(o, "id")) {
                if (!rcache__str2ll(v->ptr, v->len, &id) || id <= 0) {
                    rcache__reply_error(c, "ERR client-id should be greater than 0");
                    return;
                }
            } else if (rcache__arg_is(o, "addr")) {
                addr = v;
            } else if (rcache__arg_is(o, "laddr")) {
                laddr = v;
            } else if (rcache__arg_is(o, "skipme")) {
                if (rcache__arg_is(v, "yes"))
                    skipme = 1;
                else if (rcache__arg_is(v, "no"))
                    skipme = 0;
                else {
                    rcache__reply_syntax_error(c);
                    return;
                }
            } else if (rcache__arg_is(o, "type")) {
                type = client_type_by_name(v);
                if (type < 0) {
                    reply_unknown_type(c, v);
                    return;
                }
            } else if (rcache__arg_is(o, "user")) {
                if (!arg_eq(v, "default")) {
                    rcache__reply_errorf(c, "ERR No such user '%.*s'",
                                         (int)(v->len > 64 ? 64 : v->len), v->ptr);
                    return;
                }
            } else {
                rcache__reply_syntax_error(c);
                return;
            }
        }
    } else {
        rcache__reply_syntax_error(c);
        return;
    }
    long long killed = 0;
    int self = 0;
    rcache__server_t *s = c->srv;
    pthread_mutex_lock(&s->clients_lock);
    for (rcache__client_t *o = s->all_clients; o; o = o->gnext) {
        if (id && (long long)o->id != id)
            continue;
        if (type >= 0 && client_type_of(o) != type)
            continue;
        if (addr && !arg_eq(addr, o->addr))
            continue;
        if (laddr && !arg_eq(laddr, o->laddr))
            continue;
        if (o == c) {
            if (!skipme) {
                self = 1;
                killed++;
            }
            continue;
        }
        rcache__client_kill(o);
        killed++;
    }
    pthread_mutex_unlock(&s->clients_lock);
    if (self)
        c->flags |= RCACHE__CLIENT_CLOSE_AFTER_REPLY;
    if (!old_form)
        rcache__reply_int(c, killed);
    else if (killed)
        rcache__reply_ok(c);
    else
        rcache__reply_error(c, "ERR No such client");
}

static const char *const CLIENT_HELP[] = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are: ID <id>, ADDR <ip:port>, LADDR <ip:port>,",
    "    TYPE (NORMAL|MASTER|REPLICA|PUBSUB), USER default, SKIPME (yes|no).",
    "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
    "    Return information about client connections.",
    "NO-EVICT (ON|OFF)",
    "    Protect the current client connection from eviction (shown as flag e).",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Accepted and ignored.",
    "HELP",
    "    Print this help.",
};

void rcache__cmd_client(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_help(c, CLIENT_HELP, sizeof CLIENT_HELP / sizeof CLIENT_HELP[0]);
    } else if (rcache__arg_is(sub, "id")) {
        atomic_store_explicit(&c->last_cmd, "client|id", memory_order_relaxed);
        if (argc != 2)
            goto arity;
        rcache__reply_int(c, (long long)c->id);
    } else if (rcache__arg_is(sub, "getname")) {
        atomic_store_explicit(&c->last_cmd, "client|getname", memory_order_relaxed);
        if (argc != 2)
            goto arity;
        pthread_mutex_lock(&c->srv->clients_lock);
        if (c->name)
            rcache__reply_bulk_cstr(c, c->name);
        else
            rcache__reply_null(c);
        pthread_mutex_unlock(&c->srv->clients_lock);
    } else if (rcache__arg_is(sub, "setname")) {
        atomic_store_explicit(&c->last_cmd, "client|setname", memory_order_relaxed);
        if (argc != 3)
            goto arity;
        if (!valid_name(&argv[2])) {
            rcache__reply_error(c, BAD_NAME);
            return;
        }
        set_name(c, &argv[2]);
        rcache__reply_ok(c);
    } else if (rcache__arg_is(sub, "info")) {
        atomic_store_explicit(&c->last_cmd, "client|info", memory_order_relaxed);
        if (argc != 2)
            goto arity;
        char line[1024];
        pthread_mutex_lock(&c->srv->clients_lock);
        size_t n = rcache__client_describe(c, c, line, sizeof line);
        pthread_mutex_unlock(&c->srv->clients_lock);
        rcache__reply_verbatim(c, "txt", line, n);
    } else if (rcache__arg_is(sub, "kill")) {
        atomic_store_explicit(&c->last_cmd, "client|kill", memory_order_relaxed);
        if (argc < 3)
            goto arity;
        client_kill(c, argc, argv);
    } else if (rcache__arg_is(sub, "list")) {
        atomic_store_explicit(&c->last_cmd, "client|list", memory_order_relaxed);
        client_list(c, argc, argv);
    } else if (rcache__arg_is(sub, "setinfo")) {
        atomic_store_explicit(&c->last_cmd, "client|setinfo", memory_order_relaxed);
        if (argc != 4)
            goto arity;
        if (!rcache__arg_is(&argv[2], "lib-name") && !rcache__arg_is(&argv[2], "lib-ver")) {
            rcache__reply_errorf(c, "ERR Unrecognized option '%.*s'",
                                 (int)(argv[2].len > 64 ? 64 : argv[2].len), argv[2].ptr);
            return;
        }
        rcache__reply_ok(c);
    } else if (rcache__tracking_command(c, argc, argv) || rcache__client_admin(c, argc, argv)) {
        /* TRACKING, CACHING, GETREDIR, TRACKINGINFO (tracking.c); REPLY,
         * PAUSE, UNPAUSE, NO-EVICT (commands_admin.c) */
    } else if (rcache__arg_is(sub, "no-touch")) {
        if (argc != 3)
            goto arity;
        if (!rcache__arg_is(&argv[2], "on") && !rcache__arg_is(&argv[2], "off")) {
            rcache__reply_syntax_error(c);
            return;
        }
        rcache__reply_ok(c);
    } else {
        rcache__reply_unknown_subcommand(c, sub, "CLIENT");
    }
    return;
arity: {
        char lower[32];
        size_t n = sub->len < sizeof lower - 1 ? sub->len : sizeof lower - 1;
        rcache__lower_copy(lower, sub->ptr, n);
        lower[n] = '\0';
        rcache__reply_errorf(c, "ERR wrong number of arguments for 'client|%s' command", lower);
    }
}

void rcache__cmd_reset(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    rcache__arg_t empty = {"", 0};
    set_name(c, &empty);
    rcache__multi_discard(c);
    rcache__pubsub_unsubscribe(c, 1, NULL, 0, 0);
    rcache__pubsub_unsubscribe(c, 1, NULL, 1, 0);
    c->db = 0;
    c->authed = !atomic_load(&c->srv->auth_required);
    c->resp3 = 0;
    atomic_store_explicit(&c->shown_resp, 2, memory_order_relaxed);
    rcache__pubsub_set_resp(c);
    rcache__tracking_forget(c); /* Redis: RESET disables tracking */
    rcache__reply_status(c, "RESET");
}
