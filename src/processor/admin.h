/* SPDX-License-Identifier: Apache-2.0 */
/* The admin processor: `stats`, `version`, `quit` as text lines and
 * HTTP GET /metrics (Prometheus text format) on the admin port. What the
 * stats say comes from the binary, which sees every module's metrics. */
#pragma once

#include "base/bstring.h"
#include "base/buf.h"
#include "core/processor.h"

struct admin_source {
    /* Appends "STAT name value\r\n" lines for `stats <arg>` (arg empty for
     * plain `stats`); STATUS_EINVAL for an argument it does not know. */
    rstatus_i (*stats)(struct buf *b, size_t max, const struct bstring *arg);
    /* Appends every metric in Prometheus text format. */
    rstatus_i (*metrics)(struct buf *b, size_t max);
    /* Zeroes the counters (`stats reset`). */
    void (*reset)(void);
    /* `hotkeys [N]`: lines for the hot keys (NULL: unknown command);
     * STATUS_EINVAL for an argument it does not take. */
    rstatus_i (*hotkeys)(struct buf *b, size_t max, const struct bstring *arg);
    /* `clients`: one line per connection of every worker (NULL: unknown
     * command); STATUS_EAGAIN when a worker did not answer in time (the
     * others' lines are in b). */
    rstatus_i (*clients)(struct buf *b, size_t max);
    /* `kill <id>`: closes that connection on its worker; STATUS_ENOTFOUND
     * when no worker holds it. */
    rstatus_i (*kill)(uint64_t id);
};

/* Before the admin thread starts. */
void proc_admin_setup(const struct admin_source *source);

extern const struct processor proc_admin;
