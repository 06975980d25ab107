/* SPDX-License-Identifier: Apache-2.0 */
/* Resp bitmap commands: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
 * BITFIELD_RO, with Redis 7.0.15's argument order, replies and errors, over
 * the arithmetic of types/bitops.h. Writes run under the key's stripe lock
 * and commit with a CAS (resp_strmod.h), keeping the expiry; BITOP writes
 * its destination as SET does. A value too large for one item is stored
 * in parts (keyspace.h); an offset past proto-max-bulk-len is Redis's
 * offset error. */
#include "processor/resp_internal.h"
#include "processor/resp_strmod.h"

#include "types/bitops.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROTO_MAX_BULK_LEN (512ULL * 1024 * 1024) /* Redis's default */

static const char ERR_WRONGTYPE[] =
        "WRONGTYPE Operation against a key holding the wrong kind of value";
static const char ERR_OFFSET[] =
        "ERR bit offset is not an integer or out of range";

/* Redis compares option words with strcasecmp on C strings: an argument is
 * cut at its first NUL byte. */
static bool
word_is(const struct resp_arg *a, const char *word)
{
    size_t n = strnlen(a->data, a->len);
    return n == strlen(word) && strncasecmp(a->data, word, n) == 0;
}

static struct bitops_arg
arg_of(const struct resp_arg *a)
{
    return (struct bitops_arg){.p = a->data, .len = a->len};
}

static rstatus_i
err_commit(struct resp_ctx *x, storage_status_e s)
{
    if (strmod_retry(s)) {
        return resp_err(x, "ERR the key kept changing under a concurrent "
                           "write; try again");
    }
    return resp_err_storage(x, s);
}

/* ---- SETBIT GETBIT ---- */

/* SETBIT on a string in parts, or on one it grows past one item: the one
 * byte is read and written in place (ks_str_setrange_locked rewrites the
 * part holding it, and adds zeroed parts when the string grows), never a
 * copy of the whole value. The caller holds the key's stripe lock. false:
 * a string of one item that stays one, for the copy path below. */
typedef enum {
    IN_PLACE_NO,        /* one item that stays one: the copy path */
    IN_PLACE_YES,       /* in parts, or grown past one item */
    IN_PLACE_WRONGTYPE, /* replied */
} in_place_e;

/* Whether a write reaching byte `at` of key is made in place: a string in
 * parts, or one the write grows past one item. The caller holds the key's
 * stripe lock. *existed: the key held a string. */
static in_place_e
in_place(struct resp_ctx *x, const struct resp_arg *k, size_t at, bool *existed,
        rstatus_i *rc)
{
    struct storage_item it;
    ks_lookup_e l = ks_lookup(resp_db(x), k->data, k->len, STORAGE_TYPE_STRING,
            KS_NOSTATS | KS_RAW, x->c->now_ms, &it);
    if (l == KS_WRONGTYPE) {
        *rc = resp_err(x, ERR_WRONGTYPE);
        return IN_PLACE_WRONGTYPE;
    }
    *existed = l == KS_OK;
    bool parts = l == KS_OK && it.type == STORAGE_TYPE_STRING_PARTS;
    return parts || at >= storage_value_max(k->len) ? IN_PLACE_YES
                                                    : IN_PLACE_NO;
}

static bool
setbit_large(struct resp_ctx *x, const struct resp_arg *k, uint64_t bit, int on,
        rstatus_i *rc)
{
    size_t at = (size_t)(bit >> 3);
    bool existed;
    in_place_e ip = in_place(x, k, at, &existed, rc);
    if (ip != IN_PLACE_YES) {
        return ip == IN_PLACE_WRONGTYPE;
    }
    uint8_t byte;
    uint64_t len;
    storage_status_e s = ks_str_read_locked(
            resp_db(x), k->data, k->len, at, 1, &byte, &len, x->c->now_ms);
    if (s == STORAGE_EWRONGTYPE) {
        *rc = resp_err(x, ERR_WRONGTYPE);
        return true;
    }
    int old = bitops_set(&byte, bit & 7, on);
    if (s == STORAGE_OK && at < len && old == on) {
        *rc = resp_compose_integer(x->w, old); /* nothing changes */
        return true;
    }
    if (s == STORAGE_OK || s == STORAGE_NOT_FOUND) {
        s = ks_str_setrange_locked(
                resp_db(x), k->data, k->len, at, &byte, 1, x->c->now_ms, NULL);
    }
    *rc = s == STORAGE_OK ? resp_compose_integer(x->w, old)
                          : resp_err_storage(x, s);
    return true;
}

