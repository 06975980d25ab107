/* SPDX-License-Identifier: Apache-2.0 */
/* Memcache processor: the read loop (pipelining, streaming of large values,
 * swallowing refused ones) and the classic text commands. */
#include "processor/memcache.h"

#include "base/log.h"
#include "base/mm.h"
#include "base/time.h"
#include "processor/memcache_internal.h"
#include "processor/sendval.h"

#include <inttypes.h>
#include <string.h>

/* A storage request up to this size is buffered whole in the read buffer;
 * a larger value is streamed into the store as it arrives. */
#define MC_BUFFER_MAX (64 * KiB)
#define MC_SAMPLE     16 /* 1 in MC_SAMPLE requests is timed */
/* Values streamed into one reserved item at once. Such a value holds its
 * segment until the client sends the last byte, so slow clients could pin
 * a small heap and starve every other writer; past this many, a large
 * value waits in its connection's read buffer when worker.rbuf_max holds
 * it, else it streams into parts, which pin nothing (await_value). */
#define MC_STREAM_MAX 4

static uint32_t mc_streams; /* open stream reservations, all workers */

proc_memcache_metrics_st *mc_metrics;
static struct memcache_stats_source stats_source;

void
proc_memcache_setup(proc_memcache_metrics_st *metrics,
        const struct memcache_stats_source *source)
{
    mc_metrics = metrics;
    mc_watch_setup();
    if (source != NULL) {
        stats_source = *source;
    }
}

const struct memcache_stats_source *
mc_stats_source(void)
{
    return &stats_source;
}

void
proc_memcache_teardown(void)
{
    mc_watch_teardown();
    mc_metrics = NULL;
}

int64_t
mc_ttl_left(const struct storage_item *it, uint64_t now)
{
    if (it->expiry == TIME_NEVER) {
        return -1;
    }
    /* whole seconds left, rounded up: memcached counts in whole seconds
     * (expiry minus its clock), so a live item is at least 1, and a TTL
     * just set reads back as set, not one less */
    return it->expiry > now ? (int64_t)((it->expiry - now + 999) / 1000) : 0;
}

static rstatus_i
rsp(struct conn *c, const struct mc_state *st, memcache_rsp_type_e type,
        size_t max)
{
    if (st->req.noreply) {
        return STATUS_OK;
    }
    return memcache_compose_rsp(&c->wbuf, type, max);
}

static rstatus_i
server_error(
        struct conn *c, const struct mc_state *st, const char *msg, size_t max)
{
    INCR(mc_metrics, memcache_error);
    if (st->req.noreply) {
        return STATUS_OK;
    }
    return memcache_compose_server_error(&c->wbuf, msg, strlen(msg), max);
}

/* ---- the keyspace path, as memcache sees it ---- */

storage_status_e
mc_fetch(const void *key, size_t klen, bool touch, uint64_t expiry,
        uint64_t now, unsigned flags, struct storage_item *it)
{
    if (touch) {
        if (it != NULL) {
            *it = (struct storage_item){.key = NULL};
        }
        storage_status_e s = ks_expire(MC_DB, key, klen, STORAGE_TYPE_STRING,
                expiry, STORAGE_TTL_ALWAYS, now, it);
        if (s == STORAGE_OK && it != NULL && it->key == NULL &&
                !time_expired(expiry, now)) {
            /* a string in parts is touched with no view (its root is
             * rewritten under the key's lock): read it now (a gat of one
             * was sent empty with flags 0 before) */
            return mc_lookup(key, klen, KS_NOTOUCH | (flags & KS_RAW), now, it);
        }
        return s == STORAGE_EWRONGTYPE ? STORAGE_NOT_FOUND : s;
    }
    return mc_lookup(key, klen, flags & KS_RAW, now, it);
}

storage_status_e
mc_lookup(const void *key, size_t klen, unsigned flags, uint64_t now,
        struct storage_item *it)
{
    /* memcache counts its own hits and misses (get_hits ...): not Redis's
     * keyspace_hits */
    return ks_lookup(MC_DB, key, klen, STORAGE_TYPE_STRING, flags | KS_NOSTATS,
                   now, it) == KS_OK
                   ? STORAGE_OK
                   : STORAGE_NOT_FOUND;
}

bool
mc_other_type(const void *key, size_t klen, uint64_t now)
{
    return ks_lookup(MC_DB, key, klen, STORAGE_TYPE_STRING,
                   KS_NOTOUCH | KS_NOSTATS | KS_RAW, now, NULL) == KS_WRONGTYPE;
}

/* ---- retrieval: get gets gat gats ---- */

/* The large value a get is sending (sendval.h): pumped from the read loop
 * before the get's line is parsed again for the keys after it (or, after
 * mg or a binary get, before the next request). */
rstatus_i
mc_out_pump(
        struct conn *c, struct mc_state *st, const struct proc_limits *limits)
{
    uint64_t bytes = 0;
    sendval_e r = sendval_pump(st->out, c, limits, &bytes);
    INCR_N(mc_metrics, memcache_get_stream_byte, bytes);
    if (r == SENDVAL_MORE) {
        return STATUS_OK;
    }
    sendval_free(st->out);
    st->out = NULL;
    c->flags &= ~CONN_HELD;
    if (r == SENDVAL_DONE) {
        if (st->out_crlf) {
            memcpy(c->wbuf.wpos, "\r\n", 2); /* sendval left room for it */
            c->wbuf.wpos += 2;
        }
        return STATUS_OK;
    }
    if (r == SENDVAL_CUT) {
        INCR(mc_metrics, memcache_get_stream_cut);
        return STATUS_ERROR;
    }
    return STATUS_ENOMEM;
}

