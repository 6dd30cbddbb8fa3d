/*
 * commands_command.c - COMMAND, COMMAND COUNT, COMMAND LIST, COMMAND INFO
 * and COMMAND DOCS, built from the command table so that redis-cli's
 * hints and cluster-aware clients' key lookups see what rcached really
 * implements (Redis 7's reply shapes: maps and sets in RESP3, flat arrays
 * in RESP2).
 */
#include "command.h"

#include <string.h>

static void reply_flags(rcache__client_t *c, const rcache__cmd_t *cmd) {
    const char *f[8];
    int n = 0;
    if (cmd->flags & RCACHE__CMD_WRITE)
        f[n++] = "write";
    if (cmd->flags & RCACHE__CMD_READONLY)
        f[n++] = "readonly";
    if (cmd->flags & RCACHE__CMD_WRITE)
        f[n++] = "denyoom";
    if (cmd->flags & RCACHE__CMD_ADMIN)
        f[n++] = "admin";
    if (cmd->flags & RCACHE__CMD_FAST)
        f[n++] = "fast";
    if (cmd->flags & RCACHE__CMD_NOAUTH)
        f[n++] = "no_auth";
    else if (cmd->flags & RCACHE__CMD_NOQUEUE)
        f[n++] = "no_multi";
    rcache__reply_set(c, n);
    for (int i = 0; i < n; i++)
        rcache__reply_status(c, f[i]);
}

static void reply_acl(rcache__client_t *c, const rcache__cmd_t *cmd) {
    const char *a[5];
    int n = 0;
    if (cmd->flags & RCACHE__CMD_WRITE)
        a[n++] = "@write";
    if (cmd->flags & RCACHE__CMD_READONLY)
        a[n++] = "@read";
    if (!strcmp(cmd->group, "string"))
        a[n++] = "@string";
    else if (!strcmp(cmd->group, "generic"))
        a[n++] = "@keyspace";
    else if (!strcmp(cmd->group, "connection"))
        a[n++] = "@connection";
    else if (!strcmp(cmd->group, "bitmap"))
        a[n++] = "@bitmap";
    if (cmd->flags & RCACHE__CMD_FAST)
        a[n++] = "@fast";
    else
        a[n++] = "@slow";
    if (cmd->flags & RCACHE__CMD_ADMIN)
        a[n++] = "@admin";
    rcache__reply_set(c, n);
    for (int i = 0; i < n; i++)
        rcache__reply_status(c, a[i]);
}

static void reply_info(rcache__client_t *c, const rcache__cmd_t *cmd) {
    rcache__reply_array(c, 10);
    rcache__reply_bulk_cstr(c, cmd->name);
    rcache__reply_int(c, cmd->arity);
    reply_flags(c, cmd);
    rcache__reply_int(c, cmd->first_key);
    rcache__reply_int(c, cmd->last_key);
    rcache__reply_int(c, cmd->step);
    reply_acl(c, cmd);
    rcache__reply_set(c, 0);   /* tips */
    rcache__reply_array(c, 0); /* key specs */
    rcache__reply_array(c, 0); /* subcommands */
}

static void reply_docs(rcache__client_t *c, const rcache__cmd_t *cmd) {
    rcache__reply_bulk_cstr(c, cmd->name);
    rcache__reply_map(c, 3);
    rcache__reply_bulk_cstr(c, "summary");
    rcache__reply_bulk_cstr(c, cmd->summary);
    rcache__reply_bulk_cstr(c, "since");
    rcache__reply_bulk_cstr(c, "1.0.0");
    rcache__reply_bulk_cstr(c, "group");
    rcache__reply_bulk_cstr(c, cmd->group);
}

void rcache__cmd_command(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    size_t n;
    const rcache__cmd_t *t = rcache__command_table(&n);
    if (argc == 1) {
        rcache__reply_array(c, (long long)n);
        for (size_t i = 0; i < n; i++)
            reply_info(c, &t[i]);
        return;
    }
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "count") && argc == 2) {
        rcache__reply_int(c, (long long)n);
    } else if (rcache__arg_is(sub, "list")) {
        rcache__reply_array(c, (long long)n);
        for (size_t i = 0; i < n; i++)
            rcache__reply_bulk_cstr(c, t[i].name);
    } else if (rcache__arg_is(sub, "info")) {
        if (argc == 2) {
            rcache__reply_array(c, (long long)n);
            for (size_t i = 0; i < n; i++)
                reply_info(c, &t[i]);
            return;
        }
        rcache__reply_array(c, (long long)(argc - 2));
        for (size_t i = 2; i < argc; i++) {
            const rcache__cmd_t *cmd = rcache__command_lookup(argv[i].ptr, argv[i].len);
            if (cmd)
                reply_info(c, cmd);
            else
                rcache__reply_null(c); /* Redis 7.0: "$-1" in RESP2 */
        }
    } else if (rcache__arg_is(sub, "docs")) {
        if (argc == 2) {
            rcache__reply_map(c, (long long)n);
            for (size_t i = 0; i < n; i++)
                reply_docs(c, &t[i]);
            return;
        }
        long long found = 0;
        for (size_t i = 2; i < argc; i++)
            found += rcache__command_lookup(argv[i].ptr, argv[i].len) != NULL;
        rcache__reply_map(c, found);
        for (size_t i = 2; i < argc; i++) {
            const rcache__cmd_t *cmd = rcache__command_lookup(argv[i].ptr, argv[i].len);
            if (cmd)
                reply_docs(c, cmd);
        }
    } else if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_array(c, 9);
        rcache__reply_status(c, "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        rcache__reply_status(c, "(no subcommand)");
        rcache__reply_status(c, "    Return details about all commands.");
        rcache__reply_status(c, "COUNT");
        rcache__reply_status(c, "    Return the total number of commands.");
        rcache__reply_status(c, "DOCS [<command-name> ...] / INFO [<command-name> ...]");
        rcache__reply_status(c, "    Return documentation / details about commands.");
        rcache__reply_status(c, "LIST");
        rcache__reply_status(c, "    Return a list of all commands.");
    } else {
        rcache__reply_unknown_subcommand(c, sub, "COMMAND");
    }
}
