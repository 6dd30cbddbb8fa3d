/*
 * commands_debug.c - DEBUG, the test hooks of rcached: control over the
 * cache clock and active expiry, so tests check TTLs, idle times and
 * expiry exactly instead of sleeping and hoping the machine kept up.
 *
 * DEBUG is refused unless the server started with `enable-debug-command
 * yes` (Redis 7's option; default no): it can stall a worker (SLEEP),
 * move every TTL at once (CLOCK-*) and stop expiry, which no production
 * client should be able to do. The option is read at start only, because
 * the clock it installs is chosen when the cache is opened (server.c).
 *
 *   DEBUG SLEEP <seconds>            block this connection's worker
 *   DEBUG SET-ACTIVE-EXPIRE 0|1      stop / restart the expiry timer
 *   DEBUG EXPIRE-CYCLE               run one active-expiry cycle now
 *   DEBUG CLOCK-FREEZE [<unix-ms>]   stop the cache clock (now, or later)
 *   DEBUG CLOCK-ADVANCE <ms>         move the cache clock forward
 *   DEBUG CLOCK-RESUME               let a frozen clock run again
 *   DEBUG RELOAD [NOSAVE] [NOFLUSH] [MERGE]  save, empty, load the RDB
 *
 * DEBUG is flagged "no gate" in the command table and takes the gate here:
 * RELOAD the exclusive side (no other command runs between its save, its
 * flush and its load, as in single-threaded Redis), the rest the shared
 * side like any command.
 */
#include "gate.h"
#include "keyargs.h"
#include "persist.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

static const char *const DEBUG_HELP[] = {
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "SLEEP <seconds>",
    "    Stop the server's worker thread serving this connection for <seconds>",
    "    (a decimal number; 0 returns at once).",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Turn the active expiry timer off (0) or on (1); keys still expire when read.",
    "EXPIRE-CYCLE",
    "    Run one active expiry cycle now, without a time budget; return the",
    "    number of keys reclaimed.",
    "SAVE-HOLD <0|1>",
    "    1: a save that has written everything waits, still in progress, until",
    "    SAVE-HOLD 0 (tests use it to act while a BGSAVE runs).",
    "CLOCK-FREEZE [<unix-time-milliseconds>]",
    "    Stop the cache clock where it stands (or at a later time); return its",
    "    time in ms.",
    "CLOCK-ADVANCE <milliseconds>",
    "    Move the cache clock forward, frozen or not; return its time in ms.",
    "CLOCK-RESUME",
    "    Let a frozen cache clock run again from its time; return its time in ms.",
    "RELOAD [NOSAVE] [NOFLUSH] [MERGE]",
    "    Save the RDB on disk (unless NOSAVE), check it, empty the cache (unless",
    "    NOFLUSH) and load it back; no other command runs meanwhile. MERGE is",
    "    accepted: a loaded key always replaces the one in the cache.",
    "HELP",
    "    Print this help.",
};

static void debug_sleep(rcache__client_t *c, const rcache__arg_t *arg) {
    long double secs;
    if (!rcache__str2ld(arg->ptr, arg->len, &secs) || secs < 0 || secs > 86400) {
        rcache__reply_error(c, "ERR value is not a valid float or out of range");
        return;
    }
    struct timespec ts;
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (long double)ts.tv_sec) * 1e9L);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    rcache__reply_ok(c);
}

static void debug_active_expire(rcache__client_t *c, const rcache__arg_t *arg) {
    long long v;
    if (!rcache__str2ll(arg->ptr, arg->len, &v) || (v != 0 && v != 1)) {
        rcache__reply_error(c, "ERR value must be 0 or 1");
        return;
    }
    atomic_store(&c->srv->active_expire_off, v == 0);
    rcache__reply_ok(c);
}

