/* SPDX-License-Identifier: Apache-2.0 */
/* Resp hash commands: HSET HSETNX HGET HMGET HMSET HDEL HEXISTS HLEN
 * HSTRLEN HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN, with
 * Redis 7.0.15's replies and errors, over the collections of coll.h; and
 * the helpers the set commands share (errors, random numbers, SCAN
 * arguments). */
#include "processor/coll.h"
#include "processor/resp_internal.h"

#include "base/mm.h"
#include "types/pack.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_MAX 64 /* commits that met a concurrent SET, DEL ... */

/* ---- shared with resp_set.c ---- */

rstatus_i
resp_coll_err(struct resp_ctx *x, int st)
{
    switch ((coll_status_e)st) {
    case COLL_WRONGTYPE:
        return resp_err(x, "WRONGTYPE Operation against a key holding the "
                           "wrong kind of value");
    case COLL_ENOMEM:
        return resp_err_storage(x, STORAGE_ENOMEM);
    case COLL_EOVERSIZE:
        return resp_err(x, "ERR element too large for one item of the store "
                           "(seg.segment_size)");
    default:
        return resp_err(x, "ERR the key kept changing under a concurrent "
                           "write; try again");
    }
}

uint64_t
resp_rand64(void)
{
    static _Thread_local uint64_t s;
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
            (uint64_t)(uintptr_t)&s;
        s |= 1;
    }
    /* xorshift64* */
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
}

int
resp_scan_args(struct resp_ctx *x, uint32_t from, uint64_t *cursor,
        uint64_t *count, const struct resp_arg **pattern)
{
    int64_t n = 10;
    *pattern = NULL;
    if (!resp_parse_cursor(x->argv[from].data, x->argv[from].len, cursor)) {
        resp_err(x, "ERR invalid cursor");
        return -1;
    }
    for (uint32_t i = from + 1; i < x->argc; i += 2) {
        const struct resp_arg *a = &x->argv[i];
        if (i + 1 >= x->argc) {
            resp_err_syntax(x);
            return -1;
        }
        if (resp_arg_is(a, "count")) {
            if (!resp_arg_int64(&x->argv[i + 1], &n)) {
                resp_err_int(x);
                return -1;
            }
            if (n < 1) {
                resp_err_syntax(x);
                return -1;
            }
        } else if (resp_arg_is(a, "match")) {
            const struct resp_arg *p = &x->argv[i + 1];
            *pattern = p->len == 1 && p->data[0] == '*' ? NULL : p;
        } else {
            resp_err_syntax(x);
            return -1;
        }
    }
    *count = (uint64_t)n;
    return 0;
}

/* Elements gathered for a reply whose length is known only at the end. */
struct gather {
    struct resp_writer *w;
    const struct resp_arg *pattern;
    bool keys, values;
    uint64_t n;
    rstatus_i rc;
    struct buf *out; /* NULL: compose straight to w */
};

static bool
gather_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    struct gather *g = arg;
    if (g->pattern != NULL &&
            !resp_glob_match(g->pattern->data, g->pattern->len,
                    (const char *)a->p, a->len, false)) {
        return true;
    }
    if (g->keys) {
        g->rc = g->rc == STATUS_OK
                        ? resp_compose_bulk(g->w, (const char *)a->p, a->len)
                        : g->rc;
        g->n++;
    }
    if (g->values && b != NULL) {
        g->rc = g->rc == STATUS_OK
                        ? resp_compose_bulk(g->w, (const char *)b->p, b->len)
                        : g->rc;
        g->n++;
    }
    return g->rc == STATUS_OK;
}

/* HSCAN and SSCAN: matched elements are composed into a side writer,
 * then copied after the header (their number is known only then). */
