/*
 * watch.c - key version counters behind WATCH (watch.h).
 *
 * Why a hashed table and not per-key state in the library: the library
 * has no per-key hook the server could use without widening its API, and
 * a transaction only needs to know "might the key have changed?". So the
 * dispatcher bumps the counter of each key a write command names (after
 * the command ran), and a WATCH records the counter. Changes that do not
 * go through a command - expiry and eviction - are caught at EXEC by the
 * other half of the check (commands_multi.c): a key that existed at WATCH
 * and no longer exists aborts the transaction.
 *
 * Ordering: a writer runs its command, then (sequentially consistent)
 * reads the number of watchers; a watcher increments that number, then
 * reads the counter and the key. Either the writer sees the watcher and
 * bumps, or the watcher's reads come after the write and see its result.
 * With no watcher a write costs one fence and one load.
 */
#include "watch.h"

#include <stdatomic.h>

#define NSLOTS 16384u

static _Atomic uint32_t versions[NSLOTS];
static _Atomic uint32_t epoch;
static _Atomic long watchers;

static uint32_t slot_of(const void *key, size_t len) {
    const unsigned char *p = key;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h & (NSLOTS - 1);
}

uint64_t rcache__watch_version(const void *key, size_t len) {
    uint64_t e = atomic_load(&epoch);
    return e << 32 | atomic_load(&versions[slot_of(key, len)]);
}

void rcache__watch_watchers(int delta) {
    atomic_fetch_add(&watchers, delta);
}

void rcache__watch_after_write(const rcache__cmd_t *cmd, size_t argc,
                               const rcache__arg_t *argv) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&watchers, memory_order_relaxed) <= 0)
        return;
    if (cmd->first_key <= 0) {
        atomic_fetch_add(&epoch, 1);
        return;
    }
    size_t last = cmd->last_key < 0 ? argc - 1 : (size_t)cmd->last_key;
    size_t step = cmd->step > 0 ? (size_t)cmd->step : 1;
    for (size_t i = (size_t)cmd->first_key; i <= last && i < argc; i += step)
        atomic_fetch_add(&versions[slot_of(argv[i].ptr, argv[i].len)], 1);
}

void rcache__watch_touch(const void *key, size_t len) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&watchers, memory_order_relaxed) > 0)
        atomic_fetch_add(&versions[slot_of(key, len)], 1);
}

void rcache__watch_touch_all(void) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&watchers, memory_order_relaxed) > 0)
        atomic_fetch_add(&epoch, 1);
}
