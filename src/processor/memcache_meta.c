/* SPDX-License-Identifier: Apache-2.0 */
/* Memcache processor, meta commands: mg ms md ma me (mn is one line in
 * memcache.c). Replies follow what memcached 1.6.18 sends, flag for flag. */
#include "base/time.h"
#include "processor/memcache_internal.h"
#include "processor/sendval.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HAS(_m, _c) MEMCACHE_META_HAS((_m), (_c))

static uint64_t
meta_expiry(int32_t ttl, uint64_t now)
{
    return time_memcache_expiry(ttl, now);
}

/* Fills the reply fields that describe an item. */
static void
describe(struct memcache_meta_rsp *rsp, const struct storage_item *it,
        uint64_t now)
{
    rsp->vlen = (uint32_t)it->vlen;
    rsp->size = (uint32_t)it->vlen;
    rsp->cas = it->cas;
    rsp->flags = it->cflags;
    rsp->ttl = mc_ttl_left(it, now);
    rsp->fetched = it->fetched;
    rsp->last_access = it->last_access != 0 && now > it->last_access
                               ? (uint32_t)((now - it->last_access) / 1000)
                               : 0;
}

static rstatus_i
meta_reply(struct conn *c, const struct mc_state *st,
        struct memcache_meta_rsp *rsp, size_t max)
{
    return memcache_compose_meta(&c->wbuf, &st->req, rsp, max);
}

static rstatus_i
meta_error(struct conn *c, const char *msg, size_t max)
{
    INCR(mc_metrics, memcache_error);
    return memcache_compose_line(&c->wbuf, msg, strlen(msg), max);
}

/* The TTL of an item vivified on a miss. memcached 1.6.18 reads N and T
 * into one field, so when both are sent the later of the two wins. */
static int32_t
vivify_ttl(const struct memcache_meta *m)
{
    if (HAS(m, 'T') && HAS(m, 'N') &&
            strchr(m->order, 'T') > strchr(m->order, 'N')) {
        return m->ttl;
    }
    return m->vivify_ttl;
}

/* mg on a miss with N: creates an empty item whose win token is taken by
 * this client. STORAGE_OK with *it filled and *won set, or the miss. */
static storage_status_e
vivify(struct conn *c, const struct memcache_request *req,
        struct storage_item *it, bool *won)
{
    struct storage_write w = {
            .mode = STORAGE_ADD,
            .expiry = meta_expiry(vivify_ttl(&req->meta), c->now_ms),
            .win_sent = true,
    };
    uint64_t cas = 0;
    storage_status_e s = ks_set(MC_DB, req->key.data, req->key.len, "", 0, &w,
            c->now_ms, NULL, &cas);
    *won = s == STORAGE_OK;
    if (s != STORAGE_OK && s != STORAGE_EXISTS) {
        return s;
    }
    /* ours, or someone else's that appeared meanwhile (a key of another
     * type stays a miss); read as a fetch unless u (memcached marks the
     * new item fetched without u) */
    s = mc_lookup(req->key.data, req->key.len,
            HAS(&req->meta, 'u') ? KS_NOTOUCH : 0, c->now_ms, it);
    if (s == STORAGE_NOT_FOUND && *won && time_expired(w.expiry, c->now_ms)) {
        /* N with a TTL already past (N-1): memcached 1.6.18 creates the
         * item, answers it as won, and the next request finds it gone */
        *it = (struct storage_item){
                .value = (const uint8_t *)"", .cas = cas, .expiry = w.expiry};
        return STORAGE_OK;
    }
    return s;
}

/* True when flag a comes before flag b in the request (both sent). */
static bool
sent_before(const struct memcache_meta *m, char a, char b)
{
    return HAS(m, a) && HAS(m, b) && strchr(m->order, a) < strchr(m->order, b);
}

static int64_t
ttl_of(uint64_t expiry, uint64_t now)
{
    struct storage_item it = {.expiry = expiry};
    return mc_ttl_left(&it, now);
}

/* memcached 1.6.18 applies T, and N on an item it vivified, while writing
 * the return flags in request order: `t` tells the TTL as of its place
 * (`mg k t T30` shows the TTL before the touch). `before` is the TTL the
 * item had before either. */
