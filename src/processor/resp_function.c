/* SPDX-License-Identifier: Apache-2.0 */
/* Redis 7.0 functions: FUNCTION LOAD (REPLACE) LIST DELETE FLUSH STATS,
 * FCALL and FCALL_RO, on the Lua engine of resp_script.c.
 *
 * The libraries' code is one list for the server (under lib_lock, a
 * leaf); each worker loads every library into its own Lua state when the
 * list changed (lib_gen) or its state is new, and keeps the registered
 * functions in the registry ("functions": name -> {fn, no_writes}). A
 * library's code runs in its own environment: a `redis` table with only
 * register_function, log and the constants while it loads, the whole
 * redis library once loaded; no globals may be created. Functions are not
 * kept across a restart (docs/protocol-resp.md "Scripting"). */
#include "base/mm.h"
#include "processor/resp_fdump.h"
#include "processor/resp_internal.h"
#include "processor/resp_script.h"

#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <string.h>

struct fn_meta {
    char *name;
    bool no_writes;
};

struct lib {
    struct lib *next;
    char *name;
    char *code;
    size_t len;
    struct fn_meta *fns;
    uint32_t nfn;
};

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lib *libs;
static uint64_t lib_gen = 1; /* atomic */

static _Thread_local uint64_t loaded_gen;
static _Thread_local struct lua_State *loaded_state;

static void
lib_destroy(struct lib *l)
{
    for (uint32_t i = 0; i < l->nfn; i++) {
        mm_release(l->fns[i].name);
    }
    mm_release(l->fns);
    mm_release(l->name);
    mm_release(l->code);
    mm_release(l);
}

static char *
dup_n(const char *s, size_t n)
{
    char *d = mm_alloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static bool
valid_name(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

#define NAME_RULE                                                              \
    "Library names can only contain letters, numbers, or underscores(_) "      \
    "and must be at least one character long"

/* "#!lua name=<lib>" on the first line; the error text or NULL. */
static const char *
metadata(const char *code, size_t len, const char **name, size_t *nlen,
        char *err, size_t cap)
{
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        return "ERR Missing library metadata";
    }
    const char *eol = memchr(code, '\n', len);
    if (eol == NULL) {
        return "ERR Invalid library metadata";
    }
    const char *p = code + 2, *end = eol;
    const char *e = p;
    while (e < end && *e != ' ') {
        e++;
    }
    if ((size_t)(e - p) != 3 || memcmp(p, "lua", 3) != 0) {
        snprintf(err, cap, "ERR Engine '%.*s' not found",
                (int)(e - p > 64 ? 64 : e - p), p);
        return err;
    }
    *name = NULL;
    p = e;
    while (p < end) {
        while (p < end && *p == ' ') {
            p++;
        }
        e = p;
        while (e < end && *e != ' ') {
            e++;
        }
        if (e == p) {
            break;
        }
        if ((size_t)(e - p) >= 5 && memcmp(p, "name=", 5) == 0) {
            *name = p + 5;
            *nlen = (size_t)(e - p - 5);
        } else {
            snprintf(err, cap, "ERR Invalid metadata value given: %.*s",
                    (int)(e - p > 64 ? 64 : e - p), p);
            return err;
        }
        p = e;
    }
    if (*name == NULL) {
        return "ERR Library name was not given";
    }
    if (!valid_name(*name, *nlen)) {
        return "ERR " NAME_RULE;
    }
    return NULL;
}

/* ---- loading a library into a Lua state ---- */

static int
raise_err(lua_State *L, const char *msg)
{
    lua_newtable(L);
    lua_pushstring(L, "err");
    lua_pushstring(L, msg);
    lua_settable(L, -3);
    return lua_error(L);
}

/* redis.register_function(name, fn) or {function_name=, callback=,
 * flags=, description=}: into the table at upvalue 1. */
static int
register_function(lua_State *L)
{
    bool no_writes = false;
    if (lua_gettop(L) == 1 && lua_istable(L, 1)) {
        lua_getfield(L, 1, "function_name");
        lua_getfield(L, 1, "callback");
        lua_getfield(L, 1, "flags");
        if (lua_istable(L, -1)) {
            for (int i = 1;; i++) {
                lua_rawgeti(L, -1, i);
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    break;
                }
                const char *f = lua_tostring(L, -1);
                if (f != NULL && strcmp(f, "no-writes") == 0) {
                    no_writes = true;
                } else if (f == NULL ||
                           (strcmp(f, "allow-oom") != 0 &&
                                   strcmp(f, "allow-stale") != 0 &&
                                   strcmp(f, "no-cluster") != 0 &&
                                   strcmp(f, "allow-cross-slot-keys") != 0)) {
                    return raise_err(L, "ERR unknown flag given");
                }
                lua_pop(L, 1);
            }
        } else if (!lua_isnil(L, -1)) {
            return raise_err(L, "ERR flags argument to "
                                "redis.register_function must be a table "
                                "representing function flags");
        }
        lua_pop(L, 1);
        lua_remove(L, 1);
    } else if (lua_gettop(L) != 2) {
        return raise_err(L, "ERR wrong number of arguments to "
                            "redis.register_function");
    }
    size_t n;
    const char *name = lua_tolstring(L, 1, &n);
    if (name == NULL || lua_type(L, 1) != LUA_TSTRING) {
        return raise_err(L, "ERR function_name argument given to "
                            "redis.register_function must be a string");
    }
    if (!valid_name(name, n)) {
        return raise_err(L, "ERR " NAME_RULE);
    }
    if (!lua_isfunction(L, 2)) {
        return raise_err(L, "ERR callback argument given to "
                            "redis.register_function must be a function");
    }
    lua_pushvalue(L, 1);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1)) {
        return raise_err(L, "ERR Function already exists in the library");
    }
    lua_pop(L, 1);
    lua_pushvalue(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 1);
    lua_pushboolean(L, no_writes);
    lua_rawseti(L, -2, 2);
    lua_rawset(L, lua_upvalueindex(1));
    return 0;
}

