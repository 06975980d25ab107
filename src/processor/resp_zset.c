/* SPDX-License-Identifier: Apache-2.0 */
/* Resp sorted-set commands: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK
 * ZREVRANK ZCOUNT ZLEXCOUNT ZRANGE ZRANGESTORE ZRANGEBYSCORE
 * ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREVRANGE ZREMRANGEBYRANK
 * ZREMRANGEBYSCORE ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZSCAN,
 * with Redis 7.0.15's replies, option rules and errors (its t_zset.c), over
 * the sorted sets of zcoll.h. ZUNION, ZINTER, ZDIFF and their kin are in
 * resp_zsetop.c. */
#include "processor/resp_zset.h"
#include "processor/coll.h"
#include "processor/resp_internal.h"
#include "processor/zcoll.h"

#include "base/buf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MAX 64

/* ---- numbers as Redis reads them ---- */

/* A NUL-terminated copy of an argument in buf (or the heap: *heap). */
static char *
cstr(const struct resp_arg *a, char *buf, size_t cap, char **heap)
{
    *heap = NULL;
    char *s = buf;
    if (a->len + 1 > cap) {
        s = *heap = malloc(a->len + 1);
        if (s == NULL) {
            return NULL;
        }
    }
    memcpy(s, a->data, a->len);
    s[a->len] = '\0';
    return s;
}

/* getDoubleFromObject: strtod, no leading space, nothing after, no NaN,
 * no overflow. */
bool
resp_zset_parse_double(const struct resp_arg *a, double *v)
{
    char buf[128], *heap;
    char *s = cstr(a, buf, sizeof(buf), &heap);
    if (s == NULL || a->len == 0 || memchr(a->data, '\0', a->len) != NULL) {
        free(heap);
        return false;
    }
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    bool ok = !isspace((unsigned char)s[0]) && *end == '\0' &&
              !(errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL ||
                                           fpclassify(d) == FP_ZERO)) &&
              !isnan(d);
    free(heap);
    *v = d;
    return ok;
}

static rstatus_i
err_float(struct resp_ctx *x)
{
    return resp_err(x, "ERR value is not a valid float");
}

struct zrange {
    double min, max;
    bool minex, maxex;
};

/* zslParseRange's one bound. */
static bool
parse_bound(const struct resp_arg *a, double *v, bool *ex)
{
    char buf[128], *heap;
    char *s = cstr(a, buf, sizeof(buf), &heap);
    if (s == NULL) {
        return false;
    }
    *ex = s[0] == '(';
    char *p = *ex ? s + 1 : s, *end;
    double d = strtod(p, &end);
    bool ok = *end == '\0' && !isnan(d) && memchr(a->data, 0, a->len) == NULL;
    free(heap);
    *v = d;
    return ok;
}

static bool
parse_range(const struct resp_arg *min, const struct resp_arg *max,
        struct zrange *r)
{
    return parse_bound(min, &r->min, &r->minex) &&
           parse_bound(max, &r->max, &r->maxex);
}

/* zslParseLexRangeItem: "-", "+", "[x", "(x". */
struct lexbound {
    int kind; /* -1: "-", 1: "+", 0: a string */
    bool ex;
    const uint8_t *p;
    size_t len;
};

static bool
parse_lex(const struct resp_arg *a, struct lexbound *b)
{
    if (a->len == 0) {
        return false;
    }
    b->kind = 0;
    b->p = (const uint8_t *)a->data + 1;
    b->len = a->len - 1;
    switch (a->data[0]) {
    case '+':
    case '-':
        if (a->len != 1) {
            return false;
        }
        b->kind = a->data[0] == '+' ? 1 : -1;
        return true;
    case '(':
        b->ex = true;
        return true;
    case '[':
        b->ex = false;
        return true;
    default:
        return false;
    }
}

struct lexrange {
    struct lexbound min, max;
};

static bool
lex_gte_min(const struct zpack_ent *e, const struct lexrange *r)
{
    if (r->min.kind != 0) {
        return r->min.kind < 0;
    }
    int c = zpack_member_cmp(e->m, e->mlen, r->min.p, r->min.len);
    return r->min.ex ? c > 0 : c >= 0;
}

static bool
lex_lte_max(const struct zpack_ent *e, const struct lexrange *r)
{
    if (r->max.kind != 0) {
        return r->max.kind > 0;
    }
    int c = zpack_member_cmp(e->m, e->mlen, r->max.p, r->max.len);
    return r->max.ex ? c < 0 : c <= 0;
}

static rstatus_i
err_range_float(struct resp_ctx *x)
{
    return resp_err(x, "ERR min or max is not a float");
}

static rstatus_i
err_range_lex(struct resp_ctx *x)
{
    return resp_err(x, "ERR min or max not valid string range item");
}

/* Opens a sorted set for reading (flags: ZSET_LAZY for a command that
 * reads through the accessors, 0 for one that reads z->e whole); false
 * after replying WRONGTYPE. */
static bool
open_read(struct resp_ctx *x, const struct resp_arg *k, struct zset *z,
        unsigned flags, coll_status_e *st, rstatus_i *rc)
{
    *st = zset_open(z, resp_db(x), k->data, k->len, false, flags, x->c->now_ms);
    if (*st == COLL_WRONGTYPE || *st == COLL_ENOMEM) {
        zset_close(z);
        *rc = resp_coll_err(x, *st);
        return false;
    }
    return true;
}

/* ---- ZADD ZINCRBY ---- */

enum {
    ZF_NX = 1,
    ZF_XX = 2,
    ZF_GT = 4,
    ZF_LT = 8,
    ZF_CH = 16,
    ZF_INCR = 32,
};

