/* SPDX-License-Identifier: Apache-2.0 */
/* A GET's large value sent in pieces (issue 18): a string in parts longer
 * than RESP_OUT_MIN is not copied whole into the thread's scratch and then
 * into the write buffer (which worker.wbuf_max caps, 64 MiB by default);
 * its bulk header is written, then resp_out_pump() copies it from its parts
 * into the write buffer a slice at a time, as the socket drains it (the
 * connection stalls between slices and the read loop runs the pump again
 * before it parses the next request). A connection holds at most about
 * worker.wbuf_high + one slice of it at a time, whatever its size.
 *
 * Each slice is read under the key's stripe lock after checking that the
 * key is still the version the GET found (its CAS): a value is never sent
 * half old and half new. When it was changed or removed before the last
 * slice, the reply cannot be completed, and the connection is closed
 * (logged, counted in resp_get_stream_cut), as a client whose reply was cut
 * by the server would be. Only a GET run on its own (not inside EXEC or a
 * script, whose replies are composed in one go) streams. */
#include "processor/resp_internal.h"

#include "base/log.h"
#include "processor/keyspace.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define RESP_OUT_MIN   (1u << 20) /* values past this are streamed */
#define RESP_OUT_SLICE (256u << 10)

struct resp_out {
    uint8_t db;
    uint64_t cas;
    uint64_t len;
    uint64_t off;
    size_t klen;
    uint8_t key[];
};

bool
resp_out_start(struct resp_ctx *x, const struct storage_item *root)
{
    struct resp_state *st = x->st;
    if (root->type != STORAGE_TYPE_STRING_PARTS || x->w != &st->w ||
            st->in_exec || st->out != NULL) {
        return false;
    }
    uint64_t len = ks_str_len(root);
    if (len <= RESP_OUT_MIN) {
        return false;
    }
    struct resp_out *o = malloc(sizeof(*o) + root->klen);
    if (o == NULL) {
        return false; /* sent whole, as before */
    }
    char head[1 + RESP_INT64_MAXLEN + 2];
    head[0] = '$';
    size_t n = 1 + resp_format_int64(head + 1, (int64_t)len);
    head[n++] = '\r';
    head[n++] = '\n';
    if (resp_compose_raw(x->w, head, n) != STATUS_OK) {
        free(o);
        return false;
    }
    o->db = (uint8_t)x->c->db;
    o->cas = root->cas;
    o->len = len;
    o->off = 0;
    o->klen = root->klen;
    memcpy(o->key, root->key, root->klen);
    st->out = o;
    /* the read loop is run again with no request left in the read buffer
     * (the worker lends one to a held connection) */
    x->c->flags |= CONN_HELD;
    INCR(resp_proc_metrics, resp_get_stream);
    return true;
}

rstatus_i
resp_out_pump(
        struct conn *c, struct resp_state *st, const struct proc_limits *limits)
{
    struct resp_out *o = st->out;
    while (o->off < o->len) {
        if (buf_rsize(&c->wbuf) > limits->wbuf_high) {
            c->flags |= CONN_STALLED;
            return STATUS_OK;
        }
        size_t n = o->len - o->off < RESP_OUT_SLICE ? (size_t)(o->len - o->off)
                                                    : RESP_OUT_SLICE;
        if (buf_reserve(&c->wbuf, n + 2, limits->wbuf_max) != STATUS_OK) {
            return STATUS_ENOMEM;
        }
        uint32_t s = ks_stripe(o->db, o->key, o->klen);
        ks_lock(s);
        struct storage_item it;
        uint64_t slen = 0;
        storage_status_e r =
                storage_peek(o->db, o->key, o->klen, c->now_ms, &it);
        bool same = r == STORAGE_OK && it.cas == o->cas;
        if (same) {
            r = ks_str_read_locked(o->db, o->key, o->klen, o->off, n,
                    (uint8_t *)c->wbuf.wpos, &slen, c->now_ms);
        }
        ks_unlock(s);
        if (!same || r != STORAGE_OK || slen != o->len) {
            log_warn("resp: a GET of %" PRIu64 " bytes cut at %" PRIu64
                     ": the key changed meanwhile; closing the connection",
                    o->len, o->off);
            INCR(resp_proc_metrics, resp_get_stream_cut);
            resp_out_release(c, st);
            return STATUS_ERROR;
        }
        c->wbuf.wpos += n;
        o->off += n;
        INCR_N(resp_proc_metrics, resp_get_stream_byte, n);
    }
    memcpy(c->wbuf.wpos, "\r\n", 2);
    c->wbuf.wpos += 2;
    resp_out_release(c, st);
    return STATUS_OK;
}

void
resp_out_release(struct conn *c, struct resp_state *st)
{
    if (st->out == NULL) {
        return;
    }
    free(st->out);
    st->out = NULL;
    if (!st->paused && st->big == NULL) {
        c->flags &= ~CONN_HELD;
    }
}
