/*
 * db.h - SELECT's numbered databases (db.c): separate keyspaces in the one
 * cache, sharing its memory and item limits. A key of database N > 0 is
 * stored as the bytes 0x00 0xFF N followed by the client's key; database 0
 * keys are stored as given (so clients that never SELECT pay nothing).
 * The dispatcher rewrites the key arguments of a client in database N > 0;
 * the commands that list or count keys (KEYS, SCAN, RANDOMKEY, DBSIZE,
 * FLUSHDB) filter by database and strip the prefix.
 *
 * Thread-safety: all functions from any thread (no shared state but a
 * relaxed "any database above 0 used" flag).
 */
#ifndef RCACHE_SERVER_DB_H
#define RCACHE_SERVER_DB_H

#include "command.h"
#include "db_key.h" /* RCACHE__DB_COUNT, prefixes, rcache__db_keyspace_t */
/* 1 once any client selected a database above 0 (DBSIZE/FLUSHDB of
 * database 0 can then no longer use the cache-wide figures). */
int rcache__db_used(void);
void rcache__db_mark_used(void);
/* Run cmd for c (c->db > 0) with its key arguments rewritten into c's
 * database; run is the dispatcher's runner. */
void rcache__db_run(rcache__client_t *c, const rcache__cmd_t *cmd, size_t argc,
                    const rcache__arg_t *argv,
                    void (*run)(rcache__client_t *, const rcache__cmd_t *, size_t,
                                const rcache__arg_t *));

/* The figures of every database into *out: from the library's counters
 * (database 0 only, no entry walked) until a client selects a database
 * above 0, then from a walk of every key. One count for INFO keyspace and
 * the admin API's /metrics (defined in commands_db.c, with the commands
 * that cross databases). */
void rcache__db_keyspace(rcache_t *cache, rcache__db_keyspace_t *out);

#endif /* RCACHE_SERVER_DB_H */
