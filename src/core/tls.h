/* SPDX-License-Identifier: Apache-2.0 */
/* TLS with OpenSSL 3: the server context every TLS listener shares, its
 * options and counters, certificate reload, and the TLS transport
 * (core/transport.h) that workers and the admin thread drive.
 *
 * One context serves every TLS listener. A reload builds a new context
 * from the files and swaps it in: connections accepted afterwards get the
 * new certificate, connections already open keep the context (and so the
 * certificate) they were accepted with, since each SSL holds a reference
 * to its context. A reload that fails keeps the old context.
 *
 * Each TLS listener (memcache, resp, admin) has its own client-certificate
 * policy (<listener>.tls_auth_clients, tls.auth_clients when empty), set
 * on each SSL as it is made, with a session id context per policy so a
 * session made where no certificate was asked for never resumes where one
 * is required. */
#pragma once

#include "base/metric.h"
#include "base/option.h"
#include "base/status.h"
#include "core/transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
/*          name                  type          default               description */
#define TLS_OPTION(ACTION)                                                     \
    ACTION( tls_cert_file,        OPTION_STR,   "",                   "server certificate chain, PEM (Redis tls-cert-file, memcached ssl_chain_cert)") \
    ACTION( tls_key_file,         OPTION_STR,   "",                   "private key of the certificate, PEM (tls-key-file, ssl_key)") \
    ACTION( tls_ca_cert_file,     OPTION_STR,   "",                   "CA certificates that sign client certificates, PEM (tls-ca-cert-file, ssl_ca_cert)") \
    ACTION( tls_auth_clients,     OPTION_STR,   "no",                 "client certificates: no, optional or yes (required) (tls-auth-clients, ssl_verify_mode)") \
    ACTION( tls_protocols,        OPTION_STR,   "TLSv1.2 TLSv1.3",    "protocol versions accepted, from TLSv1.2 TLSv1.3 (tls-protocols)") \
    ACTION( tls_ciphers,          OPTION_STR,   "",                   "TLS 1.2 cipher list, OpenSSL syntax (empty: OpenSSL's default) (tls-ciphers)") \
    ACTION( tls_ciphersuites,     OPTION_STR,   "",                   "TLS 1.3 cipher suites (empty: OpenSSL's default) (tls-ciphersuites)") \
    ACTION( tls_session_cache,    OPTION_UINT,  20480,                "sessions kept for resumption (0: no session cache) (tls-session-cache-size)") \
    ACTION( tls_session_timeout,  OPTION_DURATION, 300000,            "how long a cached session or ticket may be resumed (tls-session-cache-timeout)") \
    ACTION( tls_session_tickets,  OPTION_BOOL,  true,                 "resume through session tickets (RFC 5077 / TLS 1.3 tickets)") \
    ACTION( tls_ktls,             OPTION_BOOL,  false,                "ask OpenSSL for kernel TLS (SSL_OP_ENABLE_KTLS) where both support it") \
    ACTION( tls_release_buffers,  OPTION_BOOL,  false,                "free a connection's TLS buffers whenever they empty: less memory per idle connection, about 1 us more CPU per request") \
    ACTION( memcache_tls_auth_clients, OPTION_STR, "",                "client certificates on memcache.tls_listen: no, optional, yes, or empty for tls.auth_clients (memcached ssl_verify_mode)") \
    ACTION( resp_tls_auth_clients, OPTION_STR,  "",                   "client certificates on resp.tls_listen: no, optional, yes, or empty for tls.auth_clients (Redis tls-auth-clients)") \
    ACTION( admin_tls_auth_clients, OPTION_STR, "",                   "client certificates on admin.tls_listen: no, optional, yes, or empty for tls.auth_clients")

/*          name                     type            description */
#define TLS_METRIC(ACTION)                                                     \
    ACTION( tls_handshake,           METRIC_COUNTER, "# TLS handshakes completed"               ) \
    ACTION( tls_handshake_ex,        METRIC_COUNTER, "# TLS handshakes failed (memcached ssl_handshake_errors)") \
    ACTION( tls_handshake_eof,       METRIC_COUNTER, "# of those failed: the client closed or sent nothing TLS") \
    ACTION( tls_handshake_verify_ex, METRIC_COUNTER, "# of those failed: client certificate refused") \
    ACTION( tls_session_new,         METRIC_COUNTER, "# full handshakes: new sessions (ssl_new_sessions)") \
    ACTION( tls_session_reused,      METRIC_COUNTER, "# handshakes that resumed a session"      ) \
    ACTION( tls_ktls_send,           METRIC_COUNTER, "# TLS connections sending through kernel TLS") \
    ACTION( tls_reload,              METRIC_COUNTER, "# certificate reloads that took effect"   ) \
    ACTION( tls_reload_ex,           METRIC_COUNTER, "# certificate reloads refused (old certificate kept)") \
    ACTION( tls_open_ex,             METRIC_COUNTER, "# TLS connections closed: no memory for TLS state")
