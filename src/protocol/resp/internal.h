/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the files of this library only (not for other modules):
 * the limits and metrics set by resp_setup, and argv growth. */
#pragma once

#include "protocol/resp/request.h"

#include "base/status.h"

#include <stdint.h>

struct resp_limits {
    uint64_t max_args;
    uint64_t max_bulk;
    uint64_t max_request;
};

/* Written by resp_setup before workers start; read-only afterwards. */
extern struct resp_limits resp_limits;
extern resp_metrics_st *resp_metrics;

/* Makes room for at least n arguments in req->argv (keeping the ones
 * there); STATUS_ENOMEM if that allocation fails. */
rstatus_i resp_request_argv_reserve(struct resp_request *req, uint64_t n);