void
mc_out_begin(struct conn *c, struct mc_state *st, struct sendval *v, bool crlf)
{
    INCR(mc_metrics, memcache_get_stream);
    st->out = v;
    st->out_crlf = crlf;
    /* the read loop is run again with nothing left to read (the worker
     * lends a read buffer to a held connection) */
    c->flags |= CONN_HELD;
}

/* A get's key whose value is a string in parts past SENDVAL_MIN: its VALUE
 * line, then its bytes sent from its parts as the socket drains them
 * (mc_out_pump); the line is parsed again afterwards for the keys after it.
 * false: not one (it is answered whole). */
static bool
out_start(struct conn *c, struct mc_state *st, const char *line,
        const struct bstring *key, const struct storage_item *root,
        bool with_cas, uint32_t i, const struct proc_limits *limits,
        rstatus_i *rc)
{
    if (ks_str_len(root) <= SENDVAL_MIN) {
        return false;
    }
    struct sendval *v = sendval_new(MC_DB, root);
    if (v == NULL) {
        return false;
    }
    *rc = memcache_compose_value_header(&c->wbuf, key, ks_str_cflags(root),
            sendval_len(v), with_cas ? &root->cas : NULL, mc_max(limits));
    if (*rc != STATUS_OK) {
        sendval_free(v);
        return true;
    }
    INCR(mc_metrics, memcache_get_stream);
    st->out = v;
    st->out_crlf = true;
    st->resume_skip = i + 1;
    c->rbuf.rpos = (char *)line; /* the keys after it: parsed again */
    *rc = mc_out_pump(c, st, limits);
    c->flags |= CONN_STALLED; /* back to the read loop, which pumps */
    return true;
}

/* Answers keys from st->resume_skip on; stalls (rewinding rbuf to the line
 * so the views stay valid) when wbuf passes its high mark. */
static rstatus_i
retrieve(struct conn *c, struct mc_state *st, const char *line,
        const struct proc_limits *limits)
{
    struct memcache_request *req = &st->req;
    bool with_cas =
            req->type == MEMCACHE_REQ_GETS || req->type == MEMCACHE_REQ_GATS;
    bool touch =
            req->type == MEMCACHE_REQ_GAT || req->type == MEMCACHE_REQ_GATS;
    uint64_t expiry = touch ? time_memcache_expiry(req->exptime, c->now_ms) : 0;
    size_t max = mc_max(limits);
    if (st->resume_skip == 0) {
        INCR(mc_metrics, memcache_get);
    }
    size_t pos = 0;
    struct bstring key;
    uint32_t i = 0;
    for (; memcache_request_key_next(req, &pos, &key); i++) {
        if (i < st->resume_skip) {
            continue;
        }
        if (i > st->resume_skip && buf_rsize(&c->wbuf) > limits->wbuf_high) {
            st->resume_skip = i;
            c->rbuf.rpos = (char *)line; /* parse this line again later */
            c->flags |= CONN_STALLED;
            return STATUS_OK;
        }
        struct storage_item it;
        bool drop = touch && time_expired(expiry, c->now_ms);
        storage_status_e s;
        /* a value in parts is looked at before it is copied (gat too: the
         * touch keeps its CAS), except one gat deletes after its reply */
        if (!touch) {
            s = mc_lookup(key.data, key.len, KS_RAW, c->now_ms, &it);
        } else {
            s = mc_fetch(key.data, key.len, !drop, expiry, c->now_ms,
                    drop ? 0 : KS_RAW, &it);
        }
        bool root = s == STORAGE_OK && it.type == STORAGE_TYPE_STRING_PARTS;
        INCR(mc_metrics, memcache_get_key);
        mc_detail_record(key.data, key.len, MC_DETAIL_GET, s == STORAGE_OK);
        if (mc_watching(MC_WATCH_FETCHERS)) {
            mc_watch_get(c, key.data, key.len, s == STORAGE_OK,
                    s != STORAGE_OK ? 0
                    : root          ? ks_str_len(&it)
                                    : it.vlen);
        }
        if (s != STORAGE_OK) {
            if (touch) {
                INCR(mc_metrics, memcache_gat_miss);
            } else {
                INCR(mc_metrics, memcache_get_miss);
            }
            continue;
        }
        if (touch) {
            INCR(mc_metrics, memcache_gat_hit);
        } else {
            INCR(mc_metrics, memcache_get_hit);
        }
        rstatus_i rc = STATUS_OK;
        if (root) {
            if (out_start(c, st, line, &key, &it, with_cas, i, limits, &rc)) {
                return rc;
            }
            /* copied whole after all (no memory to send it in pieces) */
            s = mc_lookup(key.data, key.len, KS_NOTOUCH, c->now_ms, &it);
            if (s != STORAGE_OK) {
                continue;
            }
        }
        rc = memcache_compose_value(&c->wbuf, &key, it.cflags, it.value,
                it.vlen, with_cas ? &it.cas : NULL, max);
        if (rc != STATUS_OK) {
            return rc;
        }
        if (drop) {
            /* gat with a past exptime: memcached answers with the item,
             * which is expired from then on (the view is copied already) */
            ks_delete_cas(MC_DB, key.data, key.len, it.cas, c->now_ms);
        }
    }
    st->resume_skip = 0;
    return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_END, max);
}

/* ---- storage: set add replace append prepend cas ---- */

