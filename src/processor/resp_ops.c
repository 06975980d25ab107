/* SPDX-License-Identifier: Apache-2.0 */
/* Commands operators and tools use to look inside: OBJECT (encoding,
 * frequency, idle time, reference count of a key), MEMORY (usage of a key,
 * stats, doctor) and SLOWLOG (commands that took longer than
 * slowlog-log-slower-than).
 *
 * The slow log is kept per thread: each thread that records a slow command
 * gets a ring (a newest-first list of at most slowlog-max-len entries)
 * guarded by its own mutex, taken only to record a slow entry or to answer
 * SLOWLOG. Entry ids come from one atomic counter, so they are unique across
 * workers; SLOWLOG GET merges the rings newest first (by id). The hot path
 * (run_command in resp.c) is one relaxed load and one compare; an entry
 * whose allocation fails is dropped.
 *
 * Lock order: rings_lock, then the rings' locks in list order (SLOWLOG
 * GET, LEN, RESET, teardown). A recording thread takes its own ring's lock
 * alone, or rings_lock alone when it creates its ring. */
#include "processor/coll.h"
#include "processor/resp_internal.h"

#include "base/log.h"
#include "base/mm.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static rstatus_i
help_reply(struct resp_ctx *x, const char *const *lines, size_t n)
{
    rstatus_i rc = resp_compose_array(x->w, n);
    for (size_t i = 0; rc == STATUS_OK && i < n; i++) {
        rc = resp_compose_simple(x->w, lines[i], strlen(lines[i]));
    }
    return rc;
}

/* ---- OBJECT ---- */

static const char *const object_help[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to "
        "store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned "
        "integer is",
        "    proportional to the logarithm of the recent access frequency of "
        "the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated "
        "number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the "
        "specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
};

#define SHARED_INTEGERS 10000 /* Redis's OBJ_SHARED_INTEGERS */

/* Redis's tryObjectEncoding: a value of at most 20 bytes that string2l
 * takes is stored as an integer. */
static bool
value_is_int(const struct storage_item *it, int64_t *v)
{
    return it->type == STORAGE_TYPE_STRING && it->vlen <= 20 &&
           resp_parse_int64((const char *)it->value, it->vlen, v);
}

/* Redis shares the integers 0 .. 9999 unless maxmemory is set with an LRU
 * or LFU policy (MAXMEMORY_FLAG_NO_SHARED_INTEGERS). */
static bool
integers_shared(void)
{
    uint64_t maxmemory =
            resp_source.maxmemory != NULL ? resp_source.maxmemory() : 0;
    const char *policy = resp_source.maxmemory_policy != NULL
                                 ? resp_source.maxmemory_policy()
                                 : "noeviction";
    return maxmemory == 0 ||
           (strstr(policy, "lru") == NULL && strstr(policy, "lfu") == NULL);
}

const char *
resp_object_encoding(const struct storage_item *it)
{
    int64_t v;
    if (value_is_int(it, &v)) {
        return "int";
    }
    return it->vlen <= 44 ? "embstr" : "raw"; /* OBJ_ENCODING_EMBSTR_SIZE */
}

rstatus_i
resp_cmd_object(struct resp_ctx *x)
{
    if (x->cmd->id == RESP_CMD_OBJECT_HELP) {
        return help_reply(
                x, object_help, sizeof(object_help) / sizeof(object_help[0]));
    }
    const struct resp_arg *k = &x->argv[2];
    struct storage_item it;
    /* Redis's objectCommandLookup: a counted read without access */
    if (ks_lookup(resp_db(x), k->data, k->len, KS_ANY, KS_NOTOUCH, x->c->now_ms,
                &it) == KS_MISS) {
        return resp_compose_null(x->w);
    }
    int64_t v;
    switch (x->cmd->id) {
    case RESP_CMD_OBJECT_ENCODING: {
        const char *e = it.type == STORAGE_TYPE_STRING_PARTS ? "raw"
                        : it.type == STORAGE_TYPE_STRING
                                ? resp_object_encoding(&it)
                                : coll_encoding_name(&it);
        return resp_compose_bulk(x->w, e, strlen(e));
    }
    case RESP_CMD_OBJECT_REFCOUNT:
        return resp_compose_integer(x->w, value_is_int(&it, &v) && v >= 0 &&
                                                          v < SHARED_INTEGERS &&
                                                          integers_shared()
                                                  ? INT32_MAX
                                                  : 1);
    case RESP_CMD_OBJECT_FREQ:
        return resp_compose_integer(x->w, it.freq);
    case RESP_CMD_OBJECT_IDLETIME:
        return resp_compose_integer(x->w,
                x->c->now_ms > it.last_access
                        ? (int64_t)((x->c->now_ms - it.last_access) / 1000)
                        : 0);
    default:
        return resp_compose_err_unknown_subcommand(x->w, x->argv);
    }
}

