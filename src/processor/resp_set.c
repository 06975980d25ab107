/* SPDX-License-Identifier: Apache-2.0 */
/* Resp set commands: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS
 * SRANDMEMBER SPOP SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE
 * SDIFF SDIFFSTORE SSCAN, with Redis 7.0.15's replies and errors, over the
 * collections of coll.h. Commands of several keys take every key's stripe
 * lock first (coll_lock_stripes), so they see and change their keys in one
 * step as every worker sees them. */
#include "processor/coll.h"
#include "processor/resp_internal.h"

#include "base/mm.h"
#include "types/intset.h"
#include "types/types.h"

#include <stdlib.h>
#include <string.h>

#define RETRY_MAX 64

static rstatus_i
err_range_positive(struct resp_ctx *x)
{
    return resp_err(x, "ERR value is out of range, must be positive");
}

/* SADD and SREM */
static rstatus_i
add_rem(struct resp_ctx *x, bool add)
{
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    int64_t n = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct coll c;
        n = 0;
        st = coll_open(&c, resp_db(x), k->data, k->len, STORAGE_TYPE_SET, true,
                KS_NOSTATS, x->c->now_ms);
        if (st == COLL_MISS && !add) {
            st = COLL_OK;
        } else if (st == COLL_OK || st == COLL_MISS) {
            st = COLL_OK;
            for (uint32_t i = 2; i < x->argc && st == COLL_OK; i++) {
                bool done;
                st = add ? coll_set_add(
                                   &c, x->argv[i].data, x->argv[i].len, &done)
                         : coll_set_rem(
                                   &c, x->argv[i].data, x->argv[i].len, &done);
                n += done;
            }
            if (st == COLL_OK) {
                st = coll_commit(&c);
            }
            if (st == COLL_OK && n > 0) {
                ks_coll_changed(c.db, c.key, c.klen, add ? "sadd" : "srem",
                        !c.created, c.count == 0);
            }
        }
        coll_close(&c);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    return resp_compose_integer(x->w, n);
}

rstatus_i
resp_cmd_sadd(struct resp_ctx *x)
{
    return add_rem(x, true);
}

rstatus_i
resp_cmd_srem(struct resp_ctx *x)
{
    return add_rem(x, false);
}

static bool
open_set(struct resp_ctx *x, const struct resp_arg *k, struct coll *c,
        unsigned flags, coll_status_e *st, rstatus_i *rc)
{
    *st = coll_open(c, resp_db(x), k->data, k->len, STORAGE_TYPE_SET, false,
            flags, x->c->now_ms);
    if (*st == COLL_WRONGTYPE) {
        coll_close(c);
        *rc = resp_coll_err(x, *st);
        return false;
    }
    return true;
}

rstatus_i
resp_cmd_sismember(struct resp_ctx *x)
{
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_set(x, &x->argv[1], &c, 0, &st, &rc)) {
        return rc;
    }
    bool found = st == COLL_OK &&
                 coll_set_has(&c, x->argv[2].data, x->argv[2].len) == COLL_OK;
    coll_close(&c);
    return resp_compose_integer(x->w, found);
}

rstatus_i
resp_cmd_smismember(struct resp_ctx *x)
{
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_set(x, &x->argv[1], &c, 0, &st, &rc)) {
        return rc;
    }
    rc = resp_compose_array(x->w, x->argc - 2);
    for (uint32_t i = 2; rc == STATUS_OK && i < x->argc; i++) {
        bool found = st == COLL_OK && coll_set_has(&c, x->argv[i].data,
                                              x->argv[i].len) == COLL_OK;
        rc = resp_compose_integer(x->w, found);
    }
    coll_close(&c);
    return rc;
}

struct emit {
    struct resp_writer *w;
    rstatus_i rc;
};

static bool
emit_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    (void)b;
    struct emit *e = arg;
    e->rc = resp_compose_bulk(e->w, (const char *)a->p, a->len);
    return e->rc == STATUS_OK;
}

static rstatus_i
set_header(struct resp_ctx *x, uint64_t n)
{
    return resp_is3(x) ? resp_compose_set(x->w, n)
                       : resp_compose_array(x->w, n);
}

