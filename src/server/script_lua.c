/*
 * script_lua.c - the Lua 5.1 engine behind EVAL and SCRIPT (script.h),
 * with Redis's semantics: the sandbox, the redis.* API, the conversions
 * between Lua values and RESP replies, the script cache keyed by SHA1,
 * lua-time-limit and SCRIPT KILL.
 *
 * The interpreter is Debian's liblua5.1 (Redis's Lua version) and JSON is
 * lua-cjson's C module, linked in and opened as the global `cjson`; SHA1
 * is nettle's. One lua_State serves EVAL (functions.c has its own, made
 * by rcache__lua_new_state()): scripts and functions run only
 * under the exclusive gate (gate.h), so no two threads ever use it at
 * once, and that same gate is what makes a script atomic.
 *
 * Sandbox, as Redis's: only the base, table, string and math libraries,
 * cjson, and an `os` table with only `clock`; no io, debug, package,
 * require, dofile, loadfile, load, loadstring, setfenv, getfenv, print.
 * Globals are protected: reading an undefined global or creating one is
 * an error. Memory is capped (LUA_MEM_LIMIT): a script that allocates
 * past it gets a Lua "not enough memory" error, not the server.
 *
 * redis.call runs a command through the ordinary dispatcher on a private
 * client whose replies land in its own buffer, in RESP2 or, after
 * redis.setresp(3), RESP3; script_conv.c converts that reply to Lua
 * values (errors are raised by redis.call and returned by redis.pcall)
 * and the script's result back to the caller's protocol.
 */
#include "script.h"

#include <event2/buffer.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <nettle/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"

/* lua-cjson's entry point (Debian's lua-cjson-dev, liblua5.1-cjson). */
int luaopen_cjson(lua_State *L);

#define LUA_MEM_LIMIT ((size_t)512 * 1024 * 1024) /* as the largest string value */
#define HOOK_EVERY 100000 /* instructions between time-limit checks */
#define SCRIPTS_KEY "rcache_scripts"

static struct {
    lua_State *L;
    _Atomic size_t mem; /* both states' (l_alloc), read by MEMORY STATS */
    rcache__client_t *caller; /* running EVAL's client */
    rcache__client_t fake;    /* what redis.call runs as */
    uint64_t start_ms;
    int readonly;
    int busy;
    _Atomic int running;
    _Atomic int is_function; /* the running one is an FCALL */
    _Atomic int wrote;
    _Atomic int kill;
    _Atomic int abort; /* shutdown: every script stops (never cleared) */
} S;

void rcache__sha1hex(const void *p, size_t len, char out[41]) {
    static const char hex[] = "0123456789abcdef";
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, len, p);
    sha1_digest(&ctx, sizeof d, d);
    for (size_t i = 0; i < sizeof d; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[40] = '\0';
}

/* ---- allocator with a cap ------------------------------------------- */

/* Only the gate holder allocates (one writer): relaxed loads and stores,
 * atomic only so that MEMORY STATS may read the figure. */
static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    size_t mem = atomic_load_explicit(&S.mem, memory_order_relaxed);
    if (ptr == NULL)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        atomic_store_explicit(&S.mem, mem - osize, memory_order_relaxed);
        return NULL;
    }
    if (nsize > osize && mem + (nsize - osize) > LUA_MEM_LIMIT)
        return NULL;
    void *np = realloc(ptr, nsize);
    if (np)
        atomic_store_explicit(&S.mem, mem - osize + nsize, memory_order_relaxed);
    return np;
}

/* The string field `name` of the table at the top, or NULL. */
static const char *table_str_field(lua_State *L, const char *name) {
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1); /* the string stays alive: the table references it */
    return s;
}

/* ---- the redis.* API -------------------------------------------------- */

/* Push {err=msg} and raise it (does not return). */
static int raise_err(lua_State *L, const char *msg) {
    lua_newtable(L);
    lua_pushstring(L, "err");
    lua_pushstring(L, msg);
    lua_settable(L, -3);
    return lua_error(L);
}

/* Check a redis.call argument list and run the command on the private
 * client. Pushes the converted reply; returns 1 if it is an error reply.
 * On a refused call pushes an {err=...} table and returns 1. */