rstatus_i
resp_coll_scan(struct resp_ctx *x, uint8_t type)
{
    uint64_t cursor, count;
    const struct resp_arg *pattern;
    if (resp_scan_args(x, 2, &cursor, &count, &pattern) != 0) {
        return STATUS_OK;
    }
    struct coll c;
    coll_status_e st = coll_open(&c, resp_db(x), x->argv[1].data,
            x->argv[1].len, type, false, 0, x->c->now_ms);
    if (st == COLL_WRONGTYPE) {
        coll_close(&c);
        return resp_coll_err(x, st);
    }
    struct buf side;
    if (buf_init(&side, 4096) != STATUS_OK) {
        coll_close(&c);
        return resp_err(x, "ERR out of memory");
    }
    struct resp_writer sw = *x->w;
    sw.buf = &side;
    struct gather g = {.w = &sw,
            .pattern = pattern,
            .keys = true,
            .values = type == STORAGE_TYPE_HASH};
    uint64_t next = 0;
    if (st == COLL_OK) {
        coll_scan(&c, cursor, count, gather_fn, &g, &next);
    }
    coll_close(&c);
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)next);
    rstatus_i rc = g.rc;
    rc = rc == STATUS_OK ? resp_compose_array(x->w, 2) : rc;
    rc = rc == STATUS_OK ? resp_compose_bulk(x->w, digits, (size_t)n) : rc;
    rc = rc == STATUS_OK ? resp_compose_array(x->w, g.n) : rc;
    rc = rc == STATUS_OK ? resp_compose_raw(x->w, side.rpos, buf_rsize(&side))
                         : rc;
    buf_deinit(&side);
    return rc;
}

/* ---- hashes ---- */

static rstatus_i
err_arity(struct resp_ctx *x)
{
    return resp_compose_error_fmt(x->w,
            "ERR wrong number of arguments for '%s' command", x->cmd->fullname);
}

/* HSET, HMSET, HSETNX */
rstatus_i
resp_cmd_hset(struct resp_ctx *x)
{
    bool nx = x->cmd->id == RESP_CMD_HSETNX;
    if (x->argc % 2 != 0) {
        return err_arity(x);
    }
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    int64_t added = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct coll c;
        added = 0;
        st = coll_open(&c, resp_db(x), k->data, k->len, STORAGE_TYPE_HASH, true,
                KS_NOSTATS, x->c->now_ms);
        if (st == COLL_MISS || st == COLL_OK) {
            st = COLL_OK;
            struct pack_elem v;
            if (nx && coll_hash_get(&c, x->argv[2].data, x->argv[2].len, &v) ==
                              COLL_OK) {
                coll_close(&c);
                return resp_compose_integer(x->w, 0);
            }
            for (uint32_t i = 2; i < x->argc && st == COLL_OK; i += 2) {
                bool a;
                st = coll_hash_set(&c, x->argv[i].data, x->argv[i].len,
                        x->argv[i + 1].data, x->argv[i + 1].len, &a);
                added += a;
            }
            if (st == COLL_OK) {
                st = coll_commit(&c);
            }
            if (st == COLL_OK) {
                ks_coll_changed(
                        c.db, c.key, c.klen, "hset", !c.created, c.count == 0);
            }
        }
        coll_close(&c);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    if (x->cmd->id == RESP_CMD_HMSET) {
        return resp_compose_ok(x->w);
    }
    return resp_compose_integer(x->w, nx ? 1 : added);
}

/* Opens a hash for reading; replies and returns false for WRONGTYPE. */
static bool
open_read(struct resp_ctx *x, struct coll *c, uint8_t type, unsigned flags,
        coll_status_e *st, rstatus_i *rc)
{
    *st = coll_open(c, resp_db(x), x->argv[1].data, x->argv[1].len, type, false,
            flags, x->c->now_ms);
    if (*st == COLL_WRONGTYPE) {
        coll_close(c);
        *rc = resp_coll_err(x, *st);
        return false;
    }
    return true;
}

rstatus_i
resp_cmd_hget(struct resp_ctx *x)
{
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &c, STORAGE_TYPE_HASH, 0, &st, &rc)) {
        return rc;
    }
    struct pack_elem v;
    if (st == COLL_OK &&
            coll_hash_get(&c, x->argv[2].data, x->argv[2].len, &v) == COLL_OK) {
        rc = resp_compose_bulk(x->w, (const char *)v.p, v.len);
    } else {
        rc = resp_compose_null(x->w);
    }
    coll_close(&c);
    return rc;
}