rstatus_i
resp_cmd_smembers(struct resp_ctx *x)
{
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_set(x, &x->argv[1], &c, 0, &st, &rc)) {
        return rc;
    }
    uint64_t n = st == COLL_OK ? coll_count(&c) : 0;
    struct emit e = {x->w, set_header(x, n)};
    if (e.rc == STATUS_OK && st == COLL_OK) {
        coll_each(&c, emit_fn, &e);
    }
    coll_close(&c);
    return e.rc;
}

static void
shuffle_head(struct pack_elem *a, uint64_t n, uint64_t k)
{
    for (uint64_t i = 0; i < k && i + 1 < n; i++) {
        uint64_t j = i + resp_rand64() % (n - i);
        struct pack_elem t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

rstatus_i
resp_cmd_srandmember(struct resp_ctx *x)
{
    int64_t count = 1;
    bool with_count = x->argc == 3;
    if (x->argc > 3) {
        return resp_err_syntax(x);
    }
    if (with_count) {
        if (!resp_arg_int64(&x->argv[2], &count)) {
            return resp_err_int(x);
        }
        if (count == INT64_MIN) {
            return resp_err(x, "ERR value is out of range, value must between "
                               "-9223372036854775807 and "
                               "9223372036854775807");
        }
    }
    struct coll c;
    coll_status_e st;
    rstatus_i rc;
    if (!open_set(x, &x->argv[1], &c, 0, &st, &rc)) {
        return rc;
    }
    struct pack_elem a;
    if (!with_count) {
        rc = st == COLL_OK &&
                             coll_random(&c, resp_rand64(), &a, NULL) == COLL_OK
                     ? resp_compose_bulk(x->w, (const char *)a.p, a.len)
                     : resp_compose_null(x->w);
        coll_close(&c);
        return rc;
    }
    if (st != COLL_OK || count == 0) {
        coll_close(&c);
        return resp_compose_array(x->w, 0);
    }
    if (count < 0) {
        uint64_t n = (uint64_t)-count;
        rc = resp_compose_array(x->w, n);
        for (uint64_t i = 0; rc == STATUS_OK && i < n; i++) {
            coll_random(&c, resp_rand64(), &a, NULL);
            rc = resp_compose_bulk(x->w, (const char *)a.p, a.len);
        }
        coll_close(&c);
        return rc;
    }
    if ((uint64_t)count >= coll_count(&c)) { /* the whole set, as SMEMBERS */
        struct emit e = {x->w, set_header(x, coll_count(&c))};
        if (e.rc == STATUS_OK) {
            coll_each(&c, emit_fn, &e);
        }
        coll_close(&c);
        return e.rc;
    }
    struct pack_elem *ea, *eb;
    uint8_t *bytes;
    uint64_t n;
    if (!resp_coll_snapshot(&c, &ea, &eb, &bytes, &n)) {
        coll_close(&c);
        return resp_err(x, "ERR out of memory");
    }
    uint64_t k = (uint64_t)count;
    shuffle_head(ea, n, k);
    rc = resp_compose_array(x->w, k);
    for (uint64_t i = 0; rc == STATUS_OK && i < k; i++) {
        rc = resp_compose_bulk(x->w, (const char *)ea[i].p, ea[i].len);
    }
    mm_release(ea);
    mm_release(eb);
    mm_release(bytes);
    coll_close(&c);
    return rc;
}

/* Copies of elements that outlive the collection they came from (the
 * results of set operations, SPOP's victims). */
struct elems {
    struct pack_elem *e;
    uint64_t n, cap;
    uint8_t *bytes;
    size_t used, bcap;
    bool oom;
};

static void
elems_free(struct elems *l)
{
    mm_release(l->e);
    mm_release(l->bytes);
    memset(l, 0, sizeof(*l));
}

static bool
elems_push(struct elems *l, const void *p, size_t len)
{
    if (l->n == l->cap) {
        uint64_t cap = l->cap < 16 ? 16 : l->cap * 2;
        struct pack_elem *e = realloc(l->e, cap * sizeof(*e));
        if (e == NULL) {
            l->oom = true;
            return false;
        }
        l->e = e;
        l->cap = cap;
    }
    if (l->used + len > l->bcap) {
        size_t cap = l->bcap < 4096 ? 4096 : l->bcap;
        while (cap < l->used + len) {
            cap *= 2;
        }
        uint8_t *b = realloc(l->bytes, cap);
        if (b == NULL) {
            l->oom = true;
            return false;
        }
        l->bytes = b;
        l->bcap = cap;
    }
    memcpy(l->bytes + l->used, p, len);
    /* offsets now, pointers once the bytes stop moving (elems_fix) */
    l->e[l->n++] = (struct pack_elem){(const uint8_t *)(uintptr_t)l->used, len};
    l->used += len;
    return true;
}

static void
elems_fix(struct elems *l)
{
    for (uint64_t i = 0; i < l->n; i++) {
        l->e[i].p = l->bytes + (uintptr_t)l->e[i].p;
    }
}

static bool
push_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    (void)b;
    return elems_push(arg, a->p, a->len);
}

rstatus_i
resp_cmd_spop(struct resp_ctx *x)
{
    int64_t count = 1;
    bool with_count = x->argc == 3;
    if (x->argc > 3) {
        return resp_err_syntax(x);
    }
    if (with_count) {
        if (!resp_arg_int64(&x->argv[2], &count) || count < 0) {
            return err_range_positive(x);
        }
    }
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    struct elems out = {0};
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        elems_free(&out);
        struct coll c;
        st = coll_open(&c, resp_db(x), k->data, k->len, STORAGE_TYPE_SET, true,
                KS_NOSTATS, x->c->now_ms);
        if (st == COLL_MISS) {
            coll_close(&c);
            return with_count ? set_header(x, 0) : resp_compose_null(x->w);
        }
        if (st != COLL_OK) {
            coll_close(&c);
            break;
        }
        uint64_t size = coll_count(&c);
        uint64_t want = (uint64_t)count < size ? (uint64_t)count : size;
        if (want == size) { /* all of it: the key goes */
            coll_each(&c, push_fn, &out);
        } else if (want == 1) {
            struct pack_elem a;
            coll_random(&c, resp_rand64(), &a, NULL);
            elems_push(&out, a.p, a.len);
        } else if (want > 0) {
            struct elems all = {0};
            coll_each(&c, push_fn, &all);
            elems_fix(&all);
            shuffle_head(all.e, all.n, want);
            for (uint64_t i = 0; i < want && !all.oom; i++) {
                elems_push(&out, all.e[i].p, all.e[i].len);
            }
            out.oom |= all.oom;
            elems_free(&all);
        }
        if (out.oom) {
            coll_close(&c);
            elems_free(&out);
            return resp_err(x, "ERR out of memory");
        }
        elems_fix(&out);
        for (uint64_t i = 0; i < out.n && st == COLL_OK; i++) {
            bool removed;
            st = coll_set_rem(&c, out.e[i].p, out.e[i].len, &removed);
        }
        if (st == COLL_OK) {
            st = coll_commit(&c);
        }
        if (st == COLL_OK && out.n > 0) {
            ks_coll_changed(c.db, c.key, c.klen, "spop", true, c.count == 0);
        }
        coll_close(&c);
    }
    if (st != COLL_OK) {
        elems_free(&out);
        return resp_coll_err(x, st);
    }
    rstatus_i rc;
    if (!with_count) {
        rc = out.n == 1 ? resp_compose_bulk(
                                  x->w, (const char *)out.e[0].p, out.e[0].len)
                        : resp_compose_null(x->w);
    } else {
        rc = set_header(x, out.n);
        for (uint64_t i = 0; rc == STATUS_OK && i < out.n; i++) {
            rc = resp_compose_bulk(
                    x->w, (const char *)out.e[i].p, out.e[i].len);
        }
    }
    elems_free(&out);
    return rc;
}

