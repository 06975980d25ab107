/* SPDX-License-Identifier: Apache-2.0 */
/* CLIENT PAUSE and CLIENT UNPAUSE, as Redis 7.0.15 has them: while a pause
 * is in force, a command it covers is held, not refused: its connection
 * stops reading with the request still in its read buffer, and runs it
 * when the pause ends (the timeout passes, or CLIENT UNPAUSE). WRITE holds
 * the commands that write or may replicate (SET, EVAL, PUBLISH, PFCOUNT
 * ...; EXEC of a queue holding one), ALL holds every command (QUIT
 * aside), CLIENT UNPAUSE included, as Redis does. Checks that answer at
 * once in Redis (unknown command, arity, NOAUTH, the subscribed-mode
 * rule) answer at once here too: resp.c asks only after them.
 *
 * One pause for the process: a pause set on one worker holds clients on
 * every worker. Two overlapping pauses keep the stricter mode and the
 * later end (Redis 7.0's pauseClients). The state is three relaxed
 * atomics written under pause_lock (rare: operators' commands); a command
 * pays one relaxed load when no pause was ever set since the last end.
 *
 * Held connections are listed per worker, touched by that worker only.
 * A worker holding some bounds its loop's sleep by the pause's end
 * (proc_resp_worker_wait_ms) and resumes them in its loop hook
 * (proc_resp_worker_tick) once the pause is over or was lifted;
 * CLIENT UNPAUSE wakes every worker with a MSG_KIND_UNPAUSE message. A
 * resumed connection parses its read buffer again, so a command that a
 * new pause covers is held again. */
#include "processor/resp.h"
#include "processor/resp_internal.h"

#include "base/mm.h"
#include "base/time.h"
#include "core/msg.h"
#include "core/worker.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

enum {
    PAUSE_OFF,
    PAUSE_WRITE,
    PAUSE_ALL, /* stricter: a larger value wins */
};

uint32_t resp_pause_mode;  /* atomic: PAUSE_*; OFF once lifted or over */
static uint64_t pause_end; /* atomic: unix ms */
static uint64_t pause_gen; /* atomic: +1 each time a pause ends */
static pthread_mutex_t pause_lock = PTHREAD_MUTEX_INITIALIZER;

/* Per worker, touched by its thread only. */
struct held {
    struct conn **c;
    uint32_t n;
    uint32_t cap;
};
static struct held held[WORKERS_MAX];

static unsigned
worker_of(const struct conn *c)
{
    return c->owner != NULL ? worker_id(c->owner) : 0;
}

/* Ends the pause if its time is up; returns its mode now. */
static uint32_t
mode_now(uint64_t now_ms)
{
    uint32_t mode = __atomic_load_n(&resp_pause_mode, __ATOMIC_RELAXED);
    if (mode == PAUSE_OFF ||
            now_ms < __atomic_load_n(&pause_end, __ATOMIC_RELAXED)) {
        return mode;
    }
    pthread_mutex_lock(&pause_lock);
    if (__atomic_load_n(&resp_pause_mode, __ATOMIC_RELAXED) != PAUSE_OFF &&
            now_ms >= __atomic_load_n(&pause_end, __ATOMIC_RELAXED)) {
        __atomic_store_n(&resp_pause_mode, PAUSE_OFF, __ATOMIC_RELAXED);
        __atomic_store_n(&pause_end, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&pause_gen, 1, __ATOMIC_RELAXED);
    }
    mode = __atomic_load_n(&resp_pause_mode, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&pause_lock);
    return mode;
}

/* Whether an EVAL body's shebang ("#!lua flags=a,b") declares no-writes:
 * Redis runs such a script during a WRITE pause. */
