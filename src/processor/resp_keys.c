/* SPDX-License-Identifier: Apache-2.0 */
/* Resp key-space and expiry commands: DEL UNLINK EXISTS TOUCH TYPE RENAME
 * RENAMENX COPY EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT) EXPIRETIME
 * PEXPIRETIME TTL PTTL PERSIST KEYS SCAN RANDOMKEY DBSIZE FLUSHDB FLUSHALL,
 * on keys of every type, through the keyspace path (keyspace.h): a root of
 * parts is deleted, expired, renamed and copied whole. */
#include "processor/resp_internal.h"
#include "processor/resp_zset.h"

#include "base/mm.h"
#include "base/time.h"

#include <stdio.h>
#include <string.h>

#define SCAN_COUNT_DEFAULT 10
#define KEYS_BATCH         1024 /* items per storage_scan call */

rstatus_i
resp_cmd_del(struct resp_ctx *x)
{
    int64_t n = 0;
    for (uint32_t i = 1; i < x->argc; i++) {
        const struct resp_arg *k = &x->argv[i];
        n += ks_delete(resp_db(x), k->data, k->len, x->c->now_ms) == STORAGE_OK;
    }
    return resp_compose_integer(x->w, n);
}

/* EXISTS counts a key given twice twice, as Redis does. */
rstatus_i
resp_cmd_exists(struct resp_ctx *x)
{
    int64_t n = 0;
    for (uint32_t i = 1; i < x->argc; i++) {
        const struct resp_arg *k = &x->argv[i];
        n += ks_lookup(resp_db(x), k->data, k->len, KS_ANY, KS_NOTOUCH,
                     x->c->now_ms, NULL) != KS_MISS;
    }
    return resp_compose_integer(x->w, n);
}

/* TOUCH records an access (the store's frequency counter, Redis's LRU). */
rstatus_i
resp_cmd_touch(struct resp_ctx *x)
{
    int64_t n = 0;
    for (uint32_t i = 1; i < x->argc; i++) {
        const struct resp_arg *k = &x->argv[i];
        n += ks_lookup(resp_db(x), k->data, k->len, KS_ANY, 0, x->c->now_ms,
                     NULL) != KS_MISS;
    }
    return resp_compose_integer(x->w, n);
}

rstatus_i
resp_cmd_type(struct resp_ctx *x)
{
    struct storage_item it;
    const struct resp_arg *k = &x->argv[1];
    const char *name = ks_type_name(KS_ANY);
    if (ks_lookup(resp_db(x), k->data, k->len, KS_ANY, KS_NOTOUCH, x->c->now_ms,
                &it) != KS_MISS) {
        name = ks_type_name(it.type);
    }
    return resp_compose_simple(x->w, name, strlen(name));
}

/* RENAME and RENAMENX */
rstatus_i
resp_cmd_rename(struct resp_ctx *x)
{
    bool nx = x->cmd->id == RESP_CMD_RENAMENX;
    const struct resp_arg *src = &x->argv[1];
    const struct resp_arg *dst = &x->argv[2];
    storage_status_e s = ks_rename(resp_db(x), src->data, src->len, dst->data,
            dst->len, nx ? STORAGE_NO_OVERWRITE : STORAGE_OVERWRITE,
            x->c->now_ms);
    switch (s) {
    case STORAGE_OK:
        resp_block_signal(x, resp_db(x), dst->data, dst->len);
        return nx ? resp_compose_integer(x->w, 1) : resp_compose_ok(x->w);
    case STORAGE_NOT_FOUND:
        return resp_err(x, "ERR no such key");
    case STORAGE_NOT_STORED:
        return resp_compose_integer(x->w, 0);
    default:
        return resp_err_storage(x, s);
    }
}

