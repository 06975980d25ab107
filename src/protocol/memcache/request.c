/* SPDX-License-Identifier: Apache-2.0 */
/* Request tables and helpers for the memcache protocol. */
#include "protocol/memcache/request.h"

#include <string.h>

#define TYPE_STR_ROW(_name, _str, _min, _max) [_name] = (_str),
static const char *const type_str[] = {MEMCACHE_REQ_TYPE(TYPE_STR_ROW)};

#define ERROR_STR_ROW(_name, _str) [_name] = (_str),
static const char *const error_str[] = {MEMCACHE_ERROR(ERROR_STR_ROW)};

#define ERROR_LEN_ROW(_name, _str) [_name] = sizeof(_str) - 1,
static const size_t error_len[] = {MEMCACHE_ERROR(ERROR_LEN_ROW)};

const char *
memcache_req_type_str(memcache_req_type_e type)
{
    if ((unsigned)type >= MEMCACHE_REQ_SENTINEL) {
        return "";
    }
    return type_str[type];
}

const char *
memcache_error_str(memcache_error_e err)
{
    if ((unsigned)err >= MEMCACHE_ERR_SENTINEL) {
        return "";
    }
    return error_str[err];
}

size_t
memcache_error_len(memcache_error_e err)
{
    if ((unsigned)err >= MEMCACHE_ERR_SENTINEL) {
        return 0;
    }
    return error_len[err];
}

void
memcache_request_reset(struct memcache_request *req)
{
    /* arg and key_buf need no clearing: narg and key say what is valid */
    memset(req, 0, offsetof(struct memcache_request, arg));
    req->meta.delta = 1;
}

bool
memcache_req_is_storage(memcache_req_type_e type)
{
    switch (type) {
    case MEMCACHE_REQ_SET:
    case MEMCACHE_REQ_ADD:
    case MEMCACHE_REQ_REPLACE:
    case MEMCACHE_REQ_APPEND:
    case MEMCACHE_REQ_PREPEND:
    case MEMCACHE_REQ_CAS:
    case MEMCACHE_REQ_MS:
        return true;
    default:
        return false;
    }
}

bool
memcache_req_is_retrieval(memcache_req_type_e type)
{
    switch (type) {
    case MEMCACHE_REQ_GET:
    case MEMCACHE_REQ_GETS:
    case MEMCACHE_REQ_GAT:
    case MEMCACHE_REQ_GATS:
        return true;
    default:
        return false;
    }
}

bool
memcache_request_key_next(
        const struct memcache_request *req, size_t *pos, struct bstring *key)
{
    const char *p = req->keys.data;
    size_t len = req->keys.len;
    size_t i = *pos;

    while (i < len && p[i] == ' ') {
        i++;
    }
    if (i >= len) {
        *pos = len;
        return false;
    }
    size_t start = i;
    while (i < len && p[i] != ' ') {
        i++;
    }
    *key = bstring_of(p + start, i - start);
    *pos = i;
    return true;
}
