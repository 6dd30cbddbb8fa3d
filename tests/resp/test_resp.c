/*
 * test_resp.c - unit tests of the RESP2 request parser and reply encoders
 * (src/server/resp.c).
 *
 * The parser is incremental, so most checks are made three ways: the whole
 * input at once, a prefix then the whole (for every cut point), and byte by
 * byte with one parser; each call gets a fresh heap copy of the unconsumed
 * bytes so that a parser keeping a stale pointer, or reading past len, is
 * caught (under ASan) instead of passing by luck. Error cases assert Redis's
 * exact texts. A seeded random round trip (argv -> RESP/inline -> random
 * chunks -> argv) covers what the tables do not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resp.h"

/* ---- helpers ----------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t n;
} blob_t;

#define B(lit) { lit, sizeof(lit) - 1 }

typedef struct {
    rcache__resp_parser_t p;
    rcache__resp_arg_t *argv;
    size_t cap, argc, consumed;
    char *copy; /* heap copy of the last input (argv may point into it) */
} fx_t;

static void fx_init(fx_t *f, const rcache__resp_limits_t *lim)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(rcache__resp_parser_init(&f->p, lim), 0);
}

static void fx_free(fx_t *f)
{
    rcache__resp_parser_free(&f->p);
    free(f->argv);
    free(f->copy);
}

/* Parse a fresh heap copy of buf[0..len) (the old copy is freed first, so a
 * parser holding a pointer into it would be caught by ASan). */
static int fx_parse(fx_t *f, const char *buf, size_t len)
{
    free(f->copy);
    f->copy = malloc(len ? len : 1);
    assert_non_null(f->copy);
    if (len)
        memcpy(f->copy, buf, len);
    return rcache__resp_parse(&f->p, f->copy, len, &f->argv, &f->cap,
                              &f->argc, &f->consumed);
}

/* Feed buf[0..1], [0..2], ... [0..n] until the parser answers something
 * other than NEED_MORE; returns that answer (NEED_MORE if none). */
static int fx_feed_growing(fx_t *f, const char *buf, size_t n)
{
    size_t k;
    int rc = RCACHE_RESP_NEED_MORE;

    for (k = 1; k <= n && rc == RCACHE_RESP_NEED_MORE; k++) {
        rc = fx_parse(f, buf, k);
        if (rc == RCACHE_RESP_NEED_MORE)
            assert_int_equal(f->consumed, 0);
    }
    return rc;
}

static void assert_args(const fx_t *f, size_t argc, const blob_t *args)
{
    size_t i;

    assert_int_equal(f->argc, argc);
    for (i = 0; i < argc; i++) {
        assert_int_equal(f->argv[i].len, args[i].n);
        assert_memory_equal(f->argv[i].ptr, args[i].s, args[i].n ? args[i].n : 0);
    }
}

/* The input must fail with `err`, whole and fed byte by byte. */
static void check_error(const rcache__resp_limits_t *lim, const char *in,
                        size_t n, const char *err)
{
    fx_t f;

    fx_init(&f, lim);
    assert_int_equal(fx_parse(&f, in, n), RCACHE_RESP_ERROR);
    assert_non_null(f.p.error);
    assert_string_equal(f.p.error, err);
    assert_int_equal(f.consumed, 0);
    /* sticky: the connection is to be closed, never resynchronised */
    assert_int_equal(fx_parse(&f, in, n), RCACHE_RESP_ERROR);
    fx_free(&f);

    fx_init(&f, lim);
    assert_int_equal(fx_feed_growing(&f, in, n), RCACHE_RESP_ERROR);
    assert_string_equal(f.p.error, err);
    fx_free(&f);
}

#define PARSE_LIT(f, lit) fx_parse(f, lit, sizeof(lit) - 1)
#define CHECK_ERROR(lim, lit, err) check_error(lim, lit, sizeof(lit) - 1, err)

static const char E_MBULK[] = "Protocol error: invalid multibulk length";
static const char E_BULK[] = "Protocol error: invalid bulk length";
static const char E_MBULK_BIG[] = "Protocol error: too big mbulk count string";
static const char E_BULK_BIG[] = "Protocol error: too big bulk count string";
static const char E_INLINE_BIG[] = "Protocol error: too big inline request";
static const char E_QUOTES[] = "Protocol error: unbalanced quotes in request";

/* ---- well-formed commands ---------------------------------------------- */

typedef struct {
    blob_t in;
    size_t argc;
    blob_t args[6];
} case_t;

