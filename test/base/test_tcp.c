/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for tcp on loopback only: address parsing and its messages, listen,
 * accept, recv/send/writev, partial sends and EAGAIN, EOF, reset without
 * SIGPIPE, reject, and "address already in use". */
#include "base/tcp.h"

#include "base/log.h"

#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
setup_quiet(void **state)
{
    (void)state;
    log_set_level(LOG_CRIT); /* expected failures log */
    return 0;
}

static void
assert_parses(const char *s, int family, const char *formatted)
{
    struct tcp_addr addr;
    char err[256] = "";
    char buf[64];
    assert_int_equal(tcp_parse_addr(s, &addr, err, sizeof(err)), STATUS_OK);
    assert_int_equal(addr.ss.ss_family, family);
    assert_string_equal(tcp_addr_str(&addr, buf, sizeof(buf)), formatted);
}

static void
test_tcp_parse_good(void **state)
{
    (void)state;
    assert_parses("127.0.0.1:11211", AF_INET, "127.0.0.1:11211");
    assert_parses("0.0.0.0:0", AF_INET, "0.0.0.0:0");
    assert_parses("[::1]:6379", AF_INET6, "[::1]:6379");
    assert_parses(
            "[::ffff:127.0.0.1]:65535", AF_INET6, "[::ffff:127.0.0.1]:65535");
    assert_parses(":11211", AF_INET6, "[::]:11211"); /* wildcard */
    assert_parses("[::]:80", AF_INET6, "[::]:80");

    /* a name: whichever family the resolver answers first */
    struct tcp_addr addr;
    char err[256];
    char buf[64];
    assert_int_equal(tcp_parse_addr("localhost:9999", &addr, err, sizeof(err)),
            STATUS_OK);
    tcp_addr_str(&addr, buf, sizeof(buf));
    assert_true(strcmp(buf, "127.0.0.1:9999") == 0 ||
                strcmp(buf, "[::1]:9999") == 0);
    /* small buffers truncate but terminate */
    char tiny[6];
    assert_parses("127.0.0.1:1", AF_INET, "127.0.0.1:1");
    assert_int_equal(
            tcp_parse_addr("127.0.0.1:1", &addr, err, sizeof(err)), STATUS_OK);
    assert_string_equal(tcp_addr_str(&addr, tiny, sizeof(tiny)), "127.0");
}

static void
assert_rejects(const char *s, const char *message)
{
    struct tcp_addr addr;
    char err[256] = "";
    assert_int_equal(tcp_parse_addr(s, &addr, err, sizeof(err)), STATUS_EINVAL);
    assert_string_equal(err, message);
}

static void
test_tcp_parse_bad(void **state)
{
    (void)state;
    assert_rejects("", "address: empty");
    assert_rejects("127.0.0.1", "127.0.0.1: missing port (host:port)");
    assert_rejects("127.0.0.1:", "127.0.0.1:: bad port '' (0 to 65535)");
    assert_rejects("127.0.0.1:65536",
            "127.0.0.1:65536: bad port '65536' (0 to 65535)");
    assert_rejects("127.0.0.1:-1", "127.0.0.1:-1: bad port '-1' (0 to 65535)");
    assert_rejects(
            "127.0.0.1:80x", "127.0.0.1:80x: bad port '80x' (0 to 65535)");
    assert_rejects("127.0.0.1:000080",
            "127.0.0.1:000080: bad port '000080' (0 to 65535)");
    assert_rejects(
            "::1:80", "::1:80: IPv6 address needs brackets ([::1]:port)");
    assert_rejects("[::1:80", "[::1:80: expected [IPv6 address]:port");
    assert_rejects("[::1]80", "[::1]80: expected [IPv6 address]:port");
    assert_rejects("[]:80", "[]:80: empty IPv6 address");
    assert_rejects("[127.0.0.1]:80", "[127.0.0.1]:80: bad IPv6 address");
    assert_rejects("[::1]:", "[::1]:: bad port '' (0 to 65535)");

    /* a name that cannot resolve: the resolver's reason, lower case */
    struct tcp_addr addr;
    char err[256] = "";
    assert_int_equal(
            tcp_parse_addr("nosuchhost.invalid:80", &addr, err, sizeof(err)),
            STATUS_EINVAL);
    assert_true(strncmp(err, "nosuchhost.invalid:80: ", 23) == 0);
    assert_true(strlen(err) > 23);

    /* a short err buffer is truncated and terminated; NULL err is allowed */
    char small[8];
    assert_int_equal(tcp_parse_addr("127.0.0.1", &addr, small, sizeof(small)),
            STATUS_EINVAL);
    assert_string_equal(small, "127.0.0");
    assert_int_equal(tcp_parse_addr("x", &addr, NULL, 0), STATUS_EINVAL);
}

