/* Transcript post-processing (spec section 5.9) and base64.
 *
 * The post-processing reproduces two Python functions byte for byte on ASCII input:
 *   recorder  _preprocess_output(): re.sub(r'\s+', ' ', text.strip()), text[0].upper(),
 *             append '.' if text[-1].isalnum() (final text only);
 *   server    preprocess_text(): lstrip, drop a leading "...", then two *sequential* checks
 *             (ends with "...'." -> drop last char; ends with "...'" -> drop last char, so
 *             "x...'." loses both its '.' and its quote), lstrip, text[0].upper().
 *
 * Where Python works on Unicode we approximate, and say so:
 * - Whitespace means ASCII whitespace (space, \t, \n, \v, \f, \r). Python's \s and strip() also
 *   match U+00A0, U+2000..U+200A, U+3000 and friends; engines do not emit those between words.
 * - Uppercasing the first character covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic,
 *   the cases where the capital has the same UTF-8 length, so it is done in place. Letters whose
 *   Python upper() changes length or is special ('ß' -> "SS", 'ı' -> 'I', 'ŉ', 'ſ', 'µ') and
 *   other scripts are left unchanged.
 * - "Last char is alphanumeric" is exact for ASCII. A non-ASCII last character counts as
 *   alphanumeric unless it is in a punctuation/symbol block (Latin-1 signs, General
 *   Punctuation..Misc Symbols, CJK punctuation, fullwidth ASCII punctuation, emoji, combining
 *   marks, and the Arabic/Devanagari sentence marks). So "café" gets its period like in Python,
 *   and "你好。" does not get a second one.
 *
 * Both functions compute the whole result first and truncate last, because the trailing-"...'"
 * rule looks at the end of the text: truncating the input first would change the result. */
#include "stt/text.h"

#include "stt/log.h"

#include <stdlib.h>
#include <string.h>

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int is_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Decodes the code point starting at s[0] (len bytes available). Returns its byte length, or 1
 * with *cp = 0xFFFD for a malformed sequence so callers always make progress. */
static size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned c = s[0];
    size_t n;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        *cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        *cp = c & 0x07;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len < n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    return n;
}

/* Writes cp (which must be < 0x800, i.e. two bytes) at s. */
static void utf8_put2(unsigned char *s, unsigned cp)
{
    s[0] = (unsigned char)(0xC0 | (cp >> 6));
    s[1] = (unsigned char)(0x80 | (cp & 0x3F));
}

/* Capital of a two-byte lowercase letter, or cp itself when none of the same length exists. */
static unsigned upper_2byte(unsigned cp)
{
    if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7)
        return cp - 0x20; /* Latin-1: à..þ -> À..Þ, skipping ÷ */
    if (cp == 0xFF)
        return 0x178; /* ÿ -> Ÿ */
    if ((cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) ||
        (cp >= 0x14A && cp <= 0x177))
        return (cp & 1) ? cp - 1 : cp; /* Latin Extended-A pairs: even capital, odd small */
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
        return (cp & 1) ? cp : cp - 1; /* the same pairs shifted by one */
    if ((cp >= 0x3B1 && cp <= 0x3C1) || (cp >= 0x3C3 && cp <= 0x3C9))
        return cp - 0x20; /* Greek α..ω -> Α..Ω */
    if (cp == 0x3C2)
        return 0x3A3; /* final sigma -> Σ, as Python does */
    if (cp >= 0x430 && cp <= 0x44F)
        return cp - 0x20; /* Cyrillic а..я -> А..Я */
    if (cp >= 0x450 && cp <= 0x45F)
        return cp - 0x50; /* ѐ..џ -> Ѐ..Џ */
    return cp;
}

/* text[0].upper() in place on s[0..len). */
static void upper_first(unsigned char *s, size_t len)
{
    if (len == 0)
        return;
    if (s[0] >= 'a' && s[0] <= 'z') {
        s[0] = (unsigned char)(s[0] - 'a' + 'A');
        return;
    }
    unsigned cp;
    size_t n = utf8_decode(s, len, &cp);
    if (n != 2)
        return;
    unsigned up = upper_2byte(cp);
    if (up != cp)
        utf8_put2(s, up);
}

/* Approximates Python's str.isalnum() for one non-ASCII code point (see the file comment). */
static int nonascii_is_alnum(unsigned cp)
{
    if (cp >= 0x80 && cp <= 0xBF)
        return cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5 || cp == 0xB9 || cp == 0xBA ||
               (cp >= 0xBC && cp <= 0xBE); /* ª ²³ µ ¹ º ¼½¾ */
    if (cp == 0xD7 || cp == 0xF7)
        return 0; /* × ÷ */
    if (cp >= 0x300 && cp <= 0x36F)
        return 0; /* combining diacritics */
    if (cp == 0x60C || cp == 0x61B || cp == 0x61F || cp == 0x6D4)
        return 0; /* Arabic comma, semicolon, question mark, full stop */
    if (cp == 0x964 || cp == 0x965)
        return 0; /* Devanagari danda */
    if (cp >= 0x2000 && cp <= 0x2BFF)
        return 0; /* punctuation, symbols, arrows, math, box drawing, ... */
    if (cp >= 0x3000 && cp <= 0x303F)
        return cp == 0x3005 || cp == 0x3006 || cp == 0x3007; /* 々 〆 〇 are alnum */
    if (cp >= 0xFE30 && cp <= 0xFE6F)
        return 0; /* CJK compatibility and small form punctuation */
    if (cp >= 0xFF00 && cp <= 0xFF65)
        return (cp >= 0xFF10 && cp <= 0xFF19) || (cp >= 0xFF21 && cp <= 0xFF3A) ||
               (cp >= 0xFF41 && cp <= 0xFF5A); /* fullwidth digits and letters only */
    if (cp == 0xFFFD)
        return 0;
    if (cp >= 0x1F000 && cp <= 0x1FAFF)
        return 0; /* emoji and pictographs */
    return 1;
}