/* ---- MEMORY ---- */

static const char *const memory_help[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        /* one line of Redis's help, too long for one literal here */
        ("    Return memory in bytes used by <key> and its value. Nested "
         "values are"),
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
};

static rstatus_i
memory_usage(struct resp_ctx *x)
{
    for (uint32_t j = 3; j < x->argc; j++) {
        if (resp_arg_is(&x->argv[j], "samples") && j + 1 < x->argc) {
            int64_t samples;
            if (!resp_arg_int64(&x->argv[j + 1], &samples)) {
                return resp_err_int(x);
            }
            if (samples < 0) {
                return resp_err_syntax(x);
            }
            j++; /* strings have nothing to sample */
        } else {
            return resp_err_syntax(x);
        }
    }
    const struct resp_arg *k = &x->argv[2];
    struct storage_item it;
    if (ks_lookup(resp_db(x), k->data, k->len, KS_ANY, KS_NOTOUCH | KS_NOSTATS,
                x->c->now_ms, &it) == KS_MISS) {
        return resp_compose_null(x->w);
    }
    /* a collection in parts: its root and every part */
    return resp_compose_integer(
            x->w, (int64_t)coll_memory_usage(resp_db(x), &it, x->c->now_ms));
}

/* The figures INFO memory has (used_memory, used_memory_peak,
 * used_memory_dataset), read back from the binary's info source. */
struct memory_figures {
    uint64_t used;
    uint64_t peak;
    uint64_t dataset;
    uint64_t maxmemory;
};

static uint64_t
info_field(const struct buf *b, const char *name)
{
    size_t n = strlen(name);
    const char *p = b->rpos, *end = b->wpos;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            eol = end;
        }
        if ((size_t)(eol - p) > n + 1 && memcmp(p, name, n) == 0 &&
                p[n] == ':') {
            uint64_t v = 0;
            for (const char *q = p + n + 1; q < eol && *q >= '0' && *q <= '9';
                    q++) {
                v = v * 10 + (uint64_t)(*q - '0');
            }
            return v;
        }
        p = eol + 1;
    }
    return 0;
}

static void
memory_figures(struct memory_figures *f)
{
    memset(f, 0, sizeof(*f));
    f->maxmemory = resp_source.maxmemory != NULL ? resp_source.maxmemory() : 0;
    if (resp_source.info == NULL) {
        return;
    }
    struct buf b;
    if (buf_init(&b, 1024) != STATUS_OK) {
        return;
    }
    if (resp_source.info(&b, 64 * 1024, RESP_INFO_MEMORY) == STATUS_OK) {
        f->used = info_field(&b, "used_memory");
        f->peak = info_field(&b, "used_memory_peak");
        f->dataset = info_field(&b, "used_memory_dataset");
    }
    buf_deinit(&b);
}

static uint64_t
keys_count(void)
{
    uint64_t n = 0;
    for (uint8_t db = 0; db < STORAGE_DB_COUNT; db++) {
        n += storage_count(db);
    }
    return n;
}

static rstatus_i
stat_int(struct resp_ctx *x, const char *name, uint64_t v)
{
    rstatus_i rc = resp_compose_bulk(x->w, name, strlen(name));
    return rc == STATUS_OK ? resp_compose_integer(x->w, (int64_t)v) : rc;
}

