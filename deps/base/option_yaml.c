/* SPDX-License-Identifier: Apache-2.0 */
/* Loading option tables from YAML with libyaml's document API: a mapping of
 * sections, each a mapping of options.
 *
 * A document is checked whole before anything is set, so a file with an
 * error changes no option; then a second pass over the same document sets
 * the values (the only failure left is running out of memory). The check
 * reports every bad value, option and section of the document, one line
 * each (as many as fit in the caller's buffer), not only the first. */
#include "base/option.h"

#include "base/mm.h"
#include "base/option_internal.h"
#include "base/util.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <yaml.h>

#define OPTION_FILE_MAX (16 * MiB) /* a config file larger than this is bad */

struct load {
    struct option *opts;
    size_t n;
    const char *name; /* file name for messages */
    yaml_document_t *doc;
    bool *seen; /* per option: named once already */
    bool apply; /* false: only check; true: set values */
    char *err;
    size_t errlen;
    unsigned nerr; /* problems written to err, one line each */
};

static rstatus_i load_error(struct load *ld, const yaml_node_t *at,
        const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "<file>:<line>: <message>", on a line of its own after the problems
 * found before it; returns STATUS_EINVAL. A line that does not fit whole
 * is left out (the first is truncated instead). */
static rstatus_i
load_error(struct load *ld, const yaml_node_t *at, const char *fmt, ...)
{
    if (ld->err == NULL || ld->errlen == 0) {
        return STATUS_EINVAL;
    }
    size_t used = ld->nerr == 0 ? 0 : strlen(ld->err);
    char *out = ld->err + used;
    size_t room = ld->errlen - used;
    if (ld->nerr > 0) {
        if (room < 2) {
            return STATUS_EINVAL;
        }
        *out++ = '\n';
        room--;
    }
    int k = snprintf(
            out, room, "%s:%zu: ", ld->name, (size_t)at->start_mark.line + 1);
    if (k >= 0 && (size_t)k < room) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(out + k, room - (size_t)k, fmt, ap);
        va_end(ap);
        k += m < 0 ? 0 : m;
    }
    if (ld->nerr > 0 && (k < 0 || (size_t)k >= room)) {
        ld->err[used] = '\0'; /* keep the lines that fit whole */
        return STATUS_EINVAL;
    }
    ld->nerr++;
    return STATUS_EINVAL;
}

static const char *
kind_str(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return "scalar";
    case YAML_SEQUENCE_NODE:
        return "sequence";
    case YAML_MAPPING_NODE:
        return "mapping";
    default:
        return "empty node";
    }
}