/* Python's text[-1].isalnum() on s[0..len), len > 0. */
static int last_is_alnum(const unsigned char *s, size_t len)
{
    if (s[len - 1] < 0x80)
        return is_ascii_alnum(s[len - 1]);
    size_t start = len - 1;
    while (start > 0 && (s[start] & 0xC0) == 0x80 && len - start < 4)
        start--;
    unsigned cp;
    size_t n = utf8_decode(s + start, len - start, &cp);
    if (start + n != len)
        return 0; /* malformed tail */
    return nonascii_is_alnum(cp);
}

static int ends_with(const unsigned char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Collapses whitespace runs to one space and strips both ends: src -> dst, returns length.
 * dst may equal src (the output never outruns the input). */
static size_t collapse_strip(const unsigned char *src, unsigned char *dst)
{
    size_t o = 0;
    int pending_space = 0;
    for (const unsigned char *p = src; *p != '\0'; p++) {
        if (is_space(*p)) {
            pending_space = (o > 0);
            continue;
        }
        if (pending_space)
            dst[o++] = ' ';
        pending_space = 0;
        dst[o++] = *p;
    }
    return o;
}

/* preprocess_text() of the server, in place; returns the new start offset and updates *len. */
static size_t server_step(unsigned char *s, size_t *len)
{
    size_t b = 0, e = *len;
    while (b < e && is_space(s[b]))
        b++;
    if (e - b >= 3 && memcmp(s + b, "...", 3) == 0)
        b += 3;
    if (ends_with(s + b, e - b, "...'."))
        e--;
    if (ends_with(s + b, e - b, "...'"))
        e--;
    while (b < e && is_space(s[b]))
        b++;
    upper_first(s + b, e - b);
    *len = e - b;
    return b;
}

/* Copies at most cap-1 bytes, never splitting a UTF-8 sequence, and NUL-terminates. */
static void copy_out(const unsigned char *s, size_t len, char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return;
    size_t n = len;
    if (n > cap - 1) {
        n = cap - 1;
        while (n > 0 && (s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static void text_process(const char *in, char *out, size_t cap, int final)
{
    if (in == NULL)
        in = "";
    size_t in_len = strlen(in);
    /* +2: room for the appended '.' and a NUL. */
    unsigned char *buf = stt_malloc(in_len + 2);
    size_t len = collapse_strip((const unsigned char *)in, buf);
    upper_first(buf, len);
    if (final && len > 0 && last_is_alnum(buf, len))
        buf[len++] = '.';
    size_t start = server_step(buf, &len);
    copy_out(buf + start, len, out, cap);
    free(buf);
}

void stt_text_final(const char *in, char *out, size_t cap)
{
    text_process(in, out, cap, 1);
}

void stt_text_realtime(const char *in, char *out, size_t cap)
{
    text_process(in, out, cap, 0);
}

static const char B64_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t stt_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t stt_base64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64_ALPHABET[(v >> 18) & 63];
        out[o++] = B64_ALPHABET[(v >> 12) & 63];
        out[o++] = B64_ALPHABET[(v >> 6) & 63];
        out[o++] = B64_ALPHABET[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = B64_ALPHABET[(v >> 18) & 63];
        out[o++] = B64_ALPHABET[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = B64_ALPHABET[(v >> 18) & 63];
        out[o++] = B64_ALPHABET[(v >> 12) & 63];
        out[o++] = B64_ALPHABET[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Accepts padded input and, leniently, unpadded input (length % 4 of 2 or 3); refuses any byte
 * outside the alphabet (whitespace included), '=' anywhere but the last one or two positions of
 * a padded input, and a lone trailing sextet. Non-zero bits in the unused tail of the last
 * sextet are ignored, as most decoders (Python's included) do. */
long stt_base64_decode(const char *in, size_t n, uint8_t *out)
{
    const unsigned char *s = (const unsigned char *)in;
    if (n > 0 && s[n - 1] == '=') {
        if (n % 4 != 0)
            return -1;
        n--;
        if (s[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)((acc >> bits) & 0xFF);
        }
    }
    return (long)o;
}

char *stt_text_trimmed(const char *t)
{
    if (!t)
        t = "";
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    while (n > 0 && t[n - 1] == ' ')
        n--;
    char *s = stt_malloc(n + 1);
    memcpy(s, t, n);
    s[n] = '\0';
    return s;
}
