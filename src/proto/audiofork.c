/* "Metadata then raw PCM" codec (include/stt/audiofork.h).
 *
 * The header is whatever the client's first text frame holds. Only a JSON object is looked
 * into; an opaque string (mod_audio_fork passes its `metadata` argument verbatim) is accepted
 * as it is, so a client whose metadata happens not to be JSON is never refused for it. Inside an
 * object the keys that decide the audio (sampleRate, mixType, channels) must make sense, or the
 * call would be transcribed at the wrong rate: those are errors. Keys are looked up as jambonz
 * and mod_audio_stream users spell them (camelCase first, then snake_case); the last of
 * duplicates wins, as JavaScript's JSON.parse keeps.
 *
 * Pure: no sockets, no globals. */
#include "stt/audiofork.h"
#include "stt/error.h"

#include "json_text.h"

#include "stt/log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *stt_af_err_name(stt_af_err_t e)
{
    switch (e) {
#define STT_AF_ERR_NAME(name, str, code)                                                          \
    case STT_AF_ERR_##name:                                                                       \
        return str;
        STT_AF_ERR_MAP(STT_AF_ERR_NAME)
#undef STT_AF_ERR_NAME
    }
    return "unknown_audiofork_error";
}

int stt_af_err_close_code(stt_af_err_t e)
{
    switch (e) {
#define STT_AF_ERR_CODE(name, str, code)                                                          \
    case STT_AF_ERR_##name:                                                                       \
        return code;
        STT_AF_ERR_MAP(STT_AF_ERR_CODE) /* NOLINT(bugprone-branch-clone) */
#undef STT_AF_ERR_CODE
    }
    return 1011;
}

/* The codec's error path: the reason into err, the code returned (stt_error_fmt). */
#define fail(code, err, errlen, ...) \
    stt_error_fmt((err), (errlen), (code), __VA_ARGS__)

void stt_af_header_init(stt_af_header_t *h)
{
    memset(h, 0, sizeof(*h));
    h->transcribe = -1;
    h->interim = -1;
}

static int valid_rate(double r)
{
    return isfinite(r) && r >= STT_AF_MIN_RATE_HZ && r <= STT_AF_MAX_RATE_HZ &&
           fmod(r, 8000.0) == 0.0;
}

int stt_af_parse_rate(const char *s)
{
    if (s == NULL)
        return -1;
    double v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 9; s++, digits++)
        v = v * 10 + (*s - '0');
    if (digits == 0)
        return -1;
    if (*s == 'k' || *s == 'K') {
        v *= 1000;
        s++;
    }
    if (*s != '\0' || !valid_rate(v))
        return -1;
    return (int)v;
}

stt_af_mix_t stt_af_parse_mix(const char *s)
{
    if (s == NULL)
        return STT_AF_MIX_UNSET;
    if (strcasecmp(s, "mono") == 0)
        return STT_AF_MIX_MONO;
    if (strcasecmp(s, "mixed") == 0)
        return STT_AF_MIX_MIXED;
    if (strcasecmp(s, "stereo") == 0)
        return STT_AF_MIX_STEREO;
    return STT_AF_MIX_UNSET;
}

int stt_af_mix_channels(stt_af_mix_t mix)
{
    return mix == STT_AF_MIX_STEREO ? 2 : 1;
}

/* The last member of obj named one of keys (in the order given: the first name found wins). */
static const cJSON *member(const cJSON *obj, const char *const *keys)
{
    for (; *keys; keys++) {
        const cJSON *v = stt_json_last_member(obj, *keys);
        if (v != NULL && !cJSON_IsNull(v))
            return v;
    }
    return NULL;
}

/* A flag: true/false, 0/1, or the strings "true"/"false"/"1"/"0"/"yes"/"no". -1 if neither. */
static int flag(const cJSON *v)
{
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
        return v->valuedouble == 1;
    if (cJSON_IsString(v)) {
        static const char *const yes[] = {"true", "1", "yes", "on"};
        static const char *const no[] = {"false", "0", "no", "off"};
        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp(v->valuestring, yes[i]) == 0)
                return 1;
            if (strcasecmp(v->valuestring, no[i]) == 0)
                return 0;
        }
    }
    return -1;
}