static int run_call(lua_State *L) {
    int argc = lua_gettop(L);
    rcache__arg_t stackv[16], *argv = stackv;
    const char *refuse = NULL;
    if (argc == 0)
        refuse = "ERR Please specify at least one argument for this redis lib call";
    for (int i = 1; i <= argc && !refuse; i++) {
        int t = lua_type(L, i);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            refuse = "ERR Lua redis lib command arguments must be strings or integers";
    }
    const rcache__cmd_t *cmd = NULL;
    if (!refuse) {
        size_t l;
        const char *name = lua_tolstring(L, 1, &l);
        cmd = rcache__command_lookup(name, l);
        if (!cmd)
            refuse = "ERR Unknown Redis command called from script";
        else if (cmd->flags & RCACHE__CMD_NOSCRIPT)
            refuse = "ERR This Redis command is not allowed from script";
        else if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity)
            refuse = "ERR Wrong number of args calling Redis command from script";
        else if ((cmd->flags & RCACHE__CMD_WRITE) && S.readonly)
            refuse = "ERR Write commands are not allowed from read-only scripts.";
    }
    if (!refuse && argc > 16 && !(argv = malloc((size_t)argc * sizeof *argv)))
        refuse = "ERR out of memory";
    if (refuse) {
        lua_newtable(L);
        lua_pushstring(L, "err");
        lua_pushstring(L, refuse);
        lua_settable(L, -3);
        return 1;
    }
    for (int i = 1; i <= argc; i++) {
        size_t l; /* numbers become strings in place ("%.14g") */
        argv[i - 1].ptr = lua_tolstring(L, i, &l);
        argv[i - 1].len = l;
    }
    if (cmd->flags & RCACHE__CMD_WRITE)
        atomic_store(&S.wrote, 1);
    struct evbuffer *out = S.fake.out;
    evbuffer_drain(out, evbuffer_get_length(out));
    rcache__dispatch(&S.fake, (size_t)argc, argv);
    if (argv != stackv)
        free(argv);
    size_t len = evbuffer_get_length(out);
    const char *p = (const char *)evbuffer_pullup(out, -1);
    int is_err = len > 0 && p[0] == '-';
    if (!p || rcache__lua_from_resp(L, &p, p + len, 0) != 0) {
        evbuffer_drain(out, len);
        lua_newtable(L);
        lua_pushstring(L, "err");
        lua_pushstring(L, "ERR reply of the command could not be converted");
        lua_settable(L, -3);
        return 1;
    }
    evbuffer_drain(out, len);
    return is_err;
}

static int l_call(lua_State *L) {
    if (run_call(L))
        return lua_error(L); /* the {err=...} table */
    return 1;
}

static int l_pcall(lua_State *L) {
    run_call(L);
    return 1;
}

static int reply_table(lua_State *L, const char *field) {
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING)
        return raise_err(L, "wrong number or type of arguments");
    lua_newtable(L);
    lua_pushstring(L, field);
    lua_pushvalue(L, 1);
    lua_settable(L, -3);
    return 1;
}

static int l_error_reply(lua_State *L) { return reply_table(L, "err"); }
static int l_status_reply(lua_State *L) { return reply_table(L, "ok"); }

static int l_sha1hex(lua_State *L) {
    if (lua_gettop(L) != 1)
        return luaL_error(L, "wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    rcache__sha1hex(s ? s : "", s ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int l_log(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 2)
        return luaL_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1))
        return luaL_error(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < RCACHE__LOG_DEBUG || level > RCACHE__LOG_WARNING)
        return luaL_error(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        size_t l;
        const char *s = lua_tolstring(L, i, &l);
        if (s) {
            if (i > 2)
                luaL_addchar(&b, ' ');
            luaL_addlstring(&b, s, l);
        }
    }
    luaL_pushresult(&b);
    rcache__log(level, "%s", lua_tostring(L, -1));
    return 0;
}

/* The protocol redis.call's replies come in (and booleans go out in):
 * 2 (the default at every script start) or 3. */
