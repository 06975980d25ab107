/* SPDX-License-Identifier: Apache-2.0 */
/* Resp connection and server commands: PING ECHO QUIT RESET HELLO AUTH
 * SELECT CLIENT COMMAND TIME, and what tools send on start that has
 * nothing to do here (FUNCTION FLUSH/LIST, SCRIPT FLUSH, DEBUG). */
#include "processor/resp_internal.h"

#include "base/log.h"
#include "base/mm.h"
#include "core/admin.h"
#include "core/msg.h"
#include "core/worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define REDIS_VERSION "7.0.15"

rstatus_i
resp_cmd_ping(struct resp_ctx *x)
{
    if (x->argc > 2) {
        return resp_compose_err_arity(x->w, x->cmd);
    }
    if (!resp_is3(x) && x->st->pubsub != NULL && resp_pubsub_count(x->st) > 0) {
        /* subscribed under RESP2: an array, as a message would be */
        rstatus_i rc = resp_compose_array(x->w, 2);
        if (rc == STATUS_OK) {
            rc = resp_compose_bulk(x->w, "pong", 4);
        }
        if (rc != STATUS_OK) {
            return rc;
        }
        return x->argc == 2 ? resp_compose_bulk(
                                      x->w, x->argv[1].data, x->argv[1].len)
                            : resp_compose_bulk(x->w, "", 0);
    }
    if (x->argc == 2) {
        return resp_compose_bulk(x->w, x->argv[1].data, x->argv[1].len);
    }
    return resp_compose_simple(x->w, "PONG", 4);
}

rstatus_i
resp_cmd_echo(struct resp_ctx *x)
{
    return resp_compose_bulk(x->w, x->argv[1].data, x->argv[1].len);
}

rstatus_i
resp_cmd_quit(struct resp_ctx *x)
{
    x->c->flags |= CONN_CLOSE;
    return resp_compose_ok(x->w);
}

rstatus_i
resp_cmd_reset(struct resp_ctx *x)
{
    resp_state_reset(x);
    return resp_compose_simple(x->w, "RESET", 5);
}

static rstatus_i
auth_failed(struct resp_ctx *x)
{
    INCR(resp_proc_metrics, resp_auth_fail);
    return resp_err(x, "WRONGPASS invalid username-password pair or user is "
                       "disabled.");
}

rstatus_i
resp_cmd_auth(struct resp_ctx *x)
{
    if (x->argc > 3) {
        return resp_err_syntax(x);
    }
    if (x->argc == 2 && !resp_password_required()) {
        return resp_err(x, "ERR AUTH <password> called without any password "
                           "configured for the default user. Are you sure "
                           "your configuration is correct?");
    }
    const struct resp_arg *user = x->argc == 3 ? &x->argv[1] : NULL;
    const struct resp_arg *pass = &x->argv[x->argc - 1];
    if (!resp_auth_check(user, pass)) {
        return auth_failed(x);
    }
    x->st->authenticated = true;
    return resp_compose_ok(x->w);
}

/* Redis's validateClientName: printable ASCII without spaces. */
static bool
name_valid(const struct resp_arg *a)
{
    for (size_t i = 0; i < a->len; i++) {
        if (a->data[i] < '!' || a->data[i] > '~') {
            return false;
        }
    }
    return true;
}

static rstatus_i
hello_reply(struct resp_ctx *x)
{
    struct resp_writer *w = x->w;
    rstatus_i rc = resp_compose_map(w, 7);
    static const char *const pairs[] = {
            "server", "redis", "version", REDIS_VERSION};
    for (size_t i = 0; rc == STATUS_OK && i < 4; i++) {
        rc = resp_compose_bulk(w, pairs[i], strlen(pairs[i]));
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_bulk(w, "proto", 5);
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_integer(w, w->proto);
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_bulk(w, "id", 2);
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_integer(w, (int64_t)x->c->id);
    }
    static const char *const more[] = {
            "mode", "standalone", "role", "master", "modules"};
    for (size_t i = 0; rc == STATUS_OK && i < 5; i++) {
        rc = resp_compose_bulk(w, more[i], strlen(more[i]));
    }
    return rc == STATUS_OK ? resp_compose_array(w, 0) : rc;
}

