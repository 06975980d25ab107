/* SPDX-License-Identifier: Apache-2.0 */
/* Resp SORT and SORT_RO over lists, sets and sorted sets (BY, LIMIT, GET
 * with '#' and '*' patterns, hash fields by '->', ASC/DESC, ALPHA, STORE),
 * with Redis 7.0.15's replies, option order and errors (its sort.c).
 *
 * Atomicity: the sorted key is read in one step (one item, or a list or
 * set in parts under its stripe lock) and copied; the keys BY and GET
 * patterns name are read afterwards one at a time through the keyspace
 * path (each read atomic, counted as Redis's lookupKeyRead; together not a
 * snapshot: a writer on another worker may change one between two reads);
 * STORE replaces its destination under that key's stripe lock. Inside
 * MULTI/EXEC or a script the declared keys (the sorted key and STORE's)
 * are held for the whole command as usual. */
#include "processor/coll.h"
#include "processor/lcoll.h"
#include "processor/resp_internal.h"
#include "processor/resp_zset.h"
#include "processor/zcoll.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- bytes copied out of the store ---- */

struct arena {
    uint8_t *p;
    size_t used, cap;
};

/* Copies len bytes in (p NULL: only makes room); returns their offset, or
 * SIZE_MAX (no memory). */
static size_t
arena_put(struct arena *a, const void *p, size_t len)
{
    if (a->used + len + 1 > a->cap) {
        size_t cap = a->cap < 256 ? 256 : a->cap;
        while (cap < a->used + len + 1) {
            cap *= 2;
        }
        uint8_t *b = realloc(a->p, cap);
        if (b == NULL) {
            return SIZE_MAX;
        }
        a->p = b;
        a->cap = cap;
    }
    size_t off = a->used;
    if (p != NULL && len > 0) {
        memcpy(a->p + off, p, len);
    }
    a->p[off + len] = '\0'; /* strtod and strcoll read up to here */
    a->used += len + 1;
    return off;
}

/* One element to sort (offsets into the arena). */
struct sobj {
    size_t off, len;
    double score;
    size_t cmp_off, cmp_len;
    bool has_cmp;
};

struct svec {
    struct sobj *v;
    size_t n, cap;
    struct arena a;
    bool oom;
};

