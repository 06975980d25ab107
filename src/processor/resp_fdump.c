/* SPDX-License-Identifier: Apache-2.0 */
/* FUNCTION DUMP / RESTORE payloads as Redis 7.0.15 writes them: RDB
 * strings (length encoding, integer and LZF encodings) and the version and
 * CRC-64 footer of Redis's DUMP format. */
#include "processor/resp_fdump.h"

#include "base/mm.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define CRC64_POLY 0x95ac9329ac4bc9b5ULL /* 0xad93d23594c935a9 reflected */

#define MSG_CHECKSUM "ERR DUMP payload version or checksum are wrong"
#define MSG_TYPE     "ERR given type is not a function"
#define MSG_PAYLOAD  "ERR Failed loading library payload"
#define MSG_PRE_GA   "ERR Pre-GA function format not supported"

/* An LZF string longer than this many times its compressed size cannot
 * come from LZF (a back reference copies at most 264 bytes from 3). */
#define LZF_MAX_RATIO 100

uint64_t
fdump_crc64(uint64_t crc, const void *p, size_t len)
{
    uint64_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ ((c & 1) ? CRC64_POLY : 0);
        }
        table[i] = c;
    }
    const unsigned char *s = p;
    for (size_t i = 0; i < len; i++) {
        crc = table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
    }
    return crc;
}

/* ---- writing ---- */

static size_t
len_size(uint64_t n)
{
    return n < (1u << 6) ? 1 : n < (1u << 14) ? 2 : n <= UINT32_MAX ? 5 : 9;
}

size_t
fdump_entry_size(size_t len)
{
    return 1 + len_size(len) + len;
}

static char *
put_len(char *p, uint64_t n)
{
    unsigned char *u = (unsigned char *)p;
    if (n < (1u << 6)) {
        *u++ = (unsigned char)n;
    } else if (n < (1u << 14)) {
        *u++ = (unsigned char)(0x40 | (n >> 8));
        *u++ = (unsigned char)(n & 0xff);
    } else {
        int bytes = n <= UINT32_MAX ? 4 : 8;
        *u++ = bytes == 4 ? 0x80 : 0x81;
        for (int i = bytes - 1; i >= 0; i--) {
            *u++ = (unsigned char)(n >> (8 * i)); /* big-endian */
        }
    }
    return (char *)u;
}

char *
fdump_put_entry(char *p, const char *code, size_t len)
{
    *p++ = (char)FDUMP_OPCODE_FUNCTION2;
    p = put_len(p, len);
    memcpy(p, code, len);
    return p + len;
}

char *
fdump_put_footer(char *begin, char *end)
{
    unsigned char *u = (unsigned char *)end;
    *u++ = FDUMP_RDB_VERSION & 0xff;
    *u++ = FDUMP_RDB_VERSION >> 8;
    uint64_t crc = fdump_crc64(0, begin, (size_t)((char *)u - begin));
    for (int i = 0; i < 8; i++) {
        *u++ = (unsigned char)(crc >> (8 * i));
    }
    return (char *)u;
}

/* ---- reading ---- */

struct reader {
    const unsigned char *p;
    const unsigned char *end;
};

static bool
get_byte(struct reader *r, unsigned char *b)
{
    if (r->p >= r->end) {
        return false;
    }
    *b = *r->p++;
    return true;
}

/* An RDB length; *special the encoding (0..3) when the length byte is
 * 11xxxxxx, else -1. */
static bool
get_len(struct reader *r, uint64_t *n, int *special)
{
    unsigned char b, c;
    *special = -1;
    if (!get_byte(r, &b)) {
        return false;
    }
    switch (b >> 6) {
    case 0:
        *n = b & 0x3f;
        return true;
    case 1:
        if (!get_byte(r, &c)) {
            return false;
        }
        *n = ((uint64_t)(b & 0x3f) << 8) | c;
        return true;
    case 2: {
        int bytes = b == 0x80 ? 4 : b == 0x81 ? 8 : 0;
        if (bytes == 0 || r->end - r->p < bytes) {
            return false;
        }
        *n = 0;
        for (int i = 0; i < bytes; i++) {
            *n = (*n << 8) | *r->p++;
        }
        return true;
    }
    default:
        *special = b & 0x3f;
        *n = 0;
        return true;
    }
}

