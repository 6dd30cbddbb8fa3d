/*
 * log.h - rcached's log (log.c): Redis-style lines to stderr or a file,
 * filtered by level (RCACHE__LOG_* in config.h). Thread-safe.
 */
#ifndef RCACHE_SERVER_LOG_H
#define RCACHE_SERVER_LOG_H

void rcache__log_set_level(int level);
int rcache__log_level(void);
int rcache__log_open(const char *path); /* NULL = stderr; -1 on error */
/* Reopen the log file at path (after rotation) in place: lines written by
 * other threads meanwhile go to the old or the new file, none is lost.
 * 0, or -1 with errno (the old file stays in use). */
int rcache__log_reopen(const char *path);
void rcache__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* RCACHE_SERVER_LOG_H */
