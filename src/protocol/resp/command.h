/* SPDX-License-Identifier: Apache-2.0 */
/* The RESP command table as data (name, arity, flags, key positions, ACL
 * categories, tips, key specs, short docs; taken from Redis 7.0.15 by
 * gen_command_table.py), its case-insensitive lookup, and the error replies
 * Redis gives before a command runs: unknown command, unknown subcommand,
 * wrong number of arguments. The table is constant: any thread may call
 * anything here. */
#pragma once

#include "protocol/resp/command_id.h"

#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct resp_arg;
struct resp_writer;

/* Command flags, in the order COMMAND INFO prints them (bit i is named
 * resp_command_flag_names[i]). */
/* clang-format off */
#define RESP_CMD_FLAG(ACTION)                               \
    ACTION( WRITE,             "write"             )        \
    ACTION( READONLY,          "readonly"          )        \
    ACTION( DENYOOM,           "denyoom"           )        \
    ACTION( MODULE,            "module"            )        \
    ACTION( ADMIN,             "admin"             )        \
    ACTION( PUBSUB,            "pubsub"            )        \
    ACTION( NOSCRIPT,          "noscript"          )        \
    ACTION( BLOCKING,          "blocking"          )        \
    ACTION( LOADING,           "loading"           )        \
    ACTION( STALE,             "stale"             )        \
    ACTION( SKIP_MONITOR,      "skip_monitor"      )        \
    ACTION( SKIP_SLOWLOG,      "skip_slowlog"      )        \
    ACTION( ASKING,            "asking"            )        \
    ACTION( FAST,              "fast"              )        \
    ACTION( NO_AUTH,           "no_auth"           )        \
    ACTION( MAY_REPLICATE,     "may_replicate"     )        \
    ACTION( NO_MANDATORY_KEYS, "no_mandatory_keys" )        \
    ACTION( NO_ASYNC_LOADING,  "no_async_loading"  )        \
    ACTION( NO_MULTI,          "no_multi"          )        \
    ACTION( MOVABLEKEYS,       "movablekeys"       )        \
    ACTION( ALLOW_BUSY,        "allow_busy"        )

/* ACL categories, in the order Redis prints them (without the '@'). */
#define RESP_ACL_CATEGORY(ACTION)                           \
    ACTION( KEYSPACE,    "keyspace"    )                    \
    ACTION( READ,        "read"        )                    \
    ACTION( WRITE,       "write"       )                    \
    ACTION( SET,         "set"         )                    \
    ACTION( SORTEDSET,   "sortedset"   )                    \
    ACTION( LIST,        "list"        )                    \
    ACTION( HASH,        "hash"        )                    \
    ACTION( STRING,      "string"      )                    \
    ACTION( BITMAP,      "bitmap"      )                    \
    ACTION( HYPERLOGLOG, "hyperloglog" )                    \
    ACTION( GEO,         "geo"         )                    \
    ACTION( STREAM,      "stream"      )                    \
    ACTION( PUBSUB,      "pubsub"      )                    \
    ACTION( ADMIN,       "admin"       )                    \
    ACTION( FAST,        "fast"        )                    \
    ACTION( SLOW,        "slow"        )                    \
    ACTION( BLOCKING,    "blocking"    )                    \
    ACTION( DANGEROUS,   "dangerous"   )                    \
    ACTION( CONNECTION,  "connection"  )                    \
    ACTION( TRANSACTION, "transaction" )                    \
    ACTION( SCRIPTING,   "scripting"   )
/* clang-format on */

#define RESP_CMD_FLAG_BIT_ENUM(_name, _str) RESP_CMD_F_BIT_##_name,
#define RESP_ACL_BIT_ENUM(_name, _str)      RESP_ACL_BIT_##_name,
enum {
    RESP_CMD_FLAG(RESP_CMD_FLAG_BIT_ENUM) RESP_CMD_NFLAG
};
enum {
    RESP_ACL_CATEGORY(RESP_ACL_BIT_ENUM) RESP_ACL_NCATEGORY
};
#define RESP_CMD_FLAG_MASK(_name, _str)                                        \
    RESP_CMD_F_##_name = 1u << RESP_CMD_F_BIT_##_name,
#define RESP_ACL_MASK(_name, _str)                                             \
    RESP_ACL_##_name = 1u << RESP_ACL_BIT_##_name,
enum {
    RESP_CMD_FLAG(RESP_CMD_FLAG_MASK)
};
enum {
    RESP_ACL_CATEGORY(RESP_ACL_MASK)
};

extern const char *const resp_command_flag_names[RESP_CMD_NFLAG];
extern const char *const resp_acl_category_names[RESP_ACL_NCATEGORY];

/* One key spec of the kinds every tabled command uses: begin_search by
 * index, find_keys by range or by keynum, or both "unknown" (SORT's BY/GET
 * and STORE keys, with notes); COMMAND INFO prints these. */
struct resp_keyspec {
    const char *flags; /* space-separated: "RW access update" */
    int32_t index;     /* begin_search index */
    int32_t lastkey;   /* range: relative last key, -1 = end;
                          keynum: keynumidx (relative to index) */
    int32_t keystep;   /* range: step; keynum: firstkey (relative) */
    int32_t limit;     /* range: limit; keynum: keystep */
    bool keynum;       /* find_keys by keynum (SINTERCARD, ZUNION ...) */
    bool unknown;      /* begin_search and find_keys "unknown" */
    const char *notes; /* or NULL */
};

