/* OpenAI Realtime transcription-session codec (include/stt/openai_realtime.h): client events
 * parsed into structs, server events built as JSON text.
 *
 * Strictness follows OpenAI's own: an unknown member is an unknown_parameter error, a value of
 * the wrong JSON type an invalid_type error, a value out of range an invalid_value error, each
 * naming the member in `param` ("session.turn_detection.threshold"). The JSON text itself is
 * checked strictly (src/proto/json_text.c) before cJSON sees it. Appended audio is decoded with
 * the shared strict base64 decoder (src/proto/base64.c) after its decoded size was checked
 * against the caller's cap, so a client never makes us allocate more than the cap.
 *
 * Pure functions; any thread. */
#include "stt/openai_realtime.h"

#include "json_text.h"
#include "stt/base64.h"
#include "stt/log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- formats and session ---- */

const char *stt_oairt_format_name(stt_oairt_format_t f)
{
    switch (f) {
    case STT_OAIRT_G711_ULAW:
        return "g711_ulaw";
    case STT_OAIRT_G711_ALAW:
        return "g711_alaw";
    default:
        return "pcm16";
    }
}

int stt_oairt_format_rate_hz(stt_oairt_format_t f)
{
    return f == STT_OAIRT_PCM16 ? 24000 : 8000;
}

int stt_oairt_format_sample_bytes(stt_oairt_format_t f)
{
    return f == STT_OAIRT_PCM16 ? 2 : 1;
}

static void turn_defaults(stt_oairt_session_t *s)
{
    s->turn_detection = 1;
    s->threshold = 0.5;
    s->prefix_padding_ms = 300;
    s->silence_duration_ms = 500;
}

void stt_oairt_session_defaults(stt_oairt_session_t *s)
{
    memset(s, 0, sizeof(*s));
    s->format = STT_OAIRT_PCM16;
    turn_defaults(s);
}

void stt_oairt_session_apply(stt_oairt_session_t *s, const stt_oairt_update_t *u)
{
    if (u->has_format)
        s->format = u->format;
    if (u->has_transcription) {
        /* The object replaces the previous one: members it leaves out are back to "". */
        snprintf(s->model, sizeof(s->model), "%s", u->has_model ? u->model : "");
        snprintf(s->language, sizeof(s->language), "%s", u->has_language ? u->language : "");
        snprintf(s->prompt, sizeof(s->prompt), "%s", u->has_prompt ? u->prompt : "");
    }
    if (u->has_turn_detection) {
        turn_defaults(s);
        s->turn_detection = u->turn_detection;
        if (u->has_threshold)
            s->threshold = u->threshold;
        if (u->has_prefix_padding_ms)
            s->prefix_padding_ms = u->prefix_padding_ms;
        if (u->has_silence_duration_ms)
            s->silence_duration_ms = u->silence_duration_ms;
    }
    if (u->has_noise_reduction)
        snprintf(s->noise_reduction, sizeof(s->noise_reduction), "%s", u->noise_reduction);
    if (u->has_include)
        s->include_logprobs = u->include_logprobs;
}

const char *stt_oairt_kind_name(stt_oairt_kind_t k)
{
    switch (k) {
    case STT_OAIRT_EV_SESSION_UPDATE:
        return "transcription_session.update";
    case STT_OAIRT_EV_APPEND:
        return "input_audio_buffer.append";
    case STT_OAIRT_EV_COMMIT:
        return "input_audio_buffer.commit";
    case STT_OAIRT_EV_CLEAR:
        return "input_audio_buffer.clear";
    default:
        return "";
    }
}

/* ---- parsing ---- */

