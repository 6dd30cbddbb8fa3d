/*
 * bench.h - the rcache-bench subcommands and the few helpers they share.
 */
#ifndef RCACHE_BENCH_BENCH_H
#define RCACHE_BENCH_BENCH_H

#include <stdio.h>

/* rcache-bench trace FILE [options] (cmd_trace.c). */
int rcache__cmd_trace(int argc, char **argv);
/* rcache-bench micro [options] (micro.c). */
int rcache__cmd_micro(int argc, char **argv);
/* rcache-bench tags: tag invalidation against a pattern walk (tags.c). */
int rcache__cmd_tags(int argc, char **argv);

/* Write s as a JSON string literal (main.c). */
void rcache__json_str(FILE *f, const char *s);

#endif
