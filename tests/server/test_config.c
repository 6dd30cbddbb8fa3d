/*
 * test_config.c - unit tests of rcached's option parser (src/server/
 * config.c): every option type, error messages naming the option, the
 * redis.conf-style file syntax, and the precedence flags > file > env.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static void clear_env(void) {
    const char *vars[] = {"RCACHED_PORT", "RCACHED_MAXMEMORY", "RCACHED_MAX_ITEMS",
                          "RCACHE_MAX_ITEMS", "CACHE_MAX_SIZE", "RCACHE_MAX_BYTES",
                          "CACHE_MAX_MEMORY_MB", "CACHE_TTL_SECONDS",
                          "RCACHE_DEFAULT_TTL_MS", "RCACHE_ADMIN_TOKEN",
                          "RCACHED_LOGLEVEL", "RCACHE_SHARDS", "DISABLE_RESULT_CACHE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static void test_defaults(void **state) {
    (void)state;
    rcache__config_t c;
    rcache__config_defaults(&c);
    assert_int_equal(c.port, 6380);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_int_equal(c.maxmemory, 512ull << 20);
    assert_int_equal(c.max_items, 0);
    assert_int_equal(c.default_ttl_ms, 0);
    assert_int_equal(c.maxclients, 10000);
    assert_int_equal(c.timeout_s, 0);
    assert_null(c.requirepass);
    assert_int_equal(c.query_buf_limit, 1ull << 30);
    assert_int_equal(c.cobl[RCACHE__COBL_NORMAL].hard_bytes, 64ull << 20);
    assert_int_equal(c.loglevel, RCACHE__LOG_NOTICE);
    assert_int_equal(c.admin_port, 6381);
    assert_int_equal(c.metrics_auth, 0);
    assert_int_equal(c.admin_max_body, 1u << 20);
    assert_int_equal(c.admin_timeout_s, 10);
    assert_int_equal(c.enable_debug_command, 0); /* DEBUG off unless asked */
    rcache__config_free(&c);
}

