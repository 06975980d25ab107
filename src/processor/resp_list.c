/* SPDX-License-Identifier: Apache-2.0 */
/* Resp list commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE
 * LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP, with Redis
 * 7.0.15's replies and errors (its t_list.c), over the lists of lcoll.h.
 * LMOVE and RPOPLPUSH take both keys' stripe locks first. */
#include "processor/lcoll.h"
#include "processor/resp_internal.h"
#include "processor/resp_zset.h"

#include <stdlib.h>
#include <string.h>

#define RETRY_MAX 64

/* Popped or read elements copied out of the store (a write ends views). */
struct copies {
    struct pack_elem *e;
    size_t n, cap;
    uint8_t *bytes;
    size_t used, bcap;
};

static void
copies_release(struct copies *c)
{
    free(c->e);
    free(c->bytes);
    memset(c, 0, sizeof(*c));
}

static bool
copies_add(struct copies *c, const struct pack_elem *e)
{
    if (c->n == c->cap) {
        size_t cap = c->cap < 16 ? 16 : 2 * c->cap;
        struct pack_elem *p = realloc(c->e, cap * sizeof(*p));
        if (p == NULL) {
            return false;
        }
        c->e = p;
        c->cap = cap;
    }
    if (c->used + e->len > c->bcap) {
        size_t cap = c->bcap < 256 ? 256 : c->bcap;
        while (cap < c->used + e->len) {
            cap *= 2;
        }
        uint8_t *b = realloc(c->bytes, cap);
        if (b == NULL) {
            return false;
        }
        c->bytes = b;
        c->bcap = cap;
    }
    if (e->len > 0) {
        memcpy(c->bytes + c->used, e->p, e->len);
    }
    /* offsets until the end: the buffer may move */
    c->e[c->n].p = (const uint8_t *)(uintptr_t)c->used;
    c->e[c->n].len = e->len;
    c->used += e->len;
    c->n++;
    return true;
}

static void
copies_fix(struct copies *c)
{
    for (size_t i = 0; i < c->n; i++) {
        c->e[i].p = c->bytes + (uintptr_t)c->e[i].p;
    }
}

/* Part k's elements in a fresh array (caller frees); NULL: *st says. */
static struct pack_elem *
part_elems(struct list *l, uint32_t k, size_t extra, coll_status_e *st)
{
    size_t n = list_part_count(l, k);
    struct pack_elem *e = malloc((n + extra + 1) * sizeof(*e));
    if (e == NULL) {
        *st = COLL_ENOMEM;
        return NULL;
    }
    *st = list_part_elems(l, k, e);
    if (*st != COLL_OK) {
        free(e);
        return NULL;
    }
    return e;
}

/* Pushes argv[from..argc) at the head (left) or tail, one by one as
 * Redis does. */
static coll_status_e
push(struct list *l, bool left, const struct resp_arg *argv, uint32_t n)
{
    uint32_t np = list_nparts(l);
    uint32_t k = np == 0 ? 0 : left ? 0 : np - 1;
    size_t old = np == 0 ? 0 : list_part_count(l, k);
    coll_status_e st = COLL_OK;
    if (np > 0) {
        /* the common case: spliced into the end part */
        struct pack_elem stack[16];
        struct pack_elem *ins = n <= 16 ? stack : malloc(n * sizeof(*ins));
        if (ins == NULL) {
            return COLL_ENOMEM;
        }
        for (uint32_t i = 0; i < n; i++) {
            ins[left ? n - 1 - i : i] = (struct pack_elem){
                    (const uint8_t *)argv[i].data, argv[i].len};
        }
        st = list_splice(l, k, left ? 0 : old, 0, ins, n);
        if (st == COLL_EOVERSIZE && l->parts) {
            /* the end part is full: new parts at that end, as a quicklist
             * adds a node; the full part is not rewritten */
            uint32_t at = left ? 0 : np;
            st = list_replace(l, at, at, ins, n);
        }
        if (ins != stack) {
            free(ins);
        }
        if (st != COLL_EOVERSIZE) {
            return st;
        }
        st = COLL_OK; /* inline and full: into parts below */
    }
    struct pack_elem *e =
            np == 0 ? malloc((n + 1) * sizeof(*e)) : part_elems(l, k, n, &st);
    if (e == NULL) {
        return st == COLL_OK ? COLL_ENOMEM : st;
    }
    if (left) {
        memmove(e + n, e, old * sizeof(*e));
        for (uint32_t i = 0; i < n; i++) {
            e[n - 1 - i] = (struct pack_elem){
                    (const uint8_t *)argv[i].data, argv[i].len};
        }
    } else {
        for (uint32_t i = 0; i < n; i++) {
            e[old + i] = (struct pack_elem){
                    (const uint8_t *)argv[i].data, argv[i].len};
        }
    }
    st = list_replace(l, k, np == 0 ? 0 : k + 1, e, old + n);
    free(e);
    return st;
}

