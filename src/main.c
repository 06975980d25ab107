/* SPDX-License-Identifier: Apache-2.0 */
/* segcached: command line, configuration, setup in dependency order, run,
 * and an orderly shutdown on SIGTERM/SIGINT. */
#include "base/debug.h"
#include "base/log.h"
#include "base/option.h"
#include "base/tcp.h"
#include "base/time.h"
#include "cli.h"
#include "core/admin.h"
#include "core/conns.h"
#include "core/msg.h"
#include "core/process.h"
#include "core/server.h"
#include "core/tls.h"
#include "core/worker.h"
#include "hotkey/hotkey.h"
#include "processor/admin.h"
#include "processor/keyspace.h"
#include "processor/memcache.h"
#include "processor/ping.h"
#include "processor/resp.h"
#include "setting.h"
#include "stats.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

_Static_assert(WORKERS_MAX <= STORAGE_THREADS_MAX,
        "every worker registers with the store");

#define FD_RESERVE   64 /* descriptors beyond connections: listeners, epoll */
#define MAX_LISTENER 8

static void die(int code, const char *fmt, ...)
        __attribute__((format(printf, 2, 3), noreturn));

/* One clear line on stderr, then exit with a sysexits.h code. */
static void
die(int code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "segcached: ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n");
    va_end(args);
    exit(code);
}

/* Replaces host and/or port of "host:port" / "[v6]:port"; NULL keeps. */
static rstatus_i
rewrite_addr(const char *spec, const char *host, const char *port, char *out,
        size_t cap)
{
    const char *colon = strrchr(spec, ':');
    if (colon == NULL) {
        return STATUS_EINVAL;
    }
    int hlen = (int)(colon - spec);
    char h[256];
    if (host != NULL) {
        int v6 = strchr(host, ':') != NULL && host[0] != '[';
        snprintf(h, sizeof(h), v6 ? "[%s]" : "%s", host);
    } else {
        snprintf(h, sizeof(h), "%.*s", hlen, spec);
    }
    int n = snprintf(out, cap, "%s:%s", h, port != NULL ? port : colon + 1);
    return n > 0 && (size_t)n < cap ? STATUS_OK : STATUS_EINVAL;
}

static void
apply_host_port(const struct cli *cli)
{
    struct option *ls[] = {&setting.listen.memcache_listen,
            &setting.listen.resp_listen, &setting.listen.ping_listen};
    for (size_t i = 0; i < ARRAY_SIZE(ls); i++) {
        const char *spec = option_str(ls[i]);
        const char *port = i == 0 ? cli->port : NULL;
        if (strcmp(spec, "off") == 0 || (cli->host == NULL && port == NULL)) {
            continue;
        }
        char addr[300], err[256], name[64];
        if (rewrite_addr(spec, cli->host, port, addr, sizeof(addr)) !=
                        STATUS_OK ||
                option_set(setting_options(), SETTING_NOPT,
                        option_dotted_name(ls[i], name, sizeof(name)), addr,
                        err, sizeof(err)) != STATUS_OK) {
            die(EX_USAGE, "bad -l/-p for %s", name);
        }
        option_set_by_flag(ls[i], port != NULL ? "-p" : "-l");
    }
}

/* memcached's -Z: the memcache listener speaks TLS. Its address moves to
 * memcache.tls_listen, so the port a memcached operator gave (-p) is the
 * TLS port, as with memcached. */
static void
apply_tls_flag(const struct cli *cli)
{
    if (!cli->tls) {
        return;
    }
    const char *spec = option_str(&setting.listen.memcache_listen);
    if (strcmp(spec, "off") == 0 || spec[0] == '\0') {
        return;
    }
    char addr[300], err[256];
    snprintf(addr, sizeof(addr), "%s", spec);
    if (option_set(setting_options(), SETTING_NOPT, "memcache.tls_listen", addr,
                err, sizeof(err)) != STATUS_OK ||
            option_set(setting_options(), SETTING_NOPT, "memcache.listen",
                    "off", err, sizeof(err)) != STATUS_OK) {
        die(EX_USAGE, "-Z: %s", err);
    }
}