static rstatus_i
zadd(struct resp_ctx *x, unsigned flags, uint32_t from)
{
    uint32_t i = from;
    for (; i < x->argc; i++) {
        const struct resp_arg *a = &x->argv[i];
        if (resp_arg_is(a, "nx")) {
            flags |= ZF_NX;
        } else if (resp_arg_is(a, "xx")) {
            flags |= ZF_XX;
        } else if (resp_arg_is(a, "gt")) {
            flags |= ZF_GT;
        } else if (resp_arg_is(a, "lt")) {
            flags |= ZF_LT;
        } else if (resp_arg_is(a, "ch")) {
            flags |= ZF_CH;
        } else if (resp_arg_is(a, "incr")) {
            flags |= ZF_INCR;
        } else {
            break;
        }
    }
    uint32_t elements = x->argc - i;
    if (elements % 2 != 0 || elements == 0) {
        return resp_err_syntax(x);
    }
    elements /= 2;
    bool incr = flags & ZF_INCR;
    if (incr && elements > 1) {
        return resp_err(x, "ERR INCR option supports a single "
                           "increment-element pair");
    }
    if ((flags & ZF_NX) && (flags & ZF_XX)) {
        return resp_err(x, "ERR XX and NX options at the same time are not "
                           "compatible");
    }
    if (((flags & ZF_GT) && (flags & ZF_NX)) ||
            ((flags & ZF_LT) && (flags & ZF_NX)) ||
            ((flags & ZF_GT) && (flags & ZF_LT))) {
        return resp_err(x, "ERR GT, LT, and/or NX options at the same time "
                           "are not compatible");
    }
    double stack[16];
    double *scores = elements <= 16 ? stack : malloc(elements * sizeof(double));
    if (scores == NULL) {
        return resp_err(x, "ERR out of memory");
    }
    for (uint32_t j = 0; j < elements; j++) {
        if (!resp_zset_parse_double(&x->argv[i + 2 * j], &scores[j])) {
            if (scores != stack) {
                free(scores);
            }
            return err_float(x);
        }
    }
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    int64_t added = 0, updated = 0, processed = 0;
    double newscore = 0;
    bool nan = false;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct zset z;
        added = updated = processed = 0;
        st = zset_open(&z, resp_db(x), k->data, k->len, true,
                KS_NOSTATS | ZSET_LAZY, x->c->now_ms);
        if (st == COLL_MISS && (flags & ZF_XX)) {
            st = COLL_OK;
        } else if (st == COLL_OK || st == COLL_MISS) {
            st = elements > 1 ? zset_batch(&z) : COLL_OK;
            for (uint32_t j = 0; j < elements && st == COLL_OK; j++) {
                const struct resp_arg *m = &x->argv[i + 2 * j + 1];
                double s = scores[j];
                double cur = 0;
                st = zset_score(&z, m->data, m->len, &cur);
                if (st != COLL_OK && st != COLL_MISS) {
                    break;
                }
                if (st == COLL_OK) {
                    if (flags & ZF_NX) {
                        continue;
                    }
                    if (incr) {
                        s += cur;
                        if (isnan(s)) {
                            nan = true;
                            break;
                        }
                    }
                    if (((flags & ZF_LT) && s >= cur) ||
                            ((flags & ZF_GT) && s <= cur)) {
                        continue;
                    }
                    newscore = s;
                    processed++;
                    if (s != cur) {
                        st = zset_put(&z, m->data, m->len, s);
                        updated++;
                    }
                } else {
                    st = COLL_OK;
                    if (flags & ZF_XX) {
                        continue;
                    }
                    newscore = s;
                    processed++;
                    st = zset_put(&z, m->data, m->len, s);
                    added++;
                }
            }
            if (st == COLL_OK && !nan) {
                st = zset_commit(&z);
                if (st == COLL_OK && added + updated > 0) {
                    ks_coll_changed(z.db, z.key, z.klen,
                            incr ? "zincr" : "zadd", z.exists, z.n == 0);
                }
            }
        }
        zset_close(&z);
    }
    if (scores != stack) {
        free(scores);
    }
    if (nan) {
        return resp_err(x, "ERR resulting score is not a number (NaN)");
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    if (added > 0) {
        resp_list_signal(x, k); /* clients blocked in BZPOPMIN & co */
    }
    if (incr) {
        return processed ? resp_compose_double(x->w, newscore)
                         : resp_compose_null(x->w);
    }
    return resp_compose_integer(
            x->w, (flags & ZF_CH) ? added + updated : added);
}

rstatus_i
resp_cmd_zadd(struct resp_ctx *x)
{
    return zadd(x, 0, 2);
}

rstatus_i
resp_cmd_zincrby(struct resp_ctx *x)
{
    return zadd(x, ZF_INCR, 2);
}

/* ---- ZREM ZCARD ZSCORE ZMSCORE ZRANK ZCOUNT ZLEXCOUNT ---- */

rstatus_i
resp_cmd_zrem(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    int64_t n = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct zset z;
        n = 0;
        st = zset_open(&z, resp_db(x), k->data, k->len, true,
                KS_NOSTATS | ZSET_LAZY, x->c->now_ms);
        if (st == COLL_MISS) {
            st = COLL_OK;
        } else if (st == COLL_OK) {
            st = x->argc > 3 ? zset_batch(&z) : COLL_OK;
            for (uint32_t i = 2; i < x->argc && st == COLL_OK; i++) {
                bool removed;
                st = zset_del(&z, x->argv[i].data, x->argv[i].len, &removed);
                n += removed;
            }
            if (st == COLL_OK) {
                st = zset_commit(&z);
            }
            if (st == COLL_OK && n > 0) {
                ks_coll_changed(z.db, z.key, z.klen, "zrem", true, z.n == 0);
            }
        }
        zset_close(&z);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    return resp_compose_integer(x->w, n);
}

rstatus_i
resp_cmd_zcard(struct resp_ctx *x)
{
    struct zset z;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &x->argv[1], &z, ZSET_LAZY, &st, &rc)) {
        return rc;
    }
    rc = resp_compose_integer(x->w, (int64_t)z.n);
    zset_close(&z);
    return rc;
}

rstatus_i
resp_cmd_zscore(struct resp_ctx *x)
{
    struct zset z;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &x->argv[1], &z, ZSET_LAZY, &st, &rc)) {
        return rc;
    }
    double sc;
    st = zset_score(&z, x->argv[2].data, x->argv[2].len, &sc);
    rc = st == COLL_OK     ? resp_compose_double(x->w, sc)
         : st == COLL_MISS ? resp_compose_null(x->w)
                           : resp_coll_err(x, st);
    zset_close(&z);
    return rc;
}

