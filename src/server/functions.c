/*
 * functions.c - Redis 7 functions (functions.h): the library registry,
 * loading a library's code (the `#!lua name=...` shebang and
 * redis.register_function), and running a function for FCALL/FCALL_RO on
 * the EVAL engine (script_lua.c's sandbox, redis.call, time limit, KILL).
 *
 * Functions have their own Lua state, as in Redis, so SCRIPT FLUSH does not
 * touch them. Its globals table is empty and read-only; its metatable's
 * __index is the "load API" while a library's code runs (only
 * redis.register_function, redis.log, redis.LOG_* and redis.REDIS_VERSION*,
 * as Redis 7.0 offers) and the whole sandbox afterwards, which is what the
 * registered callbacks see when FCALL runs them.
 *
 * Every change (LOAD, DELETE, RESTORE) builds a new state from the codes of
 * the resulting set of libraries and swaps it in only if all of them load:
 * a failed change leaves the registry as it was, with no undo code. The
 * cost is reloading every library on each change (libraries are few and
 * small; loads are rare). All of this runs under the exclusive gate.
 */
#include "functions.h"

#include "script.h"

#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_TIMEOUT_MS 500 /* Redis's limit on a library's load */
#define FUNCS_KEY "rcache_fn_callbacks"  /* registry: name -> callback */
#define PENDING_KEY "rcache_fn_pending"  /* registry: this load's callbacks */
#define GMETA_KEY "rcache_fn_gmeta"      /* registry: the globals' metatable */
#define RUNAPI_KEY "rcache_fn_runapi"    /* registry: the sandbox globals */
#define NAME_ERR "Library names can only contain letters, numbers, or underscores(_) " \
                 "and must be at least one character long"

static const char *const FLAG_NAMES[RCACHE__FN_NFLAGS] = {
    "no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"};

static struct {
    lua_State *L;
    rcache__lib_t *libs;
    size_t nlibs;
    rcache__lib_t *loading; /* the library whose code runs (register_function) */
    uint64_t load_start_ms;
    pthread_mutex_t m;      /* running_name / running_start for STATS */
    char running_name[128];
    uint64_t running_start;
    _Atomic size_t count_libs, count_fns; /* FUNCTION STATS, any thread */
    /* the libraries' codes for snapshots (any thread), under codes_m */
    pthread_mutex_t codes_m;
    char **codes;
    size_t *lens, ncodes;
    int codes_oom;          /* the last copy failed: snapshots must not lie */
} F = {.m = PTHREAD_MUTEX_INITIALIZER, .codes_m = PTHREAD_MUTEX_INITIALIZER};

const char *rcache__fn_flag_name(int i) { return FLAG_NAMES[i]; }

void rcache__functions_codes_free(char **codes, size_t *lens, size_t n) {
    for (size_t i = 0; codes && i < n; i++)
        free(codes[i]);
    free(codes);
    free(lens);
}

/* Copy n codes (codes[i] of lens[i] bytes) into new arrays. 0 or -1. */
static int copy_codes(const char *const *codes, const size_t *lens, size_t n,
                      char ***codes_out, size_t **lens_out) {
    char **c = calloc(n + 1, sizeof *c);
    size_t *l = calloc(n + 1, sizeof *l);
    int ok = c && l;
    for (size_t i = 0; ok && i < n; i++) {
        l[i] = lens[i];
        ok = (c[i] = malloc(l[i] + 1)) != NULL;
        if (ok)
            memcpy(c[i], codes[i], l[i]);
    }
    if (!ok) {
        rcache__functions_codes_free(c, l, n);
        return -1;
    }
    *codes_out = c;
    *lens_out = l;
    return 0;
}

int rcache__functions_codes(char ***codes, size_t **lens, size_t *n) {
    pthread_mutex_lock(&F.codes_m);
    int rc = F.codes_oom ? -1
                         : copy_codes((const char *const *)F.codes, F.lens, F.ncodes, codes,
                                      lens);
    *n = rc == 0 ? F.ncodes : 0;
    pthread_mutex_unlock(&F.codes_m);
    return rc;
}

