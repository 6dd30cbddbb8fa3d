/*
 * trace_count.h - one pass over a trace that counts its requests, unique
 * keys and bytes of unique objects (the first pass of a percentage
 * capacity, and what the reader tests compare with the traces README).
 */
#ifndef RCACHE_BENCH_TRACE_COUNT_H
#define RCACHE_BENCH_TRACE_COUNT_H

#include "trace.h"

typedef struct rcache__trace_counts {
    uint64_t requests;
    uint64_t unique;
    uint64_t unique_bytes; /* sum of each key's last size; 0 without sizes */
    uint64_t max_size;     /* largest object size seen */
    int has_size;
    rcache__trace_format_t format;
} rcache__trace_counts_t;

/* 0 on success; -1 with the reader's message (file and offset) in err. */
int rcache__trace_count(const char *path, rcache__trace_format_t fmt,
                        rcache__zkind_t zkind, rcache__trace_counts_t *out,
                        char *err, size_t errlen);

#endif
