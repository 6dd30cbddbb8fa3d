/*
 * tier_bench.c - rcache-tier-bench: what the Redis second tier costs.
 * Prints three figures, each as a ratio against an anchor measured in the
 * same run (absolute times drift on a shared machine):
 *  1. L1 hit through rcache_tier_get_ref() vs rcache_get_ref() on the same
 *     cache (the tier must add no measurable cost to a hit);
 *  2. L2 hit (L1 miss: GET + PTTL pipelined, install in L1) vs one raw
 *     hiredis GET round trip to the same redis-server;
 *  3. invalidation propagation on loopback: a write on node A until the key
 *     is gone from the L1 of nodes B and C (p50, p99), over serial rounds.
 * Usage: rcache-tier-bench [redis://host:port]   (default: starts its own
 * redis-server on a free loopback port).
 */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rcache_tier.h"

#define NKEYS 20000

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pid_t start_redis(char *url, size_t cap) {
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    char ps[16];
    pid_t pid;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    port = ntohs(a.sin_port);
    close(fd);
    snprintf(ps, sizeof ps, "%d", port);
    pid = fork();
    if (pid == 0) {
        execlp("redis-server", "redis-server", "--port", ps, "--bind",
               "127.0.0.1", "--save", "", "--appendonly", "no", "--logfile",
               "/dev/null", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        redisContext *c = redisConnect("127.0.0.1", port);
        int ok = c && !c->err;
        if (c)
            redisFree(c);
        if (ok) {
            snprintf(url, cap, "redis://127.0.0.1:%d", port);
            return pid;
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    return -1;
}

static void key(char *k, int i) { snprintf(k, 24, "bench:%08d", i); }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void wait_connected(rcache_tier_t *t) {
    rcache_tier_stats_t s;
    for (int i = 0; i < 3000; i++) {
        rcache_tier_stats(t, &s);
        if (s.connected)
            return;
        usleep(10000);
    }
    fprintf(stderr, "tier did not connect\n");
    exit(1);
}

/* 1: ns per hit, best of 5 alternating runs. */
static void bench_l1(rcache_tier_t *t, rcache_t *c) {
    enum { OPS = 2000000 };
    double best[2] = {1e18, 1e18};
    static char ks[1024][24];
    for (int i = 0; i < 1024; i++) {
        key(ks[i], i);
        rcache_tier_set(t, ks[i], strlen(ks[i]), "v", 1, 0);
    }
    for (int run = 0; run < 10; run++) {
        int tier = run & 1;
        uint64_t t0 = now_ns();
        for (int i = 0; i < OPS; i++) {
            rcache_ref_t *ref;
            const char *k = ks[i & 1023];
            int rc = tier ? rcache_tier_get_ref(t, k, 14, &ref)
                          : rcache_get_ref(c, k, 14, &ref);
            if (rc == RCACHE_OK)
                rcache_release(ref);
        }
        double ns = (double)(now_ns() - t0) / OPS;
        if (ns < best[tier])
            best[tier] = ns;
    }
    printf("L1 hit: plain rcache_get_ref %.1f ns, rcache_tier_get_ref %.1f ns, "
           "ratio %.3f (best of 5 each, %d ops, alternating)\n",
           best[0], best[1], best[1] / best[0], OPS);
}

/* 2: L2 hits (distinct keys, each read once) vs raw GETs. */
static void bench_l2(rcache_tier_t *t, rcache_t *c, const char *url) {
    rcache_tier_url_t u;
    redisContext *rc;
    char k[24], rk[32];
    double best[2] = {1e18, 1e18};
    rcache_tier_parse_url(url, strlen(url), &u);
    rc = redisConnect(u.host, u.port);
    for (int i = 0; i < NKEYS; i++) {
        key(k, i);
        redisReply *r = redisCommand(rc, "SET rc:%s v%d PX 600000", k, i);
        freeReplyObject(r);
    }
    for (int run = 0; run < 6; run++) {
        int tier = run & 1;
        uint64_t t0 = now_ns();
        if (tier)
            rcache_clear(c, NULL);
        for (int i = 0; i < NKEYS; i++) {
            key(k, i);
            if (tier) {
                void *v = NULL;
                size_t len;
                if (rcache_tier_get_alloc(t, k, 14, &v, &len) != RCACHE_OK)
                    fprintf(stderr, "L2 miss on %s\n", k);
                free(v);
            } else {
                snprintf(rk, sizeof rk, "rc:%s", k);
                redisReply *r = redisCommand(rc, "GET %s", rk);
                freeReplyObject(r);
            }
        }
        double us = (double)(now_ns() - t0) / NKEYS / 1000.0;
        if (us < best[tier])
            best[tier] = us;
    }
    printf("L2 hit (L1 miss, GET+PTTL pipelined, install): %.2f us; raw hiredis "
           "GET round trip: %.2f us; ratio %.3f (best of 3 each, %d keys)\n",
           best[1], best[0], best[1] / best[0], NKEYS);
    redisFree(rc);
}

/* 3: propagation A -> B, C. */
static void bench_prop(const char *url) {
    enum { ROUNDS = 2000 };
    rcache_t *c[3];
    rcache_tier_t *t[3];
    rcache_config_t cfg;
    static uint64_t lat[2 * ROUNDS];
    size_t n = 0;
    rcache_config_init(&cfg);
    for (int i = 0; i < 3; i++) {
        rcache_open(&cfg, &c[i]);
        rcache_tier_open(c[i], url, NULL, &t[i]);
        wait_connected(t[i]);
    }
    for (int r = 0; r < ROUNDS; r++) {
        char v[16];
        snprintf(v, sizeof v, "%d", r);
        rcache_tier_set(t[0], "prop", 4, v, strlen(v), 60000);
        /* wait until B and C no longer hold the previous value, then load */
        for (int j = 1; j < 3; j++) {
            void *x = NULL;
            size_t len = 0;
            while (rcache_tier_get_alloc(t[j], "prop", 4, &x, &len) == RCACHE_OK &&
                   (len != strlen(v) || memcmp(x, v, len) != 0)) {
                free(x);
                x = NULL;
            }
            free(x);
        }
        snprintf(v, sizeof v, "x%d", r);
        uint64_t t0 = now_ns(), done[2] = {0, 0};
        rcache_tier_set(t[0], "prop", 4, v, strlen(v), 60000);
        while (!done[0] || !done[1])
            for (int j = 0; j < 2; j++)
                if (!done[j] && !rcache_exists(c[1 + j], "prop", 4))
                    done[j] = now_ns() - t0;
        lat[n++] = done[0];
        lat[n++] = done[1];
    }
    qsort(lat, n, sizeof lat[0], cmp_u64);
    printf("invalidation propagation A->B,C on loopback: p50 %.1f us, p99 %.1f "
           "us, max %.1f us (%zu samples, serial writes)\n",
           lat[n / 2] / 1000.0, lat[n * 99 / 100] / 1000.0, lat[n - 1] / 1000.0,
           n);
    for (int i = 0; i < 3; i++) {
        rcache_tier_close(t[i]);
        rcache_close(c[i]);
    }
}

int main(int argc, char **argv) {
    char url[96];
    pid_t pid = -1;
    rcache_config_t cfg;
    rcache_t *c;
    rcache_tier_t *t;
    if (argc > 1) {
        snprintf(url, sizeof url, "%s", argv[1]);
    } else if ((pid = start_redis(url, sizeof url)) < 0) {
        fprintf(stderr, "could not start redis-server\n");
        return 1;
    }
    rcache_config_init(&cfg);
    cfg.max_items = 100000;
    rcache_open(&cfg, &c);
    if (rcache_tier_open(c, url, NULL, &t) != RCACHE_OK) {
        fprintf(stderr, "rcache_tier_open(%s) failed\n", url);
        return 1;
    }
    wait_connected(t);
    bench_l1(t, c);
    bench_l2(t, c, url);
    rcache_tier_close(t);
    rcache_close(c);
    bench_prop(url);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return 0;
}
