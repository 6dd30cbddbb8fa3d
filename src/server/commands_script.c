/*
 * commands_script.c - EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
 * LOAD|EXISTS|FLUSH|KILL|HELP: argument checks with Redis's error texts;
 * the engine is script_lua.c.
 *
 * EVAL* are flagged "exclusive" in the command table, so the dispatcher
 * holds the exclusive gate (gate.h) around them: the whole script is
 * atomic. SCRIPT runs ungated because SCRIPT KILL must get through while
 * a script runs; its other subcommands take the gate themselves.
 */
#include "gate.h"
#include "keyargs.h"
#include "script.h"

#include <string.h>

#define BUSY_MSG "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."

/* Parse numkeys at argv[2]; -1 after replying an error. */
static int parse_numkeys(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                         size_t *nkeys) {
    long long n;
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &n)) {
        rcache__reply_not_int(c);
        return -1;
    }
    if (n < 0) {
        rcache__reply_error(c, "ERR Number of keys can't be negative");
        return -1;
    }
    if ((unsigned long long)n > argc - 3) {
        rcache__reply_error(c, "ERR Number of keys can't be greater than number of args");
        return -1;
    }
    *nkeys = (size_t)n;
    return 0;
}

static void eval_common(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                        int by_sha, int readonly) {
    size_t nkeys;
    if (parse_numkeys(c, argc, argv, &nkeys) != 0)
        return;
    char sha[41];
    if (by_sha) {
        if (argv[1].len != 40) {
            rcache__reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        rcache__lower_copy(sha, argv[1].ptr, 40);
        sha[40] = '\0';
    } else if (rcache__script_load(c, argv[1].ptr, argv[1].len, sha) != 0) {
        return;
    }
    if (rcache__script_run(c, sha, argv + 3, nkeys, argv + 3 + nkeys, argc - 3 - nkeys,
                           readonly) != 0)
        rcache__reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
}

void rcache__cmd_eval(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    eval_common(c, argc, argv, 0, 0);
}
void rcache__cmd_evalsha(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    eval_common(c, argc, argv, 1, 0);
}
void rcache__cmd_eval_ro(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    eval_common(c, argc, argv, 0, 1);
}
void rcache__cmd_evalsha_ro(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    eval_common(c, argc, argv, 1, 1);
}

void rcache__reply_script_kill(rcache__client_t *c, int function) {
    switch (rcache__script_kill(function)) {
    case RCACHE__KILL_OK:
        rcache__reply_ok(c);
        break;
    case RCACHE__KILL_NOTBUSY:
        rcache__reply_error(c, "NOTBUSY No scripts in execution right now.");
        break;
    case RCACHE__KILL_OTHER_KIND: /* name the KILL that would stop it */
        rcache__reply_errorf(c, "BUSY Redis is busy running a script. You can only call "
                                "%s KILL or SHUTDOWN NOSAVE.",
                             function ? "SCRIPT" : "FUNCTION");
        break;
    default:
        rcache__reply_error(c, "UNKILLABLE Sorry the script already executed write "
                               "commands against the dataset. You can either wait the "
                               "script termination or kill the server in a hard way "
                               "using the SHUTDOWN NOSAVE command.");
    }
}

static const char *const HELP[] = {
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Print this help.",
};

/* LOAD, EXISTS, FLUSH: under the exclusive gate. */
static void script_gated(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "load") && argc == 3) {
        char sha[41];
        if (rcache__script_load(c, argv[2].ptr, argv[2].len, sha) == 0)
            rcache__reply_bulk(c, sha, 40);
    } else if (rcache__arg_is(sub, "exists") && argc >= 3) {
        rcache__reply_array(c, (long long)(argc - 2));
        for (size_t i = 2; i < argc; i++) {
            char sha[41];
            int found = 0;
            if (argv[i].len == 40) {
                rcache__lower_copy(sha, argv[i].ptr, 40);
                sha[40] = '\0';
                found = rcache__script_exists(sha);
            }
            rcache__reply_int(c, found);
        }
    } else if (rcache__arg_is(sub, "flush") &&
               (argc == 2 || (argc == 3 && (rcache__arg_is(&argv[2], "async") ||
                                            rcache__arg_is(&argv[2], "sync"))))) {
        rcache__script_flush();
        rcache__reply_ok(c);
    } else if (argc == 3 && rcache__arg_is(&argv[2], "async")) {
        rcache__reply_syntax_error(c);
    } else {
        rcache__reply_unknown_subcommand(c, sub, "SCRIPT");
    }
}

void rcache__cmd_script(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "kill") && argc == 2) {
        rcache__reply_script_kill(c, 0);
        return;
    }
    if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_help(c, HELP, sizeof HELP / sizeof HELP[0]);
        return;
    }
    if (rcache__gate_excl_begin() != 0) {
        rcache__reply_error(c, BUSY_MSG);
        return;
    }
    script_gated(c, argc, argv);
    rcache__gate_excl_end();
}
