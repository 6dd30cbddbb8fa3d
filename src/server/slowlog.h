/*
 * slowlog.h - the command timing records behind SLOWLOG (slowlog.c) and
 * LATENCY (latency.c), fed by the dispatcher (commands.c) after each
 * top-level command, and their replies (commands_admin.c).
 *
 * Thread-safety: every function may be called from any thread; each log
 * has its own mutex, taken only when a command crossed a threshold (the
 * per-command cost with nothing to record is two atomic loads and two
 * clock reads).
 */
#ifndef RCACHE_SERVER_SLOWLOG_H
#define RCACHE_SERVER_SLOWLOG_H

#include "command.h"

/* Settings (from CONFIG SET / start: server.c). slower_than_us < 0: off. */
void rcache__slowlog_configure(int64_t slower_than_us, uint64_t max_len,
                               uint64_t latency_threshold_ms);
/* 1 if commands must be timed (either log is on). */
int rcache__cmdtime_wanted(void);
/* A top-level command of c took dur_us: record it where it qualifies. */
void rcache__cmdtime_record(rcache__client_t *c, const rcache__cmd_t *cmd, size_t argc,
                            const rcache__arg_t *argv, uint64_t dur_us);

/* SLOWLOG GET [count] (count < 0: all), LEN, RESET. */
void rcache__slowlog_reply(rcache__client_t *c, long long count);
size_t rcache__slowlog_len(void);
void rcache__slowlog_reset(void);

/* latency.c: an event sample (ms) at unix time now_s. */
void rcache__latency_add(const char *event, uint64_t ms, uint64_t now_s);
/* LATENCY LATEST / HISTORY event / RESET [events] (replies or count). */
void rcache__latency_latest(rcache__client_t *c);
void rcache__latency_history(rcache__client_t *c, const rcache__arg_t *event);
size_t rcache__latency_reset(const rcache__arg_t *events, size_t n);

#endif /* RCACHE_SERVER_SLOWLOG_H */