static const case_t cases[] = {
    { B("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), 2, { B("GET"), B("k") } },
    { B("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"), 3,
      { B("SET"), B("key"), B("value") } },
    /* binary-safe: CR LF and NUL inside bulks, an empty bulk */
    { B("*3\r\n$3\r\nSET\r\n$5\r\na\r\nb\0\r\n$0\r\n\r\n"), 3,
      { B("SET"), B("a\r\nb\0"), B("") } },
    { B("*1\r\n$4\r\n\0\0\0\0\r\n"), 1, { B("\0\0\0\0") } },
    { B("*2\r\n$4\r\n\r\n\r\n\r\n$2\r\n$2\r\n"), 2,
      { B("\r\n\r\n"), B("$2") } },
    { B("*1\r\n$11\r\n*1\r\n$1\r\nx\r\n\r\n"), 1, { B("*1\r\n$1\r\nx\r\n") } },
    /* inline */
    { B("GET k\r\n"), 2, { B("GET"), B("k") } },
    { B("GET k\n"), 2, { B("GET"), B("k") } },
    { B("  SET   key \t value  \r\n"), 3, { B("SET"), B("key"), B("value") } },
    { B("SET k \"a b\\r\\n\\x00\\xfF\"\r\n"), 3,
      { B("SET"), B("k"), B("a b\r\n\0\xff") } },
    { B("SET k 'it\\'s \"x\"'\r\n"), 3, { B("SET"), B("k"), B("it's \"x\"") } },
    { B("PING\r\n"), 1, { B("PING") } },
    { B("ECHO \"\"\n"), 2, { B("ECHO"), B("") } },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void test_whole_commands(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_CASES; i++) {
        fx_t f;
        fx_init(&f, NULL);
        assert_int_equal(fx_parse(&f, cases[i].in.s, cases[i].in.n),
                         RCACHE_RESP_OK);
        assert_int_equal(f.consumed, cases[i].in.n);
        assert_args(&f, cases[i].argc, cases[i].args);
        fx_free(&f);
    }
}

/* Every cut point: prefix -> NEED_MORE, then the whole -> the same argv. */
static void test_split_every_boundary(void **state)
{
    size_t i, k;

    (void)state;
    for (i = 0; i < N_CASES; i++) {
        const case_t *c = &cases[i];
        for (k = 1; k < c->in.n; k++) {
            fx_t f;
            fx_init(&f, NULL);
            assert_int_equal(fx_parse(&f, c->in.s, k), RCACHE_RESP_NEED_MORE);
            assert_int_equal(f.consumed, 0);
            assert_int_equal(fx_parse(&f, c->in.s, c->in.n), RCACHE_RESP_OK);
            assert_int_equal(f.consumed, c->in.n);
            assert_args(&f, c->argc, c->args);
            fx_free(&f);
        }
    }
}

/* One parser, the buffer growing one byte per call (and moving each time). */
static void test_byte_by_byte(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_CASES; i++) {
        fx_t f;
        fx_init(&f, NULL);
        assert_int_equal(fx_feed_growing(&f, cases[i].in.s, cases[i].in.n),
                         RCACHE_RESP_OK);
        assert_int_equal(f.consumed, cases[i].in.n);
        assert_args(&f, cases[i].argc, cases[i].args);
        fx_free(&f);
    }
}

/* All the cases back to back in one buffer, one command per call. */
static void test_cases_pipelined(void **state)
{
    char buf[2048];
    size_t i, n = 0, off = 0;
    fx_t f;

    (void)state;
    for (i = 0; i < N_CASES; i++) {
        memcpy(buf + n, cases[i].in.s, cases[i].in.n);
        n += cases[i].in.n;
    }
    fx_init(&f, NULL);
    for (i = 0; i < N_CASES; i++) {
        assert_int_equal(rcache__resp_parse(&f.p, buf + off, n - off, &f.argv,
                                            &f.cap, &f.argc, &f.consumed),
                         RCACHE_RESP_OK);
        assert_int_equal(f.consumed, cases[i].in.n);
        assert_args(&f, cases[i].argc, cases[i].args);
        off += f.consumed;
    }
    assert_int_equal(off, n);
    assert_int_equal(rcache__resp_parse(&f.p, buf + off, 0, &f.argv, &f.cap,
                                        &f.argc, &f.consumed),
                     RCACHE_RESP_NEED_MORE);
    fx_free(&f);
}

/* ---- pipelining -------------------------------------------------------- */

#define PIPE_N 10000

/* Command i of the pipelined stream: SET, GET or inline GET. */
static size_t pipe_cmd(char *out, int i)
{
    switch (i % 3) {
    case 0:
        return (size_t)sprintf(out,
                               "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\nv%d\r\n",
                               (int)strlen("key:") + snprintf(NULL, 0, "%d", i),
                               i, 1 + snprintf(NULL, 0, "%d", i), i);
    case 1:
        return (size_t)sprintf(out, "*2\r\n$3\r\nGET\r\n$%d\r\nkey:%d\r\n",
                               (int)strlen("key:") + snprintf(NULL, 0, "%d", i),
                               i);
    default:
        return (size_t)sprintf(out, "GET key:%d\r\n", i);
    }
}

static void check_pipe_cmd(const fx_t *f, int i)
{
    char key[32], val[32];

    snprintf(key, sizeof(key), "key:%d", i);
    snprintf(val, sizeof(val), "v%d", i);
    assert_int_equal(f->argc, i % 3 == 0 ? 3 : 2);
    assert_int_equal(f->argv[0].len, 3);
    assert_memory_equal(f->argv[0].ptr, i % 3 == 0 ? "SET" : "GET", 3);
    assert_int_equal(f->argv[1].len, strlen(key));
    assert_memory_equal(f->argv[1].ptr, key, strlen(key));
    if (i % 3 == 0) {
        assert_int_equal(f->argv[2].len, strlen(val));
        assert_memory_equal(f->argv[2].ptr, val, strlen(val));
    }
}

static char *build_pipe(size_t *n)
{
    char *buf = malloc((size_t)PIPE_N * 64);
    size_t len = 0;
    int i;

    assert_non_null(buf);
    for (i = 0; i < PIPE_N; i++)
        len += pipe_cmd(buf + len, i);
    *n = len;
    return buf;
}

/* 10k commands in one buffer; after the first few no buffer is reallocated
 * (no per-command malloc in steady state). */
static void test_pipelined_10k(void **state)
{
    size_t n, off = 0;
    char *buf = build_pipe(&n);
    rcache__resp_arg_t *argv0 = NULL;
    size_t *off0 = NULL;
    char *inl0 = NULL;
    fx_t f;
    int i;

    (void)state;
    fx_init(&f, NULL);
    for (i = 0; i < PIPE_N; i++) {
        assert_int_equal(rcache__resp_parse(&f.p, buf + off, n - off, &f.argv,
                                            &f.cap, &f.argc, &f.consumed),
                         RCACHE_RESP_OK);
        check_pipe_cmd(&f, i);
        off += f.consumed;
        if (i == 2) {
            argv0 = f.argv;
            off0 = f.p.arg_off;
            inl0 = f.p.inline_buf;
        } else if (i > 2) {
            assert_ptr_equal(f.argv, argv0);
            assert_ptr_equal(f.p.arg_off, off0);
            assert_ptr_equal(f.p.inline_buf, inl0);
        }
    }
    assert_int_equal(off, n);
    fx_free(&f);
    free(buf);
}

/* Tiny xorshift PRNG: deterministic, seeded per test. */
static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t rng_range(size_t lo, size_t hi) /* inclusive */
{
    return lo + (size_t)(rng() % (uint64_t)(hi - lo + 1));
}

/* The same stream as a server sees it: arbitrary reads, the query buffer
 * compacted (moved) after consuming, commands split anywhere. */
static void test_pipelined_random_reads(void **state)
{
    size_t n, have = 0, start = 0;
    char *stream = build_pipe(&n);
    fx_t f;
    int i = 0;

    (void)state;
    rng_state = 0x9e3779b97f4a7c15ULL;
    fx_init(&f, NULL);
    while (i < PIPE_N) {
        int rc = fx_parse(&f, stream + start, have - start);
        if (rc == RCACHE_RESP_OK) {
            check_pipe_cmd(&f, i++);
            start += f.consumed;
            continue;
        }
        assert_int_equal(rc, RCACHE_RESP_NEED_MORE);
        assert_true(have < n);
        have += rng_range(1, 97);
        if (have > n)
            have = n;
    }
    assert_int_equal(start, n);
    fx_free(&f);
    free(stream);
}

/* ---- inline ------------------------------------------------------------ */

static const case_t inline_cases[] = {
    { B("a\"b c\"\n"), 1, { B("ab c") } },            /* quote mid-token */
    { B("\"\\x41\\x4a\\x4B\"\n"), 1, { B("AJK") } },  /* \xHH, any case */
    { B("\"\\xZZ\\x4\"\n"), 1, { B("xZZx4") } },       /* not hex: \x -> x */
    { B("\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n"), 1, { B("\n\r\t\b\a\\\"q") } },
    { B("'a\\nb' 'a\\\\b'\n"), 2, { B("a\\nb"), B("a\\\\b") } }, /* no \n */
    { B("'\"' \"'\"\n"), 2, { B("\""), B("'") } },
    { B("\"a\"\tb\r\n"), 2, { B("a"), B("b") } },
    { B("\"a\"\vb\n"), 2, { B("a"), B("b") } },       /* \v is a blank */
    { B("a\vb\n"), 1, { B("a\vb") } },                 /* ...but no token end */
    { B("\v\fa\n"), 1, { B("a") } },
    { B("a\rb\n"), 2, { B("a"), B("b") } },            /* lone CR splits */
    { B("a\r\r\n"), 1, { B("a") } },
    { B("a\0b\n"), 1, { B("a\0b") } },                 /* NUL is a byte */
    { B("''\n"), 1, { B("") } },
};

static void test_inline_quoting(void **state)
{
    size_t i, n = sizeof(inline_cases) / sizeof(inline_cases[0]);

    (void)state;
    for (i = 0; i < n; i++) {
        fx_t f;
        fx_init(&f, NULL);
        assert_int_equal(fx_parse(&f, inline_cases[i].in.s, inline_cases[i].in.n),
                         RCACHE_RESP_OK);
        assert_int_equal(f.consumed, inline_cases[i].in.n);
        assert_args(&f, inline_cases[i].argc, inline_cases[i].args);
        fx_free(&f);

        fx_init(&f, NULL);
        assert_int_equal(fx_feed_growing(&f, inline_cases[i].in.s,
                                         inline_cases[i].in.n),
                         RCACHE_RESP_OK);
        assert_args(&f, inline_cases[i].argc, inline_cases[i].args);
        fx_free(&f);
    }
}

/* A line not starting with '*' is inline even if it contains one later. */
static void test_inline_not_star(void **state)
{
    fx_t f;
    const blob_t args[] = { B("*1"), B("x") };

    (void)state;
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, " *1 x\n", 6), RCACHE_RESP_OK);
    assert_args(&f, 2, args);
    fx_free(&f);
}