static int
missing_global(lua_State *L)
{
    const char *name = lua_tostring(L, 2);
    return luaL_error(L,
            "Script attempted to access nonexistent global variable '%s'",
            name != NULL ? name : "?");
}

static int
readonly_table(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Runs a library's code; on success pushes the table name -> {fn,
 * no_writes} of what it registered and returns NULL; else an error
 * message is pushed and returned (valid while it is on the stack). */
static const char *
load_library(lua_State *L, const char *code, size_t len)
{
    char *text = mm_alloc(len + 1);
    if (text == NULL) {
        lua_pushstring(L, "ERR out of memory");
        return lua_tostring(L, -1);
    }
    memcpy(text, code, len);
    text[0] = '-'; /* the metadata line becomes a comment */
    text[1] = '-';
    int rc = luaL_loadbuffer(L, text, len, "@user_function");
    mm_release(text);
    if (rc != 0) {
        const char *m = lua_tostring(L, -1);
        lua_pushfstring(
                L, "ERR Error compiling function: %s", m != NULL ? m : "?");
        lua_remove(L, -2);
        return lua_tostring(L, -1);
    }
    int chunk = lua_gettop(L);
    lua_newtable(L); /* registered */
    int reg = chunk + 1;
    /* the environment: globals readable, none created */
    lua_newtable(L);
    int env = reg + 1;
    lua_newtable(L);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_table);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, env);
    /* the redis table while loading */
    lua_pushstring(L, "redis");
    lua_newtable(L);
    lua_pushvalue(L, reg);
    lua_pushcclosure(L, register_function, 1);
    lua_setfield(L, -2, "register_function");
    lua_getglobal(L, "redis");
    static const char *const copied[] = {"log", "LOG_DEBUG", "LOG_VERBOSE",
            "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM",
            "setresp", NULL};
    for (int i = 0; copied[i] != NULL; i++) {
        lua_getfield(L, -1, copied[i]);
        lua_setfield(L, -3, copied[i]);
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_rawset(L, env);
    lua_pushvalue(L, env);
    lua_setfenv(L, chunk);
    lua_pushcfunction(L, script_error_handler);
    lua_pushvalue(L, chunk);
    if (lua_pcall(L, 0, 0, -2) != 0) {
        const char *m = NULL;
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            m = lua_tostring(L, -1);
        }
        lua_pushfstring(
                L, "ERR Error registering functions: %s", m != NULL ? m : "?");
        lua_replace(L, chunk);
        lua_settop(L, chunk);
        return lua_tostring(L, -1);
    }
    lua_pop(L, 1); /* the handler */
    /* loaded: the functions see the whole redis library */
    lua_pushstring(L, "redis");
    lua_getglobal(L, "redis");
    lua_rawset(L, env);
    lua_pushvalue(L, reg);
    lua_replace(L, chunk);
    lua_settop(L, chunk);
    return NULL;
}