static void
svec_push(struct svec *s, const void *p, size_t len)
{
    if (s->oom) {
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap < 16 ? 16 : s->cap * 2;
        struct sobj *v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL) {
            s->oom = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    size_t off = arena_put(&s->a, p, len);
    if (off == SIZE_MAX) {
        s->oom = true;
        return;
    }
    s->v[s->n++] = (struct sobj){.off = off, .len = len};
}

static const uint8_t *
sobj_bytes(const struct svec *s, const struct sobj *o)
{
    return s->a.p + o->off;
}

static void
svec_free(struct svec *s)
{
    free(s->v);
    free(s->a.p);
    memset(s, 0, sizeof(*s));
}

/* ---- patterns: lookupKeyByPattern ---- */

/* The C string length Redis's strchr/strstr see (up to a NUL byte). */
static size_t
cstrlen(const struct resp_arg *a)
{
    const char *z = memchr(a->data, '\0', a->len);
    return z != NULL ? (size_t)(z - a->data) : a->len;
}

static bool
has_star(const struct resp_arg *pat)
{
    return memchr(pat->data, '*', cstrlen(pat)) != NULL;
}

/* The value a pattern names for element e: "#" is e itself; else the
 * first '*' is replaced by e, and "->field" after it reads a hash field.
 * The value is copied to *out (the arena); false when there is none (no
 * '*', a missing key or field, a key of another type). */
static bool
pattern_value(struct resp_ctx *x, const struct resp_arg *pat, const uint8_t *e,
        size_t elen, struct arena *scratch, const uint8_t **out, size_t *outlen)
{
    size_t clen = cstrlen(pat);
    if (clen == 1 && pat->data[0] == '#') {
        /* e itself: a view into the caller's bytes (BY "#" has no '*', so
         * never sorts; GET "#" only reads it) */
        *out = e;
        *outlen = elen;
        return true;
    }
    const char *star = memchr(pat->data, '*', clen);
    if (star == NULL) {
        return false;
    }
    size_t prefix = (size_t)(star - pat->data);
    const char *field = NULL;
    size_t flen = 0;
    for (size_t i = prefix + 1; i + 1 < clen; i++) {
        if (pat->data[i] == '-' && pat->data[i + 1] == '>') {
            if (i + 2 < clen) { /* "->" at the end is part of the key */
                field = pat->data + i + 2;
                flen = pat->len - (i + 2);
            }
            break;
        }
    }
    size_t postfix = pat->len - prefix - 1 - (field != NULL ? flen + 2 : 0);
    size_t klen = prefix + elen + postfix;
    scratch->used = 0;
    size_t off = arena_put(scratch, NULL, klen);
    if (off == SIZE_MAX) {
        return false;
    }
    uint8_t *k = scratch->p;
    memcpy(k, pat->data, prefix);
    if (elen > 0) {
        memcpy(k + prefix, e, elen);
    }
    memcpy(k + prefix + elen, star + 1, postfix);
    struct storage_item it;
    ks_lookup_e l =
            ks_lookup(resp_db(x), k, klen, KS_ANY, 0, x->c->now_ms, &it);
    if (l == KS_MISS) {
        return false;
    }
    if (field == NULL) {
        if (it.type != STORAGE_TYPE_STRING) {
            return false;
        }
        *out = it.value;
        *outlen = it.vlen;
        return true;
    }
    if (it.type != STORAGE_TYPE_HASH) {
        return false;
    }
    struct coll c;
    struct pack_elem v;
    bool found = coll_open(&c, resp_db(x), k, klen, STORAGE_TYPE_HASH, false,
                         KS_NOSTATS | KS_NOTOUCH, x->c->now_ms) == COLL_OK &&
                 coll_hash_get(&c, field, flen, &v) == COLL_OK;
    if (found) {
        /* the view ends with the close: copy it past the key */
        size_t voff = arena_put(scratch, v.p, v.len);
        found = voff != SIZE_MAX;
        if (found) {
            *out = scratch->p + voff;
            *outlen = v.len;
        }
    }
    coll_close(&c);
    return found;
}

/* ---- the elements ---- */

struct sort_args {
    bool desc, alpha, dontsort;
    int64_t limit_start, limit_count;
    const struct resp_arg *by;
    const struct resp_arg *store;
    const struct resp_arg **get;
    uint32_t nget;
};

static bool
list_load(struct resp_ctx *x, const struct resp_arg *k, struct svec *s)
{
    struct list l;
    coll_status_e st = list_open(&l, resp_db(x), k->data, k->len, false,
            KS_NOSTATS | KS_NOTOUCH, x->c->now_ms);
    bool ok = true;
    if (st == COLL_OK) {
        for (uint32_t p = 0; ok && p < list_nparts(&l); p++) {
            uint32_t n = list_part_count(&l, p);
            struct pack_elem *e = malloc((n + 1) * sizeof(*e));
            ok = e != NULL && list_part_elems(&l, p, e) == COLL_OK;
            for (uint32_t i = 0; ok && i < n; i++) {
                svec_push(s, e[i].p, e[i].len);
            }
            free(e);
        }
    }
    list_close(&l);
    return ok && !s->oom;
}

static bool
set_load_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    (void)b;
    struct svec *s = arg;
    svec_push(s, a->p, a->len);
    return !s->oom;
}

static bool
set_load(struct resp_ctx *x, const struct resp_arg *k, struct svec *s)
{
    struct coll c;
    coll_status_e st = coll_open(&c, resp_db(x), k->data, k->len,
            STORAGE_TYPE_SET, false, KS_NOSTATS | KS_NOTOUCH, x->c->now_ms);
    if (st == COLL_OK) {
        coll_each(&c, set_load_fn, s);
    }
    coll_close(&c);
    return !s->oom;
}

