/*
 * rcache.h - librcache, an embeddable in-memory result cache.
 *
 * librcache keeps computed results (byte strings or caller-owned C objects)
 * in a sharded hash table bounded at the same time by an item count and by a
 * byte budget, with least-recently-used eviction, per-entry TTL, statistics,
 * per-entry metadata, glob invalidation and runtime reconfiguration.
 *
 * Conventions
 * -----------
 *  - Every function that can fail returns an int: RCACHE_OK (0) on success or
 *    a negative RCACHE_E* code; rcache_strerror() turns it into text.
 *    "Not found" (RCACHE_ENOTFOUND) is distinct from every failure.
 *  - Keys and values are byte strings given as (pointer, length); they may
 *    contain NUL bytes.  The cache copies them in; the caller keeps ownership
 *    of what it passed.
 *  - Units are in the names: *_ms is milliseconds, *_bytes is bytes.
 *  - For a limit, 0 means "unbounded"; for a TTL, 0 means "no expiry".
 *  - NULL, the same in every call: a call returning an int error code
 *    returns RCACHE_EINVAL, changing nothing, when the cache or a pointer
 *    it needs is NULL (a key, an output, a callback, a data pointer with
 *    a non-zero length); outputs documented "may be NULL" are optional.
 *    A call returning void, a count, a time, a flag or a pointer does
 *    nothing and returns 0 / NULL (a snapshot output is zeroed when only
 *    the cache is NULL). Release and free calls accept NULL as a no-op.
 *  - A key longer than RCACHE_MAX_KEY_LEN gives RCACHE_ETOOBIG from every
 *    call that takes a key, lookups included (rcache_exists() says 0); a
 *    NULL or empty key gives RCACHE_EINVAL.
 *
 * Caveats (thread rules, stated once)
 * -----------------------------------
 *  - An rcache_t may be used from any number of threads at once without
 *    outside locking.  rcache_close() must not race with any other call on
 *    the same cache; handles must be released before it.
 *  - The cache is split in shards, each with its own lock, hash table and
 *    LRU list.  With one shard the eviction order is exact LRU; with N shards
 *    each shard is exact LRU over its own keys, and a set that pushes the
 *    cache over a limit evicts first from the least-recently-used end of its
 *    own shard, then from the others.
 *  - Destructors and other user callbacks never run with a shard lock held;
 *    the one exception is rcache_update_fn, documented where it is declared.
 *
 * Thread-safety: every function is thread-safe unless its own documentation
 * says otherwise.
 */
#ifndef RCACHE_H
#define RCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version, written only here (CMakeLists.txt reads these lines for the
 * build, rcache.pc and rcached): MAJOR.MINOR.PATCH. */
#define RCACHE_VERSION_MAJOR 0
#define RCACHE_VERSION_MINOR 1
#define RCACHE_VERSION_PATCH 0
#define RCACHE__STR2(x) #x
#define RCACHE__STR(x) RCACHE__STR2(x)
/** The version as a string literal, "MAJOR.MINOR.PATCH". */
#define RCACHE_VERSION_STRING                                              \
    RCACHE__STR(RCACHE_VERSION_MAJOR) "." RCACHE__STR(RCACHE_VERSION_MINOR) \
    "." RCACHE__STR(RCACHE_VERSION_PATCH)

/** @defgroup errors Return codes */
/** Success. */
#define RCACHE_OK 0
/** The key is not in the cache (or has expired). Not a failure. */
#define RCACHE_ENOTFOUND (-1)
/** RCACHE_SET_NX was given and the key already exists. */
#define RCACHE_EEXIST (-2)
/** An argument is invalid (NULL or zero-length key, bad flag mix, bad config). */
#define RCACHE_EINVAL (-3)
/** Memory could not be allocated; the cache is unchanged. */
#define RCACHE_ENOMEM (-4)
/** The entry is larger than max_bytes, or the key longer than RCACHE_MAX_KEY_LEN. */
#define RCACHE_ETOOBIG (-5)
/** A byte-string operation met an object entry, or the reverse. */
#define RCACHE_EWRONGTYPE (-6)
/** The caller's buffer is too small; the needed length was stored. */
#define RCACHE_ERANGE (-7)
/** The glob pattern is malformed (unterminated '[' or trailing '\'). */
#define RCACHE_EPATTERN (-8)
/** A waiter for an in-flight computation timed out (the computation goes on). */
#define RCACHE_ETIMEDOUT (-9)
/** A compute callback asked, on the same thread, for the key it is computing. */
#define RCACHE_EDEADLK (-10)
/** Non-blocking call: the result is not ready; a completion will be delivered. */
#define RCACHE_EAGAIN (-11)
/** Snapshots: reading, writing, fsync or rename failed (the OS error is in
 *  rcache_snapshot_result_t.error); nothing was replaced. */
#define RCACHE_EIO (-20)
/** Snapshots: the input is not a valid RDB file (bad magic, unsupported
 *  version, truncated, malformed, CRC-64 mismatch); the error and its byte
 *  offset are in rcache_snapshot_result_t. */
#define RCACHE_ECORRUPT (-21)
/** Snapshots: the progress callback asked to stop. */
#define RCACHE_ECANCELED (-22)
/** Codes at or below this value are reserved for callers' own errors
 *  (compute callbacks); the cache passes them through unchanged. */
#define RCACHE_EUSER (-1000)

/** Longest key accepted, in bytes. */
#define RCACHE_MAX_KEY_LEN (16u * 1024u * 1024u - 1u)

/**
 * @brief Version of the library linked in (which may differ from the
 *        header's RCACHE_VERSION_STRING when linked dynamically).
 * @return a static string "MAJOR.MINOR.PATCH", never NULL.
 * Thread-safety: pure function.
 */
const char *rcache_version(void);

/**
 * @brief Text for an error code.
 * @param[in] err an RCACHE_* code.
 * @return a static string, never NULL (unknown codes give "unknown error").
 */
const char *rcache_strerror(int err);

/** Opaque cache handle. */
typedef struct rcache rcache_t;

/** Opaque reference to one entry; see rcache_get_ref(). */
typedef struct rcache_ref rcache_ref_t;

/**
 * The cache clock: every expiry time, TTL and entry time of a cache is in
 * milliseconds on it.
 *
 * The default (rcache_config_t.clock NULL) is CLOCK_MONOTONIC plus an
 * offset fixed at rcache_open(): it reads "ms since the Unix epoch" as of
 * the moment the cache was opened and then advances with real time, never
 * backwards. A later step of the system clock (settimeofday, an NTP step)
 * does not move it, so a step neither expires every entry at once nor keeps
 * them alive; after a step it differs from CLOCK_REALTIME by
 * rcache_wall_offset_ms(). Expiry decisions read this clock exactly (once
 * per call, under the key's shard lock); only access-time stamps may use
 * the kernel's coarse clock, which can lag (never lead) when a timer tick
 * is late, so a late tick never keeps an expired entry alive nor expires a
 * live one early.
 *
 * An injected clock must return ms, never go backwards, and is called from
 * any thread, possibly with a shard lock held (it must not call into the
 * cache). It is taken to be the wall clock (rcache_wall_offset_ms() = 0).
 * Tests inject one to move time without sleeping.
 */
typedef uint64_t (*rcache_clock_fn)(void *ctx);

/** Causes given to an rcache_removal_fn. */
#define RCACHE_REMOVED_EXPIRED 1 /**< past its TTL: reclaimed by a lookup,
                                      a store over it, or rcache_expire_cycle() */
#define RCACHE_REMOVED_EVICTED 2 /**< evicted to honour max_items/max_bytes */

/**
 * Removal listener: told of each entry the cache removes by itself, never
 * of deletes, replacements or invalidations the caller asked for (the
 * caller knows of those). rcached turns these into Redis's "expired" and
 * "evicted" keyspace events.
 *
 * @param[in] cause RCACHE_REMOVED_EXPIRED or RCACHE_REMOVED_EVICTED.
 * @param[in] key, key_len the removed entry's key; valid only during the
 *        call (the entry is released right after).
 * @param[in] ctx rcache_config_t.on_removal_ctx.
 *
 * It runs on the thread whose call removed the entry (any cache call that
 * looks a key up or stores), after that call dropped every lock and before
 * it returns, so it may call into the cache; it should be quick, since
 * that caller waits for it.
 */
typedef void (*rcache_removal_fn)(int cause, const void *key, size_t key_len, void *ctx);

/** Most key classes a cache can count (rcache_config_t.key_classes). */
#define RCACHE_MAX_KEY_CLASSES 256u

/**
 * Key classifier: puts a key in one of rcache_config_t.key_classes classes,
 * a caller-defined partition of the keyspace (rcached's numbered databases:
 * the class of a key is its database). The cache keeps, per class, the
 * number of entries, of entries with a TTL and the sum of their expiry
 * times, exactly and without walking entries (rcache_class_stats()), and
 * can remove the entries of one class that match a pattern
 * (rcache_invalidate_class()).
 *
 * @param[in] key, key_len a key being stored, removed or given a new TTL.
 * @param[in] ctx rcache_config_t.key_class_ctx.
 * @return the key's class, 0 .. key_classes - 1; a larger value counts as
 *         class 0. It must be a pure function of the key (the same key
 *         always in the same class).
 *
 * Called with a shard lock held, on every store, removal and TTL change:
 * it must be quick and must not call into the cache.
 */
typedef uint32_t (*rcache_key_class_fn)(const void *key, size_t key_len, void *ctx);

/** Configuration for rcache_open(). Initialise with rcache_config_init(). */
/**
 * Eviction policies (rcache_config_t.policy, rcache_set_policy()). Each
 * shard runs its own instance; docs/DESIGN.md ("Eviction policies")
 * describes them and BENCHMARKS.md compares their miss ratios.
 */
typedef enum rcache_policy {
    /** Exact LRU per shard: a hit moves the entry to the head of its
     *  shard's list. The default. */
    RCACHE_POLICY_LRU = 0,
    /** S3-FIFO: small FIFO (10%), main FIFO, ghost of recent small
     *  evictions (90%); a hit bumps a 2-bit counter, no list work. */
    RCACHE_POLICY_S3FIFO = 1,
    /** SIEVE: one FIFO, a visited bit and a hand; a hit sets the bit. */
    RCACHE_POLICY_SIEVE = 2,
    /** W-TinyLFU: window LRU, segmented LRU main (probation 1/5,
     *  protected 4/5), frequency-sketch admission (aged as Caffeine's), and
     *  the window's size adapted from 1% by two ghosts of evicted keys
     *  (ARC-style: a miss on a rejected candidate grows the window by one
     *  entry, on a main victim shrinks it). A hit moves the entry within
     *  its segment and counts it in the sketch. */
    RCACHE_POLICY_WTINYLFU = 3,
    /** W-TinyLFU with the window fixed at 1%, as libCacheSim's (the
     *  variant its published figures are checked against). */
    RCACHE_POLICY_WTINYLFU_FIXED = 4,
    /** GreedyDual-Size-Frequency, cost-aware: evicts the entry with the
     *  lowest H = L + freq * cost / size, where cost is the entry's
     *  compute_ms (memoize measures it; rcache_set_opts_t.compute_ms sets
     *  it; 0 counts as 1 ms), freq its accesses since stored, size its
     *  charge in bytes with a max_bytes limit (1 with only max_items), and
     *  L the shard's inflation value (the H of its last victim). Keeps
     *  what is expensive to recompute. A hit costs O(log n); the policy's
     *  heap and index take about 64-128 bytes per entry outside max_bytes. */
    RCACHE_POLICY_GDSF = 5
} rcache_policy_t;
/** Number of policies (valid values are 0 .. RCACHE_POLICY_COUNT - 1). */
#define RCACHE_POLICY_COUNT 6

typedef struct rcache_config {
    /** Most entries held at once; 0 = unbounded. Default 1000. */
    uint64_t max_items;
    /** Most bytes held at once, counting each entry's real footprint
     *  (header, key, value, allocator rounding, hash-table share);
     *  0 = unbounded. Default 512 MiB. */
    uint64_t max_bytes;
    /** TTL given to entries stored with RCACHE_TTL_DEFAULT; 0 = no expiry.
     *  Default 24 h. */
    uint64_t default_ttl_ms;
    /** Number of shards, rounded up to a power of two, at most 1024;
     *  0 = choose: 32 per online CPU, at least 64 (fewer shards make
     *  threads collide on shard locks). Under RCACHE_POLICY_LRU eviction
     *  order is exact LRU with 1 shard, global LRU at 1 s resolution with
     *  up to 8, and sampled (approximate) with more; other policies run per
     *  shard and the same sampling picks between the shards' victims
     *  (docs/DESIGN.md). */
    uint32_t shards;
    /** Non-zero: start disabled (see rcache_set_disabled()). Set by
     *  DISABLE_RESULT_CACHE=1. */
    int disabled;
    /** Clock (see rcache_clock_fn); NULL = the default monotonic clock. */
    rcache_clock_fn clock;
    /** Passed to clock. */
    void *clock_ctx;
    /** Removal listener (see rcache_removal_fn); NULL = none (default). */
    rcache_removal_fn on_removal;
    /** Passed to on_removal. */
    void *on_removal_ctx;
    /** Non-zero: diagnostics on from the start (rcache_diag_enable()).
     *  Default 0. */
    int diagnostics;
    /** Eviction policy (rcache_policy_t). Default RCACHE_POLICY_LRU (0), so
     *  a zeroed or older config keeps LRU. Set by RCACHE_POLICY. */
    int policy;
    /** Key classifier (see rcache_key_class_fn); NULL = no classes
     *  (default): rcache_class_stats() and rcache_invalidate_class() then
     *  see one class, 0, holding every key. */
    rcache_key_class_fn key_class;
    /** Passed to key_class. */
    void *key_class_ctx;
    /** Number of classes key_class returns, 1 .. RCACHE_MAX_KEY_CLASSES;
     *  0 = none (key_class is then not used). Counting costs each shard
     *  32 bytes per class and one key_class call per store, removal and
     *  TTL change. */
    uint32_t key_classes;
} rcache_config_t;

