/* The OpenAI Realtime transcription adapter: WebSocket `/v1/realtime?intent=transcription` on
 * the data port, the beta protocol the official `openai` SDKs speak (JS
 * `openai/beta/realtime/ws` OpenAIRealtimeWS; Python `client.beta.realtime.connect`).
 * Codec: src/proto/openai_realtime.c; protocol notes: docs/protocol.md, "OpenAI Realtime
 * transcription (/v1/realtime)".
 *
 * Handshake: --api_key checked by authorize() (Bearer header or `token, KEY` subprotocol), 401
 * in OpenAI's error shape before the upgrade. `intent=transcription` opens a transcription
 * session at once (transcription_session.created). The official SDKs cannot add intent to
 * the URL they build (only `model`), so a session opened without intent is accepted and waits:
 * its first transcription event (transcription_session.update, or audio) makes it a
 * transcription session (created is sent first); any other intent, or a conversation event
 * first, is answered with an error saying this server runs transcription sessions only. A
 * `model` in the URL or in input_audio_transcription.model must be one of the loaded model's
 * names (models.h), else an error event lists them (and, for the URL, the server closes 1008).
 *
 * Audio: input_audio_buffer.append, pcm16 at 24 kHz or G.711 at 8 kHz, fed to one stream
 * (an odd trailing byte of pcm16 waits for the next append). server_vad: the stream's VAD and
 * turn machine make the turns: RECORDING_START -> speech_started (audio_start_ms = onset minus
 * prefix_padding_ms, which is the pre-roll the utterance carries), RECORDING_STOP ->
 * speech_stopped + committed + conversation.item.created, partials -> delta events, FINAL ->
 * the last delta + completed. turn_detection null: the end-of-speech silence is set beyond the
 * longest utterance, so only a commit (stt_stream_finalize force 1) or --max_utterance_seconds
 * ends an item. Clear aborts the recording and forgets the pre-roll.
 *
 * Deltas: sent for the stable part of each partial, the whole words it shares with the
 * previous partial (two hypotheses agreeing: whisper most often revises the words it is still
 * hearing), when that extends what was already sent for the item; the final sends the rest of
 * its text as a last delta when it extends the deltas. When whisper revises text already sent,
 * no delta is sent for the item until a hypothesis extends the sent text again; the deltas of
 * an item therefore always concatenate to a prefix of one of its hypotheses, and `completed`
 * carries the final transcript, which is authoritative (it replaces the deltas).
 *
 * Threads: the loop thread only. Ownership: the state owns its stream until the stream's closed
 * callback frees the state (it may outlive the connection while jobs are out). */
#include "../adapter.h"
#include "../conn.h"
#include "api_key.h"
#include "models.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/openai_realtime.h"
#include "stt/text.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROTOCOL "openai_realtime"
#define ITEM_SLOTS 16 /* utterances whose final may still come back */

typedef struct {
    uint32_t utt; /* 0 = free */
    char item[STT_OAIRT_ITEM_ID_MAX];
    char *sent; /* the concatenated deltas sent for the item */
    char *last; /* the item's previous partial */
} item_t;

typedef struct {
    stt_conn_t *conn; /* NULL once the socket is gone */
    const stt_adapter_env_t *env;
    stt_stream_t *stream;
    uint64_t id;
    int started;  /* a transcription session: created was sent */
    int stopping; /* drain: close once the last final went out */
    int aborting; /* inside stt_stream_abort: its recording_stop commits nothing */
    stt_oairt_session_t sess;
    stt_models_t models;
    uint64_t next_event;
    item_t items[ITEM_SLOTS];
    uint32_t cur_utt;                           /* the utterance recording, 0 when none */
    char prev_item[STT_OAIRT_ITEM_ID_MAX];      /* the last committed item, "" before any */
    uint8_t carry;                              /* an odd trailing byte of pcm16 */
    int has_carry;
    uint64_t items_committed, completed_sent, errors;
} rt_t;

/* ---- output ---- */

