/*
 * monitor.h - MONITOR (monitor.c): the command feed to monitoring
 * clients. Thread-safety: rcache__monitor_feed from any worker thread;
 * the others on the client's own worker thread.
 */
#ifndef RCACHE_SERVER_MONITOR_H
#define RCACHE_SERVER_MONITOR_H

#include "command.h"

/* Show c's command to every monitor (nothing when there is none). */
void rcache__monitor_feed(rcache__client_t *c, size_t argc, const rcache__arg_t *argv);
/* c is closing: stop feeding it (no-op for a client that is no monitor). */
void rcache__monitor_forget(rcache__client_t *c);

#endif /* RCACHE_SERVER_MONITOR_H */
