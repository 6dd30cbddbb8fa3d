/*
 * clock.c - the cache clock: the one place librcache reads time.
 *
 * Every expiry time, TTL and entry timestamp is on the cache clock, in ms.
 * The default cache clock is CLOCK_MONOTONIC plus an offset fixed at
 * rcache_open() (CLOCK_REALTIME - CLOCK_MONOTONIC at that moment): it reads
 * as "ms since the Unix epoch" at open and then advances at the rate of
 * real time, but a step of the system clock (settimeofday, an NTP step, a
 * VM resumed from a snapshot) does not move it, so a step neither expires
 * every entry at once nor keeps them all alive. NTP slewing changes both
 * clocks alike. How far the wall clock has moved away since open is
 * rcache__clock_wall_offset(); the server adds it only where a protocol
 * speaks in wall time (EXPIREAT, EXPIRETIME, the admin API's timestamps).
 *
 * Two readings, with different uses:
 *  - exact (CLOCK_MONOTONIC, ~20 ns in the vDSO): every expiry decision and
 *    every TTL computation. An operation reads it at most once, after it
 *    has taken its shard lock (rcache__op_now), so the time cannot move
 *    between "is it alive?" and "how long has it left?".
 *  - coarse (CLOCK_MONOTONIC_COARSE, the time of the last timer tick):
 *    only access-time stamps (1 s resolution) of operations that needed no
 *    exact reading. It is never ahead of the exact clock; a late tick (VM
 *    steal time) only makes it lag, which at worst leaves an access time a
 *    little old. It never decides expiry, so a late tick can neither keep
 *    an expired entry alive nor expire a live one early.
 *
 * An injected clock (rcache_config_t.clock) is the single source for both
 * readings and is taken to be the wall clock (wall offset 0).
 */
#include "internal.h"

#include <time.h>

#define NS_PER_MS 1000000

static int64_t ts_ns(const struct timespec *ts) {
    return (int64_t)ts->tv_sec * 1000000000 + (int64_t)ts->tv_nsec;
}

static int64_t read_ns(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return ts_ns(&ts);
}

/* ms on the default clock for a CLOCK_MONOTONIC* reading. */
static uint64_t mono_to_ms(const rcache__clock_t *k, int64_t mono_ns) {
    int64_t ns = mono_ns + k->base_ns;
    return ns > 0 ? (uint64_t)ns / NS_PER_MS : 0;
}

void rcache__clock_init(rcache__clock_t *k, rcache_clock_fn fn, void *ctx) {
    k->fn = fn;
    k->ctx = ctx;
    k->base_ns = 0;
    atomic_init(&k->wall_offset_ms, 0);
    if (!fn) {
        int64_t real = read_ns(CLOCK_REALTIME);
        int64_t mono = read_ns(CLOCK_MONOTONIC);
        /* a wall clock before 1970 counts from 0 instead */
        k->base_ns = (real > 0 ? real : 0) - mono;
    }
    k->epoch_ms = rcache__clock_now(k);
}

uint64_t rcache__clock_now(const rcache__clock_t *k) {
    return k->fn ? k->fn(k->ctx) : mono_to_ms(k, read_ns(CLOCK_MONOTONIC));
}

uint64_t rcache__clock_coarse(const rcache__clock_t *k) {
    return k->fn ? k->fn(k->ctx)
                 : mono_to_ms(k, read_ns(CLOCK_MONOTONIC_COARSE));
}

int64_t rcache__clock_wall_offset(rcache__clock_t *k) {
    if (k->fn)
        return 0;
    int64_t real = read_ns(CLOCK_REALTIME);
    int64_t mono = read_ns(CLOCK_MONOTONIC);
    int64_t step_ns = real - mono - k->base_ns; /* how far the wall clock moved */
    int64_t cur = atomic_load_explicit(&k->wall_offset_ms, memory_order_relaxed);
    /* The two readings are a few ns apart, so step_ns jitters around its
     * true value; keep the last answer unless the wall clock really moved
     * (by more than 1 ms), so that converting a time to the cache clock and
     * back gives the same ms (PEXPIREAT then PEXPIRETIME). */
    if (step_ns - cur * NS_PER_MS > NS_PER_MS ||
        cur * NS_PER_MS - step_ns > NS_PER_MS) {
        cur = (step_ns + (step_ns < 0 ? -NS_PER_MS / 2 : NS_PER_MS / 2)) /
              NS_PER_MS;
        atomic_store_explicit(&k->wall_offset_ms, cur, memory_order_relaxed);
    }
    return cur;
}

uint32_t rcache__clock_rel_s(const rcache__clock_t *k, uint64_t now_ms) {
    uint64_t d = now_ms > k->epoch_ms ? (now_ms - k->epoch_ms) / 1000u : 0;
    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

uint64_t rcache__clock_abs_ms(const rcache__clock_t *k, uint32_t rel_s) {
    return k->epoch_ms + (uint64_t)rel_s * 1000u;
}

uint64_t rcache__op_now(const rcache_t *c, rcache__optime_t *t) {
    if (t->state != RCACHE__T_EXACT) {
        t->ms = rcache__clock_now(&c->clock);
        t->state = RCACHE__T_EXACT;
    }
    return t->ms;
}

uint64_t rcache__op_stamp(const rcache_t *c, rcache__optime_t *t) {
    if (t->state == RCACHE__T_NONE) {
        t->ms = rcache__clock_coarse(&c->clock);
        /* an injected clock has one reading: it is the exact one */
        t->state = c->clock.fn ? RCACHE__T_EXACT : RCACHE__T_COARSE;
    }
    return t->ms;
}

uint64_t rcache__add_ms(uint64_t now, uint64_t ms) {
    if (now >= RCACHE__TIME_MAX || ms >= RCACHE__TIME_MAX - now)
        return RCACHE__TIME_MAX;
    return now + ms;
}

int64_t rcache__ttl_left(const rcache__entry_t *e, uint64_t now) {
    if (!e->expire_at_ms)
        return -1;
    if (now >= e->expire_at_ms)
        return 0;
    uint64_t left = e->expire_at_ms - now;
    return left > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)left;
}

uint64_t rcache_now_ms(const rcache_t *c) {
    return c ? rcache__clock_now(&c->clock) : 0;
}

int64_t rcache_wall_offset_ms(rcache_t *c) {
    return c ? rcache__clock_wall_offset(&c->clock) : 0;
}
