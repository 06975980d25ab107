/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the admin protocol parser (text lines and HTTP heads):
 * parses the input whole and split in two, and checks both give the same
 * sequence of requests, that views stay inside the buffer, and that the
 * parser always makes progress or asks for more. */
#include "fuzz.h"

#include "protocol/admin/admin.h"

#include <stdlib.h>
#include <string.h>

#define MAX_REQ 256

struct outcome {
    int status;
    int type;
    size_t verb_len;
    size_t arg_len;
};

static size_t
run(const uint8_t *data, size_t size, size_t cut, struct outcome *out)
{
    struct buf b;
    if (buf_init(&b, 64) != STATUS_OK) {
        abort();
    }
    size_t n = 0;
    size_t fed = cut;
    buf_append(&b, data, cut, 1 << 20);
    for (;;) {
        struct admin_request req;
        char *before = b.rpos;
        admin_parse_e p = admin_parse_req(&req, &b);
        if (p == ADMIN_PARSE_UNFIN && fed < size) {
            buf_append(&b, data + fed, size - fed, 1 << 20);
            fed = size;
            continue;
        }
        if (p != ADMIN_PARSE_OK) {
            if (b.rpos != before) {
                abort(); /* UNFIN and EOVERSIZE consume nothing */
            }
            if (n < MAX_REQ) {
                out[n++] = (struct outcome){(int)p, -1, 0, 0};
            }
            break;
        }
        if (b.rpos <= before || req.verb.len > buf_capacity(&b) ||
                req.arg.len > buf_capacity(&b)) {
            abort();
        }
        if (n < MAX_REQ) {
            out[n++] = (struct outcome){
                    (int)p, (int)req.type, req.verb.len, req.arg.len};
        }
    }
    buf_deinit(&b);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct outcome whole[MAX_REQ];
    static struct outcome split[MAX_REQ];
    size_t nw = run(data, size, size, whole);
    size_t ns = run(data, size, size / 2, split);
    if (nw != ns || memcmp(whole, split, nw * sizeof(whole[0])) != 0) {
        abort();
    }
    return 0;
}
