/* SPDX-License-Identifier: Apache-2.0 */
/* Keyspace notifications (Redis's notify-keyspace-events): the flag
 * letters, their parsing and rendering as Redis 7.0.15 has them, and the
 * events of the keyspace path (keyspace.h's change hook, the store's drop
 * hook for expired and evicted keys) turned into the two messages Redis
 * publishes, on __keyspace@<db>__:<key> (the event) and
 * __keyevent@<db>__:<event> (the key). Every protocol's writes go through
 * the keyspace path, so the memcache port's writes notify too (database
 * 0); docs/protocol-resp.md "Keyspace notifications".
 *
 * Off (the default) costs nothing beyond the hooks' NULL checks: the
 * hooks are installed only while some class and K or E are set.
 *
 * Threads: notify_set from any thread (CONFIG SET); notify_event and the
 * hooks on whatever thread changed or dropped the key. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* clang-format off */
/* Redis 7.0.15's NOTIFY_* values (server.h) */
#define NOTIFY_KEYSPACE (1 << 0)  /* K */
#define NOTIFY_KEYEVENT (1 << 1)  /* E */
#define NOTIFY_GENERIC  (1 << 2)  /* g */
#define NOTIFY_STRING   (1 << 3)  /* $ */
#define NOTIFY_LIST     (1 << 4)  /* l */
#define NOTIFY_SET      (1 << 5)  /* s */
#define NOTIFY_HASH     (1 << 6)  /* h */
#define NOTIFY_ZSET     (1 << 7)  /* z */
#define NOTIFY_EXPIRED  (1 << 8)  /* x */
#define NOTIFY_EVICTED  (1 << 9)  /* e */
#define NOTIFY_STREAM   (1 << 10) /* t */
#define NOTIFY_KEY_MISS (1 << 11) /* m */
#define NOTIFY_MODULE   (1 << 12) /* d */
#define NOTIFY_NEW      (1 << 13) /* n */
/* A: g$lshzxetd (not m, not n) */
#define NOTIFY_ALL (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST |          \
        NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET | NOTIFY_EXPIRED |           \
        NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)
#define NOTIFY_FLAGS_MAX 16 /* the longest rendering, with its NUL */
/* clang-format on */

/* Redis's keyspaceEventsStringToFlags: -1 on a letter it does not know. */
int notify_flags_parse(const char *s, size_t len);
/* Redis's keyspaceEventsFlagsToString into out (NOTIFY_FLAGS_MAX bytes):
 * "A" for all of NOTIFY_ALL (n is then not shown, as in Redis), then K,
 * E, m. Returns the length. */
size_t notify_flags_format(int flags, char *out);

/* Publishes message on channel to every subscriber (channel and pattern)
 * on every worker; any thread. */
typedef void (*notify_publish_fn)(
        const char *channel, size_t chlen, const char *msg, size_t mlen);
void notify_setup(notify_publish_fn publish);
/* Turns notifications off and forgets the publisher. */
void notify_teardown(void);

/* CONFIG SET notify-keyspace-events: installs or removes the hooks. */
void notify_set(int flags);
int notify_get(void);

/* The class of one of Redis's event names ("set": NOTIFY_STRING, "hset":
 * NOTIFY_HASH ...), 0 for names that are not events (the keyspace path's
 * "invalidate", "flushdb", "flushall"). */
int notify_class(const char *event);
/* Publishes event for key when its class is on (Redis's
 * notifyKeyspaceEvent): first __keyspace@<db>__:<key>, then
 * __keyevent@<db>__:<event>. */
void notify_event(
        int type, const char *event, uint8_t db, const void *key, size_t klen);
