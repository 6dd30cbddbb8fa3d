/*
 * tiertest.h - shared helpers of the tier tests: a redis-server of their
 * own on a free loopback port (started, killed, restarted on the same
 * port), a raw hiredis client for it, and waiting for a condition with a
 * generous deadline (never a timing assertion).
 */
#ifndef RCACHE_TIERTEST_H
#define RCACHE_TIERTEST_H

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rcache_tier.h"

#define TT_DEADLINE_MS 30000 /* for every wait: generous on a loaded CI */

typedef struct tt_redis {
    pid_t pid;
    int port;
    char dir[64];
    char url[96];
} tt_redis_t;

static inline uint64_t tt_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void tt_pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Poll cond(arg) every 5 ms until true or TT_DEADLINE_MS; returns it. */
static inline int tt_wait(int (*cond)(void *), void *arg) {
    uint64_t end = tt_now_ms() + TT_DEADLINE_MS;
    while (!cond(arg)) {
        if (tt_now_ms() > end)
            return 0;
        tt_pause_ms(5);
    }
    return 1;
}

/* A free port below the kernel's ephemeral range (as tests/server/rtest.py
 * does): a kernel-chosen port can be taken by another test's outgoing
 * connection while a server is being restarted on it. */
static inline int tt_free_port(void) {
    int lo = 32768, port = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d", &lo) != 1 || lo <= 12000)
            lo = 32768;
        fclose(f);
    }
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (int i = 0; i < 200 && !port; i++) {
        struct sockaddr_in a = {0};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int p = 10000 + (int)(rand_r(&seed) % (unsigned)(lo - 10000));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)p);
        assert_true(fd >= 0);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0)
            port = p;
        close(fd);
    }
    assert_true(port != 0);
    return port;
}

static inline int tt_have_redis(void) {
    return system("command -v redis-server >/dev/null 2>&1") == 0;
}

static inline redisContext *tt_client(const tt_redis_t *r) {
    return redisConnect("127.0.0.1", r->port);
}

/* Spawn redis-server on r->port (already chosen); 0 once it answers. */
static inline int tt_redis_spawn(tt_redis_t *r) {
    char port[16], log[128];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    r->pid = fork();
    if (r->pid == 0) {
        execlp("redis-server", "redis-server", "--port", port, "--bind",
               "127.0.0.1", "--dir", r->dir, "--save", "", "--appendonly",
               "no", "--daemonize", "no", "--logfile", log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1500; i++) {
        int st;
        redisContext *c;
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
            r->pid = -1;
            return -1;
        }
        c = tt_client(r);
        if (c && !c->err) {
            redisReply *p = redisCommand(c, "PING");
            int ok = p && p->type == REDIS_REPLY_STATUS;
            if (p)
                freeReplyObject(p);
            redisFree(c);
            if (ok)
                return 0;
        } else if (c) {
            redisFree(c);
        }
        tt_pause_ms(20);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = -1;
    return -1;
}

static inline void tt_redis_start(tt_redis_t *r) {
    snprintf(r->dir, sizeof r->dir, "/tmp/rcache-tier-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = tt_free_port();
        if (tt_redis_spawn(r) == 0) {
            snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
            return;
        }
    }
    fail_msg("redis-server did not start (see %s/redis.log)", r->dir);
}

static inline void tt_redis_kill(tt_redis_t *r) {
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
    }
    r->pid = -1;
}

/* Start again on the same port (a restart: empty, no snapshot). */
static inline void tt_redis_restart(tt_redis_t *r) {
    for (int attempt = 0; attempt < 50; attempt++) {
        if (tt_redis_spawn(r) == 0)
            return;
        tt_pause_ms(100);
    }
    fail_msg("redis-server did not restart on port %d", r->port);
}

static inline void tt_redis_stop(tt_redis_t *r) {
    char cmd[128];
    tt_redis_kill(r);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
    (void)!system(cmd);
}

