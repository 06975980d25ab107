/* SPDX-License-Identifier: Apache-2.0 */
/* TLS over OpenSSL 3: the shared server context, its reload, and the TLS
 * transport.
 *
 * Threads: the context pointer and the configured paths are guarded by
 * `lock` (taken for a pointer swap or an SSL_new, never across I/O); an
 * SSL object belongs to the one thread that serves its connection. */
#include "core/tls.h"

#include "base/event.h"
#include "base/log.h"
#include "base/mm.h"
#include "core/conn.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PATH_CAP 1024

enum auth_mode {
    AUTH_NO,
    AUTH_OPTIONAL,
    AUTH_REQUIRED,
};

/* What a context is built from: copied out of the options at setup, so a
 * run-time change (CONFIG SET) never races a reader of the option table. */
struct tls_conf {
    char cert[PATH_CAP];
    char key[PATH_CAP];
    char ca[PATH_CAP];
    enum auth_mode auth;                              /* tls.auth_clients */
    enum auth_mode listener_auth[TLS_LISTENER_COUNT]; /* resolved */
    int min_version;                                  /* TLS1_2_VERSION ... */
    int max_version;
    char protocols[64]; /* as given: CONFIG GET tls-protocols */
    char ciphers[512];
    char ciphersuites[512];
    uint64_t session_cache;
    uint64_t session_timeout_ms;
    bool tickets;
    bool ktls;
    bool release_buffers;
};

/* Per connection. */
struct tls_conn {
    SSL *ssl;
    bool more;            /* the last recv stopped on a full buffer with records
                             still held: no epoll event will announce them */
    bool polite;          /* close_notify may be sent: handshake done and no
                             fatal error since (OpenSSL forbids it after one) */
    bool release_buffers; /* the context frees idle record buffers */
};

/* What OpenSSL holds for one server connection, measured with a counting
 * allocator (test/core/test_transport.c, test_tls_memory_estimate_is_honest,
 * which fails when these fall below what OpenSSL really holds, or more than
 * a quarter above it). On Debian's OpenSSL 3.0, TLS 1.3, a P-256
 * certificate, with glibc's 16 bytes a block:
 *  - the SSL object, its record layer, cipher contexts and session: 14,194
 *    bytes;
 *  - the read and write record buffers (16 KiB of plaintext each, plus
 *    record overhead; read ahead makes the read one larger): 33,328 bytes,
 *    held for the connection's life unless tls.release_buffers frees them
 *    whenever they empty (also between handshake messages);
 *  - at the handshake's peak, its transcript, key exchange and messages:
 *    30,096 bytes more.
 * Rounded up a little. Counted against worker.buffer_memory
 * (core/transport.h, memory). */
#define TLS_STATE_BYTES     (16 * 1024)
#define TLS_BUFFER_BYTES    (34 * 1024)
#define TLS_HANDSHAKE_BYTES (32 * 1024)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *ctx;         /* guarded by lock */
static struct tls_conf conf; /* guarded by lock */
static uint64_t loaded_at;   /* unix seconds; atomic */
static tls_metrics_st *metrics;

/* ---- building a context ---- */

/* The first queued OpenSSL error as text ("no such file" ...), cleared. */
static const char *
ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0) {
        snprintf(buf, cap, "unknown error");
    } else if (ERR_SYSTEM_ERROR(e)) {
        snprintf(buf, cap, "%s", strerror(ERR_GET_REASON(e))); /* errno */
    } else {
        ERR_error_string_n(e, buf, cap);
        const char *r = ERR_reason_error_string(e);
        if (r != NULL) {
            snprintf(buf, cap, "%s", r);
        }
    }
    ERR_clear_error();
    return buf;
}

static rstatus_i
parse_auth(const char *s, enum auth_mode *mode)
{
    if (strcmp(s, "no") == 0 || strcmp(s, "none") == 0) {
        *mode = AUTH_NO;
    } else if (strcmp(s, "optional") == 0) {
        *mode = AUTH_OPTIONAL;
    } else if (strcmp(s, "yes") == 0 || strcmp(s, "required") == 0) {
        *mode = AUTH_REQUIRED;
    } else {
        return STATUS_EINVAL;
    }
    return STATUS_OK;
}

