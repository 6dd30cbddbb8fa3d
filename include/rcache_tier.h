/*
 * rcache_tier.h - librcache-redis: a Redis/Valkey second tier (L2) behind an
 * rcache_t (L1), with server-assisted invalidation and distributed
 * single-flight. Link with -lrcache-redis -lrcache (and hiredis).
 *
 * Model: the rcache_t handed to rcache_tier_open() is the node's L1. Every
 * value written through the tier goes to L2 first (SET ... PX), then to L1.
 * An L1 miss reads L2 (GET and PTTL, pipelined) and installs the value in L1
 * with TTL = min(L2's remaining TTL, opts.l1_max_ttl_ms). Other nodes learn
 * of changes through Redis's client-side caching in broadcast mode (CLIENT
 * TRACKING on ... BCAST PREFIX <prefix> NOLOOP, redirected to a connection
 * subscribed to __redis__:invalidate, served by a thread of the tier).
 *
 * The tier owns its L1: write the cache only through the tier while it is
 * attached. When the tier cannot vouch for L1 any more (the invalidation
 * connection is lost or misses its ping deadline, a connection is re-made,
 * or Redis sends a null invalidation after FLUSHALL/FLUSHDB) it clears the
 * whole L1 (rcache_clear) before serving from it again.
 *
 * Tags (rcache_set_opts_t.tags) cross the tier: a tagged write records in
 * L2, next to the value, the key's tags and the key in each tag's set; a
 * read-through installs the value in L1 with its tags; and
 * rcache_tier_invalidate_tag() removes the tagged keys from L2, which the
 * bus turns into L1 removals on every node (docs/DESIGN.md, "Tags across
 * the tier", has the L2 layout).
 *
 * Consistency guarantee: see docs/DESIGN.md, "Second tier".
 */
#ifndef RCACHE_TIER_H
#define RCACHE_TIER_H

#include <stddef.h>
#include <stdint.h>

#include "rcache.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Fail-closed tier: L2 could not be reached (connect, I/O, timeout or an
 *  error reply); nothing was changed in L1. */
#define RCACHE_TIER_EUNAVAIL (-40)

/** When L2 is unreachable: serve L1 and compute/store locally (default). */
#define RCACHE_TIER_FAIL_OPEN 0
/** When L2 is unreachable: calls that need L2 return RCACHE_TIER_EUNAVAIL. */
#define RCACHE_TIER_FAIL_CLOSED 1

/** Opaque tier handle. */
typedef struct rcache_tier rcache_tier_t;

/**
 * Serializer for object values written through the tier.
 * @param[in] obj the object (as given to rcache_tier_set_object()).
 * @param[out] buf_out a malloc'd byte string the tier frees with free().
 * @param[out] len_out its length in bytes.
 * @param[in] ctx opts.serializer_ctx.
 * @return 0 on success, non-zero to refuse (the call returns RCACHE_EINVAL).
 */
typedef int (*rcache_tier_serialize_fn)(const void *obj, void **buf_out,
                                        size_t *len_out, void *ctx);

/**
 * Deserializer: turns a value read from L2 into an object for L1.
 * @param[in] buf,len the bytes read from L2 (valid during the call).
 * @param[out] obj_out the object; L1 owns it on return 0 (ended with
 *         *dtor_out).
 * @param[out] charge_out what it costs against max_bytes.
 * @param[out] dtor_out its destructor (may be left NULL).
 * @param[in] ctx opts.serializer_ctx.
 * @return 0: obj_out is the value; 1: keep the value as bytes; other: the
 *         value is not installed (the read is a miss).
 */
typedef int (*rcache_tier_deserialize_fn)(const void *buf, size_t len,
                                          void **obj_out, size_t *charge_out,
                                          rcache_destructor_fn *dtor_out,
                                          void *ctx);

/** Test hook: called after an L2 value was read and before it is installed
 *  in L1 (no lock held). Tests use it to script the fetch/invalidate race. */
