/*
 * persist.c - rcached's snapshots: the start-up load, SAVE, BGSAVE, the
 * "save" rules, the shutdown snapshot and the INFO persistence figures.
 *
 * The file is <dir>/<dbfilename> in Redis's RDB format, written and read
 * by the library (rcache_snapshot_save/load: temporary file, fsync,
 * rename, directory fsync; a bad file is refused whole).  Where Redis
 * forks, rcached saves from a thread: the library locks one shard at a
 * time, only while listing it, so clients keep being served; the file is
 * therefore not one point in time across keys (each key is whole, with its
 * own TTL).  "Changes since the last save" are the cache's stores plus
 * deletions (rcache_stats_t.sets + deletes) since then.
 *
 * Redis 7 function libraries go into the file as Redis 7.0 writes them
 * (one RDB FUNCTION2 record per library: its code), from the copy
 * functions.c publishes at each change; loading (at start-up and DEBUG
 * RELOAD) replaces the loaded libraries with the file's, as FUNCTION
 * RESTORE FLUSH would.
 */
#include "persist.h"

#include "command.h"
#include "functions.h"
#include "gate.h"

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RETRY_AFTER_FAILURE_S 5 /* as Redis's CONFIG_BGSAVE_RETRY_DELAY */

struct rcache__persist {
    pthread_mutex_t lock;  /* everything below */
    int saving;            /* a SAVE or BGSAVE is running */
    int bg_joinable;       /* bg thread started and not joined */
    pthread_t bg;
    int scheduled;         /* BGSAVE SCHEDULE pending */
    int shutdown_mode;     /* 1 SAVE, -1 NOSAVE, 0 as configured */
    int held;              /* saves held off (SWAPDB renaming keys) */
    _Atomic int debug_hold; /* DEBUG SAVE-HOLD: a save waits at its end */
    _Atomic int cancel;    /* ask a running save to stop */
    _Atomic int loading;
    _Atomic uint64_t cur_done, cur_total;
    uint64_t changes_base; /* sets + deletes at the last success */
    uint64_t save_started_s, last_try_s;
    rcache__persist_figures_t f;
    struct event *cron;
};

static uint64_t wall_s(void) { return rcache__wall_ms() / 1000u; }

static uint64_t change_count(rcache__server_t *s) {
    rcache_stats_t st;
    rcache_stats(s->cache, &st);
    return st.sets + st.deletes;
}

/* "<dir>/<dbfilename>" from the live settings; 0, or -1 if dir unset. */
static int snapshot_path(rcache__server_t *s, char *out, size_t cap) {
    int rc = -1;
    pthread_mutex_lock(&s->cfg_lock);
    if (s->cfg.dir) {
        snprintf(out, cap, "%s/%s", s->cfg.dir,
                 s->cfg.dbfilename ? s->cfg.dbfilename : "dump.rdb");
        rc = 0;
    }
    pthread_mutex_unlock(&s->cfg_lock);
    return rc;
}

/* ---- saving ----------------------------------------------------------- */

static int save_progress(uint64_t done, uint64_t total, uint64_t bytes,
                         uint64_t bytes_total, void *ctx) {
    struct rcache__persist *p = ctx;
    (void)bytes;
    atomic_store(&p->cur_done, done);
    atomic_store(&p->cur_total, total);
    /* Test hook: keep a finished save "in progress" until released, so a
     * test can act while one runs without depending on its speed. */
    while (bytes_total != 0 && atomic_load(&p->debug_hold) && !atomic_load(&p->cancel)) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return atomic_load(&p->cancel);
}

void rcache__persist_debug_hold(rcache__server_t *s, int on) {
    if (s->persist)
        atomic_store(&s->persist->debug_hold, on);
}