static void
load_config(struct cli *cli)
{
    char err[4096]; /* every problem of the file, a line each */
    if (cli->config != NULL &&
            option_load_file(setting_options(), SETTING_NOPT, cli->config, err,
                    sizeof(err)) != STATUS_OK) {
        for (char *line = err, *nl; line != NULL; line = nl) {
            nl = strchr(line, '\n');
            if (nl != NULL) {
                *nl++ = '\0';
            }
            fprintf(stderr, "segcached: %s\n", line);
        }
        exit(EX_CONFIG);
    }
    /* every bad override is reported, then the command line is refused */
    bool refused = false;
    for (size_t i = 0; i < cli->noverride; i++) {
        const char *flag = cli->flags[i];
        if (option_set_assignment(setting_options(), SETTING_NOPT,
                    cli->overrides[i], err, sizeof(err)) != STATUS_OK) {
            /* "-o seg.memory: not a size: x", or "-m seg.memory: ..." for
             * the flag the operator typed */
            bool o = flag == NULL || strncmp(err, "-o ", 3) != 0;
            fprintf(stderr, "segcached: %s%s%s\n", o ? "" : flag, o ? "" : " ",
                    o ? err : err + 3);
            refused = true;
        } else if (flag != NULL) {
            char name[64];
            size_t n = strcspn(cli->overrides[i], "=");
            snprintf(name, sizeof(name), "%.*s", (int)n, cli->overrides[i]);
            struct option *opt =
                    option_find(setting_options(), SETTING_NOPT, name);
            if (opt != NULL) {
                option_set_by_flag(opt, flag);
            }
        }
    }
    if (refused) {
        exit(EX_USAGE);
    }
    apply_host_port(cli);
    apply_tls_flag(cli);
}

/* log.level was checked (check_config). */
static log_level_e
config_log_level(const struct cli *cli)
{
    log_level_e level = LOG_INFO;
    log_level_parse(option_str(&setting.log.log_level), &level);
    int l = (int)level + cli->verbose;
    return (log_level_e)(l > LOG_VERB ? LOG_VERB : l);
}

/* --- checks ---------------------------------------------------------------
 * Every check of the configuration that startup makes, in one place, so
 * --check-config runs exactly these: each problem is one line on stderr
 * naming where the value came from ("app.yml:12: seg.evict: ..."), and the
 * first problem's exit code is the process's, checking or starting. */

struct checks {
    int code;   /* of the first problem; EX_OK when none */
    unsigned n; /* problems reported */
};

