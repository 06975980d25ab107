/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic execution of the resp processor: which stripes a command, an EXEC
 * or a script holds (keyspace.h "holds"), found from the command table's
 * key specs (resp_command_keys) plus the keys a command names outside
 * them (COPY ... DB n). docs/protocol-resp.md "Atomicity". */
#include "base/mm.h"
#include "processor/resp_internal.h"

#include <string.h>

/* The database COPY writes to (its DB option), or db. */
static uint8_t
copy_dst_db(uint8_t db, const struct resp_arg *argv, uint32_t argc)
{
    for (uint32_t j = 3; j + 1 < argc; j++) {
        int64_t v;
        if (resp_arg_is(&argv[j], "db") && resp_arg_int64(&argv[j + 1], &v) &&
                v >= 0 && v < STORAGE_DB_COUNT) {
            return (uint8_t)v;
        }
    }
    return db;
}

bool
resp_hold_add_command(struct ks_hold *h, uint8_t db,
        const struct resp_command *cmd, const struct resp_arg *argv,
        uint32_t argc)
{
    uint32_t local[32];
    uint32_t *pos = local;
    size_t n = resp_command_keys(cmd, argv, argc, local, 32);
    if (n > 32) {
        pos = mm_alloc(n * sizeof(*pos));
        if (pos == NULL) {
            return false;
        }
        n = resp_command_keys(cmd, argv, argc, pos, n);
    }
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const struct resp_arg *k = &argv[pos[i]];
        ok = ks_hold_add(h, db, k->data, k->len);
    }
    if (ok && cmd->id == RESP_CMD_COPY && argc >= 3) {
        uint8_t ddb = copy_dst_db(db, argv, argc);
        if (ddb != db) {
            ok = ks_hold_add(h, ddb, argv[2].data, argv[2].len);
        }
    }
    /* MOVE key db: the key in the destination database too, so no reader
     * sees it in both databases or in neither */
    int64_t mdb;
    if (ok && cmd->id == RESP_CMD_MOVE && argc == 3 &&
            resp_arg_int64(&argv[2], &mdb) && mdb >= 0 &&
            mdb < STORAGE_DB_COUNT && (uint8_t)mdb != db) {
        ok = ks_hold_add(h, (uint8_t)mdb, argv[1].data, argv[1].len);
    }
    if (pos != local) {
        mm_release(pos);
    }
    return ok;
}

bool
resp_hold_add_exec(struct ks_hold *h, const struct resp_ctx *x)
{
    const struct resp_state *st = x->st;
    for (uint32_t i = 0; i < st->nwatch; i++) {
        const struct resp_watched *wk = st->watch[i];
        if (!ks_hold_add(h, wk->db, wk->key, wk->klen)) {
            return false;
        }
    }
    uint8_t db = resp_db(x);
    for (const struct resp_queued *q = st->qhead; q != NULL; q = q->next) {
        if (q->cmd->id == RESP_CMD_SELECT && q->argc == 2) {
            int64_t v;
            if (resp_arg_int64(&q->argv[1], &v) && v >= 0 &&
                    v < STORAGE_DB_COUNT) {
                db = (uint8_t)v; /* the commands after it use that db */
            }
            continue;
        }
        if (!resp_hold_add_command(h, db, q->cmd, q->argv, q->argc)) {
            return false;
        }
    }
    return true;
}