rstatus_i
resp_cmd_setbit(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    struct bitops_arg oa = arg_of(&x->argv[2]);
    uint64_t bit;
    int64_t on;
    if (!bitops_parse_offset(&oa, 0, PROTO_MAX_BULK_LEN, &bit)) {
        return resp_err(x, ERR_OFFSET);
    }
    if (!resp_arg_int64(&x->argv[3], &on) || (on & ~1) != 0) {
        return resp_err(x, "ERR bit is not an integer or out of range");
    }
    size_t need = (size_t)(bit >> 3) + 1;
    uint32_t stripe = ks_stripe(resp_db(x), k->data, k->len);
    struct strmod m = {0};
    storage_status_e s = STORAGE_EXISTS;
    rstatus_i rc = STATUS_OK;
    int old = 0;
    bool replied = false;
    ks_lock(stripe);
    if (setbit_large(x, k, bit, (int)on, &rc)) {
        ks_unlock(stripe);
        return rc;
    }
    for (int i = 0; i < STRMOD_RETRY_MAX && strmod_retry(s); i++) {
        bool oom;
        ks_lookup_e l = strmod_read(&m, resp_db(x), k->data, k->len, need,
                KS_NOSTATS, x->c->now_ms, &oom);
        if (l == KS_WRONGTYPE || oom) {
            rc = l == KS_WRONGTYPE ? resp_err(x, ERR_WRONGTYPE)
                                   : resp_err_storage(x, STORAGE_ENOMEM);
            replied = true;
            break;
        }
        bool grows = need > m.len;
        old = bitops_set(m.buf, bit, (int)on);
        if (!grows && old == on && m.exists) {
            s = STORAGE_OK; /* nothing changes */
            break;
        }
        m.len = grows ? need : m.len;
        s = strmod_commit(&m, resp_db(x), k->data, k->len, x->c->now_ms);
        if (s == STORAGE_OK) { /* Redis: only a change notifies */
            ks_coll_changed(
                    resp_db(x), k->data, k->len, "setbit", m.exists, false);
        }
    }
    ks_unlock(stripe);
    strmod_release(&m);
    if (replied) {
        return rc;
    }
    if (s != STORAGE_OK) {
        return err_commit(x, s);
    }
    return resp_compose_integer(x->w, old);
}

rstatus_i
resp_cmd_getbit(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    struct bitops_arg oa = arg_of(&x->argv[2]);
    uint64_t bit;
    if (!bitops_parse_offset(&oa, 0, PROTO_MAX_BULK_LEN, &bit)) {
        return resp_err(x, ERR_OFFSET);
    }
    struct storage_item it;
    ks_lookup_e l = ks_lookup(resp_db(x), k->data, k->len, STORAGE_TYPE_STRING,
            0, x->c->now_ms, &it);
    if (l == KS_WRONGTYPE) {
        return resp_err(x, ERR_WRONGTYPE);
    }
    if (l == KS_MISS) {
        return resp_compose_integer(x->w, 0);
    }
    return resp_compose_integer(x->w, bitops_get(it.value, it.vlen, bit));
}

/* ---- BITCOUNT BITPOS ---- */

/* The optional BYTE | BIT word; false after a syntax error reply. */
static bool
unit_of(struct resp_ctx *x, uint32_t i, bool *in_bits, rstatus_i *rc)
{
    *in_bits = false;
    if (i >= x->argc) {
        return true;
    }
    if (word_is(&x->argv[i], "bit")) {
        *in_bits = true;
    } else if (!word_is(&x->argv[i], "byte")) {
        *rc = resp_err_syntax(x);
        return false;
    }
    return true;
}

/* BITCOUNT key [start end [BYTE | BIT]]: the key is looked up before the
 * arguments are read, as Redis does (a missing key answers 0 to any). */
