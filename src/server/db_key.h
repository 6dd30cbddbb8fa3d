/*
 * db_key.h - the stored form of a key of SELECT's numbered databases
 * (db_key.c): a key of database N > 0 is stored as the bytes 0x00 0xFF N
 * followed by the client's key; database 0 keys are stored as given. Apart
 * from db.h so the admin API (src/server/admin) can address a database's
 * keys without the command dispatcher.
 *
 * Thread-safety: all functions from any thread (no state).
 */
#ifndef RCACHE_SERVER_DB_KEY_H
#define RCACHE_SERVER_DB_KEY_H

#include <stddef.h>
#include <stdint.h>

#define RCACHE__DB_COUNT 16
#define RCACHE__DB_PREFIX_LEN 3

/* The database a stored key belongs to; user and user_len get the key as the
 * client sees it. */
int rcache__db_of_key(const void *key, size_t len, const char **user, size_t *user_len);
/* The cache's key classifier (rcache_key_class_fn): a key's class is its
 * database, so the library counts each database's keys, and invalidates
 * one database's (rcache_class_stats, rcache_invalidate_class). */
uint32_t rcache__db_class(const void *key, size_t len, void *ctx);
/* Write the prefix of database db (> 0) into out[0..3). */
void rcache__db_prefix(int db, char out[RCACHE__DB_PREFIX_LEN]);

/* Per-database figures of INFO keyspace and /metrics: keys held (expired
 * entries not yet reclaimed included), keys with a TTL, and their mean TTL
 * in ms (0 when none). */
typedef struct rcache__db_keyspace {
    uint64_t keys[RCACHE__DB_COUNT];
    uint64_t expires[RCACHE__DB_COUNT];
    uint64_t avg_ttl_ms[RCACHE__DB_COUNT];
} rcache__db_keyspace_t;

#endif /* RCACHE_SERVER_DB_KEY_H */
