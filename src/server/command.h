/*
 * command.h - what a command implementation (commands_*.c) may use: the
 * command table, the client handle and the server state commands read
 * (settings, cache, figures, client registry), reply functions, argument
 * helpers and logging. It does not expose the event loops or the worker
 * threads: those are in server.h, for net.c, client.c, server.c and the
 * dispatcher (commands.c) only.
 *
 * Threading model: the main thread runs the listeners, signals, the active
 * expiry timer and the admin API on its own event_base; each worker thread
 * runs its own event_base and owns the clients handed to it (a client is
 * only ever touched by its worker, except the few fields CLIENT LIST reads,
 * which are atomics or guarded by clients_lock). The cache (rcache_t) is
 * shared and thread-safe. Cross-thread figures are relaxed atomics.
 */
#ifndef RCACHE_SERVER_COMMAND_H
#define RCACHE_SERVER_COMMAND_H

#include "config.h"
#include "debug.h"
#include "log.h"
#include "rcache.h"
#include "resp.h"
#include "util.h"

#include <event2/util.h> /* evutil_socket_t only */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct event_base;
struct evbuffer;
struct evconnlistener;
struct rcache__admin;

typedef struct rcache__server rcache__server_t;
typedef struct rcache__worker rcache__worker_t; /* server.h */
typedef struct rcache__client rcache__client_t;
typedef rcache__resp_arg_t rcache__arg_t;

/* ---- commands (commands.c and commands_*.c) ------------------------- */

typedef void (*rcache__cmd_fn)(rcache__client_t *c, size_t argc,
                               const rcache__arg_t *argv);

/* Command flags (COMMAND INFO shows them; NOAUTH runs before AUTH). */
#define RCACHE__CMD_WRITE    0x01u
#define RCACHE__CMD_READONLY 0x02u
#define RCACHE__CMD_FAST     0x04u
#define RCACHE__CMD_NOAUTH   0x08u
#define RCACHE__CMD_ADMIN    0x10u
#define RCACHE__CMD_CONN     0x20u /* connection command ("stale", "loading") */
#define RCACHE__CMD_NOQUEUE  0x40u /* runs at once even inside MULTI */
#define RCACHE__CMD_EXCL     0x80u /* runs holding the exclusive gate (gate.h) */
#define RCACHE__CMD_NOGATE   0x100u /* runs without the gate (SCRIPT KILL) */
#define RCACHE__CMD_NOSCRIPT 0x200u /* refused by redis.call */
#define RCACHE__CMD_SCRIPT   0x400u /* runs on the script thread (script_thread.c) */

typedef struct rcache__cmd {
    const char *name;    /* lower case */
    rcache__cmd_fn fn;
    int arity;           /* Redis style: N exact, -N at least N */
    unsigned flags;
    int first_key, last_key, step;
    const char *group;   /* COMMAND DOCS group */
    const char *summary; /* COMMAND DOCS summary */
    int id;              /* index in the table (per-command counters) */
} rcache__cmd_t;

#define RCACHE__MAX_COMMANDS 128

/* Sort the table (call once at start). */
void rcache__commands_init(void);
/* Look a command up by name (any case); NULL if unknown. */
const rcache__cmd_t *rcache__command_lookup(const char *name, size_t len);
/* The whole table. */
const rcache__cmd_t *rcache__command_table(size_t *n);
/* Run one parsed command for a client, with Redis's checks first. */
void rcache__dispatch(rcache__client_t *c, size_t argc,
                      const rcache__arg_t *argv);
/* 1 if rcache__dispatch() would hand this command to the script thread
 * (so c's pending scripts may be joined by it), else 0. */
int rcache__dispatch_is_script(const struct rcache__client *c, size_t argc,
                               const rcache__arg_t *argv);

/* Command implementations, one family per file. */
#define RCACHE__DECL(fn) \
    void fn(rcache__client_t *c, size_t argc, const rcache__arg_t *argv)