static const char *event_id(rt_t *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "event_%llx_%llu", (unsigned long long)r->id,
             (unsigned long long)++r->next_event);
    return buf;
}

/* An error event for a client mistake: logged, counted; the session goes on. */
static void client_error(rt_t *r, const stt_oairt_error_t *e)
{
    char eid[48];
    STT_INFO(r->id, "openai_realtime_error", "%s (%s): %s", e->code, e->param[0] ? e->param : "-",
             e->message);
    stt_metrics_protocol_error(&r->env->rec->m, PROTOCOL, e->code);
    r->errors++;
    stt_conn_send_json(r->conn,
                       stt_oairt_build_error(event_id(r, eid, sizeof(eid)),
                                             "invalid_request_error", e));
}

__attribute__((format(printf, 5, 6))) static void client_error_f(rt_t *r, const char *code,
                                                                 const char *param,
                                                                 const char *client_event_id,
                                                                 const char *fmt, ...)
{
    stt_oairt_error_t e = {.code = code};
    snprintf(e.param, sizeof(e.param), "%s", param ? param : "");
    snprintf(e.event_id, sizeof(e.event_id), "%s", client_event_id ? client_event_id : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof(e.message), fmt, ap);
    va_end(ap);
    client_error(r, &e);
}

static void send_session(rt_t *r, const char *type)
{
    char eid[48];
    stt_oairt_session_t s = r->sess;
    if (!s.model[0]) /* the default, reported under the name OpenAI clients expect */
        snprintf(s.model, sizeof(s.model), "%s",
                 stt_models_known(&r->models, "whisper-1") ? "whisper-1" : r->models.names[0]);
    stt_conn_send_json(r->conn, stt_oairt_build_session(type, event_id(r, eid, sizeof(eid)), &s));
}

/* ---- items ---- */

static item_t *item_of(rt_t *r, uint32_t utt)
{
    for (int i = 0; i < ITEM_SLOTS; i++)
        if (r->items[i].utt == utt && utt != 0)
            return &r->items[i];
    return NULL;
}

static item_t *item_new(rt_t *r, uint32_t utt)
{
    item_t *it = &r->items[utt % ITEM_SLOTS]; /* the slot of utt - ITEM_SLOTS, long done */
    free(it->sent);
    free(it->last);
    it->sent = stt_strdup("");
    it->last = stt_strdup("");
    it->utt = utt;
    snprintf(it->item, sizeof(it->item), "item_%llx_%u", (unsigned long long)r->id, utt);
    return it;
}

static void item_free(item_t *it)
{
    free(it->sent);
    free(it->last);
    memset(it, 0, sizeof(*it));
}

/* Sends the part of `text` (up to `upto` bytes) beyond what the item's deltas already said,
 * when it extends them. */
static void send_delta(rt_t *r, item_t *it, const char *text, size_t upto)
{
    size_t sent = strlen(it->sent);
    if (upto <= sent || strncmp(text, it->sent, sent) != 0)
        return; /* nothing new, or a revision of text already sent: wait */
    char *delta = stt_malloc(upto - sent + 1);
    memcpy(delta, text + sent, upto - sent);
    delta[upto - sent] = '\0';
    char eid[48];
    stt_conn_send_json(r->conn,
                       stt_oairt_build_delta(event_id(r, eid, sizeof(eid)), it->item, delta));
    free(delta);
    char *all = stt_malloc(upto + 1);
    memcpy(all, text, upto);
    all[upto] = '\0';
    free(it->sent);
    it->sent = all;
}

/* ---- stream events ---- */

static void maybe_close(rt_t *r)
{
    if (r->stopping && r->conn && !stt_conn_closing(r->conn) && stt_stream_idle(r->stream))
        stt_conn_close(r->conn, STT_CLOSE_GOING_AWAY, "server shutting down");
}

