/* The "metadata then raw PCM" WebSocket adapter: FreeSWITCH mod_audio_fork (drachtio, jambonz),
 * mod_audio_stream and jambonz's `listen` verb, at /audio_fork, /audio_stream and /listen on
 * the data port (one adapter; the path only names the client in the logs and the events). Codec:
 * src/proto/audiofork.c; protocol notes: docs/protocol.md, "FreeSWITCH audio_fork /
 * audio_stream, jambonz listen".
 *
 * The router echoes the subprotocols audio.drachtio.org and audio.jambonz.org (they are
 * protocols of the data vhost, sharing its routes). The first message decides the call's audio:
 *   - a text frame is the metadata header: a JSON object (jambonz listen: callSid, sampleRate,
 *     mixType, metadata, ...) sets the rate, the channels and the call id; any other text
 *     (mod_audio_fork's opaque metadata string) is logged and changes nothing;
 *   - a binary frame (mod_audio_stream without metadata) is already audio;
 * what the header leaves open comes from the URL (?rate=16k&mix=stereo or channels=2), else
 * 8000 Hz mono. Binary frames are PCM16 LE; stereo is deinterleaved into one stream per
 * channel (caller = channel 1, callee = channel 2). A frame that ends inside a sample or inside
 * a stereo frame has its tail carried to the next one. Later text frames (DTMF, the text of
 * `stop`) are logged and ignored.
 *
 * Results: nothing is sent unless the client asked (?transcribe=1, or "transcribe": true in the
 * JSON header or its "metadata"); then every final goes back as mod_audio_fork's
 * {"type": "transcription", "data": {...}}, and partials too with ?interim=1 ("interim": true).
 * A header error with events on is answered {"type": "error", "data": {"error": ...}} before
 * the close (1007; 1009 for a header over the cap).
 *
 * Out-of-band results (sinks/calls.h): when the call has an id (the URL's call_id=, else the
 * JSON header's callSid / call_id / ...), every stream event also goes to the registry
 * (webhooks, subscribers of /v1/calls/<id>/events), protocol "listen" on /listen, else
 * "audiofork"; tracks "caller" and "callee" (stereo), "mixed" (mixType mixed) or "mono". When
 * the socket closes (the call hung up, or the client dropped) the streams are finished: the
 * utterance in progress is ended and its final still reaches the sinks, then call_end. Without a
 * call id the streams are closed at once (nobody would see a later final).
 *
 * Threads: the loop thread only. Ownership: the state owns its streams and the call (until
 * stt_call_end); it is freed when the last stream's closed callback ran (or at on_closed when
 * no stream was opened). */
#include "../adapter.h"
#include "../conn.h"
#include "../sinks/calls.h"

#include "stt/audiofork.h"
#include "stt/clock.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHANNELS 2
#define DEINT_FRAMES 2048 /* stereo frames deinterleaved per pass (8 KiB per channel) */

typedef struct af af_t;

typedef struct {
    af_t *af;
    int index; /* 0-based; channel number index + 1 */
    stt_stream_t *stream;
    char *last_partial;
} chan_t;

struct af {
    stt_conn_t *conn; /* NULL once the socket is gone */
    const stt_adapter_env_t *env;
    uint64_t id;
    char path[32];
    int started; /* streams exist: the header (or the first audio) came */
    int rate_hz, channels;
    int url_rate_hz, url_channels; /* from the URL, 0 = not given */
    int events, interim;           /* in-band transcription events, with partials */
    char call_id[STT_AF_CALL_ID_MAX];
    int url_call_id;  /* call_id came from the URL: the header's does not replace it */
    stt_call_t *call; /* out-of-band delivery; NULL without a call id */
    const char *end_reason; /* call_end's reason: "closed", "shutdown", "max_duration" */
    stt_af_mix_t mix;
    uint8_t carry[4]; /* the start of a sample frame cut by the end of a message */
    size_t n_carry;
    chan_t ch[MAX_CHANNELS];
    int live_streams;
    uint64_t finals, texts_ignored;
};

/* ---- output ---- */

static void send_transcription(chan_t *c, int is_final, const char *text, double confidence)
{
    af_t *a = c->af;
    const stt_config_t *cfg = a->env->cfg;
    stt_af_transcription_t t = {.is_final = is_final,
                                .transcript = text,
                                .confidence = confidence,
                                .channel = c->index + 1,
                                .language = cfg->sess.language[0] ? cfg->sess.language : NULL,
                                .call_id = a->call_id};
    stt_conn_send_json(a->conn, stt_af_build_transcription(&t));
}

