/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between memcache.c (classic commands, the read loop) and
 * memcache_meta.c (mg ms md ma mn me). Private to src/processor/. */
#pragma once

#include "core/conn.h"
#include "processor/keyspace.h"
#include "processor/memcache.h"
#include "processor/memcache_watch.h"
#include "protocol/memcache/binary.h"
#include "protocol/memcache/compose.h"
#include "protocol/memcache/parse.h"
#include "storage/storage.h"

#include <stdbool.h>

#define MC_DB 0 /* the memcache port works in database 0 */

typedef enum {
    MC_PROTO_UNKNOWN, /* no byte read yet */
    MC_PROTO_TEXT,
    MC_PROTO_BINARY, /* the first byte was 0x80 (memcache_binary.c) */
} mc_proto_e;

struct sendval;

/* Per-connection state, c->data. */
struct mc_state {
    struct memcache_request req;
    mc_proto_e proto;
    struct memcache_bin_request breq;
    /* a storage value streamed into the store across reads */
    bool streaming;
    storage_status_e stream_status; /* not OK: discard, then report this */
    bool stream_slot;               /* holds one of the MC_STREAM_MAX slots */
    struct storage_reservation res;
    struct ks_stream *big; /* instead of res: a value past one item */
    size_t filled;
    uint8_t stream_klen;
    uint8_t stream_key[MEMCACHE_KEY_MAXLEN];
    char *stream_line;    /* an ms line, kept for its reply (views rebased) */
    size_t stream_left;   /* binary: value bytes still to come */
    uint32_t resume_skip; /* retrieval: keys answered before a stall */
    struct sendval *out;  /* a large value sent in pieces: a get's keys
                             after it wait (resume_skip) */
    bool out_crlf;        /* out is followed by CRLF (not in binary) */
    /* a key dump (metadump, cachedump) paused for a full write buffer */
    bool dump_active;
    uint64_t dump_cursor;
    uint64_t dump_left;
    size_t dump_bytes;
    uint32_t nreq; /* for latency sampling */
    /* `watch`: what this connection watches (MC_WATCH_*; 0: not a
     * watcher), and the lines it lost since the last one it got */
    unsigned watch_kinds;
    uint64_t watch_skipped;
};

extern proc_memcache_metrics_st *mc_metrics;

/* Sends v after what the reply holds so far (mg's VA line, a binary get's
 * header), from the read loop as the socket drains, then CRLF when crlf;
 * the requests after it wait. */
void mc_out_begin(
        struct conn *c, struct mc_state *st, struct sendval *v, bool crlf);
/* Copies the pending value into the write buffer as far as
 * worker.wbuf_high allows; an error status closes the connection (the key
 * changed before the value's last slice). */
rstatus_i mc_out_pump(
        struct conn *c, struct mc_state *st, const struct proc_limits *limits);

/* Composes into c->wbuf within the limit; STATUS_ENOMEM when it cannot. */
static inline size_t
mc_max(const struct proc_limits *limits)
{
    return limits->wbuf_max;
}

/* A storage_item's expiry as memcached's meta `t`: seconds left, -1 for
 * none. */
int64_t mc_ttl_left(const struct storage_item *it, uint64_t now);

/* What `stats` prints (set by proc_memcache_setup). */
const struct memcache_stats_source *mc_stats_source(void);

/* Room in c->rbuf for the whole of a request of `need` bytes the parser
 * admitted (its value within memcache.item_size_max): the read buffer may
 * grow past worker.rbuf_max by the value, which memcache.item_size_max
 * bounds (worker.rbuf_max bounds unparsed lines and headers, not values;
 * worker.buffer_memory counts it like any buffer). STATUS_ENOMEM when no
 * memory, or for a need the value does not explain. */
rstatus_i mc_await_whole(
        struct conn *c, size_t need, const struct proc_limits *limits);

/* The read loop of a binary-protocol connection (memcache_binary.c). */
rstatus_i mc_binary_read(
        struct conn *c, struct mc_state *st, const struct proc_limits *limits);

/* The keyspace path (keyspace.h) for memcache: a key of another type is a
 * key with no value memcache can read. mc_lookup: a string key's view
 * (flags: KS_NOTOUCH, KS_RAW), STORAGE_NOT_FOUND for a missing key or one
 * of another type; not counted as Redis keyspace hits. mc_fetch: the same,
 * or with touch its expiry set first (gat, touch, meta T); a value in parts
 * is copied whole into the view then too, unless flags has KS_RAW (the
 * view is its root: ks_str_len, ks_str_cflags). mc_other_type: whether the
 * key is live with another type (cas answers NOT_FOUND). */
storage_status_e mc_lookup(const void *key, size_t klen, unsigned flags,
        uint64_t now, struct storage_item *it);
storage_status_e mc_fetch(const void *key, size_t klen, bool touch,
        uint64_t expiry, uint64_t now, unsigned flags, struct storage_item *it);
bool mc_other_type(const void *key, size_t klen, uint64_t now);

/* Counts a storage command's outcome (both protocols): a CAS as hit,
 * bad value or miss; any other as stored, refused for memory or size, or
 * not stored. */
