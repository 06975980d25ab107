/* SPDX-License-Identifier: Apache-2.0 */
/* The sorted-set and list command handlers (resp_zset.c, resp_list.c),
 * and what the blocking pops share with them. Private to src/processor/. */
#pragma once

#include "processor/coll.h"
#include "processor/resp_internal.h"

#include <stdbool.h>
#include <stdint.h>

/* resp_zset.c */
rstatus_i resp_cmd_zadd(struct resp_ctx *x);
rstatus_i resp_cmd_zincrby(struct resp_ctx *x);
rstatus_i resp_cmd_zrem(struct resp_ctx *x);
rstatus_i resp_cmd_zcard(struct resp_ctx *x);
rstatus_i resp_cmd_zscore(struct resp_ctx *x);
rstatus_i resp_cmd_zmscore(struct resp_ctx *x);
rstatus_i resp_cmd_zrank(struct resp_ctx *x); /* and ZREVRANK */
rstatus_i resp_cmd_zcount(struct resp_ctx *x);
rstatus_i resp_cmd_zlexcount(struct resp_ctx *x);
/* ZRANGE ZRANGESTORE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX
 * ZREVRANGEBYLEX ZREVRANGE */
rstatus_i resp_cmd_zrange(struct resp_ctx *x);
/* ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX */
rstatus_i resp_cmd_zremrange(struct resp_ctx *x);
rstatus_i resp_cmd_zpop(struct resp_ctx *x); /* ZPOPMIN ZPOPMAX */
rstatus_i resp_cmd_zmpop(struct resp_ctx *x);
rstatus_i resp_cmd_zrandmember(struct resp_ctx *x);
rstatus_i resp_cmd_zscan(struct resp_ctx *x);
/* resp_zsetop.c: ZUNION ZINTER ZDIFF, their STORE forms, ZINTERCARD */
rstatus_i resp_cmd_zsetop(struct resp_ctx *x);
/* resp_sort.c: SORT SORT_RO over lists, sets and sorted sets */
rstatus_i resp_cmd_sort(struct resp_ctx *x);

/* Redis's getDoubleFromObject. */
bool resp_zset_parse_double(const struct resp_arg *a, double *v);
/* Pops from the first of keys that exists: true when it replied (*rc),
 * false when every key was missing (nothing replied). */
bool resp_zset_pop(struct resp_ctx *x, const struct resp_arg *keys,
        uint32_t nkeys, bool max, bool emitkey, int64_t count, bool nested,
        rstatus_i *rc);
/* ZMPOP/BZMPOP arguments from argv[numkeys_idx]; -1 after an error reply. */
int resp_zset_mpop_args(struct resp_ctx *x, uint32_t numkeys_idx,
        uint32_t *nkeys, bool *max, int64_t *count, rstatus_i *rc);

/* resp_list.c */
rstatus_i resp_cmd_push(struct resp_ctx *x); /* LPUSH RPUSH LPUSHX RPUSHX */
rstatus_i resp_cmd_pop(struct resp_ctx *x);  /* LPOP RPOP */
rstatus_i resp_cmd_lmpop(struct resp_ctx *x);
rstatus_i resp_cmd_llen(struct resp_ctx *x);
rstatus_i resp_cmd_lindex(struct resp_ctx *x);
rstatus_i resp_cmd_lrange(struct resp_ctx *x);
rstatus_i resp_cmd_lpos(struct resp_ctx *x);
rstatus_i resp_cmd_lset(struct resp_ctx *x);
rstatus_i resp_cmd_linsert(struct resp_ctx *x);
rstatus_i resp_cmd_lrem(struct resp_ctx *x);
rstatus_i resp_cmd_ltrim(struct resp_ctx *x);
rstatus_i resp_cmd_lmove(struct resp_ctx *x); /* LMOVE RPOPLPUSH */

/* How resp_list_pop replies: LPOP's (a bulk, or an array with a count),
 * BLPOP's [key, element], LMPOP's [key, [elements]]. */
enum {
    RESP_LIST_POP_PLAIN,
    RESP_LIST_POP_KEYED,
    RESP_LIST_POP_MULTI,
};
/* Pops from the first existing key (count -1: one, PLAIN replies a bulk);
 * true when it replied, false when every key was missing. */
bool resp_list_pop(struct resp_ctx *x, const struct resp_arg *keys,
        uint32_t nkeys, bool left, int64_t count, int mode, rstatus_i *rc);
int resp_list_mpop_args(struct resp_ctx *x, uint32_t numkeys_idx,
        uint32_t *nkeys, bool *left, int64_t *count, rstatus_i *rc);
/* An element LMOVE moved (heap bytes; n 0: none). */
struct copies_view {
    uint8_t *bytes;
    size_t len;
    size_t n;
};
coll_status_e resp_list_move(struct resp_ctx *x, const struct resp_arg *src,
        const struct resp_arg *dst, bool from_left, bool to_left,
        struct copies_view *moved);
/* A list or sorted set key got elements: wakes clients blocked on it
 * (resp_block.c). */
void resp_list_signal(struct resp_ctx *x, const struct resp_arg *key);
/* A key in db was created or replaced whole (RENAME, COPY, MOVE, the STORE
 * commands): wakes its first waiter, as Redis signals every key it adds; a
 * waiter finding a key of another type stays blocked. */
void resp_block_signal(
        struct resp_ctx *x, uint8_t db, const void *key, size_t klen);

/* resp_block.c: blocking pops, woken across workers (core/msg.h) */
struct resp_waiter;
/* BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP */
rstatus_i resp_cmd_bpop(struct resp_ctx *x);
/* WAIT: no replicas acknowledge (resp_block.c). */
rstatus_i resp_cmd_wait(struct resp_ctx *x);
rstatus_i resp_cmd_client_unblock(struct resp_ctx *x);
void resp_block_setup(void);
void resp_block_teardown(void);
/* Drops the connection's block without a reply (close, RESET). */
void resp_block_release(struct conn *c, struct resp_state *st);
/* Clients blocked in a blocking pop now, every worker (INFO's
 * blocked_clients). */
uint64_t resp_block_count(void);
/* Of them, those with a timeout (INFO's clients_in_timeout_table: Redis
 * puts a blocked client in its timeout table when its timeout is not 0). */
uint64_t resp_block_timed_count(void);
