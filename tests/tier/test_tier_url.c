/*
 * test_tier_url.c - the L2 URL parser (rcache_tier_parse_url): every
 * documented form, defaults, escapes, and the malformed inputs it must
 * refuse with RCACHE_EINVAL (leaving the output zeroed); and opening a
 * tier on an address where nothing listens: fail-closed refuses with
 * RCACHE_TIER_EUNAVAIL, fail-open opens and serves L1 alone.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rcache_tier.h"

static int parse(const char *s, rcache_tier_url_t *u) {
    return rcache_tier_parse_url(s, strlen(s), u);
}

static void test_forms(void **state) {
    rcache_tier_url_t u;
    (void)state;
    assert_int_equal(parse("redis://localhost", &u), RCACHE_OK);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(u.is_unix, 0);
    assert_string_equal(u.pass, "");

    assert_int_equal(parse("redis://127.0.0.1:7000/3", &u), RCACHE_OK);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 3);

    assert_int_equal(parse("redis://bob:s%40cret@h:1/", &u), RCACHE_OK);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.pass, "s@cret");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 1);

    assert_int_equal(parse("redis://:pw@h", &u), RCACHE_OK);
    assert_string_equal(u.user, "");
    assert_string_equal(u.pass, "pw");

    assert_int_equal(parse("redis://a@b@h:2", &u), RCACHE_OK); /* last @ */
    assert_string_equal(u.pass, "a@b");
    assert_string_equal(u.host, "h");

    assert_int_equal(parse("redis://[::1]:6380/1", &u), RCACHE_OK);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6380);

    assert_int_equal(parse("unix:///run/redis.sock", &u), RCACHE_OK);
    assert_int_equal(u.is_unix, 1);
    assert_string_equal(u.path, "/run/redis.sock");
    assert_int_equal(parse("unix:///r.sock?db=5", &u), RCACHE_OK);
    assert_int_equal(u.db, 5);

    /* Not NUL-terminated: only url_len bytes are read. */
    assert_int_equal(rcache_tier_parse_url("redis://h:12XYZ", 12, &u), RCACHE_OK);
    assert_int_equal(u.port, 12);
}

static void test_refused(void **state) {
    static const char *bad[] = {
        "", "redis://", "http://h", "redis:/h", "redis://h:0", "redis://h:65536",
        "redis://h:", "redis://h:x", "redis://h/x", "redis://h/-1",
        "redis://h/99999999999", "redis://[::1", "redis://[::1]x",
        "redis://u:%4@h", "redis://u:%zz@h", "redis://u:%00@h", "unix://",
        "unix://p?db=", "unix://p?x=1", "redis://:p@", "redis://h h",
        "REDIS://h"};
    rcache_tier_url_t u;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&u, 0x55, sizeof u);
        if (parse(bad[i], &u) != RCACHE_EINVAL)
            fail_msg("accepted: '%s'", bad[i]);
        assert_int_equal(u.port, 0);
        assert_int_equal(u.host[0], 0);
    }
    {
        char longhost[400];
        memcpy(longhost, "redis://", 8);
        memset(longhost + 8, 'a', 300);
        longhost[308] = 0;
        assert_int_equal(parse(longhost, &u), RCACHE_EINVAL);
    }
    assert_int_equal(rcache_tier_parse_url(NULL, 3, &u), RCACHE_EINVAL);
    assert_int_equal(rcache_tier_parse_url("redis://h", 9, NULL), RCACHE_EINVAL);
    assert_int_equal(rcache_tier_parse_url("redis://h\0x", 11, &u), RCACHE_EINVAL);
}

static void test_open_refuses_bad_input(void **state) {
    rcache_t *c = NULL;
    rcache_tier_t *t = (rcache_tier_t *)1;
    rcache_tier_opts_t o;
    rcache_config_t cfg;
    (void)state;
    rcache_config_init(&cfg);
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    assert_int_equal(rcache_tier_open(c, "nope://", NULL, &t), RCACHE_EINVAL);
    assert_null(t);
    rcache_tier_opts_init(&o);
    o.key_prefix = "";
    assert_int_equal(rcache_tier_open(c, "redis://h", &o, &t), RCACHE_EINVAL);
    rcache_tier_opts_init(&o);
    o.reserved[0] = 1;
    assert_int_equal(rcache_tier_open(c, "redis://h", &o, &t), RCACHE_EINVAL);
    rcache_tier_opts_init(&o);
    o.fail_mode = 7;
    assert_int_equal(rcache_tier_open(c, "redis://h", &o, &t), RCACHE_EINVAL);
    assert_string_equal(rcache_tier_strerror(RCACHE_TIER_EUNAVAIL),
                        "second tier (L2) unreachable");
    rcache_close(c);
}