void
mc_count_store(bool cas, storage_status_e s)
{
    if (cas) {
        if (s == STORAGE_OK) {
            INCR(mc_metrics, memcache_cas_hit);
        } else if (s == STORAGE_EXISTS) {
            INCR(mc_metrics, memcache_cas_badval);
        } else if (s == STORAGE_NOT_FOUND || s == STORAGE_NOT_STORED) {
            INCR(mc_metrics, memcache_cas_miss);
        }
        return;
    }
    if (s == STORAGE_OK) {
        INCR(mc_metrics, memcache_store_ok);
    } else if (s == STORAGE_ENOMEM || s == STORAGE_EOVERSIZE) {
        INCR(mc_metrics, memcache_store_ex);
    } else {
        INCR(mc_metrics, memcache_store_not);
    }
}

/* The reply to a storage command's outcome, as memcached words it. */
static rstatus_i
store_reply(struct conn *c, struct mc_state *st, memcache_req_type_e type,
        const struct bstring *key, storage_status_e s, size_t max)
{
    mc_count_store(type == MEMCACHE_REQ_CAS, s);
    switch (s) {
    case STORAGE_OK:
        return rsp(c, st, MEMCACHE_RSP_STORED, max);
    case STORAGE_EXISTS:
        return rsp(c, st,
                type == MEMCACHE_REQ_CAS ? MEMCACHE_RSP_EXISTS
                                         : MEMCACHE_RSP_NOT_STORED,
                max);
    case STORAGE_NOT_FOUND:
        return rsp(c, st,
                type == MEMCACHE_REQ_CAS ? MEMCACHE_RSP_NOT_FOUND
                                         : MEMCACHE_RSP_NOT_STORED,
                max);
    case STORAGE_NOT_STORED:
        return rsp(c, st, MEMCACHE_RSP_NOT_STORED, max);
    case STORAGE_EOVERSIZE:
        if (type == MEMCACHE_REQ_APPEND || type == MEMCACHE_REQ_PREPEND) {
            /* the joined value is too large: memcached's allocation of
             * it fails and the command is NOT_STORED */
            return rsp(c, st, MEMCACHE_RSP_NOT_STORED, max);
        }
        /* memcached drops the old value when a set (only a set) is
         * refused as too large, so a reader never sees the stale one */
        if (key != NULL && type == MEMCACHE_REQ_SET) {
            ks_delete(MC_DB, key->data, key->len, c->now_ms);
        }
        return server_error(c, st, "object too large for cache", max);
    case STORAGE_ENOMEM:
        return server_error(c, st, "out of memory storing object", max);
    default:
        return server_error(c, st, "storage failure", max);
    }
}

static void
write_of(const struct memcache_request *req, uint64_t now,
        struct storage_write *w)
{
    memset(w, 0, sizeof(*w));
    w->expiry = time_memcache_expiry(req->exptime, now);
    w->cflags = req->flags;
    switch (req->type) {
    case MEMCACHE_REQ_ADD:
        w->mode = STORAGE_ADD;
        break;
    case MEMCACHE_REQ_REPLACE:
        w->mode = STORAGE_REPLACE;
        break;
    case MEMCACHE_REQ_CAS:
        w->mode = STORAGE_CAS;
        w->cas = req->cas;
        break;
    default:
        w->mode = STORAGE_SET;
        break;
    }
}

static void
count_storage_cmd(memcache_req_type_e type)
{
    switch (type) {
    case MEMCACHE_REQ_SET:
        INCR(mc_metrics, memcache_set);
        break;
    case MEMCACHE_REQ_ADD:
        INCR(mc_metrics, memcache_add);
        break;
    case MEMCACHE_REQ_REPLACE:
        INCR(mc_metrics, memcache_replace);
        break;
    case MEMCACHE_REQ_APPEND:
        INCR(mc_metrics, memcache_append);
        break;
    case MEMCACHE_REQ_PREPEND:
        INCR(mc_metrics, memcache_prepend);
        break;
    case MEMCACHE_REQ_CAS:
        INCR(mc_metrics, memcache_cas);
        break;
    default:
        break;
    }
}

static rstatus_i
store(struct conn *c, struct mc_state *st, size_t max)
{
    struct memcache_request *req = &st->req;
    count_storage_cmd(req->type);
    mc_detail_record(req->key.data, req->key.len, MC_DETAIL_SET, false);
    storage_status_e s;
    if (req->type == MEMCACHE_REQ_APPEND || req->type == MEMCACHE_REQ_PREPEND) {
        s = ks_append(MC_DB, req->key.data, req->key.len, req->value.data,
                req->value.len,
                req->type == MEMCACHE_REQ_APPEND ? STORAGE_APPEND
                                                 : STORAGE_PREPEND,
                STORAGE_MISSING_FAIL, 0, c->now_ms, NULL, NULL);
        /* a key of another type has no value to append to: missing */
        s = s == STORAGE_EWRONGTYPE ? STORAGE_NOT_STORED : s;
    } else if (req->type == MEMCACHE_REQ_CAS &&
               mc_other_type(req->key.data, req->key.len, c->now_ms)) {
        s = STORAGE_NOT_FOUND; /* no version a client could have read */
    } else {
        struct storage_write w;
        write_of(req, c->now_ms, &w);
        s = ks_set(MC_DB, req->key.data, req->key.len, req->value.data,
                req->value.len, &w, c->now_ms, NULL, NULL);
    }
    if (mc_watching(MC_WATCH_MUTATIONS)) {
        mc_watch_store(c, req->type, req->key.data, req->key.len, s,
                time_memcache_expiry(req->exptime, c->now_ms),
                (uint32_t)req->value.len);
    }
    return store_reply(c, st, req->type, &req->key, s, max);
}

