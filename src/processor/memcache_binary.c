/* SPDX-License-Identifier: Apache-2.0 */
/* memcached's binary protocol on the memcache port: a connection whose
 * first byte is 0x80 speaks it from then on (memcached decides per
 * connection the same way). Replies as memcached 1.6.18 words them; quiet
 * opcodes answer only errors (and hits, for GETQ GETKQ GATQ GATKQ). A set,
 * add or replace value past 64 KiB is received into the store in pieces,
 * as a text set's (value_stream); append and prepend values are buffered
 * whole in the read buffer (memcache.item_size_max bounds them:
 * mc_await_whole). */
#include "base/log.h"
#include "base/time.h"
#include "processor/memcache_internal.h"
#include "processor/sendval.h"
#include "protocol/memcache/binary.h"

#include <string.h>

static void
be_put(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    }
}

static rstatus_i
ok_reply(struct conn *c, const struct memcache_bin_request *req,
        const struct memcache_bin_response *rsp, size_t max)
{
    if (memcache_bin_opcode_quiet(req->opcode)) {
        return STATUS_OK;
    }
    return memcache_bin_compose_rsp(&c->wbuf, rsp, max);
}

static rstatus_i
ok_empty(struct conn *c, const struct memcache_bin_request *req, uint64_t cas,
        size_t max)
{
    struct memcache_bin_response rsp = {
            .opcode = req->opcode,
            .opaque = req->opaque,
            .cas = cas,
    };
    return ok_reply(c, req, &rsp, max);
}

static rstatus_i
error_reply(struct conn *c, const struct memcache_bin_request *req,
        memcache_bin_status_e status, size_t max)
{
    if (status != MEMCACHE_BIN_KEY_ENOENT) {
        INCR(mc_metrics, memcache_error);
    }
    return memcache_bin_compose_error(&c->wbuf, req, status, max);
}

/* exptime as memcached reads it from binary extras: unsigned */
static uint64_t
expiry_of(uint32_t exptime, uint64_t now)
{
    return time_memcache_expiry((int64_t)exptime, now);
}

/* ---- get getk getq getkq touch gat gatq gatk gatkq ---- */

static rstatus_i
bin_get(struct conn *c, struct mc_state *st,
        const struct memcache_bin_request *req, size_t max)
{
    uint8_t loud = memcache_bin_opcode_loud(req->opcode);
    bool touch_only = loud == MEMCACHE_BIN_TOUCH;
    bool touch =
            touch_only || loud == MEMCACHE_BIN_GAT || loud == MEMCACHE_BIN_GATK;
    bool with_key = loud == MEMCACHE_BIN_GETK || loud == MEMCACHE_BIN_GATK;
    uint64_t expiry = touch ? expiry_of(req->exptime, c->now_ms) : 0;
    bool drop = touch && time_expired(expiry, c->now_ms);
    struct storage_item it;
    storage_status_e s = mc_fetch(req->key.data, req->key.len, touch && !drop,
            expiry, c->now_ms, 0, &it);
    if (touch_only) {
        INCR(mc_metrics, memcache_touch);
    } else {
        INCR(mc_metrics, memcache_get);
        INCR(mc_metrics, memcache_get_key);
    }
    if (s != STORAGE_OK) {
        if (touch_only) {
            INCR(mc_metrics, memcache_touch_miss);
        } else if (touch) {
            INCR(mc_metrics, memcache_gat_miss);
        } else {
            INCR(mc_metrics, memcache_get_miss);
        }
        if (memcache_bin_opcode_quiet(req->opcode)) {
            return STATUS_OK;
        }
        if (with_key) {
            struct memcache_bin_response rsp = {
                    .opcode = req->opcode,
                    .status = MEMCACHE_BIN_KEY_ENOENT,
                    .opaque = req->opaque,
                    .key = req->key,
            };
            return memcache_bin_compose_rsp(&c->wbuf, &rsp, max);
        }
        return memcache_bin_compose_error(
                &c->wbuf, req, MEMCACHE_BIN_KEY_ENOENT, max);
    }
    if (touch_only) {
        INCR(mc_metrics, memcache_touch_hit);
    } else if (touch) {
        INCR(mc_metrics, memcache_gat_hit);
    } else {
        INCR(mc_metrics, memcache_get_hit);
    }
    unsigned char flags[4];
    be_put(flags, it.cflags, 4);
    /* a large value (read whole out of its parts) is sent from that copy
     * in pieces after the header (sendval.h) */
    struct sendval *v = !touch_only && it.vlen > SENDVAL_MIN
                                ? sendval_new_copy(it.value, it.vlen)
                                : NULL;
    struct memcache_bin_response rsp = {
            .opcode = req->opcode,
            .opaque = req->opaque,
            .cas = it.cas,
            .extras = flags,
            .extlen = 4,
            .key = with_key ? req->key : bstring_of(NULL, 0),
            .value = touch_only || v != NULL ? NULL : it.value,
            .vlen = touch_only ? 0 : it.vlen,
    };
    rstatus_i rc = memcache_bin_compose_rsp(&c->wbuf, &rsp, max);
    if (v != NULL && rc == STATUS_OK) {
        sendval_own(v);
        mc_out_begin(c, st, v, false);
    } else {
        sendval_free(v);
    }
    if (rc == STATUS_OK && drop) {
        /* a past exptime: answered with the item, expired from then on */
        ks_delete_cas(MC_DB, req->key.data, req->key.len, it.cas, c->now_ms);
    }
    return rc;
}

