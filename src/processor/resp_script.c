/* SPDX-License-Identifier: Apache-2.0 */
/* Lua scripting as Redis 7.0.15 has it: EVAL EVALSHA EVAL_RO EVALSHA_RO,
 * SCRIPT LOAD EXISTS FLUSH KILL, the redis.* library and the sandbox.
 *
 * Each worker has its own Lua state (scripts never share Lua values
 * between workers), created on the worker's first script; the script
 * bodies are one cache for the process (SCRIPT LOAD on one connection,
 * EVALSHA on any other), each worker compiling a body the first time it
 * runs it. SCRIPT FLUSH empties the cache and bumps a generation: a
 * worker whose state is older closes it and starts a fresh one.
 *
 * Atomicity: a script holds the stripes of its declared KEYS for its
 * whole run (keyspace.h "holds"), so no other connection sees part of its
 * writes or writes those keys in between. A command on a key the script
 * did not declare holds that key too, nested: a stripe above the held
 * ones is waited for, one below is tried for RESP_HOLD_WAIT_NS and the
 * call fails with BUSYKEY when another transaction keeps it (never a
 * deadlock). The stripes it gets are kept until the script ends
 * (ks_hold_keep: two-phase locking), so such a script is atomic for every
 * key it touched: another client sees none of its writes to them before
 * it ends and writes none in between; past busy-reply-threshold those
 * clients get BUSY as on the declared keys.
 *
 * Lock order: the cache mutex is a leaf (nothing is called under it). */
#include "processor/resp_script.h"

#include "base/log.h"
#include "base/mm.h"
#include "base/time.h"
#include "core/worker.h"
#include "processor/resp_internal.h"
#include "processor/resp_script_alloc.h"

#include <inttypes.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua-bitop.h>
#include <lua-cjson.h>
#include <lua.h>
#include <lualib.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#define SHA_HEX           40
#define SCRIPT_HOOK_COUNT 100000

/* busy-reply-threshold (lua-time-limit) in ms: CONFIG SET changes it */
uint64_t resp_script_busy_ms = RESP_SCRIPT_BUSY_MS;

/* ---- the script cache, shared by every worker ---- */

struct cached {
    struct cached *next;
    char sha[SHA_HEX + 1];
    size_t len;
    char body[];
};

#define CACHE_BUCKETS 1024
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached *cache[CACHE_BUCKETS];
static uint64_t cache_gen; /* atomic: bumped by SCRIPT FLUSH */

static uint32_t
bucket_of(const char *sha)
{
    uint32_t h = 0;
    for (int i = 0; i < 8; i++) {
        h = h * 16 + (uint32_t)(sha[i] <= '9' ? sha[i] - '0' : sha[i] - 'a');
    }
    return h % CACHE_BUCKETS;
}

static struct cached *
cache_find_locked(const char *sha)
{
    for (struct cached *c = cache[bucket_of(sha)]; c != NULL; c = c->next) {
        if (memcmp(c->sha, sha, SHA_HEX) == 0) {
            return c;
        }
    }
    return NULL;
}