/* "TLSv1.2 TLSv1.3" (spaces or commas, Redis's syntax) into a range. */
static rstatus_i
parse_protocols(const char *s, int *min, int *max, char *err, size_t errlen)
{
    bool v12 = false, v13 = false;
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(copy, " ,", &save); t != NULL;
            t = strtok_r(NULL, " ,", &save)) {
        if (strcasecmp(t, "TLSv1.2") == 0) {
            v12 = true;
        } else if (strcasecmp(t, "TLSv1.3") == 0) {
            v13 = true;
        } else {
            snprintf(err, errlen,
                    "tls.protocols: %s is not supported (TLSv1.2, TLSv1.3)", t);
            return STATUS_EINVAL;
        }
    }
    if (!v12 && !v13) {
        snprintf(err, errlen, "tls.protocols: names no protocol");
        return STATUS_EINVAL;
    }
    *min = v12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    *max = v13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    return STATUS_OK;
}

static rstatus_i
conf_from_options(
        struct tls_conf *c, const tls_options_st *o, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->cert, sizeof(c->cert), "%s", option_str(&o->tls_cert_file));
    snprintf(c->key, sizeof(c->key), "%s", option_str(&o->tls_key_file));
    snprintf(c->ca, sizeof(c->ca), "%s", option_str(&o->tls_ca_cert_file));
    if (parse_auth(option_str(&o->tls_auth_clients), &c->auth) != STATUS_OK) {
        snprintf(err, errlen, "tls.auth_clients: not no, optional or yes: %s",
                option_str(&o->tls_auth_clients));
        return STATUS_EINVAL;
    }
    const struct option *per[TLS_LISTENER_COUNT] = {
            [TLS_LISTENER_MEMCACHE] = &o->memcache_tls_auth_clients,
            [TLS_LISTENER_RESP] = &o->resp_tls_auth_clients,
            [TLS_LISTENER_ADMIN] = &o->admin_tls_auth_clients};
    for (int l = 0; l < TLS_LISTENER_COUNT; l++) {
        const char *v = option_str(per[l]);
        c->listener_auth[l] = c->auth; /* empty: tls.auth_clients */
        if (v != NULL && v[0] != '\0' &&
                parse_auth(v, &c->listener_auth[l]) != STATUS_OK) {
            char name[64];
            snprintf(err, errlen, "%s: not no, optional, yes or empty: %s",
                    option_dotted_name(per[l], name, sizeof(name)), v);
            return STATUS_EINVAL;
        }
    }
    if (parse_protocols(option_str(&o->tls_protocols), &c->min_version,
                &c->max_version, err, errlen) != STATUS_OK) {
        return STATUS_EINVAL;
    }
    snprintf(c->protocols, sizeof(c->protocols), "%s",
            option_str(&o->tls_protocols));
    snprintf(c->ciphers, sizeof(c->ciphers), "%s", option_str(&o->tls_ciphers));
    snprintf(c->ciphersuites, sizeof(c->ciphersuites), "%s",
            option_str(&o->tls_ciphersuites));
    c->session_cache = option_uint(&o->tls_session_cache);
    c->session_timeout_ms = option_uint(&o->tls_session_timeout);
    c->tickets = option_bool(&o->tls_session_tickets);
    c->ktls = option_bool(&o->tls_ktls);
    c->release_buffers = option_bool(&o->tls_release_buffers);
    return STATUS_OK;
}

/* Warns when the certificate just loaded is expired or not yet valid:
 * clients will refuse it, and the reason is easier found here. */
static void
check_validity(SSL_CTX *x, const char *path)
{
    X509 *cert = SSL_CTX_get0_certificate(x);
    if (cert == NULL) {
        return;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
        log_error(
                "tls.cert_file: %s has expired; clients will refuse it", path);
    } else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
        log_error("tls.cert_file: %s is not valid yet", path);
    }
}