/* Publish the counts and the codes after a change of F.libs. */
static void recount(void) {
    size_t fns = 0;
    for (size_t i = 0; i < F.nlibs; i++)
        fns += F.libs[i].nfns;
    atomic_store(&F.count_libs, F.nlibs);
    atomic_store(&F.count_fns, fns);
    char **codes = NULL;
    size_t *lens = NULL;
    const char **src = calloc(F.nlibs + 1, sizeof *src);
    size_t *src_lens = calloc(F.nlibs + 1, sizeof *src_lens);
    int rc = -1;
    if (src && src_lens) {
        for (size_t i = 0; i < F.nlibs; i++) {
            src[i] = F.libs[i].code;
            src_lens[i] = F.libs[i].code_len;
        }
        rc = copy_codes(src, src_lens, F.nlibs, &codes, &lens);
    }
    free(src);
    free(src_lens);
    pthread_mutex_lock(&F.codes_m);
    rcache__functions_codes_free(F.codes, F.lens, F.ncodes);
    F.codes = codes;
    F.lens = lens;
    F.ncodes = rc == 0 ? F.nlibs : 0;
    F.codes_oom = rc != 0;
    pthread_mutex_unlock(&F.codes_m);
}

size_t rcache__functions_count(int fns) {
    return atomic_load(fns ? &F.count_fns : &F.count_libs);
}

const rcache__lib_t *rcache__functions_libs(size_t *n) {
    *n = F.nlibs;
    return F.libs;
}

/* ---- library lists ---------------------------------------------------- */

static void lib_clear_fns(rcache__lib_t *lib) {
    for (size_t i = 0; i < lib->nfns; i++) {
        free(lib->fns[i].name);
        free(lib->fns[i].desc);
    }
    free(lib->fns);
    lib->fns = NULL;
    lib->nfns = lib->capfns = 0;
}

static void libs_free(rcache__lib_t *libs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        lib_clear_fns(&libs[i]);
        free(libs[i].name);
        free(libs[i].code);
    }
    free(libs);
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int valid_name(const char *s, size_t n) {
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return 1;
}

static ssize_t lib_find(const rcache__lib_t *libs, size_t n, const char *name, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(libs[i].name) == len && memcmp(libs[i].name, name, len) == 0)
            return (ssize_t)i;
    return -1;
}

/* ---- redis.register_function (load API) ------------------------------- */

static int raise(lua_State *L, const char *msg) {
    lua_pushstring(L, msg);
    return lua_error(L);
}

/* Flags table at idx -> bits; raises on a bad one. */
static unsigned read_flags(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE)
        raise(L, "ERR flags argument to redis.register_function must be a table "
                 "representing function flags");
    unsigned bits = 0;
    for (int i = 1;; i++) {
        lua_rawgeti(L, idx, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            return bits;
        }
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        int found = 0;
        for (int f = 0; f < RCACHE__FN_NFLAGS; f++)
            if (strcmp(s, FLAG_NAMES[f]) == 0) {
                bits |= 1u << f;
                found = 1;
            }
        lua_pop(L, 1);
        if (!found)
            raise(L, "ERR unknown flag given");
    }
}

/* The named-arguments form: leaves name (1), callback (2) and the
 * description (3, or nil) on the stack; flags in *flags. */
static void named_args(lua_State *L, unsigned *flags) {
    lua_settop(L, 1);
    lua_pushnil(L); /* 2 name */
    lua_pushnil(L); /* 3 callback */
    lua_pushnil(L); /* 4 description */
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        if (strcmp(k, "function_name") == 0) {
            if (!lua_isstring(L, -1))
                raise(L, "ERR function_name argument given to redis.register_function "
                         "must be a string");
            lua_replace(L, 2);
        } else if (strcmp(k, "callback") == 0) {
            if (lua_type(L, -1) != LUA_TFUNCTION)
                raise(L, "ERR callback argument given to redis.register_function must "
                         "be a function");
            lua_replace(L, 3);
        } else if (strcmp(k, "description") == 0) {
            if (!lua_isstring(L, -1))
                raise(L, "ERR description argument given to redis.register_function "
                         "must be a string");
            lua_replace(L, 4);
        } else if (strcmp(k, "flags") == 0) {
            *flags = read_flags(L, lua_gettop(L));
            lua_pop(L, 1);
        } else {
            raise(L, "ERR unknown argument given to redis.register_function");
        }
    }
    if (lua_isnil(L, 2))
        raise(L, "ERR redis.register_function must get a function name argument");
    if (lua_isnil(L, 3))
        raise(L, "ERR redis.register_function must get a callback argument");
    lua_remove(L, 1);
}

