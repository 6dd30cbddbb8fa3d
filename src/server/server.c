/*
 * server.c - rcached's lifecycle, in one place: start (log, cache and its
 * clock, listeners, worker threads, signals, the active-expiry timer whose
 * cycle is expire.c's, admin API), apply the live configuration to the
 * cache and the hot-path copies, run the main event loop, and shut down
 * gracefully on SIGTERM, SIGINT or SHUTDOWN.
 * SIGHUP reopens the log file (for log rotation); SIGUSR1, SIGUSR2 and
 * SIGALRM are logged and ignored, so a stray signal never kills the server
 * by its default action and leaves the admin token file and the unix
 * socket behind.
 *
 * It owns the live settings: CONFIG SET and the admin API both change them
 * through rcache__server_config_update(), which replaces only the runtime
 * options (the rest stay as start-up left them, readable without a lock)
 * and pushes to the cache only what changed (command.h has the rules).
 *
 * Everything the subsystems share lives in one rcache__server_t (its
 * settings parsed by main.c) passed down; this file sequences start and
 * stop and owns the main thread's timers and signal events.
 */
#include "admin/admin.h"
#include "notify.h"
#include "persist.h"
#include "pubsub.h"
#include "gate.h"
#include "functions.h"
#include "script.h"
#include "server.h"
#include "slowlog.h"
#include "tracking.h"
#include "node.h"
#include "db_key.h"
#include "version.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Active expiry (expire.c): every 100 ms, reclaim expired keys for at most
 * ~2 ms. */
#define EXPIRE_PERIOD_MS 100
#define EXPIRE_BUDGET_US 2000

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    rcache__server_t *s = arg;
    (void)what;
    rcache__log(RCACHE__LOG_WARNING, "Received %s scheduling shutdown...",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_base_loopbreak(s->base);
}

/* Signals that must not end the process: their default action would kill
 * it without the clean-up that removes the token file and unix socket. */
static const int OTHER_SIGNALS[RCACHE__OTHER_SIGNALS] = {SIGHUP, SIGUSR1, SIGUSR2, SIGALRM};

static void on_other_signal(evutil_socket_t sig, short what, void *arg) {
    rcache__server_t *s = arg;
    (void)what;
    const char *name = sig == SIGHUP    ? "SIGHUP"
                       : sig == SIGUSR1 ? "SIGUSR1"
                       : sig == SIGUSR2 ? "SIGUSR2"
                                        : "SIGALRM";
    /* logfile cannot change while running (not a CONFIG SET option), so
     * reading it here without cfg_lock is safe */
    if (sig != SIGHUP) {
        rcache__log(RCACHE__LOG_NOTICE, "Received %s, ignored", name);
    } else if (!s->cfg.logfile || !s->cfg.logfile[0]) {
        rcache__log(RCACHE__LOG_NOTICE, "Received SIGHUP (logging to stderr), ignored");
    } else if (rcache__log_reopen(s->cfg.logfile) != 0) {
        rcache__log(RCACHE__LOG_WARNING, "Received SIGHUP: cannot reopen logfile '%s': %s",
                    s->cfg.logfile, strerror(errno));
    } else {
        rcache__log(RCACHE__LOG_NOTICE, "Received SIGHUP, log file reopened");
    }
}

static void on_stop_request(evutil_socket_t fd, short what, void *arg) {
    rcache__server_t *s = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(s->base);
}

void rcache__server_request_shutdown(rcache__server_t *s) {
    event_active(s->stop_timer, EV_TIMEOUT, 0);
}

/* Copy the runtime settings read on hot paths into their atomics and set
 * the log level (cfg_lock held, or at start). */
