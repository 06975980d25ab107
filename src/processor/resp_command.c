/* SPDX-License-Identifier: Apache-2.0 */
/* COMMAND, COMMAND COUNT/INFO/DOCS/LIST/GETKEYS, composed from the command
 * table in Redis 7.0.15's shapes (sets and maps under RESP3). COMMAND DOCS
 * leaves out "arguments" and "history": the table does not carry them. */
#include "processor/resp_internal.h"

#include "base/mm.h"

#include <string.h>

static size_t
count_words(const char *s)
{
    size_t n = 0;
    bool in = false;
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == ' ') {
            in = false;
        } else if (!in) {
            in = true;
            n++;
        }
    }
    return n;
}

/* Each space-separated word of s as a simple string. */
static rstatus_i
words(struct resp_writer *w, const char *s)
{
    rstatus_i rc = resp_compose_set(w, count_words(s));
    while (rc == STATUS_OK && s != NULL && *s != '\0') {
        if (*s == ' ') {
            s++;
            continue;
        }
        size_t n = strcspn(s, " ");
        rc = resp_compose_simple(w, s, n);
        s += n;
    }
    return rc;
}

static rstatus_i
bulk_str(struct resp_writer *w, const char *s)
{
    return resp_compose_bulk(w, s, strlen(s));
}

/* {"flags": ..., "begin_search": {"type": "index", "spec": {"index": i}},
 *  "find_keys": {"type": "range", "spec": {lastkey, keystep, limit}}} */
/* The notes (when there are), the flags. */
static rstatus_i
keyspec_head(struct resp_writer *w, const struct resp_keyspec *ks)
{
    rstatus_i rc = resp_compose_map(w, ks->notes != NULL ? 4 : 3);
    if (ks->notes != NULL) {
        rc = rc == STATUS_OK ? bulk_str(w, "notes") : rc;
        rc = rc == STATUS_OK ? bulk_str(w, ks->notes) : rc;
    }
    rc = rc == STATUS_OK ? bulk_str(w, "flags") : rc;
    return rc == STATUS_OK ? words(w, ks->flags) : rc;
}

/* SORT's: {"notes": ..., "flags": ..., "begin_search": {"type": "unknown",
 * "spec": {}}, "find_keys": {"type": "unknown", "spec": {}}} */
static rstatus_i
keyspec_unknown(struct resp_writer *w, const struct resp_keyspec *ks)
{
    rstatus_i rc = keyspec_head(w, ks);
    const char *part[2] = {"begin_search", "find_keys"};
    for (int i = 0; i < 2; i++) {
        rc = rc == STATUS_OK ? bulk_str(w, part[i]) : rc;
        rc = rc == STATUS_OK ? resp_compose_map(w, 2) : rc;
        rc = rc == STATUS_OK ? bulk_str(w, "type") : rc;
        rc = rc == STATUS_OK ? bulk_str(w, "unknown") : rc;
        rc = rc == STATUS_OK ? bulk_str(w, "spec") : rc;
        rc = rc == STATUS_OK ? resp_compose_map(w, 0) : rc;
    }
    return rc;
}

static rstatus_i
keyspec(struct resp_writer *w, const struct resp_keyspec *ks)
{
    if (ks->unknown) {
        return keyspec_unknown(w, ks);
    }
    rstatus_i rc = keyspec_head(w, ks);
    rc = rc == STATUS_OK ? bulk_str(w, "begin_search") : rc;
    rc = rc == STATUS_OK ? resp_compose_map(w, 2) : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "type") : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "index") : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "spec") : rc;
    rc = rc == STATUS_OK ? resp_compose_map(w, 1) : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "index") : rc;
    rc = rc == STATUS_OK ? resp_compose_integer(w, ks->index) : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "find_keys") : rc;
    rc = rc == STATUS_OK ? resp_compose_map(w, 2) : rc;
    if (ks->keynum) {
        rc = rc == STATUS_OK ? bulk_str(w, "type") : rc;
        rc = rc == STATUS_OK ? bulk_str(w, "keynum") : rc;
        rc = rc == STATUS_OK ? bulk_str(w, "spec") : rc;
        rc = rc == STATUS_OK ? resp_compose_map(w, 3) : rc;
        rc = rc == STATUS_OK ? bulk_str(w, "keynumidx") : rc;
        rc = rc == STATUS_OK ? resp_compose_integer(w, ks->lastkey) : rc;
        rc = rc == STATUS_OK ? bulk_str(w, "firstkey") : rc;
        rc = rc == STATUS_OK ? resp_compose_integer(w, ks->keystep) : rc;
        rc = rc == STATUS_OK ? bulk_str(w, "keystep") : rc;
        return rc == STATUS_OK ? resp_compose_integer(w, ks->limit) : rc;
    }
    rc = rc == STATUS_OK ? bulk_str(w, "type") : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "range") : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "spec") : rc;
    rc = rc == STATUS_OK ? resp_compose_map(w, 3) : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "lastkey") : rc;
    rc = rc == STATUS_OK ? resp_compose_integer(w, ks->lastkey) : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "keystep") : rc;
    rc = rc == STATUS_OK ? resp_compose_integer(w, ks->keystep) : rc;
    rc = rc == STATUS_OK ? bulk_str(w, "limit") : rc;
    return rc == STATUS_OK ? resp_compose_integer(w, ks->limit) : rc;
}

