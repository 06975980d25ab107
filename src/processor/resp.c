/* SPDX-License-Identifier: Apache-2.0 */
/* Resp processor: the read loop (pipelining, protocol errors, refused
 * requests), what Redis's processCommand checks before a command runs
 * (lookup, arity, AUTH, MULTI queueing), dispatch, CLIENT REPLY, and
 * transactions (MULTI EXEC DISCARD WATCH UNWATCH).
 *
 * Isolation of EXEC: EXEC holds the stripes of every key its queued
 * commands name and every watched key (keyspace.h "holds";
 * resp_exec.c), then checks WATCH, then runs the commands back to back:
 * no other connection, on any worker, sees part of it or writes its keys
 * in between, and connections on other keys go on. A command with
 * several keys (MSET, RENAME, SMOVE ...) holds its keys the same way.
 * WATCH compares each watched key's CAS and expiry at EXEC with what WATCH
 * saw. */
#include "processor/resp.h"

#include "base/log.h"
#include "base/mm.h"
#include "base/time.h"
#include "processor/resp_internal.h"
#include "processor/resp_script.h"
#include "processor/resp_zset.h"

#include <inttypes.h>
#include <string.h>

proc_resp_metrics_st *resp_proc_metrics;
struct resp_info_source resp_source;
static char *requirepass; /* NULL: no password */

static const resp_handler_fn handlers[RESP_NCOMMAND_ALL];

/* ---- small helpers ---- */

bool
resp_arg_is(const struct resp_arg *a, const char *word)
{
    size_t n = strlen(word);
    if (a->len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a->data[i];
        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c + ('a' - 'A'));
        }
        if (c != (unsigned char)word[i]) {
            return false;
        }
    }
    return true;
}

bool
resp_arg_int64(const struct resp_arg *a, int64_t *v)
{
    return resp_parse_int64(a->data, a->len, v);
}

rstatus_i
resp_err(struct resp_ctx *x, const char *msg)
{
    return resp_compose_error(x->w, msg, strlen(msg));
}

rstatus_i
resp_err_syntax(struct resp_ctx *x)
{
    return resp_err(x, "ERR syntax error");
}

rstatus_i
resp_err_int(struct resp_ctx *x)
{
    return resp_err(x, "ERR value is not an integer or out of range");
}

rstatus_i
resp_err_expire(struct resp_ctx *x)
{
    return resp_compose_error_fmt(
            x->w, "ERR invalid expire time in '%s' command", x->cmd->fullname);
}

rstatus_i
resp_err_wrongtype(struct resp_ctx *x)
{
    return resp_err(x, "WRONGTYPE Operation against a key holding the wrong "
                       "kind of value");
}

rstatus_i
resp_err_storage(struct resp_ctx *x, storage_status_e s)
{
    switch (s) {
    case STORAGE_ENOMEM:
        INCR(resp_proc_metrics, resp_write_oom);
        return resp_err(x, "OOM command not allowed when used memory > "
                           "'maxmemory'.");
    case STORAGE_EOVERSIZE:
        return resp_err(x, "ERR string exceeds maximum allowed size "
                           "(proto-max-bulk-len)");
    case STORAGE_EWRONGTYPE:
        return resp_err_wrongtype(x);
    case STORAGE_EINVAL:
        /* Redis takes any key; the store takes 1 .. STORAGE_KEY_MAX bytes */
        return resp_err(x, "ERR invalid key: segcached keys are 1 to 65535 "
                           "bytes long");
    default:
        log_debug("resp %s: unexpected storage status %s", x->cmd->fullname,
                storage_status_str(s));
        return resp_compose_error_fmt(
                x->w, "ERR storage failure (%s)", storage_status_str(s));
    }
}

rstatus_i
resp_reply_text(struct resp_ctx *x, const char *s, size_t len)
{
    return resp_compose_verbatim(x->w, "txt", s, len);
}

void
resp_select(struct resp_ctx *x, uint32_t db)
{
    x->c->db = db;
    __atomic_store_n(&x->st->client.db, db, __ATOMIC_RELAXED);
}

bool
resp_password_required(void)
{
    return requirepass != NULL;
}

/* Compares without an early exit, so timing does not tell the prefix. */
static bool
same_secret(const char *secret, const struct resp_arg *a)
{
    size_t n = strlen(secret);
    unsigned char diff = a->len != n;
    for (size_t i = 0; i < a->len; i++) {
        diff |= (unsigned char)(a->data[i] ^ secret[i % (n + 1)]);
    }
    return diff == 0;
}

bool
resp_auth_check(const struct resp_arg *user, const struct resp_arg *pass)
{
    if (user != NULL &&
            !(user->len == 7 && memcmp(user->data, "default", 7) == 0)) {
        return false;
    }
    if (requirepass == NULL) {
        return true; /* the default user has no password: any works */
    }
    return same_secret(requirepass, pass);
}

bool
resp_requirepass_is(const struct resp_arg *v)
{
    return same_secret(requirepass != NULL ? requirepass : "", v);
}

rstatus_i
resp_config_requirepass(struct resp_writer *w)
{
    const char *p = requirepass != NULL ? requirepass : "";
    return resp_compose_bulk(w, p, strlen(p));
}

/* ---- setup ---- */

rstatus_i
proc_resp_setup(const proc_resp_options_st *options,
        proc_resp_metrics_st *metrics, const struct resp_info_source *source)
{
    proc_resp_options_st defaults = {PROC_RESP_OPTION(INIT_OPTION)};
    if (options == NULL) {
        options = &defaults;
    }
    resp_proc_metrics = metrics;
    ks_on_count(resp_count_lookup); /* Redis's keyspace_hits and misses */
    memset(&resp_source, 0, sizeof(resp_source));
    if (source != NULL) {
        resp_source = *source;
    }
    const char *pass = option_str(&options->resp_requirepass);
    mm_release(requirepass);
    requirepass = NULL;
    if (pass != NULL && pass[0] != '\0') {
        requirepass = mm_strdup(pass);
        if (requirepass == NULL) {
            return STATUS_ENOMEM;
        }
    }
    resp_slowlog_setup();
    resp_pubsub_setup();
    resp_tracking_setup();
    resp_block_setup();
    resp_pause_setup();
    resp_monitor_setup(option_uint(&options->resp_monitor_buffer));
    __atomic_store_n(&resp_script_busy_ms,
            option_uint(&options->resp_busy_reply_threshold), __ATOMIC_RELAXED);
    rstatus_i st = resp_stats_setup(metrics != NULL);
    log_info("resp processor: %s",
            requirepass != NULL ? "password required (AUTH)" : "no password");
    return st;
}

void
proc_resp_teardown(void)
{
    resp_stats_teardown();
    resp_slowlog_teardown();
    resp_tracking_teardown();
    resp_pubsub_teardown();
    resp_block_teardown();
    resp_pause_teardown();
    resp_monitor_teardown();
    mm_release(requirepass);
    requirepass = NULL;
    resp_proc_metrics = NULL;
    ks_on_count(NULL);
}

/* ---- per-connection state ---- */

