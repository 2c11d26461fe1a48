/* Shared checks and helpers of the JSON codecs (json_text.h). */
#include "json_text.h"

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
