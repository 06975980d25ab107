/* SPDX-License-Identifier: Apache-2.0 */
/* Command lookup (binary search of the sorted tables, comparing the
 * argument lowercased on the fly: no copy, no allocation) and the errors
 * Redis 7.0.15's processCommand replies before a command runs. */
#include "protocol/resp/command.h"

#include "protocol/resp/compose.h"
#include "protocol/resp/request.h"

#include "base/util.h"

#include <string.h>
#include <strings.h>

#define RESP_CMD_FLAG_NAME(_name, _str) _str,
#define RESP_ACL_NAME(_name, _str)      _str,
const char *const resp_command_flag_names[RESP_CMD_NFLAG] = {
        RESP_CMD_FLAG(RESP_CMD_FLAG_NAME)};
const char *const resp_acl_category_names[RESP_ACL_NCATEGORY] = {
        RESP_ACL_CATEGORY(RESP_ACL_NAME)};

/* Redis cuts user text to 128 bytes in these messages (%.128s). */
#define ERR_ARG_MAX 128

static inline unsigned char
ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Compares name (any case) with a row's lowercase name, byte order. */
static int
name_cmp(const char *name, size_t len, const struct resp_command *cmd)
{
    size_t n = len < cmd->name_len ? len : cmd->name_len;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = ascii_lower((unsigned char)name[i]);
        unsigned char c = (unsigned char)cmd->name[i];
        if (a != c) {
            return a < c ? -1 : 1;
        }
    }
    if (len == cmd->name_len) {
        return 0;
    }
    return len < cmd->name_len ? -1 : 1;
}

static const struct resp_command *
search(const struct resp_command *rows, size_t n, const char *name, size_t len)
{
    size_t lo = 0;
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, len, &rows[mid]);
        if (c == 0) {
            return &rows[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

/* One probe sequence of the generated hash index: the name is lowercased
 * and hashed in one pass (no copy), then compared with the rows its slots
 * name. Every request looks its command up here, so it costs what hashing
 * its few bytes costs, where a binary search of the 240 rows compared some
 * 8 names on 8 cache lines. */
const struct resp_command *
resp_command_find(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ ascii_lower((unsigned char)name[i])) * 16777619u;
    }
    for (uint32_t i = 0; i < RESP_COMMAND_HASH_SIZE; i++) {
        uint16_t slot =
                resp_command_hash[(h + i) & (RESP_COMMAND_HASH_SIZE - 1)];
        if (slot == 0) {
            return NULL;
        }
        const struct resp_command *row = &resp_command_table[slot - 1];
        if (row->name_len == len && name_cmp(name, len, row) == 0) {
            return row;
        }
    }
    return NULL;
}

const struct resp_command *
resp_command_find_sub(
        const struct resp_command *cmd, const char *name, size_t len)
{
    if (cmd->sub == NULL) {
        return NULL;
    }
    return search(cmd->sub, cmd->nsub, name, len);
}

const struct resp_command *
resp_command_find_fullname(const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    if (bar == NULL) {
        return resp_command_find(name, len);
    }
    const char *rest = bar + 1;
    size_t restlen = len - (size_t)(rest - name);
    if (memchr(rest, '|', restlen) != NULL) {
        return NULL; /* Redis allows one level of subcommands */
    }
    const struct resp_command *base =
            resp_command_find(name, (size_t)(bar - name));
    if (base == NULL) {
        return NULL;
    }
    return resp_command_find_sub(base, rest, restlen);
}

const struct resp_command *
resp_command_lookup(const struct resp_arg *argv, uint32_t argc)
{
    const struct resp_command *base =
            resp_command_find(argv[0].data, argv[0].len);
    if (base == NULL || argc == 1 || !resp_command_has_sub(base)) {
        return base;
    }
    return resp_command_find_sub(base, argv[1].data, argv[1].len);
}

/* keynum: the count at index + keynumidx, then count keys from index +
 * firstkey by keystep; 0 when the count is not a positive integer or
 * the keys run past argc. */
static size_t
keys_keynum(const struct resp_keyspec *ks, const struct resp_arg *argv,
        uint32_t argc, uint32_t *pos, size_t cap)
{
    uint32_t at = (uint32_t)(ks->index + ks->lastkey);
    if (argv == NULL || at >= argc || argv[at].len == 0 || argv[at].len > 10) {
        return 0;
    }
    uint64_t count = 0;
    for (size_t i = 0; i < argv[at].len; i++) {
        uint8_t c = (uint8_t)argv[at].data[i];
        if (c < '0' || c > '9') {
            return 0;
        }
        count = count * 10 + (c - '0');
    }
    uint64_t first = (uint64_t)(ks->index + ks->keystep);
    uint64_t step = ks->limit > 0 ? (uint64_t)ks->limit : 1;
    if (count == 0 || first + (count - 1) * step >= argc) {
        return 0;
    }
    for (uint64_t i = 0; i < count; i++) {
        if (i < cap) {
            pos[i] = (uint32_t)(first + i * step);
        }
    }
    return (size_t)count;
}

/* sortGetKeys: the last STORE's key (LIMIT skips 2, GET and BY 1), or 0. */
static uint32_t
sort_store_key(const struct resp_arg *argv, uint32_t argc)
{
    uint32_t at = 0;
    for (uint32_t i = 2; argv != NULL && i < argc; i++) {
        const struct resp_arg *a = &argv[i];
        if (a->len == 5 && strncasecmp(a->data, "limit", 5) == 0) {
            i += 2;
        } else if (a->len == 5 && strncasecmp(a->data, "store", 5) == 0 &&
                   i + 1 < argc) {
            at = i + 1;
        } else if ((a->len == 3 && strncasecmp(a->data, "get", 3) == 0) ||
                   (a->len == 2 && strncasecmp(a->data, "by", 2) == 0)) {
            i += 1;
        }
    }
    return at;
}