static struct resp_state *
state_of(struct conn *c)
{
    if (c->data != NULL) {
        return c->data;
    }
    struct resp_state *st = mm_zalloc(sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    resp_request_init(&st->req);
    st->w.proto = RESP_PROTO_2;
    st->w.spill = resp_out_spill;
    st->w.spill_arg = c;
    st->qtail = &st->qhead;
    st->authenticated = !resp_password_required();
    resp_client_register(&st->client, c);
    INCR(resp_proc_metrics, resp_conn_total);
    INCR(resp_proc_metrics, resp_conn_curr);
    c->data = st;
    return st;
}

static void
queue_clear(struct resp_state *st)
{
    struct resp_queued *q = st->qhead;
    while (q != NULL) {
        struct resp_queued *next = q->next;
        mm_release(q);
        q = next;
    }
    st->qhead = NULL;
    st->qtail = &st->qhead;
    st->nqueued = 0;
    st->in_multi = false;
    st->multi_dirty = false;
    __atomic_store_n(&st->client.multi, -1, __ATOMIC_RELAXED);
}

void
resp_unwatch(struct resp_state *st)
{
    for (uint32_t i = 0; i < st->nwatch; i++) {
        mm_release(st->watch[i]);
    }
    st->nwatch = 0;
}

void
resp_state_reset(struct resp_ctx *x)
{
    struct resp_state *st = x->st;
    queue_clear(st);
    resp_unwatch(st);
    resp_select(x, 0);
    st->w.proto = RESP_PROTO_2;
    __atomic_store_n(&st->client.proto, 2, __ATOMIC_RELAXED);
    st->reply = RESP_REPLY_ON;
    st->client.no_evict = false;
    resp_pubsub_release(x->c, st);
    resp_monitor_release(x->c, st);
    resp_block_release(x->c, st);
    resp_tracking_release(x->c, st);
    resp_client_set_name(&st->client, NULL, 0);
    st->authenticated = !resp_password_required();
}

static void
resp_error(struct conn *c)
{
    struct resp_state *st = c->data;
    if (st == NULL) {
        return;
    }
    queue_clear(st);
    resp_unwatch(st);
    mm_release(st->watch);
    resp_pubsub_release(c, st);
    resp_monitor_release(c, st);
    resp_block_release(c, st);
    resp_pause_release(c, st);
    resp_tracking_release(c, st);
    resp_stream_release(c, st); /* a value half received: its parts go */
    resp_out_release(c, st);
    resp_client_unregister(&st->client);
    resp_request_deinit(&st->req);
    DECR(resp_proc_metrics, resp_conn_curr);
    mm_free(&c->data);
}

/* ---- transactions ---- */

/* Copies a command into the MULTI queue. */
static rstatus_i
queue_command(struct resp_ctx *x)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < x->argc; i++) {
        bytes += x->argv[i].len;
    }
    size_t head =
            sizeof(struct resp_queued) + x->argc * sizeof(struct resp_arg);
    struct resp_queued *q = mm_alloc(head + bytes);
    if (q == NULL) {
        x->st->multi_dirty = true;
        return resp_err(x, "ERR out of memory queueing the command");
    }
    char *p = (char *)q + head;
    q->next = NULL;
    q->cmd = x->cmd;
    q->argc = x->argc;
    for (uint32_t i = 0; i < x->argc; i++) {
        memcpy(p, x->argv[i].data, x->argv[i].len);
        q->argv[i].data = p;
        q->argv[i].len = x->argv[i].len;
        p += x->argv[i].len;
    }
    *x->st->qtail = q;
    x->st->qtail = &q->next;
    x->st->nqueued++;
    __atomic_store_n(
            &x->st->client.multi, (int32_t)x->st->nqueued, __ATOMIC_RELAXED);
    return resp_compose_simple(x->w, "QUEUED", 6);
}

static rstatus_i
cmd_multi(struct resp_ctx *x)
{
    if (x->st->in_multi) {
        return resp_err(x, "ERR MULTI calls can not be nested");
    }
    x->st->in_multi = true;
    __atomic_store_n(&x->st->client.multi, 0, __ATOMIC_RELAXED);
    return resp_compose_ok(x->w);
}

static rstatus_i
cmd_discard(struct resp_ctx *x)
{
    if (!x->st->in_multi) {
        return resp_err(x, "ERR DISCARD without MULTI");
    }
    queue_clear(x->st);
    resp_unwatch(x->st);
    return resp_compose_ok(x->w);
}

static bool
watch_has(const struct resp_state *st, uint8_t db, const struct resp_arg *k)
{
    for (uint32_t i = 0; i < st->nwatch; i++) {
        const struct resp_watched *wk = st->watch[i];
        if (wk->db == db && wk->klen == k->len &&
                memcmp(wk->key, k->data, k->len) == 0) {
            return true;
        }
    }
    return false;
}

static rstatus_i
watch_key(struct resp_ctx *x, const struct resp_arg *k)
{
    struct resp_state *st = x->st;
    if (watch_has(st, resp_db(x), k)) {
        return STATUS_OK;
    }
    if (st->nwatch == st->watch_cap) {
        uint32_t cap = st->watch_cap == 0 ? 4 : st->watch_cap * 2;
        void *p = mm_realloc(st->watch, cap * sizeof(*st->watch));
        if (p == NULL) {
            return STATUS_ENOMEM;
        }
        st->watch = p;
        st->watch_cap = cap;
    }
    struct resp_watched *wk = mm_alloc(sizeof(*wk) + k->len);
    if (wk == NULL) {
        return STATUS_ENOMEM;
    }
    struct storage_item it;
    wk->db = resp_db(x);
    /* read before the lookup: a change in parts between the two makes EXEC
     * abort, never pass unseen */
    wk->changes = ks_stripe_changes(ks_stripe(wk->db, k->data, k->len));
    wk->exists = ks_lookup(wk->db, k->data, k->len, KS_ANY,
                         KS_NOTOUCH | KS_NOSTATS, x->c->now_ms, &it) != KS_MISS;
    wk->cas = wk->exists ? it.cas : 0;
    wk->expiry = wk->exists ? it.expiry : 0;
    wk->klen = k->len;
    memcpy(wk->key, k->data, k->len);
    st->watch[st->nwatch++] = wk;
    return STATUS_OK;
}

static rstatus_i
cmd_watch(struct resp_ctx *x)
{
    if (x->st->in_multi) {
        return resp_err(x, "ERR WATCH inside MULTI is not allowed");
    }
    for (uint32_t i = 1; i < x->argc; i++) {
        if (watch_key(x, &x->argv[i]) != STATUS_OK) {
            return resp_err(x, "ERR out of memory for WATCH");
        }
    }
    return resp_compose_ok(x->w);
}

static rstatus_i
cmd_unwatch(struct resp_ctx *x)
{
    resp_unwatch(x->st);
    return resp_compose_ok(x->w);
}

/* Whether a watched key changed (written, deleted, expired, its expiry
 * changed) since WATCH. A collection in parts is also taken as changed
 * when its stripe counted a change that did not rewrite a root
 * (ks_stripe_changed): that may have been another key of the stripe (one
 * in KS_STRIPES), an abort Redis would not make, never a change missed. */
