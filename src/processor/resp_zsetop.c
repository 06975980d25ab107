/* SPDX-License-Identifier: Apache-2.0 */
/* Resp sorted-set algebra: ZUNION ZINTER ZDIFF, their STORE forms and
 * ZINTERCARD, with Redis 7.0.15's replies, argument order and errors (its
 * zunionInterDiffGenericCommand): sets are inputs too, every member scoring
 * 1. The command table declares the keys by numkeys, so the command runs
 * under a hold of every key it names (resp_exec.c): it reads its inputs and
 * writes its destination in one step as every worker sees them.
 *
 * Scores are combined in Redis's order (inputs sorted by size, stably, as
 * glibc's qsort keeps equal sizes, then in that order), so sums that round
 * come out with the same bits. */
#include "processor/coll.h"
#include "processor/resp_internal.h"
#include "processor/resp_zset.h"
#include "processor/zcoll.h"

#include "types/types.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    ZOP_UNION,
    ZOP_INTER,
    ZOP_DIFF,
};

enum {
    AGG_SUM,
    AGG_MIN,
    AGG_MAX,
};

/* One input: a sorted set, a set (scores 1), or a missing key (empty). */
struct zsrc {
    uint8_t type; /* STORAGE_TYPE_ZSET, _SET, or KS_ANY: missing */
    double weight;
    uint64_t len;
    struct zset z;
    struct coll c;
    uint32_t *byname; /* zset: indexes of z.e in member order (finds) */
};

/* ---- inputs ---- */

static int
byname_cmp(const void *a, const void *b, void *arg)
{
    const struct zset *z = arg;
    const struct zpack_ent *x = &z->e[*(const uint32_t *)a];
    const struct zpack_ent *y = &z->e[*(const uint32_t *)b];
    return zpack_member_cmp(x->m, x->mlen, y->m, y->mlen);
}

/* Opens argv[k] as an input; false after replying (WRONGTYPE, memory). */
static bool
src_open(struct resp_ctx *x, const struct resp_arg *k, bool store,
        struct zsrc *s, rstatus_i *rc)
{
    struct storage_item it;
    s->weight = 1.0;
    s->type = KS_ANY;
    /* the lookup Redis counts (lookupKeyRead; a write's for STORE) */
    ks_lookup_e l = ks_lookup(resp_db(x), k->data, k->len, KS_ANY,
            store ? KS_NOSTATS : 0, x->c->now_ms, &it);
    if (l == KS_MISS) {
        return true;
    }
    unsigned peek = KS_NOSTATS | KS_NOTOUCH;
    coll_status_e st = COLL_WRONGTYPE;
    if (it.type == STORAGE_TYPE_ZSET) {
        st = zset_open(
                &s->z, resp_db(x), k->data, k->len, false, peek, x->c->now_ms);
        s->len = s->z.n;
    } else if (it.type == STORAGE_TYPE_SET) {
        st = coll_open(&s->c, resp_db(x), k->data, k->len, STORAGE_TYPE_SET,
                false, peek, x->c->now_ms);
        s->len = coll_count(&s->c);
    }
    if (st == COLL_MISS) {
        st = COLL_OK; /* found broken: empty, as a missing key */
        s->len = 0;
    }
    if (st != COLL_OK) {
        if (it.type == STORAGE_TYPE_ZSET) {
            zset_close(&s->z);
        } else if (it.type == STORAGE_TYPE_SET) {
            coll_close(&s->c);
        }
        *rc = resp_coll_err(x, st);
        return false;
    }
    s->type = it.type;
    return true;
}

static void
src_close(struct zsrc *s)
{
    if (s->type == STORAGE_TYPE_ZSET) {
        zset_close(&s->z);
    } else if (s->type == STORAGE_TYPE_SET) {
        coll_close(&s->c);
    }
    free(s->byname);
    s->byname = NULL;
    s->type = KS_ANY;
}

/* The index lookups by member use (built once, on the first find). */
static bool
src_index(struct zsrc *s)
{
    if (s->type != STORAGE_TYPE_ZSET || s->byname != NULL || s->len == 0) {
        return true;
    }
    s->byname = malloc(s->len * sizeof(*s->byname));
    if (s->byname == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < s->len; i++) {
        s->byname[i] = i;
    }
    qsort_r(s->byname, s->len, sizeof(*s->byname), byname_cmp, &s->z);
    return true;
}

