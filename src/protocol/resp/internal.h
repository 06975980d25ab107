/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the files of this library only (not for other modules):
 * the limits and metrics set by resp_setup, and argv growth. */
#pragma once

#include "protocol/resp/request.h"

#include "base/status.h"

#include <stdint.h>

struct resp_limits {
    uint64_t max_args;
    uint64_t max_bulk;    /* CONFIG SET proto-max-bulk-len: relaxed atomic */
    uint64_t max_request; /* CONFIG SET client-query-buffer-limit: relaxed */
    /* at most max_bulk and max_request whatever CONFIG SET makes them
     * (RESP_LIMIT_FLOOR), the base of every request's fast_max */
    uint64_t floor;
};

/* Written by resp_setup before workers start; afterwards only max_bulk and
 * max_request change (resp_limit_set), read with relaxed atomics. */
extern struct resp_limits resp_limits;
extern resp_metrics_st *resp_metrics;

/* Makes room for at least n arguments in req->argv (keeping the ones
 * there); STATUS_ENOMEM if that allocation fails. */
rstatus_i resp_request_argv_reserve(struct resp_request *req, uint64_t n);