static bool
watch_dirty(const struct resp_ctx *x)
{
    const struct resp_state *st = x->st;
    for (uint32_t i = 0; i < st->nwatch; i++) {
        const struct resp_watched *wk = st->watch[i];
        struct storage_item it;
        bool exists =
                ks_lookup(wk->db, wk->key, wk->klen, KS_ANY,
                        KS_NOTOUCH | KS_NOSTATS, x->c->now_ms, &it) != KS_MISS;
        if (exists != wk->exists ||
                (exists && (it.cas != wk->cas || it.expiry != wk->expiry))) {
            return true;
        }
        if (exists && it.parts &&
                ks_stripe_changes(ks_stripe(wk->db, wk->key, wk->klen)) !=
                        wk->changes) {
            return true;
        }
    }
    return false;
}

static rstatus_i run_command(struct resp_ctx *x);

static rstatus_i
cmd_exec(struct resp_ctx *x)
{
    struct resp_state *st = x->st;
    if (!st->in_multi) {
        return resp_err(x, "ERR EXEC without MULTI");
    }
    struct ks_hold h;
    ks_hold_init(&h);
    if (!st->multi_dirty && (!resp_hold_add_exec(&h, x) ||
                                    !ks_hold_take(&h, RESP_HOLD_WAIT_NS))) {
        ks_hold_release(&h);
        queue_clear(st);
        resp_unwatch(st);
        INCR(resp_proc_metrics, resp_exec_abort);
        return resp_err(x, "EXECABORT Transaction discarded: its keys could "
                           "not be held (out of memory or busy)");
    }
    if (st->multi_dirty || watch_dirty(x)) {
        bool dirty = st->multi_dirty;
        ks_hold_release(&h);
        queue_clear(st);
        resp_unwatch(st);
        INCR(resp_proc_metrics, resp_exec_abort);
        if (dirty) {
            return resp_err(x, "EXECABORT Transaction discarded because of "
                               "previous errors.");
        }
        return resp_compose_null_array(x->w);
    }
    resp_unwatch(st);
    struct resp_queued *q = st->qhead;
    uint32_t n = st->nqueued;
    st->qhead = NULL;
    queue_clear(st); /* leaves MULTI before the queued commands run */
    INCR(resp_proc_metrics, resp_exec);
    rstatus_i rc = resp_compose_array(x->w, n);
    st->in_exec = true;
    st->exec_hold = &h;
    while (q != NULL) {
        struct resp_queued *next = q->next;
        struct resp_ctx sub = *x;
        sub.cmd = q->cmd;
        sub.argv = q->argv;
        sub.argc = q->argc;
        if (rc == STATUS_OK) {
            rc = run_command(&sub);
        }
        mm_release(q);
        q = next;
    }
    st->in_exec = false;
    st->exec_hold = NULL;
    ks_hold_release(&h);
    return rc;
}

/* ---- dispatch ---- */

static rstatus_i
cmd_client_all(struct resp_ctx *x)
{
    return resp_cmd_client(x);
}

/* CLUSTER (every subcommand, HELP too), READONLY, READWRITE and ASKING:
 * what Redis 7.0.15 answers with cluster-enabled no, after the same arity
 * and subcommand checks (cluster-aware clients probe with these). */
static rstatus_i
cmd_cluster_disabled(struct resp_ctx *x)
{
    return resp_err(x, "ERR This instance has cluster support disabled");
}

