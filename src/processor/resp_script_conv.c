/* SPDX-License-Identifier: Apache-2.0 */
/* Conversions between RESP replies and Lua values (resp_script.h), as
 * Redis 7.0.15's script_lua.c makes them. No state: the fuzz target
 * test/fuzz/fuzz_script_conv.c feeds both directions. */
#include "processor/resp_script.h"

#include "processor/sendval.h"

#include "protocol/resp/compose.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- RESP -> Lua -------------------------------------------------------- */

struct cursor {
    const char *p;
    const char *end;
};

/* The line after the type byte, up to CRLF. */
static bool
take_line(struct cursor *c, const char **s, size_t *n)
{
    const char *q = c->p;
    while (q + 1 < c->end && !(q[0] == '\r' && q[1] == '\n')) {
        q++;
    }
    if (q + 1 >= c->end) {
        return false;
    }
    *s = c->p;
    *n = (size_t)(q - c->p);
    c->p = q + 2;
    return true;
}

static bool
take_int(struct cursor *c, int64_t *v)
{
    const char *s;
    size_t n;
    if (!take_line(c, &s, &n) || n == 0 || n > 20) {
        return false;
    }
    bool neg = s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == n) {
        return false;
    }
    uint64_t u = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        if (u > (UINT64_MAX - d) / 10) {
            return false;
        }
        u = u * 10 + d;
    }
    if (u > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) {
        return false;
    }
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

/* A bulk body of n bytes and its CRLF. */
static bool
take_bulk(struct cursor *c, int64_t n, const char **s)
{
    if (n < 0 || (uint64_t)n > (uint64_t)(c->end - c->p) ||
            (size_t)(c->end - c->p) - (size_t)n < 2) {
        return false;
    }
    *s = c->p;
    if (c->p[n] != '\r' || c->p[n + 1] != '\n') {
        return false;
    }
    c->p += n + 2;
    return true;
}

static void
push_field(lua_State *L, const char *field, const char *s, size_t n)
{
    lua_newtable(L);
    lua_pushstring(L, field);
    lua_pushlstring(L, s, n);
    lua_settable(L, -3);
}

static bool to_lua(lua_State *L, struct cursor *c, int depth);

/* n elements into the table on top: as an array, or as map/set pairs. */
static bool
aggregate(lua_State *L, struct cursor *c, int64_t n, char type, int depth)
{
    if (n < 0 || (uint64_t)n > (uint64_t)(c->end - c->p)) {
        return false; /* every element takes at least one byte */
    }
    for (int64_t i = 0; i < n; i++) {
        if (type == '*') {
            lua_pushnumber(L, (lua_Number)(i + 1));
            if (!to_lua(L, c, depth + 1)) {
                lua_pop(L, 1);
                return false;
            }
            lua_settable(L, -3);
        } else if (type == '~') {
            if (!to_lua(L, c, depth + 1)) {
                return false;
            }
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1); /* a nil key cannot be stored */
                continue;
            }
            lua_pushboolean(L, 1);
            lua_settable(L, -3);
        } else { /* '%': key, value */
            if (!to_lua(L, c, depth + 1)) {
                return false;
            }
            if (!to_lua(L, c, depth + 1)) {
                lua_pop(L, 1);
                return false;
            }
            if (lua_isnil(L, -2)) {
                lua_pop(L, 2);
                continue;
            }
            lua_settable(L, -3);
        }
    }
    return true;
}

