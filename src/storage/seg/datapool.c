/* SPDX-License-Identifier: Apache-2.0 */
/* The datapool: the heap mapped from a file (seg.datapool), so a clean
 * restart finds the cache as it was left (memcached's restartable cache,
 * Pelikan's datapool).
 *
 *   file: | header (4 KiB) | the heap, seg.memory bytes, mapped shared |
 *
 * Everything the store keeps is inside the heap and refers to other stored
 * things by offset or index, never by pointer, so the mapping may land at
 * another address. What lives outside it (the heap's counters and list
 * heads in struct heap) is written to the header at a clean shutdown,
 * with `clean` set last; a start that finds a clean header of the same
 * layout takes the heap as it is and clears `clean` at once, so a crash
 * later is never mistaken for a clean image. Anything else (no file, a
 * crash, another layout or version) starts empty and says why. */
#include "seg_internal.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* version 2: expiry counts, the table's summary; 3: a summary per db;
 * 4: an item's CAS is where it is written (item.c); 5: two fixed header
 * bytes, segments end at their tail */
#define POOL_MAGIC   "SEGCPOOL"
#define POOL_VERSION 5u
#define POOL_HEADER  4096

struct pool_header {
    char magic[8];
    uint32_t version;
    uint32_t clean; /* 1 only between a clean shutdown and the next start */
    /* the layout: a heap is taken only by a store carved the same way */
    uint64_t memory;
    uint64_t seg_size;
    uint64_t n_seg;
    uint64_t n_bucket;
    uint64_t n_overflow;
    uint64_t unit;
    uint64_t seg_hdr_size;
    uint64_t ttl_size;
    uint64_t saved_ms;
    /* struct heap's state outside the mapping */
    uint64_t pool_free;
    uint32_t pool_next;
    uint32_t free_head;
    uint32_t n_free;
    uint32_t n_open;
    uint64_t seg_seq;
    uint64_t flush_cas[STORAGE_DB_COUNT];
    uint64_t flush_at[STORAGE_DB_COUNT];
    uint64_t flush_pending;
    int64_t count[STORAGE_DB_COUNT];
    int64_t expires[STORAGE_DB_COUNT];
    uint64_t turnover_ms;
};
_Static_assert(sizeof(struct pool_header) <= POOL_HEADER, "header too big");

static int fd = -1;
static struct pool_header hdr;

static void
layout_of(struct pool_header *h)
{
    memcpy(h->magic, POOL_MAGIC, sizeof(h->magic));
    h->version = POOL_VERSION;
    h->memory = heap.memory;
    h->seg_size = heap.seg_size;
    h->n_seg = heap.n_seg;
    h->n_bucket = heap.n_bucket;
    h->n_overflow = heap.n_overflow;
    h->unit = heap.unit;
    h->seg_hdr_size = sizeof(struct seg);
    h->ttl_size = sizeof(struct ttl_bucket);
}

/* Why the header on disk cannot be taken, or NULL when it can. */
static const char *
unusable(const struct pool_header *h, ssize_t n)
{
    if (n == 0) {
        return "new file";
    }
    if (n != (ssize_t)sizeof(*h) ||
            memcmp(h->magic, POOL_MAGIC, sizeof(h->magic)) != 0) {
        return "not a segcached datapool";
    }
    if (h->version != POOL_VERSION) {
        return "written by another version";
    }
    struct pool_header want;
    memset(&want, 0, sizeof(want));
    layout_of(&want);
    if (h->memory != want.memory || h->seg_size != want.seg_size ||
            h->n_seg != want.n_seg || h->n_bucket != want.n_bucket ||
            h->n_overflow != want.n_overflow || h->unit != want.unit ||
            h->seg_hdr_size != want.seg_hdr_size ||
            h->ttl_size != want.ttl_size) {
        return "seg.memory, seg.segment_size or the hash table size changed";
    }
    if (h->clean != 1) {
        return "not shut down cleanly";
    }
    return NULL;
}

