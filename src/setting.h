/* SPDX-License-Identifier: Apache-2.0 */
/* Every module's option table gathered into one struct for the binary:
 * loaded from defaults, the YAML file and the command line, in that order. */
#pragma once

#include "base/option.h"
#include "core/admin.h"
#include "core/msg.h"
#include "core/process.h"
#include "core/server.h"
#include "core/tls.h"
#include "core/worker.h"
#include "hotkey/hotkey.h"
#include "processor/resp.h"
#include "protocol/memcache/parse.h"
#include "protocol/resp/request.h"
#include "storage/seg/seg.h"

/* clang-format off */
/*          name              type         default            description */
#define LISTEN_OPTION(ACTION)                                                  \
    ACTION( memcache_listen,  OPTION_STR,  "127.0.0.1:11211", "memcache listener (host:port, or off)") \
    ACTION( resp_listen,      OPTION_STR,  "127.0.0.1:6379",  "resp (Redis) listener (host:port, or off)") \
    ACTION( ping_listen,      OPTION_STR,  "off",             "ping listener (host:port, or off)") \
    ACTION( memcache_tls_listen, OPTION_STR, "off",           "memcache listener over TLS (host:port, or off; see tls.*)") \
    ACTION( resp_tls_listen,  OPTION_STR,  "off",             "resp listener over TLS (host:port, or off; Redis tls-port)")

/*          name              type         default            description */
#define LOG_OPTION(ACTION)                                                     \
    ACTION( log_level,        OPTION_STR,  "info",            "crit, error, warn, info, debug or verb") \
    ACTION( log_file,         OPTION_STR,  "",                "log file (empty: stderr)")
/* clang-format on */

struct setting {
    struct {
        LOG_OPTION(DECLARE_OPTION)
    } log;
    struct {
        LISTEN_OPTION(DECLARE_OPTION)
    } listen;
    process_options_st process;
    server_options_st server;
    worker_options_st worker;
    msg_options_st msg;
    admin_options_st admin;
    tls_options_st tls;
    seg_options_st seg;
    memcache_parse_options_st memcache;
    resp_options_st resp;           /* resp.max_args ... (protocol) */
    proc_resp_options_st resp_proc; /* resp.requirepass (processor) */
    hotkey_options_st hotkey;
};

extern struct setting setting;

#define SETTING_NOPT (sizeof(struct setting) / sizeof(struct option))

static inline struct option *
setting_options(void)
{
    return (struct option *)&setting;
}
