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
        .max_request = 1024 * MiB,
        .floor = RESP_LIMIT_FLOOR,
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
    resp_limits.floor = RESP_LIMIT_FLOOR;
    if (resp_limits.floor > resp_limits.max_bulk) {
        resp_limits.floor = resp_limits.max_bulk;
    }
    if (resp_limits.floor > resp_limits.max_request) {
        resp_limits.floor = resp_limits.max_request;
    }
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
    resp_request_limits(req, 0, SIZE_MAX);
}

void
resp_request_limits(struct resp_request *req, size_t buf_max, size_t stream_min)
{
    req->buf_max = buf_max;
    req->stream_min = stream_min;
    if (req->base != 0) {
        return; /* fast_max stays 0 until the streamed request ends */
    }
    size_t fast = (size_t)resp_limits.floor;
    if (buf_max != 0 && buf_max < fast) {
        fast = buf_max;
    }
    req->fast_max = stream_min < fast ? stream_min : fast;
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

/* The part of a reset after a request whose bulk was offered as a
 * stream, taken or not. */
static void
stream_reset(struct resp_request *req)
{
    if (req->state == RESP_REQ_STREAM) {
        /* the caller gave up mid-value: the rest is discarded */
        req->state = RESP_REQ_SWALLOW;
        req->swallow = req->stream_left;
        req->swallow_args = req->remaining;
    }
    req->offered = 0;
    req->declined = 0;
    req->base = 0;
    req->fixed = 0;
    req->stream_left = 0;
    resp_request_limits(req, req->buf_max, req->stream_min);
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
    if (__builtin_expect(req->offered, 0)) {
        stream_reset(req);
    }
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

void
resp_limit_set(resp_limit_e which, uint64_t value)
{
    ASSERT(value >= RESP_LIMIT_FLOOR); /* CONFIG SET's bound, as Redis's */
    __atomic_store_n(which == RESP_LIMIT_MAX_BULK ? &resp_limits.max_bulk
                                                  : &resp_limits.max_request,
            value, __ATOMIC_RELAXED);
}