/* ---- streaming of values larger than MC_BUFFER_MAX ---- */

/* set, add, replace, cas, and an ms that stores plainly (not append,
 * prepend or an invalidating CAS store, which read the old value) */
static bool
streamable(const struct memcache_request *req)
{
    switch (req->type) {
    case MEMCACHE_REQ_SET:
    case MEMCACHE_REQ_ADD:
    case MEMCACHE_REQ_REPLACE:
    case MEMCACHE_REQ_CAS:
        return true;
    case MEMCACHE_REQ_MS:
        return mc_meta_set_streamable(req);
    default:
        return false;
    }
}

/* An ms line kept for its reply, which names its key and opaque: the views
 * into the read buffer are moved into the copy (the line is consumed when
 * the value starts). false: no memory. */
static bool
line_keep(struct conn *c, struct mc_state *st)
{
    struct memcache_request *req = &st->req;
    const char *line = c->rbuf.rpos;
    st->stream_line = mm_alloc(req->hdr_len);
    if (st->stream_line == NULL) {
        return false;
    }
    memcpy(st->stream_line, line, req->hdr_len);
    struct bstring *views[] = {
            &req->key, &req->meta.key_wire, &req->meta.opaque};
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        const char *d = (const char *)views[i]->data;
        if (d != NULL && d >= line && d < line + req->hdr_len) {
            views[i]->data = (const void *)(st->stream_line + (d - line));
        }
    }
    return true;
}

static bool
stream_slot_acquire(void)
{
    if (__atomic_add_fetch(&mc_streams, 1, __ATOMIC_RELAXED) <= MC_STREAM_MAX) {
        return true;
    }
    __atomic_sub_fetch(&mc_streams, 1, __ATOMIC_RELAXED);
    return false;
}

/* Gives back the slot the stream holds, if it holds one. */
static void
stream_slot_drop(struct mc_state *st)
{
    if (st->stream_slot) {
        __atomic_sub_fetch(&mc_streams, 1, __ATOMIC_RELAXED);
        st->stream_slot = false;
    }
}

/* Reserves room in the store and consumes the command line. RESERVE: the
 * caller holds a stream slot, kept while the reservation is (parts when
 * the value is past one item); PARTS: into parts whatever the size, with
 * no slot (a part is written as soon as its bytes are in). */
typedef enum {
    MC_STREAM_RESERVE,
    MC_STREAM_PARTS,
} mc_stream_e;

static void
stream_begin(struct conn *c, struct mc_state *st, mc_stream_e how)
{
    struct memcache_request *req = &st->req;
    struct storage_write w;
    storage_status_e pre = STORAGE_OK;
    if (req->type == MEMCACHE_REQ_MS) {
        INCR(mc_metrics, memcache_meta);
        INCR(mc_metrics, memcache_set);
        pre = mc_meta_set_write(c, req, &w);
        if (!line_keep(c, st)) {
            pre = STORAGE_ENOMEM; /* the value is discarded, then said */
        }
    } else {
        write_of(req, c->now_ms, &w);
        count_storage_cmd(req->type);
        if (req->type == MEMCACHE_REQ_CAS &&
                mc_other_type(req->key.data, req->key.len, c->now_ms)) {
            pre = STORAGE_NOT_FOUND; /* as in store() */
        }
    }
    mc_stream_open(c, st, req->key.data, req->key.len, req->vlen, &w, pre,
            how == MC_STREAM_RESERVE,
            req->type == MEMCACHE_REQ_SET || req->type == MEMCACHE_REQ_MS);
    memcache_parse_value_begin(req, &c->rbuf);
}

void
mc_stream_open(struct conn *c, struct mc_state *st, const char *key,
        size_t klen, size_t vlen, const struct storage_write *w,
        storage_status_e pre, bool slot, bool drop_if_big)
{
    mc_detail_record(key, klen, MC_DETAIL_SET, false);
    INCR(mc_metrics, memcache_stream);
    st->stream_slot = slot;
    if (pre != STORAGE_OK) {
        st->stream_status = pre;
    } else if (!slot) {
        st->stream_status = STORAGE_EOVERSIZE; /* parts, below */
    } else {
        st->stream_status =
                ks_reserve(&st->res, MC_DB, key, klen, vlen, w, c->now_ms);
    }
    st->big = NULL;
    if (st->stream_status == STORAGE_EOVERSIZE) {
        /* past one item (or no slot): into parts as it arrives, when -I
         * allows it */
        st->big = ks_stream_begin(
                MC_DB, key, klen, vlen, w, c->now_ms, &st->stream_status);
        if (st->big != NULL && st->stream_slot) {
            /* the slot bounds open reservations: parts go straight in */
            ks_stream_reserve_parts(st->big);
        }
    }
    if (st->stream_status != STORAGE_OK) {
        stream_slot_drop(st); /* nothing held: the value is discarded */
    }
    if (st->stream_status == STORAGE_EOVERSIZE && drop_if_big) {
        /* drop the old value now: the key view dies with the line */
        ks_delete(MC_DB, key, klen, c->now_ms);
    }
    /* the commit names the key again (keyspace.h) */
    st->stream_klen = (uint8_t)klen;
    memcpy(st->stream_key, key, klen);
    st->filled = 0;
    st->streaming = true;
}

void
mc_stream_take(struct conn *c, struct mc_state *st, const void *data, size_t n)
{
    if (st->stream_status == STORAGE_OK && n > 0 && st->big != NULL) {
        ks_stream_write(st->big, data, n, c->now_ms);
    } else if (st->stream_status == STORAGE_OK && n > 0) {
        memcpy(st->res.value + st->filled, data, n);
    }
    st->filled += n;
}

