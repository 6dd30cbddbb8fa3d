/*
 * metrics.h - Prometheus text exposition of the cache and server figures,
 * and the process figures (RSS, CPU time) read from the kernel (metrics.c).
 */
#ifndef RCACHE_METRICS_H
#define RCACHE_METRICS_H

#include "admin.h"

struct evbuffer;

/* Fill out->rss_bytes, cpu_user_s and cpu_sys_s for this process (other
 * fields untouched). The server may use it in its figures hook. */
void rcache__metrics_process(rcache__server_figures_t *out);

/* Append the exposition (text format 0.0.4) for cache, fig and the
 * per-command counts from hooks (may be NULL) to out. 0, or -1 when out
 * of memory. */
int rcache__metrics_render(struct evbuffer *out, rcache_t *cache,
                           const rcache__server_figures_t *fig,
                           const rcache__server_hooks_t *hooks);

#endif /* RCACHE_METRICS_H */
