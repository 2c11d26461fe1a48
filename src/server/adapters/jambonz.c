/* The jambonz custom speech vendor (STT) adapter, at --jambonz_path (default `/jambonz`) on the
 * data port: jambonz (its FreeSWITCH module mod_jambonz_transcribe) uses the server as a
 * "custom:NAME" recognizer.
 * Codec: src/proto/jambonz.c; protocol notes: docs/protocol.md, "jambonz custom STT".
 *
 * Handshake: with --jambonz_api_key set, `Authorization: Bearer <key>` must match it, else HTTP
 * 401 before the upgrade (authorize()). No subprotocol.
 * Client: text `start` (language, sampleRateHz, interimResults, options.hints, ...), binary
 * PCM16 LE mono at sampleRateHz (any frame size; an odd byte is carried to the next frame),
 * text `stop`. Server: `transcription` messages, interim ones (is_final false) only when the
 * start asked for interimResults, finals (is_final true) as each utterance ends; on `stop` the
 * utterance recording is ended, its final sent, and the server closes with 1000 (jambonz
 * itself never closes after stop). Errors: `{"type":"error","error":...}`, then a close (1003
 * for an unsupported format or encoding, 1007 for a malformed message, 1008 for audio before
 * start or a second start, 1009 for a message over the cap). An engine failure on one
 * utterance is an error message and the call goes on.
 *
 * Hints (options.hints) become the utterances' prompt (stt_utt_options_t.prompt: as many whole
 * hints as fit in 255 bytes, ", "-separated): whisper decodes after them, so the words are more
 * likely spelled as given; pocketsphinx ignores them.
 *
 * Threads: the loop thread only. Ownership: the state owns its stream until the stream's closed
 * callback frees the state (it may outlive the connection while jobs are out). */
#include "../adapter.h"
#include "../conn.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/jambonz.h"
#include "stt/log.h"
#include "stt/text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    stt_conn_t *conn; /* NULL once the socket is gone */
    const stt_adapter_env_t *env;
    stt_stream_t *stream; /* created by start */
    uint64_t id;
    int rate_hz;
    int interim;
    char language[STT_JAMBONZ_LANGUAGE_MAX];
    char call_sid[STT_JAMBONZ_CALL_SID_MAX];
    uint8_t carry; /* an odd trailing byte of PCM16, joined to the next message */
    int has_carry;
    int stopping; /* stop received: close once the last final went out */
    char *last_interim; /* text of the last interim sent for the current utterance */
    uint64_t finals_sent, interims_sent;
} jambonz_t;

/* ---- output ---- */

/* The error message, then a close with the code given. Returns -1 (the adapter closed). */
static int fail(jambonz_t *j, int ws_code, const char *name, const char *msg)
{
    STT_WARN(j->id, "jambonz_error", "%s: %s", name, msg);
    j->env->rec->m.recorder_errors++;
    stt_conn_send_json(j->conn, stt_jambonz_build_error(msg));
    if (j->conn)
        stt_conn_close_code(j->conn, ws_code, msg);
    return -1;
}

static void send_transcription(jambonz_t *j, int is_final, const char *text, double confidence)
{
    stt_jambonz_transcription_t t = {.is_final = is_final,
                                     .transcript = text,
                                     .confidence = confidence,
                                     .language = j->language,
                                     .channel = 1};
    stt_conn_send_json(j->conn, stt_jambonz_build_transcription(&t));
}

/* After stop: close once nothing is recording and no final is due. */
static void maybe_close(jambonz_t *j)
{
    if (j->stopping && j->conn && !stt_conn_closing(j->conn) && stt_stream_idle(j->stream)) {
        STT_INFO(j->id, "jambonz_stopped", "stop: %llu final(s) sent, closing",
                 (unsigned long long)j->finals_sent);
        stt_conn_close(j->conn, STT_CLOSE_NORMAL, "stop");
    }
}