static const char *track_name(const af_t *a, int index)
{
    if (a->channels == 2)
        return index == 0 ? "caller" : "callee";
    return a->mix == STT_AF_MIX_MIXED ? "mixed" : "mono";
}

static void on_event(void *data, const stt_stream_event_t *ev)
{
    chan_t *c = data;
    af_t *a = c->af;
    int delivered = 0; /* the partial reached someone (once per event) */
    if (a->call && stt_call_stream_event(a->call, c->index, track_name(a, c->index), ev) == 1)
        delivered = 1;
    switch (ev->kind) {
    case STT_SEV_RECORDING_START:
        free(c->last_partial);
        c->last_partial = NULL;
        return;
    case STT_SEV_PARTIAL: {
        if (a->events && a->interim) {
            char *text = stt_text_trimmed(ev->result->text);
            if (text[0] && (!c->last_partial || strcmp(text, c->last_partial) != 0)) {
                send_transcription(c, 0, text, ev->result->confidence);
                delivered = 1;
                free(c->last_partial);
                c->last_partial = text;
            } else {
                free(text);
            }
        }
        if (delivered && c->stream)
            stt_stream_partial_delivered(c->stream, ev->utt, ev->elapsed_s);
        return;
    }
    case STT_SEV_FINAL: {
        free(c->last_partial);
        c->last_partial = NULL;
        a->finals++;
        char *text = stt_text_trimmed(ev->result->text);
        if (a->events && text[0])
            send_transcription(c, 1, text, ev->result->confidence);
        free(text);
        return;
    }
    case STT_SEV_FINAL_FAILED:
        STT_WARN(a->id, "audiofork_final_failed", "channel %d, utterance %u: %s", c->index + 1,
                 ev->utt, ev->message ? ev->message : "");
        return;
    default:
        return;
    }
}

/* ---- input ---- */

static int refuse(af_t *a, int ws_code, const char *name, const char *msg)
{
    STT_WARN(a->id, "audiofork_error", "%s: %s", name, msg);
    a->env->rec->m.recorder_errors++;
    if (a->events) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "error");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "data"), "error", msg);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        stt_conn_send_json(a->conn, s);
    }
    if (a->conn)
        stt_conn_close_code(a->conn, ws_code, msg);
    return -1;
}

/* Opens the call's streams with what the header and the URL said. */
static void start_streams(af_t *a, const stt_af_header_t *hd, const char *how)
{
    a->rate_hz = hd && hd->rate_hz ? hd->rate_hz
                 : a->url_rate_hz  ? a->url_rate_hz
                                   : STT_AF_DEFAULT_RATE_HZ;
    a->channels = hd && hd->channels         ? hd->channels
                  : hd && hd->mix            ? stt_af_mix_channels(hd->mix)
                  : a->url_channels          ? a->url_channels
                                             : 1;
    if (hd && hd->call_id[0] && !a->url_call_id)
        snprintf(a->call_id, sizeof(a->call_id), "%s", hd->call_id);
    a->mix = hd && hd->mix ? hd->mix : a->mix;
    if (hd && hd->transcribe >= 0)
        a->events = hd->transcribe;
    if (hd && hd->interim >= 0)
        a->interim = hd->interim;
    if (a->call_id[0] && stt_call_id_valid(a->call_id) != 0) {
        STT_WARN(a->id, "audiofork_call_id", "call id %s has a character a subscriber path "
                 "cannot carry (/ ? # %% backslash, quote, space): no out-of-band results",
                 a->call_id);
    } else if (a->call_id[0]) {
        stt_call_info_t info = {.protocol = strcmp(a->path, "/listen") == 0 ? "listen"
                                                                            : "audiofork",
                                .call_id = a->call_id,
                                .conn_id = a->id};
        a->call = stt_call_start(a->env->calls, &info);
    }
    stt_stream_params_t sp = stt_stream_default_params(a->env->rec);
    sp.log_id = a->id;
    if (!a->call && !(a->events && a->interim))
        sp.partials = 0; /* nobody sees partials: no partial passes */
    for (int i = 0; i < a->channels; i++) {
        a->ch[i].af = a;
        a->ch[i].index = i;
        a->ch[i].stream = stt_conn_open_stream(a->conn, a->env->rec, &sp, on_event, &a->ch[i]);
        a->live_streams++;
    }
    a->started = 1;
    STT_INFO(a->id, "audiofork_start",
             "%s: call %s, %d Hz, %d channel(s), in-band events %s%s, out-of-band %s", how,
             a->call_id[0] ? a->call_id : "-", a->rate_hz, a->channels, a->events ? "on" : "off",
             a->events && a->interim ? " with partials" : "", a->call ? "on" : "off");
}