static rstatus_i
flag_set(struct resp_writer *w, uint32_t bits, const char *const *names,
        size_t n, const char *prefix)
{
    char name[40];
    rstatus_i rc = resp_compose_set(w, (uint64_t)__builtin_popcount(bits));
    for (size_t i = 0; rc == STATUS_OK && i < n; i++) {
        if (bits & (1u << i)) {
            size_t len = strlen(prefix);
            memcpy(name, prefix, len);
            size_t k = strlen(names[i]);
            memcpy(name + len, names[i], k);
            rc = resp_compose_simple(w, name, len + k);
        }
    }
    return rc;
}

/* One COMMAND INFO entry: name, arity, flags, first, last, step, ACL
 * categories, tips, key specs, subcommands. */
static rstatus_i
command_info(struct resp_writer *w, const struct resp_command *cmd)
{
    rstatus_i rc = resp_compose_array(w, 10);
    rc = rc == STATUS_OK ? bulk_str(w, cmd->fullname) : rc;
    rc = rc == STATUS_OK ? resp_compose_integer(w, cmd->arity) : rc;
    rc = rc == STATUS_OK ? flag_set(w, cmd->flags, resp_command_flag_names,
                                   RESP_CMD_NFLAG, "")
                         : rc;
    rc = rc == STATUS_OK ? resp_compose_integer(w, cmd->first_key) : rc;
    rc = rc == STATUS_OK ? resp_compose_integer(w, cmd->last_key) : rc;
    rc = rc == STATUS_OK ? resp_compose_integer(w, cmd->step) : rc;
    rc = rc == STATUS_OK ? flag_set(w, cmd->acl, resp_acl_category_names,
                                   RESP_ACL_NCATEGORY, "@")
                         : rc;
    rc = rc == STATUS_OK ? resp_compose_set(w, cmd->ntip) : rc;
    for (uint8_t i = 0; rc == STATUS_OK && i < cmd->ntip; i++) {
        rc = bulk_str(w, cmd->tips[i]);
    }
    rc = rc == STATUS_OK ? resp_compose_set(w, cmd->nkeyspec) : rc;
    for (uint8_t i = 0; rc == STATUS_OK && i < cmd->nkeyspec; i++) {
        rc = keyspec(w, &cmd->keyspecs[i]);
    }
    rc = rc == STATUS_OK ? resp_compose_set(w, cmd->nsub) : rc;
    for (uint8_t i = 0; rc == STATUS_OK && i < cmd->nsub; i++) {
        rc = command_info(w, &cmd->sub[i]);
    }
    return rc;
}

static rstatus_i
doc_pair(struct resp_writer *w, const char *key, const char *value)
{
    rstatus_i rc = bulk_str(w, key);
    return rc == STATUS_OK ? bulk_str(w, value) : rc;
}