/**
 * @brief Fill a config with the defaults: 1000 items, 512 MiB, 24 h TTL,
 *        shards chosen at open (0), enabled, the default (monotonic) clock.
 * @param[out] cfg the config to fill.
 */
void rcache_config_init(rcache_config_t *cfg);

/**
 * @brief Overlay environment variables on a config.
 *
 * Read, in this order (a later one wins where two set the same field):
 * CACHE_MAX_SIZE (items), CACHE_MAX_MEMORY_MB (MiB), CACHE_TTL_SECONDS (s),
 * RCACHE_MAX_ITEMS, RCACHE_MAX_BYTES (a size: "1048576", "512mb", "1g", ...),
 * RCACHE_DEFAULT_TTL_MS, RCACHE_SHARDS, DISABLE_RESULT_CACHE ("1"/"true"/"yes"
 * disable, "0"/"false"/"no"/"" keep enabled), RCACHE_POLICY (a name that
 * rcache_policy_parse() accepts).
 *
 * @param[in,out] cfg config to update; untouched variables keep its values.
 * @param[out] errbuf receives "NAME=value: reason" on error; may be NULL.
 * @param[in] errlen size of errbuf.
 * @return RCACHE_OK, or RCACHE_EINVAL for an unparsable or out-of-range
 *         value (cfg is then left unchanged).
 */
int rcache_config_from_env(rcache_config_t *cfg, char *errbuf, size_t errlen);

/**
 * @brief Parse a size with an optional unit: "512", "512b", "64k", "64kb",
 *        "512mb", "1g", "1gb" (case-insensitive, powers of 1024).
 * @param[in] text NUL-terminated text.
 * @param[out] out_bytes the size in bytes.
 * @return RCACHE_OK, or RCACHE_EINVAL (empty, junk, negative, overflow).
 */
int rcache_parse_size(const char *text, uint64_t *out_bytes);

/**
 * @brief Create a cache.
 * @param[in] cfg configuration; NULL = rcache_config_init() defaults.
 * @param[out] out the new cache, to be freed with rcache_close().
 * @return RCACHE_OK, RCACHE_EINVAL (out NULL, default_ttl_ms above
 *         INT64_MAX, an unknown policy, key_classes above
 *         RCACHE_MAX_KEY_CLASSES or without key_class), RCACHE_ENOMEM.
 */
int rcache_open(const rcache_config_t *cfg, rcache_t **out);

/**
 * @brief Create a cache from defaults overlaid with the environment
 *        (rcache_config_from_env()).
 * @param[out] out the new cache.
 * @param[out] errbuf message on RCACHE_EINVAL; may be NULL.
 * @param[in] errlen size of errbuf.
 * @return RCACHE_OK, RCACHE_EINVAL (bad environment value), RCACHE_ENOMEM.
 */
int rcache_open_env(rcache_t **out, char *errbuf, size_t errlen);

/**
 * @brief Free a cache and every entry in it (object destructors run).
 * @param[in] c the cache; NULL is a no-op.
 * Thread-safety: not with any other call on c; all refs released first.
 */
void rcache_close(rcache_t *c);

/**
 * @brief The process-wide shared cache, created from the environment on
 *        first call and kept until exit.
 * @return the cache, or NULL if the environment is invalid (the reason is
 *         printed once to stderr) or memory ran out.
 */
rcache_t *rcache_default(void);

/**
 * @brief Current time on the cache clock (see rcache_clock_fn): ms since the
 *        Unix epoch as of rcache_open(), advancing monotonically.
 * @param[in] c cache; NULL gives 0.
 * Thread-safety: any thread.
 */
uint64_t rcache_now_ms(const rcache_t *c);

/**
 * @brief How far the wall clock (CLOCK_REALTIME) is ahead of the cache
 *        clock now, in ms: 0 at open and with an injected clock; it changes
 *        only when the system clock is stepped (by more than 1 ms) after
 *        open. Add it to a cache-clock time to get wall time (EXPIRETIME),
 *        subtract it from a wall time to get a cache-clock time (EXPIREAT).
 *        Two calls give the same value unless the clock was stepped in
 *        between, so converting a time there and back is exact.
 * @param[in] c cache; NULL gives 0.
 * @return the offset in ms (negative when the wall clock was set back).
 * Thread-safety: any thread.
 */
int64_t rcache_wall_offset_ms(rcache_t *c);

/* ------------------------------------------------------------------ */
/* Storing                                                             */
/* ------------------------------------------------------------------ */

/** Largest TTL, and largest absolute expiry time, any call accepts: larger
 *  values are refused with RCACHE_EINVAL (a TTL this long is ~292 million
 *  years). Expiry sums saturate here, so a remaining TTL always fits an
 *  int64_t and never reads as negative. */
#define RCACHE_MAX_TTL_MS INT64_MAX

/** Largest charge_bytes rcache_set_object() accepts (256 TiB); larger is
 *  refused with RCACHE_ETOOBIG, so byte sums can never wrap. */
#define RCACHE_MAX_CHARGE_BYTES ((uint64_t)1 << 48)

/** ttl_ms value meaning "use the cache's default TTL". */
#define RCACHE_TTL_DEFAULT (-1)
/** ttl_ms value meaning "keep the TTL the existing entry has" (KEEPTTL);
 *  a new key then gets no expiry. */
#define RCACHE_TTL_KEEP (-2)

/** Only store if the key does not exist. */
#define RCACHE_SET_NX 0x1u
/** Only store if the key exists. */
#define RCACHE_SET_XX 0x2u
/** opts->ttl_ms is an absolute expiry time (ms on the cache clock), not a
 *  duration; see rcache_set_opts_t. */
#define RCACHE_SET_EXPIRE_AT 0x4u

/** One tag: a byte string (any bytes, NUL included), length 1 to
 *  RCACHE_MAX_TAG_LEN. */
typedef struct rcache_tag {
    const void *data; /**< tag bytes */
    size_t len;       /**< their length */
} rcache_tag_t;
/** Most tags one entry may carry. */
#define RCACHE_MAX_TAGS 32u
/** Longest tag, in bytes. */
#define RCACHE_MAX_TAG_LEN 1024u

/** Options for rcache_set_ex() and rcache_set_object(). */
typedef struct rcache_set_opts {
    /** Without RCACHE_SET_EXPIRE_AT: RCACHE_TTL_DEFAULT, RCACHE_TTL_KEEP,
     *  0 = no expiry, > 0 = ms from the time of the store (read under the
     *  key's lock).
     *  With RCACHE_SET_EXPIRE_AT: the absolute expiry time, ms on the cache
     *  clock, >= 0 (convert a wall time with rcache_wall_offset_ms()). It is
     *  compared with the time of the store under the key's lock, so the
     *  check and the store are one step: a time not after it (0 included)
     *  stores nothing and removes the key's current entry (Redis's SET ...
     *  PXAT <past>, after the NX/XX check), returning RCACHE_OK with the
     *  removed entry in old_out (counted as a set and a delete). */
    int64_t ttl_ms;
    /** RCACHE_SET_NX or RCACHE_SET_XX (not both), optionally ORed with
     *  RCACHE_SET_EXPIRE_AT; or 0. */
    unsigned flags;
    /** How long producing the value took, in ms (the entry keeps it,
     *  saturating at UINT32_MAX, in 4 bytes after its header that count in
     *  its charge; 0 takes none); each later
     *  hit adds it to the "compute time saved" statistic, and the `gdsf`
     *  policy weighs it as the cost of evicting the entry. 0 if unknown
     *  (gdsf counts it as 1 ms). rcache_memoize() sets it to the measured
     *  time of the callback. */
    uint64_t compute_ms;
    /** Tags of the new entry (see "Tags" below), or NULL with ntags 0: no
     *  tags. A store always sets the entry's tags to exactly this list
     *  (duplicates count once): an overwrite without tags drops the tags
     *  the old entry had, RCACHE_TTL_KEEP included. The strings are copied;
     *  the caller keeps ownership. RCACHE_EINVAL for tags NULL with ntags >
     *  0 or a tag with NULL data or length 0; RCACHE_ETOOBIG for ntags above
     *  RCACHE_MAX_TAGS or a tag longer than RCACHE_MAX_TAG_LEN. */
    const struct rcache_tag *tags;
    /** Number of tags; 0 = none. */
    size_t ntags;
} rcache_set_opts_t;

/**
 * @brief Store a byte string (copied in), replacing any previous entry,
 *        then evict least-recently-used entries until both limits hold.
 * @param[in] c cache.
 * @param[in] key,key_len key bytes; key_len 1..RCACHE_MAX_KEY_LEN.
 * @param[in] val,val_len value bytes (val may be NULL when val_len is 0).
 * @param[in] ttl_ms RCACHE_TTL_DEFAULT, RCACHE_TTL_KEEP, 0 = none, > 0 ms.
 * @param[in] flags RCACHE_SET_NX, RCACHE_SET_XX or 0.
 * @return RCACHE_OK; RCACHE_EEXIST (NX, key present); RCACHE_ENOTFOUND (XX,
 *         key absent); RCACHE_EINVAL (also a ttl_ms below RCACHE_TTL_KEEP);
 *         RCACHE_ETOOBIG (entry alone exceeds max_bytes, its tag record
 *         included: nothing is evicted); RCACHE_ENOMEM. On any error the
 *         cache is unchanged. A disabled cache stores nothing and drops
 *         the entry the key had; it answers as for an absent key (RCACHE_OK,
 *         or RCACHE_ENOTFOUND with XX).
 */
int rcache_set(rcache_t *c, const void *key, size_t key_len, const void *val,
               size_t val_len, int64_t ttl_ms, unsigned flags);

/**
 * @brief rcache_set() with options, and optionally the previous entry.
 * @param[in] opts options; NULL = default TTL, no flags. RCACHE_EINVAL for
 *        unknown flags, NX with XX, a ttl_ms below RCACHE_TTL_KEEP, or a
 *        negative ttl_ms with RCACHE_SET_EXPIRE_AT.
 * @param[out] old_out if not NULL, receives a reference to the entry that
 *         was replaced (NULL if none, or on error); release it with
 *         rcache_release(). With NX/XX refusals it receives the current entry
 *         (NX) or NULL (XX), so SET ... GET can be atomic.
 * @return as rcache_set().
 */
int rcache_set_ex(rcache_t *c, const void *key, size_t key_len, const void *val,
                  size_t val_len, const rcache_set_opts_t *opts,
                  rcache_ref_t **old_out);

/** Destructor for object values: called exactly once, with no lock held,
 *  when the last reference to the entry goes away. */
typedef void (*rcache_destructor_fn)(void *obj, void *ctx);

/**
 * @brief Store a caller-owned object (LevelDB Cache::Insert style).
 * @param[in] obj the object; the cache takes ownership on RCACHE_OK and
 *        frees it through dtor. On error ownership stays with the caller
 *        and dtor is not called.
 * @param[in] charge_bytes what the object costs against max_bytes, at
 *        most RCACHE_MAX_CHARGE_BYTES (RCACHE_ETOOBIG above it, and when
 *        with max_bytes 0 the cache's byte count would pass INT64_MAX).
 * @param[in] dtor destructor, may be NULL; dtor_ctx its context.
 * @param[in] opts as rcache_set_ex().
 * @return as rcache_set().
 */
int rcache_set_object(rcache_t *c, const void *key, size_t key_len, void *obj,
                      size_t charge_bytes, rcache_destructor_fn dtor,
                      void *dtor_ctx, const rcache_set_opts_t *opts);

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/**
 * @brief Copy a byte-string value into the caller's buffer; counts a hit or
 *        a miss and makes the entry most recently used.
 * @param[out] buf destination (may be NULL when buf_cap is 0).
 * @param[in] buf_cap size of buf.
 * @param[out] val_len the value's length (set on RCACHE_OK and RCACHE_ERANGE).
 * @return RCACHE_OK; RCACHE_ENOTFOUND (absent or expired); RCACHE_ERANGE
 *         (buf_cap too small, nothing copied, still a hit);
 *         RCACHE_EWRONGTYPE (object entry); RCACHE_EINVAL.
 */
int rcache_get(rcache_t *c, const void *key, size_t key_len, void *buf,
               size_t buf_cap, size_t *val_len);

