/*
 * admin_stub.c - stand-in for the admin HTTP API, compiled into rcached
 * only while src/server/admin_http.c does not exist (see CMakeLists.txt),
 * so the server builds and runs before the admin module lands. It accepts
 * the options and serves nothing.
 */
#include "admin.h"
#include "server.h"

#include <string.h>

struct rcache__admin {
    int unused;
};

void rcache__admin_opts_default(rcache__admin_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->bind = "127.0.0.1";
    o->port = 6381;
    o->max_body_bytes = (size_t)1024 * 1024;
    o->timeout_s = 10;
}

rcache__admin_t *rcache__admin_start(struct event_base *base, rcache_t *cache,
                                     const rcache__admin_opts_t *opts,
                                     const rcache__server_hooks_t *hooks,
                                     char *err, size_t errlen) {
    static struct rcache__admin dummy;
    (void)base;
    (void)cache;
    (void)hooks;
    (void)err;
    (void)errlen;
    rcache__log(RCACHE__LOG_WARNING, "admin API not built (port %d ignored)", opts->port);
    return &dummy;
}

void rcache__admin_stop(rcache__admin_t *a) { (void)a; }