typedef void (*rcache_tier_hook_fn)(const void *key, size_t key_len, void *ctx);

/** Options for rcache_tier_open(). Initialise with rcache_tier_opts_init(). */
typedef struct rcache_tier_opts {
    /** Prefix of every L2 key (L2 key = prefix + L1 key); NULL = "rc:".
     *  1..64 bytes, not starting with byte 0xff (kept for lease keys). */
    const char *key_prefix;
    /** Longest TTL an entry read from L2 gets in L1, in ms: the safety net
     *  if an invalidation is lost. 0 = the default, 600000 (10 min). */
    uint64_t l1_max_ttl_ms;
    /** Connect timeout in ms (each connection attempt). 0 = 1000. */
    uint64_t connect_timeout_ms;
    /** Timeout of one L2 command round trip in ms. 0 = 1000. */
    uint64_t command_timeout_ms;
    /** The invalidation connection sends PING this often, in ms. 0 = 500. */
    uint64_t ping_interval_ms;
    /** ...and is declared lost (L1 cleared, reconnect) when no reply came
     *  for this long, in ms. 0 = 2000. */
    uint64_t ping_deadline_ms;
    /** Pause between reconnect attempts, in ms. 0 = 200. */
    uint64_t reconnect_ms;
    /** RCACHE_TIER_FAIL_OPEN (0, default) or RCACHE_TIER_FAIL_CLOSED. */
    int fail_mode;
    /** rcache_tier_memoize(): lease length in ms (the computation's time
     *  budget before another node may take over). 0 = 30000. */
    uint64_t lease_ms;
    /** rcache_tier_memoize(): a waiter re-checks L2 at least this often,
     *  in ms, besides being woken by invalidations. 0 = 100. */
    uint64_t lease_poll_ms;
    /** Object values: serializer/deserializer (both NULL = byte values
     *  only; rcache_tier_set_object() then returns RCACHE_EINVAL). */
    rcache_tier_serialize_fn serialize;
    rcache_tier_deserialize_fn deserialize;
    void *serializer_ctx;
    /** Test hook (NULL in production), see rcache_tier_hook_fn. */
    rcache_tier_hook_fn before_install;
    void *hook_ctx;
    /** Called after L1 dropped a key because the L2 reported it changed
     *  (key, key_len: the L1 key), or with key NULL and key_len 0 after the
     *  whole L1 was cleared (FLUSHALL on the L2, a lost connection). Runs
     *  on the tier's invalidation thread with no tier or cache lock held;
     *  must not block. rcached uses it to invalidate CLIENT TRACKING
     *  clients. NULL = none. */
    rcache_tier_hook_fn on_l1_invalidate;
    void *invalidate_ctx; /**< passed to on_l1_invalidate */
    /** Reserved for later options; must be zero. */
    uint64_t reserved[2];
} rcache_tier_opts_t;

/** @brief Fill opts with the defaults (all zero / NULL: every default
 *  above). @param[out] opts the options. Thread-safety: pure. */
void rcache_tier_opts_init(rcache_tier_opts_t *opts);

/** Parsed L2 address (rcache_tier_parse_url()). */
typedef struct rcache_tier_url {
    int is_unix;        /**< 1: unix socket at path; 0: TCP host:port */
    char host[256];     /**< TCP host (name, IPv4, or IPv6 without []) */
    int port;           /**< TCP port, 1..65535 (default 6379) */
    char path[108];     /**< unix socket path */
    char user[128];     /**< ACL user ("" = none: AUTH <pass> alone) */
    char pass[256];     /**< password ("" = no AUTH) */
    int db;             /**< database number, 0..INT_MAX (default 0) */
} rcache_tier_url_t;