/**
 * @brief Get a malloc'd copy of a byte-string value.
 * @param[out] val_out receives the copy (caller frees with free()); a
 *        zero-length value gives a non-NULL 1-byte allocation.
 * @return as rcache_get(), plus RCACHE_ENOMEM.
 */
int rcache_get_alloc(rcache_t *c, const void *key, size_t key_len,
                     void **val_out, size_t *val_len);

/**
 * @brief Get a reference to an entry (bytes or object). The entry stays
 *        valid until rcache_release(), even if it is evicted, deleted or
 *        replaced meanwhile. Counts a hit or miss like rcache_get().
 * @param[out] ref_out the reference.
 * @return RCACHE_OK, RCACHE_ENOTFOUND, RCACHE_EINVAL.
 */
int rcache_get_ref(rcache_t *c, const void *key, size_t key_len,
                   rcache_ref_t **ref_out);

/**
 * @brief Get references to several entries at once, each key as
 *        rcache_get_ref() would (a hit or a miss counted per key). The
 *        lookups' memory accesses overlap: the index lines of up to 16 keys
 *        are fetched together, then their entries, before those lookups
 *        run, so keys whose entries are not in the CPU cache cost much
 *        less than as many rcache_get_ref() calls (BENCHMARKS.md).
 * @param[in] c cache.
 * @param[in] n number of keys; 0 does nothing.
 * @param[in] keys the n keys; key_lens their lengths in bytes. A key
 *        rcache_get_ref() would refuse gets its error in rcs and a NULL
 *        reference; the others are still looked up.
 * @param[out] refs n slots: a reference to each key's entry, which the
 *        caller releases with rcache_release(), or NULL where the key was
 *        not found or refused.
 * @param[out] rcs optional (NULL: not wanted): n result codes, each what
 *        rcache_get_ref() returns for that key (RCACHE_OK,
 *        RCACHE_ENOTFOUND, RCACHE_EINVAL, RCACHE_ETOOBIG).
 * @return RCACHE_OK when every key was looked up (some may be missing:
 *         see refs and rcs); RCACHE_EINVAL if c is NULL, or n > 0 and keys,
 *         key_lens or refs is NULL (nothing looked up).
 * Thread-safety: as rcache_get_ref(); the lookups are separate (another
 *        thread's writes may land between two of them).
 */
int rcache_get_many_ref(rcache_t *c, size_t n, const void *const keys[],
                        const size_t key_lens[], rcache_ref_t *refs[],
                        int rcs[]);

/** @brief Value bytes of a byte-string entry (NULL for an object entry).
 *  @param[out] len_out its length (may be NULL). Valid until release. */
const void *rcache_ref_value(const rcache_ref_t *ref, size_t *len_out);

/** @brief Object of an object entry (NULL for a byte-string entry). */
void *rcache_ref_object(const rcache_ref_t *ref);

/** @brief Key bytes of the referenced entry. @param[out] len_out length. */
const void *rcache_ref_key(const rcache_ref_t *ref, size_t *len_out);

/**
 * @brief Release a reference; the last release of an entry no longer in the
 *        cache frees it (running its destructor, on this thread).
 * @param[in] ref reference; NULL is a no-op.
 */
void rcache_release(rcache_ref_t *ref);

/**
 * @brief Does the key exist (and is it unexpired)? Does not count a hit or
 *        miss and does not change LRU order.
 * @return 1 if present, 0 if not.
 */
int rcache_exists(rcache_t *c, const void *key, size_t key_len);

/**
 * @brief Record an access without reading the value (Redis TOUCH): the entry
 *        becomes the most recently used of the cache's LRU order and its
 *        last-access time (rcache_entry_info_t.last_access_ms) moves to now.
 *        Counts neither a hit nor a miss and leaves the entry's hit count
 *        alone (unlike Redis, whose TOUCH counts keyspace hits): hits here
 *        measure results served, which a touch does not.
 * @param[in] c cache.
 * @param[in] key,key_len key bytes; key_len >= 1.
 * @return RCACHE_OK (touched); RCACHE_ENOTFOUND (absent, expired - an
 *         expired entry is reclaimed -, or the cache is disabled);
 *         RCACHE_ETOOBIG (key longer than RCACHE_MAX_KEY_LEN);
 *         RCACHE_EINVAL (c or key NULL, key_len 0).
 * Thread-safety: safe from any thread.
 */
int rcache_touch(rcache_t *c, const void *key, size_t key_len);

/* ------------------------------------------------------------------ */
/* Removing, TTL                                                       */
/* ------------------------------------------------------------------ */

/** @brief Remove a key. @return RCACHE_OK, RCACHE_ENOTFOUND, RCACHE_EINVAL. */
int rcache_delete(rcache_t *c, const void *key, size_t key_len);

/**
 * @brief Remove a key and hand back its entry (GETDEL).
 * @param[out] ref_out reference to the removed entry; release it.
 * @return RCACHE_OK, RCACHE_ENOTFOUND, RCACHE_EINVAL.
 */
int rcache_take(rcache_t *c, const void *key, size_t key_len,
                rcache_ref_t **ref_out);

/**
 * @brief Set a key's TTL, counted from the time of the call (read under the
 *        key's lock). ttl_ms 0 removes the expiry (as rcache_persist()).
 * @return RCACHE_OK, RCACHE_ENOTFOUND, RCACHE_EINVAL (also ttl_ms above
 *         RCACHE_MAX_TTL_MS; the key is then unchanged).
 */
int rcache_expire(rcache_t *c, const void *key, size_t key_len,
                  uint64_t ttl_ms);

/**
 * @brief Set a key's absolute expiry time (ms on the cache clock; see
 *        rcache_wall_offset_ms() for wall times). A time not after now
 *        (0 included) deletes the key (counted as a delete).
 * @return RCACHE_OK, RCACHE_ENOTFOUND, RCACHE_EINVAL (also at_ms above
 *         RCACHE_MAX_TTL_MS; the key is then unchanged).
 */
int rcache_expire_at(rcache_t *c, const void *key, size_t key_len,
                     uint64_t at_ms);

/** @brief Remove a key's TTL. @return RCACHE_OK, RCACHE_ENOTFOUND. */
int rcache_persist(rcache_t *c, const void *key, size_t key_len);

/**
 * @brief Remaining TTL, at the time of the call read once under the key's
 *        lock (the same reading that found the key alive).
 * @param[out] ttl_ms remaining ms (1..INT64_MAX for a live key), or -1
 *        when the key has no expiry.
 * @return RCACHE_OK, RCACHE_ENOTFOUND, RCACHE_EINVAL.
 */
int rcache_ttl(rcache_t *c, const void *key, size_t key_len, int64_t *ttl_ms);

/**
 * @brief Remove every entry.
 * @param[out] removed number removed (may be NULL).
 * @return RCACHE_OK.
 */
int rcache_clear(rcache_t *c, uint64_t *removed);

/**
 * @brief Rename a key, keeping its value, TTL and metadata; an existing
 *        destination is replaced unless nx is set.
 * @return RCACHE_OK; RCACHE_ENOTFOUND (no source); RCACHE_EEXIST (nx and
 *         destination exists); RCACHE_EWRONGTYPE (the source is an object
 *         entry: an object belongs to exactly one entry, so it cannot be
 *         moved while references to the old entry may exist); RCACHE_ETOOBIG
 *         (either key too long, or the entry under the new key would
 *         alone exceed max_bytes, as for rcache_set()); RCACHE_ENOMEM;
 *         RCACHE_EINVAL. On any error the cache is unchanged. A rename that
 *         succeeds evicts, as a store does, until both limits hold.
 */
int rcache_rename(rcache_t *c, const void *src, size_t src_len,
                  const void *dst, size_t dst_len, int nx);

/* ------------------------------------------------------------------ */
/* Atomic read-modify-write                                            */
/* ------------------------------------------------------------------ */

/** What an rcache_update_fn decided. */
typedef enum rcache_update_action {
    RCACHE_UPDATE_KEEP = 0,   /**< leave the entry as it is */
    RCACHE_UPDATE_STORE = 1,  /**< store new_val/new_len (TTL per ttl_ms) */
    RCACHE_UPDATE_DELETE = 2, /**< remove the entry */
    RCACHE_UPDATE_TTL = 3,    /**< keep the value, apply ttl_ms */
    /** write new_val/new_len into the value at splice_offset (TTL per
     *  ttl_ms): bytes past the old end up to splice_offset are zeros, and
     *  the value grows to splice_offset + new_len when that is longer
     *  (APPEND, SETRANGE). The cache writes the result once, straight into
     *  the entry: the old bytes are copied once, or not at all when no
     *  reference to the entry is held outside the cache (the entry is then
     *  grown in place). A missing key is spliced into an empty value. */
    RCACHE_UPDATE_SPLICE = 4
} rcache_update_action_t;

/** splice_offset meaning "at the end of the old value" (APPEND). */
#define RCACHE_SPLICE_END SIZE_MAX

/** In/out record for rcache_update_fn. */
typedef struct rcache_update {
    /* in */
    int found;             /**< 1 if the key exists (unexpired) */
    const void *old_val;   /**< its bytes (NULL if not found) */
    size_t old_len;        /**< their length */
    int64_t old_ttl_ms;    /**< remaining TTL in ms at now_ms (>= 1 for a
                                found key), -1 none */
    size_t max_new_len;    /**< longest value a STORE or SPLICE could keep
                                under the byte limit (SIZE_MAX when
                                unbounded): build no larger value, return
                                an error instead */
    uint64_t now_ms;       /**< the time of this call on the cache clock,
                                read once under the lock: the time found,
                                old_ttl_ms and every TTL applied use */
    /* out */
    const void *new_val;   /**< bytes to store (STORE) or to write at
                                splice_offset (SPLICE); copied in */
    size_t new_len;        /**< their length */
    int64_t ttl_ms;        /**< RCACHE_TTL_KEEP (preset), DEFAULT, 0, > 0;
                                for RCACHE_UPDATE_TTL an absolute time is
                                given with expire_at_ms instead when != 0 */
    uint64_t expire_at_ms; /**< absolute expiry for RCACHE_UPDATE_TTL/STORE/
                                SPLICE (cache clock, at most
                                RCACHE_MAX_TTL_MS, else RCACHE_EINVAL);
                                0 = use ttl_ms. Not after now_ms: TTL
                                deletes the key, STORE and SPLICE store an
                                entry already expired */
    size_t splice_offset;  /**< RCACHE_UPDATE_SPLICE: byte offset of new_val
                                in the value, or RCACHE_SPLICE_END (preset) */
} rcache_update_t;

/**
 * Update callback: decides from the current value what to do.  It runs
 * WITH THE SHARD LOCK HELD: it must be short, must not block and must not
 * call any rcache function.  It returns an rcache_update_action_t, or a
 * negative code to abort (the cache is then unchanged and the code is
 * returned by rcache_update()).
 */
typedef int (*rcache_update_fn)(rcache_update_t *u, void *ctx);

/**
 * @brief Atomically read and change one byte-string key (INCR, APPEND,
 *        SETRANGE, GETEX are built on this). Does not count a hit or miss.
 * @return RCACHE_OK; the callback's negative code; RCACHE_EWRONGTYPE (object
 *         entry); RCACHE_ETOOBIG; RCACHE_ENOMEM; RCACHE_EINVAL.
 */
int rcache_update(rcache_t *c, const void *key, size_t key_len,
                  rcache_update_fn fn, void *ctx);

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

/** Statistics snapshot (counters since open or the last reset). */
typedef struct rcache_stats {
    uint64_t hits;               /**< lookups that found an entry */
    uint64_t misses;             /**< lookups that found none (or expired) */
    uint64_t sets;               /**< successful stores (incl. updates) */
    uint64_t deletes;            /**< entries removed by delete/take/invalidate/clear */
    uint64_t evictions;          /**< evictions_items + evictions_bytes */
    uint64_t evictions_items;    /**< evicted to honour max_items */
    uint64_t evictions_bytes;    /**< evicted to honour max_bytes */
    uint64_t expirations;        /**< entries removed because their TTL passed */
    uint64_t items;              /**< entries held now (gauge) */
    uint64_t bytes;              /**< bytes held now (gauge) */
    uint64_t peak_bytes;         /**< highest bytes seen (reset to bytes) */
    uint64_t max_items;          /**< limit in force, 0 = unbounded */
    uint64_t max_bytes;          /**< limit in force, 0 = unbounded */
    uint64_t default_ttl_ms;     /**< default TTL in force, 0 = none */
    double hit_ratio;            /**< hits / (hits + misses), 0 if none */
    double memory_utilization;   /**< bytes / max_bytes, 0 if unbounded */
    uint64_t compute_saved_ms;   /**< sum over hits of the entry's compute_ms */
    uint64_t computations;       /**< compute callbacks run (memoize) */
    uint64_t singleflight_dedup; /**< callers served by another's computation */
    int disabled;                /**< 1 if the cache is disabled */
    uint64_t expires;            /**< entries held now that have a TTL
                                      (gauge; as items, includes expired
                                      ones not yet reclaimed) */
    uint64_t avg_ttl_ms;         /**< mean remaining TTL of those entries,
                                      in ms, clamped at 0 (expired ones
                                      not yet reclaimed pull it down);
                                      0 when there are none. Kept as a
                                      running sum: no entry is walked */
    uint64_t tags;               /**< distinct tags held now (gauge) */
    uint64_t tagged_entries;     /**< entries held now with >= 1 tag */
    uint64_t tag_bytes;          /**< what the tag index is charged now
                                      (included in bytes; see Tags) */
    uint64_t tag_invalidations;  /**< rcache_invalidate_tag() calls */
    uint64_t tag_invalidated;    /**< entries they removed (also counted
                                      in deletes) */
} rcache_stats_t;