uint8_t *
datapool_map(const char *path, bool *warm)
{
    *warm = false;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("seg.datapool %s: %s", path, strerror(errno));
        return NULL;
    }
    memset(&hdr, 0, sizeof(hdr));
    ssize_t n = pread(fd, &hdr, sizeof(hdr), 0);
    const char *why = unusable(&hdr, n);
    off_t size = (off_t)(POOL_HEADER + heap.memory);
    struct stat st;
    if (fstat(fd, &st) != 0 ||
            (st.st_size != size && ftruncate(fd, size) != 0)) {
        log_error("seg.datapool %s: cannot size it to %jd bytes: %s", path,
                (intmax_t)size, strerror(errno));
        close(fd);
        fd = -1;
        return NULL;
    }
    void *p = mmap(NULL, heap.memory, PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_NORESERVE, fd, POOL_HEADER);
    if (p == MAP_FAILED) {
        log_error("seg.datapool %s: mmap %zu bytes: %s", path, heap.memory,
                strerror(errno));
        close(fd);
        fd = -1;
        return NULL;
    }
    if (why == NULL) {
        *warm = true;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now =
                (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        log_info("seg.datapool %s: taking the cache saved %" PRIu64 " ms ago",
                path, now > hdr.saved_ms ? now - hdr.saved_ms : 0);
    } else {
        log_info("seg.datapool %s: starting empty (%s)", path, why);
    }
    /* from here on, the image on disk is not a clean one */
    struct pool_header dirty;
    memset(&dirty, 0, sizeof(dirty));
    layout_of(&dirty);
    if (pwrite(fd, &dirty, sizeof(dirty), 0) != (ssize_t)sizeof(dirty) ||
            fdatasync(fd) != 0) {
        log_warn("seg.datapool %s: cannot mark it in use: %s", path,
                strerror(errno));
    }
    return p;
}

/* Takes the saved counters and clears what only a running process holds
 * (locks, open reservations). */
void
datapool_load(void)
{
    heap.pool_free = hdr.pool_free;
    heap.pool_next = hdr.pool_next;
    heap.pool_ret_head = heap.pool_ret_n = 0;
    heap.free_head = hdr.free_head;
    heap.n_free = hdr.n_free;
    heap.limbo_head = SEG_NIL;
    heap.n_limbo = 0;
    heap.n_open = hdr.n_open;
    heap.seg_seq = hdr.seg_seq;
    memcpy(heap.flush_cas, hdr.flush_cas, sizeof(heap.flush_cas));
    memcpy(heap.flush_at, hdr.flush_at, sizeof(heap.flush_at));
    heap.flush_pending = hdr.flush_pending;
    memcpy(heap.count, hdr.count, sizeof(heap.count));
    memcpy(heap.expires, hdr.expires, sizeof(heap.expires));
    heap.turnover_ms = hdr.turnover_ms;
    memset(heap.locks, 0, heap.n_bucket);
    for (uint32_t i = 0; i < TTL_BUCKETS; i++) {
        heap.ttl[i].lock = 0;
    }
    for (uint32_t i = 0; i < heap.n_seg; i++) {
        heap.segs[i].w_ref = 0;
    }
}

/* After every thread using the store has stopped: frees what waited for
 * readers, then writes the heap and a clean header. */
void
datapool_save(uint64_t now)
{
    if (fd < 0) {
        return;
    }
    while (heap.limbo_head != SEG_NIL) {
        uint32_t sid = heap.limbo_head;
        heap.limbo_head = heap.segs[sid].next;
        heap.n_limbo--;
        seg_put_free_locked(sid);
    }
    hash_pool_release_retired();
    memset(&hdr, 0, sizeof(hdr));
    layout_of(&hdr);
    hdr.saved_ms = now;
    hdr.pool_free = heap.pool_free;
    hdr.pool_next = heap.pool_next;
    hdr.free_head = heap.free_head;
    hdr.n_free = heap.n_free;
    hdr.n_open = heap.n_open;
    hdr.seg_seq = heap.seg_seq;
    memcpy(hdr.flush_cas, heap.flush_cas, sizeof(hdr.flush_cas));
    memcpy(hdr.flush_at, heap.flush_at, sizeof(hdr.flush_at));
    hdr.flush_pending = heap.flush_pending;
    memcpy(hdr.count, heap.count, sizeof(hdr.count));
    memcpy(hdr.expires, heap.expires, sizeof(hdr.expires));
    hdr.turnover_ms = heap.turnover_ms;
    if (msync(heap.base, heap.memory, MS_SYNC) != 0) {
        log_error("seg.datapool: cannot write the heap: %s; the next start "
                  "will be empty",
                strerror(errno));
        return;
    }
    hdr.clean = 1;
    if (pwrite(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
            fdatasync(fd) != 0) {
        log_error("seg.datapool: cannot write its header: %s; the next start "
                  "will be empty",
                strerror(errno));
        return;
    }
    int64_t items = 0;
    for (size_t i = 0; i < STORAGE_DB_COUNT; i++) {
        items += heap.count[i];
    }
    log_info("seg.datapool: saved %" PRId64 " items for the next start", items);
}

void
datapool_unmap(void)
{
    if (fd < 0) {
        return;
    }
    munmap(heap.base, heap.memory);
    close(fd);
    fd = -1;
}

bool
datapool_active(void)
{
    return fd >= 0;
}