/* A certificate file with no chain in it: OpenSSL would build the chain it
 * sends at every handshake, by verifying our own certificate against the
 * CA store (a store lookup, from every worker at once, and a signature
 * check per handshake). Built once here instead, the same way (errors
 * ignored, so what is sent is what the handshake would have built); a
 * file that carries its chain is sent as it is, as before. */
static void
chain_build(SSL_CTX *x)
{
    STACK_OF(X509) *chain = NULL;
    if (SSL_CTX_get0_chain_certs(x, &chain) == 1 && chain != NULL &&
            sk_X509_num(chain) > 0) {
        return;
    }
    if (SSL_CTX_build_cert_chain(x, SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR) == 0) {
        log_debug("tls: chain not built now; OpenSSL builds it per "
                  "handshake");
    }
    ERR_clear_error();
}

static rstatus_i
ctx_load_files(SSL_CTX *x, const struct tls_conf *c, char *err, size_t errlen)
{
    char why[256];
    if (c->cert[0] == '\0' || c->key[0] == '\0') {
        snprintf(err, errlen,
                "tls.cert_file and tls.key_file are required for a TLS "
                "listener");
        return STATUS_EINVAL;
    }
    /* a missing or unreadable file: the system's reason, not OpenSSL's
     * "system lib" */
    const char *files[3][2] = {{"tls.cert_file", c->cert},
            {"tls.key_file", c->key}, {"tls.ca_cert_file", c->ca}};
    for (int i = 0; i < 3; i++) {
        if (files[i][1][0] != '\0' && access(files[i][1], R_OK) != 0) {
            snprintf(err, errlen, "%s: %s: %s", files[i][0], files[i][1],
                    strerror(errno));
            return STATUS_EINVAL;
        }
    }
    if (SSL_CTX_use_certificate_chain_file(x, c->cert) != 1) {
        snprintf(err, errlen, "tls.cert_file: %s: %s", c->cert,
                ssl_reason(why, sizeof(why)));
        return STATUS_EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(x, c->key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "tls.key_file: %s: %s", c->key,
                ssl_reason(why, sizeof(why)));
        return STATUS_EINVAL;
    }
    if (SSL_CTX_check_private_key(x) != 1) {
        snprintf(err, errlen, "tls.key_file: %s does not match %s", c->key,
                c->cert);
        ERR_clear_error();
        return STATUS_EINVAL;
    }
    check_validity(x, c->cert);
    if (c->ca[0] != '\0') {
        if (SSL_CTX_load_verify_locations(x, c->ca, NULL) != 1) {
            snprintf(err, errlen, "tls.ca_cert_file: %s: %s", c->ca,
                    ssl_reason(why, sizeof(why)));
            return STATUS_EINVAL;
        }
        /* tells clients which CAs we accept, so they pick a certificate */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->ca);
        if (names != NULL) {
            SSL_CTX_set_client_CA_list(x, names);
        }
    } else {
        for (int l = 0; l < TLS_LISTENER_COUNT; l++) {
            if (c->listener_auth[l] != AUTH_NO) {
                snprintf(err, errlen,
                        "tls.ca_cert_file is required when client "
                        "certificates are optional or yes (tls.auth_clients, "
                        "<listener>.tls_auth_clients)");
                return STATUS_EINVAL;
            }
        }
    }
    chain_build(x);
    return STATUS_OK;
}

static void
ctx_session_setup(SSL_CTX *x, const struct tls_conf *c)
{
    /* resumption needs one context id across every context we build, so
     * a session from before a reload is at least recognised as ours */
    static const unsigned char sid_ctx[] = "segcached";
    SSL_CTX_set_session_id_context(x, sid_ctx, sizeof(sid_ctx) - 1);
    if (c->session_cache > 0) {
        SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(x, (long)c->session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_OFF);
    }
    long secs = (long)(c->session_timeout_ms / 1000);
    SSL_CTX_set_timeout(x, secs > 0 ? secs : 1);
    if (!c->tickets) {
        SSL_CTX_set_options(x, SSL_OP_NO_TICKET);
        /* TLS 1.3 sends tickets after the handshake even with a server
         * cache; none are wanted here */
        SSL_CTX_set_num_tickets(x, 0);
    }
}