static bool
zset_load(struct resp_ctx *x, const struct resp_arg *k, struct svec *s)
{
    struct zset z;
    coll_status_e st = zset_open(&z, resp_db(x), k->data, k->len, false,
            KS_NOSTATS | KS_NOTOUCH, x->c->now_ms);
    for (size_t i = 0; st == COLL_OK && i < z.n; i++) {
        svec_push(s, z.e[i].m, z.e[i].mlen);
    }
    zset_close(&z);
    return st != COLL_ENOMEM && !s->oom;
}

/* ---- sorting: sortCompare ---- */

struct sort_cmp {
    const struct svec *s;
    bool desc, alpha, by, store;
};

static int
bin_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return zpack_member_cmp(a, al, b, bl);
}

static int
sort_cmp(const void *p1, const void *p2, void *arg)
{
    const struct sort_cmp *c = arg;
    const struct sobj *a = p1, *b = p2;
    const uint8_t *base = c->s->a.p;
    int cmp;
    if (!c->alpha) {
        if (a->score > b->score) {
            cmp = 1;
        } else if (a->score < b->score) {
            cmp = -1;
        } else {
            cmp = bin_cmp(base + a->off, a->len, base + b->off, b->len);
        }
    } else if (c->by) {
        if (!a->has_cmp || !b->has_cmp) {
            cmp = a->has_cmp == b->has_cmp ? 0 : (!a->has_cmp ? -1 : 1);
        } else if (c->store) {
            cmp = bin_cmp(base + a->cmp_off, a->cmp_len, base + b->cmp_off,
                    b->cmp_len);
        } else {
            cmp = strcoll((const char *)base + a->cmp_off,
                    (const char *)base + b->cmp_off);
        }
    } else if (c->store) {
        cmp = bin_cmp(base + a->off, a->len, base + b->off, b->len);
    } else {
        cmp = strcoll((const char *)base + a->off, (const char *)base + b->off);
    }
    return c->desc ? -cmp : cmp;
}

/* Loads what the elements sort by; false when a score is not a number. */
static bool
load_keys(struct resp_ctx *x, const struct sort_args *o, struct svec *s,
        struct arena *scratch)
{
    bool conv_ok = true;
    for (size_t j = 0; j < s->n && !s->oom; j++) {
        const uint8_t *by = sobj_bytes(s, &s->v[j]);
        size_t bylen = s->v[j].len;
        if (o->by != NULL && !pattern_value(x, o->by, sobj_bytes(s, &s->v[j]),
                                     s->v[j].len, scratch, &by, &bylen)) {
            continue;
        }
        if (o->alpha) {
            if (o->by != NULL) {
                size_t off = arena_put(&s->a, by, bylen);
                if (off == SIZE_MAX) {
                    s->oom = true;
                    break;
                }
                s->v[j].cmp_off = off;
                s->v[j].cmp_len = bylen;
                s->v[j].has_cmp = true;
            }
            continue;
        }
        char buf[128];
        char *str = bylen < sizeof(buf) ? buf : malloc(bylen + 1);
        if (str == NULL) {
            s->oom = true;
            break;
        }
        if (bylen > 0) {
            memcpy(str, by, bylen);
        }
        str[bylen] = '\0';
        char *end;
        errno = 0;
        s->v[j].score = strtod(str, &end);
        if (*end != '\0' || errno == ERANGE || isnan(s->v[j].score)) {
            conv_ok = false;
        }
        if (str != buf) {
            free(str);
        }
    }
    return conv_ok;
}

/* ---- the command ---- */