/* One COMMAND DOCS entry (without arguments and history). */
static rstatus_i
command_docs(struct resp_writer *w, const struct resp_command *cmd)
{
    uint64_t n = 1 + (cmd->summary != NULL) + (cmd->since != NULL) +
                 (cmd->complexity != NULL) + (cmd->doc_flags != NULL) +
                 (cmd->deprecated_since != NULL) + (cmd->replaced_by != NULL) +
                 (cmd->nsub > 0);
    rstatus_i rc = resp_compose_map(w, n);
    if (rc == STATUS_OK && cmd->summary != NULL) {
        rc = doc_pair(w, "summary", cmd->summary);
    }
    if (rc == STATUS_OK && cmd->since != NULL) {
        rc = doc_pair(w, "since", cmd->since);
    }
    if (rc == STATUS_OK) {
        rc = doc_pair(w, "group", cmd->group != NULL ? cmd->group : "");
    }
    if (rc == STATUS_OK && cmd->complexity != NULL) {
        rc = doc_pair(w, "complexity", cmd->complexity);
    }
    if (rc == STATUS_OK && cmd->doc_flags != NULL) {
        rc = bulk_str(w, "doc_flags");
        rc = rc == STATUS_OK ? words(w, cmd->doc_flags) : rc;
    }
    if (rc == STATUS_OK && cmd->deprecated_since != NULL) {
        rc = doc_pair(w, "deprecated_since", cmd->deprecated_since);
    }
    if (rc == STATUS_OK && cmd->replaced_by != NULL) {
        rc = doc_pair(w, "replaced_by", cmd->replaced_by);
    }
    if (rc == STATUS_OK && cmd->nsub > 0) {
        rc = bulk_str(w, "subcommands");
        rc = rc == STATUS_OK ? resp_compose_map(w, cmd->nsub) : rc;
        for (uint8_t i = 0; rc == STATUS_OK && i < cmd->nsub; i++) {
            rc = bulk_str(w, cmd->sub[i].fullname);
            rc = rc == STATUS_OK ? command_docs(w, &cmd->sub[i]) : rc;
        }
    }
    return rc;
}

/* COMMAND INFO [name ...] and COMMAND alone: every command when none. */
static rstatus_i
command_info_many(struct resp_ctx *x, uint32_t from)
{
    struct resp_writer *w = x->w;
    if (x->argc <= from) {
        rstatus_i rc = resp_compose_array(w, RESP_NCOMMAND);
        for (size_t i = 0; rc == STATUS_OK && i < RESP_NCOMMAND; i++) {
            rc = command_info(w, resp_command_at(i));
        }
        return rc;
    }
    rstatus_i rc = resp_compose_array(w, x->argc - from);
    for (uint32_t i = from; rc == STATUS_OK && i < x->argc; i++) {
        const struct resp_command *cmd =
                resp_command_find_fullname(x->argv[i].data, x->argv[i].len);
        rc = cmd != NULL ? command_info(w, cmd) : resp_compose_null(w);
    }
    return rc;
}

static rstatus_i
command_docs_many(struct resp_ctx *x)
{
    struct resp_writer *w = x->w;
    if (x->argc == 2) {
        rstatus_i rc = resp_compose_map(w, RESP_NCOMMAND);
        for (size_t i = 0; rc == STATUS_OK && i < RESP_NCOMMAND; i++) {
            const struct resp_command *cmd = resp_command_at(i);
            rc = bulk_str(w, cmd->fullname);
            rc = rc == STATUS_OK ? command_docs(w, cmd) : rc;
        }
        return rc;
    }
    uint64_t found = 0;
    for (uint32_t i = 2; i < x->argc; i++) {
        found += resp_command_find_fullname(x->argv[i].data, x->argv[i].len) !=
                 NULL;
    }
    rstatus_i rc = resp_compose_map(w, found);
    for (uint32_t i = 2; rc == STATUS_OK && i < x->argc; i++) {
        const struct resp_command *cmd =
                resp_command_find_fullname(x->argv[i].data, x->argv[i].len);
        if (cmd != NULL) {
            rc = bulk_str(w, cmd->fullname);
            rc = rc == STATUS_OK ? command_docs(w, cmd) : rc;
        }
    }
    return rc;
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN glob] */
typedef enum {
    LIST_ALL,
    LIST_NONE,
    LIST_ACLCAT,
    LIST_PATTERN,
} list_filter_e;

static bool
list_match(const struct resp_command *cmd, list_filter_e f, uint32_t acl,
        const struct resp_arg *pattern)
{
    switch (f) {
    case LIST_ALL:
        return true;
    case LIST_ACLCAT:
        return (cmd->acl & acl) != 0;
    case LIST_PATTERN:
        return resp_glob_match(pattern->data, pattern->len, cmd->fullname,
                strlen(cmd->fullname), true);
    default:
        return false;
    }
}