rstatus_i
resp_cmd_zmscore(struct resp_ctx *x)
{
    struct zset z;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &x->argv[1], &z, ZSET_LAZY, &st, &rc)) {
        return rc;
    }
    /* the scores first: an error is the whole reply */
    double stack[16];
    double *sc =
            x->argc - 2 <= 16 ? stack : malloc((x->argc - 2) * sizeof(*sc));
    bool *has = malloc(x->argc * sizeof(*has));
    if (sc == NULL || has == NULL) {
        st = COLL_ENOMEM;
    }
    for (uint32_t i = 2; st != COLL_ENOMEM && i < x->argc; i++) {
        st = zset_score(&z, x->argv[i].data, x->argv[i].len, &sc[i - 2]);
        has[i] = st == COLL_OK;
        if (st != COLL_OK && st != COLL_MISS) {
            break;
        }
    }
    if (st != COLL_OK && st != COLL_MISS) {
        rc = resp_coll_err(x, st);
    } else {
        rc = resp_compose_array(x->w, x->argc - 2);
        for (uint32_t i = 2; rc == STATUS_OK && i < x->argc; i++) {
            rc = has[i] ? resp_compose_double(x->w, sc[i - 2])
                        : resp_compose_null(x->w);
        }
    }
    if (sc != stack) {
        free(sc);
    }
    free(has);
    zset_close(&z);
    return rc;
}

rstatus_i
resp_cmd_zrank(struct resp_ctx *x)
{
    struct zset z;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &x->argv[1], &z, ZSET_LAZY, &st, &rc)) {
        return rc;
    }
    bool rev = x->cmd->id == RESP_CMD_ZREVRANK;
    uint64_t at = 0;
    st = zset_rank(&z, x->argv[2].data, x->argv[2].len, &at);
    rc = st == COLL_OK
                 ? resp_compose_integer(x->w,
                           rev ? (int64_t)z.n - 1 - (int64_t)at : (int64_t)at)
         : st == COLL_MISS ? resp_compose_null(x->w)
                           : resp_coll_err(x, st);
    zset_close(&z);
    return rc;
}

/* [*lo, *hi): the ranks of the entries within a score range (two
 * binary searches; on a set in parts, of the directory and two parts). */
static coll_status_e
score_span(struct zset *z, const struct zrange *r, size_t *lo, size_t *hi)
{
    uint64_t a = 0, b = 0;
    /* below min: < min, or <= min when min is exclusive; up to max: <= max,
     * or < max when exclusive */
    coll_status_e st = zset_below(z, r->min, r->minex, &a);
    if (st == COLL_OK) {
        st = zset_below(z, r->max, !r->maxex, &b);
    }
    *lo = (size_t)a;
    *hi = (size_t)(b < a ? a : b);
    return st;
}

static bool
below_min(const uint8_t *m, size_t mlen, void *arg)
{
    struct zpack_ent e = {m, mlen, 0};
    return !lex_gte_min(&e, arg);
}

static bool
within_max(const uint8_t *m, size_t mlen, void *arg)
{
    struct zpack_ent e = {m, mlen, 0};
    return lex_lte_max(&e, arg);
}

/* [*lo, *hi): the entries within a lex range, walked as Redis's listpack
 * code walks it; on a set in parts (a skiplist in Redis, where a lex range
 * is defined for equal scores only, as Redis documents) by two counts of
 * the entries below each bound, each a binary search of the parts. */
static coll_status_e
lex_span(struct zset *z, const struct lexrange *r, size_t *lo, size_t *hi)
{
    if (z->lazy) {
        uint64_t a = 0, b = 0;
        struct lexrange rr = *r;
        coll_status_e st = zset_count_while(z, below_min, &rr, &a);
        if (st == COLL_OK) {
            st = zset_count_while(z, within_max, &rr, &b);
        }
        *lo = (size_t)a;
        *hi = (size_t)(b < a ? a : b);
        return st;
    }
    size_t i = 0;
    while (i < z->n && !lex_gte_min(&z->e[i], r)) {
        i++;
    }
    size_t j = i;
    while (j < z->n && lex_lte_max(&z->e[j], r)) {
        j++;
    }
    *lo = i;
    *hi = j;
    return COLL_OK;
}

/* zslParseLexRange: also refuses min > max as an empty range (the walk
 * finds nothing then anyway). */
static bool
parse_lexrange(const struct resp_arg *min, const struct resp_arg *max,
        struct lexrange *r)
{
    return parse_lex(min, &r->min) && parse_lex(max, &r->max);
}

rstatus_i
resp_cmd_zcount(struct resp_ctx *x)
{
    struct zrange r;
    if (!parse_range(&x->argv[2], &x->argv[3], &r)) {
        return err_range_float(x);
    }
    struct zset z;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &x->argv[1], &z, ZSET_LAZY, &st, &rc)) {
        return rc;
    }
    size_t lo, hi;
    st = score_span(&z, &r, &lo, &hi);
    rc = st == COLL_OK ? resp_compose_integer(x->w, (int64_t)(hi - lo))
                       : resp_coll_err(x, st);
    zset_close(&z);
    return rc;
}

rstatus_i
resp_cmd_zlexcount(struct resp_ctx *x)
{
    struct lexrange r;
    if (!parse_lexrange(&x->argv[2], &x->argv[3], &r)) {
        return err_range_lex(x);
    }
    struct zset z;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &x->argv[1], &z, ZSET_LAZY, &st, &rc)) {
        return rc;
    }
    size_t lo, hi;
    st = lex_span(&z, &r, &lo, &hi);
    rc = st == COLL_OK ? resp_compose_integer(x->w, (int64_t)(hi - lo))
                       : resp_coll_err(x, st);
    zset_close(&z);
    return rc;
}

/* ---- replies of entries ---- */

/* An entry: member, then its score when withscores (RESP3: a pair). */
static rstatus_i
emit_ent(struct resp_ctx *x, const struct zpack_ent *e, bool withscores)
{
    rstatus_i rc = STATUS_OK;
    if (withscores && resp_is3(x)) {
        rc = resp_compose_array(x->w, 2);
    }
    rc = rc == STATUS_OK ? resp_compose_bulk(x->w, (const char *)e->m, e->mlen)
                         : rc;
    if (withscores && rc == STATUS_OK) {
        rc = resp_compose_double(x->w, e->score);
    }
    return rc;
}