static void test_inline_unbalanced_quotes(void **state)
{
    (void)state;
    CHECK_ERROR(NULL, "GET \"k\r\n", E_QUOTES);
    CHECK_ERROR(NULL, "GET 'k\n", E_QUOTES);
    CHECK_ERROR(NULL, "GET \"k\"x\n", E_QUOTES);   /* closing quote + byte */
    CHECK_ERROR(NULL, "GET 'k'x\n", E_QUOTES);
    CHECK_ERROR(NULL, "\"a\"\"b\"\n", E_QUOTES);
    CHECK_ERROR(NULL, "\"a\\\"\n", E_QUOTES);      /* escaped closing quote */
    CHECK_ERROR(NULL, "'a\\'\n", E_QUOTES);
    CHECK_ERROR(NULL, "\"a\\\n", E_QUOTES);        /* backslash at the end */
    CHECK_ERROR(NULL, "\"\r\n", E_QUOTES);         /* the CR is stripped */
}

/* Inline argv point into the parser's own buffer, not into the input. */
static void test_inline_args_owned(void **state)
{
    fx_t f;
    char line[] = "SET \"k\" v\r\n";

    (void)state;
    fx_init(&f, NULL);
    assert_int_equal(rcache__resp_parse(&f.p, line, sizeof(line) - 1, &f.argv,
                                        &f.cap, &f.argc, &f.consumed),
                     RCACHE_RESP_OK);
    memset(line, 'Z', sizeof(line) - 1);
    assert_int_equal(f.argc, 3);
    assert_memory_equal(f.argv[1].ptr, "k", 1);
    assert_memory_equal(f.argv[2].ptr, "v", 1);
    fx_free(&f);
}

/* ---- empty commands ---------------------------------------------------- */