storage_status_e
mc_stream_commit(struct conn *c, struct mc_state *st, uint64_t *cas)
{
    st->streaming = false;
    stream_slot_drop(st);
    storage_status_e s = st->stream_status;
    if (s == STORAGE_OK && st->big != NULL) {
        s = ks_stream_commit(&st->big, c->now_ms, cas);
    } else if (s == STORAGE_OK) {
        s = ks_commit(&st->res, MC_DB, st->stream_key, st->stream_klen,
                c->now_ms, cas);
    }
    return s;
}

bool
mc_stream_slot(void)
{
    return stream_slot_acquire();
}

/* Drops what an open stream holds (a reservation, or parts written). */
static void
stream_abort(struct conn *c, struct mc_state *st)
{
    if (st->big != NULL) {
        ks_stream_abort(&st->big, c->now_ms);
    } else {
        ks_abort(&st->res);
    }
}

/* Takes what value bytes have arrived; finishes the request once whole. */
static rstatus_i
stream_continue(struct conn *c, struct mc_state *st, size_t max, bool *more)
{
    struct memcache_request *req = &st->req;
    struct bstring chunk;
    memcache_parse_e p = memcache_parse_value(req, &c->rbuf, &chunk);
    mc_stream_take(c, st, chunk.data, chunk.len);
    *more = p == MEMCACHE_PARSE_UNFIN;
    if (*more) {
        return STATUS_OK;
    }
    st->streaming = false;
    stream_slot_drop(st); /* committed or aborted just below */
    if (p == MEMCACHE_PARSE_EINVALID) {
        if (st->stream_status == STORAGE_OK) {
            stream_abort(c, st);
        }
        mm_free(&st->stream_line);
        INCR(mc_metrics, memcache_error);
        return memcache_compose_error(&c->wbuf, req->error, max);
    }
    uint64_t cas = 0;
    storage_status_e s = mc_stream_commit(c, st, &cas);
    if (req->type == MEMCACHE_REQ_MS) {
        rstatus_i rc = mc_meta_set_stored(c, st, s, cas, max);
        mm_free(&st->stream_line);
        return rc;
    }
    if (mc_watching(MC_WATCH_MUTATIONS)) {
        mc_watch_store(c, req->type, (const char *)st->stream_key,
                st->stream_klen, s,
                time_memcache_expiry(req->exptime, c->now_ms),
                (uint32_t)st->filled);
    }
    /* key NULL: an oversized set's old value went at stream_begin */
    return store_reply(c, st, req->type, NULL, s, max);
}

/* ---- other classic commands ---- */

static rstatus_i
delete_key(struct conn *c, struct mc_state *st, size_t max)
{
    struct memcache_request *req = &st->req;
    INCR(mc_metrics, memcache_delete);
    mc_detail_record(req->key.data, req->key.len, MC_DETAIL_DEL, false);
    /* a key of any type goes, whole */
    storage_status_e s =
            ks_delete(MC_DB, req->key.data, req->key.len, c->now_ms);
    if (mc_watching(MC_WATCH_FETCHERS)) {
        /* memcached's delete fetches the item first: a fetcher line; the
         * size is not known here (0) */
        mc_watch_get(c, req->key.data, req->key.len, s == STORAGE_OK, 0);
    }
    if (s == STORAGE_OK) {
        INCR(mc_metrics, memcache_delete_hit);
        return rsp(c, st, MEMCACHE_RSP_DELETED, max);
    }
    INCR(mc_metrics, memcache_delete_miss);
    return rsp(c, st, MEMCACHE_RSP_NOT_FOUND, max);
}

static rstatus_i
arith(struct conn *c, struct mc_state *st, size_t max)
{
    struct memcache_request *req = &st->req;
    bool incr = req->type == MEMCACHE_REQ_INCR;
    if (incr) {
        INCR(mc_metrics, memcache_incr);
    } else {
        INCR(mc_metrics, memcache_decr);
    }
    uint64_t value;
    storage_status_e s = ks_incr_unsigned(MC_DB, req->key.data, req->key.len,
            req->delta, incr ? KS_INCR : KS_DECR, 0, c->now_ms, &value, NULL);
    if (mc_watching(MC_WATCH_FETCHERS)) {
        /* memcached's incr/decr fetch the item first */
        mc_watch_get(c, req->key.data, req->key.len,
                s == STORAGE_OK || s == STORAGE_ENAN, 0);
    }
    switch (s == STORAGE_EWRONGTYPE ? STORAGE_NOT_FOUND : s) {
    case STORAGE_OK:
        if (incr) {
            INCR(mc_metrics, memcache_incr_hit);
        } else {
            INCR(mc_metrics, memcache_decr_hit);
        }
        return req->noreply ? STATUS_OK
                            : memcache_compose_number(&c->wbuf, value, max);
    case STORAGE_NOT_FOUND:
        if (incr) {
            INCR(mc_metrics, memcache_incr_miss);
        } else {
            INCR(mc_metrics, memcache_decr_miss);
        }
        return rsp(c, st, MEMCACHE_RSP_NOT_FOUND, max);
    case STORAGE_ENAN: {
        static const char msg[] = "cannot increment or decrement non-numeric "
                                  "value";
        INCR(mc_metrics, memcache_error);
        return req->noreply ? STATUS_OK
                            : memcache_compose_client_error(
                                      &c->wbuf, msg, sizeof(msg) - 1, max);
    }
    case STORAGE_ENOMEM:
        return server_error(c, st, "out of memory", max);
    default:
        return server_error(c, st, "storage failure", max);
    }
}