size_t
resp_command_keys(const struct resp_command *cmd, const struct resp_arg *argv,
        uint32_t argc, uint32_t *pos, size_t cap)
{
    size_t n = 0;
    if (cmd->id == RESP_CMD_SORT) {
        uint32_t st = argc >= 2 ? sort_store_key(argv, argc) : 0;
        if (argc >= 2 && cap > 0) {
            pos[0] = 1;
        }
        if (st != 0 && cap > 1) {
            pos[1] = st;
        }
        return argc < 2 ? 0 : st != 0 ? 2 : 1;
    }
    if (cmd->first_key == 0 && cmd->nkeyspec > 0 && cmd->keyspecs[0].keynum) {
        return keys_keynum(&cmd->keyspecs[0], argv, argc, pos, cap);
    }
    if (cmd->first_key <= 0 || cmd->step <= 0) {
        return 0;
    }
    int64_t last = cmd->last_key;
    if (last < 0) {
        last += (int64_t)argc;
    }
    if (last >= (int64_t)argc) {
        last = (int64_t)argc - 1;
    }
    for (int64_t j = cmd->first_key; j <= last; j += cmd->step) {
        if (n < cap) {
            pos[n] = (uint32_t)j;
        }
        n++;
    }
    /* keys counted by a later key spec: ZUNIONSTORE's sources after its
     * destination (the legacy range names the destination only) */
    for (uint8_t i = 1; i < cmd->nkeyspec; i++) {
        if (cmd->keyspecs[i].keynum) {
            n += keys_keynum(&cmd->keyspecs[i], argv, argc,
                    n < cap ? pos + n : pos, n < cap ? cap - n : 0);
        }
    }
    return n;
}

/* Appends s[0..len) as %.*s would: stops at max bytes or at a NUL. */
static size_t
append_cstr(char *dst, const char *s, size_t len, size_t max)
{
    size_t n = 0;
    while (n < len && n < max && s[n] != '\0') {
        dst[n] = s[n];
        n++;
    }
    return n;
}

rstatus_i
resp_compose_err_unknown_command(
        struct resp_writer *w, const struct resp_arg *argv, uint32_t argc)
{
    /* 21 + 128 + 29 + (under 128 + 3 for the list) fits easily */
    char msg[512];
    size_t n = 0;
    const char *head = "ERR unknown command '";
    const char *mid = "', with args beginning with: ";

    memcpy(msg, head, strlen(head));
    n += strlen(head);
    n += append_cstr(msg + n, argv[0].data, argv[0].len, ERR_ARG_MAX);
    memcpy(msg + n, mid, strlen(mid));
    n += strlen(mid);
    size_t args = 0; /* length of the argument list so far */
    for (uint32_t i = 1; i < argc && args < ERR_ARG_MAX; i++) {
        /* "'%.*s' " with the precision 128 - args, as Redis does */
        size_t k = 0;
        msg[n + k++] = '\'';
        k += append_cstr(
                msg + n + k, argv[i].data, argv[i].len, ERR_ARG_MAX - args);
        msg[n + k++] = '\'';
        msg[n + k++] = ' ';
        n += k;
        args += k;
    }
    return resp_compose_error(w, msg, n);
}

rstatus_i
resp_compose_err_unknown_subcommand(
        struct resp_writer *w, const struct resp_arg *argv)
{
    char msg[256];
    char upper[32];
    size_t n = 0;
    const char *head = "ERR unknown subcommand '";

    memcpy(msg, head, strlen(head));
    n += strlen(head);
    n += append_cstr(msg + n, argv[1].data, argv[1].len, ERR_ARG_MAX);
    /* the container's name as typed, uppercased (Redis sdstoupper) */
    size_t ulen =
            append_cstr(upper, argv[0].data, argv[0].len, sizeof(upper) - 1);
    for (size_t i = 0; i < ulen; i++) {
        unsigned char c = (unsigned char)upper[i];
        upper[i] = (char)((c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c);
    }
    upper[ulen] = '\0';
    int k = snprintf(msg + n, sizeof(msg) - n, "'. Try %s HELP.", upper);
    n += (size_t)k;
    return resp_compose_error(w, msg, n);
}

rstatus_i
resp_compose_err_arity(struct resp_writer *w, const struct resp_command *cmd)
{
    return resp_compose_error_fmt(
            w, "ERR wrong number of arguments for '%s' command", cmd->fullname);
}

const struct resp_command *
resp_command_check(
        struct resp_writer *w, const struct resp_arg *argv, uint32_t argc)
{
    ASSERT(argc >= 1);
    const struct resp_command *cmd = resp_command_lookup(argv, argc);
    if (cmd == NULL) {
        const struct resp_command *base =
                resp_command_find(argv[0].data, argv[0].len);
        if (base != NULL && resp_command_has_sub(base)) {
            resp_compose_err_unknown_subcommand(w, argv);
        } else {
            resp_compose_err_unknown_command(w, argv, argc);
        }
        return NULL;
    }
    if (!resp_command_arity_ok(cmd, argc)) {
        resp_compose_err_arity(w, cmd);
        return NULL;
    }
    return cmd;
}