static const resp_handler_fn handlers[RESP_NCOMMAND_ALL] = {
        [RESP_CMD_APPEND] = resp_cmd_append,
        [RESP_CMD_ASKING] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_ADDSLOTS] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_ADDSLOTSRANGE] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_BUMPEPOCH] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_COUNT_FAILURE_REPORTS] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_COUNTKEYSINSLOT] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_DELSLOTS] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_DELSLOTSRANGE] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_FAILOVER] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_FLUSHSLOTS] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_FORGET] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_GETKEYSINSLOT] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_HELP] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_INFO] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_KEYSLOT] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_LINKS] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_MEET] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_MYID] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_NODES] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_REPLICAS] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_REPLICATE] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_RESET] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_SAVECONFIG] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_SET_CONFIG_EPOCH] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_SETSLOT] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_SHARDS] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_SLAVES] = cmd_cluster_disabled,
        [RESP_CMD_CLUSTER_SLOTS] = cmd_cluster_disabled,
        [RESP_CMD_READONLY] = cmd_cluster_disabled,
        [RESP_CMD_READWRITE] = cmd_cluster_disabled,
        [RESP_CMD_AUTH] = resp_cmd_auth,
        [RESP_CMD_CLIENT_GETNAME] = cmd_client_all,
        [RESP_CMD_CLIENT_HELP] = resp_cmd_help,
        [RESP_CMD_CLIENT_ID] = cmd_client_all,
        [RESP_CMD_CLIENT_INFO] = cmd_client_all,
        [RESP_CMD_CLIENT_KILL] = cmd_client_all,
        [RESP_CMD_CLIENT_LIST] = cmd_client_all,
        [RESP_CMD_CLIENT_NO_EVICT] = cmd_client_all,
        [RESP_CMD_CLIENT_REPLY] = cmd_client_all,
        [RESP_CMD_CLIENT_SETINFO] = cmd_client_all,
        [RESP_CMD_CLIENT_SETNAME] = cmd_client_all,
        [RESP_CMD_CLIENT_TRACKING] = resp_cmd_client_tracking,
        [RESP_CMD_CLIENT_CACHING] = resp_cmd_client_tracking,
        [RESP_CMD_CLIENT_GETREDIR] = resp_cmd_client_tracking,
        [RESP_CMD_CLIENT_TRACKINGINFO] = resp_cmd_client_tracking,
        [RESP_CMD_COMMAND] = resp_cmd_command,
        [RESP_CMD_COMMAND_COUNT] = resp_cmd_command,
        [RESP_CMD_COMMAND_DOCS] = resp_cmd_command,
        [RESP_CMD_COMMAND_GETKEYS] = resp_cmd_command,
        [RESP_CMD_COMMAND_HELP] = resp_cmd_help,
        [RESP_CMD_COMMAND_INFO] = resp_cmd_command,
        [RESP_CMD_COMMAND_LIST] = resp_cmd_command,
        [RESP_CMD_CONFIG_GET] = resp_cmd_config,
        [RESP_CMD_CONFIG_HELP] = resp_cmd_help,
        [RESP_CMD_CONFIG_RESETSTAT] = resp_cmd_config,
        [RESP_CMD_CONFIG_SET] = resp_cmd_config,
        [RESP_CMD_COPY] = resp_cmd_copy,
        [RESP_CMD_DBSIZE] = resp_cmd_dbsize,
        [RESP_CMD_DEBUG] = resp_cmd_debug,
        [RESP_CMD_DECR] = resp_cmd_incr,
        [RESP_CMD_DECRBY] = resp_cmd_incr,
        [RESP_CMD_DEL] = resp_cmd_del,
        [RESP_CMD_DISCARD] = cmd_discard,
        [RESP_CMD_ECHO] = resp_cmd_echo,
        [RESP_CMD_EVAL] = resp_cmd_eval,
        [RESP_CMD_EVAL_RO] = resp_cmd_eval,
        [RESP_CMD_EVALSHA] = resp_cmd_eval,
        [RESP_CMD_EVALSHA_RO] = resp_cmd_eval,
        [RESP_CMD_EXEC] = cmd_exec,
        [RESP_CMD_EXISTS] = resp_cmd_exists,
        [RESP_CMD_EXPIRE] = resp_cmd_expire,
        [RESP_CMD_EXPIREAT] = resp_cmd_expire,
        [RESP_CMD_EXPIRETIME] = resp_cmd_ttl,
        [RESP_CMD_FLUSHALL] = resp_cmd_flush,
        [RESP_CMD_FLUSHDB] = resp_cmd_flush,
        [RESP_CMD_FCALL] = resp_cmd_fcall,
        [RESP_CMD_FCALL_RO] = resp_cmd_fcall,
        [RESP_CMD_FUNCTION_DELETE] = resp_cmd_function,
        [RESP_CMD_FUNCTION_DUMP] = resp_cmd_function,
        [RESP_CMD_FUNCTION_FLUSH] = resp_cmd_function,
        [RESP_CMD_FUNCTION_HELP] = resp_cmd_help,
        [RESP_CMD_FUNCTION_KILL] = resp_cmd_function,
        [RESP_CMD_FUNCTION_LIST] = resp_cmd_function,
        [RESP_CMD_FUNCTION_LOAD] = resp_cmd_function,
        [RESP_CMD_FUNCTION_RESTORE] = resp_cmd_function,
        [RESP_CMD_FUNCTION_STATS] = resp_cmd_function,
        [RESP_CMD_GET] = resp_cmd_get,
        [RESP_CMD_GETDEL] = resp_cmd_getdel,
        [RESP_CMD_GETEX] = resp_cmd_getex,
        [RESP_CMD_GETRANGE] = resp_cmd_getrange,
        [RESP_CMD_GETSET] = resp_cmd_getset,
        [RESP_CMD_HELLO] = resp_cmd_hello,
        [RESP_CMD_INCR] = resp_cmd_incr,
        [RESP_CMD_INCRBY] = resp_cmd_incr,
        [RESP_CMD_INCRBYFLOAT] = resp_cmd_incrbyfloat,
        [RESP_CMD_INFO] = resp_cmd_info,
        [RESP_CMD_KEYS] = resp_cmd_keys,
        [RESP_CMD_MEMORY_DOCTOR] = resp_cmd_memory,
        [RESP_CMD_MEMORY_HELP] = resp_cmd_memory,
        [RESP_CMD_MEMORY_MALLOC_STATS] = resp_cmd_memory,
        [RESP_CMD_MEMORY_PURGE] = resp_cmd_memory,
        [RESP_CMD_MEMORY_STATS] = resp_cmd_memory,
        [RESP_CMD_MEMORY_USAGE] = resp_cmd_memory,
        [RESP_CMD_MGET] = resp_cmd_mget,
        [RESP_CMD_HSET] = resp_cmd_hset,
        [RESP_CMD_HSETNX] = resp_cmd_hset,
        [RESP_CMD_HMSET] = resp_cmd_hset,
        [RESP_CMD_HGET] = resp_cmd_hget,
        [RESP_CMD_HMGET] = resp_cmd_hmget,
        [RESP_CMD_HDEL] = resp_cmd_hdel,
        [RESP_CMD_HEXISTS] = resp_cmd_hexists,
        [RESP_CMD_HLEN] = resp_cmd_hlen,
        [RESP_CMD_HSTRLEN] = resp_cmd_hstrlen,
        [RESP_CMD_HKEYS] = resp_cmd_hgetall,
        [RESP_CMD_HVALS] = resp_cmd_hgetall,
        [RESP_CMD_HGETALL] = resp_cmd_hgetall,
        [RESP_CMD_HINCRBY] = resp_cmd_hincrby,
        [RESP_CMD_HINCRBYFLOAT] = resp_cmd_hincrbyfloat,
        [RESP_CMD_HRANDFIELD] = resp_cmd_hrandfield,
        [RESP_CMD_HSCAN] = resp_cmd_hscan,
        [RESP_CMD_SADD] = resp_cmd_sadd,
        [RESP_CMD_SREM] = resp_cmd_srem,
        [RESP_CMD_SCARD] = resp_cmd_hlen,
        [RESP_CMD_SISMEMBER] = resp_cmd_sismember,
        [RESP_CMD_SMISMEMBER] = resp_cmd_smismember,
        [RESP_CMD_SMEMBERS] = resp_cmd_smembers,
        [RESP_CMD_SRANDMEMBER] = resp_cmd_srandmember,
        [RESP_CMD_SPOP] = resp_cmd_spop,
        [RESP_CMD_SMOVE] = resp_cmd_smove,
        [RESP_CMD_SINTER] = resp_cmd_setop,
        [RESP_CMD_SINTERSTORE] = resp_cmd_setop,
        [RESP_CMD_SUNION] = resp_cmd_setop,
        [RESP_CMD_SUNIONSTORE] = resp_cmd_setop,
        [RESP_CMD_SDIFF] = resp_cmd_setop,
        [RESP_CMD_SDIFFSTORE] = resp_cmd_setop,
        [RESP_CMD_SINTERCARD] = resp_cmd_sintercard,
        [RESP_CMD_SSCAN] = resp_cmd_sscan,
        [RESP_CMD_ZADD] = resp_cmd_zadd,
        [RESP_CMD_ZINCRBY] = resp_cmd_zincrby,
        [RESP_CMD_ZREM] = resp_cmd_zrem,
        [RESP_CMD_ZCARD] = resp_cmd_zcard,
        [RESP_CMD_ZSCORE] = resp_cmd_zscore,
        [RESP_CMD_ZMSCORE] = resp_cmd_zmscore,
        [RESP_CMD_ZRANK] = resp_cmd_zrank,
        [RESP_CMD_ZREVRANK] = resp_cmd_zrank,
        [RESP_CMD_ZCOUNT] = resp_cmd_zcount,
        [RESP_CMD_ZLEXCOUNT] = resp_cmd_zlexcount,
        [RESP_CMD_ZRANGE] = resp_cmd_zrange,
        [RESP_CMD_ZRANGESTORE] = resp_cmd_zrange,
        [RESP_CMD_ZRANGEBYSCORE] = resp_cmd_zrange,
        [RESP_CMD_ZREVRANGEBYSCORE] = resp_cmd_zrange,
        [RESP_CMD_ZRANGEBYLEX] = resp_cmd_zrange,
        [RESP_CMD_ZREVRANGEBYLEX] = resp_cmd_zrange,
        [RESP_CMD_ZREVRANGE] = resp_cmd_zrange,
        [RESP_CMD_ZREMRANGEBYRANK] = resp_cmd_zremrange,
        [RESP_CMD_ZREMRANGEBYSCORE] = resp_cmd_zremrange,
        [RESP_CMD_ZREMRANGEBYLEX] = resp_cmd_zremrange,
        [RESP_CMD_ZPOPMIN] = resp_cmd_zpop,
        [RESP_CMD_ZPOPMAX] = resp_cmd_zpop,
        [RESP_CMD_ZMPOP] = resp_cmd_zmpop,
        [RESP_CMD_ZRANDMEMBER] = resp_cmd_zrandmember,
        [RESP_CMD_ZSCAN] = resp_cmd_zscan,
        [RESP_CMD_ZUNION] = resp_cmd_zsetop,
        [RESP_CMD_ZINTER] = resp_cmd_zsetop,
        [RESP_CMD_ZDIFF] = resp_cmd_zsetop,
        [RESP_CMD_ZUNIONSTORE] = resp_cmd_zsetop,
        [RESP_CMD_ZINTERSTORE] = resp_cmd_zsetop,
        [RESP_CMD_ZDIFFSTORE] = resp_cmd_zsetop,
        [RESP_CMD_ZINTERCARD] = resp_cmd_zsetop,
        [RESP_CMD_SORT] = resp_cmd_sort,
        [RESP_CMD_SORT_RO] = resp_cmd_sort,
        [RESP_CMD_LPUSH] = resp_cmd_push,
        [RESP_CMD_RPUSH] = resp_cmd_push,
        [RESP_CMD_LPUSHX] = resp_cmd_push,
        [RESP_CMD_RPUSHX] = resp_cmd_push,
        [RESP_CMD_LPOP] = resp_cmd_pop,
        [RESP_CMD_RPOP] = resp_cmd_pop,
        [RESP_CMD_LMPOP] = resp_cmd_lmpop,
        [RESP_CMD_LLEN] = resp_cmd_llen,
        [RESP_CMD_LINDEX] = resp_cmd_lindex,
        [RESP_CMD_LRANGE] = resp_cmd_lrange,
        [RESP_CMD_LPOS] = resp_cmd_lpos,
        [RESP_CMD_LSET] = resp_cmd_lset,
        [RESP_CMD_LINSERT] = resp_cmd_linsert,
        [RESP_CMD_LREM] = resp_cmd_lrem,
        [RESP_CMD_LTRIM] = resp_cmd_ltrim,
        [RESP_CMD_LMOVE] = resp_cmd_lmove,
        [RESP_CMD_RPOPLPUSH] = resp_cmd_lmove,
        [RESP_CMD_BLPOP] = resp_cmd_bpop,
        [RESP_CMD_WAIT] = resp_cmd_wait,
        [RESP_CMD_BRPOP] = resp_cmd_bpop,
        [RESP_CMD_BLMOVE] = resp_cmd_bpop,
        [RESP_CMD_BRPOPLPUSH] = resp_cmd_bpop,
        [RESP_CMD_BLMPOP] = resp_cmd_bpop,
        [RESP_CMD_BZPOPMIN] = resp_cmd_bpop,
        [RESP_CMD_BZPOPMAX] = resp_cmd_bpop,
        [RESP_CMD_BZMPOP] = resp_cmd_bpop,
        [RESP_CMD_CLIENT_UNBLOCK] = resp_cmd_client_unblock,
        [RESP_CMD_MONITOR] = resp_cmd_monitor,
        [RESP_CMD_CLIENT_PAUSE] = resp_cmd_client_pause,
        [RESP_CMD_CLIENT_UNPAUSE] = resp_cmd_client_unpause,
        [RESP_CMD_MSET] = resp_cmd_mset,
        [RESP_CMD_MSETNX] = resp_cmd_msetnx,
        [RESP_CMD_MULTI] = cmd_multi,
        [RESP_CMD_OBJECT_ENCODING] = resp_cmd_object,
        [RESP_CMD_OBJECT_FREQ] = resp_cmd_object,
        [RESP_CMD_OBJECT_HELP] = resp_cmd_object,
        [RESP_CMD_OBJECT_IDLETIME] = resp_cmd_object,
        [RESP_CMD_OBJECT_REFCOUNT] = resp_cmd_object,
        [RESP_CMD_PERSIST] = resp_cmd_persist,
        [RESP_CMD_PEXPIRE] = resp_cmd_expire,
        [RESP_CMD_PEXPIREAT] = resp_cmd_expire,
        [RESP_CMD_PEXPIRETIME] = resp_cmd_ttl,
        [RESP_CMD_PING] = resp_cmd_ping,
        [RESP_CMD_PSUBSCRIBE] = resp_cmd_subscribe,
        [RESP_CMD_PUBLISH] = resp_cmd_publish,
        [RESP_CMD_PUBSUB_CHANNELS] = resp_cmd_pubsub,
        [RESP_CMD_PUBSUB_HELP] = resp_cmd_help,
        [RESP_CMD_PUBSUB_NUMPAT] = resp_cmd_pubsub,
        [RESP_CMD_PUBSUB_NUMSUB] = resp_cmd_pubsub,
        [RESP_CMD_PUBSUB_SHARDCHANNELS] = resp_cmd_pubsub,
        [RESP_CMD_PUBSUB_SHARDNUMSUB] = resp_cmd_pubsub,
        [RESP_CMD_PUNSUBSCRIBE] = resp_cmd_subscribe,
        [RESP_CMD_PSETEX] = resp_cmd_setex,
        [RESP_CMD_PTTL] = resp_cmd_ttl,
        [RESP_CMD_QUIT] = resp_cmd_quit,
        [RESP_CMD_RANDOMKEY] = resp_cmd_randomkey,
        [RESP_CMD_RENAME] = resp_cmd_rename,
        [RESP_CMD_RENAMENX] = resp_cmd_rename,
        [RESP_CMD_RESET] = resp_cmd_reset,
        [RESP_CMD_SCAN] = resp_cmd_scan,
        [RESP_CMD_SCRIPT_EXISTS] = resp_cmd_script,
        [RESP_CMD_SCRIPT_FLUSH] = resp_cmd_script,
        [RESP_CMD_SCRIPT_KILL] = resp_cmd_script,
        [RESP_CMD_SCRIPT_LOAD] = resp_cmd_script,
        [RESP_CMD_SCRIPT_HELP] = resp_cmd_help,
        [RESP_CMD_SELECT] = resp_cmd_select,
        [RESP_CMD_SET] = resp_cmd_set,
        [RESP_CMD_SETEX] = resp_cmd_setex,
        [RESP_CMD_SETNX] = resp_cmd_setnx,
        [RESP_CMD_SETRANGE] = resp_cmd_setrange,
        [RESP_CMD_SLOWLOG_GET] = resp_cmd_slowlog,
        [RESP_CMD_SLOWLOG_HELP] = resp_cmd_slowlog,
        [RESP_CMD_SLOWLOG_LEN] = resp_cmd_slowlog,
        [RESP_CMD_SLOWLOG_RESET] = resp_cmd_slowlog,
        [RESP_CMD_SPUBLISH] = resp_cmd_publish,
        [RESP_CMD_SSUBSCRIBE] = resp_cmd_subscribe,
        [RESP_CMD_STRLEN] = resp_cmd_strlen,
        [RESP_CMD_SUBSCRIBE] = resp_cmd_subscribe,
        [RESP_CMD_SUBSTR] = resp_cmd_getrange,
        [RESP_CMD_SUNSUBSCRIBE] = resp_cmd_subscribe,
        [RESP_CMD_TIME] = resp_cmd_time,
        [RESP_CMD_ROLE] = resp_cmd_role,
        [RESP_CMD_SHUTDOWN] = resp_cmd_shutdown,
        [RESP_CMD_LATENCY_DOCTOR] = resp_cmd_latency,
        [RESP_CMD_LATENCY_GRAPH] = resp_cmd_latency,
        [RESP_CMD_LATENCY_HELP] = resp_cmd_latency,
        [RESP_CMD_LATENCY_HISTORY] = resp_cmd_latency,
        [RESP_CMD_LATENCY_LATEST] = resp_cmd_latency,
        [RESP_CMD_LATENCY_RESET] = resp_cmd_latency,
        [RESP_CMD_TOUCH] = resp_cmd_touch,
        [RESP_CMD_TTL] = resp_cmd_ttl,
        [RESP_CMD_TYPE] = resp_cmd_type,
        [RESP_CMD_UNLINK] = resp_cmd_del,
        [RESP_CMD_UNSUBSCRIBE] = resp_cmd_subscribe,
        [RESP_CMD_UNWATCH] = cmd_unwatch,
        [RESP_CMD_WATCH] = cmd_watch,
        [RESP_CMD_SETBIT] = resp_cmd_setbit,
        [RESP_CMD_GETBIT] = resp_cmd_getbit,
        [RESP_CMD_BITCOUNT] = resp_cmd_bitcount,
        [RESP_CMD_BITPOS] = resp_cmd_bitpos,
        [RESP_CMD_BITOP] = resp_cmd_bitop,
        [RESP_CMD_BITFIELD] = resp_cmd_bitfield,
        [RESP_CMD_BITFIELD_RO] = resp_cmd_bitfield,
        [RESP_CMD_PFADD] = resp_cmd_pfadd,
        [RESP_CMD_PFCOUNT] = resp_cmd_pfcount,
        [RESP_CMD_PFMERGE] = resp_cmd_pfmerge,
        [RESP_CMD_LCS] = resp_cmd_lcs,
        [RESP_CMD_MOVE] = resp_cmd_move,
};

