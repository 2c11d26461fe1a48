/* Shared checks and helpers of the JSON codecs (json_text.h). */
#include "json_text.h"

#include "stt/error.h"
#include "stt/log.h"

#include <math.h>
#include <string.h>

size_t stt_utf8_seq_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (len <= need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    }
    return need + 1;
}

size_t stt_json_bad_byte(const uint8_t *s, size_t len, int *is_control)
{
    *is_control = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            *is_control = 1;
            return i;
        }
        size_t n = stt_utf8_seq_len(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

const char *stt_json_type_name(const cJSON *item)
{
    if (cJSON_IsString(item))
        return "string";
    if (cJSON_IsNumber(item))
        return "number";
    if (cJSON_IsBool(item))
        return "boolean";
    if (cJSON_IsNull(item))
        return "null";
    if (cJSON_IsArray(item))
        return "array";
    if (cJSON_IsObject(item))
        return "object";
    return "invalid";
}

const cJSON *stt_json_last_member(const cJSON *obj, const char *key)
{
    const cJSON *found = NULL;
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        if (it->string != NULL && strcmp(it->string, key) == 0)
            found = it;
    }
    return found;
}

int stt_json_is_integral(double v)
{
    return isfinite(v) && floor(v) == v;
}

cJSON *stt_json_parse_strict(const char *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)buf;
    if (buf == NULL || len == 0) {
        stt_error_fmt(err, errlen, STT_EPARSE, "message is empty");
        return NULL;
    }
    int is_control;
    size_t bad = stt_json_bad_byte(s, len, &is_control);
    if (bad < len) {
        stt_error_fmt(err, errlen, STT_EPARSE,
                      is_control ? "message has control byte 0x%02x at offset %zu of %zu"
                                 : "message is not valid UTF-8 (byte 0x%02x at offset %zu of %zu)",
                      s[bad], bad, len);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (root == NULL) {
        size_t at = (end != NULL && end >= buf) ? (size_t)(end - buf) : 0;
        stt_error_fmt(err, errlen, STT_EPARSE,
                      "message is not valid JSON (error at offset %zu of %zu)", at, len);
        return NULL;
    }
    size_t pos = (size_t)(end - buf);
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
        pos++;
    if (pos < len) {
        cJSON_Delete(root);
        stt_error_fmt(err, errlen, STT_EPARSE,
                      "message has trailing data after the JSON value (offset %zu of %zu)", pos,
                      len);
        return NULL;
    }
    return root;
}

char *stt_utf8_sanitized(const char *s)
{
    if (s == NULL)
        s = "";
    size_t len = strlen(s);
    char *out = stt_malloc(len * 3 + 1); /* each bad byte becomes 3 bytes at most */
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = stt_utf8_seq_len((const unsigned char *)s + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}
