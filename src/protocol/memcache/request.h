/* SPDX-License-Identifier: Apache-2.0 */
/* A parsed memcached text-protocol request: the classic commands (get, set,
 * incr, stats, ...) and the meta commands (mg ms md ma mn me), as memcached
 * 1.6.18 reads them. Filled by memcache_parse_req (parse.h); turned back
 * into wire bytes by memcache_compose_req (compose.h).
 *
 * Keys, values, opaque tokens and arguments are views into the read buffer
 * the request was parsed from: they are valid until that buffer is
 * shifted, grown, shrunk or cleared (buf.h). A base64 key (meta flag b) is
 * decoded into the request itself. One thread at a time. */
#pragma once

#include "base/bstring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define MEMCACHE_KEY_MAXLEN     250 /* memcached's KEY_MAX_LENGTH */
#define MEMCACHE_OPAQUE_MAXLEN  32  /* an O token, the 'O' included */
#define MEMCACHE_META_TOKEN_MAX 19  /* tokens on a meta line, command included */
#define MEMCACHE_META_FLAG_MAX  17  /* flags after "mg <key>" within that */
#define MEMCACHE_ARG_MAX        22  /* arguments kept for stats, slabs, ... */
#define MEMCACHE_BINARY_MAGIC   0x80 /* first byte of a binary request */

/* Request types: name, command word, fewest and most tokens on the line
 * (the command included; 0 = no upper bound). A line outside the bounds
 * is answered "ERROR", as memcached does. */
#define MEMCACHE_REQ_TYPE(ACTION)                                  \
    ACTION( MEMCACHE_REQ_UNKNOWN,        "",               0, 0 ) \
    ACTION( MEMCACHE_REQ_GET,            "get",            2, 0 ) \
    ACTION( MEMCACHE_REQ_GETS,           "gets",           2, 0 ) \
    ACTION( MEMCACHE_REQ_SET,            "set",            5, 6 ) \
    ACTION( MEMCACHE_REQ_MG,             "mg",             2, 0 ) \
    ACTION( MEMCACHE_REQ_MS,             "ms",             2, 0 ) \
    ACTION( MEMCACHE_REQ_DELETE,         "delete",         2, 4 ) \
    ACTION( MEMCACHE_REQ_INCR,           "incr",           3, 4 ) \
    ACTION( MEMCACHE_REQ_DECR,           "decr",           3, 4 ) \
    ACTION( MEMCACHE_REQ_GAT,            "gat",            2, 0 ) \
    ACTION( MEMCACHE_REQ_GATS,           "gats",           2, 0 ) \
    ACTION( MEMCACHE_REQ_TOUCH,          "touch",          3, 4 ) \
    ACTION( MEMCACHE_REQ_ADD,            "add",            5, 6 ) \
    ACTION( MEMCACHE_REQ_REPLACE,        "replace",        5, 6 ) \
    ACTION( MEMCACHE_REQ_APPEND,         "append",         5, 6 ) \
    ACTION( MEMCACHE_REQ_PREPEND,        "prepend",        5, 6 ) \
    ACTION( MEMCACHE_REQ_CAS,            "cas",            6, 7 ) \
    ACTION( MEMCACHE_REQ_MD,             "md",             2, 0 ) \
    ACTION( MEMCACHE_REQ_MA,             "ma",             2, 0 ) \
    ACTION( MEMCACHE_REQ_MN,             "mn",             1, 0 ) \
    ACTION( MEMCACHE_REQ_ME,             "me",             1, 0 ) \
    ACTION( MEMCACHE_REQ_FLUSH_ALL,      "flush_all",      1, 3 ) \
    ACTION( MEMCACHE_REQ_VERSION,        "version",        1, 0 ) \
    ACTION( MEMCACHE_REQ_VERBOSITY,      "verbosity",      2, 3 ) \
    ACTION( MEMCACHE_REQ_QUIT,           "quit",           1, 0 ) \
    ACTION( MEMCACHE_REQ_STATS,          "stats",          1, 0 ) \
    ACTION( MEMCACHE_REQ_CACHE_MEMLIMIT, "cache_memlimit", 2, 3 ) \
    ACTION( MEMCACHE_REQ_SHUTDOWN,       "shutdown",       1, 0 ) \
    ACTION( MEMCACHE_REQ_SLABS,          "slabs",          1, 0 ) \
    ACTION( MEMCACHE_REQ_LRU,            "lru",            2, 0 ) \
    ACTION( MEMCACHE_REQ_LRU_CRAWLER,    "lru_crawler",    1, 0 ) \
    ACTION( MEMCACHE_REQ_WATCH,          "watch",          1, 0 ) \
    ACTION( MEMCACHE_REQ_REFRESH_CERTS,  "refresh_certs",  1, 2 )

