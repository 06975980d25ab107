/* SPDX-License-Identifier: Apache-2.0 */
/* Cross-thread wake-up: an eventfd counter, or a non-blocking pipe with one
 * byte per notification where eventfd is missing. */
#include "base/notifier.h"

#include "base/log.h"
#include "base/mm.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct notifier {
    int rfd; /* read end; the eventfd itself for an eventfd */
    int wfd; /* write end; == rfd for an eventfd */
};

static int
is_pipe(const struct notifier *n)
{
    return n->rfd != n->wfd;
}

struct notifier *
notifier_create(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        log_info("eventfd: %s; notifying through a pipe", strerror(errno));
        return notifier_create_pipe();
    }
    struct notifier *n = mm_alloc(sizeof(*n));
    if (n == NULL) {
        log_error("notifier: out of memory");
        close(fd);
        return NULL;
    }
    n->rfd = n->wfd = fd;
    return n;
}

struct notifier *
notifier_create_pipe(void)
{
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        log_error("notifier pipe: %s", strerror(errno));
        return NULL;
    }
    struct notifier *n = mm_alloc(sizeof(*n));
    if (n == NULL) {
        log_error("notifier: out of memory");
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    n->rfd = fds[0];
    n->wfd = fds[1];
    return n;
}

void
notifier_destroy(struct notifier **n)
{
    if (n == NULL || *n == NULL) {
        return;
    }
    if (is_pipe(*n)) {
        close((*n)->wfd);
    }
    close((*n)->rfd);
    mm_free(n);
}

int
notifier_fd(const struct notifier *n)
{
    return n->rfd;
}

rstatus_i
notifier_notify(struct notifier *n)
{
    uint64_t one = 1;
    ssize_t r;
    if (is_pipe(n)) {
        r = write(n->wfd, "n", 1);
    } else {
        r = write(n->wfd, &one, sizeof(one));
    }
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            return STATUS_EAGAIN; /* full: the reader is due to wake */
        }
        log_error("notify fd %d: %s", n->wfd, strerror(errno));
        return STATUS_ERROR;
    }
    return STATUS_OK;
}

static uint64_t
drain_pipe(struct notifier *n)
{
    char sink[512];
    uint64_t count = 0;
    for (;;) {
        ssize_t r = read(n->rfd, sink, sizeof(sink));
        if (r > 0) {
            count += (uint64_t)r;
            if ((size_t)r < sizeof(sink)) {
                return count; /* short read: the pipe is empty */
            }
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && errno != EAGAIN) {
            log_error("drain pipe fd %d: %s", n->rfd, strerror(errno));
        }
        return count;
    }
}

uint64_t
notifier_drain(struct notifier *n)
{
    if (is_pipe(n)) {
        return drain_pipe(n);
    }
    uint64_t count;
    ssize_t r;
    do {
        r = read(n->rfd, &count, sizeof(count));
    } while (r < 0 && errno == EINTR);
    if (r != (ssize_t)sizeof(count)) {
        if (r < 0 && errno != EAGAIN) {
            log_error("drain eventfd %d: %s", n->rfd, strerror(errno));
        }
        return 0;
    }
    return count;
}
