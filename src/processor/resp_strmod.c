/* SPDX-License-Identifier: Apache-2.0 */
/* String read-modify-write under the key's stripe lock (resp_strmod.h). */
#include "processor/resp_strmod.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One buffer per thread kept between commands, so that a change of a
 * string (a PFADD, a SETBIT) allocates nothing once the thread has seen
 * one of that size; past STRMOD_KEEP_MAX it is freed after use, and the
 * kept one when the thread exits. */
#define STRMOD_KEEP_MAX (64 * 1024)
static __thread uint8_t *kept_buf;
static __thread size_t kept_cap;
static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;

static void
kept_init(void)
{
    pthread_key_create(&kept_key, free);
}

ks_lookup_e
strmod_read(struct strmod *m, uint8_t db, const void *key, size_t klen,
        size_t need, unsigned flags, uint64_t now, bool *oom)
{
    struct storage_item it;
    *oom = false;
    ks_lookup_e l =
            ks_lookup(db, key, klen, STORAGE_TYPE_STRING, flags, now, &it);
    if (l == KS_WRONGTYPE) {
        return l;
    }
    m->exists = l == KS_OK;
    m->len = m->exists ? it.vlen : 0;
    m->cas = m->exists ? it.cas : 0;
    if (m->buf == NULL && kept_buf != NULL) {
        m->buf = kept_buf;
        m->cap = kept_cap;
        kept_buf = NULL;
        kept_cap = 0;
        pthread_setspecific(kept_key, NULL);
    }
    size_t cap = need > m->len ? need : m->len;
    cap = cap == 0 ? 1 : cap;
    if (cap > m->cap) {
        uint8_t *b = realloc(m->buf, cap);
        if (b == NULL) {
            *oom = true;
            return l;
        }
        m->buf = b;
        m->cap = cap;
    }
    if (m->len > 0) {
        memcpy(m->buf, it.value, m->len);
    }
    if (need > m->len) {
        memset(m->buf + m->len, 0, need - m->len);
    }
    return l;
}

storage_status_e
strmod_commit(struct strmod *m, uint8_t db, const void *key, size_t klen,
        uint64_t now)
{
    struct storage_write w = {
            .mode = m->exists ? STORAGE_CAS : STORAGE_ADD,
            .cas = m->cas,
            .keep_ttl = true,
    };
    struct storage_item old = {.key = NULL};
    storage_status_e st =
            storage_set(db, key, klen, m->buf, m->len, &w, now, &old, NULL);
    if (st == STORAGE_OK) {
        ks_drop_parts(db, &old, now); /* it replaced a string in parts */
    } else if (st == STORAGE_EOVERSIZE) {
        /* too large for one item: in parts, with the same CAS rule */
        st = ks_str_set_locked(
                db, key, klen, m->buf, m->len, &w, now, NULL, NULL);
    }
    return st;
}

bool
strmod_retry(storage_status_e s)
{
    return s == STORAGE_EXISTS || s == STORAGE_NOT_STORED ||
           s == STORAGE_NOT_FOUND;
}

void
strmod_release(struct strmod *m)
{
    pthread_once(&kept_once, kept_init);
    if (m->buf != NULL && kept_buf == NULL && m->cap <= STRMOD_KEEP_MAX &&
            pthread_setspecific(kept_key, m->buf) == 0) {
        kept_buf = m->buf;
        kept_cap = m->cap;
    } else {
        free(m->buf);
    }
    m->buf = NULL;
    m->cap = 0;
}