/* liblzf's format: a control byte below 32 is a run of ctrl + 1 literal
 * bytes; else a back reference of (ctrl >> 5) + 2 bytes (7: plus the next
 * byte) at distance ((ctrl & 31) << 8) + next byte + 1. */
static bool
lzf_expand(
        const unsigned char *in, size_t ilen, unsigned char *out, size_t olen)
{
    const unsigned char *ip = in, *iend = in + ilen;
    unsigned char *op = out, *oend = out + olen;
    while (ip < iend) {
        unsigned ctrl = *ip++;
        if (ctrl < 32) {
            size_t n = ctrl + 1;
            if ((size_t)(iend - ip) < n || (size_t)(oend - op) < n) {
                return false;
            }
            memcpy(op, ip, n);
            op += n;
            ip += n;
            continue;
        }
        size_t n = ctrl >> 5;
        if (n == 7) {
            if (ip >= iend) {
                return false;
            }
            n += *ip++;
        }
        if (ip >= iend) {
            return false;
        }
        size_t dist = ((size_t)(ctrl & 31) << 8) + *ip++ + 1;
        n += 2;
        if (dist > (size_t)(op - out) || (size_t)(oend - op) < n) {
            return false;
        }
        const unsigned char *ref = op - dist;
        for (size_t i = 0; i < n; i++) { /* may overlap: byte by byte */
            *op++ = *ref++;
        }
    }
    return op == oend;
}

/* One RDB string: calls fn with it. */
static const char *
read_string(struct reader *r, fdump_entry_fn fn, void *arg)
{
    uint64_t n;
    int special;
    if (!get_len(r, &n, &special)) {
        return MSG_PAYLOAD;
    }
    if (special < 0) {
        if (n > (uint64_t)(r->end - r->p)) {
            return MSG_PAYLOAD;
        }
        const char *s = (const char *)r->p;
        r->p += n;
        return fn(arg, s, (size_t)n);
    }
    if (special <= 2) { /* int8, int16, int32 little-endian: the digits */
        int bytes = 1 << special;
        if (r->end - r->p < bytes) {
            return MSG_PAYLOAD;
        }
        uint32_t u = 0;
        for (int i = bytes - 1; i >= 0; i--) {
            u = (u << 8) | r->p[i];
        }
        r->p += bytes;
        int64_t v = special == 0   ? (int8_t)u
                    : special == 1 ? (int16_t)u
                                   : (int32_t)u;
        char digits[24];
        int dn = snprintf(digits, sizeof(digits), "%lld", (long long)v);
        return fn(arg, digits, (size_t)dn);
    }
    uint64_t clen, len;
    int s1, s2;
    if (special != 3 || !get_len(r, &clen, &s1) || !get_len(r, &len, &s2) ||
            s1 >= 0 || s2 >= 0 || clen > (uint64_t)(r->end - r->p) ||
            len == 0 || len > clen * LZF_MAX_RATIO) {
        return MSG_PAYLOAD;
    }
    unsigned char *out = mm_alloc((size_t)len);
    if (out == NULL) {
        return "ERR out of memory";
    }
    const char *err = MSG_PAYLOAD;
    if (lzf_expand(r->p, (size_t)clen, out, (size_t)len)) {
        err = fn(arg, (const char *)out, (size_t)len);
    }
    r->p += clen;
    mm_release(out);
    return err;
}

const char *
fdump_read(const char *p, size_t len, fdump_entry_fn fn, void *arg)
{
    if (len < FDUMP_FOOTER) {
        return MSG_CHECKSUM;
    }
    const unsigned char *u = (const unsigned char *)p;
    const unsigned char *foot = u + len - FDUMP_FOOTER;
    uint32_t version = foot[0] | (uint32_t)foot[1] << 8;
    uint64_t crc = 0;
    for (int i = 7; i >= 0; i--) {
        crc = (crc << 8) | foot[2 + i];
    }
    if (version > FDUMP_RDB_VERSION || fdump_crc64(0, p, len - 8) != crc) {
        return MSG_CHECKSUM;
    }
    struct reader r = {.p = u, .end = foot};
    while (r.p < r.end) {
        unsigned char type = *r.p++;
        if (type == FDUMP_OPCODE_PRE_GA) {
            return MSG_PRE_GA;
        }
        if (type != FDUMP_OPCODE_FUNCTION2) {
            return MSG_TYPE;
        }
        const char *err = read_string(&r, fn, arg);
        if (err != NULL) {
            return err;
        }
    }
    return NULL;
}