static rstatus_i
stat_double(struct resp_ctx *x, const char *name, double v)
{
    rstatus_i rc = resp_compose_bulk(x->w, name, strlen(name));
    return rc == STATUS_OK ? resp_compose_double(x->w, v) : rc;
}

/* MEMORY STATS: Redis's field names for what segcached knows. The store
 * is allocated whole at startup: total.allocated is the memory of the
 * segments in use, dataset.bytes the bytes of live items in them. */
static rstatus_i
memory_stats(struct resp_ctx *x)
{
    struct memory_figures f;
    memory_figures(&f);
    uint64_t keys = keys_count();
    uint64_t peak = f.peak > f.used ? f.peak : f.used;
    rstatus_i rc = resp_compose_map(x->w, 9);
    if (rc == STATUS_OK) {
        rc = stat_int(x, "peak.allocated", peak);
    }
    if (rc == STATUS_OK) {
        rc = stat_int(x, "total.allocated", f.used);
    }
    if (rc == STATUS_OK) {
        rc = stat_int(x, "startup.allocated", 0);
    }
    if (rc == STATUS_OK) {
        rc = stat_int(x, "maxmemory", f.maxmemory);
    }
    if (rc == STATUS_OK) {
        rc = stat_int(x, "keys.count", keys);
    }
    if (rc == STATUS_OK) {
        rc = stat_int(x, "keys.bytes-per-key", keys > 0 ? f.used / keys : 0);
    }
    if (rc == STATUS_OK) {
        rc = stat_int(x, "dataset.bytes", f.dataset);
    }
    if (rc == STATUS_OK) {
        rc = stat_double(x, "dataset.percentage",
                f.used > 0 ? (double)f.dataset * 100 / (double)f.used : 0);
    }
    if (rc == STATUS_OK) {
        rc = stat_double(x, "peak.percentage",
                peak > 0 ? (double)f.used * 100 / (double)peak : 0);
    }
    return rc;
}

static rstatus_i
memory_doctor(struct resp_ctx *x)
{
    struct memory_figures f;
    memory_figures(&f);
    char text[512];
    int n = snprintf(text, sizeof(text),
            "segcached keeps keys and values in fixed-size segments "
            "allocated once at startup (%" PRIu64 " bytes); segments in use "
            "hold %" PRIu64 " bytes, %" PRIu64 " of them live items. There "
            "is no allocator fragmentation to report: when the segments are "
            "full, whole segments are evicted or merged.",
            f.maxmemory, f.used, f.dataset);
    return resp_reply_text(x, text, (size_t)n);
}

rstatus_i
resp_cmd_memory(struct resp_ctx *x)
{
    static const char no_stats[] =
            "Stats not supported for the current allocator";
    switch (x->cmd->id) {
    case RESP_CMD_MEMORY_USAGE:
        return memory_usage(x);
    case RESP_CMD_MEMORY_STATS:
        return memory_stats(x);
    case RESP_CMD_MEMORY_DOCTOR:
        return memory_doctor(x);
    case RESP_CMD_MEMORY_MALLOC_STATS:
        return resp_compose_bulk(x->w, no_stats, sizeof(no_stats) - 1);
    case RESP_CMD_MEMORY_PURGE:
        return resp_compose_ok(x->w);
    case RESP_CMD_MEMORY_HELP:
        return help_reply(
                x, memory_help, sizeof(memory_help) / sizeof(memory_help[0]));
    default:
        return resp_compose_err_unknown_subcommand(x->w, x->argv);
    }
}

/* ---- SLOWLOG ---- */

/* clang-format off */
#define SLOWLOG_MAX_ARGC   32  /* Redis's SLOWLOG_ENTRY_MAX_ARGC */
#define SLOWLOG_MAX_STRING 128 /* Redis's SLOWLOG_ENTRY_MAX_STRING */
#define SLOWLOG_NOTE_MAX   48  /* "... (N more arguments|bytes)" */
/* clang-format on */