static void report(struct checks *c, int code, const struct option *o,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A problem with option o (NULL: with the configuration as a whole). */
static void
report(struct checks *c, int code, const struct option *o, const char *fmt, ...)
{
    char where[512];
    fprintf(stderr, "segcached: ");
    if (o != NULL) {
        fprintf(stderr, "%s: ", option_where(o, where, sizeof(where)));
    }
    va_list args;
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\n");
    if (c->n++ == 0) {
        c->code = code;
    }
}

/* Not a problem: a value taken as given that an operator may not expect. */
static void warn(const struct option *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
warn(const struct option *o, const char *fmt, ...)
{
    char where[512];
    fprintf(stderr,
            "segcached: warning: %s: ", option_where(o, where, sizeof(where)));
    va_list args;
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\n");
}

/* server.unix_mode, octal ("0770"); 0700 when it is not one (reported). */
static unsigned
unix_mode(struct checks *c)
{
    const struct option *o = &setting.server.server_unix_mode;
    const char *text = option_str(o);
    char *end;
    long mode = text == NULL ? -1 : strtol(text, &end, 8);
    if (text == NULL || *text == '\0' || *end != '\0' || mode < 0 ||
            mode > 0777) {
        report(c, EX_CONFIG, o, "not an octal file mode: %s",
                text == NULL ? "~" : text);
        return 0700;
    }
    return (unsigned)mode;
}

/* Protected mode, as Redis has it: a listener other machines can reach
 * must make its clients authenticate, or the operator must say the network
 * is trusted. The memcache protocol has no authentication. */
static void
check_exposure(struct checks *c, const char *name, const struct option *o,
        const struct tcp_addr *addr)
{
    if (!option_bool(&setting.server.server_protected_mode) ||
            tcp_addr_is_local(addr)) {
        return;
    }
    const char *pass = option_str(&setting.resp_proc.resp_requirepass);
    if (strncmp(name, "resp", 4) == 0 && pass != NULL && pass[0] != '\0') {
        return; /* resp clients must AUTH */
    }
    if (strcmp(name, "memcache-tls") == 0
                    ? tls_clients_authenticated(TLS_LISTENER_MEMCACHE)
                    : strcmp(name, "resp-tls") == 0 &&
                              tls_clients_authenticated(TLS_LISTENER_RESP)) {
        return; /* clients must present a certificate our CA signed */
    }
    char where[300];
    tcp_addr_str(addr, where, sizeof(where));
    report(c, EX_CONFIG, o,
            "%s is reachable from other machines and its clients need no "
            "password; on a trusted network set server.protected_mode=false",
            where);
}

static const struct {
    const char *name;
    struct option *opt;
    const struct processor *proc;
    const struct transport *tp;
} listen_table[] = {
        {"memcache", &setting.listen.memcache_listen, &proc_memcache,
                &transport_tcp},
        {"resp", &setting.listen.resp_listen, &proc_resp, &transport_tcp},
        {"ping", &setting.listen.ping_listen, &proc_ping, &transport_tcp},
        {"memcache-tls", &setting.listen.memcache_tls_listen, &proc_memcache,
                &transport_tls[TLS_LISTENER_MEMCACHE]},
        {"resp-tls", &setting.listen.resp_tls_listen, &proc_resp,
                &transport_tls[TLS_LISTENER_RESP]},
        {"admin", &setting.admin.admin_listen, NULL, NULL},
        {"admin-tls", &setting.admin.admin_tls_listen, NULL, NULL},
};

/* True when some listener is configured to speak TLS. */
static bool
tls_wanted(void)
{
    const struct option *opts[] = {&setting.listen.memcache_tls_listen,
            &setting.listen.resp_tls_listen, &setting.admin.admin_tls_listen};
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
        const char *spec = option_str(opts[i]);
        if (spec != NULL && spec[0] != '\0' && strcmp(spec, "off") != 0) {
            return true;
        }
    }
    return false;
}

/* Loads the certificate when a TLS listener is configured, so a bad file
 * stops startup (and --check-config) with the option and the reason. */
static void
setup_tls(void)
{
    char err[1200];
    if (tls_wanted() && tls_setup(&setting.tls, &stats.tls, err, sizeof(err)) !=
                                STATUS_OK) {
        /* the message starts with the option it is about ("tls.cert_file:
         * ..."): say where that option was set, as every config error does */
        char name[64];
        size_t n = strcspn(err, ": ");
        const struct option *o = NULL;
        if (n > 0 && n < sizeof(name) && err[n] == ':') {
            memcpy(name, err, n);
            name[n] = '\0';
            o = option_find((struct option *)&setting.tls,
                    OPTION_CARDINALITY(tls_options_st), name);
        }
        if (o != NULL && o->file != NULL && o->line > 0) {
            die(EX_CONFIG, "%s:%u: %s", o->file, o->line, err);
        }
        die(EX_CONFIG, "%s", err);
    }
}

/* Where o's value came from, alone: "app.yml:2", "-p", "-o" or "its
 * default", for a message about another option. */
static const char *
origin(const struct option *o, char *buf, size_t cap)
{
    if (o->file != NULL && o->line > 0) {
        snprintf(buf, cap, "%s:%u", o->file, o->line);
    } else {
        snprintf(buf, cap, "%s",
                o->file != NULL ? o->file : (o->set ? "-o" : "its default"));
    }
    return buf;
}

/* Builds the data listeners from the configuration into ls (the admin
 * listeners are only checked: admin_setup binds them); reports bad
 * addresses, protected mode and two listeners on one address. */
static unsigned
check_listeners(struct checks *c, struct listener *ls)
{
    struct tcp_addr addr[ARRAY_SIZE(listen_table)];
    bool used[ARRAY_SIZE(listen_table)] = {false};
    unsigned mode = unix_mode(c);
    unsigned n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(listen_table); i++) {
        const struct option *o = listen_table[i].opt;
        const char *spec = option_str(o);
        if (spec == NULL || strcmp(spec, "off") == 0 || spec[0] == '\0') {
            continue;
        }
        char err[256];
        if (tcp_parse_addr(spec, &addr[i], err, sizeof(err)) != STATUS_OK) {
            report(c, EX_CONFIG, o, "%s", err);
            continue;
        }
        used[i] = true;
        for (size_t j = 0; j < i; j++) {
            if (used[j] && tcp_addr_overlap(&addr[j], &addr[i])) {
                char name[64], from[300];
                const struct option *other = listen_table[j].opt;
                report(c, EX_CONFIG, o, "%s: the same address as %s (%s)", spec,
                        option_dotted_name(other, name, sizeof(name)),
                        origin(other, from, sizeof(from)));
            }
        }
        if (listen_table[i].proc == NULL) {
            continue; /* admin: always for operators, loopback by default */
        }
        check_exposure(c, listen_table[i].name, o, &addr[i]);
        ls[n].addr = addr[i];
        ls[n].addr.mode = mode;
        ls[n].name = listen_table[i].name;
        ls[n].proc = listen_table[i].proc;
        ls[n].tp = listen_table[i].tp;
        n++;
    }
    return n;
}