static int
parse_args(
        struct resp_ctx *x, bool readonly, struct sort_args *o, rstatus_i *rc)
{
    o->limit_count = -1;
    for (uint32_t j = 2; j < x->argc; j++) {
        uint32_t left = x->argc - j - 1;
        const struct resp_arg *a = &x->argv[j];
        if (resp_arg_is(a, "asc")) {
            o->desc = false;
        } else if (resp_arg_is(a, "desc")) {
            o->desc = true;
        } else if (resp_arg_is(a, "alpha")) {
            o->alpha = true;
        } else if (resp_arg_is(a, "limit") && left >= 2) {
            if (!resp_arg_int64(&x->argv[j + 1], &o->limit_start) ||
                    !resp_arg_int64(&x->argv[j + 2], &o->limit_count)) {
                *rc = resp_err_int(x);
                return -1;
            }
            j += 2;
        } else if (!readonly && resp_arg_is(a, "store") && left >= 1) {
            o->store = &x->argv[++j];
        } else if (resp_arg_is(a, "by") && left >= 1) {
            o->by = &x->argv[++j];
            o->dontsort = !has_star(o->by);
        } else if (resp_arg_is(a, "get") && left >= 1) {
            o->get[o->nget++] = &x->argv[++j];
        } else {
            *rc = resp_err_syntax(x);
            return -1;
        }
    }
    return 0;
}

/* Loads the elements to output into s, in Redis's vector order, with
 * [*start, *end] the output range. */
static bool
load(struct resp_ctx *x, uint8_t type, struct sort_args *o, struct svec *s,
        int64_t *start, int64_t *end)
{
    const struct resp_arg *k = &x->argv[1];
    bool ok = true;
    if (type == STORAGE_TYPE_LIST) {
        ok = list_load(x, k, s);
    } else if (type == STORAGE_TYPE_SET) {
        ok = set_load(x, k, s);
    } else if (type == STORAGE_TYPE_ZSET) {
        ok = zset_load(x, k, s);
    }
    int64_t len = (int64_t)s->n;
    int64_t st = o->limit_start < 0 ? 0 : o->limit_start, en;
    if (st >= len) {
        st = len - 1;
        en = len - 2;
    } else if (o->limit_count < 0 || o->limit_count > len - st) {
        en = len - 1;
    } else {
        en = st + o->limit_count - 1;
    }
    /* a list or sorted set not sorted keeps its order, DESC reversing it */
    if (o->dontsort && type != STORAGE_TYPE_SET && o->desc) {
        for (size_t i = 0; i < s->n / 2; i++) {
            struct sobj t = s->v[i];
            s->v[i] = s->v[s->n - 1 - i];
            s->v[s->n - 1 - i] = t;
        }
    }
    *start = st;
    *end = en;
    return ok;
}

static rstatus_i
emit(struct resp_ctx *x, const struct sort_args *o, struct svec *s,
        int64_t start, int64_t end, struct arena *scratch)
{
    int64_t n = end - start + 1;
    rstatus_i rc = resp_compose_array(
            x->w, (uint64_t)(o->nget ? (int64_t)o->nget * n : n));
    for (int64_t j = start; rc == STATUS_OK && j <= end; j++) {
        const struct sobj *e = &s->v[j];
        if (o->nget == 0) {
            rc = resp_compose_bulk(
                    x->w, (const char *)sobj_bytes(s, e), e->len);
        }
        for (uint32_t g = 0; rc == STATUS_OK && g < o->nget; g++) {
            const uint8_t *v;
            size_t vlen;
            rc = pattern_value(x, o->get[g], sobj_bytes(s, e), e->len, scratch,
                         &v, &vlen)
                         ? resp_compose_bulk(x->w, (const char *)v, vlen)
                         : resp_compose_null(x->w);
        }
    }
    return rc;
}