/* count elements off end part k that keeps some (count < its elements),
 * spliced out of its image with one walk. COLL_EOVERSIZE: not done (the
 * part is past the current size limit), out as it was. */
static coll_status_e
pop_splice(
        struct list *l, uint32_t k, bool left, size_t count, struct copies *out)
{
    size_t n = list_part_count(l, k);
    const uint8_t *img;
    size_t len, off;
    coll_status_e st =
            list_part_at(l, k, left ? 0 : n - count, &img, &len, &off);
    if (st != COLL_OK) {
        return st;
    }
    size_t first = out->n, used = out->used;
    for (size_t i = 0, o = off; i < count; i++) {
        struct pack_elem e = pack_at_offset(img, len, o);
        o += pack_elem_span(e);
        if (!copies_add(out, &e)) {
            return COLL_ENOMEM;
        }
    }
    for (size_t i = first, j = out->n - 1; !left && i < j; i++, j--) {
        struct pack_elem t = out->e[i]; /* the tail's: last first */
        out->e[i] = out->e[j];
        out->e[j] = t;
    }
    st = list_splice_in(l, k, img, len, off, count, NULL, 0);
    if (st == COLL_EOVERSIZE) {
        out->n = first;
        out->used = used;
    }
    return st;
}

/* Pops up to count elements from one end into out (copies, in pop
 * order). */
static coll_status_e
pop(struct list *l, bool left, uint64_t count, struct copies *out)
{
    coll_status_e st = COLL_OK;
    while (count > 0 && list_nparts(l) > 0 && st == COLL_OK) {
        uint32_t k = left ? 0 : list_nparts(l) - 1;
        size_t n = list_part_count(l, k);
        size_t take = count < n ? (size_t)count : n;
        if (take < n) { /* the common case: the end part keeps some */
            st = pop_splice(l, k, left, take, out);
            if (st != COLL_EOVERSIZE) {
                return st;
            }
            st = COLL_OK;
        }
        struct pack_elem *e = part_elems(l, k, 0, &st);
        if (e == NULL) {
            return st;
        }
        for (size_t i = 0; i < take; i++) {
            if (!copies_add(out, &e[left ? i : n - 1 - i])) {
                free(e);
                return COLL_ENOMEM;
            }
        }
        st = list_replace(l, k, k + 1, left ? e + take : e, n - take);
        free(e);
        count -= take;
    }
    return st;
}

static rstatus_i
reply_copies(struct resp_ctx *x, struct copies *c)
{
    rstatus_i rc = resp_compose_array(x->w, c->n);
    for (size_t i = 0; rc == STATUS_OK && i < c->n; i++) {
        rc = resp_compose_bulk(x->w, (const char *)c->e[i].p, c->e[i].len);
    }
    return rc;
}

/* ---- pushes ---- */

