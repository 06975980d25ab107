/* SPDX-License-Identifier: Apache-2.0 */
/* loadgen: the small pipelined load generator of scripts/bench/. It speaks
 * the memcache text protocol, RESP2 and segcached's ping protocol over TCP,
 * and prints one line of key=value results for bench.py to read.
 *
 *   fill  set keys [from, to)                   (memory efficiency)
 *   read  get keys [from, to), count the hits   (items held after a fill)
 *   zipf  get a Zipf-distributed key, set it on a miss (miss ratio)
 *   rr    batches of `pipeline` requests per connection, as redis-benchmark
 *         -P does, with the latency of every batch (throughput, ping)
 *   overwrite  sets of random keys in [1, keys] for `seconds`, as fast as
 *         the server answers, remembering every key that got STORED / +OK
 *         and the latency of every set; then every such key is read back
 *         and counted present or missing (issue 13: overwrites must not
 *         push out live items)
 *
 * Keys are 16 bytes (a prefix, "k" by default, then digits: "key:" and 12
 * digits are redis-benchmark's keys); values are `value` bytes. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN               16
#define RBUF_SIZE             (256 * 1024)
#define MAX_CONNS             1024
#define NS_PER_SEC            1000000000ULL
/* overwrite's set latencies: 1 us buckets to 100 ms, then 1 ms buckets to
 * 10 s (the last one holds everything slower); the maximum is kept exact */
#define LAT_US_BUCKETS        100000
#define LAT_MS_BUCKETS        9900
#define LAT_BUCKETS           (LAT_US_BUCKETS + LAT_MS_BUCKETS)
/* bounds on overwrite's options: the written-key map is one byte a key */
#define OVERWRITE_MAX_KEYS    100000000ULL
#define OVERWRITE_MAX_SECONDS 3600

enum mode_e {
    MODE_FILL,
    MODE_READ,
    MODE_ZIPF,
    MODE_RR,
    MODE_OVERWRITE
};
enum proto_e {
    PROTO_MEMCACHE,
    PROTO_RESP,
    PROTO_PING
};
enum kind_e {
    KIND_GET,
    KIND_SET,
    KIND_PING
};
enum result_e {
    RESULT_HIT,
    RESULT_MISS,
    RESULT_OK,
    RESULT_ERROR
};

struct pending {
    uint8_t kind;
    uint64_t key;
    uint64_t sent; /* overwrite: when it was queued, in ns */
};

struct conn {
    int fd;
    char *wbuf;
    size_t wlen, woff, wcap;
    char *rbuf;
    size_t rlen;
    struct pending *q; /* ring of requests sent, replies not yet read */
    size_t qhead, qcount;
    uint64_t batch_start;
    bool want_out;
};

struct opts {
    enum mode_e mode;
    enum proto_e proto;
    const char *server;
    uint64_t from, to;
    uint32_t value;
    uint32_t conns;
    uint32_t pipeline;
    uint64_t requests;
    uint64_t keys;
    double alpha;
    uint64_t seed;
    uint32_t ttl_short, ttl_long;
    double short_frac;
    double scan; /* zipf: share of gets for keys read once (a scan) */
    uint64_t rate;
    uint32_t windows;
    const char *kind;   /* rr: get, set or ping */
    const char *prefix; /* of every key; digits fill it to KEY_LEN */
    uint32_t seconds;   /* overwrite: length of the write phase */
    uint32_t timeout;   /* overwrite: limit on each phase's overrun */
};

/* what the run has done so far */
struct state {
    struct opts o;
    uint64_t start;
    uint64_t next_key; /* fill, read */
    uint64_t issued;   /* requests sent (zipf: gets sent) */
    uint64_t done;     /* replies read (zipf: get replies read) */
    uint64_t hits, misses, errors, sets;
    uint64_t *setq; /* zipf: keys that missed, to be set */
    size_t setq_head, setq_count, setq_cap;
    double *cdf;        /* zipf */
    uint64_t scan_next; /* zipf: keys past the key space, each read once */
    uint64_t rng;
    uint64_t *win_gets, *win_misses;
    uint64_t *lat;
    size_t lat_count, lat_cap;
    char *value;
    /* overwrite */
    bool readback;         /* second phase: get every key written */
    uint8_t *written;      /* [keys + 1]: 1 once a set of it succeeded */
    uint64_t keys_written; /* keys with written[] set */
    uint64_t read_errors;  /* replies to read-back gets that were neither */
    uint64_t phase_end;    /* no new set after this (ns) */
    uint64_t deadline;     /* run() gives up after this (ns); 0: never */
    uint64_t *hist;        /* [LAT_BUCKETS] set latencies */
    uint64_t hist_count, lat_max;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size);
    if (p == NULL) {
        die("calloc");
    }
    return p;
}

