/* SPDX-License-Identifier: Apache-2.0 */
/* TCP sockets: listen, accept, recv, send, writev, with errno translated
 * once here. Addresses are "host:port", "[v6]:port" or ":port". */
#pragma once

#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct tcp_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    unsigned mode; /* unix sockets: file mode at listen (0: 0700) */
};

/* Parses "127.0.0.1:11211", "[::1]:6379", "localhost:9999", ":11211"
 * (every address; IPv6 wildcard, dual stack, IPv4 only where the host has
 * no IPv6). Resolves names, taking the resolver's first answer; may block.
 * On failure STATUS_EINVAL and a reason in err ("foo: missing port
 * (host:port)"). */
rstatus_i tcp_parse_addr(
        const char *s, struct tcp_addr *addr, char *err, size_t errlen);
/* Formats an address as "127.0.0.1:11211" / "[::1]:6379". */
const char *tcp_addr_str(const struct tcp_addr *addr, char *buf, size_t cap);

/* True for a Unix-domain address. */
int tcp_addr_is_unix(const struct tcp_addr *addr);
/* True for 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 and Unix sockets: the
 * addresses only this machine can reach. */
int tcp_addr_is_local(const struct tcp_addr *addr);
/* Whether listening on a and on b would collide: the same Unix path, or
 * the same TCP port (not 0) where the hosts are equal or either is a
 * wildcard (an IPv6 wildcard covers IPv4 too, dual stack). */
bool tcp_addr_overlap(const struct tcp_addr *a, const struct tcp_addr *b);
/* The socket file of a Unix-domain address ("" for others). */
const char *tcp_addr_path(const struct tcp_addr *addr);

/* socket, SO_REUSEADDR, bind, listen(backlog), O_NONBLOCK, CLOEXEC. A Unix
 * socket replaces a stale socket file at its path and gets addr->mode.
 * Returns
 * the fd, or a negative status with the reason in err, not logged
 * ("127.0.0.1:11211: address already in use"). */
int tcp_listen(
        const struct tcp_addr *addr, int backlog, char *err, size_t errlen);
/* Port a listening fd is bound to (useful after binding port 0). */
int tcp_local_port(int fd);

/* accept4(NONBLOCK|CLOEXEC) and TCP_NODELAY. Returns the fd, STATUS_EAGAIN
 * when no connection is pending, STATUS_ENOMEM on EMFILE/ENFILE/ENOBUFS/
 * ENOMEM (out of descriptors or memory), STATUS_ERROR otherwise (e.g. the
 * peer reset before accept: counted by callers, not fatal). On any negative
 * status an accept loop should stop until the next read event (level-
 * triggered, so a pending connection wakes it again) instead of spinning. */
int tcp_accept(int lfd);
/* Accepts one pending connection and closes it at once; for refusing when
 * over a limit. */
rstatus_i tcp_reject(int lfd);

/* n > 0. >0 bytes read, STATUS_EAGAIN, STATUS_EOF (peer closed) or
 * STATUS_ERROR (ECONNRESET...). */
ssize_t tcp_recv(int fd, void *buf, size_t n);
/* >=0 bytes sent, STATUS_EAGAIN or STATUS_ERROR (EPIPE, ECONNRESET...).
 * MSG_NOSIGNAL: never raises SIGPIPE. */
ssize_t tcp_send(int fd, const void *buf, size_t n);
/* As tcp_send, gathering iovcnt (<= IOV_MAX) buffers; sendmsg, so it is
 * MSG_NOSIGNAL too. May send part of the data. */
ssize_t tcp_writev(int fd, const struct iovec *iov, int iovcnt);
void tcp_close(int fd); /* NULL-safe for fd < 0 */
