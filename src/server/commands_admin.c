/*
 * commands_admin.c - operator commands with Redis 7.0's texts: CLIENT
 * REPLY ON|OFF|SKIP, CLIENT PAUSE|UNPAUSE, CLIENT NO-EVICT (called from
 * CLIENT in commands_conn.c), SLOWLOG GET|LEN|RESET|HELP, LATENCY
 * LATEST|HISTORY|RESET|HELP, and INFO's cpu section and extra server and
 * clients fields (called from INFO in commands_server.c).
 *
 * CLIENT REPLY: while a client's replies are off (or the one reply after
 * SKIP), client.c points its output at a scratch buffer for the command
 * (rcache__reply_mute/unmute), so no command needs to know.
 *
 * CLIENT PAUSE: a deadline and a mode in the server; before running a
 * command client.c asks rcache__pause_blocks(), and a blocked client is
 * held (it reads nothing more, its command stays in its query buffer) and
 * retried on a timer until the pause ends, as Redis postpones clients.
 */
#include "commands_admin.h"
#include "script.h"
#include "slowlog.h"

#include <event2/buffer.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- CLIENT REPLY ------------------------------------------------------ */

struct evbuffer *rcache__reply_mute(rcache__client_t *c) {
    if (c->reply_mode == RCACHE__REPLY_ON || c->monitor) /* a monitor's out is shared */
        return NULL;
    struct evbuffer *scratch = evbuffer_new();
    if (!scratch)
        return NULL; /* no memory: the reply goes out */
    if (c->reply_mode == RCACHE__REPLY_SKIP_NEXT)
        c->reply_mode = RCACHE__REPLY_SKIPPING;
    c->real_out = c->out;
    c->out = scratch;
    return scratch;
}

void rcache__reply_unmute(rcache__client_t *c, struct evbuffer *scratch) {
    if (!scratch)
        return;
    c->out = c->real_out;
    c->real_out = NULL;
    evbuffer_free(scratch);
    if (c->reply_mode == RCACHE__REPLY_SKIPPING)
        c->reply_mode = RCACHE__REPLY_ON;
}

static void client_reply(rcache__client_t *c, const rcache__arg_t *mode) {
    if (rcache__arg_is(mode, "on")) {
        c->reply_mode = RCACHE__REPLY_ON;
        if (c->real_out) /* this very command was muted: answer anyway */
            evbuffer_add(c->real_out, "+OK\r\n", 5);
        else
            rcache__reply_ok(c);
    } else if (rcache__arg_is(mode, "off")) {
        c->reply_mode = RCACHE__REPLY_OFF;
    } else if (rcache__arg_is(mode, "skip")) {
        if (c->reply_mode != RCACHE__REPLY_OFF)
            c->reply_mode = RCACHE__REPLY_SKIP_NEXT;
    } else {
        rcache__reply_syntax_error(c);
    }
}

/* ---- CLIENT PAUSE ------------------------------------------------------ */

int rcache__pause_blocks(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache__server_t *s = c->srv;
    uint64_t until = atomic_load_explicit(&s->pause_until_ms, memory_order_acquire);
    if (!until || argc == 0)
        return 0;
    if (rcache__mono_ms() >= until) {
        atomic_compare_exchange_strong(&s->pause_until_ms, &until, 0);
        return 0;
    }
    if (atomic_load(&s->pause_all))
        return 1;
    const rcache__cmd_t *cmd = rcache__command_lookup(argv[0].ptr, argv[0].len);
    if (!cmd)
        return 0;
    /* WRITE: what may write (scripts and functions unless _RO, EXEC). */
    return (cmd->flags & RCACHE__CMD_WRITE) ||
           ((cmd->flags & RCACHE__CMD_SCRIPT) && !(cmd->flags & RCACHE__CMD_READONLY)) ||
           (c->in_multi && !strcmp(cmd->name, "exec"));
}