static void apply_hot_settings(rcache__server_t *s) {
    atomic_store(&s->maxclients, s->cfg.maxclients);
    atomic_store(&s->timeout_s, s->cfg.timeout_s);
    atomic_store(&s->query_buf_limit, s->cfg.query_buf_limit);
    atomic_store(&s->proto_max_bulk_len, s->cfg.proto_max_bulk_len);
    atomic_store(&s->output_buf_limit, s->cfg.cobl[RCACHE__COBL_NORMAL].hard_bytes);
    const rcache__cobl_t *ps = &s->cfg.cobl[RCACHE__COBL_PUBSUB];
    rcache__pubsub_set_limits(ps->hard_bytes, ps->soft_bytes, ps->soft_s);
    rcache__notify_set_flags(s->cfg.notify_flags);
    atomic_store(&s->auth_required, s->cfg.requirepass != NULL);
    atomic_store(&s->lua_time_limit_ms, s->cfg.lua_time_limit_ms);
    rcache__tracking_set_max_keys(s->cfg.tracking_max_keys);
    rcache__slowlog_configure(s->cfg.slowlog_slower_than_us, s->cfg.slowlog_max_len,
                              s->cfg.latency_threshold_ms);
    rcache__log_set_level(s->cfg.loglevel);
}

static rcache__cache_settings_t cache_settings_of(const rcache__config_t *cfg) {
    rcache__cache_settings_t cs = {cfg->max_items, cfg->maxmemory, cfg->default_ttl_ms,
                                   cfg->disabled, cfg->policy};
    return cs;
}

/* Push to the cache what differs between the live settings and what it
 * has. Outside cfg_lock: lowering a limit evicts under the shard locks and
 * may take long. apply_lock serialises the pushes, and each reads the
 * settings current when it holds it, so the cache ends with the latest
 * settings whatever order two concurrent changes reach here in. */
static void apply_cache_settings(rcache__server_t *s) {
    pthread_mutex_lock(&s->apply_lock);
    pthread_mutex_lock(&s->cfg_lock);
    rcache__cache_settings_t want = cache_settings_of(&s->cfg);
    pthread_mutex_unlock(&s->cfg_lock);
    rcache__cache_settings_t *have = &s->applied;
    if (want.max_items != have->max_items || want.max_bytes != have->max_bytes)
        rcache_set_limits(s->cache, want.max_items, want.max_bytes);
    if (want.default_ttl_ms != have->default_ttl_ms)
        rcache_set_default_ttl(s->cache, want.default_ttl_ms);
    if (want.disabled != have->disabled)
        rcache_set_disabled(s->cache, want.disabled);
    if (want.policy != have->policy &&
        rcache_set_policy(s->cache, want.policy) != RCACHE_OK) {
        /* ENOMEM: the cache keeps its policy; report what it has */
        rcache__log(RCACHE__LOG_WARNING, "cannot switch the eviction policy to %s: "
                    "out of memory", rcache_policy_name(want.policy));
        want.policy = rcache_get_policy(s->cache);
    }
    *have = want;
    pthread_mutex_unlock(&s->apply_lock);
}

void rcache__server_adopt_cache(rcache__server_t *s) {
    s->applied = cache_settings_of(&s->cfg);
    apply_hot_settings(s);
}

int rcache__server_config_update(rcache__server_t *s, rcache__config_edit_fn edit,
                                 void *ctx) {
    rcache__config_t next;
    size_t changed = 0;
    int rc;
    pthread_mutex_lock(&s->cfg_lock);
    rc = rcache__config_copy(&next, &s->cfg) != 0 ? -1 : edit(&next, ctx);
    if (rc == 0) {
        changed = rcache__config_take_runtime(&s->cfg, &next);
        if (changed)
            apply_hot_settings(s);
    }
    pthread_mutex_unlock(&s->cfg_lock);
    rcache__config_free(&next);
    if (changed)
        apply_cache_settings(s);
    return rc;
}

/* instantaneous_ops_per_sec: commands over the last second or so. */
static void sample_ops(rcache__server_t *s) {
    uint64_t now = rcache__mono_ms();
    if (now - s->ops_sample_ms < 1000)
        return;
    uint64_t total = rcache__server_commands(s);
    if (s->ops_sample_ms && total >= s->ops_sample_count)
        atomic_store(&s->ops_per_sec,
                     (total - s->ops_sample_count) * 1000 / (now - s->ops_sample_ms));
    s->ops_sample_ms = now;
    s->ops_sample_count = total;
}

