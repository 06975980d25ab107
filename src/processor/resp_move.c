/* SPDX-License-Identifier: Apache-2.0 */
/* Resp MOVE key db: the key, of any type, with its expiry, to another
 * database if it is not there, as Redis 7.0.15 answers. Under both keys'
 * stripe locks (so no collection change runs in between): an item that is
 * whole is copied by the store (storage_copy); a root of parts (a large
 * collection) has its parts copied one by one into the destination's parts
 * namespace, then the root written there; the source goes last, only if it
 * is still the version copied. */
#include "processor/resp_internal.h"
#include "processor/resp_zset.h"

#include "processor/keyspace.h"

#include <stdlib.h>
#include <string.h>

/* Copies a root and its parts from sdb to ddb (the destination key is
 * free). OK, NOT_STORED (the destination appeared), ENOMEM ... */
static storage_status_e
move_root(uint8_t sdb, uint8_t ddb, const void *key, size_t klen,
        const struct storage_item *root, uint64_t now)
{
    uint8_t id[8];
    uint32_t n = ks_root_nparts(root);
    size_t rlen = root->vlen;
    struct storage_write w = {.mode = STORAGE_ADD,
            .expiry = root->expiry,
            .type = root->type,
            .parts = true};
    uint8_t *rv = malloc(rlen);
    uint8_t *pk = malloc(klen + STORAGE_PART_SUFFIX);
    storage_status_e s = STORAGE_ENOMEM;
    if (rv == NULL || pk == NULL) {
        goto out;
    }
    memcpy(rv, root->value, rlen); /* the view ends at the first write */
    memcpy(id, rv, 8);
    s = STORAGE_OK;
    for (uint32_t i = 0; i < n && s == STORAGE_OK; i++) {
        size_t plen = ks_part_key(pk, key, klen, id, i);
        s = storage_copy(sdb | STORAGE_DB_PARTS, pk, plen,
                ddb | STORAGE_DB_PARTS, pk, plen, STORAGE_OVERWRITE, now);
    }
    if (s == STORAGE_OK) {
        s = storage_set(ddb, key, klen, rv, rlen, &w, now, NULL, NULL);
        s = s == STORAGE_EXISTS ? STORAGE_NOT_STORED : s;
    }
    if (s != STORAGE_OK) {
        for (uint32_t i = 0; i < n; i++) { /* undo what was copied */
            size_t plen = ks_part_key(pk, key, klen, id, i);
            storage_delete(ddb | STORAGE_DB_PARTS, pk, plen, 0, now);
        }
    }
out:
    free(rv);
    free(pk);
    return s;
}

/* Removes the source when it is still the version copied (a root with its
 * parts). */
static void
drop_source(
        uint8_t db, const void *key, size_t klen, uint64_t cas, uint64_t now)
{
    struct storage_item it;
    if (storage_peek(db, key, klen, now, &it) != STORAGE_OK || it.cas != cas) {
        return;
    }
    if (!it.parts) {
        storage_delete(db, key, klen, cas, now);
        return;
    }
    ks_delete(db, key, klen, now); /* under the lock: still that version */
}

rstatus_i
resp_cmd_move(struct resp_ctx *x)
{
    int64_t dbid;
    if (!resp_arg_int64(&x->argv[2], &dbid)) {
        return resp_err_int(x);
    }
    if (dbid < INT32_MIN || dbid > INT32_MAX) { /* getIntFromObjectOrReply */
        return resp_err(x, "ERR value is out of range, value must between "
                           "-2147483648 and 2147483647");
    }
    if (dbid < 0 || dbid >= STORAGE_DB_COUNT) {
        return resp_err(x, "ERR DB index is out of range");
    }
    uint8_t sdb = resp_db(x), ddb = (uint8_t)dbid;
    if (sdb == ddb) {
        return resp_err(x, "ERR source and destination objects are the same");
    }
    const struct resp_arg *k = &x->argv[1];
    uint64_t now = x->c->now_ms;
    uint32_t stripes[2] = {
            ks_stripe(sdb, k->data, k->len), ks_stripe(ddb, k->data, k->len)};
    ks_lock_many(stripes, 2);
    struct storage_item it;
    storage_status_e s = STORAGE_NOT_FOUND;
    if (ks_lookup(sdb, k->data, k->len, KS_ANY, KS_NOSTATS, now, &it) ==
                    KS_OK &&
            ks_lookup(ddb, k->data, k->len, KS_ANY, KS_NOSTATS | KS_NOTOUCH,
                    now, NULL) == KS_MISS) {
        uint64_t cas = it.cas;
        s = it.parts ? move_root(sdb, ddb, k->data, k->len, &it, now)
                     : storage_copy(sdb, k->data, k->len, ddb, k->data, k->len,
                               STORAGE_NO_OVERWRITE, now);
        if (s == STORAGE_OK) {
            drop_source(sdb, k->data, k->len, cas, now);
            /* Redis's order: the key added to the destination ("new"),
             * removed from the source, then the two events */
            ks_heard(ddb, k->data, k->len, "new");
            ks_changed(sdb, k->data, k->len, "move_from");
            ks_changed(ddb, k->data, k->len, "move_to");
        }
    }
    ks_unlock_many(stripes, 2);
    switch (s) {
    case STORAGE_OK:
        resp_block_signal(x, ddb, k->data, k->len);
        return resp_compose_integer(x->w, 1);
    case STORAGE_NOT_FOUND:
    case STORAGE_NOT_STORED:
        return resp_compose_integer(x->w, 0);
    default:
        return resp_err_storage(x, s);
    }
}