static void test_set_types(void **state) {
    (void)state;
    rcache__config_t c;
    char err[256];
    rcache__config_defaults(&c);
    assert_int_equal(rcache__config_set(&c, "port", "7000", err, sizeof err), 0);
    assert_int_equal(c.port, 7000);
    assert_int_equal(rcache__config_set(&c, "PORT", "0", err, sizeof err), 0);
    assert_int_equal(c.port, 0);
    assert_int_equal(rcache__config_set(&c, "port", "70000", err, sizeof err), -1);
    assert_non_null(strstr(err, "'port'"));
    assert_non_null(strstr(err, "70000"));
    assert_int_equal(rcache__config_set(&c, "port", "-1", err, sizeof err), -1);
    assert_int_equal(rcache__config_set(&c, "port", "", err, sizeof err), -1);
    assert_int_equal(rcache__config_set(&c, "port", "12a", err, sizeof err), -1);
    assert_int_equal(rcache__config_set(&c, "port", " 12", err, sizeof err), -1);
    assert_int_equal(rcache__config_set(&c, "maxmemory", "1g", err, sizeof err), 0);
    assert_int_equal(c.maxmemory, 1ull << 30);
    assert_int_equal(rcache__config_set(&c, "maxmemory", "512mb", err, sizeof err), 0);
    assert_int_equal(c.maxmemory, 512ull << 20);
    assert_int_equal(rcache__config_set(&c, "maxmemory", "0", err, sizeof err), 0);
    assert_int_equal(c.maxmemory, 0);
    assert_int_equal(rcache__config_set(&c, "maxmemory", "lots", err, sizeof err), -1);
    assert_non_null(strstr(err, "'maxmemory'"));
    assert_int_equal(rcache__config_set(&c, "max_items", "123", err, sizeof err), 0);
    assert_int_equal(c.max_items, 123);
    assert_int_equal(rcache__config_set(&c, "max-items", "18446744073709551616", err, sizeof err), -1);
    assert_int_equal(rcache__config_set(&c, "metrics-auth", "yes", err, sizeof err), 0);
    assert_int_equal(c.metrics_auth, 1);
    assert_int_equal(rcache__config_set(&c, "metrics-auth", "no", err, sizeof err), 0);
    assert_int_equal(c.metrics_auth, 0);
    assert_int_equal(rcache__config_set(&c, "metrics-auth", "maybe", err, sizeof err), -1);
    assert_non_null(strstr(err, "'metrics-auth'"));
    assert_int_equal(rcache__config_set(&c, "enable-debug-command", "yes", err, sizeof err), 0);
    assert_int_equal(c.enable_debug_command, 1);
    assert_int_equal(rcache__config_runtime("enable-debug-command"), 0); /* start only */
    assert_int_equal(rcache__config_set(&c, "enable-debug-command", "local", err, sizeof err), -1);
    assert_non_null(strstr(err, "'enable-debug-command'"));
    assert_int_equal(rcache__config_set(&c, "loglevel", "WARNING", err, sizeof err), 0);
    assert_int_equal(c.loglevel, RCACHE__LOG_WARNING);
    assert_int_equal(rcache__config_set(&c, "loglevel", "loud", err, sizeof err), -1);
    assert_int_equal(rcache__config_set(&c, "requirepass", "s3cret", err, sizeof err), 0);
    assert_string_equal(c.requirepass, "s3cret");
    assert_int_equal(rcache__config_set(&c, "requirepass", "", err, sizeof err), 0);
    assert_null(c.requirepass);
    assert_int_equal(rcache__config_set(&c, "unixsocketperm", "770", err, sizeof err), 0);
    assert_int_equal(c.unixsocketperm, 0770);
    assert_int_equal(rcache__config_set(&c, "unixsocketperm", "999", err, sizeof err), -1);
    assert_int_equal(rcache__config_set(&c, "maxclients", "0", err, sizeof err), -1);
    assert_int_equal(rcache__config_set(&c, "client-query-buffer-limit", "100", err, sizeof err), -1);
    assert_int_equal(rcache__config_set(&c, "nosuch", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown option 'nosuch'"));
    char v[64];
    assert_int_equal(rcache__config_get(&c, "unixsocketperm", v, sizeof v), 0);
    assert_string_equal(v, "770");
    assert_int_equal(rcache__config_get(&c, "metrics-auth", v, sizeof v), 0);
    assert_string_equal(v, "no");
    assert_int_equal(rcache__config_get(&c, "nosuch", v, sizeof v), -1);
    rcache__config_free(&c);
}

static void test_parse_text(void **state) {
    (void)state;
    rcache__config_t c;
    char err[256];
    rcache__config_defaults(&c);
    const char *text = "# a comment\n"
                       "\n"
                       "   port 7001   \r\n"
                       "maxmemory 64mb\n"
                       "requirepass \"pa ss\\\"word\"\n"
                       "bind '::1'\n"
                       "\t# indented comment\n"
                       "max-items 10";
    assert_int_equal(rcache__config_parse_text(&c, text, strlen(text), "t", err, sizeof err), 0);
    assert_int_equal(c.port, 7001);
    assert_int_equal(c.maxmemory, 64ull << 20);
    assert_string_equal(c.requirepass, "pa ss\"word");
    assert_string_equal(c.bind, "::1");
    assert_int_equal(c.max_items, 10);

    const char *bad = "port 1\nfrobnicate yes\n";
    assert_int_equal(rcache__config_parse_text(&c, bad, strlen(bad), "f.conf", err, sizeof err), -1);
    assert_non_null(strstr(err, "f.conf line 2"));
    assert_non_null(strstr(err, "frobnicate"));
    const char *badval = "\n\nport abc\n";
    assert_int_equal(rcache__config_parse_text(&c, badval, strlen(badval), "f", err, sizeof err), -1);
    assert_non_null(strstr(err, "line 3"));
    assert_non_null(strstr(err, "'port'"));
    const char *quote = "requirepass \"open\n";
    assert_int_equal(rcache__config_parse_text(&c, quote, strlen(quote), "f", err, sizeof err), -1);
    assert_non_null(strstr(err, "quotes"));
    const char nul[] = "port 1\0 2\n";
    assert_int_equal(rcache__config_parse_text(&c, nul, sizeof nul - 1, "f", err, sizeof err), -1);
    const char *cfg = "config other.conf\n";
    assert_int_equal(rcache__config_parse_text(&c, cfg, strlen(cfg), "f", err, sizeof err), -1);
    rcache__config_free(&c);
}

static void test_parse_text_garbage(void **state) {
    (void)state;
    char err[256];
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        char buf[200];
        size_t n = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t i = 0; i < n; i++) {
            int r = rand_r(&seed) % 8;
            buf[i] = r == 0 ? '\n' : r == 1 ? ' ' : r == 2 ? '"' : (char)rand_r(&seed);
        }
        rcache__config_t c;
        rcache__config_defaults(&c);
        (void)rcache__config_parse_text(&c, buf, n, "fuzz", err, sizeof err);
        rcache__config_free(&c);
    }
}

