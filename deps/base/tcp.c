/* SPDX-License-Identifier: Apache-2.0 */
/* TCP sockets. errno is read here, right after each call, and turned into a
 * status; callers never see errno. Failures that one client can cause are
 * logged at debug only (callers count them); setup failures come back as a
 * message in the caller's buffer, naming the address. */
#include "base/tcp.h"

#include "base/log.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define TCP_ADDR_STRLEN (INET6_ADDRSTRLEN + 8) /* "[" v6 "]:" port NUL */

/* Writes "<what>: <reason>" into err, reason starting in lower case as
 * error messages here do ("address already in use"). */
static void set_err(char *err, size_t errlen, const char *what, const char *fmt,
        ...) __attribute__((format(printf, 4, 5)));

static void
set_err(char *err, size_t errlen, const char *what, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    int n = snprintf(err, errlen, "%s: ", what);
    if (n < 0 || (size_t)n >= errlen) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    /* "Address already in use" -> "address ...", but leave "IPv6" alone */
    if (isupper((unsigned char)err[n]) && islower((unsigned char)err[n + 1])) {
        err[n] = (char)tolower((unsigned char)err[n]);
    }
}

/* "0".."65535", digits only. */
static int
parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    if (*s == '\0' || strlen(s) > 5) {
        return -1;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p)) {
            return -1;
        }
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535) {
        return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

static void
set_port(struct tcp_addr *addr, uint16_t port)
{
    if (addr->ss.ss_family == AF_INET) {
        ((struct sockaddr_in *)&addr->ss)->sin_port = htons(port);
    } else {
        ((struct sockaddr_in6 *)&addr->ss)->sin6_port = htons(port);
    }
}

static void
set_wildcard(struct tcp_addr *addr, uint16_t port)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr->ss;
    memset(addr, 0, sizeof(*addr));
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_any;
    sin6->sin6_port = htons(port);
    addr->len = sizeof(*sin6);
}

/* Resolves host (numeric only and IPv6 only when it was in brackets). */
static rstatus_i
resolve(const char *s, const char *host, int bracketed, struct tcp_addr *addr,
        char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
    hints.ai_flags = bracketed ? AI_NUMERICHOST : 0;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        const char *why = rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);
        set_err(err, errlen, s, "%s", bracketed ? "bad IPv6 address" : why);
        return STATUS_EINVAL;
    }
    memset(addr, 0, sizeof(*addr));
    memcpy(&addr->ss, res->ai_addr, res->ai_addrlen);
    addr->len = res->ai_addrlen;
    freeaddrinfo(res);
    return STATUS_OK;
}

/* Splits s into host and port text; host is "" for ":port". */
static rstatus_i
split_addr(const char *s, char *host, size_t hostcap, const char **port,
        int *bracketed, char *err, size_t errlen)
{
    const char *hbegin = s, *hend;
    *bracketed = s[0] == '[';
    if (*bracketed) {
        hbegin = s + 1;
        hend = strchr(hbegin, ']');
        if (hend == NULL || hend[1] != ':') {
            set_err(err, errlen, s, "expected [IPv6 address]:port");
            return STATUS_EINVAL;
        }
        *port = hend + 2;
    } else {
        hend = strrchr(s, ':');
        if (hend == NULL) {
            set_err(err, errlen, s, "missing port (host:port)");
            return STATUS_EINVAL;
        }
        *port = hend + 1;
    }
    size_t hlen = (size_t)(hend - hbegin);
    if (hlen >= hostcap) {
        set_err(err, errlen, s, "host name too long");
        return STATUS_EINVAL;
    }
    memcpy(host, hbegin, hlen);
    host[hlen] = '\0';
    if (!*bracketed && strchr(host, ':') != NULL) {
        set_err(err, errlen, s, "IPv6 address needs brackets ([::1]:port)");
        return STATUS_EINVAL;
    }
    return STATUS_OK;
}

int
tcp_addr_is_unix(const struct tcp_addr *addr)
{
    return addr->ss.ss_family == AF_UNIX;
}

int
tcp_addr_is_local(const struct tcp_addr *addr)
{
    if (addr->ss.ss_family == AF_UNIX) {
        return 1;
    }
    if (addr->ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)&addr->ss;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;
        const uint8_t *b = sin6->sin6_addr.s6_addr;
        return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && b[12] == 127);
    }
    return 0;
}

/* The port (network order), whether the host is a wildcard, and the host's
 * bytes: 4 for IPv4 and IPv4-mapped IPv6, else 16. */
