/*
 * version.h - rcached's own version and the Redis version it answers as
 * (INFO, HELLO, --version).
 */
#ifndef RCACHE_SERVER_VERSION_H
#define RCACHE_SERVER_VERSION_H

#define RCACHED_VERSION "0.1.0"
/* The Redis version whose protocol and replies rcached follows. */
#define RCACHE__REDIS_COMPAT_VERSION "7.0.0"

#endif /* RCACHE_SERVER_VERSION_H */