/* A plain empty, ~ or null scalar. */
static bool
is_null(const yaml_node_t *node)
{
    static const char *const null[] = {"", "~", "null", "Null", "NULL"};
    if (node->type != YAML_SCALAR_NODE ||
            node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    for (size_t i = 0; i < ARRAY_SIZE(null); i++) {
        if (strcmp((const char *)node->data.scalar.value, null[i]) == 0) {
            return true;
        }
    }
    return false;
}

static const char *
scalar_text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

static bool
scalar_has_nul(const yaml_node_t *node)
{
    return strlen(scalar_text(node)) != node->data.scalar.length;
}

static const char *
expected_str(option_type_e type)
{
    static const char *const what[] = {
            [OPTION_BOOL] = "a bool",
            [OPTION_UINT] = "an unsigned integer",
            [OPTION_SIZE] = "a size",
            [OPTION_DURATION] = "a duration",
            [OPTION_FPN] = "a number",
            [OPTION_STR] = "a string or a sequence of strings",
    };
    return (size_t)type < ARRAY_SIZE(what) ? what[type] : "a value";
}

static rstatus_i
load_scalar(struct load *ld, struct option *o, const char *dotted,
        const yaml_node_t *node)
{
    union option_val v = {.OPTION_STR = NULL};
    const char *why = NULL;
    if (is_null(node)) {
        why = o->type == OPTION_STR ? NULL : "no value";
    } else if (scalar_has_nul(node)) {
        why = "contains a NUL byte";
    } else {
        why = option_parse_value(o->type, scalar_text(node), &v);
    }
    if (why != NULL) {
        char e[OPTION_ESCAPE_CAP];
        option_escape(
                e, sizeof(e), scalar_text(node), node->data.scalar.length);
        return is_null(node)
                       ? load_error(ld, node, "%s: %s", dotted, why)
                       : load_error(ld, node, "%s: %s: %s", dotted, why, e);
    }
    return ld->apply ? option_assign(o, &v) : STATUS_OK;
}

/* A sequence of scalars for OPTION_STR, joined with commas. */
static rstatus_i
load_sequence(struct load *ld, struct option *o, const char *dotted,
        const yaml_node_t *node)
{
    size_t total = 1;
    yaml_node_item_t *it;
    for (it = node->data.sequence.items.start;
            it < node->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        if (item->type != YAML_SCALAR_NODE) {
            return load_error(ld, item,
                    "%s: expected a string in the sequence, got a %s", dotted,
                    kind_str(item));
        }
        if (scalar_has_nul(item)) {
            return load_error(ld, item, "%s: contains a NUL byte", dotted);
        }
        total += item->data.scalar.length + 1;
    }
    if (!ld->apply) {
        return STATUS_OK;
    }
    char *s = mm_alloc(total);
    if (s == NULL) {
        return STATUS_ENOMEM;
    }
    size_t len = 0;
    for (it = node->data.sequence.items.start;
            it < node->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        len += (size_t)sprintf(
                s + len, "%s%s", len > 0 ? "," : "", scalar_text(item));
    }
    s[len] = '\0';
    option_assign_owned_str(o, s);
    return STATUS_OK;
}

static rstatus_i
load_option(struct load *ld, struct option *o, const yaml_node_t *node)
{
    char dotted[OPTION_NAME_MAX];
    option_dotted_name(o, dotted, sizeof(dotted));
    rstatus_i rc;
    if (node->type == YAML_SCALAR_NODE) {
        rc = load_scalar(ld, o, dotted, node);
    } else if (node->type == YAML_SEQUENCE_NODE && o->type == OPTION_STR) {
        rc = load_sequence(ld, o, dotted, node);
    } else {
        return load_error(ld, node, "%s: expected %s, got a %s", dotted,
                expected_str(o->type), kind_str(node));
    }
    if (rc == STATUS_OK && ld->apply) {
        /* remembered so a check after loading can name the line too */
        o->file = ld->name;
        o->line = (unsigned)node->start_mark.line + 1;
    }
    return rc;
}

/* The option named by key in section sec, checked for duplicates. */
static rstatus_i
lookup_key(struct load *ld, const yaml_node_t *sec, const yaml_node_t *key,
        struct option **o)
{
    char esec[OPTION_ESCAPE_CAP], ekey[OPTION_ESCAPE_CAP];
    option_escape(
            esec, sizeof(esec), scalar_text(sec), sec->data.scalar.length);
    if (key->type != YAML_SCALAR_NODE) {
        return load_error(ld, key,
                "%s: an option name must be a scalar, not a %s", esec,
                kind_str(key));
    }
    option_escape(
            ekey, sizeof(ekey), scalar_text(key), key->data.scalar.length);
    *o = option_find_in_section(ld->opts, ld->n, scalar_text(sec),
            sec->data.scalar.length, scalar_text(key), key->data.scalar.length);
    if (*o == NULL) {
        return load_error(ld, key, "%s.%s: unknown option", esec, ekey);
    }
    size_t idx = (size_t)(*o - ld->opts);
    if (ld->seen[idx]) {
        return load_error(ld, key, "%s.%s: duplicate option", esec, ekey);
    }
    ld->seen[idx] = true;
    return STATUS_OK;
}

static rstatus_i
load_section(struct load *ld, const yaml_node_t *sec, const yaml_node_t *val)
{
    if (is_null(val)) {
        return STATUS_OK; /* "seg:" with every option commented out */
    }
    if (val->type != YAML_MAPPING_NODE) {
        char e[OPTION_ESCAPE_CAP];
        option_escape(e, sizeof(e), scalar_text(sec), sec->data.scalar.length);
        return load_error(ld, val,
                "%s: expected a mapping of options, got a %s", e,
                kind_str(val));
    }
    bool bad = false;
    for (yaml_node_pair_t *p = val->data.mapping.pairs.start;
            p < val->data.mapping.pairs.top; p++) {
        struct option *o = NULL;
        yaml_node_t *key = yaml_document_get_node(ld->doc, p->key);
        rstatus_i rc = lookup_key(ld, sec, key, &o);
        if (rc == STATUS_OK) {
            rc = load_option(ld, o, yaml_document_get_node(ld->doc, p->value));
        }
        if (rc == STATUS_EINVAL && !ld->apply) {
            bad = true; /* reported; go on to the next option */
        } else if (rc != STATUS_OK) {
            return rc;
        }
    }
    return bad ? STATUS_EINVAL : STATUS_OK;
}

static bool
same_scalar(const yaml_node_t *a, const yaml_node_t *b)
{
    return a->data.scalar.length == b->data.scalar.length &&
           memcmp(a->data.scalar.value, b->data.scalar.value,
                   a->data.scalar.length) == 0;
}

/* Section key of pair p of the root: a known, first-time section name. */
static rstatus_i
check_section_key(
        struct load *ld, const yaml_node_t *root, const yaml_node_pair_t *p)
{
    yaml_node_t *key = yaml_document_get_node(ld->doc, p->key);
    if (key->type != YAML_SCALAR_NODE) {
        return load_error(ld, key, "a section name must be a scalar, not a %s",
                kind_str(key));
    }
    char e[OPTION_ESCAPE_CAP];
    option_escape(e, sizeof(e), scalar_text(key), key->data.scalar.length);
    if (!option_section_known(
                ld->opts, ld->n, scalar_text(key), key->data.scalar.length) ||
            scalar_has_nul(key)) {
        return load_error(ld, key, "%s: unknown section", e);
    }
    /* earlier keys are all distinct known sections: few to compare */
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
        if (same_scalar(yaml_document_get_node(ld->doc, q->key), key)) {
            return load_error(ld, key, "%s: duplicate section", e);
        }
    }
    return STATUS_OK;
}

