/* SPDX-License-Identifier: Apache-2.0 */
/* Composing RESP into a connection's write buffer: every reply type, as
 * Redis 7.0.15 sends it under protocol 2 or 3 (HELLO), and requests (for
 * tests and tools). Integers are written by hand: no printf on the hot
 * path. Each function returns STATUS_OK, or STATUS_ENOMEM when the buffer
 * cannot grow to hold the reply (nothing is written then; counted in
 * resp_compose_ex). One thread per writer. */
#pragma once

#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct resp_arg;

typedef enum {
    RESP_PROTO_2 = 2, /* the default */
    RESP_PROTO_3 = 3, /* after HELLO 3 */
} resp_proto_e;

/* Where replies go. The caller owns buf; max caps its growth (room is
 * checked for the longest header a reply can have, so a reply within about
 * 20 bytes of max may be refused). */
struct resp_writer {
    struct buf *buf;
    size_t max;
    resp_proto_e proto;
    /* Optional: called when buf cannot take n more bytes within max. It
     * may point buf at a fresh, empty buffer that its owner sends after
     * the old one (a reply longer than one buffer, as Redis's output
     * buffer takes any reply); STATUS_OK to compose there. NULL: such a
     * write is refused (STATUS_ENOMEM). */
    rstatus_i (*spill)(struct resp_writer *w, size_t n);
    void *spill_arg;
};

/* Longest text of a signed 64-bit integer, and the helper writing it
 * (returns the number of bytes written, no NUL). */
#define RESP_INT64_MAXLEN 20
size_t resp_format_int64(char *dst, int64_t v);

/* "+<s>\r\n"; s must hold no CR or LF. */
rstatus_i resp_compose_simple(struct resp_writer *w, const char *s, size_t len);
rstatus_i resp_compose_ok(struct resp_writer *w); /* "+OK\r\n" */
/* "-<msg>\r\n"; msg carries its own code ("ERR ...", "WRONGTYPE ...");
 * CR and LF inside become spaces, as Redis's addReplyErrorFormat does. */
rstatus_i resp_compose_error(
        struct resp_writer *w, const char *msg, size_t len);
/* The same from a printf format (the code included: "ERR no such %s");
 * for rare errors only, it formats through a stack buffer of 512 bytes
 * (longer messages are cut). */
rstatus_i resp_compose_error_fmt(struct resp_writer *w, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
rstatus_i resp_compose_integer(struct resp_writer *w, int64_t v);
/* "$<len>\r\n<data>\r\n" */
rstatus_i resp_compose_bulk(
        struct resp_writer *w, const void *data, size_t len);
/* Writes "$<len>\r\n" and the trailing "\r\n", and returns where the len
 * payload bytes go (the caller copies them there, e.g. straight from the
 * store); NULL when the buffer cannot hold it. */
char *resp_compose_bulk_reserve(struct resp_writer *w, size_t len);
/* Null: "$-1\r\n" (RESP2) or "_\r\n" (RESP3). */
rstatus_i resp_compose_null(struct resp_writer *w);
/* Null array: "*-1\r\n" (RESP2) or "_\r\n" (RESP3). */
rstatus_i resp_compose_null_array(struct resp_writer *w);
/* Aggregate headers; the n elements (n key-value pairs for a map) follow.
 * Under RESP2 a map is an array of 2n, a set an array, a push an array. */
rstatus_i resp_compose_array(struct resp_writer *w, uint64_t n);
rstatus_i resp_compose_map(struct resp_writer *w, uint64_t n);
rstatus_i resp_compose_set(struct resp_writer *w, uint64_t n);
rstatus_i resp_compose_push(struct resp_writer *w, uint64_t n);
/* Double as Redis 7.0 writes it ("%.17g", "inf", "-inf"): ",<d>\r\n" in
 * RESP3, a bulk string in RESP2. */
rstatus_i resp_compose_double(struct resp_writer *w, double d);
/* "#t\r\n"/"#f\r\n" in RESP3, ":1\r\n"/":0\r\n" in RESP2. */
rstatus_i resp_compose_bool(struct resp_writer *w, bool v);
/* Big number (decimal digits): "(<digits>\r\n" in RESP3, bulk in RESP2. */
rstatus_i resp_compose_bignum(
        struct resp_writer *w, const char *digits, size_t len);
/* Verbatim string with a 3-letter format ("txt", "mkd"):
 * "=<len+4>\r\n<fmt>:<data>\r\n" in RESP3, a plain bulk in RESP2. */
rstatus_i resp_compose_verbatim(
        struct resp_writer *w, const char *fmt, const void *data, size_t len);
/* Bytes as they are (already-encoded RESP). */
rstatus_i resp_compose_raw(struct resp_writer *w, const void *data, size_t len);
/* A request: "*<argc>\r\n" then each argument as a bulk string. */
rstatus_i resp_compose_req(
        struct resp_writer *w, const struct resp_arg *argv, uint32_t argc);
