/* jambonz custom speech vendor codec (include/stt/jambonz.h).
 *
 * Parsing order, each failure with its own code and a one-line reason:
 *   1. TOOBIG above max_bytes (before any parsing)
 *   2. JSON   empty, not strict UTF-8, raw control bytes, not JSON, trailing data
 *   3. NOTOBJ not an object
 *   4. TYPE   "type" absent or not a string; "start" and "stop" (any case) are the messages,
 *             another string is OTHER (logged and ignored by the adapter: jambonz may grow)
 *   5. start only, per key: LANGUAGE, FORMAT, ENCODING, RATE, INTERIM, OPTIONS, CALLSID, HINTS
 * A stop carries nothing else; its other keys are ignored.
 *
 * Hints are copied into one block owned by the message (pointer array, then the phrases), so
 * one free() releases them. Every size is bounded before allocating: the message by max_bytes,
 * the hints by STT_JAMBONZ_MAX_HINTS (more is an error: a client that sends thousands of hints
 * is not a telephony platform) and each phrase by STT_JAMBONZ_HINT_MAX_BYTES (longer is cut).
 *
 * Pure: no sockets, no globals. */
#include "stt/jambonz.h"
#include "stt/error.h"

#include "json_text.h"

#include "stt/log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *stt_jambonz_err_name(stt_jambonz_err_t e)
{
    switch (e) {
#define STT_JAMBONZ_ERR_NAME(name, str, code)                                                     \
    case STT_JAMBONZ_ERR_##name:                                                                  \
        return str;
        STT_JAMBONZ_ERR_MAP(STT_JAMBONZ_ERR_NAME)
#undef STT_JAMBONZ_ERR_NAME
    }
    return "unknown_jambonz_error";
}

int stt_jambonz_err_close_code(stt_jambonz_err_t e)
{
    switch (e) {
#define STT_JAMBONZ_ERR_CODE(name, str, code)                                                     \
    case STT_JAMBONZ_ERR_##name:                                                                  \
        return code;
        STT_JAMBONZ_ERR_MAP(STT_JAMBONZ_ERR_CODE) /* NOLINT(bugprone-branch-clone) */
#undef STT_JAMBONZ_ERR_CODE
    }
    return 1011;
}

/* The codec's error path: the reason into err, the code returned (stt_error_fmt). */
#define fail(code, err, errlen, ...) \
    stt_error_fmt((err), (errlen), (code), __VA_ARGS__)

/* ---- small checks ---- */

/* A printable ASCII string of 1..cap-1 bytes without quotes or backslashes (so it can go into
 * log lines and replies as it is). */
static int short_printable(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return 0;
    return 1;
}

/* A plain decimal number in a string ("8000", "8000.0"); 1 and the value, or 0. */
static int numeric_string(const char *s, double *out)
{
    double v = 0, scale = 0.1;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 12; s++, digits++)
        v = v * 10 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9' && digits < 24; s++, digits++, scale /= 10)
            v += (*s - '0') * scale;
    if (digits == 0 || *s != '\0')
        return 0;
    *out = v;
    return 1;
}

/* The member `key` of obj, compared case-sensitively (jambonz's keys are fixed camelCase); the
 * last of duplicates, as JavaScript's JSON.parse keeps. */
static const cJSON *member(const cJSON *obj, const char *key)
{
    return stt_json_last_member(obj, key);
}

/* ---- hints ---- */

/* The phrase of one hints entry, or NULL: a string (a JSON-stringified object is looked into),
 * or an object with a "phrase" string. *parsed receives a tree to delete when one was made. */
static const char *hint_phrase(const cJSON *h, cJSON **parsed)
{
    *parsed = NULL;
    if (cJSON_IsString(h)) {
        const char *s = h->valuestring;
        while (*s == ' ')
            s++;
        if (*s != '{')
            return h->valuestring;
        *parsed = stt_json_parse_strict(h->valuestring, strlen(h->valuestring), NULL, 0);
        h = *parsed;
        if (h == NULL)
            return NULL;
    }
    if (!cJSON_IsObject(h))
        return NULL;
    const cJSON *p = member(h, "phrase");
    return cJSON_IsString(p) ? p->valuestring : NULL;
}