static bool
no_writes_script(const struct resp_arg *body)
{
    if (body->len < 2 || memcmp(body->data, "#!", 2) != 0) {
        return false;
    }
    const char *end = memchr(body->data, '\n', body->len);
    size_t n = end != NULL ? (size_t)(end - body->data) : body->len;
    const char *flags = memmem(body->data, n, " flags=", 7);
    if (flags == NULL) {
        return false;
    }
    const char *p = flags + 7, *stop = body->data + n;
    while (p < stop && *p != ' ') {
        const char *q = p;
        while (q < stop && *q != ',' && *q != ' ') {
            q++;
        }
        if (q - p == 9 && memcmp(p, "no-writes", 9) == 0) {
            return true;
        }
        p = q < stop && *q == ',' ? q + 1 : q;
    }
    return false;
}

/* Redis 7.0's CMD_WRITE | CMD_MAY_REPLICATE, which COMMAND INFO does not
 * show (so the generated table lacks it): PFCOUNT, PUBLISH, SPUBLISH and
 * scripts that may write. EVALSHA and FCALL are taken to write (Redis
 * looks at the script's or function's flags; see protocol-resp.md). */
static bool
writes(const struct resp_command *cmd, const struct resp_arg *argv,
        uint32_t argc)
{
    if (cmd->flags & (RESP_CMD_F_WRITE | RESP_CMD_F_MAY_REPLICATE)) {
        return true;
    }
    switch (cmd->id) {
    case RESP_CMD_PFCOUNT:
    case RESP_CMD_PUBLISH:
    case RESP_CMD_SPUBLISH:
    case RESP_CMD_EVALSHA:
    case RESP_CMD_FCALL:
        return true;
    case RESP_CMD_EVAL:
        return argc < 2 || !no_writes_script(&argv[1]);
    default:
        return false;
    }
}

bool
resp_pause_holds(const struct resp_ctx *x)
{
    const struct resp_command *cmd = x->cmd;
    uint32_t mode = mode_now(x->c->now_ms);
    if (mode == PAUSE_OFF || cmd->id == RESP_CMD_QUIT) {
        return false;
    }
    if (mode == PAUSE_ALL || writes(cmd, x->argv, x->argc)) {
        return true;
    }
    if (cmd->id == RESP_CMD_EXEC && x->st->in_multi) {
        for (const struct resp_queued *q = x->st->qhead; q != NULL;
                q = q->next) {
            if (writes(q->cmd, q->argv, q->argc)) {
                return true;
            }
        }
    }
    return false;
}

rstatus_i
resp_pause_hold(struct conn *c, struct resp_state *st)
{
    struct held *h = &held[worker_of(c)];
    if (h->n == h->cap) {
        uint32_t cap = h->cap == 0 ? 8 : h->cap * 2;
        void *p = mm_realloc(h->c, cap * sizeof(*h->c));
        if (p == NULL) {
            return STATUS_ENOMEM;
        }
        h->c = p;
        h->cap = cap;
    }
    h->c[h->n++] = c;
    st->paused = true;
    st->pause_gen = __atomic_load_n(&pause_gen, __ATOMIC_RELAXED);
    INCR(resp_proc_metrics, resp_pause_held);
    return STATUS_OK;
}

void
resp_pause_release(struct conn *c, struct resp_state *st)
{
    if (!st->paused) {
        return;
    }
    struct held *h = &held[worker_of(c)];
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->c[i] == c) {
            h->c[i] = h->c[--h->n];
            break;
        }
    }
    st->paused = false;
}

void
proc_resp_worker_tick(unsigned id, uint64_t now_ms)
{
    struct held *h = &held[id];
    if (h->n == 0) {
        return;
    }
    bool over = mode_now(now_ms) == PAUSE_OFF;
    uint64_t gen = __atomic_load_n(&pause_gen, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < h->n;) {
        struct conn *c = h->c[i];
        struct resp_state *st = c->data;
        if (!over && st->pause_gen == gen) {
            i++;
            continue;
        }
        h->c[i] = h->c[--h->n];
        st->paused = false;
        if (c->owner != NULL) {
            /* the worker parses its read buffer again (as a blocked
             * client's resume in resp_block.c) */
            c->flags |= CONN_STALLED;
            worker_conn_flush_later(c);
        }
    }
}

