/* The RealtimeSTT data adapter (spec: docs/protocol.md): binary frames of JSON metadata + PCM16
 * in, RealtimeSTT JSON events out, every byte as the original server sends them.
 *
 * What is RealtimeSTT's and therefore here rather than in the stream core: the event names, the
 * `vad_detect_start` hold-back (the original announces listening only after the final; if speech
 * starts again first, neither vad_detect_start nor vad_detect_stop is sent), the text
 * post-processing (capitalise, end with a period), `transcription_start` with the utterance's
 * float32 audio, dynamic silence timing and the 3-second hard break (spec 5.10), the epoch
 * timestamps and last utterance audio that get_parameter reads, -W, and pairing with a control
 * connection. One extension, off unless asked for (URL argument ?words=1 or
 * --realtimestt_words): a transcript_words message after each fullSentence, with the final's
 * words in stream time; the original's messages stay byte for byte what they were.
 *
 * Threads: the loop thread only. Ownership: the adapter state (rtstt_t) owns its stream until
 * the stream's closed callback, which frees the state; it outlives its connection when jobs are
 * still out. */
#include "rtstt.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/pyfmt.h"
#include "stt/rtstt_frame.h"
#include "stt/text.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Data sessions and control connections, for pairing (rtstt.h). */
static stt_list_t g_sessions = {&g_sessions, &g_sessions};
static stt_list_t g_ctls = {&g_ctls, &g_ctls};

/* ---- output ---- */

/* Every event is printed as the original prints it: Python's json.dumps (", " and ": "
 * separators, non-ASCII escaped). */
static void send_obj(rtstt_t *r, cJSON *o)
{
    if (r->conn)
        stt_conn_send_json(r->conn, stt_pyfmt_json_dumps(o));
    cJSON_Delete(o);
}

static void send_type(rtstt_t *r, const char *type)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    send_obj(r, o);
}

static void send_text(rtstt_t *r, const char *type, const char *text)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "text", text);
    send_obj(r, o);
}

static void send_coded(rtstt_t *r, const char *type, const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", message);
    send_obj(r, o);
}

/* fullSentence, with the engine's extended fields when it has them (whisper): the language it
 * decoded in and the segments (times in seconds from the start of the utterance audio). Clients
 * of the original protocol ignore keys they do not know. */
static void send_final(rtstt_t *r, const char *text, const stt_result_t *res)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "fullSentence");
    cJSON_AddStringToObject(o, "text", text);
    if (res->language[0])
        cJSON_AddStringToObject(o, "language", res->language);
    if (res->segments)
        cJSON_AddItemToObject(o, "segments", cJSON_Duplicate(res->segments, 1));
    send_obj(r, o);
}

/* Rounded to 1/per_unit (seconds to the millisecond, a confidence to 1e-4): the numbers
 * json.dumps prints stay short (0.42, not 0.41999999999999998). */
static double round_to(double v, double per_unit)
{
    return (double)llround(v * per_unit) / per_unit;
}

static void add_confidence(cJSON *o, double c)
{
    if (c >= 0 && c <= 1)
        cJSON_AddNumberToObject(o, "confidence", round_to(c, 1e4));
    else
        cJSON_AddNullToObject(o, "confidence");
}

/* The final's confidence: the engine's, else the mean of the words' known confidences, else
 * unknown (-1). */
static double final_confidence(const stt_result_t *res)
{
    if (res->confidence >= 0)
        return res->confidence;
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < res->n_words; i++) {
        if (res->words[i].confidence >= 0) {
            sum += res->words[i].confidence;
            n++;
        }
    }
    return n ? sum / (double)n : -1;
}

/* The opt-in extension (?words=1): after fullSentence, its words in stream seconds (since the
 * connection's first sample): {"type": "transcript_words", "text" (fullSentence's text),
 * "utterance", "start", "end" (the audio the final decoded), "confidence", "words": [{"word",
 * "start", "end", "confidence"}]}. An unknown confidence is null. */