/* ---- several keys ---- */

/* The stripes of keys argv[from .. to), locked in order. */
struct locks {
    uint32_t *s;
    uint32_t n;
    uint32_t local[16];
};

static bool
lock_keys(struct resp_ctx *x, struct locks *l, uint32_t from, uint32_t to)
{
    l->n = to - from;
    l->s = l->n <= 16 ? l->local : malloc(l->n * sizeof(*l->s));
    if (l->s == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < l->n; i++) {
        const struct resp_arg *k = &x->argv[from + i];
        l->s[i] = ks_stripe(resp_db(x), k->data, k->len);
    }
    coll_lock_stripes(l->s, l->n);
    return true;
}

static void
unlock_keys(struct locks *l)
{
    coll_unlock_stripes(l->s, l->n);
    if (l->s != l->local) {
        free(l->s);
    }
}

rstatus_i
resp_cmd_smove(struct resp_ctx *x)
{
    const struct resp_arg *src = &x->argv[1], *dst = &x->argv[2],
                          *m = &x->argv[3];
    struct locks l;
    if (!lock_keys(x, &l, 1, 3)) {
        return resp_err(x, "ERR out of memory");
    }
    uint64_t now = x->c->now_ms;
    struct coll s, d;
    coll_status_e ss = coll_open(&s, resp_db(x), src->data, src->len,
            STORAGE_TYPE_SET, false, COLL_LOCKED, now);
    coll_status_e ds = coll_open(&d, resp_db(x), dst->data, dst->len,
            STORAGE_TYPE_SET, false, COLL_LOCKED | KS_NOSTATS, now);
    rstatus_i rc;
    coll_status_e st = COLL_OK;
    int64_t moved = 0;
    if (ss == COLL_WRONGTYPE || ds == COLL_WRONGTYPE) {
        st = COLL_WRONGTYPE;
    } else if (ss == COLL_OK && coll_set_has(&s, m->data, m->len) == COLL_OK) {
        moved = 1;
        bool same = src->len == dst->len &&
                    memcmp(src->data, dst->data, src->len) == 0;
        if (!same) {
            /* one collection changed at a time: they share the scratch */
            bool done;
            st = coll_open(&s, resp_db(x), src->data, src->len,
                    STORAGE_TYPE_SET, true, COLL_LOCKED | KS_NOSTATS, now);
            st = st == COLL_OK ? coll_set_rem(&s, m->data, m->len, &done)
                               : COLL_RETRY;
            st = st == COLL_OK ? coll_commit(&s) : st;
            if (st == COLL_OK) {
                ks_coll_changed(
                        s.db, s.key, s.klen, "srem", true, s.count == 0);
                ds = coll_open(&d, resp_db(x), dst->data, dst->len,
                        STORAGE_TYPE_SET, true, COLL_LOCKED | KS_NOSTATS, now);
                st = ds == COLL_WRONGTYPE
                             ? ds
                             : coll_set_add(&d, m->data, m->len, &done);
                st = st == COLL_OK ? coll_commit(&d) : st;
                if (st == COLL_OK && done) {
                    ks_coll_changed(
                            d.db, d.key, d.klen, "sadd", !d.created, false);
                }
            }
        }
    }
    unlock_keys(&l);
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    rc = resp_compose_integer(x->w, moved);
    return rc;
}

