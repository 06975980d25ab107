/* SPDX-License-Identifier: Apache-2.0 */
/* Level-triggered epoll. Interest and readiness are translated here so that
 * callers never see EPOLL* bits: READ asks for EPOLLIN and EPOLLRDHUP (a
 * peer's FIN wakes the reader, whose recv then sees EOF), WRITE for
 * EPOLLOUT; EPOLLERR and EPOLLHUP are always reported, as EVENT_ERR. */
#include "base/event.h"

#include "base/log.h"
#include "base/mm.h"
#include "base/util.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct event_base {
    int epfd;
    int nevent;
    event_cb_fn cb;
    struct epoll_event *events; /* nevent of them */
};

struct event_base *
event_base_create(int nevent, event_cb_fn cb)
{
    ASSERT(nevent > 0 && cb != NULL);
    struct event_base *evb = mm_zalloc(sizeof(*evb));
    if (evb == NULL) {
        log_error("event base: out of memory");
        return NULL;
    }
    evb->events = mm_zalloc(sizeof(struct epoll_event) * (size_t)nevent);
    if (evb->events == NULL) {
        log_error("event base: out of memory for %d events", nevent);
        mm_free(&evb);
        return NULL;
    }
    evb->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (evb->epfd < 0) {
        log_error("epoll_create1: %s", strerror(errno));
        mm_free(&evb->events);
        mm_free(&evb);
        return NULL;
    }
    evb->nevent = nevent;
    evb->cb = cb;
    return evb;
}

void
event_base_destroy(struct event_base **evb)
{
    if (evb == NULL || *evb == NULL) {
        return;
    }
    close((*evb)->epfd);
    mm_free(&(*evb)->events);
    mm_free(evb);
}

static uint32_t
epoll_interest(uint32_t interest)
{
    uint32_t events = 0;
    if (interest & EVENT_READ) {
        events |= EPOLLIN | EPOLLRDHUP;
    }
    if (interest & EVENT_WRITE) {
        events |= EPOLLOUT;
    }
    return events;
}

static rstatus_i
control(struct event_base *evb, int op, int fd, uint32_t interest, void *data)
{
    struct epoll_event ev = {.events = epoll_interest(interest)};
    ev.data.ptr = data;
    if (epoll_ctl(evb->epfd, op, fd, &ev) < 0) {
        const char *what = op == EPOLL_CTL_ADD   ? "add"
                           : op == EPOLL_CTL_MOD ? "modify"
                                                 : "delete";
        log_warn("epoll %s fd %d: %s", what, fd, strerror(errno));
        return STATUS_ERROR;
    }
    return STATUS_OK;
}

rstatus_i
event_register(struct event_base *evb, int fd, uint32_t interest, void *data)
{
    return control(evb, EPOLL_CTL_ADD, fd, interest, data);
}

rstatus_i
event_modify(struct event_base *evb, int fd, uint32_t interest, void *data)
{
    return control(evb, EPOLL_CTL_MOD, fd, interest, data);
}

rstatus_i
event_deregister(struct event_base *evb, int fd)
{
    return control(evb, EPOLL_CTL_DEL, fd, 0, NULL);
}

static uint32_t
ready_bits(uint32_t events)
{
    uint32_t ready = 0;
    if (events & (EPOLLERR | EPOLLHUP)) {
        ready |= EVENT_ERR;
    }
    if (events & (EPOLLIN | EPOLLRDHUP)) {
        ready |= EVENT_READ;
    }
    if (events & EPOLLOUT) {
        ready |= EVENT_WRITE;
    }
    return ready;
}

int
event_wait(struct event_base *evb, int timeout_ms)
{
    int n = epoll_wait(evb->epfd, evb->events, evb->nevent, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) {
            return 0;
        }
        log_error("epoll_wait fd %d: %s", evb->epfd, strerror(errno));
        return STATUS_ERROR;
    }
    for (int i = 0; i < n; i++) {
        struct epoll_event *ev = &evb->events[i];
        evb->cb(ev->data.ptr, ready_bits(ev->events));
    }
    return n;
}

int
event_ready_now(struct event_base *evb, void **arg, uint32_t *events, int cap)
{
    struct epoll_event ev[64];
    cap = cap < 64 ? cap : 64;
    int n = epoll_wait(evb->epfd, ev, cap, 0);
    if (n < 0) {
        return errno == EINTR ? 0 : STATUS_ERROR;
    }
    for (int i = 0; i < n; i++) {
        arg[i] = ev[i].data.ptr;
        events[i] = ready_bits(ev[i].events);
    }
    return n;
}
