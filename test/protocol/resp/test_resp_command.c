/* SPDX-License-Identifier: Apache-2.0 */
/* The command table and lookup, and the errors Redis gives before a
 * command runs. Expected rows and error strings are what redis-server
 * 7.0.15 answered (COMMAND INFO, and the same requests sent raw). */
#include "unit.h"

#include "protocol/resp/command.h"
#include "protocol/resp/compose.h"
#include "protocol/resp/request.h"

#include "base/buf.h"

#include <string.h>

static struct buf wbuf;

static int
test_setup(void **state)
{
    static struct resp_writer w;
    if (buf_init(&wbuf, 64) != STATUS_OK) {
        return -1;
    }
    w = (struct resp_writer){
            .buf = &wbuf, .max = 1 << 20, .proto = RESP_PROTO_2};
    *state = &w;
    return 0;
}

static int
test_teardown(void **state)
{
    (void)state;
    buf_deinit(&wbuf);
    return 0;
}

static void
expect_reply(struct resp_writer *w, const char *expected)
{
    assert_int_equal(buf_rsize(w->buf), strlen(expected));
    assert_memory_equal(w->buf->rpos, expected, strlen(expected));
    buf_clear(w->buf);
}

/* argv from NUL-separated text with explicit lengths */
static uint32_t
args_of(struct resp_arg *argv, const char *const *words, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        argv[i].data = words[i];
        argv[i].len = strlen(words[i]);
    }
    return n;
}

static const struct resp_command *
find(const char *name)
{
    return resp_command_find(name, strlen(name));
}

/* Sorted tables (binary search depends on it) and a consistent id index. */
static void
test_table_sorted_and_indexed(void **state)
{
    (void)state;
    size_t seen = 0;
    for (size_t i = 0; i < RESP_NCOMMAND; i++) {
        const struct resp_command *c = resp_command_at(i);
        assert_int_equal(c->name_len, strlen(c->name));
        assert_int_equal(c->parent, RESP_NCOMMAND_ALL);
        assert_ptr_equal(resp_command_by_id(c->id), c);
        if (i > 0) {
            assert_true(strcmp(resp_command_at(i - 1)->name, c->name) < 0);
        }
        seen++;
        for (size_t j = 0; j < c->nsub; j++) {
            const struct resp_command *s = &c->sub[j];
            assert_int_equal(s->parent, c->id);
            assert_ptr_equal(resp_command_by_id(s->id), s);
            if (j > 0) {
                assert_true(strcmp(c->sub[j - 1].name, s->name) < 0);
            }
            seen++;
        }
    }
    assert_int_equal(seen, RESP_NCOMMAND_ALL);
    assert_null(resp_command_at(RESP_NCOMMAND));
    assert_null(resp_command_by_id(RESP_NCOMMAND_ALL));
}

/* Rows as COMMAND INFO printed them on redis-server 7.0.15. */
static void
test_table_rows_match_redis(void **state)
{
    (void)state;
    const struct resp_command *c = find("get");
    assert_non_null(c);
    assert_int_equal(c->arity, 2);
    assert_int_equal(c->flags, RESP_CMD_F_READONLY | RESP_CMD_F_FAST);
    assert_int_equal(c->acl, RESP_ACL_READ | RESP_ACL_STRING | RESP_ACL_FAST);
    assert_int_equal(c->first_key, 1);
    assert_int_equal(c->last_key, 1);
    assert_int_equal(c->step, 1);
    assert_int_equal(c->nkeyspec, 1);
    assert_string_equal(c->keyspecs[0].flags, "RO access");
    assert_string_equal(c->summary, "Get the value of a key");

    c = find("mset");
    assert_int_equal(c->arity, -3);
    assert_int_equal(c->last_key, -1);
    assert_int_equal(c->step, 2);
    assert_int_equal(c->ntip, 2);
    assert_string_equal(c->tips[0], "request_policy:multi_shard");

    c = find("quit");
    assert_int_equal(c->arity, -1);
    assert_int_equal(c->flags, RESP_CMD_F_NOSCRIPT | RESP_CMD_F_LOADING |
                                       RESP_CMD_F_STALE | RESP_CMD_F_FAST |
                                       RESP_CMD_F_NO_AUTH |
                                       RESP_CMD_F_ALLOW_BUSY);

    c = find("rename");
    assert_int_equal(c->nkeyspec, 2);
    assert_int_equal(c->keyspecs[1].index, 2);

    c = find("getset");
    assert_string_equal(c->doc_flags, "deprecated");
    assert_string_equal(c->replaced_by, "`SET` with the `!GET` argument");

    assert_string_equal(resp_command_flag_names[RESP_CMD_F_BIT_WRITE], "write");
    assert_string_equal(
            resp_command_flag_names[RESP_CMD_F_BIT_ALLOW_BUSY], "allow_busy");
    assert_string_equal(
            resp_acl_category_names[RESP_ACL_BIT_SCRIPTING], "scripting");
}