rstatus_i
resp_cmd_bitcount(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    struct storage_item it;
    ks_lookup_e l = ks_lookup(resp_db(x), k->data, k->len, STORAGE_TYPE_STRING,
            0, x->c->now_ms, &it);
    if (l == KS_MISS) {
        return resp_compose_integer(x->w, 0);
    }
    if (l == KS_WRONGTYPE) {
        return resp_err(x, ERR_WRONGTYPE);
    }
    if (x->argc == 2) {
        return resp_compose_integer(
                x->w, (int64_t)bitops_popcount(it.value, it.vlen));
    }
    if (x->argc != 4 && x->argc != 5) {
        return resp_err_syntax(x);
    }
    int64_t start, end;
    bool in_bits;
    rstatus_i rc;
    if (!resp_arg_int64(&x->argv[2], &start) ||
            !resp_arg_int64(&x->argv[3], &end)) {
        return resp_err_int(x);
    }
    if (!unit_of(x, 4, &in_bits, &rc)) {
        return rc;
    }
    uint64_t first, last;
    if ((start < 0 && end < 0 && start > end) ||
            !bitops_range(it.vlen, start, end, in_bits, &first, &last)) {
        return resp_compose_integer(x->w, 0);
    }
    return resp_compose_integer(
            x->w, (int64_t)bitops_count(it.value, first, last));
}

/* BITPOS key bit [start [end [BYTE | BIT]]] */
rstatus_i
resp_cmd_bitpos(struct resp_ctx *x)
{
    int64_t bit;
    if (!resp_arg_int64(&x->argv[2], &bit)) {
        return resp_err_int(x);
    }
    if (bit != 0 && bit != 1) {
        return resp_err(x, "ERR The bit argument must be 1 or 0.");
    }
    const struct resp_arg *k = &x->argv[1];
    struct storage_item it;
    ks_lookup_e l = ks_lookup(resp_db(x), k->data, k->len, STORAGE_TYPE_STRING,
            0, x->c->now_ms, &it);
    if (l == KS_MISS) {
        return resp_compose_integer(x->w, bit ? -1 : 0);
    }
    if (l == KS_WRONGTYPE) {
        return resp_err(x, ERR_WRONGTYPE);
    }
    if (x->argc > 6) {
        return resp_err_syntax(x);
    }
    int64_t start = 0, end = -1;
    bool in_bits = false, end_given = x->argc >= 5;
    rstatus_i rc;
    if (x->argc >= 4 && !resp_arg_int64(&x->argv[3], &start)) {
        return resp_err_int(x);
    }
    if (!unit_of(x, 5, &in_bits, &rc)) {
        return rc;
    }
    if (end_given && !resp_arg_int64(&x->argv[4], &end)) {
        return resp_err_int(x);
    }
    uint64_t first, last;
    if (!bitops_range(it.vlen, start, end, in_bits, &first, &last)) {
        return resp_compose_integer(x->w, -1);
    }
    int64_t pos = bitops_pos(it.value, (int)bit, first, last);
    if (pos < 0 && bit == 0 && !end_given) {
        /* no end given: the string reads as padded with zeros */
        pos = (int64_t)(last + 1);
    }
    return resp_compose_integer(x->w, pos);
}

/* ---- BITOP ---- */

static bool
op_of(const struct resp_arg *a, bitops_op_e *op)
{
    static const char *const names[] = {"and", "or", "xor", "not"};
    for (int i = 0; i < 4; i++) {
        if (word_is(a, names[i])) {
            *op = (bitops_op_e)i;
            return true;
        }
    }
    return false;
}

/* Writes the result to dst as SET does (any type replaced, no expiry), or
 * deletes dst for an empty result. */
static rstatus_i
bitop_store(struct resp_ctx *x, const uint8_t *res, size_t len)
{
    const struct resp_arg *d = &x->argv[2];
    if (len == 0) {
        ks_delete(resp_db(x), d->data, d->len, x->c->now_ms);
        return resp_compose_integer(x->w, 0);
    }
    struct storage_write w = {.mode = STORAGE_SET};
    storage_status_e s = ks_set(resp_db(x), d->data, d->len, res, len, &w,
            x->c->now_ms, NULL, NULL);
    if (s != STORAGE_OK) {
        return resp_err_storage(x, s);
    }
    return resp_compose_integer(x->w, (int64_t)len);
}

/* BITOP op destkey key [key ...]: the sources are read as views (each one
 * a consistent version; they stay valid until the write), the result
 * computed into a buffer and written. */