static rstatus_i
touch(struct conn *c, struct mc_state *st, size_t max)
{
    struct memcache_request *req = &st->req;
    INCR(mc_metrics, memcache_touch);
    uint64_t expiry = time_memcache_expiry(req->exptime, c->now_ms);
    /* with a view the store records the access: memcached's touch marks
     * the item fetched (meta h) */
    struct storage_item it;
    storage_status_e s = mc_fetch(
            req->key.data, req->key.len, true, expiry, c->now_ms, KS_RAW, &it);
    if (mc_watching(MC_WATCH_FETCHERS)) {
        mc_watch_get(c, req->key.data, req->key.len, s == STORAGE_OK,
                s != STORAGE_OK                        ? 0
                : it.type == STORAGE_TYPE_STRING_PARTS ? ks_str_len(&it)
                                                       : it.vlen);
    }
    if (s == STORAGE_OK) {
        INCR(mc_metrics, memcache_touch_hit);
        return rsp(c, st, MEMCACHE_RSP_TOUCHED, max);
    }
    INCR(mc_metrics, memcache_touch_miss);
    return rsp(c, st, MEMCACHE_RSP_NOT_FOUND, max);
}

static rstatus_i
flush_all(struct conn *c, struct mc_state *st, size_t max)
{
    INCR(mc_metrics, memcache_flush);
    int32_t delay = st->req.exptime;
    uint64_t at =
            delay <= 0 ? c->now_ms : time_memcache_expiry(delay, c->now_ms);
    ks_flush(MC_DB, at, c->now_ms);
    mc_note_flush(at);
    return rsp(c, st, MEMCACHE_RSP_OK, max);
}

static rstatus_i
stats(struct conn *c, struct mc_state *st, size_t max)
{
    struct memcache_request *req = &st->req;
    struct buf *w = &c->wbuf;
    struct bstring group = req->narg > 0 ? req->arg[0] : bstring_of("", 0);
    if (bstring_equal_cstr(&group, "reset")) {
        if (stats_source.reset != NULL) {
            stats_source.reset();
        }
        mc_detail_reset(); /* memcached's stats reset clears them too */
        return memcache_compose_rsp(w, MEMCACHE_RSP_RESET, max);
    }
    if (bstring_equal_cstr(&group, "detail")) {
        return mc_stats_detail(c, st, max);
    }
    if (stats_source.stats == NULL) {
        return memcache_compose_rsp(w, MEMCACHE_RSP_END, max);
    }
    rstatus_i rc = stats_source.stats(w, max, &group);
    if (rc == STATUS_EINVAL) {
        return memcache_compose_rsp(w, MEMCACHE_RSP_ERROR, max);
    }
    return rc != STATUS_OK ? rc
                           : memcache_compose_rsp(w, MEMCACHE_RSP_END, max);
}

static rstatus_i
refuse_line(struct conn *c, const char *msg, size_t max)
{
    INCR(mc_metrics, memcache_error);
    return memcache_compose_line(&c->wbuf, msg, strlen(msg), max);
}

/* memcached's refresh_certs: "OK", or why the old certificate stays.
 * Without TLS, memcached 1.6.18 built with TLS (Debian's) answers "Error
 * TLS not enabled", noreply or not. */
static rstatus_i
refresh_certs(struct conn *c, struct mc_state *st, size_t max)
{
    const struct memcache_stats_source *src = mc_stats_source();
    char err[512], line[600];
    rstatus_i rc = src != NULL && src->refresh_certs != NULL
                           ? src->refresh_certs(err, sizeof(err))
                           : STATUS_ENOTFOUND;
    if (rc == STATUS_ENOTFOUND) {
        return refuse_line(c, "Error TLS not enabled", max);
    }
    if (rc == STATUS_OK) {
        return rsp(c, st, MEMCACHE_RSP_OK, max);
    }
    if (st->req.noreply) {
        return STATUS_OK;
    }
    snprintf(line, sizeof(line), "SERVER_ERROR failed to refresh certs: %s",
            err);
    return refuse_line(c, line, max);
}

static rstatus_i
other(struct conn *c, struct mc_state *st, size_t max)
{
    struct memcache_request *req = &st->req;
    INCR(mc_metrics, memcache_other);
    switch (req->type) {
    case MEMCACHE_REQ_VERSION:
        /* memcached's version first: clients parse major.minor.patch */
        return memcache_compose_version(
                &c->wbuf, "1.6.18-segcached-" SEGCACHED_VERSION, max);
    case MEMCACHE_REQ_VERBOSITY:
        return mc_verbosity(c, st, max);
    case MEMCACHE_REQ_QUIT:
        c->flags |= CONN_CLOSE;
        return STATUS_OK;
    case MEMCACHE_REQ_STATS:
        return stats(c, st, max);
    case MEMCACHE_REQ_SHUTDOWN:
        return refuse_line(c, "ERROR: shutdown not enabled", max);
    case MEMCACHE_REQ_REFRESH_CERTS:
        return refresh_certs(c, st, max);
    case MEMCACHE_REQ_CACHE_MEMLIMIT:
        return mc_memlimit(c, st, max);
    case MEMCACHE_REQ_SLABS:
        return mc_slabs(c, st, max);
    case MEMCACHE_REQ_LRU:
        return mc_lru(c, st, max);
    case MEMCACHE_REQ_WATCH:
        return mc_watch(c, st, max);
    default:
        return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_ERROR, max);
    }
}

/* ---- dispatch and the read loop ---- */