/* clang-format on */

typedef struct {
    TLS_OPTION(DECLARE_OPTION)
} tls_options_st;

typedef struct {
    TLS_METRIC(DECLARE_METRIC)
} tls_metrics_st;

/* Loads the certificate and key and builds the context. Call only when a
 * TLS listener is configured. STATUS_EINVAL with a reason in err naming
 * the option ("tls.cert_file: /x.pem: No such file or directory"). */
rstatus_i tls_setup(const tls_options_st *options, tls_metrics_st *metrics,
        char *err, size_t errlen);
void tls_teardown(void); /* after every connection is released */
bool tls_enabled(void);  /* a context is loaded */

/* Rebuilds the context from the configured files; any thread (SIGHUP on
 * the admin thread, refresh_certs and CONFIG SET on workers). On failure
 * keeps the old context and puts the reason in err. */
rstatus_i tls_reload(char *err, size_t errlen);

/* What a run-time change names: a file, or a setting a reload applies. */
typedef enum {
    TLS_FILE_CERT,
    TLS_FILE_KEY,
    TLS_FILE_CA,
    TLS_SET_PROTOCOLS,    /* "TLSv1.2 TLSv1.3", as tls.protocols */
    TLS_SET_CIPHERS,      /* TLS 1.2 cipher list */
    TLS_SET_CIPHERSUITES, /* TLS 1.3 cipher suites */
    TLS_NSET,
} tls_file_e;
/* Sets any of them (v[which], NULL: keep) and reloads once: a bad value
 * (an unknown protocol, a cipher list OpenSSL refuses, a file that does
 * not load) keeps the old context and every old value. Any thread
 * (CONFIG SET tls-cert-file, tls-protocols, tls-ciphers ...). */
rstatus_i tls_set_conf(const char *const v[TLS_NSET], char *err, size_t errlen);
/* Sets the files' paths (NULL: keep that one) and reloads once, so a new
 * certificate and its new key change together; on failure the old paths
 * and context stay. Any thread (CONFIG SET tls-cert-file ...). */
rstatus_i tls_set_files(const char *cert, const char *key, const char *ca,
        char *err, size_t errlen);
/* Copies the current path (or setting) into out; any thread. */
void tls_get_file(tls_file_e which, char *out, size_t cap);

/* The TLS listeners, each with its own client-certificate policy. */
typedef enum {
    TLS_LISTENER_MEMCACHE,
    TLS_LISTENER_RESP,
    TLS_LISTENER_ADMIN,
    TLS_LISTENER_COUNT,
} tls_listener_e;

/* For memcached's stats settings: ssl_verify_mode of listener l as
 * memcached 1.6.18 prints it, the OpenSSL verify flags (0 none, 1 optional,
 * 3 required; memcached's -o ssl_verify_mode=2 prints 3), and
 * ssl_min_version (2 TLSv1.2, 3 TLSv1.3). Any thread. */
unsigned tls_verify_mode(tls_listener_e l);
unsigned tls_min_version(void);
/* Listener l's policy as Redis's tls-auth-clients prints it: "no",
 * "optional" or "yes"; "no" without TLS. Any thread. */
const char *tls_auth_clients(tls_listener_e l);
/* Sets listener l's policy at run time ("no", "optional" or "yes", as
 * Redis's CONFIG SET tls-auth-clients takes them): connections accepted
 * from now on follow it, open ones keep theirs, a reload keeps it. With
 * apply false it only checks. STATUS_EINVAL with why (Redis's words for a
 * bad value): not one of those, TLS not configured, or no CA to check
 * certificates with. Any thread. */
rstatus_i tls_set_listener_auth(
        tls_listener_e l, const char *value, bool apply, char *why, size_t cap);
/* Unix seconds of the last successful (re)load; 0 when none. */
uint64_t tls_loaded_at(void);
/* True when listener l's clients must present a certificate signed by
 * the CA (protected mode counts them as authenticated). */
bool tls_clients_authenticated(tls_listener_e l);

/* The TLS transport of each listener: open makes an SSL on c->fd in
 * accept state, with that listener's client-certificate policy. */
extern const struct transport transport_tls[TLS_LISTENER_COUNT];

/* For tests and the fuzz target: opens c over a memory BIO (an SSL_BIO
 * pair end or a mem BIO) instead of a socket, as listener l would. bio is
 * a BIO *; the SSL takes ownership of it for reading and writing. */
rstatus_i tls_open_bio(
        struct conn *c, tls_listener_e l, void *rbio, void *wbio);
