/*
 * tier_internal.h - what the files of librcache-redis share: the tier
 * structure, the data connection (conn.c), the invalidation bus (bus.c),
 * the pending-fetch markers and L1 installs (tier.c), leases (lease.c).
 */
#ifndef RCACHE_TIER_INTERNAL_H
#define RCACHE_TIER_INTERNAL_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>

#include "rcache_tier.h"

/* One L1 fill in progress (an L2 read or write whose result is not yet in
 * L1). The bus marks it dead when the key is invalidated meanwhile. */
typedef struct rcache__pending {
    struct rcache__pending *next;
    const void *key;
    size_t key_len;
    uint64_t epoch; /* bus epoch when the L2 command was sent */
    int dead;
} rcache__pending_t;

typedef struct rcache__counters {
    _Atomic uint64_t l2_hits, misses, l2_errors, invalidations, null_inval,
        flushes_conn, installs_dropped, lease_acquired, lease_waits,
        lease_takeovers, roundtrips, rtt_us_total, rtt_us_max, reconnects;
    _Atomic uint64_t clears[RCACHE_TIER_CLEAR__COUNT]; /* L1 clears by reason */
} rcache__counters_t;

struct rcache_tier {
    rcache_t *c;
    rcache_tier_url_t url;
    rcache_tier_opts_t o;
    char prefix[72];
    size_t prefix_len;
    char kt_prefix[80];  /* 0xff "ktags:" prefix: tag records (tags.c) */
    size_t kt_prefix_len;
    char ts_prefix[80];  /* 0xff "tag:" prefix: tag sets (tags.c) */
    size_t ts_prefix_len;

    /* Data connection: one, serialised by conn_mu. */
    pthread_mutex_t conn_mu;
    redisContext *rc;
    uint64_t rc_tracking_epoch; /* bus epoch tracking was enabled for */
    uint64_t rc_retry_at_ms;    /* no reconnect attempt before (monotonic) */
    int rc_ever_tracked;
    _Atomic int rc_up;          /* t->rc != NULL, for stats */
    _Atomic uint64_t rc_tracked; /* rc_tracking_epoch, for stats */

    /* L1 fills and invalidations: mu orders installs against the bus. */
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* broadcast on every bus event */
    rcache__pending_t *pending;
    uint64_t bus_epoch;       /* bumped on each bus (re)connect */
    uint64_t bus_client_id;
    int bus_live;             /* subscribed and within the ping deadline */
    uint64_t events;          /* bus events seen (wakes lease waiters) */
    /* For rcache_tier_status(), under mu. */
    char last_error[256];     /* "" until the first L2 failure */
    uint64_t last_error_ms;   /* monotonic ms of it */
    int last_clear;           /* reason of the last L1 clear, -1 = none */
    uint64_t last_clear_ms;
    int ever_up;              /* L2 was usable once (tracking enabled) */

    pthread_t bus_thread;
    int bus_started;
    int wake_fd[2];           /* close() wakes the bus thread */
    _Atomic int stopping;

    rcache__counters_t n;
};

/* conn.c */
uint64_t rcache__tier_mono_ms(void);
uint64_t rcache__tier_mono_us(void);
redisContext *rcache__tier_connect(rcache_tier_t *t, char *err, size_t errlen);
int rcache__tier_conn_ready(rcache_tier_t *t);
void rcache__tier_conn_drop(rcache_tier_t *t);
int rcache__tier_roundtrip(rcache_tier_t *t, int n, redisReply **replies);
void rcache__tier_replies_free(int n, redisReply **replies);
/* rcache__tier_error() for a bad reply to cmd: the error text when r is an
 * error reply (the first of n that is), else "unexpected reply". */
void rcache__tier_reply_error(rcache_tier_t *t, const char *cmd, int n,
                              redisReply *const *r);

/* bus.c */
int rcache__tier_bus_start(rcache_tier_t *t);
void rcache__tier_bus_stop(rcache_tier_t *t);
/* Classify one message of the invalidation connection: 1 = invalidation
 * (keys in *keys, NULL for a null one), 2 = pong, 0 = other. Pure. */
int rcache__tier_bus_classify(const redisReply *r, const redisReply **keys);