typedef enum {
    FAMILY_GET,
    FAMILY_SET,
    FAMILY_OTHER,
} family_e;

static family_e
family_of(memcache_req_type_e type)
{
    if (memcache_req_is_retrieval(type) || type == MEMCACHE_REQ_MG) {
        return FAMILY_GET;
    }
    return memcache_req_is_storage(type) ? FAMILY_SET : FAMILY_OTHER;
}

static rstatus_i
execute(struct conn *c, struct mc_state *st, const char *line,
        const struct proc_limits *limits)
{
    size_t max = mc_max(limits);
    memcache_req_type_e type = st->req.type;
    if (memcache_req_is_retrieval(type)) {
        return retrieve(c, st, line, limits);
    }
    if (memcache_req_is_storage(type) && type != MEMCACHE_REQ_MS) {
        return store(c, st, max);
    }
    switch (type) {
    case MEMCACHE_REQ_DELETE:
        return delete_key(c, st, max);
    case MEMCACHE_REQ_INCR:
    case MEMCACHE_REQ_DECR:
        return arith(c, st, max);
    case MEMCACHE_REQ_TOUCH:
        return touch(c, st, max);
    case MEMCACHE_REQ_FLUSH_ALL:
        return flush_all(c, st, max);
    case MEMCACHE_REQ_MG:
        return mc_meta_get(c, st, max);
    case MEMCACHE_REQ_MS:
        return mc_meta_set(c, st, max);
    case MEMCACHE_REQ_MD:
        return mc_meta_delete(c, st, max);
    case MEMCACHE_REQ_MA:
        return mc_meta_arith(c, st, max);
    case MEMCACHE_REQ_MN:
        INCR(mc_metrics, memcache_meta);
        return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_MN, max);
    case MEMCACHE_REQ_ME:
        return mc_meta_debug(c, st, max);
    case MEMCACHE_REQ_LRU_CRAWLER:
        INCR(mc_metrics, memcache_other);
        return mc_lru_crawler(c, st, line, limits);
    case MEMCACHE_REQ_STATS:
        if (st->req.narg > 0 &&
                bstring_equal_cstr(&st->req.arg[0], "cachedump")) {
            INCR(mc_metrics, memcache_other);
            return mc_cachedump(c, st, line, limits);
        }
        return other(c, st, max);
    default:
        return other(c, st, max);
    }
}

static rstatus_i
execute_timed(struct conn *c, struct mc_state *st, const char *line,
        const struct proc_limits *limits)
{
    if (mc_metrics == NULL || ++st->nreq % MC_SAMPLE != 0) {
        rstatus_i rc = execute(c, st, line, limits);
        ks_scratch_release(); /* copies of values in parts: replied */
        return rc;
    }
    family_e family = family_of(st->req.type);
    uint64_t t0 = time_mono_ns();
    rstatus_i rc = execute(c, st, line, limits);
    ks_scratch_release();
    uint64_t ns = time_mono_ns() - t0;
    if (family == FAMILY_GET) {
        RECORD(mc_metrics, memcache_lat_get, ns);
    } else if (family == FAMILY_SET) {
        RECORD(mc_metrics, memcache_lat_set, ns);
    } else {
        RECORD(mc_metrics, memcache_lat_other, ns);
    }
    return rc;
}

/* A request the parser refused: its reply, and what happens next. */
static rstatus_i
refused(struct conn *c, struct mc_state *st, memcache_parse_e p, size_t max)
{
    struct memcache_request *req = &st->req;
    INCR(mc_metrics, memcache_error);
    if (p == MEMCACHE_PARSE_EBINARY) {
        INCR(mc_metrics, memcache_binary);
        buf_clear(&c->rbuf);
        c->flags |= CONN_CLOSE;
        return memcache_compose_binary_refusal(&c->wbuf, req, max);
    }
    if (req->error == MEMCACHE_ERR_HTTP) {
        /* memcached closes at once, dropping the replies it still held */
        log_debug("memcache conn %" PRIu64 ": HTTP request, closed", c->id);
        buf_clear(&c->rbuf);
        buf_clear(&c->wbuf);
        return STATUS_ERROR;
    }
    if (p == MEMCACHE_PARSE_EOVERSIZE && req->key.len > 0 &&
            req->type != MEMCACHE_REQ_MS) {
        /* memcached counts a storage command's prefix before it sizes
         * the item */
        mc_detail_record(req->key.data, req->key.len, MC_DETAIL_SET, false);
    }
    if (p == MEMCACHE_PARSE_EOVERSIZE && req->key.len > 0 &&
            (req->type == MEMCACHE_REQ_SET || req->type == MEMCACHE_REQ_MS)) {
        /* memcached drops the old value of a key refused as too large by
         * set or ms (not add, replace, cas, append, prepend) */
        ks_delete(MC_DB, req->key.data, req->key.len, c->now_ms);
    }
    if (req->error == MEMCACHE_ERR_LINE_TOO_LONG) {
        /* memcached closes silently; we say why first (documented) */
        buf_clear(&c->rbuf);
        c->flags |= CONN_CLOSE;
    }
    if (req->noreply) {
        return STATUS_OK;
    }
    return memcache_compose_error(&c->wbuf, req->error, max);
}

rstatus_i
mc_await_whole(struct conn *c, size_t need, const struct proc_limits *limits)
{
    size_t have = buf_rsize(&c->rbuf);
    if (need <= have) {
        return STATUS_OK;
    }
    size_t cap = limits->rbuf_max;
    /* a line or header within rbuf_max, then a value within -I, its
     * terminator and (binary) extras and key */
    if (need > cap &&
            need <= cap + memcache_parse_item_size_max() + MC_BUFFER_MAX) {
        cap = need;
    }
    if (buf_reserve(&c->rbuf, need - have, cap) != STATUS_OK) {
        log_debug("conn %" PRIu64 ": no room for a request of %zu bytes", c->id,
                need);
        return STATUS_ENOMEM;
    }
    return STATUS_OK;
}

