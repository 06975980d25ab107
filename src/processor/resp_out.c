/* SPDX-License-Identifier: Apache-2.0 */
/* A GET's large value sent in pieces (issue 18, sendval.h): a string in
 * parts longer than SENDVAL_MIN is not copied whole into the thread's
 * scratch and then into the write buffer (which worker.wbuf_max caps,
 * 64 MiB by default); its bulk header is written, and the read loop pumps
 * the value from its parts into the write buffer as the socket drains it,
 * before it parses the next request. A value changed before its last slice
 * closes the connection (resp_get_stream_cut). Only a GET run on its own
 * (not inside EXEC or a script, whose replies are composed in one go)
 * streams. */
#include "processor/resp_internal.h"

#include "processor/sendval.h"

#include <string.h>

bool
resp_out_start(struct resp_ctx *x, const struct storage_item *root)
{
    struct resp_state *st = x->st;
    if (root->type != STORAGE_TYPE_STRING_PARTS || x->w != &st->w ||
            st->in_exec || st->out != NULL || ks_str_len(root) <= SENDVAL_MIN) {
        return false;
    }
    struct sendval *v = sendval_new((uint8_t)x->c->db, root);
    if (v == NULL) {
        return false; /* sent whole, as before */
    }
    char head[1 + RESP_INT64_MAXLEN + 2];
    head[0] = '$';
    size_t n = 1 + resp_format_int64(head + 1, (int64_t)sendval_len(v));
    head[n++] = '\r';
    head[n++] = '\n';
    if (resp_compose_raw(x->w, head, n) != STATUS_OK) {
        sendval_free(v);
        return false;
    }
    st->out = v;
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
    uint64_t bytes = 0;
    sendval_e r = sendval_pump(st->out, c, limits, &bytes);
    INCR_N(resp_proc_metrics, resp_get_stream_byte, bytes);
    switch (r) {
    case SENDVAL_MORE:
        return STATUS_OK;
    case SENDVAL_DONE:
        memcpy(c->wbuf.wpos, "\r\n", 2); /* sendval left room for it */
        c->wbuf.wpos += 2;
        resp_out_release(c, st);
        return STATUS_OK;
    case SENDVAL_CUT:
        INCR(resp_proc_metrics, resp_get_stream_cut);
        resp_out_release(c, st);
        return STATUS_ERROR;
    default:
        resp_out_release(c, st);
        return STATUS_ENOMEM;
    }
}

void
resp_out_release(struct conn *c, struct resp_state *st)
{
    if (st->out == NULL) {
        return;
    }
    sendval_free(st->out);
    st->out = NULL;
    if (!st->paused && st->big == NULL) {
        c->flags &= ~CONN_HELD;
    }
}