__attribute__((format(printf, 4, 5))) static int fail(stt_oairt_error_t *e, const char *code,
                                                      const char *param, const char *fmt, ...)
{
    e->code = code;
    snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int wrong_type(stt_oairt_error_t *e, const char *param, const char *want,
                      const cJSON *got)
{
    return fail(e, "invalid_type", param, "Invalid type for '%s': expected %s, but got %s.",
                param, want, stt_json_type_name(got));
}

static int unknown(stt_oairt_error_t *e, const char *prefix, const char *key)
{
    char param[sizeof(e->param)];
    size_t n = (size_t)snprintf(param, sizeof(param), "%s%s", prefix, prefix[0] ? "." : "");
    if (n < sizeof(param))
        snprintf(param + n, sizeof(param) - n, "%s", key);
    return fail(e, "unknown_parameter", param, "Unknown parameter: '%s'.", param);
}

/* 1 when every byte is printable ASCII (model names and language tags are echoed in errors). */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* A string member into buf (cap bytes with the NUL); null gives "". */
static int get_string(const cJSON *v, const char *param, char *buf, size_t cap, int ascii,
                      stt_oairt_error_t *e)
{
    if (cJSON_IsNull(v)) {
        buf[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(v))
        return wrong_type(e, param, "a string", v);
    size_t n = strlen(v->valuestring);
    if (n >= cap)
        return fail(e, "invalid_value", param,
                    "Invalid '%s': string too long. Expected a string with maximum length %zu, "
                    "but got a string with length %zu instead.",
                    param, cap - 1, n);
    if (ascii && !printable(v->valuestring))
        return fail(e, "invalid_value", param,
                    "Invalid '%s': expected printable ASCII characters.", param);
    memcpy(buf, v->valuestring, n + 1);
    return 0;
}

static int get_ms(const cJSON *v, const char *param, int max, int *out, stt_oairt_error_t *e)
{
    if (!cJSON_IsNumber(v))
        return wrong_type(e, param, "an integer", v);
    if (!stt_json_is_integral(v->valuedouble))
        return fail(e, "invalid_type", param,
                    "Invalid type for '%s': expected an integer, but got a decimal number.",
                    param);
    if (v->valuedouble < 0 || v->valuedouble > max)
        return fail(e, "invalid_value", param,
                    "Invalid '%s': expected a value between 0 and %d, but got %.17g instead.",
                    param, max, v->valuedouble);
    *out = (int)v->valuedouble;
    return 0;
}

static int parse_transcription(const cJSON *o, stt_oairt_update_t *u, stt_oairt_error_t *e)
{
    const char *P = "session.input_audio_transcription";
    u->has_transcription = 1;
    if (cJSON_IsNull(o))
        return 0;
    if (!cJSON_IsObject(o))
        return wrong_type(e, P, "an object", o);
    for (const cJSON *c = o->child; c; c = c->next) {
        int rc;
        if (strcmp(c->string, "model") == 0) {
            u->has_model = 1;
            rc = get_string(c, "session.input_audio_transcription.model", u->model,
                            sizeof(u->model), 1, e);
        } else if (strcmp(c->string, "language") == 0) {
            u->has_language = 1;
            rc = get_string(c, "session.input_audio_transcription.language", u->language,
                            sizeof(u->language), 1, e);
            for (const char *p = u->language; rc == 0 && *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
                      *p == '_'))
                    rc = fail(e, "invalid_value", "session.input_audio_transcription.language",
                              "Invalid 'session.input_audio_transcription.language': expected "
                              "an ISO-639-1 code such as 'en'.");
        } else if (strcmp(c->string, "prompt") == 0) {
            u->has_prompt = 1;
            rc = get_string(c, "session.input_audio_transcription.prompt", u->prompt,
                            sizeof(u->prompt), 0, e);
        } else {
            return unknown(e, P, c->string);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_turn(const cJSON *o, stt_oairt_update_t *u, stt_oairt_error_t *e)
{
    const char *P = "session.turn_detection";
    u->has_turn_detection = 1;
    if (cJSON_IsNull(o)) {
        u->turn_detection = 0;
        return 0;
    }
    if (!cJSON_IsObject(o))
        return wrong_type(e, P, "an object or null", o);
    u->turn_detection = 1;
    for (const cJSON *c = o->child; c; c = c->next) {
        const char *k = c->string;
        int rc = 0;
        if (strcmp(k, "type") == 0) {
            if (!cJSON_IsString(c))
                return wrong_type(e, "session.turn_detection.type", "a string", c);
            if (strcmp(c->valuestring, "semantic_vad") == 0)
                return fail(e, "invalid_value", "session.turn_detection.type",
                            "Invalid value: 'semantic_vad'. This server supports 'server_vad' "
                            "turn detection (or null for manual commits) only.");
            if (strcmp(c->valuestring, "server_vad") != 0)
                return fail(e, "invalid_value", "session.turn_detection.type",
                            "Invalid value: '%.40s'. Supported values are: 'server_vad'.",
                            printable(c->valuestring) ? c->valuestring : "?");
        } else if (strcmp(k, "threshold") == 0) {
            if (!cJSON_IsNumber(c))
                return wrong_type(e, "session.turn_detection.threshold", "a number", c);
            if (!(c->valuedouble >= 0.0 && c->valuedouble <= 1.0))
                return fail(e, "invalid_value", "session.turn_detection.threshold",
                            "Invalid 'session.turn_detection.threshold': expected a value "
                            "between 0.0 and 1.0, but got %.17g instead.",
                            c->valuedouble);
            u->has_threshold = 1;
            u->threshold = c->valuedouble;
        } else if (strcmp(k, "prefix_padding_ms") == 0) {
            u->has_prefix_padding_ms = 1;
            rc = get_ms(c, "session.turn_detection.prefix_padding_ms", STT_OAIRT_MAX_PADDING_MS,
                        &u->prefix_padding_ms, e);
        } else if (strcmp(k, "silence_duration_ms") == 0) {
            u->has_silence_duration_ms = 1;
            rc = get_ms(c, "session.turn_detection.silence_duration_ms",
                        STT_OAIRT_MAX_SILENCE_MS, &u->silence_duration_ms, e);
        } else if (strcmp(k, "create_response") == 0 || strcmp(k, "interrupt_response") == 0) {
            /* Conversation-session options: accepted as the SDK types allow them, no effect. */
            if (!cJSON_IsBool(c) && !cJSON_IsNull(c))
                return wrong_type(e, "session.turn_detection", "a boolean", c);
        } else if (strcmp(k, "eagerness") == 0) {
            if (!cJSON_IsString(c) && !cJSON_IsNull(c)) /* semantic_vad only: no effect */
                return wrong_type(e, "session.turn_detection.eagerness", "a string", c);
        } else {
            return unknown(e, P, k);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_noise(const cJSON *o, stt_oairt_update_t *u, stt_oairt_error_t *e)
{
    u->has_noise_reduction = 1;
    u->noise_reduction[0] = '\0';
    if (cJSON_IsNull(o))
        return 0;
    if (!cJSON_IsObject(o))
        return wrong_type(e, "session.input_audio_noise_reduction", "an object or null", o);
    for (const cJSON *c = o->child; c; c = c->next) {
        if (strcmp(c->string, "type") != 0)
            return unknown(e, "session.input_audio_noise_reduction", c->string);
        if (!cJSON_IsString(c))
            return wrong_type(e, "session.input_audio_noise_reduction.type", "a string", c);
        if (strcmp(c->valuestring, "near_field") != 0 && strcmp(c->valuestring, "far_field") != 0)
            return fail(e, "invalid_value", "session.input_audio_noise_reduction.type",
                        "Invalid value: '%.40s'. Supported values are: 'near_field' and "
                        "'far_field'.",
                        printable(c->valuestring) ? c->valuestring : "?");
        snprintf(u->noise_reduction, sizeof(u->noise_reduction), "%s", c->valuestring);
    }
    return 0;
}

static int parse_include(const cJSON *o, stt_oairt_update_t *u, stt_oairt_error_t *e)
{
    u->has_include = 1;
    u->include_logprobs = 0;
    if (cJSON_IsNull(o))
        return 0;
    if (!cJSON_IsArray(o))
        return wrong_type(e, "session.include", "an array", o);
    for (const cJSON *c = o->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return wrong_type(e, "session.include", "an array of strings", c);
        if (strcmp(c->valuestring, "item.input_audio_transcription.logprobs") != 0)
            return fail(e, "invalid_value", "session.include",
                        "Invalid value: '%.60s'. Supported values are: "
                        "'item.input_audio_transcription.logprobs'.",
                        printable(c->valuestring) ? c->valuestring : "?");
        u->include_logprobs = 1;
    }
    return 0;
}

static int parse_session(const cJSON *root, stt_oairt_update_t *u, stt_oairt_error_t *e)
{
    const cJSON *s = stt_json_last_member(root, "session");
    if (s == NULL)
        return fail(e, "missing_required_parameter", "session",
                    "Missing required parameter: 'session'.");
    if (!cJSON_IsObject(s))
        return wrong_type(e, "session", "an object", s);
    for (const cJSON *c = s->child; c; c = c->next) {
        const char *k = c->string;
        int rc = 0;
        if (strcmp(k, "input_audio_format") == 0) {
            if (!cJSON_IsString(c))
                return wrong_type(e, "session.input_audio_format", "a string", c);
            const char *f = c->valuestring;
            u->has_format = 1;
            if (strcmp(f, "pcm16") == 0)
                u->format = STT_OAIRT_PCM16;
            else if (strcmp(f, "g711_ulaw") == 0)
                u->format = STT_OAIRT_G711_ULAW;
            else if (strcmp(f, "g711_alaw") == 0)
                u->format = STT_OAIRT_G711_ALAW;
            else
                return fail(e, "invalid_value", "session.input_audio_format",
                            "Invalid value: '%.40s'. Supported values are: 'pcm16', "
                            "'g711_ulaw', and 'g711_alaw'.",
                            printable(f) ? f : "?");
        } else if (strcmp(k, "input_audio_transcription") == 0) {
            rc = parse_transcription(c, u, e);
        } else if (strcmp(k, "turn_detection") == 0) {
            rc = parse_turn(c, u, e);
        } else if (strcmp(k, "input_audio_noise_reduction") == 0) {
            rc = parse_noise(c, u, e);
        } else if (strcmp(k, "include") == 0) {
            rc = parse_include(c, u, e);
        } else if (strcmp(k, "modalities") == 0 || strcmp(k, "client_secret") == 0) {
            /* In the SDK's update type, meaningless for a transcription session here. */
        } else {
            return unknown(e, "session", k);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_append(const cJSON *root, size_t max_audio, stt_oairt_event_t *out,
                        stt_oairt_error_t *e)
{
    const cJSON *a = stt_json_last_member(root, "audio");
    if (a == NULL)
        return fail(e, "missing_required_parameter", "audio",
                    "Missing required parameter: 'audio'.");
    if (!cJSON_IsString(a))
        return wrong_type(e, "audio", "a string", a);
    const char *s = a->valuestring;
    size_t len = strlen(s);
    char why[160];
    uint8_t probe;
    size_t n = stt_base64_strict_len(s, len), got = 0;
    /* Validate before allocating: a string that is not base64 costs nothing. */
    if (stt_base64_strict_decode(s, len, &probe, 0, &got, "audio", why, sizeof(why)) ==
        STT_BASE64_BAD)
        return fail(e, "invalid_value", "audio",
                    "Invalid 'audio'. Expected base64-encoded audio bytes but got an invalid "
                    "value (%s).",
                    why);
    if (max_audio && n > max_audio)
        return fail(e, "invalid_value", "audio",
                    "Invalid 'audio': %zu bytes of audio in one append, at most %zu.", n,
                    max_audio);
    out->audio = stt_malloc(n ? n : 1);
    stt_base64_strict_decode(s, len, out->audio, n, &got, "audio", NULL, 0);
    out->audio_bytes = got;
    return 0;
}

/* The members an event of this kind may carry besides type and event_id. */
static int check_members(const cJSON *root, const char *allowed, stt_oairt_error_t *e)
{
    for (const cJSON *c = root->child; c; c = c->next) {
        const char *k = c->string;
        if (strcmp(k, "type") != 0 && strcmp(k, "event_id") != 0 &&
            !(allowed && strcmp(k, allowed) == 0))
            return unknown(e, "", k);
    }
    return 0;
}

/* Events of conversation sessions: named in their error, which says why they are refused. */
static const char *const conversation_events[] = {
    "session.update", "response.create", "response.cancel", "conversation.item.create",
    "conversation.item.delete", "conversation.item.truncate", "conversation.item.retrieve",
    "output_audio_buffer.clear", NULL};

static int parse_event(const cJSON *root, size_t max_audio, stt_oairt_event_t *out,
                       stt_oairt_error_t *e)
{
    if (!cJSON_IsObject(root))
        return fail(e, "invalid_type", "", "Invalid event: expected a JSON object, but got %s.",
                    stt_json_type_name(root));
    const cJSON *id = stt_json_last_member(root, "event_id");
    if (id && !cJSON_IsNull(id)) {
        if (!cJSON_IsString(id))
            return wrong_type(e, "event_id", "a string", id);
        if (strlen(id->valuestring) >= sizeof(out->event_id))
            return fail(e, "invalid_value", "event_id",
                        "Invalid 'event_id': string too long. Expected a string with maximum "
                        "length %zu.",
                        sizeof(out->event_id) - 1);
        snprintf(out->event_id, sizeof(out->event_id), "%s", id->valuestring);
        snprintf(e->event_id, sizeof(e->event_id), "%s", id->valuestring);
    }
    const cJSON *t = stt_json_last_member(root, "type");
    if (t == NULL)
        return fail(e, "missing_required_parameter", "type",
                    "Missing required parameter: 'type'.");
    if (!cJSON_IsString(t))
        return wrong_type(e, "type", "a string", t);
    const char *type = t->valuestring;
    if (strcmp(type, "transcription_session.update") == 0) {
        if (check_members(root, "session", e) || parse_session(root, &out->update, e))
            return -1;
        out->kind = STT_OAIRT_EV_SESSION_UPDATE;
    } else if (strcmp(type, "input_audio_buffer.append") == 0) {
        if (check_members(root, "audio", e) || parse_append(root, max_audio, out, e))
            return -1;
        out->kind = STT_OAIRT_EV_APPEND;
    } else if (strcmp(type, "input_audio_buffer.commit") == 0) {
        if (check_members(root, NULL, e))
            return -1;
        out->kind = STT_OAIRT_EV_COMMIT;
    } else if (strcmp(type, "input_audio_buffer.clear") == 0) {
        if (check_members(root, NULL, e))
            return -1;
        out->kind = STT_OAIRT_EV_CLEAR;
    } else {
        const char *shown = printable(type) ? type : "?";
        for (size_t i = 0; conversation_events[i]; i++)
            if (strcmp(type, conversation_events[i]) == 0)
                return fail(e, "unsupported_event", "type",
                            "'%s' is not supported: this server runs transcription sessions "
                            "only (transcription_session.update, input_audio_buffer.append, "
                            "input_audio_buffer.commit, input_audio_buffer.clear).",
                            shown);
        return fail(e, "invalid_value", "type",
                    "Invalid value: '%.60s'. Supported values are: "
                    "'transcription_session.update', 'input_audio_buffer.append', "
                    "'input_audio_buffer.commit', and 'input_audio_buffer.clear'.",
                    shown);
    }
    return 0;
}

int stt_oairt_parse(const char *buf, size_t len, size_t max_bytes, size_t max_audio_bytes,
                    stt_oairt_event_t *out, stt_oairt_error_t *err)
{
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (max_bytes == 0)
        max_bytes = STT_OAIRT_MAX_MESSAGE_BYTES;
    if (buf == NULL)
        len = 0;
    if (len > max_bytes)
        return fail(err, "invalid_value", "",
                    "Invalid event: %zu bytes, at most %zu bytes per event.", len, max_bytes);
    char why[160];
    cJSON *root = stt_json_parse_strict(buf, len, why, sizeof(why));
    if (root == NULL)
        return fail(err, "invalid_json", "", "The event is not valid JSON: %s.", why);
    int rc = parse_event(root, max_audio_bytes, out, err);
    cJSON_Delete(root);
    if (rc != 0) {
        stt_oairt_event_dispose(out);
        return -1;
    }
    return 0;
}

void stt_oairt_event_dispose(stt_oairt_event_t *ev)
{
    if (ev == NULL)
        return;
    free(ev->audio);
    memset(ev, 0, sizeof(*ev));
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

static void add_text(cJSON *o, const char *key, const char *text)
{
    char *t = stt_utf8_sanitized(text);
    cJSON_AddStringToObject(o, key, t);
    free(t);
}

static void add_id_or_null(cJSON *o, const char *key, const char *id)
{
    if (id && id[0])
        add_text(o, key, id);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *event(const char *type, const char *event_id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    add_text(o, "event_id", event_id ? event_id : "");
    return o;
}

char *stt_oairt_build_session(const char *type, const char *event_id,
                              const stt_oairt_session_t *s)
{
    cJSON *o = event(type, event_id);
    cJSON *ss = cJSON_AddObjectToObject(o, "session");
    add_text(ss, "id", s->id);
    cJSON_AddStringToObject(ss, "object", "realtime.transcription_session");
    cJSON_AddStringToObject(ss, "input_audio_format", stt_oairt_format_name(s->format));
    cJSON *tr = cJSON_AddObjectToObject(ss, "input_audio_transcription");
    add_text(tr, "model", s->model);
    add_text(tr, "language", s->language);
    add_text(tr, "prompt", s->prompt);
    if (s->turn_detection) {
        cJSON *td = cJSON_AddObjectToObject(ss, "turn_detection");
        cJSON_AddStringToObject(td, "type", "server_vad");
        cJSON_AddNumberToObject(td, "threshold", s->threshold);
        cJSON_AddNumberToObject(td, "prefix_padding_ms", s->prefix_padding_ms);
        cJSON_AddNumberToObject(td, "silence_duration_ms", s->silence_duration_ms);
    } else {
        cJSON_AddNullToObject(ss, "turn_detection");
    }
    if (s->noise_reduction[0]) {
        cJSON *nr = cJSON_AddObjectToObject(ss, "input_audio_noise_reduction");
        add_text(nr, "type", s->noise_reduction);
    } else {
        cJSON_AddNullToObject(ss, "input_audio_noise_reduction");
    }
    cJSON *inc = cJSON_AddArrayToObject(ss, "include");
    if (s->include_logprobs)
        cJSON_AddItemToArray(inc, cJSON_CreateString("item.input_audio_transcription.logprobs"));
    return print(o);
}

char *stt_oairt_build_speech_started(const char *event_id, uint64_t audio_start_ms,
                                     const char *item_id)
{
    cJSON *o = event("input_audio_buffer.speech_started", event_id);
    cJSON_AddNumberToObject(o, "audio_start_ms", (double)audio_start_ms);
    add_text(o, "item_id", item_id);
    return print(o);
}

char *stt_oairt_build_speech_stopped(const char *event_id, uint64_t audio_end_ms,
                                     const char *item_id)
{
    cJSON *o = event("input_audio_buffer.speech_stopped", event_id);
    cJSON_AddNumberToObject(o, "audio_end_ms", (double)audio_end_ms);
    add_text(o, "item_id", item_id);
    return print(o);
}

char *stt_oairt_build_committed(const char *event_id, const char *previous_item_id,
                                const char *item_id)
{
    cJSON *o = event("input_audio_buffer.committed", event_id);
    add_id_or_null(o, "previous_item_id", previous_item_id);
    add_text(o, "item_id", item_id);
    return print(o);
}

char *stt_oairt_build_cleared(const char *event_id)
{
    return print(event("input_audio_buffer.cleared", event_id));
}

char *stt_oairt_build_item_created(const char *event_id, const char *previous_item_id,
                                   const char *item_id)
{
    cJSON *o = event("conversation.item.created", event_id);
    add_id_or_null(o, "previous_item_id", previous_item_id);
    cJSON *it = cJSON_AddObjectToObject(o, "item");
    add_text(it, "id", item_id);
    cJSON_AddStringToObject(it, "object", "realtime.item");
    cJSON_AddStringToObject(it, "type", "message");
    cJSON_AddStringToObject(it, "status", "completed");
    cJSON_AddStringToObject(it, "role", "user");
    cJSON *content = cJSON_AddArrayToObject(it, "content");
    cJSON *part = cJSON_CreateObject();
    cJSON_AddStringToObject(part, "type", "input_audio");
    cJSON_AddNullToObject(part, "transcript");
    cJSON_AddItemToArray(content, part);
    return print(o);
}

char *stt_oairt_build_delta(const char *event_id, const char *item_id, const char *delta)
{
    cJSON *o = event("conversation.item.input_audio_transcription.delta", event_id);
    add_text(o, "item_id", item_id);
    cJSON_AddNumberToObject(o, "content_index", 0);
    add_text(o, "delta", delta ? delta : "");
    return print(o);
}

char *stt_oairt_build_completed(const char *event_id, const char *item_id,
                                const char *transcript)
{
    cJSON *o = event("conversation.item.input_audio_transcription.completed", event_id);
    add_text(o, "item_id", item_id);
    cJSON_AddNumberToObject(o, "content_index", 0);
    add_text(o, "transcript", transcript ? transcript : "");
    return print(o);
}

char *stt_oairt_build_failed(const char *event_id, const char *item_id, const char *code,
                             const char *message)
{
    cJSON *o = event("conversation.item.input_audio_transcription.failed", event_id);
    add_text(o, "item_id", item_id);
    cJSON_AddNumberToObject(o, "content_index", 0);
    cJSON *er = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(er, "type", "server_error");
    add_text(er, "code", code ? code : "transcription_failed");
    add_text(er, "message", message ? message : "transcription failed");
    cJSON_AddNullToObject(er, "param");
    return print(o);
}

char *stt_oairt_build_error(const char *event_id, const char *type, const stt_oairt_error_t *e)
{
    cJSON *o = event("error", event_id);
    cJSON *er = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(er, "type", type ? type : "invalid_request_error");
    add_id_or_null(er, "code", e->code);
    add_text(er, "message", e->message);
    add_id_or_null(er, "param", e->param);
    add_id_or_null(er, "event_id", e->event_id);
    return print(o);
}