/* Run one save (the caller set p->saving); records the outcome. */
static int do_save(rcache__server_t *s, const char *who) {
    struct rcache__persist *p = s->persist;
    rcache_snapshot_opts_t o;
    rcache_snapshot_result_t res;
    char path[4200];
    uint64_t base = change_count(s);
    int rc;
    if (snapshot_path(s, path, sizeof path) != 0) {
        snprintf(res.error, sizeof res.error, "no snapshot directory (dir)");
        rc = RCACHE_EINVAL;
    } else {
        char **codes = NULL;
        size_t *lens = NULL, n = 0;
        rcache_snapshot_opts_init(&o);
        o.progress = save_progress;
        o.progress_ctx = p;
        if (rcache__functions_codes(&codes, &lens, &n) != 0) {
            snprintf(res.error, sizeof res.error, "out of memory copying the function libraries");
            rc = RCACHE_ENOMEM;
        } else {
            o.function_codes = (const char *const *)codes;
            o.function_lens = lens;
            o.nfunctions = n;
            rc = rcache_snapshot_save(s->cache, path, &o, &res);
        }
        rcache__functions_codes_free(codes, lens, n);
    }
    pthread_mutex_lock(&p->lock);
    p->f.last_save_ok = rc == RCACHE_OK;
    p->last_try_s = wall_s();
    if (rc == RCACHE_OK) {
        p->changes_base = base;
        p->f.last_save_time = wall_s();
        p->f.last_save_seconds = res.seconds;
        p->f.last_save_keys = res.entries;
        p->f.last_save_bytes = res.bytes;
        p->f.saves++;
        p->f.last_error[0] = '\0';
    } else {
        p->f.save_failures++;
        snprintf(p->f.last_error, sizeof p->f.last_error, "%s", res.error);
    }
    pthread_mutex_unlock(&p->lock);
    if (rc == RCACHE_OK)
        rcache__log(RCACHE__LOG_NOTICE,
                    "%s: DB saved on disk (%llu keys, %llu bytes, %.3f s)", who,
                    (unsigned long long)res.entries,
                    (unsigned long long)res.bytes, res.seconds);
    else
        rcache__log(RCACHE__LOG_WARNING, "%s: snapshot failed: %s", who,
                    res.error[0] ? res.error : rcache_strerror(rc));
    return rc;
}