/* ---- set add replace append prepend ---- */

static void
count_store(uint8_t loud, bool cas, storage_status_e s)
{
    if (cas) {
        INCR(mc_metrics, memcache_cas);
        mc_count_store(true, s);
        return;
    }
    switch (loud) {
    case MEMCACHE_BIN_SET:
        INCR(mc_metrics, memcache_set);
        break;
    case MEMCACHE_BIN_ADD:
        INCR(mc_metrics, memcache_add);
        break;
    case MEMCACHE_BIN_REPLACE:
        INCR(mc_metrics, memcache_replace);
        break;
    case MEMCACHE_BIN_APPEND:
        INCR(mc_metrics, memcache_append);
        break;
    default:
        INCR(mc_metrics, memcache_prepend);
        break;
    }
    mc_count_store(false, s);
}

/* The write of a set, add or replace; not OK: its answer without a write
 * (a CAS on a key of another type). */
static storage_status_e
store_write(struct conn *c, const struct memcache_bin_request *req,
        struct storage_write *w)
{
    uint8_t loud = memcache_bin_opcode_loud(req->opcode);
    memset(w, 0, sizeof(*w));
    w->expiry = expiry_of(req->exptime, c->now_ms);
    w->cflags = req->flags;
    if (req->cas != 0) {
        /* memcached: a CAS in the header makes any of the three a cas */
        w->mode = STORAGE_CAS;
        w->cas = req->cas;
    } else if (loud == MEMCACHE_BIN_ADD) {
        w->mode = STORAGE_ADD;
    } else if (loud == MEMCACHE_BIN_REPLACE) {
        w->mode = STORAGE_REPLACE;
    } else {
        w->mode = STORAGE_SET;
    }
    if (req->cas != 0 &&
            mc_other_type(req->key.data, req->key.len, c->now_ms)) {
        return STORAGE_NOT_FOUND; /* no version a client could have read */
    }
    return STORAGE_OK;
}

/* The reply to a set, add or replace of key once the store answered s. */
static rstatus_i
store_done(struct conn *c, const struct memcache_bin_request *req,
        const void *key, size_t klen, storage_status_e s, uint64_t cas,
        size_t max)
{
    uint8_t loud = memcache_bin_opcode_loud(req->opcode);
    count_store(loud, req->cas != 0, s);
    switch (s) {
    case STORAGE_OK:
        return ok_empty(c, req, cas, max);
    case STORAGE_EXISTS:
        return error_reply(c, req, MEMCACHE_BIN_KEY_EEXISTS, max);
    case STORAGE_NOT_FOUND:
    case STORAGE_NOT_STORED:
        return error_reply(c, req, MEMCACHE_BIN_KEY_ENOENT, max);
    case STORAGE_EOVERSIZE:
    case STORAGE_ENOMEM:
        /* memcached fails the allocation before it looks at the mode, and
         * drops the old value so a reader never sees a stale one */
        ks_delete(MC_DB, key, klen, c->now_ms);
        return error_reply(c, req,
                s == STORAGE_ENOMEM ? MEMCACHE_BIN_ENOMEM : MEMCACHE_BIN_E2BIG,
                max);
    default:
        return error_reply(c, req, MEMCACHE_BIN_NOT_STORED, max);
    }
}

