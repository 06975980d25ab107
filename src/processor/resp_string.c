/* SPDX-License-Identifier: Apache-2.0 */
/* Resp string commands: GET SET (EX PX EXAT PXAT NX XX KEEPTTL GET) SETNX
 * SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX APPEND STRLEN GETRANGE
 * SUBSTR SETRANGE INCR DECR INCRBY DECRBY INCRBYFLOAT, with Redis 7.0.15's
 * option rules, number rules and error strings. */
#include "processor/resp_internal.h"

#include "base/time.h"

#include <math.h>
#include <string.h>

#define PROTO_MAX_BULK_LEN (512LL * 1024 * 1024) /* Redis's default */
#define FLOAT_RETRY_MAX    64 /* INCRBYFLOAT's CAS retries under races */

/* Redis's OBJ_* flags of SET and GETEX. */
enum {
    F_NX = 1u << 0,
    F_XX = 1u << 1,
    F_GET = 1u << 2,
    F_KEEPTTL = 1u << 3,
    F_PERSIST = 1u << 4,
    F_EX = 1u << 5,
    F_PX = 1u << 6,
    F_EXAT = 1u << 7,
    F_PXAT = 1u << 8,
};
#define F_TIME (F_EX | F_PX | F_EXAT | F_PXAT)

struct set_opts {
    unsigned flags;
    const struct resp_arg *expire;
};

static bool
is2(const struct resp_arg *a, char c0, char c1)
{
    return a->len == 2 && (a->data[0] | 0x20) == c0 &&
           (a->data[1] | 0x20) == c1;
}

/* One time option: allowed unless another time option, KEEPTTL or PERSIST
 * was given (the same one again is allowed: the last wins), and a value
 * follows. */
static bool
time_opt(struct set_opts *o, unsigned flag, const struct resp_arg *next)
{
    if ((o->flags & (F_KEEPTTL | F_PERSIST | (F_TIME & ~flag))) ||
            next == NULL) {
        return false;
    }
    o->flags |= flag;
    o->expire = next;
    return true;
}