/* Why a request was refused, and the exact line memcached sends for it
 * (without "\r\n"). The processor sends it with memcache_compose_error
 * unless req->noreply says memcached would stay silent. MEMCACHE_ERR_HTTP
 * has no line: a request that looks like HTTP is hung up on unanswered. */
#define MEMCACHE_ERROR(ACTION)                                                \
    ACTION( MEMCACHE_ERR_NONE,          ""                                  ) \
    ACTION( MEMCACHE_ERR_UNKNOWN,       "ERROR"                             ) \
    ACTION( MEMCACHE_ERR_FORMAT,        "CLIENT_ERROR bad command line format" ) \
    ACTION( MEMCACHE_ERR_DELETE_USAGE,  "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]" ) \
    ACTION( MEMCACHE_ERR_EXPTIME,       "CLIENT_ERROR invalid exptime argument" ) \
    ACTION( MEMCACHE_ERR_DELTA,         "CLIENT_ERROR invalid numeric delta argument" ) \
    ACTION( MEMCACHE_ERR_DATA_CHUNK,    "CLIENT_ERROR bad data chunk"       ) \
    ACTION( MEMCACHE_ERR_LINE_TOO_LONG, "CLIENT_ERROR line too long"        ) \
    ACTION( MEMCACHE_ERR_TOO_LARGE,     "SERVER_ERROR object too large for cache" ) \
    ACTION( MEMCACHE_ERR_META_FLAG,     "CLIENT_ERROR invalid flag"         ) \
    ACTION( MEMCACHE_ERR_META_DUP,      "CLIENT_ERROR duplicate flag"       ) \
    ACTION( MEMCACHE_ERR_META_BAD_FLAG, "CLIENT_ERROR invalid or duplicate flag" ) \
    ACTION( MEMCACHE_ERR_META_TOKEN,    "CLIENT_ERROR bad token in command line format" ) \
    ACTION( MEMCACHE_ERR_META_DECODE,   "CLIENT_ERROR error decoding key"   ) \
    ACTION( MEMCACHE_ERR_META_M_LEN,    "CLIENT_ERROR incorrect length for M token" ) \
    ACTION( MEMCACHE_ERR_META_MS_MODE,  "CLIENT_ERROR invalid mode for ms M token" ) \
    ACTION( MEMCACHE_ERR_META_MA_MODE,  "CLIENT_ERROR invalid mode for ma M token" ) \
    ACTION( MEMCACHE_ERR_META_INITIAL,  "CLIENT_ERROR invalid numeric initial value" ) \
    ACTION( MEMCACHE_ERR_META_DELTA,    "CLIENT_ERROR invalid numeric delta value" ) \
    ACTION( MEMCACHE_ERR_META_OPAQUE,   "CLIENT_ERROR opaque token too long" ) \
    ACTION( MEMCACHE_ERR_MG_TOO_MANY,   "CLIENT_ERROR options flags are too long" ) \
    ACTION( MEMCACHE_ERR_META_TOO_MANY, "CLIENT_ERROR options flags too long" ) \
    ACTION( MEMCACHE_ERR_HTTP,          ""                                  )
/* clang-format on */

#define MEMCACHE_ENUM_ROW(_name, ...) _name,
typedef enum {
    MEMCACHE_REQ_TYPE(MEMCACHE_ENUM_ROW) MEMCACHE_REQ_SENTINEL
} memcache_req_type_e;
typedef enum {
    MEMCACHE_ERROR(MEMCACHE_ENUM_ROW) MEMCACHE_ERR_SENTINEL
} memcache_error_e;

/* The command word of a type ("get"); "" for MEMCACHE_REQ_UNKNOWN. */
const char *memcache_req_type_str(memcache_req_type_e type);
/* The reply line for an error, without "\r\n" ("ERROR"). */
const char *memcache_error_str(memcache_error_e err);
size_t memcache_error_len(memcache_error_e err);