/* Every command the issue lists is in the table. */
static void
test_table_has_issue_commands(void **state)
{
    (void)state;
    static const char *const names[] = {"get", "set", "setnx", "setex",
            "psetex", "getset", "getdel", "getex", "mget", "mset", "msetnx",
            "append", "strlen", "getrange", "substr", "setrange", "incr",
            "decr", "incrby", "decrby", "incrbyfloat", "del", "unlink",
            "exists", "touch", "type", "rename", "renamenx", "copy", "expire",
            "pexpire", "expireat", "pexpireat", "expiretime", "pexpiretime",
            "ttl", "pttl", "persist", "keys", "scan", "randomkey", "dbsize",
            "flushdb", "flushall", "ping", "echo", "quit", "reset", "hello",
            "auth", "select", "client|id", "client|setname", "client|getname",
            "client|info", "client|list", "client|setinfo", "client|no-evict",
            "client|reply", "command|count", "command|info", "command|docs",
            "command|list", "command|getkeys", "config|get", "config|set",
            "config|resetstat", "info", "time", "function|flush",
            "function|list", "script|flush", "debug", "multi", "exec",
            "discard", "watch", "unwatch"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct resp_command *c =
                resp_command_find_fullname(names[i], strlen(names[i]));
        assert_non_null(c);
        assert_string_equal(c->fullname, names[i]);
    }
}

static void
test_lookup_case_insensitive(void **state)
{
    (void)state;
    assert_int_equal(find("GET")->id, RESP_CMD_GET);
    assert_int_equal(find("gEt")->id, RESP_CMD_GET);
    assert_int_equal(find("IncrByFloat")->id, RESP_CMD_INCRBYFLOAT);
    assert_null(find("ge"));
    assert_null(find("gett"));
    assert_null(find(""));
    assert_int_equal(find("lPuSh")->id, RESP_CMD_LPUSH);
    assert_null(find("xadd"));      /* not served: not in the table */
    assert_null(find("client|id")); /* only by full name */
    assert_null(resp_command_find("get\0", 4));
    assert_int_equal(resp_command_find("getxyz", 3)->id, RESP_CMD_GET);

    struct resp_arg argv[3];
    const char *const a[] = {"Client", "SETNAME", "x"};
    assert_int_equal(resp_command_lookup(argv, args_of(argv, a, 3))->id,
            RESP_CMD_CLIENT_SETNAME);
    assert_int_equal(resp_command_lookup(argv, 1)->id, RESP_CMD_CLIENT);
    const char *const b[] = {"client", "no-EVICT"};
    assert_int_equal(resp_command_lookup(argv, args_of(argv, b, 2))->id,
            RESP_CMD_CLIENT_NO_EVICT);
    const char *const c[] = {"client", "nosuch"};
    assert_null(resp_command_lookup(argv, args_of(argv, c, 2)));
    const char *const d[] = {"get", "nosuch"};
    assert_int_equal(
            resp_command_lookup(argv, args_of(argv, d, 2))->id, RESP_CMD_GET);

    assert_int_equal(resp_command_find_fullname("CONFIG|Get", 10)->id,
            RESP_CMD_CONFIG_GET);
    assert_null(resp_command_find_fullname("config|get|x", 12));
    assert_null(resp_command_find_fullname("get|x", 5));
    assert_null(resp_command_find_fullname("config|", 7));
}

static void
test_arity(void **state)
{
    (void)state;
    assert_true(resp_command_arity_ok(find("get"), 2));
    assert_false(resp_command_arity_ok(find("get"), 1));
    assert_false(resp_command_arity_ok(find("get"), 3));
    assert_false(resp_command_arity_ok(find("set"), 2));
    assert_true(resp_command_arity_ok(find("set"), 3));
    assert_true(resp_command_arity_ok(find("set"), 9));
    assert_true(resp_command_arity_ok(find("ping"), 1));
}

