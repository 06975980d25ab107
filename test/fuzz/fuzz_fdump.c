/* SPDX-License-Identifier: Apache-2.0 */
/* The FUNCTION RESTORE payload reader (processor/resp_fdump.h). The input
 * is read twice: as a whole payload (its checksum is almost always wrong:
 * refused without reading further), and as the body of a payload with a
 * correct footer, so the RDB string decoding (lengths, integers, LZF) sees
 * every byte. Whatever the bytes: no read out of bounds, and the
 * libraries read, written again by the writer, read back the same. */
#include "fuzz.h"

#include "processor/resp_fdump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_fdump: %s:%d: %s\n", __FILE__, __LINE__,     \
                    #c);                                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define MAX_LIBS 64

struct seen {
    char *code[MAX_LIBS];
    size_t len[MAX_LIBS];
    int n;
    int check; /* >= 0: compare with the first read instead */
};

static const char *
collect(void *arg, const char *code, size_t len)
{
    struct seen *s = arg;
    if (s->check >= 0) {
        CHECK(s->check < s->n && s->len[s->check] == len &&
                memcmp(s->code[s->check], code, len) == 0);
        s->check++;
        return NULL;
    }
    if (s->n == MAX_LIBS) {
        return "ERR too many";
    }
    s->code[s->n] = malloc(len + 1);
    CHECK(s->code[s->n] != NULL);
    memcpy(s->code[s->n], code, len);
    s->len[s->n++] = len;
    return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen s = {.check = -1};
    (void)fdump_read((const char *)data, size, collect, &s);
    for (int i = 0; i < s.n; i++) {
        free(s.code[i]);
    }
    s.n = 0;
    char *p = malloc(size + FDUMP_FOOTER);
    CHECK(p != NULL);
    memcpy(p, data, size);
    char *end = fdump_put_footer(p, p + size);
    const char *err = fdump_read(p, (size_t)(end - p), collect, &s);
    free(p);
    size_t total = FDUMP_FOOTER;
    for (int i = 0; i < s.n; i++) {
        total += fdump_entry_size(s.len[i]);
    }
    char *again = malloc(total);
    CHECK(again != NULL);
    end = again;
    for (int i = 0; i < s.n; i++) {
        end = fdump_put_entry(end, s.code[i], s.len[i]);
    }
    end = fdump_put_footer(again, end);
    CHECK((size_t)(end - again) == total);
    int first = s.n;
    s.check = 0;
    const char *err2 = fdump_read(again, total, collect, &s);
    (void)err; /* whatever stopped the first read, what it read re-reads */
    CHECK(err2 == NULL && s.check == first);
    free(again);
    for (int i = 0; i < s.n; i++) {
        free(s.code[i]);
    }
    return 0;
}
