/* SPDX-License-Identifier: Apache-2.0 */
/* Keyspace notifications (notify.h). */
#include "processor/notify.h"

#include "base/mm.h"
#include "processor/keyspace.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int flags;                 /* atomic: notify-keyspace-events */
static notify_publish_fn publish; /* atomic */

/* clang-format off */
static const struct {
    char letter;
    int flag;
} letters[] = {
    {'A', NOTIFY_ALL},     {'g', NOTIFY_GENERIC}, {'$', NOTIFY_STRING},
    {'l', NOTIFY_LIST},    {'s', NOTIFY_SET},     {'h', NOTIFY_HASH},
    {'z', NOTIFY_ZSET},    {'x', NOTIFY_EXPIRED}, {'e', NOTIFY_EVICTED},
    {'K', NOTIFY_KEYSPACE},{'E', NOTIFY_KEYEVENT},{'t', NOTIFY_STREAM},
    {'m', NOTIFY_KEY_MISS},{'d', NOTIFY_MODULE},  {'n', NOTIFY_NEW},
};

/* Redis's event names and their classes (7.0.15's notifyKeyspaceEvent
 * calls for the commands segcached serves). */
static const struct {
    const char *name;
    int type;
} events[] = {
    {"set", NOTIFY_STRING},        {"setrange", NOTIFY_STRING},
    {"append", NOTIFY_STRING},     {"incrby", NOTIFY_STRING},
    {"incrbyfloat", NOTIFY_STRING},
    {"del", NOTIFY_GENERIC},       {"expire", NOTIFY_GENERIC},
    {"persist", NOTIFY_GENERIC},   {"rename_from", NOTIFY_GENERIC},
    {"rename_to", NOTIFY_GENERIC}, {"copy_to", NOTIFY_GENERIC},
    {"move_from", NOTIFY_GENERIC}, {"move_to", NOTIFY_GENERIC},
    {"restore", NOTIFY_GENERIC},   {"sortstore", NOTIFY_LIST},
    {"setbit", NOTIFY_STRING},     {"pfadd", NOTIFY_STRING},
    {"expired", NOTIFY_EXPIRED},   {"evicted", NOTIFY_EVICTED},
    {"new", NOTIFY_NEW},           {"keymiss", NOTIFY_KEY_MISS},
    {"hset", NOTIFY_HASH},         {"hdel", NOTIFY_HASH},
    {"hincrby", NOTIFY_HASH},      {"hincrbyfloat", NOTIFY_HASH},
    {"lpush", NOTIFY_LIST},        {"rpush", NOTIFY_LIST},
    {"lpop", NOTIFY_LIST},         {"rpop", NOTIFY_LIST},
    {"linsert", NOTIFY_LIST},      {"lset", NOTIFY_LIST},
    {"ltrim", NOTIFY_LIST},        {"lrem", NOTIFY_LIST},
    {"sadd", NOTIFY_SET},          {"srem", NOTIFY_SET},
    {"spop", NOTIFY_SET},          {"sinterstore", NOTIFY_SET},
    {"sunionstore", NOTIFY_SET},   {"sdiffstore", NOTIFY_SET},
    {"zadd", NOTIFY_ZSET},         {"zincr", NOTIFY_ZSET},
    {"zrem", NOTIFY_ZSET},         {"zremrangebyscore", NOTIFY_ZSET},
    {"zremrangebyrank", NOTIFY_ZSET}, {"zremrangebylex", NOTIFY_ZSET},
    {"zpopmin", NOTIFY_ZSET},      {"zpopmax", NOTIFY_ZSET},
    {"zinterstore", NOTIFY_ZSET},  {"zunionstore", NOTIFY_ZSET},
    {"zdiffstore", NOTIFY_ZSET},   {"zrangestore", NOTIFY_ZSET},
};
/* clang-format on */

int
notify_flags_parse(const char *s, size_t len)
{
    int f = 0;
    for (size_t i = 0; i < len; i++) {
        size_t j = 0;
        while (j < sizeof(letters) / sizeof(letters[0]) &&
                letters[j].letter != s[i]) {
            j++;
        }
        if (j == sizeof(letters) / sizeof(letters[0])) {
            return -1;
        }
        f |= letters[j].flag;
    }
    return f;
}

