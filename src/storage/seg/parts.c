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

/* The root of a part, linked and with the part's id, looked up under the
 * root key's locks (h): eviction and merge run outside any epoch, so only
 * a held lock keeps the root's segment from being reused while its header
 * and bytes are read (a linked item's segment is not freed before the
 * item is unlinked, which takes these locks). */
static bool
root_locked(const struct item_meta *m, const uint8_t *key, uint64_t now,
        uint64_t h, struct hash_ref *ref)
{
    uint8_t db = m->db & DB_MASK;
    size_t rklen = m->klen - STORAGE_PART_SUFFIX;
    if (!hash_find_locked(h, db, key, rklen, ref) ||
            !item_visible(&ref->m, now) || (ref->m.type & ITEM_T_PARTS) == 0 ||
            ref->m.vlen < 8) {
        return false;
    }
    const uint8_t *id = ref->item + ref->m.hdr_len + ref->m.klen;
    return memcmp(id, key + rklen, 8) == 0;
}

static uint64_t
root_hash(const struct item_meta *m, const uint8_t *key)
{
    return hash_of(m->db & DB_MASK, key, m->klen - STORAGE_PART_SUFFIX);
}

bool
parts_root_freq(const struct item_meta *m, const uint8_t *key, uint64_t now,
        uint8_t *freq)
{
    if (m->klen <= STORAGE_PART_SUFFIX) {
        return false;
    }
    uint64_t h = root_hash(m, key);
    struct hash_ref ref;
    hash_lock_key(h);
    bool found = root_locked(m, key, now, h, &ref);
    if (found) {
        *freq = hash_entry_freq(ref.val);
    }
    hash_unlock_key(h);
    return found;
}

#define ROOT_INFO_MAX 64 /* a root's bytes given to the drop hook */

void
parts_evict_root(const struct item_meta *m, const uint8_t *key, uint64_t now)
{
    if (m->klen <= STORAGE_PART_SUFFIX) {
        return;
    }
    uint64_t h = root_hash(m, key);
    struct hash_ref ref;
    struct storage_drop_info info;
    storage_drop_e why;
    uint8_t head[ROOT_INFO_MAX];
    hash_lock_key(h);
    bool done = false, tell = false;
    if (root_locked(m, key, now, h, &ref)) {
        /* read while it is linked and the locks are held, then unlink */
        const uint8_t *rkey = ref.item + ref.m.hdr_len;
        tell = item_drop_info(&ref.m, rkey, now, &info, &why);
        if (tell) {
            info.value_len = info.value_len < ROOT_INFO_MAX ? info.value_len
                                                            : ROOT_INFO_MAX;
            memcpy(head, info.value, info.value_len);
            info.value = head;
        }
        done = hash_swap_locked(h, &ref, 0);
    }
    hash_unlock_key(h);
    if (done) {
        if (tell) {
            item_dropped_key(m->db & DB_MASK, key,
                    m->klen - STORAGE_PART_SUFFIX, why, &info);
        }
        INCR(seg_metrics, seg_evict_item);
        INCR(seg_metrics, seg_part_evict_root);
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