/* A loopback port nothing listens on (bound, never listened, kept open). */
/* The address written back leaves the password out and parses again to
 * the same fields. */
static void test_format(void **state) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"redis://localhost", "redis://localhost:6379/0"},
        {"redis://:s3cret@10.0.0.1:7000/3", "redis://:***@10.0.0.1:7000/3"},
        {"redis://al%40ice:pw@h/1", "redis://al%40ice:***@h:6379/1"},
        {"redis://bob:@h", "redis://bob:@h:6379/0"},
        {"redis://[::1]:6380", "redis://[::1]:6380/0"},
        {"unix:///run/r.sock?db=2", "unix:///run/r.sock?db=2"},
        {"unix:///run/r.sock", "unix:///run/r.sock"},
    };
    char buf[400], small[8];
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rcache_tier_url_t u, back;
        assert_int_equal(parse(cases[i].in, &u), RCACHE_OK);
        assert_int_equal(rcache_tier_format_url(&u, buf, sizeof buf),
                         strlen(cases[i].out));
        assert_string_equal(buf, cases[i].out);
        assert_null(strstr(buf, "s3cret"));
        assert_null(strstr(buf, "pw"));
        assert_int_equal(parse(buf, &back), RCACHE_OK);
        memcpy(back.pass, u.pass, sizeof u.pass);
        assert_memory_equal(&back, &u, sizeof u);
    }
    {
        rcache_tier_url_t u;
        assert_int_equal(parse("redis://localhost", &u), RCACHE_OK);
        assert_int_equal(rcache_tier_format_url(&u, small, sizeof small), 24);
        assert_string_equal(small, "redis:/");
    }
}

static int dead_port(int *fd) {
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static void test_open_unreachable(void **state) {
    rcache_t *c = NULL;
    rcache_tier_t *t = NULL;
    rcache_tier_opts_t o;
    rcache_config_t cfg;
    rcache_tier_stats_t st;
    rcache_tier_status_t ss;
    char url[64];
    void *v = NULL;
    size_t len = 0;
    int fd;
    (void)state;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", dead_port(&fd));
    rcache_config_init(&cfg);
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    rcache_tier_opts_init(&o);
    o.fail_mode = RCACHE_TIER_FAIL_CLOSED;
    assert_int_equal(rcache_tier_open(c, url, &o, &t), RCACHE_TIER_EUNAVAIL);
    assert_null(t);
    o.fail_mode = RCACHE_TIER_FAIL_OPEN;
    assert_int_equal(rcache_tier_open(c, url, &o, &t), RCACHE_OK);
    assert_int_equal(rcache_tier_get_alloc(t, "k", 1, &v, &len), RCACHE_ENOTFOUND);
    assert_int_equal(rcache_tier_set(t, "k", 1, "v", 1, 60000), RCACHE_OK);
    assert_int_equal(rcache_tier_get_alloc(t, "k", 1, &v, &len), RCACHE_OK);
    assert_int_equal(len, 1);
    free(v);
    rcache_tier_stats(t, &st);
    assert_int_equal(st.connected, 0);
    assert_true(st.l2_errors >= 1);
    /* status: never connected, the connect failure kept as last error */
    rcache_tier_status(t, &ss);
    assert_int_equal(ss.connected, 0);
    assert_int_equal(ss.ever_connected, 0);
    assert_int_equal(ss.has_password, 0);
    assert_non_null(strstr(ss.address, "redis://127.0.0.1:"));
    assert_non_null(strstr(ss.last_error, "connection: "));
    assert_non_null(strstr(ss.last_error, "refused"));
    assert_int_equal(ss.last_clear_reason, -1);
    rcache_tier_close(t);
    rcache_close(c);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_open_refuses_bad_input),
        cmocka_unit_test(test_open_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