/* Bytes of replies in wbuf; rpos does not move while we compose. */
static size_t
wmark(const struct resp_ctx *x)
{
    return buf_rsize(x->w->buf);
}

/* A command whose reply could not be composed (past worker.wbuf_max, or
 * no memory: a value in parts that is not sent in pieces, such as GETDEL's
 * or a script's): its partial reply goes and an error takes its place,
 * where the connection used to be closed without a word. Inside EXEC the
 * commands after it still run. */
static rstatus_i
reply_too_large(struct resp_ctx *x, size_t mark)
{
    INCR(resp_proc_metrics, resp_reply_too_large);
    x->w->buf->wpos = x->w->buf->rpos + mark;
    return resp_compose_error_fmt(x->w,
            "ERR the reply does not fit in the write buffer "
            "(worker.wbuf_max is %zu bytes) or memory ran out",
            x->w->max);
}

/* Runs a checked command, timing it and counting it as Redis's
 * commandstats do (failed: it replied an error). */
static rstatus_i
run_command(struct resp_ctx *x)
{
    resp_handler_fn fn = handlers[x->cmd->id];
    size_t mark = wmark(x);
    __atomic_store_n(
            &x->st->client.last_cmd, (uint32_t)x->cmd->id, __ATOMIC_RELAXED);
    bool tracking = resp_tracking_active();
    if (tracking) {
        resp_tracking_before(x);
    }
    struct buf *b = x->w->buf;
    struct resp_out *out_last = x->st->out_last;
    uint64_t t0 = time_mono_ns();
    rstatus_i rc = fn != NULL ? fn(x)
                              : resp_compose_err_unknown_command(
                                        x->w, x->argv, x->argc);
    uint64_t ns = time_mono_ns() - t0;
    if (__builtin_expect(rc == STATUS_ENOMEM, 0)) {
        if (x->w->buf != b) {
            /* what it queued (spilled buffers, values) goes with it */
            resp_out_truncate(x->c, x->st, out_last);
            x->w->buf = b;
        }
        rc = reply_too_large(x, mark);
    }
    if (tracking) {
        resp_tracking_after(x);
    }
    if (resp_monitor_active()) {
        resp_monitor_feed(x); /* after the command, as Redis's call() */
    }
    /* a value sent in pieces moved the reply to its tail: not an error */
    const char *reply = x->w->buf->rpos + mark;
    bool failed = x->w->buf == b && wmark(x) > mark && reply[0] == '-';
    resp_cmdstat_record(x->cmd->id, ns, failed);
    if (ns >= __atomic_load_n(&resp_slowlog_ns, __ATOMIC_RELAXED)) {
        resp_slowlog_record(x, ns);
    }
    if (failed) {
        INCR(resp_proc_metrics, resp_error);
        INCR(resp_proc_metrics, resp_cmd_failed);
        resp_errorstat_count(reply + 1, wmark(x) - mark - 1);
    }
    return rc;
}