static rstatus_i
emit_list(struct resp_ctx *x, const struct zpack_ent *const *v, size_t n,
        bool withscores)
{
    rstatus_i rc = resp_compose_array(
            x->w, withscores && !resp_is3(x) ? 2 * (uint64_t)n : n);
    for (size_t i = 0; rc == STATUS_OK && i < n; i++) {
        rc = emit_ent(x, v[i], withscores);
    }
    return rc;
}

/* ---- ZRANGE and its family ---- */

typedef enum {
    RT_AUTO,
    RT_RANK,
    RT_SCORE,
    RT_LEX,
} rtype_e;

typedef enum {
    DIR_AUTO,
    DIR_FWD,
    DIR_REV,
} dir_e;

/* The ranks [*wa, *wb) a rank range's reply takes (it lists them from
 * the top when rev). */
static void
pick_rank(const struct zset *z, int64_t start, int64_t end, bool rev,
        uint64_t *wa, uint64_t *wb)
{
    int64_t llen = (int64_t)z->n;
    *wa = *wb = 0;
    if (start < 0) {
        start += llen;
    }
    if (end < 0) {
        end += llen;
    }
    if (start < 0) {
        start = 0;
    }
    if (start > end || start >= llen) {
        return;
    }
    if (end >= llen) {
        end = llen - 1;
    }
    *wa = (uint64_t)(rev ? llen - 1 - end : start);
    *wb = (uint64_t)(rev ? llen - start : end + 1);
}

/* The ranks [*wa, *wb) of span [lo, hi) that offset and limit leave (from
 * the top when rev). */
static void
pick_span(size_t lo, size_t hi, bool rev, int64_t offset, int64_t limit,
        uint64_t *wa, uint64_t *wb)
{
    *wa = *wb = 0;
    size_t span = hi - lo;
    if (offset < 0 || (uint64_t)offset >= span || limit == 0) {
        return; /* Redis's "while (ln && offset--)" walks off the end */
    }
    size_t kend = limit < 0 || (uint64_t)limit >= span - (size_t)offset
                          ? span
                          : (size_t)offset + (size_t)limit;
    *wa = rev ? hi - kend : lo + (size_t)offset;
    *wb = rev ? hi - (size_t)offset : lo + kend;
}

/* A reverse lex or score walk starts from the top, as Redis's: the span
 * is the same set of entries. */
