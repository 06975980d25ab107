/* SPDX-License-Identifier: Apache-2.0 */
/* The binary's option struct with every default. */
#include "setting.h"

_Static_assert(sizeof(struct setting) % sizeof(struct option) == 0,
        "struct setting must be a whole number of options");

struct setting setting = {
        .log = {LOG_OPTION(INIT_OPTION)},
        .listen = {LISTEN_OPTION(INIT_OPTION)},
        .process = {PROCESS_OPTION(INIT_OPTION)},
        .server = {SERVER_OPTION(INIT_OPTION)},
        .worker = {WORKER_OPTION(INIT_OPTION)},
        .msg = {MSG_OPTION(INIT_OPTION)},
        .admin = {ADMIN_OPTION(INIT_OPTION)},
        .tls = {TLS_OPTION(INIT_OPTION)},
        .seg = {SEG_OPTION(INIT_OPTION)},
        .memcache = {MEMCACHE_PARSE_OPTION(INIT_OPTION)},
        .resp = {RESP_OPTION(INIT_OPTION)},
        .resp_proc = {PROC_RESP_OPTION(INIT_OPTION)},
        .hotkey = {HOTKEY_OPTION(INIT_OPTION)},
};
