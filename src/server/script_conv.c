/*
 * script_conv.c - the conversions between RESP replies and Lua values that
 * scripts and functions see (script.h), with Redis 7.0's rules for both
 * protocols.
 *
 * Why a file of its own: the rules are a table of cases (Redis's
 * script_lua.c redisProtocolToLuaType_* and luaReplyToRedisReply) that
 * do not depend on the engine's state, and RESP3 doubles their number.
 *
 * RESP -> Lua (what redis.call returns; the reply comes from our own
 * dispatcher, in the protocol redis.setresp() chose, RESP2 by default):
 * integer -> number, bulk -> string, status -> {ok=...}, error ->
 * {err=...}, array -> table; RESP2 null bulk / null array -> false;
 * RESP3: null -> nil, boolean -> boolean, double -> {double=number},
 * map -> {map={k=v...}}, set -> {set={e=true...}}, verbatim string ->
 * {verbatim_string={format=..., string=...}}, big number -> {big_number=s}.
 *
 * Lua -> RESP (the script's result, to the calling client in its own
 * protocol; reply.c gives RESP2 clients the RESP2 forms): string -> bulk,
 * number -> integer (truncated), true -> 1 (#t after setresp(3)), false ->
 * null (#f after setresp(3)), nil -> null, tables {err=}, {ok=},
 * {double=}, {big_number=}, {verbatim_string=}, {map=}, {set=} in that
 * order of precedence, else the array part up to the first nil.
 */
#include "script.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 1000      /* nesting of converted replies */
#define MAX_REPLY_DEPTH 128 /* nesting of a script's reply (clients recurse) */

/* ---- RESP reply -> Lua ------------------------------------------------ */

/* t[name] = the value at the top (popped); t just below it. */
static void set_field(lua_State *L, const char *name) {
    lua_pushstring(L, name);
    lua_insert(L, -2);
    lua_settable(L, -3);
}

/* Parse n elements (pairs when map) at *pp into the table at the top:
 * array t[i], map t[k] = v, set t[e] = true. 0, or -1 (table left). */
static int fill_table(lua_State *L, const char **pp, const char *end, long long n,
                      char type, int depth) {
    for (long long i = 0; i < n; i++) {
        if (rcache__lua_from_resp(L, pp, end, depth + 1) != 0)
            return -1;
        if (type == '*') {
            lua_rawseti(L, -2, (int)i + 1);
            continue;
        }
        if (type == '~')
            lua_pushboolean(L, 1);
        else if (rcache__lua_from_resp(L, pp, end, depth + 1) != 0) {
            lua_pop(L, 1);
            return -1;
        }
        if (lua_isnil(L, -2)) { /* a nil key cannot be stored: skip it */
            lua_pop(L, 2);
            continue;
        }
        lua_settable(L, -3);
    }
    return 0;
}

/* An aggregate of n elements of type '*', '%' or '~' (header read). */
static int push_aggregate(lua_State *L, const char **pp, const char *end, long long n,
                          char type, int depth) {
    if (n < 0 || n > (long long)(end - *pp)) /* each element takes >= 3 bytes */
        return -1;
    if (type != '*')
        lua_newtable(L); /* the {map=...} / {set=...} wrapper */
    lua_createtable(L, type == '*' ? (n > 1024 ? 1024 : (int)n) : 0,
                    type == '*' ? 0 : (n > 1024 ? 1024 : (int)n));
    if (fill_table(L, pp, end, n, type, depth) != 0) {
        lua_pop(L, type == '*' ? 1 : 2);
        return -1;
    }
    if (type != '*')
        set_field(L, type == '%' ? "map" : "set");
    return 0;
}

/* {verbatim_string={format=p[0..3), string=p[4..len)}} */
static int push_verbatim(lua_State *L, const char *p, long long len) {
    if (len < 4 || p[3] != ':')
        return -1;
    lua_newtable(L);
    lua_newtable(L);
    lua_pushlstring(L, p + 4, (size_t)len - 4);
    set_field(L, "string");
    lua_pushlstring(L, p, 3);
    set_field(L, "format");
    set_field(L, "verbatim_string");
    return 0;
}

