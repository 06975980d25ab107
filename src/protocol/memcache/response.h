/* SPDX-License-Identifier: Apache-2.0 */
/* Reply shapes of the memcached text protocol, as compose.h writes them:
 * fixed lines (STORED, END, ...), VALUE items, numbers, errors, STAT and
 * VERSION lines, and meta replies (HD VA EN NF NS EX with return flags). */
#pragma once

#include "base/bstring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
/* Fixed reply lines: name, text without "\r\n". */
#define MEMCACHE_RSP_TYPE(ACTION)                           \
    ACTION( MEMCACHE_RSP_END,         "END"              ) \
    ACTION( MEMCACHE_RSP_STORED,      "STORED"           ) \
    ACTION( MEMCACHE_RSP_NOT_STORED,  "NOT_STORED"       ) \
    ACTION( MEMCACHE_RSP_EXISTS,      "EXISTS"           ) \
    ACTION( MEMCACHE_RSP_NOT_FOUND,   "NOT_FOUND"        ) \
    ACTION( MEMCACHE_RSP_DELETED,     "DELETED"          ) \
    ACTION( MEMCACHE_RSP_TOUCHED,     "TOUCHED"          ) \
    ACTION( MEMCACHE_RSP_OK,          "OK"               ) \
    ACTION( MEMCACHE_RSP_RESET,       "RESET"            ) \
    ACTION( MEMCACHE_RSP_ERROR,       "ERROR"            ) \
    ACTION( MEMCACHE_RSP_MN,          "MN"               ) \
    ACTION( MEMCACHE_RSP_EN,          "EN"               )

/* Meta return codes: name, the two letters. */
#define MEMCACHE_META_CODE(ACTION)                          \
    ACTION( MEMCACHE_META_HD,         "HD"               ) \
    ACTION( MEMCACHE_META_VA,         "VA"               ) \
    ACTION( MEMCACHE_META_EN,         "EN"               ) \
    ACTION( MEMCACHE_META_NF,         "NF"               ) \
    ACTION( MEMCACHE_META_NS,         "NS"               ) \
    ACTION( MEMCACHE_META_EX,         "EX"               )
/* clang-format on */

#define MEMCACHE_RSP_ENUM_ROW(_name, _str) _name,
typedef enum {
    MEMCACHE_RSP_TYPE(MEMCACHE_RSP_ENUM_ROW) MEMCACHE_RSP_SENTINEL
} memcache_rsp_type_e;
typedef enum {
    MEMCACHE_META_CODE(MEMCACHE_RSP_ENUM_ROW) MEMCACHE_META_CODE_SENTINEL
} memcache_meta_code_e;

/* "STORED", ...; "" out of range. */
const char *memcache_rsp_str(memcache_rsp_type_e type);
/* "HD", ...; "" out of range. */
const char *memcache_meta_code_str(memcache_meta_code_e code);

/* What the processor knows about an item for a meta reply. Which fields
 * are written depends on the flags the request sent, in their order:
 *   mg HD/VA: s t c f l h O k, then Z X W from the booleans below;
 *   ma HD/VA: c t O k;  ms (any code): O k c;  otherwise: O k.
 * (That is what memcached 1.6.18 writes for each command.) */
struct memcache_meta_rsp {
    memcache_meta_code_e code;
    uint32_t vlen;        /* VA: bytes of the value that follows */
    uint64_t cas;         /* c */
    uint32_t flags;       /* f: client flags */
    int64_t ttl;          /* t: seconds left, -1 for none */
    uint32_t size;        /* s: value size */
    uint32_t last_access; /* l: seconds since the last access */
    bool fetched;         /* h: hit before */
    bool token_sent;      /* Z: another client won the recache token */
    bool stale;           /* X: item is stale */
    bool win;             /* W: this client won the recache token */
};