static uint64_t
physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

/* A module's check of its option table (seg_options_check and the like):
 * the first option it refuses in *bad, with the reason. */
typedef rstatus_i (*options_check_fn)(const struct option *opts,
        const struct option **bad, char *why, size_t cap);

static rstatus_i
seg_check(const struct option *opts, const struct option **bad, char *why,
        size_t cap)
{
    return seg_options_check((const seg_options_st *)opts, bad, why, cap);
}

static rstatus_i
workers_check(const struct option *opts, const struct option **bad, char *why,
        size_t cap)
{
    return workers_options_check(
            (const worker_options_st *)opts, bad, why, cap);
}

/* Reports every option of a module's table that its check refuses, not
 * only the first: the check runs again on a copy with each refused option
 * put back to its default, until it passes or refuses an option it
 * refused before (a default that conflicts with another value, reported
 * once already). Each later problem is thus judged as if the earlier ones
 * were fixed, which is what the operator will do. */
static void
check_each(struct checks *c, const struct option *opts, size_t n,
        options_check_fn check)
{
    struct option *copy = malloc(n * sizeof(*copy));
    bool *refused = calloc(n, sizeof(*refused));
    if (copy == NULL || refused == NULL) {
        free(copy);
        free(refused);
        report(c, EX_OSERR, NULL, "out of memory checking the options");
        return;
    }
    memcpy(copy, opts, n * sizeof(*copy)); /* values only read, not freed */
    const struct option *bad = NULL;
    char why[256];
    while (check(copy, &bad, why, sizeof(why)) != STATUS_OK && bad != NULL) {
        uintptr_t at = (uintptr_t)bad, first = (uintptr_t)copy;
        size_t i = (size_t)(at - first) / sizeof(*copy);
        if (at < first || i >= n || refused[i]) {
            break;
        }
        refused[i] = true;
        report(c, EX_CONFIG, &opts[i], "%s", why);
        copy[i].val = copy[i].default_val;
        bad = NULL;
    }
    free(refused);
    free(copy);
}

/* worker.buffer_memory below what one large request needs per worker is
 * raised by workers_setup (a single request is never refused); said here
 * too, so --check-config shows it. */