/* COPY source destination [DB n] [REPLACE] */
rstatus_i
resp_cmd_copy(struct resp_ctx *x)
{
    int64_t dbid = resp_db(x);
    bool replace = false;
    for (uint32_t j = 3; j < x->argc; j++) {
        if (resp_arg_is(&x->argv[j], "replace")) {
            replace = true;
        } else if (resp_arg_is(&x->argv[j], "db") && j + 1 < x->argc) {
            if (!resp_arg_int64(&x->argv[j + 1], &dbid) || dbid < INT32_MIN ||
                    dbid > INT32_MAX) {
                return resp_err_int(x);
            }
            if (dbid < 0 || dbid >= STORAGE_DB_COUNT) {
                return resp_err(x, "ERR DB index is out of range");
            }
            j++;
        } else {
            return resp_err_syntax(x);
        }
    }
    const struct resp_arg *src = &x->argv[1];
    const struct resp_arg *dst = &x->argv[2];
    if (dbid == resp_db(x) && src->len == dst->len &&
            memcmp(src->data, dst->data, src->len) == 0) {
        return resp_err(x, "ERR source and destination objects are the same");
    }
    /* Redis reads the source with lookupKeyRead: counted */
    if (ks_lookup(resp_db(x), src->data, src->len, KS_ANY, 0, x->c->now_ms,
                NULL) == KS_MISS) {
        return resp_compose_integer(x->w, 0);
    }
    storage_status_e s = ks_copy(resp_db(x), src->data, src->len, (uint8_t)dbid,
            dst->data, dst->len,
            replace ? STORAGE_OVERWRITE : STORAGE_NO_OVERWRITE, x->c->now_ms);
    switch (s) {
    case STORAGE_OK:
        resp_block_signal(x, (uint8_t)dbid, dst->data, dst->len);
        return resp_compose_integer(x->w, 1);
    case STORAGE_NOT_FOUND:
    case STORAGE_NOT_STORED:
        return resp_compose_integer(x->w, 0);
    default:
        return resp_err_storage(x, s);
    }
}