struct hello_opts {
    const struct resp_arg *user;
    const struct resp_arg *pass;
    const struct resp_arg *name;
};

/* HELLO's options after the version; false after the error reply. */
static bool
hello_options(
        struct resp_ctx *x, uint32_t j, struct hello_opts *o, rstatus_i *rc)
{
    for (; j < x->argc; j++) {
        uint32_t more = x->argc - 1 - j;
        const struct resp_arg *a = &x->argv[j];
        if (resp_arg_is(a, "auth") && more >= 2) {
            o->user = &x->argv[j + 1];
            o->pass = &x->argv[j + 2];
            j += 2;
        } else if (resp_arg_is(a, "setname") && more >= 1) {
            o->name = &x->argv[++j];
            if (!name_valid(o->name)) {
                *rc = resp_err(x, "ERR Client names cannot contain spaces, "
                                  "newlines or special characters.");
                return false;
            }
        } else {
            *rc = resp_compose_error_fmt(x->w,
                    "ERR Syntax error in HELLO option '%.*s'",
                    (int)(a->len > 128 ? 128 : a->len), a->data);
            return false;
        }
    }
    return true;
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]] */
rstatus_i
resp_cmd_hello(struct resp_ctx *x)
{
    int64_t ver = 0;
    struct hello_opts o = {NULL, NULL, NULL};
    rstatus_i rc;
    if (x->argc >= 2) {
        if (!resp_arg_int64(&x->argv[1], &ver)) {
            return resp_err(x, "ERR Protocol version is not an integer or out "
                               "of range");
        }
        if (ver < 2 || ver > 3) {
            return resp_err(x, "NOPROTO unsupported protocol version");
        }
    }
    if (!hello_options(x, 2, &o, &rc)) {
        return rc;
    }
    const struct resp_arg *user = o.user, *pass = o.pass, *name = o.name;
    if (user != NULL) {
        if (!resp_auth_check(user, pass)) {
            return auth_failed(x);
        }
        x->st->authenticated = true;
    }
    if (!x->st->authenticated) {
        return resp_err(x, "NOAUTH HELLO must be called with the client "
                           "already authenticated, otherwise the HELLO AUTH "
                           "<user> <pass> option can be used to "
                           "authenticate the client and select the RESP "
                           "protocol version at the same time");
    }
    if (name != NULL) {
        resp_client_set_name(&x->st->client, name->data, name->len);
    }
    if (ver != 0) {
        x->w->proto = (resp_proto_e)ver;
        __atomic_store_n(&x->st->client.proto, (uint32_t)ver, __ATOMIC_RELAXED);
    }
    return hello_reply(x);
}

rstatus_i
resp_cmd_select(struct resp_ctx *x)
{
    int64_t id;
    if (!resp_arg_int64(&x->argv[1], &id) || id < INT32_MIN || id > INT32_MAX) {
        return resp_err_int(x);
    }
    if (id < 0 || id >= STORAGE_DB_COUNT) {
        return resp_err(x, "ERR DB index is out of range");
    }
    resp_select(x, (uint32_t)id);
    return resp_compose_ok(x->w);
}

rstatus_i
resp_cmd_time(struct resp_ctx *x)
{
    struct timespec ts;
    char sec[24], usec[24];
    clock_gettime(CLOCK_REALTIME, &ts);
    int ns = snprintf(sec, sizeof(sec), "%lld", (long long)ts.tv_sec);
    int nu = snprintf(usec, sizeof(usec), "%ld", ts.tv_nsec / 1000);
    rstatus_i rc = resp_compose_array(x->w, 2);
    if (rc == STATUS_OK) {
        rc = resp_compose_bulk(x->w, sec, (size_t)ns);
    }
    return rc == STATUS_OK ? resp_compose_bulk(x->w, usec, (size_t)nu) : rc;
}