rstatus_i
resp_run_held(
        struct resp_ctx *x, bool always, uint64_t wait_ns, struct ks_hold *keep)
{
    if (!always && x->argc < x->cmd->hold_argc) {
        return run_command(x);
    }
    struct ks_hold h;
    ks_hold_init(&h);
    rstatus_i rc;
    if (!resp_hold_add_command(&h, resp_db(x), x->cmd, x->argv, x->argc)) {
        rc = resp_err(x, "ERR out of memory holding the command's keys");
    } else if (!ks_hold_take(&h, wait_ns)) {
        INCR(resp_proc_metrics, resp_hold_busy);
        rc = resp_err(x, "BUSYKEY a key this command names is held by "
                         "another transaction; declare it in the script's "
                         "KEYS");
    } else {
        rc = run_command(x);
        if (keep != NULL && !ks_hold_keep(keep, &h)) {
            /* out of memory: the key is let go now, as before */
            log_debug("resp conn %" PRIu64 ": a script's undeclared key is "
                      "released early (out of memory)",
                    x->c->id);
        }
    }
    ks_hold_release(&h);
    return rc;
}

/* Records an error composed before the command ran. */
static void
count_error_reply(const struct resp_ctx *x, size_t mark)
{
    if (wmark(x) > mark) {
        INCR(resp_proc_metrics, resp_error);
        resp_errorstat_count(x->w->buf->rpos + mark + 1, wmark(x) - mark - 1);
    }
}

static bool
runs_in_multi(resp_command_e id)
{
    return id == RESP_CMD_EXEC || id == RESP_CMD_DISCARD ||
           id == RESP_CMD_MULTI || id == RESP_CMD_WATCH ||
           id == RESP_CMD_QUIT || id == RESP_CMD_RESET;
}

