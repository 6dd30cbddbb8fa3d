/*
 * hooks.c - the server's side of the admin API contract (admin.h): the
 * figures and per-command call counts the admin module reports, read from
 * the server's atomics so the admin thread never touches worker state.
 */
#include "admin/admin.h"
#include "admin/metrics.h"
#include "server.h"


static void figures(void *ctx, rcache__server_figures_t *out) {
    rcache__server_t *s = ctx;
    out->uptime_s = (rcache__wall_ms() - s->start_ms) / 1000;
    out->connected_clients = atomic_load(&s->connected_clients);
    out->total_connections = atomic_load(&s->total_connections);
    out->rejected_connections = atomic_load(&s->rejected_connections);
    out->total_commands = rcache__server_commands(s);
    out->cpu_user_s = out->cpu_sys_s = 0;
    out->rss_bytes = 0;
    rcache__metrics_process(out);
}

static void foreach_command(void *ctx,
                            void (*fn)(const char *name, uint64_t calls, void *arg),
                            void *arg) {
    rcache__server_t *s = ctx;
    size_t n;
    const rcache__cmd_t *t = rcache__command_table(&n);
    for (size_t i = 0; i < n; i++) {
        uint64_t calls = rcache__server_calls(s, t[i].id);
        if (calls)
            fn(t[i].name, calls, arg);
    }
}

void rcache__server_hooks_init(rcache__server_t *s, struct rcache__server_hooks *h) {
    h->ctx = s;
    h->figures = figures;
    h->foreach_command = foreach_command;
}