/* After UNFIN on a storage command whose line is whole: buffer the value
 * when it is small, else stream it into the store: into one reserved item
 * while a stream slot is free, else into parts (which hold no segment, so
 * need no slot) once the read buffer could not hold it within
 * worker.rbuf_max. Only append and prepend values past MC_BUFFER_MAX are
 * still received whole (mc_await_whole). */
static rstatus_i
await_value(struct conn *c, struct mc_state *st,
        const struct proc_limits *limits, bool *wait)
{
    struct memcache_request *req = &st->req;
    *wait = true;
    if (req->need <= MC_BUFFER_MAX || !streamable(req)) {
        return mc_await_whole(c, req->need, limits);
    }
    mc_stream_e how = MC_STREAM_RESERVE;
    if (!stream_slot_acquire()) {
        if (req->need <= limits->rbuf_max) {
            return mc_await_whole(c, req->need, limits);
        }
        how = MC_STREAM_PARTS;
    }
    stream_begin(c, st, how);
    *wait = false;
    return STATUS_OK;
}

static struct mc_state *
state_of(struct conn *c)
{
    if (c->data == NULL) {
        c->data = mm_zalloc(sizeof(struct mc_state));
        /* a connection's state is made with its first bytes: that is
         * when watch sees it open */
        if (c->data != NULL && mc_watching(MC_WATCH_CONNEVENTS)) {
            mc_watch_conn(c, true);
        }
    }
    return c->data;
}

static rstatus_i
mc_read(struct conn *c, const struct proc_limits *limits)
{
    struct mc_state *st = state_of(c);
    if (st == NULL) {
        return STATUS_ENOMEM;
    }
    ks_set_protocol(KS_PROTO_MEMCACHE);
    if (st->watch_kinds != 0) {
        /* a watcher's connection only listens, as memcached's (which hands
         * it to the logger thread): what it sends is dropped */
        buf_clear(&c->rbuf);
        return STATUS_OK;
    }
    if (st->proto != MC_PROTO_TEXT) {
        /* the first byte decides, for the life of the connection */
        if (st->proto == MC_PROTO_UNKNOWN && !buf_empty(&c->rbuf)) {
            st->proto = (unsigned char)c->rbuf.rpos[0] == MEMCACHE_BIN_REQ_MAGIC
                                ? MC_PROTO_BINARY
                                : MC_PROTO_TEXT;
        }
        if (st->proto == MC_PROTO_BINARY) {
            return mc_binary_read(c, st, limits);
        }
    }
    size_t max = mc_max(limits);
    while (!(c->flags & CONN_CLOSE)) {
        if (st->watch_kinds != 0) {
            buf_clear(&c->rbuf); /* what came after `watch`, as above */
            return STATUS_OK;
        }
        if (buf_rsize(&c->wbuf) > limits->wbuf_high) {
            c->flags |= CONN_STALLED;
            return STATUS_OK;
        }
        rstatus_i rc = STATUS_OK;
        if (st->out != NULL) {
            rc = mc_out_pump(c, st, limits);
            if (rc != STATUS_OK || st->out != NULL) {
                return rc; /* the rest waits for the value's end */
            }
            continue;
        }
        if (st->streaming) {
            bool more;
            rc = stream_continue(c, st, max, &more);
            if (rc != STATUS_OK || more) {
                return rc;
            }
            continue;
        }
        if (st->req.swallow > 0 &&
                memcache_parse_swallow(&st->req, &c->rbuf) > 0) {
            return STATUS_OK;
        }
        if (buf_empty(&c->rbuf)) {
            return STATUS_OK;
        }
        const char *line = c->rbuf.rpos;
        memcache_parse_e p = memcache_parse_req(&st->req, &c->rbuf);
        if (p == MEMCACHE_PARSE_OK) {
            rc = execute_timed(c, st, line, limits);
        } else if (p == MEMCACHE_PARSE_UNFIN) {
            if (st->req.need == 0) {
                return STATUS_OK; /* the line is not whole yet */
            }
            bool wait;
            rc = await_value(c, st, limits, &wait);
            if (rc != STATUS_OK || wait) {
                return rc;
            }
        } else {
            rc = refused(c, st, p, max);
        }
        if (rc != STATUS_OK) {
            return rc;
        }
        if (c->flags & CONN_STALLED) {
            return STATUS_OK;
        }
    }
    return STATUS_OK;
}

static void
mc_error(struct conn *c)
{
    struct mc_state *st = c->data;
    if (st == NULL) {
        return;
    }
    if (st->streaming && st->stream_status == STORAGE_OK) {
        stream_abort(c, st); /* the client left mid-value */
    }
    mm_free(&st->stream_line);
    stream_slot_drop(st);
    sendval_free(st->out); /* a value half sent */
    st->out = NULL;
    mc_watch_release(c, st);
    if (mc_watching(MC_WATCH_CONNEVENTS)) {
        mc_watch_conn(c, false);
    }
    mm_free(&c->data);
}

const struct processor proc_memcache = {
        .name = "memcache",
        .read = mc_read,
        .write = NULL,
        .error = mc_error,
        /* memcached's, with its default maxconns_fast */
        .refusal = "ERROR Too many open connections\r\n",
};
