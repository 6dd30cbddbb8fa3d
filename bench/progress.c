/*
 * progress.c - progress bar for long replays: requests done, rate and ETA
 * on one stderr line, redrawn with '\r'.  Nothing is drawn unless stderr is
 * a terminal, so logs and pipes stay clean.
 */
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double rcache__bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void rcache__progress_start(rcache__progress_t *p, const char *label, int want)
{
    p->on = want && isatty(2);
    p->start = p->last = rcache__bench_now();
    p->label = label;
}

void rcache__progress_update(rcache__progress_t *p, uint64_t done, double frac)
{
    if (!p->on)
        return;
    double now = rcache__bench_now();
    if (now - p->last < 0.2)
        return;
    p->last = now;
    double el = now - p->start;
    double rate = el > 0 ? (double)done / el : 0;
    char bar[31];
    int fill = frac >= 0 ? (int)(frac * 30 + 0.5) : 0;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : (frac >= 0 ? '.' : ' ');
    bar[30] = '\0';
    if (frac > 0.001)
        fprintf(stderr, "\r%s [%s] %3.0f%% %llu req  %.2f Mreq/s  ETA %.0fs   ",
                p->label, bar, frac * 100, (unsigned long long)done, rate / 1e6,
                el * (1 - frac) / frac);
    else
        fprintf(stderr, "\r%s %llu req  %.2f Mreq/s   ", p->label,
                (unsigned long long)done, rate / 1e6);
    fflush(stderr);
}

void rcache__progress_end(rcache__progress_t *p)
{
    if (!p->on)
        return;
    fprintf(stderr, "\r%*s\r", 100, "");
    fflush(stderr);
}