static rstatus_i
bin_store(struct conn *c, const struct memcache_bin_request *req, size_t max)
{
    uint8_t loud = memcache_bin_opcode_loud(req->opcode);
    uint64_t cas = 0;
    storage_status_e s;
    if (loud == MEMCACHE_BIN_APPEND || loud == MEMCACHE_BIN_PREPEND) {
        s = ks_append(MC_DB, req->key.data, req->key.len, req->value.data,
                req->value.len,
                loud == MEMCACHE_BIN_APPEND ? STORAGE_APPEND : STORAGE_PREPEND,
                STORAGE_MISSING_FAIL, req->cas, c->now_ms, NULL, &cas);
        /* another type has no value to append to: as missing */
        s = s == STORAGE_EWRONGTYPE ? STORAGE_NOT_STORED : s;
        count_store(loud, false, s);
        switch (s) {
        case STORAGE_OK:
            return ok_empty(c, req, cas, max);
        case STORAGE_EXISTS:
            return error_reply(c, req, MEMCACHE_BIN_KEY_EEXISTS, max);
        default: /* missing; the joined value too large or out of memory */
            return error_reply(c, req, MEMCACHE_BIN_NOT_STORED, max);
        }
    }
    struct storage_write w;
    s = store_write(c, req, &w);
    if (s == STORAGE_OK) {
        s = ks_set(MC_DB, req->key.data, req->key.len, req->value.data,
                req->value.len, &w, c->now_ms, NULL, &cas);
    }
    return store_done(c, req, req->key.data, req->key.len, s, cas, max);
}

/* A set, add or replace whose value is past what is worth buffering
 * (64 KiB), its key in: the value is received into the store in pieces,
 * as a text set's (memcache.c), into a reservation while a stream slot is
 * free, else into parts once the read buffer could not hold it. 0: it
 * streams; else the bytes to wait for in the read buffer (its key, or the
 * whole request to receive it whole). */
static size_t
value_stream(
        struct conn *c, struct mc_state *st, const struct proc_limits *limits)
{
    struct memcache_bin_request *req = &st->breq;
    uint8_t loud = memcache_bin_opcode_loud(req->opcode);
    size_t head = MEMCACHE_BIN_HEADER_LEN + req->extlen + (size_t)req->keylen;
    if (req->need <= 64 * 1024 ||
            (loud != MEMCACHE_BIN_SET && loud != MEMCACHE_BIN_ADD &&
                    loud != MEMCACHE_BIN_REPLACE)) {
        return req->need;
    }
    if (buf_rsize(&c->rbuf) < head) {
        return head; /* then decided */
    }
    bool slot = mc_stream_slot();
    if (!slot && req->need <= limits->rbuf_max) {
        return req->need;
    }
    size_t vlen = 0;
    bool begun = memcache_bin_value_begin(req, &c->rbuf, &vlen);
    ASSERT(begun); /* a value, and its key in: checked above */
    (void)begun;
    struct storage_write w;
    storage_status_e pre = store_write(c, req, &w);
    mc_stream_open(
            c, st, req->key.data, req->key.len, vlen, &w, pre, slot, true);
    st->stream_left = vlen;
    return 0;
}

/* Takes what value bytes have arrived; replies once the value is whole.
 * *more: it waits for more. */
static rstatus_i
value_continue(struct conn *c, struct mc_state *st, size_t max, bool *more)
{
    size_t n = buf_rsize(&c->rbuf);
    n = n < st->stream_left ? n : st->stream_left;
    mc_stream_take(c, st, c->rbuf.rpos, n);
    c->rbuf.rpos += n;
    st->stream_left -= n;
    *more = st->stream_left > 0;
    if (*more) {
        return STATUS_OK;
    }
    uint64_t cas = 0;
    storage_status_e s = mc_stream_commit(c, st, &cas);
    INCR(mc_metrics, memcache_binary);
    return store_done(
            c, &st->breq, st->stream_key, st->stream_klen, s, cas, max);
}

/* ---- delete incr decr ---- */