/* What a RESP2 connection with subscriptions may run (Redis's
 * processCommand). */
static bool
runs_subscribed(resp_command_e id)
{
    switch (id) {
    case RESP_CMD_PING:
    case RESP_CMD_SUBSCRIBE:
    case RESP_CMD_SSUBSCRIBE:
    case RESP_CMD_UNSUBSCRIBE:
    case RESP_CMD_SUNSUBSCRIBE:
    case RESP_CMD_PSUBSCRIBE:
    case RESP_CMD_PUNSUBSCRIBE:
    case RESP_CMD_QUIT:
    case RESP_CMD_RESET:
        return true;
    default:
        return false;
    }
}

/* Redis's securityWarningCommand: "POST" and "Host:" start HTTP requests,
 * never commands. */
static bool
cross_protocol(const struct resp_arg *name)
{
    struct bstring s = resp_arg_str(name);
    return bstring_equal_cstr_nocase(&s, "post") ||
           bstring_equal_cstr_nocase(&s, "host:");
}

/* Redis's BUSY reply when a key of the command (of EXEC: of its queue) is
 * held by a busy script on another worker, else NULL. Redis answers BUSY
 * to every command while a script is busy; here commands on other keys go
 * on. */
static const char *
busy_keys(struct resp_ctx *x)
{
    struct ks_hold h;
    ks_hold_init(&h);
    const char *busy = NULL;
    bool ok = x->cmd->id == RESP_CMD_EXEC
                      ? resp_hold_add_exec(&h, x)
                      : resp_hold_add_command(
                                &h, resp_db(x), x->cmd, x->argv, x->argc);
    for (uint32_t i = 0; ok && busy == NULL && i < h.n; i++) {
        uint8_t m = ks_stripe_mark(h.s[i]);
        if (m == RESP_BUSY_MARK_EVAL) {
            busy = RESP_SCRIPT_BUSY_EVAL;
        } else if (m == RESP_BUSY_MARK_FUNCTION) {
            busy = RESP_SCRIPT_BUSY_FUNCTION;
        }
    }
    ks_hold_release(&h);
    return busy;
}

/* processCommand: lookup, arity, auth, queueing, then the command. */
static rstatus_i
process(struct resp_ctx *x)
{
    struct resp_state *st = x->st;
    size_t mark = wmark(x);
    const struct resp_command *cmd = resp_command_lookup(x->argv, x->argc);
    rstatus_i rc;
    if (cmd == NULL && cross_protocol(&x->argv[0])) {
        /* an HTTP request sent here (by a browser tricked into it): close
         * without a word, as Redis does */
        log_debug("resp conn %" PRIu64 ": HTTP request, closing", x->c->id);
        INCR(resp_proc_metrics, resp_cmd_unknown);
        x->c->flags |= CONN_CLOSE;
        return STATUS_OK;
    }
    if (cmd == NULL || !resp_command_arity_ok(cmd, x->argc)) {
        if (cmd == NULL) {
            const struct resp_command *base =
                    resp_command_find(x->argv[0].data, x->argv[0].len);
            rc = base != NULL && resp_command_has_sub(base)
                         ? resp_compose_err_unknown_subcommand(x->w, x->argv)
                         : resp_compose_err_unknown_command(
                                   x->w, x->argv, x->argc);
            INCR(resp_proc_metrics, resp_cmd_unknown);
        } else {
            rc = resp_compose_err_arity(x->w, cmd);
            INCR(resp_proc_metrics, resp_cmd_rejected);
            resp_cmdstat_reject(cmd->id);
        }
        count_error_reply(x, mark);
        st->multi_dirty |= st->in_multi;
        return rc;
    }
    x->cmd = cmd;
    if (!st->authenticated && !(cmd->flags & RESP_CMD_F_NO_AUTH)) {
        INCR(resp_proc_metrics, resp_noauth);
        INCR(resp_proc_metrics, resp_cmd_rejected);
        resp_cmdstat_reject(cmd->id);
        st->multi_dirty |= st->in_multi;
        rc = resp_err(x, "NOAUTH Authentication required.");
        count_error_reply(x, mark);
        return rc;
    }
    if (st->w.proto == RESP_PROTO_2 && st->pubsub != NULL &&
            resp_pubsub_count(st) > 0 && !runs_subscribed(cmd->id)) {
        INCR(resp_proc_metrics, resp_cmd_rejected);
        resp_cmdstat_reject(cmd->id);
        st->multi_dirty |= st->in_multi;
        rc = resp_compose_error_fmt(x->w,
                "ERR Can't execute '%s': only (P|S)SUBSCRIBE / "
                "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
                "context",
                cmd->fullname);
        count_error_reply(x, mark);
        return rc;
    }
    if (__atomic_load_n(&st->client.monitor, __ATOMIC_RELAXED) &&
            (cmd->flags & (RESP_CMD_F_READONLY | RESP_CMD_F_WRITE |
                                  RESP_CMD_F_MAY_REPLICATE))) {
        /* a MONITOR client is a replica to Redis */
        INCR(resp_proc_metrics, resp_cmd_rejected);
        resp_cmdstat_reject(cmd->id);
        st->multi_dirty |= st->in_multi;
        rc = resp_err(x, "ERR Replica can't interact with the keyspace");
        count_error_reply(x, mark);
        return rc;
    }
    bool busy_now = __builtin_expect(__atomic_load_n(&resp_script_busy,
                                             __ATOMIC_RELAXED) > 0,
                            0) &&
                    !(cmd->flags & RESP_CMD_F_ALLOW_BUSY);
    if (busy_now && resp_busy_here != NULL) {
        /* a busy script of this worker let this connection in: as Redis,
         * every command but the allowed few answers BUSY, queued or not */
        INCR(resp_proc_metrics, resp_busy);
        INCR(resp_proc_metrics, resp_cmd_rejected);
        resp_cmdstat_reject(cmd->id);
        st->multi_dirty |= st->in_multi;
        rc = resp_err(x, resp_busy_here);
        count_error_reply(x, mark);
        return rc;
    }
    if (__builtin_expect(resp_pause_maybe(), 0) && resp_pause_holds(x)) {
        /* held, not refused: resp_read keeps the request for later */
        return resp_pause_hold(x->c, st);
    }
    if (st->in_multi && (cmd->flags & RESP_CMD_F_NO_MULTI) &&
            !runs_in_multi(cmd->id)) {
        INCR(resp_proc_metrics, resp_cmd_rejected);
        resp_cmdstat_reject(cmd->id);
        st->multi_dirty = true;
        rc = resp_err(x, "ERR Command not allowed inside a transaction");
        count_error_reply(x, mark);
        return rc;
    }
    if (st->in_multi && !runs_in_multi(cmd->id)) {
        return queue_command(x);
    }
    if (busy_now) {
        const char *busy = busy_keys(x);
        if (busy != NULL) {
            INCR(resp_proc_metrics, resp_busy);
            INCR(resp_proc_metrics, resp_cmd_rejected);
            resp_cmdstat_reject(cmd->id);
            rc = resp_err(x, busy);
            count_error_reply(x, mark);
            return rc;
        }
    }
    if (x->argc < cmd->hold_argc) {
        return run_command(x); /* one key (or none): no hold */
    }
    return resp_run_held(x, false, RESP_HOLD_WAIT_NS, NULL);
}

