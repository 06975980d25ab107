/* SPDX-License-Identifier: Apache-2.0 */
/* A string key changed as a whole by a command (SETBIT, BITFIELD, PFADD,
 * PFMERGE, PFCOUNT's cached cardinality): the caller holds the key's stripe
 * lock (keyspace.h), reads the value into a private buffer, changes the
 * buffer and commits it with a CAS on the version read (an ADD when the
 * key was missing), keeping the key's expiry. A writer that takes no lock
 * (SET, DEL, APPEND ...) coming between makes the commit fail: the command
 * reads and computes again. Private to src/processor/ (resp_bits.c,
 * resp_hll.c). */
#pragma once

#include "processor/keyspace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define STRMOD_RETRY_MAX 64 /* commits that met a concurrent writer */
/* clang-format on */

struct strmod {
    uint8_t *buf; /* the value, then zeros up to the `need` read with */
    size_t len;
    size_t cap;
    bool exists;  /* the key held a string when read */
    uint64_t cas; /* the version read */
};

/* Reads key (flags: ks_lookup's) into m->buf with room for at least `need`
 * bytes, zero-filled from the value's end to `need` (not beyond: the buffer
 * is the thread's, reused, and holds older bytes past that). KS_OK, KS_MISS
 * (m->len 0, the key may be created), KS_WRONGTYPE. *oom: the buffer could not
 * be allocated. */
ks_lookup_e strmod_read(struct strmod *m, uint8_t db, const void *key,
        size_t klen, size_t need, unsigned flags, uint64_t now, bool *oom);
/* Writes m->buf[0 .. m->len) back as described above. OK; EXISTS,
 * NOT_STORED or NOT_FOUND: changed meanwhile, read again; ENOMEM,
 * EOVERSIZE. */
storage_status_e strmod_commit(struct strmod *m, uint8_t db, const void *key,
        size_t klen, uint64_t now);
/* True for the statuses that mean "read again". */
bool strmod_retry(storage_status_e s);
void strmod_release(struct strmod *m);