/* commands_conn.c */
RCACHE__DECL(rcache__cmd_ping); RCACHE__DECL(rcache__cmd_echo);
RCACHE__DECL(rcache__cmd_quit); RCACHE__DECL(rcache__cmd_select);
RCACHE__DECL(rcache__cmd_auth); RCACHE__DECL(rcache__cmd_hello);
RCACHE__DECL(rcache__cmd_client); RCACHE__DECL(rcache__cmd_reset);
/* commands_strings.c */
RCACHE__DECL(rcache__cmd_get); RCACHE__DECL(rcache__cmd_set);
RCACHE__DECL(rcache__cmd_rcache_set); RCACHE__DECL(rcache__cmd_tags);
RCACHE__DECL(rcache__cmd_tag_invalidate);
RCACHE__DECL(rcache__cmd_getex); RCACHE__DECL(rcache__cmd_getdel);
RCACHE__DECL(rcache__cmd_setex); RCACHE__DECL(rcache__cmd_psetex);
RCACHE__DECL(rcache__cmd_setnx); RCACHE__DECL(rcache__cmd_getset);
RCACHE__DECL(rcache__cmd_mget); RCACHE__DECL(rcache__cmd_mset);
RCACHE__DECL(rcache__cmd_msetnx); RCACHE__DECL(rcache__cmd_strlen);
RCACHE__DECL(rcache__cmd_append); RCACHE__DECL(rcache__cmd_getrange);
RCACHE__DECL(rcache__cmd_setrange);
/* commands_incr.c */
RCACHE__DECL(rcache__cmd_incr); RCACHE__DECL(rcache__cmd_decr);
RCACHE__DECL(rcache__cmd_incrby); RCACHE__DECL(rcache__cmd_decrby);
RCACHE__DECL(rcache__cmd_incrbyfloat);
/* commands_keys.c */
RCACHE__DECL(rcache__cmd_del); RCACHE__DECL(rcache__cmd_exists);
RCACHE__DECL(rcache__cmd_touch); RCACHE__DECL(rcache__cmd_type);
RCACHE__DECL(rcache__cmd_rename); RCACHE__DECL(rcache__cmd_renamenx);
RCACHE__DECL(rcache__cmd_keys); RCACHE__DECL(rcache__cmd_scan);
RCACHE__DECL(rcache__cmd_randomkey); RCACHE__DECL(rcache__cmd_dbsize);
RCACHE__DECL(rcache__cmd_flushdb); RCACHE__DECL(rcache__cmd_invalidate);
RCACHE__DECL(rcache__cmd_object); RCACHE__DECL(rcache__cmd_memory);
/* commands_ttl.c */
RCACHE__DECL(rcache__cmd_expire); RCACHE__DECL(rcache__cmd_pexpire);
RCACHE__DECL(rcache__cmd_expireat); RCACHE__DECL(rcache__cmd_pexpireat);
RCACHE__DECL(rcache__cmd_ttl); RCACHE__DECL(rcache__cmd_pttl);
RCACHE__DECL(rcache__cmd_expiretime); RCACHE__DECL(rcache__cmd_pexpiretime);
RCACHE__DECL(rcache__cmd_persist);
/* commands_server.c */
RCACHE__DECL(rcache__cmd_info); RCACHE__DECL(rcache__cmd_config);
RCACHE__DECL(rcache__cmd_time); RCACHE__DECL(rcache__cmd_shutdown);
RCACHE__DECL(rcache__cmd_lastsave);
/* commands_persist.c */
RCACHE__DECL(rcache__cmd_save); RCACHE__DECL(rcache__cmd_bgsave);
/* commands_command.c */
RCACHE__DECL(rcache__cmd_command);
/* commands_debug.c */
RCACHE__DECL(rcache__cmd_debug);
/* commands_multi.c */
RCACHE__DECL(rcache__cmd_multi); RCACHE__DECL(rcache__cmd_exec);
RCACHE__DECL(rcache__cmd_discard); RCACHE__DECL(rcache__cmd_watch);
RCACHE__DECL(rcache__cmd_unwatch);
/* commands_script.c */
RCACHE__DECL(rcache__cmd_eval); RCACHE__DECL(rcache__cmd_evalsha);
RCACHE__DECL(rcache__cmd_eval_ro); RCACHE__DECL(rcache__cmd_evalsha_ro);
RCACHE__DECL(rcache__cmd_script);
/* commands_bits.c, commands_bitfield.c, commands_lcs.c, commands_db.c */
RCACHE__DECL(rcache__cmd_setbit); RCACHE__DECL(rcache__cmd_getbit);
RCACHE__DECL(rcache__cmd_bitcount); RCACHE__DECL(rcache__cmd_bitpos);
RCACHE__DECL(rcache__cmd_bitop); RCACHE__DECL(rcache__cmd_bitfield);
RCACHE__DECL(rcache__cmd_bitfield_ro); RCACHE__DECL(rcache__cmd_lcs);
RCACHE__DECL(rcache__cmd_copy); RCACHE__DECL(rcache__cmd_move);
RCACHE__DECL(rcache__cmd_swapdb);
/* commands_admin.c */
RCACHE__DECL(rcache__cmd_slowlog); RCACHE__DECL(rcache__cmd_latency);
/* monitor.c */
RCACHE__DECL(rcache__cmd_monitor);
/* commands_function.c */
RCACHE__DECL(rcache__cmd_fcall); RCACHE__DECL(rcache__cmd_fcall_ro);
RCACHE__DECL(rcache__cmd_function);
/* commands_pubsub.c */
RCACHE__DECL(rcache__cmd_subscribe); RCACHE__DECL(rcache__cmd_psubscribe);
RCACHE__DECL(rcache__cmd_unsubscribe); RCACHE__DECL(rcache__cmd_punsubscribe);
RCACHE__DECL(rcache__cmd_publish); RCACHE__DECL(rcache__cmd_pubsub);
/* 0 when c is in RESP2 subscriber mode and cmd is not allowed there. */
int rcache__pubsub_allowed(const rcache__client_t *c, const rcache__cmd_t *cmd);
/* Inside MULTI: queue a command (replies +QUEUED). */
void rcache__multi_queue(rcache__client_t *c, size_t argc, const rcache__arg_t *argv);
/* Drop a client's transaction state and watched keys (DISCARD, RESET,
 * close). */