static uint64_t
splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
uniform01(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- Zipf: ranks 0..keys-1, P(rank r) proportional to 1/(r+1)^alpha ---- */

static void
zipf_init(struct state *st)
{
    uint64_t n = st->o.keys;
    double sum = 0.0;
    st->cdf = xcalloc(n, sizeof(double));
    for (uint64_t i = 0; i < n; i++) {
        sum += 1.0 / pow((double)(i + 1), st->o.alpha);
        st->cdf[i] = sum;
    }
    for (uint64_t i = 0; i < n; i++) {
        st->cdf[i] /= sum;
    }
}

static uint64_t
zipf_next(struct state *st)
{
    double u = uniform01(&st->rng);
    uint64_t lo = 0, hi = st->o.keys - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (st->cdf[mid] < u) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* the TTL of a key is fixed by its hash, so a key keeps its class */
static uint32_t
ttl_of(const struct state *st, uint64_t key)
{
    uint64_t h = key ^ 0x5bd1e9955bd1e995ULL;
    if (st->o.short_frac > 0 && uniform01(&h) < st->o.short_frac) {
        return st->o.ttl_short;
    }
    return st->o.ttl_long;
}

/* ---- request encoding ---- */

static void
wreserve(struct conn *c, size_t more)
{
    if (c->wlen + more <= c->wcap) {
        return;
    }
    while (c->wlen + more > c->wcap) {
        c->wcap = c->wcap == 0 ? 65536 : c->wcap * 2;
    }
    c->wbuf = realloc(c->wbuf, c->wcap);
    if (c->wbuf == NULL) {
        die("realloc");
    }
}

static void
wappend(struct conn *c, const char *s, size_t n)
{
    wreserve(c, n);
    memcpy(c->wbuf + c->wlen, s, n);
    c->wlen += n;
}

static void
wappend_str(struct conn *c, const char *s)
{
    wappend(c, s, strlen(s));
}

/* the prefix, then the key number zero-padded to KEY_LEN bytes in all */
static void
key_string(const struct state *st, char out[KEY_LEN + 1], uint64_t key)
{
    size_t plen = strlen(st->o.prefix);
    memcpy(out, st->o.prefix, plen);
    for (size_t i = KEY_LEN; i > plen; i--) {
        out[i - 1] = (char)('0' + key % 10);
        key /= 10;
    }
    out[KEY_LEN] = '\0';
}

static void
encode_memcache(struct state *st, struct conn *c, const struct pending *p)
{
    char key[KEY_LEN + 1], line[128];
    key_string(st, key, p->key);
    if (p->kind == KIND_GET) {
        snprintf(line, sizeof(line), "get %s\r\n", key);
        wappend_str(c, line);
        return;
    }
    snprintf(line, sizeof(line), "set %s 0 %u %u\r\n", key,
            (unsigned)ttl_of(st, p->key), (unsigned)st->o.value);
    wappend_str(c, line);
    wappend(c, st->value, st->o.value);
    wappend(c, "\r\n", 2);
}

static void
encode_resp(struct state *st, struct conn *c, const struct pending *p)
{
    char key[KEY_LEN + 1], line[160];
    key_string(st, key, p->key);
    if (p->kind == KIND_PING) {
        wappend_str(c, "*1\r\n$4\r\nPING\r\n");
        return;
    }
    if (p->kind == KIND_GET) {
        snprintf(line, sizeof(line), "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n",
                KEY_LEN, key);
        wappend_str(c, line);
        return;
    }
    uint32_t ttl = ttl_of(st, p->key);
    snprintf(line, sizeof(line), "*%d\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%u\r\n",
            ttl > 0 ? 5 : 3, KEY_LEN, key, (unsigned)st->o.value);
    wappend_str(c, line);
    wappend(c, st->value, st->o.value);
    wappend(c, "\r\n", 2);
    if (ttl > 0) {
        char num[16];
        snprintf(num, sizeof(num), "%u", (unsigned)ttl);
        snprintf(line, sizeof(line), "$2\r\nEX\r\n$%zu\r\n%s\r\n", strlen(num),
                num);
        wappend_str(c, line);
    }
}

static void
encode(struct state *st, struct conn *c, const struct pending *p)
{
    switch (st->o.proto) {
    case PROTO_MEMCACHE:
        encode_memcache(st, c, p);
        break;
    case PROTO_RESP:
        encode_resp(st, c, p);
        break;
    case PROTO_PING:
        wappend_str(c, "PING\r\n");
        break;
    }
}

/* ---- reply parsing: bytes consumed, 0 while incomplete ---- */

static const char *
find_crlf(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n') {
            return p + i;
        }
    }
    return NULL;
}