static void test_args(void **state) {
    (void)state;
    rcache__config_t c;
    char err[256];
    clear_env();
    char *argv1[] = {"rcached", "--port", "7002", "--maxmemory=1g", "--metrics-auth", "yes", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 6, argv1, err, sizeof err), 0);
    assert_int_equal(c.port, 7002);
    assert_int_equal(c.maxmemory, 1ull << 30);
    assert_int_equal(c.metrics_auth, 1);
    rcache__config_free(&c);

    char *argv2[] = {"rcached", "--bogus", "1", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 3, argv2, err, sizeof err), -1);
    assert_non_null(strstr(err, "--bogus"));
    rcache__config_free(&c);

    char *argv3[] = {"rcached", "--port", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 2, argv3, err, sizeof err), -1);
    assert_non_null(strstr(err, "needs a value"));
    rcache__config_free(&c);

    char *argv4[] = {"rcached", "--threads", "x", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 3, argv4, err, sizeof err), -1);
    assert_non_null(strstr(err, "'threads'"));
    rcache__config_free(&c);

    char *argv5[] = {"rcached", "--help", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 2, argv5, err, sizeof err), 0);
    assert_int_equal(c.show_help, 1);
    rcache__config_free(&c);

    char *argv6[] = {"rcached", "-x", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 2, argv6, err, sizeof err), -1);
    rcache__config_free(&c);

    char *argv7[] = {"rcached", "--config", "/nonexistent/rcached.conf", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 3, argv7, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/rcached.conf"));
    rcache__config_free(&c);

    char *argv8[] = {"rcached", "--io-engine", "uring", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 3, argv8, err, sizeof err), 0);
    assert_string_equal(c.io_engine, "uring");
    rcache__config_free(&c);

    char *argv9[] = {"rcached", "--io-engine", "kqueue", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 3, argv9, err, sizeof err), -1);
    assert_non_null(strstr(err, "expected epoll or uring"));
    rcache__config_free(&c);
}

static void test_precedence(void **state) {
    (void)state;
    rcache__config_t c;
    char err[256];
    char path[] = "/tmp/rcached-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *file = "port 7100\nmaxmemory 2mb\nmax-items 50\n";
    assert_int_equal(write(fd, file, strlen(file)), (ssize_t)strlen(file));
    close(fd);

    clear_env();
    setenv("RCACHED_PORT", "7200", 1);
    setenv("CACHE_MAX_SIZE", "77", 1);
    setenv("RCACHE_DEFAULT_TTL_MS", "5000", 1);
    setenv("RCACHED_LOGLEVEL", "debug", 1);
    setenv("RCACHE_ADMIN_TOKEN", "tok", 1);

    /* env only */
    char *a0[] = {"rcached", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 1, a0, err, sizeof err), 0);
    assert_int_equal(c.port, 7200);
    assert_int_equal(c.max_items, 77);
    assert_int_equal(c.default_ttl_ms, 5000);
    assert_int_equal(c.loglevel, RCACHE__LOG_DEBUG);
    assert_string_equal(c.admin_token, "tok");
    rcache__config_free(&c);

    /* file over env */
    char *a1[] = {"rcached", "--config", path, NULL};
    assert_int_equal(rcache__config_from_argv(&c, 3, a1, err, sizeof err), 0);
    assert_int_equal(c.port, 7100);
    assert_int_equal(c.max_items, 50);
    assert_int_equal(c.maxmemory, 2ull << 20);
    assert_int_equal(c.default_ttl_ms, 5000);
    assert_string_equal(c.config_file, path);
    rcache__config_free(&c);

    /* flags over file; positional config file like redis-server */
    char *a2[] = {"rcached", path, "--port", "7300", NULL};
    assert_int_equal(rcache__config_from_argv(&c, 4, a2, err, sizeof err), 0);
    assert_int_equal(c.port, 7300);
    assert_int_equal(c.max_items, 50);
    rcache__config_free(&c);

    /* bad environment value names the variable */
    setenv("RCACHED_PORT", "notaport", 1);
    assert_int_equal(rcache__config_from_argv(&c, 1, a0, err, sizeof err), -1);
    assert_non_null(strstr(err, "RCACHED_PORT"));
    rcache__config_free(&c);
    clear_env();
    unlink(path);
}

