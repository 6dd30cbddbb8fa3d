/*
 * commands_function.c - FCALL, FCALL_RO and FUNCTION
 * LOAD|LIST|DELETE|FLUSH|DUMP|RESTORE|STATS|KILL|HELP: argument checks and
 * replies with Redis 7.0's texts and shapes; the registry and the engine
 * are functions.c, the DUMP payload function_dump.c.
 *
 * FCALL* are flagged "exclusive" and "script" in the command table, like
 * EVAL: they run on the script thread holding the exclusive gate, so a
 * function is atomic. FUNCTION runs ungated because FUNCTION KILL and
 * FUNCTION STATS must answer while a function runs; its other
 * subcommands take the exclusive gate themselves.
 */
#include "functions.h"
#include "gate.h"
#include "script.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_MSG "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."

static void fcall_common(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                         int ro) {
    long long n;
    if (!rcache__str2ll(argv[2].ptr, argv[2].len, &n)) {
        rcache__reply_error(c, "ERR Bad number of keys provided");
        return;
    }
    if (n < 0) {
        rcache__reply_error(c, "ERR Number of keys can't be negative");
        return;
    }
    if ((unsigned long long)n > argc - 3) {
        rcache__reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    size_t nk = (size_t)n;
    rcache__functions_call(c, &argv[1], argv + 3, nk, argv + 3 + nk, argc - 3 - nk, ro);
}

void rcache__cmd_fcall(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    fcall_common(c, argc, argv, 0);
}
void rcache__cmd_fcall_ro(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    fcall_common(c, argc, argv, 1);
}

/* ---- LIST ------------------------------------------------------------- */

/* Case-insensitive glob match of a library name, as Redis's LIBRARYNAME. */
static int name_matches(const rcache__arg_t *pat, const char *name) {
    size_t nl = strlen(name);
    char pb[256], nb[256];
    if (pat->len >= sizeof pb || nl >= sizeof nb)
        return rcache_glob_match_lenient(pat->ptr, pat->len, name, nl);
    for (size_t i = 0; i < pat->len; i++)
        pb[i] = (char)tolower((unsigned char)pat->ptr[i]);
    for (size_t i = 0; i < nl; i++)
        nb[i] = (char)tolower((unsigned char)name[i]);
    return rcache_glob_match_lenient(pb, pat->len, nb, nl);
}

static void reply_lib(rcache__client_t *c, const rcache__lib_t *lib, int withcode) {
    rcache__reply_map(c, withcode ? 4 : 3);
    rcache__reply_bulk_cstr(c, "library_name");
    rcache__reply_bulk_cstr(c, lib->name);
    rcache__reply_bulk_cstr(c, "engine");
    rcache__reply_bulk_cstr(c, "LUA");
    rcache__reply_bulk_cstr(c, "functions");
    rcache__reply_array(c, (long long)lib->nfns);
    for (size_t j = 0; j < lib->nfns; j++) {
        const rcache__fn_t *fn = &lib->fns[j];
        rcache__reply_map(c, 3);
        rcache__reply_bulk_cstr(c, "name");
        rcache__reply_bulk_cstr(c, fn->name);
        rcache__reply_bulk_cstr(c, "description");
        if (fn->desc)
            rcache__reply_bulk_cstr(c, fn->desc);
        else
            rcache__reply_null(c);
        rcache__reply_bulk_cstr(c, "flags");
        int nf = 0;
        for (int f = 0; f < RCACHE__FN_NFLAGS; f++)
            nf += (fn->flags >> f) & 1;
        rcache__reply_set(c, nf);
        for (int f = 0; f < RCACHE__FN_NFLAGS; f++)
            if ((fn->flags >> f) & 1)
                rcache__reply_status(c, rcache__fn_flag_name(f));
    }
    if (withcode) {
        rcache__reply_bulk_cstr(c, "library_code");
        rcache__reply_bulk(c, lib->code, lib->code_len);
    }
}

static void function_list(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (!argv)
        return;
    int withcode = 0;
    const rcache__arg_t *pat = NULL;
    for (size_t i = 2; i < argc; i++) {
        if (!withcode && rcache__arg_is(&argv[i], "withcode")) {
            withcode = 1;
        } else if (!pat && rcache__arg_is(&argv[i], "libraryname")) {
            if (i + 1 >= argc) {
                rcache__reply_error(c, "ERR library name argument was not given");
                return;
            }
            pat = &argv[++i];
        } else {
            rcache__reply_errorf(c, "ERR Unknown argument %.*s", (int)argv[i].len,
                                 argv[i].ptr);
            return;
        }
    }
    size_t n, shown = 0;
    const rcache__lib_t *libs = rcache__functions_libs(&n);
    for (size_t i = 0; i < n; i++)
        shown += !pat || name_matches(pat, libs[i].name);
    rcache__reply_array(c, (long long)shown);
    for (size_t i = 0; i < n; i++)
        if (!pat || name_matches(pat, libs[i].name))
            reply_lib(c, &libs[i], withcode);
}

/* ---- DUMP, RESTORE, STATS, KILL ------------------------------------------ */

static void function_dump(rcache__client_t *c) {
    size_t n;
    const rcache__lib_t *libs = rcache__functions_libs(&n);
    char **codes = calloc(n + 1, sizeof *codes);
    size_t *lens = calloc(n + 1, sizeof *lens);
    unsigned char *out = NULL;
    size_t out_len = 0;
    if (codes && lens) {
        for (size_t i = 0; i < n; i++) {
            codes[i] = libs[i].code;
            lens[i] = libs[i].code_len;
        }
    }
    if (!codes || !lens || rcache__fdump_encode(codes, lens, n, &out, &out_len) != 0)
        rcache__reply_error(c, "ERR out of memory");
    else
        rcache__reply_bulk(c, out, out_len);
    free(out);
    free(codes);
    free(lens);
}

static void function_restore(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    int policy = 'A';
    if (argc == 4) {
        if (rcache__arg_is(&argv[3], "flush"))
            policy = 'F';
        else if (rcache__arg_is(&argv[3], "replace"))
            policy = 'R';
        else if (!rcache__arg_is(&argv[3], "append")) {
            rcache__reply_error(c, "ERR Wrong restore policy given, value should be either "
                                   "FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    char **codes;
    size_t *lens, n;
    const char *err;
    if (rcache__fdump_decode((const unsigned char *)argv[2].ptr, argv[2].len, &codes, &lens,
                             &n, &err) != 0) {
        rcache__reply_error(c, err);
        return;
    }
    if (rcache__functions_restore(c, codes, lens, n, policy) == 0)
        rcache__reply_ok(c);
    for (size_t i = 0; i < n; i++)
        free(codes[i]);
    free(codes);
    free(lens);
}

static void function_stats(rcache__client_t *c) {
    char name[128];
    uint64_t ms = 0;
    rcache__reply_map(c, 2);
    rcache__reply_bulk_cstr(c, "running_script");
    if (rcache__functions_running(name, sizeof name, &ms)) {
        rcache__reply_map(c, 3);
        rcache__reply_bulk_cstr(c, "name");
        rcache__reply_bulk_cstr(c, name);
        rcache__reply_bulk_cstr(c, "command");
        rcache__reply_array(c, 2);
        rcache__reply_bulk_cstr(c, "fcall");
        rcache__reply_bulk_cstr(c, name);
        rcache__reply_bulk_cstr(c, "duration_ms");
        rcache__reply_int(c, (long long)ms);
    } else {
        rcache__reply_null(c);
    }
    rcache__reply_bulk_cstr(c, "engines");
    rcache__reply_map(c, 1);
    rcache__reply_bulk_cstr(c, "LUA");
    rcache__reply_map(c, 2);
    rcache__reply_bulk_cstr(c, "libraries_count");
    rcache__reply_int(c, (long long)rcache__functions_count(0));
    rcache__reply_bulk_cstr(c, "functions_count");
    rcache__reply_int(c, (long long)rcache__functions_count(1));
}

static const char *const HELP[] = {
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries.",
    "STATS",
    "    Return information about the current function running and the engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "DUMP",
    // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): Redis's one help line
    "    Return a serialized payload representing the current libraries, can be "
    "restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload (default APPEND).",
    "HELP",
    "    Prints this help.",
};

/* The subcommands that read or change the registry: under the gate. */
static void function_gated(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "load") && (argc == 3 || argc == 4)) {
        if (argc == 4 && !rcache__arg_is(&argv[2], "replace")) {
            rcache__reply_errorf(c, "ERR Unknown option given: %.*s", (int)argv[2].len,
                                 argv[2].ptr);
            return;
        }
        const char *name;
        const rcache__arg_t *code = &argv[argc - 1];
        if (rcache__functions_load(c, code->ptr, code->len, argc == 4, &name) == 0)
            rcache__reply_bulk_cstr(c, name);
    } else if (rcache__arg_is(sub, "delete") && argc == 3) {
        if (rcache__functions_delete(argv[2].ptr, argv[2].len) == 0)
            rcache__reply_ok(c);
        else
            rcache__reply_error(c, "ERR Library not found");
    } else if (rcache__arg_is(sub, "flush") &&
               (argc == 2 || (argc == 3 && (rcache__arg_is(&argv[2], "async") ||
                                            rcache__arg_is(&argv[2], "sync"))))) {
        rcache__functions_flush();
        rcache__reply_ok(c);
    } else if (rcache__arg_is(sub, "flush") && argc == 3) {
        rcache__reply_error(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    } else if (rcache__arg_is(sub, "list")) {
        function_list(c, argc, argv);
    } else if (rcache__arg_is(sub, "dump") && argc == 2) {
        function_dump(c);
    } else if (rcache__arg_is(sub, "restore") && (argc == 3 || argc == 4)) {
        function_restore(c, argc, argv);
    } else {
        rcache__reply_unknown_subcommand(c, sub, "FUNCTION");
    }
}

void rcache__cmd_function(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "kill") && argc == 2) {
        rcache__reply_script_kill(c, 1);
    } else if (rcache__arg_is(sub, "stats") && argc == 2) {
        function_stats(c);
    } else if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_help(c, HELP, sizeof HELP / sizeof HELP[0]);
    } else if (rcache__gate_excl_begin() != 0) {
        rcache__reply_error(c, BUSY_MSG);
    } else {
        function_gated(c, argc, argv);
        rcache__gate_excl_end();
    }
}