static void send_words(rtstt_t *r, const char *text, const stt_stream_event_t *ev)
{
    const stt_result_t *res = ev->result;
    double off_s = (double)ev->start_sample / 16000.0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "transcript_words");
    cJSON_AddStringToObject(o, "text", text);
    cJSON_AddNumberToObject(o, "utterance", ev->utt);
    cJSON_AddNumberToObject(o, "start", round_to(off_s, 1e3));
    cJSON_AddNumberToObject(o, "end", round_to((double)ev->end_sample / 16000.0, 1e3));
    add_confidence(o, final_confidence(res));
    cJSON *arr = cJSON_AddArrayToObject(o, "words");
    for (size_t i = 0; i < res->n_words; i++) {
        const stt_word_t *w = &res->words[i];
        cJSON *wo = cJSON_CreateObject();
        cJSON_AddStringToObject(wo, "word", w->word);
        cJSON_AddNumberToObject(wo, "start", round_to(off_s + w->start_s, 1e3));
        cJSON_AddNumberToObject(wo, "end", round_to(off_s + w->end_s, 1e3));
        add_confidence(wo, w->confidence);
        cJSON_AddItemToArray(arr, wo);
    }
    send_obj(r, o);
}

/* float32 LE in [-1, 1), base64, as the original sends utterance audio (spec 3.3). */
static char *float_b64(const int16_t *pcm, size_t n)
{
    size_t nbytes = n * 4;
    uint8_t *f = stt_malloc(nbytes ? nbytes : 1);
    for (size_t i = 0; i < n; i++) {
        float v = (float)pcm[i] / 32768.0f;
        memcpy(f + 4 * i, &v, 4);
    }
    char *b64 = stt_malloc(stt_base64_encoded_len(nbytes) + 1);
    stt_base64_encode(f, nbytes, b64);
    free(f);
    return b64;
}

static void send_transcription_start(rtstt_t *r, const int16_t *pcm, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "transcription_start");
    if (r->params.transcription_start_audio && pcm) {
        char *b64 = float_b64(pcm, n);
        cJSON_AddStringToObject(o, "audio_bytes_base64", b64);
        free(b64);
    } else {
        cJSON_AddStringToObject(o, "audio_bytes_base64", "");
    }
    send_obj(r, o);
}

/* ---- parameters ---- */

static stt_stream_params_t stream_params(const rtstt_t *r)
{
    stt_stream_params_t sp = stt_stream_default_params(r->env->rec);
    stt_stream_params_from_session(&sp, &r->params);
    /* last_transcription_bytes is only readable over a control connection, and
     * transcription_start carries audio only when asked: otherwise the stream frees what the
     * engine consumed, so thousands of telephony sessions hold no finished audio. */
    sp.keep_utterance_audio = r->params.transcription_start_audio || r->ctl != NULL;
    sp.log_id = r->id;
    return sp;
}

void rtstt_params_changed(rtstt_t *r)
{
    if (r->stream) {
        stt_stream_params_t sp = stream_params(r);
        stt_stream_set_params(r->stream, &sp);
    }
}

/* ---- partials and finals ---- */

static int ends_with(const char *t, const char *suffix)
{
    size_t n = strlen(t), k = strlen(suffix);
    return n >= k && memcmp(t + n - k, suffix, k) == 0;
}

static int ends_sentence(const char *t)
{
    return ends_with(t, ".") || ends_with(t, "!") || ends_with(t, "?") ||
           ends_with(t, "\xe3\x80\x82"); /* U+3002 ideographic full stop */
}

static int ends_ellipsis(const char *t)
{
    size_t n = strlen(t);
    return ends_with(t, "...") || (n >= 4 && memcmp(t + n - 4, "...", 3) == 0);
}

/* Dynamic silence timing (spec 5.10), done on the server as the original intended: the realtime
 * text chooses post_speech_silence_duration. */