static rstatus_i
load_root(struct load *ld)
{
    yaml_node_t *root = yaml_document_get_root_node(ld->doc);
    if (root == NULL || is_null(root)) {
        return STATUS_OK; /* empty, or only comments */
    }
    if (root->type != YAML_MAPPING_NODE) {
        return load_error(ld, root, "not a mapping of sections");
    }
    memset(ld->seen, 0, ld->n * sizeof(bool));
    bool bad = false;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
            p < root->data.mapping.pairs.top; p++) {
        rstatus_i rc = check_section_key(ld, root, p);
        if (rc == STATUS_OK) {
            rc = load_section(ld, yaml_document_get_node(ld->doc, p->key),
                    yaml_document_get_node(ld->doc, p->value));
        }
        if (rc == STATUS_EINVAL && !ld->apply) {
            bad = true; /* reported; go on to the next section */
        } else if (rc != STATUS_OK) {
            return rc;
        }
    }
    return bad ? STATUS_EINVAL : STATUS_OK;
}

/* A libyaml failure as "<file>:<line>: syntax error: <problem>". */
static rstatus_i
parser_error(struct load *ld, const yaml_parser_t *parser, const char *yaml)
{
    if (parser->error == YAML_MEMORY_ERROR) {
        option_error_printf(ld->err, ld->errlen, "%s: out of memory", ld->name);
        return STATUS_ENOMEM;
    }
    size_t line = (size_t)parser->problem_mark.line + 1;
    if (parser->error == YAML_READER_ERROR) { /* marks not kept: count */
        line = 1;
        for (size_t i = 0; i < parser->problem_offset; i++) {
            line += yaml[i] == '\n';
        }
    }
    const char *problem =
            parser->problem != NULL ? parser->problem : "unknown error";
    if (parser->context != NULL) {
        option_error_printf(ld->err, ld->errlen,
                "%s:%zu: syntax error: %s (%s)", ld->name, line, problem,
                parser->context);
    } else {
        option_error_printf(ld->err, ld->errlen, "%s:%zu: syntax error: %s",
                ld->name, line, problem);
    }
    return STATUS_EINVAL;
}

/* Loads the first document and makes sure no second one follows. */
static rstatus_i
parse_document(struct load *ld, yaml_parser_t *parser, const char *yaml,
        yaml_document_t *doc)
{
    if (!yaml_parser_load(parser, doc)) {
        return parser_error(ld, parser, yaml);
    }
    yaml_document_t next;
    if (!yaml_parser_load(parser, &next)) {
        yaml_document_delete(doc);
        return parser_error(ld, parser, yaml);
    }
    yaml_node_t *extra = yaml_document_get_root_node(&next);
    rstatus_i rc = STATUS_OK;
    if (extra != NULL) {
        rc = load_error(ld, extra, "more than one document");
        yaml_document_delete(doc);
    }
    yaml_document_delete(&next);
    return rc;
}

rstatus_i
option_load_yaml(struct option *opts, size_t n, const char *name,
        const char *yaml, size_t len, char *err, size_t errlen)
{
    struct load ld = {opts, n, name, NULL, NULL, false, err, errlen, 0};
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        option_error_printf(err, errlen, "%s: out of memory", name);
        return STATUS_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    rstatus_i rc = parse_document(&ld, &parser, yaml, &doc);
    yaml_parser_delete(&parser);
    if (rc != STATUS_OK) {
        return rc;
    }
    ld.doc = &doc;
    ld.seen = mm_zalloc(n > 0 ? n * sizeof(bool) : 1);
    rc = ld.seen == NULL ? STATUS_ENOMEM : load_root(&ld);
    if (rc == STATUS_OK) {
        ld.apply = true;
        rc = load_root(&ld);
    }
    if (rc == STATUS_ENOMEM) {
        option_error_printf(err, errlen, "%s: out of memory", name);
    }
    mm_free(&ld.seen);
    yaml_document_delete(&doc);
    return rc;
}

/* The whole file, NUL-terminated; NULL with errno set on failure. */
static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = mm_alloc(OPTION_FILE_MAX + 1);
    size_t got = buf == NULL ? 0 : fread(buf, 1, OPTION_FILE_MAX + 1, f);
    int bad = buf == NULL ? ENOMEM : ferror(f) ? errno : 0;
    fclose(f);
    if (bad == 0 && got > OPTION_FILE_MAX) {
        bad = EFBIG;
    }
    if (bad != 0) {
        mm_free(&buf);
        errno = bad;
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

rstatus_i
option_load_file(struct option *opts, size_t n, const char *path, char *err,
        size_t errlen)
{
    size_t len = 0;
    char *yaml = read_file(path, &len);
    if (yaml == NULL) {
        option_error_printf(
                err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return STATUS_ERROR;
    }
    rstatus_i rc = option_load_yaml(opts, n, path, yaml, len, err, errlen);
    mm_free(&yaml);
    return rc;
}