static void
test_keys(void **state)
{
    (void)state;
    uint32_t pos[8];
    assert_int_equal(resp_command_keys(find("get"), NULL, 2, pos, 8), 1);
    assert_int_equal(pos[0], 1);
    /* COMMAND GETKEYS mset a b c -> a c (Redis) */
    assert_int_equal(resp_command_keys(find("mset"), NULL, 4, pos, 8), 2);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 3);
    assert_int_equal(resp_command_keys(find("del"), NULL, 5, pos, 2), 4);
    assert_int_equal(pos[1], 2);
    assert_int_equal(resp_command_keys(find("rename"), NULL, 3, pos, 8), 2);
    assert_int_equal(pos[1], 2);
    assert_int_equal(resp_command_keys(find("ping"), NULL, 1, pos, 8), 0);
    assert_int_equal(resp_command_keys(find("keys"), NULL, 2, pos, 8), 0);
}

/* Each expectation is redis-server 7.0.15's reply to the same argv. */
static void
test_error_unknown_command(void **state)
{
    struct resp_writer *w = *state;
    struct resp_arg argv[5];
    char name[131];
    char a200[201];
    char a100[101];
    char b100[101];
    char a126[127];
    char a125[126];
    char expected[512];

    memset(name, 'x', 130);
    name[130] = '\0';
    memset(a200, 'a', 200);
    a200[200] = '\0';
    memset(a100, 'a', 100);
    a100[100] = '\0';
    memset(b100, 'b', 100);
    b100[100] = '\0';
    memset(a126, 'a', 126);
    a126[126] = '\0';
    memset(a125, 'a', 125);
    a125[125] = '\0';

    const char *const c1[] = {"foo", "a", "b"};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c1, 3));
    expect_reply(w, "-ERR unknown command 'foo', with args beginning with: "
                    "'a' 'b' \r\n");

    const char *const c2[] = {"foo"};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c2, 1));
    expect_reply(w, "-ERR unknown command 'foo', with args beginning with: "
                    "\r\n");

    /* the name is cut at 128 bytes */
    const char *const c3[] = {name, "a"};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c3, 2));
    snprintf(expected, sizeof(expected),
            "-ERR unknown command '%.128s', with args beginning with: "
            "'a' \r\n",
            name);
    expect_reply(w, expected);

    /* one long argument: cut at 128 */
    const char *const c4[] = {"foo", a200, "b"};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c4, 3));
    snprintf(expected, sizeof(expected),
            "-ERR unknown command 'foo', with args beginning with: "
            "'%.128s' \r\n",
            a200);
    expect_reply(w, expected);

    /* 103 bytes of list after the first; the second cut to 25 */
    const char *const c5[] = {"foo", a100, b100, "c"};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c5, 4));
    snprintf(expected, sizeof(expected),
            "-ERR unknown command 'foo', with args beginning with: "
            "'%s' '%.25s' \r\n",
            a100, b100);
    expect_reply(w, expected);

    /* the list reaches 128 after one argument: no more */
    const char *const c6[] = {"foo", a126, "b"};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c6, 3));
    snprintf(expected, sizeof(expected),
            "-ERR unknown command 'foo', with args beginning with: "
            "'%s' \r\n",
            a126);
    expect_reply(w, expected);
    const char *const c7[] = {"foo", a125, "b", "c"};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c7, 4));
    snprintf(expected, sizeof(expected),
            "-ERR unknown command 'foo', with args beginning with: "
            "'%s' \r\n",
            a125);
    expect_reply(w, expected);

    /* CR and LF become spaces */
    const char *const c8[] = {"foo", "a\r\nb", "c\nd"};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c8, 3));
    expect_reply(w, "-ERR unknown command 'foo', with args beginning with: "
                    "'a  b' 'c d' \r\n");
    const char *const c9[] = {"fo\r\no"};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c9, 1));
    expect_reply(w, "-ERR unknown command 'fo  o', with args beginning with: "
                    "\r\n");

    /* a NUL byte ends an argument's text (Redis prints C strings) */
    argv[0] = (struct resp_arg){.len = 3, .data = "foo"};
    argv[1] = (struct resp_arg){.len = 3, .data = "a\0b"};
    argv[2] = (struct resp_arg){.len = 1, .data = "c"};
    resp_compose_err_unknown_command(w, argv, 3);
    expect_reply(w, "-ERR unknown command 'foo', with args beginning with: "
                    "'a' 'c' \r\n");
    argv[0] = (struct resp_arg){.len = 4, .data = "f\0oo"};
    argv[1] = (struct resp_arg){.len = 1, .data = "x"};
    resp_compose_err_unknown_command(w, argv, 2);
    expect_reply(w, "-ERR unknown command 'f', with args beginning with: "
                    "'x' \r\n");

    const char *const c10[] = {"foo", "", "", ""};
    resp_compose_err_unknown_command(w, argv, args_of(argv, c10, 4));
    expect_reply(w, "-ERR unknown command 'foo', with args beginning with: "
                    "'' '' '' \r\n");
    argv[0] = (struct resp_arg){.len = 0, .data = ""};
    resp_compose_err_unknown_command(w, argv, 1);
    expect_reply(w, "-ERR unknown command '', with args beginning with: "
                    "\r\n");
}

