/* SPDX-License-Identifier: Apache-2.0 */
/* Lists stored in the keyspace, quicklist-like. A key's item (type LIST)
 * holds either
 *   - inline: [LIST_ENC_PACK][pack image] (types/pack.h) of the elements
 *     in order, while the image is at most list_part_max() bytes;
 *   - parts (a root, storage.h): [id 8][nparts 4][count 8] then a
 *     directory of nparts entries [part 4][count 4] in list order; part
 *     item i (i < nparts, every number used once) is a pack of up to about
 *     list_part_max() bytes of consecutive elements.
 * A push or pop at either end rewrites one end part (at most
 * list_part_max() bytes) and, when no part is added or removed, patches the
 * root's count and that part's entry in place (storage_patch: the root
 * keeps its CAS; WATCH learns of the change from ks_stripe_changed), so its
 * cost does not depend on the list's length; a part added or removed
 * rewrites the root (20 + 8 per part bytes). An index walks the directory
 * (8 bytes a part) and reads one part. Part numbers stay 0 .. nparts-1 (the
 * keyspace path copies, renames, expires and deletes parts by that range): a
 * part that empties takes the highest number's part into its number.
 *
 * Commands see virtual parts: an inline list is one part (none when it is
 * empty). A change replaces a run of parts with a sequence of elements
 * (list_replace), which is cut into parts again; commit writes the root
 * with a CAS on the version opened, under the key's stripe lock (taken by
 * list_open for a change and by any reader of a list in parts). A write
 * that is not a list change racing it makes the commit answer COLL_RETRY.
 *
 * Views: a part's image is valid until the next change through the same
 * struct list or the thread's quiescent point; list_replace copies what it
 * is given before it writes. Worker threads. */
#pragma once

#include "processor/coll.h"
#include "types/pack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define LIST_ENC_PACK    0
#define LIST_ROOT_HEAD   20   /* id 8, nparts 4, count 8 */
#define LIST_ROOT_COUNT  12   /* where count starts (patched in place) */
#define LIST_ENDS        0x200 /* list_open flag: the command touches the
                                  end parts only (a push, a pop, LLEN):
                                  the directory's middle is not decoded */
/* clang-format on */

struct list {
    uint8_t db;
    const void *key;
    size_t klen;
    uint64_t now;
    uint32_t stripe;
    bool locked;
    bool exists;
    bool created; /* the commit wrote a key that did not exist */
    bool dirty;
    bool parts;
    bool replace;    /* list_store: the commit replaces any key, no TTL */
    bool ends;       /* parts: only entries 0 and nparts-1 are decoded, in
                        end_no/end_cnt (LIST_ENDS); no/cnt are not used */
    bool reshaped;   /* parts: the directory changed beyond the end entries'
                        counts (a part added, removed or replaced, or the
                        list made parts): the commit rewrites the root */
    uint8_t touched; /* parts: bit 0 entry 0's count moved, bit 1 the last
                        entry's (patched in place by the commit) */
    uint64_t cas;
    uint64_t expiry;
    uint64_t count;
    /* inline: the image (the store's view, or heap when changed) */
    const uint8_t *img;
    size_t len;
    uint8_t *own; /* heap image owned, or NULL */
    /* parts */
    uint8_t id[8];
    uint32_t nparts;
    uint32_t cap;
    uint32_t *no;                   /* part number of each directory entry */
    uint32_t *cnt;                  /* elements in each */
    uint32_t end_no[2], end_cnt[2]; /* ends: entry 0, entry nparts-1 */
    const uint8_t *read_img;        /* parts: the last part image read */
    uint64_t read_cas;              /* and its CAS (the tail index's name) */
};

/* list-max-listpack-size (CONFIG GET/SET; relaxed atomic, any thread):
 * Redis's quicklist fill, -2 by default. Here it sets how many bytes a part
 * (and an inline image) may take when it is written from then on: -1 4 KiB,
 * -2 8 KiB, -3 16 KiB, -4 32 KiB, -5 and below 64 KiB, as quicklist's node
 * sizes; 0 or a count gives 8 KiB parts (quicklist's safety limit for
 * counted nodes; the count itself is not applied). Parts written before a
 * change keep their size until a change rewrites them. */