static uint16_t
inet_parts(
        const struct tcp_addr *addr, bool *any, const void **host, size_t *hlen)
{
    if (addr->ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)&addr->ss;
        *any = sin->sin_addr.s_addr == htonl(INADDR_ANY);
        *host = &sin->sin_addr;
        *hlen = sizeof(sin->sin_addr);
        return sin->sin_port;
    }
    const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;
    *any = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
    *host = &sin6->sin6_addr;
    *hlen = sizeof(sin6->sin6_addr);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
        *host = sin6->sin6_addr.s6_addr + 12;
        *hlen = 4;
    }
    return sin6->sin6_port;
}

bool
tcp_addr_overlap(const struct tcp_addr *a, const struct tcp_addr *b)
{
    bool ua = a->ss.ss_family == AF_UNIX, ub = b->ss.ss_family == AF_UNIX;
    if (ua || ub) {
        return ua && ub && strcmp(tcp_addr_path(a), tcp_addr_path(b)) == 0;
    }
    bool any_a, any_b;
    const void *ha, *hb;
    size_t la, lb;
    uint16_t pa = inet_parts(a, &any_a, &ha, &la);
    uint16_t pb = inet_parts(b, &any_b, &hb, &lb);
    if (pa != pb || pa == 0) {
        return false; /* port 0: the kernel picks a free port for each */
    }
    if (any_a || any_b) {
        /* an IPv4 wildcard does not cover IPv6 addresses */
        bool v6 = a->ss.ss_family == AF_INET6 || b->ss.ss_family == AF_INET6;
        bool v4_any_only =
                (any_a && a->ss.ss_family == AF_INET && !any_b && lb == 16) ||
                (any_b && b->ss.ss_family == AF_INET && !any_a && la == 16);
        return !(v6 && v4_any_only);
    }
    return la == lb && memcmp(ha, hb, la) == 0;
}

const char *
tcp_addr_path(const struct tcp_addr *addr)
{
    if (!tcp_addr_is_unix(addr)) {
        return "";
    }
    return ((const struct sockaddr_un *)&addr->ss)->sun_path;
}

static rstatus_i
parse_unix(const char *s, struct tcp_addr *addr, char *err, size_t errlen)
{
    const char *path = s + 5;
    struct sockaddr_un *sun = (struct sockaddr_un *)&addr->ss;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(sun->sun_path)) {
        set_err(err, errlen, s, "a socket path of 1 to %zu bytes",
                sizeof(sun->sun_path) - 1);
        return STATUS_EINVAL;
    }
    memset(addr, 0, sizeof(*addr));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len + 1);
    addr->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    return STATUS_OK;
}

rstatus_i
tcp_parse_addr(const char *s, struct tcp_addr *addr, char *err, size_t errlen)
{
    char host[NI_MAXHOST];
    const char *port_text;
    int bracketed;
    uint16_t port;
    if (s == NULL || *s == '\0') {
        set_err(err, errlen, "address", "empty");
        return STATUS_EINVAL;
    }
    if (strncmp(s, "unix:", 5) == 0) {
        return parse_unix(s, addr, err, errlen);
    }
    rstatus_i status = split_addr(
            s, host, sizeof(host), &port_text, &bracketed, err, errlen);
    if (status != STATUS_OK) {
        return status;
    }
    if (parse_port(port_text, &port) != 0) {
        set_err(err, errlen, s, "bad port '%s' (0 to 65535)", port_text);
        return STATUS_EINVAL;
    }
    if (host[0] == '\0') {
        if (bracketed) {
            set_err(err, errlen, s, "empty IPv6 address");
            return STATUS_EINVAL;
        }
        set_wildcard(addr, port);
        return STATUS_OK;
    }
    status = resolve(s, host, bracketed, addr, err, errlen);
    if (status == STATUS_OK) {
        set_port(addr, port);
    }
    return status;
}

const char *
tcp_addr_str(const struct tcp_addr *addr, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN];
    if (cap == 0) {
        return buf;
    }
    if (addr->ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)&addr->ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(buf, cap, "%s:%u", host, ntohs(sin->sin_port));
    } else if (addr->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(buf, cap, "[%s]:%u", host, ntohs(sin6->sin6_port));
    } else if (addr->ss.ss_family == AF_UNIX) {
        snprintf(buf, cap, "unix:%s", tcp_addr_path(addr));
    } else {
        snprintf(buf, cap, "(family %d)", addr->ss.ss_family);
    }
    return buf;
}