void mc_count_store(bool cas, storage_status_e s);

/* The meta commands; return a compose status. */
rstatus_i mc_meta_get(struct conn *c, struct mc_state *st, size_t max);
rstatus_i mc_meta_set(struct conn *c, struct mc_state *st, size_t max);
/* A storage value received into the store in pieces (memcache.c), for
 * every protocol variant: open (a reservation while a stream slot is held,
 * else parts; pre not OK: the value is read and dropped, then pre is the
 * answer; drop_if_big: a value too large removes the key's old one), take
 * each piece, commit (the store's answer; cas the new item's). */
void mc_stream_open(struct conn *c, struct mc_state *st, const char *key,
        size_t klen, size_t vlen, const struct storage_write *w,
        storage_status_e pre, bool slot, bool drop_if_big);
void mc_stream_take(
        struct conn *c, struct mc_state *st, const void *data, size_t n);
storage_status_e mc_stream_commit(
        struct conn *c, struct mc_state *st, uint64_t *cas);
/* One of the MC_STREAM_MAX reservation slots; false: all taken. */
bool mc_stream_slot(void);
/* For an ms whose value is streamed into the store: whether its mode is a
 * plain store (set, add, replace, with or without C; not append, prepend
 * or an invalidating CAS store), and the write it makes (*w; a status
 * not OK when it cannot store: a C on a key of another type). */
bool mc_meta_set_streamable(const struct memcache_request *req);
storage_status_e mc_meta_set_write(struct conn *c,
        const struct memcache_request *req, struct storage_write *w);
/* ms's reply (and watch line) once its store answered s (cas: the new
 * item's). */
rstatus_i mc_meta_set_stored(struct conn *c, struct mc_state *st,
        storage_status_e s, uint64_t cas, size_t max);
rstatus_i mc_meta_delete(struct conn *c, struct mc_state *st, size_t max);
rstatus_i mc_meta_arith(struct conn *c, struct mc_state *st, size_t max);
rstatus_i mc_meta_debug(struct conn *c, struct mc_state *st, size_t max);

/* Key dumps (memcache_dump.c): `lru_crawler ...` and `stats cachedump`.
 * line: the request line, parsed again after a pause. */
rstatus_i mc_lru_crawler(struct conn *c, struct mc_state *st, const char *line,
        const struct proc_limits *limits);
rstatus_i mc_cachedump(struct conn *c, struct mc_state *st, const char *line,
        const struct proc_limits *limits);

/* Admin commands with memcached's argument checks (memcache_admin.c). */
rstatus_i mc_verbosity(struct conn *c, struct mc_state *st, size_t max);
rstatus_i mc_slabs(struct conn *c, struct mc_state *st, size_t max);
rstatus_i mc_lru(struct conn *c, struct mc_state *st, size_t max);
rstatus_i mc_watch(struct conn *c, struct mc_state *st, size_t max);
rstatus_i mc_memlimit(struct conn *c, struct mc_state *st, size_t max);
/* `stats detail on|off|dump` */
rstatus_i mc_stats_detail(struct conn *c, struct mc_state *st, size_t max);

/* Per-prefix counting while `stats detail on` is in force: which command
 * touched a key (memcached counts get/gets/gat/gats keys with their hits,
 * the classic storage commands, and delete; not meta or arithmetic). */
typedef enum {
    MC_DETAIL_GET,
    MC_DETAIL_SET,
    MC_DETAIL_DEL,
} mc_detail_e;
void mc_detail_record(const void *key, size_t klen, mc_detail_e what, bool hit);
/* Forgets every prefix (stats reset). */
void mc_detail_reset(void);
/* `watch` (memcache_watch.c). mc_watching(kind): whether anyone watches
 * that MC_WATCH_* kind; one relaxed load when nobody watches at all. The
 * mc_watch_* feeds format one line and send it to every watcher of its
 * kind, on any worker; the worker's thread only. */
extern uint32_t mc_watch_nwatcher;
bool mc_watch_kind_on(unsigned kind);
static inline bool
mc_watching(unsigned kind)
{
    return __atomic_load_n(&mc_watch_nwatcher, __ATOMIC_RELAXED) > 0 &&
           mc_watch_kind_on(kind);
}
void mc_watch_get(const struct conn *c, const char *key, size_t klen,
        bool found, uint32_t size);
/* expiry: unix ms, TIME_NEVER for none */
void mc_watch_store(const struct conn *c, memcache_req_type_e type,
        const char *key, size_t klen, storage_status_e s, uint64_t expiry,
        uint32_t size);
void mc_watch_conn(const struct conn *c, bool opened);
/* Makes c a watcher of kinds; STATUS_ENOMEM. */
rstatus_i mc_watch_start(struct conn *c, struct mc_state *st, unsigned kinds);
/* c stops watching (it closes); NULL-safe on a non-watcher. */
void mc_watch_release(struct conn *c, struct mc_state *st);
void mc_watch_setup(void);
void mc_watch_teardown(void);

/* Remembers when flush_all last ran (stats settings `oldest`). */
void mc_note_flush(uint64_t now);
