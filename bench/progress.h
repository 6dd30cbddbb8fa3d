/*
 * progress.h - a one-line progress bar on stderr (requests done, rate,
 * ETA), drawn only when stderr is a terminal.
 */
#ifndef RCACHE_BENCH_PROGRESS_H
#define RCACHE_BENCH_PROGRESS_H

#include <stdint.h>

typedef struct rcache__progress {
    int on;             /* stderr is a terminal and the caller wants it */
    double start, last; /* monotonic seconds */
    const char *label;
} rcache__progress_t;

/* Monotonic time in seconds. */
double rcache__bench_now(void);

void rcache__progress_start(rcache__progress_t *p, const char *label, int want);
/* done requests so far; frac the fraction of the work done (0..1, or < 0
 * if unknown). Redraws at most 5 times a second. */
void rcache__progress_update(rcache__progress_t *p, uint64_t done, double frac);
/* Clear the line. */
void rcache__progress_end(rcache__progress_t *p);

#endif