static int64_t
ttl_at_t(const struct memcache_meta *m, int64_t before, bool vivified,
        uint64_t now)
{
    int64_t ttl = before;
    for (const char *p = m->order; *p != '\0' && *p != 't'; p++) {
        if (*p == 'T') {
            ttl = ttl_of(meta_expiry(m->ttl, now), now);
        } else if (*p == 'N' && vivified) {
            /* a past N (N-1) shows as memcached shows it: -1 */
            ttl = m->vivify_ttl < 0
                          ? -1
                          : ttl_of(meta_expiry(m->vivify_ttl, now), now);
        }
    }
    return ttl;
}

/* The lookup of mg: touched with T, not counted as a fetch with u. */
static storage_status_e
meta_lookup(struct conn *c, const struct memcache_request *req, bool drop,
        struct storage_item *it, int64_t *ttl_before)
{
    const struct memcache_meta *m = &req->meta;
    if (HAS(m, 'T') && !drop) {
        if (sent_before(m, 't', 'T') &&
                mc_lookup(req->key.data, req->key.len, KS_NOTOUCH, c->now_ms,
                        it) == STORAGE_OK) {
            *ttl_before = mc_ttl_left(it, c->now_ms);
        }
        uint64_t expiry = meta_expiry(m->ttl, c->now_ms);
        if (!HAS(m, 'u')) {
            return mc_fetch(req->key.data, req->key.len, true, expiry,
                    c->now_ms, 0, it);
        }
        /* u: touched without recording the access (no view), then read */
        storage_status_e s = mc_fetch(
                req->key.data, req->key.len, true, expiry, c->now_ms, 0, NULL);
        return s != STORAGE_OK ? s
                               : mc_lookup(req->key.data, req->key.len,
                                         KS_NOTOUCH, c->now_ms, it);
    }
    /* u: no LRU bump, so memcached does not mark the item fetched */
    return mc_lookup(req->key.data, req->key.len, HAS(m, 'u') ? KS_NOTOUCH : 0,
            c->now_ms, it);
}

/* W, Z, X of an mg reply: a stale item, or one whose TTL is below R, gives
 * its recache token to the first client to ask (W); the others see Z. */
static void
win_flags(struct memcache_meta_rsp *rsp, const struct storage_item *it,
        const struct memcache_meta *m, bool won)
{
    rsp->stale = it->stale;
    if (!won) {
        bool recache = HAS(m, 'R') && rsp->ttl >= 0 &&
                       rsp->ttl < (int64_t)m->recache_ttl;
        if (it->stale || recache) {
            won = storage_item_claim_win(it);
        }
        rsp->token_sent = !won && (it->win_sent || it->stale || recache);
    }
    rsp->win = won;
}

rstatus_i
mc_meta_get(struct conn *c, struct mc_state *st, size_t max)
{
    const struct memcache_request *req = &st->req;
    const struct memcache_meta *m = &req->meta;
    INCR(mc_metrics, memcache_meta);
    struct storage_item it;
    bool drop = HAS(m, 'T') &&
                time_expired(meta_expiry(m->ttl, c->now_ms), c->now_ms);
    int64_t ttl_before = -1;
    storage_status_e s = meta_lookup(c, req, drop, &it, &ttl_before);
    if (mc_watching(MC_WATCH_FETCHERS)) {
        mc_watch_get(c, req->key.data, req->key.len, s == STORAGE_OK,
                s == STORAGE_OK ? it.vlen : 0);
    }
    bool won = false;
    bool vivified = false;
    if (s != STORAGE_OK && HAS(m, 'N')) {
        s = vivify(c, req, &it, &won);
        vivified = true;
    }
    struct memcache_meta_rsp rsp = {0};
    if (s != STORAGE_OK) {
        INCR(mc_metrics, memcache_get_miss);
        if (HAS(m, 'q')) {
            return STATUS_OK;
        }
        rsp.code = MEMCACHE_META_EN;
        return meta_reply(c, st, &rsp, max);
    }
    if (!vivified) {
        INCR(mc_metrics, memcache_get_hit);
    }
    describe(&rsp, &it, c->now_ms);
    rsp.code = HAS(m, 'v') ? MEMCACHE_META_VA : MEMCACHE_META_HD;
    win_flags(&rsp, &it, m, won);
    if (!vivified && !sent_before(m, 't', 'T')) {
        ttl_before = rsp.ttl;
    }
    rsp.ttl = ttl_at_t(m, ttl_before, vivified, c->now_ms);
    rstatus_i rc = meta_reply(c, st, &rsp, max);
    if (rc == STATUS_OK && rsp.code == MEMCACHE_META_VA) {
        /* a large value (read whole out of its parts) is sent from that
         * copy in pieces, not composed whole (sendval.h) */
        struct sendval *v = it.vlen > SENDVAL_MIN
                                    ? sendval_new_copy(it.value, it.vlen)
                                    : NULL;
        if (v != NULL) {
            sendval_own(v);
            mc_out_begin(c, st, v, true);
        } else {
            rc = memcache_compose_value_data(&c->wbuf, it.value, it.vlen, max);
        }
    }
    if (drop) {
        /* T with a past TTL: answered, then expired (view already copied) */
        ks_delete_cas(MC_DB, req->key.data, req->key.len, it.cas, c->now_ms);
    }
    return rc;
}

