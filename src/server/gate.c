/*
 * gate.c - the exclusive-execution gate (gate.h): atomic EVAL and EXEC on
 * a multi-threaded server.
 *
 * Mechanism: a "big reader" lock made of one cache-line-padded flag per
 * thread (slot) plus one global flag. A thread running an ordinary command
 * sets its own slot flag, then reads the global flag (both sequentially
 * consistent: Dekker's pattern); when the global flag is clear it runs the
 * command and clears its slot. An exclusive holder sets the global flag,
 * then waits until every slot flag is clear. So ordinary commands never
 * touch a shared cache line that others write (cost: one locked store and
 * one load per command, about 20 ns), and only scripts and transactions
 * pay for the stop-the-world: the wait for commands in flight on the other
 * threads to finish.
 *
 * Waiting: threads that find the global flag set wait on a condition
 * variable, waking every 10 ms to see whether the holder has become
 * "busy" (a script past lua-time-limit); then they stop waiting and reply
 * -BUSY, as Redis does, until the script ends or SCRIPT KILL stops it.
 */
#include "gate.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    _Atomic int active;
    char pad[64 - sizeof(int)];
} slot_t;

static struct {
    slot_t *slots;
    int nslots;
    _Atomic int excl;   /* an exclusive holder exists (or is draining) */
    _Atomic int busy;   /* the holder is a script past its time limit */
    pthread_mutex_t m;  /* guards the waits; excl changes under it */
    pthread_cond_t released, drained;
} G = {.m = PTHREAD_MUTEX_INITIALIZER,
       .released = PTHREAD_COND_INITIALIZER,
       .drained = PTHREAD_COND_INITIALIZER};

static _Thread_local int tls_depth; /* exclusive nesting on this thread */

int rcache__gate_init(int nslots) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (size_t)nslots * sizeof(slot_t)) != 0)
        return -1;
    G.slots = p;
    for (int i = 0; i < nslots; i++)
        atomic_init(&G.slots[i].active, 0);
    G.nslots = nslots;
    atomic_store(&G.excl, 0);
    atomic_store(&G.busy, 0);
    return 0;
}

void rcache__gate_free(void) {
    free(G.slots);
    G.slots = NULL;
    G.nslots = 0;
}

static void wait_ms(pthread_cond_t *cv, long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
    }
    int rc = pthread_cond_timedwait(cv, &G.m, &ts);
    (void)rc; /* ETIMEDOUT or a wake-up: the caller re-checks */
}

int rcache__gate_enter(int slot) {
    if (tls_depth > 0 || slot < 0 || slot >= G.nslots)
        return 0;
    _Atomic int *a = &G.slots[slot].active;
    for (;;) {
        atomic_store_explicit(a, 1, memory_order_seq_cst);
        if (!atomic_load_explicit(&G.excl, memory_order_seq_cst))
            return 0;
        atomic_store_explicit(a, 0, memory_order_seq_cst);
        pthread_mutex_lock(&G.m);
        pthread_cond_broadcast(&G.drained);
        while (atomic_load(&G.excl)) {
            if (atomic_load(&G.busy)) {
                pthread_mutex_unlock(&G.m);
                return RCACHE__GATE_BUSY;
            }
            wait_ms(&G.released, 10);
        }
        pthread_mutex_unlock(&G.m);
    }
}

void rcache__gate_leave(int slot) {
    if (tls_depth > 0 || slot < 0 || slot >= G.nslots)
        return;
    atomic_store_explicit(&G.slots[slot].active, 0, memory_order_seq_cst);
    if (atomic_load_explicit(&G.excl, memory_order_relaxed)) {
        pthread_mutex_lock(&G.m);
        pthread_cond_broadcast(&G.drained);
        pthread_mutex_unlock(&G.m);
    }
}

int rcache__gate_excl_begin(void) {
    if (tls_depth > 0) {
        tls_depth++;
        return 0;
    }
    pthread_mutex_lock(&G.m);
    while (atomic_load(&G.excl)) {
        if (atomic_load(&G.busy)) {
            pthread_mutex_unlock(&G.m);
            return RCACHE__GATE_BUSY;
        }
        wait_ms(&G.released, 10);
    }
    atomic_store_explicit(&G.excl, 1, memory_order_seq_cst);
    for (int i = 0; i < G.nslots; i++)
        while (atomic_load_explicit(&G.slots[i].active, memory_order_seq_cst))
            wait_ms(&G.drained, 1);
    pthread_mutex_unlock(&G.m);
    tls_depth = 1;
    return 0;
}

void rcache__gate_excl_end(void) {
    if (tls_depth == 0)
        return;
    if (--tls_depth > 0)
        return;
    pthread_mutex_lock(&G.m);
    atomic_store(&G.busy, 0);
    atomic_store_explicit(&G.excl, 0, memory_order_seq_cst);
    pthread_cond_broadcast(&G.released);
    pthread_mutex_unlock(&G.m);
}

int rcache__gate_held(void) {
    return tls_depth > 0;
}

void rcache__gate_set_busy(int busy) {
    atomic_store(&G.busy, busy);
}

int rcache__gate_busy(void) {
    return atomic_load(&G.busy);
}
