/* Python-style text (see pyfmt.h): the growable string builder, the two float formatters,
 * str()/repr() of cJSON values, and a json.dumps()-compatible writer for flat objects.
 *
 * The outputs are compared byte for byte with the original Python server (tests/integ/
 * test_control.py, tests/unit/base/test_config.c, tests/unit/base/test_pyfmt.c); where we
 * knowingly print something Python would not, test_pyfmt.c's test_documented_deviations says
 * what and why.
 *
 * Pure: no state between calls, so any thread may call it. The caller owns every stt_sbuf_t. */
#include "stt/pyfmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stt/log.h"

/* ---- the string builder ---------------------------------------------------------------------- */

/* Makes room for n more bytes and the NUL; allocates even for n == 0 so that buf is set. */
static void reserve(stt_sbuf_t *sb, size_t n)
{
    if (sb->len + n + 1 <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + n + 1)
        cap *= 2;
    sb->buf = stt_realloc(sb->buf, cap);
    sb->cap = cap;
}

void stt_sbuf_put(stt_sbuf_t *sb, const char *s, size_t n)
{
    reserve(sb, n);
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void stt_sbuf_puts(stt_sbuf_t *sb, const char *s)
{
    stt_sbuf_put(sb, s, strlen(s));
}

void stt_sbuf_putc(stt_sbuf_t *sb, char c)
{
    stt_sbuf_put(sb, &c, 1);
}

void stt_sbuf_printf(stt_sbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        stt_fatal(__FILE__, __LINE__, "stt_sbuf_printf: bad format");
    reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

const char *stt_sbuf_str(const stt_sbuf_t *sb)
{
    return sb->buf ? sb->buf : "";
}

void stt_sbuf_copy(const stt_sbuf_t *sb, char *out, size_t cap)
{
    snprintf(out, cap, "%s", stt_sbuf_str(sb));
}

void stt_sbuf_dispose(stt_sbuf_t *sb)
{
    if (!sb)
        return;
    free(sb->buf);
    sb->buf = NULL;
    sb->len = 0;
    sb->cap = 0;
}

/* ---- floats ---------------------------------------------------------------------------------- *
 *
 * Two formatters, because the original prints numbers two ways and we must match both:
 *
 *                    stt_pyfmt_number                  stt_pyfmt_json_float
 *   Python           str(x) / repr(x)                  json.dumps(float)
 *   used for         str()/repr() of cJSON numbers     control replies: get_parameter values of
 *                    ("Parameter P set to V" for       float options and state floats
 *                    non-float options), ranges in     (listen_start, ...); "Parameter P set to
 *                    argparse-style errors, --help,    V" for float options (control.c)
 *                    docs/config.md (config*.c)
 *   1 (a double)     1   (cJSON cannot tell 1 from     1.0 (the caller knows it is a float)
 *                    1.0; clients send ints as ints)
 *   nan, inf, -inf   nan, inf, -inf (str(float))       NaN, Infinity, -Infinity (json.dumps)
 *   digits           shortest round-trip, placed by repr()'s rule (both): fixed for exponents
 *                    -4..15, else scientific (1e+16, 1.5e-07); 100.0 prints 100.0 (until issue 12
 *                    json.dumps printed %g's 1e+02 there: fixed, test_pyfmt.c checks it) */

/* Writes NaN or an infinity as names[0], names[1] or names[2] (nan, inf, -inf) and returns true;
 * returns false and writes nothing for a finite v. */
static bool put_nonfinite(stt_sbuf_t *sb, double v, const char *const names[3])
{
    if (isfinite(v))
        return false;
    stt_sbuf_puts(sb, isnan(v) ? names[0] : v > 0 ? names[1] : names[2]);
    return true;
}

/* Formats v like Python's repr(float), except that integral values below 1e15 print without
 * ".0": cJSON keeps every number as a double and cannot tell 1 from 1.0, and clients mostly
 * send integers as integers. */
static void put_repr(stt_sbuf_t *sb, double v);

void stt_pyfmt_number(stt_sbuf_t *sb, double v)
{
    static const char *const str_names[] = {"nan", "inf", "-inf"};
    if (put_nonfinite(sb, v, str_names))
        return;
    if (v == floor(v) && fabs(v) < 1e15) {
        stt_sbuf_printf(sb, "%lld", (long long)v);
        return;
    }
    put_repr(sb, v);
}

/* Python's repr() of a finite float: the shortest decimal that reads back as the same double,
 * fixed for exponents -4..15 (always with a '.'), else scientific. */
static void put_repr(stt_sbuf_t *sb, double v)
{
    char sci[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof(sci), "%.*e", prec - 1, v);
        if (strtod(sci, NULL) == v)
            break;
    }
    /* sci is "[-]d[.ddd]e[+-]XX": split it into sign, digits and exponent. */
    bool neg = sci[0] == '-';
    char digits[24];
    size_t nd = 0;
    const char *p = sci + (neg ? 1 : 0);
    for (; *p && *p != 'e'; p++) {
        if (*p != '.' && nd + 1 < sizeof(digits))
            digits[nd++] = *p;
    }
    digits[nd] = '\0';
    int exp = *p == 'e' ? atoi(p + 1) : 0;

    if (neg)
        stt_sbuf_putc(sb, '-');
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            stt_sbuf_puts(sb, "0.");
            for (int i = 0; i < -exp - 1; i++)
                stt_sbuf_putc(sb, '0');
            stt_sbuf_puts(sb, digits);
        } else {
            for (int i = 0; i <= exp; i++)
                stt_sbuf_putc(sb, (size_t)i < nd ? digits[i] : '0');
            stt_sbuf_putc(sb, '.');
            if ((size_t)exp + 1 < nd)
                stt_sbuf_puts(sb, digits + exp + 1);
            else
                stt_sbuf_putc(sb, '0');
        }
    } else {
        stt_sbuf_putc(sb, digits[0]);
        if (nd > 1) {
            stt_sbuf_putc(sb, '.');
            stt_sbuf_puts(sb, digits + 1);
        }
        stt_sbuf_printf(sb, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    }
}