static int l_setresp(lua_State *L) {
    if (lua_gettop(L) != 1)
        return raise_err(L, "ERR redis.setresp() requires one argument.");
    int v = (int)lua_tonumber(L, 1);
    if (v != 2 && v != 3)
        return raise_err(L, "ERR RESP version must be 2 or 3.");
    S.fake.resp3 = v == 3;
    return 0;
}

/* ---- the state and its sandbox ---------------------------------------- */

static int l_global_new(lua_State *L) {
    return luaL_error(L, "Script attempted to create global variable '%s'",
                      lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
}

static int l_global_get(lua_State *L) {
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
}

static void open_lib(lua_State *L, lua_CFunction f, const char *name) {
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static void register_redis(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"call", l_call},           {"pcall", l_pcall},
        {"error_reply", l_error_reply}, {"status_reply", l_status_reply},
        {"sha1hex", l_sha1hex},     {"log", l_log},
        {"setresp", l_setresp},     {NULL, NULL}};
    lua_newtable(L);
    for (const luaL_Reg *r = fns; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_setfield(L, -2, r->name);
    }
    static const char *levels[] = {"LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"};
    for (int i = 0; i < 4; i++) {
        lua_pushnumber(L, i);
        lua_setfield(L, -2, levels[i]);
    }
    lua_pushstring(L, "7.0.0");
    lua_setfield(L, -2, "REDIS_VERSION");
    lua_pushnumber(L, 0x070000);
    lua_setfield(L, -2, "REDIS_VERSION_NUM");
    lua_setglobal(L, "redis");
}

static int setup_state(lua_State *L) {
    open_lib(L, luaopen_base, "");
    open_lib(L, luaopen_table, LUA_TABLIBNAME);
    open_lib(L, luaopen_string, LUA_STRLIBNAME);
    open_lib(L, luaopen_math, LUA_MATHLIBNAME);
    open_lib(L, luaopen_os, LUA_OSLIBNAME);
    /* os: keep only clock. */
    lua_getglobal(L, "os");
    lua_getfield(L, -1, "clock");
    lua_newtable(L);
    lua_insert(L, -2);
    lua_setfield(L, -2, "clock");
    lua_setglobal(L, "os");
    lua_pop(L, 1);
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    static const char *drop[] = {"dofile", "loadfile", "load", "loadstring", "require",
                                 "module", "package", "print", "setfenv", "getfenv",
                                 "newproxy", "gcinfo", "io", "debug"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, drop[i]);
    }
    register_redis(L);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPTS_KEY);
    /* Protect the globals. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_newtable(L);
    lua_pushcfunction(L, l_global_new);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, l_global_get);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    return 0;
}

static int protected_setup(lua_State *L) {
    return setup_state(L);
}

lua_State *rcache__lua_new_state(void) {
    if (!S.fake.out && !(S.fake.out = evbuffer_new()))
        return NULL;
    lua_State *L = lua_newstate(l_alloc, NULL);
    if (!L)
        return NULL;
    if (lua_cpcall(L, protected_setup, NULL) != 0) {
        lua_close(L);
        return NULL;
    }
    return L;
}

/* The EVAL state, created on first use. NULL when out of memory. */
static lua_State *state(void) {
    if (!S.L)
        S.L = rcache__lua_new_state();
    return S.L;
}

/* ---- load, run, kill -------------------------------------------------- */

/* Push the loaded function sha, or nothing (returns 0). */
static int push_script(lua_State *L, const char *sha) {
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPTS_KEY);
    lua_getfield(L, -1, sha);
    lua_remove(L, -2);
    if (lua_isfunction(L, -1))
        return 1;
    lua_pop(L, 1);
    return 0;
}

int rcache__script_exists(const char *sha) {
    lua_State *L = S.L;
    if (!L || !push_script(L, sha))
        return 0;
    lua_pop(L, 1);
    return 1;
}

/* "#!lua flags=no-writes,..." first line: blank it (line numbers stay)
 * and note no-writes. -1 for an unknown engine. */
static int shebang(char *body, size_t len, int *readonly) {
    if (len < 2 || body[0] != '#' || body[1] != '!')
        return 0;
    char *nl = memchr(body, '\n', len);
    size_t l = nl ? (size_t)(nl - body) : len;
    if (l < 5 || memcmp(body + 2, "lua", 3) != 0 || (l > 5 && body[5] != ' '))
        return -1;
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)l, body);
    if (strstr(line, "no-writes"))
        *readonly = 1;
    memset(body, ' ', l);
    return 0;
}

