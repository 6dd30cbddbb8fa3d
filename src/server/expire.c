/*
 * expire.c - rcached's active expiry: reclaim expired keys nobody reads.
 *
 * One function runs the cycle, so the main thread's timer (every 100 ms,
 * server.c, with a ~2 ms budget) and DEBUG EXPIRE-CYCLE (commands_debug.c,
 * on demand and without a budget, so tests wait on an explicit event
 * instead of sleeping past the timer) do the same work. DEBUG
 * SET-ACTIVE-EXPIRE 0 stops the timer's part (s->active_expire_off).
 */
#include "command.h"

#include <time.h>

/* Entries examined per library call. */
#define EXPIRE_BATCH 256

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t rcache__server_expire_cycle(rcache__server_t *s, uint64_t budget_us) {
    uint64_t t0 = budget_us ? now_us() : 0, total = 0;
    for (;;) {
        uint64_t n = rcache_expire_cycle(s->cache, EXPIRE_BATCH);
        total += n;
        /* Go on while a good share of what was examined had expired. */
        if (n < EXPIRE_BATCH / 4 || (budget_us && now_us() - t0 > budget_us))
            break;
    }
    return total;
}
