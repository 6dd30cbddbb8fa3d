/*
 * notify.c - keyspace notifications (notify.h), as Redis 7.0's
 * notifyKeyspaceEvent(): for an event of a class the flags select, publish
 * the event name on __keyspace@<db>__:<key> (flag K) and the key on
 * __keyevent@<db>__:<event> (flag E), through Pub/Sub (pubsub.c), so the
 * messages reach subscribers on every worker.
 *
 * Commands call rcache__notify() after a change, from whatever thread runs
 * them (a worker, the script thread, EXEC): inside a script or a
 * transaction each command's events go out as it runs, as in Redis.
 * "expired" and "evicted" come from the library's removal listener
 * (rcache_config_t.on_removal), which runs on the thread whose call
 * removed the entry, with no cache lock held.
 *
 * Cost when off (the default): one relaxed atomic load per call.
 */
#include "notify.h"

#include "db.h"
#include "pubsub.h"
#include "tracking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int live_flags;

void rcache__notify_set_flags(int flags) {
    atomic_store_explicit(&live_flags, flags, memory_order_relaxed);
}

int rcache__notify_wanted(int type) {
    int f = atomic_load_explicit(&live_flags, memory_order_relaxed);
    return (f & type) && (f & (RCACHE__NOTIFY_KEYSPACE | RCACHE__NOTIFY_KEYEVENT));
}

void rcache__notify(int type, const char *event, const void *key, size_t klen) {
    int f = atomic_load_explicit(&live_flags, memory_order_relaxed);
    if (!(f & type) || !(f & (RCACHE__NOTIFY_KEYSPACE | RCACHE__NOTIFY_KEYEVENT)))
        return;
    if (rcache__pubsub_idle())
        return; /* nobody listens: publishing would reach no one */
    const char *ukey;
    size_t ulen, elen = strlen(event);
    int db = rcache__db_of_key(key, klen, &ukey, &ulen);
    char stack[512], *ch = stack;
    size_t need = 24 + (ulen > elen ? ulen : elen);
    if (need > sizeof stack && !(ch = malloc(need)))
        return;
    if (f & RCACHE__NOTIFY_KEYSPACE) {
        int n = snprintf(ch, need, "__keyspace@%d__:", db);
        memcpy(ch + n, ukey, ulen);
        rcache__pubsub_publish(ch, (size_t)n + ulen, event, elen);
    }
    if (f & RCACHE__NOTIFY_KEYEVENT) {
        int n = snprintf(ch, need, "__keyevent@%d__:", db);
        memcpy(ch + n, event, elen + 1); /* with its NUL: need has room */
        rcache__pubsub_publish(ch, (size_t)n + elen, ukey, ulen);
    }
    if (ch != stack)
        free(ch);
}

void rcache__notify_removed(int cause, const void *key, size_t klen, void *ctx) {
    (void)ctx;
    rcache__tracking_invalidate(0, key, klen); /* one relaxed load when nobody tracks */
    if (cause == RCACHE_REMOVED_EXPIRED)
        rcache__notify(RCACHE__NOTIFY_EXPIRED, "expired", key, klen);
    else if (cause == RCACHE_REMOVED_EVICTED)
        rcache__notify(RCACHE__NOTIFY_EVICTED, "evicted", key, klen);
}
