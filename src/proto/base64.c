/* Strict base64 decoder (include/stt/base64.h), moved here from the Twilio codec so that every
 * codec with base64 audio (Twilio family, OpenAI Realtime) shares one table decoder.
 * Pure functions; any thread. */
#include "stt/base64.h"
#include "stt/error.h"

#include <stdarg.h>
#include <stdio.h>

/* The codec's error path: the reason into err, the code returned (stt_error_fmt). */
#define fail(code, err, errlen, ...) \
    stt_error_fmt((err), (errlen), (code), __VA_ARGS__)

size_t stt_base64_strict_len(const char *s, size_t len)
{
    if (len % 4 != 0)
        return 0;
    size_t pad = 0;
    if (len >= 4 && s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    return len / 4 * 3 - pad;
}

/* Each byte's value in the base64 alphabet (A-Z a-z 0-9 + /), 255 for a byte outside it ('='
 * included): one load per character instead of a chain of range tests (the decoder runs on
 * every media message). */
static const uint8_t b64_values[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 255, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

static int b64_value(unsigned char c)
{
    return b64_values[c] == 255 ? -1 : b64_values[c];
}

stt_base64_err_t stt_base64_strict_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                                          size_t *out_len, const char *what, char *err,
                                          size_t errlen)
{
    *out_len = 0;
    if (len % 4 != 0)
        return fail(STT_BASE64_BAD, err, errlen,
                    "%s: base64 of %zu characters (not a multiple of 4)", what, len);
    size_t pad = 0;
    if (len >= 4 && s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    size_t n = len / 4 * 3 - pad;
    /* Every character valid (the common case) is one pass of loads and ORs; only a message
     * that fails is searched for its first bad byte. */
    unsigned bad = 0;
    for (size_t i = 0; i < len - pad; i++)
        bad |= b64_values[(unsigned char)s[i]];
    for (size_t i = 0; bad & 0x80 && i < len - pad; i++) {
        unsigned char c = (unsigned char)s[i];
        if (b64_value(c) < 0) {
            if (c >= 0x20 && c < 0x7f)
                return fail(STT_BASE64_BAD, err, errlen,
                            "%s: byte '%c' at offset %zu is not base64", what, c, i);
            return fail(STT_BASE64_BAD, err, errlen,
                        "%s: byte 0x%02x at offset %zu is not base64", what, c, i);
        }
    }
    if (len > 0) { /* the bits after the data in the last character must be zero */
        int last = b64_value((unsigned char)s[len - 1 - pad]);
        if ((pad == 2 && (last & 0x0f)) || (pad == 1 && (last & 0x03)))
            return fail(STT_BASE64_BAD, err, errlen,
                        "%s: the last base64 character has bits set past the data", what);
    }
    if (n > cap)
        return fail(STT_BASE64_TOOBIG, err, errlen,
                    "%s decodes to %zu bytes (at most %zu)", what, n, cap);
    size_t o = 0;
    size_t whole = pad ? len - 4 : len; /* groups without padding: all valid, 3 bytes each */
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < whole; i += 4) {
        uint32_t w = (uint32_t)b64_values[u[i]] << 18 | (uint32_t)b64_values[u[i + 1]] << 12 |
                     (uint32_t)b64_values[u[i + 2]] << 6 | (uint32_t)b64_values[u[i + 3]];
        out[o] = (uint8_t)(w >> 16);
        out[o + 1] = (uint8_t)(w >> 8);
        out[o + 2] = (uint8_t)w;
        o += 3;
    }
    if (pad) { /* the last group: "xx==" gives one byte, "xxx=" two */
        uint32_t w = (uint32_t)b64_values[u[whole]] << 18 |
                     (uint32_t)b64_values[u[whole + 1]] << 12 |
                     (pad == 1 ? (uint32_t)b64_values[u[whole + 2]] << 6 : 0);
        out[o++] = (uint8_t)(w >> 16);
        if (pad == 1)
            out[o++] = (uint8_t)(w >> 8);
    }
    *out_len = o;
    return STT_BASE64_OK;
}
