/*
 * persist.h - rcached's snapshots (persist.c): load dump.rdb at start-up,
 * SAVE, BGSAVE (a background thread), the "save" rules, the snapshot at
 * shutdown, and the figures INFO persistence shows.  The RDB format and
 * its guarantees are the library's (rcache_snapshot_*, include/rcache.h).
 *
 * Threading: the state is guarded by its own mutex; the start-up load,
 * the rules timer and the shutdown save run on the main thread, SAVE on
 * the worker thread of the client that sent it, BGSAVE on its own thread.
 * At most one save runs at a time.  Lock order: the persist lock, then
 * cfg_lock, then the cache's shard locks (never the other way round).
 */
#ifndef RCACHE_SERVER_PERSIST_H
#define RCACHE_SERVER_PERSIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct rcache__server rcache__server_t;

/* Set up the state and, when dir is set, load <dir>/<dbfilename> into
 * s->cache (before any client is accepted), logging progress.  A bad file
 * is renamed to <file>.corrupt-<unix time> and the server starts empty,
 * unless snapshot-required is set.  0, or -1 when the server must not
 * start (dir unusable, or snapshot-required and the load failed). */
int rcache__persist_init(rcache__server_t *s);
/* Start the 1 s timer of the save rules on s->base.  0 or -1. */
int rcache__persist_attach(rcache__server_t *s);
/* After the workers stopped: cancel and join a running BGSAVE, then save
 * if snapshot-on-shutdown (or SHUTDOWN SAVE) asks for it; frees the
 * state.  Returns 0, or -1 if the shutdown save failed (logged). */
int rcache__persist_shutdown(rcache__server_t *s);

/* SHUTDOWN's modifier: 1 SAVE, -1 NOSAVE, 0 as configured. */
void rcache__persist_shutdown_mode(rcache__server_t *s, int mode);
/* SAVE: save now on the calling thread.  0, or -1 with a Redis-style
 * error ("ERR ...") in err. */
int rcache__persist_save_now(rcache__server_t *s, char *err, size_t errlen);
/* BGSAVE [SCHEDULE]: 0 started, 1 scheduled (a save is running and
 * schedule was set), -1 with the error in err. */
int rcache__persist_bgsave(rcache__server_t *s, int schedule, char *err,
                           size_t errlen);
/* DEBUG RELOAD [NOSAVE] [NOFLUSH]: save (unless NOSAVE), check the file
 * whole, empty the cache (unless NOFLUSH) and load the file; the caller
 * holds the exclusive gate so no client runs in between.  A file that
 * fails the check leaves the cache untouched.  0, or -1 with a
 * Redis-style error in err (also when another save runs). */
#define RCACHE__RELOAD_NOSAVE 1
#define RCACHE__RELOAD_NOFLUSH 2
int rcache__persist_reload(rcache__server_t *s, int flags, char *err,
                           size_t errlen);
/* LASTSAVE: Unix time of the last successful save (start time before). */
uint64_t rcache__persist_lastsave(rcache__server_t *s);
/* Hold off saves while the keyspace is in a state no snapshot may hold
 * (SWAPDB's renames): 0 and held (a BGSAVE start then fails with an error,
 * the save-point timer waits), or -1 when a save is running (nothing held;
 * the caller refuses). Release with rcache__persist_release(). Any thread. */
int rcache__persist_hold(rcache__server_t *s);
void rcache__persist_release(rcache__server_t *s);

/* DEBUG SAVE-HOLD: on, a save that has written everything waits before
 * it completes until turned off (or the save is cancelled at shutdown). */
void rcache__persist_debug_hold(rcache__server_t *s, int on);

/* INFO persistence fields ("name:value\r\n" lines) into out. */
void rcache__persist_info(rcache__server_t *s, char *out, size_t cap);

/* For the admin API and metrics: a consistent copy of the figures. */
typedef struct rcache__persist_figures {
    int enabled;                 /* dir set */
    int loading;                 /* start-up load running */
    int bgsave_in_progress;      /* a save is running */
    uint64_t changes_since_save; /* writes since the last save */
    uint64_t last_save_time;     /* Unix s of the last success */
    int last_save_ok;            /* last save's outcome */
    double last_save_seconds;
    uint64_t last_save_keys, last_save_bytes, saves, save_failures;
    int last_load_ok;            /* -1 no load, 0 failed, 1 ok */
    double last_load_seconds;
    uint64_t last_load_keys, last_load_expired, last_load_skipped,
        last_load_bytes;
    char last_error[400];
} rcache__persist_figures_t;
void rcache__persist_figures(rcache__server_t *s,
                             rcache__persist_figures_t *out);

#endif /* RCACHE_SERVER_PERSIST_H */
