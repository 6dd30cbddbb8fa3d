/*
 * bench_resp.c - throughput probe for the RESP2 parser: parses a pipelined
 * stream of GET/SET multibulk commands (and, separately, inline GETs) many
 * times over and prints commands per second. Not a test: it asserts nothing
 * about speed, since the build machine is shared; run it by hand:
 *   bench_resp [seconds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resp.h"

#define BENCH_CMDS 100000

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* BENCH_CMDS commands: even = SET key:i <16-byte value>, odd = GET key:i. */
static char *build_stream(int inline_form, size_t *len)
{
    char *buf = malloc((size_t)BENCH_CMDS * 80);
    size_t n = 0;
    int i;

    if (!buf)
        return NULL;
    for (i = 0; i < BENCH_CMDS; i++) {
        char key[24];
        int kl = snprintf(key, sizeof(key), "key:%08d", i);
        if (inline_form)
            n += (size_t)sprintf(buf + n, "GET %s\r\n", key);
        else if (i % 2 == 0)
            n += (size_t)sprintf(buf + n,
                                 "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n"
                                 "0123456789abcdef\r\n", kl, key);
        else
            n += (size_t)sprintf(buf + n, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n",
                                 kl, key);
    }
    *len = n;
    return buf;
}

/* Parse the stream repeatedly for about `secs`; returns commands/s or -1. */
static double run(const char *buf, size_t len, double secs)
{
    rcache__resp_parser_t p;
    rcache__resp_arg_t *argv = NULL;
    size_t cap = 0, argc, consumed, total = 0, sink = 0;
    double t0, t;

    if (rcache__resp_parser_init(&p, NULL) != 0)
        return -1;
    t0 = now_s();
    do {
        size_t off = 0;
        while (off < len) {
            if (rcache__resp_parse(&p, buf + off, len - off, &argv, &cap,
                                   &argc, &consumed) != RCACHE_RESP_OK) {
                fprintf(stderr, "parse failed at %zu: %s\n", off,
                        p.error ? p.error : "need more");
                free(argv);
                rcache__resp_parser_free(&p);
                return -1;
            }
            sink += argv[argc - 1].len;
            off += consumed;
            total++;
        }
        t = now_s() - t0;
    } while (t < secs);
    free(argv);
    rcache__resp_parser_free(&p);
    if (sink == 0)
        fprintf(stderr, "(sink %zu)\n", sink);
    return (double)total / t;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    int form;

    for (form = 0; form < 2; form++) {
        size_t len;
        char *buf = build_stream(form, &len);
        double rate;
        if (!buf)
            return 1;
        rate = run(buf, len, secs);
        free(buf);
        if (rate < 0)
            return 1;
        printf("%-22s %8.2f M commands/s\n",
               form ? "inline GET" : "multibulk GET/SET", rate / 1e6);
    }
    return 0;
}
