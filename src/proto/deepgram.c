/* Deepgram-compatible live streaming codec (include/stt/deepgram.h).
 *
 * The query parser walks "name=value" pairs separated by '&' (';' is not a separator here, as
 * in Deepgram's own parser), decodes each into a bounded buffer (a name over 63 bytes or a
 * value over 1023 bytes is refused, never allocated), and checks each value as it comes; the
 * rules that tie two parameters together run once every pair is read. Error texts follow
 * Deepgram's own ("Invalid 'utterance_end_ms' value of '999'."), with a short reason added
 * where Deepgram's would not tell a client of this server what to change.
 *
 * Pure: no sockets, no globals. */
#include "stt/deepgram.h"
#include "stt/error.h"

#include "json_text.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_BYTES 64
#define VALUE_MAX_BYTES 1024

/* The codec's error path: the reason into err, the code returned (stt_error_fmt). */
#define fail(err, errlen, ...) stt_error_fmt((err), (errlen), -1, __VA_ARGS__)

void stt_dg_params_init(stt_dg_params_t *p)
{
    memset(p, 0, sizeof(*p));
    p->encoding = STT_DG_LINEAR16;
    p->sample_rate_hz = STT_DG_DEFAULT_RATE_HZ;
    p->channels = 1;
    p->endpointing_ms = STT_DG_ENDPOINTING_DEFAULT;
}

/* ---- decoding ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) (with `decode`: %XX, '+' = space) into out (cap bytes with the NUL). -1
 * when it does not fit or decodes to a NUL byte; a '%' not followed by two hex digits stays as
 * it is. */