/* Every library into this worker's state when the list changed. */
static lua_State *
functions_ready(void)
{
    lua_State *L = script_vm();
    if (L == NULL) {
        return NULL;
    }
    uint64_t gen = __atomic_load_n(&lib_gen, __ATOMIC_ACQUIRE);
    if (L == loaded_state && gen == loaded_gen) {
        /* the same state, unless SCRIPT FLUSH made a new one at the same
         * address: it has no functions table yet */
        lua_pushstring(L, "functions");
        lua_rawget(L, LUA_REGISTRYINDEX);
        bool has = lua_istable(L, -1);
        lua_pop(L, 1);
        if (has) {
            return L;
        }
    }
    lua_pushstring(L, "functions");
    lua_newtable(L);
    int all = lua_gettop(L);
    pthread_mutex_lock(&lib_lock);
    gen = __atomic_load_n(&lib_gen, __ATOMIC_ACQUIRE);
    for (struct lib *l = libs; l != NULL; l = l->next) {
        if (load_library(L, l->code, l->len) != NULL) {
            lua_pop(L, 1); /* loaded once already: cannot fail but OOM */
            continue;
        }
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, all);
        }
        lua_pop(L, 1);
    }
    pthread_mutex_unlock(&lib_lock);
    lua_rawset(L, LUA_REGISTRYINDEX);
    loaded_state = L;
    loaded_gen = gen;
    return L;
}

/* ---- preparing and joining libraries ---- */

/* Checks and compiles one library's code in L and returns it (not linked
 * yet), or NULL with the error reply in *err: a constant, or a string on
 * L's stack until the caller restores L's top. */
static struct lib *
lib_prepare(lua_State *L, const char *code, size_t len, char *ebuf, size_t cap,
        const char **err)
{
    const char *name;
    size_t nlen;
    *err = metadata(code, len, &name, &nlen, ebuf, cap);
    if (*err != NULL) {
        return NULL;
    }
    int top = lua_gettop(L);
    *err = load_library(L, code, len);
    if (*err != NULL) {
        return NULL;
    }
    uint32_t nfn = 0;
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        nfn++;
        lua_pop(L, 1);
    }
    if (nfn == 0) {
        lua_settop(L, top);
        *err = "ERR No functions registered";
        return NULL;
    }
    struct lib *nl = mm_zalloc(sizeof(*nl));
    if (nl == NULL) {
        lua_settop(L, top);
        *err = "ERR out of memory";
        return NULL;
    }
    nl->name = dup_n(name, nlen);
    nl->code = dup_n(code, len);
    nl->len = len;
    nl->fns = mm_alloc(nfn * sizeof(*nl->fns));
    bool ok = nl->name != NULL && nl->code != NULL && nl->fns != NULL;
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        if (ok) {
            size_t n;
            const char *fname = lua_tolstring(L, -2, &n);
            lua_rawgeti(L, -1, 2);
            nl->fns[nl->nfn].no_writes = lua_toboolean(L, -1);
            lua_pop(L, 1);
            nl->fns[nl->nfn].name = dup_n(fname, n);
            ok = nl->fns[nl->nfn].name != NULL;
            nl->nfn += ok ? 1 : 0;
        }
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    if (!ok) {
        lib_destroy(nl);
        *err = "ERR out of memory";
        return NULL;
    }
    return nl;
}

static void
libs_destroy(struct lib *l)
{
    while (l != NULL) {
        struct lib *next = l->next;
        lib_destroy(l);
        l = next;
    }
}

