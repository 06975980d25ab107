/* SPDX-License-Identifier: Apache-2.0 */
/* The payload of Redis 7.0.15's FUNCTION DUMP and FUNCTION RESTORE: each
 * library's code as an RDB string after the opcode RDB_OPCODE_FUNCTION2
 * (245), then the RDB version (10, two bytes little-endian) and Redis's
 * CRC-64 (Jones polynomial, reflected) of everything before it, eight
 * bytes little-endian:
 *
 *   +-----+--------+------+-----+-----+--------+------+----+--------+
 *   | 245 | length | code | ... | 245 | length | code | 10 0 | crc64 |
 *   +-----+--------+------+-----+-----+--------+------+----+--------+
 *
 * Written plain; read plain, integer-encoded or LZF-compressed (what
 * Redis writes with rdbcompression on). Pure: no store, no Lua; the fuzz
 * target fuzz_fdump drives the reader. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FDUMP_OPCODE_FUNCTION2 245
#define FDUMP_OPCODE_PRE_GA    246 /* Redis 7.0 release candidates' format */
#define FDUMP_RDB_VERSION      10
#define FDUMP_FOOTER           10 /* version and CRC-64 */

/* Redis's crc64 (crc64_jones): crc64(0, "123456789", 9) is
 * 0xe9c6d914c4b8d9ca. */
uint64_t fdump_crc64(uint64_t crc, const void *p, size_t len);

/* Bytes one library of len bytes of code takes in a payload. */
size_t fdump_entry_size(size_t len);
/* Writes one library at p (fdump_entry_size(len) bytes); returns the end. */
char *fdump_put_entry(char *p, const char *code, size_t len);
/* Writes the footer of the payload [begin, end) at end (FDUMP_FOOTER
 * bytes); returns the payload's new end. */
char *fdump_put_footer(char *begin, char *end);

/* Called with each library's code in payload order; code is valid during
 * the call only. Returns NULL to go on, or an error reply that stops the
 * read and is returned by fdump_read. */
typedef const char *(*fdump_entry_fn)(void *arg, const char *code, size_t len);
/* Checks the version and checksum of the payload p[0..len), then calls fn
 * for each library in it. NULL when every library was read, else Redis's
 * error reply ("ERR DUMP payload version or checksum are wrong", "ERR
 * given type is not a function", "ERR Failed loading library payload"),
 * "ERR Pre-GA function format not supported" or fn's. Any thread. */
const char *fdump_read(const char *p, size_t len, fdump_entry_fn fn, void *arg);