static int url_decode(const char *s, size_t n, char *out, size_t cap, int decode)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!decode) {
            /* taken as it is */
        } else if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
                   hexval(s[i + 2]) >= 0) {
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (c == '\0' || o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* ---- value checks ---- */

static int parse_bool(const char *v, int *out)
{
    if (strcasecmp(v, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(v, "false") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* A plain decimal integer of at most 9 digits (no sign, no spaces). */
static int parse_uint(const char *v, int *out)
{
    size_t n = strlen(v);
    if (n == 0 || n > 9)
        return -1;
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return 0;
}

/* The value shown in an error message: cut, and only printable ASCII (the reason also goes
 * into logs and an HTTP body). */
static const char *shown(const char *v, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; v[i] && o + 4 < cap; i++)
        buf[o++] = (v[i] >= 0x20 && v[i] < 0x7f && v[i] != '\'' && v[i] != '\\') ? v[i] : '?';
    if (v[o] != '\0' && o + 4 >= cap)
        buf[o++] = '.', buf[o++] = '.', buf[o++] = '.';
    buf[o] = '\0';
    return buf;
}

static int invalid(char *err, size_t errlen, const char *name, const char *v, const char *why)
{
    char b[64];
    return fail(err, errlen, "Invalid '%s' value of '%s'.%s%s", name, shown(v, b, sizeof(b)),
                why ? " " : "", why ? why : "");
}

/* A term of keywords/keyterm: UTF-8 without control bytes, trimmed; keywords lose ":boost". */
static int add_term(stt_dg_params_t *p, const char *v, int is_keyword, char *err, size_t errlen,
                    const char *name)
{
    if (++p->n_terms > STT_DG_MAX_TERMS)
        return fail(err, errlen, "Too many keyterm and keywords values (more than %d).",
                    STT_DG_MAX_TERMS);
    size_t n = strlen(v);
    if (stt_json_bad_byte((const uint8_t *)v, n, &(int){0}) != n)
        return invalid(err, errlen, name, v, "Terms must be UTF-8 text.");
    if (is_keyword) { /* "word:2.5" -> "word" (an intensifier is a number after the last ':') */
        const char *colon = strrchr(v, ':');
        if (colon && colon[1]) {
            char *end = NULL;
            double b = strtod(colon + 1, &end);
            if (end && *end == '\0' && isfinite(b))
                n = (size_t)(colon - v);
        }
    }
    size_t b = 0;
    while (b < n && v[b] == ' ')
        b++;
    while (n > b && v[n - 1] == ' ')
        n--;
    if (n == b)
        return 0; /* an empty term adds nothing */
    if (n - b > STT_DG_TERM_MAX_BYTES)
        return invalid(err, errlen, name, v, "A term is at most 128 bytes.");
    size_t used = strlen(p->prompt);
    size_t need = (used ? 2 : 0) + (n - b);
    if (used + need + 1 > sizeof(p->prompt))
        return 0; /* whole terms only: this one does not fit */
    if (used)
        memcpy(p->prompt + used, ", ", 2), used += 2;
    memcpy(p->prompt + used, v + b, n - b);
    p->prompt[used + n - b] = '\0';
    return 0;
}

/* Deepgram's live parameters this server accepts and does not implement (docs/protocol.md
 * says why for each). */
static const char *const ignored_names[] = {
    "alternatives", "callback",  "callback_method", "detect_entities", "diarize",
    "diarize_model", "dictation", "extra",          "filler_words",    "mip_opt_out",
    "no_delay",      "numerals",  "profanity_filter", "redact",        "replace",
    "search",        "tag",       "tier",           "version",         "measurements",
    "paragraphs",    "utterances", "detect_language", "topics",        "intents",
    "sentiment",     "summarize",  "language_detection",
};

static void note_ignored(stt_dg_params_t *p, const char *name)
{
    for (size_t i = 0; i < sizeof(ignored_names) / sizeof(ignored_names[0]); i++) {
        if (strcmp(name, ignored_names[i]) != 0)
            continue;
        p->n_ignored++;
        size_t used = strlen(p->ignored), n = strlen(name);
        if (strstr(p->ignored, name) == NULL && used + n + 3 < sizeof(p->ignored))
            snprintf(p->ignored + used, sizeof(p->ignored) - used, "%s%s", used ? ", " : "",
                     name);
        return;
    }
}

static int set_encoding(stt_dg_params_t *p, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "linear16") == 0)
        p->encoding = STT_DG_LINEAR16;
    else if (strcmp(v, "mulaw") == 0)
        p->encoding = STT_DG_MULAW;
    else if (strcmp(v, "alaw") == 0)
        p->encoding = STT_DG_ALAW;
    else
        return invalid(err, errlen, "encoding", v,
                       "This server accepts linear16, mulaw and alaw.");
    p->encoding_given = 1;
    return 0;
}

static int one_param(stt_dg_params_t *p, const char *name, const char *v, char *err,
                     size_t errlen)
{
    int x = 0;
    if (strcmp(name, "encoding") == 0)
        return set_encoding(p, v, err, errlen);
    if (strcmp(name, "sample_rate") == 0) {
        if (parse_uint(v, &x) != 0 || x < STT_DG_MIN_RATE_HZ || x > STT_DG_MAX_RATE_HZ)
            return invalid(err, errlen, name, v, "A whole number of Hz from 8000 to 48000.");
        p->sample_rate_hz = x;
        p->sample_rate_given = 1;
        return 0;
    }
    if (strcmp(name, "channels") == 0) {
        if (parse_uint(v, &x) != 0 || x < 1 || x > STT_DG_MAX_CHANNELS)
            return invalid(err, errlen, name, v, "From 1 to 8 channels.");
        p->channels = x;
        return 0;
    }
    if (strcmp(name, "endpointing") == 0) {
        if (strcasecmp(v, "false") == 0) {
            p->endpointing_ms = STT_DG_ENDPOINTING_OFF;
        } else if (strcasecmp(v, "true") == 0) {
            p->endpointing_ms = 10; /* Deepgram's default */
        } else if (parse_uint(v, &x) == 0 && x <= STT_DG_MAX_ENDPOINTING_MS) {
            p->endpointing_ms = x; /* 0 turns it off, as false does */
        } else {
            return invalid(err, errlen, name, v, "Milliseconds (0 to 60000), true or false.");
        }
        return 0;
    }
    if (strcmp(name, "utterance_end_ms") == 0) {
        if (parse_uint(v, &x) != 0 || x < STT_DG_MIN_UTTERANCE_END_MS ||
            x > STT_DG_MAX_UTTERANCE_END_MS)
            return invalid(err, errlen, name, v, NULL);
        p->utterance_end_ms = x;
        return 0;
    }
    static const struct {
        const char *name;
        size_t off;
    } bools[] = {
        {"multichannel", offsetof(stt_dg_params_t, multichannel)},
        {"interim_results", offsetof(stt_dg_params_t, interim_results)},
        {"vad_events", offsetof(stt_dg_params_t, vad_events)},
        {"punctuate", offsetof(stt_dg_params_t, punctuate)},
        {"smart_format", offsetof(stt_dg_params_t, smart_format)},
    };
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        if (strcmp(name, bools[i].name) != 0)
            continue;
        if (parse_bool(v, (int *)((char *)p + bools[i].off)) != 0)
            return invalid(err, errlen, name, v, "Use true or false.");
        return 0;
    }
    if (strcmp(name, "language") == 0) {
        size_t n = strlen(v);
        if (n == 0 || n >= sizeof(p->language) || strspn(v, "abcdefghijklmnopqrstuvwxyz"
                                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                            "0123456789-_") != n)
            return invalid(err, errlen, name, v, NULL);
        memcpy(p->language, v, n + 1);
        return 0;
    }
    if (strcmp(name, "model") == 0) {
        size_t n = strlen(v);
        if (n == 0 || n >= sizeof(p->model))
            return invalid(err, errlen, name, v, NULL);
        for (size_t i = 0; i < n; i++)
            if (v[i] < 0x21 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\' || v[i] == '\'')
                return invalid(err, errlen, name, v, NULL);
        memcpy(p->model, v, n + 1);
        return 0;
    }
    if (strcmp(name, "keyterm") == 0 || strcmp(name, "keywords") == 0)
        return add_term(p, v, name[3] == 'w', err, errlen, name);
    note_ignored(p, name);
    return 0;
}

int stt_dg_parse_query(const char *query, size_t len, int decode, stt_dg_params_t *out,
                       char *err, size_t errlen)
{
    stt_dg_params_init(out);
    if (err && errlen)
        err[0] = '\0';
    if (len > STT_DG_MAX_QUERY_BYTES)
        return fail(err, errlen, "The query string is longer than %d bytes.",
                    STT_DG_MAX_QUERY_BYTES);
    stt_dg_params_t p;
    stt_dg_params_init(&p);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && query[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && query[eq] != '=')
            eq++;
        char name[NAME_MAX_BYTES], value[VALUE_MAX_BYTES];
        if (end > i) {
            if (url_decode(query + i, eq - i, name, sizeof(name), decode) != 0)
                return fail(err, errlen, "A query parameter name is too long or malformed.");
            const char *vs = eq < end ? query + eq + 1 : query + end;
            size_t vn = eq < end ? end - eq - 1 : 0;
            if (url_decode(vs, vn, value, sizeof(value), decode) != 0)
                return fail(err, errlen, "The value of '%s' is too long or malformed.",
                             shown(name, (char[64]){0}, 64));
            if (name[0] && one_param(&p, name, value, err, errlen) != 0)
                return -1;
        }
        i = end + 1;
    }
    if (p.encoding_given && !p.sample_rate_given)
        return fail(err, errlen, "Invalid 'sample_rate': a sample_rate is required when "
                                 "'encoding' is given.");
    if (p.utterance_end_ms && !p.interim_results)
        return fail(err, errlen, "Invalid 'utterance_end_ms': it requires "
                                 "interim_results=true.");
    *out = p;
    return 0;
}