static void
check_buffer_memory(void)
{
    const worker_options_st *w = &setting.worker;
    uint64_t threads = option_uint(&w->worker_threads);
    if (threads == 0) {
        threads = workers_auto_count();
    }
    if (threads == 0 || threads > WORKERS_MAX) {
        return; /* refused above */
    }
    uint64_t budget = option_uint(&w->worker_buffer_memory);
    uint64_t floor = option_uint(&w->worker_rbuf_max) +
                     option_uint(&w->worker_wbuf_high) +
                     2 * option_uint(&w->worker_buf_size);
    if (budget > 0 && budget / threads < floor) {
        warn(&w->worker_buffer_memory,
                "%" PRIu64 " bytes for %" PRIu64 " workers is less than one "
                "large request needs in each (worker.rbuf_max + "
                "worker.wbuf_high); each gets %" PRIu64 " bytes",
                budget, threads, floor);
    }
}

/* memcache.item_size_max (memcached's -I) within memcached 1.6.18's
 * bounds, refused in its words: at least 1024 bytes, at most half of the
 * store (seg.memory, memcached's -m) and at most 1 GB. (memcached's rules
 * about its slab chunk size have no counterpart here.) */
static void
check_item_size(struct checks *c)
{
    const struct option *o = &setting.memcache.memcache_item_size_max;
    uint64_t v = option_uint(o);
    uint64_t mem = option_uint(&setting.seg.seg_memory);
    if (v < 1024) {
        report(c, EX_USAGE, o, "Item max size cannot be less than 1024 bytes.");
    } else if (v > mem / 2) {
        report(c, EX_USAGE, o,
                "Cannot set item size limit higher than 1/2 of memory max. "
                "(%" PRIu64 " bytes; seg.memory, -m, is %" PRIu64 ")",
                v, mem);
    } else if (v > GiB) {
        report(c, EX_USAGE, o,
                "Cannot set item size limit higher than a gigabyte.");
    }
}

/* Hot keys: values the sampler would otherwise cap or never act on. */
static void
check_hotkey(struct checks *c)
{
    const struct option *export = &setting.hotkey.hotkey_export;
    if (option_uint(export) > HOTKEY_TOP_MAX) {
        report(c, EX_CONFIG, export,
                "%" PRIu64 ": more than the %d keys a report lists",
                option_uint(export), HOTKEY_TOP_MAX);
    }
    const struct option *threshold = &setting.hotkey.hotkey_threshold;
    double share = option_fpn(threshold);
    if (!(share > 0.0 && share <= 1.0)) {
        report(c, EX_CONFIG, threshold,
                "%g: not a share of accesses in (0, 1] (0.01 is 1%%)", share);
    }
}

/* Store, workers, server and admin options: what each module's setup
 * would refuse, and values taken as given that may surprise. */
static void
check_modules(struct checks *c)
{
    check_each(c, (const struct option *)&setting.seg,
            OPTION_CARDINALITY(seg_options_st), seg_check);
    check_each(c, (const struct option *)&setting.worker,
            OPTION_CARDINALITY(worker_options_st), workers_check);
    const struct option *conns = &setting.server.server_max_connections;
    if (option_uint(conns) == 0) {
        report(c, EX_CONFIG, conns,
                "0 would refuse every client; give 1 or "
                "more");
    }
    const struct option *admins = &setting.admin.admin_max_connections;
    if (option_uint(admins) == 0) {
        report(c, EX_CONFIG, admins,
                "0 would refuse every operator; give 1 or more");
    }
    /* protocol limits of 0 would refuse every request of their protocol */
    const struct option *limits[] = {&setting.memcache.memcache_line_max,
            &setting.memcache.memcache_get_line_max,
            &setting.resp.resp_max_args, &setting.resp.resp_max_request};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        if (option_uint(limits[i]) == 0) {
            report(c, EX_CONFIG, limits[i],
                    "0 would refuse every request; give 1 or more");
        }
    }
    const struct option *ring = &setting.msg.msg_ring_size;
    if (option_uint(ring) == 0) {
        report(c, EX_CONFIG, ring,
                "0: a ring between two workers needs at least one slot");
    }
    check_hotkey(c);
    check_item_size(c);
    const struct option *backlog = &setting.server.server_backlog;
    if (option_uint(backlog) > INT_MAX) {
        report(c, EX_CONFIG, backlog, "%" PRIu64 ": more than %d",
                option_uint(backlog), INT_MAX);
    }
    const struct option *tick = &setting.admin.admin_tick;
    if (option_uint(tick) == 0) {
        report(c, EX_CONFIG, tick,
                "0: periodic jobs need a tick of at "
                "least 1ms");
    }
    check_buffer_memory();
    uint64_t phys = physical_memory();
    const struct option *mem = &setting.seg.seg_memory;
    if (phys > 0 && option_uint(mem) > phys) {
        /* taken as given: pages are touched only as the store fills, and
         * a container or swap may allow it; said once, at start */
        warn(mem,
                "%" PRIu64 " MiB is more than this machine's %" PRIu64
                " MiB of physical memory; the store will swap or be "
                "killed when it fills",
                (uint64_t)(option_uint(mem) / MiB), (uint64_t)(phys / MiB));
    }
}

