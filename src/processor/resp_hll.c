/* SPDX-License-Identifier: Apache-2.0 */
/* Resp HyperLogLog commands: PFADD PFCOUNT PFMERGE with Redis 7.0.15's
 * replies, errors and stored bytes (types/hll.h). An HLL is a plain string:
 * PFADD and PFMERGE change it under the key's stripe lock with a CAS commit
 * (resp_strmod.h), keeping the expiry; PFCOUNT of one key writes the
 * cardinality it computed back into the header, as Redis does, when the
 * version it read is still there. PFDEBUG and PFSELFTEST are not served
 * (unknown command). */
#include "processor/resp_internal.h"
#include "processor/resp_strmod.h"

#include "types/hll.h"

#include <stdlib.h>
#include <string.h>

uint64_t resp_hll_sparse_max = HLL_SPARSE_MAX_BYTES;

static const char ERR_WRONGTYPE[] =
        "WRONGTYPE Operation against a key holding the wrong kind of value";
static const char ERR_NOT_HLL[] =
        "WRONGTYPE Key is not a valid HyperLogLog string value.";
static const char ERR_CORRUPT[] = "INVALIDOBJ Corrupted HLL object detected";

typedef enum {
    HLL_KEY_OK,
    HLL_KEY_MISS,
    HLL_KEY_WRONGTYPE, /* another type */
    HLL_KEY_NOT_HLL,   /* a string that is not an HLL */
} hll_key_e;

static hll_key_e
hll_lookup(struct resp_ctx *x, const struct resp_arg *k, unsigned flags,
        struct storage_item *it)
{
    ks_lookup_e l = ks_lookup(resp_db(x), k->data, k->len, STORAGE_TYPE_STRING,
            flags, x->c->now_ms, it);
    if (l == KS_MISS) {
        return HLL_KEY_MISS;
    }
    if (l == KS_WRONGTYPE) {
        return HLL_KEY_WRONGTYPE;
    }
    return hll_is_hll(it->value, it->vlen) ? HLL_KEY_OK : HLL_KEY_NOT_HLL;
}

static rstatus_i
err_key(struct resp_ctx *x, hll_key_e e)
{
    return resp_err(x, e == HLL_KEY_WRONGTYPE ? ERR_WRONGTYPE : ERR_NOT_HLL);
}

static size_t
sparse_max(void)
{
    return (size_t)__atomic_load_n(&resp_hll_sparse_max, __ATOMIC_RELAXED);
}

/* Room in m for one more change of its image: a sparse one grows by at
 * most HLL_GROWTH_MAX bytes, or becomes dense. */
static bool
room(struct strmod *m)
{
    size_t need = m->len + HLL_GROWTH_MAX;
    need = need < HLL_DENSE_SIZE ? HLL_DENSE_SIZE : need;
    if (need <= m->cap) {
        return true;
    }
    uint8_t *b = realloc(m->buf, need);
    if (b == NULL) {
        return false;
    }
    memset(b + m->cap, 0, need - m->cap);
    m->buf = b;
    m->cap = need;
    return true;
}

/* Opens key's HLL into m for a change: an existing one copied, a missing
 * one created empty (*created). Replies and returns false on an error. */
static bool
hll_open(struct resp_ctx *x, const struct resp_arg *k, struct strmod *m,
        bool *created, rstatus_i *rc)
{
    bool oom;
    /* no zeros wanted: room() makes the room hll_add needs, and a sparse
     * image becoming dense writes every register */
    ks_lookup_e l = strmod_read(
            m, resp_db(x), k->data, k->len, 0, KS_NOSTATS, x->c->now_ms, &oom);
    if (l == KS_WRONGTYPE) {
        *rc = resp_err(x, ERR_WRONGTYPE);
        return false;
    }
    if (oom || !room(m)) {
        *rc = resp_err_storage(x, STORAGE_ENOMEM);
        return false;
    }
    *created = l == KS_MISS;
    if (*created) {
        m->len = hll_init(m->buf);
    } else if (!hll_is_hll(m->buf, m->len)) {
        *rc = resp_err(x, ERR_NOT_HLL);
        return false;
    }
    return true;
}

