/* SPDX-License-Identifier: Apache-2.0 */
/* Composer for memcached text-protocol replies (and, for clients and
 * tests, requests). Every function appends to b, growing it to at most
 * max bytes in all (buf_reserve); on STATUS_ENOMEM b is unchanged.
 * Numbers are written digit by digit: nothing here calls printf.
 *
 * A get reply without copying the value twice:
 *   memcache_compose_value_header(wbuf, &key, flags, vlen, NULL, max);
 *   memcache_compose_value_data(wbuf, item_value_ptr, vlen, max);
 * copies the value once, straight from store memory into the write
 * buffer; a caller doing writev from store memory instead writes only the
 * header here and "\r\n" after the value itself. Any thread, one buffer
 * per thread. */
#pragma once

#include "base/bstring.h"
#include "base/buf.h"
#include "base/status.h"
#include "protocol/memcache/request.h"
#include "protocol/memcache/response.h"

#include <stddef.h>
#include <stdint.h>

/* A fixed line: "STORED\r\n", "END\r\n", ... */
rstatus_i memcache_compose_rsp(
        struct buf *b, memcache_rsp_type_e type, size_t max);
/* The reply for a parse error (request.h): "CLIENT_ERROR ...\r\n". */
rstatus_i memcache_compose_error(
        struct buf *b, memcache_error_e err, size_t max);
/* "CLIENT_ERROR <msg>\r\n" and "SERVER_ERROR <msg>\r\n". */
rstatus_i memcache_compose_client_error(
        struct buf *b, const char *msg, size_t len, size_t max);
rstatus_i memcache_compose_server_error(
        struct buf *b, const char *msg, size_t len, size_t max);
/* Any other reply line (MEMLIMIT_TOO_SMALL ..., BUSY ...); adds "\r\n". */
rstatus_i memcache_compose_line(
        struct buf *b, const char *line, size_t len, size_t max);
/* "<n>\r\n": the incr/decr reply. */
rstatus_i memcache_compose_number(struct buf *b, uint64_t n, size_t max);

/* "VALUE <key> <flags> <vlen>[ <cas>]\r\n"; cas NULL for get and gat, the
 * item's CAS for gets and gats. */
rstatus_i memcache_compose_value_header(struct buf *b,
        const struct bstring *key, uint32_t flags, size_t vlen,
        const uint64_t *cas, size_t max);
/* The value bytes and "\r\n" (a VALUE item, a VA reply). */
rstatus_i memcache_compose_value_data(
        struct buf *b, const void *data, size_t len, size_t max);
/* Both: one VALUE item. */
rstatus_i memcache_compose_value(struct buf *b, const struct bstring *key,
        uint32_t flags, const void *data, size_t len, const uint64_t *cas,
        size_t max);

/* "STAT <name> <value>\r\n". */
rstatus_i memcache_compose_stat(struct buf *b, const char *name,
        const struct bstring *value, size_t max);
rstatus_i memcache_compose_stat_u64(
        struct buf *b, const char *name, uint64_t value, size_t max);
/* "VERSION <version>\r\n". */
rstatus_i memcache_compose_version(
        struct buf *b, const char *version, size_t max);

/* A meta reply line for req (mg ms md ma): "<CD>[ <vlen>] <flags>*\r\n"
 * with the return flags req asked for (response.h says which); for VA the
 * value follows with memcache_compose_value_data. */
rstatus_i memcache_compose_meta(struct buf *b,
        const struct memcache_request *req, const struct memcache_meta_rsp *rsp,
        size_t max);
/* "ME <key> <detail>\r\n" for req (me); the key base64 when req sent b. */
rstatus_i memcache_compose_me(struct buf *b, const struct memcache_request *req,
        const char *detail, size_t len, size_t max);
/* A binary-protocol response to a binary request (EBINARY): status 0x0083
 * "Not supported", with the request's opcode and opaque, so a binary
 * client sees a clean refusal before the connection closes. */
rstatus_i memcache_compose_binary_refusal(
        struct buf *b, const struct memcache_request *req, size_t max);

/* The request on the wire, as a client sends it (storage commands with
 * their value): parses back into an equal request. */
rstatus_i memcache_compose_req(
        struct buf *b, const struct memcache_request *req, size_t max);

/* Standard base64 with padding; returns the length written, 0 if cap is
 * too small. */
size_t memcache_base64_encode(
        const void *src, size_t len, char *dst, size_t cap);