/* One command or subcommand. name_len is strlen(name). arity follows Redis:
 * N > 0 means exactly N arguments including the name (and the subcommand),
 * -N means at least N. first_key/last_key/step are the legacy key
 * positions (last_key -1 = the last argument). A container (CLIENT,
 * CONFIG ...) has nsub rows in sub, sorted by name; a subcommand's parent
 * is its container's id (RESP_NCOMMAND_ALL for top-level rows). Unused
 * text fields are NULL. */
struct resp_command {
    const char *name;     /* lowercase: "get", "setname" */
    const char *fullname; /* "get", "client|setname" */
    resp_command_e id;
    resp_command_e parent;
    uint8_t name_len;
    int32_t arity;
    int8_t first_key;
    int8_t last_key;
    int8_t step;
    uint8_t nsub;
    uint8_t ntip;
    uint8_t nkeyspec;
    /* from this many arguments on, the command names several keys (or must
     * run as one step anyway: COPY, MOVE, MSETNX, GETEX) and runs under a
     * hold of its keys (resp_run_held); 0 always, RESP_HOLD_NEVER never */
    uint32_t hold_argc;
    uint32_t flags; /* RESP_CMD_F_* */
    uint32_t acl;   /* RESP_ACL_* */
    const char *tips[3];
    struct resp_keyspec keyspecs[3];
    const char *summary;
    const char *since;
    const char *group;
    const char *complexity;
    const char *doc_flags; /* "deprecated" or NULL */
    const char *deprecated_since;
    const char *replaced_by;
    const struct resp_command *sub;
};

#define RESP_HOLD_NEVER 0xffffffffu

/* Generated data (command_table.c): the top-level rows sorted by name, and
 * every row (subcommands too) by id, and the hash index of the top-level
 * names (FNV-1a of the lowercase name, linear probing, row index + 1). Use
 * the functions below. */
#define RESP_COMMAND_HASH_SIZE 1024
extern const uint16_t resp_command_hash[RESP_COMMAND_HASH_SIZE];
extern const struct resp_command resp_command_table[RESP_NCOMMAND];
extern const struct resp_command
        *const resp_command_by_id_table[RESP_NCOMMAND_ALL];

/* The i-th top-level command in name order, i < RESP_NCOMMAND (for COMMAND
 * LIST, COMMAND INFO without arguments, COMMAND COUNT). */
static inline const struct resp_command *
resp_command_at(size_t i)
{
    return i < RESP_NCOMMAND ? &resp_command_table[i] : NULL;
}

static inline const struct resp_command *
resp_command_by_id(resp_command_e id)
{
    return (unsigned)id < RESP_NCOMMAND_ALL ? resp_command_by_id_table[id]
                                            : NULL;
}

static inline bool
resp_command_has_sub(const struct resp_command *cmd)
{
    return cmd->nsub > 0;
}

/* Redis's arity rule for argc arguments (the name included). */
static inline bool
resp_command_arity_ok(const struct resp_command *cmd, uint32_t argc)
{
    if (cmd->arity >= 0) {
        return argc == (uint32_t)cmd->arity;
    }
    return argc >= (uint32_t)-cmd->arity;
}

/* Top-level command by name, ASCII case-insensitive; NULL if none. */
const struct resp_command *resp_command_find(const char *name, size_t len);
/* Subcommand of cmd by name, case-insensitive; NULL if none. */
const struct resp_command *resp_command_find_sub(
        const struct resp_command *cmd, const char *name, size_t len);
/* By full name as COMMAND INFO/DOCS/GETKEYS take it: "get" or
 * "client|setname"; NULL if none. */
const struct resp_command *resp_command_find_fullname(
        const char *name, size_t len);
/* Redis's lookupCommand: argv[0] names the command; for a container with
 * argc >= 2, argv[1] names the subcommand and NULL is returned when there
 * is no such subcommand (a container alone returns the container). */
const struct resp_command *resp_command_lookup(
        const struct resp_arg *argv, uint32_t argc);

/* Key positions (argument indexes) of cmd called with argc arguments, from
 * first_key/last_key/step as Redis's legacy range does, or from the keynum
 * key spec of a movable-keys command (which reads its count in argv; 0 when
 * argv is NULL or the count is bad), plus SORT's STORE key found as Redis's
 * sortGetKeys finds it (argv NULL: none); writes at most cap of them to pos
 * and returns how many there are. */
size_t resp_command_keys(const struct resp_command *cmd,
        const struct resp_arg *argv, uint32_t argc, uint32_t *pos, size_t cap);

/* The error replies Redis gives before running a command, byte for byte
 * (Redis 7.0 processCommand; CR and LF in user text become spaces):
 *   -ERR unknown command '<argv0 up to 128 bytes>', with args beginning
 *    with: '<arg1>' '<arg2>' ...     (args shown while the list is under
 *    128 bytes, the last one cut to fit, each cut at a NUL byte)
 *   -ERR unknown subcommand '<argv1 up to 128>'. Try <ARGV0> HELP.
 *   -ERR wrong number of arguments for '<fullname>' command
 * STATUS_ENOMEM if the write buffer cannot hold them. */
rstatus_i resp_compose_err_unknown_command(
        struct resp_writer *w, const struct resp_arg *argv, uint32_t argc);
rstatus_i resp_compose_err_unknown_subcommand(
        struct resp_writer *w, const struct resp_arg *argv);
rstatus_i resp_compose_err_arity(
        struct resp_writer *w, const struct resp_command *cmd);

/* What processCommand does first: looks the command up and checks its
 * arity. Returns the command, or NULL after composing the matching error
 * reply (unknown command, unknown subcommand, wrong number of arguments).
 * argc must be at least 1. */
const struct resp_command *resp_command_check(
        struct resp_writer *w, const struct resp_arg *argv, uint32_t argc);