rstatus_i
resp_cmd_hmget(struct resp_ctx *x)
{
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &c, STORAGE_TYPE_HASH, 0, &st, &rc)) {
        return rc;
    }
    rc = resp_compose_array(x->w, x->argc - 2);
    for (uint32_t i = 2; rc == STATUS_OK && i < x->argc; i++) {
        struct pack_elem v;
        if (st == COLL_OK && coll_hash_get(&c, x->argv[i].data, x->argv[i].len,
                                     &v) == COLL_OK) {
            rc = resp_compose_bulk(x->w, (const char *)v.p, v.len);
        } else {
            rc = resp_compose_null(x->w);
        }
    }
    coll_close(&c);
    return rc;
}

rstatus_i
resp_cmd_hexists(struct resp_ctx *x)
{
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &c, STORAGE_TYPE_HASH, 0, &st, &rc)) {
        return rc;
    }
    struct pack_elem v;
    bool found = st == COLL_OK && coll_hash_get(&c, x->argv[2].data,
                                          x->argv[2].len, &v) == COLL_OK;
    coll_close(&c);
    return resp_compose_integer(x->w, found);
}

rstatus_i
resp_cmd_hstrlen(struct resp_ctx *x)
{
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &c, STORAGE_TYPE_HASH, 0, &st, &rc)) {
        return rc;
    }
    struct pack_elem v = {NULL, 0};
    if (st == COLL_OK) {
        coll_hash_get(&c, x->argv[2].data, x->argv[2].len, &v);
    }
    coll_close(&c);
    return resp_compose_integer(x->w, (int64_t)v.len);
}

/* HLEN and SCARD */
rstatus_i
resp_cmd_hlen(struct resp_ctx *x)
{
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    uint8_t type =
            x->cmd->id == RESP_CMD_HLEN ? STORAGE_TYPE_HASH : STORAGE_TYPE_SET;
    if (!open_read(x, &c, type, 0, &st, &rc)) {
        return rc;
    }
    uint64_t n = st == COLL_OK ? coll_count(&c) : 0;
    coll_close(&c);
    return resp_compose_integer(x->w, (int64_t)n);
}

/* HKEYS HVALS HGETALL */
rstatus_i
resp_cmd_hgetall(struct resp_ctx *x)
{
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &c, STORAGE_TYPE_HASH, 0, &st, &rc)) {
        return rc;
    }
    uint64_t n = st == COLL_OK ? coll_count(&c) : 0;
    struct gather g = {.w = x->w,
            .keys = x->cmd->id != RESP_CMD_HVALS,
            .values = x->cmd->id != RESP_CMD_HKEYS};
    if (x->cmd->id == RESP_CMD_HGETALL) {
        rc = resp_is3(x) ? resp_compose_map(x->w, n)
                         : resp_compose_array(x->w, 2 * n);
    } else {
        rc = resp_compose_array(x->w, n);
    }
    g.rc = rc;
    if (rc == STATUS_OK && st == COLL_OK) {
        coll_each(&c, gather_fn, &g);
    }
    coll_close(&c);
    return g.rc;
}

rstatus_i
resp_cmd_hdel(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    int64_t removed = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct coll c;
        removed = 0;
        st = coll_open(&c, resp_db(x), k->data, k->len, STORAGE_TYPE_HASH, true,
                KS_NOSTATS, x->c->now_ms);
        if (st == COLL_MISS) {
            st = COLL_OK;
        } else if (st == COLL_OK) {
            for (uint32_t i = 2; i < x->argc && st == COLL_OK; i++) {
                bool r;
                st = coll_hash_del(&c, x->argv[i].data, x->argv[i].len, &r);
                removed += r;
            }
            if (st == COLL_OK) {
                st = coll_commit(&c);
            }
            if (st == COLL_OK && removed > 0) {
                ks_coll_changed(
                        c.db, c.key, c.klen, "hdel", !c.created, c.count == 0);
            }
        }
        coll_close(&c);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    return resp_compose_integer(x->w, removed);
}

/* Redis's string2ll on a field's value. */
static bool
value_int64(const struct pack_elem *v, int64_t *out)
{
    struct resp_arg a = {.data = (const char *)v->p, .len = v->len};
    return resp_arg_int64(&a, out);
}

