/* SPDX-License-Identifier: Apache-2.0 */
/* Messages between threads: the path a message takes from a connection on
 * one worker to connections on others (pub/sub, MONITOR, memcached's
 * watch, CLIENT KILL; later keyspace notifications, tracking
 * invalidations and blocked-client wake-ups). DESIGN.md section 8.
 *
 * Every (sender, receiver) pair has its own single-producer
 * single-consumer ring (base/ring_array), made on the pair's first
 * message; a receiver is woken through a callback (the worker's eventfd,
 * the one the server thread's hand-off uses), at most once until it
 * drains. A full ring never loses a message and never makes the sender
 * wait: the message goes to the pair's overflow list (a lock-free list the
 * sender appends to and the receiver takes from; bounded by memory,
 * counted in msg_overflow), and the receiver delivers ring and overflow in
 * the sender's order (each message carries the pair's sequence number).
 *
 * Ownership: a message is reference counted. msg_create returns it with
 * one reference, the creator's; msg_send takes one more for the receiver
 * (the ring or the overflow holds it), and the receiver drops that one
 * after its handler returns. So a message sent to five workers is freed by
 * whichever thread drops the last reference, the creator included, and a
 * handler that keeps a message (to write it later) takes its own with
 * msg_retain.
 *
 *   sender s --ring[s][r]---------------------------------> receiver r
 *            \--overflow[s][r] (when the ring is full) -->/   (in order)
 *
 * Threads: senders 0 .. nworker-1 are the workers (sender id = worker
 * id); senders nworker .. nworker+nextra-1 are other threads, one thread
 * per id (the admin thread takes MSG_SENDER_ADMIN). Receivers are the
 * workers. */
#pragma once

#include "base/metric.h"
#include "base/option.h"
#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
/*          name               type         default  description */
#define MSG_OPTION(ACTION)                                                     \
    ACTION( msg_ring_size,     OPTION_UINT, 1024,    "messages a ring between two workers holds before the sender's overflow list takes them")

/*          name                type            description */
#define MSG_METRIC(ACTION)                                                     \
    ACTION( msg_sent,           METRIC_COUNTER, "# messages sent to another worker") \
    ACTION( msg_received,       METRIC_COUNTER, "# messages a worker took from its rings and overflow lists") \
    ACTION( msg_overflow,       METRIC_COUNTER, "# messages that found the ring full and waited in the overflow list") \
    ACTION( msg_overflow_ex,    METRIC_COUNTER, "# messages lost: a full ring and no memory for the overflow list") \
    ACTION( msg_wake,           METRIC_COUNTER, "# wake-ups sent to a receiver")
/* clang-format on */

typedef struct {
    MSG_OPTION(DECLARE_OPTION)
} msg_options_st;

typedef struct {
    MSG_METRIC(DECLARE_METRIC)
} msg_metrics_st;

/* What a message is for; each kind has one handler (msg_handle). */
typedef enum {
    MSG_KIND_PUBSUB,   /* resp: a PUBLISH to deliver to local subscribers */
    MSG_KIND_SPUBSUB,  /* resp: an SPUBLISH */
    MSG_KIND_MONITOR,  /* resp: a MONITOR line */
    MSG_KIND_WATCH,    /* memcache: a watch line */
    MSG_KIND_KILL,     /* close connection id (arg) if it is here */
    MSG_KIND_BLOCK,    /* resp: blocked client id (arg): a key it waits on
                          got elements, its timeout passed, or CLIENT
                          UNBLOCK (off[0] says which) */
    MSG_KIND_UNPAUSE,  /* resp: CLIENT UNPAUSE; held clients run again */
    MSG_KIND_CLIENTS,  /* admin: describe or find connections (conns.c) */
    MSG_KIND_TRACKING, /* resp: an invalidation for client id (arg) */
    MSG_KIND_TEST,     /* unit tests */
    MSG_NKIND,
} msg_kind_e;

/* The message header, then len bytes of data. kind, arg, off and data are
 * the creator's to fill before the first msg_send; nobody writes them
 * after. */
struct msg {
    uint32_t refs; /* atomic; msg_retain/msg_release only */
    uint16_t kind; /* msg_kind_e */
    uint16_t flags;
    uint32_t len;    /* bytes of data */
    uint32_t off[3]; /* offsets into data, the kind's own meaning */
    uint64_t arg;    /* the kind's own: a connection id, a sequence number */
    char data[];
};

/* Delivers m on receiver thread `to` (m is borrowed: retain to keep it). */
typedef void (*msg_handler_fn)(unsigned to, struct msg *m);
/* Wakes receiver `to`'s loop, which then calls msg_drain(to); any
 * thread. */
typedef void (*msg_wake_fn)(unsigned to);

/* Sender ids beyond the workers. */
#define MSG_SENDER_ADMIN 0 /* + nworker: the admin thread */
#define MSG_SENDER_BLOCK 1 /* + nworker: the blocked clients' timer */
#define MSG_SENDER_ANY                                                         \
    2 /* + nworker: MSG_NANY ids msg_sender() hands to                         \
         other threads (the store's background thread) */
#define MSG_NANY   4
#define MSG_NEXTRA (2 + MSG_NANY)

/* nworker receivers (and senders), plus MSG_NEXTRA other senders. */
rstatus_i msg_setup(const msg_options_st *options, msg_metrics_st *metrics,
        unsigned nworker, msg_wake_fn wake);
/* After every sender and receiver has stopped: releases what is queued. */
void msg_teardown(void);
/* Before any message of that kind is sent; not thread-safe (setup). */
void msg_handle(msg_kind_e kind, msg_handler_fn fn);
unsigned msg_nworker(void);

/* Any thread. NULL when out of memory (counted by the caller). */
struct msg *msg_create(msg_kind_e kind, size_t len);
void msg_retain(struct msg *m);
/* NULL-safe; *m = NULL; the last reference frees the message. */
void msg_release(struct msg **m);

/* The calling thread's sender id: a worker's id once the worker set it
 * (msg_set_sender), else one of the MSG_NANY spare ids, taken on the
 * thread's first call and kept for its life; -1 when none is left (the
 * caller counts what it could not send). Any thread. */
int msg_sender(void);
void msg_set_sender(unsigned id);

/* Sender thread `from` only (a worker id, or nworker + MSG_SENDER_*):
 * queues m for receiver `to` (taking a reference) and wakes it. Never
 * waits. STATUS_ENOMEM when the ring is full and the overflow list cannot
 * grow (the message is not sent; counted in msg_overflow_ex). */
rstatus_i msg_send(unsigned from, unsigned to, struct msg *m);
/* Receiver thread `to` only: hands every message queued for it to its
 * kind's handler, each sender's in the order sent, and drops the queue's
 * reference. Returns how many were delivered. */
size_t msg_drain(unsigned to);
/* Messages waiting in overflow lists for `to` now (a snapshot); any
 * thread. */
uint64_t msg_overflow_pending(unsigned to);