extern int32_t list_max_listpack_size;
size_t list_part_max(void);

/* Opens key for reading or a change (write: under the stripe lock until
 * list_close, unless flags has COLL_LOCKED). With LIST_ENDS the caller asks
 * for parts 0 and list_nparts() - 1 only (list_part, list_part_count,
 * list_splice; list_locate of an index in them); list_replace and a commit
 * that rewrites the root read the rest of the directory then. COLL_OK,
 * COLL_MISS (an empty list), COLL_WRONGTYPE, COLL_ENOMEM. */
coll_status_e list_open(struct list *l, uint8_t db, const void *key,
        size_t klen, bool write, unsigned flags, uint64_t now);
void list_close(struct list *l);

/* Virtual parts: their number and each one's element count. */
uint32_t list_nparts(const struct list *l);
uint32_t list_part_count(const struct list *l, uint32_t k);
/* Part k's pack image; COLL_RETRY when it is missing (eviction is taking
 * the key: the key is deleted and the command runs again). */
coll_status_e list_part(
        struct list *l, uint32_t k, const uint8_t **img, size_t *len);
/* The part holding index i (0 <= i < count) and i's index in it. */
uint32_t list_locate(const struct list *l, uint64_t i, uint64_t *in);

/* Replaces parts [a, b) with the n elements e (copied first); a == b
 * inserts before part a. COLL_OK, COLL_ENOMEM, COLL_EOVERSIZE, COLL_RETRY. */
coll_status_e list_replace(struct list *l, uint32_t a, uint32_t b,
        const struct pack_elem *e, size_t n);
/* The cheap change of one part: removes ndel elements at index at of
 * part k and inserts the nins elements ins there, copying the untouched
 * bytes (no decoding). COLL_EOVERSIZE when the part would pass its limit
 * or empty: the caller uses list_replace then. */
coll_status_e list_splice(struct list *l, uint32_t k, size_t at, size_t ndel,
        const struct pack_elem *ins, size_t nins);
/* list_part, and the byte offset of element i (< the part's count) in the
 * image: pack_offset's walk, or for an end part of a list in parts that
 * this thread keeps splicing at its tail (RPOP), the thread's index of the
 * image's offsets (O(1)). */
coll_status_e list_part_at(struct list *l, uint32_t k, size_t i,
        const uint8_t **img, size_t *len, size_t *off);
/* How many list_part_at calls of this thread an index kept from an earlier
 * call answered (not one built for the call), and how
 * many end-part splices read their part again because the reservation of
 * the new image waited for memory (tests). */
uint64_t list_tail_hits(void);
uint64_t list_part_rereads(void);
/* list_splice with part k's image (from list_part, no change made through
 * l since) and the byte offset of the first element removed or inserted
 * before (pack_offset; len: at the end) in hand: no second lookup of the
 * part, no second walk of it (RPOP finds its element and splices it off
 * with one walk). */
coll_status_e list_splice_in(struct list *l, uint32_t k, const uint8_t *img,
        size_t len, size_t off, size_t ndel, const struct pack_elem *ins,
        size_t nins);
/* Writes the root (or deletes the key when it is empty). A list in parts
 * whose changes left its parts as they were (no part added or removed, only
 * end parts' counts moved) is not rewritten: its count and those entries
 * are patched in place under the stripe lock and the root keeps its CAS
 * and expiry. */
coll_status_e list_commit(struct list *l);
/* Replaces key, whatever it holds, with a list of the n elements e (SORT
 * ... STORE): the caller holds the key's stripe lock; no TTL; n == 0
 * deletes the key. A replaced root's parts are dropped. */
coll_status_e list_store(uint8_t db, const void *key, size_t klen,
        const struct pack_elem *e, size_t n, uint64_t now);

/* Every element of part k into out[0..count) (views into its image). */
coll_status_e list_part_elems(
        struct list *l, uint32_t k, struct pack_elem *out);