static bool
to_lua(lua_State *L, struct cursor *c, int depth)
{
    if (c->p >= c->end || depth > SCRIPT_CONV_DEPTH || !lua_checkstack(L, 8)) {
        return false;
    }
    char type = *c->p++;
    const char *s;
    size_t n;
    int64_t v;
    switch (type) {
    case ':':
        if (!take_int(c, &v)) {
            return false;
        }
        lua_pushnumber(L, (lua_Number)v);
        return true;
    case '+':
    case '-':
        if (!take_line(c, &s, &n)) {
            return false;
        }
        push_field(L, type == '+' ? "ok" : "err", s, n);
        return true;
    case '$':
    case '=':
        if (!take_int(c, &v)) {
            return false;
        }
        if (v == -1 && type == '$') {
            lua_pushboolean(L, 0);
            return true;
        }
        if (!take_bulk(c, v, &s)) {
            return false;
        }
        if (type == '$') {
            lua_pushlstring(L, s, (size_t)v);
            return true;
        }
        if (v < 4 || s[3] != ':') {
            return false;
        }
        lua_newtable(L);
        lua_pushstring(L, "verbatim_string");
        lua_newtable(L);
        lua_pushstring(L, "format");
        lua_pushlstring(L, s, 3);
        lua_settable(L, -3);
        lua_pushstring(L, "string");
        lua_pushlstring(L, s + 4, (size_t)v - 4);
        lua_settable(L, -3);
        lua_settable(L, -3);
        return true;
    case '*':
        if (!take_int(c, &v)) {
            return false;
        }
        if (v == -1) {
            lua_pushboolean(L, 0);
            return true;
        }
        lua_newtable(L);
        if (!aggregate(L, c, v, '*', depth)) {
            lua_pop(L, 1);
            return false;
        }
        return true;
    case '%':
    case '~':
        if (!take_int(c, &v)) {
            return false;
        }
        lua_newtable(L);
        lua_pushstring(L, type == '%' ? "map" : "set");
        lua_newtable(L);
        if (!aggregate(L, c, v, type, depth)) {
            lua_pop(L, 3);
            return false;
        }
        lua_settable(L, -3);
        return true;
    case '_':
        if (!take_line(c, &s, &n) || n != 0) {
            return false;
        }
        lua_pushnil(L);
        return true;
    case '#':
        if (!take_line(c, &s, &n) || n != 1 || (s[0] != 't' && s[0] != 'f')) {
            return false;
        }
        lua_pushboolean(L, s[0] == 't');
        return true;
    case ',': {
        if (!take_line(c, &s, &n) || n == 0 || n > 64) {
            return false;
        }
        char text[65];
        memcpy(text, s, n);
        text[n] = '\0';
        char *e;
        double d = strtod(text, &e);
        if (*e != '\0') {
            return false;
        }
        lua_newtable(L);
        lua_pushstring(L, "double");
        lua_pushnumber(L, d);
        lua_settable(L, -3);
        return true;
    }
    case '(':
        if (!take_line(c, &s, &n)) {
            return false;
        }
        push_field(L, "big_number", s, n);
        return true;
    case '|': /* an attribute: skipped, then the reply it annotates */
        if (!take_int(c, &v)) {
            return false;
        }
        lua_newtable(L);
        if (!aggregate(L, c, v, '%', depth)) {
            lua_pop(L, 1);
            return false;
        }
        lua_pop(L, 1);
        return to_lua(L, c, depth + 1);
    default:
        return false;
    }
}

size_t
script_resp_to_lua(lua_State *L, const char *p, size_t len)
{
    struct cursor c = {.p = p, .end = p + len};
    int top = lua_gettop(L);
    if (!to_lua(L, &c, 0)) {
        lua_settop(L, top);
        return 0;
    }
    return (size_t)(c.p - p);
}

/* ---- Lua -> RESP -------------------------------------------------------- */

/* t[field] of the table at idx when it has type `type`: pushed (true), or
 * nothing pushed (false). */
static bool
field_of(lua_State *L, int idx, const char *field, int type)
{
    lua_pushstring(L, field);
    lua_rawget(L, idx);
    if (lua_type(L, -1) == type) {
        return true;
    }
    lua_pop(L, 1);
    return false;
}

struct conv_big {
    script_big_fn *fn;
    void *arg;
};

static rstatus_i to_resp(lua_State *L, int idx, struct resp_writer *w,
        int script_resp, int depth, const struct conv_big *big);

static rstatus_i
error_reply(lua_State *L, struct resp_writer *w)
{
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    rstatus_i rc = resp_compose_error(w, s, n);
    lua_pop(L, 1);
    return rc;
}