static void on_expire_timer(evutil_socket_t fd, short what, void *arg) {
    rcache__server_t *s = arg;
    (void)fd;
    (void)what;
    sample_ops(s);
    if (!atomic_load_explicit(&s->active_expire_off, memory_order_relaxed) &&
        rcache__gate_enter(s->nworkers) == 0) { /* expiry is a write: not
                                                   while a script or EXEC runs */
        rcache__server_expire_cycle(s, EXPIRE_BUDGET_US);
        rcache__gate_leave(s->nworkers);
    }
}

static void make_run_id(char out[41]) {
    unsigned char raw[20];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, raw, sizeof raw) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof raw) {
        /* No /dev/urandom: the run id only needs to differ between runs. */
        uint64_t x = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid();
        for (size_t i = 0; i < sizeof raw; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            raw[i] = (unsigned char)(x >> 24);
        }
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Make room for maxclients descriptors, lowering maxclients if the system
 * will not allow it (as Redis does). */
static void adjust_fd_limit(rcache__server_t *s) {
    const uint64_t reserved = 32 + (uint64_t)s->nworkers * 2;
    uint64_t need = s->cfg.maxclients + reserved;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur >= need)
        return;
    struct rlimit nl = rl;
    nl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
        rl = nl;
    if (rl.rlim_cur < need) {
        uint64_t allowed = rl.rlim_cur > reserved ? rl.rlim_cur - reserved : 1;
        rcache__log(RCACHE__LOG_WARNING,
                    "You requested maxclients of %llu requiring at least %llu max file "
                    "descriptors; maxclients lowered to %llu.",
                    (unsigned long long)s->cfg.maxclients, (unsigned long long)need,
                    (unsigned long long)allowed);
        s->cfg.maxclients = allowed;
    }
}

/* Open the cache with the start-up limits, then apply the live settings. */
static int open_cache(rcache__server_t *s) {
    rcache_config_t lc;
    rcache_config_init(&lc);
    lc.max_items = s->cfg.max_items;
    lc.max_bytes = s->cfg.maxmemory;
    lc.default_ttl_ms = s->cfg.default_ttl_ms;
    if (s->cfg.shards)
        lc.shards = (uint32_t)s->cfg.shards;
    lc.disabled = s->cfg.disabled;
    lc.on_removal = rcache__notify_removed; /* "expired"/"evicted" events */
    lc.policy = s->cfg.policy;
    lc.key_class = rcache__db_class; /* per-database counts (db_key.h) */
    lc.key_classes = RCACHE__DB_COUNT;
    /* DEBUG's clock only when DEBUG is allowed: otherwise the library's
     * own clock, with no indirection on every call. */
    s->debug_enabled = s->cfg.enable_debug_command;
    if (s->debug_enabled) {
        lc.clock = rcache__debug_clock_now;
        lc.clock_ctx = &s->dclock;
    }
    int rc = rcache_open(&lc, &s->cache);
    if (rc != RCACHE_OK) {
        rcache__log(RCACHE__LOG_WARNING, "cannot open the cache: %s", rcache_strerror(rc));
        return -1;
    }
    rcache__server_adopt_cache(s);
    return 0;
}

/* Start the admin HTTP API on the main event base (admin-port != 0). */
static int start_admin(rcache__server_t *s) {
    char err[1024] = "";
    rcache__admin_opts_t ao;
    rcache__server_hooks_t hooks;
    rcache__admin_opts_default(&ao);
    ao.bind = s->cfg.admin_bind ? s->cfg.admin_bind : "127.0.0.1";
    ao.port = (int)s->cfg.admin_port;
    ao.token = s->cfg.admin_token;
    if (s->cfg.admin_token_file)
        ao.token_file = s->cfg.admin_token_file;
    ao.metrics_auth = s->cfg.metrics_auth;
    ao.max_body_bytes = (size_t)s->cfg.admin_max_body;
    ao.timeout_s = (int)s->cfg.admin_timeout_s;
    ao.max_connections = (int)s->cfg.admin_max_conns;
    rcache__server_hooks_init(s, &hooks);
    s->admin = rcache__admin_start(s->base, s->cache, &ao, &hooks, err, sizeof err);
    if (!s->admin) {
        rcache__log(RCACHE__LOG_WARNING, "admin API: %s", err);
        fprintf(stderr, "rcached: admin API: %s\n", err);
        return -1;
    }
    return 0;
}