static void test_copy_and_table(void **state) {
    (void)state;
    rcache__config_t a, b;
    char err[128];
    rcache__config_defaults(&a);
    rcache__config_set(&a, "requirepass", "x", err, sizeof err);
    assert_int_equal(rcache__config_copy(&b, &a), 0);
    assert_ptr_not_equal(a.requirepass, b.requirepass);
    assert_string_equal(b.requirepass, "x");
    rcache__config_free(&a);
    assert_string_equal(b.requirepass, "x");
    rcache__config_free(&b);
    assert_true(rcache__config_count() > 20);
    for (size_t i = 0; i < rcache__config_count(); i++) {
        assert_non_null(rcache__config_name(i));
        assert_non_null(rcache__config_help_text(i));
        assert_non_null(rcache__config_default_text(i));
    }
    assert_int_equal(rcache__config_runtime("maxmemory"), 1);
    assert_int_equal(rcache__config_runtime("port"), 0);
    assert_int_equal(rcache__loglevel_parse("notice"), RCACHE__LOG_NOTICE);
    assert_string_equal(rcache__loglevel_name(RCACHE__LOG_VERBOSE), "verbose");
}

/* The live settings' one writer replaces only the runtime options (and
 * `disabled`): the others keep their values and their strings, which the
 * main thread reads without a lock (issue 10, item 6). */
static void test_take_runtime(void **state) {
    (void)state;
    rcache__config_t live, next;
    char err[128];
    rcache__config_defaults(&live);
    assert_int_equal(rcache__config_set(&live, "unixsocket", "/tmp/a.sock", err, sizeof err), 0);
    const char *sock = live.unixsocket, *bind = live.bind;
    assert_int_equal(rcache__config_copy(&next, &live), 0);
    assert_int_equal(rcache__config_take_runtime(&live, &next), 0);
    assert_int_equal(rcache__config_set(&next, "requirepass", "pw", err, sizeof err), 0);
    assert_int_equal(rcache__config_set(&next, "maxmemory", "1mb", err, sizeof err), 0);
    assert_int_equal(rcache__config_set(&next, "loglevel", "warning", err, sizeof err), 0);
    next.disabled = 1;
    /* Non-runtime fields edited in next are not taken. */
    assert_int_equal(rcache__config_set(&next, "unixsocket", "/tmp/b.sock", err, sizeof err), 0);
    assert_int_equal(rcache__config_set(&next, "tcp-keepalive", "5", err, sizeof err), 0);
    assert_int_equal(rcache__config_set(&next, "bind", "::1", err, sizeof err), 0);
    assert_int_equal(rcache__config_take_runtime(&live, &next), 4);
    assert_string_equal(live.requirepass, "pw");
    assert_null(next.requirepass); /* swapped: next owns the old value */
    assert_int_equal(live.maxmemory, 1024 * 1024);
    assert_int_equal(live.loglevel, RCACHE__LOG_WARNING);
    assert_int_equal(live.disabled, 1);
    assert_ptr_equal(live.unixsocket, sock);
    assert_string_equal(live.unixsocket, "/tmp/a.sock");
    assert_ptr_equal(live.bind, bind);
    assert_int_equal(live.tcp_keepalive, 300);
    rcache__config_free(&next);
    /* Clearing a string option and a second, equal take. */
    assert_int_equal(rcache__config_copy(&next, &live), 0);
    assert_int_equal(rcache__config_set(&next, "requirepass", "", err, sizeof err), 0);
    assert_int_equal(rcache__config_take_runtime(&live, &next), 1);
    assert_null(live.requirepass);
    assert_string_equal(next.requirepass, "pw");
    rcache__config_free(&next);
    assert_int_equal(rcache__config_copy(&next, &live), 0);
    assert_int_equal(rcache__config_take_runtime(&live, &next), 0);
    rcache__config_free(&next);
    rcache__config_free(&live);
}