static rstatus_i
bin_delete(struct conn *c, const struct memcache_bin_request *req, size_t max)
{
    INCR(mc_metrics, memcache_delete);
    /* a key of any type goes, whole */
    storage_status_e s = ks_delete_cas(
            MC_DB, req->key.data, req->key.len, req->cas, c->now_ms);
    switch (s) {
    case STORAGE_OK:
        INCR(mc_metrics, memcache_delete_hit);
        return ok_empty(c, req, 0, max);
    case STORAGE_EXISTS:
        return error_reply(c, req, MEMCACHE_BIN_KEY_EEXISTS, max);
    default:
        INCR(mc_metrics, memcache_delete_miss);
        return error_reply(c, req, MEMCACHE_BIN_KEY_ENOENT, max);
    }
}

static rstatus_i
number_reply(struct conn *c, const struct memcache_bin_request *req,
        uint64_t value, uint64_t cas, size_t max)
{
    unsigned char v[8];
    be_put(v, value, 8);
    struct memcache_bin_response rsp = {
            .opcode = req->opcode,
            .opaque = req->opaque,
            .cas = cas,
            .value = v,
            .vlen = sizeof(v),
    };
    return ok_reply(c, req, &rsp, max);
}

static rstatus_i
bin_arith(struct conn *c, const struct memcache_bin_request *req, size_t max)
{
    bool incr = memcache_bin_opcode_loud(req->opcode) == MEMCACHE_BIN_INCREMENT;
    if (incr) {
        INCR(mc_metrics, memcache_incr);
    } else {
        INCR(mc_metrics, memcache_decr);
    }
    uint64_t value = 0, cas = 0;
    storage_status_e s = ks_incr_unsigned(MC_DB, req->key.data, req->key.len,
            req->delta, incr ? KS_INCR : KS_DECR, req->cas, c->now_ms, &value,
            &cas);
    if (s == STORAGE_EWRONGTYPE) {
        s = STORAGE_NOT_FOUND; /* no number memcache can read: missing */
    }
    switch (s) {
    case STORAGE_OK:
        if (incr) {
            INCR(mc_metrics, memcache_incr_hit);
        } else {
            INCR(mc_metrics, memcache_decr_hit);
        }
        return number_reply(c, req, value, cas, max);
    case STORAGE_NOT_FOUND:
        break;
    case STORAGE_EXISTS:
        return error_reply(c, req, MEMCACHE_BIN_KEY_EEXISTS, max);
    case STORAGE_ENAN:
        return error_reply(c, req, MEMCACHE_BIN_DELTA_BADVAL, max);
    default:
        return error_reply(c, req, MEMCACHE_BIN_ENOMEM, max);
    }
    if (req->exptime == MEMCACHE_BIN_NO_CREATE) {
        if (incr) {
            INCR(mc_metrics, memcache_incr_miss);
        } else {
            INCR(mc_metrics, memcache_decr_miss);
        }
        return error_reply(c, req, MEMCACHE_BIN_KEY_ENOENT, max);
    }
    /* a miss creates the key with the initial value (flags 0) */
    char digits[24];
    size_t n = 0;
    uint64_t v = req->initial;
    char tmp[24];
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        digits[i] = tmp[n - 1 - i];
    }
    struct storage_write w;
    memset(&w, 0, sizeof(w));
    w.mode = STORAGE_ADD;
    w.expiry = expiry_of(req->exptime, c->now_ms);
    s = ks_set(MC_DB, req->key.data, req->key.len, digits, n, &w, c->now_ms,
            NULL, &cas);
    if (s == STORAGE_OK) {
        return number_reply(c, req, req->initial, cas, max);
    }
    return error_reply(c, req,
            s == STORAGE_ENOMEM ? MEMCACHE_BIN_ENOMEM : MEMCACHE_BIN_NOT_STORED,
            max);
}

/* ---- flush version stat ---- */

static rstatus_i
bin_flush(struct conn *c, const struct memcache_bin_request *req, size_t max)
{
    INCR(mc_metrics, memcache_flush);
    uint64_t at =
            req->exptime > 0 ? expiry_of(req->exptime, c->now_ms) : c->now_ms;
    ks_flush(MC_DB, at, c->now_ms);
    return ok_empty(c, req, 0, max);
}