rstatus_i
resp_cmd_bitop(struct resp_ctx *x)
{
    bitops_op_e op;
    if (!op_of(&x->argv[1], &op)) {
        return resp_err_syntax(x);
    }
    if (op == BITOPS_NOT && x->argc != 4) {
        return resp_err(x, "ERR BITOP NOT must be called with a single source "
                           "key.");
    }
    size_t n = x->argc - 3, maxlen = 0;
    const uint8_t **srcs = malloc(n * sizeof(*srcs));
    size_t *lens = malloc(n * sizeof(*lens));
    rstatus_i rc = STATUS_OK;
    if (srcs == NULL || lens == NULL) {
        rc = resp_err_storage(x, STORAGE_ENOMEM);
        goto out;
    }
    for (size_t j = 0; j < n; j++) {
        const struct resp_arg *k = &x->argv[j + 3];
        struct storage_item it;
        /* copies: looking up a string in parts may end earlier views */
        ks_lookup_e l = ks_lookup(resp_db(x), k->data, k->len,
                STORAGE_TYPE_STRING, KS_COPY, x->c->now_ms, &it);
        if (l == KS_WRONGTYPE) {
            rc = resp_err(x, ERR_WRONGTYPE);
            goto out;
        }
        srcs[j] = l == KS_OK ? it.value : NULL;
        lens[j] = l == KS_OK ? it.vlen : 0;
        maxlen = lens[j] > maxlen ? lens[j] : maxlen;
    }
    uint8_t *res = maxlen > 0 ? malloc(maxlen) : NULL;
    if (maxlen > 0 && res == NULL) {
        rc = resp_err_storage(x, STORAGE_ENOMEM);
        goto out;
    }
    if (maxlen > 0) {
        bitops_op(op, res, maxlen, srcs, lens, n);
    }
    rc = bitop_store(x, res, maxlen);
    free(res);
out:
    free(srcs);
    free(lens);
    return rc;
}

/* ---- BITFIELD BITFIELD_RO ---- */

struct field_result {
    int64_t v;
    bool null; /* FAIL said no */
};

static rstatus_i
err_parse(struct resp_ctx *x, bitops_parse_e e)
{
    switch (e) {
    case BITOPS_PARSE_OVERFLOW:
        return resp_err(x, "ERR Invalid OVERFLOW type specified");
    case BITOPS_PARSE_TYPE:
        return resp_err(x, "ERR Invalid bitfield type. Use something like "
                           "i16 u8. Note that u64 is not supported but i64 "
                           "is.");
    case BITOPS_PARSE_OFFSET:
        return resp_err(x, ERR_OFFSET);
    case BITOPS_PARSE_INT:
        return resp_err_int(x);
    default:
        return resp_err_syntax(x);
    }
}

/* One SET or INCRBY on buf (which holds its field), as Redis does it. */
static struct field_result
field_write(uint8_t *buf, size_t len, const struct bitops_field_op *op)
{
    struct field_result r = {0};
    bool incr = op->kind == BITOPS_FIELD_INCRBY;
    int over;
    uint64_t store;
    if (op->sign) {
        int64_t old = bitops_field_get_signed(buf, len, op->offset, op->bits);
        int64_t lim = 0;
        int64_t nv = incr ? (int64_t)((uint64_t)old + (uint64_t)op->value)
                          : op->value;
        over = bitops_overflow_signed(incr ? old : op->value,
                incr ? op->value : 0, op->bits, op->overflow, &lim);
        nv = over ? lim : nv;
        r.v = incr ? nv : old;
        store = (uint64_t)nv;
    } else {
        uint64_t old = bitops_field_get(buf, len, op->offset, op->bits);
        uint64_t lim = 0;
        uint64_t nv = incr ? old + (uint64_t)op->value : (uint64_t)op->value;
        over = bitops_overflow_unsigned(incr ? old : (uint64_t)op->value,
                incr ? op->value : 0, op->bits, op->overflow, &lim);
        nv = over ? lim : nv;
        r.v = (int64_t)(incr ? nv : old);
        store = nv;
    }
    if (over && op->overflow == BITOPS_FAIL) {
        r.null = true;
        return r;
    }
    bitops_field_set(buf, op->offset, op->bits, store);
    return r;
}

