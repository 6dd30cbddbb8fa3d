/*
 * debug_clock.c - the cache clock tests control through DEBUG CLOCK-*
 * (commands_debug.c): the real clock plus an offset, or a frozen time.
 *
 * rcached installs it as the cache's clock (rcache_config_t.clock) only
 * when started with `enable-debug-command yes`; otherwise the library uses
 * its own clock and this file is never called. Like the library's default
 * clock it is CLOCK_MONOTONIC plus an offset that makes it read "ms since
 * the Unix epoch" at start, so a step of the system clock does not move it
 * and it never runs backwards (what rcache_clock_fn requires). Worker
 * threads read the clock concurrently on every cache call, so a read is
 * at most two atomic loads and no lock; the rare changes take a mutex
 * so two clients moving the clock at once do not lose a step. The clock
 * only moves forward: FREEZE at an earlier time is refused and RESUME
 * continues from the frozen time.
 */
#include "debug.h"

#include <time.h>

static uint64_t read_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void rcache__debug_clock_init(rcache__debug_clock_t *dc) {
    pthread_mutex_init(&dc->lock, NULL);
    /* wall time now, then monotonic progress */
    atomic_init(&dc->offset_ms,
                (int64_t)(read_ms(CLOCK_REALTIME) - read_ms(CLOCK_MONOTONIC)));
    atomic_init(&dc->frozen_ms, 0);
}

void rcache__debug_clock_destroy(rcache__debug_clock_t *dc) {
    pthread_mutex_destroy(&dc->lock);
}

uint64_t rcache__debug_clock_now(void *ctx) {
    rcache__debug_clock_t *dc = ctx;
    uint64_t frozen = atomic_load(&dc->frozen_ms);
    if (frozen)
        return frozen;
    return read_ms(CLOCK_MONOTONIC) + (uint64_t)atomic_load(&dc->offset_ms);
}

int rcache__debug_clock_freeze(rcache__debug_clock_t *dc, uint64_t at_ms,
                               uint64_t *now_ms) {
    int rc = 0;
    pthread_mutex_lock(&dc->lock);
    uint64_t now = rcache__debug_clock_now(dc);
    if (at_ms && at_ms < now)
        rc = -1;
    else
        atomic_store(&dc->frozen_ms, at_ms ? at_ms : now);
    *now_ms = rcache__debug_clock_now(dc);
    pthread_mutex_unlock(&dc->lock);
    return rc;
}

uint64_t rcache__debug_clock_advance(rcache__debug_clock_t *dc,
                                     uint64_t delta_ms) {
    pthread_mutex_lock(&dc->lock);
    uint64_t frozen = atomic_load(&dc->frozen_ms);
    if (frozen)
        atomic_store(&dc->frozen_ms, frozen + delta_ms);
    else
        atomic_fetch_add(&dc->offset_ms, (int64_t)delta_ms);
    uint64_t now = rcache__debug_clock_now(dc);
    pthread_mutex_unlock(&dc->lock);
    return now;
}

uint64_t rcache__debug_clock_resume(rcache__debug_clock_t *dc) {
    pthread_mutex_lock(&dc->lock);
    uint64_t frozen = atomic_load(&dc->frozen_ms);
    if (frozen) {
        /* Run on from the frozen time: the offset first, then unfreeze, so
         * a concurrent reader sees either the frozen time or the new one. */
        atomic_store(&dc->offset_ms, (int64_t)(frozen - read_ms(CLOCK_MONOTONIC)));
        atomic_store(&dc->frozen_ms, 0);
    }
    uint64_t now = rcache__debug_clock_now(dc);
    pthread_mutex_unlock(&dc->lock);
    return now;
}