static size_t
parse_memcache(const char *p, size_t n, enum result_e *res)
{
    const char *eol = find_crlf(p, n);
    if (eol == NULL) {
        return 0;
    }
    size_t line = (size_t)(eol - p) + 2;
    if (strncmp(p, "VALUE ", 6) == 0) {
        /* VALUE <key> <flags> <bytes> [<cas>] */
        unsigned long long len;
        if (sscanf(p, "VALUE %*s %*s %llu", &len) != 1) {
            *res = RESULT_ERROR;
            return line;
        }
        size_t need = line + len + 2 + 5;
        if (n < need) {
            return 0;
        }
        *res = RESULT_HIT;
        return need;
    }
    if (line == 5 && strncmp(p, "END", 3) == 0) {
        *res = RESULT_MISS;
    } else if (strncmp(p, "STORED\r", 7) == 0 || strncmp(p, "PONG\r", 5) == 0) {
        *res = RESULT_OK;
    } else {
        *res = RESULT_ERROR;
    }
    return line;
}

static size_t
parse_resp(const char *p, size_t n, enum result_e *res)
{
    const char *eol = find_crlf(p, n);
    if (eol == NULL) {
        return 0;
    }
    size_t line = (size_t)(eol - p) + 2;
    switch (p[0]) {
    case '$': {
        long long len = strtoll(p + 1, NULL, 10);
        if (len < 0) {
            *res = RESULT_MISS;
            return line;
        }
        if (n < line + (size_t)len + 2) {
            return 0;
        }
        *res = RESULT_HIT;
        return line + (size_t)len + 2;
    }
    case '_':
        *res = RESULT_MISS;
        return line;
    case '+':
    case ':':
        *res = RESULT_OK;
        return line;
    default:
        *res = RESULT_ERROR;
        return line;
    }
}

static size_t
parse_reply(const struct state *st, const char *p, size_t n, enum result_e *res)
{
    if (st->o.proto == PROTO_RESP) {
        return parse_resp(p, n, res);
    }
    return parse_memcache(p, n, res);
}

/* ---- what to send next ---- */

static void
setq_push(struct state *st, uint64_t key)
{
    if (st->setq_count == st->setq_cap) {
        size_t cap = st->setq_cap == 0 ? 1024 : st->setq_cap * 2;
        uint64_t *q = xcalloc(cap, sizeof(*q));
        for (size_t i = 0; i < st->setq_count; i++) {
            q[i] = st->setq[(st->setq_head + i) % st->setq_cap];
        }
        free(st->setq);
        st->setq = q;
        st->setq_head = 0;
        st->setq_cap = cap;
    }
    st->setq[(st->setq_head + st->setq_count) % st->setq_cap] = key;
    st->setq_count++;
}

static bool
zipf_next_request(struct state *st, struct pending *p)
{
    if (st->setq_count > 0) {
        p->kind = KIND_SET;
        p->key = st->setq[st->setq_head];
        st->setq_head = (st->setq_head + 1) % st->setq_cap;
        st->setq_count--;
        return true;
    }
    if (st->issued >= st->o.requests) {
        return false;
    }
    if (st->o.rate > 0) {
        uint64_t allowed = (now_ns() - st->start) * st->o.rate / NS_PER_SEC + 1;
        if (st->issued >= allowed) {
            return false;
        }
    }
    p->kind = KIND_GET;
    if (st->o.scan > 0 && uniform01(&st->rng) < st->o.scan) {
        p->key = st->o.keys + st->scan_next++; /* never asked for again */
    } else {
        p->key = zipf_next(st);
    }
    st->issued++;
    return true;
}