/* json.dumps() of a float: the shortest round-tripping form, always with '.' or an exponent. */
void stt_pyfmt_json_float(stt_sbuf_t *sb, double v)
{
    static const char *const json_names[] = {"NaN", "Infinity", "-Infinity"};
    if (put_nonfinite(sb, v, json_names))
        return;
    put_repr(sb, v);
}

/* ---- str() and repr() ------------------------------------------------------------------------ */

/* Python's repr() of a str: single quotes unless the text has single but no double quotes. */
static void repr_string(stt_sbuf_t *sb, const char *s)
{
    char q = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';
    stt_sbuf_putc(sb, q);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == (unsigned char)q || *c == '\\') {
            stt_sbuf_putc(sb, '\\');
            stt_sbuf_putc(sb, (char)*c);
        } else if (*c == '\n') {
            stt_sbuf_puts(sb, "\\n");
        } else if (*c == '\r') {
            stt_sbuf_puts(sb, "\\r");
        } else if (*c == '\t') {
            stt_sbuf_puts(sb, "\\t");
        } else if (*c < 0x20 || *c == 0x7f) {
            stt_sbuf_printf(sb, "\\x%02x", *c);
        } else {
            stt_sbuf_putc(sb, (char)*c);
        }
    }
    stt_sbuf_putc(sb, q);
}

/* str() at the top level, repr() inside containers, as Python prints them. */
static void str_or_repr(stt_sbuf_t *sb, const cJSON *v, bool top)
{
    if (!v || cJSON_IsNull(v)) {
        stt_sbuf_puts(sb, "None");
    } else if (cJSON_IsBool(v)) {
        stt_sbuf_puts(sb, cJSON_IsTrue(v) ? "True" : "False");
    } else if (cJSON_IsNumber(v)) {
        stt_pyfmt_number(sb, v->valuedouble);
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring ? v->valuestring : "";
        if (top)
            stt_sbuf_puts(sb, s);
        else
            repr_string(sb, s);
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        bool obj = cJSON_IsObject(v);
        stt_sbuf_putc(sb, obj ? '{' : '[');
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child)
                stt_sbuf_puts(sb, ", ");
            if (obj) {
                repr_string(sb, c->string ? c->string : "");
                stt_sbuf_puts(sb, ": ");
            }
            str_or_repr(sb, c, false);
        }
        stt_sbuf_putc(sb, obj ? '}' : ']');
    } else {
        stt_sbuf_puts(sb, "None");
    }
}

