/*
 * admin_http.c - the admin listener of rcached: starts evhttp on the
 * server's event base, routes every request itself (so unknown paths get a
 * JSON 404 and wrong methods a 405 with Allow), enforces the bearer token
 * on /api/... (and /metrics when asked), and offers the reply helpers the
 * handlers in admin_cache.c and admin_entries.c use.
 *
 * Everything runs on the event base's thread; the cache is thread-safe, so
 * nothing here locks.
 */
#include "admin_auth.h"
#include "admin_diag.h"
#include "admin_internal.h"
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* ---- options, time -------------------------------------------------- */

void rcache__admin_opts_default(rcache__admin_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->bind = "127.0.0.1";
    o->port = 6381;
    o->max_body_bytes = (size_t)1024 * 1024;
    o->timeout_s = 10;
    o->max_connections = 64;
}

uint64_t rcache__admin_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void rcache__admin_figures(rcache__admin_t *a, rcache__server_figures_t *out) {
    memset(out, 0, sizeof *out);
    if (a->hooks.figures)
        a->hooks.figures(a->hooks.ctx, out);
    if (out->rss_bytes == 0 && out->cpu_user_s == 0.0 && out->cpu_sys_s == 0.0)
        rcache__metrics_process(out);
    if (out->uptime_s == 0)
        out->uptime_s = (rcache__admin_mono_ms() - a->started_ms) / 1000u;
    out->admin_connections = a->nconns;
    out->admin_rejected = a->rejected;
    out->admin_timed_out = a->timed_out;
}

double rcache__admin_command_rate(rcache__admin_t *a) {
    rcache__server_figures_t f;
    uint64_t now = rcache__admin_mono_ms();
    unsigned n = RCACHE__ADMIN_RATE_SLOTS, best = n;
    double rate = 0.0;

    rcache__admin_figures(a, &f);
    /* Baseline: the oldest sample at most 10 s old, else the newest one. */
    for (unsigned k = 0; k < a->rate_n; k++) {
        unsigned i = (a->rate_head + n - 1 - k) % n; /* newest first */
        if (k == 0 || now - a->rate_ms[i] <= 10000u)
            best = i;
    }
    if (best < n && now > a->rate_ms[best] && f.total_commands >= a->rate_cmds[best])
        rate = (double)(f.total_commands - a->rate_cmds[best]) * 1000.0 /
               (double)(now - a->rate_ms[best]);
    else if (f.uptime_s > 0)
        rate = (double)f.total_commands / (double)f.uptime_s;
    /* Keep at most one sample a second. */
    if (a->rate_n == 0 || now - a->rate_ms[(a->rate_head + n - 1) % n] >= 1000u) {
        a->rate_ms[a->rate_head] = now;
        a->rate_cmds[a->rate_head] = f.total_commands;
        a->rate_head = (a->rate_head + 1) % n;
        if (a->rate_n < n)
            a->rate_n++;
    }
    return rate;
}

/* ---- replies ---------------------------------------------------------- */

static const char *reason(int code) {
    switch (code) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    }
    return "Status";
}

static void common_headers(struct evhttp_request *req, const char *ctype) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_remove_header(h, "Content-Type");
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
}

void rcache__admin_reply_json(struct evhttp_request *req, int code, json_t *body) {
    struct evbuffer *buf = evbuffer_new();
    char *text = body ? json_dumps(body, JSON_FLAGS) : NULL;
    json_decref(body);
    common_headers(req, "application/json; charset=utf-8");
    if (!buf || !text) { /* out of memory: a fixed body */
        free(text);
        if (buf)
            evbuffer_free(buf);
        evhttp_send_reply(req, 500, reason(500), NULL);
        return;
    }
    evbuffer_add(buf, text, strlen(text));
    evbuffer_add(buf, "\n", 1);
    free(text);
    evhttp_send_reply(req, code, reason(code), buf);
    evbuffer_free(buf);
}

void rcache__admin_reply_error(struct evhttp_request *req, int code,
                               const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    json_t *o;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o = json_pack("{s:s, s:s%, s:i}", "status", "error", "error", msg, strlen(msg),
                  "code", code);
    if (o && field)
        json_object_set_new(o, "field", json_string(field));
    rcache__admin_reply_json(req, code, o);
}

json_t *rcache__admin_read_json(rcache__admin_t *a, struct evhttp_request *req) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *data;
    json_error_t jerr;
    json_t *root, *o;

    if (len > a->max_body) {
        rcache__admin_reply_error(req, 413, NULL, "request body over %zu bytes", a->max_body);
        return NULL;
    }
    data = len ? (const char *)evbuffer_pullup(in, -1) : "";
    root = json_loadb(data ? data : "", data ? len : 0,
                      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (root)
        return root;
    {
        char msg[sizeof jerr.text + 96];
        snprintf(msg, sizeof msg, "malformed JSON: %s (line %d, column %d, position %d)",
                 jerr.text, jerr.line, jerr.column, jerr.position);
        o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "status", "error", "error", msg,
                      "code", 400, "line", jerr.line, "column", jerr.column, "position",
                      jerr.position);
    }
    rcache__admin_reply_json(req, 400, o);
    return NULL;
}

