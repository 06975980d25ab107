/* SPDX-License-Identifier: Apache-2.0 */
/* Messages between threads: per-pair SPSC rings, per-pair overflow lists,
 * one wake-up per receiver until it drains, and the reference counts that
 * say who frees a message.
 *
 * A pair's two halves sit on separate cache lines: the sender writes only
 * its line (and the ring's producer side, and the overflow nodes it
 * appends), the receiver only its own.
 *
 *   pair[s][r]  line 0 (sender):   ring  next_seq  ovf_tail
 *               line 1 (receiver): ovf_head (a stub)  expect  held
 *
 * The overflow list is the classic unbounded SPSC list with a stub node:
 * the sender links a node after its tail with a release store; the
 * receiver reads head->next with an acquire load, takes the message, frees
 * the old head and makes the node the new stub. Both the ring and the
 * list are FIFO and every message carries the pair's next sequence
 * number, so the receiver merges them: it delivers whichever head holds
 * the sequence number it expects. Whatever the sender put in either before
 * a message the receiver can see is visible too (the release store that
 * published the later one orders it), so the expected one is always found
 * when anything later is. */
#include "core/msg.h"

#include "base/log.h"
#include "base/mm.h"
#include "base/ring_array.h"
#include "base/util.h"

#include <string.h>

struct ovf_node {
    struct ovf_node *next; /* atomic: written by the sender once */
    struct msg *m;
    uint64_t seq;
};

struct slot {
    struct msg *m;
    uint64_t seq;
};

struct pair {
    /* sender's line */
    _Alignas(CACHE_LINE) struct ring_array *ring; /* atomic; made on use */
    uint64_t next_seq;
    struct ovf_node *ovf_tail;
    uint64_t ovf_in; /* atomic: overflow appends, for msg_overflow_pending */
    /* receiver's line */
    _Alignas(CACHE_LINE) struct ovf_node *ovf_head;
    uint64_t expect;
    struct slot held; /* popped from the ring, waiting for its turn */
    bool has_held;
    uint64_t ovf_out; /* atomic: overflow takes */
};

struct receiver {
    _Alignas(CACHE_LINE) uint32_t pending; /* atomic: a wake-up is due */
};

static struct pair *pairs; /* [sender * nworker + receiver] */
static struct receiver *receivers;
static unsigned nworker;
static unsigned nsender;
static size_t ring_size;
static msg_metrics_st *metrics;
static msg_wake_fn wake_fn;
static msg_handler_fn handlers[MSG_NKIND];

static __thread int thread_sender = -1; /* -1: not yet; -2: none left */
static __thread uint64_t thread_gen;    /* the setup it belongs to */
static uint32_t any_taken; /* atomic: spare sender ids handed out */
static uint64_t setup_gen; /* each msg_setup's own (tests set up again) */

void
msg_set_sender(unsigned id)
{
    thread_sender = (int)id;
    thread_gen = __atomic_load_n(&setup_gen, __ATOMIC_RELAXED);
}

int
msg_sender(void)
{
    uint64_t gen = __atomic_load_n(&setup_gen, __ATOMIC_RELAXED);
    if (thread_gen != gen) {
        thread_gen = gen;
        thread_sender = -1;
    }
    if (thread_sender == -1 && nworker > 0) {
        uint32_t i = __atomic_fetch_add(&any_taken, 1, __ATOMIC_RELAXED);
        /* -2: none was left for this thread; it asks no more */
        thread_sender = i < MSG_NANY ? (int)(nworker + MSG_SENDER_ANY + i) : -2;
    }
    return thread_sender < 0 ? -1 : thread_sender;
}

static struct pair *
pair_of(unsigned from, unsigned to)
{
    return &pairs[(size_t)from * nworker + to];
}

