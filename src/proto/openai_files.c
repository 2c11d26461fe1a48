/* OpenAI file transcription codec: form fields in, response bodies and errors out. See
 * include/stt/openai_files.h for the fields and the shapes. Pure and thread-safe (cJSON's
 * global error pointer aside, see src/proto/vosk.c). */
#include "stt/openai_files.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stt/log.h"

/* Whisper's languages: ISO code and the English name verbose_json reports. */
static const char *const LANGUAGES[][2] = {
    {"en", "english"},     {"zh", "chinese"},    {"de", "german"},      {"es", "spanish"},
    {"ru", "russian"},     {"ko", "korean"},     {"fr", "french"},      {"ja", "japanese"},
    {"pt", "portuguese"},  {"tr", "turkish"},    {"pl", "polish"},      {"ca", "catalan"},
    {"nl", "dutch"},       {"ar", "arabic"},     {"sv", "swedish"},     {"it", "italian"},
    {"id", "indonesian"},  {"hi", "hindi"},      {"fi", "finnish"},     {"vi", "vietnamese"},
    {"he", "hebrew"},      {"uk", "ukrainian"},  {"el", "greek"},       {"ms", "malay"},
    {"cs", "czech"},       {"ro", "romanian"},   {"da", "danish"},      {"hu", "hungarian"},
    {"ta", "tamil"},       {"no", "norwegian"},  {"th", "thai"},        {"ur", "urdu"},
    {"hr", "croatian"},    {"bg", "bulgarian"},  {"lt", "lithuanian"},  {"la", "latin"},
    {"mi", "maori"},       {"ml", "malayalam"},  {"cy", "welsh"},       {"sk", "slovak"},
    {"te", "telugu"},      {"fa", "persian"},    {"lv", "latvian"},     {"bn", "bengali"},
    {"sr", "serbian"},     {"az", "azerbaijani"}, {"sl", "slovenian"},  {"kn", "kannada"},
    {"et", "estonian"},    {"mk", "macedonian"}, {"br", "breton"},      {"eu", "basque"},
    {"is", "icelandic"},   {"hy", "armenian"},   {"ne", "nepali"},      {"mn", "mongolian"},
    {"bs", "bosnian"},     {"kk", "kazakh"},     {"sq", "albanian"},    {"sw", "swahili"},
    {"gl", "galician"},    {"mr", "marathi"},    {"pa", "punjabi"},     {"si", "sinhala"},
    {"km", "khmer"},       {"sn", "shona"},      {"yo", "yoruba"},      {"so", "somali"},
    {"af", "afrikaans"},   {"oc", "occitan"},    {"ka", "georgian"},    {"be", "belarusian"},
    {"tg", "tajik"},       {"sd", "sindhi"},     {"gu", "gujarati"},    {"am", "amharic"},
    {"yi", "yiddish"},     {"lo", "lao"},        {"uz", "uzbek"},       {"fo", "faroese"},
    {"ht", "haitian creole"}, {"ps", "pashto"},  {"tk", "turkmen"},     {"nn", "nynorsk"},
    {"mt", "maltese"},     {"sa", "sanskrit"},   {"lb", "luxembourgish"}, {"my", "myanmar"},
    {"bo", "tibetan"},     {"tl", "tagalog"},    {"mg", "malagasy"},    {"as", "assamese"},
    {"tt", "tatar"},       {"haw", "hawaiian"},  {"ln", "lingala"},     {"ha", "hausa"},
    {"ba", "bashkir"},     {"jw", "javanese"},   {"su", "sundanese"},   {"yue", "cantonese"},
};
#define N_LANGUAGES (sizeof(LANGUAGES) / sizeof(LANGUAGES[0]))

const char *stt_oaf_language_name(const char *code)
{
    if (!code)
        return "";
    for (size_t i = 0; i < N_LANGUAGES; i++) {
        if (strcasecmp(code, LANGUAGES[i][0]) == 0)
            return LANGUAGES[i][1];
        if (strcasecmp(code, LANGUAGES[i][1]) == 0)
            return LANGUAGES[i][1];
    }
    return "";
}

