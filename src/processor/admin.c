/* SPDX-License-Identifier: Apache-2.0 */
/* Admin processor: operators' text commands and HTTP GET (and HEAD)
 * /metrics. */
#include "processor/admin.h"

#include "core/admin.h"
#include "core/conn.h"
#include "protocol/admin/admin.h"

#include <stdbool.h>
#include <string.h>

static struct admin_source source;

void
proc_admin_setup(const struct admin_source *s)
{
    source = *s;
}

static rstatus_i
append_str(struct buf *b, size_t max, const char *s)
{
    return buf_append(b, s, strlen(s), max);
}

/* kill <id>: the id `clients` shows (the same as CLIENT ID's). */
static rstatus_i
kill_command(struct buf *w, size_t max, const struct bstring *arg)
{
    uint64_t id = 0;
    bool ok = arg->len > 0 && arg->len <= 19;
    for (size_t i = 0; ok && i < arg->len; i++) {
        ok = arg->data[i] >= '0' && arg->data[i] <= '9';
        id = id * 10 + (uint64_t)(arg->data[i] - '0');
    }
    if (!ok) {
        return append_str(w, max,
                "CLIENT_ERROR kill takes a connection id (see clients)\r\n");
    }
    rstatus_i st = source.kill(id);
    if (st == STATUS_ENOTFOUND) {
        return append_str(w, max, "NOT_FOUND\r\n");
    }
    if (st != STATUS_OK) {
        return append_str(w, max, "SERVER_ERROR out of memory\r\n");
    }
    return append_str(w, max, "OK\r\n");
}

static rstatus_i
text_command(struct conn *c, const struct admin_request *req, size_t max)
{
    struct buf *w = &c->wbuf;
    if (bstring_equal_cstr(&req->verb, "stats")) {
        if (bstring_equal_cstr(&req->arg, "reset")) {
            if (source.reset != NULL) {
                source.reset();
            }
            return append_str(w, max, "RESET\r\n");
        }
        rstatus_i st = source.stats(w, max, &req->arg);
        if (st == STATUS_EINVAL) {
            return append_str(w, max, "CLIENT_ERROR unknown stats group\r\n");
        }
        return st != STATUS_OK ? st : append_str(w, max, "END\r\n");
    }
    if (bstring_equal_cstr(&req->verb, "hotkeys") && source.hotkeys != NULL) {
        rstatus_i st = source.hotkeys(w, max, &req->arg);
        if (st == STATUS_EINVAL) {
            return append_str(w, max,
                    "CLIENT_ERROR hotkeys takes a count from 1 to 100\r\n");
        }
        return st != STATUS_OK ? st : append_str(w, max, "END\r\n");
    }
    if (bstring_equal_cstr(&req->verb, "clients") && source.clients != NULL) {
        rstatus_i st = source.clients(w, max);
        if (st == STATUS_EAGAIN) {
            return append_str(w, max,
                    "SERVER_ERROR a worker did not answer: list "
                    "incomplete\r\n");
        }
        return st != STATUS_OK ? st : append_str(w, max, "END\r\n");
    }
    if (bstring_equal_cstr(&req->verb, "kill") && source.kill != NULL) {
        return kill_command(w, max, &req->arg);
    }
    if (bstring_equal_cstr(&req->verb, "version")) {
        return append_str(w, max, "VERSION " SEGCACHED_VERSION "\r\n");
    }
    if (bstring_equal_cstr(&req->verb, "quit")) {
        c->flags |= CONN_CLOSE;
        return STATUS_OK;
    }
    if (bstring_equal_cstr(&req->verb, "shutdown")) {
        admin_request_stop();
        c->flags |= CONN_CLOSE;
        return append_str(w, max, "OK\r\n");
    }
    if (req->verb.len == 0) {
        return STATUS_OK; /* an empty line, as a telnet user sends */
    }
    return append_str(w, max,
            "CLIENT_ERROR unknown command (try stats, version, quit)\r\n");
}

/* The path of an HTTP target: what comes before a query ("?...") or a
 * fragment, which select nothing here (scrapers add their own queries). */
static struct bstring
http_path(const struct bstring *target)
{
    size_t n = 0;
    while (n < target->len && target->data[n] != '?' &&
            target->data[n] != '#') {
        n++;
    }
    return bstring_of(target->data, n);
}

static rstatus_i
http_request(struct conn *c, const struct admin_request *req, size_t max)
{
    struct buf *w = &c->wbuf;
    c->flags |= CONN_CLOSE;
    bool head = bstring_equal_cstr(&req->verb, "HEAD");
    if (!head && !bstring_equal_cstr(&req->verb, "GET")) {
        const char *text = "only GET and HEAD\n";
        rstatus_i st =
                admin_compose_http_head(w, max, 405, "Method Not Allowed",
                        "text/plain", "Allow: GET, HEAD\r\n", strlen(text));
        return st == STATUS_OK ? append_str(w, max, text) : st;
    }
    struct bstring path = http_path(&req->arg);
    if (!bstring_equal_cstr(&path, "/metrics")) {
        const char *text = "try /metrics\n";
        rstatus_i st = admin_compose_http_head(
                w, max, 404, "Not Found", "text/plain", NULL, strlen(text));
        return st == STATUS_OK && !head ? append_str(w, max, text) : st;
    }
    /* the body first: the head carries its length (HEAD gets the length
     * GET would, and no body) */
    struct buf body = {0};
    if (buf_init(&body, 64 * 1024) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    rstatus_i st = source.metrics(&body, max);
    if (st == STATUS_OK) {
        st = admin_compose_http_head(w, max, 200, "OK",
                "text/plain; version=0.0.4; charset=utf-8", NULL,
                buf_rsize(&body));
    }
    if (st == STATUS_OK && !head) {
        st = buf_append(w, body.rpos, buf_rsize(&body), max);
    }
    buf_deinit(&body);
    return st;
}

static rstatus_i
admin_read(struct conn *c, const struct proc_limits *limits)
{
    while (!buf_empty(&c->rbuf) && !(c->flags & CONN_CLOSE)) {
        struct admin_request req;
        admin_parse_e p = admin_parse_req(&req, &c->rbuf);
        if (p == ADMIN_PARSE_UNFIN) {
            return STATUS_OK;
        }
        if (p == ADMIN_PARSE_EOVERSIZE) {
            buf_clear(&c->rbuf);
            c->flags |= CONN_CLOSE;
            return append_str(&c->wbuf, limits->wbuf_max,
                    "CLIENT_ERROR line too long\r\n");
        }
        rstatus_i st = req.type == ADMIN_REQ_HTTP
                               ? http_request(c, &req, limits->wbuf_max)
                               : text_command(c, &req, limits->wbuf_max);
        if (st != STATUS_OK) {
            return st;
        }
    }
    return STATUS_OK;
}

const struct processor proc_admin = {
        .name = "admin",
        .read = admin_read,
        .write = NULL,
        .error = NULL,
};