static int
verify_of(enum auth_mode a)
{
    return a == AUTH_NO ? SSL_VERIFY_NONE
           : a == AUTH_OPTIONAL
                   ? SSL_VERIFY_PEER
                   : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
}

/* A new server context from c; NULL with a reason in err. */
static SSL_CTX *
ctx_build(const struct tls_conf *c, char *err, size_t errlen)
{
    char why[256];
    SSL_CTX *x = SSL_CTX_new(TLS_server_method());
    if (x == NULL) {
        snprintf(err, errlen, "tls: %s", ssl_reason(why, sizeof(why)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(x, c->min_version);
    SSL_CTX_set_max_proto_version(x, c->max_version);
    /* renegotiation is refused: it lets a client make the server redo
     * expensive work on an open connection, and no cache client needs it */
    uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                    SSL_OP_CIPHER_SERVER_PREFERENCE;
    if (c->ktls) {
        opts |= SSL_OP_ENABLE_KTLS;
    }
    SSL_CTX_set_options(x, opts);
    /* partial writes: a send returns after each record, like send(2);
     * moving buffer: a write buffer may be reallocated between retries */
    SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (c->release_buffers) {
        /* an idle connection then holds no TLS buffer (about 34 KiB
         * otherwise), as the worker's own buffers do; measured at -P 1 it
         * costs about 1 us of CPU per request (a free and a malloc of each
         * buffer per request), so it is off by default, as in Redis */
        SSL_CTX_set_mode(x, SSL_MODE_RELEASE_BUFFERS);
    }
    /* one read(2) takes every record the socket holds */
    SSL_CTX_set_read_ahead(x, 1);
    if (c->ciphers[0] != '\0' && SSL_CTX_set_cipher_list(x, c->ciphers) != 1) {
        snprintf(err, errlen, "tls.ciphers: %s: %s", c->ciphers,
                ssl_reason(why, sizeof(why)));
        goto fail;
    }
    if (c->ciphersuites[0] != '\0' &&
            SSL_CTX_set_ciphersuites(x, c->ciphersuites) != 1) {
        snprintf(err, errlen, "tls.ciphersuites: %s: %s", c->ciphersuites,
                ssl_reason(why, sizeof(why)));
        goto fail;
    }
    /* each SSL gets its listener's policy (conn_state_create) */
    SSL_CTX_set_verify(x, verify_of(c->auth), NULL);
    if (ctx_load_files(x, c, err, errlen) != STATUS_OK) {
        goto fail;
    }
    ctx_session_setup(x, c);
    return x;
fail:
    SSL_CTX_free(x);
    return NULL;
}

/* As Redis's tls-auth-clients says it. */
static const char *
auth_name(enum auth_mode a)
{
    return a == AUTH_NO ? "no" : a == AUTH_OPTIONAL ? "optional" : "yes";
}

/* ---- setup, reload ---- */

rstatus_i
tls_setup(const tls_options_st *options, tls_metrics_st *m, char *err,
        size_t errlen)
{
    tls_options_st defaults = {TLS_OPTION(INIT_OPTION)};
    if (options == NULL) {
        options = &defaults;
    }
    struct tls_conf c;
    if (conf_from_options(&c, options, err, errlen) != STATUS_OK) {
        return STATUS_EINVAL;
    }
    SSL_CTX *x = ctx_build(&c, err, errlen);
    if (x == NULL) {
        return STATUS_EINVAL;
    }
    pthread_mutex_lock(&lock);
    metrics = m;
    conf = c;
    ctx = x;
    pthread_mutex_unlock(&lock);
    __atomic_store_n(&loaded_at, (uint64_t)time(NULL), __ATOMIC_RELAXED);
    log_info("tls: certificate %s loaded (client certificates: memcache %s, "
             "resp %s, admin %s)",
            c.cert, auth_name(c.listener_auth[TLS_LISTENER_MEMCACHE]),
            auth_name(c.listener_auth[TLS_LISTENER_RESP]),
            auth_name(c.listener_auth[TLS_LISTENER_ADMIN]));
    return STATUS_OK;
}

void
tls_teardown(void)
{
    pthread_mutex_lock(&lock);
    SSL_CTX_free(ctx);
    ctx = NULL;
    metrics = NULL;
    pthread_mutex_unlock(&lock);
    __atomic_store_n(&loaded_at, 0, __ATOMIC_RELAXED);
}

bool
tls_enabled(void)
{
    pthread_mutex_lock(&lock);
    bool on = ctx != NULL;
    pthread_mutex_unlock(&lock);
    return on;
}

/* Builds from c and swaps it in; the lock is not held while files load. */
static rstatus_i
reload_with(const struct tls_conf *c, char *err, size_t errlen)
{
    SSL_CTX *x = ctx_build(c, err, errlen);
    if (x == NULL) {
        INCR(metrics, tls_reload_ex);
        log_warn("tls: reload refused, old certificate kept: %s", err);
        return STATUS_EINVAL;
    }
    pthread_mutex_lock(&lock);
    SSL_CTX *old = ctx;
    ctx = x;
    conf = *c;
    pthread_mutex_unlock(&lock);
    /* open connections hold their own references to the old context */
    SSL_CTX_free(old);
    __atomic_store_n(&loaded_at, (uint64_t)time(NULL), __ATOMIC_RELAXED);
    INCR(metrics, tls_reload);
    log_info("tls: certificate %s reloaded", c->cert);
    return STATUS_OK;
}

rstatus_i
tls_reload(char *err, size_t errlen)
{
    pthread_mutex_lock(&lock);
    struct tls_conf c = conf;
    bool on = ctx != NULL;
    pthread_mutex_unlock(&lock);
    if (!on) {
        snprintf(err, errlen, "TLS is not configured");
        return STATUS_EINVAL;
    }
    return reload_with(&c, err, errlen);
}

static char *
conf_file(struct tls_conf *c, tls_file_e which, size_t *cap)
{
    switch (which) {
    case TLS_FILE_CERT:
        *cap = sizeof(c->cert);
        return c->cert;
    case TLS_FILE_KEY:
        *cap = sizeof(c->key);
        return c->key;
    case TLS_FILE_CA:
        *cap = sizeof(c->ca);
        return c->ca;
    case TLS_SET_PROTOCOLS:
        *cap = sizeof(c->protocols);
        return c->protocols;
    case TLS_SET_CIPHERS:
        *cap = sizeof(c->ciphers);
        return c->ciphers;
    default:
        *cap = sizeof(c->ciphersuites);
        return c->ciphersuites;
    }
}

rstatus_i
tls_set_conf(const char *const v[TLS_NSET], char *err, size_t errlen)
{
    pthread_mutex_lock(&lock);
    struct tls_conf c = conf;
    bool on = ctx != NULL;
    pthread_mutex_unlock(&lock);
    if (!on) {
        snprintf(err, errlen, "TLS is not configured");
        return STATUS_EINVAL;
    }
    for (int i = 0; i < TLS_NSET; i++) {
        if (v[i] == NULL) {
            continue;
        }
        size_t cap;
        char *field = conf_file(&c, (tls_file_e)i, &cap);
        if (strlen(v[i]) >= cap) {
            snprintf(err, errlen, "%s too long",
                    i < TLS_SET_PROTOCOLS ? "path" : "value");
            return STATUS_EINVAL;
        }
        snprintf(field, cap, "%s", v[i]);
    }
    if (v[TLS_SET_PROTOCOLS] != NULL &&
            parse_protocols(c.protocols, &c.min_version, &c.max_version, err,
                    errlen) != STATUS_OK) {
        return STATUS_EINVAL;
    }
    return reload_with(&c, err, errlen);
}

rstatus_i
tls_set_files(const char *cert, const char *key, const char *ca, char *err,
        size_t errlen)
{
    const char *v[TLS_NSET] = {
            [TLS_FILE_CERT] = cert, [TLS_FILE_KEY] = key, [TLS_FILE_CA] = ca};
    return tls_set_conf(v, err, errlen);
}

void
tls_get_file(tls_file_e which, char *out, size_t cap)
{
    pthread_mutex_lock(&lock);
    size_t field_cap;
    snprintf(out, cap, "%s", conf_file(&conf, which, &field_cap));
    pthread_mutex_unlock(&lock);
}

static enum auth_mode
listener_auth(tls_listener_e l)
{
    pthread_mutex_lock(&lock);
    enum auth_mode a = ctx != NULL ? conf.listener_auth[l] : AUTH_NO;
    pthread_mutex_unlock(&lock);
    return a;
}

unsigned
tls_verify_mode(tls_listener_e l)
{
    enum auth_mode a = listener_auth(l);
    /* memcached prints the OpenSSL verify flags its mode set */
    return a == AUTH_NO ? SSL_VERIFY_NONE
           : a == AUTH_OPTIONAL
                   ? SSL_VERIFY_PEER
                   : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
}

const char *
tls_auth_clients(tls_listener_e l)
{
    return auth_name(listener_auth(l));
}

unsigned
tls_min_version(void)
{
    pthread_mutex_lock(&lock);
    int v = conf.min_version;
    pthread_mutex_unlock(&lock);
    return v == TLS1_3_VERSION ? 3 : 2;
}

uint64_t
tls_loaded_at(void)
{
    return __atomic_load_n(&loaded_at, __ATOMIC_RELAXED);
}

rstatus_i
tls_set_listener_auth(
        tls_listener_e l, const char *value, bool apply, char *why, size_t cap)
{
    enum auth_mode a;
    if (strcmp(value, "no") != 0 && strcmp(value, "optional") != 0 &&
            strcmp(value, "yes") != 0) {
        snprintf(why, cap,
                "argument(s) must be one of the following: no, "
                "yes, optional");
        return STATUS_EINVAL;
    }
    parse_auth(value, &a);
    pthread_mutex_lock(&lock);
    rstatus_i rc = STATUS_OK;
    if (ctx == NULL) {
        snprintf(why, cap, "TLS is not configured");
        rc = STATUS_EINVAL;
    } else if (a != AUTH_NO && conf.ca[0] == '\0') {
        snprintf(why, cap, "client certificates need tls-ca-cert-file");
        rc = STATUS_EINVAL;
    } else if (apply) {
        conf.listener_auth[l] = a; /* read by each new connection */
    }
    pthread_mutex_unlock(&lock);
    if (rc == STATUS_OK && apply) {
        log_info("tls: client certificates on the %s listener: %s",
                l == TLS_LISTENER_MEMCACHE ? "memcache"
                : l == TLS_LISTENER_RESP   ? "resp"
                                           : "admin",
                auth_name(a));
    }
    return rc;
}

bool
tls_clients_authenticated(tls_listener_e l)
{
    return listener_auth(l) == AUTH_REQUIRED;
}

/* ---- the transport ---- */

/* A new SSL on the current context, in server mode, with listener l's
 * client-certificate policy; NULL without a context. */
static struct tls_conn *
conn_state_create(tls_listener_e l)
{
    /* the session id context names the policy: OpenSSL resumes a session
     * (from its cache or a ticket) only under the context it was made in,
     * so a session from a listener that asked for no certificate never
     * skips the certificate on one that requires it */
    static const char *const sid_ctx[] = {[AUTH_NO] = "segcached/no",
            [AUTH_OPTIONAL] = "segcached/optional",
            [AUTH_REQUIRED] = "segcached/yes"};
    struct tls_conn *t = mm_zalloc(sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&lock);
    t->ssl = ctx != NULL ? SSL_new(ctx) : NULL;
    enum auth_mode auth = conf.listener_auth[l];
    pthread_mutex_unlock(&lock);
    if (t->ssl == NULL) {
        mm_free(&t);
        return NULL;
    }
    SSL_set_verify(t->ssl, verify_of(auth), NULL);
    if (SSL_set_session_id_context(t->ssl, (const unsigned char *)sid_ctx[auth],
                (unsigned)strlen(sid_ctx[auth])) != 1) {
        SSL_free(t->ssl);
        mm_free(&t);
        return NULL;
    }
    SSL_set_accept_state(t->ssl);
    t->release_buffers = (SSL_get_mode(t->ssl) & SSL_MODE_RELEASE_BUFFERS) != 0;
    return t;
}

static rstatus_i
tls_open(struct conn *c)
{
    /* which listener: c->tp is one of transport_tls[] */
    struct tls_conn *t =
            conn_state_create((tls_listener_e)(c->tp - transport_tls));
    if (t == NULL || SSL_set_fd(t->ssl, c->fd) != 1) {
        if (t != NULL) {
            SSL_free(t->ssl);
            mm_free(&t);
        }
        INCR(metrics, tls_open_ex);
        ERR_clear_error();
        return STATUS_ENOMEM;
    }
    c->tp_state = t;
    return STATUS_OK;
}

rstatus_i
tls_open_bio(struct conn *c, tls_listener_e l, void *rbio, void *wbio)
{
    struct tls_conn *t = conn_state_create(l);
    if (t == NULL) {
        return STATUS_ENOMEM;
    }
    SSL_set_bio(t->ssl, rbio, wbio);
    c->tp = &transport_tls[l];
    c->tp_state = t;
    c->flags |= CONN_HANDSHAKE;
    return STATUS_OK;
}

/* Counts and logs why a handshake failed. The log is rate limited per
 * call site (base/log.h), so a flood of bad clients costs a few lines. */
static void
handshake_failed(struct conn *c, struct tls_conn *t, int e)
{
    INCR(metrics, tls_handshake_ex);
    long verify = SSL_get_verify_result(t->ssl);
    unsigned long code = ERR_peek_last_error();
    if (verify != X509_V_OK && code != 0) {
        INCR(metrics, tls_handshake_verify_ex);
        log_info("tls: conn %" PRIu64 " from %s: client certificate "
                 "refused: %s",
                c->id, c->peer, X509_verify_cert_error_string(verify));
    } else if (code == 0 &&
               (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)) {
        /* closed before finishing: port scanners, health checks */
        INCR(metrics, tls_handshake_eof);
        log_debug("tls: conn %" PRIu64 " from %s: closed during the "
                  "handshake",
                c->id, c->peer);
    } else {
        char why[256];
        log_info("tls: conn %" PRIu64 " from %s: handshake failed: %s", c->id,
                c->peer, ssl_reason(why, sizeof(why)));
    }
    ERR_clear_error();
}

/* OpenSSL needs the thread's error queue empty before an I/O call, or
 * SSL_get_error may misread its result. Every path here that leaves an
 * error behind clears it, so the queue is nearly always empty already:
 * peeking is cheap (about 200 instructions), while OpenSSL 3.0's
 * ERR_clear_error walks every slot of the queue (about 850): clearing only
 * what is there took an unpipelined TLS GET from 16,726 instructions to
 * 15,445 (callgrind, scripts/bench/tls_instructions.py; docs/benchmarks.md). */
static inline void
queue_clear(void)
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

/* Sets c->want from an SSL error; false when it is not a want. */
static bool
want_of(struct conn *c, int e)
{
    if (e == SSL_ERROR_WANT_READ) {
        c->want = EVENT_READ;
        return true;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        c->want = EVENT_WRITE;
        return true;
    }
    return false;
}

static rstatus_i
tls_handshake(struct conn *c)
{
    struct tls_conn *t = c->tp_state;
    queue_clear();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->polite = true;
        INCR(metrics, tls_handshake);
        if (SSL_session_reused(t->ssl)) {
            INCR(metrics, tls_session_reused);
        } else {
            INCR(metrics, tls_session_new);
        }
        if (BIO_get_ktls_send(SSL_get_wbio(t->ssl))) {
            INCR(metrics, tls_ktls_send);
        }
        return STATUS_OK;
    }
    int e = SSL_get_error(t->ssl, r);
    if (want_of(c, e)) {
        return STATUS_EAGAIN;
    }
    handshake_failed(c, t, e);
    return STATUS_ERROR;
}

/* Decrypts into buf what one read(2) brought (read ahead takes every
 * record the socket held), without a second read(2) that would only say
 * EAGAIN. */
static ssize_t
tls_recv(struct conn *c, void *buf, size_t n)
{
    struct tls_conn *t = c->tp_state;
    size_t got = 0;
    t->more = false;
    do {
        size_t k = 0;
        queue_clear();
        int r = SSL_read_ex(t->ssl, (char *)buf + got, n - got, &k);
        if (r == 1) {
            got += k;
            continue;
        }
        if (got > 0) {
            ERR_clear_error();
            return (ssize_t)got; /* the error, if any, shows next time */
        }
        int e = SSL_get_error(t->ssl, r);
        if (want_of(c, e)) {
            return STATUS_EAGAIN;
        }
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN) {
            return STATUS_EOF; /* close_notify received: answer it */
        }
        t->polite = false;
        return STATUS_ERROR;
    } while (got < n && SSL_has_pending(t->ssl));
    t->more = got == n && SSL_has_pending(t->ssl);
    return (ssize_t)got;
}

static ssize_t
tls_send(struct conn *c, const void *buf, size_t n)
{
    struct tls_conn *t = c->tp_state;
    size_t k = 0;
    queue_clear();
    int r = SSL_write_ex(t->ssl, buf, n, &k);
    if (r == 1) {
        return (ssize_t)k;
    }
    int e = SSL_get_error(t->ssl, r);
    if (want_of(c, e)) {
        return STATUS_EAGAIN;
    }
    ERR_clear_error();
    t->polite = false;
    return STATUS_ERROR;
}

static size_t
tls_pending(const struct conn *c)
{
    const struct tls_conn *t = c->tp_state;
    if (t == NULL || !t->more) {
        return 0;
    }
    int n = SSL_pending(t->ssl);
    return n > 0 ? (size_t)n : 1; /* records held, not yet decrypted */
}

static void
tls_release(struct conn *c)
{
    struct tls_conn *t = c->tp_state;
    if (t->polite) {
        /* one non-blocking close_notify; a peer that is gone is fine */
        SSL_shutdown(t->ssl);
    }
    SSL_free(t->ssl);
    ERR_clear_error();
    mm_free(&t);
    c->tp_state = NULL;
}

static size_t
tls_memory(const struct conn *c)
{
    const struct tls_conn *t = c->tp_state;
    size_t n = sizeof(*t) + TLS_STATE_BYTES;
    if (!SSL_is_init_finished(t->ssl)) {
        n += TLS_HANDSHAKE_BYTES;
    }
    return t->release_buffers ? n : n + TLS_BUFFER_BYTES;
}

#define TLS_TRANSPORT                                                          \
    {                                                                          \
        .name = "tls", .open = tls_open, .handshake = tls_handshake,           \
        .recv = tls_recv, .send = tls_send, .pending = tls_pending,            \
        .release = tls_release, .memory = tls_memory,                          \
    }

/* One per listener, alike: which one a connection holds says whose
 * client-certificate policy its SSL gets (tls_open). */
const struct transport transport_tls[TLS_LISTENER_COUNT] = {
        [TLS_LISTENER_MEMCACHE] = TLS_TRANSPORT,
        [TLS_LISTENER_RESP] = TLS_TRANSPORT,
        [TLS_LISTENER_ADMIN] = TLS_TRANSPORT,
};