/* The elements added to m's image: 1 some register changed, 0 none, -1
 * corrupt (after the reply), -2 no memory. */
static int
pfadd_apply(struct resp_ctx *x, struct strmod *m)
{
    int changed = 0;
    for (uint32_t j = 2; j < x->argc; j++) {
        if (!room(m)) {
            return -2;
        }
        const struct resp_arg *e = &x->argv[j];
        hll_status_e s =
                hll_add(m->buf, &m->len, m->cap, e->data, e->len, sparse_max());
        if (s == HLL_ECORRUPT) {
            return -1;
        }
        changed |= s == HLL_CHANGED;
    }
    return changed;
}

/* Whether PFADD would change nothing in an existing HLL: every element's
 * run fits its register (read on the view, no copy). Corrupt: false, the
 * change path reports it. */
static bool
pfadd_is_noop(struct resp_ctx *x, const struct resp_arg *k)
{
    struct storage_item it;
    if (hll_lookup(x, k, KS_NOSTATS, &it) != HLL_KEY_OK) {
        return false;
    }
    for (uint32_t j = 2; j < x->argc; j++) {
        uint8_t count;
        uint32_t idx = hll_pattern(x->argv[j].data, x->argv[j].len, &count);
        int reg = hll_register(it.value, it.vlen, idx);
        if (reg < 0 || count > reg) {
            return false;
        }
    }
    return true;
}

/* PFADD key [element ...]: 1 when the key was created or a register
 * changed, else 0. */
rstatus_i
resp_cmd_pfadd(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    uint32_t stripe = ks_stripe(resp_db(x), k->data, k->len);
    struct strmod m = {0};
    storage_status_e s = STORAGE_EXISTS;
    rstatus_i rc = STATUS_OK;
    bool replied = false;
    int changed = 0;
    ks_lock(stripe);
    if (pfadd_is_noop(x, k)) { /* most adds to a large HLL: no copy */
        s = STORAGE_OK;
    }
    for (int a = 0; a < STRMOD_RETRY_MAX && strmod_retry(s); a++) {
        bool created;
        if (!hll_open(x, k, &m, &created, &rc)) {
            replied = true;
            break;
        }
        changed = pfadd_apply(x, &m);
        if (changed < 0) {
            rc = changed == -1 ? resp_err(x, ERR_CORRUPT)
                               : resp_err_storage(x, STORAGE_ENOMEM);
            replied = true;
            break;
        }
        changed |= created;
        if (!changed) {
            s = STORAGE_OK;
            break;
        }
        hll_cache_invalidate(m.buf);
        s = strmod_commit(&m, resp_db(x), k->data, k->len, x->c->now_ms);
        if (s == STORAGE_OK) {
            ks_coll_changed(
                    resp_db(x), k->data, k->len, "pfadd", !created, false);
        }
    }
    ks_unlock(stripe);
    strmod_release(&m);
    if (replied) {
        return rc;
    }
    if (s != STORAGE_OK) {
        return resp_err_storage(x, s);
    }
    return resp_compose_integer(x->w, changed);
}

/* The estimate of one key, from the cache or computed and cached. */
static rstatus_i
pfcount_one(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    struct storage_item it;
    hll_key_e e = hll_lookup(x, k, 0, &it);
    if (e == HLL_KEY_MISS) {
        return resp_compose_integer(x->w, 0);
    }
    if (e != HLL_KEY_OK) {
        return err_key(x, e);
    }
    if (hll_cache_valid(it.value)) {
        return resp_compose_integer(x->w, (int64_t)hll_cache_get(it.value));
    }
    uint64_t card;
    if (hll_count(it.value, it.vlen, &card) == HLL_ECORRUPT) {
        return resp_err(x, ERR_CORRUPT);
    }
    /* Cache it, as Redis does, if this version is still the key's (a
     * lost race only skips the cache). The view ends at the write: copy. */
    uint8_t *copy = malloc(it.vlen);
    if (copy != NULL) {
        memcpy(copy, it.value, it.vlen);
        hll_cache_set(copy, card);
        struct storage_write w = {
                .mode = STORAGE_CAS, .cas = it.cas, .keep_ttl = true};
        storage_set(resp_db(x), k->data, k->len, copy, it.vlen, &w,
                x->c->now_ms, NULL, NULL);
        free(copy);
    }
    return resp_compose_integer(x->w, (int64_t)card);
}