static void test_empty_commands(void **state)
{
    static const blob_t empties[] = {
        B("*0\r\n"), B("*-1\r\n"), B("*-5\r\n"), B("\r\n"), B("\n"),
        B("   \t\r\n"), B("\v\f \n"),
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        char buf[64];
        fx_t f;
        size_t n = empties[i].n;
        const blob_t ping[] = { B("PING") };

        memcpy(buf, empties[i].s, n);
        memcpy(buf + n, "PING\r\n", 6);
        fx_init(&f, NULL);
        assert_int_equal(fx_parse(&f, buf, n + 6), RCACHE_RESP_OK);
        assert_int_equal(f.argc, 0);
        assert_int_equal(f.consumed, n);
        assert_int_equal(fx_parse(&f, buf + n, 6), RCACHE_RESP_OK);
        assert_args(&f, 1, ping);
        fx_free(&f);

        fx_init(&f, NULL);
        assert_int_equal(fx_feed_growing(&f, buf, n), RCACHE_RESP_OK);
        assert_int_equal(f.argc, 0);
        assert_int_equal(f.consumed, n);
        fx_free(&f);
    }
}

static void test_nothing_yet(void **state)
{
    fx_t f;

    (void)state;
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, "", 0), RCACHE_RESP_NEED_MORE);
    assert_int_equal(f.consumed, 0);
    assert_int_equal(f.argc, 0);
    fx_free(&f);
}

/* ---- malformed input --------------------------------------------------- */

static void test_multibulk_count_errors(void **state)
{
    (void)state;
    CHECK_ERROR(NULL, "*\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*x\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*1x\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*+1\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*01\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*-0\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*-\r\n", E_MBULK);
    CHECK_ERROR(NULL, "* 1\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*1 \r\n", E_MBULK);
    CHECK_ERROR(NULL, "*1\0\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*9223372036854775808\r\n", E_MBULK); /* overflow */
    CHECK_ERROR(NULL, "*-9223372036854775809\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*99999999999999999999\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*123456789012345678901\r\n", E_MBULK); /* >20 bytes */
    CHECK_ERROR(NULL, "*2147483648\r\n", E_MBULK);
    CHECK_ERROR(NULL, "*1048577\r\n", E_MBULK); /* default max_args + 1 */
    /* a big negative count is still just an empty command in Redis */
    {
        fx_t f;
        fx_init(&f, NULL);
        assert_int_equal(fx_parse(&f, "*-9223372036854775808\r\n", 23),
                         RCACHE_RESP_OK);
        assert_int_equal(f.argc, 0);
        assert_int_equal(f.consumed, 23);
        fx_free(&f);
    }
}

static void test_bulk_length_errors(void **state)
{
    (void)state;
    CHECK_ERROR(NULL, "*1\r\n$\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$-1\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$-0\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$+3\r\nGET\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$03\r\nGET\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$ 3\r\nGET\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$3 \r\nGET\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$3x\r\nGET\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$18446744073709551616\r\n", E_BULK);
    CHECK_ERROR(NULL, "*2\r\n$3\r\nGET\r\n$-5\r\n", E_BULK);
}

static void test_expected_dollar(void **state)
{
    (void)state;
    CHECK_ERROR(NULL, "*1\r\nX\r\n", "Protocol error: expected '$', got 'X'");
    CHECK_ERROR(NULL, "*1\r\n:3\r\n", "Protocol error: expected '$', got ':'");
    CHECK_ERROR(NULL, "*2\r\n$1\r\na\r\n*1\r\n",
                "Protocol error: expected '$', got '*'");
    CHECK_ERROR(NULL, "*1\r\n\xff\r\n",
                "Protocol error: expected '$', got '\xff'");
    /* Redis prints CR/LF in error replies as spaces; NUL likewise here */
    CHECK_ERROR(NULL, "*1\r\n\r\n", "Protocol error: expected '$', got ' '");
    CHECK_ERROR(NULL, "*1\r\n\n\r\n", "Protocol error: expected '$', got ' '");
    CHECK_ERROR(NULL, "*1\r\n\0\r\n", "Protocol error: expected '$', got ' '");
}

/* Redis does not look at the byte after a count line's '\r', nor at the
 * two bytes after a bulk payload: neither do we. */
static void test_crlf_not_checked(void **state)
{
    fx_t f;
    const blob_t get[] = { B("GET") };

    (void)state;
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, "*1\r\n$3\r\nGETxy", 13), RCACHE_RESP_OK);
    assert_args(&f, 1, get);
    assert_int_equal(f.consumed, 13);
    assert_int_equal(fx_parse(&f, "*1\rx$3\ryGET\r\n", 13), RCACHE_RESP_OK);
    assert_args(&f, 1, get);
    fx_free(&f);
}

/* The '$' check, like Redis's, waits for the whole header line. */
static void test_waits_for_line(void **state)
{
    fx_t f;

    (void)state;
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, "*1\r\nX", 5), RCACHE_RESP_NEED_MORE);
    assert_int_equal(fx_parse(&f, "*1\r\nX\r", 6), RCACHE_RESP_NEED_MORE);
    assert_int_equal(fx_parse(&f, "*1\r\nX\r\n", 7), RCACHE_RESP_ERROR);
    fx_free(&f);
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, "*1\r", 3), RCACHE_RESP_NEED_MORE);
    assert_int_equal(fx_parse(&f, "*1\r\n$3\r\nGET\r", 12),
                     RCACHE_RESP_NEED_MORE);
    fx_free(&f);
}

/* ---- limits ------------------------------------------------------------ */

static void test_default_limits(void **state)
{
    rcache__resp_limits_t lim;
    fx_t f;

    (void)state;
    rcache__resp_limits_default(&lim);
    assert_int_equal(lim.max_args, 1024 * 1024);
    assert_int_equal(lim.max_bulk_len, (size_t)512 * 1024 * 1024);
    assert_int_equal(lim.max_inline_len, 64 * 1024);
    fx_init(&f, NULL);
    assert_int_equal(f.p.lim.max_args, lim.max_args);
    assert_int_equal(f.p.lim.max_bulk_len, lim.max_bulk_len);
    assert_int_equal(f.p.lim.max_inline_len, lim.max_inline_len);
    fx_free(&f);
}