static rstatus_i
zrange_generic(struct resp_ctx *x, uint32_t argc_start, bool store, rtype_e rt,
        dir_e dir)
{
    uint32_t minidx = argc_start + 1, maxidx = argc_start + 2;
    int64_t start = 0, end = 0, offset = 0, limit = -1;
    bool withscores = false;
    for (uint32_t j = argc_start + 3; j < x->argc; j++) {
        uint32_t left = x->argc - j - 1;
        const struct resp_arg *a = &x->argv[j];
        if (!store && resp_arg_is(a, "withscores")) {
            withscores = true;
        } else if (resp_arg_is(a, "limit") && left >= 2) {
            if (!resp_arg_int64(&x->argv[j + 1], &offset) ||
                    !resp_arg_int64(&x->argv[j + 2], &limit)) {
                return resp_err_int(x);
            }
            j += 2;
        } else if (dir == DIR_AUTO && resp_arg_is(a, "rev")) {
            dir = DIR_REV;
        } else if (rt == RT_AUTO && resp_arg_is(a, "bylex")) {
            rt = RT_LEX;
        } else if (rt == RT_AUTO && resp_arg_is(a, "byscore")) {
            rt = RT_SCORE;
        } else {
            return resp_err_syntax(x);
        }
    }
    dir = dir == DIR_AUTO ? DIR_FWD : dir;
    rt = rt == RT_AUTO ? RT_RANK : rt;
    if (limit != -1 && rt == RT_RANK) {
        return resp_err(x, "ERR syntax error, LIMIT is only supported in "
                           "combination with either BYSCORE or BYLEX");
    }
    if (withscores && rt == RT_LEX) {
        return resp_err(x, "ERR syntax error, WITHSCORES not supported in "
                           "combination with BYLEX");
    }
    bool rev = dir == DIR_REV;
    if (rev && rt != RT_RANK) {
        uint32_t t = minidx;
        minidx = maxidx;
        maxidx = t;
    }
    struct zrange r;
    struct lexrange lr;
    switch (rt) {
    case RT_SCORE:
        if (!parse_range(&x->argv[minidx], &x->argv[maxidx], &r)) {
            return err_range_float(x);
        }
        break;
    case RT_LEX:
        if (!parse_lexrange(&x->argv[minidx], &x->argv[maxidx], &lr)) {
            return err_range_lex(x);
        }
        break;
    default:
        if (!resp_arg_int64(&x->argv[minidx], &start) ||
                !resp_arg_int64(&x->argv[maxidx], &end)) {
            return resp_err_int(x);
        }
        break;
    }
    const struct resp_arg *src = &x->argv[argc_start];
    struct zset z;
    coll_status_e st;
    uint32_t s[2];
    if (store) {
        s[0] = ks_stripe(resp_db(x), x->argv[1].data, x->argv[1].len);
        s[1] = ks_stripe(resp_db(x), src->data, src->len);
        ks_lock_many(s, 2);
    }
    /* a lex range walks the entries decoded whole; the others read the
     * parts they need */
    st = zset_open(&z, resp_db(x), src->data, src->len, false,
            (store ? COLL_LOCKED : 0) | ZSET_LAZY, x->c->now_ms);
    rstatus_i rc;
    const struct zpack_ent **out = NULL;
    if (st == COLL_WRONGTYPE || st == COLL_ENOMEM || st == COLL_RETRY) {
        rc = resp_coll_err(x, st);
        goto done;
    }
    size_t n = 0, lo, hi;
    uint64_t wa = 0, wb = 0;
    st = COLL_OK;
    switch (rt) {
    case RT_SCORE:
        st = score_span(&z, &r, &lo, &hi);
        pick_span(lo, hi, rev, offset, limit, &wa, &wb);
        break;
    case RT_LEX:
        if (rev && !z.lazy) {
            /* zzlLastInLexRange: from the tail, the first <= max, then
             * while >= min */
            size_t j = z.n;
            while (j > 0 && !lex_lte_max(&z.e[j - 1], &lr)) {
                j--;
            }
            size_t i = j;
            while (i > 0 && lex_gte_min(&z.e[i - 1], &lr)) {
                i--;
            }
            lo = i;
            hi = j;
        } else {
            st = lex_span(&z, &lr, &lo, &hi);
        }
        pick_span(lo, hi, rev, offset, limit, &wa, &wb);
        break;
    default:
        pick_rank(&z, start, end, rev, &wa, &wb);
        break;
    }
    if (st == COLL_OK) {
        st = zset_window(&z, wa, wb - wa);
    }
    if (st != COLL_OK) {
        rc = resp_coll_err(x, st);
        goto done;
    }
    n = (size_t)(wb - wa);
    out = malloc((n + 1) * sizeof(*out));
    if (out == NULL) {
        rc = resp_err(x, "ERR out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = zset_ent(&z, rev ? wb - 1 - i : wa + i);
    }
    if (store) {
        struct zpack_ent *ents = malloc((n + 1) * sizeof(*ents));
        if (ents == NULL) {
            rc = resp_err(x, "ERR out of memory");
        } else {
            for (size_t i = 0; i < n; i++) {
                ents[i] = *out[rev ? n - 1 - i : i];
            }
            bool existed =
                    ks_lookup(resp_db(x), x->argv[1].data, x->argv[1].len,
                            KS_ANY, KS_NOSTATS | KS_NOTOUCH, x->c->now_ms,
                            NULL) == KS_OK;
            st = zset_store(resp_db(x), x->argv[1].data, x->argv[1].len, ents,
                    n, x->c->now_ms);
            if (st == COLL_OK && n > 0) {
                ks_coll_changed(resp_db(x), x->argv[1].data, x->argv[1].len,
                        "zrangestore", existed, false);
            }
            rc = st == COLL_OK ? resp_compose_integer(x->w, (int64_t)n)
                               : resp_coll_err(x, st);
            if (st == COLL_OK && n > 0) {
                resp_list_signal(x, &x->argv[1]);
            }
            free(ents);
        }
    } else {
        rc = emit_list(x, out, n, withscores);
    }
done:
    free(out);
    zset_close(&z);
    if (store) {
        ks_unlock_many(s, 2);
    }
    return rc;
}

rstatus_i
resp_cmd_zrange(struct resp_ctx *x)
{
    switch (x->cmd->id) {
    case RESP_CMD_ZRANGESTORE:
        return zrange_generic(x, 2, true, RT_AUTO, DIR_AUTO);
    case RESP_CMD_ZRANGEBYSCORE:
        return zrange_generic(x, 1, false, RT_SCORE, DIR_FWD);
    case RESP_CMD_ZREVRANGEBYSCORE:
        return zrange_generic(x, 1, false, RT_SCORE, DIR_REV);
    case RESP_CMD_ZRANGEBYLEX:
        return zrange_generic(x, 1, false, RT_LEX, DIR_FWD);
    case RESP_CMD_ZREVRANGEBYLEX:
        return zrange_generic(x, 1, false, RT_LEX, DIR_REV);
    case RESP_CMD_ZREVRANGE:
        return zrange_generic(x, 1, false, RT_RANK, DIR_REV);
    default:
        return zrange_generic(x, 1, false, RT_AUTO, DIR_AUTO);
    }
}

/* ---- ZREMRANGEBY* ---- */

/* Ranks [lo, hi) of a lazy set in parts removed: the members copied out
 * of their parts, then removed one by one in a batch (each touched part
 * written once). */
static coll_status_e
remove_ranks_lazy(struct zset *z, size_t lo, size_t hi)
{
    size_t n = hi - lo, bytes = 0;
    coll_status_e st = zset_window(z, lo, n);
    if (st != COLL_OK) {
        return st;
    }
    for (size_t i = lo; i < hi; i++) {
        bytes += zset_ent(z, i)->mlen;
    }
    size_t *len = malloc((n + 1) * sizeof(*len));
    uint8_t *buf = malloc(bytes + 1);
    if (len == NULL || buf == NULL) {
        free(len);
        free(buf);
        return COLL_ENOMEM;
    }
    uint8_t *b = buf;
    for (size_t i = lo; i < hi; i++) {
        const struct zpack_ent *e = zset_ent(z, i);
        memcpy(b, e->m, e->mlen);
        len[i - lo] = e->mlen;
        b += e->mlen;
    }
    st = n > 1 ? zset_batch(z) : COLL_OK;
    b = buf;
    for (size_t i = 0; i < n && st == COLL_OK; i++) {
        bool removed;
        st = zset_del(z, b, len[i], &removed);
        b += len[i];
    }
    free(len);
    free(buf);
    return st;
}

/* The ranks a ZREMRANGEBY* removes. */
static coll_status_e
remove_span(struct zset *z, resp_command_e id, int64_t start, int64_t end,
        const struct zrange *r, const struct lexrange *lr, size_t *lo,
        size_t *hi)
{
    *lo = *hi = 0;
    if (id == RESP_CMD_ZREMRANGEBYRANK) {
        int64_t llen = (int64_t)z->n, s0 = start, e0 = end;
        s0 = s0 < 0 ? s0 + llen : s0;
        e0 = e0 < 0 ? e0 + llen : e0;
        s0 = s0 < 0 ? 0 : s0;
        if (!(s0 > e0 || s0 >= llen)) {
            e0 = e0 >= llen ? llen - 1 : e0;
            *lo = (size_t)s0;
            *hi = (size_t)e0 + 1;
        }
        return COLL_OK;
    }
    if (id == RESP_CMD_ZREMRANGEBYSCORE) {
        return score_span(z, r, lo, hi);
    }
    return lex_span(z, lr, lo, hi);
}

rstatus_i
resp_cmd_zremrange(struct resp_ctx *x)
{
    resp_command_e id = x->cmd->id;
    int64_t start = 0, end = 0;
    struct zrange r;
    struct lexrange lr;
    if (id == RESP_CMD_ZREMRANGEBYRANK) {
        if (!resp_arg_int64(&x->argv[2], &start) ||
                !resp_arg_int64(&x->argv[3], &end)) {
            return resp_err_int(x);
        }
    } else if (id == RESP_CMD_ZREMRANGEBYSCORE) {
        if (!parse_range(&x->argv[2], &x->argv[3], &r)) {
            return err_range_float(x);
        }
    } else if (!parse_lexrange(&x->argv[2], &x->argv[3], &lr)) {
        return err_range_lex(x);
    }
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    int64_t removed = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct zset z;
        removed = 0;
        /* a set in parts is read by part, and a few removed member by
         * member; many (past a quarter) are removed from the set decoded
         * whole and written again */
        st = zset_open(&z, resp_db(x), k->data, k->len, true,
                KS_NOSTATS | ZSET_LAZY, x->c->now_ms);
        size_t lo = 0, hi = 0;
        if (st == COLL_OK) {
            st = remove_span(&z, id, start, end, &r, &lr, &lo, &hi);
        }
        if (st == COLL_OK && z.lazy && hi - lo > z.n / 4) {
            zset_close(&z);
            st = zset_open(&z, resp_db(x), k->data, k->len, true, KS_NOSTATS,
                    x->c->now_ms);
            if (st == COLL_OK) {
                st = remove_span(&z, id, start, end, &r, &lr, &lo, &hi);
            }
        }
        if (st == COLL_MISS) {
            st = COLL_OK;
        } else if (st == COLL_OK) {
            removed = (int64_t)(hi - lo);
            if (z.lazy) {
                st = remove_ranks_lazy(&z, lo, hi);
            } else {
                zset_remove(&z, lo, hi - lo);
            }
            if (st == COLL_OK) {
                st = zset_commit(&z);
            }
            if (st == COLL_OK && removed > 0) {
                ks_coll_changed(z.db, z.key, z.klen,
                        id == RESP_CMD_ZREMRANGEBYRANK    ? "zremrangebyrank"
                        : id == RESP_CMD_ZREMRANGEBYSCORE ? "zremrangebyscore"
                                                          : "zremrangebylex",
                        true, z.n == 0);
            }
        }
        zset_close(&z);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    return resp_compose_integer(x->w, removed);
}

/* ---- pops ---- */

/* genericZpopCommand over keys[0..nkeys): the first that exists is popped.
 * Returns true when it replied (a pop, WRONGTYPE, or an error); false
 * when every key was missing and nothing was replied (the caller replies
 * empty, or blocks). */
bool
resp_zset_pop(struct resp_ctx *x, const struct resp_arg *keys, uint32_t nkeys,
        bool max, bool emitkey, int64_t count, bool nested, rstatus_i *rc)
{
    for (uint32_t k = 0; k < nkeys; k++) {
        coll_status_e st = COLL_RETRY;
        for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY;
                attempt++) {
            struct zset z;
            st = zset_open(&z, resp_db(x), keys[k].data, keys[k].len, true,
                    KS_NOSTATS | ZSET_LAZY, x->c->now_ms);
            if (st == COLL_MISS) {
                zset_close(&z);
                break;
            }
            if (st != COLL_OK) {
                zset_close(&z);
                *rc = resp_coll_err(x, st);
                return true;
            }
            if (count == 0) {
                zset_close(&z);
                *rc = resp_compose_array(x->w, 0);
                return true;
            }
            int64_t c = count == -1 ? 1 : count;
            size_t n = (size_t)c > z.n ? z.n : (size_t)c;
            st = zset_window(&z, max ? z.n - n : 0, n);
            if (st != COLL_OK) {
                zset_close(&z);
                if (st == COLL_RETRY) {
                    continue;
                }
                *rc = resp_coll_err(x, st);
                return true;
            }
            /* copy what is popped: the commit ends the views */
            size_t bytes = 0;
            for (size_t i = 0; i < n; i++) {
                bytes += zset_ent(&z, max ? z.n - 1 - i : i)->mlen;
            }
            struct zpack_ent *pop = malloc(n * sizeof(*pop) + bytes + 1);
            if (pop == NULL) {
                zset_close(&z);
                *rc = resp_err(x, "ERR out of memory");
                return true;
            }
            uint8_t *b = (uint8_t *)(pop + n);
            for (size_t i = 0; i < n; i++) {
                const struct zpack_ent *e = zset_ent(&z, max ? z.n - 1 - i : i);
                memcpy(b, e->m, e->mlen);
                pop[i] = (struct zpack_ent){b, e->mlen, e->score};
                b += e->mlen;
            }
            if (z.lazy) {
                st = n > 1 ? zset_batch(&z) : COLL_OK;
                for (size_t i = 0; i < n && st == COLL_OK; i++) {
                    bool removed;
                    st = zset_del(&z, pop[i].m, pop[i].mlen, &removed);
                }
            } else {
                zset_remove(&z, max ? z.n - n : 0, n);
            }
            if (st == COLL_OK) {
                st = zset_commit(&z);
            }
            if (st == COLL_OK && n > 0) {
                ks_coll_changed(z.db, z.key, z.klen,
                        max ? "zpopmax" : "zpopmin", true, z.n == 0);
            }
            zset_close(&z);
            if (st == COLL_RETRY) {
                free(pop);
                continue;
            }
            if (st != COLL_OK) {
                free(pop);
                *rc = resp_coll_err(x, st);
                return true;
            }
            rstatus_i r = STATUS_OK;
            if (!nested && !emitkey) {
                r = resp_compose_array(x->w, 2 * (uint64_t)n);
            } else if (nested && !emitkey) {
                r = resp_compose_array(x->w, n);
            } else if (!nested) {
                r = resp_compose_array(x->w, 2 * (uint64_t)n + 1);
                r = r == STATUS_OK
                            ? resp_compose_bulk(x->w, keys[k].data, keys[k].len)
                            : r;
            } else {
                r = resp_compose_array(x->w, 2);
                r = r == STATUS_OK
                            ? resp_compose_bulk(x->w, keys[k].data, keys[k].len)
                            : r;
                r = r == STATUS_OK ? resp_compose_array(x->w, n) : r;
            }
            for (size_t i = 0; r == STATUS_OK && i < n; i++) {
                if (nested) {
                    r = resp_compose_array(x->w, 2);
                }
                r = r == STATUS_OK
                            ? resp_compose_bulk(
                                      x->w, (const char *)pop[i].m, pop[i].mlen)
                            : r;
                r = r == STATUS_OK ? resp_compose_double(x->w, pop[i].score)
                                   : r;
            }
            free(pop);
            *rc = r;
            return true;
        }
        if (st == COLL_RETRY) {
            *rc = resp_coll_err(x, st);
            return true;
        }
    }
    return false;
}