/**
 * @brief Parse "redis://[[user]:pass@]host[:port][/db]" or "unix://path"
 *        (also "unix://path?db=N"). User and password may be %XX-escaped.
 * @param[in] url,url_len the text (need not be NUL-terminated).
 * @param[out] out the fields (zeroed first).
 * @return RCACHE_OK; RCACHE_EINVAL (unknown scheme, empty host, bad port or
 *         db, a field too long, bad escape, NUL byte).
 * Thread-safety: pure function, bounded by url_len.
 */
int rcache_tier_parse_url(const char *url, size_t url_len,
                          rcache_tier_url_t *out);

/**
 * @brief Attach an L2 to cache c.
 * @param[in] c the L1 cache; it must outlive the tier.
 * @param[in] url the L2 address (see rcache_tier_parse_url()).
 * @param[in] opts options; NULL = defaults.
 * @param[out] out the tier; close it with rcache_tier_close().
 * @return RCACHE_OK (fail-open: also when L2 is down; the tier connects in
 *         the background); RCACHE_EINVAL (bad URL or options, NULL
 *         argument); RCACHE_ENOMEM; RCACHE_TIER_EUNAVAIL (fail-closed and
 *         L2 unreachable).
 * Thread-safety: any thread; starts the tier's invalidation thread.
 */
int rcache_tier_open(rcache_t *c, const char *url,
                     const rcache_tier_opts_t *opts, rcache_tier_t **out);

/** @brief Stop the invalidation thread, close the connections, free the
 *  tier (the cache stays open with its entries). NULL is a no-op.
 *  Thread-safety: no other call on the tier may run or follow. */
void rcache_tier_close(rcache_tier_t *t);

/** @brief The L1 cache of the tier. */
rcache_t *rcache_tier_cache(rcache_tier_t *t);

/**
 * @brief Read through: L1, then L2 (installing the value in L1 with the
 *        tags L2 recorded for it).
 * @param[out] ref_out a reference to the entry (release it with
 *         rcache_release()); NULL on error. When the value read from L2
 *         cannot be kept in L1 (the invalidation bus is down, or the key
 *         changed while it was read), the reference is to an entry of its
 *         own, not in L1.
 * @return RCACHE_OK; RCACHE_ENOTFOUND (in neither tier; fail-open: also
 *         when L2 is unreachable); RCACHE_TIER_EUNAVAIL (fail-closed);
 *         RCACHE_EINVAL; RCACHE_ETOOBIG; RCACHE_ENOMEM.
 * Thread-safety: thread-safe. An L1 hit costs one rcache_get_ref().
 */
int rcache_tier_get_ref(rcache_tier_t *t, const void *key, size_t key_len,
                        rcache_ref_t **ref_out);

/**
 * @brief rcache_tier_get_ref() for byte values, returning a malloc'd copy.
 * @param[out] val_out the copy (free() it); val_len_out its length.
 * @return as rcache_tier_get_ref(), plus RCACHE_EWRONGTYPE (object entry).
 * Thread-safety: thread-safe.
 */
int rcache_tier_get_alloc(rcache_tier_t *t, const void *key, size_t key_len,
                          void **val_out, size_t *val_len_out);

/**
 * @brief Write through: SET in L2 (PX ttl_ms), then store in L1 with
 *        TTL min(ttl_ms, l1_max_ttl_ms). Untagged: the key's tags, if an
 *        earlier write gave it some, are dropped in L2 too.
 * @param[in] ttl_ms > 0: ms; 0: no expiry in L2 (L1 still gets the safety
 *        net).
 * @return RCACHE_OK (fail-open: also when only L1 was written because L2
 *         is unreachable); RCACHE_TIER_EUNAVAIL (fail-closed; L1 unchanged
 *         but the key is removed from it); RCACHE_EINVAL (negative ttl_ms,
 *         bad key); RCACHE_ETOOBIG; RCACHE_ENOMEM.
 * Thread-safety: thread-safe.
 */
int rcache_tier_set(rcache_tier_t *t, const void *key, size_t key_len,
                    const void *val, size_t val_len, int64_t ttl_ms);

