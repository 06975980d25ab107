/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the ping protocol parser: every outcome consumes a line
 * or nothing, and a buffer is always drained or waiting. */
#include "fuzz.h"

#include "protocol/ping/ping.h"

#include <stdlib.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf b;
    if (buf_init(&b, 64) != STATUS_OK) {
        abort();
    }
    buf_append(&b, data, size, 1 << 20);
    for (;;) {
        char *before = b.rpos;
        ping_parse_e p = ping_parse_req(&b);
        if (p == PING_PARSE_UNFIN || p == PING_PARSE_EOVERSIZE) {
            if (b.rpos != before) {
                abort();
            }
            break;
        }
        if (b.rpos <= before || b.rpos[-1] != '\n') {
            abort();
        }
    }
    buf_deinit(&b);
    return 0;
}