/* ms with I and C, memcached's invalidation: a CAS older than the item's
 * still stores the value, marked stale, with the item's TTL and its win
 * token state, so a client that recached from an outdated read does not
 * lose its write while the next reader is told to fetch again (X, W).
 * A CAS equal to the item's is a plain CAS store, a newer one EXISTS
 * (storage_cas_older decides: our CAS numbers say where a version was
 * written, not when). The stale write is itself a CAS store on the version
 * read, retried if another writer came between. */
static storage_status_e
meta_store_stale(struct conn *c, const struct memcache_request *req,
        struct storage_write *w, uint64_t *cas)
{
    const struct memcache_meta *m = &req->meta;
    for (;;) {
        struct storage_item it;
        storage_status_e s = mc_lookup(
                req->key.data, req->key.len, KS_NOTOUCH, c->now_ms, &it);
        if (s != STORAGE_OK) {
            return s;
        }
        if (!storage_cas_older(&it, m->cas)) {
            break; /* not older: compared as any CAS store */
        }
        struct storage_write sw = *w;
        sw.cas = it.cas;
        sw.stale = true;
        sw.expiry = it.expiry;
        sw.win_sent = it.win_sent;
        s = ks_set(MC_DB, req->key.data, req->key.len, req->value.data,
                req->value.len, &sw, c->now_ms, NULL, cas);
        if (s != STORAGE_EXISTS) {
            return s;
        }
    }
    return ks_set(MC_DB, req->key.data, req->key.len, req->value.data,
            req->value.len, w, c->now_ms, NULL, cas);
}

static char
meta_mode(const struct memcache_meta *m)
{
    char mode = m->mode == 0 ? 'S' : m->mode;
    return mode >= 'a' && mode <= 'z' ? (char)(mode - 'a' + 'A') : mode;
}

bool
mc_meta_set_streamable(const struct memcache_request *req)
{
    const struct memcache_meta *m = &req->meta;
    char mode = meta_mode(m);
    return (mode == 'S' || mode == 'E' || mode == 'R') &&
           !(HAS(m, 'C') && HAS(m, 'I') && mode != 'E');
}

storage_status_e
mc_meta_set_write(struct conn *c, const struct memcache_request *req,
        struct storage_write *w)
{
    const struct memcache_meta *m = &req->meta;
    char mode = meta_mode(m);
    *w = (struct storage_write){
            .mode = mode == 'E'   ? STORAGE_ADD
                    : mode == 'R' ? STORAGE_REPLACE
                                  : STORAGE_SET,
            .expiry = HAS(m, 'T') ? meta_expiry(m->ttl, c->now_ms) : TIME_NEVER,
            .cflags = m->client_flags,
    };
    if (HAS(m, 'C') && mode != 'E') {
        /* as meta_store: set and replace with C are a CAS store */
        w->mode = STORAGE_CAS;
        w->cas = m->cas;
        if (mc_other_type(req->key.data, req->key.len, c->now_ms)) {
            return STORAGE_NOT_FOUND;
        }
    }
    return STORAGE_OK;
}