static void *bg_main(void *arg) {
    rcache__server_t *s = arg;
    sigset_t all;
    sigfillset(&all); /* signals go to the main thread */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    /* Lower this thread's priority (Linux: nice is per thread) so that on a
     * busy machine the workers serving clients win the CPU over the save. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
        rcache__log(RCACHE__LOG_VERBOSE, "BGSAVE: cannot lower its priority");
    do_save(s, "Background saving");
    pthread_mutex_lock(&s->persist->lock);
    s->persist->saving = 0;
    pthread_mutex_unlock(&s->persist->lock);
    return NULL;
}

/* Join a finished background thread (p->lock held). */
static void reap_locked(struct rcache__persist *p) {
    if (p->bg_joinable && !p->saving) {
        pthread_join(p->bg, NULL);
        p->bg_joinable = 0;
    }
}

/* Start a BGSAVE (p->lock held, nothing running). 0 or -1. */
static int start_bg_locked(rcache__server_t *s, char *err, size_t errlen) {
    struct rcache__persist *p = s->persist;
    reap_locked(p);
    if (p->held) { /* a half-swapped keyspace must never be saved */
        snprintf(err, errlen, "ERR a SWAPDB is renaming keys; try the save again");
        return -1;
    }
    p->saving = 1;
    p->scheduled = 0;
    atomic_store(&p->cancel, 0);
    atomic_store(&p->cur_done, 0);
    atomic_store(&p->cur_total, 0);
    p->save_started_s = wall_s();
    if (pthread_create(&p->bg, NULL, bg_main, s) != 0) {
        p->saving = 0;
        snprintf(err, errlen, "ERR cannot start the background save thread");
        return -1;
    }
    p->bg_joinable = 1;
    rcache__log(RCACHE__LOG_NOTICE, "Background saving started");
    return 0;
}

/* The persistence state if snapshots are on (a snapshot directory is
 * set); else NULL with the error reply in err. (The path itself is only
 * probed: a save reads the settings again.) */
static struct rcache__persist *snapshots_on(rcache__server_t *s, char *err,
                                            size_t errlen) {
    char path[16];
    if (!s->persist || snapshot_path(s, path, sizeof path) != 0) {
        snprintf(err, errlen,
                 "ERR snapshots are off: no snapshot directory (CONFIG SET "
                 "dir <path>)");
        return NULL;
    }
    return s->persist;
}

int rcache__persist_bgsave(rcache__server_t *s, int schedule, char *err,
                           size_t errlen) {
    struct rcache__persist *p = snapshots_on(s, err, errlen);
    int rc;
    if (!p)
        return -1;
    pthread_mutex_lock(&p->lock);
    if (p->saving) {
        rc = schedule ? 1 : -1;
        if (schedule)
            p->scheduled = 1;
        else
            snprintf(err, errlen, "ERR Background save already in progress");
    } else {
        rc = start_bg_locked(s, err, errlen);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int rcache__persist_save_now(rcache__server_t *s, char *err, size_t errlen) {
    struct rcache__persist *p = snapshots_on(s, err, errlen);
    int rc;
    if (!p)
        return -1;
    pthread_mutex_lock(&p->lock);
    if (p->saving) {
        pthread_mutex_unlock(&p->lock);
        snprintf(err, errlen, "ERR Background save already in progress");
        return -1;
    }
    p->saving = 1;
    p->save_started_s = wall_s();
    atomic_store(&p->cancel, 0);
    pthread_mutex_unlock(&p->lock);
    rc = do_save(s, "SAVE");
    pthread_mutex_lock(&p->lock);
    p->saving = 0;
    pthread_mutex_unlock(&p->lock);
    if (rc != RCACHE_OK) {
        snprintf(err, errlen, "ERR %s", p->f.last_error);
        return -1;
    }
    return 0;
}

/* ---- the save rules (main thread, every second) ----------------------- */

static int rules_due(rcache__server_t *s, uint64_t now) {
    struct rcache__persist *p = s->persist;
    rcache__save_rule_t rules[RCACHE__MAX_SAVE_RULES];
    size_t n = 0;
    uint64_t changes, cur = change_count(s);
    pthread_mutex_lock(&s->cfg_lock);
    int ok = s->cfg.dir && rcache__config_parse_save(s->cfg.save, rules, &n) == 0;
    pthread_mutex_unlock(&s->cfg_lock);
    if (!ok)
        return 0;
    if (cur < p->changes_base) /* CONFIG RESETSTAT zeroed the counters */
        p->changes_base = 0;
    changes = cur - p->changes_base;
    if (!p->f.last_save_ok && now - p->last_try_s < RETRY_AFTER_FAILURE_S)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (changes >= rules[i].changes && changes > 0 &&
            now - p->f.last_save_time >= rules[i].seconds)
            return 1;
    return 0;
}

static void on_cron(evutil_socket_t fd, short what, void *arg) {
    rcache__server_t *s = arg;
    struct rcache__persist *p = s->persist;
    char err[128];
    (void)fd;
    (void)what;
    pthread_mutex_lock(&p->lock);
    reap_locked(p);
    int start = !p->saving && !p->held && (p->scheduled || rules_due(s, wall_s()));
    if (start && start_bg_locked(s, err, sizeof err) != 0)
        rcache__log(RCACHE__LOG_WARNING, "%s", err);
    pthread_mutex_unlock(&p->lock);
}

int rcache__persist_hold(rcache__server_t *s) {
    struct rcache__persist *p = s->persist;
    if (!p)
        return 0;
    pthread_mutex_lock(&p->lock);
    int rc = p->saving ? -1 : 0;
    if (rc == 0)
        p->held = 1;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void rcache__persist_release(rcache__server_t *s) {
    struct rcache__persist *p = s->persist;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->held = 0;
    pthread_mutex_unlock(&p->lock);
}

int rcache__persist_attach(rcache__server_t *s) {
    struct timeval one = {1, 0};
    s->persist->cron = event_new(s->base, -1, EV_PERSIST, on_cron, s);
    if (!s->persist->cron || event_add(s->persist->cron, &one) != 0)
        return -1;
    return 0;
}

void rcache__persist_shutdown_mode(rcache__server_t *s, int mode) {
    if (!s->persist)
        return;
    pthread_mutex_lock(&s->persist->lock);
    s->persist->shutdown_mode = mode;
    pthread_mutex_unlock(&s->persist->lock);
}

int rcache__persist_shutdown(rcache__server_t *s) {
    struct rcache__persist *p = s->persist;
    int rc = 0, want;
    if (!p)
        return 0;
    if (p->cron)
        event_free(p->cron);
    pthread_mutex_lock(&p->lock);
    if (p->saving)
        atomic_store(&p->cancel, 1); /* the shutdown save replaces it */
    pthread_mutex_unlock(&p->lock);
    if (p->bg_joinable)
        pthread_join(p->bg, NULL);
    pthread_mutex_lock(&s->cfg_lock);
    want = s->cfg.dir && p->shutdown_mode >= 0 &&
           (s->cfg.snapshot_on_shutdown || p->shutdown_mode > 0);
    pthread_mutex_unlock(&s->cfg_lock);
    if (want) {
        rcache__log(RCACHE__LOG_NOTICE, "Saving the final RDB snapshot before exiting.");
        atomic_store(&p->cancel, 0);
        rc = do_save(s, "Shutdown") == RCACHE_OK ? 0 : -1;
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
    s->persist = NULL;
    return rc;
}

/* ---- start-up load ---------------------------------------------------- */

typedef struct load_log {
    uint64_t t0_ms, last_ms;
} load_log_t;

static int load_progress(uint64_t done, uint64_t total, uint64_t bytes,
                         uint64_t bytes_total, void *ctx) {
    load_log_t *l = ctx;
    uint64_t now = rcache__mono_ms();
    unsigned pct = bytes_total ? (unsigned)(bytes * 100 / bytes_total) : 0;
    double secs = (double)(now - l->t0_ms) / 1000.0;
    if (now - l->last_ms < 1000 && done != total)
        return 0;
    l->last_ms = now;
    if (total == 0)
        rcache__log(RCACHE__LOG_NOTICE, "Checking the snapshot: %u%% of %llu bytes",
                    pct, (unsigned long long)bytes_total);
    else
        rcache__log(RCACHE__LOG_NOTICE,
                    "Loading the snapshot: %u%%, %llu of %llu keys, %.0f keys/s",
                    pct, (unsigned long long)done, (unsigned long long)total,
                    secs > 0 ? (double)done / secs : 0.0);
    return 0;
}

/* Keep a bad file as <path>.corrupt-<unix time> so no save overwrites it. */
static void keep_bad_file(const char *path) {
    char bad[4300];
    snprintf(bad, sizeof bad, "%s.corrupt-%llu", path,
             (unsigned long long)wall_s());
    if (rename(path, bad) == 0)
        rcache__log(RCACHE__LOG_WARNING, "The bad snapshot was kept as %s", bad);
    else
        rcache__log(RCACHE__LOG_WARNING, "Cannot rename the bad snapshot to %s: %s",
                    bad, strerror(errno));
}

/* Remove "<dbfilename>.tmp-<pid>-<n>" files left by a process that no
 * longer runs (a kill -9 or crash during a save); a live process's file
 * (another rcached on the same dir) is left alone. */
static void remove_stale_temps(const char *dir, const char *base) {
    DIR *dp = opendir(dir);
    struct dirent *de;
    size_t blen = strlen(base);
    if (!dp)
        return;
    while ((de = readdir(dp)) != NULL) {
        char full[4200], *end;
        long pid;
        if (strncmp(de->d_name, base, blen) != 0 ||
            strncmp(de->d_name + blen, ".tmp-", 5) != 0)
            continue;
        pid = strtol(de->d_name + blen + 5, &end, 10);
        if (pid <= 0 || *end != '-' || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
        if (unlink(full) == 0)
            rcache__log(RCACHE__LOG_NOTICE,
                        "Removed %s, left by an interrupted save", full);
    }
    closedir(dp);
}

/* Record a load's outcome in the figures and log it, each line starting
 * with who ("" at start-up). */
static void record_load(rcache__server_t *s, const char *who, int rc,
                        const rcache_snapshot_result_t *res) {
    struct rcache__persist *p = s->persist;
    pthread_mutex_lock(&p->lock);
    p->f.last_load_ok = rc == RCACHE_OK;
    p->f.last_load_seconds = res->seconds;
    p->f.last_load_keys = res->entries;
    p->f.last_load_expired = res->skipped_expired;
    p->f.last_load_skipped = res->skipped_too_big + res->skipped_unsupported;
    p->f.last_load_bytes = res->bytes;
    if (rc != RCACHE_OK)
        snprintf(p->f.last_error, sizeof p->f.last_error, "%s", res->error);
    pthread_mutex_unlock(&p->lock);
    if (rc != RCACHE_OK) {
        rcache__log(RCACHE__LOG_WARNING, "%sCannot load the snapshot: %s", who,
                    res->error[0] ? res->error : rcache_strerror(rc));
        return;
    }
    rcache__log(RCACHE__LOG_NOTICE,
                "%sDB loaded from disk: %.3f seconds, %llu keys loaded, %llu "
                "expired, %llu too big, %llu of other types%s%s%s, %llu "
                "evicted to fit",
                who, res->seconds, (unsigned long long)res->entries,
                (unsigned long long)res->skipped_expired,
                (unsigned long long)res->skipped_too_big,
                (unsigned long long)res->skipped_unsupported,
                res->skipped_types[0] ? " (" : "", res->skipped_types,
                res->skipped_types[0] ? ")" : "", (unsigned long long)res->evicted);
    if (res->skipped_unsupported)
        rcache__log(RCACHE__LOG_WARNING,
                    "The snapshot holds keys rcached cannot keep (%s): "
                    "they were skipped", res->skipped_types);
}

/* ---- function libraries ----------------------------------------------- */

/* The libraries a load met, kept until the keys are in. */
typedef struct fn_list {
    char **codes;
    size_t *lens;
    size_t n, cap;
} fn_list_t;

/* rcache_snapshot_opts_t.function: keep a copy. 0, or 1 (out of memory:
 * the load stops rather than lose a library silently). */
static int keep_function(const void *code, size_t len, void *ctx) {
    fn_list_t *f = ctx;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        char **c = realloc(f->codes, cap * sizeof *c);
        if (!c)
            return 1;
        f->codes = c;
        size_t *l = realloc(f->lens, cap * sizeof *l);
        if (!l)
            return 1;
        f->lens = l;
        f->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return 1;
    memcpy(copy, code, len);
    f->codes[f->n] = copy;
    f->lens[f->n++] = len;
    return 0;
}

/* Make the loaded libraries those of the file (who: "" or "DEBUG RELOAD: "
 * for the log). The caller holds the exclusive gate, or no thread serves
 * clients yet. A library the engine refuses is logged, not fatal. */
static void install_functions(fn_list_t *f, const char *who) {
    rcache__client_t fake;
    memset(&fake, 0, sizeof fake);
    fake.out = evbuffer_new();
    if (!fake.out) {
        rcache__log(RCACHE__LOG_WARNING, "%sfunction libraries not loaded: out of memory", who);
    } else if (rcache__functions_restore(&fake, f->codes, f->lens, f->n, 'F') != 0) {
        size_t len = evbuffer_get_length(fake.out);
        const char *e = len ? (const char *)evbuffer_pullup(fake.out, -1) : NULL;
        rcache__log(RCACHE__LOG_WARNING, "%sfunction libraries not loaded: %.*s", who,
                    e && len > 3 ? (int)len - 3 : 0, e ? e + 1 : "");
    } else if (f->n) {
        rcache__log(RCACHE__LOG_NOTICE, "%s%zu function libraries loaded", who, f->n);
    }
    if (fake.out)
        evbuffer_free(fake.out);
    rcache__functions_codes_free(f->codes, f->lens, f->n);
    memset(f, 0, sizeof *f);
}

static int load_at_start(rcache__server_t *s, const char *path) {
    struct rcache__persist *p = s->persist;
    rcache_snapshot_opts_t o;
    rcache_snapshot_result_t res;
    load_log_t l = {rcache__mono_ms(), rcache__mono_ms()};
    struct stat st;
    int rc;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        rcache__log(RCACHE__LOG_NOTICE, "No snapshot at %s: starting empty", path);
        return 0;
    }
    rcache__log(RCACHE__LOG_NOTICE, "Loading the snapshot %s (%llu bytes)", path,
                (unsigned long long)st.st_size);
    fn_list_t fns = {0};
    rcache_snapshot_opts_init(&o);
    o.progress = load_progress;
    o.progress_ctx = &l;
    o.function = keep_function;
    o.function_ctx = &fns;
    atomic_store(&p->loading, 1);
    rc = rcache_snapshot_load(s->cache, path, &o, &res);
    atomic_store(&p->loading, 0);
    record_load(s, "", rc, &res);
    if (rc == RCACHE_OK) {
        install_functions(&fns, "");
        return 0;
    }
    rcache__functions_codes_free(fns.codes, fns.lens, fns.n);
    if (s->cfg.snapshot_required) {
        rcache__log(RCACHE__LOG_WARNING,
                    "snapshot-required is set: refusing to start");
        return -1;
    }
    if (rc == RCACHE_ECORRUPT)
        keep_bad_file(path);
    rcache__log(RCACHE__LOG_WARNING, "Starting with an empty cache");
    return 0;
}

/* ---- DEBUG RELOAD ----------------------------------------------------- */

/* Save (unless NOSAVE), check the file, empty the cache (unless NOFLUSH)
 * and load the file (p->saving held by the caller). 0 or -1 with err. */
static int reload_steps(rcache__server_t *s, int flags, const char *path,
                             char *err, size_t errlen) {
    rcache_snapshot_result_t res;
    int rc;
    if (!(flags & RCACHE__RELOAD_NOSAVE) && do_save(s, "DEBUG RELOAD") != RCACHE_OK) {
        snprintf(err, errlen, "ERR Error trying to save the DB: %s",
                 s->persist->f.last_error);
        return -1;
    }
    /* Checked before anything is removed: a bad file leaves the cache
     * as it was. */
    rc = rcache_snapshot_verify(path, NULL, &res);
    fn_list_t fns = {0};
    if (rc == RCACHE_OK) {
        rcache_snapshot_opts_t o;
        rcache_snapshot_opts_init(&o);
        o.function = keep_function;
        o.function_ctx = &fns;
        if (!(flags & RCACHE__RELOAD_NOFLUSH))
            rcache_clear(s->cache, NULL);
        atomic_store(&s->persist->loading, 1);
        rc = rcache_snapshot_load(s->cache, path, &o, &res);
        atomic_store(&s->persist->loading, 0);
    }
    record_load(s, "DEBUG RELOAD: ", rc, &res);
    if (rc == RCACHE_OK && rcache__gate_excl_begin() == 0) {
        install_functions(&fns, "DEBUG RELOAD: ");
        rcache__gate_excl_end();
    }
    rcache__functions_codes_free(fns.codes, fns.lens, fns.n);
    if (rc != RCACHE_OK) {
        snprintf(err, errlen, "ERR Error trying to load the RDB dump: %s",
                 res.error[0] ? res.error : rcache_strerror(rc));
        return -1;
    }
    return 0;
}

int rcache__persist_reload(rcache__server_t *s, int flags, char *err,
                           size_t errlen) {
    struct rcache__persist *p = snapshots_on(s, err, errlen);
    char path[4200];
    int rc;
    if (!p || snapshot_path(s, path, sizeof path) != 0)
        return -1;
    pthread_mutex_lock(&p->lock);
    if (p->saving) {
        pthread_mutex_unlock(&p->lock);
        snprintf(err, errlen, "ERR Background save already in progress");
        return -1;
    }
    p->saving = 1;
    p->save_started_s = wall_s();
    atomic_store(&p->cancel, 0);
    pthread_mutex_unlock(&p->lock);
    rc = reload_steps(s, flags, path, err, errlen);
    pthread_mutex_lock(&p->lock);
    p->saving = 0;
    if (rc == 0) /* the cache now holds what the file holds */
        p->changes_base = change_count(s);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int rcache__persist_init(rcache__server_t *s) {
    struct rcache__persist *p = calloc(1, sizeof *p);
    char path[4200];
    struct stat st;
    if (!p)
        return -1;
    pthread_mutex_init(&p->lock, NULL);
    p->f.last_save_time = s->start_ms / 1000u; /* as Redis: start time */
    p->f.last_save_ok = 1;
    p->f.last_load_ok = -1;
    s->persist = p;
    /* A save must fail with EFBIG, not kill the server, at a file-size
     * limit. */
    signal(SIGXFSZ, SIG_IGN);
    if (snapshot_path(s, path, sizeof path) != 0)
        return 0; /* persistence off */
    if (stat(s->cfg.dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rcache__log(RCACHE__LOG_WARNING, "Can't use the snapshot directory '%s': %s",
                    s->cfg.dir, errno ? strerror(errno) : "not a directory");
        return -1;
    }
    remove_stale_temps(s->cfg.dir, s->cfg.dbfilename ? s->cfg.dbfilename : "dump.rdb");
    int rc = load_at_start(s, path);
    p->changes_base = change_count(s);
    return rc;
}

/* ---- figures ---------------------------------------------------------- */

uint64_t rcache__persist_lastsave(rcache__server_t *s) {
    uint64_t t;
    if (!s->persist)
        return s->start_ms / 1000u;
    pthread_mutex_lock(&s->persist->lock);
    t = s->persist->f.last_save_time;
    pthread_mutex_unlock(&s->persist->lock);
    return t;
}

void rcache__persist_figures(rcache__server_t *s,
                             rcache__persist_figures_t *out) {
    struct rcache__persist *p = s->persist;
    uint64_t cur = change_count(s);
    if (!p) { /* no persist state (tests that build a server by hand) */
        memset(out, 0, sizeof *out);
        out->last_save_time = s->start_ms / 1000u;
        out->last_save_ok = 1;
        out->last_load_ok = -1;
        return;
    }
    pthread_mutex_lock(&p->lock);
    *out = p->f;
    out->bgsave_in_progress = p->saving;
    out->changes_since_save = cur >= p->changes_base ? cur - p->changes_base : cur;
    pthread_mutex_unlock(&p->lock);
    out->loading = atomic_load(&p->loading);
    pthread_mutex_lock(&s->cfg_lock);
    out->enabled = s->cfg.dir != NULL;
    pthread_mutex_unlock(&s->cfg_lock);
}

void rcache__persist_info(rcache__server_t *s, char *out, size_t cap) {
    struct rcache__persist *p = s->persist;
    rcache__persist_figures_t f;
    uint64_t started, now = wall_s();
    rcache__persist_figures(s, &f);
    if (p) {
        pthread_mutex_lock(&p->lock);
        started = p->save_started_s;
        pthread_mutex_unlock(&p->lock);
    } else {
        started = now;
    }
    snprintf(out, cap,
             "loading:%d\r\nasync_loading:0\r\n"
             "current_save_keys_processed:%llu\r\ncurrent_save_keys_total:%llu\r\n"
             "rdb_changes_since_last_save:%llu\r\n"
             "rdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%llu\r\n"
             "rdb_last_bgsave_status:%s\r\nrdb_last_bgsave_time_sec:%lld\r\n"
             "rdb_current_bgsave_time_sec:%lld\r\nrdb_saves:%llu\r\n"
             "rdb_last_save_keys:%llu\r\nrdb_last_save_bytes:%llu\r\n"
             "rdb_last_load_keys_expired:%llu\r\nrdb_last_load_keys_loaded:%llu\r\n"
             "rdb_last_load_keys_skipped:%llu\r\nrdb_last_load_status:%s\r\n"
             "rdb_snapshots_enabled:%d\r\n"
             "aof_enabled:0\r\naof_rewrite_in_progress:0\r\n",
             f.loading,
             (unsigned long long)(p && f.bgsave_in_progress ? atomic_load(&p->cur_done) : 0),
             (unsigned long long)(p && f.bgsave_in_progress ? atomic_load(&p->cur_total) : 0),
             (unsigned long long)f.changes_since_save, f.bgsave_in_progress,
             (unsigned long long)f.last_save_time, f.last_save_ok ? "ok" : "err",
             f.saves || f.save_failures ? (long long)(f.last_save_seconds + 0.5) : -1LL,
             f.bgsave_in_progress ? (long long)(now - started) : -1LL,
             (unsigned long long)f.saves, (unsigned long long)f.last_save_keys,
             (unsigned long long)f.last_save_bytes,
             (unsigned long long)f.last_load_expired,
             (unsigned long long)f.last_load_keys,
             (unsigned long long)f.last_load_skipped,
             f.last_load_ok < 0 ? "none" : f.last_load_ok ? "ok" : "err",
             f.enabled);
}