static void test_limit_args(void **state)
{
    rcache__resp_limits_t lim = { 3, 100, 100 };
    fx_t f;

    (void)state;
    CHECK_ERROR(&lim, "*4\r\n", E_MBULK);
    fx_init(&f, &lim);
    assert_int_equal(PARSE_LIT(&f, "*3\r\n$1\r\na\r\n$0\r\n\r\n$1\r\nc\r\n"),
                     RCACHE_RESP_OK);
    assert_int_equal(f.argc, 3);
    fx_free(&f);
}

static void test_limit_bulk(void **state)
{
    rcache__resp_limits_t lim = { 10, 10, 100 };
    fx_t f;

    (void)state;
    CHECK_ERROR(&lim, "*1\r\n$11\r\n", E_BULK);
    fx_init(&f, &lim);
    assert_int_equal(PARSE_LIT(&f, "*1\r\n$10\r\n0123456789\r\n"),
                     RCACHE_RESP_OK);
    assert_int_equal(f.argv[0].len, 10);
    fx_free(&f);
    /* default limit: 512 MiB accepted (header only), +1 refused at once */
    CHECK_ERROR(NULL, "*1\r\n$536870913\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$2000000000\r\n", E_BULK);
    fx_init(&f, NULL);
    assert_int_equal(PARSE_LIT(&f, "*1\r\n$536870912\r\n"),
                     RCACHE_RESP_NEED_MORE);
    assert_int_equal(f.p.bulk_len, 536870912);
    assert_int_equal(f.p.cap, 16); /* nothing reserved for the payload */
    fx_free(&f);
}

/* The fast path for whole multibulk commands (resp.c fast_command) hands
 * over to the general steps at each of its edges; whole input must give
 * what byte-by-byte input gives. */
static void test_fast_path_edges(void **state)
{
    rcache__resp_limits_t tiny = { 10, 1000, 4 }; /* lines of 4 bytes at most */
    rcache__resp_limits_t big = { 10, (size_t)-1, 100 };
    fx_t f;
    const blob_t ab[] = { B("a"), B("") };

    (void)state;
    /* 18 digits: read by the fast path; 19: left to the general steps */
    CHECK_ERROR(NULL, "*1\r\n$100000000000000000\r\n", E_BULK);
    CHECK_ERROR(NULL, "*1\r\n$1000000000000000000\r\n", E_BULK);
    fx_init(&f, &big);
    assert_int_equal(PARSE_LIT(&f, "*1\r\n$100000000000000000\r\n"),
                     RCACHE_RESP_NEED_MORE);
    assert_int_equal(f.p.bulk_len, 100000000000000000LL);
    fx_free(&f);
    /* the line limit counts the prefix byte, as the general steps do */
    fx_init(&f, &tiny);
    assert_int_equal(PARSE_LIT(&f, "*2\r\n$1\r\na\r\n$0\r\n\r\n"), RCACHE_RESP_OK);
    assert_args(&f, 2, ab);
    fx_free(&f);
    CHECK_ERROR(&tiny, "*2\r\n$1000\r\n", E_BULK_BIG);
    CHECK_ERROR(&tiny, "*10000\r\n", E_MBULK_BIG);
    tiny.max_inline_len = 2; /* "$10" is one byte too long, data and all */
    CHECK_ERROR(&tiny, "*1\r\n$10\r\n0123456789\r\n", E_BULK_BIG);
    /* a count line needs the byte after its '\r'; a payload its two */
    fx_init(&f, NULL);
    assert_int_equal(PARSE_LIT(&f, "*1\r\n$1\r\na\r"), RCACHE_RESP_NEED_MORE);
    assert_int_equal(PARSE_LIT(&f, "*1\r\n$1\r\na\r\n"), RCACHE_RESP_OK);
    assert_int_equal(f.consumed, 11);
    /* a whole command, then part of the next: one at a time */
    assert_int_equal(PARSE_LIT(&f, "*1\r\n$1\r\na\r\n*2\r\n$1"), RCACHE_RESP_OK);
    assert_int_equal(f.consumed, 11);
    fx_free(&f);
}

/* A line of n bytes of `c`, then `tail`. */
static char *line_of(char first, char c, size_t n, const char *tail,
                     size_t *len)
{
    size_t t = strlen(tail);
    char *s = malloc(n + t + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[0] = first;
    memcpy(s + n, tail, t + 1);
    *len = n + t;
    return s;
}

static void test_limit_inline(void **state)
{
    rcache__resp_limits_t lim = { 100, 100, 16 };
    size_t n;
    char *s;
    fx_t f;

    (void)state;
    /* 16 bytes before the '\n' is fine */
    s = line_of('a', 'a', 16, "\n", &n);
    fx_init(&f, &lim);
    assert_int_equal(fx_parse(&f, s, n), RCACHE_RESP_OK);
    assert_int_equal(f.argv[0].len, 16);
    fx_free(&f);
    free(s);
    /* 15 + CR + LF: fine */
    s = line_of('a', 'a', 15, "\r\n", &n);
    fx_init(&f, &lim);
    assert_int_equal(fx_parse(&f, s, n), RCACHE_RESP_OK);
    fx_free(&f);
    free(s);
    /* 17 bytes without '\n' -> too big, and the same whole (chunk
     * independent, where Redis would accept a long line read at once) */
    s = line_of('a', 'a', 17, "", &n);
    check_error(&lim, s, n, E_INLINE_BIG);
    free(s);
    s = line_of('a', 'a', 17, "\n", &n);
    check_error(&lim, s, n, E_INLINE_BIG);
    free(s);
    s = line_of('a', 'a', 16, "\r\n", &n);
    check_error(&lim, s, n, E_INLINE_BIG);
    free(s);
    /* default limit: 64 KiB */
    s = line_of('a', 'a', 64 * 1024 + 1, "", &n);
    check_error(NULL, s, n, E_INLINE_BIG);
    free(s);
    s = line_of('a', 'a', 64 * 1024, "", &n);
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, s, n), RCACHE_RESP_NEED_MORE);
    fx_free(&f);
    free(s);
}

