/* SPDX-License-Identifier: Apache-2.0 */
/* Option tables: names, value parsing with units, command-line overrides,
 * formatting and printing a config that loads back. YAML loading is in
 * option_yaml.c. */
#include "base/option.h"

#include "base/mm.h"
#include "base/option_internal.h"
#include "base/util.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#define ESCAPE_MAX 48 /* bytes of a value quoted in a message */

/* ------------------------------------------------------------------------ */
/* Names: row "seg_memory" is section "seg", key "memory", "seg.memory". */

static size_t
section_len(const char *row)
{
    const char *u = strchr(row, '_');
    ASSERT(u != NULL); /* every row name is <section>_<key> */
    return u == NULL ? strlen(row) : (size_t)(u - row);
}

static bool
row_in_section(const char *row, const char *sec, size_t len)
{
    return section_len(row) == len && memcmp(row, sec, len) == 0;
}

static bool
row_has_key(const char *row, const char *key, size_t len)
{
    const char *k = row + section_len(row);
    k += *k == '_';
    return strlen(k) == len && memcmp(k, key, len) == 0;
}

struct option *
option_find_in_section(struct option *opts, size_t n, const char *sec,
        size_t slen, const char *key, size_t klen)
{
    for (size_t i = 0; i < n; i++) {
        if (row_in_section(opts[i].name, sec, slen) &&
                row_has_key(opts[i].name, key, klen)) {
            return &opts[i];
        }
    }
    return NULL;
}

bool
option_section_known(
        const struct option *opts, size_t n, const char *sec, size_t slen)
{
    for (size_t i = 0; i < n; i++) {
        if (row_in_section(opts[i].name, sec, slen)) {
            return true;
        }
    }
    return false;
}

struct option *
option_find(struct option *opts, size_t n, const char *name)
{
    const char *dot = strchr(name, '.');
    if (dot == NULL) {
        return NULL;
    }
    return option_find_in_section(
            opts, n, name, (size_t)(dot - name), dot + 1, strlen(dot + 1));
}

const char *
option_dotted_name(const struct option *o, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", o->name);
    size_t s = section_len(o->name);
    if (s < cap && buf[s] == '_') {
        buf[s] = '.';
    }
    return buf;
}

const char *
option_where(const struct option *o, char *buf, size_t cap)
{
    char name[OPTION_NAME_MAX];
    option_dotted_name(o, name, sizeof(name));
    if (o->file != NULL && o->line == 0) {
        snprintf(buf, cap, "%s %s", o->file, name); /* a flag */
    } else if (o->file != NULL) {
        snprintf(buf, cap, "%s:%u: %s", o->file, o->line, name);
    } else {
        snprintf(buf, cap, "%s%s", o->set ? "-o " : "", name);
    }
    return buf;
}

void
option_set_by_flag(struct option *o, const char *flag)
{
    o->file = flag;
    o->line = 0;
}

const char *
option_type_str(option_type_e type)
{
    static const char *const name[] = {
            [OPTION_BOOL] = "bool",
            [OPTION_UINT] = "uint",
            [OPTION_SIZE] = "size",
            [OPTION_DURATION] = "duration",
            [OPTION_FPN] = "fpn",
            [OPTION_STR] = "str",
    };
    return (size_t)type < ARRAY_SIZE(name) ? name[type] : "unknown";
}

/* ------------------------------------------------------------------------ */
/* Values. Each parser returns NULL on success or the reason it failed. */

struct unit {
    const char *name; /* compared without regard to case */
    uint64_t mult;
};

static const struct unit size_unit[] = {
        {"", 1},
        {"b", 1},
        {"k", KiB},
        {"kb", KiB},
        {"kib", KiB},
        {"m", MiB},
        {"mb", MiB},
        {"mib", MiB},
        {"g", GiB},
        {"gb", GiB},
        {"gib", GiB},
        {"t", 1024 * GiB},
        {"tb", 1024 * GiB},
        {"tib", 1024 * GiB},
};

/* No "" row: a bare number is refused (duration_bare), because whether
 * "30" meant milliseconds or seconds depends on which server the operator
 * last configured (memcached and Redis count timeouts in seconds). */
static const struct unit duration_unit[] = {
        {"ms", 1},
        {"s", 1000},
        {"m", 60 * 1000},
        {"min", 60 * 1000},
        {"h", 60 * 60 * 1000},
        {"d", 24 * 60 * 60 * 1000},
};

static const struct unit uint_unit[] = {{"", 1}};

