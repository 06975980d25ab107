/* SPDX-License-Identifier: Apache-2.0 */
/* The keyspace path: every keyed command of every protocol reads and writes
 * keys through here. It adds to the store (storage/storage.h) what is the
 * same for every protocol: the type check (Redis's WRONGTYPE), a key taken
 * whole (a root and its parts), the per-key locks that make a collection's
 * read-modify-write atomic across workers, and the places where accesses
 * and changes are observed (hit and miss counts, and the hooks hot keys,
 * keyspace notifications and client tracking hang on).
 *
 * A value stored in parts (a large collection) is a root item whose value
 * starts with KS_ROOT_HDR bytes: the 8-byte id its parts are keyed by and
 * the number of parts (4 bytes, big-endian); part i is the item
 * ks_part_key(key, id, i) in db | STORAGE_DB_PARTS. */
#pragma once

#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define KS_ANY        0xff  /* ks_lookup: any type */
#define KS_ROOT_HDR   12    /* id 8 + part count 4 */
#define KS_STRIPES    1024  /* per-key lock stripes */
/* ks_lookup flags */
#define KS_NOTOUCH    0x1   /* peek: no access recorded (TYPE, EXISTS, TTL) */
#define KS_NOSTATS    0x2   /* no hit or miss counted (a write's lookup) */
/* clang-format on */

typedef enum {
    KS_OK = 0,    /* a live key of the wanted type: *it filled */
    KS_MISS,      /* no live key */
    KS_WRONGTYPE, /* a live key of another type: *it filled */
} ks_lookup_e;

/* Looks a key up for a command that wants `type` (storage_type_e or
 * KS_ANY). The view is valid as storage.h says. */
ks_lookup_e ks_lookup(uint8_t db, const void *key, size_t klen, uint8_t type,
        unsigned flags, uint64_t now, struct storage_item *it);

/* Redis's TYPE names: "string", "hash", "set", "zset", "list"; "none" for
 * a missing key (type KS_ANY). */
const char *ks_type_name(uint8_t type);

/* ---- keys taken whole ---- */

/* Deletes a key and its parts. OK, NOT_FOUND. */
storage_status_e ks_delete(
        uint8_t db, const void *key, size_t klen, uint64_t now);
/* The parts of a root that was just replaced or deleted (old view of a set
 * or getdel): deletes them. Nothing for a view that is not a root. */
void ks_drop_parts(uint8_t db, const struct storage_item *old, uint64_t now);
uint32_t ks_root_nparts(const struct storage_item *root);
/* Writes key + id + big-endian idx to dst (klen + STORAGE_PART_SUFFIX). */
size_t ks_part_key(uint8_t *dst, const void *key, size_t klen,
        const uint8_t id[8], uint32_t idx);
/* A fresh id for a new root: unique in this process and, with a random
 * start, across restarts that keep the data. */
void ks_new_id(uint8_t id[8]);

/* ---- per-key locks ---- */

/* The stripe of a key; keys of one stripe share a lock. Taking a lock that
 * is held waits as a quiescent thread (storage_quiescent()): it ends every
 * view the thread holds, so take locks before looking keys up. */
uint32_t ks_stripe(uint8_t db, const void *key, size_t klen);
void ks_lock(uint32_t stripe);
void ks_unlock(uint32_t stripe);
/* Several stripes at once, in ascending order (no deadlock); duplicates
 * are taken once. n <= 16. */
void ks_lock_many(const uint32_t *stripes, uint32_t n);
void ks_unlock_many(const uint32_t *stripes, uint32_t n);