int rcache__script_load(rcache__client_t *c, const char *body, size_t len,
                        char sha_out[41]) {
    lua_State *L = state();
    if (!L) {
        rcache__reply_error(c, "ERR out of memory creating the Lua state");
        return -1;
    }
    rcache__sha1hex(body, len, sha_out);
    if (rcache__script_exists(sha_out))
        return 0;
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        rcache__reply_error(c, "ERR out of memory");
        return -1;
    }
    memcpy(copy, body, len);
    int ro = 0;
    if (shebang(copy, len, &ro) != 0) {
        free(copy);
        rcache__reply_error(c, "ERR Unexpected engine in script shebang");
        return -1;
    }
    int rc = luaL_loadbuffer(L, copy, len, "@user_script");
    free(copy);
    if (rc != 0) {
        rcache__reply_errorf(c, "ERR Error compiling script (new function): %s",
                             lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        lua_pop(L, 1);
        return -1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPTS_KEY);
    lua_insert(L, -2);
    lua_setfield(L, -2, sha_out);
    if (ro) { /* remember no-writes next to the function */
        lua_pushboolean(L, 1);
        char k[48];
        snprintf(k, sizeof k, "ro:%s", sha_out);
        lua_setfield(L, -2, k);
    }
    lua_pop(L, 1);
    return 0;
}

static void hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (atomic_load(&S.kill) || atomic_load(&S.abort)) {
        lua_sethook(L, hook, LUA_MASKCOUNT, 1); /* raise again at once if caught */
        lua_pushstring(L, "Script killed by user with SCRIPT KILL...");
        lua_error(L);
    }
    uint64_t limit = atomic_load_explicit(&S.caller->srv->lua_time_limit_ms,
                                          memory_order_relaxed);
    uint64_t el = rcache__mono_ms() - S.start_ms;
    if (!S.busy && limit && el >= limit) {
        S.busy = 1;
        rcache__gate_set_busy(1);
        rcache__log(RCACHE__LOG_WARNING,
                    "Slow script detected: still in execution after %llu milliseconds. "
                    "You can try killing the script using the SCRIPT KILL command.",
                    (unsigned long long)el);
    }
}

static void set_array(lua_State *L, const char *name, const rcache__arg_t *a, size_t n) {
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushlstring(L, a[i].ptr, a[i].len);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_pushstring(L, name);
    lua_insert(L, -2);
    lua_rawset(L, LUA_GLOBALSINDEX);
}

static int is_ro_script(lua_State *L, const char *sha) {
    char k[48];
    snprintf(k, sizeof k, "ro:%s", sha);
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPTS_KEY);
    lua_getfield(L, -1, k);
    int ro = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return ro;
}

/* Reply the error a failed lua_pcall left at the top (and pop it), as
 * Redis 7.0 words it: "<error> script: <name>, on @user_script:<line>."
 * (@user_function for a function). name: the script's SHA1 or the
 * function's name. */
static void reply_run_error(rcache__client_t *c, lua_State *L, const char *name, int fn) {
    const char *chunk = fn ? "user_function" : "user_script";
    if (atomic_load(&S.kill) || atomic_load(&S.abort)) {
        rcache__reply_error(c, "ERR Script killed by user with SCRIPT KILL...");
    } else if (lua_type(L, -1) == LUA_TTABLE && table_str_field(L, "err")) {
        lua_pushstring(L, "line");
        lua_rawget(L, -2);
        int line = lua_type(L, -1) == LUA_TNUMBER ? (int)lua_tonumber(L, -1) : 0;
        lua_pop(L, 1);
        if (line > 0)
            rcache__reply_errorf(c, "%s script: %s, on @%s:%d.", table_str_field(L, "err"),
                                 name, chunk, line);
        else
            rcache__reply_error(c, table_str_field(L, "err"));
    } else {
        const char *m = lua_tostring(L, -1);
        size_t cl = strlen(chunk);
        int line = 0;
        if (m && strncmp(m, chunk, cl) == 0 && m[cl] == ':')
            line = (int)strtol(m + cl + 1, NULL, 10);
        rcache__reply_errorf(c, "ERR %s script: %s, on @%s:%d.", m ? m : "unknown error",
                             name, chunk, line);
    }
    lua_pop(L, 1);
}