/** @brief Take a statistics snapshot: O(shards), no entry is walked.
 *  @param[out] out the snapshot. */
void rcache_stats(rcache_t *c, rcache_stats_t *out);

/** @brief Zero the counters (gauges and limits are kept; peak = now). */
void rcache_stats_reset(rcache_t *c);

/* ------------------------------------------------------------------ */
/* Entry metadata, scanning, invalidation                              */
/* ------------------------------------------------------------------ */

/** Metadata of one entry. */
typedef struct rcache_entry_info {
    const void *key;          /**< key bytes (see the function for lifetime) */
    size_t key_len;
    size_t value_len;         /**< byte length (0 for objects) */
    size_t size_bytes;        /**< what the entry counts against max_bytes */
    uint64_t created_at_ms;   /**< when stored (cache clock, 1 s resolution) */
    uint64_t last_access_ms;  /**< last hit or store (cache clock, 1 s
                                   resolution; may lag by a late tick) */
    uint64_t access_count;    /**< hits since stored: exact up to 128,
                                   then an unbiased estimate (one standard
                                   deviation about 8%), so that a hot
                                   entry is not written on every hit */
    int64_t ttl_ms;           /**< remaining ms (0 once expired), -1 = no
                                   expiry; never otherwise negative */
    uint64_t compute_ms;      /**< compute time recorded at store */
    int expired;              /**< 1 if past its TTL but not yet reclaimed */
    int is_object;            /**< 1 for an object entry */
    uint64_t expire_at_ms;    /**< absolute expiry (cache clock), 0 = none */
} rcache_entry_info_t;

/**
 * @brief Metadata of one key, without counting a hit or touching LRU order.
 * @param[out] out filled; out->key points at the caller's key.
 * @return RCACHE_OK, RCACHE_ENOTFOUND (absent or expired), RCACHE_EINVAL.
 */
int rcache_entry_info(rcache_t *c, const void *key, size_t key_len,
                      rcache_entry_info_t *out);

/** A page of scan results, owned by the library. */
typedef struct rcache_scan_page {
    rcache_entry_info_t *entries; /**< the entries; keys live in the page
                                       and are NUL-terminated (key_len
                                       excludes the NUL) */
    size_t count;                 /**< number of entries */
} rcache_scan_page_t;

/**
 * @brief One step of a cursor scan over the keyspace (Redis SCAN rules:
 *        start with cursor 0, continue with the returned cursor until it is
 *        0 again; every entry present for the whole scan is returned at
 *        least once, some may be returned twice).
 * @param[in] cursor 0 to start, else a value returned earlier.
 * @param[in] count work hint: about this many entries are examined (>= 1),
 *        and at most count x 10 hash buckets visited (an empty shard
 *        counts as one): a call may return no entry with a non-zero
 *        cursor, which only means "continue".
 * @param[in] pattern glob filter (Redis syntax) or NULL for all.
 * @param[in] pattern_len its length.
 * @param[in] include_expired 1: list expired-but-unreclaimed entries too
 *        (with expired = 1); 0: skip them.
 * @param[out] page the results; free with rcache_scan_page_free().
 * @param[out] next_cursor the cursor for the next call; 0 when done.
 * @return RCACHE_OK, RCACHE_EPATTERN, RCACHE_EINVAL (also pattern NULL with
 *         a non-zero pattern_len), RCACHE_ENOMEM.
 */
int rcache_scan(rcache_t *c, uint64_t cursor, size_t count,
                const char *pattern, size_t pattern_len, int include_expired,
                rcache_scan_page_t *page, uint64_t *next_cursor);

/** @brief Free what rcache_scan() put in a page. */
void rcache_scan_page_free(rcache_scan_page_t *page);

/**
 * @brief Remove every entry whose key matches a glob pattern.
 * @param[out] removed number removed (may be NULL).
 * @return RCACHE_OK, RCACHE_EPATTERN (cache untouched), RCACHE_EINVAL.
 */
int rcache_invalidate(rcache_t *c, const char *pattern, size_t pattern_len,
                      uint64_t *removed);

/**
 * @brief Remove every entry of one key class (rcache_config_t.key_class)
 *        whose key matches a glob pattern: rcache_invalidate() restricted
 *        to a class (rcached: a pattern within one numbered database).
 * @param[in] cls the class, 0 .. key_classes - 1 (0 when the cache has no
 *        classes: then every key is in class 0).
 * @param[in] pattern glob (rcache_glob_match() syntax) matched against the
 *        stored key; NULL with pattern_len 0 = every key of the class.
 * @param[out] removed number removed (may be NULL).
 * @return RCACHE_OK, RCACHE_EPATTERN (cache untouched), RCACHE_EINVAL (c
 *         NULL, cls out of range, pattern NULL with a non-zero length).
 * Thread-safety: thread-safe; one shard locked at a time, so it is not one
 * atomic step across shards (as rcache_invalidate()).
 */
int rcache_invalidate_class(rcache_t *c, uint32_t cls, const char *pattern,
                            size_t pattern_len, uint64_t *removed);

/** Figures of one key class (rcache_class_stats()). */
typedef struct rcache_class_stats {
    uint64_t items;      /**< entries held, expired-not-yet-reclaimed included
                              (as rcache_stats_t.items) */
    uint64_t expires;    /**< of those, entries with a TTL */
    uint64_t avg_ttl_ms; /**< mean remaining TTL of those, ms (0 when none;
                              as rcache_stats_t.avg_ttl_ms) */
} rcache_class_stats_t;

/**
 * @brief The figures of every key class, counted as entries are stored and
 *        removed (no entry is walked: O(shards x classes)).
 * @param[in] c the cache.
 * @param[out] out array of n; out[i] gets class i for i < key_classes, and
 *        zeros beyond. A cache without classes reports everything as class 0.
 * @param[in] n entries of out.
 * @return RCACHE_OK, RCACHE_EINVAL (c or out NULL).
 * Thread-safety: thread-safe; each shard is read under its lock, so the
 * sum is not one point in time across shards.
 */
int rcache_class_stats(rcache_t *c, rcache_class_stats_t *out, uint32_t n);

/**
 * @brief The class rcache_config_t.key_class gives a key (clamped as the
 *        counts are): for callers that filter keys the way the cache counts
 *        them (librcache-redis's L2 pattern invalidation).
 * @return the class; 0 when c is NULL or has no classes.
 * Thread-safety: thread-safe.
 */
uint32_t rcache_key_class(const rcache_t *c, const void *key, size_t key_len);

/* ------------------------------------------------------------------ */
/* Tags                                                                */
/* ------------------------------------------------------------------ */
/*
 * A store may give its entry up to RCACHE_MAX_TAGS tags
 * (rcache_set_opts_t.tags): names of what the value was computed from
 * ("image:42", "user:7"). rcache_invalidate_tag() then removes every entry
 * carrying a tag in time proportional to the number of such entries, not
 * to the size of the cache. The index is exact: an entry leaves it the
 * moment it leaves the cache, whatever the cause (delete, take, overwrite,
 * eviction, lazy or active expiry, invalidation by pattern or tag, clear,
 * a store while disabled).
 *
 * What keeps tags. A store (rcache_set*, rcache_memoize) sets exactly the
 * tags of its options, so an overwrite without tags leaves an untagged
 * entry. Changes made in place keep them, as a Redis user expects of a key
 * that is modified rather than replaced: rcache_update() (INCR, APPEND,
 * SETRANGE, GETEX...), every TTL change, and rcache_rename(), which moves
 * the tags to the new key (the destination's own tags go with its old
 * entry). Snapshots (rcache_snapshot_*) keep them: a tagged key is
 * preceded in the file by an AUX field "rcache-tags", which Redis ignores,
 * so the file still loads in redis-server (without the tags).
 *
 * Memory. The index is charged to max_bytes (and shows in bytes and
 * tag_bytes), as glibc malloc lays it out, with fp(n) = max(32, (n + 23) &
 * ~15) the footprint of an n-byte allocation:
 *   each tagged entry:   fp(24 + 16 x ntags) + 16 + 32 x ntags
 *   each distinct tag:   fp(48 + tag_len) + 16
 * (a record per entry, one member slot per tag in the tag's array charged
 * at half load, the tag itself with its name, and a hash-table slot each).
 * The entry's own size_bytes (rcache_entry_info_t) excludes it.
 *
 * Concurrency. The index has one lock, taken after a shard lock (never
 * the other way round) by stores and removals of tagged entries only: an
 * untagged entry costs one flag test. Tagged stores allocate their index
 * nodes under that lock.
 */

/**
 * @brief Remove every live entry that carries a tag.
 * @param[in] tag,tag_len the tag; tag_len 1..RCACHE_MAX_TAG_LEN.
 * @param[out] removed number of live entries removed (may be NULL); 0 when
 *         no entry has the tag. Expired entries found on the way are
 *         reclaimed as expirations and not counted.
 * @return RCACHE_OK; RCACHE_EINVAL (c or tag NULL, tag_len 0);
 *         RCACHE_ETOOBIG (tag_len above RCACHE_MAX_TAG_LEN); RCACHE_ENOMEM
 *         (nothing removed).
 * Every entry that carried the tag when the call began, and still carries
 * it when its key is reached, is gone when it returns (an entry modified
 * in place meanwhile included); an entry stored with the tag while the call
 * runs may survive. Cost: O(entries tagged), one shard lock at a time.
 * Thread-safety: safe from any thread.
 */
int rcache_invalidate_tag(rcache_t *c, const void *tag, size_t tag_len,
                          uint64_t *removed);

/** An entry's tags, as rcache_get_tags() returns them: one allocation. */
typedef struct rcache_tag_list {
    size_t count;       /**< number of tags, 0 for an untagged entry */
    rcache_tag_t *tags; /**< the tags, in the order first given; each data
                             is NUL-terminated (len excludes the NUL) and
                             lives in this list */
} rcache_tag_list_t;

/**
 * @brief Read the tags of a live entry, without counting a hit or touching
 *        LRU order.
 * @param[in] key,key_len key; key_len 1..RCACHE_MAX_KEY_LEN.
 * @param[out] out receives a list (count 0 when the entry has no tags) the
 *         caller frees with rcache_tag_list_free(); NULL on error.
 * @return RCACHE_OK; RCACHE_ENOTFOUND (absent, expired or disabled cache);
 *         RCACHE_EINVAL; RCACHE_ETOOBIG (key too long); RCACHE_ENOMEM.
 * Thread-safety: safe from any thread.
 */
int rcache_get_tags(rcache_t *c, const void *key, size_t key_len,
                    rcache_tag_list_t **out);

/** @brief Free a list from rcache_get_tags() (NULL is fine). */
void rcache_tag_list_free(rcache_tag_list_t *list);

/**
 * @brief Redis glob match: '*' any run, '?' one byte, "[abc]", "[a-z]",
 *        "[^a]", '\' escapes the next byte. Byte-wise, NUL bytes allowed.
 *        Case-sensitive. Unlike Redis, an unterminated '[' or a trailing '\'
 *        is an error (see rcache_glob_match_lenient() for Redis's reading).
 * @return 1 on match, 0 on no match, RCACHE_EPATTERN if malformed,
 *         RCACHE_EINVAL if pattern or str is NULL with a non-zero length.
 * Thread-safety: pure function.
 */
int rcache_glob_match(const char *pattern, size_t pattern_len,
                      const void *str, size_t str_len);

/** @brief Check a glob pattern. @return RCACHE_OK, RCACHE_EPATTERN, or
 *  RCACHE_EINVAL (pattern NULL with a non-zero length). */
int rcache_glob_validate(const char *pattern, size_t pattern_len);

/**
 * @brief Glob match that never refuses a pattern, for Redis-compatible
 *        listings (rcached's KEYS and SCAN MATCH). A well-formed pattern
 *        matches exactly as with rcache_glob_match(); a malformed one is
 *        read as Redis 7.0 reads it: an unterminated '[' class takes the
 *        rest of the pattern as its members (so "a[b" matches "ab", "[^"
 *        any one byte, "[" nothing) and a trailing '\' is a literal '\'
 *        ("a\" matches the two bytes a, \). Invalidation should use
 *        rcache_glob_match() / rcache_invalidate(), which refuse them.
 * @param[in] pattern,pattern_len the pattern (NULL only with length 0).
 * @param[in] str,str_len the bytes to test (NULL only with length 0).
 * @return 1 on match, 0 otherwise (also for NULL with a length).
 * Thread-safety: pure function.
 */
int rcache_glob_match_lenient(const char *pattern, size_t pattern_len,
                              const void *str, size_t str_len);