rstatus_i
resp_cmd_hincrby(struct resp_ctx *x)
{
    int64_t incr;
    if (!resp_arg_int64(&x->argv[3], &incr)) {
        return resp_err_int(x);
    }
    const struct resp_arg *k = &x->argv[1], *f = &x->argv[2];
    coll_status_e st = COLL_RETRY;
    int64_t value = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct coll c;
        st = coll_open(&c, resp_db(x), k->data, k->len, STORAGE_TYPE_HASH, true,
                KS_NOSTATS, x->c->now_ms);
        if (st == COLL_OK || st == COLL_MISS) {
            struct pack_elem v;
            value = 0;
            if (coll_hash_get(&c, f->data, f->len, &v) == COLL_OK &&
                    !value_int64(&v, &value)) {
                coll_close(&c);
                return resp_err(x, "ERR hash value is not an integer");
            }
            if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
                    (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
                coll_close(&c);
                return resp_err(x, "ERR increment or decrement would overflow");
            }
            value += incr;
            char num[24];
            size_t n = resp_format_int64(num, value);
            bool added;
            st = coll_hash_set(&c, f->data, f->len, num, n, &added);
            if (st == COLL_OK) {
                st = coll_commit(&c);
            }
            if (st == COLL_OK) {
                ks_coll_changed(c.db, c.key, c.klen, "hincrby", !c.created,
                        c.count == 0);
            }
        }
        coll_close(&c);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    return resp_compose_integer(x->w, value);
}

rstatus_i
resp_cmd_hincrbyfloat(struct resp_ctx *x)
{
    long double incr;
    if (!resp_parse_long_double(x->argv[3].data, x->argv[3].len, &incr)) {
        return resp_err(x, "ERR value is not a valid float");
    }
    if (isnan(incr) || isinf(incr)) {
        return resp_err(x, "ERR value is NaN or Infinity");
    }
    const struct resp_arg *k = &x->argv[1], *f = &x->argv[2];
    coll_status_e st = COLL_RETRY;
    char out[5 * 1024];
    size_t outlen = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct coll c;
        st = coll_open(&c, resp_db(x), k->data, k->len, STORAGE_TYPE_HASH, true,
                KS_NOSTATS, x->c->now_ms);
        if (st == COLL_OK || st == COLL_MISS) {
            struct pack_elem v;
            long double value = 0;
            if (coll_hash_get(&c, f->data, f->len, &v) == COLL_OK &&
                    !resp_parse_long_double((const char *)v.p, v.len, &value)) {
                coll_close(&c);
                return resp_err(x, "ERR hash value is not a float");
            }
            value += incr;
            if (isnan(value) || isinf(value)) {
                coll_close(&c);
                return resp_err(
                        x, "ERR increment would produce NaN or Infinity");
            }
            outlen = resp_format_long_double(out, sizeof(out), value);
            bool added;
            st = coll_hash_set(&c, f->data, f->len, out, outlen, &added);
            if (st == COLL_OK) {
                st = coll_commit(&c);
            }
            if (st == COLL_OK) {
                ks_coll_changed(c.db, c.key, c.klen, "hincrbyfloat", !c.created,
                        c.count == 0);
            }
        }
        coll_close(&c);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    return resp_compose_bulk(x->w, out, outlen);
}

/* Distinct random picks of k out of n, as indexes into the collection's
 * order: the whole collection gathered, then a partial shuffle. */
struct pick {
    struct pack_elem *a, *b;
    uint64_t n, cap;
};

static bool
pick_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    struct pick *p = arg;
    if (p->n == p->cap) {
        return false;
    }
    /* intset members are formatted into a stack buffer: keep a copy */
    p->a[p->n] = *a;
    p->b[p->n] = b != NULL ? *b : (struct pack_elem){NULL, 0};
    p->n++;
    return true;
}

/* Shared by HRANDFIELD, SRANDMEMBER and SPOP: every element of c with its
 * bytes copied (views of intset members do not outlive the walk), in
 * *out (free with mm_release), *n of them. false: out of memory. */
bool
resp_coll_snapshot(struct coll *c, struct pack_elem **a, struct pack_elem **b,
        uint8_t **bytes, uint64_t *n)
{
    uint64_t cnt = coll_count(c);
    struct pick p = {mm_alloc(sizeof(struct pack_elem) * (cnt + 1)),
            mm_alloc(sizeof(struct pack_elem) * (cnt + 1)), 0, cnt};
    *bytes = NULL;
    if (p.a == NULL || p.b == NULL) {
        mm_release(p.a);
        mm_release(p.b);
        return false;
    }
    if (c->enc == COLL_ENC_INTSET && !c->parts) {
        /* formatted members: copy them out */
        *bytes = mm_alloc(cnt * 24 + 1);
        if (*bytes == NULL) {
            mm_release(p.a);
            mm_release(p.b);
            return false;
        }
    }
    coll_each(c, pick_fn, &p);
    if (*bytes != NULL) {
        for (uint64_t i = 0; i < p.n; i++) {
            memcpy(*bytes + i * 24, p.a[i].p, p.a[i].len);
            p.a[i].p = *bytes + i * 24;
        }
    }
    *a = p.a;
    *b = p.b;
    *n = p.n;
    return true;
}