/* ---- ROLE, LATENCY, SHUTDOWN ---- */

/* A standalone master with no replicas, as Redis answers without any. */
rstatus_i
resp_cmd_role(struct resp_ctx *x)
{
    rstatus_i rc = resp_compose_array(x->w, 3);
    if (rc == STATUS_OK) {
        rc = resp_compose_bulk(x->w, "master", 6);
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_integer(x->w, 0); /* replication offset */
    }
    return rc == STATUS_OK ? resp_compose_array(x->w, 0) : rc;
}

/* Redis 7.0.15's LATENCY HELP, but for HISTOGRAM, not served here. */
static const char *const latency_help[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HELP",
        "    Prints this help.",
};

/* What Redis's latency monitor answers while it is off
 * (latency-monitor-threshold 0, its default): segcached keeps no latency
 * events (per-command latency is in INFO latencystats). */
rstatus_i
resp_cmd_latency(struct resp_ctx *x)
{
    static const char doctor[] =
            "I'm sorry, Dave, I can't do that. Latency monitoring is "
            "disabled in this Redis instance. You may use \"CONFIG SET "
            "latency-monitor-threshold <milliseconds>.\" in order to enable "
            "it. If we weren't in a deep space mission I'd suggest to take a "
            "look at https://redis.io/topics/latency-monitor.\n";
    switch (x->cmd->id) {
    case RESP_CMD_LATENCY_LATEST:
    case RESP_CMD_LATENCY_HISTORY:
        return resp_compose_array(x->w, 0);
    case RESP_CMD_LATENCY_RESET:
        return resp_compose_integer(x->w, 0);
    case RESP_CMD_LATENCY_DOCTOR:
        return resp_compose_verbatim(x->w, "txt", doctor, sizeof(doctor) - 1);
    case RESP_CMD_LATENCY_GRAPH:
        return resp_compose_error_fmt(x->w,
                "ERR No samples available for event '%.*s'",
                (int)(x->argv[2].len > 128 ? 128 : x->argv[2].len),
                x->argv[2].data);
    default: {
        size_t n = sizeof(latency_help) / sizeof(latency_help[0]);
        rstatus_i rc = resp_compose_array(x->w, n);
        for (size_t i = 0; i < n && rc == STATUS_OK; i++) {
            rc = resp_compose_simple(
                    x->w, latency_help[i], strlen(latency_help[i]));
        }
        return rc;
    }
    }
}

/* SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] | SHUTDOWN ABORT, with Redis
 * 7.0.15's syntax rules: stops the server as SIGTERM does (admin.h), so a
 * warm-restart heap is written as on any clean stop, whatever SAVE or
 * NOSAVE say. No reply: the connection closes, as Redis's does when it
 * exits. */
rstatus_i
resp_cmd_shutdown(struct resp_ctx *x)
{
    bool nosave = false, save = false, abort = false, other = false;
    for (uint32_t i = 1; i < x->argc; i++) {
        const struct resp_arg *a = &x->argv[i];
        if (resp_arg_is(a, "nosave")) {
            nosave = true;
        } else if (resp_arg_is(a, "save")) {
            save = true;
        } else if (resp_arg_is(a, "now") || resp_arg_is(a, "force")) {
            other = true;
        } else if (resp_arg_is(a, "abort")) {
            abort = true;
        } else {
            return resp_err(x, "ERR syntax error");
        }
    }
    if ((abort && (nosave || save || other)) || (nosave && save)) {
        return resp_err(x, "ERR syntax error");
    }
    if (abort) {
        return resp_err(x, "ERR No shutdown in progress.");
    }
    log_warn("resp conn %" PRIu64 " from %s: SHUTDOWN: stopping", x->c->id,
            x->c->peer);
    admin_request_stop();
    x->c->flags |= CONN_CLOSE;
    return STATUS_OK;
}