/* ------------------------------------------------------------------ */
/* Reconfiguration, maintenance                                        */
/* ------------------------------------------------------------------ */

/**
 * @brief Change the limits; shrinking evicts down to them before returning.
 * @param[in] max_items new item limit, 0 = unbounded.
 * @param[in] max_bytes new byte limit, 0 = unbounded.
 * @return RCACHE_OK.
 */
int rcache_set_limits(rcache_t *c, uint64_t max_items, uint64_t max_bytes);

/**
 * @brief Name of a policy: "lru", "s3fifo", "sieve", "wtinylfu",
 *        "wtinylfu-fixed", "gdsf".
 * @param[in] policy a rcache_policy_t value.
 * @return a static string; NULL for a value out of range.
 * Thread-safety: pure function.
 */
const char *rcache_policy_name(int policy);

/**
 * @brief Parse a policy name (case-insensitive): "lru", "s3fifo",
 *        "sieve", "wtinylfu" ("w-tinylfu" and "tinylfu" also accepted),
 *        "wtinylfu-fixed", "gdsf".
 *        Redis's maxmemory-policy names are the server's business
 *        (docs/SERVER.md), not the library's.
 * @param[in] name NUL-terminated name.
 * @param[out] out the policy.
 * @return RCACHE_OK, or RCACHE_EINVAL (NULL or unknown name; out unchanged).
 * Thread-safety: pure function.
 */
int rcache_policy_parse(const char *name, int *out);

/**
 * @brief Change the eviction policy of a live cache. Each shard's entries
 *        are rethreaded, under that shard's lock, into the new policy
 *        (oldest first, so they keep their rough age; the new policy's
 *        access history starts empty): O(entries), one shard at a time,
 *        nothing is evicted and no entry or reference is affected. While it
 *        runs, shards already switched evict by the new policy and the
 *        others by the old one. Both limits keep holding.
 * @param[in] c cache. @param[in] policy a rcache_policy_t value.
 * @return RCACHE_OK (also when policy is already in force); RCACHE_EINVAL
 *         (c NULL or policy out of range); RCACHE_ENOMEM (the new state
 *         could not be allocated; the cache is unchanged).
 * Thread-safety: safe from any thread; concurrent calls are serialised.
 */
int rcache_set_policy(rcache_t *c, int policy);

/**
 * @brief The eviction policy in force (rcache_policy_t).
 * @param[in] c cache. @return the policy; RCACHE_POLICY_LRU for c NULL.
 * Thread-safety: safe from any thread.
 */
int rcache_get_policy(const rcache_t *c);

/**
 * @brief Change the default TTL for later stores (existing entries keep
 *        theirs). @param[in] ttl_ms 0 = no expiry, at most INT64_MAX.
 * @return RCACHE_OK, RCACHE_EINVAL (c NULL or ttl_ms > INT64_MAX).
 */
int rcache_set_default_ttl(rcache_t *c, uint64_t ttl_ms);

/**
 * @brief Turn the disabled mode on (1) or off (0), e.g. to rule the cache out
 *        while debugging. While disabled the cache behaves as if empty and
 *        caches nothing:
 *        - every read misses: get, get_ref, get_alloc, touch, exists, ttl,
 *          entry_info, rcache_update's callback (found = 0), and scan (an
 *          empty page and next cursor 0); misses are counted;
 *        - stores (set, set_ex, set_object, an update that stores) cache
 *          nothing and drop the entry the key had; delete, take (which then
 *          returns RCACHE_ENOTFOUND) and rename (RCACHE_ENOTFOUND) drop the
 *          entries they name. So no value written over or removed while
 *          disabled comes back when the cache is enabled again;
 *        - expire, expire_at and persist find no key and change nothing;
 *        - invalidate, clear, stats and rcache_count still see what is held
 *          (entries not written meanwhile come back when re-enabled).
 * @param[in] c cache. @param[in] disabled non-zero to disable.
 * @return RCACHE_OK; RCACHE_EINVAL (c NULL).
 * Thread-safety: safe from any thread; calls already running may finish
 *        under the previous mode.
 */
int rcache_set_disabled(rcache_t *c, int disabled);

/** @brief Current limits and default TTL. @param[out] out filled. */
void rcache_get_config(rcache_t *c, rcache_config_t *out);

/**
 * @brief Active expiry: examine up to max_entries entries (and at most 10
 *        empty hash buckets per entry of budget) in the shards that hold
 *        entries with a TTL, resuming where the last call stopped, and
 *        reclaim the expired ones. Sets also do a little of this work;
 *        servers call it from a timer so an idle cache frees expired memory.
 *        Call it again while a large share of what it examined had expired.
 * @return the number of entries reclaimed.
 */
uint64_t rcache_expire_cycle(rcache_t *c, size_t max_entries);

/** @brief Number of entries held now (including expired, unreclaimed). */
uint64_t rcache_count(rcache_t *c);

/* ------------------------------------------------------------------ */
/* Snapshots: save and load in Redis's RDB format                      */
/* ------------------------------------------------------------------ */

/*
 * A snapshot is an RDB file, version 10, as Redis 7.0 writes and reads it
 * (docs/DESIGN.md, "Persistence", has the byte layout):
 *
 *   "REDIS0010", AUX fields (redis-ver, redis-bits, ctime, used-mem,
 *   aof-base, and rcache's own rcache-ver / rcache-keys, which Redis
 *   ignores), SELECTDB 0, RESIZEDB, then one record per entry: optional
 *   EXPIRETIME_MS (absolute ms since the epoch), optional IDLE (seconds
 *   since last access, with keep_metadata), type 0 (string), key, value;
 *   EOF and the CRC-64 (Jones, as Redis).  Values are integer-encoded when
 *   Redis would, LZF-compressed when longer than compress_min_bytes and
 *   compressible, otherwise raw.
 *
 * Saving: the cache is walked one shard at a time; each shard's lock is
 * held only while its entries are listed (a reference is taken on each, so
 * entries removed meanwhile stay readable until written), never while
 * writing.  So the file is NOT one point in time across keys: each entry
 * is written whole, with its own TTL, as it was when its shard was listed.
 * Entries already expired are not written.  Entries are written from least
 * to most recently used (merged over the shards by last-access second), so
 * a load into a smaller cache keeps the most recently used ones.  Object
 * entries are written only through opts->serialize (as strings); without
 * it they are skipped and counted.
 *
 * Times: EXPIRETIME_MS and ctime are wall-clock Unix times, as Redis
 * writes them; the cache clock is converted with rcache_wall_offset_ms()
 * both ways.
 *
 * Loading: string keys of database 0 are stored with rcache_set_ex(),
 * with their absolute expiry (RCACHE_SET_EXPIRE_AT; entries whose
 * EXPIRETIME has passed are skipped and counted) and no expiry for keys
 * that had none (not the cache's default TTL).  Other types (lists,
 * sets, hashes, sorted sets, streams, modules), other databases and
 * empty keys are skipped safely and counted by name; function libraries
 * go to rcache_snapshot_opts_t.function (counted as skipped without one)
 * and are written from its function_codes.  Both limits
 * hold as in any store: what does not fit evicts the least recently used,
 * which are the ones written first.  rcache_snapshot_load() VERIFIES THE
 * WHOLE FILE FIRST (structure, lengths and CRC-64) and stores nothing from
 * a file that fails; rcache_snapshot_load_stream() cannot read twice: it
 * stores each entry as soon as it is decoded whole, so on an error the
 * entries before the error offset stay (each is intact, but the CRC was
 * not checked).
 *
 * Limits: strings (keys and values) longer than max_string_bytes (default
 * 512 MiB, Redis's own) make the file invalid; a key longer than
 * RCACHE_MAX_KEY_LEN or a value whose entry exceeds max_bytes is skipped
 * as too big.  Every length in the file is checked before it is used, and
 * no allocation is larger than the data actually read.
 */

/** Progress callback: counts done so far and the totals (0 when unknown;
 *  bytes_total is 0 for streams).  Called about every 64k entries and
 *  once at the end, on the calling thread, with no lock held.  Return 0
 *  to go on, non-zero to stop with RCACHE_ECANCELED. */
typedef int (*rcache_snapshot_progress_fn)(uint64_t entries_done,
                                           uint64_t entries_total,
                                           uint64_t bytes_done,
                                           uint64_t bytes_total, void *ctx);

/** Serializer for object entries: put a malloc'd byte copy of obj in
 *  *bytes_out (freed by the library with free()) and its length in
 *  *len_out; return 0, or non-zero to skip this entry (counted as
 *  unsupported).  Runs with no lock held, while the library holds a
 *  reference on the entry. */
typedef int (*rcache_snapshot_serialize_fn)(const void *key, size_t key_len,
                                            void *obj, void **bytes_out,
                                            size_t *len_out, void *ctx);

/** Write callback of rcache_snapshot_save_stream(): write all len bytes;
 *  return 0, or a negative value on failure (the save stops: RCACHE_EIO). */
typedef int (*rcache_snapshot_write_fn)(void *ctx, const void *buf,
                                        size_t len);

/** Read callback of rcache_snapshot_load_stream(): read up to cap bytes
 *  into buf; return the count (> 0), 0 at end of input, or a negative
 *  value on failure (RCACHE_EIO). */
typedef long (*rcache_snapshot_read_fn)(void *ctx, void *buf, size_t cap);

/** Options of the snapshot calls.  Initialise with
 *  rcache_snapshot_opts_init(); NULL means the defaults. */
typedef struct rcache_snapshot_opts {
    /** Progress callback (may be NULL) and its context. */
    rcache_snapshot_progress_fn progress;
    void *progress_ctx;
    /** Save: write each entry's idle time (RDB IDLE opcode, which Redis
     *  reads under an LRU policy).  Load: restore the entries' last-access
     *  time from IDLE where present (never earlier than the cache's
     *  opening: entry times are kept relative to it).  Default 0. */
    int keep_metadata;
    /** Save: serializer for object entries (NULL: skip them). */
    rcache_snapshot_serialize_fn serialize;
    void *serialize_ctx;
    /** Save: LZF-compress values longer than this many bytes (default 20,
     *  as Redis); 0 = never compress. */
    size_t compress_min_bytes;
    /** Save to a path: skip fsync of the file and directory (tests and
     *  benchmarks only: a crash may then leave a damaged file). Default 0. */
    int no_fsync;
    /** Load: longest string accepted; longer makes the file invalid.
     *  0 = 512 MiB. */
    uint64_t max_string_bytes;
    /** Save: Redis 7 function libraries to write (RDB FUNCTION2 records,
     *  after the AUX fields, as redis-server 7.0 does): nfunctions codes,
     *  function_codes[i] of function_lens[i] bytes (the library's source,
     *  "#!lua name=..." first line included). The library only reads them
     *  during the call; the caller owns them. Default none (0 / NULL). */
    const char *const *function_codes;
    const size_t *function_lens;
    size_t nfunctions;
    /** Load: called once per FUNCTION2 record with the library's code
     *  (code_len bytes, valid only during the call), in file order, while
     *  the keys load; return 0 to go on, anything else stops the load
     *  with RCACHE_ECANCELED. Not called by rcache_snapshot_verify() or
     *  the checking pass of rcache_snapshot_load(). NULL (default): the
     *  libraries are skipped and counted in skipped_unsupported as
     *  "function". Runs on the loading thread. */
    int (*function)(const void *code, size_t code_len, void *ctx);
    void *function_ctx;
} rcache_snapshot_opts_t;

/** Outcome of a save or a load (every field is filled, also on error). */
typedef struct rcache_snapshot_result {
    uint64_t entries;             /**< entries written / stored */
    uint64_t skipped_expired;     /**< expired: not written / not stored */
    uint64_t skipped_too_big;     /**< load: key or entry over the limits */
    uint64_t skipped_unsupported; /**< save: objects without serializer;
                                       load: other types, dbs, empty keys */
    uint64_t evicted;             /**< load: entries evicted meanwhile
                                       (cache-wide count, so other threads'
                                       stores are included) */
    uint64_t bytes;               /**< file bytes written / read */
    double seconds;               /**< wall time of the call */
    int64_t file_ctime_s;         /**< load: the file's ctime AUX, or -1 */
    int rdb_version;              /**< load: the file's RDB version */
    /** load: the skipped types with counts, e.g. "list=1 hash=2" (empty
     *  when none). */
    char skipped_types[160];
    /** Byte offset of the error in the file (load) or of the write that
     *  failed (save); 0 when no error. */
    uint64_t error_offset;
    /** What went wrong, naming the file and the offset; "" on success. */
    char error[400];
} rcache_snapshot_result_t;

/** @brief Fill opts with the defaults. @param[out] opts the options. */
void rcache_snapshot_opts_init(rcache_snapshot_opts_t *opts);