/* Length of s cut to at most max bytes on a character boundary, spaces trimmed at both ends
 * (*start: the offset of the first kept byte). */
static size_t hint_len(const char *s, size_t max, size_t *start)
{
    size_t b = 0, n = strlen(s);
    while (b < n && s[b] == ' ')
        b++;
    size_t end = b;
    while (end < n) {
        size_t k = stt_utf8_seq_len((const unsigned char *)s + end, n - end);
        if (k == 0 || end + k - b > max)
            break;
        end += k;
    }
    while (end > b && s[end - 1] == ' ')
        end--;
    *start = b;
    return end - b;
}

static stt_jambonz_err_t copy_hints(const cJSON *hints, stt_jambonz_msg_t *out, char *err,
                                    size_t errlen)
{
    if (!cJSON_IsArray(hints))
        return STT_JAMBONZ_ERR_OK; /* null, an object (documented "Array or Object"), ...: none */
    int n = cJSON_GetArraySize(hints);
    if (n > STT_JAMBONZ_MAX_HINTS)
        return fail(STT_JAMBONZ_ERR_HINTS, err, errlen, "%d hints, more than %d", n,
                    STT_JAMBONZ_MAX_HINTS);
    /* Pass 1: sizes; pass 2: copies. Both passes see the same phrases. */
    size_t count = 0, bytes = 0;
    for (int pass = 0; pass < 2; pass++) {
        char **ptrs = out->mem;
        char *text = ptrs ? (char *)(ptrs + count) : NULL;
        size_t k = 0;
        for (const cJSON *h = hints->child; h != NULL; h = h->next) {
            cJSON *parsed;
            const char *p = hint_phrase(h, &parsed);
            size_t start, len = p ? hint_len(p, STT_JAMBONZ_HINT_MAX_BYTES, &start) : 0;
            if (len > 0 && pass == 0) {
                count++;
                bytes += len + 1;
            } else if (len > 0) {
                memcpy(text, p + start, len);
                text[len] = '\0';
                ptrs[k++] = text;
                text += len + 1;
            }
            cJSON_Delete(parsed);
        }
        if (pass == 0) {
            if (count == 0)
                return STT_JAMBONZ_ERR_OK;
            out->mem = stt_malloc(count * sizeof(char *) + bytes);
        }
    }
    out->start.hints = (const char *const *)out->mem;
    out->start.n_hints = count;
    return STT_JAMBONZ_ERR_OK;
}

/* ---- start ---- */

static stt_jambonz_err_t check_strings(const cJSON *root, stt_jambonz_start_t *st, char *err,
                                       size_t errlen)
{
    const cJSON *v = member(root, "language");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) || !short_printable(v->valuestring, STT_JAMBONZ_LANGUAGE_MAX))
            return fail(STT_JAMBONZ_ERR_LANGUAGE, err, errlen,
                        "language must be a language tag of 1..%d printable characters",
                        STT_JAMBONZ_LANGUAGE_MAX - 1);
        snprintf(st->language, sizeof(st->language), "%s", v->valuestring);
    }
    v = member(root, "format");
    if (v != NULL && !cJSON_IsNull(v) &&
        (!cJSON_IsString(v) || strcasecmp(v->valuestring, "raw") != 0))
        return fail(STT_JAMBONZ_ERR_FORMAT, err, errlen,
                    "format must be \"raw\" (PCM in binary frames)");
    v = member(root, "encoding");
    if (v != NULL && !cJSON_IsNull(v) &&
        (!cJSON_IsString(v) || strcasecmp(v->valuestring, "LINEAR16") != 0))
        return fail(STT_JAMBONZ_ERR_ENCODING, err, errlen,
                    "encoding must be \"LINEAR16\" (16-bit little-endian PCM)");
    return STT_JAMBONZ_ERR_OK;
}