/* ---- control messages ---- */

int stt_dg_parse_control(const char *buf, size_t len, stt_dg_control_t *out, int *close_code,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->channel = -1;
    *close_code = 1000;
    if (len > STT_DG_MAX_CONTROL_BYTES) {
        *close_code = 1009;
        return fail(err, errlen, "control message of %zu bytes exceeds %d", len,
                    STT_DG_MAX_CONTROL_BYTES);
    }
    char why[128];
    cJSON *root = stt_json_parse_strict(buf, len, why, sizeof(why));
    if (root == NULL) {
        *close_code = 1007;
        return fail(err, errlen, "control message is not JSON: %s", why);
    }
    int rc = 0;
    const cJSON *type = cJSON_IsObject(root) ? stt_json_last_member(root, "type") : NULL;
    if (!cJSON_IsObject(root)) {
        *close_code = 1007;
        rc = fail(err, errlen, "control message is a JSON %s, not an object",
                  stt_json_type_name(root));
    } else if (!cJSON_IsString(type)) {
        *close_code = 1007;
        rc = fail(err, errlen, "control message without a string \"type\"");
    } else if (strcmp(type->valuestring, "KeepAlive") == 0) {
        out->kind = STT_DG_CTL_KEEPALIVE;
    } else if (strcmp(type->valuestring, "CloseStream") == 0) {
        out->kind = STT_DG_CTL_CLOSESTREAM;
    } else if (strcmp(type->valuestring, "Finalize") == 0) {
        out->kind = STT_DG_CTL_FINALIZE;
        const cJSON *ch = stt_json_last_member(root, "channel");
        if (ch && !cJSON_IsNull(ch)) {
            /* [i] or [i, n] (the channel_index shape) or a plain number */
            const cJSON *v = cJSON_IsArray(ch) ? cJSON_GetArrayItem(ch, 0) : ch;
            if (!cJSON_IsNumber(v) || !stt_json_is_integral(v->valuedouble) ||
                v->valuedouble < 0 || v->valuedouble >= STT_DG_MAX_CHANNELS) {
                *close_code = 1008;
                rc = fail(err, errlen, "Finalize \"channel\" must be a channel index (0..%d)",
                          STT_DG_MAX_CHANNELS - 1);
            } else {
                out->channel = (int)v->valuedouble;
            }
        }
    } else {
        char b[40];
        *close_code = 1008;
        rc = fail(err, errlen, "unknown control message type '%s'",
                  shown(type->valuestring, b, sizeof(b)));
    }
    if (rc != 0)
        memset(out, 0, sizeof(*out)), out->channel = -1;
    cJSON_Delete(root);
    return rc;
}