/**
 * @brief rcache_tier_set() with tags: L2 records them (the key's tag
 *        record and the key in each tag's set, in the same atomic script
 *        as the value, with the value's TTL; tags the key had before and
 *        lacks now are taken off), and L1 stores the entry with them.
 * @param[in] tags,ntags as rcache_set_opts_t.tags/.ntags (NULL and 0: no
 *        tags; an untagged write also clears the key's old tags in L2).
 *        Copied; the caller keeps them.
 * @return as rcache_tier_set(); RCACHE_EINVAL also for tags NULL with
 *         ntags > 0 or a tag with NULL data or length 0; RCACHE_ETOOBIG
 *         for ntags above RCACHE_MAX_TAGS or a tag above
 *         RCACHE_MAX_TAG_LEN bytes (nothing written).
 * Thread-safety: thread-safe.
 */
int rcache_tier_set_tagged(rcache_tier_t *t, const void *key, size_t key_len,
                           const void *val, size_t val_len, int64_t ttl_ms,
                           const rcache_tag_t *tags, size_t ntags);

/**
 * @brief Write an object through: opts.serialize gives the L2 bytes; L1
 *        keeps obj itself.
 * @param[in] obj ownership passes to L1 on RCACHE_OK (ended with dtor);
 *        on error it stays with the caller.
 * @return as rcache_tier_set(); RCACHE_EINVAL also without a serializer.
 * Thread-safety: thread-safe.
 */
int rcache_tier_set_object(rcache_tier_t *t, const void *key, size_t key_len,
                           void *obj, size_t charge_bytes,
                           rcache_destructor_fn dtor, void *dtor_ctx,
                           int64_t ttl_ms);

/**
 * @brief Delete a key in L2 (UNLINK, with its tag records) and L1; other
 *        nodes drop it through the invalidation bus.
 * @return RCACHE_OK (it was in L2 or L1); RCACHE_ENOTFOUND (in neither;
 *         fail-open with L2 unreachable: not in L1); RCACHE_TIER_EUNAVAIL
 *         (fail-closed; L1 entry still removed); RCACHE_EINVAL.
 * Thread-safety: thread-safe.
 */
int rcache_tier_delete(rcache_tier_t *t, const void *key, size_t key_len);

/**
 * @brief Remove every key matching a glob pattern (rcache_invalidate()
 *        syntax) from L1 and from L2 (SCAN MATCH + UNLINK, in batches of
 *        up to 1000; never KEYS). Other nodes drop them through the bus.
 * @param[out] removed_l1,removed_l2 counts (may be NULL).
 * @return RCACHE_OK; RCACHE_EPATTERN; RCACHE_TIER_EUNAVAIL (L2 failed
 *         part-way; fail-open returns it too, as the L2 part is unsure);
 *         RCACHE_EINVAL; RCACHE_ENOMEM.
 * Thread-safety: thread-safe; blocks on L2 for the whole scan.
 */
int rcache_tier_invalidate(rcache_tier_t *t, const char *pattern,
                           size_t pattern_len, uint64_t *removed_l1,
                           uint64_t *removed_l2);

/**
 * @brief rcache_tier_invalidate() restricted to the keys of one key class
 *        of L1's classifier (rcache_config_t.key_class; rcached: one
 *        numbered database): L1 through rcache_invalidate_class(), and in
 *        L2 only the names SCAN MATCH returns whose class is cls.
 * @param[in] cls the class; must be below L1's key_classes (0 when L1 has
 *        no classes: then every key).
 * @return as rcache_tier_invalidate(); RCACHE_EINVAL also for cls out of
 *         range.
 * Thread-safety: thread-safe; blocks on L2 for the whole scan.
 */
int rcache_tier_invalidate_class(rcache_tier_t *t, uint32_t cls, const char *pattern,
                                 size_t pattern_len, uint64_t *removed_l1,
                                 uint64_t *removed_l2);