rstatus_i
resp_cmd_push(struct resp_ctx *x)
{
    resp_command_e id = x->cmd->id;
    bool left = id == RESP_CMD_LPUSH || id == RESP_CMD_LPUSHX;
    bool exists_only = id == RESP_CMD_LPUSHX || id == RESP_CMD_RPUSHX;
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    uint64_t len = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct list l;
        st = list_open(&l, resp_db(x), k->data, k->len, true,
                KS_NOSTATS | LIST_ENDS, x->c->now_ms);
        if (st == COLL_MISS && exists_only) {
            st = COLL_OK;
            len = 0;
        } else if (st == COLL_OK || st == COLL_MISS) {
            st = push(&l, left, &x->argv[2], x->argc - 2);
            st = st == COLL_OK ? list_commit(&l) : st;
            len = l.count;
            if (st == COLL_OK) {
                ks_coll_changed(l.db, l.key, l.klen, left ? "lpush" : "rpush",
                        !l.created, false);
            }
        }
        list_close(&l);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    if (len > 0) {
        resp_list_signal(x, k);
    }
    return resp_compose_integer(x->w, (int64_t)len);
}

/* ---- pops ---- */

/* Pops from the first existing key of keys; true when it replied. */
bool
resp_list_pop(struct resp_ctx *x, const struct resp_arg *keys, uint32_t nkeys,
        bool left, int64_t count, int mode, rstatus_i *rc)
{
    for (uint32_t i = 0; i < nkeys; i++) {
        coll_status_e st = COLL_RETRY;
        struct copies c = {0};
        for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY;
                attempt++) {
            struct list l;
            copies_release(&c);
            st = list_open(&l, resp_db(x), keys[i].data, keys[i].len, true,
                    KS_NOSTATS | LIST_ENDS, x->c->now_ms);
            if (st == COLL_OK) {
                st = pop(&l, left, count < 0 ? 1 : (uint64_t)count, &c);
                st = st == COLL_OK ? list_commit(&l) : st;
                if (st == COLL_OK) {
                    ks_coll_changed(l.db, l.key, l.klen, left ? "lpop" : "rpop",
                            true, l.count == 0);
                }
            }
            list_close(&l);
        }
        if (st == COLL_MISS) {
            continue;
        }
        if (st != COLL_OK) {
            copies_release(&c);
            *rc = resp_coll_err(x, st);
            return true;
        }
        copies_fix(&c);
        rstatus_i r = STATUS_OK;
        if (mode == RESP_LIST_POP_PLAIN) {
            r = count < 0 ? resp_compose_bulk(
                                    x->w, (const char *)c.e[0].p, c.e[0].len)
                          : reply_copies(x, &c);
        } else if (mode == RESP_LIST_POP_KEYED) { /* BLPOP: [key, elem] */
            r = resp_compose_array(x->w, 2);
            r = r == STATUS_OK
                        ? resp_compose_bulk(x->w, keys[i].data, keys[i].len)
                        : r;
            r = r == STATUS_OK ? resp_compose_bulk(x->w, (const char *)c.e[0].p,
                                         c.e[0].len)
                               : r;
        } else { /* LMPOP: [key, [elems]] */
            r = resp_compose_array(x->w, 2);
            r = r == STATUS_OK
                        ? resp_compose_bulk(x->w, keys[i].data, keys[i].len)
                        : r;
            r = r == STATUS_OK ? reply_copies(x, &c) : r;
        }
        copies_release(&c);
        *rc = r;
        return true;
    }
    return false;
}

rstatus_i
resp_cmd_pop(struct resp_ctx *x)
{
    bool left = x->cmd->id == RESP_CMD_LPOP;
    int64_t count = -1;
    if (x->argc > 3) {
        return resp_compose_err_arity(x->w, x->cmd);
    }
    if (x->argc == 3) {
        if (!resp_arg_int64(&x->argv[2], &count) || count < 0) {
            return resp_err(x, "ERR value is out of range, must be positive");
        }
    }
    if (count == 0) { /* a missing key: null array; else an empty one */
        struct list l;
        coll_status_e st = list_open(&l, resp_db(x), x->argv[1].data,
                x->argv[1].len, false, KS_NOSTATS | LIST_ENDS, x->c->now_ms);
        list_close(&l);
        if (st == COLL_WRONGTYPE) {
            return resp_coll_err(x, st);
        }
        return st == COLL_MISS ? resp_compose_null_array(x->w)
                               : resp_compose_array(x->w, 0);
    }
    rstatus_i rc;
    if (resp_list_pop(
                x, &x->argv[1], 1, left, count, RESP_LIST_POP_PLAIN, &rc)) {
        return rc;
    }
    return count < 0 ? resp_compose_null(x->w) : resp_compose_null_array(x->w);
}

