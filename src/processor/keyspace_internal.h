/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the files of the keyspace path only (keyspace.c and
 * keyspace_str.c), not by its callers. */
#pragma once

#include "processor/keyspace.h"

/* Deletes parts [0, n) of the root of key keyed by id. */
void ks_parts_delete(uint8_t db, const void *key, size_t klen,
        const uint8_t id[8], uint32_t n, uint64_t now);
/* Takes stripe for a read as ks_lookup does behind another thread's
 * hold (counted when this thread has it; tried for a bounded time when
 * out of order). false: not taken, read without it. */
bool ks_lock_for_read(uint32_t stripe);
/* A memcache value of vlen bytes (key klen, client flags cflags) is within
 * memcache.item_size_max as memcached sizes an item, and may be kept in
 * parts (ks_set_memcache_value_max; false when it is 0). */
bool ks_memcache_fits(size_t klen, uint64_t vlen, uint32_t cflags);
/* Reports a change to the change and access hooks. */
void ks_changed(uint8_t db, const void *key, size_t klen, const char *event);
/* Reports a write as ks_set does: "new" when !existed, event, "expire"
 * when w gave a time. */
void ks_written(uint8_t db, const void *key, size_t klen, const char *event,
        bool existed, const struct storage_write *w);
/* storage_set, dropping a replaced root's parts; reports nothing. */
storage_status_e ks_set_quiet(uint8_t db, const void *key, size_t klen,
        const void *value, size_t vlen, const struct storage_write *w,
        uint64_t now, struct storage_item *old, uint64_t *cas);

/* ---- strings in parts (keyspace_str.c) ---- */

/* A string root found by a lookup that wants a string: replaced in *it by
 * the whole value, copied under the key's stripe lock into the thread's
 * scratch (ks_scratch_release). false: the key went away meanwhile, or no
 * memory for the copy (logged), and *it is not valid. */
bool ks_str_materialize(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct storage_item *it);
/* APPEND/PREPEND of a string in parts, or of an inline one whose result
 * does not fit one item; the caller holds the key's stripe lock. The
 * storage_append statuses. (SETRANGE's is in keyspace.h.) */
storage_status_e ks_str_append_locked(uint8_t db, const void *key, size_t klen,
        const void *data, size_t len, storage_side_e side,
        storage_missing_e missing, uint64_t cas, uint64_t now, size_t *new_len,
        uint64_t *new_cas);
/* The value of a string root (a view `root`) copied to scratch: *it is
 * *root with the value's bytes; the caller holds the key's stripe lock.
 * OK, NOT_FOUND (not a string root, a part missing, or no memory). */
storage_status_e ks_str_copy_out(uint8_t db, const void *key, size_t klen,
        const struct storage_item *root, uint64_t now, struct storage_item *it);
/* it->value copied into the thread's scratch. false: no memory. */
bool ks_str_scratch_copy(struct storage_item *it);

/* The pin ks_new_id took for this thread (STORAGE_PIN_NONE: none), and
 * its end (ks_scratch_release, after each request). */
extern __thread uint32_t ks_id_pin;
void ks_id_unpin(void);