struct slow_entry {
    struct slow_entry *prev; /* newer */
    struct slow_entry *next; /* older */
    uint64_t id;
    uint64_t time_s;
    uint64_t us;
    uint32_t argc;
    char addr[48];
    char *name;
    struct resp_arg argv[];
};

struct slow_ring {
    struct slow_ring *link;
    pthread_mutex_t lock;
    struct slow_entry *head; /* newest */
    struct slow_entry *tail; /* oldest */
    uint64_t n;
};

uint64_t resp_slowlog_ns = 10000 * 1000ULL; /* atomic; UINT64_MAX: off */
static int64_t slow_us = 10000;             /* atomic */
static uint64_t slow_max = 128;             /* atomic */
static uint64_t slow_next_id;               /* atomic */
static uint64_t slow_gen;                   /* atomic */
static pthread_mutex_t rings_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slow_ring *rings; /* under rings_lock */
static __thread struct slow_ring *my_ring;
static __thread uint64_t my_gen;

static void
slowlog_threshold_update(void)
{
    int64_t us = __atomic_load_n(&slow_us, __ATOMIC_RELAXED);
    uint64_t max = __atomic_load_n(&slow_max, __ATOMIC_RELAXED);
    uint64_t ns = us < 0 || max == 0 || (uint64_t)us > UINT64_MAX / 1000
                          ? UINT64_MAX
                          : (uint64_t)us * 1000;
    __atomic_store_n(&resp_slowlog_ns, ns, __ATOMIC_RELAXED);
}

int64_t
resp_slowlog_slower_than(void)
{
    return __atomic_load_n(&slow_us, __ATOMIC_RELAXED);
}

uint64_t
resp_slowlog_max_len(void)
{
    return __atomic_load_n(&slow_max, __ATOMIC_RELAXED);
}

void
resp_slowlog_configure(int64_t slower_than_us, uint64_t max_len)
{
    __atomic_store_n(&slow_us, slower_than_us, __ATOMIC_RELAXED);
    __atomic_store_n(&slow_max, max_len, __ATOMIC_RELAXED);
    slowlog_threshold_update();
}

static void
ring_trim(struct slow_ring *r, uint64_t max)
{
    while (r->n > max) {
        struct slow_entry *e = r->tail;
        r->tail = e->prev;
        if (r->tail != NULL) {
            r->tail->next = NULL;
        } else {
            r->head = NULL;
        }
        r->n--;
        mm_release(e);
    }
}