static const struct lib *
lib_named(const struct lib *list, const char *name)
{
    for (; list != NULL; list = list->next) {
        if (strcmp(list->name, name) == 0) {
            return list;
        }
    }
    return NULL;
}

/* Why the libraries of add cannot join dst (NULL: they can). With
 * replace, a library of dst named as one of add goes; else it is
 * refused, its name quoted as FUNCTION LOAD says it (quoted) or as
 * libraryJoin does (FUNCTION RESTORE). A function may not be in two
 * libraries that stay. */
static const char *
libs_conflict(const struct lib *dst, const struct lib *add, bool replace,
        bool quoted, char *msg, size_t cap)
{
    for (const struct lib *a = add; !replace && a != NULL; a = a->next) {
        if (lib_named(dst, a->name) != NULL) {
            snprintf(msg, cap,
                    quoted ? "ERR Library '%.64s' already exists"
                           : "ERR Library %.64s already exists",
                    a->name);
            return msg;
        }
    }
    for (const struct lib *d = dst; d != NULL; d = d->next) {
        if (replace && lib_named(add, d->name) != NULL) {
            continue;
        }
        for (const struct lib *a = add; a != NULL; a = a->next) {
            for (uint32_t i = 0; i < d->nfn; i++) {
                for (uint32_t j = 0; j < a->nfn; j++) {
                    if (strcmp(d->fns[i].name, a->fns[j].name) == 0) {
                        snprintf(msg, cap, "ERR Function %.64s already exists",
                                a->fns[j].name);
                        return msg;
                    }
                }
            }
        }
    }
    return NULL;
}

/* Joins the libraries of *add to the server's (replacing those of the same
 * names when replace), or all of them with flush; NULL and *add moved, or
 * the refusal and *add untouched. */
static const char *
libs_join(struct lib **add, bool replace, bool flush, bool quoted, char *msg,
        size_t cap)
{
    pthread_mutex_lock(&lib_lock);
    const char *refuse =
            flush ? NULL : libs_conflict(libs, *add, replace, quoted, msg, cap);
    if (refuse == NULL) {
        struct lib *old = NULL;
        if (flush) {
            old = libs;
            libs = NULL;
        }
        for (struct lib **p = &libs; *p != NULL;) {
            if (lib_named(*add, (*p)->name) != NULL) {
                struct lib *o = *p;
                *p = o->next;
                o->next = old;
                old = o;
            } else {
                p = &(*p)->next;
            }
        }
        struct lib *last = *add;
        while (last->next != NULL) {
            last = last->next;
        }
        last->next = libs;
        libs = *add;
        *add = NULL;
        __atomic_add_fetch(&lib_gen, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&lib_lock);
        libs_destroy(old);
        return NULL;
    }
    pthread_mutex_unlock(&lib_lock);
    return refuse;
}

/* ---- commands ---- */

/* Redis's addReplySubcommandSyntaxError. */
static rstatus_i
subcommand_syntax_error(struct resp_ctx *x)
{
    return resp_compose_error_fmt(x->w,
            "ERR unknown subcommand or wrong number of arguments for "
            "'%.*s'. Try FUNCTION HELP.",
            (int)(x->argv[1].len > 128 ? 128 : x->argv[1].len),
            x->argv[1].data);
}