void rcache__multi_discard(rcache__client_t *c);

/* ---- clients and the server (client.c, net.c, server.c) ------------- */

#define RCACHE__CLIENT_CLOSE_AFTER_REPLY 0x1u /* QUIT, protocol error */
#define RCACHE__CLIENT_CLOSING           0x2u /* being torn down */
#define RCACHE__CLIENT_SUSPENDED         0x4u /* its EVAL runs on the script thread */
#define RCACHE__CLIENT_PAUSED            0x8u /* held by CLIENT PAUSE (with SUSPENDED) */
#define RCACHE__CLIENT_PEER_EOF          0x10u /* io_uring: the peer's end of file, held
                                                  until suspended commands are answered */
/* CLIENT REPLY modes (commands_admin.c). */
enum { RCACHE__REPLY_ON, RCACHE__REPLY_OFF, RCACHE__REPLY_SKIP_NEXT, RCACHE__REPLY_SKIPPING };

/* The event-layer fields (fd, w, rev, wev, qbuf, parser, argv, the lists)
 * belong to client.c and net.c; commands read the others. */
struct rcache__client {
    uint64_t id;
    evutil_socket_t fd;
    rcache__server_t *srv;
    rcache__worker_t *w;
    struct event *rev, *wev;
    int wev_on;                    /* wev is added (epoll engine): saves event_del's lock */
    struct evbuffer *out;          /* replies not yet written */
    struct rcache__uring_conn *uc; /* --io-engine uring: sends in flight (uring.c) */
    char *qbuf;                    /* unconsumed input: qbuf[0..qlen) */
    size_t qlen, qcap;
    rcache__resp_parser_t parser;
    rcache__arg_t *argv;
    size_t argv_cap;
    unsigned flags;
    int authed;
    int db;                        /* SELECT (db.h) */
    int is_unix;
    uint64_t ctime_ms;
    _Atomic uint64_t last_ms;      /* last read (idle time) */
    _Atomic(const char *) last_cmd;/* name of the last command */
    _Atomic int kill_requested;    /* CLIENT KILL from another client */
    char *name;                    /* CLIENT SETNAME; srv->clients_lock */
    /* footprint for CLIENT LIST, published by the worker after each read */
    _Atomic size_t mem_qbuf, mem_qfree, mem_argv, mem_out, mem_multi;
    _Atomic int shown_db;          /* db and queued count (-1: no MULTI), same */
    _Atomic long shown_multi;
    /* MULTI/EXEC (commands_multi.c) */
    int in_multi;                  /* between MULTI and EXEC/DISCARD */
    int multi_error;               /* a command was refused: EXECABORT */
    struct rcache__queued *queue;  /* commands waiting for EXEC */
    size_t nqueued, capqueued, queued_bytes;
    struct rcache__watched *watched; /* WATCHed keys */
    size_t nwatched, capwatched;
    /* EVAL-family commands handed to the script thread, oldest first
     * (script_thread.c); a pipelining client's consecutive scripts go
     * together, anything else waits until they are answered. */
    struct rcache__script_job *script_job, *script_last;
    unsigned script_pending;
    int reply_mode;                /* CLIENT REPLY: RCACHE__REPLY_* */
    int resp3;                     /* HELLO 3: replies in RESP3 (0: RESP2) */
    _Atomic int shown_resp;        /* 2 or 3 for CLIENT LIST (0 before HELLO: 2) */
    struct evbuffer *real_out;     /* out while this command's reply is dropped */
    struct event *pause_ev;        /* CLIENT PAUSE retry timer (client.c) */
    _Atomic int no_evict;          /* CLIENT NO-EVICT (shown in CLIENT LIST) */
    int monitor;                   /* MONITOR: out is locked and fed (monitor.c) */
    struct rcache__pubsub_client *ps; /* subscriptions, mailbox (pubsub.c) */
    _Atomic unsigned nsub, npsub;  /* for CLIENT LIST */
    struct rcache__tracking_client *trk; /* CLIENT TRACKING (tracking.c) */
    _Atomic unsigned trk_shown;    /* t/R/B flags for CLIENT LIST (tracking.h) */
    _Atomic long long trk_redir;   /* redir= for CLIENT LIST */
    char addr[128], laddr[128];
    rcache__client_t *prev, *next;   /* worker's list */
    rcache__client_t *gprev, *gnext; /* server registry (clients_lock) */
};