/* The line after the type byte as a number (for ':', '$', '*', ...). */
static int line_ll(const char *p, const char *eol, long long *n) {
    char num[32];
    size_t l = (size_t)(eol - p);
    if (l == 0 || l >= sizeof num)
        return -1;
    memcpy(num, p, l);
    num[l] = '\0';
    char *e;
    *n = strtoll(num, &e, 10);
    return *e == '\0' ? 0 : -1;
}

int rcache__lua_from_resp(lua_State *L, const char **pp, const char *end, int depth) {
    const char *p = *pp;
    if (p >= end || depth > MAX_DEPTH || !lua_checkstack(L, 6))
        return -1;
    const char *eol = memchr(p, '\r', (size_t)(end - p));
    if (!eol || eol + 1 >= end)
        return -1;
    char type = *p++;
    long long n = 0;
    const char *next = eol + 2;
    size_t l = (size_t)(eol - p);
    switch (type) {
    case '+':
    case '-':
        lua_newtable(L);
        lua_pushlstring(L, p, l);
        set_field(L, type == '+' ? "ok" : "err");
        break;
    case '(':
        lua_newtable(L);
        lua_pushlstring(L, p, l);
        set_field(L, "big_number");
        break;
    case ',': {
        char num[64];
        if (l == 0 || l >= sizeof num)
            return -1;
        memcpy(num, p, l);
        num[l] = '\0';
        lua_newtable(L);
        lua_pushnumber(L, (lua_Number)strtod(num, NULL));
        set_field(L, "double");
        break;
    }
    case '#':
        if (l != 1 || (*p != 't' && *p != 'f'))
            return -1;
        lua_pushboolean(L, *p == 't');
        break;
    case '_':
        lua_pushnil(L);
        break;
    case ':':
        if (line_ll(p, eol, &n) != 0)
            return -1;
        lua_pushnumber(L, (lua_Number)n);
        break;
    case '$':
    case '=':
        if (line_ll(p, eol, &n) != 0)
            return -1;
        if (n < 0 && type == '$') {
            lua_pushboolean(L, 0);
            break;
        }
        if (n < 0 || (long long)(end - next) < n + 2)
            return -1;
        if (type == '$')
            lua_pushlstring(L, next, (size_t)n);
        else if (push_verbatim(L, next, n) != 0)
            return -1;
        next += n + 2;
        break;
    case '*':
    case '%':
    case '~':
        if (line_ll(p, eol, &n) != 0)
            return -1;
        if (n < 0 && type == '*') {
            lua_pushboolean(L, 0);
            break;
        }
        if (push_aggregate(L, &next, end, n, type, depth) != 0)
            return -1;
        break;
    default:
        return -1;
    }
    *pp = next;
    return 0;
}

/* ---- Lua -> RESP reply ------------------------------------------------ */

/* The field `name` of the table at the top if it has Lua type `type`
 * (pushed, returns 1), else nothing pushed and 0. */
static int get_field(lua_State *L, const char *name, int type) {
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    if (lua_type(L, -1) == type)
        return 1;
    lua_pop(L, 1);
    return 0;
}

/* The string field `name` of the table at the top, or NULL. */
static const char *table_str_field(lua_State *L, const char *name) {
    if (!get_field(L, name, LUA_TSTRING))
        return NULL;
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays alive: the table references it */
    return s;
}