/* ---- text ---- */

static int is_mark(unsigned char c)
{
    return c == '.' || c == ',' || c == '?' || c == '!' || c == ';' || c == ':' || c == '"';
}

char *stt_dg_plain_text(const char *s)
{
    char *t = stt_utf8_sanitized(s ? s : "");
    size_t o = 0;
    for (size_t i = 0; t[i]; i++) {
        unsigned char c = (unsigned char)t[i];
        if (is_mark(c))
            continue;
        if (c == ' ' && (o == 0 || t[o - 1] == ' '))
            continue;
        t[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    while (o > 0 && t[o - 1] == ' ')
        o--;
    t[o] = '\0';
    return t;
}

/* ---- builders ---- */

static char *print(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL) {
        fprintf(stderr, "%s:%d: out of memory\n", __FILE__, __LINE__);
        abort();
    }
    return s;
}

/* Times rounded to the microsecond and never negative or NaN (a client parses them as floats). */
static double secs(double s)
{
    if (!isfinite(s) || s < 0)
        return 0;
    return round(s * 1e6) / 1e6;
}

static double conf01(double c, double unknown)
{
    if (!isfinite(c) || c < 0)
        return unknown;
    return c > 1 ? 1 : c;
}

static void add_string(cJSON *o, const char *key, const char *s)
{
    char *t = stt_utf8_sanitized(s ? s : "");
    cJSON_AddStringToObject(o, key, t);
    free(t);
}

static void add_pair(cJSON *o, const char *key, int a, int b)
{
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(a));
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(b));
}

static void add_model_info(cJSON *o, const char *name)
{
    add_string(o, "name", name);
    cJSON_AddStringToObject(o, "version", "stt-server");
    cJSON_AddStringToObject(o, "arch", "stt-server");
}