/* Redis's parseExtendedExpireArgumentsOrReply: NX XX GT LT. */
static bool
expire_flags(struct resp_ctx *x, storage_ttl_cond_e *cond, bool *xx_lt,
        rstatus_i *rc)
{
    bool nx = false, xx = false, gt = false, lt = false;
    for (uint32_t j = 3; j < x->argc; j++) {
        const struct resp_arg *a = &x->argv[j];
        if (resp_arg_is(a, "nx")) {
            nx = true;
        } else if (resp_arg_is(a, "xx")) {
            xx = true;
        } else if (resp_arg_is(a, "gt")) {
            gt = true;
        } else if (resp_arg_is(a, "lt")) {
            lt = true;
        } else {
            *rc = resp_compose_error_fmt(x->w, "ERR Unsupported option %.*s",
                    (int)(a->len > 256 ? 256 : a->len), a->data);
            return false;
        }
    }
    if (nx && (xx || gt || lt)) {
        *rc = resp_err(x, "ERR NX and XX, GT or LT options at the same time "
                          "are not compatible");
        return false;
    }
    if (gt && lt) {
        *rc = resp_err(
                x, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    /* GT already needs an expiry; XX with LT is checked by the caller */
    *xx_lt = xx && lt;
    *cond = nx   ? STORAGE_TTL_NX
            : gt ? STORAGE_TTL_GT
            : lt ? STORAGE_TTL_LT
            : xx ? STORAGE_TTL_XX
                 : STORAGE_TTL_ALWAYS;
    return true;
}

/* The absolute expiry in ms, as Redis computes it (may be <= 0). */
static bool
expire_when(struct resp_ctx *x, int64_t *when)
{
    int64_t v;
    if (!resp_arg_int64(&x->argv[2], &v)) {
        return false;
    }
    resp_command_e id = x->cmd->id;
    if (id == RESP_CMD_EXPIRE || id == RESP_CMD_EXPIREAT) {
        if (v > INT64_MAX / 1000 || v < INT64_MIN / 1000) {
            *when = INT64_MAX; /* flagged by the caller */
            return true;
        }
        v *= 1000;
    }
    int64_t base = id == RESP_CMD_EXPIRE || id == RESP_CMD_PEXPIRE
                           ? (int64_t)x->c->now_ms
                           : 0;
    if (v > INT64_MAX - base) {
        *when = INT64_MAX;
        return true;
    }
    *when = v + base;
    return true;
}

/* EXPIRE PEXPIRE EXPIREAT PEXPIREAT key time [NX|XX|GT|LT]: 1 when the
 * expiry was set (or the key deleted by a time in the past), else 0. */
rstatus_i
resp_cmd_expire(struct resp_ctx *x)
{
    storage_ttl_cond_e cond = STORAGE_TTL_ALWAYS;
    rstatus_i rc;
    int64_t when;
    bool xx_lt = false;
    if (!expire_flags(x, &cond, &xx_lt, &rc)) {
        return rc;
    }
    if (!expire_when(x, &when)) {
        return resp_err_int(x);
    }
    if (when == INT64_MAX) {
        return resp_err_expire(x);
    }
    const struct resp_arg *k = &x->argv[1];
    struct storage_item it;
    if (xx_lt &&
            (ks_lookup(resp_db(x), k->data, k->len, KS_ANY,
                     KS_NOTOUCH | KS_NOSTATS, x->c->now_ms, &it) == KS_MISS ||
                    it.expiry == TIME_NEVER)) {
        return resp_compose_integer(x->w, 0); /* XX: needs an expiry */
    }
    uint64_t expiry = when <= 0 ? TIME_EXPIRED : (uint64_t)when;
    storage_status_e s = ks_expire(resp_db(x), k->data, k->len, KS_ANY, expiry,
            cond, x->c->now_ms, NULL);
    if (s == STORAGE_OK) {
        return resp_compose_integer(x->w, 1);
    }
    if (s == STORAGE_NOT_FOUND || s == STORAGE_NOT_STORED) {
        return resp_compose_integer(x->w, 0);
    }
    return resp_err_storage(x, s);
}

/* TTL PTTL EXPIRETIME PEXPIRETIME: -2 missing, -1 no expiry; seconds are
 * rounded to the nearest, as Redis does. */
rstatus_i
resp_cmd_ttl(struct resp_ctx *x)
{
    struct storage_item it;
    const struct resp_arg *k = &x->argv[1];
    if (ks_lookup(resp_db(x), k->data, k->len, KS_ANY, KS_NOTOUCH, x->c->now_ms,
                &it) == KS_MISS) {
        return resp_compose_integer(x->w, -2);
    }
    if (it.expiry == TIME_NEVER) {
        return resp_compose_integer(x->w, -1);
    }
    resp_command_e id = x->cmd->id;
    bool abs = id == RESP_CMD_EXPIRETIME || id == RESP_CMD_PEXPIRETIME;
    bool ms = id == RESP_CMD_PTTL || id == RESP_CMD_PEXPIRETIME;
    int64_t ttl = abs ? (int64_t)it.expiry
                      : (int64_t)it.expiry - (int64_t)x->c->now_ms;
    ttl = ttl < 0 ? 0 : ttl;
    return resp_compose_integer(x->w, ms ? ttl : (ttl + 500) / 1000);
}

rstatus_i
resp_cmd_persist(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    storage_status_e s = ks_expire(resp_db(x), k->data, k->len, KS_ANY,
            TIME_NEVER, STORAGE_TTL_XX, x->c->now_ms, NULL);
    if (s == STORAGE_OK || s == STORAGE_NOT_FOUND || s == STORAGE_NOT_STORED) {
        return resp_compose_integer(x->w, s == STORAGE_OK);
    }
    return resp_err_storage(x, s);
}

/* ---- KEYS and SCAN: matching keys collected as bulk strings ---- */

struct collect {
    struct buf out; /* the keys, already as RESP bulk strings */
    size_t max;
    uint64_t n;
    const struct resp_arg *pattern; /* NULL: every key */
    bool typed;                     /* SCAN .. TYPE: only keys of type */
    uint8_t type;                   /* storage_type_e */
    bool none;                      /* TYPE named no type we have */
    bool full;                      /* out could not grow */
};

static void
collect_key(const struct storage_item *it, void *arg)
{
    struct collect *col = arg;
    if (col->full) {
        return;
    }
    if (col->pattern != NULL &&
            !resp_glob_match(col->pattern->data, col->pattern->len,
                    (const char *)it->key, it->klen, false)) {
        return;
    }
    if (col->typed) {
        /* Redis 7.0 looks each key up (lookupKeyRead) to learn its type */
        ks_count_lookup(true);
        if (col->none ||
                (it->type != col->type && !(col->type == STORAGE_TYPE_STRING &&
                                                  ks_is_string(it->type)))) {
            return;
        }
    }
    struct resp_writer w = {
            .buf = &col->out, .max = col->max, .proto = RESP_PROTO_2};
    if (resp_compose_bulk(&w, it->key, it->klen) != STATUS_OK) {
        col->full = true;
        return;
    }
    col->n++;
}

static rstatus_i
collect_init(struct collect *col, const struct resp_ctx *x)
{
    memset(col, 0, sizeof(*col));
    col->max = x->w->max;
    return buf_init(&col->out, 4096);
}

/* "*<n>" then the collected keys. */
static rstatus_i
collect_reply(struct resp_ctx *x, struct collect *col)
{
    rstatus_i rc;
    if (col->full) {
        rc = resp_err(x, "ERR reply exceeds the write buffer limit");
    } else {
        rc = resp_compose_array(x->w, col->n);
        if (rc == STATUS_OK) {
            rc = resp_compose_raw(x->w, col->out.rpos, buf_rsize(&col->out));
        }
    }
    buf_deinit(&col->out);
    return rc;
}

static bool
pattern_all(const struct resp_arg *p)
{
    return p->len == 1 && p->data[0] == '*';
}

rstatus_i
resp_cmd_keys(struct resp_ctx *x)
{
    struct collect col;
    if (collect_init(&col, x) != STATUS_OK) {
        return resp_err(x, "ERR out of memory");
    }
    col.pattern = pattern_all(&x->argv[1]) ? NULL : &x->argv[1];
    uint64_t cursor = 0;
    do {
        cursor = storage_scan(resp_db(x), cursor, KEYS_BATCH, x->c->now_ms,
                collect_key, &col);
    } while (cursor != 0 && !col.full);
    return collect_reply(x, &col);
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
rstatus_i
resp_cmd_scan(struct resp_ctx *x)
{
    uint64_t cursor;
    int64_t count = SCAN_COUNT_DEFAULT;
    struct collect col;
    if (!resp_parse_cursor(x->argv[1].data, x->argv[1].len, &cursor)) {
        return resp_err(x, "ERR invalid cursor");
    }
    const struct resp_arg *pattern = NULL;
    const struct resp_arg *type = NULL;
    for (uint32_t i = 2; i < x->argc; i += 2) {
        const struct resp_arg *a = &x->argv[i];
        if (i + 1 >= x->argc) {
            return resp_err_syntax(x);
        }
        if (resp_arg_is(a, "count")) {
            if (!resp_arg_int64(&x->argv[i + 1], &count)) {
                return resp_err_int(x);
            }
            if (count < 1) {
                return resp_err_syntax(x);
            }
        } else if (resp_arg_is(a, "match")) {
            pattern = pattern_all(&x->argv[i + 1]) ? NULL : &x->argv[i + 1];
        } else if (resp_arg_is(a, "type")) {
            type = &x->argv[i + 1];
        } else {
            return resp_err_syntax(x);
        }
    }
    if (collect_init(&col, x) != STATUS_OK) {
        return resp_err(x, "ERR out of memory");
    }
    col.pattern = pattern;
    if (type != NULL) {
        col.typed = true;
        col.none = true; /* an unknown name matches nothing, as in 7.0 */
        for (uint8_t t = 0; t <= STORAGE_TYPE_LIST; t++) {
            if (resp_arg_is(type, ks_type_name(t))) {
                col.type = t;
                col.none = false;
            }
        }
    }
    uint64_t next = storage_scan(
            resp_db(x), cursor, (size_t)count, x->c->now_ms, collect_key, &col);
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)next);
    rstatus_i rc = resp_compose_array(x->w, 2);
    if (rc == STATUS_OK) {
        rc = resp_compose_bulk(x->w, digits, (size_t)n);
    }
    if (rc != STATUS_OK) {
        buf_deinit(&col.out);
        return rc;
    }
    return collect_reply(x, &col);
}

rstatus_i
resp_cmd_randomkey(struct resp_ctx *x)
{
    struct storage_item it;
    if (storage_random_key(resp_db(x), x->c->now_ms, &it) != STORAGE_OK) {
        return resp_compose_null(x->w);
    }
    return resp_compose_bulk(x->w, it.key, it.klen);
}

rstatus_i
resp_cmd_dbsize(struct resp_ctx *x)
{
    return resp_compose_integer(x->w, (int64_t)storage_count(resp_db(x)));
}

/* FLUSHDB and FLUSHALL [ASYNC|SYNC]: both are immediate in the store. */
rstatus_i
resp_cmd_flush(struct resp_ctx *x)
{
    if (x->argc > 2 || (x->argc == 2 && !resp_arg_is(&x->argv[1], "sync") &&
                               !resp_arg_is(&x->argv[1], "async"))) {
        return resp_err_syntax(x);
    }
    uint8_t db = x->cmd->id == RESP_CMD_FLUSHALL ? STORAGE_DB_ALL : resp_db(x);
    storage_status_e s = ks_flush(db, x->c->now_ms, x->c->now_ms);
    if (s != STORAGE_OK) {
        return resp_err_storage(x, s);
    }
    return resp_compose_ok(x->w);
}