static rstatus_i
err_positive(struct resp_ctx *x)
{
    return resp_err(x, "ERR value is out of range, must be positive");
}

rstatus_i
resp_cmd_zpop(struct resp_ctx *x)
{
    if (x->argc > 3) {
        return resp_err_syntax(x);
    }
    int64_t count = -1;
    if (x->argc == 3) {
        if (!resp_arg_int64(&x->argv[2], &count) || count < 0) {
            return err_positive(x); /* getPositiveLongFromObjectOrReply */
        }
    }
    bool nested = resp_is3(x) && count != -1;
    rstatus_i rc;
    if (resp_zset_pop(x, &x->argv[1], 1, x->cmd->id == RESP_CMD_ZPOPMAX, false,
                count, nested, &rc)) {
        return rc;
    }
    return resp_compose_array(x->w, 0);
}

/* getRangeLongFromObjectOrReply(1, LONG_MAX, msg) */
static bool
range_positive(struct resp_ctx *x, const struct resp_arg *a, int64_t *v,
        const char *msg, rstatus_i *rc)
{
    if (!resp_arg_int64(a, v) || *v < 1) {
        *rc = resp_err(x, msg);
        return false;
    }
    return true;
}

/* ZMPOP's arguments from argv[numkeys_idx]: keys, MIN|MAX, COUNT. */
int
resp_zset_mpop_args(struct resp_ctx *x, uint32_t numkeys_idx, uint32_t *nkeys,
        bool *max, int64_t *count, rstatus_i *rc)
{
    int64_t numkeys;
    if (!range_positive(x, &x->argv[numkeys_idx], &numkeys,
                "ERR numkeys should be greater than 0", rc)) {
        return -1;
    }
    uint64_t where = (uint64_t)numkeys_idx + (uint64_t)numkeys + 1;
    if (where >= x->argc) {
        *rc = resp_err_syntax(x);
        return -1;
    }
    const struct resp_arg *w = &x->argv[where];
    if (resp_arg_is(w, "min")) {
        *max = false;
    } else if (resp_arg_is(w, "max")) {
        *max = true;
    } else {
        *rc = resp_err_syntax(x);
        return -1;
    }
    *count = -1;
    for (uint64_t j = where + 1; j < x->argc; j++) {
        uint64_t more = x->argc - 1 - j;
        if (*count == -1 && resp_arg_is(&x->argv[j], "count") && more > 0) {
            j++;
            if (!range_positive(x, &x->argv[j], count,
                        "ERR count should be greater than 0", rc)) {
                return -1;
            }
        } else {
            *rc = resp_err_syntax(x);
            return -1;
        }
    }
    if (*count == -1) {
        *count = 1;
    }
    *nkeys = (uint32_t)numkeys;
    return 0;
}

