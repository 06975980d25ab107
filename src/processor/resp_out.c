/* SPDX-License-Identifier: Apache-2.0 */
/* Large values sent in pieces (issue 18, sendval.h): a string in parts
 * longer than SENDVAL_MIN is not copied whole into the thread's scratch and
 * then into the write buffer (which worker.wbuf_max caps, 64 MiB by
 * default). Its bulk header is written, and the read loop pumps the value
 * from its parts into the write buffer as the socket drains it, before it
 * parses the next request.
 *
 * Anywhere in a reply: GET's whole reply, an element of MGET, a GET inside
 * EXEC, a large GETRANGE; and, from the copy they read (resp_out_copy),
 * the values of GETEX, GETSET, SET ... GET and GETDEL; and, from a copy
 * made here (resp_out_dup), a string a script returns. What the command
 * composes after such a value (MGET's next keys, EXEC's next replies), and what
 * is pushed to the connection meanwhile (RESP3 pub/sub messages, tracking
 * invalidations: resp_out_wbuf), goes into the value's own tail buffer, which
 * the pump copies into the write buffer after the value's last byte. So a reply
 * keeps its order and nothing lands in the middle of a value.
 *
 * A reply longer than the write buffer can grow (worker.wbuf_max: HGETALL
 * or LRANGE of elements up to 1 MiB each, EXEC of many values) goes on in
 * a buffer of its own once the write buffer is full (resp_out_spill, the
 * writer's spill hook), queued as a tail with no value before it: Redis
 * sends such a reply from its output buffer, which grows as it must. What
 * the queue holds (tails, copies of values) counts against
 * worker.buffer_memory with the connection's buffers (conn.proc_bytes).
 *
 * A value changed before its last slice closes the connection
 * (resp_get_stream_cut): its header promised bytes that are gone. Not
 * streamed: the replies of the commands a script calls (Lua takes the
 * value whole), and a reply while CLIENT REPLY is OFF or SKIP (nothing is
 * sent). */
#include "processor/resp_internal.h"

#include "processor/sendval.h"

#include <stdlib.h>
#include <string.h>

/* One value to send, then the bytes composed after it. */
struct resp_out {
    struct sendval *v; /* NULL once sent */
    struct buf tail;
    struct resp_out *next;
};

#define OUT_TAIL_SIZE 256
#define OUT_SLICE     (256u << 10) /* bytes copied at a time */

/* What the queue holds beyond the write buffer, for worker.buffer_memory
 * (the worker adds conn.proc_bytes to the connection's buffers). */
static void
out_account(struct conn *c, struct resp_state *st)
{
    size_t n = 0;
    for (const struct resp_out *o = st->out; o != NULL; o = o->next) {
        n += sizeof(*o) + buf_capacity(&o->tail) + sendval_held(o->v);
    }
    st->out_bytes = n;
    c->proc_bytes = st->in_bytes + st->out_bytes;
}

/* A new entry at the end of st's queue, sending v (NULL: only a tail),
 * with a tail of size bytes. NULL: no memory. */
static struct resp_out *
out_push(struct conn *c, struct resp_state *st, struct sendval *v, size_t size)
{
    struct resp_out *o = malloc(sizeof(*o));
    if (o == NULL) {
        return NULL;
    }
    if (buf_init(&o->tail, size) != STATUS_OK) {
        free(o);
        return NULL;
    }
    o->v = v;
    o->next = NULL;
    if (st->out == NULL) {
        st->out = o;
    } else {
        st->out_last->next = o;
    }
    st->out_last = o;
    /* the read loop is run again with no request left in the read buffer
     * (the worker lends one to a held connection) */
    c->flags |= CONN_HELD;
    out_account(c, st);
    return o;
}

/* Frees a queue entry (its value, if not sent, and its tail). */
static void
out_free(struct resp_out *o)
{
    sendval_free(o->v);
    buf_deinit(&o->tail);
    free(o);
}

/* Queues v, sent after the header written here. false: no memory
 * (nothing written, v freed). */
static bool
out_begin(struct resp_ctx *x, struct sendval *v, uint64_t len)
{
    char head[1 + RESP_INT64_MAXLEN + 2];
    head[0] = '$';
    size_t n = 1 + resp_format_int64(head + 1, (int64_t)len);
    head[n++] = '\r';
    head[n++] = '\n';
    if (resp_compose_raw(x->w, head, n) != STATUS_OK) {
        sendval_free(v);
        return false;
    }
    struct resp_out *o = out_push(x->c, x->st, v, OUT_TAIL_SIZE);
    if (o == NULL) {
        sendval_free(v);
        return false;
    }
    /* what the command composes next goes after the value */
    x->w->buf = &o->tail;
    INCR(resp_proc_metrics, resp_get_stream);
    return true;
}

rstatus_i
resp_out_spill(struct resp_writer *w, size_t n)
{
    struct conn *c = w->spill_arg;
    struct resp_state *st = c->data;
    if (w != &st->w) {
        return STATUS_ENOMEM; /* only the connection's own replies */
    }
    size_t size = n > OUT_SLICE ? n : OUT_SLICE;
    if (size > w->max) {
        return STATUS_ENOMEM; /* would not fit a buffer of its own either */
    }
    /* past the worker's share of worker.buffer_memory the connection would
     * be closed for its buffers without a word: the reply is refused
     * instead (an error in its place, resp_reply_too_large) */
    if (st->buf_budget > 0 &&
            buf_capacity(&c->wbuf) + st->in_bytes + st->out_bytes + w->max >
                    st->buf_budget) {
        return STATUS_ENOMEM;
    }
    struct resp_out *o = out_push(c, st, NULL, size);
    if (o == NULL) {
        return STATUS_ENOMEM;
    }
    w->buf = &o->tail;
    INCR(resp_proc_metrics, resp_reply_spill);
    return STATUS_OK;
}

