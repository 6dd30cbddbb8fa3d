/*
 * test_tier_flight.c - distributed single-flight (rcache_tier_memoize)
 * across processes sharing one redis-server:
 *  - 10 processes ask for the same missing key at once (released together
 *    through a pipe): the compute function runs exactly once in all (each
 *    run INCRs a counter in redis-server) and every process gets its
 *    result;
 *  - the lease holder is killed mid-compute: another process, asking
 *    meanwhile, takes the lease over after it expires, computes, and gets
 *    its own result (no deadlock: it finishes within the deadline).
 * Processes are forked before any tier thread exists; each opens its own
 * cache and tier.
 */
#include <poll.h>

#include "tiertest.h"

TT_REDIS_GROUP_FIXTURE

typedef struct child_ctx {
    int hang_fd; /* >= 0: report "computing" here, then hang forever */
    const char *result;
} child_ctx_t;

static int compute(const void *key, size_t key_len, rcache_memo_result_t *out,
                   void *ctx) {
    child_ctx_t *c = ctx;
    redisReply *r = tt_cmd(&R, "INCR computes");
    (void)key;
    (void)key_len;
    if (r)
        freeReplyObject(r);
    if (c->hang_fd >= 0) {
        (void)!write(c->hang_fd, "c", 1);
        for (;;)
            pause();
    }
    tt_pause_ms(100); /* a computation that takes a while */
    out->val = c->result;
    out->val_len = strlen(c->result);
    out->ttl_ms = 60000;
    return RCACHE_OK;
}

static int connected(void *arg) { return tt_node_connected(arg); }

/* Child body: open a node, wait for the go byte, memoize, check. Exit 0 on
 * success; 10 + n for failure n. */
static void child(int go_fd, int ready_fd, child_ctx_t *cc, uint64_t lease_ms,
                  const char *want) {
    tt_node_t n;
    rcache_tier_opts_t o;
    rcache_memo_opts_t mo;
    rcache_ref_t *ref = NULL;
    char b;
    size_t len;
    const void *v;
    rcache_tier_stats_t s;
    int rc;
    rcache_tier_opts_init(&o);
    o.lease_ms = lease_ms;
    o.lease_poll_ms = 50;
    n.c = tt_cache();
    if (rcache_tier_open(n.c, R.url, &o, &n.t) != RCACHE_OK)
        _exit(11);
    if (!tt_wait(connected, &n))
        _exit(12);
    if (ready_fd >= 0)
        (void)!write(ready_fd, "r", 1);
    if (go_fd >= 0 && read(go_fd, &b, 1) != 1)
        _exit(13);
    rcache_memo_opts_init(&mo);
    mo.wait_timeout_ms = TT_DEADLINE_MS;
    rc = rcache_tier_memoize(n.t, "model:42", 8, compute, cc, &mo, &ref, NULL);
    if (rc != RCACHE_OK)
        _exit(14);
    v = rcache_ref_value(ref, &len);
    if (!v || len != strlen(want) || memcmp(v, want, len) != 0)
        _exit(15);
    rcache_release(ref);
    rcache_tier_stats(n.t, &s);
    printf("pid %d: leases %llu waits %llu takeovers %llu\n", (int)getpid(),
           (unsigned long long)s.lease_acquired,
           (unsigned long long)s.lease_waits,
           (unsigned long long)s.lease_takeovers);
    fflush(stdout);
    tt_node_close(&n);
    _exit(0);
}

static long counter(void) {
    redisReply *r = tt_cmd(&R, "GET computes");
    long v = r && r->type == REDIS_REPLY_STRING ? atol(r->str) : 0;
    if (r)
        freeReplyObject(r);
    return v;
}

/* waitpid with the test deadline; the exit status, or -1. */
static int reap(pid_t pid) {
    uint64_t end = tt_now_ms() + TT_DEADLINE_MS;
    int st;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        if (tt_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        tt_pause_ms(10);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_ten_processes_one_compute(void **state) {
    enum { N = 10 };
    int go[2], ready[2];
    pid_t pid[N];
    child_ctx_t cc = {-1, "the-model"};
    char b;
    (void)state;
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(ready), 0);
    for (int i = 0; i < N; i++) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0)
            child(go[0], ready[1], &cc, 30000, "the-model");
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(read(ready[0], &b, 1), 1);
    for (int i = 0; i < N; i++)
        assert_int_equal(write(go[1], "g", 1), 1);
    for (int i = 0; i < N; i++)
        assert_int_equal(reap(pid[i]), 0);
    assert_int_equal(counter(), 1);
    close(go[0]);
    close(go[1]);
    close(ready[0]);
    close(ready[1]);
}

static void test_holder_killed_takeover(void **state) {
    int hang[2];
    pid_t h, w;
    child_ctx_t hc, wc = {-1, "from-w"};
    char b;
    (void)state;
    freeReplyObject(tt_cmd(&R, "FLUSHALL"));
    assert_int_equal(pipe(hang), 0);
    hc.hang_fd = hang[1];
    hc.result = "never";
    h = fork();
    assert_true(h >= 0);
    if (h == 0)
        child(-1, -1, &hc, 1500, "never");
    assert_int_equal(read(hang[0], &b, 1), 1); /* H holds the lease */
    w = fork();
    assert_true(w >= 0);
    if (w == 0)
        child(-1, -1, &wc, 1500, "from-w");
    kill(h, SIGKILL);
    waitpid(h, NULL, 0);
    assert_int_equal(reap(w), 0);
    assert_int_equal(counter(), 2); /* H's run, then W's */
    close(hang[0]);
    close(hang[1]);
}

int main(void) {
    TT_SKIP_WITHOUT_REDIS();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ten_processes_one_compute),
        cmocka_unit_test(test_holder_killed_takeover),
    };
    return cmocka_run_group_tests(tests, tt_group_setup, tt_group_teardown);
}