rstatus_i
resp_cmd_zmpop(struct resp_ctx *x)
{
    uint32_t nkeys;
    bool max;
    int64_t count;
    rstatus_i rc;
    if (resp_zset_mpop_args(x, 1, &nkeys, &max, &count, &rc) != 0) {
        return rc;
    }
    if (resp_zset_pop(x, &x->argv[2], nkeys, max, true, count, true, &rc)) {
        return rc;
    }
    return resp_compose_null_array(x->w);
}

/* ---- ZRANDMEMBER ---- */

static int
u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ZRANDMEMBER on a set in parts: each pick a random rank read alone (one
 * part walked), so a pick is O(log n) whatever the size; a positive count
 * (at most a quarter of the set) draws distinct ranks. */
static rstatus_i
random_lazy(struct resp_ctx *x, struct zset *z, bool with_count, int64_t count,
        bool withscores)
{
    size_t n = !with_count ? 1 : count < 0 ? (size_t)-count : (size_t)count;
    uint64_t *r = malloc((n + 1) * sizeof(*r));
    if (r == NULL) {
        return resp_err(x, "ERR out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        r[i] = resp_rand64() % z->n;
    }
    if (with_count && count > 0) { /* distinct: draw again the repeats */
        for (;;) {
            qsort(r, n, sizeof(*r), u64_cmp);
            bool again = false;
            for (size_t i = 1; i < n; i++) {
                if (r[i] == r[i - 1]) {
                    r[i] = resp_rand64() % z->n;
                    again = true;
                }
            }
            if (!again) {
                break;
            }
        }
        for (size_t i = n; i > 1; i--) { /* in no particular order */
            size_t j = resp_rand64() % i;
            uint64_t t = r[i - 1];
            r[i - 1] = r[j];
            r[j] = t;
        }
    }
    rstatus_i rc = STATUS_OK;
    if (with_count) {
        rc = resp_compose_array(
                x->w, withscores && !resp_is3(x) ? 2 * (uint64_t)n : n);
    }
    for (size_t i = 0; rc == STATUS_OK && i < n; i++) {
        coll_status_e st = zset_window(z, r[i], 1);
        rc = st == COLL_OK ? emit_ent(x, zset_ent(z, r[i]), withscores)
                           : resp_coll_err(x, st);
    }
    free(r);
    return rc;
}

rstatus_i
resp_cmd_zrandmember(struct resp_ctx *x)
{
    int64_t count = 0;
    bool with_count = x->argc >= 3, withscores = false;
    if (x->argc > 4) {
        return resp_err_syntax(x);
    }
    if (x->argc == 4) {
        if (!resp_arg_is(&x->argv[3], "withscores")) {
            return resp_err_syntax(x);
        }
        withscores = true;
    }
    if (with_count) {
        if (!resp_arg_int64(&x->argv[2], &count)) {
            return resp_err_int(x);
        }
        if (count < -INT64_MAX / 2 && withscores) {
            return resp_err(x, "ERR value is out of range");
        }
        if (count == INT64_MIN) {
            return resp_err(x, "ERR value is out of range");
        }
    }
    struct zset z;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &x->argv[1], &z, ZSET_LAZY, &st, &rc)) {
        return rc;
    }
    if (z.lazy && (!with_count || count < 0 || (uint64_t)count * 4 <= z.n)) {
        rc = random_lazy(x, &z, with_count, count, withscores);
        zset_close(&z);
        return rc;
    }
    if (z.lazy) { /* many distinct members: from the set decoded whole */
        zset_close(&z);
        if (!open_read(x, &x->argv[1], &z, 0, &st, &rc)) {
            return rc;
        }
    }
    if (!with_count) {
        rc = z.n == 0 ? resp_compose_null(x->w)
                      : emit_ent(x, &z.e[resp_rand64() % z.n], false);
        zset_close(&z);
        return rc;
    }
    if (z.n == 0 || count == 0) {
        zset_close(&z);
        return resp_compose_array(x->w, 0);
    }
    size_t n = count < 0 ? (size_t)-count
                         : ((size_t)count > z.n ? z.n : (size_t)count);
    const struct zpack_ent **out = malloc(n * sizeof(*out));
    if (out == NULL) {
        zset_close(&z);
        return resp_err(x, "ERR out of memory");
    }
    if (count < 0) {
        for (size_t i = 0; i < n; i++) {
            out[i] = &z.e[resp_rand64() % z.n];
        }
    } else {
        const struct zpack_ent **all = malloc(z.n * sizeof(*all));
        if (all == NULL) {
            free(out);
            zset_close(&z);
            return resp_err(x, "ERR out of memory");
        }
        for (size_t i = 0; i < z.n; i++) {
            all[i] = &z.e[i];
        }
        for (size_t i = 0; i < n; i++) {
            size_t j = i + resp_rand64() % (z.n - i);
            const struct zpack_ent *t = all[i];
            all[i] = all[j];
            all[j] = t;
            out[i] = all[i];
        }
        free(all);
    }
    rc = emit_list(x, out, n, withscores);
    free(out);
    zset_close(&z);
    return rc;
}