static void dynamic_silence(rtstt_t *r, const char *text)
{
    const stt_config_t *cfg = r->env->cfg;
    double pause;
    if (ends_ellipsis(text))
        pause = cfg->mid_sentence_detection_pause;
    else if (ends_sentence(text) && r->last_partial && ends_sentence(r->last_partial) &&
             !ends_ellipsis(r->last_partial))
        pause = cfg->end_of_sentence_detection_pause;
    else
        pause = cfg->unknown_sentence_detection_pause;
    if (pause != r->params.post_speech_silence_duration) {
        r->params.post_speech_silence_duration = pause;
        rtstt_params_changed(r);
    }
}

/* Hard break of 5.10: identical realtime text (over 15 chars) for 3 s ends the recording. */
static void hard_break_check(rtstt_t *r, const char *text, double now)
{
    if (!r->last_partial || strcmp(r->last_partial, text) != 0 || strlen(text) <= 15) {
        r->same_text_since_s = now;
        return;
    }
    if (now - r->same_text_since_s >= 3.0 && stt_stream_finalize(r->stream, 0) == 0)
        STT_INFO(r->id, "hard_break", "realtime text unchanged for 3 s; recording ended");
}

static void on_partial(rtstt_t *r, const stt_stream_event_t *ev)
{
    if (r->partial_utt != ev->utt) { /* a new utterance */
        r->partial_utt = ev->utt;
        free(r->last_partial);
        r->last_partial = NULL;
    }
    char text[4096];
    stt_text_realtime(ev->result->text, text, sizeof(text));
    if (r->env->cfg->silence_timing && text[0]) {
        hard_break_check(r, text, stt_now_s());
        if (!stt_stream_recording(r->stream) || r->partial_utt != ev->utt)
            return; /* the hard break ended it */
    }
    if (!text[0] || (r->last_partial && strcmp(r->last_partial, text) == 0))
        return;
    if (r->env->cfg->silence_timing)
        dynamic_silence(r, text);
    free(r->last_partial);
    r->last_partial = stt_strdup(text);
    stt_stream_partial_delivered(r->stream, ev->utt, ev->elapsed_s);
    send_text(r, "realtime", text);
}

static void flush_vad_start(rtstt_t *r, const stt_stream_event_t *ev)
{
    if (r->vad_start_pending && ev->finals_pending == 0) {
        r->vad_start_pending = 0;
        send_type(r, "vad_detect_start");
    }
}

static void on_final(rtstt_t *r, const stt_stream_event_t *ev)
{
    char text[8192];
    stt_text_final(ev->result->text ? ev->result->text : "", text, sizeof(text));
    send_final(r, text, ev->result);
    if (r->words)
        send_words(r, text, ev);
    free(r->last_utt);
    r->last_utt = NULL;
    r->last_utt_n = 0;
    if (r->ctl && ev->pcm) {
        r->last_utt = stt_malloc((ev->n_samples ? ev->n_samples : 1) * sizeof(int16_t));
        memcpy(r->last_utt, ev->pcm, ev->n_samples * sizeof(int16_t));
        r->last_utt_n = ev->n_samples;
    }
    flush_vad_start(r, ev);
}

