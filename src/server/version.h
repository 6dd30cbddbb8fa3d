/*
 * version.h - rcached's own version and the Redis version it answers as
 * (INFO, HELLO, --version).
 */
#ifndef RCACHE_SERVER_VERSION_H
#define RCACHE_SERVER_VERSION_H

#include "rcache.h"

/* rcached ships with librcache: one version, written in include/rcache.h. */
#define RCACHED_VERSION RCACHE_VERSION_STRING
/* The Redis version whose protocol and replies rcached follows. */
#define RCACHE__REDIS_COMPAT_VERSION "7.0.0"

#endif /* RCACHE_SERVER_VERSION_H */
