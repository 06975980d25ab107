/* SPDX-License-Identifier: Apache-2.0 */
/* Parser for memcached text-protocol requests, byte-compatible with
 * memcached 1.6.18 in what it accepts, what it refuses with which reply,
 * and how many bytes it consumes after a refusal.
 *
 * One request at a time from b->rpos:
 *   OK        a whole request; consumed (a storage command with its value
 *             and "\r\n": req->value is the value).
 *   UNFIN     more bytes needed; nothing consumed. For a storage command
 *             whose line is complete, req is fully parsed but the value:
 *             req->need is the byte count the whole request takes, so the
 *             caller can grow its buffer to that, or stream the value (see
 *             memcache_parse_value) when it is larger than it wants to hold.
 *   EINVALID  refused: req->error is the reply (unless req->noreply), the
 *             bytes memcached reads for it are consumed: the line, and for
 *             storage commands refused after their length was understood,
 *             the data block too (req->swallow is what had not arrived
 *             yet). MEMCACHE_ERR_LINE_TOO_LONG: close after the reply.
 *   EOVERSIZE a storage value over memcache_item_size_max: the line and
 *             what is here of the data are consumed, req->swallow bytes
 *             are still to drop; reply MEMCACHE_ERR_TOO_LARGE unless
 *             req->noreply.
 *   EBINARY   the first byte is 0x80: a binary-protocol request; nothing
 *             consumed. The processor sends a connection whose first byte
 *             is 0x80 to the binary parser (binary.h); on a text
 *             connection it refuses this (memcache_compose_binary_refusal)
 *             and closes: the text parser cannot find where it ends.
 *
 * The views in req (key, value, keys, opaque, arguments) point into b,
 * consumed bytes included: they stay valid until b is shifted, grown or
 * cleared, so a processor can still use the key of a refused set (to drop
 * the old value, as memcached does) before it reads more.
 *
 * Limits come from memcache_parse_setup (defaults without it). Any worker
 * thread may parse; setup and teardown run before and after them. */
#pragma once

#include "base/buf.h"
#include "base/metric.h"
#include "base/option.h"
#include "base/util.h"
#include "protocol/memcache/request.h"

/* clang-format off */
/*          name                     type         default     description */
#define MEMCACHE_PARSE_OPTION(ACTION)                                          \
    ACTION( memcache_line_max,       OPTION_SIZE, 2048,       "longest command line but get/gets/gat/gats (bytes)" ) \
    ACTION( memcache_get_line_max,   OPTION_SIZE, (1 * MiB),  "longest get/gets/gat/gats line (bytes)"            ) \
    ACTION( memcache_item_size_max,  OPTION_SIZE, (1 * MiB),  "largest value a storage command may send (bytes)" )

/*          name                     type            description */
#define MEMCACHE_PARSE_METRIC(ACTION)                                          \
    ACTION( memcache_parse_req,      METRIC_COUNTER, "# requests parsed whole"             ) \
    ACTION( memcache_parse_req_ex,   METRIC_COUNTER, "# requests refused by the parser"    ) \
    ACTION( memcache_parse_oversize, METRIC_COUNTER, "# storage requests over the limit"   ) \
    ACTION( memcache_parse_binary,   METRIC_COUNTER, "# binary-protocol requests refused"  )
/* clang-format on */

typedef struct {
    MEMCACHE_PARSE_OPTION(DECLARE_OPTION)
} memcache_parse_options_st;
typedef struct {
    MEMCACHE_PARSE_METRIC(DECLARE_METRIC)
} memcache_parse_metrics_st;

typedef enum {
    MEMCACHE_PARSE_OK,
    MEMCACHE_PARSE_UNFIN,
    MEMCACHE_PARSE_EINVALID,
    MEMCACHE_PARSE_EOVERSIZE,
    MEMCACHE_PARSE_EBINARY,
} memcache_parse_e;

/* NULL options: defaults; NULL metrics: nothing counted. */
void memcache_parse_setup(const memcache_parse_options_st *options,
        memcache_parse_metrics_st *metrics);
void memcache_parse_teardown(void);
/* memcache_item_size_max in force (the binary parser's limit too). */
size_t memcache_parse_item_size_max(void);

/* Numbers in a token as memcached's safe_strtoull, safe_strtoul,
 * safe_strtol and safe_strtod read them (for arguments the processor
 * reads itself: slabs, lru, lru_crawler). false: not such a number. */
bool memcache_number_u64(const struct bstring *t, uint64_t *out);
bool memcache_number_u32(const struct bstring *t, uint32_t *out);
bool memcache_number_i32(const struct bstring *t, int32_t *out);
bool memcache_number_double(const struct bstring *t, double *out);

/* Parses one request at b->rpos into req (which it resets first). */
memcache_parse_e memcache_parse_req(
        struct memcache_request *req, struct buf *b);

/* Streams a storage value that the caller does not want to buffer whole.
 * After an UNFIN with req->need set, the caller copies what it needs from
 * req (the key is a view into b: copy it before b moves), then calls
 * memcache_parse_value_begin, which consumes the command line. Each
 * memcache_parse_value call then takes the value bytes now in b into
 * *chunk (consumed; may be empty) and returns UNFIN while more are due,
 * OK once the value and its "\r\n" are in, or EINVALID with
 * MEMCACHE_ERR_DATA_CHUNK when the two bytes after the value are not
 * "\r\n" (they are consumed, as memcached does; drop the value). */
void memcache_parse_value_begin(struct memcache_request *req, struct buf *b);
memcache_parse_e memcache_parse_value(
        struct memcache_request *req, struct buf *b, struct bstring *chunk);

/* Drops up to req->swallow bytes from b after EINVALID or EOVERSIZE;
 * returns how many are still to come. Call it before parsing the next
 * request while req->swallow is not 0. */
size_t memcache_parse_swallow(struct memcache_request *req, struct buf *b);

/* Decodes base64 the way memcached 1.6.18 does for meta keys (bytes
 * outside the alphabet skipped, padding ends the input); returns the
 * decoded length, 0 if invalid or if it needs more than cap bytes. */
size_t memcache_base64_decode(
        const char *src, size_t len, char *dst, size_t cap);