/**
 * @brief Remove every entry tagged with tag from this node's L1 at once,
 *        from L2 (SSCAN of the tag's set, COUNT 1000, then one atomic
 *        script per page that UNLINKs each member still tagged with it and
 *        drops its tag records), and so from every other node's L1: the
 *        bus reports each UNLINKed key to them.
 * @param[in] tag,tag_len the tag; tag_len 1..RCACHE_MAX_TAG_LEN.
 * @param[out] removed_l1 entries removed from this node's L1 (may be
 *         NULL); removed_l2 values removed from L2 (may be NULL). 0 when
 *         none had the tag.
 * @return RCACHE_OK; RCACHE_EINVAL (t or tag NULL, tag_len 0);
 *         RCACHE_ETOOBIG (tag_len too long); RCACHE_ENOMEM;
 *         RCACHE_TIER_EUNAVAIL (L2 unreachable or failed part-way, in
 *         fail-open mode too, as the L2 part is unsure: L1 was still
 *         invalidated; call again when L2 is back).
 * A key written with the tag while the call runs may survive (as
 * rcache_invalidate_tag()). Cost: O(keys tagged) in L2, one round trip per
 * 1000 of them. Thread-safety: thread-safe; blocks on L2 for the whole
 * walk.
 */
int rcache_tier_invalidate_tag(rcache_tier_t *t, const void *tag,
                               size_t tag_len, uint64_t *removed_l1,
                               uint64_t *removed_l2);

/**
 * @brief rcache_memoize() across nodes. L1 hit: returned. Otherwise the
 *        node's single-flight picks one local caller, which reads L2; on a
 *        miss it takes the lease (SET <lease-key> <token> NX PX lease_ms),
 *        re-reads L2, computes, writes the result through and releases the
 *        lease (compare-and-delete). Nodes without the lease wait for the
 *        value (woken by the invalidation bus, polling every lease_poll_ms)
 *        and take the lease over once it expires (holder died).
 *        Byte results are shared through L2; object results also when a
 *        serializer is set; the result's tags (rcache_memo_result_t.tags)
 *        go to L2 with it, as with rcache_tier_set_tagged().
 * @param[in] opts memoize options (ttl_ms, wait_timeout_ms bounds the
 *        wait for another node too, error_ttl_ms stays local, flags).
 * @param[out] how_out as rcache_memoize(); a value another node computed
 *         (read from L2 by this node's fill) gives RCACHE_MEMO_COMPUTED to
 *         the caller that ran the fill and _SHARED to its local waiters.
 * @return as rcache_memoize(); fail-open: computes locally when L2 is
 *         unreachable; fail-closed: RCACHE_TIER_EUNAVAIL; RCACHE_ETIMEDOUT
 *         also when another node's lease outlasted wait_timeout_ms (it is
 *         then the compute error, so error_ttl_ms would cache it).
 * Thread-safety: thread-safe.
 */
int rcache_tier_memoize(rcache_tier_t *t, const void *key, size_t key_len,
                        rcache_compute_fn fn, void *fn_ctx,
                        const rcache_memo_opts_t *opts,
                        rcache_ref_t **ref_out, int *how_out);

/** Counters of one tier (since open). */
typedef struct rcache_tier_stats {
    uint64_t l1_hits;         /**< L1 hits (the cache's hit counter) */
    uint64_t l2_hits;         /**< L1 misses served from L2 */
    uint64_t misses;          /**< in neither tier */
    uint64_t l2_errors;       /**< failed L2 round trips / connects */
    uint64_t invalidations;   /**< invalidated keys received on the bus */
    uint64_t null_invalidations; /**< FLUSHALL/FLUSHDB notices received */
    uint64_t flushes_conn;    /**< L1 clears for connection loss, missed
                                   ping deadline or reconnect */
    uint64_t installs_dropped; /**< L2 replies not installed because the key
                                    was invalidated meanwhile */
    uint64_t lease_acquired;  /**< leases taken (computations for L2) */
    uint64_t lease_waits;     /**< memoize calls that waited for a lease */
    uint64_t lease_takeovers; /**< leases taken after a holder's expired */
    uint64_t l2_roundtrips;   /**< L2 round trips timed */
    uint64_t l2_rtt_us_total; /**< their summed time, microseconds */
    uint64_t l2_rtt_us_max;   /**< the longest, microseconds */
    uint64_t reconnects;      /**< connections re-made */
    int connected;            /**< 1 when L2 and the bus are up and tracking
                                   is in place (L1 fills allowed) */
} rcache_tier_stats_t;

