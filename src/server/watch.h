/*
 * watch.h - key versions for WATCH (watch.c): a fixed table of version
 * counters indexed by a hash of the key, bumped after every write command
 * (and all of them by FLUSHDB/FLUSHALL/RCACHE.INVALIDATE), only while some
 * client watches a key. Two keys may share a counter: a write to one then
 * aborts a transaction watching the other (a spurious abort the client
 * retries, never a missed one).
 *
 * Thread-safety: all functions from any thread.
 */
#ifndef RCACHE_SERVER_WATCH_H
#define RCACHE_SERVER_WATCH_H

#include "command.h"

/* The version stamp of a key: counter and global epoch combined. */
uint64_t rcache__watch_version(const void *key, size_t len);
/* A client started (+1) or stopped (-1) watching keys. */
void rcache__watch_watchers(int delta);
/* After a write command ran: bump its keys' counters if anyone watches. */
void rcache__watch_after_write(const rcache__cmd_t *cmd, size_t argc,
                               const rcache__arg_t *argv);

/* A write that names no key argument changed key (a COPY or MOVE into
 * another database), or possibly every key (SWAPDB): bump if anyone
 * watches. */
void rcache__watch_touch(const void *key, size_t len);
void rcache__watch_touch_all(void);

#endif /* RCACHE_SERVER_WATCH_H */