int rcache__lua_reply_too_deep(lua_State *L, int depth) {
    if (lua_type(L, -1) != LUA_TTABLE)
        return 0;
    if (depth >= MAX_REPLY_DEPTH || !lua_checkstack(L, 4))
        return 1;
    if (table_str_field(L, "err") || table_str_field(L, "ok"))
        return 0;
    for (int i = 1;; i++) {
        lua_rawgeti(L, -1, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        int deep = rcache__lua_reply_too_deep(L, depth + 1);
        lua_pop(L, 1);
        if (deep)
            return 1;
    }
}

static void to_resp(rcache__client_t *c, lua_State *L, int script_resp3, int depth);

/* {map=t} (pairs) or {set=t} (keys) with t at the top (left there). */
static void reply_hash(rcache__client_t *c, lua_State *L, int script_resp3, int depth,
                       int map) {
    long long n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    if (map)
        rcache__reply_map(c, n);
    else
        rcache__reply_set(c, n);
    lua_pushnil(L);
    while (lua_next(L, -2)) { /* table, key, value */
        lua_pushvalue(L, -2);
        to_resp(c, L, script_resp3, depth + 1); /* the key */
        lua_pop(L, 1);
        if (map)
            to_resp(c, L, script_resp3, depth + 1); /* the value */
        lua_pop(L, 1);
    }
}

/* A table that is none of the special forms: its array part. */
static void reply_array(rcache__client_t *c, lua_State *L, int script_resp3, int depth) {
    long long n = 0;
    for (;;) {
        lua_rawgeti(L, -1, (int)n + 1);
        int nil = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (nil)
            break;
        n++;
    }
    rcache__reply_array(c, n);
    for (long long i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (int)i + 1);
        to_resp(c, L, script_resp3, depth + 1);
        lua_pop(L, 1);
    }
}

/* {verbatim_string={format=, string=}} with the inner table at the top
 * (left there); 0 when its fields are not both strings. */
static int reply_verbatim(rcache__client_t *c, lua_State *L) {
    const char *fmt = table_str_field(L, "format");
    if (!fmt || !get_field(L, "string", LUA_TSTRING))
        return 0;
    size_t len, flen = strlen(fmt);
    const char *s = lua_tolstring(L, -1, &len);
    char f[3] = {' ', ' ', ' '};
    memcpy(f, fmt, flen < 3 ? flen : 3);
    rcache__reply_verbatim(c, f, s, len);
    lua_pop(L, 1);
    return 1;
}

/* The special one-field tables; 1 when the table at the top was one. */
static int reply_special(rcache__client_t *c, lua_State *L, int script_resp3, int depth) {
    const char *s = table_str_field(L, "err");
    if (s) {
        rcache__reply_error(c, s);
        return 1;
    }
    if ((s = table_str_field(L, "ok")) != NULL) {
        rcache__reply_status(c, s);
        return 1;
    }
    if (get_field(L, "double", LUA_TNUMBER)) {
        rcache__reply_double(c, (double)lua_tonumber(L, -1));
        lua_pop(L, 1);
        return 1;
    }
    if (get_field(L, "big_number", LUA_TSTRING)) {
        size_t len;
        s = lua_tolstring(L, -1, &len);
        rcache__reply_bignum(c, s, len);
        lua_pop(L, 1);
        return 1;
    }
    if (get_field(L, "verbatim_string", LUA_TTABLE)) {
        int done = reply_verbatim(c, L);
        lua_pop(L, 1);
        if (done)
            return 1;
    }
    for (int map = 1; map >= 0; map--) {
        if (get_field(L, map ? "map" : "set", LUA_TTABLE)) {
            reply_hash(c, L, script_resp3, depth, map);
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

static void to_resp(rcache__client_t *c, lua_State *L, int script_resp3, int depth) {
    if (depth > MAX_DEPTH || !lua_checkstack(L, 6)) {
        rcache__reply_error(c, "ERR reached lua stack limit");
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        rcache__reply_bulk(c, s, len);
        return;
    }
    case LUA_TBOOLEAN:
        if (script_resp3)
            rcache__reply_bool(c, lua_toboolean(L, -1));
        else if (lua_toboolean(L, -1))
            rcache__reply_int(c, 1);
        else
            rcache__reply_null(c);
        return;
    case LUA_TNUMBER:
        rcache__reply_int(c, (long long)lua_tonumber(L, -1));
        return;
    case LUA_TTABLE:
        if (!reply_special(c, L, script_resp3, depth))
            reply_array(c, L, script_resp3, depth);
        return;
    default:
        rcache__reply_null(c);
        return;
    }
}

void rcache__lua_to_resp(rcache__client_t *c, lua_State *L, int script_resp3) {
    to_resp(c, L, script_resp3, 0);
}