static bool
cache_add(const char *sha, const char *body, size_t len)
{
    pthread_mutex_lock(&cache_lock);
    bool ok = true;
    if (cache_find_locked(sha) == NULL) {
        struct cached *c = mm_alloc(sizeof(*c) + len);
        if (c == NULL) {
            ok = false;
        } else {
            memcpy(c->sha, sha, SHA_HEX + 1);
            c->len = len;
            memcpy(c->body, body, len);
            uint32_t b = bucket_of(sha);
            c->next = cache[b];
            cache[b] = c;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return ok;
}

/* A copy of the body cached under sha (caller releases with mm_release),
 * or NULL. */
static char *
cache_copy(const char *sha, size_t *len)
{
    pthread_mutex_lock(&cache_lock);
    struct cached *c = cache_find_locked(sha);
    char *body = NULL;
    if (c != NULL) {
        body = mm_alloc(c->len + 1);
        if (body != NULL) {
            memcpy(body, c->body, c->len);
            *len = c->len;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return body;
}

static bool
cache_has(const char *sha)
{
    pthread_mutex_lock(&cache_lock);
    bool has = cache_find_locked(sha) != NULL;
    pthread_mutex_unlock(&cache_lock);
    return has;
}

static void
cache_flush(void)
{
    pthread_mutex_lock(&cache_lock);
    for (uint32_t b = 0; b < CACHE_BUCKETS; b++) {
        struct cached *c = cache[b];
        while (c != NULL) {
            struct cached *next = c->next;
            mm_release(c);
            c = next;
        }
        cache[b] = NULL;
    }
    __atomic_add_fetch(&cache_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&cache_lock);
}

static void
sha1_hex(const void *data, size_t len, char out[SHA_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    EVP_Digest(data, len, md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < 20; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[SHA_HEX] = '\0';
}

/* ---- busy scripts and SCRIPT KILL ---- */

/* Per kind of script (EVAL 0, FCALL 1), atomic: the busy ones that wrote
 * nothing, those that wrote, and an epoch SCRIPT KILL (FUNCTION KILL)
 * bumps; a busy script of that kind that has not written stops when it
 * sees the epoch move. */
uint32_t resp_script_busy;
static uint32_t busy_killable[2];
static uint32_t busy_unkillable[2];
static uint64_t kill_epoch[2];
_Thread_local const char *resp_busy_here;

/* ---- one run of a script, on this worker ---- */

struct run {
    struct resp_ctx *x;
    const char *sha;
    uint64_t start_ms;
    uint64_t kill_epoch;
    int resp;                    /* redis.setresp: 2 or 3 */
    const struct resp_arg *keys; /* the declared keys, held */
    int64_t nkeys;
    struct ks_hold *hold; /* the run's: declared keys, then undeclared ones */
    uint8_t db;
    bool readonly; /* EVAL_RO, EVALSHA_RO, flags=no-writes */
    bool function; /* FCALL, FCALL_RO */
    bool wrote;
    bool busy;
    bool killed;
};

/* The worker's Lua state and what runs in it. */
struct vm {
    lua_State *L;
    uint64_t gen;
    struct run *run;  /* NULL between scripts */
    struct buf reply; /* a command's reply inside a script */
    bool reply_ready;
    unsigned runs_since_gc; /* see SCRIPT_GC_PERIOD */
};

static _Thread_local struct vm vm;

/* runs between explicit collection steps, and the size of each step */
#define SCRIPT_GC_PERIOD 50
static pthread_key_t vm_key;
static pthread_once_t vm_once = PTHREAD_ONCE_INIT;

/* lua_close, then the state's allocator */
static void
state_close(lua_State *L)
{
    void *a = NULL;
    lua_getallocf(L, &a);
    lua_close(L);
    script_alloc_destroy(a);
}

static void
vm_close(struct vm *v)
{
    if (v->L != NULL) {
        state_close(v->L);
        v->L = NULL;
    }
    if (v->reply_ready) {
        buf_deinit(&v->reply);
        v->reply_ready = false;
    }
}

static void
vm_destructor(void *p)
{
    vm_close(p);
}

static void
vm_key_init(void)
{
    pthread_key_create(&vm_key, vm_destructor);
}

/* The stripes of the declared keys, held by this thread (by the script's
 * hold or by the command's around it): marked busy, or back to held. */
static void
mark_keys(const struct run *r, uint8_t mark)
{
    for (int64_t i = 0; i < r->nkeys; i++) {
        ks_stripe_set_mark(
                ks_stripe(r->db, r->keys[i].data, r->keys[i].len), mark);
    }
    /* and the undeclared keys' stripes the run keeps (ks_hold_keep) */
    uint32_t n;
    const uint32_t *s = ks_hold_stripes(r->hold, &n);
    for (uint32_t i = 0; i < n; i++) {
        ks_stripe_set_mark(s[i], mark);
    }
}

static void
busy_mark(struct run *r)
{
    if (!r->busy) {
        r->busy = true;
        /* commands of other workers on its keys answer BUSY from now on */
        mark_keys(
                r, r->function ? RESP_BUSY_MARK_FUNCTION : RESP_BUSY_MARK_EVAL);
        __atomic_add_fetch(&resp_script_busy, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(r->wrote ? &busy_unkillable[r->function]
                                    : &busy_killable[r->function],
                1, __ATOMIC_RELAXED);
    }
}

static void
busy_end(struct run *r)
{
    if (r->busy) {
        mark_keys(r, 0);
        __atomic_sub_fetch(&resp_script_busy, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(r->wrote ? &busy_unkillable[r->function]
                                    : &busy_killable[r->function],
                1, __ATOMIC_RELAXED);
        r->busy = false;
    }
}

static void
busy_wrote(struct run *r)
{
    if (!r->wrote) {
        if (r->busy) {
            __atomic_sub_fetch(
                    &busy_killable[r->function], 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(
                    &busy_unkillable[r->function], 1, __ATOMIC_RELAXED);
        }
        r->wrote = true;
    }
}

static void
hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct run *r = vm.run;
    if (r == NULL) {
        return;
    }
    uint64_t limit = __atomic_load_n(&resp_script_busy_ms, __ATOMIC_RELAXED);
    if (!r->busy && time_now_ms() - r->start_ms >= limit) {
        busy_mark(r);
        log_warn("lua: a script has run for %" PRIu64 " ms (busy); %s "
                 "stops it if it has not written",
                limit, r->function ? "FUNCTION KILL" : "SCRIPT KILL");
    }
    if (r->busy) {
        /* as Redis, the worker keeps answering its other connections
         * while the script runs: BUSY, but SCRIPT KILL / FUNCTION KILL
         * (and the few commands allowed) run, so a script can be stopped
         * from a connection of its own worker, even with one worker */
        resp_busy_here =
                r->function ? RESP_SCRIPT_BUSY_FUNCTION : RESP_SCRIPT_BUSY_EVAL;
        worker_serve_while_busy(r->x->c);
        resp_busy_here = NULL;
    }
    if (r->killed || (r->busy && !r->wrote &&
                             __atomic_load_n(&kill_epoch[r->function],
                                     __ATOMIC_ACQUIRE) != r->kill_epoch)) {
        /* raised again at every hook: a pcall in the script cannot keep
         * it going for long */
        r->killed = true;
        lua_newtable(L); /* as {err=...}: the handler adds no "ERR " */
        lua_pushstring(L, "err");
        lua_pushstring(L, "ERR Script killed by user with SCRIPT KILL...");
        lua_settable(L, -3);
        lua_error(L);
    }
}

/* ---- the redis library ---- */

/* Raises (raise) or returns a table {err=msg}. */
static int
lib_error(lua_State *L, const char *msg, bool raise)
{
    lua_newtable(L);
    lua_pushstring(L, "err");
    lua_pushstring(L, msg);
    lua_settable(L, -3);
    if (raise) {
        return lua_error(L);
    }
    return 1;
}

#define CALL_ARGS_LOCAL 16

static int
redis_command(lua_State *L, bool raise)
{
    struct run *r = vm.run;
    int argc = lua_gettop(L);
    if (r == NULL) {
        return lib_error(L,
                "ERR redis.call and redis.pcall run inside a script only",
                raise);
    }
    if (argc == 0) {
        return lib_error(L,
                "ERR Please specify at least one argument for this redis "
                "lib call",
                raise);
    }
    struct resp_arg local[CALL_ARGS_LOCAL];
    struct resp_arg *argv = local;
    if (argc > CALL_ARGS_LOCAL) {
        argv = lua_newuserdata(L, (size_t)argc * sizeof(*argv));
    }
    for (int i = 0; i < argc; i++) {
        int t = lua_type(L, i + 1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER) {
            return lib_error(L,
                    "ERR Lua redis lib command arguments must be strings or "
                    "integers",
                    raise);
        }
        size_t n;
        /* a number becomes a string in place: it stays on the stack */
        argv[i].data = lua_tolstring(L, i + 1, &n);
        argv[i].len = n;
    }
    const struct resp_command *cmd = resp_command_lookup(argv, (uint32_t)argc);
    if (cmd == NULL || (cmd->nsub > 0)) {
        return lib_error(
                L, "ERR Unknown Redis command called from script", raise);
    }
    if (!resp_command_arity_ok(cmd, (uint32_t)argc)) {
        return lib_error(L,
                "ERR Wrong number of args calling Redis command from script",
                raise);
    }
    if (cmd->flags & RESP_CMD_F_NOSCRIPT) {
        return lib_error(
                L, "ERR This Redis command is not allowed from script", raise);
    }
    if (cmd->flags & RESP_CMD_F_WRITE) {
        if (r->readonly) {
            return lib_error(L,
                    "ERR Write commands are not allowed from read-only "
                    "scripts.",
                    raise);
        }
        busy_wrote(r);
    }
    if (!vm.reply_ready) {
        if (buf_init(&vm.reply, 4096) != STATUS_OK) {
            return lib_error(L, "ERR out of memory", raise);
        }
        vm.reply_ready = true;
    }
    buf_clear(&vm.reply);
    struct resp_writer w = {
            .buf = &vm.reply,
            .max = (size_t)1 << 31,
            .proto = r->resp == 3 ? RESP_PROTO_3 : RESP_PROTO_2,
    };
    struct resp_ctx sub = *r->x;
    sub.w = &w;
    sub.cmd = cmd;
    sub.argv = argv;
    sub.argc = (uint32_t)argc;
    uint32_t kept;
    ks_hold_stripes(r->hold, &kept);
    rstatus_i rc = resp_run_held(&sub, true, RESP_HOLD_WAIT_NS, r->hold);
    uint32_t now_kept;
    const uint32_t *s = ks_hold_stripes(r->hold, &now_kept);
    for (uint32_t i = kept; r->busy && i < now_kept; i++) {
        /* an undeclared key taken while busy: BUSY for it too */
        ks_stripe_set_mark(s[i],
                r->function ? RESP_BUSY_MARK_FUNCTION : RESP_BUSY_MARK_EVAL);
    }
    if (rc != STATUS_OK) {
        return lib_error(L, "ERR out of memory composing the reply", raise);
    }
    size_t len = buf_rsize(&vm.reply);
    if (script_resp_to_lua(L, vm.reply.rpos, len) == 0) {
        return lib_error(L, "ERR the command's reply could not be read", raise);
    }
    if (raise && vm.reply.rpos[0] == '-') {
        return lua_error(L); /* the {err=...} table */
    }
    return 1;
}

static int
lib_call(lua_State *L)
{
    return redis_command(L, true);
}

static int
lib_pcall(lua_State *L)
{
    return redis_command(L, false);
}

static int
reply_table(lua_State *L, const char *field)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        return luaL_error(L, "wrong number or type of arguments");
    }
    lua_newtable(L);
    lua_pushstring(L, field);
    lua_pushvalue(L, 1);
    lua_settable(L, -3);
    return 1;
}

static int
lib_error_reply(lua_State *L)
{
    return reply_table(L, "err");
}

static int
lib_status_reply(lua_State *L)
{
    return reply_table(L, "ok");
}

static int
lib_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1) {
        return luaL_error(L, "wrong number of arguments");
    }
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    char hex[SHA_HEX + 1];
    sha1_hex(s != NULL ? s : "", s != NULL ? n : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int
lib_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2) {
        return luaL_error(L, "redis.log() requires two arguments or more.");
    }
    if (!lua_isnumber(L, 1)) {
        return luaL_error(L, "First argument must be a number (log level).");
    }
    int level = (int)lua_tonumber(L, 1);
    if (level < 0 || level > 3) {
        return luaL_error(L, "Invalid debug level.");
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        size_t n;
        const char *s = lua_tolstring(L, i, &n);
        if (s != NULL) {
            if (i > 2) {
                luaL_addchar(&b, ' ');
            }
            luaL_addlstring(&b, s, n);
        }
    }
    luaL_pushresult(&b);
    const char *msg = lua_tostring(L, -1);
    switch (level) {
    case 3:
        log_warn("lua: %s", msg);
        break;
    case 2:
        log_info("lua: %s", msg);
        break;
    default:
        log_debug("lua: %s", msg);
        break;
    }
    return 0;
}

static int
lib_setresp(lua_State *L)
{
    if (lua_gettop(L) != 1) {
        return luaL_error(L, "redis.setresp() requires one argument.");
    }
    int v = (int)lua_tonumber(L, 1);
    if (v != 2 && v != 3) {
        return lib_error(L, "ERR RESP version must be 2 or 3.", true);
    }
    if (vm.run != NULL) {
        vm.run->resp = v;
    }
    return 0;
}

static int
lib_true(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int
lib_nothing(lua_State *L)
{
    (void)L;
    return 0;
}

/* loadstring without bytecode (a binary chunk can break out of Lua) */
static int
lib_loadstring(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *name = luaL_optstring(L, 2, s);
    if (n > 0 && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, "bytecode is not allowed");
        return 2;
    }
    if (luaL_loadbuffer(L, s, n, name) != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

/* _G's metatable: no new globals, no reading of missing ones. */
static int
globals_newindex(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

static int
globals_index(lua_State *L)
{
    const char *name = lua_tostring(L, 2);
    return luaL_error(L,
            "Script attempted to access nonexistent global variable '%s'",
            name != NULL ? name : "?");
}

/* The error handler: the error as a table {err=, source=, line=} (Redis's
 * __redis__err__handler). */
int
script_error_handler(lua_State *L)
{
    if (!lua_istable(L, 1)) {
        const char *m = lua_tostring(L, 1);
        lua_newtable(L);
        lua_pushstring(L, "err");
        lua_pushfstring(
                L, "ERR %s", m != NULL ? m : "(error object is not a string)");
        lua_settable(L, -3);
        lua_replace(L, 1);
    }
    lua_Debug ar;
    int level = 1;
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "nSl", &ar) &&
            strcmp(ar.what, "C") == 0) {
        level = 2;
    }
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "nSl", &ar)) {
        lua_pushstring(L, "source");
        lua_pushstring(L, ar.source);
        lua_settable(L, 1);
        lua_pushstring(L, "line");
        lua_pushinteger(L, ar.currentline);
        lua_settable(L, 1);
    }
    lua_settop(L, 1);
    return 1;
}

static void
set_fn(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushstring(L, name);
    lua_pushcfunction(L, fn);
    lua_settable(L, -3);
}

static void
set_int(lua_State *L, const char *name, lua_Number v)
{
    lua_pushstring(L, name);
    lua_pushnumber(L, v);
    lua_settable(L, -3);
}

static void
open_lib(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static int
open_cjson(lua_State *L)
{
    luaopen_cjson(L);
    lua_setglobal(L, "cjson");
    return 0;
}

static int
open_bit(lua_State *L)
{
    luaopen_bit(L);
    lua_setglobal(L, "bit");
    return 0;
}

/* An error outside any protected call: Lua exits after this. */
static int
vm_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    log_error("Lua: unprotected error: %s", msg != NULL ? msg : "?");
    return 0;
}

static lua_State *
vm_create(void)
{
    struct script_alloc *a = script_alloc_create();
    lua_State *L = a == NULL ? NULL : lua_newstate(script_alloc_fn, a);
    if (L == NULL) {
        script_alloc_destroy(a);
        return NULL;
    }
    lua_atpanic(L, vm_panic);
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    lua_pushcfunction(L, open_cjson);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, open_bit);
    lua_call(L, 0, 0);
    /* the sandbox: what Redis removes */
    static const char *const removed[] = {"dofile", "loadfile", "print",
            "require", "module", "collectgarbage", "newproxy", "gcinfo",
            "setfenv", "getfenv", NULL};
    for (int i = 0; removed[i] != NULL; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_pushcfunction(L, lib_loadstring);
    lua_setglobal(L, "loadstring");
    lua_newtable(L);
    set_fn(L, "call", lib_call);
    set_fn(L, "pcall", lib_pcall);
    set_fn(L, "error_reply", lib_error_reply);
    set_fn(L, "status_reply", lib_status_reply);
    set_fn(L, "sha1hex", lib_sha1hex);
    set_fn(L, "log", lib_log);
    set_fn(L, "setresp", lib_setresp);
    set_fn(L, "replicate_commands", lib_true);
    set_fn(L, "set_repl", lib_nothing);
    set_fn(L, "breakpoint", lib_nothing);
    set_fn(L, "debug", lib_nothing);
    set_int(L, "LOG_DEBUG", 0);
    set_int(L, "LOG_VERBOSE", 1);
    set_int(L, "LOG_NOTICE", 2);
    set_int(L, "LOG_WARNING", 3);
    set_int(L, "REPL_NONE", 0);
    set_int(L, "REPL_SLAVE", 1);
    set_int(L, "REPL_REPLICA", 1);
    set_int(L, "REPL_AOF", 2);
    set_int(L, "REPL_ALL", 3);
    lua_pushstring(L, "REDIS_VERSION");
    lua_pushstring(L, "7.0.15");
    lua_settable(L, -3);
    set_int(L, "REDIS_VERSION_NUM", 0x00070f);
    lua_setglobal(L, "redis");
    /* compiled scripts: registry["scripts"][sha] = function */
    lua_pushstring(L, "scripts");
    lua_newtable(L);
    lua_settable(L, LUA_REGISTRYINDEX);
    lua_pushstring(L, "nowrites");
    lua_newtable(L);
    lua_settable(L, LUA_REGISTRYINDEX);
    /* KEYS and ARGV exist before the globals are closed */
    lua_newtable(L);
    lua_setglobal(L, "KEYS");
    lua_newtable(L);
    lua_setglobal(L, "ARGV");
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_newtable(L);
    lua_pushcfunction(L, globals_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, globals_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    lua_sethook(L, hook, LUA_MASKCOUNT, SCRIPT_HOOK_COUNT);
    return L;
}

lua_State *
script_vm(void)
{
    uint64_t gen = __atomic_load_n(&cache_gen, __ATOMIC_ACQUIRE);
    if (vm.L != NULL && vm.gen != gen) {
        state_close(vm.L); /* SCRIPT FLUSH: start again */
        vm.L = NULL;
    }
    if (vm.L == NULL) {
        pthread_once(&vm_once, vm_key_init);
        vm.L = vm_create();
        vm.gen = gen;
        pthread_setspecific(vm_key, &vm);
    }
    return vm.L;
}

/* ---- compiling ---- */

/* Pushes the compiled function of sha (compiling body if given and not
 * compiled here yet); false with an error message pushed instead. */
static bool
push_function(lua_State *L, const char *sha, const char *body, size_t len)
{
    lua_pushstring(L, "scripts");
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushstring(L, sha);
    lua_rawget(L, -2);
    if (lua_isfunction(L, -1)) {
        lua_remove(L, -2);
        return true;
    }
    lua_pop(L, 1);
    if (body == NULL) {
        lua_pop(L, 1);
        lua_pushstring(L, "NOSCRIPT No matching script. Please use EVAL.");
        return false;
    }
    if (luaL_loadbuffer(L, body, len, "@user_script") != 0) {
        const char *m = lua_tostring(L, -1);
        lua_pushfstring(L, "ERR Error compiling script (new function): %s",
                m != NULL ? m : "?");
        lua_remove(L, -2);
        lua_remove(L, -2);
        return false;
    }
    lua_pushstring(L, sha);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_remove(L, -2);
    return true;
}

/* The no-writes flag of a script compiled in this state (read back by
 * resp_cmd_eval). */
static void
flag_set(lua_State *L, const char *sha, bool no_writes)
{
    lua_pushstring(L, "nowrites");
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushstring(L, sha);
    lua_pushboolean(L, no_writes);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Redis's shebang: "#!lua flags=no-writes,..." on the first line. The
 * line is made a comment by compile_text (line numbers stay). 1: a
 * shebang, 0: none, -1: a bad one, its error replied. */
static int
shebang(struct resp_ctx *x, const char *body, size_t len, bool *no_writes)
{
    *no_writes = false;
    if (len < 2 || body[0] != '#' || body[1] != '!') {
        return 0;
    }
    const char *eol = memchr(body, '\n', len);
    size_t n = eol != NULL ? (size_t)(eol - body) : len;
    const char *p = body + 2, *end = body + n;
    const char *e = p;
    while (e < end && *e != ' ') {
        e++;
    }
    if ((size_t)(e - p) != 3 || memcmp(p, "lua", 3) != 0) {
        resp_compose_error_fmt(x->w,
                "ERR Unexpected engine in script shebang: %.*s",
                (int)(e - body > 64 ? 64 : e - body), body);
        return -1;
    }
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
        if ((size_t)(e - p) < 6 || memcmp(p, "flags=", 6) != 0) {
            resp_compose_error_fmt(x->w, "ERR Unknown lua shebang option: %.*s",
                    (int)(e - p > 64 ? 64 : e - p), p);
            return -1;
        }
        const char *f = p + 6;
        while (f < e) {
            const char *c = memchr(f, ',', (size_t)(e - f));
            const char *fe = c != NULL ? c : e;
            size_t fl = (size_t)(fe - f);
            if (fl == 9 && memcmp(f, "no-writes", 9) == 0) {
                *no_writes = true;
            } else if (!((fl == 9 && memcmp(f, "allow-oom", 9) == 0) ||
                               (fl == 11 &&
                                       memcmp(f, "allow-stale", 11) == 0) ||
                               (fl == 10 && memcmp(f, "no-cluster", 10) == 0) ||
                               (fl == 21 && memcmp(f, "allow-cross-slot-keys",
                                                    21) == 0))) {
                resp_compose_error_fmt(x->w,
                        "ERR Unexpected flag in script shebang: %.*s",
                        (int)(fl > 64 ? 64 : fl), f);
                return -1;
            }
            f = fe + (c != NULL ? 1 : 0);
        }
        p = e;
    }
    return 1;
}

/* The body Lua compiles: a shebang line blanked (caller releases). */
static char *
compile_text(const char *body, size_t len, bool has_shebang)
{
    char *t = mm_alloc(len + 1);
    if (t == NULL) {
        return NULL;
    }
    memcpy(t, body, len);
    if (has_shebang) {
        for (size_t i = 0; i < len && t[i] != '\n'; i++) {
            t[i] = ' ';
        }
        t[0] = '-'; /* "--" starts a comment */
        if (len > 1) {
            t[1] = '-';
        }
    }
    return t;
}

/* ---- the commands ---- */

static void
set_args(lua_State *L, const char *name, const struct resp_arg *a, int64_t n)
{
    /* sized at once: filled one by one, a new table's array part is
     * resized at every power of two (two rehashes for two keys, about
     * 1,000 instructions of a short EVALSHA) */
    lua_createtable(L, n < INT_MAX ? (int)n : 0, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushlstring(L, a[i].data, a[i].len);
        lua_rawseti(L, -2, (int)(i + 1));
    }
    lua_pushstring(L, name);
    lua_insert(L, -2);
    lua_rawset(L, LUA_GLOBALSINDEX);
}

static rstatus_i
reply_run_error(struct resp_ctx *x, lua_State *L, const char *sha)
{
    if (!lua_istable(L, -1)) {
        const char *m = lua_tostring(L, -1);
        return resp_compose_error_fmt(x->w,
                "ERR Error running script (call to f_%s): @user_script: %s",
                sha, m != NULL ? m : "?");
    }
    int t = lua_gettop(L);
    lua_getfield(L, t, "err");
    lua_getfield(L, t, "source");
    lua_getfield(L, t, "line");
    size_t n;
    const char *err = lua_tolstring(L, t + 1, &n);
    const char *src = lua_tostring(L, t + 2);
    const char *line = lua_tostring(L, t + 3);
    rstatus_i rc;
    if (err == NULL) {
        err = "ERR unknown error";
        n = strlen(err);
    }
    if (src != NULL && line != NULL) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addstring(&b, err);
        luaL_addstring(&b, " script: ");
        luaL_addstring(&b, sha);
        luaL_addstring(&b, ", on ");
        luaL_addstring(&b, src);
        luaL_addstring(&b, ":");
        luaL_addstring(&b, line);
        luaL_addstring(&b, ".");
        luaL_pushresult(&b);
        const char *m = lua_tolstring(L, -1, &n);
        rc = resp_compose_error(x->w, m, n);
    } else {
        rc = resp_compose_error(x->w, err, n);
    }
    lua_settop(L, t);
    return rc;
}

/* EVAL EVALSHA EVAL_RO EVALSHA_RO */
rstatus_i
resp_cmd_eval(struct resp_ctx *x)
{
    resp_command_e id = x->cmd->id;
    bool by_sha = id == RESP_CMD_EVALSHA || id == RESP_CMD_EVALSHA_RO;
    bool readonly = id == RESP_CMD_EVAL_RO || id == RESP_CMD_EVALSHA_RO;
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
    char sha[SHA_HEX + 1];
    char *body = NULL;
    size_t blen = 0;
    const struct resp_arg *a1 = &x->argv[1];
    if (by_sha) {
        if (a1->len != SHA_HEX) {
            return resp_err(x, "NOSCRIPT No matching script. Please use "
                               "EVAL.");
        }
        for (size_t i = 0; i < SHA_HEX; i++) {
            char c = a1->data[i];
            sha[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        sha[SHA_HEX] = '\0';
    } else {
        sha1_hex(a1->data, a1->len, sha);
    }
    lua_State *L = script_vm();
    if (L == NULL) {
        return resp_err(x, "ERR out of memory creating the Lua state");
    }
    /* the body: EVAL's argument, or the cache's when this worker has not
     * compiled it yet */
    const char *src = by_sha ? NULL : a1->data;
    size_t slen = by_sha ? 0 : a1->len;
    /* the stack from top: the error handler, the scripts table, the sha,
     * the compiled function (or nil). The sha is hashed into a Lua string
     * once: its lookups and the no-writes flag's reuse it (a short
     * EVALSHA hashed it three times, about 500 instructions). */
    int top = lua_gettop(L);
    lua_pushcfunction(L, script_error_handler);
    lua_pushstring(L, "scripts");
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushlstring(L, sha, SHA_HEX);
    lua_pushvalue(L, -1);
    lua_rawget(L, top + 2);
    bool compiled = lua_isfunction(L, -1);
    if (by_sha && !compiled) {
        body = cache_copy(sha, &blen);
        if (body == NULL) {
            lua_settop(L, top);
            return resp_err(x, "NOSCRIPT No matching script. Please use "
                               "EVAL.");
        }
        src = body;
        slen = blen;
    }
    if (!by_sha && !cache_has(sha) && !cache_add(sha, a1->data, a1->len)) {
        lua_settop(L, top);
        return resp_err(x, "ERR out of memory caching the script");
    }
    /* the shebang's flags: read from the body when there is one, else
     * what this worker recorded when it compiled the script */
    bool no_writes = false;
    int sb = 0;
    if (src != NULL) {
        sb = shebang(x, src, slen, &no_writes);
    } else {
        lua_pushstring(L, "nowrites");
        lua_rawget(L, LUA_REGISTRYINDEX);
        lua_pushvalue(L, top + 3);
        lua_rawget(L, -2);
        no_writes = lua_toboolean(L, -1);
        lua_pop(L, 2);
    }
    if (sb < 0) {
        mm_release(body);
        lua_settop(L, top);
        return STATUS_OK; /* the error was replied */
    }
    bool ok = true;
    if (compiled) {
        lua_replace(L, top + 2); /* handler, function */
        lua_settop(L, top + 2);
    } else {
        char *ctext = compile_text(src, slen, sb > 0);
        if (ctext == NULL) {
            mm_release(body);
            lua_settop(L, top);
            return resp_err(x, "ERR out of memory");
        }
        lua_settop(L, top + 1);
        ok = push_function(L, sha, ctext, slen);
        mm_release(ctext);
        if (ok) {
            flag_set(L, sha, no_writes);
        }
    }
    mm_release(body);
    if (!ok) {
        size_t n;
        const char *m = lua_tolstring(L, -1, &n);
        rstatus_i rc = resp_compose_error(x->w, m, n);
        lua_settop(L, top);
        return rc;
    }
    set_args(L, "KEYS", x->argv + 3, numkeys);
    set_args(L, "ARGV", x->argv + 3 + numkeys, (int64_t)x->argc - 3 - numkeys);
    return script_run(x, L, top, 0, sha, x->argv + 3, numkeys,
            readonly || no_writes ? SCRIPT_READONLY : SCRIPT_EVAL);
}

/* A string the script returns past 1 MiB: sent in pieces from a copy
 * (resp_out_dup), as Redis sends it whatever its size, instead of whole
 * through a write buffer that worker.wbuf_max caps. */
static bool
big_string(void *arg, const char *s, size_t n)
{
    return resp_out_dup(arg, s, n);
}

rstatus_i
script_run(struct resp_ctx *x, lua_State *L, int top, int nargs,
        const char *name, const struct resp_arg *keys, int64_t nkeys,
        script_flags_e flags)
{
    bool function = (flags & SCRIPT_FUNCTION) != 0;
    /* the declared keys, held for the whole run */
    struct ks_hold h;
    ks_hold_init(&h);
    bool held = true;
    for (int64_t i = 0; held && i < nkeys; i++) {
        held = ks_hold_add(&h, resp_db(x), keys[i].data, keys[i].len);
    }
    if (!held || !ks_hold_take(&h, RESP_HOLD_WAIT_NS)) {
        ks_hold_release(&h);
        lua_settop(L, top);
        return resp_err(x, "BUSYKEY the script's keys could not be held");
    }
    struct run run = {
            .x = x,
            .sha = name,
            .start_ms = time_now_ms(),
            .kill_epoch =
                    __atomic_load_n(&kill_epoch[function], __ATOMIC_ACQUIRE),
            .resp = 2,
            .keys = keys,
            .nkeys = nkeys,
            .hold = &h,
            .db = resp_db(x),
            .readonly = (flags & SCRIPT_READONLY) != 0,
            .function = function,
    };
    uint32_t db = x->c->db;
    vm.run = &run;
    int status = lua_pcall(L, nargs, 1, top + 1);
    vm.run = NULL;
    busy_end(&run);
    if (x->c->db != db) {
        resp_select(x, db); /* SELECT in a script stays in the script */
    }
    /* in EXEC, what the script took stays held until EXEC ends */
    if (x->st->exec_hold != NULL && !ks_hold_keep(x->st->exec_hold, &h)) {
        log_debug("resp conn %" PRIu64 ": a script's undeclared keys are "
                  "released before its EXEC ends (out of memory)",
                x->c->id);
    }
    ks_hold_release(&h);
    rstatus_i rc = status == 0 ? script_lua_to_resp(
                                         L, -1, x->w, run.resp, big_string, x)
                               : reply_run_error(x, L, name);
    lua_settop(L, top);
    /* The arguments of this run are garbage now. Lua's incremental
     * collector runs as it allocates anyway; an explicit step keeps the
     * heap from waiting for a whole cycle. One step per run cost 10,600
     * instructions, 40% of a short EVALSHA (callgrind), so a bigger step
     * comes once every SCRIPT_GC_PERIOD runs, as Redis paces its own. */
    if (++vm.runs_since_gc >= SCRIPT_GC_PERIOD) {
        vm.runs_since_gc = 0;
        lua_gc(L, LUA_GCSTEP, SCRIPT_GC_PERIOD);
    }
    return rc;
}

/* SCRIPT KILL (function false) and FUNCTION KILL, as Redis's scriptKill
 * answers them: a busy script of the command's kind that wrote nothing is
 * killed; else one that wrote is UNKILLABLE; else one of the other kind
 * is BUSY, naming the command that would kill it; else NOTBUSY. Redis
 * runs one script at a time; here each worker may run one, and a kill
 * stops every busy script of its kind that has not written. */
rstatus_i
script_kill(struct resp_ctx *x, bool function)
{
    if (__atomic_load_n(&busy_killable[function], __ATOMIC_RELAXED) > 0) {
        __atomic_add_fetch(&kill_epoch[function], 1, __ATOMIC_RELEASE);
        return resp_compose_ok(x->w);
    }
    if (__atomic_load_n(&busy_unkillable[0], __ATOMIC_RELAXED) > 0 ||
            __atomic_load_n(&busy_unkillable[1], __ATOMIC_RELAXED) > 0) {
        return resp_err(x, "UNKILLABLE Sorry the script already executed "
                           "write commands against the dataset. You can "
                           "either wait the script termination or kill "
                           "the server in a hard way using the SHUTDOWN "
                           "NOSAVE command.");
    }
    if (__atomic_load_n(&busy_killable[!function], __ATOMIC_RELAXED) > 0) {
        return resp_err(x,
                function ? RESP_SCRIPT_BUSY_EVAL : RESP_SCRIPT_BUSY_FUNCTION);
    }
    return resp_err(x, "NOTBUSY No scripts in execution right now.");
}

/* SCRIPT LOAD EXISTS FLUSH KILL */
rstatus_i
resp_cmd_script(struct resp_ctx *x)
{
    switch (x->cmd->id) {
    case RESP_CMD_SCRIPT_LOAD: {
        const struct resp_arg *b = &x->argv[2];
        char sha[SHA_HEX + 1];
        sha1_hex(b->data, b->len, sha);
        lua_State *L = script_vm();
        if (L == NULL) {
            return resp_err(x, "ERR out of memory creating the Lua state");
        }
        bool no_writes;
        int sb = shebang(x, b->data, b->len, &no_writes);
        if (sb < 0) {
            return STATUS_OK;
        }
        char *t = compile_text(b->data, b->len, sb > 0);
        if (t == NULL) {
            return resp_err(x, "ERR out of memory");
        }
        int top = lua_gettop(L);
        bool ok = push_function(L, sha, t, b->len);
        mm_release(t);
        if (ok) {
            flag_set(L, sha, no_writes);
        }
        if (!ok) {
            size_t n;
            const char *m = lua_tolstring(L, -1, &n);
            rstatus_i rc = resp_compose_error(x->w, m, n);
            lua_settop(L, top);
            return rc;
        }
        lua_settop(L, top);
        if (!cache_add(sha, b->data, b->len)) {
            return resp_err(x, "ERR out of memory caching the script");
        }
        return resp_compose_bulk(x->w, sha, SHA_HEX);
    }
    case RESP_CMD_SCRIPT_EXISTS: {
        rstatus_i rc = resp_compose_array(x->w, x->argc - 2);
        for (uint32_t i = 2; rc == STATUS_OK && i < x->argc; i++) {
            const struct resp_arg *a = &x->argv[i];
            char sha[SHA_HEX + 1];
            bool found = false;
            if (a->len == SHA_HEX) {
                for (size_t j = 0; j < SHA_HEX; j++) {
                    char c = a->data[j];
                    sha[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
                }
                sha[SHA_HEX] = '\0';
                found = cache_has(sha);
            }
            rc = resp_compose_integer(x->w, found ? 1 : 0);
        }
        return rc;
    }
    case RESP_CMD_SCRIPT_KILL:
        return script_kill(x, false);
    default: /* FLUSH */
        if (x->argc > 3 || (x->argc == 3 && !resp_arg_is(&x->argv[2], "sync") &&
                                   !resp_arg_is(&x->argv[2], "async"))) {
            return resp_err(
                    x, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        }
        cache_flush();
        return resp_compose_ok(x->w);
    }
}