/* After the main loop: stop the admin API, drain and join the workers,
 * free the main thread's events, close the cache. */
static void shutdown_server(rcache__server_t *s) {
    rcache__log(RCACHE__LOG_NOTICE, "Shutting down: no new connections, flushing replies...");
    if (s->admin)
        rcache__admin_stop(s->admin);
    rcache__script_abort();
    rcache__script_thread_stop();
    rcache__server_stop(s);
    rcache__workers_free(s);
    rcache__script_shutdown();
    rcache__persist_shutdown(s); /* no client is left: the final snapshot */
    rcache__functions_shutdown(); /* after it: the snapshot keeps them */
    rcache__gate_free();
    rcache__pubsub_free();
    event_free(s->sig_term);
    event_free(s->sig_int);
    for (size_t i = 0; i < RCACHE__OTHER_SIGNALS; i++)
        event_free(s->sig_other[i]);
    event_free(s->stop_timer);
    event_free(s->expire_timer);
    event_base_free(s->base);
    rcache__node_close(s);
    rcache_close(s->cache);
    rcache__debug_clock_destroy(&s->dclock);
    if (s->cfg.pidfile)
        unlink(s->cfg.pidfile);
    rcache__config_free(&s->cfg);
    pthread_mutex_destroy(&s->cfg_lock);
    pthread_mutex_destroy(&s->apply_lock);
    pthread_mutex_destroy(&s->clients_lock);
}

/* Each redis.conf directive accepted but not applied, once (conf_compat.c). */
static void log_ignored(rcache__server_t *s) {
    const char *p = s->cfg.ignored;
    while (p && *p) {
        size_t n = strcspn(p, " ");
        rcache__log(RCACHE__LOG_NOTICE, "Config directive '%.*s' ignored: not applicable "
                                        "to rcached", (int)n, p);
        p += n + (p[n] == ' ');
    }
}

/* pidfile: written at start (as redis-server does, a failure is only
 * logged), removed at exit. */