/* ---- routing ---------------------------------------------------------- */

enum auth_kind { AUTH_OPEN, AUTH_TOKEN, AUTH_METRICS };
#define M_GET EVHTTP_REQ_GET
#define M_POST EVHTTP_REQ_POST
#define M_DELETE EVHTTP_REQ_DELETE

static const struct route {
    const char *path;
    int prefix;       /* 1: path is a prefix, the rest goes to the handler */
    unsigned methods; /* GET implies HEAD */
    enum auth_kind auth;
    rcache__admin_handler_fn fn;
} ROUTES[] = {
    {"/healthz", 0, M_GET, AUTH_OPEN, rcache__admin_h_healthz},
    {"/metrics", 0, M_GET, AUTH_METRICS, rcache__admin_h_metrics},
    {"/api/cache/stats", 0, M_GET, AUTH_TOKEN, rcache__admin_h_stats},
    {"/api/cache/config", 0, M_GET | M_POST, AUTH_TOKEN, rcache__admin_h_config},
    {"/api/cache/clear", 0, M_POST, AUTH_TOKEN, rcache__admin_h_clear},
    {"/api/cache/entries", 0, M_GET, AUTH_TOKEN, rcache__admin_h_entries},
    {"/api/cache/entries/", 1, M_GET | M_DELETE, AUTH_TOKEN, rcache__admin_h_entry},
    {"/api/cache/invalidate", 0, M_POST, AUTH_TOKEN, rcache__admin_h_invalidate},
    {"/api/cache/snapshot", 0, M_GET | M_POST, AUTH_TOKEN, rcache__admin_h_snapshot},
    {"/api/performance/cache-stats", 0, M_GET, AUTH_TOKEN, rcache__admin_h_stats},
    {"/api/performance/cache-clear", 0, M_POST, AUTH_TOKEN, rcache__admin_h_clear},
    {"/api/performance/cache-invalidate", 0, M_POST, AUTH_TOKEN, rcache__admin_h_invalidate},
    {"/api/performance/metrics", 0, M_GET, AUTH_TOKEN, rcache__admin_h_perf_metrics},
    /* diagnostics and the dashboard (admin_diag.h) */
    {"/api/cache/history", 0, M_GET, AUTH_TOKEN, rcache__admin_h_history},
    {"/api/cache/mrc", 0, M_GET, AUTH_TOKEN, rcache__admin_h_mrc},
    {"/api/cache/hotkeys", 0, M_GET, AUTH_TOKEN, rcache__admin_h_hotkeys},
    {"/api/cache/sizes", 0, M_GET, AUTH_TOKEN, rcache__admin_h_sizes},
    {"/api/cache/namespaces", 0, M_GET, AUTH_TOKEN, rcache__admin_h_namespaces},
    {"/dashboard", 0, M_GET, AUTH_OPEN, rcache__admin_h_dashboard},
    {"/dashboard/", 1, M_GET, AUTH_OPEN, rcache__admin_h_dashboard},
};
#define NROUTES (sizeof ROUTES / sizeof ROUTES[0])

static void allow_header(struct evhttp_request *req, unsigned methods) {
    char allow[64];
    snprintf(allow, sizeof allow, "%s%s%s%s%s",
             methods & M_GET ? "GET, HEAD" : "",
             (methods & M_GET) && (methods & M_POST) ? ", " : "",
             methods & M_POST ? "POST" : "",
             (methods & (M_GET | M_POST)) && (methods & M_DELETE) ? ", " : "",
             methods & M_DELETE ? "DELETE" : "");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
}

static const char *method_name(enum evhttp_cmd_type m) {
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "?";
}

/* 0 when the request may go on; otherwise a 401/403 has been sent. */
static int authorize(rcache__admin_t *a, struct evhttp_request *req) {
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    int rc = rcache__admin_auth_check(a, h);
    if (rc == 401) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"rcached\"");
        rcache__admin_reply_error(req, 401, NULL,
                                  "missing bearer token (Authorization: Bearer <token>)");
    } else if (rc) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"rcached\", error=\"invalid_token\"");
        rcache__admin_reply_error(req, 403, NULL, "invalid token");
    }
    return rc;
}