/* zuiFind: whether m is in s, and its (unweighted) score. */
static bool
src_find(const struct zsrc *s, const uint8_t *m, size_t mlen, double *score)
{
    if (s->type == STORAGE_TYPE_SET) {
        *score = 1.0;
        return coll_set_has((struct coll *)&s->c, m, mlen) == COLL_OK;
    }
    if (s->type != STORAGE_TYPE_ZSET || s->len == 0) {
        return false;
    }
    size_t lo = 0, hi = s->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct zpack_ent *e = &s->z.e[s->byname[mid]];
        int c = zpack_member_cmp(e->m, e->mlen, m, mlen);
        if (c == 0) {
            *score = e->score;
            return true;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

/* Calls fn on every member of s with its unweighted score; false when fn
 * stopped the walk (out of memory, or a limit reached). */
typedef bool visit_fn(const uint8_t *m, size_t mlen, double score, void *arg);

struct set_visit {
    visit_fn *fn;
    void *arg;
    bool stopped;
};

static bool
set_visit_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    (void)b;
    struct set_visit *v = arg;
    if (!v->fn(a->p, a->len, 1.0, v->arg)) {
        v->stopped = true;
        return false;
    }
    return true;
}

static bool
src_each(struct zsrc *s, visit_fn *fn, void *arg)
{
    if (s->type == STORAGE_TYPE_ZSET) {
        for (size_t i = 0; i < s->z.n; i++) {
            if (!fn(s->z.e[i].m, s->z.e[i].mlen, s->z.e[i].score, arg)) {
                return false;
            }
        }
    } else if (s->type == STORAGE_TYPE_SET) {
        struct set_visit v = {fn, arg, false};
        coll_each(&s->c, set_visit_fn, &v);
        return !v.stopped;
    }
    return true;
}

/* ---- the result: members copied, scores, a hash for the union ---- */

struct zres {
    uint8_t *bytes;
    size_t used, bcap;
    struct zpack_ent *e; /* e[i].m: an offset into bytes until zres_fix */
    size_t n, cap;
    uint64_t *slot; /* index + 1; 0: empty (ZUNION only) */
    uint64_t nslot;
    bool oom;
};

static const uint8_t *
zres_member(const struct zres *r, size_t i)
{
    return r->bytes + (uintptr_t)r->e[i].m;
}

static bool
zres_push(struct zres *r, const uint8_t *m, size_t mlen, double score)
{
    if (r->used + mlen > r->bcap) {
        size_t cap = r->bcap < 256 ? 256 : r->bcap;
        while (cap < r->used + mlen) {
            cap *= 2;
        }
        uint8_t *b = realloc(r->bytes, cap);
        if (b == NULL) {
            return false;
        }
        r->bytes = b;
        r->bcap = cap;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap < 16 ? 16 : r->cap * 2;
        struct zpack_ent *e = realloc(r->e, cap * sizeof(*e));
        if (e == NULL) {
            return false;
        }
        r->e = e;
        r->cap = cap;
    }
    if (mlen > 0) {
        memcpy(r->bytes + r->used, m, mlen);
    }
    r->e[r->n++] = (struct zpack_ent){
            (const uint8_t *)(uintptr_t)r->used, mlen, score};
    r->used += mlen;
    return true;
}

static bool
zres_grow(struct zres *r)
{
    uint64_t cap = r->nslot < 64 ? 64 : r->nslot * 2;
    uint64_t *slot = calloc(cap, sizeof(*slot));
    if (slot == NULL) {
        return false;
    }
    for (size_t i = 0; i < r->n; i++) {
        uint64_t h = types_hash(zres_member(r, i), r->e[i].mlen) & (cap - 1);
        while (slot[h] != 0) {
            h = (h + 1) & (cap - 1);
        }
        slot[h] = i + 1;
    }
    free(r->slot);
    r->slot = slot;
    r->nslot = cap;
    return true;
}

/* The entry of member m: found (*at), or added with score (*added). */
static bool
zres_upsert(struct zres *r, const uint8_t *m, size_t mlen, double score,
        size_t *at, bool *added)
{
    if ((r->n + 1) * 2 > r->nslot && !zres_grow(r)) {
        return false;
    }
    uint64_t h = types_hash(m, mlen) & (r->nslot - 1);
    while (r->slot[h] != 0) {
        size_t i = r->slot[h] - 1;
        if (r->e[i].mlen == mlen && memcmp(zres_member(r, i), m, mlen) == 0) {
            *at = i;
            *added = false;
            return true;
        }
        h = (h + 1) & (r->nslot - 1);
    }
    if (!zres_push(r, m, mlen, score)) {
        return false;
    }
    r->slot[h] = r->n;
    *at = r->n - 1;
    *added = true;
    return true;
}

static int
ent_cmp(const void *a, const void *b)
{
    return zpack_ent_cmp(a, b);
}

/* Offsets become pointers, and the entries are put in (score, member)
 * order. */
static void
zres_fix(struct zres *r)
{
    for (size_t i = 0; i < r->n; i++) {
        r->e[i].m = zres_member(r, i);
    }
    if (r->n > 1) {
        qsort(r->e, r->n, sizeof(*r->e), ent_cmp);
    }
}

static void
zres_free(struct zres *r)
{
    free(r->bytes);
    free(r->e);
    free(r->slot);
    memset(r, 0, sizeof(*r));
}

/* zunionInterAggregate */
static void
aggregate(double *target, double val, int agg)
{
    if (agg == AGG_SUM) {
        *target = *target + val;
        if (isnan(*target)) {
            *target = 0.0; /* inf + -inf: 0 by Redis's convention */
        }
    } else if (agg == AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

/* ---- the operations ---- */

struct zop {
    struct zsrc *src;
    uint32_t n;
    int agg;
    uint64_t limit; /* ZINTERCARD: stop at this many; 0: none */
    bool count_only;
    uint64_t card;
    uint32_t cur; /* the input walked */
    struct zres *out;
};

static bool
inter_fn(const uint8_t *m, size_t mlen, double score, void *arg)
{
    struct zop *o = arg;
    double s = o->src[0].weight * score;
    if (isnan(s)) {
        s = 0;
    }
    for (uint32_t j = 1; j < o->n; j++) {
        double v;
        if (!src_find(&o->src[j], m, mlen, &v)) {
            return true;
        }
        aggregate(&s, v * o->src[j].weight, o->agg);
    }
    if (o->count_only) {
        o->card++;
        return o->limit == 0 || o->card < o->limit;
    }
    if (!zres_push(o->out, m, mlen, s)) {
        o->out->oom = true;
        return false;
    }
    return true;
}

static bool
union_fn(const uint8_t *m, size_t mlen, double score, void *arg)
{
    struct zop *o = arg;
    double s = o->src[o->cur].weight * score;
    if (isnan(s)) {
        s = 0;
    }
    size_t at;
    bool added;
    if (!zres_upsert(o->out, m, mlen, s, &at, &added)) {
        o->out->oom = true;
        return false;
    }
    if (!added) {
        aggregate(&o->out->e[at].score, s, o->agg);
    }
    return true;
}

static bool
diff_fn(const uint8_t *m, size_t mlen, double score, void *arg)
{
    struct zop *o = arg;
    for (uint32_t j = 1; j < o->n; j++) {
        double v;
        if (src_find(&o->src[j], m, mlen, &v)) {
            return true;
        }
    }
    if (!zres_push(o->out, m, mlen, score)) {
        o->out->oom = true;
        return false;
    }
    return true;
}

/* Stable insertion sort by size (the inputs are few). */
static void
sort_by_len(struct zsrc *src, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        struct zsrc t = src[i];
        uint32_t j = i;
        while (j > 0 && src[j - 1].len > t.len) {
            src[j] = src[j - 1];
            j--;
        }
        src[j] = t;
    }
}

/* Runs the operation; false when out of memory. */
static bool
zop_run(struct zop *o, int op)
{
    for (uint32_t i = 0; i < o->n; i++) {
        if (!src_index(&o->src[i])) {
            return false;
        }
    }
    if (op == ZOP_INTER) {
        if (o->src[0].len > 0) {
            src_each(&o->src[0], inter_fn, o);
        }
    } else if (op == ZOP_UNION) {
        for (o->cur = 0; o->cur < o->n && !o->out->oom; o->cur++) {
            if (o->src[o->cur].len > 0) {
                src_each(&o->src[o->cur], union_fn, o);
            }
        }
    } else if (o->src[0].len > 0) {
        src_each(&o->src[0], diff_fn, o);
    }
    return !o->out->oom;
}

/* ---- arguments ---- */

struct zop_args {
    int op;
    bool store, count_only, withscores;
    uint32_t numkeys_idx;
    uint32_t nkeys;
    int agg;
    int64_t limit;
};

/* numkeys as Redis checks it before it looks a key up; -1 after a reply. */
static int
parse_numkeys(struct resp_ctx *x, struct zop_args *a, rstatus_i *rc)
{
    int64_t setnum;
    if (!resp_arg_int64(&x->argv[a->numkeys_idx], &setnum)) {
        *rc = resp_err_int(x);
        return -1;
    }
    if (setnum < 1) {
        *rc = resp_compose_error_fmt(x->w,
                "ERR at least 1 input key is needed for '%s' command",
                x->cmd->fullname);
        return -1;
    }
    if ((uint64_t)setnum > x->argc - (a->numkeys_idx + 1)) {
        *rc = resp_err_syntax(x);
        return -1;
    }
    a->nkeys = (uint32_t)setnum;
    return 0;
}

/* The options after the keys (WEIGHTS AGGREGATE WITHSCORES LIMIT), parsed
 * after the keys were looked up, as Redis does; -1 after a reply. */
static int
parse_options(
        struct resp_ctx *x, struct zop_args *a, struct zsrc *src, rstatus_i *rc)
{
    uint32_t j = a->numkeys_idx + 1 + a->nkeys;
    bool algebra = a->op != ZOP_DIFF && !a->count_only;
    while (j < x->argc) {
        uint32_t remaining = x->argc - j;
        const struct resp_arg *o = &x->argv[j];
        if (algebra && remaining >= a->nkeys + 1 && resp_arg_is(o, "weights")) {
            j++;
            for (uint32_t i = 0; i < a->nkeys; i++, j++) {
                if (!resp_zset_parse_double(&x->argv[j], &src[i].weight)) {
                    *rc = resp_err(x, "ERR weight value is not a float");
                    return -1;
                }
            }
        } else if (algebra && remaining >= 2 && resp_arg_is(o, "aggregate")) {
            const struct resp_arg *v = &x->argv[j + 1];
            if (resp_arg_is(v, "sum")) {
                a->agg = AGG_SUM;
            } else if (resp_arg_is(v, "min")) {
                a->agg = AGG_MIN;
            } else if (resp_arg_is(v, "max")) {
                a->agg = AGG_MAX;
            } else {
                *rc = resp_err_syntax(x);
                return -1;
            }
            j += 2;
        } else if (!a->store && !a->count_only &&
                   resp_arg_is(o, "withscores")) {
            a->withscores = true;
            j++;
        } else if (a->count_only && remaining >= 2 && resp_arg_is(o, "limit")) {
            if (!resp_arg_int64(&x->argv[j + 1], &a->limit) || a->limit < 0) {
                *rc = resp_err(x, "ERR LIMIT can't be negative");
                return -1;
            }
            j += 2;
        } else {
            *rc = resp_err_syntax(x);
            return -1;
        }
    }
    return 0;
}

/* ---- replies ---- */

static rstatus_i
reply_list(struct resp_ctx *x, const struct zres *r, bool withscores)
{
    bool pairs = withscores && resp_is3(x);
    rstatus_i rc = resp_compose_array(
            x->w, withscores && !pairs ? 2 * (uint64_t)r->n : r->n);
    for (size_t i = 0; rc == STATUS_OK && i < r->n; i++) {
        if (pairs) {
            rc = resp_compose_array(x->w, 2);
        }
        if (rc == STATUS_OK) {
            rc = resp_compose_bulk(x->w, (const char *)r->e[i].m, r->e[i].mlen);
        }
        if (rc == STATUS_OK && withscores) {
            rc = resp_compose_double(x->w, r->e[i].score);
        }
    }
    return rc;
}

/* Replaces argv[1] with the result (deleting it when empty) under its
 * stripe lock (held already: re-entrant). */
static rstatus_i
reply_store(struct resp_ctx *x, const struct zres *r, int op)
{
    const struct resp_arg *dst = &x->argv[1];
    uint32_t s = ks_stripe(resp_db(x), dst->data, dst->len);
    ks_lock(s);
    bool existed =
            ks_lookup(resp_db(x), dst->data, dst->len, KS_ANY,
                    KS_NOSTATS | KS_NOTOUCH, x->c->now_ms, NULL) == KS_OK;
    coll_status_e st = zset_store(
            resp_db(x), dst->data, dst->len, r->e, r->n, x->c->now_ms);
    if (st == COLL_OK && r->n > 0) { /* an empty result: zset_store's del */
        ks_coll_changed(resp_db(x), dst->data, dst->len,
                op == ZOP_UNION   ? "zunionstore"
                : op == ZOP_INTER ? "zinterstore"
                                  : "zdiffstore",
                existed, false);
    }
    ks_unlock(s);
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    if (r->n > 0) {
        resp_list_signal(x, dst); /* clients blocked in BZPOPMIN & co */
    }
    return resp_compose_integer(x->w, (int64_t)r->n);
}

static rstatus_i
zsetop(struct resp_ctx *x, struct zop_args *a)
{
    rstatus_i rc = STATUS_OK;
    if (parse_numkeys(x, a, &rc) != 0) {
        return rc;
    }
    struct zsrc *src = calloc(a->nkeys, sizeof(*src));
    if (src == NULL) {
        return resp_err(x, "ERR out of memory");
    }
    uint32_t opened = 0;
    bool ok = true;
    for (; ok && opened < a->nkeys; opened++) {
        ok = src_open(x, &x->argv[a->numkeys_idx + 1 + opened], a->store,
                &src[opened], &rc);
    }
    ok = ok && parse_options(x, a, src, &rc) == 0;
    struct zres out = {0};
    if (ok) {
        if (a->op != ZOP_DIFF) {
            sort_by_len(src, a->nkeys);
        }
        struct zop o = {src, a->nkeys, a->agg, (uint64_t)a->limit,
                a->count_only, 0, 0, &out};
        if (!zop_run(&o, a->op)) {
            rc = resp_err(x, "ERR out of memory");
        } else if (a->count_only) {
            rc = resp_compose_integer(x->w, (int64_t)o.card);
        } else {
            zres_fix(&out);
            rc = a->store ? reply_store(x, &out, a->op)
                          : reply_list(x, &out, a->withscores);
        }
    }
    for (uint32_t i = 0; i < opened; i++) {
        src_close(&src[i]);
    }
    free(src);
    zres_free(&out);
    return rc;
}

/* ZUNION ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD */
rstatus_i
resp_cmd_zsetop(struct resp_ctx *x)
{
    struct zop_args a = {.agg = AGG_SUM, .numkeys_idx = 1};
    switch (x->cmd->id) {
    case RESP_CMD_ZUNIONSTORE:
        a.store = true;
        __attribute__((fallthrough));
    case RESP_CMD_ZUNION:
        a.op = ZOP_UNION;
        break;
    case RESP_CMD_ZINTERSTORE:
        a.store = true;
        __attribute__((fallthrough));
    case RESP_CMD_ZINTER:
        a.op = ZOP_INTER;
        break;
    case RESP_CMD_ZINTERCARD:
        a.op = ZOP_INTER;
        a.count_only = true;
        break;
    case RESP_CMD_ZDIFFSTORE:
        a.store = true;
        __attribute__((fallthrough));
    default:
        a.op = ZOP_DIFF;
        break;
    }
    if (a.store) {
        a.numkeys_idx = 2;
    }
    return zsetop(x, &a);
}