static void on_recording_stop(rt_t *r, const stt_stream_event_t *ev)
{
    item_t *it = item_of(r, ev->utt);
    if (!it || r->aborting)
        return;
    char eid[48];
    if (r->sess.turn_detection)
        stt_conn_send_json(r->conn, stt_oairt_build_speech_stopped(event_id(r, eid, sizeof(eid)),
                                                    ev->start_sample / 16, it->item));
    stt_conn_send_json(r->conn,
                       stt_oairt_build_committed(event_id(r, eid, sizeof(eid)), r->prev_item,
                                                 it->item));
    stt_conn_send_json(r->conn,
                       stt_oairt_build_item_created(event_id(r, eid, sizeof(eid)), r->prev_item,
                                              it->item));
    snprintf(r->prev_item, sizeof(r->prev_item), "%s", it->item);
    r->items_committed++;
}

static void on_event(void *data, const stt_stream_event_t *ev)
{
    rt_t *r = data;
    char eid[48];
    switch (ev->kind) {
    case STT_SEV_RECORDING_START: {
        item_t *it = item_new(r, ev->utt);
        r->cur_utt = ev->utt;
        if (r->sess.turn_detection) {
            uint64_t ms = ev->start_sample / 16, pad = (uint64_t)r->sess.prefix_padding_ms;
            stt_conn_send_json(r->conn,
                               stt_oairt_build_speech_started(event_id(r, eid, sizeof(eid)),
                                                        ms > pad ? ms - pad : 0, it->item));
        }
        return;
    }
    case STT_SEV_RECORDING_STOP:
        r->cur_utt = 0;
        on_recording_stop(r, ev);
        return;
    case STT_SEV_PARTIAL: {
        item_t *it = item_of(r, ev->utt);
        if (!it)
            return;
        char *text = stt_text_trimmed(ev->result->text);
        /* The stable part: what this partial and the previous one agree on, up to the end of
         * the last whole word they share. */
        size_t agree = 0, upto = 0;
        while (text[agree] && text[agree] == it->last[agree])
            agree++;
        for (size_t k = 0; k < agree; k++)
            if (text[k] == ' ')
                upto = k + 1;
        if (agree > 0 && text[agree] == '\0' && it->last[agree] == '\0')
            upto = agree; /* the same text twice: all of it */
        size_t before = strlen(it->sent);
        send_delta(r, it, text, upto);
        if (strlen(it->sent) != before)
            stt_stream_partial_delivered(r->stream, ev->utt, ev->elapsed_s);
        free(it->last);
        it->last = text;
        return;
    }
    case STT_SEV_FINAL: {
        item_t *it = item_of(r, ev->utt);
        if (!it)
            return;
        char *text = stt_text_trimmed(ev->result->text);
        send_delta(r, it, text, strlen(text));
        stt_conn_send_json(r->conn,
                           stt_oairt_build_completed(event_id(r, eid, sizeof(eid)), it->item,
                                                     text));
        r->completed_sent++;
        free(text);
        item_free(it);
        if (ev->finals_pending == 0)
            maybe_close(r);
        return;
    }
    case STT_SEV_FINAL_FAILED: {
        item_t *it = item_of(r, ev->utt);
        STT_WARN(r->id, "openai_realtime_final_failed", "utterance %u: %s", ev->utt,
                 ev->message ? ev->message : "engine error");
        if (it) {
            stt_conn_send_json(r->conn,
                               stt_oairt_build_failed(event_id(r, eid, sizeof(eid)), it->item,
                                                ev->code ? ev->code : "transcription_failed",
                                                ev->message ? ev->message : "engine error"));
            item_free(it);
        }
        if (ev->finals_pending == 0)
            maybe_close(r);
        return;
    }
    case STT_SEV_IDLE:
        maybe_close(r);
        return;
    default:
        return;
    }
}

/* ---- session parameters ---- */

/* OpenAI's threshold (0..1, higher = louder audio needed; default 0.5) onto the VAD
 * sensitivity (0..1, higher = more speech): 0.5 keeps the server's tuned --silero_sensitivity,
 * 0 gives 1 (everything is speech), 1 gives 0, linearly in between on each side. */