rstatus_i
resp_cmd_debug(struct resp_ctx *x)
{
    return resp_err(x, "ERR DEBUG command not allowed. If the "
                       "enable-debug-command option is set to \"local\", you "
                       "can run it from a local connection, otherwise you "
                       "need to set this option in the configuration file, "
                       "and then restart the server.");
}

/* FUNCTION FLUSH [ASYNC|SYNC] and FUNCTION LIST [WITHCODE] [LIBRARYNAME
 * pattern]: there are no functions. */
/* <CONTAINER> HELP: the subcommands from the table, one status line each
 * (Redis's own help text is longer; documented as partial). */
rstatus_i
resp_cmd_help(struct resp_ctx *x)
{
    const struct resp_command *parent = resp_command_by_id(x->cmd->parent);
    char line[256];
    rstatus_i rc = resp_compose_array(x->w, 1 + 2 * (uint64_t)parent->nsub);
    int n = snprintf(line, sizeof(line),
            "%.*s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            (int)x->argv[0].len > 32 ? 32 : (int)x->argv[0].len,
            x->argv[0].data);
    for (int i = 0; i < n && i < (int)x->argv[0].len && i < 32; i++) {
        line[i] = (char)(line[i] >= 'a' && line[i] <= 'z' ? line[i] - 32
                                                          : line[i]);
    }
    if (rc == STATUS_OK) {
        rc = resp_compose_simple(x->w, line, (size_t)n);
    }
    for (uint8_t i = 0; rc == STATUS_OK && i < parent->nsub; i++) {
        const struct resp_command *sub = &parent->sub[i];
        n = snprintf(line, sizeof(line), "%s", sub->name);
        for (int k = 0; k < n; k++) {
            line[k] = (char)(line[k] >= 'a' && line[k] <= 'z' ? line[k] - 32
                                                              : line[k]);
        }
        rc = resp_compose_simple(x->w, line, (size_t)n);
        if (rc == STATUS_OK) {
            const char *sum = sub->summary != NULL ? sub->summary : "";
            size_t len = strlen(sum);
            n = snprintf(line, sizeof(line), "    %s%s", sum,
                    len > 0 && sum[len - 1] == '.' ? "" : ".");
            rc = resp_compose_simple(x->w, line, (size_t)n);
        }
    }
    return rc;
}

/* ---- CLIENT ---- */

static rstatus_i
client_list(struct resp_ctx *x, bool self_only)
{
    struct buf b;
    uint64_t ids[64];
    size_t nid = 0;
    int type = -1;
    if (!self_only && x->argc == 4 && resp_arg_is(&x->argv[2], "type")) {
        const struct resp_arg *t = &x->argv[3];
        if (!resp_arg_is(t, "normal") && !resp_arg_is(t, "master") &&
                !resp_arg_is(t, "replica") && !resp_arg_is(t, "slave") &&
                !resp_arg_is(t, "pubsub")) {
            return resp_compose_error_fmt(x->w,
                    "ERR Unknown client type '%.*s'",
                    (int)(t->len > 128 ? 128 : t->len), t->data);
        }
        if (!resp_arg_is(t, "normal") && !resp_arg_is(t, "pubsub")) {
            return resp_reply_text(x, "", 0); /* no replicas here */
        }
        type = resp_arg_is(t, "pubsub") ? 1 : 0;
    } else if (!self_only && x->argc > 3 && resp_arg_is(&x->argv[2], "id")) {
        for (uint32_t j = 3; j < x->argc; j++) {
            int64_t id;
            if (!resp_arg_int64(&x->argv[j], &id)) {
                return resp_err(x, "ERR Invalid client ID");
            }
            if (nid < sizeof(ids) / sizeof(ids[0])) {
                ids[nid++] = (uint64_t)id;
            }
        }
    } else if (!self_only && x->argc != 2) {
        return resp_err_syntax(x);
    }
    if (buf_init(&b, 1024) != STATUS_OK) {
        return resp_err(x, "ERR out of memory");
    }
    rstatus_i rc = resp_client_list(&b, x->w->max, x->c->now_ms,
            nid > 0 ? ids : NULL, nid, &x->st->client, self_only, type);
    if (rc == STATUS_OK) {
        rc = resp_reply_text(x, b.rpos, buf_rsize(&b));
    }
    buf_deinit(&b);
    return rc;
}