/** @brief Snapshot the counters. @param[out] out filled (zeros if t is
 *  NULL). Thread-safety: thread-safe. */
void rcache_tier_stats(rcache_tier_t *t, rcache_tier_stats_t *out);

/** Why the tier cleared L1 (rcache_tier_status_t.l1_clears[] index). */
enum rcache_tier_clear_reason {
    RCACHE_TIER_CLEAR_BUS_LOST = 0, /**< invalidation connection lost or its
                                         ping deadline missed */
    RCACHE_TIER_CLEAR_DATA_LOST,    /**< data connection lost (I/O error,
                                         timeout) */
    RCACHE_TIER_CLEAR_RESYNC,       /**< a connection re-made (bus reconnect
                                         or tracking re-enabled) */
    RCACHE_TIER_CLEAR_FLUSHALL,     /**< null invalidation: FLUSHALL/FLUSHDB
                                         on L2 */
    RCACHE_TIER_CLEAR__COUNT
};

/** Where a tier stands now (rcache_tier_status()), for dashboards. */
typedef struct rcache_tier_status {
    /** The L2 address with the password replaced by "***", NUL-terminated
     *  (truncated if it does not fit): "redis://[user:***@]host:port/db"
     *  (IPv6 host in [], user %XX-escaped) or "unix://path[?db=N]". */
    char address[768];
    int has_password;        /**< 1 when the URL carries a password (AUTH) */
    int connected;           /**< as rcache_tier_stats_t.connected */
    int ever_connected;      /**< 1 once L2 was usable since open: with
                                  connected 0 the tier is reconnecting */
    /** The last L2 failure ("" when none since open): what failed and
     *  hiredis's or the server's text, NUL-terminated. */
    char last_error[256];
    uint64_t last_error_age_ms;   /**< ms since it (0 when none) */
    uint64_t l1_clears[RCACHE_TIER_CLEAR__COUNT]; /**< L1 clears by reason */
    int last_clear_reason;        /**< reason of the last clear, -1 = none */
    uint64_t last_clear_age_ms;   /**< ms since it (0 when none) */
} rcache_tier_status_t;

/**
 * @brief Snapshot where the tier stands: address, connection, last error,
 *        L1 clears by reason.
 * @param[in] t the tier (NULL: out is zeroed, last_clear_reason -1).
 * @param[out] out filled; the caller owns it (no pointers inside).
 * Thread-safety: thread-safe; takes the tier's short internal lock.
 */
void rcache_tier_status(rcache_tier_t *t, rcache_tier_status_t *out);

/** @brief Name of a clear reason ("bus_lost", "data_lost", "resync",
 *  "flushall"), or "unknown". Thread-safety: pure. */
const char *rcache_tier_clear_reason_name(int reason);

/**
 * @brief Write url back as text with its password replaced by "***" (see
 *        rcache_tier_status_t.address); it parses back to the same fields
 *        but the password.
 * @param[in] url a parsed address.
 * @param[out] buf cap bytes; always NUL-terminated when cap > 0.
 * @return the length of the full text (>= cap: truncated), as snprintf.
 * Thread-safety: pure.
 */
size_t rcache_tier_format_url(const rcache_tier_url_t *url, char *buf,
                              size_t cap);

/** @brief Text for an error code, RCACHE_TIER_EUNAVAIL included (others
 *  as rcache_strerror()). Thread-safety: pure. */
const char *rcache_tier_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* RCACHE_TIER_H */
