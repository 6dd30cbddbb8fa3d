/*
 * main.c - rcache-bench: entry point and subcommand dispatch.
 *
 *   rcache-bench trace FILE [options]   replay a cache trace (cmd_trace.c)
 *   rcache-bench micro [options]        in-process micro-benchmarks (micro.c)
 *   rcache-bench tags [options]         tag invalidation cost (tags.c)
 *
 * Server comparisons live in bench/compare.sh.
 */
#include <string.h>

#include "bench.h"

void rcache__json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void usage(FILE *f)
{
    fputs("usage: rcache-bench trace FILE [options]   replay a cache trace (--help for options)\n"
          "       rcache-bench micro [options]        library micro-benchmarks (--help)\n"
          "       rcache-bench tags [options]         tag invalidation cost (--help)\n"
          "See BENCHMARKS.md; server comparisons: bench/compare.sh\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "trace") == 0)
        return rcache__cmd_trace(argc - 1, argv + 1);
    if (strcmp(argv[1], "micro") == 0)
        return rcache__cmd_micro(argc - 1, argv + 1);
    if (strcmp(argv[1], "tags") == 0)
        return rcache__cmd_tags(argc - 1, argv + 1);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "rcache-bench: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