/* The cache settings last pushed to the cache (server.c; apply_lock). */
typedef struct rcache__cache_settings {
    uint64_t max_items, max_bytes, default_ttl_ms;
    int disabled;
    int policy; /* rcache_policy_t */
} rcache__cache_settings_t;

/* The main loop, listeners, workers and timers are opaque here and belong
 * to server.c and net.c; commands read the settings, cache and figures.
 *
 * Settings (one owner: server.c's rcache__server_config_update(), used by
 * CONFIG SET and the admin API alike): the runtime options of cfg (those
 * CONFIG SET accepts, and `disabled`) are read and written only under
 * cfg_lock; every other field of cfg is written only before the worker
 * threads start and never after, so any thread may read it without the
 * lock (the main thread does: keepalive on accept, the unix socket path at
 * shutdown). Lock order: apply_lock before cfg_lock. */
struct rcache__server {
    rcache__config_t cfg;         /* settings; runtime ones under cfg_lock */
    pthread_mutex_t cfg_lock;
    pthread_mutex_t apply_lock;   /* orders pushes of cfg to the cache */
    rcache__cache_settings_t applied; /* what the cache has; apply_lock */
    rcache_t *cache;
    struct rcache_tier *tier;     /* --l2 second tier (node.c), or NULL */
    struct event_base *base;      /* main thread */
    struct evconnlistener *tcp, *unix_l;
#define RCACHE__MAX_BIND 16
    struct evconnlistener *tcp_more[RCACHE__MAX_BIND]; /* bind's other addresses */
    int ntcp_more;
    int tcp_port;                 /* the port actually bound */
    rcache__worker_t *workers;
    int nworkers;
    unsigned next_worker;
    struct event *sig_term, *sig_int, *expire_timer, *stop_timer;
#define RCACHE__OTHER_SIGNALS 4
    struct event *sig_other[RCACHE__OTHER_SIGNALS]; /* HUP, USR1, USR2, ALRM */
    struct rcache__admin *admin;
    struct rcache__persist *persist; /* snapshots (persist.c) */
    uint64_t start_ms;
    char run_id[41];
    _Atomic int shutting_down;
    /* figures */
    _Atomic uint64_t next_client_id;
    _Atomic uint64_t connected_clients;
    _Atomic uint64_t total_connections;
    _Atomic uint64_t rejected_connections;
    _Atomic uint64_t ops_per_sec;   /* sampled by the main thread */
    /* values being written straight from cache entries (reply.c) */
    _Atomic uint64_t out_ref_bytes, out_refs;
    uint64_t ops_sample_ms, ops_sample_count;
    /* settings read on hot paths (copies of cfg fields) */
    _Atomic uint64_t maxclients;
    _Atomic uint64_t timeout_s;
    _Atomic uint64_t query_buf_limit;
    _Atomic uint64_t proto_max_bulk_len;
    _Atomic uint64_t output_buf_limit;
    _Atomic int auth_required;
    _Atomic uint64_t lua_time_limit_ms;
    _Atomic uint64_t pause_until_ms; /* CLIENT PAUSE deadline (mono ms), 0 = none */
    _Atomic int pause_all;           /* CLIENT PAUSE ALL (else WRITE) */
    /* client registry for CLIENT LIST */
    pthread_mutex_t clients_lock;
    rcache__client_t *all_clients;
    /* test hooks (debug.h): DEBUG exists only with enable-debug-command */
    int debug_enabled;              /* set at start, read-only after */
    rcache__debug_clock_t dclock;   /* the cache's clock if debug_enabled */
    _Atomic int active_expire_off;  /* DEBUG SET-ACTIVE-EXPIRE 0 */
};

