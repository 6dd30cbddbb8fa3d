/*
 * admin_harness.c - runs the admin HTTP API alone (no RESP server): an
 * event base, a cache, fake server hooks and rcache__admin_start(), so the
 * admin endpoints can be exercised with curl before and apart from rcached.
 *
 *   admin_harness --port P|0 [--token T] [--token-file F] [--metrics-auth]
 *                 [--max-body N] [--timeout S] [--max-items N] [--fill N]
 *                 [--specials]
 *
 * --port 0 picks a free random high port (retrying). Prints "PORT=<n>" on
 * stdout once listening; SIGTERM/SIGINT stop it cleanly.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "admin.h"
#include "rcache.h"

static uint64_t fake_commands;

static void fake_figures(void *ctx, rcache__server_figures_t *out) {
    (void)ctx;
    out->connected_clients = 1;
    out->total_connections = 7;
    out->rejected_connections = 0;
    out->total_commands = fake_commands += 3;
}

static void fake_foreach(void *ctx, void (*fn)(const char *, uint64_t, void *), void *arg) {
    (void)ctx;
    fn("get", 10, arg);
    fn("set", 5, arg);
    fn("del", 1, arg);
}

static void on_signal(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void fill(rcache_t *c, long n, int specials) {
    char k[64], v[64];
    for (long i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof k, "key:%06ld", i);
        int vl = snprintf(v, sizeof v, "value-%ld", i);
        rcache_set(c, k, (size_t)kl, v, (size_t)vl, 0, 0);
    }
    if (specials) {
        static const char bin[] = {(char)0xff, 0, 'b', 'i', 'n'};
        for (int i = 1; i <= 5; i++) {
            int kl = snprintf(k, sizeof k, "model:v3:%d", i);
            rcache_set(c, k, (size_t)kl, "m", 1, 0, 0);
        }
        for (int i = 1; i <= 3; i++) {
            int kl = snprintf(k, sizeof k, "model:v2:%d", i);
            rcache_tag_t tg[2] = {{"img:42", 6}, {"v2", 2}};
            rcache_set_opts_t o = {.ttl_ms = 0, .tags = tg, .ntags = 2};
            rcache_set_ex(c, k, (size_t)kl, "m", 1, &o, NULL); /* tagged */
        }
        rcache_set(c, bin, sizeof bin, "b", 1, 0, 0);
        rcache_set(c, "a/b c+d", 7, "s", 1, 0, 0);
        rcache_set(c, "ttl:key", 7, "t", 1, 100000, 0);
    }
}

int main(int argc, char **argv) {
    rcache__admin_opts_t o;
    rcache__server_hooks_t hooks = {.figures = fake_figures, .foreach_command = fake_foreach};
    rcache_config_t cfg;
    rcache_t *cache;
    struct event_base *base;
    struct event *sigterm, *sigint;
    rcache__admin_t *admin = NULL;
    char err[512] = "";
    long fill_n = 0;
    int specials = 0, want_port = 6381;

    rcache__admin_opts_default(&o);
    rcache_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--metrics-auth")) { o.metrics_auth = 1; continue; }
        if (!strcmp(a, "--specials")) { specials = 1; continue; }
        if (!v) { fprintf(stderr, "admin_harness: %s needs a value\n", a); return 2; }
        i++;
        if (!strcmp(a, "--port")) want_port = atoi(v);
        else if (!strcmp(a, "--token")) o.token = v;
        else if (!strcmp(a, "--token-file")) o.token_file = v;
        else if (!strcmp(a, "--max-body")) o.max_body_bytes = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "--timeout")) o.timeout_s = atoi(v);
        else if (!strcmp(a, "--max-items")) cfg.max_items = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--fill")) fill_n = atol(v);
        else { fprintf(stderr, "admin_harness: unknown option %s\n", a); return 2; }
    }
    if (rcache_open(&cfg, &cache) != RCACHE_OK) {
        fprintf(stderr, "admin_harness: rcache_open failed\n");
        return 1;
    }
    fill(cache, fill_n, specials);
    base = event_base_new();
    if (!base)
        return 1;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int tries = 0; tries < 50 && !admin; tries++) {
        o.port = want_port ? want_port : 20000 + rand() % 40000;
        admin = rcache__admin_start(base, cache, &o, &hooks, err, sizeof err);
        if (want_port)
            break;
    }
    if (!admin) {
        fprintf(stderr, "admin_harness: %s\n", err);
        return 1;
    }
    printf("PORT=%d\n", o.port);
    fflush(stdout);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_base_dispatch(base);
    rcache__admin_stop(admin);
    event_free(sigterm);
    event_free(sigint);
    event_base_free(base);
    rcache_close(cache);
    return 0;
}
