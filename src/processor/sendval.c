/* SPDX-License-Identifier: Apache-2.0 */
/* A large string value sent in pieces (sendval.h): from its parts, or
 * from a copy it owns. */
#include "processor/sendval.h"

#include "base/log.h"
#include "base/mm.h"
#include "processor/keyspace.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SENDVAL_SLICE (256u << 10)

struct sendval {
    uint8_t *copy; /* the value's bytes when it is sent from a copy */
    bool owned;    /* the copy is freed with the sendval */
    uint8_t db;
    uint64_t cas;
    uint64_t total; /* the value's length: a change of it is a change */
    uint64_t off;   /* the next byte to send */
    uint64_t end;   /* one past the last byte to send */
    size_t klen;
    uint8_t key[];
};

struct sendval *
sendval_new(uint8_t db, const struct storage_item *root)
{
    return sendval_new_range(db, root, 0, ks_str_len(root));
}

struct sendval *
sendval_new_range(
        uint8_t db, const struct storage_item *root, uint64_t off, uint64_t len)
{
    if (root->type != STORAGE_TYPE_STRING_PARTS || off > ks_str_len(root) ||
            len > ks_str_len(root) - off) {
        return NULL;
    }
    struct sendval *v = malloc(sizeof(*v) + root->klen);
    if (v == NULL) {
        return NULL;
    }
    v->copy = NULL;
    v->owned = false;
    v->db = db;
    v->cas = root->cas;
    v->total = ks_str_len(root);
    v->off = off;
    v->end = off + len;
    v->klen = root->klen;
    memcpy(v->key, root->key, root->klen);
    return v;
}

struct sendval *
sendval_new_copy(const void *value, size_t len)
{
    if (!ks_scratch_holds(value)) {
        return NULL;
    }
    struct sendval *v = malloc(sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    v->copy = (uint8_t *)value;
    v->owned = false;
    v->total = len;
    v->off = 0;
    v->end = len;
    v->klen = 0;
    return v;
}

struct sendval *
sendval_new_dup(const void *value, size_t len)
{
    uint8_t *copy = mm_alloc(len == 0 ? 1 : len);
    struct sendval *v = copy != NULL ? malloc(sizeof(*v)) : NULL;
    if (v == NULL) {
        mm_release(copy);
        return NULL;
    }
    memcpy(copy, value, len);
    v->copy = copy;
    v->owned = true; /* ks_scratch_free: mm_release */
    v->total = len;
    v->off = 0;
    v->end = len;
    v->klen = 0;
    return v;
}

void
sendval_own(struct sendval *v)
{
    v->owned = ks_scratch_take(v->copy);
}

uint64_t
sendval_len(const struct sendval *v)
{
    return v->end - v->off;
}

sendval_e
sendval_pump(struct sendval *v, struct conn *c,
        const struct proc_limits *limits, uint64_t *bytes)
{
    while (v->off < v->end) {
        if (buf_rsize(&c->wbuf) > limits->wbuf_high) {
            c->flags |= CONN_STALLED;
            return SENDVAL_MORE;
        }
        size_t n = v->end - v->off < SENDVAL_SLICE ? (size_t)(v->end - v->off)
                                                   : SENDVAL_SLICE;
        /* room for the trailer the processor writes after the last */
        if (buf_reserve(&c->wbuf, n + 16, limits->wbuf_max) != STATUS_OK) {
            return SENDVAL_ENOMEM;
        }
        if (v->copy != NULL) {
            memcpy(c->wbuf.wpos, v->copy + v->off, n);
            c->wbuf.wpos += n;
            v->off += n;
            *bytes += n;
            continue;
        }
        uint32_t s = ks_stripe(v->db, v->key, v->klen);
        ks_lock(s);
        struct storage_item it;
        uint64_t slen = 0;
        storage_status_e r =
                storage_peek(v->db, v->key, v->klen, c->now_ms, &it);
        bool same = r == STORAGE_OK && it.cas == v->cas;
        if (same) {
            r = ks_str_read_locked(v->db, v->key, v->klen, v->off, n,
                    (uint8_t *)c->wbuf.wpos, &slen, c->now_ms);
        }
        ks_unlock(s);
        if (!same || r != STORAGE_OK || slen != v->total) {
            log_warn("a value of %" PRIu64 " bytes cut at %" PRIu64
                     ": its key changed while it was sent; closing the "
                     "connection",
                    v->total, v->off);
            return SENDVAL_CUT;
        }
        c->wbuf.wpos += n;
        v->off += n;
        *bytes += n;
    }
    return SENDVAL_DONE;
}

void
sendval_free(struct sendval *v)
{
    if (v != NULL && v->owned) {
        ks_scratch_free(v->copy);
    }
    free(v);
}

size_t
sendval_held(const struct sendval *v)
{
    return v != NULL && v->copy != NULL ? (size_t)v->total : 0;
}
