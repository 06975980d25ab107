/* SPDX-License-Identifier: Apache-2.0 */
/* Reply tables for the memcache protocol. */
#include "protocol/memcache/response.h"

#define RSP_STR_ROW(_name, _str) [_name] = (_str),
static const char *const rsp_str[] = {MEMCACHE_RSP_TYPE(RSP_STR_ROW)};
static const char *const code_str[] = {MEMCACHE_META_CODE(RSP_STR_ROW)};

const char *
memcache_rsp_str(memcache_rsp_type_e type)
{
    return (unsigned)type < MEMCACHE_RSP_SENTINEL ? rsp_str[type] : "";
}

const char *
memcache_meta_code_str(memcache_meta_code_e code)
{
    return (unsigned)code < MEMCACHE_META_CODE_SENTINEL ? code_str[code] : "";
}