/* Digits, optional spaces, then one of the units. */
static const char *
parse_with_unit(const char *s, const struct unit *unit, size_t nunit,
        const char *bad, uint64_t *v)
{
    uint64_t acc = 0;
    bool overflow = false;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        overflow |= __builtin_mul_overflow(acc, 10, &acc);
        overflow |= __builtin_add_overflow(acc, (uint64_t)(*p - '0'), &acc);
    }
    if (p == s) {
        return bad;
    }
    if (*p == ' ' && unit != uint_unit) { /* "64 MiB", not "64 " */
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0') {
            return bad;
        }
    }
    for (size_t i = 0; i < nunit; i++) {
        if (strcasecmp(p, unit[i].name) != 0) {
            continue;
        }
        if (overflow || __builtin_mul_overflow(acc, unit[i].mult, v)) {
            return "too large";
        }
        return NULL;
    }
    return bad;
}

/* A duration needs its unit; only 0 means the same in every unit. */
static const char *
parse_duration(const char *s, uint64_t *v)
{
    size_t digits = strspn(s, "0123456789");
    if (digits > 0 && s[digits] == '\0') {
        if (strspn(s, "0") == digits) {
            *v = 0;
            return NULL;
        }
        return OPTION_DURATION_BARE;
    }
    return parse_with_unit(
            s, duration_unit, ARRAY_SIZE(duration_unit), "not a duration", v);
}

static const char *
parse_bool(const char *s, bool *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *v = strcasecmp(s, yes[i]) == 0;
            return NULL;
        }
    }
    return "not a bool";
}

static const char *
parse_fpn(const char *s, double *v)
{
    char *end;
    if (*s == '\0' || *s == ' ' || *s == '\t' || *s == '\n') {
        return "not a number";
    }
    double d = strtod(s, &end);
    if (*end != '\0' || !isfinite(d)) {
        return "not a number";
    }
    *v = d;
    return NULL;
}

/* s is NUL-terminated; for OPTION_STR, v borrows s. */
const char *
option_parse_value(option_type_e type, const char *s, union option_val *v)
{
    switch (type) {
    case OPTION_BOOL:
        return parse_bool(s, &v->OPTION_BOOL);
    case OPTION_UINT:
        return parse_with_unit(s, uint_unit, ARRAY_SIZE(uint_unit),
                "not an unsigned integer", &v->OPTION_UINT);
    case OPTION_SIZE:
        return parse_with_unit(s, size_unit, ARRAY_SIZE(size_unit),
                "not a size", &v->OPTION_SIZE);
    case OPTION_DURATION:
        return parse_duration(s, &v->OPTION_DURATION);
    case OPTION_FPN:
        return parse_fpn(s, &v->OPTION_FPN);
    case OPTION_STR:
        v->OPTION_STR = s;
        return NULL;
    }
    return "unknown option type";
}

static void
release_str(struct option *o)
{
    if (o->owned) {
        char *s = (char *)o->val.OPTION_STR;
        mm_free(&s);
        o->owned = false;
    }
}

/* Takes ownership of s (which may be NULL). */
void
option_assign_owned_str(struct option *o, char *s)
{
    release_str(o);
    o->val.OPTION_STR = s;
    o->owned = s != NULL;
    o->set = true;
    o->file = NULL;
    o->line = 0;
}

rstatus_i
option_assign(struct option *o, const union option_val *v)
{
    o->file = NULL; /* option_yaml.c names its file after assigning */
    o->line = 0;
    if (o->type != OPTION_STR) {
        o->val = *v;
        o->set = true;
        return STATUS_OK;
    }
    char *s = NULL;
    if (v->OPTION_STR != NULL) {
        s = mm_strdup(v->OPTION_STR);
        if (s == NULL) {
            return STATUS_ENOMEM;
        }
    }
    option_assign_owned_str(o, s);
    return STATUS_OK;
}

void
option_load_default(struct option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        release_str(&opts[i]);
        opts[i].val = opts[i].default_val;
        opts[i].set = false;
        opts[i].file = NULL;
        opts[i].line = 0;
    }
}

void
option_free(struct option *opts, size_t n)
{
    option_load_default(opts, n);
}

/* Strict UTF-8 as libyaml reads it: no overlong forms, no surrogates, at
 * most U+10FFFF. Keeps every string we hold printable as YAML. */