rstatus_i
msg_setup(const msg_options_st *options, msg_metrics_st *m, unsigned n,
        msg_wake_fn wake)
{
    msg_options_st defaults = {MSG_OPTION(INIT_OPTION)};
    if (options == NULL) {
        options = &defaults;
    }
    ASSERT(n > 0);
    metrics = m;
    wake_fn = wake;
    nworker = n;
    nsender = n + MSG_NEXTRA;
    __atomic_store_n(&any_taken, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&setup_gen, 1, __ATOMIC_RELAXED);
    ring_size = option_uint(&options->msg_ring_size);
    if (ring_size == 0) {
        ring_size = 1;
    }
    size_t npair = (size_t)nsender * nworker;
    pairs = mm_aligned_alloc(CACHE_LINE, sizeof(*pairs) * npair);
    receivers = mm_aligned_alloc(CACHE_LINE, sizeof(*receivers) * nworker);
    if (pairs == NULL || receivers == NULL) {
        mm_free(&pairs);
        mm_free(&receivers);
        return STATUS_ENOMEM;
    }
    memset(pairs, 0, sizeof(*pairs) * npair);
    memset(receivers, 0, sizeof(*receivers) * nworker);
    for (size_t i = 0; i < npair; i++) {
        struct ovf_node *stub = mm_zalloc(sizeof(*stub));
        if (stub == NULL) {
            msg_teardown();
            return STATUS_ENOMEM;
        }
        pairs[i].ovf_head = pairs[i].ovf_tail = stub;
    }
    return STATUS_OK;
}

void
msg_teardown(void)
{
    size_t npair = (size_t)nsender * nworker;
    for (size_t i = 0; pairs != NULL && i < npair; i++) {
        struct pair *p = &pairs[i];
        struct slot s;
        if (p->has_held) {
            msg_release(&p->held.m);
        }
        while (p->ring != NULL && ring_array_pop(p->ring, &s) == STATUS_OK) {
            msg_release(&s.m);
        }
        ring_array_destroy(&p->ring);
        struct ovf_node *node = p->ovf_head;
        if (node != NULL) { /* the stub's message was delivered already */
            struct ovf_node *next = node->next;
            mm_release(node);
            node = next;
        }
        while (node != NULL) {
            struct ovf_node *next = node->next;
            msg_release(&node->m);
            mm_release(node);
            node = next;
        }
    }
    mm_free(&pairs);
    mm_free(&receivers);
    nworker = nsender = 0;
    metrics = NULL;
    wake_fn = NULL;
}

void
msg_handle(msg_kind_e kind, msg_handler_fn fn)
{
    handlers[kind] = fn;
}

unsigned
msg_nworker(void)
{
    return nworker;
}

/* ---- messages ---- */

struct msg *
msg_create(msg_kind_e kind, size_t len)
{
    if (len > UINT32_MAX) {
        return NULL;
    }
    struct msg *m = mm_alloc(sizeof(*m) + len);
    if (m == NULL) {
        return NULL;
    }
    memset(m, 0, sizeof(*m));
    m->refs = 1;
    m->kind = (uint16_t)kind;
    m->len = (uint32_t)len;
    return m;
}

void
msg_retain(struct msg *m)
{
    __atomic_fetch_add(&m->refs, 1, __ATOMIC_RELAXED);
}

