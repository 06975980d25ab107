/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the TLS transport's server side, through the real
 * transport (core/tls.c) over in-memory BIOs instead of a socket.
 *
 * The first byte picks a mode:
 *  - even: the rest is what a client sends before any handshake (a
 *    ClientHello, garbage, plain text); the handshake is driven until it
 *    fails, completes, or wants bytes that will not come;
 *  - odd: a real client completes a handshake first, then the rest is
 *    injected raw into the connection, as records from the network, and
 *    read through the transport (record layer, alerts, key updates,
 *    renegotiation attempts).
 * Nothing may crash or leak (ASan), whatever the bytes. */
#include "fuzz.h"
#include "tls_cert.h"

#include "base/event.h"
#include "core/conn.h"
#include "core/tls.h"
#include "core/transport.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 16

static SSL_CTX *client_ctx;

static void
setup_once(void)
{
    static int done;
    if (done) {
        return;
    }
    done = 1;
    struct test_cert tc;
    if (test_cert_make(&tc, "localhost", 1) != 0) {
        abort();
    }
    tls_options_st o = {TLS_OPTION(INIT_OPTION)};
    o.tls_cert_file.val.OPTION_STR = tc.cert;
    o.tls_key_file.val.OPTION_STR = tc.key;
    char err[512];
    if (tls_setup(&o, NULL, err, sizeof(err)) != STATUS_OK) {
        abort();
    }
    test_cert_remove(&tc); /* loaded: the files are no longer needed */
    client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
}

/* Drives the server's handshake; a client SSL (or NULL) takes turns. */
static rstatus_i
handshake(struct conn *c, SSL *client)
{
    rstatus_i st = STATUS_EAGAIN;
    for (int i = 0; i < STEPS && st == STATUS_EAGAIN; i++) {
        if (client != NULL) {
            SSL_do_handshake(client);
        }
        st = c->tp->handshake(c);
    }
    return st;
}

static void
read_all(struct conn *c)
{
    char buf[512];
    for (int i = 0; i < STEPS; i++) {
        ssize_t n = c->tp->recv(c, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        if (c->tp->send(c, buf, (size_t)n) < 0) {
            break;
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    if (size == 0) {
        return 0;
    }
    struct conn c;
    conn_reset(&c);
    BIO *sbio = NULL, *cbio = NULL;
    if (BIO_new_bio_pair(&sbio, 1 << 17, &cbio, 1 << 17) != 1) {
        abort();
    }
    if (tls_open_bio(&c, TLS_LISTENER_RESP, sbio, sbio) != STATUS_OK) {
        abort();
    }
    SSL *client = NULL;
    if (data[0] & 1) {
        client = SSL_new(client_ctx);
        SSL_set_bio(client, cbio, cbio);
        SSL_set_connect_state(client);
        if (handshake(&c, client) == STATUS_OK) {
            c.flags &= ~CONN_HANDSHAKE;
            SSL_write(client, "get a\r\n", 7);
            read_all(&c);
            BIO_write(cbio, data + 1, (int)(size - 1) & 0xffff);
            read_all(&c);
        }
    } else {
        BIO_write(cbio, data + 1, (int)(size - 1) & 0xffff);
        if (handshake(&c, NULL) == STATUS_OK) {
            read_all(&c);
        }
        BIO_free(cbio);
    }
    transport_release(&c);
    SSL_free(client); /* frees cbio in the odd mode */
    return 0;
}