static int on_header(af_t *a, const uint8_t *buf, size_t len)
{
    stt_af_header_t hd;
    char err[256];
    stt_af_err_t e = stt_af_parse_header((const char *)buf, len, 0, &hd, err, sizeof(err));
    if (e != STT_AF_ERR_OK)
        return refuse(a, stt_af_err_close_code(e), stt_af_err_name(e), err);
    if (!hd.is_json) {
        size_t n = len < 120 ? len : 120;
        STT_INFO(a->id, "audiofork_metadata", "opaque metadata (%zu bytes): %.*s", len, (int)n,
                 (const char *)buf);
    }
    start_streams(a, &hd, hd.is_json ? "JSON metadata" : "opaque metadata");
    return 0;
}

/* Feeds n whole sample frames at p to the streams (deinterleaving stereo). */
static void feed_frames(af_t *a, const uint8_t *p, size_t frames)
{
    if (a->channels == 1) {
        stt_stream_feed(a->ch[0].stream, STT_PCM_S16LE, a->rate_hz, p, frames);
        return;
    }
    uint8_t left[DEINT_FRAMES * 2], right[DEINT_FRAMES * 2];
    while (frames > 0) {
        size_t n = frames < DEINT_FRAMES ? frames : DEINT_FRAMES;
        for (size_t i = 0; i < n; i++) {
            memcpy(left + 2 * i, p + 4 * i, 2);
            memcpy(right + 2 * i, p + 4 * i + 2, 2);
        }
        stt_stream_feed(a->ch[0].stream, STT_PCM_S16LE, a->rate_hz, left, n);
        stt_stream_feed(a->ch[1].stream, STT_PCM_S16LE, a->rate_hz, right, n);
        p += 4 * n;
        frames -= n;
    }
}

static int on_audio(af_t *a, const uint8_t *buf, size_t len)
{
    if (!a->started)
        start_streams(a, NULL, "no metadata (audio first)");
    if (len == 0)
        return 0;
    stt_metrics_t *m = &a->env->rec->m;
    m->frames_total++;
    m->last_activity_s = stt_now_s();
    stt_conn_touch(a->conn);
    size_t fb = (size_t)a->channels * 2; /* bytes per sample frame */
    if (a->n_carry > 0) {                /* complete the frame the last message cut */
        size_t take = fb - a->n_carry < len ? fb - a->n_carry : len;
        memcpy(a->carry + a->n_carry, buf, take);
        a->n_carry += take;
        buf += take;
        len -= take;
        if (a->n_carry < fb)
            return 0;
        feed_frames(a, a->carry, 1);
        a->n_carry = 0;
    }
    size_t frames = len / fb, rest = len % fb;
    memcpy(a->carry, buf + frames * fb, rest);
    a->n_carry = rest;
    m->audio_seconds += (double)frames / a->rate_hz;
    if (frames > 0)
        feed_frames(a, buf, frames);
    return 0;
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    af_t *a = state;
    if (binary)
        return on_audio(a, buf, len);
    if (!a->started)
        return on_header(a, buf, len);
    /* send_text (DTMF, ...) and the text of `stop`: no audio in them. */
    a->texts_ignored++;
    size_t n = len < 120 ? len : 120;
    STT_INFO(a->id, "audiofork_text", "text frame ignored (%zu bytes): %.*s", len, (int)n,
             (const char *)buf);
    stt_conn_touch(a->conn);
    return 0;
}

/* ---- lifecycle ---- */

/* A URL argument as a string ("" when absent). */
static void arg(const stt_request_t *req, const char *key, char *buf, size_t cap)
{
    if (req->arg(req->req, key, buf, cap) < 0)
        buf[0] = '\0';
}