/* Registers of keys argv[from .. argc) merged into max (a missing key is
 * empty); *dense: one of them is dense. Replies and returns false on an
 * error. */
static bool
merge_keys(struct resp_ctx *x, uint32_t from, uint8_t *max, bool *dense,
        rstatus_i *rc)
{
    *dense = false;
    for (uint32_t j = from; j < x->argc; j++) {
        struct storage_item it;
        hll_key_e e = hll_lookup(x, &x->argv[j], 0, &it);
        if (e == HLL_KEY_MISS) {
            continue;
        }
        if (e != HLL_KEY_OK) {
            *rc = err_key(x, e);
            return false;
        }
        *dense |= it.value[4] == HLL_DENSE;
        if (hll_merge(max, it.value, it.vlen) == HLL_ECORRUPT) {
            *rc = resp_err(x, ERR_CORRUPT);
            return false;
        }
    }
    return true;
}

/* PFCOUNT key [key ...]: several keys count the union, cached nowhere. */
rstatus_i
resp_cmd_pfcount(struct resp_ctx *x)
{
    if (x->argc == 2) {
        return pfcount_one(x);
    }
    uint8_t *max = calloc(HLL_REGISTERS, 1);
    if (max == NULL) {
        return resp_err_storage(x, STORAGE_ENOMEM);
    }
    bool dense;
    rstatus_i rc;
    if (merge_keys(x, 1, max, &dense, &rc)) {
        rc = resp_compose_integer(x->w, (int64_t)hll_count_raw(max));
    }
    free(max);
    return rc;
}

/* The merged registers written into destkey's image in m, as Redis does
 * it: dense when any input was dense, else register by register into the
 * sparse image (which may become dense on the way). */
static bool
pfmerge_apply(struct resp_ctx *x, struct strmod *m, const uint8_t *max,
        bool dense, rstatus_i *rc)
{
    if (dense && hll_to_dense(m->buf, &m->len, m->cap) == HLL_ECORRUPT) {
        *rc = resp_err(x, ERR_CORRUPT);
        return false;
    }
    for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
        if (max[i] == 0) {
            continue;
        }
        if (!room(m)) {
            *rc = resp_err_storage(x, STORAGE_ENOMEM);
            return false;
        }
        hll_raise(m->buf, &m->len, m->cap, i, max[i], sparse_max());
    }
    hll_cache_invalidate(m->buf);
    return true;
}

/* PFMERGE destkey [sourcekey ...]: destkey is one of the inputs. */
rstatus_i
resp_cmd_pfmerge(struct resp_ctx *x)
{
    const struct resp_arg *k = &x->argv[1];
    uint8_t *max = malloc(HLL_REGISTERS);
    if (max == NULL) {
        return resp_err_storage(x, STORAGE_ENOMEM);
    }
    uint32_t stripe = ks_stripe(resp_db(x), k->data, k->len);
    struct strmod m = {0};
    storage_status_e s = STORAGE_EXISTS;
    rstatus_i rc = STATUS_OK;
    bool replied = false;
    ks_lock(stripe);
    for (int a = 0; a < STRMOD_RETRY_MAX && strmod_retry(s); a++) {
        bool dense, created;
        memset(max, 0, HLL_REGISTERS);
        replied = !merge_keys(x, 1, max, &dense, &rc) ||
                  !hll_open(x, k, &m, &created, &rc) ||
                  !pfmerge_apply(x, &m, max, dense, &rc);
        if (replied) {
            break;
        }
        s = strmod_commit(&m, resp_db(x), k->data, k->len, x->c->now_ms);
        if (s == STORAGE_OK) {
            ks_coll_changed(
                    resp_db(x), k->data, k->len, "pfadd", !created, false);
        }
    }
    ks_unlock(stripe);
    strmod_release(&m);
    free(max);
    if (replied) {
        return rc;
    }
    if (s != STORAGE_OK) {
        return resp_err_storage(x, s);
    }
    return resp_compose_ok(x->w);
}