static void dispatch(struct evhttp_request *req, void *arg) {
    rcache__admin_t *a = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    const struct route *r = NULL;
    char *path;
    const char *query, *q;
    size_t plen;

    rcache__admin_conn_request(a, req);
    if (!uri || uri[0] != '/') {
        rcache__admin_reply_error(req, 400, NULL, "request target must be an absolute path");
        return;
    }
    q = strchr(uri, '?');
    plen = q ? (size_t)(q - uri) : strlen(uri);
    query = q ? q + 1 : NULL;
    path = strndup(uri, plen);
    if (!path) {
        rcache__admin_reply_error(req, 500, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < NROUTES && !r; i++) {
        size_t n = strlen(ROUTES[i].path);
        if (ROUTES[i].prefix ? (plen > n && strncmp(path, ROUTES[i].path, n) == 0)
                             : strcmp(path, ROUTES[i].path) == 0)
            r = &ROUTES[i];
    }
    /* /api/... needs the token even to learn that a path does not exist. */
    if ((r && (r->auth == AUTH_TOKEN || (r->auth == AUTH_METRICS && a->metrics_auth))) ||
        (!r && strncmp(path, "/api/", 5) == 0)) {
        if (authorize(a, req) != 0)
            goto out;
    }
    if (!r) {
        rcache__admin_reply_error(req, 404, NULL, "no such endpoint: %s", path);
        goto out;
    }
    if (!((unsigned)m & r->methods) && !(m == EVHTTP_REQ_HEAD && (r->methods & M_GET))) {
        allow_header(req, r->methods);
        rcache__admin_reply_error(req, 405, NULL, "method %s not allowed on %s",
                                  method_name(m), r->path);
        goto out;
    }
    r->fn(a, req, r->prefix ? path + strlen(r->path) : "", query);
out:
    free(path);
}

/* ---- lifecycle -------------------------------------------------------- */

rcache__admin_t *rcache__admin_start(struct event_base *base, rcache_t *cache,
                                     const rcache__admin_opts_t *opts,
                                     const rcache__server_hooks_t *hooks,
                                     char *err, size_t errlen) {
    rcache__admin_opts_t def;
    rcache__admin_t *a;
    const char *bind;

    if (!err || errlen == 0) {
        static char sink[8];
        err = sink;
        errlen = sizeof sink;
    }
    err[0] = '\0';
    if (!opts) {
        rcache__admin_opts_default(&def);
        opts = &def;
    }
    if (!base || !cache) {
        snprintf(err, errlen, "no event base or cache");
        return NULL;
    }
    if (opts->port <= 0 || opts->port > 65535) {
        snprintf(err, errlen, "invalid port %d", opts->port);
        return NULL;
    }
    if (opts->timeout_s < 0) {
        snprintf(err, errlen, "invalid timeout %d", opts->timeout_s);
        return NULL;
    }
    a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->base = base;
    a->cache = cache;
    if (hooks)
        a->hooks = *hooks;
    a->metrics_auth = opts->metrics_auth;
    a->max_body = opts->max_body_bytes ? opts->max_body_bytes : (size_t)1024 * 1024;
    a->port = opts->port;
    a->started_ms = rcache__admin_mono_ms();
    a->http = evhttp_new(base);
    if (!a->http) {
        snprintf(err, errlen, "cannot create the HTTP server");
        free(a);
        return NULL;
    }
    evhttp_set_max_body_size(a->http, (ev_ssize_t)a->max_body);
    /* Over the cap, read and drop the rest of the body before answering 413,
     * so the client sees the 413 instead of a reset mid-upload. */
    evhttp_set_flags(a->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_max_headers_size(a->http, (ev_ssize_t)64 * 1024);
    evhttp_set_timeout(a->http, opts->timeout_s ? opts->timeout_s : 10);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(a->http, "application/json; charset=utf-8");
    evhttp_set_gencb(a->http, dispatch, a);
    if (rcache__admin_conn_init(a, opts->max_connections, opts->timeout_s) != 0) {
        snprintf(err, errlen, "out of memory");
        evhttp_free(a->http);
        free(a);
        return NULL;
    }
    bind = opts->bind && opts->bind[0] ? opts->bind : "127.0.0.1";
    errno = 0;
    a->sock = evhttp_bind_socket_with_handle(a->http, bind, (ev_uint16_t)opts->port);
    if (!a->sock) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", bind, opts->port,
                 errno ? strerror(errno) : "bind failed");
        evhttp_free(a->http);
        rcache__admin_conn_fini(a);
        free(a);
        return NULL;
    }
    if (rcache__admin_auth_init(a, opts, err, errlen) != 0) {
        evhttp_free(a->http);
        rcache__admin_conn_fini(a);
        free(a);
        return NULL;
    }
    rcache__admin_diag_start(a); /* -1: no history, the rest works */
    return a;
}

void rcache__admin_stop(rcache__admin_t *a) {
    if (!a)
        return;
    if (a->http)
        evhttp_free(a->http);
    rcache__admin_conn_fini(a);
    rcache__admin_diag_stop(a);
    rcache__admin_auth_fini(a);
    free(a);
}
