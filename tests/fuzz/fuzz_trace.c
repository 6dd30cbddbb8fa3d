/*
 * fuzz_trace.c - libFuzzer target for the rcache-bench trace readers
 * (bench/trace_parse.c, bench/trace.c, bench/decomp.c).
 *
 * Input layout: byte 0 picks the format (low 3 bits + 1) and the mode
 * (bit 7: let the reader detect a compression from the first bytes, so
 * zlib/liblzma/libbz2/libzstd see the data; bit 7 clear: plain data), the
 * rest is the file's contents.
 *
 * Plain mode is differential: the bytes are cut into lines (or fixed-size
 * records) here and each is given to the pure decoder as its own exact-size
 * heap copy (so ASan catches any read past it), and the same bytes are read
 * through the streaming reader; both must yield the same requests and agree
 * on whether the data is bad.  Every decoded request is checked (key length
 * in range, numeric keys encode their id).  Compressed mode only requires
 * that the reader ends cleanly or with an error message naming the file.
 * An inconsistency traps, which libFuzzer reports as a crash.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address -D_GNU_SOURCE -Ibench \
 *          tests/fuzz/fuzz_trace.c bench/trace_parse.c bench/trace.c \
 *          bench/decomp.c -lz -llzma -lbz2 -lzstd
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#define FUZZ_CHECK(cond)            \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

#define MAX_REQS 4096

static void check_req(const rcache__trace_req_t *rq)
{
    FUZZ_CHECK(rq->key_len >= 1 && rq->key_len <= RCACHE__TRACE_MAX_KEY);
    if (!rq->is_string) {
        FUZZ_CHECK(rq->key_len == 8);
        uint64_t id = 0;
        for (int i = 7; i >= 0; i--)
            id = (id << 8) | rq->key[i];
        FUZZ_CHECK(id == rq->id);
    }
}

/* Decode with the pure functions; returns the number of requests (ids in
 * out), and *bad = 1 if a line or record was rejected. */
static size_t decode_pure(rcache__trace_format_t f, const uint8_t *p, size_t n,
                          uint64_t *out, int *bad)
{
    rcache__trace_req_t rq;
    char err[512];
    size_t k = 0;
    *bad = 0;
    size_t rs = rcache__trace_record_size(f);
    if (rs) {
        size_t i = 0;
        for (; i + rs <= n; i += rs) {
            unsigned char *rec = malloc(rs);
            memcpy(rec, p + i, rs);
            int r = rcache__trace_parse_record(f, rec, &rq, err, sizeof err);
            free(rec);
            FUZZ_CHECK(r == 1);
            check_req(&rq);
            if (k < MAX_REQS)
                out[k] = rq.id;
            k++;
        }
        *bad = i != n; /* partial record at the end */
        return k;
    }
    uint64_t lineno = 0;
    size_t st = 0;
    while (st < n) {
        const uint8_t *nl = memchr(p + st, '\n', n - st);
        size_t len = nl ? (size_t)(nl - (p + st)) : n - st;
        char *line = malloc(len ? len : 1);
        memcpy(line, p + st, len);
        lineno++;
        err[0] = '\0';
        int r = rcache__trace_parse_line(f, line, len, lineno, &rq, err, sizeof err);
        free(line);
        FUZZ_CHECK(r >= -1 && r <= 1);
        if (r < 0) {
            FUZZ_CHECK(err[0] != '\0');
            *bad = 1;
            return k;
        }
        if (r == 1) {
            check_req(&rq);
            if (k < MAX_REQS)
                out[k] = rq.is_string ? 0 : rq.id;
            k++;
        }
        st += len + (nl ? 1 : 0);
    }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 1 << 16)
        return 0;
    rcache__trace_format_t f = (rcache__trace_format_t)(1 + (data[0] & 7));
    int compressed = data[0] & 0x80;
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    static uint64_t pure[MAX_REQS];
    int pure_bad = 0;
    size_t npure = compressed ? 0 : decode_pure(f, p, n, pure, &pure_bad);

    /* The same bytes through the streaming reader. */
    void *copy = malloc(n);
    memcpy(copy, p, n);
    FILE *fp = fmemopen(copy, n, "rb");
    if (!fp) {
        free(copy);
        return 0;
    }
    char err[1024];
    rcache__trace_t *t = rcache__trace_open_file(fp, "fuzz-input", f,
                                                 compressed ? RCACHE__Z_DETECT : RCACHE__Z_NONE,
                                                 err, sizeof err);
    if (!t) {
        FUZZ_CHECK(strstr(err, "fuzz-input") != NULL);
        free(copy);
        return 0;
    }
    rcache__trace_req_t rq;
    size_t k = 0;
    int r;
    while ((r = rcache__trace_next(t, &rq)) == 1) {
        check_req(&rq);
        if (!compressed && k < npure && k < MAX_REQS)
            FUZZ_CHECK(pure[k] == (rq.is_string ? 0 : rq.id));
        k++;
    }
    if (r < 0) {
        const char *e = rcache__trace_error(t);
        FUZZ_CHECK(strstr(e, "fuzz-input") != NULL);
        FUZZ_CHECK(compressed || strstr(e, "byte offset") != NULL);
    }
    if (!compressed) {
        FUZZ_CHECK(k == npure);
        FUZZ_CHECK((r < 0) == pure_bad);
    }
    rcache__trace_close(t);
    free(copy);
    return 0;
}