static int yes(const char *v)
{
    return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
           strcmp(v, "on") == 0;
}

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    af_t *a = stt_calloc(1, sizeof(*a));
    a->conn = c;
    a->env = env;
    a->id = stt_conn_id(c);
    *state = a;
    size_t plen = strcspn(req->path, "?");
    snprintf(a->path, sizeof(a->path), "%.*s", (int)(plen < 31 ? plen : 31), req->path);
    stt_conn_set_max_message(c, (size_t)env->cfg->max_frame_bytes);
    STT_INFO(a->id, "audiofork_connected", "[PRODUCTION] %s client connected from %s", a->path,
             req->ip);
    char v[64];
    arg(req, "transcribe", v, sizeof(v));
    a->events = yes(v);
    arg(req, "interim", v, sizeof(v));
    a->interim = yes(v);
    arg(req, "rate", v, sizeof(v));
    if (v[0] && (a->url_rate_hz = stt_af_parse_rate(v)) < 0) {
        refuse(a, 1007, "unsupported_sample_rate",
               "rate must be a multiple of 8000 in 8000..64000 (8000, 8k, 16k, ...)");
        return 0;
    }
    arg(req, "mix", v, sizeof(v));
    stt_af_mix_t mix = stt_af_parse_mix(v);
    if (v[0] && mix == STT_AF_MIX_UNSET) {
        refuse(a, 1007, "bad_mix_type", "mix must be mono, mixed or stereo");
        return 0;
    }
    a->url_channels = mix ? stt_af_mix_channels(mix) : 0;
    a->mix = mix;
    arg(req, "channels", v, sizeof(v));
    if (v[0]) {
        if (strcmp(v, "1") != 0 && strcmp(v, "2") != 0) {
            refuse(a, 1007, "bad_channels", "channels must be 1 or 2");
            return 0;
        }
        a->url_channels = v[0] - '0';
    }
    arg(req, "call_id", v, sizeof(v));
    if (v[0]) {
        if (stt_call_id_valid(v) != 0) {
            refuse(a, 1007, "bad_call_id", "call_id must be 1..128 printable characters");
            return 0;
        }
        snprintf(a->call_id, sizeof(a->call_id), "%s", v);
        a->url_call_id = 1;
    }
    return 0;
}

static void stream_closed(void *data)
{
    chan_t *c = data;
    af_t *a = c->af;
    free(c->last_partial);
    c->last_partial = NULL;
    c->stream = NULL;
    if (--a->live_streams > 0)
        return;
    if (a->call) {
        STT_INFO(a->id, "audiofork_call_end", "call %s ended (%s, %llu final(s))", a->call_id,
                 a->end_reason ? a->end_reason : "closed", (unsigned long long)a->finals);
        stt_call_end(a->call, a->end_reason ? a->end_reason : "closed");
    }
    free(a);
}

/* Drain or --max_session_duration: only call_end's reason is ours to set. */
static void on_shutdown(void *state, stt_close_t why)
{
    af_t *a = state;
    a->end_reason = why == STT_CLOSE_GOING_AWAY ? "shutdown" : "max_duration";
    /* The server ends the input and closes once the streams are idle (in-band finals first). */
}

static void adapter_closed(void *state)
{
    af_t *a = state;
    STT_INFO(a->id, "audiofork_closed",
             "[PRODUCTION] %s client disconnected (%.1f s, call %s, %llu final(s), %llu text "
             "frame(s) ignored)",
             a->path, stt_now_s() - stt_conn_opened_s(a->conn), a->call_id[0] ? a->call_id : "-",
             (unsigned long long)a->finals, (unsigned long long)a->texts_ignored);
    stt_conn_t *c = a->conn;
    a->conn = NULL;
    if (a->live_streams == 0) {
        free(a);
        return;
    }
    /* With a call the streams finish: the utterance in progress is ended and its final still
     * reaches the sinks; the stream stays ours for its events until stream_closed. Without
     * one nobody would see it: they close. */
    int n = a->channels, finish = a->call != NULL;
    for (int i = 0; i < n; i++) { /* the last closed_cb frees a: read nothing after it */
        stt_stream_t *s = a->ch[i].stream;
        if (finish) {
            stt_conn_finish_stream(c, s, stream_closed, &a->ch[i]);
        } else {
            a->ch[i].stream = NULL;
            stt_conn_close_stream(c, s, stream_closed, &a->ch[i]);
        }
    }
}

const stt_adapter_t stt_adapter_audiofork = {
    .name = "audiofork",
    .transport = STT_TRANSPORT_WS,
    .counts_as_call = 1,
    .out_of_band = 1, /* streams of a call with an id finish after the close (see above) */
    .open = adapter_open,
    .on_message = on_message,
    .on_shutdown = on_shutdown,
    .on_closed = adapter_closed,
};