enum {
    OP_INTER,
    OP_UNION,
    OP_DIFF
};

/* A set of element copies, for union and difference: open addressing on
 * the element hash over the list's indexes. */
struct uniq {
    uint64_t *slot; /* index + 1; 0: empty */
    uint64_t cap;
};

static bool
uniq_grow(struct uniq *u, const struct elems *l)
{
    uint64_t cap = u->cap < 64 ? 64 : u->cap * 2;
    uint64_t *slot = calloc(cap, sizeof(*slot));
    if (slot == NULL) {
        return false;
    }
    for (uint64_t i = 0; i < u->cap; i++) {
        if (u->slot[i] != 0) {
            const struct pack_elem *e = &l->e[u->slot[i] - 1];
            const uint8_t *p = l->bytes + (uintptr_t)e->p;
            uint64_t h = types_hash(p, e->len) & (cap - 1);
            while (slot[h] != 0) {
                h = (h + 1) & (cap - 1);
            }
            slot[h] = u->slot[i];
        }
    }
    free(u->slot);
    u->slot = slot;
    u->cap = cap;
    return true;
}

/* Adds p unless present; false on out of memory. */
static bool
uniq_add(struct uniq *u, struct elems *l, const uint8_t *p, size_t len)
{
    if ((l->n + 1) * 2 > u->cap && !uniq_grow(u, l)) {
        return false;
    }
    uint64_t h = types_hash(p, len) & (u->cap - 1);
    while (u->slot[h] != 0) {
        const struct pack_elem *e = &l->e[u->slot[h] - 1];
        if (e->len == len && memcmp(l->bytes + (uintptr_t)e->p, p, len) == 0) {
            return true;
        }
        h = (h + 1) & (u->cap - 1);
    }
    if (!elems_push(l, p, len)) {
        return false;
    }
    u->slot[h] = l->n;
    return true;
}

