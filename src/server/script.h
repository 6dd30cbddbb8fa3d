/*
 * script.h - the Lua scripting engine (script_lua.c, script_conv.c) that
 * EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (commands_script.c) drive.
 *
 * Thread-safety: one Lua state for the whole server, used only by the
 * holder of the exclusive gate (gate.h): every function here needs the
 * gate held, except rcache__script_kill() (any thread, any time),
 * rcache__script_shutdown() (after the workers stopped) and
 * rcache__sha1hex() (pure).
 */
#ifndef RCACHE_SERVER_SCRIPT_H
#define RCACHE_SERVER_SCRIPT_H

#include "command.h"

/* Lower-case hex SHA1 of p[0..len) (out gets 40 chars and a NUL). */
void rcache__sha1hex(const void *p, size_t len, char out[41]);

/* Compile body and keep it under its SHA1 (written to sha_out). 0, or -1
 * after replying the compile (or out-of-memory) error to c. */
int rcache__script_load(rcache__client_t *c, const char *body, size_t len,
                        char sha_out[41]);
/* 1 if a script with this lower-case SHA1 is loaded. */
int rcache__script_exists(const char *sha);
/* Run the loaded script sha with KEYS and ARGV and reply its result (or
 * error) to c. readonly: refuse write commands (EVAL_RO, no-writes).
 * -1 (nothing replied) if sha is not loaded. */
int rcache__script_run(rcache__client_t *c, const char *sha,
                       const rcache__arg_t *keys, size_t nkeys,
                       const rcache__arg_t *args, size_t nargs, int readonly);
/* SCRIPT FLUSH: forget every script (and the Lua state). */
void rcache__script_flush(void);

/* SCRIPT KILL (function 0) or FUNCTION KILL (function 1): OTHER_KIND when
 * what runs is of the other kind (EVAL vs FCALL), as Redis refuses. */
enum { RCACHE__KILL_OK, RCACHE__KILL_NOTBUSY, RCACHE__KILL_UNKILLABLE,
       RCACHE__KILL_OTHER_KIND };
int rcache__script_kill(int function);
/* SCRIPT KILL (function 0) or FUNCTION KILL (1): kill and reply, with
 * Redis's NOTBUSY / BUSY / UNKILLABLE errors (commands_script.c). */
struct rcache__client;
void rcache__reply_script_kill(struct rcache__client *c, int function);

/* ---- shared with the functions engine (functions.c) ---- */
struct lua_State;
/* A new sandboxed state with the redis.* API (gate held), NULL when out
 * of memory. The caller owns it (lua_close). */
struct lua_State *rcache__lua_new_state(void);
/* Call the function under the top nargs values of L as c's command, with
 * the time limit, SCRIPT/FUNCTION KILL and redis.call, and reply its
 * result or error to c. readonly: write commands refused. name: the SHA1
 * or function name errors show; is_function: FCALL's error format. */
void rcache__lua_call(rcache__client_t *c, struct lua_State *L, int nargs,
                      int readonly, const char *name, int is_function);
/* ---- RESP <-> Lua conversions (script_conv.c; Redis 7.0's rules) ---- */
/* Parse one reply at *pp (written by our own dispatcher, RESP2 or RESP3)
 * and push it on L as redis.call returns it; *pp moves past it. 0, or -1
 * when malformed or nested deeper than 1000 (nothing pushed). */
int rcache__lua_from_resp(struct lua_State *L, const char **pp, const char *end,
                          int depth);
/* 1 when the value at the top of L nests tables (array parts) deeper than
 * a client should be sent (128). */
int rcache__lua_reply_too_deep(struct lua_State *L, int depth);
/* Reply the value at the top of L (left there) to c, in c's protocol.
 * script_resp3: the script called redis.setresp(3) (booleans are then
 * RESP3 booleans, else true -> 1 and false -> null). */
void rcache__lua_to_resp(rcache__client_t *c, struct lua_State *L, int script_resp3);
/* ---- the script thread (script_thread.c) ---- */
/* Start / stop the thread that runs EVAL-family commands. 0 or -1. Stop
 * answers jobs still queued with an error. */
int rcache__script_thread_start(void);
void rcache__script_thread_stop(void);
/* Hand c's EVAL-family command to the script thread. c goes on reading:
 * the client loop (client.c) lets further script commands of a pipeline
 * follow (up to RCACHE__SCRIPT_PIPELINE_MAX pending) and holds anything
 * else until every pending reply is back on c's worker, in order; then c
 * is resumed. 0, or -1 (not started, or no memory). Worker thread of c
 * only. */
#define RCACHE__SCRIPT_PIPELINE_MAX 64
int rcache__script_submit(rcache__client_t *c, const rcache__cmd_t *cmd,
                          size_t argc, const rcache__arg_t *argv);
/* c is being closed with scripts pending: their replies will be dropped. */
void rcache__script_forget(rcache__client_t *c);

/* Bytes the Lua states (scripts and functions) hold now (any thread). */
uint64_t rcache__lua_memory(void);

/* Shutdown: stop a running script even if it wrote (any thread). */
void rcache__script_abort(void);
/* Free the Lua state at shutdown. */
void rcache__script_shutdown(void);

#endif /* RCACHE_SERVER_SCRIPT_H */
