/*
 * plot.h - draw a miss-ratio curve to a PNG with gnuplot.
 */
#ifndef RCACHE_BENCH_PLOT_H
#define RCACHE_BENCH_PLOT_H

#include <stddef.h>

typedef struct rcache__plot_point {
    double x;          /* cache size: % of unique keys, or items */
    double miss_ratio; /* 0..1 */
} rcache__plot_point_t;

/* Plot the points to out_png. x_label names the x axis; log_x uses a log
 * scale. 0, or -1 with a message in err (gnuplot missing or failing). */
int rcache__plot_curve(const char *out_png, const char *title, const char *x_label,
                       int log_x, const rcache__plot_point_t *pts, size_t n,
                       char *err, size_t errlen);

/* Several curves on one plot: series k is named names[k] and has the n
 * points pts[k][0..n-1]. */
int rcache__plot_curves(const char *out_png, const char *title, const char *x_label,
                        int log_x, const char *const *names,
                        const rcache__plot_point_t *const *pts, size_t nseries,
                        size_t n, char *err, size_t errlen);

#endif