/* LMPOP/BLMPOP arguments from argv[numkeys_idx]. */
int
resp_list_mpop_args(struct resp_ctx *x, uint32_t numkeys_idx, uint32_t *nkeys,
        bool *left, int64_t *count, rstatus_i *rc)
{
    int64_t numkeys;
    if (!resp_arg_int64(&x->argv[numkeys_idx], &numkeys) || numkeys < 1) {
        *rc = resp_err(x, "ERR numkeys should be greater than 0");
        return -1;
    }
    uint64_t where = (uint64_t)numkeys_idx + (uint64_t)numkeys + 1;
    if (where >= x->argc) {
        *rc = resp_err_syntax(x);
        return -1;
    }
    if (resp_arg_is(&x->argv[where], "left")) {
        *left = true;
    } else if (resp_arg_is(&x->argv[where], "right")) {
        *left = false;
    } else {
        *rc = resp_err_syntax(x);
        return -1;
    }
    *count = -1;
    for (uint64_t j = where + 1; j < x->argc; j++) {
        uint64_t more = x->argc - 1 - j;
        if (*count == -1 && resp_arg_is(&x->argv[j], "count") && more > 0) {
            j++;
            if (!resp_arg_int64(&x->argv[j], count) || *count < 1) {
                *rc = resp_err(x, "ERR count should be greater than 0");
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
resp_cmd_lmpop(struct resp_ctx *x)
{
    uint32_t nkeys;
    bool left;
    int64_t count;
    rstatus_i rc;
    if (resp_list_mpop_args(x, 1, &nkeys, &left, &count, &rc) != 0) {
        return rc;
    }
    if (resp_list_pop(
                x, &x->argv[2], nkeys, left, count, RESP_LIST_POP_MULTI, &rc)) {
        return rc;
    }
    return resp_compose_null_array(x->w);
}

/* ---- reads ---- */

static bool
open_read(struct resp_ctx *x, struct list *l, unsigned flags, coll_status_e *st,
        rstatus_i *rc)
{
    *st = list_open(l, resp_db(x), x->argv[1].data, x->argv[1].len, false,
            flags, x->c->now_ms);
    if (*st == COLL_WRONGTYPE || *st == COLL_ENOMEM) {
        list_close(l);
        *rc = resp_coll_err(x, *st);
        return false;
    }
    return true;
}

rstatus_i
resp_cmd_llen(struct resp_ctx *x)
{
    struct list l;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &l, LIST_ENDS, &st, &rc)) {
        return rc;
    }
    rc = resp_compose_integer(x->w, (int64_t)l.count);
    list_close(&l);
    return rc;
}

rstatus_i
resp_cmd_lindex(struct resp_ctx *x)
{
    int64_t i;
    if (!resp_arg_int64(&x->argv[2], &i)) {
        return resp_err_int(x);
    }
    struct list l;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &l, 0, &st, &rc)) {
        return rc;
    }
    int64_t n = (int64_t)l.count;
    i = i < 0 ? i + n : i;
    if (i < 0 || i >= n) {
        list_close(&l);
        return resp_compose_null(x->w);
    }
    uint64_t in;
    uint32_t k = list_locate(&l, (uint64_t)i, &in);
    const uint8_t *img;
    size_t len;
    st = list_part(&l, k, &img, &len);
    if (st != COLL_OK) {
        rc = resp_compose_null(x->w);
    } else {
        struct pack_elem e = pack_at(img, len, in);
        rc = resp_compose_bulk(x->w, (const char *)e.p, e.len);
    }
    list_close(&l);
    return rc;
}