static void test_limit_count_strings(void **state)
{
    rcache__resp_limits_t lim = { 100, 100, 16 };
    size_t n;
    char *s;
    fx_t f;

    (void)state;
    s = line_of('*', '1', 17, "", &n);
    check_error(&lim, s, n, E_MBULK_BIG);
    free(s);
    s = line_of('*', '1', 17, "\r\n", &n); /* even with its CR LF */
    check_error(&lim, s, n, E_MBULK_BIG);
    free(s);
    s = line_of('*', '1', 16, "\r\n", &n); /* within: a number problem */
    check_error(&lim, s, n, E_MBULK);
    free(s);
    s = line_of('*', ' ', 64 * 1024 + 1, "", &n); /* default limit */
    check_error(NULL, s, n, E_MBULK_BIG);
    free(s);
    s = line_of('*', ' ', 64 * 1024, "", &n);
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, s, n), RCACHE_RESP_NEED_MORE);
    fx_free(&f);
    free(s);

    CHECK_ERROR(&lim, "*1\r\n$11111111111111111", E_BULK_BIG);
    CHECK_ERROR(&lim, "*1\r\nXXXXXXXXXXXXXXXXX", E_BULK_BIG);
    CHECK_ERROR(&lim, "*1\r\n$111111111111111\r\n", E_BULK); /* 16: within */
}

/* *1000000 announced, few arguments sent: memory follows what arrived. */
static void test_huge_count_no_reserve(void **state)
{
    char buf[256];
    size_t n = (size_t)sprintf(buf, "*1000000\r\n");
    int i;
    fx_t f;

    (void)state;
    for (i = 0; i < 20; i++)
        n += (size_t)sprintf(buf + n, "$1\r\n%c\r\n", 'a' + i);
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, buf, n), RCACHE_RESP_NEED_MORE);
    assert_int_equal(f.p.argc, 20);
    assert_true(f.p.cap <= 32);
    assert_int_equal(f.cap, 0); /* caller argv untouched until complete */
    assert_null(f.argv);
    fx_free(&f);
}

/* A 5000-argument command: argv grows to fit, then the parser's own
 * offset arrays shrink back once the command is done. */
static void test_argv_growth(void **state)
{
    const size_t N = 5000;
    char *buf = malloc(N * 16 + 32);
    size_t n, i;
    fx_t f;

    (void)state;
    assert_non_null(buf);
    n = (size_t)sprintf(buf, "*%zu\r\n", N);
    for (i = 0; i < N; i++)
        n += (size_t)sprintf(buf + n, "$%d\r\n%zu\r\n",
                             snprintf(NULL, 0, "%zu", i), i);
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, buf, n), RCACHE_RESP_OK);
    assert_int_equal(f.argc, N);
    assert_true(f.cap >= N);
    for (i = 0; i < N; i++) {
        char num[24];
        size_t l = (size_t)sprintf(num, "%zu", i);
        assert_int_equal(f.argv[i].len, l);
        assert_memory_equal(f.argv[i].ptr, num, l);
    }
    assert_true(f.p.cap <= 1024);
    /* and again byte-chunked, the arrays growing across calls */
    fx_free(&f);
    fx_init(&f, NULL);
    for (i = 1; i < n; i += 7)
        assert_int_equal(fx_parse(&f, buf, i), RCACHE_RESP_NEED_MORE);
    assert_int_equal(fx_parse(&f, buf, n), RCACHE_RESP_OK);
    assert_int_equal(f.argc, N);
    assert_memory_equal(f.argv[N - 1].ptr, "4999", 4);
    fx_free(&f);
    free(buf);
}

/* An argv array the caller already has is reused, not replaced. */
static void test_argv_caller_array(void **state)
{
    fx_t f;
    rcache__resp_arg_t *mine;

    (void)state;
    fx_init(&f, NULL);
    mine = malloc(4 * sizeof(*mine));
    assert_non_null(mine);
    f.argv = mine;
    f.cap = 4;
    assert_int_equal(fx_parse(&f, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", 18),
                     RCACHE_RESP_OK);
    assert_ptr_equal(f.argv, mine);
    assert_int_equal(f.cap, 4);
    assert_int_equal(fx_parse(&f, "a b c d e\n", 10), RCACHE_RESP_OK);
    assert_int_equal(f.argc, 5);
    assert_true(f.cap >= 5);
    fx_free(&f);
}

/* A caller passing fewer bytes than the parser already examined (a broken
 * contract) gets NEED_MORE, and no read beyond what it passed. */
static void test_shrunk_buffer_is_safe(void **state)
{
    static const char cmd[] = "*1\r\n$3\r\nGET\r\n";
    const blob_t get[] = { B("GET") };
    fx_t f;

    (void)state;
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, cmd, 10), RCACHE_RESP_NEED_MORE);
    assert_int_equal(fx_parse(&f, cmd, 3), RCACHE_RESP_NEED_MORE);
    assert_int_equal(fx_parse(&f, cmd, sizeof(cmd) - 1), RCACHE_RESP_OK);
    assert_args(&f, 1, get);
    fx_free(&f);
}

/* ---- allocation failure ------------------------------------------------ */

#ifdef RESP_TEST_WRAP_ALLOC
/* The test is linked with -Wl,--wrap=malloc,--wrap=realloc: allocations made
 * by this file and resp.c come here. alloc_countdown: how many more succeed
 * before one fails (-1: never). */