rstatus_i
resp_cmd_hrandfield(struct resp_ctx *x)
{
    int64_t count = 1;
    bool with_count = x->argc >= 3, withvalues = false;
    if (x->argc > 4 ||
            (x->argc == 4 && !resp_arg_is(&x->argv[3], "withvalues"))) {
        return resp_err_syntax(x);
    }
    withvalues = x->argc == 4;
    if (with_count) {
        if (!resp_arg_int64(&x->argv[2], &count)) {
            return resp_err_int(x);
        }
        if (count == INT64_MIN) {
            return resp_err(x, "ERR value is out of range, value must between "
                               "-9223372036854775807 and "
                               "9223372036854775807");
        }
        if (withvalues && count < 0 && -count > INT64_MAX / 2) {
            return resp_err(x, "ERR value is out of range");
        }
    }
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &c, STORAGE_TYPE_HASH, 0, &st, &rc)) {
        return rc;
    }
    if (st != COLL_OK || (with_count && count == 0)) {
        coll_close(&c);
        return with_count ? resp_compose_array(x->w, 0)
                          : resp_compose_null(x->w);
    }
    struct pack_elem a, b;
    if (!with_count) {
        coll_random(&c, resp_rand64(), &a, &b);
        rc = resp_compose_bulk(x->w, (const char *)a.p, a.len);
        coll_close(&c);
        return rc;
    }
    bool pairs3 = withvalues && resp_is3(x);
    uint64_t per = withvalues && !pairs3 ? 2 : 1;
    if (count < 0) { /* repeats allowed */
        uint64_t n = (uint64_t)-count;
        rc = resp_compose_array(x->w, n * per);
        for (uint64_t i = 0; rc == STATUS_OK && i < n; i++) {
            coll_random(&c, resp_rand64(), &a, &b);
            if (pairs3) {
                rc = resp_compose_array(x->w, 2);
            }
            rc = rc == STATUS_OK
                         ? resp_compose_bulk(x->w, (const char *)a.p, a.len)
                         : rc;
            if (withvalues && rc == STATUS_OK) {
                rc = resp_compose_bulk(x->w, (const char *)b.p, b.len);
            }
        }
        coll_close(&c);
        return rc;
    }
    struct pack_elem *ea, *eb;
    uint8_t *bytes;
    uint64_t n;
    if (!resp_coll_snapshot(&c, &ea, &eb, &bytes, &n)) {
        coll_close(&c);
        return resp_err(x, "ERR out of memory");
    }
    uint64_t k = (uint64_t)count < n ? (uint64_t)count : n;
    for (uint64_t i = 0; i < k && k < n; i++) {
        uint64_t j = i + resp_rand64() % (n - i);
        struct pack_elem t = ea[i];
        ea[i] = ea[j];
        ea[j] = t;
        t = eb[i];
        eb[i] = eb[j];
        eb[j] = t;
    }
    rc = resp_compose_array(x->w, k * per);
    for (uint64_t i = 0; rc == STATUS_OK && i < k; i++) {
        if (pairs3) {
            rc = resp_compose_array(x->w, 2);
        }
        rc = rc == STATUS_OK
                     ? resp_compose_bulk(x->w, (const char *)ea[i].p, ea[i].len)
                     : rc;
        if (withvalues && rc == STATUS_OK) {
            rc = resp_compose_bulk(x->w, (const char *)eb[i].p, eb[i].len);
        }
    }
    mm_release(ea);
    mm_release(eb);
    mm_release(bytes);
    coll_close(&c);
    return rc;
}

rstatus_i
resp_cmd_hscan(struct resp_ctx *x)
{
    return resp_coll_scan(x, STORAGE_TYPE_HASH);
}