static int l_register_function(lua_State *L) {
    rcache__lib_t *lib = F.loading;
    unsigned flags = 0;
    int argc = lua_gettop(L);
    if (!lib)
        return raise(L, "ERR redis.register_function can only be called on FUNCTION LOAD command");
    if (argc == 1) {
        if (lua_type(L, 1) != LUA_TTABLE)
            return raise(L, "ERR calling redis.register_function with a single argument is "
                            "only applicable to Lua table (representing named arguments).");
        named_args(L, &flags);
    } else if (argc == 2) {
        if (!lua_isstring(L, 1))
            return raise(L, "ERR first argument to redis.register_function must be a string");
        if (lua_type(L, 2) != LUA_TFUNCTION)
            return raise(L, "ERR second argument to redis.register_function must be a function");
        lua_pushnil(L);
    } else {
        return raise(L, "ERR wrong number of arguments to redis.register_function");
    }
    size_t nl;
    const char *name = lua_tolstring(L, 1, &nl);
    if (!valid_name(name, nl))
        return raise(L, "ERR " NAME_ERR);
    for (size_t i = 0; i < lib->nfns; i++)
        if (strcmp(lib->fns[i].name, name) == 0)
            return raise(L, "ERR Function already exists in the library");
    if (lib->nfns == lib->capfns) {
        size_t cap = lib->capfns ? lib->capfns * 2 : 4;
        rcache__fn_t *nf = realloc(lib->fns, cap * sizeof *nf);
        if (!nf)
            return raise(L, "ERR out of memory");
        lib->fns = nf;
        lib->capfns = cap;
    }
    rcache__fn_t *fn = &lib->fns[lib->nfns];
    memset(fn, 0, sizeof *fn);
    fn->flags = flags;
    fn->name = dup_n(name, nl);
    if (!fn->name)
        return raise(L, "ERR out of memory");
    lib->nfns++;
    if (!lua_isnil(L, 3)) {
        size_t dl;
        const char *d = lua_tolstring(L, 3, &dl);
        if (!(fn->desc = dup_n(d, dl)))
            return raise(L, "ERR out of memory");
    }
    lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_settable(L, -3);
    return 0;
}

/* ---- the state -------------------------------------------------------- */

static int l_readonly(lua_State *L) {
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* A copy of the table at the top with the sandbox's protecting metatable
 * (reading an unknown name raises), pushed. */
static void push_protected_copy(lua_State *L, int src) {
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, src)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_getmetatable(L, LUA_GLOBALSINDEX);
    lua_setmetatable(L, -2);
}

/* Turn the sandbox from rcache__lua_new_state() into the functions' state
 * (lua_cpcall: raises only on out of memory). */
static int setup_env(lua_State *L) {
    push_protected_copy(L, LUA_GLOBALSINDEX); /* the run API */
    lua_setfield(L, LUA_REGISTRYINDEX, RUNAPI_KEY);
    lua_newtable(L); /* load API (protected below, once filled) */
    lua_newtable(L); /* its redis table */
    lua_getglobal(L, "redis");
    static const char *copy[] = {"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE",
                                 "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
        lua_getfield(L, -1, copy[i]);
        lua_setfield(L, -3, copy[i]);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_register_function);
    lua_setfield(L, -2, "register_function");
    lua_getmetatable(L, LUA_GLOBALSINDEX);
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "redis");
    lua_getmetatable(L, LUA_GLOBALSINDEX);
    lua_setmetatable(L, -2);
    lua_newtable(L); /* the globals' metatable */
    lua_insert(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, GMETA_KEY);
    lua_newtable(L); /* the new, empty globals */
    lua_insert(L, -2);
    lua_setmetatable(L, -2);
    lua_replace(L, LUA_GLOBALSINDEX);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
    return 0;
}

static void load_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (rcache__mono_ms() - F.load_start_ms > LOAD_TIMEOUT_MS) {
        lua_sethook(L, load_hook, LUA_MASKCOUNT, 1);
        raise(L, "ERR FUNCTION LOAD timeout");
    }
}

/* The error a failed load left at the top, as "ERR ..." text (popped). */
static void pop_error(lua_State *L, const char *prefix, char *err, size_t cap) {
    const char *m = lua_tostring(L, -1);
    if (!m)
        m = "unknown error";
    snprintf(err, cap, "%s%s%s", prefix, strncmp(m, "ERR ", 4) == 0 ? "" : "ERR ", m);
    lua_pop(L, 1);
}