/**
 * @brief Save the cache to path, crash-safely: written to a temporary file
 *        in the same directory ("<path>.tmp-<pid>-<n>"), fsync'd, renamed
 *        over path, and the directory fsync'd.  A crash, kill -9 or full
 *        disk at any moment leaves the previous file at path intact.
 * @param[in] c cache.
 * @param[in] path destination; its directory must exist.
 * @param[in] opts options; NULL = defaults.
 * @param[out] result outcome; may be NULL.
 * @return RCACHE_OK; RCACHE_EIO (open, write, fsync or rename failed:
 *         ENOSPC, EFBIG, EACCES...; the temporary file is removed);
 *         RCACHE_ECANCELED; RCACHE_ENOMEM; RCACHE_EINVAL (c or path NULL).
 * Thread-safety: thread-safe; other threads keep using the cache (each
 *         shard is locked only while its entries are listed).  A process
 *         that saves should ignore SIGXFSZ so a file-size limit gives EFBIG
 *         instead of killing it.
 */
int rcache_snapshot_save(rcache_t *c, const char *path,
                         const rcache_snapshot_opts_t *opts,
                         rcache_snapshot_result_t *result);

/**
 * @brief Save the cache through a write callback (a pipe, a socket).
 * @return as rcache_snapshot_save(); RCACHE_EIO when write fails.
 * Thread-safety: as rcache_snapshot_save().
 */
int rcache_snapshot_save_stream(rcache_t *c, rcache_snapshot_write_fn write,
                                void *write_ctx,
                                const rcache_snapshot_opts_t *opts,
                                rcache_snapshot_result_t *result);

/**
 * @brief Load an RDB file into the cache (added to what it holds; same
 *        keys are replaced).  The whole file is read and checked first
 *        (magic, version <= 10, every length, CRC-64); only a valid file is
 *        then stored, so a bad one leaves the cache as it was.
 * @param[in] c cache.
 * @param[in] path the file.
 * @param[in] opts options; NULL = defaults.
 * @param[out] result counts and, on error, the offset and reason; may be
 *        NULL.
 * @return RCACHE_OK; RCACHE_EIO (cannot open or read); RCACHE_ECORRUPT
 *         (invalid file; nothing stored); RCACHE_ECANCELED (stopped by the
 *         progress callback: during the check nothing is stored, during
 *         the store what was stored stays); RCACHE_ENOMEM; RCACHE_EINVAL.
 * Thread-safety: thread-safe.
 */
int rcache_snapshot_load(rcache_t *c, const char *path,
                         const rcache_snapshot_opts_t *opts,
                         rcache_snapshot_result_t *result);

/**
 * @brief Load RDB data from a read callback, storing each entry as soon as
 *        it is decoded (see above: on error, what came before stays).
 * @return as rcache_snapshot_load().
 * Thread-safety: thread-safe.
 */
int rcache_snapshot_load_stream(rcache_t *c, rcache_snapshot_read_fn read,
                                void *read_ctx,
                                const rcache_snapshot_opts_t *opts,
                                rcache_snapshot_result_t *result);

/**
 * @brief Check an RDB file without loading it: structure, lengths and
 *        CRC-64.  result->entries counts the string keys it holds.
 * @return RCACHE_OK, RCACHE_EIO, RCACHE_ECORRUPT, RCACHE_ENOMEM,
 *         RCACHE_EINVAL.
 * Thread-safety: pure (touches no cache).
 */
int rcache_snapshot_verify(const char *path, const rcache_snapshot_opts_t *opts,
                           rcache_snapshot_result_t *result);

/* ------------------------------------------------------------------ */
/* Diagnostics: miss-ratio curve, hot keys, census                     */
/* ------------------------------------------------------------------ */

/**
 * @brief The 64-bit hash the cache uses for a key (XXH3); what the
 *        estimators below take as key identity.
 * Thread-safety: pure function.
 */
uint64_t rcache_key_hash(const void *key, size_t key_len);

/** Opaque miss-ratio-curve estimator (SHARDS, fixed-size variant). */
typedef struct rcache_mrc rcache_mrc_t;

/** Default memory bound of an estimator: 2 MiB. */
#define RCACHE_MRC_DEFAULT_MEM_BYTES ((size_t)2 * 1024 * 1024)

/**
 * @brief Create a miss-ratio-curve estimator. It samples keys by hash
 *        (a key is tracked when 24 bits of its hash fall under a threshold)
 *        and computes exact LRU reuse distances among tracked keys; when
 *        more keys than fit in mem_bytes arrive, the threshold is lowered
 *        (fewer keys sampled), so memory never grows after creation.
 * @param[in] mem_bytes memory bound, in bytes, for everything the estimator
 *        allocates; 0 = RCACHE_MRC_DEFAULT_MEM_BYTES. Below ~8 KiB:
 *        RCACHE_EINVAL.
 * @param[in] max_rate starting (largest) sampling rate in (0, 1]; 0 = 1.
 * @param[out] out the estimator; free with rcache_mrc_free().
 * @return RCACHE_OK, RCACHE_EINVAL, RCACHE_ENOMEM.
 */
int rcache_mrc_new(size_t mem_bytes, double max_rate, rcache_mrc_t **out);

/** @brief Free an estimator (NULL is a no-op). Not concurrent with other calls on it. */
void rcache_mrc_free(rcache_mrc_t *m);

/**
 * @brief Count one reference (a lookup) of the key with hash key_hash.
 * @param[in] size_bytes the key's footprint for the curve in bytes; 0 =
 *        keep the size last given for this key (0 if none).
 * Thread-safety: any thread (an internal mutex).
 */
void rcache_mrc_access(rcache_mrc_t *m, uint64_t key_hash, uint64_t size_bytes);

/**
 * @brief Estimated hit ratio, in [0, 1], of an LRU cache holding size_items
 *        entries, over the references seen so far (0 before any).
 */
double rcache_mrc_hit_ratio(rcache_mrc_t *m, uint64_t size_items);

/** @brief Same for an LRU cache bounded to size_bytes bytes. */
double rcache_mrc_hit_ratio_bytes(rcache_mrc_t *m, uint64_t size_bytes);

/** State of an estimator. */
typedef struct rcache_mrc_info {
    uint64_t references;         /**< references in all: rcache_mrc_access()
                                      calls, or what rcache_mrc_set_references()
                                      set (for the cache's own estimator,
                                      which is fed only sampled lookups, the
                                      lookups rcache_diag_mrc() counted) */
    uint64_t sampled_references; /**< references of tracked keys */
    uint32_t tracked_keys;       /**< keys tracked now */
    uint32_t max_tracked_keys;   /**< most keys that fit in the bound */
    double sampling_rate;        /**< current rate, in (0, 1] */
    size_t mem_bytes;            /**< bytes allocated (<= the bound) */
    double weight;               /**< references the samples stand for */
} rcache_mrc_info_t;

/** @brief Fill *out with the estimator's state. Thread-safety: any thread
 *  (every rcache_mrc_* and rcache_topk_* call takes the object's mutex,
 *  except _new and _free). */
void rcache_mrc_info(rcache_mrc_t *m, rcache_mrc_info_t *out);

/**
 * @brief Tell an estimator fed only sampled references (the cache's own)
 *        how many references there were in all, so the SHARDS_adj
 *        correction applies; 0 = unknown (estimates then normalise by the
 *        samples' weight). rcache_mrc_access() counts them itself.
 */
void rcache_mrc_set_references(rcache_mrc_t *m, uint64_t references);

/** @brief Forget the curve (histograms and counts); tracked keys stay. */
void rcache_mrc_reset(rcache_mrc_t *m);

/** Longest key prefix a hot-key counter keeps (longer keys are truncated). */
#define RCACHE_HOTKEY_MAX_KEY 128

/** Opaque top-K sketch (Space-Saving). */
typedef struct rcache_topk rcache_topk_t;

/** One hot key. */
typedef struct rcache_hotkey {
    unsigned char key[RCACHE_HOTKEY_MAX_KEY]; /**< key bytes (not NUL-terminated) */
    size_t key_len;    /**< bytes in key */
    int truncated;     /**< 1: the key was longer than RCACHE_HOTKEY_MAX_KEY */
    uint64_t count;    /**< estimated references (an upper bound) */
    uint64_t error;    /**< count - error is a lower bound */
    uint64_t bytes;    /**< entry footprint last seen on a hit, 0 = unknown */
} rcache_hotkey_t;

/**
 * @brief Create a top-K sketch with k counters (1..65536); memory is fixed
 *        at about k * (RCACHE_HOTKEY_MAX_KEY + 80) bytes. Every key with
 *        more than total/k references holds a counter.
 * @return RCACHE_OK, RCACHE_EINVAL, RCACHE_ENOMEM.
 */
int rcache_topk_new(uint32_t k, rcache_topk_t **out);
/** @brief Free a sketch (NULL is a no-op). */
void rcache_topk_free(rcache_topk_t *t);
/**
 * @brief Count weight references of a key (identified by key_hash; the
 *        bytes are copied for display). bytes 0 keeps the last known size.
 * Thread-safety: any thread (an internal mutex).
 */
void rcache_topk_add(rcache_topk_t *t, const void *key, size_t key_len,
                     uint64_t key_hash, uint64_t bytes, uint64_t weight);
/**
 * @brief The counted keys, most referenced first.
 * @param[out] out up to cap entries. @param[out] total_out references
 *        counted in all (may be NULL).
 * @return the number written.
 */
size_t rcache_topk_list(rcache_topk_t *t, rcache_hotkey_t *out, size_t cap,
                        uint64_t *total_out);
/** @brief Empty the sketch. */
void rcache_topk_reset(rcache_topk_t *t);

/** Options of a cache's diagnostics; initialise with rcache_diag_opts_init(). */
typedef struct rcache_diag_opts {
    size_t mrc_mem_bytes;  /**< MRC memory bound; default 2 MiB */
    double mrc_max_rate;   /**< largest MRC sampling rate, in (0, 1];
                                default 1/256, so about 0.4% of lookups
                                do the estimator's work (the curve of a
                                small cache is then coarse: raise it, as
                                rcached does with 1, when a lookup costs
                                far more than ~100 ns anyway) */
    uint32_t hotkeys_k;    /**< hot-key counters; default 128 */
    uint32_t hotkeys_every;/**< sample 1 hit and 1 miss in this many per
                                shard (rounded up to a power of two;
                                counted, not drawn); default 256 */
} rcache_diag_opts_t;

/** @brief Defaults: 2 MiB, rate 1/256, 128 counters, 1 lookup in 256. */
void rcache_diag_opts_init(rcache_diag_opts_t *o);

/**
 * @brief Turn a cache's diagnostics on or off (off by default; see also
 *        rcache_config_t.diagnostics). When on, every lookup of a sampled
 *        key feeds the miss-ratio-curve estimator (a store of one moves it
 *        to the top of the estimator's LRU stack, without counting a
 *        lookup) and one lookup in hotkeys_every (every hotkeys_every-th hit
 *        and miss of each shard) feeds the hot-key sketch. Cost per lookup,
 *        on or off: two loads and two compares; only sampled lookups do
 *        more (take the estimator's or the sketch's lock). The first enabling allocates the state (opts
 *        apply then; later calls only flip the switch); it is freed by
 *        rcache_close(). Turning it back on after a pause starts the curve
 *        and the hot keys afresh (rcache_diag_reset()).
 * @param[in] opts NULL = defaults.
 * @return RCACHE_OK, RCACHE_EINVAL (bad opts), RCACHE_ENOMEM (stays off).
 */
int rcache_diag_enable_ex(rcache_t *c, int on, const rcache_diag_opts_t *opts);
/** @brief rcache_diag_enable_ex() with default options. */
int rcache_diag_enable(rcache_t *c, int on);
/** @brief 1 when diagnostics are on. */
int rcache_diag_enabled(rcache_t *c);
/** @brief Forget the curve and the hot keys gathered so far. @return RCACHE_OK, RCACHE_EINVAL. */
int rcache_diag_reset(rcache_t *c);

/**
 * @brief The cache's estimator (fed by its lookups), for
 *        rcache_mrc_hit_ratio() and friends; NULL when diagnostics were
 *        never enabled. Owned by the cache, valid until rcache_close().
 *        Each call first sets the estimator's reference total to the
 *        lookups counted since diagnostics were enabled (or reset), from
 *        the cache's statistics; after rcache_stats_reset() the total is
 *        unknown until rcache_diag_reset().
 */
rcache_mrc_t *rcache_diag_mrc(rcache_t *c);

/**
 * @brief The hottest keys from the cache's sketch, most referenced first;
 *        counts are scaled by the sampling (1 in hotkeys_every lookups).
 * @param[out] sampled_total lookups the counts stand for (may be NULL).
 * @return the number written to out (0 when diagnostics were never on).
 */
size_t rcache_diag_hotkeys(rcache_t *c, rcache_hotkey_t *out, size_t cap,
                           uint64_t *sampled_total);

/** Size-histogram buckets: bucket b holds footprints in [2^b, 2^(b+1)). */
#define RCACHE_SIZE_BUCKETS 64
/** Most namespaces a census lists (the biggest by entries; up to 1024
 *  are told apart, the rest are summed as "other"). */
#define RCACHE_NS_MAX 64
/** Longest namespace name kept (longer prefixes are truncated). */
#define RCACHE_NS_NAME_MAX 64