static rstatus_i
stat_packet(struct buf *w, const struct memcache_bin_request *req,
        const char *name, size_t nlen, const char *value, size_t vlen,
        size_t max)
{
    struct memcache_bin_response rsp = {
            .opcode = req->opcode,
            .opaque = req->opaque,
            .key = bstring_of(name, nlen),
            .value = value,
            .vlen = vlen,
    };
    return memcache_bin_compose_rsp(w, &rsp, max);
}

/* Turns "STAT <name> <value>\r\n" lines into one response each. */
static rstatus_i
stat_lines(struct buf *w, const struct memcache_bin_request *req, const char *p,
        const char *end, size_t max)
{
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;
        const char *line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (line_end - p > 5 && memcmp(p, "STAT ", 5) == 0) {
            const char *name = p + 5;
            const char *sp = memchr(name, ' ', (size_t)(line_end - name));
            const char *vend = line_end;
            const char *value = sp != NULL ? sp + 1 : line_end;
            size_t nlen = (size_t)((sp != NULL ? sp : line_end) - name);
            rstatus_i rc = stat_packet(
                    w, req, name, nlen, value, (size_t)(vend - value), max);
            if (rc != STATUS_OK) {
                return rc;
            }
        }
        p = nl != NULL ? nl + 1 : end;
    }
    return STATUS_OK;
}

static rstatus_i
bin_stat(struct conn *c, const struct memcache_bin_request *req, size_t max)
{
    INCR(mc_metrics, memcache_other);
    const struct memcache_stats_source *src = mc_stats_source();
    struct bstring group = req->key;
    if (bstring_equal_cstr(&group, "reset")) {
        if (src->reset != NULL) {
            src->reset();
        }
        return stat_packet(&c->wbuf, req, NULL, 0, NULL, 0, max);
    }
    if (group.len >= 6 && memcmp(group.data, "detail", 6) == 0) {
        struct bstring how = bstring_of(group.data + 6, group.len - 6);
        if (!bstring_equal_cstr(&how, " on") &&
                !bstring_equal_cstr(&how, " off") &&
                !bstring_equal_cstr(&how, " dump")) {
            return error_reply(c, req, MEMCACHE_BIN_KEY_ENOENT, max);
        }
        return stat_packet(&c->wbuf, req, NULL, 0, NULL, 0, max);
    }
    if (src->stats != NULL) {
        struct buf text;
        if (buf_init(&text, 4096) != STATUS_OK) {
            return STATUS_ENOMEM;
        }
        rstatus_i rc = src->stats(&text, max, &group);
        if (rc == STATUS_EINVAL) {
            buf_deinit(&text);
            return error_reply(c, req, MEMCACHE_BIN_KEY_ENOENT, max);
        }
        if (rc == STATUS_OK) {
            rc = stat_lines(&c->wbuf, req, text.rpos, text.wpos, max);
        }
        buf_deinit(&text);
        if (rc != STATUS_OK) {
            return rc;
        }
    } else if (group.len > 0) {
        return error_reply(c, req, MEMCACHE_BIN_KEY_ENOENT, max);
    }
    return stat_packet(&c->wbuf, req, NULL, 0, NULL, 0, max);
}

static rstatus_i
bin_execute(struct conn *c, struct mc_state *st,
        const struct memcache_bin_request *req, size_t max)
{
    switch (memcache_bin_opcode_loud(req->opcode)) {
    case MEMCACHE_BIN_GET:
    case MEMCACHE_BIN_GETK:
    case MEMCACHE_BIN_TOUCH:
    case MEMCACHE_BIN_GAT:
    case MEMCACHE_BIN_GATK:
        return bin_get(c, st, req, max);
    case MEMCACHE_BIN_SET:
    case MEMCACHE_BIN_ADD:
    case MEMCACHE_BIN_REPLACE:
    case MEMCACHE_BIN_APPEND:
    case MEMCACHE_BIN_PREPEND:
        return bin_store(c, req, max);
    case MEMCACHE_BIN_DELETE:
        return bin_delete(c, req, max);
    case MEMCACHE_BIN_INCREMENT:
    case MEMCACHE_BIN_DECREMENT:
        return bin_arith(c, req, max);
    case MEMCACHE_BIN_FLUSH:
        return bin_flush(c, req, max);
    case MEMCACHE_BIN_NOOP:
        INCR(mc_metrics, memcache_other);
        return ok_empty(c, req, 0, max);
    case MEMCACHE_BIN_VERSION: {
        static const char version[] = "1.6.18-segcached-" SEGCACHED_VERSION;
        INCR(mc_metrics, memcache_other);
        struct memcache_bin_response rsp = {
                .opcode = req->opcode,
                .opaque = req->opaque,
                .value = version,
                .vlen = sizeof(version) - 1,
        };
        return memcache_bin_compose_rsp(&c->wbuf, &rsp, max);
    }
    case MEMCACHE_BIN_QUIT:
        INCR(mc_metrics, memcache_other);
        c->flags |= CONN_CLOSE;
        buf_clear(&c->rbuf);
        return ok_empty(c, req, 0, max);
    case MEMCACHE_BIN_STAT:
        return bin_stat(c, req, max);
    default: /* the parser lets through only the opcodes above */
        return error_reply(c, req, MEMCACHE_BIN_UNKNOWN_COMMAND, max);
    }
}