static int
is_v6_wildcard(const struct tcp_addr *addr)
{
    const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;
    return addr->ss.ss_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/* The IPv4 wildcard on the same port, for hosts without IPv6. */
static void
v4_wildcard(const struct tcp_addr *v6, struct tcp_addr *v4)
{
    const struct sockaddr_in6 *sin6 = (const void *)&v6->ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&v4->ss;
    memset(v4, 0, sizeof(*v4));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
    sin->sin_port = sin6->sin6_port;
    v4->len = sizeof(*sin);
}

static int
open_socket(const struct tcp_addr *addr)
{
    return socket(
            addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* Options and bind, listen; on failure the step that failed and errno. */
static const char *
bind_listen(int fd, const struct tcp_addr *addr, int backlog)
{
    int one = 1, zero = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
        return "SO_REUSEADDR: ";
    }
    if (is_v6_wildcard(addr) && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
                                        sizeof(zero)) < 0) {
        return "IPV6_V6ONLY: ";
    }
    struct stat st;
    if (tcp_addr_is_unix(addr) && lstat(tcp_addr_path(addr), &st) == 0 &&
            S_ISSOCK(st.st_mode)) {
        unlink(tcp_addr_path(addr)); /* a stale socket of an earlier run */
    }
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
        return ""; /* the usual failure: the message needs no step */
    }
    if (tcp_addr_is_unix(addr) &&
            chmod(tcp_addr_path(addr), addr->mode != 0 ? addr->mode : 0700) <
                    0) {
        return "chmod: ";
    }
    if (listen(fd, backlog) < 0) {
        return "listen: ";
    }
    return NULL;
}

int
tcp_listen(const struct tcp_addr *addr, int backlog, char *err, size_t errlen)
{
    char name[TCP_ADDR_STRLEN];
    struct tcp_addr v4;
    tcp_addr_str(addr, name, sizeof(name));
    int fd = open_socket(addr);
    if (fd < 0 && errno == EAFNOSUPPORT && is_v6_wildcard(addr)) {
        log_info("%s: no IPv6 here, listening on IPv4 only", name);
        v4_wildcard(addr, &v4);
        addr = &v4;
        fd = open_socket(addr);
    }
    if (fd < 0) {
        set_err(err, errlen, name, "socket: %s", strerror(errno));
        return STATUS_ERROR;
    }
    const char *step = bind_listen(fd, addr, backlog);
    if (step != NULL) {
        set_err(err, errlen, name, "%s%s", step, strerror(errno));
        close(fd);
        return STATUS_ERROR;
    }
    return fd;
}

int
tcp_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        log_error("getsockname fd %d: %s", fd, strerror(errno));
        return STATUS_ERROR;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return STATUS_ERROR;
}

static int
accept_error(int lfd, int err)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
        return STATUS_EAGAIN;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        log_debug("accept fd %d: %s", lfd, strerror(err));
        return STATUS_ENOMEM;
    case EBADF:
    case EINVAL:
    case ENOTSOCK:
    case EOPNOTSUPP:
    case EFAULT:
        log_error("accept fd %d: %s", lfd, strerror(err)); /* our bug */
        return STATUS_ERROR;
    default: /* ECONNABORTED, EPROTO, network errors: this one connection */
        log_debug("accept fd %d: %s", lfd, strerror(err));
        return STATUS_ERROR;
    }
}

int
tcp_accept(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        return accept_error(lfd, errno);
    }
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 &&
            errno != EOPNOTSUPP) { /* Unix sockets have no Nagle */
        /* still a working connection, only slower for small writes */
        log_debug("TCP_NODELAY fd %d: %s", fd, strerror(errno));
    }
    return fd;
}

rstatus_i
tcp_reject(int lfd)
{
    int fd = tcp_accept(lfd);
    if (fd < 0) {
        return fd;
    }
    close(fd);
    return STATUS_OK;
}

/* errno after a failed recv/send/sendmsg -> status. */
static ssize_t
io_error(int fd, const char *what, int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
        return STATUS_EAGAIN;
    }
    log_debug("%s fd %d: %s", what, fd, strerror(err));
    return STATUS_ERROR;
}

ssize_t
tcp_recv(int fd, void *buf, size_t n)
{
    ASSERT(n > 0); /* recv of 0 bytes returns 0, which means EOF here */
    ssize_t r = recv(fd, buf, n, 0);
    if (r > 0) {
        return r;
    }
    if (r == 0) {
        return STATUS_EOF;
    }
    return io_error(fd, "recv", errno);
}

ssize_t
tcp_send(int fd, const void *buf, size_t n)
{
    ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0) {
        return r;
    }
    return io_error(fd, "send", errno);
}

ssize_t
tcp_writev(int fd, const struct iovec *iov, int iovcnt)
{
    ASSERT(iovcnt >= 0 && iovcnt <= IOV_MAX);
    struct msghdr msg = {
            .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (r >= 0) {
        return r;
    }
    return io_error(fd, "sendmsg", errno);
}

void
tcp_close(int fd)
{
    if (fd < 0) {
        return;
    }
    if (close(fd) < 0) {
        log_debug("close fd %d: %s", fd, strerror(errno)); /* fd is gone */
    }
}
