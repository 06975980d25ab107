/* SPDX-License-Identifier: Apache-2.0 */
/* The Lua state's allocator (resp_script_alloc.c) against a model: random
 * allocations, reallocations across the small/large boundary and frees,
 * each block filled with a pattern checked before it changes; Lua's own
 * use of it through a real state. */
#include "processor/resp_script_alloc.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NBLOCK 512

struct model {
    unsigned char *p;
    size_t size;
    unsigned char fill;
};

static void
check(const struct model *m)
{
    for (size_t i = 0; i < m->size; i++) {
        assert_int_equal(m->p[i], (unsigned char)(m->fill + i));
    }
}

static void
fill(struct model *m, unsigned char f)
{
    m->fill = f;
    for (size_t i = 0; i < m->size; i++) {
        m->p[i] = (unsigned char)(f + i);
    }
}

static size_t
random_size(void)
{
    switch (rand() % 4) {
    case 0:
        return 1 + (size_t)rand() % 16;
    case 1:
        return 1 + (size_t)rand() % SCRIPT_ALLOC_SMALL;
    case 2:
        return SCRIPT_ALLOC_SMALL - 8 + (size_t)rand() % 16; /* the edge */
    default:
        return 1 + (size_t)rand() % 4096;
    }
}

static void
test_against_a_model(void **state)
{
    (void)state;
    srand(17);
    struct script_alloc *a = script_alloc_create();
    assert_non_null(a);
    struct model m[NBLOCK] = {0};
    size_t used = 0;
    for (int step = 0; step < 200000; step++) {
        struct model *b = &m[rand() % NBLOCK];
        if (b->p == NULL) {
            b->size = random_size();
            b->p = script_alloc_fn(a, NULL, 0, b->size);
            assert_non_null(b->p);
            assert_int_equal((uintptr_t)b->p % 8, 0);
            used += b->size;
            fill(b, (unsigned char)rand());
        } else if (rand() % 3 == 0) {
            check(b);
            assert_null(script_alloc_fn(a, b->p, b->size, 0));
            used -= b->size;
            b->p = NULL;
        } else {
            check(b);
            size_t n = random_size();
            unsigned char *p = script_alloc_fn(a, b->p, b->size, n);
            assert_non_null(p);
            used += n - b->size;
            size_t keep = n < b->size ? n : b->size;
            b->p = p;
            b->size = keep; /* what survives the move */
            check(b);
            b->size = n;
            fill(b, (unsigned char)rand());
        }
        assert_int_equal(script_alloc_used(a), used);
    }
    for (int i = 0; i < NBLOCK; i++) {
        if (m[i].p != NULL) {
            check(&m[i]);
            script_alloc_fn(a, m[i].p, m[i].size, 0);
        }
    }
    assert_int_equal(script_alloc_used(a), 0);
    script_alloc_destroy(a);
}

/* Freed small blocks are taken again: a steady state allocates no more
 * chunks (outside ASan, where every block is malloc's). */
static void
test_free_lists_reused(void **state)
{
    (void)state;
    struct script_alloc *a = script_alloc_create();
    void *p[100];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++) {
            p[i] = script_alloc_fn(a, NULL, 0, 24 + (size_t)i);
            assert_non_null(p[i]);
        }
        for (int i = 0; i < 100; i++) {
            script_alloc_fn(a, p[i], 24 + (size_t)i, 0);
        }
    }
    assert_true(script_alloc_chunk_bytes(a) <= 64 * 1024);
    script_alloc_destroy(a);
}

static void
test_a_lua_state_runs_on_it(void **state)
{
    (void)state;
    struct script_alloc *a = script_alloc_create();
    lua_State *L = lua_newstate(script_alloc_fn, a);
    assert_non_null(L);
    luaL_openlibs(L);
    const char *code = "local t = {} "
                       "for i = 1, 20000 do t[i] = string.rep('x', i % 300) "
                       ".. i end "
                       "local n = 0 for i = 1, #t do n = n + #t[i] end "
                       "t = nil collectgarbage() return n";
    assert_int_equal(luaL_dostring(L, code), 0);
    assert_int_equal(lua_tointeger(L, -1), 3069094);
    lua_pop(L, 1);
    assert_int_equal((size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 +
                             (size_t)lua_gc(L, LUA_GCCOUNTB, 0),
            script_alloc_used(a));
    lua_close(L);
    assert_int_equal(script_alloc_used(a), 0);
    script_alloc_destroy(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_against_a_model),
            cmocka_unit_test(test_free_lists_reused),
            cmocka_unit_test(test_a_lua_state_runs_on_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