static int write_pidfile(rcache__server_t *s) {
    if (!s->cfg.pidfile)
        return 0;
    FILE *f = fopen(s->cfg.pidfile, "w");
    if (!f) {
        rcache__log(RCACHE__LOG_WARNING, "Failed to write PID file %s: %s", s->cfg.pidfile,
                    strerror(errno));
        return 0;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return 0;
}

int rcache__server_run(rcache__server_t *s) {
    char err[1024] = "";

    /* One malloc arena: with glibc's default of one per thread, an entry
     * stored by one worker and evicted by another leaves free memory in
     * several arenas, and RSS drifts far above maxmemory under write-heavy
     * load (tests/hostile/hostile_rss.c measured +62 MiB on 64 MiB with two
     * workers). tcache keeps small allocations lock-free anyway. An
     * operator's own MALLOC_ARENA_MAX wins. Set before any thread starts. */
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 1);
    signal(SIGPIPE, SIG_IGN);
    /* Until the event loop handles them (below), these must not kill us. */
    for (size_t i = 0; i < RCACHE__OTHER_SIGNALS; i++)
        signal(OTHER_SIGNALS[i], SIG_IGN);
    rcache__log_set_level(s->cfg.loglevel);
    if (s->cfg.logfile && rcache__log_open(s->cfg.logfile) != 0) {
        fprintf(stderr, "rcached: cannot open logfile '%s': %s\n", s->cfg.logfile,
                strerror(errno));
        return 1;
    }
    if (evthread_use_pthreads() != 0) {
        rcache__log(RCACHE__LOG_WARNING, "libevent pthreads support unavailable");
        return 1;
    }

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->nworkers = s->cfg.threads ? (int)s->cfg.threads : (cores > 0 ? (int)cores : 1);
    adjust_fd_limit(s);
    pthread_mutex_init(&s->cfg_lock, NULL);
    pthread_mutex_init(&s->apply_lock, NULL);
    pthread_mutex_init(&s->clients_lock, NULL);
    rcache__debug_clock_init(&s->dclock);
    s->start_ms = rcache__wall_ms();
    make_run_id(s->run_id);
    rcache__commands_init();
    if (rcache__gate_init(s->nworkers + 1) != 0 || rcache__pubsub_init() != 0) {
        rcache__log(RCACHE__LOG_WARNING, "out of memory");
        return 1;
    }

    if (open_cache(s) != 0)
        return 1;
    /* The snapshot is loaded before any listener exists. */
    if (rcache__persist_init(s) != 0)
        return 1;
    if (rcache__node_open(s) != 0)
        return 1;

    rcache__log(RCACHE__LOG_NOTICE, "rcached %s starting (pid %d, %d worker threads)",
                RCACHED_VERSION, (int)getpid(), s->nworkers);
    log_ignored(s);
    if (write_pidfile(s) != 0)
        return 1;
    s->base = event_base_new();
    if (!s->base) {
        rcache__log(RCACHE__LOG_WARNING, "cannot create the event base");
        return 1;
    }
    if (rcache__server_listen(s, err, sizeof err) != 0) {
        rcache__log(RCACHE__LOG_WARNING, "%s", err);
        fprintf(stderr, "rcached: %s\n", err);
        return 1;
    }
    if (rcache__script_thread_start() != 0) {
        rcache__log(RCACHE__LOG_WARNING, "cannot start the script thread");
        return 1;
    }
    if (rcache__workers_start(s, err, sizeof err) != 0) {
        rcache__log(RCACHE__LOG_WARNING, "%s", err);
        return 1;
    }
    s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
    s->stop_timer = event_new(s->base, -1, 0, on_stop_request, s);
    s->expire_timer = event_new(s->base, -1, EV_PERSIST, on_expire_timer, s);
    struct timeval period = {0, (suseconds_t)EXPIRE_PERIOD_MS * 1000};
    if (!s->sig_term || !s->sig_int || !s->stop_timer || !s->expire_timer ||
        evsignal_add(s->sig_term, NULL) != 0 || evsignal_add(s->sig_int, NULL) != 0 ||
        event_add(s->expire_timer, &period) != 0) {
        rcache__log(RCACHE__LOG_WARNING, "cannot set up signal handling");
        return 1;
    }
    for (size_t i = 0; i < RCACHE__OTHER_SIGNALS; i++) {
        s->sig_other[i] = evsignal_new(s->base, OTHER_SIGNALS[i], on_other_signal, s);
        if (!s->sig_other[i] || evsignal_add(s->sig_other[i], NULL) != 0) {
            rcache__log(RCACHE__LOG_WARNING, "cannot set up signal handling");
            return 1;
        }
    }
    if (rcache__persist_attach(s) != 0) {
        rcache__log(RCACHE__LOG_WARNING, "cannot start the snapshot timer");
        return 1;
    }

    if (s->cfg.admin_port && start_admin(s) != 0) {
        rcache__server_stop(s);
        return 1;
    }

    if (s->tcp)
        rcache__log(RCACHE__LOG_NOTICE, "Ready to accept connections tcp on %s:%d",
                    s->cfg.bind, s->tcp_port);
    if (s->unix_l)
        rcache__log(RCACHE__LOG_NOTICE, "Ready to accept connections unix on %s",
                    s->cfg.unixsocket);

    event_base_dispatch(s->base);

    shutdown_server(s);
    rcache__log(RCACHE__LOG_NOTICE, "rcached is now ready to exit, bye bye...");
    return 0;
}