/* Every check; a problem with the command line or a user is EX_USAGE, with
 * a value EX_CONFIG, as when startup meets it. */
static int
check_config(struct listener *ls, unsigned *n)
{
    struct checks c = {EX_OK, 0};
    log_level_e level;
    const struct option *lvl = &setting.log.log_level;
    if (option_str(lvl) == NULL ||
            log_level_parse(option_str(lvl), &level) != STATUS_OK) {
        report(&c, EX_CONFIG, lvl, "not a level: %s",
                option_str(lvl) == NULL ? "~" : option_str(lvl));
    }
    *n = check_listeners(&c, ls);
    check_modules(&c);
    char err[256];
    if (process_check_user(&setting.process, err, sizeof(err)) != STATUS_OK) {
        report(&c, EX_USAGE, NULL, "%s", err);
    }
    return c.code;
}

/* Raises the open-file limit to fit max_connections, as far as allowed. */
static void
raise_nofile(void)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)option_uint(&setting.server.server_max_connections) +
                  (rlim_t)option_uint(&setting.admin.admin_max_connections) +
                  FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) {
        return;
    }
    rl.rlim_cur = want;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        if (setrlimit(RLIMIT_NOFILE, &(struct rlimit){want, want}) != 0) {
            getrlimit(RLIMIT_NOFILE, &rl);
            rl.rlim_cur = rl.rlim_max;
        }
    }
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want) {
        log_warn("open-file limit %ju is below server and admin "
                 "max_connections + %d; connections past it will be refused",
                (uintmax_t)rl.rlim_cur, FD_RESERVE);
    }
}

static void
refresh_job(void *arg)
{
    (void)arg;
    stats_refresh();
}

/* Workers read the store zero-copy: each registers, and passes a quiescent
 * point once per event batch, after its replies are in write buffers. */
static void
worker_start_hook(unsigned id)
{
    if (storage_thread_register() != STATUS_OK) {
        log_crit("worker %u: cannot register with the store", id);
        exit(EX_SOFTWARE);
    }
    hotkey_worker_attach(id);
}

static void
worker_loop_hook(unsigned id, uint64_t now_ms)
{
    storage_quiescent();
    proc_resp_worker_tick(id, now_ms);
}

static int
worker_wait_hook(unsigned id, uint64_t now_ms)
{
    return proc_resp_worker_wait_ms(id, now_ms);
}

static void
worker_stop_hook(unsigned id)
{
    (void)id;
    hotkey_worker_detach();
    storage_thread_unregister();
}

/* Messages from other threads (core/msg.h) wake a worker through the
 * eventfd of the server's hand-off; it delivers them here. */
static void
worker_wake_hook(unsigned id)
{
    msg_drain(id);
}

/* The keyspace path's sampled accesses, to the hot-key sampler (set only
 * when it samples: with hotkey.sample_rate 0 the path pays nothing). */
