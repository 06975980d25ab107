/* SPDX-License-Identifier: Apache-2.0 */
/* Request objects: argv storage (embedded, then doubled on the heap) and the
 * module's limits and metrics. */
#include "protocol/resp/request.h"

#include "protocol/resp/internal.h"

#include "base/log.h"
#include "base/mm.h"

#include <string.h>

struct resp_limits resp_limits = {
        .max_args = 1048576,
        .max_bulk = 512 * MiB,
        .max_request = 2 * MiB,
        .request_cap = 2 * MiB,
};
resp_metrics_st *resp_metrics = NULL;

void
resp_setup(const resp_options_st *options, resp_metrics_st *metrics)
{
    resp_options_st defaults = {RESP_OPTION(INIT_OPTION)};
    if (options == NULL) {
        options = &defaults;
    }
    resp_limits.max_args = option_uint(&options->resp_max_args);
    resp_limits.max_bulk = option_uint(&options->resp_max_bulk);
    resp_limits.max_request = option_uint(&options->resp_max_request);
    resp_limits.request_cap = resp_limits.max_request;
    resp_metrics = metrics;
    log_info("resp: max_args %llu, max_bulk %llu, max_request %llu",
            (unsigned long long)resp_limits.max_args,
            (unsigned long long)resp_limits.max_bulk,
            (unsigned long long)resp_limits.max_request);
}

void
resp_teardown(void)
{
    resp_metrics = NULL;
}

void
resp_request_init(struct resp_request *req)
{
    memset(req, 0, sizeof(*req));
    req->argv = req->embed;
    req->nalloc = RESP_REQ_ARGV_EMBED;
    req->bulk_len = -1;
}

void
resp_request_deinit(struct resp_request *req)
{
    if (req->argv != req->embed) {
        mm_release(req->argv);
    }
    req->argv = req->embed;
    req->nalloc = RESP_REQ_ARGV_EMBED;
    req->argc = 0;
}

struct resp_request *
resp_request_create(void)
{
    struct resp_request *req = mm_alloc(sizeof(*req));
    if (req == NULL) {
        log_warn("resp: no memory for a request");
        return NULL;
    }
    resp_request_init(req);
    return req;
}

void
resp_request_destroy(struct resp_request **req)
{
    if (req == NULL || *req == NULL) {
        return;
    }
    resp_request_deinit(*req);
    mm_free(req);
}

void
resp_request_reset(struct resp_request *req)
{
    if (req->nalloc > RESP_REQ_ARGV_KEEP) {
        resp_request_deinit(req);
    }
    req->argc = 0;
    req->error = NULL;
    req->need = 0;
    req->remaining = 0;
    req->bulk_len = -1;
    req->off = 0;
    if (req->state != RESP_REQ_SWALLOW) {
        req->state = RESP_REQ_IDLE;
    }
}

rstatus_i
resp_request_argv_reserve(struct resp_request *req, uint64_t n)
{
    if (n <= req->nalloc) {
        return STATUS_OK;
    }
    uint64_t cap = req->nalloc;
    while (cap < n) {
        cap *= 2;
    }
    if (cap > UINT32_MAX) {
        cap = UINT32_MAX;
    }
    struct resp_arg *argv;
    if (req->argv == req->embed) {
        argv = mm_alloc(cap * sizeof(*argv));
        if (argv != NULL) {
            memcpy(argv, req->embed, req->argc * sizeof(*argv));
        }
    } else {
        argv = mm_realloc(req->argv, cap * sizeof(*argv));
    }
    if (argv == NULL) {
        INCR(resp_metrics, resp_req_argv_ex);
        log_debug("resp: argv of %llu arguments: no memory",
                (unsigned long long)cap);
        return STATUS_ENOMEM;
    }
    req->argv = argv;
    req->nalloc = (uint32_t)cap;
    return STATUS_OK;
}

uint64_t
resp_limit_get(resp_limit_e which)
{
    return __atomic_load_n(which == RESP_LIMIT_MAX_BULK
                                   ? &resp_limits.max_bulk
                                   : &resp_limits.max_request,
            __ATOMIC_RELAXED);
}

uint64_t
resp_limit_cap(resp_limit_e which)
{
    return which == RESP_LIMIT_MAX_BULK ? UINT64_MAX : resp_limits.request_cap;
}

void
resp_limit_set(resp_limit_e which, uint64_t value)
{
    __atomic_store_n(which == RESP_LIMIT_MAX_BULK ? &resp_limits.max_bulk
                                                  : &resp_limits.max_request,
            value, __ATOMIC_RELAXED);
}
