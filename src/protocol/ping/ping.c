/* SPDX-License-Identifier: Apache-2.0 */
/* Parse and compose for the ping protocol. */
#include "protocol/ping/ping.h"

#include <string.h>

ping_parse_e
ping_parse_req(struct buf *b)
{
    size_t n = buf_rsize(b);
    char *nl = memchr(b->rpos, '\n', n);
    if (nl == NULL) {
        return n >= PING_LINE_MAX ? PING_PARSE_EOVERSIZE : PING_PARSE_UNFIN;
    }
    size_t len = (size_t)(nl - b->rpos) + 1;
    int ok = len == 6 && memcmp(b->rpos, "PING\r\n", 6) == 0;
    b->rpos += len;
    return ok ? PING_PARSE_OK : PING_PARSE_EINVALID;
}

rstatus_i
ping_compose_pong(struct buf *b, size_t max)
{
    return buf_append(b, "PONG\r\n", 6, max);
}

rstatus_i
ping_compose_error(struct buf *b, size_t max)
{
    return buf_append(b, "ERROR\r\n", 7, max);
}