static const char *const FORMATS[] = {"json", "text", "srt", "vtt", "verbose_json"};

const char *stt_oaf_format_name(stt_oaf_format_t f)
{
    return (unsigned)f < 5 ? FORMATS[f] : "json";
}

const char *stt_oaf_format_content_type(stt_oaf_format_t f)
{
    switch (f) {
    case STT_OAF_TEXT:
    case STT_OAF_SRT:
        return "text/plain; charset=utf-8";
    case STT_OAF_VTT:
        return "text/vtt; charset=utf-8";
    default:
        return "application/json";
    }
}

void stt_oaf_error_set(stt_oaf_error_t *err, int status, const char *param, const char *code,
                       const char *fmt, ...)
{
    err->status = status;
    err->param = param;
    err->code = code;
    err->type = "invalid_request_error";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

void stt_oaf_request_init(stt_oaf_request_t *r)
{
    memset(r, 0, sizeof(*r));
    r->format = STT_OAF_JSON;
    r->sample_rate_hz = 16000;
    r->channels = 1;
}

/* A printable, quote-free copy of a client value for an error message (cut to 40 bytes). */
static void shown(const char *v, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap && i < 40; i++) {
        unsigned char ch = (unsigned char)v[i];
        out[n++] = (ch >= 0x20 && ch < 0x7f && ch != '\'') ? (char)ch : '?';
    }
    if (len > 40 && n + 4 < cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* The value as a NUL-terminated string in buf (cap bytes); -1 when it does not fit or holds
 * a NUL. */
static int as_string(const char *v, size_t len, char *buf, size_t cap)
{
    if (len >= cap || memchr(v, '\0', len))
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return 0;
}

/* Leading and trailing ASCII spaces dropped (form values from curl -F may carry none, but a
 * hand-written body may). */
static void trim(const char **v, size_t *len)
{
    while (*len && isspace((unsigned char)(*v)[0])) {
        (*v)++;
        (*len)--;
    }
    while (*len && isspace((unsigned char)(*v)[*len - 1]))
        (*len)--;
}

static int parse_bool(const char *v, size_t len, int *out)
{
    if (len == 4 && strncasecmp(v, "true", 4) == 0)
        *out = 1;
    else if (len == 5 && strncasecmp(v, "false", 5) == 0)
        *out = 0;
    else if (len == 1 && (v[0] == '1' || v[0] == '0'))
        *out = v[0] == '1';
    else
        return -1;
    return 0;
}

/* A whole number in [lo, hi]; -1 otherwise. */
static int parse_int(const char *v, size_t len, long lo, long hi, long *out)
{
    char buf[24];
    if (len == 0 || as_string(v, len, buf, sizeof(buf)) != 0)
        return -1;
    char *end;
    long x = strtol(buf, &end, 10);
    if (*end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int field_format(stt_oaf_request_t *r, const char *v, size_t len, stt_oaf_error_t *err)
{
    for (int i = 0; i < 5; i++) {
        if (strlen(FORMATS[i]) == len && memcmp(FORMATS[i], v, len) == 0) {
            r->format = (stt_oaf_format_t)i;
            r->has_format = 1;
            return 0;
        }
    }
    char s[64];
    shown(v, len, s, sizeof(s));
    stt_oaf_error_set(err, 400, "response_format", "invalid_value",
                      "'%s' is not one of ['json', 'text', 'srt', 'verbose_json', 'vtt'] - "
                      "'response_format'",
                      s);
    return -1;
}

static int field_granularity(stt_oaf_request_t *r, const char *v, size_t len,
                             stt_oaf_error_t *err)
{
    if (r->n_granularities >= STT_OAF_GRANULARITIES_MAX) {
        stt_oaf_error_set(err, 400, "timestamp_granularities", "invalid_value",
                          "timestamp_granularities: at most %d values",
                          STT_OAF_GRANULARITIES_MAX);
        return -1;
    }
    if (len == 4 && memcmp(v, "word", 4) == 0) {
        r->want_words = 1;
    } else if (len == 7 && memcmp(v, "segment", 7) == 0) {
        r->want_segments = 1;
    } else {
        char s[64];
        shown(v, len, s, sizeof(s));
        stt_oaf_error_set(err, 400, "timestamp_granularities", "invalid_value",
                          "'%s' is not one of ['word', 'segment'] - 'timestamp_granularities.%d'",
                          s, r->n_granularities);
        return -1;
    }
    r->n_granularities++;
    return 0;
}

static int field_temperature(stt_oaf_request_t *r, const char *v, size_t len,
                             stt_oaf_error_t *err)
{
    char buf[32], s[64];
    shown(v, len, s, sizeof(s));
    if (len == 0 || as_string(v, len, buf, sizeof(buf)) != 0) {
        stt_oaf_error_set(err, 400, "temperature", "invalid_value",
                          "Invalid temperature '%s': expected a number between 0 and 1", s);
        return -1;
    }
    char *end;
    double t = strtod(buf, &end);
    if (*end || !isfinite(t)) {
        stt_oaf_error_set(err, 400, "temperature", "invalid_value",
                          "Invalid temperature '%s': expected a number between 0 and 1", s);
        return -1;
    }
    if (t < 0 || t > 1) {
        stt_oaf_error_set(err, 400, "temperature", "invalid_value",
                          "%s is not a valid temperature: it must be between 0 and 1", s);
        return -1;
    }
    r->temperature = t;
    return 0;
}

static int field_language(stt_oaf_request_t *r, const char *v, size_t len, stt_oaf_error_t *err)
{
    char buf[STT_OAF_LANGUAGE_MAX];
    if (len == 0) { /* an empty field is no language: detection */
        r->language[0] = '\0';
        return 0;
    }
    int ok = as_string(v, len, buf, sizeof(buf)) == 0;
    if (ok) {
        /* ISO-639-1 (two letters), plus Whisper's three-letter codes (haw, yue). */
        ok = 0;
        for (size_t i = 0; i < N_LANGUAGES; i++)
            if (strcasecmp(buf, LANGUAGES[i][0]) == 0) {
                ok = 1;
                snprintf(r->language, sizeof(r->language), "%s", LANGUAGES[i][0]);
            }
    }
    if (!ok) {
        char s[64];
        shown(v, len, s, sizeof(s));
        stt_oaf_error_set(err, 400, "language", "invalid_language_format",
                          "Invalid language '%s'. Language parameter must be specified in "
                          "ISO-639-1 format.",
                          s);
        return -1;
    }
    return 0;
}

static int field_encoding(stt_oaf_request_t *r, const char *v, size_t len, stt_oaf_error_t *err)
{
    static const struct {
        const char *name;
        stt_oaf_raw_t raw;
    } ENC[] = {{"pcm_s16le", STT_OAF_RAW_S16LE}, {"linear16", STT_OAF_RAW_S16LE},
               {"pcm_f32le", STT_OAF_RAW_F32LE}, {"mulaw", STT_OAF_RAW_MULAW},
               {"pcm_mulaw", STT_OAF_RAW_MULAW}, {"alaw", STT_OAF_RAW_ALAW},
               {"pcm_alaw", STT_OAF_RAW_ALAW}};
    for (size_t i = 0; i < sizeof(ENC) / sizeof(ENC[0]); i++)
        if (strlen(ENC[i].name) == len && strncasecmp(ENC[i].name, v, len) == 0) {
            r->raw = ENC[i].raw;
            return 0;
        }
    char s[64];
    shown(v, len, s, sizeof(s));
    stt_oaf_error_set(err, 400, "encoding", "invalid_value",
                      "'%s' is not one of ['pcm_s16le', 'pcm_f32le', 'mulaw', 'alaw'] - "
                      "'encoding'",
                      s);
    return -1;
}

int stt_oaf_field(stt_oaf_request_t *r, const char *name, const char *value, size_t len,
                  stt_oaf_error_t *err)
{
    if (!name)
        name = "";
    if (len > STT_OAF_FIELD_MAX_BYTES) {
        stt_oaf_error_set(err, 400, NULL, "invalid_value",
                          "The form field '%.40s' is too long (more than %d bytes)", name,
                          STT_OAF_FIELD_MAX_BYTES);
        return -1;
    }
    if (strcmp(name, "prompt") == 0) { /* kept as given: spaces may matter to the model */
        char *p = stt_malloc(len + 1);
        memcpy(p, value, len);
        p[len] = '\0';
        if (strlen(p) != len) {
            free(p);
            stt_oaf_error_set(err, 400, "prompt", "invalid_value",
                              "prompt must not contain NUL bytes");
            return -1;
        }
        stt_oaf_tail_utf8(p, r->prompt, sizeof(r->prompt));
        free(p);
        return 0;
    }
    trim(&value, &len);
    char s[64];
    if (strcmp(name, "model") == 0) {
        if (as_string(value, len, r->model, sizeof(r->model)) != 0) {
            shown(value, len, s, sizeof(s));
            stt_oaf_error_set(err, 400, "model", "model_not_found",
                              "The model '%s' does not exist", s);
            return -1;
        }
        r->has_model = len > 0;
        return 0;
    }
    if (strcmp(name, "language") == 0)
        return field_language(r, value, len, err);
    if (strcmp(name, "temperature") == 0)
        return field_temperature(r, value, len, err);
    if (strcmp(name, "response_format") == 0)
        return field_format(r, value, len, err);
    if (strcmp(name, "timestamp_granularities[]") == 0 ||
        strcmp(name, "timestamp_granularities") == 0)
        return field_granularity(r, value, len, err);
    if (strcmp(name, "stream") == 0) {
        if (parse_bool(value, len, &r->stream) != 0) {
            shown(value, len, s, sizeof(s));
            stt_oaf_error_set(err, 400, "stream", "invalid_value",
                              "'%s' is not a valid boolean - 'stream'", s);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "encoding") == 0)
        return field_encoding(r, value, len, err);
    if (strcmp(name, "sample_rate") == 0) {
        long x;
        if (parse_int(value, len, STT_OAF_MIN_RATE_HZ, STT_OAF_MAX_RATE_HZ, &x) != 0) {
            shown(value, len, s, sizeof(s));
            stt_oaf_error_set(err, 400, "sample_rate", "invalid_value",
                              "sample_rate '%s' must be a whole number of Hz from %d to %d", s,
                              STT_OAF_MIN_RATE_HZ, STT_OAF_MAX_RATE_HZ);
            return -1;
        }
        r->sample_rate_hz = (int)x;
        if (r->raw == STT_OAF_RAW_NONE)
            r->raw = STT_OAF_RAW_S16LE;
        return 0;
    }
    if (strcmp(name, "channels") == 0) {
        long x;
        if (parse_int(value, len, 1, STT_OAF_MAX_CHANNELS, &x) != 0) {
            shown(value, len, s, sizeof(s));
            stt_oaf_error_set(err, 400, "channels", "invalid_value",
                              "channels '%s' must be a whole number from 1 to %d", s,
                              STT_OAF_MAX_CHANNELS);
            return -1;
        }
        r->channels = (int)x;
        return 0;
    }
    return 0; /* chunking_strategy, include[], user, anything else: ignored */
}

int stt_oaf_check(const stt_oaf_request_t *r, stt_oaf_error_t *err)
{
    if (!r->has_model) {
        stt_oaf_error_set(err, 400, "model", NULL, "you must provide a model parameter");
        return -1;
    }
    if (r->n_granularities > 0 && r->format != STT_OAF_VERBOSE_JSON) {
        stt_oaf_error_set(err, 400, "timestamp_granularities", "invalid_value",
                          "timestamp_granularities is only supported with response_format "
                          "verbose_json (got '%s')",
                          stt_oaf_format_name(r->format));
        return -1;
    }
    if (r->stream && r->format != STT_OAF_JSON && r->format != STT_OAF_TEXT) {
        stt_oaf_error_set(err, 400, "stream", "unsupported_value",
                          "Streaming is not supported with response_format '%s': use 'json' or "
                          "'text'",
                          stt_oaf_format_name(r->format));
        return -1;
    }
    return 0;
}

char *stt_oaf_build_error(const stt_oaf_error_t *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", err->message);
    cJSON_AddStringToObject(e, "type", err->type ? err->type : "invalid_request_error");
    if (err->param)
        cJSON_AddStringToObject(e, "param", err->param);
    else
        cJSON_AddNullToObject(e, "param");
    if (err->code)
        cJSON_AddStringToObject(e, "code", err->code);
    else
        cJSON_AddNullToObject(e, "code");
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* ---- results ---- */

void stt_oaf_tail_utf8(const char *s, char *out, size_t cap)
{
    if (cap == 0)
        return;
    size_t len = strlen(s);
    size_t from = len > cap - 1 ? len - (cap - 1) : 0;
    while (from < len && ((unsigned char)s[from] & 0xC0) == 0x80)
        from++; /* not inside a character */
    memcpy(out, s + from, len - from);
    out[len - from] = '\0';
}

void stt_oaf_timecode(double s, char sep, char *out, size_t cap)
{
    if (!(s > 0)) /* negative and NaN: 0 */
        s = 0;
    if (s > 359999.999) /* 99:59:59.999 */
        s = 359999.999;
    long long ms = llround(s * 1000.0);
    snprintf(out, cap, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, ms / 60000 % 60,
             ms / 1000 % 60, sep, ms % 1000);
}

char *stt_oaf_join_text(const stt_oaf_transcript_t *t)
{
    size_t total = 1;
    for (size_t i = 0; i < t->n_segments; i++)
        total += strlen(t->segments[i].text) + 1;
    char *out = stt_malloc(total);
    size_t n = 0;
    for (size_t i = 0; i < t->n_segments; i++) {
        size_t l = strlen(t->segments[i].text);
        if (l == 0)
            continue;
        if (n)
            out[n++] = ' ';
        memcpy(out + n, t->segments[i].text, l);
        n += l;
    }
    out[n] = '\0';
    return out;
}

/* Three decimals are what the times mean (ms); fewer digits than cJSON's %.17g. */
static double ms3(double s)
{
    return round(s * 1000.0) / 1000.0;
}

static void add_usage(cJSON *root, double duration_s)
{
    cJSON *u = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddStringToObject(u, "type", "duration");
    cJSON_AddNumberToObject(u, "seconds", ceil(duration_s > 0 ? duration_s : 0));
}

static char *build_verbose(const stt_oaf_transcript_t *t, const char *text)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "task", t->task ? t->task : "transcribe");
    cJSON_AddStringToObject(root, "language", stt_oaf_language_name(t->language));
    cJSON_AddNumberToObject(root, "duration", ms3(t->duration_s));
    cJSON_AddStringToObject(root, "text", text);
    if (t->want_segments || !t->want_words) {
        cJSON *segs = cJSON_AddArrayToObject(root, "segments");
        for (size_t i = 0; i < t->n_segments; i++) {
            const stt_oaf_segment_t *s = &t->segments[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "id", (double)i);
            /* Whisper's seek: the segment's window start in 10 ms frames. */
            cJSON_AddNumberToObject(o, "seek", floor(s->start_s * 100.0));
            cJSON_AddNumberToObject(o, "start", ms3(s->start_s));
            cJSON_AddNumberToObject(o, "end", ms3(s->end_s));
            /* OpenAI's segment text starts with the space Whisper's tokens carry. */
            size_t l = strlen(s->text);
            char *st = stt_malloc(l + 2);
            st[0] = ' ';
            memcpy(st + 1, s->text, l + 1);
            cJSON_AddStringToObject(o, "text", st);
            free(st);
            cJSON_AddArrayToObject(o, "tokens"); /* token ids are not kept: empty */
            cJSON_AddNumberToObject(o, "temperature", 0.0);
            cJSON_AddNumberToObject(o, "avg_logprob", ms3(s->avg_logprob));
            cJSON_AddNumberToObject(o, "compression_ratio", 0.0); /* not computed */
            cJSON_AddNumberToObject(o, "no_speech_prob", ms3(s->no_speech_prob));
            cJSON_AddItemToArray(segs, o);
        }
    }
    if (t->want_words) {
        cJSON *words = cJSON_AddArrayToObject(root, "words");
        for (size_t i = 0; i < t->n_words; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "word", t->words[i].word);
            cJSON_AddNumberToObject(o, "start", ms3(t->words[i].start_s));
            cJSON_AddNumberToObject(o, "end", ms3(t->words[i].end_s));
            cJSON_AddItemToArray(words, o);
        }
    }
    add_usage(root, t->duration_s);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* srt and vtt: a cue per non-empty segment. */
static char *build_cues(const stt_oaf_transcript_t *t, int vtt)
{
    size_t cap = 16;
    for (size_t i = 0; i < t->n_segments; i++)
        cap += strlen(t->segments[i].text) + 64;
    char *out = stt_malloc(cap);
    size_t n = 0;
    if (vtt)
        n += (size_t)snprintf(out, cap, "WEBVTT\n\n");
    size_t cue = 0;
    for (size_t i = 0; i < t->n_segments; i++) {
        const stt_oaf_segment_t *s = &t->segments[i];
        if (!s->text[0])
            continue;
        char a[24], b[24];
        stt_oaf_timecode(s->start_s, vtt ? '.' : ',', a, sizeof(a));
        stt_oaf_timecode(s->end_s, vtt ? '.' : ',', b, sizeof(b));
        cue++;
        if (vtt)
            n += (size_t)snprintf(out + n, cap - n, "%s --> %s\n%s\n\n", a, b, s->text);
        else
            n += (size_t)snprintf(out + n, cap - n, "%zu\n%s --> %s\n%s\n\n", cue, a, b, s->text);
    }
    out[n] = '\0';
    return out;
}

char *stt_oaf_build_response(const stt_oaf_transcript_t *t, stt_oaf_format_t f, size_t *len)
{
    char *text = stt_oaf_join_text(t);
    char *out = NULL;
    switch (f) {
    case STT_OAF_TEXT: {
        size_t l = strlen(text);
        out = stt_malloc(l + 2);
        memcpy(out, text, l);
        out[l] = '\n';
        out[l + 1] = '\0';
        break;
    }
    case STT_OAF_SRT:
        out = build_cues(t, 0);
        break;
    case STT_OAF_VTT:
        out = build_cues(t, 1);
        break;
    case STT_OAF_VERBOSE_JSON:
        out = build_verbose(t, text);
        break;
    default: {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "text", text);
        add_usage(root, t->duration_s);
        out = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        break;
    }
    }
    free(text);
    if (len)
        *len = strlen(out);
    return out;
}

/* "data: <json>\n\n", the JSON freed. */
static char *sse_of(char *json, size_t *len)
{
    size_t l = strlen(json);
    char *out = stt_malloc(l + 9);
    memcpy(out, "data: ", 6);
    memcpy(out + 6, json, l);
    memcpy(out + 6 + l, "\n\n", 3);
    free(json);
    if (len)
        *len = l + 8;
    return out;
}

char *stt_oaf_sse_delta(const char *delta, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "transcript.text.delta");
    cJSON_AddStringToObject(root, "delta", delta ? delta : "");
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return sse_of(json, len);
}

char *stt_oaf_sse_done(const char *text, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "transcript.text.done");
    cJSON_AddStringToObject(root, "text", text ? text : "");
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return sse_of(json, len);
}

char *stt_oaf_sse_error(const stt_oaf_error_t *err, size_t *len)
{
    return sse_of(stt_oaf_build_error(err), len);
}