static uint32_t
hotkey_access(uint8_t db, const void *key, size_t klen, ks_access_e kind)
{
    ks_proto_e p = ks_protocol();
    return hotkey_record(db, key, klen, (hk_kind_e)kind,
            p == KS_PROTO_RESP       ? HOTKEY_PROTO_RESP
            : p == KS_PROTO_MEMCACHE ? HOTKEY_PROTO_MEMCACHE
                                     : 0);
}

static void
hotkey_job(void *arg)
{
    (void)arg;
    hotkey_tick(time_mono_ms());
}

static void
msg_wake(unsigned to)
{
    worker_wake(worker_get(to));
}

/* CLIENT KILL and the like, for a connection on this worker. */
static void
msg_kill(unsigned to, struct msg *m)
{
    worker_kill_id(worker_get(to), m->arg);
}

static const struct worker_hooks worker_hooks = {
        .start = worker_start_hook,
        .loop = worker_loop_hook,
        .stop = worker_stop_hook,
        .wake = worker_wake_hook,
        .wait_ms = worker_wait_hook,
};

/* memcached's refresh_certs, on the worker that read it: the reload reads
 * the files there, as memcached does (milliseconds, rare, operator-sent). */
static rstatus_i
refresh_certs(char *err, size_t errlen)
{
    if (!tls_enabled()) {
        return STATUS_ENOTFOUND;
    }
    return tls_reload(err, errlen);
}

static const struct memcache_stats_source memcache_source = {
        .stats = stats_print_memcache,
        .reset = stats_reset,
        .refresh_certs = refresh_certs,
};

static const struct admin_source admin_source = {
        .stats = stats_print_text,
        .metrics = stats_print_prometheus,
        .reset = stats_reset,
        .hotkeys = hotkey_print_admin,
        .clients = conns_list,
        .kill = conns_kill,
};

/* A setup step failed and logged why at crit: when the log is a file, one
 * line on stderr points there; on stderr the logged line is the one. */
static void
die_logged(int code, const char *what)
{
    const char *file = option_str(&setting.log.log_file);
    if (file != NULL && file[0] != '\0' && strcmp(file, "stderr") != 0) {
        die(code, "%s (see %s)", what, file);
    }
    exit(code);
}

static void
setup(struct listener *ls, unsigned n)
{
    admin_signals_block();
    if (stats_setup() != STATUS_OK) {
        die(EX_OSERR, "%s", "out of memory for metrics");
    }
    if (seg_setup(&setting.seg, &stats.seg) != STATUS_OK) {
        die_logged(EX_CONFIG, "cannot set up the store");
    }
    /* memcache values past one item, up to memcache.item_size_max (-I) as
     * memcached sizes an item, are kept in parts */
    ks_set_memcache_value_max(
            option_uint(&setting.memcache.memcache_item_size_max));
    memcache_parse_setup(&setting.memcache, &stats.memcache_parse);
    proc_memcache_setup(&stats.memcache, &memcache_source);
    resp_setup(&setting.resp, &stats.resp_parse);
    if (proc_resp_setup(&setting.resp_proc, &stats.resp, &stats_resp_source) !=
            STATUS_OK) {
        die(EX_OSERR, "%s", "out of memory for resp statistics");
    }
    if (workers_setup(&setting.worker, &stats.worker, &worker_hooks) !=
            STATUS_OK) {
        die_logged(EX_CONFIG, "cannot set up workers");
    }
    if (msg_setup(&setting.msg, &stats.msg, workers_count(), msg_wake) !=
            STATUS_OK) {
        die(EX_OSERR, "%s", "out of memory for the message path");
    }
    msg_handle(MSG_KIND_KILL, msg_kill);
    conns_setup();
    if (hotkey_setup(&setting.hotkey, &stats.hotkey, workers_count()) !=
            STATUS_OK) {
        die(EX_OSERR, "%s", "out of memory for hot-key summaries");
    }
    if (hotkey_enabled()) {
        ks_on_access(hotkey_access);
    }
    if (server_setup(&setting.server, &stats.server, ls, n) != STATUS_OK) {
        die_logged(EX_OSERR, "cannot listen");
    }
    proc_admin_setup(&admin_source);
    if (admin_setup(&setting.admin, &stats.admin, &proc_admin) != STATUS_OK) {
        die_logged(EX_OSERR, "cannot set up the admin port");
    }
    admin_add_job(1000, refresh_job, NULL);
    if (hotkey_enabled()) {
        admin_add_job(1000, hotkey_job, NULL);
    }
    char err[256];
    if (process_pidfile_write(&setting.process, err, sizeof(err)) !=
            STATUS_OK) {
        die(EX_CANTCREAT, "%s", err);
    }
    /* listeners are bound: root is no longer needed */
    if (process_drop_privileges(&setting.process, err, sizeof(err)) !=
            STATUS_OK) {
        die(EX_NOPERM, "%s", err);
    }
}