static void on_event(void *data, const stt_stream_event_t *ev)
{
    jambonz_t *j = data;
    switch (ev->kind) {
    case STT_SEV_RECORDING_START:
        free(j->last_interim);
        j->last_interim = NULL;
        return;
    case STT_SEV_PARTIAL: {
        if (!j->interim)
            return;
        char *text = stt_text_trimmed(ev->result->text);
        if (text[0] && (!j->last_interim || strcmp(text, j->last_interim) != 0)) {
            send_transcription(j, 0, text, ev->result->confidence);
            stt_stream_partial_delivered(j->stream, ev->utt, ev->elapsed_s);
            j->interims_sent++;
            free(j->last_interim);
            j->last_interim = text;
        } else {
            free(text);
        }
        return;
    }
    case STT_SEV_FINAL: {
        free(j->last_interim);
        j->last_interim = NULL;
        char *text = stt_text_trimmed(ev->result->text);
        /* An empty final (noise the VAD took for speech) would end a jambonz gather with
         * nothing: it is not sent. */
        if (text[0]) {
            send_transcription(j, 1, text, ev->result->confidence);
            j->finals_sent++;
        }
        free(text);
        if (ev->finals_pending == 0)
            maybe_close(j);
        return;
    }
    case STT_SEV_FINAL_FAILED: {
        char msg[256];
        snprintf(msg, sizeof(msg), "transcription failed: %s",
                 ev->message ? ev->message : "engine error");
        STT_WARN(j->id, "jambonz_final_failed", "utterance %u: %s", ev->utt, msg);
        stt_conn_send_json(j->conn, stt_jambonz_build_error(msg));
        if (ev->finals_pending == 0)
            maybe_close(j);
        return;
    }
    case STT_SEV_IDLE:
        maybe_close(j);
        return;
    default:
        return;
    }
}

/* ---- input ---- */

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

static int on_start(jambonz_t *j, const stt_jambonz_start_t *st)
{
    if (j->stream)
        return fail(j, 1008, "second_start", "start received twice on one connection");
    j->rate_hz = st->sample_rate_hz;
    j->interim = st->interim_results;
    snprintf(j->language, sizeof(j->language), "%s", st->language);
    snprintf(j->call_sid, sizeof(j->call_sid), "%s", st->call_sid);
    stt_stream_params_t sp = stt_stream_default_params(j->env->rec);
    sp.log_id = j->id;
    sp.partials = j->interim ? sp.partials : 0; /* no interims wanted: no partial passes */
    /* The configured language stays when the engine detects it (--language "") or the tag
     * has no primary subtag. */
    char lang[STT_LANGUAGE_MAX];
    engine_language(st->language, lang, sizeof(lang));
    if (lang[0] && sp.utt.language[0])
        snprintf(sp.utt.language, sizeof(sp.utt.language), "%s", lang);
    size_t plen = stt_jambonz_hints_prompt(st->hints, st->n_hints, sp.utt.prompt,
                                           sizeof(sp.utt.prompt));
    j->stream = stt_conn_open_stream(j->conn, j->env->rec, &sp, on_event, j);
    STT_INFO(j->id, "jambonz_start",
             "callSid %s, language %s, %d Hz, interim %s, %zu hint(s) (%zu prompt bytes)",
             j->call_sid[0] ? j->call_sid : "-", j->language, j->rate_hz,
             j->interim ? "on" : "off", st->n_hints, plen);
    return 0;
}