/* Run a command on a fresh client; the reply (caller frees) or NULL. */
static inline redisReply *tt_cmd(const tt_redis_t *r, const char *fmt, ...) {
    redisContext *c = tt_client(r);
    redisReply *p = NULL;
    va_list ap;
    if (c && !c->err) {
        va_start(ap, fmt);
        p = redisvCommand(c, fmt, ap);
        va_end(ap);
    }
    if (c)
        redisFree(c);
    return p;
}

static inline rcache_t *tt_cache(void) {
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = 100000;
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    return c;
}

/* A node: an L1 cache with a tier on url. */
typedef struct tt_node {
    rcache_t *c;
    rcache_tier_t *t;
} tt_node_t;

static inline void tt_node_open(tt_node_t *n, const char *url,
                                const rcache_tier_opts_t *o) {
    n->c = tt_cache();
    assert_int_equal(rcache_tier_open(n->c, url, o, &n->t), RCACHE_OK);
}

static inline void tt_node_close(tt_node_t *n) {
    rcache_tier_close(n->t);
    rcache_close(n->c);
}

static inline int tt_node_connected(void *arg) {
    rcache_tier_stats_t s;
    rcache_tier_stats(((tt_node_t *)arg)->t, &s);
    return s.connected;
}

typedef struct tt_inval_wait {
    tt_node_t *n;
    uint64_t count;
} tt_inval_wait_t;

static inline int tt_inval_reached(void *arg) {
    tt_inval_wait_t *w = arg;
    rcache_tier_stats_t s;
    rcache_tier_stats(w->n->t, &s);
    return s.invalidations >= w->count;
}

/* Wait until n's bus has received at least count invalidated keys (so a
 * write's invalidation cannot land after a read the test makes next). */
static inline void tt_wait_inval(tt_node_t *n, uint64_t count) {
    tt_inval_wait_t w = {n, count};
    assert_true(tt_wait(tt_inval_reached, &w));
}

/* The node's L1 alone holds key with value want (NULL: holds nothing). */
static inline int tt_l1_is(tt_node_t *n, const char *key, const char *want) {
    void *v = NULL;
    size_t len = 0;
    int rc = rcache_get_alloc(n->c, key, strlen(key), &v, &len), ok;
    if (!want)
        ok = rc == RCACHE_ENOTFOUND;
    else
        ok = rc == RCACHE_OK && len == strlen(want) && memcmp(v, want, len) == 0;
    free(v);
    return ok;
}

/* Read through the tier; 1 if it gives want. */
static inline int tt_get_is(tt_node_t *n, const char *key, const char *want) {
    void *v = NULL;
    size_t len = 0;
    int rc = rcache_tier_get_alloc(n->t, key, strlen(key), &v, &len), ok;
    if (!want)
        ok = rc == RCACHE_ENOTFOUND;
    else
        ok = rc == RCACHE_OK && len == strlen(want) && memcmp(v, want, len) == 0;
    free(v);
    return ok;
}

#define TT_SKIP_WITHOUT_REDIS()                                              \
    do {                                                                     \
        if (!tt_have_redis()) {                                              \
            fprintf(stderr, "redis-server missing: skipped\n");              \
            return 77;                                                       \
        }                                                                    \
    } while (0)

/* The group fixture of a test file whose cases share one redis-server:
 * defines `static tt_redis_t R` and the cmocka group setup/teardown
 * tt_group_setup / tt_group_teardown that start and stop it. */
#define TT_REDIS_GROUP_FIXTURE                                                 \
    static tt_redis_t R;                                                       \
    static int tt_group_setup(void **state) {                                  \
        (void)state;                                                           \
        tt_redis_start(&R);                                                    \
        return 0;                                                              \
    }                                                                          \
    static int tt_group_teardown(void **state) {                               \
        (void)state;                                                           \
        tt_redis_stop(&R);                                                     \
        return 0;                                                              \
    }

#endif