size_t
notify_flags_format(int f, char *out)
{
    static const char order[] = "g$lshzxetdn"; /* Redis's, without A */
    size_t n = 0;
    if ((f & NOTIFY_ALL) == NOTIFY_ALL) {
        out[n++] = 'A';
    } else {
        for (const char *c = order; *c != '\0'; c++) {
            if (f & notify_flags_parse(c, 1)) {
                out[n++] = *c;
            }
        }
    }
    if (f & NOTIFY_KEYSPACE) {
        out[n++] = 'K';
    }
    if (f & NOTIFY_KEYEVENT) {
        out[n++] = 'E';
    }
    if (f & NOTIFY_KEY_MISS) {
        out[n++] = 'm';
    }
    out[n] = '\0';
    return n;
}

int
notify_class(const char *event)
{
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        if (strcmp(events[i].name, event) == 0) {
            return events[i].type;
        }
    }
    return 0;
}

/* One message: channel prefix + name, payload. */
static void
publish_one(const char *kind, uint8_t db, const void *name, size_t nlen,
        const void *payload, size_t plen)
{
    notify_publish_fn fn = __atomic_load_n(&publish, __ATOMIC_RELAXED);
    if (fn == NULL) {
        return;
    }
    char head[32];
    int hn = snprintf(head, sizeof(head), "__%s@%u__:", kind, (unsigned)db);
    char local[256];
    size_t chlen = (size_t)hn + nlen;
    char *ch = chlen <= sizeof(local) ? local : mm_alloc(chlen);
    if (ch == NULL) {
        return; /* no memory for a notification: it is lost, as a
                   PUBLISH without memory is refused */
    }
    memcpy(ch, head, (size_t)hn);
    memcpy(ch + hn, name, nlen);
    fn(ch, chlen, payload, plen);
    if (ch != local) {
        mm_release(ch);
    }
}

void
notify_event(
        int type, const char *event, uint8_t db, const void *key, size_t klen)
{
    int f = __atomic_load_n(&flags, __ATOMIC_RELAXED);
    if (!(f & type)) {
        return;
    }
    if (f & NOTIFY_KEYSPACE) {
        publish_one("keyspace", db, key, klen, event, strlen(event));
    }
    if (f & NOTIFY_KEYEVENT) {
        publish_one("keyevent", db, event, strlen(event), key, klen);
    }
}

/* ---- the hooks ---- */

static void
on_change(uint8_t db, const void *key, size_t klen, const char *event)
{
    if (key == NULL) {
        return; /* flushes: Redis publishes no event for them */
    }
    int type = notify_class(event);
    if (type != 0) {
        notify_event(type, event, db, key, klen);
    }
}

static void
on_drop(uint8_t db, const void *key, size_t klen, storage_drop_e why,
        const struct storage_drop_info *info)
{
    (void)info;
    if (why == STORAGE_DROP_EXPIRED) {
        notify_event(NOTIFY_EXPIRED, "expired", db, key, klen);
    } else {
        notify_event(NOTIFY_EVICTED, "evicted", db, key, klen);
    }
}

void
notify_set(int f)
{
    __atomic_store_n(&flags, f, __ATOMIC_RELAXED);
    /* nothing is published without K or E, or without a class */
    bool on = (f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) != 0 &&
              (f & ~(NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) != 0;
    ks_listen_change(KS_LISTEN_NOTIFY, on ? on_change : NULL);
    ks_listen_drop(KS_LISTEN_NOTIFY,
            on && (f & (NOTIFY_EXPIRED | NOTIFY_EVICTED)) ? on_drop : NULL);
}

int
notify_get(void)
{
    return __atomic_load_n(&flags, __ATOMIC_RELAXED);
}

void
notify_setup(notify_publish_fn fn)
{
    __atomic_store_n(&publish, fn, __ATOMIC_RELAXED);
}

void
notify_teardown(void)
{
    notify_set(0);
    __atomic_store_n(&publish, NULL, __ATOMIC_RELAXED);
}
