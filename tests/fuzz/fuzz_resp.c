/*
 * fuzz_resp.c - libFuzzer target for the RESP2 request parser
 * (src/server/resp.c).
 *
 * Input layout: byte 0 picks the limits (the defaults, or small ones so the
 * limit paths are reachable with short inputs), bytes 1-4 give two cut
 * points, the rest is the byte stream a client sent.
 *
 * The stream is parsed as a server would: repeated calls on the unconsumed
 * bytes, one command per OK. It is parsed three ways - whole, in up to three
 * chunks split at the cut points, and (when short) one byte at a time - and
 * the three logs of outcomes (each command's consumed length and argv, then
 * the final error text or "need more") must be identical: a command cut at
 * any byte boundary must parse like the whole. Every call gets a fresh heap
 * copy of exactly the unconsumed bytes, so a read past len or a pointer kept
 * from an earlier call is caught by ASan. Per-call invariants (consumed,
 * argv inside the buffer, limits honoured, error text) are checked too.
 * An inconsistency traps, which libFuzzer reports as a crash.
 *
 * Build: clang -fsanitize=fuzzer,address -Isrc/server -Iinclude \
 *            tests/fuzz/fuzz_resp.c src/server/resp.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define FUZZ_CHECK(cond)            \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

#define FUZZ_BYTEWISE_MAX 512 /* byte-at-a-time run only for short inputs */

/* A growable log of outcomes. */
typedef struct {
    unsigned char *b;
    size_t n, cap;
} log_t;

static void log_put(log_t *l, const void *p, size_t n)
{
    if (l->n + n > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->n + n)
            cap *= 2;
        l->b = realloc(l->b, cap);
        FUZZ_CHECK(l->b != NULL);
        l->cap = cap;
    }
    memcpy(l->b + l->n, p, n);
    l->n += n;
}

static void log_size(log_t *l, size_t v)
{
    log_put(l, &v, sizeof(v));
}

static void pick_limits(unsigned char sel, rcache__resp_limits_t *lim)
{
    rcache__resp_limits_default(lim);
    switch (sel % 4) {
    case 1:
        lim->max_args = 4;
        lim->max_bulk_len = 16;
        lim->max_inline_len = 16;
        break;
    case 2:
        lim->max_args = 1;
        lim->max_bulk_len = 0;
        lim->max_inline_len = 1;
        break;
    case 3:
        lim->max_args = 100;
        lim->max_bulk_len = 1000;
        lim->max_inline_len = 64;
        break;
    default:
        break;
    }
}

static int known_error(const char *e)
{
    static const char *const errs[] = {
        "Protocol error: invalid multibulk length",
        "Protocol error: invalid bulk length",
        "Protocol error: too big mbulk count string",
        "Protocol error: too big bulk count string",
        "Protocol error: too big inline request",
        "Protocol error: unbalanced quotes in request",
        "out of memory",
    };
    static const char exp[] = "Protocol error: expected '$', got '";
    size_t i;

    for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
        if (strcmp(e, errs[i]) == 0)
            return 1;
    /* the expected-'$' text: the prefix, one byte, a closing quote */
    return strncmp(e, exp, sizeof(exp) - 1) == 0 &&
           strlen(e) == sizeof(exp) + 1 && e[sizeof(exp)] == '\'';
}

/* Invariants of one OK answer; then log it. */
static void check_ok(const rcache__resp_parser_t *p, const char *buf,
                     size_t len, const rcache__resp_arg_t *argv, size_t argc,
                     size_t consumed, log_t *lg)
{
    size_t i;
    unsigned char tag = 'K';

    FUZZ_CHECK(consumed > 0 && consumed <= len);
    FUZZ_CHECK(buf[0] == '*' || consumed <= p->lim.max_inline_len + 1);
    if (buf[0] == '*')
        FUZZ_CHECK(argc <= p->lim.max_args);
    log_put(lg, &tag, 1);
    log_size(lg, consumed);
    log_size(lg, argc);
    for (i = 0; i < argc; i++) {
        if (buf[0] == '*') {
            FUZZ_CHECK(argv[i].len <= p->lim.max_bulk_len);
            FUZZ_CHECK(argv[i].ptr >= buf &&
                       argv[i].ptr + argv[i].len <= buf + consumed);
        } else {
            FUZZ_CHECK(argv[i].len < consumed);
        }
        log_size(lg, argv[i].len);
        log_put(lg, argv[i].ptr, argv[i].len);
    }
}

/*
 * Parse stream[0..n) with the bytes arriving in steps: first cut1 bytes,
 * then cut2, then all (step 1: one more byte each time). Logs the outcomes.
 */
static void run(const rcache__resp_limits_t *lim, const unsigned char *stream,
                size_t n, size_t cut1, size_t cut2, int bytewise, log_t *lg)
{
    rcache__resp_parser_t p;
    rcache__resp_arg_t *argv = NULL;
    size_t cap = 0, argc, consumed, start = 0;
    size_t have = bytewise ? (n ? 1 : 0) : cut1;

    FUZZ_CHECK(rcache__resp_parser_init(&p, lim) == 0);
    for (;;) {
        size_t len = have - start;
        char *copy = malloc(len ? len : 1);
        int rc;

        FUZZ_CHECK(copy != NULL);
        if (len)
            memcpy(copy, stream + start, len);
        rc = rcache__resp_parse(&p, copy, len, &argv, &cap, &argc, &consumed);
        if (rc == RCACHE_RESP_OK) {
            check_ok(&p, copy, len, argv, argc, consumed, lg);
            start += consumed;
        } else if (rc == RCACHE_RESP_ERROR) {
            unsigned char tag = 'E';
            FUZZ_CHECK(consumed == 0 && p.error != NULL);
            FUZZ_CHECK(known_error(p.error));
            log_put(lg, &tag, 1);
            log_put(lg, p.error, strlen(p.error) + 1);
        } else {
            FUZZ_CHECK(rc == RCACHE_RESP_NEED_MORE && consumed == 0);
        }
        free(copy);
        if (rc == RCACHE_RESP_ERROR)
            break;
        if (rc == RCACHE_RESP_NEED_MORE) {
            if (have == n) {
                unsigned char tag = 'M';
                log_put(lg, &tag, 1);
                break;
            }
            have = bytewise ? have + 1 : have < cut2 ? cut2 : n;
        }
    }
    free(argv);
    rcache__resp_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rcache__resp_limits_t lim;
    log_t whole = { 0 }, split = { 0 }, bytes = { 0 };
    size_t n, c1, c2, t;
    const unsigned char *stream;

    if (size < 5)
        return 0;
    pick_limits(data[0], &lim);
    stream = data + 5;
    n = size - 5;
    c1 = ((size_t)data[1] | (size_t)data[2] << 8) % (n + 1);
    c2 = ((size_t)data[3] | (size_t)data[4] << 8) % (n + 1);
    if (c1 > c2) {
        t = c1;
        c1 = c2;
        c2 = t;
    }
    run(&lim, stream, n, n, n, 0, &whole);
    run(&lim, stream, n, c1, c2, 0, &split);
    FUZZ_CHECK(whole.n == split.n && memcmp(whole.b, split.b, whole.n) == 0);
    if (n <= FUZZ_BYTEWISE_MAX) {
        run(&lim, stream, n, 0, 0, 1, &bytes);
        FUZZ_CHECK(whole.n == bytes.n &&
                   memcmp(whole.b, bytes.b, whole.n) == 0);
    }
    free(whole.b);
    free(split.b);
    free(bytes.b);
    return 0;
}
