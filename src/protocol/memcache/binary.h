/* SPDX-License-Identifier: Apache-2.0 */
/* memcached's binary protocol: the wire format only (no storage). A
 * request is a 24-byte header (magic 0x80, opcode, key length, extras
 * length, data type, vbucket, body length, opaque, CAS; big-endian) and a
 * body of extras, key and value. A response has magic 0x81 and a status
 * where the request has its vbucket.
 *
 * memcache_bin_parse reads one request at b->rpos and checks its lengths
 * the way memcached 1.6.18 does before it executes anything:
 *   OK         a whole request; header and body consumed. Views (key,
 *              value) point into b: valid until b moves (buf.h).
 *   UNFIN      more bytes needed; nothing consumed. Once the header is in,
 *              req->need is the byte count of the whole request (so the
 *              caller can grow its buffer to that).
 *   EMAGIC     a whole header whose first byte is not 0x80: memcached
 *              closes without a reply. Nothing consumed.
 *   EINVALID   lengths that do not fit the opcode (or a key over 250
 *              bytes): reply req->status (EINVAL; UNKNOWN_COMMAND when the
 *              key and extras are longer than the body, or for an unknown
 *              opcode with a key or extras), then close, as memcached
 *              does. The header is consumed.
 *   EUNKNOWN   an opcode memcached does not serve without SASL (unknown
 *              ones with a value only, and the SASL ones): reply
 *              UNKNOWN_COMMAND; the header is consumed and req->swallow
 *              body bytes are still to drop (memcache_bin_swallow); the
 *              connection stays open.
 *   EOVERSIZE  a storage value over memcache_item_size_max (parse.h):
 *              header, extras and key consumed (req->key is valid),
 *              req->swallow value bytes still to drop; reply E2BIG.
 * Any worker thread may parse; the limit comes from memcache_parse_setup. */
#pragma once

#include "base/bstring.h"
#include "base/buf.h"
#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define MEMCACHE_BIN_HEADER_LEN 24
#define MEMCACHE_BIN_REQ_MAGIC  0x80
#define MEMCACHE_BIN_RSP_MAGIC  0x81
#define MEMCACHE_BIN_NO_CREATE  0xffffffffu /* incr/decr expiration: miss */

/* Opcodes: name, value. */
#define MEMCACHE_BIN_OPCODE(ACTION)                 \
    ACTION( MEMCACHE_BIN_GET,             0x00 )    \
    ACTION( MEMCACHE_BIN_SET,             0x01 )    \
    ACTION( MEMCACHE_BIN_ADD,             0x02 )    \
    ACTION( MEMCACHE_BIN_REPLACE,         0x03 )    \
    ACTION( MEMCACHE_BIN_DELETE,          0x04 )    \
    ACTION( MEMCACHE_BIN_INCREMENT,       0x05 )    \
    ACTION( MEMCACHE_BIN_DECREMENT,       0x06 )    \
    ACTION( MEMCACHE_BIN_QUIT,            0x07 )    \
    ACTION( MEMCACHE_BIN_FLUSH,           0x08 )    \
    ACTION( MEMCACHE_BIN_GETQ,            0x09 )    \
    ACTION( MEMCACHE_BIN_NOOP,            0x0a )    \
    ACTION( MEMCACHE_BIN_VERSION,         0x0b )    \
    ACTION( MEMCACHE_BIN_GETK,            0x0c )    \
    ACTION( MEMCACHE_BIN_GETKQ,           0x0d )    \
    ACTION( MEMCACHE_BIN_APPEND,          0x0e )    \
    ACTION( MEMCACHE_BIN_PREPEND,         0x0f )    \
    ACTION( MEMCACHE_BIN_STAT,            0x10 )    \
    ACTION( MEMCACHE_BIN_SETQ,            0x11 )    \
    ACTION( MEMCACHE_BIN_ADDQ,            0x12 )    \
    ACTION( MEMCACHE_BIN_REPLACEQ,        0x13 )    \
    ACTION( MEMCACHE_BIN_DELETEQ,         0x14 )    \
    ACTION( MEMCACHE_BIN_INCREMENTQ,      0x15 )    \
    ACTION( MEMCACHE_BIN_DECREMENTQ,      0x16 )    \
    ACTION( MEMCACHE_BIN_QUITQ,           0x17 )    \
    ACTION( MEMCACHE_BIN_FLUSHQ,          0x18 )    \
    ACTION( MEMCACHE_BIN_APPENDQ,         0x19 )    \
    ACTION( MEMCACHE_BIN_PREPENDQ,        0x1a )    \
    ACTION( MEMCACHE_BIN_TOUCH,           0x1c )    \
    ACTION( MEMCACHE_BIN_GAT,             0x1d )    \
    ACTION( MEMCACHE_BIN_GATQ,            0x1e )    \
    ACTION( MEMCACHE_BIN_SASL_LIST_MECHS, 0x20 )    \
    ACTION( MEMCACHE_BIN_SASL_AUTH,       0x21 )    \
    ACTION( MEMCACHE_BIN_SASL_STEP,       0x22 )    \
    ACTION( MEMCACHE_BIN_GATK,            0x23 )    \
    ACTION( MEMCACHE_BIN_GATKQ,           0x24 )

