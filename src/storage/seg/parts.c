/* SPDX-License-Identifier: Apache-2.0 */
/* Parts and their roots, as eviction sees them (storage.h, "Parts"). A part
 * is an item of the namespace db | STORAGE_DB_PARTS whose key is its root's
 * key, then the root's 8-byte id, then a 4-byte index. Eviction never
 * leaves a half key: a part counts as read as often as its root, a part
 * whose root is gone (or is another incarnation) is dead, and dropping a
 * live part evicts its root with it. The store learns no more than that
 * about what the parts hold. */
#include "seg_internal.h"

#include <string.h>

/* The root of a part, linked and with the part's id: true, its entry's
 * frequency in *freq. Lock-free; the caller is inside an epoch. */
static bool
root_of(const struct item_meta *m, const uint8_t *key, uint64_t now,
        struct hash_ref *ref)
{
    if (m->klen <= STORAGE_PART_SUFFIX) {
        return false;
    }
    uint8_t db = m->db & DB_MASK;
    size_t rklen = m->klen - STORAGE_PART_SUFFIX;
    uint64_t h = hash_of(db, key, rklen);
    if (!hash_find(h, db, key, rklen, ref) || !item_visible(&ref->m, now) ||
            (ref->m.type & ITEM_T_PARTS) == 0 || ref->m.vlen < 8) {
        return false;
    }
    const uint8_t *id = ref->item + ref->m.hdr_len + ref->m.klen;
    return memcmp(id, key + rklen, 8) == 0;
}

bool
parts_root_freq(const struct item_meta *m, const uint8_t *key, uint64_t now,
        uint8_t *freq)
{
    struct hash_ref ref;
    if (!root_of(m, key, now, &ref)) {
        return false;
    }
    *freq = hash_entry_freq(ref.val);
    return true;
}

void
parts_evict_root(const struct item_meta *m, const uint8_t *key, uint64_t now)
{
    struct hash_ref ref;
    for (int i = 0; i < 4 && root_of(m, key, now, &ref); i++) {
        uint64_t h =
                hash_of(m->db & DB_MASK, key, m->klen - STORAGE_PART_SUFFIX);
        hash_lock_key(h);
        bool done = hash_swap_locked(h, &ref, 0);
        hash_unlock_key(h);
        if (done) {
            item_dropped_key(m->db & DB_MASK, key,
                    m->klen - STORAGE_PART_SUFFIX, STORAGE_DROP_EVICTED, NULL);
            INCR(seg_metrics, seg_evict_item);
            INCR(seg_metrics, seg_part_evict_root);
            return;
        }
    }
}
