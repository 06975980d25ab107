/* SPDX-License-Identifier: Apache-2.0 */
/* The allocator of a worker's Lua state (lua_Alloc): most of what a
 * script allocates (its KEYS and ARGV strings, small tables, the replies
 * of redis.call) is small and short-lived, and glibc's malloc, realloc
 * and free for it were about 2,300 instructions of a short EVALSHA.
 * Blocks up to SCRIPT_ALLOC_SMALL bytes come from per-size free lists
 * carved from 64 KiB chunks; larger ones from malloc. Lua 5.1 passes
 * every block's exact size back on realloc and free, so blocks carry no
 * header. Chunks go back to the system only when the state closes (what
 * the free lists keep is bounded by the state's peak of small blocks).
 * Under AddressSanitizer every block comes from malloc, so ASan sees each
 * one. Not thread-safe: one state, one thread. */
#pragma once

#include <stddef.h>

#define SCRIPT_ALLOC_SMALL 256 /* largest block from the free lists */

struct script_alloc;

/* NULL when out of memory. */
struct script_alloc *script_alloc_create(void);
/* After lua_close of the state that used it. */
void script_alloc_destroy(struct script_alloc *a);
/* lua_Alloc: ud is the script_alloc. */
void *script_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize);
/* Bytes Lua holds through a (small and large blocks, as Lua sized them). */
size_t script_alloc_used(const struct script_alloc *a);
/* Bytes taken from the system for small blocks (chunks). */
size_t script_alloc_chunk_bytes(const struct script_alloc *a);