static storage_status_e
meta_store(struct conn *c, const struct memcache_request *req, uint64_t *cas)
{
    const struct memcache_meta *m = &req->meta;
    char mode = meta_mode(m);
    if (mode == 'A' || mode == 'P') {
        /* memcached 1.6.18 does not vivify in append mode: N is ignored
         * and a miss is NS; a joined value too large is NS too */
        storage_status_e s = ks_append(MC_DB, req->key.data, req->key.len,
                req->value.data, req->value.len,
                mode == 'A' ? STORAGE_APPEND : STORAGE_PREPEND,
                STORAGE_MISSING_FAIL, HAS(m, 'C') ? m->cas : 0, c->now_ms, NULL,
                cas);
        /* another type has no value to append to: as missing */
        return s == STORAGE_EOVERSIZE || s == STORAGE_EWRONGTYPE
                       ? STORAGE_NOT_STORED
                       : s;
    }
    struct storage_write w = {
            .mode = STORAGE_SET,
            .expiry = HAS(m, 'T') ? meta_expiry(m->ttl, c->now_ms) : TIME_NEVER,
            .cflags = m->client_flags,
    };
    if (mode == 'E') {
        w.mode = STORAGE_ADD;
    } else if (mode == 'R') {
        w.mode = STORAGE_REPLACE;
    }
    if (HAS(m, 'C') && mode != 'E') {
        /* memcached turns set and replace with C into a CAS store; add
         * with C is a plain add */
        w.mode = STORAGE_CAS;
        w.cas = m->cas;
        if (mc_other_type(req->key.data, req->key.len, c->now_ms)) {
            return STORAGE_NOT_FOUND; /* no version a client could read */
        }
        /* only such a CAS store honours I */
        if (HAS(m, 'I')) {
            return meta_store_stale(c, req, &w, cas);
        }
    }
    return ks_set(MC_DB, req->key.data, req->key.len, req->value.data,
            req->value.len, &w, c->now_ms, NULL, cas);
}

/* ms as memcached's watch names it: the classic command its mode is */
static void
watch_meta_store(const struct conn *c, const struct memcache_request *req,
        storage_status_e s)
{
    const struct memcache_meta *m = &req->meta;
    memcache_req_type_e type;
    switch (m->mode) {
    case 'E':
    case 'e':
        type = MEMCACHE_REQ_ADD;
        break;
    case 'A':
    case 'a':
        type = MEMCACHE_REQ_APPEND;
        break;
    case 'P':
    case 'p':
        type = MEMCACHE_REQ_PREPEND;
        break;
    case 'R':
    case 'r':
        type = MEMCACHE_REQ_REPLACE;
        break;
    default:
        type = HAS(m, 'C') ? MEMCACHE_REQ_CAS : MEMCACHE_REQ_SET;
        break;
    }
    mc_watch_store(c, type, req->key.data, req->key.len, s,
            HAS(m, 'T') ? meta_expiry(m->ttl, c->now_ms) : TIME_NEVER,
            (uint32_t)req->vlen);
}

rstatus_i
mc_meta_set(struct conn *c, struct mc_state *st, size_t max)
{
    INCR(mc_metrics, memcache_meta);
    INCR(mc_metrics, memcache_set);
    uint64_t cas = 0;
    storage_status_e s = meta_store(c, &st->req, &cas);
    return mc_meta_set_stored(c, st, s, cas, max);
}

rstatus_i
mc_meta_set_stored(struct conn *c, struct mc_state *st, storage_status_e s,
        uint64_t cas, size_t max)
{
    const struct memcache_request *req = &st->req;
    if (mc_watching(MC_WATCH_MUTATIONS)) {
        watch_meta_store(c, req, s);
    }
    struct memcache_meta_rsp rsp = {.cas = cas};
    switch (s) {
    case STORAGE_OK:
        INCR(mc_metrics, memcache_store_ok);
        if (HAS(&req->meta, 'q')) {
            return STATUS_OK;
        }
        rsp.code = MEMCACHE_META_HD;
        break;
    case STORAGE_EXISTS:
        rsp.code = req->meta.mode == 'E' || req->meta.mode == 'e'
                           ? MEMCACHE_META_NS
                           : MEMCACHE_META_EX;
        break;
    case STORAGE_NOT_FOUND:
        rsp.code = MEMCACHE_META_NF;
        break;
    case STORAGE_NOT_STORED:
        INCR(mc_metrics, memcache_store_not);
        rsp.code = MEMCACHE_META_NS;
        break;
    case STORAGE_EOVERSIZE:
        INCR(mc_metrics, memcache_store_ex);
        ks_delete(MC_DB, req->key.data, req->key.len, c->now_ms);
        return meta_error(c, "SERVER_ERROR object too large for cache", max);
    default:
        INCR(mc_metrics, memcache_store_ex);
        return meta_error(c, "SERVER_ERROR out of memory storing object", max);
    }
    return meta_reply(c, st, &rsp, max);
}