static void client_pause(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long ms;
    int all = 1;
    if (argc != 3 && argc != 4) {
        rcache__reply_error(c, "ERR wrong number of arguments for 'client|pause' command");
        return;
    }
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &ms)) {
        rcache__reply_error(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        rcache__reply_error(c, "ERR timeout is negative");
        return;
    }
    if (argc == 4) {
        if (rcache__arg_is(&argv[3], "write"))
            all = 0;
        else if (!rcache__arg_is(&argv[3], "all")) {
            rcache__reply_error(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    rcache__server_t *s = c->srv;
    uint64_t until = rcache__mono_ms() + (uint64_t)ms, cur = atomic_load(&s->pause_until_ms);
    /* A pause in force is only ever extended, and ALL is not weakened. */
    if (cur && cur > rcache__mono_ms()) {
        all |= atomic_load(&s->pause_all);
        if (cur > until)
            until = cur;
    }
    atomic_store(&s->pause_all, all);
    atomic_store_explicit(&s->pause_until_ms, until ? until : 1, memory_order_release);
    rcache__reply_ok(c);
}

int rcache__client_admin(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "reply")) {
        if (argc != 3)
            rcache__reply_error(c, "ERR wrong number of arguments for 'client|reply' command");
        else
            client_reply(c, &argv[2]);
    } else if (rcache__arg_is(sub, "pause")) {
        client_pause(c, argc, argv);
    } else if (rcache__arg_is(sub, "unpause")) {
        if (argc != 2) {
            rcache__reply_error(c, "ERR wrong number of arguments for 'client|unpause' command");
            return 1;
        }
        atomic_store(&c->srv->pause_until_ms, 0);
        rcache__reply_ok(c);
    } else if (rcache__arg_is(sub, "no-evict")) {
        if (argc != 3)
            rcache__reply_error(c, "ERR wrong number of arguments for 'client|no-evict' command");
        else if (rcache__arg_is(&argv[2], "on") || rcache__arg_is(&argv[2], "off")) {
            atomic_store(&c->no_evict, rcache__arg_is(&argv[2], "on"));
            rcache__reply_ok(c);
        } else
            rcache__reply_syntax_error(c);
    } else {
        return 0;
    }
    return 1;
}

/* ---- SLOWLOG, LATENCY -------------------------------------------------- */

static const char *const SLOWLOG_HELP[] = {
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
};

void rcache__cmd_slowlog(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "get") && argc <= 3) {
        long long n = 10;
        if (argc == 3 && (!rcache__str2ll(argv[2].ptr, argv[2].len, &n) || n < -1)) {
            rcache__reply_error(c, "ERR count should be greater than or equal to -1");
            return;
        }
        rcache__slowlog_reply(c, n);
    } else if (rcache__arg_is(sub, "len") && argc == 2) {
        rcache__reply_int(c, (long long)rcache__slowlog_len());
    } else if (rcache__arg_is(sub, "reset") && argc == 2) {
        rcache__slowlog_reset();
        rcache__reply_ok(c);
    } else if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_help(c, SLOWLOG_HELP, sizeof SLOWLOG_HELP / sizeof SLOWLOG_HELP[0]);
    } else {
        rcache__reply_unknown_subcommand(c, sub, "SLOWLOG");
    }
}

static const char *const LATENCY_HELP[] = {
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "HISTORY <event>",
    "    Return time-latency samples for the specified event.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HELP",
    "    Prints this help.",
};

void rcache__cmd_latency(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "latest") && argc == 2) {
        rcache__latency_latest(c);
    } else if (rcache__arg_is(sub, "history") && argc == 3) {
        rcache__latency_history(c, &argv[2]);
    } else if (rcache__arg_is(sub, "reset")) {
        rcache__reply_int(c, (long long)rcache__latency_reset(argv + 2, argc - 2));
    } else if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_help(c, LATENCY_HELP, sizeof LATENCY_HELP / sizeof LATENCY_HELP[0]);
    } else {
        rcache__reply_unknown_subcommand(c, sub, "LATENCY");
    }
}

/* ---- INFO additions ---------------------------------------------------- */

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + tv.tv_usec / 1e6; }

/* The main thread's (tid = pid) user and system seconds, from
 * /proc/self/task/<pid>/stat (fields 14 and 15, in clock ticks). */
static void main_thread_cpu(double *user, double *sys) {
    char path[64], buf[1024];
    *user = *sys = 0;
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)getpid());
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut, st;
    long hz = sysconf(_SC_CLK_TCK);
    /* the kernel's own fixed format: fields are digits by construction */
    if (p && hz > 0 &&
        sscanf(p + 2, // NOLINT(cert-err34-c)
                "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
        *user = (double)ut / (double)hz;
        *sys = (double)st / (double)hz;
    }
}

void rcache__info_cpu(struct evbuffer *b) {
    struct rusage self, children;
    double mu, ms;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    main_thread_cpu(&mu, &ms);
    evbuffer_add_printf(b, "used_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\n"
                           "used_cpu_sys_children:%.6f\r\nused_cpu_user_children:%.6f\r\n"
                           "used_cpu_sys_main_thread:%.6f\r\nused_cpu_user_main_thread:%.6f\r\n",
                        tv_s(self.ru_stime), tv_s(self.ru_utime), tv_s(children.ru_stime),
                        tv_s(children.ru_utime), ms, mu);
}

