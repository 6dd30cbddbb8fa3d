/*
 * test_tier_faults.c - failures of L2 and of the invalidation connection:
 *  - redis-server killed while nodes serve: a fail-open node keeps serving
 *    (misses instead of errors, local writes kept in L1), clears what came
 *    from L2, counts errors; a fail-closed node answers
 *    RCACHE_TIER_EUNAVAIL; both reconnect by themselves when redis-server
 *    comes back (empty, as after a restart) and clear L1 again;
 *  - a TCP proxy (a thread of the test) between a node and redis-server
 *    stalls every connection: the node misses its ping deadline, clears
 *    L1, so another node's overwrite made meanwhile is never served stale;
 *    when the proxy resumes the node reconnects and reads the new value.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "tiertest.h"

TT_REDIS_GROUP_FIXTURE

static int saw_inval(void *arg) {
    rcache_tier_stats_t s;
    rcache_tier_stats(((tt_node_t *)arg)->t, &s);
    return s.invalidations >= 1;
}

static int read_into_l1(void *arg) {
    tt_node_t *n = arg;
    return tt_get_is(n, "s", "old") && tt_l1_is(n, "s", "old");
}

static int disconnected(void *arg) { return !tt_node_connected(arg); }

static int l1_empty(void *arg) {
    return rcache_count(((tt_node_t *)arg)->c) == 0;
}

static void test_redis_killed_and_back(void **state) {
    tt_node_t a, b, c;
    rcache_tier_opts_t o, oc;
    rcache_tier_stats_t s;
    (void)state;
    rcache_tier_opts_init(&o);
    o.reconnect_ms = 50;
    oc = o;
    oc.fail_mode = RCACHE_TIER_FAIL_CLOSED;
    tt_node_open(&a, R.url, &o);
    tt_node_open(&b, R.url, &o);
    tt_node_open(&c, R.url, &oc);
    assert_true(tt_wait(tt_node_connected, &a));
    assert_true(tt_wait(tt_node_connected, &b));
    assert_true(tt_wait(tt_node_connected, &c));
    assert_int_equal(rcache_tier_set(a.t, "k", 1, "v", 1, 60000), RCACHE_OK);
    assert_true(tt_get_is(&b, "k", "v"));
    assert_true(tt_get_is(&c, "k", "v"));

    tt_redis_kill(&R);
    assert_true(tt_wait(disconnected, &b));
    assert_true(tt_wait(l1_empty, &b));
    assert_true(tt_wait(l1_empty, &c));
    /* Fail-open: a miss, not an error; local writes served from L1. */
    assert_true(tt_get_is(&b, "k", NULL));
    assert_int_equal(rcache_tier_set(b.t, "local", 5, "L", 1, 60000), RCACHE_OK);
    assert_true(tt_get_is(&b, "local", "L"));
    rcache_tier_stats(b.t, &s);
    assert_true(s.l2_errors >= 1);
    assert_true(s.flushes_conn >= 1);
    /* Fail-closed: errors. */
    {
        void *v = NULL;
        assert_int_equal(rcache_tier_get_alloc(c.t, "k", 1, &v, NULL),
                         RCACHE_TIER_EUNAVAIL);
        assert_int_equal(rcache_tier_set(c.t, "k", 1, "x", 1, 0),
                         RCACHE_TIER_EUNAVAIL);
        assert_true(tt_l1_is(&c, "k", NULL));
    }

    tt_redis_restart(&R);
    assert_true(tt_wait(tt_node_connected, &a));
    assert_true(tt_wait(tt_node_connected, &b));
    assert_true(tt_wait(tt_node_connected, &c));
    /* B's local-only write is gone (L1 cleared on reconnect). */
    assert_true(tt_wait(l1_empty, &b));
    assert_int_equal(rcache_tier_set(a.t, "k2", 2, "v2", 2, 60000), RCACHE_OK);
    assert_true(tt_get_is(&b, "k2", "v2"));
    assert_true(tt_get_is(&c, "k2", "v2"));
    /* And invalidation works again after the reconnect. */
    assert_int_equal(rcache_tier_set(a.t, "k2", 2, "v3", 2, 60000), RCACHE_OK);
    assert_true(tt_wait(l1_empty, &b));
    assert_true(tt_get_is(&b, "k2", "v3"));
    rcache_tier_stats(b.t, &s);
    assert_true(s.reconnects >= 1);
    tt_node_close(&a);
    tt_node_close(&b);
    tt_node_close(&c);
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
}

/* ---- a stalling TCP proxy ------------------------------------------------ */