rstatus_i
mc_binary_read(
        struct conn *c, struct mc_state *st, const struct proc_limits *limits)
{
    struct memcache_bin_request *req = &st->breq;
    size_t max = mc_max(limits);
    while (!(c->flags & CONN_CLOSE)) {
        if (buf_rsize(&c->wbuf) > limits->wbuf_high) {
            c->flags |= CONN_STALLED;
            return STATUS_OK;
        }
        if (st->out != NULL) {
            rstatus_i rc = mc_out_pump(c, st, limits);
            if (rc != STATUS_OK || st->out != NULL) {
                return rc; /* the rest waits for the value's end */
            }
            continue;
        }
        if (st->streaming) {
            bool more;
            rstatus_i rc = value_continue(c, st, max, &more);
            if (rc != STATUS_OK || more) {
                return rc;
            }
            continue;
        }
        if (req->swallow > 0 && memcache_bin_swallow(req, &c->rbuf) > 0) {
            return STATUS_OK;
        }
        if (buf_empty(&c->rbuf)) {
            return STATUS_OK;
        }
        rstatus_i rc = STATUS_OK;
        memcache_bin_parse_e p = memcache_bin_parse(req, &c->rbuf);
        switch (p) {
        case MEMCACHE_BIN_PARSE_OK:
            INCR(mc_metrics, memcache_binary);
            rc = bin_execute(c, st, req, max);
            ks_scratch_release();
            break;
        case MEMCACHE_BIN_PARSE_UNFIN: {
            size_t wait = req->need > 0 ? value_stream(c, st, limits) : 0;
            if (req->need > 0 && wait == 0) {
                continue; /* streaming */
            }
            return mc_await_whole(c, req->need > 0 ? wait : 0, limits);
        }
        case MEMCACHE_BIN_PARSE_EMAGIC:
            /* memcached closes without a word */
            INCR(mc_metrics, memcache_error);
            buf_clear(&c->rbuf);
            c->flags |= CONN_CLOSE;
            return STATUS_OK;
        case MEMCACHE_BIN_PARSE_EINVALID:
            INCR(mc_metrics, memcache_binary);
            rc = error_reply(c, req, req->status, max);
            buf_clear(&c->rbuf);
            c->flags |= CONN_CLOSE;
            break;
        case MEMCACHE_BIN_PARSE_EUNKNOWN:
            INCR(mc_metrics, memcache_binary);
            rc = error_reply(c, req, MEMCACHE_BIN_UNKNOWN_COMMAND, max);
            break;
        case MEMCACHE_BIN_PARSE_EOVERSIZE: {
            INCR(mc_metrics, memcache_binary);
            uint8_t loud = memcache_bin_opcode_loud(req->opcode);
            count_store(loud, req->cas != 0, STORAGE_EOVERSIZE);
            if (loud != MEMCACHE_BIN_APPEND && loud != MEMCACHE_BIN_PREPEND) {
                /* memcached drops the old value of a set/add/replace
                 * refused as too large */
                ks_delete(MC_DB, req->key.data, req->key.len, c->now_ms);
            }
            rc = error_reply(c, req, MEMCACHE_BIN_E2BIG, max);
            break;
        }
        }
        if (rc != STATUS_OK) {
            return rc;
        }
    }
    return STATUS_OK;
}
