/* SPDX-License-Identifier: Apache-2.0 */
/* memcached 1.6's `watch` on the memcache port: the lines its logger
 * prints for fetches, stores and connection events, formatted the way
 * memcached 1.6.18 formats them (logger.c), so that tools reading
 * memcached's watch read ours:
 *
 *   ts=1700000000.123456 gid=7 type=item_get key=foo status=found clsid=0
 * cfd=12 size=3 ts=1700000000.123456 gid=8 type=item_store key=foo
 * status=stored cmd=set ttl=0 clsid=0 cfd=12 size=3 ts=1700000000.123456 gid=9
 * type=conn_new rip=127.0.0.1 rport=50000 transport=tcp cfd=12
 *   ts=1700000000.123456 gid=10 type=conn_close rip=127.0.0.1 rport=50000
 * transport=tcp reason=normal cfd=12 skipped=42
 *
 * The line formatting is pure (unit tested); the delivery lives in
 * memcache_watch.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a watcher asked for (memcached's LOG_* flags we produce). */
#define MC_WATCH_FETCHERS   0x1u
#define MC_WATCH_MUTATIONS  0x2u
#define MC_WATCH_EVICTIONS  0x4u
#define MC_WATCH_CONNEVENTS 0x8u
#define MC_WATCH_NKIND      4

/* The longest line: a 250-byte key encodes to at most 750 bytes. */
#define MC_WATCH_LINE_MAX 1024

/* item_store's status, memcached's order */
typedef enum {
    MC_WATCH_NOT_STORED,
    MC_WATCH_STORED,
    MC_WATCH_EXISTS,
    MC_WATCH_NOT_FOUND,
    MC_WATCH_TOO_LARGE,
    MC_WATCH_NO_MEMORY,
} mc_watch_status_e;

/* The stamp every line starts with: memcached prints the microseconds
 * without padding ("ts=%lld.%d"), and so do we. */
struct mc_watch_stamp {
    int64_t sec;
    int32_t usec;
    uint64_t gid;
};

/* Each writes one line, '\n' included, into out (MC_WATCH_LINE_MAX
 * bytes) and returns its length. Keys are URI-encoded as memcached does
 * (letters, digits and "-._~" as they are, every other byte as %XX). */
size_t mc_watch_fmt_get(char *out, const struct mc_watch_stamp *ts,
        const char *key, size_t klen, bool found, int cfd, uint32_t size);
/* cmd: "set" "add" "replace" "append" "prepend" "cas"; ttl: seconds left
 * (0: none) */
size_t mc_watch_fmt_store(char *out, const struct mc_watch_stamp *ts,
        const char *key, size_t klen, mc_watch_status_e status, const char *cmd,
        uint32_t ttl, int cfd, uint32_t size);
/* peer: "127.0.0.1:5555" (or "[::1]:5555"); opened: conn_new, else
 * conn_close with reason */
size_t mc_watch_fmt_conn(char *out, const struct mc_watch_stamp *ts,
        const char *peer, bool opened, const char *reason, int cfd);
/* memcached's eviction line; ttl: seconds left, -1 for none; la: seconds
 * since the last access */
size_t mc_watch_fmt_evict(char *out, const struct mc_watch_stamp *ts,
        const char *key, size_t klen, bool fetched, int64_t ttl, uint32_t la,
        uint32_t size);
size_t mc_watch_fmt_skipped(char *out, uint64_t skipped);
/* memcached's uriencode: returns the encoded length (at most 3 * len) */
size_t mc_watch_uriencode(char *out, const char *s, size_t len);