static rstatus_i
table_to_resp(lua_State *L, int idx, struct resp_writer *w, int script_resp,
        int depth, const struct conv_big *big)
{
    rstatus_i rc;
    if (field_of(L, idx, "err", LUA_TSTRING)) {
        return error_reply(L, w);
    }
    if (field_of(L, idx, "ok", LUA_TSTRING)) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        char *copy = malloc(n + 1);
        if (copy == NULL) {
            lua_pop(L, 1);
            return STATUS_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) { /* a status is one line */
            copy[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
        }
        rc = resp_compose_simple(w, copy, n);
        free(copy);
        lua_pop(L, 1);
        return rc;
    }
    if (field_of(L, idx, "double", LUA_TNUMBER)) {
        rc = resp_compose_double(w, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return rc;
    }
    if (field_of(L, idx, "big_number", LUA_TSTRING)) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        char *copy = malloc(n + 1);
        if (copy == NULL) {
            lua_pop(L, 1);
            return STATUS_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) { /* one line, as a status */
            copy[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
        }
        rc = resp_compose_bignum(w, copy, n);
        free(copy);
        lua_pop(L, 1);
        return rc;
    }
    bool is_map = field_of(L, idx, "map", LUA_TTABLE);
    if (is_map || field_of(L, idx, "set", LUA_TTABLE)) {
        int t = lua_gettop(L);
        uint64_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, t) != 0) {
            n++;
            lua_pop(L, 1);
        }
        rc = is_map ? resp_compose_map(w, n) : resp_compose_set(w, n);
        lua_pushnil(L);
        while (rc == STATUS_OK && lua_next(L, t) != 0) {
            rc = to_resp(L, lua_gettop(L) - 1, w, script_resp, depth + 1, big);
            if (rc == STATUS_OK && is_map) {
                rc = to_resp(L, lua_gettop(L), w, script_resp, depth + 1, big);
            }
            lua_pop(L, 1);
        }
        lua_settop(L, t - 1);
        return rc;
    }
    if (field_of(L, idx, "verbatim_string", LUA_TTABLE)) {
        int t = lua_gettop(L);
        if (field_of(L, t, "format", LUA_TSTRING) &&
                field_of(L, t, "string", LUA_TSTRING)) {
            size_t fn, sn;
            const char *f = lua_tolstring(L, -2, &fn);
            const char *s = lua_tolstring(L, -1, &sn);
            char fmt[4] = "txt";
            if (fn == 3) {
                memcpy(fmt, f, 3);
            }
            rc = resp_compose_verbatim(w, fmt, s, sn);
            lua_settop(L, t - 1);
            return rc;
        }
        lua_settop(L, t - 1);
        /* not a verbatim string after all: an array */
    }
    uint64_t n = 0;
    for (;;) {
        lua_rawgeti(L, idx, (int)(n + 1));
        bool nil = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (nil || n >= INT32_MAX - 1) {
            break;
        }
        n++;
    }
    rc = resp_compose_array(w, n);
    for (uint64_t i = 0; rc == STATUS_OK && i < n; i++) {
        lua_rawgeti(L, idx, (int)(i + 1));
        rc = to_resp(L, lua_gettop(L), w, script_resp, depth + 1, big);
        lua_pop(L, 1);
    }
    return rc;
}

static rstatus_i
to_resp(lua_State *L, int idx, struct resp_writer *w, int script_resp,
        int depth, const struct conv_big *big)
{
    if (depth > SCRIPT_CONV_DEPTH || !lua_checkstack(L, 8)) {
        return resp_compose_null(w);
    }
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (n > SENDVAL_MIN && big->fn != NULL && big->fn(big->arg, s, n)) {
            return STATUS_OK;
        }
        return resp_compose_bulk(w, s, n);
    }
    case LUA_TBOOLEAN:
        if (script_resp == 2) {
            return lua_toboolean(L, idx) ? resp_compose_integer(w, 1)
                                         : resp_compose_null(w);
        }
        return resp_compose_bool(w, lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        double d = (double)lua_tonumber(L, idx);
        int64_t v;
        if (isnan(d)) {
            v = INT64_MIN; /* what the cast gives on x86-64 */
        } else if (d >= 9223372036854775807.0 || d < -9223372036854775808.0) {
            v = INT64_MIN;
        } else {
            v = (int64_t)d;
        }
        return resp_compose_integer(w, v);
    }
    case LUA_TTABLE:
        return table_to_resp(L, idx, w, script_resp, depth, big);
    default:
        return resp_compose_null(w);
    }
}

rstatus_i
script_lua_to_resp(lua_State *L, int idx, struct resp_writer *w,
        int script_resp, script_big_fn *big, void *arg)
{
    if (idx < 0) {
        idx = lua_gettop(L) + idx + 1;
    }
    struct conv_big b = {big, arg};
    return to_resp(L, idx, w, script_resp, 0, &b);
}