static rstatus_i
function_load(struct resp_ctx *x)
{
    bool replace = false;
    uint32_t i = 2;
    if (x->argc == 4) {
        if (!resp_arg_is(&x->argv[2], "replace")) {
            return resp_compose_error_fmt(x->w,
                    "ERR Unknown option given: %.*s",
                    (int)(x->argv[2].len > 64 ? 64 : x->argv[2].len),
                    x->argv[2].data);
        }
        replace = true;
        i = 3;
    } else if (x->argc != 3) {
        return resp_err(x, "ERR Function LOAD: wrong number of arguments");
    }
    const struct resp_arg *code = &x->argv[i];
    char ebuf[160];
    const char *name;
    size_t nlen;
    const char *err =
            metadata(code->data, code->len, &name, &nlen, ebuf, sizeof(ebuf));
    if (err != NULL) {
        return resp_err(x, err);
    }
    lua_State *L = functions_ready();
    if (L == NULL) {
        return resp_err(x, "ERR out of memory creating the Lua state");
    }
    int top = lua_gettop(L);
    struct lib *nl =
            lib_prepare(L, code->data, code->len, ebuf, sizeof(ebuf), &err);
    if (nl == NULL) {
        rstatus_i rc = resp_err(x, err);
        lua_settop(L, top);
        return rc;
    }
    char msg[200];
    const char *refuse = libs_join(&nl, replace, false, true, msg, sizeof(msg));
    if (refuse != NULL) {
        lib_destroy(nl);
        return resp_err(x, refuse);
    }
    return resp_compose_bulk(x->w, name, nlen);
}

/* FUNCTION DUMP: every library's code in Redis's payload format. */
static rstatus_i
function_dump(struct resp_ctx *x)
{
    pthread_mutex_lock(&lib_lock);
    size_t size = FDUMP_FOOTER;
    for (struct lib *l = libs; l != NULL; l = l->next) {
        size += fdump_entry_size(l->len);
    }
    char *payload = mm_alloc(size);
    char *end = payload;
    for (struct lib *l = libs; payload != NULL && l != NULL; l = l->next) {
        end = fdump_put_entry(end, l->code, l->len);
    }
    pthread_mutex_unlock(&lib_lock);
    if (payload == NULL) {
        return resp_err(x, "ERR out of memory");
    }
    end = fdump_put_footer(payload, end);
    rstatus_i rc = resp_compose_bulk(x->w, payload, (size_t)(end - payload));
    mm_release(payload);
    return rc;
}

struct restore {
    lua_State *L;
    struct lib *libs; /* read so far, in reverse order */
    char ebuf[200];
    int top;
};

static const char *
restore_one(void *arg, const char *code, size_t len)
{
    struct restore *r = arg;
    const char *err;
    struct lib *nl =
            lib_prepare(r->L, code, len, r->ebuf, sizeof(r->ebuf), &err);
    if (nl == NULL) {
        return err;
    }
    /* two libraries of the payload are refused as FUNCTION LOAD would */
    err = libs_conflict(r->libs, nl, false, true, r->ebuf, sizeof(r->ebuf));
    if (err != NULL) {
        lib_destroy(nl);
        return err;
    }
    nl->next = r->libs;
    r->libs = nl;
    return NULL;
}

/* FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all or nothing. */
static rstatus_i
function_restore(struct resp_ctx *x)
{
    if (x->argc > 4) {
        return subcommand_syntax_error(x);
    }
    bool flush = false, replace = false;
    if (x->argc == 4) {
        flush = resp_arg_is(&x->argv[3], "flush");
        replace = resp_arg_is(&x->argv[3], "replace");
        if (!flush && !replace && !resp_arg_is(&x->argv[3], "append")) {
            return resp_err(x, "ERR Wrong restore policy given, value should "
                               "be either FLUSH, APPEND or REPLACE.");
        }
    }
    lua_State *L = functions_ready();
    if (L == NULL) {
        return resp_err(x, "ERR out of memory creating the Lua state");
    }
    struct restore r = {.L = L, .top = lua_gettop(L)};
    const char *err =
            fdump_read(x->argv[2].data, x->argv[2].len, restore_one, &r);
    if (err == NULL && r.libs != NULL) {
        err = libs_join(&r.libs, replace, flush, false, r.ebuf, sizeof(r.ebuf));
    } else if (err == NULL && flush) {
        pthread_mutex_lock(&lib_lock);
        struct lib *old = libs;
        libs = NULL;
        __atomic_add_fetch(&lib_gen, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&lib_lock);
        libs_destroy(old);
    }
    rstatus_i rc = err == NULL ? resp_compose_ok(x->w) : resp_err(x, err);
    lua_settop(L, r.top);
    libs_destroy(r.libs);
    return rc;
}

