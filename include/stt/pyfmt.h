/* Python-style text: a growable string builder and the ways the original Python server prints
 * values, so that our replies and messages match it byte for byte.
 *
 * - str() and repr() of a cJSON value ("Parameter P set to V", argparse-style error texts);
 * - json.dumps() with its default settings (", " and ": " separators, ASCII-only output with
 *   \uXXXX escapes, floats always with a '.' or an exponent, NaN/Infinity) for control replies.
 *
 * Every writer appends to a stt_sbuf_t the caller owns. Pure and thread-safe: nothing here
 * keeps state between calls. Allocation failure aborts (stt_realloc). */
#ifndef STT_PYFMT_H
#define STT_PYFMT_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* A growable NUL-terminated string. A zeroed struct is an empty builder; after the first write
 * (even of zero bytes) buf points to `len` bytes and a terminating NUL. buf is owned by the
 * caller: free it with stt_sbuf_dispose() (or free(), or keep it). */
typedef struct {
    char *buf;
    size_t len; /* bytes written, without the NUL */
    size_t cap; /* bytes allocated */
} stt_sbuf_t;

/* Append n bytes / a NUL-terminated string / one byte / printf-formatted text. */
void stt_sbuf_put(stt_sbuf_t *sb, const char *s, size_t n);
void stt_sbuf_puts(stt_sbuf_t *sb, const char *s);
void stt_sbuf_putc(stt_sbuf_t *sb, char c);
void stt_sbuf_printf(stt_sbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The text so far: "" before the first write. Borrowed until the next write or dispose. */
const char *stt_sbuf_str(const stt_sbuf_t *sb);

/* Copies the text into out, truncated to cap - 1 bytes like snprintf. */
void stt_sbuf_copy(const stt_sbuf_t *sb, char *out, size_t cap);

/* Frees the text and leaves an empty builder. Accepts NULL. */
void stt_sbuf_dispose(stt_sbuf_t *sb);

/* Python's str() of a number as cJSON holds it: repr(float), except that integral values below
 * 1e15 print without ".0" and the non-finite ones as nan, inf, -inf. */
void stt_pyfmt_number(stt_sbuf_t *sb, double v);

/* json.dumps() of a Python float: always a '.' or an exponent; NaN, Infinity, -Infinity. */
void stt_pyfmt_json_float(stt_sbuf_t *sb, double v);

/* Python's str() and repr() of a value (NULL prints as None). They differ only for a string at
 * the top level: str() prints it bare, repr() quoted. Inside lists and dicts both use repr(). */
void stt_pyfmt_str(stt_sbuf_t *sb, const cJSON *v);
void stt_pyfmt_repr(stt_sbuf_t *sb, const cJSON *v);

/* json.dumps() of a str: double-quoted, ASCII only. s is read as UTF-8; an invalid byte prints
 * as \ufffd. */
void stt_pyfmt_json_string(stt_sbuf_t *sb, const char *s);

/* json.dumps() of a scalar. cJSON keeps every number as a double, so `as_float` says whether it
 * was a Python float ("2.0") or an int ("2"). NULL prints as null. Arrays and objects print in
 * cJSON's compact form, without json.dumps' spaces. */
void stt_pyfmt_json_value(stt_sbuf_t *sb, const cJSON *v, int as_float);

/* One key of a flat object; value borrowed for the call. */
typedef struct {
    const char *key;
    const cJSON *value;
    int as_float;
} stt_pyfmt_kv_t;

/* json.dumps() of a dict with these keys in this order. */
void stt_pyfmt_json_object(stt_sbuf_t *sb, const stt_pyfmt_kv_t *kv, size_t n);

/* json.dumps(v) of a whole value with Python's default separators (", ", ": "), keys in
 * insertion order, ASCII-escaped strings, integral numbers as ints. Returns a malloc'd string
 * (free()). The RealtimeSTT data events are printed with it, as the original prints them. */
char *stt_pyfmt_json_dumps(const cJSON *v);

#endif /* STT_PYFMT_H */