static rstatus_i
client_setinfo(struct resp_ctx *x)
{
    const struct resp_arg *attr = &x->argv[2];
    const struct resp_arg *v = &x->argv[3];
    bool ver = resp_arg_is(attr, "lib-ver");
    if (!ver && !resp_arg_is(attr, "lib-name")) {
        return resp_compose_error_fmt(x->w, "ERR Unrecognized option '%.*s'",
                (int)(attr->len > 128 ? 128 : attr->len), attr->data);
    }
    if (!name_valid(v)) {
        return resp_compose_error_fmt(x->w,
                "ERR %s cannot contain spaces, newlines or special characters.",
                ver ? "lib-ver" : "lib-name");
    }
    resp_client_set_lib(&x->st->client, ver, v->data, v->len);
    return resp_compose_ok(x->w);
}

static rstatus_i
client_reply(struct resp_ctx *x)
{
    const struct resp_arg *a = &x->argv[2];
    if (resp_arg_is(a, "on")) {
        x->st->reply = RESP_REPLY_ON;
        return resp_compose_ok(x->w);
    }
    if (resp_arg_is(a, "off")) {
        x->st->reply = RESP_REPLY_OFF;
        return STATUS_OK;
    }
    if (resp_arg_is(a, "skip")) {
        if (x->st->reply == RESP_REPLY_ON ||
                x->st->reply == RESP_REPLY_SKIP_THIS) {
            x->st->reply = RESP_REPLY_SKIP_NEXT;
        }
        return STATUS_OK;
    }
    return resp_err_syntax(x);
}

/* CLIENT KILL's filter pairs (Redis 7.0.15's clientKillCommand); false
 * after the error reply. */
static bool
kill_filter(struct resp_ctx *x, struct resp_kill_filter *f, rstatus_i *rc)
{
    for (uint32_t j = 2; j < x->argc; j += 2) {
        const struct resp_arg *k = &x->argv[j];
        const struct resp_arg *v = &x->argv[j + 1];
        int64_t id;
        if (resp_arg_is(k, "id")) {
            if (!resp_arg_int64(v, &id) || id <= 0) {
                *rc = resp_err(x, "ERR client-id should be greater than 0");
                return false;
            }
            f->id = (uint64_t)id;
        } else if (resp_arg_is(k, "type")) {
            if (resp_arg_is(v, "normal")) {
                f->type = 0;
            } else if (resp_arg_is(v, "pubsub")) {
                f->type = 1;
            } else if (resp_arg_is(v, "slave") || resp_arg_is(v, "replica") ||
                       resp_arg_is(v, "master")) {
                f->type = 2; /* none here */
            } else {
                *rc = resp_compose_error_fmt(x->w,
                        "ERR Unknown client type '%.*s'",
                        (int)(v->len > 128 ? 128 : v->len), v->data);
                return false;
            }
        } else if (resp_arg_is(k, "addr")) {
            f->addr = v;
        } else if (resp_arg_is(k, "laddr")) {
            f->laddr = v;
        } else if (resp_arg_is(k, "user")) {
            if (!(v->len == 7 && memcmp(v->data, "default", 7) == 0)) {
                *rc = resp_compose_error_fmt(x->w, "ERR No such user '%.*s'",
                        (int)(v->len > 128 ? 128 : v->len), v->data);
                return false;
            }
        } else if (resp_arg_is(k, "skipme")) {
            if (resp_arg_is(v, "yes")) {
                f->skipme = true;
            } else if (resp_arg_is(v, "no")) {
                f->skipme = false;
            } else {
                *rc = resp_err_syntax(x);
                return false;
            }
        } else {
            *rc = resp_err_syntax(x);
            return false;
        }
    }
    return true;
}

