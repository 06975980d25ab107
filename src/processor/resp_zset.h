/* SPDX-License-Identifier: Apache-2.0 */
/* The sorted-set and list command handlers (resp_zset.c, resp_list.c),
 * and what the blocking pops share with them. Private to src/processor/. */
#pragma once

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