struct inter_arg {
    struct coll *sets;
    uint32_t n;
    uint32_t first; /* the set walked */
    struct elems *out;
    struct uniq *u;
    int op;
    uint64_t limit; /* SINTERCARD: stop at this many; 0: none */
};

static bool
inter_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    (void)b;
    struct inter_arg *ia = arg;
    for (uint32_t i = 0; i < ia->n; i++) {
        if (i == ia->first) {
            continue;
        }
        bool has = ia->sets[i].exists &&
                   coll_set_has(&ia->sets[i], a->p, a->len) == COLL_OK;
        if (ia->op == OP_INTER ? !has : has) {
            return true;
        }
    }
    if (!elems_push(ia->out, a->p, a->len)) {
        return false;
    }
    return ia->limit == 0 || ia->out->n < ia->limit;
}

static bool
union_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    (void)b;
    struct inter_arg *ia = arg;
    return uniq_add(ia->u, ia->out, a->p, a->len);
}

static int
i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Redis builds union and difference results as an intset while it can:
 * small all-integer results come out in ascending order, so ours do too. */
static void
order_as_intset(struct elems *l)
{
    if (l->n == 0 || l->n > coll_limits.set_max_intset_entries) {
        return;
    }
    int64_t *v = malloc(l->n * sizeof(*v));
    if (v == NULL) {
        return;
    }
    for (uint64_t i = 0; i < l->n; i++) {
        if (!intset_parse(l->e[i].p, l->e[i].len, &v[i])) {
            free(v);
            return;
        }
    }
    qsort(v, l->n, sizeof(*v), i64_cmp);
    struct elems sorted = {0};
    for (uint64_t i = 0; i < l->n; i++) {
        char num[INTSET_FMT_MAX];
        elems_push(&sorted, num, intset_fmt(v[i], num));
    }
    free(v);
    if (sorted.oom) {
        elems_free(&sorted);
        return;
    }
    elems_fix(&sorted);
    elems_free(l);
    *l = sorted;
}

/* Computes a set operation over argv[from .. to) into *out. Replies and
 * returns false on WRONGTYPE (or no memory); *empty: an intersection with a
 * missing key (Redis stops there). */
static bool
setop(struct resp_ctx *x, int op, uint32_t from, uint32_t to, uint64_t limit,
        struct elems *out, rstatus_i *rc)
{
    uint32_t n = to - from;
    struct coll *sets = calloc(n, sizeof(*sets));
    uint32_t *order = calloc(n, sizeof(*order));
    bool ok = sets != NULL && order != NULL;
    if (!ok) {
        *rc = resp_err(x, "ERR out of memory");
    }
    bool missing = false;
    for (uint32_t i = 0; ok && i < n; i++) {
        const struct resp_arg *k = &x->argv[from + i];
        order[i] = i;
        coll_status_e st = coll_open(&sets[i], resp_db(x), k->data, k->len,
                STORAGE_TYPE_SET, false, COLL_LOCKED, x->c->now_ms);
        if (st == COLL_WRONGTYPE) {
            *rc = resp_coll_err(x, st);
            ok = false;
            break;
        } else if (st == COLL_MISS && op == OP_INTER) {
            missing = true; /* empty, once every key's type is checked */
        }
    }
    if (ok && !missing && n > 0) {
        struct uniq u = {0};
        struct inter_arg ia = {sets, n, 0, out, &u, op, limit};
        if (op == OP_INTER) {
            /* walk the smallest, as Redis does */
            struct coll *s = sets;
            uint32_t first = 0;
            for (uint32_t i = 1; i < n; i++) {
                first = s[i].count < s[first].count ? i : first;
            }
            ia.first = first;
            coll_each(&sets[first], inter_fn, &ia);
        } else if (op == OP_DIFF) {
            ia.first = 0;
            if (sets[0].exists) {
                coll_each(&sets[0], inter_fn, &ia);
            }
        } else {
            for (uint32_t i = 0; i < n && !out->oom; i++) {
                if (sets[i].exists) {
                    coll_each(&sets[i], union_fn, &ia);
                }
            }
        }
        free(u.slot);
        if (out->oom) {
            *rc = resp_err(x, "ERR out of memory");
            ok = false;
        } else {
            elems_fix(out);
            if (op != OP_INTER) {
                order_as_intset(out);
            }
        }
    }
    free(sets);
    free(order);
    return ok;
}