void rcache__info_server_extra(rcache__server_t *s, struct evbuffer *b) {
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    evbuffer_add_printf(b, "process_supervised:no\r\n");
    evbuffer_add_printf(b, "redis_git_sha1:00000000\r\nredis_git_dirty:0\r\n"
                           "redis_build_id:0\r\ngcc_version:%d.%d.0\r\n"
                           "atomicvar_api:c11-builtin\r\nmonotonic_clock:POSIX clock_gettime\r\n"
                           "configured_hz:10\r\nlru_clock:%llu\r\nexecutable:%s\r\n",
#ifdef __GNUC__
                        __GNUC__, __GNUC_MINOR__,
#else
                        0, 0,
#endif
                        (unsigned long long)((rcache__wall_ms() / 1000) & ((1 << 24) - 1)),
                        exe);
    (void)s;
}

void rcache__info_clients_extra(rcache__server_t *s, struct evbuffer *b) {
    size_t in = 0, out = 0; /* the largest buffers, as of each client's last read */
    pthread_mutex_lock(&s->clients_lock);
    for (rcache__client_t *o = s->all_clients; o; o = o->gnext) {
        size_t q = atomic_load_explicit(&o->mem_qbuf, memory_order_relaxed) +
                   atomic_load_explicit(&o->mem_qfree, memory_order_relaxed);
        size_t w = atomic_load_explicit(&o->mem_out, memory_order_relaxed);
        in = q > in ? q : in;
        out = w > out ? w : out;
    }
    pthread_mutex_unlock(&s->clients_lock);
    evbuffer_add_printf(b, "client_recent_max_input_buffer:%zu\r\n"
                           "client_recent_max_output_buffer:%zu\r\n", in, out);
    uint64_t until = atomic_load(&s->pause_until_ms);
    evbuffer_add_printf(b, "cluster_connections:0\r\nclients_in_timeout_table:0\r\n"
                           "client_pause:%s\r\n",
                        until && until > rcache__mono_ms()
                            ? (atomic_load(&s->pause_all) ? "all" : "write")
                            : "off");
}

/* ---- MEMORY STATS ------------------------------------------------------- */

static void stat_int(rcache__client_t *c, const char *name, uint64_t v) {
    rcache__reply_bulk_cstr(c, name);
    rcache__reply_int(c, (long long)v);
}

static void stat_double(rcache__client_t *c, const char *name, double v) {
    rcache__reply_bulk_cstr(c, name);
    rcache__reply_double(c, v);
}

void rcache__memory_stats(rcache__client_t *c) {
    rcache__server_t *s = c->srv;
    rcache_stats_t st;
    rcache_stats(s->cache, &st);
    uint64_t rss = rcache__rss_bytes();
    uint64_t clients = atomic_load(&s->connected_clients) * sizeof(rcache__client_t);
    uint64_t lua = rcache__lua_memory();
    uint64_t total = st.bytes + clients + lua;
    rcache__reply_map(c, 18);
    stat_int(c, "peak.allocated", st.peak_bytes > total ? st.peak_bytes : total);
    stat_int(c, "total.allocated", total);
    stat_int(c, "startup.allocated", 0);
    stat_int(c, "replication.backlog", 0);
    stat_int(c, "clients.slaves", 0);
    stat_int(c, "clients.normal", clients);
    stat_int(c, "aof.buffer", 0);
    stat_int(c, "lua.caches", lua);
    stat_int(c, "overhead.total", clients + lua);
    stat_int(c, "keys.count", st.items);
    stat_int(c, "keys.bytes-per-key", st.items ? st.bytes / st.items : 0);
    stat_int(c, "dataset.bytes", st.bytes);
    stat_double(c, "dataset.percentage", total ? 100.0 * (double)st.bytes / (double)total : 0);
    stat_double(c, "peak.percentage",
                st.peak_bytes ? 100.0 * (double)total / (double)st.peak_bytes : 100.0);
    stat_int(c, "allocator.allocated", total);
    stat_int(c, "allocator.resident", rss);
    stat_double(c, "fragmentation", total ? (double)rss / (double)total : 0);
    stat_int(c, "fragmentation.bytes", rss > total ? rss - total : 0);
}