static int on_text(jambonz_t *j, const uint8_t *buf, size_t len)
{
    stt_jambonz_msg_t msg;
    char err[256];
    stt_jambonz_err_t e = stt_jambonz_parse((const char *)buf, len, 0, &msg, err, sizeof(err));
    if (e != STT_JAMBONZ_ERR_OK)
        return fail(j, stt_jambonz_err_close_code(e), stt_jambonz_err_name(e), err);
    int rc = 0;
    switch (msg.kind) {
    case STT_JAMBONZ_MSG_START:
        rc = on_start(j, &msg.start);
        break;
    case STT_JAMBONZ_MSG_STOP:
        if (!j->stream) { /* nothing was started: nothing to finish */
            stt_conn_close(j->conn, STT_CLOSE_NORMAL, "stop");
            break;
        }
        if (!j->stopping) {
            j->stopping = 1;
            stt_stream_finalize(j->stream, 1);
            stt_stream_end_input(j->stream, 0);
            maybe_close(j);
        }
        break;
    default:
        STT_INFO(j->id, "jambonz_ignored", "message of type \"%s\" ignored", msg.other_type);
        break;
    }
    stt_jambonz_msg_dispose(&msg);
    return rc;
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    jambonz_t *j = state;
    if (!binary)
        return on_text(j, buf, len);
    if (!j->stream)
        return fail(j, 1008, "audio_before_start", "binary audio before the start message");
    if (j->stopping || len == 0)
        return 0;
    stt_metrics_t *m = &j->env->rec->m;
    m->frames_total++;
    m->last_activity_s = stt_now_s();
    stt_conn_touch(j->conn);
    if (j->has_carry) { /* the odd byte of the previous message */
        uint8_t joined[2] = {j->carry, buf[0]};
        j->has_carry = 0;
        stt_stream_feed(j->stream, STT_PCM_S16LE, j->rate_hz, joined, 1);
        buf++;
        len--;
    }
    size_t n = len / 2;
    if (len % 2) {
        j->carry = buf[len - 1];
        j->has_carry = 1;
    }
    m->audio_seconds += (double)n / j->rate_hz;
    if (n > 0 && stt_stream_feed(j->stream, STT_PCM_S16LE, j->rate_hz, buf, n) != 0)
        return fail(j, 1007, "bad_sample_rate", "the resampler refused the sample rate");
    return 0;
}

/* A message over --max_frame_bytes: the error message, then 1009. */
static void on_oversize(void *state, size_t bytes, size_t max)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "message of %zu bytes exceeds the %zu-byte limit", bytes, max);
    fail(state, 1009, "message_too_large", msg);
}

/* ---- lifecycle ---- */

/* Constant-time comparison: the time taken does not tell how much of a guess was right. */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

static int authorize(const stt_adapter_env_t *env, const stt_request_t *req, const char **why)
{
    const char *key = env->cfg->jambonz_api_key;
    if (!key || !key[0])
        return 0;
    char h[512];
    if (req->header(req->req, "authorization", h, sizeof(h)) < 0) {
        *why = "missing Authorization: Bearer <api key>";
        return 401;
    }
    const char *v = h;
    while (*v == ' ')
        v++;
    if (strncasecmp(v, "Bearer ", 7) != 0) {
        *why = "Authorization must be Bearer <api key>";
        return 401;
    }
    v += 7;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == ' ')
        n--;
    char given[512];
    memcpy(given, v, n);
    given[n] = '\0';
    if (!same_secret(given, key)) {
        *why = "wrong API key";
        return 401;
    }
    return 0;
}

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    jambonz_t *j = stt_calloc(1, sizeof(*j));
    j->conn = c;
    j->env = env;
    j->id = stt_conn_id(c);
    j->rate_hz = STT_JAMBONZ_DEFAULT_RATE_HZ;
    snprintf(j->language, sizeof(j->language), "%s", STT_JAMBONZ_DEFAULT_LANGUAGE);
    /* Binary audio messages up to the frame cap; text messages are capped by the codec. */
    stt_conn_set_max_message(c, (size_t)env->cfg->max_frame_bytes);
    *state = j;
    STT_INFO(j->id, "jambonz_connected", "[PRODUCTION] jambonz client connected from %s (%s)",
             req->ip, req->path);
    return 0;
}

static void stream_closed(void *data)
{
    jambonz_t *j = data;
    free(j->last_interim);
    free(j);
}

static void adapter_closed(void *state)
{
    jambonz_t *j = state;
    STT_INFO(j->id, "jambonz_closed",
             "[PRODUCTION] jambonz client disconnected (%.1f s, %llu final(s), %llu interim(s))",
             stt_now_s() - stt_conn_opened_s(j->conn), (unsigned long long)j->finals_sent,
             (unsigned long long)j->interims_sent);
    stt_conn_t *c = j->conn;
    stt_stream_t *s = j->stream;
    j->conn = NULL;
    j->stream = NULL;
    if (s)
        stt_conn_close_stream(c, s, stream_closed, j); /* may free j at once */
    else
        stream_closed(j);
}

const stt_adapter_t stt_adapter_jambonz = {
    .name = "jambonz",
    .transport = STT_TRANSPORT_WS,
    .counts_as_call = 1,
    .open = adapter_open,
    .authorize = authorize,
    .on_message = on_message,
    .on_oversize = on_oversize,
    .on_closed = adapter_closed,
};
