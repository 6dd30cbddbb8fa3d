/*
 * tracking.h - CLIENT TRACKING, server-assisted client-side caching
 * (tracking.c), with Redis 7.0's semantics: the default mode remembers the
 * keys a tracking client reads and sends it one invalidation on the first
 * change of each; BCAST sends every changed key matching a registered
 * prefix. Invalidations go out through the receivers' Pub/Sub mailboxes
 * (pubsub.c): RESP3 push frames, or __redis__:invalidate messages to a
 * RESP2 client that REDIRECT names.
 *
 * Key names are tracked without rcached's database prefix (db.h), as
 * Redis tracks names regardless of the database.
 *
 * Thread-safety: rcache__tracking_invalidate/_flush/_sizes/_set_max_keys
 * from any thread; the per-client functions on the client's worker only.
 */
#ifndef RCACHE_SERVER_TRACKING_H
#define RCACHE_SERVER_TRACKING_H

#include "command.h"

/* CLIENT LIST flag bits published in rcache__client_t.trk_shown. */
#define RCACHE__TRK_SHOWN_ON 1u     /* t */
#define RCACHE__TRK_SHOWN_BROKEN 2u /* R */
#define RCACHE__TRK_SHOWN_BCAST 4u  /* B */

/* tracking-table-max-keys (0 = no limit); hot setting, any thread. */
void rcache__tracking_set_max_keys(uint64_t max_keys);

/* CLIENT TRACKING|CACHING|GETREDIR|TRACKINGINFO for c; returns 1 when
 * argv[1] was one of them (and c got its reply), else 0. */
int rcache__tracking_command(rcache__client_t *c, size_t argc, const rcache__arg_t *argv);

/* Before cmd runs for c (a tracking client: c->trk set): remember the
 * keys a read-only command names, unless OPTIN/OPTOUT says not to. */
void rcache__tracking_before_read(rcache__client_t *c, const rcache__cmd_t *cmd,
                                  size_t argc, const rcache__arg_t *argv);
/* After a command for c ran: CLIENT CACHING lasts for one command
 * (or one transaction). */
void rcache__tracking_after_command(rcache__client_t *c, const rcache__cmd_t *cmd);

/* After a write command ran (writer_id: the client that ran it): its keys
 * are invalidated; a write naming no key (FLUSHDB, FLUSHALL, SWAPDB,
 * RCACHE.INVALIDATE ...) flushes every tracking client. One relaxed load
 * when no client tracks. */
void rcache__tracking_after_write(uint64_t writer_id, const rcache__cmd_t *cmd,
                                  size_t argc, const rcache__arg_t *argv);
/* key (as stored, with its database prefix) changed outside a command's
 * key arguments (expiry, eviction); writer_id 0 when no client did it. */
void rcache__tracking_invalidate(uint64_t writer_id, const void *key, size_t klen);
/* Every key may have changed: a null invalidation to every tracking
 * client and an empty table. */
void rcache__tracking_flush(void);

/* HELLO/RESET changed c's protocol (flush nulls follow it). */
void rcache__tracking_set_resp(rcache__client_t *c);
/* CLIENT TRACKING OFF for c (RESET, and on close). */
void rcache__tracking_forget(rcache__client_t *c);

/* INFO figures. */
typedef struct rcache__tracking_sizes {
    size_t clients, keys, items, prefixes;
} rcache__tracking_sizes_t;
void rcache__tracking_sizes(rcache__tracking_sizes_t *out);

#endif /* RCACHE_SERVER_TRACKING_H */