/** Entries and bytes of one key namespace. */
typedef struct rcache_ns_stat {
    char name[RCACHE_NS_NAME_MAX + 1]; /**< prefix before the first ':'
                                            (raw bytes, NUL-terminated) */
    size_t name_len;
    int has_prefix;  /**< 0: keys without ':' (name empty) */
    int truncated;   /**< 1: the prefix was longer than RCACHE_NS_NAME_MAX */
    uint64_t items, bytes;
} rcache_ns_stat_t;

/** What a cache holds, counted entry by entry. */
typedef struct rcache_census {
    uint64_t items, bytes;                  /**< totals (bytes = footprints) */
    uint64_t size_count[RCACHE_SIZE_BUCKETS]; /**< entries per log2 bucket */
    uint64_t size_bytes[RCACHE_SIZE_BUCKETS]; /**< their bytes */
    size_t ns_count;                        /**< namespaces listed */
    rcache_ns_stat_t ns[RCACHE_NS_MAX];     /**< most entries first */
    uint64_t other_items, other_bytes;      /**< namespaces beyond RCACHE_NS_MAX */
} rcache_census_t;

/** @brief The log2 bucket of a footprint (0 for 0 and 1). */
unsigned rcache_size_bucket(uint64_t size_bytes);

/**
 * @brief Count what the cache holds: log2 histogram of entry footprints,
 *        entries and bytes per namespace. Works with diagnostics off. Walks
 *        every entry, one shard lock at a time: exact for each shard, O(n);
 *        for admin pages, not hot paths. Expired, unreclaimed entries count.
 * @param[out] out filled (about 10 KiB; the caller owns it).
 * @return RCACHE_OK, RCACHE_EINVAL, RCACHE_ENOMEM (a 100 KiB scratch table).
 */
int rcache_diag_census(rcache_t *c, rcache_census_t *out);

/* rcache-memo: get-or-compute with single-flight and argument keys.
 * Declarations for that part of the library follow this line. */

/* ------------------------------------------------------------------ */
/* Argument keys                                                       */
/* ------------------------------------------------------------------ */

/*
 * rcache_key_t builds a cache key from a namespace (usually the function
 * name plus a version, e.g. "thumbnail/v2") and typed arguments, so that
 * callers never hand-format keys.  The encoding is unambiguous (distinct
 * argument lists give distinct keys) and stable across versions, compilers
 * and machines.  Format version 1, byte by byte:
 *
 *   key  = ns 0x00 0x01 arg*        ns: the namespace bytes (1..4096, no NUL)
 *                                   0x00 ends the namespace, 0x01 = format v1
 *   arg  = 's' len32 bytes          string (UTF-8 or any bytes)
 *        | 'b' len32 bytes          byte blob (a different type from 's')
 *        | 'i' be64                 int64, two's complement, big-endian
 *        | 'u' be64                 uint64, big-endian
 *        | 'd' be64                 double: IEEE-754 binary64 bits, big-endian;
 *                                   -0.0 is written as +0.0 and every NaN as
 *                                   0x7ff8000000000000
 *        | 'n'                      "no value" (a NULL string)
 *   len32 = uint32 big-endian byte count
 *
 * Tags are the ASCII letters (0x73 0x62 0x69 0x75 0x64 0x6e).  Example:
 * namespace "f", then the string "ab" and the int64 -1 give the 20 bytes
 *   66 00 01 73 00 00 00 02 61 62 69 ff ff ff ff ff ff ff ff
 * Because the namespace comes first and ends with 0x00, every key of one
 * namespace can be removed with rcache_key_invalidate_ns().
 *
 * Errors are sticky: after a failed add, later adds do nothing and
 * rcache_key_finish() returns the first error, so a chain of adds needs
 * one check.  Small keys live inside the struct (no allocation), so an
 * rcache_key_t must not be copied by value (its buffer may point into
 * itself); pass it by pointer.
 *
 * Thread-safety: an rcache_key_t belongs to one thread at a time.
 */

/** Bytes of key kept inside rcache_key_t before it allocates. */
#define RCACHE_KEY_INLINE_BYTES 192
/** Longest namespace accepted, in bytes. */
#define RCACHE_KEY_MAX_NS_LEN 4096u
/** Key format version written after the namespace. */
#define RCACHE_KEY_FORMAT_VERSION 1

/** Argument-key builder. Fields are private; use the functions below. */
typedef struct rcache_key {
    unsigned char *buf; /**< the bytes: inline_buf or a heap block */
    size_t len;         /**< bytes used */
    size_t cap;         /**< bytes available in buf */
    int err;            /**< first error, sticky */
    unsigned char inline_buf[RCACHE_KEY_INLINE_BYTES];
} rcache_key_t;

/**
 * @brief Start a key in namespace ns.
 * @param[out] k the builder (any contents; it is overwritten).
 * @param[in] ns namespace, NUL-terminated, 1..RCACHE_KEY_MAX_NS_LEN bytes.
 * @return RCACHE_OK, or RCACHE_EINVAL (k NULL, ns NULL/empty/too long);
 *         the error is also kept in k (unless k is NULL).
 */
int rcache_key_init(rcache_key_t *k, const char *ns);

/** @brief Add a NUL-terminated string ('s'); NULL adds 'n' (no value).
 *  @return RCACHE_OK, RCACHE_EINVAL, RCACHE_ETOOBIG (key would exceed
 *          RCACHE_MAX_KEY_LEN), RCACHE_ENOMEM, or the earlier sticky error. */
int rcache_key_add_str(rcache_key_t *k, const char *s);
/** @brief Add a string of len bytes ('s'; may hold NUL bytes; s may be NULL
 *  when len is 0). @return as rcache_key_add_str(). */
int rcache_key_add_strn(rcache_key_t *k, const char *s, size_t len);
/** @brief Add a byte blob ('b'); p may be NULL when len is 0.
 *  @return as rcache_key_add_str(). */
int rcache_key_add_bytes(rcache_key_t *k, const void *p, size_t len);
/** @brief Add a signed integer ('i'). @return as rcache_key_add_str(). */
int rcache_key_add_i64(rcache_key_t *k, int64_t v);
/** @brief Add an unsigned integer ('u'). @return as rcache_key_add_str(). */
int rcache_key_add_u64(rcache_key_t *k, uint64_t v);
/** @brief Add a double ('d'), canonicalising -0.0 and NaN.
 *  @return as rcache_key_add_str(). */
int rcache_key_add_double(rcache_key_t *k, double v);
/** @brief Add "no value" ('n'). @return as rcache_key_add_str(). */
int rcache_key_add_null(rcache_key_t *k);

/**
 * @brief Get the finished key bytes.
 * @param[in] k the builder.
 * @param[out] key_out the key; owned by k, valid until the next add or
 *        rcache_key_free() (more adds may follow: finish does not end k).
 * @param[out] key_len_out its length in bytes.
 * @return RCACHE_OK or the first error met while building (then *key_out
 *         is NULL and *key_len_out 0).
 */
int rcache_key_finish(const rcache_key_t *k, const void **key_out,
                      size_t *key_len_out);

/** @brief Free what k allocated (k may be reused after rcache_key_init()).
 *  NULL is a no-op. */
void rcache_key_free(rcache_key_t *k);

/**
 * @brief Remove every entry whose key was built in namespace ns (keys that
 *        start with ns, 0x00, 0x01); glob characters in ns are escaped.
 * @param[out] removed number removed (may be NULL).
 * @return RCACHE_OK, RCACHE_EINVAL (bad ns), RCACHE_ENOMEM.
 */
int rcache_key_invalidate_ns(rcache_t *c, const char *ns, uint64_t *removed);

/* ------------------------------------------------------------------ */
/* Get-or-compute (memoize) with single-flight                         */
/* ------------------------------------------------------------------ */

/*
 * rcache_memoize() returns the cached value of a key, or on a miss runs a
 * compute callback to produce it, stores it and returns it.  However many
 * threads ask for the same missing key at once, the callback runs once: the
 * first caller computes, the others wait (or, with rcache_memoize_async(),
 * leave a completion) and all get the same result.
 *
 * Results are handed out as entry references (rcache_ref_t): read them
 * with rcache_ref_value() / rcache_ref_object() and release each with
 * rcache_release().  A reference stays valid after the entry is evicted or
 * replaced, and also when the result was never stored (cache disabled,
 * entry too big, RCACHE_MEMO_BYPASS, no_store): then the reference is to a
 * private copy of the result that no lookup can find.
 *
 * Locks: the callback and completions run with no lock held, so a callback
 * may use the cache freely (other keys, including other memoized keys).  A
 * callback that asks for its own key on its own thread, directly or through
 * other memoized keys, gets RCACHE_EDEADLK instead of waiting for itself.
 * Two threads whose callbacks wait on each other's keys still deadlock (as
 * with any lock); use wait_timeout_ms to bound such waits.
 *
 * Statistics: every callback run adds 1 to rcache_stats_t.computations;
 * every caller served by a computation another caller ran (its result or
 * its error) adds 1 to singleflight_dedup.  compute_saved_ms (kept by the
 * core) adds the entry's compute time on every hit; rcache_memo_stats()
 * reports also the time waiters were spared.
 */

/** What a compute callback produces.  The cache zeroes it and presets
 *  ttl_ms before calling; the callback sets either the bytes (val, val_len)
 *  or an object (obj non-NULL) and may change ttl_ms / no_store. */
typedef struct rcache_memo_result {
    /** Bytes of the result; copied in by the cache after the callback
     *  returns. May be NULL when val_len is 0. */
    const void *val;
    /** Their length in bytes. */
    size_t val_len;
    /** If not NULL, called once on val after it was copied (e.g. free for
     *  a malloc'd buffer); also called if the store fails. On a callback
     *  error it is not called: the callback cleans up after itself. */
    void (*val_free)(void *val);
    /** Object result (selects the object form when non-NULL). On
     *  RCACHE_OK from the callback the cache owns it and ends it with dtor
     *  exactly once, when the stored entry and every reference are gone
     *  (also when it could not be stored). On a callback error the cache
     *  ignores it. */
    void *obj;
    /** What obj costs against max_bytes. */
    size_t charge_bytes;
    /** obj's destructor (may be NULL) and its context. */
    rcache_destructor_fn dtor;
    void *dtor_ctx;
    /** TTL of the stored result; preset from rcache_memo_opts_t.ttl_ms. */
    int64_t ttl_ms;
    /** Set to 1 to hand the result to the callers without caching it. */
    int no_store;
    /** Tags of the stored result (see "Tags"; NULL with ntags 0: none).
     *  The array and its strings must stay valid until rcache_memoize()
     *  (or the async call's computation) returns; the cache copies them.
     *  Invalid tags (see rcache_set_opts_t) leave the result uncached, as
     *  any failed store does, and the callers still get it. */
    const rcache_tag_t *tags;
    size_t ntags;
} rcache_memo_result_t;

/**
 * Compute callback: produce the value of key into *out.
 * @param[in] key,key_len the key being computed (valid during the call).
 * @param[out] out the result, see rcache_memo_result_t.
 * @param[in] ctx the fn_ctx given to rcache_memoize().
 * @return RCACHE_OK, or a negative code (yours: RCACHE_EUSER or below, or
 *         any RCACHE_E* code) that every caller waiting for this key gets.
 *         A positive return is treated as RCACHE_EINVAL.
 * Runs on the thread of the first caller, with no lock held.
 */
typedef int (*rcache_compute_fn)(const void *key, size_t key_len,
                                 rcache_memo_result_t *out, void *ctx);

/** Completion for rcache_memoize_async(): err is RCACHE_OK with ref set
 *  (the completion owns ref and releases it with rcache_release()), or the
 *  computation's error with ref NULL.  Runs once, on the computing thread,
 *  after the result is stored, with no lock held; it may call the cache. */
typedef void (*rcache_memo_done_fn)(int err, rcache_ref_t *ref, void *ctx);

/** Flag: don't read or write the cache and skip single-flight: just run the
 *  callback (the per-call-site "off" switch; also counted in
 *  computations). */
#define RCACHE_MEMO_BYPASS 0x1u
/** Flag: ignore a cached value and compute again (single-flight still
 *  applies: callers arriving meanwhile share the new computation). */
#define RCACHE_MEMO_REFRESH 0x2u

/** How rcache_memoize() got its result (its how_out parameter). */
#define RCACHE_MEMO_HIT 1      /**< found in the cache */
#define RCACHE_MEMO_COMPUTED 2 /**< this caller ran the callback */
#define RCACHE_MEMO_SHARED 3   /**< another caller's computation served it */
#define RCACHE_MEMO_BYPASSED 4 /**< RCACHE_MEMO_BYPASS: ran, not cached */

/** Options for rcache_memoize(). Initialise with rcache_memo_opts_init(). */
typedef struct rcache_memo_opts {
    /** TTL of stored results: RCACHE_TTL_DEFAULT (default), 0 = no expiry,
     *  > 0 ms. The callback may override it per result. */
    int64_t ttl_ms;
    /** How long a caller waits for another caller's computation: < 0 =
     *  without limit (default), 0 = don't wait (RCACHE_ETIMEDOUT at once),
     *  > 0 ms, measured on CLOCK_MONOTONIC (not the cache clock). */
    int64_t wait_timeout_ms;
    /** Negative caching: 0 = failures are not stored (default); > 0 = a
     *  failing callback's code is stored for this many ms, and callers
     *  get it back without recomputing until it expires. */
    int64_t error_ttl_ms;
    /** RCACHE_MEMO_BYPASS, RCACHE_MEMO_REFRESH, or 0. */
    unsigned flags;
} rcache_memo_opts_t;