/* the write phase sets random keys until phase_end; the read-back gets
 * each key written once, in order */
static bool
overwrite_next_request(struct state *st, struct pending *p)
{
    if (st->readback) {
        while (st->next_key <= st->o.keys && !st->written[st->next_key]) {
            st->next_key++;
        }
        if (st->next_key > st->o.keys) {
            return false;
        }
        p->kind = KIND_GET;
        p->key = st->next_key++;
        st->issued++;
        return true;
    }
    if (now_ns() >= st->phase_end) {
        return false;
    }
    p->kind = KIND_SET;
    p->key = 1 + splitmix64(&st->rng) % st->o.keys;
    st->issued++;
    return true;
}

static bool
next_request(struct state *st, struct pending *p)
{
    switch (st->o.mode) {
    case MODE_FILL:
    case MODE_READ:
        if (st->next_key >= st->o.to) {
            return false;
        }
        p->kind = st->o.mode == MODE_FILL ? KIND_SET : KIND_GET;
        p->key = st->next_key++;
        st->issued++;
        return true;
    case MODE_ZIPF:
        return zipf_next_request(st, p);
    case MODE_RR:
        if (st->issued >= st->o.requests) {
            return false;
        }
        p->kind = strcmp(st->o.kind, "ping") == 0  ? KIND_PING
                  : strcmp(st->o.kind, "set") == 0 ? KIND_SET
                                                   : KIND_GET;
        p->key = splitmix64(&st->rng) % st->o.keys;
        st->issued++;
        return true;
    case MODE_OVERWRITE:
        return overwrite_next_request(st, p);
    }
    return false;
}

static void
lat_record(struct state *st, uint64_t ns)
{
    uint64_t us = ns / 1000;
    size_t i = (size_t)us;
    if (us >= LAT_US_BUCKETS) {
        i = LAT_US_BUCKETS + (size_t)((us - LAT_US_BUCKETS) / 1000);
    }
    if (i >= LAT_BUCKETS) {
        i = LAT_BUCKETS - 1;
    }
    st->hist[i]++;
    st->hist_count++;
    if (ns > st->lat_max) {
        st->lat_max = ns;
    }
}

static void
overwrite_on_reply(struct state *st, const struct pending *p, enum result_e res)
{
    st->done++;
    if (st->readback) {
        if (res == RESULT_HIT) {
            st->hits++;
        } else if (res == RESULT_MISS) {
            st->misses++;
        } else {
            st->read_errors++;
        }
        return;
    }
    st->sets++;
    lat_record(st, now_ns() - p->sent);
    if (res != RESULT_OK) {
        st->errors++;
        return;
    }
    if (!st->written[p->key]) {
        st->written[p->key] = 1;
        st->keys_written++;
    }
}

static void
on_reply(struct state *st, struct conn *c, const struct pending *p,
        enum result_e res)
{
    if (st->o.mode == MODE_OVERWRITE) {
        overwrite_on_reply(st, p, res);
        return;
    }
    if (res == RESULT_ERROR) {
        st->errors++;
    } else if (res == RESULT_HIT) {
        st->hits++;
    } else if (res == RESULT_MISS) {
        st->misses++;
    }
    if (p->kind == KIND_SET) {
        st->sets++;
    }
    if (st->o.mode == MODE_ZIPF) {
        if (p->kind != KIND_GET) {
            return;
        }
        uint64_t w = st->done * st->o.windows / st->o.requests;
        st->win_gets[w]++;
        if (res == RESULT_MISS) {
            st->win_misses[w]++;
            setq_push(st, p->key);
        }
        st->done++;
        return;
    }
    st->done++;
    if (st->o.mode == MODE_RR && c->qcount == 1) {
        if (st->lat_count == st->lat_cap) {
            st->lat_cap = st->lat_cap == 0 ? 65536 : st->lat_cap * 2;
            st->lat = realloc(st->lat, st->lat_cap * sizeof(uint64_t));
            if (st->lat == NULL) {
                die("realloc");
            }
        }
        st->lat[st->lat_count++] = now_ns() - c->batch_start;
    }
}

/* ---- connections ---- */