/* lua_pcall's message handler: an {err=...} table (redis.call's error,
 * error({err=...})) gets the line of the Lua code that raised it, which
 * reply_run_error() shows as Redis does. */
static int err_handler(lua_State *L) {
    lua_Debug ar;
    if (lua_type(L, 1) != LUA_TTABLE)
        return 1;
    for (int lvl = 0; lua_getstack(L, lvl, &ar); lvl++) {
        if (lua_getinfo(L, "l", &ar) && ar.currentline > 0) {
            lua_pushstring(L, "line");
            lua_pushnumber(L, ar.currentline);
            lua_rawset(L, 1);
            break;
        }
    }
    lua_settop(L, 1);
    return 1;
}

int rcache__script_run(rcache__client_t *c, const char *sha,
                       const rcache__arg_t *keys, size_t nkeys,
                       const rcache__arg_t *args, size_t nargs, int readonly) {
    lua_State *L = S.L;
    if (!L || !push_script(L, sha))
        return -1;
    if (!lua_checkstack(L, (int)(nkeys > nargs ? nkeys : nargs) + 8)) {
        lua_pop(L, 1);
        rcache__reply_error(c, "ERR too many arguments for the Lua stack");
        return 0;
    }
    set_array(L, "KEYS", keys, nkeys);
    set_array(L, "ARGV", args, nargs);
    rcache__lua_call(c, L, 0, readonly || is_ro_script(L, sha), sha, 0);
    return 0;
}

void rcache__lua_call(rcache__client_t *c, lua_State *L, int nargs, int readonly,
                      const char *name, int is_function) {
    S.caller = c;
    S.fake.srv = c->srv;
    S.fake.w = c->w;
    S.fake.authed = 1;
    S.fake.db = c->db; /* SELECT in a script changes only the script's */
    S.fake.id = c->id;
    S.fake.resp3 = 0; /* redis.setresp(3) for RESP3 replies to redis.call */
    S.readonly = readonly;
    S.busy = 0;
    S.start_ms = rcache__mono_ms();
    atomic_store(&S.wrote, 0);
    atomic_store(&S.kill, 0);
    atomic_store(&S.is_function, is_function);
    atomic_store(&S.running, 1);
    lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
    lua_pushcfunction(L, err_handler);
    lua_insert(L, -(nargs + 2));
    int handler = lua_gettop(L) - nargs - 1;
    int rc = lua_pcall(L, nargs, 1, handler);
    atomic_store(&S.running, 0);
    if (S.busy)
        rcache__gate_set_busy(0);
    lua_sethook(L, NULL, 0, 0);
    if (rc != 0)
        reply_run_error(c, L, name, is_function);
    else {
        if (rcache__lua_reply_too_deep(L, 0))
            rcache__reply_error(c, "ERR reached lua stack limit");
        else
            rcache__lua_to_resp(c, L, S.fake.resp3);
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* the handler */
    atomic_store(&S.kill, 0);
    S.caller = NULL;
    lua_gc(L, LUA_GCSTEP, 1);
}

void rcache__script_flush(void) {
    if (S.L)
        lua_close(S.L);
    S.L = NULL;
}

int rcache__script_kill(int function) {
    if (!atomic_load(&S.running))
        return RCACHE__KILL_NOTBUSY;
    if (atomic_load(&S.wrote))
        return RCACHE__KILL_UNKILLABLE;
    if (atomic_load(&S.is_function) != function)
        return RCACHE__KILL_OTHER_KIND;
    atomic_store(&S.kill, 1);
    return RCACHE__KILL_OK;
}

uint64_t rcache__lua_memory(void) {
    return atomic_load_explicit(&S.mem, memory_order_relaxed);
}

void rcache__script_abort(void) {
    atomic_store(&S.abort, 1);
}

void rcache__script_shutdown(void) {
    rcache__script_flush();
    if (S.fake.out)
        evbuffer_free(S.fake.out);
    S.fake.out = NULL;
}