static rstatus_i
function_list(struct resp_ctx *x)
{
    bool with_code = false;
    const struct resp_arg *pattern = NULL;
    for (uint32_t i = 2; i < x->argc; i++) {
        const struct resp_arg *a = &x->argv[i];
        if (!with_code && resp_arg_is(a, "withcode")) {
            with_code = true;
        } else if (pattern == NULL && resp_arg_is(a, "libraryname")) {
            if (i >= x->argc - 1) {
                return resp_err(x, "ERR library name argument was not given");
            }
            pattern = &x->argv[++i];
        } else {
            return resp_compose_error_fmt(x->w, "ERR Unknown argument %.*s",
                    (int)(a->len > 256 ? 256 : a->len), a->data);
        }
    }
    pthread_mutex_lock(&lib_lock);
    uint64_t n = 0;
    for (struct lib *l = libs; l != NULL; l = l->next) {
        n += pattern == NULL || resp_glob_match(pattern->data, pattern->len,
                                        l->name, strlen(l->name), false);
    }
    rstatus_i rc = resp_compose_array(x->w, n);
    for (struct lib *l = libs; rc == STATUS_OK && l != NULL; l = l->next) {
        if (pattern != NULL && !resp_glob_match(pattern->data, pattern->len,
                                       l->name, strlen(l->name), false)) {
            continue;
        }
        rc = resp_compose_map(x->w, with_code ? 4 : 3);
        rc = rc ?: resp_compose_bulk(x->w, "library_name", 12);
        rc = rc ?: resp_compose_bulk(x->w, l->name, strlen(l->name));
        rc = rc ?: resp_compose_bulk(x->w, "engine", 6);
        rc = rc ?: resp_compose_bulk(x->w, "LUA", 3);
        rc = rc ?: resp_compose_bulk(x->w, "functions", 9);
        rc = rc ?: resp_compose_array(x->w, l->nfn);
        for (uint32_t i = 0; rc == STATUS_OK && i < l->nfn; i++) {
            const struct fn_meta *f = &l->fns[i];
            rc = resp_compose_map(x->w, 3);
            rc = rc ?: resp_compose_bulk(x->w, "name", 4);
            rc = rc ?: resp_compose_bulk(x->w, f->name, strlen(f->name));
            rc = rc ?: resp_compose_bulk(x->w, "description", 11);
            rc = rc ?: resp_compose_null(x->w);
            rc = rc ?: resp_compose_bulk(x->w, "flags", 5);
            rc = rc ?: resp_compose_set(x->w, f->no_writes ? 1 : 0);
            if (rc == STATUS_OK && f->no_writes) {
                rc = resp_compose_simple(x->w, "no-writes", 9);
            }
        }
        if (rc == STATUS_OK && with_code) {
            rc = resp_compose_bulk(x->w, "library_code", 12);
            rc = rc ?: resp_compose_bulk(x->w, l->code, l->len);
        }
    }
    pthread_mutex_unlock(&lib_lock);
    return rc;
}