/* client-output-buffer-limit: Redis's class groups and rcached's one size;
 * notify-keyspace-events: letters and the canonical CONFIG GET form. */
static void test_redis_forms(void **state) {
    (void)state;
    rcache__config_t c;
    char err[256], out[256];
    rcache__config_defaults(&c);
    assert_int_equal(rcache__config_get(&c, "client-output-buffer-limit", out, sizeof out), 0);
    assert_string_equal(out, "normal 67108864 0 0 slave 268435456 67108864 60 "
                             "pubsub 33554432 8388608 60");
    assert_int_equal(rcache__config_set(&c, "client-output-buffer-limit",
                                        "pubsub 1mb 512kb 10", err, sizeof err), 0);
    assert_int_equal(c.cobl[RCACHE__COBL_PUBSUB].hard_bytes, 1 << 20);
    assert_int_equal(c.cobl[RCACHE__COBL_PUBSUB].soft_bytes, 512 << 10);
    assert_int_equal(c.cobl[RCACHE__COBL_PUBSUB].soft_s, 10);
    assert_int_equal(c.cobl[RCACHE__COBL_NORMAL].hard_bytes, 64 << 20); /* untouched */
    assert_int_equal(rcache__config_set(&c, "client-output-buffer-limit",
                                        "normal 0 0 0 replica 1mb 1mb 1", err, sizeof err), 0);
    assert_int_equal(c.cobl[RCACHE__COBL_NORMAL].hard_bytes, 0);
    assert_int_equal(c.cobl[RCACHE__COBL_REPLICA].soft_s, 1);
    assert_int_equal(rcache__config_set(&c, "client-output-buffer-limit", "8mb", err,
                                        sizeof err), 0);
    assert_int_equal(c.cobl[RCACHE__COBL_NORMAL].hard_bytes, 8 << 20);
    const char *bad[] = {"pubsub 1mb 1mb", "bogus 1 1 1", "pubsub x 1 1", "pubsub 1 1 -1",
                         "", "pubsub 1 1 1 pubsub 1 1 1 pubsub 1 1 1 pubsub 1 1 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rcache__config_set(&c, "client-output-buffer-limit", bad[i], err,
                                            sizeof err), -1);
        assert_int_equal(c.cobl[RCACHE__COBL_PUBSUB].hard_bytes, 1 << 20); /* unchanged */
    }
    static const char *const FORMS[][2] = {{"KEAn", "AKE"}, {"Kgn$", "g$nK"},
                                           {"AKEm", "AKEm"}, {"xKE", "xKE"}, {"", ""}};
    for (size_t i = 0; i < sizeof FORMS / sizeof FORMS[0]; i++) {
        assert_int_equal(rcache__config_set(&c, "notify-keyspace-events", FORMS[i][0], err,
                                            sizeof err), 0);
        assert_int_equal(rcache__config_get(&c, "notify-keyspace-events", out, sizeof out), 0);
        assert_string_equal(out, FORMS[i][1]);
    }
    assert_int_equal(rcache__config_set(&c, "notify-keyspace-events", "KEZ", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "Invalid event class character"));
    rcache__config_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_forms),
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_set_types),
        cmocka_unit_test(test_parse_text),        cmocka_unit_test(test_parse_text_garbage),
        cmocka_unit_test(test_args),              cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_copy_and_table),    cmocka_unit_test(test_take_runtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