static void on_event(void *data, const stt_stream_event_t *ev)
{
    rtstt_t *r = data;
    switch (ev->kind) {
    case STT_SEV_LISTENING:
        r->listen_start_epoch = stt_epoch_s();
        if (ev->finals_pending > 0) {
            r->vad_start_pending = 1; /* sent after the final (flush_vad_start) */
            return;
        }
        send_type(r, "vad_detect_start");
        return;
    case STT_SEV_SPEECH_START:
        if (r->vad_start_pending) {
            r->vad_start_pending = 0;
            return;
        }
        send_type(r, "vad_detect_stop");
        return;
    case STT_SEV_RECORDING_START:
        send_type(r, "recording_start");
        return;
    case STT_SEV_SPEECH_PAUSE:
        r->speech_end_silence_epoch = stt_epoch_s();
        send_type(r, "start_turn_detection");
        return;
    case STT_SEV_SPEECH_RESUME:
        r->speech_end_silence_epoch = 0;
        send_type(r, "stop_turn_detection");
        return;
    case STT_SEV_RECORDING_STOP:
        send_type(r, "recording_stop");
        r->recording_stop_epoch = stt_epoch_s();
        return;
    case STT_SEV_UTTERANCE_END:
        send_transcription_start(r, ev->pcm, ev->n_samples);
        return;
    case STT_SEV_PARTIAL:
        on_partial(r, ev);
        return;
    case STT_SEV_FINAL:
        on_final(r, ev);
        return;
    case STT_SEV_FINAL_FAILED:
        send_coded(r, "error", ev->code, ev->message);
        flush_vad_start(r, ev);
        return;
    case STT_SEV_AUDIO_DROPPED: {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "warning");
        cJSON_AddStringToObject(o, "code", ev->code);
        cJSON_AddStringToObject(o, "message", ev->message);
        cJSON_AddNumberToObject(o, "dropped_chunks", (double)ev->dropped_chunks);
        cJSON_AddNumberToObject(o, "dropped_speech_chunks", (double)ev->dropped_speech_chunks);
        send_obj(r, o);
        return;
    }
    case STT_SEV_ENGINE_STATE:
        send_coded(r, strcmp(ev->code, "engine_recovered") == 0 ? "info" : "error", ev->code,
                   ev->message);
        return;
    case STT_SEV_IDLE:
        return;
    }
}

/* ---- input ---- */

static void send_error_close(rtstt_t *r, const char *code, const char *msg, int ws_code)
{
    send_coded(r, "error", code, msg);
    stt_conn_close_code(r->conn, ws_code, msg);
}

static void write_raw(rtstt_t *r, const stt_rtstt_frame_t *fr)
{
    const char *pattern = r->env->cfg->write;
    if (!pattern || !pattern[0])
        return;
    if (!r->wav.f) {
        char path[1024];
        const char *pct = strstr(pattern, "%s");
        if (pct)
            snprintf(path, sizeof(path), "%.*s%llu%s", (int)(pct - pattern), pattern,
                     (unsigned long long)r->id, pct + 2);
        else
            snprintf(path, sizeof(path), "%s", pattern);
        /* The rate of the first chunk, as the original. */
        if (stt_wav_open(&r->wav, path, fr->sample_rate_hz) != 0) {
            STT_WARN(r->id, "write_failed", "cannot open %s", path);
            return;
        }
    }
    stt_wav_write(&r->wav, fr->pcm, fr->n_samples);
}

/* The RealtimeSTT clients' latency probe: a frame's metadata may carry server_sent_to_stt, the
 * sender's wall clock in ns when it sent the frame; the time from there to the frame having
 * passed the VAD is the ingest latency (DESIGN §7). Meaningful when both clocks agree (same host,
 * or NTP); a negative or implausible value (clocks apart) is left out. */