rstatus_i
mc_meta_delete(struct conn *c, struct mc_state *st, size_t max)
{
    const struct memcache_request *req = &st->req;
    const struct memcache_meta *m = &req->meta;
    INCR(mc_metrics, memcache_meta);
    INCR(mc_metrics, memcache_delete);
    uint64_t cas = HAS(m, 'C') ? m->cas : 0;
    storage_status_e s;
    if (HAS(m, 'C') && cas == 0) {
        /* memcached compares C0 too, and no item has CAS 0; the store
         * reads 0 as "no compare" */
        s = ks_lookup(MC_DB, req->key.data, req->key.len, KS_ANY,
                    KS_NOTOUCH | KS_NOSTATS, c->now_ms, NULL) != KS_MISS
                    ? STORAGE_EXISTS
                    : STORAGE_NOT_FOUND;
    } else if (HAS(m, 'I')) {
        /* invalidate: keep the item, stale, for one client to recache; a
         * key of another type has no value to keep: as missing */
        struct storage_item it;
        s = mc_lookup(req->key.data, req->key.len, KS_NOTOUCH, c->now_ms, &it);
        if (s == STORAGE_OK && cas != 0 && it.cas != cas) {
            s = STORAGE_EXISTS;
        } else if (s == STORAGE_OK) {
            s = ks_invalidate(MC_DB, req->key.data, req->key.len,
                    HAS(m, 'T') ? meta_expiry(m->ttl, c->now_ms)
                                : STORAGE_EXPIRY_KEEP,
                    c->now_ms);
            s = s == STORAGE_EWRONGTYPE ? STORAGE_NOT_FOUND : s;
        }
    } else {
        /* a key of any type goes, whole */
        s = ks_delete_cas(MC_DB, req->key.data, req->key.len, cas, c->now_ms);
    }
    struct memcache_meta_rsp rsp = {0};
    if (s == STORAGE_OK) {
        INCR(mc_metrics, memcache_delete_hit);
        rsp.code = MEMCACHE_META_HD;
    } else if (s == STORAGE_EXISTS) {
        rsp.code = MEMCACHE_META_EX;
    } else {
        INCR(mc_metrics, memcache_delete_miss);
        rsp.code = MEMCACHE_META_NF;
    }
    if (HAS(m, 'q') && rsp.code == MEMCACHE_META_HD) {
        return STATUS_OK; /* quiet: only HD is held back (memcached 1.6.18) */
    }
    return meta_reply(c, st, &rsp, max);
}

/* ma on a miss with N: creates the counter at J (initial). */
static storage_status_e
arith_vivify(struct conn *c, const struct memcache_request *req,
        uint64_t *value, uint64_t *cas)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, req->meta.initial);
    struct storage_write w = {
            .mode = STORAGE_ADD,
            .expiry = meta_expiry(vivify_ttl(&req->meta), c->now_ms),
    };
    storage_status_e s = ks_set(MC_DB, req->key.data, req->key.len, digits,
            (size_t)n, &w, c->now_ms, NULL, cas);
    *value = req->meta.initial;
    return s;
}

/* ma's t, after T is applied to an item ma did not create. memcached
 * applies T in request order while writing the flags (`t T30` tells the
 * old TTL) and ignores a T in the past. */
