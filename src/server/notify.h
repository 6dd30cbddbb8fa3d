/*
 * notify.h - keyspace notifications (notify.c): Redis's
 * notify-keyspace-events flags and the events commands, expiry and
 * eviction publish on __keyspace@<db>__:<key> and __keyevent@<db>__:<event>.
 *
 * Thread-safety: every function from any thread.
 */
#ifndef RCACHE_SERVER_NOTIFY_H
#define RCACHE_SERVER_NOTIFY_H

#include "command.h"

/* Redis's NOTIFY_* bits (server.h of Redis 7.0), same letters. */
#define RCACHE__NOTIFY_KEYSPACE (1 << 0)  /* K */
#define RCACHE__NOTIFY_KEYEVENT (1 << 1)  /* E */
#define RCACHE__NOTIFY_GENERIC (1 << 2)   /* g */
#define RCACHE__NOTIFY_STRING (1 << 3)    /* $ */
#define RCACHE__NOTIFY_LIST (1 << 4)      /* l */
#define RCACHE__NOTIFY_SET (1 << 5)       /* s */
#define RCACHE__NOTIFY_HASH (1 << 6)      /* h */
#define RCACHE__NOTIFY_ZSET (1 << 7)      /* z */
#define RCACHE__NOTIFY_EXPIRED (1 << 8)   /* x */
#define RCACHE__NOTIFY_EVICTED (1 << 9)   /* e */
#define RCACHE__NOTIFY_STREAM (1 << 10)   /* t */
#define RCACHE__NOTIFY_KEY_MISS (1 << 11) /* m (not part of A) */
#define RCACHE__NOTIFY_MODULE (1 << 13)   /* d */
#define RCACHE__NOTIFY_NEW (1 << 14)      /* n (not part of A) */
#define RCACHE__NOTIFY_ALL                                                          \
    (RCACHE__NOTIFY_GENERIC | RCACHE__NOTIFY_STRING | RCACHE__NOTIFY_LIST |          \
     RCACHE__NOTIFY_SET | RCACHE__NOTIFY_HASH | RCACHE__NOTIFY_ZSET |                \
     RCACHE__NOTIFY_EXPIRED | RCACHE__NOTIFY_EVICTED | RCACHE__NOTIFY_STREAM |       \
     RCACHE__NOTIFY_MODULE)

/* The live flags (a hot setting: CONFIG SET, start-up). */
void rcache__notify_set_flags(int flags);
/* 1 if an event of this type would be published now (cheap). */
int rcache__notify_wanted(int type);
/* Publish event (e.g. "set") of class type for key as stored (with its
 * database prefix, db.h); nothing when the flags do not ask for it. */
void rcache__notify(int type, const char *event, const void *key, size_t klen);
/* The cache's removal listener (rcache_config_t.on_removal): "expired"
 * and "evicted" events. */
void rcache__notify_removed(int cause, const void *key, size_t klen, void *ctx);

#endif /* RCACHE_SERVER_NOTIFY_H */