/* Redis's parseExtendedStringArgumentsOrReply for SET (set) and GETEX. */
static bool
opts_parse(struct resp_ctx *x, uint32_t from, bool set, struct set_opts *o)
{
    o->flags = 0;
    o->expire = NULL;
    for (uint32_t j = from; j < x->argc; j++) {
        const struct resp_arg *a = &x->argv[j];
        const struct resp_arg *next = j + 1 < x->argc ? &x->argv[j + 1] : NULL;
        bool ok;
        if (set && is2(a, 'n', 'x') && !(o->flags & F_XX)) {
            o->flags |= F_NX;
            ok = true;
        } else if (set && is2(a, 'x', 'x') && !(o->flags & F_NX)) {
            o->flags |= F_XX;
            ok = true;
        } else if (set && resp_arg_is(a, "get")) {
            o->flags |= F_GET;
            ok = true;
        } else if (set && resp_arg_is(a, "keepttl") &&
                   !(o->flags & (F_PERSIST | F_TIME))) {
            o->flags |= F_KEEPTTL;
            ok = true;
        } else if (!set && resp_arg_is(a, "persist") &&
                   !(o->flags & (F_TIME | F_KEEPTTL))) {
            o->flags |= F_PERSIST;
            ok = true;
        } else if (is2(a, 'e', 'x')) {
            ok = time_opt(o, F_EX, next) && ++j;
        } else if (is2(a, 'p', 'x')) {
            ok = time_opt(o, F_PX, next) && ++j;
        } else if (resp_arg_is(a, "exat")) {
            ok = time_opt(o, F_EXAT, next) && ++j;
        } else if (resp_arg_is(a, "pxat")) {
            ok = time_opt(o, F_PXAT, next) && ++j;
        } else {
            ok = false;
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Redis's getExpireMillisecondsOrReply: the value must be a positive
 * integer and the result must not overflow. false after the error reply
 * (*rc its compose status). */
static bool
expiry_of(struct resp_ctx *x, const struct resp_arg *arg, time_unit_e unit,
        uint64_t *expiry, rstatus_i *rc)
{
    int64_t v;
    int64_t ms;
    if (!resp_arg_int64(arg, &v)) {
        *rc = resp_err_int(x);
        return false;
    }
    if (v <= 0 || time_redis_expiry(v, unit, x->c->now_ms, &ms) != STATUS_OK ||
            ms <= 0) {
        *rc = resp_err_expire(x);
        return false;
    }
    *expiry = (uint64_t)ms;
    return true;
}

static time_unit_e
unit_of(unsigned flags)
{
    if (flags & F_EX) {
        return TIME_REL_SEC;
    }
    if (flags & F_PX) {
        return TIME_REL_MS;
    }
    return flags & F_EXAT ? TIME_ABS_SEC : TIME_ABS_MS;
}

/* A string command's lookup (Redis's lookupKeyRead, or lookupKeyWrite
 * with KS_NOSTATS): counted and checked for type in the keyspace path. */
static ks_lookup_e
lookup_string(struct resp_ctx *x, const struct resp_arg *k, unsigned flags,
        struct storage_item *it)
{
    return ks_lookup(resp_db(x), k->data, k->len, STORAGE_TYPE_STRING, flags,
            x->c->now_ms, it);
}

/* The value, null for a missing key, WRONGTYPE for another type. */
static rstatus_i
reply_item(struct resp_ctx *x, ks_lookup_e l, const struct storage_item *it)
{
    if (l == KS_WRONGTYPE) {
        return resp_err_wrongtype(x);
    }
    if (l == KS_MISS) {
        return resp_compose_null(x->w);
    }
    if (__builtin_expect(it->vlen > SENDVAL_MIN, 0) &&
            resp_out_copy(x, it->value, it->vlen)) {
        return STATUS_OK; /* a large copy: sent in slices (resp_out.c) */
    }
    return resp_compose_bulk(x->w, it->value, it->vlen);
}

/* The value of k, looked at before it is copied (KS_RAW): a large one in
 * parts is sent from its parts in pieces (resp_out.c), another is looked up
 * again, copied. In MGET another type is null, not WRONGTYPE. */
static __attribute__((noinline)) rstatus_i
reply_string_other(struct resp_ctx *x, const struct resp_arg *k, ks_lookup_e l,
        struct storage_item *it, bool in_mget)
{
    if (l == KS_OK && it->type == STORAGE_TYPE_STRING_PARTS) {
        if (resp_out_start(x, it)) {
            return STATUS_OK;
        }
        l = lookup_string(x, k, KS_NOSTATS | KS_NOTOUCH, it);
    }
    return reply_item(x, in_mget && l == KS_WRONGTYPE ? KS_MISS : l, it);
}

static inline rstatus_i
reply_string(struct resp_ctx *x, const struct resp_arg *k, bool in_mget)
{
    struct storage_item it;
    ks_lookup_e l = lookup_string(x, k, KS_RAW, &it);
    if (__builtin_expect(
                l == KS_OK && it.type != STORAGE_TYPE_STRING_PARTS, 1)) {
        return resp_compose_bulk(x->w, it.value, it.vlen); /* one item */
    }
    return reply_string_other(x, k, l, &it, in_mget);
}

rstatus_i
resp_cmd_get(struct resp_ctx *x)
{
    return reply_string(x, &x->argv[1], false);
}

typedef enum {
    REPLY_OK_NULL,  /* SET: +OK, or null when NX/XX said no */
    REPLY_ONE_ZERO, /* SETNX: :1 / :0 */
} set_reply_e;

/* setGenericCommand: the write, then the reply (the old value with GET). */
static rstatus_i
set_generic(struct resp_ctx *x, const struct resp_arg *k,
        const struct resp_arg *v, unsigned flags, uint64_t expiry,
        set_reply_e kind)
{
    struct storage_write w = {.mode = STORAGE_SET};
    if (flags & F_NX) {
        w.mode = STORAGE_ADD;
    } else if (flags & F_XX) {
        w.mode = STORAGE_REPLACE;
    }
    w.expiry = expiry;
    w.keep_ttl = (flags & F_KEEPTTL) != 0;
    /* GET reads first (counted, type-checked): WRONGTYPE writes nothing */
    struct storage_item prev = {.key = NULL};
    ks_lookup_e pl = KS_MISS;
    if (flags & F_GET) {
        pl = lookup_string(x, k, 0, &prev);
        if (pl == KS_WRONGTYPE) {
            return resp_err_wrongtype(x);
        }
    }
    /* a value that large was copied out of parts, which the write drops:
     * the copy is the old value then (no write ends it) */
    bool prev_copied = pl == KS_OK && prev.vlen > storage_value_max(k->len);
    struct storage_item old = {.key = NULL};
    storage_status_e s;
    if (__builtin_expect(x->st->big != NULL, 0) && resp_stream_is(x, 2, NULL)) {
        /* a value received in pieces is in its parts already: SET commits
         * them (resp_stream.c) */
        s = resp_stream_commit(x, &w, (flags & F_GET) ? &old : NULL);
    } else {
        s = ks_set(resp_db(x), k->data, k->len, v->data, v->len, &w,
                x->c->now_ms, (flags & F_GET) ? &old : NULL, NULL);
    }
    if (s != STORAGE_OK && s != STORAGE_EXISTS && s != STORAGE_NOT_STORED) {
        return resp_err_storage(x, s);
    }
    if (flags & F_GET) {
        /* another type can only be a concurrent write: nothing to show */
        bool shown = old.key != NULL && old.type == STORAGE_TYPE_STRING;
        if (!shown && prev_copied) {
            return reply_item(x, KS_OK, &prev);
        }
        return reply_item(x, shown ? KS_OK : KS_MISS, &old);
    }
    if (kind == REPLY_ONE_ZERO) {
        return resp_compose_integer(x->w, s == STORAGE_OK);
    }
    return s == STORAGE_OK ? resp_compose_ok(x->w) : resp_compose_null(x->w);
}

rstatus_i
resp_cmd_set(struct resp_ctx *x)
{
    struct set_opts o;
    rstatus_i rc;
    uint64_t expiry = TIME_NEVER;
    if (!opts_parse(x, 3, true, &o)) {
        return resp_err_syntax(x);
    }
    if (o.expire != NULL &&
            !expiry_of(x, o.expire, unit_of(o.flags), &expiry, &rc)) {
        return rc;
    }
    return set_generic(
            x, &x->argv[1], &x->argv[2], o.flags, expiry, REPLY_OK_NULL);
}

rstatus_i
resp_cmd_setnx(struct resp_ctx *x)
{
    return set_generic(
            x, &x->argv[1], &x->argv[2], F_NX, TIME_NEVER, REPLY_ONE_ZERO);
}

/* SETEX and PSETEX key time value */
rstatus_i
resp_cmd_setex(struct resp_ctx *x)
{
    uint64_t expiry;
    rstatus_i rc;
    time_unit_e unit =
            x->cmd->id == RESP_CMD_SETEX ? TIME_REL_SEC : TIME_REL_MS;
    if (!expiry_of(x, &x->argv[2], unit, &expiry, &rc)) {
        return rc;
    }
    return set_generic(x, &x->argv[1], &x->argv[3], 0, expiry, REPLY_OK_NULL);
}

rstatus_i
resp_cmd_getset(struct resp_ctx *x)
{
    return set_generic(
            x, &x->argv[1], &x->argv[2], F_GET, TIME_NEVER, REPLY_OK_NULL);
}

rstatus_i
resp_cmd_getdel(struct resp_ctx *x)
{
    struct storage_item it;
    const struct resp_arg *k = &x->argv[1];
    ks_lookup_e l = lookup_string(x, k, KS_NOTOUCH | KS_RAW, &it);
    if (l != KS_OK) {
        return reply_item(x, l, &it);
    }
    storage_status_e s =
            ks_getdel(resp_db(x), k->data, k->len, x->c->now_ms, &it);
    bool shown =
            s == STORAGE_OK && it.key != NULL && it.type == STORAGE_TYPE_STRING;
    return reply_item(x, shown ? KS_OK : KS_MISS, &it);
}

/* GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]: replies the value,
 * then changes the expiry (a time in the past deletes the key). */
rstatus_i
resp_cmd_getex(struct resp_ctx *x)
{
    struct set_opts o;
    rstatus_i rc;
    uint64_t expiry = TIME_NEVER;
    if (!opts_parse(x, 2, false, &o)) {
        return resp_err_syntax(x);
    }
    /* Redis looks the key up before it reads the time: a missing key is
     * null and another type WRONGTYPE, whatever the time says */
    const struct resp_arg *k = &x->argv[1];
    struct storage_item it;
    ks_lookup_e l = lookup_string(x, k, 0, &it);
    if (l != KS_OK) {
        return reply_item(x, l, &it);
    }
    if (o.expire != NULL &&
            !expiry_of(x, o.expire, unit_of(o.flags), &expiry, &rc)) {
        return rc;
    }
    rc = reply_item(x, l, &it);
    if (o.flags & (F_TIME | F_PERSIST)) {
        /* the reply holds a copy: the write may end the view */
        ks_expire(resp_db(x), k->data, k->len, STORAGE_TYPE_STRING, expiry,
                STORAGE_TTL_ALWAYS, x->c->now_ms, NULL);
    }
    return rc;
}

rstatus_i
resp_cmd_mget(struct resp_ctx *x)
{
    rstatus_i rc = resp_compose_array(x->w, x->argc - 1);
    for (uint32_t i = 1; rc == STATUS_OK && i < x->argc; i++) {
        rc = reply_string(x, &x->argv[i], true);
    }
    return rc;
}

rstatus_i
resp_cmd_mset(struct resp_ctx *x)
{
    if (x->argc % 2 == 0) {
        return resp_compose_err_arity(x->w, x->cmd);
    }
    struct storage_write w = {.mode = STORAGE_SET};
    for (uint32_t i = 1; i < x->argc; i += 2) {
        const struct resp_arg *k = &x->argv[i];
        const struct resp_arg *v = &x->argv[i + 1];
        storage_status_e s = ks_set(resp_db(x), k->data, k->len, v->data,
                v->len, &w, x->c->now_ms, NULL, NULL);
        if (s != STORAGE_OK) {
            return resp_err_storage(x, s);
        }
    }
    return resp_compose_ok(x->w);
}

/* MSETNX: checks that no key exists, then adds each. Not atomic with
 * other connections' writes (docs/protocol-resp.md). */
rstatus_i
resp_cmd_msetnx(struct resp_ctx *x)
{
    if (x->argc % 2 == 0) {
        return resp_compose_err_arity(x->w, x->cmd);
    }
    for (uint32_t i = 1; i < x->argc; i += 2) {
        const struct resp_arg *k = &x->argv[i];
        if (ks_lookup(resp_db(x), k->data, k->len, KS_ANY,
                    KS_NOTOUCH | KS_NOSTATS, x->c->now_ms, NULL) != KS_MISS) {
            return resp_compose_integer(x->w, 0); /* a key of any type */
        }
    }
    struct storage_write w = {.mode = STORAGE_ADD};
    for (uint32_t i = 1; i < x->argc; i += 2) {
        const struct resp_arg *k = &x->argv[i];
        const struct resp_arg *v = &x->argv[i + 1];
        storage_status_e s = ks_set(resp_db(x), k->data, k->len, v->data,
                v->len, &w, x->c->now_ms, NULL, NULL);
        if (s == STORAGE_EXISTS) {
            /* a key given twice, or a race: Redis's last value wins */
            w.mode = STORAGE_SET;
            s = ks_set(resp_db(x), k->data, k->len, v->data, v->len, &w,
                    x->c->now_ms, NULL, NULL);
            w.mode = STORAGE_ADD;
        }
        if (s != STORAGE_OK) {
            return resp_err_storage(x, s);
        }
    }
    return resp_compose_integer(x->w, 1);
}

rstatus_i
resp_cmd_append(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    const struct resp_arg *v = &x->argv[2];
    size_t len = 0;
    storage_status_e s = ks_append(resp_db(x), k->data, k->len, v->data, v->len,
            STORAGE_APPEND, STORAGE_MISSING_CREATE, 0, x->c->now_ms, &len,
            NULL);
    if (s != STORAGE_OK) {
        return resp_err_storage(x, s);
    }
    return resp_compose_integer(x->w, (int64_t)len);
}

rstatus_i
resp_cmd_strlen(struct resp_ctx *x)
{
    struct storage_item it;
    ks_lookup_e l = lookup_string(x, &x->argv[1], KS_RAW, &it);
    if (l == KS_WRONGTYPE) {
        return resp_err_wrongtype(x);
    }
    return resp_compose_integer(
            x->w, l == KS_OK ? (int64_t)ks_str_len(&it) : 0);
}

/* Redis's GETRANGE index rules on a value of len bytes: false for an
 * empty answer, else [*start, *end] inside it. */
static bool
range_of(int64_t len, int64_t *start, int64_t *end)
{
    if (*start < 0 && *end < 0 && *start > *end) {
        return false;
    }
    if (*start < 0) {
        *start += len;
    }
    if (*end < 0) {
        *end += len;
    }
    *start = *start < 0 ? 0 : *start;
    *end = *end < 0 ? 0 : *end;
    if (*end >= len) {
        *end = len - 1;
    }
    return *start <= *end && len > 0;
}

/* GETRANGE of a string in parts: under the key's lock (every writer holds
 * it), its length read from the root and the range copied from the parts
 * that hold it straight into the reply. */
static rstatus_i
getrange_parts(struct resp_ctx *x, const struct resp_arg *k, int64_t start,
        int64_t end)
{
    uint8_t db = resp_db(x);
    uint32_t s = ks_stripe(db, k->data, k->len);
    ks_lock(s);
    struct storage_item it;
    ks_lookup_e l = lookup_string(x, k, KS_RAW | KS_NOSTATS | KS_NOTOUCH, &it);
    rstatus_i rc;
    if (l == KS_WRONGTYPE) {
        rc = resp_err_wrongtype(x);
    } else if (l != KS_OK ||
               !range_of((int64_t)ks_str_len(&it), &start, &end)) {
        rc = resp_compose_bulk(x->w, "", 0);
    } else if (it.type != STORAGE_TYPE_STRING_PARTS) {
        /* made whole again meanwhile */
        rc = resp_compose_bulk(
                x->w, it.value + start, (size_t)(end - start + 1));
    } else if (resp_out_start_range(
                       x, &it, (uint64_t)start, (uint64_t)(end - start + 1))) {
        rc = STATUS_OK; /* a large range: sent from the parts in pieces */
    } else {
        size_t n = (size_t)(end - start + 1);
        struct buf *b = x->w->buf;
        size_t before = buf_rsize(b);
        char *dst = resp_compose_bulk_reserve(x->w, n);
        if (x->w->buf != b) {
            before = 0; /* it went on in a fresh buffer (resp_out_spill) */
        }
        uint64_t slen;
        rc = dst == NULL ? STATUS_ENOMEM : STATUS_OK;
        if (dst != NULL &&
                ks_str_read_locked(db, k->data, k->len, (uint64_t)start, n,
                        (uint8_t *)dst, &slen, x->c->now_ms) != STORAGE_OK) {
            /* a part gone (eviction taking the key): as a missing key */
            x->w->buf->wpos = x->w->buf->rpos + before;
            rc = resp_compose_bulk(x->w, "", 0);
        }
    }
    ks_unlock(s);
    return rc;
}

/* GETRANGE/SUBSTR key start end, with Redis's index rules. */
rstatus_i
resp_cmd_getrange(struct resp_ctx *x)
{
    int64_t start;
    int64_t end;
    if (!resp_arg_int64(&x->argv[2], &start) ||
            !resp_arg_int64(&x->argv[3], &end)) {
        return resp_err_int(x);
    }
    struct storage_item it;
    const struct resp_arg *k = &x->argv[1];
    /* a value in parts is not copied whole: the range is read from the
     * parts that hold it, under the key's lock */
    ks_lookup_e l = lookup_string(x, k, KS_RAW, &it);
    if (l == KS_OK && it.type == STORAGE_TYPE_STRING_PARTS) {
        return getrange_parts(x, k, start, end);
    }
    if (l == KS_WRONGTYPE) {
        return resp_err_wrongtype(x);
    }
    if (l != KS_OK || !range_of((int64_t)it.vlen, &start, &end)) {
        return resp_compose_bulk(x->w, "", 0);
    }
    return resp_compose_bulk(x->w, it.value + start, (size_t)(end - start + 1));
}

rstatus_i
resp_cmd_setrange(struct resp_ctx *x)
{
    int64_t offset;
    const struct resp_arg *k = &x->argv[1];
    const struct resp_arg *v = &x->argv[3];
    if (!resp_arg_int64(&x->argv[2], &offset)) {
        return resp_err_int(x);
    }
    if (offset < 0) {
        return resp_err(x, "ERR offset is out of range");
    }
    if (v->len == 0 || offset + (int64_t)v->len > PROTO_MAX_BULK_LEN) {
        /* Redis checks the type before the length and the size */
        struct storage_item it;
        ks_lookup_e l =
                lookup_string(x, k, KS_NOTOUCH | KS_NOSTATS | KS_RAW, &it);
        if (l == KS_WRONGTYPE) {
            return resp_err_wrongtype(x);
        }
        if (v->len == 0) {
            /* nothing to write: the length, without Redis's size check */
            return resp_compose_integer(
                    x->w, l == KS_OK ? (int64_t)ks_str_len(&it) : 0);
        }
        return resp_err_storage(x, STORAGE_EOVERSIZE);
    }
    size_t len = 0;
    storage_status_e s = ks_setrange(resp_db(x), k->data, k->len,
            (size_t)offset, v->data, v->len, x->c->now_ms, &len);
    if (s != STORAGE_OK) {
        return resp_err_storage(x, s);
    }
    return resp_compose_integer(x->w, (int64_t)len);
}

/* INCR DECR INCRBY DECRBY */
rstatus_i
resp_cmd_incr(struct resp_ctx *x)
{
    int64_t delta = 1;
    switch (x->cmd->id) {
    case RESP_CMD_DECR:
        delta = -1;
        break;
    case RESP_CMD_INCRBY:
    case RESP_CMD_DECRBY:
        if (!resp_arg_int64(&x->argv[2], &delta)) {
            return resp_err_int(x);
        }
        if (x->cmd->id == RESP_CMD_DECRBY) {
            if (delta == INT64_MIN) {
                return resp_err(x, "ERR decrement would overflow");
            }
            delta = -delta;
        }
        break;
    default:
        break;
    }
    const struct resp_arg *k = &x->argv[1];
    int64_t value;
    storage_status_e s = ks_incr_signed(
            resp_db(x), k->data, k->len, delta, x->c->now_ms, &value);
    switch (s) {
    case STORAGE_OK:
        return resp_compose_integer(x->w, value);
    case STORAGE_ENAN:
        return resp_err_int(x);
    case STORAGE_EOVERFLOW:
        return resp_err(x, "ERR increment or decrement would overflow");
    default:
        return resp_err_storage(x, s);
    }
}

/* One read-compute-write round of INCRBYFLOAT; STORAGE_EXISTS or
 * STORAGE_NOT_STORED when another writer came between (retry). */
static storage_status_e
incrbyfloat_once(struct resp_ctx *x, long double incr, char *out, size_t cap,
        size_t *outlen, rstatus_i *rc, bool *replied)
{
    const struct resp_arg *k = &x->argv[1];
    struct storage_item it;
    long double value = 0;
    ks_lookup_e l = lookup_string(x, k, KS_NOSTATS, &it);
    if (l == KS_WRONGTYPE) {
        *replied = true;
        *rc = resp_err_wrongtype(x);
        return STORAGE_EWRONGTYPE;
    }
    bool found = l == KS_OK;
    if (found &&
            !resp_parse_long_double((const char *)it.value, it.vlen, &value)) {
        *replied = true;
        *rc = resp_err(x, "ERR value is not a valid float");
        return STORAGE_ENAN;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        *replied = true;
        *rc = resp_err(x, "ERR increment would produce NaN or Infinity");
        return STORAGE_ENAN;
    }
    *outlen = resp_format_long_double(out, cap, value);
    struct storage_write w = {
            .mode = found ? STORAGE_CAS : STORAGE_ADD,
            .cas = found ? it.cas : 0,
            .keep_ttl = true,
    };
    return ks_set_as("incrbyfloat", resp_db(x), k->data, k->len, out, *outlen,
            &w, x->c->now_ms, NULL, NULL);
}

/* INCRBYFLOAT: a compare-and-set loop over the store (the store has no
 * float arithmetic); keeps the expiry, as Redis does. */
rstatus_i
resp_cmd_incrbyfloat(struct resp_ctx *x)
{
    char out[5 * 1024];
    long double incr;
    size_t len = 0;
    rstatus_i rc = STATUS_OK;
    bool replied = false;
    /* Redis checks the type before it reads the increment */
    if (lookup_string(x, &x->argv[1], KS_NOTOUCH | KS_NOSTATS, NULL) ==
            KS_WRONGTYPE) {
        return resp_err_wrongtype(x);
    }
    if (!resp_parse_long_double(x->argv[2].data, x->argv[2].len, &incr)) {
        return resp_err(x, "ERR value is not a valid float");
    }
    storage_status_e s = STORAGE_EXISTS;
    for (int i = 0; i < FLOAT_RETRY_MAX && !replied &&
                    (s == STORAGE_EXISTS || s == STORAGE_NOT_FOUND ||
                            s == STORAGE_NOT_STORED);
            i++) {
        s = incrbyfloat_once(x, incr, out, sizeof(out), &len, &rc, &replied);
    }
    if (replied) {
        return rc;
    }
    if (s != STORAGE_OK) {
        return resp_err_storage(x, s);
    }
    return resp_compose_bulk(x->w, out, len);
}