static long alloc_countdown = -1;

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);

static int alloc_should_fail(void)
{
    if (alloc_countdown < 0)
        return 0;
    return alloc_countdown-- == 0;
}

void *__wrap_malloc(size_t n)
{
    return alloc_should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return alloc_should_fail() ? NULL : __real_realloc(p, n);
}

static void test_init_out_of_memory(void **state)
{
    rcache__resp_parser_t p;
    long k;

    (void)state;
    for (k = 0; k < 2; k++) {
        alloc_countdown = k;
        assert_int_equal(rcache__resp_parser_init(&p, NULL), -1);
        alloc_countdown = -1;
        assert_null(p.arg_off);
        assert_null(p.arg_len);
    }
}

/* Fail the k-th allocation of a parse, for every k: each attempt ends in
 * "out of memory" or success, and the parser stays usable and correct
 * (including when shrinking its arrays after a big command fails). */
static void oom_sweep(const char *cmd, size_t n, size_t want_argc)
{
    long k;
    int failures = 0;

    for (k = 0;; k++) {
        fx_t f;
        int rc;
        long left;

        fx_init(&f, NULL);
        alloc_countdown = k;
        rc = rcache__resp_parse(&f.p, cmd, n, &f.argv, &f.cap, &f.argc,
                                &f.consumed);
        left = alloc_countdown; /* >= 0: the parse made fewer than k+1 */
        alloc_countdown = -1;
        if (rc == RCACHE_RESP_ERROR) {
            assert_string_equal(f.p.error, "out of memory");
            failures++;
            fx_free(&f);
            continue;
        }
        assert_int_equal(rc, RCACHE_RESP_OK);
        assert_int_equal(f.argc, want_argc);
        /* once more with nothing failing: same answer */
        assert_int_equal(rcache__resp_parse(&f.p, cmd, n, &f.argv, &f.cap,
                                            &f.argc, &f.consumed),
                         RCACHE_RESP_OK);
        assert_int_equal(f.argc, want_argc);
        assert_int_equal(f.argv[want_argc - 1].len, 1);
        assert_memory_equal(f.argv[want_argc - 1].ptr, "z", 1);
        fx_free(&f);
        if (left >= 0)
            break; /* no allocation failed: every one was tried */
    }
    assert_true(failures > 0);
}

static void test_parse_out_of_memory(void **state)
{
    const size_t N = 2000;
    char *buf = malloc(N * 8 + 32);
    size_t n, i;

    (void)state;
    assert_non_null(buf);
    n = (size_t)sprintf(buf, "*%zu\r\n", N);
    for (i = 0; i + 1 < N; i++)
        n += (size_t)sprintf(buf + n, "$1\r\na\r\n");
    n += (size_t)sprintf(buf + n, "$1\r\nz\r\n");
    oom_sweep(buf, n, N);
    n = 0;
    for (i = 0; i + 1 < 100; i++)
        n += (size_t)sprintf(buf + n, "a ");
    n += (size_t)sprintf(buf + n, "\"z\"\r\n");
    oom_sweep(buf, n, 100);
    free(buf);
}
#endif /* RESP_TEST_WRAP_ALLOC */

/* ---- randomized round trip -------------------------------------------- */

typedef struct {
    size_t argc;
    size_t len[12];
    char data[12][300];
} rcmd_t;

static void random_cmd(rcmd_t *c)
{
    size_t i, j;

    c->argc = rng_range(1, 12);
    for (i = 0; i < c->argc; i++) {
        size_t r = rng_range(0, 9);
        c->len[i] = r == 0 ? 0 : r < 7 ? rng_range(1, 16) : rng_range(17, 300);
        for (j = 0; j < c->len[i]; j++) {
            /* bias toward the bytes that matter to the parser */
            static const char special[] = "\r\n\0 \t\"'\\*$x";
            c->data[i][j] = rng() % 3 == 0
                                ? special[rng_range(0, sizeof(special) - 2)]
                                : (char)rng();
        }
    }
}

static size_t encode_multibulk(const rcmd_t *c, char *out)
{
    size_t i, n = rcache__resp_fmt_array_hdr(out, (long long)c->argc);

    for (i = 0; i < c->argc; i++) {
        n += rcache__resp_fmt_bulk_hdr(out + n, c->len[i]);
        memcpy(out + n, c->data[i], c->len[i]);
        n += c->len[i];
        out[n++] = '\r';
        out[n++] = '\n';
    }
    return n;
}

/* Inline, every argument in double quotes with \xHH / \" / \\ escapes. */
static size_t encode_inline(const rcmd_t *c, char *out)
{
    size_t i, j, n = 0;

    for (i = 0; i < c->argc; i++) {
        if (i)
            out[n++] = ' ';
        out[n++] = '"';
        for (j = 0; j < c->len[i]; j++) {
            unsigned char b = (unsigned char)c->data[i][j];
            if (b == '"' || b == '\\') {
                out[n++] = '\\';
                out[n++] = (char)b;
            } else if (b < 0x20 || b >= 0x7f) {
                n += (size_t)sprintf(out + n, "\\x%02x", b);
            } else {
                out[n++] = (char)b;
            }
        }
        out[n++] = '"';
    }
    if (rng() & 1)
        out[n++] = '\r';
    out[n++] = '\n';
    return n;
}