/* A non-negative ms argument; replies the error and returns 0 if bad. */
static int ms_arg(rcache__client_t *c, const rcache__arg_t *arg, uint64_t *out) {
    long long v;
    if (!rcache__str2ll(arg->ptr, arg->len, &v)) {
        rcache__reply_not_int(c);
        return 0;
    }
    if (v < 0) {
        rcache__reply_error(c, "ERR the cache clock only moves forward");
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

static void debug_clock(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache__debug_clock_t *dc = &c->srv->dclock;
    const rcache__arg_t *sub = &argv[1];
    uint64_t ms = 0, now;
    if (rcache__arg_is(sub, "clock-freeze") && argc <= 3) {
        if (argc == 3 && !ms_arg(c, &argv[2], &ms))
            return;
        if (rcache__debug_clock_freeze(dc, ms, &now) != 0) {
            rcache__reply_error(c, "ERR the cache clock only moves forward");
            return;
        }
    } else if (rcache__arg_is(sub, "clock-advance") && argc == 3) {
        if (!ms_arg(c, &argv[2], &ms))
            return;
        now = rcache__debug_clock_advance(dc, ms);
    } else if (rcache__arg_is(sub, "clock-resume") && argc == 2) {
        now = rcache__debug_clock_resume(dc);
    } else {
        rcache__reply_error(c, "ERR syntax error");
        return;
    }
    rcache__reply_int(c, (long long)now);
}

#define BUSY_MSG "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."

/* DEBUG RELOAD [NOSAVE] [NOFLUSH] [MERGE], under the exclusive gate. */
static void debug_reload(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    char err[700];
    int flags = 0;
    for (size_t i = 2; i < argc; i++) {
        if (rcache__arg_is(&argv[i], "nosave"))
            flags |= RCACHE__RELOAD_NOSAVE;
        else if (rcache__arg_is(&argv[i], "noflush"))
            flags |= RCACHE__RELOAD_NOFLUSH;
        else if (!rcache__arg_is(&argv[i], "merge")) {
            rcache__reply_syntax_error(c);
            return;
        }
    }
    if (rcache__gate_excl_begin() != 0) {
        rcache__reply_error(c, BUSY_MSG);
        return;
    }
    int rc = rcache__persist_reload(c->srv, flags, err, sizeof err);
    rcache__gate_excl_end();
    if (rc != 0)
        rcache__reply_error(c, err);
    else
        rcache__reply_ok(c);
}

static void debug_shared(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_help(c, DEBUG_HELP, sizeof DEBUG_HELP / sizeof DEBUG_HELP[0]);
    } else if (rcache__arg_is(sub, "sleep") && argc == 3) {
        debug_sleep(c, &argv[2]);
    } else if (rcache__arg_is(sub, "set-active-expire") && argc == 3) {
        debug_active_expire(c, &argv[2]);
    } else if (rcache__arg_is(sub, "expire-cycle") && argc == 2) {
        rcache__reply_int(c, (long long)rcache__server_expire_cycle(c->srv, 0));
    } else if (rcache__arg_is(sub, "save-hold") && argc == 3 &&
               (rcache__arg_is(&argv[2], "0") || rcache__arg_is(&argv[2], "1"))) {
        rcache__persist_debug_hold(c->srv, rcache__arg_is(&argv[2], "1"));
        rcache__reply_ok(c);
    } else if (rcache__arg_is(sub, "clock-freeze") || rcache__arg_is(sub, "clock-advance") ||
               rcache__arg_is(sub, "clock-resume")) {
        debug_clock(c, argc, argv);
    } else if (rcache__arg_is(sub, "help") || rcache__arg_is(sub, "sleep") ||
               rcache__arg_is(sub, "set-active-expire") ||
               rcache__arg_is(sub, "expire-cycle") || rcache__arg_is(sub, "save-hold")) {
        rcache__reply_error(c, "ERR syntax error");
    } else {
        rcache__reply_unknown_subcommand(c, sub, "DEBUG");
    }
}

void rcache__cmd_debug(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (!c->srv->debug_enabled) {
        rcache__reply_error(c, "ERR DEBUG command not allowed. Start rcached with "
                               "'enable-debug-command yes' (config file or flag) to "
                               "allow it.");
        return;
    }
    if (rcache__arg_is(&argv[1], "reload")) {
        debug_reload(c, argc, argv);
        return;
    }
    int slot = c->w ? c->w->index : -1;
    if (rcache__gate_enter(slot) != 0) {
        rcache__reply_error(c, BUSY_MSG);
        return;
    }
    debug_shared(c, argc, argv);
    rcache__gate_leave(slot);
}