void stt_pyfmt_str(stt_sbuf_t *sb, const cJSON *v)
{
    str_or_repr(sb, v, true);
}

void stt_pyfmt_repr(stt_sbuf_t *sb, const cJSON *v)
{
    str_or_repr(sb, v, false);
}

/* ---- json.dumps() ---------------------------------------------------------------------------- */

/* Decodes one UTF-8 code point; returns bytes consumed (1 for an invalid byte, mapped to U+FFFD).
 */
static size_t utf8_next(const unsigned char *p, unsigned *cp)
{
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    int n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!n) {
        *cp = 0xfffd;
        return 1;
    }
    unsigned v = p[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        v = (v << 6) | (p[i] & 0x3f);
    }
    *cp = v;
    return (size_t)n;
}

/* json.dumps' two-character escapes: the character in `escaped`, the letter after the backslash
 * at the same index in `escape_letters`. */
static const char escaped[] = "\"\\\n\r\t\b\f";
static const char escape_letters[] = "\"\\nrtbf";

void stt_pyfmt_json_string(stt_sbuf_t *sb, const char *s)
{
    stt_sbuf_putc(sb, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp;
        p += utf8_next(p, &cp);
        /* cp is 0 for the overlong "\xc0\x80", and strchr would find the terminator. */
        const char *e = cp && cp < 0x80 ? strchr(escaped, (int)cp) : NULL;
        if (e) {
            stt_sbuf_putc(sb, '\\');
            stt_sbuf_putc(sb, escape_letters[e - escaped]);
        } else if (cp >= 0x20 && cp < 0x7f) {
            stt_sbuf_putc(sb, (char)cp);
        } else if (cp < 0x10000) {
            stt_sbuf_printf(sb, "\\u%04x", cp);
        } else {
            unsigned v = cp - 0x10000;
            stt_sbuf_printf(sb, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
        }
    }
    stt_sbuf_putc(sb, '"');
}

void stt_pyfmt_json_value(stt_sbuf_t *sb, const cJSON *v, int as_float)
{
    if (!v || cJSON_IsNull(v)) {
        stt_sbuf_puts(sb, "null");
    } else if (cJSON_IsBool(v)) {
        stt_sbuf_puts(sb, cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!as_float && d == floor(d) && fabs(d) < 1e15)
            stt_sbuf_printf(sb, "%.0f", d);
        else
            stt_pyfmt_json_float(sb, d);
    } else if (cJSON_IsString(v)) {
        stt_pyfmt_json_string(sb, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        stt_sbuf_putc(sb, '[');
        for (const cJSON *e = v->child; e; e = e->next) {
            stt_pyfmt_json_value(sb, e, 0);
            if (e->next)
                stt_sbuf_puts(sb, ", ");
        }
        stt_sbuf_putc(sb, ']');
    } else if (cJSON_IsObject(v)) {
        stt_sbuf_putc(sb, '{');
        for (const cJSON *e = v->child; e; e = e->next) {
            stt_pyfmt_json_string(sb, e->string ? e->string : "");
            stt_sbuf_puts(sb, ": ");
            stt_pyfmt_json_value(sb, e, 0);
            if (e->next)
                stt_sbuf_puts(sb, ", ");
        }
        stt_sbuf_putc(sb, '}');
    } else {
        stt_sbuf_puts(sb, "null"); /* raw or invalid cJSON items: nothing json.dumps would print */
    }
}

char *stt_pyfmt_json_dumps(const cJSON *v)
{
    stt_sbuf_t sb = {0};
    stt_pyfmt_json_value(&sb, v, 0);
    return sb.buf; /* the builder's buffer, NUL-terminated */
}

void stt_pyfmt_json_object(stt_sbuf_t *sb, const stt_pyfmt_kv_t *kv, size_t n)
{
    stt_sbuf_putc(sb, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            stt_sbuf_puts(sb, ", ");
        stt_pyfmt_json_string(sb, kv[i].key);
        stt_sbuf_puts(sb, ": ");
        stt_pyfmt_json_value(sb, kv[i].value, kv[i].as_float);
    }
    stt_sbuf_putc(sb, '}');
}