static double sensitivity_of(double threshold, double configured)
{
    if (threshold <= 0.5)
        return configured + (1.0 - configured) * (0.5 - threshold) / 0.5;
    return configured * (1.0 - threshold) / 0.5;
}

/* Whisper and pocketsphinx take the primary language subtag: "en-US" -> "en". */
static void engine_language(const char *tag, char *out, size_t cap)
{
    size_t n = 0;
    while (tag[n] && tag[n] != '-' && tag[n] != '_' && n + 1 < cap) {
        out[n] = (char)tolower((unsigned char)tag[n]);
        n++;
    }
    out[n] = '\0';
}

static stt_stream_params_t stream_params(rt_t *r)
{
    const stt_oairt_session_t *s = &r->sess;
    stt_stream_params_t sp = stt_stream_default_params(r->env->rec);
    sp.log_id = r->id;
    if (s->turn_detection) {
        sp.turn.post_speech_silence_s = s->silence_duration_ms / 1000.0;
        sp.silero_sensitivity = sensitivity_of(s->threshold, sp.silero_sensitivity);
    } else {
        /* Manual commits: silence never ends an item; --max_utterance_seconds still does. */
        sp.turn.post_speech_silence_s = sp.turn.max_utterance_s + 1.0;
        sp.turn.early_transcription_on_silence_s = 0;
    }
    sp.turn.pre_recording_buffer_s = s->prefix_padding_ms / 1000.0;
    char lang[STT_LANGUAGE_MAX];
    engine_language(s->language, lang, sizeof(lang));
    /* The configured language stays when the engine detects it (--language ""). */
    if (lang[0] && sp.utt.language[0])
        snprintf(sp.utt.language, sizeof(sp.utt.language), "%s", lang);
    size_t n = strlen(s->prompt);
    if (n >= sizeof(sp.utt.prompt)) { /* cut on a character boundary */
        n = sizeof(sp.utt.prompt) - 1;
        while (n > 0 && ((unsigned char)s->prompt[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(sp.utt.prompt, s->prompt, n);
    sp.utt.prompt[n] = '\0';
    return sp;
}

/* Makes this a transcription session (created goes out first) and opens its stream. */
static void start(rt_t *r)
{
    if (r->started)
        return;
    r->started = 1;
    stt_stream_params_t sp = stream_params(r);
    r->stream = stt_conn_open_stream(r->conn, r->env->rec, &sp, on_event, r);
    send_session(r, "transcription_session.created");
    STT_INFO(r->id, "openai_realtime_session", "transcription session %s: %s, turn detection %s",
             r->sess.id, stt_oairt_format_name(r->sess.format),
             r->sess.turn_detection ? "server_vad" : "none (manual commits)");
}

static void on_update(rt_t *r, const stt_oairt_event_t *ev)
{
    const stt_oairt_update_t *u = &ev->update;
    if (u->has_model && u->model[0] && !stt_models_known(&r->models, u->model)) {
        char names[512];
        stt_models_join(&r->models, names, sizeof(names));
        client_error_f(r, "model_not_found", "session.input_audio_transcription.model",
                       ev->event_id,
                       "The model '%s' is not served here. Accepted models: %s.", u->model,
                       names);
        return;
    }
    start(r);
    stt_oairt_session_t before = r->sess;
    stt_oairt_session_apply(&r->sess, u);
    if (r->sess.format != before.format)
        r->has_carry = 0;
    if (r->stream) {
        stt_stream_params_t sp = stream_params(r);
        stt_stream_set_params(r->stream, &sp);
    }
    send_session(r, "transcription_session.updated");
}

static void on_append(rt_t *r, const stt_oairt_event_t *ev)
{
    start(r);
    if (!r->stream || r->stopping || ev->audio_bytes == 0)
        return;
    stt_metrics_t *m = &r->env->rec->m;
    m->frames_total++;
    m->last_activity_s = stt_now_s();
    stt_conn_touch(r->conn);
    stt_oairt_format_t f = r->sess.format;
    int rate = stt_oairt_format_rate_hz(f);
    const uint8_t *buf = ev->audio;
    size_t len = ev->audio_bytes;
    if (f != STT_OAIRT_PCM16) {
        m->audio_seconds += (double)len / rate;
        stt_stream_feed(r->stream, f == STT_OAIRT_G711_ULAW ? STT_PCM_MULAW : STT_PCM_ALAW, rate,
                        buf, len);
        return;
    }
    if (r->has_carry) { /* the odd byte of the previous append */
        uint8_t joined[2] = {r->carry, buf[0]};
        r->has_carry = 0;
        stt_stream_feed(r->stream, STT_PCM_S16LE, rate, joined, 1);
        buf++;
        len--;
    }
    if (len % 2) {
        r->carry = buf[len - 1];
        r->has_carry = 1;
    }
    m->audio_seconds += (double)(len / 2) / rate;
    if (len / 2 > 0)
        stt_stream_feed(r->stream, STT_PCM_S16LE, rate, buf, len / 2);
}

static void on_commit(rt_t *r, const stt_oairt_event_t *ev)
{
    start(r);
    int rc = r->stream ? stt_stream_finalize(r->stream, 1) : STT_ENOTREADY;
    if (rc == STT_ENOTREADY)
        client_error_f(r, "input_audio_buffer_commit_empty", "", ev->event_id,
                       "Error committing input audio buffer: no speech in the audio appended "
                       "since the last commit.");
}

static void on_clear(rt_t *r)
{
    start(r);
    if (r->stream) {
        r->aborting = 1;
        uint32_t utt = r->cur_utt;
        stt_stream_abort(r->stream);
        stt_stream_clear(r->stream);
        r->aborting = 0;
        item_t *it = item_of(r, utt);
        if (it)
            item_free(it);
        r->cur_utt = 0;
    }
    r->has_carry = 0;
    char eid[48];
    stt_conn_send_json(r->conn, stt_oairt_build_cleared(event_id(r, eid, sizeof(eid))));
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    rt_t *r = state;
    if (binary) {
        client_error_f(r, "invalid_type", "", "",
                       "Binary messages are not part of the Realtime protocol: send audio as "
                       "input_audio_buffer.append events with base64 audio.");
        return 0;
    }
    stt_oairt_event_t ev;
    stt_oairt_error_t e;
    size_t cap = (size_t)r->env->cfg->max_frame_bytes;
    if (stt_oairt_parse((const char *)buf, len, cap, cap, &ev, &e) != 0) {
        client_error(r, &e);
        return 0;
    }
    switch (ev.kind) {
    case STT_OAIRT_EV_SESSION_UPDATE:
        on_update(r, &ev);
        break;
    case STT_OAIRT_EV_APPEND:
        on_append(r, &ev);
        break;
    case STT_OAIRT_EV_COMMIT:
        on_commit(r, &ev);
        break;
    case STT_OAIRT_EV_CLEAR:
        on_clear(r);
        break;
    default:
        break;
    }
    stt_oairt_event_dispose(&ev);
    return 0;
}

/* A message over --max_frame_bytes: the error event, then 1009. */
static void on_oversize(void *state, size_t bytes, size_t max)
{
    rt_t *r = state;
    client_error_f(r, "invalid_value", "", "",
                   "Event of %zu bytes exceeds the %zu-byte limit (--max_frame_bytes): send the "
                   "audio in smaller appends.",
                   bytes, max);
    if (r->conn)
        stt_conn_close_code(r->conn, 1009, "event too large");
}

/* ---- lifecycle ---- */

static int authorize(const stt_adapter_env_t *env, const stt_request_t *req, const char **why)
{
    return stt_api_key_check(env, req, why);
}

/* OpenAI's error body {"error": {"message", "type", "param", "code"}}. */
static char *refusal_body(int status, const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", message ? message : "");
    cJSON_AddStringToObject(e, "type", status >= 500   ? "server_error"
                                       : status == 429 ? "rate_limit_error"
                                                       : "invalid_request_error");
    cJSON_AddNullToObject(e, "param");
    cJSON_AddStringToObject(e, "code", status == 401 ? "invalid_api_key" : code ? code : "error");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    rt_t *r = stt_calloc(1, sizeof(*r));
    r->conn = c;
    r->env = env;
    r->id = stt_conn_id(c);
    stt_oairt_session_defaults(&r->sess);
    snprintf(r->sess.id, sizeof(r->sess.id), "sess_%llx", (unsigned long long)r->id);
    stt_models_list(env, &r->models);
    stt_conn_set_max_message(c, (size_t)env->cfg->max_frame_bytes);
    *state = r;
    char intent[64] = "", model[STT_OAIRT_MODEL_MAX] = "";
    int has_intent = req->arg(req->req, "intent", intent, sizeof(intent)) >= 0;
    int has_model = req->arg(req->req, "model", model, sizeof(model)) >= 0 && model[0];
    STT_INFO(r->id, "openai_realtime_connected",
             "[PRODUCTION] OpenAI Realtime client connected from %s (intent %s, model %s)",
             req->ip, has_intent ? intent : "-", has_model ? model : "-");
    if (has_intent && strcmp(intent, "transcription") != 0) {
        client_error_f(r, "unsupported_intent", "intent", "",
                       "This server runs transcription sessions only: connect to "
                       "/v1/realtime?intent=transcription.");
        stt_conn_close_code(c, 1008, "transcription sessions only");
        return 0;
    }
    if (has_model && !stt_models_known(&r->models, model)) {
        char names[512];
        stt_models_join(&r->models, names, sizeof(names));
        client_error_f(r, "model_not_found", "model", "",
                       "The model '%s' is not served here. Accepted models: %s.", model, names);
        stt_conn_close_code(c, 1008, "unknown model");
        return 0;
    }
    if (has_model)
        snprintf(r->sess.model, sizeof(r->sess.model), "%s", model);
    if (has_intent)
        start(r);
    return 0;
}

/* Drain or --max_session_duration: the item recording now is committed and transcribed, its
 * completed event sent, then the server closes. */
static void on_shutdown(void *state, stt_close_t why)
{
    rt_t *r = state;
    (void)why;
    r->stopping = 1;
    if (r->stream) {
        stt_stream_finalize(r->stream, 1);
        stt_stream_end_input(r->stream, 0);
        maybe_close(r);
    } else if (r->conn) {
        stt_conn_close(r->conn, STT_CLOSE_GOING_AWAY, "server shutting down");
    }
}

static void stream_closed(void *data)
{
    rt_t *r = data;
    for (int i = 0; i < ITEM_SLOTS; i++)
        item_free(&r->items[i]);
    free(r);
}

static void adapter_closed(void *state)
{
    rt_t *r = state;
    STT_INFO(r->id, "openai_realtime_closed",
             "[PRODUCTION] OpenAI Realtime client disconnected (%.1f s, %llu item(s) committed, "
             "%llu completed, %llu error(s))",
             stt_now_s() - stt_conn_opened_s(r->conn), (unsigned long long)r->items_committed,
             (unsigned long long)r->completed_sent, (unsigned long long)r->errors);
    stt_conn_t *c = r->conn;
    stt_stream_t *s = r->stream;
    r->conn = NULL;
    r->stream = NULL;
    if (s)
        stt_conn_close_stream(c, s, stream_closed, r); /* may free r at once */
    else
        stream_closed(r);
}

const stt_adapter_t stt_adapter_openai_realtime = {
    .name = "openai_realtime",
    .transport = STT_TRANSPORT_WS,
    .counts_as_call = 1,
    .open = adapter_open,
    .authorize = authorize,
    .refusal_body = refusal_body,
    .on_message = on_message,
    .on_oversize = on_oversize,
    .on_shutdown = on_shutdown,
    .on_closed = adapter_closed,
};