static rstatus_i
store(struct resp_ctx *x, const struct sort_args *o, struct svec *s,
        int64_t start, int64_t end, struct arena *scratch)
{
    int64_t n = end - start + 1;
    uint64_t out = (uint64_t)(o->nget ? (int64_t)o->nget * n : n);
    struct svec res = {0};
    for (int64_t j = start; j <= end && !res.oom; j++) {
        const struct sobj *e = &s->v[j];
        if (o->nget == 0) {
            svec_push(&res, sobj_bytes(s, e), e->len);
        }
        for (uint32_t g = 0; g < o->nget; g++) {
            const uint8_t *v = NULL;
            size_t vlen = 0;
            if (!pattern_value(x, o->get[g], sobj_bytes(s, e), e->len, scratch,
                        &v, &vlen)) {
                vlen = 0; /* a missing value is stored empty */
            }
            svec_push(&res, v, vlen);
        }
    }
    struct pack_elem *pe = malloc((res.n + 1) * sizeof(*pe));
    if (res.oom || pe == NULL) {
        free(pe);
        svec_free(&res);
        return resp_err(x, "ERR out of memory");
    }
    for (size_t i = 0; i < res.n; i++) {
        pe[i] = (struct pack_elem){sobj_bytes(&res, &res.v[i]), res.v[i].len};
    }
    const struct resp_arg *d = o->store;
    uint32_t stripe = ks_stripe(resp_db(x), d->data, d->len);
    ks_lock(stripe);
    bool existed =
            ks_lookup(resp_db(x), d->data, d->len, KS_ANY,
                    KS_NOSTATS | KS_NOTOUCH, x->c->now_ms, NULL) == KS_OK;
    coll_status_e st =
            list_store(resp_db(x), d->data, d->len, pe, res.n, x->c->now_ms);
    if (st == COLL_OK && res.n > 0) { /* an empty result: list_store's del */
        ks_coll_changed(
                resp_db(x), d->data, d->len, "sortstore", existed, false);
    }
    ks_unlock(stripe);
    free(pe);
    svec_free(&res);
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    if (out > 0) {
        resp_block_signal(x, resp_db(x), d->data, d->len);
    }
    return resp_compose_integer(x->w, (int64_t)out);
}

/* SORT and SORT_RO */
rstatus_i
resp_cmd_sort(struct resp_ctx *x)
{
    struct sort_args o = {0};
    const struct resp_arg *local[16];
    o.get = x->argc <= 16 ? local : malloc(x->argc * sizeof(*o.get));
    if (o.get == NULL) {
        return resp_err(x, "ERR out of memory");
    }
    rstatus_i rc = STATUS_OK;
    struct svec s = {0};
    struct arena scratch = {0};
    if (parse_args(x, x->cmd->id == RESP_CMD_SORT_RO, &o, &rc) != 0) {
        goto done;
    }
    struct storage_item it;
    const struct resp_arg *k = &x->argv[1];
    uint8_t type = KS_ANY;
    if (ks_lookup(resp_db(x), k->data, k->len, KS_ANY, 0, x->c->now_ms, &it) ==
            KS_OK) {
        type = it.type;
        if (type != STORAGE_TYPE_LIST && type != STORAGE_TYPE_SET &&
                type != STORAGE_TYPE_ZSET) {
            rc = resp_err_wrongtype(x);
            goto done;
        }
    }
    if (o.dontsort && type == STORAGE_TYPE_SET && o.store != NULL) {
        /* a set stored unsorted would take the table's order: ALPHA */
        o.dontsort = false;
        o.alpha = true;
        o.by = NULL;
    }
    int64_t start, end;
    if (!load(x, type, &o, &s, &start, &end)) {
        rc = resp_err(x, "ERR out of memory");
        goto done;
    }
    if (!o.dontsort) {
        bool conv_ok = load_keys(x, &o, &s, &scratch);
        if (s.oom) {
            rc = resp_err(x, "ERR out of memory");
            goto done;
        }
        struct sort_cmp c = {
                &s, o.desc, o.alpha, o.by != NULL, o.store != NULL};
        if (s.n > 1) { /* a missing key has no vector (qsort's base) */
            qsort_r(s.v, s.n, sizeof(*s.v), sort_cmp, &c);
        }
        if (!conv_ok) {
            rc = resp_err(
                    x, "ERR One or more scores can't be converted into double");
            goto done;
        }
    }
    rc = o.store == NULL ? emit(x, &o, &s, start, end, &scratch)
                         : store(x, &o, &s, start, end, &scratch);
done:
    if (o.get != local) {
        free(o.get);
    }
    svec_free(&s);
    free(scratch.p);
    return rc;
}
