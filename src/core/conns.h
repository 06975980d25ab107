/* SPDX-License-Identifier: Apache-2.0 */
/* Every connection of every worker, for operators: the admin port's
 * `clients` and `kill <id>`. A worker's connections are its own (conn.h),
 * so the admin thread asks each worker over the message path (core/msg.h,
 * sender nworker + MSG_SENDER_ADMIN) and waits for the answers, at most
 * CONNS_WAIT_MS: each worker describes its connections on its own thread,
 * between two events, and the admin thread collects the lines. A kill is
 * the KILL message CLIENT KILL sends, to the worker that answered it holds
 * the id. Nothing here touches the request path.
 *
 *   client id=7 addr=127.0.0.1:50412 proto=resp worker=1 age=12 idle=0
 * rbuf=0/16384 wbuf=0/0
 */
#pragma once

#include "base/buf.h"
#include "base/status.h"

#include <stddef.h>
#include <stdint.h>

#define CONNS_WAIT_MS 2000

/* After msg_setup and the workers' setup, before they start. */
void conns_setup(void);
/* Admin thread only. Appends one line per connection, worker by worker;
 * STATUS_EAGAIN (lines of the workers that answered appended) when a
 * worker did not answer in CONNS_WAIT_MS, STATUS_ENOMEM. */
rstatus_i conns_list(struct buf *b, size_t max);
/* Admin thread only: closes connection id on whichever worker holds it
 * (unsent bytes dropped, as CLIENT KILL). STATUS_ENOTFOUND when no worker
 * holds it. */
rstatus_i conns_kill(uint64_t id);