rstatus_i
resp_cmd_lrange(struct resp_ctx *x)
{
    int64_t start, end;
    if (!resp_arg_int64(&x->argv[2], &start) ||
            !resp_arg_int64(&x->argv[3], &end)) {
        return resp_err_int(x);
    }
    struct list l;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &l, 0, &st, &rc)) {
        return rc;
    }
    int64_t llen = (int64_t)l.count;
    start = start < 0 ? start + llen : start;
    end = end < 0 ? end + llen : end;
    start = start < 0 ? 0 : start;
    if (start > end || start >= llen) {
        list_close(&l);
        return resp_compose_array(x->w, 0);
    }
    end = end >= llen ? llen - 1 : end;
    uint64_t n = (uint64_t)(end - start + 1);
    rc = resp_compose_array(x->w, n);
    uint64_t in;
    uint32_t k = list_locate(&l, (uint64_t)start, &in);
    while (rc == STATUS_OK && n > 0) {
        const uint8_t *img;
        size_t len;
        st = list_part(&l, k, &img, &len);
        if (st != COLL_OK) {
            rc = STATUS_ERROR; /* a part evicted mid-reply: close */
            break;
        }
        struct pack_iter it;
        struct pack_elem e;
        pack_iter_init(&it, img, len);
        for (uint64_t i = 0; pack_next(&it, &e) && n > 0 && rc == STATUS_OK;
                i++) {
            if (i < in) {
                continue;
            }
            rc = resp_compose_bulk(x->w, (const char *)e.p, e.len);
            n--;
        }
        in = 0;
        k++;
    }
    list_close(&l);
    return rc;
}

static bool
elem_is(const struct pack_elem *e, const struct resp_arg *a)
{
    return e->len == a->len &&
           (a->len == 0 || memcmp(e->p, a->data, a->len) == 0);
}

rstatus_i
resp_cmd_lpos(struct resp_ctx *x)
{
    int64_t rank = 1, count = -1, maxlen = 0;
    for (uint32_t j = 3; j < x->argc; j++) {
        const struct resp_arg *o = &x->argv[j];
        bool more = x->argc - 1 - j > 0;
        if (resp_arg_is(o, "rank") && more) {
            j++;
            if (!resp_arg_int64(&x->argv[j], &rank)) {
                return resp_err_int(x);
            }
            if (rank == 0) {
                return resp_err(x, "ERR RANK can't be zero: use 1 to start "
                                   "from the first match, 2 from the second "
                                   "... or use negative to start from the "
                                   "end of the list");
            }
        } else if (resp_arg_is(o, "count") && more) {
            j++;
            if (!resp_arg_int64(&x->argv[j], &count) || count < 0) {
                return resp_err(x, "ERR COUNT can't be negative");
            }
        } else if (resp_arg_is(o, "maxlen") && more) {
            j++;
            if (!resp_arg_int64(&x->argv[j], &maxlen) || maxlen < 0) {
                return resp_err(x, "ERR MAXLEN can't be negative");
            }
        } else {
            return resp_err_syntax(x);
        }
    }
    bool from_tail = rank < 0;
    uint64_t urank =
            rank == INT64_MIN ? 1 : (uint64_t)(rank < 0 ? -rank : rank);
    struct list l;
    coll_status_e st;
    rstatus_i rc;
    if (!open_read(x, &l, 0, &st, &rc)) {
        return rc;
    }
    if (st == COLL_MISS) {
        list_close(&l);
        return count != -1 ? resp_compose_array(x->w, 0)
                           : resp_compose_null(x->w);
    }
    /* matches into a side list, the reply after */
    int64_t *found = NULL;
    size_t nfound = 0, cap = 0;
    uint64_t llen = l.count, index = 0, matches = 0;
    bool done = false;
    uint32_t np = list_nparts(&l);
    for (uint32_t kk = 0; kk < np && !done; kk++) {
        uint32_t k = from_tail ? np - 1 - kk : kk;
        size_t n = list_part_count(&l, k);
        struct pack_elem *e = part_elems(&l, k, 0, &st);
        if (e == NULL) {
            break;
        }
        for (size_t ii = 0; ii < n && !done; ii++) {
            if (maxlen != 0 && index >= (uint64_t)maxlen) {
                done = true;
                break;
            }
            size_t i = from_tail ? n - 1 - ii : ii;
            if (elem_is(&e[i], &x->argv[2])) {
                matches++;
                if (matches >= urank) {
                    if (nfound == cap) {
                        cap = cap < 8 ? 8 : 2 * cap;
                        int64_t *f = realloc(found, cap * sizeof(*f));
                        if (f == NULL) {
                            done = true;
                            break;
                        }
                        found = f;
                    }
                    found[nfound++] =
                            (int64_t)(from_tail ? llen - 1 - index : index);
                    if (count == -1 || (count > 0 && matches - urank + 1 >=
                                                             (uint64_t)count)) {
                        done = true;
                    }
                }
            }
            index++;
        }
        free(e);
    }
    list_close(&l);
    if (count == -1) {
        rc = nfound > 0 ? resp_compose_integer(x->w, found[0])
                        : resp_compose_null(x->w);
    } else {
        rc = resp_compose_array(x->w, nfound);
        for (size_t i = 0; rc == STATUS_OK && i < nfound; i++) {
            rc = resp_compose_integer(x->w, found[i]);
        }
    }
    free(found);
    return rc;
}

