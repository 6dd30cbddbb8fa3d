/*
 * debug.h - the test hooks behind the DEBUG command (commands_debug.c),
 * which exists only when rcached starts with `enable-debug-command yes`:
 * a cache clock that tests can freeze and move forward (debug_clock.c),
 * and the active expiry cycle run on demand (expire.c).
 *
 * The debug clock is installed as the cache's rcache_config_t.clock only
 * when the DEBUG command is enabled, so a normal server keeps the library's
 * own real-time clock (and its cheaper coarse path) with no indirection.
 */
#ifndef RCACHE_SERVER_DEBUG_H
#define RCACHE_SERVER_DEBUG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* The clock: CLOCK_MONOTONIC plus an offset (set at init so that it reads
 * ms since the Unix epoch, moved by ADVANCE), or a frozen value. Readers
 * are lock-free; changes are serialised by lock. */
typedef struct rcache__debug_clock {
    pthread_mutex_t lock;      /* serialises freeze/advance/resume */
    _Atomic int64_t offset_ms; /* added to CLOCK_MONOTONIC while running */
    _Atomic uint64_t frozen_ms;/* the time while frozen; 0 = running */
} rcache__debug_clock_t;

void rcache__debug_clock_init(rcache__debug_clock_t *dc);
void rcache__debug_clock_destroy(rcache__debug_clock_t *dc);
/* An rcache_clock_fn: ctx is the rcache__debug_clock_t. Thread-safe. */
uint64_t rcache__debug_clock_now(void *ctx);
/* Stop the clock at at_ms (0 = where it stands now; an earlier time than
 * now is refused with -1, time never runs backwards). *now_ms gets the
 * clock's time afterwards. */
int rcache__debug_clock_freeze(rcache__debug_clock_t *dc, uint64_t at_ms,
                               uint64_t *now_ms);
/* Move the clock forward by delta_ms, frozen or running; the time after. */
uint64_t rcache__debug_clock_advance(rcache__debug_clock_t *dc,
                                     uint64_t delta_ms);
/* Let a frozen clock run again from where it stands; the time after. */
uint64_t rcache__debug_clock_resume(rcache__debug_clock_t *dc);

#endif /* RCACHE_SERVER_DEBUG_H */
