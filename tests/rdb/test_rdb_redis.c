/*
 * test_rdb_redis.c - interoperability with the real redis-server 7.0
 * (Debian's package, started by the test on a free loopback port in a
 * temporary directory):
 *  - a dump.rdb that redis-server wrote (strings with and without TTL,
 *    integers, long compressible values, binary keys, an empty value, plus
 *    a list, a hash, a set and a sorted set) loads with every string
 *    identical, TTLs kept, and the other types counted by name;
 *  - a file rcache_snapshot_save() wrote, tags included (AUX fields
 *    between keys), passes redis-check-rdb, and redis-server started on it
 *    has the same keys, values and TTLs.
 * Skipped (exit 77) when redis-server, redis-check-rdb or hiredis is
 * missing.
 */
#include "rdbtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct redis {
    pid_t pid;
    int port;
    redisContext *rc;
} redis_t;

static int free_port(void) {
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Start redis-server on dir/dbfile; retried on another port if the one
 * picked was taken meanwhile. */
static void redis_start(redis_t *r, const char *dir, const char *dbfile) {
    for (int attempt = 0; attempt < 5; attempt++) {
        char port[16], log[600];
        r->port = free_port();
        snprintf(port, sizeof port, "%d", r->port);
        snprintf(log, sizeof log, "%s/redis.log", dir);
        r->pid = fork();
        assert_true(r->pid >= 0);
        if (r->pid == 0) {
            execlp("redis-server", "redis-server", "--port", port, "--bind",
                   "127.0.0.1", "--dir", dir, "--dbfilename", dbfile, "--save",
                   "", "--appendonly", "no", "--daemonize", "no", "--logfile",
                   log, (char *)NULL);
            _exit(127);
        }
        /* Wait until it answers (or exits); bounded, not a timing check. */
        for (int i = 0; i < 1000; i++) {
            int st;
            if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
                r->pid = -1;
                break;
            }
            r->rc = redisConnect("127.0.0.1", r->port);
            if (r->rc && !r->rc->err) {
                redisReply *p = redisCommand(r->rc, "PING");
                int ok = p && p->type == REDIS_REPLY_STATUS;
                freeReplyObject(p);
                if (ok)
                    return;
            }
            if (r->rc)
                redisFree(r->rc);
            r->rc = NULL;
            pause_ms(20);
        }
        if (r->pid > 0) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, NULL, 0);
        }
    }
    fail_msg("redis-server did not start (see %s/redis.log)", dir);
}

static void redis_stop(redis_t *r) {
    redisReply *p = redisCommand(r->rc, "SHUTDOWN NOSAVE");
    if (p)
        freeReplyObject(p);
    redisFree(r->rc);
    waitpid(r->pid, NULL, 0);
}

static redisReply *cmd(redis_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *p = redisvCommand(r->rc, fmt, ap);
    va_end(ap);
    assert_non_null(p);
    if (p->type == REDIS_REPLY_ERROR)
        fail_msg("redis: %s", p->str);
    return p;
}

static void cmd_ok(redis_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *p = redisvCommand(r->rc, fmt, ap);
    va_end(ap);
    assert_non_null(p);
    if (p->type == REDIS_REPLY_ERROR)
        fail_msg("redis: %s", p->str);
    freeReplyObject(p);
}

static int have_tools(void) {
    return system("command -v redis-server >/dev/null 2>&1 && "
                  "command -v redis-check-rdb >/dev/null 2>&1") == 0;
}

static void check_string(rcache_t *c, const void *k, size_t kl, const void *v,
                         size_t vl) {
    void *got;
    size_t len;
    assert_int_equal(rcache_get_alloc(c, k, kl, &got, &len), RCACHE_OK);
    assert_int_equal(len, vl);
    assert_memory_equal(got, v, vl);
    free(got);
}

static void test_load_dump_written_by_redis(void **state) {
    (void)state;
    if (!have_tools())
        skip();
    char *dir = make_tmpdir(), path[600];
    redis_t r;
    static char big[100000], rnd[5000];
    memset(big, 'q', sizeof big);
    for (size_t i = 0; i < sizeof rnd; i++)
        rnd[i] = (char)(i * 7919 % 251);
    redis_start(&r, dir, "dump.rdb");
    cmd_ok(&r, "SET plain hello");
    cmd_ok(&r, "SET withttl v PX 100000000");
    cmd_ok(&r, "SET int8 7");
    cmd_ok(&r, "SET int16 -30000");
    cmd_ok(&r, "SET int32 2000000000");
    cmd_ok(&r, "SET notint 007");
    cmd_ok(&r, "SET %b %b", "bin\0key", (size_t)7, "", (size_t)0);
    cmd_ok(&r, "SET big %b", big, sizeof big);
    cmd_ok(&r, "SET rnd %b", rnd, sizeof rnd);
    cmd_ok(&r, "RPUSH list a b c");
    cmd_ok(&r, "HSET hash f1 v1 f2 v2");
    cmd_ok(&r, "SADD set x y z");
    cmd_ok(&r, "ZADD zset 1 a 2 b");
    cmd_ok(&r, "SAVE");
    redis_stop(&r);

    snprintf(path, sizeof path, "%s/dump.rdb", dir);
    rcache_t *c = rdb_open(0, 0, 4, NULL);
    rcache_snapshot_result_t res;
    assert_int_equal(rcache_snapshot_load(c, path, NULL, &res), RCACHE_OK);
    assert_string_equal(res.error, "");
    assert_int_equal(res.entries, 9);
    assert_int_equal(res.skipped_unsupported, 4);
    assert_int_equal(res.rdb_version, 10);
    assert_true(res.file_ctime_s > 0);
    assert_non_null(strstr(res.skipped_types, "hash"));
    assert_non_null(strstr(res.skipped_types, "set"));
    assert_non_null(strstr(res.skipped_types, "list"));
    assert_non_null(strstr(res.skipped_types, "zset"));
    check_string(c, "plain", 5, "hello", 5);
    check_string(c, "withttl", 7, "v", 1);
    check_string(c, "int8", 4, "7", 1);
    check_string(c, "int16", 5, "-30000", 6);
    check_string(c, "int32", 5, "2000000000", 10);
    check_string(c, "notint", 6, "007", 3);
    check_string(c, "bin\0key", 7, "", 0);
    check_string(c, "big", 3, big, sizeof big);
    check_string(c, "rnd", 3, rnd, sizeof rnd);
    int64_t ttl;
    assert_int_equal(rcache_ttl(c, "withttl", 7, &ttl), RCACHE_OK);
    assert_true(ttl > 100000000 - 600000 && ttl <= 100000000);
    assert_int_equal(rcache_ttl(c, "plain", 5, &ttl), RCACHE_OK);
    assert_int_equal(ttl, -1);
    rcache_close(c);
    rm_tree(dir);
    free(dir);
}

