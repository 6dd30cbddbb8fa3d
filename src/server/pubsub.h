/*
 * pubsub.h - Pub/Sub (pubsub.c): the process-wide registry of channel and
 * pattern subscriptions, PUBLISH from any thread to subscribers owned by
 * any worker, and the pub/sub output-buffer limit.
 *
 * Delivery across threads: every subscribed client has a mailbox (a
 * buffer guarded by its own mutex plus an event on its worker's
 * event_base). A publisher, on whatever thread, formats the message once,
 * appends it to each receiver's mailbox and activates that event; the
 * receiver's worker moves the mailbox into the client's output and writes
 * it. Messages from one publisher to one subscriber keep their order (one
 * FIFO per subscriber, appended in publish order).
 *
 * Locks: the registry lock (a rwlock: PUBLISH and PUBSUB read, SUBSCRIBE
 * and friends write) before a mailbox lock before libevent's base lock.
 * A client leaves the registry (write lock) before its mailbox is freed,
 * so a publisher, which holds the read lock, never sees a freed mailbox.
 *
 * Thread-safety: rcache__pubsub_publish(), _numsub and the PUBSUB queries
 * from any thread; the per-client functions on the client's worker only.
 */
#ifndef RCACHE_SERVER_PUBSUB_H
#define RCACHE_SERVER_PUBSUB_H

#include "command.h"

/* Set up / tear down the registry (server start and shutdown). */
int rcache__pubsub_init(void);
void rcache__pubsub_free(void);

/* client-output-buffer-limit pubsub <hard> <soft> <soft_s> (0 = none);
 * hot setting, any thread. */
void rcache__pubsub_set_limits(uint64_t hard_bytes, uint64_t soft_bytes,
                               uint64_t soft_s);

/* Deliver msg to channel's subscribers and the matching patterns'.
 * Returns the number of receivers (a client counts once per channel
 * subscription and once per matching pattern, as Redis counts). */
long long rcache__pubsub_publish(const void *channel, size_t clen,
                                 const void *msg, size_t mlen);
/* Channels and distinct patterns with subscribers now (INFO stats). */
void rcache__pubsub_sizes(size_t *channels, size_t *patterns);
/* 1 when nobody subscribes to anything (cheap check for notifications). */
int rcache__pubsub_idle(void);

/* Subscriptions of c (channels + patterns); 0 when not in pub/sub mode. */
size_t rcache__pubsub_count(const rcache__client_t *c);
/* The SUBSCRIBE family for c; each replies as Redis does. */
void rcache__pubsub_subscribe(rcache__client_t *c, size_t argc,
                              const rcache__arg_t *argv, int pattern);
void rcache__pubsub_unsubscribe(rcache__client_t *c, size_t argc,
                                const rcache__arg_t *argv, int pattern,
                                int reply);
/* PUBSUB CHANNELS [pattern] / NUMSUB ch... / NUMPAT replies. */
void rcache__pubsub_reply_channels(rcache__client_t *c, const rcache__arg_t *pattern);
void rcache__pubsub_reply_numsub(rcache__client_t *c, size_t n,
                                 const rcache__arg_t *channels);
void rcache__pubsub_reply_numpat(rcache__client_t *c);
/* c->resp3 changed (HELLO, RESET): messages published from now on reach
 * c as RESP3 push frames or RESP2 arrays accordingly (c's worker). */
void rcache__pubsub_set_resp(rcache__client_t *c);
/* Client going away (close) or RESET: leave every subscription; close
 * also frees the mailbox (c's worker). */
void rcache__pubsub_forget(rcache__client_t *c);
/* Give c a mailbox without subscribing (a CLIENT TRACKING client, so
 * invalidations reach it); 0, or -1 out of memory (c's worker). */
int rcache__pubsub_open(rcache__client_t *c);
/* Deliver to the client with this id, if it has a mailbox: push (a RESP3
 * push frame) when it speaks RESP3, else msg (a RESP2 pub/sub message;
 * NULL: nothing) when it is subscribed to something. Returns 1 when the
 * client has a mailbox, 0 when none (gone, or never opened). Any thread. */
int rcache__pubsub_send_id(uint64_t id, const char *push, size_t plen, const char *msg,
                           size_t mlen);
/* Move what c's mailbox holds into c->out now (before replies that must
 * follow the messages already published). */
void rcache__pubsub_drain(rcache__client_t *c);

#endif /* RCACHE_SERVER_PUBSUB_H */