static void
test_error_subcommand_and_arity(void **state)
{
    struct resp_writer *w = *state;
    struct resp_arg argv[8];
    char x200[201];
    char expected[512];

    memset(x200, 'x', 200);
    x200[200] = '\0';
    const char *const c1[] = {"cLiEnt", x200};
    assert_null(resp_command_check(w, argv, args_of(argv, c1, 2)));
    snprintf(expected, sizeof(expected),
            "-ERR unknown subcommand '%.128s'. Try CLIENT HELP.\r\n", x200);
    expect_reply(w, expected);

    const char *const c2[] = {"client", "a\r\nb"};
    assert_null(resp_command_check(w, argv, args_of(argv, c2, 2)));
    expect_reply(w, "-ERR unknown subcommand 'a  b'. Try CLIENT HELP.\r\n");

    const char *const c3[] = {"client"};
    assert_null(resp_command_check(w, argv, args_of(argv, c3, 1)));
    expect_reply(w, "-ERR wrong number of arguments for 'client' command\r\n");

    const char *const c4[] = {"client", "setname"};
    assert_null(resp_command_check(w, argv, args_of(argv, c4, 2)));
    expect_reply(w, "-ERR wrong number of arguments for 'client|setname' "
                    "command\r\n");

    const char *const c5[] = {"GET"};
    assert_null(resp_command_check(w, argv, args_of(argv, c5, 1)));
    expect_reply(w, "-ERR wrong number of arguments for 'get' command\r\n");

    const char *const c6[] = {"config", "get"};
    assert_null(resp_command_check(w, argv, args_of(argv, c6, 2)));
    expect_reply(w, "-ERR wrong number of arguments for 'config|get' "
                    "command\r\n");

    /* PING's arity is -1: Redis's "wrong number of arguments for 'ping'"
     * for PING a b comes from the command itself, not from this check */
    const char *const c7[] = {"PING", "a", "b"};
    assert_non_null(resp_command_check(w, argv, args_of(argv, c7, 3)));
    assert_true(buf_empty(w->buf));

    const char *const c8[] = {"client|setname", "x"};
    assert_null(resp_command_check(w, argv, args_of(argv, c8, 2)));
    expect_reply(w, "-ERR unknown command 'client|setname', with args "
                    "beginning with: 'x' \r\n");

    const char *const c9[] = {"eval", "return 1", "0"};
    assert_null(resp_command_check(w, argv, args_of(argv, c9, 3)));
    expect_reply(w, "-ERR unknown command 'eval', with args beginning with: "
                    "'return 1' '0' \r\n");

    const char *const ok[] = {"Set", "k", "v", "EX", "10"};
    const struct resp_command *c =
            resp_command_check(w, argv, args_of(argv, ok, 5));
    assert_non_null(c);
    assert_int_equal(c->id, RESP_CMD_SET);
    assert_true(buf_empty(w->buf));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
            T(test_table_sorted_and_indexed),
            T(test_table_rows_match_redis),
            T(test_table_has_issue_commands),
            T(test_lookup_case_insensitive),
            T(test_arity),
            T(test_keys),
            T(test_error_unknown_command),
            T(test_error_subcommand_and_arity),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
