/*
 * gate.h - the exclusive-execution gate behind atomic scripts and
 * transactions (gate.c). Every command runs "shared" (many threads at
 * once); EVAL/EVALSHA, EXEC and SCRIPT LOAD|FLUSH|EXISTS run "exclusive":
 * no other command runs on any thread between their start and end, so no
 * other client observes a state between two of their steps.
 *
 * Slots: one per worker thread (its index) and one for the main thread
 * (active expiry; index = number of workers). Thread-safety: enter/leave
 * for a slot only from the thread owning it; the exclusive side from any
 * thread, one holder at a time (others wait; reentrant on the holder's
 * thread).
 */
#ifndef RCACHE_SERVER_GATE_H
#define RCACHE_SERVER_GATE_H

#include <stdint.h>

/* Set up nslots slots (0, or -1 when out of memory). */
int rcache__gate_init(int nslots);
void rcache__gate_free(void);

/* Shared side. 0: entered, call rcache__gate_leave() after the command.
 * RCACHE__GATE_BUSY: a script has run past lua-time-limit and holds the
 * gate; not entered, the caller replies -BUSY. Waits (blocking its
 * thread) while an exclusive holder is within its time limit. On the
 * exclusive holder's own thread (redis.call, queued commands) it enters at
 * once. */
#define RCACHE__GATE_BUSY 1
int rcache__gate_enter(int slot);
void rcache__gate_leave(int slot);

/* Exclusive side: waits until no slot is inside a command. 0, or
 * RCACHE__GATE_BUSY (another holder is a busy script: reply -BUSY). */
int rcache__gate_excl_begin(void);
void rcache__gate_excl_end(void);
/* 1 on a thread holding the exclusive side. */
int rcache__gate_held(void);
/* 1 while the holder is a busy script. */
int rcache__gate_busy(void);
/* The holder marks itself busy (past lua-time-limit: others get BUSY), or
 * no longer busy (the script ended). */
void rcache__gate_set_busy(int busy);

#endif /* RCACHE_SERVER_GATE_H */