/** @brief Fill opts with the defaults: default TTL, wait without limit, no
 *  negative caching, no flags. @param[out] opts the options. */
void rcache_memo_opts_init(rcache_memo_opts_t *opts);

/**
 * @brief Get key's value, computing it with fn on a miss (single-flight).
 *
 * On a hit the entry is returned (a hit in the statistics). On a miss, if
 * no other caller is computing key, this caller runs fn (no lock held),
 * measures how long it took on the cache clock, stores the result with
 * rcache_set_ex()/rcache_set_object() semantics (replacing any entry,
 * compute_ms = the measured time) and hands it to every caller that waited
 * for it.  If another caller is computing key, this one waits for that
 * result (up to opts->wait_timeout_ms).
 *
 * A negatively cached failure (opts->error_ttl_ms) is returned as its code
 * without running fn.  Such an entry is an object entry: plain rcache_get()
 * on the key returns RCACHE_EWRONGTYPE, rcache_get_ref() returns a
 * reference for which rcache_ref_memo_error() gives the code, and it
 * expires on its own TTL like any entry.
 *
 * @param[in] c cache.
 * @param[in] key,key_len key; key_len 1..RCACHE_MAX_KEY_LEN (build it with
 *        rcache_key_t to avoid hand-formatting).
 * @param[in] fn compute callback; NULL = only look up and wait for an
 *        in-flight computation (RCACHE_ENOTFOUND when there is none).
 * @param[in] fn_ctx passed to fn.
 * @param[in] opts options; NULL = rcache_memo_opts_init() defaults.
 * @param[out] ref_out on RCACHE_OK, a reference to the result (bytes or
 *        object); the caller releases it with rcache_release(). NULL on
 *        error.
 * @param[out] how_out if not NULL, receives RCACHE_MEMO_HIT / _COMPUTED /
 *        _SHARED / _BYPASSED on RCACHE_OK (and on the callback's error:
 *        _COMPUTED or _SHARED or _HIT for a negatively cached one).
 * @return RCACHE_OK; the callback's negative code (this caller's, another
 *         caller's for the same key, or a negatively cached one);
 *         RCACHE_ETIMEDOUT (waited opts->wait_timeout_ms; the computation
 *         goes on and its result is still stored); RCACHE_EDEADLK (fn,
 *         on this thread, is already computing key); RCACHE_ENOTFOUND (fn
 *         NULL and nothing cached or in flight); RCACHE_EINVAL (c, key or
 *         ref_out NULL, key_len 0, both RCACHE_MEMO_BYPASS and a NULL
 *         fn); RCACHE_ETOOBIG (key_len above RCACHE_MAX_KEY_LEN);
 *         RCACHE_ENOMEM (also: the cache's single-flight table, made by
 *         the first memoize call on a cache, could not be allocated).
 *         Store failures (RCACHE_ETOOBIG, ...) are not returned: the
 *         result is still handed out, just not cached.
 * Thread-safety: thread-safe; may be called from inside a compute callback
 *         or a completion.
 */
int rcache_memoize(rcache_t *c, const void *key, size_t key_len,
                   rcache_compute_fn fn, void *fn_ctx,
                   const rcache_memo_opts_t *opts, rcache_ref_t **ref_out,
                   int *how_out);

/**
 * @brief rcache_memoize() for byte results, returning a copy.
 * @param[out] val_out a malloc'd copy of the value (caller frees it with
 *        free()); a zero-length value gives a non-NULL 1-byte allocation.
 * @param[out] val_len_out its length (may be NULL).
 * @return as rcache_memoize(), plus RCACHE_EWRONGTYPE when the result is
 *         an object (it is still cached).
 */
int rcache_memoize_copy(rcache_t *c, const void *key, size_t key_len,
                        rcache_compute_fn fn, void *fn_ctx,
                        const rcache_memo_opts_t *opts, void **val_out,
                        size_t *val_len_out);

/**
 * @brief rcache_memoize() with the key given by a builder, which this call
 *        frees (rcache_key_free()) whatever it returns. Used by
 *        RCACHE_MEMOIZE().
 * @return as rcache_memoize(), or the builder's sticky error.
 */
int rcache_memoize_key(rcache_t *c, rcache_key_t *k, rcache_compute_fn fn,
                       void *fn_ctx, const rcache_memo_opts_t *opts,
                       rcache_ref_t **ref_out, int *how_out);

/**
 * @brief Non-blocking get-or-compute for event loops.
 *
 * Like rcache_memoize(), except when another caller is already computing
 * key: then, instead of waiting, done is registered and RCACHE_EAGAIN is
 * returned; done(err, ref, done_ctx) runs later on the computing thread,
 * after the store, with no lock held (a program whose loop is on another
 * thread should hand the result over to it, e.g. through a pipe or an
 * eventfd).  done is never called when this function returns anything but
 * RCACHE_EAGAIN.  On a miss with nothing in flight this caller computes,
 * as in rcache_memoize() (pass fn NULL to get RCACHE_ENOTFOUND instead).
 *
 * @param[in] done completion; not NULL.
 * @param[out] ref_out on RCACHE_OK, the result (release it).
 * @return RCACHE_OK; RCACHE_EAGAIN (done registered); and otherwise as
 *         rcache_memoize() (never RCACHE_ETIMEDOUT).
 * Thread-safety: thread-safe.
 */
int rcache_memoize_async(rcache_t *c, const void *key, size_t key_len,
                         rcache_compute_fn fn, void *fn_ctx,
                         const rcache_memo_opts_t *opts,
                         rcache_memo_done_fn done, void *done_ctx,
                         rcache_ref_t **ref_out);

/**
 * @brief Is ref a negatively cached failure (see rcache_memoize())?
 * @return the stored error code (negative), or 0 for an ordinary entry
 *         (and for NULL).
 * Thread-safety: as the other rcache_ref_* calls (any thread holding ref).
 */
int rcache_ref_memo_error(const rcache_ref_t *ref);

/** @deprecated Old name of rcache_ref_memo_error(), kept for source
 *  compatibility (named like the other rcache_ref_* calls since 0.1). */
__attribute__((deprecated("use rcache_ref_memo_error()"))) static inline int
rcache_memo_ref_error(const rcache_ref_t *ref) {
    return rcache_ref_memo_error(ref);
}

/** Memoize counters of one cache (since open; not reset by
 *  rcache_stats_reset() except the two mirrored in rcache_stats_t). */
typedef struct rcache_memo_stats {
    uint64_t computations;       /**< callbacks run (as rcache_stats_t) */
    uint64_t singleflight_dedup; /**< callers served by another's run */
    uint64_t compute_ms_total;   /**< time spent in callbacks (cache clock) */
    uint64_t dedup_saved_ms;     /**< sum over deduplicated callers of the
                                      computation's time */
    uint64_t errors;             /**< callbacks that failed */
    uint64_t negative_hits;      /**< failures served from negative cache */
    uint64_t timeouts;           /**< waits that gave RCACHE_ETIMEDOUT */
    uint64_t deadlocks;          /**< self-requests refused (EDEADLK) */
    uint64_t in_flight;          /**< computations running now (gauge) */
} rcache_memo_stats_t;

/** @brief Snapshot the memoize counters. @param[out] out filled (zeros if
 *  c is NULL). */
void rcache_memo_stats(rcache_t *c, rcache_memo_stats_t *out);

/* ---- argument-list convenience: RCACHE_MEMOIZE() ------------------- */

/** A byte blob argument for RCACHE_KEY_ARGS() / RCACHE_MEMOIZE(). */
typedef struct rcache_key_blob {
    const void *ptr;
    size_t len;
} rcache_key_blob_t;
/** Make a blob argument. */
#define RCACHE_BLOB(p, n) ((rcache_key_blob_t){(p), (n)})

/* Chainable adders used by the macros: each adds and returns k (errors
 * stay in k). */
static inline rcache_key_t *rcache_key_chain_init(rcache_key_t *k,
                                                  const char *ns) {
    (void)rcache_key_init(k, ns);
    return k;
}
static inline rcache_key_t *rcache_key_chain_str(rcache_key_t *k,
                                                 const char *s) {
    (void)rcache_key_add_str(k, s);
    return k;
}
static inline rcache_key_t *rcache_key_chain_i64(rcache_key_t *k,
                                                 long long v) {
    (void)rcache_key_add_i64(k, (int64_t)v);
    return k;
}
static inline rcache_key_t *rcache_key_chain_u64(rcache_key_t *k,
                                                 unsigned long long v) {
    (void)rcache_key_add_u64(k, (uint64_t)v);
    return k;
}
static inline rcache_key_t *rcache_key_chain_double(rcache_key_t *k,
                                                    double v) {
    (void)rcache_key_add_double(k, v);
    return k;
}
static inline rcache_key_t *rcache_key_chain_blob(rcache_key_t *k,
                                                  rcache_key_blob_t b) {
    (void)rcache_key_add_bytes(k, b.ptr, b.len);
    return k;
}

/** Add one argument to builder pointer k, the adder chosen by its type:
 *  strings ('s'), signed integers ('i'), unsigned integers and _Bool
 *  ('u'), float/double ('d'), RCACHE_BLOB() ('b').  Evaluates to k. */
#define RCACHE_KEY_ARG(k, x)                                               \
    _Generic((x),                                                          \
        char *: rcache_key_chain_str,                                      \
        const char *: rcache_key_chain_str,                                \
        signed char: rcache_key_chain_i64,                                 \
        short: rcache_key_chain_i64,                                       \
        int: rcache_key_chain_i64,                                         \
        long: rcache_key_chain_i64,                                        \
        long long: rcache_key_chain_i64,                                   \
        char: rcache_key_chain_i64,                                        \
        _Bool: rcache_key_chain_u64,                                       \
        unsigned char: rcache_key_chain_u64,                               \
        unsigned short: rcache_key_chain_u64,                              \
        unsigned int: rcache_key_chain_u64,                                \
        unsigned long: rcache_key_chain_u64,                               \
        unsigned long long: rcache_key_chain_u64,                          \
        float: rcache_key_chain_double,                                    \
        double: rcache_key_chain_double,                                   \
        rcache_key_blob_t: rcache_key_chain_blob)((k), (x))

#define RCACHE__KA1(k, a) RCACHE_KEY_ARG(k, a)
#define RCACHE__KA2(k, a, ...) RCACHE__KA1(RCACHE_KEY_ARG(k, a), __VA_ARGS__)
#define RCACHE__KA3(k, a, ...) RCACHE__KA2(RCACHE_KEY_ARG(k, a), __VA_ARGS__)
#define RCACHE__KA4(k, a, ...) RCACHE__KA3(RCACHE_KEY_ARG(k, a), __VA_ARGS__)
#define RCACHE__KA5(k, a, ...) RCACHE__KA4(RCACHE_KEY_ARG(k, a), __VA_ARGS__)
#define RCACHE__KA6(k, a, ...) RCACHE__KA5(RCACHE_KEY_ARG(k, a), __VA_ARGS__)
#define RCACHE__KA7(k, a, ...) RCACHE__KA6(RCACHE_KEY_ARG(k, a), __VA_ARGS__)
#define RCACHE__KA8(k, a, ...) RCACHE__KA7(RCACHE_KEY_ARG(k, a), __VA_ARGS__)
#define RCACHE__KNTH(_1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
#define RCACHE__KCAT(a, b) a##b
#define RCACHE__KSEL(n) RCACHE__KCAT(RCACHE__KA, n)

/**
 * Build a key from a namespace and 1..8 arguments, in a temporary builder
 * that lives until the end of the enclosing block; evaluates to its
 * rcache_key_t *.  Each argument is evaluated once.  Pass the result to
 * rcache_memoize_key() (which frees it) or finish and free it yourself.
 *   rcache_key_t *k = RCACHE_KEY_ARGS("area/v1", "circle", 2.5);
 */
#define RCACHE_KEY_ARGS(ns, ...)                                           \
    RCACHE__KSEL(RCACHE__KNTH(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0))(    \
        rcache_key_chain_init(&(rcache_key_t){.len = 0}, (ns)), __VA_ARGS__)

/**
 * Call a memoized function, with its arguments as the key:
 *   rc = RCACHE_MEMOIZE(cache, &opts, &ref, fn, &args, "ns/v1", a, b, c);
 * is rcache_memoize_key(cache, RCACHE_KEY_ARGS("ns/v1", a, b, c), fn,
 * &args, &opts, &ref, NULL). opts is where the call site's on/off switch
 * lives (RCACHE_MEMO_BYPASS in opts->flags). See examples/memo_files.c.
 */
#define RCACHE_MEMOIZE(c, opts, ref_out, fn, fn_ctx, ns, ...)              \
    rcache_memoize_key((c), RCACHE_KEY_ARGS(ns, __VA_ARGS__), (fn),        \
                       (fn_ctx), (opts), (ref_out), NULL)

#ifdef __cplusplus
}
#endif

#endif /* RCACHE_H */