static int
connect_to(const char *server)
{
    char host[256];
    const char *colon = strrchr(server, ':');
    if (colon == NULL || (size_t)(colon - server) >= sizeof(host)) {
        fprintf(stderr, "loadgen: bad server %s\n", server);
        exit(64);
    }
    memcpy(host, server, (size_t)(colon - server));
    host[colon - server] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
        fprintf(stderr, "loadgen: cannot resolve %s\n", server);
        exit(1);
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        die("socket");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
        die("connect");
    }
    freeaddrinfo(ai);
    return fd;
}

/* rr sends a whole batch when the last one is answered; the other modes
 * keep `pipeline` requests in flight */
static void
fill_requests(struct state *st, struct conn *c)
{
    if (st->o.mode == MODE_RR && c->qcount > 0) {
        return;
    }
    bool first = c->qcount == 0;
    while (c->qcount < st->o.pipeline) {
        struct pending p;
        if (!next_request(st, &p)) {
            break;
        }
        if (st->o.mode == MODE_OVERWRITE) {
            p.sent = now_ns();
        }
        encode(st, c, &p);
        c->q[(c->qhead + c->qcount) % st->o.pipeline] = p;
        c->qcount++;
    }
    if (first && c->qcount > 0) {
        c->batch_start = now_ns();
    }
}

static void
set_events(int ep, struct conn *c, bool want_out)
{
    if (c->want_out == want_out) {
        return;
    }
    struct epoll_event ev = {
            .events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        die("epoll_ctl");
    }
    c->want_out = want_out;
}

static void
flush_out(int ep, struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n =
                send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ENOTCONN) {
                break;
            }
            die("send");
        }
        c->woff += (size_t)n;
    }
    if (c->woff == c->wlen) {
        c->woff = c->wlen = 0;
    }
    set_events(ep, c, c->wlen > 0);
}

static void
read_replies(struct state *st, struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            die("recv");
        }
        if (n == 0) {
            fprintf(stderr, "loadgen: %s closed the connection\n",
                    st->o.server);
            exit(1);
        }
        c->rlen += (size_t)n;
        size_t off = 0;
        while (c->qcount > 0) {
            enum result_e res;
            size_t used = parse_reply(st, c->rbuf + off, c->rlen - off, &res);
            if (used == 0) {
                break;
            }
            off += used;
            on_reply(st, c, &c->q[c->qhead], res);
            c->qhead = (c->qhead + 1) % st->o.pipeline;
            c->qcount--;
        }
        if (off == 0 && c->rlen == RBUF_SIZE) {
            fprintf(stderr, "loadgen: reply larger than %d bytes\n", RBUF_SIZE);
            exit(1);
        }
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

static bool
finished(const struct state *st, struct conn *conns)
{
    for (uint32_t i = 0; i < st->o.conns; i++) {
        if (conns[i].qcount > 0 || conns[i].wlen > 0) {
            return false;
        }
    }
    switch (st->o.mode) {
    case MODE_FILL:
    case MODE_READ:
        return st->next_key >= st->o.to;
    case MODE_ZIPF:
        return st->setq_count == 0 && st->issued >= st->o.requests;
    case MODE_RR:
        return st->issued >= st->o.requests;
    case MODE_OVERWRITE:
        return st->readback ? st->next_key > st->o.keys
                            : now_ns() >= st->phase_end;
    }
    return true;
}

static struct conn *
open_conns(struct state *st, int ep)
{
    struct conn *conns = xcalloc(st->o.conns, sizeof(*conns));
    for (uint32_t i = 0; i < st->o.conns; i++) {
        struct conn *c = &conns[i];
        c->fd = connect_to(st->o.server);
        c->rbuf = xcalloc(RBUF_SIZE, 1);
        c->q = xcalloc(st->o.pipeline, sizeof(*c->q));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            die("epoll_ctl");
        }
    }
    return conns;
}

static void
close_conns(struct state *st, struct conn *conns)
{
    for (uint32_t i = 0; i < st->o.conns; i++) {
        close(conns[i].fd);
        free(conns[i].wbuf);
        free(conns[i].rbuf);
        free(conns[i].q);
    }
    free(conns);
}