/* Whether a value of len bytes is sent in pieces from here: 1 yes, 0 no
 * (composed whole: small, or a script's reply), -1 the reply is not sent
 * (CLIENT REPLY OFF or SKIP: the caller writes nothing for the value). */
static int
out_wanted(struct resp_ctx *x, uint64_t len)
{
    struct resp_state *st = x->st;
    if (x->w != &st->w || len <= SENDVAL_MIN) {
        return 0;
    }
    return st->reply == RESP_REPLY_ON ? 1 : -1;
}

bool
resp_out_start(struct resp_ctx *x, const struct storage_item *root)
{
    int want = root->type == STORAGE_TYPE_STRING_PARTS
                       ? out_wanted(x, ks_str_len(root))
                       : 0;
    if (want <= 0) {
        return want < 0;
    }
    struct sendval *v = sendval_new(resp_db(x), root);
    return v != NULL && out_begin(x, v, sendval_len(v));
}

bool
resp_out_start_range(struct resp_ctx *x, const struct storage_item *root,
        uint64_t off, uint64_t len)
{
    int want = root->type == STORAGE_TYPE_STRING_PARTS ? out_wanted(x, len) : 0;
    if (want <= 0) {
        return want < 0;
    }
    struct sendval *v = sendval_new_range(resp_db(x), root, off, len);
    return v != NULL && out_begin(x, v, len);
}

bool
resp_out_copy(struct resp_ctx *x, const void *value, size_t len)
{
    int want = out_wanted(x, len);
    if (want <= 0) {
        return want < 0;
    }
    struct sendval *v = sendval_new_copy(value, len);
    if (v == NULL || !out_begin(x, v, len)) {
        return false;
    }
    sendval_own(v); /* the copy is sent, then freed, by the connection */
    return true;
}

bool
resp_out_dup(struct resp_ctx *x, const void *value, size_t len)
{
    int want = out_wanted(x, len);
    if (want <= 0) {
        return want < 0;
    }
    struct sendval *v = sendval_new_dup(value, len);
    return v != NULL && out_begin(x, v, len);
}

struct buf *
resp_out_wbuf(struct conn *c, struct resp_state *st)
{
    return st != NULL && st->out != NULL ? &st->out_last->tail : &c->wbuf;
}

/* Copies what followed the value into the write buffer in slices, as far
 * as worker.wbuf_high allows. false: some is left (stalled), or *rc is set
 * (the write buffer could not grow). */
static bool
tail_pump(struct conn *c, struct resp_out *o, const struct proc_limits *limits,
        rstatus_i *rc)
{
    while (!buf_empty(&o->tail)) {
        if (buf_rsize(&c->wbuf) > limits->wbuf_high) {
            c->flags |= CONN_STALLED;
            return false;
        }
        size_t n = buf_rsize(&o->tail);
        n = n < OUT_SLICE ? n : OUT_SLICE;
        if (buf_append(&c->wbuf, o->tail.rpos, n, limits->wbuf_max) !=
                STATUS_OK) {
            *rc = STATUS_ENOMEM;
            return false;
        }
        o->tail.rpos += n;
    }
    return true;
}

rstatus_i
resp_out_pump(
        struct conn *c, struct resp_state *st, const struct proc_limits *limits)
{
    while (st->out != NULL) {
        struct resp_out *o = st->out;
        if (o->v != NULL) {
            uint64_t bytes = 0;
            sendval_e r = sendval_pump(o->v, c, limits, &bytes);
            INCR_N(resp_proc_metrics, resp_get_stream_byte, bytes);
            if (r == SENDVAL_MORE) {
                return STATUS_OK;
            }
            if (r != SENDVAL_DONE) {
                if (r == SENDVAL_CUT) {
                    INCR(resp_proc_metrics, resp_get_stream_cut);
                }
                resp_out_release(c, st);
                return r == SENDVAL_CUT ? STATUS_ERROR : STATUS_ENOMEM;
            }
            memcpy(c->wbuf.wpos, "\r\n", 2); /* sendval left room for it */
            c->wbuf.wpos += 2;
            sendval_free(o->v);
            o->v = NULL;
        }
        rstatus_i rc = STATUS_OK;
        if (!tail_pump(c, o, limits, &rc)) {
            if (rc != STATUS_OK) {
                resp_out_release(c, st);
            }
            return rc;
        }
        st->out = o->next;
        out_free(o);
        out_account(c, st);
    }
    st->out_last = NULL;
    if (!st->paused && st->big == NULL) {
        c->flags &= ~CONN_HELD;
    }
    return STATUS_OK;
}

void
resp_out_truncate(struct conn *c, struct resp_state *st, struct resp_out *keep)
{
    if (keep == NULL) {
        resp_out_release(c, st);
        return;
    }
    while (keep->next != NULL) {
        struct resp_out *o = keep->next;
        keep->next = o->next;
        out_free(o);
    }
    st->out_last = keep;
    out_account(c, st);
}

void
resp_out_release(struct conn *c, struct resp_state *st)
{
    if (st->out == NULL) {
        return;
    }
    while (st->out != NULL) {
        struct resp_out *o = st->out;
        st->out = o->next;
        out_free(o);
    }
    st->out_last = NULL;
    st->out_bytes = 0;
    c->proc_bytes = st->in_bytes;
    st->w.buf = &c->wbuf;
    if (!st->paused && st->big == NULL) {
        c->flags &= ~CONN_HELD;
    }
}