/* Walks every command and subcommand: counts (w NULL) or replies. */
static rstatus_i
list_walk(struct resp_writer *w, list_filter_e f, uint32_t acl,
        const struct resp_arg *pattern, uint64_t *n)
{
    rstatus_i rc = STATUS_OK;
    for (size_t i = 0; rc == STATUS_OK && i < RESP_NCOMMAND; i++) {
        const struct resp_command *cmd = resp_command_at(i);
        for (int s = -1; rc == STATUS_OK && s < (int)cmd->nsub; s++) {
            const struct resp_command *c = s < 0 ? cmd : &cmd->sub[s];
            if (!list_match(c, f, acl, pattern)) {
                continue;
            }
            (*n)++;
            if (w != NULL) {
                rc = bulk_str(w, c->fullname);
            }
        }
    }
    return rc;
}

static rstatus_i
command_list(struct resp_ctx *x)
{
    list_filter_e f = LIST_ALL;
    uint32_t acl = 0;
    const struct resp_arg *pattern = NULL;
    if (x->argc == 5 && resp_arg_is(&x->argv[2], "filterby")) {
        const struct resp_arg *by = &x->argv[3];
        if (resp_arg_is(by, "module")) {
            f = LIST_NONE;
        } else if (resp_arg_is(by, "aclcat")) {
            f = LIST_ACLCAT;
            for (size_t i = 0; i < RESP_ACL_NCATEGORY; i++) {
                if (resp_arg_is(&x->argv[4], resp_acl_category_names[i])) {
                    acl = 1u << i;
                }
            }
        } else if (resp_arg_is(by, "pattern")) {
            f = LIST_PATTERN;
            pattern = &x->argv[4];
        } else {
            return resp_err_syntax(x);
        }
    } else if (x->argc != 2) {
        return resp_err_syntax(x);
    }
    uint64_t n = 0;
    list_walk(NULL, f, acl, pattern, &n);
    rstatus_i rc = resp_compose_array(x->w, n);
    n = 0;
    return rc == STATUS_OK ? list_walk(x->w, f, acl, pattern, &n) : rc;
}

/* COMMAND GETKEYS command arg ... */
static rstatus_i
command_getkeys(struct resp_ctx *x)
{
    const struct resp_arg *argv = x->argv + 2;
    uint32_t argc = x->argc - 2;
    const struct resp_command *cmd = resp_command_lookup(argv, argc);
    if (cmd == NULL) {
        return resp_err(x, "ERR Invalid command specified");
    }
    if (cmd->first_key <= 0 && cmd->nkeyspec == 0) {
        return resp_err(x, "ERR The command has no key arguments");
    }
    if (!resp_command_arity_ok(cmd, argc)) {
        return resp_err(
                x, "ERR Invalid number of arguments specified for command");
    }
    size_t n = resp_command_keys(cmd, argv, argc, NULL, 0);
    if (n == 0) {
        return resp_err(x, "ERR Invalid arguments specified for command");
    }
    uint32_t *pos = mm_alloc(n * sizeof(*pos));
    if (pos == NULL) {
        return resp_err(x, "ERR out of memory");
    }
    resp_command_keys(cmd, argv, argc, pos, n);
    rstatus_i rc = resp_compose_array(x->w, n);
    for (size_t i = 0; rc == STATUS_OK && i < n; i++) {
        rc = resp_compose_bulk(x->w, argv[pos[i]].data, argv[pos[i]].len);
    }
    mm_release(pos);
    return rc;
}

rstatus_i
resp_cmd_command(struct resp_ctx *x)
{
    switch (x->cmd->id) {
    case RESP_CMD_COMMAND:
        return command_info_many(x, 1);
    case RESP_CMD_COMMAND_COUNT:
        return resp_compose_integer(x->w, RESP_NCOMMAND);
    case RESP_CMD_COMMAND_INFO:
        return command_info_many(x, 2);
    case RESP_CMD_COMMAND_DOCS:
        return command_docs_many(x);
    case RESP_CMD_COMMAND_LIST:
        return command_list(x);
    case RESP_CMD_COMMAND_GETKEYS:
        return command_getkeys(x);
    default:
        return resp_compose_err_unknown_subcommand(x->w, x->argv);
    }
}