/* 1 if c's pending output plus `extra` bytes a command is still building
 * is over client-output-buffer-limit: the client is then marked to be
 * closed (logged, as Redis) and the command should stop building (client.c). */
int rcache__client_output_over(rcache__client_t *c, size_t extra);
/* One CLIENT LIST line for c (caller holds clients_lock; client.c). */
size_t rcache__client_describe(rcache__client_t *c, rcache__client_t *self,
                               char *out, size_t cap);
/* Ask o's worker to close o soon (CLIENT KILL; caller holds clients_lock;
 * client.c). */
void rcache__client_kill(rcache__client_t *o);
/* c's pending output in bytes: out plus, under io_uring, what a send in
 * flight still holds (client.c). */
size_t rcache__client_out_len(const rcache__client_t *c);
/* The event notification method of c's worker ("epoll", or "io_uring"
 * under --io-engine uring; client.c). */
const char *rcache__client_event_method(rcache__client_t *c);
/* Write c's pending output now (its worker); -1 if c was closed. */
int rcache__client_flush(rcache__client_t *c);
/* Go on with a client whose EVAL came back from the script thread: read
 * again and run what it had pipelined behind it (client.c). */
void rcache__client_resume(rcache__client_t *c);
/* Total commands processed; calls of command id; reset both (net.c). */
uint64_t rcache__server_commands(rcache__server_t *s);
uint64_t rcache__server_calls(rcache__server_t *s, int id);
void rcache__server_reset_stats(rcache__server_t *s);
/* Change the live settings (server.c), the one way to do so after start:
 * under cfg_lock, edit(next, ctx) gets a copy of the current settings to
 * change (and validate; it must not reply or block), and when it returns 0
 * the runtime settings it changed replace the live ones and the hot-path
 * copies and log level are updated, still under the lock. Then, outside
 * cfg_lock (a lower limit can evict a lot; AUTH and CONFIG GET go on), the
 * cache gets the limits, default TTL and disabled mode that differ from
 * what it has. Those pushes are serialised by apply_lock and each pushes
 * the settings current when it runs, so two concurrent changes leave the
 * cache with the settings of the later one. Returns 0, edit's non-zero
 * result (use positive values), or -1 when out of memory (nothing
 * changed). Called from any thread except with cfg_lock or apply_lock
 * held. */