static void test_redis_reads_our_snapshot(void **state) {
    (void)state;
    if (!have_tools())
        skip();
    char *dir = make_tmpdir(), path[600], cmdline[800];
    rcache_t *c = rdb_open(0, 0, 8, NULL);
    static char big[1u << 20], rnd[100000];
    rcache_snapshot_opts_t o;
    rcache_snapshot_result_t res;
    memset(big, 'w', sizeof big);
    for (size_t i = 0; i < sizeof rnd; i++)
        rnd[i] = (char)((i * 2654435761u) >> 11);
    rcache_set(c, "big", 3, big, sizeof big, 0, 0);
    rcache_set(c, "rnd", 3, rnd, sizeof rnd, 500000000, 0);
    rcache_set(c, "int", 3, "-123456", 7, 0, 0);
    rcache_set(c, "bin\0\xff", 5, "\0\1\2", 3, 0, 0);
    rcache_set(c, "empty", 5, "", 0, 0, 0);
    for (int i = 0; i < 1000; i++) {
        char k[32], v[64];
        int vl = snprintf(v, sizeof v, "value-%d-%s", i, i % 2 ? "xxxxxxxxxxxxxxxxxxxxxxxxxxxx" : "");
        snprintf(k, sizeof k, "key:%d", i);
        /* every fifth key tagged: an AUX "rcache-tags" before it */
        rcache_tag_t tg[2] = {{"grp", 3}, {"\0bin\xff", 5}};
        rcache_set_opts_t so = {.ttl_ms = i % 3 ? 0 : 1000000000, .tags = tg,
                                .ntags = i % 5 ? 0 : 2};
        rcache_set_ex(c, k, strlen(k), v, (size_t)vl, &so, NULL);
    }
    snprintf(path, sizeof path, "%s/dump.rdb", dir);
    rcache_snapshot_opts_init(&o);
    o.keep_metadata = 1; /* IDLE opcodes too */
    assert_int_equal(rcache_snapshot_save(c, path, &o, &res), RCACHE_OK);
    snprintf(cmdline, sizeof cmdline, "redis-check-rdb '%s' >'%s/check.log' 2>&1",
             path, dir);
    if (system(cmdline) != 0) {
        snprintf(cmdline, sizeof cmdline, "cat '%s/check.log' >&2", dir);
        (void)system(cmdline);
        fail_msg("redis-check-rdb refused %s", path);
    }

    redis_t r;
    redis_start(&r, dir, "dump.rdb");
    redisReply *p = cmd(&r, "DBSIZE");
    assert_int_equal(p->integer, (long long)rcache_count(c));
    freeReplyObject(p);
    uint64_t cursor = 0, n = 0;
    do {
        rcache_scan_page_t page;
        assert_int_equal(rcache_scan(c, cursor, 200, NULL, 0, 0, &page, &cursor), RCACHE_OK);
        for (size_t i = 0; i < page.count; i++) {
            const rcache_entry_info_t *e = &page.entries[i];
            void *v;
            size_t vl;
            int64_t ttl;
            assert_int_equal(rcache_get_alloc(c, e->key, e->key_len, &v, &vl), RCACHE_OK);
            p = cmd(&r, "GET %b", e->key, e->key_len);
            assert_int_equal(p->type, REDIS_REPLY_STRING);
            assert_int_equal(p->len, vl);
            assert_memory_equal(p->str, v, vl);
            freeReplyObject(p);
            free(v);
            assert_int_equal(rcache_ttl(c, e->key, e->key_len, &ttl), RCACHE_OK);
            p = cmd(&r, "PTTL %b", e->key, e->key_len);
            if (ttl < 0)
                assert_int_equal(p->integer, -1);
            else
                assert_true(p->integer > ttl - 600000 && p->integer <= ttl + 1000);
            freeReplyObject(p);
            n++;
        }
        rcache_scan_page_free(&page);
    } while (cursor);
    assert_int_equal(n, rcache_count(c));
    redis_stop(&r);
    rcache_close(c);
    rm_tree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_dump_written_by_redis),
        cmocka_unit_test(test_redis_reads_our_snapshot),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
