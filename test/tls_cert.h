/* SPDX-License-Identifier: Apache-2.0 */
/* For TLS tests and the TLS fuzz target: a throwaway self-signed P-256
 * certificate and key, made in memory and written to temporary files, so
 * no key is ever committed. Header-only; test code only. */
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct test_cert {
    char cert[64]; /* paths of the PEM files */
    char key[64];
};

/* Writes a new certificate (common name cn, valid from now on for days,
 * expired when days < 0) and its key; returns 0, or -1. */
static inline int
test_cert_make(struct test_cert *tc, const char *cn, long days)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (pkey == NULL || x == NULL) {
        return -1;
    }
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), days < 0 ? days * 86400 * 2 : 0);
    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(
            name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, pkey, EVP_sha256()) == 0) {
        return -1;
    }
    snprintf(tc->cert, sizeof(tc->cert), "/tmp/segcached-test-XXXXXX");
    snprintf(tc->key, sizeof(tc->key), "/tmp/segcached-test-XXXXXX");
    int cfd = mkstemp(tc->cert);
    int kfd = mkstemp(tc->key);
    FILE *cf = cfd >= 0 ? fdopen(cfd, "w") : NULL;
    FILE *kf = kfd >= 0 ? fdopen(kfd, "w") : NULL;
    int rc = cf != NULL && kf != NULL && PEM_write_X509(cf, x) == 1 &&
                             PEM_write_PrivateKey(
                                     kf, pkey, NULL, NULL, 0, NULL, NULL) == 1
                     ? 0
                     : -1;
    if (cf != NULL) {
        fclose(cf);
    }
    if (kf != NULL) {
        fclose(kf);
    }
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

static inline void
test_cert_remove(struct test_cert *tc)
{
    unlink(tc->cert);
    unlink(tc->key);
}
