/* SPDX-License-Identifier: Apache-2.0 */
/* The admin thread's question to every worker, and the answers.
 *
 * A call lives until the admin thread and every worker it asked are done
 * with it (refs): a worker that answers after the admin thread gave up
 * finds the call abandoned and only drops its reference. */
#include "core/conns.h"

#include "base/mm.h"
#include "base/time.h"
#include "core/msg.h"
#include "core/worker.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

struct call {
    pthread_mutex_t lock;
    pthread_cond_t done;
    uint32_t refs;    /* under lock */
    uint32_t pending; /* workers yet to answer, under lock */
    bool abandoned;   /* the admin thread stopped waiting */
    uint64_t find;    /* 0: list; else the id to find */
    int found_on;     /* the worker that holds find, -1: none */
    size_t max;
    struct buf text;
};

static void
call_drop(struct call *call)
{
    pthread_mutex_lock(&call->lock);
    bool last = --call->refs == 0;
    pthread_mutex_unlock(&call->lock);
    if (last) {
        buf_deinit(&call->text);
        pthread_cond_destroy(&call->done);
        pthread_mutex_destroy(&call->lock);
        mm_free(&call);
    }
}

/* On worker `to`'s thread. */
static void
on_question(unsigned to, struct msg *m)
{
    struct call *call;
    memcpy(&call, m->data, sizeof(call));
    struct worker *w = worker_get(to);
    pthread_mutex_lock(&call->lock);
    if (!call->abandoned) {
        if (call->find != 0) {
            if (worker_has_id(w, call->find)) {
                call->found_on = (int)to;
            }
        } else {
            worker_describe(w, &call->text, call->max);
        }
    }
    call->pending--;
    pthread_cond_signal(&call->done);
    pthread_mutex_unlock(&call->lock);
    call_drop(call);
}

void
conns_setup(void)
{
    msg_handle(MSG_KIND_CLIENTS, on_question);
}

/* Asks every worker; returns the call (the caller's reference) with every
 * answer in, or with pending > 0 after CONNS_WAIT_MS; NULL: no memory. */
static struct call *
ask(uint64_t find, size_t max)
{
    unsigned n = msg_nworker();
    struct call *call = mm_zalloc(sizeof(*call));
    if (call == NULL || buf_init(&call->text, 4096) != STATUS_OK) {
        mm_free(&call);
        return NULL;
    }
    pthread_mutex_init(&call->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&call->done, &attr);
    pthread_condattr_destroy(&attr);
    call->refs = n + 1;
    call->pending = n;
    call->find = find;
    call->found_on = -1;
    call->max = max;
    for (unsigned w = 0; w < n; w++) {
        struct msg *m = msg_create(MSG_KIND_CLIENTS, sizeof(call));
        if (m != NULL) {
            memcpy(m->data, &call, sizeof(call));
            if (msg_send(n + MSG_SENDER_ADMIN, w, m) != STATUS_OK) {
                msg_release(&m);
            }
        }
        if (m == NULL) { /* not sent: nobody answers for w */
            pthread_mutex_lock(&call->lock);
            call->pending--;
            call->refs--;
            pthread_mutex_unlock(&call->lock);
        }
        msg_release(&m);
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += CONNS_WAIT_MS / 1000;
    until.tv_nsec += (long)(CONNS_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&call->lock);
    while (call->pending > 0 && pthread_cond_timedwait(&call->done, &call->lock,
                                        &until) != ETIMEDOUT) {
    }
    call->abandoned = true; /* late answers are dropped */
    pthread_mutex_unlock(&call->lock);
    return call;
}

rstatus_i
conns_list(struct buf *b, size_t max)
{
    struct call *call = ask(0, max);
    if (call == NULL) {
        return STATUS_ENOMEM;
    }
    pthread_mutex_lock(&call->lock);
    bool partial = call->pending > 0;
    rstatus_i st = buf_append(b, call->text.rpos, buf_rsize(&call->text), max);
    pthread_mutex_unlock(&call->lock);
    call_drop(call);
    return st != STATUS_OK ? st : partial ? STATUS_EAGAIN : STATUS_OK;
}

rstatus_i
conns_kill(uint64_t id)
{
    if (id == 0) {
        return STATUS_ENOTFOUND;
    }
    struct call *call = ask(id, 0);
    if (call == NULL) {
        return STATUS_ENOMEM;
    }
    pthread_mutex_lock(&call->lock);
    int on = call->found_on;
    pthread_mutex_unlock(&call->lock);
    call_drop(call);
    if (on < 0) {
        return STATUS_ENOTFOUND;
    }
    /* the KILL message CLIENT KILL sends: closed on its worker */
    struct msg *m = msg_create(MSG_KIND_KILL, 0);
    if (m == NULL) {
        return STATUS_ENOMEM;
    }
    m->arg = id;
    rstatus_i st = msg_send(msg_nworker() + MSG_SENDER_ADMIN, (unsigned)on, m);
    msg_release(&m);
    return st;
}
