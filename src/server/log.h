/*
 * log.h - rcached's log (log.c): Redis-style lines to stderr or a file,
 * filtered by level (RCACHE__LOG_* in config.h). Thread-safe.
 */
#ifndef RCACHE_SERVER_LOG_H
#define RCACHE_SERVER_LOG_H

void rcache__log_set_level(int level);
int rcache__log_level(void);
int rcache__log_open(const char *path); /* NULL = stderr; -1 on error */
void rcache__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* RCACHE_SERVER_LOG_H */