static stt_af_err_t read_audio_keys(const cJSON *o, stt_af_header_t *h, char *err, size_t errlen)
{
    static const char *const rate_keys[] = {"sampleRate", "sample_rate", "sampleRateHz", "rate",
                                            NULL};
    static const char *const mix_keys[] = {"mixType", "mix_type", "mix", NULL};
    static const char *const ch_keys[] = {"channels", NULL};
    const cJSON *v = member(o, rate_keys);
    if (v != NULL) {
        int r = -1;
        if (cJSON_IsNumber(v) && valid_rate(v->valuedouble))
            r = (int)v->valuedouble;
        else if (cJSON_IsString(v))
            r = stt_af_parse_rate(v->valuestring);
        if (r < 0)
            return fail(STT_AF_ERR_RATE, err, errlen,
                        "sampleRate must be a multiple of 8000 in %d..%d (a number, or \"16k\")",
                        STT_AF_MIN_RATE_HZ, STT_AF_MAX_RATE_HZ);
        h->rate_hz = r;
    }
    v = member(o, mix_keys);
    if (v != NULL) {
        h->mix = cJSON_IsString(v) ? stt_af_parse_mix(v->valuestring) : STT_AF_MIX_UNSET;
        if (h->mix == STT_AF_MIX_UNSET)
            return fail(STT_AF_ERR_MIX, err, errlen,
                        "mixType must be \"mono\", \"mixed\" or \"stereo\"");
    }
    v = member(o, ch_keys);
    if (v != NULL) {
        double c = cJSON_IsNumber(v) ? v->valuedouble : -1;
        if (cJSON_IsString(v))
            c = strcmp(v->valuestring, "1") == 0 ? 1 : strcmp(v->valuestring, "2") == 0 ? 2 : -1;
        if (c != 1 && c != 2)
            return fail(STT_AF_ERR_CHANNELS, err, errlen, "channels must be 1 or 2");
        h->channels = (int)c;
        if (h->mix != STT_AF_MIX_UNSET && stt_af_mix_channels(h->mix) != h->channels)
            return fail(STT_AF_ERR_CHANNELS, err, errlen,
                        "channels %d contradicts mixType (stereo is 2 channels, mono and mixed 1)",
                        h->channels);
    }
    return STT_AF_ERR_OK;
}

static stt_af_err_t read_object(const cJSON *o, stt_af_header_t *h, char *err, size_t errlen)
{
    static const char *const id_keys[] = {"callSid", "call_sid", "callId", "call_id", "uuid",
                                          "streamSid", NULL};
    static const char *const tr_keys[] = {"transcribe", NULL};
    static const char *const in_keys[] = {"interim", "interimResults", NULL};
    stt_af_err_t rc = read_audio_keys(o, h, err, errlen);
    if (rc != STT_AF_ERR_OK)
        return rc;
    const cJSON *v = member(o, id_keys);
    if (v != NULL) {
        const char *s = cJSON_IsString(v) ? v->valuestring : "";
        size_t n = strlen(s), i = 0;
        while (i < n && s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
            i++;
        if (n == 0 || i < n || n >= STT_AF_CALL_ID_MAX)
            return fail(STT_AF_ERR_CALLID, err, errlen,
                        "callSid must be 1..%d printable characters", STT_AF_CALL_ID_MAX - 1);
        memcpy(h->call_id, s, n + 1);
    }
    /* The flags may sit at the top level or in the application's own "metadata" object
     * (jambonz listen puts what the application gave there). */
    const cJSON *meta = stt_json_last_member(o, "metadata");
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *src = pass == 0 ? o : meta;
        if (!cJSON_IsObject(src))
            continue;
        if ((v = member(src, tr_keys)) != NULL && h->transcribe < 0)
            h->transcribe = flag(v);
        if ((v = member(src, in_keys)) != NULL && h->interim < 0)
            h->interim = flag(v);
    }
    return STT_AF_ERR_OK;
}

stt_af_err_t stt_af_parse_header(const char *buf, size_t len, size_t max_bytes,
                                 stt_af_header_t *out, char *err, size_t errlen)
{
    stt_af_header_init(out);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (max_bytes == 0)
        max_bytes = STT_AF_MAX_HEADER_BYTES;
    if (buf == NULL)
        len = 0;
    if (len > max_bytes)
        return fail(STT_AF_ERR_TOOBIG, err, errlen,
                    "metadata of %zu bytes exceeds the %zu-byte limit", len, max_bytes);
    /* Only what starts like an object is parsed: an opaque string costs nothing. */
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
        i++;
    if (i == len || buf[i] != '{')
        return STT_AF_ERR_OK;
    cJSON *root = stt_json_parse_strict(buf, len, NULL, 0);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return STT_AF_ERR_OK; /* "{..." that is not JSON: opaque */
    }
    out->is_json = 1;
    stt_af_err_t rc = read_object(root, out, err, errlen);
    cJSON_Delete(root);
    if (rc != STT_AF_ERR_OK)
        stt_af_header_init(out);
    return rc;
}

char *stt_af_build_transcription(const stt_af_transcription_t *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "transcription");
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddBoolToObject(d, "is_final", t->is_final ? 1 : 0);
    cJSON *alts = cJSON_AddArrayToObject(d, "alternatives");
    cJSON *a = cJSON_CreateObject();
    char *text = stt_utf8_sanitized(t->transcript);
    cJSON_AddStringToObject(a, "transcript", text);
    free(text);
    double c = t->confidence;
    cJSON_AddNumberToObject(a, "confidence", !isfinite(c) || c < 0 || c > 1 ? 1.0 : c);
    cJSON_AddItemToArray(alts, a);
    cJSON_AddNumberToObject(d, "channel", t->channel);
    char *lang = stt_utf8_sanitized(t->language ? t->language : "en");
    cJSON_AddStringToObject(d, "language", lang);
    free(lang);
    if (t->call_id && t->call_id[0]) {
        char *id = stt_utf8_sanitized(t->call_id);
        cJSON_AddStringToObject(d, "callSid", id);
        free(id);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL)
        stt_fatal(__FILE__, __LINE__, "cJSON_PrintUnformatted");
    return s;
}
