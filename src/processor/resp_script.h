/* SPDX-License-Identifier: Apache-2.0 */
/* Lua scripting (EVAL, EVALSHA, SCRIPT) for the resp processor: the
 * conversions between RESP replies and Lua values that Redis 7.0.15 makes
 * (resp_script_conv.c, pure: the fuzz target drives them), and the
 * per-worker Lua state, script cache and commands (resp_script.c).
 * docs/protocol-resp.md "Scripting". */
#pragma once

#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lua_State;
struct resp_writer;

/* Max nesting of arrays and maps converted either way; deeper levels
 * become a null (to Lua: nil) rather than recursing further. */
#define SCRIPT_CONV_DEPTH 256

/* Parses one RESP2 or RESP3 reply at p[0..len) (what a command composed)
 * and pushes it on L as Redis's redisProtocolToLuaType does: integer ->
 * number, bulk -> string, null bulk or null array -> false, status ->
 * {ok=s}, error -> {err=s}, array -> table; RESP3: null -> nil, boolean,
 * double -> {double=n}, big number -> {big_number=s}, map -> {map={}},
 * set -> {set={k=true}}, verbatim -> {verbatim_string={format=,string=}},
 * attributes skipped. Returns the bytes used, or 0 when the input is not
 * one whole reply (then nothing is pushed). */
size_t script_resp_to_lua(struct lua_State *L, const char *p, size_t len);

/* Composes the Lua value at index idx as Redis's luaReplyToRedisReply:
 * string -> bulk, number -> integer, boolean (script_resp 2) -> 1 or null,
 * (3) -> boolean, table with err / ok / double / big_number / map / set /
 * verbatim_string -> that reply, other table -> array up to the first nil,
 * anything else -> null. STATUS_ENOMEM when w is full. */
/* big, if not NULL, is offered every string past SENDVAL_MIN first: true
 * when it wrote it (sent in pieces), false to compose it into w. */
typedef bool script_big_fn(void *arg, const char *s, size_t n);
rstatus_i script_lua_to_resp(struct lua_State *L, int idx,
        struct resp_writer *w, int script_resp, script_big_fn *big, void *arg);

/* ---- resp_script.c, for resp_function.c ---- */

struct resp_ctx;
struct resp_arg;
/* This worker's Lua state (created on first use, renewed after SCRIPT
 * FLUSH); NULL when out of memory. */
struct lua_State *script_vm(void);
/* Redis's error handler: the error as {err=, source=, line=}. */
int script_error_handler(struct lua_State *L);
typedef enum {
    SCRIPT_EVAL = 0,
    SCRIPT_READONLY = 1, /* *_RO or flags=no-writes: no write commands */
    SCRIPT_FUNCTION = 2, /* FCALL: FUNCTION KILL stops it, not SCRIPT KILL */
} script_flags_e;
/* Runs the function at top + 2 (the error handler at top + 1) with nargs
 * arguments above it, holding the stripes of keys[0..nkeys) for the run,
 * and replies its result or error (errors name `name`). Leaves L at top. */
rstatus_i script_run(struct resp_ctx *x, struct lua_State *L, int top,
        int nargs, const char *name, const struct resp_arg *keys, int64_t nkeys,
        script_flags_e flags);
/* SCRIPT KILL (function false) or FUNCTION KILL (true), replied. */
rstatus_i script_kill(struct resp_ctx *x, bool function);

/* busy-reply-threshold (alias lua-time-limit): a script that has run this
 * many ms is busy and may be killed. Read and set atomically; Redis's
 * default. */
#define RESP_SCRIPT_BUSY_MS 5000
extern uint64_t resp_script_busy_ms;
/* Busy scripts now (atomic): while it is 0 nothing is checked. A busy
 * script marks its keys' stripes (ks_stripe_set_mark) with its kind. */
extern uint32_t resp_script_busy;
/* While a busy script lets the other connections of its worker in
 * (worker_serve_while_busy), the reply they get: RESP_SCRIPT_BUSY_EVAL or
 * _FUNCTION; NULL at every other time. This thread's. */
extern _Thread_local const char *resp_busy_here;
#define RESP_BUSY_MARK_EVAL     1
#define RESP_BUSY_MARK_FUNCTION 2
/* Redis's replies to a command that would wait for a busy EVAL script or
 * function (shared.slowevalerr and shared.slowscripterr). */
#define RESP_SCRIPT_BUSY_EVAL                                                  \
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "   \
    "SHUTDOWN NOSAVE."
#define RESP_SCRIPT_BUSY_FUNCTION                                              \
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL "    \
    "or SHUTDOWN NOSAVE."