/* ops.c */
typedef struct rcache__fetched {
    redisReply *r[3]; /* GET, PTTL and SMEMBERS <tag record> replies */
    int installed;    /* the value is in L1 now */
    int is_obj;       /* the deserializer made an object of it */
    int unreachable;  /* ENOTFOUND because L2 could not be reached */
} rcache__fetched_t;
int rcache__tier_l2_read(rcache_tier_t *t, const void *key, size_t klen,
                         rcache__fetched_t *f);
#define RCACHE__FETCH_REPLIES 3
/* A write through: the L2 bytes l2val, tags (checked by the caller), and
 * the L1 value (obj when not NULL, else the bytes); obj_l2_only: write L2
 * alone (the caller stores obj in L1 itself). */
typedef struct rcache__write {
    const void *l2val;
    size_t l2len;
    int64_t ttl_ms;
    const rcache_tag_t *tags;
    size_t ntags;
    void *obj;
    size_t charge;
    rcache_destructor_fn dtor;
    void *dtor_ctx;
} rcache__write_t;
int rcache__tier_write_through(rcache_tier_t *t, const void *key, size_t klen,
                               const rcache__write_t *w);
int rcache__tier_l2_write(rcache_tier_t *t, const void *key, size_t klen,
                          const rcache__write_t *w);
redisReply *rcache__tier_l2_command(rcache_tier_t *t, int argc,
                                    const char **argv, const size_t *alen);

/* tier.c */
void rcache__tier_flush_l1(rcache_tier_t *t, int reason);
/* One L2 failure: counts it in l2_errors and keeps "what: detail" as the
 * last error (detail may be NULL). Takes mu: call without it. */
void rcache__tier_error(rcache_tier_t *t, const char *what, const char *detail);
void rcache__tier_invalidate_key(rcache_tier_t *t, const char *l2key,
                                 size_t len);
void rcache__pending_add(rcache_tier_t *t, rcache__pending_t *p,
                         const void *key, size_t key_len, uint64_t epoch);
int rcache__tier_install(rcache_tier_t *t, rcache__pending_t *p,
                         const rcache__write_t *w);
void rcache__pending_drop(rcache_tier_t *t, rcache__pending_t *p);
int rcache__tier_l2key(rcache_tier_t *t, const void *key, size_t key_len,
                       char **out, size_t *out_len);
int rcache__tier_unavail(rcache_tier_t *t);
int64_t rcache__tier_l1_ttl(rcache_tier_t *t, int64_t ttl_ms);

/* tags.c */
int rcache__tier_tags_check(const rcache_tag_t *tags, size_t ntags);
void rcache__tier_tag_prefixes(rcache_tier_t *t);
int rcache__tier_ktags_key(rcache_tier_t *t, const void *key, size_t klen,
                           char **out, size_t *out_len);
/* The tags of a SMEMBERS reply (at most RCACHE_MAX_TAGS valid ones, which
 * point into r); their count. Pure. */
size_t rcache__tier_tags_from_reply(const redisReply *r, rcache_tag_t *out);
/* Append the write script (value, TTL, tags) to the data connection;
 * conn_mu held and the connection ready. RCACHE_OK or an error. */
int rcache__tier_append_write(rcache_tier_t *t, const char *vkey, size_t vlen,
                              const char *ktkey, size_t ktlen, const void *key,
                              size_t klen, const void *val, size_t val_len,
                              int64_t ttl_ms, const rcache_tag_t *tags,
                              size_t ntags);
/* Delete L1 keys from L2 with their tag records (tag not NULL: only those
 * still tagged with it); adds the values unlinked to *removed. 0 or -1. */
int rcache__tier_l2_drop(rcache_tier_t *t, const void *tag, size_t tag_len,
                         size_t n, const char *const *keys, const size_t *lens,
                         uint64_t *removed);
/* rcache__tier_l2_drop() of the keys one SCAN or SSCAN reply page names
 * (non-string elements skipped). prefixed: the page holds L2 names (SCAN
 * MATCH <prefix>...), whose prefix is checked and cut; else L1 keys (a tag
 * set's members, tag their tag). cls >= 0: only the keys of L1's key
 * class cls. 0 or -1 (L2 failed, or no memory). */
int rcache__tier_drop_page(rcache_tier_t *t, const void *tag, size_t tag_len,
                           const redisReply *page, int prefixed, int64_t cls,
                           uint64_t *n);

#endif