static stt_jambonz_err_t check_numbers(const cJSON *root, stt_jambonz_start_t *st, char *err,
                                       size_t errlen)
{
    const cJSON *v = member(root, "sampleRateHz");
    if (v != NULL && !cJSON_IsNull(v)) {
        double r;
        if (cJSON_IsNumber(v))
            r = v->valuedouble;
        else if (!cJSON_IsString(v) || !numeric_string(v->valuestring, &r))
            return fail(STT_JAMBONZ_ERR_RATE, err, errlen, "sampleRateHz must be a number, got %s",
                        stt_json_type_name(v));
        /* Compare as double: casting an out-of-range double to int is undefined. */
        if (!stt_json_is_integral(r) || r < STT_JAMBONZ_MIN_RATE_HZ || r > STT_JAMBONZ_MAX_RATE_HZ)
            return fail(STT_JAMBONZ_ERR_RATE, err, errlen,
                        "sampleRateHz %.10g is not a whole number in %d..%d", r,
                        STT_JAMBONZ_MIN_RATE_HZ, STT_JAMBONZ_MAX_RATE_HZ);
        st->sample_rate_hz = (int)r;
    }
    v = member(root, "interimResults");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (cJSON_IsBool(v))
            st->interim_results = cJSON_IsTrue(v);
        else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
            st->interim_results = v->valuedouble == 1;
        else
            return fail(STT_JAMBONZ_ERR_INTERIM, err, errlen,
                        "interimResults must be a boolean, got %s", stt_json_type_name(v));
    }
    return STT_JAMBONZ_ERR_OK;
}

static stt_jambonz_err_t check_options(const cJSON *root, stt_jambonz_msg_t *out, char *err,
                                       size_t errlen)
{
    const cJSON *o = member(root, "options");
    if (o == NULL || cJSON_IsNull(o))
        return STT_JAMBONZ_ERR_OK;
    if (!cJSON_IsObject(o))
        return fail(STT_JAMBONZ_ERR_OPTIONS, err, errlen, "options must be an object, got %s",
                    stt_json_type_name(o));
    const cJSON *sid = member(o, "callSid");
    if (sid != NULL && !cJSON_IsNull(sid)) {
        if (!cJSON_IsString(sid) || !short_printable(sid->valuestring, STT_JAMBONZ_CALL_SID_MAX))
            return fail(STT_JAMBONZ_ERR_CALLSID, err, errlen,
                        "options.callSid must be 1..%d printable characters",
                        STT_JAMBONZ_CALL_SID_MAX - 1);
        snprintf(out->start.call_sid, sizeof(out->start.call_sid), "%s", sid->valuestring);
    }
    const cJSON *boost = member(o, "hintsBoost");
    if (cJSON_IsNumber(boost) && isfinite(boost->valuedouble))
        out->start.hints_boost = boost->valuedouble;
    return copy_hints(member(o, "hints"), out, err, errlen);
}

static void empty_msg(stt_jambonz_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->start.language, sizeof(m->start.language), "%s", STT_JAMBONZ_DEFAULT_LANGUAGE);
    m->start.sample_rate_hz = STT_JAMBONZ_DEFAULT_RATE_HZ;
}