/* Meta flags are single letters; request.meta.flags holds one bit per
 * letter present: MEMCACHE_META_HAS(&req->meta, 'v'). */
#define MEMCACHE_META_BIT(_c)     (1ULL << ((unsigned)(_c) - 'A'))
#define MEMCACHE_META_HAS(_m, _c) (((_m)->flags & MEMCACHE_META_BIT(_c)) != 0)

/* The meta part of a request (mg ms md ma me; zero for other commands). */
struct memcache_meta {
    uint64_t flags; /* MEMCACHE_META_BIT(c) for each flag letter c sent */
    /* flag letters in request order, NUL-terminated: return flags (c f h k
     * l O s t) are written back in this order */
    char order[MEMCACHE_META_FLAG_MAX + 1];
    uint8_t nflag;
    bool key_binary;         /* b: the key was base64; req->key is decoded */
    char mode;               /* M: mode letter as sent; 0 when absent */
    struct bstring opaque;   /* O: the token without its 'O' */
    int32_t ttl;             /* T: new TTL (memcached exptime rules) */
    int32_t vivify_ttl;      /* N: vivify on miss with this TTL */
    int32_t recache_ttl;     /* R: win a recache below this TTL */
    uint32_t client_flags;   /* F: client flags to store; 0 when absent */
    uint64_t cas;            /* C: compare CAS */
    uint64_t delta;          /* D: ma delta; 1 when absent */
    uint64_t initial;        /* J: ma initial value on vivify; 0 when absent */
    struct bstring key_wire; /* the key token as sent (base64 text for b) */
};

struct memcache_request {
    memcache_req_type_e type;
    memcache_error_e error; /* on EINVALID or EOVERSIZE: the reply to send */
    /* classic "noreply" (also when the line was refused after memcached
     * had read it: then the error reply is not sent either). Meta quiet
     * mode is the q flag in meta.flags instead; meta errors always reply. */
    bool noreply;
    struct bstring key; /* single-key commands; the first key of a get */
    /* get/gets/gat/gats: every key, as the run of the line that holds them;
     * walk them with memcache_request_key_next(). nkey may be 0 for gat. */
    struct bstring keys;
    uint32_t nkey;
    uint32_t flags;  /* storage: client flags (low 32 bits, as memcached) */
    int32_t exptime; /* storage, touch, gat/gats; flush_all delay */
    uint64_t cas;    /* cas: the compare value */
    uint64_t delta;  /* incr/decr */
    uint32_t num;    /* verbosity level; cache_memlimit megabytes */
    size_t vlen;     /* storage: value length (ms: datalen) */
    struct bstring value; /* storage on PARSE_OK: the whole value */
    size_t hdr_len;       /* bytes of the command line, its line end included */
    /* storage on PARSE_UNFIN once the line is complete: bytes the whole
     * request needs from rpos (line, value, "\r\n"); 0 while unknown. */
    size_t need;
    size_t swallow;    /* bytes after the line still to drop (see parse.h) */
    size_t value_left; /* streaming: value bytes not taken yet (parse.h) */
    struct memcache_meta meta;
    uint8_t bin_opcode; /* binary request: opcode and opaque, when sent */
    uint32_t bin_opaque;
    uint8_t narg; /* stats, slabs, lru, lru_crawler, watch, shutdown */
    /* memcache_request_reset clears only the fields above: the ones below
     * are read up to narg, or through key */
    struct bstring arg[MEMCACHE_ARG_MAX];
    char key_buf[MEMCACHE_KEY_MAXLEN]; /* a decoded base64 key */
};

/* Zeroes a request for the next parse (embedded objects: init/reset). */
void memcache_request_reset(struct memcache_request *req);

/* True for set add replace append prepend cas and ms: a value follows. */
bool memcache_req_is_storage(memcache_req_type_e type);
/* True for get gets gat gats: any number of keys. */
bool memcache_req_is_retrieval(memcache_req_type_e type);

/* Walks the keys of a retrieval request: *pos starts at 0; each call puts
 * the next key in *key and returns true, then false after the last. */
bool memcache_request_key_next(
        const struct memcache_request *req, size_t *pos, struct bstring *key);