static void *
admin_main(void *arg)
{
    (void)arg;
    admin_run();
    return NULL;
}

static void
teardown(void)
{
    server_stop_accepting();
    workers_stop();
    workers_join();
    server_stop();
    admin_teardown();
    ks_on_access(NULL);
    hotkey_teardown(); /* workers and admin thread have stopped */
    server_teardown();
    msg_teardown(); /* every sender and receiver has stopped */
    workers_teardown();
    tls_teardown();
    proc_memcache_teardown();
    proc_resp_teardown();
    resp_teardown();
    memcache_parse_teardown();
    seg_teardown();
    stats_teardown();
    metric_shards_teardown(); /* every thread that counted has stopped */
    process_pidfile_remove(&setting.process);
    option_free(setting_options(), SETTING_NOPT);
    log_info("segcached stopped");
    debug_teardown();
    log_teardown();
}

/* main returns before startup: frees what loading took (a leak checker
 * reports what main's frame held once main returns). */
static int
done(struct cli *cli, int code)
{
    cli_free(cli);
    option_free(setting_options(), SETTING_NOPT);
    return code;
}

int
main(int argc, char **argv)
{
    struct cli cli;
    cli_parse(&cli, argc, argv);
    load_config(&cli);
    if (cli.print_config) {
        option_print_all(stdout, setting_options(), SETTING_NOPT);
        return done(&cli, EX_OK);
    }
    if (cli.print_stats) {
        stats_describe(stdout);
        return done(&cli, EX_OK);
    }
    struct listener ls[MAX_LISTENER];
    unsigned n;
    setup_tls(); /* a bad certificate stops startup; protected mode
                  * looks at the client-certificate policy */
    int code = check_config(ls, &n); /* before anything starts */
    if (code != EX_OK || cli.check_config) {
        if (code == EX_OK) {
            printf("segcached: configuration OK\n");
        }
        return done(&cli, code);
    }
    log_level_e level = config_log_level(&cli);
    cli_free(&cli);
    char err[256];
    if (process_pidfile_check(&setting.process, err, sizeof(err)) !=
            STATUS_OK) {
        die(EX_CANTCREAT, "%s", err);
    }
    process_daemonize_begin(&setting.process);
    if (log_setup(level, option_str(&setting.log.log_file)) != STATUS_OK) {
        die(EX_CANTCREAT, "cannot open log file %s",
                option_str(&setting.log.log_file));
    }
    debug_setup();
    raise_nofile();
    setup(ls, n);
    if (workers_start() != STATUS_OK || server_start() != STATUS_OK) {
        die(EX_OSERR, "%s", "cannot start threads");
    }
    log_info("segcached %s ready: %u workers", SEGCACHED_VERSION,
            workers_count());
    process_ready();
    /* the admin loop gets its own thread and name: the main thread's name
     * is the process's (ps -C, pgrep -x, ss -p show segcached) */
    pthread_t admin;
    if (pthread_create(&admin, NULL, admin_main, NULL) != 0) {
        log_crit("cannot start the admin thread");
        die_logged(EX_OSERR, "cannot start threads");
    }
    pthread_setname_np(admin, "admin"); /* as soon as it exists, too */
    pthread_join(admin, NULL);
    teardown();
    return EX_OK;
}