static stt_jambonz_err_t check_message(const cJSON *root, stt_jambonz_msg_t *out, char *err,
                                       size_t errlen)
{
    if (!cJSON_IsObject(root))
        return fail(STT_JAMBONZ_ERR_NOTOBJ, err, errlen, "message must be a JSON object, got %s",
                    stt_json_type_name(root));
    const cJSON *type = member(root, "type");
    if (!cJSON_IsString(type))
        return fail(STT_JAMBONZ_ERR_TYPE, err, errlen, "message has no \"type\" string");
    if (strcasecmp(type->valuestring, "stop") == 0) {
        out->kind = STT_JAMBONZ_MSG_STOP;
        return STT_JAMBONZ_ERR_OK;
    }
    if (strcasecmp(type->valuestring, "start") != 0) {
        out->kind = STT_JAMBONZ_MSG_OTHER;
        size_t start, n = hint_len(type->valuestring, sizeof(out->other_type) - 1, &start);
        memcpy(out->other_type, type->valuestring + start, n);
        out->other_type[n] = '\0';
        for (size_t i = 0; i < n; i++) /* for the log line: printable only */
            if ((unsigned char)out->other_type[i] < 0x20 || out->other_type[i] == '"')
                out->other_type[i] = '?';
        return STT_JAMBONZ_ERR_OK;
    }
    stt_jambonz_err_t rc;
    if ((rc = check_strings(root, &out->start, err, errlen)) != STT_JAMBONZ_ERR_OK ||
        (rc = check_numbers(root, &out->start, err, errlen)) != STT_JAMBONZ_ERR_OK ||
        (rc = check_options(root, out, err, errlen)) != STT_JAMBONZ_ERR_OK)
        return rc;
    out->kind = STT_JAMBONZ_MSG_START;
    return STT_JAMBONZ_ERR_OK;
}

stt_jambonz_err_t stt_jambonz_parse(const char *buf, size_t len, size_t max_bytes,
                                    stt_jambonz_msg_t *out, char *err, size_t errlen)
{
    if (max_bytes == 0)
        max_bytes = STT_JAMBONZ_MAX_MESSAGE_BYTES;
    empty_msg(out);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (buf == NULL)
        len = 0;
    if (len > max_bytes)
        return fail(STT_JAMBONZ_ERR_TOOBIG, err, errlen,
                    "message of %zu bytes exceeds the %zu-byte limit", len, max_bytes);
    cJSON *root = stt_json_parse_strict(buf, len, err, errlen);
    if (root == NULL)
        return STT_JAMBONZ_ERR_JSON;
    stt_jambonz_err_t rc = check_message(root, out, err, errlen);
    cJSON_Delete(root);
    if (rc != STT_JAMBONZ_ERR_OK) {
        stt_jambonz_msg_dispose(out);
        empty_msg(out);
    }
    return rc;
}

void stt_jambonz_msg_dispose(stt_jambonz_msg_t *msg)
{
    if (msg == NULL)
        return;
    free(msg->mem);
    msg->mem = NULL;
    msg->start.hints = NULL;
    msg->start.n_hints = 0;
    msg->kind = STT_JAMBONZ_MSG_NONE;
}

size_t stt_jambonz_hints_prompt(const char *const *hints, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(hints[i]), sep = o ? 2 : 0;
        if (o + sep + len + 1 > cap)
            break;
        memcpy(buf + o, ", ", sep);
        memcpy(buf + o + sep, hints[i], len + 1);
        o += sep + len;
    }
    return o;
}

/* ---- building ---- */

static char *print(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL)
        stt_fatal(__FILE__, __LINE__, "cJSON_PrintUnformatted");
    return s;
}

char *stt_jambonz_build_transcription(const stt_jambonz_transcription_t *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "transcription");
    cJSON_AddBoolToObject(o, "is_final", t->is_final ? 1 : 0);
    cJSON *alts = cJSON_AddArrayToObject(o, "alternatives");
    cJSON *a = cJSON_CreateObject();
    char *text = stt_utf8_sanitized(t->transcript);
    cJSON_AddStringToObject(a, "transcript", text);
    free(text);
    double c = t->confidence;
    c = !isfinite(c) || c < 0 ? 1.0 : c > 1 ? 1.0 : c;
    cJSON_AddNumberToObject(a, "confidence", c);
    cJSON_AddItemToArray(alts, a);
    char *lang = stt_utf8_sanitized(t->language ? t->language : STT_JAMBONZ_DEFAULT_LANGUAGE);
    cJSON_AddStringToObject(o, "language", lang);
    free(lang);
    cJSON_AddNumberToObject(o, "channel", t->channel);
    return print(o);
}

char *stt_jambonz_build_error(const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    char *m = stt_utf8_sanitized(message);
    cJSON_AddStringToObject(o, "error", m);
    free(m);
    return print(o);
}