/* Response statuses: name, value, the message memcached sends with it. */
#define MEMCACHE_BIN_STATUS(ACTION)                                           \
    ACTION( MEMCACHE_BIN_OK_STATUS,       0x0000, ""                       )  \
    ACTION( MEMCACHE_BIN_KEY_ENOENT,      0x0001, "Not found"              )  \
    ACTION( MEMCACHE_BIN_KEY_EEXISTS,     0x0002, "Data exists for key."   )  \
    ACTION( MEMCACHE_BIN_E2BIG,           0x0003, "Too large."             )  \
    ACTION( MEMCACHE_BIN_EINVAL,          0x0004, "Invalid arguments"      )  \
    ACTION( MEMCACHE_BIN_NOT_STORED,      0x0005, "Not stored."            )  \
    ACTION( MEMCACHE_BIN_DELTA_BADVAL,    0x0006, "Non-numeric server-side value for incr or decr" ) \
    ACTION( MEMCACHE_BIN_UNKNOWN_COMMAND, 0x0081, "Unknown command"        )  \
    ACTION( MEMCACHE_BIN_ENOMEM,          0x0082, "Out of memory"          )
/* clang-format on */

#define MEMCACHE_BIN_VALUE_ROW(_name, _value, ...) _name = _value,
typedef enum {
    MEMCACHE_BIN_OPCODE(MEMCACHE_BIN_VALUE_ROW)
} memcache_bin_opcode_e;
typedef enum {
    MEMCACHE_BIN_STATUS(MEMCACHE_BIN_VALUE_ROW)
} memcache_bin_status_e;

/* The message memcached sends with an error status ("Not found"); "" for
 * MEMCACHE_BIN_OK_STATUS and statuses not in the table. */
const char *memcache_bin_status_str(memcache_bin_status_e status);

/* True for the quiet opcodes (SETQ, GETQ, ..., GATKQ). */
bool memcache_bin_opcode_quiet(uint8_t opcode);
/* The loud opcode a quiet one stands for (SETQ -> SET); others unchanged. */
uint8_t memcache_bin_opcode_loud(uint8_t opcode);

struct memcache_bin_request {
    uint8_t opcode; /* as sent (quiet opcodes are not folded) */
    uint8_t extlen;
    uint8_t datatype;
    uint16_t keylen;
    uint16_t vbucket;
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
    /* decoded extras */
    uint32_t flags;   /* set add replace */
    uint32_t exptime; /* set add replace, touch gat*, flush, incr decr */
    uint64_t delta;   /* incr decr */
    uint64_t initial; /* incr decr */
    struct bstring key;
    struct bstring value;         /* set add replace append prepend */
    memcache_bin_status_e status; /* EINVALID: the reply */
    size_t need;    /* UNFIN after the header: bytes of the whole request */
    size_t swallow; /* EUNKNOWN, EOVERSIZE: body bytes still to drop */
};

typedef enum {
    MEMCACHE_BIN_PARSE_OK,
    MEMCACHE_BIN_PARSE_UNFIN,
    MEMCACHE_BIN_PARSE_EMAGIC,
    MEMCACHE_BIN_PARSE_EINVALID,
    MEMCACHE_BIN_PARSE_EUNKNOWN,
    MEMCACHE_BIN_PARSE_EOVERSIZE,
} memcache_bin_parse_e;

/* Parses one request at b->rpos into req (which it resets first). */
memcache_bin_parse_e memcache_bin_parse(
        struct memcache_bin_request *req, struct buf *b);
/* Drops up to req->swallow bytes from b; returns how many are still due. */
size_t memcache_bin_swallow(struct memcache_bin_request *req, struct buf *b);
/* After PARSE_UNFIN of a request with a value (set add replace append
 * prepend) whose header, extras and key are in b: decodes the extras and
 * the key (a view of b), consumes them, and sets *vlen to the value's
 * length, whose bytes the caller then takes from b itself (a value
 * received in pieces); true. false: not such a request, or its key is
 * not all in b yet (nothing consumed). */
bool memcache_bin_value_begin(
        struct memcache_bin_request *req, struct buf *b, size_t *vlen);

/* A response, written as header, extras, key, value. */
struct memcache_bin_response {
    uint8_t opcode;
    uint16_t status;
    uint32_t opaque;
    uint64_t cas;
    const void *extras;
    uint8_t extlen;
    struct bstring key;
    const void *value;
    size_t vlen;
};

/* Composers append to b, growing it to at most max bytes in all; on
 * STATUS_ENOMEM b is unchanged. A response with value NULL and vlen > 0
 * counts vlen in its body length but writes header, extras and key only:
 * the caller sends the value after it (a large one, in pieces). */
rstatus_i memcache_bin_compose_rsp(
        struct buf *b, const struct memcache_bin_response *rsp, size_t max);
/* An error response to req as memcached sends it: the status, its message
 * as the body, CAS 0. */
rstatus_i memcache_bin_compose_error(struct buf *b,
        const struct memcache_bin_request *req, memcache_bin_status_e status,
        size_t max);
/* The request on the wire, as a client sends it: extras from the decoded
 * fields (by opcode; extlen as in req), key and value. For tests, fuzzing
 * and tools. */
rstatus_i memcache_bin_compose_req(
        struct buf *b, const struct memcache_bin_request *req, size_t max);