/* Listens on loopback port 0 of a family; -1 if the host lacks it. */
static int
listen_on(const char *s)
{
    struct tcp_addr addr;
    char err[256];
    assert_int_equal(tcp_parse_addr(s, &addr, err, sizeof(err)), STATUS_OK);
    return tcp_listen(&addr, 16, err, sizeof(err));
}

/* A blocking client connected to lfd's port on the given loopback. */
static int
connect_to(int lfd, int family)
{
    int port = tcp_local_port(lfd);
    assert_true(port > 0);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof(*sin6);
    }
    int c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
    return c;
}

static void
check_accepted_fd(int fd)
{
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int nodelay = 0;
    socklen_t len = sizeof(nodelay);
    assert_int_equal(
            getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    assert_int_not_equal(nodelay, 0);
}

/* Listen, accept, both directions of data, writev, EOF. */
static void
exchange(const char *listen_addr, int family)
{
    int lfd = listen_on(listen_addr);
    assert_true(lfd >= 0);
    assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(tcp_accept(lfd), STATUS_EAGAIN); /* nobody yet */

    int c = connect_to(lfd, family);
    int s = tcp_accept(lfd);
    check_accepted_fd(s);

    char buf[64];
    assert_int_equal(tcp_recv(s, buf, sizeof(buf)), STATUS_EAGAIN);
    assert_int_equal(send(c, "get k\r\n", 7, 0), 7);
    assert_int_equal(tcp_recv(s, buf, sizeof(buf)), 7);
    assert_memory_equal(buf, "get k\r\n", 7);

    assert_int_equal(tcp_send(s, "VALUE", 5), 5);
    struct iovec iov[3] = {{.iov_base = " k 0 1\r\n", .iov_len = 8},
            {.iov_base = "v", .iov_len = 1},
            {.iov_base = "\r\nEND\r\n", .iov_len = 7}};
    assert_int_equal(tcp_writev(s, iov, 3), 16);
    assert_int_equal(tcp_send(s, "", 0), 0);
    size_t got = 0;
    while (got < 21) {
        ssize_t r = recv(c, buf + got, sizeof(buf) - got, 0);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(got, 21);
    assert_memory_equal(buf, "VALUE k 0 1\r\nv\r\nEND\r\n", 21);

    close(c); /* EOF after the last bytes */
    assert_int_equal(tcp_recv(s, buf, sizeof(buf)), STATUS_EOF);
    tcp_close(s);
    tcp_close(lfd);
}

static void
test_tcp_ipv4_exchange(void **state)
{
    (void)state;
    exchange("127.0.0.1:0", AF_INET);
}

static void
test_tcp_ipv6_exchange(void **state)
{
    (void)state;
    int lfd = listen_on("[::1]:0");
    if (lfd < 0) {
        skip(); /* no IPv6 loopback on this host */
    }
    tcp_close(lfd);
    exchange("[::1]:0", AF_INET6);
}

/* A client that resets; sending to it fails without SIGPIPE (which would
 * kill this test program: it is not ignored). */
static void
test_tcp_reset_no_sigpipe(void **state)
{
    (void)state;
    int lfd = listen_on("127.0.0.1:0");
    assert_true(lfd >= 0);
    int c = connect_to(lfd, AF_INET);
    int s = tcp_accept(lfd);
    check_accepted_fd(s);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(c); /* RST */
    char buf[8];
    assert_int_equal(tcp_recv(s, buf, sizeof(buf)), STATUS_ERROR);
    assert_int_equal(tcp_send(s, "x", 1), STATUS_ERROR);
    struct iovec iov = {.iov_base = "x", .iov_len = 1};
    assert_int_equal(tcp_writev(s, &iov, 1), STATUS_ERROR);

    /* same after an orderly close: send fails once the peer's RST comes */
    c = connect_to(lfd, AF_INET);
    tcp_close(s);
    s = tcp_accept(lfd);
    check_accepted_fd(s);
    close(c);
    ssize_t r = tcp_send(s, "x", 1); /* accepted, answered with RST */
    assert_true(r == 1 || r == STATUS_ERROR);
    for (int i = 0; i < 100 && r != STATUS_ERROR; i++) {
        r = tcp_send(s, "x", 1);
        usleep(1000);
    }
    assert_int_equal(r, STATUS_ERROR);
    tcp_close(s);
    tcp_close(lfd);
}

static void
fill_pattern(char *p, size_t n, size_t first)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (char)((first + i) * 7 % 251);
    }
}