void
msg_release(struct msg **m)
{
    if (m == NULL || *m == NULL) {
        return;
    }
    /* acq_rel: every holder's reads of the message happen before the
     * free by whoever drops the last reference */
    if (__atomic_sub_fetch(&(*m)->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        mm_release(*m);
    }
    *m = NULL;
}

/* ---- sending ---- */

static rstatus_i
overflow_append(struct pair *p, struct msg *m, uint64_t seq)
{
    struct ovf_node *node = mm_alloc(sizeof(*node));
    if (node == NULL) {
        return STATUS_ENOMEM;
    }
    node->next = NULL;
    node->m = m;
    node->seq = seq;
    __atomic_store_n(&p->ovf_tail->next, node, __ATOMIC_RELEASE);
    p->ovf_tail = node;
    __atomic_fetch_add(&p->ovf_in, 1, __ATOMIC_RELAXED);
    return STATUS_OK;
}

rstatus_i
msg_send(unsigned from, unsigned to, struct msg *m)
{
    ASSERT(from < nsender && to < nworker);
    struct pair *p = pair_of(from, to);
    if (p->ring == NULL) {
        /* made by the sender, published to the receiver */
        struct ring_array *ring =
                ring_array_create(sizeof(struct slot), ring_size);
        __atomic_store_n(&p->ring, ring, __ATOMIC_RELEASE);
    }
    struct slot s = {.m = m, .seq = p->next_seq};
    msg_retain(m); /* the receiver's reference */
    if (p->ring == NULL || ring_array_push(p->ring, &s) != STATUS_OK) {
        if (overflow_append(p, m, s.seq) != STATUS_OK) {
            __atomic_fetch_sub(&m->refs, 1, __ATOMIC_RELAXED); /* ours */
            INCR(metrics, msg_overflow_ex);
            log_debug("message to worker %u lost: ring full, no memory", to);
            return STATUS_ENOMEM;
        }
        INCR(metrics, msg_overflow);
    }
    p->next_seq++;
    INCR(metrics, msg_sent);
    /* one wake-up until the receiver drains: the exchange pairs with the
     * receiver's, so either it sees this message or we wake it again */
    if (__atomic_exchange_n(&receivers[to].pending, 1, __ATOMIC_SEQ_CST) == 0) {
        INCR(metrics, msg_wake);
        if (wake_fn != NULL) {
            wake_fn(to);
        }
    }
    return STATUS_OK;
}

/* ---- receiving ---- */

static void
deliver(unsigned to, struct msg *m)
{
    ASSERT(m->kind < MSG_NKIND);
    if (handlers[m->kind] != NULL) {
        handlers[m->kind](to, m);
    }
    msg_release(&m);
}

/* Delivers what pair p holds, in sequence order; returns how many. */
static size_t
drain_pair(unsigned to, struct pair *p)
{
    struct ring_array *ring = __atomic_load_n(&p->ring, __ATOMIC_ACQUIRE);
    size_t n = 0;
    for (;;) {
        if (!p->has_held && ring != NULL &&
                ring_array_pop(ring, &p->held) == STATUS_OK) {
            p->has_held = true;
        }
        if (p->has_held && p->held.seq == p->expect) {
            p->has_held = false;
            p->expect++;
            n++;
            deliver(to, p->held.m);
            continue;
        }
        struct ovf_node *next =
                __atomic_load_n(&p->ovf_head->next, __ATOMIC_ACQUIRE);
        if (next != NULL && next->seq == p->expect) {
            struct msg *m = next->m;
            mm_release(p->ovf_head);
            p->ovf_head = next; /* the new stub */
            p->expect++;
            n++;
            __atomic_fetch_add(&p->ovf_out, 1, __ATOMIC_RELAXED);
            deliver(to, m);
            continue;
        }
        return n;
    }
}

size_t
msg_drain(unsigned to)
{
    ASSERT(to < nworker);
    __atomic_exchange_n(&receivers[to].pending, 0, __ATOMIC_SEQ_CST);
    size_t n = 0;
    for (unsigned s = 0; s < nsender; s++) {
        n += drain_pair(to, pair_of(s, to));
    }
    INCR_N(metrics, msg_received, n);
    return n;
}

uint64_t
msg_overflow_pending(unsigned to)
{
    uint64_t n = 0;
    for (unsigned s = 0; s < nsender; s++) {
        struct pair *p = pair_of(s, to);
        n += __atomic_load_n(&p->ovf_in, __ATOMIC_RELAXED) -
             __atomic_load_n(&p->ovf_out, __ATOMIC_RELAXED);
    }
    return n;
}