static void note_ingest_latency(stt_metrics_t *m, int64_t sent_ns)
{
    double d = stt_epoch_s() - (double)sent_ns / 1e9;
    if (d >= 0 && d < 3600)
        stt_hist_observe(&m->ingest_latency, d);
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    rtstt_t *r = state;
    stt_metrics_t *m = &r->env->rec->m;
    stt_frame_limits_t lim = {.max_frame_bytes = (size_t)r->env->cfg->max_frame_bytes,
                              .max_metadata_bytes = STT_FRAME_MAX_METADATA_BYTES};
    stt_rtstt_frame_t fr;
    char err[256];
    stt_frame_err_t e = stt_rtstt_frame_parse(buf, len, &lim, &fr, err, sizeof(err));
    if (e != STT_FRAME_OK) {
        m->frame_errors[e < 16 ? e : 15]++;
        m->recorder_errors++;
        STT_WARN(r->id, "bad_frame", "%s: %s", stt_frame_err_name(e), err);
        send_error_close(r, stt_frame_err_name(e), err, stt_frame_err_close_code(e));
        return -1;
    }
    m->frames_total++;
    m->last_activity_s = stt_now_s();
    stt_conn_touch(r->conn);
    m->audio_seconds += (double)fr.n_samples / fr.sample_rate_hz;
    if (r->env->cfg->logchunks)
        STT_DEBUG(r->id, "chunk", "%zu samples at %d Hz", fr.n_samples, fr.sample_rate_hz);
    write_raw(r, &fr);
    if (stt_stream_feed(r->stream, STT_PCM_S16LE, fr.sample_rate_hz, fr.pcm, fr.n_samples) !=
        0) {
        send_coded(r, "error", "unsupported_sample_rate", "resampler rejected the rate");
        stt_conn_close_code(r->conn, 1007, "unsupported sample rate");
        return -1;
    }
    if (fr.server_sent_to_stt_ns > 0)
        note_ingest_latency(m, fr.server_sent_to_stt_ns);
    return stt_conn_closing(r->conn) ? -1 : 0;
}

static void on_oversize(void *state, size_t bytes, size_t max)
{
    rtstt_t *r = state;
    char msg[160];
    snprintf(msg, sizeof(msg), "frame of more than %zu bytes exceeds the %zu-byte limit", bytes,
             max);
    r->env->rec->m.frame_errors[STT_FRAME_TOOBIG]++;
    r->env->rec->m.recorder_errors++;
    STT_WARN(r->id, "bad_frame", "frame_too_large: %s", msg);
    send_error_close(r, "frame_too_large", msg, 1009);
}

/* ---- pairing (rtstt.h) ---- */

static void pair(rtstt_ctl_t *c, rtstt_t *r)
{
    c->session = r;
    r->ctl = c;
    if (c->overlay_set)
        r->params = c->overlay;
    rtstt_params_changed(r); /* the control connection may read the last utterance's audio */
    STT_INFO(r->id, "paired", "control connection from %s paired with data session%s%s",
             stt_conn_ip(c->conn), stt_conn_name(r->conn)[0] ? " " : "", stt_conn_name(r->conn));
}

static int may_pair(const stt_conn_t *a, const stt_conn_t *b)
{
    const char *name_a = stt_conn_name(a), *name_b = stt_conn_name(b);
    if (name_a[0] || name_b[0])
        return strcmp(name_a, name_b) == 0;
    return strcmp(stt_conn_ip(a), stt_conn_ip(b)) == 0;
}

static void pair_session(rtstt_t *r)
{
    rtstt_ctl_t *best = NULL;
    stt_list_t *n;
    stt_list_foreach(n, &g_ctls) {
        rtstt_ctl_t *c = stt_container_of(n, rtstt_ctl_t, link);
        if (!c->session && !stt_conn_closing(c->conn) && may_pair(c->conn, r->conn) &&
            (!best || c->opened_s <= best->opened_s))
            best = c;
    }
    if (best)
        pair(best, r);
}

void rtstt_pair_ctl(rtstt_ctl_t *c)
{
    if (!stt_list_linked(&c->link))
        stt_list_insert_tail(&g_ctls, &c->link);
    rtstt_t *best = NULL;
    stt_list_t *n;
    stt_list_foreach(n, &g_sessions) {
        rtstt_t *r = stt_container_of(n, rtstt_t, link);
        if (!r->ctl && !stt_conn_closing(r->conn) && may_pair(c->conn, r->conn) &&
            (!best || stt_conn_opened_s(r->conn) <= stt_conn_opened_s(best->conn)))
            best = r;
    }
    if (best)
        pair(c, best);
}

