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
 * With --rate N (writes per second) it measures instead, under load:
 *  4. propagation while node A writes at N writes/s (paced, open loop) for
 *     --seconds S (default 2): for every write, the time from just before
 *     A's call until the key is gone from B's and C's L1 (observer threads
 *     poll the recently written keys); prints the achieved rate and
 *     p50/p90/p99/max, next to A's mean L2 round trip as the anchor;
 *  5. tag invalidation through the tier: --tag-keys K (default 10000) keys
 *     tagged on A among 10 x K untagged, read through on B; the time of
 *     rcache_tier_invalidate_tag() on A and until the last of them is gone
 *     from B's L1.
 * Usage: rcache-tier-bench [--rate N [--seconds S] [--tag-keys K]]
 *        [redis://host:port]   (default: starts its own redis-server on a
 *        free loopback port).
 */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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
    printf("L2 hit (L1 miss, GET+PTTL+SMEMBERS pipelined, install): %.2f us; raw hiredis "
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

/* ---- 4: propagation at a write rate ---------------------------------- */

typedef struct rate_run {
    rcache_t *obs[2];          /* B's and C's L1 */
    size_t n;                  /* keys (= writes) */
    _Atomic uint64_t *t_write; /* ns before A's write; 0 = not yet */
    _Atomic size_t written;    /* writes started */
    _Atomic int done;          /* writer finished */
    uint64_t *lat[2];          /* per observer, per key: ns (0 = unseen) */
} rate_run_t;

typedef struct observer {
    rate_run_t *r;
    int which;
} observer_t;

static void rkey(char *k, size_t i) { snprintf(k, 32, "rate:%08zu", i); }

/* Poll the keys written and not yet seen gone, oldest first. */
static void *observe(void *arg) {
    observer_t *o = arg;
    rate_run_t *r = o->r;
    size_t lo = 0;
    uint64_t give_up = 0;
    char k[32];
    while (lo < r->n) {
        size_t hi = atomic_load(&r->written);
        if (atomic_load(&r->done) && !give_up)
            give_up = now_ns() + 10000000000ull; /* 10 s after the last */
        if (give_up && now_ns() > give_up)
            break;
        for (size_t i = lo; i < hi; i++) {
            uint64_t tw = atomic_load(&r->t_write[i]);
            if (!tw || r->lat[o->which][i])
                continue;
            rkey(k, i);
            if (!rcache_exists(r->obs[o->which], k, strlen(k)))
                r->lat[o->which][i] = now_ns() - tw + 1;
        }
        while (lo < hi && r->lat[o->which][lo])
            lo++;
        sched_yield(); /* 2 cores: let the bus threads and redis run */
    }
    return NULL;
}

static void pctl(const char *what, uint64_t *v, size_t n) {
    if (n == 0) {
        printf("%s: no samples\n", what);
        return;
    }
    qsort(v, n, sizeof v[0], cmp_u64);
    printf("%s: p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us (%zu samples)\n",
           what, v[n / 2] / 1000.0, v[n * 9 / 10] / 1000.0, v[n * 99 / 100] / 1000.0,
           v[n - 1] / 1000.0, n);
}

static void open_nodes(const char *url, rcache_t **c, rcache_tier_t **t, int count,
                       uint64_t items) {
    rcache_config_t cfg;
    rcache_tier_opts_t o;
    rcache_config_init(&cfg);
    cfg.max_items = items;
    rcache_tier_opts_init(&o);
    o.ping_deadline_ms = 600000; /* a loaded machine must not flush L1 */
    for (int i = 0; i < count; i++) {
        if (rcache_open(&cfg, &c[i]) != RCACHE_OK ||
            rcache_tier_open(c[i], url, &o, &t[i]) != RCACHE_OK) {
            fprintf(stderr, "cannot open node %d\n", i);
            exit(1);
        }
        wait_connected(t[i]);
    }
}

static void close_nodes(rcache_t **c, rcache_tier_t **t, int count) {
    for (int i = 0; i < count; i++) {
        rcache_tier_close(t[i]);
        rcache_close(c[i]);
    }
}

static void bench_rate(const char *url, double rate, double seconds) {
    rcache_t *c[3];
    rcache_tier_t *t[3];
    rate_run_t r = {0};
    observer_t ob[2];
    pthread_t th[2];
    rcache_tier_stats_t s0, s1;
    char k[32];
    uint64_t t0, elapsed, *all;
    size_t m = 0;
    r.n = (size_t)(rate * seconds);
    if (r.n == 0)
        r.n = 1;
    r.t_write = calloc(r.n, sizeof *r.t_write);
    r.lat[0] = calloc(r.n, sizeof **r.lat);
    r.lat[1] = calloc(r.n, sizeof **r.lat);
    all = calloc(2 * r.n, sizeof *all);
    if (!r.t_write || !r.lat[0] || !r.lat[1] || !all) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    open_nodes(url, c, t, 3, 2 * r.n + 1000);
    /* Every key in B's and C's L1 first (written on A, read through). */
    for (size_t i = 0; i < r.n; i++) {
        rkey(k, i);
        rcache_tier_set(t[0], k, strlen(k), "0", 1, 600000);
    }
    for (int j = 1; j < 3; j++)
        for (size_t i = 0; i < r.n; i++) {
            void *v = NULL;
            size_t len;
            rkey(k, i);
            /* read after A's invalidations of the pre-fill have passed */
            while (rcache_tier_get_alloc(t[j], k, strlen(k), &v, &len) != RCACHE_OK ||
                   !rcache_exists(c[j], k, strlen(k))) {
                free(v);
                v = NULL;
            }
            free(v);
        }
    r.obs[0] = c[1];
    r.obs[1] = c[2];
    for (int j = 0; j < 2; j++) {
        ob[j] = (observer_t){&r, j};
        pthread_create(&th[j], NULL, observe, &ob[j]);
    }
    rcache_tier_stats(t[0], &s0);
    t0 = now_ns();
    for (size_t i = 0; i < r.n; i++) {
        uint64_t due = t0 + (uint64_t)((double)i * 1e9 / rate), now;
        while ((now = now_ns()) < due)
            sched_yield();
        rkey(k, i);
        atomic_store(&r.t_write[i], now_ns());
        atomic_store(&r.written, i + 1);
        rcache_tier_set(t[0], k, strlen(k), "1", 1, 600000);
    }
    elapsed = now_ns() - t0;
    rcache_tier_stats(t[0], &s1);
    atomic_store(&r.done, 1);
    for (int j = 0; j < 2; j++)
        pthread_join(th[j], NULL);
    printf("propagation at a write rate: target %.0f writes/s, achieved %.0f "
           "writes/s (%zu writes on A in %.2f s), 2 observer nodes\n",
           rate, (double)r.n * 1e9 / (double)elapsed, r.n, (double)elapsed / 1e9);
    for (int j = 0; j < 2; j++)
        for (size_t i = 0; i < r.n; i++)
            if (r.lat[j][i])
                all[m++] = r.lat[j][i] - 1;
    if (m < 2 * r.n)
        printf("  %zu of %zu invalidations not seen within 10 s\n", 2 * r.n - m, 2 * r.n);
    pctl("  write on A -> gone from B/C L1", all, m);
    if (s1.l2_roundtrips > s0.l2_roundtrips) {
        double rtt = (double)(s1.l2_rtt_us_total - s0.l2_rtt_us_total) /
                     (double)(s1.l2_roundtrips - s0.l2_roundtrips);
        printf("  anchor: A's mean L2 write round trip %.1f us; p50 / anchor %.2f\n",
               rtt, m ? (double)all[m / 2] / 1000.0 / rtt : 0.0);
    }
    close_nodes(c, t, 3);
    free(r.t_write);
    free(r.lat[0]);
    free(r.lat[1]);
    free(all);
}

/* ---- 5: tag invalidation through the tier ----------------------------- */

static void bench_tag(const char *url, size_t tagged) {
    rcache_t *c[2];
    rcache_tier_t *t[2];
    rcache_tag_t tg = {"bench-tag", 9};
    size_t untagged = 10 * tagged;
    uint64_t r1 = 0, r2 = 0, t0, t_call, t_gone;
    char k[32];
    open_nodes(url, c, t, 2, tagged + untagged + 1000);
    for (size_t i = 0; i < untagged; i++) {
        snprintf(k, sizeof k, "u:%08zu", i);
        rcache_tier_set(t[0], k, strlen(k), "u", 1, 600000);
    }
    for (size_t i = 0; i < tagged; i++) {
        snprintf(k, sizeof k, "t:%08zu", i);
        rcache_tier_set_tagged(t[0], k, strlen(k), "t", 1, 600000, &tg, 1);
    }
    for (size_t i = 0; i < tagged; i++) {
        void *v = NULL;
        size_t len;
        snprintf(k, sizeof k, "t:%08zu", i);
        while (rcache_tier_get_alloc(t[1], k, strlen(k), &v, &len) != RCACHE_OK ||
               !rcache_exists(c[1], k, strlen(k))) {
            free(v);
            v = NULL;
        }
        free(v);
    }
    t0 = now_ns();
    if (rcache_tier_invalidate_tag(t[0], "bench-tag", 9, &r1, &r2) != RCACHE_OK)
        fprintf(stderr, "rcache_tier_invalidate_tag failed\n");
    t_call = now_ns() - t0;
    for (size_t i = tagged; i-- > 0;) { /* B: wait for every one to go */
        snprintf(k, sizeof k, "t:%08zu", i);
        while (rcache_exists(c[1], k, strlen(k)) && now_ns() - t0 < 30000000000ull)
            sched_yield();
    }
    t_gone = now_ns() - t0;
    printf("tag invalidation through the tier: %zu tagged keys among %zu: "
           "rcache_tier_invalidate_tag on A %.2f ms (L1 %llu, L2 %llu removed), "
           "all gone from B's L1 after %.2f ms; per key %.2f us\n",
           tagged, tagged + untagged, t_call / 1e6, (unsigned long long)r1,
           (unsigned long long)r2, t_gone / 1e6, t_call / 1e3 / (double)tagged);
    close_nodes(c, t, 2);
}

int main(int argc, char **argv) {
    char url[96] = "";
    pid_t pid = -1;
    rcache_config_t cfg;
    rcache_t *c;
    rcache_tier_t *t;
    double rate = 0, seconds = 2;
    long tag_keys = 10000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--tag-keys") && i + 1 < argc)
            tag_keys = atol(argv[++i]);
        else if (argv[i][0] != '-')
            snprintf(url, sizeof url, "%s", argv[i]);
        else {
            fprintf(stderr, "usage: rcache-tier-bench [--rate N [--seconds S] "
                            "[--tag-keys K]] [redis://host:port]\n");
            return 2;
        }
    }
    if (rate < 0 || seconds <= 0 || tag_keys < 1) {
        fprintf(stderr, "rcache-tier-bench: bad --rate, --seconds or --tag-keys\n");
        return 2;
    }
    if (!url[0] && (pid = start_redis(url, sizeof url)) < 0) {
        fprintf(stderr, "could not start redis-server\n");
        return 1;
    }
    if (rate > 0) {
        bench_rate(url, rate, seconds);
        bench_tag(url, (size_t)tag_keys);
    } else {
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
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return 0;
}
