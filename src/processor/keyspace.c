/* SPDX-License-Identifier: Apache-2.0 */
/* The keyspace path (keyspace.h). */
#include "processor/keyspace.h"

#include "base/hash.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

ks_lookup_e
ks_lookup(uint8_t db, const void *key, size_t klen, uint8_t type,
        unsigned flags, uint64_t now, struct storage_item *it)
{
    storage_status_e st = (flags & KS_NOTOUCH)
                                  ? storage_peek(db, key, klen, now, it)
                                  : storage_get(db, key, klen, now, it);
    if (st != STORAGE_OK) {
        return KS_MISS;
    }
    if (type != KS_ANY && it->type != type) {
        return KS_WRONGTYPE;
    }
    return KS_OK;
}

const char *
ks_type_name(uint8_t type)
{
    switch (type) {
    case STORAGE_TYPE_STRING:
        return "string";
    case STORAGE_TYPE_HASH:
        return "hash";
    case STORAGE_TYPE_SET:
        return "set";
    case STORAGE_TYPE_ZSET:
        return "zset";
    case STORAGE_TYPE_LIST:
        return "list";
    default:
        return "none";
    }
}

/* ---- keys taken whole ---- */

uint32_t
ks_root_nparts(const struct storage_item *root)
{
    if (!root->parts || root->vlen < KS_ROOT_HDR) {
        return 0;
    }
    const uint8_t *p = root->value + 8;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

size_t
ks_part_key(uint8_t *dst, const void *key, size_t klen, const uint8_t id[8],
        uint32_t idx)
{
    memcpy(dst, key, klen);
    memcpy(dst + klen, id, 8);
    dst[klen + 8] = (uint8_t)(idx >> 24);
    dst[klen + 9] = (uint8_t)(idx >> 16);
    dst[klen + 10] = (uint8_t)(idx >> 8);
    dst[klen + 11] = (uint8_t)idx;
    return klen + STORAGE_PART_SUFFIX;
}

void
ks_drop_parts(uint8_t db, const struct storage_item *old, uint64_t now)
{
    if (old == NULL || old->key == NULL || !old->parts) {
        return;
    }
    uint32_t n = ks_root_nparts(old);
    uint8_t id[8];
    memcpy(id, old->value, 8);
    /* the view ends at the first delete: copy the key first */
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t klen = old->klen;
    memcpy(pk, old->key, klen);
    for (uint32_t i = 0; i < n; i++) {
        size_t plen = ks_part_key(pk, pk, klen, id, i);
        storage_delete(db | STORAGE_DB_PARTS, pk, plen, 0, now);
    }
}

storage_status_e
ks_delete(uint8_t db, const void *key, size_t klen, uint64_t now)
{
    struct storage_item old;
    storage_status_e st = storage_getdel(db, key, klen, now, &old);
    if (st == STORAGE_OK && old.parts) {
        ks_drop_parts(db, &old, now);
    }
    return st;
}

static uint64_t id_next;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void
id_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
    }
    __atomic_store_n(&id_next, seed, __ATOMIC_RELAXED);
}

void
ks_new_id(uint8_t id[8])
{
    pthread_once(&id_once, id_seed);
    uint64_t v = __atomic_fetch_add(&id_next, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

/* ---- per-key locks ---- */

struct stripe {
    _Alignas(64) pthread_mutex_t m;
};

static struct stripe stripes[KS_STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void
stripes_init(void)
{
    for (uint32_t i = 0; i < KS_STRIPES; i++) {
        pthread_mutex_init(&stripes[i].m, NULL);
    }
}

uint32_t
ks_stripe(uint8_t db, const void *key, size_t klen)
{
    return (uint32_t)(hash_key_seed(key, klen, 0x5eed0000u + db) % KS_STRIPES);
}

void
ks_lock(uint32_t stripe)
{
    pthread_once(&stripes_once, stripes_init);
    pthread_mutex_t *m = &stripes[stripe % KS_STRIPES].m;
    if (pthread_mutex_trylock(m) != 0) {
        /* The holder may be waiting for memory, which waits for every
         * thread to pass a quiescent point: wait for it as a quiescent
         * thread, or the two wait for each other. */
        storage_quiescent();
        pthread_mutex_lock(m);
    }
}

void
ks_unlock(uint32_t stripe)
{
    pthread_mutex_unlock(&stripes[stripe % KS_STRIPES].m);
}

static uint32_t
sorted_unique(const uint32_t *in, uint32_t n, uint32_t *out)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < n && i < 16; i++) {
        uint32_t v = in[i] % KS_STRIPES, j = m;
        while (j > 0 && out[j - 1] > v) {
            out[j] = out[j - 1];
            j--;
        }
        if (j > 0 && out[j - 1] == v) {
            memmove(out + j, out + j + 1, (m - j) * sizeof(*out));
            continue;
        }
        out[j] = v;
        m++;
    }
    return m;
}

void
ks_lock_many(const uint32_t *s, uint32_t n)
{
    uint32_t u[16];
    uint32_t m = sorted_unique(s, n, u);
    for (uint32_t i = 0; i < m; i++) {
        ks_lock(u[i]);
    }
}

void
ks_unlock_many(const uint32_t *s, uint32_t n)
{
    uint32_t u[16];
    uint32_t m = sorted_unique(s, n, u);
    for (uint32_t i = m; i > 0; i--) {
        ks_unlock(u[i - 1]);
    }
}