/* ---- ZSCAN ---- */

/* Redis's d2string: integers without a fraction, else "%.17g". */
static int
d2string(char *buf, size_t cap, double v)
{
    if (isinf(v)) {
        return snprintf(buf, cap, "%s", v < 0 ? "-inf" : "inf");
    }
    if (v == 0) {
        return snprintf(buf, cap, "%s", 1.0 / v < 0 ? "-0" : "0");
    }
    if (v > -4503599627370495.0 && v < 4503599627370496.0 &&
            v == (double)(long long)v) {
        return snprintf(buf, cap, "%lld", (long long)v);
    }
    return snprintf(buf, cap, "%.17g", v);
}

/* ZSCAN's page of a set in parts: members (views) and scores. */
struct zscan_page {
    struct zpack_ent *e;
    size_t n, cap;
    bool oom;
};

static void
zscan_add(const struct pack_elem *m, double score, void *arg)
{
    struct zscan_page *pg = arg;
    if (pg->oom) {
        return;
    }
    if (pg->n == pg->cap) {
        size_t cap = pg->cap < 16 ? 16 : 2 * pg->cap;
        struct zpack_ent *e = realloc(pg->e, cap * sizeof(*e));
        if (e == NULL) {
            pg->oom = true;
            return;
        }
        pg->e = e;
        pg->cap = cap;
    }
    pg->e[pg->n++] =
            (struct zpack_ent){.m = m->p, .mlen = m->len, .score = score};
}

static rstatus_i
zscan_reply(struct resp_ctx *x, uint64_t next, const struct zpack_ent *e,
        size_t n, const struct resp_arg *pattern)
{
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        shown += pattern == NULL ||
                 resp_glob_match(pattern->data, pattern->len,
                         (const char *)e[i].m, e[i].mlen, false);
    }
    char cur[24];
    int clen = snprintf(cur, sizeof(cur), "%llu", (unsigned long long)next);
    rstatus_i rc = resp_compose_array(x->w, 2);
    rc = rc == STATUS_OK ? resp_compose_bulk(x->w, cur, (size_t)clen) : rc;
    rc = rc == STATUS_OK ? resp_compose_array(x->w, 2 * (uint64_t)shown) : rc;
    for (size_t i = 0; rc == STATUS_OK && i < n; i++) {
        if (pattern != NULL &&
                !resp_glob_match(pattern->data, pattern->len,
                        (const char *)e[i].m, e[i].mlen, false)) {
            continue;
        }
        char num[64];
        int len = d2string(num, sizeof(num), e[i].score);
        rc = resp_compose_bulk(x->w, (const char *)e[i].m, e[i].mlen);
        rc = rc == STATUS_OK ? resp_compose_bulk(x->w, num, (size_t)len) : rc;
    }
    return rc;
}

rstatus_i
resp_cmd_zscan(struct resp_ctx *x)
{
    uint64_t cursor, count;
    const struct resp_arg *pattern;
    if (resp_scan_args(x, 2, &cursor, &count, &pattern) != 0) {
        return STATUS_OK;
    }
    struct zset z;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &x->argv[1], &z, ZSET_LAZY, &st, &rc)) {
        return rc;
    }
    if (z.parts && z.lazy) { /* a page of about COUNT, as Redis's dict */
        struct zscan_page pg = {0};
        uint64_t next;
        st = zset_scan(&z, cursor, count, zscan_add, &pg, &next);
        if (st == COLL_OK && pg.oom) {
            st = COLL_ENOMEM;
        }
        rc = st == COLL_OK ? zscan_reply(x, next, pg.e, pg.n, pattern)
                           : resp_coll_err(x, st);
        free(pg.e);
        zset_close(&z);
        return rc;
    }
    /* inline (one reply with cursor 0, as Redis's listpack), or a set
     * decoded whole */
    rc = zscan_reply(x, 0, z.e, z.n, pattern);
    zset_close(&z);
    return rc;
}