/* Reads everything c has, checking the pattern from *offset on. */
static void
read_back(int c, size_t *offset, size_t until)
{
    static char buf[65536];
    static char want[65536];
    while (*offset < until) {
        ssize_t r = recv(c, buf, sizeof(buf), 0);
        assert_true(r > 0);
        fill_pattern(want, (size_t)r, *offset);
        assert_memory_equal(buf, want, (size_t)r);
        *offset += (size_t)r;
    }
}

#define BIG (2 * 1024 * 1024)

/* Fills a socket with a small send buffer and a reader that does not read:
 * sends get partial, then EAGAIN. The reader's buffer stays larger than the
 * loopback MSS (64 KiB), or it would never reopen its window and draining
 * would wait on zero-window probe timers. */
static void
test_tcp_partial_send_and_eagain(void **state)
{
    (void)state;
    static char data[BIG];
    int lfd = listen_on("127.0.0.1:0");
    assert_true(lfd >= 0);
    int c = connect_to(lfd, AF_INET);
    int rcvbuf = 256 * 1024;
    assert_int_equal(
            setsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    int s = tcp_accept(lfd);
    check_accepted_fd(s);
    int sndbuf = 4096;
    assert_int_equal(
            setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    fill_pattern(data, BIG, 0);

    size_t sent = 0;
    ssize_t r = tcp_send(s, data, BIG);
    assert_true(r > 0 && r < BIG); /* partial */
    sent += (size_t)r;
    while ((r = tcp_send(s, data + sent, BIG - sent)) > 0) {
        sent += (size_t)r;
        assert_true(sent < BIG);
    }
    assert_int_equal(r, STATUS_EAGAIN);
    struct iovec iov[2] = {{.iov_base = data + sent, .iov_len = 10},
            {.iov_base = data + sent + 10, .iov_len = 10}};
    assert_int_equal(tcp_writev(s, iov, 2), STATUS_EAGAIN);

    /* the reader drains; the writer finishes with writev; nothing lost */
    size_t offset = 0;
    while (sent < BIG) {
        read_back(c, &offset, sent);
        size_t half = (BIG - sent) / 2;
        struct iovec rest[2] = {{.iov_base = data + sent, .iov_len = half},
                {.iov_base = data + sent + half, .iov_len = BIG - sent - half}};
        r = tcp_writev(s, rest, 2);
        assert_true(r > 0 || r == STATUS_EAGAIN);
        if (r == STATUS_EAGAIN) { /* unacked bytes fill the send buffer */
            struct pollfd p = {.fd = s, .events = POLLOUT};
            assert_int_equal(poll(&p, 1, 10000), 1);
            continue;
        }
        sent += (size_t)r;
    }
    read_back(c, &offset, BIG);
    assert_int_equal(offset, BIG);
    close(c);
    tcp_close(s);
    tcp_close(lfd);
}

static void
test_tcp_address_in_use(void **state)
{
    (void)state;
    int lfd = listen_on("127.0.0.1:0");
    assert_true(lfd >= 0);
    char s[64];
    char err[256] = "";
    char want[128];
    snprintf(s, sizeof(s), "127.0.0.1:%d", tcp_local_port(lfd));
    struct tcp_addr addr;
    assert_int_equal(tcp_parse_addr(s, &addr, err, sizeof(err)), STATUS_OK);
    assert_int_equal(tcp_listen(&addr, 16, err, sizeof(err)), STATUS_ERROR);
    snprintf(want, sizeof(want), "%s: address already in use", s);
    assert_string_equal(err, want);
    tcp_close(lfd);
}

static void
test_tcp_listen_unassigned(void **state)
{
    (void)state;
    /* TEST-NET-1 is on no interface here: bind must fail, with reason
     * (unless the host allows binding to foreign addresses) */
    FILE *f = fopen("/proc/sys/net/ipv4/ip_nonlocal_bind", "r");
    int nonlocal = f != NULL && fgetc(f) == '1';
    if (f != NULL) {
        fclose(f);
    }
    if (nonlocal) {
        skip();
    }
    struct tcp_addr addr;
    char err[256] = "";
    assert_int_equal(
            tcp_parse_addr("192.0.2.1:0", &addr, err, sizeof(err)), STATUS_OK);
    int fd = tcp_listen(&addr, 16, err, sizeof(err));
    tcp_close(fd);
    assert_int_equal(fd, STATUS_ERROR);
    assert_string_equal(err, "192.0.2.1:0: cannot assign requested address");
}

static void
test_tcp_reject(void **state)
{
    (void)state;
    int lfd = listen_on("127.0.0.1:0");
    assert_true(lfd >= 0);
    assert_int_equal(tcp_reject(lfd), STATUS_EAGAIN);
    int c = connect_to(lfd, AF_INET);
    assert_int_equal(tcp_reject(lfd), STATUS_OK);
    char b;
    ssize_t r = recv(c, &b, 1, 0);
    assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
    assert_int_equal(tcp_accept(lfd), STATUS_EAGAIN);
    close(c);
    tcp_close(lfd);
}

static void
test_tcp_bad_fds(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(tcp_local_port(p[0]), STATUS_ERROR);
    assert_int_equal(tcp_accept(p[0]), STATUS_ERROR);
    close(p[0]);
    close(p[1]);
    tcp_close(-1);
}

static bool
overlap(const char *a, const char *b)
{
    struct tcp_addr x, y;
    char err[256];
    assert_int_equal(tcp_parse_addr(a, &x, err, sizeof(err)), STATUS_OK);
    assert_int_equal(tcp_parse_addr(b, &y, err, sizeof(err)), STATUS_OK);
    assert_true(tcp_addr_overlap(&x, &y) == tcp_addr_overlap(&y, &x));
    return tcp_addr_overlap(&x, &y);
}

/* issue 23: two listeners on one address are found before binding */
static void
test_tcp_addr_overlap(void **state)
{
    (void)state;
    assert_true(overlap("127.0.0.1:7000", "127.0.0.1:7000"));
    assert_false(overlap("127.0.0.1:7000", "127.0.0.2:7000"));
    assert_false(overlap("127.0.0.1:7000", "127.0.0.1:7001"));
    assert_true(overlap("0.0.0.0:7000", "127.0.0.1:7000"));
    assert_true(overlap("[::]:7000", "127.0.0.1:7000"));
    assert_true(overlap("[::]:7000", "[::1]:7000"));
    assert_false(overlap("0.0.0.0:7000", "[::1]:7000"));
    assert_false(overlap("127.0.0.1:0", "127.0.0.1:0"));
    assert_true(overlap("unix:/tmp/a.sock", "unix:/tmp/a.sock"));
    assert_false(overlap("unix:/tmp/a.sock", "unix:/tmp/b.sock"));
    assert_false(overlap("unix:/tmp/a.sock", "127.0.0.1:7000"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tcp_parse_good),
            cmocka_unit_test(test_tcp_parse_bad),
            cmocka_unit_test(test_tcp_ipv4_exchange),
            cmocka_unit_test(test_tcp_ipv6_exchange),
            cmocka_unit_test(test_tcp_reset_no_sigpipe),
            cmocka_unit_test(test_tcp_partial_send_and_eagain),
            cmocka_unit_test(test_tcp_address_in_use),
            cmocka_unit_test(test_tcp_listen_unassigned),
            cmocka_unit_test(test_tcp_reject),
            cmocka_unit_test(test_tcp_bad_fds),
            cmocka_unit_test(test_tcp_addr_overlap),
    };
    return cmocka_run_group_tests(tests, setup_quiet, NULL);
}