static void
run(struct state *st)
{
    int ep = epoll_create1(0);
    if (ep < 0) {
        die("epoll_create1");
    }
    struct conn *conns = open_conns(st, ep);
    st->start = now_ns();
    struct epoll_event evs[MAX_CONNS];
    while (!finished(st, conns)) {
        if (st->deadline > 0 && now_ns() > st->deadline) {
            fprintf(stderr,
                    "loadgen: %s: phase not over after its --timeout "
                    "(%u s)\n",
                    st->o.server, (unsigned)st->o.timeout);
            exit(1);
        }
        for (uint32_t i = 0; i < st->o.conns; i++) {
            if (conns[i].wlen == 0) {
                fill_requests(st, &conns[i]);
                flush_out(ep, &conns[i]);
            }
        }
        /* a paced run wakes up every millisecond to send what is due */
        int n = epoll_wait(ep, evs, MAX_CONNS, st->o.rate > 0 ? 1 : 1000);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                read_replies(st, c);
            }
            if (evs[i].events & EPOLLOUT) {
                flush_out(ep, c);
            }
        }
    }
    close_conns(st, conns);
    close(ep);
}

/* ---- results ---- */

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double
percentile_us(const struct state *st, double pct)
{
    if (st->lat_count == 0) {
        return 0.0;
    }
    size_t i = (size_t)(pct / 100.0 * (double)(st->lat_count - 1) + 0.5);
    return (double)st->lat[i] / 1000.0;
}

/* the lower edge of the bucket that holds the pct-th percentile, in us */
static double
hist_percentile_us(const struct state *st, double pct)
{
    if (st->hist_count == 0) {
        return 0.0;
    }
    uint64_t rank = (uint64_t)ceil(pct / 100.0 * (double)st->hist_count);
    uint64_t seen = 0;
    for (size_t i = 0; i < LAT_BUCKETS; i++) {
        seen += st->hist[i];
        if (seen >= rank && i < LAT_US_BUCKETS) {
            return (double)i;
        }
        if (seen >= rank) {
            return (double)(LAT_US_BUCKETS + (i - LAT_US_BUCKETS) * 1000);
        }
    }
    return (double)st->lat_max / 1000.0;
}

static void
overwrite_report(const struct state *st, uint64_t write_ns)
{
    double secs = (double)write_ns / (double)NS_PER_SEC;
    printf("seconds=%.3f sets=%llu sets_per_s=%.0f p50_us=%.0f p99_us=%.0f "
           "p999_us=%.0f max_us=%.0f errors=%llu keys=%llu keys_written=%llu "
           "keys_present=%llu keys_missing=%llu read_errors=%llu\n",
            secs, (unsigned long long)st->sets, (double)st->sets / secs,
            hist_percentile_us(st, 50), hist_percentile_us(st, 99),
            hist_percentile_us(st, 99.9), (double)st->lat_max / 1000.0,
            (unsigned long long)st->errors, (unsigned long long)st->o.keys,
            (unsigned long long)st->keys_written, (unsigned long long)st->hits,
            (unsigned long long)st->misses,
            (unsigned long long)st->read_errors);
}

/* the write phase on o.conns connections, then the read-back on a few
 * connections with many gets in flight; each phase may overrun its end by
 * o.timeout seconds before loadgen gives up */
static void
overwrite_run(struct state *st)
{
    st->written = xcalloc(st->o.keys + 1, 1);
    st->hist = xcalloc(LAT_BUCKETS, sizeof(uint64_t));
    uint64_t t0 = now_ns();
    st->phase_end = t0 + (uint64_t)st->o.seconds * NS_PER_SEC;
    st->deadline = st->phase_end + (uint64_t)st->o.timeout * NS_PER_SEC;
    run(st);
    uint64_t write_ns = now_ns() - t0;
    st->readback = true;
    st->next_key = 1;
    st->o.conns = st->o.conns < 4 ? st->o.conns : 4;
    st->o.pipeline = 64;
    st->deadline = now_ns() + (uint64_t)st->o.timeout * NS_PER_SEC;
    run(st);
    overwrite_report(st, write_ns);
    free(st->written);
    free(st->hist);
}