int
proc_resp_worker_wait_ms(unsigned id, uint64_t now_ms)
{
    if (held[id].n == 0) {
        return -1;
    }
    if (__atomic_load_n(&resp_pause_mode, __ATOMIC_RELAXED) == PAUSE_OFF) {
        return 0;
    }
    uint64_t end = __atomic_load_n(&pause_end, __ATOMIC_RELAXED);
    if (end <= now_ms) {
        return 0;
    }
    return end - now_ms > INT_MAX ? INT_MAX : (int)(end - now_ms);
}

static void
on_unpause(unsigned to, struct msg *m)
{
    (void)m;
    proc_resp_worker_tick(to, time_now_ms());
}

/* CLIENT PAUSE timeout [WRITE|ALL]: checks in Redis 7.0.15's order (the
 * mode, then the timeout). */
rstatus_i
resp_cmd_client_pause(struct resp_ctx *x)
{
    if (x->argc > 4) {
        return resp_compose_error_fmt(x->w,
                "ERR unknown subcommand or wrong number of arguments for "
                "'%.*s'. Try CLIENT HELP.",
                (int)(x->argv[1].len > 128 ? 128 : x->argv[1].len),
                x->argv[1].data);
    }
    uint32_t mode = PAUSE_ALL;
    if (x->argc == 4) {
        if (resp_arg_is(&x->argv[3], "write")) {
            mode = PAUSE_WRITE;
        } else if (!resp_arg_is(&x->argv[3], "all")) {
            return resp_err(x, "ERR CLIENT PAUSE mode must be WRITE or ALL");
        }
    }
    int64_t ms;
    if (!resp_arg_int64(&x->argv[2], &ms)) {
        return resp_err(x, "ERR timeout is not an integer or out of range");
    }
    if (ms < 0) {
        return resp_err(x, "ERR timeout is negative");
    }
    /* Redis takes 0 as "no end" (its end stays where it was) */
    uint64_t end = ms == 0 ? 0
                   : (uint64_t)ms > UINT64_MAX - x->c->now_ms
                           ? UINT64_MAX
                           : x->c->now_ms + (uint64_t)ms;
    mode_now(x->c->now_ms); /* an old pause that is over counts no more */
    pthread_mutex_lock(&pause_lock);
    if (mode > __atomic_load_n(&resp_pause_mode, __ATOMIC_RELAXED)) {
        __atomic_store_n(&resp_pause_mode, mode, __ATOMIC_RELAXED);
    }
    if (end > __atomic_load_n(&pause_end, __ATOMIC_RELAXED)) {
        __atomic_store_n(&pause_end, end, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&pause_lock);
    INCR(resp_proc_metrics, resp_pause);
    return resp_compose_ok(x->w);
}

/* CLIENT UNPAUSE: every held client runs, on every worker. */
rstatus_i
resp_cmd_client_unpause(struct resp_ctx *x)
{
    pthread_mutex_lock(&pause_lock);
    __atomic_store_n(&resp_pause_mode, PAUSE_OFF, __ATOMIC_RELAXED);
    __atomic_store_n(&pause_end, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&pause_gen, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&pause_lock);
    if (x->c->owner != NULL) {
        /* this worker resumes its own in its loop hook, after this batch */
        unsigned self = worker_id(x->c->owner);
        for (unsigned w = 0; w < msg_nworker(); w++) {
            if (w == self) {
                continue;
            }
            struct msg *m = msg_create(MSG_KIND_UNPAUSE, 0);
            if (m != NULL) {
                msg_send(self, w, m);
                msg_release(&m);
            }
        }
    } else {
        proc_resp_worker_tick(0, x->c->now_ms); /* unit tests */
    }
    return resp_compose_ok(x->w);
}

void
resp_pause_setup(void)
{
    msg_handle(MSG_KIND_UNPAUSE, on_unpause);
}

void
resp_pause_teardown(void)
{
    for (unsigned w = 0; w < WORKERS_MAX; w++) {
        mm_release(held[w].c);
        memset(&held[w], 0, sizeof(held[w]));
    }
    __atomic_store_n(&resp_pause_mode, PAUSE_OFF, __ATOMIC_RELAXED);
    __atomic_store_n(&pause_end, 0, __ATOMIC_RELAXED);
}
