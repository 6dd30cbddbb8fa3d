/*
 * admin_internal.h - what the admin module's files share (admin_http.c,
 * admin_auth.c, admin_cache.c, admin_entries.c, admin_codec.c, metrics.c).
 * Nothing here is seen by the rest of the server: its contract is admin.h.
 */
#ifndef RCACHE_ADMIN_INTERNAL_H
#define RCACHE_ADMIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "admin.h"

struct evhttp;
struct evhttp_request;
struct evhttp_bound_socket;
struct event;

/* Samples of the command counter for the commands-per-second figure. */
#define RCACHE__ADMIN_RATE_SLOTS 11 /* 10 s window, one sample a second */

struct rcache__admin_conn;

struct rcache__admin {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    struct event *rate_timer;
    rcache_t *cache;
    rcache__server_hooks_t hooks; /* zeroed when the server gave none */
    char *token;                  /* bearer token (never logged) */
    size_t token_len;
    char *token_file;             /* the file we wrote, removed at stop */
    int metrics_auth;
    size_t max_body;
    int port;                     /* bound port */
    uint64_t started_ms;          /* monotonic, for uptime without hooks */
    uint64_t rate_cmds[RCACHE__ADMIN_RATE_SLOTS];
    uint64_t rate_ms[RCACHE__ADMIN_RATE_SLOTS];
    unsigned rate_head, rate_n;
    /* connections (admin_conn.c) */
    struct rcache__admin_conn *conns;   /* counted, with a deadline */
    struct rcache__admin_conn *pending; /* accepted, not yet fixed up */
    struct event *fixup;
    unsigned nconns, max_conns;         /* max 0 = unbounded */
    int timeout_s;                      /* whole-request deadline */
    uint64_t rejected, timed_out;
    struct rcache__admin_diag *diag; /* admin_diag.c: history, dashboard */
};

/* ---- connections (admin_conn.c) -------------------------------------- */
/* Cap connections at max_conns (0 = no cap) and give each request a
 * deadline of timeout_s seconds; call after evhttp_new. 0 or -1. */
int rcache__admin_conn_init(rcache__admin_t *a, int max_conns, int timeout_s);
/* A request was read: its connection's deadline starts again. */
void rcache__admin_conn_request(rcache__admin_t *a, struct evhttp_request *req);
/* After evhttp_free(): release what is left. */
void rcache__admin_conn_fini(rcache__admin_t *a);

/* ---- replies (admin_http.c) ----------------------------------------- */
/* Send body (reference stolen) as JSON with status code. */
void rcache__admin_reply_json(struct evhttp_request *req, int code, json_t *body);
/* {"status":"error","error":message} plus "field" when field != NULL. */
void rcache__admin_reply_error(struct evhttp_request *req, int code,
                               const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Parse the request body as JSON (a 400/413 reply is sent on failure and
 * NULL returned). */
json_t *rcache__admin_read_json(rcache__admin_t *a, struct evhttp_request *req);
/* Monotonic milliseconds. */
uint64_t rcache__admin_mono_ms(void);
/* The server's figures, completed with process figures (metrics.c) where
 * the server gave none. */
void rcache__admin_figures(rcache__admin_t *a, rcache__server_figures_t *out);
/* Commands per second over the last ~10 s (0 when unknown). */
double rcache__admin_command_rate(rcache__admin_t *a);

/* ---- handlers --------------------------------------------------------- */
/* `rest` is the raw (still percent-encoded) path after the route prefix,
 * `query` the raw query string or NULL. */
typedef void (*rcache__admin_handler_fn)(rcache__admin_t *a,
                                         struct evhttp_request *req,
                                         const char *rest, const char *query);
/* admin_cache.c */
void rcache__admin_h_stats(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
void rcache__admin_h_config(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
void rcache__admin_h_clear(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
void rcache__admin_h_invalidate(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
void rcache__admin_h_perf_metrics(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
void rcache__admin_h_healthz(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
void rcache__admin_h_metrics(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
/* admin_snapshot.c */
void rcache__admin_h_snapshot(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
/* admin_entries.c */
void rcache__admin_h_entries(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
void rcache__admin_h_entry(rcache__admin_t *, struct evhttp_request *, const char *, const char *);
/* The ?db= option (SELECT's database, 0..RCACHE__DB_COUNT-1, default 0)
 * into *db: 0, or -1 after replying 400 (not a number, out of range). */
int rcache__admin_query_db(struct evhttp_request *req, const char *query, int *db);
/* The stored form of key[0..len) in database db (db_key.h): a malloc'd
 * copy with db's prefix in *out (NUL-terminated), or -1 out of memory.
 * Database 0 gets a plain copy. */
int rcache__admin_db_key(int db, const char *key, size_t len, char **out, size_t *out_len);

/* ---- codecs (admin_codec.c) ------------------------------------------ */
/* 1 if s[0..n) is valid UTF-8 without NUL bytes. */
int rcache__admin_utf8_ok(const void *s, size_t n);
/* Base64 (RFC 4648, padded); malloc'd NUL-terminated text or NULL. */
char *rcache__admin_b64_encode(const void *data, size_t n);
/* Decode base64 (padded or not, standard or URL alphabet); malloc'd bytes
 * in *out (NUL-terminated for convenience) or -1 on bad input. */
int rcache__admin_b64_decode(const char *s, size_t n, unsigned char **out, size_t *out_len);
/* Percent-decode s[0..n) ('+' -> ' ' when plus); malloc'd, NUL-terminated
 * copy in *out, -1 on a bad escape or no memory. */
int rcache__admin_pct_decode(const char *s, size_t n, int plus, char **out, size_t *out_len);
/* Find name=value in a raw query string and decode the value (malloc'd in
 * *out). Returns 1 found, 0 absent, -1 bad encoding or no memory. */
int rcache__admin_query_get(const char *query, const char *name, char **out, size_t *out_len);

#endif /* RCACHE_ADMIN_INTERNAL_H */