static bool
utf8_valid(const unsigned char *p)
{
    while (*p != '\0') {
        size_t len = *p < 0x80             ? 1
                     : (*p & 0xe0) == 0xc0 ? 2
                     : (*p & 0xf0) == 0xe0 ? 3
                     : (*p & 0xf8) == 0xf0 ? 4
                                           : 0;
        if (len == 0) {
            return false;
        }
        uint32_t c = len == 1 ? *p : *p & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return false;
            }
            c = c << 6 | (p[i] & 0x3f);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return false;
        }
        p += len;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Messages. */

_Static_assert(OPTION_ESCAPE_CAP >= ESCAPE_MAX * 4 + 8, "room to escape");

const char *
option_escape(char *buf, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    for (size_t i = 0; i < len && j + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == ESCAPE_MAX) {
            memcpy(buf + j, "...", 3);
            j += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f) {
            buf[j++] = (char)c;
        } else {
            buf[j++] = '\\';
            buf[j++] = 'x';
            buf[j++] = hex[c >> 4];
            buf[j++] = hex[c & 0xf];
        }
    }
    buf[j] = '\0';
    return buf;
}

void
option_error_printf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Overrides: -o seg.memory=1GiB. */

rstatus_i
option_set(struct option *opts, size_t n, const char *name, const char *value,
        char *err, size_t errlen)
{
    ASSERT(value != NULL);
    char ename[OPTION_ESCAPE_CAP], evalue[OPTION_ESCAPE_CAP];
    option_escape(ename, sizeof(ename), name, strlen(name));
    struct option *o = option_find(opts, n, name);
    if (o == NULL) {
        option_error_printf(err, errlen, "-o %s: unknown option", ename);
        return STATUS_EINVAL;
    }
    union option_val v;
    const char *why = option_parse_value(o->type, value, &v);
    if (why == NULL && o->type == OPTION_STR &&
            !utf8_valid((const unsigned char *)value)) {
        why = "not valid UTF-8";
    }
    if (why != NULL) {
        option_escape(evalue, sizeof(evalue), value, strlen(value));
        option_error_printf(err, errlen, "-o %s: %s: %s", ename, why, evalue);
        return STATUS_EINVAL;
    }
    if (option_assign(o, &v) != STATUS_OK) {
        option_error_printf(err, errlen, "-o %s: out of memory", ename);
        return STATUS_ENOMEM;
    }
    return STATUS_OK;
}

rstatus_i
option_set_assignment(struct option *opts, size_t n, const char *assignment,
        char *err, size_t errlen)
{
    char name[OPTION_NAME_MAX];
    const char *eq = strchr(assignment, '=');
    if (eq == NULL || (size_t)(eq - assignment) >= sizeof(name)) {
        char e[OPTION_ESCAPE_CAP];
        option_escape(e, sizeof(e), assignment, strlen(assignment));
        option_error_printf(err, errlen, "-o %s: %s", e,
                eq == NULL ? "expected name=value" : "unknown option");
        return STATUS_EINVAL;
    }
    memcpy(name, assignment, (size_t)(eq - assignment));
    name[eq - assignment] = '\0';
    return option_set(opts, n, name, eq + 1, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Formatting and printing. */

static const char *
format_with_unit(uint64_t v, const struct unit *unit, size_t nunit,
        const char *zero, char *buf, size_t cap)
{
    if (v == 0) {
        snprintf(buf, cap, "%s", zero);
        return buf;
    }
    for (size_t i = nunit; i-- > 0;) { /* largest exact unit first */
        if (v % unit[i].mult == 0) {
            snprintf(buf, cap, "%" PRIu64 "%s", v / unit[i].mult, unit[i].name);
            return buf;
        }
    }
    snprintf(buf, cap, "%" PRIu64, v);
    return buf;
}

/* The shortest %g form that reads back as the same double. */
static const char *
format_fpn(double d, char *buf, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) {
            break;
        }
    }
    return buf;
}