typedef int (*rcache__config_edit_fn)(rcache__config_t *next, void *ctx);
/* At start, before any worker runs: record that s->cache was opened with
 * s->cfg's limits and copy the hot settings into their atomics (server.c;
 * also used by the command fuzzer, which builds its own server). */
void rcache__server_adopt_cache(rcache__server_t *s);
int rcache__server_config_update(rcache__server_t *s, rcache__config_edit_fn edit,
                                 void *ctx);
/* Ask the main loop to shut down (SHUTDOWN command; server.c). */
void rcache__server_request_shutdown(rcache__server_t *s);
/* Active expiry (expire.c): reclaim expired keys, going on while many of
 * those examined had expired, for at most budget_us (0 = no limit).
 * Returns the number reclaimed. Thread-safe (the timer on the main thread,
 * DEBUG EXPIRE-CYCLE on a worker). */
uint64_t rcache__server_expire_cycle(rcache__server_t *s, uint64_t budget_us);

/* ---- replies (reply.c) ---------------------------------------------- */

void rcache__reply_raw(rcache__client_t *c, const char *s, size_t len);
void rcache__reply_ok(rcache__client_t *c);
void rcache__reply_status(rcache__client_t *c, const char *s);
/* msg is the full text without '-' and CRLF, e.g. "ERR syntax error". */
void rcache__reply_error(rcache__client_t *c, const char *msg);
void rcache__reply_errorf(rcache__client_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rcache__reply_int(rcache__client_t *c, long long v);
void rcache__reply_bulk(rcache__client_t *c, const void *p, size_t len);
void rcache__reply_bulk_cstr(rcache__client_t *c, const char *s);
void rcache__reply_bulk_ll(rcache__client_t *c, long long v);
void rcache__reply_null(rcache__client_t *c);
void rcache__reply_null_array(rcache__client_t *c);
void rcache__reply_array(rcache__client_t *c, long long n);
/* RESP3 aggregate and scalar types (HELLO 3), each with Redis 7.0's RESP2
 * form for a RESP2 client: a map of n pairs ("%n"; RESP2 "*2n"), a set
 * ("~n"; "*n"), a push frame (">n"; "*n"), a double (",d"; a bulk of
 * "%.17g", "inf", "-inf"), a boolean ("#t"/"#f"; ":1"/":0") and a verbatim
 * string ("=len+4\r\nfmt:..."; a plain bulk; fmt is 3 bytes, e.g. "txt"). */
void rcache__reply_map(rcache__client_t *c, long long n);
void rcache__reply_set(rcache__client_t *c, long long n);
void rcache__reply_push(rcache__client_t *c, long long n);
void rcache__reply_double(rcache__client_t *c, double d);
void rcache__reply_bool(rcache__client_t *c, int v);
void rcache__reply_verbatim(rcache__client_t *c, const char *fmt, const void *p, size_t len);
/* A big number ("(digits"; RESP2: a bulk of the digits). */
void rcache__reply_bignum(rcache__client_t *c, const char *digits, size_t len);
/* A SUBCOMMAND HELP reply: an array of status lines. */
void rcache__reply_help(rcache__client_t *c, const char *const *lines, size_t n);
/* Move everything in b (a reply built apart) to c's output. */
void rcache__reply_buffer(rcache__client_t *c, struct evbuffer *b);
/* Reply with a referenced value and release the ref (zero-copy when big). */
void rcache__reply_ref(rcache__client_t *c, rcache_ref_t *ref);
/* Common errors. */
void rcache__reply_syntax_error(rcache__client_t *c);
void rcache__reply_not_int(rcache__client_t *c);
/* "ERR unknown subcommand '<sub>'. Try <cmd> HELP." (cmd upper case). */
void rcache__reply_unknown_subcommand(rcache__client_t *c, const rcache__arg_t *sub,
                                      const char *cmd);
void rcache__reply_arity(rcache__client_t *c, const char *cmd);
void rcache__reply_lib_error(rcache__client_t *c, int rc);

#endif /* RCACHE_SERVER_COMMAND_H */
