/* SPDX-License-Identifier: Apache-2.0 */
/* A large string value sent in pieces (issue 18), for any
 * protocol's read of one: the processor writes its header (RESP's bulk
 * length, memcache's VALUE line), then calls sendval_pump() from its read
 * loop until the value is in the write buffer, then writes its trailer.
 * Each pump copies 256 KiB slices from the value's parts straight into the
 * write buffer while it holds at most worker.wbuf_high (the connection
 * stalls in between and its processor is run again when the socket has
 * drained it), so a connection holds about wbuf_high of any value, and the
 * value is not first copied whole into the thread's scratch.
 *
 * Each slice is read under the key's stripe lock after checking that the
 * key is still the version that was found (its CAS): a value is never sent
 * half old and half new. When it was changed or removed before its last
 * slice the reply cannot be completed: SENDVAL_CUT, and the processor closes
 * the connection.
 *
 * A value that was copied whole already (the old value of GETDEL or
 * GETSET, whose key no longer holds it; a memcache mg, which reads its
 * value whole) is sent the same way from the copy, which the sendval takes
 * over (sendval_new_copy): its memory is the value's, as Redis's output
 * buffer and memcached's item reference hold it, but the write buffer
 * stays near wbuf_high. Worker threads. */
#pragma once

#include "core/conn.h"
#include "core/processor.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stdint.h>

/* values past this are worth sending in pieces */
#define SENDVAL_MIN (1u << 20)

struct sendval;

typedef enum {
    SENDVAL_DONE,   /* every byte is in the write buffer */
    SENDVAL_MORE,   /* the write buffer is full: CONN_STALLED is set */
    SENDVAL_CUT,    /* the key changed: close the connection */
    SENDVAL_ENOMEM, /* the write buffer could not grow */
} sendval_e;

/* For root (a string in parts, a view: key and CAS are copied): NULL when
 * it is not one, or for no memory. */
struct sendval *sendval_new(uint8_t db, const struct storage_item *root);
/* The same for len bytes of it from off (GETRANGE); NULL past its end. */
struct sendval *sendval_new_range(uint8_t db, const struct storage_item *root,
        uint64_t off, uint64_t len);
/* For a value a lookup copied whole into the thread's scratch (of a key
 * the command then removed or replaced, or read whole for its reply): sent
 * from the copy. NULL when value is no such copy, or for no memory. Once
 * the caller cannot fail any more, sendval_own takes the copy out of the
 * scratch (ks_scratch_release leaves it; it is freed with the sendval). */
struct sendval *sendval_new_copy(const void *value, size_t len);
void sendval_own(struct sendval *v);
/* For a value held elsewhere (a script's returned string, which Lua may
 * free): sent from a copy made here, freed with the sendval. NULL for no
 * memory. */
struct sendval *sendval_new_dup(const void *value, size_t len);
/* The bytes still to send (at first: the whole value or range). */
uint64_t sendval_len(const struct sendval *v);
/* Copies the next slices into c->wbuf; *bytes += what it copied. */
sendval_e sendval_pump(struct sendval *v, struct conn *c,
        const struct proc_limits *limits, uint64_t *bytes);
void sendval_free(struct sendval *v);
/* Memory v holds of its own (a copy of the value; NULL v: 0). */
size_t sendval_held(const struct sendval *v);