void rtstt_unpair_ctl(rtstt_ctl_t *c)
{
    stt_list_remove(&c->link);
    rtstt_t *r = c->session;
    if (r) {
        r->ctl = NULL;
        c->session = NULL;
        rtstt_params_changed(r);
        pair_session(r);
    }
}

/* ---- lifecycle ---- */

/* The words URL argument: 1 on, 0 off, -1 not a boolean. */
static int parse_bool(const char *v)
{
    static const char *const on[] = {"1", "true", "yes", "on"}, *const off[] = {"0", "false",
                                                                                 "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, on[i]) == 0)
            return 1;
        if (strcmp(v, off[i]) == 0)
            return 0;
    }
    return -1;
}

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    char v[16];
    int words = env->cfg->realtimestt_words;
    if (req->arg(req->req, "words", v, sizeof(v)) >= 0 && (words = parse_bool(v)) < 0) {
        /* Refused before a stream exists: a client that asks for an extension it misspells
         * would otherwise not get what it expects and not know why. */
        stt_metrics_protocol_error(&env->rec->m, "realtimestt", "bad_argument");
        env->rec->m.recorder_errors++;
        STT_WARN(stt_conn_id(c), "bad_argument", "words=%s is not 1/true/yes/on or 0/false/no/off",
                 v);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "error");
        cJSON_AddStringToObject(o, "code", "bad_argument");
        cJSON_AddStringToObject(o, "message",
                                "words must be 1, true, yes, on, 0, false, no or off");
        stt_conn_send_json(c, stt_pyfmt_json_dumps(o));
        cJSON_Delete(o);
        stt_conn_close_code(c, 1008, "bad words argument");
        return STT_EINVAL;
    }
    rtstt_t *r = stt_calloc(1, sizeof(*r));
    r->words = words;
    stt_list_init(&r->link);
    r->conn = c;
    r->env = env;
    r->id = stt_conn_id(c);
    r->params = env->cfg->sess;
    stt_conn_set_max_message(c, (size_t)env->cfg->max_frame_bytes);
    stt_conn_set_accept(c, STT_CONN_ACCEPT_BINARY); /* text frames are ignored, as before */
    stt_stream_params_t sp = stream_params(r);
    r->stream = stt_conn_open_stream(c, env->rec, &sp, on_event, r); /* its first: never NULL */
    stt_list_insert_tail(&g_sessions, &r->link);
    *state = r;
    STT_INFO(r->id, "data_connected", "[PRODUCTION] Data client connected from %s%s%s", req->ip,
             req->name[0] ? " session=" : "", req->name);
    pair_session(r);
    return 0;
}

static void stream_closed(void *data)
{
    rtstt_t *r = data;
    free(r->last_partial);
    free(r->last_utt);
    free(r);
}

static void adapter_closed(void *state)
{
    rtstt_t *r = state;
    STT_INFO(r->id, "data_closed", "[PRODUCTION] Data client disconnected (%.1f s)",
             stt_now_s() - stt_conn_opened_s(r->conn));
    stt_list_remove(&r->link);
    if (r->ctl) {
        rtstt_ctl_t *c = r->ctl;
        c->session = NULL;
        c->overlay = r->params;
        c->overlay_set = 1;
        r->ctl = NULL;
        rtstt_pair_ctl(c);
    }
    stt_wav_close(&r->wav);
    stt_conn_t *c = r->conn;
    stt_stream_t *s = r->stream;
    r->conn = NULL;
    r->stream = NULL;
    stt_conn_close_stream(c, s, stream_closed, r); /* may free r at once */
}

const stt_adapter_t stt_adapter_rtstt = {
    .name = "realtimestt",
    .transport = STT_TRANSPORT_WS,
    .counts_as_call = 1,
    .open = adapter_open,
    .on_message = on_message,
    .on_oversize = on_oversize,
    .on_closed = adapter_closed,
};