static void
report(struct state *st, uint64_t elapsed)
{
    double secs = (double)elapsed / (double)NS_PER_SEC;
    uint64_t total = st->done + (st->o.mode == MODE_ZIPF ? st->sets : 0);
    printf("requests=%llu seconds=%.3f rps=%.0f hits=%llu misses=%llu "
           "sets=%llu errors=%llu",
            (unsigned long long)total, secs, (double)total / secs,
            (unsigned long long)st->hits, (unsigned long long)st->misses,
            (unsigned long long)st->sets, (unsigned long long)st->errors);
    if (st->o.mode == MODE_RR) {
        qsort(st->lat, st->lat_count, sizeof(uint64_t), cmp_u64);
        printf(" p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f",
                percentile_us(st, 50), percentile_us(st, 99),
                percentile_us(st, 99.9), percentile_us(st, 100));
    }
    if (st->o.mode == MODE_ZIPF) {
        printf(" window_gets=");
        for (uint32_t w = 0; w < st->o.windows; w++) {
            printf("%s%llu", w ? "," : "", (unsigned long long)st->win_gets[w]);
        }
        printf(" window_misses=");
        for (uint32_t w = 0; w < st->o.windows; w++) {
            printf("%s%llu", w ? "," : "",
                    (unsigned long long)st->win_misses[w]);
        }
    }
    printf("\n");
}

/* ---- command line ---- */

static void
usage(void)
{
    fprintf(stderr,
            "usage: loadgen fill|read|zipf|rr|overwrite -s HOST:PORT "
            "[options]\n"
            "  -P memcache|resp|ping  protocol (memcache)\n"
            "  --from N --to N        key range (fill, read)\n"
            "  --value N              value bytes (32)\n"
            "  --conns N              connections (1)\n"
            "  --pipeline N           requests in flight per connection\n"
            "                         (rr: per batch) (64; rr 1)\n"
            "  --requests N           gets (zipf) or requests (rr)\n"
            "  --keys N               key space (zipf, rr)\n"
            "  --kind get|set|ping    rr request (get)\n"
            "  --prefix STR           key prefix, digits pad to 16 bytes (k)\n"
            "  --alpha F --seed N     Zipf exponent (1.0), seed (1)\n"
            "  --scan F               zipf: that share of gets asks for a\n"
            "                         key never asked for before (0)\n"
            "  --ttl-short S --ttl-long S --short-frac F\n"
            "                         zipf TTLs in seconds (0: none)\n"
            "  --rate N               zipf gets per second (0: no limit)\n"
            "  --windows N            zipf miss counts per window (10)\n"
            "overwrite: sets of random keys in [1, keys], then every key\n"
            "written read back; defaults --conns 50 --pipeline 1\n"
            "--value 1000 --keys 7000\n"
            "  --seconds N            length of the write phase (10)\n"
            "  --ex N                 TTL in seconds on every set: RESP\n"
            "                         SET k v EX N, memcache exptime (0)\n"
            "  --timeout N            seconds either phase may overrun\n"
            "                         before loadgen fails (60)\n");
    exit(64);
}

static uint64_t
num_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        usage();
    }
    return strtoull(argv[++*i], NULL, 10);
}

static void
parse_mode(struct opts *o, const char *m)
{
    if (strcmp(m, "fill") == 0) {
        o->mode = MODE_FILL;
    } else if (strcmp(m, "read") == 0) {
        o->mode = MODE_READ;
    } else if (strcmp(m, "zipf") == 0) {
        o->mode = MODE_ZIPF;
    } else if (strcmp(m, "rr") == 0) {
        o->mode = MODE_RR;
        o->pipeline = 1;
    } else if (strcmp(m, "overwrite") == 0) {
        o->mode = MODE_OVERWRITE;
        o->conns = 50;
        o->pipeline = 1;
        o->value = 1000;
        o->keys = 7000;
    } else {
        usage();
    }
}

static void
parse_proto(struct opts *o, const char *p)
{
    if (strcmp(p, "memcache") == 0) {
        o->proto = PROTO_MEMCACHE;
    } else if (strcmp(p, "resp") == 0) {
        o->proto = PROTO_RESP;
    } else if (strcmp(p, "ping") == 0) {
        o->proto = PROTO_PING;
        o->kind = "ping";
    } else {
        usage();
    }
}