/* Run one library's code in L and move its callbacks into FUNCS_KEY.
 * 0, or -1 with Redis's error text in err ("ERR ..."). */
static int load_one(lua_State *L, rcache__lib_t *lib, char *err, size_t cap) {
    lib_clear_fns(lib);
    char *body = dup_n(lib->code, lib->code_len);
    if (!body) {
        snprintf(err, cap, "ERR out of memory");
        return -1;
    }
    char *nl = memchr(body, '\n', lib->code_len);
    memset(body, ' ', nl ? (size_t)(nl - body) : lib->code_len); /* the shebang */
    int rc = luaL_loadbuffer(L, body, lib->code_len, "@user_function");
    free(body);
    if (rc != 0) {
        snprintf(err, cap, "ERR Error compiling function: %s",
                 lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        lua_pop(L, 1);
        return -1;
    }
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
    F.loading = lib;
    F.load_start_ms = rcache__mono_ms();
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    rc = lua_pcall(L, 0, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    F.loading = NULL;
    if (rc != 0) {
        pop_error(L, "ERR Error registering functions: ", err, cap);
        return -1;
    }
    if (lib->nfns == 0) {
        snprintf(err, cap, "ERR No functions registered");
        return -1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
    for (size_t i = 0; i < lib->nfns; i++) {
        lua_getfield(L, -2, lib->fns[i].name);
        int taken = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (taken) {
            lua_pop(L, 2);
            snprintf(err, cap, "ERR Function %s already exists", lib->fns[i].name);
            return -1;
        }
        lua_getfield(L, -1, lib->fns[i].name);
        lua_setfield(L, -3, lib->fns[i].name);
    }
    lua_pop(L, 2);
    return 0;
}

/* Build a state holding libs[0..n). 0 with *out, or -1 with err set. */
static int build(rcache__lib_t *libs, size_t n, lua_State **out, char *err, size_t cap) {
    lua_State *L = rcache__lua_new_state();
    if (!L || lua_cpcall(L, setup_env, NULL) != 0) {
        snprintf(err, cap, "ERR out of memory creating the Lua state%s%s",
                 L && lua_tostring(L, -1) ? ": " : "", L ? lua_tostring(L, -1) : "");
        if (L)
            lua_close(L);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (load_one(L, &libs[i], err, cap) != 0) {
            lua_close(L);
            return -1;
        }
    /* Loading is over: the callbacks see the whole sandbox from now on. */
    lua_getfield(L, LUA_REGISTRYINDEX, GMETA_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, RUNAPI_KEY);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    *out = L;
    return 0;
}

/* Make libs (n, owned) the registry if they all load; else free them and
 * reply the error to c. 0 or -1. */
static int commit(rcache__client_t *c, rcache__lib_t *libs, size_t n) {
    char err[512];
    lua_State *L = NULL;
    if (build(libs, n, &L, err, sizeof err) != 0) {
        libs_free(libs, n);
        rcache__reply_error(c, err);
        return -1;
    }
    if (F.L)
        lua_close(F.L);
    libs_free(F.libs, F.nlibs);
    F.L = L;
    F.libs = libs;
    F.nlibs = n;
    recount();
    return 0;
}

/* A copy of the registry's libraries (names and codes), with room for
 * `extra` more; NULL when out of memory. */
static rcache__lib_t *copy_libs(size_t extra) {
    rcache__lib_t *l = calloc(F.nlibs + extra + 1, sizeof *l);
    if (!l)
        return NULL;
    for (size_t i = 0; i < F.nlibs; i++) {
        l[i].name = strdup(F.libs[i].name);
        l[i].code = dup_n(F.libs[i].code, F.libs[i].code_len);
        l[i].code_len = F.libs[i].code_len;
        if (!l[i].name || !l[i].code) {
            libs_free(l, i + 1);
            return NULL;
        }
    }
    return l;
}

/* ---- metadata ----------------------------------------------------------- */

/* Parse "#!<engine> name=<lib>\n" (Redis's rules and texts). 0 with the
 * name (malloc'd), or -1 with err set. */
static int parse_shebang(const char *code, size_t len, char **name, char *err, size_t cap) {
    *name = NULL;
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        snprintf(err, cap, "ERR Missing library metadata");
        return -1;
    }
    const char *nl = memchr(code, '\n', len);
    if (!nl) {
        snprintf(err, cap, "ERR Invalid library metadata");
        return -1;
    }
    const char *p = code + 2, *engine = NULL;
    size_t elen = 0;
    while (p < nl) {
        while (p < nl && *p == ' ')
            p++;
        const char *w = p;
        while (p < nl && *p != ' ')
            p++;
        size_t wl = (size_t)(p - w);
        if (wl == 0)
            break;
        if (!engine) {
            engine = w;
            elen = wl;
        } else if (wl >= 5 && memcmp(w, "name=", 5) == 0) {
            if (*name) {
                snprintf(err, cap, "ERR Invalid metadata value, name argument was given "
                                   "multiple times");
                goto fail;
            }
            if (!(*name = dup_n(w + 5, wl - 5))) {
                snprintf(err, cap, "ERR out of memory");
                goto fail;
            }
        } else {
            snprintf(err, cap, "ERR Invalid metadata value given: %.*s", (int)wl, w);
            goto fail;
        }
    }
    if (!*name) {
        snprintf(err, cap, "ERR Library name was not given");
        goto fail;
    }
    if (elen != 3 || strncasecmp(engine, "lua", 3) != 0) {
        snprintf(err, cap, "ERR Engine '%.*s' not found", (int)elen, engine ? engine : "");
        goto fail;
    }
    if (!valid_name(*name, strlen(*name))) {
        snprintf(err, cap, "ERR " NAME_ERR);
        goto fail;
    }
    return 0;
fail:
    free(*name);
    *name = NULL;
    return -1;
}

/* ---- the commands' entry points ---------------------------------------- */

/* Put code into list l (n entries, room for one more) as a new or
 * replacing library: its index, or -1 after replying an error. */
static ssize_t add_code(rcache__client_t *c, rcache__lib_t *l, size_t *n, const char *code,
                    size_t len, int replace) {
    char err[256], *name;
    if (parse_shebang(code, len, &name, err, sizeof err) != 0) {
        rcache__reply_error(c, err);
        return -1;
    }
    ssize_t at = lib_find(l, *n, name, strlen(name));
    if (at >= 0 && !replace) {
        rcache__reply_errorf(c, "ERR Library '%s' already exists", name);
        free(name);
        return -1;
    }
    char *copy = dup_n(code, len);
    if (!copy) {
        free(name);
        rcache__reply_error(c, "ERR out of memory");
        return -1;
    }
    if (at < 0)
        at = (ssize_t)(*n)++;
    rcache__lib_t *lib = &l[at];
    lib_clear_fns(lib);
    free(lib->name);
    free(lib->code);
    lib->name = name;
    lib->code = copy;
    lib->code_len = len;
    return at;
}

int rcache__functions_load(rcache__client_t *c, const char *code, size_t len,
                           int replace, const char **name_out) {
    size_t n = F.nlibs;
    rcache__lib_t *l = copy_libs(1);
    if (!l) {
        rcache__reply_error(c, "ERR out of memory");
        return -1;
    }
    ssize_t at = add_code(c, l, &n, code, len, replace);
    if (at < 0) {
        libs_free(l, n);
        return -1;
    }
    if (commit(c, l, n) != 0)
        return -1;
    *name_out = F.libs[at].name;
    return 0;
}

int rcache__functions_delete(const char *name, size_t len) {
    ssize_t at = lib_find(F.libs, F.nlibs, name, len);
    if (at < 0)
        return -1;
    size_t n = F.nlibs;
    rcache__lib_t *l = copy_libs(0);
    if (l) {
        rcache__lib_t gone = l[at];
        memmove(&l[at], &l[at + 1], (n - (size_t)at - 1) * sizeof *l);
        lib_clear_fns(&gone);
        free(gone.name);
        free(gone.code);
        /* The others loaded before; only out of memory can fail here. */
        char err[512];
        lua_State *L = NULL;
        if (build(l, n - 1, &L, err, sizeof err) == 0) {
            lua_close(F.L);
            libs_free(F.libs, F.nlibs);
            F.L = L;
            F.libs = l;
            F.nlibs = n - 1;
            recount();
            return 0;
        }
        libs_free(l, n - 1);
    }
    /* No memory for a rebuild: drop the callbacks from the live state. */
    rcache__lib_t *lib = &F.libs[at];
    lua_getfield(F.L, LUA_REGISTRYINDEX, FUNCS_KEY);
    for (size_t i = 0; i < lib->nfns; i++) {
        lua_pushnil(F.L);
        lua_setfield(F.L, -2, lib->fns[i].name);
    }
    lua_pop(F.L, 1);
    rcache__lib_t gone = *lib;
    memmove(lib, lib + 1, (F.nlibs - (size_t)at - 1) * sizeof *lib);
    F.nlibs--;
    lib_clear_fns(&gone);
    free(gone.name);
    free(gone.code);
    recount();
    return 0;
}

void rcache__functions_flush(void) {
    if (F.L)
        lua_close(F.L);
    libs_free(F.libs, F.nlibs);
    F.L = NULL;
    F.libs = NULL;
    F.nlibs = 0;
    recount();
}

int rcache__functions_restore(rcache__client_t *c, char **codes, const size_t *lens,
                              size_t n, int policy) {
    size_t have = policy == 'F' ? 0 : F.nlibs;
    rcache__lib_t *l = policy == 'F' ? calloc(n + 1, sizeof *l) : copy_libs(n);
    if (!l) {
        rcache__reply_error(c, "ERR out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (add_code(c, l, &have, codes[i], lens[i], policy == 'R') < 0) {
            libs_free(l, have);
            return -1;
        }
    }
    return commit(c, l, have);
}

void rcache__functions_call(rcache__client_t *c, const rcache__arg_t *name,
                            const rcache__arg_t *keys, size_t nkeys,
                            const rcache__arg_t *args, size_t nargs, int ro_cmd) {
    const rcache__fn_t *fn = NULL;
    for (size_t i = 0; i < F.nlibs && !fn; i++)
        for (size_t j = 0; j < F.libs[i].nfns; j++)
            if (strlen(F.libs[i].fns[j].name) == name->len &&
                memcmp(F.libs[i].fns[j].name, name->ptr, name->len) == 0) {
                fn = &F.libs[i].fns[j];
                break;
            }
    if (!fn) {
        rcache__reply_error(c, "ERR Function not found");
        return;
    }
    int ro = (fn->flags & RCACHE__FN_NO_WRITES) != 0;
    if (ro_cmd && !ro) {
        rcache__reply_error(c, "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    lua_State *L = F.L;
    size_t most = nkeys > nargs ? nkeys : nargs;
    if (most > (size_t)INT32_MAX || !lua_checkstack(L, 8)) {
        rcache__reply_error(c, "ERR too many arguments for the Lua stack");
        return;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
    lua_getfield(L, -1, fn->name);
    lua_remove(L, -2);
    const rcache__arg_t *lists[2] = {keys, args};
    size_t counts[2] = {nkeys, nargs};
    for (int t = 0; t < 2; t++) {
        lua_createtable(L, (int)counts[t], 0);
        for (size_t i = 0; i < counts[t]; i++) {
            lua_pushlstring(L, lists[t][i].ptr, lists[t][i].len);
            lua_rawseti(L, -2, (int)i + 1);
        }
    }
    pthread_mutex_lock(&F.m);
    snprintf(F.running_name, sizeof F.running_name, "%s", fn->name);
    F.running_start = rcache__mono_ms();
    pthread_mutex_unlock(&F.m);
    rcache__lua_call(c, L, 2, ro, fn->name, 1);
    pthread_mutex_lock(&F.m);
    F.running_name[0] = '\0';
    pthread_mutex_unlock(&F.m);
}

int rcache__functions_running(char *name, size_t cap, uint64_t *ms) {
    pthread_mutex_lock(&F.m);
    int on = F.running_name[0] != '\0';
    if (on) {
        snprintf(name, cap, "%s", F.running_name);
        *ms = rcache__mono_ms() - F.running_start;
    }
    pthread_mutex_unlock(&F.m);
    return on;
}

void rcache__functions_shutdown(void) {
    rcache__functions_flush();
    pthread_mutex_lock(&F.codes_m);
    rcache__functions_codes_free(F.codes, F.lens, F.ncodes);
    F.codes = NULL;
    F.lens = NULL;
    F.ncodes = 0;
    pthread_mutex_unlock(&F.codes_m);
}