/* ---- changes in the middle ---- */

rstatus_i
resp_cmd_lset(struct resp_ctx *x)
{
    int64_t idx;
    if (!resp_arg_int64(&x->argv[2], &idx)) {
        return resp_err_int(x);
    }
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    bool range = false;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct list l;
        st = list_open(&l, resp_db(x), k->data, k->len, true, KS_NOSTATS,
                x->c->now_ms);
        if (st == COLL_OK) {
            int64_t n = (int64_t)l.count, i = idx < 0 ? idx + n : idx;
            if (i < 0 || i >= n) {
                range = true;
            } else {
                uint64_t in;
                uint32_t p = list_locate(&l, (uint64_t)i, &in);
                struct pack_elem *e = part_elems(&l, p, 0, &st);
                if (e != NULL) {
                    e[in] = (struct pack_elem){
                            (const uint8_t *)x->argv[3].data, x->argv[3].len};
                    st = list_replace(&l, p, p + 1, e, list_part_count(&l, p));
                    free(e);
                    st = st == COLL_OK ? list_commit(&l) : st;
                    if (st == COLL_OK) {
                        ks_coll_changed(
                                l.db, l.key, l.klen, "lset", true, false);
                    }
                }
            }
        }
        list_close(&l);
    }
    if (st == COLL_MISS) {
        return resp_err(x, "ERR no such key");
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    if (range) {
        return resp_err(x, "ERR index out of range");
    }
    return resp_compose_ok(x->w);
}

rstatus_i
resp_cmd_linsert(struct resp_ctx *x)
{
    bool after;
    if (resp_arg_is(&x->argv[2], "after")) {
        after = true;
    } else if (resp_arg_is(&x->argv[2], "before")) {
        after = false;
    } else {
        return resp_err_syntax(x);
    }
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    int64_t reply = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct list l;
        st = list_open(&l, resp_db(x), k->data, k->len, true, KS_NOSTATS,
                x->c->now_ms);
        reply = 0;
        if (st == COLL_MISS) {
            st = COLL_OK;
        } else if (st == COLL_OK) {
            reply = -1;
            uint32_t np = list_nparts(&l);
            for (uint32_t p = 0; p < np && st == COLL_OK; p++) {
                size_t n = list_part_count(&l, p);
                struct pack_elem *e = part_elems(&l, p, 1, &st);
                if (e == NULL) {
                    break;
                }
                size_t i = 0;
                while (i < n && !elem_is(&e[i], &x->argv[3])) {
                    i++;
                }
                if (i < n) {
                    size_t at = after ? i + 1 : i;
                    memmove(e + at + 1, e + at, (n - at) * sizeof(*e));
                    e[at] = (struct pack_elem){
                            (const uint8_t *)x->argv[4].data, x->argv[4].len};
                    st = list_replace(&l, p, p + 1, e, n + 1);
                    st = st == COLL_OK ? list_commit(&l) : st;
                    reply = (int64_t)l.count;
                    if (st == COLL_OK) {
                        ks_coll_changed(
                                l.db, l.key, l.klen, "linsert", true, false);
                    }
                    free(e);
                    break;
                }
                free(e);
            }
        }
        list_close(&l);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    if (reply > 0) {
        resp_list_signal(x, k);
    }
    return resp_compose_integer(x->w, reply);
}