rstatus_i
resp_cmd_function(struct resp_ctx *x)
{
    switch (x->cmd->id) {
    case RESP_CMD_FUNCTION_LOAD:
        return function_load(x);
    case RESP_CMD_FUNCTION_LIST:
        return function_list(x);
    case RESP_CMD_FUNCTION_DUMP:
        return function_dump(x);
    case RESP_CMD_FUNCTION_RESTORE:
        return function_restore(x);
    case RESP_CMD_FUNCTION_KILL:
        return script_kill(x, true);
    case RESP_CMD_FUNCTION_DELETE: {
        const struct resp_arg *a = &x->argv[2];
        bool found = false;
        pthread_mutex_lock(&lib_lock);
        for (struct lib **p = &libs; *p != NULL; p = &(*p)->next) {
            if (strlen((*p)->name) == a->len &&
                    memcmp((*p)->name, a->data, a->len) == 0) {
                struct lib *o = *p;
                *p = o->next;
                lib_destroy(o);
                found = true;
                __atomic_add_fetch(&lib_gen, 1, __ATOMIC_RELEASE);
                break;
            }
        }
        pthread_mutex_unlock(&lib_lock);
        return found ? resp_compose_ok(x->w)
                     : resp_err(x, "ERR Library not found");
    }
    case RESP_CMD_FUNCTION_STATS: {
        uint64_t nl = 0, nf = 0;
        pthread_mutex_lock(&lib_lock);
        for (struct lib *l = libs; l != NULL; l = l->next) {
            nl++;
            nf += l->nfn;
        }
        pthread_mutex_unlock(&lib_lock);
        rstatus_i rc = resp_compose_map(x->w, 2);
        rc = rc ?: resp_compose_bulk(x->w, "running_script", 14);
        rc = rc ?: resp_compose_null(x->w);
        rc = rc ?: resp_compose_bulk(x->w, "engines", 7);
        rc = rc ?: resp_compose_map(x->w, 1);
        rc = rc ?: resp_compose_bulk(x->w, "LUA", 3);
        rc = rc ?: resp_compose_map(x->w, 2);
        rc = rc ?: resp_compose_bulk(x->w, "libraries_count", 15);
        rc = rc ?: resp_compose_integer(x->w, (int64_t)nl);
        rc = rc ?: resp_compose_bulk(x->w, "functions_count", 15);
        rc = rc ?: resp_compose_integer(x->w, (int64_t)nf);
        return rc;
    }
    default: /* FLUSH */
        if (x->argc > 3) {
            return subcommand_syntax_error(x);
        }
        if (x->argc == 3 && !resp_arg_is(&x->argv[2], "sync") &&
                !resp_arg_is(&x->argv[2], "async")) {
            return resp_err(
                    x, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        }
        pthread_mutex_lock(&lib_lock);
        while (libs != NULL) {
            struct lib *o = libs;
            libs = o->next;
            lib_destroy(o);
        }
        __atomic_add_fetch(&lib_gen, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&lib_lock);
        return resp_compose_ok(x->w);
    }
}

/* FCALL FCALL_RO */
rstatus_i
resp_cmd_fcall(struct resp_ctx *x)
{
    bool ro = x->cmd->id == RESP_CMD_FCALL_RO;
    int64_t numkeys;
    if (!resp_arg_int64(&x->argv[2], &numkeys)) {
        return resp_err_int(x);
    }
    if (numkeys > (int64_t)x->argc - 3) {
        return resp_err(x, "ERR Number of keys can't be greater than number "
                           "of args");
    }
    if (numkeys < 0) {
        return resp_err(x, "ERR Number of keys can't be negative");
    }
    lua_State *L = functions_ready();
    if (L == NULL) {
        return resp_err(x, "ERR out of memory creating the Lua state");
    }
    int top = lua_gettop(L);
    lua_pushcfunction(L, script_error_handler);
    lua_pushstring(L, "functions");
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushlstring(L, x->argv[1].data, x->argv[1].len);
    lua_rawget(L, -2);
    if (!lua_istable(L, -1)) {
        lua_settop(L, top);
        return resp_err(x, "ERR Function not found");
    }
    lua_rawgeti(L, -1, 2);
    bool no_writes = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (ro && !no_writes) {
        lua_settop(L, top);
        return resp_err(x, "ERR Can not execute a script with write flag "
                           "using *_ro command.");
    }
    lua_rawgeti(L, -1, 1);
    lua_replace(L, top + 2); /* the function above the handler */
    lua_settop(L, top + 2);
    for (int part = 0; part < 2; part++) {
        const struct resp_arg *a = x->argv + 3 + (part ? numkeys : 0);
        int64_t n = part ? (int64_t)x->argc - 3 - numkeys : numkeys;
        lua_createtable(L, (int)n, 0);
        for (int64_t i = 0; i < n; i++) {
            lua_pushlstring(L, a[i].data, a[i].len);
            lua_rawseti(L, -2, (int)(i + 1));
        }
    }
    char name[128];
    snprintf(name, sizeof(name), "%.*s",
            (int)(x->argv[1].len > 100 ? 100 : x->argv[1].len),
            x->argv[1].data);
    return script_run(x, L, top, 2, name, x->argv + 3, numkeys,
            SCRIPT_FUNCTION | (no_writes ? SCRIPT_READONLY : SCRIPT_EVAL));
}