static void test_random_roundtrip(void **state)
{
    enum { ROUNDS = 60, CMDS = 40 };
    rcmd_t *cmds = malloc(CMDS * sizeof(*cmds));
    char *stream = malloc((size_t)CMDS * 12 * 1300);
    int round;

    (void)state;
    assert_non_null(cmds);
    assert_non_null(stream);
    rng_state = 0x2545f4914f6cdd1dULL;
    for (round = 0; round < ROUNDS; round++) {
        size_t n = 0, have = 0, start = 0, maxchunk;
        int i, got = 0;
        fx_t f;

        for (i = 0; i < CMDS; i++) {
            random_cmd(&cmds[i]);
            n += rng() % 4 ? encode_multibulk(&cmds[i], stream + n)
                           : encode_inline(&cmds[i], stream + n);
        }
        maxchunk = round % 3 == 0 ? 3 : round % 3 == 1 ? 64 : 4096;
        fx_init(&f, NULL);
        while (got < CMDS) {
            int rc = fx_parse(&f, stream + start, have - start);
            if (rc == RCACHE_RESP_OK) {
                size_t a;
                assert_int_equal(f.argc, cmds[got].argc);
                for (a = 0; a < f.argc; a++) {
                    assert_int_equal(f.argv[a].len, cmds[got].len[a]);
                    assert_memory_equal(f.argv[a].ptr, cmds[got].data[a],
                                        cmds[got].len[a] ? cmds[got].len[a] : 0);
                }
                got++;
                start += f.consumed;
                continue;
            }
            assert_int_equal(rc, RCACHE_RESP_NEED_MORE);
            assert_true(have < n);
            have += rng_range(1, maxchunk);
            if (have > n)
                have = n;
        }
        assert_int_equal(start, n);
        fx_free(&f);
    }
    free(cmds);
    free(stream);
}

/* ---- encoders ---------------------------------------------------------- */

static void check_fmt(size_t got_n, const char *got, const char *want)
{
    assert_int_equal(got_n, strlen(want));
    assert_true(got_n <= RCACHE_RESP_HDR_MAX);
    assert_memory_equal(got, want, got_n);
}

static void test_encoders(void **state)
{
    char out[RCACHE_RESP_HDR_MAX], want[64];
    int i;

    (void)state;
    check_fmt(rcache__resp_fmt_int(out, 0), out, ":0\r\n");
    check_fmt(rcache__resp_fmt_int(out, -1), out, ":-1\r\n");
    check_fmt(rcache__resp_fmt_int(out, 10), out, ":10\r\n");
    check_fmt(rcache__resp_fmt_int(out, 9223372036854775807LL), out,
              ":9223372036854775807\r\n");
    check_fmt(rcache__resp_fmt_int(out, -9223372036854775807LL - 1), out,
              ":-9223372036854775808\r\n");
    check_fmt(rcache__resp_fmt_bulk_hdr(out, 0), out, "$0\r\n");
    check_fmt(rcache__resp_fmt_bulk_hdr(out, SIZE_MAX), out,
              SIZE_MAX == 18446744073709551615ULL ? "$18446744073709551615\r\n"
                                                  : "$4294967295\r\n");
    check_fmt(rcache__resp_fmt_array_hdr(out, -1), out, RCACHE_RESP_NULL_ARRAY);
    check_fmt(rcache__resp_fmt_array_hdr(out, 0), out, "*0\r\n");
    check_fmt(rcache__resp_fmt_array_hdr(out, 3), out, "*3\r\n");
    rng_state = 12345;
    for (i = 0; i < 20000; i++) {
        long long v = (long long)(rng() >> (1 + rng() % 63));
        size_t u = (size_t)(rng() >> (rng() % 64));
        if (rng() & 1)
            v = -v;
        snprintf(want, sizeof(want), ":%lld\r\n", v);
        check_fmt(rcache__resp_fmt_int(out, v), out, want);
        snprintf(want, sizeof(want), "*%lld\r\n", v);
        check_fmt(rcache__resp_fmt_array_hdr(out, v), out, want);
        snprintf(want, sizeof(want), "$%zu\r\n", u);
        check_fmt(rcache__resp_fmt_bulk_hdr(out, u), out, want);
    }
}

/* The encoders' output is accepted back by the parser. */
static void test_encoders_parse_back(void **state)
{
    char buf[128];
    size_t n;
    fx_t f;

    (void)state;
    n = rcache__resp_fmt_array_hdr(buf, 1);
    n += rcache__resp_fmt_bulk_hdr(buf + n, 5);
    memcpy(buf + n, "hello\r\n", 7);
    n += 7;
    fx_init(&f, NULL);
    assert_int_equal(fx_parse(&f, buf, n), RCACHE_RESP_OK);
    assert_int_equal(f.argc, 1);
    assert_memory_equal(f.argv[0].ptr, "hello", 5);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_commands),
        cmocka_unit_test(test_split_every_boundary),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_cases_pipelined),
        cmocka_unit_test(test_pipelined_10k),
        cmocka_unit_test(test_pipelined_random_reads),
        cmocka_unit_test(test_inline_quoting),
        cmocka_unit_test(test_inline_not_star),
        cmocka_unit_test(test_inline_unbalanced_quotes),
        cmocka_unit_test(test_inline_args_owned),
        cmocka_unit_test(test_empty_commands),
        cmocka_unit_test(test_nothing_yet),
        cmocka_unit_test(test_multibulk_count_errors),
        cmocka_unit_test(test_bulk_length_errors),
        cmocka_unit_test(test_expected_dollar),
        cmocka_unit_test(test_crlf_not_checked),
        cmocka_unit_test(test_waits_for_line),
        cmocka_unit_test(test_default_limits),
        cmocka_unit_test(test_limit_args),
        cmocka_unit_test(test_limit_bulk),
        cmocka_unit_test(test_limit_inline),
        cmocka_unit_test(test_limit_count_strings),
        cmocka_unit_test(test_huge_count_no_reserve),
        cmocka_unit_test(test_argv_growth),
        cmocka_unit_test(test_argv_caller_array),
        cmocka_unit_test(test_shrunk_buffer_is_safe),
#ifdef RESP_TEST_WRAP_ALLOC
        cmocka_unit_test(test_init_out_of_memory),
        cmocka_unit_test(test_parse_out_of_memory),
#endif
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_fast_path_edges),
        cmocka_unit_test(test_encoders),
        cmocka_unit_test(test_encoders_parse_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