static _Atomic int proxy_stalled, proxy_stop;
/* Held while forwarding: once stall() returns, nothing more gets through. */
static pthread_mutex_t proxy_mu = PTHREAD_MUTEX_INITIALIZER;

static void stall(int on) {
    pthread_mutex_lock(&proxy_mu);
    atomic_store(&proxy_stalled, on);
    pthread_mutex_unlock(&proxy_mu);
}
static int proxy_lfd, proxy_port;

static void *proxy_pipe(void *arg) {
    int *fd = arg, a = fd[0], b = fd[1];
    char buf[16384];
    free(fd);
    while (!atomic_load(&proxy_stop)) {
        struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
        if (atomic_load(&proxy_stalled)) {
            tt_pause_ms(10); /* read nothing, forward nothing */
            continue;
        }
        if (poll(p, 2, 20) <= 0)
            continue;
        pthread_mutex_lock(&proxy_mu);
        for (int i = 0; i < 2 && !atomic_load(&proxy_stalled); i++) {
            if (!p[i].revents)
                continue;
            ssize_t n = read(i ? b : a, buf, sizeof buf);
            if (n <= 0 || write(i ? a : b, buf, (size_t)n) != n) {
                pthread_mutex_unlock(&proxy_mu);
                goto out;
            }
        }
        pthread_mutex_unlock(&proxy_mu);
    }
out:
    close(a);
    close(b);
    return NULL;
}

static void *proxy_accept(void *arg) {
    (void)arg;
    for (;;) {
        int cfd = accept(proxy_lfd, NULL, NULL), *fd;
        struct sockaddr_in to = {0};
        pthread_t th;
        if (cfd < 0)
            return NULL;
        fd = malloc(2 * sizeof *fd);
        fd[0] = cfd;
        fd[1] = socket(AF_INET, SOCK_STREAM, 0);
        to.sin_family = AF_INET;
        to.sin_port = htons((uint16_t)R.port);
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd[1], (struct sockaddr *)&to, sizeof to)) {
            close(fd[0]);
            close(fd[1]);
            free(fd);
            continue;
        }
        pthread_create(&th, NULL, proxy_pipe, fd);
        pthread_detach(th);
    }
}

static pthread_t proxy_start(void) {
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    pthread_t th;
    proxy_lfd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(proxy_lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(proxy_lfd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(listen(proxy_lfd, 16), 0);
    proxy_port = ntohs(a.sin_port);
    pthread_create(&th, NULL, proxy_accept, NULL);
    return th;
}

static void test_stalled_invalidation_connection(void **state) {
    tt_node_t a, p;
    rcache_tier_opts_t o;
    rcache_tier_stats_t s;
    char url[64];
    pthread_t acc = proxy_start();
    (void)state;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", proxy_port);
    rcache_tier_opts_init(&o);
    o.ping_interval_ms = 100;
    o.ping_deadline_ms = 1000;
    o.command_timeout_ms = 300;
    o.connect_timeout_ms = 300;
    o.reconnect_ms = 50;
    tt_node_open(&a, R.url, NULL);
    tt_node_open(&p, url, &o);
    assert_true(tt_wait(tt_node_connected, &a));
    assert_true(tt_wait(tt_node_connected, &p));
    assert_int_equal(rcache_tier_set(a.t, "s", 1, "old", 3, 60000), RCACHE_OK);
    /* Let that write's own invalidation reach P first. */
    assert_true(tt_wait(saw_inval, &p));
    /* (retried: a ping late past the deadline on a loaded machine clears
     * L1 as it should, then the next read fills it again) */
    assert_true(tt_wait(read_into_l1, &p));

    stall(1);
    assert_int_equal(rcache_tier_set(a.t, "s", 1, "new", 3, 60000), RCACHE_OK);
    /* P cannot hear about it; it must notice the silence and clear L1. */
    assert_true(tt_wait(l1_empty, &p));
    rcache_tier_stats(p.t, &s);
    assert_true(s.flushes_conn >= 1);
    assert_false(tt_get_is(&p, "s", "old")); /* fail-open miss, never old */

    stall(0);
    assert_true(tt_wait(tt_node_connected, &p));
    assert_true(tt_get_is(&p, "s", "new"));
    tt_node_close(&a);
    tt_node_close(&p);
    atomic_store(&proxy_stop, 1);
    shutdown(proxy_lfd, SHUT_RDWR);
    close(proxy_lfd);
    pthread_join(acc, NULL);
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
}

int main(void) {
    TT_SKIP_WITHOUT_REDIS();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_killed_and_back),
        cmocka_unit_test(test_stalled_invalidation_connection),
    };
    return cmocka_run_group_tests(tests, tt_group_setup, tt_group_teardown);
}