/* SINTER SUNION SDIFF and their STORE forms */
rstatus_i
resp_cmd_setop(struct resp_ctx *x)
{
    int op;
    bool store = false;
    switch (x->cmd->id) {
    case RESP_CMD_SINTERSTORE:
        store = true;
        /* fall through */
    case RESP_CMD_SINTER:
        op = OP_INTER;
        break;
    case RESP_CMD_SUNIONSTORE:
        store = true;
        /* fall through */
    case RESP_CMD_SUNION:
        op = OP_UNION;
        break;
    case RESP_CMD_SDIFFSTORE:
        store = true;
        /* fall through */
    default:
        op = OP_DIFF;
        break;
    }
    uint32_t from = store ? 2 : 1;
    struct locks l;
    if (!lock_keys(x, &l, 1, x->argc)) {
        return resp_err(x, "ERR out of memory");
    }
    struct elems out = {0};
    rstatus_i rc = STATUS_OK;
    if (!setop(x, op, from, x->argc, 0, &out, &rc)) {
        unlock_keys(&l);
        elems_free(&out);
        return rc;
    }
    if (!store) {
        unlock_keys(&l);
        rc = set_header(x, out.n);
        for (uint64_t i = 0; rc == STATUS_OK && i < out.n; i++) {
            rc = resp_compose_bulk(
                    x->w, (const char *)out.e[i].p, out.e[i].len);
        }
        elems_free(&out);
        return rc;
    }
    const struct resp_arg *dst = &x->argv[1];
    bool existed =
            ks_lookup(resp_db(x), dst->data, dst->len, KS_ANY,
                    KS_NOSTATS | KS_NOTOUCH, x->c->now_ms, NULL) == KS_OK;
    struct coll d;
    coll_build_begin(&d, resp_db(x), dst->data, dst->len, STORAGE_TYPE_SET,
            x->c->now_ms);
    coll_status_e st = COLL_OK;
    for (uint64_t i = 0; i < out.n && st == COLL_OK; i++) {
        bool added;
        st = coll_set_add(&d, out.e[i].p, out.e[i].len, &added);
    }
    st = st == COLL_OK ? coll_commit(&d) : st;
    if (st == COLL_OK) {
        ks_stored(d.db, d.key, d.klen,
                op == OP_INTER   ? "sinterstore"
                : op == OP_UNION ? "sunionstore"
                                 : "sdiffstore",
                existed, out.n == 0);
    }
    coll_close(&d);
    unlock_keys(&l);
    uint64_t n = out.n;
    elems_free(&out);
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    return resp_compose_integer(x->w, (int64_t)n);
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
rstatus_i
resp_cmd_sintercard(struct resp_ctx *x)
{
    int64_t numkeys, lim = 0;
    if (!resp_arg_int64(&x->argv[1], &numkeys) || numkeys > INT32_MAX) {
        return resp_err(x, "ERR numkeys should be greater than 0");
    }
    if (numkeys <= 0) {
        return resp_err(x, "ERR numkeys should be greater than 0");
    }
    if ((uint64_t)numkeys > x->argc - 2) {
        return resp_err(
                x, "ERR Number of keys can't be greater than number of args");
    }
    uint32_t end = 2 + (uint32_t)numkeys;
    for (uint32_t i = end; i < x->argc; i += 2) {
        if (resp_arg_is(&x->argv[i], "limit") && i + 1 < x->argc) {
            if (!resp_arg_int64(&x->argv[i + 1], &lim)) {
                return resp_err(x, "ERR LIMIT can't be negative");
            }
            if (lim < 0) {
                return resp_err(x, "ERR LIMIT can't be negative");
            }
        } else {
            return resp_err_syntax(x);
        }
    }
    struct locks l;
    if (!lock_keys(x, &l, 2, end)) {
        return resp_err(x, "ERR out of memory");
    }
    struct elems out = {0};
    rstatus_i rc = STATUS_OK;
    bool ok = setop(x, OP_INTER, 2, end, (uint64_t)lim, &out, &rc);
    unlock_keys(&l);
    uint64_t n = out.n;
    elems_free(&out);
    return ok ? resp_compose_integer(x->w, (int64_t)n) : rc;
}

rstatus_i
resp_cmd_sscan(struct resp_ctx *x)
{
    return resp_coll_scan(x, STORAGE_TYPE_SET);
}