const char *
option_format(const struct option *o, const union option_val *v, char *buf,
        size_t cap)
{
    /* printed units: the canonical spellings, in increasing size */
    static const struct unit size_out[] = {{"", 1}, {"KiB", KiB}, {"MiB", MiB},
            {"GiB", GiB}, {"TiB", 1024 * GiB}};
    static const struct unit dur_out[] = {{"ms", 1}, {"s", 1000}, {"m", 60000},
            {"h", 3600000}, {"d", 86400000}};
    switch (o->type) {
    case OPTION_BOOL:
        snprintf(buf, cap, "%s", v->OPTION_BOOL ? "true" : "false");
        return buf;
    case OPTION_UINT:
        snprintf(buf, cap, "%" PRIu64, v->OPTION_UINT);
        return buf;
    case OPTION_SIZE:
        return format_with_unit(
                v->OPTION_SIZE, size_out, ARRAY_SIZE(size_out), "0", buf, cap);
    case OPTION_DURATION:
        return format_with_unit(v->OPTION_DURATION, dur_out,
                ARRAY_SIZE(dur_out), "0ms", buf, cap);
    case OPTION_FPN:
        return format_fpn(v->OPTION_FPN, buf, cap);
    case OPTION_STR:
        snprintf(buf, cap, "%s", v->OPTION_STR == NULL ? "~" : v->OPTION_STR);
        return buf;
    }
    snprintf(buf, cap, "?");
    return buf;
}

#define UTF8_INVALID 0xffffffffu

/* The code point at p and its length in bytes; UTF8_INVALID and length 1
 * for a byte that does not start a well-formed sequence. */
static uint32_t
utf8_next(const unsigned char *p, size_t *len)
{
    *len = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
    uint32_t c = *len == 1 ? *p : *p & (0x7f >> *len);
    for (size_t i = 1; i < *len; i++) {
        if ((p[i] & 0xc0) != 0x80) { /* also stops at the NUL */
            *len = 1;
            return UTF8_INVALID;
        }
        c = c << 6 | (p[i] & 0x3f);
    }
    return c;
}

/* Whether libyaml takes code point c as is inside a double-quoted scalar:
 * not a control character, not a line break it would fold (NEL, LS, PS),
 * not a byte order mark or a non-character. */
static bool
yaml_plain_char(uint32_t c)
{
    return (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ||
           (c >= 0xa0 && c != 0x2028 && c != 0x2029 && c != 0xfeff &&
                   c != 0xfffe && c != 0xffff);
}

/* s as a YAML double-quoted scalar that loads back to the same bytes. */
static void
print_yaml_str(FILE *out, const char *s)
{
    if (s == NULL) {
        fputs("~", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
        size_t len;
        uint32_t c = utf8_next(p, &len);
        if (yaml_plain_char(c) || c == UTF8_INVALID) {
            fwrite(p, 1, len, out); /* not UTF-8: only from a default */
        } else if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", (char)c);
        } else if (c == '\t' || c == '\n' || c == '\r') {
            fprintf(out, "\\%c", c == '\t' ? 't' : c == '\n' ? 'n' : 'r');
        } else if (c < 0x100) {
            fprintf(out, "\\x%02x", (unsigned)c);
        } else {
            fprintf(out, "\\u%04x", (unsigned)c);
        }
        p += len;
    }
    fputc('"', out);
}

/* A description on one comment line. */
static void
print_comment_text(FILE *out, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        fputc((unsigned char)*p < 0x20 ? ' ' : *p, out);
    }
}

static void
print_value(FILE *out, const struct option *o, const union option_val *v)
{
    char buf[64];
    if (o->type == OPTION_STR) {
        print_yaml_str(out, v->OPTION_STR);
    } else {
        fputs(option_format(o, v, buf, sizeof(buf)), out);
    }
}

static void
print_option(FILE *out, const struct option *o)
{
    const char *key = o->name + section_len(o->name);
    key += *key == '_';
    fprintf(out, "  # %s, default ", option_type_str(o->type));
    print_value(out, o, &o->default_val);
    fputs(": ", out);
    print_comment_text(out, o->desc == NULL ? "" : o->desc);
    fprintf(out, "\n  %s: ", key);
    print_value(out, o, &o->val);
    fputc('\n', out);
}

void
option_print_all(FILE *out, const struct option *opts, size_t n)
{
    fputs("# Every option: its type, default and description, then its "
          "value.\n",
            out);
    for (size_t i = 0; i < n; i++) {
        size_t slen = section_len(opts[i].name);
        if (option_section_known(opts, i, opts[i].name, slen)) {
            continue; /* printed with the first row of its section */
        }
        fprintf(out, "%.*s:\n", (int)slen, opts[i].name);
        for (size_t j = i; j < n; j++) {
            if (row_in_section(opts[j].name, opts[i].name, slen)) {
                print_option(out, &opts[j]);
            }
        }
    }
}

rstatus_i
option_refuse(const struct option *o, const struct option **bad, char *why,
        size_t cap, const char *fmt, ...)
{
    *bad = o;
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, cap, fmt, args);
    va_end(args);
    return STATUS_EINVAL;
}
