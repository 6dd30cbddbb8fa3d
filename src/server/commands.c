/*
 * commands.c - the command table and dispatch: name lookup, Redis's arity
 * and authentication checks with Redis's exact error texts, and the
 * per-worker call counters behind INFO commandstats and the admin API.
 *
 * The table is static data hashed once at start; lookup lower-cases the
 * name into a stack buffer while hashing it, so dispatch allocates nothing
 * and compares one or two names.
 */
#include "db.h"
#include "node.h"
#include "gate.h"
#include "monitor.h"
#include "script.h"
#include "server.h"
#include "slowlog.h"
#include "tracking.h"
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W RCACHE__CMD_WRITE
#define R RCACHE__CMD_READONLY
#define FA RCACHE__CMD_FAST
#define NA RCACHE__CMD_NOAUTH
#define AD RCACHE__CMD_ADMIN
#define CN RCACHE__CMD_CONN
#define NQ RCACHE__CMD_NOQUEUE
#define EX RCACHE__CMD_EXCL
#define NG RCACHE__CMD_NOGATE
#define NS RCACHE__CMD_NOSCRIPT
#define SC RCACHE__CMD_SCRIPT

static rcache__cmd_t TABLE[] = {
    /* connection */
    {"ping", rcache__cmd_ping, -1, FA | CN, 0, 0, 0, "connection", "Returns the server's liveliness response.", 0},
    {"echo", rcache__cmd_echo, 2, FA | CN, 0, 0, 0, "connection", "Returns the given string.", 0},
    {"quit", rcache__cmd_quit, -1, FA | NA | CN | NQ | NS, 0, 0, 0, "connection", "Closes the connection.", 0},
    {"select", rcache__cmd_select, 2, FA | CN, 0, 0, 0, "connection", "Changes the selected database (0..15).", 0},
    {"auth", rcache__cmd_auth, -2, FA | NA | CN | NS, 0, 0, 0, "connection", "Authenticates the connection.", 0},
    {"hello", rcache__cmd_hello, -1, FA | NA | CN | NS, 0, 0, 0, "connection", "Handshakes with the server (protocol 2 only).", 0},
    {"client", rcache__cmd_client, -2, CN | NS, 0, 0, 0, "connection", "CLIENT SETNAME|GETNAME|ID|INFO|LIST|SETINFO|NO-EVICT|NO-TOUCH|TRACKING|CACHING|GETREDIR|TRACKINGINFO.", 0},
    {"reset", rcache__cmd_reset, 1, FA | NA | CN | NQ | NS, 0, 0, 0, "connection", "Resets the connection.", 0},
    /* strings */
    {"get", rcache__cmd_get, 2, R | FA, 1, 1, 1, "string", "Returns the string value of a key.", 0},
    {"set", rcache__cmd_set, -3, W, 1, 1, 1, "string", "Sets the string value of a key, ignoring its type.", 0},
    {"getex", rcache__cmd_getex, -2, W | FA, 1, 1, 1, "string", "Returns the string value of a key after setting its expiration time.", 0},
    {"getdel", rcache__cmd_getdel, 2, W | FA, 1, 1, 1, "string", "Returns the string value of a key after deleting the key.", 0},
    {"setex", rcache__cmd_setex, 4, W, 1, 1, 1, "string", "Sets the string value and expiration time of a key.", 0},
    {"psetex", rcache__cmd_psetex, 4, W, 1, 1, 1, "string", "Sets the string value and expiration time in milliseconds of a key.", 0},
    {"setnx", rcache__cmd_setnx, 3, W | FA, 1, 1, 1, "string", "Set the string value of a key only when the key doesn't exist.", 0},
    {"getset", rcache__cmd_getset, 3, W | FA, 1, 1, 1, "string", "Returns the previous string value of a key after setting it to a new value.", 0},
    {"mget", rcache__cmd_mget, -2, R | FA, 1, -1, 1, "string", "Returns the string values of one or more keys, each read on its own (not a snapshot across keys).", 0},
    {"mset", rcache__cmd_mset, -3, W, 1, -1, 2, "string", "Creates or modifies the string values of one or more keys, each set on its own (not atomic across keys).", 0},
    {"msetnx", rcache__cmd_msetnx, -3, W, 1, -1, 2, "string", "Modifies the string values of keys only when none of the keys exist.", 0},
    {"strlen", rcache__cmd_strlen, 2, R | FA, 1, 1, 1, "string", "Returns the length of a string value.", 0},
    {"append", rcache__cmd_append, 3, W | FA, 1, 1, 1, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", 0},
    {"getrange", rcache__cmd_getrange, 4, R, 1, 1, 1, "string", "Returns a substring of the string stored at a key.", 0},
    {"substr", rcache__cmd_getrange, 4, R, 1, 1, 1, "string", "Returns a substring from a string value.", 0},
    {"setrange", rcache__cmd_setrange, 4, W, 1, 1, 1, "string", "Overwrites a part of a string value with another by an offset.", 0},
    {"incr", rcache__cmd_incr, 2, W | FA, 1, 1, 1, "string", "Increments the integer value of a key by one.", 0},
    {"decr", rcache__cmd_decr, 2, W | FA, 1, 1, 1, "string", "Decrements the integer value of a key by one.", 0},
    {"incrby", rcache__cmd_incrby, 3, W | FA, 1, 1, 1, "string", "Increments the integer value of a key by a number.", 0},
    {"decrby", rcache__cmd_decrby, 3, W | FA, 1, 1, 1, "string", "Decrements a number from the integer value of a key.", 0},
    {"incrbyfloat", rcache__cmd_incrbyfloat, 3, W | FA, 1, 1, 1, "string", "Increment the floating point value of a key by a number.", 0},
    /* bits, LCS (commands_bits.c, commands_bitfield.c, commands_lcs.c) */
    {"setbit", rcache__cmd_setbit, 4, W, 1, 1, 1, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", 0},
    {"getbit", rcache__cmd_getbit, 3, R | FA, 1, 1, 1, "bitmap", "Returns a bit value by offset.", 0},
    {"bitcount", rcache__cmd_bitcount, -2, R, 1, 1, 1, "bitmap", "Counts the number of set bits (population counting) in a string.", 0},
    {"bitpos", rcache__cmd_bitpos, -3, R, 1, 1, 1, "bitmap", "Finds the first set (1) or clear (0) bit in a string.", 0},
    {"bitop", rcache__cmd_bitop, -4, W, 2, -1, 1, "bitmap", "Performs bitwise operations on multiple strings, and stores the result (each source read on its own).", 0},
    {"bitfield", rcache__cmd_bitfield, -2, W, 1, 1, 1, "bitmap", "Performs arbitrary bitfield integer operations on strings.", 0},
    {"bitfield_ro", rcache__cmd_bitfield_ro, -2, R | FA, 1, 1, 1, "bitmap", "Performs arbitrary read-only bitfield integer operations on strings.", 0},
    {"lcs", rcache__cmd_lcs, -3, R, 1, 2, 1, "string", "Finds the longest common substring.", 0},
    /* keys */
    {"copy", rcache__cmd_copy, -3, W, 1, 2, 1, "generic", "Copies the value of a key to a new key (keeping its TTL).", 0},
    {"move", rcache__cmd_move, 3, W | FA, 1, 1, 1, "generic", "Moves a key to another database.", 0},
    {"swapdb", rcache__cmd_swapdb, 3, W | EX, 0, 0, 0, "server", "Swaps two databases (renames the keys of both: O(keys in the cache)).", 0},
    {"del", rcache__cmd_del, -2, W, 1, -1, 1, "generic", "Deletes one or more keys.", 0},
    {"unlink", rcache__cmd_del, -2, W | FA, 1, -1, 1, "generic", "Deletes one or more keys.", 0},
    {"exists", rcache__cmd_exists, -2, R | FA, 1, -1, 1, "generic", "Determines whether one or more keys exist.", 0},
    {"touch", rcache__cmd_touch, -2, R | FA, 1, -1, 1, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", 0},
    {"type", rcache__cmd_type, 2, R | FA, 1, 1, 1, "generic", "Determines the type of value stored at a key.", 0},
    {"rename", rcache__cmd_rename, 3, W, 1, 2, 1, "generic", "Renames a key and overwrites the destination.", 0},
    {"renamenx", rcache__cmd_renamenx, 3, W | FA, 1, 2, 1, "generic", "Renames a key only when the target key name doesn't exist.", 0},
    {"keys", rcache__cmd_keys, 2, R, 0, 0, 0, "generic", "Returns all key names that match a pattern.", 0},
    {"scan", rcache__cmd_scan, -2, R, 0, 0, 0, "generic", "Iterates over the key names in the database.", 0},
    {"randomkey", rcache__cmd_randomkey, 1, R, 0, 0, 0, "generic", "Returns a key name from the database.", 0},
    {"dbsize", rcache__cmd_dbsize, 1, R | FA, 0, 0, 0, "server", "Returns the number of keys in the database.", 0},
    {"flushdb", rcache__cmd_flushdb, -1, W, 0, 0, 0, "server", "Removes all keys from the current database.", 0},
    {"flushall", rcache__cmd_flushdb, -1, W, 0, 0, 0, "server", "Removes all keys from all databases.", 0},
    {"rcache.invalidate", rcache__cmd_invalidate, 2, W, 0, 0, 0, "generic", "Removes every key matching a glob pattern; returns the count.", 0},
    {"rcache.set", rcache__cmd_rcache_set, -5, W, 1, 1, 1, "string", "SET key value [SET options] TAGS tag [tag ...]: stores with tags.", 0},
    {"rcache.tags", rcache__cmd_tags, 2, R | FA, 1, 1, 1, "generic", "Returns the tags of a key (null if the key does not exist).", 0},
    {"rcache.tag.invalidate", rcache__cmd_tag_invalidate, 2, W, 0, 0, 0, "generic", "Removes every key carrying a tag; returns the count.", 0},
    {"object", rcache__cmd_object, -2, R, 2, 2, 1, "generic", "OBJECT IDLETIME|FREQ|ENCODING|REFCOUNT key.", 0},
    {"memory", rcache__cmd_memory, -2, R, 2, 2, 1, "server", "MEMORY USAGE key.", 0},
    /* ttl */
    {"expire", rcache__cmd_expire, -3, W | FA, 1, 1, 1, "generic", "Sets the expiration time of a key in seconds.", 0},
    {"pexpire", rcache__cmd_pexpire, -3, W | FA, 1, 1, 1, "generic", "Sets the expiration time of a key in milliseconds.", 0},
    {"expireat", rcache__cmd_expireat, -3, W | FA, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix timestamp.", 0},
    {"pexpireat", rcache__cmd_pexpireat, -3, W | FA, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", 0},
    {"ttl", rcache__cmd_ttl, 2, R | FA, 1, 1, 1, "generic", "Returns the expiration time in seconds of a key.", 0},
    {"pttl", rcache__cmd_pttl, 2, R | FA, 1, 1, 1, "generic", "Returns the expiration time in milliseconds of a key.", 0},
    {"expiretime", rcache__cmd_expiretime, 2, R | FA, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix timestamp.", 0},
    {"pexpiretime", rcache__cmd_pexpiretime, 2, R | FA, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", 0},
    {"persist", rcache__cmd_persist, 2, W | FA, 1, 1, 1, "generic", "Removes the expiration time of a key.", 0},
    /* server */
    {"info", rcache__cmd_info, -1, 0, 0, 0, 0, "server", "Returns information and statistics about the server.", 0},
    {"config", rcache__cmd_config, -2, AD | NS, 0, 0, 0, "server", "CONFIG GET|SET|RESETSTAT.", 0},
    {"time", rcache__cmd_time, 1, FA, 0, 0, 0, "server", "Returns the server time.", 0},
    {"lastsave", rcache__cmd_lastsave, 1, FA, 0, 0, 0, "server", "Returns the Unix timestamp of the last successful snapshot save (the start time before one).", 0},
    {"save", rcache__cmd_save, 1, AD, 0, 0, 0, "server", "Synchronously saves the cache to the RDB snapshot (blocks this client's worker thread only).", 0},
    {"bgsave", rcache__cmd_bgsave, -1, AD, 0, 0, 0, "server", "Saves the RDB snapshot in a background thread; BGSAVE SCHEDULE queues one after a running save.", 0},
    {"shutdown", rcache__cmd_shutdown, -1, AD | NS | NG, 0, 0, 0, "server", "Shuts the server down gracefully.", 0},
    {"command", rcache__cmd_command, -1, CN, 0, 0, 0, "server", "COMMAND [COUNT|DOCS|INFO|LIST].", 0},
    {"monitor", rcache__cmd_monitor, 1, AD | NS, 0, 0, 0, "server", "Listens for all requests received by the server in real-time.", 0},
    {"slowlog", rcache__cmd_slowlog, -2, AD, 0, 0, 0, "server", "SLOWLOG GET|LEN|RESET|HELP.", 0},
    {"latency", rcache__cmd_latency, -2, AD, 0, 0, 0, "server", "LATENCY LATEST|HISTORY|RESET|HELP.", 0},
    {"debug", rcache__cmd_debug, -2, AD | NG, 0, 0, 0, "server", "Test hooks (clock, expiry, RELOAD); only with enable-debug-command yes.", 0},
    /* transactions */
    {"multi", rcache__cmd_multi, 1, FA | NQ | NS, 0, 0, 0, "transactions", "Starts a transaction.", 0},
    {"exec", rcache__cmd_exec, 1, NQ | EX | NS, 0, 0, 0, "transactions", "Executes all commands in a transaction, atomically.", 0},
    {"discard", rcache__cmd_discard, 1, FA | NQ | NS, 0, 0, 0, "transactions", "Discards a transaction.", 0},
    {"watch", rcache__cmd_watch, -2, FA | NQ | NS, 1, -1, 1, "transactions", "Monitors changes to keys to determine the execution of a transaction.", 0},
    {"unwatch", rcache__cmd_unwatch, 1, FA | NQ | NS, 0, 0, 0, "transactions", "Forgets about watched keys of a transaction.", 0},
    /* scripting */
    {"eval", rcache__cmd_eval, -3, EX | NS | SC, 0, 0, 0, "scripting", "Executes a server-side Lua script, atomically.", 0},
    {"evalsha", rcache__cmd_evalsha, -3, EX | NS | SC, 0, 0, 0, "scripting", "Executes a server-side Lua script by SHA1 digest.", 0},
    {"eval_ro", rcache__cmd_eval_ro, -3, EX | NS | SC | R, 0, 0, 0, "scripting", "Executes a read-only server-side Lua script.", 0},
    {"evalsha_ro", rcache__cmd_evalsha_ro, -3, EX | NS | SC | R, 0, 0, 0, "scripting", "Executes a read-only server-side Lua script by SHA1 digest.", 0},
    {"fcall", rcache__cmd_fcall, -3, EX | NS | SC, 0, 0, 0, "scripting", "Invokes a function.", 0},
    {"fcall_ro", rcache__cmd_fcall_ro, -3, EX | NS | SC | R, 0, 0, 0, "scripting", "Invokes a read-only function.", 0},
    {"function", rcache__cmd_function, -2, NG | NS, 0, 0, 0, "scripting", "FUNCTION LOAD|LIST|DELETE|FLUSH|DUMP|RESTORE|STATS|KILL|HELP.", 0},
    /* pub/sub */
    {"subscribe", rcache__cmd_subscribe, -2, NS, 0, 0, 0, "pubsub", "Listens for messages published to channels.", 0},
    {"psubscribe", rcache__cmd_psubscribe, -2, NS, 0, 0, 0, "pubsub", "Listens for messages published to channels that match one or more patterns.", 0},
    {"unsubscribe", rcache__cmd_unsubscribe, -1, NS, 0, 0, 0, "pubsub", "Stops listening to messages posted to channels.", 0},
    {"punsubscribe", rcache__cmd_punsubscribe, -1, NS, 0, 0, 0, "pubsub", "Stops listening to messages published to channels that match one or more patterns.", 0},
    {"publish", rcache__cmd_publish, 3, FA, 0, 0, 0, "pubsub", "Posts a message to a channel.", 0},
    {"pubsub", rcache__cmd_pubsub, -2, 0, 0, 0, 0, "pubsub", "PUBSUB CHANNELS|NUMSUB|NUMPAT|HELP.", 0},
    {"script", rcache__cmd_script, -2, NG | NS, 0, 0, 0, "scripting", "SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP.", 0},
};
#define NCMDS (sizeof TABLE / sizeof TABLE[0])

/* Lookup: an open-addressing hash of the lower-cased names (FNV-1a,
 * linear probing, at most a quarter full), built once at start. A lookup
 * hashes the name while lower-casing it and compares one or two names:
 * the binary search it replaced cost eight strcmp calls per command. */
#define NAME_MAX_LEN 32
#define HASH_SLOTS 1024u
_Static_assert(HASH_SLOTS >= 4 * NCMDS, "raise HASH_SLOTS");
static uint16_t HASHED[HASH_SLOTS]; /* table index + 1; 0: empty */
static uint8_t NAMELEN[NCMDS];

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u

void rcache__commands_init(void) {
    _Static_assert(NCMDS <= RCACHE__MAX_COMMANDS, "raise RCACHE__MAX_COMMANDS");
    memset(HASHED, 0, sizeof HASHED);
    for (size_t i = 0; i < NCMDS; i++) {
        TABLE[i].id = (int)i;
        size_t len = strlen(TABLE[i].name);
        uint32_t h = FNV_BASIS;
        for (size_t k = 0; k < len; k++)
            h = (h ^ (unsigned char)TABLE[i].name[k]) * FNV_PRIME;
        NAMELEN[i] = (uint8_t)len;
        uint32_t slot = h & (HASH_SLOTS - 1);
        while (HASHED[slot])
            slot = (slot + 1) & (HASH_SLOTS - 1);
        HASHED[slot] = (uint16_t)(i + 1);
    }
}

const rcache__cmd_t *rcache__command_table(size_t *n) {
    *n = NCMDS;
    return TABLE;
}

const rcache__cmd_t *rcache__command_lookup(const char *name, size_t len) {
    char buf[NAME_MAX_LEN];
    if (len == 0 || len >= sizeof buf)
        return NULL;
    uint32_t h = FNV_BASIS;
    for (size_t k = 0; k < len; k++) {
        buf[k] = rcache__lower_ascii(name[k]);
        h = (h ^ (unsigned char)buf[k]) * FNV_PRIME;
    }
    /* A NUL inside the name cannot match ("GET\0X" is no GET): no table
     * name holds one, and the lengths must be equal. */
    for (uint32_t slot = h & (HASH_SLOTS - 1); HASHED[slot];
         slot = (slot + 1) & (HASH_SLOTS - 1)) {
        size_t i = (size_t)HASHED[slot] - 1;
        if (NAMELEN[i] == len && memcmp(TABLE[i].name, buf, len) == 0)
            return &TABLE[i];
    }
    return NULL;
}

static void unknown_command(rcache__client_t *c, size_t argc,
                            const rcache__arg_t *argv) {
    char args[400];
    size_t o = 0;
    args[0] = '\0';
    for (size_t i = 1; i < argc && o < 128; i++) {
        int room = 128 - (int)o;
        int n = snprintf(args + o, sizeof args - o, "'%.*s' ",
                         (int)(argv[i].len < (size_t)room ? argv[i].len : (size_t)room),
                         argv[i].ptr);
        if (n < 0)
            break;
        o += (size_t)n;
        if (o >= sizeof args)
            o = sizeof args - 1;
    }
    rcache__reply_errorf(c, "ERR unknown command '%.*s', with args beginning with: %s",
                         (int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].ptr,
                         args);
}

#define BUSY_MSG "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."

/* Run cmd through the gate (gate.h): shared for ordinary commands,
 * exclusive for EXEC and EVAL*, none for SCRIPT (KILL must get through). */
static void run_gated(rcache__client_t *c, const rcache__cmd_t *cmd, size_t argc,
                      const rcache__arg_t *argv) {
    if (cmd->flags & RCACHE__CMD_NOGATE) {
        cmd->fn(c, argc, argv);
        return;
    }
    if ((cmd->flags & RCACHE__CMD_SCRIPT) && !rcache__gate_held() && c->w) {
        /* With scripts pending, a reply now would overtake theirs: this
         * one queues behind them (and runs once the busy script ends). */
        if (!c->script_pending && rcache__gate_busy()) {
            rcache__reply_error(c, BUSY_MSG);
            return;
        }
        if (rcache__script_submit(c, cmd, argc, argv) == 0)
            return; /* the reply comes back later, in order */
        if (c->script_pending) {
            rcache__log(RCACHE__LOG_WARNING, "Out of memory queueing a script for client "
                        "id=%llu: closing it", (unsigned long long)c->id);
            c->flags |= RCACHE__CLIENT_CLOSING;
            return;
        }
    }
    if (cmd->flags & RCACHE__CMD_EXCL) {
        if (rcache__gate_excl_begin() != 0) {
            rcache__reply_error(c, BUSY_MSG);
            return;
        }
        cmd->fn(c, argc, argv);
        rcache__gate_excl_end();
        return;
    }
    int slot = c->w ? c->w->index : -1;
    if (rcache__gate_enter(slot) != 0) {
        rcache__reply_error(c, BUSY_MSG);
        return;
    }
    if (c->trk && (cmd->flags & RCACHE__CMD_READONLY))
        rcache__tracking_before_read(c, cmd, argc, argv); /* before: see tracking.c */
    cmd->fn(c, argc, argv);
    if (cmd->flags & RCACHE__CMD_WRITE) {
        rcache__watch_after_write(cmd, argc, argv);
        rcache__node_after_write(c, cmd, argc, argv);
        rcache__tracking_after_write(c->id, cmd, argc, argv);
    }
    rcache__gate_leave(slot);
}

/* Whether rcache__dispatch() would hand this command to the script thread
 * rather than answer it here: the same checks, in the same order. */
int rcache__dispatch_is_script(const rcache__client_t *c, size_t argc,
                               const rcache__arg_t *argv) {
    const rcache__cmd_t *cmd = rcache__command_lookup(argv[0].ptr, argv[0].len);
    if (!cmd || !(cmd->flags & RCACHE__CMD_SCRIPT) || (cmd->flags & RCACHE__CMD_NOGATE))
        return 0;
    if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
        (cmd->arity < 0 && argc < (size_t)-cmd->arity))
        return 0;
    if (!c->authed && !(cmd->flags & RCACHE__CMD_NOAUTH) &&
        atomic_load_explicit(&c->srv->auth_required, memory_order_relaxed))
        return 0;
    return !c->ps && !c->in_multi && c->w && !rcache__gate_held();
}

void rcache__dispatch(rcache__client_t *c, size_t argc,
                      const rcache__arg_t *argv) {
    const rcache__cmd_t *cmd = rcache__command_lookup(argv[0].ptr, argv[0].len);
    if (!cmd) {
        c->multi_error |= c->in_multi;
        unknown_command(c, argc, argv);
        return;
    }
    if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
        (cmd->arity < 0 && argc < (size_t)-cmd->arity)) {
        c->multi_error |= c->in_multi;
        rcache__reply_arity(c, cmd->name);
        return;
    }
    if (!c->authed && !(cmd->flags & RCACHE__CMD_NOAUTH) &&
        atomic_load_explicit(&c->srv->auth_required, memory_order_relaxed)) {
        c->multi_error |= c->in_multi;
        rcache__reply_error(c, "NOAUTH Authentication required.");
        return;
    }
    if (c->ps && !rcache__pubsub_allowed(c, cmd)) {
        c->multi_error |= c->in_multi;
        rcache__reply_errorf(c, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / "
                             "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                             cmd->name);
        return;
    }
    if (c->in_multi && !(cmd->flags & RCACHE__CMD_NOQUEUE)) {
        rcache__multi_queue(c, argc, argv);
        return;
    }
    atomic_store_explicit(&c->last_cmd, cmd->name, memory_order_relaxed);
    rcache__monitor_feed(c, argc, argv);
    /* SLOWLOG / LATENCY time top-level commands only (not EXEC's queued
     * ones or redis.call's: those run holding the gate), as Redis. */
    static _Thread_local int depth;
    unsigned pending = c->script_pending;
    uint64_t t0 = depth++ == 0 && rcache__cmdtime_wanted() && !rcache__gate_held()
                      ? rcache__mono_us()
                      : 0;
    if (c->db > 0 && cmd->first_key > 0)
        rcache__db_run(c, cmd, argc, argv, run_gated);
    else
        run_gated(c, cmd, argc, argv);
    depth--;
    if (c->trk && depth == 0)
        rcache__tracking_after_command(c, cmd); /* CLIENT CACHING lasts one command */
    /* A command handed to the script thread is timed there (script_thread.c). */
    if (t0 && c->script_pending == pending)
        rcache__cmdtime_record(c, cmd, argc, argv, rcache__mono_us() - t0);
    rcache__worker_t *w = c->w;
    atomic_store_explicit(&w->calls[cmd->id],
                          atomic_load_explicit(&w->calls[cmd->id], memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&w->commands,
                          atomic_load_explicit(&w->commands, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}
