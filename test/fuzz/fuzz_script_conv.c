/* SPDX-License-Identifier: Apache-2.0 */
/* The conversions between RESP replies and Lua values of the scripting
 * engine (processor/resp_script.h). The input is read as one RESP2/RESP3
 * reply (what redis.call hands a script): the parser must not read out of
 * bounds or overflow the Lua stack whatever the bytes. A reply it accepts
 * goes back to RESP from Lua (as a script's return value, with RESP2 and
 * RESP3 scripts to RESP2 and RESP3 clients), and what that composes must
 * parse again as exactly one whole reply: no value a script holds can
 * break the client's protocol stream. */
#include "fuzz.h"

#include "base/buf.h"
#include "processor/resp_script.h"
#include "protocol/resp/compose.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_script_conv: %s:%d: %s\n", __FILE__,         \
                    __LINE__, #c);                                             \
            abort();                                                           \
        }                                                                      \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = luaL_newstate();
    CHECK(L != NULL);
    size_t used = script_resp_to_lua(L, (const char *)data, size);
    CHECK(used <= size);
    if (used == 0) {
        CHECK(lua_gettop(L) == 0);
        lua_close(L);
        return 0;
    }
    CHECK(lua_gettop(L) == 1);
    for (int script = 2; script <= 3; script++) {
        for (int proto = 2; proto <= 3; proto++) {
            struct buf b;
            CHECK(buf_init(&b, 256) == STATUS_OK);
            struct resp_writer w = {
                    .buf = &b,
                    .max = (size_t)1 << 28,
                    .proto = proto == 3 ? RESP_PROTO_3 : RESP_PROTO_2,
            };
            CHECK(script_lua_to_resp(L, 1, &w, script, NULL, NULL) ==
                    STATUS_OK);
            CHECK(lua_gettop(L) == 1);
            size_t n = buf_rsize(&b);
            size_t again = script_resp_to_lua(L, b.rpos, n);
            CHECK(again == n);
            lua_settop(L, 1);
            buf_deinit(&b);
        }
    }
    lua_close(L);
    return 0;
}