static struct field_result
field_get(const uint8_t *p, size_t len, const struct bitops_field_op *op)
{
    struct field_result r = {0};
    r.v = op->sign ? bitops_field_get_signed(p, len, op->offset, op->bits)
                   : (int64_t)bitops_field_get(p, len, op->offset, op->bits);
    return r;
}

static rstatus_i
field_reply(struct resp_ctx *x, const struct field_result *res, size_t n)
{
    rstatus_i rc = resp_compose_array(x->w, n);
    for (size_t i = 0; rc == STATUS_OK && i < n; i++) {
        rc = res[i].null ? resp_compose_null(x->w)
                         : resp_compose_integer(x->w, res[i].v);
    }
    return rc;
}

/* The GET-only form: read the key's view, no lock. */
static rstatus_i
field_read(struct resp_ctx *x, const struct bitops_field_op *ops, size_t n,
        struct field_result *res)
{
    const struct resp_arg *k = &x->argv[1];
    struct storage_item it;
    ks_lookup_e l = ks_lookup(resp_db(x), k->data, k->len, STORAGE_TYPE_STRING,
            0, x->c->now_ms, &it);
    if (l == KS_WRONGTYPE) {
        return resp_err(x, ERR_WRONGTYPE);
    }
    for (size_t i = 0; i < n; i++) {
        res[i] = field_get(l == KS_OK ? it.value : NULL,
                l == KS_OK ? it.vlen : 0, &ops[i]);
    }
    return field_reply(x, res, n);
}

/* One op of BITFIELD on a string in parts: the (at most 9) bytes holding
 * its field are read (ks_str_read_locked), changed, and written back in
 * place when it writes (a SET or INCRBY FAIL did not stop), as SETBIT
 * does: the part holding them is rewritten, not the string. *wrote: it
 * changed the string. */
static storage_status_e
field_in_place(struct resp_ctx *x, const struct resp_arg *k,
        const struct bitops_field_op *op, struct field_result *res, bool *wrote)
{
    uint8_t win[9];
    uint64_t len;
    size_t from = (size_t)(op->offset >> 3);
    size_t n = (size_t)((op->offset + op->bits - 1) >> 3) - from + 1;
    storage_status_e s = ks_str_read_locked(
            resp_db(x), k->data, k->len, from, n, win, &len, x->c->now_ms);
    if (s != STORAGE_OK) {
        return s;
    }
    struct bitops_field_op local = *op;
    local.offset = op->offset - (uint64_t)from * 8;
    if (op->kind == BITOPS_FIELD_GET) {
        *res = field_get(win, n, &local);
        return STORAGE_OK;
    }
    *res = field_write(win, n, &local);
    if (res->null) {
        return STORAGE_OK;
    }
    *wrote = true;
    return ks_str_setrange_locked(
            resp_db(x), k->data, k->len, from, win, n, x->c->now_ms, NULL);
}

/* BITFIELD with SET or INCRBY on a string in parts, or on one it grows
 * past one item: the string grows to the highest bit written first (a
 * zero byte written at its end, as Redis grows it even when FAIL writes
 * nothing), then each op works on its field's bytes in place: never a
 * copy of the whole value, and only the parts holding changed fields are
 * rewritten. The caller holds the key's stripe lock. false: a string of
 * one item that stays one, for the copy path. */
static bool
field_modify_large(struct resp_ctx *x, const struct bitops_field_op *ops,
        size_t n, struct field_result *res, uint64_t last_bit, rstatus_i *rc)
{
    const struct resp_arg *k = &x->argv[1];
    size_t at = (size_t)(last_bit >> 3);
    bool existed;
    in_place_e ip = in_place(x, k, at, &existed, rc);
    if (ip != IN_PLACE_YES) {
        return ip == IN_PLACE_WRONGTYPE;
    }
    uint8_t byte;
    uint64_t len;
    bool wrote = false;
    storage_status_e s = ks_str_read_locked(
            resp_db(x), k->data, k->len, at, 1, &byte, &len, x->c->now_ms);
    if (s == STORAGE_NOT_FOUND || (s == STORAGE_OK && at >= len)) {
        s = ks_str_setrange_locked(
                resp_db(x), k->data, k->len, at, &byte, 1, x->c->now_ms, NULL);
    }
    for (size_t i = 0; s == STORAGE_OK && i < n; i++) {
        s = field_in_place(x, k, &ops[i], &res[i], &wrote);
    }
    if (s == STORAGE_EWRONGTYPE) {
        *rc = resp_err(x, ERR_WRONGTYPE);
    } else if (s != STORAGE_OK) {
        *rc = resp_err_storage(x, s);
    } else {
        if (wrote) { /* Redis: only a change notifies */
            ks_coll_changed(
                    resp_db(x), k->data, k->len, "setbit", existed, false);
        }
        *rc = field_reply(x, res, n);
    }
    return true;
}