rstatus_i
resp_cmd_lrem(struct resp_ctx *x)
{
    int64_t count;
    if (!resp_arg_int64(&x->argv[2], &count)) {
        return resp_err_int(x);
    }
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    int64_t removed = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct list l;
        st = list_open(&l, resp_db(x), k->data, k->len, true, KS_NOSTATS,
                x->c->now_ms);
        removed = 0;
        if (st == COLL_MISS) {
            st = COLL_OK;
        } else if (st == COLL_OK) {
            bool tail = count < 0;
            uint64_t limit =
                    count == 0
                            ? UINT64_MAX
                            : (uint64_t)(count < 0 ? -(count + 1) + 1 : count);
            uint32_t kk = 0;
            while (st == COLL_OK && (uint64_t)removed < limit) {
                uint32_t np = list_nparts(&l);
                if (kk >= np) {
                    break;
                }
                uint32_t p = tail ? np - 1 - kk : kk;
                size_t n = list_part_count(&l, p);
                struct pack_elem *e = part_elems(&l, p, 0, &st);
                if (e == NULL) {
                    break;
                }
                /* drop matches, from the end the walk comes from */
                bool *drop = calloc(n + 1, sizeof(*drop));
                size_t nd = 0;
                for (size_t ii = 0; drop != NULL && ii < n &&
                                    (uint64_t)removed + nd < limit;
                        ii++) {
                    size_t i = tail ? n - 1 - ii : ii;
                    if (elem_is(&e[i], &x->argv[3])) {
                        drop[i] = true;
                        nd++;
                    }
                }
                if (drop == NULL) {
                    free(e);
                    st = COLL_ENOMEM;
                    break;
                }
                if (nd > 0) {
                    size_t m = 0;
                    for (size_t i = 0; i < n; i++) {
                        if (!drop[i]) {
                            e[m++] = e[i];
                        }
                    }
                    st = list_replace(&l, p, p + 1, e, m);
                    removed += (int64_t)nd;
                    if (m > 0) {
                        kk++;
                    } /* else the next part moved into this place */
                } else {
                    kk++;
                }
                free(drop);
                free(e);
            }
            st = st == COLL_OK ? list_commit(&l) : st;
            if (st == COLL_OK && removed > 0) {
                ks_coll_changed(
                        l.db, l.key, l.klen, "lrem", true, l.count == 0);
            }
        }
        list_close(&l);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    return resp_compose_integer(x->w, removed);
}

rstatus_i
resp_cmd_ltrim(struct resp_ctx *x)
{
    int64_t start, end;
    if (!resp_arg_int64(&x->argv[2], &start) ||
            !resp_arg_int64(&x->argv[3], &end)) {
        return resp_err_int(x);
    }
    const struct resp_arg *k = &x->argv[1];
    coll_status_e st = COLL_RETRY;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        struct list l;
        st = list_open(&l, resp_db(x), k->data, k->len, true, KS_NOSTATS,
                x->c->now_ms);
        if (st == COLL_MISS) {
            st = COLL_OK;
        } else if (st == COLL_OK) {
            int64_t llen = (int64_t)l.count, s = start, e = end;
            uint64_t ltrim, rtrim;
            s = s < 0 ? s + llen : s;
            e = e < 0 ? e + llen : e;
            s = s < 0 ? 0 : s;
            if (s > e || s >= llen) {
                ltrim = (uint64_t)llen;
                rtrim = 0;
            } else {
                e = e >= llen ? llen - 1 : e;
                ltrim = (uint64_t)s;
                rtrim = (uint64_t)(llen - e - 1);
            }
            struct copies c = {0};
            st = pop(&l, true, ltrim, &c);
            copies_release(&c);
            st = st == COLL_OK ? pop(&l, false, rtrim, &c) : st;
            copies_release(&c);
            st = st == COLL_OK ? list_commit(&l) : st;
            if (st == COLL_OK) {
                ks_coll_changed(
                        l.db, l.key, l.klen, "ltrim", true, l.count == 0);
            }
        }
        list_close(&l);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    return resp_compose_ok(x->w);
}