static int64_t
arith_ttl(struct conn *c, const struct memcache_request *req, bool vivified)
{
    const struct memcache_meta *m = &req->meta;
    struct storage_item it;
    int64_t before = -1;
    if (mc_lookup(req->key.data, req->key.len, KS_NOTOUCH, c->now_ms, &it) ==
            STORAGE_OK) {
        before = mc_ttl_left(&it, c->now_ms);
    }
    uint64_t expiry = meta_expiry(m->ttl, c->now_ms);
    if (vivified || !HAS(m, 'T') || time_expired(expiry, c->now_ms)) {
        return before;
    }
    ks_expire(MC_DB, req->key.data, req->key.len, STORAGE_TYPE_STRING, expiry,
            STORAGE_TTL_ALWAYS, c->now_ms, NULL);
    return ttl_at_t(m, before, false, c->now_ms);
}

rstatus_i
mc_meta_arith(struct conn *c, struct mc_state *st, size_t max)
{
    const struct memcache_request *req = &st->req;
    const struct memcache_meta *m = &req->meta;
    INCR(mc_metrics, memcache_meta);
    char mode = m->mode;
    bool decr = mode == 'D' || mode == 'd' || mode == '-';
    struct memcache_meta_rsp rsp = {0};
    uint64_t value = 0;
    uint64_t cas = 0;
    /* with C, the CAS check and the increment are one atomic step */
    storage_status_e s = ks_incr_unsigned(MC_DB, req->key.data, req->key.len,
            m->delta, decr ? KS_DECR : KS_INCR, HAS(m, 'C') ? m->cas : 0,
            c->now_ms, &value, &cas);
    if (s == STORAGE_EWRONGTYPE) {
        s = STORAGE_NOT_FOUND; /* no number memcache can read: missing */
    }
    if (s == STORAGE_EXISTS) {
        rsp.code = MEMCACHE_META_EX;
        return meta_reply(c, st, &rsp, max);
    }
    bool vivified = false;
    if (s == STORAGE_NOT_FOUND && HAS(m, 'N')) {
        s = arith_vivify(c, req, &value, &cas);
        vivified = true;
    }
    if (s == STORAGE_ENAN) {
        return meta_error(c,
                "CLIENT_ERROR cannot increment or decrement non-numeric "
                "value",
                max);
    }
    if (s == STORAGE_NOT_FOUND || s == STORAGE_EXISTS) {
        rsp.code = MEMCACHE_META_NF;
        return meta_reply(c, st, &rsp, max);
    }
    if (s != STORAGE_OK) {
        return meta_error(c, "SERVER_ERROR out of memory", max);
    }
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, value);
    rsp.cas = cas;
    rsp.ttl = HAS(m, 't') || HAS(m, 'T') ? arith_ttl(c, req, vivified) : -1;
    rsp.vlen = (uint32_t)n;
    rsp.code = HAS(m, 'v') ? MEMCACHE_META_VA : MEMCACHE_META_HD;
    if (rsp.code == MEMCACHE_META_HD && HAS(m, 'q') && !vivified) {
        return STATUS_OK; /* memcached answers a vivify even with q */
    }
    rstatus_i rc = meta_reply(c, st, &rsp, max);
    if (rc == STATUS_OK && rsp.code == MEMCACHE_META_VA) {
        rc = memcache_compose_value_data(&c->wbuf, digits, (size_t)n, max);
    }
    return rc;
}

rstatus_i
mc_meta_debug(struct conn *c, struct mc_state *st, size_t max)
{
    const struct memcache_request *req = &st->req;
    INCR(mc_metrics, memcache_meta);
    struct storage_item it;
    if (mc_lookup(req->key.data, req->key.len, KS_NOTOUCH, c->now_ms, &it) !=
            STORAGE_OK) {
        return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_EN, max);
    }
    char detail[160];
    uint64_t la = it.last_access != 0 && c->now_ms > it.last_access
                          ? (c->now_ms - it.last_access) / 1000
                          : 0;
    int n = snprintf(detail, sizeof(detail),
            "exp=%" PRId64 " la=%" PRIu64 " cas=%" PRIu64
            " fetch=%s cls=1 size=%zu",
            mc_ttl_left(&it, c->now_ms), la, it.cas, it.fetched ? "yes" : "no",
            it.klen + it.vlen);
    return memcache_compose_me(&c->wbuf, req, detail, (size_t)n, max);
}