/* With SET or INCRBY: the string grows to the highest bit written (even
 * when FAIL writes nothing, as Redis), then every op runs in order on a
 * copy, which is committed under the key's lock. */
static rstatus_i
field_modify(struct resp_ctx *x, const struct bitops_field_op *ops, size_t n,
        struct field_result *res, uint64_t last_bit)
{
    const struct resp_arg *k = &x->argv[1];
    size_t need = (size_t)(last_bit >> 3) + 1;
    uint32_t stripe = ks_stripe(resp_db(x), k->data, k->len);
    struct strmod m = {0};
    storage_status_e s = STORAGE_EXISTS;
    rstatus_i rc = STATUS_OK;
    bool replied = false;
    ks_lock(stripe);
    if (field_modify_large(x, ops, n, res, last_bit, &rc)) {
        ks_unlock(stripe);
        return rc;
    }
    for (int a = 0; a < STRMOD_RETRY_MAX && strmod_retry(s); a++) {
        bool oom;
        ks_lookup_e l = strmod_read(&m, resp_db(x), k->data, k->len, need,
                KS_NOSTATS, x->c->now_ms, &oom);
        if (l == KS_WRONGTYPE || oom) {
            rc = l == KS_WRONGTYPE ? resp_err(x, ERR_WRONGTYPE)
                                   : resp_err_storage(x, STORAGE_ENOMEM);
            replied = true;
            break;
        }
        m.len = need > m.len ? need : m.len;
        for (size_t i = 0; i < n; i++) {
            res[i] = ops[i].kind == BITOPS_FIELD_GET
                             ? field_get(m.buf, m.len, &ops[i])
                             : field_write(m.buf, m.len, &ops[i]);
        }
        s = strmod_commit(&m, resp_db(x), k->data, k->len, x->c->now_ms);
    }
    if (!replied && s == STORAGE_OK) {
        ks_coll_changed(resp_db(x), k->data, k->len, "setbit", m.exists, false);
    }
    ks_unlock(stripe);
    strmod_release(&m);
    if (replied) {
        return rc;
    }
    if (s != STORAGE_OK) {
        return err_commit(x, s);
    }
    return field_reply(x, res, n);
}

/* BITFIELD and BITFIELD_RO key [GET t o] [SET t o v] [INCRBY t o n]
 * [OVERFLOW WRAP|SAT|FAIL] ...: every argument is checked before the key
 * is looked up. */
rstatus_i
resp_cmd_bitfield(struct resp_ctx *x)
{
    size_t nargs = x->argc - 2;
    struct bitops_arg *args = malloc((nargs + 1) * sizeof(*args));
    struct bitops_field_op *ops = malloc((nargs / 3 + 1) * sizeof(*ops));
    struct field_result *res = malloc((nargs / 3 + 1) * sizeof(*res));
    rstatus_i rc;
    if (args == NULL || ops == NULL || res == NULL) {
        rc = resp_err_storage(x, STORAGE_ENOMEM);
        goto out;
    }
    for (size_t i = 0; i < nargs; i++) {
        args[i] = arg_of(&x->argv[i + 2]);
    }
    size_t nops;
    bool writes;
    uint64_t last_bit;
    bitops_parse_e e = bitops_parse_field(
            args, nargs, PROTO_MAX_BULK_LEN, ops, &nops, &writes, &last_bit);
    if (e != BITOPS_PARSE_OK) {
        rc = err_parse(x, e);
    } else if (!writes) {
        rc = field_read(x, ops, nops, res);
    } else if (x->cmd->id == RESP_CMD_BITFIELD_RO) {
        rc = resp_err(x, "ERR BITFIELD_RO only supports the GET subcommand");
    } else {
        rc = field_modify(x, ops, nops, res, last_bit);
    }
out:
    free(args);
    free(ops);
    free(res);
    return rc;
}
