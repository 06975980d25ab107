/* SPDX-License-Identifier: Apache-2.0 */
/* Arbitrary bytes as a CONFIG SET notify-keyspace-events value
 * (processor/notify.h): the parser either refuses them (-1) or gives
 * flags whose rendering fits NOTIFY_FLAGS_MAX, parses again, and renders
 * the same (CONFIG GET's value is a value CONFIG SET takes back). */
#include "fuzz.h"

#include "processor/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_notify_flags: %s:%d: %s\n", __FILE__,        \
                    __LINE__, #c);                                             \
            abort();                                                           \
        }                                                                      \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int f = notify_flags_parse((const char *)data, size);
    if (f < 0) {
        return 0;
    }
    char out[NOTIFY_FLAGS_MAX + 1];
    out[NOTIFY_FLAGS_MAX] = 'X'; /* a guard: the rendering stops before */
    size_t n = notify_flags_format(f, out);
    CHECK(n < NOTIFY_FLAGS_MAX && out[NOTIFY_FLAGS_MAX] == 'X');
    CHECK(strlen(out) == n);
    int g = notify_flags_parse(out, n);
    CHECK(g >= 0);
    char again[NOTIFY_FLAGS_MAX];
    CHECK(notify_flags_format(g, again) == n);
    CHECK(memcmp(out, again, n) == 0);
    return 0;
}