/* CLIENT KILL addr | CLIENT KILL <filter value> ...: the matching
 * connections close, on whichever worker serves them (a KILL message
 * through core/msg; the caller's own closes after this reply). */
static rstatus_i
client_kill(struct resp_ctx *x)
{
    struct resp_kill_filter f = {.type = -1, .skipme = true};
    bool old_form = x->argc == 3;
    rstatus_i rc = STATUS_OK;
    if (old_form) {
        f.addr = &x->argv[2];
        f.skipme = false; /* the old form may kill the caller */
    } else if ((x->argc - 2) % 2 != 0) {
        return resp_err_syntax(x);
    } else if (!kill_filter(x, &f, &rc)) {
        return rc;
    }
    struct resp_kill_target *t;
    long n = resp_client_match(&f, &x->st->client, &t);
    if (n < 0) {
        return resp_err(x, "ERR out of memory");
    }
    unsigned self = x->c->owner != NULL ? worker_id(x->c->owner) : 0;
    for (long i = 0; i < n; i++) {
        INCR(resp_proc_metrics, resp_client_kill);
        if (t[i].id == x->c->id) {
            x->c->flags |= CONN_CLOSE; /* after this reply, as Redis */
        } else if (x->c->owner == NULL) {
            continue;
        } else if (t[i].worker == self) {
            worker_kill_id(x->c->owner, t[i].id);
        } else {
            struct msg *m = msg_create(MSG_KIND_KILL, 0);
            if (m != NULL) {
                m->arg = t[i].id;
                msg_send(self, t[i].worker, m);
                msg_release(&m);
            }
        }
    }
    mm_release(t);
    if (old_form) {
        return n == 0 ? resp_err(x, "ERR No such client")
                      : resp_compose_ok(x->w);
    }
    return resp_compose_integer(x->w, n);
}

rstatus_i
resp_cmd_client(struct resp_ctx *x)
{
    struct resp_client *cl = &x->st->client;
    switch (x->cmd->id) {
    case RESP_CMD_CLIENT_ID:
        return resp_compose_integer(x->w, (int64_t)x->c->id);
    case RESP_CMD_CLIENT_SETNAME:
        if (!name_valid(&x->argv[2])) {
            return resp_err(x, "ERR Client names cannot contain spaces, "
                               "newlines or special characters.");
        }
        resp_client_set_name(cl, x->argv[2].data, x->argv[2].len);
        return resp_compose_ok(x->w);
    case RESP_CMD_CLIENT_GETNAME:
        /* only this thread writes the name: reading it needs no lock */
        if (cl->name == NULL) {
            return resp_compose_null(x->w);
        }
        return resp_compose_bulk(x->w, cl->name, strlen(cl->name));
    case RESP_CMD_CLIENT_INFO:
        return client_list(x, true);
    case RESP_CMD_CLIENT_LIST:
        return client_list(x, false);
    case RESP_CMD_CLIENT_SETINFO:
        return client_setinfo(x);
    case RESP_CMD_CLIENT_NO_EVICT:
        if (resp_arg_is(&x->argv[2], "on") || resp_arg_is(&x->argv[2], "off")) {
            cl->no_evict = resp_arg_is(&x->argv[2], "on");
            return resp_compose_ok(x->w);
        }
        return resp_err_syntax(x);
    case RESP_CMD_CLIENT_REPLY:
        return client_reply(x);
    case RESP_CMD_CLIENT_KILL:
        return client_kill(x);
    default:
        return resp_compose_err_unknown_subcommand(x->w, x->argv);
    }
}