/* ---- LMOVE RPOPLPUSH ---- */

/* Moves one element from src to dst under both stripe locks; *moved is the
 * element (copied) or n 0 when src is empty. */
coll_status_e
resp_list_move(struct resp_ctx *x, const struct resp_arg *src,
        const struct resp_arg *dst, bool from_left, bool to_left,
        struct copies_view *moved)
{
    uint32_t s[2] = {ks_stripe(resp_db(x), src->data, src->len),
            ks_stripe(resp_db(x), dst->data, dst->len)};
    coll_status_e st = COLL_RETRY;
    moved->n = 0;
    for (int attempt = 0; attempt < RETRY_MAX && st == COLL_RETRY; attempt++) {
        ks_lock_many(s, 2);
        struct list a, b;
        st = list_open(&a, resp_db(x), src->data, src->len, true,
                COLL_LOCKED | KS_NOSTATS | LIST_ENDS, x->c->now_ms);
        if (st == COLL_OK) {
            bool same = src->len == dst->len &&
                        memcmp(src->data, dst->data, src->len) == 0;
            coll_status_e dt =
                    same ? COLL_OK
                         : list_open(&b, resp_db(x), dst->data, dst->len, true,
                                   COLL_LOCKED | KS_NOSTATS | LIST_ENDS,
                                   x->c->now_ms);
            if (dt == COLL_WRONGTYPE) {
                st = dt;
            } else {
                struct copies c = {0};
                st = pop(&a, from_left, 1, &c);
                copies_fix(&c);
                if (st == COLL_OK && c.n == 1) {
                    struct resp_arg v = {
                            .len = c.e[0].len, .data = (const char *)c.e[0].p};
                    struct list *d = same ? &a : &b;
                    st = push(d, to_left, &v, 1);
                    st = st == COLL_OK ? list_commit(&a) : st;
                    if (!same && st == COLL_OK) {
                        st = list_commit(&b);
                    }
                    if (st == COLL_OK) {
                        /* Redis's order: the push (the destination made
                         * anew if it was not there), then the pop */
                        ks_coll_changed(d->db, d->key, d->klen,
                                to_left ? "lpush" : "rpush", same || !b.created,
                                false);
                        ks_coll_changed(a.db, a.key, a.klen,
                                from_left ? "lpop" : "rpop", true,
                                a.count == 0);
                    }
                    if (st == COLL_OK) {
                        moved->bytes = malloc(c.e[0].len + 1);
                        if (moved->bytes != NULL) {
                            memcpy(moved->bytes, c.e[0].p, c.e[0].len);
                            moved->len = c.e[0].len;
                            moved->n = 1;
                        } else {
                            st = COLL_ENOMEM;
                        }
                    }
                }
                copies_release(&c);
            }
            if (!same) {
                list_close(&b);
            }
        }
        list_close(&a);
        ks_unlock_many(s, 2);
    }
    return st;
}

/* "left"/"right" */
static bool
parse_where(const struct resp_arg *a, bool *left)
{
    if (resp_arg_is(a, "left")) {
        *left = true;
        return true;
    }
    if (resp_arg_is(a, "right")) {
        *left = false;
        return true;
    }
    return false;
}

rstatus_i
resp_cmd_lmove(struct resp_ctx *x)
{
    bool from = false, to = true; /* RPOPLPUSH */
    if (x->cmd->id == RESP_CMD_LMOVE &&
            (!parse_where(&x->argv[3], &from) ||
                    !parse_where(&x->argv[4], &to))) {
        return resp_err_syntax(x);
    }
    struct copies_view m = {0};
    coll_status_e st =
            resp_list_move(x, &x->argv[1], &x->argv[2], from, to, &m);
    if (st == COLL_MISS) {
        return resp_compose_null(x->w);
    }
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    if (m.n == 0) {
        return resp_compose_null(x->w);
    }
    resp_list_signal(x, &x->argv[2]);
    rstatus_i rc = resp_compose_bulk(x->w, (const char *)m.bytes, m.len);
    free(m.bytes);
    return rc;
}