/* One parsed request, with CLIENT REPLY OFF/SKIP applied to its reply. */
static rstatus_i
process_request(struct conn *c, struct resp_state *st,
        const struct resp_arg *argv, uint32_t argc)
{
    struct resp_ctx x = {
            .c = c,
            .st = st,
            .w = &st->w,
            .argv = argv,
            .argc = argc,
    };
    size_t mark = wmark(&x);
    uint8_t reply = st->reply;
    if (st->reply == RESP_REPLY_SKIP_NEXT) {
        st->reply = RESP_REPLY_SKIP_THIS;
    }
    __atomic_store_n(&st->client.last_ms, c->now_ms, __ATOMIC_RELAXED);
    rstatus_i rc = process(&x);
    ks_scratch_release(); /* copies of values in parts, now in the reply */
    st->w.buf = &c->wbuf; /* composed after a value sent in pieces */
    if (st->paused) {
        st->reply = reply; /* it has not run: it runs later */
        return rc;
    }
    if (st->reply == RESP_REPLY_SKIP_THIS) {
        st->reply = RESP_REPLY_ON;
        resp_out_release(c, st); /* started before CLIENT REPLY ran */
        c->wbuf.wpos = c->wbuf.rpos + mark;
    } else if (st->reply != RESP_REPLY_ON) {
        resp_out_release(c, st);
        c->wbuf.wpos = c->wbuf.rpos + mark; /* OFF, or SKIP itself */
    }
    return rc;
}

/* A request the parser refused: reply, and close after a protocol error. */
static void
refused(struct conn *c, struct resp_state *st, resp_parse_e p)
{
    const char *msg =
            st->req.error != NULL ? st->req.error : "ERR Protocol error";
    resp_compose_error(&st->w, msg, strlen(msg));
    resp_errorstat_count(msg, strlen(msg));
    INCR(resp_proc_metrics, resp_error);
    if (p == RESP_PARSE_EINVALID) {
        buf_clear(&c->rbuf);
        c->flags |= CONN_CLOSE;
    }
    st->multi_dirty |= st->in_multi; /* a refused request aborts EXEC */
}

/* After a streamed request ran: held by a pause, it runs again at the
 * resume (read is called then, bytes or not); else its value's parts go
 * unless SET committed them. */
static void
streamed_ran(struct conn *c, struct resp_state *st)
{
    if (st->paused) {
        c->flags |= CONN_HELD;
    } else {
        if (st->out == NULL) { /* else held until its reply's value is out */
            c->flags &= ~CONN_HELD;
        }
        resp_stream_release(c, st);
    }
}

/* A request parsed whole after its value was streamed: its arguments,
 * copied. false: no memory, refused. */
static bool
streamed_args(struct conn *c, struct resp_state *st,
        const struct resp_arg **argv, uint32_t *argc)
{
    if (!resp_stream_whole(st)) {
        resp_stream_release(c, st);
        st->req.error = "ERR out of memory for the request's arguments";
        refused(c, st, RESP_PARSE_ENOMEM);
        return false;
    }
    return resp_stream_held(st, argv, argc);
}

/* The read loop. One call site of process_request (inlined): a streamed
 * request, whole or held by a pause, runs there too, with its copied
 * arguments. */
static rstatus_i
resp_read(struct conn *c, const struct proc_limits *limits)
{
    struct resp_state *st = state_of(c);
    if (st == NULL) {
        return STATUS_ENOMEM;
    }
    ks_set_protocol(KS_PROTO_RESP);
    st->w.buf = &c->wbuf;
    st->w.max = limits->wbuf_max;
    st->buf_budget = limits->buf_budget;
    if (__builtin_expect(st->req.buf_max == 0, 0)) {
        resp_request_limits(&st->req, limits->rbuf_max, RESP_STREAM_MIN);
    }
    while (!(c->flags & CONN_CLOSE)) {
        if (st->block != NULL || st->paused) {
            return STATUS_OK; /* blocked: the rest waits for its reply */
        }
        if (__builtin_expect(st->out != NULL, 0)) {
            rstatus_i rc = resp_out_pump(c, st, limits);
            if (rc != STATUS_OK || st->out != NULL) {
                return rc; /* the rest waits for the value's end */
            }
            continue;
        }
        const struct resp_arg *argv;
        uint32_t argc;
        char *start = NULL;
        resp_parse_e p = RESP_PARSE_OK;
        if (__builtin_expect(st->big == NULL, 1) ||
                !resp_stream_held(st, &argv, &argc)) {
            if (buf_rsize(&c->wbuf) > limits->wbuf_high) {
                c->flags |= CONN_STALLED;
                return STATUS_OK;
            }
            if (buf_empty(&c->rbuf)) {
                return STATUS_OK;
            }
            st->req.unauthenticated = !st->authenticated;
            start = c->rbuf.rpos;
            p = resp_parse_req(&st->req, &c->rbuf);
            argv = st->req.argv;
            argc = st->req.argc;
        } /* else a streamed request a pause held: it runs now */
        rstatus_i rc = STATUS_OK;
        if (__builtin_expect(p == RESP_PARSE_OK, 1)) {
            if (__builtin_expect(st->big != NULL, 0) && start != NULL &&
                    !streamed_args(c, st, &argv, &argc)) {
                resp_request_reset(&st->req);
                continue;
            }
            rc = process_request(c, st, argv, argc);
            if (__builtin_expect(st->big != NULL, 0)) {
                streamed_ran(c, st);
            } else if (st->paused) {
                c->rbuf.rpos = start; /* parsed again when it resumes */
            }
        } else if (p == RESP_PARSE_UNFIN) {
            size_t have = buf_rsize(&c->rbuf);
            if (st->req.need > have &&
                    buf_reserve(&c->rbuf, st->req.need - have,
                            limits->rbuf_max) != STATUS_OK) {
                return STATUS_ENOMEM; /* over rbuf_max: closed */
            }
            return STATUS_OK;
        } else if (p == RESP_PARSE_STREAM) {
            resp_stream_offer(c, st, limits);
            continue;
        } else if (p == RESP_PARSE_CHUNK) {
            resp_stream_chunk(c, st);
            continue;
        } else {
            resp_stream_release(c, st); /* refused after its value came */
            refused(c, st, p);
        }
        resp_request_reset(&st->req);
        if (rc != STATUS_OK) {
            return rc;
        }
    }
    return STATUS_OK;
}

const struct processor proc_resp = {
        .name = "resp",
        .read = resp_read,
        .busy = resp_read, /* process() answers BUSY (resp_busy_here) */
        .write = NULL,
        .error = resp_error,
        .refusal = "-ERR max number of clients reached\r\n", /* Redis's */
};