char *stt_dg_build_results(const stt_dg_results_t *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "Results");
    add_pair(o, "channel_index", r->channel_index, r->channels);
    cJSON_AddNumberToObject(o, "duration", secs(r->duration_s));
    cJSON_AddNumberToObject(o, "start", secs(r->start_s));
    cJSON_AddBoolToObject(o, "is_final", r->is_final != 0);
    cJSON_AddBoolToObject(o, "speech_final", r->speech_final != 0);
    cJSON_AddBoolToObject(o, "from_finalize", r->from_finalize != 0);
    cJSON *ch = cJSON_AddObjectToObject(o, "channel");
    cJSON *alts = cJSON_AddArrayToObject(ch, "alternatives");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddItemToArray(alts, a);
    add_string(a, "transcript", r->transcript);
    double c = conf01(r->confidence, 0);
    cJSON_AddNumberToObject(a, "confidence", c);
    cJSON *words = cJSON_AddArrayToObject(a, "words");
    for (size_t i = 0; i < r->n_words; i++) {
        const stt_dg_word_t *w = &r->words[i];
        cJSON *wo = cJSON_CreateObject();
        /* Deepgram's `word` is the bare lower-case word; `punctuated_word` the word as written. */
        char *pw = stt_utf8_sanitized(w->word ? w->word : "");
        char *bare = stt_dg_plain_text(pw);
        cJSON_AddStringToObject(wo, "word", bare[0] ? bare : pw);
        cJSON_AddNumberToObject(wo, "start", secs(w->start_s));
        cJSON_AddNumberToObject(wo, "end", secs(w->end_s > w->start_s ? w->end_s : w->start_s));
        cJSON_AddNumberToObject(wo, "confidence", conf01(w->confidence, c));
        cJSON_AddStringToObject(wo, "punctuated_word", pw);
        free(bare);
        free(pw);
        cJSON_AddItemToArray(words, wo);
    }
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    add_string(md, "request_id", r->request_id);
    cJSON *mi = cJSON_AddObjectToObject(md, "model_info");
    add_model_info(mi, r->model_name);
    add_string(md, "model_uuid", r->model_uuid);
    return print(o);
}

char *stt_dg_build_utterance_end(int channel_index, int channels, double last_word_end_s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "UtteranceEnd");
    add_pair(o, "channel", channel_index, channels);
    cJSON_AddNumberToObject(o, "last_word_end", secs(last_word_end_s));
    return print(o);
}

char *stt_dg_build_speech_started(int channel_index, int channels, double timestamp_s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "SpeechStarted");
    add_pair(o, "channel", channel_index, channels);
    cJSON_AddNumberToObject(o, "timestamp", secs(timestamp_s));
    return print(o);
}

char *stt_dg_build_metadata(const stt_dg_metadata_t *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "Metadata");
    cJSON_AddStringToObject(o, "transaction_key", "deprecated");
    add_string(o, "request_id", m->request_id);
    add_string(o, "sha256", m->sha256_hex);
    add_string(o, "created", m->created);
    cJSON_AddNumberToObject(o, "duration", secs(m->duration_s));
    cJSON_AddNumberToObject(o, "channels", m->channels);
    cJSON *models = cJSON_AddArrayToObject(o, "models");
    char *uuid = stt_utf8_sanitized(m->model_uuid ? m->model_uuid : "");
    cJSON_AddItemToArray(models, cJSON_CreateString(uuid));
    cJSON *mi = cJSON_AddObjectToObject(o, "model_info");
    cJSON *one = cJSON_AddObjectToObject(mi, uuid);
    add_model_info(one, m->model_name);
    free(uuid);
    return print(o);
}

char *stt_dg_build_http_error(const char *err_code, const char *err_msg, const char *request_id)
{
    cJSON *o = cJSON_CreateObject();
    add_string(o, "err_code", err_code);
    add_string(o, "err_msg", err_msg);
    add_string(o, "request_id", request_id);
    return print(o);
}

const char *stt_dg_err_code_for_status(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "INVALID_AUTH";
    case 402:
        return "ASR_PAYMENT_REQUIRED";
    case 403:
        return "INSUFFICIENT_PERMISSIONS";
    case 404:
        return "Not Found";
    case 429:
        return "TOO_MANY_REQUESTS";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Bad Request";
    }
}