static void
parse_args(struct opts *o, int argc, char **argv)
{
    *o = (struct opts){.value = 32,
            .conns = 1,
            .pipeline = 64,
            .requests = 1000000,
            .keys = 1000,
            .alpha = 1.0,
            .seed = 1,
            .windows = 10,
            .kind = "get",
            .prefix = "k",
            .seconds = 10,
            .timeout = 60};
    if (argc < 2) {
        usage();
    }
    parse_mode(o, argv[1]);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-s") == 0 && i + 1 < argc) {
            o->server = argv[++i];
        } else if (strcmp(a, "-P") == 0 && i + 1 < argc) {
            parse_proto(o, argv[++i]);
        } else if (strcmp(a, "--prefix") == 0 && i + 1 < argc) {
            o->prefix = argv[++i];
        } else if (strcmp(a, "--kind") == 0 && i + 1 < argc) {
            o->kind = argv[++i];
        } else if (strcmp(a, "--alpha") == 0 && i + 1 < argc) {
            o->alpha = atof(argv[++i]);
        } else if (strcmp(a, "--scan") == 0 && i + 1 < argc) {
            o->scan = atof(argv[++i]);
        } else if (strcmp(a, "--short-frac") == 0 && i + 1 < argc) {
            o->short_frac = atof(argv[++i]);
        } else if (strcmp(a, "--from") == 0) {
            o->from = num_arg(argc, argv, &i);
        } else if (strcmp(a, "--to") == 0) {
            o->to = num_arg(argc, argv, &i);
        } else if (strcmp(a, "--value") == 0) {
            o->value = (uint32_t)num_arg(argc, argv, &i);
        } else if (strcmp(a, "--conns") == 0) {
            o->conns = (uint32_t)num_arg(argc, argv, &i);
        } else if (strcmp(a, "--pipeline") == 0) {
            o->pipeline = (uint32_t)num_arg(argc, argv, &i);
        } else if (strcmp(a, "--requests") == 0) {
            o->requests = num_arg(argc, argv, &i);
        } else if (strcmp(a, "--keys") == 0) {
            o->keys = num_arg(argc, argv, &i);
        } else if (strcmp(a, "--seed") == 0) {
            o->seed = num_arg(argc, argv, &i);
        } else if (strcmp(a, "--ttl-short") == 0) {
            o->ttl_short = (uint32_t)num_arg(argc, argv, &i);
        } else if (strcmp(a, "--ttl-long") == 0) {
            o->ttl_long = (uint32_t)num_arg(argc, argv, &i);
        } else if (strcmp(a, "--rate") == 0) {
            o->rate = num_arg(argc, argv, &i);
        } else if (strcmp(a, "--windows") == 0) {
            o->windows = (uint32_t)num_arg(argc, argv, &i);
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = (uint32_t)num_arg(argc, argv, &i);
        } else if (strcmp(a, "--ex") == 0) {
            o->ttl_long = (uint32_t)num_arg(argc, argv, &i);
        } else if (strcmp(a, "--timeout") == 0) {
            o->timeout = (uint32_t)num_arg(argc, argv, &i);
        } else {
            usage();
        }
    }
    if (o->server == NULL || o->conns == 0 || o->conns > MAX_CONNS ||
            o->pipeline == 0 || o->keys == 0 || o->windows == 0 ||
            o->requests == 0 || strlen(o->prefix) >= KEY_LEN - 6) {
        usage();
    }
    if (o->mode == MODE_OVERWRITE &&
            (o->proto == PROTO_PING || o->keys > OVERWRITE_MAX_KEYS ||
                    o->seconds == 0 || o->seconds > OVERWRITE_MAX_SECONDS ||
                    o->timeout == 0 || o->timeout > OVERWRITE_MAX_SECONDS)) {
        usage();
    }
}

int
main(int argc, char **argv)
{
    struct state st = {0};
    parse_args(&st.o, argc, argv);
    st.rng = st.o.seed;
    st.next_key = st.o.from;
    st.value = xcalloc(st.o.value + 1, 1);
    for (uint32_t i = 0; i < st.o.value; i++) {
        st.value[i] = (char)('a' + i % 26);
    }
    if (st.o.mode == MODE_ZIPF) {
        zipf_init(&st);
        st.win_gets = xcalloc(st.o.windows, sizeof(uint64_t));
        st.win_misses = xcalloc(st.o.windows, sizeof(uint64_t));
    }
    if (st.o.mode == MODE_OVERWRITE) {
        overwrite_run(&st);
        free(st.value);
        return 0;
    }
    uint64_t t0 = now_ns();
    run(&st);
    report(&st, now_ns() - t0);
    free(st.cdf);
    free(st.win_gets);
    free(st.win_misses);
    free(st.lat);
    free(st.setq);
    free(st.value);
    return 0;
}
