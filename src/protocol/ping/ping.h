/* SPDX-License-Identifier: Apache-2.0 */
/* The ping protocol: "PING\r\n" -> "PONG\r\n", anything else "ERROR\r\n".
 * The cheapest possible request: what the runtime costs without a store. */
#pragma once

#include "base/buf.h"
#include "base/status.h"

#define PING_LINE_MAX 1024 /* a longer line is an error and closes */

typedef enum {
    PING_PARSE_OK,       /* a PING line; consumed */
    PING_PARSE_UNFIN,    /* no complete line yet; nothing consumed */
    PING_PARSE_EINVALID, /* a complete line that is not PING; consumed */
    PING_PARSE_EOVERSIZE /* no line end within PING_LINE_MAX bytes */
} ping_parse_e;

/* Parses one line at b->rpos. */
ping_parse_e ping_parse_req(struct buf *b);
/* Appends "PONG\r\n" / "ERROR\r\n"; STATUS_ENOMEM if it cannot grow to. */
rstatus_i ping_compose_pong(struct buf *b, size_t max);
rstatus_i ping_compose_error(struct buf *b, size_t max);