static struct slow_ring *
ring_of_thread(void)
{
    uint64_t gen = __atomic_load_n(&slow_gen, __ATOMIC_ACQUIRE);
    if (my_ring != NULL && my_gen == gen) {
        return my_ring;
    }
    struct slow_ring *r = mm_zalloc(sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_lock(&rings_lock);
    r->link = rings;
    rings = r;
    pthread_mutex_unlock(&rings_lock);
    my_ring = r;
    my_gen = gen;
    return r;
}

static size_t
shown_len(const struct resp_arg *a)
{
    return a->len > SLOWLOG_MAX_STRING ? SLOWLOG_MAX_STRING + SLOWLOG_NOTE_MAX
                                       : a->len;
}

/* Redis 7.0 replaces passwords by "(redacted)" in what it logs: AUTH's
 * arguments, HELLO's AUTH username and password, CONFIG SET requirepass. */
static bool
redacted(const struct resp_ctx *x, uint32_t i)
{
    switch (x->cmd->id) {
    case RESP_CMD_AUTH:
        return i >= 1;
    case RESP_CMD_HELLO:
        for (uint32_t j = 2; j + 2 < x->argc; j++) {
            if (resp_arg_is(&x->argv[j], "auth")) {
                if (i == j + 1 || i == j + 2) {
                    return true;
                }
                j += 2;
            } else if (resp_arg_is(&x->argv[j], "setname")) {
                j++;
            }
        }
        return false;
    case RESP_CMD_CONFIG_SET:
        return i >= 3 && i % 2 == 1 &&
               resp_arg_is(&x->argv[i - 1], "requirepass");
    default:
        return false;
    }
}

void
resp_slowlog_record(const struct resp_ctx *x, uint64_t ns)
{
    static const char red[] = "(redacted)";
    if (x->cmd->flags & RESP_CMD_F_SKIP_SLOWLOG) {
        return;
    }
    struct slow_ring *r = ring_of_thread();
    if (r == NULL) {
        return;
    }
    uint32_t argc = x->argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : x->argc;
    const char *name = x->st->client.name != NULL ? x->st->client.name : "";
    size_t nlen = strlen(name);
    size_t bytes = sizeof(struct slow_entry) + argc * sizeof(struct resp_arg) +
                   nlen + 1;
    for (uint32_t i = 0; i < argc; i++) {
        bytes += (argc < x->argc && i == argc - 1) ? SLOWLOG_NOTE_MAX
                 : redacted(x, i)                  ? sizeof(red)
                                                   : shown_len(&x->argv[i]);
    }
    struct slow_entry *e = mm_alloc(bytes);
    if (e == NULL) {
        return;
    }
    char *p = (char *)&e->argv[argc];
    for (uint32_t i = 0; i < argc; i++) {
        const struct resp_arg *a = &x->argv[i];
        size_t len;
        if (argc < x->argc && i == argc - 1) {
            len = (size_t)snprintf(p, SLOWLOG_NOTE_MAX,
                    "... (%" PRIu32 " more arguments)", x->argc - argc + 1);
        } else if (redacted(x, i)) {
            memcpy(p, red, sizeof(red) - 1);
            len = sizeof(red) - 1;
        } else if (a->len > SLOWLOG_MAX_STRING) {
            memcpy(p, a->data, SLOWLOG_MAX_STRING);
            len = SLOWLOG_MAX_STRING +
                  (size_t)snprintf(p + SLOWLOG_MAX_STRING, SLOWLOG_NOTE_MAX,
                          "... (%zu more bytes)", a->len - SLOWLOG_MAX_STRING);
        } else {
            memcpy(p, a->data, a->len);
            len = a->len;
        }
        e->argv[i].data = p;
        e->argv[i].len = len;
        p += len;
    }
    e->name = p;
    memcpy(e->name, name, nlen + 1);
    memcpy(e->addr, x->st->client.addr, sizeof(e->addr));
    e->addr[sizeof(e->addr) - 1] = '\0';
    e->argc = argc;
    e->time_s = x->c->now_ms / 1000;
    e->us = ns / 1000;
    e->id = __atomic_fetch_add(&slow_next_id, 1, __ATOMIC_RELAXED);
    e->prev = NULL;
    pthread_mutex_lock(&r->lock);
    e->next = r->head;
    if (r->head != NULL) {
        r->head->prev = e;
    } else {
        r->tail = e;
    }
    r->head = e;
    r->n++;
    ring_trim(r, __atomic_load_n(&slow_max, __ATOMIC_RELAXED));
    pthread_mutex_unlock(&r->lock);
    INCR(resp_proc_metrics, resp_slowlog);
}

/* Locks every ring (rings_lock first, then each in list order; recorders
 * take only their own ring's lock) and returns the entries they hold. */
static uint64_t
rings_lock_all(void)
{
    uint64_t n = 0;
    pthread_mutex_lock(&rings_lock);
    for (struct slow_ring *r = rings; r != NULL; r = r->link) {
        pthread_mutex_lock(&r->lock);
        n += r->n;
    }
    return n;
}

static void
rings_unlock_all(void)
{
    for (struct slow_ring *r = rings; r != NULL; r = r->link) {
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_unlock(&rings_lock);
}

static rstatus_i
slow_entry_reply(struct resp_ctx *x, const struct slow_entry *e)
{
    rstatus_i rc = resp_compose_array(x->w, 6);
    if (rc == STATUS_OK) {
        rc = resp_compose_integer(x->w, (int64_t)e->id);
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_integer(x->w, (int64_t)e->time_s);
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_integer(x->w, (int64_t)e->us);
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_array(x->w, e->argc);
    }
    for (uint32_t i = 0; rc == STATUS_OK && i < e->argc; i++) {
        rc = resp_compose_bulk(x->w, e->argv[i].data, e->argv[i].len);
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_bulk(x->w, e->addr, strlen(e->addr));
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_bulk(x->w, e->name, strlen(e->name));
    }
    return rc;
}

/* SLOWLOG GET: the newest count entries of all rings, merged by id. */
static rstatus_i
slowlog_get(struct resp_ctx *x)
{
    int64_t count = 10;
    if (x->argc > 3) {
        return resp_compose_error_fmt(x->w,
                "ERR unknown subcommand or wrong number of arguments for "
                "'%.*s'. Try SLOWLOG HELP.",
                (int)(x->argv[1].len > 128 ? 128 : x->argv[1].len),
                x->argv[1].data);
    }
    if (x->argc == 3 && (!resp_arg_int64(&x->argv[2], &count) || count < -1)) {
        return resp_err(x, "ERR count should be greater than or equal to -1");
    }
    uint64_t max = __atomic_load_n(&slow_max, __ATOMIC_RELAXED);
    uint64_t n = rings_lock_all();
    n = n < max ? n : max;
    if (count >= 0 && (uint64_t)count < n) {
        n = (uint64_t)count;
    }
    size_t nr = 0;
    for (struct slow_ring *r = rings; r != NULL; r = r->link) {
        nr++;
    }
    /* each ring's cursor is its next newest entry: take the largest id */
    struct slow_entry **cur = mm_alloc((nr + 1) * sizeof(*cur));
    if (cur == NULL) {
        rings_unlock_all();
        return resp_err(x, "ERR out of memory for SLOWLOG GET");
    }
    nr = 0;
    for (struct slow_ring *r = rings; r != NULL; r = r->link) {
        cur[nr++] = r->head;
    }
    rstatus_i rc = resp_compose_array(x->w, n);
    for (uint64_t i = 0; rc == STATUS_OK && i < n; i++) {
        size_t best = 0;
        for (size_t k = 1; k < nr; k++) {
            if (cur[k] != NULL &&
                    (cur[best] == NULL || cur[k]->id > cur[best]->id)) {
                best = k;
            }
        }
        rc = slow_entry_reply(x, cur[best]);
        cur[best] = cur[best]->next;
    }
    mm_release(cur);
    rings_unlock_all();
    return rc;
}

static void
slowlog_clear(void)
{
    rings_lock_all();
    for (struct slow_ring *r = rings; r != NULL; r = r->link) {
        ring_trim(r, 0);
    }
    rings_unlock_all();
}

static const char *const slowlog_help[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean "
        "all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP "
        "and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
};

rstatus_i
resp_cmd_slowlog(struct resp_ctx *x)
{
    uint64_t n, max;
    switch (x->cmd->id) {
    case RESP_CMD_SLOWLOG_GET:
        return slowlog_get(x);
    case RESP_CMD_SLOWLOG_LEN:
        max = __atomic_load_n(&slow_max, __ATOMIC_RELAXED);
        n = rings_lock_all();
        rings_unlock_all();
        return resp_compose_integer(x->w, (int64_t)(n < max ? n : max));
    case RESP_CMD_SLOWLOG_RESET:
        slowlog_clear();
        return resp_compose_ok(x->w);
    case RESP_CMD_SLOWLOG_HELP:
        return help_reply(x, slowlog_help,
                sizeof(slowlog_help) / sizeof(slowlog_help[0]));
    default:
        return resp_compose_err_unknown_subcommand(x->w, x->argv);
    }
}

void
resp_slowlog_setup(void)
{
    resp_slowlog_configure(10000, 128);
}

/* Frees every ring; threads that record again get new ones (the
 * generation changes). Call when no worker runs commands. */
void
resp_slowlog_teardown(void)
{
    pthread_mutex_lock(&rings_lock);
    struct slow_ring *r = rings;
    rings = NULL;
    __atomic_fetch_add(&slow_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&rings_lock);
    while (r != NULL) {
        struct slow_ring *next = r->link;
        ring_trim(r, 0);
        pthread_mutex_destroy(&r->lock);
        mm_release(r);
        r = next;
    }
    my_ring = NULL;
}
