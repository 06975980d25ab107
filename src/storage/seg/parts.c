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
            /* the root's copy stays readable inside the caller's epoch */
            item_dropped(&ref.m, ref.item + ref.m.hdr_len, now);
            INCR(seg_metrics, seg_evict_item);
            INCR(seg_metrics, seg_part_evict_root);
            return;
        }
    }
}

/* ---- pins: values whose parts are written before their root ----
 * A slot holds an id's 8 bytes as an integer; 0 marks a free slot, so an
 * id of 0 is pinned as 1 (which only makes the check a little wider). The
 * check scans every slot, and runs only for a part whose root is missing:
 * the rare path of a merge. */

static uint64_t pins[STORAGE_PINS];

static uint64_t
pin_word(const uint8_t id[8])
{
    uint64_t v;
    memcpy(&v, id, 8);
    return v == 0 ? 1 : v;
}

uint32_t
storage_parts_pin(const uint8_t id[8])
{
    uint64_t v = pin_word(id);
    for (uint32_t i = 0; i < STORAGE_PINS; i++) {
        uint64_t free = 0;
        if (__atomic_load_n(&pins[i], __ATOMIC_RELAXED) == 0 &&
                __atomic_compare_exchange_n(&pins[i], &free, v, false,
                        __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
            return i;
        }
    }
    return STORAGE_PIN_NONE;
}

void
storage_parts_repin(uint32_t pin, const uint8_t id[8])
{
    if (pin < STORAGE_PINS) {
        __atomic_store_n(&pins[pin], pin_word(id), __ATOMIC_RELEASE);
    }
}

void
storage_parts_unpin(uint32_t pin)
{
    if (pin < STORAGE_PINS) {
        __atomic_store_n(&pins[pin], 0, __ATOMIC_RELEASE);
    }
}

bool
parts_pinned(const struct item_meta *m, const uint8_t *key)
{
    if (m->klen <= STORAGE_PART_SUFFIX) {
        return false;
    }
    uint64_t v = pin_word(key + m->klen - STORAGE_PART_SUFFIX);
    for (uint32_t i = 0; i < STORAGE_PINS; i++) {
        if (__atomic_load_n(&pins[i], __ATOMIC_ACQUIRE) == v) {
            return true;
        }
    }
    return false;
}
